/* select.c: ec_select_*: one wait over pending calls and connects (core/watch.h says
 * how items become ready). Application threads, under the master's lock. */
#include "ecbuild.h"

#include <stdlib.h>

#include "call.h"
#include "channel.h"
#include "clock.h"
#include "connect.h"
#include "error.h"
#include "master.h"
#include "watch.h"

int ec_select_new(ec_master *m, ec_select **out, struct ec_error *err)
{
	struct ec_select *s = calloc(1, sizeof(*s));
	if (!s || ec__cond_init_monotonic(&s->cond)) {
		free(s);
		return ec__error_set(err, EC_ENOMEM, NULL, "out of memory");
	}
	s->m = m;
	s->ready_tail = &s->ready;
	*out = s;
	return 0;
}

static int add(ec_select *s, struct ec_watch *w, void *tag, int ready, struct ec_error *err)
{
	if (w->sel)
		return ec__error_set(err, EC_EINVAL, NULL, "already in a select");
	ec__watch_attach(w, s, tag);
	if (ready)
		ec__watch_notify(w);
	return 0;
}

int ec_select_add_call(ec_select *s, ec_call *call, void *tag, struct ec_error *err)
{
	ec_master *m = s->m;
	if (call->m != m)
		return ec__error_set(err, EC_EINVAL, call->ctx_name, "call of another master");
	pthread_mutex_lock(&m->lock);
	/* done is set under m->lock too, after the notification a select would get. */
	int rc = add(s, &call->watch, tag, __atomic_load_n(&call->done, __ATOMIC_ACQUIRE), err);
	pthread_mutex_unlock(&m->lock);
	return rc;
}

int ec_select_add_connect(ec_select *s, ec_connect *c, void *tag, struct ec_error *err)
{
	ec_master *m = s->m;
	pthread_mutex_lock(&m->lock);
	/* Stepped once at the first wait: it may be done, or need a password, already. */
	int rc = add(s, ec__connect_watch(c), tag, 1, err);
	pthread_mutex_unlock(&m->lock);
	return rc;
}

int ec_select_add_channel(ec_select *s, ec_channel *ch, void *tag, struct ec_error *err)
{
	ec_master *m = s->m;
	pthread_mutex_lock(&m->lock);
	int rc = add(s, &ch->watch, tag, ec__channel_ready(ch), err);
	pthread_mutex_unlock(&m->lock);
	return rc;
}

int ec_select_wait(ec_select *s, int timeout_ms, void **tags, size_t max, size_t *n,
                   struct ec_error *err)
{
	ec_master *m = s->m;
	long long deadline = timeout_ms > 0 ? ec__now_ms() + timeout_ms : 0;
	size_t got = 0;
	int rc = 0;
	pthread_mutex_lock(&m->lock);
	s->waiting = 1;
	while (!got) {
		while (s->ready && got < max) {
			struct ec_watch *w = s->ready;
			s->ready = w->next;
			if (!s->ready)
				s->ready_tail = &s->ready;
			w->queued = 0;
			/* A connect may still be booting: it asks for a password, or has a second
			 * attempt to start, on this thread (m->lock released meanwhile). */
			if (w->kind == EC_WATCH_CONNECT && !ec__connect_step(ec__connect_of(w)))
				continue;
			tags[got++] = w->tag;
			ec__watch_detach(w);
		}
		if (got)
			break;
		if (!s->count) {
			rc = ec__error_set(err, EC_ENOTFOUND, NULL, "the select holds nothing to wait for");
			break;
		}
		if (ec__cond_wait_until(&s->cond, &m->lock, deadline) && !s->ready) {
			rc = ec__error_set(err, EC_ETIMEDOUT, NULL,
			                   "nothing became ready within %.3g s", timeout_ms / 1000.0);
			break;
		}
	}
	s->waiting = 0;
	pthread_mutex_unlock(&m->lock);
	*n = got;
	return rc;
}

size_t ec_select_count(const ec_select *s)
{
	return s->count;
}

void ec_select_free(ec_select *s)
{
	if (!s)
		return;
	ec_master *m = s->m;
	pthread_mutex_lock(&m->lock);
	/* Its items stay: only their link to it goes. */
	while (s->all)
		ec__watch_detach(s->all);
	pthread_mutex_unlock(&m->lock);
	pthread_cond_destroy(&s->cond);
	free(s);
}
