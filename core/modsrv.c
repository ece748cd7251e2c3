/* modsrv.c: the module server (see modules.h): its thread and job queue, the
 * LOAD_MODULE answers it builds from the caches (modcache.c) and the module path
 * (modpath.c), and what each context was sent already.
 *
 * Threads and locks: the broker only checks the name and queues a job (qlock); the
 * server's thread does the lookups under s->lock (file IO and compression included:
 * nothing else waits on s->lock but a unit test's lookup), encodes the reply, then
 * takes the master's lock only to queue it on the context. The top-level list (read
 * when a context boots) has its own lock (modpath.c). Lock order: m->lock, then
 * qlock. */
#include "ecbuild.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "econtext/codec.h"
#include "error.h"
#include "log.h"
#include "modules.h"
#include "plugin.h"
#include "value.h"

struct sent {
	unsigned ctx;
	char **names;
	size_t n, cap;
	struct sent *next;
};

/* GET_MODULE requests of one context waiting for the server's thread: a context
 * imports one module at a time (its import waits for the answer), so more is a context
 * flooding the server, whose stream is ended (EC_EPROTO) rather than the queue grown. */
#define CTX_JOBS_MAX 64

struct job {
	unsigned ctx;
	int python_major;
	const struct ec_loaded_plugin *codec; /* the context's; NULL: the sink's */
	int forget; /* drop what was sent to ctx, in order with its GET_MODULE */
	char ctxname[128];
	struct job *next;
	char name[];
};

struct ec_modsrv {
	pthread_mutex_t lock;  /* path (its directory listings), cache, sent, predict */
	pthread_mutex_t qlock; /* the job queue and the thread's state */
	pthread_cond_t qcond;
	struct job *qhead, **qtail;
	size_t qlen;
	pthread_t thread;
	int running, stopping;
	struct ec_modsrv_sink sink;
	int predict;
	struct ec_modpath path;
	struct ec_modcache cache;
	struct sent *sent;
};

int ec__modsrv_new(const char *const *dirs, const char *script, struct ec_modsrv **out,
                   struct ec_error *err)
{
	struct ec_modsrv *s = calloc(1, sizeof(*s));
	if (!s)
		return ec__error_set(err, EC_ENOMEM, NULL, "out of memory");
	int rc = ec__modpath_init(&s->path, dirs, script, err);
	if (rc) {
		free(s);
		return rc;
	}
	ec__modcache_init(&s->cache, &s->path);
	pthread_mutex_init(&s->lock, NULL);
	pthread_mutex_init(&s->qlock, NULL);
	pthread_cond_init(&s->qcond, NULL);
	s->qtail = &s->qhead;
	s->predict = 1;
	*out = s;
	return 0;
}

void ec__modsrv_free(struct ec_modsrv *s)
{
	if (!s)
		return;
	ec__modsrv_stop(s);
	ec__modcache_close(&s->cache);
	ec__modpath_close(&s->path);
	for (struct sent *t = s->sent; t;) {
		struct sent *next = t->next;
		ec__strv_free(t->names);
		free(t);
		t = next;
	}
	pthread_mutex_destroy(&s->lock);
	pthread_mutex_destroy(&s->qlock);
	pthread_cond_destroy(&s->qcond);
	free(s);
}

void ec__modsrv_configure(struct ec_modsrv *s, int predict, int follow_symlinks,
                          size_t max_absent)
{
	pthread_mutex_lock(&s->lock);
	s->predict = predict;
	s->path.follow = follow_symlinks;
	ec__modcache_bound(&s->cache, max_absent);
	pthread_mutex_unlock(&s->lock);
}

void ec__modsrv_cache_counts(struct ec_modsrv *s, size_t *total, size_t *absent)
{
	pthread_mutex_lock(&s->lock);
	*total = s->cache.nrecords;
	*absent = s->cache.nabsent;
	pthread_mutex_unlock(&s->lock);
}

size_t ec__modsrv_ndirs(const struct ec_modsrv *s)
{
	return s ? s->path.ndirs + (s->path.script ? 1 : 0) : 0;
}

int ec__modsrv_lookup(struct ec_modsrv *s, const char *name, const struct ec_module **out,
                      struct ec_error *err)
{
	struct ec_module *m = NULL;
	pthread_mutex_lock(&s->lock);
	int rc = ec__modcache_lookup(&s->cache, name, &m);
	pthread_mutex_unlock(&s->lock);
	if (rc)
		return ec__error_set(err, rc, name, "out of memory looking up a module");
	*out = m;
	return 0;
}

int ec__modsrv_toplevel(struct ec_modsrv *s, char ***out, size_t *n, struct ec_error *err)
{
	if (ec__modpath_toplevel(&s->path, out, n))
		return ec__error_set(err, EC_ENOMEM, NULL, "out of memory");
	return 0;
}

/* ---- answers ------------------------------------------------------------------ */

static struct sent *sent_for(struct ec_modsrv *s, unsigned ctx)
{
	for (struct sent *t = s->sent; t; t = t->next)
		if (t->ctx == ctx)
			return t;
	struct sent *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->ctx = ctx;
	t->next = s->sent;
	s->sent = t;
	return t;
}

static int was_sent(const struct sent *t, const char *name)
{
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->names[i], name) == 0)
			return 1;
	return 0;
}

/* Drop what was recorded as sent to ctx (under s->lock). */
static void sent_drop(struct ec_modsrv *s, unsigned ctx)
{
	for (struct sent **pp = &s->sent; *pp; pp = &(*pp)->next)
		if ((*pp)->ctx == ctx) {
			struct sent *t = *pp;
			*pp = t->next;
			ec__strv_free(t->names);
			free(t);
			break;
		}
}

static int enqueue(struct ec_modsrv *s, unsigned ctx, const char *ctxname, int python_major,
                   const struct ec_loaded_plugin *codec, const char *name, int forget);

void ec__modsrv_forget(struct ec_modsrv *s, unsigned ctx)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->qlock);
	int running = s->running;
	pthread_mutex_unlock(&s->qlock);
	if (running && !enqueue(s, ctx, "", 0, NULL, "", 1))
		return; /* behind that context's pending GET_MODULE */
	pthread_mutex_lock(&s->lock);
	sent_drop(s, ctx);
	pthread_mutex_unlock(&s->lock);
}


/* (name, filename, children, zsource, error): docs/protocol.md §3. */
static ec_value *entry(const struct ec_module *m)
{
	ec_value *t = ec_value_new(EC_T_TUPLE);
	if (!t)
		return NULL;
	int found = m->status == EC_MOD_FOUND;
	ec_value_append(t, ec__value_text_or_bytes(m->name));
	ec_value_append(t, found ? ec__value_text_or_bytes(m->path) : ec_value_none());
	ec_value *kids = ec_value_none();
	if (found && m->is_pkg) {
		ec_value_free(kids);
		kids = ec_value_new(EC_T_LIST);
		/* Every child or no list: a child left out would be an import the context
		 * refuses by itself ("cannot import name"), for good. */
		for (size_t i = 0; kids && i < m->nchildren; i++)
			if (ec_value_append(kids, ec__value_text_or_bytes(m->children[i]))) {
				ec_value_free(kids);
				kids = NULL;
			}
	}
	/* Each append takes its item, also a NULL one (refused): fewer than 5 is out of
	 * memory. */
	ec_value_append(t, kids);
	ec_value_append(t, found ? ec_value_bytes(m->zsrc, m->zlen) : ec_value_none());
	ec_value_append(t, m->status == EC_MOD_REFUSED ? ec__value_text_or_bytes(m->reason) : ec_value_none());
	return t->u.seq.len == 5 ? t : (ec_value_free(t), NULL);
}

struct answer {
	struct ec_modsrv *s;
	struct sent *sent;
	ec_value *list;
	const struct ec_module **queue;
	size_t n, cap, bytes, budget;
	int rc;
};

static void queue_add(struct answer *a, const struct ec_module *m)
{
	if (a->n == a->cap) {
		size_t nc = a->cap ? a->cap * 2 : 16;
		const struct ec_module **q = realloc(a->queue, nc * sizeof(*q));
		if (!q) {
			a->rc = EC_ENOMEM;
			return;
		}
		a->queue = q;
		a->cap = nc;
	}
	a->queue[a->n++] = m;
	a->bytes += m->zlen;
}

static void mark_sent(struct answer *a, const char *name)
{
	size_t scap = a->sent->cap;
	if (!was_sent(a->sent, name) &&
	    ec__strv_push(&a->sent->names, &a->sent->n, &scap, name, strlen(name)))
		a->rc = EC_ENOMEM;
	a->sent->cap = scap;
}

/* Add a found module (after its unsent parents) unless already sent. */
static void push(struct answer *a, const char *name)
{
	if (a->rc || was_sent(a->sent, name))
		return;
	const char *dot = strrchr(name, '.');
	if (dot) {
		char *parent = strndup(name, (size_t)(dot - name));
		if (!parent) {
			a->rc = EC_ENOMEM;
			return;
		}
		push(a, parent);
		free(parent);
	}
	struct ec_module *m = NULL;
	if (a->rc || (a->rc = ec__modcache_lookup(&a->s->cache, name, &m)) ||
	    m->status != EC_MOD_FOUND || was_sent(a->sent, name))
		return;
	ec_value *e = entry(m);
	if (!e || ec_value_append(a->list, e)) {
		a->rc = EC_ENOMEM;
		return;
	}
	mark_sent(a, name);
	queue_add(a, m);
}

int ec__modsrv_answer(struct ec_modsrv *s, unsigned ctx_id, const char *name, size_t budget,
                      ec_value **out, size_t *count, struct ec_error *err)
{
	struct answer a = {.s = s, .budget = budget};
	ec_value *top = ec_value_new(EC_T_TUPLE);
	a.list = ec_value_new(EC_T_LIST);
	pthread_mutex_lock(&s->lock);
	struct ec_module *req = NULL;
	if (!top || !a.list || !(a.sent = sent_for(s, ctx_id)))
		a.rc = EC_ENOMEM;
	if (!a.rc)
		a.rc = ec__modcache_lookup(&s->cache, name, &req);
	if (!a.rc) {
		/* The requested module first, even if it was sent before (the context asks
		 * again only if it lost it), then its parents and what they all import. */
		ec_value *e = entry(req);
		a.rc = !e || ec_value_append(a.list, e) ? EC_ENOMEM : 0;
		if (!a.rc && req->status == EC_MOD_FOUND) {
			mark_sent(&a, name);
			queue_add(&a, req);
			const char *dot = strrchr(name, '.');
			if (dot && !a.rc) {
				char *parent = strndup(name, (size_t)(dot - name));
				if (parent)
					push(&a, parent);
				else
					a.rc = EC_ENOMEM;
				free(parent);
			}
		}
	}
	for (size_t i = 0; !a.rc && i < a.n && a.bytes < a.budget; i++)
		for (size_t k = 0; !a.rc && k < a.queue[i]->nimports && a.bytes < a.budget; k++)
			push(&a, a.queue[i]->imports[k]);
	pthread_mutex_unlock(&s->lock);
	free(a.queue);
	if (!a.rc)
		a.rc = ec_value_append(top, ec__value_text_or_bytes(name));
	if (!a.rc) {
		*count = a.list->u.seq.len;
		a.rc = ec_value_append(top, a.list);
		a.list = NULL;
	}
	if (a.rc) {
		ec_value_free(a.list);
		ec_value_free(top);
		return ec__error_set(err, EC_ENOMEM, name, "out of memory serving a module");
	}
	*out = top;
	return 0;
}

/* ---- the server's thread ------------------------------------------------------- */

/* The answer for one GET_MODULE, encoded for the context; logs the outcome. */
static int build_reply(struct ec_modsrv *s, const struct job *j, struct ec_buf *payload)
{
	const struct ec_modsrv_sink *m = &s->sink;
	const struct ec_loaded_plugin *codec = j->codec ? j->codec : m->codec;
	const struct ec_codec_ops *ops = codec->desc->ops;
	struct ec_codec_peer peer = {.python_major = j->python_major};
	struct ec_error err = {0};
	ec_value *reply = NULL;
	size_t count = 0, budget = m->max_message / 4;
	if (budget > (4u << 20))
		budget = 4u << 20;
	pthread_mutex_lock(&s->lock);
	int predict = s->predict;
	pthread_mutex_unlock(&s->lock);
	int rc = ec__modsrv_answer(s, j->ctx, j->name, predict ? budget : 0, &reply, &count, &err);
	const char *status = "absent", *reason = NULL;
	if (!rc) {
		const ec_value *e = reply->u.seq.items[1]->u.seq.items[0];
		if (e->u.seq.items[4]->type != EC_T_NONE) {
			status = "refused";
			reason = e->u.seq.items[4]->u.s.data;
		} else if (e->u.seq.items[1]->type != EC_T_NONE) {
			status = "found";
		}
		rc = ops->encode(codec->state, &peer, reply, payload, &err);
	}
	if (!rc && payload->len > m->max_message) {
		ec__log(m->logger, EC_LOG_WARNING, "econtext.modules", j->ctxname,
		        "context %s: module %s: reply of %zu bytes exceeds the maximum message size",
		        j->ctxname, j->name, payload->len);
		rc = EC_EMSGSIZE;
	}
	if (rc == EC_EMSGSIZE) {
		/* The context waits for this name: answer it with an error entry. (Out of
		 * memory is not answered so: server_main has its context ended.) */
		static const char why[] =
		    "the master could not serve it: its reply exceeds the maximum message size";
		ec_value_free(reply);
		reply = ec_value_new(EC_T_TUPLE);
		ec_value *list = ec_value_new(EC_T_LIST), *e = ec_value_new(EC_T_TUPLE);
		/* Each append takes its item, also when it fails (then freed): checked one by
		 * one, nothing used or leaked after a failure. */
		int bad = !reply || !list || !e;
		bad = bad || ec_value_append(e, ec__value_text_or_bytes(j->name));
		for (int k = 0; k < 3; k++)
			bad = bad || ec_value_append(e, ec_value_none());
		bad = bad || ec_value_append(e, ec__value_text_or_bytes(why));
		if (bad)
			ec_value_free(e);
		else
			bad = ec_value_append(list, e) != 0; /* e taken */
		bad = bad || ec_value_append(reply, ec__value_text_or_bytes(j->name));
		if (!bad) {
			bad = ec_value_append(reply, list) != 0;
			list = NULL; /* taken */
		}
		ec_value_free(list);
		ec__buf_free(payload);
		ec__buf_init(payload);
		count = 1;
		status = "refused";
		reason = why;
		rc = bad ? EC_ENOMEM : ops->encode(codec->state, &peer, reply, payload, &err);
	}
	if (reason)
		ec__log(m->logger, EC_LOG_WARNING, "econtext.modules", j->ctxname,
		        "context %s: cannot forward module %s: %s", j->ctxname, j->name, reason);
	if (!rc)
		ec__log(m->logger, EC_LOG_DEBUG, "econtext.modules", j->ctxname,
		        "context %s: GET_MODULE %s: %s, %zu module%s in %zu bytes", j->ctxname, j->name,
		        status, count - (strcmp(status, "found") ? 1 : 0), count == 1 ? "" : "s",
		        payload->len);
	ec_value_free(reply);
	return rc;
}

static void *server_main(void *arg)
{
	struct ec_modsrv *s = arg;
	pthread_mutex_lock(&s->qlock);
	for (;;) {
		while (!s->qhead && !s->stopping)
			pthread_cond_wait(&s->qcond, &s->qlock);
		if (s->stopping)
			break;
		struct job *j = s->qhead;
		if (!(s->qhead = j->next))
			s->qtail = &s->qhead;
		s->qlen--;
		pthread_mutex_unlock(&s->qlock);
		if (j->forget) {
			pthread_mutex_lock(&s->lock);
			sent_drop(s, j->ctx);
			pthread_mutex_unlock(&s->lock);
		} else {
			struct ec_buf payload;
			ec__buf_init(&payload);
			/* No answer (out of memory): the context, whose import waits for it,
			 * is ended (deliver's NULL), not left waiting. */
			int rc = build_reply(s, j, &payload);
			s->sink.deliver(s->sink.arg, j->ctx, rc ? NULL : &payload);
			ec__buf_free(&payload);
		}
		free(j);
		pthread_mutex_lock(&s->qlock);
	}
	pthread_mutex_unlock(&s->qlock);
	return NULL;
}

static int enqueue(struct ec_modsrv *s, unsigned ctx, const char *ctxname, int python_major,
                   const struct ec_loaded_plugin *codec, const char *name, int forget)
{
	size_t len = strlen(name);
	struct job *j = calloc(1, sizeof(*j) + len + 1);
	if (!j)
		return EC_ENOMEM;
	j->ctx = ctx;
	j->python_major = python_major;
	j->codec = codec;
	j->forget = forget;
	snprintf(j->ctxname, sizeof(j->ctxname), "%s", ctxname);
	memcpy(j->name, name, len + 1);
	pthread_mutex_lock(&s->qlock);
	int rc = s->stopping ? EC_ECLOSED : 0;
	if (!rc && !s->running) {
		if (pthread_create(&s->thread, NULL, server_main, s) == 0)
			s->running = 1;
		else
			rc = EC_ESYS;
	}
	if (!rc && !forget && s->qlen >= CTX_JOBS_MAX) { /* a long queue: whose? */
		size_t mine = 0;
		for (const struct job *q = s->qhead; q; q = q->next)
			mine += q->ctx == ctx && !q->forget;
		if (mine >= CTX_JOBS_MAX)
			rc = EC_EPROTO;
	}
	if (!rc) {
		*s->qtail = j;
		s->qtail = &j->next;
		s->qlen++;
		pthread_cond_signal(&s->qcond);
	}
	pthread_mutex_unlock(&s->qlock);
	if (rc)
		free(j);
	return rc;
}

void ec__modsrv_stop(struct ec_modsrv *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->qlock);
	int running = s->running;
	s->stopping = 1;
	pthread_cond_signal(&s->qcond);
	pthread_mutex_unlock(&s->qlock);
	if (running)
		pthread_join(s->thread, NULL);
	pthread_mutex_lock(&s->qlock);
	s->running = 0;
	while (s->qhead) {
		struct job *j = s->qhead;
		s->qhead = j->next;
		free(j);
	}
	s->qtail = &s->qhead;
	s->qlen = 0;
	pthread_mutex_unlock(&s->qlock);
}

void ec__modsrv_set_sink(struct ec_modsrv *s, const struct ec_modsrv_sink *sink)
{
	s->sink = *sink;
}

int ec__modsrv_ctx_jobs_max(void)
{
	return CTX_JOBS_MAX;
}

int ec__modsrv_request(struct ec_modsrv *s, unsigned ctx_id, const char *ctx_name,
                       int python_major, const struct ec_loaded_plugin *codec,
                       const char *name)
{
	return enqueue(s, ctx_id, ctx_name, python_major, codec, name, 0);
}
