/* fuzz_frame.c: libFuzzer target for the frame reader (core/frame.c, ec__frame_decode)
 * as the stream reads it: bytes arrive in two pieces, split at every boundary, and
 * whole frames are taken from the front while they are complete.
 *
 * The input's first byte picks the decoder's size limit and a mode. Raw: the rest is
 * the stream itself (nearly every frame fails its MAC: the header checks and the
 * refusals). Built: the rest describes frames that are encoded with the fixed key,
 * one of them perhaps with a bit flipped, some perhaps larger than EC_FRAME_HASH_EARLY
 * (hashed while they arrive), those whose reply_to is EC_FRAME_CONTENT encoded as
 * content on their handle's chain (the reader keeps one a handle, as the stream
 * does); then every frame before the damaged one must come back as it was sent (a
 * content frame with its chain's digest), the damaged one never, and a frame over the
 * limit is refused from its header (EC_EMSGSIZE). Any other outcome aborts: a
 * finding.
 *
 * In raw mode the rest is also split as a batch frame's payload (REPLIES, CALLS:
 * ec__frame_split_batch): every part handed out lies inside it, right after its own
 * 8-byte head, in order, with a handle at least the least asked; a success covers every
 * byte; a refusal says where it stopped, within the payload, after the last part. */
#include "ecbuild.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "frame.h"

#define MAX_FRAMES 16
#define CHAINS 256 /* content chains, by handle modulo this */

static const unsigned char key[EC_FRAME_KEY_LEN] = "fuzz-frame-key-0123456789abcdef";

struct sent {
	struct ec_frame_hdr h;
	unsigned char chain[EC_FRAME_DIGEST_LEN]; /* content: its chain's digest through it */
	size_t off, len; /* its payload within the payload store */
	size_t at, end;  /* its bytes within the stream */
};

struct expect {
	struct sent f[MAX_FRAMES];
	size_t n;
	size_t damaged; /* index of the frame with a flipped bit, or n */
	const unsigned char *payloads;
};

#define CHECK(c)                                                                         \
	do {                                                                             \
		if (!(c)) {                                                              \
			fprintf(stderr, "fuzz_frame: %s:%d: %s\n", __FILE__, __LINE__, #c); \
			abort();                                                         \
		}                                                                        \
	} while (0)

/* Read the stream as core/stream.c does, with its bytes made available in two pieces:
 * [0, split) then the rest. Checks what came out against ex (NULL: raw, no oracle). */
static void read_split(const unsigned char *s, size_t len, size_t split, size_t max_len,
                       const struct expect *ex)
{
	struct ec_frame_mac mac;
	CHECK(ec__frame_mac_init(&mac, key, EC_FRAME_DIR_CONTEXT) == 0);
	void *chains[CHAINS] = {0};
	size_t pos = 0, got = 0;
	int failed = 0;
	for (int piece = 0; piece < 2 && !failed; piece++) {
		size_t avail = piece ? len : split;
		while (pos < avail) {
			struct ec_frame_hdr h;
			const unsigned char *p = NULL;
			size_t used = 0;
			struct ec_error err = {0};
			if (avail - pos >= EC_FRAME_HEADER_LEN &&
			    ec__frame_get32(s + pos + 12) == EC_FRAME_CONTENT) {
				void **c = &chains[ec__frame_get32(s + pos + 8) % CHAINS];
				CHECK(*c || (*c = ec__frame_chain_new()));
				mac.chain = *c;
			}
			int rc = ec__frame_decode(&mac, s + pos, avail - pos, max_len, "context fuzz",
			                          &h, &p, &used, &err);
			if (rc == 0) {
				CHECK(used == 0 || used > avail - pos);
				break;
			}
			if (rc < 0) {
				CHECK(rc == EC_EPROTO || rc == EC_EMSGSIZE);
				CHECK(err.code == rc && err.msg[0]);
				if (ex) {
					CHECK(got < ex->n);
					const struct sent *f = &ex->f[got];
					CHECK(got == ex->damaged ||
					      (rc == EC_EMSGSIZE && f->h.length > max_len));
				}
				failed = 1;
				break;
			}
			CHECK(rc == 1);
			CHECK(used >= EC_FRAME_HEADER_LEN + EC_FRAME_MAC_LEN && used <= avail - pos);
			CHECK(h.length == used - EC_FRAME_HEADER_LEN - EC_FRAME_MAC_LEN);
			CHECK(h.length <= max_len);
			if (ex) {
				CHECK(got < ex->n && got != ex->damaged);
				const struct sent *f = &ex->f[got];
				CHECK(f->at == pos && f->end == pos + used);
				CHECK(!memcmp(&h, &f->h, sizeof(h)));
				CHECK(!memcmp(p, ex->payloads + f->off, f->len));
				CHECK(f->h.reply_to != EC_FRAME_CONTENT ||
				      !memcmp(mac.chain_digest, f->chain, EC_FRAME_DIGEST_LEN));
			}
			CHECK(!mac.chain);
			got++;
			pos += used;
		}
	}
	/* Everything sent came back, up to the damaged or oversized frame. */
	if (ex && !failed)
		CHECK(got == ex->n || got == ex->damaged);
	for (int c = 0; c < CHAINS; c++)
		ec__frame_chain_free(chains[c]);
	ec__frame_mac_close(&mac);
}

/* Built mode: frames from the description in d. */
static void built(const unsigned char *d, size_t n, size_t max_len)
{
	static struct expect ex;
	struct ec_buf stream, payloads;
	ec__buf_init(&stream);
	ec__buf_init(&payloads);
	struct ec_frame_mac tx;
	CHECK(ec__frame_mac_init(&tx, key, EC_FRAME_DIR_CONTEXT) == 0);
	void *chains[CHAINS] = {0};
	memset(&ex, 0, sizeof(ex));
	size_t i = 0;
	int large = 0;
	while (ex.n < MAX_FRAMES && i + 5 <= n) {
		unsigned flags = d[i], plen = d[i + 1];
		struct sent *f = &ex.f[ex.n];
		f->h = (struct ec_frame_hdr){.dst = d[i + 2] & 3, .src = 0,
		                             .handle = d[i + 3], .reply_to = d[i + 4]};
		i += 5;
		if (plen > n - i)
			plen = (unsigned)(n - i);
		f->off = payloads.len;
		/* Large (one an input): the payload repeated past EC_FRAME_HASH_EARLY. */
		int big = (flags & 1) && !large++;
		size_t want = big ? EC_FRAME_HASH_EARLY + plen * 97u + (flags >> 4) : plen;
		CHECK(ec__buf_reserve(&payloads, want + 1) == 0);
		for (size_t k = 0; k < want; k++)
			payloads.data[payloads.len + k] = plen ? d[i + k % plen] : (unsigned char)k;
		payloads.len += want;
		f->len = want;
		f->h.length = (uint32_t)want;
		i += plen;
		f->at = stream.len;
		if (f->h.reply_to == EC_FRAME_CONTENT) {
			void **c = &chains[f->h.handle % CHAINS];
			CHECK(*c || (*c = ec__frame_chain_new()));
			CHECK(EVP_DigestUpdate(*c, payloads.data + f->off, f->len) == 1);
			CHECK(ec__frame_chain_digest(*c, NULL, f->chain) == 0);
			CHECK(ec__frame_encode_content(&tx, &f->h, payloads.data + f->off, f->chain,
			                               &stream) == 0);
		} else {
			CHECK(ec__frame_encode(&tx, &f->h, payloads.data + f->off, &stream) == 0);
		}
		f->end = stream.len;
		ex.n++;
	}
	ex.damaged = ex.n;
	/* A flipped bit (not in the length field: that moves the frame's end instead). */
	if (i + 3 <= n && (d[i] & 1) && ex.n) {
		size_t which = d[i + 1] % ex.n, span = ex.f[which].end - ex.f[which].at;
		size_t at = ex.f[which].at + ((size_t)d[i + 2] * 7919u) % span;
		if (at - ex.f[which].at < 16 || at - ex.f[which].at >= EC_FRAME_HEADER_LEN) {
			stream.data[at] ^= (unsigned char)(1u << (d[i] >> 5));
			ex.damaged = which;
		}
	}
	ex.payloads = payloads.data;
	/* Every split of a small stream; around every part of every frame of a large one. */
	if (stream.len <= 2048) {
		for (size_t s = 0; s <= stream.len; s++)
			read_split(stream.data, stream.len, s, max_len, &ex);
	} else {
		for (size_t k = 0; k < ex.n; k++) {
			size_t marks[] = {ex.f[k].at, ex.f[k].at + 1, ex.f[k].at + EC_FRAME_HEADER_LEN,
			                  ex.f[k].at + EC_FRAME_HEADER_LEN + 1,
			                  ex.f[k].end - EC_FRAME_MAC_LEN, ex.f[k].end - 1};
			for (size_t m = 0; m < sizeof(marks) / sizeof(marks[0]); m++)
				if (marks[m] <= stream.len)
					read_split(stream.data, stream.len, marks[m], max_len, &ex);
		}
		read_split(stream.data, stream.len, stream.len, max_len, &ex);
	}
	for (int c = 0; c < CHAINS; c++)
		ec__frame_chain_free(chains[c]);
	ec__frame_mac_close(&tx);
	ec__buf_free(&stream);
	ec__buf_free(&payloads);
}

struct batch {
	const unsigned char *p;
	size_t n, next; /* where the next part's head must start */
	uint32_t min;
	int stop_at;    /* the part whose callback says stop (-1: none) */
	int parts;
};

static int batch_part(void *arg, uint32_t handle, const unsigned char *body, size_t len)
{
	struct batch *b = arg;
	CHECK(handle >= b->min);
	CHECK(body == b->p + b->next + 8);
	CHECK(len <= b->n - b->next - 8);
	b->next += 8 + len;
	return b->parts++ == b->stop_at ? -1005 : 0;
}

static void split_batch(const unsigned char *p, size_t n, uint32_t min, int stop_at)
{
	struct batch b = {p, n, 0, min, stop_at, 0};
	size_t at = (size_t)-1;
	int rc = ec__frame_split_batch(p, n, min, batch_part, &b, &at);
	int stopped = stop_at >= 0 && b.parts > stop_at;
	if (rc == 0)
		CHECK(n > 0 && b.next == n && at == (size_t)-1 && !stopped);
	else if (rc == 1)
		CHECK(at <= n && at >= b.next && at <= b.next + 8 && !stopped);
	else
		CHECK(rc == -1005 && b.parts == stop_at + 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	static const size_t limits[] = {0, 1, 64, 4096, EC_FRAME_HASH_EARLY, 64u << 20};
	size_t max_len = limits[(data[0] >> 1) % 6];
	if (data[0] & 1) {
		built(data + 1, size - 1, max_len);
	} else {
		size_t len = size - 1;
		for (size_t s = 0; s <= len; s++)
			read_split(data + 1, len, s, max_len, NULL);
		split_batch(data + 1, len, data[0] & 2 ? 1000 : 0, -1);
		split_batch(data + 1, len, 0, data[0] >> 4);
	}
	return 0;
}
