/* cli.c: the `econtext` command: its options, a password asked on the terminal, and one
 * context's call or ping; a TARGET of many contexts goes to the fan-out (cli_fleet.c).
 * Thin: everything real is in the library. */
#include "ecbuild.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cli_fleet.h"
#include "econtext.h"
#include "inert.h"

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: econtext [OPTIONS] call TARGET MODULE.FUNC [ARG...]\n"
	        "       econtext [OPTIONS] call TARGET ./SCRIPT.py:FUNC [ARG...]\n"
	        "       econtext [OPTIONS] ping TARGET\n"
	        "       econtext [OPTIONS] stream CONTEXT MODULE.FUNC [ARG...]\n"
	        "       econtext [OPTIONS] put [-r] TARGET LOCAL_PATH REMOTE_PATH\n"
	        "       econtext [OPTIONS] get [-r] CONTEXT REMOTE_PATH LOCAL_PATH\n"
	        "       econtext [OPTIONS] invite CONTEXT [MODULE.FUNC [ARG...]]\n"
	        "       econtext --version\n"
	        "\n"
	        "TARGET is a context, or a comma list of contexts, groups (the config's groups:)\n"
	        "and globs over the config's context names ('web*').\n"
	        "A SCRIPT is served to the context as a module (its __main__ block does not run).\n"
	        "ARG is a JSON value where it parses as one, else a string; NAME=VALUE is a\n"
	        "keyword argument. For one context the result is printed as one line of JSON;\n"
	        "for many (or --json), one JSON line per context as each finishes:\n"
	        "  {\"context\": NAME, \"ok\": true, \"result\": ..., \"seconds\": S}\n"
	        "  {\"context\": NAME, \"ok\": false, \"error\": {\"kind\": ..., \"message\": ...}, ...}\n"
	        "stream passes a channel as the function's first argument and prints each value\n"
	        "it sends as one line of JSON, until it returns or Ctrl-C (which closes it).\n"
	        "put and get copy a file, streamed, checked (SHA-256), written atomically;\n"
	        "put sends nothing when the target is already the same. One JSON line per\n"
	        "context: {\"context\": NAME, \"ok\": true, \"changed\": B, \"bytes\": N, ...}\n"
	        "invite prints a one-line shell command with a one-time token, valid for\n"
	        "--timeout (default 600 s): whoever runs it on a machine with Python makes it\n"
	        "the context CONTEXT, which is then called (or pinged). docs/tls.md\n"
	        "\n"
	        "options:\n"
	        "  -c, --config FILE     configuration file (default: $ECONTEXT_CONFIG,\n"
	        "                        ~/.config/econtext/econtext.yaml, %s/econtext/econtext.yaml)\n"
	        "  -o KEY=VALUE          override an option of the context (repeatable)\n"
	        "  -m DIR                add DIR to the module path (repeatable)\n"
	        "  -v, --verbose         log at debug level\n"
	        "  -q, --quiet           log errors only\n"
	        "      --timeout SECONDS deadline for the call (and the connection); for many\n"
	        "                        contexts, per context: a call still running is cancelled\n"
	        "      --forks N         contexts connected and running at once (default: the\n"
	        "                        config's forks:, else 20)\n"
	        "      --json            one JSON line per context, also for one; no progress line\n"
	        "      --summary         the counts on stderr at the end\n"
	        "      --mode OCTAL      put, get: the written file's mode (default: the source's)\n"
	        "  -r                    put, get: a directory tree (links copied as links)\n"
	        "      --owner USER, --group GROUP  put, get: the written files' owner, group\n"
	        "  -h, --help            this text\n"
	        "      --version         print the version\n"
	        "\n"
	        "exit status: 0 all ok; else that of the worst failure, in this order: 3 config\n"
	        "(2 usage), 4 connect, 5 timeout, 1 the function raised, 6 other. 130 on Ctrl-C\n"
	        "(143 on SIGTERM): running calls cancelled, every context shut down. docs/cli.md\n",
	        EC_SYSCONFDIR);
}

/* An error may quote what a context or its host printed: written inert. */
static void print_error(const struct ec_error *err)
{
	flockfile(stderr);
	fputs("econtext: ", stderr);
	if (err->where[0]) {
		ec__fputs_inert(err->where, stderr);
		fputs(": ", stderr);
	}
	ec__fputs_inert(err->msg, stderr);
	putc_unlocked('\n', stderr);
	funlockfile(stderr);
}

/* ---- passwords asked on the terminal ---------------------------------------------- */

/* A password a transport needs and the config does not give (ssh's, sudo's) is asked on
 * the controlling terminal with echo off, as ssh and sudo do, on the thread that waits
 * in ec_context_connect. The terminal's modes come back on every path: a signal that
 * ends or stops the process restores them first (in whichever thread it lands). */
static const int tty_signals[] = {SIGINT, SIGQUIT, SIGTERM, SIGHUP, SIGTSTP, SIGTTIN, SIGTTOU};
#define TTY_NSIG (sizeof(tty_signals) / sizeof(tty_signals[0]))
static pthread_mutex_t tty_lock = PTHREAD_MUTEX_INITIALIZER;
static int tty_fd = -1;
static struct termios tty_saved, tty_noecho;
static struct sigaction tty_old[TTY_NSIG];

static void tty_on_signal(int sig)
{
	int saved_errno = errno;
	tcsetattr(tty_fd, TCSAFLUSH, &tty_saved);
	struct sigaction dfl = {.sa_handler = SIG_DFL}, mine;
	sigaction(sig, &dfl, &mine);
	raise(sig); /* SA_NODEFER: acts now; returns only after a stop (SIGCONT) */
	sigaction(sig, &mine, NULL);
	tcsetattr(tty_fd, TCSAFLUSH, &tty_noecho);
	errno = saved_errno;
}

static int tty_prompt(void *data, const struct ec_secret_request *req, char *buf, size_t cap)
{
	(void)data;
	fleet_pause(1);
	pthread_mutex_lock(&tty_lock);
	int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd < 0 || tcgetattr(fd, &tty_saved) != 0) {
		if (fd >= 0)
			close(fd);
		pthread_mutex_unlock(&tty_lock);
		fleet_pause(0);
		return EC_EAUTH;
	}
	tty_fd = fd;
	tty_noecho = tty_saved;
	tty_noecho.c_lflag &= (tcflag_t) ~(ECHO | ECHOE | ECHOK | ECHONL);
	struct sigaction sa = {.sa_handler = tty_on_signal, .sa_flags = SA_NODEFER};
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < TTY_NSIG; i++)
		sigaction(tty_signals[i], &sa, &tty_old[i]);
	tcsetattr(fd, TCSAFLUSH, &tty_noecho);
	ssize_t w = write(fd, req->prompt, strlen(req->prompt));
	(void)w;
	size_t n = 0;
	int rc = 0, full = 0;
	for (;;) {
		char c;
		ssize_t r = read(fd, &c, 1);
		if (r < 0 && errno == EINTR)
			continue; /* resumed after a stop */
		if (r <= 0) {
			rc = EC_EAUTH; /* end of input */
			break;
		}
		if (c == '\n' || c == '\r')
			break;
		if (n + 1 < cap)
			buf[n++] = c;
		else
			full = 1;
		c = 0;
	}
	buf[n] = '\0';
	if (full) {
		explicit_bzero(buf, cap);
		rc = EC_EINVAL;
	}
	tcsetattr(fd, TCSAFLUSH, &tty_saved);
	for (size_t i = 0; i < TTY_NSIG; i++)
		sigaction(tty_signals[i], &tty_old[i], NULL);
	w = write(fd, "\n", 1);
	close(fd);
	tty_fd = -1;
	pthread_mutex_unlock(&tty_lock);
	fleet_pause(0);
	return rc;
}

/* "path/to/script.py:func": the length of the path, or 0 if target is not one. */
static size_t script_target(const char *target)
{
	const char *colon = strrchr(target, ':');
	if (!colon || colon - target < 4 || !colon[1] || strncmp(colon - 3, ".py", 3) != 0)
		return 0;
	return (size_t)(colon - target);
}

/* JSON if it parses, else the text itself (bytes if not UTF-8). NULL: out of memory,
 * never the text in place of the JSON it could not convert. */
static ec_value *parse_arg(const char *text)
{
	ec_value *v = NULL;
	struct ec_error err = {0};
	int rc = ec_value_from_json(text, &v, &err);
	if (rc == 0)
		return v;
	if (rc == EC_ENOMEM)
		return NULL;
	v = ec_value_cstr(text);
	return v ? v : ec_value_bytes(text, strlen(text));
}

static int is_kwarg(const char *arg, size_t *namelen)
{
	const char *p = arg;
	if (!(isalpha((unsigned char)*p) || *p == '_'))
		return 0;
	while (isalnum((unsigned char)*p) || *p == '_')
		p++;
	if (*p != '=')
		return 0;
	*namelen = (size_t)(p - arg);
	return 1;
}

/* MODULE.FUNC (or SCRIPT.py:FUNC) and its arguments into job: 0, or an exit status. */
static int parse_job(int argc, char **argv, struct fleet_job *job)
{
	if (argc < 1) {
		usage(stderr);
		return EXIT_USAGE;
	}
	const char *target = argv[0];
	const char *dot = strrchr(target, '.');
	size_t script = script_target(target);
	if (script)
		dot = target + script; /* the ':' */
	else if (!dot || dot == target || !dot[1]) {
		fprintf(stderr, "econtext: '%s' is not MODULE.FUNC or SCRIPT.py:FUNC\n", target);
		return EXIT_USAGE;
	}
	job->target = target;
	job->func = dot + 1;
	job->module = script ? strdup("__econtext_script__") : strndup(target, (size_t)(dot - target));
	job->args = ec_value_new(EC_T_TUPLE);
	job->kwargs = ec_value_new(EC_T_DICT);
	if (!job->module || !job->args || !job->kwargs) {
		fprintf(stderr, "econtext: out of memory\n");
		return EXIT_OTHER;
	}
	for (int i = 1; i < argc; i++) {
		size_t nl;
		/* Each one kept, or the command fails: an argument is never dropped. */
		int rc = is_kwarg(argv[i], &nl)
		             ? ec_value_dict_set(job->kwargs, ec_value_str(argv[i], nl),
		                                 parse_arg(argv[i] + nl + 1))
		             : ec_value_append(job->args, parse_arg(argv[i]));
		if (rc) {
			fprintf(stderr, "econtext: out of memory\n");
			return EXIT_OTHER;
		}
	}
	return 0;
}

/* job on ctx, its result printed; then ctx shut down. The exit status. */
static int call_on(ec_context *ctx, const char *ctxname, int timeout_ms,
                   const struct fleet_job *job)
{
	struct ec_error err = {0};
	const char *target = job->target;
	int code = 0;
	ec_value *result = NULL;
	int rc = ec_context_call(ctx, job->module, job->func, job->args, job->kwargs, timeout_ms,
	                     &result, &err);
	if (rc == 0) {
		char *json = NULL;
		if (ec_value_to_json(result, &json, &err) == 0) {
			printf("%s\n", json);
			free(json);
		} else {
			print_error(&err);
			code = EXIT_OTHER;
		}
	} else if (rc == EC_EREMOTE && result) {
		/* The context's words, written inert. */
		flockfile(stderr);
		ec__fputs_inert(result->u.err.traceback, stderr);
		if (!result->u.err.traceback[0] ||
		    result->u.err.traceback[strlen(result->u.err.traceback) - 1] != '\n')
			putc_unlocked('\n', stderr);
		fprintf(stderr, "econtext: %s in context '%s' raised ", target, ctxname);
		ec__fputs_inert(result->u.err.type, stderr);
		fputs(": ", stderr);
		ec__fputs_inert(result->u.err.message, stderr);
		putc_unlocked('\n', stderr);
		funlockfile(stderr);
		code = EXIT_REMOTE;
	} else {
		print_error(&err);
		code = cli_exit_code(rc);
	}
	ec_value_free(result);
	if (ec_context_shutdown(ctx, 3000, &err) && !code) {
		print_error(&err);
		code = cli_exit_code(err.code);
	}
	return code;
}

/* A connected context: job's call (the result printed), or the ping's line; then it
 * is shut down. The exit status. */
static int on_context(ec_context *ctx, const char *ctxname, int timeout_ms,
                      const struct fleet_job *job)
{
	if (job && job->module)
		return call_on(ctx, ctxname, timeout_ms, job);
	printf("%s: python %s, pid %ld, bootstrap %.1f ms\n", ec_context_name(ctx),
	       ec_context_python_version(ctx), ec_context_pid(ctx), ec_context_boot_seconds(ctx) * 1000.0);
	ec_context_shutdown(ctx, 3000, NULL);
	return 0;
}

/* invite CONTEXT [MODULE.FUNC ARG...]: the context with no launcher (docs/tls.md). The
 * one-line command on stdout, then the wait for whoever runs it (until --timeout, by
 * default 10 minutes), then the call (or the ping's line). */
#define INVITE_VALID_MS (10 * 60 * 1000)
static int cmd_invite(ec_master *m, const char *ctxname, const char *const *overrides,
                      int timeout_ms, const struct fleet_job *job)
{
	size_t n = 0;
	while (overrides && overrides[n])
		n++;
	const char **ov = calloc(n + 2, sizeof(char *));
	if (!ov)
		return EXIT_OTHER;
	for (size_t i = 0; i < n; i++)
		ov[i] = overrides[i];
	ov[n] = "transport=tls";
	struct ec_error err = {0};
	ec_connect *c = NULL;
	int rc = ec_context_connect_async(m, ctxname, ov, timeout_ms > 0 ? timeout_ms : INVITE_VALID_MS,
	                                  &c, &err);
	free(ov);
	enum { CAP = 65536 };
	char *line = rc ? NULL : malloc(CAP);
	if (!rc && !line)
		rc = EC_ENOMEM;
	if (!rc && !(rc = ec_connect_invitation(c, line, CAP, &err))) {
		printf("%s\n", line); /* the application's to hand over; never logged */
		fflush(stdout);
		explicit_bzero(line, strlen(line));
	}
	free(line);
	ec_context *ctx = NULL;
	if (!rc)
		rc = ec_connect_wait(c, 0, &ctx, &err);
	ec_connect_free(c);
	if (rc) {
		print_error(&err);
		return cli_exit_code(rc);
	}
	return on_context(ctx, ctxname, timeout_ms, job);
}

/* call or ping on one context. */
static int cmd_one(ec_master *m, const char *ctxname, const char *const *overrides,
                   int timeout_ms, const struct fleet_job *job)
{
	struct ec_error err = {0};
	ec_context *ctx = NULL;
	int rc = ec_context_connect(m, ctxname, overrides, timeout_ms, &ctx, &err);
	if (rc) {
		print_error(&err);
		return cli_exit_code(rc);
	}
	return on_context(ctx, ctxname, timeout_ms, job);
}

/* The command line's options. */
struct cli {
	const char *config;
	const char **overrides, **modpath; /* NULL-terminated */
	int level, timeout_ms, forks, json, summary;
	int set_mode;
	unsigned mode;
	int recursive; /* put -r */
	const char *owner, *group;
};

/* A positive number of seconds, in ms (at least 1); -1 if s is not one. */
static int parse_seconds(const char *s)
{
	char *end;
	double x = strtod(s, &end);
	if (end == s || *end || !(x > 0) || x > 86400 * 365)
		return -1;
	int ms = (int)(x * 1000 + 0.5);
	return ms ? ms : 1;
}

/* Fill c from argv; -1 to go on, else the exit status. */
static int parse_options(int argc, char **argv, struct cli *c)
{
	enum { OPT_TIMEOUT = 256, OPT_VERSION, OPT_FORKS, OPT_JSON, OPT_SUMMARY, OPT_MODE, OPT_OWNER,
	       OPT_GROUP };
	static const struct option longopts[] = {
		{"config", required_argument, NULL, 'c'}, {"verbose", no_argument, NULL, 'v'},
		{"quiet", no_argument, NULL, 'q'},        {"timeout", required_argument, NULL, OPT_TIMEOUT},
		{"help", no_argument, NULL, 'h'},         {"version", no_argument, NULL, OPT_VERSION},
		{"forks", required_argument, NULL, OPT_FORKS}, {"json", no_argument, NULL, OPT_JSON},
		{"summary", no_argument, NULL, OPT_SUMMARY}, {"mode", required_argument, NULL, OPT_MODE},
		{"owner", required_argument, NULL, OPT_OWNER}, {"group", required_argument, NULL, OPT_GROUP},
		{NULL, 0, NULL, 0},
	};
	size_t no = 0, nm = 0;
	int opt;
	/* '+': stop at the first non-option (the command); its arguments may start with '-'. */
	while ((opt = getopt_long(argc, argv, "+c:o:m:vqhr", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			c->config = optarg;
			break;
		case 'o':
			if (!strchr(optarg, '=')) {
				fprintf(stderr, "econtext: -o takes KEY=VALUE, not '%s'\n", optarg);
				return EXIT_USAGE;
			}
			c->overrides[no++] = optarg;
			break;
		case 'm':
			c->modpath[nm++] = optarg;
			break;
		case 'r':
			c->recursive = 1;
			break;
		case OPT_OWNER:
			c->owner = optarg;
			break;
		case OPT_GROUP:
			c->group = optarg;
			break;
		case 'v':
			c->level = EC_LOG_DEBUG;
			break;
		case 'q':
			c->level = EC_LOG_ERROR;
			break;
		case OPT_TIMEOUT:
			if ((c->timeout_ms = parse_seconds(optarg)) < 0) {
				fprintf(stderr, "econtext: --timeout takes a positive number of seconds, not '%s'\n",
				        optarg);
				return EXIT_USAGE;
			}
			break;
		case OPT_FORKS: {
			char *end;
			long n = strtol(optarg, &end, 10);
			if (end == optarg || *end || n < 1 || n > 10000) {
				fprintf(stderr, "econtext: --forks takes a number from 1 to 10000, not '%s'\n",
				        optarg);
				return EXIT_USAGE;
			}
			c->forks = (int)n;
			break;
		}
		case OPT_JSON:
			c->json = 1;
			break;
		case OPT_SUMMARY:
			c->summary = 1;
			break;
		case OPT_MODE: {
			char *end;
			unsigned long mode = strtoul(optarg, &end, 8);
			if (end == optarg || *end || mode > 07777) {
				fprintf(stderr, "econtext: --mode takes an octal mode (0644), not '%s'\n", optarg);
				return EXIT_USAGE;
			}
			c->set_mode = 1;
			c->mode = (unsigned)mode;
			break;
		}
		case 'h':
			usage(stdout);
			return 0;
		case OPT_VERSION:
			printf("econtext %s\n", ec_version());
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	return -1;
}

/* The command on the target: one literal context as always (the result alone), else
 * the fan-out. */
static int run(ec_master *m, const struct cli *c, const char *cmd, const char *target,
               int argc, char **argv)
{
	struct fleet_job job = {0};
	struct ec_error err = {0};
	const char **names = NULL;
	int transfer = !strcmp(cmd, "put") || !strcmp(cmd, "get");
	if (transfer && argc != 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	int invite = !strcmp(cmd, "invite");
	int code = strcmp(cmd, "ping") != 0 && !transfer && (!invite || argc)
	               ? parse_job(argc, argv, &job)
	               : 0;
	if (code)
		goto out;
	if (invite) {
		code = cmd_invite(m, target, c->overrides, c->timeout_ms, &job);
		goto out;
	}
	if (strcmp(cmd, "stream") == 0) {
		code = stream_run(m, target, c->overrides, c->timeout_ms, &job);
		goto out;
	}
	int rc = ec_master_expand_target(m, target, &names, &err);
	int literal = rc == 0 && names[0] && !names[1] && !strcmp(names[0], target);
	if (rc == EC_ENOTFOUND && !strpbrk(target, ",*?[")) {
		literal = 1; /* ad hoc (-o transport=...), or the library says it is unknown */
	} else if (rc) {
		print_error(&err);
		code = rc == EC_EINVAL ? EXIT_USAGE : cli_exit_code(rc);
		goto out;
	}
	if (transfer) {
		struct transfer_job tj = {.get = cmd[0] == 'g', .src = argv[0], .dst = argv[1],
		                          .overrides = c->overrides, .timeout_ms = c->timeout_ms,
		                          .set_mode = c->set_mode, .mode = c->mode,
		                          .progress = !c->json && isatty(STDERR_FILENO),
		                          .recursive = c->recursive, .owner = c->owner,
		                          .group = c->group};
		size_t n = 0;
		while (names && names[n])
			n++;
		if (tj.get && !literal) {
			fprintf(stderr, "econtext: get takes one context, not '%s'\n", target);
			code = EXIT_USAGE;
		} else {
			code = transfer_run(m, names && !literal ? names : &target, names && !literal ? n : 1,
			                    c->forks ? c->forks : ec_master_forks(m), &tj);
		}
		goto out;
	}
	if (literal && !c->json && !c->summary) {
		code = cmd_one(m, target, c->overrides, c->timeout_ms, &job);
		goto out;
	}
	size_t n = 0;
	while (names && names[n])
		n++;
	struct fleet_opts fo = {
		.names = names ? names : &target,
		.n = names ? n : 1,
		.overrides = c->overrides,
		.timeout_ms = c->timeout_ms,
		.forks = c->forks ? c->forks : ec_master_forks(m),
		.json = c->json,
		.summary = c->summary,
	};
	code = fleet_run(m, &fo, &job);
out:
	free(names);
	free(job.module);
	ec_value_free(job.args);
	ec_value_free(job.kwargs);
	return code;
}

int main(int argc, char **argv)
{
	struct cli c = {
		.overrides = calloc((size_t)argc + 1, sizeof(char *)),
		.modpath = calloc((size_t)argc + 1, sizeof(char *)),
	};
	int code = EXIT_OTHER;
	/* Freed memory kept for reuse: a file's chunks (256 KiB each, a window of them in
	 * flight) were otherwise mapped fresh and faulted in page by page for every chunk
	 * (docs/benchmarks.md, "Local put"). */
	mallopt(M_MMAP_THRESHOLD, 4 << 20);
	mallopt(M_TRIM_THRESHOLD, 16 << 20);
	if (!c.overrides || !c.modpath) {
		fprintf(stderr, "econtext: out of memory\n");
		goto out;
	}
	if ((code = parse_options(argc, argv, &c)) >= 0)
		goto out;
	/* put -r TARGET ..., get -r: the option after the command too. */
	if (optind + 1 < argc && !strcmp(argv[optind + 1], "-r") &&
	    (!strcmp(argv[optind], "put") || !strcmp(argv[optind], "get"))) {
		c.recursive = 1;
		argv[optind + 1] = argv[optind];
		optind++;
	}
	if (optind + 2 > argc) {
		usage(stderr);
		{ code = EXIT_USAGE; goto out; }
	}
	const char *cmd = argv[optind], *target = argv[optind + 1];
	if (strcmp(cmd, "call") != 0 && strcmp(cmd, "ping") != 0 && strcmp(cmd, "stream") != 0 &&
	    strcmp(cmd, "put") != 0 && strcmp(cmd, "get") != 0 && strcmp(cmd, "invite") != 0) {
		fprintf(stderr, "econtext: unknown command '%s'\n", cmd);
		usage(stderr);
		{ code = EXIT_USAGE; goto out; }
	}
	char *script = NULL;
	if ((!strcmp(cmd, "call") || !strcmp(cmd, "stream")) && optind + 2 < argc &&
	    script_target(argv[optind + 2]))
		script = strndup(argv[optind + 2], script_target(argv[optind + 2]));
	struct ec_master_options mo = {
		.size = sizeof(mo),
		.config_path = c.config,
		.module_path = c.modpath,
		.log_level = c.level,
		.log_fn = fleet_log,
		.script = script,
	};
	struct ec_error err = {0};
	ec_master *m = NULL;
	int rc = ec_master_new(&mo, &m, &err);
	free(script);
	if (rc) {
		print_error(&err);
		code = rc == EC_ENOMEM ? EXIT_OTHER : EXIT_CONFIG; /* config, plugins */
		goto out;
	}
	/* Passwords only from a person at a terminal: without one, a needed password that
	 * the config does not give stays an error. */
	if (isatty(STDIN_FILENO))
		ec_master_set_secret_prompt(m, tty_prompt, NULL);
	code = run(m, &c, cmd, target, argc - optind - 2, argv + optind + 2);
	ec_master_free(m);
out:
	free(c.overrides);
	free(c.modpath);
	fflush(stdout);
	return code;
}
