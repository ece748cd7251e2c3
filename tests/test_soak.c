/* test_soak.c: a soak of the master with many local contexts (one Python 3): worker
 * threads run mixed work on their share of the contexts for a while (calls, a channel
 * echoing values, calls cancelled mid-sleep, contexts SIGKILLed and connected again),
 * then every context is shut down, and the master must be back where it started: its
 * RSS and open descriptors at their baseline (within a stated margin), no thread but
 * the main one once the master is freed, no child process left (zombies included).
 *
 * EC_SOAK_CONTEXTS (default 200) and EC_SOAK_SECONDS (default 30: the test run; several
 * minutes by hand, docs/reliability.md) size it; EC_SOAK_THREADS (default 4) drive it.
 * Every result is checked as it comes (the expected value or error), never a timing. */
#include "ecbuild.h"

#include <dirent.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "econtext.h"
#include "testutil.h"

/* What the master may keep after the soak, on top of its baseline: memory the
 * allocator holds in its arenas (worker threads' arenas stay) and the module server's
 * caches; a leak per call, channel or context grows with the work and crosses it. */
#define RSS_MARGIN_KB (6 * 1024)

static struct ec_test_python py;
static ec_master *master;
static long nctx = 200, nthreads = 4, seconds = 30;

struct slot {
	ec_context *ctx;
};
static struct slot *slots;

struct counts {
	long calls, chan_values, cancels, kills, reconnects, failures;
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
	int fds, threads, children;
};

static struct figures measure(void)
{
	malloc_trim(0); /* what the allocator keeps without use is not the master's */
	return (struct figures){status_kb("VmRSS"), open_fds(), threads(), ec_test_children_left()};
}

/* ---- the work ------------------------------------------------------------------------- */

static int connect_one(ec_context **out)
{
	char opt[600];
	snprintf(opt, sizeof(opt), "python=%s", py.path);
	const char *ov[] = {opt, NULL};
	struct ec_error err = {0};
	int rc = ec_context_connect(master, "local", ov, 60000, out, &err);
	if (rc)
		printf("  connect: %s: %s\n", ec_err_name(rc), err.msg);
	return rc;
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
	if (connect_one(&s->ctx))
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
			if (r < 55)
				do_call(w, s->ctx, r + (int)round);
			else if (r < 80)
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
		if (connect_one(&slots[w->first + i].ctx))
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
	printf("  %s: RSS %ld KiB, %d descriptors, %d threads, %d children\n", when, f->rss_kb,
	       f->fds, f->threads, f->children);
}

static void test_soak(void)
{
	char mods[2][600];
	snprintf(mods[0], sizeof(mods[0]), "%s/tests/data/chan", ec_test_srcdir());
	snprintf(mods[1], sizeof(mods[1]), "%s/tests/data/cancel", ec_test_srcdir());
	const char *mp[] = {mods[0], mods[1], NULL};
	struct figures before_master = measure();
	struct ec_master_options mo = {.size = sizeof(mo), .log_level = EC_LOG_WARNING,
	                               .log_fn = log_count, .module_path = mp};
	struct ec_error err = {0};
	CU_ASSERT_EQUAL_FATAL(ec_master_new(&mo, &master, &err), 0);
	/* Warm up: one context through every kind of work, so that the baseline holds what
	 * the master keeps once for all (code cache, the module server's state). */
	struct worker warm = {.seed = 1};
	ec_context *c = NULL;
	CU_ASSERT_EQUAL_FATAL(connect_one(&c), 0);
	do_call(&warm, c, 1);
	do_channel(&warm, c, 2);
	do_cancel(&warm, c);
	ec_context_shutdown(c, 30000, NULL);
	CU_ASSERT_EQUAL(warm.c.failures, 0);
	struct figures base = measure();
	say_figures("\n  before the master was made", &before_master);
	say_figures("baseline (the master warmed up: one context through each kind of work, "
	            "shut down)", &base);

	slots = calloc((size_t)nctx, sizeof(*slots));
	struct worker *ws = calloc((size_t)nthreads, sizeof(*ws));
	CU_ASSERT_FATAL(slots && ws);
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
	printf("  %ld contexts booted by %ld threads in %lld ms (%ld failed)\n", nctx, nthreads,
	       booted, failures);
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
	}
	printf("  %ld log records (warnings and above)\n", log_records);
	printf("  %ld s of mixed work: %ld calls, %ld channel values echoed, %ld calls cancelled, "
	       "%ld contexts SIGKILLed and %ld connected again; %ld failures\n",
	       seconds, sum.calls, sum.chan_values, sum.cancels, sum.kills, sum.reconnects,
	       sum.failures);
	CU_ASSERT_EQUAL(sum.failures, 0);
	CU_ASSERT(sum.calls > 0 && sum.chan_values > 0 && sum.cancels > 0);

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
	struct figures after = measure();
	say_figures("after every context was shut down", &after);
	printf("  RSS %+ld KiB against the baseline (margin %d KiB), descriptors %+d, threads %+d\n",
	       after.rss_kb - base.rss_kb, RSS_MARGIN_KB, after.fds - base.fds,
	       after.threads - base.threads);
	CU_ASSERT(after.rss_kb - base.rss_kb <= RSS_MARGIN_KB);
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
	setenv("ECONTEXT_CONFIG", "/dev/null", 1);
	char home[] = "/tmp/ec_test_soak_XXXXXX";
	if (mkdtemp(home))
		setenv("XDG_CACHE_HOME", home, 1);
	CU_initialize_registry();
	char title[200];
	snprintf(title, sizeof(title), "soak: %ld local contexts (python %s), %ld s, %ld threads",
	         nctx, py.version, seconds, nthreads);
	CU_pSuite s = CU_add_suite(title, NULL, NULL);
	CU_add_test(s, "mixed work, SIGKILLs and reconnects; then RSS, descriptors, threads and "
	            "children back to their baseline", test_soak);
	int rc = ec_test_run();
	char rm[100];
	snprintf(rm, sizeof(rm), "rm -rf %s", home);
	if (system(rm) != 0)
		fprintf(stderr, "could not remove %s\n", home);
	return rc;
}
