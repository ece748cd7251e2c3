/* econtext.h: the application API of libecontext, the only header an application needs.
 *
 * A master (ec_master) loads its configuration and plugins and runs one broker thread
 * that owns every stream. Application threads connect contexts (Python interpreters
 * started by a transport), call functions in them and block on their own replies. */
#ifndef ECONTEXT_H
#define ECONTEXT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "econtext/errors.h"
#include "econtext/version.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) || defined(__clang__)
#define EC_API __attribute__((visibility("default")))
#define EC_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define EC_API
#define EC_PRINTF(f, a)
#endif

/* ---- errors ------------------------------------------------------------------ */

/* Short description of an EC_E* code ("deadline expired"). Never NULL. */
EC_API const char *ec_strerror(int code);
/* Symbolic name of an EC_E* code ("ETIMEDOUT"). Never NULL. */
EC_API const char *ec_err_name(int code);
/* Runtime version string, e.g. "0.1.0". */
EC_API const char *ec_version(void);

/* ---- values ------------------------------------------------------------------ */

/* The values that cross the wire. The codec maps them to and from Python objects. */
enum ec_type {
	EC_T_NONE = 0,
	EC_T_BOOL,
	EC_T_INT,    /* fits int64_t: u.i */
	EC_T_BIGINT, /* any other integer: u.s holds its decimal text, e.g. "-1234..." */
	EC_T_FLOAT,  /* u.f */
	EC_T_BYTES,  /* u.s: arbitrary bytes (Python 3 bytes, Python 2 str) */
	EC_T_STR,    /* u.s: UTF-8 text (Python 3 str, Python 2 unicode) */
	EC_T_LIST,   /* u.seq */
	EC_T_TUPLE,  /* u.seq */
	EC_T_DICT,   /* u.seq: key, value, key, value... */
	EC_T_SET,    /* u.seq */
	EC_T_ERROR,  /* u.err: a remote exception */
	EC_T_NAMED,  /* u.seq: a tuple whose items have names (a namedtuple, a struct sequence):
	              * name (EC_T_STR), value, name, value...; u.seq.type: the Python type
	              * ("os.stat_result"). docs/values.md */
	EC_T_TAGGED  /* u.seq: one item, the payload of a value of a library type; u.seq.type:
	              * its tag, one of the EC_TAG_* below. docs/values.md */
};

/* The tags of EC_T_TAGGED and their payloads (docs/values.md). */
#define EC_TAG_DATETIME "datetime"   /* STR: ISO 8601, "2024-05-01T12:30:00.250000+02:00" */
#define EC_TAG_DATE "date"           /* STR: "2024-05-01" */
#define EC_TAG_TIME "time"           /* STR: "12:30:00", "12:30:00.250000+02:00" */
#define EC_TAG_TIMEDELTA "timedelta" /* STR: ISO 8601 duration, "P1DT2H3M4.5S", "-PT1S" */
#define EC_TAG_DECIMAL "decimal"     /* STR: "1.10", "-Infinity", "NaN", "1E+3" */
#define EC_TAG_UUID "uuid"           /* STR: "12345678-1234-5678-1234-567812345678" */
#define EC_TAG_PATH "path"           /* STR: a pathlib path, "/etc/passwd" */
#define EC_TAG_ENUM "enum"           /* TUPLE: (class "socket.AddressFamily", member
                                      * "AF_INET", its value) */
#define EC_TAG_CHANNEL "channel"     /* INT: a channel's handle (ec_value_channel); an
                                      * argument only */

typedef struct ec_value ec_value;
struct ec_value {
	enum ec_type type;
	union {
		int b;
		int64_t i;
		double f;
		struct {
			char *data; /* always NUL-terminated past len, for convenience */
			size_t len;
		} s;
		struct {
			ec_value **items;
			size_t len; /* for EC_T_DICT and EC_T_NAMED: twice the number of pairs */
			size_t cap;
			char *type; /* EC_T_NAMED: the Python type; EC_T_TAGGED: the tag; else NULL */
		} seq;
		struct {
			char *type;      /* "exceptions.ValueError", "builtins.KeyError" */
			char *message;   /* str(exception) */
			char *traceback; /* formatted remote traceback, may be "" */
		} err;
	} u;
};

/* Constructors return NULL only when out of memory. Containers start empty. */
EC_API ec_value *ec_value_new(enum ec_type type);
EC_API ec_value *ec_value_none(void);
EC_API ec_value *ec_value_bool(int b);
EC_API ec_value *ec_value_int(int64_t i);
/* A decimal integer of any size ("-123456789012345678901234567890"); NULL if malformed. */
EC_API ec_value *ec_value_bigint(const char *decimal);
EC_API ec_value *ec_value_float(double f);
EC_API ec_value *ec_value_bytes(const void *data, size_t len);
/* UTF-8 text; NULL if not valid UTF-8 (surrogate code points are allowed). */
EC_API ec_value *ec_value_str(const char *utf8, size_t len);
EC_API ec_value *ec_value_cstr(const char *utf8);
EC_API ec_value *ec_value_error(const char *type, const char *message, const char *traceback);
/* Append to a list, tuple or set. Takes item, also on failure (it is freed then). */
EC_API int ec_value_append(ec_value *seq, ec_value *item);
/* Add a pair to a dict. Takes key and val, also on failure. */
EC_API int ec_value_dict_set(ec_value *dict, ec_value *key, ec_value *val);
/* Borrowed lookup of a text key in a dict, or of a field of a named tuple
 * (ec_value_dict_get(stat, "st_size")); NULL if absent. */
EC_API const ec_value *ec_value_dict_get(const ec_value *dict, const char *key);
/* An empty named tuple of the Python type `type` ("os.stat_result"); NULL when out of
 * memory. Add its fields in order with ec_value_named_add. */
EC_API ec_value *ec_value_named(const char *type);
/* Append a field (UTF-8 name, value) to a named tuple. Takes val, also on failure. */
EC_API int ec_value_named_add(ec_value *named, const char *name, ec_value *val);
/* A tagged value: tag (EC_TAG_*, not checked here: the codec refuses what it does not
 * know) and its payload (taken, also on failure). NULL when out of memory. */
EC_API ec_value *ec_value_tagged(const char *tag, ec_value *payload);
/* The tag of a tagged value and, in *payload (may be NULL), its payload, borrowed;
 * NULL when v is not tagged. */
EC_API const char *ec_value_tag(const ec_value *v, const ec_value **payload);
EC_API void ec_value_free(ec_value *v);
EC_API ec_value *ec_value_dup(const ec_value *v);
/* Deep equality; dicts and sets compare without regard to order. */
EC_API int ec_value_equal(const ec_value *a, const ec_value *b);

/* One line of JSON for v, in a malloc'd string (*out; caller frees). Bytes that are
 * UTF-8 print as strings, other bytes as {"$bytes": "<base64>"}; tuples and sets as
 * arrays; named tuples as objects of their fields; tagged values as strings (their
 * ISO 8601 or other text; an enum member as "Class.MEMBER"); big ints as bare JSON
 * numbers; non-text dict keys as their JSON text (docs/values.md). */
EC_API int ec_value_to_json(const ec_value *v, char **out, struct ec_error *err);
/* Parse one JSON value. Integers of any size are kept exactly. */
EC_API int ec_value_from_json(const char *text, ec_value **out, struct ec_error *err);

/* ---- logging ----------------------------------------------------------------- */

enum ec_log_level {
	EC_LOG_DEBUG = 10,
	EC_LOG_INFO = 20,
	EC_LOG_WARNING = 30,
	EC_LOG_ERROR = 40,
	EC_LOG_CRITICAL = 50
};

struct ec_log_record {
	int level;           /* Python logging levelno */
	const char *logger;  /* "econtext.ctx.local", "econtext.ctx.local.stdout", "econtext" */
	const char *context; /* the context's name, or NULL for the master's own records */
	const char *message;
	double time;         /* seconds since the epoch */
};

/* Called on the broker thread (for forwarded records) or the thread that logged. Must
 * not block and must not call back into econtext. */
typedef void (*ec_log_fn)(void *arg, const struct ec_log_record *rec);

/* Parse "debug", "info", "warning", "error", "critical"; -1 if unknown. */
EC_API int ec_log_level_parse(const char *name);
EC_API const char *ec_log_level_name(int level);
/* Write a record as "HH:MM:SS L logger: message\n" to stderr (the command's format). */
EC_API void ec_log_stderr(void *arg, const struct ec_log_record *rec);

/* ---- the master -------------------------------------------------------------- */

typedef struct ec_master ec_master;
typedef struct ec_context ec_context;
typedef struct ec_call ec_call;
typedef struct ec_connect ec_connect;
typedef struct ec_select ec_select;
typedef struct ec_channel ec_channel;

/* Filled by the caller; zero-initialise and set .size = sizeof(struct ec_master_options). */
struct ec_master_options {
	size_t size;
	/* Config file. NULL: $ECONTEXT_CONFIG, ~/.config/econtext/econtext.yaml, the system
	 * config dir, then the embedded default (which defines the context "local"). */
	const char *config_path;
	/* Extra module directories, NULL-terminated; may be NULL. */
	const char *const *module_path;
	/* Log threshold, or 0 for the config file's log_level. */
	int log_level;
	ec_log_fn log_fn; /* NULL: ec_log_stderr */
	void *log_arg;
	/* Plugin directories searched before the config's and the built-in one,
	 * ':'-separated; NULL: $EC_PLUGIN_PATH. */
	const char *plugin_path;
	/* A Python source file served to contexts as the module `__econtext_script__`
	 * (its `if __name__ == '__main__':` block does not run); its directory is searched
	 * after the module path. NULL: none. */
	const char *script;
	/* ec_master_new fixes glibc's mmap threshold at 1 MiB (mallopt M_MMAP_THRESHOLD),
	 * unless $MALLOC_MMAP_THRESHOLD_ is set or this is nonzero: large results and
	 * channel values are then returned to the system when freed, so a master's memory
	 * does not keep its largest result's size several times over (glibc otherwise
	 * raises the threshold after such a free, and keeps the heap). Process-wide. */
	int leave_malloc;
};

/* Load config and plugins and start the broker thread. */
EC_API int ec_master_new(const struct ec_master_options *opts, ec_master **out,
                         struct ec_error *err);
/* Shut down every context (gracefully, then by force), stop the broker, free. */
EC_API void ec_master_free(ec_master *m);

/* The context names a target stands for in the master's configuration, as the command's
 * TARGET: a context name; or a comma-separated list of context names, groups (the
 * config's `groups:`) and globs (fnmatch: `web*`, `db[12]`) over the names of the
 * contexts the file defines. Expanded in order, each name once. *names: a malloc'd
 * NULL-terminated array (free() it) of names that live as long as the master. A name
 * that is none of these, or a glob that matches nothing, is EC_ENOTFOUND with the
 * configuration file as where; an empty item EC_EINVAL. Any thread. */
EC_API int ec_master_expand_target(ec_master *m, const char *target, const char ***names,
                                   struct ec_error *err);
/* The configuration's `forks:`, how many contexts the command runs at once (default 20). */
EC_API int ec_master_forks(const ec_master *m);

/* ---- secrets ------------------------------------------------------------------ */

/* A password a transport needs and the context's configuration does not give
 * (password_env, password_file): ssh's login password, sudo's. Filled by the library. */
struct ec_secret_request {
	size_t size;         /* sizeof(struct ec_secret_request) as the library was built */
	const char *context; /* the context being connected, e.g. "web1-root" */
	const char *prompt;  /* to show as is: "deploy@web1's password: ",
	                      * "[sudo] password for deploy on web1: " */
};

/* Put the answer in buf (cap bytes, NUL-terminated) and return 0, or return a negative
 * EC_E* to decline (EC_EAUTH: no answer; the context then fails with "no password was
 * given"). Runs on the application thread that waits in ec_context_connect for that
 * context, never on the broker thread, with no library lock held: it may block, e.g. on
 * a terminal. The library wipes buf afterwards; wipe any copy of your own. */
typedef int (*ec_secret_fn)(void *data, const struct ec_secret_request *req, char *buf,
                            size_t cap);

/* Let transports ask the application for passwords through fn (NULL: never, the
 * default; a password that is needed and not configured is then an error). A question
 * is asked once per key -- ssh: user, host and port; sudo: the host and the user whose
 * password sudo wants -- and its answer reused by every context that needs it, for the
 * master's lifetime; a refused answer (wrong password) is forgotten, so the next context
 * asks again. While a context waits for an answer its connect timeout is paused.
 * Answers are wiped when dropped and at ec_master_free. Any thread. */
EC_API void ec_master_set_secret_prompt(ec_master *m, ec_secret_fn fn, void *data);

/* ---- contexts ---------------------------------------------------------------- */

/* Start the context `name` from the config. overrides: NULL-terminated "key=value"
 * strings applied over its section (as `econtext -o`), may be NULL. A name the config
 * does not define is an ad hoc context when overrides include "transport=...". Blocks until the
 * context is ready or timeout_ms (<= 0: the context's own connect timeout) passes. */
EC_API int ec_context_connect(ec_master *m, const char *name, const char *const *overrides,
                              int timeout_ms, ec_context **out, struct ec_error *err);
/* Start connecting and return at once with a pending connect: the interpreter starts
 * while this thread builds its payload (a few ms); the boot goes on in the broker. One
 * thread may start a hundred this way and wait for them with ec_select_wait. A
 * configuration error returns here; a boot's errors come from the wait. */
EC_API int ec_context_connect_async(ec_master *m, const char *name,
                                    const char *const *overrides, int timeout_ms,
                                    ec_connect **out, struct ec_error *err);
/* Wait for a pending connect: 0 with *ctx set (the caller shuts it down), or the boot's
 * error, as ec_context_connect gives them. A password the transport needs is asked of
 * the application on this thread. timeout_ms <= 0: until the connect's own deadline;
 * EC_ETIMEDOUT before it leaves the connect pending: wait again or free it. Once a
 * result was returned, waiting again is EC_EINVAL. */
EC_API int ec_connect_wait(ec_connect *c, int timeout_ms, ec_context **ctx,
                           struct ec_error *err);
/* The context name it connects. */
EC_API const char *ec_connect_name(const ec_connect *c);
/* For an invited context (`transport: tls` with no `via`, docs/tls.md): the one-line
 * shell command that makes the machine that runs it this context, NUL-terminated in
 * buf. It holds a one-time token: a credential until used or until the connect's
 * deadline, which is its validity. EC_ENOTFOUND when the context's transport gives
 * none; EC_EINVAL when buf is too small or the connect has ended. */
EC_API int ec_connect_invitation(ec_connect *c, char *buf, size_t cap, struct ec_error *err);
/* Free it. A context still booting, or up and not handed out by a wait, is shut down
 * (this waits for it to go). Free pending connects before their master. NULL: no-op. */
EC_API void ec_connect_free(ec_connect *c);
EC_API const char *ec_context_name(const ec_context *ctx);
/* Version of the remote interpreter ("3.11.7"), borrowed. */
EC_API const char *ec_context_python_version(const ec_context *ctx);
/* Seconds from spawning the transport to the context's hello. */
EC_API double ec_context_boot_seconds(const ec_context *ctx);
/* Process id of the context (the re-executed interpreter). */
EC_API long ec_context_pid(const ec_context *ctx);

/* Call module.qualname(*args, **kwargs) in the context. qualname is "func" or
 * "Class.func". args is a tuple or list (or NULL), kwargs a dict with text keys (or
 * NULL). On success *result is set (caller frees). A remote exception returns
 * EC_EREMOTE with *result set to the EC_T_ERROR value. timeout_ms <= 0: no deadline. */
EC_API int ec_context_call(ec_context *ctx, const char *module, const char *qualname,
                           const ec_value *args, const ec_value *kwargs, int timeout_ms,
                           ec_value **result, struct ec_error *err);
/* Start a call and return at once; wait for it with ec_call_wait. */
EC_API int ec_context_call_async(ec_context *ctx, const char *module, const char *qualname,
                                 const ec_value *args, const ec_value *kwargs, ec_call **out,
                                 struct ec_error *err);
/* Wait for an asynchronous call (same results as ec_context_call). A timeout leaves the
 * call pending: wait again or free it. Once a result was returned, waiting again is
 * EC_EINVAL. */
EC_API int ec_call_wait(ec_call *call, int timeout_ms, ec_value **result, struct ec_error *err);
/* Cancel a call, from any thread. One not yet started in its context never runs; a
 * running one is interrupted there: econtext.CallCancelled (a BaseException) is raised
 * in the function, also out of a sleep or a blocking read, and the context goes on
 * with its next call at once. Its wait then returns EC_ECANCELED (or its result, if
 * that came first). What cannot be interrupted: code that catches BaseException and
 * carries on, and C code that holds the GIL (a long regular expression, a blocking call
 * in an extension that does not check for signals); the call then ends when that code
 * returns, and its reply is the cancel error if it raised, its result if not (docs/
 * protocol.md, CANCEL). 0, also for a call that already finished (nothing is sent). */
EC_API int ec_call_cancel(ec_call *call);
/* Forget a call; a reply that arrives later is dropped. A call still pending is
 * cancelled in its context (ec_call_cancel): ec_context_call does so when its deadline
 * passes, so a call the caller gave up on does not hold the context. NULL: no-op. */
EC_API void ec_call_free(ec_call *call);

/* Channels: values streamed both ways while a function runs. Open one on a context,
 * pass ec_value_channel(ch) to the function as an argument (any position, keyword
 * too): there it is an object with send(value), close(), is_open() (false once the
 * master closed it), get(timeout) and iteration over what the master sends. Each
 * direction has a window of unacknowledged bytes (4 MiB): a sender waits once it is
 * full, so neither side's memory grows with a slow reader. The end of a channel is a
 * distinct result: EC_EEOF once the context closed it (after what it sent before), or
 * EC_ECLOSED with the reason once the context is gone; the function returning closes
 * the channels it was passed. Any thread; free channels before their context. */
EC_API int ec_channel_new(ec_context *ctx, ec_channel **out, struct ec_error *err);
/* The argument that names the channel (an EC_T_TAGGED "channel" value; caller frees). */
EC_API ec_value *ec_value_channel(const ec_channel *ch);
/* Send a value, waiting up to timeout_ms (<= 0: no deadline) while the window is full. */
EC_API int ec_channel_send(ec_channel *ch, const ec_value *v, int timeout_ms,
                           struct ec_error *err);
/* Take the next value the context sent, waiting up to timeout_ms (<= 0: no deadline):
 * 0 with *out, EC_ETIMEDOUT, EC_EEOF or EC_ECLOSED (the end). */
EC_API int ec_channel_recv(ec_channel *ch, int timeout_ms, ec_value **out,
                           struct ec_error *err);
/* No more from the master: the context's is_open() turns false, its get() ends. What
 * the context still sends can be received. */
EC_API int ec_channel_close(ec_channel *ch, struct ec_error *err);
/* Close and free. NULL: no-op. */
EC_API void ec_channel_free(ec_channel *ch);

/* A select: one wait over pending calls, connects and channels of any contexts of one master.
 * Each added item carries a tag; a wait returns the tags of those that are ready (a
 * call answered, failed or cancelled; a connect up or failed), each once, after which
 * the item is no longer in the select (wait on it to take its result). A wake-up costs
 * what is ready, not the number waited on. One thread waits on a select at a time; an
 * item is in one select at a time. Freeing an item takes it out. */
EC_API int ec_select_new(ec_master *m, ec_select **out, struct ec_error *err);
EC_API int ec_select_add_call(ec_select *s, ec_call *call, void *tag, struct ec_error *err);
EC_API int ec_select_add_connect(ec_select *s, ec_connect *c, void *tag,
                                 struct ec_error *err);
/* Ready when a value can be taken (ec_channel_recv) or the channel ended. */
EC_API int ec_select_add_channel(ec_select *s, ec_channel *ch, void *tag, struct ec_error *err);
/* Wait up to timeout_ms (<= 0: no deadline) for at least one item: up to max tags into
 * tags, *n how many. 0, EC_ETIMEDOUT (*n 0), or EC_ENOTFOUND when nothing is left to
 * wait for. A pending connect that needs a password asks it on this thread. */
EC_API int ec_select_wait(ec_select *s, int timeout_ms, void **tags, size_t max, size_t *n,
                          struct ec_error *err);
/* Items still in the select (added, not yet returned). */
EC_API size_t ec_select_count(const ec_select *s);
/* Free it; its items stay as they are, in no select. NULL: no-op. */
EC_API void ec_select_free(ec_select *s);

/* ---- file transfer ------------------------------------------------------------- */

/* Options of ec_context_put and ec_context_get; zero-initialise, set .size. NULL: all
 * defaults. */
struct ec_transfer_options {
	size_t size;     /* sizeof(struct ec_transfer_options) */
	int set_mode;    /* nonzero: the written file gets mode, not the source's */
	unsigned mode;   /* permission bits (07777) when set_mode */
	int timeout_ms;  /* longest wait for the other side at any one step; <= 0: none */
	/* Called on the calling thread as bytes go (done, of total); nonzero cancels the
	 * transfer (EC_ECANCELED, nothing left behind). NULL: none. From it (and from
	 * progress_dest), a call, a wait (for a call, on an empty channel) or a transfer
	 * on a context of this transfer is EC_EINVAL: that context waits for this thread. */
	int (*progress)(void *arg, uint64_t done, uint64_t total);
	void *progress_arg;
	/* The written files' owner and group, names or numbers; NULL: the writer's user's.
	 * put: resolved in the context (which must be allowed to: root, or sudo), and a
	 * target with another owner or group is sent again; get: resolved and set here
	 * (the master must be allowed to). */
	const char *owner, *group;
	/* Per destination progress (read only when size covers it: callers built with
	 * an older header keep working). Called on the calling thread, with progress_arg,
	 * as bytes go, before progress: index is the destination's place in ctxs (0 for
	 * ec_context_put, ec_context_get and ec_context_get_tree), done the bytes that
	 * destination has: for a put, what its context acknowledged through the channel's
	 * window (taken by the context's writer, so written or being written, not merely
	 * read here), called after each chunk for every destination still taking chunks,
	 * and once more with done == total when its file is in place; for a get, what was
	 * written here. total is the file's size (0 for a get, and for the tree forms,
	 * whose done sums each destination's files). A destination the file is not sent to
	 * (already the same) or one that failed is not called (again). Nonzero cancels the
	 * whole transfer as progress does. NULL: none. */
	int (*progress_dest)(void *arg, size_t index, uint64_t done, uint64_t total);
};

struct ec_transfer_result {
	int changed;       /* 0: put found the target already the same; nothing was sent */
	uint64_t size;     /* the file's size */
	uint64_t bytes;    /* bytes sent (0 when unchanged) */
	double seconds;
	char sha256[65];   /* hex SHA-256 of the file, checked on both sides */
};

/* Copy the local file local_path to remote_path in the context, streamed on a channel
 * (the window bounds memory on both sides). The context writes a temporary file beside
 * the target (0600), checks its size and SHA-256 against what the master read, fsyncs
 * it, sets its mode (the source's, or o->mode) and mtime (the source's), renames it over
 * the target and fsyncs the directory; any error, a cancel or a lost context leaves the
 * target as it was and no temporary file. A target with the same size, SHA-256 and
 * mode is left alone and nothing is sent (res->changed 0). Errors name the context and
 * the path: a local one EC_ESYS, a remote one (missing directory, permission, no space,
 * read-only, a directory where a file was expected) EC_EREMOTE. res may be NULL. */
EC_API int ec_context_put(ec_context *ctx, const char *local_path, const char *remote_path,
                          const struct ec_transfer_options *o, struct ec_transfer_result *res,
                          struct ec_error *err);
/* ec_context_put to n contexts at once (of one master), the local file read once: each
 * context's target checked (all at once), then the file streamed to every context
 * that needs it, chunk by chunk (the slowest sets the pace). res and errs: arrays of
 * n (either may be NULL), one result and error per context. Returns 0 when all
 * succeeded, else the first failure's code. */
EC_API int ec_context_put_many(ec_context *const *ctxs, size_t n, const char *local_path,
                               const char *remote_path, const struct ec_transfer_options *o,
                               struct ec_transfer_result *res, struct ec_error *errs);
/* A local directory tree to remote_dir in n contexts at once: directories made (their
 * modes and mtimes kept, set once filled; o->owner, o->group given to them and to
 * links), regular files put as ec_context_put_many does (each read once, skipped
 * when the same), symbolic links made as links (never followed), other kinds left out.
 * res[i] sums context i's files (changed: anything made or sent); errs[i] its first
 * error, after which that context is left out. Either array may be NULL. Files of the
 * target that the tree lacks are left alone. */
EC_API int ec_context_put_tree(ec_context *const *ctxs, size_t n, const char *local_dir,
                               const char *remote_dir, const struct ec_transfer_options *o,
                               struct ec_transfer_result *res, struct ec_error *errs);
/* Copy remote_path in the context to local_path, written the same way here (temporary
 * file, unnamed where the filesystem allows (O_TMPFILE), checked, fsynced, renamed; mode
 * and mtime kept, or o->mode; o->owner, o->group set). A local file with the same
 * size, SHA-256 and mode (and the owner and group asked for) is left alone and nothing
 * is sent (res->changed 0). */
EC_API int ec_context_get(ec_context *ctx, const char *remote_path, const char *local_path,
                          const struct ec_transfer_options *o, struct ec_transfer_result *res,
                          struct ec_error *err);
/* The directory tree remote_dir of the context to local_dir (made if missing): the
 * context lists it in batches as the copy goes (econtext._walk_next: bounded memory on
 * both sides, any number of entries), directories are made (their modes and mtimes set
 * once filled), regular files got as ec_context_get does (o->mode applies to them;
 * skipped when the same), o->owner and o->group given to all, symbolic links made as links with the same target, never followed on either
 * side; other kinds left out; names are bytes (any but '/' and NUL). A name that would
 * lead out of local_dir (.., through a link) is an EC_EPROTO error. Files of local_dir
 * the tree lacks are left alone. res sums the files (changed: anything made or got; no
 * sha256). The first error stops it. */
EC_API int ec_context_get_tree(ec_context *ctx, const char *remote_dir, const char *local_dir,
                               const struct ec_transfer_options *o,
                               struct ec_transfer_result *res, struct ec_error *err);

/* Ask the context to exit, wait up to timeout_ms for it to go, then disconnect by force.
 * The handle is freed. Pending calls fail with EC_ECLOSED. NULL is a no-op. */
EC_API int ec_context_shutdown(ec_context *ctx, int timeout_ms, struct ec_error *err);

#ifdef __cplusplus
}
#endif
#endif
