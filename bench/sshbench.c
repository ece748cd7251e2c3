/* sshbench.c: the ssh transport in one process (bench/ssh.sh runs it):
 *   - a fresh context to its first result (handshake, host key, login, channel, boot);
 *   - a second context on the same host while the first lives (a channel only), N times;
 *   - call round trips over ssh;
 *   - bulk throughput context -> master: calls returning 16 MiB of bytes each (or
 *     $SSHBENCH_CHUNK_MB), one at a time, then two in flight.
 * Usage: sshbench CONFIG CONTEXT [N] [TOTAL_MB]   (not a test: timings decide nothing) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "benchutil.h"
#include "econtext.h"

static void stats(const char *what, double *t, int n)
{
	qsort(t, (size_t)n, sizeof(double), cmp);
	printf("%-44s min %7.2f ms  median %7.2f ms  p90 %7.2f ms  (n=%d)\n", what, t[0] * 1e3,
	       t[n / 2] * 1e3, t[n * 9 / 10] * 1e3, n);
}

static ec_master *m;
static const char *name;

static int first_result(ec_context **out)
{
	struct ec_error err = {0};
	if (ec_context_connect(m, name, NULL, 30000, out, &err)) {
		fprintf(stderr, "%s: %s\n", err.where, err.msg);
		return 1;
	}
	ec_value *args = ec_value_new(EC_T_TUPLE), *res = NULL;
	int rc = ec_context_call(*out, "os", "getpid", args, NULL, 30000, &res, &err);
	if (rc)
		fprintf(stderr, "call: %s\n", err.msg);
	ec_value_free(args);
	ec_value_free(res);
	return rc;
}

/* `calls` calls of bytes(chunk), `depth` of them in flight at a time; the seconds taken,
 * or -1 on an error. */
static double bulk(ec_context *c, const ec_value *args, long chunk, int calls, int depth)
{
	ec_call *inflight[2] = {NULL, NULL};
	struct ec_error err = {0};
	double t0 = now();
	for (int i = 0; i < calls + depth; i++) {
		ec_call **slot = &inflight[i % depth];
		if (*slot) {
			ec_value *res = NULL;
			int rc = ec_call_wait(*slot, 60000, &res, &err);
			ec_call_free(*slot);
			*slot = NULL;
			if (rc) {
				fprintf(stderr, "bulk call: %s\n", err.msg);
				return -1;
			}
			int ok = res && res->type == EC_T_BYTES && (long)res->u.s.len == chunk;
			ec_value_free(res);
			if (!ok) {
				fprintf(stderr, "bulk call: unexpected result\n");
				return -1;
			}
		}
		if (i < calls && ec_context_call_async(c, "builtins", "bytes", args, NULL, slot, &err)) {
			fprintf(stderr, "bulk call: %s\n", err.msg);
			return -1;
		}
	}
	return now() - t0;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: %s CONFIG CONTEXT [N] [TOTAL_MB]\n", argv[0]);
		return 2;
	}
	name = argv[2];
	int n = argc > 3 ? atoi(argv[3]) : 20;
	int total_mb = argc > 4 ? atoi(argv[4]) : 256;
	struct ec_master_options mo = {.size = sizeof(mo), .config_path = argv[1],
	                               .log_level = EC_LOG_WARNING};
	struct ec_error err = {0};
	if (ec_master_new(&mo, &m, &err)) {
		fprintf(stderr, "%s: %s\n", err.where, err.msg);
		return 1;
	}
	double *t = calloc((size_t)(n > 2000 ? n : 2000), sizeof(double));
	ec_context *first;
	double t0 = now();
	if (first_result(&first))
		return 1;
	t[0] = now() - t0;
	printf("%-44s %7.2f ms\n", "fresh context to first result (in process)", t[0] * 1e3);

	for (int i = 0; i < n; i++) {
		ec_context *c;
		t0 = now();
		if (first_result(&c))
			return 1;
		t[i] = now() - t0;
		ec_context_shutdown(c, 3000, NULL);
	}
	stats("second context on the host, to first result", t, n);

	ec_value *args = ec_value_new(EC_T_TUPLE);
	for (int i = 0; i < 2000; i++) {
		ec_value *res = NULL;
		t0 = now();
		if (ec_context_call(first, "os", "getpid", args, NULL, 30000, &res, &err)) {
			fprintf(stderr, "call: %s\n", err.msg);
			return 1;
		}
		t[i] = now() - t0;
		ec_value_free(res);
	}
	stats("call round trip (os.getpid)", t, 2000);
	ec_value_free(args);

	/* Bulk: bytes(16 MiB, or $SSHBENCH_CHUNK_MB) per call, context -> master. */
	const char *cmb = getenv("SSHBENCH_CHUNK_MB");
	int chunk_mb = cmb && atoi(cmb) > 0 ? atoi(cmb) : 16;
	const long chunk = (long)chunk_mb << 20;
	int calls = total_mb / chunk_mb > 0 ? total_mb / chunk_mb : 1;
	args = ec_value_new(EC_T_TUPLE);
	ec_value_append(args, ec_value_int(chunk));
	double dt = bulk(first, args, chunk, calls, 1);
	if (dt < 0)
		return 1;
	printf("%-44s %7.1f MiB/s  (%d MiB in %.3f s)\n", "bulk context -> master",
	       (double)calls * chunk_mb / dt, calls * chunk_mb, dt);
	/* Two calls in flight: the context builds and sends the next result while the master
	 * takes in the previous one, as a stream would. */
	if ((dt = bulk(first, args, chunk, calls, 2)) < 0)
		return 1;
	printf("%-44s %7.1f MiB/s  (%d MiB in %.3f s)\n", "bulk, two calls in flight",
	       (double)calls * chunk_mb / dt, calls * chunk_mb, dt);
	ec_value_free(args);
	ec_context_shutdown(first, 3000, NULL);
	ec_master_free(m);
	free(t);
	return 0;
}
