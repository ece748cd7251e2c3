/* test_soak.c: a soak of the master with many local contexts (one Python 3), one in 8
 * connecting back over TLS when the tls plugin is built: worker threads run mixed work
 * on their share of the contexts for a while (calls, a channel echoing values, calls
 * cancelled mid-sleep, files and small trees put and got back, contexts SIGKILLed and
 * connected again), then every context is shut down, and the master must be back where
 * it started: its RSS and open descriptors at their baseline (within a stated margin),
 * no thread but the main one once the master is freed, no child process left (zombies
 * included), no temporary file of a transfer left in the scratch directory.
 *
 * EC_SOAK_CONTEXTS (default 200) and EC_SOAK_SECONDS (default 30: the test run; several
 * minutes by hand, docs/reliability.md) size it; EC_SOAK_THREADS (default 4) drive it.
 * Every result is checked as it comes (the expected value or error), never a timing.
 * SIGPIPE stays at its default disposition: the library must never raise it (a write to
 * a SIGKILLed TLS context did, docs/tls.md). */
#include "ecbuild.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "econtext.h"
#include "testutil.h"

/* What the master may keep after the soak, on top of its baseline: memory the
 * allocator holds in its arenas after malloc_trim (pages that a few live blocks keep:
 * worker threads' arenas stay; +1.2 to +5.3 MiB here, by how the threads interleaved)
 * and the module server's caches. Not the leak verdict: INUSE_MARGIN_KB is. */
#define RSS_MARGIN_KB (16 * 1024)
/* What the master may hold in use (the allocator's count, blocks given out and not
 * freed: no arena's keeping in it) on top of its baseline: the module server's caches
 * (+70 KiB here). A leak per call, channel or context grows with the work and crosses
 * it. */
#define INUSE_MARGIN_KB 1024

static struct ec_test_python py;
static ec_master *master;
static long nctx = 200, nthreads = 4, seconds = 30;

/* Slot i connects back over TLS when i % TLS_EVERY == TLS_EVERY - 1 (and tls is built). */
#define TLS_EVERY 8
/* A file transfer's file: 0 to MAX_FILE bytes; a tree's: 0 to MAX_TREE_FILE. */
#define MAX_FILE (256 << 10)
#define MAX_TREE_FILE (16 << 10)

static int have_tls;
/* The transfers' files, per slot (only its worker touches them): made here, removed at
 * the end. */
static char scratch[] = "/tmp/ec_test_soak_xfer_XXXXXX";

struct slot {
	ec_context *ctx;
	int tls; /* connects back over TLS */
};
static struct slot *slots;

struct counts {
	long calls, chan_values, cancels, kills, reconnects, failures;
	long transfers, xfer_bytes, trees, tree_files, tls_kills;
};

struct worker {
	pthread_t th;
	long first, n; /* its slots */
	unsigned seed;
	struct counts c;
};

static long long deadline_ms;
static long log_records; /* counted, not kept: the soak's memory is the master's */

static void log_count(void *arg, const struct ec_log_record *rec)
{
	(void)arg;
	(void)rec;
	__atomic_add_fetch(&log_records, 1, __ATOMIC_RELAXED);
}

/* ---- the process's own figures -------------------------------------------------------- */

static long status_kb(const char *key)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long v = -1;
	size_t kl = strlen(key);
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, key, kl) && line[kl] == ':')
			v = atol(line + kl + 1);
	if (f)
		fclose(f);
	return v;
}

static int count_dir(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	int n = 0;
	while (d && (e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	if (d)
		closedir(d);
	return n;
}

static int open_fds(void)
{
	return count_dir("/proc/self/fd") - 1; /* the listing's own */
}

static int threads(void)
{
	return count_dir("/proc/self/task");
}

struct figures {
	long rss_kb;
	long inuse_kb; /* the allocator's blocks in use */
	int fds, threads, children;
};

static struct figures measure(void)
{
	malloc_trim(0); /* what the allocator keeps without use is not the master's */
	struct mallinfo2 mi = mallinfo2();
	return (struct figures){status_kb("VmRSS"), (long)((mi.uordblks + mi.hblkhd) >> 10),
	                        open_fds(), threads(), ec_test_children_left()};
}

/* ---- the work ------------------------------------------------------------------------- */

/* A TLS context's connection is what tlsfn.info (tests/data/tls) says it is. */
static int over_tls(ec_context *ctx)
{
	int rc;
	ec_value_free(ec_test_call(ctx, "econtext", "connect_back_state", ec_value_bool(1), 60000,
	                           &rc));
	ec_value *v = ec_test_call(ctx, "tlsfn", "info", NULL, 60000, &rc);
	const ec_value *ver = rc ? NULL : ec_value_dict_get(v, "version");
	int ok = ver && ver->type == EC_T_STR && !strncmp(ver->u.s.data, "TLS", 3);
	if (!ok)
		printf("  context %ld did not connect back over TLS: %s\n", ec_context_pid(ctx),
		       ec_err_name(rc));
	ec_value_free(v);
	return ok;
}

static int connect_one(int tls, ec_context **out)
{
	char opt[600];
	snprintf(opt, sizeof(opt), "python=%s", py.path);
	const char *ov[] = {opt, tls ? "connect_back=true" : NULL, NULL};
	struct ec_error err = {0};
	ec_context *c = NULL;
	int rc = ec_context_connect(master, "local", ov, 60000, &c, &err);
	if (rc) {
		printf("  connect%s: %s: %s\n", tls ? " (back over TLS)" : "", ec_err_name(rc),
		       err.msg);
		return rc;
	}
	if (tls && !over_tls(c)) {
		ec_context_shutdown(c, 30000, NULL);
		return EC_EPROTO;
	}
	*out = c;
	return 0;
}

static int fail(struct worker *w, const char *what, int rc, const struct ec_error *err)
{
	w->c.failures++;
	printf("  FAILED %s: %s: %s\n", what, ec_err_name(rc), err ? err->msg : "");
	return 1;
}

/* A call whose result is known: json.dumps(i) == "i". */
static int do_call(struct worker *w, ec_context *ctx, int i)
{
	int rc;
	ec_value *v = ec_test_call(ctx, "json", "dumps", ec_value_int(i), 60000, &rc);
	char want[32];
	snprintf(want, sizeof(want), "%d", i);
	int ok = rc == 0 && v && v->type == EC_T_STR && !strcmp(v->u.s.data, want);
	ec_value_free(v);
	if (!ok)
		return fail(w, "call json.dumps", rc, NULL);
	w->c.calls++;
	return 0;
}

/* chanfn.echo on a channel: k values sent, each comes back, then close: the call
 * returns k. */
static int do_channel(struct worker *w, ec_context *ctx, int k)
{
	struct ec_error err = {0};
	ec_channel *ch = NULL;
	int rc = ec_channel_new(ctx, &ch, &err);
	if (rc)
		return fail(w, "channel_new", rc, &err);
	ec_value *args = ec_value_new(EC_T_TUPLE);
	ec_value_append(args, ec_value_channel(ch));
	ec_call *call = NULL;
	rc = ec_context_call_async(ctx, "chanfn", "echo", args, NULL, &call, &err);
	ec_value_free(args);
	int bad = 0;
	for (int i = 0; !rc && i < k && !bad; i++) {
		ec_value *v = ec_value_bytes("soak-value-soak-value", 21), *back = NULL;
		rc = ec_channel_send(ch, v, 60000, &err);
		if (!rc)
			rc = ec_channel_recv(ch, 60000, &back, &err);
		bad = !rc && !ec_value_equal(v, back);
		ec_value_free(v);
		ec_value_free(back);
		if (!rc && !bad)
			w->c.chan_values++;
	}
	if (!rc)
		rc = ec_channel_close(ch, &err);
	ec_value *res = NULL;
	if (!rc)
		rc = ec_call_wait(call, 60000, &res, &err);
	bad |= !rc && (!res || res->type != EC_T_INT || res->u.i != k);
	ec_value_free(res);
	ec_call_free(call);
	ec_channel_free(ch);
	return rc || bad ? fail(w, "channel echo", rc, &err) : 0;
}

/* time.sleep(600), cancelled once it runs: EC_ECANCELED. */
static int do_cancel(struct worker *w, ec_context *ctx)
{
	struct ec_error err = {0};
	ec_value *args = ec_value_new(EC_T_TUPLE), *res = NULL;
	ec_value_append(args, ec_value_int(600));
	ec_call *call = NULL;
	int rc = ec_context_call_async(ctx, "time", "sleep", args, NULL, &call, &err);
	ec_value_free(args);
	if (rc)
		return fail(w, "call time.sleep", rc, &err);
	/* Cancelled at once or after it started: either way it ends cancelled. */
	if (w->seed & 1)
		ec_call_wait(call, 20, &res, &err);
	ec_call_cancel(call);
	rc = ec_call_wait(call, 60000, &res, &err);
	ec_value_free(res);
	ec_call_free(call);
	if (rc != EC_ECANCELED)
		return fail(w, "cancelled call", rc, &err);
	w->c.cancels++;
	return 0;
}

/* The bytes of a file made from seed: xorshift32, a byte a step. */
static unsigned char seeded_byte(unsigned *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return (unsigned char)(*x >> 11);
}

static unsigned seeded_start(unsigned seed)
{
	return seed * 2654435761u | 1;
}

/* Write path: size bytes of seed (no buffer of the file's size: the soak's memory is
 * the master's). 0, or -1 with errno. */
static int write_seeded(const char *path, unsigned seed, size_t size)
{
	unsigned x = seeded_start(seed);
	unsigned char buf[4096];
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	for (size_t done = 0; done < size;) {
		size_t n = size - done < sizeof(buf) ? size - done : sizeof(buf);
		for (size_t i = 0; i < n; i++)
			buf[i] = seeded_byte(&x);
		ssize_t wr = write(fd, buf, n);
		if (wr != (ssize_t)n) {
			int e = wr < 0 ? errno : EIO;
			close(fd);
			errno = e;
			return -1;
		}
		done += n;
	}
	return close(fd);
}

/* 1 when path holds exactly the size bytes of seed. */
static int same_seeded(const char *path, unsigned seed, size_t size)
{
	unsigned x = seeded_start(seed);
	unsigned char buf[4096];
	int fd = open(path, O_RDONLY | O_CLOEXEC), same = fd >= 0;
	size_t done = 0;
	ssize_t r;
	while (same && (r = read(fd, buf, sizeof(buf))) > 0)
		for (ssize_t i = 0; i < r && same; i++, done++)
			same = done < size && buf[i] == seeded_byte(&x);
	same &= done == size;
	if (fd >= 0)
		close(fd);
	return same;
}

static int rm_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	return remove(path) && errno != ENOENT ? -1 : 0;
}

/* Remove path and what it holds; 0 when gone. */
static int rm_tree(const char *path)
{
	struct stat st;
	if (lstat(path, &st))
		return errno == ENOENT ? 0 : -1;
	return nftw(path, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

static int mismatch(struct worker *w, const char *what, const char *path)
{
	w->c.failures++;
	printf("  FAILED %s: %s\n", what, path);
	return 1;
}

/* A file of 0 to MAX_FILE bytes put to <name>.put and got back to <name>.back: both
 * succeed, said changed with the file's size and the same SHA-256, and both copies
 * hold the source's bytes. */
static int do_transfer(struct worker *w, ec_context *ctx, const char *name)
{
	char src[300], dst[300], back[300];
	snprintf(src, sizeof(src), "%s/%s.src", scratch, name);
	snprintf(dst, sizeof(dst), "%s/%s.put", scratch, name);
	snprintf(back, sizeof(back), "%s/%s.back", scratch, name);
	size_t size = (size_t)rand_r(&w->seed) % (MAX_FILE + 1);
	unsigned seed = (unsigned)rand_r(&w->seed);
	unlink(dst);
	unlink(back);
	if (write_seeded(src, seed, size))
		return mismatch(w, "writing the file to put", src);
	struct ec_transfer_options o = {.size = sizeof(o), .timeout_ms = 60000};
	struct ec_transfer_result put = {0}, got = {0};
	struct ec_error err = {0};
	int rc = ec_context_put(ctx, src, dst, &o, &put, &err);
	if (rc)
		return fail(w, "put", rc, &err);
	if (put.changed != 1 || put.size != size || put.bytes != size || strlen(put.sha256) != 64)
		return mismatch(w, "put: its result (changed, size, bytes, sha256)", dst);
	if (!same_seeded(dst, seed, size))
		return mismatch(w, "put: the file written differs from the source", dst);
	rc = ec_context_get(ctx, dst, back, &o, &got, &err);
	if (rc)
		return fail(w, "get", rc, &err);
	if (got.changed != 1 || got.size != size || got.bytes != size ||
	    strcmp(got.sha256, put.sha256))
		return mismatch(w, "get: its result (changed, size, bytes, sha256)", back);
	if (!same_seeded(back, seed, size))
		return mismatch(w, "get: the file got back differs from the source", back);
	w->c.transfers++;
	w->c.xfer_bytes += (long)size;
	return 0;
}

/* The small tree of a tree transfer: three files (one in a subdirectory) and a link. */
static const char *const tree_files[] = {"a", "sub/b", "sub/c"};
#define NTREE_FILES (sizeof(tree_files) / sizeof(tree_files[0]))

/* 1 when tree dir holds the files of seeds and sizes, and the link. */
static int same_tree(const char *dir, const unsigned *seeds, const size_t *sizes)
{
	char p[400], l[16];
	int same = 1;
	for (size_t i = 0; i < NTREE_FILES && same; i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, tree_files[i]);
		same = same_seeded(p, seeds[i], sizes[i]);
	}
	snprintf(p, sizeof(p), "%s/sub/link", dir);
	ssize_t n = readlink(p, l, sizeof(l));
	return same && n == 4 && !memcmp(l, "../a", 4);
}

/* A tree <name>.tree/src put to .../put (ec_context_put_tree) and got back to
 * .../back (ec_context_get_tree): both succeed with every file's bytes, and the link
 * as a link. */
static int do_tree(struct worker *w, ec_context *ctx, const char *name)
{
	char base[300], src[320], dst[320], back[320], p[400];
	snprintf(base, sizeof(base), "%s/%s.tree", scratch, name);
	snprintf(src, sizeof(src), "%s/src", base);
	snprintf(dst, sizeof(dst), "%s/put", base);
	snprintf(back, sizeof(back), "%s/back", base);
	snprintf(p, sizeof(p), "%s/sub", src);
	if (rm_tree(base) || mkdir(base, 0755) || mkdir(src, 0755) || mkdir(p, 0755))
		return mismatch(w, "making the tree to put", base);
	unsigned seeds[NTREE_FILES];
	size_t sizes[NTREE_FILES], total = 0;
	for (size_t i = 0; i < NTREE_FILES; i++) {
		seeds[i] = (unsigned)rand_r(&w->seed);
		sizes[i] = (size_t)rand_r(&w->seed) % (MAX_TREE_FILE + 1);
		total += sizes[i];
		snprintf(p, sizeof(p), "%s/%s", src, tree_files[i]);
		if (write_seeded(p, seeds[i], sizes[i]))
			return mismatch(w, "writing a file of the tree to put", p);
	}
	snprintf(p, sizeof(p), "%s/sub/link", src);
	if (symlink("../a", p))
		return mismatch(w, "making a link of the tree to put", p);
	struct ec_transfer_options o = {.size = sizeof(o), .timeout_ms = 60000};
	struct ec_transfer_result put = {0}, got = {0};
	struct ec_error err = {0};
	int rc = ec_context_put_tree(&ctx, 1, src, dst, &o, &put, &err);
	if (rc)
		return fail(w, "put_tree", rc, &err);
	if (put.changed != 1 || put.bytes != total || !same_tree(dst, seeds, sizes))
		return mismatch(w, "put_tree: its result or the tree written", dst);
	rc = ec_context_get_tree(ctx, dst, back, &o, &got, &err);
	if (rc)
		return fail(w, "get_tree", rc, &err);
	if (got.changed != 1 || got.bytes != total || !same_tree(back, seeds, sizes))
		return mismatch(w, "get_tree: its result or the tree got back", back);
	w->c.trees++;
	w->c.tree_files += (long)NTREE_FILES;
	return 0;
}

/* Temporary files of a transfer (.NAME.ec-*) under the scratch directory. */
static long temps_found;

static int count_temp(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)type;
	if (!strncmp(path + ftw->base, ".", 1) && strstr(path + ftw->base, ".ec-")) {
		printf("  a transfer's temporary file left: %s\n", path);
		temps_found++;
	}
	return 0;
}

/* SIGKILL the context: a call on it fails (EC_ECLOSED); shut down, connect afresh. */
static int do_kill(struct worker *w, struct slot *s)
{
	struct ec_error err = {0};
	ec_value *res = NULL;
	kill((pid_t)ec_context_pid(s->ctx), SIGKILL);
	int rc = ec_context_call(s->ctx, "os", "getpid", NULL, NULL, 60000, &res, &err);
	ec_value_free(res);
	int bad = rc != EC_ECLOSED;
	if (bad)
		fail(w, "call on a SIGKILLed context", rc, &err);
	ec_context_shutdown(s->ctx, 30000, NULL);
	s->ctx = NULL;
	w->c.kills++;
	w->c.tls_kills += s->tls;
	if (connect_one(s->tls, &s->ctx))
		return fail(w, "reconnect", -1, NULL);
	w->c.reconnects++;
	return bad;
}

static void *work(void *arg)
{
	struct worker *w = arg;
	for (long round = 0; ec_test_now_ms() < deadline_ms && w->c.failures < 10; round++)
		for (long i = 0; i < w->n && ec_test_now_ms() < deadline_ms; i++) {
			struct slot *s = &slots[w->first + i];
			int r = rand_r(&w->seed) % 100;
			if (r < 50)
				do_call(w, s->ctx, r + (int)round);
			else if (r < 55) {
				char name[32];
				snprintf(name, sizeof(name), "%ld", w->first + i);
				if (rand_r(&w->seed) % 8)
					do_transfer(w, s->ctx, name);
				else
					do_tree(w, s->ctx, name);
			} else if (r < 80)
				do_channel(w, s->ctx, 1 + r % 5);
			else if (r < 97)
				do_cancel(w, s->ctx);
			else
				do_kill(w, s);
		}
	return NULL;
}

static void *boot(void *arg)
{
	struct worker *w = arg;
	for (long i = 0; i < w->n; i++)
		if (connect_one(slots[w->first + i].tls, &slots[w->first + i].ctx))
			w->c.failures++;
	return NULL;
}

static void run_workers(struct worker *ws, void *(*fn)(void *))
{
	for (long t = 0; t < nthreads; t++)
		pthread_create(&ws[t].th, NULL, fn, &ws[t]);
	for (long t = 0; t < nthreads; t++)
		pthread_join(ws[t].th, NULL);
}

static void say_figures(const char *when, const struct figures *f)
{
	printf("  %s: RSS %ld KiB (%ld KiB in use), %d descriptors, %d threads, %d children\n",
	       when, f->rss_kb, f->inuse_kb, f->fds, f->threads, f->children);
}

/* One context of the kind (TLS or not) through every kind of work, shut down. */
static void warm_up(struct worker *warm, int tls)
{
	ec_context *c = NULL;
	CU_ASSERT_EQUAL_FATAL(connect_one(tls, &c), 0);
	const char *name = tls ? "warm-tls" : "warm";
	do_call(warm, c, 1);
	do_channel(warm, c, 2);
	do_cancel(warm, c);
	do_transfer(warm, c, name);
	do_tree(warm, c, name);
	ec_context_shutdown(c, 30000, NULL);
}

static void test_soak(void)
{
	char mods[3][600];
	snprintf(mods[0], sizeof(mods[0]), "%s/tests/data/chan", ec_test_srcdir());
	snprintf(mods[1], sizeof(mods[1]), "%s/tests/data/cancel", ec_test_srcdir());
	snprintf(mods[2], sizeof(mods[2]), "%s/tests/data/tls", ec_test_srcdir());
	const char *mp[] = {mods[0], mods[1], mods[2], NULL};
	struct figures before_master = measure();
	struct ec_master_options mo = {.size = sizeof(mo), .log_level = EC_LOG_WARNING,
	                               .log_fn = log_count, .module_path = mp};
	struct ec_error err = {0};
	CU_ASSERT_EQUAL_FATAL(ec_master_new(&mo, &master, &err), 0);
	/* Warm up: a context of each kind through every kind of work, so that the baseline
	 * holds what the master keeps once for all (code cache, the module server's state,
	 * OpenSSL's once-made state). The TLS listener is not among it: it closes with the
	 * last context that connected back. */
	struct worker warm = {.seed = 1};
	warm_up(&warm, 0);
	if (have_tls)
		warm_up(&warm, 1);
	CU_ASSERT_EQUAL(warm.c.failures, 0);
	struct figures base = measure();
	say_figures("\n  before the master was made", &before_master);
	say_figures(have_tls ? "baseline (the master warmed up: a context, and one connected back "
	                       "over TLS, through each kind of work, shut down)"
	                     : "baseline (the master warmed up: one context through each kind of "
	                       "work, shut down)",
	            &base);

	slots = calloc((size_t)nctx, sizeof(*slots));
	struct worker *ws = calloc((size_t)nthreads, sizeof(*ws));
	CU_ASSERT_FATAL(slots && ws);
	long ntls = 0;
	for (long i = 0; i < nctx; i++)
		ntls += slots[i].tls = have_tls && i % TLS_EVERY == TLS_EVERY - 1;
	for (long t = 0; t < nthreads; t++) {
		ws[t].first = nctx * t / nthreads;
		ws[t].n = nctx * (t + 1) / nthreads - ws[t].first;
		ws[t].seed = (unsigned)(t * 7919 + 17);
	}
	long long t0 = ec_test_now_ms();
	run_workers(ws, boot);
	long long booted = ec_test_now_ms() - t0;
	struct figures full = measure();
	say_figures("with the contexts up", &full);
	long failures = 0;
	for (long t = 0; t < nthreads; t++)
		failures += ws[t].c.failures;
	printf("  %ld contexts (%ld of them connected back over TLS) booted by %ld threads in "
	       "%lld ms (%ld failed)\n", nctx, ntls, nthreads, booted, failures);
	CU_ASSERT_EQUAL_FATAL(failures, 0);

	deadline_ms = ec_test_now_ms() + seconds * 1000;
	run_workers(ws, work);
	struct counts sum = {0};
	for (long t = 0; t < nthreads; t++) {
		sum.calls += ws[t].c.calls;
		sum.chan_values += ws[t].c.chan_values;
		sum.cancels += ws[t].c.cancels;
		sum.kills += ws[t].c.kills;
		sum.reconnects += ws[t].c.reconnects;
		sum.failures += ws[t].c.failures;
		sum.transfers += ws[t].c.transfers;
		sum.xfer_bytes += ws[t].c.xfer_bytes;
		sum.trees += ws[t].c.trees;
		sum.tree_files += ws[t].c.tree_files;
		sum.tls_kills += ws[t].c.tls_kills;
	}
	printf("  %ld log records (warnings and above)\n", log_records);
	printf("  %ld s of mixed work: %ld calls, %ld channel values echoed, %ld calls cancelled, "
	       "%ld contexts SIGKILLed and %ld connected again; %ld failures\n",
	       seconds, sum.calls, sum.chan_values, sum.cancels, sum.kills, sum.reconnects,
	       sum.failures);
	printf("  %ld files put and got back (%.1f MiB each way), %ld trees put and got back "
	       "(%ld files); %ld contexts connected back over TLS, %ld of the SIGKILLs theirs\n",
	       sum.transfers, sum.xfer_bytes / 1048576.0, sum.trees, sum.tree_files, ntls,
	       sum.tls_kills);
	printf("  the master's peak RSS: %ld KiB\n", status_kb("VmHWM"));
	CU_ASSERT_EQUAL(sum.failures, 0);
	CU_ASSERT(sum.calls > 0 && sum.chan_values > 0 && sum.cancels > 0 && sum.transfers > 0);

	/* Every context gone. */
	long pids_left = 0;
	long *pids = calloc((size_t)nctx, sizeof(long));
	for (long i = 0; i < nctx; i++) {
		if (!slots[i].ctx)
			continue;
		pids[i] = ec_context_pid(slots[i].ctx);
		if (ec_context_shutdown(slots[i].ctx, 30000, &err))
			printf("  shutdown: %s\n", err.msg);
	}
	for (long i = 0; i < nctx; i++)
		pids_left += pids[i] > 0 && !ec_test_process_gone(pids[i]);
	free(pids);
	CU_ASSERT_EQUAL(pids_left, 0);
	/* No transfer left a temporary file; then the scratch directory goes. */
	temps_found = 0;
	CU_ASSERT_EQUAL(nftw(scratch, count_temp, 8, FTW_PHYS), 0);
	CU_ASSERT_EQUAL(temps_found, 0);
	CU_ASSERT_EQUAL(rm_tree(scratch), 0);
	printf("  %ld temporary files of a transfer left in %s; removed\n", temps_found, scratch);
	struct figures after = measure();
	say_figures("after every context was shut down", &after);
	printf("  RSS %+ld KiB against the baseline (margin %d KiB), descriptors %+d, threads %+d\n",
	       after.rss_kb - base.rss_kb, RSS_MARGIN_KB, after.fds - base.fds,
	       after.threads - base.threads);
	printf("  in use %+ld KiB against the baseline (margin %d KiB)\n",
	       after.inuse_kb - base.inuse_kb, INUSE_MARGIN_KB);
	CU_ASSERT(after.rss_kb - base.rss_kb <= RSS_MARGIN_KB);
	CU_ASSERT(after.inuse_kb - base.inuse_kb <= INUSE_MARGIN_KB);
	CU_ASSERT_EQUAL(after.fds, base.fds);
	CU_ASSERT_EQUAL(after.threads, base.threads);
	CU_ASSERT_EQUAL(after.children, 0);

	ec_master_free(master);
	master = NULL;
	struct figures end = measure();
	say_figures("after ec_master_free", &end);
	CU_ASSERT_EQUAL(end.fds, before_master.fds);
	CU_ASSERT_EQUAL(end.threads, 1);
	CU_ASSERT_EQUAL(end.children, 0);
	free(slots);
	free(ws);
}

static long env_long(const char *name, long dflt, long min)
{
	const char *v = getenv(name);
	long x = v && *v ? atol(v) : dflt;
	return x < min ? min : x;
}

int main(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	struct ec_test_python all[16];
	size_t n = ec_test_pythons(all, sizeof(all) / sizeof(all[0]));
	for (size_t i = n; i-- > 0;)
		if (all[i].path[0] && all[i].version[0] == '3')
			py = all[i];
	if (!py.path[0])
		return ec_test_skip("test_soak", "no Python 3 found");
	nctx = env_long("EC_SOAK_CONTEXTS", 200, 1);
	seconds = env_long("EC_SOAK_SECONDS", 30, 1);
	nthreads = env_long("EC_SOAK_THREADS", 4, 1);
	if (nthreads > nctx)
		nthreads = nctx;
	/* The TLS share: only when the tls plugin is built (configure --disable-tls). */
	char so[1024];
	snprintf(so, sizeof(so), "%s/plugins/tls/.libs/tls.so", ec_test_builddir());
	const char *off = getenv("EC_TEST_DISABLED_PLUGINS");
	char words[512];
	snprintf(words, sizeof(words), " %s ", off ? off : "");
	have_tls = access(so, R_OK) == 0 && !strstr(words, " tls ");
	if (!have_tls) {
		const char *why = "SKIP: test_soak: its TLS share (no context connects back over "
		                  "TLS): the tls plugin is not built (configure --disable-tls)";
		printf("%s\n", why);
		fprintf(stderr, "%s\n", why);
	}
	if (!mkdtemp(scratch)) {
		perror(scratch);
		return 1;
	}
	setenv("ECONTEXT_CONFIG", "/dev/null", 1);
	char home[] = "/tmp/ec_test_soak_XXXXXX";
	if (mkdtemp(home))
		setenv("XDG_CACHE_HOME", home, 1);
	CU_initialize_registry();
	char title[200];
	snprintf(title, sizeof(title),
	         "soak: %ld local contexts (python %s; %s), %ld s, %ld threads", nctx, py.version,
	         have_tls ? "1 in 8 connecting back over TLS" : "none over TLS: tls not built",
	         seconds, nthreads);
	CU_pSuite s = CU_add_suite(title, NULL, NULL);
	CU_add_test(s, "mixed work, file transfers, SIGKILLs and reconnects; then RSS, "
	            "descriptors, threads and children back to their baseline, no temporary file",
	            test_soak);
	int rc = ec_test_run();
	if (rm_tree(home) || rm_tree(scratch))
		fprintf(stderr, "could not remove %s or %s\n", home, scratch);
	return rc;
}
