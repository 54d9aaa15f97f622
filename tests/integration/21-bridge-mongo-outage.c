/* SPDX-License-Identifier: MIT */
/*
 * MongoDB (the stand-in) stops for about 10 s under a steady stream of
 * messages (the 30 s shortened to keep the suite fast: the bridge
 * behaves the same after its backoff reaches its 5 s ceiling) and comes
 * back: the bridge keeps receiving into the journal meanwhile, stays
 * connected to the broker, catches up, and every message is stored exactly
 * once.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "client.h"
#include "harness.h"

#define TOTAL 700
#define OUTAGE_MS 10000

/* These tests are about the bridge: the plugin's flood control (rate and
 * repeated-text limits) must not refuse their bursts. */
#define UNTHROTTLED "plugin_opt_flood_rate 0\nplugin_opt_flood_repeat 0\n"

static struct harness H;
static const char *const members[] = {"alice", "bob", NULL};

static int setup(void **state)
{
	(void)state;
	h_init(&H, "21-bridge-mongo-outage");
	h_start_mongo(&H);
	h_start_broker(&H, UNTHROTTLED);
	h_start_bridge(&H, NULL);
	h_setup_room(&H, "r21", members);
	return 0;
}

struct stream {
	struct tc *client;
	int acked;
	pthread_t thread;
};

/* About 50 messages a second for 14 s. */
static void *stream_main(void *arg)
{
	struct stream *s = arg;
	for (int i = 0; i < TOTAL; i++) {
		char payload[96];
		snprintf(payload, sizeof(payload), "{\"text\":\"steady %d\",\"cid\":\"o-%d\"}", i, i);
		if (tc_pub(s->client, "chat/rooms/r21/messages", payload, 1) == 0) s->acked++;
		h_sleep_ms(20);
	}
	return NULL;
}

static void test_outage_under_stream_loses_nothing(void **state)
{
	(void)state;
	if (!h_mongo_is_standin(&H)) skip();
	struct stream s = {.client = tc_open(&H, "alice-21", "alice", TC_V5)};
	assert_int_equal(pthread_create(&s.thread, NULL, stream_main, &s), 0);
	assert_true(h_mongo_wait_count(&H, "messages", "{\"room\":\"r21\"}", 50, 20000));
	h_stop_mongo(&H);
	long long down_at = h_now_ms();
	/* While MongoDB is down the journal fills and MQTT stays up. */
	assert_true(h_wait_metric(&H.bridge, "chat_bridge_journal_records", 100, 15000));
	assert_true(h_wait_metric(&H.bridge, "chat_bridge_mongo_errors_total", 1, 15000));
	long long left = OUTAGE_MS - (h_now_ms() - down_at);
	if (left > 0) h_sleep_ms((int)left); /* the outage itself, not a readiness wait */
	assert_int_equal(h_metric(&H.bridge, "chat_bridge_mqtt_connected"), 1);
	assert_true(h_metric(&H.bridge, "chat_bridge_journal_records") >= 300);
	h_restart_mongo(&H);
	pthread_join(s.thread, NULL);
	tc_close(s.client);
	assert_int_equal(s.acked, TOTAL);
	assert_true(h_mongo_wait_count(&H, "messages", "{\"room\":\"r21\"}", TOTAL, 30000));
	assert_true(h_wait_metric_eq(&H.bridge, "chat_bridge_journal_records", 0, 10000));
	assert_int_equal(h_mongo_count(&H, "messages", "{\"room\":\"r21\"}"), TOTAL);
	assert_int_equal(h_mongo_distinct_count(&H, "messages", "cid", "{\"room\":\"r21\"}"), TOTAL);
	assert_int_equal(h_metric(&H.bridge, "chat_bridge_messages_received_total"), TOTAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_outage_under_stream_loses_nothing),
	};
	int failed = cmocka_run_group_tests(tests, setup, NULL);
	return h_finish(&H, failed != 0) ? failed : 1;
}
