/* SPDX-License-Identifier: MIT */
/*
 * Text normalization for the banned-word engine and for duplicate-message
 * detection. A code point becomes zero or more "letters" (case folded,
 * compatibility decomposed, marks stripped, Hangul split into jamo), or a
 * separator, or nothing at all (zero-width and format characters). Letters
 * are then grouped into runs, so "baaad" reads as b, a x3, d.
 *
 * The per-code-point mapping comes from one table built on first use from
 * utf8proc (NFKD + case fold + strip marks + drop default ignorables) and
 * ICU's confusables (a letter of another script that looks like Latin
 * letters reads as them: Cyrillic "і" is "i"); the
 * hot path is a table lookup, arithmetic for Hangul syllables, and no
 * allocation. Only code points above U+FFFF ask utf8proc directly.
 */
#ifndef CHAT_NORMALIZE_H
#define CHAT_NORMALIZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "fnv.h"

/*
 * U+E000 (private use) is read as this letter, which banned words have in
 * their wildcard forms: common/disguise.c writes it where a symbol stands
 * for a letter that cannot be told ("f*ck").
 */
#define NORM_WILD 0xE000u

/* Most letters one code point can turn into; longer expansions are cut. */
#define NORM_MAX_OUT 8

/* A run of one repeated letter, as read from the original text. */
struct norm_run {
	uint32_t cp;        /* the normalized letter (folded; jamo for Hangul) */
	uint32_t count;     /* how many times it repeats, >= 1 */
	uint32_t letters;   /* original code points whose first letter is in this run */
	size_t first_start; /* byte span of the code point giving the first letter */
	size_t first_end;
	size_t last_start; /* byte span of the code point giving the last letter */
	size_t last_end;
	bool gap_before; /* a separator lies between the previous run and this one */
};

/* Iterator over the runs of a text; lives on the caller's stack. */
struct norm_iter {
	const unsigned char *text;
	size_t len;
	size_t pos;
	uint32_t pend[NORM_MAX_OUT]; /* letters of the current code point */
	unsigned npend;
	unsigned ipend;
	size_t cp_start;
	size_t cp_end;
	bool gap;      /* separator seen since the last letter */
	bool fresh;    /* next letter is the first of its code point */
	uint32_t last; /* last letter read, 0 before the first */
	bool have_next; /* a letter was read that starts the next run */
	bool next_gap;
	bool next_fresh;
	uint32_t next_cp;
	size_t next_start;
	size_t next_end;
};

/*
 * Builds the lookup table once per process (thread-safe, idempotent). Every
 * other function here calls it, so calling it up front only moves the cost
 * (a few milliseconds) out of the first message.
 */
void normalize_init(void);

/*
 * Maps one code point. Writes its letters to out and returns how many (up to
 * NORM_MAX_OUT). Returns 0 for a code point that yields no letter; then
 * *gap tells a separator (space, punctuation, symbol, emoji, invalid) from
 * an invisible one (zero-width, format, combining mark).
 */
unsigned normalize_cp(uint32_t cp, uint32_t out[NORM_MAX_OUT], bool *gap);

/* True for a Hangul jamo letter as produced by normalize_cp. */
static inline bool normalize_is_hangul(uint32_t letter)
{
	return (letter >= 0x1100 && letter <= 0x11FF) || (letter >= 0xA960 && letter <= 0xA97F) ||
	       (letter >= 0xD7B0 && letter <= 0xD7FF);
}

/*
 * The letters of the Hangul syllable U+AC00 + i (i < NORM_SYLLABLES) are
 * the bytes of table[i], low byte first, each a jamo minus U+1100, up to
 * the first NORM_SYL_NONE: initial, vowel, then the final consonant as
 * zero, one or two initials, as normalize_cp gives them.
 *
 * The same table finds i from three UTF-8 bytes b0 b1 b2 without the
 * arithmetic: i = table[NORM_SYLLABLES + ((b0 | b1 << 8) & 0x3F0F)] + b2
 * (unsigned, wrapping: an entry is its first syllable's index minus 0x80),
 * once the bytes are known to be a lead byte of three and two continuation
 * bytes; i is NORM_SYLLABLES or more when they are no syllable (those
 * entries are 0xFFFF). NORM_SYL_LEADS entries follow the
 * syllables' (64 KiB). The table is built with normalize_init's and lives
 * as long as the process.
 */
#define NORM_SYLLABLES 11172u
#define NORM_SYL_NONE 0xFFu
#define NORM_SYL_LEADS 0x4000u
const uint32_t *normalize_syllable_jamo(void);

/*
 * Starts iterating text[0..len). Invalid UTF-8 bytes count as separators,
 * one byte each. The iterator borrows text; nothing to free.
 */
void norm_iter_init(struct norm_iter *it, const char *text, size_t len);

/* Stores the next run in *run and returns true, or returns false at the end. */
bool norm_iter_next(struct norm_iter *it, struct norm_run *run);

/*
 * Writes the normalized form of text (letters only, repeats collapsed to one
 * letter even across separators, separators dropped; UTF-8) into out, NUL-terminated and cut to fit
 * outcap. Returns the length the whole form needs, as snprintf does, so a
 * return >= outcap means it was cut. out may be NULL when outcap is 0.
 */
size_t normalize_text(const char *text, size_t len, char *out, size_t outcap);

/* Start value and step of the fingerprint hash: FNV-1a (64 bits, fnv.h),
 * fed one normalized letter (a code point) at a time. */
#define NORM_FNV_OFFSET FNV64_OFFSET
static inline uint64_t normalize_hash_letter(uint64_t h, uint32_t letter)
{
	return fnv64_step(h, letter);
}

/*
 * A hash of the normalized form of text without writing it out: *hash gets
 * normalize_hash_letter folded, from NORM_FNV_OFFSET, over exactly the
 * letters normalize_text would produce (uncut), for duplicate-message
 * detection on the per-message path. Returns how many letters that form
 * has (0: the text has no letters at all).
 */
size_t normalize_fingerprint(const char *text, size_t len, uint64_t *hash);

/*
 * The one-number fingerprint flood control compares: the hash of
 * normalize_fingerprint, or 0 when the text has no letters at all.
 */
uint64_t normalize_print(const char *text, size_t len);

/*
 * A reader of the letters of a text, for scans that need no byte offsets
 * (the word filter's first pass, the fingerprint): the same letters, in the
 * same order, as norm_iter reads them, in batches, with ASCII and Hangul
 * syllables decoded inline. Each letter comes with flags; a letter equal
 * to the one before and without NORM_L_GAP lengthens its run. The first
 * letter of a text has NORM_L_GAP (the text's edge is a separator). The
 * kind flags (digit, Hangul) and NORM_L_SYM cost the reader nothing and
 * tell the word filter, on letters it reads anyway, whether a token may
 * mix kinds the way disguises do (common/disguise.h).
 */
#define NORM_L_CP 0x1FFFFFu        /* the letter */
#define NORM_L_DIGIT 0x00200000u   /* an ASCII digit */
#define NORM_L_HANGUL 0x00400000u  /* a Hangul jamo */
#define NORM_L_KINDS (NORM_L_DIGIT | NORM_L_HANGUL)
#define NORM_L_SYM 0x00800000u     /* one of $ @ ! | ( + * is among the separators before it */
#define NORM_L_FRESH 0x40000000u   /* first letter of its code point */
#define NORM_L_GAP 0x80000000u     /* a separator lies before it */

struct norm_reader {
	const unsigned char *text;
	size_t len;
	size_t pos;
	uint32_t last; /* last letter read, 0 before the first */
	uint32_t gap;  /* NORM_L_GAP and NORM_L_SYM read since the last letter */
};

/* Starts reading text[0..len); borrows text, nothing to free. */
void norm_reader_init(struct norm_reader *rd, const char *text, size_t len);

/*
 * Writes the next letters, with their flags, into out[] and returns how
 * many; 0 once the text is used up. cap must be at least NORM_MAX_OUT: a
 * code point's letters are never split between two batches.
 */
size_t norm_reader_next(struct norm_reader *rd, uint32_t *out, size_t cap);

#endif
