/* SPDX-License-Identifier: MIT */
/*
 * Unit test of common/oatable.c, the open-addressing index. Entries are
 * an array of keys with a chosen hash each (ref = index + 1), so a test
 * can make every key collide, cluster at the end of the array to wrap
 * around, or take FNV-1a of a string as the plugin does. After the random
 * runs every slot is checked to be reachable from its home without
 * crossing an empty slot: the invariant that backward shift keeps.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fnv.h"
#include "oatable.h"

#define MAXE 5000

/* The caller's side: key k of entry ref is keys[ref - 1], hashed to hashes[ref - 1]. */
struct entries {
	uint32_t keys[MAXE];
	uint32_t hashes[MAXE];
};

static uint32_t e_hash(uint32_t ref, const void *ctx)
{
	const struct entries *e = ctx;
	return e->hashes[ref - 1];
}

static bool e_eq(uint32_t ref, const void *key, const void *ctx)
{
	const struct entries *e = ctx;
	return e->keys[ref - 1] == *(const uint32_t *)key;
}

static uint32_t find(const struct oatable *t, const struct entries *e, uint32_t key, uint32_t h)
{
	(void)e;
	return oatable_find(t, h, e_eq, &key);
}

/* A counting allocator that fails on demand. */
static int allocs, frees, fail_after = -1;

static void *t_calloc(size_t n, size_t size)
{
	if (fail_after == 0) return NULL;
	if (fail_after > 0) fail_after--;
	allocs++;
	return calloc(n, size);
}

static void t_free(void *p)
{
	if (p) frees++;
	free(p);
}

static const struct oatable_alloc counting = {t_calloc, t_free};

static uint32_t next_random(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/* Every occupied slot is reachable from its home, at most half are taken,
 * and count says how many. */
static void check_invariant(const struct oatable *t)
{
	size_t n = t->mask + 1, used = 0;
	for (size_t i = 0; i < n; i++) {
		if (!t->slots[i]) continue;
		used++;
		for (size_t j = t->hash(t->slots[i], t->ctx) & t->mask; j != i; j = (j + 1) & t->mask) {
			assert_true(t->slots[j] != 0);
		}
	}
	assert_int_equal(used, t->count);
	if (t->count) assert_true(t->count * 2 <= n);
}

static void test_empty(void **state)
{
	(void)state;
	static struct entries e;
	struct oatable t;
	oatable_init(&t, e_hash, &e, NULL);
	assert_int_equal(find(&t, &e, 7, 7), 0);
	assert_false(oatable_remove(&t, 7, 1));
	assert_false(oatable_replace(&t, 7, 1, 2));
	oatable_free(&t);
	oatable_free(&t); /* twice, and NULL: no-ops */
	oatable_free(NULL);
	assert_int_equal(find(&t, &e, 7, 7), 0);
}

static void test_insert_find_fnv(void **state)
{
	(void)state;
	static struct entries e;
	static char names[MAXE][16];
	struct oatable t;
	oatable_init(&t, e_hash, &e, NULL);
	for (uint32_t k = 0; k < MAXE; k++) {
		int len = snprintf(names[k], sizeof(names[k]), "user%u", k);
		e.keys[k] = k;
		e.hashes[k] = fnv32(FNV32_OFFSET, names[k], (size_t)len);
		assert_int_equal(oatable_insert(&t, e.hashes[k], k + 1), CHAT_OK);
	}
	assert_int_equal(t.count, MAXE);
	for (uint32_t k = 0; k < MAXE; k++) assert_int_equal(find(&t, &e, k, e.hashes[k]), k + 1);
	/* A key that is not there, under any of the hashes. */
	assert_int_equal(find(&t, &e, MAXE + 1, e.hashes[17]), 0);
	check_invariant(&t);
	oatable_free(&t);
}

/* Every key under one hash: an attacker's worst case is slow, not wrong. */
static void test_adversarial_collisions(void **state)
{
	(void)state;
	static struct entries e;
	struct oatable t;
	oatable_init(&t, e_hash, &e, NULL);
	const uint32_t n = 1000;
	for (uint32_t k = 0; k < n; k++) {
		e.keys[k] = k * 7919;
		e.hashes[k] = 0xdeadbeef;
		assert_int_equal(oatable_insert(&t, e.hashes[k], k + 1), CHAT_OK);
	}
	for (uint32_t k = 0; k < n; k++) assert_int_equal(find(&t, &e, k * 7919, 0xdeadbeef), k + 1);
	/* Remove every other one, from the middle of the run as well as its ends. */
	for (uint32_t k = 0; k < n; k += 2) assert_true(oatable_remove(&t, 0xdeadbeef, k + 1));
	for (uint32_t k = 0; k < n; k++) {
		assert_int_equal(find(&t, &e, k * 7919, 0xdeadbeef), k % 2 ? k + 1 : 0);
	}
	assert_false(oatable_remove(&t, 0xdeadbeef, 1)); /* gone already */
	check_invariant(&t);
	oatable_free(&t);
}

/* Keys homed at the last slots wrap to the start; deleting across the
 * wrap must move the wrapped entries back correctly. */
static void test_wraparound(void **state)
{
	(void)state;
	static struct entries e;
	struct oatable t;
	oatable_init(&t, e_hash, &e, NULL);
	assert_int_equal(oatable_reserve(&t, 8), CHAT_OK);
	size_t slots = t.mask + 1;
	assert_int_equal(slots, 16);
	/* Homes 15, 15, 14, 15, 0: the run wraps into slots 0..1. */
	const uint32_t homes[] = {15, 15, 14, 15, 0};
	for (uint32_t k = 0; k < 5; k++) {
		e.keys[k] = 100 + k;
		e.hashes[k] = homes[k] + 16 * 1000; /* high bits beyond the mask must not matter */
		assert_int_equal(oatable_insert(&t, e.hashes[k], k + 1), CHAT_OK);
	}
	assert_int_equal(t.mask + 1, slots); /* 5 of 16: no growth */
	assert_int_equal(t.slots[15], 1);
	assert_int_equal(t.slots[0], 2);
	assert_int_equal(t.slots[14], 3);
	check_invariant(&t);
	assert_true(oatable_remove(&t, e.hashes[0], 1)); /* the run's head, at the end */
	check_invariant(&t);
	for (uint32_t k = 1; k < 5; k++) assert_int_equal(find(&t, &e, 100 + k, e.hashes[k]), k + 1);
	assert_true(oatable_remove(&t, e.hashes[2], 3));
	assert_true(oatable_remove(&t, e.hashes[3], 4));
	check_invariant(&t);
	assert_int_equal(find(&t, &e, 101, e.hashes[1]), 2);
	assert_int_equal(find(&t, &e, 104, e.hashes[4]), 5);
	oatable_free(&t);
}

/* Doubling at half full, keeping every entry; reserve makes the next
 * inserts allocation-free. */
static void test_growth(void **state)
{
	(void)state;
	static struct entries e;
	struct oatable t;
	allocs = frees = 0;
	fail_after = -1;
	oatable_init(&t, e_hash, &e, &counting);
	assert_int_equal(allocs, 0);
	size_t last = 0;
	for (uint32_t k = 0; k < 4096; k++) {
		e.keys[k] = k;
		e.hashes[k] = k * 2654435761u;
		assert_int_equal(oatable_insert(&t, e.hashes[k], k + 1), CHAT_OK);
		size_t slots = t.mask + 1;
		assert_true(t.count * 2 <= slots);
		if (slots != last) {
			assert_true(last == 0 || slots == last * 2);
			/* It grew exactly when the previous array was half full. */
			assert_true(last == 0 || t.count == last / 2 + 1);
			last = slots;
		}
	}
	assert_int_equal(last, 8192);
	assert_int_equal(allocs, 10); /* 16, 32, ..., 8192 */
	assert_int_equal(frees, 9);
	for (uint32_t k = 0; k < 4096; k++) assert_int_equal(find(&t, &e, k, e.hashes[k]), k + 1);
	/* Reserving room for 1000 more: one allocation now, none after. */
	assert_int_equal(oatable_reserve(&t, 1000), CHAT_OK);
	int before = allocs;
	for (uint32_t k = 4096; k < 5000; k++) {
		e.keys[k] = k;
		e.hashes[k] = k * 2654435761u;
		assert_int_equal(oatable_insert(&t, e.hashes[k], k + 1), CHAT_OK);
	}
	assert_int_equal(allocs, before);
	check_invariant(&t);
	oatable_free(&t);
	assert_int_equal(allocs, frees);
}

/* A full table (half its slots taken) that cannot grow refuses the next
 * insert and stays as it was; an impossible reserve is refused too. */
static void test_full_table(void **state)
{
	(void)state;
	static struct entries e;
	struct oatable t;
	allocs = frees = 0;
	fail_after = -1;
	oatable_init(&t, e_hash, &e, &counting);
	for (uint32_t k = 0; k < 8; k++) {
		e.keys[k] = k;
		e.hashes[k] = 3; /* one run, to make it harder */
		assert_int_equal(oatable_insert(&t, e.hashes[k], k + 1), CHAT_OK);
	}
	assert_int_equal(t.mask + 1, 16);
	fail_after = 0;
	e.keys[8] = 8;
	e.hashes[8] = 3;
	assert_int_equal(oatable_insert(&t, 3, 9), CHAT_ERR_NOMEM);
	assert_int_equal(oatable_reserve(&t, 1), CHAT_ERR_NOMEM);
	assert_int_equal(t.count, 8);
	assert_int_equal(t.mask + 1, 16);
	for (uint32_t k = 0; k < 8; k++) assert_int_equal(find(&t, &e, k, 3), k + 1);
	assert_int_equal(find(&t, &e, 8, 3), 0);
	check_invariant(&t);
	/* Deleting makes room again without allocating. */
	assert_true(oatable_remove(&t, 3, 4));
	assert_int_equal(oatable_insert(&t, 3, 9), CHAT_OK);
	assert_int_equal(find(&t, &e, 8, 3), 9);
	fail_after = -1;
	assert_int_equal(oatable_reserve(&t, SIZE_MAX / 2), CHAT_ERR_NOMEM);
	assert_int_equal(oatable_reserve(&t, SIZE_MAX), CHAT_ERR_NOMEM);
	assert_int_equal(t.count, 8);
	oatable_free(&t);
	assert_int_equal(allocs, frees);
	/* The first allocation failing leaves an empty table that still answers. */
	fail_after = 0;
	oatable_init(&t, e_hash, &e, &counting);
	assert_int_equal(oatable_insert(&t, 3, 1), CHAT_ERR_NOMEM);
	assert_int_equal(find(&t, &e, 0, 3), 0);
	oatable_free(&t);
	fail_after = -1;
}

static void test_replace(void **state)
{
	(void)state;
	static struct entries e;
	struct oatable t;
	oatable_init(&t, e_hash, &e, NULL);
	for (uint32_t k = 0; k < 3; k++) {
		e.keys[k] = k;
		e.hashes[k] = 5;
		assert_int_equal(oatable_insert(&t, 5, k + 1), CHAT_OK);
	}
	/* Entry 2 moves to index 9 (ref 10), as a swap-remove does. */
	e.keys[9] = e.keys[1];
	e.hashes[9] = 5;
	assert_true(oatable_replace(&t, 5, 2, 10));
	assert_int_equal(find(&t, &e, 1, 5), 10);
	assert_false(oatable_replace(&t, 5, 2, 11));
	assert_int_equal(t.count, 3);
	check_invariant(&t);
	oatable_free(&t);
}

/* Random inserts and deletes in few, clustered homes (hash = key % 61 over
 * a small key space) against a plain model of which keys are in. */
static void test_random_churn(void **state)
{
	(void)state;
	static struct entries e;
	static bool in[MAXE];
	struct oatable t;
	oatable_init(&t, e_hash, &e, NULL);
	for (uint32_t k = 0; k < MAXE; k++) {
		e.keys[k] = k;
		e.hashes[k] = (k % 61) * 0x10001u; /* low bits clustered */
		in[k] = false;
	}
	uint32_t seed = 2463534242u;
	size_t live = 0;
	for (int step = 1; step <= 300000; step++) {
		uint32_t k = next_random(&seed) % 1200;
		if (in[k]) {
			assert_true(oatable_remove(&t, e.hashes[k], k + 1));
			in[k] = false;
			live--;
		} else {
			assert_int_equal(find(&t, &e, k, e.hashes[k]), 0);
			assert_int_equal(oatable_insert(&t, e.hashes[k], k + 1), CHAT_OK);
			in[k] = true;
			live++;
		}
		assert_int_equal(t.count, live);
		if (step % 30000 == 0) {
			check_invariant(&t);
			for (uint32_t j = 0; j < 1200; j++) {
				assert_int_equal(find(&t, &e, j, e.hashes[j]), in[j] ? j + 1 : 0);
			}
		}
	}
	oatable_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_insert_find_fnv),
		cmocka_unit_test(test_adversarial_collisions),
		cmocka_unit_test(test_wraparound),
		cmocka_unit_test(test_growth),
		cmocka_unit_test(test_full_table),
		cmocka_unit_test(test_replace),
		cmocka_unit_test(test_random_churn),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
