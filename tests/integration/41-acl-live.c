/* SPDX-License-Identifier: MIT */
/*
 * Membership is checked on every delivery: a member removed through the
 * admin API stops receiving the room at once, on the connection and the
 * subscription they already have (MQTT 5 and 3.1.1), and can no longer
 * write to it; added back, they receive again, still without reconnecting.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "4x-util.h"

#define LIVE "chat/rooms/live/messages"
#define SIDE "chat/rooms/side/messages"

static struct harness H;

static int setup(void **state)
{
	(void)state;
	h_init(&H, "41-acl-live");
	h_start_broker(&H, X_BASE_CONF);
	struct tc *admin = x_admin(&H, "admin-setup");
	const char *rooms[] = {"live", "side"};
	for (int i = 0; i < 2; i++) {
		x_create_room(admin, rooms[i]);
		x_add_member(admin, rooms[i], "alice", "owner");
		x_add_member(admin, rooms[i], "bob", "member");
		x_add_member(admin, rooms[i], "carol", "member");
	}
	tc_close(admin);
	return 0;
}

static void expect_text(struct tc *c, const char *topic, const char *text)
{
	char want[128];
	snprintf(want, sizeof(want), "\"text\":\"%s\"", text);
	struct tc_msg *m = tc_wait(c, topic, TC_WAIT_MS);
	if (!m) fail_msg("%s never arrived on %s", text, topic);
	assert_non_null(strstr(m->payload, want));
	tc_msg_free(m);
}

static void test_removal_cuts_delivery(void **state)
{
	(void)state;
	struct tc *admin = x_admin(&H, "admin-live");
	struct tc *alice = tc_open(&H, "live-alice", "alice", TC_V5);
	struct tc *bob = tc_open(&H, "live-bob", "bob", TC_V5);
	struct tc *carol = tc_open(&H, "live-carol", "carol", TC_V311);
	struct tc *subs[] = {bob, carol};
	for (int i = 0; i < 2; i++) {
		assert_int_equal(tc_subscribe(subs[i], LIVE, 1), 1);
		assert_int_equal(tc_subscribe(subs[i], SIDE, 1), 1);
	}
	assert_true(tc_pub(alice, LIVE, "before", 1) < 0x80);
	expect_text(bob, LIVE, "before");
	expect_text(carol, LIVE, "before");

	x_remove_member(admin, "live", "bob");
	x_remove_member(admin, "live", "carol");
	assert_true(tc_pub(alice, LIVE, "after", 1) < 0x80);
	/* The same subscriptions, no reconnect: nothing from live, and the
	 * marker alice sends afterwards to the other room does arrive. */
	assert_true(x_not_before_marker(bob, LIVE, alice, SIDE, "marker-bob"));
	assert_true(x_not_before_marker(carol, LIVE, alice, SIDE, "marker-carol"));
	assert_true(tc_connected(bob) && tc_connected(carol));
	/* Nor may bob write there any more. */
	assert_int_equal(tc_pub(bob, LIVE, "still here?", 1), 0x87);

	x_add_member(admin, "live", "bob", "member");
	assert_true(tc_pub(alice, LIVE, "welcome back", 1) < 0x80);
	expect_text(bob, LIVE, "welcome back");
	assert_true(x_not_before_marker(carol, LIVE, alice, SIDE, "marker-carol-2"));
	tc_close(admin);
	tc_close(alice);
	tc_close(bob);
	tc_close(carol);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_removal_cuts_delivery),
	};
	int failed = cmocka_run_group_tests(tests, setup, NULL);
	return h_finish(&H, failed != 0) ? failed : 1;
}
