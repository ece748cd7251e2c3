/* values.c: what results cost: the round trip of operator.neg(1), a 1 MiB bytes result
 * (os.urandom), and 100,000 small named tuples against as many plain tuples
 * (bench/data/valbench.py), medians of ROUNDS. Usage: values PYTHON [ROUNDS]
 * (not a test: timings never decide pass or fail) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "benchutil.h"
#include "econtext.h"

static double median_ms(ec_context *ctx, const char *mod, const char *fn, long arg, int rounds)
{
	double t[rounds];
	ec_value *args = ec_value_new(EC_T_TUPLE);
	ec_value_append(args, ec_value_int(arg));
	for (int i = 0; i < rounds; i++) {
		ec_value *res = NULL;
		struct ec_error err = {0};
		double t0 = now();
		if (ec_context_call(ctx, mod, fn, args, NULL, 60000, &res, &err)) {
			fprintf(stderr, "%s.%s: %s\n", mod, fn, err.msg);
			exit(1);
		}
		t[i] = now() - t0;
		ec_value_free(res);
	}
	ec_value_free(args);
	qsort(t, (size_t)rounds, sizeof(double), cmp);
	return t[rounds / 2] * 1000;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s PYTHON [ROUNDS]\n", argv[0]);
		return 2;
	}
	int rounds = argc > 2 ? atoi(argv[2]) : 21;
	const char *mp[] = {"bench/data", NULL};
	struct ec_master_options mo = {.size = sizeof(mo), .log_level = EC_LOG_WARNING,
	                               .config_path = "/dev/null", .module_path = mp};
	struct ec_error err = {0};
	ec_master *m = NULL;
	ec_context *ctx = NULL;
	char opt[600];
	snprintf(opt, sizeof(opt), "python=%s", argv[1]);
	const char *ov[] = {"transport=local", opt, NULL};
	if (ec_master_new(&mo, &m, &err) || ec_context_connect(m, "v", ov, 30000, &ctx, &err)) {
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	printf("python %s, medians of %d:\n", ec_context_python_version(ctx), rounds);
	/* 32 results of 16 MiB, one after the other, first: the master's peak RSS. */
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	long before = ru.ru_maxrss;
	double ms = median_ms(ctx, "os", "urandom", 16L << 20, 32);
	getrusage(RUSAGE_SELF, &ru);
	printf("  32 x os.urandom(16 MiB)    %8.3f ms each; master peak RSS %.1f MB (%.1f before)\n",
	       ms, ru.ru_maxrss / 1024.0, before / 1024.0);
	printf("  operator.neg(1)            %8.3f ms\n", median_ms(ctx, "operator", "neg", 1, rounds * 50));
	printf("  os.urandom(1 MiB)          %8.3f ms\n", median_ms(ctx, "os", "urandom", 1 << 20, rounds));
	printf("  100,000 plain tuples       %8.3f ms\n", median_ms(ctx, "valbench", "plain", 100000, rounds));
	if (argc < 4 || strcmp(argv[3], "--no-named"))
		printf("  100,000 named tuples       %8.3f ms\n",
		       median_ms(ctx, "valbench", "named", 100000, rounds));
	ec_context_shutdown(ctx, 3000, NULL);
	ec_master_free(m);
	return 0;
}
