/* SPDX-License-Identifier: MIT */
/*
 * The browser test's stack: the real broker with the plugin and a
 * WebSockets listener on loopback, the MongoDB stand-in and chat-bridge,
 * started with the integration harness; then chat.test.mjs, which drives
 * Debian's Chromium through playwright-core against the web app, runs
 * with the ports in its environment. Passes when the node test passes and
 * the read marker the page moved reached MongoDB.
 */
#include "harness.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#define NODE_TIMEOUT_MS 150000

/* The listener address that keeps a WebSockets listener on loopback:
 * brokers whose WebSockets come from libwebsockets (2.0.x) bind the
 * interface a name gives ("lo"), but every interface for an IP address;
 * 2.1's own WebSockets take the address. version_line is the first line of
 * `mosquitto -h`. */
static const char *ws_bind_host(const char *version_line)
{
	return version_line && strstr(version_line, "version 2.0.") ? "lo" : "127.0.0.1";
}

static const char *broker_version(struct harness *h, char *buf, size_t cap)
{
	char out[600];
	snprintf(out, sizeof(out), "%s/version.txt", h->dir);
	char *argv[] = {(char *)MOSQUITTO_BIN, (char *)"-h", NULL};
	h_run(argv, out, 10000);
	char *text = h_read_file(out, NULL);
	snprintf(buf, cap, "%.*s", text ? (int)strcspn(text, "\n") : 0, text ? text : "");
	free(text);
	return buf;
}

#ifdef CHAT_ASAN_RUNTIME
/* Under ASan, the broker gets full stacks (its binary has no frame
 * pointers: slow unwinding) so that lsan.supp can name the one leak of
 * Mosquitto's own WebSockets set-up; any other leak still fails the test.
 * on=false puts the environment back for the bridge. */
static void broker_sanitizer_env(bool on)
{
	static char *asan, *lsan;
	if (!on) {
		if (asan) setenv("ASAN_OPTIONS", asan, 1);
		else unsetenv("ASAN_OPTIONS");
		if (lsan) setenv("LSAN_OPTIONS", lsan, 1);
		else unsetenv("LSAN_OPTIONS");
		free(asan);
		free(lsan);
		asan = lsan = NULL;
		return;
	}
	const char *a = getenv("ASAN_OPTIONS"), *l = getenv("LSAN_OPTIONS");
	asan = a ? strdup(a) : NULL;
	lsan = l ? strdup(l) : NULL;
	char buf[1024];
	snprintf(buf, sizeof(buf), "%s%sfast_unwind_on_malloc=0", a ? a : "", a ? ":" : "");
	setenv("ASAN_OPTIONS", buf, 1);
	snprintf(buf, sizeof(buf), "%s%ssuppressions=%s", l ? l : "", l ? ":" : "", LSAN_SUPP);
	setenv("LSAN_OPTIONS", buf, 1);
}
#else
static void broker_sanitizer_env(bool on)
{
	(void)on;
}
#endif

static void setenv_int(const char *name, int v)
{
	char buf[32];
	snprintf(buf, sizeof(buf), "%d", v);
	setenv(name, buf, 1);
}

/* Starts mongo, the broker (TCP and WebSockets listeners, passwords and
 * HS256 JWTs, flood limits out of the way of the seeding) and the bridge. */
static int start_stack(struct harness *h)
{
	char version[200], conf[2048], secret[600];
	int ws_port = h_free_port();
	snprintf(secret, sizeof(secret), "%s/jwt.secret", h->dir);
	h_write_file(secret, "browser-test-secret-0123456789abcdef\n");
	const char *host = ws_bind_host(broker_version(h, version, sizeof(version)));
	snprintf(conf, sizeof(conf),
		 "listener %d %s\n"
		 "protocol websockets\n"
		 "plugin_opt_auth jwt,password_file\n"
		 "plugin_opt_jwt_alg HS256\n"
		 "plugin_opt_jwt_key_file %s\n"
		 "plugin_opt_flood_rate 1000\n"
		 "plugin_opt_flood_burst 1000\n"
		 "plugin_opt_flood_repeat 0\n",
		 ws_port, host, secret);
	h_start_mongo(h);
	broker_sanitizer_env(true);
	h_start_broker(h, conf);
	broker_sanitizer_env(false);
	h_start_bridge(h, NULL);
	print_message("broker %s: MQTT on %d, WebSockets on %s:%d\n", version, h->broker_port, host, ws_port);
	return ws_port;
}

static int run_node(struct harness *h, int ws_port)
{
	char log[600];
	snprintf(log, sizeof(log), "%s/node.log", h->dir);
	mkdir(BROWSER_OUT, 0755);
	setenv_int("CHAT_MQTT_PORT", h->broker_port);
	setenv_int("CHAT_WS_PORT", ws_port);
	setenv("CHAT_RUN_DIR", h->dir, 1);
	setenv("CHAT_TEST_OUT", BROWSER_OUT, 1);
	setenv("CHAT_WEB_DIR", WEB_DIR, 1);
	setenv("CHAT_CHROMIUM", CHROMIUM_BIN, 1);
	char *argv[] = {(char *)NODE_BIN, (char *)BROWSER_TEST, NULL};
	int status = h_run(argv, log, NODE_TIMEOUT_MS);
	char *text = h_read_file(log, NULL);
	fprintf(stderr, "---- %s (exit %d) ----\n%s----\n", BROWSER_TEST, status, text ? text : "(no output)\n");
	free(text);
	return status;
}

/* The marker the page says it moved is the one the bridge stored. */
static bool marker_stored(struct harness *h)
{
	char path[600], filter[256];
	snprintf(path, sizeof(path), "%s/bob-team-marker", BROWSER_OUT);
	char *id = h_read_file(path, NULL);
	if (!id) return false;
	id[strcspn(id, "\n")] = '\0';
	snprintf(filter, sizeof(filter), "{\"user\":\"bob\",\"room\":\"team\",\"upto\":\"%s\"}", id);
	free(id);
	bson_t *doc = h_mongo_wait_one(h, "reads", filter, 10000);
	if (!doc) fprintf(stderr, "no read marker %s in MongoDB\n", filter);
	bson_destroy(doc);
	return doc != NULL;
}

static void test_browser_chat(void **state)
{
	(void)state;
	struct harness h;
	h_init(&h, "browser-chat");
	int ws_port = start_stack(&h);
	int status = run_node(&h, ws_port);
	bool stored = status == 0 && marker_stored(&h);
	bool clean = h_finish(&h, !stored);
	assert_int_equal(status, 0);
	assert_true(stored);
	assert_true(clean);
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_browser_chat)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
