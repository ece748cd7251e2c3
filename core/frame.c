/* frame.c: frame encoding, decoding and authentication. */
#include "ecbuild.h"

#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "error.h"
#include "frame.h"

int ec__frame_mac_init(struct ec_frame_mac *m, const unsigned char key[EC_FRAME_KEY_LEN], char dir)
{
	memset(m, 0, sizeof(*m));
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	if (!mac)
		return EC_ENOMEM;
	m->ctx = EVP_MAC_CTX_new(mac);
	EVP_MAC_free(mac);
	if (!m->ctx)
		return EC_ENOMEM;
	memcpy(m->key, key, EC_FRAME_KEY_LEN);
	m->dir = dir;
	m->seq = 0;
	/* Key once: each frame then restarts from the keyed state (EVP_MAC_init with
	 * no key), which skips the digest fetch and the key schedule. */
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
		OSSL_PARAM_construct_end(),
	};
	if (!EVP_MAC_init(m->ctx, m->key, EC_FRAME_KEY_LEN, params)) {
		EVP_MAC_CTX_free(m->ctx);
		m->ctx = NULL;
		return EC_ENOMEM;
	}
	return 0;
}

void ec__frame_mac_close(struct ec_frame_mac *m)
{
	EVP_MAC_CTX_free(m->ctx);
	m->ctx = NULL;
	EVP_MD_CTX_free(m->scratch);
	m->scratch = NULL;
	m->chain = NULL;
	OPENSSL_cleanse(m->key, sizeof(m->key));
}

void ec__frame_put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

uint32_t ec__frame_get32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int ec__frame_split_batch(const unsigned char *p, size_t n, uint32_t min_handle,
                          int (*each)(void *arg, uint32_t handle, const unsigned char *body,
                                      size_t len),
                          void *arg, size_t *bad_at)
{
	size_t off = 0;
	while (off < n && n - off >= 8) {
		uint32_t handle = ec__frame_get32(p + off), len = ec__frame_get32(p + off + 4);
		off += 8;
		/* Refused here even when its head ends the payload (found by fuzz_frame: a
		 * last part claiming more bytes than are left was dropped, the frame taken). */
		if (handle < min_handle || len > n - off) {
			*bad_at = off;
			return 1;
		}
		int rc = each(arg, handle, p + off, len);
		if (rc)
			return rc;
		off += len;
	}
	if (n && off == n)
		return 0;
	*bad_at = off;
	return 1;
}

void ec__frame_hdr_pack(const struct ec_frame_hdr *h, unsigned char out[EC_FRAME_HEADER_LEN])
{
	ec__frame_put32(out, h->dst);
	ec__frame_put32(out + 4, h->src);
	ec__frame_put32(out + 8, h->handle);
	ec__frame_put32(out + 12, h->reply_to);
	ec__frame_put32(out + 16, h->length);
}

void ec__frame_hdr_unpack(const unsigned char in[EC_FRAME_HEADER_LEN], struct ec_frame_hdr *h)
{
	h->dst = ec__frame_get32(in);
	h->src = ec__frame_get32(in + 4);
	h->handle = ec__frame_get32(in + 8);
	h->reply_to = ec__frame_get32(in + 12);
	h->length = ec__frame_get32(in + 16);
}

/* HMAC(key, dir || seq || header || payload), in steps: start (dir, seq, header),
 * then the payload in one or more pieces, then final. */
static int mac_start(struct ec_frame_mac *m, const unsigned char *hdr)
{
	unsigned char prefix[9];
	prefix[0] = (unsigned char)m->dir;
	for (int i = 0; i < 8; i++)
		prefix[1 + i] = (unsigned char)(m->seq >> (56 - 8 * i));
	if (!EVP_MAC_init(m->ctx, NULL, 0, NULL) || !EVP_MAC_update(m->ctx, prefix, sizeof(prefix)) ||
	    !EVP_MAC_update(m->ctx, hdr, EC_FRAME_HEADER_LEN))
		return EC_ENOMEM;
	return 0;
}

void *ec__frame_chain_new(void)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	if (md && !EVP_DigestInit_ex(md, EVP_sha256(), NULL)) {
		EVP_MD_CTX_free(md);
		md = NULL;
	}
	return md;
}

void ec__frame_chain_free(void *chain)
{
	EVP_MD_CTX_free(chain);
}

int ec__frame_chain_digest(void *chain, void *scratch, unsigned char out[EC_FRAME_DIGEST_LEN])
{
	unsigned int n = 0;
	EVP_MD_CTX *own = scratch ? NULL : EVP_MD_CTX_new(), *tmp = scratch ? scratch : own;
	int ok = tmp && EVP_MD_CTX_copy_ex(tmp, chain) && EVP_DigestFinal_ex(tmp, out, &n) &&
	         n == EC_FRAME_DIGEST_LEN;
	EVP_MD_CTX_free(own);
	return ok ? 0 : EC_ENOMEM;
}

static int is_content(const unsigned char *hdr)
{
	return ec__frame_get32(hdr + 12) == EC_FRAME_CONTENT;
}

/* Payload bytes into what they are hashed into: the frame's MAC, or its chain. */
static int mac_update(struct ec_frame_mac *m, int content, const void *p, size_t n)
{
	if (!n)
		return 1;
	return content ? EVP_DigestUpdate(m->chain, p, n) : EVP_MAC_update(m->ctx, p, n);
}

static int mac_final(struct ec_frame_mac *m, unsigned char out[EC_FRAME_MAC_LEN])
{
	size_t outlen = 0;
	if (!EVP_MAC_final(m->ctx, out, &outlen, EC_FRAME_MAC_LEN) || outlen != EC_FRAME_MAC_LEN)
		return EC_ENOMEM;
	return 0;
}

/* The MAC, final; a content frame's covers its chain's digest through it (in place of
 * its bytes, which went into the chain). */
static int mac_final_frame(struct ec_frame_mac *m, int content, unsigned char out[EC_FRAME_MAC_LEN])
{
	if (content) {
		if (!m->scratch && !(m->scratch = EVP_MD_CTX_new()))
			return EC_ENOMEM;
		if (ec__frame_chain_digest(m->chain, m->scratch, m->chain_digest) ||
		    !EVP_MAC_update(m->ctx, m->chain_digest, EC_FRAME_DIGEST_LEN))
			return EC_ENOMEM;
	}
	return mac_final(m, out);
}

/* The MAC of a whole frame: of its bytes, or (content, decoding) of its chain. */
static int frame_mac(struct ec_frame_mac *m, const unsigned char *hdr, const void *payload,
                     size_t len, int content, unsigned char out[EC_FRAME_MAC_LEN])
{
	if (mac_start(m, hdr) || !mac_update(m, content, payload, len))
		return EC_ENOMEM;
	return mac_final_frame(m, content, out);
}

/* Hash the frame at data[0..upto) from where the last call stopped (m->fed). */
static int mac_feed(struct ec_frame_mac *m, const unsigned char *data, size_t upto)
{
	if (!m->fed) {
		if (mac_start(m, data))
			return EC_ENOMEM;
		m->fed = EC_FRAME_HEADER_LEN;
	}
	if (upto > m->fed) {
		if (!mac_update(m, is_content(data), data + m->fed, upto - m->fed))
			return EC_ENOMEM;
		m->fed = upto;
	}
	return 0;
}

int ec__frame_seal(struct ec_frame_mac *m, unsigned char *p)
{
	uint32_t len = ec__frame_get32(p + 16);
	/* Of the bytes, whatever reply_to says: content is sealed by
	 * ec__frame_content_head (its header and MAC) alone. */
	int rc = frame_mac(m, p, p + EC_FRAME_HEADER_LEN, len, 0, p + EC_FRAME_HEADER_LEN + len);
	if (!rc)
		m->seq++;
	return rc;
}

int ec__frame_encode(struct ec_frame_mac *m, const struct ec_frame_hdr *h, const void *payload,
                     struct ec_buf *out)
{
	size_t n = EC_FRAME_HEADER_LEN + (size_t)h->length;
	int rc = ec__buf_reserve(out, n + EC_FRAME_MAC_LEN);
	if (rc)
		return rc;
	unsigned char *p = out->data + out->len;
	ec__frame_hdr_pack(h, p);
	if (h->length)
		memcpy(p + EC_FRAME_HEADER_LEN, payload, h->length);
	if ((rc = ec__frame_seal(m, p)))
		return rc;
	out->len += n + EC_FRAME_MAC_LEN;
	return 0;
}

int ec__frame_content_head(struct ec_frame_mac *m, const struct ec_frame_hdr *h,
                           const unsigned char chain[EC_FRAME_DIGEST_LEN], struct ec_buf *out,
                           unsigned char mac[EC_FRAME_MAC_LEN])
{
	int rc = ec__buf_reserve(out, EC_FRAME_HEADER_LEN);
	if (rc)
		return rc;
	unsigned char *p = out->data + out->len;
	ec__frame_hdr_pack(h, p);
	ec__frame_put32(p + 12, EC_FRAME_CONTENT);
	if (mac_start(m, p) || !EVP_MAC_update(m->ctx, chain, EC_FRAME_DIGEST_LEN) ||
	    mac_final(m, mac))
		return EC_ENOMEM;
	m->seq++;
	out->len += EC_FRAME_HEADER_LEN;
	return 0;
}

int ec__frame_encode_content(struct ec_frame_mac *m, const struct ec_frame_hdr *h,
                             const void *payload, const unsigned char chain[EC_FRAME_DIGEST_LEN],
                             struct ec_buf *out)
{
	/* all the room first: nothing appended, and the sequence number kept, on failure */
	unsigned char mac[EC_FRAME_MAC_LEN];
	int rc = ec__buf_reserve(out, EC_FRAME_HEADER_LEN + (size_t)h->length + EC_FRAME_MAC_LEN);
	if (rc || (rc = ec__frame_content_head(m, h, chain, out, mac)))
		return rc;
	if (h->length)
		memcpy(out->data + out->len, payload, h->length);
	memcpy(out->data + out->len + h->length, mac, EC_FRAME_MAC_LEN);
	out->len += (size_t)h->length + EC_FRAME_MAC_LEN;
	return 0;
}

int ec__frame_hash_ahead(struct ec_frame_mac *m, const unsigned char *data, size_t avail,
                         size_t max_len)
{
	if (avail < EC_FRAME_HEADER_LEN)
		return 0;
	uint32_t len = ec__frame_get32(data + 16);
	if (len < EC_FRAME_HASH_EARLY || len > max_len || (is_content(data) && !m->chain))
		return 0;
	size_t covered = EC_FRAME_HEADER_LEN + (size_t)len;
	return mac_feed(m, data, avail < covered ? avail : covered);
}

int ec__frame_decode(struct ec_frame_mac *m, const unsigned char *data, size_t avail,
                     size_t max_len, const char *who, struct ec_frame_hdr *h,
                     const unsigned char **payload, size_t *consumed, struct ec_error *err)
{
	*consumed = 0;
	if (avail < EC_FRAME_HEADER_LEN)
		return 0;
	struct ec_frame_hdr hdr;
	ec__frame_hdr_unpack(data, &hdr);
	if (hdr.length > max_len)
		return ec__error_set(err, EC_EMSGSIZE, who,
		                     "frame of %lu bytes exceeds the maximum message size of %zu "
		                     "bytes; closing the stream",
		                     (unsigned long)hdr.length, max_len);
	size_t covered = EC_FRAME_HEADER_LEN + (size_t)hdr.length; /* what the MAC covers */
	size_t total = covered + EC_FRAME_MAC_LEN;
	if (avail < total) {
		*consumed = total;
		/* A large frame is hashed as it arrives, a piece at a time, so that checking
		 * its MAC does not hold the broker for the whole frame once the last byte is in
		 * (12 ms per 16 MiB here) while the next bytes wait. Nothing of it is used
		 * before the MAC is checked, as before. */
		size_t upto = avail < covered ? avail : covered;
		if (hdr.length >= EC_FRAME_HASH_EARLY && upto >= m->fed + EC_FRAME_HASH_EARLY / 4 &&
		    (!is_content(data) || m->chain) && mac_feed(m, data, upto))
			return ec__error_set(err, EC_ENOMEM, who, "out of memory computing a frame MAC");
		return 0;
	}
	if (is_content(data) && !m->chain)
		return ec__error_set(err, EC_EPROTO, who,
		                     "frame %llu is content on handle %lu, which takes none; "
		                     "closing the stream",
		                     (unsigned long long)m->seq, (unsigned long)hdr.handle);
	unsigned char mac[EC_FRAME_MAC_LEN];
	int rc = m->fed ? mac_feed(m, data, covered) || mac_final_frame(m, is_content(data), mac)
	                : frame_mac(m, data, data + EC_FRAME_HEADER_LEN, hdr.length,
	                            is_content(data), mac);
	m->fed = 0;
	m->chain = NULL;
	if (rc)
		return ec__error_set(err, EC_ENOMEM, who, "out of memory computing a frame MAC");
	if (CRYPTO_memcmp(mac, data + covered, EC_FRAME_MAC_LEN) != 0)
		return ec__error_set(err, EC_EPROTO, who,
		                     "frame %llu failed authentication (bad MAC: corrupt, forged, "
		                     "replayed or reordered); closing the stream",
		                     (unsigned long long)m->seq);
	m->seq++;
	*h = hdr;
	*payload = data + EC_FRAME_HEADER_LEN;
	*consumed = total;
	return 1;
}
