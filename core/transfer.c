/* transfer.c: file transfer, the master's side (ec_context_put, ec_context_get;
 * docs/protocol.md, "File transfer"): the file streamed in chunks on a channel to or
 * from econtext._put / econtext._get in the context, SHA-256 computed here as it is read
 * or written and checked there (put) or here (get), the skip-if-unchanged check through
 * econtext._stat. A get is written here as a put is there: a temporary file beside the
 * target, checked, fsynced, renamed. Only the public API below it: any thread. */
#include "ecbuild.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "error.h"

/* Bytes per channel value: 16 of them fill the 4 MiB window. */
#define CHUNK (256u << 10)

struct xfer {
	ec_context *ctx;
	const char *what; /* "put" or "get" */
	const char *src, *dst;
	int timeout_ms;
	const struct ec_transfer_options *o;
	EVP_MD_CTX *md;
	char *buf;
	struct ec_transfer_result *res, mine; /* the caller's, or mine */
	long long t0;
};

static int xfer_init(struct xfer *x, ec_context *ctx, const char *what, const char *src,
                     const char *dst, const struct ec_transfer_options *o,
                     struct ec_transfer_result *res, struct ec_error *err)
{
	static const struct ec_transfer_options none = {.size = sizeof(none)};
	*x = (struct xfer){.ctx = ctx, .what = what, .src = src, .dst = dst, .o = o ? o : &none,
	                   .t0 = ec__now_us()};
	x->res = res ? res : &x->mine;
	memset(x->res, 0, sizeof(*x->res));
	x->timeout_ms = x->o->timeout_ms;
	x->md = EVP_MD_CTX_new();
	x->buf = malloc(CHUNK);
	if (!x->md || !x->buf || !EVP_DigestInit_ex(x->md, EVP_sha256(), NULL))
		return ec__error_set(err, EC_ENOMEM, ec_context_name(ctx), "out of memory");
	return 0;
}

static void xfer_done(struct xfer *x)
{
	x->res->seconds = (double)(ec__now_us() - x->t0) / 1e6;
	EVP_MD_CTX_free(x->md);
	free(x->buf);
}

static void hex_digest(struct xfer *x, char out[65])
{
	unsigned char d[32];
	unsigned n = 0;
	EVP_DigestFinal_ex(x->md, d, &n);
	for (unsigned i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* A path as a value: text when it is UTF-8, else bytes. */
static ec_value *path_value(const char *p)
{
	ec_value *v = ec_value_cstr(p);
	return v ? v : ec_value_bytes(p, strlen(p));
}

/* "put A -> B on context 'c': ..." with where the context. */
static int fail(const struct xfer *x, struct ec_error *err, int code, int sys, const char *fmt, ...)
	EC_PRINTF(5, 6);
static int fail(const struct xfer *x, struct ec_error *err, int code, int sys, const char *fmt, ...)
{
	char what[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	int rc = ec__error_set(err, code, ec_context_name(x->ctx), "%s %s -> %s on context '%s': %s",
	                       x->what, x->src, x->dst, ec_context_name(x->ctx), what);
	if (err)
		err->sys_errno = sys;
	return rc;
}

static int fail_errno(const struct xfer *x, struct ec_error *err, const char *path)
{
	int e = errno;
	return fail(x, err, EC_ESYS, e, "%s: %s", path, strerror(e));
}

/* A failed call: a remote exception's message, else the call's error, said of x. */
static int fail_call(const struct xfer *x, int rc, ec_value *res, struct ec_error *err)
{
	if (rc == EC_EREMOTE && res && res->type == EC_T_ERROR)
		rc = fail(x, err, EC_EREMOTE, 0, "%s", res->u.err.message);
	else
		ec__error_prefix(err, "%s %s -> %s", x->what, x->src, x->dst);
	ec_value_free(res);
	return rc;
}

/* The progress callback; EC_ECANCELED when it says stop. */
static int progress(const struct xfer *x, uint64_t done, uint64_t total, struct ec_error *err)
{
	if (!x->o->progress || !x->o->progress(x->o->progress_arg, done, total))
		return 0;
	return ec__error_set(err, EC_ECANCELED, ec_context_name(x->ctx), "%s %s -> %s cancelled",
	                     x->what, x->src, x->dst);
}

/* econtext._stat(remote, size): *same when the remote file has this size, digest (then
 * in hex) and mode; EISDIR when it is a directory. */
static int remote_same(struct xfer *x, int fd, const struct stat *st, unsigned mode, int *same,
                       char hex[65], struct ec_error *err)
{
	*same = 0;
	ec_value *args = ec_value_new(EC_T_TUPLE), *res = NULL;
	if (!args || ec_value_append(args, path_value(x->dst)) ||
	    ec_value_append(args, ec_value_int(st->st_size))) {
		ec_value_free(args);
		return ec__error_set(err, EC_ENOMEM, ec_context_name(x->ctx), "out of memory");
	}
	int rc = ec_context_call(x->ctx, "econtext", "_stat", args, NULL, x->timeout_ms, &res, err);
	ec_value_free(args);
	if (rc)
		return fail_call(x, rc, res, err);
	ec_value **it = res->u.seq.items;
	if (res->type != EC_T_TUPLE || res->u.seq.len != 5) {
		ec_value_free(res);
		return fail(x, err, EC_EPROTO, 0, "%s", "econtext._stat answered something else");
	}
	if (it[1]->u.b) {
		ec_value_free(res);
		errno = EISDIR;
		return fail_errno(x, err, x->dst);
	}
	if (!it[0]->u.b || it[2]->u.i != st->st_size || it[3]->type == EC_T_NONE ||
	    (unsigned)it[4]->u.i != mode) {
		ec_value_free(res);
		return 0;
	}
	/* Same size and mode: is it the same content? */
	for (;;) {
		ssize_t n = read(fd, x->buf, CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ec_value_free(res);
			return fail_errno(x, err, x->src);
		}
		if (n == 0)
			break;
		EVP_DigestUpdate(x->md, x->buf, (size_t)n);
	}
	hex_digest(x, hex);
	*same = !strcmp(hex, it[3]->u.s.data);
	ec_value_free(res);
	EVP_DigestInit_ex(x->md, EVP_sha256(), NULL);
	if (lseek(fd, 0, SEEK_SET) < 0)
		return fail_errno(x, err, x->src);
	return 0;
}

/* Stream fd on ch, then the digest; *sent counts. 0, or the send's error (the call
 * says why the context stopped taking), or EC_ECANCELED. */
static int send_file(struct xfer *x, int fd, uint64_t total, ec_channel *ch, uint64_t *sent,
                     char hex[65], struct ec_error *err)
{
	for (;;) {
		ssize_t n = read(fd, x->buf, CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return fail_errno(x, err, x->src);
		if (n == 0)
			break;
		EVP_DigestUpdate(x->md, x->buf, (size_t)n);
		ec_value *v = ec_value_bytes(x->buf, (size_t)n);
		if (!v)
			return ec__error_set(err, EC_ENOMEM, ec_context_name(x->ctx), "out of memory");
		int rc = ec_channel_send(ch, v, x->timeout_ms, err);
		ec_value_free(v);
		if (rc)
			return rc;
		*sent += (uint64_t)n;
		if ((rc = progress(x, *sent, total, err)))
			return rc;
	}
	hex_digest(x, hex);
	ec_value *d = ec_value_cstr(hex);
	int rc = d ? ec_channel_send(ch, d, x->timeout_ms, err) : EC_ENOMEM;
	ec_value_free(d);
	return rc;
}

int ec_context_put(ec_context *ctx, const char *local_path, const char *remote_path,
                   const struct ec_transfer_options *o, struct ec_transfer_result *res,
                   struct ec_error *err)
{
	struct xfer x;
	int rc = xfer_init(&x, ctx, "put", local_path, remote_path, o, res, err);
	res = x.res;
	int fd = -1;
	ec_channel *ch = NULL;
	ec_call *call = NULL;
	if (rc)
		goto out;
	struct stat st;
	fd = open(local_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) != 0) {
		rc = fail_errno(&x, err, local_path);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		errno = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
		rc = fail_errno(&x, err, local_path);
		goto out;
	}
	unsigned mode = x.o->set_mode ? (x.o->mode & 07777) : (st.st_mode & 07777);
	res->size = (uint64_t)st.st_size;
	int same = 0;
	if ((rc = remote_same(&x, fd, &st, mode, &same, res->sha256, err)))
		goto out;
	if (same)
		goto out;
	res->changed = 1;
	if ((rc = ec_channel_new(ctx, &ch, err)))
		goto out;
	double mtime = (double)st.st_mtim.tv_sec + st.st_mtim.tv_nsec / 1e9;
	ec_value *args = ec_value_new(EC_T_TUPLE);
	if (!args || ec_value_append(args, ec_value_channel(ch)) ||
	    ec_value_append(args, path_value(remote_path)) || ec_value_append(args, ec_value_int(mode)) ||
	    ec_value_append(args, ec_value_float(mtime)) ||
	    ec_value_append(args, ec_value_int(st.st_size))) {
		ec_value_free(args);
		rc = ec__error_set(err, EC_ENOMEM, ec_context_name(ctx), "out of memory");
		goto out;
	}
	rc = ec_context_call_async(ctx, "econtext", "_put", args, NULL, &call, err);
	ec_value_free(args);
	if (rc)
		goto out;
	struct ec_error serr = {0};
	rc = send_file(&x, fd, res->size, ch, &res->bytes, res->sha256, &serr);
	if (rc == EC_ECANCELED || rc == EC_ESYS || rc == EC_ENOMEM) {
		ec_call_cancel(call); /* the context removes its temporary file */
		ec_value *r = NULL;
		ec_call_wait(call, x.timeout_ms, &r, NULL);
		ec_value_free(r);
		if (err)
			*err = serr;
		goto out;
	}
	ec_channel_close(ch, NULL);
	/* The send's other errors (the context stopped taking): the call says why. */
	ec_value *r = NULL;
	int crc = ec_call_wait(call, x.timeout_ms, &r, err);
	if (crc) {
		rc = fail_call(&x, crc, r, err);
		goto out;
	}
	ec_value_free(r);
	if (rc) {
		if (err)
			*err = serr;
		goto out;
	}
out:
	ec_channel_free(ch);
	ec_call_free(call);
	if (fd >= 0)
		close(fd);
	xfer_done(&x);
	return rc;
}

/* fsync the directory of path, so the rename is on disk. */
static int fsync_dir_of(const char *path)
{
	char *copy = strdup(path);
	if (!copy)
		return -1;
	int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(copy);
	if (fd < 0)
		return -1;
	int rc = fsync(fd);
	close(fd);
	return rc;
}

/* Take the values of ch into fd until the end; *got counts. */
static int recv_file(struct xfer *x, int fd, ec_channel *ch, uint64_t *got, struct ec_error *err)
{
	for (;;) {
		ec_value *v = NULL;
		int rc = ec_channel_recv(ch, x->timeout_ms, &v, err);
		if (rc == EC_EEOF)
			return 0;
		if (rc)
			return rc;
		if (v->type != EC_T_BYTES) {
			ec_value_free(v);
			return fail(x, err, EC_EPROTO, 0, "%s", "econtext._get sent something else");
		}
		EVP_DigestUpdate(x->md, v->u.s.data, v->u.s.len);
		for (size_t off = 0; off < v->u.s.len;) {
			ssize_t n = write(fd, v->u.s.data + off, v->u.s.len - off);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				ec_value_free(v);
				return fail_errno(x, err, x->dst);
			}
			off += (size_t)n;
		}
		*got += v->u.s.len;
		ec_value_free(v);
		if ((rc = progress(x, *got, 0, err)))
			return rc;
	}
}

int ec_context_get(ec_context *ctx, const char *remote_path, const char *local_path,
                   const struct ec_transfer_options *o, struct ec_transfer_result *res,
                   struct ec_error *err)
{
	struct xfer x;
	int rc = xfer_init(&x, ctx, "get", remote_path, local_path, o, res, err);
	res = x.res;
	int fd = -1;
	char *tmp = NULL;
	ec_channel *ch = NULL;
	ec_call *call = NULL;
	ec_value *r = NULL;
	if (rc)
		goto out;
	struct stat st;
	if (stat(local_path, &st) == 0 && S_ISDIR(st.st_mode)) {
		errno = EISDIR;
		rc = fail_errno(&x, err, local_path);
		goto out;
	}
	/* A temporary name beside the target: ".NAME.ec-XXXXXX", 0600, O_EXCL. */
	char *copy = strdup(local_path), *copy2 = strdup(local_path);
	if (copy && copy2 && asprintf(&tmp, "%s/.%s.ec-XXXXXX", dirname(copy), basename(copy2)) < 0)
		tmp = NULL;
	free(copy);
	free(copy2);
	if (!tmp) {
		rc = ec__error_set(err, EC_ENOMEM, ec_context_name(ctx), "out of memory");
		goto out;
	}
	if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0) {
		free(tmp);
		tmp = NULL;
		rc = fail_errno(&x, err, local_path);
		goto out;
	}
	if ((rc = ec_channel_new(ctx, &ch, err)))
		goto out;
	ec_value *args = ec_value_new(EC_T_TUPLE);
	if (!args || ec_value_append(args, ec_value_channel(ch)) ||
	    ec_value_append(args, path_value(remote_path))) {
		ec_value_free(args);
		rc = ec__error_set(err, EC_ENOMEM, ec_context_name(ctx), "out of memory");
		goto out;
	}
	rc = ec_context_call_async(ctx, "econtext", "_get", args, NULL, &call, err);
	ec_value_free(args);
	if (rc)
		goto out;
	res->changed = 1;
	struct ec_error rerr = {0};
	rc = recv_file(&x, fd, ch, &res->bytes, &rerr);
	if (rc) {
		ec_call_cancel(call);
		if (rc == EC_ECLOSED || rc == EC_ETIMEDOUT) {
			if (err)
				*err = rerr;
			ec__error_prefix(err, "get %s -> %s", remote_path, local_path);
		} else if (err) {
			*err = rerr;
		}
		goto out;
	}
	if ((rc = ec_call_wait(call, x.timeout_ms, &r, err))) {
		rc = fail_call(&x, rc, r, err);
		r = NULL;
		goto out;
	}
	if (r->type != EC_T_TUPLE || r->u.seq.len != 4 || r->u.seq.items[0]->type != EC_T_INT) {
		rc = fail(&x, err, EC_EPROTO, 0, "%s", "econtext._get answered something else");
		goto out;
	}
	ec_value **it = r->u.seq.items;
	hex_digest(&x, res->sha256);
	res->size = res->bytes;
	const char *theirs = it[1]->u.s.data;
	if ((uint64_t)it[0]->u.i != res->bytes || strcmp(theirs, res->sha256) != 0) {
		rc = fail(&x, err, EC_EPROTO, 0,
		          "%llu bytes with SHA-256 %s came, the context read %lld with %s",
		          (unsigned long long)res->bytes, res->sha256, (long long)it[0]->u.i, theirs);
		goto out;
	}
	unsigned mode = x.o->set_mode ? (x.o->mode & 07777) : (unsigned)it[2]->u.i & 07777;
	double mt = it[3]->type == EC_T_FLOAT ? it[3]->u.f : (double)it[3]->u.i;
	struct timespec times[2];
	times[0].tv_sec = times[1].tv_sec = (time_t)mt;
	times[0].tv_nsec = times[1].tv_nsec = (long)((mt - (double)(time_t)mt) * 1e9);
	if (fsync(fd) != 0 || fchmod(fd, mode) != 0 || futimens(fd, times) != 0 ||
	    close(fd) != 0) {
		rc = fail_errno(&x, err, local_path);
		fd = -1;
		goto out;
	}
	fd = -1;
	if (rename(tmp, local_path) != 0) {
		rc = fail_errno(&x, err, local_path);
		goto out;
	}
	free(tmp);
	tmp = NULL;
	fsync_dir_of(local_path);
out:
	ec_value_free(r);
	ec_channel_free(ch);
	ec_call_free(call);
	if (fd >= 0)
		close(fd);
	if (tmp) {
		unlink(tmp);
		free(tmp);
	}
	xfer_done(&x);
	return rc;
}
