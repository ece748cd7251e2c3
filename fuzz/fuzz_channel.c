/* fuzz_channel.c: libFuzzer target for channel messages as the master takes them from
 * a context (core/channel.c): ec__channels_on_frame on the registry of a context with
 * four channels open, as core/context.c's on_frame calls it (the loop's thread, the
 * master's lock held), between the application's ec_channel_recv, _send, _close and
 * _free, with values decoded by the pickle codec. The context, the stream and the loop
 * are stand-ins: a registry (struct ec_channels) over a stream that is READY and never
 * written (what the master queues is read back here), a master with only its lock, its
 * largest message and a loop that is started but has no source.
 *
 * The input: operations, one byte each and their arguments:
 *   0-1  a frame: channel (2 bits; bit 2 an unknown handle, bit 3 a freed channel's),
 *        kind (1 data, 2 close, 3 ack, 4 values; 0xe0-0xef 5 content, its chain's digest
 *        a counter; >= 0xf0 the byte itself), length (2 bytes,
 *        little-endian), then that many bytes of the input as its payload
 *   2    a large frame: as 0, its length (2 bytes) in 64 KiB units, its payload the
 *        input's bytes and zeros (the window is 4 MiB); 9 MiB of them an input at most
 *   3    the application takes a value from a channel, when one is ready
 *   4    the application sends on a channel (a small int, or bytes)
 *   5    the application closes a channel
 *   6    the application frees a channel and opens another
 *   7    the context goes (ec__channels_end): no frame comes after
 * A refused frame closes the stream as it does the master's: the channels end.
 *
 * Its checks, besides no crash, leak or undefined behaviour: every refusal has a
 * message; a data frame is refused exactly when its channel was closed by the context
 * or it goes past the window, a frame of values exactly then (a value past the window)
 * or when it holds none or one cut short, an acknowledgement exactly when it is not an int between 0
 * and what was sent and not yet acknowledged; a frame on a handle no channel has is not
 * taken; the values ec_channel_recv gives are those the channel accepted, in order
 * (decoded: equal, or refused both ways; content as bytes, its bytes and last chain
 * digest counted as taken); once a channel said it ended it says so ever
 * after; the master acknowledges no more than the application took, and sends nothing
 * on a channel after closing it. */
#include "ecbuild.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "channel.h"
#include "econtext/codec.h"
#include "error.h"
#include "fuzzcodec.h"
#include "host.h"
#include "master.h"

const struct ec_plugin *ec_plugin_pickle_describe(void);

#define SLOTS 4
#define MAX_HANDLES 1024

static ec_master *m;
static struct ec_loaded_plugin codec;

static void die(const char *why, unsigned long handle)
{
	fprintf(stderr, "fuzz_channel: channel %lu: %s\n", handle, why);
	abort();
}

static void init(void)
{
	struct ec_error err = {0};
	m = calloc(1, sizeof(*m));
	if (!m || pthread_mutex_init(&m->lock, NULL))
		abort();
	m->max_message = 64u << 20;
	codec.desc = ec_plugin_pickle_describe();
	const struct ec_codec_ops *unused;
	fc_load("fuzz_channel", codec.desc, &unused, &codec.state);
	if (ec__broker_start(&m->lock, &m->broker, &err)) {
		fprintf(stderr, "fuzz_channel: %s\n", err.msg);
		abort();
	}
}

static const struct ec_codec_ops *ops(void)
{
	return ec__codec_ops(&codec);
}

/* What the master was sent on a handle, and what it sent there (a handle's history
 * outlives its channel: frames may still come on it). */
struct shadow_item {
	unsigned char *data;
	size_t len;
	int content;
	unsigned char chain[EC_FRAME_DIGEST_LEN];
	struct shadow_item *next;
};

struct hist {
	int used;
	struct shadow_item *q, **tail; /* accepted, not yet taken */
	size_t q_bytes;
	uint64_t unacked; /* sent by the application, not yet acknowledged */
	uint64_t taken;   /* bytes the application took */
	uint64_t content; /* of them, content */
	unsigned char chain[EC_FRAME_DIGEST_LEN]; /* the last content's chain digest */
	uint64_t acked;   /* bytes the master acknowledged */
	int remote_closed, ended, said_end, closed, close_sent, freed;
};

struct run {
	struct ec_stream st;
	struct ec_calls calls;
	struct ec_channels reg;
	int major;
	struct ec_channel *slot[SLOTS];
	struct hist h[MAX_HANDLES];
	int dead; /* the stream: no frame comes */
	unsigned chains;  /* content frames so far: each one's chain digest */
};

static struct hist *hist_of(struct run *r, uint32_t handle)
{
	uint32_t i = handle - EC_HANDLE_FIRST_REPLY;
	return handle >= EC_HANDLE_FIRST_REPLY && i < MAX_HANDLES && r->h[i].used ? &r->h[i] : NULL;
}

static void open_slot(struct run *r, int k)
{
	struct ec_error err = {0};
	r->slot[k] = NULL;
	if (r->calls.next_handle - EC_HANDLE_FIRST_REPLY >= MAX_HANDLES)
		return;
	pthread_mutex_lock(&m->lock);
	int rc = ec__channel_new(&r->reg, &r->slot[k], &err);
	pthread_mutex_unlock(&m->lock);
	if (rc) {
		if (!err.msg[0])
			die("ec__channel_new refused without a message", 0);
		if (!r->dead)
			die("ec__channel_new refused on a stream that is ready", 0);
		r->slot[k] = NULL;
		return;
	}
	struct hist *h = &r->h[r->slot[k]->handle - EC_HANDLE_FIRST_REPLY];
	if (h->used)
		die("a handle given twice", r->slot[k]->handle);
	*h = (struct hist){.used = 1};
	h->tail = &h->q;
}

/* What the master queued for the context: checked, then dropped (the stream is never
 * written). */
static void drain(struct run *r)
{
	while (r->st.outq) {
		struct ec_msg *msg = r->st.outq;
		r->st.outq = msg->next;
		struct hist *h = hist_of(r, msg->handle);
		if (msg->handle != 8) { /* CHANNEL_OPEN */
			if (!h)
				die("the master sent on a handle no channel had", msg->handle);
			if (h->close_sent)
				die("the master sent on a channel after closing it", msg->handle);
			if (msg->reply_to == EC_CHAN_CLOSE)
				h->close_sent = 1;
			if (msg->reply_to == EC_CHAN_ACK) {
				ec_value *v = NULL;
				struct ec_error err = {0};
				if (ops()->decode(codec.state, msg->payload.data, msg->payload.len, &v, &err) ||
				    v->type != EC_T_INT || v->u.i <= 0)
					die("the master's acknowledgement is not a positive int", msg->handle);
				h->acked += (uint64_t)v->u.i;
				ec_value_free(v);
				if (h->acked > h->taken)
					die("the master acknowledged more than the application took", msg->handle);
			}
		}
		ec__msg_free(msg);
	}
	r->st.outq_tail = &r->st.outq;
	r->st.outq_bytes = 0;
}

/* The context's stream closes with why: no frame after, every channel ends. */
static void stream_end(struct run *r, const struct ec_error *why)
{
	r->dead = 1;
	r->st.state = EC_STREAM_DEAD;
	pthread_mutex_lock(&m->lock);
	ec__channels_end(&r->reg, why);
	pthread_mutex_unlock(&m->lock);
	drain(r);
	for (int i = 0; i < MAX_HANDLES; i++)
		if (r->h[i].used && !r->h[i].freed)
			r->h[i].ended = 1;
}

/* A value the channel accepted, into the model's queue. */
static struct shadow_item *shadow_push(struct hist *h, const unsigned char *p, size_t len)
{
	struct shadow_item *it = calloc(1, sizeof(*it));
	if (!it || !(it->data = malloc(len ? len : 1)))
		abort();
	memcpy(it->data, p, len);
	it->len = len;
	*h->tail = it;
	h->tail = &it->next;
	h->q_bytes += len;
	return it;
}

/* The model of a frame of values (kind 4): each one's length (4 bytes, big-endian), then
 * its bytes; each one goes into the window as a data frame would. Taken, or refused
 * (none, one cut short, one past the window); with queue, h's queue takes them. */
static int values(struct hist *h, const unsigned char *p, size_t len, int queue)
{
	size_t q = h->q_bytes, i = 0;
	if (!len)
		return 0;
	while (i < len) {
		if (len - i < 4)
			return 0;
		size_t n = (size_t)p[i] << 24 | (size_t)p[i + 1] << 16 | (size_t)p[i + 2] << 8 | p[i + 3];
		i += 4;
		if (n > len - i || (q && q + n > EC_CHANNEL_WINDOW))
			return 0;
		if (queue)
			shadow_push(h, p + i, n);
		q += n;
		i += n;
	}
	return 1;
}

static void on_frame(struct run *r, uint32_t handle, uint32_t kind, const unsigned char *p,
                     size_t len)
{
	struct ec_frame_hdr hdr = {.handle = handle, .reply_to = kind, .length = (uint32_t)len};
	struct hist *h = hist_of(r, handle);
	int live = h && !h->freed;
	/* What the master must do, from the model. */
	int accept = 0;
	int64_t acked = 0;
	if (kind == EC_CHAN_CONTENT) { /* the stream verified it: its chain's digest */
		r->chains++;
		memset(r->st.mac_in.chain_digest, (int)(r->chains & 0xff), EC_FRAME_DIGEST_LEN);
		memcpy(r->st.mac_in.chain_digest, &r->chains, sizeof(r->chains));
	}
	if (live && (kind == EC_CHAN_DATA || kind == EC_CHAN_CONTENT))
		accept = !h->remote_closed &&
		         !(h->q_bytes && h->q_bytes + len > EC_CHANNEL_WINDOW);
	else if (live && kind == EC_CHAN_VALUES)
		accept = !h->remote_closed && values(h, p, len, 0);
	else if (live && kind == EC_CHAN_CLOSE)
		accept = 1;
	else if (live && kind == EC_CHAN_ACK) {
		ec_value *v = NULL;
		struct ec_error e = {0};
		if (ops()->decode(codec.state, p, len, &v, &e) == 0) {
			accept = v->type == EC_T_INT && v->u.i >= 0 && (uint64_t)v->u.i <= h->unacked;
			acked = v->u.i;
		}
		ec_value_free(v);
	}
	struct ec_error err = {0};
	int rc = 12345;
	pthread_mutex_lock(&m->lock);
	int taken = ec__channels_on_frame(&r->reg, &hdr, p, &rc, &err);
	pthread_mutex_unlock(&m->lock);
	if (!live) {
		if (taken)
			die("a frame on a handle no channel has was taken", handle);
		if (rc != 12345 || err.code || err.msg[0])
			die("a frame not taken changed the result", handle);
		return;
	}
	if (!taken)
		die("a frame on an open channel was not taken", handle);
	if (rc && !err.msg[0])
		die("a frame refused without a message", handle);
	if (!rc && err.code)
		die("a frame taken with an error set", handle);
	if ((rc == 0) != accept) {
		fprintf(stderr, "fuzz_channel: kind %lu, %zu bytes: %s (%s)\n", (unsigned long)kind,
		        len, rc ? "refused" : "taken", err.msg);
		die(rc ? "a frame the model takes was refused" : "a frame the model refuses was taken",
		    handle);
	}
	if (rc) {
		stream_end(r, &err);
		return;
	}
	if (kind == EC_CHAN_DATA || kind == EC_CHAN_CONTENT) {
		struct shadow_item *it = shadow_push(h, p, len);
		if (kind == EC_CHAN_CONTENT) {
			it->content = 1;
			memcpy(it->chain, r->st.mac_in.chain_digest, EC_FRAME_DIGEST_LEN);
		}
	} else if (kind == EC_CHAN_VALUES) {
		values(h, p, len, 1);
	} else if (kind == EC_CHAN_CLOSE) {
		h->remote_closed = 1;
	} else {
		h->unacked -= (uint64_t)acked;
	}
}

static void recv_one(struct run *r, int k)
{
	struct ec_channel *ch = r->slot[k];
	if (!ch)
		return;
	struct hist *h = hist_of(r, ch->handle);
	pthread_mutex_lock(&m->lock);
	int ready = ec__channel_ready(ch);
	pthread_mutex_unlock(&m->lock);
	if (!ready) {
		if (h->q || h->remote_closed || h->ended || h->said_end)
			die("a channel with something to take is not ready", ch->handle);
		return; /* ec_channel_recv would wait */
	}
	ec_value *v = NULL;
	struct ec_error err = {0};
	int rc = ec_channel_recv(ch, 1, &v, &err);
	struct shadow_item *it = h->q;
	if (it)
		h->taken += it->len; /* before the acknowledgement is read back */
	drain(r);
	if (!it) {
		if (!rc)
			die(h->said_end ? "a value came after the channel's end" : "a value came from nowhere",
			    ch->handle);
		if (!err.msg[0])
			die("the end of a channel without a message", ch->handle);
		if (rc != (h->ended ? EC_ECLOSED : EC_EEOF))
			die("the end of a channel with the wrong code", ch->handle);
		h->said_end = 1;
		return;
	}
	if (h->said_end)
		die("a channel that said it ended gave a value", ch->handle);
	if (!(h->q = it->next))
		h->tail = &h->q;
	h->q_bytes -= it->len;
	ec_value *want = NULL;
	struct ec_error e2 = {0};
	int rc2 = it->content ? ((want = ec_value_bytes((const char *)it->data, it->len)) ? 0 : EC_ENOMEM)
	                      : ops()->decode(codec.state, it->data, it->len, &want, &e2);
	if (!rc && it->content) {
		h->content += it->len;
		memcpy(h->chain, it->chain, EC_FRAME_DIGEST_LEN);
	}
	uint64_t content_bytes = 0;
	unsigned char chain[EC_FRAME_DIGEST_LEN];
	if (ec__channel_content_taken(ch, &content_bytes, chain))
		abort();
	if (content_bytes != h->content || (h->content && memcmp(chain, h->chain, EC_FRAME_DIGEST_LEN)))
		die("the content taken is not what came", ch->handle);
	if ((rc == 0) != (rc2 == 0))
		die("ec_channel_recv and the codec disagree on a value", ch->handle);
	if (rc && !err.msg[0])
		die("a value refused without a message", ch->handle);
	if (!rc && !fc_has_nan(want) && !ec_value_equal(v, want))
		die("a value came changed or out of order", ch->handle);
	ec_value_free(v);
	ec_value_free(want);
	free(it->data);
	free(it);
}

static void send_one(struct run *r, int k, unsigned char arg)
{
	struct ec_channel *ch = r->slot[k];
	if (!ch)
		return;
	struct hist *h = hist_of(r, ch->handle);
	ec_value *v = arg & 0x80 ? ec_value_bytes("0123456789abcdef0123456789abcdef", arg & 31)
	                         : ec_value_int((int64_t)arg * 1000003);
	struct ec_buf enc;
	ec__buf_init(&enc);
	struct ec_codec_peer peer = {.python_major = r->major};
	struct ec_error err = {0};
	if (!v || ops()->encode(codec.state, &peer, v, &enc, &err))
		abort();
	int rc = ec_channel_send(ch, v, 1, &err);
	drain(r);
	int want = h->closed                          ? EC_EINVAL
	           : h->ended                         ? EC_ECLOSED
	           : h->remote_closed                 ? EC_EEOF
	           : r->dead                          ? EC_ECLOSED
	                                              : 0;
	if (rc != want) {
		fprintf(stderr, "fuzz_channel: send: %d, not %d (%s)\n", rc, want, err.msg);
		die("ec_channel_send answered other than the model", ch->handle);
	}
	if (rc && !err.msg[0])
		die("a send refused without a message", ch->handle);
	if (!rc)
		h->unacked += enc.len;
	ec__buf_free(&enc);
	ec_value_free(v);
}

static void close_one(struct run *r, int k)
{
	struct ec_channel *ch = r->slot[k];
	if (!ch)
		return;
	struct ec_error err = {0};
	if (ec_channel_close(ch, &err))
		die("ec_channel_close failed", ch->handle);
	drain(r);
	hist_of(r, ch->handle)->closed = 1;
}

static void free_one(struct run *r, int k)
{
	struct ec_channel *ch = r->slot[k];
	if (!ch)
		return;
	struct hist *h = hist_of(r, ch->handle);
	ec_channel_free(ch);
	r->slot[k] = NULL;
	drain(r);
	h->freed = 1;
	while (h->q) {
		struct shadow_item *it = h->q;
		h->q = it->next;
		free(it->data);
		free(it);
	}
	h->tail = &h->q;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!m)
		init();
	struct run *r = calloc(1, sizeof(*r));
	if (!r)
		return 0;
	r->major = 3;
	ec__stream_init(&r->st, "fuzz", &m->logger, 1, m->max_message, NULL, NULL);
	r->st.state = EC_STREAM_READY;
	r->calls.next_handle = EC_HANDLE_FIRST_REPLY;
	r->reg = (struct ec_channels){.m = m, .name = "fuzz", .st = &r->st, .calls = &r->calls,
	                              .python_major = &r->major, .codec = &codec};
	for (int k = 0; k < SLOTS; k++)
		open_slot(r, k);
	drain(r);
	uint32_t last_freed = 0;
	size_t i = 0, big_left = 2 * EC_CHANNEL_WINDOW + (1u << 20); /* large frames: time */
	while (i < size) {
		unsigned op = data[i++] & 7;
		unsigned char arg = i < size ? data[i++] : 0;
		int k = arg & 3;
		if (op <= 2) {
			if (size - i < 3)
				break;
			unsigned kb = data[i];
			size_t len = (size_t)data[i + 1] | (size_t)data[i + 2] << 8;
			i += 3;
			uint32_t handle = r->slot[k] ? r->slot[k]->handle : EC_HANDLE_FIRST_REPLY + MAX_HANDLES + 7;
			if (arg & 8)
				handle = last_freed ? last_freed : handle;
			else if (arg & 4)
				handle = EC_HANDLE_FIRST_REPLY + MAX_HANDLES + (arg >> 4);
			uint32_t kind = kb >= 0xf0 ? kb : kb >= 0xe0 ? EC_CHAN_CONTENT : 1 + kb % 4;
			size_t have = size - i;
			unsigned char *p;
			if (op == 2 && big_left) {
				len = (len & 0x7f) << 16;
				len = len < big_left ? len : big_left;
				big_left -= len;
				p = calloc(1, len ? len : 1);
				if (p)
					memcpy(p, data + i, have < len ? have : len);
			} else {
				len = len < have ? len : have;
				p = malloc(len ? len : 1);
				if (p)
					memcpy(p, data + i, len);
			}
			i += len < have ? len : have;
			if (p && !r->dead)
				on_frame(r, handle, kind, p, len);
			free(p);
		} else if (op == 3) {
			recv_one(r, k);
		} else if (op == 4) {
			send_one(r, k, i < size ? data[i++] : 0);
		} else if (op == 5) {
			close_one(r, k);
		} else if (op == 6) {
			if (r->slot[k])
				last_freed = r->slot[k]->handle;
			free_one(r, k);
			open_slot(r, k);
			drain(r);
		} else if (!r->dead) {
			struct ec_error why = {0};
			ec__error_set(&why, EC_EEOF, "fuzz", "the context went");
			stream_end(r, &why);
		}
	}
	/* The application takes what is left (a channel not ended would wait once empty),
	 * then frees its channels; the context goes. */
	for (int k = 0; k < SLOTS; k++) {
		while (r->slot[k]) {
			struct hist *h = hist_of(r, r->slot[k]->handle);
			if (!h->q && !h->remote_closed && !h->ended)
				break;
			int was_end = !h->q;
			recv_one(r, k);
			if (was_end) {
				recv_one(r, k); /* and again: still ended */
				break;
			}
		}
		free_one(r, k);
	}
	pthread_mutex_lock(&m->lock);
	ec__channels_orphan(&r->reg);
	pthread_mutex_unlock(&m->lock);
	drain(r);
	for (int j = 0; j < MAX_HANDLES; j++)
		while (r->h[j].q) {
			struct shadow_item *it = r->h[j].q;
			r->h[j].q = it->next;
			free(it->data);
			free(it);
		}
	ec__stream_free(&r->st);
	free(r);
	return 0;
}
