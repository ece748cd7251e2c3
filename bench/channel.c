/* channel.c: channel throughput from a local context: N values of SIZE bytes sent by
 * the context (bench/data/chanbench.py), received by the master. Usage:
 * channel PYTHON [N] [SIZE]   (not a test: timings never decide pass or fail). Also the
 * CPU seconds the master and the context (reaped: a child's) used, from boot to exit. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

#include "benchutil.h"
#include "econtext.h"

static double cpu(const struct timeval *tv)
{
	return (double)tv->tv_sec + (double)tv->tv_usec / 1e6;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s PYTHON [N] [SIZE]\n", argv[0]);
		return 2;
	}
	long n = argc > 2 ? atol(argv[2]) : 1024;
	long size = argc > 3 ? atol(argv[3]) : 1 << 20;
	const char *mp[] = {"bench/data", NULL};
	struct ec_master_options mo = {.size = sizeof(mo), .log_level = EC_LOG_WARNING,
	                               .config_path = "/dev/null", .module_path = mp};
	char opt[600];
	snprintf(opt, sizeof(opt), "python=%s", argv[1]);
	const char *ov[] = {"transport=local", opt, NULL};
	struct ec_error err = {0};
	ec_master *m = NULL;
	ec_context *ctx = NULL;
	ec_channel *ch = NULL;
	if (ec_master_new(&mo, &m, &err) || ec_context_connect(m, "c", ov, 30000, &ctx, &err) ||
	    ec_channel_new(ctx, &ch, &err)) {
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	ec_value *args = ec_value_new(EC_T_TUPLE);
	ec_value_append(args, ec_value_channel(ch));
	ec_value_append(args, ec_value_int(n));
	ec_value_append(args, ec_value_int(size));
	ec_call *call = NULL;
	double t0 = now();
	if (ec_context_call_async(ctx, "chanbench", "produce", args, NULL, &call, &err)) {
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	long got = 0;
	for (;;) {
		ec_value *v = NULL;
		int rc = ec_channel_recv(ch, 60000, &v, &err);
		if (rc == EC_EEOF)
			break;
		if (rc) {
			fprintf(stderr, "%s\n", err.msg);
			return 1;
		}
		got++;
		ec_value_free(v);
	}
	double dt = now() - t0;
	printf("python %s: %ld values of %ld bytes in %.3f s: %.0f values/s, %.1f MiB/s\n",
	       ec_context_python_version(ctx), got, size, dt, got / dt,
	       got * (double)size / dt / (1 << 20));
	ec_value *res = NULL;
	ec_call_wait(call, 10000, &res, &err);
	ec_value_free(res);
	ec_call_free(call);
	ec_value_free(args);
	ec_channel_free(ch);
	ec_context_shutdown(ctx, 3000, NULL);
	ec_master_free(m);
	struct rusage self, kids;
	getrusage(RUSAGE_SELF, &self);
	getrusage(RUSAGE_CHILDREN, &kids);
	printf("CPU s: master %.2f (user %.2f), context %.2f (user %.2f)\n",
	       cpu(&self.ru_utime) + cpu(&self.ru_stime), cpu(&self.ru_utime),
	       cpu(&kids.ru_utime) + cpu(&kids.ru_stime), cpu(&kids.ru_utime));
	return got == n ? 0 : 1;
}
