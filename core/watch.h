/* watch.h: readiness, as a select (ec_select_*, core/select.c) waits for it: each
 * thing that can be selected (a call, a pending connect) embeds a struct ec_watch; when
 * it changes (a reply, a failure, its context ready or dead or asking for a password)
 * the loop puts the watch on its select's ready list and signals the select. A
 * wake-up costs the ready items, not the number waited on. Everything here runs under
 * the master's lock. */
#ifndef EC_CORE_WATCH_H
#define EC_CORE_WATCH_H

#include <pthread.h>
#include <stddef.h>

enum ec_watch_kind { EC_WATCH_CALL = 1, EC_WATCH_CONNECT, EC_WATCH_CHANNEL };

struct ec_select;
struct ec_master;

struct ec_watch {
	struct ec_select *sel; /* NULL: in no select */
	void *tag;             /* what the select reports for it */
	enum ec_watch_kind kind;
	int queued;            /* on sel's ready list */
	struct ec_watch *next; /* on the ready list */
	struct ec_watch *all_prev, *all_next; /* on sel's list of every item */
};

struct ec_select {
	struct ec_master *m;   /* whose lock guards it */
	pthread_cond_t cond;   /* signalled when an item is queued */
	struct ec_watch *ready, **ready_tail;
	struct ec_watch *all; /* every item added and not reported yet */
	size_t count;         /* how many */
	int waiting;  /* a thread is in ec_select_wait */
};

/* Put it in select s (not in one yet). */
void ec__watch_attach(struct ec_watch *w, struct ec_select *s, void *tag);
/* It changed: queue it on its select (if any) and wake the select's waiter. */
void ec__watch_notify(struct ec_watch *w);
/* Take it out of its select (freed, or reported); nothing if in none. */
void ec__watch_detach(struct ec_watch *w);

#endif
