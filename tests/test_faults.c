/* test_faults.c: faults provoked for real on local contexts (one Python 3): a context
 * SIGKILLed mid-call, a context SIGSTOPped, a master out of file descriptors, a master
 * SIGKILLed with several contexts alive, and contexts booted on a read-only or full
 * filesystem (a mount namespace of a child process; root only). Each fault that needs
 * its own process runs in a forked child that reports on a pipe and by its exit status. */
#include "ecbuild.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "econtext.h"
#include "testutil.h"

static struct ec_test_python py; /* the Python 3 the contexts run */
static ec_master *master;

static int new_master(ec_master **out)
{
	struct ec_master_options mo = {.size = sizeof(mo), .log_fn = ec_test_log_capture,
	                               .log_level = EC_LOG_DEBUG};
	struct ec_error err = {0};
	if (ec_master_new(&mo, out, &err)) {
		fprintf(stderr, "master: %s: %s\n", err.where, err.msg);
		return -1;
	}
	return 0;
}

static int connect_local(ec_master *m, ec_context **ctx, struct ec_error *err)
{
	char opt[600];
	snprintf(opt, sizeof(opt), "python=%s", py.path);
	const char *ov[] = {opt, NULL};
	return ec_context_connect(m, "local", ov, 30000, ctx, err);
}

/* os.getpid() in ctx, or -1 (said on stderr). */
static long remote_pid(ec_context *ctx, int timeout_ms)
{
	int rc;
	ec_value *v = ec_test_call(ctx, "os", "getpid", NULL, timeout_ms, &rc);
	long pid = rc == 0 && v && v->type == EC_T_INT ? (long)v->u.i : -1;
	ec_value_free(v);
	return pid;
}

static int suite_init(void)
{
	return new_master(&master) ? 1 : 0;
}

static int suite_clean(void)
{
	ec_master_free(master);
	master = NULL;
	return 0;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* Wait up to 30 s for pid to leave the process table; 1 if it did. */
static int wait_gone(long pid)
{
	for (int i = 0; i < 3000; i++) {
		if (ec_test_process_gone(pid))
			return 1;
		sleep_ms(10);
	}
	return 0;
}

/* SIGSTOP pid and wait up to 30 s until it is stopped (the signal is asynchronous);
 * 1 if it is. */
static int stop(long pid)
{
	if (kill((pid_t)pid, SIGSTOP))
		return 0;
	for (int i = 0; i < 3000; i++) {
		if (ec_test_proc_state(pid) == 'T')
			return 1;
		sleep_ms(10);
	}
	return 0;
}

/* ---- a context SIGKILLed mid-call ------------------------------------------------ */

static void test_kill_mid_call(void)
{
	struct ec_error err = {0};
	ec_context *victim = NULL, *other = NULL;
	CU_ASSERT_EQUAL_FATAL(connect_local(master, &victim, &err), 0);
	CU_ASSERT_EQUAL_FATAL(connect_local(master, &other, &err), 0);
	long pid = ec_context_pid(victim);
	CU_ASSERT_EQUAL(remote_pid(victim, 30000), pid);
	ec_value *args = ec_value_new(EC_T_TUPLE), *res = NULL;
	ec_value_append(args, ec_value_int(600));
	ec_call *call = NULL;
	CU_ASSERT_EQUAL_FATAL(ec_context_call_async(victim, "time", "sleep", args, NULL, &call, &err), 0);
	ec_value_free(args);
	/* Let the call reach the context (it fails the same way if it has not). */
	CU_ASSERT_EQUAL(ec_call_wait(call, 200, &res, &err), EC_ETIMEDOUT);
	long long t0 = ec_test_now_ms();
	CU_ASSERT_EQUAL_FATAL(kill((pid_t)pid, SIGKILL), 0);
	int rc = ec_call_wait(call, 60000, &res, &err);
	long long took = ec_test_now_ms() - t0;
	printf("\n  SIGKILLed context: the pending call failed after %lld ms (%s: %s)\n", took,
	       ec_err_name(rc), err.msg);
	CU_ASSERT_EQUAL(rc, EC_ECLOSED);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "context 'local'"));
	CU_ASSERT_PTR_NULL(res);
	/* "At once": long before the 60 s deadline; 10 s only a real defect crosses. */
	CU_ASSERT(took < 10000);
	ec_call_free(call);
	/* A new call on the dead context fails at once too. */
	t0 = ec_test_now_ms();
	CU_ASSERT_EQUAL(ec_context_call(victim, "os", "getpid", NULL, NULL, 60000, &res, &err),
	                EC_ECLOSED);
	CU_ASSERT(ec_test_now_ms() - t0 < 10000);
	/* The other context of the master is unaffected. */
	long opid = ec_context_pid(other);
	CU_ASSERT_EQUAL(remote_pid(other, 30000), opid);
	ec_context_shutdown(victim, 30000, NULL);
	CU_ASSERT_EQUAL(ec_context_shutdown(other, 30000, &err), 0);
	CU_ASSERT_TRUE(wait_gone(pid));
	CU_ASSERT_TRUE(wait_gone(opid));
}

/* ---- a context SIGSTOPped ----------------------------------------------------------- */

static void test_sigstop(void)
{
	struct ec_error err = {0};
	ec_context *stopped = NULL, *other = NULL;
	CU_ASSERT_EQUAL_FATAL(connect_local(master, &stopped, &err), 0);
	CU_ASSERT_EQUAL_FATAL(connect_local(master, &other, &err), 0);
	long pid = ec_context_pid(stopped);
	CU_ASSERT_FATAL(stop(pid));
	/* A stopped context's call: its deadline fires, while the other answers. */
	ec_call *call = NULL;
	CU_ASSERT_EQUAL_FATAL(ec_context_call_async(stopped, "os", "getpid", NULL, NULL, &call, &err), 0);
	ec_value *res = NULL;
	long long t0 = ec_test_now_ms();
	int answered = 0;
	for (int i = 0; i < 20; i++)
		answered += remote_pid(other, 30000) == ec_context_pid(other);
	CU_ASSERT_EQUAL(answered, 20);
	CU_ASSERT_EQUAL(ec_call_wait(call, 1, &res, &err), EC_ETIMEDOUT);
	long long t1 = ec_test_now_ms();
	int rc = ec_context_call(stopped, "os", "getpid", NULL, NULL, 500, &res, &err);
	long long took = ec_test_now_ms() - t1;
	printf("\n  SIGSTOPped context: 20 calls of the other in %lld ms; a 500 ms deadline fired "
	       "after %lld ms (%s)\n",
	       t1 - t0, took, ec_err_name(rc));
	CU_ASSERT_EQUAL(rc, EC_ETIMEDOUT);
	CU_ASSERT(took >= 490 && took < 30000);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "did not return within"));
	/* SIGCONT: the context answers its pending call, then the next, then shuts down. */
	CU_ASSERT_EQUAL(kill((pid_t)pid, SIGCONT), 0);
	CU_ASSERT_EQUAL(ec_call_wait(call, 30000, &res, &err), 0);
	CU_ASSERT(res && res->type == EC_T_INT && res->u.i == pid);
	ec_value_free(res);
	ec_call_free(call);
	CU_ASSERT_EQUAL(remote_pid(stopped, 30000), pid);
	CU_ASSERT_EQUAL(ec_context_shutdown(stopped, 30000, &err), 0);
	CU_ASSERT_TRUE(wait_gone(pid));
	/* Stopped for good: shutdown's grace runs out and the process is killed. */
	long opid = ec_context_pid(other);
	CU_ASSERT(stop(opid));
	t0 = ec_test_now_ms();
	rc = ec_context_shutdown(other, 1000, &err);
	CU_ASSERT_EQUAL(rc, EC_ETIMEDOUT);
	printf("  shutdown of a stopped context (1 s grace) returned %s after %lld ms%s%s\n",
	       ec_err_name(rc), ec_test_now_ms() - t0, rc ? ": " : "", rc ? err.msg : "");
	CU_ASSERT_TRUE(wait_gone(opid));
}

/* ---- work in a child process that reports on a pipe ------------------------------ */

static int report_fd = -1;

/* A line for the parent (printed there). */
static void say(const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	if (write(report_fd, line, (size_t)n) < 0)
		return;
}

/* Start fn in a child process that reports on a pipe: its pid, *out the pipe's end to
 * read (a stdio stream). */
struct child_fn {
	int (*fn)(void);
};

static int child_main(void *arg, int fd)
{
	report_fd = fd;
	return ((struct child_fn *)arg)->fn();
}

static pid_t start_child(int (*fn)(void), FILE **out)
{
	struct child_fn cf = {fn};
	int rfd;
	pid_t pid = ec_test_fork_pipe(child_main, &cf, &rfd);
	*out = pid > 0 ? fdopen(rfd, "r") : NULL;
	return pid;
}

/* Run fn in a child process, print what it says, return its exit status (-1 if it did
 * not exit; 77 means it could not run here). */
static int in_child(int (*fn)(void))
{
	FILE *f = NULL;
	pid_t pid = start_child(fn, &f);
	char line[1024];
	printf("\n");
	while (f && fgets(line, sizeof(line), f))
		printf("  %s", line);
	if (f)
		fclose(f);
	int st = 0;
	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* ---- the master out of file descriptors -------------------------------------------- */

/* The highest descriptor open in this process. */
static int highest_fd(void)
{
	DIR *d = opendir("/proc/self/fd");
	int hi = -1, self = d ? dirfd(d) : -1;
	struct dirent *e;
	while (d && (e = readdir(d))) {
		int fd = atoi(e->d_name);
		if (e->d_name[0] != '.' && fd != self && fd > hi)
			hi = fd;
	}
	if (d)
		closedir(d);
	return hi;
}

static int fd_child(void)
{
	ec_master *m = NULL;
	ec_context *up[2] = {NULL, NULL};
	struct ec_error err = {0};
	int bad = 0;
	if (new_master(&m))
		return 2;
	for (int i = 0; i < 2; i++)
		if (connect_local(m, &up[i], &err)) {
			say("connect %d: %s", i, err.msg);
			return 2;
		}
	struct rlimit old;
	getrlimit(RLIMIT_NOFILE, &old);
	/* Headroom 0, 1, 2, ... descriptors: each step of a connect runs out in turn. */
	int failed = 0, ok_after = 0;
	for (int room = 0; room <= 12; room++) {
		/* Exactly room descriptors free below the limit: the holes filled. */
		int hi = highest_fd(), nfill = 0, fd;
		int *fill = malloc(sizeof(int) * (size_t)(hi + 2 + room));
		struct rlimit lim = {(rlim_t)(hi + 1 + room), old.rlim_max};
		setrlimit(RLIMIT_NOFILE, &lim);
		while (fill && nfill < hi + 2 + room && (fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0)
			fill[nfill++] = fd;
		for (int i = 0; i < room && nfill > 0; i++)
			close(fill[--nfill]);
		ec_context *c = NULL;
		struct ec_error e = {0};
		long long t0 = ec_test_now_ms();
		int rc = connect_local(m, &c, &e);
		long long took = ec_test_now_ms() - t0;
		if (rc == 0) {
			say("headroom %d fds: connected (%lld ms)", room, took);
			if (remote_pid(c, 30000) != ec_context_pid(c)) {
				say("headroom %d fds: the new context did not answer", room);
				bad = 1;
			}
			ec_context_shutdown(c, 30000, NULL);
		} else {
			failed++;
			say("headroom %d fds: %s after %lld ms: %s: %s", room, ec_err_name(rc), took,
			    e.where, e.msg);
			if (!strstr(e.msg, "context 'local'") || took > 30000 || rc == EC_ETIMEDOUT)
				bad = 1;
		}
		/* The contexts already up keep answering. */
		for (int i = 0; i < 2; i++)
			if (remote_pid(up[i], 30000) == ec_context_pid(up[i]))
				ok_after++;
			else {
				say("headroom %d fds: context %d did not answer", room, i);
				bad = 1;
			}
		while (nfill > 0)
			close(fill[--nfill]);
		free(fill);
		setrlimit(RLIMIT_NOFILE, &old);
	}
	say("%d connects failed for want of descriptors; the 2 contexts up answered %d of 26 "
	    "calls",
	    failed, ok_after);
	if (failed == 0)
		bad = 1;
	/* The limit back: a connect works again. */
	ec_context *c = NULL;
	if (connect_local(m, &c, &err)) {
		say("connect after the limit was raised: %s", err.msg);
		bad = 1;
	} else
		ec_context_shutdown(c, 30000, NULL);
	for (int i = 0; i < 2; i++)
		ec_context_shutdown(up[i], 30000, NULL);
	ec_master_free(m);
	int left = ec_test_children_left();
	say("children left after ec_master_free: %d", left);
	return bad || left ? 1 : 0;
}

static void test_out_of_fds(void)
{
	CU_ASSERT_EQUAL(in_child(fd_child), 0);
}

/* ---- the master SIGKILLed with contexts alive ------------------------------------- */

#define NKILL 4

static int sigkill_child(void)
{
	ec_master *m = NULL;
	ec_context *c[NKILL];
	struct ec_error err = {0};
	if (new_master(&m))
		return 2;
	for (int i = 0; i < NKILL; i++)
		if (connect_local(m, &c[i], &err)) {
			say("connect %d: %s", i, err.msg);
			return 2;
		}
	/* Two are in a call, two idle. */
	for (int i = 0; i < 2; i++) {
		ec_value *args = ec_value_new(EC_T_TUPLE);
		ec_value_append(args, ec_value_int(600));
		ec_call *call = NULL;
		ec_context_call_async(c[i], "time", "sleep", args, NULL, &call, &err);
		ec_value_free(args);
	}
	char line[64];
	for (int i = 0; i < NKILL; i++) {
		int n = snprintf(line, sizeof(line), "%ld\n", ec_context_pid(c[i]));
		if (write(report_fd, line, (size_t)n) != n)
			return 2;
	}
	close(report_fd);
	pause(); /* until SIGKILL */
	return 0;
}

static void test_master_sigkill(void)
{
	FILE *f = NULL;
	pid_t m = start_child(sigkill_child, &f);
	CU_ASSERT_FATAL(m > 0);
	long pids[NKILL];
	int n = 0;
	while (f && n < NKILL && fscanf(f, "%ld", &pids[n]) == 1)
		n++;
	if (f)
		fclose(f);
	CU_ASSERT_EQUAL(n, NKILL);
	long long t0 = ec_test_now_ms();
	kill(m, SIGKILL);
	waitpid(m, NULL, 0);
	long long last = 0;
	for (int i = 0; i < n; i++) {
		int gone = wait_gone(pids[i]);
		CU_ASSERT_TRUE(gone);
		if (!gone)
			kill((pid_t)pids[i], SIGKILL);
		last = ec_test_now_ms() - t0;
	}
	printf("\n  SIGKILLed master: its %d contexts (2 in a call) gone from the process table "
	       "within %lld ms\n",
	       n, last);
}

/* ---- a read-only or full filesystem -------------------------------------------------- */

/* Make every mount of this (new) mount namespace read-only, /proc, /sys and /dev aside.
 * ("none": the type and source these flags ignore; valgrind wants a string.) */
static int remount_all_ro(void)
{
	FILE *f = fopen("/proc/self/mountinfo", "r");
	char line[4096];
	int n = 0;
	while (f && fgets(line, sizeof(line), f)) {
		char mnt[2048];
		if (sscanf(line, "%*s %*s %*s %*s %2047s", mnt) != 1)
			continue;
		if (!strncmp(mnt, "/proc", 5) || !strncmp(mnt, "/sys", 4) || !strncmp(mnt, "/dev", 4))
			continue;
		if (mount("none", mnt, "none", MS_BIND | MS_REMOUNT | MS_RDONLY, NULL) == 0)
			n++;
	}
	if (f)
		fclose(f);
	return n;
}

/* Field name of an EC_T_NAMED value as an integer; -1 if absent. */
static long long named_int(const ec_value *v, const char *name)
{
	for (size_t i = 0; v && v->type == EC_T_NAMED && i + 1 < v->u.seq.len; i += 2)
		if (!strcmp(v->u.seq.items[i]->u.s.data, name) && v->u.seq.items[i + 1]->type == EC_T_INT)
			return (long long)v->u.seq.items[i + 1]->u.i;
	return -1;
}

/* Boot a context and make calls; say what the context sees of dir (os.statvfs): 1 if
 * it is read-only (ST_RDONLY) or full (no block free), as want says. */
static int boot_and_call(const char *what, const char *dir, int want_ro)
{
	ec_master *m = NULL;
	ec_context *c = NULL;
	struct ec_error err = {0};
	if (new_master(&m))
		return 1;
	if (connect_local(m, &c, &err)) {
		say("%s: connect: %s", what, err.msg);
		ec_master_free(m);
		return 1;
	}
	int bad = remote_pid(c, 30000) != ec_context_pid(c);
	/* A module the master serves: the context runs as usual. */
	int rc;
	ec_value *v = ec_test_call(c, "json", "dumps", ec_value_int(42), 30000, &rc);
	bad |= rc != 0 || !v || v->type != EC_T_STR || strcmp(v->u.s.data, "42") != 0;
	ec_value_free(v);
	v = ec_test_call(c, "os", "statvfs", ec_value_cstr(dir), 30000, &rc);
	long long flag = named_int(v, "f_flag"), avail = named_int(v, "f_bavail");
	int seen = want_ro ? flag >= 0 && (flag & 1) : avail == 0;
	say("%s: context booted (%.0f ms) and answered; os.statvfs(%s) in it: f_flag %lld, "
	    "f_bavail %lld",
	    what, ec_context_boot_seconds(c) * 1000, dir, flag, avail);
	bad |= !seen;
	ec_value_free(v);
	bad |= ec_context_shutdown(c, 30000, &err) != 0;
	ec_master_free(m);
	return bad;
}

static int ro_child(void)
{
	if (unshare(CLONE_NEWNS) || mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL))
		return 77;
	int n = remount_all_ro();
	if (n == 0)
		return 77;
	/* The master writes nothing either: no bytecode cache can be filled. */
	say("%d mounts remounted read-only (all but /proc, /sys, /dev)", n);
	return boot_and_call("read-only /", "/", 1);
}

static int full_child(void)
{
	char dir[] = "/tmp/ec_faults_full_XXXXXX";
	if (!mkdtemp(dir) || unshare(CLONE_NEWNS) || mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) ||
	    mount("tmpfs", dir, "tmpfs", 0, "size=256k")) {
		rmdir(dir);
		return 77;
	}
	/* Fill it: every byte of the tmpfs taken. */
	char path[128];
	snprintf(path, sizeof(path), "%s/fill", dir);
	int fd = open(path, O_WRONLY | O_CREAT, 0600);
	static char block[4096];
	long filled = 0;
	ssize_t w;
	while (fd >= 0 && (w = write(fd, block, sizeof(block))) > 0)
		filled += w;
	int full = fd >= 0 && errno == ENOSPC;
	if (fd >= 0)
		close(fd);
	/* Everything a context or the master might write goes there. */
	setenv("HOME", dir, 1);
	setenv("TMPDIR", dir, 1);
	setenv("XDG_CACHE_HOME", dir, 1);
	say("a full tmpfs (%ld bytes written, then %s) as HOME, TMPDIR and XDG_CACHE_HOME", filled,
	    full ? "ENOSPC" : "no ENOSPC");
	int rc = full ? boot_and_call("full HOME/TMPDIR", dir, 0) : 1;
	umount(dir);
	rmdir(dir);
	return rc;
}

static void run_fs(int (*fn)(void), const char *what)
{
	if (getuid() != 0) {
		printf("\n  SKIP %s: needs root (a mount namespace)\n", what);
		return;
	}
	int st = in_child(fn);
	if (st == 77)
		printf("  SKIP %s: no mount namespace here\n", what);
	else
		CU_ASSERT_EQUAL(st, 0);
}

static void test_readonly_fs(void)
{
	run_fs(ro_child, "read-only filesystem");
}

static void test_full_fs(void)
{
	run_fs(full_child, "full filesystem");
}

/* ---- a context flooding LOG records or stdout ------------------------------------------ */

static long flood_passed, flood_notices; /* records of the flooder let through; drop notices */
static long flood_other;                 /* records of anything else */

static void flood_log(void *arg, const struct ec_log_record *rec)
{
	(void)arg;
	if (strstr(rec->message, "flood "))
		__atomic_add_fetch(&flood_passed, 1, __ATOMIC_SEQ_CST);
	else if (strstr(rec->message, "log records more than"))
		__atomic_add_fetch(&flood_notices, 1, __ATOMIC_SEQ_CST);
	else
		__atomic_add_fetch(&flood_other, 1, __ATOMIC_SEQ_CST);
}

static long rss_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long v = -1;
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmRSS:", 6))
			v = atol(line + 6);
	if (f)
		fclose(f);
	return v;
}

/* fn (flood.log_forever or print_forever) runs in one context until cancelled: the
 * master drops what passes 1000 records a second and says how many once a second,
 * its RSS does not grow with the flood, and another context's calls are answered
 * meanwhile. */
static void flood(const char *fn)
{
	char mod[600];
	snprintf(mod, sizeof(mod), "%s/tests/data/flood", ec_test_srcdir());
	const char *mp[] = {mod, NULL};
	struct ec_master_options mo = {.size = sizeof(mo), .log_fn = flood_log,
	                               .log_level = EC_LOG_INFO, .module_path = mp};
	struct ec_error err = {0};
	ec_master *m = NULL;
	ec_context *flooder = NULL, *other = NULL;
	CU_ASSERT_EQUAL_FATAL(ec_master_new(&mo, &m, &err), 0);
	CU_ASSERT_EQUAL_FATAL(connect_local(m, &flooder, &err), 0);
	CU_ASSERT_EQUAL_FATAL(connect_local(m, &other, &err), 0);
	CU_ASSERT_EQUAL(remote_pid(other, 30000), ec_context_pid(other));
	flood_passed = flood_notices = flood_other = 0;
	malloc_trim(0);
	long rss0 = rss_kb();
	ec_call *call = NULL;
	CU_ASSERT_EQUAL_FATAL(ec_context_call_async(flooder, "flood", fn, NULL, NULL, &call, &err), 0);
	long long t0 = ec_test_now_ms();
	/* Three notices: three seconds of flood, each past the limit. */
	for (int i = 0; i < 6000 && __atomic_load_n(&flood_notices, __ATOMIC_SEQ_CST) < 3; i++)
		sleep_ms(10);
	CU_ASSERT(flood_notices >= 3);
	/* Meanwhile the other context answers, the flood still running. */
	long long t1 = ec_test_now_ms(), slowest = 0;
	int answered = 0;
	for (int i = 0; i < 50; i++) {
		long long c0 = ec_test_now_ms();
		answered += remote_pid(other, 30000) == ec_context_pid(other);
		if (ec_test_now_ms() - c0 > slowest)
			slowest = ec_test_now_ms() - c0;
	}
	long long calls_ms = ec_test_now_ms() - t1;
	ec_value *res = NULL;
	CU_ASSERT_EQUAL(ec_call_wait(call, 1, &res, &err), EC_ETIMEDOUT); /* still flooding */
	CU_ASSERT_EQUAL(answered, 50);
	long long secs = ec_test_now_ms() - t0;
	long passed = __atomic_load_n(&flood_passed, __ATOMIC_SEQ_CST);
	malloc_trim(0);
	long rss1 = rss_kb();
	CU_ASSERT_EQUAL(ec_call_cancel(call), 0);
	CU_ASSERT_EQUAL(ec_call_wait(call, 30000, &res, &err), EC_ECANCELED);
	ec_call_free(call);
	printf("\n  %s: %ld records let through in %lld ms (limit 1000 a second), %ld drop "
	       "notices; 50 calls of another context in %lld ms (slowest %lld ms); master RSS "
	       "%ld -> %ld KiB\n",
	       fn, passed, secs, flood_notices, calls_ms, slowest, rss0, rss1);
	/* At most 1000 per started second: the window restarts with a record. */
	CU_ASSERT(passed <= 1000 * (secs / 1000 + 2));
	/* valgrind's and ASan's own memory (freed blocks held in quarantine, shadow) is in
	 * the RSS there: judged natively only. */
	const char *pre = getenv("LD_PRELOAD");
	int instrumented = pre && strstr(pre, "vgpreload");
#if defined(__SANITIZE_ADDRESS__)
	instrumented = 1;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
	instrumented = 1;
#endif
#endif
	if (instrumented)
		printf("  (RSS not judged under valgrind or ASan)\n");
	else
		CU_ASSERT(rss1 - rss0 < 4096);
	CU_ASSERT_EQUAL(ec_context_shutdown(flooder, 30000, &err), 0);
	CU_ASSERT_EQUAL(ec_context_shutdown(other, 30000, &err), 0);
	ec_master_free(m);
}

static void test_flood_log(void)
{
	flood("log_forever");
}

static void test_flood_stdout(void)
{
	flood("print_forever");
}

int main(void)
{
	struct ec_test_python all[16];
	size_t n = ec_test_pythons(all, sizeof(all) / sizeof(all[0]));
	for (size_t i = n; i-- > 0;)
		if (all[i].path[0] && all[i].version[0] == '3')
			py = all[i];
	if (!py.path[0])
		return ec_test_skip("test_faults", "no Python 3 found");
	setenv("ECONTEXT_CONFIG", "/dev/null", 1);
	char home[] = "/tmp/ec_test_faults_XXXXXX";
	if (mkdtemp(home))
		setenv("XDG_CACHE_HOME", home, 1);
	CU_initialize_registry();
	CU_pSuite s = CU_add_suite("a context's process killed or stopped", suite_init, suite_clean);
	CU_add_test(s, "SIGKILL mid-call: the call fails at once, naming the context",
	            test_kill_mid_call);
	CU_add_test(s, "SIGSTOP: deadlines fire, the other context answers, SIGCONT, shutdown",
	            test_sigstop);
	CU_add_test(s, "a context flooding LOG records: bounded, counted, others answered",
	            test_flood_log);
	CU_add_test(s, "a context flooding stdout: bounded, counted, others answered",
	            test_flood_stdout);
	/* These fork: no master (no thread) in this process while they run. */
	CU_pSuite c = CU_add_suite("the master's process (forked)", NULL, NULL);
	CU_add_test(c, "out of file descriptors: connects fail clearly, the others answer",
	            test_out_of_fds);
	CU_add_test(c, "SIGKILLed master: every context gone", test_master_sigkill);
	CU_add_test(c, "read-only filesystem: contexts boot and run", test_readonly_fs);
	CU_add_test(c, "full filesystem: contexts boot and run", test_full_fs);
	int rc = ec_test_run();
	char rm[100];
	snprintf(rm, sizeof(rm), "rm -rf %s", home);
	if (system(rm) != 0)
		fprintf(stderr, "could not remove %s\n", home);
	return rc;
}
