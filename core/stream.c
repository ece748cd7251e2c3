/* stream.c: one context's bytes in and out (see stream.h). */
#include "ecbuild.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "child.h"
#include "clock.h"
#include "econtext/protocol.h"
#include "error.h"
#include "payload.h"
#include "source.h"
#include "stream.h"

/* The first stage's "running, about to read" line (docs/protocol.md 1). A transport
 * that waits for it (sudo) consumes it; otherwise it is taken out of the boot output
 * here, so that it never shows in logs or error messages. Same length as the ready
 * marker: the bytes held back while looking for one cover the other. */
#define MARKER_LEN EC_MARKER_READY_LEN
_Static_assert(EC_MARKER_BOOT_LEN == EC_MARKER_READY_LEN,
               "the boot and ready markers have one length");
#define READ_CHUNK 65536
/* A frame at least this large is handed to the owner in the read buffer it arrived in
 * rather than copied out of it. */
#define TAKE_MIN READ_CHUNK
/* How long an empty read or write buffer is kept for the next frame: back-to-back
 * large frames reuse it; an idle context holds none. */
#define RBUF_IDLE_MS 1000

/* A buffer's idle timer after traffic of used bytes: pushed on when the traffic needed
 * half its size or more; otherwise started if not running, never pushed on, so that
 * small frames (a busy context's calls) do not keep a large buffer that one file chunk
 * made: it goes within RBUF_IDLE_MS of its last large use (200 contexts each keeping a
 * 512 KiB write buffer and a 256 KiB spare after one transfer: tests/test_soak). */
static void idle_timer(long long *at, size_t used, size_t cap)
{
	if (!cap)
		return;
	if (used >= cap / 2 || !*at)
		*at = ec__now_ms() + RBUF_IDLE_MS;
}

void ec__stream_init(struct ec_stream *s, const char *name, const struct ec_logger *logger,
                     unsigned id, size_t max_message, ec_stream_frame_fn on_frame, void *owner)
{
	s->name = name;
	s->logger = logger;
	s->id = id;
	s->max_message = max_message;
	s->on_frame = on_frame;
	s->owner = owner;
	s->outq_tail = &s->outq;
}

size_t ec__msg_len(const struct ec_msg *q)
{
	return q->block ? ec__block_len(q->block) : q->payload.len;
}

void ec__msg_free(struct ec_msg *q)
{
	if (q) {
		ec__buf_free(&q->payload);
		ec__block_release(q->block);
		free(q);
	}
}

void ec__stream_queue(struct ec_stream *s, struct ec_msg *msg)
{
	msg->next = NULL;
	*s->outq_tail = msg;
	s->outq_tail = &msg->next;
	s->outq_bytes += ec__msg_len(msg);
}

static void bootlog_add(struct ec_stream *s, const char *p, size_t n)
{
	if (n >= sizeof(s->bootlog)) {
		p += n - (sizeof(s->bootlog) - 1);
		n = sizeof(s->bootlog) - 1;
	}
	size_t room = sizeof(s->bootlog) - 1 - s->bootlog_len;
	if (n > room) {
		size_t drop = n - room;
		memmove(s->bootlog, s->bootlog + drop, s->bootlog_len - drop);
		s->bootlog_len -= drop;
	}
	memcpy(s->bootlog + s->bootlog_len, p, n);
	s->bootlog_len += n;
	s->bootlog[s->bootlog_len] = '\0';
}

/* Boot output, a line at a time, to the transport (which may answer a prompt) and to
 * the debug log. */
static int boot_output(struct ec_stream *s, const char *p, size_t n, struct ec_error *err)
{
	const struct ec_transport *t = s->transport;
	bootlog_add(s, p, n);
	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		int eol = c == '\n';
		if (!eol && s->boot_line_len < sizeof(s->boot_line) - 1)
			s->boot_line[s->boot_line_len++] = c;
		if (eol || s->boot_line_len == sizeof(s->boot_line) - 1) {
			s->boot_line[s->boot_line_len] = '\0';
			ec__log(s->logger, EC_LOG_DEBUG, "econtext.boot", s->name, "%s: %s", s->name,
			        s->boot_line);
			if (t->ops->on_boot_output) {
				int rc = t->ops->on_boot_output(t->inst, s->boot_line, s->boot_line_len,
				                                err);
				if (rc)
					return rc;
			}
			s->boot_line_len = 0;
		}
	}
	/* A prompt has no newline: offer the partial line too. */
	if (s->boot_line_len && t->ops->on_boot_output) {
		s->boot_line[s->boot_line_len] = '\0';
		return t->ops->on_boot_output(t->inst, s->boot_line, s->boot_line_len, err);
	}
	return 0;
}

int ec__stream_boot_error(struct ec_stream *s, int code, const char *what, struct ec_error *err)
{
	/* Quote the tail of what the command printed: "python9: not found" and the like. */
	const char *out = s->bootlog;
	while (*out == '\n' || *out == ' ')
		out++;
	size_t len = strlen(out);
	while (len && (out[len - 1] == '\n' || out[len - 1] == '\r' || out[len - 1] == ' '))
		len--;
	if (len > 300) {
		out += len - 300;
		len = 300;
	}
	return ec__error_set(err, code, s->name, "context '%s' %s%s%.*s", s->name, what,
	                     len ? "; it printed: " : " and printed nothing", (int)len, out);
}

#define BATCH_ONE 4096   /* a message batched is smaller than this */
#define BATCH_MAX 64     /* messages in a batch at most */
#define BATCH_BYTES 65536

/* The head of outq is framed: drop it. */
static void msg_drop(struct ec_stream *s)
{
	struct ec_msg *q = s->outq;
	s->outq = q->next;
	if (!s->outq)
		s->outq_tail = &s->outq;
	s->outq_bytes -= ec__msg_len(q);
	ec__msg_free(q);
}

/* The messages at the head of outq that go as one frame to batch_as: how many (0 when
 * fewer than two) and the frame's payload length. */
static size_t batch_run(const struct ec_stream *s, size_t *len)
{
	size_t n = 0, limit = s->max_message < BATCH_BYTES ? s->max_message : BATCH_BYTES;
	*len = 0;
	for (const struct ec_msg *q = s->outq; s->batch_as && q && n < BATCH_MAX; q = q->next) {
		if (q->handle != s->batch_handle || q->block || q->payload.len >= BATCH_ONE ||
		    *len + 8 + q->payload.len > limit)
			break;
		*len += 8 + q->payload.len;
		n++;
	}
	return n > 1 ? n : 0;
}

/* Frame the head of outq as one batch (batch_run said n, len), built in wbuf. */
static int flush_batch(struct ec_stream *s, size_t n, size_t len)
{
	if (ec__buf_reserve(&s->wbuf, EC_FRAME_HEADER_LEN + len + EC_FRAME_MAC_LEN))
		return EC_ENOMEM;
	unsigned char *f = s->wbuf.data + s->wbuf.len, *p = f + EC_FRAME_HEADER_LEN;
	struct ec_frame_hdr h = {.dst = s->id, .handle = s->batch_as, .length = (uint32_t)len};
	ec__frame_hdr_pack(&h, f);
	const struct ec_msg *q = s->outq;
	for (size_t i = 0; i < n; i++, q = q->next) {
		ec__frame_put32(p, q->reply_to);
		ec__frame_put32(p + 4, (uint32_t)q->payload.len);
		if (q->payload.len)
			memcpy(p + 8, q->payload.data, q->payload.len);
		p += 8 + q->payload.len;
	}
	if (ec__frame_seal(&s->mac_out, f))
		return EC_ENOMEM;
	s->wbuf.len += EC_FRAME_HEADER_LEN + len + EC_FRAME_MAC_LEN;
	while (n--)
		msg_drop(s);
	return 0;
}

int ec__stream_flush(struct ec_stream *s, struct ec_error *err)
{
	if (s->outq && s->wpos && s->wpos >= s->wbuf.len - s->wpos) {
		ec__buf_consume(&s->wbuf, s->wpos);
		s->wpos = 0;
	}
	while (s->outq && !s->out_block) {
		struct ec_msg *q = s->outq;
		size_t blen, bn = batch_run(s, &blen);
		if (bn) {
			if (flush_batch(s, bn, blen))
				return ec__error_set(err, EC_ENOMEM, s->name,
				                     "out of memory framing a message");
			continue;
		}
		struct ec_frame_hdr h = {
			.dst = s->id,
			.src = 0,
			.handle = q->handle,
			.reply_to = q->reply_to,
			.length = (uint32_t)ec__msg_len(q),
		};
		if (q->block) {
			/* Content: its header now, its bytes from its block once wbuf is written,
			 * then its MAC (ec__stream_write); the frames after it wait. */
			if (ec__frame_content_head(&s->mac_out, &h, q->chain, &s->wbuf,
			                           s->out_block_mac))
				return ec__error_set(err, EC_ENOMEM, s->name,
				                     "out of memory framing a message");
			s->out_block = ec__block_ref(q->block);
			s->out_block_pos = 0;
		} else if (ec__frame_encode(&s->mac_out, &h, q->payload.data, &s->wbuf)) {
			return ec__error_set(err, EC_ENOMEM, s->name, "out of memory framing a message");
		}
		msg_drop(s);
	}
	return 0;
}

int ec__stream_has_output(const struct ec_stream *s)
{
	return s->wbuf.len || s->out_block;
}

size_t ec__stream_unsent(const struct ec_stream *s)
{
	return s->outq_bytes + (s->wbuf.len - s->wpos) +
	       (s->out_block ? ec__block_len(s->out_block) - s->out_block_pos : 0);
}

/* The content frame's block after wbuf, as far as the transport takes it: 0 (*done
 * when all of it went, its MAC then in wbuf), or an error. */
static ssize_t write_block(struct ec_stream *s, int *done, struct ec_error *err)
{
	struct ec_pollset ps;
	size_t len = ec__block_len(s->out_block);
	const unsigned char *p = ec__block_data(s->out_block);
	*done = 0;
	while (s->out_block_pos < len) {
		ec__pollset_clear(&ps);
		ssize_t n = s->transport->ops->send(s->transport->inst, p + s->out_block_pos,
		                                    len - s->out_block_pos, &ps, err);
		if (n == EC_EAGAIN)
			return 0;
		if (n < 0)
			return n;
		s->out_block_pos += (size_t)n;
	}
	/* wbuf is empty here: the MAC fits in what it has (or what it gets) */
	if (ec__buf_append(&s->wbuf, s->out_block_mac, EC_FRAME_MAC_LEN))
		return ec__error_set(err, EC_ENOMEM, s->name, "out of memory framing a message");
	ec__block_release(s->out_block);
	s->out_block = NULL;
	*done = 1;
	return 0;
}

int ec__stream_write(struct ec_stream *s, struct ec_error *err)
{
	struct ec_pollset ps; /* what send waits for: the core asks pollset instead */
	size_t batch = 0; /* the bytes of the last time wbuf was written whole */
again:
	while (s->wbuf.len) {
		ec__pollset_clear(&ps);
		ssize_t n = s->transport->ops->send(s->transport->inst, s->wbuf.data + s->wpos,
		                                    s->wbuf.len - s->wpos, &ps, err);
		if (n == EC_EAGAIN)
			return 0;
		if (n < 0 && s->state < EC_STREAM_READY) {
			/* The command went away while we wrote its payload: what it printed
			 * (read until end of stream) is a better error than EPIPE. */
			s->wbuf.len = s->wpos = 0;
			return 0;
		}
		if (n < 0)
			return (int)n;
		s->wpos += (size_t)n;
		if (s->wpos == s->wbuf.len) {
			batch = s->wbuf.len;
			s->wbuf.len = s->wpos = 0;
		}
	}
	if (s->out_block) {
		int done;
		ssize_t rc = write_block(s, &done, err);
		if (rc)
			return (int)rc;
		if (!done)
			return 0;
		/* its MAC, and the frames that waited for it */
		if (s->state == EC_STREAM_READY && (rc = ec__stream_flush(s, err)))
			return (int)rc;
		goto again;
	}
	/* All written: kept for the next frames (freed and taken again per frame, a file's
	 * 256 KiB chunks each landed in freshly mapped memory: a page fault every 4 KiB),
	 * and freed once idle (ec__stream_idle): an idle context holds nothing. */
	idle_timer(&s->wbuf_idle_ms, batch, s->wbuf.cap);
	return 0;
}

/* A direct boot's start: the interpreter spawned here, handed to the transport. */
static int start_direct(struct ec_stream *s, struct ec_error *err)
{
	char argv0[600];
	pid_t pid;
	int fd;
	ec__payload_argv0(argv0, sizeof(argv0));
	int rc = ec__direct_spawn(s->direct, s->name, argv0, &pid, &fd, err);
	if (!rc && (rc = s->transport->ops->adopt(s->transport->inst, pid, fd, err))) {
		close(fd);
		ec__child_reap(pid, 0, -1);
	}
	if (!rc)
		ec__log(s->logger, EC_LOG_DEBUG, "econtext", s->name,
		        "context %s: direct boot of %s (pid %ld, %s)", s->name, s->direct->path,
		        (long)pid, s->direct->entry);
	return rc;
}

int ec__stream_start(struct ec_stream *s, struct ec_error *err)
{
	ec__pollset_clear(&s->ps);
	return s->direct ? start_direct(s, err)
	                 : s->transport->ops->start(s->transport->inst, &s->argv, &s->ps, err);
}

int ec__stream_feed_direct(struct ec_stream *s, struct ec_error *err)
{
	if (s->state < EC_STREAM_BOOTING || !s->direct || s->pending)
		return 0;
	int rc = ec__direct_feed(s->direct, s->name, err);
	ec__direct_free(s->direct);
	s->direct = NULL;
	return rc;
}

void ec__stream_idle(struct ec_stream *s, long long now, long long *next)
{
	if (s->rbuf_idle_ms && now >= s->rbuf_idle_ms) {
		if (!s->rbuf.len)
			ec__buf_free(&s->rbuf);
		ec__buf_free(&s->spare);
		s->rbuf_idle_ms = 0;
	}
	if (s->rbuf_idle_ms && (!*next || s->rbuf_idle_ms < *next))
		*next = s->rbuf_idle_ms;
	if (s->wbuf_idle_ms && now >= s->wbuf_idle_ms) {
		if (!s->wbuf.len)
			ec__buf_free(&s->wbuf);
		s->wbuf_idle_ms = 0;
	}
	if (s->wbuf_idle_ms && (!*next || s->wbuf_idle_ms < *next))
		*next = s->wbuf_idle_ms;
}

void ec__stream_pollset(struct ec_stream *s, struct ec_pollset *ps)
{
	if (s->state == EC_STREAM_STARTING) {
		ps->n = s->ps.n;
		ps->timeout_ms = s->ps.timeout_ms;
		memcpy(ps->fds, s->ps.fds, s->ps.n * sizeof(ps->fds[0]));
		return;
	}
	s->transport->ops->pollset(s->transport->inst,
	                           EC_POLL_IN | (ec__stream_has_output(s) ? EC_POLL_OUT : 0), ps);
}

void ec__stream_offer_spare(struct ec_stream *s, struct ec_buf *b)
{
	if (s->state == EC_STREAM_READY && !s->spare.data && !b->len) {
		s->spare = *b;
		ec__buf_init(b);
	}
}

int ec__stream_take_frame(struct ec_stream *s, const struct ec_frame_hdr *h,
                          const unsigned char *p, struct ec_buf *out, size_t *off)
{
	size_t frame = EC_FRAME_HEADER_LEN + (size_t)h->length + EC_FRAME_MAC_LEN;
	if (h->length < TAKE_MIN || !s->rbuf.data || p != s->rbuf.data + EC_FRAME_HEADER_LEN)
		return -1;
	struct ec_buf rest;
	ec__buf_init(&rest);
	if (s->spare.cap >= s->rbuf.len - frame) { /* ready memory: no page faults */
		rest = s->spare;
		ec__buf_init(&s->spare);
	}
	if (ec__buf_append(&rest, s->rbuf.data + frame, s->rbuf.len - frame)) {
		ec__buf_free(&rest);
		return -1;
	}
	ec__buf_free(out);
	*out = s->rbuf;
	out->len = EC_FRAME_HEADER_LEN + (size_t)h->length;
	*off = EC_FRAME_HEADER_LEN;
	s->rbuf = rest;
	s->rbuf_taken = 1;
	return 0;
}

/* Content chains: one a handle, made by its first content frame (a handle the owner
 * says may take content), ended by the close of the channel (kind 2) after it. At
 * most MAX_CHAINS: a context cannot make the master hold state for every handle. */
#define MAX_CHAINS 4096

const unsigned char *ec__stream_content_digest(const struct ec_stream *s)
{
	return s->mac_in.chain_digest;
}

/* The frame at p (avail bytes), if it is content with its header in: its chain set in
 * mac_in before any of its bytes is hashed (the lock held). */
static int chain_for(struct ec_stream *s, const unsigned char *p, size_t avail,
                     struct ec_error *err)
{
	if (avail < EC_FRAME_HEADER_LEN || ec__frame_get32(p + 12) != EC_FRAME_CONTENT)
		return 0;
	uint32_t handle = ec__frame_get32(p + 8);
	struct ec_chain *c = s->chains;
	while (c && c->handle != handle)
		c = c->next;
	if (!c) {
		if (!s->takes_content || !s->takes_content(s->owner, handle) ||
		    s->nchains >= MAX_CHAINS)
			return ec__error_set(err, EC_EPROTO, s->name,
			                     "context '%s' sent content on handle %lu, which takes none; "
			                     "closing the stream", s->name, (unsigned long)handle);
		if (!(c = calloc(1, sizeof(*c))) || !(c->md = ec__frame_chain_new())) {
			free(c);
			return ec__error_set(err, EC_ENOMEM, s->name, "out of memory reading");
		}
		c->handle = handle;
		c->next = s->chains;
		s->chains = c;
		s->nchains++;
	}
	s->mac_in.chain = c->md;
	return 0;
}

static void chain_end(struct ec_stream *s, uint32_t handle)
{
	for (struct ec_chain **pp = &s->chains; *pp; pp = &(*pp)->next)
		if ((*pp)->handle == handle) {
			struct ec_chain *c = *pp;
			*pp = c->next;
			ec__frame_chain_free(c->md);
			free(c);
			s->nchains--;
			return;
		}
}

static void chains_free(struct ec_stream *s)
{
	while (s->chains)
		chain_end(s, s->chains->handle);
	s->mac_in.chain = NULL;
}

/* Consume what rbuf holds: boot output up to the marker, then frames. */
static int process_input(struct ec_stream *s, struct ec_error *err)
{
	size_t off = 0;
	if (s->state == EC_STREAM_BOOTING && !s->boot_marker_seen) {
		unsigned char *bm = memmem(s->rbuf.data, s->rbuf.len, EC_MARKER_BOOT, MARKER_LEN);
		if (bm) {
			size_t at = (size_t)(bm - s->rbuf.data);
			int rc = boot_output(s, (const char *)s->rbuf.data, at, err);
			if (rc)
				return rc;
			ec__buf_consume(&s->rbuf, at + MARKER_LEN);
			s->boot_marker_seen = 1;
		}
	}
	if (s->state == EC_STREAM_BOOTING) {
		/* Before its stream, the interpreter cannot be ready: a marker then is output. */
		unsigned char *hit = s->pending ? NULL
		                     : memmem(s->rbuf.data, s->rbuf.len, EC_MARKER_READY, MARKER_LEN);
		size_t upto = hit ? (size_t)(hit - s->rbuf.data)
		                  : (s->rbuf.len > MARKER_LEN - 1 ? s->rbuf.len - (MARKER_LEN - 1) : 0);
		int rc = boot_output(s, (const char *)s->rbuf.data, upto, err);
		if (rc)
			return rc;
		if (!hit) {
			ec__buf_consume(&s->rbuf, upto);
			return 0;
		}
		off = upto + MARKER_LEN;
		s->state = EC_STREAM_HELLO;
	}
	s->rframe = 0;
	while (s->state == EC_STREAM_HELLO || s->state == EC_STREAM_READY) {
		struct ec_frame_hdr h;
		const unsigned char *payload;
		size_t used;
		int rc = chain_for(s, s->rbuf.data + off, s->rbuf.len - off, err);
		if (!rc)
			rc = ec__frame_decode(&s->mac_in, s->rbuf.data + off, s->rbuf.len - off,
			                      s->max_message, s->name, &h, &payload, &used, err);
		if (rc < 0)
			return rc;
		if (rc == 0) {
			s->rframe = used; /* at the start of rbuf once consumed */
			break;
		}
		if (h.src != s->id || h.dst != 0)
			return ec__error_set(err, EC_EPROTO, s->name,
			                     "context '%s' sent a frame from %lu to %lu; closing the stream",
			                     s->name, (unsigned long)h.src, (unsigned long)h.dst);
		if (h.reply_to == EC_FRAME_CONTENT_END) /* from the context: no content after it */
			chain_end(s, h.handle);
		rc = s->on_frame(s->owner, &h, payload, err);
		if (rc)
			return rc;
		if (s->rbuf_taken) { /* what followed the frame is at the start of a new rbuf */
			s->rbuf_taken = 0;
			off = 0;
			continue;
		}
		off += used;
	}
	ec__buf_consume(&s->rbuf, off);
	return 0;
}

/* The large frame at the start of rbuf hashed as far as it came, the lock let go: the
 * receiving application takes the value before it (and the acknowledgement goes out)
 * while this thread hashes, instead of waiting for the lock. */
static int hash_ahead(struct ec_stream *s, struct ec_error *err)
{
	if (!s->lock || s->state != EC_STREAM_READY || s->rframe < EC_FRAME_HASH_EARLY)
		return 0;
	int rc = chain_for(s, s->rbuf.data, s->rbuf.len, err);
	if (rc)
		return rc;
	pthread_mutex_unlock(s->lock);
	rc = ec__frame_hash_ahead(&s->mac_in, s->rbuf.data, s->rbuf.len, s->max_message);
	pthread_mutex_lock(s->lock);
	return rc ? ec__error_set(err, EC_ENOMEM, s->name, "out of memory computing a frame MAC")
	          : 0;
}

int ec__stream_read(struct ec_stream *s, struct ec_error *err)
{
	struct ec_pollset ps; /* what recv waits for: the core asks pollset instead */
	size_t got = 0;
	for (int rounds = 0; rounds < 16; rounds++) {
		/* Room for the rest of a frame of known size, exactly (a 16 MiB frame takes
		 * 16 MiB, not the next power of two), else for a chunk. */
		size_t want = s->rframe > s->rbuf.len ? s->rframe - s->rbuf.len : READ_CHUNK;
		if (ec__buf_reserve_exact(&s->rbuf, want))
			return ec__error_set(err, EC_ENOMEM, s->name, "out of memory reading");
		ec__pollset_clear(&ps);
		ssize_t n = s->transport->ops->recv(s->transport->inst, s->rbuf.data + s->rbuf.len,
		                                    s->rbuf.cap - s->rbuf.len, &ps, err);
		if (n == EC_EAGAIN) {
			if (!got)
				return 0;
			break; /* after bytes came: the idle timer below */
		}
		if (n <= 0) {
			if (s->state < EC_STREAM_READY) {
				struct ec_error ignored = {0};
				process_input(s, &ignored); /* keep the last words for the message */
				/* with the tail held back while looking for the marker */
				if (s->state == EC_STREAM_BOOTING && s->rbuf.len)
					boot_output(s, (const char *)s->rbuf.data, s->rbuf.len, &ignored);
				boot_output(s, "", 0, &ignored);
				if (n == 0)
					return ec__stream_boot_error(s, EC_EBOOT, "exited before it was ready", err);
				/* The transport's reason kept, and its code when it is memory (not the
				 * context's fault). */
				char what[sizeof(err->msg) + 40];
				snprintf(what, sizeof(what), "failed before it was ready%s%s%s",
				         err->msg[0] ? " (" : "", err->msg, err->msg[0] ? ")" : "");
				return ec__stream_boot_error(s, err->code == EC_ENOMEM ? EC_ENOMEM : EC_EBOOT,
				                             what, err);
			}
			return n == 0 ? 1 : (int)n;
		}
		s->rbuf.len += (size_t)n;
		got += (size_t)n;
		int rc = hash_ahead(s, err);
		if (!rc)
			rc = process_input(s, err);
		if (rc) {
			if (s->state < EC_STREAM_READY && s->state != EC_STREAM_HELLO)
				ec__error_prefix(err, "context '%s' failed to start", s->name);
			return rc;
		}
		if ((size_t)n < (want < READ_CHUNK ? want : READ_CHUNK) / 2)
			break;
		/* Something to send (an acknowledgement the application queued while the
		 * lock was let go): out first, the sender may be waiting for it. */
		if (s->outq)
			break;
	}
	/* An idle context holds no read buffer (memory grows with traffic, not the fleet):
	 * an empty one is freed once no frame came for RBUF_IDLE_MS (ec__stream_idle). */
	idle_timer(&s->rbuf_idle_ms, got, s->rbuf.cap);
	return 0;
}

void ec__stream_close(struct ec_stream *s, int grace_ms)
{
	s->state = EC_STREAM_DEAD;
	/* First: a direct boot's interpreter may wait on its stdin (close then waits). */
	ec__direct_free(s->direct);
	s->direct = NULL;
	if (s->transport)
		ec__transport_stack_close(s->transport, grace_ms);
	for (struct ec_msg *q = s->outq; q;) {
		struct ec_msg *next = q->next;
		ec__msg_free(q);
		q = next;
	}
	s->outq = NULL;
	s->outq_tail = &s->outq;
	s->outq_bytes = 0;
	ec__buf_free(&s->rbuf);
	ec__buf_free(&s->spare);
	ec__buf_free(&s->wbuf);
	s->wpos = 0;
	ec__block_release(s->out_block);
	s->out_block = NULL;
	chains_free(s);
	ec__frame_mac_close(&s->mac_in);
	ec__frame_mac_close(&s->mac_out);
}

void ec__stream_free(struct ec_stream *s)
{
	chains_free(s);
	ec__buf_free(&s->spare);
	ec__transport_stack_free(s->transport);
	s->transport = NULL;
	ec__direct_free(s->direct);
	s->direct = NULL;
	ec__argv_free(&s->argv);
}
