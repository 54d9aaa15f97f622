/* SPDX-License-Identifier: MIT */
/*
 * The messenger options (plugin_opt_edit_window, edit_recent_max,
 * typing_interval, read_receipts_max_members, read_receipts_interval) and
 * the life of the messenger state; the features are edit.c, typing.c,
 * mentions.c, receipts.c and chats.c.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "chat.h"
#include "messenger_int.h"

#define DEFAULT_EDIT_WINDOW_S 900
#define DEFAULT_RECENT_MAX 65536
#define DEFAULT_TYPING_INTERVAL_MS 3000
#define DEFAULT_RECEIPTS_MAX_MEMBERS 100
#define DEFAULT_RECEIPTS_INTERVAL_MS 1000

void messenger_config_defaults(struct messenger_config *cfg)
{
	cfg->edit_window_ms = DEFAULT_EDIT_WINDOW_S * 1000u;
	cfg->recent_max = DEFAULT_RECENT_MAX;
	cfg->typing_interval_ms = DEFAULT_TYPING_INTERVAL_MS;
	cfg->receipts_max_members = DEFAULT_RECEIPTS_MAX_MEMBERS;
	cfg->receipts_interval_ms = DEFAULT_RECEIPTS_INTERVAL_MS;
}

struct messenger_option {
	const char *key;
	unsigned long long min, max, scale; /* value * scale is stored */
	size_t offset;
	int width; /* of the field: 8 (uint64_t), 'z' (size_t), 4 (unsigned) */
};

static const struct messenger_option options[] = {
	{"edit_window", 0, 7u * 86400, 1000, offsetof(struct messenger_config, edit_window_ms), 8},
	{"edit_recent_max", 0, 10u * 1000 * 1000, 1, offsetof(struct messenger_config, recent_max), 'z'},
	{"typing_interval", 100, 60000, 1, offsetof(struct messenger_config, typing_interval_ms), 8},
	{"read_receipts_max_members", 0, 1000000, 1, offsetof(struct messenger_config, receipts_max_members), 4},
	{"read_receipts_interval", 0, 60000, 1, offsetof(struct messenger_config, receipts_interval_ms), 8},
};

static const struct messenger_option *find_option(const char *key)
{
	for (size_t i = 0; i < sizeof(options) / sizeof(options[0]); i++) {
		if (strcmp(options[i].key, key) == 0) return &options[i];
	}
	return NULL;
}

bool messenger_option_known(const char *key)
{
	return find_option(key) != NULL;
}

int messenger_config_option(struct messenger_config *cfg, const char *key, const char *value)
{
	const struct messenger_option *o = find_option(key);
	char *end = NULL;
	if (!o) return MOSQ_ERR_INVAL;
	errno = 0;
	unsigned long long v = strtoull(value, &end, 10);
	if (errno || end == value || *end || value[0] == '-' || v < o->min || v > o->max) {
		mosquitto_log_printf(MOSQ_LOG_ERR, CHAT_LOG_PREFIX "plugin_opt_%s: '%s' is not a number in %llu..%llu",
				     key, value, o->min, o->max);
		return MOSQ_ERR_INVAL;
	}
	char *field = (char *)cfg + o->offset;
	if (o->width == 'z') {
		size_t s = (size_t)(v * o->scale);
		memcpy(field, &s, sizeof(s));
	} else if (o->width == 4) {
		unsigned u = (unsigned)(v * o->scale);
		memcpy(field, &u, sizeof(u));
	} else {
		uint64_t u = (uint64_t)(v * o->scale);
		memcpy(field, &u, sizeof(u));
	}
	return MOSQ_ERR_SUCCESS;
}

int messenger_init(struct chat *c)
{
	c->messenger = mosquitto_calloc(1, sizeof(*c->messenger));
	if (!c->messenger) return MOSQ_ERR_NOMEM;
	c->messenger->horizon_ms = chat_now_ms();
	strbuf_init(&c->messenger->mentions);
	return MOSQ_ERR_SUCCESS;
}

struct strbuf *chat_mentions_buf(struct chat *c)
{
	return &c->messenger->mentions;
}

void messenger_free(struct chat *c)
{
	if (!c->messenger) return;
	chat_recent_free(c->messenger);
	chat_typing_free(c->messenger);
	chat_receipts_free(c->messenger);
	strbuf_free(&c->messenger->mentions);
	mosquitto_free(c->messenger);
	c->messenger = NULL;
}
