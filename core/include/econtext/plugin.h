/* econtext/plugin.h: the plugin ABI. A plugin is a shared object exporting one symbol,
 * ec_plugin_<name>_describe, that returns a const descriptor. The loader refuses a
 * descriptor whose ABI major differs from the core's or whose minor is newer.
 *
 * Plugins reach the core only through the host table handed to their load() op; they
 * do not link libecontext. */
#ifndef ECONTEXT_PLUGIN_H
#define ECONTEXT_PLUGIN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "econtext.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The one place the ABI version is stated: configure reads these two lines (keep the
 * form "#define NAME N") for econtext.pc's plugin_abi; record each version in NEWS. */
#define EC_PLUGIN_ABI_MAJOR 2 /* bumped on any incompatible change */
#define EC_PLUGIN_ABI_MINOR 2 /* bumped when a member is appended to a table */
/* Versions (NEWS has each):
 * 1.0-1.2  unreleased.
 * 2.0  the first released ABI. Against 1.2: struct ec_pollset holds several
 *      descriptors and a timer for every op, and states its room (cap); the transport
 *      op pollset says what the core wants (read, write); the transport op carry (a
 *      layer carries the one above: ssh via a jump host); every transport op, create
 *      and destroy included, runs on the broker thread; each plugin has its own host
 *      table; struct ec_host: password_get, password_refused (struct ec_password).
 * 2.1  struct ec_codec_ops: remote_source, the codec's context side, which the core
 *      sends in the boot (payload/ has no codec of its own any more). A codec built
 *      for 2.0 is refused: it relied on the pickle that payload/ had built in.
 *      The transport op boot_words: a layer's words for its own part in the context,
 *      carried inside the boot payload (the tls layer's address, pin and token); the
 *      transport op invitation: the command that makes a machine an invited context;
 *      the transport op local_address: the master's address as a layer's remote
 *      machine sees it (ssh), the default for connect-back; boot_words is called once
 *      the stack's start returned 0, so a layer may ask those below it.
 * 2.2  The transport op remote_source: a layer's context side, carried after the core
 *      and started with its boot_words (the tls layer's connect-back and relay).
 * A minor version appends members at the end of a table, marked "minor N ends here";
 * the loader refuses a table shorter than its declared minor's or longer than its own,
 * and a major or minor newer than its own. */

enum ec_plugin_kind { EC_PLUGIN_TRANSPORT = 1, EC_PLUGIN_CODEC = 2 };

/* ---- configuration schema ---------------------------------------------------- */

enum ec_param_type {
	EC_PARAM_STR = 1,
	EC_PARAM_INT,      /* decimal integer within [min, max] */
	EC_PARAM_BOOL,     /* true/false */
	EC_PARAM_STR_LIST, /* a string or a sequence of strings */
	EC_PARAM_DURATION  /* seconds, may be fractional; read with cfg_ms */
};

#define EC_PARAM_REQUIRED 0x1u

/* One key a plugin accepts in a context's section. Tables end with { 0 }. */
struct ec_param {
	const char *key;
	enum ec_param_type type;
	uint32_t flags;
	const char *dflt; /* default as YAML text, or NULL for none */
	long min, max;    /* for EC_PARAM_INT when min < max */
	const char *help; /* one line for docs and errors */
};

/* A validated section of the configuration: a context's keys (core and plugin). The
 * core owns it; plugins read it through the host table and keep no pointers past the
 * op that received it, unless stated. */
struct ec_cfg;
struct ec_pollset; /* econtext/transport.h */

/* A password a transport needs (host->password_get): where the context's configuration
 * says it is, and the state of a question to the application. The plugin zeroes it, sets
 * size and the members it knows, and keeps it for the calls that follow (one per
 * password: a connection, a sudo prompt). Strings are borrowed for each call. */
struct ec_password {
	size_t size;      /* sizeof(struct ec_password) as the plugin was built */
	const char *env;  /* password_env: a variable of the master's environment, or NULL */
	const char *file; /* password_file: its first line is the password, or NULL */
	const char *where; /* "file:line:col" of the key giving env or file, or NULL */
	/* The plugin's own deadline (CLOCK_MONOTONIC ms; *deadline_ms 0: none), or NULL:
	 * moved later by the time the application took to answer. */
	long long *deadline_ms;
	/* Set by the core. asked_since: CLOCK_MONOTONIC ms since when the application is
	 * asked (the deadline is paused: do not time out meanwhile), else 0. from_app: the
	 * last password given was the application's answer. */
	long long asked_since;
	int from_app;
};

/* ---- the host table: the core's services for plugins --------------------------- */

struct ec_host {
	size_t size; /* sizeof(struct ec_host) as the core was built */
	uint16_t abi_major, abi_minor;

	/* Log through the master's log (logger "econtext.<plugin>"). Any thread. */
	void (*log)(const struct ec_host *h, int level, const char *fmt, ...) EC_PRINTF(3, 4);
	/* Fill err (may be NULL) and return code. where may be NULL. */
	int (*error_set)(struct ec_error *err, int code, const char *where, const char *fmt, ...)
		EC_PRINTF(4, 5);

	/* Values, for codecs: same contracts as the ec_value_* functions. */
	ec_value *(*value_new)(enum ec_type type);
	ec_value *(*value_str)(enum ec_type type, const void *data, size_t len); /* STR, BYTES, BIGINT */
	int (*value_append)(ec_value *seq, ec_value *item);
	void (*value_free)(ec_value *v);

	/* Config lookups. 0 and *out set when the key has a value (its own or the schema's
	 * default); EC_ENOTFOUND when it has none. Strings are borrowed from cfg. */
	int (*cfg_str)(const struct ec_cfg *cfg, const char *key, const char **out);
	int (*cfg_int)(const struct ec_cfg *cfg, const char *key, long *out);
	int (*cfg_bool)(const struct ec_cfg *cfg, const char *key, int *out);
	int (*cfg_ms)(const struct ec_cfg *cfg, const char *key, long *out_ms);
	/* NULL-terminated array of borrowed strings. */
	int (*cfg_list)(const struct ec_cfg *cfg, const char *key, const char *const **out,
	                size_t *n);
	/* "file:line:col" of key (or of the section when key is NULL), for messages. */
	const char *(*cfg_where)(const struct ec_cfg *cfg, const char *key);

	/* A child process on a socketpair, for transports that run the boot command on
	 * this machine (local, sudo); broker thread. child_spawn: argv in its own session,
	 * default signals, stdin/stdout/stderr the child's end; *fd (ours) non-blocking.
	 * envp NULL: the master's environment. */
	int (*child_spawn)(const char *who, char *const argv[], char *const envp[], pid_t *pid,
	                   int *fd, struct ec_error *err);
	/* The transport send/recv contract on that fd (recv 0 = end of stream). */
	ssize_t (*child_send)(int fd, const void *buf, size_t len, struct ec_pollset *ps,
	                      const char *who, struct ec_error *err);
	ssize_t (*child_recv)(int fd, void *buf, size_t len, struct ec_pollset *ps,
	                      const char *who, struct ec_error *err);
	/* Wait up to grace_ms for the child to exit; then SIGTERM and up to term_ms (if
	 * term_ms >= 0); then SIGKILL. Always reaps. Called from close on the broker
	 * thread it returns at once: the core waits in its poll loop (the context stays
	 * attached until then); from anywhere else it waits itself. */
	void (*child_reap)(pid_t pid, int grace_ms, int term_ms);

	/* A secret (a password) that the context's configuration does not give, asked of the
	 * application (ec_master_set_secret_prompt: the `econtext` command asks on its
	 * terminal). Broker thread, from a transport's start op only; never blocks. key says
	 * who shares the answer ("ssh:USER@HOST:PORT", "sudo:USER@HOST"): it is asked once
	 * and kept for the master's lifetime. prompt is shown as is ("deploy@web1's
	 * password: "). Returns 0 with the answer in buf (NUL-terminated, *len bytes; wipe it
	 * after use); EC_EAGAIN while the application is asked: return EC_EAGAIN from start
	 * (the core calls start again once the answer is there; the context's connect
	 * timeout is paused meanwhile); EC_ENOTFOUND if the application takes no questions
	 * (no prompt installed, no terminal): give the error you gave before; any other
	 * negative code with err filled (the prompt was declined, the answer too long). */
	int (*secret_get)(const struct ec_host *h, const char *key, const char *prompt, char *buf,
	                  size_t cap, size_t *len, struct ec_error *err);
	/* The answer for key was refused (a wrong password): forget it, so that the next
	 * context that needs it asks again. Broker thread, from start. */
	void (*secret_forget)(const struct ec_host *h, const char *key);

	/* The password a transport needs: from pw->env, else pw->file, else the
	 * application's answer as secret_get gives it (key and prompt as there). Broker
	 * thread, from a transport's start op only; never blocks. Returns 0 with the password
	 * in buf (NUL-terminated, *len bytes; wipe it after use); EC_EAGAIN while the
	 * application is asked (return EC_EAGAIN from start and call again when start is
	 * called: pw->asked_since says the deadline is paused, and *pw->deadline_ms moves on
	 * once there is an answer); EC_ENOTFOUND with neither env nor file and nobody to ask:
	 * give the error you gave before; EC_EAUTH with err filled when the variable is not
	 * set, the file cannot be read, or the password is longer than cap - 1 bytes; or
	 * secret_get's failure, err filled. An empty password is returned as such. */
	int (*password_get)(const struct ec_host *h, struct ec_password *pw, const char *key,
	                    const char *prompt, char *buf, size_t cap, size_t *len,
	                    struct ec_error *err);
	/* The password from password_get was refused (a wrong one): if it was the
	 * application's answer, forget it (secret_forget), so that the next context that
	 * needs it asks again. Broker thread, from start. */
	void (*password_refused)(const struct ec_host *h, const struct ec_password *pw,
	                         const char *key);
	/* Major 2, minor 0 ends here. */
};

/* ---- the descriptor ---------------------------------------------------------- */

struct ec_plugin {
	/* These three come first and never move: the loader reads them first. */
	uint16_t abi_major;
	uint16_t abi_minor;
	uint32_t size; /* sizeof(struct ec_plugin) as the plugin was compiled */

	const char *name;    /* file name, entry symbol and YAML value */
	const char *version; /* the plugin's own release, for logs */
	enum ec_plugin_kind kind;
	const struct ec_param *params; /* keys it takes in a context section; may be NULL */
	/* Optional. Runs once on the loading thread, before the broker starts. */
	int (*load)(const struct ec_host *host, void **state, struct ec_error *err);
	/* Optional. Runs once when the master is freed, after every instance is gone. */
	void (*unload)(void *state);
	/* const struct ec_transport_ops * or const struct ec_codec_ops *, per kind. */
	const void *ops;
	/* Major 2, minor 0 ends here. */
};

#if defined(__GNUC__) || defined(__clang__)
#define EC_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define EC_PLUGIN_EXPORT
#endif

/* Defines the entry symbol ec_plugin_NAME_describe returning a static descriptor. */
#define EC_PLUGIN_DEFINE(NAME, ...)                                                     \
	EC_PLUGIN_EXPORT const struct ec_plugin *ec_plugin_##NAME##_describe(void);     \
	const struct ec_plugin *ec_plugin_##NAME##_describe(void)                      \
	{                                                                               \
		static const struct ec_plugin d = {.abi_major = EC_PLUGIN_ABI_MAJOR,    \
		                                   .abi_minor = EC_PLUGIN_ABI_MINOR,    \
		                                   .size = sizeof(struct ec_plugin),    \
		                                   .name = #NAME,                       \
		                                   __VA_ARGS__};                        \
		return &d;                                                              \
	}

#ifdef __cplusplus
}
#endif
#endif
