/* test_frame.c: frame encoding, decoding, MAC failures, replay, reflection, oversize,
 * hashing ahead. */
#include "ecbuild.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "frame.h"
#include "testutil.h"

static const unsigned char key[32] = "0123456789abcdef0123456789abcdef";

static void encode_one(struct ec_frame_mac *m, struct ec_buf *out, uint32_t handle, const char *p)
{
	struct ec_frame_hdr h = {.dst = 1, .src = 0, .handle = handle, .reply_to = 1000,
	                         .length = (uint32_t)strlen(p)};
	CU_ASSERT_EQUAL(ec__frame_encode(m, &h, p, out), 0);
}

static void test_roundtrip(void)
{
	struct ec_frame_mac tx, rx;
	ec__frame_mac_init(&tx, key, 'M');
	ec__frame_mac_init(&rx, key, 'M');
	struct ec_buf b;
	ec__buf_init(&b);
	encode_one(&tx, &b, 2, "hello");
	encode_one(&tx, &b, 3, "");
	CU_ASSERT_EQUAL(b.len, 2 * (20 + 32) + 5);
	struct ec_frame_hdr h;
	const unsigned char *p;
	size_t used;
	struct ec_error err = {0};
	/* Every prefix shorter than the frame asks for more, and says how much in all once
	 * the header is in. */
	for (size_t n = 0; n < 57; n++) {
		CU_ASSERT_EQUAL(ec__frame_decode(&rx, b.data, n, 1 << 20, "t", &h, &p, &used, &err), 0);
		CU_ASSERT_EQUAL(used, n < 20 ? 0 : 57);
	}
	CU_ASSERT_EQUAL(ec__frame_decode(&rx, b.data, b.len, 1 << 20, "t", &h, &p, &used, &err), 1);
	CU_ASSERT_EQUAL(h.handle, 2);
	CU_ASSERT_EQUAL(h.reply_to, 1000);
	CU_ASSERT_EQUAL(h.length, 5);
	CU_ASSERT_EQUAL(memcmp(p, "hello", 5), 0);
	CU_ASSERT_EQUAL(used, 57);
	CU_ASSERT_EQUAL(ec__frame_decode(&rx, b.data + used, b.len - used, 1 << 20, "t", &h, &p, &used, &err), 1);
	CU_ASSERT_EQUAL(h.handle, 3);
	CU_ASSERT_EQUAL(h.length, 0);
	ec__buf_free(&b);
	ec__frame_mac_close(&tx);
	ec__frame_mac_close(&rx);
}

static void test_corrupt(void)
{
	struct ec_frame_mac tx, rx;
	ec__frame_mac_init(&tx, key, 'C');
	struct ec_buf b;
	ec__buf_init(&b);
	encode_one(&tx, &b, 2, "payload");
	/* Flip each byte in turn: header, payload and MAC are all covered. */
	for (size_t i = 0; i < b.len; i++) {
		if (i >= 16 && i < 20)
			continue; /* the length field changes the frame's extent instead */
		ec__frame_mac_init(&rx, key, 'C');
		b.data[i] ^= 0x40;
		struct ec_frame_hdr h;
		const unsigned char *p;
		size_t used;
		struct ec_error err = {0};
		CU_ASSERT_EQUAL(ec__frame_decode(&rx, b.data, b.len, 1 << 20, "context x", &h, &p, &used, &err),
		                EC_EPROTO);
		CU_ASSERT_EQUAL(err.code, EC_EPROTO);
		CU_ASSERT_STRING_EQUAL(err.where, "context x");
		CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "authentication"));
		b.data[i] ^= 0x40;
		ec__frame_mac_close(&rx);
	}
	ec__buf_free(&b);
	ec__frame_mac_close(&tx);
}

static void test_replay_reflect_wrongkey(void)
{
	struct ec_frame_mac tx, rx, rx2, rxk;
	ec__frame_mac_init(&tx, key, 'M');
	ec__frame_mac_init(&rx, key, 'M');
	ec__frame_mac_init(&rx2, key, 'C'); /* the other direction */
	unsigned char other[32];
	memset(other, 7, sizeof(other));
	ec__frame_mac_init(&rxk, other, 'M');
	struct ec_buf b;
	ec__buf_init(&b);
	encode_one(&tx, &b, 2, "x");
	struct ec_frame_hdr h;
	const unsigned char *p;
	size_t used;
	struct ec_error err = {0};
	CU_ASSERT_EQUAL(ec__frame_decode(&rx, b.data, b.len, 100, "t", &h, &p, &used, &err), 1);
	/* The same frame again: its sequence number is past. */
	CU_ASSERT_EQUAL(ec__frame_decode(&rx, b.data, b.len, 100, "t", &h, &p, &used, &err), EC_EPROTO);
	/* Reflected back at its sender's direction. */
	CU_ASSERT_EQUAL(ec__frame_decode(&rx2, b.data, b.len, 100, "t", &h, &p, &used, &err), EC_EPROTO);
	CU_ASSERT_EQUAL(ec__frame_decode(&rxk, b.data, b.len, 100, "t", &h, &p, &used, &err), EC_EPROTO);
	ec__buf_free(&b);
	ec__frame_mac_close(&tx);
	ec__frame_mac_close(&rx);
	ec__frame_mac_close(&rx2);
	ec__frame_mac_close(&rxk);
}

/* len letters and a NUL (a large frame's payload). */
static char *letters(size_t len)
{
	char *big = malloc(len + 1);
	CU_ASSERT_FATAL(big != NULL);
	for (size_t i = 0; i < len; i++)
		big[i] = (char)('a' + i % 26);
	big[len] = 0;
	return big;
}

/* Both ends keyed; b holds the frame of big on handle, then a small one on handle + 1. */
static void two_frames(struct ec_frame_mac *tx, struct ec_frame_mac *rx, struct ec_buf *b,
                       const char *big, uint32_t handle)
{
	ec__frame_mac_init(tx, key, 'C');
	ec__frame_mac_init(rx, key, 'C');
	ec__buf_init(b);
	encode_one(tx, b, handle, big);
	encode_one(tx, b, handle + 1, "next");
}

/* A large frame is hashed while it arrives: fed in uneven pieces, moved in memory
 * between calls (as the read buffer is consumed), it decodes, and the frame after it
 * too; a byte changed in transit fails the MAC, in the first piece as in the last. */
static void test_large_in_pieces(void)
{
	size_t len = 3 * EC_FRAME_HASH_EARLY + 12345;
	char *big = letters(len);
	for (int corrupt = 0; corrupt < 3; corrupt++) {
		struct ec_frame_mac tx, rx;
		struct ec_buf b;
		two_frames(&tx, &rx, &b, big, 7);
		size_t total = 20 + len + 32;
		struct ec_frame_hdr h;
		const unsigned char *p;
		size_t used;
		struct ec_error err = {0};
		unsigned char *moved = malloc(b.len + 64);
		CU_ASSERT_FATAL(moved != NULL);
		if (corrupt) /* in transit: a byte of the first piece, or of the last one */
			b.data[corrupt == 1 ? 100 : total - 40] ^= 1;
		size_t n = 0, step = 1000;
		int rc = 0;
		while (n < total) {
			n = n + step > total ? total : n + step;
			step = step * 3 + 7;
			size_t shift = n % 64;
			memcpy(moved + shift, b.data, n);
			rc = ec__frame_decode(&rx, moved + shift, n, 1 << 24, "t", &h, &p, &used, &err);
			if (rc != 0)
				break;
			CU_ASSERT_EQUAL(used, total);
			if (n >= EC_FRAME_HASH_EARLY)
				CU_ASSERT(rx.fed > 0); /* hashed early indeed */
		}
		if (corrupt) {
			CU_ASSERT_EQUAL(rc, EC_EPROTO);
		} else {
			CU_ASSERT_EQUAL(rc, 1);
			CU_ASSERT_EQUAL(h.handle, 7);
			CU_ASSERT_EQUAL(h.length, len);
			CU_ASSERT_EQUAL(memcmp(p, big, len), 0);
			CU_ASSERT_EQUAL(ec__frame_decode(&rx, b.data + used, b.len - used, 1 << 24, "t", &h, &p,
			                                 &used, &err), 1);
			CU_ASSERT_EQUAL(h.handle, 8);
		}
		free(moved);
		ec__buf_free(&b);
		ec__frame_mac_close(&tx);
		ec__frame_mac_close(&rx);
	}
	free(big);
}

static void test_oversize(void)
{
	struct ec_frame_mac rx;
	ec__frame_mac_init(&rx, key, 'C');
	/* Only a header claiming 4 GiB - 1: refused from the header alone. */
	unsigned char hdr[20];
	struct ec_frame_hdr h = {.length = 0xffffffffu}, out;
	ec__frame_hdr_pack(&h, hdr);
	const unsigned char *p;
	size_t used;
	struct ec_error err = {0};
	CU_ASSERT_EQUAL(ec__frame_decode(&rx, hdr, sizeof(hdr), 64u << 20, "context big", &out, &p, &used, &err),
	                EC_EMSGSIZE);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "exceeds the maximum message size"));
	CU_ASSERT_STRING_EQUAL(err.where, "context big");
	ec__frame_mac_close(&rx);
}

/* ec__frame_hash_ahead (the stream's hashing with the lock let go): hashed ahead after
 * every piece, up to the whole frame, the decode that follows checks the same MAC (a
 * byte changed in transit fails it, early or late in the frame); a small frame, a header
 * not yet in or one over the maximum are left to the decode. */
static void test_hash_ahead(void)
{
	size_t len = 2 * EC_FRAME_HASH_EARLY + 777;
	char *big = letters(len);
	for (int corrupt = 0; corrupt < 3; corrupt++) {
		struct ec_frame_mac tx, rx;
		struct ec_buf b;
		two_frames(&tx, &rx, &b, big, 9);
		size_t total = 20 + len + 32;
		if (corrupt)
			b.data[corrupt == 1 ? 30 : total - 33] ^= 0x40;
		struct ec_frame_hdr h;
		const unsigned char *p;
		size_t used;
		struct ec_error err = {0};
		CU_ASSERT_EQUAL(ec__frame_hash_ahead(&rx, b.data, 12, 1 << 24), 0);
		CU_ASSERT_EQUAL(rx.fed, 0); /* no header yet: nothing */
		CU_ASSERT_EQUAL(ec__frame_hash_ahead(&rx, b.data, b.len, len - 1), 0);
		CU_ASSERT_EQUAL(rx.fed, 0); /* over the maximum: the decode refuses it */
		int rc = 0;
		for (size_t n = 5000;; n = n * 2 > total ? total : n * 2) {
			CU_ASSERT_EQUAL(ec__frame_hash_ahead(&rx, b.data, n, 1 << 24), 0);
			CU_ASSERT_EQUAL(rx.fed, n < 20 + len ? n : 20 + len);
			rc = ec__frame_decode(&rx, b.data, n, 1 << 24, "t", &h, &p, &used, &err);
			if (rc != 0 || n == total)
				break;
		}
		if (corrupt) {
			CU_ASSERT_EQUAL(rc, EC_EPROTO);
		} else {
			CU_ASSERT_EQUAL(rc, 1);
			CU_ASSERT_EQUAL(h.handle, 9);
			CU_ASSERT_EQUAL(memcmp(p, big, len), 0);
			CU_ASSERT_EQUAL(rx.fed, 0);
			/* the small frame after it: not hashed ahead, decoded as ever */
			CU_ASSERT_EQUAL(ec__frame_hash_ahead(&rx, b.data + used, b.len - used, 1 << 24), 0);
			CU_ASSERT_EQUAL(rx.fed, 0);
			CU_ASSERT_EQUAL(ec__frame_decode(&rx, b.data + used, b.len - used, 1 << 24, "t", &h,
			                                 &p, &used, &err), 1);
			CU_ASSERT_EQUAL(h.handle, 10);
		}
		ec__buf_free(&b);
		ec__frame_mac_close(&tx);
		ec__frame_mac_close(&rx);
	}
	free(big);
}

/* Content frames (docs/protocol.md 2): the MAC covers the chain's digest through the
 * frame, which is the SHA-256 of all content so far; hashed ahead or whole. A byte
 * changed, a receiver whose chain missed a frame, or no chain at all: refused. */
static void content_frames(struct ec_frame_mac *tx, struct ec_buf *b, const char *big,
                           size_t len, unsigned char d[3][EC_FRAME_DIGEST_LEN])
{
	void *chain = ec__frame_chain_new();
	const char *parts[3] = {big, "abc", ""};
	size_t lens[3] = {len, 3, 0};
	for (int i = 0; i < 3; i++) {
		struct ec_frame_hdr h = {.dst = 1, .handle = 9, .reply_to = EC_FRAME_CONTENT,
		                         .length = (uint32_t)lens[i]};
		CU_ASSERT_EQUAL(EVP_DigestUpdate(chain, parts[i], lens[i]), 1);
		CU_ASSERT_EQUAL(ec__frame_chain_digest(chain, NULL, d[i]), 0);
		CU_ASSERT_EQUAL(ec__frame_encode_content(tx, &h, parts[i], d[i], b), 0);
	}
	ec__frame_chain_free(chain);
}

static void test_content(void)
{
	size_t len = 2 * EC_FRAME_HASH_EARLY + 777;
	char *big = letters(len);
	unsigned char whole[32];
	unsigned int wn = 0;
	CU_ASSERT_EQUAL(EVP_Digest(big, len, whole, &wn, EVP_sha256(), NULL), 1);
	/* big + "abc" */
	EVP_MD_CTX *all = EVP_MD_CTX_new();
	unsigned char both[32];
	EVP_DigestInit_ex(all, EVP_sha256(), NULL);
	EVP_DigestUpdate(all, big, len);
	EVP_DigestUpdate(all, "abc", 3);
	EVP_DigestFinal_ex(all, both, &wn);
	EVP_MD_CTX_free(all);
	for (int mode = 0; mode < 5; mode++) {
		struct ec_frame_mac tx, rx;
		ec__frame_mac_init(&tx, key, 'C');
		ec__frame_mac_init(&rx, key, 'C');
		struct ec_buf b;
		ec__buf_init(&b);
		unsigned char d[3][EC_FRAME_DIGEST_LEN];
		content_frames(&tx, &b, big, len, d);
		CU_ASSERT_EQUAL(memcmp(d[0], whole, 32), 0); /* the chain is the SHA-256 */
		CU_ASSERT_EQUAL(memcmp(d[1], both, 32), 0);
		CU_ASSERT_EQUAL(memcmp(d[2], both, 32), 0);
		if (mode == 1)
			b.data[20 + len / 2] ^= 0x01;
		void *chain = ec__frame_chain_new();
		struct ec_frame_hdr h;
		const unsigned char *p;
		size_t used, off = 0;
		struct ec_error err = {0};
		int rc = 0;
		if (mode == 2) { /* the first frame skipped: its MAC is checked alone, and ... */
			rx.chain = chain;
			CU_ASSERT_EQUAL(ec__frame_decode(&rx, b.data, b.len, 1 << 24, "t", &h, &p, &used, &err), 1);
			ec__frame_chain_free(chain);
			chain = ec__frame_chain_new(); /* ... the receiver's chain starts again */
			off = used;
		}
		if (mode == 3) { /* no chain: nothing is hashed, the frame is refused */
			CU_ASSERT_EQUAL(ec__frame_hash_ahead(&rx, b.data, b.len, 1 << 24), 0);
			CU_ASSERT_EQUAL(rx.fed, 0);
			rc = ec__frame_decode(&rx, b.data, b.len, 1 << 24, "t", &h, &p, &used, &err);
			CU_ASSERT_EQUAL(rc, EC_EPROTO);
			CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "takes none"));
		}
		for (int i = mode == 2 ? 1 : 0; mode != 3 && i < 3; i++) {
			rx.chain = chain;
			if (i == 0 && mode == 4) /* hashed ahead in pieces first */
				for (size_t n = 5000; n < 20 + len; n *= 2)
					CU_ASSERT_EQUAL(ec__frame_hash_ahead(&rx, b.data, n, 1 << 24), 0);
			rc = ec__frame_decode(&rx, b.data + off, b.len - off, 1 << 24, "t", &h, &p, &used, &err);
			if (rc != 1)
				break;
			CU_ASSERT_PTR_NULL(rx.chain);
			CU_ASSERT_EQUAL(h.reply_to, EC_FRAME_CONTENT);
			CU_ASSERT_EQUAL(memcmp(rx.chain_digest, d[i], 32), 0);
			CU_ASSERT_EQUAL(memcmp(p, i ? (i == 1 ? "abc" : "") : big, h.length), 0);
			off += used;
		}
		if (mode == 0 || mode == 4) {
			CU_ASSERT_EQUAL(rc, 1);
			CU_ASSERT_EQUAL(off, b.len);
		} else {
			CU_ASSERT_EQUAL(rc, EC_EPROTO);
			CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, mode == 3 ? "takes none" : "bad MAC"));
		}
		ec__frame_chain_free(chain);
		ec__buf_free(&b);
		ec__frame_mac_close(&tx);
		ec__frame_mac_close(&rx);
	}
	free(big);
}

/* A buffer grown past 4 MiB (a large frame read, core/buf.c) comes on a 2 MiB boundary,
 * keeps its bytes, takes more, and is realloc'ed and freed as any (a codec's decode_buf
 * shrinks it so); growing on from there keeps it so. */
static void test_large_buffer(void)
{
	struct ec_buf b;
	ec__buf_init(&b);
	CU_ASSERT_EQUAL(ec__buf_append(&b, "head", 4), 0);
	CU_ASSERT_EQUAL(ec__buf_reserve_exact(&b, (size_t)5 << 20), 0);
	CU_ASSERT_EQUAL((uintptr_t)b.data % ((uintptr_t)2 << 20), 0);
	CU_ASSERT_EQUAL(b.cap, ((size_t)5 << 20) + 4);
	CU_ASSERT_EQUAL(memcmp(b.data, "head", 4), 0);
	memset(b.data + 4, 0xa5, (size_t)5 << 20);
	b.len += (size_t)5 << 20;
	CU_ASSERT_EQUAL(ec__buf_append(&b, "tail", 4), 0); /* doubling: another big block */
	CU_ASSERT_EQUAL((uintptr_t)b.data % ((uintptr_t)2 << 20), 0);
	CU_ASSERT_EQUAL(memcmp(b.data, "head", 4), 0);
	CU_ASSERT_EQUAL(b.data[4 + ((size_t)5 << 20) - 1], 0xa5);
	CU_ASSERT_EQUAL(memcmp(b.data + b.len - 4, "tail", 4), 0);
	unsigned char *small = realloc(b.data, 8);
	CU_ASSERT_PTR_NOT_NULL_FATAL(small);
	CU_ASSERT_EQUAL(memcmp(small, "head", 4), 0);
	free(small);
}

int main(void)
{
	CU_initialize_registry();
	CU_pSuite s = CU_add_suite("frame", NULL, NULL);
	CU_add_test(s, "encode and decode, partial input", test_roundtrip);
	CU_add_test(s, "any flipped byte fails the MAC", test_corrupt);
	CU_add_test(s, "replay, reflection and wrong key fail", test_replay_reflect_wrongkey);
	CU_add_test(s, "oversized length refused before allocation", test_oversize);
	CU_add_test(s, "a large frame hashed while it arrives", test_large_in_pieces);
	CU_add_test(s, "a large frame hashed ahead, then decoded", test_hash_ahead);
	CU_add_test(s, "content: the MAC over the chain, which is the SHA-256; one missed, a "
	               "byte changed, no chain: refused", test_content);
	CU_add_test(s, "a buffer grown past 4 MiB: 2 MiB-aligned, its bytes kept",
	            test_large_buffer);
	return ec_test_run();
}
