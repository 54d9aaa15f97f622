/* SPDX-License-Identifier: MIT */
/*
 * SIGTERM drains: (1) messages held in the journal while MongoDB was down
 * are written when it returns within drain_timeout_ms, and the bridge then
 * exits 0 with an empty journal; (2) when MongoDB stays down past the
 * deadline the bridge still exits 0, leaves the records in the journal,
 * and the next start stores them.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "client.h"
#include "harness.h"

/* These tests are about the bridge: the plugin's flood control (rate and
 * repeated-text limits) must not refuse their bursts. */
#define UNTHROTTLED "plugin_opt_flood_rate 0\nplugin_opt_flood_repeat 0\n"

static struct harness H;
static const char *const members[] = {"alice", "bob", NULL};

static int setup(void **state)
{
	(void)state;
	h_init(&H, "22-bridge-drain");
	h_start_mongo(&H);
	h_start_broker(&H, UNTHROTTLED);
	h_start_bridge(&H, "drain_timeout_ms 15000\n");
	h_setup_room(&H, "r22a", members);
	h_setup_room(&H, "r22b", members);
	return 0;
}

/* Publishes n messages to room and waits until the bridge received them. */
static void publish_and_wait(const char *room, int n)
{
	char topic[128], payload[96];
	long long before = h_metric(&H.bridge, "chat_bridge_messages_received_total");
	struct tc *c = tc_open(&H, "alice-22", "alice", TC_V5);
	snprintf(topic, sizeof(topic), "chat/rooms/%s/messages", room);
	for (int i = 0; i < n; i++) {
		snprintf(payload, sizeof(payload), "{\"text\":\"drain %d\",\"cid\":\"d-%d\"}", i, i);
		assert_int_equal(tc_pub(c, topic, payload, 1), 0);
	}
	tc_close(c);
	assert_true(h_wait_metric(&H.bridge, "chat_bridge_messages_received_total", before + n, 10000));
}

/* Waits for the bridge to exit; returns its exit status or -1. */
static int wait_exit(int timeout_ms)
{
	long long deadline = h_now_ms() + timeout_ms;
	int status;
	while (waitpid(H.bridge.pid, &status, WNOHANG) == 0) {
		if (h_now_ms() > deadline) return -1;
		h_sleep_ms(20);
	}
	H.bridge.pid = 0;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void test_sigterm_drains_when_mongo_returns(void **state)
{
	(void)state;
	if (!h_mongo_is_standin(&H)) skip();
	h_stop_mongo(&H);
	publish_and_wait("r22a", 50);
	assert_true(h_metric(&H.bridge, "chat_bridge_journal_records") >= 50);
	kill(H.bridge.pid, SIGTERM);
	h_restart_mongo(&H);
	assert_int_equal(wait_exit(20000), 0);
	assert_true(h_wait_log(H.bridge.log, "drained: the journal is empty", 100));
	assert_int_equal(h_mongo_count(&H, "messages", "{\"room\":\"r22a\"}"), 50);
}

static void test_deadline_leaves_journal_for_next_start(void **state)
{
	(void)state;
	if (!h_mongo_is_standin(&H)) skip();
	/* A later line wins: the restarted bridge gives up after 1 s. */
	char *conf = h_read_file(H.bridge_conf, NULL);
	assert_non_null(conf);
	char *more = malloc(strlen(conf) + 32);
	assert_non_null(more);
	snprintf(more, strlen(conf) + 32, "%sdrain_timeout_ms 1000\n", conf);
	h_write_file(H.bridge_conf, more);
	free(more);
	free(conf);
	h_restart_bridge(&H);
	h_stop_mongo(&H);
	publish_and_wait("r22b", 30);
	long long t0 = h_now_ms();
	kill(H.bridge.pid, SIGTERM);
	assert_int_equal(wait_exit(10000), 0);
	assert_true(h_now_ms() - t0 < 8000);
	assert_true(h_wait_log(H.bridge.log, "stay in the journal for the next start", 100));
	h_restart_mongo(&H);
	h_restart_bridge(&H);
	assert_true(h_mongo_wait_count(&H, "messages", "{\"room\":\"r22b\"}", 30, 20000));
	assert_true(h_wait_metric_eq(&H.bridge, "chat_bridge_journal_records", 0, 5000));
	assert_int_equal(h_mongo_count(&H, "messages", "{\"room\":\"r22b\"}"), 30);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sigterm_drains_when_mongo_returns),
		cmocka_unit_test(test_deadline_leaves_journal_for_next_start),
	};
	int failed = cmocka_run_group_tests(tests, setup, NULL);
	return h_finish(&H, failed != 0) ? failed : 1;
}
