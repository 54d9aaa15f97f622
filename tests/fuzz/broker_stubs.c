/* SPDX-License-Identifier: MIT */
/*
 * Broker stubs of the plugin's fuzz targets (see broker_stubs.h). The
 * MQTT property calls come from libmosquitto itself, linked as it is.
 */
#include "broker_stubs.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "refjson.h"

struct stubs_broker stubs;

int mosquitto_callback_register(mosquitto_plugin_id_t *identifier, int event, MOSQ_FUNC_generic_callback cb_func,
				const void *event_data, void *userdata)
{
	(void)identifier;
	(void)event_data;
	if (!cb_func) return MOSQ_ERR_INVAL;
	for (size_t i = 0; i < stubs.callback_count; i++) {
		if (stubs.callbacks[i].event == event && stubs.callbacks[i].cb == cb_func) return MOSQ_ERR_ALREADY_EXISTS;
	}
	if (stubs.callback_count == STUBS_MAX_CALLBACKS) abort();
	stubs.callbacks[stubs.callback_count].event = event;
	stubs.callbacks[stubs.callback_count].cb = cb_func;
	stubs.callbacks[stubs.callback_count].userdata = userdata;
	stubs.callback_count++;
	return MOSQ_ERR_SUCCESS;
}

int mosquitto_callback_unregister(mosquitto_plugin_id_t *identifier, int event, MOSQ_FUNC_generic_callback cb_func,
				  const void *event_data)
{
	(void)identifier;
	(void)event_data;
	for (size_t i = 0; i < stubs.callback_count; i++) {
		if (stubs.callbacks[i].event != event || stubs.callbacks[i].cb != cb_func) continue;
		size_t after = stubs.callback_count - i - 1;
		memmove(&stubs.callbacks[i], &stubs.callbacks[i + 1], after * sizeof(stubs.callbacks[0]));
		stubs.callback_count--;
		return MOSQ_ERR_SUCCESS;
	}
	return MOSQ_ERR_NOT_FOUND;
}

int stubs_call(int event, void *event_data)
{
	for (size_t i = 0; i < stubs.callback_count; i++) {
		if (stubs.callbacks[i].event != event) continue;
		int rc = stubs.callbacks[i].cb(event, event_data, stubs.callbacks[i].userdata);
		if (rc != MOSQ_ERR_SUCCESS && rc != MOSQ_ERR_PLUGIN_DEFER) return rc;
	}
	return MOSQ_ERR_SUCCESS;
}

/* mosquitto_malloc and friends: tests/unit/broker_alloc.c, whose blocks
 * make memory freed by the wrong allocator fail under ASan. */

/* Formats every line, so a bad argument shows under ASan, and drops it. */
void mosquitto_log_printf(int level, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	(void)level;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
}

const char *mosquitto_client_id(const struct mosquitto *client)
{
	return client ? client->id : NULL;
}

const char *mosquitto_client_username(const struct mosquitto *client)
{
	return client ? client->username : NULL;
}

/* The fuzzed clients speak MQTT 5 with a session that ends at disconnect. */
int mosquitto_client_protocol_version(const struct mosquitto *client)
{
	(void)client;
	return 5;
}

bool mosquitto_client_clean_session(const struct mosquitto *client)
{
	(void)client;
	return true;
}

int mosquitto_kick_client_by_clientid(const char *clientid, bool with_will)
{
	(void)with_will;
	if (!clientid) abort();
	stubs.kicks++;
	return MOSQ_ERR_SUCCESS;
}

int mosquitto_kick_client_by_username(const char *username, bool with_will)
{
	(void)with_will;
	if (!username) abort();
	stubs.kicks++;
	return MOSQ_ERR_SUCCESS;
}

static void keep_message(const char *topic, const void *payload, size_t len, bool retain)
{
	if (stubs.message_count == stubs.message_cap) {
		size_t cap = stubs.message_cap ? stubs.message_cap * 2 : 16;
		struct stubs_message *m = realloc(stubs.messages, cap * sizeof(*m));
		if (!m) abort();
		stubs.messages = m;
		stubs.message_cap = cap;
	}
	struct stubs_message *m = &stubs.messages[stubs.message_count++];
	m->topic = strdup(topic);
	m->payload = malloc(len + 1);
	if (!m->topic || !m->payload) abort();
	if (len) memcpy(m->payload, payload, len);
	m->payload[len] = '\0';
	m->len = len;
	m->retain = retain;
}

int mosquitto_broker_publish_copy(const char *clientid, const char *topic, int payloadlen, const void *payload, int qos,
				  bool retain, mosquitto_property *properties)
{
	(void)clientid;
	if (!topic || payloadlen < 0 || (payloadlen > 0 && !payload) || qos < 0 || qos > 2) abort();
	if (mosquitto_pub_topic_check(topic) != MOSQ_ERR_SUCCESS || !refjson_utf8_valid(topic, strlen(topic))) abort();
	keep_message(topic, payload, (size_t)payloadlen, retain);
	mosquitto_property_free_all(&properties); /* owned by the broker on success */
	return MOSQ_ERR_SUCCESS;
}

int mosquitto_broker_publish(const char *clientid, const char *topic, int payloadlen, void *payload, int qos,
			     bool retain, mosquitto_property *properties)
{
	int rc = mosquitto_broker_publish_copy(clientid, topic, payloadlen, payload, qos, retain, properties);
	mosquitto_free(payload);
	return rc;
}

void stubs_forget_messages(void)
{
	for (size_t i = 0; i < stubs.message_count; i++) {
		free(stubs.messages[i].topic);
		free(stubs.messages[i].payload);
	}
	free(stubs.messages);
	stubs.messages = NULL;
	stubs.message_count = stubs.message_cap = 0;
}
