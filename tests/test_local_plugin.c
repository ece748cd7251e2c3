/* test_local_plugin.c: the local transport's ops (plugins/local/local.c, linked in)
 * driven through the mock host (tests/mockhost.c), without a master: create from a
 * config section, start a command, bytes both ways by the pollset contract, end of
 * stream, close with a grace, adopt; and the errors a section or a command gives. */
#include "ecbuild.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "econtext/transport.h"
#include "mockhost.h"
#include "testutil.h"

const struct ec_plugin *ec_plugin_local_describe(void);

static const struct ec_plugin *desc;
static const struct ec_transport_ops *ops;
static struct ec_mockhost *mh;
static void *state;

static const char one_context[] = "contexts:\n  t: {transport: local}\n";

static int suite_init(void)
{
	struct ec_error err = {0};
	desc = ec_plugin_local_describe();
	ops = desc->ops;
	mh = ec_mockhost_new("local");
	return !mh || desc->load(mh->host, &state, &err) != 0;
}

static int suite_clean(void)
{
	if (desc->unload)
		desc->unload(state);
	ec_mockhost_free(mh);
	return 0;
}

/* An instance for context t of yaml (fatal if it cannot be made). */
static void *instance(const char *yaml)
{
	const struct ec_cfg *cfg = NULL;
	struct ec_error err = {0};
	void *inst = NULL;
	CU_ASSERT_EQUAL_FATAL(ec_mockhost_cfg(mh, yaml, "t", desc->params, &cfg, &err), 0);
	struct ec_transport_info info = {.context_name = "t", .host = mh->host};
	CU_ASSERT_EQUAL_FATAL(ops->create(state, cfg, &info, &inst, &err), 0);
	return inst;
}

static void *started(const char *script)
{
	void *inst = instance(one_context);
	char *argv[] = {"/bin/sh", "-c", (char *)script, NULL};
	struct ec_argv av = {argv, 3};
	struct ec_pollset ps = {.cap = EC_POLLSET_CAP};
	struct ec_error err = {0};
	int rc = ops->start(inst, &av, &ps, &err);
	if (rc)
		fprintf(stderr, "start: %s\n", err.msg);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	return inst;
}

/* Send out[0, len) and read into in[0, cap) until cap bytes came, or end of stream if
 * to_eof, waiting in poll() on what the pollsets say. The bytes read, or -1. */
static ssize_t pump(void *inst, const char *out, size_t len, char *in, size_t cap, int to_eof)
{
	size_t sent = 0, got = 0;
	struct ec_error err = {0};
	while (to_eof || got < cap) {
		struct ec_pollset wps = {.cap = EC_POLLSET_CAP}, rps = {.cap = EC_POLLSET_CAP};
		int moved = 0;
		if (sent < len) {
			ssize_t n = ops->send(inst, out + sent, len - sent, &wps, &err);
			if (n < 0 && n != EC_EAGAIN)
				return -1;
			moved |= n > 0;
			sent += n > 0 ? (size_t)n : 0;
		}
		ssize_t n = ops->recv(inst, in + got, cap - got, &rps, &err);
		if (n == 0 && got < cap)
			break; /* end of stream */
		if (n < 0 && n != EC_EAGAIN)
			return -1;
		moved |= n > 0;
		got += n > 0 ? (size_t)n : 0;
		if (moved)
			continue;
		/* Both would block: the pollsets say on what. */
		struct pollfd p[2];
		nfds_t np = 0;
		if (wps.n)
			p[np++] = (struct pollfd){.fd = wps.fds[0].fd, .events = POLLOUT};
		if (rps.n && (rps.fds[0].events & EC_POLL_IN))
			p[np++] = (struct pollfd){.fd = rps.fds[0].fd, .events = POLLIN};
		CU_ASSERT_FATAL(np > 0);
		if (poll(p, np, 30000) <= 0)
			return -1;
	}
	return (ssize_t)got;
}

/* The instance's children are all reaped: none is left. */
static int no_children(void)
{
	return waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD;
}

static void test_round_trip_to_eof(void)
{
	void *inst = started("read line; echo \"got $line\"");
	struct ec_pollset idle = {.cap = EC_POLLSET_CAP};
	ops->pollset(inst, EC_POLL_IN, &idle);
	CU_ASSERT_EQUAL(idle.n, 1);
	CU_ASSERT(idle.fds[0].fd >= 0);
	CU_ASSERT_EQUAL(idle.fds[0].events, EC_POLL_IN);
	char in[64] = {0};
	CU_ASSERT_EQUAL(pump(inst, "hello\n", 6, in, sizeof(in) - 1, 1), 10);
	CU_ASSERT_STRING_EQUAL(in, "got hello\n");
	ops->close(inst, 5000);
	CU_ASSERT(no_children());
	ops->destroy(inst);
}

static void test_bulk_then_close(void)
{
	/* More than a socketpair holds: send and recv wait on each other through poll. */
	size_t n = 4u << 20;
	char *out = malloc(n), *in = malloc(n);
	for (size_t i = 0; i < n; i++)
		out[i] = (char)(i * 7 + i / 251);
	void *inst = started("exec cat");
	CU_ASSERT_EQUAL(pump(inst, out, n, in, n, 0), (ssize_t)n);
	CU_ASSERT(memcmp(in, out, n) == 0);
	/* cat exits at the end of its input, within the grace. */
	ops->close(inst, 30000);
	CU_ASSERT(no_children());
	ops->destroy(inst);
	free(out);
	free(in);
}

static void test_close_kills_after_grace(void)
{
	void *inst = started("exec sleep 600");
	ops->close(inst, 100); /* sleep ignores its input: killed when the grace runs out */
	CU_ASSERT(no_children());
	ops->close(inst, 100); /* a second close has nothing left to do */
	ops->destroy(inst);
}

static void test_destroy_closes(void)
{
	ops->destroy(started("exec cat"));
	CU_ASSERT(no_children());
	ops->destroy(NULL);
}

static void test_adopt(void)
{
	/* A direct boot: the core spawns, the layer takes pid and fd as its own. */
	char *argv[] = {"cat", NULL};
	pid_t pid = -1;
	int fd = -1;
	struct ec_error err = {0};
	CU_ASSERT_EQUAL(desc->abi_major == EC_PLUGIN_ABI_MAJOR && ops->size >= sizeof(struct ec_transport_ops), 1);
	CU_ASSERT_EQUAL(ops->runs, EC_RUNS_HERE_AS_MASTER);
	CU_ASSERT_EQUAL_FATAL(mh->host->child_spawn("t", argv, NULL, &pid, &fd, &err), 0);
	void *inst = instance(one_context);
	CU_ASSERT_EQUAL(ops->adopt(inst, pid, fd, &err), 0);
	char in[8] = {0};
	CU_ASSERT_EQUAL(pump(inst, "adopted", 7, in, 7, 0), 7);
	CU_ASSERT_STRING_EQUAL(in, "adopted");
	ops->close(inst, 30000);
	CU_ASSERT(no_children());
	ops->destroy(inst);
}

static void test_start_fails(void)
{
	void *inst = instance(one_context);
	char *argv[] = {"/nonexistent/econtext-test", NULL};
	struct ec_argv av = {argv, 1};
	struct ec_pollset ps = {.cap = EC_POLLSET_CAP};
	struct ec_error err = {0};
	const char *preload = getenv("LD_PRELOAD");
	if (preload && strstr(preload, "vgpreload")) {
		/* Under valgrind, posix_spawn forks and cannot report the exec's failure: the
		 * child exits 127 and the stream ends. */
		char in[16];
		CU_ASSERT_EQUAL(ops->start(inst, &av, &ps, &err), 0);
		CU_ASSERT_EQUAL(pump(inst, NULL, 0, in, sizeof(in), 1), 0);
	} else {
		CU_ASSERT_EQUAL(ops->start(inst, &av, &ps, &err), EC_EBOOT);
		CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "cannot run /nonexistent/econtext-test"));
		CU_ASSERT_STRING_EQUAL(err.where, "t");
	}
	ops->close(inst, 0);
	ops->destroy(inst);
	CU_ASSERT(no_children());
}

static void test_config_errors(void)
{
	const struct ec_cfg *cfg = NULL;
	struct ec_error err = {0};
	/* The plugin's schema (none: only the core's keys) refuses a key it does not take. */
	CU_ASSERT_EQUAL(ec_mockhost_cfg(mh, "contexts:\n  t: {transport: local, colour: red}\n",
	                                "t", desc->params, &cfg, &err),
	                EC_ECONFIG);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "colour"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err.where, "<mock>:2:"));

	/* local runs nothing via another context: create says where via is. */
	CU_ASSERT_EQUAL_FATAL(ec_mockhost_cfg(mh,
	                                      "contexts:\n"
	                                      "  hop: {transport: local}\n"
	                                      "  t: {transport: local, via: hop}\n",
	                                      "t", desc->params, &cfg, &err),
	                      0);
	struct ec_transport below = {.name = "local"};
	struct ec_transport_info info = {.context_name = "t", .host = mh->host, .below = &below};
	void *inst = NULL;
	memset(&err, 0, sizeof(err));
	CU_ASSERT_EQUAL(ops->create(state, cfg, &info, &inst, &err), EC_ECONFIG);
	CU_ASSERT_PTR_NULL(inst);
	CU_ASSERT_PTR_NOT_NULL(
		strstr(err.msg, "context 't': the local transport cannot run via another context"));
	CU_ASSERT_STRING_EQUAL(err.where, mh->host->cfg_where(cfg, "via"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err.where, "<mock>:3:"));
}

static void test_mock_host(void)
{
	/* Records carry the plugin's logger; secrets come from the table. */
	struct ec_mockhost *m = ec_mockhost_new("demo");
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	m->host->log(m->host, EC_LOG_INFO, "hello %d", 42);
	int level = 0;
	CU_ASSERT_EQUAL(ec_mockhost_log_count(m, "hello 42", &level), 1);
	CU_ASSERT_EQUAL(level, EC_LOG_INFO);
	CU_ASSERT_STRING_EQUAL(m->log[0].logger, "econtext.demo");
	ec_mockhost_log_clear(m);
	CU_ASSERT_EQUAL(ec_mockhost_log_count(m, NULL, NULL), 0);

	char buf[32];
	size_t len = 0;
	struct ec_error err = {0};
	CU_ASSERT_EQUAL(m->host->secret_get(m->host, "k", "p: ", buf, sizeof(buf), &len, &err),
	                EC_ENOTFOUND);
	int i = ec_mockhost_secret(m, "k", "s3cret");
	CU_ASSERT_EQUAL_FATAL(i, 0);
	CU_ASSERT_EQUAL(m->host->secret_get(m->host, "k", "p: ", buf, sizeof(buf), &len, &err), 0);
	CU_ASSERT_EQUAL(len, 6);
	CU_ASSERT_STRING_EQUAL(buf, "s3cret");
	CU_ASSERT_EQUAL(m->host->secret_get(m->host, "k", "p: ", buf, 4, &len, &err), EC_EINVAL);
	m->host->secret_forget(m->host, "k");
	CU_ASSERT(m->secrets[i].forgotten);
	CU_ASSERT_EQUAL(m->secrets[i].asked, 2);
	CU_ASSERT_EQUAL(m->host->secret_get(m->host, "k", "p: ", buf, sizeof(buf), &len, &err),
	                EC_ENOTFOUND);
	ec_mockhost_free(m);
}

int main(void)
{
	CU_initialize_registry();
	CU_pSuite s = CU_add_suite("local transport on a mock host", suite_init, suite_clean);
	CU_add_test(s, "a line there and back, then end of stream", test_round_trip_to_eof);
	CU_add_test(s, "4 MiB through cat, close within the grace", test_bulk_then_close);
	CU_add_test(s, "close kills a child that outlives the grace", test_close_kills_after_grace);
	CU_add_test(s, "destroy closes and reaps", test_destroy_closes);
	CU_add_test(s, "adopt takes a child the core spawned", test_adopt);
	CU_add_test(s, "a command that cannot run", test_start_fails);
	CU_add_test(s, "bad sections: unknown key, via", test_config_errors);
	CU_pSuite m = CU_add_suite("the mock host", NULL, NULL);
	CU_add_test(m, "log records and secrets", test_mock_host);
	return ec_test_run();
}
