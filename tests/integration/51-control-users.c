/* SPDX-License-Identifier: MIT */
/*
 * Admin API, user commands: a ban kicks every live session of the user at
 * once and refuses their logins until unbanUser or until it expires; a kick
 * only disconnects; a mute stops the user's messages in a room (or
 * everywhere) until lifted, and tells them on their inbox. MQTT 3.1.1 and 5
 * sessions side by side.
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
	h_init(&H, "51-control-users");
	h_start_broker(&H, C_ADMIN_CONF);
	return 0;
}

/* True when user can log in now (the session is closed again). */
static bool can_login(const char *client_id, const char *user, int protocol, int *connack)
{
	struct tc *c = tc_connect(&H, client_id, user, NULL, protocol, connack);
	tc_close(c);
	return c != NULL;
}

static double stat_of(struct tc *a, const char *key)
{
	cJSON *s = c_ok(a, "{\"command\":\"getStats\"}");
	double v = c_num(s, key);
	cJSON_Delete(s);
	return v;
}

static void test_ban_kicks_now_and_refuses_login_until_unban(void **state)
{
	(void)state;
	int connack = 0;
	struct tc *a = c_admin(&H, "admin-51a", TC_V5);
	struct tc *phone = tc_open(&H, "alice-phone", "alice", TC_V5);
	struct tc *web = tc_open(&H, "alice-web", "alice", TC_V311);
	struct tc *bob = tc_open(&H, "bob-51a", "bob", TC_V5);

	c_do(a, "{\"command\":\"banUser\",\"user\":\"alice\"}");
	assert_true(tc_wait_disconnect(phone, TC_WAIT_MS, NULL));
	assert_true(tc_wait_disconnect(web, TC_WAIT_MS, NULL));
	assert_true(tc_connected(bob)); /* nobody else is touched */
	assert_true(stat_of(a, "bans/count") == 1);

	assert_false(can_login("alice-again5", "alice", TC_V5, &connack));
	assert_int_equal(connack, 135); /* v5: not authorized */
	assert_false(can_login("alice-again3", "alice", TC_V311, &connack));
	assert_int_equal(connack, 5); /* 3.1.1: not authorized */

	c_do(a, "{\"command\":\"unbanUser\",\"user\":\"alice\"}");
	assert_true(can_login("alice-back", "alice", TC_V5, NULL));
	c_fails(a, "{\"command\":\"unbanUser\",\"user\":\"alice\"}", "not banned");
	assert_true(stat_of(a, "bans/count") == 0);
	tc_close(phone);
	tc_close(web);
	tc_close(bob);
	tc_close(a);
}

static void test_ban_expires(void **state)
{
	(void)state;
	struct tc *a = c_admin(&H, "admin-51b", TC_V311);
	struct tc *bob = tc_open(&H, "bob-51b", "bob", TC_V311);
	long long banned_at = h_now_ms();
	c_do(a, "{\"command\":\"banUser\",\"user\":\"bob\",\"seconds\":2}");
	assert_true(tc_wait_disconnect(bob, TC_WAIT_MS, NULL));
	assert_false(can_login("bob-early", "bob", TC_V5, NULL));
	/* Poll until the ban has run out: logins work again after two seconds. */
	bool back = false;
	while (!back && h_now_ms() - banned_at < 8000) {
		back = can_login("bob-later", "bob", TC_V5, NULL);
		if (!back) h_sleep_ms(100);
	}
	assert_true(back);
	assert_true(h_now_ms() - banned_at >= 1900);
	tc_close(bob);
	tc_close(a);
}

static void test_kick_only_disconnects(void **state)
{
	(void)state;
	struct tc *a = c_admin(&H, "admin-51c", TC_V5);
	struct tc *carol = tc_open(&H, "carol-51", "carol", TC_V311);
	struct tc *carol5 = tc_open(&H, "carol-51v5", "carol", TC_V5);
	c_do(a, "{\"command\":\"kickUser\",\"user\":\"carol\"}");
	assert_true(tc_wait_disconnect(carol, TC_WAIT_MS, NULL));
	assert_true(tc_wait_disconnect(carol5, TC_WAIT_MS, NULL));
	assert_true(can_login("carol-back", "carol", TC_V311, NULL));
	tc_close(carol);
	tc_close(carol5);
	tc_close(a);
}

static void test_bad_user_commands(void **state)
{
	(void)state;
	struct tc *a = c_admin(&H, "admin-51d", TC_V5);
	c_fails(a, "{\"command\":\"banUser\",\"user\":\"admin\"}", "themself");
	c_fails(a, "{\"command\":\"kickUser\",\"user\":\"admin\"}", "themself");
	c_fails(a, "{\"command\":\"banUser\"}", "user: missing");
	c_fails(a, "{\"command\":\"banUser\",\"user\":\"a b\"}", "not a valid user id");
	c_fails(a, "{\"command\":\"banUser\",\"user\":\"dave\",\"seconds\":-1}", "seconds");
	c_fails(a, "{\"command\":\"banUser\",\"user\":\"dave\",\"seconds\":\"10\"}", "seconds");
	c_fails(a, "{\"command\":\"banUser\",\"user\":\"dave\",\"room\":\"x\"}", "room: unknown field");
	c_fails(a, "{\"command\":\"muteUser\",\"user\":\"dave\"}", "seconds: missing");
	c_fails(a, "{\"command\":\"muteUser\",\"user\":\"dave\",\"seconds\":2.5}", "seconds");
	c_fails(a, "{\"command\":\"muteUser\",\"user\":\"dave\",\"room\":\"nope\",\"seconds\":5}", "room not found");
	c_fails(a, "{\"command\":\"unmuteUser\",\"user\":\"dave\"}", "not muted");
	c_fails(a, "{\"command\":\"kickUser\"}", "user: missing");
	assert_true(stat_of(a, "bans/count") == 0);
	assert_true(stat_of(a, "mutes/count") == 0);
	assert_true(tc_connected(a));
	tc_close(a);
}

static void test_mute_in_room_and_everywhere(void **state)
{
	(void)state;
	struct tc *a = c_admin(&H, "admin-51e", TC_V5);
	c_do(a, "{\"command\":\"createRoom\",\"room\":\"quiet\"}");
	c_do(a, "{\"command\":\"addRoomMember\",\"room\":\"quiet\",\"user\":\"dave\"}");
	c_do(a, "{\"command\":\"addRoomMember\",\"room\":\"quiet\",\"user\":\"eve\"}");
	struct tc *dave = tc_open(&H, "dave-51", "dave", TC_V5);
	struct tc *eve = tc_open(&H, "eve-51", "eve", TC_V311);
	assert_int_equal(tc_subscribe(dave, "chat/users/dave/inbox", 1), 1);
	assert_int_equal(tc_subscribe(eve, "chat/rooms/quiet/messages", 1), 1);

	long long before = c_realtime_ms();
	c_do(a, "{\"command\":\"muteUser\",\"user\":\"dave\",\"room\":\"quiet\",\"seconds\":60}");
	cJSON *notice = c_wait_json(dave, "chat/users/dave/inbox");
	assert_string_equal(c_str(notice, "type"), "muted");
	assert_string_equal(c_str(notice, "room"), "quiet");
	double until = c_num(notice, "until");
	assert_true(until >= (double)before + 59000 && until <= (double)before + 61000 + 5000);
	cJSON_Delete(notice);

	/* The mute is enforced on the message path: a v5 sender sees a
	 * failure reason code, and nothing reaches the room. */
	assert_true(tc_pub(dave, "chat/rooms/quiet/messages", "hello?", 1) >= 0x80);
	assert_int_equal(tc_pub(eve, "chat/rooms/quiet/messages", "marker", 1), 0);
	struct tc_msg *m = tc_wait(eve, "chat/rooms/quiet/messages", TC_WAIT_MS);
	assert_non_null(m);
	assert_non_null(strstr(m->payload, "\"text\":\"marker\""));
	tc_msg_free(m);

	c_do(a, "{\"command\":\"unmuteUser\",\"user\":\"dave\",\"room\":\"quiet\"}");
	assert_int_equal(tc_pub(dave, "chat/rooms/quiet/messages", "back again", 1), 0);
	m = tc_wait(eve, "chat/rooms/quiet/messages", TC_WAIT_MS);
	assert_non_null(m);
	assert_non_null(strstr(m->payload, "\"text\":\"back again\""));
	tc_msg_free(m);

	/* A mute without a room covers every room; seconds 0 = until lifted. */
	c_do(a, "{\"command\":\"muteUser\",\"user\":\"dave\",\"seconds\":0}");
	assert_true(tc_pub(dave, "chat/rooms/quiet/messages", "still?", 1) >= 0x80);
	assert_true(stat_of(a, "mutes/count") == 1);
	c_do(a, "{\"command\":\"unmuteUser\",\"user\":\"dave\"}");
	c_fails(a, "{\"command\":\"unmuteUser\",\"user\":\"dave\"}", "not muted");
	assert_int_equal(tc_pub(dave, "chat/rooms/quiet/messages", "free", 1), 0);

	/* Deleting a room drops its mutes: a room made again under the same
	 * id starts clean. */
	c_do(a, "{\"command\":\"muteUser\",\"user\":\"eve\",\"room\":\"quiet\",\"seconds\":0}");
	assert_true(stat_of(a, "mutes/count") == 1);
	c_do(a, "{\"command\":\"deleteRoom\",\"room\":\"quiet\"}");
	assert_true(stat_of(a, "mutes/count") == 0);
	/* getStats carries the traffic counters too: both refusals counted. */
	assert_true(stat_of(a, "messages/rejected/muted") >= 2);
	tc_close(dave);
	tc_close(eve);
	tc_close(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ban_kicks_now_and_refuses_login_until_unban),
		cmocka_unit_test(test_ban_expires),
		cmocka_unit_test(test_kick_only_disconnects),
		cmocka_unit_test(test_bad_user_commands),
		cmocka_unit_test(test_mute_in_room_and_everywhere),
	};
	int failed = cmocka_run_group_tests(tests, setup, NULL);
	return h_finish(&H, failed != 0) ? failed : 1;
}
