/* SPDX-License-Identifier: MIT */
/* Unit tests of plugin/live_shard.c: dealing viewers into shards, merging
 * them as viewers leave, and the batch buffer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "chat_err.h"
#include "live_shard.h"

static void test_no_split(void **state)
{
	(void)state;
	struct live_shards s;
	live_shards_init(&s, 0);
	assert_int_equal(live_shards_least(&s), 0); /* nobody watching: no shard */
	for (int i = 0; i < 1000; i++) assert_int_equal(live_shards_join(&s), 1);
	assert_int_equal(s.opened, 1);
	assert_int_equal(live_shards_to_close(&s), 0);
	for (int i = 0; i < 1000; i++) live_shards_leave(&s, 1);
	assert_int_equal(s.total, 0);
	assert_int_equal(live_shards_to_close(&s), 0); /* one shard never closes */
	live_shards_free(&s);
}

/* Shards fill to their size before a new one opens. */
static void test_split(void **state)
{
	(void)state;
	struct live_shards s;
	live_shards_init(&s, 3);
	const unsigned want[] = {1, 1, 1, 2, 2, 2, 3};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) assert_int_equal(live_shards_join(&s), want[i]);
	assert_int_equal(s.opened, 3);
	assert_int_equal(live_shards_count(&s, 2), 3);
	assert_int_equal(live_shards_least(&s), 3);
	/* A leaver's place is the next joiner's: the least full shard first. */
	live_shards_leave(&s, 1);
	assert_int_equal(live_shards_join(&s), 3);
	assert_int_equal(live_shards_join(&s), 1);
	live_shards_free(&s);
}

/* The least full shard closes once the others, at three quarters, hold
 * everyone; its viewers go to the least full of the rest. */
static void test_merge(void **state)
{
	(void)state;
	struct live_shards s;
	live_shards_init(&s, 4);
	for (int i = 0; i < 9; i++) live_shards_join(&s); /* 4, 4, 1 */
	assert_int_equal(live_shards_to_close(&s), 0);
	live_shards_leave(&s, 1);
	live_shards_leave(&s, 2); /* 3, 3, 1: 7 > 2 shards * 3 */
	assert_int_equal(live_shards_to_close(&s), 0);
	live_shards_leave(&s, 2); /* 3, 2, 1: 6 fits */
	assert_int_equal(live_shards_to_close(&s), 3);
	live_shards_close(&s, 3);
	assert_int_equal(s.total, 5);
	assert_int_equal(live_shards_move(&s), 2);
	assert_int_equal(s.total, 6);
	assert_int_equal(live_shards_to_close(&s), 0); /* 3, 3: 6 > 1 shard * 3 */
	assert_int_equal(live_shards_count(&s, 3), 0);
	/* A closed number opens again first. */
	for (int i = 0; i < 3; i++) live_shards_join(&s); /* 4, 4, then a new one */
	assert_int_equal(live_shards_count(&s, 3), 1);
	/* Leaving a closed shard or shard 0 changes nothing. */
	live_shards_leave(&s, 0);
	live_shards_leave(&s, 77);
	assert_int_equal(s.total, 9);
	live_shards_free(&s);
}

/* Shrinking the size to 0 (no split) merges everything into one. */
static void test_resize(void **state)
{
	(void)state;
	struct live_shards s;
	live_shards_init(&s, 2);
	for (int i = 0; i < 6; i++) live_shards_join(&s);
	assert_int_equal(s.opened, 3);
	live_shards_resize(&s, 0);
	unsigned closing, rounds = 0;
	while ((closing = live_shards_to_close(&s)) != 0) {
		unsigned n = live_shards_count(&s, closing);
		live_shards_close(&s, closing);
		while (n--) live_shards_move(&s);
		rounds++;
	}
	assert_int_equal(rounds, 2);
	assert_int_equal(s.opened, 1);
	assert_int_equal(s.total, 6);
	live_shards_free(&s);
}

static void test_batch(void **state)
{
	(void)state;
	struct live_batch b;
	struct strbuf out;
	live_batch_init(&b);
	strbuf_init(&out);
	assert_int_equal(live_batch_take(&b, "r", 1, UINT64_MAX, &out), CHAT_OK);
	assert_string_equal(out.buf, "{\"type\":\"batch\",\"room\":\"r\",\"shard\":1,\"messages\":[]}");
	assert_int_equal(live_batch_add(&b, "{\"id\":\"a\"}", 10), CHAT_OK);
	assert_int_equal(live_batch_add(&b, "{\"id\":\"b\"}", 10), CHAT_OK);
	assert_int_equal(b.n, 2);
	assert_true(live_batch_bytes(&b) >= 21);
	assert_int_equal(live_batch_take(&b, "stadium", 12, 19000, &out), CHAT_OK);
	assert_string_equal(out.buf, "{\"type\":\"batch\",\"room\":\"stadium\",\"shard\":12,\"viewers\":19000,"
				     "\"messages\":[{\"id\":\"a\"},{\"id\":\"b\"}]}");
	assert_int_equal(b.n, 0); /* taken: the next batch starts empty */
	assert_int_equal(live_batch_add(&b, "{\"id\":\"c\"}", 10), CHAT_OK);
	assert_int_equal(live_batch_take(&b, "r", 1, UINT64_MAX, &out), CHAT_OK);
	assert_non_null(strstr(out.buf, "[{\"id\":\"c\"}]"));
	live_batch_free(&b);
	strbuf_free(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_split), cmocka_unit_test(test_split),  cmocka_unit_test(test_merge),
		cmocka_unit_test(test_resize),   cmocka_unit_test(test_batch),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
