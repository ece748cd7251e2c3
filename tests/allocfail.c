/* allocfail.c: the allocation wrappers of tests/allocfail.h: a count, the one allocation
 * that fails, the set of blocks live since the last arm (a small array: the scenarios
 * hold at most a few thousand at once), and which loaded file's code asked for each.
 * The wrappers are exported (tests/allocfail.sym): the test copies of the plugins,
 * linked with the same --wrap, call them from their dlopen'ed code. */
#include "ecbuild.h"

#include <dlfcn.h>
#include <errno.h>
#include <execinfo.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "allocfail.h"

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
int __real_posix_memalign(void **p, size_t align, size_t n);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);
void __real_free(void *p);

#define MAX_LIVE 65536
#define MAX_FILES 16
#define MAX_INDICES 64

/* The wrappers the program and the test plugins call (see tests/allocfail.sym). */
#define WRAP __attribute__((visibility("default")))
WRAP void *__wrap_malloc(size_t n);
WRAP void *__wrap_calloc(size_t n, size_t size);
WRAP void *__wrap_realloc(void *p, size_t n);
WRAP int __wrap_posix_memalign(void **p, size_t align, size_t n);
WRAP char *__wrap_strdup(const char *s);
WRAP char *__wrap_strndup(const char *s, size_t n);
WRAP void __wrap_free(void *p);

static size_t count, fail_at;
static int hit, armed;
static void *live[MAX_LIVE];
static size_t nlive;
/* A whole call allocates on the broker's and module server's threads too. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
/* The counted allocations per file (the program, a plugin) of the code that made them:
 * its load address (dladdr) and its path, copied (no allocation here). */
static struct {
	const void *base;
	char path[512];
	size_t n;
	size_t first[MAX_INDICES]; /* the numbers of its first allocations */
} files[MAX_FILES];
static size_t nfiles;
/* Where the failed allocation was asked for: the file and the offset in it. */
static char hit_file[512];
static size_t hit_off;

/* EC_ALLOCFAIL_VERBOSE: the stack of the failed allocation on stderr (backtrace's
 * first call loads libgcc, which allocates: made here, before the lock is ever held). */
static int say_stack;

void ec_allocfail_arm(size_t nth)
{
	say_stack = getenv("EC_ALLOCFAIL_VERBOSE") != NULL;
	if (say_stack) {
		void *warm[2];
		backtrace(warm, 2);
	}
	pthread_mutex_lock(&lock);
	count = 0;
	fail_at = nth;
	hit = 0;
	nlive = 0;
	nfiles = 0;
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

int ec_allocfail_hit_in(const char *path)
{
	pthread_mutex_lock(&lock);
	int in = hit && !strcmp(hit_file, path);
	pthread_mutex_unlock(&lock);
	return in;
}

const char *ec_allocfail_hit_where(char *buf, size_t cap)
{
	pthread_mutex_lock(&lock);
	snprintf(buf, cap, hit ? "%s+0x%zx" : "-", hit_file, hit_off);
	pthread_mutex_unlock(&lock);
	return buf;
}

size_t ec_allocfail_live(void)
{
	return nlive;
}

size_t ec_allocfail_count_in(const char *path)
{
	size_t n = 0;
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < nfiles; i++)
		if (!strcmp(files[i].path, path))
			n += files[i].n;
	pthread_mutex_unlock(&lock);
	return n;
}

size_t ec_allocfail_numbers_in(const char *path, size_t *out, size_t max)
{
	size_t n = 0;
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < nfiles; i++)
		for (size_t j = 0; !strcmp(files[i].path, path) && j < files[i].n && j < MAX_INDICES; j++)
			if (n < max)
				out[n++] = files[i].first[j];
	pthread_mutex_unlock(&lock);
	return n;
}

/* Does this allocation, asked for by the code at caller (of the file di), fail? */
static int fails(const Dl_info *di)
{
	if (!armed)
		return 0;
	count++;
	size_t i = 0;
	while (i < nfiles && files[i].base != di->dli_fbase)
		i++;
	if (i == nfiles && nfiles < MAX_FILES) {
		files[i].base = di->dli_fbase;
		snprintf(files[i].path, sizeof(files[i].path), "%s", di->dli_fname);
		files[i].n = 0;
		nfiles++;
	}
	if (i < nfiles && files[i].n < MAX_INDICES)
		files[i].first[files[i].n] = count;
	if (i < nfiles)
		files[i].n++;
	if (fail_at && count == fail_at) {
		hit = 1;
		snprintf(hit_file, sizeof(hit_file), "%s", di->dli_fname);
		hit_off = (size_t)((const char *)di->dli_saddr - (const char *)di->dli_fbase);
		if (say_stack) {
			void *frames[32];
			backtrace_symbols_fd(frames, backtrace(frames, 32), 2);
		}
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

/* dladdr outside the lock: it takes the dynamic loader's. */
static int fails_locked(const void *caller)
{
	if (!armed)
		return 0;
	Dl_info di;
	if (!dladdr(caller, &di) || !di.dli_fname)
		di = (Dl_info){.dli_fname = "?"};
	di.dli_saddr = (void *)caller; /* the call's own address, not its function's */
	pthread_mutex_lock(&lock);
	int f = fails(&di);
	pthread_mutex_unlock(&lock);
	return f;
}

#define CALLER __builtin_return_address(0)

/* A failed allocation, as libc's: NULL with errno ENOMEM. */
static void *failed(void)
{
	errno = ENOMEM;
	return NULL;
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
	return fails_locked(CALLER) ? failed() : track_locked(__real_malloc(n));
}

void *__wrap_calloc(size_t n, size_t size)
{
	return fails_locked(CALLER) ? failed() : track_locked(__real_calloc(n, size));
}

void *__wrap_realloc(void *p, size_t n)
{
	if (fails_locked(CALLER))
		return failed();
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

/* core/buf.c's large buffers (2 MiB-aligned). */
int __wrap_posix_memalign(void **p, size_t align, size_t n)
{
	if (fails_locked(CALLER))
		return ENOMEM;
	int rc = __real_posix_memalign(p, align, n);
	if (!rc)
		track_locked(*p);
	return rc;
}

char *__wrap_strdup(const char *s)
{
	return fails_locked(CALLER) ? failed() : track_locked(__real_strdup(s));
}

char *__wrap_strndup(const char *s, size_t n)
{
	return fails_locked(CALLER) ? failed() : track_locked(__real_strndup(s, n));
}

void __wrap_free(void *p)
{
	pthread_mutex_lock(&lock);
	untrack(p);
	__real_free(p);
	pthread_mutex_unlock(&lock);
}
