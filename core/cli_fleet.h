/* cli_fleet.h: what the `econtext` command (cli.c) shares with its fan-out (cli_fleet.c):
 * the exit statuses and their order, the job a command runs, and the run over many
 * contexts. */
#ifndef EC_CORE_CLI_FLEET_H
#define EC_CORE_CLI_FLEET_H

#include <signal.h>

#include "econtext.h"

/* Exit statuses (usage text and docs/cli.md). A fleet exits with the worst of its
 * contexts' failures, worst first: config (and usage), connect, timeout, remote, other;
 * 128 + the signal when interrupted (130 for Ctrl-C). */
enum {
	EXIT_REMOTE = 1,  /* the remote function raised */
	EXIT_USAGE = 2,   /* bad command line */
	EXIT_CONFIG = 3,  /* config or plugin error */
	EXIT_CONNECT = 4, /* the context could not be started */
	EXIT_TIMEOUT = 5, /* a deadline passed */
	EXIT_OTHER = 6
};

/* SIGINT and SIGTERM while a command runs: the signal, set by the handler (which does
 * nothing else; a second signal acts as if uncaught). Loops look at it every tick. */
extern volatile sig_atomic_t cli_interrupted;
/* Catch SIGINT and SIGTERM into cli_interrupted (cleared), keeping the old actions in
 * old[2]; restore them. */
void cli_signals_catch(struct sigaction old[2], int flags);
void cli_signals_restore(const struct sigaction old[2]);
/* The longest wait between looks at cli_interrupted (and redraws of a progress line). */
#define CLI_TICK_MS 100
/* "interrupted by SIGINT while DOING" (SIGTERM when that came), into buf. */
void cli_interrupted_msg(char *buf, size_t cap, const char *doing);
/* An EC_E* code as a JSON line's error kind ("EC_EREMOTE"), into buf. */
void cli_error_kind(int rc, char *buf, size_t cap);

/* s as a JSON string without allocating, for the lines printed when out of memory:
 * itself in quotes, in buf, when no character of it needs escaping (a context's name
 * nearly always). Returns buf, or NULL when s needs escaping or buf is too small. */
const char *cli_json_str_noalloc(const char *s, char *buf, size_t cap);

/* The exit status for an EC_E* code. */
int cli_exit_code(int rc);
/* How bad an exit status is, for the worst of many (0 for success). */
int cli_rank(int code);

/* What runs in each context: module.func(*args, **kwargs); ping when module is NULL. */
struct fleet_job {
	const char *target; /* "MODULE.FUNC" as given, for messages */
	char *module;
	const char *func;
	ec_value *args, *kwargs;
};

struct fleet_opts {
	const char *const *names; /* the contexts, each once */
	size_t n;
	const char *const *overrides;
	int timeout_ms; /* per context, connect and call; 0: none */
	int forks;      /* at most this many connecting or running at once */
	int json;       /* plain lines: no progress line even on a terminal */
	int summary;    /* the counts on stderr at the end */
};

/* Connect and run the job on every context, from this thread; each result printed on
 * stdout as one JSON line as it comes. Returns the exit status. */
int fleet_run(ec_master *m, const struct fleet_opts *o, const struct fleet_job *job);

/* `econtext stream`: the function gets a channel first; each value printed as a line
 * of JSON as it comes (cli_stream.c). Returns the exit status. */
int stream_run(ec_master *m, const char *ctxname, const char *const *overrides,
               int timeout_ms, const struct fleet_job *job);

/* `econtext put` to each context, `econtext get` from one (cli_transfer.c). */
struct transfer_job {
	int get;              /* get: src remote, dst local; put: the other way */
	const char *src, *dst;
	const char *const *overrides;
	int timeout_ms;       /* connect, and each step of the transfer; 0: none */
	int set_mode;         /* --mode given */
	unsigned mode;
	int progress;         /* a progress line on stderr (a terminal, no --json) */
	int recursive;        /* put -r, get -r: src is a directory tree */
	const char *owner, *group; /* --owner, --group */
};
/* One JSON line per context as each finishes, up to forks at once; the exit status. */
int transfer_run(ec_master *m, const char *const *names, size_t n, int forks,
                 const struct transfer_job *job);

/* The master's log function: ec_log_stderr, clearing the progress line first. */
void fleet_log(void *arg, const struct ec_log_record *rec);
/* Clear the progress line, if one is shown. */
void fleet_progress_clear(void);
/* The width of the terminal on stderr (TIOCGWINSZ), 80 when it does not say. */
size_t fleet_term_cols(void);
/* Show line (cut to the terminal's width) as the progress line unless it is drawn
 * already (drawn: the last one shown, cap bytes). */
void fleet_progress_show(char *line, char *drawn, size_t cap);
/* A password prompt opens (1) or closes (0): the line is cleared, and the time it was
 * open does not count against --timeout. */
void fleet_pause(int on);

#endif
