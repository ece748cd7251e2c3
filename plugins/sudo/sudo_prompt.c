/* sudo_prompt.c: the sudo transport's boot (its start op): a state machine that reads
 * what sudo prints and answers its password prompt, only when it appears.
 *
 * sudo prints the prompt (stderr, no newline), or nothing at all (NOPASSWD, cached
 * credentials); the first stage prints EC_MARKER_BOOT before it reads (docs/protocol.md
 * 1). start() reads until one of them and returns 0 only once the marker is seen, so
 * that the payload is never read by sudo as a password attempt. Bytes after the marker
 * are kept for the first recv calls.
 *
 * The password comes from the host's password service (password_env, password_file or,
 * with neither, the application: the `econtext` command asks on its terminal), once per
 * (host, user whose password sudo wants) for every context that shares it. While it is
 * asked, start() returns EC_EAGAIN and keeps reading, and `timeout` is paused. */
#include "ecbuild.h"

#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "econtext/protocol.h"
#include "sudo_int.h"

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

/* The key the application's answer is kept under: every context that needs the password
 * of that user on that host shares it. */
static void pw_key(const struct sudo *s, char *key, size_t cap)
{
	snprintf(key, cap, "sudo:%s@%s", s->pw_user, s->sudo_host);
}

/* Load the password into s->pw as "password\n" (host->password_get): 0, EC_EAGAIN while
 * the application is asked for it (`timeout` is paused meanwhile), or a failure. */
static int load_password(struct sudo *s, struct ec_error *err)
{
	const struct ec_host *h = s->host;
	char key[600], prompt[600];
	pw_key(s, key, sizeof(key));
	snprintf(prompt, sizeof(prompt), "[sudo] password for %s on %s: ", s->pw_user,
	         s->sudo_host);
	struct ec_error e = {0};
	size_t n = 0;
	int rc = h->password_get(h, &s->pw_src, key, prompt, s->pw, PASSWORD_MAX + 1, &n, &e);
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
	if (n == 0 && !s->pw_src.from_app)
		return fail(s, err, EC_EAUTH, "sudo asks for %s's password on %s, but %s (%s, %s) "
		            "is empty", s->pw_user, s->sudo_host,
		            s->password_env ? s->password_env : s->password_file,
		            s->password_env ? "password_env" : "password_file", s->where_pw);
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
	char key[600];
	pw_key(s, key, sizeof(key));
	s->host->password_refused(s->host, &s->pw_src, key);
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
	char *m = find(s, 0, EC_MARKER_BOOT);
	if (m) {
		size_t after = (size_t)(m - s->scan) + EC_MARKER_BOOT_LEN;
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
		if (end > i && !(end - i == EC_MARKER_BOOT_LEN - 1 &&
		                 memcmp(s->scan + i, EC_MARKER_BOOT, EC_MARKER_BOOT_LEN - 1) == 0))
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
		ssize_t n = sudo__low_send(s, s->pw + s->pw_off, s->pw_len - s->pw_off, ps, err);
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
		ec_pollset_timer(ps, left < 1 ? 1 : left > 60000 ? 60000 : (int)left);
	}
	return EC_EAGAIN;
}

int sudo__start(void *inst, const struct ec_argv *argv, struct ec_pollset *ps,
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
		int rc = sudo__low_start(s, argv, ps, err);
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
			if (rc == 0)
				s->state = S_ANSWER; /* the core moved s->deadline on */
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
		ssize_t n = sudo__low_recv(s, s->scan + s->scan_len, SCAN_MAX - s->scan_len, ps, err);
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
				s->host->log(s->host, EC_LOG_DEBUG, "%s: asking for the password", s->name);
				continue;
			}
			if (rc)
				return rc;
			s->state = S_ANSWER;
		}
	}
}

