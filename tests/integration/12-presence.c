/* SPDX-License-Identifier: MIT */
/*
 * Presence on chat/presence/{user} with the real broker (persistence on,
 * so retained messages survive restarts): online with a session count
 * across devices and protocols, offline with `since`, a client-id takeover
 * that does not count twice, a failed login that never shows online, and
 * restarts (clean, and kill -9) that leave no stale online:true.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "client.h"
#include "harness.h"

static struct harness H;

static int setup(void **state)
{
	(void)state;
	char conf[2048];
	h_init(&H, "12-presence");
	/* Save after every change, so a kill -9 finds online:true on disk. */
	snprintf(conf, sizeof(conf),
		 "persistence true\n"
		 "persistence_location %s/\n"
		 "autosave_interval 1\n"
		 "autosave_on_changes true\n"
		 "plugin_opt_presence_file %s/presence.ledger\n",
		 H.dir, H.dir);
	h_start_broker(&H, conf);
	return 0;
}

struct presence {
	bool online;
	long sessions;
	long long since;
};

/* Parses the presence JSON the plugin writes (fixed field order). */
static struct presence parse(const struct tc_msg *m, const char *user)
{
	struct presence p = {0};
	char want[128];
	snprintf(want, sizeof(want), "{\"user\":\"%s\",\"online\":", user);
	assert_non_null(m);
	assert_memory_equal(m->payload, want, strlen(want));
	const char *s = m->payload + strlen(want);
	p.online = strncmp(s, "true", 4) == 0;
	const char *n = strstr(s, "\"sessions\":");
	const char *t = strstr(s, "\"since\":");
	assert_non_null(n);
	assert_non_null(t);
	p.sessions = strtol(n + 11, NULL, 10);
	p.since = strtoll(t + 8, NULL, 10);
	return p;
}

/* Waits for the next live presence message of user on watcher, skipping
 * the retained one a new subscription may get first. */
static struct presence next(struct tc *watcher, const char *user)
{
	char topic[96];
	snprintf(topic, sizeof(topic), "chat/presence/%s", user);
	struct tc_msg *m = tc_wait(watcher, topic, TC_WAIT_MS);
	while (m && m->retain) {
		tc_msg_free(m);
		m = tc_wait(watcher, topic, TC_WAIT_MS);
	}
	if (!m) fail_msg("no presence message for %s", user);
	struct presence p = parse(m, user);
	tc_msg_free(m);
	return p;
}

static struct tc *watch(const char *id, const char *user)
{
	char topic[96];
	struct tc *w = tc_open(&H, id, "bridge", TC_V5);
	snprintf(topic, sizeof(topic), "chat/presence/%s", user);
	assert_true(tc_subscribe(w, topic, 1) < 0x80);
	return w;
}

static long long wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void test_devices_count_and_offline(void **state)
{
	(void)state;
	struct tc *w = watch("w1", "alice");
	long long t0 = wall_ms();
	struct tc *phone = tc_open(&H, "alice-phone", "alice", TC_V311);
	struct presence p = next(w, "alice");
	assert_true(p.online);
	assert_int_equal(p.sessions, 1);
	assert_true(p.since >= t0 - 5 && p.since <= wall_ms() + 5);
	long long online_since = p.since;

	struct tc *laptop = tc_open(&H, "alice-laptop", "alice", TC_V5);
	p = next(w, "alice");
	assert_true(p.online);
	assert_int_equal(p.sessions, 2);
	assert_true(p.since == online_since); /* still online since the first */

	tc_close(laptop);
	p = next(w, "alice");
	assert_true(p.online);
	assert_int_equal(p.sessions, 1);

	long long t1 = wall_ms();
	tc_close(phone);
	p = next(w, "alice");
	assert_false(p.online);
	assert_int_equal(p.sessions, 0);
	assert_true(p.since >= t1 - 5);

	/* A newcomer reads the retained state. */
	struct tc *late = watch("w1-late", "alice");
	struct tc_msg *m = tc_wait(late, "chat/presence/alice", TC_WAIT_MS);
	assert_non_null(m);
	assert_true(m->retain);
	assert_false(parse(m, "alice").online);
	tc_msg_free(m);
	tc_close(late);
	tc_close(w);
}

/* A second connection with the same client id replaces the first: the
 * count stays 1 throughout and drops to 0 when the survivor leaves. */
static void test_takeover_keeps_count(void **state)
{
	(void)state;
	struct tc *w = watch("w2", "bob");
	struct tc *first = tc_open(&H, "bob-dev", "bob", TC_V5);
	struct presence p = next(w, "bob");
	assert_int_equal(p.sessions, 1);
	struct tc *second = tc_open(&H, "bob-dev", "bob", TC_V311);
	assert_true(tc_wait_disconnect(first, TC_WAIT_MS, NULL));
	tc_close(first);
	tc_close(second);
	p = next(w, "bob");
	assert_false(p.online);
	assert_int_equal(p.sessions, 0); /* a miscount would leave 1 here */

	/* Another user's login on that id is refused (13-auth-clientid): bob
	 * stays online, with his one session. */
	struct tc *b = tc_open(&H, "shared-id", "bob", TC_V5);
	assert_int_equal(next(w, "bob").sessions, 1);
	int rc = -1;
	assert_null(tc_connect(&H, "shared-id", "carol", NULL, TC_V5, &rc));
	assert_int_equal(rc, 135);
	assert_true(tc_connected(b));
	assert_true(tc_quiet(w, "chat/presence/bob", 200));
	tc_close(b);
	p = next(w, "bob");
	assert_false(p.online);
	tc_close(w);
}

/* A refused login publishes nothing: the first message after it is the
 * good login's, with a `since` after the refusal. */
static void test_failed_login_never_online(void **state)
{
	(void)state;
	struct tc *w = watch("w3", "dave");
	int rc = -1;
	assert_null(tc_connect(&H, "dave-bad", "dave", "wrong", TC_V5, &rc));
	assert_int_equal(rc, 135);
	assert_null(tc_connect(&H, "dave-bad3", "dave", "wrong", TC_V311, &rc));
	long long t_good = wall_ms();
	struct tc *d = tc_open(&H, "dave-good", "dave", TC_V5);
	struct presence p = next(w, "dave");
	assert_true(p.online);
	assert_int_equal(p.sessions, 1);
	assert_true(p.since >= t_good - 5);
	tc_close(d);
	assert_false(next(w, "dave").online);
	tc_close(w);
}

/* After a restart, a user who was online when the broker went away is
 * offline: retained messages came back from persistence, the ledger
 * corrected them. */
static void check_offline_after_restart(const char *user)
{
	struct tc *w = watch("w-restart", user);
	char topic[96];
	snprintf(topic, sizeof(topic), "chat/presence/%s", user);
	struct tc_msg *m = tc_wait(w, topic, TC_WAIT_MS);
	assert_non_null(m);
	struct presence p = parse(m, user);
	tc_msg_free(m);
	assert_false(p.online);
	assert_int_equal(p.sessions, 0);
	tc_close(w);
}

static void test_clean_restart_leaves_no_stale_online(void **state)
{
	(void)state;
	struct tc *w = watch("w4", "carol");
	struct tc *c = tc_open(&H, "carol-1", "carol", TC_V5);
	assert_true(next(w, "carol").online);
	tc_close(w);
	h_restart_broker(&H); /* SIGTERM: the broker saves carol's online:true */
	tc_close(c);
	check_offline_after_restart("carol");
	/* And the counting starts from zero again. */
	w = watch("w4b", "carol");
	c = tc_open(&H, "carol-2", "carol", TC_V311);
	assert_int_equal(next(w, "carol").sessions, 1);
	tc_close(c);
	tc_close(w);
}

static void test_crash_leaves_no_stale_online(void **state)
{
	(void)state;
	struct tc *w = watch("w5", "eve");
	struct tc *e = tc_open(&H, "eve-1", "eve", TC_V5);
	assert_true(next(w, "eve").online);
	tc_close(w);
	/* autosave_on_changes wrote the retained online:true; wait for it. */
	char db[700];
	snprintf(db, sizeof(db), "%s/mosquitto.db", H.dir);
	long long deadline = h_now_ms() + 5000;
	bool saved = false;
	while (!saved && h_now_ms() < deadline) {
		size_t len = 0;
		char *bytes = h_read_file(db, &len);
		saved = bytes && memmem(bytes, len, "\"user\":\"eve\",\"online\":true", 26) != NULL;
		free(bytes);
		if (!saved) h_sleep_ms(50);
	}
	assert_true(saved);
	h_stop(&H.broker, SIGKILL, 5000);
	tc_wait_disconnect(e, TC_WAIT_MS, NULL);
	tc_close(e);
	h_restart_broker(&H);
	check_offline_after_restart("eve");
}

/* plugin_opt_presence none: sessions are counted, nothing is published. */
static void test_presence_none_publishes_nothing(void **state)
{
	(void)state;
	char conf[2048];
	snprintf(conf, sizeof(conf),
		 "persistence true\n"
		 "persistence_location %s/\n"
		 "plugin_opt_presence_file %s/presence.ledger\n"
		 "plugin_opt_presence none\n",
		 H.dir, H.dir);
	h_start_broker(&H, conf);
	struct tc *w = watch("w6", "alice");
	struct tc_msg *m = tc_wait(w, "chat/presence/alice", TC_WAIT_MS); /* retained from before */
	assert_non_null(m);
	assert_true(m->retain);
	tc_msg_free(m);
	struct tc *a = tc_open(&H, "alice-none", "alice", TC_V5);
	assert_true(tc_quiet(w, "chat/presence/alice", 500));
	tc_close(a);
	assert_true(tc_quiet(w, "chat/presence/alice", 300));
	tc_close(w);
}

/* Sends one admin command and waits for its response. */
static void admin_command(struct tc *adm, const char *json)
{
	assert_int_equal(tc_pub(adm, "$CONTROL/chat/v1", json, 1), 0);
	struct tc_msg *m = tc_wait(adm, "$CONTROL/chat/v1/response", TC_WAIT_MS);
	assert_non_null(m);
	assert_null(strstr(m->payload, "\"error\""));
	tc_msg_free(m);
}

/* plugin_opt_presence rooms: only users who share a room read it. */
static void test_presence_rooms_mode(void **state)
{
	(void)state;
	char conf[2048];
	snprintf(conf, sizeof(conf), "plugin_opt_presence_file %s/presence.ledger\nplugin_opt_presence rooms\n", H.dir);
	h_start_broker(&H, conf);
	struct tc *adm = tc_open(&H, "adm-rooms", "admin", TC_V5);
	assert_true(tc_subscribe(adm, "$CONTROL/chat/v1/response", 1) < 0x80);
	admin_command(adm, "{\"commands\":[{\"command\":\"createRoom\",\"room\":\"pr\"}]}");
	admin_command(adm, "{\"commands\":[{\"command\":\"addRoomMember\",\"room\":\"pr\",\"user\":\"alice\"}]}");
	admin_command(adm, "{\"commands\":[{\"command\":\"addRoomMember\",\"room\":\"pr\",\"user\":\"bob\"}]}");
	tc_close(adm);

	struct tc *bob = tc_open(&H, "bob-rooms", "bob", TC_V311);
	struct tc *carol = tc_open(&H, "carol-rooms", "carol", TC_V5);
	assert_true(tc_subscribe(bob, "chat/presence/alice", 1) < 0x80);
	assert_int_equal(tc_subscribe(carol, "chat/presence/alice", 1), 0x87);
	assert_int_equal(tc_subscribe(carol, "chat/presence/+", 1), 0x87);
	struct tc *a = tc_open(&H, "alice-rooms", "alice", TC_V5);
	struct presence p = next(bob, "alice");
	assert_true(p.online);
	assert_int_equal(p.sessions, 1);
	tc_close(a);
	tc_close(bob);
	tc_close(carol);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_devices_count_and_offline),
		cmocka_unit_test(test_takeover_keeps_count),
		cmocka_unit_test(test_failed_login_never_online),
		cmocka_unit_test(test_clean_restart_leaves_no_stale_online),
		cmocka_unit_test(test_crash_leaves_no_stale_online),
		cmocka_unit_test(test_presence_none_publishes_nothing),
		cmocka_unit_test(test_presence_rooms_mode),
	};
	int failed = cmocka_run_group_tests(tests, setup, NULL);
	return h_finish(&H, failed != 0) ? failed : 1;
}
