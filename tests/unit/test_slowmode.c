/* SPDX-License-Identifier: MIT */
/*
 * Unit test of plugin/slowmode.c: the wait after an accepted message, per
 * user and per room, the interval read at each check (so a policy change
 * applies to the next message), and the sweep that forgets only entries
 * no interval can still refuse.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "slowmode.h"

static void test_wait_per_user_and_room(void **state)
{
	(void)state;
	struct slowmode s = {0};
	uint64_t until = 0;
	assert_false(slowmode_waiting(&s, "bob", "live", 5000, 1000, &until)); /* never spoke */
	assert_int_equal(slowmode_sent(&s, "bob", "live", 1000), 0);
	assert_true(slowmode_waiting(&s, "bob", "live", 5000, 1001, &until));
	assert_int_equal(until, 6000);
	assert_true(slowmode_waiting(&s, "bob", "live", 5000, 5999, &until));
	assert_false(slowmode_waiting(&s, "bob", "live", 5000, 6000, &until)); /* the interval has passed */
	assert_false(slowmode_waiting(&s, "alice", "live", 5000, 1001, &until)); /* another user */
	assert_false(slowmode_waiting(&s, "bob", "other", 5000, 1001, &until)); /* another room */
	/* The interval is the room's current one: shorter frees bob sooner,
	 * 0 (slow mode off) at once. */
	assert_false(slowmode_waiting(&s, "bob", "live", 1000, 2000, &until));
	assert_false(slowmode_waiting(&s, "bob", "live", 0, 1001, &until));
	/* Sending again moves the start of the wait. */
	assert_int_equal(slowmode_sent(&s, "bob", "live", 7000), 0);
	assert_true(slowmode_waiting(&s, "bob", "live", 5000, 8000, &until));
	assert_int_equal(until, 12000);
	slowmode_clear(&s);
	assert_null(s.by_key);
}

static void test_sweep_keeps_what_can_still_refuse(void **state)
{
	(void)state;
	struct slowmode s = {0};
	const uint64_t hour = SLOWMODE_MAX_S * 1000ull;
	assert_int_equal(slowmode_sent(&s, "old", "r", 1000), 0);
	assert_int_equal(slowmode_sent(&s, "new", "r", 1000 + hour / 2), 0);
	assert_int_equal(slowmode_sweep(&s, 1000 + hour - 1), 0);
	assert_int_equal(slowmode_sweep(&s, 1000 + hour), 1);
	assert_false(slowmode_waiting(&s, "old", "r", hour, 1000 + hour, NULL));
	assert_true(slowmode_waiting(&s, "new", "r", hour, 1000 + hour, NULL));
	slowmode_clear(&s);
}

/* Longest ids: "user/room" fills the key exactly. */
static void test_longest_ids(void **state)
{
	(void)state;
	char user[TOPIC_ID_MAX + 1], room[TOPIC_ROOM_MAX + 1];
	memset(user, 'u', TOPIC_ID_MAX);
	user[TOPIC_ID_MAX] = '\0';
	memset(room, 'r', TOPIC_ROOM_MAX);
	room[TOPIC_ROOM_MAX] = '\0';
	struct slowmode s = {0};
	assert_int_equal(slowmode_sent(&s, user, room, 1), 0);
	assert_true(slowmode_waiting(&s, user, room, 10, 2, NULL));
	room[TOPIC_ROOM_MAX - 1] = 'x'; /* differs in the last byte */
	assert_false(slowmode_waiting(&s, user, room, 10, 2, NULL));
	slowmode_clear(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wait_per_user_and_room),
		cmocka_unit_test(test_sweep_keeps_what_can_still_refuse),
		cmocka_unit_test(test_longest_ids),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
