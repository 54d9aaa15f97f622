/* SPDX-License-Identifier: MIT */
/*
 * The banned-word engine: a set of banned words and an allowlist compiled
 * into one Aho-Corasick automaton over normalized text (see normalize.h),
 * with a map back to the bytes the user typed so that a hit can be masked
 * in place. A built filter is immutable: share it read-only between threads
 * and swap in a freshly built one when a list changes.
 *
 * Word syntax (in files and in the arrays given to wordfilter_build):
 *   bad        matches anywhere, also inside longer words
 *   =ass       whole word only: the hit must start and end at a word edge
 *              (a separator, the text's edge, or a switch between Hangul
 *              and other letters); meant for short Latin words
 *   bad word   a phrase; its own spaces are optional in the text
 * A word is normalized exactly like the text, so "BAD", "b-a-d" and "bad"
 * are one word. Repeats in a word are minimums: "ass" needs two s in the
 * text ("as" is clean, "asss" is a hit), "bad" matches "baaad".
 *
 * Allowlist entries use the same syntax. A banned hit that lies inside an
 * allowlisted hit is dropped: allow "class" and "assistant" to keep "ass"
 * from firing on them.
 *
 * Separators (spaces, punctuation, symbols, emoji, invalid bytes) between
 * letters are seen through only when the letters are spaced out one by one
 * (one letter per piece, two for Hangul: "b a d", "시ㅂ ㅏㄹ"), so two
 * innocent words are never glued into a banned one ("pen is"). Not seen
 * through: pieces of two or more Latin letters ("ba d"), and a spaced-out
 * letter repeated more often than the word has it ("b a a d" for "bad").
 *
 * Seen through besides: look-alike letters of other scripts (normalize.h,
 * from ICU's confusables); digits and symbols written for letters and
 * ASCII slipped into Hangul (disguise.h: such a text is also scanned in
 * its rewritten forms, "1d10t", "f*ck", "시1발"); and a Hangul entry also
 * enters as its two-set keyboard spelling ("tlqkf" for "시발"), which must
 * start a token. A Latin entry of three runs or more also has forms with
 * one inner vowel or double, or two or three inner runs in a row, as one
 * run of NORM_WILD, kept in a second automaton that only rewritten forms
 * holding NORM_WILD are scanned with.
 */
#ifndef CHAT_WORDFILTER_H
#define CHAT_WORDFILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chat_err.h"

/* Longest word, in normalized letters after collapsing repeats. */
#define WORDFILTER_MAX_WORD 64

struct wordfilter;

/*
 * Compiles words (banned) and allow (allowlist) into a new filter. Both
 * arrays may be empty (NULL with a count of 0); duplicates are merged. On
 * failure returns NULL and stores a negative chat_err in *err (when err is
 * not NULL): CHAT_ERR_INVAL for a word with no letters or a NULL entry,
 * CHAT_ERR_UTF8 for invalid UTF-8, CHAT_ERR_TOO_LARGE for a word longer than
 * WORDFILTER_MAX_WORD, CHAT_ERR_NOMEM. Check words one by one beforehand with
 * wordfilter_word_valid to reject only the bad ones. The caller keeps its
 * strings; free the result with wordfilter_free.
 */
struct wordfilter *wordfilter_build(const char *const *words, size_t nwords, const char *const *allow,
				    size_t nallow, int *err);

/* Frees a filter; NULL is a no-op. */
void wordfilter_free(struct wordfilter *wf);

/* Number of distinct banned entries (allowlist entries not counted). */
size_t wordfilter_count(const struct wordfilter *wf);

/* Bytes the filter holds, for metrics. */
size_t wordfilter_memory(const struct wordfilter *wf);

/*
 * 0 when word (NUL-terminated, file syntax) can be compiled, else the
 * negative chat_err that wordfilter_build would fail with.
 */
int wordfilter_word_check(const char *word);

/*
 * Scans text[0..len) (UTF-8; invalid bytes are treated as separators and
 * kept as they are). Returns the number of banned hits (0 = clean; hits
 * that start at the same letter count once) or a negative chat_err:
 * CHAT_ERR_INVAL for bad arguments, CHAT_ERR_TOO_LARGE for len >= 4 GiB.
 *
 * When out is not NULL it receives the masked text, NUL-terminated: every
 * code point inside a hit, including separators and invisible characters
 * between its letters ("b.a.d" -> "*****"), becomes one '*', the rest is
 * copied byte for byte. So the result is never longer than len; outcap must
 * be at least len + 1. out must not overlap text.
 *
 * A first pass runs the automaton over the letters alone and returns early
 * when no banned word can hit, the common case. Otherwise the text is
 * scanned again with byte offsets, in windows of 512 runs kept on the
 * stack (about 17 KiB), so any length is handled. Allocates only for a
 * text with a disguise of disguise.h (two buffers of 3 * len + 1 bytes for
 * its rewritten forms); CHAT_ERR_NOMEM when that fails.
 */
int wordfilter_apply(const struct wordfilter *wf, const char *text, size_t len, char *out, size_t outcap);

/*
 * wordfilter_apply that also stores the text's fingerprint in *print (when
 * print is not NULL): normalize_print(text, len), taken from the same pass
 * over the text, so flood control need not normalize it a second time.
 * *print is 0 on error.
 */
int wordfilter_apply_print(const struct wordfilter *wf, const char *text, size_t len, char *out, size_t outcap,
			   uint64_t *print);

/*
 * The normalized form of text for duplicate-message detection: letters
 * only, case folded, compatibility forms and Hangul jamo unified, repeats
 * collapsed, separators and invisible characters dropped. Same contract as
 * normalize_text: NUL-terminated in out (cut to outcap), returns the full
 * length as snprintf does.
 */
size_t wordfilter_normalize(const char *text, size_t len, char *out, size_t outcap);

/*
 * Appends the entries of a word file to *words / *nwords (a malloc'd array
 * of malloc'd strings the caller frees with wordfilter_words_free; start
 * with NULL and 0). One entry per line, UTF-8; leading and trailing blanks
 * are trimmed, blank lines and lines starting with '#' skipped. Every entry
 * is checked with wordfilter_word_check. Returns 0 or a negative chat_err
 * (CHAT_ERR_IO, CHAT_ERR_UTF8, CHAT_ERR_INVAL, CHAT_ERR_TOO_LARGE,
 * CHAT_ERR_NOMEM); on error the arrays keep what they had before the call
 * and errbuf (when not NULL) receives "path:line: reason".
 */
int wordfilter_load_file(const char *path, char ***words, size_t *nwords, char *errbuf, size_t errlen);

/* Frees an array filled by wordfilter_load_file; NULL is a no-op. */
void wordfilter_words_free(char **words, size_t nwords);

#endif
