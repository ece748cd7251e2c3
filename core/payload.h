/* payload.h: the boot command and the stream written to its stdin (docs/protocol.md §1).
 * The remote core was stripped and compressed at build time (core/payload_data.c); here
 * only the per-context config line is compressed and appended. */
#ifndef EC_CORE_PAYLOAD_H
#define EC_CORE_PAYLOAD_H

#include <stddef.h>

#include "buf.h"
#include "econtext/transport.h"

extern const unsigned char ec__payload_deflate[];
extern const size_t ec__payload_deflate_len;
extern const size_t ec__payload_source_len;
extern const char ec__payload_first_stage[];
extern const char ec__payload_exec_stage[];
extern const char ec__payload_loader[];

struct ec_payload_config {
	const char *name;            /* context name */
	const unsigned char *key;    /* 32 bytes */
	int log_level;
	size_t max_message;
	const char *codec;
	unsigned context_id;
	/* The top-level names the module server offers (NULL-terminated; NULL: no module
	 * path, the context installs no importer). */
	char *const *modules;
	/* The core's bytecode from the cache (core/codecache.h: raw deflate ending on a
	 * sync flush), sent in place of its source; or NULL for the source. */
	const unsigned char *code;
	size_t code_len;
	/* The codec's context side (ec_codec_ops.remote_source) as ec__payload_codec_pack
	 * made it, appended to the core's source; unused with code (the cached bytecode
	 * holds it: the cache's name covers the codec). */
	const unsigned char *codec_src;
	size_t codec_src_len;
	/* The layers' boot words as the config line holds them ("'tls': b'...', "), or
	 * NULL: none (ec_transport_ops.boot_words). */
	const char *layers;
};

/* Into out (appended), the raw deflate of a newline and source, ending on a sync flush:
 * what follows the core's source in B. */
int ec__payload_codec_pack(const char *source, struct ec_buf *out);

/* argv = { python, "-S", "-c", first stage, NULL }. Free with ec__argv_free. */
int ec__payload_argv(const char *python, struct ec_argv *argv, struct ec_error *err);
void ec__argv_free(struct ec_argv *argv);
/* Append "%010u" + the raw deflate of: the loader and the config line, NUL, argv[0]
 * line and exec stage, NUL, and 'S' + the core's and the codec's source or 'C' + their
 * bytecode to out
 * (docs/protocol.md §1). The key is wiped from every temporary buffer. */
int ec__payload_stream(const struct ec_payload_config *cfg, struct ec_buf *out,
                       struct ec_error *err);

/* For a direct boot (core/direct.h), no first stage: into prog, what the interpreter
 * reads as its program on stdin (the loader and the config line); into code, B as the
 * loader reads it from fd 102 ('S' + source or 'C' + bytecode, inflated). The key is
 * wiped from prog on failure; the caller wipes it after use. */
int ec__payload_direct(const struct ec_payload_config *cfg, struct ec_buf *prog,
                       struct ec_buf *code, struct ec_error *err);
/* b'...' for s: bytes on 3.x, str on 2.7; printable ASCII kept, the rest \x-escaped. */
int ec__payload_bytes_literal(struct ec_buf *b, const char *s);
/* The context's argv[0], econtext:<user>@<host>:<master pid>, as a Python literal may
 * hold it between double quotes. */
void ec__payload_argv0(char *argv0, size_t n);

#endif
