/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of common/topic: every row of the topic table, ids, the memo,
 * and subscription filters: a table of the rule's cases, then every filter
 * of up to five levels over a small alphabet, each checked against a model
 * that matches it, the MQTT way, against every chat topic over the same
 * alphabet and counts the rooms and user trees it reaches.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "topic.h"

struct row {
	const char *topic;
	enum topic_kind kind;
	const char *id;
};

static void check_rows(const struct row *rows, size_t n, void (*parse)(const char *, struct topic_ref *))
{
	for (size_t i = 0; i < n; i++) {
		struct topic_ref t;
		parse(rows[i].topic, &t);
		if (t.kind != rows[i].kind) fail_msg("%s: kind %d, want %d", rows[i].topic, t.kind, rows[i].kind);
		size_t want = rows[i].id ? strlen(rows[i].id) : 0;
		if (t.id_len != want || (want && memcmp(t.id, rows[i].id, want) != 0)) {
			fail_msg("%s: id %.*s, want %s", rows[i].topic, (int)t.id_len, t.id ? t.id : "",
				 rows[i].id ? rows[i].id : "(none)");
		}
	}
}

/* Topic names, as PUBLISH carries them. */
static void test_names(void **state)
{
	(void)state;
	const struct row rows[] = {
		{"chat/rooms/general/messages", TOPIC_ROOM_MESSAGES, "general"},
		{"chat/rooms/general/events", TOPIC_ROOM_EVENTS, "general"},
		{"chat/rooms/general/history", TOPIC_ROOM_HISTORY, "general"},
		{"chat/rooms/general/read", TOPIC_ROOM_READ, "general"},
		{"chat/rooms/general/typing", TOPIC_ROOM_TYPING, "general"},
		{"chat/users/bob/chats", TOPIC_USER_CHATS, "bob"},
		{"chat/users/bob/chats/x", TOPIC_USER_PRIVATE, "bob"},
		{"chat/rooms/dm:alice:bob/messages", TOPIC_ROOM_MESSAGES, "dm:alice:bob"},
		{"chat/rooms/dm:bob:alice/messages", TOPIC_CHAT_INVALID, NULL},
		{"chat/rooms/gen eral/messages", TOPIC_CHAT_INVALID, NULL},
		{"chat/rooms/general/messages/x", TOPIC_CHAT_INVALID, "general"},
		{"chat/rooms/general", TOPIC_CHAT_INVALID, NULL},
		{"chat/users/alice/rooms", TOPIC_USER_ROOMS, "alice"},
		{"chat/users/alice/devices", TOPIC_USER_DEVICES, "alice"},
		{"chat/users/alice/inbox", TOPIC_USER_PRIVATE, "alice"},
		{"chat/users/alice/responses/42", TOPIC_USER_PRIVATE, "alice"},
		{"chat/users/alice/rooms/x", TOPIC_USER_PRIVATE, "alice"},
		{"chat/users/alice", TOPIC_CHAT_INVALID, NULL},
		{"chat/users/alice/", TOPIC_CHAT_INVALID, "alice"},
		{"chat/presence/alice", TOPIC_PRESENCE, "alice"},
		{"chat/presence/alice/x", TOPIC_CHAT_INVALID, NULL},
		{"chat/other", TOPIC_CHAT_INVALID, NULL},
		{"chat", TOPIC_CHAT_INVALID, NULL},
		{"$CONTROL/chat/v1", TOPIC_CONTROL, NULL},
		{"$CONTROL/chat/v1/response", TOPIC_CONTROL_RESPONSE, NULL},
		{"$CONTROL/chat/v2", TOPIC_CHAT_INVALID, NULL},
		{"$CONTROL/dynamic-security/v1", TOPIC_OTHER, NULL},
		{"$SYS/broker/chat/messages/accepted", TOPIC_SYS_CHAT, NULL},
		{"sensors/kitchen/temp", TOPIC_OTHER, NULL},
		{"chatroom/x", TOPIC_OTHER, NULL},
		/* Not names: '+' and '#' are plain characters, flagged. */
		{"chat/presence/+", TOPIC_CHAT_INVALID, NULL},
		{"chat/rooms/+/messages", TOPIC_CHAT_INVALID, NULL},
		{"#", TOPIC_OTHER, NULL},
	};
	check_rows(rows, sizeof(rows) / sizeof(rows[0]), topic_parse);
	struct topic_ref t;
	topic_parse("chat/users/alice/#", &t);
	assert_true(t.wildcard);
	topic_parse("chat/users/alice/inbox", &t);
	assert_false(t.wildcard);
}

/* The filter rule of topics.md, case by case. */
static void test_filters(void **state)
{
	(void)state;
	const struct row rows[] = {
		/* one room: as that room's literal filter */
		{"chat/rooms/general/messages", TOPIC_ROOM_MESSAGES, "general"},
		{"chat/rooms/general/+", TOPIC_ROOM_ANY, "general"},
		{"chat/rooms/general/#", TOPIC_ROOM_ANY, "general"},
		{"+/rooms/general/messages", TOPIC_ROOM_MESSAGES, "general"},
		{"+/rooms/general/history", TOPIC_ROOM_HISTORY, "general"},
		{"+/+/dm:alice:bob/messages", TOPIC_ROOM_MESSAGES, "dm:alice:bob"}, /* no user is dm:... */
		{"chat/rooms/general/messages/#", TOPIC_ROOM_MESSAGES, "general"},
		{"+/rooms/general/+/#", TOPIC_ROOM_ANY, "general"},
		/* one user's tree */
		{"chat/users/alice/#", TOPIC_USER_ANY, "alice"},
		{"chat/users/alice/+", TOPIC_USER_ANY, "alice"},
		{"chat/users/alice/+/+", TOPIC_USER_PRIVATE, "alice"},
		{"chat/users/alice/rooms/#", TOPIC_USER_ANY, "alice"},
		{"chat/users/alice/inbox/#", TOPIC_USER_PRIVATE, "alice"},
		{"+/users/alice/devices", TOPIC_USER_DEVICES, "alice"},
		/* presence: one user's, or several users' */
		{"chat/presence/alice", TOPIC_PRESENCE, "alice"},
		{"chat/presence/+", TOPIC_PRESENCE, NULL},
		{"chat/presence/#", TOPIC_PRESENCE, NULL},
		{"chat/+/alice", TOPIC_PRESENCE, "alice"}, /* chat/rooms/alice is no topic */
		{"chat/+/+", TOPIC_PRESENCE, NULL},
		{"+/+/+", TOPIC_PRESENCE, NULL},
		/* more than one room, user tree, or both */
		{"#", TOPIC_CHAT_WILDCARD, NULL},
		{"+/#", TOPIC_CHAT_WILDCARD, NULL},
		{"chat/#", TOPIC_CHAT_WILDCARD, NULL},
		{"chat/rooms/#", TOPIC_CHAT_WILDCARD, NULL},
		{"chat/rooms/+/messages", TOPIC_CHAT_WILDCARD, NULL},
		{"+/rooms/+/messages", TOPIC_CHAT_WILDCARD, NULL},
		{"chat/users/+/inbox", TOPIC_CHAT_WILDCARD, NULL},
		{"+/+/+/+", TOPIC_CHAT_WILDCARD, NULL},
		{"chat/+/general/messages", TOPIC_CHAT_WILDCARD, NULL}, /* room general, user general */
		{"chat/+/alice/#", TOPIC_CHAT_WILDCARD, NULL},          /* and presence of alice */
		{"chat/+/alice/+/#", TOPIC_CHAT_WILDCARD, NULL},
		/* no chat topic: other topics, or unused names under chat/ */
		{"+", TOPIC_OTHER, NULL},
		{"+/+", TOPIC_OTHER, NULL},
		{"+/C", TOPIC_OTHER, NULL},
		{"/#", TOPIC_OTHER, NULL},
		{"TopicA/#", TOPIC_OTHER, NULL},
		{"+/rooms/general", TOPIC_OTHER, NULL},
		{"+/rooms/general/messages/x", TOPIC_OTHER, NULL},
		{"+/users/alice", TOPIC_OTHER, NULL},
		{"+/presence/alice/+", TOPIC_OTHER, NULL},
		{"+/rooms/bad id/+", TOPIC_OTHER, NULL},
		{"chat", TOPIC_CHAT_INVALID, NULL},
		{"chat/+", TOPIC_CHAT_INVALID, NULL},
		{"chat/bogus/#", TOPIC_CHAT_INVALID, NULL},
		{"chat/rooms/+", TOPIC_CHAT_INVALID, NULL},
		{"chat/users/alice//#", TOPIC_CHAT_INVALID, NULL},
		{"chat/rooms/general/bogus/#", TOPIC_CHAT_INVALID, NULL},
		/* not valid filters */
		{"chat/rooms/+general/messages", TOPIC_CHAT_INVALID, NULL},
		{"#/chat", TOPIC_CHAT_INVALID, NULL},
		{"a#", TOPIC_CHAT_INVALID, NULL},
		/* deeper than the model's filters */
		{"chat/users/alice/a/b/c", TOPIC_USER_PRIVATE, "alice"},
		{"+/users/alice/a/+/c/#", TOPIC_USER_PRIVATE, "alice"},
		{"chat/users/+/a/b/c", TOPIC_CHAT_WILDCARD, NULL},
		{"+/+/+/+/+/+", TOPIC_CHAT_WILDCARD, NULL},
		{"chat/rooms/general/messages/a/b", TOPIC_CHAT_INVALID, NULL},
		{"+/rooms/general/messages/a/b", TOPIC_OTHER, NULL},
		/* $ filters: as names */
		{"$CONTROL/chat/v1/response", TOPIC_CONTROL_RESPONSE, NULL},
		{"$CONTROL/chat/#", TOPIC_CHAT_INVALID, NULL},
		{"$SYS/broker/chat/#", TOPIC_SYS_CHAT, NULL},
		{"$SYS/#", TOPIC_OTHER, NULL},
	};
	check_rows(rows, sizeof(rows) / sizeof(rows[0]), topic_filter_parse);
}

/* ---- the model ---- */

/* The alphabet: levels a filter may hold (besides + and #) and the chat
 * topics are built from, with which ids they are. Every literal that is a
 * valid id names a room or user of its own in the model; "events" and
 * "read" appear in topics only, to keep the filters few. */
struct sym {
	const char *text;
	bool in_filters, room, user;
};

static const struct sym syms[] = {
	{"chat", true, true, true},     {"rooms", true, true, true},    {"users", true, true, true},
	{"presence", true, true, true}, {"messages", true, true, true}, {"history", true, true, true},
	{"devices", true, true, true},  {"g", true, true, true},        {"h", true, true, true},
	{"dm:g:h", true, true, false},  {"", true, false, false},       {"events", false, true, true},
	{"read", false, true, true},    {"typing", false, true, true},
};
enum { S_CHAT, S_ROOMS, S_USERS, S_PRESENCE, S_MESSAGES, S_HISTORY, S_DEVICES };
enum { S_EVENTS = 11, S_READ = 12, S_TYPING = 13 };
#define NSYMS (int)(sizeof(syms) / sizeof(syms[0]))
#define PLUS (-1)
#define HASH (-2)
#define MAXLV 5

enum family { F_NONE, F_ROOM, F_USER, F_PRESENCE };

/* A chat topic, and what it is: whose (family, id) and of which kind. */
struct mtopic {
	int lv[MAXLV];
	size_t n;
	enum family fam;
	int id;
	enum topic_kind kind;
};

static struct mtopic topics[4096];
static size_t ntopics;

static void add_topic(const int *lv, size_t n, enum family fam, enum topic_kind kind)
{
	assert_true(ntopics < sizeof(topics) / sizeof(topics[0]));
	struct mtopic *t = &topics[ntopics++];
	memcpy(t->lv, lv, n * sizeof(lv[0]));
	t->n = n, t->fam = fam, t->id = lv[2], t->kind = kind;
}

/* Every chat topic of up to five levels over the alphabet: the five topics
 * of each room, each user's presence, and each user's tree: chat/users/u/a
 * and chat/users/u/a/b for every level a (not empty) and b of the alphabet. */
static void build_topics(void)
{
	const int kinds[] = {S_MESSAGES, S_EVENTS, S_HISTORY, S_READ, S_TYPING};
	const enum topic_kind room_kinds[] = {TOPIC_ROOM_MESSAGES, TOPIC_ROOM_EVENTS, TOPIC_ROOM_HISTORY,
					      TOPIC_ROOM_READ, TOPIC_ROOM_TYPING};
	ntopics = 0;
	for (int id = 0; id < NSYMS; id++) {
		if (!syms[id].in_filters) continue;
		for (int k = 0; syms[id].room && k < 5; k++) {
			int lv[] = {S_CHAT, S_ROOMS, id, kinds[k]};
			add_topic(lv, 4, F_ROOM, room_kinds[k]);
		}
		if (!syms[id].user) continue;
		int p[] = {S_CHAT, S_PRESENCE, id};
		add_topic(p, 3, F_PRESENCE, TOPIC_PRESENCE);
		for (int a = 0; a < NSYMS; a++) {
			if (!syms[a].in_filters || syms[a].text[0] == '\0') continue;
			int u[] = {S_CHAT, S_USERS, id, a, 0};
			add_topic(u, 4, F_USER,
				  a == S_ROOMS     ? TOPIC_USER_ROOMS
				  : a == S_DEVICES ? TOPIC_USER_DEVICES
						   : TOPIC_USER_PRIVATE);
			for (int b = 0; b < NSYMS; b++) {
				if (!syms[b].in_filters) continue;
				u[4] = b;
				add_topic(u, 5, F_USER, TOPIC_USER_PRIVATE);
			}
		}
	}
}

/* MQTT matching: '+' one level, '#' (last) the rest, none included. */
static bool model_match(const int *f, size_t fn, const struct mtopic *t)
{
	for (size_t i = 0; i < fn; i++) {
		if (f[i] == HASH) return true;
		if (i == t->n) return false;
		if (f[i] != PLUS && f[i] != t->lv[i]) return false;
	}
	return fn == t->n;
}

/* What the rule says about a filter, from the topics it matches: more than
 * one room or user tree (or both, or presence and either) is a wildcard;
 * one is its kind (ROOM_ANY, USER_ANY when of several kinds) and id (none
 * for several users' presence); none is an other topic when the first
 * level is not "chat" (put any other name there), else an unused name. */
static void model_expect(const int *f, size_t fn, enum topic_kind *kind, int *id)
{
	enum family fam = F_NONE;
	bool several = false;
	*id = -1;
	/* Every chat topic starts with chat/: spare the loop the many that do not. */
	size_t n = f[0] >= 0 && f[0] != S_CHAT ? 0 : ntopics;
	for (size_t i = 0; i < n; i++) {
		const struct mtopic *t = &topics[i];
		if (!model_match(f, fn, t)) continue;
		if (fam == F_NONE) {
			fam = t->fam, *id = t->id, *kind = t->kind;
			continue;
		}
		if (t->fam != fam || (t->id != *id && fam != F_PRESENCE)) {
			*kind = TOPIC_CHAT_WILDCARD, *id = -1;
			return;
		}
		if (t->id != *id) *id = -1; /* presence of several users */
		several = several || t->kind != *kind;
	}
	if (fam == F_NONE) *kind = f[0] == S_CHAT ? TOPIC_CHAT_INVALID : TOPIC_OTHER;
	if (several) *kind = fam == F_ROOM ? TOPIC_ROOM_ANY : TOPIC_USER_ANY;
}

static size_t filter_text(const int *f, size_t fn, char *buf, size_t cap)
{
	size_t len = 0;
	for (size_t i = 0; i < fn; i++) {
		const char *s = f[i] == PLUS ? "+" : f[i] == HASH ? "#" : syms[f[i]].text;
		int w = snprintf(buf + len, cap - len, "%s%s", i ? "/" : "", s);
		assert_true(w >= 0 && (size_t)w < cap - len);
		len += (size_t)w;
	}
	return len;
}

struct sweep {
	size_t filters, names, mismatches;
};

static bool ref_is(const struct topic_ref *t, enum topic_kind kind, const char *id, size_t id_len)
{
	return t->kind == kind && t->id_len == id_len && (id_len == 0 || memcmp(t->id, id, id_len) == 0);
}

static void report(struct sweep *s, const char *filter, const char *by, const struct topic_ref *got,
		   enum topic_kind kind, const char *id, size_t id_len)
{
	if (s->mismatches++ >= 20) return;
	print_error("%s: kind %d id '%.*s', %s says %d id '%.*s'\n", filter, got->kind, (int)got->id_len,
		    got->id ? got->id : "", by, kind, (int)id_len, id ? id : "");
}

/* Checks one filter against the model and, when it has no wildcard (it is
 * a name), against topic_parse(), which walks the same tree its own way. */
static void check_filter(const int *f, size_t fn, struct sweep *s)
{
	char text[128];
	filter_text(f, fn, text, sizeof(text));
	enum topic_kind kind;
	int id;
	model_expect(f, fn, &kind, &id);
	const char *want = id >= 0 ? syms[id].text : "";
	struct topic_ref got;
	topic_filter_parse(text, &got);
	s->filters++;
	if (!ref_is(&got, kind, want, strlen(want))) report(s, text, "the model", &got, kind, want, strlen(want));
	if (strpbrk(text, "+#")) return;
	struct topic_ref n;
	topic_parse(text, &n);
	s->names++;
	bool has_id = n.kind != TOPIC_OTHER && n.kind != TOPIC_CHAT_INVALID;
	if (!ref_is(&got, n.kind, n.id, has_id ? n.id_len : 0)) {
		report(s, text, "topic_parse", &got, n.kind, n.id, has_id ? n.id_len : 0);
	}
}

/* Every filter of fn levels from level `at` on (the levels before it
 * fixed), each also with a trailing '#'. */
static void sweep_from(int *f, size_t at, size_t fn, struct sweep *s)
{
	if (at == fn) {
		check_filter(f, fn, s);
		f[fn] = HASH;
		check_filter(f, fn + 1, s);
		return;
	}
	for (int v = PLUS; v < NSYMS; v++) {
		if (v >= 0 && !syms[v].in_filters) continue;
		f[at] = v;
		sweep_from(f, at + 1, fn, s);
	}
}

/* Filters of up to five levels, and those with a trailing '#' (six at most). */
static void test_filter_model(void **state)
{
	(void)state;
	build_topics();
	struct sweep s = {0, 0, 0};
	int f[MAXLV + 1];
	f[0] = HASH;
	check_filter(f, 1, &s);
	for (size_t fn = 1; fn <= MAXLV; fn++) sweep_from(f, 0, fn, &s);
	print_message("%zu filters, %zu of them names, against %zu chat topics\n", s.filters, s.names, ntopics);
	assert_int_equal(s.mismatches, 0);
}

/* Bad ids and a DM pair's order. */
static void test_ids(void **state)
{
	(void)state;
	char long_id[66];
	memset(long_id, 'a', 65);
	long_id[65] = '\0';
	assert_true(topic_user_valid("a.b-c_9", 7));
	assert_false(topic_user_valid("", 0));
	assert_false(topic_user_valid(long_id, 65));
	assert_true(topic_user_valid(long_id, 64));
	assert_false(topic_user_valid("a/b", 3));
	assert_false(topic_user_valid("한", 3));
	assert_true(topic_room_valid("dm:a:b", 6));
	assert_false(topic_room_valid("dm:b:a", 6));
	assert_false(topic_room_valid("dm:a:a", 6));
	assert_false(topic_room_valid("dm:a", 4));
	const char *a, *b;
	size_t la, lb;
	assert_false(topic_dm_users("dm:bob:alice", 12, &a, &la, &b, &lb)); /* not in byte order */
	assert_false(topic_dm_users("dm:Bob:alice", 12, &a, &la, &b, &lb) == false); /* 'B' < 'a' */
	assert_true(topic_dm_users("dm:alice:bob", 12, &a, &la, &b, &lb));
	assert_int_equal(la, 5);
	assert_memory_equal(b, "bob", 3);
	assert_true(topic_is_shared("$share/g/chat/rooms/+/messages"));
	assert_false(topic_is_shared("chat/rooms/x/messages"));
}

/* The memo gives topic_parse's answer for every topic, repeated or not,
 * with ids pointing into the caller's string, never into an older one. */
static void test_memo(void **state)
{
	(void)state;
	char long_topic[300];
	memset(long_topic, 'a', sizeof(long_topic) - 1);
	memcpy(long_topic, "chat/rooms/", 11);
	long_topic[sizeof(long_topic) - 1] = '\0';
	const char *seq[] = {
		"chat/rooms/general/messages", "chat/rooms/general/messages", "chat/rooms/other/messages",
		"chat/rooms/general/messages", "chat/users/alice/inbox",     "chat/presence/bob",
		"chat/presence/bob",           "other/topic",                long_topic,
		long_topic,                    "chat/rooms/dm:a:b/messages", "$CONTROL/chat/v1",
	};
	struct topic_memo memo;
	memset(&memo, 0, sizeof(memo));
	for (size_t i = 0; i < sizeof(seq) / sizeof(seq[0]); i++) {
		char copy[sizeof(long_topic)]; /* same text, another address */
		snprintf(copy, sizeof(copy), "%s", seq[i]);
		struct topic_ref want, got;
		topic_parse(copy, &want);
		topic_parse_memo(&memo, copy, &got);
		assert_int_equal(got.kind, want.kind);
		assert_int_equal(got.id_len, want.id_len);
		assert_int_equal(got.wildcard, want.wildcard);
		assert_ptr_equal(got.id, want.id);
	}
	/* The same buffer reused for other text is parsed anew. */
	char buf[64] = "chat/rooms/one/messages";
	struct topic_ref t;
	topic_parse_memo(&memo, buf, &t);
	assert_int_equal(t.kind, TOPIC_ROOM_MESSAGES);
	snprintf(buf, sizeof(buf), "chat/rooms/two/events");
	topic_parse_memo(&memo, buf, &t);
	assert_int_equal(t.kind, TOPIC_ROOM_EVENTS);
	assert_int_equal(t.id_len, 3);
	assert_memory_equal(t.id, "two", 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),  cmocka_unit_test(test_filters), cmocka_unit_test(test_filter_model),
		cmocka_unit_test(test_ids),    cmocka_unit_test(test_memo),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
