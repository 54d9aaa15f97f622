/* SPDX-License-Identifier: MIT */
/*
 * Two bridges, one outbox. The bridges split the message stream through
 * the shared subscription, and both scan `push_outbox` for retries. While
 * the provider fails, jobs go back and forth through the outbox; once it
 * recovers, every message is in exactly one delivered notification: the
 * lease taken with findAndModify keeps two bridges from sending one job.
 * bob never connects (no presence: offline), and his device is written
 * into `devices` directly, so nothing depends on which bridge saw what
 * first.
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

#include "3x-util.h"

#define MESSAGES 12
#define CONF                                                                                                 \
	"push_coalesce_ms 0\npush_allow_private true\npush_allow_http true\npush_retry_base_ms 200\n"        \
	"push_retry_max_ms 400\npush_max_attempts 100\n"

static struct harness H;
static struct hr *R;
static struct h_proc B;

static int setup(void **state)
{
	(void)state;
	char url[256];
	h_init(&H, "38-push-two-bridges");
	R = hr_start();
	h_start_mongo(&H);
	h_start_broker(&H, P_BROKER_CONF);
	h_start_bridge(&H, CONF);
	h_start_bridge_named(&H, &B, "bridge-b", CONF);
	const char *members[] = {"alice", "bob", NULL};
	assert_true(h_setup_room(&H, "general", members));
	mongoc_client_t *c = h_mongo(&H);
	mongoc_collection_t *col = mongoc_client_get_collection(c, H.mongo_db, "devices");
	bson_t *doc =
	    BCON_NEW("user", BCON_UTF8("bob"), "device", BCON_UTF8("phone"), "platform", BCON_UTF8("webhook"),
	             "token", BCON_UTF8(""), "endpoint", BCON_UTF8(hr_url(R, "/bob", url, sizeof(url))));
	assert_true(mongoc_collection_insert_one(col, doc, NULL, NULL, NULL));
	bson_destroy(doc);
	mongoc_collection_destroy(col);
	mongoc_client_destroy(c);
	return 0;
}

/* Messages covered by the notifications the receiver accepted so far. */
static long delivered_count(void)
{
	long covered = 0;
	for (int i = 0;; i++) {
		struct hr_request *q = hr_get(R, "/bob", i);
		if (!q) break;
		if (q->status == 200) covered += p_json_long(q->body, "count");
		hr_request_free(q);
	}
	return covered;
}

static void test_each_message_delivered_once(void **state)
{
	(void)state;
	char text[32];
	hr_rule(R, "/bob", NULL, 500, NULL);
	struct tc *alice = tc_open(&H, "alice-app", "alice", TC_V5);
	for (int i = 0; i < MESSAGES; i++) {
		snprintf(text, sizeof(text), "m%d", i);
		assert_int_equal(tc_pub(alice, "chat/rooms/general/messages", text, 1), 0);
	}
	/* Every message is stored, and every job has failed a few times. */
	assert_true(p_wait_count(&H, "messages", "{\"room\":\"general\"}", MESSAGES));
	long long deadline = h_now_ms() + P_WAIT_MS;
	while (h_mongo_count(&H, "push_outbox", "{\"attempts\":{\"$lt\":3}}") > 0 ||
	       h_mongo_count(&H, "push_outbox", "{}") == 0) {
		assert_true(h_now_ms() < deadline);
		h_sleep_ms(50);
	}
	hr_rule(R, "/bob", NULL, 200, NULL);
	/* Wait for the deliveries themselves: the outbox can be empty for a
	 * moment while a bridge holds a claimed job in flight. Then give any
	 * second copy time to arrive before counting (a retry is due within
	 * push_retry_max_ms). */
	deadline = h_now_ms() + P_WAIT_MS;
	while (delivered_count() < MESSAGES || h_mongo_count(&H, "push_outbox", "{}") > 0) {
		assert_true(h_now_ms() < deadline);
		h_sleep_ms(50);
	}
	h_sleep_ms(1000);

	/* The delivered notifications cover each message once. */
	long covered = 0;
	char ids[64][32];
	int nids = 0;
	for (int i = 0;; i++) {
		struct hr_request *q = hr_get(R, "/bob", i);
		if (!q) break;
		if (q->status == 200) {
			const char *id = strstr(q->body, "\"id\":\"");
			assert_non_null(id);
			assert_true(nids < 64);
			snprintf(ids[nids], sizeof(ids[nids]), "%.26s", id + 6);
			for (int k = 0; k < nids; k++)
				assert_string_not_equal(ids[k], ids[nids]);
			nids++;
			covered += p_json_long(q->body, "count");
		}
		hr_request_free(q);
	}
	assert_int_equal(covered, MESSAGES);
	assert_int_equal(h_mongo_count(&H, "push_dead", "{}"), 0);
	/* Both bridges stored some of the stream. */
	assert_true(h_log_count(H.bridge.log, "push: started") == 1 &&
	            h_log_count(B.log, "push: started") == 1);
	tc_close(alice);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_each_message_delivered_once),
	};
	int failed = cmocka_run_group_tests(tests, setup, NULL);
	h_stop(&B, SIGTERM, 10000);
	bool b_clean = h_log_count(B.log, "Sanitizer") == 0 && h_log_count(B.log, "runtime error") == 0;
	if (!b_clean) fprintf(stderr, "sanitizer report in %s\n", B.log);
	bool clean = h_finish(&H, failed != 0 || !b_clean) && b_clean;
	hr_stop(R);
	return clean ? failed : 1;
}
