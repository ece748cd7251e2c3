/* secret.h: secrets a transport needs and its configuration does not hold (passwords
 * asked at a terminal). A plugin requests one on the broker thread through the host
 * table and never waits: it gets EC_EAGAIN while the application is asked, on the
 * application thread that waits in ec_context_connect for the context concerned. The
 * answers are kept per key for the master's lifetime, so that every context that needs
 * the same one shares it; they are wiped when dropped. All of it runs under the master's
 * lock. */
#ifndef EC_CORE_SECRET_H
#define EC_CORE_SECRET_H

#include <pthread.h>
#include <stddef.h>

#include "broker.h"
#include "econtext.h"

struct ec__secret;

/* Who asks: a context, as the store sees it. Registered with the store for its life. */
struct ec__secret_asker {
	const char *name; /* the context's (borrowed) */
	/* The secret its start waits for (set by secret_get during the last start), the one
	 * it waited for last (to fail with it if declined), and since when it waits (its
	 * boot deadline does not run meanwhile; 0: not waiting). */
	struct ec__secret *wait, *seen;
	long long since;
	struct ec__secret_asker *next;
};

struct ec__secrets {
	ec_secret_fn fn; /* NULL: the application takes no questions */
	void *data;
	struct ec__secret *list;
	struct ec__secret_asker *askers;
	/* The context whose transport the loop is starting (its start op runs): the one a
	 * request is made for. */
	struct ec__secret_asker *current;
};

void ec__secret_asker_add(struct ec__secrets *s, struct ec__secret_asker *a);
void ec__secret_asker_remove(struct ec__secrets *s, struct ec__secret_asker *a);
/* Loop thread, lock held: the host's secret_get / secret_forget. */
int ec__secret_get(struct ec__secrets *s, const char *key, const char *prompt, char *buf,
                   size_t cap, size_t *len, struct ec_error *err);
void ec__secret_forget(struct ec__secrets *s, const char *key);
/* Application thread in ec_context_connect, lock held: if a waits for a secret nobody
 * is asking for yet, ask the application (lock released meanwhile), keep the answer,
 * wake the loop b and return 1; else 0. */
int ec__secret_serve(struct ec__secrets *s, struct ec__secret_asker *a, pthread_mutex_t *lock,
                     struct ec_broker *b);
/* Wipe and free every answer (ec_master_free). */
void ec__secrets_free(struct ec__secrets *s);

#endif
