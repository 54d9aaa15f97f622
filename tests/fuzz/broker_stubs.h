/* SPDX-License-Identifier: MIT */
/*
 * The broker, as far as the plugin's fuzz targets need one: the functions
 * of mosquitto_broker.h that the plugin calls, compiled into the target in
 * place of mosquitto. They keep what the plugin did (callbacks registered,
 * messages published, clients kicked) in one struct for the oracles, and
 * hold the plugin to the broker's contract: a publish the broker would
 * refuse (no topic, a topic with wildcards or invalid UTF-8, a bad QoS)
 * aborts the target. Clients are this file's struct mosquitto, which the
 * plugin only ever sees as an opaque pointer.
 */
#ifndef CHAT_FUZZ_BROKER_STUBS_H
#define CHAT_FUZZ_BROKER_STUBS_H

#include <stdbool.h>
#include <stddef.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>


struct mosquitto {
	const char *id;
	const char *username;
};

struct stubs_message {
	char *topic;
	char *payload; /* NUL after the payloadlen bytes */
	size_t len;
	bool retain;
};

#define STUBS_MAX_CALLBACKS 32

struct stubs_broker {
	struct {
		int event;
		MOSQ_FUNC_generic_callback cb;
		void *userdata;
	} callbacks[STUBS_MAX_CALLBACKS];
	size_t callback_count;
	struct stubs_message *messages; /* published since the last stubs_forget_messages */
	size_t message_count, message_cap;
	unsigned kicks;
};

extern struct stubs_broker stubs;

/* Calls every callback registered for event, in order of registration, as
 * the broker does; returns the first result that is not MOSQ_ERR_SUCCESS
 * or MOSQ_ERR_PLUGIN_DEFER, else MOSQ_ERR_SUCCESS. */
int stubs_call(int event, void *event_data);
/* Frees the messages published so far. */
void stubs_forget_messages(void);

#endif
