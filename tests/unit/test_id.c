/* SPDX-License-Identifier: MIT */
/* Unit tests of common/id: format, order, uniqueness across generators. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "id.h"

static void test_format_and_time(void **state)
{
	(void)state;
	struct id_gen g;
	char id[ID_LEN + 1];
	id_gen_init(&g, "node-a", 1234);
	id_next(&g, 1700000000123ull, id);
	assert_int_equal(strlen(id), ID_LEN);
	assert_true(id_valid(id, strlen(id)));
	assert_int_equal(id_time_ms(id), 1700000000123ull);
	assert_false(id_valid("short", 5));
	assert_false(id_valid("0000000000000000000000000U", ID_LEN)); /* U is not in the alphabet */
}

static void test_monotonic_even_when_clock_steps_back(void **state)
{
	(void)state;
	struct id_gen g;
	char prev[ID_LEN + 1], cur[ID_LEN + 1];
	id_gen_init(&g, "n", 1);
	id_next(&g, 5000, prev);
	uint64_t clock[] = {5000, 5000, 4000, 6000, 6000, 1, 7000};
	for (size_t i = 0; i < sizeof(clock) / sizeof(clock[0]); i++) {
		id_next(&g, clock[i], cur);
		assert_true(strcmp(prev, cur) < 0);
		memcpy(prev, cur, sizeof(cur));
	}
}

static void test_distinct_nodes_and_boots(void **state)
{
	(void)state;
	struct id_gen a, b, c;
	char ia[ID_LEN + 1], ib[ID_LEN + 1], ic[ID_LEN + 1];
	id_gen_init(&a, "broker-1", 7);
	id_gen_init(&b, "broker-2", 7);
	id_gen_init(&c, "broker-1", 8); /* a restart of broker-1 */
	id_next(&a, 42, ia);
	id_next(&b, 42, ib);
	id_next(&c, 42, ic);
	assert_string_not_equal(ia, ib);
	assert_string_not_equal(ia, ic);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_and_time),
		cmocka_unit_test(test_monotonic_even_when_clock_steps_back),
		cmocka_unit_test(test_distinct_nodes_and_boots),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
