/* SPDX-License-Identifier: MIT */
/*
 * The chat message on the wire. Clients publish plain UTF-8 text or a JSON
 * object {"text","type","cid","data"}; subscribers receive the server's
 * envelope {"id","room","from","ts","type","text","cid","data","flagged"}.
 * This module checks the first and writes and reads the second, without
 * cJSON and without allocating beyond the caller's buffers.
 */
#ifndef CHAT_ENVELOPE_H
#define CHAT_ENVELOPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "json.h"
#include "strbuf.h"

#define ENVELOPE_TYPE_MAX 32
#define ENVELOPE_CID_MAX 64
#define ENVELOPE_REF_MAX 26      /* a message id (id.h ID_LEN) */
#define ENVELOPE_REACTION_MAX 32 /* bytes of a reaction ("👍", "ok") */

/* What a client's message does: post a new message, or change one that
 * was posted before (its id in chat_msg.ref). */
enum envelope_op { ENVELOPE_POST = 0, ENVELOPE_EDIT, ENVELOPE_DELETE, ENVELOPE_REACT };

struct envelope_limits {
	size_t max_payload; /* whole client payload, bytes */
	size_t max_data;    /* the raw "data" object, bytes */
};

/* A client's message after checking. Pointers refer to the payload or to
 * the decode scratch buffer given to envelope_parse_client(). */
struct chat_msg {
	const char *text;  /* decoded UTF-8, may be NULL when only data is given */
	size_t text_len;
	bool text_plain;   /* text is the payload's own bytes of a string without
			    * escapes: it needs none in an envelope either */
	char type[ENVELOPE_TYPE_MAX + 1]; /* "text" when absent */
	char cid[ENVELOPE_CID_MAX + 1];   /* "" when absent */
	size_t cid_len;                   /* strlen(cid) (after a parse that succeeded) */
	const char *data;  /* raw JSON object text from the payload, or NULL */
	size_t data_len;
	enum envelope_op op;                     /* "edit", "delete", "react": which, else POST */
	char ref[ENVELOPE_REF_MAX + 1];          /* the message edited, deleted or reacted to; "" for POST */
	char reply[ENVELOPE_REF_MAX + 1];        /* POST only: the message replied to, "" = none */
	char reaction[ENVELOPE_REACTION_MAX + 1]; /* REACT: the reaction, "" = take mine back */
};

/*
 * Checks a client payload and fills m. Plain text is any payload whose first
 * non-blank byte is not '{'; otherwise it must be a JSON object. scratch
 * (capacity cap >= len + 1) receives the decoded text. Returns 0, or:
 * CHAT_ERR_TOO_LARGE (payload or data over the limits), CHAT_ERR_UTF8,
 * CHAT_ERR_JSON (malformed, or a field of the wrong type or form),
 * CHAT_ERR_EMPTY (neither text nor data).
 *
 * Changes: "edit":"<id>" (with text or data, the new content),
 * "delete":"<id>" (nothing else needed) and "react":"<id>" with
 * "reaction":"<1-32 bytes, no blanks or controls>" or "" (take it back);
 * at most one of the three, and "reply":"<id>" only on a new message.
 * Each id must be well-formed (id.h); whether it exists is the caller's
 * question. A change in the wrong form is CHAT_ERR_JSON.
 */
int envelope_parse_client(const char *payload, size_t len, const struct envelope_limits *lim,
			  char *scratch, size_t cap, struct chat_msg *m);

/* The server's envelope as written. Strings are NUL-terminated. */
struct envelope {
	const char *id;
	const char *room;
	const char *from;
	int64_t ts;        /* unix ms */
	const char *type;
	const char *text;  /* may be NULL */
	size_t text_len;
	bool text_plain;   /* text needs no escapes (chat_msg.text_plain, when the
			    * text is the client's as it came): copied as it is */
	const char *cid;   /* NULL or "" = omitted */
	const char *data;  /* raw JSON or NULL */
	size_t data_len;
	bool flagged;
	/* Messenger fields; NULL / 0 / false = omitted. */
	const char *edit, *del, *react; /* the id this envelope edits, deletes or reacts to */
	const char *reaction;           /* with react: the reaction, "" = taken back */
	const char *reply;              /* the id replied to */
	const char *mentions;           /* raw JSON array of the user ids mentioned */
	size_t mentions_len;
	int64_t edited;                 /* history: when the text was last edited (unix ms) */
	bool deleted;                   /* history: a tombstone, without text or data */
	const char *reactions;          /* history: raw JSON object {"<reaction>":count} */
	size_t reactions_len;
	unsigned shard;    /* a live room's shard (live.c); 0 = omitted */
	/* The lengths of id, room, from and cid when the caller knows them
	 * (spares envelope_write a strlen each); 0 = measured with strlen. */
	size_t id_len, room_len, from_len, cid_len;
};

/* Appends the envelope JSON to sb (after strbuf_reset by the caller if
 * wanted). Returns strbuf_status(sb). */
int envelope_write(struct strbuf *sb, const struct envelope *e);

/* An envelope as read back from JSON (the bridge). Spans point into the
 * input; strings are still JSON-escaped spans (use json_string_decode). */
struct envelope_view {
	struct json_span id, room, from, type, text, cid, data;
	struct json_span edit, del, react, reaction, reply; /* has_* below say which are there */
	struct json_span mentions;                          /* an array */
	int64_t ts;
	bool flagged;
	bool has_text, has_cid, has_data;
	bool has_edit, has_del, has_react, has_reaction, has_reply, has_mentions;
	unsigned shard; /* 0 when absent or not a shard number */
};

/* Parses an envelope. Returns 0, or CHAT_ERR_JSON when it is not an object
 * with string id/room/from/type and integer ts. */
int envelope_read(const char *json, size_t len, struct envelope_view *v);

#endif
