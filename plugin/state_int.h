/* SPDX-License-Identifier: MIT */
/*
 * What state.c (the file: when and how it is written and read) and
 * state_json.c (its JSON: each top-level key read into a state_parts, or
 * written from the running state) share; nothing else includes this.
 */
#ifndef CHAT_PLUGIN_STATE_INT_H
#define CHAT_PLUGIN_STATE_INT_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "chat.h"

/* Everything a state file holds, loaded aside before it replaces the
 * running state. (Word lists: add their tables here.) */
struct state_parts {
	struct rooms rooms;
	struct sanctions sanctions;
	struct moderation_global *words; /* moderation.h: the live global word lists */
};

/* Why a file was refused, with the JSON path of the bad value. */
struct why {
	char text[256];
};

/* Fills w from fmt and returns CHAT_ERR_INVAL. */
int state_fail(struct why *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A fresh, empty set of parts (rooms freed the way c's are); free is
 * NULL-safe on what init made; adopt replaces c's running state with p,
 * which is left empty. */
void state_parts_init(struct state_parts *p, const struct chat *c);
void state_parts_free(struct state_parts *p);
void state_parts_adopt(struct chat *c, struct state_parts *p);

/* The file's text (buf[len] must be '\0') into p: checked as JSON, the
 * version, then every section. Returns CHAT_OK or an error with w filled
 * in (the JSON path of the bad value). */
int state_from_text(const char *buf, size_t len, struct state_parts *p, struct why *w);
/* The sections of an already parsed document (a peer's state) into p. */
int state_load_sections(struct state_parts *p, const cJSON *root, struct why *w);
/* The running state as the file's document; NULL on out of memory. The
 * caller owns it. */
cJSON *state_to_json(const struct chat *c);

#endif
