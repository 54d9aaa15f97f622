/* SPDX-License-Identifier: MIT */
/*
 * The state behind messenger.h, shared by messenger.c, edit.c and typing.c
 * only.
 */
#ifndef CHAT_PLUGIN_MESSENGER_INT_H
#define CHAT_PLUGIN_MESSENGER_INT_H

#include <uthash.h>

#include "id.h"
#include "messenger.h"
#include "topic.h"

/* A message the plugin stamped, remembered for edit checks (edit.c). */
struct recent_msg {
	char id[ID_LEN + 1];
	char room[TOPIC_ROOM_MAX + 1];
	char from[TOPIC_ID_MAX + 1];
	uint64_t t; /* the id's time */
	bool deleted;
};

/* A user typing in a room (typing.c). */
struct typing_entry {
	char key[TOPIC_ID_MAX + 1 + TOPIC_ROOM_MAX + 1]; /* "user/room" */
	size_t user_len;
	const struct mosquitto *client; /* the session that said so last */
	uint64_t last_ms;               /* the last "typing" forwarded */
	UT_hash_handle hh;              /* by key */
};

/* The newest read marker the plugin saw of a member of a room with read
 * receipts (receipts.c). */
struct receipt {
	char key[TOPIC_ROOM_MAX + 1 + TOPIC_ID_MAX + 1]; /* "room/user" */
	size_t room_len;
	char upto[ID_LEN + 1];
	bool pending;                 /* moved since the room's last event */
	uint64_t at_ms;               /* when it last moved */
	struct receipt *next_pending;
	UT_hash_handle hh;
};

struct messenger {
	/* The record: recent_count slots from slot recent_head of the oldest
	 * block on, in blocks of RECENT_BLOCK slots taken as it grows (edit.c).
	 * blocks is a ring of block_cap pointers (a power of two), the oldest
	 * block at block_head. Ids come from one generator in string order, so
	 * the record is sorted by id as well as by time (edit.c searches it by
	 * halves). */
	struct recent_msg **blocks;
	size_t block_cap, block_head, block_count;
	struct recent_msg *spare; /* a block emptied by eviction, kept for the next one */
	size_t recent_head, recent_count;
	uint64_t horizon_ms; /* the record holds every message stamped since */
	struct typing_entry *typing;
	uint64_t typing_swept_ms;
	struct strbuf mentions; /* mentions.c's list, reused */
	struct receipt *receipts;
	struct receipt *pending; /* receipts to announce, newest first */
	uint64_t receipts_flushed_ms;
	uint64_t receipts_swept_ms;
};

/* edit.c: frees the record. */
void chat_recent_free(struct messenger *m);
/* receipts.c: frees the markers. */
void chat_receipts_free(struct messenger *m);
/* typing.c: frees the typing table. */
void chat_typing_free(struct messenger *m);

#endif
