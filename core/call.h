/* call.h: calls: one request to a context and its reply, from the application thread
 * that makes it (encode, queue, wait, decode) to the loop's thread that delivers the
 * reply. A context keeps its pending calls in a struct ec_calls; what a call carries
 * and to whom is the context's business (core/context.c). */
#ifndef EC_CORE_CALL_H
#define EC_CORE_CALL_H

#include <pthread.h>
#include <stdint.h>

#include "broker.h"
#include "buf.h"
#include "master.h"
#include "watch.h"

/* The remote error type of a cancelled call's reply (docs/protocol.md, CANCEL). */
#define EC_CANCELLED_TYPE "econtext.CallCancelled"

/* Reply handles of one context start here (docs/protocol.md §3). */
#define EC_HANDLE_FIRST_REPLY 1000

/* A context's pending calls, under m->lock. */
struct ec_calls {
	/* pending calls, oldest first: replies mostly come in order, so taking one is
	 * found at the head (a long pipeline costs no scan of the calls in flight) */
	struct ec_call *list, *tail;
	uint32_t next_handle; /* the next call's reply handle */
	/* A pending call was given up on (ec_call_free): cancel it in the context. Set by
	 * the context; m->lock held. */
	void (*abandoned)(struct ec_calls *cs, uint32_t handle);
	/* The context's codec (its `codec` key, else the master's): its calls' replies are
	 * decoded with it. Set by the context. */
	const struct ec_loaded_plugin *codec;
	/* The context these calls are of, set by it: compared by ec__calls_busy. */
	const ec_context *owner;
};

/* A call: registered with its context (under m->lock) until its reply or failure is
 * delivered; done, rc, err and reply are guarded by its own lock. refs (atomic): one
 * for the application's handle, one while the loop holds it on its wake list (the
 * waiter is signalled only after the loop has let go of m->lock). */
struct ec_call {
	ec_master *m;
	struct ec_calls *reg;   /* the context's, valid while registered */
	/* the context it was registered with (its calls' owner), kept after: compared by
	 * ec__calls_busy, never dereferenced */
	const ec_context *owner;
	/* Decodes the reply: the context's codec from registration (the master's before);
	 * a plugin outlives every call. */
	const struct ec_loaded_plugin *codec;
	char ctx_name[128];     /* for messages after the context is gone */
	pthread_mutex_t lock;
	uint32_t handle;
	int registered; /* in reg, awaiting its reply */
	int done;       /* reply (or failure) arrived (atomic: read unlocked by a spinner) */
	int spun;       /* atomic: its waiter spins for the reply (config call_spin_us) */
	long long queued_us; /* when it was queued (ec__now_us) */
	int rc;         /* failure code when done without a reply */
	int delivered;  /* its result went to the caller (who may have taken reply) */
	int cancel_sent; /* CANCEL went to the context (under m->lock) */
	struct ec_error err;
	struct ec_buf reply; /* the encoded reply payload, from reply_off on (a large reply
	                      * is the context's read buffer itself, taken with the frame's
	                      * header before the payload) */
	size_t reply_off;
	pthread_cond_t cond;
	int refs;
	struct ec_call *next, *prev; /* in reg */
	struct ec_deferred wake;  /* on the loop's wake list */
	struct ec_watch watch;    /* in a select (core/watch.h), under m->lock */
};

/* A call to the context named ctx_name (not yet registered). */
int ec__call_new(ec_master *m, const char *ctx_name, struct ec_call **out,
                 struct ec_error *err);
/* Free a call that was never registered. */
void ec__call_discard(struct ec_call *call);
/* Register it with a context's calls (m->lock held): it gets its reply handle. */
void ec__call_register(struct ec_calls *cs, struct ec_call *call);
/* The call waiting for reply handle h, taken out of cs (m->lock held); NULL if none. */
struct ec_call *ec__calls_take(struct ec_calls *cs, uint32_t h);
/* The call's reply is in (m->lock and the call's lock held, on the loop's thread): mark
 * it done and have its waiter signalled once the loop lets go of m->lock. */
void ec__call_done_locked(struct ec_call *call, struct ec_broker *b);
/* Fail every pending call: the context `name` is gone (why may be NULL): EC_ECLOSED, or
 * EC_ENOMEM when why is out of memory. m->lock held. */
void ec__calls_fail(struct ec_calls *cs, const char *name, const struct ec_error *why);
/* Drop a reference; the last one frees the call. */
void ec__call_unref(struct ec_call *call);

/* Contexts that this thread must not wait on: while a transfer runs a
 * caller's callback (core/transfer.c), a call's wait or a transfer on a context of that
 * transfer would never end, for the context waits for this thread's next chunk. Pushed
 * and popped around the callback, on its thread; they nest. */
struct ec_calls_busy {
	ec_context *const *ctxs; /* the caller's, alive until the pop */
	size_t n;
	const struct ec_calls_busy *outer;
};
void ec__calls_busy_push(struct ec_calls_busy *b, ec_context *const *ctxs, size_t n);
void ec__calls_busy_pop(const struct ec_calls_busy *b);
/* EC_EINVAL (in err, where: name) if this thread must not wait on ctx (what: what it
 * was about to do), else 0. */
int ec__calls_busy(const ec_context *ctx, const char *name, const char *what,
                   struct ec_error *err);

#endif
