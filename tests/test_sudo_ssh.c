/* test_sudo_ssh.c: the sudo transport stacked on ssh (`transport: sudo, via: web`), against
 * the real sudo behind the private sshd of tests/sshd-fixture.sh, with the test users and
 * sudoers drop-in of tests/sudo_fixture.sh (user ecsudo_ssh logs in with the fixture's
 * key and may become ecsudo_pw with its password, ecsudo_nopw without one, root without
 * one for /usr/bin/python3 only):
 * - calls, logs, child stdout/stderr and remote exceptions through sudo over ssh, with
 *   the password prompt answered;
 * - NOPASSWD: no prompt, nothing answered;
 * - a wrong password: "sudo: incorrect password for ecsudo_ssh on HOST", fast;
 * - two sudo contexts for different users (root and ecsudo_pw) via the same ssh context
 *   share one SSH connection: one login in sshd's log, one sshd session process above
 *   both interpreters;
 * - the password in no log record, sshd log, /proc/{cmdline,environ} or remote
 *   environment.
 *
 * The master runs in this process, as root: sudo's password is ecsudo_ssh's, asked on
 * the far side of the SSH connection. The password is put in this process's environment
 * with setenv only after the fixtures started (so no child inherits it), and
 * /proc/self/environ shows the environment this process started with.
 * Not root, no sudo, no sshd, no useradd or no /usr/bin/python3: a visible skip (77). */
#include "ecbuild.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "econtext.h"
#include "testutil.h"

#define PY "/usr/bin/python3"
#define SSH_USER "ecsudo_ssh"
#define PW_TARGET "ecsudo_pw"
#define NOPW_TARGET "ecsudo_nopw"
#define PW_VAR "ECSUDO_SSH_TEST_PW"

static char password[64], wrong[64];
static char fxdir[256], config[600];
static struct ec_test_sshd fx;
static char shorthost[256];
static char skip_reason[1024];

/* ---- log capture ---------------------------------------------------------------- */

static int pw_in_logs, logs_seen; /* atomic: the broker thread logs too */

/* Keep the record (testutil's log capture), and count it. */
static void capture(void *arg, const struct ec_log_record *rec)
{
	ec_test_log_capture(arg, rec);
	__atomic_add_fetch(&logs_seen, 1, __ATOMIC_SEQ_CST);
	if (strstr(rec->message, password) || strstr(rec->message, wrong))
		__atomic_add_fetch(&pw_in_logs, 1, __ATOMIC_SEQ_CST);
}

/* ---- helpers ------------------------------------------------------------------------ */

static ec_master *new_master(void)
{
	struct ec_master_options mo = {.size = sizeof(mo), .log_fn = capture,
	                               .log_level = EC_LOG_DEBUG, .config_path = config};
	ec_master *m = NULL;
	struct ec_error err = {0};
	if (ec_master_new(&mo, &m, &err)) {
		fprintf(stderr, "master: %s\n", err.msg);
		return NULL;
	}
	return m;
}

static int connect_ctx(ec_master *m, const char *name, ec_context **ctx, char *msg, size_t cap,
                       double *secs)
{
	struct ec_error err = {0};
	double t0 = ec_test_now_s();
	int rc = ec_context_connect(m, name, NULL, 0, ctx, &err);
	if (secs)
		*secs = ec_test_now_s() - t0;
	snprintf(msg, cap, "%s", err.msg);
	fprintf(stderr, "  %s: rc %d after %.2f s%s%s\n", name, rc, ec_test_now_s() - t0,
	        *msg ? ": " : "",
	        msg);
	return rc;
}

static ec_value *call0(ec_context *ctx, const char *mod, const char *fn, ec_value *arg, int *rc)
{
	return ec_test_call(ctx, mod, fn, arg, 10000, rc);
}

static long call_int(ec_context *ctx, const char *mod, const char *fn)
{
	int rc;
	ec_value *v = call0(ctx, mod, fn, NULL, &rc);
	long r = rc == 0 && v && v->type == EC_T_INT ? (long)v->u.i : -99;
	ec_value_free(v);
	return r;
}

/* The nearest ancestor of pid whose comm is "sshd" (the per-connection session
 * process, "sshd: USER@notty"), or -1. */
static long sshd_ancestor(long pid)
{
	for (int depth = 0; pid > 1 && depth < 20; depth++) {
		char path[64], buf[512];
		snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
		FILE *f = fopen(path, "r");
		if (!f)
			return -1;
		size_t n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[n] = '\0';
		char *l = strchr(buf, '('), *r = strrchr(buf, ')');
		if (!l || !r)
			return -1;
		if (depth > 0 && r - l - 1 == 4 && memcmp(l + 1, "sshd", 4) == 0)
			return pid;
		char state;
		long ppid;
		if (sscanf(r + 2, "%c %ld", &state, &ppid) != 2)
			return -1;
		pid = ppid;
	}
	return -1;
}

/* ---- the cases ------------------------------------------------------------------------ */

static void test_password_calls(void)
{
	ec_master *m = new_master();
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	ec_test_log_clear();
	ec_context *ctx = NULL;
	char msg[600];
	int rc = connect_ctx(m, "aspw", &ctx, msg, sizeof(msg), NULL);
	CU_ASSERT_EQUAL(rc, 0);
	if (rc == 0) {
		CU_ASSERT_EQUAL(call_int(ctx, "os", "getuid"), ec_test_uid_of(PW_TARGET));
		CU_ASSERT_TRUE(ec_test_log_count("econtext.sudo", "aspw: answered sudo's prompt",
		                                 NULL) > 0);
		CU_ASSERT_TRUE(ec_test_log_count("econtext.sudo",
		                                 "aspw: sudo asks for " SSH_USER "'s password", NULL) > 0);
		ec_value *v = call0(ctx, "os", "system",
		                    ec_value_cstr("echo hi-from-sudo-ssh; echo oops-sudo-ssh >&2"), &rc);
		CU_ASSERT_EQUAL(rc, 0);
		ec_value_free(v);
		CU_ASSERT_TRUE(ec_test_log_wait("econtext.ctx.aspw.stdout", "hi-from-sudo-ssh", NULL));
		CU_ASSERT_TRUE(ec_test_log_wait("econtext.ctx.aspw.stderr", "oops-sudo-ssh", NULL));
		v = call0(ctx, "logging", "warning", ec_value_cstr("logged-through-sudo-ssh"), &rc);
		CU_ASSERT_EQUAL(rc, 0);
		ec_value_free(v);
		CU_ASSERT_TRUE(ec_test_log_wait("econtext.ctx.aspw", "logged-through-sudo-ssh", NULL));
		v = call0(ctx, "os", "listdir", ec_value_cstr("/root"), &rc);
		CU_ASSERT_EQUAL(rc, EC_EREMOTE);
		CU_ASSERT_TRUE(v && v->type == EC_T_ERROR && strstr(v->u.err.type, "PermissionError"));
		ec_value_free(v);
		/* a bigger argument both ways */
		size_t big = 300000;
		char *s = malloc(big + 1);
		for (size_t i = 0; i < big; i++)
			s[i] = (char)('a' + i % 26);
		s[big] = '\0';
		v = call0(ctx, "builtins", "len", ec_value_cstr(s), &rc);
		CU_ASSERT_TRUE(rc == 0 && v && v->type == EC_T_INT && v->u.i == (long long)big);
		ec_value_free(v);
		free(s);
		CU_ASSERT_EQUAL(ec_context_shutdown(ctx, 30000, NULL), 0);
	}
	ec_master_free(m);
	CU_ASSERT_EQUAL(pw_in_logs, 0);
}

/* Connect-back (docs/tls.md) of a sudo context via ssh: sudo's prompt answered through
 * the tls filter, then the frames on the TLS connection. */
static void test_connect_back(void)
{
	ec_master *m = new_master();
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	ec_test_log_clear();
	ec_context *ctx = NULL;
	char msg[600];
	int rc = connect_ctx(m, "aspwcb", &ctx, msg, sizeof(msg), NULL);
	CU_ASSERT_EQUAL(rc, 0);
	if (rc == 0) {
		CU_ASSERT_EQUAL(call_int(ctx, "os", "getuid"), ec_test_uid_of(PW_TARGET));
		CU_ASSERT_TRUE(ec_test_log_count("econtext.sudo", "answered sudo's prompt", NULL) > 0);
		/* In use over its transport at once; connected back once switched. */
		ec_value *v = call0(ctx, "econtext", "connect_back_state", ec_value_bool(1), &rc);
		CU_ASSERT(rc == 0 && v && v->type == EC_T_STR && !strcmp(v->u.s.data, "switched"));
		ec_value_free(v);
		CU_ASSERT_TRUE(ec_test_log_wait("econtext.tls", "context aspwcb connected back from",
		                                NULL));
		v = call0(ctx, "logging", "warning", ec_value_cstr("logged-over-tls"), &rc);
		CU_ASSERT_EQUAL(rc, 0);
		ec_value_free(v);
		CU_ASSERT_TRUE(ec_test_log_wait("econtext.ctx.aspwcb", "logged-over-tls", NULL));
		CU_ASSERT_EQUAL(ec_context_shutdown(ctx, 30000, NULL), 0);
	} else {
		fprintf(stderr, "  aspwcb: %s\n", msg);
	}
	ec_master_free(m);
	CU_ASSERT_EQUAL(pw_in_logs, 0);
}

static void test_nopasswd(void)
{
	ec_master *m = new_master();
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	ec_test_log_clear();
	ec_context *ctx = NULL;
	char msg[600];
	int rc = connect_ctx(m, "asnopw", &ctx, msg, sizeof(msg), NULL);
	CU_ASSERT_EQUAL(rc, 0);
	if (rc == 0) {
		CU_ASSERT_EQUAL(call_int(ctx, "os", "getuid"), ec_test_uid_of(NOPW_TARGET));
		CU_ASSERT_EQUAL(ec_test_log_count("econtext.sudo", "answered sudo's prompt", NULL), 0);
		CU_ASSERT_TRUE(ec_test_log_count("econtext.sudo", "asnopw: the interpreter runs as",
		                                 NULL) > 0);
		ec_context_shutdown(ctx, 3000, NULL);
	}
	ec_master_free(m);
}

static void test_wrong_password(void)
{
	setenv(PW_VAR, wrong, 1);
	ec_master *m = new_master();
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	ec_context *ctx = NULL;
	char msg[600], want[400];
	double secs = 0;
	int rc = connect_ctx(m, "aspw", &ctx, msg, sizeof(msg), &secs);
	CU_ASSERT_EQUAL(rc, EC_EAUTH);
	snprintf(want, sizeof(want), "sudo: incorrect password for " SSH_USER " on %s", shorthost);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, want));
	if (!strstr(msg, want))
		fprintf(stderr, "  wanted: %s\n", want);
	/* About 2 s of PAM delay; 15 s only a connect that hung until connect_timeout
	 * (20 s) takes. */
	CU_ASSERT_TRUE(secs < 15.0);
	CU_ASSERT_PTR_NULL(strstr(msg, wrong));
	if (rc == 0)
		ec_context_shutdown(ctx, 1000, NULL);
	ec_master_free(m);
	setenv(PW_VAR, password, 1);
	CU_ASSERT_EQUAL(pw_in_logs, 0);
}

static void test_two_users_one_connection(void)
{
	ec_master *m = new_master();
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	long off = ec_test_file_size(fx.log);
	ec_context *r = NULL, *p = NULL, *n = NULL;
	char msg[600];
	int rc1 = connect_ctx(m, "asroot", &r, msg, sizeof(msg), NULL);
	int rc2 = connect_ctx(m, "aspw", &p, msg, sizeof(msg), NULL);
	int rc3 = connect_ctx(m, "asnopw", &n, msg, sizeof(msg), NULL);
	CU_ASSERT(rc1 == 0 && rc2 == 0 && rc3 == 0);
	if (rc1 == 0 && rc2 == 0 && rc3 == 0) {
		CU_ASSERT_EQUAL(call_int(r, "os", "getuid"), 0);
		CU_ASSERT_EQUAL(call_int(p, "os", "getuid"), ec_test_uid_of(PW_TARGET));
		CU_ASSERT_EQUAL(call_int(n, "os", "getuid"), ec_test_uid_of(NOPW_TARGET));
		/* One login for all three, and one sshd session process above them. */
		CU_ASSERT_EQUAL(ec_test_file_count(fx.log, "Accepted publickey for " SSH_USER, off), 1);
		long a = sshd_ancestor(ec_context_pid(r)), b = sshd_ancestor(ec_context_pid(p)),
		     c = sshd_ancestor(ec_context_pid(n));
		fprintf(stderr, "  sshd session above root's %ld, %s's %ld, %s's %ld: %ld %ld %ld\n",
		        (long)ec_context_pid(r), PW_TARGET, (long)ec_context_pid(p), NOPW_TARGET,
		        (long)ec_context_pid(n), a, b, c);
		CU_ASSERT(a > 0 && a == b && b == c);
		/* calls interleaved on the shared connection */
		for (int i = 0; i < 20; i++) {
			CU_ASSERT_EQUAL(call_int(r, "os", "geteuid"), 0);
			CU_ASSERT_EQUAL(call_int(p, "os", "geteuid"), ec_test_uid_of(PW_TARGET));
		}
	}
	if (n)
		CU_ASSERT_EQUAL(ec_context_shutdown(n, 30000, NULL), 0);
	if (p)
		CU_ASSERT_EQUAL(ec_context_shutdown(p, 30000, NULL), 0);
	/* the connection outlives the contexts that shared it, for the last one */
	if (r) {
		CU_ASSERT_EQUAL(call_int(r, "os", "getuid"), 0);
		CU_ASSERT_EQUAL(ec_context_shutdown(r, 30000, NULL), 0);
	}
	ec_master_free(m);
}

static void test_password_nowhere(void)
{
	const char *secrets[] = {password, wrong, NULL};
	ec_master *m = new_master();
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	ec_test_log_clear();
	int seen0 = __atomic_load_n(&logs_seen, __ATOMIC_SEQ_CST);
	ec_context *ctx = NULL;
	char msg[600];
	int rc = connect_ctx(m, "aspwE", &ctx, msg, sizeof(msg), NULL);
	CU_ASSERT_EQUAL(rc, 0);
	if (rc == 0) {
		CU_ASSERT_TRUE(ec_test_log_count("econtext.sudo", "aspwE: answered sudo's prompt",
		                                 NULL) > 0);
		char where[2048] = "";
		int hits = ec_test_proc_scan(secrets, where, sizeof(where));
		CU_ASSERT_EQUAL(hits, 0);
		if (hits)
			fprintf(stderr, "password found in:%s\n", where);
		int rc1, rc2;
		ec_value *v = call0(ctx, "os", "environ.__repr__", NULL, &rc1);
		ec_value *g = call0(ctx, "os", "getenv", ec_value_cstr(PW_VAR), &rc2);
		CU_ASSERT_TRUE(rc1 == 0 && v->type == EC_T_STR && strstr(v->u.s.data, "PATH") &&
		               !strstr(v->u.s.data, password) && !strstr(v->u.s.data, PW_VAR));
		CU_ASSERT_TRUE(rc2 == 0 && g->type == EC_T_NONE);
		ec_value_free(v);
		ec_value_free(g);
		ec_context_shutdown(ctx, 3000, NULL);
	}
	ec_master_free(m);
	CU_ASSERT_TRUE(logs_seen - seen0 > 5); /* debug records were captured */
	CU_ASSERT_EQUAL(pw_in_logs, 0);
	CU_ASSERT_FALSE(ec_test_file_holds(fx.log, secrets)); /* sshd logs at DEBUG */
}

/* ---- fixtures ---------------------------------------------------------------------------- */

static int copy_file(const char *from, const char *to)
{
	char buf[4096];
	FILE *in = fopen(from, "r"), *out = fopen(to, "w");
	size_t n;
	int ok = in && out;
	while (ok && (n = fread(buf, 1, sizeof(buf), in)) > 0)
		ok = fwrite(buf, 1, n, out) == n;
	if (in)
		fclose(in);
	if (out && fclose(out))
		ok = 0;
	return ok ? 0 : -1;
}

/* ecsudo_ssh may log in with the fixture's key; sshd reads authorized_keys as that
 * user, so the fixture's directory must be searchable (not listable) by others. */
static int prepare(void)
{
	ec_test_sshd_env(fxdir, &fx);
	if (!*fx.port || !*fx.key || !*fx.known_hosts || !*fx.log)
		return -1;
	char pub[700], ak[700];
	snprintf(pub, sizeof(pub), "%s.pub", fx.key);
	snprintf(ak, sizeof(ak), "%s/authorized_keys/" SSH_USER, fxdir);
	if (copy_file(pub, ak) || chmod(ak, 0644) || chmod(fxdir, 0711))
		return -1;
	snprintf(config, sizeof(config), "%s/econtext.yaml", fxdir);
	FILE *f = fopen(config, "w");
	if (!f)
		return -1;
	fprintf(f,
	        "log_level: debug\n"
	        "contexts:\n"
	        "  web:\n"
	        "    transport: ssh\n    hostname: 127.0.0.1\n    port: %s\n"
	        "    username: " SSH_USER "\n    identity_file: %s\n    known_hosts: %s\n"
	        "    global_known_hosts: ''\n    agent: false\n    python: " PY "\n"
	        "    connect_timeout: 20\n"
	        "  asroot: {transport: sudo, via: web, python: " PY ", connect_timeout: 20}\n"
	        "  aspw: {transport: sudo, via: web, username: " PW_TARGET ",\n"
	        "         password_env: " PW_VAR ", python: " PY ", connect_timeout: 20}\n"
	        "  aspwcb: {transport: sudo, via: web, username: " PW_TARGET ",\n"
	        "           password_env: " PW_VAR ", python: " PY ", connect_timeout: 20,\n"
	        "           connect_back: true}\n"
	        "  aspwE: {transport: sudo, via: web, username: " PW_TARGET ", sudo_args: [-E],\n"
	        "          password_env: " PW_VAR ", python: " PY ", connect_timeout: 20}\n"
	        "  asnopw: {transport: sudo, via: web, username: " NOPW_TARGET ", python: " PY ",\n"
	        "           connect_timeout: 20}\n",
	        fx.port, fx.key, fx.known_hosts);
	return fclose(f) ? -1 : 0;
}

static int skip(const char *why)
{
	return ec_test_skip("sudo via ssh tests", why);
}

int main(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	if (geteuid() != 0)
		return skip("not root (they create test users and a sudoers drop-in; CI runs as root)");
	const char *missing = ec_test_sudo_missing();
	if (missing)
		return skip(missing);
	if (access(PY, X_OK))
		return skip(PY " is missing");
	if (access("/usr/sbin/sshd", X_OK))
		return skip("/usr/sbin/sshd is missing (Debian package openssh-server)");
	char plugin[1024];
	snprintf(plugin, sizeof(plugin), "%s/plugins/ssh/.libs/ssh.so", ec_test_builddir());
	if (access(plugin, R_OK))
		return skip("the ssh plugin was not built (libssh2 missing?)");
	/* One run at a time: the users and the sudoers file are shared with test_sudo. */
	if (ec_test_sudo_lock())
		return skip("cannot take /tmp/ec_test_sudo.lock");
	if (ec_test_passwords("EcSshPw", password, sizeof(password), "EcSshWrong", wrong,
	                      sizeof(wrong)))
		return 1;
	gethostname(shorthost, sizeof(shorthost) - 1);
	shorthost[strcspn(shorthost, ".")] = '\0';

	if (ec_test_sudo_fixture("setup", password)) {
		ec_test_sudo_fixture("teardown", password);
		fprintf(stderr, "sudo_fixture.sh setup failed\n");
		return 1;
	}
	snprintf(fxdir, sizeof(fxdir), "/tmp/ec_test_sudo_ssh.XXXXXX");
	int active = 1;
	if (!mkdtemp(fxdir)) {
		active = 0;
		snprintf(skip_reason, sizeof(skip_reason), "cannot make a directory in /tmp");
	} else {
		int st = ec_test_sshd_fixture("start", fxdir);
		if (st == 77) {
			active = 0;
			snprintf(skip_reason, sizeof(skip_reason), "the sshd fixture cannot run here");
		} else if (st) {
			ec_test_sshd_fixture("stop", fxdir);
			ec_test_sudo_fixture("teardown", password);
			fprintf(stderr, "the sshd fixture did not start\n");
			return 1;
		} else if (prepare()) {
			active = 0;
			snprintf(skip_reason, sizeof(skip_reason), "cannot prepare the fixture's files");
		}
	}
	/* Only now: no fixture process inherits it. */
	setenv(PW_VAR, password, 1);

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	char title[1200];
	snprintf(title, sizeof(title), "sudo via ssh (login %s, target %s)%s%s", SSH_USER, PY,
	         active ? "" : " SKIPPED: ", active ? "" : skip_reason);
	CU_pSuite s = CU_add_suite(title, NULL, NULL);
	CU_add_test(s, "password required: calls, logs, stdout/stderr, exceptions",
	            test_password_calls);
	CU_add_test(s, "NOPASSWD: no prompt", test_nopasswd);
	CU_add_test(s, "connect-back over TLS (prompt answered, then frames on TLS)",
	            test_connect_back);
	CU_add_test(s, "wrong password: names the user and host, fast", test_wrong_password);
	CU_add_test(s, "root and two users via one ssh context: one SSH connection",
	            test_two_users_one_connection);
	CU_add_test(s, "password in no log, sshd log, process or remote environment",
	            test_password_nowhere);
	ec_test_suite_skip_unless(s, active, "sudo via ssh tests", skip_reason);
	int rc = ec_test_run();
	unsetenv(PW_VAR);
	if (ec_test_sshd_fixture("stop", fxdir))
		rc = 1;
	rmdir(fxdir); /* when start never ran */
	if (ec_test_sudo_fixture("teardown", password))
		rc = 1;
	explicit_bzero(password, sizeof(password));
	explicit_bzero(wrong, sizeof(wrong));
	return rc;
}
