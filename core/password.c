/* password.c: the password service of the host table (password_get, password_refused):
 * a transport's password from password_env, password_file or the application's answer
 * (the host's secret_get, core/secret.c), and the pause of the transport's own deadline
 * while the application is asked. Built on the host table alone, as a plugin would be. */
#include "ecbuild.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "fileio.h"
#include "clock.h"
#include "password.h"

/* " (password_env, conf.yaml:3:5)": the key (may be NULL) and where it is set, if known. */
static const char *at(const char *key, const char *where, char *out, size_t cap)
{
	if (!key && !where)
		return "";
	snprintf(out, cap, " (%s%s%s)", key ? key : "", key && where ? ", " : "",
	         where ? where : "");
	return out;
}

static int too_long(const char *what, size_t cap, struct ec_error *err)
{
	return ec__error_set(err, EC_EAUTH, NULL, "the password in %s is longer than %zu bytes",
	                     what, cap - 1);
}

static int from_env(const struct ec_password *pw, char *buf, size_t cap, size_t *len,
                    struct ec_error *err)
{
	char w[300];
	const char *v = getenv(pw->env);
	if (!v)
		return ec__error_set(err, EC_EAUTH, NULL, "the environment variable %s%s is not set",
		                     pw->env, at("password_env", pw->where, w, sizeof(w)));
	size_t n = strlen(v);
	if (n >= cap)
		return too_long(pw->env, cap, err);
	memcpy(buf, v, n + 1);
	*len = n;
	return 0;
}

/* The first line, without its "\n" or "\r\n". */
static int from_file(const struct ec_password *pw, char *buf, size_t cap, size_t *len,
                     struct ec_error *err)
{
	char w[300];
	int fd = open(pw->file, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	ssize_t r = fd < 0 ? -1 : ec__read_full(fd, buf, cap);
	int e = errno;
	if (fd >= 0)
		close(fd);
	if (r < 0)
		return ec__error_set(err, EC_EAUTH, NULL, "cannot read password_file %s%s: %s",
		                     pw->file, at(NULL, pw->where, w, sizeof(w)), strerror(e));
	size_t n = (size_t)r;
	char *nl = memchr(buf, '\n', n);
	if (nl)
		n = (size_t)(nl - buf);
	int fits = n < cap;
	if (n && n < cap && buf[n - 1] == '\r')
		n--;
	explicit_bzero(buf + (fits ? n : 0), cap - (fits ? n : 0)); /* the rest of the file too */
	if (!fits)
		return too_long(pw->file, cap, err);
	buf[n] = '\0';
	*len = n;
	return 0;
}

int ec__password_get(const struct ec_host *h, struct ec_password *pw, const char *key,
                     const char *prompt, char *buf, size_t cap, size_t *len,
                     struct ec_error *err)
{
	if (!pw || !buf || !cap || !len)
		return ec__error_set(err, EC_EINVAL, NULL, "password_get: no request or buffer");
	if (pw->env || pw->file) {
		pw->from_app = 0;
		return pw->env ? from_env(pw, buf, cap, len, err) : from_file(pw, buf, cap, len, err);
	}
	size_t n = 0;
	int rc = h->secret_get(h, key, prompt, buf, cap, &n, err);
	if (rc == EC_EAGAIN) {
		if (!pw->asked_since)
			pw->asked_since = ec__now_ms();
		return rc;
	}
	if (pw->asked_since) {
		if (pw->deadline_ms && *pw->deadline_ms)
			*pw->deadline_ms += ec__now_ms() - pw->asked_since;
		pw->asked_since = 0;
	}
	pw->from_app = rc == 0;
	if (rc == 0)
		*len = n;
	return rc;
}

void ec__password_refused(const struct ec_host *h, const struct ec_password *pw,
                          const char *key)
{
	if (pw && pw->from_app && key)
		h->secret_forget(h, key);
}
