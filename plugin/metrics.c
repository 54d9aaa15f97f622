/* SPDX-License-Identifier: MIT */
/*
 * The chat counters, published as $SYS/broker/chat/<name> every
 * plugin_opt_sys_interval seconds (like the broker's own sys_interval) and
 * returned as one JSON object by getStats. One table names every counter,
 * so both views always agree. The counters themselves are plain integers
 * in struct chat_stats, bumped by acl.c, message.c and dm.c; online
 * sessions and users come from the session table (sessions.c).
 */
#include <stdio.h>

#include "chat.h"
#include "chat_err.h"
#include "live.h"
#include "sessions.h"

#define SYS_PREFIX "$SYS/broker/chat/"

static const char *const reject_names[REJECT_COUNT] = {
	[REJECT_INVALID_UTF8] = "invalid_utf8",
	[REJECT_MALFORMED_JSON] = "malformed_json",
	[REJECT_TOO_LARGE] = "too_large",
	[REJECT_EMPTY] = "empty",
	[REJECT_MUTED] = "muted",
	[REJECT_NOT_MEMBER] = "not_member",
	[REJECT_READ_ONLY] = "read_only",
	[REJECT_NO_ROOM] = "no_room",
	[REJECT_DM_NOT_ALLOWED] = "dm_not_allowed",
	[REJECT_RETAINED] = "retained",
	[REJECT_BANNED_WORDS] = "banned_words",
	[REJECT_RATE_LIMITED] = "rate_limited",
	[REJECT_REPEATED] = "repeated",
	[REJECT_USER_PROPERTIES] = "user_properties",
	[REJECT_STORE_UNAVAILABLE] = "store_unavailable",
	[REJECT_FROZEN] = "frozen",
	[REJECT_SLOW_MODE] = "slow_mode",
	[REJECT_NOT_FOUND] = "not_found",
	[REJECT_NOT_ALLOWED] = "not_allowed",
	[REJECT_EDIT_WINDOW] = "edit_window",
};

const char *chat_reject_name(enum chat_reject why)
{
	return why < REJECT_COUNT && reject_names[why] ? reject_names[why] : "refused";
}

static uint64_t rejected_total(const struct chat *c)
{
	uint64_t n = 0;
	for (int i = 0; i < REJECT_COUNT; i++) n += c->stats.messages_rejected[i];
	return n;
}

static uint64_t get_accepted(const struct chat *c) { return c->stats.messages_accepted; }
static uint64_t get_denied_sub(const struct chat *c) { return c->stats.denied_subscribe; }
static uint64_t get_denied_pub(const struct chat *c) { return c->stats.denied_publish; }
static uint64_t get_denied_read(const struct chat *c) { return c->stats.denied_read; }
static uint64_t get_rooms(const struct chat *c) { return c->rooms.count; }
static uint64_t get_dm(const struct chat *c) { return c->stats.dm_created; }

/* Sessions and users the plugin authenticated (0 when the broker
 * authenticates: then the plugin does not see logins). */
static uint64_t get_sessions(const struct chat *c)
{
	/* When the broker authenticates, the table holds logins the plugin
	 * deferred, not ones it authenticated. */
	return c->sessions && c->cfg.auth.methods ? c->sessions->count : 0;
}

/* Walks the presence table: once per sys_interval or getStats, not per message. */
static uint64_t get_users_online(const struct chat *c)
{
	uint64_t n = 0;
	if (!c->sessions) return 0;
	for (const struct presence_user *u = c->sessions->users; u; u = u->hh.next) n += u->sessions > 0;
	return n;
}
static uint64_t get_masked(const struct chat *c) { return c->stats.words_masked; }
static uint64_t get_flagged(const struct chat *c) { return c->stats.words_flagged; }
static uint64_t get_auto_mutes(const struct chat *c) { return c->stats.auto_mutes; }

/* Counters that are not per reason: name (below $SYS/broker/chat/) and value. */
static const struct {
	const char *name;
	uint64_t (*get)(const struct chat *c);
} counters[] = {
	{"messages/accepted", get_accepted},
	{"messages/rejected", rejected_total},
	{"acl/denied/subscribe", get_denied_sub},
	{"acl/denied/publish", get_denied_pub},
	{"acl/denied/read", get_denied_read},
	{"rooms/count", get_rooms},
	{"rooms/dm_created", get_dm},
	{"sessions/online", get_sessions},
	{"users/online", get_users_online},
	{"moderation/masked", get_masked},
	{"moderation/flagged", get_flagged},
	{"moderation/auto_mutes", get_auto_mutes},
};

#define N_COUNTERS (sizeof(counters) / sizeof(counters[0]))

static void json_member(struct strbuf *out, const char *prefix, const char *name, uint64_t v)
{
	if (out->len > 0 && out->buf[out->len - 1] != '{') strbuf_putc(out, ',');
	strbuf_putc(out, '"');
	strbuf_puts(out, prefix);
	strbuf_puts(out, name);
	strbuf_puts(out, "\":");
	strbuf_append_u64(out, v);
}

int chat_stats_json(struct chat *c, struct strbuf *out)
{
	strbuf_putc(out, '{');
	for (size_t i = 0; i < N_COUNTERS; i++) json_member(out, "", counters[i].name, counters[i].get(c));
	for (int i = 0; i < REJECT_COUNT; i++) {
		json_member(out, "messages/rejected/", chat_reject_name((enum chat_reject)i), c->stats.messages_rejected[i]);
	}
	strbuf_putc(out, ',');
	chat_live_stats_json(c, out);
	strbuf_putc(out, '}');
	return strbuf_status(out);
}

static void publish_counter(const char *prefix, const char *name, uint64_t v)
{
	char topic[128], payload[24];
	snprintf(topic, sizeof(topic), SYS_PREFIX "%s%s", prefix, name);
	int n = snprintf(payload, sizeof(payload), "%llu", (unsigned long long)v);
	chat_publish(topic, payload, (size_t)n, false);
}

CHAT_OUT_OF_LINE static void publish_all(struct chat *c)
{
	for (size_t i = 0; i < N_COUNTERS; i++) publish_counter("", counters[i].name, counters[i].get(c));
	for (int i = 0; i < REJECT_COUNT; i++) {
		publish_counter("messages/rejected/", chat_reject_name((enum chat_reject)i), c->stats.messages_rejected[i]);
	}
	chat_live_publish_sys(c);
}

void chat_metrics_tick(struct chat *c, uint64_t now)
{
	if (c->cfg.sys_interval == 0) return;
	if (now - c->stats.last_sys_ms < (uint64_t)c->cfg.sys_interval * 1000u) return;
	c->stats.last_sys_ms = now;
	publish_all(c);
}
