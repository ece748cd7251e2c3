/* test_select.c: async connect and select (econtext.h): one thread connects 100 local
 * contexts at once on the interpreters found (and a few that fail: a missing python),
 * waiting in one select; then calls on all of them in one select, quick ones, failing
 * ones and slow ones, with deadlines; then channels and calls on a quarter of them. Each item is reported exactly once, nothing ready
 * is missed, every failure says why, and nothing is left behind. */
#include "ecbuild.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "econtext.h"
#include "testutil.h"

#define NCTX 100
#define NBAD 4

static struct ec_test_python pythons[16];
static size_t npythons;

struct item {
	int idx;
	int seen;
	ec_connect *conn;
	ec_context *ctx;
	ec_call *call;
	int bad; /* expected to fail */
};

/* Wait on sel until every item of its count was reported; each tag once. */
static int drain(ec_select *sel, size_t expect)
{
	size_t total = 0;
	while (ec_select_count(sel)) {
		void *tags[16];
		size_t n = 0;
		struct ec_error err = {0};
		int rc = ec_select_wait(sel, 60000, tags, 16, &n, &err);
		CU_ASSERT_EQUAL(rc, 0);
		if (rc) {
			fprintf(stderr, "select: %s\n", err.msg);
			return -1;
		}
		CU_ASSERT(n >= 1 && n <= 16);
		for (size_t i = 0; i < n; i++) {
			struct item *it = tags[i];
			CU_ASSERT_EQUAL(it->seen, 0); /* never twice */
			it->seen++;
		}
		total += n;
	}
	CU_ASSERT_EQUAL(total, expect);
	return 0;
}

static void test_many(void)
{
	static struct item items[NCTX + NBAD];
	const char *paths[16];
	size_t np = 0;
	for (size_t i = 0; i < npythons; i++)
		if (pythons[i].path[0])
			paths[np++] = pythons[i].path;
	CU_ASSERT_FATAL(np > 0);
	char chandir[1200];
	snprintf(chandir, sizeof(chandir), "%s/tests/data/chan", ec_test_srcdir());
	const char *mp[] = {chandir, NULL};
	struct ec_master_options mo = {.size = sizeof(mo), .config_path = "/dev/null",
	                               .log_level = EC_LOG_ERROR, .module_path = mp};
	ec_master *m = NULL;
	struct ec_error err = {0};
	CU_ASSERT_EQUAL_FATAL(ec_master_new(&mo, &m, &err), 0);
	ec_select *sel = NULL;
	CU_ASSERT_EQUAL_FATAL(ec_select_new(m, &sel, &err), 0);
	double t0 = ec_test_now_s();
	for (int i = 0; i < NCTX + NBAD; i++) {
		struct item *it = &items[i];
		memset(it, 0, sizeof(*it));
		it->idx = i;
		it->bad = i >= NCTX;
		char name[32], py[600];
		snprintf(name, sizeof(name), "c%d", i);
		if (it->bad)
			snprintf(py, sizeof(py), "python=/nonexistent/python%d", i);
		else
			snprintf(py, sizeof(py), "python=%s", paths[i % np]);
		const char *ov[] = {"transport=local", py, NULL};
		CU_ASSERT_EQUAL_FATAL(ec_context_connect_async(m, name, ov, 60000, &it->conn, &err), 0);
		CU_ASSERT_EQUAL(ec_select_add_connect(sel, it->conn, it, &err), 0);
	}
	CU_ASSERT_EQUAL(ec_select_add_connect(sel, items[0].conn, &items[0], &err), EC_EINVAL);
	double t1 = ec_test_now_s();
	drain(sel, NCTX + NBAD);
	fprintf(stderr, "  %d connects started in %.0f ms, all up in %.0f ms (%zu interpreters)\n",
	        NCTX + NBAD, (t1 - t0) * 1000, (ec_test_now_s() - t0) * 1000, np);
	for (int i = 0; i < NCTX + NBAD; i++) {
		struct item *it = &items[i];
		int rc = ec_connect_wait(it->conn, 1, &it->ctx, &err);
		if (it->bad) {
			CU_ASSERT_EQUAL(rc, EC_EBOOT);
			CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "/nonexistent/python"));
		} else {
			CU_ASSERT_EQUAL(rc, 0);
			if (rc)
				fprintf(stderr, "c%d: %s\n", i, err.msg);
		}
		CU_ASSERT_EQUAL(ec_connect_wait(it->conn, 1, &it->ctx, &err), EC_EINVAL);
		ec_connect_free(it->conn);
		it->conn = NULL;
		it->seen = 0;
	}
	/* Calls on every context at once: a quick one, a failing one, and slow ones the
	 * deadline of a wait does not end. */
	for (int i = 0; i < NCTX; i++) {
		struct item *it = &items[i];
		if (!it->ctx)
			continue;
		ec_value *args = ec_value_new(EC_T_TUPLE);
		const char *fn = i % 3 == 0 ? "getpid" : i % 3 == 1 ? "stat" : "sleep";
		if (i % 3 == 1)
			ec_value_append(args, ec_value_cstr("/nonexistent"));
		if (i % 3 == 2)
			ec_value_append(args, ec_value_float(0.3));
		CU_ASSERT_EQUAL(ec_context_call_async(it->ctx, i % 3 == 2 ? "time" : "os", fn, args,
		                                      NULL, &it->call, &err), 0);
		ec_value_free(args);
		CU_ASSERT_EQUAL(ec_select_add_call(sel, it->call, it, &err), 0);
	}
	drain(sel, NCTX);
	void *tag = NULL;
	size_t n = 1;
	CU_ASSERT_EQUAL(ec_select_wait(sel, 10, &tag, 1, &n, &err), EC_ENOTFOUND);
	CU_ASSERT_EQUAL(n, 0);
	for (int i = 0; i < NCTX; i++) {
		struct item *it = &items[i];
		if (!it->call)
			continue;
		ec_value *res = NULL;
		int rc = ec_call_wait(it->call, 1, &res, &err);
		if (i % 3 == 0)
			CU_ASSERT(rc == 0 && res && res->u.i == ec_context_pid(it->ctx));
		if (i % 3 == 1)
			CU_ASSERT(rc == EC_EREMOTE && (strstr(err.msg, "FileNotFoundError") ||
			                               strstr(err.msg, "OSError")));
		if (i % 3 == 2)
			CU_ASSERT_EQUAL(rc, 0);
		ec_value_free(res);
		ec_call_free(it->call);
	}
	/* Channels and calls in one select: every fourth context streams three values;
	 * each channel is reported as often as it has something, each call once. */
	enum { NCH = NCTX / 4 };
	static ec_channel *chs[NCH];
	static int got[NCH], ended[NCH], calls_seen[NCH];
	int open_items = 0;
	for (int k = 0; k < NCH; k++) {
		struct item *it = &items[k * 4];
		CU_ASSERT_EQUAL_FATAL(ec_channel_new(it->ctx, &chs[k], &err), 0);
		ec_value *args = ec_value_new(EC_T_TUPLE);
		ec_value_append(args, ec_value_channel(chs[k]));
		ec_value_append(args, ec_value_int(3));
		CU_ASSERT_EQUAL_FATAL(ec_context_call_async(it->ctx, "chanfn", "produce", args, NULL,
		                                            &it->call, &err), 0);
		ec_value_free(args);
		CU_ASSERT_EQUAL(ec_select_add_channel(sel, chs[k], &chs[k], &err), 0);
		CU_ASSERT_EQUAL(ec_select_add_call(sel, it->call, &calls_seen[k], &err), 0);
		open_items += 2;
	}
	while (open_items > 0) {
		void *tags[64];
		size_t nready = 0;
		int rc = ec_select_wait(sel, 60000, tags, 64, &nready, &err);
		CU_ASSERT_EQUAL_FATAL(rc, 0);
		for (size_t j = 0; j < nready; j++) {
			if (tags[j] >= (void *)&calls_seen[0] && tags[j] < (void *)&calls_seen[NCH]) {
				int k = (int)((int *)tags[j] - calls_seen);
				calls_seen[k]++;
				open_items--;
				continue;
			}
			int k = (int)((ec_channel **)tags[j] - chs);
			ec_value *v = NULL;
			while ((rc = ec_channel_recv(chs[k], 1, &v, &err)) == 0) {
				CU_ASSERT_EQUAL(v->u.i, got[k]);
				got[k]++;
				ec_value_free(v);
			}
			if (rc == EC_EEOF) {
				ended[k]++;
				open_items--;
			} else {
				CU_ASSERT_EQUAL(rc, EC_ETIMEDOUT);
				CU_ASSERT_EQUAL(ec_select_add_channel(sel, chs[k], &chs[k], &err), 0);
			}
		}
	}
	for (int k = 0; k < NCH; k++) {
		CU_ASSERT(got[k] == 3 && ended[k] == 1 && calls_seen[k] == 1);
		ec_value *res = NULL;
		CU_ASSERT_EQUAL(ec_call_wait(items[k * 4].call, 1, &res, &err), 0);
		ec_value_free(res);
		ec_call_free(items[k * 4].call);
		ec_channel_free(chs[k]);
	}
	CU_ASSERT_EQUAL(ec_select_count(sel), 0);
	/* A deadline: nothing ready in time, the item stays; then it comes. */
	struct item slow = {0};
	ec_value *args = ec_value_new(EC_T_TUPLE);
	ec_value_append(args, ec_value_float(0.5));
	CU_ASSERT_EQUAL(ec_context_call_async(items[0].ctx, "time", "sleep", args, NULL, &slow.call,
	                                      &err), 0);
	ec_value_free(args);
	CU_ASSERT_EQUAL(ec_select_add_call(sel, slow.call, &slow, &err), 0);
	n = 1;
	CU_ASSERT_EQUAL(ec_select_wait(sel, 1, &tag, 1, &n, &err), EC_ETIMEDOUT);
	CU_ASSERT_EQUAL(n, 0);
	CU_ASSERT_EQUAL(ec_select_count(sel), 1);
	CU_ASSERT_EQUAL(ec_select_wait(sel, 60000, &tag, 1, &n, &err), 0);
	CU_ASSERT_PTR_EQUAL(tag, &slow);
	ec_call_free(slow.call);
	/* A call freed while in a select leaves it. */
	CU_ASSERT_EQUAL(ec_context_call_async(items[1].ctx, "os", "getpid", NULL, NULL, &slow.call,
	                                      &err), 0);
	CU_ASSERT_EQUAL(ec_select_add_call(sel, slow.call, &slow, &err), 0);
	ec_call_free(slow.call);
	CU_ASSERT_EQUAL(ec_select_count(sel), 0);
	ec_select_free(sel);
	long pids[NCTX];
	for (int i = 0; i < NCTX; i++) {
		pids[i] = items[i].ctx ? ec_context_pid(items[i].ctx) : 0;
		ec_context_shutdown(items[i].ctx, 3000, NULL);
	}
	ec_master_free(m);
	for (int i = 0; i < NCTX; i++)
		CU_ASSERT(!pids[i] || kill((pid_t)pids[i], 0) == -1);
}

/* A pending connect freed before it is up: its context goes, nothing is left. */
static void test_abandon(void)
{
	struct ec_master_options mo = {.size = sizeof(mo), .config_path = "/dev/null",
	                               .log_level = EC_LOG_ERROR};
	ec_master *m = NULL;
	struct ec_error err = {0};
	CU_ASSERT_EQUAL_FATAL(ec_master_new(&mo, &m, &err), 0);
	const char *py = NULL;
	for (size_t i = 0; i < npythons && !py; i++)
		if (pythons[i].path[0])
			py = pythons[i].path;
	char opt[600];
	snprintf(opt, sizeof(opt), "python=%s", py);
	const char *ov[] = {"transport=local", opt, NULL};
	for (int i = 0; i < 5; i++) {
		ec_connect *c = NULL;
		CU_ASSERT_EQUAL_FATAL(ec_context_connect_async(m, "gone", ov, 30000, &c, &err), 0);
		CU_ASSERT_STRING_EQUAL(ec_connect_name(c), "gone");
		ec_connect_free(c);
	}
	/* One that is up but never handed out goes too. */
	ec_connect *c = NULL;
	CU_ASSERT_EQUAL_FATAL(ec_context_connect_async(m, "up", ov, 30000, &c, &err), 0);
	ec_select *sel = NULL;
	CU_ASSERT_EQUAL_FATAL(ec_select_new(m, &sel, &err), 0);
	CU_ASSERT_EQUAL(ec_select_add_connect(sel, c, c, &err), 0);
	void *tag = NULL;
	size_t n = 0;
	CU_ASSERT_EQUAL(ec_select_wait(sel, 60000, &tag, 1, &n, &err), 0);
	CU_ASSERT_PTR_EQUAL(tag, c);
	ec_connect_free(c);
	ec_select_free(sel);
	ec_master_free(m);
	/* Every child reaped, none running. */
	CU_ASSERT(waitpid(-1, NULL, WNOHANG) == -1 && errno == ECHILD);
}

int main(void)
{
	setenv("ECONTEXT_CONFIG", "/dev/null", 1);
	CU_initialize_registry();
	npythons = ec_test_pythons(pythons, sizeof(pythons) / sizeof(pythons[0]));
	CU_pSuite s = CU_add_suite("async connect and select", NULL, NULL);
	CU_add_test(s, "100 contexts connected and called from one thread", test_many);
	CU_add_test(s, "a pending connect freed: its context goes", test_abandon);
	return ec_test_run();
}
