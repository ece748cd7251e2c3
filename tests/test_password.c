/* test_password.c: the host's password service (core/password.c): password_env,
 * password_file, the application's answer through a fake secret_get, the pause of the
 * caller's deadline while it is asked, and forgetting a refused answer. */
#include "ecbuild.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "password.h"
#include "testutil.h"

/* A host whose application answers "s3cret" after `asks` EAGAINs (or never: -1). */
static int asks, asked, forgotten;

static int fake_get(const struct ec_host *h, const char *key, const char *prompt, char *buf,
                    size_t cap, size_t *len, struct ec_error *err)
{
	(void)h;
	(void)err;
	CU_ASSERT_STRING_EQUAL(key, "test:u@h");
	CU_ASSERT_STRING_EQUAL(prompt, "u@h's password: ");
	if (asks < 0)
		return EC_ENOTFOUND;
	if (asked++ < asks)
		return EC_EAGAIN;
	snprintf(buf, cap, "s3cret");
	*len = 6;
	return 0;
}

static void fake_forget(const struct ec_host *h, const char *key)
{
	(void)h;
	CU_ASSERT_STRING_EQUAL(key, "test:u@h");
	forgotten++;
}

static const struct ec_host host = {.size = sizeof(struct ec_host),
                                    .secret_get = fake_get,
                                    .secret_forget = fake_forget};

static int get(struct ec_password *pw, char *buf, size_t cap, size_t *len, struct ec_error *e)
{
	return ec__password_get(&host, pw, "test:u@h", "u@h's password: ", buf, cap, len, e);
}

static void test_env(void)
{
	struct ec_password pw = {.size = sizeof(pw), .env = "EC_TEST_PW", .where = "c.yaml:2:3"};
	char buf[8];
	size_t n = 99;
	struct ec_error e = {0};
	setenv("EC_TEST_PW", "abc", 1);
	CU_ASSERT_EQUAL(get(&pw, buf, sizeof(buf), &n, &e), 0);
	CU_ASSERT_STRING_EQUAL(buf, "abc");
	CU_ASSERT_EQUAL(n, 3);
	CU_ASSERT_FALSE(pw.from_app);
	setenv("EC_TEST_PW", "", 1); /* empty is a password too: the caller decides */
	CU_ASSERT_EQUAL(get(&pw, buf, sizeof(buf), &n, &e), 0);
	CU_ASSERT_EQUAL(n, 0);
	setenv("EC_TEST_PW", "12345678", 1);
	CU_ASSERT_EQUAL(get(&pw, buf, sizeof(buf), &n, &e), EC_EAUTH);
	CU_ASSERT_STRING_EQUAL(e.msg, "the password in EC_TEST_PW is longer than 7 bytes");
	unsetenv("EC_TEST_PW");
	CU_ASSERT_EQUAL(get(&pw, buf, sizeof(buf), &n, &e), EC_EAUTH);
	CU_ASSERT_STRING_EQUAL(e.msg, "the environment variable EC_TEST_PW (password_env, "
	                              "c.yaml:2:3) is not set");
	CU_ASSERT_EQUAL(asked, 0); /* never the application */
}

static void test_file(void)
{
	struct ec_password pw = {.size = sizeof(pw)};
	char buf[8], msg[600];
	size_t n = 0;
	struct ec_error e = {0};
	char *path = ec_test_tmpfile("pw\r\nsecond line\n");
	pw.file = path;
	CU_ASSERT_EQUAL(get(&pw, buf, sizeof(buf), &n, &e), 0);
	CU_ASSERT_STRING_EQUAL(buf, "pw");
	CU_ASSERT_EQUAL(n, 2);
	CU_ASSERT_EQUAL(memchr(buf, 's', sizeof(buf)), NULL); /* the rest is wiped */
	unlink(path);
	free(path);
	pw.file = path = ec_test_tmpfile("1234567"); /* fits exactly, no newline */
	CU_ASSERT_EQUAL(get(&pw, buf, sizeof(buf), &n, &e), 0);
	CU_ASSERT_STRING_EQUAL(buf, "1234567");
	unlink(path);
	free(path);
	pw.file = path = ec_test_tmpfile("12345678\n");
	CU_ASSERT_EQUAL(get(&pw, buf, sizeof(buf), &n, &e), EC_EAUTH);
	snprintf(msg, sizeof(msg), "the password in %s is longer than 7 bytes", path);
	CU_ASSERT_STRING_EQUAL(e.msg, msg);
	unlink(path);
	CU_ASSERT_EQUAL(get(&pw, buf, sizeof(buf), &n, &e), EC_EAUTH);
	snprintf(msg, sizeof(msg), "cannot read password_file %s: No such file or directory",
	         path);
	CU_ASSERT_STRING_EQUAL(e.msg, msg);
	free(path);
	CU_ASSERT_EQUAL(asked, 0);
}

static void test_application(void)
{
	long long deadline = 1000;
	struct ec_password pw = {.size = sizeof(pw), .deadline_ms = &deadline};
	char buf[16];
	size_t n = 0;
	struct ec_error e = {0};
	asks = 2;
	asked = forgotten = 0;
	CU_ASSERT_EQUAL(get(&pw, buf, sizeof(buf), &n, &e), EC_EAGAIN);
	CU_ASSERT_TRUE(pw.asked_since > 0);
	long long since = pw.asked_since;
	CU_ASSERT_EQUAL(get(&pw, buf, sizeof(buf), &n, &e), EC_EAGAIN);
	CU_ASSERT_EQUAL(pw.asked_since, since); /* the pause began at the first question */
	CU_ASSERT_EQUAL(deadline, 1000);
	pw.asked_since -= 10000; /* as if asked 10 s ago */
	CU_ASSERT_EQUAL(get(&pw, buf, sizeof(buf), &n, &e), 0);
	CU_ASSERT_STRING_EQUAL(buf, "s3cret");
	CU_ASSERT_EQUAL(n, 6);
	CU_ASSERT_TRUE(pw.from_app);
	CU_ASSERT_EQUAL(pw.asked_since, 0);
	CU_ASSERT_TRUE(deadline >= 11000); /* moved on by the time it was asked */
	ec__password_refused(&host, &pw, "test:u@h");
	CU_ASSERT_EQUAL(forgotten, 1);

	/* Nobody to ask; no deadline: none moved. */
	asks = -1;
	deadline = 0;
	pw = (struct ec_password){.size = sizeof(pw), .deadline_ms = &deadline};
	CU_ASSERT_EQUAL(get(&pw, buf, sizeof(buf), &n, &e), EC_ENOTFOUND);
	CU_ASSERT_FALSE(pw.from_app);
	asks = 1;
	asked = 0;
	CU_ASSERT_EQUAL(get(&pw, buf, sizeof(buf), &n, &e), EC_EAGAIN);
	CU_ASSERT_EQUAL(get(&pw, buf, sizeof(buf), &n, &e), 0);
	CU_ASSERT_EQUAL(deadline, 0);

	/* A refused password from the configuration: nothing to forget. */
	setenv("EC_TEST_PW", "abc", 1);
	pw = (struct ec_password){.size = sizeof(pw), .env = "EC_TEST_PW"};
	CU_ASSERT_EQUAL(get(&pw, buf, sizeof(buf), &n, &e), 0);
	ec__password_refused(&host, &pw, "test:u@h");
	CU_ASSERT_EQUAL(forgotten, 1);
	unsetenv("EC_TEST_PW");
}

int main(void)
{
	CU_initialize_registry();
	CU_pSuite s = CU_add_suite("password service", NULL, NULL);
	CU_add_test(s, "password_env", test_env);
	CU_add_test(s, "password_file: its first line", test_file);
	CU_add_test(s, "the application: the deadline paused, a refused answer forgotten",
	            test_application);
	return ec_test_run();
}
