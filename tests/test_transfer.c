/* test_transfer.c: ec_context_put and ec_context_get (econtext.h, docs/protocol.md
 * "File transfer") on local contexts of every Python found: 0 and 1 byte, one window
 * (4 MiB) and more than one, content, mode and mtime kept, the digest reported; an
 * unchanged put sends nothing; errors name the context and the path and leave no
 * temporary file (source missing, directory missing, a parent that is a file, a
 * directory where a file was expected); a cancelled put leaves the old file; a put to
 * three contexts at once (ec_context_put_many); trees both ways (ec_context_put_tree,
 * ec_context_get_tree); an mtime before 1970 kept; misshapen answers of the context
 * refused; the master's and the context's peak RSS stay bounded while 1 GiB goes each
 * way. The read-only and full filesystems are tests/test_transfer.sh (a
 * mount namespace), errors over ssh and sudo tests/test_transfer_ssh.sh and
 * tests/test_transfer_sudo.sh. */
#include "ecbuild.h"

#include <dirent.h>
#include <fcntl.h>
#include <pwd.h>
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "econtext.h"
#include "testutil.h"
#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif

static const struct ec_test_python *cur;
static ec_master *master;
static ec_context *ctx;
static char dir[64];
static char last_python[16]; /* the version of the last interpreter found */

static int suite_init(const struct ec_test_python *py)
{
	cur = py;
	snprintf(dir, sizeof(dir), "/tmp/ec-test-xfer-XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	return ec_test_master_and_context(py, NULL, "xfer", &master, &ctx);
}

static int suite_clean(void)
{
	ec_test_master_and_context_free(&master, &ctx);
	char cmd[200];
	snprintf(cmd, sizeof(cmd), "chmod -R u+w %s; rm -rf %s", dir, dir);
	return system(cmd) != 0;
}

static char *path_of(const char *name)
{
	static char buf[4][256];
	static int i;
	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", dir, name);
	return buf[i];
}

/* A file of size bytes of a pattern seeded by seed, with mode and mtime. */
static void make_file(const char *path, size_t size, unsigned seed, mode_t mode, time_t mtime)
{
	FILE *f = fopen(path, "wb");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	unsigned x = seed * 2654435761u + 1;
	for (size_t i = 0; i < size; i++) {
		x = x * 1103515245u + 12345u;
		fputc((int)(x >> 16) & 0xff, f);
	}
	fclose(f);
	chmod(path, mode);
	struct timespec t[2] = {{mtime, 250000000}, {mtime, 250000000}};
	utimensat(AT_FDCWD, path, t, 0);
}

static int same_content(const char *a, const char *b)
{
	FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
	int same = fa && fb;
	while (same) {
		int ca = getc(fa), cb = getc(fb);
		if (ca != cb)
			same = 0;
		if (ca == EOF)
			break;
	}
	if (fa)
		fclose(fa);
	if (fb)
		fclose(fb);
	return same;
}

/* Files in dir whose name holds ".ec-" (a temporary file left behind). */
static int temps_left(const char *d)
{
	DIR *dp = opendir(d);
	int n = 0;
	struct dirent *e;
	while (dp && (e = readdir(dp)))
		n += strstr(e->d_name, ".ec-") != NULL;
	if (dp)
		closedir(dp);
	return n;
}

/* The file's SHA-256 as coreutils' sha256sum says it (hex), or "". */
static void sha256sum(const char *path, char hex[65])
{
	char cmd[1200];
	snprintf(cmd, sizeof(cmd), "sha256sum -- '%s'", path);
	FILE *f = popen(cmd, "r");
	hex[0] = '\0';
	if (f && fscanf(f, "%64s", hex) != 1)
		hex[0] = '\0';
	if (f)
		pclose(f);
}

static void put_get_one(size_t size)
{
	char name[64];
	snprintf(name, sizeof(name), "src-%zu", size);
	char *src = path_of(name), *dst = path_of("dst"), *back = path_of("back");
	make_file(src, size, (unsigned)size, 0640, 1500000000);
	unlink(dst);
	struct ec_transfer_result res;
	struct ec_error err = {0};
	int rc = ec_context_put(ctx, src, dst, NULL, &res, &err);
	if (rc)
		fprintf(stderr, "put %zu: %s\n", size, err.msg);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	CU_ASSERT(res.changed == 1 && res.bytes == size && res.size == size);
	/* The digest both sides agreed on (the chain of the content frames) is the
	 * file's SHA-256, as sha256sum has it. */
	char want[65];
	sha256sum(src, want);
	CU_ASSERT_STRING_EQUAL(res.sha256, want);
	CU_ASSERT(same_content(src, dst));
	struct stat st;
	CU_ASSERT_EQUAL_FATAL(stat(dst, &st), 0);
	CU_ASSERT_EQUAL(st.st_mode & 07777, 0640);
	CU_ASSERT_EQUAL(st.st_mtim.tv_sec, 1500000000);
	/* Unchanged: nothing sent, the same digest. */
	struct ec_transfer_result again;
	CU_ASSERT_EQUAL(ec_context_put(ctx, src, dst, NULL, &again, &err), 0);
	CU_ASSERT(again.changed == 0 && again.bytes == 0);
	CU_ASSERT_STRING_EQUAL(again.sha256, res.sha256);
	/* And back. */
	struct ec_transfer_result got;
	rc = ec_context_get(ctx, dst, back, NULL, &got, &err);
	if (rc)
		fprintf(stderr, "get %zu: %s\n", size, err.msg);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT(got.changed == 1 && got.bytes == size);
	CU_ASSERT_STRING_EQUAL(got.sha256, res.sha256);
	CU_ASSERT(same_content(src, back));
	CU_ASSERT_EQUAL_FATAL(stat(back, &st), 0);
	CU_ASSERT_EQUAL(st.st_mode & 07777, 0640);
	CU_ASSERT_EQUAL(st.st_mtim.tv_sec, 1500000000);
	CU_ASSERT_EQUAL(temps_left(dir), 0);
	unlink(src);
	unlink(back);
}

static void test_sizes(void)
{
	put_get_one(0);
	put_get_one(1);
	put_get_one(4u << 20);          /* exactly one window */
	put_get_one((20u << 20) + 3);   /* several */
}

/* --mode; a changed file or mode is sent again over the old one. */
static void test_mode_and_change(void)
{
	char *src = path_of("m-src"), *dst = path_of("m-dst");
	make_file(src, 1000, 1, 0600, 1400000000);
	struct ec_transfer_options o = {.size = sizeof(o), .set_mode = 1, .mode = 0755};
	struct ec_transfer_result res;
	struct ec_error err = {0};
	CU_ASSERT_EQUAL_FATAL(ec_context_put(ctx, src, dst, &o, &res, &err), 0);
	struct stat st;
	CU_ASSERT_EQUAL(stat(dst, &st), 0);
	CU_ASSERT_EQUAL(st.st_mode & 07777, 0755);
	CU_ASSERT_EQUAL(ec_context_put(ctx, src, dst, &o, &res, &err), 0);
	CU_ASSERT_EQUAL(res.changed, 0);
	CU_ASSERT_EQUAL(ec_context_put(ctx, src, dst, NULL, &res, &err), 0); /* mode differs */
	CU_ASSERT_EQUAL(res.changed, 1);
	CU_ASSERT(stat(dst, &st) == 0 && (st.st_mode & 07777) == 0600);
	make_file(src, 1000, 2, 0600, 1400000000); /* same size, other bytes */
	CU_ASSERT_EQUAL(ec_context_put(ctx, src, dst, NULL, &res, &err), 0);
	CU_ASSERT(res.changed == 1 && res.bytes == 1000);
	CU_ASSERT(same_content(src, dst));
	/* Owner and group (as root: the context may set them), by name and by number. */
	struct passwd *nobody = getpwnam("nobody");
	if (geteuid() != 0 || !nobody)
		return;
	struct ec_transfer_options og = {.size = sizeof(og), .owner = "nobody", .group = "12345"};
	CU_ASSERT_EQUAL(ec_context_put(ctx, src, dst, &og, &res, &err), 0);
	CU_ASSERT_EQUAL(res.changed, 1);
	CU_ASSERT(stat(dst, &st) == 0 && st.st_uid == nobody->pw_uid && st.st_gid == 12345 &&
	          (st.st_mode & 07777) == 0600);
	CU_ASSERT_EQUAL(ec_context_put(ctx, src, dst, &og, &res, &err), 0);
	CU_ASSERT_EQUAL(res.changed, 0);
	og.group = "12346";
	CU_ASSERT_EQUAL(ec_context_put(ctx, src, dst, &og, &res, &err), 0);
	CU_ASSERT(res.changed == 1 && stat(dst, &st) == 0 && st.st_gid == 12346);
	og.owner = "no-such-user-here";
	CU_ASSERT_EQUAL(ec_context_put(ctx, src, dst, &og, &res, &err), EC_EREMOTE);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "no user named"));
}

/* An error: its code, and the context's name, the path and text in its message. */
static void expect_error(int rc, const struct ec_error *err, int code, const char *path,
                         const char *text)
{
	CU_ASSERT_EQUAL(rc, code);
	CU_ASSERT_PTR_NOT_NULL(strstr(err->msg, "'xfer'"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err->msg, path));
	CU_ASSERT_PTR_NOT_NULL(strstr(err->msg, text));
	if (rc != code || !strstr(err->msg, path) || !strstr(err->msg, text))
		fprintf(stderr, "  expected %s, %s: %d %s\n", path, text, rc, err->msg);
}

static void test_errors(void)
{
	char src[256], file[256], sub[256], missing[256], x[256];
	snprintf(src, sizeof(src), "%s", path_of("e-src"));
	snprintf(file, sizeof(file), "%s", path_of("e-file"));
	snprintf(sub, sizeof(sub), "%s", path_of("e-dir"));
	snprintf(missing, sizeof(missing), "%s", path_of("missing"));
	snprintf(x, sizeof(x), "%s", path_of("x"));
	make_file(src, 100, 3, 0644, 1400000000);
	make_file(file, 10, 4, 0644, 1400000000);
	mkdir(sub, 0755);
	struct ec_error err = {0};
	char p[300];
	int rc = ec_context_put(ctx, missing, x, NULL, NULL, &err);
	expect_error(rc, &err, EC_ESYS, missing, "No such file");
	snprintf(p, sizeof(p), "%s/nodir/x", dir);
	rc = ec_context_put(ctx, src, p, NULL, NULL, &err);
	expect_error(rc, &err, EC_EREMOTE, p, "No such file");
	snprintf(p, sizeof(p), "%s/x", file); /* a parent that is a file */
	rc = ec_context_put(ctx, src, p, NULL, NULL, &err);
	expect_error(rc, &err, EC_EREMOTE, p, "Not a directory");
	rc = ec_context_put(ctx, src, sub, NULL, NULL, &err); /* a directory as the target */
	expect_error(rc, &err, EC_ESYS, sub, "Is a directory");
	rc = ec_context_put(ctx, sub, x, NULL, NULL, &err); /* ... as the source */
	expect_error(rc, &err, EC_ESYS, sub, "Is a directory");
	rc = ec_context_get(ctx, missing, x, NULL, NULL, &err);
	expect_error(rc, &err, EC_EREMOTE, missing, "No such file");
	rc = ec_context_get(ctx, sub, x, NULL, NULL, &err);
	expect_error(rc, &err, EC_EREMOTE, sub, "Is a directory");
	rc = ec_context_get(ctx, src, sub, NULL, NULL, &err);
	expect_error(rc, &err, EC_ESYS, sub, "Is a directory");
	snprintf(p, sizeof(p), "%s/nodir/x", dir);
	rc = ec_context_get(ctx, src, p, NULL, NULL, &err);
	expect_error(rc, &err, EC_ESYS, p, "No such file");
	/* Permission denied: as root, a directory's mode does not stop us; a non-root run
	 * checks it. */
	if (geteuid() != 0) {
		char *ro = path_of("e-ro");
		mkdir(ro, 0500);
		snprintf(p, sizeof(p), "%s/x", ro);
		rc = ec_context_put(ctx, src, p, NULL, NULL, &err);
		expect_error(rc, &err, EC_EREMOTE, p, "Permission denied");
	}
	CU_ASSERT_EQUAL(temps_left(dir), 0);
	CU_ASSERT_EQUAL(access(x, F_OK), -1);
}

static int cancel_after(void *arg, uint64_t done, uint64_t total)
{
	(void)total;
	return done >= *(uint64_t *)arg;
}

/* Cancelled mid-way: the old file stays, no temporary file. */
static void test_cancel(void)
{
	char *src = path_of("c-src"), *dst = path_of("c-dst"), *old = path_of("c-old");
	make_file(src, 20u << 20, 5, 0644, 1400000000);
	make_file(dst, 1000, 6, 0644, 1400000000);
	make_file(old, 1000, 6, 0644, 1400000000);
	uint64_t limit = 8u << 20;
	struct ec_transfer_options o = {.size = sizeof(o), .progress = cancel_after,
	                                .progress_arg = &limit};
	struct ec_transfer_result res;
	struct ec_error err = {0};
	CU_ASSERT_EQUAL(ec_context_put(ctx, src, dst, &o, &res, &err), EC_ECANCELED);
	CU_ASSERT(res.bytes >= limit && res.bytes < (20u << 20));
	CU_ASSERT(same_content(dst, old));
	CU_ASSERT_EQUAL(temps_left(dir), 0);
	/* The context goes on. */
	CU_ASSERT_EQUAL(ec_context_put(ctx, src, dst, NULL, &res, &err), 0);
	CU_ASSERT(same_content(src, dst));
	/* A get cancelled: the local target stays too. */
	make_file(old, 1000, 7, 0644, 1400000000);
	char *local = path_of("c-local");
	make_file(local, 1000, 7, 0644, 1400000000);
	CU_ASSERT_EQUAL(ec_context_get(ctx, dst, local, &o, &res, &err), EC_ECANCELED);
	CU_ASSERT(same_content(local, old));
	CU_ASSERT_EQUAL(temps_left(dir), 0);
}

/* What a progress callback's waits on the transfer's own context gave (test_busy). */
struct busy_seen {
	int n;           /* calls of the callback */
	int rc[7];       /* call, wait for an async call, put, get, put -r, get -r, channel */
	char msg[7][256];
	ec_channel *ch;  /* of the context, nothing on it */
};

static int busy_progress(void *arg, uint64_t done, uint64_t total)
{
	(void)done;
	(void)total;
	struct busy_seen *s = arg;
	if (s->n++)
		return 0;
	struct ec_error err[7];
	memset(err, 0, sizeof(err));
	ec_value *args = ec_value_new(EC_T_TUPLE), *r = NULL;
	s->rc[0] = ec_context_call(ctx, "os", "getpid", args, NULL, 60000, &r, &err[0]);
	ec_value_free(r);
	r = NULL;
	ec_call *c = NULL;
	if (ec_context_call_async(ctx, "os", "getpid", args, NULL, &c, &err[1]) == 0) {
		s->rc[1] = ec_call_wait(c, 60000, &r, &err[1]);
		ec_value_free(r);
		ec_call_free(c); /* cancelled in the context */
	}
	ec_value_free(args);
	struct ec_transfer_result res[1];
	s->rc[2] = ec_context_put(ctx, path_of("b-src"), path_of("b-x"), NULL, res, &err[2]);
	s->rc[3] = ec_context_get(ctx, path_of("b-src"), path_of("b-x"), NULL, res, &err[3]);
	s->rc[4] = ec_context_put_tree(&ctx, 1, dir, path_of("b-t"), NULL, res, &err[4]);
	s->rc[5] = ec_context_get_tree(ctx, dir, path_of("b-t"), NULL, res, &err[5]);
	ec_value *v = NULL;
	s->rc[6] = ec_channel_recv(s->ch, 60000, &v, &err[6]);
	ec_value_free(v);
	for (int i = 0; i < 7; i++)
		snprintf(s->msg[i], sizeof(s->msg[i]), "%s", err[i].msg);
	return 0;
}

/* A progress callback's call, wait or transfer on the transfer's own context would wait
 * for ever (the context waits for this thread's next chunk): each refused at once,
 * EC_EINVAL naming the context, nothing sent; the transfer and the context go on. */
static void test_busy(void)
{
	char src[256], dst[256]; /* copies: the callback's path_of reuses the buffers */
	snprintf(src, sizeof(src), "%s", path_of("b-src"));
	make_file(src, 3u << 20, 8, 0644, 1400000000);
	static const char *what[] = {"a call", "a wait for a call", "a put", "a get", "a put -r",
	                             "a get -r", "a wait on a channel"};
	for (int get = 0; get < 2; get++) {
		struct busy_seen s;
		memset(&s, 0, sizeof(s));
		struct ec_error cerr = {0};
		CU_ASSERT_EQUAL_FATAL(ec_channel_new(ctx, &s.ch, &cerr), 0);
		struct ec_transfer_options o = {.size = sizeof(o), .progress = busy_progress,
		                                .progress_arg = &s};
		struct ec_transfer_result res;
		struct ec_error err = {0};
		snprintf(dst, sizeof(dst), "%s", path_of(get ? "b-got" : "b-put"));
		int rc = get ? ec_context_get(ctx, src, dst, &o, &res, &err)
		             : ec_context_put(ctx, src, dst, &o, &res, &err);
		if (rc)
			fprintf(stderr, "busy %s: %s\n", get ? "get" : "put", err.msg);
		CU_ASSERT_EQUAL(rc, 0);
		CU_ASSERT(same_content(src, dst));
		CU_ASSERT(s.n > 0);
		ec_channel_free(s.ch);
		for (int i = 0; i < 7; i++) {
			char want[128];
			snprintf(want, sizeof(want), "%s in context 'xfer' from a callback of a transfer "
			         "to it refused", what[i]);
			CU_ASSERT_EQUAL(s.rc[i], EC_EINVAL);
			if (!strstr(s.msg[i], want))
				fprintf(stderr, "busy %d: '%s' lacks '%s'\n", i, s.msg[i], want);
			CU_ASSERT(strstr(s.msg[i], want) != NULL);
		}
		CU_ASSERT_EQUAL(access(path_of("b-x"), F_OK), -1);
		CU_ASSERT_EQUAL(access(path_of("b-t"), F_OK), -1);
	}
	/* The context goes on, the refused calls never ran. */
	ec_value *args = ec_value_new(EC_T_TUPLE), *r = NULL;
	struct ec_error err = {0};
	CU_ASSERT_EQUAL(ec_context_call(ctx, "os", "getpid", args, NULL, 60000, &r, &err), 0);
	ec_value_free(r);
	ec_value_free(args);
	CU_ASSERT_EQUAL(temps_left(dir), 0);
}

/* The peak RSS (VmHWM) of process pid, 0 for ourselves, in MB, reset (clear_refs 5)
 * when reset is nonzero. */
static double peak_mb(long pid, int reset)
{
	char path[64];
	if (pid)
		snprintf(path, sizeof(path), "/proc/%ld/%s", pid, reset ? "clear_refs" : "status");
	else
		snprintf(path, sizeof(path), "/proc/self/%s", reset ? "clear_refs" : "status");
	FILE *f = fopen(path, reset ? "w" : "r");
	double kb = 0;
	char line[256];
	if (f && reset)
		fputs("5", f);
	while (f && !reset && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmHWM: %lf kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb / 1024;
}

/* Why the master's RSS says nothing of its own memory here, or NULL: built with
 * AddressSanitizer (tests/sanitize.sh; gcc says so, clang answers), whose shadow memory
 * and quarantine are most of it; or run under valgrind (tests/valgrind.sh), whose own
 * is. */
static const char *rss_not_ours(void)
{
#if defined(__SANITIZE_ADDRESS__)
	return "AddressSanitizer";
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
	return "AddressSanitizer";
#endif
#endif
#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
	if (RUNNING_ON_VALGRIND)
		return "valgrind";
#endif
#endif
	return NULL;
}

/* put (get 0) or get (1) of 1 GiB from src to dst: the master's peak RSS under 40 MB,
 * the context's under 64 MB (each peak reset first); the digest in sha. */
static void big_one(int get, const char *src, const char *dst, char sha[65])
{
	long pid = ec_context_pid(ctx);
	peak_mb(0, 1);
	peak_mb(pid, 1);
	struct ec_transfer_result res;
	struct ec_error err = {0};
	int rc = get ? ec_context_get(ctx, src, dst, NULL, &res, &err)
	             : ec_context_put(ctx, src, dst, NULL, &res, &err);
	if (rc)
		fprintf(stderr, "  %s: %s\n", get ? "get" : "put", err.msg);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_EQUAL(res.bytes, 1u << 30);
	double mine = peak_mb(0, 0), theirs = peak_mb(pid, 0);
	fprintf(stderr, "  %s: %s 1 GiB in %.2f s (%.0f MiB/s), peak RSS: master %.1f MB, context %.1f MB\n",
	        cur->version, get ? "get" : "put", res.seconds, 1024 / res.seconds, mine, theirs);
	if (rss_not_ours())
		fprintf(stderr, "  SKIP: the master's RSS bound, under %s (make check checks it)\n",
		        rss_not_ours());
	else
		CU_ASSERT(mine > 0 && mine < 40);
	CU_ASSERT(theirs > 0 && theirs < 64);
	snprintf(sha, 65, "%s", res.sha256);
}

/* 1 GiB each way, on the last interpreter found (in /dev/shm where there is
 * room, so that the disk does not set the time): both peaks bounded, the same bytes
 * back (the digests). The source is sparse: reading it costs nothing. */
static void test_rss(void)
{
	if (strcmp(cur->version, last_python) != 0)
		return;
	char big[128];
	struct statvfs vfs;
	int shm = statvfs("/dev/shm", &vfs) == 0 && vfs.f_bavail * (double)vfs.f_frsize > 2.5 * (1 << 30);
	snprintf(big, sizeof(big), "%s/ec-test-xfer-XXXXXX", shm ? "/dev/shm" : dir);
	CU_ASSERT_FATAL(mkdtemp(big) != NULL);
	char src[160], dst[160], back[160], put_sha[65], get_sha[65];
	snprintf(src, sizeof(src), "%s/big", big);
	snprintf(dst, sizeof(dst), "%s/big-dst", big);
	snprintf(back, sizeof(back), "%s/big-back", big);
	int fd = open(src, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT(ftruncate(fd, 1 << 30) == 0 && pwrite(fd, "end", 3, (1 << 30) - 3) == 3);
	close(fd);
	big_one(0, src, dst, put_sha);
	unlink(src);
	big_one(1, dst, back, get_sha);
	CU_ASSERT_STRING_EQUAL(put_sha, get_sha);
	unlink(dst);
	unlink(back);
	rmdir(big);
}

/* A progress callback keeping the most bytes it was told of. */
static int most_done(void *arg, uint64_t done, uint64_t total)
{
	(void)total;
	uint64_t *most = arg;
	if (done > *most)
		*most = done;
	return 0;
}

/* What the progress callbacks were told: most (first: most_done's arg too) of
 * progress, and of progress_dest for each destination. */
struct told {
	uint64_t most;
	uint64_t dest[3], total[3];
	int calls[3];
	int bad;          /* a destination out of range, bytes going back, more than read */
	int cancel_at;    /* cancel when destination 1 is told of this many calls (0: never) */
};

static int told_dest(void *arg, size_t i, uint64_t done, uint64_t total)
{
	struct told *t = arg;
	/* (told before progress: up to a chunk past what it last said) */
	if (i >= 3 || done < t->dest[i] || (t->most && done > t->most + (256u << 10))) {
		t->bad = 1;
		return 0;
	}
	t->dest[i] = done;
	t->total[i] = total;
	t->calls[i]++;
	return t->cancel_at && i == 1 && t->calls[i] >= t->cancel_at;
}

static int never(void *arg, size_t i, uint64_t done, uint64_t total)
{
	(void)i;
	(void)done;
	(void)total;
	((struct told *)arg)->bad = 1;
	return 1;
}

/* To three contexts at once, the file read once: each its own result; unchanged
 * afterwards; an error said for each context. Each destination's progress: what it
 * acknowledged, up to the whole file; an older caller's options (size short of
 * progress_dest) never call it; progress_dest cancels too. */
static void test_many(void)
{
	enum { N = 3 };
	ec_context *cs[N] = {ctx, NULL, NULL};
	char opt[600];
	snprintf(opt, sizeof(opt), "python=%s", cur->path);
	const char *ov[] = {"transport=local", opt, NULL};
	struct ec_error err = {0};
	CU_ASSERT_EQUAL_FATAL(ec_context_connect(master, "xfer2", ov, 30000, &cs[1], &err), 0);
	CU_ASSERT_EQUAL_FATAL(ec_context_connect(master, "xfer3", ov, 30000, &cs[2], &err), 0);
	char src[256], dst[256], bad[256];
	snprintf(src, sizeof(src), "%s", path_of("n-src"));
	snprintf(dst, sizeof(dst), "%s", path_of("n-dst"));
	snprintf(bad, sizeof(bad), "%s/nodir/x", dir);
	make_file(src, (6u << 20) + 5, 9, 0644, 1400000000);
	struct ec_transfer_result res[N];
	struct ec_error errs[N];
	struct told t = {0};
	struct ec_transfer_options o = {.size = sizeof(o), .progress = most_done,
	                                .progress_dest = told_dest, .progress_arg = &t};
	int rc = ec_context_put_many(cs, N, src, dst, &o, res, errs);
	if (rc)
		fprintf(stderr, "put_many: %s\n", errs[0].msg);
	CU_ASSERT_EQUAL(rc, 0);
	for (int i = 0; i < N; i++) {
		CU_ASSERT(res[i].changed == 1 && res[i].bytes == (6u << 20) + 5 &&
		          strlen(res[i].sha256) == 64);
		/* a call a chunk (25), and the last once in place */
		CU_ASSERT(t.calls[i] >= 20 && t.dest[i] == (6u << 20) + 5 &&
		          t.total[i] == (6u << 20) + 5);
	}
	CU_ASSERT_EQUAL(t.bad, 0);
	CU_ASSERT_EQUAL(t.most, (6u << 20) + 5);
	CU_ASSERT(same_content(src, dst));
	/* An older caller's options end before progress_dest: it is not read. */
	struct told old = {0};
	struct ec_transfer_options o2 = {.size = offsetof(struct ec_transfer_options, progress_dest),
	                                 .progress = most_done, .progress_dest = never,
	                                 .progress_arg = &old};
	unlink(dst);
	CU_ASSERT_EQUAL(ec_context_put_many(cs, N, src, dst, &o2, res, errs), 0);
	CU_ASSERT(old.bad == 0 && old.most == (6u << 20) + 5);
	/* progress_dest cancels: every destination's old file stays. */
	char *other = path_of("n-other");
	make_file(other, 7u << 20, 10, 0644, 1400000000);
	struct told c = {.cancel_at = 5};
	o.progress_arg = &c;
	CU_ASSERT_EQUAL(ec_context_put_many(cs, N, other, dst, &o, res, errs), EC_ECANCELED);
	for (int i = 0; i < N; i++)
		CU_ASSERT_EQUAL(errs[i].code, EC_ECANCELED);
	CU_ASSERT(same_content(src, dst));
	CU_ASSERT_EQUAL(temps_left(dir), 0);
	CU_ASSERT_EQUAL(ec_context_put_many(cs, N, src, dst, NULL, res, errs), 0);
	for (int i = 0; i < N; i++)
		CU_ASSERT(res[i].changed == 0 && res[i].bytes == 0);
	CU_ASSERT_EQUAL(ec_context_put_many(cs, N, src, bad, NULL, res, errs), EC_EREMOTE);
	CU_ASSERT_PTR_NOT_NULL(strstr(errs[1].msg, "'xfer2'"));
	CU_ASSERT_PTR_NOT_NULL(strstr(errs[2].msg, "'xfer3'"));
	for (int i = 0; i < N; i++)
		CU_ASSERT_PTR_NOT_NULL(strstr(errs[i].msg, "No such file"));
	CU_ASSERT_EQUAL(temps_left(dir), 0);
	ec_context_shutdown(cs[1], 3000, NULL);
	ec_context_shutdown(cs[2], 3000, NULL);
}

/* n local contexts (PREFIX0, PREFIX1, ...) on the interpreter of the suite, and src
 * (24 MiB made with seed) and dst (none yet) in dir, 256 bytes each. */
static void many_setup(ec_context **cs, int n, const char *prefix, char *src, char *dst,
                       unsigned seed)
{
	char opt[600], name[32];
	snprintf(opt, sizeof(opt), "python=%s", cur->path);
	const char *ov[] = {"transport=local", opt, NULL};
	struct ec_error err = {0};
	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "%s%d", prefix, i);
		CU_ASSERT_EQUAL_FATAL(ec_context_connect(master, name, ov, 30000, &cs[i], &err), 0);
	}
	snprintf(src, 256, "%s-src", path_of(prefix));
	snprintf(dst, 256, "%s-dst", path_of(prefix));
	make_file(src, 24u << 20, seed, 0644, 1400000000);
}

/* After many_setup: no temporary file left; the files and the contexts gone. */
static void many_done(ec_context **cs, int n, const char *src, const char *dst)
{
	CU_ASSERT_EQUAL(temps_left(dir), 0);
	unlink(src);
	unlink(dst);
	for (int i = 0; i < n; i++)
		ec_context_shutdown(cs[i], 3000, NULL);
}

/* To 20 contexts at once, 24 MiB (six windows): each chunk is read once into a block
 * that every context's stream writes from, so the master's peak RSS grows by a window
 * or two, not by a window for each context (before: 20 x 4 MiB of copies, ~75 MB).
 * On the last interpreter found. */
static void test_many_memory(void)
{
	enum { N = 20 };
	if (strcmp(cur->version, last_python) != 0)
		return;
	ec_context *cs[N] = {NULL};
	char src[256], dst[256];
	many_setup(cs, N, "wide", src, dst, 11);
	struct ec_transfer_result res[N];
	struct ec_error errs[N];
	peak_mb(0, 1);
	double before = peak_mb(0, 0);
	int rc = ec_context_put_many(cs, N, src, dst, NULL, res, errs);
	double grew = peak_mb(0, 0) - before;
	if (rc)
		fprintf(stderr, "put_many: %s\n", errs[0].msg);
	CU_ASSERT_EQUAL(rc, 0);
	for (int i = 0; i < N; i++)
		CU_ASSERT(res[i].changed == 1 && res[i].bytes == 24u << 20);
	CU_ASSERT(same_content(src, dst));
	fprintf(stderr, "  %s: 24 MiB to %d contexts at once: the master's peak RSS grew %.1f MB\n",
	        cur->version, N, grew);
	/* growth, not the whole: it holds under ASan (7 MB) and valgrind (1 MB) too */
	CU_ASSERT(grew < 16);
	many_done(cs, N, src, dst);
}

/* progress_dest for test_many_lost: kills destination 1's context (pid in arg) once it
 * has acknowledged 2 MiB. */
static int kill_one(void *arg, size_t i, uint64_t done, uint64_t total)
{
	(void)total;
	long *pid = arg;
	if (i == 1 && done >= (2u << 20) && *pid > 0) {
		kill((pid_t)*pid, SIGKILL);
		*pid = 0;
	}
	return 0;
}

/* To three contexts at once, the one in the middle killed mid-way: the other two get
 * the whole file, it fails saying it was lost; the chunks it held are let go with its
 * stream (sanitize.sh and valgrind.sh run this). On the last interpreter found. */
static void test_many_lost(void)
{
	enum { N = 3 };
	if (strcmp(cur->version, last_python) != 0)
		return;
	ec_context *cs[N] = {NULL};
	char src[256], dst[256];
	many_setup(cs, N, "lost", src, dst, 12);
	long pid = ec_context_pid(cs[1]);
	struct ec_transfer_options o = {.size = sizeof(o), .progress_dest = kill_one,
	                                .progress_arg = &pid};
	struct ec_transfer_result res[N];
	struct ec_error errs[N];
	memset(errs, 0, sizeof(errs));
	int rc = ec_context_put_many(cs, N, src, dst, &o, res, errs);
	CU_ASSERT_EQUAL(pid, 0); /* it was killed */
	CU_ASSERT(rc != 0);
	CU_ASSERT(errs[0].code == 0 && errs[2].code == 0);
	CU_ASSERT(res[0].changed == 1 && res[0].bytes == 24u << 20);
	CU_ASSERT(res[2].changed == 1 && res[2].bytes == 24u << 20);
	CU_ASSERT(errs[1].code != 0 && strstr(errs[1].msg, "'lost1'") != NULL);
	fprintf(stderr, "  %s: the context killed: %s\n", cur->version, errs[1].msg);
	CU_ASSERT(same_content(src, dst));
	many_done(cs, N, src, dst);
}

/* A tree NAME in dir: an empty directory, modes, odd names (a space, a newline, bytes
 * that are not UTF-8), 5000000 + 3 + 3 bytes in files, links (one to outside, one
 * dangling); then the shell command then. */
static void make_tree(const char *name, const char *then)
{
	char cmd[2048];
	snprintf(cmd, sizeof(cmd),
	         "cd %s && rm -rf %s && mkdir %s && cd %s && mkdir -p a/b empty && echo hi >f && "
	         "printf x >'a/sp ace' && printf 'y' >\"a/new\nline\" && "
	         "printf z >\"$(printf 'a/b/\\377\\376')\" && ln -s ../f a/link && "
	         "ln -s /etc/passwd abs && ln -s /nonexistent dangling && chmod 700 a && "
	         "head -c 5000000 /dev/urandom >a/b/big && touch -d 2020-01-02 a a/b && cd .. && %s",
	         dir, name, name, name, then);
	CU_ASSERT_EQUAL_FATAL(system(cmd), 0);
}

/* The tree name made (make_tree, then `then`), and put (get 0) or got (1) to name2,
 * which succeeds with the same content, links, an empty directory and modes; src and
 * dst (256 bytes each) set to the two. */
static void tree_copy(int get, const char *name, const char *then, char *src, char *dst,
                      struct ec_transfer_result *res)
{
	make_tree(name, then);
	snprintf(src, 256, "%s/%s", dir, name);
	snprintf(dst, 256, "%s/%s2", dir, name);
	struct ec_error err = {0};
	struct told t = {0};
	struct ec_transfer_options o = {.size = sizeof(o), .progress = most_done,
	                                .progress_dest = told_dest, .progress_arg = &t};
	int rc = get ? ec_context_get_tree(ctx, src, dst, &o, res, &err)
	             : ec_context_put_tree(&ctx, 1, src, dst, &o, res, &err);
	if (rc)
		fprintf(stderr, "%s_tree: %s\n", get ? "get" : "put", err.msg);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT(res->changed == 1 && res->bytes == 5000000 + 3 + 3);
	CU_ASSERT_EQUAL(t.most, 5000000 + 3 + 3); /* the progress: the tree's bytes, summed */
	CU_ASSERT(t.dest[0] == 5000000 + 3 + 3 && t.total[0] == 0 && !t.bad); /* and per destination */
	char cmd[1024];
	snprintf(cmd, sizeof(cmd),
	         "cd %s && diff -r --no-dereference %s %s2 && [ \"$(stat -c %%a %s2/a)\" = 700 ] && "
	         "[ \"$(readlink %s2/abs)\" = /etc/passwd ] && [ -d %s2/empty ] && "
	         "[ \"$(stat -c %%Y %s2/a %s2/a/b)\" = \"$(stat -c %%Y %s/a %s/a/b)\" ]",
	         dir, name, name, name, name, name, name, name, name, name);
	CU_ASSERT_EQUAL(system(cmd), 0);
}

/* A tree: an empty directory, modes, odd names (a space, a newline, bytes that are
 * not UTF-8), symbolic links copied as links (one pointing out of the tree, not
 * followed); unchanged the second time; a file where the tree's root should be. */
static void test_tree(void)
{
	char src[256], dst[256];
	struct ec_transfer_result res;
	struct ec_error err = {0};
	tree_copy(0, "t", "rm -rf t2", src, dst, &res);
	CU_ASSERT_EQUAL(ec_context_put_tree(&ctx, 1, src, dst, NULL, &res, &err), 0);
	CU_ASSERT(res.changed == 0 && res.bytes == 0);
	snprintf(src, sizeof(src), "%s/t/f", dir);
	int rc = ec_context_put_tree(&ctx, 1, src, dst, NULL, &res, &err);
	expect_error(rc, &err, EC_ESYS, src, "Not a directory");
	snprintf(src, sizeof(src), "%s/t", dir);
	snprintf(dst, sizeof(dst), "%s/t/f/x", dir);
	rc = ec_context_put_tree(&ctx, 1, src, dst, NULL, &res, &err);
	expect_error(rc, &err, EC_EREMOTE, dst, "Not a directory");
}


/* Get a tree: the same odd names, links (one out of the tree: copied, not followed),
 * an empty directory, modes (a read-only directory filled before its mode is set);
 * again over itself; errors; a context whose listing would lead out of the local
 * directory (through a link, or ..) is refused and writes nothing there. */
static void test_get_tree(void)
{
	char cmd[2048], src[256], dst[256];
	struct ec_transfer_result res;
	struct ec_error err = {0};
	tree_copy(1, "g", "rm -rf g2 && chmod 500 g/a/b", src, dst, &res);
	int rc;
	CU_ASSERT(res.sha256[0] == '\0');
	snprintf(cmd, sizeof(cmd),
	         "cd %s && diff -r --no-dereference g g2 && [ \"$(stat -c %%a g2/a)\" = 700 ] && "
	         "[ \"$(stat -c %%a g2/a/b)\" = 500 ] && [ \"$(readlink g2/abs)\" = /etc/passwd ] && "
	         "[ \"$(readlink g2/dangling)\" = /nonexistent ] && [ -d g2/empty ]", dir);
	CU_ASSERT_EQUAL(system(cmd), 0);
	CU_ASSERT_EQUAL(ec_context_get_tree(ctx, src, dst, NULL, &res, &err), 0);
	CU_ASSERT_EQUAL(system(cmd), 0);
	CU_ASSERT_EQUAL(temps_left(dst), 0);
	/* Errors: the remote top a file, missing; the local top a file. */
	snprintf(src, sizeof(src), "%s/g/f", dir);
	rc = ec_context_get_tree(ctx, src, dst, NULL, &res, &err);
	expect_error(rc, &err, EC_EREMOTE, src, "Not a directory");
	snprintf(src, sizeof(src), "%s/no-such", dir);
	rc = ec_context_get_tree(ctx, src, dst, NULL, &res, &err);
	expect_error(rc, &err, EC_EREMOTE, src, "No such file");
	snprintf(src, sizeof(src), "%s/g", dir);
	snprintf(dst, sizeof(dst), "%s/g2/f", dir);
	rc = ec_context_get_tree(ctx, src, dst, NULL, &res, &err);
	expect_error(rc, &err, EC_ESYS, dst, "not a directory");
	/* A hostile listing: a link to outside, then a file under it; a "..". */
	char out[256], code[1024];
	snprintf(out, sizeof(out), "%s/outside", dir);
	mkdir(out, 0755);
	for (int i = 0; i < 2; i++) {
		char list[512];
		if (i == 0)
			snprintf(list, sizeof(list),
			         "[(b'', 0, 0o755, None, 0), (b'l', 2, 0, b'%s', 0), (b'l/x', 1, 0o644, None, 0)]",
			         out);
		else
			snprintf(list, sizeof(list), "%s",
			         "[(b'', 0, 0o755, None, 0), (b'../outside/x', 1, 0o644, None, 0)]");
		snprintf(code, sizeof(code),
		         "import econtext\nif not hasattr(econtext, '_walk_next0'): econtext._walk_next0 = "
		         "econtext._walk_next\necontext._walk_next = lambda t, b, l=[%s]: l.pop() if l "
		         "else []\n", list);
		ec_value *args = ec_value_new(EC_T_TUPLE), *r = NULL;
		ec_value_append(args, ec_value_cstr(code));
		rc = ec_context_call(ctx, strncmp(cur->version, "2.", 2) ? "builtins" : "__builtin__",
		                     "exec", args, NULL, 10000, &r, &err);
		ec_value_free(args);
		ec_value_free(r);
		if (rc) { /* exec is a statement on 2.7 */
			fprintf(stderr, "  (no hostile listing on %s: %s)\n", cur->version, err.msg);
			break;
		}
		snprintf(dst, sizeof(dst), "%s/h%d", dir, i);
		rc = ec_context_get_tree(ctx, src, dst, NULL, &res, &err);
		expect_error(rc, &err, EC_EPROTO, src, "bad entry");
		snprintf(code, sizeof(code), "%s/x", out);
		CU_ASSERT_EQUAL(access(code, F_OK), -1);
	}
	ec_value *args = ec_value_new(EC_T_TUPLE), *r = NULL;
	ec_value_append(args, ec_value_cstr("import econtext\n"
	                                    "if hasattr(econtext, '_walk_next0'): econtext._walk_next = econtext._walk_next0\n"));
	ec_context_call(ctx, strncmp(cur->version, "2.", 2) ? "builtins" : "__builtin__", "exec", args,
	                NULL, 10000, &r, NULL);
	ec_value_free(args);
	ec_value_free(r);
}

/* code run in the context (exec): 0, or not (exec is a statement on 2.7: said, skipped). */
static int ctx_exec(const char *code)
{
	ec_value *args = ec_value_new(EC_T_TUPLE), *r = NULL;
	struct ec_error err = {0};
	ec_value_append(args, ec_value_cstr(code));
	int rc = ec_context_call(ctx, strncmp(cur->version, "2.", 2) ? "builtins" : "__builtin__",
	                         "exec", args, NULL, 10000, &r, &err);
	ec_value_free(args);
	ec_value_free(r);
	if (rc)
		fprintf(stderr, "  (no hostile answers on %s: %s)\n", cur->version, err.msg);
	return rc;
}

/* A file from before 1970 with a fraction of a second comes with its mtime (the
 * nanoseconds were negative: futimens refused); _stat's and _get's answers misshapen (a
 * digest that is an int, a NaN mtime), a digest that is not the content's, the file
 * sent as a value instead of content are refused, naming the context and the path,
 * never a crash, nothing left (fuzz/fuzz_transfer.c fuzzes them). */
static void test_answers(void)
{
	char *src = path_of("ans-src"), *dst = path_of("ans-dst"), *dst2 = path_of("ans-dst2");
	make_file(src, 4, 5, 0644, 0);
	struct timespec t[2] = {{-2, 500000000}, {-2, 500000000}}; /* -1.5 s */
	utimensat(AT_FDCWD, src, t, 0);
	struct ec_transfer_result res;
	struct ec_error err = {0};
	int rc = ec_context_get(ctx, src, dst, NULL, &res, &err);
	CU_ASSERT_EQUAL(rc, 0);
	if (rc)
		fprintf(stderr, "  get of a file of 1969: %s\n", err.msg);
	struct stat st;
	CU_ASSERT(stat(dst, &st) == 0 && st.st_mtim.tv_sec == -2 && st.st_mtim.tv_nsec == 500000000);
	static const char *const answers[][3] = {
		{"_stat", "lambda *a: (True, False, 4, 7, 0o644, True)", "answered something else"},
		{"_get", "lambda *a, e=econtext: (lambda r: (r[0], 12, r[2], r[3]))(e._get0(*a))",
		 "answered something else"},
		{"_get", "lambda *a, e=econtext: (lambda r: (r[0], r[1], r[2], float('nan')))(e._get0(*a))",
		 "answered something else"},
		/* content whose chain verifies, a digest said that is not its chain's */
		{"_get", "lambda *a, e=econtext: (lambda r: (r[0], '0' * 64, r[2], r[3]))(e._get0(*a))",
		 "with SHA-256"},
		/* the bytes as a value, not content (no chain checked them) */
		{"_get", "lambda c, p, n=False: (c.send(open(p, 'rb').read()), (4, __import__('hashlib')"
		         ".sha256(open(p, 'rb').read()).hexdigest(), 0o644, 0.0))[1]",
		 "sent something else"},
	};
	for (size_t i = 0; i < sizeof(answers) / sizeof(answers[0]); i++) {
		const char *fn = answers[i][0];
		char code[768];
		snprintf(code, sizeof(code),
		         "import econtext\nif not hasattr(econtext, '%s0'): econtext.%s0 = econtext.%s\n"
		         "econtext.%s = %s\n", fn, fn, fn, fn, answers[i][1]);
		if (ctx_exec(code))
			return;
		unlink(dst2);
		if (!strcmp(fn, "_stat"))
			rc = ec_context_put(ctx, src, dst2, NULL, &res, &err);
		else
			rc = ec_context_get(ctx, src, dst2, NULL, &res, &err);
		expect_error(rc, &err, EC_EPROTO, dst2, answers[i][2]);
		CU_ASSERT_EQUAL(access(dst2, F_OK), -1);
		CU_ASSERT_EQUAL(temps_left(dir), 0);
		snprintf(code, sizeof(code), "import econtext\necontext.%s = econtext.%s0\n", fn, fn);
		ctx_exec(code);
	}
}

/* get --owner, --group (as root: the master may set them), by name and number. */
static void test_get_owner(void)
{
	struct passwd *nobody = getpwnam("nobody");
	if (geteuid() != 0 || !nobody) {
		fprintf(stderr, "  SKIP: get's owner and group need root and a user nobody\n");
		return;
	}
	char *src = path_of("o-src"), *dst = path_of("o-dst");
	make_file(src, 5000, 11, 04755, 1400000000);
	struct ec_transfer_options o = {.size = sizeof(o), .owner = "nobody", .group = "12345"};
	struct ec_transfer_result res;
	struct ec_error err = {0};
	int rc = ec_context_get(ctx, src, dst, &o, &res, &err);
	if (rc)
		fprintf(stderr, "get owner: %s\n", err.msg);
	CU_ASSERT_EQUAL(rc, 0);
	struct stat st;
	CU_ASSERT(stat(dst, &st) == 0 && st.st_uid == nobody->pw_uid && st.st_gid == 12345 &&
	          (st.st_mode & 07777) == 04755);
	o.owner = "no-such-user-here";
	rc = ec_context_get(ctx, src, dst, &o, &res, &err);
	expect_error(rc, &err, EC_EINVAL, src, "no user named 'no-such-user-here'");
	CU_ASSERT_EQUAL(temps_left(dir), 0);
}

static CU_TestInfo tests[] = {
	{"0, 1 byte, one window, more: put, again unchanged, get", test_sizes},
	{"a mode, owner, group given; a change of one or of the content sent again",
	 test_mode_and_change},
	{"errors name the context and the path, leave nothing", test_errors},
	{"a cancelled transfer leaves the old file", test_cancel},
	{"a progress callback's waits on the transfer's own context refused", test_busy},
	{"to three contexts at once, the file read once", test_many},
	{"to 20 contexts at once: the master holds the chunks once, not once a context",
	 test_many_memory},
	{"to three contexts at once, one killed mid-way: the others complete", test_many_lost},
	{"a tree: odd names, links, modes; unchanged again", test_tree},
	{"get a tree: odd names, links, modes; a hostile listing refused", test_get_tree},
	{"get: owner and group", test_get_owner},
	{"an mtime before 1970; misshapen _stat and _get answers refused", test_answers},
	{"1 GiB each way: the master's and the context's peak RSS bounded", test_rss},
	CU_TEST_INFO_NULL,
};

int main(void)
{
	CU_initialize_registry();
	setenv("ECONTEXT_CONFIG", "/dev/null", 1);
	struct ec_test_python all[16];
	size_t n = ec_test_pythons(all, 16);
	for (size_t i = 0; i < n; i++)
		if (all[i].path[0])
			memcpy(last_python, all[i].version, sizeof(last_python));
	ec_test_python_suites("transfer", suite_init, suite_clean, tests);
	return ec_test_run();
}
