/* econtext/codec.h: the codec interface. A codec turns an ec_value tree into the bytes
 * of a frame's payload and back. Its decoder is a validator: the bytes come from a
 * context that may be hostile, so anything outside the codec's subset is refused with
 * a clear error, and no declared length is trusted before it is checked. */
#ifndef ECONTEXT_CODEC_H
#define ECONTEXT_CODEC_H

#include "econtext/plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A growable output buffer owned by the core. Codecs append with host-independent
 * code: grow data with realloc when len + n > cap. */
struct ec_buf {
	unsigned char *data;
	size_t len;
	size_t cap;
};

/* Describes the peer so the encoder can pick a dialect. */
struct ec_codec_peer {
	int python_major; /* 2 or 3; 0 when not yet known (encode for the oldest) */
	int python_minor;
};

/* All ops may run on any thread, concurrently: codecs keep no mutable global state. */
struct ec_codec_ops {
	size_t size; /* sizeof(struct ec_codec_ops) the plugin was built with */

	/* Mandatory. Append the encoding of v to out. EC_ECODEC names the offending value. */
	int (*encode)(void *state, const struct ec_codec_peer *peer, const ec_value *v,
	              struct ec_buf *out, struct ec_error *err);
	/* Mandatory. Decode exactly len bytes into a new value (freed with host->value_free).
	 * EC_ECODEC says what was refused and at which offset. */
	int (*decode)(void *state, const void *data, size_t len, ec_value **out,
	              struct ec_error *err);
	/* Mandatory. The name the remote side knows this codec by ("pickle"). */
	const char *remote_name;

	/* Optional. decode of buf->data[off, off + len), in a buffer the core owns and
	 * offers: when the value is one large bytes or text value, the codec may give it
	 * buf's memory as its data (the bytes moved to the start, then NUL and shrunk:
	 * grow and shrink with realloc, as encode does) instead of a copy, and leaves buf
	 * empty. Otherwise, and on any failure, buf is untouched and it behaves as decode. */
	int (*decode_buf)(void *state, struct ec_buf *buf, size_t off, size_t len, ec_value **out,
	                  struct ec_error *err);
	/* Major 2, minor 0 ends here. */

	/* Mandatory from minor 1 (a codec without it is refused: the context has no codec
	 * of its own). The Python source of the codec's context side, NUL-terminated ASCII,
	 * for CPython 2.7 and 3.6 to 3.13. The core appends it to the remote core in every
	 * boot (compiled with it, cached with it as bytecode), where it runs in the core's
	 * globals and defines dumps(obj) -> bytes and loads(data) -> value for every message
	 * of the protocol; docs/plugin-guide.md, "A codec's context side". Keep it static:
	 * the core reads it while the plugin is loaded. */
	const char *remote_source;
	/* Minor 1 ends here. */
};

#ifdef __cplusplus
}
#endif
#endif
