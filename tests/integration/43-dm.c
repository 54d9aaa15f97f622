/* SPDX-License-Identifier: MIT */
/*
 * Direct-message rooms dm:{a}:{b}: created by the first accepted message
 * of a or b when the DM policy allows it (anyone; shared = the default,
 * users who share a room; nobody), with exactly a and b as members and
 * both rooms lists republished. A refused message creates nothing, and
 * nobody else can read or write the room.
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

static struct harness H;

static int setup(void **state)
{
	(void)state;
	h_init(&H, "43-dm");
	return 0;
}

static char *get_room(struct tc *admin, const char *room)
{
	char cmd[160];
	snprintf(cmd, sizeof(cmd), "{\"command\":\"getRoom\",\"room\":\"%s\"}", room);
	return x_cmd_reply(admin, cmd);
}

static void assert_no_room(struct tc *admin, const char *room)
{
	char *reply = get_room(admin, room);
	if (!strstr(reply, "\"error\"")) fail_msg("%s exists: %s", room, reply);
	free(reply);
}

/* Waits for a rooms list on c's chat/users/{user}/rooms that names room. */
static void expect_rooms_list(struct tc *c, const char *user, const char *room)
{
	char topic[96], want[160];
	snprintf(topic, sizeof(topic), "chat/users/%s/rooms", user);
	snprintf(want, sizeof(want), "\"room\":\"%s\"", room);
	for (;;) {
		struct tc_msg *m = tc_wait(c, topic, TC_WAIT_MS);
		if (!m) fail_msg("no rooms list with %s for %s", room, user);
		bool found = strstr(m->payload, want) != NULL;
		tc_msg_free(m);
		if (found) return;
	}
}

static void expect_from(struct tc *c, const char *topic, const char *from)
{
	char want[96];
	snprintf(want, sizeof(want), "\"from\":\"%s\"", from);
	struct tc_msg *m = tc_wait(c, topic, TC_WAIT_MS);
	if (!m) fail_msg("nothing on %s", topic);
	assert_non_null(strstr(m->payload, want));
	tc_msg_free(m);
}

static void test_anyone(void **state)
{
	(void)state;
	const char *dm = "chat/rooms/dm:dave:eve/messages";
	h_start_broker(&H, X_BASE_CONF "plugin_opt_dm_policy anyone\n");
	struct tc *admin = x_admin(&H, "admin-any");
	struct tc *dave = tc_open(&H, "any-dave", "dave", TC_V5);
	struct tc *eve = tc_open(&H, "any-eve", "eve", TC_V311);
	struct tc *carol = tc_open(&H, "any-carol", "carol", TC_V5);
	/* Both parties may subscribe before the room exists; nobody else. */
	assert_int_equal(tc_subscribe(eve, dm, 1), 1);
	assert_int_equal(tc_subscribe(dave, dm, 1), 1);
	assert_int_equal(tc_subscribe(carol, dm, 1), 0x87);
	assert_int_equal(tc_subscribe(eve, "chat/users/eve/rooms", 1), 1);
	assert_int_equal(tc_subscribe(dave, "chat/users/dave/rooms", 1), 1);
	assert_no_room(admin, "dm:dave:eve");

	assert_true(tc_pub(dave, dm, "hi eve, we share nothing", 1) < 0x80);
	expect_from(eve, dm, "dave");
	expect_rooms_list(eve, "eve", "dm:dave:eve");
	expect_rooms_list(dave, "dave", "dm:dave:eve");
	expect_from(dave, dm, "dave"); /* his own, echoed */
	assert_true(tc_pub(eve, dm, "hi dave", 1) == 0);
	expect_from(dave, dm, "eve");

	char *reply = get_room(admin, "dm:dave:eve");
	assert_null(strstr(reply, "\"error\""));
	assert_non_null(strstr(reply, "\"user\":\"dave\""));
	assert_non_null(strstr(reply, "\"user\":\"eve\""));
	assert_null(strstr(reply, "carol"));
	free(reply);
	assert_int_equal(tc_pub(carol, dm, "let me in", 1), 0x87);
	/* The id names a before b: the reversed one is not a room at all. */
	assert_int_equal(tc_pub(dave, "chat/rooms/dm:eve:dave/messages", "hi", 1), 0x87);
	tc_close(admin);
	tc_close(dave);
	tc_close(eve);
	tc_close(carol);
}

/* No plugin_opt_dm_policy: the default is "shared". */
static void test_shared_is_default(void **state)
{
	(void)state;
	h_start_broker(&H, X_BASE_CONF);
	struct tc *admin = x_admin(&H, "admin-shared");
	x_create_room(admin, "general");
	x_add_member(admin, "general", "alice", "member");
	x_add_member(admin, "general", "bob", "member");
	x_add_member(admin, "general", "carol", "reader");
	struct tc *alice = tc_open(&H, "sh-alice", "alice", TC_V5);
	struct tc *bob = tc_open(&H, "sh-bob", "bob", TC_V5);
	struct tc *dave = tc_open(&H, "sh-dave", "dave", TC_V5);
	assert_int_equal(tc_subscribe(bob, "chat/rooms/dm:alice:bob/messages", 1), 1);
	assert_int_equal(tc_subscribe(alice, "chat/users/alice/rooms", 1), 1);
	assert_true(tc_pub(alice, "chat/rooms/dm:alice:bob/messages", "psst", 1) < 0x80);
	expect_from(bob, "chat/rooms/dm:alice:bob/messages", "alice");
	expect_rooms_list(alice, "alice", "dm:alice:bob");

	/* Strangers may not. */
	assert_int_equal(tc_pub(dave, "chat/rooms/dm:dave:eve/messages", "hi", 1), 0x87);
	assert_no_room(admin, "dm:dave:eve");
	/* A refused first message (invalid UTF-8) creates nothing; the next
	 * good one does. Sharing a room as a reader counts. */
	const char bad[] = "\xC0\xAF";
	assert_int_equal(tc_publish(bob, "chat/rooms/dm:bob:carol/messages", bad, 2, 1, false, NULL), 0x87);
	assert_no_room(admin, "dm:bob:carol");
	assert_true(tc_pub(bob, "chat/rooms/dm:bob:carol/messages", "hello carol", 1) < 0x80);
	char *reply = get_room(admin, "dm:bob:carol");
	assert_null(strstr(reply, "\"error\""));
	free(reply);
	tc_close(admin);
	tc_close(alice);
	tc_close(bob);
	tc_close(dave);
}

static void test_nobody(void **state)
{
	(void)state;
	h_start_broker(&H, X_BASE_CONF "plugin_opt_dm_policy nobody\n");
	struct tc *admin = x_admin(&H, "admin-nobody");
	x_create_room(admin, "general");
	x_add_member(admin, "general", "alice", "member");
	x_add_member(admin, "general", "bob", "member");
	struct tc *alice = tc_open(&H, "no-alice", "alice", TC_V5);
	assert_int_equal(tc_subscribe(alice, "chat/users/alice/inbox", 1), 1);
	assert_int_equal(tc_pub(alice, "chat/rooms/dm:alice:bob/messages", "psst", 1), 0x87);
	struct tc_msg *m = tc_wait(alice, "chat/users/alice/inbox", TC_WAIT_MS);
	assert_non_null(m);
	assert_non_null(strstr(m->payload, "\"reason\":\"dm_not_allowed\""));
	tc_msg_free(m);
	assert_no_room(admin, "dm:alice:bob");
	tc_close(admin);
	tc_close(alice);
}

/* Under "shared", a room whose own dmPolicy is "nobody" (a big lobby, say)
 * does not count as a room in common; any other common room does. */
static void test_room_policy_nobody(void **state)
{
	(void)state;
	const char *dm = "chat/rooms/dm:dave:eve/messages";
	h_start_broker(&H, X_BASE_CONF);
	struct tc *admin = x_admin(&H, "admin-roompol");
	x_create_room(admin, "lobby");
	x_add_member(admin, "lobby", "dave", "member");
	x_add_member(admin, "lobby", "eve", "member");
	x_cmd(admin, "{\"command\":\"setRoomPolicy\",\"room\":\"lobby\",\"dmPolicy\":\"nobody\"}");
	struct tc *dave = tc_open(&H, "rp-dave", "dave", TC_V5);
	assert_int_equal(tc_pub(dave, dm, "hi from the lobby", 1), 0x87);
	assert_no_room(admin, "dm:dave:eve");
	x_create_room(admin, "team");
	x_add_member(admin, "team", "dave", "member");
	x_add_member(admin, "team", "eve", "reader");
	assert_true(tc_pub(dave, dm, "hi teammate", 1) < 0x80);
	char *reply = get_room(admin, "dm:dave:eve");
	assert_null(strstr(reply, "\"error\""));
	free(reply);
	tc_close(admin);
	tc_close(dave);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_anyone),
		cmocka_unit_test(test_shared_is_default),
		cmocka_unit_test(test_nobody),
		cmocka_unit_test(test_room_policy_nobody),
	};
	int failed = cmocka_run_group_tests(tests, setup, NULL);
	return h_finish(&H, failed != 0) ? failed : 1;
}
