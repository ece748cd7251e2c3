/* sudo_below.c: where the sudo transport's bytes go: through the layer below (`via`)
 * or, without one, to sudo run here as our own child, in its own session on a
 * socketpair, with the master's environment less password_env's variable. */
#include "ecbuild.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sudo_int.h"

extern char **environ;

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

void sudo__own_close(struct sudo *s, int grace_ms)
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

/* ---- the layer below, or our own child -------------------------------------------- */

int sudo__low_start(struct sudo *s, const struct ec_argv *argv, struct ec_pollset *ps,
                    struct ec_error *err)
{
	if (s->below)
		return s->below->ops->start(s->below->inst, argv, ps, err);
	return spawn(s, argv, err);
}

ssize_t sudo__low_send(struct sudo *s, const void *buf, size_t len, struct ec_pollset *ps,
                       struct ec_error *err)
{
	if (s->below)
		return s->below->ops->send(s->below->inst, buf, len, ps, err);
	return own_send(s, buf, len, ps, err);
}

ssize_t sudo__low_recv(struct sudo *s, void *buf, size_t len, struct ec_pollset *ps,
                       struct ec_error *err)
{
	if (s->below)
		return s->below->ops->recv(s->below->inst, buf, len, ps, err);
	return own_recv(s, buf, len, ps, err);
}

