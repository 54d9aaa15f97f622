/* SPDX-License-Identifier: MIT */
/*
 * Read receipts in groups, over MQTT 5 and 3.1.1: a member's read marker
 * that moves reaches the room's events as one coalesced {"type":"read"}
 * event per interval, each user once with their newest marker; an older
 * marker is not announced; {"reads":true} on the history topic returns
 * every member's marker; rooms above plugin_opt_read_receipts_max_members
 * have none unless their policy says "on" (and "off" turns them off).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "4y-util.h"

#define ROOM "r57"
#define BIG "r57four"

static struct harness H;
static char m1[27], m2[27];

static int setup(void **state)
{
	(void)state;
	h_init(&H, "57-msg-receipts");
	h_start_mongo(&H);
	h_start_broker(&H, Y_UNTHROTTLED "plugin_opt_read_receipts_max_members 3\nplugin_opt_read_receipts_interval 1000\n");
	h_start_bridge(&H, NULL);
	const char *const small[] = {"alice", "bob", "carol", NULL}, *const four[] = {"alice", "bob", "carol", "dave", NULL};
	assert_true(h_setup_room(&H, ROOM, small));
	assert_true(h_setup_room(&H, BIG, four));
	struct tc *alice = tc_open(&H, "alice-57s", "alice", TC_V5);
	assert_int_equal(tc_subscribe(alice, "chat/rooms/" ROOM "/messages", 1), 1);
	cJSON_Delete(y_post(alice, alice, ROOM, "one", m1));
	cJSON_Delete(y_post(alice, alice, ROOM, "two", m2));
	tc_close(alice);
	return 0;
}

static void mark(struct tc *c, const char *room, const char *id)
{
	char topic[96], payload[96];
	snprintf(topic, sizeof(topic), "chat/rooms/%s/read", room);
	snprintf(payload, sizeof(payload), "{\"upto\":\"%s\"}", id);
	assert_int_equal(tc_pub(c, topic, payload, 1) & 0x80, 0);
}

/* The upto of user in a read event, or NULL. */
static const char *upto_of(const cJSON *ev, const char *user)
{
	const cJSON *r;
	int seen = 0;
	const char *upto = NULL;
	cJSON_ArrayForEach(r, cJSON_GetObjectItem(ev, "reads")) {
		const char *u = c_str(r, "user");
		if (u && strcmp(u, user) == 0) seen++, upto = c_str(r, "upto");
	}
	if (seen > 1) fail_msg("%s twice in one event", user);
	return upto;
}

static void test_coalesced_events(void **state)
{
	(void)state;
	struct tc *bob = tc_open(&H, "bob-57", "bob", TC_V311);
	struct tc *carol = tc_open(&H, "carol-57", "carol", TC_V5);
	struct tc *alice = tc_open(&H, "alice-57", "alice", TC_V5);
	assert_int_equal(tc_subscribe(alice, "chat/rooms/" ROOM "/events", 1), 1);
	mark(bob, ROOM, m1);
	mark(bob, ROOM, m2);
	mark(carol, ROOM, m1);
	char bob_at[27] = "", carol_at[27] = "";
	int events = 0;
	while (strcmp(bob_at, m2) != 0 || strcmp(carol_at, m1) != 0) {
		cJSON *ev = m_event(alice, ROOM);
		m_expect(ev, "type", "read");
		m_expect(ev, "room", ROOM);
		if (upto_of(ev, "bob")) snprintf(bob_at, sizeof(bob_at), "%s", upto_of(ev, "bob"));
		if (upto_of(ev, "carol")) snprintf(carol_at, sizeof(carol_at), "%s", upto_of(ev, "carol"));
		assert_true(c_num(ev, "ts") > 0);
		cJSON_Delete(ev);
		events++;
	}
	assert_true(events <= 2); /* three markers within one interval, or two at the most */
	/* Backwards: stored nowhere, announced to nobody. */
	mark(bob, ROOM, m1);
	assert_true(tc_quiet(alice, "chat/rooms/" ROOM "/events", 1300));
	/* Every member's marker, from the bridge. */
	m_inbox_sub(bob, "bob");
	cJSON *a = y_history(bob, "bob", ROOM, "{\"limit\":1}"); /* the markers above are stored by now */
	cJSON_Delete(a);
	assert_int_equal(tc_pub(bob, "chat/rooms/" ROOM "/history", "{\"reads\":true,\"cid\":\"rr\"}", 1), 0);
	cJSON *n;
	for (;;) {
		n = m_notice(bob, "bob");
		if (c_str(n, "type") && strcmp(c_str(n, "type"), "reads") == 0) break;
		cJSON_Delete(n);
	}
	m_expect(n, "cid", "rr");
	char *text = cJSON_PrintUnformatted(cJSON_GetObjectItem(n, "reads"));
	char want[256];
	snprintf(want, sizeof(want), "\"user\":\"bob\",\"upto\":\"%s\"", m2);
	assert_non_null(strstr(text, want));
	snprintf(want, sizeof(want), "\"user\":\"carol\",\"upto\":\"%s\"", m1);
	assert_non_null(strstr(text, want));
	assert_null(strstr(text, "alice"));
	free(text);
	cJSON_Delete(n);
	tc_close(alice);
	tc_close(bob);
	tc_close(carol);
}

static void test_large_room_and_policy(void **state)
{
	(void)state;
	char id[27];
	struct tc *alice = tc_open(&H, "alice-57b", "alice", TC_V5);
	struct tc *bob = tc_open(&H, "bob-57b", "bob", TC_V5);
	assert_int_equal(tc_subscribe(alice, "chat/rooms/" BIG "/events", 1), 1);
	assert_int_equal(tc_subscribe(alice, "chat/rooms/" BIG "/messages", 1), 1);
	cJSON_Delete(y_post(alice, alice, BIG, "four of us", id));
	mark(bob, BIG, id);
	assert_true(tc_quiet(alice, "chat/rooms/" BIG "/events", 1300));
	assert_int_equal(tc_pub(bob, "chat/rooms/" BIG "/history", "{\"reads\":true}", 1), 135);
	struct tc *admin = c_admin(&H, "admin-57", TC_V5);
	c_do(admin, "{\"command\":\"setRoomPolicy\",\"room\":\"" BIG "\",\"readReceipts\":\"on\"}");
	cJSON *room = c_ok(admin, "{\"command\":\"getRoom\",\"room\":\"" BIG "\"}");
	m_expect(cJSON_GetObjectItem(room, "policy"), "readReceipts", "on");
	cJSON_Delete(room);
	c_fails(admin, "{\"command\":\"setRoomPolicy\",\"room\":\"" BIG "\",\"readReceipts\":\"sometimes\"}",
		"readReceipts");
	struct tc *carol = tc_open(&H, "carol-57b", "carol", TC_V311);
	mark(carol, BIG, id);
	cJSON *ev = m_event(alice, BIG);
	m_expect(ev, "type", "read");
	assert_string_equal(upto_of(ev, "carol"), id);
	cJSON_Delete(ev);
	/* And "off" turns them off in a room small enough. */
	c_do(admin, "{\"command\":\"setRoomPolicy\",\"room\":\"" ROOM "\",\"readReceipts\":\"off\"}");
	assert_int_equal(tc_subscribe(alice, "chat/rooms/" ROOM "/events", 1), 1);
	mark(carol, ROOM, m2);
	assert_true(tc_quiet(alice, "chat/rooms/" ROOM "/events", 1300));
	tc_close(admin);
	tc_close(alice);
	tc_close(bob);
	tc_close(carol);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_coalesced_events),
		cmocka_unit_test(test_large_room_and_policy),
	};
	int failed = cmocka_run_group_tests(tests, setup, NULL);
	return h_finish(&H, failed != 0) ? failed : 1;
}
