/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by the 4x tests (ACL, message path, DM, metrics): the
 * broker options they need, admin commands through $CONTROL/chat/v1, and a
 * way to show that a message was NOT delivered without a fixed wait (a
 * marker published after it by the same client arrives, and the refused
 * message did not arrive before it: the broker delivers one publisher's
 * QoS 1 messages in order).
 */
#ifndef CHAT_TEST_4X_UTIL_H
#define CHAT_TEST_4X_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "harness.h"

#define X_BASE_CONF "plugin_opt_admins admin\nplugin_opt_service_users bridge\n"
#define X_RESPONSE "$CONTROL/chat/v1/response"

/* An admin session with the response topic subscribed. */
static inline struct tc *x_admin(struct harness *h, const char *client_id)
{
	struct tc *a = tc_open(h, client_id, "admin", TC_V5);
	assert_int_equal(tc_subscribe(a, X_RESPONSE, 1), 1);
	return a;
}

/* Runs one admin command (the JSON object of one command) and returns the
 * reply's payload (free() it). */
static inline char *x_cmd_reply(struct tc *admin, const char *command_json)
{
	char req[1024];
	snprintf(req, sizeof(req), "{\"commands\":[%s]}", command_json);
	assert_int_equal(tc_pub(admin, "$CONTROL/chat/v1", req, 1), 0);
	struct tc_msg *m = tc_wait(admin, X_RESPONSE, TC_WAIT_MS);
	if (!m) fail_msg("no reply to %s", command_json);
	char *payload = m->payload;
	m->payload = NULL;
	tc_msg_free(m);
	return payload;
}

/* Runs one admin command and fails the test if the reply has an error. */
static inline void x_cmd(struct tc *admin, const char *command_json)
{
	char *reply = x_cmd_reply(admin, command_json);
	if (strstr(reply, "\"error\"")) fail_msg("%s -> %s", command_json, reply);
	free(reply);
}

static inline void x_create_room(struct tc *admin, const char *room)
{
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "{\"command\":\"createRoom\",\"room\":\"%s\"}", room);
	x_cmd(admin, cmd);
}

static inline void x_add_member(struct tc *admin, const char *room, const char *user, const char *role)
{
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "{\"command\":\"addRoomMember\",\"room\":\"%s\",\"user\":\"%s\",\"role\":\"%s\"}",
		 room, user, role);
	x_cmd(admin, cmd);
}

static inline void x_remove_member(struct tc *admin, const char *room, const char *user)
{
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "{\"command\":\"removeRoomMember\",\"room\":\"%s\",\"user\":\"%s\"}", room, user);
	x_cmd(admin, cmd);
}

/*
 * True when sub received nothing on topic before the marker: pub publishes
 * marker_payload to marker_topic (which sub must receive) after the message
 * under test. Fails the test when the marker never comes.
 */
static inline bool x_not_before_marker(struct tc *sub, const char *topic, struct tc *pub,
				       const char *marker_topic, const char *marker_payload)
{
	assert_int_equal(tc_pub(pub, marker_topic, marker_payload, 1), 0);
	for (;;) {
		struct tc_msg *m = tc_wait(sub, NULL, TC_WAIT_MS);
		if (!m) fail_msg("marker %s never arrived", marker_payload);
		bool is_topic = strcmp(m->topic, topic) == 0;
		bool is_marker = strcmp(m->topic, marker_topic) == 0 && strstr(m->payload, marker_payload);
		if (is_topic && !is_marker) fprintf(stderr, "delivered on %s: %s\n", m->topic, m->payload);
		tc_msg_free(m);
		if (is_topic && !is_marker) return false;
		if (is_marker) return true;
	}
}

#endif
