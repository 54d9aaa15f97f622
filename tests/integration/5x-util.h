/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by the 5x tests (admin API, sanctions, state file): an
 * admin session listening on $CONTROL/chat/v1/response, requests whose
 * replies are parsed with cJSON, and log counting. Every wait has a
 * deadline (TC_WAIT_MS).
 */
#ifndef CHAT_TEST_5X_UTIL_H
#define CHAT_TEST_5X_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "client.h"
#include "harness.h"

#define C_ADMIN_CONF "plugin_opt_admins admin\nplugin_opt_service_users bridge\n"
#define C_REQUEST "$CONTROL/chat/v1"
#define C_RESPONSE "$CONTROL/chat/v1/response"

/* An admin session (protocol TC_V311 or TC_V5) with the response topic
 * subscribed. */
static inline struct tc *c_admin(struct harness *h, const char *client_id, int protocol)
{
	struct tc *a = tc_open(h, client_id, "admin", protocol);
	assert_int_equal(tc_subscribe(a, C_RESPONSE, 1), 1);
	return a;
}

/* Publishes a raw request payload and returns the parsed reply (cJSON_Delete
 * it); fails the test when no reply comes or it is not JSON. */
static inline cJSON *c_request(struct tc *admin, const char *payload)
{
	assert_int_equal(tc_pub(admin, C_REQUEST, payload, 1), 0);
	struct tc_msg *m = tc_wait(admin, C_RESPONSE, TC_WAIT_MS);
	if (!m) fail_msg("no reply to %.200s", payload);
	cJSON *reply = cJSON_Parse(m->payload);
	if (!reply) fail_msg("reply is not JSON: %s", m->payload);
	tc_msg_free(m);
	return reply;
}

/* Runs one command (its JSON object) and returns its response object
 * (cJSON_Delete it). */
static inline cJSON *c_run(struct tc *admin, const char *command_json)
{
	size_t n = strlen(command_json) + 32;
	char *req = malloc(n);
	assert_non_null(req);
	snprintf(req, n, "{\"commands\":[%s]}", command_json);
	cJSON *reply = c_request(admin, req);
	free(req);
	cJSON *list = cJSON_GetObjectItemCaseSensitive(reply, "responses");
	if (!cJSON_IsArray(list) || cJSON_GetArraySize(list) != 1) fail_msg("bad reply shape for %s", command_json);
	cJSON *resp = cJSON_DetachItemFromArray(list, 0);
	cJSON_Delete(reply);
	return resp;
}

/* The response's error text, or NULL on success. */
static inline const char *c_error(const cJSON *resp)
{
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(resp, "error");
	return cJSON_IsString(e) ? e->valuestring : NULL;
}

/* Runs a command that must succeed; returns its data (may be NULL), which
 * the caller frees with cJSON_Delete. */
static inline cJSON *c_ok(struct tc *admin, const char *command_json)
{
	cJSON *resp = c_run(admin, command_json);
	if (c_error(resp)) fail_msg("%s -> error %s", command_json, c_error(resp));
	cJSON *data = cJSON_DetachItemFromObjectCaseSensitive(resp, "data");
	cJSON_Delete(resp);
	return data;
}

static inline void c_do(struct tc *admin, const char *command_json)
{
	cJSON_Delete(c_ok(admin, command_json));
}

/* Runs a command that must fail; the error must contain needle. */
static inline void c_fails(struct tc *admin, const char *command_json, const char *needle)
{
	cJSON *resp = c_run(admin, command_json);
	const char *err = c_error(resp);
	if (!err) fail_msg("%s succeeded, expected an error", command_json);
	if (needle && !strstr(err, needle)) fail_msg("%s -> error '%s', expected '%s'", command_json, err, needle);
	cJSON_Delete(resp);
}

/* The string member key of o, or NULL. */
static inline const char *c_str(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static inline double c_num(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	if (!cJSON_IsNumber(v)) fail_msg("%s is not a number", key);
	return v->valuedouble;
}

/* Unix time in ms, as the plugin stamps it. */
static inline long long c_realtime_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Number of times needle occurs in the file. */
static inline int c_log_count(const char *path, const char *needle)
{
	char *text = h_read_file(path, NULL);
	int n = 0;
	for (const char *p = text; p && (p = strstr(p, needle)) != NULL; p += strlen(needle)) n++;
	free(text);
	return n;
}

/* Waits until needle occurs at least count times in the file. */
static inline bool c_wait_log_count(const char *path, const char *needle, int count, int timeout_ms)
{
	long long deadline = h_now_ms() + timeout_ms;
	do {
		if (c_log_count(path, needle) >= count) return true;
		h_sleep_ms(20);
	} while (h_now_ms() < deadline);
	return false;
}

/* Waits for a message on topic and returns its payload parsed. */
static inline cJSON *c_wait_json(struct tc *c, const char *topic)
{
	struct tc_msg *m = tc_wait(c, topic, TC_WAIT_MS);
	if (!m) fail_msg("nothing on %s", topic);
	cJSON *j = cJSON_Parse(m->payload);
	if (!j) fail_msg("not JSON on %s: %s", topic, m->payload);
	tc_msg_free(m);
	return j;
}

#endif
