/* test_prompt.c: passwords asked on the terminal. The `econtext` command runs under a
 * pseudo-terminal (forkpty); the test waits for its prompt, types the password and checks
 * the result: sudo on this machine (a test user of tests/sudo_fixture.sh, whose password
 * sudo asks for), ssh password authentication against the test sshd
 * (tests/sshd-fixture.sh), a wrong password typed (the clear error, promptly), no prompt
 * when stdin is not a terminal, and time at the prompt not counted in connect_timeout.
 * Through the C API, with a prompt callback that counts its calls: two contexts that need
 * the same sudo password ask once; a refused answer is forgotten and asked again; a
 * declined prompt fails with a clear message.
 *
 * Needs root (it creates the test users); sudo and sshd cases skip visibly when their
 * fixture is unavailable. */
#include "ecbuild.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "econtext.h"
#include "testutil.h"

#define PY "/usr/bin/python3"
#define SRC "ecsudo_src"
#define PW_TARGET "ecsudo_pw"
#define SUDO_PROMPT "[sudo] password for " SRC " on "

static char password[64], wrong[64];
static char tmpdir[256], config[512], fxdir[64];
static struct ec_test_sshd fx;
static int have_sudo, have_ssh;

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int become(const char *user)
{
	return ec_test_become(user, tmpdir);
}

/* ---- the command under a pseudo-terminal ----------------------------------------- */

struct pty_run {
	pid_t pid;
	int fd;         /* the master side */
	char out[32768]; /* everything it printed (the terminal's view) */
	size_t len;
	int status;
};

/* Start `econtext -c config call CONTEXT ARGS...` on a new pty, as user (NULL: root);
 * stdin_null: stdin from /dev/null, the pty still its controlling terminal. */
static int pty_start(struct pty_run *r, const char *user, int stdin_null, const char *context,
                     const char *func)
{
	memset(r, 0, sizeof(*r));
	char ec[1024];
	snprintf(ec, sizeof(ec), "%s/econtext", ec_test_builddir());
	fflush(NULL);
	r->pid = forkpty(&r->fd, NULL, NULL, NULL);
	if (r->pid < 0)
		return -1;
	if (r->pid == 0) {
		if (user && become(user))
			_exit(120);
		if (stdin_null) {
			int n = open("/dev/null", O_RDONLY);
			if (n < 0 || dup2(n, 0) < 0)
				_exit(121);
		}
		unsetenv("SSH_AUTH_SOCK");
		execl(ec, ec, "-c", config, "call", context, func, (char *)NULL);
		_exit(127);
	}
	return 0;
}

/* Read what is there, waiting up to ms; 0 at end of output. */
static int pty_read(struct pty_run *r, int ms)
{
	struct pollfd p = {.fd = r->fd, .events = POLLIN};
	if (poll(&p, 1, ms) <= 0)
		return 1;
	if (r->len + 1 >= sizeof(r->out))
		r->len = 0;
	ssize_t n = read(r->fd, r->out + r->len, sizeof(r->out) - 1 - r->len);
	if (n <= 0)
		return 0; /* EIO: the other side is closed */
	r->len += (size_t)n;
	r->out[r->len] = '\0';
	return 1;
}

/* Wait up to ms for text to be printed. */
static int pty_wait_for(struct pty_run *r, const char *text, int ms)
{
	double end = ec_test_now_s() + ms / 1000.0;
	while (!strstr(r->out, text)) {
		double left = end - ec_test_now_s();
		if (left <= 0 || !pty_read(r, (int)(left * 1000) + 1))
			return 0;
	}
	return 1;
}

/* Type a line, as a person would (Enter is a carriage return). */
static void pty_type(struct pty_run *r, const char *line)
{
	ssize_t w = write(r->fd, line, strlen(line));
	w = write(r->fd, "\r", 1);
	(void)w;
}

/* Wait up to ms for the command to exit, reading what it prints; 1 once reaped (its
 * status in r->status). */
static int pty_reap(struct pty_run *r, int ms)
{
	double end = ec_test_now_s() + ms / 1000.0;
	while (r->pid > 0 && ec_test_now_s() < end) {
		if (waitpid(r->pid, &r->status, WNOHANG) == r->pid)
			r->pid = 0;
		else if (!pty_read(r, 10))
			sleep_ms(10); /* its output ended: it is about to go */
	}
	return r->pid == 0;
}

/* Read to the end (up to ms), reap; the exit status, or -1. */
static int pty_finish(struct pty_run *r, int ms)
{
	double t0 = ec_test_now_s(), end = t0 + ms / 1000.0;
	while (ec_test_now_s() < end && pty_read(r, 100))
		;
	fprintf(stderr, "    (output ended after %.2f s)\n", ec_test_now_s() - t0);
	pid_t w = r->pid > 0 ? 0 : -1; /* -1: reaped already (pty_reap) */
	while (w == 0 && (w = waitpid(r->pid, &r->status, WNOHANG)) == 0 && ec_test_now_s() < end)
		sleep_ms(10);
	if (w == 0) {
		kill(r->pid, SIGKILL);
		waitpid(r->pid, &r->status, 0);
		fprintf(stderr, "    (killed: still running after %d ms)\n", ms);
	}
	close(r->fd);
	fprintf(stderr, "    terminal:\n%s\n", r->out);
	return WIFEXITED(r->status) ? WEXITSTATUS(r->status) : -1;
}

/* ---- sudo under a terminal ---------------------------------------------------------- */

static void test_sudo_tty(void)
{
	/* connect_timeout is 10 s (wide: the boot after the prompt must fit in it); the
	 * password comes 11 s after the prompt: time at the prompt does not count. */
	struct pty_run r;
	CU_ASSERT_EQUAL_FATAL(pty_start(&r, SRC, 0, "sudo_pause", "os.getuid"), 0);
	int prompted = pty_wait_for(&r, SUDO_PROMPT, 30000);
	CU_ASSERT_TRUE(prompted);
	if (prompted) {
		CU_ASSERT_TRUE(pty_wait_for(&r, ": ", 30000));
		sleep_ms(11000);
		pty_type(&r, password);
	}
	int code = pty_finish(&r, 40000);
	CU_ASSERT_EQUAL(code, 0);
	char want[64];
	snprintf(want, sizeof(want), "\n%ld", ec_test_uid_of(PW_TARGET));
	CU_ASSERT_PTR_NOT_NULL(strstr(r.out, want));
	CU_ASSERT_PTR_NULL(strstr(r.out, password)); /* not echoed */
}

static void test_sudo_tty_wrong(void)
{
	struct pty_run r;
	CU_ASSERT_EQUAL_FATAL(pty_start(&r, SRC, 0, "sudo_tty", "os.getuid"), 0);
	int prompted = pty_wait_for(&r, SUDO_PROMPT, 30000);
	CU_ASSERT_TRUE(prompted);
	double t0 = ec_test_now_s();
	if (prompted) {
		pty_wait_for(&r, ": ", 30000);
		pty_type(&r, wrong);
	}
	int code = pty_finish(&r, 40000);
	fprintf(stderr, "    (refused %.2f s after the prompt)\n", ec_test_now_s() - t0);
	CU_ASSERT_EQUAL(code, 4);
	CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "sudo: incorrect password for " SRC " on "));
	/* Promptly: on sudo's answer (about 2 s of PAM delay), not at connect_timeout. */
	CU_ASSERT_PTR_NULL(strstr(r.out, "did not start within"));
	/* asked once: no second prompt */
	const char *first = strstr(r.out, SUDO_PROMPT);
	CU_ASSERT_TRUE(first && !strstr(first + 1, SUDO_PROMPT));
	CU_ASSERT_PTR_NULL(strstr(r.out, wrong));
}

static void test_sudo_tty_interrupt(void)
{
	/* Ctrl-C at the prompt: the command ends by SIGINT, and echo is back on. */
	struct pty_run r;
	CU_ASSERT_EQUAL_FATAL(pty_start(&r, SRC, 0, "sudo_tty", "os.getuid"), 0);
	int prompted = pty_wait_for(&r, SUDO_PROMPT, 30000) && pty_wait_for(&r, ": ", 30000);
	CU_ASSERT_TRUE(prompted);
	struct termios during = {0}, after = {0};
	/* Echo goes off around the prompt: wait for it (up to 30 s). */
	for (int i = 0; i < 3000; i++) {
		tcgetattr(r.fd, &during);
		if (!(during.c_lflag & ECHO))
			break;
		sleep_ms(10);
	}
	ssize_t w = write(r.fd, "\003", 1); /* the terminal's VINTR */
	(void)w;
	/* Once the command is gone, its terminal is as it left it. */
	CU_ASSERT_TRUE(pty_reap(&r, 30000));
	tcgetattr(r.fd, &after);
	pty_finish(&r, 10000);
	CU_ASSERT_FALSE(during.c_lflag & ECHO);
	CU_ASSERT_TRUE(after.c_lflag & ECHO);
	CU_ASSERT_TRUE(WIFSIGNALED(r.status) && WTERMSIG(r.status) == SIGINT);
}

static void test_sudo_no_terminal_stdin(void)
{
	/* stdin is not a terminal: no prompt, the error of before. */
	struct pty_run r;
	CU_ASSERT_EQUAL_FATAL(pty_start(&r, SRC, 1, "sudo_tty", "os.getuid"), 0);
	int code = pty_finish(&r, 40000);
	CU_ASSERT_EQUAL(code, 4);
	CU_ASSERT_PTR_NULL(strstr(r.out, SUDO_PROMPT));
	CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "neither password_env nor password_file"));
}

/* ---- ssh under a terminal -------------------------------------------------------------- */

/* Run the ssh context under a pty, as root; 1 once its prompt (into prompt) shows. */
static int ssh_prompted(struct pty_run *r, char *prompt, size_t cap)
{
	snprintf(prompt, cap, "%s@127.0.0.1's password: ", fx.pw_user);
	if (pty_start(r, NULL, 0, "ssh_tty", "getpass.getuser"))
		return 0;
	return pty_wait_for(r, prompt, 30000);
}

static void test_ssh_tty(void)
{
	char prompt[128];
	struct pty_run r;
	int prompted = ssh_prompted(&r, prompt, sizeof(prompt));
	CU_ASSERT_TRUE(prompted);
	if (prompted) {
		sleep_ms(11000); /* past connect_timeout (10 s): paused at the prompt */
		pty_type(&r, fx.pw_password);
	}
	int code = pty_finish(&r, 40000);
	CU_ASSERT_EQUAL(code, 0);
	char want[128];
	snprintf(want, sizeof(want), "\"%s\"", fx.pw_user);
	CU_ASSERT_PTR_NOT_NULL(strstr(r.out, want));
	CU_ASSERT_PTR_NULL(strstr(r.out, fx.pw_password));
}

static void test_ssh_tty_wrong(void)
{
	char prompt[128];
	struct pty_run r;
	int prompted = ssh_prompted(&r, prompt, sizeof(prompt));
	CU_ASSERT_TRUE(prompted);
	double t0 = ec_test_now_s();
	if (prompted)
		pty_type(&r, wrong);
	int code = pty_finish(&r, 40000);
	fprintf(stderr, "    (refused %.2f s after the prompt)\n", ec_test_now_s() - t0);
	CU_ASSERT_EQUAL(code, 4);
	CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "password (refused)"));
	/* Promptly: on the server's answer, not at connect_timeout. */
	CU_ASSERT_PTR_NULL(strstr(r.out, "did not start within"));
	const char *first = strstr(r.out, prompt);
	CU_ASSERT_TRUE(first && !strstr(first + 1, prompt)); /* asked once */
}

/* ---- the C API: asked once, forgotten when refused ------------------------------------ */

struct answers {
	int calls;
	const char *first, *then; /* what to answer the first time, and after; NULL: decline */
	char prompt[256];
	char context[64];
};

static int answer_fn(void *data, const struct ec_secret_request *req, char *buf, size_t cap)
{
	struct answers *a = data;
	int n = __atomic_add_fetch(&a->calls, 1, __ATOMIC_SEQ_CST);
	snprintf(a->prompt, sizeof(a->prompt), "%s", req->prompt);
	snprintf(a->context, sizeof(a->context), "%s", req->context);
	sleep_ms(500); /* both contexts are waiting by now */
	const char *v = n == 1 ? a->first : a->then;
	if (!v)
		return EC_EAUTH;
	snprintf(buf, cap, "%s", v);
	return 0;
}

struct conn {
	ec_master *m;
	const char *name;
	int rc;
	long uid;
	char msg[512];
};

static void *connect_thread(void *arg)
{
	struct conn *c = arg;
	ec_context *ctx = NULL;
	struct ec_error err = {0};
	c->rc = ec_context_connect(c->m, c->name, NULL, 0, &ctx, &err);
	snprintf(c->msg, sizeof(c->msg), "%s", err.msg);
	if (c->rc == 0) {
		ec_value *res = NULL;
		if (ec_context_call(ctx, "os", "getuid", NULL, NULL, 10000, &res, &err) == 0 &&
		    res->type == EC_T_INT)
			c->uid = (long)res->u.i;
		ec_value_free(res);
		ec_context_shutdown(ctx, 3000, NULL);
	}
	return NULL;
}

static ec_master *api_master(struct answers *a)
{
	struct ec_master_options mo = {.size = sizeof(mo), .config_path = config,
	                               .log_level = EC_LOG_ERROR};
	ec_master *m = NULL;
	struct ec_error err = {0};
	if (ec_master_new(&mo, &m, &err)) {
		fprintf(stderr, "master: %s\n", err.msg);
		return NULL;
	}
	ec_master_set_secret_prompt(m, answer_fn, a);
	return m;
}

#define CHECK(bit, cond)                                                                  \
	do {                                                                              \
		if (!(cond)) {                                                            \
			fprintf(stderr, "    check failed: %s\n", #cond);                    \
			bad |= (bit);                                                     \
		}                                                                         \
	} while (0)

/* In a child that became SRC; the exit status says which checks failed. */
static int api_scenarios(void)
{
	int bad = 0;
	long target = ec_test_uid_of(PW_TARGET);
	/* Two contexts at once, same (host, user): one question. */
	struct answers a = {.first = password, .then = password};
	ec_master *m = api_master(&a);
	if (!m)
		return 0x7f;
	struct conn c1 = {.m = m, .name = "sudo_tty"}, c2 = {.m = m, .name = "sudo_tty2"};
	pthread_t t1, t2;
	pthread_create(&t1, NULL, connect_thread, &c1);
	pthread_create(&t2, NULL, connect_thread, &c2);
	pthread_join(t1, NULL);
	pthread_join(t2, NULL);
	fprintf(stderr, "    two at once: rc %d %d, uid %ld %ld, %d question(s): %s\n", c1.rc, c2.rc,
	        c1.uid, c2.uid, a.calls, a.prompt);
	CHECK(1, c1.rc == 0 && c2.rc == 0 && c1.uid == target && c2.uid == target);
	CHECK(2, a.calls == 1 && strncmp(a.prompt, SUDO_PROMPT, strlen(SUDO_PROMPT)) == 0);
	/* A third, later: sudo asks again (timestamp_timeout=0), the answer is kept. */
	struct conn c3 = {.m = m, .name = "sudo_tty"};
	connect_thread(&c3);
	CHECK(4, c3.rc == 0 && c3.uid == target && a.calls == 1);
	ec_master_free(m);

	/* A wrong answer: the clear error, forgotten, and the next context asks again. */
	struct answers b = {.first = wrong, .then = password};
	m = api_master(&b);
	if (!m)
		return 0x7f;
	struct conn d1 = {.m = m, .name = "sudo_tty"}, d2 = {.m = m, .name = "sudo_tty"};
	connect_thread(&d1);
	connect_thread(&d2);
	fprintf(stderr, "    wrong, then right: rc %d (%s), rc %d, %d question(s)\n", d1.rc, d1.msg,
	        d2.rc, b.calls);
	CHECK(8, d1.rc == EC_EAUTH && strstr(d1.msg, "sudo: incorrect password for " SRC " on "));
	CHECK(16, d2.rc == 0 && d2.uid == target && b.calls == 2);
	CHECK(32, !strstr(d1.msg, wrong));
	ec_master_free(m);

	/* Declined: a clear error naming the prompt. */
	struct answers c = {.first = NULL, .then = NULL};
	m = api_master(&c);
	if (!m)
		return 0x7f;
	struct conn e1 = {.m = m, .name = "sudo_tty"};
	connect_thread(&e1);
	fprintf(stderr, "    declined: rc %d (%s)\n", e1.rc, e1.msg);
	CHECK(64, e1.rc == EC_EAUTH && strstr(e1.msg, "no password was given") &&
	              strstr(e1.msg, SUDO_PROMPT) && !strcmp(c.context, "sudo_tty"));
	ec_master_free(m);
	return bad;
}

static void test_api_asked_once(void)
{
	fflush(NULL);
	pid_t pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0)
		_exit(become(SRC) ? 0x7e : api_scenarios());
	int st = 0;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	CU_ASSERT_TRUE(WIFEXITED(st));
	CU_ASSERT_EQUAL(WEXITSTATUS(st), 0);
}

/* ---- fixtures --------------------------------------------------------------------------- */

static int write_config(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/ec_test_prompt.XXXXXX");
	if (!mkdtemp(tmpdir) || chmod(tmpdir, 0755))
		return -1;
	snprintf(config, sizeof(config), "%s/econtext.yaml", tmpdir);
	FILE *f = fopen(config, "w");
	if (!f)
		return -1;
	fprintf(f,
	        "contexts:\n"
	        "  sudo_tty: {transport: sudo, username: " PW_TARGET ", python: " PY ",\n"
	        "             connect_timeout: 30}\n"
	        "  sudo_pause: {transport: sudo, username: " PW_TARGET ", python: " PY ",\n"
	        "               connect_timeout: 10}\n"
	        "  sudo_tty2: {transport: sudo, username: " PW_TARGET ", sudo_args: [-H],\n"
	        "              python: " PY ", connect_timeout: 30}\n");
	if (have_ssh)
		fprintf(f,
		        "  ssh_tty: {transport: ssh, hostname: 127.0.0.1, port: %s, username: %s,\n"
		        "            agent: false, identity_file: [], known_hosts: %s,\n"
		        "            ssh_config: \"\", python: " PY ", connect_timeout: 10}\n",
		        fx.port, fx.pw_user, fx.known_hosts);
	fclose(f);
	return chmod(config, 0644);
}

int main(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	setvbuf(stderr, NULL, _IONBF, 0);
	if (geteuid() != 0)
		return ec_test_skip("prompt tests", "not root (they create test users with passwords; "
		                    "CI runs as root)");
	if (access(PY, X_OK))
		return ec_test_skip("prompt tests", PY " is missing");
	if (ec_test_passwords("EcTty", password, sizeof(password), "EcTtyWrong", wrong,
	                      sizeof(wrong)))
		return 1;

	/* sudo: the users and sudoers drop-in of test_sudo, one run at a time. */
	char sudo_why[256] = "";
	const char *missing = ec_test_sudo_missing();
	if (missing)
		snprintf(sudo_why, sizeof(sudo_why), "%s", missing);
	else if (ec_test_sudo_lock())
		snprintf(sudo_why, sizeof(sudo_why), "cannot take /tmp/ec_test_sudo.lock");
	else if (ec_test_sudo_fixture("setup", password)) {
		ec_test_sudo_fixture("teardown", password);
		fprintf(stderr, "sudo_fixture.sh setup failed\n");
		return 1;
	} else
		have_sudo = 1;

	/* ssh: the sshd fixture's password user (root only). */
	char ssh_why[256] = "", so[1024];
	snprintf(so, sizeof(so), "%s/plugins/ssh/.libs/ssh.so", ec_test_builddir());
	snprintf(fxdir, sizeof(fxdir), "/tmp/ecprompt-ssh.XXXXXX");
	int fst = access(so, R_OK) ? 76 : mkdtemp(fxdir) ? ec_test_sshd_fixture("start", fxdir) : 1;
	if (fst == 0)
		ec_test_sshd_env(fxdir, &fx);
	if (fst == 76)
		snprintf(ssh_why, sizeof(ssh_why), "the ssh plugin is not built (libssh2)");
	else if (fst == 77)
		snprintf(ssh_why, sizeof(ssh_why), "no sshd (install openssh-server)");
	else if (fst != 0)
		snprintf(ssh_why, sizeof(ssh_why), "the sshd fixture did not start");
	else if (!fx.pw_user[0] || !fx.pw_password[0])
		snprintf(ssh_why, sizeof(ssh_why), "the sshd fixture has no password user");
	else
		have_ssh = 1;

	if (write_config())
		return ec_test_skip("prompt tests", "cannot write the test files in /tmp");
	if (have_sudo && !ec_test_user_can_sudo_from(SRC, tmpdir, PY)) {
		have_sudo = 0;
		snprintf(sudo_why, sizeof(sudo_why), "the test user %s cannot read this build tree "
		         "or run " PY, SRC);
	}

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	CU_pSuite s = CU_add_suite("sudo: the password asked on the terminal", NULL, NULL);
	CU_add_test(s, "typed at the prompt; time there not in connect_timeout", test_sudo_tty);
	CU_add_test(s, "a wrong password typed: the clear error, asked once", test_sudo_tty_wrong);
	CU_add_test(s, "Ctrl-C at the prompt: echo restored, ended by SIGINT",
	            test_sudo_tty_interrupt);
	CU_add_test(s, "stdin not a terminal: no prompt, the error of before",
	            test_sudo_no_terminal_stdin);
	CU_add_test(s, "C API: asked once for two contexts; refused forgotten; declined",
	            test_api_asked_once);
	ec_test_suite_skip_unless(s, have_sudo, "sudo prompt tests", sudo_why);
	CU_pSuite t = CU_add_suite("ssh: the password asked on the terminal", NULL, NULL);
	CU_add_test(t, "typed at the prompt; time there not in connect_timeout", test_ssh_tty);
	CU_add_test(t, "a wrong password typed: the clear error, asked once", test_ssh_tty_wrong);
	ec_test_suite_skip_unless(t, have_ssh, "ssh prompt tests", ssh_why);
	int rc = ec_test_run();
	if (have_sudo && ec_test_sudo_fixture("teardown", password))
		rc = 1;
	if (fst != 77 && fst != 76 && ec_test_sshd_fixture("stop", fxdir))
		fprintf(stderr, "warning: stopping the sshd fixture failed\n");
	if (fst == 77)
		rmdir(fxdir);
	unlink(config);
	rmdir(tmpdir);
	explicit_bzero(password, sizeof(password));
	return rc;
}
