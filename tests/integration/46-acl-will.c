/* SPDX-License-Identifier: MIT */
/*
 * Wills never reach the chat tree, whoever authenticates. Mosquitto 2.0
 * sends a will without MOSQ_EVT_MESSAGE, so a will on
 * chat/rooms/{room}/messages would skip the envelope and could claim any
 * sender. A member whose client dies (kill -9) with such a will, sent at
 * once (MQTT 3.1.1) or after a v5 will delay, delivers nothing, and
 * neither does the will of a connection taken over by a new one with its
 * client id (sent during that CONNECT); the same kind of will on a topic
 * outside chat/ does arrive. Everything runs twice: with the plugin
 * authenticating, and with Mosquitto's own password_file doing it
 * (plugin_opt_auth unset), where bob's publishes still work and a failed
 * login on his client id does not cost him his next publish.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "4x-util.h"

#define GENERAL "chat/rooms/general/messages"
#define OTHER "other/will"
#define FORGED "{\"id\":\"01ZZZZZZZZZZZZZZZZZZZZZZZZ\",\"room\":\"general\",\"from\":\"admin1\",\"ts\":1,\"type\":\"text\",\"text\":\"forged\"}"

static struct harness H;
static char mode = 'p'; /* 'p': the plugin authenticates, 'b': the broker; in client ids */

static void setup_rooms(void)
{
	struct tc *admin = x_admin(&H, "admin-setup");
	x_create_room(admin, "general");
	x_add_member(admin, "general", "alice", "member");
	x_add_member(admin, "general", "bob", "member");
	tc_close(admin);
}

static int setup_plugin_auth(void **state)
{
	(void)state;
	h_init(&H, "46-acl-will");
	h_start_broker(&H, X_BASE_CONF "plugin_opt_other_topics allow\n");
	setup_rooms();
	return 0;
}

/* The same broker, with Mosquitto's password_file authenticating; rooms
 * were in memory only, so they are made again. */
static int setup_broker_auth(void **state)
{
	(void)state;
	mode = 'b';
	h_broker_authenticates(&H);
	assert_true(h_wait_log(H.broker.log, "plugin_opt_auth not set", TC_WAIT_MS));
	setup_rooms();
	return 0;
}

/* A client id for this run: base and the auth mode. */
static const char *id_of(char *buf, size_t cap, const char *base)
{
	snprintf(buf, cap, "%s-%c", base, mode);
	return buf;
}

/* mosquitto_sub as bob with a will on will_topic; returns once subscribed.
 * delay > 0 makes it an MQTT 5 client with that will delay and a session
 * that outlives it; else it speaks MQTT 3.1.1. */
static pid_t dying_client(const char *id, const char *will_topic, int delay)
{
	char port[16], out[600], pw[80], delay_s[16], suback[96];
	snprintf(port, sizeof(port), "%d", H.broker_port);
	snprintf(out, sizeof(out), "%s/%s.out", H.dir, id);
	snprintf(delay_s, sizeof(delay_s), "%d", delay);
	char *argv[32] = {(char *)MOSQUITTO_SUB_BIN, "-h", "127.0.0.1", "-p", port, "-u", "bob", "-P",
			  (char *)h_password("bob", pw, sizeof(pw)), "-i", (char *)id, "-t", GENERAL, "--will-topic",
			  (char *)will_topic, "--will-payload", FORGED, NULL};
	if (delay > 0) {
		char *extra[] = {"-V", "mqttv5", "-x", "60", "-D", "will", "will-delay-interval", delay_s, NULL};
		int n = 0;
		while (argv[n]) n++;
		for (int i = 0; extra[i]; i++) argv[n++] = extra[i];
		argv[n] = NULL;
	}
	pid_t pid = h_spawn(argv, out);
	snprintf(suback, sizeof(suback), "Sending SUBACK to %s", id);
	assert_true(h_wait_log(H.broker.log, suback, 10000));
	return pid;
}

/* Kills the client as a crash would and waits until the broker saw it go. */
static void crash(pid_t pid, const char *id)
{
	char gone[96];
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	snprintf(gone, sizeof(gone), "Client %s closed its connection", id);
	assert_true(h_wait_log(H.broker.log, gone, 10000));
}

static void expect_will(struct tc *alice)
{
	struct tc_msg *m = tc_wait(alice, OTHER, TC_WAIT_MS);
	assert_non_null(m); /* the control: wills as such work */
	assert_non_null(strstr(m->payload, "forged"));
	tc_msg_free(m);
}

/* Alice, listening to the room and to the control topic. */
static struct tc *listener(const char *base)
{
	char id[64];
	struct tc *alice = tc_open(&H, id_of(id, sizeof(id), base), "alice", TC_V5);
	assert_int_equal(tc_subscribe(alice, GENERAL, 1), 1);
	assert_int_equal(tc_subscribe(alice, OTHER, 1), 1);
	return alice;
}

static void test_will_at_once(void **state)
{
	(void)state;
	char chat[64], ctl[64], marker[64];
	struct tc *alice = listener("w-alice");
	crash(dying_client(id_of(chat, sizeof(chat), "will-chat"), GENERAL, 0), chat);
	/* The will was queued (or not) while the broker handled the
	 * disconnect, before alice's marker. */
	assert_true(x_not_before_marker(alice, GENERAL, alice, GENERAL, id_of(marker, sizeof(marker), "marker-will")));
	crash(dying_client(id_of(ctl, sizeof(ctl), "will-ctl"), OTHER, 0), ctl);
	expect_will(alice);
	assert_true(tc_connected(alice));
	tc_close(alice);
}

/* The attack of issue 11 item 2: a v5 will delay of 1 s. */
static void test_delayed_will(void **state)
{
	(void)state;
	char chat[64], ctl[64];
	struct tc *alice = listener("wd-alice");
	pid_t chat_pid = dying_client(id_of(chat, sizeof(chat), "dwill-chat"), GENERAL, 1);
	pid_t ctl_pid = dying_client(id_of(ctl, sizeof(ctl), "dwill-ctl"), OTHER, 1);
	crash(chat_pid, chat);
	crash(ctl_pid, ctl);
	/* The chat will's delay ran out first: had it been sent, it would be
	 * in alice's queue before the control will. */
	expect_will(alice);
	assert_true(tc_quiet(alice, GENERAL, 100));
	tc_close(alice);
}

/* A takeover: the broker sends the old connection's will while it handles
 * the new CONNECT, before the old connection's DISCONNECT. */
static void test_takeover_will(void **state)
{
	(void)state;
	char chat[64], ctl[64], marker[64];
	struct tc *alice = listener("wt-alice");
	const int protocols[] = {TC_V311, TC_V5};
	for (size_t i = 0; i < 2; i++) {
		snprintf(chat, sizeof(chat), "tk-chat-%c%zu", mode, i);
		struct tc *old = tc_open_will(&H, chat, "bob", protocols[i], GENERAL, FORGED);
		struct tc *fresh = tc_open(&H, chat, "bob", protocols[i]);
		assert_true(tc_wait_disconnect(old, TC_WAIT_MS, NULL));
		snprintf(marker, sizeof(marker), "marker-tk-%c%zu", mode, i);
		assert_true(x_not_before_marker(alice, GENERAL, alice, GENERAL, marker));
		tc_close(old);
		tc_close(fresh);
	}
	struct tc *old = tc_open_will(&H, id_of(ctl, sizeof(ctl), "tk-ctl"), "bob", TC_V311, OTHER, FORGED);
	struct tc *fresh = tc_open(&H, ctl, "bob", TC_V311);
	expect_will(alice);
	tc_close(old);
	tc_close(fresh);
	tc_close(alice);
}

/* Bob's own publishes still reach the room, stamped with his name, also
 * right after someone failed to log in with his client id (the will check
 * must not take the failed login for a takeover). */
static void test_publish_after_failed_takeover(void **state)
{
	(void)state;
	char id[64];
	struct tc *alice = listener("wp-alice");
	struct tc *bob = tc_open(&H, id_of(id, sizeof(id), "wp-bob"), "bob", TC_V5);
	int rc = -1;
	assert_null(tc_connect(&H, id, "bob", "wrong-password", TC_V5, &rc));
	assert_int_equal(rc, 135);
	assert_int_equal(tc_pub(bob, GENERAL, "still me", 1), 0);
	struct tc_msg *m = tc_wait(alice, GENERAL, TC_WAIT_MS);
	assert_non_null(m);
	assert_non_null(strstr(m->payload, "\"from\":\"bob\""));
	assert_non_null(strstr(m->payload, "\"text\":\"still me\""));
	tc_msg_free(m);
	assert_true(tc_connected(bob));
	tc_close(bob);
	tc_close(alice);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_will_at_once),
		cmocka_unit_test(test_delayed_will),
		cmocka_unit_test(test_takeover_will),
		cmocka_unit_test(test_publish_after_failed_takeover),
	};
	int failed = cmocka_run_group_tests_name("plugin authenticates", tests, setup_plugin_auth, NULL);
	failed += cmocka_run_group_tests_name("broker authenticates", tests, setup_broker_auth, NULL);
	return h_finish(&H, failed != 0) ? failed : 1;
}
