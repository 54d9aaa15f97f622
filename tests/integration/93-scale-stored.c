/* SPDX-License-Identifier: MIT */
/*
 * Stored once across three brokers: two chat-bridge daemons, each connected
 * to all three brokers in the same shared-subscription group, store every
 * message exactly once whichever broker it was sent on (each broker hands
 * its storers only what it stamped), and a history request on any broker
 * answers with the messages of all of them, once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "9x-util.h"

static struct mesh M;
static struct h_proc B2;

#define PER_BROKER 40
#define ROOM "chat/rooms/team/messages"

/* Both bridges connect to every broker. */
static void start_bridges(void)
{
	char extra[256];
	snprintf(extra, sizeof(extra), "mqtt_brokers 127.0.0.1:%d,127.0.0.1:%d,127.0.0.1:%d\n", M.port[0], M.port[1],
		 M.port[2]);
	m_at(&M, 0);
	h_start_bridge_named(&M.h, &M.h.bridge, "bridge-a", extra);
	h_start_bridge_named(&M.h, &B2, "bridge-b", extra);
	assert_true(h_wait_log_count(M.h.bridge.log, "subscribed to", 3, 10000));
	assert_true(h_wait_log_count(B2.log, "subscribed to", 3, 10000));
}

static void team(void)
{
	struct tc *a = c_admin(m_at(&M, 0), "admin-93", TC_V5);
	cJSON_Delete(c_ok(a, "{\"command\":\"createRoom\",\"room\":\"team\"}"));
	const char *users[] = {"alice", "bob", "carol"};
	for (int u = 0; u < 3; u++) {
		char cmd[128];
		snprintf(cmd, sizeof(cmd), "{\"command\":\"addRoomMember\",\"room\":\"team\",\"user\":\"%s\"}", users[u]);
		cJSON_Delete(c_ok(a, cmd));
	}
	tc_close(a);
	/* Replicated: the last member on the last broker. */
	struct tc *c = m_open(&M, 2, "s93-carol-probe", "carol", TC_V5);
	assert_int_equal(tc_subscribe(c, "chat/users/carol/rooms", 1), 1);
	free(m_expect(c, "chat/users/carol/rooms", "\"room\":\"team\""));
	tc_close(c);
}

static void test_stored_once(void **state)
{
	(void)state;
	m_start(&M, "93-scale-stored", 3, true, "plugin_opt_flood_rate 0\nplugin_opt_flood_repeat 0\n");
	start_bridges();
	team();
	const char *users[] = {"alice", "bob", "carol"};
	struct tc *s[3];
	for (int i = 0; i < 3; i++) {
		char cid[32];
		snprintf(cid, sizeof(cid), "s93-%s", users[i]);
		s[i] = m_open(&M, i, cid, users[i], TC_V5);
	}
	for (int k = 0; k < PER_BROKER; k++) {
		for (int i = 0; i < 3; i++) {
			char payload[80];
			snprintf(payload, sizeof(payload), "{\"text\":\"m %d from n%d\",\"cid\":\"n%d-%d\"}", k, i, i, k);
			assert_int_equal(tc_pub(s[i], ROOM, payload, 1), 0);
		}
	}
	long want = 3 * PER_BROKER;
	assert_true(h_mongo_wait_count(&M.h, "messages", "{\"room\":\"team\"}", want, 15000));
	h_sleep_ms(500); /* a second copy would land by now */
	assert_int_equal(h_mongo_count(&M.h, "messages", "{\"room\":\"team\"}"), want);
	assert_int_equal(h_mongo_distinct_count(&M.h, "messages", "cid", "{\"room\":\"team\"}"), want);
	long long a = h_metric(&M.h.bridge, "chat_bridge_messages_stored_total"), b = h_metric(&B2, "chat_bridge_messages_stored_total");
	print_message("stored by bridge-a %lld, bridge-b %lld (of %ld)\n", a, b, want);
	assert_int_equal(a + b, want);

	/* History on n1 holds the other brokers' messages too, each once. */
	assert_int_equal(tc_subscribe(s[1], "chat/users/bob/inbox", 1), 1);
	assert_int_equal(tc_pub(s[1], "chat/rooms/team/history", "{\"limit\":200,\"cid\":\"q93\"}", 1), 0);
	char *page = m_expect(s[1], "chat/users/bob/inbox", "\"cid\":\"q93\"");
	for (int i = 0; i < 3; i++) {
		char one[32];
		snprintf(one, sizeof(one), "\"cid\":\"n%d-7\"", i);
		const char *at = strstr(page, one);
		assert_non_null(at);
		assert_null(strstr(at + 1, one));
	}
	free(page);
	assert_true(tc_quiet(s[1], "chat/users/bob/inbox", 500)); /* one reply, not one per broker */
	for (int i = 0; i < 3; i++) tc_close(s[i]);
}

static int teardown(void **state)
{
	(void)state;
	h_stop(&M.h.bridge, SIGTERM, 10000);
	h_stop(&B2, SIGTERM, 10000);
	bool clean = h_proc_clean(&B2);
	assert_true(m_finish(&M, !clean) && clean);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stored_once),
	};
	return cmocka_run_group_tests(tests, NULL, teardown);
}
