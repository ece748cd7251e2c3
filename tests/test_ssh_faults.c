/* test_ssh_faults.c: faults provoked for real on ssh (and sudo) contexts, against the
 * private sshd of tests/sshd-fixture.sh: the connection's sshd processes SIGKILLed in a
 * call; the TCP connection blackholed (nftables dropping every packet in the server's
 * network namespace, tests/sshd-netns.sh) with keepalives on; the master SIGKILLed with
 * ssh and sudo contexts alive (every process of theirs gone, on the far side too); a far
 * side whose HOME and /tmp are read-only, or full, in a mount namespace of its sshd.
 * Root only for the namespaces and sudo (visible skips otherwise); exit 77 without
 * sshd. Verdicts wait for events (a process gone, a call's end); bounds are wide. */
#include "ecbuild.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "econtext.h"
#include "testutil.h"

static char fxdir[64];
static struct ec_test_sshd fx;
static char cfgpath[700];
static char python[512];
static long listener = -1; /* the fixture sshd's listening process */
static char skip_sudo[200], skip_ns[200];

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* ---- the process table ------------------------------------------------------------ */

#define MAXP 256

/* Every live descendant of root (zombies aside) into out; how many. */
static int descendants(long root, long *out, int cap)
{
	long pids[8192], ppids[8192];
	int n = 0, k = 0;
	DIR *d = opendir("/proc");
	struct dirent *e;
	while (d && (e = readdir(d)) && n < 8192) {
		long p = atol(e->d_name);
		if (p > 0 && !ec_test_process_gone(p)) {
			pids[n] = p;
			ppids[n++] = ec_test_ppid_of(p);
		}
	}
	if (d)
		closedir(d);
	/* Breadth first from root. */
	long q[MAXP];
	int qh = 0, qt = 0;
	q[qt++] = root;
	while (qh < qt) {
		long p = q[qh++];
		for (int i = 0; i < n; i++)
			if (ppids[i] == p && qt < MAXP) {
				q[qt++] = pids[i];
				if (k < cap)
					out[k++] = pids[i];
			}
	}
	return k;
}

static int in_set(long p, const long *set, int n)
{
	for (int i = 0; i < n; i++)
		if (set[i] == p)
			return 1;
	return 0;
}

/* Descendants of the fixture's sshd not in before[nb]: those of connections made since. */
static int new_sshd_procs(const long *before, int nb, long *out, int cap)
{
	long all[MAXP];
	int n = descendants(listener, all, MAXP), k = 0;
	for (int i = 0; i < n; i++)
		if (!in_set(all[i], before, nb) && k < cap)
			out[k++] = all[i];
	return k;
}

/* Wait until every pid has left the process table (zombies count as gone), up to
 * bound_ms; how many are left. *took: when the last went. */
static int wait_all_gone(const long *pids, int n, long long bound_ms, long long t0, long long *took)
{
	int left = n;
	for (;;) {
		left = 0;
		for (int i = 0; i < n; i++)
			left += !ec_test_process_gone(pids[i]);
		*took = ec_test_now_ms() - t0;
		if (!left || *took > bound_ms)
			return left;
		sleep_ms(5);
	}
}

static void say_pids(const char *what, const long *pids, int n)
{
	char line[2048];
	int o = snprintf(line, sizeof(line), "  %s:", what);
	for (int i = 0; i < n && o < (int)sizeof(line) - 64; i++) {
		char comm[64] = "?", path[64];
		snprintf(path, sizeof(path), "/proc/%ld/comm", pids[i]);
		FILE *f = fopen(path, "r");
		if (f) {
			if (fgets(comm, sizeof(comm), f))
				comm[strcspn(comm, "\n")] = '\0';
			fclose(f);
		}
		o += snprintf(line + o, sizeof(line) - (size_t)o, " %ld (%s)", pids[i], comm);
	}
	printf("%s\n", line);
}

/* Write the file at path (a config); 0, or 1. */
static int write_text(const char *path, const char *fmt, ...) EC_PRINTF(2, 3);
static int write_text(const char *path, const char *fmt, ...)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return 1;
	va_list ap;
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	return fclose(f) != 0;
}

/* ---- masters and contexts ------------------------------------------------------------ */

static ec_master *new_master(const char *config)
{
	struct ec_master_options mo = {.size = sizeof(mo), .config_path = config,
	                               .log_fn = ec_test_log_capture, .log_level = EC_LOG_INFO};
	ec_master *m = NULL;
	struct ec_error err = {0};
	if (ec_master_new(&mo, &m, &err))
		fprintf(stderr, "master: %s: %s\n", err.where, err.msg);
	return m;
}

static ec_context *connect_ctx(ec_master *m, const char *name, const char *const *ov)
{
	ec_context *ctx = NULL;
	struct ec_error err = {0};
	if (ec_context_connect(m, name, ov, 30000, &ctx, &err)) {
		fprintf(stderr, "connect %s: %s: %s\n", name, err.where, err.msg);
		return NULL;
	}
	return ctx;
}

static long remote_pid(ec_context *ctx)
{
	int rc;
	ec_value *v = ec_test_call(ctx, "os", "getpid", NULL, 30000, &rc);
	long pid = rc == 0 && v && v->type == EC_T_INT ? (long)v->u.i : -1;
	ec_value_free(v);
	return pid;
}

/* time.sleep(600) in ctx, started. */
static ec_call *long_call(ec_context *ctx)
{
	ec_value *args = ec_value_new(EC_T_TUPLE);
	ec_value_append(args, ec_value_int(600));
	ec_call *call = NULL;
	struct ec_error err = {0};
	if (ec_context_call_async(ctx, "time", "sleep", args, NULL, &call, &err))
		fprintf(stderr, "call: %s\n", err.msg);
	ec_value_free(args);
	return call;
}

/* ---- sshd killed mid-call ------------------------------------------------------------ */

static void test_sshd_killed(void)
{
	long before[MAXP];
	int nb = descendants(listener, before, MAXP);
	ec_master *m = new_master(cfgpath);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	ec_context *ctx = connect_ctx(m, "web", NULL), *other = connect_ctx(m, "local", NULL);
	CU_ASSERT_PTR_NOT_NULL(ctx);
	CU_ASSERT_PTR_NOT_NULL(other);
	if (!ctx || !other) {
		ec_master_free(m);
		return;
	}
	long rpid = remote_pid(ctx);
	CU_ASSERT(rpid > 0);
	ec_call *call = long_call(ctx);
	CU_ASSERT_PTR_NOT_NULL_FATAL(call);
	ec_value *res = NULL;
	struct ec_error err = {0};
	/* Let the call reach the context (it fails the same way if it has not). */
	CU_ASSERT_EQUAL(ec_call_wait(call, 200, &res, &err), EC_ETIMEDOUT);
	/* The connection's sshd processes (monitor and session), the interpreter aside. */
	long procs[MAXP], sshds[MAXP];
	int np = new_sshd_procs(before, nb, procs, MAXP), ns = 0;
	for (int i = 0; i < np; i++)
		if (procs[i] != rpid)
			sshds[ns++] = procs[i];
	say_pids("\n  the connection's processes under the fixture's sshd", procs, np);
	CU_ASSERT(ns >= 1);
	long long t0 = ec_test_now_ms();
	for (int i = 0; i < ns; i++)
		kill((pid_t)sshds[i], SIGKILL);
	int rc = ec_call_wait(call, 60000, &res, &err);
	long long took = ec_test_now_ms() - t0;
	printf("  sshd SIGKILLed: the pending call failed after %lld ms (%s: %s)\n", took,
	       ec_err_name(rc), err.msg);
	CU_ASSERT_EQUAL(rc, EC_ECLOSED);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "context 'web'"));
	CU_ASSERT(took < 10000); /* at once: the deadline is 60 s */
	ec_call_free(call);
	/* The next call fails at once too; the other context answers. */
	t0 = ec_test_now_ms();
	CU_ASSERT_EQUAL(ec_context_call(ctx, "os", "getpid", NULL, NULL, 60000, &res, &err), EC_ECLOSED);
	CU_ASSERT(ec_test_now_ms() - t0 < 10000);
	CU_ASSERT_EQUAL(remote_pid(other), ec_context_pid(other));
	/* The far side's interpreter follows its sshd (its stdin ends). */
	long long gone_ms;
	CU_ASSERT_EQUAL(wait_all_gone(&rpid, 1, 30000, t0, &gone_ms), 0);
	printf("  the far side's interpreter gone %lld ms after the kill\n", gone_ms);
	/* A new context connects afresh (the failed connection is not reused). */
	ec_context *again = connect_ctx(m, "web", NULL);
	CU_ASSERT_PTR_NOT_NULL(again);
	if (again) {
		CU_ASSERT(remote_pid(again) > 0);
		CU_ASSERT_EQUAL(ec_context_shutdown(again, 30000, NULL), 0);
	}
	ec_context_shutdown(ctx, 30000, NULL);
	ec_context_shutdown(other, 30000, NULL);
	ec_master_free(m);
}

/* ---- the TCP connection blackholed (in the netns child) ---------------------------- */

static int nx_fail;
#define NX_CHECK(cond)                                                                  \
	do {                                                                                \
		if (!(cond)) {                                                                  \
			printf("  blackhole: FAILED at line %d: %s\n", __LINE__, #cond);           \
			nx_fail = 1;                                                                \
		}                                                                               \
	} while (0)

/* The bastion's namespace: every packet in or out dropped (add) or let through. */
static int blackhole(const char *ns, int on)
{
	char cmd[600];
	if (on)
		snprintf(cmd, sizeof(cmd),
		         "ip netns exec '%s' nft -f - <<'EOF'\n"
		         "table inet ecblackhole {\n"
		         "  chain in { type filter hook input priority 0; policy drop; }\n"
		         "  chain out { type filter hook output priority 0; policy drop; }\n"
		         "}\nEOF\n",
		         ns);
	else
		snprintf(cmd, sizeof(cmd), "ip netns exec '%s' nft delete table inet ecblackhole", ns);
	return system(cmd);
}

#define KA_INTERVAL 2
#define KA_MAX 2

static int blackhole_child(const char *dir)
{
	char env[600], line[1024], key[600] = "", kh[600] = "", cns[100] = "", bns[100];
	snprintf(env, sizeof(env), "%s/env.sh", dir);
	FILE *f = fopen(env, "r");
	while (f && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		char *v = strchr(line, '=');
		if (!v)
			continue;
		*v++ = '\0';
		size_t l = strlen(v);
		if (l >= 2 && v[0] == '\'') {
			v[l - 1] = '\0';
			v++;
		}
		if (!strcmp(line, "NX_KEY"))
			snprintf(key, sizeof(key), "%s", v);
		else if (!strcmp(line, "NX_KNOWN_HOSTS"))
			snprintf(kh, sizeof(kh), "%s", v);
		else if (!strcmp(line, "NX_CLIENT_NS"))
			snprintf(cns, sizeof(cns), "%s", v);
	}
	if (f)
		fclose(f);
	size_t cl = strlen(cns);
	if (!key[0] || cl < 3 || strcmp(cns + cl - 2, "-c"))
		return 2;
	snprintf(bns, sizeof(bns), "%.*s-b", (int)(cl - 2), cns);
	char cfg[700];
	snprintf(cfg, sizeof(cfg), "%s/blackhole.yaml", dir);
	if (write_text(cfg,
	               "contexts:\n  bastion:\n    transport: ssh\n    hostname: 10.77.1.2\n"
	               "    username: root\n    identity_file: %s\n    known_hosts: %s\n"
	               "    agent: false\n    ssh_config: \"\"\n    python: %s\n"
	               "    keepalive_interval: %d\n    keepalive_count_max: %d\n",
	               key, kh, python, KA_INTERVAL, KA_MAX))
		return 2;
	ec_master *m = new_master(cfg);
	if (!m)
		return 2;
	ec_context *ctx = connect_ctx(m, "bastion", NULL);
	NX_CHECK(ctx != NULL);
	if (!ctx) {
		ec_master_free(m);
		return 1;
	}
	/* A second context on the same connection: it answers while the first is in a
	 * call, and fails with it. */
	ec_context *idle = connect_ctx(m, "bastion", NULL);
	NX_CHECK(idle != NULL);
	NX_CHECK(remote_pid(ctx) > 0);
	ec_call *call = long_call(ctx);
	NX_CHECK(call != NULL);
	ec_value *res = NULL;
	struct ec_error err = {0};
	NX_CHECK(ec_call_wait(call, 200, &res, &err) == EC_ETIMEDOUT);
	/* Keepalives answered for a while: the connection stays up. */
	NX_CHECK(ec_call_wait(call, (KA_MAX + 1) * KA_INTERVAL * 1000, &res, &err) == EC_ETIMEDOUT);
	NX_CHECK(idle && remote_pid(idle) > 0);
	long long t0 = ec_test_now_ms(); /* before the cut: the lower bound below holds */
	if (blackhole(bns, 1)) {
		printf("  blackhole: nft failed in %s\n", bns);
		ec_call_free(call);
		ec_context_shutdown(ctx, 1000, NULL);
		ec_master_free(m);
		return 77;
	}
	int rc = ec_call_wait(call, 600000, &res, &err);
	long long took = ec_test_now_ms() - t0;
	printf("  blackholed (every packet dropped in the server's namespace, keepalive_interval "
	       "%d s, keepalive_count_max %d): the pending call failed after %lld ms (%s: %s)\n",
	       KA_INTERVAL, KA_MAX, took, ec_err_name(rc), err.msg);
	NX_CHECK(rc == EC_ECLOSED);
	NX_CHECK(strstr(err.msg, "keepalives unanswered") != NULL);
	NX_CHECK(strstr(err.msg, "context 'bastion'") != NULL);
	/* Not before KA_MAX - 1 whole intervals of silence (the first tick after the cut may
	 * still see the answer to the one before); within KA_MAX + 1 intervals of the last
	 * answer, on a machine that is not stalled: 60 s only a defect crosses (without
	 * keepalives, TCP retransmits for about 15 minutes). */
	NX_CHECK(took >= (KA_MAX - 1) * KA_INTERVAL * 1000);
	NX_CHECK(took < 60000);
	ec_call_free(call);
	long long t1 = ec_test_now_ms();
	int irc = idle ? ec_context_call(idle, "os", "getpid", NULL, NULL, 60000, &res, &err) : -1;
	printf("  blackholed: the other context on the connection: %s after %lld ms\n",
	       ec_err_name(irc), ec_test_now_ms() - t1);
	NX_CHECK(irc == EC_ECLOSED);
	NX_CHECK(ec_test_now_ms() - t1 < 10000);
	/* The network back: a new context connects afresh. */
	NX_CHECK(blackhole(bns, 0) == 0);
	ec_context *again = connect_ctx(m, "bastion", NULL);
	NX_CHECK(again != NULL);
	if (again) {
		NX_CHECK(remote_pid(again) > 0);
		NX_CHECK(ec_context_shutdown(again, 30000, NULL) == 0);
	}
	ec_context_shutdown(ctx, 1000, NULL);
	if (idle)
		ec_context_shutdown(idle, 1000, NULL);
	ec_master_free(m);
	return nx_fail;
}

static char nxdir[64];
static int nx_started;

static void test_blackhole(void)
{
	if (!nx_started) {
		printf("\n  SKIP: %s\n", skip_ns);
		return;
	}
	char env[600], line[1024], ns[100] = "";
	snprintf(env, sizeof(env), "%s/env.sh", nxdir);
	FILE *f = fopen(env, "r");
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "NX_CLIENT_NS='", 14))
			snprintf(ns, sizeof(ns), "%.*s", (int)strcspn(line + 14, "'"), line + 14);
	if (f)
		fclose(f);
	CU_ASSERT_FATAL(ns[0] != '\0');
	char self[600], cmd[1500];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	CU_ASSERT_FATAL(n > 0);
	self[n] = '\0';
	snprintf(cmd, sizeof(cmd), "ip netns exec '%s' '%s' --blackhole-child '%s'", ns, self, nxdir);
	printf("\n");
	fflush(NULL);
	int st = system(cmd);
	int code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	if (code == 77)
		printf("  SKIP: nft cannot filter in a network namespace here\n");
	else
		CU_ASSERT_EQUAL(code, 0);
}

/* ---- the master SIGKILLed with ssh and sudo contexts alive -------------------------- */

static int report_fd = -1;

static int sigkill_child(void *arg, int fd)
{
	(void)arg;
	report_fd = fd;
	ec_master *m = new_master(cfgpath);
	if (!m)
		return 2;
	const char *names[] = {"web", "web", "sudo", "sudo"};
	int n = skip_sudo[0] ? 2 : 4;
	char line[64];
	for (int i = 0; i < n; i++) {
		ec_context *c = connect_ctx(m, names[i], NULL);
		long p = c ? remote_pid(c) : -1;
		if (p <= 0)
			return 2;
		if (i % 2 == 0 && !long_call(c)) /* one of each in a call */
			return 2;
		int l = snprintf(line, sizeof(line), "%ld\n", p);
		if (write(report_fd, line, (size_t)l) != l)
			return 2;
	}
	/* sudo and whatever else the master started. */
	long kids[MAXP];
	int nk = descendants(getpid(), kids, MAXP);
	for (int i = 0; i < nk; i++) {
		if (in_set(kids[i], kids, i))
			continue;
		int l = snprintf(line, sizeof(line), "%ld\n", kids[i]);
		if (write(report_fd, line, (size_t)l) != l)
			return 2;
	}
	close(report_fd);
	pause(); /* until SIGKILL */
	return 0;
}

static void test_master_sigkill(void)
{
	long before[MAXP];
	int nb = descendants(listener, before, MAXP);
	int rfd;
	pid_t m = ec_test_fork_pipe(sigkill_child, NULL, &rfd);
	CU_ASSERT_FATAL(m > 0);
	FILE *f = fdopen(rfd, "r");
	long pids[MAXP];
	int n = 0;
	long x;
	while (f && n < MAXP / 2 && fscanf(f, "%ld", &x) == 1)
		if (!in_set(x, pids, n))
			pids[n++] = x;
	if (f)
		fclose(f);
	int nctx = skip_sudo[0] ? 2 : 4;
	CU_ASSERT_FATAL(n > nctx - 1);
	/* The far side: the connection's sshd processes (the interpreters are among them). */
	long far[MAXP];
	int nf = new_sshd_procs(before, nb, far, MAXP);
	for (int i = 0; i < nf && n < MAXP; i++)
		if (!in_set(far[i], pids, n))
			pids[n++] = far[i];
	printf("\n");
	say_pids("the contexts' interpreters (2 ssh, 2 sudo: one of each in a call), then the "
	         "master's children and the connection's sshd processes", pids, n);
	if (skip_sudo[0])
		printf("  SKIP the sudo contexts: %s\n", skip_sudo);
	long long t0 = ec_test_now_ms();
	kill(m, SIGKILL);
	waitpid(m, NULL, 0);
	long long took;
	int left = wait_all_gone(pids, n, 30000, t0, &took);
	printf("  SIGKILLed master: %d of %d processes gone from the process table within %lld ms\n",
	       n - left, n, took);
	CU_ASSERT_EQUAL(left, 0);
	/* The issue asks for 5 s; 30 s is the bound only a defect crosses on a loaded
	 * machine, and the figure is printed. */
	for (int i = 0; i < n; i++)
		if (!ec_test_process_gone(pids[i]))
			kill((pid_t)pids[i], SIGKILL);
}

/* ---- the far side's filesystem read-only or full -------------------------------------- */

/* In a child: a mount namespace where HOME (/root) and /tmp are read-only bind mounts
 * (full: a full 256 KiB tmpfs each), then exec sshd -D with conf. */
static void ns_sshd_exec(const char *conf, const char *log, int full)
{
	if (unshare(CLONE_NEWNS) || mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL))
		_exit(77);
	const char *dirs[] = {"/tmp", getenv("HOME") ? getenv("HOME") : "/root"};
	for (int i = 0; i < 2; i++) {
		if (full) {
			if (mount("tmpfs", dirs[i], "tmpfs", 0, "size=256k"))
				_exit(77);
			char path[600];
			snprintf(path, sizeof(path), "%s/fill", dirs[i]);
			int fd = open(path, O_WRONLY | O_CREAT, 0600);
			static char block[4096];
			while (fd >= 0 && write(fd, block, sizeof(block)) > 0)
				;
			if (fd < 0 || errno != ENOSPC)
				_exit(77);
			close(fd);
		} else if (mount(dirs[i], dirs[i], NULL, MS_BIND | MS_REC, NULL) ||
		           mount("none", dirs[i], NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL))
			_exit(77);
	}
	execl("/usr/sbin/sshd", "/usr/sbin/sshd", "-D", "-f", conf, "-E", log, (char *)NULL);
	_exit(127);
}

/* An sshd like the fixture's on its own port, in such a namespace; its pid, the port in
 * *port, or -1. Its config and log live in /var/tmp (/tmp is not writable there). */
static pid_t ns_sshd_start(int full, char *wdir, int *port)
{
	char src[700], conf[700], log[700], line[1024];
	snprintf(wdir, 64, "/var/tmp/ecsshf-ns.XXXXXX");
	if (!mkdtemp(wdir))
		return -1;
	snprintf(src, sizeof(src), "%s/sshd_config", fxdir);
	snprintf(conf, sizeof(conf), "%s/sshd_config", wdir);
	snprintf(log, sizeof(log), "%s/ns_sshd.log", wdir);
	*port = ec_test_unused_port();
	/* The fixture's keys and authorized keys too: a full /tmp hides the fixture's. */
	char cp[300];
	snprintf(cp, sizeof(cp), "cp -a '%s'/. '%s'/", fxdir, wdir);
	if (system(cp) != 0)
		return -1;
	FILE *in = fopen(src, "r"), *out = fopen(conf, "w");
	size_t fl = strlen(fxdir);
	while (in && out && fgets(line, sizeof(line), in)) {
		if (!strncmp(line, "Port ", 5))
			fprintf(out, "Port %d\n", *port);
		else if (!strncmp(line, "PidFile ", 8))
			fprintf(out, "PidFile none\n");
		else
			for (char *p = line; *p;) { /* fxdir becomes wdir */
				if (!strncmp(p, fxdir, fl)) {
					fputs(wdir, out);
					p += fl;
				} else
					fputc(*p++, out);
			}
	}
	if (in)
		fclose(in);
	if (out)
		fclose(out);
	if (!in || !out)
		return -1;
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0)
		ns_sshd_exec(conf, log, full);
	/* Listening once its log says so (or it died: 77 from the child). */
	for (int i = 0; i < 3000; i++) {
		if (ec_test_file_count(log, "Server listening", 0) > 0)
			return pid;
		int st;
		if (waitpid(pid, &st, WNOHANG) == pid)
			return -1;
		sleep_ms(10);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return -1;
}

static void far_fs(int full)
{
	const char *what = full ? "full" : "read-only";
	if (skip_ns[0]) {
		printf("\n  SKIP far side %s: %s\n", what, skip_ns);
		return;
	}
	char wdir[64];
	int port;
	pid_t sshd = ns_sshd_start(full, wdir, &port);
	if (sshd < 0) {
		printf("\n  SKIP far side %s: no sshd in a mount namespace here\n", what);
		return;
	}
	char ov_port[32];
	snprintf(ov_port, sizeof(ov_port), "port=%d", port);
	/* The known_hosts line of the fixture names its port: this one is "off". */
	const char *ov[] = {ov_port, "host_key_checking=off", NULL};
	ec_master *m = new_master(cfgpath);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	ec_context *ctx = connect_ctx(m, "web", ov);
	CU_ASSERT_PTR_NOT_NULL(ctx);
	if (ctx) {
		CU_ASSERT(remote_pid(ctx) > 0);
		int rc, ok = 1;
		/* A module the master serves runs as usual. */
		ec_value *v = ec_test_call(ctx, "json", "dumps", ec_value_int(42), 30000, &rc);
		CU_ASSERT(rc == 0 && v && v->type == EC_T_STR && !strcmp(v->u.s.data, "42"));
		ec_value_free(v);
		/* What the context sees of /tmp and HOME: read-only, or no block free. */
		const char *dirs[] = {"/tmp", "~"};
		for (int i = 0; i < 2; i++) {
			ec_value *pv = ec_test_call(ctx, "os.path", "expanduser", ec_value_cstr(dirs[i]),
			                            30000, &rc);
			char path[300] = "";
			if (rc == 0 && pv && pv->type == EC_T_STR)
				snprintf(path, sizeof(path), "%s", pv->u.s.data);
			ec_value_free(pv);
			v = ec_test_call(ctx, "os", "statvfs", ec_value_cstr(path), 30000, &rc);
			long long flag = -1, avail = -1;
			for (size_t j = 0; v && v->type == EC_T_NAMED && j + 1 < v->u.seq.len; j += 2) {
				const char *k = v->u.seq.items[j]->u.s.data;
				const ec_value *x = v->u.seq.items[j + 1];
				if (x->type == EC_T_INT && !strcmp(k, "f_flag"))
					flag = (long long)x->u.i;
				if (x->type == EC_T_INT && !strcmp(k, "f_bavail"))
					avail = (long long)x->u.i;
			}
			ec_value_free(v);
			int seen = full ? avail == 0 : flag >= 0 && (flag & 1);
			printf("%s  far side %s: os.statvfs(%s) in the context: f_flag %lld, f_bavail %lld\n",
			       i ? "" : "\n", what, path, flag, avail);
			ok &= seen;
		}
		CU_ASSERT_TRUE(ok);
		printf("  far side %s: the context booted in %.0f ms and answered\n", what,
		       ec_context_boot_seconds(ctx) * 1000);
		CU_ASSERT_EQUAL(ec_context_shutdown(ctx, 30000, NULL), 0);
	}
	ec_master_free(m);
	kill(sshd, SIGTERM);
	waitpid(sshd, NULL, 0);
	char rm[100];
	snprintf(rm, sizeof(rm), "rm -rf '%s'", wdir);
	if (system(rm) != 0)
		fprintf(stderr, "could not remove %s\n", wdir);
}

static void test_far_readonly(void)
{
	far_fs(0);
}

static void test_far_full(void)
{
	far_fs(1);
}

/* ---- setup ---------------------------------------------------------------------------- */

static int write_config(void)
{
	snprintf(cfgpath, sizeof(cfgpath), "%s/econtext.yaml", fxdir);
	return write_text(cfgpath,
	                  "contexts:\n"
	                  "  web:\n    transport: ssh\n    hostname: 127.0.0.1\n    port: %s\n"
	                  "    identity_file: %s\n    known_hosts: %s\n    agent: false\n"
	                  "    ssh_config: \"\"\n    python: %s\n"
	                  "  sudo:\n    transport: sudo\n    username: nobody\n    python: %s\n"
	                  "  local:\n    transport: local\n    python: %s\n",
	                  fx.port, fx.key, fx.known_hosts, python, python, python);
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	setvbuf(stderr, NULL, _IONBF, 0);
	signal(SIGPIPE, SIG_IGN);
	unsetenv("SSH_AUTH_SOCK");
	snprintf(python, sizeof(python), "/usr/bin/python3");
	if (argc == 3 && !strcmp(argv[1], "--blackhole-child"))
		return blackhole_child(argv[2]);
	if (access(python, X_OK))
		return ec_test_skip("ssh faults", "/usr/bin/python3 is missing (the far side's and "
		                    "sudo's interpreter)");
	snprintf(fxdir, sizeof(fxdir), "/tmp/ecsshf-test.XXXXXX");
	if (!mkdtemp(fxdir)) {
		perror("mkdtemp");
		return 1;
	}
	int st = ec_test_sshd_fixture("start", fxdir);
	if (st == 77) {
		rmdir(fxdir);
		return ec_test_skip("ssh faults", "no sshd on this machine (install openssh-server)");
	}
	if (st != 0) {
		fprintf(stderr, "the sshd fixture did not start\n");
		ec_test_sshd_fixture("stop", fxdir);
		return 1;
	}
	ec_test_sshd_env(fxdir, &fx);
	char pidfile[700];
	snprintf(pidfile, sizeof(pidfile), "%s/sshd.pid", fxdir);
	FILE *pf = fopen(pidfile, "r");
	if (!pf || fscanf(pf, "%ld", &listener) != 1 || write_config()) {
		fprintf(stderr, "cannot read %s or write the config\n", pidfile);
		ec_test_sshd_fixture("stop", fxdir);
		return 1;
	}
	fclose(pf);
	setenv("ECONTEXT_CONFIG", cfgpath, 1);
	char cache[] = "/tmp/ec_test_sshf_cache_XXXXXX";
	if (mkdtemp(cache))
		setenv("XDG_CACHE_HOME", cache, 1);
	if (geteuid() != 0) {
		snprintf(skip_sudo, sizeof(skip_sudo), "not root (sudo to nobody without a password)");
		snprintf(skip_ns, sizeof(skip_ns), "not root (network and mount namespaces)");
	} else if (system("command -v sudo >/dev/null") != 0)
		snprintf(skip_sudo, sizeof(skip_sudo), "sudo is not installed");
	if (!skip_ns[0] && system("command -v nft >/dev/null") != 0)
		snprintf(skip_ns, sizeof(skip_ns), "nft (Debian package nftables) is not installed");
	if (!skip_ns[0]) {
		snprintf(nxdir, sizeof(nxdir), "/tmp/ecsshf-nx.XXXXXX");
		int nst = mkdtemp(nxdir) ? ec_test_script("sshd-netns.sh", "start", nxdir, NULL, NULL) : 77;
		nx_started = nst == 0;
		if (!nx_started)
			snprintf(skip_ns, sizeof(skip_ns), "%s",
			         nst == 77 ? "ip netns is not permitted here" : "sshd-netns.sh failed");
		if (nst == 77)
			rmdir(nxdir);
	}
	CU_initialize_registry();
	CU_pSuite s = CU_add_suite("ssh faults", NULL, NULL);
	CU_add_test(s, "sshd SIGKILLed mid-call: the call fails at once, naming the context",
	            test_sshd_killed);
	CU_add_test(s, "TCP connection blackholed: keepalives notice in time", test_blackhole);
	CU_add_test(s, "SIGKILLed master: its ssh and sudo contexts gone, far side too",
	            test_master_sigkill);
	CU_add_test(s, "far side's HOME and /tmp read-only: contexts boot and run",
	            test_far_readonly);
	CU_add_test(s, "far side's HOME and /tmp full: contexts boot and run", test_far_full);
	int rc = ec_test_run();
	if (nx_started && ec_test_script("sshd-netns.sh", "stop", nxdir, NULL, NULL))
		fprintf(stderr, "warning: removing the network namespaces failed\n");
	if (ec_test_sshd_fixture("stop", fxdir))
		fprintf(stderr, "warning: stopping the sshd fixture failed\n");
	char rm[100];
	snprintf(rm, sizeof(rm), "rm -rf '%s'", cache);
	if (system(rm) != 0)
		fprintf(stderr, "could not remove %s\n", cache);
	return rc;
}
