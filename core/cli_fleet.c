/* cli_fleet.c: the command's fan-out (`econtext call|ping TARGET` over many contexts,
 * docs/cli.md): every context connected and called from this one thread, through pending
 * connects and calls in one select, at most --forks at once; each result one JSON line
 * as it comes, each context shut down once printed; per-context deadlines cancelled
 * remotely; a progress line on a terminal; Ctrl-C cancels and shuts down cleanly. */
#include "ecbuild.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "cli_fleet.h"

#define TICK_MS CLI_TICK_MS
/* A connect's own deadline (the same --timeout) reports why it failed (the boot output);
 * ours ends it only if that did not come. */
#define CONNECT_GRACE 0.5
/* After Ctrl-C, how long cancelled calls have to answer before their contexts go. */
#define CANCEL_GRACE_MS 2000
#define SHUTDOWN_MS 3000

int cli_exit_code(int rc)
{
	switch (rc) {
	case EC_ECONFIG:
	case EC_EPLUGIN:
	case EC_EABI:
	case EC_ENOTFOUND:
		return EXIT_CONFIG;
	case EC_ETIMEDOUT:
		return EXIT_TIMEOUT;
	case EC_EBOOT:
	case EC_ECLOSED:
	case EC_EAUTH:
		return EXIT_CONNECT;
	case EC_EREMOTE:
		return EXIT_REMOTE;
	default:
		return EXIT_OTHER;
	}
}

/* Worse failures rank higher: config/usage > connect > timeout > remote > other. */
int cli_rank(int code)
{
	switch (code) {
	case 0:
		return 0;
	case EXIT_CONFIG:
	case EXIT_USAGE:
		return 5;
	case EXIT_CONNECT:
		return 4;
	case EXIT_TIMEOUT:
		return 3;
	case EXIT_REMOTE:
		return 2;
	default:
		return 1;
	}
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- signals: a flag the loop looks at every tick ---------------------------------- */

volatile sig_atomic_t cli_interrupted;

static void on_signal(int sig)
{
	if (cli_interrupted) { /* a second one: as if we had not caught it */
		signal(sig, SIG_DFL);
		raise(sig);
		return;
	}
	cli_interrupted = sig;
}

void cli_signals_catch(struct sigaction old[2], int flags)
{
	struct sigaction sa = {.sa_handler = on_signal, .sa_flags = flags};
	sigemptyset(&sa.sa_mask);
	cli_interrupted = 0;
	sigaction(SIGINT, &sa, &old[0]);
	sigaction(SIGTERM, &sa, &old[1]);
}

void cli_signals_restore(const struct sigaction old[2])
{
	sigaction(SIGINT, &old[0], NULL);
	sigaction(SIGTERM, &old[1], NULL);
}

void cli_interrupted_msg(char *buf, size_t cap, const char *doing)
{
	snprintf(buf, cap, "interrupted by %s while %s",
	         cli_interrupted == SIGTERM ? "SIGTERM" : "SIGINT", doing);
}

void cli_error_kind(int rc, char *buf, size_t cap)
{
	snprintf(buf, cap, "EC_%s", ec_err_name(rc));
}

/* ---- the progress line (stderr, a terminal) --------------------------------------- */

static pthread_mutex_t err_lock = PTHREAD_MUTEX_INITIALIZER;
static int line_shown; /* under err_lock */

static void clear_locked(void)
{
	if (line_shown) {
		fputs("\r\033[K", stderr);
		fflush(stderr);
		line_shown = 0;
	}
}

void fleet_progress_clear(void)
{
	pthread_mutex_lock(&err_lock);
	clear_locked();
	pthread_mutex_unlock(&err_lock);
}

/* Time spent answering password prompts does not count against --timeout (as the
 * library pauses a connect's own deadline): deadlines are kept on this clock. */
static double paused, pause_start; /* under err_lock */

void fleet_pause(int on)
{
	if (on)
		fleet_progress_clear();
	pthread_mutex_lock(&err_lock);
	if (on)
		pause_start = now_s();
	else if (pause_start > 0)
		paused += now_s() - pause_start;
	if (!on)
		pause_start = 0;
	pthread_mutex_unlock(&err_lock);
}

static double deadline_clock(void)
{
	pthread_mutex_lock(&err_lock);
	double t = now_s() - paused;
	pthread_mutex_unlock(&err_lock);
	return t;
}

void fleet_log(void *arg, const struct ec_log_record *rec)
{
	pthread_mutex_lock(&err_lock);
	clear_locked(); /* redrawn at the next tick */
	ec_log_stderr(arg, rec);
	pthread_mutex_unlock(&err_lock);
}

/* ---- the run ----------------------------------------------------------------------- */

enum state { WAITING, CONNECTING, CALLING, DONE };

struct host {
	const char *name;
	enum state state;
	double t0;       /* its start, for its seconds */
	double deadline; /* on deadline_clock(); 0: none */
	ec_connect *conn;
	ec_context *ctx;
	ec_call *call;
};

struct fleet {
	ec_master *m;
	const struct fleet_opts *o;
	const struct fleet_job *job;
	ec_select *sel;
	struct host *h;
	size_t lo, next; /* h[lo..next) holds every host started and not done */
	size_t running, ok, failed, cancelled, by_code[EXIT_OTHER + 1];
	int worst;
	int progress; /* draw the progress line */
	char drawn[256];
	double start;
};

/* s as a JSON string (malloc'd; NULL when out of memory). */
static char *json_str(const char *s)
{
	if (!s)
		s = "";
	ec_value *v = ec_value_cstr(s);
	if (!v) /* not UTF-8 */
		v = ec_value_bytes(s, strlen(s));
	char *out = NULL;
	ec_value_to_json(v, &out, NULL);
	ec_value_free(v);
	return out;
}

const char *cli_json_str_noalloc(const char *s, char *buf, size_t cap)
{
	size_t n = s ? strlen(s) : 0;
	if (!s || n + 3 > cap)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f || s[i] == '"' ||
		    s[i] == '\\')
			return NULL;
	snprintf(buf, cap, "\"%s\"", s);
	return buf;
}

/* One line on stdout, flushed: a reader sees each context as it finishes. */
static void emit(const struct host *h, const char *body)
{
	static int out_tty = -1;
	char quoted[256], *name = json_str(h->name);
	const char *shown = name ? name : cli_json_str_noalloc(h->name, quoted, sizeof(quoted));
	if (out_tty < 0)
		out_tty = isatty(STDOUT_FILENO);
	if (out_tty) /* the progress line is on the same terminal: out of the way first */
		fleet_progress_clear();
	printf("{\"context\": %s, %s, \"seconds\": %.3f}\n", shown ? shown : "null", body,
	       now_s() - h->t0);
	fflush(stdout);
	free(name);
}

/* A failure printed and counted: code is its exit status, 0 for a context cancelled. */
static void failed(struct fleet *f, struct host *h, const char *kind, const char *message,
                   const char *traceback, int code)
{
	int has_tb = traceback && traceback[0];
	char *k = json_str(kind), *msg = json_str(message), *tb = has_tb ? json_str(traceback) : NULL;
	size_t len = k && msg ? 96 + strlen(k) + strlen(msg) + (tb ? strlen(tb) : 0) : 0;
	char *body = len && (tb || !has_tb) ? malloc(len) : NULL;
	if (body) {
		snprintf(body, len, "\"ok\": false, \"error\": {\"kind\": %s, \"message\": %s%s%s}",
		         k, msg, tb ? ", \"traceback\": " : "", tb ? tb : "");
		emit(h, body);
	} else { /* the failure still has its line */
		emit(h, "\"ok\": false, \"error\": {\"kind\": \"EC_ENOMEM\", \"message\": "
		        "\"out of memory printing this context's error\"}");
	}
	free(body);
	free(k);
	free(msg);
	free(tb);
	if (!code) {
		f->cancelled++;
		return;
	}
	f->failed++;
	f->by_code[code]++;
	if (cli_rank(code) > cli_rank(f->worst))
		f->worst = code;
}

static void failed_err(struct fleet *f, struct host *h, int rc, const struct ec_error *err)
{
	char kind[32], msg[sizeof(err->where) + sizeof(err->msg) + 4];
	cli_error_kind(rc, kind, sizeof(kind));
	if (err->where[0] && strcmp(err->where, h->name) != 0)
		snprintf(msg, sizeof(msg), "%s: %s", err->where, err->msg);
	else
		snprintf(msg, sizeof(msg), "%s", err->msg[0] ? err->msg : ec_strerror(rc));
	failed(f, h, kind, msg, NULL, cli_exit_code(rc));
}

static void cancelled(struct fleet *f, struct host *h)
{
	char msg[96];
	cli_interrupted_msg(msg, sizeof(msg), h->state == CONNECTING ? "connecting" : "running");
	failed(f, h, "EC_ECANCELED", msg, NULL, 0);
}

/* The host is over: what it holds goes, its context is shut down. */
static void finish(struct fleet *f, struct host *h)
{
	ec_call_free(h->call);
	ec_connect_free(h->conn);
	ec_context_shutdown(h->ctx, SHUTDOWN_MS, NULL);
	h->call = NULL;
	h->conn = NULL;
	h->ctx = NULL;
	if (h->state == CONNECTING || h->state == CALLING)
		f->running--;
	h->state = DONE;
	while (f->lo < f->next && f->h[f->lo].state == DONE)
		f->lo++;
}

static void start(struct fleet *f, struct host *h)
{
	struct ec_error err = {0};
	h->t0 = now_s();
	h->deadline = f->o->timeout_ms > 0 ? deadline_clock() + f->o->timeout_ms / 1000.0 : 0;
	int rc = ec_context_connect_async(f->m, h->name, f->o->overrides, f->o->timeout_ms,
	                                  &h->conn, &err);
	if (!rc && (rc = ec_select_add_connect(f->sel, h->conn, h, &err)))
		ec_connect_free(h->conn);
	if (rc) {
		h->conn = NULL;
		failed_err(f, h, rc, &err);
		finish(f, h);
		return;
	}
	h->state = CONNECTING;
	f->running++;
}

static void connected(struct fleet *f, struct host *h)
{
	struct ec_error err = {0};
	int rc = ec_connect_wait(h->conn, 1, &h->ctx, &err);
	ec_connect_free(h->conn);
	h->conn = NULL;
	if (rc) {
		failed_err(f, h, rc, &err);
		finish(f, h);
		return;
	}
	const struct fleet_job *job = f->job;
	if (!job->module) {
		char *py = json_str(ec_context_python_version(h->ctx)), body[160];
		snprintf(body, sizeof(body), "\"ok\": true, \"python\": %s, \"pid\": %ld",
		         py ? py : "null", ec_context_pid(h->ctx));
		free(py);
		emit(h, body);
		f->ok++;
		finish(f, h);
		return;
	}
	rc = ec_context_call_async(h->ctx, job->module, job->func, job->args, job->kwargs,
	                           &h->call, &err);
	if (!rc)
		rc = ec_select_add_call(f->sel, h->call, h, &err);
	if (rc) {
		failed_err(f, h, rc, &err);
		finish(f, h);
		return;
	}
	h->state = CALLING;
}

static void returned(struct fleet *f, struct host *h)
{
	struct ec_error err = {0};
	ec_value *res = NULL;
	char *json = NULL;
	int rc = ec_call_wait(h->call, 1, &res, &err);
	if (rc == 0 && !(rc = ec_value_to_json(res, &json, &err))) {
		size_t len = strlen(json) + 32;
		char *body = malloc(len);
		if (body) {
			snprintf(body, len, "\"ok\": true, \"result\": %s", json);
			emit(h, body);
			f->ok++;
		} else {
			rc = EC_ENOMEM;
		}
		free(body);
	}
	if (rc == EC_ECANCELED && cli_interrupted)
		cancelled(f, h);
	else if (rc == EC_EREMOTE && res && res->type == EC_T_ERROR)
		failed(f, h, res->u.err.type, res->u.err.message, res->u.err.traceback, EXIT_REMOTE);
	else if (rc)
		failed_err(f, h, rc, &err);
	free(json);
	ec_value_free(res);
	finish(f, h);
}

/* Deadlines passed: a call is cancelled in its context (ec_call_free) and reported as
 * a timeout. Returns the ms to the next deadline, at most TICK_MS. */
static int expire(struct fleet *f)
{
	double t = deadline_clock(), next = t + TICK_MS / 1000.0;
	for (size_t i = f->lo; i < f->next; i++) {
		struct host *h = &f->h[i];
		if (!h->deadline || h->state == DONE)
			continue;
		double end = h->deadline + (h->state == CONNECTING ? CONNECT_GRACE : 0);
		if (end > t) {
			if (end < next)
				next = end;
			continue;
		}
		char msg[300];
		if (h->state == CONNECTING)
			snprintf(msg, sizeof(msg), "context '%s' was not connected within %.3g s",
			         h->name, f->o->timeout_ms / 1000.0);
		else
			snprintf(msg, sizeof(msg), "%s did not return within %.3g s (cancelled)",
			         f->job->target, f->o->timeout_ms / 1000.0);
		ec_call_free(h->call); /* cancels it in the context */
		h->call = NULL;
		failed(f, h, "EC_ETIMEDOUT", msg, NULL, EXIT_TIMEOUT);
		finish(f, h);
	}
	int ms = (int)((next - t) * 1000.0 + 0.999);
	return ms < 1 ? 1 : ms;
}

static void draw(struct fleet *f)
{
	if (!f->progress)
		return;
	const struct host *slow = NULL;
	for (size_t i = f->lo; i < f->next && !slow; i++)
		if (f->h[i].state != DONE)
			slow = &f->h[i]; /* started first: running longest */
	char line[256];
	size_t done = f->ok + f->failed + f->cancelled;
	int n = snprintf(line, sizeof(line), "econtext: %zu/%zu done, %zu failed, %zu running",
	                 done, f->o->n, f->failed + f->cancelled, f->running);
	if (slow && n > 0 && (size_t)n < sizeof(line))
		snprintf(line + n, sizeof(line) - (size_t)n, "; slowest %s %.1f s", slow->name,
		         now_s() - slow->t0);
	fleet_progress_show(line, f->drawn, sizeof(f->drawn));
}

size_t fleet_term_cols(void)
{
	struct winsize ws;
	if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1)
		return ws.ws_col;
	return 80;
}

void fleet_progress_show(char *line, char *drawn, size_t cap)
{
	size_t cols = fleet_term_cols();
	if (cols - 1 < strlen(line))
		line[cols - 1] = '\0'; /* never wraps: \r must reach its start */
	pthread_mutex_lock(&err_lock);
	if (!line_shown || strcmp(line, drawn) != 0) {
		fprintf(stderr, "\r%s\033[K", line);
		fflush(stderr);
		snprintf(drawn, cap, "%s", line);
		line_shown = 1;
	}
	pthread_mutex_unlock(&err_lock);
}

/* Wait once on the select and handle what is ready. */
static void step(struct fleet *f, int wait_ms)
{
	void *tags[64];
	size_t n = 0;
	struct ec_error err = {0};
	int rc = ec_select_wait(f->sel, wait_ms, tags, 64, &n, &err);
	if (rc && rc != EC_ETIMEDOUT) { /* a bug: report what is left rather than spin */
		for (size_t i = f->lo; i < f->next; i++)
			if (f->h[i].state != DONE) {
				failed_err(f, &f->h[i], rc, &err);
				finish(f, &f->h[i]);
			}
		return;
	}
	for (size_t i = 0; i < n; i++) {
		struct host *h = tags[i];
		if (h->state == CONNECTING && cli_interrupted) {
			cancelled(f, h); /* up, or failed, after Ctrl-C: nothing more starts */
			finish(f, h);
		} else if (h->state == CONNECTING)
			connected(f, h);
		else if (h->state == CALLING)
			returned(f, h);
	}
}

/* Ctrl-C: running calls cancelled and given a moment to answer (a result that won the
 * race is printed as one), then everything still open reported and shut down. */
static void stop(struct fleet *f)
{
	for (size_t i = f->lo; i < f->next; i++)
		if (f->h[i].state == CALLING)
			ec_call_cancel(f->h[i].call);
	double end = now_s() + CANCEL_GRACE_MS / 1000.0;
	while (f->running > 0 && now_s() < end) {
		size_t calling = 0;
		for (size_t i = f->lo; i < f->next; i++)
			calling += f->h[i].state == CALLING;
		if (!calling)
			break;
		step(f, TICK_MS);
		draw(f);
	}
	for (size_t i = f->lo; i < f->next; i++) {
		struct host *h = &f->h[i];
		if (h->state == DONE)
			continue;
		cancelled(f, h);
		finish(f, h);
	}
}

static void summary(const struct fleet *f)
{
	size_t not_started = f->o->n - f->next;
	fprintf(stderr, "econtext: %zu contexts in %.1f s: %zu ok, %zu failed (%zu config, "
	        "%zu connect, %zu timeout, %zu remote, %zu other)",
	        f->o->n, now_s() - f->start, f->ok, f->failed, f->by_code[EXIT_CONFIG],
	        f->by_code[EXIT_CONNECT], f->by_code[EXIT_TIMEOUT], f->by_code[EXIT_REMOTE],
	        f->by_code[EXIT_OTHER] + f->by_code[EXIT_USAGE]);
	if (f->cancelled || not_started)
		fprintf(stderr, ", %zu cancelled, %zu not started", f->cancelled, not_started);
	fputc('\n', stderr);
}

int fleet_run(ec_master *m, const struct fleet_opts *o, const struct fleet_job *job)
{
	struct fleet f = {.m = m, .o = o, .job = job, .start = now_s()};
	struct ec_error err = {0};
	f.h = calloc(o->n ? o->n : 1, sizeof(*f.h));
	if (!f.h || ec_select_new(m, &f.sel, &err)) {
		fprintf(stderr, "econtext: %s\n", f.h ? err.msg : "out of memory");
		free(f.h);
		return EXIT_OTHER;
	}
	for (size_t i = 0; i < o->n; i++)
		f.h[i].name = o->names[i];
	f.progress = !o->json && isatty(STDERR_FILENO);
	struct sigaction old[2];
	cli_signals_catch(old, SA_RESTART);
	int forks = o->forks > 0 ? o->forks : 1;
	while (!cli_interrupted && (f.next < o->n || f.running)) {
		while (!cli_interrupted && f.running < (size_t)forks && f.next < o->n)
			start(&f, &f.h[f.next++]);
		if (!f.running)
			continue;
		step(&f, expire(&f));
		expire(&f);
		draw(&f);
	}
	if (cli_interrupted)
		stop(&f);
	fleet_progress_clear();
	f.progress = 0;
	ec_select_free(f.sel);
	if (o->summary)
		summary(&f);
	int sig = cli_interrupted;
	cli_signals_restore(old);
	free(f.h);
	return sig ? 128 + sig : f.worst;
}
