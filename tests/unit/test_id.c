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

/* base32 of the low 5*n bits of v, as the layout in id.h says. */
static void ref32(char *out, uint64_t v, int n)
{
	static const char alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
	for (int i = n - 1; i >= 0; i--, v >>= 5) out[i] = alphabet[v & 31u];
}

/* Every char of a run of ids, against the layout: the time part (kept
 * when the clock steps back), the node and boot parts, the sequence. */
static void test_layout(void **state)
{
	(void)state;
	struct id_gen g, probe;
	id_gen_init(&g, "node-x", 0xABCDE);
	id_gen_init(&probe, "node-x", 0xABCDE);
	const struct {
		uint64_t now, ms, seq;
	} rows[] = {
		{0, 0, 1}, {0, 0, 2}, {1700000000123ull, 1700000000123ull, 0}, {1700000000123ull, 1700000000123ull, 1},
		{1699999999999ull, 1700000000123ull, 2}, {1700000000124ull, 1700000000124ull, 0},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char id[ID_LEN + 1], want[ID_LEN + 1];
		id_next(&g, rows[i].now, id);
		ref32(want, rows[i].ms, 10);
		ref32(want + 10, probe.node, 4);
		ref32(want + 14, probe.boot, 4);
		ref32(want + 18, rows[i].seq, 8);
		want[ID_LEN] = '\0';
		assert_string_equal(id, want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_and_time),
		cmocka_unit_test(test_monotonic_even_when_clock_steps_back),
		cmocka_unit_test(test_distinct_nodes_and_boots),
		cmocka_unit_test(test_layout),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
