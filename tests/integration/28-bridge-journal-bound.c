/* SPDX-License-Identifier: MIT */
/*
 * The journal bound: with MongoDB down, a bridge whose journal reaches
 * journal_max_bytes warns, stops consuming (disconnects, keeping its
 * session, so the broker holds the rest), and once MongoDB is back and the
 * journal has drained under 75% it consumes again; every message ends up
 * stored exactly once.
 */
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

/* These tests are about the bridge: the plugin's flood control (rate and
 * repeated-text limits) must not refuse their bursts. */
#define UNTHROTTLED "plugin_opt_flood_rate 0\nplugin_opt_flood_repeat 0\n"
/* While the bridge pauses, the broker holds the rest for its session; its
 * default max_queued_messages (1000) is the operator's to raise. */
#define BROKER_CONF UNTHROTTLED "max_queued_messages 5000\n"
#define TOTAL 1400
#define TEXT_LEN 1000

static struct harness H;
static const char *const members[] = {"alice", "bob", NULL};

static int setup(void **state)
{
	(void)state;
	h_init(&H, "28-bridge-journal-bound");
	h_start_mongo(&H);
	h_start_broker(&H, BROKER_CONF);
	/* The smallest bound; a message of ~1 KiB fills it after ~900. The
	 * default mqtt_receive_maximum (1000) on purpose: the bound must hold
	 * however much the broker has put in the bridge's socket. */
	h_start_bridge(&H, "journal_max_bytes 1M\n");
	h_setup_room(&H, "r28", members);
	return 0;
}

static void test_bound_pauses_then_resumes_losing_nothing(void **state)
{
	(void)state;
	if (!h_mongo_is_standin(&H)) skip();
	h_stop_mongo(&H);
	struct tc *c = tc_open(&H, "alice-28", "alice", TC_V5);
	char text[TEXT_LEN + 1], payload[TEXT_LEN + 96];
	memset(text, 'x', TEXT_LEN);
	text[TEXT_LEN] = '\0';
	/* The bridge frozen meanwhile, so the broker piles up in its socket
	 * what it may send unacknowledged (Receive Maximum, 1000, ~1.1 MB;
	 * mosquitto 2.0.11 also exceeds it once it queues): more than the
	 * bound, all readable at once when the bridge goes on. */
	assert_int_equal(kill(H.bridge.pid, SIGSTOP), 0);
	int refused = 0;
	for (int i = 0; i < TOTAL; i++) {
		snprintf(payload, sizeof(payload), "{\"text\":\"%d %s\",\"cid\":\"b-%d\"}", i, text, i);
		refused += tc_pub(c, "chat/rooms/r28/messages", payload, 1) != 0;
	}
	assert_int_equal(kill(H.bridge.pid, SIGCONT), 0);
	assert_int_equal(refused, 0);
	tc_close(c);
	assert_true(h_wait_log(H.bridge.log, "of journal_max_bytes", 20000));
	assert_true(h_wait_log(H.bridge.log, "pausing consumption until MongoDB catches up", 20000));
	assert_true(h_wait_metric_eq(&H.bridge, "chat_bridge_consuming_paused", 1, 5000));
	assert_int_equal(h_metric(&H.bridge, "chat_bridge_mqtt_connected"), 0);
	/* The rest waits at the broker, in the bridge's session. */
	long long held = h_metric(&H.bridge, "chat_bridge_messages_received_total");
	assert_true(held > 0 && held < TOTAL);
	/* Passed the bound by the one message that crossed it, no more (the
	 * bridge sends no replies here, so each read takes one message). */
	long long disk = h_metric(&H.bridge, "chat_bridge_journal_disk_bytes");
	long long records = h_metric(&H.bridge, "chat_bridge_journal_records");
	long long max = h_metric(&H.bridge, "chat_bridge_journal_max_bytes");
	assert_true(records == held && max == 1048576);
	print_message("paused at %lld of %lld bytes, %lld records\n", disk, max, records);
	assert_true(disk >= max && disk - max < disk / records);
	h_restart_mongo(&H);
	assert_true(h_wait_log(H.bridge.log, "consuming again", 30000));
	assert_true(h_mongo_wait_count(&H, "messages", "{\"room\":\"r28\"}", TOTAL, 60000));
	assert_true(h_wait_metric_eq(&H.bridge, "chat_bridge_journal_records", 0, 10000));
	assert_int_equal(h_metric(&H.bridge, "chat_bridge_consuming_paused"), 0);
	assert_int_equal(h_mongo_count(&H, "messages", "{\"room\":\"r28\"}"), TOTAL);
	assert_int_equal(h_mongo_distinct_count(&H, "messages", "cid", "{\"room\":\"r28\"}"), TOTAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bound_pauses_then_resumes_losing_nothing),
	};
	int failed = cmocka_run_group_tests(tests, setup, NULL);
	return h_finish(&H, failed != 0) ? failed : 1;
}
