/* SPDX-License-Identifier: MIT */
/*
 * Inside the admin API ($CONTROL/chat/v1): one request per command, the
 * field readers every handler uses, and the handlers of each command
 * family. control.c parses the request, checks field names against the
 * command's row, runs the handler, and writes the response and the audit
 * line; a handler only validates its fields, mutates, and fills data.
 *
 * A handler validates everything before it changes anything, so a command
 * that fails changes nothing.
 */
#ifndef CHAT_PLUGIN_CONTROL_H
#define CHAT_PLUGIN_CONTROL_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "chat.h"

struct control_req {
	struct chat *c;
	const char *client_id; /* the admin's client */
	const char *user;      /* the admin's user id */
	const cJSON *cmd;      /* the command object; no string in it holds U+0000 (control.c) */
	cJSON *data;           /* reply data, NULL for none; owned here until the reply takes it */
	char error[200];       /* empty on success */
	struct strbuf audit;   /* " key=value" pairs for the audit line */
};

/* One command: its name, the fields it accepts besides "command" and
 * "correlationData" (NULL-terminated), and its handler. */
struct control_command {
	const char *name;
	const char *const *fields;
	void (*run)(struct control_req *r);
};

/* Sets the error (printf-style) and returns false, so a check reads
 * `if (!x) return ctl_fail(r, ...)`. */
bool ctl_fail(struct control_req *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Field readers: each stores the value, or leaves *out untouched when the
 * field is absent and not required. They return false (with the error
 * set) when a required field is missing or a field has the wrong type or
 * an invalid value.
 */
bool ctl_room_id(struct control_req *r, const char *key, bool required, const char **out);
bool ctl_user_id(struct control_req *r, const char *key, bool required, const char **out);
/* A UTF-8 string of at most max bytes. */
bool ctl_text(struct control_req *r, const char *key, bool required, size_t max, const char **out);
/* An integer in [min, max]. */
bool ctl_uint(struct control_req *r, const char *key, bool required, uint64_t min, uint64_t max, uint64_t *out);
/* A finite number in [min, max]. */
bool ctl_number(struct control_req *r, const char *key, double min, double max, double *out);
/* A string that parse() maps to a value >= min (a role, an action...). */
bool ctl_enum(struct control_req *r, const char *key, bool required, int (*parse)(const char *), int min,
	      int *out);
/* True when the command carries this field. */
bool ctl_has(const struct control_req *r, const char *key);

/* Sanctions last "seconds": at most ten years, 0 (or absent) until lifted.
 * ctl_until gives the end in unix ms, 0 for 0. */
#define CTL_MAX_SECONDS (10ull * 365 * 24 * 3600)
uint64_t ctl_until(uint64_t seconds);

/* The existing room, or NULL with the error set. */
struct room *ctl_find_room(struct control_req *r, const char *id);

/* s itself when it is short printable ASCII, else a placeholder: for
 * client-supplied text quoted in errors and the log (no forged log lines,
 * no broken UTF-8). */
const char *ctl_shown(const char *s);

/* Adds " key=value" to the audit line (value quoted when it needs it). */
void ctl_audit(struct control_req *r, const char *key, const char *value);
void ctl_audit_u64(struct control_req *r, const char *key, uint64_t value);

/* control_rooms.c */
/* An event on a room's events topic: begin writes {"type":type,"room":room
 * into sb (initialised here); the caller appends ,"key":value members; end
 * closes it, publishes it and frees sb. */
void ctl_event_begin(struct strbuf *sb, const char *type, const char *room);
void ctl_event_end(struct chat *c, const char *room, struct strbuf *sb);
void control_create_room(struct control_req *r);
void control_delete_room(struct control_req *r);
void control_get_room(struct control_req *r);
void control_list_rooms(struct control_req *r);
void control_add_room_member(struct control_req *r);
void control_remove_room_member(struct control_req *r);
void control_set_room_member_role(struct control_req *r);
void control_set_room_policy(struct control_req *r);

/* control_users.c */
void control_mute_user(struct control_req *r);
void control_unmute_user(struct control_req *r);
void control_ban_user(struct control_req *r);
void control_unban_user(struct control_req *r);
void control_kick_user(struct control_req *r);

/* control_freeze.c */
void control_freeze_room(struct control_req *r);
void control_unfreeze_room(struct control_req *r);
void control_get_stats(struct control_req *r);

/* control_words.c */
void control_add_banned_words(struct control_req *r);
void control_remove_banned_words(struct control_req *r);
void control_list_banned_words(struct control_req *r);

#endif
