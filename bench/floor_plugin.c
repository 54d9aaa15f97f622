/* SPDX-License-Identifier: MIT */
/*
 * bench/floor_plugin.c: the least work a plugin that stamps an envelope on
 * chat messages can ask of the broker, as the reference of the `floor`
 * scenario of scripts/bench. It allows every ACL check (a chat plugin must
 * be asked, for each publish and each delivery) and replaces every payload
 * with a broker-owned copy plugin_opt_grow bytes longer (spaces after the
 * client's JSON, so loadgen still finds its "cid"), which is what stamping
 * costs the broker however cheaply the envelope is made: a callback, an
 * allocation, a copy, the broker's free of the old payload and longer
 * packets to every subscriber. It reads nothing and decides nothing, so
 * the gap between the bare broker and this one is not the chat plugin's
 * to close.
 */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#define FLOOR_EXPORT __attribute__((visibility("default")))
#define FLOOR_GROW_MAX 65536

static mosquitto_plugin_id_t *floor_id;
static uint32_t floor_grow = 100;

static int floor_acl(int event, void *event_data, void *userdata)
{
	(void)event;
	(void)event_data;
	(void)userdata;
	return MOSQ_ERR_SUCCESS;
}

static int floor_message(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_message *ed = event_data;
	(void)event;
	(void)userdata;
	if (ed->payloadlen > UINT32_MAX - floor_grow) return MOSQ_ERR_PAYLOAD_SIZE;
	uint32_t len = ed->payloadlen + floor_grow;
	char *p = mosquitto_malloc(len);
	if (!p) return MOSQ_ERR_NOMEM;
	if (ed->payloadlen) memcpy(p, ed->payload, ed->payloadlen);
	memset(p + ed->payloadlen, ' ', floor_grow);
	ed->payload = p; /* the broker frees the old payload */
	ed->payloadlen = len;
	return MOSQ_ERR_SUCCESS;
}

FLOOR_EXPORT int mosquitto_plugin_version(int supported_version_count, const int *supported_versions)
{
	for (int i = 0; i < supported_version_count; i++) {
		if (supported_versions[i] == 5) return 5;
	}
	return -1;
}

FLOOR_EXPORT int mosquitto_plugin_init(mosquitto_plugin_id_t *identifier, void **user_data,
				       struct mosquitto_opt *opts, int opt_count)
{
	for (int i = 0; i < opt_count; i++) {
		if (strcmp(opts[i].key, "grow") != 0) continue;
		char *end;
		long v = strtol(opts[i].value, &end, 10);
		if (end == opts[i].value || *end || v < 0 || v > FLOOR_GROW_MAX) {
			mosquitto_log_printf(MOSQ_LOG_ERR, "floor: plugin_opt_grow must be 0..%d bytes", FLOOR_GROW_MAX);
			return MOSQ_ERR_INVAL;
		}
		floor_grow = (uint32_t)v;
	}
	floor_id = identifier;
	*user_data = NULL;
	int rc = mosquitto_callback_register(floor_id, MOSQ_EVT_ACL_CHECK, floor_acl, NULL, NULL);
	if (rc == MOSQ_ERR_SUCCESS) rc = mosquitto_callback_register(floor_id, MOSQ_EVT_MESSAGE, floor_message, NULL, NULL);
	return rc;
}

FLOOR_EXPORT int mosquitto_plugin_cleanup(void *user_data, struct mosquitto_opt *opts, int opt_count)
{
	(void)user_data;
	(void)opts;
	(void)opt_count;
	mosquitto_callback_unregister(floor_id, MOSQ_EVT_ACL_CHECK, floor_acl, NULL);
	mosquitto_callback_unregister(floor_id, MOSQ_EVT_MESSAGE, floor_message, NULL);
	return MOSQ_ERR_SUCCESS;
}
