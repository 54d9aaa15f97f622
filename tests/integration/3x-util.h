/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by the 3x push tests. Membership and presence come from
 * the real plugin: rooms are made through the admin API (the plugin then
 * publishes the retained chat/users/{user}/rooms lists) and a user is
 * online exactly while a client of theirs is connected (the plugin
 * publishes chat/presence/{user}). Device registrations go through MQTT as
 * the user (the plugin adds the `from` property) and are acknowledged on
 * the user's inbox.
 *
 * Ordering without sleeps: the broker forwards to the bridge's one
 * connection in the order it processed the publishes, and the bridge's
 * push thread handles presence, rooms lists and registrations in that
 * order. So once an observer has seen a presence change, and after that a
 * registration has been acknowledged, the bridge knows that presence.
 */
#ifndef CHAT_TEST_3X_UTIL_H
#define CHAT_TEST_3X_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "harness.h"
#include "http_receiver.h"

/* Flood control is not what these tests are about: bursts must pass. */
#define P_BROKER_CONF                                                                                        \
	"plugin_opt_admins admin\nplugin_opt_service_users bridge\nplugin_opt_flood_rate 1000\n"             \
	"plugin_opt_flood_burst 1000\n"
#define P_WAIT_MS 15000

/* Registers (or unregisters) a device as user: publishes json to
 * chat/users/{user}/devices and returns the bridge's reply on the inbox
 * (free() it). The user's client is connected only meanwhile. */
static inline char *p_device_proto(struct harness *h, const char *user, const char *json, int protocol)
{
	char id[96], inbox[128], topic[128];
	static int n;
	snprintf(id, sizeof(id), "%s-reg-%d", user, ++n);
	snprintf(inbox, sizeof(inbox), "chat/users/%s/inbox", user);
	snprintf(topic, sizeof(topic), "chat/users/%s/devices", user);
	struct tc *c = tc_open(h, id, user, protocol);
	assert_int_equal(tc_subscribe(c, inbox, 1), 1);
	assert_int_equal(tc_pub(c, topic, json, 1), 0);
	struct tc_msg *m = NULL;
	for (;;) {
		m = tc_wait(c, inbox, P_WAIT_MS);
		if (!m) fail_msg("no registration reply for %s: %s", user, json);
		if (strstr(m->payload, "\"type\":\"device\"")) break;
		tc_msg_free(m);
	}
	char *reply = m->payload;
	m->payload = NULL;
	tc_msg_free(m);
	tc_close(c);
	return reply;
}

/* The same over MQTT 5. */
static inline char *p_device(struct harness *h, const char *user, const char *json)
{
	return p_device_proto(h, user, json, TC_V5);
}

/* Registers and fails the test unless the bridge said ok. */
static inline void p_register(struct harness *h, const char *user, const char *json)
{
	char *reply = p_device(h, user, json);
	if (!strstr(reply, "\"ok\":true")) fail_msg("registration refused: %s -> %s", json, reply);
	free(reply);
}

/* An observer of chat/presence/+ (as a user who never receives pushes). */
static inline struct tc *p_observer(struct harness *h)
{
	struct tc *o = tc_open(h, "presence-observer", "eve", TC_V5);
	assert_int_equal(tc_subscribe(o, "chat/presence/+", 1), 1);
	return o;
}

/* Waits until the observer sees user's presence with the given online
 * state (retained or live). */
static inline void p_wait_presence(struct tc *obs, const char *user, bool online)
{
	char topic[128], want[32];
	snprintf(topic, sizeof(topic), "chat/presence/%s", user);
	snprintf(want, sizeof(want), "\"online\":%s", online ? "true" : "false");
	long long deadline = h_now_ms() + P_WAIT_MS;
	while (h_now_ms() < deadline) {
		struct tc_msg *m = tc_wait(obs, topic, 500);
		bool hit = m && strstr(m->payload, want);
		tc_msg_free(m);
		if (hit) return;
	}
	fail_msg("presence of %s never became %s", user, want);
}

/* The bridge has handled everything published before this returns. */
static inline void p_barrier(struct harness *h)
{
	p_register(h, "eve", "{\"op\":\"unregister\",\"device\":\"barrier\"}");
}

/* A webhook device of user at the receiver's path. */
static inline void p_webhook_device(struct harness *h, struct hr *r, const char *user, const char *device,
                                    const char *path)
{
	char json[512], url[256];
	snprintf(json, sizeof(json),
	         "{\"op\":\"register\",\"device\":\"%s\",\"platform\":\"webhook\",\"endpoint\":\"%s\"}",
	         device, hr_url(r, path, url, sizeof(url)));
	p_register(h, user, json);
}

/* Waits until count(coll, filter) == n; false after P_WAIT_MS. */
static inline bool p_wait_count(struct harness *h, const char *coll, const char *filter, long n)
{
	long long deadline = h_now_ms() + P_WAIT_MS;
	while (h_mongo_count(h, coll, filter) != n) {
		if (h_now_ms() > deadline) return false;
		h_sleep_ms(50);
	}
	return true;
}

/* A JSON integer field of a flat object, or -1. */
static inline long p_json_long(const char *json, const char *key)
{
	char pat[64];
	snprintf(pat, sizeof(pat), "\"%s\":", key);
	const char *at = strstr(json, pat);
	return at ? strtol(at + strlen(pat), NULL, 10) : -1;
}

#endif
