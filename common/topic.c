/* SPDX-License-Identifier: MIT */
/*
 * Topic classification by walking the levels once. Ids are checked here so
 * that everything downstream can trust a topic_ref's id.
 */
#include "topic.h"

#include <string.h>

static bool id_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
	       c == '.' || c == '-';
}

bool topic_user_valid(const char *s, size_t len)
{
	if (len == 0 || len > TOPIC_ID_MAX) return false;
	for (size_t i = 0; i < len; i++) {
		if (!id_char(s[i])) return false;
	}
	return true;
}

static int bytecmp(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t n = alen < blen ? alen : blen;
	int c = memcmp(a, b, n);
	if (c) return c;
	return alen < blen ? -1 : alen > blen ? 1 : 0;
}

bool topic_dm_users(const char *room, size_t len, const char **a, size_t *alen, const char **b,
		    size_t *blen)
{
	if (len < 3 || memcmp(room, "dm:", 3) != 0) return false;
	const char *p = room + 3, *end = room + len;
	const char *colon = memchr(p, ':', (size_t)(end - p));
	if (!colon) return false;
	size_t la = (size_t)(colon - p), lb = (size_t)(end - colon - 1);
	if (!topic_user_valid(p, la) || !topic_user_valid(colon + 1, lb)) return false;
	if (bytecmp(p, la, colon + 1, lb) >= 0) return false;
	*a = p, *alen = la, *b = colon + 1, *blen = lb;
	return true;
}

bool topic_room_valid(const char *s, size_t len)
{
	const char *a, *b;
	size_t la, lb;
	if (topic_user_valid(s, len)) return true;
	return topic_dm_users(s, len, &a, &la, &b, &lb);
}

bool topic_is_shared(const char *topic)
{
	return strncmp(topic, "$share/", 7) == 0;
}

/* Splits off the next level: returns its length, sets *next past the '/'. */
static size_t level(const char *p, const char **next, bool *last)
{
	const char *slash = strchr(p, '/');
	if (!slash) {
		*last = true;
		*next = p + strlen(p);
		return strlen(p);
	}
	*last = false;
	*next = slash + 1;
	return (size_t)(slash - p);
}

static bool is_wild(const char *p, size_t n)
{
	return n == 1 && (p[0] == '+' || p[0] == '#');
}

static bool eq(const char *p, size_t n, const char *s)
{
	return strlen(s) == n && memcmp(p, s, n) == 0;
}

static void parse_room(const char *p, struct topic_ref *out)
{
	bool last;
	const char *rest;
	size_t n = level(p, &rest, &last);
	if (is_wild(p, n)) {
		out->kind = TOPIC_CHAT_WILDCARD;
		return;
	}
	if (last || !topic_room_valid(p, n)) return;
	out->id = p, out->id_len = n;
	const char *tail;
	bool tail_last;
	size_t m = level(rest, &tail, &tail_last);
	if (!tail_last) return;
	if (eq(rest, m, "messages")) out->kind = TOPIC_ROOM_MESSAGES;
	else if (eq(rest, m, "events")) out->kind = TOPIC_ROOM_EVENTS;
	else if (eq(rest, m, "history")) out->kind = TOPIC_ROOM_HISTORY;
	else if (eq(rest, m, "read")) out->kind = TOPIC_ROOM_READ;
	else if (is_wild(rest, m)) out->kind = TOPIC_ROOM_ANY;
}

static void parse_user(const char *p, struct topic_ref *out)
{
	bool last;
	const char *rest;
	size_t n = level(p, &rest, &last);
	if (is_wild(p, n)) {
		out->kind = TOPIC_CHAT_WILDCARD;
		return;
	}
	if (last || !topic_user_valid(p, n)) return;
	out->id = p, out->id_len = n;
	const char *tail;
	bool tail_last;
	size_t m = level(rest, &tail, &tail_last);
	if (m == 0) return;
	if (is_wild(rest, m)) out->kind = TOPIC_USER_ANY;
	else if (tail_last && eq(rest, m, "rooms")) out->kind = TOPIC_USER_ROOMS;
	else if (tail_last && eq(rest, m, "devices")) out->kind = TOPIC_USER_DEVICES;
	else out->kind = TOPIC_USER_PRIVATE;
}

static void parse_chat(const char *p, struct topic_ref *out)
{
	bool last;
	const char *rest;
	size_t n = level(p, &rest, &last);
	out->kind = TOPIC_CHAT_INVALID;
	if (is_wild(p, n)) {
		out->kind = TOPIC_CHAT_WILDCARD;
	} else if (last) {
		return;
	} else if (eq(p, n, "rooms")) {
		parse_room(rest, out);
	} else if (eq(p, n, "users")) {
		parse_user(rest, out);
	} else if (eq(p, n, "presence")) {
		size_t m = level(rest, &p, &last);
		if (!last) return;
		if (is_wild(rest, m)) {
			out->kind = TOPIC_PRESENCE; /* presence is readable by all: a wildcard is fine */
		} else if (topic_user_valid(rest, m)) {
			out->kind = TOPIC_PRESENCE;
			out->id = rest, out->id_len = m;
		}
	}
}

void topic_parse(const char *topic, struct topic_ref *out)
{
	memset(out, 0, sizeof(*out));
	out->kind = TOPIC_OTHER;
	out->wildcard = strpbrk(topic, "+#") != NULL;
	if (strncmp(topic, "chat/", 5) == 0) {
		parse_chat(topic + 5, out);
	} else if (strcmp(topic, "chat") == 0 || strcmp(topic, "#") == 0 || strcmp(topic, "+/#") == 0) {
		/* filters that reach into the chat tree from above */
		out->kind = strcmp(topic, "chat") == 0 ? TOPIC_CHAT_INVALID : TOPIC_CHAT_WILDCARD;
	} else if (strcmp(topic, "$CONTROL/chat/v1") == 0) {
		out->kind = TOPIC_CONTROL;
	} else if (strcmp(topic, "$CONTROL/chat/v1/response") == 0) {
		out->kind = TOPIC_CONTROL_RESPONSE;
	} else if (strncmp(topic, "$CONTROL/chat/", 14) == 0) {
		out->kind = TOPIC_CHAT_INVALID;
	} else if (strncmp(topic, "$SYS/broker/chat/", 17) == 0) {
		out->kind = TOPIC_SYS_CHAT;
	}
	if (out->kind == TOPIC_OTHER && out->wildcard && (topic[0] == '+' || topic[0] == '#')) {
		/* "+/rooms/..." and similar: a leading wildcard can match chat/ */
		out->kind = TOPIC_CHAT_WILDCARD;
	}
}

void topic_parse_memo(struct topic_memo *m, const char *topic, struct topic_ref *out)
{
	if (m->valid && strcmp(m->text, topic) == 0) {
		*out = m->ref;
		if (out->id) out->id = topic + m->id_off;
		return;
	}
	topic_parse(topic, out);
	size_t len = strlen(topic);
	m->valid = len < sizeof(m->text);
	if (!m->valid) return;
	memcpy(m->text, topic, len + 1);
	m->ref = *out;
	m->id_off = out->id ? (size_t)(out->id - topic) : 0;
	m->ref.id = out->id ? m->text + m->id_off : NULL;
}
