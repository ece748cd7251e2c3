/* test_channel.c: channels (econtext.h, docs/protocol.md "Channels") on every Python
 * found: values both ways in order, close from either side, a context dying mid-stream,
 * backpressure bounding both sides' memory, many channels on one context, a channel as
 * a keyword argument, a select over channels, get() with a timeout. The functions are
 * tests/data/chan/chanfn.py. Waits are on events; the bounds are wide. */
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

static ec_context *connect_one(const struct ec_test_python *py, const char *name)
{
	char opt[600];
	snprintf(opt, sizeof(opt), "python=%s", py->path);
	const char *ov[] = {"transport=local", opt, NULL};
	struct ec_error err = {0};
	ec_context *c = NULL;
	if (ec_context_connect(master, name, ov, 30000, &c, &err))
		fprintf(stderr, "%s: %s\n", py->path, err.msg);
	return c;
}

static int suite_init(const struct ec_test_python *py)
{
	cur = py;
	return ec_test_master_and_context(py, "tests/data/chan", "chan", &master, &ctx);
}

static int suite_clean(void)
{
	ec_test_master_and_context_free(&master, &ctx);
	return 0;
}

/* Start chanfn.fn(ch[, a1[, a2]]) with a new channel. */
static ec_call *start(const char *fn, ec_channel **ch, ec_value *a1, ec_value *a2)
{
	struct ec_error err = {0};
	CU_ASSERT_EQUAL_FATAL(ec_channel_new(ctx, ch, &err), 0);
	ec_value *args = ec_value_new(EC_T_TUPLE);
	ec_value_append(args, ec_value_channel(*ch));
	if (a1)
		ec_value_append(args, a1);
	if (a2)
		ec_value_append(args, a2);
	ec_call *call = NULL;
	int rc = ec_context_call_async(ctx, "chanfn", fn, args, NULL, &call, &err);
	if (rc)
		fprintf(stderr, "%s: %s\n", fn, err.msg);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	ec_value_free(args);
	return call;
}

static long long finish_int(ec_call *call)
{
	ec_value *res = NULL;
	struct ec_error err = {0};
	int rc = ec_call_wait(call, 60000, &res, &err);
	if (rc)
		fprintf(stderr, "call: %s\n", err.msg);
	CU_ASSERT_EQUAL(rc, 0);
	long long v = res && res->type == EC_T_INT ? res->u.i : -1;
	ec_value_free(res);
	ec_call_free(call);
	return v;
}

static void test_order_and_end(void)
{
	ec_channel *ch = NULL;
	ec_call *call = start("produce", &ch, ec_value_int(1000), NULL);
	struct ec_error err = {0};
	for (int i = 0; i < 1000; i++) {
		ec_value *v = NULL;
		int rc = ec_channel_recv(ch, 30000, &v, &err);
		CU_ASSERT_EQUAL_FATAL(rc, 0);
		CU_ASSERT(v->type == EC_T_INT && v->u.i == i);
		ec_value_free(v);
	}
	ec_value *v = NULL;
	CU_ASSERT_EQUAL(ec_channel_recv(ch, 30000, &v, &err), EC_EEOF); /* the call returned */
	CU_ASSERT_EQUAL(ec_channel_recv(ch, 30000, &v, &err), EC_EEOF); /* and stays ended */
	CU_ASSERT_EQUAL(finish_int(call), 1000);
	ec_channel_free(ch);
}

static void test_master_sends(void)
{
	ec_channel *ch = NULL;
	ec_call *call = start("consume", &ch, NULL, NULL);
	struct ec_error err = {0};
	long long sum = 0;
	for (int i = 0; i < 2000; i++) {
		ec_value *v = ec_value_int(i);
		CU_ASSERT_EQUAL(ec_channel_send(ch, v, 30000, &err), 0);
		ec_value_free(v);
		sum += i;
	}
	CU_ASSERT_EQUAL(ec_channel_close(ch, &err), 0);
	ec_value *v = ec_value_int(1);
	CU_ASSERT_EQUAL(ec_channel_send(ch, v, 1000, &err), EC_EINVAL); /* closed */
	ec_value_free(v);
	CU_ASSERT_EQUAL(finish_int(call), sum);
	ec_channel_free(ch);
}

/* Receive the ints 0 .. n-1 on ch, in order. */
static void recv_ints(ec_channel *ch, int n)
{
	struct ec_error err = {0};
	for (int i = 0; i < n; i++) {
		ec_value *v = NULL;
		CU_ASSERT_EQUAL_FATAL(ec_channel_recv(ch, 30000, &v, &err), 0);
		CU_ASSERT(v->type == EC_T_INT && v->u.i == i);
		ec_value_free(v);
	}
}

/* Values sent in a burst, which the context holds to write them together, reach the
 * master while the function then sleeps (the broker thread writes a hold after 2 ms). */
static void test_burst_not_held(void)
{
	ec_channel *ch = NULL;
	ec_call *call = start("burst_then_sleep", &ch, NULL, NULL);
	struct ec_error err = {0};
	recv_ints(ch, 10);
	CU_ASSERT_EQUAL(ec_call_cancel(call), 0);
	ec_value *res = NULL;
	CU_ASSERT_EQUAL(ec_call_wait(call, 30000, &res, &err), EC_ECANCELED);
	ec_call_free(call);
	ec_channel_free(ch);
}

/* Small values the main thread sends in a burst travel together, in one frame
 * (docs/protocol.md "Channels"): bursts on two channels in turn, amid them a value from
 * another thread and one too large to go with others; each channel's values in order
 * (tests/data/chan/chanfn.py interleave), then the end. */
static void test_batches_in_order(void)
{
	enum { ROUNDS = 50 };
	ec_channel *a = NULL, *b = NULL;
	struct ec_error err = {0};
	CU_ASSERT_EQUAL_FATAL(ec_channel_new(ctx, &b, &err), 0);
	ec_call *call = start("interleave", &a, ec_value_channel(b), ec_value_int(ROUNDS));
	for (int i = 0; i < ROUNDS * 33; i++) {
		ec_value *v = NULL;
		CU_ASSERT_EQUAL_FATAL(ec_channel_recv(a, 30000, &v, &err), 0);
		const ec_value *first = v->type == EC_T_LIST && v->u.seq.len == 2001 ? v->u.seq.items[0] : v;
		CU_ASSERT(first->type == EC_T_INT && first->u.i == i);
		CU_ASSERT((v->type == EC_T_LIST) == (i % 33 == 32)); /* the large one: each round's last */
		ec_value_free(v);
	}
	recv_ints(b, ROUNDS * 10);
	ec_value *v = NULL;
	CU_ASSERT_EQUAL(ec_channel_recv(a, 30000, &v, &err), EC_EEOF);
	CU_ASSERT_EQUAL(ec_channel_recv(b, 30000, &v, &err), EC_EEOF);
	CU_ASSERT_EQUAL(finish_int(call), ROUNDS * 43);
	ec_channel_free(a);
	ec_channel_free(b);
}

static void test_master_closes(void)
{
	ec_channel *ch = NULL;
	ec_call *call = start("until_closed", &ch, NULL, NULL);
	struct ec_error err = {0};
	recv_ints(ch, 10);
	CU_ASSERT_EQUAL(ec_channel_close(ch, &err), 0);
	/* What it sent meanwhile still comes, then the end. */
	long long n = 10;
	ec_value *v = NULL;
	int rc;
	while ((rc = ec_channel_recv(ch, 30000, &v, &err)) == 0) {
		CU_ASSERT(v->u.i == n);
		n++;
		ec_value_free(v);
	}
	CU_ASSERT_EQUAL(rc, EC_EEOF);
	CU_ASSERT_EQUAL(finish_int(call), n);
	ec_channel_free(ch);
}

static void test_echo_and_keyword(void)
{
	ec_channel *ch = NULL;
	ec_call *call = start("echo", &ch, NULL, NULL);
	struct ec_error err = {0};
	for (int i = 0; i < 100; i++) {
		ec_value *v = ec_value_cstr("ping"), *back = NULL;
		CU_ASSERT_EQUAL(ec_channel_send(ch, v, 30000, &err), 0);
		CU_ASSERT_EQUAL_FATAL(ec_channel_recv(ch, 30000, &back, &err), 0);
		CU_ASSERT(back->type == EC_T_STR && !strcmp(back->u.s.data, "ping"));
		ec_value_free(v);
		ec_value_free(back);
	}
	ec_channel_close(ch, &err);
	CU_ASSERT_EQUAL(finish_int(call), 100);
	ec_channel_free(ch);
	/* As a keyword argument. */
	CU_ASSERT_EQUAL_FATAL(ec_channel_new(ctx, &ch, &err), 0);
	ec_value *args = ec_value_new(EC_T_TUPLE), *kw = ec_value_new(EC_T_DICT), *v = NULL;
	ec_value_append(args, ec_value_int(42));
	ec_value_dict_set(kw, ec_value_cstr("ch"), ec_value_channel(ch));
	CU_ASSERT_EQUAL_FATAL(ec_context_call_async(ctx, "chanfn", "keyword", args, kw, &call, &err), 0);
	CU_ASSERT_EQUAL(ec_channel_recv(ch, 30000, &v, &err), 0);
	CU_ASSERT(v && v->u.i == 42);
	ec_value_free(v);
	ec_value_free(args);
	ec_value_free(kw);
	ec_value *res = NULL;
	CU_ASSERT_EQUAL(ec_call_wait(call, 30000, &res, &err), 0);
	ec_value_free(res);
	ec_call_free(call);
	ec_channel_free(ch);
}

static void test_many_and_select(void)
{
	enum { N = 20 };
	ec_channel *chs[N];
	struct ec_error err = {0};
	ec_value *list = ec_value_new(EC_T_LIST), *args = ec_value_new(EC_T_TUPLE);
	for (int i = 0; i < N; i++) {
		CU_ASSERT_EQUAL_FATAL(ec_channel_new(ctx, &chs[i], &err), 0);
		ec_value_append(list, ec_value_channel(chs[i]));
	}
	ec_value_append(args, list);
	ec_call *call = NULL;
	CU_ASSERT_EQUAL_FATAL(ec_context_call_async(ctx, "chanfn", "many", args, NULL, &call, &err), 0);
	ec_value_free(args);
	ec_select *sel = NULL;
	CU_ASSERT_EQUAL_FATAL(ec_select_new(master, &sel, &err), 0);
	int seen[N] = {0};
	for (int i = 0; i < N; i++)
		CU_ASSERT_EQUAL(ec_select_add_channel(sel, chs[i], (void *)(long)i, &err), 0);
	while (ec_select_count(sel)) {
		void *tags[N];
		size_t n = 0;
		CU_ASSERT_EQUAL_FATAL(ec_select_wait(sel, 30000, tags, N, &n, &err), 0);
		for (size_t j = 0; j < n; j++) {
			long i = (long)tags[j];
			ec_value *v = NULL;
			CU_ASSERT_EQUAL(ec_channel_recv(chs[i], 1, &v, &err), 0);
			CU_ASSERT(v && v->u.i == i);
			seen[i]++;
			ec_value_free(v);
		}
	}
	for (int i = 0; i < N; i++) {
		CU_ASSERT_EQUAL(seen[i], 1);
		ec_value *v = NULL;
		CU_ASSERT_EQUAL(ec_channel_recv(chs[i], 30000, &v, &err), EC_EEOF);
		ec_channel_free(chs[i]);
	}
	ec_select_free(sel);
	CU_ASSERT_EQUAL(finish_int(call), N);
	/* get() with a timeout in the context. */
	ec_channel *ch = NULL;
	call = start("get_timeout", &ch, NULL, NULL);
	ec_value *res = NULL;
	CU_ASSERT_EQUAL(ec_call_wait(call, 30000, &res, &err), 0);
	CU_ASSERT(res && (res->type == EC_T_STR || res->type == EC_T_BYTES) &&
	          !strcmp(res->u.s.data, "timeout")); /* 2.7: a native str is bytes */
	ec_value_free(res);
	ec_call_free(call);
	ec_value *v = NULL;
	CU_ASSERT_EQUAL(ec_channel_recv(ch, 10, &v, &err), EC_EEOF);
	ec_channel_free(ch);
}

/* Values up to the message limit (1 MiB in this master, tests/test_channel's config)
 * pass; over it, each side refuses to send, saying so, and the channel goes on. */
static void test_message_limit(void)
{
	char path[] = "/tmp/ec-test-chan-XXXXXX", dir[1200];
	int fd = mkstemp(path);
	CU_ASSERT_FATAL(fd >= 0);
	const char doc[] = "max_message_size: 1048576\n";
	CU_ASSERT_EQUAL(write(fd, doc, sizeof(doc) - 1), (ssize_t)(sizeof(doc) - 1));
	close(fd);
	snprintf(dir, sizeof(dir), "%s/tests/data/chan", ec_test_srcdir());
	const char *mp[] = {dir, NULL};
	struct ec_master_options mo = {.size = sizeof(mo), .config_path = path,
	                               .log_level = EC_LOG_WARNING, .module_path = mp};
	struct ec_error err = {0};
	ec_master *m = NULL;
	CU_ASSERT_EQUAL_FATAL(ec_master_new(&mo, &m, &err), 0);
	unlink(path);
	char opt[600];
	snprintf(opt, sizeof(opt), "python=%s", cur->path);
	const char *ov[] = {"transport=local", opt, NULL};
	ec_context *c = NULL;
	ec_channel *ch = NULL;
	CU_ASSERT_EQUAL_FATAL(ec_context_connect(m, "limit", ov, 30000, &c, &err), 0);
	CU_ASSERT_EQUAL_FATAL(ec_channel_new(c, &ch, &err), 0);
	/* The master's side: just under the limit passes, over it is refused. */
	char *block = calloc(1, 1 << 20);
	ec_value *small = ec_value_bytes(block, (1 << 20) - 4096), *big = ec_value_bytes(block, 1 << 20);
	CU_ASSERT_EQUAL(ec_channel_send(ch, small, 30000, &err), 0);
	CU_ASSERT_EQUAL(ec_channel_send(ch, big, 30000, &err), EC_EMSGSIZE);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "maximum message size"));
	ec_value_free(small);
	ec_value_free(big);
	free(block);
	/* The context's side: too_big(ch, 2 MiB) is refused there and says why. */
	ec_value *args = ec_value_new(EC_T_TUPLE), *res = NULL, *v = NULL;
	ec_value_append(args, ec_value_channel(ch));
	ec_value_append(args, ec_value_int(2 << 20));
	ec_call *call = NULL;
	CU_ASSERT_EQUAL_FATAL(ec_context_call_async(c, "chanfn", "too_big", args, NULL, &call, &err), 0);
	ec_value_free(args);
	CU_ASSERT_EQUAL(ec_channel_recv(ch, 30000, &v, &err), 0);
	CU_ASSERT(v && (v->type == EC_T_STR || v->type == EC_T_BYTES) &&
	          strstr(v->u.s.data, "over the maximum message size"));
	ec_value_free(v);
	CU_ASSERT_EQUAL(ec_call_wait(call, 30000, &res, &err), 0);
	CU_ASSERT(res && !strcmp(res->u.s.data, "refused"));
	ec_value_free(res);
	ec_call_free(call);
	ec_channel_free(ch);
	ec_context_shutdown(c, 3000, NULL);
	ec_master_free(m);
}

/* What a channel carries is what results carry (docs/values.md): a named tuple arrives
 * named; a value that cannot be carried is refused in the context, saying where. */
static void test_carried(void)
{
	ec_channel *ch = NULL;
	ec_call *call = start("carried", &ch, NULL, NULL);
	struct ec_error err = {0};
	ec_value *v = NULL;
	CU_ASSERT_EQUAL_FATAL(ec_channel_recv(ch, 30000, &v, &err), 0);
	CU_ASSERT_EQUAL(v->type, EC_T_NAMED);
	const ec_value *y = ec_value_dict_get(v, "y");
	CU_ASSERT(y && y->type == EC_T_INT && y->u.i == 2);
	ec_value_free(v);
	CU_ASSERT_EQUAL_FATAL(ec_channel_recv(ch, 30000, &v, &err), 0);
	CU_ASSERT(v && (v->type == EC_T_STR || v->type == EC_T_BYTES) &&
	          strstr(v->u.s.data, "value['k'][0]: cannot carry a socket"));
	if (v && (v->type == EC_T_STR || v->type == EC_T_BYTES))
		fprintf(stderr, "  %s: %s\n", cur->version, v->u.s.data);
	ec_value_free(v);
	ec_value *res = NULL;
	CU_ASSERT_EQUAL(ec_call_wait(call, 30000, &res, &err), 0);
	ec_value_free(res);
	ec_call_free(call);
	ec_channel_free(ch);
}

/* The master's resident set, in MB. */
static double rss_mb(void)
{
	long pages = 0, res = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	if (f && fscanf(f, "%ld %ld", &pages, &res) != 2)
		res = 0;
	if (f)
		fclose(f);
	return res * (double)sysconf(_SC_PAGESIZE) / (1 << 20);
}

/* 128 MiB to a slow reader, and 64 MiB to a slow consumer: the window bounds both. */
static void test_backpressure(void)
{
	ec_channel *ch = NULL;
	ec_call *call = start("big", &ch, ec_value_int(128), ec_value_int(1 << 20));
	struct ec_error err = {0};
	double base = rss_mb(), peak = base;
	for (int i = 0; i < 128; i++) {
		ec_value *v = NULL;
		CU_ASSERT_EQUAL_FATAL(ec_channel_recv(ch, 30000, &v, &err), 0);
		CU_ASSERT(v->type == EC_T_BYTES && v->u.s.len == (1u << 20));
		ec_value_free(v);
		usleep(2000); /* slow: the context waits for the window meanwhile */
		double r = rss_mb();
		if (r > peak)
			peak = r;
	}
	CU_ASSERT_EQUAL(finish_int(call), 128);
	ec_channel_free(ch);
	fprintf(stderr, "  %s: master RSS %.1f MB before, %.1f MB at most while 128 MiB came\n",
	        cur->version, base, peak);
#ifndef __SANITIZE_ADDRESS__ /* ASan keeps freed memory in its quarantine: RSS says nothing */
	CU_ASSERT(peak < base + 40);
#endif
	/* The other way: the context takes each MiB slowly. */
	ec_value *delay = ec_value_float(0.002);
	call = start("slow_consume", &ch, delay, NULL);
	char *block = malloc(1 << 20);
	memset(block, 'y', 1 << 20);
	for (int i = 0; i < 64; i++) {
		ec_value *v = ec_value_bytes(block, 1 << 20);
		CU_ASSERT_EQUAL_FATAL(ec_channel_send(ch, v, 60000, &err), 0);
		ec_value_free(v);
	}
	free(block);
	ec_channel_close(ch, &err);
	ec_value *res = NULL;
	CU_ASSERT_EQUAL(ec_call_wait(call, 60000, &res, &err), 0);
	CU_ASSERT(res && res->type == EC_T_TUPLE && res->u.seq.items[0]->u.i == 64 << 20);
	if (res && res->type == EC_T_TUPLE)
		fprintf(stderr, "  %s: context peak RSS %lld kB while 64 MiB came slowly\n",
		        cur->version, (long long)res->u.seq.items[1]->u.i);
	ec_value_free(res);
	ec_call_free(call);
	ec_channel_free(ch);
}

/* The context dies mid-stream: what it sent comes, then a distinct end; the call
 * fails too. On a context of its own. */
static void test_context_dies(void)
{
	ec_context *c = connect_one(cur, "dies");
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	struct ec_error err = {0};
	ec_channel *ch = NULL;
	CU_ASSERT_EQUAL_FATAL(ec_channel_new(c, &ch, &err), 0);
	ec_value *args = ec_value_new(EC_T_TUPLE);
	ec_value_append(args, ec_value_channel(ch));
	ec_call *call = NULL;
	CU_ASSERT_EQUAL_FATAL(ec_context_call_async(c, "chanfn", "die", args, NULL, &call, &err), 0);
	ec_value_free(args);
	ec_value *v = NULL;
	CU_ASSERT_EQUAL(ec_channel_recv(ch, 30000, &v, &err), 0);
	ec_value_free(v);
	CU_ASSERT_EQUAL(ec_channel_recv(ch, 30000, &v, &err), 0);
	ec_value_free(v);
	CU_ASSERT_EQUAL(ec_channel_recv(ch, 30000, &v, &err), EC_ECLOSED);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "dies"));
	CU_ASSERT_EQUAL(ec_call_wait(call, 30000, &v, &err), EC_ECLOSED);
	ec_call_free(call);
	ec_value *one = ec_value_int(1);
	CU_ASSERT_EQUAL(ec_channel_send(ch, one, 1000, &err), EC_ECLOSED);
	ec_value_free(one);
	ec_context_shutdown(c, 3000, NULL);
	CU_ASSERT_EQUAL(ec_channel_recv(ch, 10, &v, &err), EC_ECLOSED); /* context freed */
	ec_channel_free(ch);
}

static CU_TestInfo tests[] = {
	{"values in order, then the end", test_order_and_end},
	{"the master sends, closes", test_master_sends},
	{"the master closes while the context sends", test_master_closes},
	{"a burst reaches the master while the function sleeps", test_burst_not_held},
	{"bursts on two channels, a value from another thread amid them: in order",
	 test_batches_in_order},
	{"both ways at once; a keyword argument", test_echo_and_keyword},
	{"20 channels on one call, in a select; get(timeout)", test_many_and_select},
	{"named tuples carried, a socket refused where it sits", test_carried},
	{"backpressure bounds both sides' memory", test_backpressure},
	{"values up to the message limit; over it refused on both sides", test_message_limit},
	{"the context dies mid-stream", test_context_dies},
	CU_TEST_INFO_NULL,
};

int main(void)
{
	CU_initialize_registry();
	setenv("ECONTEXT_CONFIG", "/dev/null", 1);
	ec_test_python_suites("channels", suite_init, suite_clean, tests);
	return ec_test_run();
}
