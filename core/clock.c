/* clock.c: see clock.h. */
#include "ecbuild.h"

#include <errno.h>
#include <time.h>

#include "clock.h"

long long ec__now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

long long ec__now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int ec__cond_init_monotonic(pthread_cond_t *c)
{
	pthread_condattr_t a;
	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	int rc = pthread_cond_init(c, &a);
	pthread_condattr_destroy(&a);
	return rc;
}

int ec__cond_wait_until(pthread_cond_t *cond, pthread_mutex_t *lock, long long deadline)
{
	if (!deadline) {
		pthread_cond_wait(cond, lock);
		return 0;
	}
	long long now = ec__now_ms();
	if (now >= deadline)
		return 1;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	long long ms = deadline - now;
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	return pthread_cond_timedwait(cond, lock, &ts) == ETIMEDOUT && ec__now_ms() >= deadline;
}
