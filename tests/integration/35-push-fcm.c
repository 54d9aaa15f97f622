/* SPDX-License-Identifier: MIT */
/*
 * FCM HTTP v1 against the local receiver standing in for both Google
 * endpoints. The bridge reads a service-account JSON made here (with a
 * fresh RSA key), signs an RS256 JWT assertion, trades it at the token
 * endpoint for a bearer token and sends with it. The test verifies the
 * assertion with the public key and checks its claims, checks the bearer
 * token and the message on the send, sees the token reused (one token
 * request for two notifications), and a token FCM calls UNREGISTERED
 * removed from `devices`.
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

#define SEND_PATH "/v1/projects/demo-proj/messages:send"
#define EMAIL     "chat-bridge@demo-proj.iam.gserviceaccount.com"
#define ASSERTION "assertion="

static struct harness H;
static struct hr *R;
static EVP_PKEY *KEY;
static char TOKEN_URL[256];

static void write_service_account(const char *path)
{
	char *pem = p_key_pem(KEY);
	char escaped[8192];
	size_t o = 0;
	for (const char *p = pem; *p && o < sizeof(escaped) - 3; p++) {
		if (*p == '\n') {
			escaped[o++] = '\\';
			escaped[o++] = 'n';
		} else {
			escaped[o++] = *p;
		}
	}
	escaped[o] = '\0';
	free(pem);
	char json[10000];
	snprintf(json, sizeof(json),
	         "{\"type\":\"service_account\",\"project_id\":\"demo-proj\",\"private_key_id\":\"key-id-1\","
	         "\"private_key\":\"%s\",\"client_email\":\"" EMAIL "\",\"token_uri\":\"%s\"}",
	         escaped, TOKEN_URL);
	h_write_file(path, json);
}

static int setup(void **state)
{
	(void)state;
	char conf[1024], base[256], sa[600];
	h_init(&H, "35-push-fcm");
	R = hr_start();
	KEY = p_keygen("RSA");
	hr_url(R, "/token", TOKEN_URL, sizeof(TOKEN_URL));
	snprintf(sa, sizeof(sa), "%s/service-account.json", H.dir);
	write_service_account(sa);
	hr_rule(R, "/token", NULL, 200,
	        "{\"access_token\":\"ya29.test-token\",\"expires_in\":3599,\"token_type\":\"Bearer\"}");
	hr_rule(R, SEND_PATH, NULL, 200, "{\"name\":\"projects/demo-proj/messages/1\"}");
	hr_rule(R, SEND_PATH, "fcm-dead-token", 404,
	        "{\"error\":{\"code\":404,\"message\":\"Requested entity was not "
	        "found.\",\"status\":\"NOT_FOUND\","
	        "\"details\":[{\"@type\":\"type.googleapis.com/google.firebase.fcm.v1.FcmError\","
	        "\"errorCode\":\"UNREGISTERED\"}]}}");
	h_start_mongo(&H);
	h_start_broker(&H, P_BROKER_CONF);
	snprintf(conf, sizeof(conf),
	         "push_coalesce_ms 200\npush_retry_base_ms 200\nfcm_service_account %s\nfcm_base_url %s\n",
	         sa, hr_url(R, "", base, sizeof(base)));
	h_start_bridge(&H, conf);
	const char *members[] = {"alice", "bob", NULL};
	assert_true(h_setup_room(&H, "general", members));
	return 0;
}

static void check_assertion(const struct hr_request *q)
{
	char ct[128];
	assert_string_equal(q->method, "POST");
	assert_non_null(hr_header(q, "Content-Type", ct, sizeof(ct)));
	assert_string_equal(ct, "application/x-www-form-urlencoded");
	assert_non_null(strstr(q->body, "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer"));
	const char *jwt = strstr(q->body, ASSERTION);
	assert_non_null(jwt);
	jwt += strlen(ASSERTION);
	assert_true(p_jwt_verify(jwt, KEY));
	unsigned char header[512], claims[1024];
	p_jwt_part(jwt, 0, header, sizeof(header));
	p_jwt_part(jwt, 1, claims, sizeof(claims));
	assert_non_null(strstr((char *)header, "\"alg\":\"RS256\""));
	assert_non_null(strstr((char *)header, "\"kid\":\"key-id-1\""));
	assert_non_null(strstr((char *)claims, "\"iss\":\"" EMAIL "\""));
	assert_non_null(
	    strstr((char *)claims, "\"scope\":\"https://www.googleapis.com/auth/firebase.messaging\""));
	char aud[300];
	snprintf(aud, sizeof(aud), "\"aud\":\"%s\"", TOKEN_URL);
	assert_non_null(strstr((char *)claims, aud));
	long iat = p_json_long((char *)claims, "iat"), exp = p_json_long((char *)claims, "exp");
	assert_true(labs(iat - (long)time(NULL)) < 120);
	assert_int_equal(exp - iat, 3600);
	/* A tampered assertion does not verify: the check can fail. */
	char *bad = strdup(jwt);
	bad[strcspn(bad, ".") + 3] ^= 1;
	assert_false(p_jwt_verify(bad, KEY));
	free(bad);
}

static void test_fcm_oauth_send_and_unregistered(void **state)
{
	(void)state;
	struct tc *obs = p_observer(&H);
	p_register(
	    &H, "bob",
	    "{\"op\":\"register\",\"device\":\"pixel\",\"platform\":\"fcm\",\"token\":\"fcm-live-token\"}");
	p_register(
	    &H, "bob",
	    "{\"op\":\"register\",\"device\":\"old\",\"platform\":\"fcm\",\"token\":\"fcm-dead-token\"}");
	char *reply = p_device(&H, "bob", "{\"op\":\"register\",\"device\":\"x\",\"platform\":\"fcm\"}");
	assert_non_null(strstr(reply, "needs a token"));
	free(reply);
	struct tc *alice = tc_open(&H, "alice-app", "alice", TC_V5);
	p_wait_presence(obs, "bob", false);
	p_barrier(&H);

	assert_int_equal(tc_pub(alice, "chat/rooms/general/messages", "ping from alice", 1), 0);
	assert_true(hr_wait(R, SEND_PATH, 2, P_WAIT_MS));
	assert_int_equal(hr_count(R, "/token"), 1);
	struct hr_request *q = hr_get(R, "/token", 0);
	check_assertion(q);
	hr_request_free(q);

	for (int i = 0; i < 2; i++) {
		char auth[128];
		q = hr_get(R, SEND_PATH, i);
		assert_string_equal(q->method, "POST");
		assert_non_null(hr_header(q, "Authorization", auth, sizeof(auth)));
		assert_string_equal(auth, "Bearer ya29.test-token");
		assert_non_null(strstr(q->body, "\"message\":{\"token\":\"fcm-"));
		assert_non_null(strstr(q->body, "\"title\":\"alice in general\""));
		assert_non_null(strstr(q->body, "\"body\":\"ping from alice\""));
		assert_non_null(strstr(q->body, "\"unread\":\"1\""));
		hr_request_free(q);
	}
	assert_true(p_wait_count(&H, "devices", "{\"user\":\"bob\"}", 1));
	assert_int_equal(h_mongo_count(&H, "devices", "{\"device\":\"pixel\"}"), 1);

	/* The cached bearer token serves the next notification. */
	assert_int_equal(tc_pub(alice, "chat/rooms/general/messages", "again", 1), 0);
	assert_true(hr_wait(R, SEND_PATH, 3, P_WAIT_MS));
	assert_int_equal(hr_count(R, "/token"), 1);
	q = hr_get(R, SEND_PATH, 2);
	assert_non_null(strstr(q->body, "fcm-live-token"));
	hr_request_free(q);
	assert_true(p_wait_count(&H, "push_outbox", "{}", 0));

	/* FCM refuses the bearer token (revoked): the bridge fetches a new
	 * one and the retry goes out with it. */
	hr_rule(R, SEND_PATH, NULL, 401, "{\"error\":{\"code\":401,\"status\":\"UNAUTHENTICATED\"}}");
	hr_rule(R, "/token", NULL, 200, "{\"access_token\":\"ya29.second\",\"expires_in\":3599}");
	assert_int_equal(tc_pub(alice, "chat/rooms/general/messages", "third", 1), 0);
	assert_true(hr_wait(R, SEND_PATH, 4, P_WAIT_MS));
	hr_rule(R, SEND_PATH, NULL, 200, "{\"name\":\"projects/demo-proj/messages/2\"}");
	assert_true(hr_wait(R, "/token", 2, P_WAIT_MS));
	assert_true(p_wait_count(&H, "push_outbox", "{}", 0));
	int sends = hr_count(R, SEND_PATH);
	q = hr_get(R, SEND_PATH, sends - 1);
	char auth[128];
	assert_non_null(hr_header(q, "Authorization", auth, sizeof(auth)));
	assert_string_equal(auth, "Bearer ya29.second");
	assert_non_null(strstr(q->body, "\"body\":\"third\""));
	assert_int_equal(q->status, 200);
	hr_request_free(q);
	tc_close(alice);
	tc_close(obs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fcm_oauth_send_and_unregistered),
	};
	int failed = cmocka_run_group_tests(tests, setup, NULL);
	bool clean = h_finish(&H, failed != 0);
	hr_stop(R);
	EVP_PKEY_free(KEY);
	return clean ? failed : 1;
}
