/* SPDX-License-Identifier: MIT */
/*
 * Unit test of plugin/sessions.c's session array and its two indexes
 * (common/oatable.c, by client pointer and by client id), linked on their
 * own with stand-ins for the few broker calls they make. A random run of connects (some
 * taking over another client's id), re-authentications and disconnects is
 * checked against a plain model of who holds which id.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "chat.h"
#include "sessions.h"

/* The broker's client, as far as sessions.c can tell: an id. */
struct mosquitto {
	char id[16];
};

const char *mosquitto_client_id(const struct mosquitto *client)
{
	return client->id;
}

void mosquitto_log_printf(int level, const char *fmt, ...)
{
	(void)level;
	(void)fmt;
}

int mosquitto_kick_client_by_clientid(const char *client_id, bool with_will)
{
	(void)client_id;
	(void)with_will;
	return 0;
}

static long online; /* the sum of presence_update's deltas */

void presence_update(struct chat *c, const char *user, int delta)
{
	(void)c;
	(void)user;
	online += delta;
}

#define CLIENTS 1500
#define IDS (CLIENTS / 2)

static uint32_t next_random(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/* Client k logs in as one of a few users, so a takeover may change user. */
static const char *user_of(int k)
{
	static const char *users[] = {"ana", "bo", "cy", "di", "ed"};
	return users[k % 5];
}

/* Every client the model has connected has its session under its id, and
 * nothing else is indexed. */
static void check_model(struct chat *c, const struct mosquitto *clients, const int *holds)
{
	size_t live = 0;
	for (int k = 0; k < CLIENTS; k++) {
		const struct chat_session *e = chat_session_of(c, &clients[k]);
		if (holds[k] < 0) {
			assert_null(e);
			continue;
		}
		live++;
		assert_non_null(e);
		assert_string_equal(e->client_id, clients[k].id);
		assert_string_equal(e->user, user_of(k));
	}
	const struct chat_sessions *s = c->sessions;
	assert_int_equal(s->count, live);
	assert_int_equal(s->by_id.count, live);
	assert_int_equal(s->by_client.count, live);
	/* Every session knows its place, and the id index finds it. */
	for (size_t i = 0; i < s->count; i++) assert_int_equal(s->list[i]->ref, i + 1);
	for (int k = 0; k < CLIENTS; k++) {
		if (holds[k] < 0) continue;
		const char *u = sessions_id_user(s, clients[k].id);
		assert_non_null(u);
		assert_string_equal(u, user_of(k));
	}
	assert_int_equal(online, (long)live);
}

static void test_random_run(void **state)
{
	(void)state;
	static struct mosquitto clients[CLIENTS];
	static int holds[CLIENTS]; /* the id number client k holds, -1 = not connected */
	struct chat c;
	memset(&c, 0, sizeof(c));
	c.cfg.auth.methods = CHAT_AUTH_PASSWORD_FILE; /* the plugin authenticates: takeovers retire */
	c.sessions = sessions_new();
	assert_non_null(c.sessions);
	online = 0;
	for (int k = 0; k < CLIENTS; k++) holds[k] = -1;
	uint32_t seed = 12345;
	for (int step = 1; step <= 200000; step++) {
		int k = (int)(next_random(&seed) % CLIENTS);
		if (next_random(&seed) % 3 == 0) {
			sessions_remove(&c, &clients[k]); /* DISCONNECT */
			holds[k] = -1;
		} else {
			int id = holds[k] >= 0 && next_random(&seed) % 2 ? holds[k] : (int)(next_random(&seed) % IDS);
			if (holds[k] >= 0 && holds[k] != id) { /* a new connection of this client */
				sessions_remove(&c, &clients[k]);
				holds[k] = -1;
			}
			for (int j = 0; j < CLIENTS; j++) {
				if (j != k && holds[j] == id) holds[j] = -1; /* taken over */
			}
			snprintf(clients[k].id, sizeof(clients[k].id), "c%d", id);
			assert_int_equal(sessions_add(&c, &clients[k], user_of(k), false, 0), MOSQ_ERR_SUCCESS);
			holds[k] = id;
		}
		if (step % 20000 == 0) check_model(&c, clients, holds);
	}
	for (int k = 0; k < CLIENTS; k++) sessions_remove(&c, &clients[k]);
	memset(holds, -1, sizeof(holds));
	check_model(&c, clients, holds);
	sessions_free(c.sessions);
}

/* Expired sessions are kicked (the kick re-enters removal, which moves
 * sessions in the array), the others stay, and the next expiry is the
 * earliest left. */
static void test_expire(void **state)
{
	(void)state;
	static struct mosquitto clients[40];
	struct chat c;
	memset(&c, 0, sizeof(c));
	c.cfg.auth.methods = CHAT_AUTH_PASSWORD_FILE;
	c.sessions = sessions_new();
	assert_non_null(c.sessions);
	online = 0;
	for (int k = 0; k < 40; k++) {
		snprintf(clients[k].id, sizeof(clients[k].id), "e%d", k);
		uint64_t expires = k % 4 == 0 ? 0 : 1000 + (uint64_t)k * 10; /* every fourth never expires */
		assert_int_equal(sessions_add(&c, &clients[k], user_of(k), false, expires), MOSQ_ERR_SUCCESS);
	}
	assert_int_equal(c.sessions->next_expiry_ms, 1010);
	sessions_expire(&c, 1200); /* expires 1010..1200: k = 1..20 but not 4, 8, ..., 20 */
	for (int k = 0; k < 40; k++) {
		bool gone = k % 4 != 0 && 1000 + k * 10 <= 1200;
		assert_true((chat_session_of(&c, &clients[k]) == NULL) == gone);
	}
	assert_int_equal(c.sessions->count, 40 - 15);
	assert_int_equal(c.sessions->next_expiry_ms, 1210);
	assert_int_equal(online, 40 - 15);
	sessions_expire(&c, 5000);
	assert_int_equal(c.sessions->count, 10);
	assert_int_equal(c.sessions->next_expiry_ms, 0);
	sessions_free(c.sessions);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_random_run),
		cmocka_unit_test(test_expire),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
