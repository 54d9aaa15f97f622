/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for topic classification (common/topic.c). The input up
 * to its first NUL is a topic or filter; the bytes after it a second one.
 * Checked on every input:
 *
 * - the id checks (topic_user_valid, topic_room_valid, topic_dm_users)
 *   agree with the grammar of PRODUCT.md written out here, on the whole
 *   input and on each level of the topic: [A-Za-z0-9_.-]{1,64}, or
 *   dm:{a}:{b} with valid a < b bytewise;
 * - topic_parse's id is a whole level of the topic and valid for its kind,
 *   and its wildcard flag says whether the text holds + or #;
 * - a publish topic (mosquitto_pub_topic_check) gets the kind and id of a
 *   reference classifier that matches it against the tree of topics.md
 *   with libmosquitto's own mosquitto_topic_matches_sub;
 * - a subscription filter (mosquitto_sub_topic_check) that topic_parse
 *   does not refuse outright (TOPIC_CHAT_WILDCARD and TOPIC_CHAT_INVALID
 *   are for service users only, or for nobody) matches topics of at most
 *   one room or one user's tree, and only its own: the filter is filled in
 *   with witness levels (two rooms, two users, ...), libmosquitto says
 *   which witnesses it matches, and the rooms and users of those must be
 *   the filter's id or none. This is the rule "a non-service filter may
 *   match topics of at most one room" of PRODUCT.md, not the current
 *   table of acl.c, so that it holds while the subscribe rule changes;
 *   `refused_kinds` below is the one place to adapt;
 * - topic_parse_memo gives what topic_parse gives, for the same text
 *   again, for another text, and for other text at the same address.
 */
#include <mosquitto.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "topic.h"

/* Kinds no user but a service user may subscribe with: the filters the
 * one-room rule does not apply to, as acl.c refuses them anyway. */
static const enum topic_kind refused_kinds[] = {TOPIC_CHAT_WILDCARD, TOPIC_CHAT_INVALID};

/* ---- ids (PRODUCT.md, Identities) ---- */

static bool ref_user(const char *s, size_t n)
{
	static const char ok[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-";
	if (n < 1 || n > 64) return false;
	for (size_t i = 0; i < n; i++) {
		if (!s[i] || !strchr(ok, s[i])) return false;
	}
	return true;
}

/* dm:{a}:{b}: the spans of a and b when it is one. */
static bool ref_dm(const char *s, size_t n, size_t *a_len, size_t *b_at)
{
	if (n < 3 || memcmp(s, "dm:", 3) != 0) return false;
	const char *colon = memchr(s + 3, ':', n - 3);
	if (!colon) return false;
	size_t la = (size_t)(colon - s) - 3, at = la + 4, lb = n - at;
	if (!ref_user(s + 3, la) || !ref_user(s + at, lb)) return false;
	int c = memcmp(s + 3, s + at, la < lb ? la : lb);
	if (c > 0 || (c == 0 && la >= lb)) return false; /* a < b bytewise */
	*a_len = la;
	*b_at = at;
	return true;
}

static bool ref_room(const char *s, size_t n)
{
	size_t la, at;
	return ref_user(s, n) || ref_dm(s, n, &la, &at);
}

static void check_ids(const char *s, size_t n)
{
	const char *a = NULL, *b = NULL;
	size_t la = 0, lb = 0, want_la = 0, want_at = 0;
	if (topic_user_valid(s, n) != ref_user(s, n) || topic_room_valid(s, n) != ref_room(s, n)) abort();
	bool dm = ref_dm(s, n, &want_la, &want_at);
	if (topic_dm_users(s, n, &a, &la, &b, &lb) != dm) abort();
	if (dm && (a != s + 3 || la != want_la || b != s + want_at || lb != n - want_at)) abort();
}

/* ---- levels ---- */

#define MAX_LEVELS 64

struct levels {
	const char *at[MAX_LEVELS];
	size_t len[MAX_LEVELS];
	size_t n; /* 0 when the topic has more levels than kept */
};

static void split(const char *t, struct levels *lv)
{
	lv->n = 0;
	for (const char *p = t;; lv->n++) {
		if (lv->n == MAX_LEVELS) {
			lv->n = 0;
			return;
		}
		const char *slash = strchr(p, '/');
		lv->at[lv->n] = p;
		lv->len[lv->n] = slash ? (size_t)(slash - p) : strlen(p);
		if (!slash) {
			lv->n++;
			return;
		}
		p = slash + 1;
	}
}

static bool level_is(const struct levels *lv, size_t i, const char *s)
{
	return i < lv->n && lv->len[i] == strlen(s) && memcmp(lv->at[i], s, lv->len[i]) == 0;
}

/* ---- the reference classifier of publish topics ---- */

enum id_kind { ID_NONE, ID_ROOM, ID_USER };

/* The tree of topics.md, first match wins; a row applies when libmosquitto
 * matches the pattern, the topic has at least min_levels levels and the
 * id at level 2 (if the row has one) is valid. */
static const struct {
	const char *pattern;
	enum topic_kind kind;
	enum id_kind id;
	size_t min_levels;
} tree[] = {
	{"chat/rooms/+/messages", TOPIC_ROOM_MESSAGES, ID_ROOM, 4}, {"chat/rooms/+/events", TOPIC_ROOM_EVENTS, ID_ROOM, 4},
	{"chat/rooms/+/history", TOPIC_ROOM_HISTORY, ID_ROOM, 4},   {"chat/rooms/+/read", TOPIC_ROOM_READ, ID_ROOM, 4},
	{"chat/rooms/+/typing", TOPIC_ROOM_TYPING, ID_ROOM, 4},
	{"chat/users/+/rooms", TOPIC_USER_ROOMS, ID_USER, 4},
	{"chat/users/+/devices", TOPIC_USER_DEVICES, ID_USER, 4},
	{"chat/users/+/chats", TOPIC_USER_CHATS, ID_USER, 4},
	{"chat/users/+/#", TOPIC_USER_PRIVATE, ID_USER, 4},         {"chat/presence/+", TOPIC_PRESENCE, ID_USER, 3},
	{"$CONTROL/chat/v1", TOPIC_CONTROL, ID_NONE, 3},
	{"$CONTROL/chat/v1/response", TOPIC_CONTROL_RESPONSE, ID_NONE, 4},
	{"$CONTROL/chat/#", TOPIC_CHAT_INVALID, ID_NONE, 3},        {"$SYS/broker/chat/#", TOPIC_SYS_CHAT, ID_NONE, 4},
	{"chat/#", TOPIC_CHAT_INVALID, ID_NONE, 1},
};

static bool matches(const char *filter, const char *topic)
{
	bool m = false;
	if (mosquitto_topic_matches_sub(filter, topic, &m) != MOSQ_ERR_SUCCESS) abort();
	return m;
}

/* The kind of publish topic t, and the row's id level (or -1). */
static enum topic_kind ref_classify(const char *t, const struct levels *lv, int *id_level)
{
	*id_level = -1;
	for (size_t r = 0; r < sizeof(tree) / sizeof(tree[0]); r++) {
		if (lv->n < tree[r].min_levels || !matches(tree[r].pattern, t)) continue;
		if (tree[r].id == ID_ROOM && !ref_room(lv->at[2], lv->len[2])) continue;
		if (tree[r].id == ID_USER && !ref_user(lv->at[2], lv->len[2])) continue;
		if (tree[r].id != ID_NONE) *id_level = 2;
		return tree[r].kind;
	}
	return TOPIC_OTHER;
}

static void check_publish(const char *t, const struct topic_ref *got)
{
	struct levels lv;
	int id_level;
	split(t, &lv);
	if (lv.n == 0) return;
	enum topic_kind want = ref_classify(t, &lv, &id_level);
	/* chat/users/{user}/ with an empty level after the user: the code
	 * refuses it as invalid, the table would call it private. Either
	 * keeps others out. */
	if (want == TOPIC_USER_PRIVATE && lv.len[3] == 0 && got->kind == TOPIC_CHAT_INVALID) return;
	if (got->kind != want) abort();
	/* An id for a kind that has none (chat/rooms/{room}/x) is not read by
	 * anyone; check_parse has seen it is a valid one. */
	if (id_level >= 0 && (got->id != lv.at[id_level] || got->id_len != lv.len[id_level])) abort();
}

/* ---- filters: the one-room rule ---- */

static const char *const plus_witnesses[] = {"r1", "r2", "u1", "chat", "rooms", "users", "presence", "messages"};
static const char *const hash_witnesses[] = {
	"",           "x",           "r1/messages",    "r2/messages",   "rooms/r1/messages",      "rooms/r2/messages",
	"users/u1/x", "users/u2/x",  "u1/inbox",       "u2/inbox",      "chat/rooms/r1/messages", "chat/rooms/r2/messages",
	"chat/users/u1/inbox", "chat/users/u2/inbox", "presence/u1", "$CONTROL",
};
#define N_PLUS (sizeof(plus_witnesses) / sizeof(plus_witnesses[0]))
#define N_HASH (sizeof(hash_witnesses) / sizeof(hash_witnesses[0]))
#define MAX_WITNESSES 1024

/* Witness number k of filter f (its wildcards filled in, the first one
 * varying fastest) into out; false when it makes no topic. *past_end is
 * set when k is beyond the last combination. */
static bool witness(const struct levels *f, size_t k, char *out, size_t cap, bool *past_end)
{
	size_t o = 0;
	*past_end = false;
	for (size_t i = 0; i < f->n; i++) {
		const char *s = f->at[i];
		size_t n = f->len[i];
		if (n == 1 && (s[0] == '+' || s[0] == '#')) {
			size_t radix = s[0] == '+' ? N_PLUS : N_HASH;
			s = s[0] == '+' ? plus_witnesses[k % radix] : hash_witnesses[k % radix];
			n = strlen(s);
			k /= radix;
			if (n == 0) { /* only '#' has an empty witness: "a/#" matches "a" */
				if (o == 0) return false;
				o--;
				break;
			}
		}
		if (o + n + 2 > cap) return false;
		memcpy(out + o, s, n);
		o += n;
		if (i + 1 < f->n) out[o++] = '/';
	}
	out[o] = '\0';
	*past_end = k > 0;
	return o > 0;
}

/* The id at level 2 of topic t when it lies in tree "chat/<area>/", or
 * none. */
static bool area_id(const struct levels *t, const char *area, const char **id, size_t *len)
{
	if (!level_is(t, 0, "chat") || !level_is(t, 1, area) || t->n < 3) return false;
	*id = t->at[2];
	*len = t->len[2];
	return true;
}

static bool same_span(const char *a, size_t alen, const char *b, size_t blen)
{
	return a && b && alen == blen && memcmp(a, b, alen) == 0;
}

static bool is_room_kind(enum topic_kind k)
{
	return k == TOPIC_ROOM_MESSAGES || k == TOPIC_ROOM_EVENTS || k == TOPIC_ROOM_HISTORY || k == TOPIC_ROOM_READ ||
	       k == TOPIC_ROOM_TYPING || k == TOPIC_ROOM_ANY;
}

static bool is_user_kind(enum topic_kind k)
{
	return k == TOPIC_USER_ROOMS || k == TOPIC_USER_DEVICES || k == TOPIC_USER_CHATS || k == TOPIC_USER_PRIVATE || k == TOPIC_USER_ANY;
}

/* Every chat topic name the filter matches (a witness) lies in the
 * filter's own room (room kinds) or user tree (user kinds), or in no room
 * or user tree at all. */
static void check_filter(const char *f, const struct topic_ref *got)
{
	for (size_t i = 0; i < sizeof(refused_kinds) / sizeof(refused_kinds[0]); i++) {
		if (got->kind == refused_kinds[i]) return;
	}
	struct levels fl, tl;
	char t[600];
	split(f, &fl);
	if (fl.n == 0) return;
	bool past_end = false;
	for (size_t k = 0; k < MAX_WITNESSES && !past_end; k++) {
		if (!witness(&fl, k, t, sizeof(t), &past_end) || past_end || !matches(f, t)) continue;
		struct topic_ref wt; /* only names of the chat tree count: chat/rooms/r is none */
		topic_parse(t, &wt);
		if (wt.kind == TOPIC_CHAT_INVALID) continue;
		const char *id;
		size_t len;
		split(t, &tl);
		bool room = area_id(&tl, "rooms", &id, &len);
		if (room && !(is_room_kind(got->kind) && same_span(id, len, got->id, got->id_len))) abort();
		bool user = area_id(&tl, "users", &id, &len);
		if (user && !(is_user_kind(got->kind) && same_span(id, len, got->id, got->id_len))) abort();
	}
}

/* ---- topic_parse ---- */

static bool same_ref(const struct topic_ref *a, const struct topic_ref *b)
{
	return a->kind == b->kind && a->id == b->id && a->id_len == b->id_len && a->wildcard == b->wildcard;
}

static void check_parse(const char *t)
{
	struct topic_ref got;
	struct levels lv;
	topic_parse(t, &got);
	if (got.wildcard != (strpbrk(t, "+#") != NULL)) abort();
	if (topic_is_shared(t) != (strncmp(t, "$share/", 7) == 0)) abort();
	split(t, &lv);
	for (size_t i = 0; i < lv.n; i++) check_ids(lv.at[i], lv.len[i]);
	if (got.id) {
		/* User kinds and presence name a user; the rest (room kinds, and
		 * the room of an invalid topic under chat/rooms/) a room. */
		bool user = is_user_kind(got.kind) || got.kind == TOPIC_PRESENCE;
		char after = got.id[got.id_len];
		if ((got.id != t && got.id[-1] != '/') || (after != '/' && after != '\0')) abort();
		if (user ? !ref_user(got.id, got.id_len) : !ref_room(got.id, got.id_len)) abort();
	} else if (got.id_len != 0) {
		abort();
	}
	if (!*t) return; /* no MQTT topic or filter is empty */
	if (mosquitto_pub_topic_check(t) == MOSQ_ERR_SUCCESS) check_publish(t, &got);
	else if (mosquitto_sub_topic_check(t) == MOSQ_ERR_SUCCESS) {
		struct topic_ref f; /* filters are classified by topic_filter_parse */
		topic_filter_parse(t, &f);
		check_filter(t, &f);
	}
}

/* The memo answers as topic_parse does: the same text twice, then
 * another, then other text written over the first at the same address. */
static void check_memo(const char *t1, const char *t2)
{
	struct topic_memo memo = {0};
	struct topic_ref want, got;
	size_t n1 = strlen(t1), n2 = strlen(t2);
	char *buf = malloc((n1 > n2 ? n1 : n2) + 1);
	if (!buf) abort();
	memcpy(buf, t1, n1 + 1);
	const char *seq[] = {buf, buf, t2, buf, NULL};
	for (size_t i = 0; seq[i]; i++) {
		if (i == 3) memcpy(buf, t2, n2 + 1); /* same address, other text */
		topic_parse(seq[i], &want);
		topic_parse_memo(&memo, seq[i], &got);
		if (!same_ref(&want, &got)) abort();
	}
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in = malloc(size + 1);
	if (!in) abort();
	memcpy(in, data, size);
	in[size] = '\0';
	check_ids(in, size);
	const char *t1 = in, *t2 = in + strlen(in) + (strlen(in) < size); /* after the first NUL, or "" */
	check_parse(t1);
	if (*t2) check_parse(t2);
	check_memo(t1, t2);
	free(in);
	return 0;
}
