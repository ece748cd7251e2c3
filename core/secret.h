/* secret.h: secrets a transport needs and its configuration does not hold (passwords
 * asked at a terminal). A plugin requests one on the broker thread through the host
 * table and never waits: it gets EC_EAGAIN while the application is asked, on the
 * application thread that waits in ec_context_connect for the context concerned. The
 * answers are kept per key for the master's lifetime, so that every context that needs
 * the same one shares it; they are wiped when dropped. All of it runs under m->lock. */
#ifndef EC_CORE_SECRET_H
#define EC_CORE_SECRET_H

#include <stddef.h>

#include "econtext.h"

struct ec_context;
struct ec__secret;

struct ec__secrets {
	ec_secret_fn fn; /* NULL: the application takes no questions */
	void *data;
	struct ec__secret *list;
	/* The context whose transport the broker is starting (its start op runs): the one
	 * a request is made for. */
	struct ec_context *current;
};

/* Broker thread, m->lock held: the host's secret_get / secret_forget for m. */
int ec__secret_get(ec_master *m, const char *key, const char *prompt, char *buf, size_t cap,
                   size_t *len, struct ec_error *err);
void ec__secret_forget(ec_master *m, const char *key);
/* Application thread in ec_context_connect, m->lock held: if ctx waits for a secret
 * nobody is asking for yet, ask the application (m->lock released meanwhile), keep the
 * answer, wake the broker and return 1; else 0. */
int ec__secret_serve(ec_master *m, struct ec_context *ctx);
/* Wipe and free every answer (ec_master_free). */
void ec__secrets_free(struct ec__secrets *s);

#endif
