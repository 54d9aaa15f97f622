/* SPDX-License-Identifier: MIT */
/*
 * The bridge killed with SIGKILL loses nothing and stores nothing twice:
 * (1) under a steady stream, killed and restarted: the broker redelivers to
 * the persistent session, and every message is in MongoDB exactly once;
 * (2) with MongoDB down, messages sit only in the journal when the bridge
 * is killed; the restarted bridge replays them into MongoDB once it is
 * back; (3) the same with a torn record at the journal's end (as a crash
 * mid-write leaves it): it is dropped with a warning, the rest replayed.
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
#include <dirent.h>

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
	h_init(&H, "20-bridge-kill9");
	h_start_mongo(&H);
	h_start_broker(&H, UNTHROTTLED);
	h_start_bridge(&H, NULL);
	h_setup_room(&H, "r20a", members);
	h_setup_room(&H, "r20b", members);
	h_setup_room(&H, "r20c", members);
	return 0;
}

struct stream {
	struct tc *client;
	const char *topic;
	int n, interval_ms;
	int acked, failed; /* read after join */
	pthread_t thread;
};

static void *stream_main(void *arg)
{
	struct stream *s = arg;
	for (int i = 0; i < s->n; i++) {
		char payload[96];
		snprintf(payload, sizeof(payload), "{\"text\":\"m %d\",\"cid\":\"s-%d\"}", i, i);
		if (tc_pub(s->client, s->topic, payload, 1) == 0) s->acked++;
		else s->failed++;
		if (s->interval_ms) h_sleep_ms(s->interval_ms);
	}
	return NULL;
}

static void test_kill9_under_stream_stores_each_once(void **state)
{
	(void)state;
	struct stream s = {.client = tc_open(&H, "alice-20a", "alice", TC_V5), .topic = "chat/rooms/r20a/messages",
			   .n = 600, .interval_ms = 5};
	assert_int_equal(pthread_create(&s.thread, NULL, stream_main, &s), 0);
	/* Kill it mid-stream, once some messages went through. */
	assert_true(h_wait_metric(&H.bridge, "chat_bridge_messages_received_total", 150, 20000));
	h_stop(&H.bridge, SIGKILL, 5000);
	h_restart_bridge(&H);
	pthread_join(s.thread, NULL);
	tc_close(s.client);
	assert_int_equal(s.acked, 600);
	assert_true(h_mongo_wait_count(&H, "messages", "{\"room\":\"r20a\"}", 600, 30000));
	/* Exactly once: nothing more arrives, and every client id is there. */
	assert_true(h_wait_metric_eq(&H.bridge, "chat_bridge_journal_records", 0, 5000));
	assert_int_equal(h_mongo_count(&H, "messages", "{\"room\":\"r20a\"}"), 600);
	assert_int_equal(h_mongo_distinct_count(&H, "messages", "cid", "{\"room\":\"r20a\"}"), 600);
}

static void test_kill9_with_mongo_down_replays_journal(void **state)
{
	(void)state;
	if (!h_mongo_is_standin(&H)) skip();
	h_stop_mongo(&H);
	long long before = h_metric(&H.bridge, "chat_bridge_messages_received_total");
	struct stream s = {.client = tc_open(&H, "alice-20b", "alice", TC_V5), .topic = "chat/rooms/r20b/messages",
			   .n = 100};
	stream_main(&s);
	tc_close(s.client);
	assert_int_equal(s.acked, 100);
	assert_true(h_wait_metric(&H.bridge, "chat_bridge_messages_received_total", before + 100, 10000));
	assert_true(h_metric(&H.bridge, "chat_bridge_journal_records") >= 100);
	int replays = h_log_count(H.bridge.log, "journal: replaying 100 records");
	h_stop(&H.bridge, SIGKILL, 5000);
	h_restart_mongo(&H);
	h_restart_bridge(&H);
	assert_int_equal(h_log_count(H.bridge.log, "journal: replaying 100 records"), replays + 1);
	assert_true(h_mongo_wait_count(&H, "messages", "{\"room\":\"r20b\"}", 100, 30000));
	assert_true(h_wait_metric_eq(&H.bridge, "chat_bridge_journal_records", 0, 5000));
	assert_int_equal(h_mongo_count(&H, "messages", "{\"room\":\"r20b\"}"), 100);
	assert_int_equal(h_mongo_distinct_count(&H, "messages", "cid", "{\"room\":\"r20b\"}"), 100);
}

/* Appends the start of a record (a header promising more bytes than
 * follow) to the newest journal segment. */
static void tear_journal_tail(void)
{
	char dir[600], newest[256] = "", path[900];
	snprintf(dir, sizeof(dir), "%s/journal", H.dir);
	DIR *d = opendir(dir);
	assert_non_null(d);
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, "journal-", 8) == 0 && strcmp(de->d_name, newest) > 0) {
			snprintf(newest, sizeof(newest), "%s", de->d_name);
		}
	}
	closedir(d);
	assert_true(newest[0] != '\0');
	snprintf(path, sizeof(path), "%s/%s", dir, newest);
	FILE *f = fopen(path, "ab");
	assert_non_null(f);
	const unsigned char torn[] = {200, 0, 0, 0, 1, 0, 0, 0, '{', '"', 'i'};
	assert_int_equal(fwrite(torn, 1, sizeof(torn), f), sizeof(torn));
	assert_int_equal(fclose(f), 0);
}

static void test_torn_tail_dropped_rest_replayed(void **state)
{
	(void)state;
	if (!h_mongo_is_standin(&H)) skip();
	h_stop_mongo(&H);
	long long before = h_metric(&H.bridge, "chat_bridge_messages_received_total");
	struct stream s = {.client = tc_open(&H, "alice-20c", "alice", TC_V5), .topic = "chat/rooms/r20c/messages",
			   .n = 40};
	stream_main(&s);
	tc_close(s.client);
	assert_true(h_wait_metric(&H.bridge, "chat_bridge_messages_received_total", before + 40, 10000));
	h_stop(&H.bridge, SIGKILL, 5000);
	tear_journal_tail();
	h_restart_mongo(&H);
	h_restart_bridge(&H);
	assert_true(h_wait_log(H.bridge.log, "bytes of torn or corrupt tail", 5000));
	assert_true(h_mongo_wait_count(&H, "messages", "{\"room\":\"r20c\"}", 40, 30000));
	assert_true(h_wait_metric_eq(&H.bridge, "chat_bridge_journal_records", 0, 5000));
	assert_int_equal(h_mongo_count(&H, "messages", "{\"room\":\"r20c\"}"), 40);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kill9_under_stream_stores_each_once),
		cmocka_unit_test(test_kill9_with_mongo_down_replays_journal),
		cmocka_unit_test(test_torn_tail_dropped_rest_replayed),
	};
	int failed = cmocka_run_group_tests(tests, setup, NULL);
	return h_finish(&H, failed != 0) ? failed : 1;
}
