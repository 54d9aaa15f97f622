/* SPDX-License-Identifier: MIT */
/*
 * Three brokers in a mesh of inbound bridges: a room message and a DM sent
 * on one broker reach members on the others once, with the envelope the
 * origin stamped (its node in the id), and nothing loops: each broker's
 * links bring every message in once, a peer is handed only what
 * originated on the broker it reads, a storer only what was stamped on its
 * broker, and nobody may use a link's client id.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "8x-util.h"
#include "9x-util.h"

static struct mesh M;

#define ROOM "chat/rooms/team/messages"
#define DM "chat/rooms/dm:alice:bob/messages"

/* team with alice, bob and carol on every broker (with replication the
 * later brokers find it already there and say so). */
static void team_everywhere(void)
{
	for (int i = 0; i < M.n; i++) {
		char cid[32];
		snprintf(cid, sizeof(cid), "admin-%d", i);
		struct tc *a = c_admin(m_at(&M, i), cid, TC_V5);
		cJSON_Delete(c_run(a, "{\"command\":\"createRoom\",\"room\":\"team\"}"));
		const char *users[] = {"alice", "bob", "carol"};
		for (int u = 0; u < 3; u++) {
			char cmd[128];
			snprintf(cmd, sizeof(cmd), "{\"command\":\"addRoomMember\",\"room\":\"team\",\"user\":\"%s\"}", users[u]);
			cJSON_Delete(c_run(a, cmd));
		}
		tc_close(a);
	}
}

/* True when two envelopes' ids have the same node part (chars 10..13). */
static bool node_is(const char *env, const char *other)
{
	char a[27];
	memcpy(a, m_env_id(env), sizeof(a));
	return memcmp(a + 10, m_env_id(other) + 10, 4) == 0;
}

static void test_delivery(void **state)
{
	(void)state;
	m_start(&M, "90-scale-delivery", 3, false, NULL);
	team_everywhere();
	struct tc *alice = m_open(&M, 0, "d-alice", "alice", TC_V5);
	struct tc *bob = m_open(&M, 1, "d-bob", "bob", TC_V5);
	struct tc *carol = m_open(&M, 2, "d-carol", "carol", TC_V311);
	struct tc *store[3];
	for (int i = 0; i < 3; i++) {
		char cid[32];
		snprintf(cid, sizeof(cid), "d-store-%d", i);
		store[i] = m_open(&M, i, cid, "bridge", TC_V5);
		assert_int_equal(tc_subscribe(store[i], "chat/rooms/+/messages", 1), 1);
	}
	assert_int_equal(tc_subscribe(alice, ROOM, 1), 1);
	assert_int_equal(tc_subscribe(bob, ROOM, 1), 1);
	assert_int_equal(tc_subscribe(carol, ROOM, 1), 1);
	assert_int_equal(tc_subscribe(bob, DM, 1), 1);
	assert_int_equal(tc_subscribe(alice, DM, 1), 1);

	/* alice on n0 -> everyone once, the same envelope. */
	assert_int_equal(tc_pub(alice, ROOM, "hello from n0", 1), 0);
	char *a0 = m_expect(alice, ROOM, "hello from n0");
	char *b0 = m_expect(bob, ROOM, "hello from n0");
	char *c0 = m_expect(carol, ROOM, "hello from n0");
	assert_string_equal(a0, b0);
	assert_string_equal(a0, c0);
	assert_non_null(strstr(b0, "\"from\":\"alice\""));

	/* carol on n2 -> alice and bob once. */
	assert_int_equal(tc_pub(carol, ROOM, "hello from n2", 1), 0);
	char *a2 = m_expect(alice, ROOM, "hello from n2");
	char *b2 = m_expect(bob, ROOM, "hello from n2");
	free(m_expect(carol, ROOM, "hello from n2")); /* her own, echoed */
	assert_string_equal(a2, b2);
	assert_false(node_is(a2, a0)); /* stamped on n2, not on n0 */

	/* A DM from n0 to bob on n1, before the room exists anywhere else. */
	assert_int_equal(tc_pub(alice, DM, "psst", 1), 0);
	char *dm = m_expect(bob, DM, "psst");
	assert_true(node_is(dm, a0));
	free(m_expect(alice, DM, "psst"));

	/* Nothing twice: no copy came back around the mesh. */
	assert_true(tc_quiet(alice, NULL, 700));
	assert_true(tc_quiet(bob, ROOM, 100));
	assert_true(tc_quiet(bob, DM, 100));
	assert_true(tc_quiet(carol, ROOM, 100));

	/* Each storer saw what its broker stamped, and only that. */
	free(m_expect(store[0], ROOM, "hello from n0"));
	free(m_expect(store[0], DM, "psst"));
	free(m_expect(store[2], ROOM, "hello from n2"));
	for (int i = 0; i < 3; i++) assert_true(tc_quiet(store[i], NULL, 100));

	/* Every broker's links brought each foreign message in exactly once. */
	assert_int_equal(m_count_lines(M.b[1].log, "Received PUBLISH from link.1.0", "'" ROOM "'"), 1);
	assert_int_equal(m_count_lines(M.b[1].log, "Received PUBLISH from link.1.2", "'" ROOM "'"), 1);
	assert_int_equal(m_count_lines(M.b[1].log, "Received PUBLISH from link.1.0", "'" DM "'"), 1);
	assert_int_equal(m_count_lines(M.b[2].log, "Received PUBLISH from link.2.0", "'" ROOM "'"), 1);
	assert_int_equal(m_count_lines(M.b[0].log, "Received PUBLISH from link.0.2", "'" ROOM "'"), 1);
	assert_int_equal(m_count_lines(M.b[0].log, "Received PUBLISH from link.0.1", "'" ROOM "'"), 0);
	/* Typing crosses too, and its stop when the typist goes away. */
	assert_int_equal(tc_subscribe(bob, "chat/rooms/team/typing", 0), 0);
	assert_int_equal(tc_pub(alice, "chat/rooms/team/typing", "{\"typing\":true}", 0), 0);
	free(m_expect(bob, "chat/rooms/team/typing", "\"typing\":true"));
	tc_close(alice);
	free(m_expect(bob, "chat/rooms/team/typing", "\"typing\":false"));
	assert_true(tc_quiet(bob, "chat/rooms/team/typing", 300));

	free(a0); free(b0); free(c0); free(a2); free(b2); free(dm);
	for (int i = 0; i < 3; i++) tc_close(store[i]);
	tc_close(bob);
	tc_close(carol);
}

/* A live room's viewers on another broker get the message in their
 * shard's batch there, once. */
static void test_live_across(void **state)
{
	(void)state;
	struct tc *a = c_admin(m_at(&M, 0), "admin-live", TC_V5);
	c_do(a, "{\"command\":\"createRoom\",\"room\":\"arena\"}");
	c_do(a, "{\"command\":\"addRoomMember\",\"room\":\"arena\",\"user\":\"alice\"}");
	c_do(a, "{\"command\":\"addRoomMember\",\"room\":\"arena\",\"user\":\"bob\"}");
	c_do(a, "{\"command\":\"setRoomLive\",\"room\":\"arena\",\"live\":true}");
	tc_close(a);
	struct tc *bob = l_viewer(m_at(&M, 1), "l-bob", "bob", "arena", 1); /* waits for the state on n1 */
	struct tc *alice = m_open(&M, 0, "l-alice", "alice", TC_V5);
	assert_int_equal(tc_pub(alice, "chat/rooms/arena/messages", "goal!", 1), 0);
	l_wait_text(bob, "chat/rooms/arena/live/1", "goal!");
	/* Once: the batches after it (viewer counts) do not carry it again. */
	long long until = h_now_ms() + 700;
	struct tc_msg *m;
	while ((m = tc_wait(bob, "chat/rooms/arena/live/1", (int)(until - h_now_ms()))) != NULL) {
		assert_null(strstr(m->payload, "goal!"));
		tc_msg_free(m);
		if (h_now_ms() >= until) break;
	}
	tc_close(alice);
	tc_close(bob);
}

/* The peer role reads only what originated here, writes nothing, holds
 * only the link filters; a link's client id is nobody else's. */
static void test_peer_rules(void **state)
{
	(void)state;
	struct tc *spy = m_open(&M, 0, "spy-peer", "peer", TC_V5);
	struct tc *alice = m_open(&M, 0, "r-alice", "alice", TC_V5);
	struct tc *carol = m_open(&M, 2, "r-carol", "carol", TC_V5);
	assert_int_equal(tc_subscribe(spy, ROOM, 1), 0x87);
	assert_int_equal(tc_subscribe(spy, "chat/users/+/inbox", 1), 0x87);
	assert_int_equal(tc_subscribe(spy, "chat/rooms/+/messages", 1), 1);
	assert_int_equal(tc_pub(spy, ROOM, "{\"text\":\"forged\"}", 1), 0x87);
	assert_int_equal(tc_pub(carol, ROOM, "from n2 again", 1), 0);
	assert_true(tc_quiet(spy, NULL, 700)); /* came to n0 over a link: not n0's to hand on */
	assert_int_equal(tc_pub(alice, ROOM, "from n0 again", 1), 0);
	free(m_expect(spy, ROOM, "from n0 again"));
	/* Nobody but a peer reads the peers' namespace. */
	assert_int_equal(tc_subscribe(alice, "chatpeer/out/state", 1), 0x87);
	assert_int_equal(tc_subscribe(alice, "chatpeer/#", 1), 0x87);
	assert_int_equal(tc_pub(alice, "chatpeer/out/state", "{\"node\":\"n1\",\"keys\":[]}", 1), 0x87);
	int connack = 0;
	struct tc *thief = tc_connect(m_at(&M, 1), "link.1.0", "alice", NULL, TC_V5, &connack);
	assert_null(thief);
	assert_int_not_equal(connack, 0);
	assert_true(h_wait_log(M.b[1].log, "that client id is a scale-out link's", 2000));
	tc_close(spy);
	tc_close(alice);
	tc_close(carol);
}

static int teardown(void **state)
{
	(void)state;
	assert_true(m_finish(&M, false));
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_delivery),
		cmocka_unit_test(test_live_across),
		cmocka_unit_test(test_peer_rules),
	};
	return cmocka_run_group_tests(tests, NULL, teardown);
}
