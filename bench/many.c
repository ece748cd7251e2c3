/* many.c: N local contexts from one master: time to bootstrap all of them and get one
 * result from each, then to shut them all down. One thread per *caller* here only
 * because ec_context_connect blocks; the master itself runs one broker thread.
 * Usage: many PYTHON [N]   (not a test: timings never decide pass or fail) */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "econtext.h"

static ec_master *m;
static char opt[600];
static int failures;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *one(void *arg)
{
	ec_context **slot = arg;
	const char *ov[] = {opt, NULL};
	struct ec_error err = {0};
	ec_value *res = NULL;
	if (ec_context_connect(m, "local", ov, 60000, slot, &err) ||
	    ec_context_call(*slot, "os", "getpid", NULL, NULL, 60000, &res, &err)) {
		pthread_mutex_lock(&lock);
		failures++;
		fprintf(stderr, "%s\n", err.msg);
		pthread_mutex_unlock(&lock);
	}
	ec_value_free(res);
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s PYTHON [N]\n", argv[0]);
		return 2;
	}
	int n = argc > 2 ? atoi(argv[2]) : 100;
	snprintf(opt, sizeof(opt), "python=%s", argv[1]);
	struct ec_master_options mo = {.size = sizeof(mo), .log_level = EC_LOG_WARNING};
	struct ec_error err = {0};
	if (ec_master_new(&mo, &m, &err)) {
		fprintf(stderr, "%s: %s\n", err.where, err.msg);
		return 1;
	}
	ec_context **ctx = calloc((size_t)n, sizeof(*ctx));
	pthread_t *t = calloc((size_t)n, sizeof(*t));
	double t0 = now();
	for (int i = 0; i < n; i++)
		pthread_create(&t[i], NULL, one, &ctx[i]);
	for (int i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	double t1 = now();
	ec_master_free(m); /* shuts every context down at once */
	double t2 = now();
	printf("%d contexts: bootstrap + one call each %.2f s, shutdown of all %.2f s, %d failed\n", n,
	       t1 - t0, t2 - t1, failures);
	free(ctx);
	free(t);
	return failures != 0;
}
