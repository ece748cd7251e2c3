/* test_secret.c: the secret store (core/secret.h) without a master: a question asked
 * once per key for the askers that wait for it, the answer kept and shared, a declined
 * one failing the asker that waited (with the prompt, never the secret) and asked
 * again by the next, forget, and the errors. A real loop is started only to be woken. */
#include "ecbuild.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "broker.h"
#include "clock.h"
#include "secret.h"
#include "testutil.h"

#define KEY "ssh:deploy@web:22"
#define PROMPT "deploy@web's password: "
#define PROMPT_NAMED "deploy@web's password"
#define SECRET "hunter2"

/* Error-checking: the callback's own attempt to take it fails at once if the store
 * still holds it, instead of hanging. */
static pthread_mutex_t lock;
static struct ec_broker *broker;

struct app {
	const char *answer; /* what the application types */
	int decline;        /* what it returns instead of 0 */
	int overflow;       /* fill the whole buffer, with no NUL */
	int hold;           /* wait for release() before answering */
	int calls;
	int unlocked; /* the store's lock was free during the last call */
	char context[64], prompt[128];
};

/* An application thread inside the callback, held there until released. */
static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate;
static int in_call, released;

/* Wait, gate_lock held, until *flag is set; at most 10 s. */
static int gate_wait(const int *flag)
{
	long long end = ec__now_ms() + 10000;
	while (!*flag && !ec__cond_wait_until(&gate, &gate_lock, end))
		;
	return *flag;
}

static void gate_set(int *flag)
{
	pthread_mutex_lock(&gate_lock);
	*flag = 1;
	pthread_cond_broadcast(&gate);
	pthread_mutex_unlock(&gate_lock);
}

static int ask(void *data, const struct ec_secret_request *req, char *buf, size_t cap)
{
	struct app *app = data;
	app->calls++;
	CU_ASSERT_EQUAL(req->size, sizeof(*req));
	snprintf(app->context, sizeof(app->context), "%s", req->context);
	snprintf(app->prompt, sizeof(app->prompt), "%s", req->prompt);
	/* The loop may hold the lock for a turn: wait for it, but not forever. */
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 10;
	app->unlocked = pthread_mutex_timedlock(&lock, &ts) == 0;
	if (app->unlocked)
		pthread_mutex_unlock(&lock);
	if (app->hold) {
		gate_set(&in_call);
		pthread_mutex_lock(&gate_lock);
		CU_ASSERT_TRUE(gate_wait(&released));
		pthread_mutex_unlock(&gate_lock);
	}
	if (app->overflow) {
		memset(buf, 'x', cap);
		return 0;
	}
	/* Something typed, then declined: it must not show anywhere. */
	snprintf(buf, cap, "%s", app->decline ? SECRET : app->answer);
	return app->decline;
}

struct fixture {
	struct ec__secrets s;
	struct ec__secret_asker a1, a2;
	struct app app;
	char buf[64];
	size_t len;
	struct ec_error err;
};

static void setup(struct fixture *f)
{
	memset(f, 0, sizeof(*f));
	f->s.fn = ask;
	f->s.data = &f->app;
	f->app.answer = SECRET;
	f->a1.name = "web1";
	f->a2.name = "web2";
	ec__secret_asker_add(&f->s, &f->a1);
	ec__secret_asker_add(&f->s, &f->a2);
	pthread_mutex_lock(&lock);
}

static void teardown(struct fixture *f)
{
	CU_ASSERT_EQUAL(pthread_mutex_unlock(&lock), 0); /* the store gave it back */
	ec__secret_asker_remove(&f->s, &f->a1);
	ec__secret_asker_remove(&f->s, &f->a2);
	CU_ASSERT_PTR_NULL(f->s.askers);
	ec__secrets_free(&f->s);
	CU_ASSERT_PTR_NULL(f->s.list);
}

/* The host's secret_get, as the loop calls it while a's start op runs. */
static int get_as(struct fixture *f, struct ec__secret_asker *a, size_t cap)
{
	f->s.current = a;
	f->len = 0;
	f->err = (struct ec_error){0};
	memset(f->buf, 0, sizeof(f->buf));
	int rc = ec__secret_get(&f->s, KEY, PROMPT, f->buf, cap, &f->len, &f->err);
	f->s.current = NULL;
	return rc;
}

static int serve(struct fixture *f, struct ec__secret_asker *a)
{
	return ec__secret_serve(&f->s, a, &lock, broker);
}

/* a's start op needs the secret, and its application thread asks for it. */
static void ask_and_serve(struct fixture *f, struct ec__secret_asker *a)
{
	CU_ASSERT_EQUAL(get_as(f, a, sizeof(f->buf)), EC_EAGAIN);
	CU_ASSERT_PTR_NOT_NULL(a->wait);
	CU_ASSERT_EQUAL(serve(f, a), 1);
}

static void assert_answer(struct fixture *f, struct ec__secret_asker *a)
{
	CU_ASSERT_EQUAL(get_as(f, a, sizeof(f->buf)), 0);
	CU_ASSERT_STRING_EQUAL(f->buf, SECRET);
	CU_ASSERT_EQUAL(f->len, strlen(SECRET));
}

/* The error names the prompt and the asker, never what was typed. */
static void assert_no_secret(const struct ec_error *err)
{
	CU_ASSERT_PTR_NOT_NULL(strstr(err->msg, PROMPT_NAMED));
	CU_ASSERT_PTR_NULL(strstr(err->msg, SECRET));
	CU_ASSERT_PTR_NULL(strstr(err->msg, "xxxx"));
}

static void t_asked_once_and_shared(void)
{
	struct fixture f;
	setup(&f);
	CU_ASSERT_EQUAL(get_as(&f, &f.a1, sizeof(f.buf)), EC_EAGAIN);
	CU_ASSERT_PTR_NOT_NULL(f.a1.wait);
	CU_ASSERT_PTR_EQUAL(f.a1.seen, f.a1.wait);
	/* A second context needing the same answer waits for the same question. */
	CU_ASSERT_EQUAL(get_as(&f, &f.a2, sizeof(f.buf)), EC_EAGAIN);
	CU_ASSERT_PTR_EQUAL(f.a2.wait, f.a1.wait);
	CU_ASSERT_EQUAL(f.app.calls, 0); /* asked on the application's thread, not here */

	CU_ASSERT_EQUAL(serve(&f, &f.a1), 1);
	CU_ASSERT_EQUAL(f.app.calls, 1);
	CU_ASSERT_TRUE(f.app.unlocked);
	CU_ASSERT_STRING_EQUAL(f.app.context, "web1");
	CU_ASSERT_STRING_EQUAL(f.app.prompt, PROMPT);
	CU_ASSERT_EQUAL(serve(&f, &f.a2), 0); /* answered already */
	CU_ASSERT_EQUAL(serve(&f, &f.a1), 0);
	CU_ASSERT_EQUAL(f.app.calls, 1);
	assert_answer(&f, &f.a1);
	assert_answer(&f, &f.a2);
	/* Kept for whoever asks, even with no start op running. */
	assert_answer(&f, NULL);
	CU_ASSERT_EQUAL(f.app.calls, 1);
	teardown(&f);
}

static void t_declined(void)
{
	struct fixture f;
	setup(&f);
	f.app.decline = EC_EAUTH;
	ask_and_serve(&f, &f.a1);
	CU_ASSERT_EQUAL(f.app.calls, 1);
	/* The asker that waited fails, every time it asks. */
	for (int i = 0; i < 2; i++) {
		CU_ASSERT_EQUAL(get_as(&f, &f.a1, sizeof(f.buf)), EC_EAUTH);
		CU_ASSERT_EQUAL(f.err.code, EC_EAUTH);
		CU_ASSERT_PTR_NOT_NULL(strstr(f.err.where, "web1"));
		CU_ASSERT_PTR_NOT_NULL(strstr(f.err.msg, "no password was given"));
		assert_no_secret(&f.err);
		CU_ASSERT_EQUAL(f.len, 0);
	}
	CU_ASSERT_EQUAL(serve(&f, &f.a1), 0); /* not asked again for the one that failed */
	CU_ASSERT_EQUAL(f.app.calls, 1);
	/* The next asks again, and its answer is everyone's. */
	f.app.decline = 0;
	ask_and_serve(&f, &f.a2);
	CU_ASSERT_EQUAL(f.app.calls, 2);
	CU_ASSERT_STRING_EQUAL(f.app.context, "web2");
	assert_answer(&f, &f.a2);
	assert_answer(&f, &f.a1);
	teardown(&f);
}

static void *serve_a1(void *arg)
{
	struct fixture *f = arg;
	pthread_mutex_lock(&lock);
	CU_ASSERT_EQUAL(serve(f, &f->a1), 1);
	pthread_mutex_unlock(&lock);
	return NULL;
}

/* While one application thread answers, another whose context waits for the same
 * question does not ask it again, and both get the one answer. */
static void t_asked_while_asking(void)
{
	struct fixture f;
	setup(&f);
	f.app.hold = 1;
	in_call = released = 0;
	CU_ASSERT_EQUAL(get_as(&f, &f.a1, sizeof(f.buf)), EC_EAGAIN);
	CU_ASSERT_EQUAL(get_as(&f, &f.a2, sizeof(f.buf)), EC_EAGAIN);
	pthread_mutex_unlock(&lock);
	pthread_t th;
	CU_ASSERT_EQUAL_FATAL(pthread_create(&th, NULL, serve_a1, &f), 0);
	pthread_mutex_lock(&gate_lock);
	int asking = gate_wait(&in_call);
	pthread_mutex_unlock(&gate_lock);
	CU_ASSERT_TRUE(asking);
	pthread_mutex_lock(&lock);
	if (asking) {
		CU_ASSERT_EQUAL(serve(&f, &f.a2), 0);
		CU_ASSERT_EQUAL(get_as(&f, &f.a2, sizeof(f.buf)), EC_EAGAIN);
		ec__secret_forget(&f.s, KEY); /* being asked: kept */
		CU_ASSERT_PTR_NOT_NULL(f.s.list);
	}
	pthread_mutex_unlock(&lock);
	gate_set(&released);
	pthread_join(th, NULL);
	pthread_mutex_lock(&lock);
	CU_ASSERT_EQUAL(f.app.calls, 1);
	assert_answer(&f, &f.a1);
	assert_answer(&f, &f.a2);
	teardown(&f);
}

/* What the callback returns becomes the asker's error, but never EC_EAGAIN (which
 * would have it wait for ever) nor a positive number. */
static void t_decline_codes(void)
{
	static const struct {
		int rc, code;
	} cases[] = {{EC_ETIMEDOUT, EC_ETIMEDOUT}, {EC_EAGAIN, EC_EAUTH}, {1, EC_EAUTH}};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fixture f;
		setup(&f);
		f.app.decline = cases[i].rc;
		ask_and_serve(&f, &f.a1);
		CU_ASSERT_EQUAL(get_as(&f, &f.a1, sizeof(f.buf)), cases[i].code);
		CU_ASSERT_EQUAL(f.err.code, cases[i].code);
		assert_no_secret(&f.err);
		teardown(&f);
	}
}

/* An answer that fills the callback's whole buffer is refused, not cut. */
static void t_answer_overflows(void)
{
	struct fixture f;
	setup(&f);
	f.app.overflow = 1;
	ask_and_serve(&f, &f.a1);
	CU_ASSERT_EQUAL(get_as(&f, &f.a1, sizeof(f.buf)), EC_EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(f.err.msg, "too long"));
	assert_no_secret(&f.err);
	teardown(&f);
}

static void t_forget(void)
{
	struct fixture f;
	setup(&f);
	/* Nothing to forget while it is being asked. */
	CU_ASSERT_EQUAL(get_as(&f, &f.a1, sizeof(f.buf)), EC_EAGAIN);
	CU_ASSERT_EQUAL(get_as(&f, &f.a2, sizeof(f.buf)), EC_EAGAIN);
	ec__secret_forget(&f.s, KEY);
	ec__secret_forget(&f.s, "no such key");
	CU_ASSERT_PTR_NOT_NULL(f.a1.wait);
	CU_ASSERT_EQUAL(serve(&f, &f.a1), 1);
	assert_answer(&f, &f.a1);
	/* A refused answer (a wrong password) is dropped: nobody waits for it any more,
	 * and the next asker asks again. */
	ec__secret_forget(&f.s, KEY);
	CU_ASSERT_PTR_NULL(f.s.list);
	CU_ASSERT_PTR_NULL(f.a1.wait);
	CU_ASSERT_PTR_NULL(f.a1.seen);
	CU_ASSERT_PTR_NULL(f.a2.wait);
	CU_ASSERT_PTR_NULL(f.a2.seen);
	CU_ASSERT_EQUAL(serve(&f, &f.a1), 0);
	ask_and_serve(&f, &f.a1);
	CU_ASSERT_EQUAL(f.app.calls, 2);
	assert_answer(&f, &f.a1);
	teardown(&f);
}

static void t_errors(void)
{
	struct fixture f;
	setup(&f);
	/* Nobody to ask: no application callback, or no start op running. */
	f.s.fn = NULL;
	CU_ASSERT_EQUAL(get_as(&f, &f.a1, sizeof(f.buf)), EC_ENOTFOUND);
	CU_ASSERT_PTR_NULL(f.a1.wait);
	f.s.fn = ask;
	CU_ASSERT_EQUAL(get_as(&f, NULL, sizeof(f.buf)), EC_ENOTFOUND);
	CU_ASSERT_PTR_NULL(f.s.list);
	f.s.current = &f.a1;
	CU_ASSERT_EQUAL(ec__secret_get(&f.s, NULL, PROMPT, f.buf, sizeof(f.buf), &f.len, &f.err),
	                EC_EINVAL);
	CU_ASSERT_EQUAL(ec__secret_get(&f.s, KEY, PROMPT, f.buf, 0, &f.len, &f.err), EC_EINVAL);
	f.s.current = NULL;
	CU_ASSERT_EQUAL(f.app.calls, 0);

	/* An answer with no room for it and its NUL in the caller's buffer. */
	ask_and_serve(&f, &f.a1);
	CU_ASSERT_EQUAL(get_as(&f, &f.a1, strlen(SECRET)), EC_EINVAL);
	CU_ASSERT_EQUAL(f.err.code, EC_EINVAL);
	CU_ASSERT_EQUAL(f.len, 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(f.err.where, "web1"));
	assert_no_secret(&f.err);
	CU_ASSERT_PTR_NULL(memchr(f.buf, 'h', sizeof(f.buf)));
	CU_ASSERT_EQUAL(get_as(&f, &f.a1, strlen(SECRET) + 1), 0);
	CU_ASSERT_STRING_EQUAL(f.buf, SECRET);
	teardown(&f);
}

/* Answered, failed and pending questions all go (valgrind: nothing leaks). */
static void t_free(void)
{
	struct fixture f;
	setup(&f);
	static const char *const keys[] = {"answered", "declined", "pending"};
	for (size_t i = 0; i < 3; i++) {
		f.s.current = &f.a1;
		CU_ASSERT_EQUAL(ec__secret_get(&f.s, keys[i], PROMPT, f.buf, sizeof(f.buf), &f.len,
		                               &f.err),
		                EC_EAGAIN);
		f.s.current = NULL;
		f.app.decline = i == 1 ? EC_EAUTH : 0;
		if (i < 2)
			CU_ASSERT_EQUAL(serve(&f, &f.a1), 1);
	}
	CU_ASSERT_EQUAL(f.app.calls, 2);
	teardown(&f);
}

static int suite_init(void)
{
	pthread_mutexattr_t at;
	pthread_mutexattr_init(&at);
	pthread_mutexattr_settype(&at, PTHREAD_MUTEX_ERRORCHECK);
	int rc = pthread_mutex_init(&lock, &at);
	pthread_mutexattr_destroy(&at);
	struct ec_error err = {0};
	return rc || ec__cond_init_monotonic(&gate) || ec__broker_start(&lock, &broker, &err);
}

static int suite_cleanup(void)
{
	ec__broker_stop(broker);
	pthread_mutex_destroy(&lock);
	pthread_cond_destroy(&gate);
	return 0;
}

static CU_TestInfo secret_tests[] = {
	{"asked once per key, the answer shared", t_asked_once_and_shared},
	{"asked by one application thread, not again by another", t_asked_while_asking},
	{"declined: the asker that waited fails, the next asks again", t_declined},
	{"declined: which code the asker gets", t_decline_codes},
	{"an answer filling the whole buffer is refused", t_answer_overflows},
	{"forget drops an answer and who waited for it", t_forget},
	{"nobody to ask, bad arguments, a buffer too small", t_errors},
	{"free drops every question", t_free},
	CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
	{"secret", suite_init, suite_cleanup, NULL, NULL, secret_tests},
	CU_SUITE_INFO_NULL,
};

int main(void)
{
	if (CU_initialize_registry() != CUE_SUCCESS || CU_register_suites(suites) != CUE_SUCCESS)
		return 2;
	return ec_test_run();
}
