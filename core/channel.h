/* channel.h: channels: values streamed both ways between the master and a function
 * running in a context (docs/protocol.md, "Channels"). A context keeps its channels in
 * a struct ec_channels; the loop's thread hands them the frames on their handles
 * (data, close, acknowledgements), application threads send and receive. Each
 * direction has a window of unacknowledged bytes: a sender waits once it is full, and a
 * receiver acknowledges what its application took, so neither side's memory grows with
 * a slow reader. All under the master's lock. */
#ifndef EC_CORE_CHANNEL_H
#define EC_CORE_CHANNEL_H

#include <pthread.h>
#include <stdint.h>

#include "call.h"
#include "frame.h"
#include "stream.h"
#include "watch.h"

/* Unacknowledged bytes a sender may have in flight on one channel, each way. */
#define EC_CHANNEL_WINDOW (4u << 20)

/* The kinds of frames on a channel's handle (the frame's reply_to field); VALUES, from
 * a context only: values sent in a burst, each one's length (4 bytes, big-endian) then
 * its bytes, taken as that many DATA frames; CONTENT: raw bytes (a file's chunk) whose
 * frame MAC covers the channel's chain (frame.h). */
enum { EC_CHAN_DATA = 1, EC_CHAN_CLOSE = EC_FRAME_CONTENT_END, EC_CHAN_ACK = 3, EC_CHAN_VALUES = 4,
       EC_CHAN_CONTENT = EC_FRAME_CONTENT };

struct ec_channel_item {
	struct ec_channel_item *next;
	size_t len;
	/* A large DATA frame: the stream's read buffer, taken whole (the value at buf.data +
	 * off), which the codec may keep as the value's memory (decode_buf): no copy on
	 * the loop's thread, none on the application's. Else buf is empty and the value
	 * is in data. */
	struct ec_buf buf;
	size_t off;
	/* CONTENT: raw bytes, not an encoding; chain is its chain's digest through it. */
	int content;
	unsigned char chain[EC_FRAME_DIGEST_LEN];
	unsigned char data[]; /* an encoded value, len bytes (one allocation with the item) */
};

/* A context's channels; the context fills in where they write and what they are of. */
struct ec_channels {
	struct ec_channel *list;
	ec_master *m;
	const char *name;         /* the context's */
	struct ec_stream *st;     /* where frames go (READY) */
	struct ec_calls *calls;   /* handles come from its counter */
	const int *python_major;  /* for the codec */
	const struct ec_loaded_plugin *codec; /* the context's */
	const struct ec_error *fail;          /* why the context died (its fail) */
};

struct ec_channel {
	ec_master *m;
	struct ec_channels *reg; /* NULL once its context is gone */
	const struct ec_loaded_plugin *codec; /* the context's (a plugin outlives it) */
	char ctx_name[128];
	uint32_t handle;
	pthread_cond_t cond; /* data, an acknowledgement, the end */
	struct ec_channel_item *inq, **inq_tail;
	size_t inq_bytes;    /* received, not yet taken by the application */
	size_t unacked;      /* sent, not yet acknowledged by the context */
	size_t to_ack;       /* taken by the application, not yet acknowledged */
	int closed;          /* the master closed it: sends refused */
	int remote_closed;   /* the context closed it: nothing more will come */
	struct ec_msg *close_msg; /* its CLOSE, made with it: closing cannot fail for memory */
	/* The content values the application took: their bytes and the digest of their
	 * chain through the last (the SHA-256 of them all, checked frame by frame). */
	uint64_t content_bytes;
	unsigned char content_chain[EC_FRAME_DIGEST_LEN];
	int ended;           /* the context is gone (or the stream): end_why says why */
	struct ec_error end_why;
	struct ec_watch watch;
	struct ec_channel *next; /* in reg */
};

/* A new channel of the context whose registry this is (m->lock held): queues its
 * CHANNEL_OPEN. EC_ECLOSED when the context takes no more messages. */
int ec__channel_new(struct ec_channels *reg, struct ec_channel **out, struct ec_error *err);
/* A frame on handle h (the loop's thread, m->lock held): 1 when it was a channel's
 * (then 0 or an error in *rc), 0 when no channel has that handle. */
int ec__channels_on_frame(struct ec_channels *reg, const struct ec_frame_hdr *h,
                          const unsigned char *payload, int *rc, struct ec_error *err);
/* The context is gone (m->lock held): every channel ends, why says why. */
void ec__channels_end(struct ec_channels *reg, const struct ec_error *why);
/* Its registry goes (the context is freed): the channels stay, ended. */
void ec__channels_orphan(struct ec_channels *reg);
/* Whether handle is a channel of reg's (m->lock held): it may send content. */
int ec__channels_has(const struct ec_channels *reg, uint32_t handle);
/* Send the bytes of block b as content (EC_CHAN_CONTENT): raw, no codec, written from
 * b itself (the message takes a reference; the caller keeps its own and changes no
 * byte of b while another is held: ec__block_unshared); chain is the digest of the
 * SHA-256 of every content the caller sent on ch, these bytes included (the caller
 * keeps the chain: a file's digest as it reads it, one for many channels). As
 * ec_channel_send otherwise. */
int ec__channel_send_content(ec_channel *ch, struct ec_block *b,
                             const unsigned char chain[EC_FRAME_DIGEST_LEN], int timeout_ms,
                             struct ec_error *err);
/* The next value of ch, which must be content, as ec_channel_recv takes it but not
 * made a value: its len bytes at out->data + *off (out freed first and taken: the
 * frame's read buffer, or a copy). 1 when the value is not content (taken and
 * dropped), else as ec_channel_recv. */
int ec__channel_recv_content(ec_channel *ch, int timeout_ms, struct ec_buf *out, size_t *off,
                             size_t *len, struct ec_error *err);
/* The content the application took on ch so far: its bytes, and the digest of its
 * chain (the SHA-256 of all of it, each frame of it checked against the sender's; of
 * nothing before any). 0, or EC_ENOMEM. */
int ec__channel_content_taken(ec_channel *ch, uint64_t *bytes,
                              unsigned char chain[EC_FRAME_DIGEST_LEN]);
/* Something to take (a value, or its end): what a select waits for. */
int ec__channel_ready(const struct ec_channel *ch);
/* The bytes (encoded values) sent on ch that its context has not acknowledged yet:
 * what a put's progress subtracts from what it sent (any thread; takes the master's
 * lock). */
size_t ec__channel_unacked(struct ec_channel *ch);

#endif
