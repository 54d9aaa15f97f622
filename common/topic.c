/* SPDX-License-Identifier: MIT */
/*
 * Topic classification: names by walking the levels once (the per-message
 * hot path), subscription filters by matching them against a table of the
 * chat tree's topic patterns (once per SUBSCRIBE). Ids are checked here so
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

static bool eq(const char *p, size_t n, const char *s)
{
	return strlen(s) == n && memcmp(p, s, n) == 0;
}

static void parse_room(const char *p, struct topic_ref *out)
{
	bool last;
	const char *rest;
	size_t n = level(p, &rest, &last);
	if (last || !topic_room_valid(p, n)) return;
	out->id = p, out->id_len = n;
	const char *tail;
	bool tail_last;
	size_t m = level(rest, &tail, &tail_last);
	if (eq(rest, m, "live") && (tail_last || topic_shard_number(tail, strlen(tail)) > 0)) {
		out->kind = TOPIC_ROOM_LIVE;
		return;
	}
	if (!tail_last) return;
	if (eq(rest, m, "messages")) out->kind = TOPIC_ROOM_MESSAGES;
	else if (eq(rest, m, "events")) out->kind = TOPIC_ROOM_EVENTS;
	else if (eq(rest, m, "history")) out->kind = TOPIC_ROOM_HISTORY;
	else if (eq(rest, m, "read")) out->kind = TOPIC_ROOM_READ;
	else if (eq(rest, m, "typing")) out->kind = TOPIC_ROOM_TYPING;
}

static void parse_user(const char *p, struct topic_ref *out)
{
	bool last;
	const char *rest;
	size_t n = level(p, &rest, &last);
	if (last || !topic_user_valid(p, n)) return;
	out->id = p, out->id_len = n;
	const char *tail;
	bool tail_last;
	size_t m = level(rest, &tail, &tail_last);
	if (m == 0) return;
	if (tail_last && eq(rest, m, "rooms")) out->kind = TOPIC_USER_ROOMS;
	else if (tail_last && eq(rest, m, "devices")) out->kind = TOPIC_USER_DEVICES;
	else if (tail_last && eq(rest, m, "chats")) out->kind = TOPIC_USER_CHATS;
	else out->kind = TOPIC_USER_PRIVATE;
}

static void parse_chat(const char *p, struct topic_ref *out)
{
	bool last;
	const char *rest;
	size_t n = level(p, &rest, &last);
	out->kind = TOPIC_CHAT_INVALID;
	if (last) {
		return;
	} else if (eq(p, n, "rooms")) {
		parse_room(rest, out);
	} else if (eq(p, n, "users")) {
		parse_user(rest, out);
	} else if (eq(p, n, "presence")) {
		size_t m = level(rest, &p, &last);
		if (last && topic_user_valid(rest, m)) {
			out->kind = TOPIC_PRESENCE;
			out->id = rest, out->id_len = m;
		}
	}
}

unsigned topic_shard_number(const char *s, size_t len)
{
	unsigned v = 0;
	if (len == 0 || len > 4 || s[0] == '0') return 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9') return 0;
		v = v * 10u + (unsigned)(s[i] - '0');
	}
	return v <= TOPIC_SHARD_MAX ? v : 0;
}

void topic_parse(const char *topic, struct topic_ref *out)
{
	memset(out, 0, sizeof(*out));
	out->kind = TOPIC_OTHER;
	out->wildcard = strpbrk(topic, "+#") != NULL;
	if (strncmp(topic, "chat/", 5) == 0) {
		parse_chat(topic + 5, out);
	} else if (strcmp(topic, "chat") == 0) {
		out->kind = TOPIC_CHAT_INVALID;
	} else if (strcmp(topic, "$CONTROL/chat/v1") == 0) {
		out->kind = TOPIC_CONTROL;
	} else if (strcmp(topic, "$CONTROL/chat/v1/response") == 0) {
		out->kind = TOPIC_CONTROL_RESPONSE;
	} else if (strncmp(topic, "$CONTROL/chat/", 14) == 0) {
		out->kind = TOPIC_CHAT_INVALID;
	} else if (strncmp(topic, "$SYS/broker/chat/", 17) == 0) {
		out->kind = TOPIC_SYS_CHAT;
	}
}

/* Never inlined (under LTO): the memo's inline hit in the header stays small. */
__attribute__((noinline)) void topic_parse_remember(struct topic_memo *m, const char *topic, struct topic_ref *out)
{
	topic_parse(topic, out);
	size_t len = strlen(topic);
	m->valid = len < sizeof(m->text);
	if (!m->valid) return;
	memcpy(m->text, topic, len + 1);
	m->ref = *out;
	m->id_off = out->id ? (size_t)(out->id - topic) : 0;
	m->ref.id = out->id ? m->text + m->id_off : NULL;
}

/* ---- subscription filters --------------------------------------------- */

/*
 * Every topic name of the chat tree under chat/ that a client can publish or
 * receive, as patterns of levels: the same tree topic_parse() walks (the
 * unit test checks that the two agree on every name it tries). A filter is
 * classified by the patterns it can match (topics.md, "Which filters").
 */
#define FILTER_FIXED 5 /* levels of the longest pattern */
#define ID_LEVEL 2     /* where every pattern has its room or user id */

enum level_class {
	LV_TEXT,     /* exactly the text */
	LV_ROOM,     /* a room id */
	LV_USER,     /* a user id */
	LV_NONEMPTY, /* any level but the empty one */
	LV_PRIVATE,  /* any nonempty level but "rooms", "devices" and "chats" */
	LV_ANY,      /* any level */
	LV_SHARD,    /* a live room's shard number (topic_shard_number) */
};

/* Whose topics a pattern holds: one room's, one user's tree, or presence
 * (one user's, or several users' for a filter with + in its place). */
enum filter_scope { SCOPE_NONE, SCOPE_ROOM, SCOPE_USER, SCOPE_PRESENCE };

struct pattern_level {
	enum level_class cls;
	const char *text; /* for LV_TEXT */
};

struct chat_pattern {
	enum topic_kind kind;
	enum filter_scope scope;
	size_t levels; /* its topics have exactly this many levels, */
	bool deeper;   /* or any number more (each LV_ANY) */
	struct pattern_level lv[FILTER_FIXED];
};

#define P_ROOM {LV_TEXT, "chat"}, {LV_TEXT, "rooms"}, {LV_ROOM, NULL}
#define P_USER {LV_TEXT, "chat"}, {LV_TEXT, "users"}, {LV_USER, NULL}

static const struct chat_pattern chat_patterns[] = {
	{TOPIC_ROOM_MESSAGES, SCOPE_ROOM, 4, false, {P_ROOM, {LV_TEXT, "messages"}}},
	{TOPIC_ROOM_EVENTS, SCOPE_ROOM, 4, false, {P_ROOM, {LV_TEXT, "events"}}},
	{TOPIC_ROOM_HISTORY, SCOPE_ROOM, 4, false, {P_ROOM, {LV_TEXT, "history"}}},
	{TOPIC_ROOM_READ, SCOPE_ROOM, 4, false, {P_ROOM, {LV_TEXT, "read"}}},
	{TOPIC_ROOM_TYPING, SCOPE_ROOM, 4, false, {P_ROOM, {LV_TEXT, "typing"}}},
	{TOPIC_ROOM_LIVE, SCOPE_ROOM, 4, false, {P_ROOM, {LV_TEXT, "live"}}},
	{TOPIC_ROOM_LIVE, SCOPE_ROOM, 5, false, {P_ROOM, {LV_TEXT, "live"}, {LV_SHARD, NULL}}},
	{TOPIC_USER_ROOMS, SCOPE_USER, 4, false, {P_USER, {LV_TEXT, "rooms"}}},
	{TOPIC_USER_DEVICES, SCOPE_USER, 4, false, {P_USER, {LV_TEXT, "devices"}}},
	{TOPIC_USER_CHATS, SCOPE_USER, 4, false, {P_USER, {LV_TEXT, "chats"}}},
	{TOPIC_USER_PRIVATE, SCOPE_USER, 4, false, {P_USER, {LV_PRIVATE, NULL}}},
	{TOPIC_USER_PRIVATE, SCOPE_USER, 5, true, {P_USER, {LV_NONEMPTY, NULL}, {LV_ANY, NULL}}},
	{TOPIC_PRESENCE, SCOPE_PRESENCE, 3, false, {{LV_TEXT, "chat"}, {LV_TEXT, "presence"}, {LV_USER, NULL}}},
};

/* The first levels of a filter; levels past FILTER_FIXED are only counted. */
struct filter_levels {
	const char *p[FILTER_FIXED];
	size_t n[FILTER_FIXED];
	size_t fixed; /* levels before a trailing '#' (all of them without one) */
	bool hash;    /* ends in '#': matches names of `fixed` levels or more */
};

static bool is_plus(const char *p, size_t n)
{
	return n == 1 && p[0] == '+';
}

/* Splits a filter into levels; false when it is not a valid filter ('+' or
 * '#' sharing a level with other characters, '#' not last). */
static bool filter_split(const char *filter, struct filter_levels *f)
{
	const char *p = filter;
	f->fixed = 0;
	f->hash = false;
	for (;;) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);
		bool wild = memchr(p, '+', n) != NULL || memchr(p, '#', n) != NULL;
		if (wild && n != 1) return false;
		if (n == 1 && p[0] == '#') {
			f->hash = true;
			return slash == NULL;
		}
		if (f->fixed < FILTER_FIXED) {
			f->p[f->fixed] = p;
			f->n[f->fixed] = n;
		}
		f->fixed++;
		if (!slash) return true;
		p = slash + 1;
	}
}

/* True when the filter level p (not '#') matches some level of the class. */
static bool level_fits(const struct pattern_level *lv, const char *p, size_t n)
{
	if (is_plus(p, n)) return true; /* no class is empty */
	switch (lv->cls) {
	case LV_TEXT: return eq(p, n, lv->text);
	case LV_ROOM: return topic_room_valid(p, n);
	case LV_USER: return topic_user_valid(p, n);
	case LV_NONEMPTY: return n > 0;
	case LV_PRIVATE: return n > 0 && !eq(p, n, "rooms") && !eq(p, n, "devices") && !eq(p, n, "chats");
	case LV_SHARD: return topic_shard_number(p, n) > 0;
	default: return true;
	}
}

/* True when the filter matches at least one topic name of the pattern. */
static bool pattern_reached(const struct chat_pattern *pt, const struct filter_levels *f)
{
	if (f->fixed > pt->levels && !pt->deeper) return false;
	if (f->fixed < pt->levels && !f->hash) return false;
	size_t upto = f->fixed < pt->levels ? f->fixed : pt->levels;
	for (size_t i = 0; i < upto; i++) {
		if (!level_fits(&pt->lv[i], f->p[i], f->n[i])) return false;
	}
	return true; /* levels past pt->levels, of a deeper pattern, are any */
}

/* True when the filter's id level matches every id: '+' there, or '#'
 * before it. */
static bool id_any(const struct filter_levels *f)
{
	return f->fixed <= ID_LEVEL || is_plus(f->p[ID_LEVEL], f->n[ID_LEVEL]);
}

/* The patterns the filter reaches, folded into out; false when they belong
 * to more than one scope. */
static bool fold_patterns(const struct filter_levels *f, struct topic_ref *out, enum filter_scope *scope)
{
	bool several = false;
	*scope = SCOPE_NONE;
	for (size_t i = 0; i < sizeof(chat_patterns) / sizeof(chat_patterns[0]); i++) {
		const struct chat_pattern *pt = &chat_patterns[i];
		if (!pattern_reached(pt, f)) continue;
		if (id_any(f) && pt->scope != SCOPE_PRESENCE) return false; /* every room, or every user */
		if (*scope != SCOPE_NONE && pt->scope != *scope) return false;
		several = several || (*scope != SCOPE_NONE && pt->kind != out->kind);
		*scope = pt->scope;
		out->kind = pt->kind;
	}
	if (several) out->kind = *scope == SCOPE_ROOM ? TOPIC_ROOM_ANY : TOPIC_USER_ANY;
	return true;
}

void topic_filter_parse(const char *filter, struct topic_ref *out)
{
	if (filter[0] == '$') {
		/* It matches names of that first level only, never chat/:
		 * $CONTROL/chat/ and $SYS/broker/chat/ are judged as names. */
		topic_parse(filter, out);
		return;
	}
	memset(out, 0, sizeof(*out));
	out->kind = TOPIC_CHAT_INVALID;
	out->wildcard = strpbrk(filter, "+#") != NULL;
	struct filter_levels f;
	enum filter_scope scope;
	if (!filter_split(filter, &f)) return;
	if (!fold_patterns(&f, out, &scope)) {
		out->kind = TOPIC_CHAT_WILDCARD;
	} else if (scope == SCOPE_NONE) {
		/* No chat topic; anything but chat/ in the first level reaches
		 * names outside the tree, else only names no one can use. */
		out->kind = f.fixed > 0 && eq(f.p[0], f.n[0], "chat") ? TOPIC_CHAT_INVALID : TOPIC_OTHER;
	} else if (!id_any(&f)) {
		out->id = f.p[ID_LEVEL];
		out->id_len = f.n[ID_LEVEL];
	}
}
