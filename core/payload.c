/* payload.c: the boot command and the compressed payload with its per-context line. */
#include "ecbuild.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pwd.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <zlib.h>

#include "error.h"
#include "payload.h"

int ec__payload_argv(const char *python, struct ec_argv *argv, struct ec_error *err)
{
	argv->argv = calloc(5, sizeof(char *));
	if (!argv->argv)
		return ec__error_set(err, EC_ENOMEM, NULL, "out of memory");
	/* -S: the first stage needs nothing from site, and site is most of an
	 * interpreter's start-up; the context runs it when an import first needs it. */
	argv->argv[0] = strdup(python);
	argv->argv[1] = strdup("-S");
	argv->argv[2] = strdup("-c");
	argv->argv[3] = strdup(ec__payload_first_stage);
	argv->argc = 4;
	if (!argv->argv[0] || !argv->argv[1] || !argv->argv[2] || !argv->argv[3]) {
		ec__argv_free(argv);
		return ec__error_set(err, EC_ENOMEM, NULL, "out of memory");
	}
	return 0;
}

void ec__argv_free(struct ec_argv *argv)
{
	for (size_t i = 0; argv->argv && i < argv->argc; i++)
		free(argv->argv[i]);
	free(argv->argv);
	argv->argv = NULL;
	argv->argc = 0;
}

int ec__payload_bytes_literal(struct ec_buf *b, const char *s)
{
	int rc = ec__buf_append(b, "b'", 2);
	for (const unsigned char *p = (const unsigned char *)s; *p && !rc; p++) {
		char esc[5];
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		    strchr("@:._-/+,= ", *p)) {
			rc = ec__buf_append(b, p, 1);
		} else {
			snprintf(esc, sizeof(esc), "\\x%02x", *p);
			rc = ec__buf_append(b, esc, 4);
		}
	}
	return rc ? rc : ec__buf_append(b, "'", 1);
}

/* A Python 2/3 text literal for any UTF-8 string: b'\x..'.decode('utf-8'), with
 * printable ASCII kept as is. */
static int put_pystr(struct ec_buf *b, const char *s)
{
	int rc = ec__payload_bytes_literal(b, s);
	return rc ? rc : ec__buf_append(b, ".decode('utf-8')", 16);
}

/* 'modules': the top-level names the module server offers, space-separated; absent
 * when there is no module path (the context then installs no importer), True when
 * the list is too long to send (the context asks for any name). */
static int put_modules(struct ec_buf *line, char *const *names)
{
	if (!names)
		return 0;
	struct ec_buf text;
	ec__buf_init(&text);
	int rc = 0;
	for (size_t i = 0; names[i] && !rc; i++) {
		rc = i ? ec__buf_append(&text, " ", 1) : 0;
		rc = rc ? rc : ec__buf_append(&text, names[i], strlen(names[i]));
	}
	rc = rc ? rc : ec__buf_append(&text, "", 1);
	if (!rc && text.len > 65536)
		rc = ec__buf_append(line, ", 'modules': True", 17);
	else if (!rc) {
		rc = ec__buf_append(line, ", 'modules': ", 13);
		rc = rc ? rc : put_pystr(line, (const char *)text.data);
	}
	ec__buf_free(&text);
	return rc;
}

void ec__payload_argv0(char *argv0, size_t n)
{
	char user[256] = "?", host[256] = "?";
	struct passwd pw, *res = NULL;
	char pwbuf[1024];
	if (getpwuid_r(getuid(), &pw, pwbuf, sizeof(pwbuf), &res) == 0 && res)
		snprintf(user, sizeof(user), "%s", pw.pw_name);
	if (gethostname(host, sizeof(host) - 1) != 0)
		strcpy(host, "?");
	host[sizeof(host) - 1] = '\0';
	snprintf(argv0, n, "econtext:%s@%s:%ld", user, host, (long)getpid());
	/* Printable ASCII (2.7 refuses other bytes in a source without a coding line) and
	 * nothing a "..." literal would take for an escape or its end. */
	for (char *c = argv0; *c; c++)
		if (*c < 0x20 || *c > 0x7e || *c == '"' || *c == '\\')
			*c = '?';
}

/* direct: the line alone, for a direct boot (ec__payload_direct); else followed by the
 * exec stage and the NUL before B. */
static int config_line(const struct ec_payload_config *cfg, int direct, struct ec_buf *line)
{
	char tmp[160];
	char argv0[600];
	ec__payload_argv0(argv0, sizeof(argv0));

	char hex[2 * 32 + 1];
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", cfg->key[i]);

	int rc = ec__buf_append(line, "\n_ec_main({'name': ", 19);
	rc = rc ? rc : put_pystr(line, cfg->name);
	rc = rc ? rc : ec__buf_append(line, ", 'key': '", 10);
	rc = rc ? rc : ec__buf_append(line, hex, 64);
	snprintf(tmp, sizeof(tmp), "', 'log_level': %d, 'max_message': %zu, 'context_id': %u, "
	         "'master_pid': %ld, 'codec': ",
	         cfg->log_level, cfg->max_message, cfg->context_id, (long)getpid());
	rc = rc ? rc : ec__buf_append(line, tmp, strlen(tmp));
	rc = rc ? rc : put_pystr(line, cfg->codec);
	rc = rc ? rc : put_modules(line, cfg->modules);
	if (cfg->layers && *cfg->layers) {
		rc = rc ? rc : ec__buf_append(line, ", 'layers': {", 13);
		rc = rc ? rc : ec__buf_append(line, cfg->layers, strlen(cfg->layers));
		rc = rc ? rc : ec__buf_append(line, "}", 1);
	}
	if (direct) {
		rc = rc ? rc : ec__buf_append(line, "})\n", 3);
		OPENSSL_cleanse(hex, sizeof(hex));
		return rc;
	}
	/* Then, after a NUL, the exec stage that the first stage runs (docs/protocol.md 1),
	 * its first line A="<argv0>". */
	rc = rc ? rc : ec__buf_append(line, "})\0A=\"", 6);
	rc = rc ? rc : ec__buf_append(line, argv0, strlen(argv0));
	rc = rc ? rc : ec__buf_append(line, "\"\n", 2);
	rc = rc ? rc : ec__buf_append(line, ec__payload_exec_stage, strlen(ec__payload_exec_stage));
	/* and the NUL before B, the core for the loader */
	rc = rc ? rc : ec__buf_append(line, "", 1);
	OPENSSL_cleanse(hex, sizeof(hex));
	return rc;
}

int ec__payload_stream(const struct ec_payload_config *cfg, struct ec_buf *out,
                       struct ec_error *err)
{
	/* C (the loader and the config line), NUL, X (the exec stage), NUL and B's first
	 * byte, which says what the rest of B is: the core's source ('S', compressed at
	 * build time) or its bytecode from the cache ('C', compressed when it was kept). */
	struct ec_buf line;
	ec__buf_init(&line);
	int rc = ec__buf_append(&line, ec__payload_loader, strlen(ec__payload_loader));
	rc = rc ? rc : config_line(cfg, 0, &line);
	rc = rc ? rc : ec__buf_append(&line, cfg->code ? "C" : "S", 1);
	if (rc)
		goto fail;

	/* A fresh raw deflate stream for the line, ended on a sync flush (byte-aligned, no
	 * final block); the part compressed earlier, which ends the same way; an empty
	 * final block. */
	z_stream zs;
	memset(&zs, 0, sizeof(zs));
	if (deflateInit2(&zs, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
		rc = EC_ENOMEM;
		goto fail;
	}
	static const unsigned char final_block[2] = {0x03, 0x00}; /* fixed Huffman, BFINAL */
	const unsigned char *core = cfg->code ? cfg->code : ec__payload_deflate;
	size_t core_len = cfg->code ? cfg->code_len : ec__payload_deflate_len;
	size_t codec_len = cfg->code ? 0 : cfg->codec_src_len;
	uLong bound = deflateBound(&zs, (uLong)line.len);
	size_t start = out->len;
	rc = ec__buf_reserve(out, 10 + bound + 16 + core_len + codec_len + sizeof(final_block));
	if (rc) {
		deflateEnd(&zs);
		goto fail;
	}
	unsigned char *tail = out->data + start + 10;
	zs.next_in = line.data;
	zs.avail_in = (uInt)line.len;
	zs.next_out = tail;
	zs.avail_out = (uInt)(bound + 16);
	int zrc = deflate(&zs, Z_SYNC_FLUSH);
	size_t tail_len = (size_t)(bound + 16) - zs.avail_out;
	int whole = zrc == Z_OK && !zs.avail_in && zs.avail_out;
	deflateEnd(&zs);
	if (!whole) {
		rc = EC_ENOMEM;
		goto fail;
	}
	memcpy(tail + tail_len, core, core_len);
	if (codec_len)
		memcpy(tail + tail_len + core_len, cfg->codec_src, codec_len);
	memcpy(tail + tail_len + core_len + codec_len, final_block, sizeof(final_block));
	size_t n = tail_len + core_len + codec_len + sizeof(final_block);
	char hdr[11];
	snprintf(hdr, sizeof(hdr), "%010zu", n);
	memcpy(out->data + start, hdr, 10);
	out->len = start + 10 + n;
	OPENSSL_cleanse(line.data, line.len);
	ec__buf_free(&line);
	return 0;
fail:
	if (line.data)
		OPENSSL_cleanse(line.data, line.len);
	ec__buf_free(&line);
	return ec__error_set(err, rc, cfg->name, "cannot build the boot payload: out of memory");
}

int ec__payload_codec_pack(const char *source, struct ec_buf *out)
{
	z_stream zs;
	memset(&zs, 0, sizeof(zs));
	if (deflateInit2(&zs, 9, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return EC_ENOMEM;
	size_t len = strlen(source);
	uLong bound = deflateBound(&zs, (uLong)len + 1) + 16;
	int rc = ec__buf_reserve(out, bound);
	static const unsigned char nl[1] = {'\n'};
	int zrc = Z_OK;
	if (!rc) {
		zs.next_out = out->data + out->len;
		zs.avail_out = (uInt)bound;
		zs.next_in = (unsigned char *)nl; /* zlib's input is not const, only read */
		zs.avail_in = 1;
		zrc = deflate(&zs, Z_NO_FLUSH);
		zs.next_in = (unsigned char *)source;
		zs.avail_in = (uInt)len;
		zrc = zrc == Z_OK ? deflate(&zs, Z_SYNC_FLUSH) : zrc;
		if (zrc != Z_OK || zs.avail_in || !zs.avail_out)
			rc = EC_ENOMEM;
		else
			out->len += (size_t)bound - zs.avail_out;
	}
	deflateEnd(&zs);
	return rc;
}

/* Inflate raw deflate that ends on a sync flush (no final block) onto out. */
static int inflate_to(const unsigned char *in, size_t len, struct ec_buf *out)
{
	z_stream zs;
	memset(&zs, 0, sizeof(zs));
	if (inflateInit2(&zs, -15) != Z_OK)
		return EC_ENOMEM;
	zs.next_in = (unsigned char *)in; /* zlib's input is not const, only read */
	zs.avail_in = (uInt)len;
	int rc = 0;
	while (!rc && zs.avail_in) {
		if ((rc = ec__buf_reserve(out, 4 * len + 4096)))
			break;
		zs.next_out = out->data + out->len;
		zs.avail_out = (uInt)(out->cap - out->len);
		int zrc = inflate(&zs, Z_SYNC_FLUSH);
		out->len = out->cap - zs.avail_out;
		if (zrc == Z_STREAM_END)
			break;
		if (zrc != Z_OK && zrc != Z_BUF_ERROR)
			rc = EC_EBOOT;
	}
	inflateEnd(&zs);
	return rc;
}

int ec__payload_direct(const struct ec_payload_config *cfg, struct ec_buf *prog,
                       struct ec_buf *code, struct ec_error *err)
{
	int rc = ec__buf_append(prog, ec__payload_loader, strlen(ec__payload_loader));
	rc = rc ? rc : config_line(cfg, 1, prog);
	rc = rc ? rc : ec__buf_append(code, cfg->code ? "C" : "S", 1);
	rc = rc ? rc : inflate_to(cfg->code ? cfg->code : ec__payload_deflate,
	                          cfg->code ? cfg->code_len : ec__payload_deflate_len, code);
	if (!rc && !cfg->code && cfg->codec_src_len)
		rc = inflate_to(cfg->codec_src, cfg->codec_src_len, code);
	if (rc) {
		OPENSSL_cleanse(prog->data, prog->len);
		return ec__error_set(err, rc, cfg->name, "cannot build the boot payload: %s",
		                     rc == EC_ENOMEM ? "out of memory" : "damaged bytecode");
	}
	return 0;
}
