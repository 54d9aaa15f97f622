/* SPDX-License-Identifier: MIT */
/*
 * Classifies MQTT topic names and subscription filters of the chat tree
 * (see topics.md) and validates user and room ids. The plugin calls this on
 * every ACL check, so it does not allocate; a name's bytes are looked at
 * once (each delivery), a filter's a few times (each SUBSCRIBE).
 */
#ifndef CHAT_TOPIC_H
#define CHAT_TOPIC_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#define TOPIC_ID_MAX 64
/* "dm:" + two user ids + ':' */
#define TOPIC_ROOM_MAX (3 + TOPIC_ID_MAX + 1 + TOPIC_ID_MAX)

enum topic_kind {
	TOPIC_OTHER,           /* outside chat/ and $CONTROL/chat/ */
	TOPIC_CHAT_INVALID,    /* under chat/ or $CONTROL/chat/ but not a known topic */
	TOPIC_ROOM_MESSAGES,   /* chat/rooms/{room}/messages */
	TOPIC_ROOM_EVENTS,     /* chat/rooms/{room}/events */
	TOPIC_ROOM_HISTORY,    /* chat/rooms/{room}/history */
	TOPIC_ROOM_READ,       /* chat/rooms/{room}/read */
	TOPIC_ROOM_ANY,        /* filter reaching several of the above of one room */
	TOPIC_USER_ROOMS,      /* chat/users/{user}/rooms */
	TOPIC_USER_DEVICES,    /* chat/users/{user}/devices */
	TOPIC_USER_PRIVATE,    /* chat/users/{user}/inbox and anything else below */
	TOPIC_USER_ANY,        /* filter reaching several of the above of one user */
	TOPIC_PRESENCE,        /* chat/presence/{user} (a filter: no id for several users) */
	TOPIC_CONTROL,         /* $CONTROL/chat/v1 */
	TOPIC_CONTROL_RESPONSE,/* $CONTROL/chat/v1/response */
	TOPIC_SYS_CHAT,        /* $SYS/broker/chat/... */
	TOPIC_CHAT_WILDCARD,   /* filter reaching more than one room, user tree or both */
	TOPIC_ROOM_TYPING,     /* chat/rooms/{room}/typing */
	TOPIC_USER_CHATS,      /* chat/users/{user}/chats: chat list requests */
	TOPIC_ROOM_LIVE,       /* chat/rooms/{room}/live and chat/rooms/{room}/live/{shard} (live.c) */
};

struct topic_ref {
	enum topic_kind kind;
	const char *id;   /* the room or user segment inside the topic, not NUL-terminated */
	size_t id_len;    /* 0 when the kind has no id */
	bool wildcard;    /* the string holds + or # (not a valid topic name) */
};

/*
 * Classifies a topic name (what a PUBLISH carries). Never fails: anything
 * unknown is TOPIC_OTHER or TOPIC_CHAT_INVALID, and ids are validated (an
 * invalid id gives TOPIC_CHAT_INVALID). '+' and '#' are ordinary characters
 * here, with wildcard set: a caller holding a string a client chose (a
 * Response Topic) refuses it that way. Filters go to topic_filter_parse().
 */
void topic_parse(const char *topic, struct topic_ref *out);

/*
 * Classifies a subscription filter (without any $share/ prefix) by the
 * topic names of the chat tree it can match, as topics.md's "Which
 * filters" says: TOPIC_CHAT_WILDCARD when they belong to more than one
 * room, user tree (chat/users/{user}/...) or both, or to presence and
 * either; else the kind they all have, with the room or user id (a room
 * or a user tree reached in several kinds gives TOPIC_ROOM_ANY or
 * TOPIC_USER_ANY; presence of several users gives TOPIC_PRESENCE, no id).
 * A filter reaching no chat topic is TOPIC_OTHER when it reaches names
 * outside chat/, TOPIC_CHAT_INVALID when it reaches only unused names under
 * chat/ (like chat/bogus/+) or is not a valid filter. Filters starting with
 * '$' are classified as topic_parse() does. Allocates nothing; ids point
 * into filter.
 */
void topic_filter_parse(const char *filter, struct topic_ref *out);

/*
 * The last topic classified, to answer the same topic again with one string
 * compare: the broker asks about one publish's topic in its write check, in
 * its MESSAGE event and in each subscriber's read check. The memo holds a
 * copy of the topic's text, never a pointer to the broker's, so a different
 * topic (or the same address reused for other text) is always parsed anew.
 * Zeroed memory is an empty memo.
 */
#define TOPIC_MEMO_MAX 160
struct topic_memo {
	bool valid;
	char text[TOPIC_MEMO_MAX]; /* the topic, NUL-terminated */
	struct topic_ref ref;      /* its classification, ref.id pointing into text */
	size_t id_off;             /* ref.id - topic, when ref.id != NULL */
};

/*
 * topic_parse(topic, out), through memo m: the same result, with ids
 * pointing into topic. Topics longer than the memo are parsed every time.
 * The memo's hit is inline (three times a message: the write check, the
 * MESSAGE event, each read check); topic_parse_remember() parses and
 * remembers.
 */
void topic_parse_remember(struct topic_memo *m, const char *topic, struct topic_ref *out);
static inline void topic_parse_memo(struct topic_memo *m, const char *topic, struct topic_ref *out)
{
	if (!m->valid || strcmp(m->text, topic) != 0) {
		topic_parse_remember(m, topic, out);
		return;
	}
	*out = m->ref;
	if (out->id) out->id = topic + m->id_off;
}

/* A user id: [A-Za-z0-9_.-]{1,64}. */
bool topic_user_valid(const char *s, size_t len);

/* A room id: [A-Za-z0-9_.-]{1,64}, or a valid DM room id. */
bool topic_room_valid(const char *s, size_t len);

/*
 * For a DM room id dm:{a}:{b} with valid users and a < b bytewise, stores
 * the two user ids' spans and returns true; false for anything else.
 */
bool topic_dm_users(const char *room, size_t len, const char **a, size_t *alen, const char **b,
		    size_t *blen);

/* A live room's shard number as a topic level: 1..TOPIC_SHARD_MAX in
 * decimal, no leading zero. Returns the number, or 0 when it is not one. */
#define TOPIC_SHARD_MAX 9999u
unsigned topic_shard_number(const char *s, size_t len);

/* True when the topic starts with "$share/". */
bool topic_is_shared(const char *topic);

#endif
