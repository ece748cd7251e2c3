/* test_sudo.c: the sudo transport against the real sudo, with test users and a sudoers
 * drop-in that tests/sudo_fixture.sh creates (and removes) when this runs as root:
 * password required, password_file, NOPASSWD, a wrong password (fast), not allowed,
 * requiretty, a lecture before the prompt, a prompt with no password configured, a
 * timeout quoting what sudo printed, calls/logs/stdout through sudo, a SIGKILLed master,
 * and the password absent from logs, the process table and the remote environment.
 *
 * root never needs a password for sudo, so every case runs the master in a child
 * process that became a test user (fork, initgroups, setgid, setuid) and reports back
 * through a pipe. The target interpreter is /usr/bin/python3: pyenv's live under /root.
 * Not root, no sudo, no useradd or no /usr/bin/python3: a visible skip (exit 77). */
#include "ecbuild.h"

#include <errno.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "econtext.h"
#include "testutil.h"

#define PY "/usr/bin/python3"
#define SRC "ecsudo_src"
#define PW_TARGET "ecsudo_pw"
#define NOPW_TARGET "ecsudo_nopw"
#define PW_VAR "ECSUDO_TEST_PW"

static char password[64];  /* random per run */
static char wrong[64];     /* a wrong one */
static char tmpdir[256];   /* config, password file, fake sudo: readable by the users */
static char config[512];
static char skip_reason[2048];

/* ---- what a child reports ---------------------------------------------------------- */

struct outcome {
	int phase; /* 1: at the checkpoint (connected), 2: done */
	int rc;    /* of the connect */
	double secs;
	char msg[600];
	long ctx_pid;
	long uid;          /* os.getuid() in the context */
	char home[256];    /* os.path.expanduser('~') in the context */
	int calls_ok;      /* the scenario's own checks, a bit per check */
	int logs_seen;     /* records captured */
	int pw_in_logs;    /* records that contain a password (right or wrong) */
	int pw_answered;   /* a debug record says the prompt was answered */
	int env_clean;     /* the password is in neither os.environ nor getenv */
};

static struct outcome *cur_out;
static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;

/* Keep the record (testutil's log capture), and count it in cur_out. */
static void capture(void *arg, const struct ec_log_record *rec)
{
	ec_test_log_capture(arg, rec);
	pthread_mutex_lock(&out_lock);
	if (cur_out) {
		cur_out->logs_seen++;
		if (strstr(rec->message, password) || strstr(rec->message, wrong))
			cur_out->pw_in_logs++;
		if (strstr(rec->message, "answered sudo's prompt"))
			cur_out->pw_answered = 1;
	}
	pthread_mutex_unlock(&out_lock);
}

/* ---- running as a test user ----------------------------------------------------- */

static int go_fd = -1, out_fd = -1;

static void report(const struct outcome *o)
{
	const char *p = (const char *)o;
	size_t left = sizeof(*o);
	while (left) {
		ssize_t n = write(out_fd, p, left);
		if (n <= 0)
			return;
		p += n;
		left -= (size_t)n;
	}
}

/* In the child: tell the parent we are connected, wait for its go. */
static void checkpoint(struct outcome *o)
{
	o->phase = 1;
	report(o);
	char c;
	while (read(go_fd, &c, 1) < 0 && errno == EINTR)
		;
}

static int become(const char *user)
{
	setenv("ECONTEXT_CONFIG", config, 1);
	return ec_test_become(user, tmpdir);
}

static ec_master *child_master(void)
{
	struct ec_master_options mo = {.size = sizeof(mo), .log_fn = capture,
	                               .log_level = EC_LOG_DEBUG, .config_path = config};
	ec_master *m = NULL;
	struct ec_error err = {0};
	if (ec_master_new(&mo, &m, &err)) {
		snprintf(cur_out->msg, sizeof(cur_out->msg), "master: %s", err.msg);
		return NULL;
	}
	return m;
}

static ec_value *call0(ec_context *ctx, const char *mod, const char *fn, ec_value *arg, int *rc)
{
	return ec_test_call(ctx, mod, fn, arg, 10000, rc);
}

typedef void (*scenario_fn)(ec_master *m, ec_context *ctx, struct outcome *o);

/* Connect the context `name`; on success fill uid and home, run more (may be NULL). */
static void connect_and(const char *name, scenario_fn more, struct outcome *o)
{
	ec_master *m = child_master();
	if (!m) {
		o->rc = -1;
		return;
	}
	ec_context *ctx = NULL;
	struct ec_error err = {0};
	double t0 = ec_test_now_s();
	o->rc = ec_context_connect(m, name, NULL, 0, &ctx, &err);
	o->secs = ec_test_now_s() - t0;
	snprintf(o->msg, sizeof(o->msg), "%s", err.msg);
	if (o->rc == 0) {
		int rc;
		o->ctx_pid = ec_context_pid(ctx);
		ec_value *v = call0(ctx, "os", "getuid", NULL, &rc);
		if (rc == 0 && v->type == EC_T_INT)
			o->uid = (long)v->u.i;
		ec_value_free(v);
		v = call0(ctx, "os.path", "expanduser", ec_value_cstr("~"), &rc);
		if (rc == 0 && v->type == EC_T_STR)
			snprintf(o->home, sizeof(o->home), "%s", v->u.s.data);
		ec_value_free(v);
		if (more)
			more(m, ctx, o);
		ec_context_shutdown(ctx, 3000, NULL);
	}
	ec_master_free(m);
}

/* Run (user, context) in a child. pw: the value of PW_VAR there, or NULL. at_checkpoint
 * runs in the parent when the child reaches checkpoint(); then the child goes on. */
static int run_as(const char *user, const char *pw, const char *name, scenario_fn more,
                  void (*at_checkpoint)(pid_t child, const struct outcome *o),
                  struct outcome *o)
{
	int op[2], gp[2];
	memset(o, 0, sizeof(*o));
	if (pipe(op) || pipe(gp))
		return -1;
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		close(op[0]);
		close(gp[1]);
		out_fd = op[1];
		go_fd = gp[0];
		static struct outcome mine;
		cur_out = &mine;
		if (become(user)) {
			snprintf(mine.msg, sizeof(mine.msg), "cannot become %s: %s", user, strerror(errno));
			mine.rc = -1;
		} else {
			if (pw)
				setenv(PW_VAR, pw, 1);
			else
				unsetenv(PW_VAR);
			connect_and(name, more, &mine);
		}
		pthread_mutex_lock(&out_lock);
		cur_out = NULL;
		pthread_mutex_unlock(&out_lock);
		mine.phase = 2;
		report(&mine);
		_exit(0);
	}
	close(op[1]);
	close(gp[0]);
	int got = 0;
	for (;;) {
		struct outcome tmp;
		size_t have = 0;
		while (have < sizeof(tmp)) {
			ssize_t n = read(op[0], (char *)&tmp + have, sizeof(tmp) - have);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			have += (size_t)n;
		}
		if (have < sizeof(tmp))
			break;
		*o = tmp;
		got = 1;
		if (tmp.phase == 1) {
			if (at_checkpoint)
				at_checkpoint(pid, &tmp);
			if (write(gp[1], "g", 1) < 0) {
				/* the child is gone (killed at the checkpoint) */
			}
			continue;
		}
		break;
	}
	close(op[0]);
	close(gp[1]);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	if (o->pw_in_logs)
		fprintf(stderr, "the password appeared in %d log records\n", o->pw_in_logs);
	if (o->msg[0])
		fprintf(stderr, "  %s as %s: rc %d after %.2f s: %s\n", name, user, o->rc, o->secs,
		        o->msg);
	else
		fprintf(stderr, "  %s as %s: ready after %.2f s, uid %ld\n", name, user, o->secs,
		        o->uid);
	return got ? 0 : -1;
}

static void no_secret_in(const struct outcome *o)
{
	CU_ASSERT_EQUAL(o->pw_in_logs, 0);
	CU_ASSERT_PTR_NULL(strstr(o->msg, password));
	CU_ASSERT_PTR_NULL(strstr(o->msg, wrong));
}

/* ---- the cases ---------------------------------------------------------------------- */

static void test_password(void)
{
	struct outcome o;
	CU_ASSERT_EQUAL_FATAL(run_as(SRC, password, "pw", NULL, NULL, &o), 0);
	CU_ASSERT_EQUAL(o.rc, 0);
	CU_ASSERT_EQUAL(o.uid, ec_test_uid_of(PW_TARGET));
	CU_ASSERT_TRUE(o.pw_answered);
	no_secret_in(&o);
}

/* Connect-back (docs/tls.md) through sudo: the prompt answered through the tls filter,
 * then the frames on TLS; 3 MiB both ways. */
static void cb_scenario(ec_master *m, ec_context *ctx, struct outcome *o)
{
	(void)m;
	/* In use through sudo at once; then switched to its connection (the lazy switch). */
	int src = -1;
	ec_value *s = ec_test_call(ctx, "econtext", "connect_back_state", ec_value_bool(1), 20000,
	                           &src);
	if (src == 0 && s && s->type == EC_T_STR && !strcmp(s->u.s.data, "switched") &&
	    ec_test_log_count("econtext.tls", "context pwcb connected back from 127.0.0.1:", NULL))
		o->calls_ok |= 1;
	ec_value_free(s);
	size_t n = 3u << 20;
	char *buf = malloc(n + 1);
	for (size_t i = 0; buf && i < n; i++)
		buf[i] = (char)('a' + i % 26);
	int rc = -1;
	ec_value *v = buf ? ec_test_call(ctx, "base64", "b64decode",
	                                 ec_value_bytes(buf, n), 30000, &rc) : NULL;
	if (rc == 0 && v && v->type == EC_T_BYTES && v->u.s.len == n / 4 * 3)
		o->calls_ok |= 2;
	ec_value_free(v);
	free(buf);
}

static void test_connect_back(void)
{
	struct outcome o;
	CU_ASSERT_EQUAL_FATAL(run_as(SRC, password, "pwcb", cb_scenario, NULL, &o), 0);
	CU_ASSERT_EQUAL(o.rc, 0);
	if (o.rc)
		fprintf(stderr, "  pwcb: %s\n", o.msg);
	CU_ASSERT_EQUAL(o.uid, ec_test_uid_of(PW_TARGET));
	CU_ASSERT_TRUE(o.pw_answered);
	CU_ASSERT_EQUAL(o.calls_ok, 3);
	no_secret_in(&o);
}

static void test_password_file(void)
{
	struct outcome o;
	CU_ASSERT_EQUAL_FATAL(run_as(SRC, NULL, "pwfile", NULL, NULL, &o), 0);
	CU_ASSERT_EQUAL(o.rc, 0);
	CU_ASSERT_EQUAL(o.uid, ec_test_uid_of(PW_TARGET));
	CU_ASSERT_STRING_EQUAL(o.home, "/home/" PW_TARGET); /* sudo_args: [-H] */
	no_secret_in(&o);
}

static void test_nopasswd(void)
{
	struct outcome o;
	CU_ASSERT_EQUAL_FATAL(run_as(SRC, NULL, "nopw", NULL, NULL, &o), 0);
	CU_ASSERT_EQUAL(o.rc, 0);
	CU_ASSERT_EQUAL(o.uid, ec_test_uid_of(NOPW_TARGET));
	CU_ASSERT_FALSE(o.pw_answered);
}

/* The bytecode cache: a sudo context reads what a local context of the same binary
 * left there, and never fills it itself. */
static char cache_home[300];

static int cache_entries(void)
{
	char cmd[400];
	snprintf(cmd, sizeof(cmd), "ls %s/econtext/core-*.z 2>/dev/null | wc -l", cache_home);
	FILE *p = popen(cmd, "r");
	int n = -1;
	if (p && fscanf(p, "%d", &n) != 1)
		n = -1;
	if (p)
		pclose(p);
	return n;
}

/* After "nopw" connected with an empty cache: bit 0 no entry made. */
static void more_cache_empty(ec_master *m, ec_context *ctx, struct outcome *o)
{
	(void)m;
	(void)ctx;
	int kept = ec_test_log_count(NULL, "context nopw: core bytecode kept", NULL) > 0;
	if (cache_entries() == 0 && !kept)
		o->calls_ok |= 1;
}

/* After "mine" (local) connected: bit 0 it filled the cache, bit 1 "nopw" booted from
 * it, bit 2 and runs as its user. */
static void more_cache_hit(ec_master *m, ec_context *ctx, struct outcome *o)
{
	(void)ctx;
	if (cache_entries() == 1)
		o->calls_ok |= 1;
	ec_context *s = NULL;
	struct ec_error err = {0};
	if (ec_context_connect(m, "nopw", NULL, 0, &s, &err)) {
		snprintf(o->msg, sizeof(o->msg), "nopw: %s", err.msg);
		return;
	}
	if (ec_test_log_wait("econtext", "context nopw: core from the bytecode cache", NULL))
		o->calls_ok |= 2;
	int rc;
	ec_value *v = call0(s, "os", "getuid", NULL, &rc);
	if (rc == 0 && v->type == EC_T_INT && (long)v->u.i == ec_test_uid_of(NOPW_TARGET))
		o->calls_ok |= 4;
	ec_value_free(v);
	ec_context_shutdown(s, 3000, NULL);
}

static void test_code_cache(void)
{
	struct passwd *pw = getpwnam(SRC);
	snprintf(cache_home, sizeof(cache_home), "%s/cache", tmpdir);
	CU_ASSERT_FATAL(pw && mkdir(cache_home, 0700) == 0 &&
	                chown(cache_home, pw->pw_uid, pw->pw_gid) == 0);
	setenv("XDG_CACHE_HOME", cache_home, 1);
	struct outcome o;
	CU_ASSERT_EQUAL_FATAL(run_as(SRC, NULL, "nopw", more_cache_empty, NULL, &o), 0);
	CU_ASSERT_EQUAL(o.rc, 0);
	CU_ASSERT_EQUAL(o.calls_ok, 1);
	CU_ASSERT_EQUAL_FATAL(run_as(SRC, NULL, "mine", more_cache_hit, NULL, &o), 0);
	CU_ASSERT_EQUAL(o.rc, 0);
	CU_ASSERT_EQUAL(o.calls_ok, 7);
	unsetenv("XDG_CACHE_HOME");
	char cmd[400];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", cache_home);
	CU_ASSERT_EQUAL(system(cmd), 0);
}

static void test_wrong_password(void)
{
	struct outcome o;
	CU_ASSERT_EQUAL_FATAL(run_as(SRC, wrong, "pw", NULL, NULL, &o), 0);
	CU_ASSERT_EQUAL(o.rc, EC_EAUTH);
	CU_ASSERT_PTR_NOT_NULL(strstr(o.msg, "sudo: incorrect password for " SRC " on "));
	/* About 2 s of PAM delay; 15 s only a connect that hung until connect_timeout
	 * (20 s) takes. */
	CU_ASSERT_TRUE(o.secs < 15.0);
	no_secret_in(&o);
}

static void test_not_allowed(void)
{
	struct outcome o;
	CU_ASSERT_EQUAL_FATAL(run_as(SRC, password, "root", NULL, NULL, &o), 0);
	CU_ASSERT_NOT_EQUAL(o.rc, 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(o.msg, "Sorry, user " SRC " is not allowed to execute '"
	                                     PY " -S -c ...' as root on "));
	no_secret_in(&o);
}

static void test_requiretty(void)
{
	struct outcome o;
	CU_ASSERT_EQUAL_FATAL(run_as("ecsudo_tty", NULL, "nopw", NULL, NULL, &o), 0);
	CU_ASSERT_EQUAL(o.rc, EC_EBOOT);
	CU_ASSERT_PTR_NOT_NULL(strstr(o.msg, "requiretty"));
	CU_ASSERT_PTR_NOT_NULL(strstr(o.msg, "`Defaults:ecsudo_tty !requiretty`"));
}

static void test_lecture(void)
{
	struct outcome o;
	CU_ASSERT_EQUAL_FATAL(run_as("ecsudo_lect", password, "pw", NULL, NULL, &o), 0);
	CU_ASSERT_EQUAL(o.rc, 0);
	CU_ASSERT_EQUAL(o.uid, ec_test_uid_of(PW_TARGET));
	CU_ASSERT_TRUE(o.pw_answered);
	no_secret_in(&o);
}

static void test_no_password_configured(void)
{
	struct outcome o;
	CU_ASSERT_EQUAL_FATAL(run_as(SRC, NULL, "nopwd", NULL, NULL, &o), 0);
	CU_ASSERT_EQUAL(o.rc, EC_EAUTH);
	CU_ASSERT_PTR_NOT_NULL(strstr(o.msg, "neither password_env nor password_file"));
	/* and password_env naming an unset variable */
	CU_ASSERT_EQUAL_FATAL(run_as(SRC, NULL, "pw", NULL, NULL, &o), 0);
	CU_ASSERT_EQUAL(o.rc, EC_EAUTH);
	CU_ASSERT_PTR_NOT_NULL(strstr(o.msg, "environment variable " PW_VAR));
}

static void test_timeout(void)
{
	/* A "sudo" that prints a line and a PAM-like prompt of its own, then hangs. */
	struct outcome o;
	CU_ASSERT_EQUAL_FATAL(run_as(SRC, NULL, "slow", NULL, NULL, &o), 0);
	CU_ASSERT_EQUAL(o.rc, EC_ETIMEDOUT);
	CU_ASSERT_PTR_NOT_NULL(strstr(o.msg, "did not start within 1.5 s"));
	CU_ASSERT_PTR_NOT_NULL(strstr(o.msg, "sudo printed: pam_fake: account expires soon / "
	                                     "Enter PIN:"));
	CU_ASSERT_TRUE(o.secs < 15.0); /* connect_timeout 1.5 s: 15 s, a timer nobody watched */
}

static void test_sudo_timeout(void)
{
	/* The sudo step's own `timeout` (1 s), well before connect_timeout (20 s). */
	struct outcome o;
	CU_ASSERT_EQUAL_FATAL(run_as(SRC, NULL, "slowt", NULL, NULL, &o), 0);
	CU_ASSERT_EQUAL(o.rc, EC_ETIMEDOUT);
	CU_ASSERT_PTR_NOT_NULL(strstr(o.msg, "sudo did not start the interpreter within 1 s "
	                                     "(timeout)"));
	CU_ASSERT_PTR_NOT_NULL(strstr(o.msg, "sudo printed: pam_fake: account expires soon / "
	                                     "Enter PIN:"));
	/* sudo's 1 s, never before; 15 s (< connect_timeout, 20 s) only a timer nobody watched */
	CU_ASSERT_TRUE(o.secs > 0.9 && o.secs < 15.0);
}

static void more_io(ec_master *m, ec_context *ctx, struct outcome *o)
{
	(void)m;
	int rc;
	ec_value *v = call0(ctx, "os", "system", ec_value_cstr("echo hi-from-sudo; echo oops-sudo >&2"),
	                    &rc);
	ec_value_free(v);
	if (rc == 0 && ec_test_log_wait("econtext.ctx.pw.stdout", "hi-from-sudo", NULL))
		o->calls_ok |= 1;
	if (ec_test_log_wait("econtext.ctx.pw.stderr", "oops-sudo", NULL))
		o->calls_ok |= 2;
	v = call0(ctx, "logging", "warning", ec_value_cstr("logged-through-sudo"), &rc);
	ec_value_free(v);
	if (rc == 0 && ec_test_log_wait("econtext.ctx.pw", "logged-through-sudo", NULL))
		o->calls_ok |= 4;
	/* a remote exception comes back as one */
	v = call0(ctx, "os", "listdir", ec_value_cstr("/root"), &rc);
	if (rc == EC_EREMOTE && v && v->type == EC_T_ERROR &&
	    strstr(v->u.err.type, "PermissionError"))
		o->calls_ok |= 8;
	ec_value_free(v);
}

static void test_calls_logs_stdout(void)
{
	struct outcome o;
	CU_ASSERT_EQUAL_FATAL(run_as(SRC, password, "pw", more_io, NULL, &o), 0);
	CU_ASSERT_EQUAL(o.rc, 0);
	CU_ASSERT_TRUE(o.calls_ok & 1);
	CU_ASSERT_TRUE(o.calls_ok & 2);
	CU_ASSERT_TRUE(o.calls_ok & 4);
	CU_ASSERT_TRUE(o.calls_ok & 8);
	no_secret_in(&o);
}

static long checkpoint_pid;

static void more_wait(ec_master *m, ec_context *ctx, struct outcome *o)
{
	(void)m;
	(void)ctx;
	checkpoint(o); /* the parent SIGKILLs us here */
}

static void kill_child(pid_t child, const struct outcome *o)
{
	checkpoint_pid = o->ctx_pid;
	kill(child, SIGKILL);
}

static void test_master_sigkill(void)
{
	struct outcome o;
	CU_ASSERT_EQUAL_FATAL(run_as(SRC, password, "pw", more_wait, kill_child, &o), 0);
	CU_ASSERT_EQUAL(o.phase, 1);
	CU_ASSERT_TRUE(checkpoint_pid > 0);
	/* The context (as ecsudo_pw) and sudo (real uid ecsudo_src) must follow. */
	int left = 1;
	for (int i = 0; i < 3000 && left; i++) { /* up to 30 s */
		left = ec_test_procs_of(ec_test_uid_of(PW_TARGET)) +
		       ec_test_procs_of(ec_test_uid_of(SRC));
		if (left) {
			struct timespec ts = {0, 10000000};
			nanosleep(&ts, NULL);
		}
	}
	CU_ASSERT_EQUAL(left, 0);
}

/* The same with the context connected back over TLS: it and sudo go within 5 s. */
static void test_master_sigkill_connect_back(void)
{
	struct outcome o;
	CU_ASSERT_EQUAL_FATAL(run_as(SRC, password, "pwcb", more_wait, kill_child, &o), 0);
	CU_ASSERT_EQUAL(o.phase, 1);
	CU_ASSERT_TRUE(checkpoint_pid > 0);
	long long t0 = ec_test_now_ms();
	int left = 1;
	while (left && ec_test_now_ms() - t0 < 30000) {
		left = ec_test_procs_of(ec_test_uid_of(PW_TARGET)) +
		       ec_test_procs_of(ec_test_uid_of(SRC));
		if (left) {
			struct timespec ts = {0, 5000000};
			nanosleep(&ts, NULL);
		}
	}
	long long el = ec_test_now_ms() - t0;
	fprintf(stderr, "  pwcb: master killed, context and sudo gone after %lld ms\n", el);
	CU_ASSERT_EQUAL(left, 0);
	CU_ASSERT(el <= 5000);
}

static int proc_hits = -1;
static char proc_where[1024];

static void scan_at_checkpoint(pid_t child, const struct outcome *o)
{
	(void)child;
	(void)o;
	/* every /proc/PID/cmdline and environ on the machine, for either password */
	const char *secrets[] = {password, wrong, NULL};
	proc_where[0] = '\0';
	proc_hits = ec_test_proc_scan(secrets, proc_where, sizeof(proc_where));
}

static void more_secrets(ec_master *m, ec_context *ctx, struct outcome *o)
{
	(void)m;
	checkpoint(o); /* the parent scans the process table now */
	int rc, rc2;
	ec_value *v = call0(ctx, "os", "environ.__repr__", NULL, &rc);
	ec_value *g = call0(ctx, "os", "getenv", ec_value_cstr(PW_VAR), &rc2);
	o->env_clean = rc == 0 && v->type == EC_T_STR && strstr(v->u.s.data, "PATH") &&
	               !strstr(v->u.s.data, password) && !strstr(v->u.s.data, PW_VAR) &&
	               rc2 == 0 && g->type == EC_T_NONE;
	ec_value_free(v);
	ec_value_free(g);
}

static void test_password_nowhere(void)
{
	/* sudo -E: sudo would pass the master's environment on, password_env's variable
	 * included, had the transport not left it out. */
	struct outcome o;
	CU_ASSERT_EQUAL_FATAL(run_as(SRC, password, "pwE", more_secrets, scan_at_checkpoint, &o), 0);
	CU_ASSERT_EQUAL(o.rc, 0);
	CU_ASSERT_TRUE(o.pw_answered);
	CU_ASSERT_TRUE(o.logs_seen > 5); /* debug records were captured */
	CU_ASSERT_EQUAL(proc_hits, 0);
	if (proc_hits)
		fprintf(stderr, "password found in:%s\n", proc_where);
	CU_ASSERT_TRUE(o.env_clean);
	no_secret_in(&o);
}

/* ---- fixture ------------------------------------------------------------------------ */

static int write_file(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	fputs(text, f);
	fclose(f);
	return chmod(path, mode);
}

static int make_files(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/ec_test_sudo.XXXXXX");
	if (!mkdtemp(tmpdir) || chmod(tmpdir, 0755))
		return -1;
	char path[1024], text[4096];
	snprintf(config, sizeof(config), "%s/econtext.yaml", tmpdir);
	snprintf(text, sizeof(text),
	         "log_level: debug\n"
	         "contexts:\n"
	         "  pw: {transport: sudo, username: " PW_TARGET ", password_env: " PW_VAR ",\n"
	         "       python: " PY ", connect_timeout: 20}\n"
	         "  pwcb: {transport: sudo, username: " PW_TARGET ", password_env: " PW_VAR ",\n"
	         "         python: " PY ", connect_timeout: 20, connect_back: true}\n"
	         "  pwE: {transport: sudo, username: " PW_TARGET ", password_env: " PW_VAR ",\n"
	         "        sudo_args: [-E], python: " PY ", connect_timeout: 20}\n"
	         "  pwfile: {transport: sudo, username: " PW_TARGET ", password_file: %s/pwfile,\n"
	         "           sudo_args: [-H], python: " PY ", connect_timeout: 20}\n"
	         "  nopw: {transport: sudo, username: " NOPW_TARGET ", python: " PY "}\n"
	         "  mine: {transport: local, python: " PY "}\n"
	         "  nopwd: {transport: sudo, username: " PW_TARGET ", python: " PY "}\n"
	         "  root: {transport: sudo, password_env: " PW_VAR ", python: " PY "}\n"
	         "  slow: {transport: sudo, sudo_path: %s/fakesudo, python: " PY ",\n"
	         "         connect_timeout: 1.5}\n"
	         "  slowt: {transport: sudo, sudo_path: %s/fakesudo, python: " PY ",\n"
	         "          connect_timeout: 20, timeout: 1}\n",
	         tmpdir, tmpdir, tmpdir);
	if (write_file(config, text, 0644))
		return -1;
	snprintf(path, sizeof(path), "%s/fakesudo", tmpdir);
	if (write_file(path,
	               "#!/bin/sh\n"
	               "echo 'pam_fake: account expires soon' >&2\n"
	               "printf 'Enter PIN: ' >&2\n"
	               "exec sleep 30\n",
	               0755))
		return -1;
	snprintf(path, sizeof(path), "%s/pwfile", tmpdir);
	snprintf(text, sizeof(text), "%s\n", password);
	struct passwd *pw = getpwnam(SRC);
	if (!pw || write_file(path, text, 0600) || chown(path, pw->pw_uid, pw->pw_gid))
		return -1;
	return 0;
}

static void remove_files(void)
{
	const char *names[] = {"econtext.yaml", "fakesudo", "pwfile"};
	char path[1024];
	for (size_t i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", tmpdir, names[i]);
		unlink(path);
	}
	rmdir(tmpdir);
}

/* Can the test user read the plugins of this build tree? */
static int tree_readable(void)
{
	if (ec_test_user_can_sudo_from(SRC, tmpdir, PY))
		return 1;
	snprintf(skip_reason, sizeof(skip_reason),
	         "the test user %s cannot read %s/plugins/sudo/.libs/sudo.so (or run %s): the "
	         "build tree must be readable by other users", SRC, ec_test_builddir(), PY);
	return 0;
}

int main(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	/* run_as writes "go" to a child its checkpoint may have SIGKILLed: EPIPE, not death
	 * (whether the child is gone yet is a race: it cost a run under ASan). */
	signal(SIGPIPE, SIG_IGN);
	if (geteuid() != 0)
		return ec_test_skip("sudo tests", "not root (they create test users and a sudoers "
		                    "drop-in; CI runs as root)");
	const char *missing = ec_test_sudo_missing();
	if (missing)
		return ec_test_skip("sudo tests", missing);
	if (access(PY, X_OK))
		return ec_test_skip("sudo tests", PY " is missing");
	/* One run at a time on this machine: the users and the sudoers file are shared. */
	if (ec_test_sudo_lock())
		return ec_test_skip("sudo tests", "cannot take /tmp/ec_test_sudo.lock");
	if (ec_test_passwords("EcPw", password, sizeof(password), "EcWrong", wrong, sizeof(wrong)))
		return 1;
	if (ec_test_sudo_fixture("setup", password)) {
		ec_test_sudo_fixture("teardown", password);
		fprintf(stderr, "sudo_fixture.sh setup failed\n");
		return 1;
	}
	int active = make_files() == 0;
	if (!active)
		snprintf(skip_reason, sizeof(skip_reason), "cannot write the test files in /tmp");
	else
		active = tree_readable();

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	char title[2300];
	snprintf(title, sizeof(title), "sudo (as %s, target %s)%s%s", SRC, PY,
	         active ? "" : " SKIPPED: ", active ? "" : skip_reason);
	CU_pSuite s = CU_add_suite(title, NULL, NULL);
	CU_add_test(s, "password required (password_env)", test_password);
	CU_add_test(s, "password_file, sudo_args -H", test_password_file);
	CU_add_test(s, "connect-back over TLS through sudo (prompt answered)", test_connect_back);
	CU_add_test(s, "NOPASSWD: no prompt", test_nopasswd);
	CU_add_test(s, "bytecode cache: read, never filled", test_code_cache);
	CU_add_test(s, "wrong password: prompt error, fast", test_wrong_password);
	CU_add_test(s, "not allowed: sudo's own message", test_not_allowed);
	CU_add_test(s, "requiretty: the hint", test_requiretty);
	CU_add_test(s, "lecture before the prompt", test_lecture);
	CU_add_test(s, "prompt, but no password configured", test_no_password_configured);
	CU_add_test(s, "timeout quotes what sudo printed", test_timeout);
	CU_add_test(s, "sudo's own timeout, apart from connect_timeout", test_sudo_timeout);
	CU_add_test(s, "calls, logs, child stdout/stderr through sudo", test_calls_logs_stdout);
	CU_add_test(s, "SIGKILLed master takes sudo and its context along", test_master_sigkill);
	CU_add_test(s, "SIGKILLed master: its connect-back context and sudo gone within 5 s",
	            test_master_sigkill_connect_back);
	CU_add_test(s, "password in no log, process or remote environment", test_password_nowhere);
	ec_test_suite_skip_unless(s, active, "sudo tests", skip_reason);
	int rc = ec_test_run();
	if (ec_test_sudo_fixture("teardown", password))
		rc = 1;
	if (tmpdir[0])
		remove_files();
	explicit_bzero(password, sizeof(password));
	return rc;
}
