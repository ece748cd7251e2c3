/* connect.c: ec_context_connect: a context created, handed to the loop, its payload
 * built while its interpreter starts (key, MACs, the core from the bytecode cache, a
 * direct boot's entry or a live context of the same name), then waited for (asking
 * the application for a password on the way); after the boot, what it tells us kept
 * for the next one (cache entries). Application threads. */
#include "ecbuild.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "clock.h"
#include "codecache.h"
#include "codeshare.h"
#include "connect.h"
#include "context.h"
#include "direct.h"
#include "econtext/codec.h"
#include "error.h"
#include "modules.h"
#include "payload.h"
#include "strv.h"
#include "value.h"

/* ---- the core's bytecode shared in memory ------------------------------------------
 * A context the disk cache is not for (ssh, sudo via ssh: its interpreter is another
 * machine's or another user's) compiles the core from source at every boot: 11-18 ms
 * of a fresh interpreter here. A second context of the same name and overrides (the
 * same host, user and python) takes the code object a live one compiled instead: the
 * master asks an idle one for it (econtext.core_code, while the new interpreter
 * starts) and keeps it for the next (core/codeshare.h). Bytecode runs whatever it
 * says, so it only goes to contexts of the description that made it; it lives in
 * memory only. */

/* The name and overrides as one string (NUL-separated: no value holds a NUL). */
static char *share_key_of(const char *name, const char *const *overrides)
{
	struct ec_buf b;
	ec__buf_init(&b);
	int rc = ec__buf_append(&b, name, strlen(name) + 1);
	for (size_t i = 0; overrides && overrides[i] && !rc; i++)
		rc = ec__buf_append(&b, overrides[i], strlen(overrides[i]) + 1);
	for (size_t i = 0; i < b.len && !rc; i++)
		if (!b.data[i])
			b.data[i] = '\n';
	rc = rc ? rc : ec__buf_append(&b, "", 1);
	if (rc) {
		ec__buf_free(&b);
		return NULL;
	}
	return (char *)b.data;
}

/* For a live context's bytecode, while ours starts (the stream is needed only once
 * the new interpreter is up: a slow link costs the wait beyond that). */
#define SHARE_WAIT_MS 100

/* Append the shared bytecode for ctx to code: from memory, or from a live context of
 * the same key. 0 when there is some. */
static int share_get(struct ec_context *ctx, struct ec_buf *code)
{
	ec_master *m = ctx->m;
	if (!ctx->share_key)
		return -1;
	pthread_mutex_lock(&m->lock);
	if (ec__codeshare_get(&m->code_shares, ctx->share_key, code) == 0) {
		pthread_mutex_unlock(&m->lock);
		return 0;
	}
	struct ec_context *peer = NULL;
	for (struct ec_context *c = m->contexts; c && !peer; c = c->master_next)
		if (c != ctx && c->share_key && c->st.state == EC_STREAM_READY &&
		    !c->shutdown_requested && !c->calls.list && !strcmp(c->share_key, ctx->share_key))
			peer = c; /* idle: its main thread answers at once */
	struct ec_msg *msg = peer ? calloc(1, sizeof(*msg)) : NULL;
	struct ec_call *call = NULL;
	int rc = msg ? ec__call_new(m, peer->name, &call, NULL) : -1;
	if (!rc && (ec__context_encode_call(peer, "econtext", "core_code", NULL, NULL,
	                                    &msg->payload, NULL) ||
	            ec__context_queue_call(peer, msg, call, NULL))) {
		ec__buf_free(&msg->payload);
		ec__call_discard(call);
		rc = -1;
	}
	if (rc)
		free(msg);
	pthread_mutex_unlock(&m->lock);
	if (rc)
		return -1;
	ec__broker_wake(m->broker);
	ec_value *res = NULL;
	rc = ec_call_wait(call, SHARE_WAIT_MS, &res, NULL);
	ec_call_free(call);
	struct ec_buf packed;
	ec__buf_init(&packed);
	if (rc || !res || res->type != EC_T_BYTES ||
	    ec__codecache_pack((const unsigned char *)res->u.s.data, res->u.s.len, 6, &packed) ||
	    ec__buf_append(code, packed.data, packed.len)) {
		ec_value_free(res);
		ec__buf_free(&packed);
		return -1;
	}
	ec_value_free(res);
	pthread_mutex_lock(&m->lock);
	ec__codeshare_put(&m->code_shares, ctx->share_key, &packed);
	pthread_mutex_unlock(&m->lock);
	ec__buf_free(&packed);
	return 0;
}

/* The shared bytecode of ctx's key was refused (another Python): forget it. */
static void share_drop(struct ec_context *ctx)
{
	if (ctx->share_key)
		ec__codeshare_drop(&ctx->m->code_shares, ctx->share_key);
}


struct ec_cache_fill {
	char name[EC_CODECACHE_NAME_MAX];
	struct ec_cache_fill *next;
};

struct cache_use {
	int read;     /* may boot from the cache */
	int shared;   /* the hit is from memory (another context of the same name) */
	char name[EC_CODECACHE_NAME_MAX];
	int hit;      /* the stream carries the cached core */
	int may_fill; /* the transport runs the interpreter here as the master's user */
	int fill;     /* a miss to fill once the context is up */
	/* Direct boots (core/direct.h): may boot directly; did; its entry; a first-stage
	 * boot whose facts to keep once the context is up. */
	int direct_ok, direct;
	char direct_entry[EC_CODECACHE_NAME_MAX];
	int boot_fill;
};

/* A direct boot is for a context whose only layer runs the interpreter here as the
 * master's user and can adopt it (ec_transport_ops.adopt), with the cache on. */
static const char *direct_python(const struct ec_context *ctx)
{
	const struct ec_transport_ops *o = ctx->top_ops;
	const char *python = NULL;
	if (ctx->has_below ||
	    o->size < offsetof(struct ec_transport_ops, adopt) + sizeof(o->adopt) || !o->adopt ||
	    o->runs != EC_RUNS_HERE_AS_MASTER || !ec__config_code_cache(ctx->m->config) ||
	    ec__cfg_str(ctx->cfg, "python", &python))
		return NULL;
	return python;
}

/* After a first-stage boot that may boot directly next time: keep what the first stage
 * found (econtext.boot_info), as the bytecode is kept. Failure costs the next boot only
 * its speed. */
static void boot_entry_fill(struct ec_context *ctx, const char *python)
{
	char name[EC_CODECACHE_NAME_MAX], path[PATH_MAX], why[512] = "";
	if (ec__direct_name(python, name, path))
		return;
	ec_value *res = NULL;
	struct ec_error e = {0};
	int rc = ec_context_call(ctx, "econtext", "boot_info", NULL, NULL, 10000, &res, &e);
	const ec_value *boot = NULL, *home = NULL;
	if (!rc && res && (res->type == EC_T_TUPLE || res->type == EC_T_LIST) &&
	    res->u.seq.len == 2) {
		boot = res->u.seq.items[0];
		home = res->u.seq.items[1];
	}
	if (boot && boot->type == EC_T_STR &&
	    (home->type == EC_T_NONE || home->type == EC_T_BYTES || home->type == EC_T_STR) &&
	    !ec__direct_store(name, boot->u.s.data, boot->u.s.len,
	                      home->type == EC_T_NONE ? NULL : home->u.s.data,
	                      home->type == EC_T_NONE ? 0 : home->u.s.len, why, sizeof(why)))
		ec__log(&ctx->m->logger, EC_LOG_DEBUG, "econtext", ctx->name,
		        "context %s: its next boot may be direct (%s)", ctx->name, name);
	else
		ec__log(&ctx->m->logger, EC_LOG_DEBUG, "econtext", ctx->name,
		        "context %s: no direct boot entry: %s", ctx->name,
		        rc ? e.msg : *why ? why : "not a boot description");
	ec_value_free(res);
}

/* The bytecode cache (core/codecache.h), as the transport says where the interpreter
 * runs (ec_transport_ops.runs). As the master's user on this machine, the binary named
 * by `python` is the one that runs and what it compiles can be trusted: it reads and
 * fills. As another user on this machine (sudo) it may only read, and only with an
 * absolute `python` (that user's PATH may differ): that user's bytecode could reach
 * the master's other contexts, while what the master's user compiled is no more than
 * the master could send it anyway. *fill says which. */
static int code_cache_name(const struct ec_context *ctx, const char *codec_source,
                           char name[EC_CODECACHE_NAME_MAX], int *fill)
{
	const struct ec_transport_ops *o = ctx->top_ops;
	unsigned runs = !ctx->has_below &&
	                        o->size >= offsetof(struct ec_transport_ops, runs) + sizeof(o->runs)
	                    ? o->runs
	                    : 0;
	const char *python = NULL;
	if (!runs || !ec__config_code_cache(ctx->m->config) ||
	    ec__cfg_str(ctx->cfg, "python", &python) || !python ||
	    (runs != EC_RUNS_HERE_AS_MASTER && python[0] != '/'))
		return -1;
	*fill = runs == EC_RUNS_HERE_AS_MASTER;
	if (!ctx->n_remote_layers)
		return ec__codecache_name(python, codec_source, name);
	/* The name covers what the code object holds: the core, the codec's side and the
	 * layers' (tls: a connect-back context's entry is not a plain one's). */
	struct ec_buf all;
	ec__buf_init(&all);
	int rc = ec__buf_append(&all, codec_source, strlen(codec_source));
	for (size_t i = 0; i < ctx->n_remote_layers && !rc; i++) {
		const char *src = ctx->remote_layers[i].source;
		rc = ec__buf_append(&all, "\n", 1);
		rc = rc ? rc : ec__buf_append(&all, src, strlen(src));
	}
	rc = rc || ec__buf_append(&all, "", 1) ? -1
	                                       : ec__codecache_name(python, (const char *)all.data, name);
	ec__buf_free(&all);
	return rc;
}

/* A miss: have the fresh context send the core's code object, which it compiled
 * to boot (marshalling it takes a fraction of a millisecond). Failure only costs
 * the next boot its speed. */
static void code_cache_fill(struct ec_context *ctx, const char *name)
{
	ec_value *res = NULL;
	struct ec_error e = {0};
	int rc = ec_context_call(ctx, "econtext", "core_code", NULL, NULL, 10000, &res, &e);
	char why[512] = "";
	if (!rc && res && res->type == EC_T_BYTES &&
	    !ec__codecache_store(name, (const unsigned char *)res->u.s.data, res->u.s.len, why,
	                         sizeof(why)))
		ec__log(&ctx->m->logger, EC_LOG_DEBUG, "econtext", ctx->name,
		        "context %s: core bytecode kept in the cache as %s", ctx->name, name);
	else
		ec__log(&ctx->m->logger, EC_LOG_DEBUG, "econtext", ctx->name,
		        "context %s: core bytecode not cached: %s", ctx->name,
		        rc ? e.msg : *why ? why : "not bytes");
	ec_value_free(res);
}

/* Append to src a plugin's context side as the boot carries it, packed once per master
 * under key (the codec's name; "layer:" and a transport's). */
static int packed_src(ec_master *m, const char *key, const char *source, struct ec_buf *src)
{
	pthread_mutex_lock(&m->lock);
	int rc = 0;
	if (ec__codeshare_get(&m->codec_srcs, key, src)) {
		struct ec_buf made;
		ec__buf_init(&made);
		rc = ec__payload_codec_pack(source, &made);
		rc = rc ? rc : ec__buf_append(src, made.data, made.len);
		if (!rc)
			ec__codeshare_put(&m->codec_srcs, key, &made);
		ec__buf_free(&made);
	}
	pthread_mutex_unlock(&m->lock);
	return rc;
}

/* Into src, the codec's context side, then its layers' (set with boot_words, before
 * words_ready), as the boot carries them after the core. */
static int codec_src(const struct ec_context *ctx, const struct ec_loaded_plugin *codec,
                     struct ec_buf *src)
{
	const struct ec_codec_ops *ops = codec->desc->ops;
	int rc = packed_src(ctx->m, codec->desc->name, ops->remote_source, src);
	for (size_t i = 0; i < ctx->n_remote_layers && !rc; i++) {
		char key[128];
		snprintf(key, sizeof(key), "layer:%s", ctx->remote_layers[i].name);
		rc = packed_src(ctx->m, key, ctx->remote_layers[i].source, src);
	}
	return rc;
}

/* The stream (docs/protocol.md 1) for ctx: the key, the MACs and the payload with the
 * core, from the bytecode cache where it has it, into the caller's mac_in, mac_out and
 * stream (for a direct boot, prog and code instead). Runs while the interpreter starts: OpenSSL's first use (~2 ms of provider
 * set-up) and the cache's file read cost the boot nothing then. */
static int build_stream(struct ec_context *ctx, struct ec_frame_mac *mac_in,
                        struct ec_frame_mac *mac_out, struct ec_buf *stream,
                        struct ec_buf *prog, struct ec_buf *code, struct cache_use *cache,
                        struct ec_error *err)
{
	ec_master *m = ctx->m;
	unsigned char key[EC_FRAME_KEY_LEN];
	/* The kernel's CSPRNG: OpenSSL's DRBG would cost ~2 ms of set-up in a short-lived
	 * master for the same quality. */
	if (getrandom(key, sizeof(key), 0) != (ssize_t)sizeof(key) &&
	    RAND_bytes(key, sizeof(key)) != 1)
		return ec__error_set(err, EC_ESYS, ctx->name,
		                     "cannot draw a random key (getrandom, RAND_bytes)");
	int rc = ec__frame_mac_init(mac_out, key, EC_FRAME_DIR_MASTER);
	rc = rc ? rc : ec__frame_mac_init(mac_in, key, EC_FRAME_DIR_CONTEXT);
	/* The names the module server offers: the context's importer asks for no other. */
	char **toplevel = NULL;
	size_t ntop = 0;
	if (!rc && ec__modsrv_ndirs(m->modules) &&
	    ec__modsrv_toplevel(m->modules, &toplevel, &ntop, NULL))
		rc = EC_ENOMEM;
	/* The layers' words, NUL-terminated (their room was reserved: no realloc). */
	if (!rc && ctx->boot_words.len && ec__buf_append(&ctx->boot_words, "", 1))
		rc = EC_ENOMEM;
	struct ec_payload_config pc = {
		.name = ctx->name,
		.key = key,
		.log_level = m->logger.level,
		.max_message = m->max_message,
		.codec = ec__codec_ops(ctx->codec)->remote_name,
		.context_id = ctx->id,
		.modules = toplevel,
		/* set by the loop before start_tried (words_ready), untouched since */
		.layers = ctx->boot_words.len ? (const char *)ctx->boot_words.data : NULL,
	};
	const struct ec_loaded_plugin *codec = ctx->codec;
	const char *codec_source = ((const struct ec_codec_ops *)codec->desc->ops)->remote_source;
	struct ec_buf cached, csrc;
	ec__buf_init(&cached);
	ec__buf_init(&csrc);
	if (!rc && code_cache_name(ctx, codec_source, cache->name, &cache->may_fill) == 0) {
		if (cache->read && ec__codecache_load(cache->name, &cached) == 0) {
			cache->hit = 1;
			pc.code = cached.data;
			pc.code_len = cached.len;
			ec__log(&m->logger, EC_LOG_DEBUG, "econtext", ctx->name,
			        "context %s: core from the bytecode cache (%s)", ctx->name, cache->name);
		} else {
			cache->fill = cache->may_fill;
		}
	} else if (!rc && cache->read && ec__config_code_cache(m->config) &&
	           share_get(ctx, &cached) == 0) {
		cache->hit = cache->shared = 1;
		pc.code = cached.data;
		pc.code_len = cached.len;
		ec__log(&m->logger, EC_LOG_DEBUG, "econtext", ctx->name,
		        "context %s: core bytecode shared by a context of the same name", ctx->name);
	}
	if (!rc && !pc.code && !(rc = codec_src(ctx, codec, &csrc))) {
		pc.codec_src = csrc.data;
		pc.codec_src_len = csrc.len;
	}
	rc = rc ? ec__error_set(err, rc, ctx->name, "out of memory")
	     : cache->direct ? ec__payload_direct(&pc, prog, code, err)
	                     : ec__payload_stream(&pc, stream, err);
	OPENSSL_cleanse(key, sizeof(key));
	ec__buf_free(&cached);
	ec__buf_free(&csrc);
	ec__strv_free(toplevel);
	return rc;
}

/* A connect in progress (ec_context_connect_async): one attempt at a time, the second
 * (through the first stage, from source) after a refused cache entry or a failed direct
 * boot. Driven by step() on whichever application thread waits for it (ec_connect_wait,
 * ec_select_wait): that thread asks the application for a password, fills the caches
 * and hands the context out. */
struct ec_connect {
	ec_master *m;
	char *name;
	char **overrides; /* NULL-terminated copies, or NULL */
	int timeout_ms;
	int attempt;      /* 1, or 2 */
	struct cache_use cache;
	struct ec_context *ctx; /* the attempt's, until handed out (or freed on failure) */
	int done, rc, delivered;
	struct ec_error err;
	ec_context *result;
	struct ec_cache_fill fill; /* on m->cache_fills while this connect fills an entry */
	struct ec_watch watch;
	int build_pending; /* its stream waits for the layers' boot words (words_ready) */
};

static void build_install(struct ec_connect *c);

/* Start an attempt: the context created and handed to the loop, its payload built here
 * while its interpreter starts. Unlocked; 0, or the error that ends the connect. */
static int attempt_start(struct ec_connect *c, struct ec_error *err)
{
	ec_master *m = c->m;
	struct cache_use *cache = &c->cache;
	*cache = (struct cache_use){.read = c->attempt == 1};
	struct ec_context *ctx = NULL;
	/* Under the lock: plugins load on demand into the master's shared registry. */
	pthread_mutex_lock(&m->lock);
	int rc = ec__context_new(m, c->name, (const char *const *)c->overrides, &ctx, err);
	if (rc) {
		if (ctx)
			ec__context_free(ctx);
		pthread_mutex_unlock(&m->lock);
		return rc;
	}
	/* NULL (no memory): no sharing */
	ctx->share_key = share_key_of(c->name, (const char *const *)c->overrides);
	long connect_ms = 30000;
	ec__cfg_ms(ctx->cfg, "connect_timeout", &connect_ms);
	if (c->timeout_ms > 0)
		connect_ms = c->timeout_ms;
	ctx->connect_ms = connect_ms;
	ctx->boot_deadline = ec__now_ms() + connect_ms;
	const char *direct_py = direct_python(ctx);
	if (direct_py && cache->read && (ctx->st.direct = ec__direct_new(direct_py))) {
		cache->direct = ctx->direct_boot = 1;
		memcpy(cache->direct_entry, ctx->st.direct->entry, sizeof(cache->direct_entry));
	} else if (direct_py) {
		cache->boot_fill = 1;
	}
	c->ctx = ctx;
	ctx->watch = &c->watch;
	/* Start the interpreter first, build its stream while it starts (build_stream). */
	ctx->st.pending = 1;
	ec__context_attach(ctx);
	/* Let the broker start it before this thread takes the CPU for a few ms: woken on
	 * this thread's vCPU, the broker would otherwise wait for it. */
	while (!ctx->start_tried && ctx->st.state != EC_STREAM_DEAD)
		pthread_cond_wait(&ctx->cond, &m->lock);
	/* A layer's boot words come once its stack has started (an ssh connection, a
	 * password asked on the thread that steps the connect): built then, by step. */
	c->build_pending = ctx->words_late && !ctx->words_ready && ctx->st.state != EC_STREAM_DEAD;
	pthread_mutex_unlock(&m->lock);
	if (!c->build_pending)
		build_install(c);
	return 0;
}

/* Build the attempt's stream (build_stream) and hand it to the loop. Unlocked. */
static void build_install(struct ec_connect *c)
{
	ec_master *m = c->m;
	struct ec_context *ctx = c->ctx;
	struct cache_use *cache = &c->cache;
	struct ec_frame_mac mac_in = {0}, mac_out = {0};
	struct ec_buf stream, prog, code;
	ec__buf_init(&stream);
	ec__buf_init(&prog);
	ec__buf_init(&code);
	struct ec_error build_err = {0};
	int rc = build_stream(ctx, &mac_in, &mac_out, &stream, &prog, &code, cache, &build_err);

	pthread_mutex_lock(&m->lock);
	ec__context_words_wipe(ctx);
	ctx->st.pending = 0;
	if (ctx->st.state != EC_STREAM_DEAD) {
		if (rc) {
			ctx->stream_err = build_err; /* the loop closes it (it owns the fds) */
		} else {
			ctx->st.mac_in = mac_in;
			ctx->st.mac_out = mac_out;
			ctx->st.wbuf = stream; /* empty until now: nothing was written */
			mac_in = (struct ec_frame_mac){0};
			mac_out = (struct ec_frame_mac){0};
			ec__buf_init(&stream);
			if (ctx->st.direct) { /* alive: the loop has not fed it yet */
				ctx->st.direct->prog = prog;
				ctx->st.direct->code = code;
				ec__buf_init(&prog);
				ec__buf_init(&code);
			}
		}
		ec__broker_wake(m->broker);
	}
	pthread_mutex_unlock(&m->lock);
	ec__frame_mac_close(&mac_in);
	ec__frame_mac_close(&mac_out);
	ec__buf_free(&stream);
	if (prog.data)
		OPENSSL_cleanse(prog.data, prog.len);
	ec__buf_free(&prog);
	ec__buf_free(&code);
}

static void finish(struct ec_connect *c, int rc, const struct ec_error *err, ec_context *ctx)
{
	c->done = 1;
	c->rc = rc;
	if (err)
		c->err = *err;
	c->result = ctx;
	if (ctx)
		ctx->watch = NULL;
}

/* The attempt's context died (detached): keep what it taught the caches, then end the
 * connect or start the second attempt. m->lock held, released meanwhile. */
static void attempt_failed(struct ec_connect *c)
{
	ec_master *m = c->m;
	struct ec_context *ctx = c->ctx;
	struct cache_use *cache = &c->cache;
	/* Whatever the cause, the next boot of this binary starts from source; but a context
	 * that may only read the cache (sudo) fails for reasons of its own (a password) more
	 * often than not: there only the loader's own refusal drops it. */
	int refused = cache->hit && strstr(ctx->fail.msg, EC_CODECACHE_REFUSAL) != NULL;
	int direct_failed = 0;
	/* A direct boot that did not come up (its entry out of date: a moved installation, a
	 * changed sys.path) is tried again through the first stage; not one that ran out of
	 * time, which would only wait as long again, nor one whose transport could not even
	 * be built (its configuration). */
	if (cache->direct && ctx->fail.code != EC_ETIMEDOUT && !ctx->stack_failed) {
		direct_failed = 1;
		ec__codecache_drop(cache->direct_entry);
	}
	if (cache->shared && refused)
		share_drop(ctx);
	else if (cache->hit && !cache->shared && (cache->may_fill || refused))
		ec__codecache_drop(cache->name);
	struct ec_error why = ctx->fail;
	int rc = why.code ? why.code : EC_EBOOT;
	ctx->watch = NULL;
	ec__context_free(ctx);
	c->ctx = NULL;
	if (c->attempt == 1 && (refused || direct_failed)) {
		/* The binary behind the name is another Python now, or its direct boot failed:
		 * the entry is dropped, and this boot starts again through the first stage, from
		 * source (and fills the entries anew). */
		if (refused)
			ec__log(&m->logger, EC_LOG_INFO, "econtext", c->name,
			        "context %s: the bytecode cache entry was for another Python; "
			        "booting from source", c->name);
		else
			ec__log(&m->logger, EC_LOG_INFO, "econtext", c->name,
			        "context %s: its direct boot failed (%s); booting through the first "
			        "stage", c->name, why.msg);
		c->attempt = 2;
		pthread_mutex_unlock(&m->lock);
		struct ec_error e2 = {0};
		rc = attempt_start(c, &e2);
		pthread_mutex_lock(&m->lock);
		if (rc)
			finish(c, rc, &e2, NULL);
		else if (c->watch.sel)
			ec__watch_notify(&c->watch); /* step it again */
		return;
	}
	finish(c, rc, &why, NULL);
}

/* The attempt's context is up: fill the caches where this connect should, hand it out.
 * m->lock held, released meanwhile. */
static void attempt_ready(struct ec_connect *c)
{
	ec_master *m = c->m;
	struct ec_context *ctx = c->ctx;
	struct cache_use *cache = &c->cache;
	/* One filler per entry: the others booted from source as it did, and go on. */
	for (struct ec_cache_fill *f = m->cache_fills; f && cache->fill; f = f->next)
		if (!strcmp(f->name, cache->name))
			cache->fill = 0;
	if (cache->fill) {
		memcpy(c->fill.name, cache->name, sizeof(c->fill.name));
		c->fill.next = m->cache_fills;
		m->cache_fills = &c->fill;
	}
	ctx->watch = NULL; /* what follows calls it: nothing a select waits for */
	pthread_mutex_unlock(&m->lock);
	if (cache->boot_fill)
		boot_entry_fill(ctx, direct_python(ctx));
	if (cache->fill)
		code_cache_fill(ctx, cache->name);
	pthread_mutex_lock(&m->lock);
	if (cache->fill) {
		struct ec_cache_fill **pp = &m->cache_fills;
		while (*pp != &c->fill)
			pp = &(*pp)->next;
		*pp = c->fill.next;
	}
	c->ctx = NULL;
	finish(c, 0, NULL, ctx);
}

int ec__connect_step(struct ec_connect *c)
{
	ec_master *m = c->m;
	while (!c->done) {
		struct ec_context *ctx = c->ctx;
		if (ctx->st.state == EC_STREAM_READY) {
			attempt_ready(c);
		} else if (ctx->st.state == EC_STREAM_DEAD) {
			if (ctx->attached && !ctx->detached)
				return 0; /* its transport is not gone yet */
			attempt_failed(c);
		} else if (c->build_pending && ctx->words_ready) {
			c->build_pending = 0;
			pthread_mutex_unlock(&m->lock);
			build_install(c);
			pthread_mutex_lock(&m->lock);
		} else if (!ec__secret_serve(&m->secrets, &ctx->asker, &m->lock, m->broker)) {
			return 0; /* a password, asked on this thread; or nothing to do yet */
		}
	}
	return 1;
}

int ec_context_connect_async(ec_master *m, const char *name, const char *const *overrides,
                             int timeout_ms, ec_connect **out, struct ec_error *err)
{
	struct ec_connect *c = calloc(1, sizeof(*c));
	size_t n = 0;
	while (overrides && overrides[n])
		n++;
	if (!c || !(c->name = strdup(name)) || (n && !(c->overrides = calloc(n + 1, sizeof(char *))))) {
		if (c)
			free(c->name);
		free(c);
		return ec__error_set(err, EC_ENOMEM, name, "out of memory");
	}
	for (size_t i = 0; i < n; i++)
		if (!(c->overrides[i] = strdup(overrides[i]))) {
			ec__strv_free(c->overrides);
			free(c->name);
			free(c);
			return ec__error_set(err, EC_ENOMEM, name, "out of memory");
		}
	c->m = m;
	c->timeout_ms = timeout_ms;
	c->attempt = 1;
	c->watch.kind = EC_WATCH_CONNECT;
	int rc = attempt_start(c, err);
	if (rc) {
		ec__strv_free(c->overrides);
		free(c->name);
		free(c);
		return rc;
	}
	*out = c;
	return 0;
}

int ec_connect_wait(ec_connect *c, int timeout_ms, ec_context **out, struct ec_error *err)
{
	ec_master *m = c->m;
	long long deadline = timeout_ms > 0 ? ec__now_ms() + timeout_ms : 0;
	pthread_mutex_lock(&m->lock);
	while (!ec__connect_step(c)) {
		if (ec__cond_wait_until(&c->ctx->cond, &m->lock, deadline) && !ec__connect_step(c)) {
			pthread_mutex_unlock(&m->lock);
			return ec__error_set(err, EC_ETIMEDOUT, c->name,
			                     "context '%s' is not connected yet (waited %.3g s)",
			                     c->name, timeout_ms / 1000.0);
		}
	}
	int rc = c->rc;
	if (c->delivered)
		rc = ec__error_set(err, EC_EINVAL, c->name,
		                   "the result of this connect of '%s' was already returned", c->name);
	else if (rc && err)
		*err = c->err;
	else if (!rc)
		*out = c->result;
	c->delivered = 1;
	pthread_mutex_unlock(&m->lock);
	return rc;
}

struct ec_watch *ec__connect_watch(struct ec_connect *c)
{
	return &c->watch;
}

struct ec_connect *ec__connect_of(struct ec_watch *w)
{
	return container_of(w, struct ec_connect, watch);
}

const char *ec_connect_name(const ec_connect *c)
{
	return c->name;
}

int ec_connect_invitation(ec_connect *c, char *buf, size_t cap, struct ec_error *err)
{
	ec_master *m = c->m;
	pthread_mutex_lock(&m->lock);
	/* attempt_start returned after the loop built the stack (start_tried). */
	const struct ec_context *ctx = c->ctx;
	const char *inv = ctx ? ctx->invitation : NULL;
	size_t n = inv ? strlen(inv) : 0;
	int rc = !ctx ? ec__error_set(err, EC_EINVAL, c->name,
	                              "context '%s': its connect has ended", c->name)
	         : !inv ? ec__error_set(err, EC_ENOTFOUND, c->name,
	                                "context '%s': its transport gives no invitation "
	                                "(transport: tls, without via, does)", c->name)
	         : n >= cap ? ec__error_set(err, EC_EINVAL, c->name,
	                                    "context '%s': the invitation takes %zu bytes", c->name,
	                                    n + 1)
	                    : 0;
	if (!rc)
		memcpy(buf, inv, n + 1);
	pthread_mutex_unlock(&m->lock);
	return rc;
}

void ec_connect_free(ec_connect *c)
{
	if (!c)
		return;
	ec_master *m = c->m;
	pthread_mutex_lock(&m->lock);
	ec__watch_detach(&c->watch);
	/* Given up on: a context still booting, or up but never handed out, goes. */
	struct ec_context *ctx = c->ctx ? c->ctx : (!c->delivered ? c->result : NULL);
	if (ctx)
		ctx->watch = NULL;
	pthread_mutex_unlock(&m->lock);
	if (ctx)
		ec_context_shutdown(ctx, 0, NULL);
	ec__strv_free(c->overrides);
	free(c->name);
	free(c);
}

int ec_context_connect(ec_master *m, const char *name, const char *const *overrides,
                       int timeout_ms, ec_context **out, struct ec_error *err)
{
	ec_connect *c = NULL;
	int rc = ec_context_connect_async(m, name, overrides, timeout_ms, &c, err);
	if (rc)
		return rc;
	/* No deadline of its own: the context's connect timeout ends a boot. */
	rc = ec_connect_wait(c, 0, out, err);
	ec_connect_free(c);
	return rc;
}
