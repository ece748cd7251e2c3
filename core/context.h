/* context.h: one remote interpreter as the master sees it: its configuration, its stream
 * (core/stream.h) as a source of the loop, what its frames mean (HELLO, LOG,
 * GET_MODULE, replies), its pending calls, its shutdown. The loop's thread drives it
 * through the source ops; application threads queue messages and wait on its
 * condition variable; both under the master's lock. Connecting one is core/connect.c. */
#ifndef EC_CORE_CONTEXT_H
#define EC_CORE_CONTEXT_H

#include <pthread.h>
#include <stdint.h>

#include "call.h"
#include "channel.h"
#include "master.h"
#include "secret.h"
#include "source.h"
#include "stream.h"
#include "watch.h"

/* Well-known handles (docs/protocol.md §3); replies from EC_HANDLE_FIRST_REPLY on. */
enum {
	EC_HANDLE_HELLO = 1,
	EC_HANDLE_CALL = 2,
	EC_HANDLE_LOG = 3,
	EC_HANDLE_SHUTDOWN = 4,
	EC_HANDLE_GET_MODULE = 5,
	EC_HANDLE_LOAD_MODULE = 6,
	EC_HANDLE_CANCEL = 7,
	EC_HANDLE_CHANNEL_OPEN = 8,
	EC_HANDLE_REPLIES = 9,
	EC_HANDLE_CALLS = 10
};

struct ec_context {
	ec_master *m;
	char *name;
	/* The name and the overrides it was connected with: contexts with the same share
	 * the core's bytecode in memory when the disk cache is not theirs (connect.c). */
	char *share_key;
	/* Its codec plugin (its `codec` key, else the master's); the master's registry
	 * keeps it loaded. */
	const struct ec_loaded_plugin *codec;
	unsigned id;
	struct ec_cfg *cfg; /* private copy with overrides applied */
	/* The top layer's ops (from its plugin's descriptor: the stack itself is built on
	 * the loop's thread) and whether a layer sits below it (`via:`). */
	const struct ec_transport_ops *top_ops;
	int has_below;
	/* The layers' boot words (ec_transport_ops.boot_words) as the payload's config
	 * line holds them ("'tls': b'...', "), set by the loop once the stack's start
	 * returned 0, before words_ready; wiped and freed once the payload is built. */
	struct ec_buf boot_words;
	/* The context sides of those layers (ec_transport_ops.remote_source: static strings
	 * of their plugins), by plugin name, set with boot_words: compiled after the core
	 * and the codec's (docs/plugin-guide.md). */
	struct {
		const char *name, *source;
	} remote_layers[4];
	size_t n_remote_layers;
	int words_late;  /* a layer has boot words: the stream is built once they are */
	int words_ready; /* under m->lock: boot_words is set, the stream may be built */
	/* The invitation of its only layer (ec_transport_ops.invitation), set by the loop
	 * with the stack; a credential: wiped with the context. */
	char *invitation;

	struct ec_source src;    /* what the loop drives */
	struct ec_stream st;     /* loop-owned, but st.state and st.pending under m->lock */
	struct ec__secret_asker asker; /* the secrets its start waits for (core/secret.h) */
	struct ec_watch *watch; /* its pending connect's, while one waits for it */

	/* Shared, under m->lock. */
	int start_tried; /* the loop called the transport's start once */
	int stack_failed; /* the loop could not build its transport stack (create) */
	struct ec_error stream_err; /* the connecting thread could not build the payload */
	char start_note[512]; /* what the transport last said it waits for (start) */
	long long started_ms;
	long long start_wake; /* start's own timer (ps.timeout_ms), monotonic ms; 0: none */
	long long io_wake;    /* the open transport's own timer, the same way */
	int direct_boot;      /* it was booted directly (core/direct.h) */
	int attached;  /* on the loop's list */
	int detached;  /* the loop let go: the handle may be freed */
	long long boot_deadline, close_deadline; /* monotonic ms, 0 = none */
	long connect_ms; /* the connect timeout (boot_deadline moves while a secret is asked) */
	int shutdown_requested;
	int shutdown_unsent; /* out of memory for SHUTDOWN: closed without a grace */
	struct ec_calls calls;
	struct ec_channels chans;
	struct ec_error fail; /* why it died / failed to start */
	/* The last error the context's core said (a LOG record of logger `econtext`, level
	 * 40 or more: a bad frame, a failed connect-back) with no frame but LOG after it:
	 * quoted in the error that says its stream ended (broker thread). */
	char last_words[200];
	pthread_cond_t cond;
	char python_version[32];
	int python_major;
	long pid;
	double boot_seconds;
	/* LOG records (broker thread): this second's window, those passed and dropped */
	long long log_window_ms;
	long log_passed, log_dropped;
	struct ec_context *master_next; /* in m->contexts */
};

/* Application thread, m->lock held: a new context named name (the config's section,
 * or one described by its overrides alone), in m->contexts, not yet attached. On
 * failure *out may still be set: free it with ec__context_free. */
int ec__context_new(ec_master *m, const char *name, const char *const *overrides,
                    struct ec_context **out, struct ec_error *err);
/* Hand it to the loop, which builds its transport stack and starts it (m->lock held). */
void ec__context_attach(struct ec_context *ctx);
/* Unlink from the master and free (m->lock held; detached or never attached). */
void ec__context_free(struct ec_context *ctx);
/* Wipe and free ctx->boot_words (m->lock held, or ctx not shared yet). */
void ec__context_words_wipe(struct ec_context *ctx);
/* Queue an encoded call of ctx (m->lock held); EC_ECLOSED when ctx takes no calls. The
 * message is the context's on success. */
int ec__context_queue_call(struct ec_context *ctx, struct ec_msg *msg, struct ec_call *call,
                           struct ec_error *err);
/* Encode module.qualname(*args, **kwargs) for ctx into out. */
int ec__context_encode_call(struct ec_context *ctx, const char *module, const char *qualname,
                            const ec_value *args, const ec_value *kwargs, struct ec_buf *out,
                            struct ec_error *err);
/* The module server's sink (core/modules.h; arg: the master): queue a LOAD_MODULE on
 * context ctx_id if it is still ready. The server's thread. */
void ec__context_deliver_module(void *arg, unsigned ctx_id, struct ec_buf *payload);
/* Queue SHUTDOWN and arm the force deadline (m->lock held, application thread). */
void ec__context_request_shutdown(struct ec_context *ctx, int timeout_ms);

#endif
