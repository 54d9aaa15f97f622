/* SPDX-License-Identifier: MIT */
/*
 * Faults in a mesh of three brokers with two bridges:
 * - a broker killed (SIGKILL) in the middle of a sender's stream: the
 *   sender moves to another broker and carries on; every message a broker
 *   acknowledged is stored exactly once (the killed broker's spool is
 *   replayed when it is back; a replayed message is a duplicate id);
 * - the TCP connection of a link cut (ss -K) while messages flow over it:
 *   the link reconnects and resumes its session (QoS 1, cleansession
 *   false), and the member on the other side gets every acknowledged
 *   message.
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

#define ROOM "chat/rooms/team/messages"
#define COUNT 100

static int setup(void **state)
{
	(void)state;
	m_start(&M, "94-scale-faults", 3, true, "plugin_opt_flood_rate 0\nplugin_opt_flood_repeat 0\n");
	char extra[256];
	snprintf(extra, sizeof(extra), "mqtt_brokers 127.0.0.1:%d,127.0.0.1:%d,127.0.0.1:%d\n", M.port[0], M.port[1],
		 M.port[2]);
	m_at(&M, 1); /* the push thread's own connection: a broker that stays */
	h_start_bridge_named(&M.h, &M.h.bridge, "bridge-a", extra);
	h_start_bridge_named(&M.h, &B2, "bridge-b", extra);
	assert_true(h_wait_log_count(M.h.bridge.log, "subscribed to", 3, 10000));
	assert_true(h_wait_log_count(B2.log, "subscribed to", 3, 10000));
	struct tc *a = c_admin(m_at(&M, 0), "admin-94", TC_V5);
	cJSON_Delete(c_ok(a, "{\"command\":\"createRoom\",\"room\":\"team\"}"));
	cJSON_Delete(c_ok(a, "{\"command\":\"addRoomMember\",\"room\":\"team\",\"user\":\"alice\"}"));
	cJSON_Delete(c_ok(a, "{\"command\":\"addRoomMember\",\"room\":\"team\",\"user\":\"bob\"}"));
	tc_close(a);
	struct tc *b = m_open(&M, 2, "probe-94", "bob", TC_V5);
	assert_int_equal(tc_subscribe(b, "chat/users/bob/rooms", 1), 1);
	free(m_expect(b, "chat/users/bob/rooms", "\"room\":\"team\""));
	tc_close(b);
	return 0;
}

static int send_one(struct tc *c, const char *tag, int k)
{
	char payload[80];
	snprintf(payload, sizeof(payload), "{\"text\":\"%s %d\",\"cid\":\"%s-%d\"}", tag, k, tag, k);
	return tc_pub(c, ROOM, payload, 1);
}

static void test_broker_killed(void **state)
{
	(void)state;
	bool acked[COUNT] = {false};
	struct tc *alice = m_open(&M, 0, "f-alice", "alice", TC_V5);
	int k = 0;
	for (; k < COUNT / 2; k++) acked[k] = send_one(alice, "kill", k) == 0;
	h_stop(&M.b[0], SIGKILL, 1000);
	assert_true(send_one(alice, "kill", k) != 0); /* nobody took it */
	tc_close(alice);
	/* alice moves to n1 and resends what was not acknowledged. */
	alice = m_open(&M, 1, "f-alice", "alice", TC_V5);
	for (; k < COUNT; k++) acked[k] = send_one(alice, "kill", k) == 0;
	for (k = 0; k < COUNT; k++) assert_true(acked[k]);
	/* n0 back: its spool goes to a storer again. */
	m_spawn_synced(&M, 0, 20000);
	assert_true(h_mongo_wait_count(&M.h, "messages", "{\"cid\":{\"$regex\":\"^kill-\"}}", COUNT, 20000));
	h_sleep_ms(500);
	assert_int_equal(h_mongo_count(&M.h, "messages", "{\"cid\":{\"$regex\":\"^kill-\"}}"), COUNT);
	assert_int_equal(h_mongo_distinct_count(&M.h, "messages", "cid", "{\"cid\":{\"$regex\":\"^kill-\"}}"), COUNT);
	tc_close(alice);
}

/* The client port of link.1.0's connection to n0 (from n0's log). */
static int link_port(void)
{
	char *log = h_read_file(M.b[0].log, NULL), *last = NULL;
	for (char *p = log; p && (p = strstr(p, "New client connected from 127.0.0.1:")) != NULL; p++) {
		char *nl = strchr(p, '\n');
		char *as = strstr(p, " as link.1.0 ");
		if (as && (!nl || as < nl)) last = p;
	}
	int port = last ? (int)strtol(last + strlen("New client connected from 127.0.0.1:"), NULL, 10) : 0;
	free(log);
	return port;
}

static void test_link_cut(void **state)
{
	(void)state;
	struct tc *alice = m_open(&M, 0, "c-alice", "alice", TC_V5);
	struct tc *bob = m_open(&M, 1, "c-bob", "bob", TC_V5);
	assert_int_equal(tc_subscribe(bob, ROOM, 1), 1);
	int port = link_port();
	assert_true(port > 0);
	int before = h_log_count(M.b[0].log, " as link.1.0 ");
	char filter[32];
	snprintf(filter, sizeof(filter), ":%d", port);
	for (int k = 0; k < 60; k++) {
		assert_int_equal(send_one(alice, "cut", k), 0);
		if (k == 20) {
			char *argv[] = {"/usr/bin/ss", "-K", "dst", "127.0.0.1", "dport", "=", filter, NULL};
			assert_int_equal(h_run(argv, NULL, 5000), 0);
		}
		h_sleep_ms(10);
	}
	/* The link came back as the same session... */
	assert_true(h_wait_log_count(M.b[0].log, " as link.1.0 ", before + 1, 10000));
	/* ...and bob got every one of them (QoS 1: at least once). */
	bool got[60] = {false};
	int seen = 0, dups = 0;
	long long deadline = h_now_ms() + 10000;
	while (seen < 60 && h_now_ms() < deadline) {
		struct tc_msg *m = tc_wait(bob, ROOM, 1000);
		if (!m) continue;
		const char *c = strstr(m->payload, "\"cid\":\"cut-");
		int k = c ? (int)strtol(c + strlen("\"cid\":\"cut-"), NULL, 10) : -1;
		if (k >= 0 && k < 60) {
			if (got[k]) dups++;
			else seen++;
			got[k] = true;
		}
		tc_msg_free(m);
	}
	print_message("link cut after 21 of 60: bob got %d distinct, %d again\n", seen, dups);
	assert_int_equal(seen, 60);
	tc_close(alice);
	tc_close(bob);
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
		cmocka_unit_test(test_broker_killed),
		cmocka_unit_test(test_link_cut),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
