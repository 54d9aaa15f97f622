/* SPDX-License-Identifier: MIT */
/*
 * plugin_opt_auth jwt against the real broker, with keys made and tokens
 * signed here (jwt_sign.c): HS256, RS256 and ES256 tokens that work, and
 * every way a token must fail (expired, not yet valid, wrong key, alg none,
 * algorithm confusion, wrong sub/iss/aud, an escaped NUL in a claim, no
 * exp). A token's admin claim opens $CONTROL/chat/v1, and a session is
 * disconnected when its token expires. Both MQTT 3.1.1 and 5.
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
#include <openssl/rand.h>

#include "client.h"
#include "harness.h"
#include "jwt_sign.h"

#define NOT_AUTHORIZED_V5 135
#define NOT_AUTHORIZED_V311 5

static struct harness H;
static char hs_secret[65], hs_path[700], rs_path[700], es_path[700];
static EVP_PKEY *rs_key, *es_key;

static void hex_secret(char *out)
{
	unsigned char raw[32];
	assert_int_equal(RAND_bytes(raw, sizeof(raw)), 1);
	for (int i = 0; i < 32; i++) snprintf(out + 2 * i, 3, "%02x", raw[i]);
}

static void start_broker(const char *alg, const char *key_path)
{
	char conf[2048];
	snprintf(conf, sizeof(conf),
		 "plugin_opt_auth jwt,password_file\n"
		 "plugin_opt_jwt_alg %s\n"
		 "plugin_opt_jwt_key_file %s\n"
		 "plugin_opt_jwt_issuer chat-test\n"
		 "plugin_opt_jwt_audience mqtt\n"
		 "plugin_opt_jwt_admin_claim roles\n",
		 alg, key_path);
	h_start_broker(&H, conf);
}

static int setup(void **state)
{
	(void)state;
	h_init(&H, "11-auth-jwt");
	hex_secret(hs_secret);
	snprintf(hs_path, sizeof(hs_path), "%s/hs256.secret", H.dir);
	snprintf(rs_path, sizeof(rs_path), "%s/rs256.pem", H.dir);
	snprintf(es_path, sizeof(es_path), "%s/es256.pem", H.dir);
	char line[80];
	snprintf(line, sizeof(line), "%s\n", hs_secret); /* the trailing newline is not part of the secret */
	h_write_file(hs_path, line);
	rs_key = jt_keygen("RS256", rs_path);
	es_key = jt_keygen("ES256", es_path);
	start_broker("HS256", hs_path);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	EVP_PKEY_free(rs_key);
	EVP_PKEY_free(es_key);
	return 0;
}

/* Claims for sub, expiring exp_in seconds from now, plus extra fields
 * (",\"k\":v" or ""). */
static const char *claims(char *buf, size_t cap, const char *sub, long exp_in, const char *extra)
{
	long now = (long)time(NULL);
	snprintf(buf, cap, "{\"sub\":\"%s\",\"iss\":\"chat-test\",\"aud\":\"mqtt\",\"iat\":%ld,\"exp\":%ld%s}", sub, now,
		 now + exp_in, extra);
	return buf;
}

static char *hs_token(const char *claims_json)
{
	return jt_sign("HS256", NULL, claims_json, NULL, hs_secret, strlen(hs_secret));
}

/* Connects user with token as password; returns the CONNACK code. */
static int try_token(const char *id, const char *user, char *token, int protocol)
{
	int rc = -1;
	struct tc *c = tc_connect(&H, id, user, token, protocol, &rc);
	tc_close(c);
	free(token);
	return rc;
}

static void test_hs256_good(void **state)
{
	(void)state;
	char cl[512];
	assert_int_equal(try_token("h5", "alice", hs_token(claims(cl, sizeof(cl), "alice", 300, "")), TC_V5), 0);
	assert_int_equal(try_token("h3", "alice", hs_token(claims(cl, sizeof(cl), "alice", 300, "")), TC_V311), 0);
	/* aud may be an array that holds ours. */
	long now = (long)time(NULL);
	snprintf(cl, sizeof(cl), "{\"sub\":\"alice\",\"iss\":\"chat-test\",\"aud\":[\"web\",\"mqtt\"],\"exp\":%ld}",
		 now + 300);
	assert_int_equal(try_token("ha", "alice", hs_token(cl), TC_V5), 0);
}

static void test_both_methods_password_and_token(void **state)
{
	(void)state;
	char cl[512];
	assert_int_equal(try_token("pw", "bob", NULL, TC_V5), 0); /* NULL: "bob-pw" from the file */
	/* A password shaped like a JWT is judged as a JWT only: no fallback. */
	char *bad = jt_sign("HS256", NULL, claims(cl, sizeof(cl), "bob", 300, ""), NULL, "another-secret-of-32-bytes-or-more", 34);
	assert_int_equal(try_token("pwj", "bob", bad, TC_V5), NOT_AUTHORIZED_V5);
}

static void test_expired_and_not_yet_valid(void **state)
{
	(void)state;
	char cl[512], extra[64];
	assert_int_equal(try_token("e5", "alice", hs_token(claims(cl, sizeof(cl), "alice", -10, "")), TC_V5),
			 NOT_AUTHORIZED_V5);
	assert_int_equal(try_token("e3", "alice", hs_token(claims(cl, sizeof(cl), "alice", -10, "")), TC_V311),
			 NOT_AUTHORIZED_V311);
	snprintf(extra, sizeof(extra), ",\"nbf\":%ld", (long)time(NULL) + 120);
	assert_int_equal(try_token("n5", "alice", hs_token(claims(cl, sizeof(cl), "alice", 300, extra)), TC_V5),
			 NOT_AUTHORIZED_V5);
	snprintf(extra, sizeof(extra), ",\"nbf\":%ld", (long)time(NULL) - 5);
	assert_int_equal(try_token("n5b", "alice", hs_token(claims(cl, sizeof(cl), "alice", 300, extra)), TC_V5), 0);
	/* No exp at all. */
	assert_int_equal(try_token("x5", "alice", hs_token("{\"sub\":\"alice\",\"iss\":\"chat-test\",\"aud\":\"mqtt\"}"),
				   TC_V5),
			 NOT_AUTHORIZED_V5);
	assert_true(h_wait_log(H.broker.log, "token of alice refused: expired", 2000));
	assert_true(h_wait_log(H.broker.log, "token of alice refused: not valid yet", 2000));
}

static void test_wrong_key_and_tampering(void **state)
{
	(void)state;
	char cl[512];
	const char other[] = "0123456789abcdef0123456789abcdef-other";
	char *t = jt_sign("HS256", NULL, claims(cl, sizeof(cl), "alice", 300, ""), NULL, other, strlen(other));
	assert_int_equal(try_token("k5", "alice", t, TC_V5), NOT_AUTHORIZED_V5);
	/* A valid token for bob with its claims swapped for alice's. */
	char *good = hs_token(claims(cl, sizeof(cl), "bob", 300, ""));
	char *forged = jt_sign("HS256", NULL, claims(cl, sizeof(cl), "alice", 300, ""), NULL, "x", 1);
	char *sig = strrchr(good, '.');
	char *fsig = strrchr(forged, '.');
	size_t n = (size_t)(fsig - forged) + strlen(sig) + 1;
	char *mix = malloc(n);
	snprintf(mix, n, "%.*s%s", (int)(fsig - forged), forged, sig);
	free(good);
	free(forged);
	assert_int_equal(try_token("k5b", "alice", mix, TC_V311), NOT_AUTHORIZED_V311);
	assert_true(h_wait_log(H.broker.log, "bad signature", 2000));
}

static void test_alg_none_refused(void **state)
{
	(void)state;
	char cl[512];
	char *t = jt_sign("none", "{\"alg\":\"none\",\"typ\":\"JWT\"}", claims(cl, sizeof(cl), "alice", 300, ""), NULL,
			  NULL, 0);
	assert_int_equal(try_token("none5", "alice", t, TC_V5), NOT_AUTHORIZED_V5);
	/* Header says none, signature is a real HS256 one: still refused. */
	t = jt_sign("HS256", "{\"alg\":\"none\"}", claims(cl, sizeof(cl), "alice", 300, ""), NULL, hs_secret,
		    strlen(hs_secret));
	assert_int_equal(try_token("none3", "alice", t, TC_V311), NOT_AUTHORIZED_V311);
	assert_true(h_wait_log(H.broker.log, "alg is not the configured one", 2000));
}

static void test_wrong_sub_iss_aud(void **state)
{
	(void)state;
	char cl[512];
	long exp = (long)time(NULL) + 300;
	assert_int_equal(try_token("s5", "alice", hs_token(claims(cl, sizeof(cl), "bob", 300, "")), TC_V5),
			 NOT_AUTHORIZED_V5);
	snprintf(cl, sizeof(cl), "{\"sub\":\"alice\",\"iss\":\"evil\",\"aud\":\"mqtt\",\"exp\":%ld}", exp);
	assert_int_equal(try_token("i5", "alice", hs_token(cl), TC_V5), NOT_AUTHORIZED_V5);
	snprintf(cl, sizeof(cl), "{\"sub\":\"alice\",\"aud\":\"mqtt\",\"exp\":%ld}", exp);
	assert_int_equal(try_token("i5b", "alice", hs_token(cl), TC_V5), NOT_AUTHORIZED_V5);
	snprintf(cl, sizeof(cl), "{\"sub\":\"alice\",\"iss\":\"chat-test\",\"aud\":[\"web\"],\"exp\":%ld}", exp);
	assert_int_equal(try_token("a3", "alice", hs_token(cl), TC_V311), NOT_AUTHORIZED_V311);
	assert_true(h_wait_log(H.broker.log, "refused: sub is not the username", 2000));
	assert_true(h_wait_log(H.broker.log, "refused: wrong iss", 2000));
	assert_true(h_wait_log(H.broker.log, "refused: wrong aud", 2000));
}

/* A token signed with the trusted key whose claims hold an escaped U+0000:
 * cJSON alone reads "jwtuser\u0000x" as "jwtuser", and an iss or aud with
 * a suffix after the NUL as the configured one. All refused; the same
 * token without the NUL is the control. */
static void test_nul_in_claims(void **state)
{
	(void)state;
	char cl[512];
	long exp = (long)time(NULL) + 300;
	static const char *const forms[] = {
		"{\"sub\":\"jwtuser\\u0000x\",\"iss\":\"chat-test\",\"aud\":\"mqtt\",\"exp\":%ld}",
		"{\"sub\":\"jwtuser\",\"iss\":\"chat-test\\u0000evil\",\"aud\":\"mqtt\",\"exp\":%ld}",
		"{\"sub\":\"jwtuser\",\"iss\":\"chat-test\",\"aud\":\"mqtt\\u0000evil\",\"exp\":%ld}",
		"{\"sub\":\"jwtuser\",\"iss\":\"chat-test\",\"aud\":[\"mqtt\\u0000evil\"],\"exp\":%ld}",
	};
	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		snprintf(cl, sizeof(cl), forms[i], exp);
		assert_int_equal(try_token("n5", "jwtuser", hs_token(cl), TC_V5), NOT_AUTHORIZED_V5);
		assert_int_equal(try_token("n3", "jwtuser", hs_token(cl), TC_V311), NOT_AUTHORIZED_V311);
	}
	assert_true(h_wait_log(H.broker.log, "token of jwtuser refused: a string holds U+0000", 2000));
	snprintf(cl, sizeof(cl), "{\"sub\":\"jwtuser\",\"iss\":\"chat-test\",\"aud\":\"mqtt\",\"exp\":%ld}", exp);
	assert_int_equal(try_token("n0", "jwtuser", hs_token(cl), TC_V5), 0);
}

/* Sends listRooms on $CONTROL/chat/v1 and returns the response (or NULL). */
static struct tc_msg *control_list_rooms(struct tc *c)
{
	tc_subscribe(c, "$CONTROL/chat/v1/response", 1);
	tc_pub(c, "$CONTROL/chat/v1", "{\"commands\":[{\"command\":\"listRooms\",\"correlationData\":\"j1\"}]}", 1);
	return tc_wait(c, "$CONTROL/chat/v1/response", 1500);
}

static void test_admin_claim(void **state)
{
	(void)state;
	char cl[512];
	char *t = hs_token(claims(cl, sizeof(cl), "eve", 300, ",\"roles\":[\"user\",\"admin\"]"));
	struct tc *adm = tc_connect(&H, "eve-admin", "eve", t, TC_V5, NULL);
	free(t);
	assert_non_null(adm);
	struct tc_msg *m = control_list_rooms(adm);
	assert_non_null(m);
	assert_non_null(strstr(m->payload, "\"listRooms\""));
	assert_null(strstr(m->payload, "\"error\""));
	tc_msg_free(m);
	tc_close(adm);

	/* The same user with a token without the claim is no admin. */
	t = hs_token(claims(cl, sizeof(cl), "eve", 300, ",\"roles\":[\"user\"]"));
	struct tc *plain = tc_connect(&H, "eve-plain", "eve", t, TC_V5, NULL);
	free(t);
	assert_non_null(plain);
	m = control_list_rooms(plain);
	assert_null(m);
	tc_close(plain);
}

/* A token that expires in 2 s: the session is kicked on a tick after. */
static void test_expiry_disconnects(void **state)
{
	(void)state;
	char cl[512];
	long long t0 = h_now_ms();
	char *t5 = hs_token(claims(cl, sizeof(cl), "carol", 2, ""));
	char *t3 = hs_token(claims(cl, sizeof(cl), "dave", 2, ""));
	char *tl = hs_token(claims(cl, sizeof(cl), "alice", 600, ""));
	struct tc *c5 = tc_connect(&H, "exp-5", "carol", t5, TC_V5, NULL);
	struct tc *c3 = tc_connect(&H, "exp-3", "dave", t3, TC_V311, NULL);
	struct tc *longer = tc_connect(&H, "exp-long", "alice", tl, TC_V5, NULL);
	free(t5);
	free(t3);
	free(tl);
	assert_non_null(c5);
	assert_non_null(c3);
	assert_non_null(longer);
	int reason = -1;
	assert_true(tc_wait_disconnect(c5, 8000, &reason));
	assert_int_equal(reason, 152); /* MQTT 5 DISCONNECT: administrative action */
	assert_true(tc_wait_disconnect(c3, 8000, NULL));
	assert_true(h_now_ms() - t0 >= 900); /* not before the token's second ended */
	assert_true(h_wait_log(H.broker.log, "token of carol (client exp-5) expired", 2000));
	assert_true(tc_connected(longer));
	tc_close(c5);
	tc_close(c3);
	tc_close(longer);
}

/* RS256: good tokens work; the HS256 token made with the public key as
 * its secret (algorithm confusion), an ES256 token and alg none do not. */
static void test_rs256(void **state)
{
	(void)state;
	char cl[512];
	start_broker("RS256", rs_path);
	claims(cl, sizeof(cl), "alice", 300, "");
	assert_int_equal(try_token("r5", "alice", jt_sign("RS256", NULL, cl, rs_key, NULL, 0), TC_V5), 0);
	assert_int_equal(try_token("r3", "alice", jt_sign("RS256", NULL, cl, rs_key, NULL, 0), TC_V311), 0);
	size_t pem_len = 0;
	char *pem = h_read_file(rs_path, &pem_len);
	assert_non_null(pem);
	assert_int_equal(try_token("rc", "alice", jt_sign("HS256", NULL, cl, NULL, pem, pem_len), TC_V5),
			 NOT_AUTHORIZED_V5);
	free(pem);
	assert_int_equal(try_token("re", "alice", jt_sign("ES256", NULL, cl, es_key, NULL, 0), TC_V5), NOT_AUTHORIZED_V5);
	assert_int_equal(try_token("rn", "alice", jt_sign("none", "{\"alg\":\"none\"}", cl, NULL, NULL, 0), TC_V311),
			 NOT_AUTHORIZED_V311);
	/* Signed by another RSA key. */
	char other_path[800];
	snprintf(other_path, sizeof(other_path), "%s/other.pem", H.dir);
	EVP_PKEY *other = jt_keygen("RS256", other_path);
	assert_int_equal(try_token("ro", "alice", jt_sign("RS256", NULL, cl, other, NULL, 0), TC_V5), NOT_AUTHORIZED_V5);
	EVP_PKEY_free(other);
}

static void test_es256(void **state)
{
	(void)state;
	char cl[512];
	start_broker("ES256", es_path);
	claims(cl, sizeof(cl), "bob", 300, "");
	assert_int_equal(try_token("es5", "bob", jt_sign("ES256", NULL, cl, es_key, NULL, 0), TC_V5), 0);
	assert_int_equal(try_token("es3", "bob", jt_sign("ES256", NULL, cl, es_key, NULL, 0), TC_V311), 0);
	assert_int_equal(try_token("esr", "bob", jt_sign("RS256", NULL, cl, rs_key, NULL, 0), TC_V5), NOT_AUTHORIZED_V5);
	size_t pem_len = 0;
	char *pem = h_read_file(es_path, &pem_len);
	assert_int_equal(try_token("esc", "bob", jt_sign("HS256", NULL, cl, NULL, pem, pem_len), TC_V5),
			 NOT_AUTHORIZED_V5);
	free(pem);
}

/* HS256 configured with a PEM key file: the broker refuses to start. */
static void test_hs256_with_pem_key_stops_broker(void **state)
{
	(void)state;
	char conf_path[800], log_path[800], conf[2048];
	snprintf(conf_path, sizeof(conf_path), "%s/bad.conf", H.dir);
	snprintf(log_path, sizeof(log_path), "%s/bad-broker.log", H.dir);
	snprintf(conf, sizeof(conf),
		 "user root\nlistener 0 127.0.0.1\nlog_dest file %s\nplugin %s\n"
		 "plugin_opt_auth jwt\nplugin_opt_jwt_alg HS256\nplugin_opt_jwt_key_file %s\n",
		 log_path, CHAT_PLUGIN_PATH, rs_path);
	h_write_file(conf_path, conf);
	int status = h_run_broker(conf_path, 10000);
	assert_true(status > 0);
	assert_true(h_wait_log(log_path, "invites algorithm confusion", 1000));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hs256_good),
		cmocka_unit_test(test_both_methods_password_and_token),
		cmocka_unit_test(test_expired_and_not_yet_valid),
		cmocka_unit_test(test_wrong_key_and_tampering),
		cmocka_unit_test(test_alg_none_refused),
		cmocka_unit_test(test_wrong_sub_iss_aud),
		cmocka_unit_test(test_nul_in_claims),
		cmocka_unit_test(test_admin_claim),
		cmocka_unit_test(test_expiry_disconnects),
		cmocka_unit_test(test_rs256),
		cmocka_unit_test(test_es256),
		cmocka_unit_test(test_hs256_with_pem_key_stops_broker),
	};
	int failed = cmocka_run_group_tests(tests, setup, teardown);
	return h_finish(&H, failed != 0) ? failed : 1;
}
