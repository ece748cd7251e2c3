/* clock.h: the monotonic clock, and condition variables that wait on it. Every deadline
 * in the core is an absolute monotonic time in milliseconds (0: none). */
#ifndef EC_CORE_CLOCK_H
#define EC_CORE_CLOCK_H

#include <pthread.h>

long long ec__now_ms(void);
long long ec__now_us(void);
/* A condition variable whose timed waits run on CLOCK_MONOTONIC. */
int ec__cond_init_monotonic(pthread_cond_t *c);
/* Wait on cond until the absolute monotonic deadline (0 = forever). 1 on timeout. */
int ec__cond_wait_until(pthread_cond_t *cond, pthread_mutex_t *lock, long long deadline_ms);

#endif
