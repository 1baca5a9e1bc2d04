/* clock.h: the two clocks the benchmark tools read: monotonic seconds for durations, and
 * wall-clock microseconds, which a notification carries so its receiver can time it. */
#ifndef NETCFAX_BENCH_CLOCK_H
#define NETCFAX_BENCH_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static inline uint64_t
wall_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

#endif
