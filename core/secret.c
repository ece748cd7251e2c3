/* secret.c: secrets asked of the application on a transport's request, kept per key. */
#include "ecbuild.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "error.h"
#include "secret.h"

#define SECRET_MAX 1024

enum secret_state {
	SEC_PENDING,  /* a context waits; no application thread asks yet */
	SEC_ASKING,   /* an application thread is in the callback */
	SEC_ANSWERED, /* value holds the answer */
	SEC_FAILED    /* the application declined: fail holds why */
};

struct ec__secret {
	char *key;
	char *prompt;
	char *context; /* the context it was first asked for */
	enum secret_state state;
	char *value;
	size_t len;
	struct ec_error fail;
	struct ec__secret *next;
};

static void secret_free(struct ec__secret *e)
{
	if (e->value) {
		OPENSSL_cleanse(e->value, e->len);
		free(e->value);
	}
	free(e->key);
	free(e->prompt);
	free(e->context);
	free(e);
}

static struct ec__secret *find(const struct ec__secrets *s, const char *key)
{
	for (struct ec__secret *e = s->list; e; e = e->next)
		if (strcmp(e->key, key) == 0)
			return e;
	return NULL;
}

/* (Re)open the question for the context starting now; it waits, and its thread asks. */
static int wait_for(struct ec__secret *e, struct ec__secret_asker *a)
{
	if (e->state == SEC_FAILED) {
		char *name = strdup(a->name);
		if (!name)
			return EC_ENOMEM;
		free(e->context);
		e->context = name;
		e->state = SEC_PENDING;
		e->fail = (struct ec_error){0};
	}
	a->wait = a->seen = e;
	return EC_EAGAIN;
}

void ec__secret_asker_add(struct ec__secrets *s, struct ec__secret_asker *a)
{
	a->next = s->askers;
	s->askers = a;
}

void ec__secret_asker_remove(struct ec__secrets *s, struct ec__secret_asker *a)
{
	for (struct ec__secret_asker **pp = &s->askers; *pp; pp = &(*pp)->next)
		if (*pp == a) {
			*pp = a->next;
			return;
		}
}

int ec__secret_get(struct ec__secrets *s, const char *key, const char *prompt, char *buf,
                   size_t cap, size_t *len, struct ec_error *err)
{
	struct ec__secret_asker *a = s->current;
	if (!key || !prompt || !buf || !cap)
		return ec__error_set(err, EC_EINVAL, NULL, "secret_get: no key, prompt or buffer");
	struct ec__secret *e = find(s, key);
	if (e && e->state == SEC_ANSWERED) {
		if (e->len >= cap)
			return ec__error_set(err, EC_EINVAL, a ? a->name : NULL,
			                     "the answer to \"%s\" is longer than %zu bytes", prompt,
			                     cap - 1);
		memcpy(buf, e->value, e->len);
		buf[e->len] = '\0';
		*len = e->len;
		return 0;
	}
	/* Asking needs an application thread that waits for this context: a start op. */
	if (!s->fn || !a)
		return EC_ENOTFOUND;
	if (e && e->state == SEC_FAILED && a->seen == e) {
		if (err)
			*err = e->fail;
		return e->fail.code;
	}
	if (e)
		return wait_for(e, a) == EC_ENOMEM
		           ? ec__error_set(err, EC_ENOMEM, a->name, "out of memory")
		           : EC_EAGAIN;
	e = calloc(1, sizeof(*e));
	if (!e || !(e->key = strdup(key)) || !(e->prompt = strdup(prompt)) ||
	    !(e->context = strdup(a->name))) {
		if (e)
			secret_free(e);
		return ec__error_set(err, EC_ENOMEM, a->name, "out of memory");
	}
	e->state = SEC_PENDING;
	e->next = s->list;
	s->list = e;
	return wait_for(e, a);
}

void ec__secret_forget(struct ec__secrets *s, const char *key)
{
	for (struct ec__secret **pp = &s->list; *pp; pp = &(*pp)->next) {
		struct ec__secret *e = *pp;
		if (strcmp(e->key, key) != 0)
			continue;
		if (e->state != SEC_ANSWERED)
			return; /* being asked: nothing to forget yet */
		*pp = e->next;
		for (struct ec__secret_asker *a = s->askers; a; a = a->next) {
			if (a->wait == e)
				a->wait = NULL;
			if (a->seen == e)
				a->seen = NULL;
		}
		secret_free(e);
		return;
	}
}

int ec__secret_serve(struct ec__secrets *s, struct ec__secret_asker *a, pthread_mutex_t *lock,
                     struct ec_broker *b)
{
	struct ec__secret *e = a->wait;
	if (!e || e->state != SEC_PENDING || !s->fn)
		return 0;
	/* An entry being asked is never freed (forget leaves it; the master is not freed
	 * while a connect runs), so e outlives the unlocked call. */
	e->state = SEC_ASKING;
	ec_secret_fn fn = s->fn;
	void *data = s->data;
	struct ec_secret_request req = {
		.size = sizeof(req), .context = e->context, .prompt = e->prompt};
	char buf[SECRET_MAX + 1];
	pthread_mutex_unlock(lock);
	memset(buf, 0, sizeof(buf));
	int rc = fn(data, &req, buf, sizeof(buf));
	size_t n = rc == 0 ? strnlen(buf, sizeof(buf)) : 0;
	char *value = rc == 0 && n < sizeof(buf) ? malloc(n + 1) : NULL;
	if (value)
		memcpy(value, buf, n + 1);
	OPENSSL_cleanse(buf, sizeof(buf));
	pthread_mutex_lock(lock);
	if (value) {
		e->value = value;
		e->len = n;
		e->state = SEC_ANSWERED;
	} else {
		/* Declined (EOF, an interrupt, no terminal after all): this context fails, and
		 * the next one that needs the answer asks again. */
		int code = rc ? (rc < 0 && rc != EC_EAGAIN ? rc : EC_EAUTH)
		              : n == sizeof(buf) ? EC_EINVAL : EC_ENOMEM;
		size_t pl = strlen(e->prompt);
		while (pl && (e->prompt[pl - 1] == ' ' || e->prompt[pl - 1] == ':'))
			pl--;
		ec__error_set(&e->fail, code, e->context, "%s (the prompt \"%.*s\")",
		              code == EC_EINVAL   ? "the answer is too long"
		              : code == EC_ENOMEM ? "out of memory keeping the answer"
		                                  : "no password was given",
		              (int)pl, e->prompt);
		e->state = SEC_FAILED;
	}
	ec__broker_wake(b);
	return 1;
}

void ec__secrets_free(struct ec__secrets *s)
{
	while (s->list) {
		struct ec__secret *e = s->list;
		s->list = e->next;
		secret_free(e);
	}
}
