/* channel.c: channels (see channel.h). ec_channel_* are the API, on application
 * threads; ec__channels_* run on the loop's thread. */
#include "ecbuild.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <openssl/evp.h>

#include "channel.h"
#include "clock.h"
#include "econtext/codec.h"
#include "error.h"

/* The context's handle for CHANNEL_OPEN (docs/protocol.md §3). */
#define HANDLE_CHANNEL_OPEN 8

static int encode(const struct ec_loaded_plugin *codec, int python_major, const ec_value *v,
                  struct ec_buf *out, struct ec_error *err)
{
	struct ec_codec_peer peer = {.python_major = python_major};
	return ec__codec_ops(codec)->encode(codec->state, &peer, v, out, err);
}

/* A frame of kind on handle, its payload the encoding of v (or encoded, taken): the
 * message, or NULL with err. */
static struct ec_msg *make_msg(struct ec_channels *reg, uint32_t handle, uint32_t kind,
                               const ec_value *v, struct ec_buf *encoded, struct ec_error *err)
{
	struct ec_msg *msg = calloc(1, sizeof(*msg));
	if (!msg) {
		ec__error_set(err, EC_ENOMEM, reg->name, "out of memory");
		return NULL;
	}
	int rc = 0;
	if (encoded) {
		msg->payload = *encoded; /* taken */
		ec__buf_init(encoded);
	} else {
		rc = encode(reg->codec, *reg->python_major, v, &msg->payload, err);
	}
	if (rc) {
		ec__buf_free(&msg->payload);
		free(msg);
		return NULL;
	}
	msg->handle = handle;
	msg->reply_to = kind;
	return msg;
}

/* Queue a frame of kind on handle (make_msg; m->lock held; the caller wakes the
 * loop). */
static int queue(struct ec_channels *reg, uint32_t handle, uint32_t kind, const ec_value *v,
                 struct ec_buf *encoded, struct ec_error *err)
{
	struct ec_error e = {0};
	struct ec_msg *msg = make_msg(reg, handle, kind, v, encoded, &e);
	if (!msg) {
		if (err)
			*err = e;
		return e.code ? e.code : EC_ENOMEM;
	}
	ec__stream_queue(reg->st, msg);
	return 0;
}

static int open_for_messages(const struct ec_channels *reg)
{
	return reg && reg->st->state == EC_STREAM_READY;
}

/* Its context not connected: EC_ECLOSED, or EC_ENOMEM when it died of out of memory
 * (a frame that could not be built), the reason said. */
static int not_connected(const struct ec_channels *reg, const char *name, struct ec_error *err)
{
	const struct ec_error *why = reg ? reg->fail : NULL;
	return ec__error_set(err, why && why->code == EC_ENOMEM ? EC_ENOMEM : EC_ECLOSED, name,
	                     "context '%s' is not connected%s%s", name,
	                     why && why->msg[0] ? ": " : "", why ? why->msg : "");
}

int ec__channel_new(struct ec_channels *reg, struct ec_channel **out, struct ec_error *err)
{
	if (!open_for_messages(reg))
		return not_connected(reg, reg->name, err);
	struct ec_channel *ch = calloc(1, sizeof(*ch));
	if (!ch || ec__cond_init_monotonic(&ch->cond)) {
		free(ch);
		return ec__error_set(err, EC_ENOMEM, reg->name, "out of memory");
	}
	ch->m = reg->m;
	ch->reg = reg;
	ch->codec = reg->codec;
	snprintf(ch->ctx_name, sizeof(ch->ctx_name), "%s", reg->name);
	ch->handle = reg->calls->next_handle++;
	ch->inq_tail = &ch->inq;
	ch->watch.kind = EC_WATCH_CHANNEL;
	/* Its CLOSE made now: a close that could not be sent would leave the context's
	 * side waiting for values forever. */
	ec_value none = {.type = EC_T_NONE};
	ch->close_msg = make_msg(reg, ch->handle, EC_CHAN_CLOSE, &none, NULL, err);
	ec_value *open = ch->close_msg ? ec_value_new(EC_T_TUPLE) : NULL;
	int rc = !ch->close_msg ? (err && err->code ? err->code : EC_ENOMEM)
	         : open && !ec_value_append(open, ec_value_int(ch->handle)) &&
	                 !ec_value_append(open, ec_value_int(EC_CHANNEL_WINDOW))
	             ? queue(reg, HANDLE_CHANNEL_OPEN, 0, open, NULL, err)
	             : ec__error_set(err, EC_ENOMEM, reg->name, "out of memory");
	ec_value_free(open);
	if (rc) {
		ec__msg_free(ch->close_msg);
		pthread_cond_destroy(&ch->cond);
		free(ch);
		return rc;
	}
	ch->next = reg->list;
	reg->list = ch;
	*out = ch;
	return 0;
}

static void changed(struct ec_channel *ch)
{
	pthread_cond_broadcast(&ch->cond);
	ec__watch_notify(&ch->watch);
}

static void item_free(struct ec_channel_item *it)
{
	ec__buf_free(&it->buf);
	free(it);
}

/* Why a VALUES frame of n bytes at p is refused (a value cut short, or past the
 * window as that many DATA frames would be), or NULL. */
static const char *check_values(const struct ec_channel *ch, const unsigned char *p, size_t n)
{
	size_t queued = ch->inq_bytes, off = 0;
	if (!n)
		return "a batch of no values";
	while (off < n) {
		if (n - off < 4)
			return "a batch of values cut short";
		size_t len = ec__frame_get32(p + off);
		off += 4;
		if (len > n - off)
			return "a batch of values cut short";
		if (queued && queued + len > EC_CHANNEL_WINDOW)
			return "past its window";
		queued += len;
		off += len;
	}
	return NULL;
}

/* Queue the value of len bytes at p (an encoded value, or content with its chain's
 * digest): EC_ENOMEM or 0. A whole large DATA or CONTENT frame (h) takes the read
 * buffer it is in instead of a copy. */
static int take(struct ec_channel *ch, const struct ec_frame_hdr *h, const unsigned char *p,
                size_t len, const unsigned char *chain)
{
	struct ec_channel_item *it = NULL;
	struct ec_buf buf;
	size_t off = 0;
	ec__buf_init(&buf);
	if (h && ch->reg && ch->reg->st && !ec__stream_take_frame(ch->reg->st, h, p, &buf, &off)) {
		if (!(it = malloc(sizeof(*it)))) {
			ec__buf_free(&buf); /* the frame went with it: refused as out of memory */
			return EC_ENOMEM;
		}
	} else {
		it = len <= SIZE_MAX - sizeof(*it) ? malloc(sizeof(*it) + len) : NULL;
		if (!it)
			return EC_ENOMEM;
		if (len)
			memcpy(it->data, p, len);
	}
	it->next = NULL;
	it->len = len;
	it->buf = buf;
	it->off = off;
	it->content = chain != NULL;
	if (chain)
		memcpy(it->chain, chain, EC_FRAME_DIGEST_LEN);
	*ch->inq_tail = it;
	ch->inq_tail = &it->next;
	ch->inq_bytes += len;
	return 0;
}

static struct ec_channel *find(const struct ec_channels *reg, uint32_t handle)
{
	struct ec_channel *ch = reg->list;
	while (ch && ch->handle != handle)
		ch = ch->next;
	return ch;
}

int ec__channels_has(const struct ec_channels *reg, uint32_t handle)
{
	return find(reg, handle) != NULL;
}

int ec__channels_on_frame(struct ec_channels *reg, const struct ec_frame_hdr *h,
                          const unsigned char *p, int *rc, struct ec_error *err)
{
	struct ec_channel *ch = find(reg, h->handle);
	if (!ch)
		return 0;
	*rc = 0;
	if (h->reply_to == EC_CHAN_DATA || h->reply_to == EC_CHAN_VALUES ||
	    h->reply_to == EC_CHAN_CONTENT) {
		int many = h->reply_to == EC_CHAN_VALUES;
		const unsigned char *chain =
		    h->reply_to == EC_CHAN_CONTENT ? ec__stream_content_digest(reg->st) : NULL;
		const char *bad = ch->remote_closed ? "after closing it"
		                  : many             ? check_values(ch, p, h->length)
		                  : ch->inq_bytes && ch->inq_bytes + h->length > EC_CHANNEL_WINDOW
		                      ? "past its window"
		                      : NULL;
		if (bad) {
			*rc = ec__error_set(err, EC_EPROTO, reg->name,
			                    "context '%s' sent on channel %lu %s; closing the stream",
			                    reg->name, (unsigned long)ch->handle, bad);
			return 1;
		}
		size_t off = 0;
		do {
			size_t len = h->length;
			if (many) {
				len = ec__frame_get32(p + off);
				off += 4;
			}
			if (take(ch, many ? NULL : h, p + off, len, chain)) {
				*rc = ec__error_set(err, EC_ENOMEM, reg->name,
				                    "out of memory receiving on a channel");
				return 1;
			}
			off += len;
		} while (off < h->length);
	} else if (h->reply_to == EC_CHAN_CLOSE) {
		ch->remote_closed = 1;
	} else if (h->reply_to == EC_CHAN_ACK) {
		ec_value *v = NULL;
		*rc = ec__codec_ops(reg->codec)->decode(reg->codec->state, p, h->length, &v, err);
		if (!*rc && (v->type != EC_T_INT || v->u.i < 0 || (uint64_t)v->u.i > ch->unacked))
			*rc = ec__error_set(err, EC_EPROTO, reg->name,
			                    "context '%s' acknowledged more than was sent on channel %lu",
			                    reg->name, (unsigned long)ch->handle);
		if (!*rc)
			ch->unacked -= (size_t)v->u.i;
		ec_value_free(v);
		if (*rc)
			return 1;
	} else {
		*rc = ec__error_set(err, EC_EPROTO, reg->name,
		                    "context '%s' sent a frame of unknown kind %lu on channel %lu",
		                    reg->name, (unsigned long)h->reply_to, (unsigned long)ch->handle);
		return 1;
	}
	changed(ch);
	return 1;
}

void ec__channels_end(struct ec_channels *reg, const struct ec_error *why)
{
	for (struct ec_channel *ch = reg->list; ch; ch = ch->next) {
		if (ch->ended)
			continue;
		ch->ended = 1;
		/* Out of memory (a frame that could not be built) says so, as a call does. */
		ec__error_set(&ch->end_why, why && why->code == EC_ENOMEM ? EC_ENOMEM : EC_ECLOSED,
		              reg->name, "context '%s' disconnected%s%s",
		              reg->name, why && why->msg[0] ? ": " : "", why ? why->msg : "");
		changed(ch);
	}
}

void ec__channels_orphan(struct ec_channels *reg)
{
	ec__channels_end(reg, NULL);
	while (reg->list) {
		struct ec_channel *ch = reg->list;
		reg->list = ch->next;
		ch->next = NULL;
		ch->reg = NULL;
	}
}

/* ---- the API ------------------------------------------------------------------- */

ec_value *ec_value_channel(const ec_channel *ch)
{
	return ec_value_tagged(EC_TAG_CHANNEL, ec_value_int(ch->handle));
}

/* Why it ended, or why the context closed it: EC_ECLOSED or EC_EEOF into err. */
static int end_error(const struct ec_channel *ch, struct ec_error *err)
{
	if (ch->ended) {
		if (err)
			*err = ch->end_why;
		return ch->end_why.code;
	}
	return ec__error_set(err, EC_EEOF, ch->ctx_name,
	                     "channel %lu of context '%s' was closed by the context",
	                     (unsigned long)ch->handle, ch->ctx_name);
}

/* Queue data (an encoded value, or content with its chain's digest), taken, once the
 * window has room; data freed in any case. */
/* A content message: block's bytes by reference (ec__channel_send_content). */
static struct ec_msg *block_msg(ec_channel *ch, struct ec_block *block,
                                const unsigned char *chain, struct ec_error *err)
{
	struct ec_msg *msg = calloc(1, sizeof(*msg));
	if (!msg) {
		ec__error_set(err, EC_ENOMEM, ch->ctx_name, "out of memory");
		return NULL;
	}
	msg->handle = ch->handle;
	msg->reply_to = EC_CHAN_CONTENT;
	msg->block = ec__block_ref(block);
	memcpy(msg->chain, chain, EC_FRAME_DIGEST_LEN);
	return msg;
}

/* data (taken: freed here) as a value, or block's bytes as content; within the window,
 * waiting for room as ec_channel_send says. */
static int send_taken(ec_channel *ch, struct ec_buf *data, struct ec_block *block,
                      const unsigned char *chain, int timeout_ms, struct ec_error *err)
{
	ec_master *m = ch->m;
	long long deadline = timeout_ms > 0 ? ec__now_ms() + timeout_ms : 0;
	int rc = 0;
	size_t len = block ? ec__block_len(block) : data->len;
	pthread_mutex_lock(&m->lock);
	for (;;) {
		if (ch->closed) {
			rc = ec__error_set(err, EC_EINVAL, ch->ctx_name, "the channel is closed");
			break;
		}
		if (ch->ended || ch->remote_closed || !open_for_messages(ch->reg)) {
			rc = ch->ended || ch->remote_closed
			         ? end_error(ch, err)
			         : not_connected(ch->reg, ch->ctx_name, err);
			break;
		}
		/* The window: a value larger than it goes alone. */
		if (!ch->unacked || ch->unacked + len <= EC_CHANNEL_WINDOW) {
			struct ec_error e = {0};
			struct ec_msg *msg = block ? block_msg(ch, block, chain, &e)
			                           : make_msg(ch->reg, ch->handle, EC_CHAN_DATA, NULL, data, &e);
			if (!msg) {
				if (err)
					*err = e;
				rc = e.code ? e.code : EC_ENOMEM;
				break;
			}
			ec__stream_queue(ch->reg->st, msg);
			ch->unacked += len;
			break;
		}
		if (ec__cond_wait_until(&ch->cond, &m->lock, deadline)) {
			rc = ec__error_set(err, EC_ETIMEDOUT, ch->ctx_name,
			                   "channel %lu of context '%s': the context took nothing "
			                   "within %.3g s", (unsigned long)ch->handle, ch->ctx_name,
			                   timeout_ms / 1000.0);
			break;
		}
	}
	pthread_mutex_unlock(&m->lock);
	if (data)
		ec__buf_free(data);
	if (!rc)
		ec__broker_wake(m->broker);
	return rc;
}

int ec_channel_send(ec_channel *ch, const ec_value *v, int timeout_ms, struct ec_error *err)
{
	ec_master *m = ch->m;
	pthread_mutex_lock(&m->lock);
	int major = ch->reg ? *ch->reg->python_major : 3;
	pthread_mutex_unlock(&m->lock);
	struct ec_buf data;
	ec__buf_init(&data);
	/* Bytes (a file's chunk): the room for them at once, not grown by doubling (a
	 * copy of what is there at each step). */
	int rc = v->type == EC_T_BYTES && ec__buf_reserve_exact(&data, v->u.s.len + 64) ? EC_ENOMEM : 0;
	if (rc)
		rc = ec__error_set(err, EC_ENOMEM, ch->ctx_name, "out of memory");
	else
		rc = encode(ch->codec, major, v, &data, err);
	if (!rc && data.len > m->max_message)
		rc = ec__error_set(err, EC_EMSGSIZE, ch->ctx_name,
		                   "a value of %zu bytes on a channel is over the maximum message "
		                   "size of %zu bytes", data.len, m->max_message);
	if (rc) {
		ec__buf_free(&data);
		return rc;
	}
	return send_taken(ch, &data, NULL, NULL, timeout_ms, err);
}

int ec__channel_send_content(ec_channel *ch, struct ec_block *b,
                             const unsigned char chain[EC_FRAME_DIGEST_LEN], int timeout_ms,
                             struct ec_error *err)
{
	size_t len = ec__block_len(b);
	if (len > ch->m->max_message)
		return ec__error_set(err, EC_EMSGSIZE, ch->ctx_name,
		                     "content of %zu bytes on a channel is over the maximum message "
		                     "size of %zu bytes", len, ch->m->max_message);
	return send_taken(ch, NULL, b, chain, timeout_ms, err);
}

int ec__channel_content_taken(ec_channel *ch, uint64_t *bytes,
                              unsigned char chain[EC_FRAME_DIGEST_LEN])
{
	pthread_mutex_lock(&ch->m->lock);
	*bytes = ch->content_bytes;
	memcpy(chain, ch->content_chain, EC_FRAME_DIGEST_LEN);
	pthread_mutex_unlock(&ch->m->lock);
	/* none yet: the chain at its start, the SHA-256 of nothing */
	return *bytes || EVP_Digest("", 0, chain, NULL, EVP_sha256(), NULL) ? 0 : EC_ENOMEM;
}

/* The value took its frame's read buffer: the stream gets memory as large for the next
 * one, its pages touched here (a page fault per 4 KiB, on this thread rather than the
 * loop's, which is the busier: it hashes every frame). One at most; none past the
 * window (a rare large value). */
static void offer_spare(struct ec_channel *ch, size_t cap)
{
	if (cap > EC_CHANNEL_WINDOW)
		return;
	struct ec_buf b;
	ec__buf_init(&b);
	if (ec__buf_reserve_exact(&b, cap))
		return;
	/* All its pages at once where the kernel can (one call, not a fault a page). */
	uintptr_t page = 4096, from = ((uintptr_t)b.data + page - 1) & ~(page - 1),
	          to = ((uintptr_t)b.data + b.cap) & ~(page - 1);
	int done = 0;
#ifdef MADV_POPULATE_WRITE
	done = to > from && madvise((void *)from, to - from, MADV_POPULATE_WRITE) == 0;
#endif
	for (size_t i = 0; !done && i < b.cap; i += 4096)
		b.data[i] = 0;
	ec_master *m = ch->m;
	pthread_mutex_lock(&m->lock);
	if (ch->reg && ch->reg->st)
		ec__stream_offer_spare(ch->reg->st, &b);
	pthread_mutex_unlock(&m->lock);
	ec__buf_free(&b);
}

static void content_taken(ec_channel *ch, const struct ec_channel_item *it)
{
	pthread_mutex_lock(&ch->m->lock);
	ch->content_bytes += it->len;
	memcpy(ch->content_chain, it->chain, EC_FRAME_DIGEST_LEN);
	pthread_mutex_unlock(&ch->m->lock);
}

/* Content as a bytes value (a copy: a transfer takes its chunks without one,
 * ec__channel_recv_content). */
static int content_value(const struct ec_channel_item *it, ec_value **out)
{
	const unsigned char *p = it->buf.data ? it->buf.data + it->off : it->data;
	return (*out = ec_value_bytes(p, it->len)) ? 0 : EC_ENOMEM;
}

/* The next item of ch, taken (and acknowledged), into *out; NULL with the end, a
 * timeout or an error (its code returned). */
static int next_item(ec_channel *ch, int timeout_ms, struct ec_channel_item **out,
                     struct ec_error *err)
{
	ec_master *m = ch->m;
	long long deadline = -1; /* taken when it must wait: not per value of a burst */
	struct ec_channel_item *it = NULL;
	int rc = 0, wake = 0;
	pthread_mutex_lock(&m->lock);
	for (;;) {
		if ((it = ch->inq)) {
			if (!(ch->inq = it->next))
				ch->inq_tail = &ch->inq;
			ch->inq_bytes -= it->len;
			/* Taken: the context may send as much again. Not once either side
			 * closed it: the context sends no more then, and forgets the channel
			 * once both have (a frame after that would be on an unknown handle). */
			/* In batches, never of no bytes (an empty frame: found by
			 * fuzz/fuzz_channel.c); all of it once nothing is left (the context
			 * may be waiting for the window). */
			ch->to_ack += it->len;
			if (ch->to_ack && !ch->ended && !ch->closed && !ch->remote_closed &&
			    open_for_messages(ch->reg) &&
			    (!ch->inq || ch->to_ack >= EC_CHANNEL_WINDOW / 8)) {
				ec_value ack = {.type = EC_T_INT, .u.i = (int64_t)ch->to_ack};
				wake = queue(ch->reg, ch->handle, EC_CHAN_ACK, &ack, NULL, NULL) == 0;
				if (wake)
					ch->to_ack = 0;
			}
			break;
		}
		if (ch->ended || ch->remote_closed) {
			rc = end_error(ch, err);
			break;
		}
		if (deadline < 0) {
			/* nothing will come while this thread runs a callback of a transfer to
			 * the context: what would send it waits for this thread (core/call.h) */
			if (ch->reg && (rc = ec__calls_busy(ch->reg->calls->owner, ch->ctx_name,
			                                    "a wait on a channel", err)))
				break;
			deadline = timeout_ms > 0 ? ec__now_ms() + timeout_ms : 0;
		}
		if (ec__cond_wait_until(&ch->cond, &m->lock, deadline)) {
			rc = ec__error_set(err, EC_ETIMEDOUT, ch->ctx_name,
			                   "channel %lu of context '%s': nothing came within %.3g s",
			                   (unsigned long)ch->handle, ch->ctx_name, timeout_ms / 1000.0);
			break;
		}
	}
	pthread_mutex_unlock(&m->lock);
	if (wake)
		ec__broker_wake(m->broker);
	*out = it;
	return rc;
}

int ec_channel_recv(ec_channel *ch, int timeout_ms, ec_value **out, struct ec_error *err)
{
	struct ec_channel_item *it = NULL;
	int rc = next_item(ch, timeout_ms, &it, err);
	if (!it)
		return rc;
	size_t spare = it->buf.data ? it->buf.cap : 0;
	if (it->content) {
		rc = content_value(it, out);
		if (rc)
			ec__error_set(err, rc, ch->ctx_name, "out of memory");
		else
			content_taken(ch, it);
	} else if (it->buf.data)
		rc = ec__codec_decode_taken(ch->codec, &it->buf, it->off, it->len, out, err);
	else
		rc = ec__codec_ops(ch->codec)->decode(ch->codec->state, it->data, it->len, out, err);
	if (rc)
		ec__error_prefix(err, "a value on channel %lu of context '%s' refused",
		                 (unsigned long)ch->handle, ch->ctx_name);
	item_free(it);
	if (spare)
		offer_spare(ch, spare);
	return rc;
}

int ec__channel_recv_content(ec_channel *ch, int timeout_ms, struct ec_buf *out, size_t *off,
                             size_t *len, struct ec_error *err)
{
	struct ec_channel_item *it = NULL;
	int rc = next_item(ch, timeout_ms, &it, err);
	if (!it)
		return rc;
	size_t spare = it->buf.data ? it->buf.cap : 0;
	if (!it->content) {
		item_free(it);
		return 1;
	}
	ec__buf_free(out);
	*off = 0;
	if (it->buf.data) { /* the frame's read buffer, as it is: no move */
		*out = it->buf;
		*off = it->off;
		ec__buf_init(&it->buf);
	} else if (ec__buf_append(out, it->data, it->len)) {
		item_free(it);
		return ec__error_set(err, EC_ENOMEM, ch->ctx_name, "out of memory");
	}
	*len = it->len;
	content_taken(ch, it);
	item_free(it);
	if (spare)
		offer_spare(ch, spare);
	return 0;
}

int ec_channel_close(ec_channel *ch, struct ec_error *err)
{
	ec_master *m = ch->m;
	(void)err; /* its CLOSE was made with it: nothing here can fail */
	int rc = 0, wake = 0;
	pthread_mutex_lock(&m->lock);
	if (!ch->closed) {
		ch->closed = 1;
		if (!ch->ended && open_for_messages(ch->reg) && ch->close_msg) {
			ec__stream_queue(ch->reg->st, ch->close_msg);
			ch->close_msg = NULL;
			wake = 1;
		}
		changed(ch);
	}
	pthread_mutex_unlock(&m->lock);
	if (wake)
		ec__broker_wake(m->broker);
	return rc;
}

void ec_channel_free(ec_channel *ch)
{
	if (!ch)
		return;
	ec_master *m = ch->m;
	ec_channel_close(ch, NULL);
	pthread_mutex_lock(&m->lock);
	ec__watch_detach(&ch->watch);
	if (ch->reg)
		for (struct ec_channel **pp = &ch->reg->list; *pp; pp = &(*pp)->next)
			if (*pp == ch) {
				*pp = ch->next;
				break;
			}
	pthread_mutex_unlock(&m->lock);
	ec__msg_free(ch->close_msg);
	while (ch->inq) {
		struct ec_channel_item *it = ch->inq;
		ch->inq = it->next;
		item_free(it);
	}
	pthread_cond_destroy(&ch->cond);
	free(ch);
}

int ec__channel_ready(const struct ec_channel *ch)
{
	return ch->inq || ch->remote_closed || ch->ended;
}

size_t ec__channel_unacked(struct ec_channel *ch)
{
	pthread_mutex_lock(&ch->m->lock);
	size_t n = ch->unacked;
	pthread_mutex_unlock(&ch->m->lock);
	return n;
}
