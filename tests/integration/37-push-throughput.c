/* SPDX-License-Identifier: MIT */
/*
 * A quick throughput check, and a correctness check under load: one
 * message in a room of N offline members (default 200, env
 * PUSH_BENCH_USERS) with one webhook device each makes exactly N
 * notifications, each delivered once, and the outbox drains. Prints the
 * rate from the publish to the last notification received. The devices
 * are written into `devices` directly (the members are not users who can
 * log in to register); membership is real, through the admin API.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "3x-util.h"

#define BATCH 40

static struct harness H;
static struct hr *R;
static int N = 200;

static void add_members(struct tc *admin, int from, int to)
{
	char cmd[8192];
	int n = snprintf(cmd, sizeof(cmd), "{\"commands\":[");
	for (int i = from; i < to; i++) {
		n += snprintf(cmd + n, sizeof(cmd) - (size_t)n,
		              "%s{\"command\":\"addRoomMember\",\"room\":\"big\",\"user\":\"u%04d\"}",
		              i > from ? "," : "", i);
	}
	snprintf(cmd + n, sizeof(cmd) - (size_t)n, "]}");
	assert_int_equal(tc_pub(admin, "$CONTROL/chat/v1", cmd, 1), 0);
	struct tc_msg *m = tc_wait(admin, "$CONTROL/chat/v1/response", P_WAIT_MS);
	assert_non_null(m);
	assert_null(strstr(m->payload, "\"error\""));
	tc_msg_free(m);
}

static void insert_devices(void)
{
	mongoc_client_t *c = h_mongo(&H);
	mongoc_collection_t *col = mongoc_client_get_collection(c, H.mongo_db, "devices");
	bson_error_t err;
	for (int i = 0; i < N; i++) {
		char user[16], url[256], path[32];
		snprintf(user, sizeof(user), "u%04d", i);
		snprintf(path, sizeof(path), "/n/%s", user);
		bson_t *doc = BCON_NEW("user", BCON_UTF8(user), "device", BCON_UTF8("phone"), "platform",
		                       BCON_UTF8("webhook"), "token", BCON_UTF8(""), "endpoint",
		                       BCON_UTF8(hr_url(R, path, url, sizeof(url))));
		assert_true(mongoc_collection_insert_one(col, doc, NULL, NULL, &err));
		bson_destroy(doc);
	}
	mongoc_collection_destroy(col);
	mongoc_client_destroy(c);
}

static int setup(void **state)
{
	(void)state;
	const char *env = getenv("PUSH_BENCH_USERS");
	long v = env ? strtol(env, NULL, 10) : 0;
	if (v > 0 && v <= 9999) N = (int)v;
	h_init(&H, "37-push-throughput");
	R = hr_start();
	h_start_mongo(&H);
	h_start_broker(&H, P_BROKER_CONF);
	h_start_bridge(&H, "push_coalesce_ms 0\npush_allow_private true\npush_allow_http true\n");
	const char *members[] = {"alice", NULL};
	assert_true(h_setup_room(&H, "big", members));
	struct tc *admin = tc_open(&H, "bench-admin", "admin", TC_V5);
	assert_int_equal(tc_subscribe(admin, "$CONTROL/chat/v1/response", 1), 1);
	for (int i = 0; i < N; i += BATCH)
		add_members(admin, i, i + BATCH < N ? i + BATCH : N);
	tc_close(admin);
	insert_devices();
	p_barrier(&H); /* the bridge has every member's rooms list */
	return 0;
}

static void test_one_message_to_many(void **state)
{
	(void)state;
	struct tc *alice = tc_open(&H, "alice-app", "alice", TC_V5);
	long long t0 = h_now_ms();
	assert_int_equal(tc_pub(alice, "chat/rooms/big/messages", "all hands", 1), 0);
	assert_true(hr_wait(R, "/n/", N, 120000));
	long long ms = h_now_ms() - t0;
	assert_true(p_wait_count(&H, "push_outbox", "{}", 0));
	assert_int_equal(hr_count(R, "/n/"), N);
	/* each member exactly once */
	char path[32];
	for (int i = 0; i < N; i++) {
		snprintf(path, sizeof(path), "/n/u%04d", i);
		assert_int_equal(hr_count(R, path), 1);
	}
	printf("push throughput: %d notifications in %lld ms = %.0f/s\n", N, ms,
	       ms > 0 ? N * 1000.0 / (double)ms : 0.0);
	tc_close(alice);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_one_message_to_many),
	};
	int failed = cmocka_run_group_tests(tests, setup, NULL);
	bool clean = h_finish(&H, failed != 0);
	hr_stop(R);
	return clean ? failed : 1;
}
