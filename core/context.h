/* context.h: one remote interpreter: its transport, its stream (boot, then frames), its
 * pending calls. The broker thread drives the stream; application threads enqueue
 * messages and wait on the context's condition variable, all under the master lock. */
#ifndef EC_CORE_CONTEXT_H
#define EC_CORE_CONTEXT_H

#include <pthread.h>
#include <stdint.h>

#include "buf.h"
#include "econtext/transport.h"
#include "frame.h"
#include "master.h"

/* Well-known handles (docs/protocol.md §3). */
enum {
	EC_HANDLE_HELLO = 1,
	EC_HANDLE_CALL = 2,
	EC_HANDLE_LOG = 3,
	EC_HANDLE_SHUTDOWN = 4,
	EC_HANDLE_GET_MODULE = 5,
	EC_HANDLE_LOAD_MODULE = 6,
	EC_HANDLE_FIRST_REPLY = 1000
};

enum ec_ctx_state {
	EC_CTX_NEW,      /* created, not yet seen by the broker */
	EC_CTX_STARTING, /* transport starting the boot command */
	EC_CTX_BOOTING,  /* payload written, waiting for ECREADY */
	EC_CTX_HELLO,    /* marker seen, waiting for the HELLO frame */
	EC_CTX_READY,    /* calls may flow */
	EC_CTX_DEAD      /* stream closed; broker has let go (detached) */
};

struct ec_msg {
	uint32_t handle, reply_to;
	struct ec_buf payload;
	struct ec_msg *next;
};

/* A call: registered in its context (under m->lock) until its reply or failure is
 * delivered; done, rc, err and reply are guarded by its own lock. refs (atomic): one
 * for the application's handle, one while the broker holds it on its wake list (the
 * waiter is signalled only after the broker has let go of m->lock). */
struct ec_call {
	ec_master *m;
	struct ec_context *ctx; /* valid while registered */
	char ctx_name[128];     /* for messages after the context is gone */
	pthread_mutex_t lock;
	uint32_t handle;
	int registered; /* in ctx->calls, awaiting its reply */
	int done;       /* reply (or failure) arrived (atomic: read unlocked by a spinner) */
	int spun;       /* atomic: its waiter spins for the reply (config call_spin_us) */
	long long queued_us; /* when it was queued (ec__now_us) */
	int rc;         /* failure code when done without a reply */
	int delivered;  /* its result went to the caller (who may have taken reply) */
	struct ec_error err;
	struct ec_buf reply; /* the encoded reply payload, from reply_off on (a large reply
	                      * is the context's read buffer itself, taken with the frame's
	                      * header before the payload) */
	size_t reply_off;
	pthread_cond_t cond;
	int refs;
	struct ec_call *next;      /* in ctx->calls */
	struct ec_call *wake_next; /* in the broker's wake list */
};

/* Drop a reference; the last one frees the call. */
void ec__call_unref(struct ec_call *call);

struct ec_context {
	ec_master *m;
	char *name;
	/* The name and the overrides it was connected with: contexts with the same share
	 * the core's bytecode in memory when the disk cache is not theirs (context.c). */
	char *share_key;
	unsigned id;
	struct ec_cfg *cfg; /* private copy with overrides applied */
	struct ec_transport *transport; /* top of the stack (core/transport.h) */
	struct ec_argv argv;

	/* Broker-owned stream state. */
	struct ec_buf rbuf, wbuf;
	size_t rframe;         /* size of the frame at the start of rbuf, once its header is
	                        * in (0: not known): rbuf grows to it exactly */
	int rbuf_taken;        /* on_reply took rbuf's memory (and the frame in it) */
	long long rbuf_idle_ms; /* rbuf, empty, is freed at this time (0: not armed) */
	struct ec_frame_mac mac_in, mac_out;
	struct ec_pollset ps; /* what the transport waits for, when it said EC_EAGAIN */
	char bootlog[4096];   /* the tail of what the command printed before ECREADY */
	size_t bootlog_len;
	char boot_line[512]; /* partial line of boot output */
	size_t boot_line_len;
	int boot_marker_seen; /* the first stage's ECBOOT0 line was taken out */
	/* Under m->lock: the connecting thread still builds the stream (key, MACs, core)
	 * while the interpreter starts; until then no frame is parsed (process_input). */
	int stream_pending;
	int start_tried; /* under m->lock: the broker called the transport's start once */
	/* A direct boot (core/direct.h): its pipes and what they carry, broker-owned once
	 * attached (the connecting thread fills prog and code under m->lock while
	 * stream_pending); freed when fed or when the context dies. direct_boot stays. */
	struct ec_direct *direct;
	int direct_boot;
	struct ec_error stream_err; /* under m->lock: the stream could not be built */
	char start_note[512]; /* what the transport last said it waits for (start) */
	long long started_ms;
	long long start_wake; /* start's own timer (ps.timeout_ms), monotonic ms; 0: none */

	/* Shared, under m->lock. */
	enum ec_ctx_state state;
	int attached;  /* on the broker's list */
	int detached;  /* the broker let go: the handle may be freed */
	int reaping;   /* its children the broker still waits for (core/reaper.h) */
	long long boot_deadline, close_deadline; /* monotonic ms, 0 = none */
	long connect_ms; /* the connect timeout (boot_deadline moves while a secret is asked) */
	/* A secret its start waits for (core/secret.c): set by secret_get during the last
	 * start; the one it waited for last (to fail with it if declined); since when
	 * (the boot deadline does not run meanwhile). */
	struct ec__secret *secret_wait, *secret_seen;
	long long secret_since;
	int shutdown_requested;
	struct ec_msg *outq, **outq_tail;
	struct ec_call *calls;
	uint32_t next_handle;
	struct ec_error fail; /* why it died / failed to start */
	pthread_cond_t cond;
	char python_version[32];
	int python_major;
	long pid;
	double boot_seconds;
	struct ec_context *next;        /* in the broker's list */
	struct ec_context *master_next; /* in m->contexts */
};

/* Broker side, called with m->lock held. */
/* Frame queued messages, start the transport, check deadlines; fill *ps. */
void ec__context_prepare(struct ec_context *ctx, long long now, struct ec_pollset *ps,
                         long long *next_deadline);
/* The pollset fired (events EC_POLL_IN/OUT). */
void ec__context_on_io(struct ec_context *ctx, int events);
/* End the stream and fail everything pending; code/err say why (err NULL: clean end). */
/* Queue SHUTDOWN and arm the force deadline (m->lock held, application thread). */
void ec__context_request_shutdown(struct ec_context *ctx, int timeout_ms);
void ec__context_die(struct ec_context *ctx, const struct ec_error *why, int grace_ms);

#endif
