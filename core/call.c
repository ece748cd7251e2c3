/* call.c: calls, from the thread that makes one to the delivery of its reply (see
 * call.h). ec_call_* are the API, on application threads. */
#include "ecbuild.h"

#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "call.h"
#include "clock.h"
#include "econtext/codec.h"
#include "error.h"

int ec__call_new(ec_master *m, const char *ctx_name, struct ec_call **out, struct ec_error *err)
{
	struct ec_call *c = calloc(1, sizeof(*c));
	if (!c || ec__cond_init_monotonic(&c->cond)) {
		free(c);
		return ec__error_set(err, EC_ENOMEM, ctx_name, "out of memory");
	}
	c->m = m;
	c->codec = m->codec;
	c->refs = 1;
	c->watch.kind = EC_WATCH_CALL;
	pthread_mutex_init(&c->lock, NULL);
	snprintf(c->ctx_name, sizeof(c->ctx_name), "%s", ctx_name);
	*out = c;
	return 0;
}

void ec__call_discard(struct ec_call *call)
{
	pthread_cond_destroy(&call->cond);
	pthread_mutex_destroy(&call->lock);
	free(call);
}

void ec__call_register(struct ec_calls *cs, struct ec_call *call)
{
	call->reg = cs;
	call->owner = cs->owner;
	call->codec = cs->codec ? cs->codec : call->codec;
	call->handle = cs->next_handle++;
	call->registered = 1;
	call->queued_us = ec__now_us();
	__atomic_add_fetch(&call->m->in_flight, 1, __ATOMIC_RELAXED);
	call->next = NULL;
	call->prev = cs->tail;
	if (cs->tail)
		cs->tail->next = call;
	else
		cs->list = call;
	cs->tail = call;
}

/* Take c out of cs's list (m->lock held). */
static void calls_unlink(struct ec_calls *cs, struct ec_call *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		cs->list = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		cs->tail = c->prev;
	c->next = c->prev = NULL;
}

/* A call leaves its context's list (m->lock held): no reply will be matched to it. */
static void call_unregistered(ec_master *m, struct ec_call *c)
{
	c->registered = 0;
	__atomic_sub_fetch(&m->in_flight, 1, __ATOMIC_RELAXED);
}

struct ec_call *ec__calls_take(struct ec_calls *cs, uint32_t h)
{
	for (struct ec_call *c = cs->list; c; c = c->next) {
		if (c->handle != h)
			continue;
		calls_unlink(cs, c);
		call_unregistered(c->m, c);
		long long took = ec__now_us() - c->queued_us;
		__atomic_store_n(&c->m->last_reply_us, took > INT_MAX ? INT_MAX : (int)took,
		                 __ATOMIC_RELAXED);
		return c;
	}
	return NULL;
}

/* The loop runs this once it has released m->lock. */
static int call_wake(struct ec_deferred *d)
{
	struct ec_call *c = container_of(d, struct ec_call, wake);
	int spun = __atomic_load_n(&c->spun, __ATOMIC_RELAXED);
	/* done was set under the call's lock before it was queued here, so a waiter
	 * either saw it or is in pthread_cond_wait: the signal cannot be lost. */
	pthread_cond_signal(&c->cond);
	ec__call_unref(c);
	return spun;
}

void ec__call_done_locked(struct ec_call *call, struct ec_broker *b)
{
	/* The wake's reference first: once done is set and the lock released, the caller
	 * may free the call (it need not wait for the signal). */
	__atomic_add_fetch(&call->refs, 1, __ATOMIC_RELAXED);
	call->wake.run = call_wake;
	ec__broker_defer(b, &call->wake);
	__atomic_store_n(&call->done, 1, __ATOMIC_RELEASE);
	ec__watch_notify(&call->watch);
}

void ec__calls_fail(struct ec_calls *cs, const char *name, const struct ec_error *why)
{
	for (struct ec_call *c = cs->list; c;) {
		struct ec_call *next = c->next;
		call_unregistered(c->m, c);
		c->next = c->prev = NULL;
		pthread_mutex_lock(&c->lock);
		/* Out of memory (a frame that could not be built) says so: the context is no
		 * more at fault than the caller. */
		c->rc = why && why->code == EC_ENOMEM ? EC_ENOMEM : EC_ECLOSED;
		ec__error_set(&c->err, c->rc, name, "context '%s' disconnected%s%s", name,
		              why && why->msg[0] ? ": " : "", why ? why->msg : "");
		__atomic_store_n(&c->done, 1, __ATOMIC_RELEASE);
		pthread_cond_signal(&c->cond);
		ec__watch_notify(&c->watch);
		pthread_mutex_unlock(&c->lock);
		c = next;
	}
	cs->list = cs->tail = NULL;
}

/* Poll the call's done flag for up to m->call_spin_us before the caller sleeps: a reply
 * that comes within it costs no futex sleep and no wake-up of a CPU that went idle
 * meanwhile, which is most of a local round trip when the two sides run on different
 * CPUs (docs/benchmarks.md). Only while this is the master's one call in flight (so
 * one thread spins at most): the latency of one synchronous caller is what it is for,
 * and a master with many calls out never burns a CPU on it. Not after a call that took longer than the budget either:
 * calls that last (time.sleep, a package install) spin once, not each time; a quick
 * call after them sleeps (about 150 µs locally, within the budget) and the next spins
 * again. (A back-off that also skipped spins after quick replies, as glibc's adaptive
 * mutexes do, was tried with a 100 µs budget: every skipped wait let the scheduler
 * spread the threads again, that call took longer than the budget, and the median went
 * back to the sleeping figure.) */
static void spin_for_reply(ec_master *m, struct ec_call *call)
{
	if (!m->call_spin_us || __atomic_load_n(&m->in_flight, __ATOMIC_RELAXED) > 1 ||
	    __atomic_load_n(&m->last_reply_us, __ATOMIC_RELAXED) > m->call_spin_us)
		return;
	__atomic_store_n(&call->spun, 1, __ATOMIC_RELAXED); /* the broker lingers after it */
	long long end = ec__now_us() + m->call_spin_us;
	/* sched_yield(): a thread of the context or the broker woken on this CPU runs at
	 * once instead of waiting for the spinner's preemption (p90 of a local round trip
	 * 100-250 -> 50-130 µs). */
	while (!__atomic_load_n(&call->done, __ATOMIC_ACQUIRE) &&
	       __atomic_load_n(&m->in_flight, __ATOMIC_RELAXED) <= 1 && ec__now_us() < end)
		sched_yield();
}

int ec_call_wait(ec_call *call, int timeout_ms, ec_value **result, struct ec_error *err)
{
	ec_master *m = call->m;
	const char *cname = call->ctx_name;
	long long deadline = timeout_ms > 0 ? ec__now_ms() + timeout_ms : 0;
	if (!__atomic_load_n(&call->done, __ATOMIC_ACQUIRE) && call->owner &&
	    ec__calls_busy(call->owner, cname, "a wait for a call", err))
		return EC_EINVAL;
	spin_for_reply(m, call);
	/* The call's own lock: the broker's delivery never contends with the master lock. */
	pthread_mutex_lock(&call->lock);
	while (!call->done) {
		if (ec__cond_wait_until(&call->cond, &call->lock, deadline)) {
			pthread_mutex_unlock(&call->lock);
			return ec__error_set(err, EC_ETIMEDOUT, cname,
			                     "call in context '%s' did not return within %.3g s", cname,
			                     timeout_ms / 1000.0);
		}
	}
	pthread_mutex_unlock(&call->lock);
	if (call->rc) {
		if (err)
			*err = call->err;
		return call->rc;
	}
	if (call->delivered)
		return ec__error_set(err, EC_EINVAL, cname,
		                     "the result of this call in context '%s' was already returned",
		                     cname);
	/* The codec may take the reply buffer as the value's memory (decode_buf). */
	ec_value *v = NULL;
	int rc = ec__codec_decode_taken(call->codec, &call->reply, call->reply_off,
	                                call->reply.len - call->reply_off, &v, err);
	if (rc) {
		ec__error_prefix(err, "reply from context '%s' refused", cname);
		return rc;
	}
	call->delivered = 1;
	if (v->type == EC_T_ERROR && v->u.err.type && !strcmp(v->u.err.type, EC_CANCELLED_TYPE)) {
		ec__error_set(err, EC_ECANCELED, cname, "call in context '%s' cancelled: %s", cname,
		              v->u.err.message ? v->u.err.message : "");
		ec_value_free(v);
		return EC_ECANCELED;
	}
	if (v->type == EC_T_ERROR) {
		ec__error_set(err, EC_EREMOTE, cname, "%s: %s", v->u.err.type, v->u.err.message);
		*result = v;
		return EC_EREMOTE;
	}
	*result = v;
	return 0;
}

void ec__call_unref(struct ec_call *call)
{
	if (__atomic_sub_fetch(&call->refs, 1, __ATOMIC_ACQ_REL))
		return;
	ec__buf_free(&call->reply);
	pthread_cond_destroy(&call->cond);
	pthread_mutex_destroy(&call->lock);
	free(call);
}

void ec_call_free(ec_call *call)
{
	if (!call)
		return;
	ec_master *m = call->m;
	/* A finished call is no longer registered (the broker unregisters it before it
	 * sets done, both seen here through the call's lock): no need for m->lock, which
	 * the broker may still hold right after delivering the reply. */
	pthread_mutex_lock(&call->lock);
	int done = call->done;
	pthread_mutex_unlock(&call->lock);
	if (call->watch.sel) { /* only application threads put it in a select */
		pthread_mutex_lock(&m->lock);
		ec__watch_detach(&call->watch);
		pthread_mutex_unlock(&m->lock);
	}
	if (!done) {
		int wake = 0;
		pthread_mutex_lock(&m->lock);
		if (call->registered) {
			calls_unlink(call->reg, call);
			call_unregistered(m, call);
			/* Given up on: the context need not run it (or go on running it). */
			if (!call->cancel_sent && call->reg->abandoned) {
				call->reg->abandoned(call->reg, call->handle);
				wake = 1;
			}
		}
		pthread_mutex_unlock(&m->lock);
		if (wake)
			ec__broker_wake(m->broker);
	}
	ec__call_unref(call);
}

/* This thread's busy contexts, innermost first (see call.h). */
static _Thread_local const struct ec_calls_busy *busy_top;

void ec__calls_busy_push(struct ec_calls_busy *b, ec_context *const *ctxs, size_t n)
{
	*b = (struct ec_calls_busy){.ctxs = ctxs, .n = n, .outer = busy_top};
	busy_top = b;
}

void ec__calls_busy_pop(const struct ec_calls_busy *b)
{
	busy_top = b->outer;
}

int ec__calls_busy(const ec_context *ctx, const char *name, const char *what,
                   struct ec_error *err)
{
	for (const struct ec_calls_busy *b = busy_top; b; b = b->outer)
		for (size_t i = 0; i < b->n; i++)
			if (b->ctxs[i] == ctx)
				return ec__error_set(err, EC_EINVAL, name,
				                     "%s in context '%s' from a callback of a transfer to it "
				                     "refused: the context waits for this thread's next chunk",
				                     what, name);
	return 0;
}
