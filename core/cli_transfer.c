/* cli_transfer.c: `econtext put TARGET LOCAL REMOTE` and `econtext get CONTEXT REMOTE
 * LOCAL` (docs/cli.md): the contexts of the target connected --forks at a time (async
 * connects), and the file read once for each such batch and streamed to all of them
 * (ec_context_put_many, ec_context_put_tree); or ec_context_get(_tree) from one. One JSON
 * line per context; on a terminal a progress line of each context's bytes and rate
 * (progress_dest), or the counts, totals and slowest where they do not fit. Ctrl-C
 * gives up the contexts still connecting, cancels the transfers running (nothing is
 * left behind) and shuts every context down. */
#include "ecbuild.h"

#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
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


/* ---- the progress line: bytes and rate per context -------------------------------- */

/* What the line knows of one context of the transfer running (told by the library's
 * progress_dest: for a put, the bytes the context acknowledged). */
struct hostp {
	const char *name;
	int seen;                /* told of at least once */
	uint64_t done, total;    /* total 0: unknown (a get, a tree) */
	long long mark_t[2];     /* two marks, the newer 1 s or more after the older: */
	uint64_t mark_done[2];   /* the rate is over the last 1 to 2 s */
};

/* The progress line of one transfer (to one context, or to a batch at once). */
struct line {
	const char *verb;        /* "put", "get" */
	struct hostp *h;
	size_t n;                /* the contexts of this transfer */
	size_t finished, all;    /* the run's contexts reported before it, and all of them */
	long long last;          /* drawn then */
	char drawn[1024];
};

static double mib(uint64_t b)
{
	return (double)b / (1 << 20);
}

/* A short size: "381M", "12.3G". */
static void short_size(char *out, size_t cap, uint64_t b)
{
	if (b < (uint64_t)10 << 30)
		snprintf(out, cap, "%.0fM", mib(b));
	else
		snprintf(out, cap, "%.1fG", mib(b) / 1024);
}

/* Bytes per second over the last 1 to 2 s (since its first report, at first). */
static double rate_of(const struct hostp *h, long long now)
{
	long long dt = now - h->mark_t[0];
	return dt > 0 && h->done > h->mark_done[0] ? (double)(h->done - h->mark_done[0]) * 1e6 / (double)dt
	                                            : 0.0;
}

static int complete(const struct hostp *h)
{
	return h->total && h->done >= h->total;
}

/* The text of the line, and whether it is wider than the terminal (max). */
struct text {
	char buf[1024];
	size_t len, max;
	int over;
};

static void add(struct text *t, const char *fmt, ...) EC_PRINTF(2, 3);
static void add(struct text *t, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(t->buf + t->len, sizeof(t->buf) - t->len, fmt, ap);
	va_end(ap);
	if (n < 0 || t->len + (size_t)n >= sizeof(t->buf)) {
		t->len = strlen(t->buf);
		t->over = 1;
	} else {
		t->len += (size_t)n;
		t->over |= t->len > t->max;
	}
}

static void restart(struct text *t)
{
	t->len = 0;
	t->over = 0;
	t->buf[0] = '\0';
}

/* "web1 120.0/381.5 MiB 210 MiB/s" (no "/total" when unknown). */
static void add_host(struct text *t, const struct hostp *h, double rate)
{
	add(t, "%s %.1f", h->name, mib(h->done));
	if (h->total)
		add(t, "/%.1f", mib(h->total));
	add(t, " MiB %.0f MiB/s", rate / (1 << 20));
}

struct slow {
	size_t i;
	double rate;
	uint64_t done;
};

static int slower(const void *a, const void *b)
{
	const struct slow *x = a, *y = b;
	if (x->rate != y->rate)
		return x->rate < y->rate ? -1 : 1;
	return x->done < y->done ? -1 : x->done > y->done;
}

/* The line, the most that fits the terminal: every context with its bytes and rate;
 * else the counts, the totals and the slowest contexts (3, 2 or 1), shorter and
 * shorter. */
static void draw(struct line *l, long long now)
{
	struct slow *s = calloc(l->n ? l->n : 1, sizeof(*s));
	if (!s)
		return;
	size_t seen = 0, running = 0, done = l->finished;
	uint64_t bytes = 0;
	double total_rate = 0;
	for (size_t i = 0; i < l->n; i++) {
		const struct hostp *h = &l->h[i];
		if (!h->seen)
			continue;
		seen++;
		double r = rate_of(h, now);
		bytes += h->done;
		total_rate += r;
		if (complete(h))
			done++;
		else
			s[running++] = (struct slow){.i = i, .rate = r, .done = h->done};
	}
	if (!seen) {
		free(s);
		return;
	}
	size_t nrun = running; /* those not all sent */
	if (!running) /* all sent: the slowest of them all */
		for (size_t i = 0; i < l->n; i++)
			if (l->h[i].seen)
				s[running++] = (struct slow){.i = i, .rate = rate_of(&l->h[i], now),
				                             .done = l->h[i].done};
	qsort(s, running, sizeof(*s), slower);
	struct text t = {.max = fleet_term_cols() - 1};
	char sz[32], sz2[32];
	/* Every context. */
	add(&t, "econtext: %s ", l->verb);
	if (l->all > l->n)
		add(&t, "%zu/%zu done; ", done, l->all);
	for (size_t i = 0, k = 0; i < l->n; i++)
		if (l->h[i].seen) {
			add(&t, "%s", k++ ? ", " : "");
			add_host(&t, &l->h[i], rate_of(&l->h[i], now));
		}
	/* The counts, the totals, the slowest; then shorter. */
	for (int form = 0; t.over && l->all > 1 && form < 4; form++) {
		/* Up to 3, fewer than all (those would be the list) */
		size_t kmax = form < 2 && running > 2 ? (running > 3 ? 3 : 2) : 1;
		for (size_t k = kmax; k >= 1 && (k == kmax || t.over); k--) {
			restart(&t);
			short_size(sz, sizeof(sz), bytes);
			if (form == 0)
				add(&t, "econtext: %s %zu/%zu done, %zu running, %.1f MiB %.0f MiB/s; slowest ",
				    l->verb, done, l->all, nrun, mib(bytes), total_rate / (1 << 20));
			else if (form == 1)
				add(&t, "econtext: %s %zu/%zu done, %zu running, %s %.0fM/s; slowest ",
				    l->verb, done, l->all, nrun, sz, total_rate / (1 << 20));
			else if (form == 2)
				add(&t, "%zu/%zu done %s; slowest ", done, l->all, sz);
			else
				add(&t, "%zu/%zu; slowest ", done, l->all);
			for (size_t j = 0; j < k; j++) {
				const struct hostp *h = &l->h[s[j].i];
				add(&t, "%s", j ? ", " : "");
				if (form == 0) {
					add_host(&t, h, s[j].rate);
				} else {
					short_size(sz2, sizeof(sz2), h->done);
					add(&t, "%s %s %.0fM/s", h->name, sz2, s[j].rate / (1 << 20));
				}
			}
		}
	}
	free(s);
	/* What fits, or the shortest cut to the width (fleet_progress_show). */
	fleet_progress_show(t.buf, l->drawn, sizeof(l->drawn));
}

/* progress_dest: context i has done bytes (of total). */
static int told(void *arg, size_t i, uint64_t done, uint64_t total)
{
	struct line *l = arg;
	if (l && i < l->n) {
		struct hostp *h = &l->h[i];
		long long now = now_us();
		if (!h->seen) {
			h->seen = 1;
			h->mark_t[0] = h->mark_t[1] = now;
			h->mark_done[0] = h->mark_done[1] = done;
		}
		h->done = done;
		h->total = total;
		if (now - h->mark_t[1] >= 1000000) {
			h->mark_t[0] = h->mark_t[1];
			h->mark_done[0] = h->mark_done[1];
			h->mark_t[1] = now;
			h->mark_done[1] = done;
		}
	}
	return cli_interrupted != 0;
}

/* progress: after each step of the transfer (the contexts told of first). */
static int stopped(void *arg, uint64_t done, uint64_t total)
{
	struct line *l = arg;
	(void)done;
	(void)total;
	long long now = now_us();
	if (l && now - l->last >= 100000) { /* ten times a second at most */
		l->last = now;
		draw(l, now);
	}
	return cli_interrupted != 0;
}

struct run {
	ec_master *m;
	const struct transfer_job *job;
	int worst;
	size_t reported, all; /* the contexts reported so far, of all */
	pthread_mutex_t lock; /* worst, reported, stdout */
};

/* One line for a context: {"context", "ok", "changed", "bytes", "seconds"} or the
 * error. */
static void report(struct run *r, const char *name, int rc, const struct ec_transfer_result *res,
                   const struct ec_error *err)
{
	char kind[32]; /* as call's fan-out names it */
	cli_error_kind(rc, kind, sizeof(kind));
	/* Built whole or not at all (then printed below without allocating): a line with
	 * a field missing would look like another answer. */
	ec_value *d = ec_value_new(EC_T_DICT);
	int bad = !d;
	bad |= ec_value_dict_set(d, ec_value_cstr("context"), ec_value_cstr(name));
	bad |= ec_value_dict_set(d, ec_value_cstr("ok"), ec_value_bool(rc == 0));
	bad |= ec_value_dict_set(d, ec_value_cstr("changed"), ec_value_bool(rc == 0 && res->changed));
	bad |= ec_value_dict_set(d, ec_value_cstr("bytes"), ec_value_int((int64_t)res->bytes));
	bad |= ec_value_dict_set(d, ec_value_cstr("seconds"), ec_value_float(res->seconds));
	if (rc == 0) {
		if (res->sha256[0]) /* a tree has none */
			bad |= ec_value_dict_set(d, ec_value_cstr("sha256"), ec_value_cstr(res->sha256));
	} else {
		ec_value *e = ec_value_new(EC_T_DICT);
		bad |= !e;
		bad |= ec_value_dict_set(e, ec_value_cstr("kind"), ec_value_cstr(kind));
		ec_value *msg = ec_value_cstr(err->msg);
		bad |= ec_value_dict_set(e, ec_value_cstr("message"),
		                         msg ? msg : ec_value_bytes(err->msg, strlen(err->msg)));
		bad |= ec_value_dict_set(d, ec_value_cstr("error"), e);
	}
	char *json = NULL;
	if (!bad)
		ec_value_to_json(d, &json, NULL);
	ec_value_free(d);
	int code = rc == 0 ? 0 : rc == EC_ECANCELED ? 128 + (cli_interrupted ? cli_interrupted : SIGINT)
	                                            : cli_exit_code(rc);
	pthread_mutex_lock(&r->lock);
	fleet_progress_clear();
	if (json) {
		printf("%s\n", json);
	} else { /* out of memory: the same line, printed as it is */
		char quoted[256], msg[sizeof(err->msg) + 2];
		const char *shown = cli_json_str_noalloc(name, quoted, sizeof(quoted));
		const char *said = cli_json_str_noalloc(err->msg, msg, sizeof(msg));
		printf("{\"context\": %s, \"ok\": %s, \"changed\": %s, \"bytes\": %llu, "
		       "\"seconds\": %.3f",
		       shown ? shown : "null", rc == 0 ? "true" : "false",
		       rc == 0 && res->changed ? "true" : "false", (unsigned long long)res->bytes,
		       res->seconds);
		if (rc == 0 && res->sha256[0])
			printf(", \"sha256\": \"%s\"}\n", res->sha256); /* hex */
		else if (rc == 0)
			printf("}\n");
		else
			printf(", \"error\": {\"kind\": \"%s\", \"message\": %s}}\n", kind,
			       said ? said : "\"(out of memory printing the message)\"");
	}
	fflush(stdout);
	if (cli_rank(code) > cli_rank(r->worst))
		r->worst = code;
	r->reported++;
	pthread_mutex_unlock(&r->lock);
	free(json);
}

/* The options of the job, the line l drawn for the contexts names[0..n) (when the job
 * has a progress line). */
static void options(struct run *r, struct ec_transfer_options *o, struct line *l,
                    struct hostp *h, const char *const *names, size_t n)
{
	const struct transfer_job *j = r->job;
	*o = (struct ec_transfer_options){.size = sizeof(*o), .set_mode = j->set_mode, .mode = j->mode,
	                                  .timeout_ms = j->timeout_ms, .progress = stopped,
	                                  .progress_dest = told,
	                                  .progress_arg = j->progress ? l : NULL,
	                                  .owner = j->owner, .group = j->group};
	for (size_t i = 0; i < n; i++)
		h[i] = (struct hostp){.name = names[i]};
	*l = (struct line){.verb = j->get ? "get" : "put", .h = h, .n = n, .all = r->all,
	                   .finished = r->reported, .last = now_us()};
}

/* ---- connecting, Ctrl-C seen meanwhile ---------------------------------------------- */

/* A context given up for Ctrl-C (SIGTERM): its error, as the fan-out says it. */
static int interrupted(const char *name, struct ec_error *err)
{
	*err = (struct ec_error){.code = EC_ECANCELED};
	snprintf(err->where, sizeof(err->where), "%s", name);
	cli_interrupted_msg(err->msg, sizeof(err->msg), "connecting");
	return EC_ECANCELED;
}

/* Wait for the pending connects cs[0..n) (NULL: none, its rcs[i] left as it is), one
 * select over all of them so that Ctrl-C is seen within a tick, not once the slowest
 * is up or its connect timeout has passed. Each ends with ctxs[i] (rcs[i] 0) or rcs[i]
 * and errs[i]; after Ctrl-C, those still connecting are given up (freeing a pending
 * connect shuts its context down) and those up are shut down, each EC_ECANCELED. Every
 * cs[i] is freed and set NULL. */
static void connect_all(ec_master *m, ec_connect **cs, const char *const *names, size_t n,
                        ec_context **ctxs, int *rcs, struct ec_error *errs)
{
	struct ec_error e = {0};
	ec_select *sel = NULL;
	size_t pending = 0;
	int ok = ec_select_new(m, &sel, &e) == 0;
	for (size_t i = 0; ok && i < n; i++)
		if (cs[i] && (ok = ec_select_add_connect(sel, cs[i], &cs[i], &e) == 0))
			pending++;
	while (ok && pending && !cli_interrupted) {
		void *tags[64];
		size_t k = 0;
		int rc = ec_select_wait(sel, CLI_TICK_MS, tags, 64, &k, &e);
		if (rc && rc != EC_ETIMEDOUT)
			break;
		for (size_t t = 0; t < k; t++) {
			size_t i = (size_t)((ec_connect **)tags[t] - cs);
			rcs[i] = ec_connect_wait(cs[i], 0, &ctxs[i], &errs[i]);
			ec_connect_free(cs[i]);
			cs[i] = NULL;
			pending--;
		}
	}
	/* Its items stay pending, in no select. */
	ec_select_free(sel);
	for (size_t i = 0; i < n; i++) {
		if (cs[i]) {
			if (cli_interrupted) /* given up: freeing it shuts down what it started */
				rcs[i] = interrupted(names[i], &errs[i]);
			else /* no select (out of memory): in turn, as before */
				rcs[i] = ec_connect_wait(cs[i], 0, &ctxs[i], &errs[i]);
			ec_connect_free(cs[i]);
			cs[i] = NULL;
		}
		if (!rcs[i] && cli_interrupted) { /* up, but nothing more starts after Ctrl-C */
			ec_context_shutdown(ctxs[i], 3000, NULL);
			ctxs[i] = NULL;
			rcs[i] = interrupted(names[i], &errs[i]);
		}
	}
}

/* get: one context. */
static void get_one(struct run *r, const char *name)
{
	const struct transfer_job *j = r->job;
	struct ec_transfer_options o;
	struct line l;
	struct hostp h;
	options(r, &o, &l, &h, &name, 1);
	struct ec_transfer_result res = {0};
	struct ec_error err = {0};
	ec_context *ctx = NULL;
	ec_connect *c = NULL;
	int rc = ec_context_connect_async(r->m, name, j->overrides, j->timeout_ms, &c, &err);
	if (!rc)
		connect_all(r->m, &c, &name, 1, &ctx, &rc, &err);
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
	struct hostp *hs = calloc(n, sizeof(*hs));
	int *rcs = calloc(n, sizeof(*rcs));
	if (!cs || !ctxs || !up || !res || !errs || !hs || !rcs) {
		struct ec_error e = {.code = EC_ENOMEM, .msg = "out of memory"};
		struct ec_transfer_result none = {0}; /* res may be the one missing */
		for (size_t i = 0; i < n; i++)
			report(r, names[i], EC_ENOMEM, &none, &e);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		/* a failure here (a config error) is reported below with the others */
		rcs[i] = ec_context_connect_async(r->m, names[i], j->overrides, j->timeout_ms, &cs[i],
		                                  &errs[i]);
	}
	connect_all(r->m, cs, names, n, ctxs, rcs, errs);
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (rcs[i]) {
			report(r, names[i], rcs[i], &res[i], &errs[i]);
		} else {
			up[k] = names[i];
			ctxs[k++] = ctxs[i];
		}
	}
	/* The failures reported: res[0..k) and errs[0..k) are those up's from here on. */
	memset(res, 0, k * sizeof(*res));
	memset(errs, 0, k * sizeof(*errs));
	struct ec_transfer_options o;
	struct line l;
	options(r, &o, &l, hs, up, k);
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
	free(hs);
	free(rcs);
}

int transfer_run(ec_master *m, const char *const *names, size_t n, int forks,
                 const struct transfer_job *job)
{
	struct run r = {.m = m, .job = job, .all = n};
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
