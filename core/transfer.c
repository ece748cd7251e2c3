/* transfer.c: file transfer, the master's side (ec_context_put, ec_context_get;
 * docs/protocol.md, "File transfer"): the file streamed in chunks on a channel to or
 * from econtext._put / econtext._get in the context, SHA-256 computed here as it is read
 * or written and checked there (put) or here (get), the skip-if-unchanged check through
 * econtext._stat (the local digest read meanwhile, on a thread). A get is written here as a put is there: a temporary file beside the
 * target, checked, fsynced, renamed. Only the public API below it (and a channel's
 * count of unacknowledged bytes, for a put's progress per destination): any thread. */
#include "ecbuild.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <openssl/evp.h>
#include <pwd.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "call.h"
#include "channel.h"
#include "clock.h"
#include "error.h"
#include "transfer.h"
#include "value.h"

/* Bytes per channel value: 16 of them fill the 4 MiB window. */
#define CHUNK (256u << 10)

struct xfer {
	ec_context *ctx;
	const char *what; /* "put" or "get" */
	const char *src, *dst;
	int timeout_ms;
	const struct ec_transfer_options *o; /* the caller's whole (opts_full) */
	struct ec_transfer_options opts;     /* the caller's, grown to this size */
	EVP_MD_CTX *md;
	struct ec_transfer_result *res, mine; /* the caller's, or mine */
	long long t0;
	uid_t uid; /* get: the owner and group to give, or -1 (local_ids) */
	gid_t gid;
	ec_context *const *all; /* the transfer's contexts (the caller's), n_all of them; */
	size_t n_all;           /* 0: ctx alone. A callback must not wait on them. */
};

/* o as this version's whole options: o itself, or (NULL, or a caller built with an
 * older header, o->size smaller) its members copied into *mine, the later ones 0. */
static const struct ec_transfer_options *opts_full(const struct ec_transfer_options *o,
                                                   struct ec_transfer_options *mine)
{
	if (o && o->size >= sizeof(*o))
		return o;
	*mine = (struct ec_transfer_options){.size = sizeof(*mine)};
	if (o && o->size > sizeof(o->size)) /* past size: what the caller's header had */
		memcpy((char *)mine + sizeof(o->size), (const char *)o + sizeof(o->size),
		       o->size - sizeof(o->size));
	return mine;
}

static int xfer_init(struct xfer *x, ec_context *ctx, const char *what, const char *src,
                     const char *dst, const struct ec_transfer_options *o,
                     struct ec_transfer_result *res, struct ec_error *err)
{
	*x = (struct xfer){.ctx = ctx, .what = what, .src = src, .dst = dst, .t0 = ec__now_us()};
	x->o = opts_full(o, &x->opts);
	x->res = res ? res : &x->mine;
	memset(x->res, 0, sizeof(*x->res));
	x->timeout_ms = x->o->timeout_ms;
	x->md = EVP_MD_CTX_new();
	if (!x->md || !EVP_DigestInit_ex(x->md, EVP_sha256(), NULL))
		return ec__error_set(err, EC_ENOMEM, ec_context_name(ctx), "out of memory");
	return 0;
}

static void xfer_done(struct xfer *x)
{
	x->res->seconds = (double)(ec__now_us() - x->t0) / 1e6;
	EVP_MD_CTX_free(x->md);
}

static void hex_of(const unsigned char d[32], char out[65])
{
	for (unsigned i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static void hex_digest(struct xfer *x, char out[65])
{
	unsigned char d[32];
	unsigned n = 0;
	EVP_DigestFinal_ex(x->md, d, &n);
	hex_of(d, out);
}

/* The context's name, for messages ("-" without one: ec__xfer_tree_entry). */
static const char *xname(const struct xfer *x)
{
	return x->ctx ? ec_context_name(x->ctx) : "-";
}

static int is_text(const ec_value *v)
{
	return v->type == EC_T_STR || v->type == EC_T_BYTES;
}

/* An mtime of the context's (seconds, a float or an int) as a struct timespec: -1 when
 * none holds it (NaN, infinite, out of time_t's range; a cast would be undefined). */
static int mtime_of(const ec_value *v, struct timespec *ts)
{
	const double lim = sizeof(time_t) >= 8 ? 9.2e18 : 2147483647.0;
	if (v->type == EC_T_INT && (double)v->u.i > -lim && (double)v->u.i < lim) {
		*ts = (struct timespec){.tv_sec = (time_t)v->u.i};
		return 0;
	}
	if (v->type != EC_T_FLOAT || !(v->u.f > -lim && v->u.f < lim))
		return -1;
	time_t sec = (time_t)v->u.f; /* toward 0: down before 1970, the nanoseconds >= 0 */
	if ((double)sec > v->u.f)
		sec--;
	long ns = (long)((v->u.f - (double)sec) * 1e9);
	*ts = (struct timespec){.tv_sec = sec, .tv_nsec = ns > 999999999 ? 999999999 : ns};
	return 0;
}

int ec__xfer_stat_answer(const ec_value *r, struct ec__xfer_stat *out)
{
	if (!r || r->type != EC_T_TUPLE || r->u.seq.len != 6)
		return -1;
	ec_value **it = r->u.seq.items;
	if (it[0]->type != EC_T_BOOL || it[1]->type != EC_T_BOOL || it[2]->type != EC_T_INT ||
	    (it[3]->type != EC_T_NONE && !is_text(it[3])) || it[4]->type != EC_T_INT ||
	    it[5]->type != EC_T_BOOL)
		return -1;
	*out = (struct ec__xfer_stat){.exists = it[0]->u.b, .isdir = it[1]->u.b,
	                              .size = it[2]->u.i,
	                              .sha256 = is_text(it[3]) ? it[3]->u.s.data : NULL,
	                              .mode = (unsigned)it[4]->u.i & 07777, .owned = it[5]->u.b};
	return 0;
}

int ec__xfer_get_answer(const ec_value *r, struct ec__xfer_got *out)
{
	if (!r || r->type != EC_T_TUPLE || r->u.seq.len != 4)
		return -1;
	ec_value **it = r->u.seq.items;
	struct timespec mt;
	if (it[0]->type != EC_T_INT || it[0]->u.i < 0 || !is_text(it[1]) || it[2]->type != EC_T_INT ||
	    mtime_of(it[3], &mt))
		return -1;
	*out = (struct ec__xfer_got){.size = (uint64_t)it[0]->u.i, .sha256 = it[1]->u.s.data,
	                             .mode = (unsigned)it[2]->u.i & 07777, .mtime = mt};
	return 0;
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
	int rc = ec__error_set(err, code, xname(x), "%s %s -> %s on context '%s': %s", x->what,
	                       x->src, x->dst, xname(x), what);
	if (err)
		err->sys_errno = sys;
	return rc;
}

/* errno's failure on path: EC_ESYS, or EC_ENOMEM when it is out of memory (an
 * allocation of ours: tmp_name, the digest thread's buffer). */
static int fail_errno(const struct xfer *x, struct ec_error *err, const char *path)
{
	int e = errno;
	if (e == ENOMEM)
		return fail(x, err, EC_ENOMEM, e, "%s: out of memory", path);
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

static int cancelled(const struct xfer *x, struct ec_error *err)
{
	return ec__error_set(err, EC_ECANCELED, xname(x), "%s %s -> %s cancelled",
	                     x->what, x->src, x->dst);
}

/* While the caller's callback runs, a wait of its on the transfer's contexts is refused
 * (core/call.h): they wait for this thread's next chunk. */
static void busy_push(const struct xfer *x, struct ec_calls_busy *b)
{
	ec__calls_busy_push(b, x->n_all ? x->all : &x->ctx, x->n_all ? x->n_all : 1);
}

/* The progress callback; EC_ECANCELED when it says stop. */
static int progress(const struct xfer *x, uint64_t done, uint64_t total, struct ec_error *err)
{
	if (!x->o->progress)
		return 0;
	struct ec_calls_busy b;
	busy_push(x, &b);
	int stop = x->o->progress(x->o->progress_arg, done, total);
	ec__calls_busy_pop(&b);
	return stop ? cancelled(x, err) : 0;
}

/* The per destination callback for destination i; EC_ECANCELED when it says stop. */
static int progress_dest(const struct xfer *x, size_t i, uint64_t done, uint64_t total,
                         struct ec_error *err)
{
	if (!x->o->progress_dest)
		return 0;
	struct ec_calls_busy b;
	busy_push(x, &b);
	int stop = x->o->progress_dest(x->o->progress_arg, i, done, total);
	ec__calls_busy_pop(&b);
	return stop ? cancelled(x, err) : 0;
}

/* A transfer from a callback of another to one of its contexts: refused (busy_push),
 * in that context's error (errs: one for each context, or NULL), res (n, or NULL) 0. */
static int busy_refuses(ec_context *const *ctxs, size_t n, const char *what,
                        struct ec_transfer_result *res, struct ec_error *errs)
{
	for (size_t i = 0; i < n; i++)
		if (ec__calls_busy(ctxs[i], ec_context_name(ctxs[i]), what, errs ? &errs[i] : NULL)) {
			if (res)
				memset(res, 0, n * sizeof(*res));
			return EC_EINVAL;
		}
	return 0;
}

/* A tree's progress: its files' bytes summed (o->progress and o->progress_dest see
 * the tree's, not each file's); sum_next at each file's start. A put's per
 * destination sums: dest_base (the bytes of each context's files before this one),
 * idx (this file's destinations' places among the tree's contexts); a get has one
 * destination, whose sum is base. */
struct sum_progress {
	const struct ec_transfer_options *user;
	uint64_t base, last;
	uint64_t *dest_base;
	const size_t *idx;
};

static int sum_progress_cb(void *arg, uint64_t done, uint64_t total)
{
	struct sum_progress *s = arg;
	(void)total;
	s->last = done;
	return s->user->progress ? s->user->progress(s->user->progress_arg, s->base + done, 0) : 0;
}

static int sum_dest_cb(void *arg, size_t i, uint64_t done, uint64_t total)
{
	struct sum_progress *s = arg;
	(void)total;
	if (!s->dest_base) { /* a get: one destination, the tree's sum */
		s->last = done;
		return s->user->progress_dest(s->user->progress_arg, 0, s->base + done, 0);
	}
	size_t j = s->idx ? s->idx[i] : i;
	return s->user->progress_dest(s->user->progress_arg, j, s->dest_base[j] + done, 0);
}

/* o (whole: opts_full) with its progress summed by s (when it has any), in *mine. */
static const struct ec_transfer_options *sum_progress_init(struct sum_progress *s,
                                                           const struct ec_transfer_options *o,
                                                           struct ec_transfer_options *mine)
{
	*s = (struct sum_progress){.user = o};
	if (!o->progress && !o->progress_dest)
		return o;
	*mine = *o;
	mine->progress = o->progress ? sum_progress_cb : NULL;
	mine->progress_dest = o->progress_dest ? sum_dest_cb : NULL;
	mine->progress_arg = s;
	return mine;
}

static void sum_next(struct sum_progress *s)
{
	s->base += s->last;
	s->last = 0;
}

/* One context a put goes to. x is the shared transfer's with this context and result
 * (its md and buf are the shared ones). */
struct dest {
	struct xfer x;
	struct ec_error *err;
	int rc;          /* 0 while it goes well */
	int sending;     /* its _put runs and takes chunks */
	int send_rc;     /* a chunk or the digest not sent for lack of memory: EC_ENOMEM */
	struct ec_error send_err;
	ec_call *call;   /* _stat, then _put */
	ec_channel *ch;
	char theirs[65]; /* _stat's digest, when the size and mode are the same */
	uint64_t acked;  /* the most it acknowledged, as told to progress_dest */
};

/* The owner and group asked for (names or numbers), or None each. */
static int append_ids(ec_value *args, const struct ec_transfer_options *o)
{
	return ec_value_append(args, o->owner ? ec__value_text_or_bytes(o->owner) : ec_value_none()) ||
	       ec_value_append(args, o->group ? ec__value_text_or_bytes(o->group) : ec_value_none());
}

/* Start econtext._stat(remote, size, owner, group) in d's context. */
static void stat_start(struct dest *d, const struct stat *st)
{
	ec_value *args = ec_value_new(EC_T_TUPLE);
	if (!args || ec_value_append(args, ec__value_text_or_bytes(d->x.dst)) ||
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
	struct ec__xfer_stat s;
	if (ec__xfer_stat_answer(res, &s))
		d->rc = fail(&d->x, d->err, EC_EPROTO, 0, "%s", "econtext._stat answered something else");
	else if (s.isdir) {
		errno = EISDIR;
		d->rc = fail_errno(&d->x, d->err, d->x.dst);
	} else if (s.exists && s.size == st->st_size && s.sha256 && s.mode == mode && s.owned)
		snprintf(d->theirs, sizeof(d->theirs), "%s", s.sha256);
	ec_value_free(res);
}

/* The local file's digest, read on a thread of its own while the contexts digest
 * their targets (econtext._stat): an unchanged put costs one digest's time, not two.
 * Stopped early (stop) when no target can be the same. pread: fd's offset is the
 * stream's. */
struct pre_digest {
	int fd;
	atomic_int stop;
	int sys;        /* errno of a failed read, or 0 */
	char hex[65];   /* "" unless read to the end */
	pthread_t thread;
	int started;
};

static void *pre_digest_run(void *arg)
{
	struct pre_digest *p = arg;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	char *buf = malloc(CHUNK);
	unsigned char d[32];
	unsigned n = 0;
	off_t off = 0;
	if (!md || !buf || !EVP_DigestInit_ex(md, EVP_sha256(), NULL)) {
		p->sys = ENOMEM;
		goto out;
	}
	while (!atomic_load(&p->stop)) {
		ssize_t r = pread(p->fd, buf, CHUNK, off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			p->sys = errno;
			goto out;
		}
		if (r == 0) {
			EVP_DigestFinal_ex(md, d, &n);
			for (unsigned i = 0; i < 32; i++)
				snprintf(p->hex + 2 * i, 3, "%02x", d[i]);
			break;
		}
		EVP_DigestUpdate(md, buf, (size_t)r);
		off += r;
	}
out:
	EVP_MD_CTX_free(md);
	free(buf);
	return NULL;
}

/* A file of size bytes: on a thread when over a chunk; a smaller one is read in
 * pre_digest_finish (a thread would cost more than the read). */
static void pre_digest_start(struct pre_digest *p, int fd, off_t size)
{
	*p = (struct pre_digest){.fd = fd};
	atomic_init(&p->stop, 0);
	p->started = size > (off_t)CHUNK && pthread_create(&p->thread, NULL, pre_digest_run, p) == 0;
}

/* Wait for the digest (want), or stop it; then 0 with p->hex, or a local error. */
static int pre_digest_finish(struct pre_digest *p, int want, struct xfer *x, struct ec_error *err)
{
	if (!want)
		atomic_store(&p->stop, 1);
	if (p->started)
		pthread_join(p->thread, NULL);
	else if (want)
		pre_digest_run(p);
	if (want && p->sys) {
		errno = p->sys;
		return fail_errno(x, err, x->src);
	}
	return 0;
}

/* Open a channel to d and start econtext._put on it. */
static void put_start(struct dest *d, const struct stat *st, unsigned mode)
{
	if ((d->rc = ec_channel_new(d->x.ctx, &d->ch, d->err)))
		return;
	double mtime = (double)st->st_mtim.tv_sec + st->st_mtim.tv_nsec / 1e9;
	ec_value *args = ec_value_new(EC_T_TUPLE);
	if (!args || ec_value_append(args, ec_value_channel(d->ch)) ||
	    ec_value_append(args, ec__value_text_or_bytes(d->x.dst)) || ec_value_append(args, ec_value_int(mode)) ||
	    ec_value_append(args, ec_value_float(mtime)) ||
	    ec_value_append(args, ec_value_int(st->st_size)) || append_ids(args, d->x.o))
		d->rc = ec__error_set(d->err, EC_ENOMEM, ec_context_name(d->x.ctx), "out of memory");
	else
		d->rc = ec_context_call_async(d->x.ctx, "econtext", "_put", args, NULL, &d->call, d->err);
	ec_value_free(args);
	d->sending = d->rc == 0;
	d->x.res->changed = 1;
}

/* To every context still taking chunks: a chunk's block as content (chain: the digest
 * of the file read so far, docs/protocol.md 2), written to each from the one block; or
 * the value v. One that refuses stops taking (its call says why; out of memory here is
 * kept, put_finish says it); n bytes counted for the others. */
static void send_all(struct dest *ds, size_t nd, const ec_value *v, struct ec_block *b,
                     const unsigned char *chain, uint64_t n)
{
	for (size_t i = 0; i < nd; i++) {
		struct dest *d = &ds[i];
		if (!d->sending)
			continue;
		struct ec_error e = {0};
		int rc = b ? ec__channel_send_content(d->ch, b, chain, d->x.timeout_ms, &e)
		           : ec_channel_send(d->ch, v, d->x.timeout_ms, &e);
		if (rc) {
			d->sending = 0;
			if (rc == EC_ENOMEM) {
				d->send_rc = rc;
				d->send_err = e;
			}
		} else {
			d->x.res->bytes += n;
		}
	}
}

/* Each context still taking chunks: the bytes it acknowledged (those sent less those
 * in its window; a value's encoding adds a few bytes, so this errs low by as many, and
 * is exact once all is acknowledged; never less than told before) to
 * o->progress_dest. */
static int dests_progress(const struct xfer *x, struct dest *ds, size_t nd, uint64_t total,
                          struct ec_error *err)
{
	if (!x->o->progress_dest)
		return 0;
	for (size_t i = 0; i < nd; i++) {
		struct dest *d = &ds[i];
		if (!d->sending)
			continue;
		uint64_t sent = d->x.res->bytes, unacked = ec__channel_unacked(d->ch);
		if (sent > unacked && sent - unacked > d->acked)
			d->acked = sent - unacked;
		int rc = progress_dest(x, i, d->acked, total, err);
		if (rc)
			return rc;
	}
	return 0;
}

/* Stream fd to every sending context, then the digest. 0, or a local error or
 * EC_ECANCELED for them all (in *err). */
static int stream_all(struct xfer *x, int fd, uint64_t total, struct dest *ds, size_t nd,
                      char hex[65], struct ec_error *err)
{
	uint64_t done = 0;
	/* A small file's size (and a byte to see its end), not a chunk's. */
	size_t cap = total >= CHUNK ? CHUNK : (size_t)total + 1;
	/* Each chunk is read once into a block that every context's stream writes from. The
	 * blocks are kept and read into again once no stream holds them (their pages
	 * touched once, not a fresh 256 KiB mapping a chunk): those still held are within
	 * the last window's worth (the slowest context's), so a ring a little larger than
	 * the window nearly always has one free; else one more, for this chunk only. */
	struct ec_block *ring[EC_CHANNEL_WINDOW / CHUNK + 4] = {NULL};
	size_t nring = sizeof(ring) / sizeof(ring[0]);
	struct ec_block *b = NULL;
	void *scratch = ec__frame_chain_new();
	if (!scratch)
		return ec__error_set(err, EC_ENOMEM, xname(x), "out of memory");
	int rc = 0;
	for (;;) {
		if (b) {
			ec__block_release(b);
			b = NULL;
		}
		for (size_t i = 0; !b && i < nring; i++) {
			if (!ring[i] && !(ring[i] = ec__block_new(cap)))
				break;
			if (ec__block_unshared(ring[i]))
				b = ec__block_ref(ring[i]);
		}
		if (!b && !(b = ec__block_new(cap))) {
			rc = ec__error_set(err, EC_ENOMEM, xname(x), "out of memory");
			break;
		}
		ssize_t n = read(fd, ec__block_data(b), cap);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = fail_errno(x, err, x->src);
			break;
		}
		if (n == 0)
			break;
		/* The file's digest is the chain its chunks go in: hashed once for every
		 * context, and the frames' MACs cover the chain's digest, not the bytes. */
		unsigned char chain[EC_FRAME_DIGEST_LEN];
		if (!EVP_DigestUpdate(x->md, ec__block_data(b), (size_t)n) ||
		    ec__frame_chain_digest(x->md, scratch, chain)) {
			rc = ec__error_set(err, EC_ENOMEM, xname(x), "out of memory");
			break;
		}
		ec__block_set_len(b, (size_t)n);
		send_all(ds, nd, NULL, b, chain, (uint64_t)n);
		done += (uint64_t)n;
		if ((rc = dests_progress(x, ds, nd, total, err)) || (rc = progress(x, done, total, err)))
			break;
	}
	ec__block_release(b);
	for (size_t i = 0; i < nring; i++)
		ec__block_release(ring[i]);
	ec__frame_chain_free(scratch);
	if (rc)
		return rc;
	hex_digest(x, hex);
	ec_value *d = ec_value_cstr(hex);
	if (!d)
		return ec__error_set(err, EC_ENOMEM, xname(x), "out of memory");
	send_all(ds, nd, d, NULL, NULL, 0);
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
	if (!why_rc && d->send_rc) {
		why_rc = d->send_rc;
		why = &d->send_err;
		ec__error_prefix(&d->send_err, "%s %s -> %s", d->x.what, d->x.src, d->x.dst);
	}
	if (why_rc) {
		/* Cancelled; the channel closed too (its CLOSE cannot fail), so that its end
		 * stops the context's _put even when the cancel could not be sent. */
		ec_call_cancel(d->call);
		ec_channel_close(d->ch, NULL);
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
	if (busy_refuses(ctxs, n, "a put", res, errs))
		return EC_EINVAL;
	struct xfer x;
	int rc = xfer_init(&x, ctxs[0], "put", local_path, remote_path, o, NULL, errs);
	x.all = ctxs;
	x.n_all = n;
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
	struct pre_digest pre;
	pre_digest_start(&pre, fd, st.st_size);
	for (size_t i = 0; i < n; i++) {
		ds[i].x.res->size = (uint64_t)st.st_size;
		if (!ds[i].rc)
			stat_finish(&ds[i], &st, mode);
		maybe_same |= !ds[i].rc && ds[i].theirs[0];
	}
	char hex[65] = "";
	struct ec_error lerr = {0};
	int lrc = pre_digest_finish(&pre, maybe_same, &x, &lerr);
	if (maybe_same && !lrc)
		memcpy(hex, pre.hex, sizeof(hex));
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
		if (!d->rc) {
			snprintf(d->x.res->sha256, sizeof(d->x.res->sha256), "%s", hex);
			/* In place: all of it is there. Too late to cancel. */
			progress_dest(&x, i, d->x.res->bytes, (uint64_t)st.st_size, NULL);
		}
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
	struct sum_progress sum;
	struct ec_transfer_options whole, summed;
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
		if (t->failed[i])
			continue;
		/* No call made (its arguments, out of memory) fails that context: a directory
		 * or link left out would fail later, or worse, not at all. */
		int rc = !calls || !args
		             ? ec__error_set(&e, EC_ENOMEM, ec_context_name(t->ctxs[i]), "out of memory")
		             : ec_context_call_async(t->ctxs[i], "econtext", fn, args, NULL, &calls[i], &e);
		if (rc)
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

/* (a, b), taking both (freed when it fails, as either may be NULL). */
static ec_value *pair(ec_value *a, ec_value *b)
{
	ec_value *t = ec_value_new(EC_T_TUPLE);
	/* ec_value_append takes its item whatever happens, into NULL too */
	int bad = ec_value_append(t, a);
	bad |= ec_value_append(t, b);
	if (bad) {
		ec_value_free(t);
		return NULL;
	}
	return t;
}

/* (a, b) and the owner and group asked for: _mkdir's and _symlink's arguments. */
static ec_value *pair_ids(const struct tree *t, ec_value *a, ec_value *b)
{
	ec_value *v = pair(a, b);
	if (v && append_ids(v, t->o)) {
		ec_value_free(v);
		return NULL;
	}
	return v;
}

/* _dirdone's arguments: the directory filled, its mode and mtime (st's). */
static ec_value *dirdone_args(const char *path, const struct stat *st)
{
	ec_value *v = pair(ec__value_text_or_bytes(path), ec_value_int(st->st_mode & 07777));
	double mtime = (double)st->st_mtim.tv_sec + st->st_mtim.tv_nsec / 1e9;
	if (v && ec_value_append(v, ec_value_float(mtime))) {
		ec_value_free(v);
		return NULL;
	}
	return v;
}

/* A local failure (a directory or link that cannot be read: path, errno) for every
 * context left; path NULL: the caller's progress cancelled the tree. */
static void tree_fail_all(struct tree *t, const char *path)
{
	int e = errno;
	for (size_t i = 0; i < t->n; i++) {
		if (t->failed[i])
			continue;
		struct xfer x = {.ctx = t->ctxs[i], .what = "put -r", .src = t->top_src, .dst = t->top_dst};
		struct ec_error err = {0};
		errno = e;
		int rc = path ? fail_errno(&x, &err, path) : cancelled(&x, &err);
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
		sum_next(&t->sum);
		t->sum.idx = idx; /* this file's destinations among the tree's */
		ec_context_put_many(cs, k, src, dst, t->o, res, errs);
		t->sum.idx = NULL;
		int stop = 0;
		for (size_t j = 0; j < k; j++) {
			struct ec_transfer_result *r = &t->res[idx[j]];
			r->changed |= res[j].changed;
			r->bytes += res[j].bytes;
			if (t->sum.dest_base)
				t->sum.dest_base[idx[j]] += res[j].bytes;
			r->size += res[j].size;
			stop |= errs[j].code == EC_ECANCELED;
			if (errs[j].code)
				tree_fail(t, idx[j], errs[j].code, &errs[j]);
		}
		/* The caller's progress said stop: the whole tree, for every context (those
		 * this file was not sent to, already the same, included). */
		if (stop)
			tree_fail_all(t, NULL);
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
			tree_call(t, "_mkdir", pair_ids(t, ec__value_text_or_bytes(rs), ec_value_int(st.st_mode & 07777)),
			          ls, rs);
			tree_walk(t, ls, rs);
			tree_call(t, "_dirdone", dirdone_args(rs, &st), ls, rs);
		} else if (S_ISLNK(st.st_mode)) {
			char target[4096];
			ssize_t n = readlink(ls, target, sizeof(target) - 1);
			if (n < 0) {
				tree_fail_all(t, ls);
			} else {
				target[n] = '\0';
				tree_call(t, "_symlink", pair_ids(t, ec__value_text_or_bytes(target), ec__value_text_or_bytes(rs)), ls,
				          rs);
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
	if (busy_refuses(ctxs, n, "a put -r", res, errs))
		return EC_EINVAL;
	struct tree t = {.ctxs = ctxs, .n = n, .left = n, .res = res, .errs = errs,
	                 .top_src = local_dir, .top_dst = remote_dir};
	t.o = sum_progress_init(&t.sum, opts_full(o, &t.whole), &t.summed);
	long long t0 = ec__now_us();
	struct ec_transfer_result *mine = res ? NULL : calloc(n ? n : 1, sizeof(*mine));
	if (!res)
		t.res = mine;
	t.failed = calloc(n ? n : 1, sizeof(*t.failed));
	uint64_t *bases = t.o->progress_dest ? calloc(n ? n : 1, sizeof(*bases)) : NULL;
	t.sum.dest_base = bases;
	if (!t.failed || !t.res || (t.o->progress_dest && !bases)) {
		free(t.failed);
		free(mine);
		free(bases);
		return ec__error_set(errs, EC_ENOMEM, n ? ec_context_name(ctxs[0]) : NULL, "out of memory");
	}
	memset(t.res, 0, n * sizeof(*t.res));
	struct stat st;
	int bad = lstat(local_dir, &st) != 0 ? errno : !S_ISDIR(st.st_mode) ? ENOTDIR : 0;
	if (bad) {
		errno = bad;
		tree_fail_all(&t, local_dir);
	} else {
		tree_call(&t, "_mkdir",
		          pair_ids(&t, ec__value_text_or_bytes(remote_dir), ec_value_int(st.st_mode & 07777)),
		          local_dir, remote_dir);
		tree_walk(&t, local_dir, remote_dir);
		tree_call(&t, "_dirdone", dirdone_args(remote_dir, &st), local_dir, remote_dir);
	}
	int rc = 0;
	for (size_t i = 0; i < n; i++) {
		t.res[i].seconds = (double)(ec__now_us() - t0) / 1e6;
		if (t.failed[i] && !rc)
			rc = errs ? errs[i].code : EC_EREMOTE;
	}
	free(t.failed);
	free(mine);
	free(bases);
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

/* "DIR/.NAME.ec-<12 hex>" beside path (the context's names), or NULL. */
static char *tmp_name(const char *path)
{
	unsigned char r[6] = {0};
	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
		for (size_t i = 0; i < sizeof(r); i++)
			r[i] = (unsigned char)(ec__now_us() >> (i * 3));
	char *copy = strdup(path), *copy2 = strdup(path), *tmp = NULL;
	if (copy && copy2 &&
	    asprintf(&tmp, "%s/.%s.ec-%02x%02x%02x%02x%02x%02x", dirname(copy), basename(copy2), r[0],
	             r[1], r[2], r[3], r[4], r[5]) < 0)
		tmp = NULL;
	free(copy);
	free(copy2);
	if (!tmp)
		errno = ENOMEM;
	return tmp;
}

/* A fresh temporary name beside path in *tmp, made by open(O_EXCL, 0600) (link_fd < 0:
 * the fd returned) or as a link to the unnamed file link_fd (0 returned); a name taken
 * already is drawn again. -1 and errno. */
static int tmp_make(const char *path, char **tmp, int link_fd)
{
	char proc[64];
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", link_fd);
	for (int tries = 0; tries < 10; tries++) {
		if (!(*tmp = tmp_name(path)))
			return -1;
		int rc = link_fd < 0 ? open(*tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)
		                     : linkat(AT_FDCWD, proc, AT_FDCWD, *tmp, AT_SYMLINK_FOLLOW);
		if (rc >= 0)
			return rc;
		int e = errno;
		free(*tmp);
		*tmp = NULL;
		if (e != EEXIST) {
			errno = e;
			return -1;
		}
	}
	errno = EEXIST;
	return -1;
}

/* The file a get writes, beside path: unnamed (O_TMPFILE, 0600) where the filesystem
 * and /proc allow, named only once checked (tmp_link), so that even a master killed
 * mid-get leaves nothing; else a named one (*tmp, O_EXCL, 0600). -1 and errno. */
static int tmp_open(const char *path, char **tmp)
{
	*tmp = NULL;
#ifdef O_TMPFILE
	char *copy = strdup(path);
	if (!copy) {
		errno = ENOMEM;
		return -1;
	}
	int fd = access("/proc/self/fd", X_OK) == 0
	             ? open(dirname(copy), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600)
	             : (errno = EOPNOTSUPP, -1);
	free(copy);
	if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL))
		return fd;
#endif
	return tmp_make(path, tmp, -1);
}

/* Name the unnamed file fd beside path (*tmp set): linkat of /proc/self/fd/FD. */
static int tmp_link(int fd, const char *path, char **tmp)
{
	return tmp_make(path, tmp, fd);
}

/* Take the content of ch into fd until the end (written from the frame's own memory:
 * no value made of it); *got counts. */
static int recv_file(struct xfer *x, int fd, ec_channel *ch, uint64_t *got, struct ec_error *err)
{
	struct ec_buf b;
	ec__buf_init(&b);
	int rc;
	for (;;) {
		size_t off = 0, len = 0;
		rc = ec__channel_recv_content(ch, x->timeout_ms, &b, &off, &len, err);
		if (rc == EC_EEOF) {
			rc = 0;
			break;
		}
		if (rc == 1)
			rc = fail(x, err, EC_EPROTO, 0, "%s", "econtext._get sent something else");
		if (rc)
			break;
		for (size_t done = 0; done < len && !rc;) {
			ssize_t n = write(fd, b.data + off + done, len - done);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				rc = fail_errno(x, err, x->dst);
			else
				done += (size_t)n;
		}
		if (!rc) {
			*got += len;
			rc = progress_dest(x, 0, *got, 0, err);
		}
		if (!rc)
			rc = progress(x, *got, 0, err);
		if (rc)
			break;
	}
	ec__buf_free(&b);
	return rc;
}

/* A user (user 1) or group name, or a number, as its id: 0, else -1. */
static int id_of(const char *name, int user, unsigned long *id)
{
	char buf[16384], *end;
	unsigned long n = strtoul(name, &end, 10);
	struct passwd pw, *pp = NULL;
	struct group gr, *gp = NULL;
	if (*name && !*end)
		*id = n;
	else if (user && getpwnam_r(name, &pw, buf, sizeof(buf), &pp) == 0 && pp)
		*id = pp->pw_uid;
	else if (!user && getgrnam_r(name, &gr, buf, sizeof(buf), &gp) == 0 && gp)
		*id = gp->gr_gid;
	else
		return -1;
	return 0;
}

/* The owner and group a get gives what it writes (o->owner, o->group: names or
 * numbers, resolved here); (uid_t)-1, (gid_t)-1: left as they are. */
static int local_ids(const struct xfer *x, uid_t *uid, gid_t *gid, struct ec_error *err)
{
	unsigned long u = (unsigned long)(uid_t)-1, g = (unsigned long)(gid_t)-1;
	if (x->o->owner && id_of(x->o->owner, 1, &u))
		return fail(x, err, EC_EINVAL, 0, "no user named '%s' here", x->o->owner);
	if (x->o->group && id_of(x->o->group, 0, &g))
		return fail(x, err, EC_EINVAL, 0, "no group named '%s' here", x->o->group);
	*uid = (uid_t)u;
	*gid = (gid_t)g;
	return 0;
}

/* xfer_init, and the owner and group asked for (local_ids). */
static int get_init(struct xfer *x, ec_context *ctx, const char *what, const char *src,
                    const char *dst, const struct ec_transfer_options *o,
                    struct ec_transfer_result *res, struct ec_error *err)
{
	int rc = xfer_init(x, ctx, what, src, dst, o, res, err);
	return rc ? rc : local_ids(x, &x->uid, &x->gid, err);
}

/* The local file of a get (x->dst, st) already the context's (x->src): the same size,
 * SHA-256 and mode (the context's, or o->mode), and the owner and group asked for;
 * econtext._stat answering there while the local digest is read here. 1 when so (x->res
 * says so: unchanged, nothing sent); 0 otherwise, also when a side cannot tell (the get
 * goes on and says what fails). */
static int get_same(struct xfer *x, const struct stat *st, int nofollow)
{
	if ((x->uid != (uid_t)-1 && st->st_uid != x->uid) ||
	    (x->gid != (gid_t)-1 && st->st_gid != x->gid))
		return 0;
	int fd = open(x->dst, O_RDONLY | O_CLOEXEC | (nofollow ? O_NOFOLLOW : 0));
	struct stat fst;
	if (fd < 0)
		return 0;
	if (fstat(fd, &fst) != 0 || !S_ISREG(fst.st_mode)) {
		close(fd);
		return 0;
	}
	ec_value *args = ec_value_new(EC_T_TUPLE), *r = NULL;
	ec_call *call = NULL;
	int same = 0;
	if (args && !ec_value_append(args, ec__value_text_or_bytes(x->src)) &&
	    !ec_value_append(args, ec_value_int(fst.st_size)) &&
	    !ec_value_append(args, ec_value_none()) && !ec_value_append(args, ec_value_none()) &&
	    !ec_context_call_async(x->ctx, "econtext", "_stat", args, NULL, &call, NULL)) {
		struct pre_digest pre;
		pre_digest_start(&pre, fd, fst.st_size);
		struct ec__xfer_stat s;
		int ok = ec_call_wait(call, x->timeout_ms, &r, NULL) == 0 && !ec__xfer_stat_answer(r, &s);
		unsigned mode = ok ? (x->o->set_mode ? x->o->mode : s.mode) & 07777 : 0;
		int maybe = ok && s.exists && !s.isdir && s.size == fst.st_size && s.sha256 &&
		            (fst.st_mode & 07777) == mode;
		if (!pre_digest_finish(&pre, maybe, x, NULL) && maybe && !strcmp(pre.hex, s.sha256)) {
			same = 1;
			x->res->size += (uint64_t)fst.st_size;
			snprintf(x->res->sha256, sizeof(x->res->sha256), "%s", pre.hex);
		}
	}
	ec_value_free(args);
	ec_value_free(r);
	ec_call_free(call);
	close(fd);
	return same;
}

/* One file of the context to local_path (x->src, x->dst): streamed into a temporary
 * file, checked, fsynced, owner (x->uid, x->gid), mode and mtime set, renamed over the
 * target. nofollow (a tree's file): a link at either end is not followed. */
static int get_file(struct xfer *x, int nofollow, struct ec_error *err)
{
	uid_t uid = x->uid;
	gid_t gid = x->gid;
	const char *remote_path = x->src, *local_path = x->dst;
	struct ec_transfer_result *res = x->res;
	int fd = -1, rc = 0;
	char *tmp = NULL;
	ec_channel *ch = NULL;
	ec_call *call = NULL;
	ec_value *r = NULL;
	struct stat st;
	if ((nofollow ? lstat : stat)(local_path, &st) == 0) {
		if (S_ISDIR(st.st_mode)) {
			errno = EISDIR;
			return fail_errno(x, err, local_path);
		}
		if (S_ISREG(st.st_mode) && get_same(x, &st, nofollow))
			return 0;
	}
	if ((fd = tmp_open(local_path, &tmp)) < 0)
		return fail_errno(x, err, local_path);
	if ((rc = ec_channel_new(x->ctx, &ch, err)))
		goto out;
	ec_value *args = ec_value_new(EC_T_TUPLE);
	if (!args || ec_value_append(args, ec_value_channel(ch)) ||
	    ec_value_append(args, ec__value_text_or_bytes(remote_path)) ||
	    ec_value_append(args, ec_value_bool(nofollow))) {
		ec_value_free(args);
		rc = ec__error_set(err, EC_ENOMEM, xname(x), "out of memory");
		goto out;
	}
	rc = ec_context_call_async(x->ctx, "econtext", "_get", args, NULL, &call, err);
	ec_value_free(args);
	if (rc)
		goto out;
	res->changed = 1;
	struct ec_error rerr = {0};
	uint64_t got = 0;
	rc = recv_file(x, fd, ch, &got, &rerr);
	res->bytes += got;
	if (rc) {
		ec_call_cancel(call);
		if (rc == EC_ECLOSED || rc == EC_ETIMEDOUT) {
			if (err)
				*err = rerr;
			ec__error_prefix(err, "%s %s -> %s", x->what, remote_path, local_path);
		} else if (err) {
			*err = rerr;
		}
		goto out;
	}
	if ((rc = ec_call_wait(call, x->timeout_ms, &r, err))) {
		rc = fail_call(x, rc, r, err);
		r = NULL;
		goto out;
	}
	struct ec__xfer_got g;
	if (ec__xfer_get_answer(r, &g)) {
		rc = fail(x, err, EC_EPROTO, 0, "%s", "econtext._get answered something else");
		goto out;
	}
	/* What came is the content taken (recv_file took nothing else; each frame checked
	 * against the context's chain, whose digest is the SHA-256 of what it read). */
	char hex[65];
	uint64_t content = 0;
	unsigned char chain[EC_FRAME_DIGEST_LEN];
	if (ec__channel_content_taken(ch, &content, chain)) {
		rc = fail(x, err, EC_ENOMEM, 0, "%s", "out of memory");
		goto out;
	}
	hex_of(chain, hex);
	snprintf(res->sha256, sizeof(res->sha256), "%s", hex);
	res->size += got;
	if (g.size != got || strcmp(g.sha256, hex) != 0) {
		rc = fail(x, err, EC_EPROTO, 0,
		          "%llu bytes with SHA-256 %s came, the context read %llu with %.64s",
		          (unsigned long long)got, hex, (unsigned long long)g.size, g.sha256);
		goto out;
	}
	unsigned mode = x->o->set_mode ? (x->o->mode & 07777) : g.mode;
	struct timespec times[2] = {g.mtime, g.mtime};
	/* The owner before the mode: a chown clears set-id bits. */
	if (fsync(fd) != 0 || ((uid != (uid_t)-1 || gid != (gid_t)-1) && fchown(fd, uid, gid) != 0) ||
	    fchmod(fd, mode) != 0 || futimens(fd, times) != 0 || (!tmp && tmp_link(fd, local_path, &tmp))) {
		rc = fail_errno(x, err, local_path);
		goto out;
	}
	int cl = close(fd);
	fd = -1;
	if (cl != 0 || rename(tmp, local_path) != 0) {
		rc = fail_errno(x, err, local_path);
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
	return rc;
}

int ec_context_get(ec_context *ctx, const char *remote_path, const char *local_path,
                   const struct ec_transfer_options *o, struct ec_transfer_result *res,
                   struct ec_error *err)
{
	if (busy_refuses(&ctx, 1, "a get", res, err))
		return EC_EINVAL;
	struct xfer x;
	int rc = get_init(&x, ctx, "get", remote_path, local_path, o, res, err);
	if (!rc)
		rc = get_file(&x, 0, err);
	xfer_done(&x);
	return rc;
}

/* ---- get -r ---------------------------------------------------------------------- */

/* A name of the context's tree is safe here: relative, no empty, "." or ".."
 * component, and every directory above it under the local root a directory we made
 * or found (not a link): a context cannot make the master write outside local_dir. */
static int rel_safe(const char *root, const char *rel, size_t len)
{
	if (memchr(rel, '\0', len) || rel[0] == '/')
		return 0;
	for (const char *p = rel, *end = rel + len; p < end;) {
		const char *slash = memchr(p, '/', (size_t)(end - p));
		size_t n = (size_t)((slash ? slash : end) - p);
		if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return 0;
		if (slash) { /* an ancestor: a real directory */
			char *dir = NULL;
			struct stat st;
			if (asprintf(&dir, "%s/%.*s", root, (int)(slash - rel), rel) < 0)
				return 0;
			int ok = lstat(dir, &st) == 0 && S_ISDIR(st.st_mode);
			free(dir);
			if (!ok)
				return 0;
		}
		p += n + 1;
	}
	return 1;
}

/* The owner and group asked for (x->uid, x->gid) given to path (lchown) where it has
 * others: a change. */
static int set_ids(struct xfer *x, const char *path, struct ec_error *err)
{
	struct stat st;
	if (x->uid == (uid_t)-1 && x->gid == (gid_t)-1)
		return 0;
	if (lstat(path, &st) != 0)
		return fail_errno(x, err, path);
	if ((x->uid == (uid_t)-1 || st.st_uid == x->uid) && (x->gid == (gid_t)-1 || st.st_gid == x->gid))
		return 0;
	if (lchown(path, x->uid, x->gid) != 0)
		return fail_errno(x, err, path);
	x->res->changed = 1;
	return 0;
}

/* A directory at path (0700 while the tree comes; its mode and mtime set at its end). */
static int get_mkdir(struct xfer *x, const char *path, struct ec_error *err)
{
	struct stat st;
	if (lstat(path, &st) == 0) {
		if (!S_ISDIR(st.st_mode))
			return fail(x, err, EC_ESYS, EEXIST, "%s: exists and is not a directory", path);
	} else if (errno != ENOENT || mkdir(path, 0700) != 0) {
		return fail_errno(x, err, path);
	} else {
		x->res->changed = 1;
	}
	return set_ids(x, path, err);
}

/* A symbolic link at path to target, made beside it and renamed over what is there
 * (a link, a file; never followed). */
static int get_symlink(struct xfer *x, const char *target, const char *path, struct ec_error *err)
{
	uid_t uid = x->uid;
	gid_t gid = x->gid;
	char have[4096];
	ssize_t n = readlink(path, have, sizeof(have) - 1);
	if (n >= 0 && (size_t)n == strlen(target) && !memcmp(have, target, (size_t)n))
		return set_ids(x, path, err);
	char *tmp = tmp_name(path);
	if (!tmp)
		return ec__error_set(err, EC_ENOMEM, xname(x), "out of memory");
	int rc = 0;
	if (symlink(target, tmp) != 0 ||
	    ((uid != (uid_t)-1 || gid != (gid_t)-1) && lchown(tmp, uid, gid) != 0) ||
	    rename(tmp, path) != 0) {
		rc = fail_errno(x, err, path);
		unlink(tmp);
	} else {
		x->res->changed = 1;
	}
	free(tmp);
	return rc;
}

/* An entry of the walk (econtext._walk_next): (name, kind, mode, target, mtime), name
 * and target bytes; kind 0 a directory entered, 1 a file, 2 a link, 3 a directory left. */
struct entry {
	const char *name, *target;
	size_t len;
	int kind;
	unsigned mode;
	struct timespec mtime;
};

static int walk_item(const ec_value *e, struct entry *en)
{
	if (e->type != EC_T_TUPLE || e->u.seq.len != 5)
		return -1;
	ec_value **f = e->u.seq.items;
	if (!is_text(f[0]) || f[1]->type != EC_T_INT || f[1]->u.i < 0 || f[1]->u.i > 3 ||
	    f[2]->type != EC_T_INT)
		return -1;
	*en = (struct entry){.name = f[0]->u.s.data, .len = f[0]->u.s.len, .kind = (int)f[1]->u.i,
	                     .mode = (unsigned)f[2]->u.i & 07777};
	if (mtime_of(f[4], &en->mtime))
		return -1;
	if (en->kind == 2) {
		if ((f[3]->type != EC_T_BYTES && f[3]->type != EC_T_STR) ||
		    memchr(f[3]->u.s.data, '\0', f[3]->u.s.len))
			return -1;
		en->target = f[3]->u.s.data;
	}
	return 0;
}

/* A directory of the tree filled (lp): its mode (the mode last: a read-only one could
 * be filled) and mtime, the context's; never through a link. */
static int get_dirdone(struct xfer *x, const char *lp, const struct entry *en, struct ec_error *err)
{
	struct stat st;
	struct timespec times[2] = {en->mtime, en->mtime};
	if (lstat(lp, &st) != 0 || !S_ISDIR(st.st_mode) ||
	    ((st.st_mode & 07777) != en->mode && chmod(lp, en->mode) != 0) ||
	    utimensat(AT_FDCWD, lp, times, AT_SYMLINK_NOFOLLOW) != 0)
		return fail_errno(x, err, lp);
	if ((st.st_mode & 07777) != en->mode)
		x->res->changed = 1;
	return 0;
}

static int bad_entry(const struct xfer *x, uint64_t n, struct ec_error *err)
{
	return fail(x, err, EC_EPROTO, 0, "econtext._walk_next answered a bad entry (#%llu)",
	            (unsigned long long)n);
}

/* The local side of entry n of the walk into local_dir: checked, then done but for a
 * file, whose local path goes into *file (ec__xfer_tree_entry). */
static int entry_local(struct xfer *x, const char *local_dir, const struct entry *en, uint64_t n,
                       char **file, struct ec_error *err)
{
	*file = NULL;
	/* The top (no name) first and last; every other name safe here. */
	if ((n == 0) != (en->len == 0 && en->kind == 0) || (en->len == 0 && en->kind != 0 && en->kind != 3) ||
	    (en->len && !rel_safe(local_dir, en->name, en->len)))
		return bad_entry(x, n, err);
	char *lp = NULL;
	int rc;
	if (asprintf(&lp, "%s%s%s", local_dir, en->len ? "/" : "", en->name) < 0)
		return ec__error_set(err, EC_ENOMEM, xname(x), "out of memory");
	if (en->kind == 1) {
		*file = lp;
		return 0;
	}
	if (en->kind == 0)
		rc = get_mkdir(x, lp, err);
	else if (en->kind == 3)
		rc = get_dirdone(x, lp, en, err);
	else
		rc = get_symlink(x, en->target, lp, err);
	free(lp);
	return rc;
}

int ec__xfer_tree_entry(const char *local_dir, const ec_value *item, uint64_t n, char **file,
                        struct ec_transfer_result *res, struct ec_error *err)
{
	static const struct ec_transfer_options none = {.size = sizeof(none)};
	struct xfer x = {.what = "get -r", .src = "(the context's tree)", .dst = local_dir,
	                 .o = &none, .res = res, .uid = (uid_t)-1, .gid = (gid_t)-1};
	struct entry en;
	*file = NULL;
	if (walk_item(item, &en))
		return bad_entry(&x, n, err);
	return entry_local(&x, local_dir, &en, n, file, err);
}

/* One entry of the walk (the n-th) into local_dir. */
static int get_entry(struct xfer *x, const char *remote_dir, const char *local_dir,
                     const struct entry *en, uint64_t n, struct ec_error *err)
{
	char *lp = NULL, *rp = NULL;
	int rc = entry_local(x, local_dir, en, n, &lp, err);
	if (rc || !lp)
		return rc;
	if (asprintf(&rp, "%s/%s", remote_dir, en->name) < 0) {
		rp = NULL;
		rc = ec__error_set(err, EC_ENOMEM, xname(x), "out of memory");
	} else {
		struct xfer f = *x;
		if (f.o->progress == sum_progress_cb || f.o->progress_dest == sum_dest_cb)
			/* the tree's sum: a file starts */
			sum_next(f.o->progress_arg);
		f.src = rp;
		f.dst = lp;
		rc = get_file(&f, 1, err);
	}
	free(lp);
	free(rp);
	return rc;
}

/* The bytes of names one batch of the walk holds at most: far under any message size. */
#define WALK_BUDGET (64u << 10)

int ec_context_get_tree(ec_context *ctx, const char *remote_dir, const char *local_dir,
                        const struct ec_transfer_options *o, struct ec_transfer_result *res,
                        struct ec_error *err)
{
	if (busy_refuses(&ctx, 1, "a get -r", res, err))
		return EC_EINVAL;
	struct xfer x;
	ec_value *r = NULL, *args = NULL;
	int64_t token = 0;
	int rc = get_init(&x, ctx, "get -r", remote_dir, local_dir, o, res, err);
	struct sum_progress sum;
	struct ec_transfer_options summed;
	x.o = sum_progress_init(&sum, x.o, &summed);
	if (rc)
		goto out;
	if (!(args = ec_value_new(EC_T_TUPLE)) || ec_value_append(args, ec__value_text_or_bytes(remote_dir))) {
		rc = ec__error_set(err, EC_ENOMEM, ec_context_name(ctx), "out of memory");
		goto out;
	}
	if ((rc = ec_context_call(ctx, "econtext", "_walk", args, NULL, x.timeout_ms, &r, err))) {
		rc = fail_call(&x, rc, r, err);
		r = NULL;
		goto out;
	}
	if (r->type != EC_T_INT) {
		rc = fail(&x, err, EC_EPROTO, 0, "%s", "econtext._walk answered something else");
		goto out;
	}
	token = r->u.i;
	ec_value_free(args);
	ec_value_free(r);
	r = NULL;
	/* The tree in batches (depth first: a directory, what it holds, its end), each
	 * entry done as it comes: neither side ever holds the tree. */
	if (!(args = pair(ec_value_int(token), ec_value_int(WALK_BUDGET)))) {
		rc = ec__error_set(err, EC_ENOMEM, ec_context_name(ctx), "out of memory");
		goto out;
	}
	for (uint64_t n = 0; !rc;) {
		if ((rc = ec_context_call(ctx, "econtext", "_walk_next", args, NULL, x.timeout_ms, &r,
		                          err))) {
			rc = fail_call(&x, rc, r, err);
			r = NULL;
			token = 0; /* forgotten there */
			break;
		}
		if (r->type != EC_T_LIST) {
			rc = fail(&x, err, EC_EPROTO, 0, "%s", "econtext._walk_next answered something else");
			break;
		}
		if (r->u.seq.len == 0) {
			token = 0;
			if (n == 0)
				rc = fail(&x, err, EC_EPROTO, 0, "%s", "econtext._walk_next sent no tree");
			break;
		}
		for (size_t i = 0; !rc && i < r->u.seq.len; i++, n++) {
			struct entry en;
			if (walk_item(r->u.seq.items[i], &en))
				rc = bad_entry(&x, n, err);
			else
				rc = get_entry(&x, remote_dir, local_dir, &en, n, err);
		}
		ec_value_free(r);
		r = NULL;
	}
	x.res->sha256[0] = '\0';
out:
	if (token) { /* stopped early: the context forgets the walk */
		ec_value *end = ec_value_new(EC_T_TUPLE), *ignored = NULL;
		if (end && !ec_value_append(end, ec_value_int(token)))
			ec_context_call(ctx, "econtext", "_walk_end", end, NULL, x.timeout_ms, &ignored, NULL);
		ec_value_free(end);
		ec_value_free(ignored);
	}
	ec_value_free(args);
	ec_value_free(r);
	xfer_done(&x);
	return rc;
}
