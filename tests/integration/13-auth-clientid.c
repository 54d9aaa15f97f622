/* SPDX-License-Identifier: MIT */
/*
 * Client ids belong to users (topics.md, "Client ids"). With MQTT, a
 * CONNECT with a client id in use takes that session over: bob logging in
 * with alice's client id would cut her live connection, or with her
 * persistent session take or delete the messages queued for her. The
 * plugin refuses such a CONNECT (MQTT 5: CONNACK 135, 3.1.1: 5), for a live
 * session and for a persistent one waiting offline, across a clean broker
 * restart and a kill -9; alice taking over her own session still works; a
 * 3.1.1 clean session frees its id when it ends; the ledger of ids is
 * compacted as it grows. With Mosquitto's own password_file
 * authenticating, live sessions are protected the same way, and a login
 * the broker refuses claims nothing.
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

#include "4x-util.h"

#define GENERAL "chat/rooms/general/messages"
#define NOT_AUTHORIZED_V5 135
#define NOT_AUTHORIZED_V311 5

static struct harness H;

static int setup(void **state)
{
	(void)state;
	char conf[2048];
	h_init(&H, "13-auth-clientid");
	/* The broker saves sessions after every change, so a kill -9 keeps
	 * alice's; the plugin keeps rooms and client ids next to it. */
	snprintf(conf, sizeof(conf),
		 X_BASE_CONF
		 "persistence true\n"
		 "persistence_location %s/\n"
		 "autosave_interval 1\n"
		 "autosave_on_changes true\n"
		 "plugin_opt_state_file %s\n",
		 H.dir, H.state_file);
	h_start_broker(&H, conf);
	struct tc *admin = x_admin(&H, "admin-setup");
	x_create_room(admin, "general");
	x_add_member(admin, "general", "alice", "member");
	x_add_member(admin, "general", "carol", "member");
	tc_close(admin);
	return 0;
}

/* Bob with client id, MQTT 5 and 3.1.1: both refused. */
static void bob_refused(const char *id)
{
	int rc = -1;
	assert_null(tc_connect(&H, id, "bob", NULL, TC_V5, &rc));
	assert_int_equal(rc, NOT_AUTHORIZED_V5);
	rc = -1;
	assert_null(tc_connect(&H, id, "bob", NULL, TC_V311, &rc));
	assert_int_equal(rc, NOT_AUTHORIZED_V311);
}

static void test_live_session_kept(void **state)
{
	(void)state;
	struct tc *alice = tc_open(&H, "alice-phone", "alice", TC_V5);
	assert_int_equal(tc_subscribe(alice, GENERAL, 1), 1);
	bob_refused("alice-phone");
	assert_true(h_wait_log(H.broker.log, "client alice-phone refused for bob: that client id belongs to alice",
			       TC_WAIT_MS));
	/* Alice's connection was not cut: it still receives. */
	struct tc *carol = tc_open(&H, "carol-1", "carol", TC_V5);
	assert_int_equal(tc_pub(carol, GENERAL, "for alice", 1), 0);
	struct tc_msg *m = tc_wait(alice, GENERAL, TC_WAIT_MS);
	assert_non_null(m);
	tc_msg_free(m);
	assert_true(tc_connected(alice));
	/* Alice herself may take over her session, with either protocol. */
	struct tc *again = tc_open(&H, "alice-phone", "alice", TC_V311);
	assert_true(tc_wait_disconnect(alice, TC_WAIT_MS, NULL));
	struct tc *third = tc_open(&H, "alice-phone", "alice", TC_V5);
	assert_true(tc_wait_disconnect(again, TC_WAIT_MS, NULL));
	tc_close(third);
	tc_close(again);
	tc_close(alice);
	tc_close(carol);
}

/* mosquitto_sub as alice with a persistent MQTT 5 session on id. With
 * count 0 it subscribes to the room and exits once subscribed; else it
 * waits for count messages, which come from the session's room
 * subscription (the output is returned, free() it). It then subscribes to
 * her inbox instead: Mosquitto 2.0.11 leaks a stored session's
 * subscription made again, which the sanitizer build would report. */
static char *alice_persistent(const char *id, int count)
{
	char port[16], out[600], pw[80], count_s[16];
	snprintf(port, sizeof(port), "%d", H.broker_port);
	snprintf(out, sizeof(out), "%s/%s-%d.out", H.dir, id, count);
	snprintf(count_s, sizeof(count_s), "%d", count);
	char *argv[32] = {(char *)MOSQUITTO_SUB_BIN, "-h", "127.0.0.1", "-p", port, "-u", "alice", "-P",
			  (char *)h_password("alice", pw, sizeof(pw)), "-i", (char *)id, "-c", "-q", "1", "-V",
			  "mqttv5", "-x", "3600", "-t", count ? "chat/users/alice/inbox" : GENERAL, "-W", "10", NULL};
	int n = 0;
	while (argv[n]) n++;
	if (count == 0) {
		argv[n++] = "-E";
	} else {
		argv[n++] = "-C";
		argv[n++] = count_s;
	}
	argv[n] = NULL;
	assert_int_equal(h_run(argv, out, 15000), 0);
	return h_read_file(out, NULL);
}

/* Carol sends text to the room (QoS 1, accepted). */
static void carol_says(const char *text)
{
	struct tc *carol = tc_open(&H, "carol-2", "carol", TC_V5);
	assert_int_equal(tc_pub(carol, GENERAL, text, 1), 0);
	tc_close(carol);
}

/* Alice's persistent session gets what was queued for it; then a clean
 * start ends it. */
static void alice_gets(const char *id, const char *text)
{
	char *got = alice_persistent(id, 1);
	assert_non_null(got);
	if (!strstr(got, text)) fail_msg("alice's session %s lost \"%s\": got %s", id, text, got);
	free(got);
	tc_close(tc_open(&H, id, "alice", TC_V5));
}

static void test_offline_session_kept(void **state)
{
	(void)state;
	free(alice_persistent("alice-tab", 0));
	carol_says("queued while away");
	bob_refused("alice-tab"); /* clean start: it would delete her session */
	alice_gets("alice-tab", "queued while away");
}

/* Waits until the broker's autosave holds text (before a kill -9). */
static void wait_saved(const char *text)
{
	char db[700];
	snprintf(db, sizeof(db), "%s/mosquitto.db", H.dir);
	long long deadline = h_now_ms() + 5000;
	for (;;) {
		size_t len = 0;
		char *bytes = h_read_file(db, &len);
		bool saved = bytes && memmem(bytes, len, text, strlen(text)) != NULL;
		free(bytes);
		if (saved) return;
		if (h_now_ms() > deadline) fail_msg("the broker never saved \"%s\"", text);
		h_sleep_ms(50);
	}
}

static void test_restart_keeps_ownership(void **state)
{
	(void)state;
	free(alice_persistent("alice-car", 0));
	carol_says("queued before restart");
	h_restart_broker(&H); /* SIGTERM: a clean stop */
	bob_refused("alice-car");
	alice_gets("alice-car", "queued before restart");

	/* kill -9: the id was in the ledger from the login on. */
	free(alice_persistent("alice-watch", 0));
	carol_says("queued before crash");
	wait_saved("queued before crash");
	h_stop(&H.broker, SIGKILL, 5000);
	h_restart_broker(&H);
	bob_refused("alice-watch");
	alice_gets("alice-watch", "queued before crash");
}

/* A 3.1.1 clean session leaves nothing behind: its id is free once it
 * ends. And a user's ids beyond the CLIENTID_PER_USER (32) most recent
 * are forgotten. */
static void test_what_frees_an_id(void **state)
{
	(void)state;
	tc_close(tc_open(&H, "alice-cli", "alice", TC_V311));
	tc_close(tc_open(&H, "alice-cli", "bob", TC_V5));

	tc_close(tc_open(&H, "alice-old", "alice", TC_V5));
	char id[32];
	for (int i = 0; i < 32; i++) {
		snprintf(id, sizeof(id), "alice-n%d", i);
		tc_close(tc_open(&H, id, "alice", TC_V5));
	}
	tc_close(tc_open(&H, "alice-old", "bob", TC_V5)); /* the 33rd most recent */
	bob_refused("alice-n0");
}

/* Short-lived MQTT 5 ids pile up in the ledger (each new one is a line);
 * past twice what it holds plus 1024 lines the file is rewritten, and it
 * still works after that: appends go on in the new file, and a restart
 * reads it back. */
static void test_ledger_compacts(void **state)
{
	(void)state;
	char ledger[700], id[32];
	snprintf(ledger, sizeof(ledger), "%s.presence", H.state_file);
	for (int i = 0; i < 1200; i++) {
		snprintf(id, sizeof(id), "carol-r%d", i);
		tc_close(tc_open(&H, id, "carol", TC_V5));
	}
	size_t len = 0;
	char *text = h_read_file(ledger, &len);
	assert_non_null(text);
	int lines = 0;
	for (size_t i = 0; i < len; i++) lines += text[i] == '\n';
	free(text);
	if (lines > 400) fail_msg("the ledger was not compacted: %d lines", lines);
	tc_close(tc_open(&H, "carol-last", "carol", TC_V5)); /* appended to the new file */
	h_restart_broker(&H);
	int rc = -1;
	assert_null(tc_connect(&H, "carol-last", "bob", NULL, TC_V5, &rc));
	assert_null(tc_connect(&H, "carol-r1199", "bob", NULL, TC_V5, &rc));
	assert_int_equal(rc, NOT_AUTHORIZED_V5);
	tc_close(tc_open(&H, "carol-r0", "bob", TC_V5)); /* long forgotten */
}

/* Mosquitto's password_file authenticates: the plugin still refuses a
 * live session's id to another user, and a login the broker refuses does
 * not hold the id it tried. */
static void test_broker_auth(void **state)
{
	(void)state;
	h_broker_authenticates(&H);
	struct tc *alice = tc_open(&H, "alice-b", "alice", TC_V5);
	bob_refused("alice-b");
	assert_true(tc_connected(alice));
	tc_close(alice);

	int rc = -1;
	assert_null(tc_connect(&H, "free-id", "bob", "wrong-password", TC_V5, &rc));
	assert_int_equal(rc, NOT_AUTHORIZED_V5);
	tc_close(tc_open(&H, "free-id", "alice", TC_V5));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_live_session_kept),
		cmocka_unit_test(test_offline_session_kept),
		cmocka_unit_test(test_restart_keeps_ownership),
		cmocka_unit_test(test_what_frees_an_id),
		cmocka_unit_test(test_ledger_compacts),
		cmocka_unit_test(test_broker_auth),
	};
	int failed = cmocka_run_group_tests(tests, setup, NULL);
	return h_finish(&H, failed != 0) ? failed : 1;
}
