/* frame.h: the wire format (docs/protocol.md §2). A fixed 20-byte header, the payload,
 * and an HMAC-SHA256 over a direction byte, an implicit per-direction sequence number,
 * the header and the payload. */
#ifndef EC_CORE_FRAME_H
#define EC_CORE_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define EC_FRAME_HEADER_LEN 20
#define EC_FRAME_MAC_LEN 32
#define EC_FRAME_KEY_LEN 32
#define EC_FRAME_DIGEST_LEN 32
/* A frame whose reply_to is this is a channel's content (docs/protocol.md 2): raw
 * bytes, authenticated through its chain, HMAC(key, dir || seq || header || SHA-256 of
 * every content payload on its handle in its direction so far, its own included), so
 * that the chain is also the SHA-256 of a file sent as content: one pass, not two. */
#define EC_FRAME_CONTENT 5
/* A channel's close (kind 2): nothing more from its sender, whose chain ends. */
#define EC_FRAME_CONTENT_END 2
#define EC_FRAME_DIR_MASTER 'M' /* master -> context */
#define EC_FRAME_DIR_CONTEXT 'C' /* context -> master */

struct ec_frame_hdr {
	uint32_t dst;
	uint32_t src;
	uint32_t handle;
	uint32_t reply_to;
	uint32_t length;
};

/* One direction's MAC state: key, direction byte and the next sequence number. */
struct ec_frame_mac {
	unsigned char key[EC_FRAME_KEY_LEN];
	char dir;
	uint64_t seq;
	void *ctx;  /* EVP_MAC_CTX */
	size_t fed; /* bytes of the incoming frame already hashed (0: none yet) */
	/* Content frames (EC_FRAME_CONTENT): the incoming one's chain (an EVP_MD_CTX the
	 * caller owns and sets before the frame's first byte is hashed), a scratch copy
	 * to finish, and the chain's digest through the last content frame decoded. */
	void *chain;
	void *scratch;
	unsigned char chain_digest[EC_FRAME_DIGEST_LEN];
};

/* A frame at least this long is hashed while it arrives (ec__frame_decode). */
#define EC_FRAME_HASH_EARLY (256 * 1024)

int ec__frame_mac_init(struct ec_frame_mac *m, const unsigned char key[EC_FRAME_KEY_LEN], char dir);
/* Wipes the key. */
void ec__frame_mac_close(struct ec_frame_mac *m);

void ec__frame_hdr_pack(const struct ec_frame_hdr *h, unsigned char out[EC_FRAME_HEADER_LEN]);
void ec__frame_hdr_unpack(const unsigned char in[EC_FRAME_HEADER_LEN], struct ec_frame_hdr *h);
/* A 32-bit big-endian number at p (the header's, a channel batch's lengths). */
uint32_t ec__frame_get32(const unsigned char *p);
/* The same, written. */
void ec__frame_put32(unsigned char *p, uint32_t v);
/* A batch frame's parts (REPLIES, CALLS: docs/protocol.md 3), each a 4-byte handle, a
 * 4-byte length, then that many bytes: each(arg, handle, body, len) in order, for p's
 * n bytes. 0 when they fill it exactly (and n > 0); 1 when it is malformed (a part cut
 * short, a handle under min_handle, nothing at all), *bad_at then the offset where it
 * stopped; else what each returned (nonzero: the rest is not looked at). */
int ec__frame_split_batch(const unsigned char *p, size_t n, uint32_t min_handle,
                          int (*each)(void *arg, uint32_t handle, const unsigned char *body,
                                      size_t len),
                          void *arg, size_t *bad_at);

/* Write the MAC of the frame built in place at p (its header packed, then its payload)
 * after it, and advance the sequence number. */
int ec__frame_seal(struct ec_frame_mac *m, unsigned char *p);
/* Append header, payload and MAC to out and advance the sequence number. */
int ec__frame_encode(struct ec_frame_mac *m, const struct ec_frame_hdr *h, const void *payload,
                     struct ec_buf *out);
/* The same for a content frame (h->reply_to EC_FRAME_CONTENT): its MAC over chain, the
 * digest of its handle's chain through this payload, which the caller keeps. */
int ec__frame_encode_content(struct ec_frame_mac *m, const struct ec_frame_hdr *h,
                             const void *payload, const unsigned char chain[EC_FRAME_DIGEST_LEN],
                             struct ec_buf *out);
/* A content frame's header appended to out, and its MAC (over chain) in mac, which the
 * caller writes after the payload; the sequence number advanced. A stream sends a
 * payload shared with others from where it is (core/block.h) this way. */
int ec__frame_content_head(struct ec_frame_mac *m, const struct ec_frame_hdr *h,
                           const unsigned char chain[EC_FRAME_DIGEST_LEN], struct ec_buf *out,
                           unsigned char mac[EC_FRAME_MAC_LEN]);
/* A new chain (an EVP_MD_CTX at SHA-256's start), or NULL; freed with the next. */
void *ec__frame_chain_new(void);
void ec__frame_chain_free(void *chain);
/* The chain's digest so far, the chain left as it is: 0 or EC_ENOMEM. */
int ec__frame_chain_digest(void *chain, void *scratch, unsigned char out[EC_FRAME_DIGEST_LEN]);

/* Look for one frame at data[0..avail). Returns 0 when more bytes are needed (then
 * *consumed is the whole frame's size once its header is in, else 0; a large frame's
 * bytes so far are hashed, and the next call must show the same frame at data[0]),
 * 1 when a
 * frame is complete (h, *payload pointing into data, *consumed set; the sequence number
 * advances), or EC_EMSGSIZE (length over max_len, known from the header alone, before
 * anything is allocated) / EC_EPROTO (bad MAC) with err filled. A content frame is
 * hashed into m->chain, which the caller sets first (m->chain_digest is then its chain's
 * digest through it); m->chain is NULL again once it is decoded. `who` names the peer in
 * messages ("context web1"). */
/* A large frame (EC_FRAME_HASH_EARLY or more, not over max_len) at data[0..avail):
 * hash what came of it that is not hashed yet, so that the ec__frame_decode that
 * follows, on the same bytes, has little left to hash (the stream does this with the
 * master's lock let go). Nothing for a small frame or a header not yet in. 0, or
 * EC_ENOMEM. */
int ec__frame_hash_ahead(struct ec_frame_mac *m, const unsigned char *data, size_t avail,
                         size_t max_len);
int ec__frame_decode(struct ec_frame_mac *m, const unsigned char *data, size_t avail,
                     size_t max_len, const char *who, struct ec_frame_hdr *h,
                     const unsigned char **payload, size_t *consumed, struct ec_error *err);

#endif
