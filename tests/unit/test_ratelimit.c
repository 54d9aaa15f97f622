/* SPDX-License-Identifier: MIT */
/* Unit tests of common/ratelimit: token buckets on a test-driven clock, mute escalation and decay. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ratelimit.h"

static void test_burst_then_rate(void **state)
{
	(void)state;
	struct ratelimit rl;
	assert_int_equal(ratelimit_init(&rl, 2.0, 5.0, 1000), 0);
	for (int i = 0; i < 5; i++) assert_true(ratelimit_allow(&rl, 1000));
	assert_false(ratelimit_allow(&rl, 1000));
	assert_int_equal(ratelimit_wait_ms(&rl, 1.0, 1000), 500);
	assert_false(ratelimit_allow(&rl, 1499));
	assert_true(ratelimit_allow(&rl, 1500));
	assert_false(ratelimit_allow(&rl, 1500));
	/* A long pause refills only up to the burst. */
	for (int i = 0; i < 5; i++) assert_true(ratelimit_allow(&rl, 100000));
	assert_false(ratelimit_allow(&rl, 100000));
}

static void test_fractional_rate(void **state)
{
	(void)state;
	struct ratelimit rl;
	assert_int_equal(ratelimit_init(&rl, 0.5, 1.0, 0), 0);
	assert_true(ratelimit_allow(&rl, 0));
	int64_t t = 0;
	for (int i = 0; i < 10; i++) {
		t += 200; /* ten small refills of 0.1 make one token */
		bool ok = ratelimit_allow(&rl, t);
		assert_true(ok == (i == 9));
	}
}

/* ratelimit_wait_take answers as ratelimit_wait_ms and leaves what
 * ratelimit_take leaves, bit for bit, over uneven steps of the clock (one
 * going back among them); on a wait it leaves both buckets alone. */
static void test_wait_take(void **state)
{
	(void)state;
	struct ratelimit a, b, after;
	assert_int_equal(ratelimit_init(&a, 0.7, 3.0, 1000), 0);
	b = a;
	int64_t t = 1000;
	const int64_t steps[] = {0, 1, 130, 7, 999, 333, -50, 2, 1428, 0, 77};
	for (int i = 0; i < 200; i++) {
		t += steps[i % (int)(sizeof(steps) / sizeof(steps[0]))];
		int64_t wait = ratelimit_wait_ms(&a, 1.0, t);
		struct ratelimit before = b;
		after = b;
		after.tokens = -1;
		assert_int_equal(ratelimit_wait_take(&b, 1.0, t, &after), wait);
		assert_memory_equal(&b, &before, sizeof(b));
		if (wait == 0) {
			assert_true(ratelimit_take(&a, 1.0, t));
			assert_memory_equal(&after, &a, sizeof(a));
			b = after;
		} else {
			assert_true(after.tokens == -1);
		}
	}
	assert_int_equal(ratelimit_wait_take(&b, 4.0, t, &after), INT64_MAX); /* above burst */
}

static void test_clock_back_and_zero_rate(void **state)
{
	(void)state;
	struct ratelimit rl;
	assert_int_equal(ratelimit_init(&rl, 1.0, 1.0, 5000), 0);
	assert_true(ratelimit_allow(&rl, 5000));
	assert_false(ratelimit_allow(&rl, 1000)); /* clock went back: no refill */
	assert_true(ratelimit_allow(&rl, 6000));
	assert_int_equal(ratelimit_init(&rl, 0.0, 2.0, 0), 0);
	assert_true(ratelimit_allow(&rl, 0));
	assert_true(ratelimit_allow(&rl, 0));
	assert_false(ratelimit_allow(&rl, 1000000));
	assert_int_equal(ratelimit_wait_ms(&rl, 1.0, 0), INT64_MAX);
	assert_int_equal(ratelimit_wait_ms(&rl, 3.0, 0), INT64_MAX); /* above burst */
}

static void test_invalid(void **state)
{
	(void)state;
	struct ratelimit rl;
	assert_int_equal(ratelimit_init(&rl, -1.0, 5.0, 0), CHAT_ERR_INVAL);
	assert_int_equal(ratelimit_init(&rl, 1.0, 0.5, 0), CHAT_ERR_INVAL);
	assert_int_equal(ratelimit_init(&rl, 1.0 / 0.0, 5.0, 0), CHAT_ERR_INVAL);
	assert_int_equal(ratelimit_init(NULL, 1.0, 5.0, 0), CHAT_ERR_INVAL);
	assert_int_equal(ratelimit_init(&rl, 1.0, 5.0, 0), 0);
	assert_false(ratelimit_take(&rl, -1.0, 0));
	assert_false(ratelimit_allow(NULL, 0));
}

static void test_configure(void **state)
{
	(void)state;
	struct ratelimit rl;
	assert_int_equal(ratelimit_init(&rl, 1.0, 10.0, 0), 0);
	assert_true(ratelimit_take(&rl, 4.0, 0));
	assert_int_equal(ratelimit_configure(&rl, 1.0, 3.0, 0), 0); /* 6 saved, capped at 3 */
	assert_true(ratelimit_take(&rl, 3.0, 0));
	assert_false(ratelimit_allow(&rl, 0));
	assert_int_equal(ratelimit_configure(&rl, 10.0, 3.0, 0), 0);
	assert_true(ratelimit_allow(&rl, 100));
	assert_int_equal(ratelimit_configure(&rl, 1.0, 0.0, 0), CHAT_ERR_INVAL);
}

static void test_escalation(void **state)
{
	(void)state;
	struct ratelimit_strikes s = {0};
	const int64_t min = 60 * 1000, hour = 60 * min;
	int64_t t = 1000;
	assert_int_equal(ratelimit_strike(&s, NULL, t), 10);
	assert_int_equal(ratelimit_strike(&s, NULL, t += min), 60);
	assert_int_equal(ratelimit_strike(&s, NULL, t += min), 300);
	assert_int_equal(ratelimit_strike(&s, NULL, t += min), 3600);
	assert_int_equal(ratelimit_strike(&s, NULL, t += min), 3600);
	assert_int_equal(ratelimit_strike_level(&s, NULL, t), 5);
	/* Two quiet hours forgive two levels. */
	assert_int_equal(ratelimit_strike_level(&s, NULL, t + 2 * hour), 3);
	assert_int_equal(ratelimit_strike(&s, NULL, t += 2 * hour), 3600);
	/* A long quiet period forgives everything. */
	assert_int_equal(ratelimit_strike(&s, NULL, t += 24 * hour), 10);
	assert_int_equal(ratelimit_strike(NULL, NULL, t), 0);
}

static void test_custom_ladder(void **state)
{
	(void)state;
	static const uint32_t steps[] = {5, 50};
	const struct ratelimit_ladder ladder = {steps, 2, 0};
	struct ratelimit_strikes s = {0};
	assert_int_equal(ratelimit_strike(&s, &ladder, 0), 5);
	assert_int_equal(ratelimit_strike(&s, &ladder, 1), 50);
	assert_int_equal(ratelimit_strike(&s, &ladder, 1000000000), 50); /* never decays */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_burst_then_rate),
		cmocka_unit_test(test_fractional_rate),
		cmocka_unit_test(test_wait_take),
		cmocka_unit_test(test_clock_back_and_zero_rate),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_configure),
		cmocka_unit_test(test_escalation),
		cmocka_unit_test(test_custom_ladder),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
