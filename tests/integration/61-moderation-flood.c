/* SPDX-License-Identifier: MIT */
/*
 * Flood control through the real broker, with small options so it runs in
 * seconds (20 msgs/s burst 20, 3 identical in 4 s, a mute after 2
 * refusals, a ladder of 1, 2, 3 s): the per-user bucket throttles and then
 * mutes everywhere, the mute expires at the notice's "until" and the next
 * one is longer; a room's floodRate/floodBurst (setRoomPolicy) adds a
 * stricter bucket whose offences mute in that room only; repeated
 * identical messages (after normalization, also with others between) are
 * refused; an automatic mute
 * is lifted by unmuteUser and an admin's muteUser still works; idle flood
 * state is forgotten by the sweep. Senders use MQTT 5 and 3.1.1.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "6x-util.h"

static struct harness H;

static int setup(void **state)
{
	(void)state;
	h_init(&H, "61-moderation-flood");
	h_start_broker(&H, C_ADMIN_CONF "plugin_opt_flood_rate 20\nplugin_opt_flood_burst 20\n"
					"plugin_opt_flood_repeat 3\nplugin_opt_flood_window 4\n"
					"plugin_opt_flood_mute_after 2\nplugin_opt_flood_mute_ladder 1,2,3\n"
					"plugin_opt_flood_mute_decay 60\n");
	struct tc *admin = c_admin(&H, "admin-setup", TC_V5);
	const char *users[] = {"alice", "bob", "carol", "dave", "eve"};
	c_do(admin, "{\"command\":\"createRoom\",\"room\":\"lobby\"}");
	c_do(admin, "{\"command\":\"createRoom\",\"room\":\"slow\"}");
	for (int i = 0; i < 5; i++) {
		char cmd[256];
		snprintf(cmd, sizeof(cmd), "{\"command\":\"addRoomMember\",\"room\":\"lobby\",\"user\":\"%s\"}", users[i]);
		c_do(admin, cmd);
		snprintf(cmd, sizeof(cmd), "{\"command\":\"addRoomMember\",\"room\":\"slow\",\"user\":\"%s\"}", users[i]);
		c_do(admin, cmd);
	}
	tc_close(admin);
	return 0;
}

/* Fails unless the notice's "until" lies within [lo, hi] (unix ms). */
static void expect_until(const cJSON *n, long long lo, long long hi)
{
	long long until = (long long)c_num(n, "until");
	if (until < lo || until > hi) fail_msg("until %lld not in [%lld, %lld] (%+lld ms from now)", until, lo, hi,
					       until - c_realtime_ms());
}

/* Sends distinct messages into room until two are refused (rc 135); the
 * second refusal must be the automatic mute. Returns its notice. */
static cJSON *flood_until_muted(struct tc *c, const char *user, const char *room, int *accepted)
{
	char text[64];
	int refused = 0;
	*accepted = 0;
	for (int i = 0; i < 400 && refused < 2; i++) {
		snprintf(text, sizeof(text), "message number %d of %s", i, user);
		int rc = m_send(c, room, text);
		if (rc == 0) (*accepted)++;
		else if (rc == 135) refused++;
		else fail_msg("unexpected PUBACK %d", rc);
	}
	assert_int_equal(refused, 2);
	cJSON *n = m_refusal(c, user);
	m_expect(n, "reason", "rate_limited");
	cJSON_Delete(n);
	return m_refusal(c, user);
}

/* Sleeps until the unix time t_ms has passed (a mute's announced end). */
static void sleep_until(long long t_ms)
{
	while (c_realtime_ms() < t_ms) h_sleep_ms(20);
}

static void test_user_bucket_mutes_everywhere_and_escalates(void **state)
{
	int accepted;
	(void)state;
	struct tc *bob = tc_open(&H, "ub-bob", "bob", TC_V5);
	struct tc *eve = tc_open(&H, "ub-eve", "eve", TC_V311);
	m_inbox_sub(bob, "bob");
	assert_int_equal(tc_subscribe(eve, "chat/rooms/lobby/events", 1), 1);
	long long t0 = c_realtime_ms();
	cJSON *n = flood_until_muted(bob, "bob", "lobby", &accepted);
	assert_true(accepted >= 20);
	m_expect(n, "reason", "muted");
	m_expect(n, "room", "lobby");
	expect_until(n, t0 + 1000, c_realtime_ms() + 1000);
	long long until = (long long)c_num(n, "until");
	cJSON_Delete(n);
	cJSON *ev = m_event(eve, "lobby");
	m_expect(ev, "action", "mute");
	m_expect(ev, "user", "bob");
	m_expect(ev, "scope", "all");
	m_expect(ev, "reason", "rate_limited");
	assert_int_equal((int)c_num(ev, "seconds"), 1);
	cJSON_Delete(ev);
	/* Muted everywhere, also in another room, until "until". */
	assert_int_equal(m_send(bob, "slow", "anyone there?"), 135);
	n = m_refusal(bob, "bob");
	m_expect(n, "reason", "muted");
	expect_until(n, until, until);
	cJSON_Delete(n);
	sleep_until(until + 50);
	assert_int_equal(m_send(bob, "lobby", "back again"), 0);
	/* The next offence mutes for the ladder's second step. */
	t0 = c_realtime_ms();
	n = flood_until_muted(bob, "bob", "lobby", &accepted);
	expect_until(n, t0 + 2000, c_realtime_ms() + 2000);
	cJSON_Delete(n);
	ev = m_event(eve, "lobby");
	assert_int_equal((int)c_num(ev, "seconds"), 2);
	cJSON_Delete(ev);
	tc_close(bob);
	tc_close(eve);
}

static void test_room_policy_bucket(void **state)
{
	(void)state;
	struct tc *admin = c_admin(&H, "rp-admin", TC_V5);
	struct tc *eve = tc_open(&H, "rp-eve", "eve", TC_V5);
	struct tc *dave = tc_open(&H, "rp-dave", "dave", TC_V5);
	m_inbox_sub(eve, "eve");
	m_inbox_sub(dave, "dave");
	assert_int_equal(tc_subscribe(eve, "chat/rooms/slow/events", 1), 1);
	const char *five[] = {"one", "two", "three", "four", "five"};
	for (int i = 0; i < 5; i++) assert_int_equal(m_send(eve, "slow", five[i]), 0);
	c_do(admin, "{\"command\":\"setRoomPolicy\",\"room\":\"slow\",\"floodRate\":0.5,\"floodBurst\":2}");
	/* The next messages meet the room's bucket: two, then a wait of 2 s. */
	assert_int_equal(m_send(eve, "slow", "six"), 0);
	assert_int_equal(m_send(eve, "slow", "seven"), 0);
	long long t0 = c_realtime_ms();
	assert_int_equal(m_send(eve, "slow", "eight"), 135);
	cJSON *n = m_refusal(eve, "eve");
	m_expect(n, "reason", "rate_limited");
	expect_until(n, t0 + 1000, c_realtime_ms() + 2000); /* 0.5/s: about 2 s, not the 50 ms of 20/s */
	cJSON_Delete(n);
	/* A second offence mutes in this room only. */
	assert_int_equal(m_send(dave, "slow", "a"), 0);
	assert_int_equal(m_send(dave, "slow", "b"), 0);
	assert_int_equal(m_send(dave, "slow", "c"), 135);
	assert_int_equal(m_send(dave, "slow", "d"), 135);
	cJSON_Delete(m_refusal(dave, "dave"));
	n = m_refusal(dave, "dave");
	m_expect(n, "reason", "muted");
	cJSON_Delete(n);
	cJSON *ev = m_event(eve, "slow");
	m_expect(ev, "user", "dave");
	m_expect(ev, "scope", "room");
	cJSON_Delete(ev);
	assert_int_equal(m_send(dave, "lobby", "still here"), 0);
	tc_close(admin);
	tc_close(eve);
	tc_close(dave);
}

static void test_repeats_v311(void **state)
{
	(void)state;
	struct tc *carol = tc_open(&H, "rep-carol", "carol", TC_V311);
	struct tc *alice = tc_open(&H, "rep-alice", "alice", TC_V5);
	m_inbox_sub(carol, "carol");
	assert_int_equal(tc_subscribe(alice, "chat/rooms/lobby/messages", 1), 1);
	assert_int_equal(tc_subscribe(alice, "chat/rooms/lobby/events", 1), 1);
	long long t0 = c_realtime_ms();
	cJSON_Delete(m_deliver(carol, alice, "lobby", "Hello there"));
	cJSON_Delete(m_deliver(carol, alice, "lobby", "hello THERE!!"));
	/* Same letters once normalized: the third is refused. */
	assert_int_equal(m_send(carol, "lobby", "hello thereeee"), 0); /* 3.1.1: no reason code */
	cJSON *n = m_refusal(carol, "carol");
	m_expect(n, "reason", "repeated");
	expect_until(n, t0 + 4000, c_realtime_ms() + 4000);
	cJSON_Delete(n);
	assert_true(m_nothing_before_marker(carol, alice, "lobby", "something else"));
	/* Other messages in between do not hide a repeat. */
	const char *alternating[] = {"buy now", "cheap pills", "BUY NOW!", "cheap  pills"};
	for (int i = 0; i < 4; i++) cJSON_Delete(m_deliver(carol, alice, "lobby", alternating[i]));
	assert_int_equal(m_send(carol, "lobby", "buy... now"), 0);
	n = m_refusal(carol, "carol");
	m_expect(n, "reason", "muted");
	cJSON_Delete(n);
	cJSON *ev = m_event(alice, "lobby");
	m_expect(ev, "action", "mute");
	m_expect(ev, "user", "carol");
	m_expect(ev, "reason", "repeated");
	m_expect(ev, "scope", "room");
	cJSON_Delete(ev);
	tc_close(carol);
	tc_close(alice);
}

static void test_admin_mute_interplay(void **state)
{
	(void)state;
	struct tc *admin = c_admin(&H, "ai-admin", TC_V5);
	struct tc *alice = tc_open(&H, "ai-alice", "alice", TC_V5);
	m_inbox_sub(alice, "alice");
	for (int i = 0; i < 2; i++) assert_int_equal(m_send(alice, "lobby", "same again"), 0);
	assert_int_equal(m_send(alice, "lobby", "same again"), 135);
	assert_int_equal(m_send(alice, "lobby", "same again"), 135);
	cJSON_Delete(m_refusal(alice, "alice"));
	cJSON *n = m_refusal(alice, "alice");
	m_expect(n, "reason", "muted");
	cJSON_Delete(n);
	assert_int_equal(m_send(alice, "lobby", "let me talk"), 135);
	cJSON_Delete(m_refusal(alice, "alice"));
	/* The automatic mute is a mute like any other: unmuteUser lifts it. */
	c_do(admin, "{\"command\":\"unmuteUser\",\"user\":\"alice\",\"room\":\"lobby\"}");
	assert_int_equal(m_send(alice, "lobby", "thank you"), 0);
	long long t0 = c_realtime_ms();
	c_do(admin, "{\"command\":\"muteUser\",\"user\":\"alice\",\"seconds\":60}");
	assert_int_equal(m_send(alice, "lobby", "hello?"), 135);
	n = m_refusal(alice, "alice");
	m_expect(n, "reason", "muted");
	expect_until(n, t0 + 60000, c_realtime_ms() + 60000);
	cJSON_Delete(n);
	c_do(admin, "{\"command\":\"unmuteUser\",\"user\":\"alice\"}");
	assert_int_equal(m_send(alice, "lobby", "free again"), 0);
	cJSON *stats = c_ok(admin, "{\"command\":\"getStats\"}");
	assert_true(c_num(stats, "moderation/auto_mutes") >= 5);
	assert_true(c_num(stats, "messages/rejected/rate_limited") >= 3);
	assert_true(c_num(stats, "messages/rejected/repeated") >= 2);
	cJSON_Delete(stats);
	tc_close(admin);
	tc_close(alice);
}

/* Users whose buckets are full again and whose offences lapsed are
 * forgotten by the sweep (every 10 s). */
static void test_idle_state_forgotten(void **state)
{
	(void)state;
	assert_true(h_wait_log(H.broker.log, "flood sweep: forgot", 25000));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_user_bucket_mutes_everywhere_and_escalates),
		cmocka_unit_test(test_room_policy_bucket),
		cmocka_unit_test(test_repeats_v311),
		cmocka_unit_test(test_admin_mute_interplay),
		cmocka_unit_test(test_idle_state_forgotten),
	};
	int failed = cmocka_run_group_tests(tests, setup, NULL);
	return h_finish(&H, failed != 0) ? failed : 1;
}
