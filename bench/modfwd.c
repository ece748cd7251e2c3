/* modfwd.c: the module forwarder over the public API. For each of predict_imports
 * true and false: N fresh local contexts of one master, each calling fwd20.m00.run()
 * from bench/data/fwd20 (a package of 20 modules importing each other, forwarded from
 * the master); prints the time of that first call (import of 21 modules + the call),
 * the boot, and the GET_MODULE round trips the context made (importer.stats()).
 * The first context of each master finds the master's cache cold (files read,
 * compressed and scanned); it is reported apart.
 * Usage: modfwd PYTHON [N] [DATADIR]   (not a test: timings never decide pass or fail) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "benchutil.h"
#include "econtext.h"

static int run(const char *python, int n, const char *datadir, int predict)
{
	char cfg[] = "/tmp/ecbench.XXXXXX";
	int fd = mkstemp(cfg);
	const char *text = predict ? "predict_imports: true\n" : "predict_imports: false\n";
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
		perror("config");
		return 1;
	}
	close(fd);
	const char *dirs[] = {datadir, NULL};
	struct ec_master_options mo = {.size = sizeof(mo), .log_level = EC_LOG_WARNING,
	                               .config_path = cfg, .module_path = dirs};
	struct ec_error err = {0};
	ec_master *m;
	int rc = ec_master_new(&mo, &m, &err);
	unlink(cfg);
	if (rc) {
		fprintf(stderr, "%s: %s\n", err.where, err.msg);
		return 1;
	}
	char opt[600];
	snprintf(opt, sizeof(opt), "python=%s", python);
	const char *ov[] = {opt, NULL};
	double *call = calloc((size_t)n, sizeof(double)), *boot = calloc((size_t)n, sizeof(double));
	long long gets = -1;
	ec_value *args = ec_value_new(EC_T_TUPLE);
	char version[32] = "?";
	for (int i = 0; i < n; i++) {
		ec_context *ctx;
		double t0 = now();
		if (ec_context_connect(m, "local", ov, 30000, &ctx, &err)) {
			fprintf(stderr, "%s: %s\n", err.where, err.msg);
			return 1;
		}
		double t1 = now();
		ec_value *res = NULL;
		if (ec_context_call(ctx, "fwd20.m00", "run", args, NULL, 30000, &res, &err) ||
		    res->type != EC_T_INT || res->u.i != 190) {
			fprintf(stderr, "fwd20.m00.run: %s\n", res && res->type == EC_T_ERROR
			                                           ? res->u.err.traceback : err.msg);
			return 1;
		}
		double t2 = now();
		ec_value_free(res);
		res = NULL;
		if (!ec_context_call(ctx, "econtext", "importer.stats", args, NULL, 30000, &res, &err)) {
			const ec_value *g = ec_value_dict_get(res, "gets");
			gets = g && g->type == EC_T_INT ? g->u.i : -1;
		}
		ec_value_free(res);
		snprintf(version, sizeof(version), "%s", ec_context_python_version(ctx));
		ec_context_shutdown(ctx, 3000, NULL);
		boot[i] = t1 - t0;
		call[i] = t2 - t1;
	}
	double cold = call[0];
	if (n > 1) {
		qsort(call + 1, (size_t)n - 1, sizeof(double), cmp);
		qsort(boot + 1, (size_t)n - 1, sizeof(double), cmp);
	}
	int mid = n > 1 ? 1 + (n - 1) / 2 : 0;
	printf("python %s, predict_imports: %-5s  round trips %lld  first call: cold %.2f ms, "
	       "warm median %.2f ms (min %.2f, max %.2f)  boot median %.2f ms  [%d contexts]\n",
	       version, predict ? "true" : "false", gets, cold * 1e3, call[mid] * 1e3,
	       call[n > 1 ? 1 : 0] * 1e3, call[n - 1] * 1e3, boot[mid] * 1e3, n);
	free(call);
	free(boot);
	ec_value_free(args);
	ec_master_free(m);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s PYTHON [N] [DATADIR]\n", argv[0]);
		return 2;
	}
	int n = argc > 2 ? atoi(argv[2]) : 30;
	const char *datadir = argc > 3 ? argv[3] : "bench/data";
	if (n < 1)
		n = 1;
	return run(argv[1], n, datadir, 1) || run(argv[1], n, datadir, 0);
}
