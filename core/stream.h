/* stream.h: one context's bytes in and out, on the loop's thread: its transport stack
 * started (or a direct boot spawned), the payload written, the boot output read up to
 * the ready marker (and quoted when the boot fails), then frames: queued messages
 * framed and written, incoming frames checked (MAC, sequence, size) and handed to the
 * owner one at a time. The stream knows nothing of calls, logs or modules: what a
 * frame means is the owner's (core/context.c). Every function runs on the loop's
 * thread with the loop's lock held, except where it says otherwise. */
#ifndef EC_CORE_STREAM_H
#define EC_CORE_STREAM_H

#include <pthread.h>
#include <stdint.h>

#include "block.h"
#include "buf.h"
#include "direct.h"
#include "econtext/transport.h"
#include "frame.h"
#include "log.h"
#include "transport.h"

enum ec_stream_state {
	EC_STREAM_NEW,      /* created, not yet seen by the loop */
	EC_STREAM_STARTING, /* transport starting the boot command */
	EC_STREAM_BOOTING,  /* payload written, waiting for the ready marker */
	EC_STREAM_HELLO,    /* marker seen, waiting for the HELLO frame (the owner's) */
	EC_STREAM_READY,    /* the owner took the HELLO: calls may flow */
	EC_STREAM_DEAD      /* closed */
};

/* A message to frame and send. */
struct ec_msg {
	uint32_t handle, reply_to;
	struct ec_buf payload;
	/* reply_to EC_FRAME_CONTENT: its payload is block's bytes (a reference the message
	 * holds; payload is empty), written from there; chain is the digest of its
	 * handle's chain through them, which its MAC covers in place of the bytes (the
	 * sender keeps the chain). */
	struct ec_block *block;
	unsigned char chain[EC_FRAME_DIGEST_LEN];
	struct ec_msg *next;
};

/* A message's payload length (its block's, for content). */
size_t ec__msg_len(const struct ec_msg *q);
/* Free a message not queued (its payload, its block reference). */
void ec__msg_free(struct ec_msg *q);

/* A frame arrived (HELLO or READY): 0, or a negative EC_E* with err filled, which ends
 * the stream. */
typedef int (*ec_stream_frame_fn)(void *owner, const struct ec_frame_hdr *h,
                                  const unsigned char *payload, struct ec_error *err);

/* The chain of content frames (EC_FRAME_CONTENT) that came on one handle: kept by the
 * stream, not by the channel, so that content on a channel the application has freed
 * is still checked (and dropped) until the context closes its side. */
struct ec_chain {
	struct ec_chain *next;
	uint32_t handle;
	void *md;
};

struct ec_stream {
	const char *name; /* the context's, for messages (borrowed) */
	const struct ec_logger *logger;
	unsigned id; /* the context's: frames go to it and must come from it */
	size_t max_message;
	ec_stream_frame_fn on_frame;
	void *owner;
	/* Whether handle may start a chain of content (a channel of the owner's), m->lock
	 * held; NULL: no content taken. */
	int (*takes_content)(void *owner, uint32_t handle);
	struct ec_chain *chains; /* loop-owned, as mac_in */
	unsigned nchains;
	/* The lock the loop holds around ec__stream_read (the master's), or NULL: let go
	 * while a large frame's bytes are hashed (only the loop's thread touches rbuf and
	 * mac_in), so the application may take what came before it meanwhile. */
	pthread_mutex_t *lock;

	enum ec_stream_state state; /* under the lock: read by other threads */
	struct ec_transport *transport; /* top of the stack (core/transport.h) */
	struct ec_argv argv;             /* the boot command */
	/* Under the lock: the connecting thread still builds the payload (key, MACs,
	 * core) while the interpreter starts; until then no frame is parsed. */
	int pending;
	/* A direct boot (core/direct.h): its pipes and what they carry, loop-owned once
	 * attached (the connecting thread fills prog and code under the lock while
	 * pending); freed when fed or when the stream closes. */
	struct ec_direct *direct;
	struct ec_msg *outq, **outq_tail;
	size_t outq_bytes; /* the payloads queued, not yet framed */
	/* Small messages to batch_handle queued one after the other go as one frame to
	 * batch_as (0: never): each its reply_to and length, then its payload (the
	 * context's CALLS, docs/protocol.md 3). */
	uint32_t batch_handle, batch_as;

	struct ec_buf rbuf, wbuf;
	/* A content frame's payload being written after what wbuf holds (its header), from
	 * its block (a reference), then its MAC: nothing more is framed until then. */
	struct ec_block *out_block;
	size_t out_block_pos;
	unsigned char out_block_mac[EC_FRAME_MAC_LEN];
	size_t wpos; /* wbuf's bytes before it are written: sent from there, and moved to
	              * the front only once they are as many as those left (ec__stream_flush),
	              * not at each partial write (a 4 MiB window went through memmove ~20
	              * times) */
	size_t rframe;          /* size of the frame at the start of rbuf, once its header is
	                         * in (0: not known): rbuf grows to it exactly */
	int rbuf_taken;         /* ec__stream_take_frame took rbuf's memory (and the frame) */
	/* Under the lock: memory for the read buffer that follows a taken frame, its pages
	 * already touched by the application thread that took the frame before
	 * (ec__stream_offer_spare): the next large frame lands there without a page
	 * fault on the loop's thread. Freed with an idle rbuf. */
	struct ec_buf spare;
	long long rbuf_idle_ms; /* rbuf, empty, is freed at this time (0: not armed) */
	long long wbuf_idle_ms; /* wbuf, all written, is freed at this time (0: not armed) */
	struct ec_frame_mac mac_in, mac_out;
	struct ec_pollset ps; /* what start waits for, when it said EC_EAGAIN */
	char bootlog[4096];   /* the tail of what the command printed before the marker */
	size_t bootlog_len;
	char boot_line[512]; /* partial line of boot output */
	size_t boot_line_len;
	int boot_marker_seen; /* the first stage's boot marker was taken out */
};

/* Any thread, before the stream is handed to the loop. name and logger outlive it. */
void ec__stream_init(struct ec_stream *s, const char *name, const struct ec_logger *logger,
                     unsigned id, size_t max_message, ec_stream_frame_fn on_frame,
                     void *owner);
/* The digest of the content chain through the content frame on_frame was given. */
const unsigned char *ec__stream_content_digest(const struct ec_stream *s);
/* Queue a message (the stream takes it); framed on the next ec__stream_flush. */
void ec__stream_queue(struct ec_stream *s, struct ec_msg *msg);
/* The top layer's start (or the direct boot's spawn): 0 when the stream is open,
 * EC_EAGAIN with s->ps filled (and s->ps.timeout_ms for the layer's own timer), or an
 * error. */
int ec__stream_start(struct ec_stream *s, struct ec_error *err);
/* Frame every queued message into the write buffer (READY). */
int ec__stream_flush(struct ec_stream *s, struct ec_error *err);
/* A direct boot, once the payload is built: write it to the interpreter's pipes. */
int ec__stream_feed_direct(struct ec_stream *s, struct ec_error *err);
/* Write what the write buffer holds (and a content frame's block after it), as far as
 * the transport takes it. */
int ec__stream_write(struct ec_stream *s, struct ec_error *err);
/* Whether framed bytes wait to be written (ec__stream_write has work). */
int ec__stream_has_output(const struct ec_stream *s);
/* The bytes queued or framed and not yet written. */
size_t ec__stream_unsent(const struct ec_stream *s);
/* Free an empty read buffer idle since its timer (now), and lower *next to that timer. */
void ec__stream_idle(struct ec_stream *s, long long now, long long *next);
/* What to poll for (ps given empty): start's pollset while starting, then what the
 * transport says it needs to read (and write, with bytes queued); its timer too. */
void ec__stream_pollset(struct ec_stream *s, struct ec_pollset *ps);
/* Read what the transport has and process it: boot output, then frames (to the owner).
 * 0: open (wait for more); 1: the stream ended cleanly after READY; a negative EC_E*
 * with err filled: the stream failed (a boot failure quotes the command's output). */
int ec__stream_read(struct ec_stream *s, struct ec_error *err);
/* The boot failed (code, what: "did not start within 30.0 s"): err says so, quoting the
 * tail of what the command printed. Returns code. */
int ec__stream_boot_error(struct ec_stream *s, int code, const char *what,
                          struct ec_error *err);
/* A large frame at the start of the read buffer (h, payload as on_frame got them) given
 * away whole: *out becomes that buffer, the payload at *off. 0 when taken; -1 when the
 * frame is small or not first (copy it). From on_frame only. */
/* Offer b (empty, its pages touched) as the next read buffer's memory; the lock held.
 * Taken (b emptied) when the stream is READY and has none; else b stays the caller's. */
void ec__stream_offer_spare(struct ec_stream *s, struct ec_buf *b);
int ec__stream_take_frame(struct ec_stream *s, const struct ec_frame_hdr *h,
                          const unsigned char *payload, struct ec_buf *out, size_t *off);
/* Close the transport (kill after grace_ms), drop what is queued, wipe the MACs. The
 * children the transport hands the reaper count for the source the caller names
 * (ec__reaper_closing). */
void ec__stream_close(struct ec_stream *s, int grace_ms);
/* Destroy the transport stack and free everything (the loop's thread, after close and
 * once the children are reaped; or any thread if the loop never had it). */
void ec__stream_free(struct ec_stream *s);

#endif
