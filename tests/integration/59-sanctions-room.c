/* SPDX-License-Identifier: MIT */
/*
 * Room-level sanctions, live: slow mode (setRoomPolicy slowMode) lets each
 * member send one message per interval; freezeRoom makes one room, or every
 * room, read only for all but its owners and admins. Each applies to the
 * next message, the sender is told why on its inbox (with when it may send
 * again), v5 senders also get PUBACK 135, and the room's events topic
 * announces the change. Freezes outlive a broker restart.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "5x-util.h"

static struct harness H;

static int setup(void **state)
{
	(void)state;
	char conf[1024];
	h_init(&H, "59-sanctions-room");
	snprintf(conf, sizeof(conf), C_ADMIN_CONF "plugin_opt_state_file %s\nplugin_opt_state_save_interval 0\n",
		 H.state_file);
	h_start_broker(&H, conf);
	return 0;
}

/* A room with alice as owner and bob, carol as members. */
static void make_room(struct tc *a, const char *room)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd),
		 "{\"commands\":[{\"command\":\"createRoom\",\"room\":\"%s\"},"
		 "{\"command\":\"addRoomMember\",\"room\":\"%s\",\"user\":\"alice\",\"role\":\"owner\"},"
		 "{\"command\":\"addRoomMember\",\"room\":\"%s\",\"user\":\"bob\"},"
		 "{\"command\":\"addRoomMember\",\"room\":\"%s\",\"user\":\"carol\"}]}",
		 room, room, room, room);
	cJSON *reply = c_request(a, cmd);
	const cJSON *resp;
	cJSON_ArrayForEach(resp, cJSON_GetObjectItemCaseSensitive(reply, "responses")) {
		if (c_error(resp)) fail_msg("setting up %s: %s", room, c_error(resp));
	}
	cJSON_Delete(reply);
}

static void topic_of(char *buf, size_t n, const char *room, const char *what)
{
	snprintf(buf, n, "chat/rooms/%s/%s", room, what);
}

/* The next refusal on user's inbox must carry reason (and room); returns
 * its "until" (0 when absent). */
static double expect_refusal(struct tc *inbox_session, const char *user, const char *reason, const char *room)
{
	char topic[128];
	snprintf(topic, sizeof(topic), "chat/users/%s/inbox", user);
	cJSON *n = c_wait_json(inbox_session, topic);
	assert_string_equal(c_str(n, "type"), "error");
	assert_string_equal(c_str(n, "reason"), reason);
	assert_string_equal(c_str(n, "room"), room);
	const cJSON *u = cJSON_GetObjectItemCaseSensitive(n, "until");
	double until = cJSON_IsNumber(u) ? u->valuedouble : 0;
	cJSON_Delete(n);
	return until;
}

/* The next message on carol's view of room must have this text. */
static void expect_text(struct tc *listener, const char *room, const char *text)
{
	char topic[128], needle[256];
	topic_of(topic, sizeof(topic), room, "messages");
	snprintf(needle, sizeof(needle), "\"text\":\"%s\"", text);
	struct tc_msg *m = tc_wait(listener, topic, TC_WAIT_MS);
	if (!m) fail_msg("%s never reached %s", text, room);
	if (!strstr(m->payload, needle)) fail_msg("expected %s, got %s", text, m->payload);
	tc_msg_free(m);
}

static void test_slow_mode(void **state)
{
	(void)state;
	char msgs[64], events[64];
	struct tc *a = c_admin(&H, "admin-59a", TC_V5);
	make_room(a, "slow");
	topic_of(msgs, sizeof(msgs), "slow", "messages");
	topic_of(events, sizeof(events), "slow", "events");
	struct tc *carol = tc_open(&H, "carol-59a", "carol", TC_V311);
	assert_int_equal(tc_subscribe(carol, msgs, 1), 1);
	assert_int_equal(tc_subscribe(carol, events, 1), 1);
	struct tc *bob = tc_open(&H, "bob-59a", "bob", TC_V5);
	struct tc *bob3 = tc_open(&H, "bob-59a3", "bob", TC_V311);
	assert_int_equal(tc_subscribe(bob, "chat/users/bob/inbox", 1), 1);
	struct tc *alice = tc_open(&H, "alice-59a", "alice", TC_V5);

	c_fails(a, "{\"command\":\"setRoomPolicy\",\"room\":\"slow\",\"slowMode\":3601}", "slowMode");
	c_fails(a, "{\"command\":\"setRoomPolicy\",\"room\":\"slow\",\"slowMode\":1.5}", "slowMode");
	c_do(a, "{\"command\":\"setRoomPolicy\",\"room\":\"slow\",\"slowMode\":2}");
	cJSON *ev = c_wait_json(carol, events);
	assert_string_equal(c_str(ev, "type"), "slow_mode");
	assert_true(c_num(ev, "seconds") == 2);
	cJSON_Delete(ev);
	cJSON *room = c_ok(a, "{\"command\":\"getRoom\",\"room\":\"slow\"}");
	assert_true(c_num(cJSON_GetObjectItemCaseSensitive(room, "policy"), "slowMode") == 2);
	cJSON_Delete(room);

	long long sent = c_realtime_ms();
	assert_int_equal(tc_pub(bob, msgs, "one", 1), 0);
	expect_text(carol, "slow", "one");
	/* The second message within two seconds is refused, from either of
	 * bob's sessions; the notice says when the next may go. */
	assert_true(tc_pub(bob, msgs, "two", 1) >= 0x80);
	double until = expect_refusal(bob, "bob", "slow_mode", "slow");
	assert_true(until >= (double)sent + 1900 && until <= (double)sent + 2000 + 3000);
	assert_int_equal(tc_pub(bob3, msgs, "two again", 1), 0); /* 3.1.1: PUBACK cannot refuse */
	assert_true(expect_refusal(bob, "bob", "slow_mode", "slow") == until);
	/* The owner is not slowed; nothing of bob's reached the room. */
	assert_int_equal(tc_pub(alice, msgs, "owner 1", 1), 0);
	assert_int_equal(tc_pub(alice, msgs, "owner 2", 1), 0);
	expect_text(carol, "slow", "owner 1");
	expect_text(carol, "slow", "owner 2");
	/* A refused message did not restart the wait: once it has passed, bob
	 * speaks again. */
	while ((double)c_realtime_ms() < until + 50) h_sleep_ms(50);
	assert_int_equal(tc_pub(bob, msgs, "three", 1), 0);
	expect_text(carol, "slow", "three");
	/* Slow mode off: back to back again. */
	c_do(a, "{\"command\":\"setRoomPolicy\",\"room\":\"slow\",\"slowMode\":0}");
	assert_int_equal(tc_pub(bob, msgs, "four", 1), 0);
	assert_int_equal(tc_pub(bob, msgs, "five", 1), 0);
	expect_text(carol, "slow", "four");
	expect_text(carol, "slow", "five");
	cJSON *s = c_ok(a, "{\"command\":\"getStats\"}");
	assert_true(c_num(s, "messages/rejected/slow_mode") == 2);
	cJSON_Delete(s);
	tc_close(alice);
	tc_close(bob3);
	tc_close(bob);
	tc_close(carol);
	tc_close(a);
}

static void test_freeze_one_room(void **state)
{
	(void)state;
	char msgs[64], events[64];
	struct tc *a = c_admin(&H, "admin-59b", TC_V311);
	make_room(a, "stage");
	topic_of(msgs, sizeof(msgs), "stage", "messages");
	topic_of(events, sizeof(events), "stage", "events");
	struct tc *carol = tc_open(&H, "carol-59b", "carol", TC_V5);
	assert_int_equal(tc_subscribe(carol, msgs, 1), 1);
	assert_int_equal(tc_subscribe(carol, events, 1), 1);
	struct tc *bob = tc_open(&H, "bob-59b", "bob", TC_V5);
	assert_int_equal(tc_subscribe(bob, "chat/users/bob/inbox", 1), 1);
	struct tc *alice = tc_open(&H, "alice-59b", "alice", TC_V311);

	c_fails(a, "{\"command\":\"freezeRoom\",\"room\":\"nope\"}", "room not found");
	c_fails(a, "{\"command\":\"unfreezeRoom\",\"room\":\"stage\"}", "not frozen");
	c_do(a, "{\"command\":\"freezeRoom\",\"room\":\"stage\"}");
	cJSON *ev = c_wait_json(carol, events);
	assert_string_equal(c_str(ev, "type"), "frozen");
	assert_true(c_num(ev, "until") == 0);
	cJSON_Delete(ev);
	assert_true(tc_pub(bob, msgs, "let me talk", 1) >= 0x80);
	assert_true(expect_refusal(bob, "bob", "frozen", "stage") == 0);
	assert_int_equal(tc_pub(alice, msgs, "announcement", 1), 0);
	expect_text(carol, "stage", "announcement");
	cJSON *room = c_ok(a, "{\"command\":\"getRoom\",\"room\":\"stage\"}");
	assert_true(c_num(cJSON_GetObjectItemCaseSensitive(room, "frozen"), "until") == 0);
	cJSON_Delete(room);

	c_do(a, "{\"command\":\"unfreezeRoom\",\"room\":\"stage\"}");
	ev = c_wait_json(carol, events);
	assert_string_equal(c_str(ev, "type"), "unfrozen");
	cJSON_Delete(ev);
	assert_int_equal(tc_pub(bob, msgs, "thanks", 1), 0);
	expect_text(carol, "stage", "thanks");

	/* A timed freeze thaws by itself. */
	long long at = c_realtime_ms();
	c_do(a, "{\"command\":\"freezeRoom\",\"room\":\"stage\",\"seconds\":1}");
	assert_true(tc_pub(bob, msgs, "too soon", 1) >= 0x80);
	double until = expect_refusal(bob, "bob", "frozen", "stage");
	assert_true(until >= (double)at + 900 && until <= (double)at + 1000 + 3000);
	while ((double)c_realtime_ms() < until + 50) h_sleep_ms(50);
	assert_int_equal(tc_pub(bob, msgs, "thawed", 1), 0);
	expect_text(carol, "stage", "thawed");
	tc_close(alice);
	tc_close(bob);
	tc_close(carol);
	tc_close(a);
}

static void test_freeze_every_room_outlives_restart(void **state)
{
	(void)state;
	struct tc *a = c_admin(&H, "admin-59c", TC_V5);
	make_room(a, "hall");
	make_room(a, "foyer");
	c_do(a, "{\"command\":\"freezeRoom\"}");
	tc_close(a);
	assert_true(h_wait_log(H.state_file, "\"freezes\":", TC_WAIT_MS));
	h_restart_broker(&H);

	a = c_admin(&H, "admin-59c2", TC_V5);
	struct tc *bob = tc_open(&H, "bob-59c", "bob", TC_V5);
	assert_int_equal(tc_subscribe(bob, "chat/users/bob/inbox", 1), 1);
	struct tc *alice = tc_open(&H, "alice-59c", "alice", TC_V5);
	assert_true(tc_pub(bob, "chat/rooms/hall/messages", "hi hall", 1) >= 0x80);
	expect_refusal(bob, "bob", "frozen", "hall");
	assert_true(tc_pub(bob, "chat/rooms/foyer/messages", "hi foyer", 1) >= 0x80);
	expect_refusal(bob, "bob", "frozen", "foyer");
	/* A direct message is a room too. */
	assert_true(tc_pub(bob, "chat/rooms/dm:bob:carol/messages", "psst", 1) >= 0x80);
	expect_refusal(bob, "bob", "frozen", "dm:bob:carol");
	assert_true(tc_pub(alice, "chat/rooms/hall/messages", "owners still speak", 1) < 0x80); /* 0x10: nobody listens */

	c_do(a, "{\"command\":\"unfreezeRoom\"}");
	c_fails(a, "{\"command\":\"unfreezeRoom\"}", "rooms are not frozen");
	assert_true(tc_pub(bob, "chat/rooms/hall/messages", "hi hall", 1) < 0x80);
	assert_true(tc_pub(bob, "chat/rooms/dm:bob:carol/messages", "psst", 1) < 0x80);
	tc_close(alice);
	tc_close(bob);
	tc_close(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_slow_mode),
		cmocka_unit_test(test_freeze_one_room),
		cmocka_unit_test(test_freeze_every_room_outlives_restart),
	};
	int failed = cmocka_run_group_tests(tests, setup, NULL);
	return h_finish(&H, failed != 0) ? failed : 1;
}
