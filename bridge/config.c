/* SPDX-License-Identifier: MIT */
/*
 * The bridge's configuration: "key value" lines (common/kvconf), then
 * environment overrides so secrets need not sit in the file: each key K can
 * be set by CHAT_BRIDGE_<K in upper case>, e.g. CHAT_BRIDGE_MQTT_PASSWORD.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge.h"
#include "chat_err.h"
#include "kvconf.h"

enum key_kind { KEY_STRING, KEY_PORT };

struct key_def {
	const char *name;
	enum key_kind kind;
	size_t offset;
};

#define STR_KEY(k) {#k, KEY_STRING, offsetof(struct bridge_config, k)}

static const struct key_def keys[] = {
	STR_KEY(mqtt_host),
	{"mqtt_port", KEY_PORT, offsetof(struct bridge_config, mqtt_port)},
	STR_KEY(mqtt_username),
	STR_KEY(mqtt_password),
	STR_KEY(mqtt_client_id),
	STR_KEY(mongo_uri),
	STR_KEY(mongo_database),
};

static const struct key_def *find_key(const char *name)
{
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (strcmp(keys[i].name, name) == 0) return &keys[i];
	}
	return NULL;
}

static int set_key(struct bridge_config *cfg, const struct key_def *k, const char *value, char *why, size_t whylen)
{
	char *base = (char *)cfg;
	if (k->kind == KEY_PORT) {
		char *end = NULL;
		errno = 0;
		long v = strtol(value, &end, 10);
		if (errno || end == value || *end || v < 1 || v > 65535) {
			snprintf(why, whylen, "%s must be a port number 1-65535", k->name);
			return CHAT_ERR_INVAL;
		}
		*(int *)(void *)(base + k->offset) = (int)v;
		return CHAT_OK;
	}
	char **slot = (char **)(void *)(base + k->offset);
	free(*slot);
	*slot = xstrdup(value);
	return CHAT_OK;
}

static int on_line(const char *key, const char *value, void *ud, char *why, size_t whylen)
{
	const struct key_def *k = find_key(key);
	if (!k) {
		snprintf(why, whylen, "unknown key '%s'", key);
		return CHAT_ERR_INVAL;
	}
	if (!*value) {
		snprintf(why, whylen, "key '%s' needs a value", key);
		return CHAT_ERR_INVAL;
	}
	return set_key(ud, k, value, why, whylen);
}

static void set_defaults(struct bridge_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->mqtt_host = xstrdup("127.0.0.1");
	cfg->mqtt_port = 1883;
	cfg->mqtt_client_id = xstrdup("chat-bridge");
	cfg->mongo_uri = xstrdup("mongodb://127.0.0.1:27017");
	cfg->mongo_database = xstrdup("chat");
}

static int apply_env(struct bridge_config *cfg)
{
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		char var[64] = "CHAT_BRIDGE_";
		size_t n = strlen(var);
		for (const char *p = keys[i].name; *p && n < sizeof(var) - 1; p++) {
			var[n++] = (char)toupper((unsigned char)*p);
		}
		var[n] = '\0';
		const char *v = getenv(var);
		char why[128];
		if (!v) continue;
		if (set_key(cfg, &keys[i], v, why, sizeof(why)) != CHAT_OK) {
			blog(BLOG_ERR, "environment %s: %s", var, why);
			return -1;
		}
	}
	return 0;
}

int config_load(struct bridge_config *cfg, const char *path)
{
	char err[512];
	set_defaults(cfg);
	if (path && kvconf_parse_file(path, on_line, cfg, err, sizeof(err)) != CHAT_OK) {
		blog(BLOG_ERR, "%s", err);
		return -1;
	}
	return apply_env(cfg);
}

void config_free(struct bridge_config *cfg)
{
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (keys[i].kind != KEY_STRING) continue;
		char **slot = (char **)(void *)((char *)cfg + keys[i].offset);
		free(*slot);
		*slot = NULL;
	}
}
