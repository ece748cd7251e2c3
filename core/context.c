/* context.c: a context's life on the loop (its source ops: start, deadlines, IO,
 * death), what its frames mean, its calls queued and its shutdown. Functions that run
 * on the loop's thread are the source ops and what they call; ec_context_* and
 * ec__context_* (unless said) run on application threads. Both hold m->lock while
 * touching shared state. */
#include "ecbuild.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <openssl/crypto.h>

#include "clock.h"
#include "context.h"
#include "econtext/codec.h"
#include "error.h"
#include "frame.h"
#include "modules.h"
#include "payload.h"
#include "reaper.h"
#include "transport.h"
#include "value.h"

/* ---- the loop's side ----------------------------------------------------------- */

/* Its state changed (started, ready, dead, detached, asking for a password): wake the
 * threads waiting on it, and the select its pending connect is in. */
static void changed(struct ec_context *ctx)
{
	pthread_cond_broadcast(&ctx->cond);
	if (ctx->watch)
		ec__watch_notify(ctx->watch);
}

/* End the stream and fail everything pending; why says why (NULL: a clean end). */
static void die(struct ec_context *ctx, const struct ec_error *why, int grace_ms)
{
	if (ctx->st.state == EC_STREAM_DEAD)
		return;
	if (why && why->code) {
		ctx->fail = *why;
		/* The stream's end said with the context's own last words, when it had any. */
		if (why->code == EC_ECLOSED && ctx->last_words[0]) {
			size_t n = strlen(ctx->fail.msg);
			snprintf(ctx->fail.msg + n, sizeof(ctx->fail.msg) - n, "; it said: %s",
			         ctx->last_words);
		}
		why = &ctx->fail;
		if (ctx->st.state == EC_STREAM_READY)
			ec__log(&ctx->m->logger, EC_LOG_ERROR, "econtext", ctx->name, "context %s: %s",
			        ctx->name, why->msg);
	}
	ec__modsrv_forget(ctx->m->modules, ctx->id);
	ec__reaper_closing(&ctx->src); /* the children its transport hands the reaper are its */
	ec__stream_close(&ctx->st, grace_ms);
	ec__reaper_closing(NULL);
	ctx->src.finished = 1;
	ec__calls_fail(&ctx->calls, ctx->name, why);
	ec__channels_end(&ctx->chans, why);
	changed(ctx);
}

static void die_boot(struct ec_context *ctx, int code, const char *what)
{
	struct ec_error e = {0};
	ec__stream_boot_error(&ctx->st, code, what, &e);
	die(ctx, &e, 0);
}

void ec__context_words_wipe(struct ec_context *ctx)
{
	if (ctx->boot_words.data)
		OPENSSL_cleanse(ctx->boot_words.data, ctx->boot_words.cap);
	ec__buf_free(&ctx->boot_words);
}

/* The invitation of a stack's only layer, if it gives one. */
static int take_invitation(struct ec_context *ctx, struct ec_error *err)
{
	const struct ec_transport *t = ctx->st.transport;
	const struct ec_transport_ops *o = t->ops;
	if (t->below || o->size < offsetof(struct ec_transport_ops, invitation) +
	                                sizeof(o->invitation) || !o->invitation)
		return 0;
	enum { CAP = 65536 };
	char *buf = malloc(CAP);
	if (!buf)
		return ec__error_set(err, EC_ENOMEM, ctx->name, "out of memory");
	buf[0] = '\0';
	int rc = o->invitation(t->inst, &ctx->st.argv, buf, CAP, err);
	if (rc) {
		OPENSSL_cleanse(buf, CAP);
		free(buf);
		return rc == EC_ENOTFOUND ? 0 : rc;
	}
	buf[CAP - 1] = '\0';
	ctx->invitation = buf;
	return 0;
}

static int has_boot_words(const struct ec_transport_ops *o)
{
	return o->size >= offsetof(struct ec_transport_ops, boot_words) + sizeof(o->boot_words) &&
	       o->boot_words;
}

/* The layer's context side (2.2), or NULL. */
static const char *remote_source(const struct ec_transport_ops *o)
{
	return o->size >= offsetof(struct ec_transport_ops, remote_source) + sizeof(o->remote_source)
	           ? o->remote_source
	           : NULL;
}

/* The transport stack, built on the loop's thread (its create and wrap_argv ops). */
static int build_stack(struct ec_context *ctx, struct ec_error *err)
{
	ec_master *m = ctx->m;
	int rc = ec__transport_stack_new(&m->plugins, m->config, ctx->name, ctx->cfg,
	                                 &ctx->st.argv, &ctx->st.transport, err);
	for (struct ec_transport *t = ctx->st.transport; t && !rc; t = t->below)
		ctx->words_late |= has_boot_words(t->ops);
	return rc ? rc : take_invitation(ctx, err);
}

/* The layers' boot words for the payload (ec_transport_ops.boot_words), once the
 * stack's start returned 0: a layer may then ask those below it (local_address). */
static int gather_words(struct ec_context *ctx, struct ec_error *err)
{
	int rc = 0;
	char words[1024];
	ctx->n_remote_layers = 0;
	for (struct ec_transport *t = ctx->st.transport; t && !rc; t = t->below) {
		const struct ec_transport_ops *o = t->ops;
		if (!has_boot_words(o))
			continue;
		/* Room reserved at once: a secret never left behind by a realloc. */
		if (!ctx->boot_words.cap && ec__buf_reserve_exact(&ctx->boot_words, 4 * sizeof(words)))
			return ec__error_set(err, EC_ENOMEM, ctx->name, "out of memory");
		words[0] = '\0';
		rc = o->boot_words(t->inst, words, sizeof(words), err);
		words[sizeof(words) - 1] = '\0';
		const char *src = remote_source(o);
		size_t *n = &ctx->n_remote_layers;
		if (!rc && words[0] && src) {
			if (*n == sizeof(ctx->remote_layers) / sizeof(ctx->remote_layers[0]))
				rc = ec__error_set(err, EC_ECONFIG, ctx->name,
				                   "context '%s': more than %zu layers with a context side",
				                   ctx->name, *n);
			else {
				ctx->remote_layers[*n].name = t->name;
				ctx->remote_layers[(*n)++].source = src;
			}
		}
		struct ec_buf *b = &ctx->boot_words;
		if (!rc && words[0] && (ec__buf_append(b, "'", 1) || ec__buf_append(b, t->name, strlen(t->name)) ||
		            ec__buf_append(b, "': ", 3) || ec__payload_bytes_literal(b, words) ||
		            ec__buf_append(b, ", ", 2)))
			rc = ec__error_set(err, EC_ENOMEM, ctx->name, "out of memory");
		OPENSSL_cleanse(words, sizeof(words));
	}
	return rc;
}

/* The top layer's start, for ctx (a secret a layer asks for is asked for ctx), with
 * the layer's own timer and the pause of the boot deadline while a secret is asked. */
static int start(struct ec_context *ctx, long long now, struct ec_error *err)
{
	ec_master *m = ctx->m;
	m->secrets.current = &ctx->asker;
	ctx->asker.wait = NULL;
	int rc = ec__stream_start(&ctx->st, err);
	m->secrets.current = NULL;
	ctx->start_wake = rc == EC_EAGAIN && ctx->st.ps.timeout_ms > 0 ? now + ctx->st.ps.timeout_ms : 0;
	if (ctx->asker.wait && !ctx->asker.since) {
		ctx->asker.since = now;
		changed(ctx); /* its thread asks the application */
	} else if (!ctx->asker.wait && ctx->asker.since) {
		if (ctx->boot_deadline)
			ctx->boot_deadline += now - ctx->asker.since;
		ctx->asker.since = 0;
	}
	return rc;
}

static void lower(long long *next, long long at)
{
	if (at && (!*next || at < *next))
		*next = at;
}

static void ctx_prepare(struct ec_source *src, long long now, struct ec_pollset *ps,
                        long long *next_deadline)
{
	struct ec_context *ctx = container_of(src, struct ec_context, src);
	struct ec_stream *st = &ctx->st;
	struct ec_error err = {0};
	if (st->state == EC_STREAM_DEAD)
		return;
	if (ctx->stream_err.code) {
		die(ctx, &ctx->stream_err, 0);
		return;
	}
	if (ctx->shutdown_requested && st->state < EC_STREAM_READY) {
		/* A connect given up on (ec_connect_free) while it booted. */
		struct ec_error e = {.code = EC_ECLOSED};
		snprintf(e.msg, sizeof(e.msg), "context '%s': its connect was abandoned", ctx->name);
		die(ctx, &e, 0);
		return;
	}
	if (st->state == EC_STREAM_NEW) {
		if (build_stack(ctx, &err)) {
			ctx->start_tried = ctx->stack_failed = 1;
			die(ctx, &err, 0);
			return;
		}
		st->state = EC_STREAM_STARTING;
		ctx->started_ms = now;
	}
	if (st->state == EC_STREAM_STARTING) {
		int rc = start(ctx, now, &err);
		if (!ctx->start_tried) {
			ctx->start_tried = 1;
			changed(ctx); /* the connecting thread builds the stream */
		}
		/* With boot words, it builds it once they are known (the stack started). */
		if (rc == 0 && ctx->words_late) {
			if (gather_words(ctx, &err)) {
				die(ctx, &err, 0);
				return;
			}
			ctx->words_ready = 1;
			changed(ctx);
		}
		if (rc == 0) {
			st->state = EC_STREAM_BOOTING;
		} else if (rc == EC_EAGAIN) {
			/* A transport may say what it is waiting for (sudo: what sudo printed);
			 * quoted if the connection times out before start succeeds. */
			if (err.msg[0])
				snprintf(ctx->start_note, sizeof(ctx->start_note), "%s", err.msg);
			err = (struct ec_error){0};
		} else {
			ec__error_prefix(&err, "cannot start context '%s'", ctx->name);
			die(ctx, &err, 0);
			return;
		}
	}
	if (ctx->io_wake && now >= ctx->io_wake && st->state >= EC_STREAM_BOOTING) {
		/* The transport's own timer (its pollset's timeout_ms) ran out. */
		ctx->io_wake = 0;
		src->ops->on_io(src, EC_POLL_IN | EC_POLL_OUT);
		if (st->state == EC_STREAM_DEAD)
			return;
	}
	if ((st->state == EC_STREAM_READY && ec__stream_flush(st, &err)) ||
	    ec__stream_feed_direct(st, &err) ||
	    (st->state >= EC_STREAM_BOOTING && ec__stream_has_output(st) && ec__stream_write(st, &err))) {
		die(ctx, &err, 0);
		return;
	}
	int secret_asked = ctx->asker.since != 0;
	if (st->state != EC_STREAM_READY && ctx->boot_deadline && !secret_asked &&
	    now >= ctx->boot_deadline) {
		char what[96];
		snprintf(what, sizeof(what), "did not start within %.1f s",
		         (double)ctx->connect_ms / 1000.0);
		if (st->state == EC_STREAM_STARTING && ctx->start_note[0]) {
			struct ec_error e = {0};
			ec__error_set(&e, EC_ETIMEDOUT, ctx->name, "context '%s' %s: %s", ctx->name,
			              what, ctx->start_note);
			die(ctx, &e, 0);
		} else {
			die_boot(ctx, EC_ETIMEDOUT, what);
		}
		return;
	}
	if (ctx->close_deadline && now >= ctx->close_deadline) {
		struct ec_error e = {0};
		if (ctx->shutdown_unsent)
			ec__error_set(&e, EC_ENOMEM, ctx->name,
			              "context '%s': out of memory sending SHUTDOWN; disconnected by "
			              "force", ctx->name);
		else
			ec__error_set(&e, EC_ETIMEDOUT, ctx->name,
			              "context '%s' did not exit in time; disconnected by force",
			              ctx->name);
		ec__log(&ctx->m->logger, EC_LOG_WARNING, "econtext", ctx->name, "%s", e.msg);
		die(ctx, &e, 0);
		return;
	}
	ec__stream_idle(st, now, next_deadline);
	if (st->state != EC_STREAM_READY && !secret_asked)
		lower(next_deadline, ctx->boot_deadline);
	if (st->state == EC_STREAM_STARTING)
		lower(next_deadline, ctx->start_wake);
	lower(next_deadline, ctx->close_deadline);
	ec__stream_pollset(st, ps);
	if (st->state != EC_STREAM_STARTING) {
		ctx->io_wake = ps->timeout_ms > 0 ? now + ps->timeout_ms : 0;
		lower(next_deadline, ctx->io_wake);
	}
}

static void ctx_on_io(struct ec_source *src, int events)
{
	struct ec_context *ctx = container_of(src, struct ec_context, src);
	struct ec_error err = {0};
	(void)events; /* a hint: any readiness may let either direction move (ssh) */
	if (ctx->st.state == EC_STREAM_STARTING)
		return; /* prepare() retries start() */
	if (ec__stream_has_output(&ctx->st) && ec__stream_write(&ctx->st, &err)) {
		die(ctx, &err, 0);
		return;
	}
	int rc = ec__stream_read(&ctx->st, &err);
	/* An end of stream the transport explained (tls: which connection ended) is said
	 * in its words. */
	if (rc == 1)
		die(ctx, ctx->shutdown_requested ? NULL : err.code ? &err : &(struct ec_error){
			.code = EC_ECLOSED, .msg = "the stream ended (the context exited)"}, 2000);
	else if (rc)
		die(ctx, &err, 0);
}

/* The loop let go: its transport is closed and its children reaped. The stack is
 * destroyed here, on the loop's thread, like every other transport op. */
static void ctx_detached(struct ec_source *src)
{
	struct ec_context *ctx = container_of(src, struct ec_context, src);
	ec__stream_free(&ctx->st);
	ctx->attached = 0;
	ctx->detached = 1;
	changed(ctx);
}

static int on_hello(struct ec_context *ctx, const struct ec_frame_hdr *h, const unsigned char *p,
                    struct ec_error *err)
{
	ec_value *v = NULL;
	int rc = ec__codec_ops(ctx->codec)->decode(ctx->codec->state, p, h->length, &v, err);
	if (rc)
		return rc;
	const ec_value *ver = ec_value_dict_get(v, "version");
	const ec_value *pid = ec_value_dict_get(v, "pid");
	if (!ver || (ver->type != EC_T_STR && ver->type != EC_T_BYTES) || !pid ||
	    pid->type != EC_T_INT) {
		ec_value_free(v);
		return ec__error_set(err, EC_EPROTO, ctx->name, "malformed HELLO from context '%s'",
		                     ctx->name);
	}
	snprintf(ctx->python_version, sizeof(ctx->python_version), "%s", ver->u.s.data);
	ctx->python_major = atoi(ctx->python_version);
	ctx->pid = (long)pid->u.i;
	ec_value_free(v);
	ctx->boot_seconds = (double)(ec__now_ms() - ctx->started_ms) / 1000.0;
	ctx->st.state = EC_STREAM_READY;
	ctx->boot_deadline = 0;
	ec__log(&ctx->m->logger, EC_LOG_DEBUG, "econtext", ctx->name,
	        "context %s ready: python %s, pid %ld, %.3f s", ctx->name, ctx->python_version,
	        ctx->pid, ctx->boot_seconds);
	changed(ctx);
	return 0;
}

/* Log records one context may hand to the application in a second: more are dropped
 * and counted, and the count is said once a second (with the next record), so that a
 * context flooding LOG records or stdout neither buries the log nor holds the broker
 * in the application's log function while other contexts wait. */
#define LOG_RATE 1000

/* 1 if a record of ctx at level may go to the application now. */
static int log_admit(struct ec_context *ctx, int level)
{
	const struct ec_logger *lg = &ctx->m->logger;
	if (level < lg->level)
		return 0; /* filtered anyway: it costs nothing more */
	long long now = ec__now_ms();
	if (now - ctx->log_window_ms >= 1000) {
		if (ctx->log_dropped)
			ec__log(lg, EC_LOG_WARNING, "econtext", ctx->name,
			        "context '%s' sent %ld log records more than %d a second in the last "
			        "%.1f s: dropped",
			        ctx->name, ctx->log_dropped, LOG_RATE,
			        (double)(now - ctx->log_window_ms) / 1000.0);
		ctx->log_window_ms = now;
		ctx->log_passed = ctx->log_dropped = 0;
	}
	if (ctx->log_passed >= LOG_RATE) {
		ctx->log_dropped++;
		return 0;
	}
	ctx->log_passed++;
	return 1;
}

static int on_log(struct ec_context *ctx, const struct ec_frame_hdr *h, const unsigned char *p,
                  struct ec_error *err)
{
	ec_value *v = NULL;
	int rc = ec__codec_ops(ctx->codec)->decode(ctx->codec->state, p, h->length, &v, err);
	if (rc)
		return rc;
	if (v->type != EC_T_TUPLE || v->u.seq.len != 3 || v->u.seq.items[1]->type != EC_T_INT) {
		ec_value_free(v);
		return ec__error_set(err, EC_EPROTO, ctx->name, "malformed LOG from context '%s'",
		                     ctx->name);
	}
	const ec_value *name = v->u.seq.items[0], *msg = v->u.seq.items[2];
	int level = (int)v->u.seq.items[1]->u.i;
	int named = name->type == EC_T_STR || name->type == EC_T_BYTES;
	int has_text = msg->type == EC_T_STR || msg->type == EC_T_BYTES;
	/* The context's core itself at ERROR or above: its last words, if no frame follows. */
	if (level >= 40 && named && has_text && !strcmp(name->u.s.data, "econtext"))
		snprintf(ctx->last_words, sizeof(ctx->last_words), "%s", msg->u.s.data);
	if (!log_admit(ctx, level)) {
		ec_value_free(v);
		return 0;
	}
	char logger[256];
	if (named && name->u.s.len && strcmp(name->u.s.data, "root") != 0)
		snprintf(logger, sizeof(logger), "econtext.ctx.%s.%s", ctx->name, name->u.s.data);
	else
		snprintf(logger, sizeof(logger), "econtext.ctx.%s", ctx->name);
	const char *text = has_text ? msg->u.s.data : "?";
	struct timeval tv;
	gettimeofday(&tv, NULL);
	struct ec_log_record rec = {
		.level = level,
		.logger = logger,
		.context = ctx->name,
		.message = text,
		.time = (double)tv.tv_sec + tv.tv_usec / 1e6,
	};
	ec__log_record(&ctx->m->logger, &rec);
	ec_value_free(v);
	return 0;
}

static int on_reply(struct ec_context *ctx, const struct ec_frame_hdr *h, const unsigned char *p,
                    struct ec_error *err)
{
	struct ec_call *c = ec__calls_take(&ctx->calls, h->handle);
	if (!c) {
		if (h->handle < ctx->calls.next_handle)
			return 0; /* the caller gave up on it: drop */
		return ec__error_set(err, EC_EPROTO, ctx->name,
		                     "context '%s' sent a frame to unknown handle %lu; closing the "
		                     "stream", ctx->name, (unsigned long)h->handle);
	}
	pthread_mutex_lock(&c->lock);
	if (!ec__stream_take_frame(&ctx->st, h, p, &c->reply, &c->reply_off)) {
		/* the frame went with the buffer */
	} else if (ec__buf_append(&c->reply, p, h->length)) {
		c->rc = EC_ENOMEM;
		ec__error_set(&c->err, EC_ENOMEM, ctx->name, "out of memory receiving a reply");
	}
	ec__call_done_locked(c, ctx->m->broker);
	pthread_mutex_unlock(&c->lock);
	return 0;
}

/* REPLIES: replies the context held, in one frame: each its handle and length (4 bytes
 * each, big-endian), then its bytes (docs/protocol.md 3). Each is taken as a reply. */
struct replies {
	struct ec_context *ctx;
	const struct ec_frame_hdr *h;
	struct ec_error *err;
};

static int one_reply(void *arg, uint32_t handle, const unsigned char *body, size_t len)
{
	struct replies *r = arg;
	struct ec_frame_hdr one = *r->h;
	one.handle = handle;
	one.length = (uint32_t)len;
	return on_reply(r->ctx, &one, body, r->err);
}

static int on_replies(struct ec_context *ctx, const struct ec_frame_hdr *h,
                      const unsigned char *p, struct ec_error *err)
{
	struct replies r = {ctx, h, err};
	size_t at = 0;
	int rc = ec__frame_split_batch(p, h->length, EC_HANDLE_FIRST_REPLY, one_reply, &r, &at);
	if (rc <= 0)
		return rc;
	return ec__error_set(err, EC_EPROTO, ctx->name,
	                     "context '%s' sent a malformed REPLIES frame (%lu bytes, at byte %zu); "
	                     "closing the stream", ctx->name, (unsigned long)h->length, at);
}

/* A GET_MODULE: the name checked here, the answer built on the module server's thread
 * (core/modules.h), which hands it to ec__context_deliver_module. */
static int on_get_module(struct ec_context *ctx, const struct ec_frame_hdr *h,
                         const unsigned char *p, struct ec_error *err)
{
	ec_master *m = ctx->m;
	ec_value *v = NULL;
	int rc = ec__codec_ops(ctx->codec)->decode(ctx->codec->state, p, h->length, &v, err);
	if (rc)
		return rc;
	if ((v->type != EC_T_STR && v->type != EC_T_BYTES) || !v->u.s.len ||
	    strlen(v->u.s.data) != v->u.s.len) {
		ec_value_free(v);
		return ec__error_set(err, EC_EPROTO, ctx->name, "malformed GET_MODULE from context '%s'",
		                     ctx->name);
	}
	rc = ec__modsrv_request(m->modules, ctx->id, ctx->name, ctx->python_major, ctx->codec,
	                        v->u.s.data);
	if (rc == EC_EPROTO)
		rc = ec__error_set(err, rc, ctx->name,
		                   "context '%s' has more module requests waiting than one context "
		                   "may (%d): closing the stream",
		                   ctx->name, ec__modsrv_ctx_jobs_max());
	else if (rc)
		rc = ec__error_set(err, rc, ctx->name, "context '%s': cannot serve module %s: %s",
		                   ctx->name, v->u.s.data,
		                   rc == EC_ENOMEM ? "out of memory" : "the module server is stopped");
	ec_value_free(v);
	return rc;
}

/* A frame from the stream (its origin checked there). */
static int on_frame(void *owner, const struct ec_frame_hdr *h, const unsigned char *p,
                    struct ec_error *err)
{
	struct ec_context *ctx = owner;
	if (ctx->st.state == EC_STREAM_HELLO) {
		if (h->handle != EC_HANDLE_HELLO)
			return ec__error_set(err, EC_EPROTO, ctx->name,
			                     "context '%s' sent handle %lu before HELLO", ctx->name,
			                     (unsigned long)h->handle);
		return on_hello(ctx, h, p, err);
	}
	if (h->handle == EC_HANDLE_LOG)
		return on_log(ctx, h, p, err);
	ctx->last_words[0] = '\0'; /* words followed by other frames were not its last */
	if (h->handle == EC_HANDLE_GET_MODULE)
		return on_get_module(ctx, h, p, err);
	if (h->handle == EC_HANDLE_REPLIES)
		return on_replies(ctx, h, p, err);
	int rc;
	if (h->handle >= EC_HANDLE_FIRST_REPLY && ec__channels_on_frame(&ctx->chans, h, p, &rc, err))
		return rc;
	if (h->handle >= EC_HANDLE_FIRST_REPLY)
		return on_reply(ctx, h, p, err);
	return ec__error_set(err, EC_EPROTO, ctx->name,
	                     "context '%s' sent a frame to unknown handle %lu; closing the stream",
	                     ctx->name, (unsigned long)h->handle);
}

/* Content comes on a channel only (the stream asks at a handle's first). */
static int takes_content(void *owner, uint32_t handle)
{
	struct ec_context *ctx = owner;
	return ec__channels_has(&ctx->chans, handle);
}

static const struct ec_source_ops context_source_ops = {
	.prepare = ctx_prepare,
	.on_io = ctx_on_io,
	.detached = ctx_detached,
};

/* ---- application side -------------------------------------------------------- */

void ec__context_free(struct ec_context *ctx)
{
	ec_master *m = ctx->m;
	for (struct ec_context **pp = &m->contexts; *pp; pp = &(*pp)->master_next)
		if (*pp == ctx) {
			*pp = ctx->master_next;
			break;
		}
	ec__secret_asker_remove(&m->secrets, &ctx->asker);
	ec__channels_orphan(&ctx->chans);
	ec__stream_free(&ctx->st); /* its transport is gone already if the loop had it */
	ec__cfg_free(ctx->cfg);
	ec__context_words_wipe(ctx);
	if (ctx->invitation) {
		OPENSSL_cleanse(ctx->invitation, strlen(ctx->invitation));
		free(ctx->invitation);
	}
	pthread_cond_destroy(&ctx->cond);
	free(ctx->share_key);
	free(ctx->name);
	free(ctx);
}

/* Queue CANCEL(handle) (m->lock held; the caller wakes the loop). 0, or EC_ECLOSED
 * when the context takes no more messages. */
static int queue_cancel(struct ec_context *ctx, uint32_t handle)
{
	if (ctx->st.state != EC_STREAM_READY || ctx->shutdown_requested)
		return EC_ECLOSED;
	struct ec_msg *msg = calloc(1, sizeof(*msg));
	struct ec_value h = {.type = EC_T_INT, .u.i = handle};
	struct ec_codec_peer peer = {.python_major = ctx->python_major};
	const struct ec_loaded_plugin *c = ctx->codec;
	if (!msg || ec__codec_ops(c)->encode(c->state, &peer, &h, &msg->payload, NULL)) {
		if (msg)
			ec__buf_free(&msg->payload);
		free(msg);
		return EC_ENOMEM;
	}
	msg->handle = EC_HANDLE_CANCEL;
	ec__stream_queue(&ctx->st, msg);
	return 0;
}

static void calls_abandoned(struct ec_calls *cs, uint32_t handle)
{
	queue_cancel(container_of(cs, struct ec_context, calls), handle);
}

int ec_channel_new(ec_context *ctx, ec_channel **out, struct ec_error *err)
{
	ec_master *m = ctx->m;
	pthread_mutex_lock(&m->lock);
	int rc = ctx->shutdown_requested
	             ? ec__error_set(err, EC_ECLOSED, ctx->name, "context '%s' is shutting down",
	                             ctx->name)
	             : ec__channel_new(&ctx->chans, out, err);
	pthread_mutex_unlock(&m->lock);
	if (!rc)
		ec__broker_wake(m->broker);
	return rc;
}

int ec_call_cancel(ec_call *call)
{
	ec_master *m = call->m;
	int rc = 0, wake = 0;
	pthread_mutex_lock(&m->lock);
	if (call->registered && !call->cancel_sent) {
		rc = queue_cancel(container_of(call->reg, struct ec_context, calls), call->handle);
		call->cancel_sent = wake = rc == 0;
	}
	pthread_mutex_unlock(&m->lock);
	if (wake)
		ec__broker_wake(m->broker);
	return rc == EC_ECLOSED ? 0 : rc; /* gone: its wait says so */
}

void ec__context_deliver_module(void *arg, unsigned ctx_id, struct ec_buf *payload)
{
	ec_master *m = arg;
	struct ec_msg *msg = payload ? calloc(1, sizeof(*msg)) : NULL;
	pthread_mutex_lock(&m->lock);
	struct ec_context *c = m->contexts;
	while (c && c->id != ctx_id)
		c = c->master_next;
	size_t unread = c ? ec__stream_unsent(&c->st) : 0;
	if (!msg && c && c->st.state == EC_STREAM_READY) {
		/* The answer lost would leave the context's import waiting forever. */
		if (!c->stream_err.code)
			ec__error_set(&c->stream_err, EC_ENOMEM, c->name,
			              "context '%s': out of memory answering a module request; "
			              "disconnected", c->name);
		ec__broker_wake(m->broker);
	} else if (msg && c && c->st.state == EC_STREAM_READY && c->st.outq &&
	           unread > m->max_message) {
		/* It asks and does not read (a context's imports wait for each answer): more
		 * than a message's worth of answers on top of others is a context that would
		 * make the master hold answers without limit. */
		if (!c->stream_err.code)
			ec__error_set(&c->stream_err, EC_EPROTO, c->name,
			              "context '%s' asks for modules and does not read the answers "
			              "(%zu bytes unread); closing the stream", c->name, unread);
		ec__broker_wake(m->broker);
	} else if (msg && c && c->st.state == EC_STREAM_READY) {
		msg->handle = EC_HANDLE_LOAD_MODULE;
		msg->payload = *payload; /* taken */
		ec__buf_init(payload);
		ec__stream_queue(&c->st, msg);
		msg = NULL;
		ec__broker_wake(m->broker);
	}
	pthread_mutex_unlock(&m->lock);
	free(msg);
}

void ec__context_attach(struct ec_context *ctx)
{
	ctx->attached = 1;
	ec__broker_attach(ctx->m->broker, &ctx->src);
}

/* A context that is not in the config, described by its overrides alone
 * ("transport=local", "python=..."): an ad hoc section from a one-context document. */
static int adhoc_section(const char *name, const char *const *overrides, struct ec_config **tmp,
                         const struct ec_cfg **out, struct ec_error *err)
{
	const char *transport = NULL;
	for (size_t i = 0; overrides && overrides[i]; i++)
		if (strncmp(overrides[i], "transport=", 10) == 0)
			transport = overrides[i] + 10;
	if (!transport)
		return EC_ENOTFOUND;
	struct ec_buf doc;
	ec__buf_init(&doc);
	static const char head[] = "contexts:\n  \"", tail[] = "\": {transport: local}\n";
	int rc = ec__buf_append(&doc, head, sizeof(head) - 1);
	for (const char *p = name; *p && !rc; p++) {
		if (*p == '"' || *p == '\\')
			rc = ec__buf_append(&doc, "\\", 1);
		rc = rc ? rc : ec__buf_append(&doc, p, 1);
	}
	rc = rc ? rc : ec__buf_append(&doc, tail, sizeof(tail) - 1);
	if (rc) {
		ec__buf_free(&doc);
		return ec__error_set(err, EC_ENOMEM, name, "out of memory");
	}
	/* transport itself is applied as an override afterwards, with its own checks. */
	rc = ec__config_load_string("<ad hoc context>", (const char *)doc.data, doc.len, tmp, err);
	ec__buf_free(&doc);
	if (rc)
		return rc;
	*out = ec__config_context(*tmp, name);
	return *out ? 0 : ec__error_set(err, EC_ECONFIG, name, "invalid context name '%s'", name);
}

int ec__context_new(ec_master *m, const char *name, const char *const *overrides,
                    struct ec_context **out, struct ec_error *err)
{
	const struct ec_cfg *section = ec__config_context(m->config, name);
	struct ec_config *adhoc = NULL;
	if (!section) {
		int rc = adhoc_section(name, overrides, &adhoc, &section, err);
		if (rc && rc != EC_ENOTFOUND) {
			ec__config_free(adhoc);
			return rc;
		}
	}
	if (!section) {
		char names[512] = "";
		const char *const *all = ec__config_context_names(m->config);
		for (size_t i = 0; all && all[i]; i++) {
			size_t l = strlen(names);
			snprintf(names + l, sizeof(names) - l, "%s%s", l ? ", " : "", all[i]);
		}
		return ec__error_set(err, EC_ENOTFOUND, ec__config_source(m->config),
		                     "no context named '%s' (defined: %s; or give transport=... "
		                     "to describe one ad hoc)", name, names);
	}
	struct ec_context *ctx = calloc(1, sizeof(*ctx));
	struct ec_cfg *dup = ec__cfg_dup(section);
	ec__config_free(adhoc);
	if (!ctx || !dup || !(ctx->name = strdup(name)) || ec__cond_init_monotonic(&ctx->cond)) {
		ec__cfg_free(dup);
		if (ctx)
			free(ctx->name);
		free(ctx);
		return ec__error_set(err, EC_ENOMEM, name, "out of memory");
	}
	ctx->cfg = dup;
	ctx->m = m;
	ctx->id = ++m->next_context_id;
	ctx->calls.next_handle = EC_HANDLE_FIRST_REPLY;
	ctx->calls.abandoned = calls_abandoned;
	ctx->calls.owner = ctx;
	ctx->chans = (struct ec_channels){.m = m, .name = ctx->name, .st = &ctx->st,
	                                  .calls = &ctx->calls, .python_major = &ctx->python_major,
	                                  .fail = &ctx->fail};
	ctx->src.ops = &context_source_ops;
	ec__stream_init(&ctx->st, ctx->name, &m->logger, ctx->id, m->max_message, on_frame, ctx);
	ctx->st.lock = &m->lock;
	ctx->st.takes_content = takes_content;
	ctx->st.batch_handle = EC_HANDLE_CALL; /* calls queued together: one frame */
	ctx->st.batch_as = EC_HANDLE_CALLS;
	ctx->asker.name = ctx->name;
	ec__secret_asker_add(&m->secrets, &ctx->asker);
	ctx->master_next = m->contexts;
	m->contexts = ctx;
	*out = ctx;

	int rc = 0;
	for (size_t i = 0; overrides && overrides[i] && !rc; i++)
		rc = ec__cfg_override(ctx->cfg, overrides[i], err);
	const char *transport = NULL;
	if (!rc)
		rc = ec__cfg_str(ctx->cfg, "transport", &transport);
	if (rc && err && !err->code)
		ec__error_set(err, EC_ECONFIG, ec__cfg_where(ctx->cfg, NULL),
		              "context '%s' has no transport", name);
	const struct ec_loaded_plugin *tp = NULL;
	if (!rc)
		rc = ec__plugins_get(&m->plugins, transport, EC_PLUGIN_TRANSPORT, &tp, err);
	if (!rc)
		rc = ec__cfg_validate(ctx->cfg, tp->desc->params, transport, err);
	/* Its codec: its own `codec` key, else the master's (the top-level key). */
	const char *codec = NULL;
	ctx->codec = m->codec;
	if (!rc && ec__cfg_str(ctx->cfg, "codec", &codec) == 0 && codec &&
	    (rc = ec__plugins_get(&m->plugins, codec, EC_PLUGIN_CODEC, &ctx->codec, err))) {
		struct ec_error inner = err ? *err : (struct ec_error){0};
		ec__error_set(err, rc, ec__cfg_where(ctx->cfg, "codec"), "context '%s': %s", name,
		              inner.msg);
	}
	ctx->calls.codec = ctx->codec;
	ctx->chans.codec = ctx->codec;
	const char *python = NULL, *via = NULL;
	if (!rc)
		rc = ec__cfg_str(ctx->cfg, "python", &python);
	if (!rc)
		rc = ec__payload_argv(python, &ctx->st.argv, err);
	if (!rc) {
		ctx->top_ops = tp->desc->ops;
		ctx->has_below = ec__cfg_str(ctx->cfg, "via", &via) == 0 && via && *via;
	}
	return rc;
}

const char *ec_context_name(const ec_context *ctx)
{
	return ctx->name;
}

const char *ec_context_python_version(const ec_context *ctx)
{
	return ctx->python_version;
}

double ec_context_boot_seconds(const ec_context *ctx)
{
	return ctx->boot_seconds;
}

long ec_context_pid(const ec_context *ctx)
{
	return ctx->pid;
}

int ec__context_encode_call(struct ec_context *ctx, const char *module, const char *qualname,
                            const ec_value *args, const ec_value *kwargs, struct ec_buf *out,
                            struct ec_error *err)
{
	/* The tuple borrows args and kwargs: build it by hand and unlink before freeing. */
	ec_value *mod = ec_value_cstr(module), *qn = ec_value_cstr(qualname);
	ec_value empty_tuple = {.type = EC_T_TUPLE}, empty_dict = {.type = EC_T_DICT};
	ec_value *items[4] = {mod, qn, args ? (ec_value *)args : &empty_tuple,
	                      kwargs ? (ec_value *)kwargs : &empty_dict};
	ec_value call = {.type = EC_T_TUPLE, .u.seq = {.items = items, .len = 4, .cap = 4}};
	int rc;
	if ((!mod || !qn) && ec__utf8_valid(module, strlen(module)) &&
	    ec__utf8_valid(qualname, strlen(qualname)))
		rc = ec__error_set(err, EC_ENOMEM, ctx->name, "out of memory encoding a call");
	else if (!mod || !qn)
		rc = ec__error_set(err, EC_EINVAL, ctx->name, "module and function names must be UTF-8");
	else if ((args && args->type != EC_T_TUPLE && args->type != EC_T_LIST) ||
	         (kwargs && kwargs->type != EC_T_DICT))
		rc = ec__error_set(err, EC_EINVAL, ctx->name,
		                   "arguments must be a tuple or list, keyword arguments a dict");
	else {
		struct ec_codec_peer peer = {.python_major = ctx->python_major};
		rc = ec__codec_ops(ctx->codec)->encode(ctx->codec->state, &peer, &call, out, err);
		if (!rc && out->len > ctx->m->max_message)
			rc = ec__error_set(err, EC_EMSGSIZE, ctx->name,
			                   "call of %s.%s is %zu bytes, over the maximum message size "
			                   "of %zu bytes", module, qualname, out->len, ctx->m->max_message);
	}
	ec_value_free(mod);
	ec_value_free(qn);
	return rc;
}


int ec__context_queue_call(struct ec_context *ctx, struct ec_msg *msg, struct ec_call *call,
                           struct ec_error *err)
{
	if (ctx->st.state != EC_STREAM_READY || ctx->shutdown_requested)
		/* Out of memory it died of says so (ec__calls_fail). */
		return ec__error_set(err,
		                     !ctx->shutdown_requested && ctx->fail.code == EC_ENOMEM ? EC_ENOMEM
		                                                                              : EC_ECLOSED,
		                     ctx->name, "context '%s' is not connected%s%s", ctx->name,
		                     ctx->fail.msg[0] ? ": " : "", ctx->fail.msg);
	ec__call_register(&ctx->calls, call);
	msg->handle = EC_HANDLE_CALL;
	msg->reply_to = call->handle;
	ec__stream_queue(&ctx->st, msg);
	return 0;
}

int ec_context_call_async(ec_context *ctx, const char *module, const char *qualname,
                          const ec_value *args, const ec_value *kwargs, ec_call **out,
                          struct ec_error *err)
{
	ec_master *m = ctx->m;
	struct ec_call *call = NULL;
	struct ec_msg *msg = calloc(1, sizeof(*msg));
	if (!msg)
		return ec__error_set(err, EC_ENOMEM, ctx->name, "out of memory");
	int rc = ec__call_new(m, ctx->name, &call, err);
	if (!rc)
		rc = ec__context_encode_call(ctx, module, qualname, args, kwargs, &msg->payload, err);
	if (!rc) {
		pthread_mutex_lock(&m->lock);
		rc = ec__context_queue_call(ctx, msg, call, err);
		pthread_mutex_unlock(&m->lock);
	}
	if (rc) {
		ec__buf_free(&msg->payload);
		free(msg);
		if (call)
			ec__call_discard(call);
		return rc;
	}
	/* Wake after unlocking, so the loop does not wake into a held lock. */
	ec__broker_wake(m->broker);
	*out = call;
	return 0;
}

int ec_context_call(ec_context *ctx, const char *module, const char *qualname,
                    const ec_value *args, const ec_value *kwargs, int timeout_ms,
                    ec_value **result, struct ec_error *err)
{
	ec_call *call = NULL;
	if (ec__calls_busy(ctx, ctx->name, "a call", err))
		return EC_EINVAL; /* its wait would be: refused before anything is sent */
	int rc = ec_context_call_async(ctx, module, qualname, args, kwargs, &call, err);
	if (rc)
		return rc;
	rc = ec_call_wait(call, timeout_ms, result, err);
	ec_call_free(call);
	return rc;
}

void ec__context_request_shutdown(struct ec_context *ctx, int timeout_ms)
{
	ec_master *m = ctx->m;
	if (ctx->shutdown_requested)
		return;
	if (timeout_ms <= 0)
		timeout_ms = 5000;
	if (ctx->st.state == EC_STREAM_READY) {
		struct ec_msg *msg = calloc(1, sizeof(*msg));
		struct ec_value none = {.type = EC_T_NONE};
		struct ec_codec_peer peer = {.python_major = ctx->python_major};
		const struct ec_loaded_plugin *c = ctx->codec;
		if (msg && ec__codec_ops(c)->encode(c->state, &peer, &none, &msg->payload, NULL) == 0) {
			msg->handle = EC_HANDLE_SHUTDOWN;
			ec__stream_queue(&ctx->st, msg);
		} else {
			/* Out of memory: no SHUTDOWN to wait for, so no grace either (the
			 * stream is closed at once; the context exits on its end). */
			if (msg)
				ec__buf_free(&msg->payload);
			free(msg);
			timeout_ms = 1;
			ctx->shutdown_unsent = 1;
		}
	}
	ctx->shutdown_requested = 1;
	if (ctx->attached && ctx->st.state != EC_STREAM_DEAD) {
		ctx->close_deadline = ec__now_ms() + timeout_ms;
		ec__broker_wake(m->broker);
	}
}
int ec_context_shutdown(ec_context *ctx, int timeout_ms, struct ec_error *err)
{
	if (!ctx)
		return 0;
	ec_master *m = ctx->m;
	int rc = 0;
	pthread_mutex_lock(&m->lock);
	ec__context_request_shutdown(ctx, timeout_ms);
	while (ctx->attached && !ctx->detached)
		pthread_cond_wait(&ctx->cond, &m->lock);
	if ((ctx->fail.code == EC_ETIMEDOUT || ctx->shutdown_unsent) && ctx->close_deadline) {
		rc = ctx->fail.code ? ctx->fail.code : EC_ENOMEM;
		if (err)
			*err = ctx->fail;
	}
	ec__context_free(ctx);
	pthread_mutex_unlock(&m->lock);
	return rc;
}
