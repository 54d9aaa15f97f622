/* SPDX-License-Identifier: MIT */
/*
 * The bridge's configuration: "key value" lines (common/kvconf), then
 * environment overrides so secrets need not sit in the file: each key K can
 * be set by CHAT_BRIDGE_<K in upper case>, e.g. CHAT_BRIDGE_MQTT_PASSWORD.
 * One table describes every key: its kind, where it goes and its range.
 * Each value is checked as it is read, so an error names file:line (or
 * the environment variable); checks between keys, made once everything is
 * read, name the line of the key they are about.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge.h"
#include "chat_err.h"
#include "kvconf.h"

enum key_kind {
	KEY_STRING,   /* non-empty text */
	KEY_OPTIONAL, /* text; empty turns the feature off */
	KEY_INT,      /* integer in [min, max] */
	KEY_SIZE,     /* bytes, optional k/M/G suffix (powers of 1024), in [min, max] */
	KEY_PUSH,     /* non-empty text that push.c checks */
};

struct key_def {
	const char *name;
	enum key_kind kind;
	size_t offset;
	long long min, max;
};

#define OFF(k) offsetof(struct bridge_config, k)
#define STR_KEY(k) {#k, KEY_STRING, OFF(k), 0, 0}
#define OPT_KEY(k) {#k, KEY_OPTIONAL, OFF(k), 0, 0}
#define INT_KEY(k, lo, hi) {#k, KEY_INT, OFF(k), lo, hi}
#define SIZE_KEY(k, lo, hi) {#k, KEY_SIZE, OFF(k), lo, hi}
/* Push keys stay text here; push.c parses and checks them. */
#define PUSH_KEY(name, field) {name, KEY_PUSH, OFF(push.field), 0, 0}

static const struct key_def keys[] = {
	STR_KEY(mqtt_host),
	INT_KEY(mqtt_port, 1, 65535),
	OPT_KEY(mqtt_brokers),
	STR_KEY(mqtt_username),
	STR_KEY(mqtt_password),
	STR_KEY(mqtt_client_id),
	INT_KEY(mqtt_keepalive, 5, 3600),
	INT_KEY(mqtt_session_expiry, 0, 2147483647),
	INT_KEY(mqtt_receive_maximum, 1, 65535),
	STR_KEY(mqtt_share_group),
	STR_KEY(mongo_uri),
	STR_KEY(mongo_database),
	STR_KEY(journal_dir),
	SIZE_KEY(journal_max_bytes, 1LL << 20, 1LL << 40),
	INT_KEY(batch_size, 1, 10000),
	INT_KEY(drain_timeout_ms, 0, 600000),
	INT_KEY(history_limit_default, 1, 1000),
	INT_KEY(history_limit_max, 1, 1000),
	OPT_KEY(metrics_listen),
	PUSH_KEY("push_preview", preview),
	PUSH_KEY("push_coalesce_ms", coalesce_ms),
	PUSH_KEY("push_allow_private", allow_private),
	PUSH_KEY("push_allow_http", allow_http),
	PUSH_KEY("push_max_attempts", max_attempts),
	PUSH_KEY("push_retry_base_ms", retry_base_ms),
	PUSH_KEY("push_retry_max_ms", retry_max_ms),
	PUSH_KEY("push_timeout_ms", timeout_ms),
	PUSH_KEY("push_title", title),
	PUSH_KEY("webhook_url", webhook_url),
	PUSH_KEY("webhook_secret", webhook_secret),
	PUSH_KEY("unifiedpush_ttl", unifiedpush_ttl),
	PUSH_KEY("fcm_service_account", fcm_service_account),
	PUSH_KEY("fcm_project", fcm_project),
	PUSH_KEY("fcm_base_url", fcm_base_url),
	PUSH_KEY("fcm_token_url", fcm_token_url),
	PUSH_KEY("apns_key_file", apns_key_file),
	PUSH_KEY("apns_key_id", apns_key_id),
	PUSH_KEY("apns_team_id", apns_team_id),
	PUSH_KEY("apns_topic", apns_topic),
	PUSH_KEY("apns_base_url", apns_base_url),
};

#define NKEYS (sizeof(keys) / sizeof(keys[0]))

/* Where each key got its value, for the checks between keys. */
struct origin {
	const char *path;
	unsigned line[NKEYS];  /* 0 = not in the file */
	bool env[NKEYS];       /* set by CHAT_BRIDGE_<KEY> (wins over the file) */
};

struct loading {
	struct bridge_config *cfg;
	struct origin *at;
};

static const struct key_def *find_key(const char *name)
{
	for (size_t i = 0; i < NKEYS; i++) {
		if (strcmp(keys[i].name, name) == 0) return &keys[i];
	}
	return NULL;
}

/* "CHAT_BRIDGE_<KEY>" into var. */
static void env_name(const struct key_def *k, char *var, size_t cap)
{
	size_t n = (size_t)snprintf(var, cap, "CHAT_BRIDGE_");
	for (const char *p = k->name; *p && n + 1 < cap; p++) var[n++] = (char)toupper((unsigned char)*p);
	var[n] = '\0';
}

/* Logs why, prefixed with where key got its value. */
static void log_at(const struct origin *at, const char *key, const char *why)
{
	const struct key_def *k = find_key(key);
	size_t i = k ? (size_t)(k - keys) : NKEYS;
	char var[64];
	if (i < NKEYS && at->env[i]) {
		env_name(k, var, sizeof(var));
		blog(BLOG_ERR, "environment %s: %s", var, why);
	} else if (i < NKEYS && at->line[i]) {
		blog(BLOG_ERR, "%s:%u: %s", at->path, at->line[i], why);
	} else {
		blog(BLOG_ERR, "%s", why);
	}
}

/* Parses an integer with an optional k/M/G suffix when sized. */
static int parse_number(const char *value, bool sized, long long *out)
{
	char *end = NULL;
	errno = 0;
	long long v = strtoll(value, &end, 10);
	if (errno || end == value) return -1;
	if (sized && *end) {
		static const char suffixes[] = "kMG";
		const char *s = strchr(suffixes, *end);
		if (!s || end[1]) return -1;
		for (long i = 0; i <= s - suffixes; i++) {
			if (v > (1LL << 50)) return -1;
			v *= 1024;
		}
		end++;
	}
	if (*end) return -1;
	*out = v;
	return 0;
}

static int set_number(struct bridge_config *cfg, const struct key_def *k, const char *value, char *why,
		      size_t whylen)
{
	long long v;
	if (parse_number(value, k->kind == KEY_SIZE, &v) != 0 || v < k->min || v > k->max) {
		snprintf(why, whylen, "%s must be %s %lld..%lld", k->name,
			 k->kind == KEY_SIZE ? "a size (k/M/G suffix allowed) in" : "an integer", k->min, k->max);
		return CHAT_ERR_INVAL;
	}
	char *slot = (char *)cfg + k->offset;
	if (k->kind == KEY_SIZE) *(long long *)(void *)slot = v;
	else *(int *)(void *)slot = (int)v;
	return CHAT_OK;
}

static int set_key(struct bridge_config *cfg, const struct key_def *k, const char *value, char *why, size_t whylen)
{
	if (!*value && k->kind != KEY_OPTIONAL) {
		snprintf(why, whylen, "key '%s' needs a value", k->name);
		return CHAT_ERR_INVAL;
	}
	if (k->kind == KEY_INT || k->kind == KEY_SIZE) return set_number(cfg, k, value, why, whylen);
	if (k->kind == KEY_PUSH && push_check_setting(k->name, value, why, whylen) != 0)
		return CHAT_ERR_INVAL;
	char **slot = (char **)(void *)((char *)cfg + k->offset);
	free(*slot);
	*slot = xstrdup(value);
	return CHAT_OK;
}

static int on_line(const char *key, const char *value, unsigned line, void *ud, char *why, size_t whylen)
{
	struct loading *l = ud;
	const struct key_def *k = find_key(key);
	if (!k) {
		snprintf(why, whylen, "unknown key '%s'", key);
		return CHAT_ERR_INVAL;
	}
	l->at->line[k - keys] = line;
	return set_key(l->cfg, k, value, why, whylen);
}

static void set_defaults(struct bridge_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->mqtt_host = xstrdup("127.0.0.1");
	cfg->mqtt_port = 1883;
	cfg->mqtt_client_id = xstrdup("chat-bridge");
	cfg->mqtt_keepalive = 30;
	cfg->mqtt_session_expiry = 86400;
	cfg->mqtt_receive_maximum = 1000;
	cfg->mqtt_share_group = xstrdup("chat-bridge");
	cfg->mongo_uri = xstrdup("mongodb://127.0.0.1:27017");
	cfg->mongo_database = xstrdup("chat");
	cfg->journal_dir = xstrdup("/var/lib/chat-bridge");
	cfg->journal_max_bytes = 256LL << 20;
	cfg->batch_size = 500;
	cfg->drain_timeout_ms = 10000;
	cfg->history_limit_default = 50;
	cfg->history_limit_max = 200;
	cfg->metrics_listen = xstrdup("127.0.0.1:9883");
}

static int apply_env(struct bridge_config *cfg, struct origin *at)
{
	for (size_t i = 0; i < NKEYS; i++) {
		char var[64], why[512];
		env_name(&keys[i], var, sizeof(var));
		const char *v = getenv(var);
		if (!v) continue;
		at->env[i] = true;
		if (set_key(cfg, &keys[i], v, why, sizeof(why)) != CHAT_OK) {
			blog(BLOG_ERR, "environment %s: %s", var, why);
			return -1;
		}
	}
	return 0;
}

/* Checks between keys, after everything is read. */
static int check_config(struct bridge_config *cfg, const struct origin *at)
{
	char why[512];
	if (cfg->history_limit_default > cfg->history_limit_max) {
		snprintf(why, sizeof(why), "history_limit_default (%d) is above history_limit_max (%d)",
			 cfg->history_limit_default, cfg->history_limit_max);
		const struct key_def *d = find_key("history_limit_default");
		bool named = at->line[d - keys] || at->env[d - keys];
		log_at(at, named ? "history_limit_default" : "history_limit_max", why);
		return -1;
	}
	const char *key = NULL;
	if (push_check_settings(&cfg->push, why, sizeof(why), &key) != 0) {
		log_at(at, key, why);
		return -1;
	}
	if (cfg->mqtt_username && !cfg->mqtt_password) {
		blog(BLOG_WARN, "mqtt_username is set but no mqtt_password (CHAT_BRIDGE_MQTT_PASSWORD)");
	}
	return 0;
}

int config_load(struct bridge_config *cfg, const char *path)
{
	char err[1024];
	struct origin at = {.path = path};
	struct loading l = {cfg, &at};
	set_defaults(cfg);
	if (path && kvconf_parse_file(path, on_line, &l, err, sizeof(err)) != CHAT_OK) {
		blog(BLOG_ERR, "%s", err);
		return -1;
	}
	if (apply_env(cfg, &at) != 0) return -1;
	return check_config(cfg, &at);
}

void config_free(struct bridge_config *cfg)
{
	for (size_t i = 0; i < NKEYS; i++) {
		if (keys[i].kind == KEY_INT || keys[i].kind == KEY_SIZE) continue;
		char **slot = (char **)(void *)((char *)cfg + keys[i].offset);
		free(*slot);
		*slot = NULL;
	}
}
