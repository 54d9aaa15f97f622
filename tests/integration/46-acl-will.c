/* SPDX-License-Identifier: MIT */
/*
 * Wills never reach the chat tree. Mosquitto 2.0 sends a will without
 * MOSQ_EVT_MESSAGE, so a will on chat/rooms/{room}/messages would skip the
 * envelope and could claim any sender. A member whose client dies (kill -9)
 * with such a will, sent at once or after a v5 will delay, delivers
 * nothing; the same kind of will on a topic outside chat/ does arrive.
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
#define FORGED "{\"id\":\"01ZZZZZZZZZZZZZZZZZZZZZZZZ\",\"room\":\"general\",\"from\":\"alice\",\"ts\":1,\"type\":\"text\",\"text\":\"forged\"}"

static struct harness H;

static int setup(void **state)
{
	(void)state;
	h_init(&H, "46-acl-will");
	h_start_broker(&H, X_BASE_CONF "plugin_opt_other_topics allow\n");
	struct tc *admin = x_admin(&H, "admin-setup");
	x_create_room(admin, "general");
	x_add_member(admin, "general", "alice", "member");
	x_add_member(admin, "general", "bob", "member");
	tc_close(admin);
	return 0;
}

/* mosquitto_sub as bob with a will on will_topic; returns once subscribed.
 * delay > 0 makes it an MQTT 5 client with that will delay and a session
 * that outlives it. */
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

static void test_will_at_once(void **state)
{
	(void)state;
	struct tc *alice = tc_open(&H, "w-alice", "alice", TC_V5);
	assert_int_equal(tc_subscribe(alice, GENERAL, 1), 1);
	assert_int_equal(tc_subscribe(alice, OTHER, 1), 1);
	crash(dying_client("will-chat", GENERAL, 0), "will-chat");
	/* The will was queued (or not) while the broker handled the
	 * disconnect, before alice's marker. */
	assert_true(x_not_before_marker(alice, GENERAL, alice, GENERAL, "marker-will"));
	crash(dying_client("will-ctl", OTHER, 0), "will-ctl");
	expect_will(alice);
	assert_true(tc_connected(alice));
	tc_close(alice);
}

static void test_delayed_will(void **state)
{
	(void)state;
	struct tc *alice = tc_open(&H, "wd-alice", "alice", TC_V5);
	assert_int_equal(tc_subscribe(alice, GENERAL, 1), 1);
	assert_int_equal(tc_subscribe(alice, OTHER, 1), 1);
	pid_t chat = dying_client("dwill-chat", GENERAL, 1);
	pid_t ctl = dying_client("dwill-ctl", OTHER, 1);
	crash(chat, "dwill-chat");
	crash(ctl, "dwill-ctl");
	/* The chat will's delay ran out first: had it been sent, it would be
	 * in alice's queue before the control will. */
	expect_will(alice);
	assert_true(tc_quiet(alice, GENERAL, 100));
	tc_close(alice);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_will_at_once),
		cmocka_unit_test(test_delayed_will),
	};
	int failed = cmocka_run_group_tests(tests, setup, NULL);
	return h_finish(&H, failed != 0) ? failed : 1;
}
