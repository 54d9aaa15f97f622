/* SPDX-License-Identifier: MIT */
/*
 * chat-bridge's command line: --check-config accepts a good file and
 * reports a bad key or value as file:line with the reason; environment
 * overrides are checked the same way; --help and --version answer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

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
		cmocka_unit_test(test_env_override_is_checked),
		cmocka_unit_test(test_help_and_version),
	};
	int failed = cmocka_run_group_tests(tests, setup, NULL);
	return h_finish(&H, failed != 0) ? failed : 1;
}
