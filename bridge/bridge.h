/* SPDX-License-Identifier: MIT */
/*
 * chat-bridge's one state struct, its configuration and the entry points of
 * its files. main.c owns `struct bridge` and passes it explicitly.
 */
#ifndef CHAT_BRIDGE_H
#define CHAT_BRIDGE_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include <mongoc/mongoc.h>
#include <mosquitto.h>

#define BRIDGE_VERSION "0.1.0"

struct bridge_config {
	char *mqtt_host;
	int mqtt_port;
	char *mqtt_username;
	char *mqtt_password;
	char *mqtt_client_id;
	char *mongo_uri;
	char *mongo_database;
};

struct bridge {
	struct bridge_config cfg;
	struct mosquitto *mosq;
	mongoc_client_t *mongo;
	mongoc_collection_t *messages;
	volatile sig_atomic_t stop;
	unsigned long received, stored;
};

/* log.c: leveled logging to stderr. */
enum blog_level { BLOG_ERR, BLOG_WARN, BLOG_INFO, BLOG_DEBUG };
void blog_set_level(enum blog_level level);
void blog(enum blog_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Aborts on out-of-memory: the one allocation policy of the bridge. */
void *xmalloc(size_t n);
char *xstrdup(const char *s);

/* config.c: defaults, file, then environment overrides (CHAT_BRIDGE_<KEY>).
 * Returns 0, or -1 after printing file:line and the reason. */
int config_load(struct bridge_config *cfg, const char *path);
void config_free(struct bridge_config *cfg);

/* store.c: MongoDB. */
int store_open(struct bridge *b);
void store_close(struct bridge *b);
/* Stores one envelope; a duplicate (room, id) counts as stored. 0 or -1. */
int store_message(struct bridge *b, const char *json, size_t len);

/* mqtt.c: connects, subscribes and runs the loop until b->stop. */
int mqtt_run(struct bridge *b);

#endif
