/* cli_transfer.c: `econtext put TARGET LOCAL REMOTE` and `econtext get CONTEXT REMOTE
 * LOCAL` (docs/cli.md): ec_context_put to each context of the target, up to --forks at
 * once on threads of their own, or ec_context_get from one; one JSON line per context
 * as each finishes. Ctrl-C cancels the transfers running (nothing is left behind) and
 * shuts every context down. */
#include "ecbuild.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_fleet.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	if (stop) {
		signal(sig, SIG_DFL);
		raise(sig);
		return;
	}
	stop = sig;
}

static int stopped(void *arg, uint64_t done, uint64_t total)
{
	(void)arg;
	(void)done;
	(void)total;
	return stop != 0;
}

struct run {
	ec_master *m;
	const struct transfer_job *job;
	const char *const *names;
	size_t n, next;
	int worst;
	pthread_mutex_t lock; /* next, worst, stdout */
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
	int code = rc == 0 ? 0 : rc == EC_ECANCELED ? 128 + (stop ? stop : SIGINT)
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

static void one(struct run *r, const char *name)
{
	const struct transfer_job *j = r->job;
	struct ec_transfer_options o = {.size = sizeof(o), .set_mode = j->set_mode,
	                                .mode = j->mode, .timeout_ms = j->timeout_ms,
	                                .progress = stopped};
	struct ec_transfer_result res = {0};
	struct ec_error err = {0};
	ec_context *ctx = NULL;
	int rc = ec_context_connect(r->m, name, j->overrides, j->timeout_ms, &ctx, &err);
	if (!rc && stop) {
		rc = EC_ECANCELED;
		snprintf(err.msg, sizeof(err.msg), "interrupted");
	}
	if (!rc)
		rc = j->get ? ec_context_get(ctx, j->src, j->dst, &o, &res, &err)
		            : ec_context_put(ctx, j->src, j->dst, &o, &res, &err);
	report(r, name, rc, &res, &err);
	ec_context_shutdown(ctx, 3000, NULL);
}

static void *worker(void *arg)
{
	struct run *r = arg;
	for (;;) {
		pthread_mutex_lock(&r->lock);
		size_t i = r->next < r->n && !stop ? r->next++ : r->n;
		pthread_mutex_unlock(&r->lock);
		if (i >= r->n)
			return NULL;
		one(r, r->names[i]);
	}
}

int transfer_run(ec_master *m, const char *const *names, size_t n, int forks,
                 const struct transfer_job *job)
{
	struct run r = {.m = m, .job = job, .names = names, .n = n};
	pthread_mutex_init(&r.lock, NULL);
	struct sigaction sa = {.sa_handler = on_signal}, old_int, old_term;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	size_t nt = (size_t)(forks > 0 ? forks : 1);
	if (nt > n)
		nt = n;
	pthread_t *th = calloc(nt, sizeof(*th));
	size_t started = 0;
	while (th && started < nt && pthread_create(&th[started], NULL, worker, &r) == 0)
		started++;
	if (!started) /* no thread: this one does it all */
		worker(&r);
	for (size_t i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	free(th);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	pthread_mutex_destroy(&r.lock);
	return stop ? 128 + stop : r.worst;
}
