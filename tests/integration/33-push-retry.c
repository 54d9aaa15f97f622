/* SPDX-License-Identifier: MIT */
/*
 * A provider that fails is retried from the durable outbox. The receiver
 * answers 500, then is down (connections refused), then answers 200: each
 * notification arrives exactly once, none lost, also one queued while the
 * provider was down. A bridge killed with SIGKILL while a notification
 * waits for its retry leaves it in the outbox, where another bridge
 * (a new client id: mosquitto 2.0.11 itself leaks memory when a persistent
 * session is taken over, which the sanitizer run would report) claims and
 * sends it. A provider that never
 * recovers gets push_max_attempts tries, then a push_dead record. A
 * device unregistered while its notification waits for a retry never gets
 * it, while the user's other device still does.
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

#define MAX_ATTEMPTS 5

static struct harness H;
static struct hr *R;
static struct h_proc B2; /* the bridge that takes over after a crash */
static char CONF[512];

static int setup(void **state)
{
	(void)state;
	h_init(&H, "33-push-retry");
	R = hr_start();
	h_start_mongo(&H);
	h_start_broker(&H, P_BROKER_CONF);
	snprintf(
	    CONF, sizeof(CONF),
	    "push_coalesce_ms 200\npush_allow_private true\npush_allow_http true\npush_retry_base_ms 300\n"
	    "push_retry_max_ms 1200\npush_max_attempts %d\npush_timeout_ms 3000\n",
	    MAX_ATTEMPTS);
	h_start_bridge(&H, CONF);
	const char *general[] = {"alice", "bob", NULL}, *ops[] = {"alice", "dave", NULL};
	assert_true(h_setup_room(&H, "general", general));
	assert_true(h_setup_room(&H, "ops", ops));
	struct tc *obs = p_observer(&H);
	p_webhook_device(&H, R, "bob", "bob-phone", "/bob");
	p_webhook_device(&H, R, "dave", "dave-phone", "/dave");
	p_wait_presence(obs, "bob", false);
	p_wait_presence(obs, "dave", false);
	tc_close(obs);
	p_barrier(&H);
	return 0;
}

/* Requests to path that the receiver answered with status. */
static int answered(const char *path, int status, const char *body_has)
{
	int n = 0;
	for (int i = 0;; i++) {
		struct hr_request *q = hr_get(R, path, i);
		if (!q) return n;
		n += q->status == status && (!body_has || strstr(q->body, body_has));
		hr_request_free(q);
	}
}

static bool wait_answered(const char *path, int status, const char *body_has, int n)
{
	long long deadline = h_now_ms() + P_WAIT_MS;
	while (answered(path, status, body_has) < n) {
		if (h_now_ms() > deadline) return false;
		h_sleep_ms(20);
	}
	return true;
}

static void test_down_then_up_none_lost(void **state)
{
	(void)state;
	struct tc *alice = tc_open(&H, "alice-app", "alice", TC_V5);
	hr_rule(R, "/bob", NULL, 500, "{\"error\":\"busy\"}");
	assert_int_equal(tc_pub(alice, "chat/rooms/general/messages", "one", 1), 0);
	assert_true(wait_answered("/bob", 500, "\"body\":\"one\"", 2));
	assert_int_equal(h_mongo_count(&H, "push_outbox", "{\"user\":\"bob\",\"attempts\":{\"$gte\":1}}"), 1);

	hr_down(R);
	assert_true(p_wait_count(&H, "push_outbox", "{\"user\":\"bob\",\"attempts\":{\"$gte\":3}}", 1));
	assert_int_equal(tc_pub(alice, "chat/rooms/general/messages", "two", 1), 0);
	assert_true(p_wait_count(&H, "push_outbox", "{\"user\":\"bob\"}", 2));

	hr_rule(R, "/bob", NULL, 200, NULL);
	hr_up(R);
	assert_true(wait_answered("/bob", 200, "\"body\":\"one\"", 1));
	assert_true(wait_answered("/bob", 200, "\"body\":\"two\"", 1));
	assert_true(p_wait_count(&H, "push_outbox", "{}", 0));
	assert_int_equal(answered("/bob", 200, NULL), 2);
	assert_int_equal(h_mongo_count(&H, "push_dead", "{\"user\":\"bob\"}"), 0);
	tc_close(alice);
}

static void test_unregistered_device_not_retried(void **state)
{
	(void)state;
	p_webhook_device(&H, R, "bob", "bob-tablet", "/tablet");
	struct tc *alice = tc_open(&H, "alice-app4", "alice", TC_V5);
	hr_down(R);
	assert_int_equal(tc_pub(alice, "chat/rooms/general/messages", "four", 1), 0);
	assert_true(p_wait_count(&H, "push_outbox", "{\"device\":\"bob-tablet\",\"attempts\":{\"$gte\":1}}", 1));
	assert_true(p_wait_count(&H, "push_outbox", "{\"device\":\"bob-phone\",\"attempts\":{\"$gte\":1}}", 1));
	p_register(&H, "bob", "{\"op\":\"unregister\",\"device\":\"bob-tablet\"}");
	hr_up(R);
	assert_true(wait_answered("/bob", 200, "\"body\":\"four\"", 1));
	assert_true(p_wait_count(&H, "push_outbox", "{}", 0));
	assert_int_equal(hr_count(R, "/tablet"), 0);
	assert_int_equal(h_mongo_count(&H, "push_dead", "{\"device\":\"bob-tablet\"}"), 0);
	tc_close(alice);
}

static void test_outbox_survives_kill9(void **state)
{
	(void)state;
	struct tc *alice = tc_open(&H, "alice-app2", "alice", TC_V5);
	hr_down(R);
	assert_int_equal(tc_pub(alice, "chat/rooms/general/messages", "three", 1), 0);
	assert_true(p_wait_count(&H, "push_outbox", "{\"user\":\"bob\",\"attempts\":{\"$gte\":1}}", 1));
	h_stop(&H.bridge, SIGKILL, 5000);
	hr_up(R);
	h_start_bridge_named(&H, &B2, "bridge-b", CONF);
	assert_true(wait_answered("/bob", 200, "\"body\":\"three\"", 1));
	assert_true(p_wait_count(&H, "push_outbox", "{}", 0));
	assert_int_equal(answered("/bob", 200, "\"body\":\"three\""), 1);
	tc_close(alice);
}

static void test_dead_letter_after_last_attempt(void **state)
{
	(void)state;
	struct tc *alice = tc_open(&H, "alice-app3", "alice", TC_V5);
	hr_rule(R, "/dave", NULL, 503, NULL);
	assert_int_equal(tc_pub(alice, "chat/rooms/ops/messages", "never arrives", 1), 0);
	assert_true(p_wait_count(&H, "push_dead", "{\"user\":\"dave\"}", 1));
	char filter[128];
	snprintf(filter, sizeof(filter),
	         "{\"user\":\"dave\",\"attempts\":%d,\"error\":\"HTTP 503\",\"status\":503}", MAX_ATTEMPTS);
	assert_int_equal(h_mongo_count(&H, "push_dead", filter), 1);
	assert_int_equal(h_mongo_count(&H, "push_outbox", "{\"user\":\"dave\"}"), 0);
	assert_int_equal(hr_count(R, "/dave"), MAX_ATTEMPTS);
	/* The backoff grew: the last gap is longer than the first. */
	struct hr_request *a = hr_get(R, "/dave", 0), *b = hr_get(R, "/dave", 1);
	struct hr_request *y = hr_get(R, "/dave", MAX_ATTEMPTS - 2),
	                  *z = hr_get(R, "/dave", MAX_ATTEMPTS - 1);
	assert_true(z->at_ms - y->at_ms > b->at_ms - a->at_ms);
	hr_request_free(a);
	hr_request_free(b);
	hr_request_free(y);
	hr_request_free(z);
	tc_close(alice);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_down_then_up_none_lost),
	    cmocka_unit_test(test_dead_letter_after_last_attempt),
	    cmocka_unit_test(test_unregistered_device_not_retried),
	    /* last: the crashed bridge's session stays in the share group */
	    cmocka_unit_test(test_outbox_survives_kill9),
	};
	int failed = cmocka_run_group_tests(tests, setup, NULL);
	h_stop(&B2, SIGTERM, 10000);
	/* h_finish checks the first bridge's log; this one is ours to check. */
	bool b2_clean = h_log_count(B2.log, "Sanitizer") == 0 && h_log_count(B2.log, "runtime error") == 0;
	if (!b2_clean) fprintf(stderr, "sanitizer report in %s\n", B2.log);
	bool clean = h_finish(&H, failed != 0 || !b2_clean) && b2_clean;
	hr_stop(R);
	return clean ? failed : 1;
}
