/* SPDX-License-Identifier: MIT */
/*
 * The broker restarted under a stream of chat messages, with persistence
 * on, cleanly (SIGTERM) and with SIGKILL: every message the broker
 * acknowledged with a success code ends up in MongoDB, and no message is
 * stored twice. The publisher behaves like a real QoS 1 client: what was
 * not acknowledged (refused, or cut off by the restart) it sends again
 * after reconnecting. While no bridge is subscribed after the restart, the
 * plugin refuses chat messages instead of acknowledging them: MQTT 5 gets
 * PUBACK 0x87 and an inbox notice "store_unavailable", MQTT 3.1.1 (whose
 * PUBACK cannot say no) loses its connection and no PUBACK. And with the
 * bridge stopped (SIGSTOP), so that the broker only queues what it
 * acknowledges, a SIGKILL of the broker loses nothing either: the plugin's
 * spool hands those messages to the bridge once it subscribes again.
 */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "client.h"
#include "harness.h"

#define N_MESSAGES 1500

static struct harness H;
static const char *const members[] = {"alice", "bob", NULL};

static int setup(void **state)
{
	char extra[1024];
	(void)state;
	h_init(&H, "70-restart-broker");
	h_start_mongo(&H);
	snprintf(extra, sizeof(extra),
		 "persistence true\npersistence_location %s/\nmax_queued_messages 1000000\n"
		 "plugin_opt_state_file %s/chat-state.json\n"
		 "plugin_opt_flood_rate 0\nplugin_opt_flood_repeat 0\n",
		 H.dir, H.dir);
	h_start_broker(&H, extra);
	h_start_bridge(&H, NULL);
	h_setup_room(&H, "r29a", members);
	h_setup_room(&H, "r29b", members);
	h_setup_room(&H, "r29d", members);
	return 0;
}

struct stream {
	const char *room;
	int acked, refused, cut; /* read after join */
	pthread_t thread;
};

/* Connects alice again until the broker takes her (deadline 30 s). */
static struct tc *reconnect(const char *id)
{
	long long deadline = h_now_ms() + 30000;
	for (;;) {
		int connack = -1;
		struct tc *c = tc_connect(&H, id, "alice", NULL, TC_V5, &connack);
		if (c) return c;
		if (h_now_ms() > deadline) return NULL;
		h_sleep_ms(50);
	}
}

static void *stream_main(void *arg)
{
	struct stream *s = arg;
	char topic[64], payload[128], id[32];
	snprintf(topic, sizeof(topic), "chat/rooms/%s/messages", s->room);
	snprintf(id, sizeof(id), "alice-%s", s->room);
	struct tc *c = reconnect(id);
	for (int i = 0; c && i < N_MESSAGES;) {
		snprintf(payload, sizeof(payload), "{\"text\":\"m %d\",\"cid\":\"c-%d\"}", i, i);
		int rc = tc_pub(c, topic, payload, 1);
		if (rc >= 0 && rc < 0x80) {
			s->acked++;
			i++;
			h_sleep_ms(2);
		} else if (rc >= 0x80) {
			s->refused++;
			h_sleep_ms(20);
		} else {
			s->cut++;
			tc_close(c);
			c = reconnect(id);
		}
	}
	tc_close(c);
	return NULL;
}

/* Every acknowledged client id is stored, and exactly once: a message that
 * was sent again after a cut may be in MongoDB twice only as two messages
 * (two server ids), never one server id twice. */
static void check_stored(const struct stream *s)
{
	char filter[64];
	snprintf(filter, sizeof(filter), "{\"room\":\"%s\"}", s->room);
	assert_true(h_mongo_wait_count(&H, "messages", filter, N_MESSAGES, 30000));
	assert_true(h_wait_metric_eq(&H.bridge, "chat_bridge_journal_records", 0, 10000));
	long stored = h_mongo_count(&H, "messages", filter);
	long cids = h_mongo_distinct_count(&H, "messages", "cid", filter);
	long ids = h_mongo_distinct_count(&H, "messages", "id", filter);
	print_message("%s: %d acknowledged, %d refused, %d cut off; stored %ld (%ld client ids, %ld server ids)\n",
		      s->room, s->acked, s->refused, s->cut, stored, cids, ids);
	assert_int_equal(s->acked, N_MESSAGES);
	assert_int_equal(cids, N_MESSAGES);
	assert_int_equal(ids, stored);
	/* Only a message cut off before its PUBACK may have been stored twice. */
	assert_true(stored - N_MESSAGES <= s->cut);
}

static void restart_under_stream(const char *room, int sig)
{
	struct stream s = {.room = room};
	assert_int_equal(pthread_create(&s.thread, NULL, stream_main, &s), 0);
	assert_true(h_wait_metric(&H.bridge, "chat_bridge_messages_received_total", 300, 20000));
	h_stop(&H.broker, sig, 10000);
	h_restart_broker(&H);
	pthread_join(s.thread, NULL);
	check_stored(&s);
}

static void test_clean_restart_loses_nothing(void **state)
{
	(void)state;
	restart_under_stream("r29a", SIGTERM);
}

static void test_kill9_restart_loses_nothing(void **state)
{
	(void)state;
	restart_under_stream("r29b", SIGKILL);
}

/* The broker acknowledges while the bridge is frozen (past its Receive Maximum
 * of 1,000 the rest waits in the broker's memory), then dies: what it
 * had only in memory comes back from the spool. */
static void test_kill9_with_bridge_behind_loses_nothing(void **state)
{
	(void)state;
	char payload[96];
	struct tc *a = tc_open(&H, "alice-29d", "alice", TC_V5);
	assert_int_equal(kill(H.bridge.pid, SIGSTOP), 0);
	for (int i = 0; i < 3000; i++) {
		snprintf(payload, sizeof(payload), "{\"text\":\"behind %d\",\"cid\":\"d-%d\"}", i, i);
		assert_int_equal(tc_pub(a, "chat/rooms/r29d/messages", payload, 1), 0);
	}
	tc_close(a);
	h_stop(&H.broker, SIGKILL, 10000);
	h_restart_broker(&H);
	assert_int_equal(kill(H.bridge.pid, SIGCONT), 0);
	assert_true(h_wait_log(H.broker.log, "spool:", 20000));
	assert_true(h_mongo_wait_count(&H, "messages", "{\"room\":\"r29d\"}", 3000, 30000));
	assert_true(h_wait_metric_eq(&H.bridge, "chat_bridge_journal_records", 0, 10000));
	assert_int_equal(h_mongo_count(&H, "messages", "{\"room\":\"r29d\"}"), 3000);
	assert_int_equal(h_mongo_distinct_count(&H, "messages", "cid", "{\"room\":\"r29d\"}"), 3000);
}

/* With the bridge away and the broker restarted, no subscription exists
 * that would store a message: it is refused, never acknowledged. */
static void test_no_bridge_no_success(void **state)
{
	(void)state;
	h_stop(&H.bridge, SIGTERM, 10000);
	h_stop(&H.broker, SIGTERM, 10000);
	h_restart_broker(&H);
	struct tc *a5 = tc_open(&H, "alice-29c5", "alice", TC_V5);
	assert_true(tc_subscribe(a5, "chat/users/alice/inbox", 1) < 0x80);
	assert_int_equal(tc_pub(a5, "chat/rooms/r29a/messages", "{\"text\":\"lost?\",\"cid\":\"n5\"}", 1), 0x87);
	struct tc_msg *m = tc_wait(a5, "chat/users/alice/inbox", TC_WAIT_MS);
	assert_non_null(m);
	assert_non_null(strstr(m->payload, "\"reason\":\"store_unavailable\""));
	tc_msg_free(m);
	struct tc *a3 = tc_open(&H, "alice-29c3", "alice", TC_V311);
	assert_int_equal(tc_pub(a3, "chat/rooms/r29a/messages", "{\"text\":\"lost?\",\"cid\":\"n3\"}", 1), -1);
	assert_true(tc_wait_disconnect(a3, TC_WAIT_MS, NULL));
	tc_close(a3);
	/* Once the bridge is back, the same messages go through and are stored. */
	h_restart_bridge(&H);
	assert_int_equal(tc_pub(a5, "chat/rooms/r29a/messages", "{\"text\":\"stored\",\"cid\":\"n5\"}", 1), 0);
	bson_t *doc = h_mongo_wait_one(&H, "messages", "{\"room\":\"r29a\",\"cid\":\"n5\"}", 10000);
	assert_non_null(doc);
	bson_destroy(doc);
	tc_close(a5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_clean_restart_loses_nothing),
		cmocka_unit_test(test_kill9_restart_loses_nothing),
		cmocka_unit_test(test_kill9_with_bridge_behind_loses_nothing),
		cmocka_unit_test(test_no_bridge_no_success),
	};
	int failed = cmocka_run_group_tests(tests, setup, NULL);
	return h_finish(&H, failed != 0) ? failed : 1;
}
