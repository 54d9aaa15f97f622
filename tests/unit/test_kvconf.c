/* SPDX-License-Identifier: MIT */
/* Unit tests of common/kvconf: parsing, comments, errors with file:line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "chat_err.h"
#include "kvconf.h"

struct got {
	int n;
	char keys[4][32];
	char values[4][64];
	unsigned lines[4];
};

static int collect(const char *key, const char *value, unsigned line, void *ud, char *why, size_t whylen)
{
	struct got *g = ud;
	if (strcmp(key, "bad") == 0) {
		snprintf(why, whylen, "bad is not allowed");
		return CHAT_ERR_INVAL;
	}
	if (g->n < 4) {
		snprintf(g->keys[g->n], sizeof(g->keys[0]), "%s", key);
		snprintf(g->values[g->n], sizeof(g->values[0]), "%s", value);
		g->lines[g->n] = line;
	}
	g->n++;
	return CHAT_OK;
}

static void test_parse(void **state)
{
	(void)state;
	const char *text = "# comment\n\n  mqtt_host   127.0.0.1  \r\nflag\nmongo_uri mongodb://h:1/?a=b c\n";
	struct got g = {0};
	char err[256] = "";
	assert_int_equal(kvconf_parse_buf("t.conf", text, strlen(text), collect, &g, err, sizeof(err)), CHAT_OK);
	assert_int_equal(g.n, 3);
	assert_string_equal(g.keys[0], "mqtt_host");
	assert_string_equal(g.values[0], "127.0.0.1");
	assert_string_equal(g.keys[1], "flag");
	assert_string_equal(g.values[1], "");
	assert_string_equal(g.values[2], "mongodb://h:1/?a=b c");
	assert_int_equal(g.lines[0], 3);
	assert_int_equal(g.lines[1], 4);
	assert_int_equal(g.lines[2], 5);
}

static void test_errors_name_file_and_line(void **state)
{
	(void)state;
	const char *text = "a 1\n# x\nbad value\n";
	struct got g = {0};
	char err[256] = "";
	assert_int_equal(kvconf_parse_buf("t.conf", text, strlen(text), collect, &g, err, sizeof(err)), CHAT_ERR_INVAL);
	assert_string_equal(err, "t.conf:3: bad is not allowed: bad value");
	assert_int_equal(kvconf_parse_file("/nonexistent/x.conf", collect, &g, err, sizeof(err)), CHAT_ERR_IO);
	assert_non_null(strstr(err, "/nonexistent/x.conf"));
	char nul[] = "a\0b 1\n";
	assert_int_equal(kvconf_parse_buf("n.conf", nul, sizeof(nul) - 1, collect, &g, err, sizeof(err)), CHAT_ERR_INVAL);
	assert_non_null(strstr(err, "n.conf:1"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_errors_name_file_and_line),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
