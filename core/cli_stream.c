/* cli_stream.c: `econtext stream CONTEXT MODULE.FUNC [ARG...]`: the function gets a
 * channel as its first argument; each value it sends prints as one line of JSON as it
 * arrives (a remote `tail -f`), until the function returns, the channel ends, or Ctrl-C
 * (SIGINT, SIGTERM), which closes the channel, lets the function see it (is_open()
 * false) for up to 2 s, cancels it if it still runs, and shuts the context down. */
#include "ecbuild.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli_fleet.h"


static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}


static void print_err(const struct ec_error *err)
{
	fprintf(stderr, "econtext: %s%s%s\n", err->where[0] ? err->where : "",
	        err->where[0] ? ": " : "", err->msg);
}

/* Print what the channel holds now, at most a batch (a fast sender must not keep us
 * from a signal); 1 once it ended (0 while open). */
static int drain(ec_channel *ch, int *code)
{
	for (int batch = 0; batch < 256; batch++) {
		ec_value *v = NULL;
		struct ec_error err = {0};
		int rc = ec_channel_recv(ch, 1, &v, &err);
		if (rc == EC_ETIMEDOUT)
			return 0;
		if (rc == EC_EEOF)
			return 1;
		if (rc) {
			print_err(&err);
			*code = cli_exit_code(rc);
			return 1;
		}
		char *json = NULL;
		if (ec_value_to_json(v, &json, &err) == 0) {
			printf("%s\n", json);
			fflush(stdout);
		} else {
			print_err(&err);
			*code = EXIT_OTHER;
		}
		free(json);
		ec_value_free(v);
	}
	return 0;
}

/* The call's outcome: 0, or the exit status (a remote exception with its traceback). */
static int finished(ec_call *call, const struct fleet_job *job, const char *ctxname)
{
	ec_value *res = NULL;
	struct ec_error err = {0};
	int rc = ec_call_wait(call, 1, &res, &err), code = 0;
	if (rc == EC_EREMOTE && res) {
		fputs(res->u.err.traceback, stderr);
		fprintf(stderr, "econtext: %s in context '%s' raised %s: %s\n", job->target, ctxname,
		        res->u.err.type, res->u.err.message);
		code = EXIT_REMOTE;
	} else if (rc && rc != EC_ECANCELED) {
		print_err(&err);
		code = cli_exit_code(rc);
	}
	ec_value_free(res);
	return code;
}

int stream_run(ec_master *m, const char *ctxname, const char *const *overrides,
               int timeout_ms, const struct fleet_job *job)
{
	struct ec_error err = {0};
	ec_context *ctx = NULL;
	ec_channel *ch = NULL;
	ec_call *call = NULL;
	ec_select *sel = NULL;
	int rc = ec_context_connect(m, ctxname, overrides, timeout_ms, &ctx, &err);
	if (!rc)
		rc = ec_channel_new(ctx, &ch, &err);
	ec_value *args = ec_value_new(EC_T_TUPLE);
	if (!rc) {
		/* An argument left out would shift the others: all of them or none. */
		int bad = !args || ec_value_append(args, ec_value_channel(ch));
		for (size_t i = 0; !bad && i < job->args->u.seq.len; i++)
			bad = ec_value_append(args, ec_value_dup(job->args->u.seq.items[i]));
		if (bad) {
			rc = err.code = EC_ENOMEM;
			snprintf(err.where, sizeof(err.where), "%s", ctxname);
			snprintf(err.msg, sizeof(err.msg), "out of memory building the call");
		} else {
			rc = ec_context_call_async(ctx, job->module, job->func, args, job->kwargs, &call,
			                           &err);
		}
	}
	ec_value_free(args);
	if (!rc)
		rc = ec_select_new(m, &sel, &err);
	if (!rc && !(rc = ec_select_add_call(sel, call, call, &err)))
		rc = ec_select_add_channel(sel, ch, ch, &err);
	if (rc) {
		print_err(&err);
		ec_call_free(call);
		ec_channel_free(ch);
		ec_context_shutdown(ctx, 3000, NULL);
		return cli_exit_code(rc);
	}
	struct sigaction old[2];
	cli_signals_catch(old, 0);
	int code = 0, call_done = 0, chan_done = 0, closing = 0;
	double give_up = 0;
	while (!(call_done && chan_done)) {
		void *tags[2];
		size_t n = 0;
		/* A tick, to see the signal flag: the handler does nothing else. */
		rc = ec_select_wait(sel, 100, tags, 2, &n, &err);
		if (rc && rc != EC_ETIMEDOUT && rc != EC_ENOTFOUND) {
			print_err(&err);
			code = cli_exit_code(rc);
			break;
		}
		for (size_t i = 0; i < n; i++) {
			if (tags[i] == ch) {
				chan_done = drain(ch, &code);
				if (!chan_done)
					ec_select_add_channel(sel, ch, ch, NULL);
			} else {
				call_done = 1;
				int c = finished(call, job, ctxname);
				if (!code)
					code = c;
			}
		}
		if (cli_interrupted && !closing) {
			closing = 1; /* the function sees is_open() false and returns */
			ec_channel_close(ch, NULL);
			give_up = now_s() + 2;
		} else if (closing == 1 && !call_done && now_s() >= give_up) {
			ec_call_cancel(call); /* it does not look at is_open() */
			closing = 2;
		}
	}
	cli_signals_restore(old);
	ec_select_free(sel);
	ec_call_free(call);
	ec_channel_free(ch);
	if (ec_context_shutdown(ctx, 3000, &err) && !code) {
		print_err(&err);
		code = cli_exit_code(err.code);
	}
	return cli_interrupted ? 128 + cli_interrupted : code;
}
