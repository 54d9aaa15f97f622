/* SPDX-License-Identifier: MIT */
/*
 * MOSQ_EVT_ACL_CHECK: who may subscribe to, publish on and receive each
 * topic of the chat tree. The broker asks on every SUBSCRIBE, on every
 * PUBLISH (write) and once per subscriber per delivered message (read), so
 * the read path is the hot one: it classifies the topic in one pass, looks
 * the room and the member up in two hash tables and returns, without
 * allocating. Rules are one table (kind -> who may do what), the same shape
 * as nginx's allow/deny lists; anything the table does not grant is denied.
 *
 * A filter is granted as the one room or user tree it can reach
 * (topic_filter_parse), so that a client's deliveries are never more than
 * one room's: a filter reaching several is for service users only, and one
 * reaching no chat topic (`+/+`) is an other topic.
 *
 * Topics outside chat/ and $CONTROL/chat/ follow plugin_opt_other_topics.
 */
#include <string.h>

#include "chat.h"
#include "live.h"
#include "sessions.h"
#include "topic.h"

/* Who a rule lets in; a request passes when any flag of the rule holds. */
enum {
	WHO_SELF = 1u << 1,    /* the user named in the topic */
	WHO_MEMBER = 1u << 2,  /* any role in the room, readers included */
	WHO_WRITER = 1u << 3,  /* member, admin or owner: not a reader */
	WHO_SERVICE = 1u << 4, /* plugin_opt_service_users */
	WHO_ADMIN = 1u << 5,   /* plugin_opt_admins */
	WHO_OTHER = 1u << 6,   /* as plugin_opt_other_topics says */
	WHO_PRESENCE = 1u << 7, /* as plugin_opt_presence says (presence.c) */
};

struct acl_rule {
	unsigned subscribe, write, read;
};

/* The topic table of topics.md. Writes by the plugin itself (events, rooms
 * lists, presence, inbox notices) do not pass here: the broker checks only
 * clients' publishes. */
static const struct acl_rule acl_rules[] = {
	[TOPIC_ROOM_MESSAGES] = {WHO_MEMBER | WHO_SERVICE, WHO_WRITER, WHO_MEMBER | WHO_SERVICE},
	[TOPIC_ROOM_EVENTS] = {WHO_MEMBER | WHO_SERVICE, 0, WHO_MEMBER | WHO_SERVICE},
	[TOPIC_ROOM_HISTORY] = {WHO_SERVICE, WHO_MEMBER, WHO_SERVICE},
	[TOPIC_ROOM_READ] = {WHO_SERVICE, WHO_MEMBER, WHO_SERVICE},
	[TOPIC_ROOM_TYPING] = {WHO_MEMBER, WHO_WRITER, WHO_MEMBER}, /* never service users: typing.c */
	[TOPIC_ROOM_ANY] = {WHO_MEMBER | WHO_SERVICE, 0, 0},
	[TOPIC_USER_ROOMS] = {WHO_SELF | WHO_SERVICE, 0, WHO_SELF | WHO_SERVICE},
	[TOPIC_USER_DEVICES] = {WHO_SERVICE, WHO_SELF, WHO_SERVICE},
	[TOPIC_USER_CHATS] = {WHO_SERVICE, WHO_SELF, WHO_SERVICE}, /* chats.c */
	[TOPIC_USER_PRIVATE] = {WHO_SELF, WHO_SERVICE, WHO_SELF},
	[TOPIC_USER_ANY] = {WHO_SELF | WHO_SERVICE, 0, 0},
	[TOPIC_PRESENCE] = {WHO_PRESENCE, 0, WHO_PRESENCE},
	[TOPIC_CONTROL] = {0, WHO_ADMIN, 0},
	[TOPIC_CONTROL_RESPONSE] = {WHO_ADMIN, 0, WHO_ADMIN},
	[TOPIC_SYS_CHAT] = {WHO_ADMIN | WHO_SERVICE | WHO_OTHER, 0, WHO_ADMIN | WHO_SERVICE | WHO_OTHER}, /* the bridge: live rooms' figures */
	[TOPIC_CHAT_WILDCARD] = {0, 0, 0}, /* service users: see service_filter() */
	[TOPIC_CHAT_INVALID] = {0, 0, 0},
	[TOPIC_ROOM_LIVE] = {WHO_MEMBER | WHO_SERVICE, 0, WHO_MEMBER | WHO_SERVICE}, /* live.c; see live_refused() */
};

/* A live room's messages reach its viewers in batches (live.c): only
 * service users (the bridge) read them one by one, and only live rooms
 * have batches. Not for the read check of ordinary rooms' messages: that
 * stays one room lookup. */
static bool live_refused(const struct chat *c, const struct mosquitto *client, const struct topic_ref *t)
{
	if (t->kind == TOPIC_ROOM_LIVE) return !chat_live_is(c, t->id, t->id_len);
	return t->kind == TOPIC_ROOM_MESSAGES && chat_live_is(c, t->id, t->id_len) && !chat_is_service(c, client);
}

/* Filters spanning rooms or users that service users (the bridge) may hold. */
static const char *const service_filters[] = {
	"chat/rooms/+/messages", "chat/rooms/+/events", "chat/rooms/+/history", "chat/rooms/+/read",
	"chat/users/+/rooms",    "chat/users/+/devices",  "chat/users/+/chats",
};

static bool service_filter(const char *filter)
{
	for (size_t i = 0; i < sizeof(service_filters) / sizeof(service_filters[0]); i++) {
		if (strcmp(filter, service_filters[i]) == 0) return true;
	}
	return false;
}

static int other_topics(const struct chat *c)
{
	switch (c->cfg.other_topics) {
	case OTHER_ALLOW: return MOSQ_ERR_SUCCESS;
	case OTHER_DENY: return MOSQ_ERR_ACL_DENIED;
	default: return MOSQ_ERR_PLUGIN_DEFER;
	}
}

/* True when a and b share a room that lets its members open DMs: any
 * common room whose own dmPolicy is not "nobody". Walks the smaller of the
 * two users' room lists. */
static bool share_dm_room(const struct chat *c, const char *a, size_t alen, const char *b, size_t blen)
{
	const struct user_entry *ua = rooms_of_user(&c->rooms, a, alen), *ub = rooms_of_user(&c->rooms, b, blen);
	if (!ua || !ub) return false;
	if (ub->room_count < ua->room_count) {
		const struct user_entry *t = ua;
		ua = ub;
		ub = t;
		b = a;
		blen = alen;
	}
	for (const struct user_room *ur = ua->rooms; ur; ur = ur->hh.next) {
		if (ur->room->policy.dm_policy == DM_NOBODY) continue;
		if (rooms_role(ur->room, b, blen) != ROLE_NONE) return true;
	}
	return false;
}

bool chat_dm_allowed(const struct chat *c, const char *user, size_t ulen, const char *peer, size_t plen)
{
	switch (c->cfg.dm_policy) {
	case DM_ANYONE: return true;
	case DM_SHARED: return share_dm_room(c, user, ulen, peer, plen);
	default: return false;
	}
}

/* The user's role in the topic's room. A DM room that does not exist yet
 * counts its two users as members, so that both may subscribe before the
 * first message creates it. */
static enum room_role room_role(struct chat *c, const struct topic_ref *t, const char *user, size_t ulen)
{
	const struct room *r = rooms_lookup(&c->rooms, t->id, t->id_len);
	if (r) return rooms_member_role(&c->rooms, r, user, ulen);
	const char *a, *b;
	size_t alen, blen;
	if (!topic_dm_users(t->id, t->id_len, &a, &alen, &b, &blen)) return ROLE_NONE;
	if ((alen == ulen && memcmp(a, user, ulen) == 0) || (blen == ulen && memcmp(b, user, ulen) == 0)) {
		return ROLE_MEMBER;
	}
	return ROLE_NONE;
}

static bool is_self(const struct topic_ref *t, const char *user, size_t ulen)
{
	return t->id_len == ulen && memcmp(t->id, user, ulen) == 0;
}

/* Evaluates a rule's flags for one client, cheapest and likeliest first:
 * on a delivery of a room message that is the membership lookup. */
static int grant(struct chat *c, const struct mosquitto *client, const struct topic_ref *t, unsigned who)
{
	const char *user = mosquitto_client_username(client);
	if (!user) return (who & WHO_OTHER) ? other_topics(c) : MOSQ_ERR_ACL_DENIED;
	size_t ulen = strlen(user);
	/* A wildcard presence filter names nobody: "" lets only the modes that
	 * show everyone's presence (or service users) subscribe to it. */
	if ((who & WHO_PRESENCE) && chat_presence_readable(c, client, t->id ? t->id : "", t->id_len)) {
		return MOSQ_ERR_SUCCESS;
	}
	if ((who & WHO_SELF) && is_self(t, user, ulen)) return MOSQ_ERR_SUCCESS;
	if (who & (WHO_MEMBER | WHO_WRITER)) {
		enum room_role role = room_role(c, t, user, ulen);
		if ((who & WHO_MEMBER) && role != ROLE_NONE) return MOSQ_ERR_SUCCESS;
		if ((who & WHO_WRITER) && role >= ROLE_MEMBER) return MOSQ_ERR_SUCCESS;
	}
	if ((who & WHO_SERVICE) && chat_is_service(c, client)) return MOSQ_ERR_SUCCESS;
	if ((who & WHO_ADMIN) && chat_is_admin(c, client)) return MOSQ_ERR_SUCCESS;
	if (who & WHO_OTHER) return other_topics(c);
	return MOSQ_ERR_ACL_DENIED;
}

/* Why a write to chat/rooms/{room}/messages was refused, for the notice. */
static enum chat_reject write_reason(const struct chat *c, const struct topic_ref *t, const char *user)
{
	const struct room *r = rooms_find(&c->rooms, t->id, t->id_len);
	const char *a, *b;
	size_t alen, blen;
	if (!r && topic_dm_users(t->id, t->id_len, &a, &alen, &b, &blen)) {
		size_t ulen = strlen(user);
		bool party = (alen == ulen && memcmp(a, user, ulen) == 0) || (blen == ulen && memcmp(b, user, ulen) == 0);
		return party ? REJECT_DM_NOT_ALLOWED : REJECT_NOT_MEMBER;
	}
	if (!r) return REJECT_NO_ROOM;
	return rooms_role(r, user, strlen(user)) == ROLE_READER ? REJECT_READ_ONLY : REJECT_NOT_MEMBER;
}

/* Best-effort "cid" of a refused payload, for the notice; "" when none. */
static void payload_cid(struct chat *c, const struct mosquitto_evt_acl_check *ed, char *cid)
{
	struct chat_msg m;
	cid[0] = '\0';
	if (!ed->payload || ed->payloadlen > c->cfg.limits.max_payload) return;
	if (envelope_parse_client(ed->payload, ed->payloadlen, &c->cfg.limits, c->scratch,
				  c->cfg.limits.max_payload + 1, &m) == 0) {
		memcpy(cid, m.cid, strlen(m.cid) + 1);
	}
}

/* The notice of a refused write (the payload's cid read back), out of
 * line: a write that passes does not set up its buffer. */
CHAT_OUT_OF_LINE static int refuse_write(struct chat *c, const struct mosquitto_evt_acl_check *ed,
					 const struct topic_ref *t, const char *user, enum chat_reject why)
{
	char cid[ENVELOPE_CID_MAX + 1];
	payload_cid(c, ed, cid);
	chat_refuse_notice(c, user, why, t->id, t->id_len, cid, 0);
	return MOSQ_ERR_ACL_DENIED;
}

/* A write to a room's messages: the table's answer, plus the DM rule (a
 * room that does not exist yet may be written by its two users when the
 * policy allows; message.c creates it once the message is accepted) and a
 * notice to the sender when refused. */
static int write_messages(struct chat *c, const struct mosquitto_evt_acl_check *ed, const struct topic_ref *t)
{
	const char *user = mosquitto_client_username(ed->client);
	if (!user) return MOSQ_ERR_ACL_DENIED;
	enum chat_reject why = REJECT_RETAINED;
	if (!ed->retain) {
		/* grant(WHO_WRITER) spelled out, to look the room up once. */
		size_t ulen = strlen(user);
		const struct room *r = rooms_lookup(&c->rooms, t->id, t->id_len);
		const char *a, *b;
		size_t alen, blen;
		if (r) {
			if (rooms_member_role(&c->rooms, r, user, ulen) >= ROLE_MEMBER) return MOSQ_ERR_SUCCESS;
		} else if (topic_dm_users(t->id, t->id_len, &a, &alen, &b, &blen)) {
			bool is_a = alen == ulen && memcmp(a, user, ulen) == 0;
			bool is_b = blen == ulen && memcmp(b, user, ulen) == 0;
			if (is_a && chat_dm_allowed(c, user, ulen, b, blen)) return MOSQ_ERR_SUCCESS;
			if (is_b && chat_dm_allowed(c, user, ulen, a, alen)) return MOSQ_ERR_SUCCESS;
		}
		why = write_reason(c, t, user);
	}
	return refuse_write(c, ed, t, user, why);
}

/* Strips "$share/{group}/" and returns the filter behind it, or NULL. */
static const char *share_filter(const char *topic)
{
	const char *slash = strchr(topic + 7, '/');
	return slash ? slash + 1 : NULL;
}

static int check_subscribe(struct chat *c, const struct mosquitto_evt_acl_check *ed)
{
	const char *filter = ed->topic;
	bool shared = topic_is_shared(filter);
	if (shared) filter = share_filter(filter);
	if (!filter) return MOSQ_ERR_ACL_DENIED;
	struct topic_ref t;
	topic_filter_parse(filter, &t);
	if (t.kind == TOPIC_OTHER) return other_topics(c);
	bool service = chat_is_service(c, ed->client);
	/* Shared subscriptions on chat topics are the bridge's way to scale. */
	if (shared && !service) return MOSQ_ERR_ACL_DENIED;
	if (t.kind == TOPIC_CHAT_WILDCARD) {
		if (!service || !service_filter(filter)) return MOSQ_ERR_ACL_DENIED;
		chat_storers_subscribed(c, ed->client, filter);
		return MOSQ_ERR_SUCCESS;
	}
	if (live_refused(c, ed->client, &t)) return MOSQ_ERR_ACL_DENIED;
	int rc = grant(c, ed->client, &t, acl_rules[t.kind].subscribe);
	if (rc == MOSQ_ERR_SUCCESS && t.kind == TOPIC_ROOM_LIVE) chat_live_subscribed(c, ed->client, filter);
	return rc;
}

/*
 * True when this write check is for the client's will rather than a
 * publish. Mosquitto 2.0 checks a will when it sends it and then queues it
 * without MOSQ_EVT_MESSAGE: a will on a chat topic would skip the envelope
 * (a forged "from") and the requester stamp. It sends a will after the
 * client's DISCONNECT (at once, or later: a v5 will delay, the end of the
 * session), or during the CONNECT of a new connection that takes over the
 * client id, just before the old connection's DISCONNECT. The session
 * table, kept in every auth mode (sessions.h), tells these from a publish:
 * a publish comes from a client whose login the plugin saw, whose
 * DISCONNECT has not come, and which no login in progress takes over. A
 * client without a username has no session: the rules refuse it the chat
 * tree anyway.
 */
static bool is_will(const struct chat *c, const struct mosquitto *client)
{
	return !chat_session_of(c, client) || sessions_taken_over(c->sessions, client);
}

static int check_write(struct chat *c, const struct mosquitto_evt_acl_check *ed)
{
	struct topic_ref t;
	/* The MESSAGE event and the read checks of this publish find it memoized. */
	topic_parse_memo(&c->topics, ed->topic, &t);
	if (t.kind == TOPIC_OTHER) return other_topics(c);
	if (is_will(c, ed->client)) return MOSQ_ERR_ACL_DENIED; /* wills never reach the chat tree */
	if (t.kind == TOPIC_ROOM_MESSAGES) return write_messages(c, ed, &t);
	if (ed->retain) return MOSQ_ERR_ACL_DENIED; /* only the plugin retains chat topics */
	return grant(c, ed->client, &t, acl_rules[t.kind].write);
}

/* The hot path: once per subscriber per message. */
static int check_read(struct chat *c, const struct mosquitto_evt_acl_check *ed)
{
	struct topic_ref t;
	topic_parse_memo(&c->topics, ed->topic, &t);
	if (t.kind == TOPIC_OTHER) return other_topics(c);
	if (chat_live_active(c) && live_refused(c, ed->client, &t)) return MOSQ_ERR_ACL_DENIED;
	return grant(c, ed->client, &t, acl_rules[t.kind].read);
}

static int check_unsubscribe(struct chat *c, const struct mosquitto_evt_acl_check *ed)
{
	const char *filter = topic_is_shared(ed->topic) ? share_filter(ed->topic) : ed->topic;
	struct topic_ref t;
	if (!filter) return MOSQ_ERR_SUCCESS;
	chat_storers_unsubscribed(c, ed->client, filter);
	chat_live_unsubscribed(c, ed->client, filter);
	topic_filter_parse(filter, &t);
	/* Leaving a chat topic is always allowed; others follow the policy. */
	return t.kind == TOPIC_OTHER ? other_topics(c) : MOSQ_ERR_SUCCESS;
}

int chat_on_acl_check(int event, void *event_data, void *userdata)
{
	struct chat *c = userdata;
	const struct mosquitto_evt_acl_check *ed = event_data;
	int rc;
	(void)event;
	if (chat_peer_acl(c, ed, &rc)) return rc; /* peer.c: scale-out peers and storers */
	switch (ed->access) {
	case MOSQ_ACL_READ:
		rc = check_read(c, ed);
		if (rc == MOSQ_ERR_ACL_DENIED) c->stats.denied_read++;
		return rc;
	case MOSQ_ACL_WRITE:
		rc = check_write(c, ed);
		if (rc == MOSQ_ERR_ACL_DENIED) c->stats.denied_publish++;
		return rc;
	case MOSQ_ACL_SUBSCRIBE:
		rc = check_subscribe(c, ed);
		if (rc == MOSQ_ERR_ACL_DENIED) c->stats.denied_subscribe++;
		return rc;
	case MOSQ_ACL_UNSUBSCRIBE:
		return check_unsubscribe(c, ed);
	default:
		return MOSQ_ERR_ACL_DENIED;
	}
}
