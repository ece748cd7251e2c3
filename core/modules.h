/* modules.h: the module server (docs/protocol.md §3, GET_MODULE and LOAD_MODULE).
 * Finds Python sources along the module path (config `module_path:`, `-m DIR`), never
 * outside it (unless module_path_follow_symlinks), answers with the module, its
 * package's children and, pipelined in the same reply, the modules its import
 * statements name (found by modscan.c) that this context was not sent yet (unless
 * predict_imports is off). Every lookup is cached; negative answers in an LRU of
 * bounded size. GET_MODULE is answered on the server's own thread, not the broker's,
 * so reading and compressing a big file stalls no other context.
 *
 * The interface the rest of the core uses; modsrv.c implements it over modcache.c (the
 * caches) and modpath.c (lookups along the path). */
#ifndef EC_CORE_MODULES_H
#define EC_CORE_MODULES_H

#include <stddef.h>

#include "econtext.h"
#include "modcache.h" /* struct ec_module, EC_MODSRV_MAX_ABSENT, EC_SCRIPT_MODULE */
#include "modscan.h"
#include "strv.h"

struct ec_buf;
struct ec_loaded_plugin;
struct ec_logger;

struct ec_modsrv;

/* A server over dirs (NULL-terminated, may be NULL; missing dirs are skipped) and an
 * optional script file served as EC_SCRIPT_MODULE (its directory is searched last). */
int ec__modsrv_new(const char *const *dirs, const char *script, struct ec_modsrv **out,
                   struct ec_error *err);
void ec__modsrv_free(struct ec_modsrv *s);
/* Options (before the first lookup): predict (0: answer only the module asked for and
 * its unsent parents), follow_symlinks (1: serve files that symlinks in a module path
 * directory lead to, even outside it), max_absent (bound of the negative cache; 0:
 * EC_MODSRV_MAX_ABSENT). */
void ec__modsrv_configure(struct ec_modsrv *s, int predict, int follow_symlinks,
                          size_t max_absent);
/* Cached records: all of them, and the ABSENT ones. */
void ec__modsrv_cache_counts(struct ec_modsrv *s, size_t *total, size_t *absent);
/* Stop the server's thread (pending GET_MODULE are dropped). Before the broker stops. */
void ec__modsrv_stop(struct ec_modsrv *s);
/* Number of directories searched (0: nothing to serve). */
size_t ec__modsrv_ndirs(const struct ec_modsrv *s);
/* Look a dotted name up (cached). *out stays valid until the server is freed, except
 * an EC_MOD_ABSENT record, which a later lookup may evict. Fails only when out of
 * memory; an unknown or invalid name is an EC_MOD_ABSENT module. */
int ec__modsrv_lookup(struct ec_modsrv *s, const char *name, const struct ec_module **out,
                      struct ec_error *err);
/* The top-level names the path offers (modules, packages, extension modules, and the
 * script), sorted, NULL-terminated, malloc'd (free with ec__strv_free). */
int ec__modsrv_toplevel(struct ec_modsrv *s, char ***out, size_t *n, struct ec_error *err);
/* The LOAD_MODULE payload for a GET_MODULE of name from context ctx_id: the tuple
 * (name, [entry, ...]) of docs/protocol.md §3. The requested module comes first, then
 * its parents and the modules they import, transitively, that exist on the path and
 * were not sent to that context yet, until about budget bytes of compressed source.
 * *count is the number of entries. */
int ec__modsrv_answer(struct ec_modsrv *s, unsigned ctx_id, const char *name, size_t budget,
                      ec_value **out, size_t *count, struct ec_error *err);
/* Drop what was recorded as sent to a context (queued behind its pending GET_MODULE
 * when the server's thread runs). */
void ec__modsrv_forget(struct ec_modsrv *s, unsigned ctx_id);

/* Where the server's answers go (set once, before the first request): the codec that
 * encodes them, the log, the message limit, and deliver, called on the server's
 * thread, which queues a LOAD_MODULE payload on context ctx_id if it is still ready
 * and wakes the loop (it takes *payload; NULL: no answer could be built for lack of
 * memory, and the context, waiting for it, is ended with EC_ENOMEM). The server knows
 * no context. */
struct ec_modsrv_sink {
	const struct ec_loaded_plugin *codec;
	const struct ec_logger *logger;
	size_t max_message;
	void (*deliver)(void *arg, unsigned ctx_id, struct ec_buf *payload);
	void *arg;
};
void ec__modsrv_set_sink(struct ec_modsrv *s, const struct ec_modsrv_sink *sink);
/* A GET_MODULE of name from context ctx_id (ctx_name and python_major for messages and
 * the codec; codec: the context's, NULL for the sink's), handed to the server's thread
 * (started on first use), which builds and encodes the LOAD_MODULE and gives it to the
 * sink. The loop's thread. 0, EC_ENOMEM, EC_ECLOSED when the server is stopped, or
 * EC_EPROTO when ctx_id has ec__modsrv_ctx_jobs_max() requests waiting already (a
 * context flooding the server). The queue is bounded so: a context imports one module
 * at a time. */
int ec__modsrv_request(struct ec_modsrv *s, unsigned ctx_id, const char *ctx_name,
                       int python_major, const struct ec_loaded_plugin *codec,
                       const char *name);
int ec__modsrv_ctx_jobs_max(void);

#endif
