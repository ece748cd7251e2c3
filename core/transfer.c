/* transfer.c: file transfer, the master's side (ec_context_put, ec_context_get;
 * docs/protocol.md, "File transfer"): the file streamed in chunks on a channel to or
 * from econtext._put / econtext._get in the context, SHA-256 computed here as it is read
 * or written and checked there (put) or here (get), the skip-if-unchanged check through
 * econtext._stat. A get is written here as a put is there: a temporary file beside the
 * target, checked, fsynced, renamed. Only the public API below it: any thread. */
#include "ecbuild.h"

#include <dirent.h>
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

/* One context a put goes to. x is the shared transfer's with this context and result
 * (its md and buf are the shared ones). */
struct dest {
	struct xfer x;
	struct ec_error *err;
	int rc;          /* 0 while it goes well */
	int sending;     /* its _put runs and takes chunks */
	ec_call *call;   /* _stat, then _put */
	ec_channel *ch;
	char theirs[65]; /* _stat's digest, when the size and mode are the same */
};

/* The owner and group asked for (names or numbers), or None each. */
static int append_ids(ec_value *args, const struct ec_transfer_options *o)
{
	return ec_value_append(args, o->owner ? path_value(o->owner) : ec_value_none()) ||
	       ec_value_append(args, o->group ? path_value(o->group) : ec_value_none());
}

/* Start econtext._stat(remote, size, owner, group) in d's context. */
static void stat_start(struct dest *d, const struct stat *st)
{
	ec_value *args = ec_value_new(EC_T_TUPLE);
	if (!args || ec_value_append(args, path_value(d->x.dst)) ||
	    ec_value_append(args, ec_value_int(st->st_size)) || append_ids(args, d->x.o))
		d->rc = ec__error_set(d->err, EC_ENOMEM, ec_context_name(d->x.ctx), "out of memory");
	else
		d->rc = ec_context_call_async(d->x.ctx, "econtext", "_stat", args, NULL, &d->call, d->err);
	ec_value_free(args);
}

/* Its answer: EISDIR for a directory; d->theirs set when size and mode are ours. */
static void stat_finish(struct dest *d, const struct stat *st, unsigned mode)
{
	ec_value *res = NULL;
	int rc = ec_call_wait(d->call, d->x.timeout_ms, &res, d->err);
	ec_call_free(d->call);
	d->call = NULL;
	if (rc) {
		d->rc = fail_call(&d->x, rc, res, d->err);
		return;
	}
	ec_value **it = res->u.seq.items;
	if (res->type != EC_T_TUPLE || res->u.seq.len != 6)
		d->rc = fail(&d->x, d->err, EC_EPROTO, 0, "%s", "econtext._stat answered something else");
	else if (it[1]->u.b) {
		errno = EISDIR;
		d->rc = fail_errno(&d->x, d->err, d->x.dst);
	} else if (it[0]->u.b && it[2]->u.i == st->st_size && it[3]->type != EC_T_NONE &&
	           (unsigned)it[4]->u.i == mode && it[5]->u.b)
		snprintf(d->theirs, sizeof(d->theirs), "%s", it[3]->u.s.data);
	ec_value_free(res);
}

/* Read fd to its end through x->md (reset first); the hex digest in hex. */
static int digest_file(struct xfer *x, int fd, char hex[65], struct ec_error *err)
{
	EVP_DigestInit_ex(x->md, EVP_sha256(), NULL);
	for (;;) {
		ssize_t n = read(fd, x->buf, CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return fail_errno(x, err, x->src);
		if (n == 0)
			break;
		EVP_DigestUpdate(x->md, x->buf, (size_t)n);
	}
	hex_digest(x, hex);
	EVP_DigestInit_ex(x->md, EVP_sha256(), NULL);
	return lseek(fd, 0, SEEK_SET) < 0 ? fail_errno(x, err, x->src) : 0;
}

/* Open a channel to d and start econtext._put on it. */
static void put_start(struct dest *d, const struct stat *st, unsigned mode)
{
	if ((d->rc = ec_channel_new(d->x.ctx, &d->ch, d->err)))
		return;
	double mtime = (double)st->st_mtim.tv_sec + st->st_mtim.tv_nsec / 1e9;
	ec_value *args = ec_value_new(EC_T_TUPLE);
	if (!args || ec_value_append(args, ec_value_channel(d->ch)) ||
	    ec_value_append(args, path_value(d->x.dst)) || ec_value_append(args, ec_value_int(mode)) ||
	    ec_value_append(args, ec_value_float(mtime)) ||
	    ec_value_append(args, ec_value_int(st->st_size)) || append_ids(args, d->x.o))
		d->rc = ec__error_set(d->err, EC_ENOMEM, ec_context_name(d->x.ctx), "out of memory");
	else
		d->rc = ec_context_call_async(d->x.ctx, "econtext", "_put", args, NULL, &d->call, d->err);
	ec_value_free(args);
	d->sending = d->rc == 0;
	d->x.res->changed = 1;
}

/* v to every context still taking chunks; one that refuses stops taking (its call
 * says why); n bytes counted for the others. */
static void send_all(struct dest *ds, size_t nd, const ec_value *v, uint64_t n)
{
	for (size_t i = 0; i < nd; i++) {
		struct dest *d = &ds[i];
		if (!d->sending)
			continue;
		if (ec_channel_send(d->ch, v, d->x.timeout_ms, NULL) != 0)
			d->sending = 0;
		else
			d->x.res->bytes += n;
	}
}

/* Stream fd to every sending context, then the digest. 0, or a local error or
 * EC_ECANCELED for them all (in *err). */
static int stream_all(struct xfer *x, int fd, uint64_t total, struct dest *ds, size_t nd,
                      char hex[65], struct ec_error *err)
{
	uint64_t done = 0;
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
		send_all(ds, nd, v, (uint64_t)n);
		ec_value_free(v);
		done += (uint64_t)n;
		int rc = progress(x, done, total, err);
		if (rc)
			return rc;
	}
	hex_digest(x, hex);
	ec_value *d = ec_value_cstr(hex);
	if (!d)
		return ec__error_set(err, EC_ENOMEM, ec_context_name(x->ctx), "out of memory");
	send_all(ds, nd, d, 0);
	ec_value_free(d);
	return 0;
}

/* A failure of them all (a local error, a cancel) as d's, said of its context. */
static void dest_fail(struct dest *d, int rc, const struct ec_error *why)
{
	d->rc = rc;
	if (d->err) {
		*d->err = *why;
		snprintf(d->err->where, sizeof(d->err->where), "%s", ec_context_name(d->x.ctx));
	}
}

/* The end of d's _put: its result, or, after a local error or a cancel (why), the call
 * cancelled (the context removes its temporary file) and why as d's error. */
static void put_finish(struct dest *d, int why_rc, const struct ec_error *why)
{
	ec_value *r = NULL;
	if (why_rc) {
		ec_call_cancel(d->call);
		ec_call_wait(d->call, d->x.timeout_ms, &r, NULL);
		ec_value_free(r);
		dest_fail(d, why_rc, why);
		return;
	}
	ec_channel_close(d->ch, NULL);
	int rc = ec_call_wait(d->call, d->x.timeout_ms, &r, d->err);
	if (rc)
		d->rc = fail_call(&d->x, rc, r, d->err);
	else
		ec_value_free(r);
}

int ec_context_put_many(ec_context *const *ctxs, size_t n, const char *local_path,
                        const char *remote_path, const struct ec_transfer_options *o,
                        struct ec_transfer_result *res, struct ec_error *errs)
{
	if (!n)
		return 0;
	struct xfer x;
	int rc = xfer_init(&x, ctxs[0], "put", local_path, remote_path, o, NULL, errs);
	struct dest *ds = calloc(n, sizeof(*ds));
	int fd = -1;
	if (rc || !ds) {
		rc = rc ? rc : ec__error_set(errs, EC_ENOMEM, ec_context_name(ctxs[0]), "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		ds[i].x = x;
		ds[i].x.ctx = ctxs[i];
		ds[i].x.res = res ? &res[i] : &ds[i].x.mine;
		memset(ds[i].x.res, 0, sizeof(*ds[i].x.res));
		ds[i].err = errs ? &errs[i] : NULL;
	}
	struct stat st;
	fd = open(local_path, O_RDONLY | O_CLOEXEC);
	int bad = fd < 0 || fstat(fd, &st) != 0 ? errno : 0;
	if (!bad && !S_ISREG(st.st_mode))
		bad = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
	if (bad) {
		for (size_t i = 0; i < n; i++) {
			errno = bad;
			ds[i].rc = fail_errno(&ds[i].x, ds[i].err, local_path);
		}
		goto done;
	}
	unsigned mode = x.o->set_mode ? (x.o->mode & 07777) : (st.st_mode & 07777);
	/* Every context's target at once; the file's digest read once, if one may match. */
	int maybe_same = 0;
	for (size_t i = 0; i < n; i++)
		stat_start(&ds[i], &st);
	for (size_t i = 0; i < n; i++) {
		ds[i].x.res->size = (uint64_t)st.st_size;
		if (!ds[i].rc)
			stat_finish(&ds[i], &st, mode);
		maybe_same |= !ds[i].rc && ds[i].theirs[0];
	}
	char hex[65] = "";
	struct ec_error lerr = {0};
	int lrc = maybe_same ? digest_file(&x, fd, hex, &lerr) : 0;
	for (size_t i = 0; i < n; i++) {
		struct dest *d = &ds[i];
		if (d->rc)
			continue;
		if (lrc) {
			dest_fail(d, lrc, &lerr);
		} else if (d->theirs[0] && !strcmp(d->theirs, hex)) {
			snprintf(d->x.res->sha256, sizeof(d->x.res->sha256), "%s", hex);
		} else {
			put_start(d, &st, mode);
		}
	}
	int any = 0;
	for (size_t i = 0; i < n; i++)
		any |= ds[i].call != NULL;
	if (!lrc && any)
		lrc = stream_all(&x, fd, (uint64_t)st.st_size, ds, n, hex, &lerr);
	for (size_t i = 0; i < n; i++) {
		struct dest *d = &ds[i];
		if (d->rc || !d->call)
			continue;
		put_finish(d, lrc, &lerr);
		if (!d->rc)
			snprintf(d->x.res->sha256, sizeof(d->x.res->sha256), "%s", hex);
	}
done:
	for (size_t i = 0; i < n; i++) {
		struct dest *d = &ds[i];
		ec_channel_free(d->ch);
		ec_call_free(d->call);
		d->x.res->seconds = (double)(ec__now_us() - x.t0) / 1e6;
		if (d->rc && !rc)
			rc = d->rc;
	}
out:
	free(ds);
	if (fd >= 0)
		close(fd);
	xfer_done(&x);
	return rc;
}

int ec_context_put(ec_context *ctx, const char *local_path, const char *remote_path,
                   const struct ec_transfer_options *o, struct ec_transfer_result *res,
                   struct ec_error *err)
{
	return ec_context_put_many(&ctx, 1, local_path, remote_path, o, res, err);
}

/* ---- trees ------------------------------------------------------------------------ */

struct tree {
	ec_context *const *ctxs;
	size_t n, left;  /* contexts, and those not failed yet */
	const struct ec_transfer_options *o;
	struct ec_transfer_result *res;
	struct ec_error *errs;
	int *failed;
	const char *top_src, *top_dst;
};

static void tree_fail(struct tree *t, size_t i, int rc, const struct ec_error *why)
{
	t->failed[i] = 1;
	t->left--;
	if (t->errs) {
		t->errs[i] = *why;
		t->errs[i].code = rc;
	}
}

/* econtext.fn(args) in every context not failed, all at once; a True answer is a
 * change. Takes args. */
static void tree_call(struct tree *t, const char *fn, ec_value *args, const char *src,
                      const char *dst)
{
	ec_call **calls = calloc(t->n, sizeof(*calls));
	for (size_t i = 0; i < t->n; i++) {
		struct ec_error e = {0};
		int rc = EC_ENOMEM;
		if (t->failed[i] || !calls || !args ||
		    !(rc = ec_context_call_async(t->ctxs[i], "econtext", fn, args, NULL, &calls[i], &e)))
			continue;
		tree_fail(t, i, rc, &e);
	}
	for (size_t i = 0; calls && i < t->n; i++) {
		if (!calls[i])
			continue;
		struct ec_error e = {0};
		ec_value *r = NULL;
		int rc = ec_call_wait(calls[i], t->o->timeout_ms, &r, &e);
		ec_call_free(calls[i]);
		if (rc) {
			struct xfer x = {.ctx = t->ctxs[i], .what = "put -r", .src = src, .dst = dst};
			rc = fail_call(&x, rc, r, &e);
			tree_fail(t, i, rc, &e);
			continue;
		}
		if (r->type == EC_T_BOOL && r->u.b)
			t->res[i].changed = 1;
		ec_value_free(r);
	}
	free(calls);
	ec_value_free(args);
}

static ec_value *pair(ec_value *a, ec_value *b)
{
	ec_value *t = ec_value_new(EC_T_TUPLE);
	if (!t || ec_value_append(t, a) || ec_value_append(t, b)) {
		ec_value_free(t);
		return NULL;
	}
	return t;
}

/* A local failure (a directory or link that cannot be read) for every context left. */
static void tree_fail_all(struct tree *t, const char *path)
{
	int e = errno;
	for (size_t i = 0; i < t->n; i++) {
		if (t->failed[i])
			continue;
		struct xfer x = {.ctx = t->ctxs[i], .what = "put -r", .src = t->top_src, .dst = t->top_dst};
		struct ec_error err = {0};
		errno = e;
		int rc = fail_errno(&x, &err, path);
		tree_fail(t, i, rc, &err);
	}
}

/* One regular file to every context left, read once. */
static void tree_file(struct tree *t, const char *src, const char *dst)
{
	ec_context **cs = calloc(t->n, sizeof(*cs));
	size_t *idx = calloc(t->n, sizeof(*idx)), k = 0;
	struct ec_transfer_result *res = calloc(t->n, sizeof(*res));
	struct ec_error *errs = calloc(t->n, sizeof(*errs));
	if (!cs || !idx || !res || !errs) {
		errno = ENOMEM;
		tree_fail_all(t, src);
	} else {
		for (size_t i = 0; i < t->n; i++)
			if (!t->failed[i]) {
				idx[k] = i;
				cs[k++] = t->ctxs[i];
			}
		ec_context_put_many(cs, k, src, dst, t->o, res, errs);
		for (size_t j = 0; j < k; j++) {
			struct ec_transfer_result *r = &t->res[idx[j]];
			r->changed |= res[j].changed;
			r->bytes += res[j].bytes;
			r->size += res[j].size;
			if (errs[j].code)
				tree_fail(t, idx[j], errs[j].code, &errs[j]);
		}
	}
	free(cs);
	free(idx);
	free(res);
	free(errs);
}

/* The entries of the local directory src into dst, depth first; symbolic links copied
 * as links, never followed; other kinds (devices, sockets, fifos) left out. */
static void tree_walk(struct tree *t, const char *src, const char *dst)
{
	DIR *dp = opendir(src);
	if (!dp) {
		tree_fail_all(t, src);
		return;
	}
	struct dirent *e;
	while (t->left && (e = readdir(dp))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		char *ls = NULL, *rs = NULL;
		if (asprintf(&ls, "%s/%s", src, e->d_name) < 0 ||
		    asprintf(&rs, "%s/%s", dst, e->d_name) < 0) {
			errno = ENOMEM;
			tree_fail_all(t, src);
			free(ls);
			break;
		}
		struct stat st;
		if (lstat(ls, &st) != 0) {
			tree_fail_all(t, ls);
		} else if (S_ISDIR(st.st_mode)) {
			tree_call(t, "_mkdir", pair(path_value(rs), ec_value_int(st.st_mode & 07777)), ls, rs);
			tree_walk(t, ls, rs);
		} else if (S_ISLNK(st.st_mode)) {
			char target[4096];
			ssize_t n = readlink(ls, target, sizeof(target) - 1);
			if (n < 0) {
				tree_fail_all(t, ls);
			} else {
				target[n] = '\0';
				tree_call(t, "_symlink", pair(path_value(target), path_value(rs)), ls, rs);
			}
		} else if (S_ISREG(st.st_mode)) {
			tree_file(t, ls, rs);
		}
		free(ls);
		free(rs);
	}
	closedir(dp);
}

int ec_context_put_tree(ec_context *const *ctxs, size_t n, const char *local_dir,
                        const char *remote_dir, const struct ec_transfer_options *o,
                        struct ec_transfer_result *res, struct ec_error *errs)
{
	static const struct ec_transfer_options none = {.size = sizeof(none)};
	struct tree t = {.ctxs = ctxs, .n = n, .left = n, .o = o ? o : &none, .res = res,
	                 .errs = errs, .top_src = local_dir, .top_dst = remote_dir};
	long long t0 = ec__now_us();
	struct ec_transfer_result *mine = res ? NULL : calloc(n ? n : 1, sizeof(*mine));
	if (!res)
		t.res = mine;
	t.failed = calloc(n ? n : 1, sizeof(*t.failed));
	if (!t.failed || !t.res) {
		free(t.failed);
		free(mine);
		return ec__error_set(errs, EC_ENOMEM, n ? ec_context_name(ctxs[0]) : NULL, "out of memory");
	}
	memset(t.res, 0, n * sizeof(*t.res));
	struct stat st;
	int bad = lstat(local_dir, &st) != 0 ? errno : !S_ISDIR(st.st_mode) ? ENOTDIR : 0;
	if (bad) {
		errno = bad;
		tree_fail_all(&t, local_dir);
	} else {
		tree_call(&t, "_mkdir", pair(path_value(remote_dir), ec_value_int(st.st_mode & 07777)),
		          local_dir, remote_dir);
		tree_walk(&t, local_dir, remote_dir);
	}
	int rc = 0;
	for (size_t i = 0; i < n; i++) {
		t.res[i].seconds = (double)(ec__now_us() - t0) / 1e6;
		if (t.failed[i] && !rc)
			rc = errs ? errs[i].code : EC_EREMOTE;
	}
	free(t.failed);
	free(mine);
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
