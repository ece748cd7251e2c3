/* test_ssh.c: the ssh transport end to end against a private sshd on 127.0.0.1
 * (tests/sshd-fixture.sh): calls on every Python interpreter found, two contexts
 * sharing one connection, strict host key checking (unknown host, changed key, the
 * system's known_hosts), accept-new appending exactly one line, key authentication, a
 * wrong key, an RSA key, ssh-agent, password and keyboard-interactive authentication
 * (root only: they need a user with a password), keepalives, a closed port, a host
 * name that does not resolve (in network and mount namespaces of its own), a server
 * that never answers and does not delay the others, jump hosts on loopback and, as
 * root, through network namespaces (tests/sshd-netns.sh). Exit 77 (skip) when sshd is
 * not installed. */
#include "ecbuild.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "econtext.h"
#include "testutil.h"

static char fxdir[64];
static struct ec_test_sshd fx;
static char cfgpath[600];
static const char *pw_python; /* what the password user can run */
static struct ec_test_python pythons[16];
static size_t npythons;
static ec_master *master;


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
	         "    python: %s\n    ssh_config: \"\"\n",
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
	         ec_test_unused_port(), fx.known_hosts, silent_port(), fx.known_hosts);
	/* Jump hosts on loopback: the same sshd is hop and target (a different session for
	 * each: the via differs); system known_hosts; keyboard-interactive. */
	size_t used = strlen(text);
	snprintf(text + used, sizeof(text) - used,
	         "  hop1:\n%s    identity_file: %s\n    known_hosts: %s\n    via: web1\n"
	         "  hop2:\n%s    identity_file: %s\n    known_hosts: %s\n    via: hop1\n"
	         "  viaclosed:\n    transport: ssh\n    hostname: 127.0.0.1\n    port: %d\n"
	         "    agent: false\n    identity_file: %s\n    known_hosts: %s\n    via: web1\n"
	         "  vialocal:\n%s    identity_file: %s\n    known_hosts: %s\n    via: local\n"
	         "  glob:\n%s    identity_file: %s\n    known_hosts: %s/kh_user\n"
	         "    global_known_hosts: %s\n"
	         "  globchanged:\n%s    identity_file: %s\n    known_hosts: %s/kh_user\n"
	         "    global_known_hosts: %s\n"
	         "  kbd:\n    transport: ssh\n    hostname: 127.0.0.1\n    port: %s\n"
	         "    agent: false\n    username: %s\n    password_env: EC_TEST_SSH_PASSWORD\n"
	         "    identity_file: []\n    known_hosts: %s\n    python: /usr/bin/python3\n",
	         common, fx.key, fx.known_hosts, common, fx.key, fx.known_hosts, ec_test_unused_port(),
	         fx.key, fx.known_hosts, common, fx.key, fx.known_hosts, common, fx.key, fxdir,
	         fx.known_hosts, common, fx.key, fxdir, kh_changed,
	         fx.pam_port[0] ? fx.pam_port : "22", fx.pw_user[0] ? fx.pw_user : "nobody",
	         fx.known_hosts);
	/* ~/.ssh/config: Host aliases the contexts name as their hostname. */
	char sshcfg[600];
	snprintf(sshcfg, sizeof(sshcfg), "%s/ssh_config", fxdir);
	static char sc[8192];
	int cp = ec_test_unused_port();
	snprintf(sc, sizeof(sc),
	         "# an OpenSSH client config\n"
	         "Include %s/nothing.conf\n"
	         "Host ecover\n  HostName 127.0.0.1\n  Port %d\n  User nosuchuser\n"
	         "Host ecalias\n"
	         "  hostname 127.0.0.1\n"
	         "  PORT=%s\n"
	         "  User = %s\n"
	         "  IdentityFile \"%s\"\n"
	         "  ForwardAgent yes\n  Ciphers=aes128-ctr,aes256-ctr\n  Include other.conf\n"
	         "Host ecneg\n  HostName 127.0.0.1\n"
	         "Host ec* !ecneg !ecjump*\n  Port %d\n  IdentityFile /nonexistent\n"
	         "Host ecneg ecjump*\n  Port %s\n  User %s\n  IdentityFile %s\n"
	         "Host ecjump\n  HostName 127.0.0.1\n  ProxyJump ecalias\n"
	         "Host ecjump2\n  HostName 127.0.0.1\n  ProxyJump ecalias,%s@127.0.0.1:%s\n"
	         "Host *\n  User nosuchuser\n  StrictHostKeyChecking no\n",
	         fxdir, cp, fx.port, fx.user, fx.key, cp, fx.port, fx.user, fx.key, fx.user,
	         fx.port);
	write_file(sshcfg, sc);
	used = strlen(text);
	snprintf(text + used, sizeof(text) - used,
	         "  cfgalias:\n    transport: ssh\n    hostname: ecalias\n    agent: false\n"
	         "    known_hosts: %s\n    python: %s\n    ssh_config: %s\n"
	         "  cfgover:\n    transport: ssh\n    hostname: ecover\n    agent: false\n"
	         "    port: %s\n    username: %s\n    identity_file: %s\n"
	         "    known_hosts: %s\n    python: %s\n    ssh_config: %s\n"
	         "  cfgneg:\n    transport: ssh\n    hostname: ecneg\n    agent: false\n"
	         "    known_hosts: %s\n    python: %s\n    ssh_config: %s\n"
	         "  cfgjump:\n    transport: ssh\n    hostname: ecjump\n    agent: false\n"
	         "    known_hosts: %s\n    python: %s\n    ssh_config: %s\n"
	         "  cfgjump2:\n    transport: ssh\n    hostname: ecjump2\n    agent: false\n"
	         "    known_hosts: %s\n    python: %s\n    ssh_config: %s\n",
	         fx.known_hosts, py, sshcfg, fx.port, fx.user, fx.key, fx.known_hosts, py, sshcfg,
	         fx.known_hosts, py, sshcfg, fx.known_hosts, py, sshcfg, fx.known_hosts, py, sshcfg);
	/* The PAM sshd has the same host keys, under its own port. */
	if (fx.pam_port[0]) {
		FILE *kf = fopen(fx.known_hosts, "r");
		char l2[2048], all[8192] = "";
		while (kf && fgets(l2, sizeof(l2), kf)) {
			size_t al = strlen(all);
			char *sp2 = strchr(l2, ' ');
			if (sp2)
				snprintf(all + al, sizeof(all) - al, "%s[127.0.0.1]:%s%s", l2, fx.pam_port, sp2);
		}
		if (kf)
			fclose(kf);
		write_file(fx.known_hosts, all);
	}
	write_file(cfgpath, text);
	return 0;
}

static char modpath[1024];

static int suite_init(void)
{
	snprintf(modpath, sizeof(modpath), "%s/tests/data/modfwd", ec_test_srcdir());
	static const char *mods[2];
	mods[0] = modpath;
	struct ec_master_options mo = {.size = sizeof(mo), .config_path = cfgpath,
	                               .log_level = EC_LOG_WARNING, .module_path = mods};
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

/* A call with a string argument (sarg) or none (NULL). */
static ec_value *call0(ec_context *ctx, const char *mod, const char *fn, const char *sarg, int *rc)
{
	return ec_test_call(ctx, mod, fn, sarg ? ec_value_cstr(sarg) : NULL, 20000, rc);
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
	CU_ASSERT_EQUAL(ec_context_shutdown(ctx, 30000, NULL), 0);
}

static void test_forwarded_modules(void)
{
	/* Modules that exist only on the master, served over the ssh stream. */
	ec_context *ctx = connect_or_fail("web1", NULL);
	if (!ctx)
		return;
	int rc;
	ec_value *v = call0(ctx, "fwdpkg.info", "helper", NULL, &rc);
	CU_ASSERT(rc == 0 && is_text(v) && !strcmp(v->u.s.data, "source of helper"));
	ec_value_free(v);
	struct ec_error err = {0};
	v = NULL;
	rc = ec_context_call(ctx, "fwdpkg.boom", "fail", NULL, NULL, 20000, &v, &err);
	CU_ASSERT_EQUAL(rc, EC_EREMOTE);
	/* The traceback shows the forwarded source line. */
	CU_ASSERT(v && v->type == EC_T_ERROR &&
	          strstr(v->u.err.traceback, "the line a traceback must show") != NULL);
	ec_value_free(v);
	CU_ASSERT_EQUAL(ec_context_shutdown(ctx, 30000, NULL), 0);
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

/* A second context of the same name boots from the bytecode the first compiled
 * (in memory: the disk cache is not for ssh), and works as one booted from source:
 * calls, a remote traceback through the core's lines. */
static void test_second_context_shares_bytecode(void)
{
	struct ec_master_options mo = {.size = sizeof(mo), .config_path = cfgpath,
	                               .log_fn = ec_test_log_capture, .log_level = EC_LOG_DEBUG};
	struct ec_error err = {0};
	ec_master *m = NULL;
	CU_ASSERT_EQUAL_FATAL(ec_master_new(&mo, &m, &err), 0);
	ec_test_log_clear();
	ec_context *a = NULL, *b = NULL, *c = NULL;
	CU_ASSERT_EQUAL(ec_context_connect(m, "web1", NULL, 30000, &a, &err), 0);
	CU_ASSERT_EQUAL(ec_test_log_count("econtext", "core bytecode shared", NULL), 0);
	/* The boot waits SHARE_WAIT_MS (core/connect.c) for the first's answer and else
	 * compiles from source, as it should: on a loaded machine (make -j2 check) one may
	 * miss it. Up to five second contexts, until one boots from the share. */
	int shared = 0;
	for (int i = 0; i < 5 && !shared; i++) {
		if (b)
			ec_context_shutdown(b, 3000, NULL);
		b = NULL;
		CU_ASSERT_EQUAL(ec_context_connect(m, "web1", NULL, 30000, &b, &err), 0);
		shared = ec_test_log_count("econtext", "core bytecode shared", NULL);
		if (!shared)
			fprintf(stderr, "  second context %d booted from source (the first did not "
			        "answer within the share's wait): again\n", i + 1);
	}
	CU_ASSERT_EQUAL(shared, 1);
	/* Another name (another description): its own, from source. */
	CU_ASSERT_EQUAL(ec_context_connect(m, "web2", NULL, 30000, &c, &err), 0);
	CU_ASSERT_EQUAL(ec_test_log_count("econtext", "core bytecode shared", NULL), 1);
	if (b) {
		int rc;
		ec_value *v = call0(b, "os", "getpid", NULL, &rc);
		CU_ASSERT(rc == 0 && v && v->type == EC_T_INT && v->u.i == ec_context_pid(b));
		ec_value_free(v);
		ec_value *args = ec_value_new(EC_T_TUPLE), *res = NULL;
		ec_value_append(args, ec_value_cstr("nosuchmodule_ec"));
		CU_ASSERT_EQUAL(ec_context_call(b, "importlib", "import_module", args, NULL, 10000,
		                                &res, &err), EC_EREMOTE);
		CU_ASSERT(res && strstr(res->u.err.traceback, "File \"<stdin>\", line "));
		ec_value_free(res);
		ec_value_free(args);
	}
	/* With the first gone, the third of the name takes it from memory. */
	ec_context_shutdown(a, 3000, NULL);
	ec_context_shutdown(b, 3000, NULL);
	a = NULL;
	CU_ASSERT_EQUAL(ec_context_connect(m, "web1", NULL, 30000, &a, &err), 0);
	CU_ASSERT_EQUAL(ec_test_log_count("econtext", "core bytecode shared", NULL), 2);
	ec_context_shutdown(a, 3000, NULL);
	ec_context_shutdown(c, 3000, NULL);
	ec_master_free(m);
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
	CU_ASSERT_EQUAL(ec_context_shutdown(b, 30000, NULL), 0);
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

static int answer_pw(void *data, const struct ec_secret_request *req, char *buf, size_t cap)
{
	(*(int *)data)++;
	(void)req;
	snprintf(buf, cap, "%s", fx.pw_password);
	return 0;
}

/* Connect-back with the ssh password asked of the application: the boot words wait
 * for the connection, the question is asked on the connecting thread meanwhile. */
static void test_password_asked_connect_back(void)
{
	unsetenv("EC_TEST_SSH_PASSWORD");
	struct ec_master_options mo = {.size = sizeof(mo), .config_path = cfgpath,
	                               .log_level = EC_LOG_WARNING};
	struct ec_error err = {0};
	ec_master *m = NULL;
	CU_ASSERT_EQUAL_FATAL(ec_master_new(&mo, &m, &err), 0);
	int asked = 0;
	ec_master_set_secret_prompt(m, answer_pw, &asked);
	char opt[600];
	snprintf(opt, sizeof(opt), "python=%s", pw_python);
	const char *ov[] = {opt, "password_env=", "connect_back=true", NULL};
	ec_context *ctx = NULL;
	int rc = ec_context_connect(m, "pw", ov, 30000, &ctx, &err);
	if (rc)
		fprintf(stderr, "  pw, connect-back, password asked: %s\n", err.msg);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_EQUAL(asked, 1);
	if (ctx) {
		ec_value *v = call0(ctx, "getpass", "getuser", NULL, &rc);
		CU_ASSERT(rc == 0 && is_text(v) && !strcmp(v->u.s.data, fx.pw_user));
		ec_value_free(v);
		ec_context_shutdown(ctx, 3000, NULL);
	}
	ec_master_free(m);
}

static void test_closed_port(void)
{
	struct ec_error err = {0};
	long long t0 = ec_test_now_ms();
	int rc = connect_fails("dead", NULL, &err);
	long long dt = ec_test_now_ms() - t0;
	CU_ASSERT(rc != 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "Connection refused"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "127.0.0.1 port"));
	/* At once, on the refusal: not at connect_timeout (30 s). */
	CU_ASSERT_NOT_EQUAL(rc, EC_ETIMEDOUT);
	CU_ASSERT_PTR_NULL(strstr(err.msg, "did not start within"));
	fprintf(stderr, "  refused after %lld ms\n", dt);
}

static void test_silent_server_times_out(void)
{
	struct ec_error err = {0};
	long long t0 = ec_test_now_ms();
	int rc = connect_fails("silent", NULL, &err);
	long long dt = ec_test_now_ms() - t0;
	CU_ASSERT_EQUAL(rc, EC_ETIMEDOUT);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "timed out during the SSH handshake"));
	/* connect_timeout is 1 s: never before; 15 s late only a timer nobody watched. */
	CU_ASSERT(dt >= 800 && dt < 15000);
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

/* A name that does not resolve. The lookup must stay on this machine, so the client
 * runs as this program again (--resolve-child) in a network namespace of its own that
 * has only a loopback device, and a mount namespace whose resolver files point at
 * loopback: "dns" asks a name server on 127.0.0.1 in that namespace, where none
 * listens (EAI_AGAIN: no name server answered); "files" consults /etc/hosts alone
 * (EAI_NONAME: the name does not exist). The name is under the reserved .invalid TLD
 * besides. */
#define NOHOST "nohost.invalid"
static char unshare_cmd[32]; /* "unshare -n -m" (root) or "unshare -r -n -m"; "" if refused */

/* The master of a child run of this program (in namespaces); 0 or 1. */
static int child_master(const char *cfg, const char *who)
{
	static char dir[1200];
	snprintf(dir, sizeof(dir), "%s/tests/data/tls", ec_test_srcdir());
	static const char *mp[] = {dir, NULL};
	struct ec_master_options mo = {.size = sizeof(mo), .config_path = cfg,
	                               .log_level = EC_LOG_WARNING, .module_path = mp};
	struct ec_error err = {0};
	if (ec_master_new(&mo, &master, &err)) {
		fprintf(stderr, "%s: master: %s\n", who, err.msg);
		return 1;
	}
	return 0;
}

static int resolve_child(const char *cfg, const char *mode)
{
	struct ec_error err = {0};
	if (child_master(cfg, "resolve"))
		return 1;
	if (!strcmp(mode, "noconfig")) {
		/* ssh_config empty: no file read, so the alias is a name that does not
		 * resolve (here, where only /etc/hosts is consulted). */
		const char *none[] = {"ssh_config=", "connect_timeout=3", NULL};
		ec_context *c = NULL;
		int rc = ec_context_connect(master, "cfgalias", none, 30000, &c, &err);
		ec_master_free(master);
		master = NULL;
		fprintf(stderr, "  resolve (noconfig): %s\n", err.msg);
		return rc && strstr(err.msg, "could not resolve hostname ecalias") ? 0 : 1;
	}
	const char *ov[] = {"hostname=" NOHOST, NULL};
	ec_context *ctx = NULL;
	long long t0 = ec_test_now_ms();
	int rc = ec_context_connect(master, "web1", ov, 30000, &ctx, &err);
	long long dt = ec_test_now_ms() - t0;
	ec_master_free(master);
	master = NULL;
	fprintf(stderr, "  resolve (%s): %lld ms: %s\n", mode, dt, err.msg);
	int dns = !strcmp(mode, "dns");
	/* At once: the name server's port is closed; a lookup that waited for an answer
	 * would wait resolv.conf's 30 s. */
	int ok = rc == (dns ? EC_ECLOSED : EC_ENOTFOUND) && dt < 20000 &&
	         strstr(err.msg, "ssh: could not resolve hostname " NOHOST ": ") &&
	         strstr(err.msg, dns ? "Temporary failure in name resolution (no name server "
	                               "answered"
	                             : "Name or service not known");
	return ok ? 0 : 1;
}

static void test_name_does_not_resolve(void)
{
	char self[512], dir[600], cmd[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	CU_ASSERT_FATAL(n > 0);
	self[n] = '\0';
	snprintf(dir, sizeof(dir), "%s/resolve", fxdir);
	mkdir(dir, 0755);
	snprintf(cmd, sizeof(cmd), "%s/resolv.conf", dir);
	write_file(cmd, "nameserver 127.0.0.1\noptions timeout:30 attempts:1\n");
	const char *modes[] = {"dns", "files", "noconfig"};
	for (int i = 0; i < 3; i++) {
		snprintf(cmd, sizeof(cmd), "%s/nsswitch-%s.conf", dir, modes[i]);
		write_file(cmd, i ? "hosts: files\n" : "hosts: files dns\n");
		snprintf(cmd, sizeof(cmd),
		         "%s sh -c 'ip link set lo up 2>/dev/null; "
		         "mount --bind %s/resolv.conf /etc/resolv.conf && "
		         "mount --bind %s/nsswitch-%s.conf /etc/nsswitch.conf && "
		         "exec %s --resolve-child %s %s'",
		         unshare_cmd, dir, dir, modes[i], self, cfgpath, modes[i]);
		int st = system(cmd);
		CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
}

/* ---- connect-back over TLS (docs/tls.md) -------------------------------------------- */

/* name, connected back over TLS from where ssh started it: the connection is TLS 1.3,
 * the context is ssh's (SSH_CONNECTION), forwarded modules and 3 MiB each way work. */
static void connect_back_check(ec_master *m, const char *name, const char *python, int big)
{
	char opt[600];
	snprintf(opt, sizeof(opt), "python=%s", python);
	/* Through a jump host there is no default address (docs/tls.md): loopback here. */
	const char *ov[] = {"connect_back=true",
	                    python ? opt : strncmp(name, "hop", 3) ? NULL
	                                                           : "connect_back_address=127.0.0.1",
	                    NULL};
	struct ec_error err = {0};
	ec_context *ctx = NULL;
	if (ec_context_connect(m, name, ov, 30000, &ctx, &err)) {
		fprintf(stderr, "  connect-back %s (%s): %s\n", name, python ? python : "-", err.msg);
		CU_FAIL("connect-back over ssh");
		return;
	}
	int rc = 0;
	/* In use over ssh at once; then switched to its connection (the lazy switch). */
	ec_value *v = ec_test_call(ctx, "econtext", "connect_back_state", ec_value_bool(1), 20000,
	                           &rc);
	CU_ASSERT(rc == 0 && v && is_text(v) && !strcmp(v->u.s.data, "switched"));
	ec_value_free(v);
	v = ec_test_call(ctx, "tlsfn", "info", NULL, 20000, &rc);
	const ec_value *ver = rc ? NULL : ec_value_dict_get(v, "version");
	CU_ASSERT(ver && is_text(ver) && !strcmp(ver->u.s.data, "TLSv1.3"));
	ec_value_free(v);
	v = call0(ctx, "os", "getenv", "SSH_CONNECTION", &rc);
	CU_ASSERT(rc == 0 && is_text(v));
	ec_value_free(v);
	fprintf(stderr, "  %s connected back over TLS (%s), boot %.0f ms\n", name,
	        ec_context_python_version(ctx), ec_context_boot_seconds(ctx) * 1e3);
	if (big) {
		size_t n = 3u << 20;
		unsigned char *buf = malloc(n);
		for (size_t i = 0; buf && i < n; i++)
			buf[i] = (unsigned char)(i * 2654435761u >> 11);
		v = ec_test_call(ctx, "tlsfn", "echo", ec_value_bytes(buf, n), 30000, &rc);
		CU_ASSERT(rc == 0 && v && v->type == EC_T_BYTES && v->u.s.len == n &&
		          !memcmp(v->u.s.data, buf, n));
		ec_value_free(v);
		free(buf);
	}
	CU_ASSERT_EQUAL(ec_context_shutdown(ctx, 5000, NULL), 0);
}

static void test_connect_back(void)
{
	char dir[1200];
	snprintf(dir, sizeof(dir), "%s/tests/data/tls", ec_test_srcdir());
	const char *mp[] = {dir, NULL};
	struct ec_master_options mo = {.size = sizeof(mo), .config_path = cfgpath,
	                               .log_fn = ec_test_log_capture, .log_level = EC_LOG_INFO,
	                               .module_path = mp};
	struct ec_error err = {0};
	ec_master *m = NULL;
	CU_ASSERT_EQUAL_FATAL(ec_master_new(&mo, &m, &err), 0);
	for (size_t i = 0; i < npythons; i++) {
		if (!pythons[i].path[0]) {
			fprintf(stderr, "  python %s: absent, skipped\n", pythons[i].version);
			continue;
		}
		connect_back_check(m, "web1", pythons[i].path, i == 0);
	}
	/* Through one and two jump hosts: no default address, said at once. */
	const char *nodefault[] = {"connect_back=true", NULL};
	ec_context *c = NULL;
	memset(&err, 0, sizeof(err));
	CU_ASSERT(ec_context_connect(m, "hop1", nodefault, 30000, &c, &err) != 0);
	fprintf(stderr, "  hop1 with no connect_back_address: %s\n", err.msg);
	CU_ASSERT(strstr(err.msg, "set connect_back_address") && strstr(err.msg, "jump host"));
	connect_back_check(m, "hop1", NULL, 0);
	connect_back_check(m, "hop2", NULL, 1);
	ec_master_free(m);
}

/* The master SIGKILLed (a child process here) while its ssh context, connected back,
 * runs a call that never ends: the context goes within 5 s on every interpreter (its
 * TLS connection and its exec channel both end). Polled in the process table until
 * gone, within a wide bound; the 5 s is then checked. */
static void test_connect_back_master_killed(void)
{
	for (size_t i = 0; i < npythons; i++) {
		if (!pythons[i].path[0]) {
			fprintf(stderr, "  python %s: absent, skipped\n", pythons[i].version);
			continue;
		}
		int p[2];
		CU_ASSERT_FATAL(pipe(p) == 0);
		fflush(NULL);
		pid_t m = fork();
		if (m == 0) {
			close(p[0]);
			struct ec_master_options mo = {.size = sizeof(mo), .config_path = cfgpath,
			                               .log_level = EC_LOG_WARNING};
			char opt[600];
			snprintf(opt, sizeof(opt), "python=%s", pythons[i].path);
			const char *ov[] = {"connect_back=true", opt, NULL};
			struct ec_error err = {0};
			ec_master *cm = NULL;
			ec_context *c = NULL;
			ec_call *call = NULL;
			long pid = -1;
			if (!ec_master_new(&mo, &cm, &err) &&
			    !ec_context_connect(cm, "web1", ov, 30000, &c, &err) &&
			    !ec_context_call_async(c, "signal", "pause", NULL, NULL, &call, &err))
				pid = ec_context_pid(c);
			else
				fprintf(stderr, "  killed master: %s\n", err.msg);
			ssize_t w = write(p[1], &pid, sizeof(pid));
			(void)w;
			for (;;)
				pause();
		}
		close(p[1]);
		long pid = -1;
		ssize_t r = read(p[0], &pid, sizeof(pid));
		close(p[0]);
		CU_ASSERT_FATAL(m > 0);
		CU_ASSERT(pid > 0 && !ec_test_process_gone(pid)); /* alive, in its call */
		kill(m, SIGKILL);
		waitpid(m, NULL, 0);
		long long t0 = ec_test_now_ms(), el = 0;
		int gone = 0;
		while (r == (ssize_t)sizeof(pid) && pid > 0 &&
		       !(gone = ec_test_process_gone(pid)) && (el = ec_test_now_ms() - t0) < 30000) {
			struct timespec ts = {0, 5000000};
			nanosleep(&ts, NULL);
		}
		el = ec_test_now_ms() - t0;
		fprintf(stderr, "  python %s: master killed, context %ld gone after %lld ms\n",
		        pythons[i].version, pid, el);
		CU_ASSERT(pid > 0 && gone && el <= 5000);
		if (pid > 0 && !gone)
			kill((pid_t)pid, SIGKILL);
	}
}

/* ---- jump hosts ------------------------------------------------------------------ */

/* "127.0.0.1 CPORT 127.0.0.1 SPORT": the client port, or -1. */
static int client_port(const ec_value *v)
{
	int a, b, c, d, port = -1;
	if (!is_text(v) || sscanf(v->u.s.data, "%d.%d.%d.%d %d", &a, &b, &c, &d, &port) != 5)
		return -1;
	return port;
}

/* Does this process hold a TCP socket whose local port is port? (/proc/self/net/tcp
 * lists the namespace's sockets; their inodes are matched against our fds.) */
static int own_tcp_port(int port)
{
	FILE *f = fopen("/proc/self/net/tcp", "r");
	char line[512];
	unsigned long inode = 0;
	int found = 0;
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		unsigned lport = 0;
		unsigned long ino = 0;
		if (sscanf(line, " %*d: %*x:%x %*x:%*x %*x %*x:%*x %*x:%*x %*x %*u %*u %lu", &lport,
		           &ino) == 2 && (int)lport == port && ino) {
			inode = ino;
			break;
		}
	}
	fclose(f);
	if (!inode)
		return 0;
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	char want[64], path[300], target[64];
	snprintf(want, sizeof(want), "socket:[%lu]", inode);
	while (d && (e = readdir(d))) {
		snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
		ssize_t n = readlink(path, target, sizeof(target) - 1);
		if (n > 0) {
			target[n] = '\0';
			if (!strcmp(target, want))
				found = 1;
		}
	}
	if (d)
		closedir(d);
	return found;
}

static void test_jump_loopback(void)
{
	long off = ec_test_file_size(fx.log);
	ec_context *direct = connect_or_fail("web1", NULL);
	ec_context *h1 = connect_or_fail("hop1", NULL);
	ec_context *h2 = connect_or_fail("hop2", NULL);
	if (!direct || !h1 || !h2)
		goto out;
	int rc0, rc1, rc2;
	ec_value *v0 = call0(direct, "os", "getenv", "SSH_CONNECTION", &rc0);
	ec_value *v1 = call0(h1, "os", "getenv", "SSH_CONNECTION", &rc1);
	ec_value *v2 = call0(h2, "os", "getenv", "SSH_CONNECTION", &rc2);
	CU_ASSERT(rc0 == 0 && rc1 == 0 && rc2 == 0);
	int p0 = client_port(v0), p1 = client_port(v1), p2 = client_port(v2);
	fprintf(stderr, "  SSH_CONNECTION direct %s | hop1 %s | hop2 %s\n", is_text(v0) ? v0->u.s.data : "?",
	        is_text(v1) ? v1->u.s.data : "?", is_text(v2) ? v2->u.s.data : "?");
	CU_ASSERT(p0 > 0 && p1 > 0 && p2 > 0 && p0 != p1 && p1 != p2 && p0 != p2);
	/* The direct connection is ours; the tunnelled ones were made by sshd. */
	CU_ASSERT_EQUAL(own_tcp_port(p0), 1);
	CU_ASSERT_EQUAL(own_tcp_port(p1), 0);
	CU_ASSERT_EQUAL(own_tcp_port(p2), 0);
	ec_value_free(v0);
	ec_value_free(v1);
	ec_value_free(v2);
	/* The hop's session is web1's (shared): three logins, not four. */
	CU_ASSERT_EQUAL(ec_test_file_count(fx.log, "Accepted publickey for", off), 3);
	/* 3 MiB each way through two hops. */
	size_t big = 3 * 1024 * 1024;
	char *s = malloc(big + 1);
	for (size_t i = 0; i < big; i++)
		s[i] = (char)('a' + i % 26);
	s[big] = '\0';
	ec_value *v = call0(h2, "copy", "copy", s, &rc2);
	CU_ASSERT(rc2 == 0 && is_text(v) && v->u.s.len == big && !memcmp(v->u.s.data, s, big));
	ec_value_free(v);
	free(s);
	/* The direct context goes; the tunnels through its session stay. */
	CU_ASSERT_EQUAL(ec_context_shutdown(direct, 30000, NULL), 0);
	direct = NULL;
	v = call0(h2, "os", "getpid", NULL, &rc2);
	CU_ASSERT(rc2 == 0 && v && v->type == EC_T_INT && v->u.i == ec_context_pid(h2));
	ec_value_free(v);
	/* Concurrent calls on both levels. */
	ec_call *c1[6], *c2[6];
	ec_value *args = ec_value_new(EC_T_TUPLE);
	ec_value_append(args, ec_value_float(0.02));
	for (int i = 0; i < 6; i++) {
		CU_ASSERT_EQUAL(ec_context_call_async(h1, "time", "sleep", args, NULL, &c1[i], NULL), 0);
		CU_ASSERT_EQUAL(ec_context_call_async(h2, "time", "sleep", args, NULL, &c2[i], NULL), 0);
	}
	for (int i = 0; i < 6; i++) {
		ec_value *r = NULL;
		CU_ASSERT_EQUAL(ec_call_wait(c1[i], 20000, &r, NULL), 0);
		ec_value_free(r);
		r = NULL;
		CU_ASSERT_EQUAL(ec_call_wait(c2[i], 20000, &r, NULL), 0);
		ec_value_free(r);
		ec_call_free(c1[i]);
		ec_call_free(c2[i]);
	}
	ec_value_free(args);
out:
	ec_context_shutdown(h2, 3000, NULL);
	ec_context_shutdown(h1, 3000, NULL);
	ec_context_shutdown(direct, 3000, NULL);
}

/* File transfer (econtext.h, ec_context_put/get) over ssh and through two jump hosts:
 * 6 MiB (more than a channel's window) put, got back the same, and put again
 * unchanged (nothing sent); the context's pipes to sshd at 1 MiB once a file went
 * through them (_wide_pipes, payload/econtext_core.py). */
static void test_transfer_over_ssh(void)
{
	const char *names[] = {"web1", "hop2"};
	size_t size = 6u << 20;
	char src[] = "/tmp/ec-ssh-src-XXXXXX", back[64], remote[64];
	int fd = mkstemp(src);
	CU_ASSERT_FATAL(fd >= 0);
	unsigned char *data = malloc(size);
	for (size_t i = 0; i < size; i++)
		data[i] = (unsigned char)(i * 2654435761u >> 13);
	CU_ASSERT_EQUAL_FATAL(write(fd, data, size), (ssize_t)size);
	close(fd);
	for (int k = 0; k < 2; k++) {
		ec_context *ctx = connect_or_fail(names[k], NULL);
		if (!ctx)
			continue;
		snprintf(remote, sizeof(remote), "/tmp/ec-ssh-dst-%d-%d", (int)getpid(), k);
		snprintf(back, sizeof(back), "/tmp/ec-ssh-back-%d-%d", (int)getpid(), k);
		struct ec_transfer_result res = {0};
		struct ec_error err = {0};
		int rc = ec_context_put(ctx, src, remote, NULL, &res, &err);
		if (rc)
			fprintf(stderr, "  put via %s: %s\n", names[k], err.msg);
		CU_ASSERT_EQUAL(rc, 0);
		CU_ASSERT(res.changed && res.size == size);
		for (int pipe_fd = 100; pipe_fd <= 101; pipe_fd++) { /* F_GETPIPE_SZ */
			ec_value *args = ec_value_new(EC_T_TUPLE), *sz = NULL;
			ec_value_append(args, ec_value_int(pipe_fd));
			ec_value_append(args, ec_value_int(1032));
			CU_ASSERT_EQUAL(ec_context_call(ctx, "fcntl", "fcntl", args, NULL, 30000, &sz, &err), 0);
			CU_ASSERT(sz && sz->type == EC_T_INT && sz->u.i == 1 << 20);
			ec_value_free(args);
			ec_value_free(sz);
		}
		rc = ec_context_get(ctx, remote, back, NULL, &res, &err);
		CU_ASSERT_EQUAL(rc, 0);
		FILE *f = fopen(back, "rb");
		unsigned char *got = malloc(size + 1);
		size_t n = f ? fread(got, 1, size + 1, f) : 0;
		if (f)
			fclose(f);
		CU_ASSERT(n == size && !memcmp(got, data, size));
		free(got);
		memset(&res, 0, sizeof(res));
		CU_ASSERT_EQUAL(ec_context_put(ctx, src, remote, NULL, &res, &err), 0);
		CU_ASSERT(!res.changed && res.bytes == 0);
		fprintf(stderr, "  %s: 6 MiB put, got back the same, put again unchanged\n", names[k]);
		unlink(remote);
		unlink(back);
		ec_context_shutdown(ctx, 3000, NULL);
	}
	free(data);
	unlink(src);
}

static void test_jump_errors(void)
{
	struct ec_error err = {0};
	/* The hop cannot reach the target. */
	int rc = connect_fails("viaclosed", NULL, &err);
	CU_ASSERT_EQUAL(rc, EC_ECLOSED);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "cannot connect to 127.0.0.1 port"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "through"));
	/* The hop itself fails: its error, named as the hop's. */
	memset(&err, 0, sizeof(err));
	const char *ov[] = {"via=wrongkey", NULL};
	rc = connect_fails("hop1", ov, &err);
	CU_ASSERT_EQUAL(rc, EC_EAUTH);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "via"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "authentication failed"));
	/* Not an ssh hop. */
	memset(&err, 0, sizeof(err));
	rc = connect_fails("vialocal", NULL, &err);
	CU_ASSERT_EQUAL(rc, EC_ECONFIG);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "via an ssh context"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "transport local"));
}

/* The namespace topology (root): the client part runs in the client namespace, as
 * this program again (--netns-child), which reports its failures by exit status. */
static char nxdir[64];
static int nx_failures;
#define NX_CHECK(cond)                                                                  \
	do {                                                                                \
		if (!(cond)) {                                                                  \
			fprintf(stderr, "  netns: FAILED at line %d: %s\n", __LINE__, #cond);       \
			nx_failures++;                                                              \
		}                                                                               \
	} while (0)

static int netns_child(const char *dir)
{
	static char cfg[600], key[600], kh[600], text[16384];
	snprintf(key, sizeof(key), "%s/id_ed25519", dir);
	snprintf(kh, sizeof(kh), "%s/known_hosts", dir);
	snprintf(cfg, sizeof(cfg), "%s/econtext.yaml", dir);
	const char *py = access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
	static char common[2048];
	snprintf(common, sizeof(common),
	         "    transport: ssh\n    identity_file: %s\n    known_hosts: %s\n"
	         "    global_known_hosts: ''\n    agent: false\n    python: %s\n    connect_timeout: 10\n",
	         key, kh, py);
	snprintf(text, sizeof(text),
	         "contexts:\n"
	         "  bastion:\n%s    hostname: 10.77.1.2\n"
	         "  tgt1:\n%s    hostname: 10.77.2.2\n    via: bastion\n"
	         "  tgt2:\n%s    hostname: 10.77.3.2\n    via: tgt1\n"
	         "  tgt1direct:\n%s    hostname: 10.77.2.2\n"
	         "  nowhere:\n%s    hostname: 10.77.2.99\n    via: bastion\n"
	         "  bastioncb:\n%s    hostname: 10.77.1.2\n    connect_back: true\n",
	         common, common, common, common, common, common);
	write_file(cfg, text);
	struct ec_error err = {0};
	if (child_master(cfg, "netns"))
		return 1;
	/* The target is not reachable from here. */
	ec_context *d = NULL;
	int rc = ec_context_connect(master, "tgt1direct", NULL, 5000, &d, &err);
	NX_CHECK(rc != 0);
	fprintf(stderr, "  netns: tgt1 directly: %s\n", err.msg);
	NX_CHECK(strstr(err.msg, "unreachable") != NULL);
	ec_context *b = NULL, *t1 = NULL, *t2 = NULL;
	memset(&err, 0, sizeof(err));
	rc = ec_context_connect(master, "tgt2", NULL, 20000, &t2, &err);
	if (rc)
		fprintf(stderr, "  netns: tgt2: %s\n", err.msg);
	NX_CHECK(rc == 0);
	rc = ec_context_connect(master, "tgt1", NULL, 20000, &t1, &err);
	NX_CHECK(rc == 0);
	rc = ec_context_connect(master, "bastion", NULL, 20000, &b, &err);
	NX_CHECK(rc == 0);
	if (!b || !t1 || !t2)
		goto out;
	/* Connect-back with no address: the master's as sshd sees it (10.77.1.1, where
	 * loopback would reach the bastion itself), bound there. */
	ec_context *cb = NULL;
	rc = ec_context_connect(master, "bastioncb", NULL, 20000, &cb, &err);
	if (rc)
		fprintf(stderr, "  netns: bastioncb: %s\n", err.msg);
	NX_CHECK(rc == 0);
	if (cb) {
		int crc;
		ec_value *v = ec_test_call(cb, "tlsfn", "info", NULL, 20000, &crc);
		const ec_value *pn = crc ? NULL : ec_value_dict_get(v, "address");
		fprintf(stderr, "  netns: bastion connected back to %s\n",
		        pn && is_text(pn) ? pn->u.s.data : "?");
		NX_CHECK(pn && is_text(pn) && !strcmp(pn->u.s.data, "10.77.1.1"));
		ec_value_free(v);
		NX_CHECK(ec_context_shutdown(cb, 3000, NULL) == 0);
	}
	const struct {
		ec_context *c;
		const char *host, *from;
	} want[] = {{b, "bastion", "10.77.1.1 "}, {t1, "tgt1", "10.77.2.1 "}, {t2, "tgt2", "10.77.3.1 "}};
	for (int i = 0; i < 3; i++) {
		int crc;
		ec_value *h = call0(want[i].c, "socket", "gethostname", NULL, &crc);
		ec_value *sc = call0(want[i].c, "os", "getenv", "SSH_CONNECTION", &crc);
		fprintf(stderr, "  netns: %s: host %s, SSH_CONNECTION %s\n", want[i].host,
		        is_text(h) ? h->u.s.data : "?", is_text(sc) ? sc->u.s.data : "?");
		NX_CHECK(is_text(h) && !strcmp(h->u.s.data, want[i].host));
		NX_CHECK(is_text(sc) && !strncmp(sc->u.s.data, want[i].from, strlen(want[i].from)));
		ec_value_free(h);
		ec_value_free(sc);
	}
	/* One login on each sshd: the bastion's session serves the bastion context and the
	 * tunnel to tgt1, whose session serves tgt1 and the tunnel to tgt2. */
	char log[600];
	const char *roles[] = {"bastion", "tgt1", "tgt2"};
	for (int i = 0; i < 3; i++) {
		snprintf(log, sizeof(log), "%s/%s.log", dir, roles[i]);
		NX_CHECK(ec_test_file_count(log, "Accepted publickey", 0) == 1);
	}
	/* Data both ways through two hops. */
	size_t big = 2 * 1024 * 1024;
	char *s = malloc(big + 1);
	for (size_t i = 0; i < big; i++)
		s[i] = (char)('A' + i % 26);
	s[big] = '\0';
	int crc;
	ec_value *v = call0(t2, "copy", "copy", s, &crc);
	NX_CHECK(crc == 0 && is_text(v) && v->u.s.len == big && !memcmp(v->u.s.data, s, big));
	ec_value_free(v);
	free(s);
	/* A host the bastion cannot reach: its error. */
	memset(&err, 0, sizeof(err));
	rc = ec_context_connect(master, "nowhere", NULL, 20000, &d, &err);
	NX_CHECK(rc != 0);
	fprintf(stderr, "  netns: nowhere: %s\n", err.msg);
	NX_CHECK(strstr(err.msg, "through root@10.77.1.2") != NULL);
	/* The bastion's own context goes; the others carry on through its session. */
	NX_CHECK(ec_context_shutdown(b, 3000, NULL) == 0);
	b = NULL;
	v = call0(t2, "socket", "gethostname", NULL, &crc);
	NX_CHECK(crc == 0 && is_text(v) && !strcmp(v->u.s.data, "tgt2"));
	ec_value_free(v);
out:
	ec_context_shutdown(t2, 3000, NULL);
	ec_context_shutdown(t1, 3000, NULL);
	ec_context_shutdown(b, 3000, NULL);
	ec_master_free(master);
	master = NULL;
	return nx_failures ? 1 : 0;
}

static void test_jump_netns(void)
{
	char cmd[2048], self[512], ns[256] = "";
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0) {
		CU_FAIL("readlink /proc/self/exe");
		return;
	}
	self[n] = '\0';
	char env[600], line[256];
	snprintf(env, sizeof(env), "%s/env.sh", nxdir);
	FILE *f = fopen(env, "r");
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "NX_CLIENT_NS='", 14)) {
			memcpy(ns, line + 14, strlen(line + 14) + 1);
			ns[strcspn(ns, "'\n")] = '\0';
		}
	if (f)
		fclose(f);
	CU_ASSERT_FATAL(ns[0] != '\0');
	snprintf(cmd, sizeof(cmd), "ip netns exec '%s' '%s' --netns-child '%s'", ns, self, nxdir);
	int st = system(cmd);
	CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* ---- authentication ---------------------------------------------------------------- */

static void test_rsa_key_refused_clearly(void)
{
	char opt[700];
	snprintf(opt, sizeof(opt), "identity_file=%s", fx.key_rsa);
	const char *ov[] = {opt, NULL};
	struct ec_error err = {0};
	int rc = connect_fails("web1", ov, &err);
	CU_ASSERT_EQUAL(rc, EC_EAUTH);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "libssh2 1.10 cannot use RSA keys with OpenSSH 8.8 or "
	                                       "newer; use an ed25519 or ECDSA key"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, fx.key_rsa));
	/* An ed25519 key is not taken for one. */
	memset(&err, 0, sizeof(err));
	rc = connect_fails("wrongkey", NULL, &err);
	CU_ASSERT_PTR_NULL(strstr(err.msg, "RSA"));
}

/* Run a shell command; its first line of output in out. */
static int run_line(const char *cmd, char *out, size_t outlen)
{
	FILE *p = popen(cmd, "r");
	if (!p)
		return -1;
	char line[1024];
	out[0] = '\0';
	while (fgets(line, sizeof(line), p))
		if (!out[0])
			snprintf(out, outlen, "%.*s", (int)(outlen - 1), line);
	int st = pclose(p);
	out[strcspn(out, "\n")] = '\0';
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_agent(void)
{
	char sock[600], cmd[2048], out[256];
	snprintf(sock, sizeof(sock), "%s/agent.sock", fxdir);
	/* ssh-agent -a SOCK prints SSH_AGENT_PID=N; */
	snprintf(cmd, sizeof(cmd), "ssh-agent -s -a '%s' | sed -n 's/^SSH_AGENT_PID=\\([0-9]*\\);.*/\\1/p'",
	         sock);
	if (run_line(cmd, out, sizeof(out)) != 0 || atoi(out) <= 0) {
		fprintf(stderr, "  SKIP: ssh-agent did not start\n");
		return;
	}
	pid_t agent = (pid_t)atoi(out);
	setenv("SSH_AUTH_SOCK", sock, 1);
	/* The key nobody authorized first, then the right one: the agent's keys are tried
	 * in turn. */
	snprintf(cmd, sizeof(cmd), "ssh-add -q '%s' && ssh-add -q '%s'", fx.key_other, fx.key);
	int rc = system(cmd);
	CU_ASSERT_EQUAL(rc, 0);
	const char *ov[] = {"agent=true", "identity_file=[]", NULL};
	ec_context *ctx = connect_or_fail("web1", ov);
	if (ctx) {
		int crc;
		ec_value *v = call0(ctx, "os", "getpid", NULL, &crc);
		CU_ASSERT_EQUAL(crc, 0);
		ec_value_free(v);
		ec_context_shutdown(ctx, 3000, NULL);
	}
	/* Only the wrong key: refused, and the message says the agent was tried. */
	snprintf(cmd, sizeof(cmd), "ssh-add -q -d '%s' 2>/dev/null", fx.key);
	CU_ASSERT_EQUAL(system(cmd), 0);
	struct ec_error err = {0};
	rc = connect_fails("web1", ov, &err);
	CU_ASSERT_EQUAL(rc, EC_EAUTH);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "ssh-agent (1 key refused)"));
	/* agent: false ignores it. */
	const char *ov2[] = {"agent=false", "identity_file=[]", NULL};
	memset(&err, 0, sizeof(err));
	rc = connect_fails("web1", ov2, &err);
	CU_ASSERT_EQUAL(rc, EC_EAUTH);
	CU_ASSERT_PTR_NULL(strstr(err.msg, "ssh-agent"));
	unsetenv("SSH_AUTH_SOCK");
	kill(agent, SIGTERM);
	for (int i = 0; i < 100 && kill(agent, 0) == 0; i++)
		usleep(10000);
	unlink(sock);
}

static void test_keyboard_interactive(void)
{
	setenv("EC_TEST_SSH_PASSWORD", fx.pw_password, 1);
	ec_context *ctx = connect_or_fail("kbd", NULL);
	if (ctx) {
		int rc;
		ec_value *v = call0(ctx, "getpass", "getuser", NULL, &rc);
		CU_ASSERT(rc == 0 && is_text(v) && !strcmp(v->u.s.data, fx.pw_user));
		ec_value_free(v);
		ec_context_shutdown(ctx, 3000, NULL);
	}
	setenv("EC_TEST_SSH_PASSWORD", "not-the-password", 1);
	struct ec_error err = {0};
	int rc = connect_fails("kbd", NULL, &err);
	CU_ASSERT_EQUAL(rc, EC_EAUTH);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "keyboard-interactive (refused)"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "the server accepts: keyboard-interactive"));
	unsetenv("EC_TEST_SSH_PASSWORD");
}

/* ---- the session's life -------------------------------------------------------------- */

static void test_keepalive(void)
{
	const char *ov[] = {"keepalive_interval=2", NULL};
	ec_context *ctx = connect_or_fail("web1", ov);
	if (!ctx)
		return;
	long off = ec_test_file_size(fx.log);
	/* Idle: only keepalives go. Two come (wait up to 30 s for them), and never more
	 * often than the interval allows (libssh2 counts it in whole seconds: 1 s apart at
	 * the least), which a slow machine can only make fewer. */
	long long t0 = ec_test_now_ms();
	int n = 0;
	for (int i = 0; i < 300 && n < 2; i++) {
		usleep(100000);
		n = ec_test_file_count(fx.log, "keepalive@libssh2.org", off);
	}
	long long idle = ec_test_now_ms() - t0;
	fprintf(stderr, "  %d keepalives in %lld ms idle\n", n, idle);
	CU_ASSERT(n >= 2);
	CU_ASSERT(n <= idle / 1000 + 1);
	int rc;
	ec_value *v = call0(ctx, "os", "getpid", NULL, &rc);
	CU_ASSERT_EQUAL(rc, 0);
	ec_value_free(v);
	ec_context_shutdown(ctx, 3000, NULL);
}

/* After shutdown returns, the remote interpreter has exited: the channel was kept
 * until its exit status came (close's grace). */
static void test_close_waits_for_exit(void)
{
	ec_context *ctx = connect_or_fail("web1", NULL);
	if (!ctx)
		return;
	long pid = ec_context_pid(ctx);
	CU_ASSERT(pid > 0);
	CU_ASSERT_EQUAL(ec_context_shutdown(ctx, 30000, NULL), 0);
	char path[64], st[256] = "";
	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	FILE *f = fopen(path, "r");
	if (f) { /* gone, or a zombie at most */
		if (!fgets(st, sizeof(st), f))
			st[0] = '\0';
		fclose(f);
		char *rp = strrchr(st, ')');
		CU_ASSERT(rp && rp[1] == ' ' && rp[2] == 'Z');
	}
}

struct slow_arg {
	int rc;
	long long ms;
	int done;
};

static void *connect_silent(void *p)
{
	struct slow_arg *a = p;
	const char *ov[] = {"connect_timeout=10", NULL};
	struct ec_error err = {0};
	ec_context *ctx = NULL;
	long long t0 = ec_test_now_ms();
	a->rc = ec_context_connect(master, "silent", ov, 0, &ctx, &err);
	a->ms = ec_test_now_ms() - t0;
	__atomic_store_n(&a->done, 1, __ATOMIC_SEQ_CST);
	if (!a->rc)
		ec_context_shutdown(ctx, 1000, NULL);
	return NULL;
}

static long long good_round(void)
{
	long long t0 = ec_test_now_ms();
	ec_context *ctx = connect_or_fail("web1", NULL);
	if (!ctx)
		return -1;
	int rc;
	ec_value *v = call0(ctx, "os", "getpid", NULL, &rc);
	ec_value_free(v);
	long long dt = ec_test_now_ms() - t0;
	ec_context_shutdown(ctx, 3000, NULL);
	return rc ? -1 : dt;
}

/* A good host is served in full (connect, call) while a dead one is connecting: it
 * starts once the dead one's TCP connection waits in the silent listener's queue and
 * ends before the dead one's connect_timeout (10 s, which only a blocked broker makes
 * it wait for). Events, not a comparison of timings. */
static void test_dead_host_does_not_delay_others(void)
{
	long long alone = good_round();
	alone = good_round(); /* warm: the second is the normal time */
	/* Empty the listener's queue of earlier tests' connections. */
	int fl = fcntl(silent_fd, F_GETFL);
	fcntl(silent_fd, F_SETFL, fl | O_NONBLOCK);
	for (int c; (c = accept(silent_fd, NULL, NULL)) >= 0;)
		close(c);
	fcntl(silent_fd, F_SETFL, fl);
	struct slow_arg a = {0, 0, 0};
	pthread_t t;
	CU_ASSERT_FATAL(pthread_create(&t, NULL, connect_silent, &a) == 0);
	struct pollfd p = {.fd = silent_fd, .events = POLLIN};
	int connecting = poll(&p, 1, 30000) == 1; /* the dead one is connecting */
	long long with_dead = good_round();
	int still = !__atomic_load_n(&a.done, __ATOMIC_SEQ_CST);
	pthread_join(t, NULL);
	fprintf(stderr, "  good host alone %lld ms, beside a dead host %lld ms; the dead one "
	        "failed after %lld ms\n", alone, with_dead, a.ms);
	CU_ASSERT(alone > 0 && with_dead > 0);
	CU_ASSERT_TRUE(connecting);
	CU_ASSERT_TRUE(still);
	CU_ASSERT_EQUAL(a.rc, EC_ETIMEDOUT);
	CU_ASSERT(a.ms >= 9500);
}

/* ---- the system's known_hosts -------------------------------------------------------- */

/* The context's user, and its SSH_CONNECTION's client port (0: none). */
static int whoami_port(ec_context *ctx, char *user, size_t ulen)
{
	int rc;
	ec_value *v = call0(ctx, "getpass", "getuser", NULL, &rc);
	snprintf(user, ulen, "%s", rc == 0 && is_text(v) ? v->u.s.data : "?");
	ec_value_free(v);
	v = call0(ctx, "os", "getenv", "SSH_CONNECTION", &rc);
	int p = rc == 0 ? client_port(v) : 0;
	ec_value_free(v);
	return p;
}

static void test_ssh_config(void)
{
	char user[128];
	/* An alias: HostName, Port, User, IdentityFile from the file (keywords in any case,
	 * key=value too); unknown keywords and Include ignored; the Host * User comes
	 * later and loses (the first value obtained wins). */
	ec_context *a = connect_or_fail("cfgalias", NULL);
	if (a) {
		int p = whoami_port(a, user, sizeof(user));
		CU_ASSERT_STRING_EQUAL(user, fx.user);
		CU_ASSERT(p > 0 && own_tcp_port(p) == 1);
		ec_context_shutdown(a, 3000, NULL);
	}
	/* The context's own keys win over the file's (its Port is closed, its User does
	 * not exist). */
	ec_context *o = connect_or_fail("cfgover", NULL);
	if (o) {
		whoami_port(o, user, sizeof(user));
		CU_ASSERT_STRING_EQUAL(user, fx.user);
		ec_context_shutdown(o, 3000, NULL);
	}
	/* A negated pattern keeps the closed port of "Host ec* !ecneg" away from ecneg. */
	ec_context *n = connect_or_fail("cfgneg", NULL);
	if (n) {
		whoami_port(n, user, sizeof(user));
		CU_ASSERT_STRING_EQUAL(user, fx.user);
		ec_context_shutdown(n, 3000, NULL);
	}
	/* ssh_config empty (the alias is then a name that does not resolve): checked in
	 * test_name_does_not_resolve's namespaces, where no query leaves the machine. */
}

static void test_ssh_config_proxyjump(void)
{
	char user[128];
	/* ProxyJump ecalias: tunnelled through the alias's session (sshd made the target's
	 * TCP connection, not us). */
	ec_context *j = connect_or_fail("cfgjump", NULL);
	if (j) {
		int p = whoami_port(j, user, sizeof(user));
		CU_ASSERT_STRING_EQUAL(user, fx.user);
		CU_ASSERT(p > 0 && own_tcp_port(p) == 0);
		ec_context_shutdown(j, 3000, NULL);
	}
	/* Two hops, the second as user@host:port. */
	long off = ec_test_file_size(fx.log);
	ec_context *j2 = connect_or_fail("cfgjump2", NULL);
	if (j2) {
		int p = whoami_port(j2, user, sizeof(user));
		CU_ASSERT_STRING_EQUAL(user, fx.user);
		CU_ASSERT(p > 0 && own_tcp_port(p) == 0);
		CU_ASSERT_EQUAL(ec_test_file_count(fx.log, "Accepted publickey for", off), 3);
		ec_context_shutdown(j2, 3000, NULL);
	}
}

static void test_global_known_hosts(void)
{
	char user_kh[600];
	snprintf(user_kh, sizeof(user_kh), "%s/kh_user", fxdir);
	unlink(user_kh);
	/* Known only to the system's file: accepted. */
	ec_context *ctx = connect_or_fail("glob", NULL);
	if (ctx)
		ec_context_shutdown(ctx, 3000, NULL);
	CU_ASSERT_NOT_EQUAL(access(user_kh, F_OK), 0); /* nothing written */
	/* accept-new adds nothing when the system's file knows the host. */
	const char *ov[] = {"host_key_checking=accept-new", NULL};
	ctx = connect_or_fail("glob", ov);
	if (ctx)
		ec_context_shutdown(ctx, 3000, NULL);
	CU_ASSERT_NOT_EQUAL(access(user_kh, F_OK), 0);
	/* A changed key in the system's file is named with its file and line. */
	struct ec_error err = {0};
	int rc = connect_fails("globchanged", NULL, &err);
	CU_ASSERT_EQUAL(rc, EC_EAUTH);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "REMOTE HOST IDENTIFICATION HAS CHANGED"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "kh_changed:1"));
	/* accept-new does not take a changed key for a new one, and writes nothing. */
	memset(&err, 0, sizeof(err));
	rc = connect_fails("globchanged", ov, &err);
	CU_ASSERT_EQUAL(rc, EC_EAUTH);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "REMOTE HOST IDENTIFICATION HAS CHANGED"));
	CU_ASSERT_NOT_EQUAL(access(user_kh, F_OK), 0);
}

static int run_netns(const char *what)
{
	return ec_test_script("sshd-netns.sh", what, nxdir, NULL, NULL);
}

int main(int argc, char **argv)
{
	setvbuf(stderr, NULL, _IONBF, 0);
	unsetenv("SSH_AUTH_SOCK");
	if (argc == 3 && !strcmp(argv[1], "--netns-child"))
		return netns_child(argv[2]);
	if (argc == 4 && !strcmp(argv[1], "--resolve-child"))
		return resolve_child(argv[2], argv[3]);
	snprintf(fxdir, sizeof(fxdir), "/tmp/ecssh-test.XXXXXX");
	if (!mkdtemp(fxdir)) {
		perror("mkdtemp");
		return 1;
	}
	int st = ec_test_sshd_fixture("start", fxdir);
	if (st == 77) {
		fprintf(stderr, "SKIP: no sshd on this machine (install openssh-server)\n");
		rmdir(fxdir);
		return 77;
	}
	if (st != 0) {
		fprintf(stderr, "the sshd fixture did not start\n");
		ec_test_sshd_fixture("stop", fxdir);
		return 1;
	}
	ec_test_sshd_env(fxdir, &fx);
	npythons = ec_test_pythons(pythons, 16);
	if (access("/usr/bin/python3", X_OK) == 0)
		pw_python = "/usr/bin/python3";
	if (write_config()) {
		ec_test_sshd_fixture("stop", fxdir);
		return 1;
	}

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	CU_pSuite s = CU_add_suite("ssh", suite_init, suite_clean);
	CU_add_test(s, "key authentication, calls, 3 MiB both ways", test_key_auth_call);
	CU_add_test(s, "a call on every Python interpreter", test_every_python);
	CU_add_test(s, "forwarded modules and their tracebacks over ssh", test_forwarded_modules);
	CU_add_test(s, "two contexts share one connection", test_two_contexts_share_connection);
	CU_add_test(s, "a second context of a name boots from the first's bytecode",
	            test_second_context_shares_bytecode);
	CU_add_test(s, "unknown host refused (strict)", test_unknown_host_refused);
	CU_add_test(s, "changed host key refused", test_changed_key_refused);
	CU_add_test(s, "accept-new appends exactly one line", test_accept_new);
	CU_add_test(s, "wrong key refused", test_wrong_key_refused);
	CU_pTest pw = CU_add_test(s, "password authentication (password_env)", test_password);
	CU_pTest pwa = CU_add_test(s, "password asked of the application, connect-back",
	                           test_password_asked_connect_back);
	CU_add_test(s, "closed port: prompt, clear error", test_closed_port);
	CU_add_test(s, "silent server: connect_timeout", test_silent_server_times_out);
	CU_add_test(s, "remote python missing", test_python_missing);
	CU_add_test(s, "host name looked up off the broker thread", test_host_name_lookup);
	CU_pTest nr = CU_add_test(s, "a name that does not resolve: prompt, clear error (netns)",
	                          test_name_does_not_resolve);
	CU_add_test(s, "jump hosts on loopback: one and two hops, shared hop", test_jump_loopback);
	CU_add_test(s, "connect-back over TLS: every interpreter, through one and two jump hosts",
	            test_connect_back);
	CU_add_test(s, "connect-back: the master killed, the context gone within 5 s (every "
	               "interpreter)", test_connect_back_master_killed);
	CU_add_test(s, "jump host errors", test_jump_errors);
	CU_pTest nx = CU_add_test(s, "jump hosts through network namespaces", test_jump_netns);
	CU_add_test(s, "an RSA key is refused with a clear message", test_rsa_key_refused_clearly);
	CU_pTest ag = CU_add_test(s, "ssh-agent authentication", test_agent);
	CU_pTest kbd = CU_add_test(s, "keyboard-interactive authentication (PAM)",
	                           test_keyboard_interactive);
	CU_add_test(s, "keepalives keep an idle session", test_keepalive);
	CU_add_test(s, "close waits for the remote exit (grace)", test_close_waits_for_exit);
	CU_add_test(s, "a dead host does not delay the others", test_dead_host_does_not_delay_others);
	CU_add_test(s, "file transfer over ssh and two jump hosts", test_transfer_over_ssh);
	CU_add_test(s, "the system's known_hosts is consulted, never written",
	            test_global_known_hosts);
	CU_add_test(s, "~/.ssh/config: Host aliases, precedence, negation", test_ssh_config);
	CU_add_test(s, "~/.ssh/config: ProxyJump, one and two hops", test_ssh_config_proxyjump);
	if (!fx.pw_user[0] || !pw_python) {
		fprintf(stderr, "SKIP: password authentication needs root (a test user with a "
		                "password) and /usr/bin/python3\n");
		CU_set_test_active(pw, CU_FALSE);
		CU_set_test_active(pwa, CU_FALSE);
	}
	if (!fx.pam_port[0] || !pw_python) {
		fprintf(stderr, "SKIP: keyboard-interactive needs root (a test user with a password, "
		                "an sshd with UsePAM yes) and /usr/bin/python3\n");
		CU_set_test_active(kbd, CU_FALSE);
	}
	if (system("command -v ssh-agent >/dev/null && command -v ssh-add >/dev/null") != 0) {
		fprintf(stderr, "SKIP: ssh-agent authentication needs ssh-agent and ssh-add\n");
		CU_set_test_active(ag, CU_FALSE);
	}
	/* A network and mount namespace of our own: as root, or as a user namespace's root. */
	const char *un[] = {"unshare -n -m", "unshare -r -n -m"};
	for (int i = 0; i < 2 && !unshare_cmd[0]; i++) {
		char probe[128];
		snprintf(probe, sizeof(probe), "%s true 2>/dev/null", un[i]);
		if (system(probe) == 0)
			snprintf(unshare_cmd, sizeof(unshare_cmd), "%s", un[i]);
	}
	if (!unshare_cmd[0]) {
		fprintf(stderr, "SKIP: a name that does not resolve (needs unshare -n -m: network "
		                "and mount namespaces are not permitted here)\n");
		CU_set_test_active(nr, CU_FALSE);
	}
	snprintf(nxdir, sizeof(nxdir), "/tmp/ecnx-test.XXXXXX");
	int nst = mkdtemp(nxdir) ? run_netns("start") : 77;
	if (nst != 0) {
		fprintf(stderr, "SKIP: jump hosts through network namespaces (%s)\n",
		        nst == 77 ? "not permitted here: needs root and ip netns" : "setup failed");
		CU_set_test_active(nx, CU_FALSE);
		if (nst == 77)
			rmdir(nxdir);
	}
	int rc = ec_test_run();
	if (nst != 77 && run_netns("stop"))
		fprintf(stderr, "warning: removing the network namespaces failed\n");
	if (silent_fd >= 0)
		close(silent_fd);
	if (ec_test_sshd_fixture("stop", fxdir))
		fprintf(stderr, "warning: stopping the sshd fixture failed\n");
	return rc;
}
