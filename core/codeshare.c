/* codeshare.c: see codeshare.h. */
#include "ecbuild.h"

#include <stdlib.h>
#include <string.h>

#include "codeshare.h"

struct ec_code_share {
	char *key;
	struct ec_buf code; /* raw deflate of magic + marshalled core, sync flush */
	struct ec_code_share *next;
};

static struct ec_code_share **find(struct ec_code_share *const *list, const char *key)
{
	struct ec_code_share *const *pp = list;
	while (*pp && strcmp((*pp)->key, key))
		pp = &(*pp)->next;
	return (struct ec_code_share **)pp;
}

/* Unlink *pp and free it. */
static void unlink_entry(struct ec_code_share **pp)
{
	struct ec_code_share *e = *pp;
	*pp = e->next;
	free(e->key);
	ec__buf_free(&e->code);
	free(e);
}

int ec__codeshare_get(struct ec_code_share *const *list, const char *key, struct ec_buf *code)
{
	struct ec_code_share *e = *find(list, key);
	return e && !ec__buf_append(code, e->code.data, e->code.len) ? 0 : -1;
}

void ec__codeshare_put(struct ec_code_share **list, const char *key, struct ec_buf *code)
{
	if (*find(list, key))
		return;
	struct ec_code_share *n = calloc(1, sizeof(*n));
	if (!n || !(n->key = strdup(key))) {
		free(n);
		return;
	}
	n->code = *code; /* the entry takes it */
	ec__buf_init(code);
	n->next = *list;
	*list = n;
}

void ec__codeshare_drop(struct ec_code_share **list, const char *key)
{
	struct ec_code_share **pp = find(list, key);
	if (*pp)
		unlink_entry(pp);
}

void ec__codeshare_free(struct ec_code_share **list)
{
	while (*list)
		unlink_entry(list);
}
