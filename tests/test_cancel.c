/* test_cancel.c: remote cancel (ec_call_cancel, docs/protocol.md CANCEL) on every
 * Python found: a call in time.sleep, in a blocking read of a pipe, in a busy Python
 * loop, and one not yet started; the next call on the same context runs at once; a
 * caller's deadline given up on cancels too; a function that catches the cancel returns
 * its result; quick calls' replies do not wait behind a long call queued after them.
 * The functions (tests/data/cancel/cancelme.py) say when they started, on
 * their stdout, which the master logs: the tests wait for that, never for the clock. */
#include "ecbuild.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "econtext.h"
#include "testutil.h"

static const struct ec_test_python *cur;
static ec_master *master;
static ec_context *ctx;
static int token_seq;

static int suite_init(const struct ec_test_python *py)
{
	cur = py;
	return ec_test_master_and_context(py, "tests/data/cancel", "cancel", &master, &ctx);
}

static int suite_clean(void)
{
	ec_test_master_and_context_free(&master, &ctx);
	return 0;
}

/* Start cancelme.fn(token[, arg]) and wait until it says it started. */
static ec_call *start(const char *fn, ec_value *arg, char *token, size_t cap)
{
	snprintf(token, cap, "tok%d-%d", (int)getpid(), ++token_seq);
	ec_value *args = ec_value_new(EC_T_TUPLE);
	ec_value_append(args, ec_value_cstr(token));
	if (arg)
		ec_value_append(args, arg);
	ec_call *call = NULL;
	struct ec_error err = {0};
	int rc = ec_context_call_async(ctx, "cancelme", fn, args, NULL, &call, &err);
	ec_value_free(args);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	char line[128];
	snprintf(line, sizeof(line), "started %s", token);
	CU_ASSERT_FATAL(ec_test_log_wait(NULL, line, NULL));
	return call;
}

/* The context answers a quick call at once: nothing left running there. */
static void next_call_runs(void)
{
	int rc = -1;
	ec_value *v = ec_test_call(ctx, "os", "getpid", NULL, 10000, &rc);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT(v && v->type == EC_T_INT && v->u.i == ec_context_pid(ctx));
	ec_value_free(v);
}

/* Cancel a started call; its wait says EC_ECANCELED (within a wide bound). */
static void cancel_started(const char *fn, ec_value *arg)
{
	char token[64];
	ec_call *call = start(fn, arg, token, sizeof(token));
	double t0 = ec_test_now_s();
	CU_ASSERT_EQUAL(ec_call_cancel(call), 0);
	ec_value *res = NULL;
	struct ec_error err = {0};
	int rc = ec_call_wait(call, 30000, &res, &err);
	fprintf(stderr, "  %s %s: cancelled in %.1f ms\n", cur->version, fn,
	        (ec_test_now_s() - t0) * 1000);
	CU_ASSERT_EQUAL(rc, EC_ECANCELED);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "cancelled"));
	CU_ASSERT_PTR_NULL(res);
	CU_ASSERT_EQUAL(ec_call_cancel(call), 0); /* again: nothing to do */
	ec_call_free(call);
	next_call_runs();
}

static void test_sleep(void)
{
	cancel_started("sleep", ec_value_int(3600));
}

static void test_read_pipe(void)
{
	cancel_started("read_pipe", NULL);
}

static void test_spin(void)
{
	cancel_started("spin", NULL);
}

/* A call queued behind a running one never runs once cancelled. */
static void test_not_started(void)
{
	char token[64], path[] = "/tmp/ec-test-cancel-XXXXXX";
	int fd = mkstemp(path);
	CU_ASSERT_FATAL(fd >= 0);
	close(fd);
	unlink(path);
	ec_call *first = start("sleep", ec_value_int(3600), token, sizeof(token));
	ec_value *args = ec_value_new(EC_T_TUPLE);
	ec_value_append(args, ec_value_cstr(path));
	ec_call *second = NULL;
	struct ec_error err = {0};
	CU_ASSERT_EQUAL_FATAL(ec_context_call_async(ctx, "cancelme", "touch", args, NULL, &second,
	                                            &err), 0);
	ec_value_free(args);
	CU_ASSERT_EQUAL(ec_call_cancel(second), 0);
	ec_value *res = NULL;
	CU_ASSERT_EQUAL(ec_call_wait(second, 30000, &res, &err), EC_ECANCELED);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "before it started"));
	CU_ASSERT_EQUAL(ec_call_cancel(first), 0);
	CU_ASSERT_EQUAL(ec_call_wait(first, 30000, &res, &err), EC_ECANCELED);
	ec_call_free(first);
	ec_call_free(second);
	next_call_runs();
	CU_ASSERT_EQUAL(access(path, F_OK), -1); /* touch never ran */
	unlink(path);
}

/* A caller that gives up (ec_context_call's deadline) cancels the call remotely: the
 * next call does not wait behind it. */
static void test_deadline_cancels(void)
{
	ec_value *args = ec_value_new(EC_T_TUPLE), *res = NULL;
	ec_value_append(args, ec_value_int(3600));
	struct ec_error err = {0};
	CU_ASSERT_EQUAL(ec_context_call(ctx, "time", "sleep", args, NULL, 200, &res, &err),
	                EC_ETIMEDOUT);
	ec_value_free(args);
	next_call_runs();
}

/* What cancel cannot force: a function that catches it and returns. */
static void test_survivor(void)
{
	char token[64];
	ec_call *call = start("survive", NULL, token, sizeof(token));
	CU_ASSERT_EQUAL(ec_call_cancel(call), 0);
	ec_value *res = NULL;
	struct ec_error err = {0};
	int rc = ec_call_wait(call, 30000, &res, &err);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT(res && (res->type == EC_T_STR || res->type == EC_T_BYTES) &&
	          !strcmp(res->u.s.data, "survived"));
	ec_value_free(res);
	ec_call_free(call);
	next_call_runs();
}

/* Replies the context holds back while more calls are queued (docs/protocol.md,
 * "Frames") never wait behind a long call queued after them: 64 quick calls sent
 * with a time.sleep(3600) behind them all answer while it sleeps; then it is
 * cancelled. */
static void test_replies_not_held(void)
{
	ec_call *quick[64], *slow = NULL;
	struct ec_error err = {0};
	ec_value *args = ec_value_new(EC_T_TUPLE), *res = NULL;
	ec_value_append(args, ec_value_int(7));
	for (int i = 0; i < 64; i++)
		CU_ASSERT_EQUAL_FATAL(ec_context_call_async(ctx, "operator", "neg", args, NULL,
		                                            &quick[i], &err), 0);
	ec_value_free(args);
	args = ec_value_new(EC_T_TUPLE);
	ec_value_append(args, ec_value_int(3600));
	CU_ASSERT_EQUAL_FATAL(ec_context_call_async(ctx, "time", "sleep", args, NULL, &slow, &err),
	                      0);
	ec_value_free(args);
	for (int i = 0; i < 64; i++) {
		int rc = ec_call_wait(quick[i], 30000, &res, &err);
		CU_ASSERT_EQUAL(rc, 0);
		if (rc)
			fprintf(stderr, "%s: quick call %d: %s\n", cur->full, i, err.msg);
		CU_ASSERT(res && res->type == EC_T_INT && res->u.i == -7);
		ec_value_free(res);
		res = NULL;
		ec_call_free(quick[i]);
	}
	CU_ASSERT_EQUAL(ec_call_cancel(slow), 0);
	CU_ASSERT_EQUAL(ec_call_wait(slow, 30000, &res, &err), EC_ECANCELED);
	ec_call_free(slow);
	next_call_runs();
}

static CU_TestInfo tests[] = {
	{"time.sleep(3600) interrupted", test_sleep},
	{"a blocking read of a pipe interrupted", test_read_pipe},
	{"a busy Python loop interrupted", test_spin},
	{"a call not yet started never runs", test_not_started},
	{"a deadline given up on cancels remotely", test_deadline_cancels},
	{"a function that catches the cancel returns", test_survivor},
	{"quick replies never wait behind a long call queued after them",
	 test_replies_not_held},
	CU_TEST_INFO_NULL,
};

int main(void)
{
	CU_initialize_registry();
	setenv("ECONTEXT_CONFIG", "/dev/null", 1);
	ec_test_python_suites("cancel", suite_init, suite_clean, tests);
	return ec_test_run();
}
