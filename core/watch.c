/* watch.c: see watch.h. */
#include "ecbuild.h"

#include "watch.h"

void ec__watch_attach(struct ec_watch *w, struct ec_select *s, void *tag)
{
	w->sel = s;
	w->tag = tag;
	w->queued = 0;
	w->all_prev = NULL;
	w->all_next = s->all;
	if (s->all)
		s->all->all_prev = w;
	s->all = w;
	s->count++;
}

void ec__watch_notify(struct ec_watch *w)
{
	struct ec_select *s = w->sel;
	if (!s || w->queued)
		return;
	w->queued = 1;
	w->next = NULL;
	*s->ready_tail = w;
	s->ready_tail = &w->next;
	if (s->waiting)
		pthread_cond_signal(&s->cond);
}

void ec__watch_detach(struct ec_watch *w)
{
	struct ec_select *s = w->sel;
	if (!s)
		return;
	if (w->queued) {
		struct ec_watch **pp = &s->ready;
		while (*pp != w)
			pp = &(*pp)->next;
		*pp = w->next;
		if (s->ready_tail == &w->next)
			s->ready_tail = pp;
		w->queued = 0;
	}
	if (w->all_prev)
		w->all_prev->all_next = w->all_next;
	else
		s->all = w->all_next;
	if (w->all_next)
		w->all_next->all_prev = w->all_prev;
	s->count--;
	w->sel = NULL;
}
