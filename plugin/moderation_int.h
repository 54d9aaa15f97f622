/* SPDX-License-Identifier: MIT */
/*
 * What the three moderation files share, and nothing else includes:
 * moderation.c (filters and the message path), moderation_words.c (the
 * word sets and their edits) and moderation_state.c (the state file's
 * "bannedWords").
 */
#ifndef CHAT_PLUGIN_MODERATION_INT_H
#define CHAT_PLUGIN_MODERATION_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "chat.h"
#include "wordfilter.h"

/* Longest entry accepted from the admin API or the state file, in bytes. */
#define WORD_MAX_BYTES 256

/* A sorted set of owned strings (bsearch to find, memmove to insert). */
struct word_set {
	char **w;
	size_t n, cap;
};

/* A room's own lists, in room->ext. */
struct room_words {
	struct word_set banned, allowed;
	struct wordfilter *wf; /* banned + every allowlist; NULL when banned is empty */
	unsigned built_gen;    /* moderation.allow_gen when wf was built */
	bool stale;
};

/* The global lists edited live (the state file's part). */
struct moderation_global {
	struct word_set banned, allowed;
};

struct moderation {
	struct word_set file_banned, file_allowed; /* from plugin_opt_*_words_file */
	struct moderation_global live;
	struct wordfilter *global; /* NULL when no banned word at all */
	struct wordfilter *printer; /* no words: fingerprints texts while global is NULL */
	bool stale;                /* global needs a rebuild */
	unsigned allow_gen;        /* bumped when a global allowlist changes: room filters follow */
	char *mask_a, *mask_b;     /* masking buffers */
	char *data_dec;            /* one string value of data, decoded */
	size_t mask_cap;           /* of each of the three: max_payload + 1 */
	struct strbuf data_out;    /* data with its masked values */
};

/* moderation_words.c. word_set_add: 1 when added, 0 when already there,
 * CHAT_ERR_NOMEM. word_set_free empties s (its strings freed). */
int word_set_add(struct word_set *s, const char *w);
void word_set_free(struct word_set *s);
/* Reads both word files into fresh sets; why says what failed. */
int moderation_load_files(const struct moderation_config *cfg, struct word_set *banned, struct word_set *allowed,
			  char *why, size_t why_len);
/* A room's lists (rooms.ext_free frees them); moderation_room_words
 * creates them empty when create is set, else gives NULL (also on out of
 * memory). */
void moderation_room_words_free(void *ext);
struct room_words *moderation_room_words(struct room *r, bool create);

#endif
