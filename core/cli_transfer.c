/* cli_transfer.c: `econtext put TARGET LOCAL REMOTE` and `econtext get CONTEXT REMOTE
 * LOCAL` (docs/cli.md): the contexts of the target connected --forks at a time (async
 * connects), and the file read once for each such batch and streamed to all of them
 * (ec_context_put_many, ec_context_put_tree); or ec_context_get(_tree) from one. One JSON line per context. Ctrl-C
 * cancels the transfers running (nothing is left behind) and shuts every context
 * down. */
#include "ecbuild.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli_fleet.h"

static long long now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}


/* The progress line of one transfer (to one context, or to a batch at once). */
struct line {
	const char *what; /* "put to 20 contexts", "get from web1" */
	long long t0, last;
	char drawn[256];
};

static int stopped(void *arg, uint64_t done, uint64_t total)
{
	struct line *l = arg;
	long long now = now_us();
	if (l && now - l->last >= 100000) { /* ten times a second at most */
		l->last = now;
		char text[256], tot[64] = "";
		double secs = (double)(now - l->t0) / 1e6;
		if (total)
			snprintf(tot, sizeof(tot), " of %.1f", (double)total / (1 << 20));
		snprintf(text, sizeof(text), "econtext: %s: %.1f%s MiB, %.0f MiB/s", l->what,
		         (double)done / (1 << 20), tot, secs > 0 ? (double)done / (1 << 20) / secs : 0.0);
		fleet_progress_show(text, l->drawn, sizeof(l->drawn));
	}
	return cli_interrupted != 0;
}

struct run {
	ec_master *m;
	const struct transfer_job *job;
	int worst;
	pthread_mutex_t lock; /* worst, stdout */
};

/* One line for a context: {"context", "ok", "changed", "bytes", "seconds"} or the
 * error. */
static void report(struct run *r, const char *name, int rc, const struct ec_transfer_result *res,
                   const struct ec_error *err)
{
	ec_value *d = ec_value_new(EC_T_DICT);
	ec_value_dict_set(d, ec_value_cstr("context"), ec_value_cstr(name));
	ec_value_dict_set(d, ec_value_cstr("ok"), ec_value_bool(rc == 0));
	ec_value_dict_set(d, ec_value_cstr("changed"), ec_value_bool(rc == 0 && res->changed));
	ec_value_dict_set(d, ec_value_cstr("bytes"), ec_value_int((int64_t)res->bytes));
	ec_value_dict_set(d, ec_value_cstr("seconds"), ec_value_float(res->seconds));
	if (rc == 0) {
		if (res->sha256[0]) /* a tree has none */
			ec_value_dict_set(d, ec_value_cstr("sha256"), ec_value_cstr(res->sha256));
	} else {
		ec_value *e = ec_value_new(EC_T_DICT);
		ec_value_dict_set(e, ec_value_cstr("kind"), ec_value_cstr(ec_err_name(rc)));
		ec_value *msg = ec_value_cstr(err->msg);
		ec_value_dict_set(e, ec_value_cstr("message"),
		                  msg ? msg : ec_value_bytes(err->msg, strlen(err->msg)));
		ec_value_dict_set(d, ec_value_cstr("error"), e);
	}
	char *json = NULL;
	ec_value_to_json(d, &json, NULL);
	ec_value_free(d);
	int code = rc == 0 ? 0 : rc == EC_ECANCELED ? 128 + (cli_interrupted ? cli_interrupted : SIGINT)
	                                            : cli_exit_code(rc);
	pthread_mutex_lock(&r->lock);
	fleet_progress_clear();
	if (json)
		printf("%s\n", json);
	fflush(stdout);
	if (cli_rank(code) > cli_rank(r->worst))
		r->worst = code;
	pthread_mutex_unlock(&r->lock);
	free(json);
}

static void options(const struct transfer_job *j, struct ec_transfer_options *o, struct line *l)
{
	*o = (struct ec_transfer_options){.size = sizeof(*o), .set_mode = j->set_mode, .mode = j->mode,
	                                  .timeout_ms = j->timeout_ms, .progress = stopped,
	                                  .progress_arg = j->progress ? l : NULL,
	                                  .owner = j->owner, .group = j->group};
	l->t0 = l->last = now_us();
	l->drawn[0] = '\0';
}

/* get: one context. */
static void get_one(struct run *r, const char *name)
{
	const struct transfer_job *j = r->job;
	struct ec_transfer_options o;
	char what[200];
	snprintf(what, sizeof(what), "get from %s", name);
	struct line l = {.what = what};
	options(j, &o, &l);
	struct ec_transfer_result res = {0};
	struct ec_error err = {0};
	ec_context *ctx = NULL;
	int rc = ec_context_connect(r->m, name, j->overrides, j->timeout_ms, &ctx, &err);
	if (!rc && j->recursive)
		rc = ec_context_get_tree(ctx, j->src, j->dst, &o, &res, &err);
	else if (!rc)
		rc = ec_context_get(ctx, j->src, j->dst, &o, &res, &err);
	report(r, name, rc, &res, &err);
	ec_context_shutdown(ctx, 3000, NULL);
}

/* put: up to --forks contexts connected at once (async), then the file read once and
 * streamed to all of them (ec_context_put_many). */
static void put_batch(struct run *r, const char *const *names, size_t n)
{
	const struct transfer_job *j = r->job;
	ec_connect **cs = calloc(n, sizeof(*cs));
	ec_context **ctxs = calloc(n, sizeof(*ctxs));
	const char **up = calloc(n, sizeof(*up));
	struct ec_transfer_result *res = calloc(n, sizeof(*res));
	struct ec_error *errs = calloc(n, sizeof(*errs));
	if (!cs || !ctxs || !up || !res || !errs) {
		struct ec_error e = {.code = EC_ENOMEM, .msg = "out of memory"};
		for (size_t i = 0; i < n; i++)
			report(r, names[i], EC_ENOMEM, &res[0], &e);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		int rc = ec_context_connect_async(r->m, names[i], j->overrides, j->timeout_ms, &cs[i],
		                                  &errs[i]);
		if (rc)
			report(r, names[i], rc, &res[i], &errs[i]);
	}
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (!cs[i])
			continue;
		int rc = ec_connect_wait(cs[i], 0, &ctxs[k], &errs[i]);
		if (!rc && cli_interrupted) {
			rc = EC_ECANCELED;
			snprintf(errs[i].msg, sizeof(errs[i].msg), "interrupted");
			ec_context_shutdown(ctxs[k], 3000, NULL);
		}
		if (rc)
			report(r, names[i], rc, &res[i], &errs[i]);
		else
			up[k++] = names[i];
		ec_connect_free(cs[i]);
	}
	struct ec_transfer_options o;
	char what[200];
	if (k == 1)
		snprintf(what, sizeof(what), "put to %s", up[0]);
	else
		snprintf(what, sizeof(what), "put to %zu contexts", k);
	struct line l = {.what = what};
	options(j, &o, &l);
	if (j->recursive)
		ec_context_put_tree(ctxs, k, j->src, j->dst, &o, res, errs);
	else
		ec_context_put_many(ctxs, k, j->src, j->dst, &o, res, errs);
	for (size_t i = 0; i < k; i++) {
		report(r, up[i], errs[i].code, &res[i], &errs[i]);
		ec_context_shutdown(ctxs[i], 3000, NULL);
	}
out:
	free(cs);
	free(ctxs);
	free(up);
	free(res);
	free(errs);
}

int transfer_run(ec_master *m, const char *const *names, size_t n, int forks,
                 const struct transfer_job *job)
{
	struct run r = {.m = m, .job = job};
	pthread_mutex_init(&r.lock, NULL);
	struct sigaction old[2];
	cli_signals_catch(old, 0);
	size_t batch = (size_t)(forks > 0 ? forks : 1);
	if (job->get)
		get_one(&r, names[0]);
	else
		for (size_t i = 0; i < n && !cli_interrupted; i += batch)
			put_batch(&r, names + i, n - i < batch ? n - i : batch);
	cli_signals_restore(old);
	pthread_mutex_destroy(&r.lock);
	return cli_interrupted ? 128 + cli_interrupted : r.worst;
}
