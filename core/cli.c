/* cli.c: the `econtext` command. Thin: everything real is in the library. */
#include "ecbuild.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "econtext.h"

enum {
	EXIT_REMOTE = 1,  /* the remote function raised */
	EXIT_USAGE = 2,   /* bad command line */
	EXIT_CONFIG = 3,  /* config or plugin error */
	EXIT_CONNECT = 4, /* the context could not be started */
	EXIT_TIMEOUT = 5, /* a deadline passed */
	EXIT_OTHER = 6
};

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: econtext [OPTIONS] call CONTEXT MODULE.FUNC [ARG...]\n"
	        "       econtext [OPTIONS] call CONTEXT ./SCRIPT.py:FUNC [ARG...]\n"
	        "       econtext [OPTIONS] ping CONTEXT\n"
	        "       econtext --version\n"
	        "\n"
	        "A SCRIPT is served to the context as a module (its __main__ block does not run).\n"
	        "ARG is a JSON value where it parses as one, else a string; NAME=VALUE is a\n"
	        "keyword argument. The result is printed as one line of JSON.\n"
	        "\n"
	        "options:\n"
	        "  -c, --config FILE     configuration file (default: $ECONTEXT_CONFIG,\n"
	        "                        ~/.config/econtext/econtext.yaml, %s/econtext/econtext.yaml)\n"
	        "  -o KEY=VALUE          override an option of the context (repeatable)\n"
	        "  -m DIR                add DIR to the module path (repeatable)\n"
	        "  -v, --verbose         log at debug level\n"
	        "  -q, --quiet           log errors only\n"
	        "      --timeout SECONDS deadline for the call (and the connection)\n"
	        "  -h, --help            this text\n"
	        "      --version         print the version\n",
	        EC_SYSCONFDIR);
}

static int exit_code(int rc)
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

static void print_error(const struct ec_error *err)
{
	if (err->where[0])
		fprintf(stderr, "econtext: %s: %s\n", err->where, err->msg);
	else
		fprintf(stderr, "econtext: %s\n", err->msg);
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
	pthread_mutex_lock(&tty_lock);
	int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd < 0 || tcgetattr(fd, &tty_saved) != 0) {
		if (fd >= 0)
			close(fd);
		pthread_mutex_unlock(&tty_lock);
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

/* JSON if it parses, else the text itself. */
static ec_value *parse_arg(const char *text)
{
	ec_value *v = NULL;
	if (ec_value_from_json(text, &v, NULL) == 0)
		return v;
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

static int cmd_call(ec_master *m, const char *ctxname, const char *const *overrides, int timeout_ms,
                    int argc, char **argv)
{
	struct ec_error err = {0};
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
	char *module = script ? strdup("__econtext_script__") : strndup(target, (size_t)(dot - target));
	ec_value *args = ec_value_new(EC_T_TUPLE), *kwargs = ec_value_new(EC_T_DICT);
	int code = 0;
	if (!module || !args || !kwargs) {
		fprintf(stderr, "econtext: out of memory\n");
		code = EXIT_OTHER;
		goto out;
	}
	for (int i = 1; i < argc; i++) {
		size_t nl;
		if (is_kwarg(argv[i], &nl))
			ec_value_dict_set(kwargs, ec_value_str(argv[i], nl), parse_arg(argv[i] + nl + 1));
		else
			ec_value_append(args, parse_arg(argv[i]));
	}
	ec_context *ctx = NULL;
	int rc = ec_context_connect(m, ctxname, overrides, timeout_ms, &ctx, &err);
	if (rc) {
		print_error(&err);
		code = exit_code(rc);
		goto out;
	}
	ec_value *result = NULL;
	rc = ec_context_call(ctx, module, dot + 1, args, kwargs, timeout_ms, &result, &err);
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
		fputs(result->u.err.traceback, stderr);
		if (!result->u.err.traceback[0] ||
		    result->u.err.traceback[strlen(result->u.err.traceback) - 1] != '\n')
			fputc('\n', stderr);
		fprintf(stderr, "econtext: %s in context '%s' raised %s: %s\n", target, ctxname,
		        result->u.err.type, result->u.err.message);
		code = EXIT_REMOTE;
	} else {
		print_error(&err);
		code = exit_code(rc);
	}
	ec_value_free(result);
	if (ec_context_shutdown(ctx, 3000, &err) && !code) {
		print_error(&err);
		code = exit_code(err.code);
	}
out:
	free(module);
	ec_value_free(args);
	ec_value_free(kwargs);
	return code;
}

static int cmd_ping(ec_master *m, const char *ctxname, const char *const *overrides, int timeout_ms)
{
	struct ec_error err = {0};
	ec_context *ctx = NULL;
	int rc = ec_context_connect(m, ctxname, overrides, timeout_ms, &ctx, &err);
	if (rc) {
		print_error(&err);
		return exit_code(rc);
	}
	printf("%s: python %s, pid %ld, bootstrap %.1f ms\n", ec_context_name(ctx),
	       ec_context_python_version(ctx), ec_context_pid(ctx), ec_context_boot_seconds(ctx) * 1000.0);
	ec_context_shutdown(ctx, 3000, NULL);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"config", required_argument, NULL, 'c'}, {"verbose", no_argument, NULL, 'v'},
		{"quiet", no_argument, NULL, 'q'},        {"timeout", required_argument, NULL, 'T'},
		{"help", no_argument, NULL, 'h'},         {"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	const char *config = NULL;
	const char **overrides = calloc((size_t)argc + 1, sizeof(char *));
	const char **modpath = calloc((size_t)argc + 1, sizeof(char *));
	size_t no = 0, nm = 0;
	int level = 0, timeout_ms = 0, opt;
	int code = EXIT_OTHER;
	if (!overrides || !modpath)
		goto out;
	/* '+': stop at the first non-option (the command); its arguments may start with '-'. */
	while ((opt = getopt_long(argc, argv, "+c:o:m:vqh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			config = optarg;
			break;
		case 'o':
			if (!strchr(optarg, '=')) {
				fprintf(stderr, "econtext: -o takes KEY=VALUE, not '%s'\n", optarg);
				{ code = EXIT_USAGE; goto out; }
			}
			overrides[no++] = optarg;
			break;
		case 'm':
			modpath[nm++] = optarg;
			break;
		case 'v':
			level = EC_LOG_DEBUG;
			break;
		case 'q':
			level = EC_LOG_ERROR;
			break;
		case 'T': {
			char *end;
			double s = strtod(optarg, &end);
			if (*end || s <= 0 || s > 86400 * 365) {
				fprintf(stderr, "econtext: --timeout takes a positive number of seconds, not '%s'\n",
				        optarg);
				{ code = EXIT_USAGE; goto out; }
			}
			timeout_ms = (int)(s * 1000 + 0.5);
			if (!timeout_ms)
				timeout_ms = 1;
			break;
		}
		case 'h':
			usage(stdout);
			{ code = 0; goto out; }
		case 'V':
			printf("econtext %s\n", ec_version());
			{ code = 0; goto out; }
		default:
			usage(stderr);
			{ code = EXIT_USAGE; goto out; }
		}
	}
	if (optind + 2 > argc) {
		usage(stderr);
		{ code = EXIT_USAGE; goto out; }
	}
	const char *cmd = argv[optind], *ctxname = argv[optind + 1];
	if (strcmp(cmd, "call") != 0 && strcmp(cmd, "ping") != 0) {
		fprintf(stderr, "econtext: unknown command '%s'\n", cmd);
		usage(stderr);
		{ code = EXIT_USAGE; goto out; }
	}
	char *script = NULL;
	if (strcmp(cmd, "call") == 0 && optind + 2 < argc && script_target(argv[optind + 2]))
		script = strndup(argv[optind + 2], script_target(argv[optind + 2]));
	struct ec_master_options mo = {
		.size = sizeof(mo),
		.config_path = config,
		.module_path = modpath,
		.log_level = level,
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
	if (strcmp(cmd, "call") == 0)
		code = cmd_call(m, ctxname, overrides, timeout_ms, argc - optind - 2, argv + optind + 2);
	else
		code = cmd_ping(m, ctxname, overrides, timeout_ms);
	ec_master_free(m);
out:
	free(overrides);
	free(modpath);
	fflush(stdout);
	return code;
}
