/* SPDX-License-Identifier: MIT */
/*
 * The state file's JSON (README, "State file"): rooms (title, policy,
 * members with roles), bans, mutes, freezes and the word lists. Each
 * top-level key is a row in `sections`, read into a fresh `struct
 * state_parts` that state.c swaps in only when the whole document was
 * valid, or written from the running state. A refused document says why
 * with the JSON path of the bad value.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat_err.h"
#include "json.h"
#include "live.h"
#include "state_int.h"

#define STATE_VERSION 1

int state_fail(struct why *w, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(w->text, sizeof(w->text), fmt, ap);
	va_end(ap);
	return CHAT_ERR_INVAL;
}

/* ---- reading ---------------------------------------------------------- */

static int load_policy(struct room *r, const cJSON *p, const char *at, struct why *w)
{
	const cJSON *v;
	if (!p) return CHAT_OK;
	if (!cJSON_IsObject(p)) return state_fail(w, "%s.policy: not an object", at);
	v = cJSON_GetObjectItemCaseSensitive(p, "bannedWordsAction");
	if (v) {
		int a = cJSON_IsString(v) ? rooms_words_action_parse(v->valuestring) : -1;
		if (a < 0) return state_fail(w, "%s.policy.bannedWordsAction: not mask, reject or flag", at);
		r->policy.words_action = (enum words_action)a;
	}
	v = cJSON_GetObjectItemCaseSensitive(p, "dmPolicy");
	if (v) {
		int d = cJSON_IsString(v) ? rooms_dm_policy_parse(v->valuestring) : -1;
		if (d < 0) return state_fail(w, "%s.policy.dmPolicy: not anyone, shared or nobody", at);
		r->policy.dm_policy = (enum dm_policy)d;
	}
	v = cJSON_GetObjectItemCaseSensitive(p, "floodRate");
	if (v && (!cJSON_IsNumber(v) || !(v->valuedouble > 0) || !isfinite(v->valuedouble)))
		return state_fail(w, "%s.policy.floodRate: not a positive number", at);
	if (v) r->policy.flood_rate = v->valuedouble;
	v = cJSON_GetObjectItemCaseSensitive(p, "floodBurst");
	if (v && (!cJSON_IsNumber(v) || !(v->valuedouble >= 1) || !isfinite(v->valuedouble)))
		return state_fail(w, "%s.policy.floodBurst: not a number >= 1", at);
	if (v) r->policy.flood_burst = v->valuedouble;
	v = cJSON_GetObjectItemCaseSensitive(p, "slowMode");
	if (v && (!cJSON_IsNumber(v) || !(v->valuedouble >= 0 && v->valuedouble <= SLOWMODE_MAX_S) ||
		  v->valuedouble != (double)(unsigned)v->valuedouble))
		return state_fail(w, "%s.policy.slowMode: not a whole number of seconds in [0, %u]", at, SLOWMODE_MAX_S);
	if (v) r->policy.slow_mode_s = (unsigned)v->valuedouble;
	v = cJSON_GetObjectItemCaseSensitive(p, "readReceipts");
	int rr = cJSON_IsString(v) ? chat_receipts_parse(v->valuestring) : -1;
	if (v && rr < 0) return state_fail(w, "%s.policy.readReceipts: not auto, on or off", at);
	if (v) r->policy.read_receipts = (enum read_receipts)rr;
	char why[128];
	if (chat_live_policy_load(&r->policy, p, why, sizeof(why)) != CHAT_OK) return state_fail(w, "%s.%s", at, why);
	return CHAT_OK;
}

static int load_members(struct rooms *rs, struct room *r, const cJSON *list, const char *at, struct why *w)
{
	int i = 0;
	const cJSON *m;
	if (!list) return CHAT_OK;
	if (!cJSON_IsArray(list)) return state_fail(w, "%s.members: not an array", at);
	cJSON_ArrayForEach(m, list) {
		const cJSON *user = cJSON_GetObjectItemCaseSensitive(m, "user");
		const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
		int ro = cJSON_IsString(role) ? rooms_role_parse(role->valuestring) : -1;
		if (!cJSON_IsString(user) || !topic_user_valid(user->valuestring, strlen(user->valuestring)))
			return state_fail(w, "%s.members[%d].user: not a valid user id", at, i);
		if (ro <= ROLE_NONE) return state_fail(w, "%s.members[%d].role: not owner, admin, member or reader", at, i);
		if (rooms_role(r, user->valuestring, strlen(user->valuestring)) != ROLE_NONE)
			return state_fail(w, "%s.members[%d]: %s is listed twice", at, i, user->valuestring);
		int rc = rooms_set_member(rs, r, user->valuestring, (enum room_role)ro);
		if (rc != CHAT_OK) return state_fail(w, "%s.members[%d]: %s", at, i, chat_strerror(rc));
		i++;
	}
	return CHAT_OK;
}

static int load_room(struct state_parts *p, const cJSON *o, int i, struct why *w)
{
	char at[32];
	struct room *r = NULL;
	snprintf(at, sizeof(at), "rooms[%d]", i);
	if (!cJSON_IsObject(o)) return state_fail(w, "%s: not an object", at);
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "room");
	const cJSON *title = cJSON_GetObjectItemCaseSensitive(o, "title");
	if (!cJSON_IsString(id) || !topic_room_valid(id->valuestring, strlen(id->valuestring)))
		return state_fail(w, "%s.room: not a valid room id", at);
	if (title && !cJSON_IsString(title) && !cJSON_IsNull(title)) return state_fail(w, "%s.title: not a string", at);
	int rc = rooms_create(&p->rooms, id->valuestring, cJSON_IsString(title) ? title->valuestring : NULL, &r);
	if (rc == CHAT_ERR_EXISTS) return state_fail(w, "%s: room %s is listed twice", at, id->valuestring);
	if (rc != CHAT_OK) return state_fail(w, "%s: %s", at, chat_strerror(rc));
	rc = load_policy(r, cJSON_GetObjectItemCaseSensitive(o, "policy"), at, w);
	if (rc != CHAT_OK) return rc;
	return load_members(&p->rooms, r, cJSON_GetObjectItemCaseSensitive(o, "members"), at, w);
}

static int load_rooms(struct state_parts *p, const cJSON *list, struct why *w)
{
	int i = 0;
	const cJSON *o;
	if (!list) return CHAT_OK;
	if (!cJSON_IsArray(list)) return state_fail(w, "rooms: not an array");
	cJSON_ArrayForEach(o, list) {
		int rc = load_room(p, o, i++, w);
		if (rc != CHAT_OK) return rc;
	}
	return CHAT_OK;
}

/* An "until" in unix ms; 0 = until lifted. */
static bool read_until(const cJSON *o, uint64_t *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "until");
	if (!v) {
		*out = 0;
		return true;
	}
	if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 9007199254740992.0) return false;
	*out = (uint64_t)v->valuedouble;
	return true;
}

/* Bans and mutes share one shape: {"user", optional "room" (mutes), "until"}. */
static int load_sanction_list(struct state_parts *p, const cJSON *list, const char *name, bool mutes,
			      struct why *w)
{
	int i = 0;
	const cJSON *o;
	uint64_t now = chat_now_ms();
	if (!list) return CHAT_OK;
	if (!cJSON_IsArray(list)) return state_fail(w, "%s: not an array", name);
	cJSON_ArrayForEach(o, list) {
		const cJSON *user = cJSON_GetObjectItemCaseSensitive(o, "user");
		const cJSON *room = mutes ? cJSON_GetObjectItemCaseSensitive(o, "room") : NULL;
		uint64_t until;
		if (!cJSON_IsString(user)) return state_fail(w, "%s[%d].user: not a string", name, i);
		if (room && !cJSON_IsString(room)) return state_fail(w, "%s[%d].room: not a string", name, i);
		if (!read_until(o, &until)) return state_fail(w, "%s[%d].until: not a time in unix ms", name, i);
		int rc = mutes ? sanctions_mute(&p->sanctions, user->valuestring, room ? room->valuestring : NULL, until)
			       : sanctions_ban(&p->sanctions, user->valuestring, until);
		if (rc == CHAT_ERR_INVAL) return state_fail(w, "%s[%d]: invalid user or room id", name, i);
		if (rc != CHAT_OK) return state_fail(w, "%s[%d]: %s", name, i, chat_strerror(rc));
		i++;
	}
	sanctions_sweep(&p->sanctions, now);
	return CHAT_OK;
}

static int load_bans(struct state_parts *p, const cJSON *list, struct why *w)
{
	return load_sanction_list(p, list, "bans", false, w);
}

static int load_mutes(struct state_parts *p, const cJSON *list, struct why *w)
{
	return load_sanction_list(p, list, "mutes", true, w);
}

/* Freezes: {"room" (absent: every room), "until"}. */
static int load_freezes(struct state_parts *p, const cJSON *list, struct why *w)
{
	int i = 0;
	const cJSON *o;
	if (!list) return CHAT_OK;
	if (!cJSON_IsArray(list)) return state_fail(w, "freezes: not an array");
	cJSON_ArrayForEach(o, list) {
		const cJSON *room = cJSON_GetObjectItemCaseSensitive(o, "room");
		uint64_t until;
		if (room && !cJSON_IsString(room)) return state_fail(w, "freezes[%d].room: not a string", i);
		if (!read_until(o, &until)) return state_fail(w, "freezes[%d].until: not a time in unix ms", i);
		int rc = sanctions_freeze(&p->sanctions, room ? room->valuestring : NULL, until);
		if (rc == CHAT_ERR_INVAL) return state_fail(w, "freezes[%d].room: invalid room id", i);
		if (rc != CHAT_OK) return state_fail(w, "freezes[%d]: %s", i, chat_strerror(rc));
		i++;
	}
	sanctions_sweep(&p->sanctions, chat_now_ms());
	return CHAT_OK;
}

/* ---- writing ---------------------------------------------------------- */

static cJSON *save_room(const struct room *r)
{
	cJSON *o = cJSON_CreateObject(), *members = cJSON_CreateArray(), *policy = cJSON_CreateObject();
	if (!o || !members || !policy) goto nomem;
	cJSON_AddStringToObject(o, "room", r->id);
	if (r->title) cJSON_AddStringToObject(o, "title", r->title);
	if (r->policy.words_action != WORDS_INHERIT)
		cJSON_AddStringToObject(policy, "bannedWordsAction", rooms_words_action_name(r->policy.words_action));
	if (r->policy.flood_rate > 0) cJSON_AddNumberToObject(policy, "floodRate", r->policy.flood_rate);
	if (r->policy.flood_burst > 0) cJSON_AddNumberToObject(policy, "floodBurst", r->policy.flood_burst);
	if (r->policy.dm_policy != DM_INHERIT)
		cJSON_AddStringToObject(policy, "dmPolicy", rooms_dm_policy_name(r->policy.dm_policy));
	if (r->policy.slow_mode_s) cJSON_AddNumberToObject(policy, "slowMode", r->policy.slow_mode_s);
	if (r->policy.read_receipts != RECEIPTS_AUTO)
		cJSON_AddStringToObject(policy, "readReceipts", chat_receipts_name((int)r->policy.read_receipts));
	chat_live_policy_json(&r->policy, policy); /* live.h */
	for (const struct room_member *m = r->members; m; m = m->hh.next) {
		cJSON *e = cJSON_CreateObject();
		if (!e) goto nomem;
		cJSON_AddItemToArray(members, e);
		cJSON_AddStringToObject(e, "user", m->user);
		cJSON_AddStringToObject(e, "role", rooms_role_name(m->role));
	}
	cJSON_AddItemToObject(o, "policy", policy);
	cJSON_AddItemToObject(o, "members", members);
	return o;
nomem:
	cJSON_Delete(o);
	cJSON_Delete(members);
	cJSON_Delete(policy);
	return NULL;
}

static cJSON *save_rooms(const struct chat *c)
{
	cJSON *list = cJSON_CreateArray();
	for (const struct room *r = c->rooms.by_id; list && r; r = r->hh.next) {
		cJSON *o = save_room(r);
		if (!o) {
			cJSON_Delete(list);
			return NULL;
		}
		cJSON_AddItemToArray(list, o);
	}
	return list;
}

static cJSON *save_sanctions(const struct sanction *table, bool mutes)
{
	cJSON *list = cJSON_CreateArray();
	for (const struct sanction *e = table; list && e; e = e->hh.next) {
		char user[TOPIC_ID_MAX + 1], room[TOPIC_ROOM_MAX + 1];
		cJSON *o = cJSON_CreateObject();
		if (!o) {
			cJSON_Delete(list);
			return NULL;
		}
		sanctions_key_split(e->key, user, room);
		cJSON_AddStringToObject(o, "user", user);
		if (mutes && room[0]) cJSON_AddStringToObject(o, "room", room);
		cJSON_AddNumberToObject(o, "until", (double)e->until_ms);
		cJSON_AddItemToArray(list, o);
	}
	return list;
}

static cJSON *save_bans(const struct chat *c)
{
	return save_sanctions(c->sanctions.bans, false);
}

static cJSON *save_mutes(const struct chat *c)
{
	return save_sanctions(c->sanctions.mutes, true);
}

static cJSON *save_freezes(const struct chat *c)
{
	cJSON *list = cJSON_CreateArray();
	for (const struct sanction *e = c->sanctions.freezes; list && e; e = e->hh.next) {
		cJSON *o = cJSON_CreateObject();
		if (!o) {
			cJSON_Delete(list);
			return NULL;
		}
		if (strcmp(e->key, SANCTION_EVERY_ROOM) != 0) cJSON_AddStringToObject(o, "room", e->key);
		cJSON_AddNumberToObject(o, "until", (double)e->until_ms);
		cJSON_AddItemToArray(list, o);
	}
	return list;
}

/* Word lists: global ones into parts, a room's onto its room (moderation_state.c). */
static int load_words(struct state_parts *p, const cJSON *item, struct why *w)
{
	return moderation_state_load(&p->rooms, item, &p->words, w->text, sizeof(w->text));
}

static cJSON *save_words(const struct chat *c)
{
	return moderation_state_save(c);
}

/* One top-level key of the file: how to read it into parts (item is NULL
 * when the key is absent) and how to write it from the running state. */
struct state_section {
	const char *name;
	int (*load)(struct state_parts *p, const cJSON *item, struct why *w);
	cJSON *(*save)(const struct chat *c);
};

static const struct state_section sections[] = {
	{"rooms", load_rooms, save_rooms},
	{"bans", load_bans, save_bans},
	{"mutes", load_mutes, save_mutes},
	{"freezes", load_freezes, save_freezes},
	/* After "rooms": a room's word lists hang off its room. */
	{"bannedWords", load_words, save_words},
};

#define SECTION_COUNT (sizeof(sections) / sizeof(sections[0]))

cJSON *state_to_json(const struct chat *c)
{
	cJSON *root = cJSON_CreateObject();
	if (!root || !cJSON_AddNumberToObject(root, "version", STATE_VERSION)) goto nomem;
	for (size_t i = 0; i < SECTION_COUNT; i++) {
		cJSON *item = sections[i].save(c);
		if (!item) goto nomem;
		cJSON_AddItemToObject(root, sections[i].name, item);
	}
	return root;
nomem:
	cJSON_Delete(root);
	return NULL;
}

/* The file's text as a tree. The project's scanner checks it first, so a
 * string that decodes to hold U+0000 ("bob\u0000") is an error rather
 * than a shorter name: cJSON keeps C strings and would cut it there. */
static int parse_text(const char *buf, size_t len, cJSON **root, struct why *w)
{
	size_t off = 0, line = 1;
	int rc = json_check_cstrings(buf, len, &off);
	for (size_t i = 0; rc != CHAT_OK && i < off; i++) line += buf[i] == '\n';
	if (rc == CHAT_ERR_INVAL) return state_fail(w, "a string holds U+0000 (line %zu, byte %zu)", line, off);
	if (rc != CHAT_OK) return state_fail(w, "not valid JSON (near line %zu, byte %zu)", line, off);
	*root = cJSON_ParseWithLength(buf, len);
	return *root ? CHAT_OK : state_fail(w, "out of memory");
}

int state_load_sections(struct state_parts *p, const cJSON *root, struct why *w)
{
	int rc = CHAT_OK;
	for (size_t i = 0; rc == CHAT_OK && i < SECTION_COUNT; i++)
		rc = sections[i].load(p, cJSON_GetObjectItemCaseSensitive(root, sections[i].name), w);
	return rc;
}

int state_from_text(const char *buf, size_t len, struct state_parts *p, struct why *w)
{
	cJSON *root = NULL;
	int rc = parse_text(buf, len, &root, w);
	if (root && !cJSON_IsObject(root)) rc = state_fail(w, "not a JSON object");
	const cJSON *version = root ? cJSON_GetObjectItemCaseSensitive(root, "version") : NULL;
	if (rc == CHAT_OK && (!cJSON_IsNumber(version) || version->valuedouble != STATE_VERSION))
		rc = state_fail(w, "version: expected %d", STATE_VERSION);
	if (rc == CHAT_OK) rc = state_load_sections(p, root, w);
	cJSON_Delete(root);
	return rc;
}

void state_parts_init(struct state_parts *p, const struct chat *c)
{
	memset(p, 0, sizeof(*p));
	rooms_init(&p->rooms);
	p->rooms.ext_free = c->rooms.ext_free;
}

void state_parts_free(struct state_parts *p)
{
	rooms_clear(&p->rooms);
	sanctions_clear(&p->sanctions);
	moderation_global_free(p->words);
}

void state_parts_adopt(struct chat *c, struct state_parts *p)
{
	rooms_clear(&c->rooms);
	sanctions_clear(&c->sanctions);
	c->rooms = p->rooms;
	c->sanctions = p->sanctions;
	moderation_state_adopt(c, p->words);
	memset(p, 0, sizeof(*p));
}
