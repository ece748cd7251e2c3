/* benchutil.h: what the bench programs share: the monotonic clock in seconds and a
 * qsort comparison of doubles (for medians). */
#ifndef EC_BENCHUTIL_H
#define EC_BENCHUTIL_H

#include <time.h>

static inline double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

#endif
