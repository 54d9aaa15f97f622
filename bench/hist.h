/* SPDX-License-Identifier: MIT */
/*
 * A log-linear latency histogram in the manner of HdrHistogram: every power
 * of two is split into HIST_SUB_COUNT equal buckets, so a bucket is never
 * wider than 1/128 of its lower bound and a reported value is within 0.8%
 * of the true one, at any magnitude from 1 ns to a minute. Recording is an
 * index computation and an increment, with no allocation: the load
 * generator records every received message on its hot path, one histogram
 * per thread, and merges them at the end.
 *
 * Values are unsigned 64-bit (nanoseconds for the load generator). Values
 * above HIST_MAX_VALUE are recorded as HIST_MAX_VALUE and counted in
 * `clamped`, so a run that overflows says so instead of lying quietly; the
 * exact largest value is still kept in `max`.
 */
#ifndef CHAT_BENCH_HIST_H
#define CHAT_BENCH_HIST_H

#include <stdint.h>

#define HIST_SUB_BITS 7
#define HIST_SUB_COUNT (1u << HIST_SUB_BITS)
/* Values below 2^36 ns (68.7 s) are tracked; 60 s must fit. */
#define HIST_MAX_BITS 36
#define HIST_MAX_VALUE ((UINT64_C(1) << HIST_MAX_BITS) - 1)
#define HIST_BUCKETS (HIST_SUB_COUNT * (HIST_MAX_BITS - HIST_SUB_BITS + 1))

struct hist {
	uint64_t count;   /* values recorded */
	uint64_t clamped; /* of which above HIST_MAX_VALUE */
	uint64_t min;     /* exact; UINT64_MAX while empty */
	uint64_t max;     /* exact, not clamped; 0 while empty */
	double sum;       /* for the mean; a double cannot overflow here */
	uint64_t counts[HIST_BUCKETS];
};

/* Empties a histogram (also the way to initialise an embedded one). */
void hist_reset(struct hist *h);

/* Allocates an empty histogram (about 30 KiB); NULL when out of memory.
 * The caller frees it with hist_free(). */
struct hist *hist_new(void);

/* Frees a histogram from hist_new(); hist_free(NULL) is a no-op. */
void hist_free(struct hist *h);

/* Records one value. */
void hist_record(struct hist *h, uint64_t value);

/* Adds every value recorded in `src` to `dst`; `src` is unchanged. */
void hist_merge(struct hist *dst, const struct hist *src);

/*
 * The value at percentile `p` (0..100): the smallest recorded value such
 * that at least p% of all values are at or below it, reported as the top
 * of its bucket and clamped to [min, max] (so p=100 is exactly max and p=0
 * exactly min). Returns 0 for an empty histogram.
 */
uint64_t hist_percentile(const struct hist *h, double p);

/* Mean of the recorded values (clamped ones at HIST_MAX_VALUE); 0 when
 * empty. */
double hist_mean(const struct hist *h);

/* Bucket arithmetic, public so the unit test can check the error bound:
 * the bucket holding `value`, and the lowest and highest value that a
 * bucket holds. `value` must be <= HIST_MAX_VALUE, `index` < HIST_BUCKETS. */
unsigned hist_bucket_index(uint64_t value);
uint64_t hist_bucket_low(unsigned index);
uint64_t hist_bucket_high(unsigned index);

#endif
