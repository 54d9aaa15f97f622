/* SPDX-License-Identifier: MIT */
/*
 * The banned-word commands of the admin API: addBannedWords,
 * removeBannedWords and listBannedWords, on the global lists (no "room")
 * or a room's, banned or allowed ("allow": true). Every word is checked
 * before anything changes, so a command with one bad word changes nothing.
 * The filters themselves are rebuilt by moderation.c before the next
 * message; the audit line counts words rather than listing them.
 */
#include <stdlib.h>
#include <string.h>

#include "chat_err.h"
#include "control.h"

/* More would make one request rebuild a huge list; send several. */
#define WORDS_PER_COMMAND 10000

/* Which list: *room (NULL = global) and *allow; false with the error set. */
static bool read_list(struct control_req *r, struct room **room, bool *allow)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(r->cmd, "allow");
	const char *id = NULL;
	*room = NULL;
	if (!ctl_room_id(r, "room", false, &id)) return false;
	if (a && !cJSON_IsBool(a)) return ctl_fail(r, "allow: must be true or false");
	*allow = cJSON_IsTrue(a);
	if (id) {
		*room = ctl_find_room(r, id);
		if (!*room) return false;
		ctl_audit(r, "room", id);
	}
	if (*allow) ctl_audit(r, "allow", "true");
	return true;
}

static const char *check_reason(int rc)
{
	switch (rc) {
	case CHAT_ERR_UTF8: return "not valid UTF-8";
	case CHAT_ERR_TOO_LARGE: return "too long";
	default: return "no letters to match";
	}
}

static void free_words(char **words, size_t n)
{
	for (size_t i = 0; i < n; i++) free(words[i]);
	free(words);
}

/* One entry, trimmed of blanks; NULL on out of memory. */
static char *trimmed(const char *s)
{
	size_t len;
	while (*s == ' ' || *s == '\t') s++;
	len = strlen(s);
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t')) len--;
	return strndup(s, len);
}

/* The "words" array as checked, trimmed copies (free_words); NULL with
 * the error set. */
static char **read_words(struct control_req *r, size_t *n)
{
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(r->cmd, "words"), *w;
	*n = 0;
	if (!cJSON_IsArray(list)) return ctl_fail(r, "words: missing or not an array"), NULL;
	int count = cJSON_GetArraySize(list);
	if (count == 0 || count > WORDS_PER_COMMAND)
		return ctl_fail(r, "words: give 1 to %d words", WORDS_PER_COMMAND), NULL;
	char **words = calloc((size_t)count, sizeof(*words));
	if (!words) return ctl_fail(r, "out of memory"), NULL;
	cJSON_ArrayForEach(w, list) {
		if (!cJSON_IsString(w)) {
			ctl_fail(r, "words[%zu]: not a string", *n);
			break;
		}
		words[*n] = trimmed(w->valuestring);
		if (!words[*n]) {
			ctl_fail(r, "out of memory");
			break;
		}
		int rc = moderation_word_check(words[(*n)++]);
		if (rc != CHAT_OK) {
			ctl_fail(r, "words[%zu]: %s", *n - 1, check_reason(rc));
			break;
		}
	}
	if (r->error[0]) {
		free_words(words, *n);
		return NULL;
	}
	return words;
}

/* data {key: n}. */
static void reply_count(struct control_req *r, const char *key, size_t n)
{
	r->data = cJSON_CreateObject();
	if (r->data) cJSON_AddNumberToObject(r->data, key, (double)n);
	ctl_audit_u64(r, key, n);
}

void control_add_banned_words(struct control_req *r)
{
	struct room *room;
	bool allow = false;
	size_t n, added = 0;
	if (!read_list(r, &room, &allow)) return;
	char **words = read_words(r, &n);
	if (!words) return;
	ctl_audit_u64(r, "words", n);
	int rc = moderation_words_add(r->c, room, allow, (const char *const *)words, n, &added);
	free_words(words, n);
	if (rc != CHAT_OK) {
		ctl_fail(r, "%s", chat_strerror(rc));
		return;
	}
	reply_count(r, "added", added);
}

void control_remove_banned_words(struct control_req *r)
{
	struct room *room;
	bool allow = false;
	size_t n, removed = 0;
	const char *from_file = NULL;
	if (!read_list(r, &room, &allow)) return;
	char **words = read_words(r, &n);
	if (!words) return;
	ctl_audit_u64(r, "words", n);
	int rc = moderation_words_remove(r->c, room, allow, (const char *const *)words, n, &removed, &from_file);
	if (rc == CHAT_ERR_EXISTS)
		ctl_fail(r, "'%.60s' comes from plugin_opt_%s_words_file: edit the file and reload the broker", from_file,
			 allow ? "allowed" : "banned");
	else if (rc != CHAT_OK) ctl_fail(r, "%s", chat_strerror(rc));
	free_words(words, n);
	if (rc == CHAT_OK) reply_count(r, "removed", removed);
}

static void add_word(const char *word, void *ud)
{
	cJSON *w = cJSON_CreateString(word);
	if (w) cJSON_AddItemToArray(ud, w);
}

void control_list_banned_words(struct control_req *r)
{
	struct room *room;
	bool allow = false;
	if (!read_list(r, &room, &allow)) return;
	cJSON *data = cJSON_CreateObject(), *words = cJSON_CreateArray();
	if (!data || !words) {
		cJSON_Delete(data);
		cJSON_Delete(words);
		ctl_fail(r, "out of memory");
		return;
	}
	moderation_words_each(r->c, room, allow, add_word, words);
	ctl_audit_u64(r, "count", (uint64_t)cJSON_GetArraySize(words));
	cJSON_AddItemToObject(data, "words", words);
	r->data = data;
}
