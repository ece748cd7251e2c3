/* strv.c: malloc'd strings and NULL-terminated vectors of them (see strv.h). */
#include "ecbuild.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strv.h"

void ec__strv_free(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

int ec__strv_push(char ***v, size_t *n, size_t *cap, const char *s, size_t len)
{
	if (*n + 2 > *cap) {
		size_t nc = *cap ? *cap * 2 : 16;
		char **nv = realloc(*v, nc * sizeof(char *));
		if (!nv)
			return EC_ENOMEM;
		*v = nv;
		*cap = nc;
		(*v)[*n] = NULL; /* still a vector if the copy below fails */
	}
	char *c = strndup(s, len);
	if (!c)
		return EC_ENOMEM;
	(*v)[(*n)++] = c;
	(*v)[*n] = NULL;
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void ec__strv_sort_unique(char **v, size_t *n)
{
	if (!v || !*n)
		return;
	qsort(v, *n, sizeof(char *), cmp_str);
	size_t o = 1;
	for (size_t i = 1; i < *n; i++) {
		if (strcmp(v[i], v[o - 1]) == 0)
			free(v[i]);
		else
			v[o++] = v[i];
	}
	*n = o;
	v[o] = NULL;
}

char *ec__strdupf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return NULL;
	char *s = malloc((size_t)n + 1);
	if (!s)
		return NULL;
	va_start(ap, fmt);
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return s;
}
