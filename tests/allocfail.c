/* allocfail.c: the allocation wrappers of tests/allocfail.h: a count, the one allocation
 * that fails, and the set of blocks live since the last arm (a small array: the
 * scenarios hold at most a few thousand at once). */
#include "ecbuild.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "allocfail.h"

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);
void __real_free(void *p);

#define MAX_LIVE 65536

static size_t count, fail_at;
static int hit, armed;
static void *live[MAX_LIVE];
static size_t nlive;
/* A whole call allocates on the broker's and module server's threads too. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

void ec_allocfail_arm(size_t nth)
{
	pthread_mutex_lock(&lock);
	count = 0;
	fail_at = nth;
	hit = 0;
	nlive = 0;
	armed = 1;
	pthread_mutex_unlock(&lock);
}

void ec_allocfail_disarm(void)
{
	fail_at = 0;
}

size_t ec_allocfail_count(void)
{
	return count;
}

int ec_allocfail_hit(void)
{
	return hit;
}

size_t ec_allocfail_live(void)
{
	return nlive;
}

/* Does this allocation fail? */
static int fails(void)
{
	if (!armed)
		return 0;
	count++;
	if (fail_at && count == fail_at) {
		hit = 1;
		return 1;
	}
	return 0;
}

static void *track(void *p)
{
	if (p && armed && nlive < MAX_LIVE)
		live[nlive++] = p;
	return p;
}

static int untrack(void *p)
{
	for (size_t i = nlive; p && i-- > 0;)
		if (live[i] == p) {
			live[i] = live[--nlive];
			return 1;
		}
	return 0;
}

static int fails_locked(void)
{
	pthread_mutex_lock(&lock);
	int f = fails();
	pthread_mutex_unlock(&lock);
	return f;
}

static void *track_locked(void *p)
{
	pthread_mutex_lock(&lock);
	track(p);
	pthread_mutex_unlock(&lock);
	return p;
}

void *__wrap_malloc(size_t n)
{
	return fails_locked() ? NULL : track_locked(__real_malloc(n));
}

void *__wrap_calloc(size_t n, size_t size)
{
	return fails_locked() ? NULL : track_locked(__real_calloc(n, size));
}

void *__wrap_realloc(void *p, size_t n)
{
	if (fails_locked())
		return NULL;
	/* p leaves the set first: another thread's new block may get its address. */
	pthread_mutex_lock(&lock);
	int was = untrack(p);
	void *q = __real_realloc(p, n);
	if (q)
		track(q);
	else if (was)
		track(p);
	pthread_mutex_unlock(&lock);
	return q;
}

char *__wrap_strdup(const char *s)
{
	return fails_locked() ? NULL : track_locked(__real_strdup(s));
}

char *__wrap_strndup(const char *s, size_t n)
{
	return fails_locked() ? NULL : track_locked(__real_strndup(s, n));
}

void __wrap_free(void *p)
{
	pthread_mutex_lock(&lock);
	untrack(p);
	__real_free(p);
	pthread_mutex_unlock(&lock);
}
