/* context.c: a context's life: connect (spawn, boot, hello), calls, logs, shutdown.
 * Functions named ec__context_* run on the broker thread; ec_context_* and ec_call_*
 * are the API, on application threads. Both hold m->lock while touching shared state. */
#include "ecbuild.h"

#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "broker.h"
#include "child.h"
#include "codecache.h"
#include "direct.h"
#include "reaper.h"
#include "context.h"
#include "econtext/codec.h"
#include "error.h"
#include "modules.h"
#include "payload.h"
#include "transport.h"
#include "value.h"

#define READY_MARKER "ECREADY\n"
#define READY_MARKER_LEN 8
/* The first stage's "running, about to read" line (docs/protocol.md 1). A transport
 * that waits for it (sudo) consumes it; otherwise it is taken out of the boot output
 * here, so that it never shows in logs or error messages. Same length as
 * READY_MARKER: the bytes held back while looking for one cover the other. */
#define BOOT_MARKER "ECBOOT0\n"
#define BOOT_MARKER_LEN 8
#define READ_CHUNK 65536
/* A reply at least this large is handed to its call in the read buffer it arrived in
 * rather than copied out of it. */
#define TAKE_MIN READ_CHUNK
/* How long an empty read buffer is kept for the next frame: back-to-back large
 * frames reuse it; an idle context holds none. */
#define RBUF_IDLE_MS 1000

static const struct ec_codec_ops *codec_ops(const ec_master *m)
{
	return m->codec->desc->ops;
}

/* ---- broker side ------------------------------------------------------------- */

static void bootlog_add(struct ec_context *ctx, const char *s, size_t n)
{
	if (n >= sizeof(ctx->bootlog)) {
		s += n - (sizeof(ctx->bootlog) - 1);
		n = sizeof(ctx->bootlog) - 1;
	}
	size_t room = sizeof(ctx->bootlog) - 1 - ctx->bootlog_len;
	if (n > room) {
		size_t drop = n - room;
		memmove(ctx->bootlog, ctx->bootlog + drop, ctx->bootlog_len - drop);
		ctx->bootlog_len -= drop;
	}
	memcpy(ctx->bootlog + ctx->bootlog_len, s, n);
	ctx->bootlog_len += n;
	ctx->bootlog[ctx->bootlog_len] = '\0';
}

/* Boot output, a line at a time, to the transport (which may answer a prompt) and to
 * the debug log. */
static int boot_output(struct ec_context *ctx, const char *s, size_t n, struct ec_error *err)
{
	bootlog_add(ctx, s, n);
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		int eol = c == '\n';
		if (!eol && ctx->boot_line_len < sizeof(ctx->boot_line) - 1)
			ctx->boot_line[ctx->boot_line_len++] = c;
		if (eol || ctx->boot_line_len == sizeof(ctx->boot_line) - 1) {
			ctx->boot_line[ctx->boot_line_len] = '\0';
			ec__log(&ctx->m->logger, EC_LOG_DEBUG, "econtext.boot", ctx->name, "%s: %s",
			        ctx->name, ctx->boot_line);
			if (ctx->transport->ops->on_boot_output) {
				int rc = ctx->transport->ops->on_boot_output(
					ctx->transport->inst, ctx->boot_line, ctx->boot_line_len, err);
				if (rc)
					return rc;
			}
			ctx->boot_line_len = 0;
		}
	}
	/* A prompt has no newline: offer the partial line too. */
	if (ctx->boot_line_len && ctx->transport->ops->on_boot_output) {
		ctx->boot_line[ctx->boot_line_len] = '\0';
		return ctx->transport->ops->on_boot_output(ctx->transport->inst, ctx->boot_line,
		                                          ctx->boot_line_len, err);
	}
	return 0;
}

/* A call leaves ctx->calls (m->lock held): no reply will be matched to it. */
static void call_unregistered(ec_master *m, struct ec_call *c)
{
	c->registered = 0;
	__atomic_sub_fetch(&m->in_flight, 1, __ATOMIC_RELAXED);
}

static void fail_calls(struct ec_context *ctx, const struct ec_error *why)
{
	for (struct ec_call *c = ctx->calls; c;) {
		struct ec_call *next = c->next;
		call_unregistered(ctx->m, c);
		c->next = NULL;
		pthread_mutex_lock(&c->lock);
		c->rc = EC_ECLOSED;
		ec__error_set(&c->err, EC_ECLOSED, ctx->name, "context '%s' disconnected%s%s",
		              ctx->name, why && why->msg[0] ? ": " : "", why ? why->msg : "");
		__atomic_store_n(&c->done, 1, __ATOMIC_RELEASE);
		pthread_cond_signal(&c->cond);
		pthread_mutex_unlock(&c->lock);
		c = next;
	}
	ctx->calls = NULL;
}

void ec__context_die(struct ec_context *ctx, const struct ec_error *why, int grace_ms)
{
	if (ctx->state == EC_CTX_DEAD)
		return;
	if (why && why->code) {
		ctx->fail = *why;
		if (ctx->state == EC_CTX_READY)
			ec__log(&ctx->m->logger, EC_LOG_ERROR, "econtext", ctx->name, "context %s: %s",
			        ctx->name, why->msg);
	}
	ctx->state = EC_CTX_DEAD;
	/* First: a direct boot's interpreter may wait on its stdin (close then waits). */
	ec__direct_free(ctx->direct);
	ctx->direct = NULL;
	ec__modsrv_forget(ctx->m->modules, ctx->id);
	ec__reaper_closing(ctx); /* the children its transport hands the reaper are its */
	ec__transport_stack_close(ctx->transport, grace_ms);
	ec__reaper_closing(NULL);
	fail_calls(ctx, why);
	for (struct ec_msg *q = ctx->outq; q;) {
		struct ec_msg *next = q->next;
		ec__buf_free(&q->payload);
		free(q);
		q = next;
	}
	ctx->outq = NULL;
	ctx->outq_tail = &ctx->outq;
	ec__buf_free(&ctx->rbuf);
	ec__buf_free(&ctx->wbuf);
	ec__frame_mac_close(&ctx->mac_in);
	ec__frame_mac_close(&ctx->mac_out);
	pthread_cond_broadcast(&ctx->cond);
}

static void die_boot(struct ec_context *ctx, int code, const char *what)
{
	struct ec_error e = {0};
	/* Quote the tail of what the command printed: "python9: not found" and the like. */
	const char *out = ctx->bootlog;
	while (*out == '\n' || *out == ' ')
		out++;
	size_t len = strlen(out);
	while (len && (out[len - 1] == '\n' || out[len - 1] == '\r' || out[len - 1] == ' '))
		len--;
	if (len > 300) {
		out += len - 300;
		len = 300;
	}
	ec__error_set(&e, code, ctx->name, "context '%s' %s%s%.*s", ctx->name, what,
	              len ? "; it printed: " : " and printed nothing", (int)len, out);
	ec__context_die(ctx, &e, 0);
}

/* Frame every queued message into the write buffer. */
static int flush_queue(struct ec_context *ctx, struct ec_error *err)
{
	while (ctx->outq) {
		struct ec_msg *q = ctx->outq;
		struct ec_frame_hdr h = {
			.dst = ctx->id,
			.src = 0,
			.handle = q->handle,
			.reply_to = q->reply_to,
			.length = (uint32_t)q->payload.len,
		};
		if (ec__frame_encode(&ctx->mac_out, &h, q->payload.data, &ctx->wbuf))
			return ec__error_set(err, EC_ENOMEM, ctx->name, "out of memory framing a message");
		ctx->outq = q->next;
		if (!ctx->outq)
			ctx->outq_tail = &ctx->outq;
		ec__buf_free(&q->payload);
		free(q);
	}
	return 0;
}

static int do_write(struct ec_context *ctx, struct ec_error *err)
{
	while (ctx->wbuf.len) {
		ssize_t n = ctx->transport->ops->send(ctx->transport->inst, ctx->wbuf.data, ctx->wbuf.len,
		                                     &ctx->ps, err);
		if (n == EC_EAGAIN)
			return 0;
		if (n < 0 && ctx->state < EC_CTX_READY) {
			/* The command went away while we wrote its payload: what it printed
			 * (read until end of stream) is a better error than EPIPE. */
			ctx->wbuf.len = 0;
			return 0;
		}
		if (n < 0)
			return (int)n;
		ec__buf_consume(&ctx->wbuf, (size_t)n);
	}
	ec__buf_free(&ctx->wbuf); /* all written: hold nothing while idle */
	return 0;
}

/* A direct boot's start: the interpreter spawned here, handed to the transport. */
static int start_direct(struct ec_context *ctx, struct ec_error *err)
{
	char argv0[600];
	pid_t pid;
	int fd;
	ec__payload_argv0(argv0, sizeof(argv0));
	int rc = ec__direct_spawn(ctx->direct, ctx->name, argv0, &pid, &fd, err);
	if (!rc && (rc = ctx->transport->ops->adopt(ctx->transport->inst, pid, fd, err))) {
		close(fd);
		ec__child_reap(pid, 0, -1);
	}
	if (!rc)
		ec__log(&ctx->m->logger, EC_LOG_DEBUG, "econtext", ctx->name,
		        "context %s: direct boot of %s (pid %ld, %s)", ctx->name, ctx->direct->path,
		        (long)pid, ctx->direct->entry);
	return rc;
}

/* The top layer's start, for ctx (a secret a layer asks for is asked for ctx), with
 * the layer's own timer and the pause of the boot deadline while a secret is asked. */
static int start(struct ec_context *ctx, long long now, struct ec_error *err)
{
	ec_master *m = ctx->m;
	m->secrets.current = ctx;
	ctx->secret_wait = NULL;
	ctx->ps.timeout_ms = 0;
	int rc = ctx->direct ? start_direct(ctx, err)
	                     : ctx->transport->ops->start(ctx->transport->inst, &ctx->argv, &ctx->ps, err);
	m->secrets.current = NULL;
	ctx->start_wake = rc == EC_EAGAIN && ctx->ps.timeout_ms > 0 ? now + ctx->ps.timeout_ms : 0;
	if (ctx->secret_wait && !ctx->secret_since) {
		ctx->secret_since = now;
		pthread_cond_broadcast(&ctx->cond); /* its thread asks the application */
	} else if (!ctx->secret_wait && ctx->secret_since) {
		if (ctx->boot_deadline)
			ctx->boot_deadline += now - ctx->secret_since;
		ctx->secret_since = 0;
	}
	return rc;
}

void ec__context_prepare(struct ec_context *ctx, long long now, struct ec_pollset *ps,
                         long long *next_deadline)
{
	struct ec_error err = {0};
	if (ctx->state == EC_CTX_DEAD)
		return;
	if (ctx->stream_err.code) {
		ec__context_die(ctx, &ctx->stream_err, 0);
		return;
	}
	if (ctx->state == EC_CTX_NEW) {
		ctx->state = EC_CTX_STARTING;
		ctx->started_ms = now;
	}
	if (ctx->state == EC_CTX_STARTING) {
		int rc = start(ctx, now, &err);
		if (!ctx->start_tried) {
			ctx->start_tried = 1;
			pthread_cond_broadcast(&ctx->cond); /* the connecting thread builds the stream */
		}
		if (rc == 0) {
			ctx->state = EC_CTX_BOOTING;
		} else if (rc == EC_EAGAIN) {
			/* A transport may say what it is waiting for (sudo: what sudo printed);
			 * quoted if the connection times out before start succeeds. */
			if (err.msg[0])
				snprintf(ctx->start_note, sizeof(ctx->start_note), "%s", err.msg);
			err = (struct ec_error){0};
		} else {
			ec__error_prefix(&err, "cannot start context '%s'", ctx->name);
			ec__context_die(ctx, &err, 0);
			return;
		}
	}
	if (ctx->state == EC_CTX_READY && flush_queue(ctx, &err)) {
		ec__context_die(ctx, &err, 0);
		return;
	}
	if (ctx->state >= EC_CTX_BOOTING && ctx->direct && !ctx->stream_pending) {
		int rc = ec__direct_feed(ctx->direct, ctx->name, &err);
		ec__direct_free(ctx->direct);
		ctx->direct = NULL;
		if (rc) {
			ec__context_die(ctx, &err, 0);
			return;
		}
	}
	if (ctx->state >= EC_CTX_BOOTING && ctx->wbuf.len) {
		int rc = do_write(ctx, &err);
		if (rc) {
			ec__context_die(ctx, &err, 0);
			return;
		}
	}
	if (ctx->state != EC_CTX_READY && ctx->boot_deadline && !ctx->secret_since &&
	    now >= ctx->boot_deadline) {
		char what[96];
		snprintf(what, sizeof(what), "did not start within %.1f s",
		         (double)ctx->connect_ms / 1000.0);
		if (ctx->state == EC_CTX_STARTING && ctx->start_note[0]) {
			struct ec_error e = {0};
			ec__error_set(&e, EC_ETIMEDOUT, ctx->name, "context '%s' %s: %s", ctx->name,
			              what, ctx->start_note);
			ec__context_die(ctx, &e, 0);
		} else {
			die_boot(ctx, EC_ETIMEDOUT, what);
		}
		return;
	}
	if (ctx->close_deadline && now >= ctx->close_deadline) {
		struct ec_error e = {0};
		ec__error_set(&e, EC_ETIMEDOUT, ctx->name,
		              "context '%s' did not exit in time; disconnected by force", ctx->name);
		ec__log(&ctx->m->logger, EC_LOG_WARNING, "econtext", ctx->name, "%s", e.msg);
		ec__context_die(ctx, &e, 0);
		return;
	}
	if (ctx->rbuf_idle_ms && now >= ctx->rbuf_idle_ms) {
		if (!ctx->rbuf.len)
			ec__buf_free(&ctx->rbuf);
		ctx->rbuf_idle_ms = 0;
	}
	if (ctx->rbuf_idle_ms && (!*next_deadline || ctx->rbuf_idle_ms < *next_deadline))
		*next_deadline = ctx->rbuf_idle_ms;
	if (ctx->state != EC_CTX_READY && ctx->boot_deadline && !ctx->secret_since &&
	    (!*next_deadline || ctx->boot_deadline < *next_deadline))
		*next_deadline = ctx->boot_deadline;
	if (ctx->state == EC_CTX_STARTING && ctx->start_wake &&
	    (!*next_deadline || ctx->start_wake < *next_deadline))
		*next_deadline = ctx->start_wake;
	if (ctx->close_deadline && (!*next_deadline || ctx->close_deadline < *next_deadline))
		*next_deadline = ctx->close_deadline;

	if (ctx->state == EC_CTX_STARTING) {
		*ps = ctx->ps;
		return;
	}
	ctx->transport->ops->pollset(ctx->transport->inst, ps);
	ps->events = EC_POLL_IN | (ctx->wbuf.len ? EC_POLL_OUT : 0);
}

static int on_hello(struct ec_context *ctx, const struct ec_frame_hdr *h, const unsigned char *p,
                    struct ec_error *err)
{
	ec_value *v = NULL;
	int rc = codec_ops(ctx->m)->decode(ctx->m->codec->state, p, h->length, &v, err);
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
	ctx->state = EC_CTX_READY;
	ctx->boot_deadline = 0;
	ec__log(&ctx->m->logger, EC_LOG_DEBUG, "econtext", ctx->name,
	        "context %s ready: python %s, pid %ld, %.3f s", ctx->name, ctx->python_version,
	        ctx->pid, ctx->boot_seconds);
	pthread_cond_broadcast(&ctx->cond);
	return 0;
}

static int on_log(struct ec_context *ctx, const struct ec_frame_hdr *h, const unsigned char *p,
                  struct ec_error *err)
{
	ec_value *v = NULL;
	int rc = codec_ops(ctx->m)->decode(ctx->m->codec->state, p, h->length, &v, err);
	if (rc)
		return rc;
	if (v->type != EC_T_TUPLE || v->u.seq.len != 3 || v->u.seq.items[1]->type != EC_T_INT) {
		ec_value_free(v);
		return ec__error_set(err, EC_EPROTO, ctx->name, "malformed LOG from context '%s'",
		                     ctx->name);
	}
	const ec_value *name = v->u.seq.items[0], *msg = v->u.seq.items[2];
	char logger[256];
	if ((name->type == EC_T_STR || name->type == EC_T_BYTES) && name->u.s.len &&
	    strcmp(name->u.s.data, "root") != 0)
		snprintf(logger, sizeof(logger), "econtext.ctx.%s.%s", ctx->name, name->u.s.data);
	else
		snprintf(logger, sizeof(logger), "econtext.ctx.%s", ctx->name);
	const char *text = (msg->type == EC_T_STR || msg->type == EC_T_BYTES) ? msg->u.s.data : "?";
	struct timeval tv;
	gettimeofday(&tv, NULL);
	struct ec_log_record rec = {
		.level = (int)v->u.seq.items[1]->u.i,
		.logger = logger,
		.context = ctx->name,
		.message = text,
		.time = (double)tv.tv_sec + tv.tv_usec / 1e6,
	};
	ec__log_record(&ctx->m->logger, &rec);
	ec_value_free(v);
	return 0;
}

/* A large reply that starts the read buffer becomes the call's reply buffer as it is
 * (its payload at reply_off); the read buffer keeps, in new memory, only what followed
 * the frame. 0 when taken; otherwise the caller copies. */
static int take_rbuf(struct ec_context *ctx, const struct ec_frame_hdr *h,
                     const unsigned char *p, struct ec_call *c)
{
	size_t frame = EC_FRAME_HEADER_LEN + (size_t)h->length + EC_FRAME_MAC_LEN;
	if (h->length < TAKE_MIN || p != ctx->rbuf.data + EC_FRAME_HEADER_LEN)
		return -1;
	struct ec_buf rest;
	ec__buf_init(&rest);
	if (ec__buf_append(&rest, ctx->rbuf.data + frame, ctx->rbuf.len - frame))
		return -1;
	ec__buf_free(&c->reply);
	c->reply = ctx->rbuf;
	c->reply.len = EC_FRAME_HEADER_LEN + (size_t)h->length;
	c->reply_off = EC_FRAME_HEADER_LEN;
	ctx->rbuf = rest;
	ctx->rbuf_taken = 1;
	return 0;
}

static int on_reply(struct ec_context *ctx, const struct ec_frame_hdr *h, const unsigned char *p,
                    struct ec_error *err)
{
	for (struct ec_call **pp = &ctx->calls; *pp; pp = &(*pp)->next) {
		struct ec_call *c = *pp;
		if (c->handle != h->handle)
			continue;
		*pp = c->next;
		c->next = NULL;
		call_unregistered(ctx->m, c);
		long long took = ec__now_us() - c->queued_us;
		__atomic_store_n(&ctx->m->last_reply_us, took > INT_MAX ? INT_MAX : (int)took,
		                 __ATOMIC_RELAXED);
		pthread_mutex_lock(&c->lock);
		if (!take_rbuf(ctx, h, p, c)) {
			/* the frame went with the buffer */
		} else if (ec__buf_append(&c->reply, p, h->length)) {
			c->rc = EC_ENOMEM;
			ec__error_set(&c->err, EC_ENOMEM, ctx->name, "out of memory receiving a reply");
		}
		/* The wake's reference first: once done is set and the lock released, the
		 * caller may free the call (it need not wait for the signal). */
		ec__broker_defer_wake(ctx->m->broker, c);
		__atomic_store_n(&c->done, 1, __ATOMIC_RELEASE);
		pthread_mutex_unlock(&c->lock);
		return 0;
	}
	if (h->handle < ctx->next_handle)
		return 0; /* the caller gave up on it: drop */
	return ec__error_set(err, EC_EPROTO, ctx->name,
	                     "context '%s' sent a frame to unknown handle %lu; closing the stream",
	                     ctx->name, (unsigned long)h->handle);
}

static int on_frame(struct ec_context *ctx, const struct ec_frame_hdr *h, const unsigned char *p,
                    struct ec_error *err)
{
	if (h->src != ctx->id || h->dst != 0)
		return ec__error_set(err, EC_EPROTO, ctx->name,
		                     "context '%s' sent a frame from %lu to %lu; closing the stream",
		                     ctx->name, (unsigned long)h->src, (unsigned long)h->dst);
	if (ctx->state == EC_CTX_HELLO) {
		if (h->handle != EC_HANDLE_HELLO)
			return ec__error_set(err, EC_EPROTO, ctx->name,
			                     "context '%s' sent handle %lu before HELLO", ctx->name,
			                     (unsigned long)h->handle);
		return on_hello(ctx, h, p, err);
	}
	if (h->handle == EC_HANDLE_LOG)
		return on_log(ctx, h, p, err);
	if (h->handle == EC_HANDLE_GET_MODULE)
		return ec__modules_on_get(ctx, h, p, err);
	if (h->handle >= EC_HANDLE_FIRST_REPLY)
		return on_reply(ctx, h, p, err);
	return ec__error_set(err, EC_EPROTO, ctx->name,
	                     "context '%s' sent a frame to unknown handle %lu; closing the stream",
	                     ctx->name, (unsigned long)h->handle);
}

/* Consume what rbuf holds: boot output up to the marker, then frames. */
static int process_input(struct ec_context *ctx, struct ec_error *err)
{
	size_t off = 0;
	if (ctx->state == EC_CTX_BOOTING && !ctx->boot_marker_seen) {
		unsigned char *bm = memmem(ctx->rbuf.data, ctx->rbuf.len, BOOT_MARKER, BOOT_MARKER_LEN);
		if (bm) {
			size_t at = (size_t)(bm - ctx->rbuf.data);
			int rc = boot_output(ctx, (const char *)ctx->rbuf.data, at, err);
			if (rc)
				return rc;
			ec__buf_consume(&ctx->rbuf, at + BOOT_MARKER_LEN);
			ctx->boot_marker_seen = 1;
		}
	}
	if (ctx->state == EC_CTX_BOOTING) {
		/* Before its stream, the interpreter cannot be ready: a marker then is output. */
		unsigned char *hit = ctx->stream_pending ? NULL
		                     : memmem(ctx->rbuf.data, ctx->rbuf.len, READY_MARKER, READY_MARKER_LEN);
		size_t upto = hit ? (size_t)(hit - ctx->rbuf.data)
		                  : (ctx->rbuf.len > READY_MARKER_LEN - 1 ? ctx->rbuf.len - (READY_MARKER_LEN - 1) : 0);
		int rc = boot_output(ctx, (const char *)ctx->rbuf.data, upto, err);
		if (rc)
			return rc;
		if (!hit) {
			ec__buf_consume(&ctx->rbuf, upto);
			return 0;
		}
		off = upto + READY_MARKER_LEN;
		ctx->state = EC_CTX_HELLO;
	}
	ctx->rframe = 0;
	while (ctx->state == EC_CTX_HELLO || ctx->state == EC_CTX_READY) {
		struct ec_frame_hdr h;
		const unsigned char *payload;
		size_t used;
		int rc = ec__frame_decode(&ctx->mac_in, ctx->rbuf.data + off, ctx->rbuf.len - off,
		                          ctx->m->max_message, ctx->name, &h, &payload, &used, err);
		if (rc < 0)
			return rc;
		if (rc == 0) {
			ctx->rframe = used; /* at the start of rbuf once consumed */
			break;
		}
		rc = on_frame(ctx, &h, payload, err);
		if (rc)
			return rc;
		if (ctx->rbuf_taken) { /* what followed the frame is at the start of a new rbuf */
			ctx->rbuf_taken = 0;
			off = 0;
			continue;
		}
		off += used;
	}
	ec__buf_consume(&ctx->rbuf, off);
	return 0;
}

void ec__context_on_io(struct ec_context *ctx, int events)
{
	struct ec_error err = {0};
	if (ctx->state == EC_CTX_STARTING)
		return; /* prepare() retries start() */
	if (events & EC_POLL_OUT) {
		int rc = do_write(ctx, &err);
		if (rc) {
			ec__context_die(ctx, &err, 0);
			return;
		}
	}
	if (!(events & EC_POLL_IN))
		return;
	for (int rounds = 0; rounds < 16; rounds++) {
		/* Room for the rest of a frame of known size, exactly (a 16 MiB frame takes
		 * 16 MiB, not the next power of two), else for a chunk. */
		size_t want = ctx->rframe > ctx->rbuf.len ? ctx->rframe - ctx->rbuf.len : READ_CHUNK;
		if (ec__buf_reserve_exact(&ctx->rbuf, want)) {
			ec__error_set(&err, EC_ENOMEM, ctx->name, "out of memory reading");
			ec__context_die(ctx, &err, 0);
			return;
		}
		ssize_t n = ctx->transport->ops->recv(ctx->transport->inst, ctx->rbuf.data + ctx->rbuf.len,
		                                     ctx->rbuf.cap - ctx->rbuf.len, &ctx->ps, &err);
		if (n == EC_EAGAIN)
			return;
		if (n < 0 || n == 0) {
			if (ctx->state < EC_CTX_READY) {
				process_input(ctx, &err); /* keep the last words for the message */
				/* with the tail held back while looking for the marker */
				if (ctx->state == EC_CTX_BOOTING && ctx->rbuf.len)
					boot_output(ctx, (const char *)ctx->rbuf.data, ctx->rbuf.len, &err);
				boot_output(ctx, "", 0, &err);
				die_boot(ctx, EC_EBOOT, n == 0 ? "exited before it was ready"
				                               : "failed before it was ready");
			} else if (n == 0) {
				ec__context_die(ctx, ctx->shutdown_requested ? NULL : &(struct ec_error){
					.code = EC_ECLOSED, .msg = "the stream ended (the context exited)"}, 2000);
			} else {
				ec__context_die(ctx, &err, 0);
			}
			return;
		}
		ctx->rbuf.len += (size_t)n;
		int rc = process_input(ctx, &err);
		if (rc) {
			if (ctx->state < EC_CTX_READY && ctx->state != EC_CTX_HELLO) {
				ec__error_prefix(&err, "context '%s' failed to start", ctx->name);
			}
			ec__context_die(ctx, &err, 0);
			return;
		}
		if ((size_t)n < (want < READ_CHUNK ? want : READ_CHUNK) / 2)
			break;
	}
	/* An idle context holds no read buffer (memory grows with traffic, not the fleet):
	 * an empty one is freed once no frame came for RBUF_IDLE_MS (prepare). */
	if (ctx->rbuf.cap)
		ctx->rbuf_idle_ms = ec__now_ms() + RBUF_IDLE_MS;
}

/* ---- application side -------------------------------------------------------- */

static void context_free(struct ec_context *ctx)
{
	ec_master *m = ctx->m;
	for (struct ec_context **pp = &m->contexts; *pp; pp = &(*pp)->master_next)
		if (*pp == ctx) {
			*pp = ctx->master_next;
			break;
		}
	ec__transport_stack_free(ctx->transport);
	ec__direct_free(ctx->direct);
	ec__argv_free(&ctx->argv);
	ec__cfg_free(ctx->cfg);
	pthread_cond_destroy(&ctx->cond);
	free(ctx->share_key);
	free(ctx->name);
	free(ctx);
}

/* Wait on cond until the absolute monotonic deadline (0 = forever). 1 on timeout. */
static int wait_until(pthread_cond_t *cond, pthread_mutex_t *lock, long long deadline)
{
	if (!deadline) {
		pthread_cond_wait(cond, lock);
		return 0;
	}
	long long now = ec__now_ms();
	if (now >= deadline)
		return 1;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	long long ms = deadline - now;
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	return pthread_cond_timedwait(cond, lock, &ts) == ETIMEDOUT && ec__now_ms() >= deadline;
}

static int cond_init_monotonic(pthread_cond_t *c)
{
	pthread_condattr_t a;
	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	int rc = pthread_cond_init(c, &a);
	pthread_condattr_destroy(&a);
	return rc;
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

static int context_create(ec_master *m, const char *name, const char *const *overrides,
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
	if (!ctx || !dup || !(ctx->name = strdup(name)) || cond_init_monotonic(&ctx->cond)) {
		ec__cfg_free(dup);
		if (ctx)
			free(ctx->name);
		free(ctx);
		return ec__error_set(err, EC_ENOMEM, name, "out of memory");
	}
	ctx->cfg = dup;
	ctx->m = m;
	ctx->outq_tail = &ctx->outq;
	ctx->next_handle = EC_HANDLE_FIRST_REPLY;
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
	const char *python = NULL;
	if (!rc)
		rc = ec__cfg_str(ctx->cfg, "python", &python);
	if (!rc)
		rc = ec__payload_argv(python, &ctx->argv, err);
	if (!rc)
		rc = ec__transport_stack_new(m, ctx->name, ctx->cfg, &ctx->argv, &ctx->transport, err);
	return rc;
}

/* The core's bytecode shared in memory between contexts of one name (below). */
static char *share_key_of(const char *name, const char *const *overrides);
static int share_get(struct ec_context *ctx, struct ec_buf *code);
static void share_drop(struct ec_context *ctx);

struct ec_cache_fill {
	char name[EC_CODECACHE_NAME_MAX];
	struct ec_cache_fill *next;
};

struct cache_use {
	int read;     /* may boot from the cache */
	int shared;   /* the hit is from memory (another context of the same name) */
	char name[EC_CODECACHE_NAME_MAX];
	int hit;      /* the stream carries the cached core */
	int may_fill; /* the transport runs the interpreter here as the master's user */
	int fill;     /* a miss to fill once the context is up */
	/* Direct boots (core/direct.h): may boot directly; did; its entry; a first-stage
	 * boot whose facts to keep once the context is up. */
	int direct_ok, direct;
	char direct_entry[EC_CODECACHE_NAME_MAX];
	int boot_fill;
};

/* A direct boot is for a context whose only layer runs the interpreter here as the
 * master's user and can adopt it (ec_transport_ops.adopt), with the cache on. */
static const char *direct_python(const struct ec_context *ctx)
{
	const struct ec_transport_ops *o = ctx->transport->ops;
	const char *python = NULL;
	if (ctx->transport->below ||
	    o->size < offsetof(struct ec_transport_ops, adopt) + sizeof(o->adopt) || !o->adopt ||
	    o->runs != EC_RUNS_HERE_AS_MASTER || !ec__config_code_cache(ctx->m->config) ||
	    ec__cfg_str(ctx->cfg, "python", &python))
		return NULL;
	return python;
}

/* After a first-stage boot that may boot directly next time: keep what the first stage
 * found (econtext.boot_info), as the bytecode is kept. Failure costs the next boot only
 * its speed. */
static void boot_entry_fill(struct ec_context *ctx, const char *python)
{
	char name[EC_CODECACHE_NAME_MAX], path[PATH_MAX], why[512] = "";
	if (ec__direct_name(python, name, path))
		return;
	ec_value *res = NULL;
	struct ec_error e = {0};
	int rc = ec_context_call(ctx, "econtext", "boot_info", NULL, NULL, 10000, &res, &e);
	const ec_value *boot = NULL, *home = NULL;
	if (!rc && res && (res->type == EC_T_TUPLE || res->type == EC_T_LIST) &&
	    res->u.seq.len == 2) {
		boot = res->u.seq.items[0];
		home = res->u.seq.items[1];
	}
	if (boot && boot->type == EC_T_STR &&
	    (home->type == EC_T_NONE || home->type == EC_T_BYTES || home->type == EC_T_STR) &&
	    !ec__direct_store(name, boot->u.s.data, boot->u.s.len,
	                      home->type == EC_T_NONE ? NULL : home->u.s.data,
	                      home->type == EC_T_NONE ? 0 : home->u.s.len, why, sizeof(why)))
		ec__log(&ctx->m->logger, EC_LOG_DEBUG, "econtext", ctx->name,
		        "context %s: its next boot may be direct (%s)", ctx->name, name);
	else
		ec__log(&ctx->m->logger, EC_LOG_DEBUG, "econtext", ctx->name,
		        "context %s: no direct boot entry: %s", ctx->name,
		        rc ? e.msg : *why ? why : "not a boot description");
	ec_value_free(res);
}

/* The bytecode cache (core/codecache.h), as the transport says where the interpreter
 * runs (ec_transport_ops.runs). As the master's user on this machine, the binary named
 * by `python` is the one that runs and what it compiles can be trusted: it reads and
 * fills. As another user on this machine (sudo) it may only read, and only with an
 * absolute `python` (that user's PATH may differ): that user's bytecode could reach
 * the master's other contexts, while what the master's user compiled is no more than
 * the master could send it anyway. *fill says which. */
static int code_cache_name(const struct ec_context *ctx, char name[EC_CODECACHE_NAME_MAX],
                           int *fill)
{
	const struct ec_transport_ops *o = ctx->transport->ops;
	unsigned runs = !ctx->transport->below &&
	                        o->size >= offsetof(struct ec_transport_ops, runs) + sizeof(o->runs)
	                    ? o->runs
	                    : 0;
	const char *python = NULL;
	if (!runs || !ec__config_code_cache(ctx->m->config) ||
	    ec__cfg_str(ctx->cfg, "python", &python) || !python ||
	    (runs != EC_RUNS_HERE_AS_MASTER && python[0] != '/'))
		return -1;
	*fill = runs == EC_RUNS_HERE_AS_MASTER;
	return ec__codecache_name(python, name);
}

/* A miss: have the fresh context send the core's code object, which it compiled
 * to boot (marshalling it takes a fraction of a millisecond). Failure only costs
 * the next boot its speed. */
static void code_cache_fill(struct ec_context *ctx, const char *name)
{
	ec_value *res = NULL;
	struct ec_error e = {0};
	int rc = ec_context_call(ctx, "econtext", "core_code", NULL, NULL, 10000, &res, &e);
	char why[512] = "";
	if (!rc && res && res->type == EC_T_BYTES &&
	    !ec__codecache_store(name, (const unsigned char *)res->u.s.data, res->u.s.len, why,
	                         sizeof(why)))
		ec__log(&ctx->m->logger, EC_LOG_DEBUG, "econtext", ctx->name,
		        "context %s: core bytecode kept in the cache as %s", ctx->name, name);
	else
		ec__log(&ctx->m->logger, EC_LOG_DEBUG, "econtext", ctx->name,
		        "context %s: core bytecode not cached: %s", ctx->name,
		        rc ? e.msg : *why ? why : "not bytes");
	ec_value_free(res);
}

/* The stream (docs/protocol.md 1) for ctx: the key, the MACs and the payload with the
 * core, from the bytecode cache where it has it, into the caller's mac_in, mac_out and
 * stream (for a direct boot, prog and code instead). Runs while the interpreter starts: OpenSSL's first use (~2 ms of provider
 * set-up) and the cache's file read cost the boot nothing then. */
static int build_stream(struct ec_context *ctx, struct ec_frame_mac *mac_in,
                        struct ec_frame_mac *mac_out, struct ec_buf *stream,
                        struct ec_buf *prog, struct ec_buf *code, struct cache_use *cache,
                        struct ec_error *err)
{
	ec_master *m = ctx->m;
	unsigned char key[EC_FRAME_KEY_LEN];
	/* The kernel's CSPRNG: OpenSSL's DRBG would cost ~2 ms of set-up in a short-lived
	 * master for the same quality. */
	if (getrandom(key, sizeof(key), 0) != (ssize_t)sizeof(key) &&
	    RAND_bytes(key, sizeof(key)) != 1)
		return ec__error_set(err, EC_ESYS, ctx->name,
		                     "cannot draw a random key (getrandom, RAND_bytes)");
	int rc = ec__frame_mac_init(mac_out, key, EC_FRAME_DIR_MASTER);
	rc = rc ? rc : ec__frame_mac_init(mac_in, key, EC_FRAME_DIR_CONTEXT);
	struct ec_payload_config pc = {
		.name = ctx->name,
		.key = key,
		.log_level = m->logger.level,
		.max_message = m->max_message,
		.codec = codec_ops(m)->remote_name,
		.context_id = ctx->id,
		.modules = m->modules,
	};
	struct ec_buf cached;
	ec__buf_init(&cached);
	if (!rc && code_cache_name(ctx, cache->name, &cache->may_fill) == 0) {
		if (cache->read && ec__codecache_load(cache->name, &cached) == 0) {
			cache->hit = 1;
			pc.code = cached.data;
			pc.code_len = cached.len;
			ec__log(&m->logger, EC_LOG_DEBUG, "econtext", ctx->name,
			        "context %s: core from the bytecode cache (%s)", ctx->name, cache->name);
		} else {
			cache->fill = cache->may_fill;
		}
	} else if (!rc && cache->read && ec__config_code_cache(m->config) &&
	           share_get(ctx, &cached) == 0) {
		cache->hit = cache->shared = 1;
		pc.code = cached.data;
		pc.code_len = cached.len;
		ec__log(&m->logger, EC_LOG_DEBUG, "econtext", ctx->name,
		        "context %s: core bytecode shared by a context of the same name", ctx->name);
	}
	rc = rc ? ec__error_set(err, rc, ctx->name, "out of memory")
	     : cache->direct ? ec__payload_direct(&pc, prog, code, err)
	                     : ec__payload_stream(&pc, stream, err);
	OPENSSL_cleanse(key, sizeof(key));
	ec__buf_free(&cached);
	return rc;
}

/* One attempt of ec_context_connect; read_cache 0: boot from source whatever the
 * cache holds and never directly. *refused: the cache entry it booted from was for
 * another Python. *direct_failed: a direct boot failed (its entry is dropped). */
static int connect_once(ec_master *m, const char *name, const char *const *overrides,
                        int timeout_ms, int read_cache, int *refused, int *direct_failed,
                        ec_context **out, struct ec_error *err)
{
	struct cache_use cache = {.read = read_cache};
	struct ec_context *ctx = NULL;
	/* Under the lock: plugins load on demand into the master's shared registry. */
	pthread_mutex_lock(&m->lock);
	unsigned id = ++m->next_context_id;
	int rc = context_create(m, name, overrides, &ctx, err);
	if (rc) {
		if (ctx)
			context_free(ctx);
		pthread_mutex_unlock(&m->lock);
		return rc;
	}
	ctx->id = id;
	ctx->share_key = share_key_of(name, overrides); /* NULL (no memory): no sharing */

	long connect_ms = 30000;
	ec__cfg_ms(ctx->cfg, "connect_timeout", &connect_ms);
	if (timeout_ms > 0)
		connect_ms = timeout_ms;
	ctx->connect_ms = connect_ms;
	ctx->boot_deadline = ec__now_ms() + connect_ms;
	const char *direct_py = direct_python(ctx);
	if (direct_py && read_cache && (ctx->direct = ec__direct_new(direct_py))) {
		cache.direct = ctx->direct_boot = 1;
		memcpy(cache.direct_entry, ctx->direct->entry, sizeof(cache.direct_entry));
	} else if (direct_py) {
		cache.boot_fill = 1;
	}
	/* Start the interpreter first, build its stream while it starts (build_stream). */
	ctx->stream_pending = 1;
	ec__broker_attach(m->broker, ctx);
	/* Let the broker start it before this thread takes the CPU for a few ms: woken on
	 * this thread's vCPU, the broker would otherwise wait for it. */
	while (!ctx->start_tried && ctx->state != EC_CTX_DEAD)
		pthread_cond_wait(&ctx->cond, &m->lock);
	pthread_mutex_unlock(&m->lock);

	struct ec_frame_mac mac_in = {0}, mac_out = {0};
	struct ec_buf stream, prog, code;
	ec__buf_init(&stream);
	ec__buf_init(&prog);
	ec__buf_init(&code);
	struct ec_error build_err = {0};
	rc = build_stream(ctx, &mac_in, &mac_out, &stream, &prog, &code, &cache, &build_err);

	pthread_mutex_lock(&m->lock);
	ctx->stream_pending = 0;
	if (ctx->state != EC_CTX_DEAD) {
		if (rc) {
			ctx->stream_err = build_err; /* the broker closes it (it owns the fds) */
		} else {
			ctx->mac_in = mac_in;
			ctx->mac_out = mac_out;
			ctx->wbuf = stream; /* empty until now: nothing was written */
			mac_in = (struct ec_frame_mac){0};
			mac_out = (struct ec_frame_mac){0};
			ec__buf_init(&stream);
			if (ctx->direct) { /* alive: the broker has not fed it yet */
				ctx->direct->prog = prog;
				ctx->direct->code = code;
				ec__buf_init(&prog);
				ec__buf_init(&code);
			}
		}
		ec__broker_wake(m->broker);
	}
	ec__frame_mac_close(&mac_in);
	ec__frame_mac_close(&mac_out);
	ec__buf_free(&stream);
	if (prog.data)
		OPENSSL_cleanse(prog.data, prog.len);
	ec__buf_free(&prog);
	ec__buf_free(&code);
	while (ctx->state != EC_CTX_READY && ctx->state != EC_CTX_DEAD)
		if (!ec__secret_serve(m, ctx)) /* a password to ask, on this thread */
			pthread_cond_wait(&ctx->cond, &m->lock);
	if (ctx->state == EC_CTX_DEAD) {
		/* Whatever the cause, the next boot of this binary starts from source; but a
		 * context that may only read the cache (sudo) fails for reasons of its own (a
		 * password) more often than not: there only the loader's own refusal drops it. */
		*refused = cache.hit && strstr(ctx->fail.msg, EC_CODECACHE_REFUSAL) != NULL;
		/* A direct boot that did not come up (its entry out of date: a moved
		 * installation, a changed sys.path) is tried again through the first stage;
		 * not one that ran out of time, which would only wait as long again. */
		if (cache.direct && ctx->fail.code != EC_ETIMEDOUT) {
			*direct_failed = 1;
			ec__codecache_drop(cache.direct_entry);
		}
		if (cache.shared && *refused)
			share_drop(ctx);
		else if (cache.hit && !cache.shared && (cache.may_fill || *refused))
			ec__codecache_drop(cache.name);
		rc = ctx->fail.code ? ctx->fail.code : EC_EBOOT;
		if (err)
			*err = ctx->fail;
		while (!ctx->detached)
			pthread_cond_wait(&ctx->cond, &m->lock);
		context_free(ctx);
		pthread_mutex_unlock(&m->lock);
		return rc;
	}
	/* One filler per entry: the others booted from source as it did, and go on. */
	struct ec_cache_fill fill, **pp;
	for (struct ec_cache_fill *f = m->cache_fills; f && cache.fill; f = f->next)
		if (!strcmp(f->name, cache.name))
			cache.fill = 0;
	if (cache.fill) {
		memcpy(fill.name, cache.name, sizeof(fill.name));
		fill.next = m->cache_fills;
		m->cache_fills = &fill;
	}
	pthread_mutex_unlock(&m->lock);
	if (cache.boot_fill)
		boot_entry_fill(ctx, direct_python(ctx));
	if (cache.fill) {
		code_cache_fill(ctx, cache.name);
		pthread_mutex_lock(&m->lock);
		for (pp = &m->cache_fills; *pp != &fill; pp = &(*pp)->next)
			;
		*pp = fill.next;
		pthread_mutex_unlock(&m->lock);
	}
	*out = ctx;
	return 0;
}

int ec_context_connect(ec_master *m, const char *name, const char *const *overrides,
                       int timeout_ms, ec_context **out, struct ec_error *err)
{
	int refused = 0, direct_failed = 0;
	int rc = connect_once(m, name, overrides, timeout_ms, 1, &refused, &direct_failed, out,
	                      err);
	if (rc && (refused || direct_failed)) {
		/* The binary behind the name is another Python now, or its direct boot
		 * failed: the entry is dropped, and this boot starts again through the first
		 * stage, from source (and fills the entries anew). */
		if (refused)
			ec__log(&m->logger, EC_LOG_INFO, "econtext", name,
			        "context %s: the bytecode cache entry was for another Python; "
			        "booting from source", name);
		else
			ec__log(&m->logger, EC_LOG_INFO, "econtext", name,
			        "context %s: its direct boot failed (%s); booting through the "
			        "first stage", name, err ? err->msg : "");
		rc = connect_once(m, name, overrides, timeout_ms, 0, &refused, &direct_failed, out,
		                  err);
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

static int encode_call(ec_context *ctx, const char *module, const char *qualname,
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
	if (!mod || !qn)
		rc = ec__error_set(err, EC_EINVAL, ctx->name, "module and function names must be UTF-8");
	else if ((args && args->type != EC_T_TUPLE && args->type != EC_T_LIST) ||
	         (kwargs && kwargs->type != EC_T_DICT))
		rc = ec__error_set(err, EC_EINVAL, ctx->name,
		                   "arguments must be a tuple or list, keyword arguments a dict");
	else {
		struct ec_codec_peer peer = {.python_major = ctx->python_major};
		rc = codec_ops(ctx->m)->encode(ctx->m->codec->state, &peer, &call, out, err);
		if (!rc && out->len > ctx->m->max_message)
			rc = ec__error_set(err, EC_EMSGSIZE, ctx->name,
			                   "call of %s.%s is %zu bytes, over the maximum message size "
			                   "of %zu bytes", module, qualname, out->len, ctx->m->max_message);
	}
	ec_value_free(mod);
	ec_value_free(qn);
	return rc;
}

/* Allocate a call and its message; the payload is encoded by the caller. */
static int call_alloc(ec_context *ctx, struct ec_msg **msg, struct ec_call **call,
                      struct ec_error *err)
{
	*msg = calloc(1, sizeof(**msg));
	*call = calloc(1, sizeof(**call));
	if (!*msg || !*call || cond_init_monotonic(&(*call)->cond)) {
		free(*msg);
		free(*call);
		return ec__error_set(err, EC_ENOMEM, ctx->name, "out of memory");
	}
	(*call)->m = ctx->m;
	(*call)->refs = 1;
	pthread_mutex_init(&(*call)->lock, NULL);
	snprintf((*call)->ctx_name, sizeof((*call)->ctx_name), "%s", ctx->name);
	return 0;
}

static void call_discard(struct ec_msg *msg, struct ec_call *call)
{
	ec__buf_free(&msg->payload);
	free(msg);
	pthread_cond_destroy(&call->cond);
	pthread_mutex_destroy(&call->lock);
	free(call);
}

/* Queue an encoded call (m->lock held); EC_ECLOSED when ctx takes no calls. */
static int call_queue_locked(ec_context *ctx, struct ec_msg *msg, struct ec_call *call,
                             struct ec_error *err)
{
	if (ctx->state != EC_CTX_READY || ctx->shutdown_requested)
		return ec__error_set(err, EC_ECLOSED, ctx->name, "context '%s' is not connected%s%s",
		                     ctx->name, ctx->fail.msg[0] ? ": " : "", ctx->fail.msg);
	call->ctx = ctx;
	call->handle = ctx->next_handle++;
	call->registered = 1;
	call->queued_us = ec__now_us();
	__atomic_add_fetch(&call->m->in_flight, 1, __ATOMIC_RELAXED);
	call->next = ctx->calls;
	ctx->calls = call;
	msg->handle = EC_HANDLE_CALL;
	msg->reply_to = call->handle;
	*ctx->outq_tail = msg;
	ctx->outq_tail = &msg->next;
	return 0;
}

int ec_context_call_async(ec_context *ctx, const char *module, const char *qualname,
                          const ec_value *args, const ec_value *kwargs, ec_call **out,
                          struct ec_error *err)
{
	ec_master *m = ctx->m;
	struct ec_msg *msg;
	struct ec_call *call;
	int rc = call_alloc(ctx, &msg, &call, err);
	if (rc)
		return rc;
	rc = encode_call(ctx, module, qualname, args, kwargs, &msg->payload, err);
	if (!rc) {
		pthread_mutex_lock(&m->lock);
		rc = call_queue_locked(ctx, msg, call, err);
		pthread_mutex_unlock(&m->lock);
	}
	if (rc) {
		call_discard(msg, call);
		return rc;
	}
	/* Wake after unlocking, so the broker does not wake into a held lock. */
	ec__broker_wake(m->broker);
	*out = call;
	return 0;
}

/* ---- the core's bytecode shared in memory ------------------------------------------
 * A context the disk cache is not for (ssh, sudo via ssh: its interpreter is another
 * machine's or another user's) compiles the core from source at every boot: 11-18 ms
 * of a fresh interpreter here. A second context of the same name and overrides (the
 * same host, user and python) takes the code object a live one compiled instead: the
 * master asks an idle one for it (econtext.core_code, while the new interpreter
 * starts) and keeps it for the next. Bytecode runs whatever it says, so it only goes to
 * contexts of the description that made it; it lives in memory only. */
struct ec_code_share {
	char *key;
	struct ec_buf code; /* raw deflate of magic + marshalled core, sync flush */
	struct ec_code_share *next;
};

/* For a live context's bytecode, while ours starts (the stream is needed only once
 * the new interpreter is up: a slow link costs the wait beyond that). */
#define SHARE_WAIT_MS 100

static struct ec_code_share *share_find(ec_master *m, const char *key)
{
	for (struct ec_code_share *e = m->code_shares; e; e = e->next)
		if (!strcmp(e->key, key))
			return e;
	return NULL;
}

/* Unlink *pp and free it. */
static void share_unlink(struct ec_code_share **pp)
{
	struct ec_code_share *e = *pp;
	*pp = e->next;
	free(e->key);
	ec__buf_free(&e->code);
	free(e);
}

void ec__code_shares_free(ec_master *m)
{
	while (m->code_shares)
		share_unlink(&m->code_shares);
}

/* The name and overrides as one string (NUL-separated: no value holds a NUL). */
static char *share_key_of(const char *name, const char *const *overrides)
{
	struct ec_buf b;
	ec__buf_init(&b);
	int rc = ec__buf_append(&b, name, strlen(name) + 1);
	for (size_t i = 0; overrides && overrides[i] && !rc; i++)
		rc = ec__buf_append(&b, overrides[i], strlen(overrides[i]) + 1);
	for (size_t i = 0; i < b.len && !rc; i++)
		if (!b.data[i])
			b.data[i] = '\n';
	rc = rc ? rc : ec__buf_append(&b, "", 1);
	if (rc) {
		ec__buf_free(&b);
		return NULL;
	}
	return (char *)b.data;
}

/* Append the shared bytecode for ctx to code: from memory, or from a live context of
 * the same key. 0 when there is some. */
static int share_get(struct ec_context *ctx, struct ec_buf *code)
{
	ec_master *m = ctx->m;
	if (!ctx->share_key)
		return -1;
	pthread_mutex_lock(&m->lock);
	struct ec_code_share *e = share_find(m, ctx->share_key);
	if (e) {
		int rc = ec__buf_append(code, e->code.data, e->code.len) ? -1 : 0;
		pthread_mutex_unlock(&m->lock);
		return rc;
	}
	struct ec_context *peer = NULL;
	for (struct ec_context *c = m->contexts; c && !peer; c = c->master_next)
		if (c != ctx && c->share_key && c->state == EC_CTX_READY && !c->shutdown_requested &&
		    !c->calls && !strcmp(c->share_key, ctx->share_key))
			peer = c; /* idle: its main thread answers at once */
	struct ec_msg *msg = NULL;
	struct ec_call *call = NULL;
	int rc = peer ? call_alloc(peer, &msg, &call, NULL) : -1;
	if (!rc && (encode_call(peer, "econtext", "core_code", NULL, NULL, &msg->payload, NULL) ||
	            call_queue_locked(peer, msg, call, NULL))) {
		call_discard(msg, call);
		rc = -1;
	}
	pthread_mutex_unlock(&m->lock);
	if (rc)
		return -1;
	ec__broker_wake(m->broker);
	ec_value *res = NULL;
	rc = ec_call_wait(call, SHARE_WAIT_MS, &res, NULL);
	ec_call_free(call);
	struct ec_buf packed;
	ec__buf_init(&packed);
	if (rc || !res || res->type != EC_T_BYTES ||
	    ec__codecache_pack((const unsigned char *)res->u.s.data, res->u.s.len, 6, &packed) ||
	    ec__buf_append(code, packed.data, packed.len)) {
		ec_value_free(res);
		ec__buf_free(&packed);
		return -1;
	}
	ec_value_free(res);
	pthread_mutex_lock(&m->lock);
	struct ec_code_share *n = share_find(m, ctx->share_key) ? NULL : calloc(1, sizeof(*n));
	if (n && (n->key = strdup(ctx->share_key))) {
		n->code = packed; /* the entry takes it */
		ec__buf_init(&packed);
		n->next = m->code_shares;
		m->code_shares = n;
	} else {
		free(n);
	}
	pthread_mutex_unlock(&m->lock);
	ec__buf_free(&packed);
	return 0;
}

/* The shared bytecode of ctx's key was refused (another Python): forget it. */
static void share_drop(struct ec_context *ctx)
{
	ec_master *m = ctx->m;
	for (struct ec_code_share **pp = &m->code_shares; *pp; pp = &(*pp)->next)
		if (ctx->share_key && !strcmp((*pp)->key, ctx->share_key)) {
			share_unlink(pp);
			return;
		}
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
	spin_for_reply(m, call);
	/* The call's own lock: the broker's delivery never contends with the master lock. */
	pthread_mutex_lock(&call->lock);
	while (!call->done) {
		if (wait_until(&call->cond, &call->lock, deadline)) {
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
	const struct ec_codec_ops *ops = codec_ops(m);
	size_t len = call->reply.len - call->reply_off;
	ec_value *v = NULL;
	int rc = ops->size >= offsetof(struct ec_codec_ops, decode_buf) + sizeof(ops->decode_buf) &&
	                 ops->decode_buf
	             ? ops->decode_buf(m->codec->state, &call->reply, call->reply_off, len, &v, err)
	             : ops->decode(m->codec->state,
	                           call->reply.data ? call->reply.data + call->reply_off : NULL, len,
	                           &v, err);
	if (rc) {
		ec__error_prefix(err, "reply from context '%s' refused", cname);
		return rc;
	}
	call->delivered = 1;
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
	if (!done) {
		pthread_mutex_lock(&m->lock);
		if (call->registered) {
			for (struct ec_call **pp = &call->ctx->calls; *pp; pp = &(*pp)->next)
				if (*pp == call) {
					*pp = call->next;
					break;
				}
			call_unregistered(m, call);
		}
		pthread_mutex_unlock(&m->lock);
	}
	ec__call_unref(call);
}

int ec_context_call(ec_context *ctx, const char *module, const char *qualname,
                    const ec_value *args, const ec_value *kwargs, int timeout_ms,
                    ec_value **result, struct ec_error *err)
{
	ec_call *call = NULL;
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
	if (ctx->state == EC_CTX_READY) {
		struct ec_msg *msg = calloc(1, sizeof(*msg));
		struct ec_value none = {.type = EC_T_NONE};
		struct ec_codec_peer peer = {.python_major = ctx->python_major};
		if (msg && codec_ops(m)->encode(m->codec->state, &peer, &none, &msg->payload, NULL) == 0) {
			msg->handle = EC_HANDLE_SHUTDOWN;
			*ctx->outq_tail = msg;
			ctx->outq_tail = &msg->next;
		} else if (msg) {
			ec__buf_free(&msg->payload);
			free(msg);
		}
	}
	ctx->shutdown_requested = 1;
	if (ctx->attached && ctx->state != EC_CTX_DEAD) {
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
	if (ctx->fail.code == EC_ETIMEDOUT && ctx->close_deadline) {
		rc = EC_ETIMEDOUT;
		if (err)
			*err = ctx->fail;
	}
	context_free(ctx);
	pthread_mutex_unlock(&m->lock);
	return rc;
}
