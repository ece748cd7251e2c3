/* sudo.c: the `sudo` transport: start the context as another user through
 * `sudo -S -p PROMPT -u USER [sudo_args] -- python -c ...`, and answer sudo's password
 * prompt over the stream, only when it appears.
 *
 * With `via: other` it is a layer on other's transport (typically ssh): it wraps the
 * boot command, and passes bytes through the layer below. Without `via` it runs sudo
 * itself, on this machine, as the local transport runs python: a child in its own
 * session on one end of a socketpair. It does not sit on a `local` layer because that
 * would hand sudo the master's whole environment, password_env's variable included.
 *
 * Boot (start): sudo prints the prompt (stderr, no newline), or nothing at all
 * (NOPASSWD, cached credentials); the first stage prints ECBOOT0 before it reads
 * (docs/protocol.md 1). start() reads until one of them and returns 0 only once the
 * marker is seen, so that the payload is never read by sudo as a password attempt.
 * Bytes after the marker are kept for the first recv calls.
 *
 * The password comes from password_env, password_file or, with neither, from the
 * application (host->secret_get: the `econtext` command asks on its terminal), once per
 * (host, user whose password sudo wants) for every context that shares it. While it is
 * asked, start() returns EC_EAGAIN and keeps reading, and `timeout` is paused. */
#include "ecbuild.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "econtext/transport.h"

extern char **environ;

#define BOOT_MARKER "ECBOOT0\n"
#define BOOT_MARKER_LEN 8
#define PROMPT_TAG "[econtext-sudo:"
#define SCAN_MAX 8192   /* sudo's text before the marker that is kept */
#define PASSWORD_MAX 1024

enum sudo_state {
	S_NEW,      /* start() not called yet */
	S_STARTING, /* the layer below (or our spawn) is starting */
	S_WAITING,  /* for the prompt or the marker */
	S_SECRET,   /* the application is asked for the password (host->secret_get) */
	S_ANSWER,   /* sending the password line */
	S_ANSWERED, /* for the marker, "Sorry, try again" or a second prompt */
	S_OPEN,     /* the marker was seen: bytes flow */
	S_FAILED
};

struct sudo {
	const struct ec_host *host;
	char *name; /* the context */
	struct ec_transport *below; /* NULL: we run sudo here */
	char *username, *password_env, *password_file, *where_pw, *sudo_path;
	char **sudo_args; /* NULL-terminated */
	char prompt[64];   /* what we pass to -p: PROMPT_TAG<random> %p@%h] */
	char tag[48];      /* what sudo prints of it before the user: PROMPT_TAG<random> */
	char sudo_host[256], pw_user[256]; /* from the prompt: whose password, where */
	int pw_asked;      /* the password came from the application (forget it if refused) */
	long timeout_ms;   /* `timeout`: for the sudo step; 0: none */
	long long deadline, paused_at; /* monotonic ms; paused while the application is asked */
	enum sudo_state state;
	/* boot output not yet consumed; answered_at: where it stood when we answered */
	char scan[SCAN_MAX + 1];
	size_t scan_len, answered_at;
	char pw[PASSWORD_MAX + 2]; /* the answer "password\n" while it is sent; else zeros */
	size_t pw_len, pw_off;
	unsigned char *extra; /* bytes after the marker, for recv */
	size_t extra_len, extra_off;
	/* our own child, when there is no layer below */
	pid_t pid;
	int fd;
};

static const struct ec_param sudo_params[] = {
	{.key = "username", .type = EC_PARAM_STR, .dflt = "root",
	 .help = "the user to become (sudo -u)"},
	{.key = "password_env", .type = EC_PARAM_STR,
	 .help = "an environment variable of the master that holds the sudo password"},
	{.key = "password_file", .type = EC_PARAM_STR,
	 .help = "a file whose first line is the sudo password"},
	{.key = "sudo_path", .type = EC_PARAM_STR, .dflt = "sudo",
	 .help = "the sudo command, a name looked up in $PATH or a path"},
	{.key = "sudo_args", .type = EC_PARAM_STR_LIST,
	 .help = "more sudo options, before --: -H, -E, --preserve-env=..."},
	{.key = "timeout", .type = EC_PARAM_DURATION,
	 .help = "how long sudo may take to ask for the password and start the interpreter, "
	         "time at a terminal prompt not counted (default: connect_timeout only)"},
	{0},
};

static void wipe(void *p, size_t n)
{
	explicit_bzero(p, n);
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int sudo_load(const struct ec_host *host, void **state, struct ec_error *err)
{
	(void)err;
	*state = (void *)host;
	return 0;
}

static int dup_opt(const struct ec_host *host, const struct ec_cfg *cfg, const char *key,
                   char **out)
{
	const char *v = NULL;
	*out = NULL;
	if (host->cfg_str(cfg, key, &v) || !v)
		return 0;
	return (*out = strdup(v)) ? 0 : EC_ENOMEM;
}

static void sudo_destroy(void *inst);

static int create(struct sudo *s, const struct ec_cfg *cfg, const char *ctxname,
                  struct ec_error *err)
{
	const struct ec_host *host = s->host;
	int rc = (s->name = strdup(ctxname)) ? 0 : EC_ENOMEM;
	rc = rc ? rc : dup_opt(host, cfg, "username", &s->username);
	rc = rc ? rc : dup_opt(host, cfg, "password_env", &s->password_env);
	rc = rc ? rc : dup_opt(host, cfg, "password_file", &s->password_file);
	rc = rc ? rc : dup_opt(host, cfg, "sudo_path", &s->sudo_path);
	const char *const *args = NULL;
	size_t nargs = 0;
	if (!rc && host->cfg_list(cfg, "sudo_args", &args, &nargs))
		nargs = 0;
	if (!rc && !(s->sudo_args = calloc(nargs + 1, sizeof(char *))))
		rc = EC_ENOMEM;
	for (size_t i = 0; !rc && i < nargs; i++)
		if (!(s->sudo_args[i] = strdup(args[i])))
			rc = EC_ENOMEM;
	if (rc)
		return host->error_set(err, EC_ENOMEM, ctxname, "out of memory");
	if (host->cfg_ms(cfg, "timeout", &s->timeout_ms) || s->timeout_ms < 0)
		s->timeout_ms = 0;
	if (!s->username || !*s->username)
		return host->error_set(err, EC_ECONFIG, host->cfg_where(cfg, "username"),
		                       "context '%s': username must not be empty", ctxname);
	if (!s->sudo_path || !*s->sudo_path)
		return host->error_set(err, EC_ECONFIG, host->cfg_where(cfg, "sudo_path"),
		                       "context '%s': sudo_path must not be empty", ctxname);
	for (size_t i = 0; i < nargs; i++)
		if (strcmp(s->sudo_args[i], "--") == 0 || strcmp(s->sudo_args[i], "-S") == 0 ||
		    strncmp(s->sudo_args[i], "-p", 2) == 0 || strncmp(s->sudo_args[i], "-u", 2) == 0 ||
		    strncmp(s->sudo_args[i], "--prompt", 8) == 0 ||
		    strncmp(s->sudo_args[i], "--user", 6) == 0)
			return host->error_set(err, EC_ECONFIG, host->cfg_where(cfg, "sudo_args"),
			                       "context '%s': sudo_args must not hold -S, -p, -u "
			                       "or -- (the transport sets those): '%s'",
			                       ctxname, s->sudo_args[i]);
	if (s->password_env && s->password_file)
		return host->error_set(err, EC_ECONFIG, host->cfg_where(cfg, "password_file"),
		                       "context '%s': give password_env or password_file, not both",
		                       ctxname);
	if ((s->password_env && !*s->password_env) || (s->password_file && !*s->password_file))
		return host->error_set(err, EC_ECONFIG,
		                       host->cfg_where(cfg, s->password_env ? "password_env"
		                                                            : "password_file"),
		                       "context '%s': %s must not be empty", ctxname,
		                       s->password_env ? "password_env" : "password_file");
	const char *w = host->cfg_where(cfg, s->password_env ? "password_env"
	                                      : s->password_file ? "password_file" : NULL);
	if (!(s->where_pw = strdup(w ? w : ctxname)))
		return host->error_set(err, EC_ENOMEM, ctxname, "out of memory");
	/* A prompt no text can contain by chance, new for every connection. sudo expands
	 * %p (whose password it wants: the invoking user's, unless rootpw, targetpw or
	 * runaspw) and %h (its host), for "incorrect password for USER on HOST". */
	unsigned char rnd[8];
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return host->error_set(err, EC_ESYS, ctxname, "getrandom: %s", strerror(errno));
	char hex[17];
	for (int i = 0; i < 8; i++)
		snprintf(hex + 2 * i, 3, "%02x", rnd[i]);
	snprintf(s->tag, sizeof(s->tag), "%s%s ", PROMPT_TAG, hex);
	snprintf(s->prompt, sizeof(s->prompt), "%s%%p@%%h] ", s->tag);
	return 0;
}

static int sudo_create(void *state, const struct ec_cfg *cfg, const struct ec_transport_info *info,
                       void **inst, struct ec_error *err)
{
	const struct ec_host *host = state;
	const char *ctxname = info->context_name;
	if (info->below && info->below->name && strcmp(info->below->name, "local") == 0)
		return host->error_set(err, EC_ECONFIG, host->cfg_where(cfg, "via"),
		                       "context '%s': sudo runs on this machine by itself: leave out "
		                       "`via` (through the local transport, sudo would get the "
		                       "master's whole environment)", ctxname);
	struct sudo *s = calloc(1, sizeof(*s));
	if (!s)
		return host->error_set(err, EC_ENOMEM, ctxname, "out of memory");
	s->host = host;
	s->below = info->below;
	s->pid = -1;
	s->fd = -1;
	int rc = create(s, cfg, ctxname, err);
	if (rc) {
		sudo_destroy(s); /* the core frees nothing of a failed create */
		return rc;
	}
	*inst = s;
	return 0;
}

/* ---- the boot command ------------------------------------------------------------ */

/* sudo -S -p PROMPT -u USER [sudo_args] -- ARGV... */
static int sudo_wrap_argv(void *inst, struct ec_argv *argv, struct ec_error *err)
{
	struct sudo *s = inst;
	size_t nargs = 0;
	while (s->sudo_args[nargs])
		nargs++;
	size_t pre = 6 + nargs + 1;
	char **v = calloc(pre + argv->argc + 1, sizeof(char *));
	if (!v)
		return s->host->error_set(err, EC_ENOMEM, s->name, "out of memory");
	const char *head[] = {s->sudo_path, "-S", "-p", s->prompt, "-u", s->username};
	size_t n = 0;
	int bad = 0;
	for (size_t i = 0; i < 6; i++)
		bad |= !(v[n++] = strdup(head[i]));
	for (size_t i = 0; i < nargs; i++)
		bad |= !(v[n++] = strdup(s->sudo_args[i]));
	bad |= !(v[n++] = strdup("--"));
	if (bad) {
		for (size_t i = 0; i < n; i++)
			free(v[i]);
		free(v);
		return s->host->error_set(err, EC_ENOMEM, s->name, "out of memory");
	}
	for (size_t i = 0; i < argv->argc; i++)
		v[n++] = argv->argv[i];
	v[n] = NULL;
	free(argv->argv);
	argv->argv = v;
	argv->argc = n;
	return 0;
}

/* ---- our own child (no layer below) ----------------------------------------------- */

/* The master's environment without password_env's variable. */
static char **child_env(const struct sudo *s)
{
	size_t n = 0;
	while (environ && environ[n])
		n++;
	char **env = calloc(n + 1, sizeof(char *));
	if (!env)
		return NULL;
	size_t klen = s->password_env ? strlen(s->password_env) : 0;
	size_t j = 0;
	for (size_t i = 0; i < n; i++) {
		if (klen && strncmp(environ[i], s->password_env, klen) == 0 && environ[i][klen] == '=')
			continue;
		env[j++] = environ[i];
	}
	env[j] = NULL;
	return env;
}

static int spawn(struct sudo *s, const struct ec_argv *argv, struct ec_error *err)
{
	char **env = child_env(s);
	if (!env)
		return s->host->error_set(err, EC_ENOMEM, s->name, "out of memory");
	int rc = s->host->child_spawn(s->name, argv->argv, env, &s->pid, &s->fd, err);
	free(env);
	return rc;
}

static ssize_t own_send(struct sudo *s, const void *buf, size_t len, struct ec_pollset *ps,
                        struct ec_error *err)
{
	return s->host->child_send(s->fd, buf, len, ps, s->name, err);
}

static ssize_t own_recv(struct sudo *s, void *buf, size_t len, struct ec_pollset *ps,
                        struct ec_error *err)
{
	return s->host->child_recv(s->fd, buf, len, ps, s->name, err);
}

static void own_close(struct sudo *s, int grace_ms)
{
	if (s->fd >= 0) {
		close(s->fd);
		s->fd = -1;
	}
	/* The context exits by itself at end of stream, and sudo with it. Then SIGTERM,
	 * which sudo relays to the command: a SIGKILLed sudo would leave its command
	 * running as the other user, whom we may not signal. Then SIGKILL. sudo keeps
	 * the invoking user as its real uid, so both are allowed. */
	s->host->child_reap(s->pid, grace_ms, 500);
	s->pid = -1;
}

/* ---- the layer below, or our own child ------------------------------------------- */

static int low_start(struct sudo *s, const struct ec_argv *argv, struct ec_pollset *ps,
                     struct ec_error *err)
{
	if (s->below)
		return s->below->ops->start(s->below->inst, argv, ps, err);
	return spawn(s, argv, err);
}

static ssize_t low_send(struct sudo *s, const void *buf, size_t len, struct ec_pollset *ps,
                        struct ec_error *err)
{
	if (s->below)
		return s->below->ops->send(s->below->inst, buf, len, ps, err);
	return own_send(s, buf, len, ps, err);
}

static ssize_t low_recv(struct sudo *s, void *buf, size_t len, struct ec_pollset *ps,
                        struct ec_error *err)
{
	if (s->below)
		return s->below->ops->recv(s->below->inst, buf, len, ps, err);
	return own_recv(s, buf, len, ps, err);
}

/* ---- what sudo printed ------------------------------------------------------------- */

/* The last lines sudo printed, for messages: our prompts left out, control characters
 * shown as spaces, a long quoted command (the first stage) elided, at most ~300 bytes. */
static void last_words(const struct sudo *s, char *out, size_t cap)
{
	char text[SCAN_MAX + 1];
	size_t n = 0;
	size_t tlen = strlen(s->tag);
	for (size_t i = 0; i < s->scan_len && n < sizeof(text) - 1;) {
		if (s->scan_len - i >= tlen && memcmp(s->scan + i, s->tag, tlen) == 0) {
			const char *end = memchr(s->scan + i, ']', s->scan_len - i);
			i = end ? (size_t)(end - s->scan) + 1 : s->scan_len;
			if (i < s->scan_len && s->scan[i] == ' ')
				i++;
			continue;
		}
		unsigned char c = (unsigned char)s->scan[i++];
		text[n++] = c == '\n' ? '\n' : (c < 32 || c == 127) ? ' ' : (char)c;
	}
	text[n] = '\0';
	/* "... not allowed to execute '/usr/bin/python3 -c exec(...)...' as root on vm.":
	 * keep the interpreter, elide the first stage. */
	char *c = strstr(text, " -c ");
	if (c) {
		char *q = strchr(c, '\'');
		if (q && q - c > 7) {
			memmove(c + 7, q, strlen(q) + 1);
			memcpy(c, " -c ...", 7);
		}
	}
	/* Trim, join the lines with " / ", keep the tail. */
	char *p = text;
	while (*p == '\n' || *p == ' ')
		p++;
	size_t len = strlen(p);
	while (len && (p[len - 1] == '\n' || p[len - 1] == ' '))
		p[--len] = '\0';
	char joined[SCAN_MAX * 2];
	size_t j = 0;
	for (size_t i = 0; i < len && j < sizeof(joined) - 4; i++) {
		if (p[i] == '\n') {
			while (i + 1 < len && (p[i + 1] == '\n' || p[i + 1] == ' '))
				i++;
			memcpy(joined + j, " / ", 3);
			j += 3;
		} else {
			joined[j++] = p[i];
		}
	}
	joined[j] = '\0';
	const char *tail = joined;
	if (j > 300)
		tail = joined + j - 300;
	snprintf(out, cap, "%s%s", tail != joined ? "..." : "", tail);
}

static int fail(struct sudo *s, struct ec_error *err, int code, const char *fmt, ...)
	EC_PRINTF(4, 5);
static int fail(struct sudo *s, struct ec_error *err, int code, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	wipe(s->pw, sizeof(s->pw));
	s->pw_len = s->pw_off = 0;
	s->state = S_FAILED;
	return s->host->error_set(err, code, s->name, "%s", msg);
}

/* The password from the application (asked at a terminal), into s->pw: 0, EC_EAGAIN
 * while it is asked, or a failure. */
static int ask_password(struct sudo *s, size_t *n, struct ec_error *err)
{
	const struct ec_host *h = s->host;
	char key[600], prompt[600];
	snprintf(key, sizeof(key), "sudo:%s@%s", s->pw_user, s->sudo_host);
	snprintf(prompt, sizeof(prompt), "[sudo] password for %s on %s: ", s->pw_user,
	         s->sudo_host);
	struct ec_error e = {0};
	int rc = EC_ENOTFOUND;
	if (h->size >= offsetof(struct ec_host, secret_forget) + sizeof(h->secret_forget) &&
	    h->secret_get)
		rc = h->secret_get(h, key, prompt, s->pw, PASSWORD_MAX + 1, n, &e);
	if (rc == EC_EAGAIN)
		return rc;
	if (rc == EC_ENOTFOUND)
		return fail(s, err, EC_EAUTH,
		            "sudo asks for %s's password on %s, but context '%s' has neither "
		            "password_env nor password_file (%s), and no terminal to ask on",
		            s->pw_user, s->sudo_host, s->name, s->where_pw);
	if (rc)
		return fail(s, err, rc, "sudo asks for %s's password on %s: %s", s->pw_user,
		            s->sudo_host, e.msg);
	s->pw_asked = 1;
	return 0;
}

static int read_password_file(struct sudo *s, size_t *out, struct ec_error *err)
{
	size_t n = 0;
	int fd = open(s->password_file, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return fail(s, err, EC_EAUTH, "cannot read password_file %s (%s): %s",
		            s->password_file, s->where_pw, strerror(errno));
	ssize_t r;
	while (n < PASSWORD_MAX + 1) {
		r = read(fd, s->pw + n, PASSWORD_MAX + 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	char *nl = memchr(s->pw, '\n', n);
	if (nl)
		n = (size_t)(nl - s->pw);
	if (n && s->pw[n - 1] == '\r')
		n--;
	wipe(s->pw + n, sizeof(s->pw) - n);
	if (n > PASSWORD_MAX)
		return fail(s, err, EC_EAUTH, "the password in %s is longer than %d bytes",
		            s->password_file, PASSWORD_MAX);
	if (n == 0)
		return fail(s, err, EC_EAUTH, "password_file %s (%s) is empty", s->password_file,
		            s->where_pw);
	*out = n;
	return 0;
}

/* Load the password into s->pw as "password\n": 0, EC_EAGAIN while the application is
 * asked for it, or a failure. */
static int load_password(struct sudo *s, struct ec_error *err)
{
	size_t n = 0;
	int rc = 0;
	if (s->password_env) {
		const char *v = getenv(s->password_env);
		if (!v || !*v)
			return fail(s, err, EC_EAUTH,
			            "sudo asks for %s's password on %s, but the environment variable "
			            "%s (password_env, %s) is not set or empty", s->pw_user, s->sudo_host,
			            s->password_env, s->where_pw);
		n = strlen(v);
		if (n > PASSWORD_MAX)
			return fail(s, err, EC_EAUTH, "the password in %s is longer than %d bytes",
			            s->password_env, PASSWORD_MAX);
		memcpy(s->pw, v, n);
	} else if (s->password_file) {
		rc = read_password_file(s, &n, err);
	} else {
		rc = ask_password(s, &n, err);
	}
	if (rc)
		return rc;
	if (memchr(s->pw, '\n', n) || memchr(s->pw, '\0', n))
		return fail(s, err, EC_EAUTH, "the sudo password must not contain a newline or NUL");
	s->pw[n] = '\n';
	s->pw_len = n + 1;
	s->pw_off = 0;
	return 0;
}

/* sudo refused the password: a wrong one asked of the application is forgotten, so
 * the next context asks again. */
static int refused(struct sudo *s, struct ec_error *err)
{
	if (s->pw_asked) {
		char key[600];
		snprintf(key, sizeof(key), "sudo:%s@%s", s->pw_user, s->sudo_host);
		s->host->secret_forget(s->host, key);
	}
	return fail(s, err, EC_EAUTH, "sudo: incorrect password for %s on %s", s->pw_user,
	            s->sudo_host);
}

static void drop_front(struct sudo *s, size_t k)
{
	memmove(s->scan, s->scan + k, s->scan_len - k);
	s->scan_len -= k;
	s->answered_at = s->answered_at > k ? s->answered_at - k : 0;
	s->scan[s->scan_len] = '\0';
}

static char *find(const struct sudo *s, size_t from, const char *what)
{
	size_t wl = strlen(what);
	if (from >= s->scan_len)
		return NULL;
	return memmem(s->scan + from, s->scan_len - from, what, wl);
}

/* Look at what sudo printed so far. 0: nothing decided (wait for more), 1: the marker
 * was seen, 2: the prompt was seen (answer it), < 0: failure. */
static int examine(struct sudo *s, struct ec_error *err)
{
	char *m = find(s, 0, BOOT_MARKER);
	if (m) {
		size_t after = (size_t)(m - s->scan) + BOOT_MARKER_LEN;
		if (after < s->scan_len) {
			s->extra_len = s->scan_len - after;
			s->extra = malloc(s->extra_len);
			if (!s->extra)
				return fail(s, err, EC_ENOMEM, "out of memory");
			memcpy(s->extra, s->scan + after, s->extra_len);
			s->extra_off = 0;
		}
		s->scan_len = (size_t)(m - s->scan);
		s->scan[s->scan_len] = '\0';
		return 1;
	}
	if (find(s, 0, "must have a tty")) {
		char me[256] = "";
		struct passwd pw, *res = NULL;
		char pwbuf[1024];
		if (!s->below && getpwuid_r(getuid(), &pw, pwbuf, sizeof(pwbuf), &res) == 0 && res)
			snprintf(me, sizeof(me), "%s", pw.pw_name);
		return fail(s, err, EC_EBOOT,
		            "sudo refuses to run without a terminal (requiretty is set for %s); "
		            "allow it in sudoers with `Defaults:%s !requiretty`",
		            *me ? me : "the user that runs sudo there", *me ? me : "USER");
	}
	size_t from = s->state == S_ANSWERED ? s->answered_at : 0;
	if (s->state == S_ANSWERED && find(s, from, "Sorry, try again"))
		return refused(s, err);
	char *p = find(s, from, s->tag);
	if (!p)
		return 0;
	size_t tl = strlen(s->tag);
	char *end = memchr(p + tl, ']', s->scan_len - (size_t)(p + tl - s->scan));
	if (!end)
		return 0; /* the rest of the prompt is on its way */
	if (s->state == S_ANSWERED) /* asked again (an insult instead of "Sorry"?) */
		return refused(s, err);
	/* "user@host" */
	char uh[256];
	size_t l = (size_t)(end - (p + tl));
	if (l >= sizeof(uh))
		l = sizeof(uh) - 1;
	memcpy(uh, p + tl, l);
	uh[l] = '\0';
	char *at = strrchr(uh, '@');
	if (at)
		*at = '\0';
	snprintf(s->pw_user, sizeof(s->pw_user), "%s", uh);
	snprintf(s->sudo_host, sizeof(s->sudo_host), "%s", at ? at + 1 : "?");
	s->answered_at = (size_t)(end - s->scan) + 1;
	return 2;
}

/* The note start() leaves in err while it waits: the core quotes it if the connection
 * times out (what sudo printed, not the password, which sudo does not echo). */
static void note(struct sudo *s, struct ec_error *err)
{
	char words[400];
	last_words(s, words, sizeof(words));
	const char *what = s->state == S_ANSWERED ? "sudo did not accept or refuse the password"
	                   : s->state == S_ANSWER ? "sudo did not read the password"
	                   : s->state == S_SECRET ? "the password was not given at the prompt"
	                   : s->state == S_STARTING ? "the transport below sudo did not start"
	                                            : "sudo neither asked for a password nor "
	                                              "started the interpreter";
	s->host->error_set(err, EC_ETIMEDOUT, s->name, "%s%s%s", what,
	                   *words ? "; sudo printed: " : " and sudo printed nothing", words);
}

static void log_lines(struct sudo *s, size_t from)
{
	/* Debug log of sudo's text as it comes, our prompt included (never the answer:
	 * sudo -S does not echo it). */
	size_t i = from;
	while (i < s->scan_len) {
		char *nl = memchr(s->scan + i, '\n', s->scan_len - i);
		size_t end = nl ? (size_t)(nl - s->scan) : s->scan_len;
		if (end > i && !(end - i == BOOT_MARKER_LEN - 1 &&
		                 memcmp(s->scan + i, BOOT_MARKER, BOOT_MARKER_LEN - 1) == 0))
			s->host->log(s->host, EC_LOG_DEBUG, "%s: sudo: %.*s", s->name, (int)(end - i),
			             s->scan + i);
		i = end + 1;
	}
}

/* `timeout` ran out: quote what sudo printed. */
static int timed_out(struct sudo *s, struct ec_error *err)
{
	char words[400];
	last_words(s, words, sizeof(words));
	return fail(s, err, EC_ETIMEDOUT,
	            "sudo did not start the interpreter within %.3g s (timeout)%s%s",
	            (double)s->timeout_ms / 1000.0, *words ? "; sudo printed: " : " and printed "
	            "nothing", words);
}

/* The stream ended before the marker. */
static int ended(struct sudo *s, struct ec_error *err)
{
	char words[400];
	last_words(s, words, sizeof(words));
	if (s->state == S_ANSWERED && strstr(words, "incorrect password"))
		return refused(s, err);
	return fail(s, err, EC_EBOOT, "%s%s", *words ? "sudo: " : "",
	            *words ? words : "sudo exited before the interpreter started, and printed "
	                             "nothing");
}

/* Send what is left of the password line. */
static int answer(struct sudo *s, struct ec_pollset *ps, struct ec_error *err)
{
	while (s->pw_off < s->pw_len) {
		ssize_t n = low_send(s, s->pw + s->pw_off, s->pw_len - s->pw_off, ps, err);
		if (n == EC_EAGAIN)
			return EC_EAGAIN;
		if (n < 0) {
			wipe(s->pw, sizeof(s->pw));
			s->state = S_FAILED;
			return (int)n;
		}
		s->pw_off += (size_t)n;
	}
	wipe(s->pw, sizeof(s->pw));
	s->pw_len = s->pw_off = 0;
	s->state = S_ANSWERED;
	s->host->log(s->host, EC_LOG_DEBUG, "%s: answered sudo's prompt", s->name);
	return 0;
}

/* EC_EAGAIN from start, with a note, and the timer of `timeout` unless it is paused. */
static int again(struct sudo *s, struct ec_pollset *ps, struct ec_error *err)
{
	note(s, err);
	if (s->deadline && s->state != S_SECRET) {
		long long left = s->deadline - now_ms();
		ps->timeout_ms = left < 1 ? 1 : left > 60000 ? 60000 : (int)left;
	}
	return EC_EAGAIN;
}

static int sudo_start(void *inst, const struct ec_argv *argv, struct ec_pollset *ps,
                      struct ec_error *err)
{
	struct sudo *s = inst;
	if (s->state == S_FAILED)
		return s->host->error_set(err, EC_EBOOT, s->name, "sudo failed earlier");
	if (s->state == S_OPEN)
		return 0;
	if (s->state == S_NEW)
		s->state = S_STARTING;
	if (s->state == S_STARTING) {
		int rc = low_start(s, argv, ps, err);
		if (rc == EC_EAGAIN) {
			note(s, err);
			return EC_EAGAIN;
		}
		if (rc) {
			s->state = S_FAILED;
			return rc;
		}
		s->state = S_WAITING;
		if (s->timeout_ms)
			s->deadline = now_ms() + s->timeout_ms;
		s->host->log(s->host, EC_LOG_DEBUG, "%s: sudo started as %s, waiting for its prompt "
		             "or the interpreter", s->name, s->username);
	}
	for (;;) {
		int rc;
		if (s->state == S_SECRET) {
			rc = load_password(s, err);
			if (rc && rc != EC_EAGAIN)
				return rc;
			if (rc == 0) {
				if (s->deadline)
					s->deadline += now_ms() - s->paused_at;
				s->state = S_ANSWER;
			}
		}
		if (s->state == S_ANSWER) {
			rc = answer(s, ps, err);
			if (rc == EC_EAGAIN)
				return again(s, ps, err);
			if (rc)
				return rc;
		}
		if (s->deadline && s->state != S_SECRET && now_ms() >= s->deadline)
			return timed_out(s, err);
		if (s->scan_len > SCAN_MAX / 2)
			drop_front(s, s->scan_len - SCAN_MAX / 4);
		/* Also while the password is asked: sudo may give up meanwhile. */
		size_t before = s->scan_len;
		ssize_t n = low_recv(s, s->scan + s->scan_len, SCAN_MAX - s->scan_len, ps, err);
		if (n == EC_EAGAIN)
			return again(s, ps, err);
		if (n < 0) {
			s->state = S_FAILED;
			return (int)n;
		}
		if (n == 0)
			return ended(s, err);
		s->scan_len += (size_t)n;
		s->scan[s->scan_len] = '\0';
		log_lines(s, before);
		if (s->state == S_SECRET)
			continue;
		rc = examine(s, err);
		if (rc < 0)
			return rc;
		if (rc == 1) {
			s->state = S_OPEN;
			s->host->log(s->host, EC_LOG_DEBUG, "%s: the interpreter runs as %s", s->name,
			             s->username);
			return 0;
		}
		if (rc == 2) {
			s->host->log(s->host, EC_LOG_DEBUG, "%s: sudo asks for %s's password on %s",
			             s->name, s->pw_user, s->sudo_host);
			rc = load_password(s, err);
			if (rc == EC_EAGAIN) {
				s->state = S_SECRET;
				s->paused_at = now_ms();
				s->host->log(s->host, EC_LOG_DEBUG, "%s: asking for the password", s->name);
				continue;
			}
			if (rc)
				return rc;
			s->state = S_ANSWER;
		}
	}
}

/* ---- the open stream ----------------------------------------------------------------- */

static ssize_t sudo_send(void *inst, const void *buf, size_t len, struct ec_pollset *ps,
                         struct ec_error *err)
{
	return low_send(inst, buf, len, ps, err);
}

static ssize_t sudo_recv(void *inst, void *buf, size_t len, struct ec_pollset *ps,
                         struct ec_error *err)
{
	struct sudo *s = inst;
	if (s->extra_off < s->extra_len) {
		/* What came after the marker, then whatever is there already: the broker
		 * polls the fd, which may not wake for what we hold. */
		size_t k = s->extra_len - s->extra_off;
		if (k > len)
			k = len;
		memcpy(buf, s->extra + s->extra_off, k);
		s->extra_off += k;
		if (s->extra_off == s->extra_len) {
			free(s->extra);
			s->extra = NULL;
			s->extra_len = s->extra_off = 0;
		}
		if (k < len) {
			struct ec_pollset ign = {.fd = -1};
			struct ec_error e2 = {0};
			ssize_t n = low_recv(s, (char *)buf + k, len - k, &ign, &e2);
			if (n > 0)
				k += (size_t)n;
		}
		return (ssize_t)k;
	}
	return low_recv(s, buf, len, ps, err);
}

static void sudo_pollset(void *inst, struct ec_pollset *ps)
{
	struct sudo *s = inst;
	if (s->below) {
		s->below->ops->pollset(s->below->inst, ps);
		return;
	}
	ps->fd = s->fd;
	ps->events = EC_POLL_IN;
}

static void sudo_close(void *inst, int grace_ms)
{
	struct sudo *s = inst;
	wipe(s->pw, sizeof(s->pw));
	s->pw_len = s->pw_off = 0;
	/* The layers below are closed by the core, each on its own. */
	if (!s->below)
		own_close(s, grace_ms);
}

static void sudo_destroy(void *inst)
{
	struct sudo *s = inst;
	if (!s)
		return;
	if (!s->below)
		own_close(s, 0);
	wipe(s->pw, sizeof(s->pw));
	wipe(s->scan, sizeof(s->scan));
	free(s->extra);
	for (size_t i = 0; s->sudo_args && s->sudo_args[i]; i++)
		free(s->sudo_args[i]);
	free(s->sudo_args);
	free(s->name);
	free(s->username);
	free(s->password_env);
	free(s->password_file);
	free(s->where_pw);
	free(s->sudo_path);
	free(s);
}

static const struct ec_transport_ops sudo_ops = {
	.size = sizeof(struct ec_transport_ops),
	.create = sudo_create,
	.wrap_argv = sudo_wrap_argv,
	.start = sudo_start,
	.send = sudo_send,
	.recv = sudo_recv,
	.pollset = sudo_pollset,
	.close = sudo_close,
	.destroy = sudo_destroy,
	.runs = EC_RUNS_HERE,
};

EC_PLUGIN_DEFINE(sudo, .version = "0.1.0", .kind = EC_PLUGIN_TRANSPORT, .params = sudo_params,
                 .load = sudo_load, .ops = &sudo_ops)
