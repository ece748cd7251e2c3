/* pipeline.c: calls on one local context with up to W in flight (a select keeps the
 * window full): calls per second. Usage: pipeline PYTHON [CALLS] [W]
 * (not a test: timings never decide pass or fail) */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "benchutil.h"
#include "econtext.h"

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s PYTHON [CALLS] [WINDOW]\n", argv[0]);
		return 2;
	}
	long total = argc > 2 ? atol(argv[2]) : 100000;
	int window = argc > 3 ? atoi(argv[3]) : 64;
	char opt[600];
	snprintf(opt, sizeof(opt), "python=%s", argv[1]);
	const char *ov[] = {"transport=local", opt, NULL};
	struct ec_master_options mo = {.size = sizeof(mo), .config_path = "/dev/null",
	                               .log_level = EC_LOG_ERROR};
	ec_master *m = NULL;
	ec_context *ctx = NULL;
	ec_select *sel = NULL;
	struct ec_error err = {0};
	if (ec_master_new(&mo, &m, &err) || ec_context_connect(m, "p", ov, 60000, &ctx, &err) ||
	    ec_select_new(m, &sel, &err)) {
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	ec_value *args = ec_value_new(EC_T_TUPLE);
	ec_value_append(args, ec_value_int(1));
	long sent = 0, done = 0;
	double t0 = now();
	while (done < total) {
		while (sent < total && sent - done < window) {
			ec_call *c = NULL;
			if (ec_context_call_async(ctx, "operator", "neg", args, NULL, &c, &err) ||
			    ec_select_add_call(sel, c, c, &err)) {
				fprintf(stderr, "%s\n", err.msg);
				return 1;
			}
			sent++;
		}
		void *tags[256];
		size_t k = 0;
		if (ec_select_wait(sel, 60000, tags, 256, &k, &err)) {
			fprintf(stderr, "select: %s\n", err.msg);
			return 1;
		}
		for (size_t j = 0; j < k; j++) {
			ec_value *res = NULL;
			if (ec_call_wait(tags[j], 1, &res, &err) || res->u.i != -1) {
				fprintf(stderr, "call: %s\n", err.msg);
				return 1;
			}
			ec_value_free(res);
			ec_call_free(tags[j]);
			done++;
		}
	}
	double dt = now() - t0;
	printf("python %s: %ld calls of operator.neg(1), %d in flight: %.0f calls/s\n",
	       ec_context_python_version(ctx), total, window, total / dt);
	ec_value_free(args);
	ec_select_free(sel);
	ec_context_shutdown(ctx, 3000, NULL);
	ec_master_free(m);
	return 0;
}
