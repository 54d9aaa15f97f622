/* SPDX-License-Identifier: MIT */
/*
 * Moderation of chat messages: banned words (filters and the message path
 * in moderation.c, the lists in moderation_words.c and their part of the
 * state file in moderation_state.c) and flood control (flood.c), decided by a pure verdict (moderation_verdict.c) on
 * the message path between the check of the client's payload and the
 * writing of the envelope, and applied after it.
 *
 * Word lists: a global list from plugin_opt_banned_words_file /
 * allowed_words_file (re-read on reload), plus lists edited live by the
 * admin API, global and per room (kept in the state file; a room's lists
 * hang off room->ext and go away with the room). Each list compiles into a
 * wordfilter (common/wordfilter.h): one global filter, and one per room
 * that has banned words of its own (its words, allowed by the global and
 * the room's allowlist). An edit marks a filter stale; the next message or
 * tick rebuilds it synchronously, so the change applies to the very next
 * message and a request of many commands costs one rebuild.
 *
 * This header is included by chat.h: it declares struct chat only.
 */
#ifndef CHAT_PLUGIN_MODERATION_H
#define CHAT_PLUGIN_MODERATION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "envelope.h"
#include "moderation_verdict.h"
#include "rooms.h"

struct chat;
struct cJSON;
struct mosquitto;

/* plugin_opt_banned_words_* and plugin_opt_flood_* (README, "Moderation"). */
struct moderation_config {
	char *banned_file;          /* NULL = none */
	char *allowed_file;         /* NULL = none */
	enum words_action action;   /* rooms without their own bannedWordsAction */
	double flood_rate;          /* messages/s per user, 0 = no per-user bucket */
	double flood_burst;
	unsigned flood_repeat;      /* the Nth identical message in the window is refused; 0 = off */
	unsigned flood_window_s;    /* window of repeats and of offences */
	unsigned flood_mute_after;  /* refusals in the window that mute; 0 = never */
	uint32_t *mute_ladder;      /* seconds per offence level (owned) */
	size_t mute_steps;
	unsigned mute_decay_s;      /* quiet time that forgives one level */
};


/* What moderation decided about one message, and what to do about it:
 * the pure verdict (moderation_verdict.h) and the texts it delivers. */
struct moderation_verdict {
	struct verdict v;
	struct verdict_policy policy;
	const char *text;      /* masked text, in a buffer of the plugin's, when v.masked */
	size_t text_len;
	const char *data;      /* masked data object, in a buffer of the plugin's, or NULL */
	size_t data_len;
	void *flood_entry;     /* flood.c's entry of the sender, NULL: none yet */
};

/*
 * Init (before the state is loaded: sets rooms.ext_free and reads the word
 * files; a bad file logs path:line and returns MOSQ_ERR_INVAL, which stops
 * the broker) and free (NULL-safe, also after a failed init).
 */
int moderation_init(struct chat *c);
void moderation_free(struct chat *c);
/* The TICK work (pending rebuilds, flood sweep) and the RELOAD work (the
 * word files again; a bad file keeps the lists in force). */
void moderation_tick(struct chat *c, uint64_t now);
void moderation_reload(struct chat *c);

/*
 * The message path, in three steps. moderation_judge scans the text and
 * the string values of data and decides (flood control, then banned
 * words), changing nothing: true when the message must be refused, then
 * moderation_refused applies the verdict's effects (flood record, mute,
 * events) and the caller refuses with moderation_reason(v) and
 * v->v.until_ms. Otherwise moderation_stamp puts the masked text and data
 * and the flag into the envelope, and once the envelope is written the
 * caller applies the effects with moderation_accepted (e->id names the
 * message in the mask or flag event). user is the sender's username;
 * room is NUL-terminated at room_len; r is its entry, NULL when the room
 * does not exist yet (a new DM).
 */
bool moderation_judge(struct chat *c, const char *user, const char *room, size_t room_len,
		      const struct room *r, const struct chat_msg *m, uint64_t now_ms,
		      struct moderation_verdict *v);
int moderation_reason(const struct moderation_verdict *v);
void moderation_refused(struct chat *c, const struct moderation_verdict *v, const char *user, const char *room,
			uint64_t now_ms);
void moderation_stamp(const struct moderation_verdict *v, struct envelope *e);
void moderation_accepted(struct chat *c, const struct moderation_verdict *v, const struct envelope *e,
			 uint64_t now_ms);

/* ---- word lists (moderation_words.c, for control_words.c and state.c) - */

/*
 * Adds or removes words (already checked with moderation_word_check) in
 * the global list (room NULL) or a room's, banned or allowed. *changed gets
 * how many were new or gone. Removing a word that comes from a words file
 * changes nothing and returns CHAT_ERR_EXISTS with the word in *from_file.
 * Returns 0 or a negative chat_err.
 */
int moderation_words_add(struct chat *c, struct room *room, bool allow, const char *const *words, size_t n,
			 size_t *changed);
int moderation_words_remove(struct chat *c, struct room *room, bool allow, const char *const *words, size_t n,
			    size_t *changed, const char **from_file);
/* Calls fn for each word of a list, sorted, without duplicates (the global
 * list includes the file's words). */
void moderation_words_each(const struct chat *c, const struct room *room, bool allow,
			   void (*fn)(const char *word, void *ud), void *ud);
/* 0 when word can be listed, else a negative chat_err (see wordfilter.h). */
int moderation_word_check(const char *word);

/* The live global lists as loaded from the state file, before adoption. */
struct moderation_global;
/* moderation_state.c: state.c's "bannedWords" section: item may be NULL (none). Per-room lists
 * go into the rooms of rs (which must exist); global lists into *out.
 * Returns 0 or CHAT_ERR_* with why filled in. */
int moderation_state_load(struct rooms *rs, const struct cJSON *item, struct moderation_global **out, char *why,
			  size_t why_len);
struct cJSON *moderation_state_save(const struct chat *c);
/* Replaces the live global lists by g (taken over; NULL = empty). */
void moderation_state_adopt(struct chat *c, struct moderation_global *g);
void moderation_global_free(struct moderation_global *g);

#endif
