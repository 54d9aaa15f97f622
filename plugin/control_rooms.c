/* SPDX-License-Identifier: MIT */
/*
 * Admin commands on rooms and their members (createRoom ... setRoomPolicy).
 * Each handler reads and checks all its fields first, then changes the
 * room model, then tells the world: every membership change republishes
 * the user's retained rooms list and publishes an event on the room's
 * events topic (payloads in topics.md), and marks the state dirty.
 */
#include <stdlib.h>
#include <string.h>

#include "chat_err.h"
#include "control.h"

#define TITLE_MAX 200
#define FLOOD_MAX 1000000.0

void ctl_event_begin(struct strbuf *sb, const char *type, const char *room)
{
	strbuf_init(sb);
	strbuf_puts(sb, "{\"type\":\"");
	strbuf_puts(sb, type);
	strbuf_puts(sb, "\",\"room\":");
	strbuf_append_json_string(sb, room, strlen(room));
}

void ctl_event_end(struct chat *c, const char *room, struct strbuf *sb)
{
	strbuf_putc(sb, '}');
	if (strbuf_status(sb) == CHAT_OK) chat_publish_event(c, room, sb->buf, sb->len);
	strbuf_free(sb);
}

/* {"type":type,"room":room,"user":user,"role":role,"ts":ms} on the room's
 * events topic; user and role may be NULL. */
static void room_event(struct chat *c, const char *type, const char *room, const char *user, const char *role)
{
	struct strbuf sb;
	ctl_event_begin(&sb, type, room);
	if (user) {
		strbuf_puts(&sb, ",\"user\":");
		strbuf_append_json_string(&sb, user, strlen(user));
	}
	if (role) {
		strbuf_puts(&sb, ",\"role\":\"");
		strbuf_puts(&sb, role);
		strbuf_putc(&sb, '"');
	}
	strbuf_puts(&sb, ",\"ts\":");
	strbuf_append_u64(&sb, chat_now_ms());
	ctl_event_end(c, room, &sb);
}

/* After a change of user's membership in room: event, rooms list, state. */
static void membership_changed(struct control_req *r, const char *type, const char *room, const char *user,
			       enum room_role role)
{
	room_event(r->c, type, room, user, role == ROLE_NONE ? NULL : rooms_role_name(role));
	chat_publish_rooms_list(r->c, user);
	chat_state_dirty(r->c);
}

static bool fail_rc(struct control_req *r, int rc)
{
	return ctl_fail(r, "%s", chat_strerror(rc));
}

void control_create_room(struct control_req *r)
{
	const char *id = NULL, *title = NULL;
	if (!ctl_room_id(r, "room", true, &id) || !ctl_text(r, "title", false, TITLE_MAX, &title)) return;
	ctl_audit(r, "room", id);
	if (title) ctl_audit(r, "title", title);
	int rc = rooms_create(&r->c->rooms, id, title, NULL);
	if (rc == CHAT_ERR_EXISTS) ctl_fail(r, "room already exists");
	else if (rc != CHAT_OK) fail_rc(r, rc);
	else chat_state_dirty(r->c);
}

/* Copies the member ids of room (before it goes away). */
static char **member_ids(const struct room *room, size_t *n)
{
	char **ids = calloc((size_t)room->member_count + 1, sizeof(*ids));
	size_t i = 0;
	for (const struct room_member *m = room->members; ids && m; m = m->hh.next) {
		ids[i] = strdup(m->user);
		if (ids[i]) i++;
	}
	*n = i;
	return ids;
}

void control_delete_room(struct control_req *r)
{
	const char *id = NULL;
	size_t n = 0;
	if (!ctl_room_id(r, "room", true, &id)) return;
	ctl_audit(r, "room", id);
	struct room *room = ctl_find_room(r, id);
	if (!room) return;
	char **members = member_ids(room, &n);
	if (!members) {
		fail_rc(r, CHAT_ERR_NOMEM);
		return;
	}
	/* The broker delivers plugin publishes later, after the room is gone,
	 * so its read check lets this through to service users only; members
	 * learn it from their rooms lists. */
	room_event(r->c, "room_deleted", id, NULL, NULL);
	rooms_delete(&r->c->rooms, id);
	/* A room created later under the same id starts with no mutes. */
	sanctions_forget_room(&r->c->sanctions, id);
	for (size_t i = 0; i < n; i++) {
		chat_publish_rooms_list(r->c, members[i]);
		free(members[i]);
	}
	free(members);
	ctl_audit_u64(r, "members", n);
	chat_state_dirty(r->c);
}

static cJSON *policy_json(const struct room_policy *p)
{
	cJSON *o = cJSON_CreateObject();
	if (!o) return NULL;
	if (p->words_action != WORDS_INHERIT)
		cJSON_AddStringToObject(o, "bannedWordsAction", rooms_words_action_name(p->words_action));
	if (p->flood_rate > 0) cJSON_AddNumberToObject(o, "floodRate", p->flood_rate);
	if (p->flood_burst > 0) cJSON_AddNumberToObject(o, "floodBurst", p->flood_burst);
	if (p->dm_policy != DM_INHERIT) cJSON_AddStringToObject(o, "dmPolicy", rooms_dm_policy_name(p->dm_policy));
	if (p->slow_mode_s) cJSON_AddNumberToObject(o, "slowMode", p->slow_mode_s);
	if (p->read_receipts != RECEIPTS_AUTO)
		cJSON_AddStringToObject(o, "readReceipts", chat_receipts_name((int)p->read_receipts));
	return o;
}

static cJSON *members_json(const struct room *room)
{
	cJSON *list = cJSON_CreateArray();
	for (const struct room_member *m = room->members; list && m; m = m->hh.next) {
		cJSON *o = cJSON_CreateObject();
		if (!o) {
			cJSON_Delete(list);
			return NULL;
		}
		cJSON_AddStringToObject(o, "user", m->user);
		cJSON_AddStringToObject(o, "role", rooms_role_name(m->role));
		cJSON_AddItemToArray(list, o);
	}
	return list;
}

void control_get_room(struct control_req *r)
{
	const char *id = NULL;
	if (!ctl_room_id(r, "room", true, &id)) return;
	ctl_audit(r, "room", id);
	const struct room *room = ctl_find_room(r, id);
	if (!room) return;
	cJSON *data = cJSON_CreateObject(), *members = members_json(room), *policy = policy_json(&room->policy);
	if (!data || !members || !policy) {
		cJSON_Delete(data);
		cJSON_Delete(members);
		cJSON_Delete(policy);
		fail_rc(r, CHAT_ERR_NOMEM);
		return;
	}
	cJSON_AddStringToObject(data, "room", room->id);
	if (room->title) cJSON_AddStringToObject(data, "title", room->title);
	else cJSON_AddNullToObject(data, "title");
	cJSON_AddItemToObject(data, "members", members);
	cJSON_AddItemToObject(data, "policy", policy);
	uint64_t until = 0;
	if (chat_room_frozen(r->c, room->id, chat_now_ms(), &until)) {
		cJSON *frozen = cJSON_AddObjectToObject(data, "frozen");
		if (frozen) cJSON_AddNumberToObject(frozen, "until", (double)until);
	}
	r->data = data;
}

static int cmp_room_id(const void *a, const void *b)
{
	return strcmp((*(const struct room *const *)a)->id, (*(const struct room *const *)b)->id);
}

/* The rooms sorted by id, so pages are stable between calls. */
static const struct room **sorted_rooms(const struct rooms *rs)
{
	const struct room **v = calloc((size_t)rs->count + 1, sizeof(*v));
	size_t i = 0;
	for (const struct room *room = rs->by_id; v && room; room = room->hh.next) v[i++] = room;
	if (v && i > 1) qsort(v, i, sizeof(*v), cmp_room_id);
	return v;
}

void control_list_rooms(struct control_req *r)
{
	uint64_t count = UINT32_MAX, offset = 0;
	if (!ctl_uint(r, "count", false, 0, UINT32_MAX, &count) || !ctl_uint(r, "offset", false, 0, UINT32_MAX, &offset))
		return;
	const struct room **v = sorted_rooms(&r->c->rooms);
	cJSON *data = cJSON_CreateObject(), *ids = cJSON_CreateArray();
	if (!v || !data || !ids) goto nomem;
	for (uint64_t i = offset; i < r->c->rooms.count && i - offset < count; i++) {
		cJSON *s = cJSON_CreateString(v[i]->id);
		if (!s) goto nomem;
		cJSON_AddItemToArray(ids, s);
	}
	cJSON_AddItemToObject(data, "rooms", ids);
	cJSON_AddNumberToObject(data, "totalCount", r->c->rooms.count);
	r->data = data;
	free(v);
	return;
nomem:
	free(v);
	cJSON_Delete(data);
	cJSON_Delete(ids);
	fail_rc(r, CHAT_ERR_NOMEM);
}

/* Reads room and user, finds the room; true when both are good. */
static bool room_and_user(struct control_req *r, struct room **room, const char **user)
{
	const char *id = NULL;
	if (!ctl_room_id(r, "room", true, &id) || !ctl_user_id(r, "user", true, user)) return false;
	ctl_audit(r, "room", id);
	ctl_audit(r, "user", *user);
	*room = ctl_find_room(r, id);
	return *room != NULL;
}

/* Only the two users named in a DM room's id may ever be its members. */
static bool dm_member_allowed(const struct room *room, const char *user)
{
	const char *a, *b;
	size_t alen, blen, ulen = strlen(user);
	if (!topic_dm_users(room->id, strlen(room->id), &a, &alen, &b, &blen)) return true;
	return (ulen == alen && memcmp(user, a, alen) == 0) || (ulen == blen && memcmp(user, b, blen) == 0);
}

void control_add_room_member(struct control_req *r)
{
	struct room *room;
	const char *user;
	int role = ROLE_MEMBER;
	if (!room_and_user(r, &room, &user)) return;
	if (!ctl_enum(r, "role", false, rooms_role_parse, ROLE_READER, &role)) return;
	ctl_audit(r, "role", rooms_role_name((enum room_role)role));
	if (rooms_role(room, user, strlen(user)) != ROLE_NONE) {
		ctl_fail(r, "user is already a member (use setRoomMemberRole)");
		return;
	}
	if (!dm_member_allowed(room, user)) {
		ctl_fail(r, "user: only the two users named in a DM room may join it");
		return;
	}
	int rc = rooms_set_member(&r->c->rooms, room, user, (enum room_role)role);
	if (rc != CHAT_OK) {
		fail_rc(r, rc);
		return;
	}
	membership_changed(r, "member_added", room->id, user, (enum room_role)role);
}

void control_remove_room_member(struct control_req *r)
{
	struct room *room;
	const char *user;
	if (!room_and_user(r, &room, &user)) return;
	if (rooms_role(room, user, strlen(user)) == ROLE_NONE) {
		ctl_fail(r, "user is not a member");
		return;
	}
	/* Delivered after the removal: the other members (and service users)
	 * see it, the removed user sees their rooms list change. */
	room_event(r->c, "member_removed", room->id, user, NULL);
	rooms_remove_member(&r->c->rooms, room, user);
	chat_publish_rooms_list(r->c, user);
	chat_state_dirty(r->c);
}

void control_set_room_member_role(struct control_req *r)
{
	struct room *room;
	const char *user;
	int role = ROLE_NONE;
	if (!room_and_user(r, &room, &user)) return;
	if (!ctl_enum(r, "role", true, rooms_role_parse, ROLE_READER, &role)) return;
	ctl_audit(r, "role", rooms_role_name((enum room_role)role));
	if (rooms_role(room, user, strlen(user)) == ROLE_NONE) {
		ctl_fail(r, "user is not a member (use addRoomMember)");
		return;
	}
	int rc = rooms_set_member(&r->c->rooms, room, user, (enum room_role)role);
	if (rc != CHAT_OK) {
		fail_rc(r, rc);
		return;
	}
	membership_changed(r, "member_role_changed", room->id, user, (enum room_role)role);
}

/* Reads every policy field into p (a copy of the room's); false on the
 * first bad one. */
static bool read_policy(struct control_req *r, struct room_policy *p)
{
	int action = (int)p->words_action, dm = (int)p->dm_policy, receipts = (int)p->read_receipts;
	uint64_t slow = p->slow_mode_s;
	if (!ctl_enum(r, "bannedWordsAction", false, rooms_words_action_parse, WORDS_MASK, &action) ||
	    !ctl_enum(r, "readReceipts", false, chat_receipts_parse, RECEIPTS_AUTO, &receipts) ||
	    !ctl_enum(r, "dmPolicy", false, rooms_dm_policy_parse, DM_ANYONE, &dm) ||
	    !ctl_number(r, "floodRate", 0.001, FLOOD_MAX, &p->flood_rate) ||
	    !ctl_number(r, "floodBurst", 1, FLOOD_MAX, &p->flood_burst) ||
	    !ctl_uint(r, "slowMode", false, 0, SLOWMODE_MAX_S, &slow))
		return false;
	p->words_action = (enum words_action)action;
	p->dm_policy = (enum dm_policy)dm;
	p->slow_mode_s = (unsigned)slow;
	p->read_receipts = (enum read_receipts)receipts;
	return true;
}

static void audit_policy(struct control_req *r, const struct room_policy *p)
{
	char num[32];
	if (ctl_has(r, "bannedWordsAction")) ctl_audit(r, "bannedWordsAction", rooms_words_action_name(p->words_action));
	if (ctl_has(r, "dmPolicy")) ctl_audit(r, "dmPolicy", rooms_dm_policy_name(p->dm_policy));
	if (ctl_has(r, "readReceipts")) ctl_audit(r, "readReceipts", chat_receipts_name((int)p->read_receipts));
	if (ctl_has(r, "floodRate")) {
		snprintf(num, sizeof(num), "%g", p->flood_rate);
		ctl_audit(r, "floodRate", num);
	}
	if (ctl_has(r, "floodBurst")) {
		snprintf(num, sizeof(num), "%g", p->flood_burst);
		ctl_audit(r, "floodBurst", num);
	}
	if (ctl_has(r, "slowMode")) ctl_audit_u64(r, "slowMode", p->slow_mode_s);
}

/* {"type":"slow_mode","room":room,"seconds":n} on the room's events topic,
 * so open clients can show the wait (0: slow mode is off). */
static void slow_mode_event(struct chat *c, const char *room, unsigned seconds)
{
	struct strbuf sb;
	ctl_event_begin(&sb, "slow_mode", room);
	strbuf_puts(&sb, ",\"seconds\":");
	strbuf_append_u64(&sb, seconds);
	ctl_event_end(c, room, &sb);
}

void control_set_room_policy(struct control_req *r)
{
	const char *id = NULL;
	static const char *const keys[] = {"bannedWordsAction", "floodRate", "floodBurst", "dmPolicy", "slowMode",
					   "readReceipts"};
	bool any = false;
	if (!ctl_room_id(r, "room", true, &id)) return;
	ctl_audit(r, "room", id);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) any = any || ctl_has(r, keys[i]);
	if (!any) {
		ctl_fail(r, "no policy field given (bannedWordsAction, floodRate, floodBurst, dmPolicy, slowMode, "
			    "readReceipts)");
		return;
	}
	struct room *room = ctl_find_room(r, id);
	if (!room) return;
	struct room_policy p = room->policy;
	if (!read_policy(r, &p)) return;
	room->policy = p;
	audit_policy(r, &p);
	chat_state_dirty(r->c);
	if (ctl_has(r, "slowMode")) slow_mode_event(r->c, room->id, p.slow_mode_s);
}
