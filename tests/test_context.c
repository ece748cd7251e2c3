/* test_context.c: a context's read buffer, seen from inside (linked with the core, a
 * local context on the first Python found): a large reply is handed to its call in the
 * buffer it arrived in; a smaller one is copied and the buffer kept for the next frame;
 * an idle context holds no read buffer after RBUF_IDLE_MS (1 s). */
#include "ecbuild.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "context.h"
#include "econtext.h"
#include "testutil.h"

static ec_master *master;
static ec_context *ctx;
static struct ec_test_python pythons[16];
static size_t npythons;

static int suite_init(void)
{
	const char *py = NULL;
	for (size_t i = 0; i < npythons && !py; i++)
		if (pythons[i].path[0])
			py = pythons[i].path;
	char opt[600];
	snprintf(opt, sizeof(opt), "python=%s", py ? py : "python3");
	const char *ov[] = {"transport=local", opt, NULL};
	struct ec_master_options mo = {.size = sizeof(mo), .config_path = "/dev/null",
	                               .log_level = EC_LOG_WARNING};
	struct ec_error err = {0};
	if (ec_master_new(&mo, &master, &err) ||
	    ec_context_connect(master, "rb", ov, 30000, &ctx, &err)) {
		fprintf(stderr, "%s: %s\n", err.where, err.msg);
		return 1;
	}
	return 0;
}

static int suite_clean(void)
{
	ec_context_shutdown(ctx, 3000, NULL);
	ec_master_free(master);
	return 0;
}

/* The read buffer's capacity, under the lock the broker holds while it reads. */
static size_t rbuf_cap(void)
{
	pthread_mutex_lock(&master->lock);
	size_t cap = ctx->st.rbuf.cap;
	pthread_mutex_unlock(&master->lock);
	return cap;
}

/* n random bytes from the context (os.urandom: bytes on 2.7 and 3.x alike): 0 if they
 * came back whole. */
static int bytes_call(long n)
{
	ec_value *args = ec_value_new(EC_T_TUPLE), *res = NULL;
	ec_value_append(args, ec_value_int(n));
	struct ec_error err = {0};
	int rc = ec_context_call(ctx, "os", "urandom", args, NULL, 30000, &res, &err);
	if (rc)
		fprintf(stderr, "call: %s\n", err.msg);
	int ok = !rc && res && res->type == EC_T_BYTES && res->u.s.len == (size_t)n &&
	         res->u.s.data[n] == '\0';
	ec_value_free(args);
	ec_value_free(res);
	return ok ? 0 : 1;
}

static void test_large_reply_taken(void)
{
	/* 8 MiB, three times: each reply leaves with its buffer; none is kept. */
	for (int i = 0; i < 3; i++) {
		CU_ASSERT_EQUAL(bytes_call(8L << 20), 0);
		CU_ASSERT(rbuf_cap() < (1u << 20));
	}
}

/* The read buffer's capacity and whether its idle timer is still to come, read together
 * under the lock the broker holds while it reads and frees. */
static size_t rbuf_state(int *timer_pending)
{
	pthread_mutex_lock(&master->lock);
	size_t cap = ctx->st.rbuf.cap;
	long long due = ctx->st.rbuf_idle_ms;
	*timer_pending = due && ec__now_ms() < due;
	pthread_mutex_unlock(&master->lock);
	return cap;
}

static void test_buffer_kept_then_released(void)
{
	/* A reply below the take threshold is copied out; the buffer stays for the next
	 * frame, then goes once the context is idle. Kept: seen while its idle timer is
	 * still to come (a look that comes after the timer, the machine being slow, says
	 * nothing and is made again after another call; a buffer freed early fails every
	 * look). */
	CU_ASSERT_EQUAL(bytes_call(40000), 0);
	int judged = 0, kept = 0;
	for (int i = 0; i < 50 && !judged; i++) {
		CU_ASSERT_EQUAL_FATAL(bytes_call(40000), 0);
		int pending;
		size_t cap = rbuf_state(&pending);
		judged = pending;
		kept = cap > 0;
	}
	CU_ASSERT_TRUE(judged);
	CU_ASSERT_TRUE(kept);
	/* Freed once idle: the timer is 1 s; 30 s only a buffer never freed reaches. */
	size_t cap = 1;
	int pending = 1;
	for (int i = 0; i < 300 && cap; i++) {
		usleep(100 * 1000);
		cap = rbuf_state(&pending);
	}
	CU_ASSERT_EQUAL(cap, 0);
	CU_ASSERT_FALSE(pending);
	CU_ASSERT_EQUAL(bytes_call(100), 0); /* and it comes back */
}

/* One large frame's write buffer goes within the idle time while small calls keep
 * coming: small frames start its timer, never push it on (before, any write pushed it,
 * and a busy context kept the 512 KiB that one file chunk had made). Waited for as an
 * event: the capacity seen small, at most 300 calls (30 s and more) after. */
static void test_large_buffer_goes_while_busy(void)
{
	static unsigned char big[400000];
	ec_value *args = ec_value_new(EC_T_TUPLE), *res = NULL;
	ec_value_append(args, ec_value_bytes(big, sizeof(big)));
	struct ec_error err = {0};
	CU_ASSERT_EQUAL_FATAL(ec_context_call(ctx, "zlib", "crc32", args, NULL, 30000, &res, &err), 0);
	CU_ASSERT(res && res->type == EC_T_INT);
	ec_value_free(args);
	ec_value_free(res);
	pthread_mutex_lock(&master->lock);
	size_t cap = ctx->st.wbuf.cap;
	pthread_mutex_unlock(&master->lock);
	CU_ASSERT(cap >= sizeof(big)); /* the frame was framed in it */
	int calls = 0;
	for (; calls < 300 && cap >= sizeof(big); calls++) {
		CU_ASSERT_EQUAL_FATAL(bytes_call(100), 0);
		usleep(100 * 1000);
		pthread_mutex_lock(&master->lock);
		cap = ctx->st.wbuf.cap;
		pthread_mutex_unlock(&master->lock);
	}
	printf("\n  write buffer %zu bytes after %d small calls\n", cap, calls);
	CU_ASSERT(cap < sizeof(big));
}

/* A transport whose create refuses its section (local cannot sit on another layer): the
 * stack is built on the loop's thread now, and its error still comes back from the
 * connect whole, naming the file and line of the key; nothing is left attached. */
static void test_create_refused(void)
{
	char path[] = "/tmp/ec-test-context-XXXXXX";
	int fd = mkstemp(path);
	CU_ASSERT_FATAL(fd >= 0);
	static const char doc[] = "contexts:\n"
	                          "  a: {transport: local}\n"
	                          "  b:\n"
	                          "    transport: local\n"
	                          "    via: a\n";
	CU_ASSERT_EQUAL(write(fd, doc, sizeof(doc) - 1), (ssize_t)(sizeof(doc) - 1));
	close(fd);
	struct ec_master_options mo = {.size = sizeof(mo), .config_path = path,
	                               .log_level = EC_LOG_WARNING};
	struct ec_error err = {0};
	ec_master *m = NULL;
	CU_ASSERT_EQUAL_FATAL(ec_master_new(&mo, &m, &err), 0);
	ec_context *c = NULL;
	for (int i = 0; i < 2; i++) { /* twice: the first leaves nothing behind */
		CU_ASSERT_EQUAL(ec_context_connect(m, "b", NULL, 30000, &c, &err), EC_ECONFIG);
		CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "cannot run via another context"));
		CU_ASSERT_PTR_NOT_NULL(strstr(err.where, path));
		CU_ASSERT_PTR_NOT_NULL(strstr(err.where, ":5:"));
	}
	pthread_mutex_lock(&m->lock);
	CU_ASSERT_PTR_NULL(m->contexts);
	pthread_mutex_unlock(&m->lock);
	ec_master_free(m);
	unlink(path);
}

int main(void)
{
	CU_initialize_registry();
	npythons = ec_test_pythons(pythons, sizeof(pythons) / sizeof(pythons[0]));
	CU_pSuite s = CU_add_suite("a context's read buffer", suite_init, suite_clean);
	CU_add_test(s, "a large reply is handed over in its read buffer", test_large_reply_taken);
	CU_add_test(s, "the read buffer is kept while busy, freed when idle",
	            test_buffer_kept_then_released);
	CU_add_test(s, "a large write buffer goes while small calls keep coming",
	            test_large_buffer_goes_while_busy);
	CU_pSuite t = CU_add_suite("transport stacks", NULL, NULL);
	CU_add_test(t, "a transport's create refusing its section fails the connect",
	            test_create_refused);
	return ec_test_run();
}
