/* sudo.c: the `sudo` transport: start the context as another user through
 * `sudo -S -p PROMPT -u USER [sudo_args] -- python -c ...`, and answer sudo's password
 * prompt over the stream, only when it appears. This file: the plugin, a context's
 * settings (create), the boot command (wrap_argv) and the open stream's ops; the boot
 * and the prompt are sudo_prompt.c's, the layer below or our own child sudo_below.c's.
 *
 * With `via: other` it is a layer on other's transport (typically ssh): it wraps the
 * boot command, and passes bytes through the layer below. Without `via` it runs sudo
 * itself, on this machine, as the local transport runs python: a child in its own
 * session on one end of a socketpair. It does not sit on a `local` layer because that
 * would hand sudo the master's whole environment, password_env's variable included. */
#include "ecbuild.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "sudo_int.h"

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
	s->pw_src = (struct ec_password){.size = sizeof(s->pw_src), .env = s->password_env,
	                                 .file = s->password_file, .where = s->where_pw,
	                                 .deadline_ms = &s->deadline};
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

/* ---- the open stream ----------------------------------------------------------------- */

static ssize_t sudo_send(void *inst, const void *buf, size_t len, struct ec_pollset *ps,
                         struct ec_error *err)
{
	return sudo__low_send(inst, buf, len, ps, err);
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
			struct ec_error e2 = {0};
			ssize_t n = sudo__low_recv(s, (char *)buf + k, len - k, ps, &e2);
			if (n > 0)
				k += (size_t)n;
		}
		return (ssize_t)k;
	}
	return sudo__low_recv(s, buf, len, ps, err);
}

static void sudo_pollset(void *inst, int want, struct ec_pollset *ps)
{
	struct sudo *s = inst;
	if (s->below)
		s->below->ops->pollset(s->below->inst, want, ps);
	else
		ec_pollset_add(ps, s->fd, want);
}

static void sudo_close(void *inst, int grace_ms)
{
	struct sudo *s = inst;
	explicit_bzero(s->pw, sizeof(s->pw));
	s->pw_len = s->pw_off = 0;
	/* The layers below are closed by the core, each on its own. */
	if (!s->below)
		sudo__own_close(s, grace_ms);
}

static void sudo_destroy(void *inst)
{
	struct sudo *s = inst;
	if (!s)
		return;
	if (!s->below)
		sudo__own_close(s, 0);
	explicit_bzero(s->pw, sizeof(s->pw));
	explicit_bzero(s->scan, sizeof(s->scan));
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
	.start = sudo__start,
	.send = sudo_send,
	.recv = sudo_recv,
	.pollset = sudo_pollset,
	.close = sudo_close,
	.destroy = sudo_destroy,
	.runs = EC_RUNS_HERE,
};

EC_PLUGIN_DEFINE(sudo, .version = "0.1.0", .kind = EC_PLUGIN_TRANSPORT, .params = sudo_params,
                 .load = sudo_load, .ops = &sudo_ops)
