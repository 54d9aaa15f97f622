/* SPDX-License-Identifier: MIT */
/*
 * The word lists of moderation: sorted sets of owned strings, read from
 * the word files or edited through the admin API, global or per room.
 * An edit only marks the filters that use the set stale (moderation.c
 * rebuilds them before the next scan) and the state changed.
 */
#include <stdlib.h>
#include <string.h>

#include "chat_err.h"
#include "moderation_int.h"
#include "utf8.h"

/* ---- word sets -------------------------------------------------------- */

/* True when w is in s; *pos gets its index or where it would go. */
static bool word_set_find(const struct word_set *s, const char *w, size_t *pos)
{
	size_t lo = 0, hi = s->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int cmp = strcmp(s->w[mid], w);
		if (cmp == 0) {
			*pos = mid;
			return true;
		}
		if (cmp < 0) lo = mid + 1;
		else hi = mid;
	}
	*pos = lo;
	return false;
}

/* 1 when added, 0 when already there, CHAT_ERR_NOMEM. */
int word_set_add(struct word_set *s, const char *w)
{
	size_t pos;
	if (word_set_find(s, w, &pos)) return 0;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		char **grown = realloc(s->w, cap * sizeof(*grown));
		if (!grown) return CHAT_ERR_NOMEM;
		s->w = grown;
		s->cap = cap;
	}
	char *copy = strdup(w);
	if (!copy) return CHAT_ERR_NOMEM;
	memmove(s->w + pos + 1, s->w + pos, (s->n - pos) * sizeof(*s->w));
	s->w[pos] = copy;
	s->n++;
	return 1;
}

static bool word_set_remove(struct word_set *s, const char *w)
{
	size_t pos;
	if (!word_set_find(s, w, &pos)) return false;
	free(s->w[pos]);
	memmove(s->w + pos, s->w + pos + 1, (s->n - pos - 1) * sizeof(*s->w));
	s->n--;
	return true;
}

void word_set_free(struct word_set *s)
{
	for (size_t i = 0; i < s->n; i++) free(s->w[i]);
	free(s->w);
	memset(s, 0, sizeof(*s));
}

/* Reads a words file (NULL path: none) into s. On error why gets
 * "path:line: reason" and s is left empty. */
static int word_set_load_file(struct word_set *s, const char *path, char *why, size_t why_len)
{
	char **words = NULL;
	size_t n = 0;
	int rc = CHAT_OK;
	if (!path) return CHAT_OK;
	rc = wordfilter_load_file(path, &words, &n, why, why_len);
	for (size_t i = 0; rc == CHAT_OK && i < n; i++) {
		if (word_set_add(s, words[i]) < 0) {
			rc = CHAT_ERR_NOMEM;
			snprintf(why, why_len, "%s: out of memory", path);
		}
	}
	wordfilter_words_free(words, n);
	if (rc != CHAT_OK) word_set_free(s);
	return rc;
}

int moderation_load_files(const struct moderation_config *cfg, struct word_set *banned, struct word_set *allowed,
			  char *why, size_t why_len)
{
	int rc = word_set_load_file(banned, cfg->banned_file, why, why_len);
	if (rc == CHAT_OK) rc = word_set_load_file(allowed, cfg->allowed_file, why, why_len);
	if (rc != CHAT_OK) {
		word_set_free(banned);
		word_set_free(allowed);
	}
	return rc;
}

/* ---- room lists ------------------------------------------------------- */

void moderation_room_words_free(void *ext)
{
	struct room_words *rw = ext;
	if (!rw) return;
	word_set_free(&rw->banned);
	word_set_free(&rw->allowed);
	wordfilter_free(rw->wf);
	free(rw);
}

/* The room's lists, created empty when create is set; NULL otherwise or on
 * out of memory. */
struct room_words *moderation_room_words(struct room *r, bool create)
{
	if (!r->ext && create) {
		struct room_words *rw = calloc(1, sizeof(*rw));
		if (rw) rw->stale = true;
		r->ext = rw;
	}
	return r->ext;
}

/* ---- word lists for the admin API ------------------------------------- */

int moderation_word_check(const char *word)
{
	size_t len = strlen(word);
	if (len > WORD_MAX_BYTES) return CHAT_ERR_TOO_LARGE;
	if (!utf8_valid(word, len)) return CHAT_ERR_UTF8;
	return wordfilter_word_check(word);
}

/* The set an edit targets; NULL on out of memory (a room's lists are
 * created on first use). */
static struct word_set *target_set(struct chat *c, struct room *room, bool allow, bool create)
{
	struct moderation *m = c->mod;
	if (!room) return allow ? &m->live.allowed : &m->live.banned;
	struct room_words *rw = moderation_room_words(room, create);
	if (!rw) return NULL;
	return allow ? &rw->allowed : &rw->banned;
}

/* After an edit: which filters must be rebuilt, and the state file. */
static void lists_changed(struct chat *c, struct room *room, bool allow)
{
	struct moderation *m = c->mod;
	if (room) ((struct room_words *)room->ext)->stale = true;
	else m->stale = true;
	if (!room && allow) m->allow_gen++;
	chat_state_dirty(c);
}

int moderation_words_add(struct chat *c, struct room *room, bool allow, const char *const *words, size_t n,
			 size_t *changed)
{
	struct word_set *s = target_set(c, room, allow, true);
	int rc = CHAT_OK;
	*changed = 0;
	if (!s) return CHAT_ERR_NOMEM;
	for (size_t i = 0; i < n && rc == CHAT_OK; i++) {
		int added = word_set_add(s, words[i]);
		if (added < 0) rc = added;
		else *changed += (size_t)added;
	}
	if (*changed) lists_changed(c, room, allow);
	return rc;
}

int moderation_words_remove(struct chat *c, struct room *room, bool allow, const char *const *words, size_t n,
			    size_t *changed, const char **from_file)
{
	struct moderation *m = c->mod;
	const struct word_set *file = allow ? &m->file_allowed : &m->file_banned;
	struct word_set *s = target_set(c, room, allow, false);
	size_t pos;
	*changed = 0;
	for (size_t i = 0; !room && i < n; i++) {
		if (word_set_find(file, words[i], &pos)) {
			*from_file = words[i];
			return CHAT_ERR_EXISTS;
		}
	}
	for (size_t i = 0; s && i < n; i++) *changed += word_set_remove(s, words[i]) ? 1 : 0;
	if (*changed) lists_changed(c, room, allow);
	return CHAT_OK;
}

void moderation_words_each(const struct chat *c, const struct room *room, bool allow,
			   void (*fn)(const char *word, void *ud), void *ud)
{
	const struct moderation *m = c->mod;
	const struct room_words *rw = room ? room->ext : NULL;
	static const struct word_set none;
	const struct word_set *a = room ? &none : allow ? &m->file_allowed : &m->file_banned;
	const struct word_set *b = room ? (rw ? (allow ? &rw->allowed : &rw->banned) : &none)
					: allow ? &m->live.allowed : &m->live.banned;
	size_t i = 0, j = 0;
	/* Merge of two sorted sets, each word once. */
	while (i < a->n || j < b->n) {
		int cmp = i == a->n ? 1 : j == b->n ? -1 : strcmp(a->w[i], b->w[j]);
		fn(cmp <= 0 ? a->w[i] : b->w[j], ud);
		if (cmp <= 0) i++;
		if (cmp >= 0) j++;
	}
}
