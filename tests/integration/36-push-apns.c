/* SPDX-License-Identifier: MIT */
/*
 * APNs with token authentication against the local receiver (plain http,
 * so HTTP/1.1; over https the bridge asks for HTTP/2). The bridge signs an
 * ES256 provider token with a .p8 key made here; the test checks the JWT
 * header (alg ES256, kid) and claims (iss = team id, iat), verifies the
 * signature with the public key, checks apns-topic and the alert payload,
 * sees the provider token reused, and a token that APNs calls Unregistered
 * (410) removed from `devices`.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "3x-crypto.h"
#include "3x-util.h"

#define LIVE "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90"
#define DEAD "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

static struct harness H;
static struct hr *R;
static EVP_PKEY *KEY;

static int setup(void **state)
{
	(void)state;
	char conf[1024], base[256], keyfile[600];
	h_init(&H, "36-push-apns");
	R = hr_start();
	KEY = p_keygen("EC");
	snprintf(keyfile, sizeof(keyfile), "%s/AuthKey_KEY1234567.p8", H.dir);
	char *pem = p_key_pem(KEY);
	h_write_file(keyfile, pem);
	free(pem);
	hr_rule(R, "/3/device/", NULL, 200, "");
	hr_rule(R, "/3/device/" DEAD, NULL, 410, "{\"reason\":\"Unregistered\",\"timestamp\":1700000000000}");
	h_start_mongo(&H);
	h_start_broker(&H, P_BROKER_CONF);
	snprintf(conf, sizeof(conf),
	         "push_coalesce_ms 200\napns_key_file %s\napns_key_id KEY1234567\napns_team_id TEAM987654\n"
	         "apns_topic com.example.chat\napns_base_url %s\n",
	         keyfile, hr_url(R, "", base, sizeof(base)));
	h_start_bridge(&H, conf);
	const char *members[] = {"alice", "bob", NULL};
	assert_true(h_setup_room(&H, "general", members));
	return 0;
}

static void check_request(const struct hr_request *q)
{
	char v[1024];
	assert_string_equal(q->method, "POST");
	assert_non_null(hr_header(q, "apns-topic", v, sizeof(v)));
	assert_string_equal(v, "com.example.chat");
	assert_non_null(hr_header(q, "apns-push-type", v, sizeof(v)));
	assert_string_equal(v, "alert");
	assert_non_null(hr_header(q, "authorization", v, sizeof(v)));
	assert_int_equal(strncmp(v, "bearer ", 7), 0);
	const char *jwt = v + 7;
	assert_true(p_jwt_verify(jwt, KEY));
	unsigned char header[512], claims[512];
	p_jwt_part(jwt, 0, header, sizeof(header));
	p_jwt_part(jwt, 1, claims, sizeof(claims));
	assert_non_null(strstr((char *)header, "\"alg\":\"ES256\""));
	assert_non_null(strstr((char *)header, "\"kid\":\"KEY1234567\""));
	assert_non_null(strstr((char *)claims, "\"iss\":\"TEAM987654\""));
	assert_true(labs(p_json_long((char *)claims, "iat") - (long)time(NULL)) < 120);
	assert_non_null(
	    strstr(q->body, "\"aps\":{\"alert\":{\"title\":\"alice in general\",\"body\":\"hello iPhone\"}"));
	assert_non_null(strstr(q->body, "\"badge\":1"));
	assert_non_null(strstr(q->body, "\"thread-id\":\"general\""));
}

static void test_apns_token_auth_and_unregistered(void **state)
{
	(void)state;
	struct tc *obs = p_observer(&H);
	p_register(&H, "bob",
	           "{\"op\":\"register\",\"device\":\"iphone\",\"platform\":\"apns\",\"token\":\"" LIVE
	           "\"}");
	p_register(&H, "bob",
	           "{\"op\":\"register\",\"device\":\"old-ipad\",\"platform\":\"apns\",\"token\":\"" DEAD
	           "\"}");
	struct tc *alice = tc_open(&H, "alice-app", "alice", TC_V5);
	p_wait_presence(obs, "bob", false);
	p_barrier(&H);

	assert_int_equal(tc_pub(alice, "chat/rooms/general/messages", "hello iPhone", 1), 0);
	assert_true(hr_wait(R, "/3/device/" LIVE, 1, P_WAIT_MS));
	struct hr_request *q = hr_get(R, "/3/device/" LIVE, 0);
	check_request(q);
	char first_auth[1024];
	hr_header(q, "authorization", first_auth, sizeof(first_auth));
	hr_request_free(q);
	assert_true(hr_wait(R, "/3/device/" DEAD, 1, P_WAIT_MS));
	assert_true(p_wait_count(&H, "devices", "{\"user\":\"bob\"}", 1));
	assert_int_equal(h_mongo_count(&H, "devices", "{\"device\":\"iphone\"}"), 1);

	/* The provider token is reused, not signed per request. */
	assert_int_equal(tc_pub(alice, "chat/rooms/general/messages", "second", 1), 0);
	assert_true(hr_wait(R, "/3/device/" LIVE, 2, P_WAIT_MS));
	q = hr_get(R, "/3/device/" LIVE, 1);
	char auth[1024];
	assert_non_null(hr_header(q, "authorization", auth, sizeof(auth)));
	assert_string_equal(auth, first_auth);
	assert_non_null(strstr(q->body, "\"badge\":2"));
	hr_request_free(q);
	assert_int_equal(hr_count(R, "/3/device/" DEAD), 1);
	assert_true(p_wait_count(&H, "push_outbox", "{}", 0));
	tc_close(alice);
	tc_close(obs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_apns_token_auth_and_unregistered),
	};
	int failed = cmocka_run_group_tests(tests, setup, NULL);
	bool clean = h_finish(&H, failed != 0);
	hr_stop(R);
	EVP_PKEY_free(KEY);
	return clean ? failed : 1;
}
