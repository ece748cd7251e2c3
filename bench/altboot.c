/* altboot.c: contexts of one master booted in alternation (A B A B ...), each to its
 * first result (os.getpid) then shut down, after 5 warm-up pairs: what a layer adds to
 * a boot (e.g. `l` against `lc`, local against local connected back over TLS) with
 * the load of a shared VM spread over both. Not a test: timings decide nothing.
 * Usage: altboot CONFIG CONTEXT_A CONTEXT_B [N]   (docs/benchmarks.md) */
#include <stdio.h>
#include <stdlib.h>

#include "benchutil.h"
#include "econtext.h"

static ec_master *m;

/* One boot of name to its first result, in ms; -1 on failure (said on stderr). */
static double boot(const char *name)
{
	struct ec_error err = {0};
	ec_context *c;
	double t0 = now();
	if (ec_context_connect(m, name, NULL, 30000, &c, &err)) {
		fprintf(stderr, "altboot: context %s: %s: %s\n", name, err.where, err.msg);
		return -1;
	}
	ec_value *args = ec_value_new(EC_T_TUPLE), *res = NULL;
	int rc = args ? ec_context_call(c, "os", "getpid", args, NULL, 30000, &res, &err) : -1;
	double dt = (now() - t0) * 1e3;
	if (rc)
		fprintf(stderr, "altboot: context %s: call: %s\n", name, err.msg);
	ec_value_free(args);
	ec_value_free(res);
	ec_context_shutdown(c, 3000, NULL);
	return rc ? -1 : dt;
}

static void stats(const char *name, double *t, int n)
{
	qsort(t, (size_t)n, sizeof(double), cmp);
	printf("%-12s min %7.2f  p25 %7.2f  median %7.2f  p75 %7.2f ms  (n=%d)\n", name, t[0],
	       t[n / 4], t[n / 2], t[3 * n / 4], n);
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: %s CONFIG CONTEXT_A CONTEXT_B [N]\n", argv[0]);
		return 2;
	}
	int n = argc > 4 ? atoi(argv[4]) : 100;
	if (n < 4) {
		fprintf(stderr, "altboot: N must be 4 or more\n");
		return 2;
	}
	struct ec_master_options mo = {.size = sizeof(mo), .config_path = argv[1],
	                               .log_level = EC_LOG_WARNING};
	struct ec_error err = {0};
	if (ec_master_new(&mo, &m, &err)) {
		fprintf(stderr, "altboot: %s: %s\n", err.where, err.msg);
		return 1;
	}
	double *a = calloc((size_t)n, sizeof(double)), *b = calloc((size_t)n, sizeof(double));
	int rc = a && b ? 0 : 1;
	for (int i = -5; !rc && i < n; i++) {
		double ta = boot(argv[2]), tb = ta < 0 ? -1 : boot(argv[3]);
		if (ta < 0 || tb < 0)
			rc = 1;
		else if (i >= 0)
			a[i] = ta, b[i] = tb;
	}
	if (!rc) {
		stats(argv[2], a, n);
		stats(argv[3], b, n);
	}
	free(a);
	free(b);
	ec_master_free(m);
	return rc;
}
