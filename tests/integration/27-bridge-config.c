/* SPDX-License-Identifier: MIT */
/*
 * chat-bridge's command line: --check-config accepts a good file and
 * reports a bad key or value as file:line with the reason, for every key
 * (the push ones included), also when the fault is between keys (the line
 * of the key it is about) or inside a file a key names (the FCM service
 * account, where a string with an escaped NUL is refused rather than cut
 * short); environment overrides are checked the same way; --help and
 * --version answer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "3x-crypto.h"
#include "harness.h"

static struct harness H;

static int setup(void **state)
{
	(void)state;
	h_init(&H, "27-bridge-config");
	return 0;
}

/* Runs chat-bridge with args; returns the exit status, output in *out. */
static int run_bridge(const char *arg1, const char *arg2, const char *arg3, char **out)
{
	char path[600];
	snprintf(path, sizeof(path), "%s/out.txt", H.dir);
	remove(path);
	char *argv[] = {(char *)CHAT_BRIDGE_PATH, (char *)arg1, (char *)arg2, (char *)arg3, NULL};
	int rc = h_run(argv, path, 10000);
	*out = h_read_file(path, NULL);
	assert_non_null(*out);
	return rc;
}

static const char *conf_file(const char *name, const char *text)
{
	static char path[600];
	snprintf(path, sizeof(path), "%s/%s", H.dir, name);
	h_write_file(path, text);
	return path;
}

static void test_good_config(void **state)
{
	(void)state;
	char *out;
	const char *p = conf_file("good.conf", "# a comment\nmqtt_port 1884\njournal_max_bytes 64M\n"
					       "metrics_listen\nbatch_size 100\n");
	assert_int_equal(run_bridge("--check-config", "-c", p, &out), 0);
	assert_non_null(strstr(out, "configuration ok"));
	free(out);
}

static void test_unknown_key_reports_file_line(void **state)
{
	(void)state;
	char *out, want[700];
	const char *p = conf_file("bad-key.conf", "mqtt_host 127.0.0.1\n\nmongo_urii mongodb://x\n");
	assert_int_equal(run_bridge("--check-config", "-c", p, &out), 1);
	snprintf(want, sizeof(want), "%s:3:", p);
	assert_non_null(strstr(out, want));
	assert_non_null(strstr(out, "unknown key 'mongo_urii'"));
	free(out);
}

static void test_bad_value_reports_file_line(void **state)
{
	(void)state;
	char *out, want[700];
	const char *p = conf_file("bad-value.conf", "journal_dir /tmp/x\njournal_max_bytes 12x\n");
	assert_int_equal(run_bridge("--check-config", "-c", p, &out), 1);
	snprintf(want, sizeof(want), "%s:2:", p);
	assert_non_null(strstr(out, want));
	assert_non_null(strstr(out, "journal_max_bytes"));
	free(out);
}

/* Checks that text, with its bad line at line 3, fails naming file:3 and
 * what (a substring of the reason). */
static void fails_at_line3(const char *name, const char *bad_line, const char *what)
{
	char *out, text[700], want[700];
	snprintf(text, sizeof(text), "# line 1\nmqtt_port 1884\n%s\nbatch_size 10\n", bad_line);
	const char *p = conf_file(name, text);
	int rc = run_bridge("--check-config", "-c", p, &out);
	snprintf(want, sizeof(want), "%s:3: ", p);
	if (rc != 1 || !strstr(out, want) || !strstr(out, what)) fail_msg("'%s' -> %d: %s", bad_line, rc, out);
	free(out);
}

static void test_every_key_reports_file_line(void **state)
{
	(void)state;
	static const char *const cases[][2] = {
		{"push_allow_private maybe", "push_allow_private must be true or false"},
		{"push_allow_http 2", "push_allow_http"},
		{"push_preview perhaps", "push_preview"},
		{"push_coalesce_ms abc", "push_coalesce_ms must be a whole number"},
		{"push_max_attempts 0", "push_max_attempts"},
		{"push_retry_base_ms 1", "push_retry_base_ms"},
		{"push_retry_max_ms x", "push_retry_max_ms"},
		{"push_timeout_ms 5", "push_timeout_ms"},
		{"unifiedpush_ttl -1", "unifiedpush_ttl"},
		{"webhook_url ftp://hooks.example.org/", "webhook_url is not an http"},
		{"fcm_base_url https://user:pw@fcm.example.org", "fcm_base_url has a user name"},
		{"fcm_token_url nonsense", "fcm_token_url"},
		{"apns_base_url http://[::1", "apns_base_url"},
		{"push_title", "needs a value"},
		{"webhook_secret", "needs a value"},
		{"mqtt_host", "needs a value"},
		{"mqtt_keepalive 1", "mqtt_keepalive"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char name[32];
		snprintf(name, sizeof(name), "key-%zu.conf", i);
		fails_at_line3(name, cases[i][0], cases[i][1]);
	}
}

static void test_checks_between_keys_name_the_line(void **state)
{
	(void)state;
	char line[700];
	fails_at_line3("apns.conf", "apns_key_file /nonexistent/key.p8",
		       "apns_key_file needs apns_key_id, apns_team_id and apns_topic");
	fails_at_line3("fcm.conf", "fcm_service_account /nonexistent/sa.json", "cannot read");
	fails_at_line3("hist.conf", "history_limit_default 150\nhistory_limit_max 100", "history_limit_default (150)");
	/* A service account whose client_email holds an escaped NUL: read as
	 * a C string it would be cut to "bridge", and everything else in the
	 * file is good. */
	EVP_PKEY *key = p_keygen("RSA");
	char *pem = p_key_pem(key), escaped[8192], json[10000], path[600];
	size_t o = 0;
	for (const char *p = pem; *p && o < sizeof(escaped) - 3; p++) {
		if (*p == '\n') escaped[o++] = '\\';
		escaped[o++] = *p == '\n' ? 'n' : *p;
	}
	escaped[o] = '\0';
	free(pem);
	EVP_PKEY_free(key);
	const char *fmt = "{\"type\":\"service_account\",\"project_id\":\"p\",\"private_key\":\"%s\","
			  "\"client_email\":\"%s\"}";
	snprintf(path, sizeof(path), "%s/sa-good.json", H.dir);
	snprintf(json, sizeof(json), fmt, escaped, "bridge@p.iam.example");
	h_write_file(path, json);
	char *out;
	snprintf(line, sizeof(line), "fcm_service_account %s\n", path);
	assert_int_equal(run_bridge("--check-config", "-c", conf_file("fcm-good.conf", line), &out), 0);
	free(out);
	snprintf(path, sizeof(path), "%s/sa-nul.json", H.dir);
	snprintf(json, sizeof(json), fmt, escaped, "bridge\\u0000@evil.example");
	h_write_file(path, json);
	snprintf(line, sizeof(line), "fcm_service_account %s", path);
	fails_at_line3("fcm-nul.conf", line, "client_email must be a string without U+0000");
}

static void test_env_override_is_checked(void **state)
{
	(void)state;
	char *out;
	const char *p = conf_file("env.conf", "mqtt_port 1883\n");
	setenv("CHAT_BRIDGE_MQTT_PORT", "99999", 1);
	int rc = run_bridge("--check-config", "-c", p, &out);
	unsetenv("CHAT_BRIDGE_MQTT_PORT");
	assert_int_equal(rc, 1);
	assert_non_null(strstr(out, "CHAT_BRIDGE_MQTT_PORT"));
	free(out);
	setenv("CHAT_BRIDGE_PUSH_ALLOW_PRIVATE", "maybe", 1);
	rc = run_bridge("--check-config", "-c", p, &out);
	unsetenv("CHAT_BRIDGE_PUSH_ALLOW_PRIVATE");
	assert_int_equal(rc, 1);
	assert_non_null(strstr(out, "environment CHAT_BRIDGE_PUSH_ALLOW_PRIVATE: push_allow_private must be"));
	free(out);
}

static void test_help_and_version(void **state)
{
	(void)state;
	char *out;
	assert_int_equal(run_bridge("--version", NULL, NULL, &out), 0);
	assert_non_null(strstr(out, "chat-bridge "));
	free(out);
	assert_int_equal(run_bridge("--help", NULL, NULL, &out), 0);
	assert_non_null(strstr(out, "--check-config"));
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_config),
		cmocka_unit_test(test_unknown_key_reports_file_line),
		cmocka_unit_test(test_bad_value_reports_file_line),
		cmocka_unit_test(test_every_key_reports_file_line),
		cmocka_unit_test(test_checks_between_keys_name_the_line),
		cmocka_unit_test(test_env_override_is_checked),
		cmocka_unit_test(test_help_and_version),
	};
	int failed = cmocka_run_group_tests(tests, setup, NULL);
	return h_finish(&H, failed != 0) ? failed : 1;
}
