/* SPDX-License-Identifier: MIT */
/*
 * Unit test of common/fnv.h against the published FNV-1a test vectors
 * (Fowler, Noll and Vo's reference values for "", "a" and "foobar").
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fnv.h"

static void test_vectors(void **state)
{
	(void)state;
	assert_int_equal(fnv32(FNV32_OFFSET, "", 0), 0x811c9dc5u);
	assert_int_equal(fnv32(FNV32_OFFSET, "a", 1), 0xe40c292cu);
	assert_int_equal(fnv32(FNV32_OFFSET, "foobar", 6), 0xbf9cf968u);
	assert_true(fnv64(FNV64_OFFSET, "", 0) == 0xcbf29ce484222325ull);
	assert_true(fnv64(FNV64_OFFSET, "a", 1) == 0xaf63dc4c8601ec8cull);
	assert_true(fnv64(FNV64_OFFSET, "foobar", 6) == 0x85944171f73967e8ull);
	/* Continuing a hash equals hashing the whole; a step over a byte
	 * value equals the byte form. */
	assert_int_equal(fnv32(fnv32(FNV32_OFFSET, "foo", 3), "bar", 3), 0xbf9cf968u);
	assert_true(fnv64_step(FNV64_OFFSET, 'a') == fnv64(FNV64_OFFSET, "a", 1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_vectors)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
