/* SPDX-License-Identifier: MIT */
/*
 * Room state across three brokers: an admin change on one applies on all
 * (the time it took is printed and must stay under a second), a member
 * removed on one broker stops receiving on another, a ban on one refuses
 * logins on every broker and ends sessions there, a freeze and a slow mode
 * set on one broker hold on the others, concurrent changes on two
 * brokers end in the same state everywhere, and a restarted broker refuses
 * chat logins until it has caught up with its peers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "9x-util.h"

static struct mesh M;
static struct tc *A[M_MAX]; /* an admin session on each broker */

static void open_admins(void)
{
	for (int i = 0; i < M.n; i++) {
		char cid[32];
		snprintf(cid, sizeof(cid), "admin-%d-%lld", i, h_now_ms() % 100000);
		A[i] = c_admin(m_at(&M, i), cid, TC_V5);
	}
}

static void close_admins(void)
{
	for (int i = 0; i < M.n; i++) {
		tc_close(A[i]);
		A[i] = NULL;
	}
}

static int setup(void **state)
{
	(void)state;
	m_start(&M, "91-scale-state", 3, false, NULL);
	open_admins();
	return 0;
}

/* getRoom's data on broker i, printed compactly (free()); NULL when the
 * room does not exist there. */
static char *room_at(int i, const char *room)
{
	char cmd[160];
	snprintf(cmd, sizeof(cmd), "{\"command\":\"getRoom\",\"room\":\"%s\"}", room);
	cJSON *resp = c_run(A[i], cmd);
	char *out = c_error(resp) ? NULL : cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(resp, "data"));
	cJSON_Delete(resp);
	return out;
}

/* Waits until broker i's rooms list for the user does (or does not) name
 * room; returns the ms it took from since. */
static long long wait_rooms_list(struct tc *c, const char *user, const char *room, bool present, long long since)
{
	char topic[96], want[160];
	snprintf(topic, sizeof(topic), "chat/users/%s/rooms", user);
	snprintf(want, sizeof(want), "\"room\":\"%s\"", room);
	for (;;) {
		struct tc_msg *m = tc_wait(c, topic, TC_WAIT_MS);
		if (!m) fail_msg("%s's rooms list never %s %s", user, present ? "named" : "dropped", room);
		bool has = strstr(m->payload, want) != NULL;
		tc_msg_free(m);
		if (has == present) return h_now_ms() - since;
	}
}

static void test_change_everywhere(void **state)
{
	(void)state;
	struct tc *bob = m_open(&M, 1, "s-bob", "bob", TC_V5);
	struct tc *carol = m_open(&M, 2, "s-carol", "carol", TC_V5);
	assert_int_equal(tc_subscribe(bob, "chat/users/bob/rooms", 1), 1);
	assert_int_equal(tc_subscribe(carol, "chat/users/carol/rooms", 1), 1);
	free(tc_wait(bob, "chat/users/bob/rooms", 300)); /* the retained list, if any */
	free(tc_wait(carol, "chat/users/carol/rooms", 300));
	long long t0 = h_now_ms();
	cJSON_Delete(c_request(A[0], "{\"commands\":[{\"command\":\"createRoom\",\"room\":\"ops\",\"title\":\"Ops\"},"
				     "{\"command\":\"addRoomMember\",\"room\":\"ops\",\"user\":\"alice\",\"role\":\"owner\"},"
				     "{\"command\":\"addRoomMember\",\"room\":\"ops\",\"user\":\"bob\"},"
				     "{\"command\":\"addRoomMember\",\"room\":\"ops\",\"user\":\"carol\"}]}"));
	long long on1 = wait_rooms_list(bob, "bob", "ops", true, t0);
	long long on2 = wait_rooms_list(carol, "carol", "ops", true, t0);
	print_message("createRoom + 3 members on n0: on n1 after %lld ms, on n2 after %lld ms\n", on1, on2);
	assert_true(on1 < 1000 && on2 < 1000);
	char *r0 = room_at(0, "ops"), *r1 = room_at(1, "ops"), *r2 = room_at(2, "ops");
	assert_non_null(r1);
	assert_string_equal(r0, r1);
	assert_string_equal(r0, r2);
	free(r0); free(r1); free(r2);

	/* Removed on n2: bob on n1 stops receiving what alice sends on n0. */
	struct tc *alice = m_open(&M, 0, "s-alice", "alice", TC_V5);
	assert_int_equal(tc_subscribe(bob, "chat/rooms/ops/messages", 1), 1);
	assert_int_equal(tc_pub(alice, "chat/rooms/ops/messages", "before", 1), 0);
	free(m_expect(bob, "chat/rooms/ops/messages", "before"));
	t0 = h_now_ms();
	cJSON_Delete(c_ok(A[2], "{\"command\":\"removeRoomMember\",\"room\":\"ops\",\"user\":\"bob\"}"));
	long long gone = wait_rooms_list(bob, "bob", "ops", false, t0);
	print_message("removeRoomMember on n2: bob's list on n1 after %lld ms\n", gone);
	assert_true(gone < 1000);
	assert_int_equal(tc_pub(alice, "chat/rooms/ops/messages", "after", 1), 0);
	assert_true(tc_quiet(bob, "chat/rooms/ops/messages", 500));

	/* Banned on n1: carol's session on n2 ends, and no broker lets her in. */
	t0 = h_now_ms();
	cJSON_Delete(c_ok(A[1], "{\"command\":\"banUser\",\"user\":\"carol\"}"));
	assert_true(tc_wait_disconnect(carol, 2000, NULL));
	print_message("banUser on n1: carol's session on n2 ended after %lld ms\n", h_now_ms() - t0);
	for (int i = 0; i < 3; i++) {
		int connack = 0;
		struct tc *again = tc_connect(m_at(&M, i), "s-carol-2", "carol", NULL, TC_V5, &connack);
		assert_null(again);
		assert_int_equal(connack, 135);
	}
	cJSON_Delete(c_ok(A[0], "{\"command\":\"unbanUser\",\"user\":\"carol\"}"));
	tc_close(alice);
	tc_close(bob);
	tc_close(carol);
}

/* The same keys changed on n0 and n2 at once end the same on all three. */
/* Waits until broker i's getRoom for room does (or does not) contain
 * needle; returns the ms it took, or fails after two seconds. */
static long long wait_room_has(int i, const char *room, const char *needle, bool present)
{
	long long t0 = h_now_ms();
	while (h_now_ms() - t0 < 2000) {
		char *r = room_at(i, room);
		bool has = r && strstr(r, needle);
		free(r);
		if (has == present) return h_now_ms() - t0;
		h_sleep_ms(20);
	}
	fail_msg("getRoom %s on n%d never %s %s", room, i, present ? "showed" : "dropped", needle);
	return -1;
}

/* The next refusal notice on dave's inbox must give reason. */
static void expect_reason(struct tc *dave, const char *reason)
{
	char want[64];
	snprintf(want, sizeof(want), "\"reason\":\"%s\"", reason);
	free(m_expect(dave, "chat/users/dave/inbox", want));
}

/* Room sanctions replicate like the rest: a freeze on n1 refuses dave on
 * n2, its lifting on n2 lets him speak again, and a slow mode set on n0
 * holds on n1. */
static void test_room_sanctions_everywhere(void **state)
{
	(void)state;
	cJSON_Delete(c_request(A[0], "{\"commands\":[{\"command\":\"createRoom\",\"room\":\"stage\"},"
				     "{\"command\":\"addRoomMember\",\"room\":\"stage\",\"user\":\"dave\"}]}"));
	struct tc *dave2 = m_open(&M, 2, "s-dave-2", "dave", TC_V5);
	struct tc *dave1 = m_open(&M, 1, "s-dave-1", "dave", TC_V5);
	assert_int_equal(tc_subscribe(dave2, "chat/users/dave/inbox", 1), 1);
	assert_int_equal(tc_subscribe(dave1, "chat/users/dave/inbox", 1), 1);
	wait_room_has(2, "stage", "\"dave\"", true);
	wait_room_has(1, "stage", "\"dave\"", true);

	cJSON_Delete(c_ok(A[1], "{\"command\":\"freezeRoom\",\"room\":\"stage\"}"));
	long long frozen = wait_room_has(2, "stage", "\"frozen\"", true);
	print_message("freezeRoom on n1: frozen on n2 after %lld ms\n", frozen);
	assert_true(frozen < 1000);
	assert_true(tc_pub(dave2, "chat/rooms/stage/messages", "let me", 1) >= 0x80);
	expect_reason(dave2, "frozen");
	cJSON_Delete(c_ok(A[2], "{\"command\":\"unfreezeRoom\",\"room\":\"stage\"}"));
	assert_true(wait_room_has(1, "stage", "\"frozen\"", false) < 1000);
	assert_true(tc_pub(dave1, "chat/rooms/stage/messages", "thawed", 1) < 0x80);

	cJSON_Delete(c_ok(A[0], "{\"command\":\"setRoomPolicy\",\"room\":\"stage\",\"slowMode\":60}"));
	assert_true(wait_room_has(1, "stage", "\"slowMode\":60", true) < 1000);
	assert_true(tc_pub(dave1, "chat/rooms/stage/messages", "one", 1) < 0x80);
	assert_true(tc_pub(dave1, "chat/rooms/stage/messages", "two", 1) >= 0x80);
	expect_reason(dave1, "slow_mode");
	tc_close(dave1);
	tc_close(dave2);
}

static void test_concurrent(void **state)
{
	(void)state;
	cJSON_Delete(c_ok(A[0], "{\"command\":\"createRoom\",\"room\":\"race\"}"));
	for (int i = 0; i < 50; i++) {
		char *r = room_at(2, "race");
		bool there = r != NULL;
		free(r);
		if (there) break;
		h_sleep_ms(20);
	}
	const char *on0 = "{\"commands\":[{\"command\":\"addRoomMember\",\"room\":\"race\",\"user\":\"dave\",\"role\":\"admin\"},"
			  "{\"command\":\"addRoomMember\",\"room\":\"race\",\"user\":\"eve\",\"role\":\"reader\"}]}";
	const char *on2 = "{\"commands\":[{\"command\":\"addRoomMember\",\"room\":\"race\",\"user\":\"dave\",\"role\":\"reader\"},"
			  "{\"command\":\"addRoomMember\",\"room\":\"race\",\"user\":\"eve\",\"role\":\"owner\"}]}";
	/* Both sent before either broker answers. */
	assert_int_equal(tc_pub(A[0], C_REQUEST, on0, 1), 0);
	assert_int_equal(tc_pub(A[2], C_REQUEST, on2, 1), 0);
	struct tc_msg *m0 = tc_wait(A[0], C_RESPONSE, TC_WAIT_MS), *m2 = tc_wait(A[2], C_RESPONSE, TC_WAIT_MS);
	assert_non_null(m0);
	assert_non_null(m2);
	tc_msg_free(m0);
	tc_msg_free(m2);
	char *r[3] = {NULL, NULL, NULL};
	bool same = false;
	for (int tries = 0; tries < 50 && !same; tries++) {
		for (int i = 0; i < 3; i++) {
			free(r[i]);
			r[i] = room_at(i, "race");
		}
		same = r[0] && r[1] && r[2] && strcmp(r[0], r[1]) == 0 && strcmp(r[0], r[2]) == 0 &&
		       strstr(r[0], "dave") && strstr(r[0], "eve");
		if (!same) h_sleep_ms(20);
	}
	if (!same) fail_msg("diverged: n0 %s, n1 %s, n2 %s", r[0], r[1], r[2]);
	print_message("converged: %s\n", r[0]);
	for (int i = 0; i < 3; i++) free(r[i]);
}

/* n2 restarts while n1 is frozen: it refuses chat logins until it has
 * caught up with both peers, then has the change it missed. */
static void test_restart_catch_up(void **state)
{
	(void)state;
	close_admins();
	h_stop(&M.b[2], SIGTERM, 10000);
	struct tc *a0 = c_admin(m_at(&M, 0), "admin-late", TC_V5);
	cJSON_Delete(c_ok(a0, "{\"command\":\"createRoom\",\"room\":\"late\"}"));
	cJSON_Delete(c_ok(a0, "{\"command\":\"addRoomMember\",\"room\":\"late\",\"user\":\"dave\"}"));
	kill(M.b[1].pid, SIGSTOP);
	/* The log is appended to across restarts: count what this start adds. */
	int caught = h_log_count(M.b[2].log, "caught up with 2 peer(s)");
	int refused = h_log_count(M.b[2].log, "still catching up with its peers");
	m_spawn(&M, 2);
	int connack = 0;
	struct tc *early = tc_connect(m_at(&M, 2), "late-dave", "dave", NULL, TC_V5, &connack);
	assert_null(early);
	assert_int_equal(connack, 135);
	assert_true(h_wait_log_count(M.b[2].log, "still catching up with its peers", refused + 1, 2000));
	assert_int_equal(h_log_count(M.b[2].log, "caught up with 2 peer(s)"), caught);
	kill(M.b[1].pid, SIGCONT);
	assert_true(h_wait_log_count(M.b[2].log, "caught up with 2 peer(s)", caught + 1, 20000));
	struct tc *dave = m_open(&M, 2, "late-dave", "dave", TC_V5);
	assert_int_equal(tc_subscribe(dave, "chat/users/dave/rooms", 1), 1);
	char *list = m_expect(dave, "chat/users/dave/rooms", "\"room\":\"late\"");
	free(list);
	tc_close(dave);
	tc_close(a0);
	open_admins();
}

static int teardown(void **state)
{
	(void)state;
	close_admins();
	assert_true(m_finish(&M, false));
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_change_everywhere),
		cmocka_unit_test(test_room_sanctions_everywhere),
		cmocka_unit_test(test_concurrent),
		cmocka_unit_test(test_restart_catch_up),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
