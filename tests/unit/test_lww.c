/* SPDX-License-Identifier: MIT */
/* Unit tests of common/lww: the order, and that a register fed the same
 * writes in every order ends with the same value. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lww.h"

static void test_order(void **state)
{
	(void)state;
	struct lww_version old = {100, "n0", "member"}, later = {101, "n0", "reader"};
	struct lww_version same_ts_n2 = {100, "n2", "admin"}, gone = {100, "n2", NULL};
	struct lww_version file = {0, "", "owner"};
	assert_true(lww_cmp(&old, &later) < 0);
	assert_true(lww_cmp(&later, &old) > 0);
	assert_true(lww_cmp(&old, &same_ts_n2) < 0);     /* same time: node id decides */
	assert_true(lww_cmp(&gone, &same_ts_n2) < 0);    /* same version: a value beats a deletion */
	assert_true(lww_cmp(&file, &old) < 0);           /* anything versioned beats the file */
	assert_int_equal(lww_cmp(&old, &old), 0);
}

/* Applies w[order[0..n)] to an empty register, keeping what orders last. */
static struct lww_version apply(const struct lww_version *w, const int *order, int n)
{
	struct lww_version reg = {0, "", NULL};
	for (int i = 0; i < n; i++) {
		if (lww_cmp(&w[order[i]], &reg) > 0) reg = w[order[i]];
	}
	return reg;
}

static bool next_permutation(int *a, int n)
{
	int i = n - 2;
	while (i >= 0 && a[i] >= a[i + 1]) i--;
	if (i < 0) return false;
	int j = n - 1;
	while (a[j] <= a[i]) j--;
	int t = a[i];
	a[i] = a[j];
	a[j] = t;
	for (int l = i + 1, r = n - 1; l < r; l++, r--) {
		t = a[l];
		a[l] = a[r];
		a[r] = t;
	}
	return true;
}

static void test_any_order_converges(void **state)
{
	(void)state;
	/* Concurrent writes from three brokers, a deletion among them. */
	const struct lww_version w[] = {
		{500, "n0", "admin"}, {500, "n2", "reader"}, {499, "n1", "owner"}, {500, "n2", NULL}, {0, "", "member"},
	};
	int order[] = {0, 1, 2, 3, 4};
	int n = 5, runs = 0;
	do {
		struct lww_version got = apply(w, order, n);
		assert_int_equal(got.ts, 500);
		assert_string_equal(got.node, "n2");
		assert_non_null(got.value);
		assert_string_equal(got.value, "reader");
		runs++;
	} while (next_permutation(order, n));
	assert_int_equal(runs, 120);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_order),
		cmocka_unit_test(test_any_order_converges),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
