/* many.c: N local contexts from one master and one thread: connected at once (async
 * connects waited on in one select), one call each (in one select too), then all shut
 * down. Prints the wall times and the master's peak RSS.
 * Usage: many PYTHON [N]   (not a test: timings never decide pass or fail) */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

#include "benchutil.h"
#include "econtext.h"

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s PYTHON [N]\n", argv[0]);
		return 2;
	}
	int n = argc > 2 ? atoi(argv[2]) : 100;
	char opt[600];
	snprintf(opt, sizeof(opt), "python=%s", argv[1]);
	const char *ov[] = {"transport=local", opt, NULL};
	struct ec_master_options mo = {.size = sizeof(mo), .config_path = "/dev/null",
	                               .log_level = EC_LOG_ERROR};
	ec_master *m = NULL;
	ec_select *sel = NULL;
	struct ec_error err = {0};
	if (ec_master_new(&mo, &m, &err) || ec_select_new(m, &sel, &err)) {
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	ec_connect **conn = calloc((size_t)n, sizeof(*conn));
	ec_context **ctx = calloc((size_t)n, sizeof(*ctx));
	ec_call **call = calloc((size_t)n, sizeof(*call));
	int failures = 0;
	double t0 = now();
	for (long i = 0; i < n; i++) {
		char name[32];
		snprintf(name, sizeof(name), "c%ld", i);
		if (ec_context_connect_async(m, name, ov, 60000, &conn[i], &err) ||
		    ec_select_add_connect(sel, conn[i], (void *)i, &err)) {
			fprintf(stderr, "%s\n", err.msg);
			return 1;
		}
	}
	/* As each context comes up, its call goes out. */
	while (ec_select_count(sel)) {
		void *tags[64];
		size_t k = 0;
		if (ec_select_wait(sel, 60000, tags, 64, &k, &err)) {
			fprintf(stderr, "select: %s\n", err.msg);
			return 1;
		}
		for (size_t j = 0; j < k; j++) {
			long i = (long)tags[j];
			if (conn[i]) {
				if (ec_connect_wait(conn[i], 1, &ctx[i], &err) ||
				    ec_context_call_async(ctx[i], "os", "getpid", NULL, NULL, &call[i], &err) ||
				    ec_select_add_call(sel, call[i], (void *)i, &err)) {
					failures++;
					fprintf(stderr, "c%ld: %s\n", i, err.msg);
				}
				ec_connect_free(conn[i]);
				conn[i] = NULL;
			} else {
				ec_value *res = NULL;
				if (ec_call_wait(call[i], 1, &res, &err)) {
					failures++;
					fprintf(stderr, "c%ld: %s\n", i, err.msg);
				}
				ec_value_free(res);
				ec_call_free(call[i]);
			}
		}
	}
	double t1 = now();
	ec_select_free(sel);
	for (int i = 0; i < n; i++)
		ec_context_shutdown(ctx[i], 3000, NULL);
	double t2 = now();
	ec_master_free(m);
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	printf("%d contexts, one thread: connected and called in %.3f s, shut down in %.3f s, "
	       "%d failures, master peak RSS %.1f MB\n",
	       n, t1 - t0, t2 - t1, failures, ru.ru_maxrss / 1024.0);
	free(conn);
	free(ctx);
	free(call);
	return failures ? 1 : 0;
}
