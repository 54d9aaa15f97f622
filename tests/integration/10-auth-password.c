/* SPDX-License-Identifier: MIT */
/*
 * plugin_opt_auth password_file against the real broker: the harness's
 * mosquitto_passwd file ($7$ entries), a $6$ entry made here with OpenSSL,
 * a plain-text entry that must not work, the refusals (v5 CONNACK 135 and
 * 3.1.1 CONNACK 5), anonymous clients left to allow_anonymous, and SIGHUP
 * picking up a changed password file.
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
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "client.h"
#include "harness.h"

#define NOT_AUTHORIZED_V5 135
#define NOT_AUTHORIZED_V311 5

static struct harness H;

/* Standard base64 of data (mosquitto_passwd's alphabet, with padding). */
static void b64(const unsigned char *data, int len, char *out)
{
	EVP_EncodeBlock((unsigned char *)out, data, len);
}

/* Appends "user:$6$salt$sha512(password||salt)" to the password file. */
static void add_sha512_entry(const char *user, const char *password)
{
	unsigned char salt[12], hash[64];
	unsigned int hlen = 0;
	char salt64[32], hash64[100], line[256];
	assert_int_equal(RAND_bytes(salt, sizeof(salt)), 1);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	assert_non_null(md);
	assert_int_equal(EVP_DigestInit_ex(md, EVP_sha512(), NULL), 1);
	EVP_DigestUpdate(md, password, strlen(password));
	EVP_DigestUpdate(md, salt, sizeof(salt));
	EVP_DigestFinal_ex(md, hash, &hlen);
	EVP_MD_CTX_free(md);
	b64(salt, sizeof(salt), salt64);
	b64(hash, (int)hlen, hash64);
	char *text = h_read_file(H.passwd_file, NULL);
	assert_non_null(text);
	snprintf(line, sizeof(line), "%s:$6$%s$%s\n", user, salt64, hash64);
	size_t n = strlen(text) + strlen(line) + 1;
	char *all = malloc(n);
	assert_non_null(all);
	snprintf(all, n, "%s%s", text, line);
	h_write_file(H.passwd_file, all);
	free(all);
	free(text);
}

static int setup(void **state)
{
	(void)state;
	h_init(&H, "10-auth-password");
	add_sha512_entry("olduser", "old-secret");
	char *text = h_read_file(H.passwd_file, NULL);
	size_t n = strlen(text) + 64;
	char *all = malloc(n);
	snprintf(all, n, "%splain:plain-secret\n", text); /* never accepted */
	h_write_file(H.passwd_file, all);
	free(all);
	free(text);
	h_start_broker(&H, NULL);
	return 0;
}

/* How many times needle is in the broker log. */
static int log_count(const char *path, const char *needle)
{
	char *text = h_read_file(path, NULL);
	int n = 0;
	for (const char *p = text ? strstr(text, needle) : NULL; p; p = strstr(p + 1, needle)) n++;
	free(text);
	return n;
}

static bool wait_log_count(const char *path, const char *needle, int count, int timeout_ms)
{
	long long deadline = h_now_ms() + timeout_ms;
	while (log_count(path, needle) < count) {
		if (h_now_ms() > deadline) return false;
		h_sleep_ms(20);
	}
	return true;
}

/* Connects and returns the CONNACK code (0 = accepted; closes the client). */
static int try_connect(const char *id, const char *user, const char *password, int protocol)
{
	int rc = -1;
	struct tc *c = tc_connect(&H, id, user, password, protocol, &rc);
	tc_close(c);
	return rc;
}

static void test_good_password_both_protocols(void **state)
{
	(void)state;
	assert_int_equal(try_connect("a-5", "alice", NULL, TC_V5), 0);
	assert_int_equal(try_connect("a-3", "alice", NULL, TC_V311), 0);
	assert_int_equal(try_connect("adm", "admin", NULL, TC_V5), 0);
}

static void test_wrong_password_refused(void **state)
{
	(void)state;
	assert_int_equal(try_connect("w-5", "alice", "bob-pw", TC_V5), NOT_AUTHORIZED_V5);
	assert_int_equal(try_connect("w-3", "alice", "bob-pw", TC_V311), NOT_AUTHORIZED_V311);
	assert_int_equal(try_connect("w-e", "alice", "", TC_V5), NOT_AUTHORIZED_V5);
	assert_true(h_wait_log(H.broker.log, "refused: bad credentials for alice", 2000));
}

static void test_unknown_user_refused(void **state)
{
	(void)state;
	assert_int_equal(try_connect("u-5", "mallory", "mallory-pw", TC_V5), NOT_AUTHORIZED_V5);
	assert_int_equal(try_connect("u-3", "mallory", "mallory-pw", TC_V311), NOT_AUTHORIZED_V311);
}

static void test_invalid_username_refused(void **state)
{
	(void)state;
	char long_name[80];
	memset(long_name, 'a', 65);
	long_name[65] = '\0';
	assert_int_equal(try_connect("i-1", "al ice", "x", TC_V5), NOT_AUTHORIZED_V5);
	assert_int_equal(try_connect("i-2", "a/b", "x", TC_V311), NOT_AUTHORIZED_V311);
	assert_int_equal(try_connect("i-3", "alice#", "alice-pw", TC_V5), NOT_AUTHORIZED_V5);
	assert_int_equal(try_connect("i-4", long_name, "x", TC_V5), NOT_AUTHORIZED_V5);
	assert_true(h_wait_log(H.broker.log, "username is not a valid user id", 2000));
}

static void test_sha512_entry_works(void **state)
{
	(void)state;
	assert_int_equal(try_connect("o-5", "olduser", "old-secret", TC_V5), 0);
	assert_int_equal(try_connect("o-3", "olduser", "old-secret", TC_V311), 0);
	assert_int_equal(try_connect("o-x", "olduser", "old-secreT", TC_V5), NOT_AUTHORIZED_V5);
}

static void test_plaintext_entry_never_accepted(void **state)
{
	(void)state;
	assert_true(h_wait_log(H.broker.log, "user plain has no $6$ or $7$ hash", 2000));
	assert_int_equal(try_connect("p-5", "plain", "plain-secret", TC_V5), NOT_AUTHORIZED_V5);
}

/* allow_anonymous false (the harness's): the plugin defers, the broker
 * refuses. allow_anonymous true: the same client gets in. */
static void test_anonymous_left_to_allow_anonymous(void **state)
{
	(void)state;
	assert_int_equal(try_connect("anon-5", NULL, NULL, TC_V5), NOT_AUTHORIZED_V5);
	assert_int_equal(try_connect("anon-3", NULL, NULL, TC_V311), NOT_AUTHORIZED_V311);
	h_start_broker(&H, "allow_anonymous true\n");
	assert_int_equal(try_connect("anon-5b", NULL, NULL, TC_V5), 0);
	assert_int_equal(try_connect("anon-3b", NULL, NULL, TC_V311), 0);
	/* Usernames are still the plugin's to check. */
	assert_int_equal(try_connect("anon-x", "alice", "nope", TC_V5), NOT_AUTHORIZED_V5);
	h_start_broker(&H, NULL);
}

/* A banned user is refused even with the right password ($CONTROL banUser). */
static void test_banned_user_refused(void **state)
{
	(void)state;
	struct tc *adm = tc_open(&H, "ban-admin", "admin", TC_V5);
	assert_true(tc_subscribe(adm, "$CONTROL/chat/v1/response", 1) < 0x80);
	assert_int_equal(tc_pub(adm, "$CONTROL/chat/v1",
				"{\"commands\":[{\"command\":\"banUser\",\"user\":\"dave\",\"correlationData\":\"b1\"}]}", 1),
			 0);
	struct tc_msg *m = tc_wait(adm, "$CONTROL/chat/v1/response", TC_WAIT_MS);
	assert_non_null(m);
	assert_null(strstr(m->payload, "\"error\""));
	tc_msg_free(m);
	assert_int_equal(try_connect("d-5", "dave", NULL, TC_V5), NOT_AUTHORIZED_V5);
	assert_int_equal(try_connect("d-3", "dave", NULL, TC_V311), NOT_AUTHORIZED_V311);
	assert_true(h_wait_log(H.broker.log, "dave is banned", 2000));
	assert_int_equal(tc_pub(adm, "$CONTROL/chat/v1", "{\"commands\":[{\"command\":\"unbanUser\",\"user\":\"dave\"}]}", 1),
			 0);
	tc_msg_free(tc_wait(adm, "$CONTROL/chat/v1/response", TC_WAIT_MS));
	assert_int_equal(try_connect("d-5b", "dave", NULL, TC_V5), 0);
	tc_close(adm);
}

/* SIGHUP re-reads the file: a changed password takes effect, a new user
 * appears. Mosquitto 2.0.11 then authenticates every connected client
 * again: a session whose password changed is closed, others stay. */
static void test_reload_picks_up_changes(void **state)
{
	(void)state;
	struct tc *open_session = tc_open(&H, "c-open", "carol", TC_V5);
	struct tc *other_session = tc_open(&H, "b-open", "bob", TC_V311);
	char *argv[] = {(char *)MOSQUITTO_PASSWD_BIN, "-b", H.passwd_file, "carol", "carol-new", NULL};
	assert_int_equal(h_run(argv, NULL, 10000), 0);
	add_sha512_entry("newbie", "newbie-pw");
	assert_int_equal(try_connect("c-old", "carol", NULL, TC_V5), 0); /* not reloaded yet */
	int before = log_count(H.broker.log, "credentials reloaded");
	kill(H.broker.pid, SIGHUP);
	assert_true(wait_log_count(H.broker.log, "credentials reloaded", before + 1, 5000));
	assert_int_equal(try_connect("c-old2", "carol", NULL, TC_V5), NOT_AUTHORIZED_V5);
	assert_int_equal(try_connect("c-new", "carol", "carol-new", TC_V311), 0);
	assert_int_equal(try_connect("n-new", "newbie", "newbie-pw", TC_V5), 0);
	assert_true(tc_wait_disconnect(open_session, TC_WAIT_MS, NULL));
	assert_true(tc_connected(other_session));

	/* A file that no longer loads keeps the running credentials. */
	int failed_before = log_count(H.broker.log, "reload failed");
	char moved[700];
	snprintf(moved, sizeof(moved), "%s.gone", H.passwd_file);
	assert_int_equal(rename(H.passwd_file, moved), 0);
	kill(H.broker.pid, SIGHUP);
	assert_true(wait_log_count(H.broker.log, "reload failed", failed_before + 1, 5000));
	assert_int_equal(try_connect("c-new2", "carol", "carol-new", TC_V5), 0);
	assert_true(tc_connected(other_session));
	tc_close(open_session);
	tc_close(other_session);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_password_both_protocols),
		cmocka_unit_test(test_wrong_password_refused),
		cmocka_unit_test(test_unknown_user_refused),
		cmocka_unit_test(test_invalid_username_refused),
		cmocka_unit_test(test_sha512_entry_works),
		cmocka_unit_test(test_plaintext_entry_never_accepted),
		cmocka_unit_test(test_anonymous_left_to_allow_anonymous),
		cmocka_unit_test(test_banned_user_refused),
		cmocka_unit_test(test_reload_picks_up_changes),
	};
	int failed = cmocka_run_group_tests(tests, setup, NULL);
	return h_finish(&H, failed != 0) ? failed : 1;
}
