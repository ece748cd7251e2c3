/* test_ssh.c: the ssh transport end to end against a private sshd on 127.0.0.1
 * (tests/sshd-fixture.sh): calls on every Python interpreter found, two contexts
 * sharing one connection, strict host key checking (unknown host, changed key),
 * accept-new appending exactly one line, key authentication, a wrong key, password
 * authentication (root only: it needs a user with a password), a closed port and a
 * server that never answers. Exit 77 (skip) when sshd is not installed. */
#include "ecbuild.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "econtext.h"
#include "testutil.h"

static char fxdir[64];
static char fixture[1024];
static struct {
	char port[16], user[64], key[512], key_other[512], known_hosts[512], pw_user[64],
		pw_password[64];
} fx;
static char cfgpath[600];
static const char *pw_python; /* what the password user can run */
static struct ec_test_python pythons[16];
static size_t npythons;
static ec_master *master;

static long long ms_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* KEY='value' lines of the fixture's env.sh. */
static void read_env(void)
{
	char path[600], line[1024];
	snprintf(path, sizeof(path), "%s/env.sh", fxdir);
	FILE *f = fopen(path, "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *eq = strchr(line, '=');
		if (!eq)
			continue;
		*eq = '\0';
		char *v = eq + 1;
		v[strcspn(v, "\n")] = '\0';
		if (*v == '\'') {
			v++;
			char *q = strchr(v, '\'');
			if (q)
				*q = '\0';
		}
		struct {
			const char *k;
			char *dst;
			size_t n;
		} map[] = {{"FX_PORT", fx.port, sizeof(fx.port)},
		           {"FX_USER", fx.user, sizeof(fx.user)},
		           {"FX_KEY", fx.key, sizeof(fx.key)},
		           {"FX_KEY_OTHER", fx.key_other, sizeof(fx.key_other)},
		           {"FX_KNOWN_HOSTS", fx.known_hosts, sizeof(fx.known_hosts)},
		           {"FX_PW_USER", fx.pw_user, sizeof(fx.pw_user)},
		           {"FX_PW_PASSWORD", fx.pw_password, sizeof(fx.pw_password)}};
		for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
			if (!strcmp(line, map[i].k))
				snprintf(map[i].dst, map[i].n, "%s", v);
	}
	fclose(f);
}

static int run_fixture(const char *what)
{
	char cmd[2048];
	snprintf(cmd, sizeof(cmd), "sh '%s' %s '%s'", fixture, what, fxdir);
	int st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}

/* A port on 127.0.0.1 where nothing listens (bound, then closed). */
static int closed_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t l = sizeof(a);
	bind(fd, (struct sockaddr *)&a, sizeof(a));
	getsockname(fd, (struct sockaddr *)&a, &l);
	close(fd);
	return ntohs(a.sin_port);
}

/* A listener that never accepts: the kernel completes the TCP connect, and no SSH
 * banner ever comes. */
static int silent_fd = -1;
static int silent_port(void)
{
	silent_fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t l = sizeof(a);
	bind(silent_fd, (struct sockaddr *)&a, sizeof(a));
	listen(silent_fd, 8);
	getsockname(silent_fd, (struct sockaddr *)&a, &l);
	return ntohs(a.sin_port);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

static int write_config(void)
{
	char kh_changed[600], kh_empty[600], other_pub[600], line[1024] = "";
	snprintf(kh_empty, sizeof(kh_empty), "%s/kh_empty", fxdir);
	write_file(kh_empty, "# nothing known\n");
	/* The changed key: another ed25519 key recorded for the host. */
	snprintf(other_pub, sizeof(other_pub), "%s.pub", fx.key_other);
	FILE *f = fopen(other_pub, "r");
	if (!f || !fgets(line, sizeof(line), f))
		return 1;
	fclose(f);
	char *sp = strchr(line, ' ');
	sp = sp ? strchr(sp + 1, ' ') : NULL;
	if (sp)
		*sp = '\0';
	snprintf(kh_changed, sizeof(kh_changed), "%s/kh_changed", fxdir);
	static char text[32768];
	snprintf(text, 8192, "[127.0.0.1]:%s %s\n", fx.port, line);
	write_file(kh_changed, text);

	snprintf(cfgpath, sizeof(cfgpath), "%s/econtext.yaml", fxdir);
	const char *py = pythons[0].path[0] ? pythons[0].path : "python3";
	for (size_t i = 0; i < npythons; i++)
		if (!strcmp(pythons[i].path, "/usr/bin/python3"))
			py = pythons[i].path;
	char common[1024];
	snprintf(common, sizeof(common),
	         "    transport: ssh\n    hostname: 127.0.0.1\n    port: %s\n    agent: false\n"
	         "    python: %s\n",
	         fx.port, py);
	snprintf(text, sizeof(text),
	         "contexts:\n"
	         "  web1:\n%s    identity_file: %s\n    known_hosts: %s\n"
	         "  web2:\n%s    identity_file: [%s]\n    known_hosts: %s\n"
	         "  unknown:\n%s    identity_file: %s\n    known_hosts: %s\n"
	         "  changed:\n%s    identity_file: %s\n    known_hosts: %s\n"
	         "  acceptnew:\n%s    identity_file: %s\n    known_hosts: %s/kh_new\n"
	         "    host_key_checking: accept-new\n"
	         "  wrongkey:\n%s    identity_file: %s\n    known_hosts: %s\n"
	         "  pw:\n%s    username: %s\n    password_env: EC_TEST_SSH_PASSWORD\n"
	         "    identity_file: []\n    known_hosts: %s\n"
	         "  dead:\n    transport: ssh\n    hostname: 127.0.0.1\n    port: %d\n"
	         "    agent: false\n    known_hosts: %s\n"
	         "  silent:\n    transport: ssh\n    hostname: 127.0.0.1\n    port: %d\n"
	         "    agent: false\n    known_hosts: %s\n    connect_timeout: 1\n",
	         common, fx.key, fx.known_hosts, common, fx.key, fx.known_hosts, common, fx.key,
	         kh_empty, common, fx.key, kh_changed, common, fx.key, fxdir, common, fx.key_other,
	         fx.known_hosts, common, fx.pw_user[0] ? fx.pw_user : "nobody", fx.known_hosts,
	         closed_port(), fx.known_hosts, silent_port(), fx.known_hosts);
	write_file(cfgpath, text);
	return 0;
}

static int suite_init(void)
{
	struct ec_master_options mo = {.size = sizeof(mo), .config_path = cfgpath,
	                               .log_level = EC_LOG_WARNING};
	struct ec_error err = {0};
	if (ec_master_new(&mo, &master, &err)) {
		fprintf(stderr, "master: %s: %s\n", err.where, err.msg);
		return 1;
	}
	return 0;
}

static int suite_clean(void)
{
	ec_master_free(master);
	master = NULL;
	return 0;
}

/* Connect, or fail the test with the message. */
static ec_context *connect_or_fail(const char *name, const char *const *ov)
{
	ec_context *ctx = NULL;
	struct ec_error err = {0};
	int rc = ec_context_connect(master, name, ov, 30000, &ctx, &err);
	if (rc)
		fprintf(stderr, "connect %s: %s: %s\n", name, err.where, err.msg);
	CU_ASSERT_EQUAL(rc, 0);
	return rc ? NULL : ctx;
}

/* A connection that must fail: its code, message in err. */
static int connect_fails(const char *name, const char *const *ov, struct ec_error *err)
{
	ec_context *ctx = NULL;
	int rc = ec_context_connect(master, name, ov, 30000, &ctx, err);
	if (!rc) {
		ec_context_shutdown(ctx, 3000, NULL);
		return 0;
	}
	fprintf(stderr, "  %s refused as expected: %s\n", name, err->msg);
	return rc;
}

/* Text comes back as str or bytes, as the interpreter has it. */
static int is_text(const ec_value *v)
{
	return v && (v->type == EC_T_STR || v->type == EC_T_BYTES);
}

static ec_value *call0(ec_context *ctx, const char *mod, const char *fn, const char *sarg, int *rc)
{
	struct ec_error err = {0};
	ec_value *args = ec_value_new(EC_T_TUPLE), *res = NULL;
	if (sarg)
		ec_value_append(args, ec_value_cstr(sarg));
	*rc = ec_context_call(ctx, mod, fn, args, NULL, 20000, &res, &err);
	if (*rc)
		fprintf(stderr, "call %s.%s: %s\n", mod, fn, err.msg);
	ec_value_free(args);
	return res;
}

/* ---- tests ------------------------------------------------------------------- */

static void test_key_auth_call(void)
{
	ec_context *ctx = connect_or_fail("web1", NULL);
	if (!ctx)
		return;
	int rc;
	ec_value *v = call0(ctx, "platform", "python_version", NULL, &rc);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT(v && (v->type == EC_T_STR || v->type == EC_T_BYTES));
	ec_value_free(v);
	/* It runs as the user we logged in as. */
	v = call0(ctx, "getpass", "getuser", NULL, &rc);
	CU_ASSERT(rc == 0 && is_text(v) && !strcmp(v->u.s.data, fx.user));
	ec_value_free(v);
	/* A larger payload both ways (several channel packets and window adjustments). */
	size_t big = 3 * 1024 * 1024;
	char *s = malloc(big + 1);
	for (size_t i = 0; i < big; i++)
		s[i] = (char)('a' + i % 26);
	s[big] = '\0';
	v = call0(ctx, "copy", "copy", s, &rc);
	CU_ASSERT(rc == 0 && is_text(v) && v->u.s.len == big &&
	          !memcmp(v->u.s.data, s, big));
	ec_value_free(v);
	free(s);
	CU_ASSERT_EQUAL(ec_context_shutdown(ctx, 3000, NULL), 0);
}

static void test_every_python(void)
{
	for (size_t i = 0; i < npythons; i++) {
		if (!pythons[i].path[0]) {
			fprintf(stderr, "  python %s: absent, skipped\n", pythons[i].version);
			continue;
		}
		char opt[600];
		snprintf(opt, sizeof(opt), "python=%s", pythons[i].path);
		const char *ov[] = {opt, NULL};
		ec_context *ctx = connect_or_fail("web1", ov);
		if (!ctx)
			continue;
		int rc;
		ec_value *v = call0(ctx, "platform", "python_version", NULL, &rc);
		CU_ASSERT_EQUAL(rc, 0);
		CU_ASSERT(is_text(v) && !strcmp(v->u.s.data, pythons[i].full));
		fprintf(stderr, "  python %s over ssh: %s, boot %.0f ms\n", pythons[i].path,
		        is_text(v) ? v->u.s.data : "?", ec_context_boot_seconds(ctx) * 1e3);
		ec_value_free(v);
		ec_context_shutdown(ctx, 3000, NULL);
	}
}

static void test_two_contexts_share_connection(void)
{
	ec_context *a = connect_or_fail("web1", NULL);
	ec_context *b = connect_or_fail("web2", NULL);
	if (!a || !b) {
		ec_context_shutdown(a, 3000, NULL);
		ec_context_shutdown(b, 3000, NULL);
		return;
	}
	int rc1, rc2;
	/* SSH_CONNECTION names the client's port: the same for both if they share it. */
	ec_value *va = call0(a, "os", "getenv", "SSH_CONNECTION", &rc1);
	ec_value *vb = call0(b, "os", "getenv", "SSH_CONNECTION", &rc2);
	CU_ASSERT(rc1 == 0 && rc2 == 0);
	CU_ASSERT(is_text(va) && is_text(vb) && !strcmp(va->u.s.data, vb->u.s.data));
	if (is_text(va) && is_text(vb))
		fprintf(stderr, "  SSH_CONNECTION: %s | %s\n", va->u.s.data, vb->u.s.data);
	ec_value_free(va);
	ec_value_free(vb);
	/* Different processes. */
	CU_ASSERT_NOT_EQUAL(ec_context_pid(a), ec_context_pid(b));
	/* Concurrent calls on both. */
	ec_call *ca[8], *cb[8];
	ec_value *args = ec_value_new(EC_T_TUPLE);
	ec_value_append(args, ec_value_float(0.05));
	for (int i = 0; i < 8; i++) {
		CU_ASSERT_EQUAL(ec_context_call_async(a, "time", "sleep", args, NULL, &ca[i], NULL), 0);
		CU_ASSERT_EQUAL(ec_context_call_async(b, "time", "sleep", args, NULL, &cb[i], NULL), 0);
	}
	for (int i = 0; i < 8; i++) {
		ec_value *r = NULL;
		CU_ASSERT_EQUAL(ec_call_wait(ca[i], 20000, &r, NULL), 0);
		ec_value_free(r);
		r = NULL;
		CU_ASSERT_EQUAL(ec_call_wait(cb[i], 20000, &r, NULL), 0);
		ec_value_free(r);
		ec_call_free(ca[i]);
		ec_call_free(cb[i]);
	}
	ec_value_free(args);
	/* One goes; the other carries on over the same connection. */
	CU_ASSERT_EQUAL(ec_context_shutdown(b, 3000, NULL), 0);
	va = call0(a, "os", "getpid", NULL, &rc1);
	CU_ASSERT(rc1 == 0 && va && va->type == EC_T_INT && va->u.i == ec_context_pid(a));
	ec_value_free(va);
	/* A new one joins it. */
	b = connect_or_fail("web2", NULL);
	if (b) {
		vb = call0(b, "os", "getpid", NULL, &rc2);
		CU_ASSERT_EQUAL(rc2, 0);
		ec_value_free(vb);
		/* It dies in the middle of a call: that call fails with a disconnect error,
		 * and the other context carries on. */
		struct ec_error err = {0};
		ec_value *args1 = ec_value_new(EC_T_TUPLE), *r = NULL;
		ec_value_append(args1, ec_value_int(3));
		rc2 = ec_context_call(b, "os", "_exit", args1, NULL, 20000, &r, &err);
		CU_ASSERT_EQUAL(rc2, EC_ECLOSED);
		CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "disconnected"));
		fprintf(stderr, "  os._exit in web2: %s\n", err.msg);
		ec_value_free(args1);
		ec_value_free(r);
		ec_context_shutdown(b, 3000, NULL);
		va = call0(a, "os", "getpid", NULL, &rc1);
		CU_ASSERT(rc1 == 0 && va && va->type == EC_T_INT && va->u.i == ec_context_pid(a));
		ec_value_free(va);
	}
	ec_context_shutdown(a, 3000, NULL);
}

static void test_unknown_host_refused(void)
{
	struct ec_error err = {0};
	int rc = connect_fails("unknown", NULL, &err);
	CU_ASSERT_EQUAL(rc, EC_EAUTH);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "No ED25519 host key is known for [127.0.0.1]:"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "strict"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "SHA256:"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "Host key verification failed"));
}

static void test_changed_key_refused(void)
{
	struct ec_error err = {0};
	int rc = connect_fails("changed", NULL, &err);
	CU_ASSERT_EQUAL(rc, EC_EAUTH);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "REMOTE HOST IDENTIFICATION HAS CHANGED"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "ED25519"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "SHA256:"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "kh_changed:1"));
	/* off: connects anyway (with a warning). */
	const char *ov[] = {"host_key_checking=off", NULL};
	ec_context *ctx = connect_or_fail("changed", ov);
	if (ctx)
		ec_context_shutdown(ctx, 3000, NULL);
}

static int count_lines(const char *path, char *last, size_t lastlen)
{
	FILE *f = fopen(path, "r");
	char line[4096];
	int n = 0;
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		n++;
		if (last)
			snprintf(last, lastlen, "%s", line);
	}
	fclose(f);
	return n;
}

static void test_accept_new(void)
{
	char kh[600], last[4096] = "", expect[64];
	snprintf(kh, sizeof(kh), "%s/kh_new", fxdir);
	/* What is there already stays as it is, even what libssh2 cannot parse. */
	const char *before = "# a comment\nnot a known_hosts line\n|1|bad|hash ssh-ed25519 AAAA";
	write_file(kh, before);
	ec_context *ctx = connect_or_fail("acceptnew", NULL);
	if (ctx)
		ec_context_shutdown(ctx, 3000, NULL);
	CU_ASSERT_EQUAL(count_lines(kh, last, sizeof(last)), 4);
	snprintf(expect, sizeof(expect), "[127.0.0.1]:%s ssh-ed25519 AAAA", fx.port);
	CU_ASSERT_EQUAL(strncmp(last, expect, strlen(expect)), 0);
	FILE *f = fopen(kh, "r");
	char buf[8192] = "";
	size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
	buf[n] = '\0';
	if (f)
		fclose(f);
	CU_ASSERT_EQUAL(strncmp(buf, before, strlen(before)), 0);
	/* A second connection finds it and adds nothing. */
	ctx = connect_or_fail("acceptnew", NULL);
	if (ctx)
		ec_context_shutdown(ctx, 3000, NULL);
	CU_ASSERT_EQUAL(count_lines(kh, NULL, 0), 4);
	/* And strict checking accepts it now. */
	char opt[700];
	snprintf(opt, sizeof(opt), "host_key_checking=strict");
	const char *ov[] = {opt, NULL};
	ctx = connect_or_fail("acceptnew", ov);
	if (ctx)
		ec_context_shutdown(ctx, 3000, NULL);
	/* From nothing: the file is created with exactly one line. */
	unlink(kh);
	ctx = connect_or_fail("acceptnew", NULL);
	if (ctx)
		ec_context_shutdown(ctx, 3000, NULL);
	CU_ASSERT_EQUAL(count_lines(kh, NULL, 0), 1);
}

static void test_wrong_key_refused(void)
{
	struct ec_error err = {0};
	int rc = connect_fails("wrongkey", NULL, &err);
	CU_ASSERT_EQUAL(rc, EC_EAUTH);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "authentication failed for"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, fx.key_other));
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "refused"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "the server accepts: publickey"));
	/* A key file that does not exist is named as such. */
	const char *ov[] = {"identity_file=/nonexistent/id_ed25519", NULL};
	memset(&err, 0, sizeof(err));
	rc = connect_fails("wrongkey", ov, &err);
	CU_ASSERT_EQUAL(rc, EC_EAUTH);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "/nonexistent/id_ed25519 (No such file"));
}

static void test_password(void)
{
	setenv("EC_TEST_SSH_PASSWORD", fx.pw_password, 1);
	char opt[600];
	snprintf(opt, sizeof(opt), "python=%s", pw_python);
	const char *ov[] = {opt, NULL};
	ec_context *ctx = connect_or_fail("pw", ov);
	if (ctx) {
		int rc;
		ec_value *v = call0(ctx, "getpass", "getuser", NULL, &rc);
		CU_ASSERT(rc == 0 && is_text(v) && !strcmp(v->u.s.data, fx.pw_user));
		ec_value_free(v);
		ec_context_shutdown(ctx, 3000, NULL);
	}
	/* A wrong one is refused, and the message says which methods were tried. */
	setenv("EC_TEST_SSH_PASSWORD", "not-the-password", 1);
	struct ec_error err = {0};
	int rc = connect_fails("pw", ov, &err);
	CU_ASSERT_EQUAL(rc, EC_EAUTH);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "password (refused)"));
	/* An unset variable is named. */
	unsetenv("EC_TEST_SSH_PASSWORD");
	memset(&err, 0, sizeof(err));
	rc = connect_fails("pw", ov, &err);
	CU_ASSERT_EQUAL(rc, EC_EAUTH);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "EC_TEST_SSH_PASSWORD"));
}

static void test_closed_port(void)
{
	struct ec_error err = {0};
	long long t0 = ms_now();
	int rc = connect_fails("dead", NULL, &err);
	long long dt = ms_now() - t0;
	CU_ASSERT(rc != 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "Connection refused"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "127.0.0.1 port"));
	CU_ASSERT(dt < 2000);
}

static void test_silent_server_times_out(void)
{
	struct ec_error err = {0};
	long long t0 = ms_now();
	int rc = connect_fails("silent", NULL, &err);
	long long dt = ms_now() - t0;
	CU_ASSERT_EQUAL(rc, EC_ETIMEDOUT);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "timed out during the SSH handshake"));
	CU_ASSERT(dt >= 800 && dt < 3000);
	fprintf(stderr, "  timed out after %lld ms\n", dt);
}

static void test_host_name_lookup(void)
{
	/* A name, not an address: looked up on a thread, the broker carries on. */
	const char *ov[] = {"hostname=localhost", "host_key_checking=off", NULL};
	ec_context *ctx = connect_or_fail("web1", ov);
	if (ctx) {
		int rc;
		ec_value *v = call0(ctx, "os", "getpid", NULL, &rc);
		CU_ASSERT_EQUAL(rc, 0);
		ec_value_free(v);
		ec_context_shutdown(ctx, 3000, NULL);
	}
}

static void test_python_missing(void)
{
	struct ec_error err = {0};
	const char *ov[] = {"python=python9.99", NULL};
	int rc = connect_fails("web1", ov, &err);
	CU_ASSERT_EQUAL(rc, EC_EBOOT);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "python9.99"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "not found"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "exit status 127 on 127.0.0.1"));
}

int main(void)
{
	setvbuf(stderr, NULL, _IONBF, 0);
	unsetenv("SSH_AUTH_SOCK");
	snprintf(fixture, sizeof(fixture), "%s/tests/sshd-fixture.sh", ec_test_srcdir());
	snprintf(fxdir, sizeof(fxdir), "/tmp/ecssh-test.XXXXXX");
	if (!mkdtemp(fxdir)) {
		perror("mkdtemp");
		return 1;
	}
	int st = run_fixture("start");
	if (st == 77) {
		fprintf(stderr, "SKIP: no sshd on this machine (install openssh-server)\n");
		rmdir(fxdir);
		return 77;
	}
	if (st != 0) {
		fprintf(stderr, "the sshd fixture did not start\n");
		run_fixture("stop");
		return 1;
	}
	read_env();
	npythons = ec_test_pythons(pythons, 16);
	if (access("/usr/bin/python3", X_OK) == 0)
		pw_python = "/usr/bin/python3";
	if (write_config()) {
		run_fixture("stop");
		return 1;
	}

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	CU_pSuite s = CU_add_suite("ssh", suite_init, suite_clean);
	CU_add_test(s, "key authentication, calls, 3 MiB both ways", test_key_auth_call);
	CU_add_test(s, "a call on every Python interpreter", test_every_python);
	CU_add_test(s, "two contexts share one connection", test_two_contexts_share_connection);
	CU_add_test(s, "unknown host refused (strict)", test_unknown_host_refused);
	CU_add_test(s, "changed host key refused", test_changed_key_refused);
	CU_add_test(s, "accept-new appends exactly one line", test_accept_new);
	CU_add_test(s, "wrong key refused", test_wrong_key_refused);
	CU_pTest pw = CU_add_test(s, "password authentication (password_env)", test_password);
	CU_add_test(s, "closed port: prompt, clear error", test_closed_port);
	CU_add_test(s, "silent server: connect_timeout", test_silent_server_times_out);
	CU_add_test(s, "remote python missing", test_python_missing);
	CU_add_test(s, "host name looked up off the broker thread", test_host_name_lookup);
	if (!fx.pw_user[0] || !pw_python) {
		fprintf(stderr, "SKIP: password authentication needs root (a test user with a "
		                "password) and /usr/bin/python3\n");
		CU_set_test_active(pw, CU_FALSE);
	}
	int rc = ec_test_run();
	if (silent_fd >= 0)
		close(silent_fd);
	if (run_fixture("stop"))
		fprintf(stderr, "warning: stopping the sshd fixture failed\n");
	return rc;
}
