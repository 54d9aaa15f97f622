/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of bench/hist.c, the load generator's latency histogram: the
 * bucket layout keeps every reported value within 1% of the truth from 1 ns
 * to 60 s, percentiles agree with exact ones computed from sorted samples,
 * merging equals recording everything in one histogram, and out-of-range
 * values are clamped and counted rather than lost.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "hist.h"

#define SIXTY_S_NS UINT64_C(60000000000)

/* A small deterministic generator, so failures reproduce. */
static uint64_t next_random(uint64_t *state)
{
	*state ^= *state << 13;
	*state ^= *state >> 7;
	*state ^= *state << 17;
	return *state;
}

/* Log-uniform in [1, 60 s]: every magnitude gets its share of samples. */
static uint64_t random_latency(uint64_t *state)
{
	unsigned bits = (unsigned)(next_random(state) % 36) + 1;
	uint64_t v = next_random(state) & ((UINT64_C(1) << bits) - 1);

	if (v == 0)
		v = 1;
	return v > SIXTY_S_NS ? SIXTY_S_NS : v;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

static void assert_within_1pct(uint64_t got, uint64_t want)
{
	double diff = (double)got - (double)want;

	if (diff < 0)
		diff = -diff;
	if (diff > (double)want / 100.0) {
		fail_msg("got %llu want %llu (more than 1%% off)",
			 (unsigned long long)got, (unsigned long long)want);
	}
}

static void test_empty(void **state)
{
	struct hist *h = hist_new();

	(void)state;
	assert_non_null(h);
	assert_int_equal(h->count, 0);
	assert_int_equal(hist_percentile(h, 50.0), 0);
	assert_int_equal(hist_percentile(h, 100.0), 0);
	assert_true(hist_mean(h) == 0.0);
	hist_free(h);
	hist_free(NULL);
}

static void test_small_values_exact(void **state)
{
	struct hist *h = hist_new();
	uint64_t v;

	(void)state;
	for (v = 1; v <= 100; v++)
		hist_record(h, v);
	assert_int_equal(h->count, 100);
	assert_int_equal(hist_percentile(h, 50.0), 50);
	assert_int_equal(hist_percentile(h, 99.0), 99);
	assert_int_equal(hist_percentile(h, 100.0), 100);
	assert_int_equal(hist_percentile(h, 0.0), 1);
	assert_true(hist_mean(h) == 50.5);
	hist_free(h);
}

static void test_single_value(void **state)
{
	struct hist *h = hist_new();

	(void)state;
	hist_record(h, 123456789);
	assert_int_equal(hist_percentile(h, 0.0), 123456789);
	assert_int_equal(hist_percentile(h, 50.0), 123456789);
	assert_int_equal(hist_percentile(h, 99.9), 123456789);
	assert_int_equal(h->min, 123456789);
	assert_int_equal(h->max, 123456789);
	hist_free(h);
}

/* Every bucket is contiguous with the next, holds what its index says,
 * and is narrower than 1% of its lower bound. */
static void test_bucket_layout(void **state)
{
	unsigned i;

	(void)state;
	assert_int_equal(hist_bucket_low(0), 0);
	assert_true(hist_bucket_high(HIST_BUCKETS - 1) == HIST_MAX_VALUE);
	assert_true(HIST_MAX_VALUE >= SIXTY_S_NS);
	for (i = 0; i < HIST_BUCKETS; i++) {
		uint64_t lo = hist_bucket_low(i), hi = hist_bucket_high(i);

		assert_true(hi >= lo);
		assert_int_equal(hist_bucket_index(lo), i);
		assert_int_equal(hist_bucket_index(hi), i);
		if (i + 1 < HIST_BUCKETS)
			assert_true(hist_bucket_low(i + 1) == hi + 1);
		if (lo > 0)
			assert_true((double)(hi - lo) < (double)lo / 100.0);
	}
}

static void test_percentiles_match_exact(void **state)
{
	enum { N = 200000 };
	static const double ps[] = { 1, 10, 50, 90, 99, 99.9, 99.99, 100 };
	uint64_t *samples = malloc(N * sizeof(*samples));
	struct hist *h = hist_new();
	uint64_t seed = 0x9e3779b97f4a7c15u;
	size_t i;

	(void)state;
	assert_non_null(samples);
	for (i = 0; i < N; i++) {
		samples[i] = random_latency(&seed);
		hist_record(h, samples[i]);
	}
	qsort(samples, N, sizeof(*samples), cmp_u64);
	for (i = 0; i < sizeof(ps) / sizeof(ps[0]); i++) {
		size_t rank = (size_t)(ps[i] / 100.0 * N + 0.999999);

		if (rank < 1)
			rank = 1;
		assert_within_1pct(hist_percentile(h, ps[i]), samples[rank - 1]);
	}
	assert_int_equal(hist_percentile(h, 100.0), samples[N - 1]);
	assert_int_equal(h->min, samples[0]);
	free(samples);
	hist_free(h);
}

static void test_merge_equals_combined(void **state)
{
	struct hist *a = hist_new(), *b = hist_new(), *all = hist_new();
	uint64_t seed = 42;
	int i;

	(void)state;
	for (i = 0; i < 50000; i++) {
		uint64_t v = random_latency(&seed);

		hist_record(i % 3 ? a : b, v);
		hist_record(all, v);
	}
	hist_merge(a, b);
	assert_int_equal(a->count, all->count);
	assert_int_equal(a->min, all->min);
	assert_int_equal(a->max, all->max);
	assert_memory_equal(a->counts, all->counts, sizeof(a->counts));
	assert_int_equal(hist_percentile(a, 99.9), hist_percentile(all, 99.9));
	hist_reset(b);
	hist_merge(a, b); /* merging an empty one changes nothing */
	assert_int_equal(a->count, all->count);
	assert_int_equal(a->min, all->min);
	hist_free(a);
	hist_free(b);
	hist_free(all);
}

static void test_clamp_above_max(void **state)
{
	struct hist *h = hist_new();
	uint64_t huge = HIST_MAX_VALUE * 4;

	(void)state;
	hist_record(h, 1000);
	hist_record(h, huge);
	assert_int_equal(h->count, 2);
	assert_int_equal(h->clamped, 1);
	assert_true(h->max == huge);
	assert_true(hist_percentile(h, 100.0) == huge);
	assert_true(hist_percentile(h, 50.0) <= 1007);
	hist_free(h);
}

static void test_reset(void **state)
{
	struct hist *h = hist_new();

	(void)state;
	hist_record(h, 5);
	hist_reset(h);
	assert_int_equal(h->count, 0);
	assert_int_equal(hist_percentile(h, 50.0), 0);
	hist_record(h, 7);
	assert_int_equal(h->min, 7);
	hist_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_small_values_exact),
		cmocka_unit_test(test_single_value),
		cmocka_unit_test(test_bucket_layout),
		cmocka_unit_test(test_percentiles_match_exact),
		cmocka_unit_test(test_merge_equals_combined),
		cmocka_unit_test(test_clamp_above_max),
		cmocka_unit_test(test_reset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
