/* SPDX-License-Identifier: MIT */
/*
 * The word filter's insides, shared by its two halves: wordfilter_build.c
 * compiles words into the automaton described here, wordfilter_scan.c runs
 * texts through it. Not part of the public API (wordfilter.h).
 *
 * Letters are renumbered into a small alphabet of the classes that occur in
 * some word (class 0 = any other letter). States are numbered breadth-first,
 * so a state's children have consecutive ids and the shallow states, where
 * a scan spends nearly all its time, come first: they get full DFA rows
 * (dense), the deeper ones keep their sorted children and a failure link.
 */
#ifndef CHAT_WORDFILTER_INT_H
#define CHAT_WORDFILTER_INT_H

#include "wordfilter.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WF_ALLOW 0x01u
#define WF_WHOLE 0x02u
#define WF_SPELLED 0x04u  /* the spaced-out spelling of a word with repeats */
#define WF_KEYS 0x08u     /* a Hangul word as typed on a two-set keyboard: starts a token */
#define WF_WILD 0x10u     /* a Latin word with one letter run as NORM_WILD ("f*ck") */
#define WF_DERIVED (WF_SPELLED | WF_KEYS | WF_WILD)
#define INFO_GAP 0x80u    /* the word itself has a space before this letter */
#define INFO_SPLIT 0x40u  /* a repeat that the text must space out ("a s s") */
#define INFO_COUNT 0x3Fu  /* minimum repeat count of this letter */
/* A cell of a dense row holds the target's row offset (state * ncls) when
 * the target has a row, else the target itself with DENSE_SPARSE; plus: */
#define DENSE_OUT 0x80000000u    /* the target state has hits */
#define DENSE_BAN 0x40000000u    /* a banned entry ends there (has_ban) */
#define DENSE_SPARSE 0x20000000u /* it has no dense row (alone: the deep row, below) */
#define STATE_MASK 0x1FFFFFFFu

/* One word (banned or allowed) ending in a state. */
struct wf_entry {
	uint32_t state;
	uint32_t info; /* offset of its per-letter bytes in wordfilter.info */
	uint16_t len;  /* letters after collapsing */
	uint8_t flags;
};

struct wordfilter {
	uint32_t ncls;
	uint16_t cls_ascii[128];
	uint16_t cls_jamo[256]; /* U+1100..U+11FF */
	uint32_t fast_ascii[128]; /* per byte: letter, class << 16 and FA_* flags (fast_pass) */
	bool ascii_plain;         /* fast_ascii is the plain table (fill_fast_ascii) */
	const uint32_t *syllables; /* normalize_syllable_jamo() */
	uint32_t *other_cp;     /* sorted letters outside those two ranges */
	uint16_t *other_cls;
	size_t nother;
	uint32_t nstates;
	uint32_t ndense;   /* states [0, ndense) have a dense row */
	uint32_t *dense;   /* ndense * ncls, then the deep row: ncls times DENSE_SPARSE */
	uint32_t *child_lo; /* children of s: states child_lo[s] .. child_lo[s+1]-1 */
	uint16_t *in_cls;  /* class on the edge into each state */
	uint32_t *fail;
	uint32_t *term;   /* nearest state with entries on the fail chain, itself included */
	uint32_t *out_lo; /* entries of s: out_lo[s] .. out_lo[s+1]-1 */
	uint64_t *ban;    /* bit s: a banned entry ends in s or on its fail chain */
	struct wf_entry *entries;
	size_t nentries;
	uint8_t *info;
	size_t nbanned;
	uint32_t maxlen;
	size_t bytes;
	struct wordfilter *wild; /* the WF_WILD forms, scanned on rewritings with NORM_WILD only */
	bool is_wild;            /* this is such a filter: a small dense table will do */
};

/* In wordfilter.fast_ascii: the letter an ASCII byte makes and its flags. */
#define FA_LETTER 0x7Fu
#define FA_SEP 0x100u     /* a separator */
#define FA_SYM 0x200u     /* a separator that disguise.h may read as a letter */
#define FA_DIGIT 0x400u   /* a digit: a letter of its own kind */
#define FA_HANGUL 0x800u  /* (for jamo, not in the table) */
#define FA_IGNORE 0x1000u /* neither letter nor separator */
#define FA_NOT_DIGIT (FA_DIGIT << 3) /* a letter that is no digit */
#define FA_NOT_HANGUL (FA_HANGUL << 3)

/* The class of a normalized letter: 0 when no word has it. */
static inline uint16_t wf_class(const struct wordfilter *wf, uint32_t cp)
{
	if (cp < 128) return wf->cls_ascii[cp];
	if (cp - 0x1100u < 256) return wf->cls_jamo[cp - 0x1100u];
	size_t lo = 0, hi = wf->nother;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (wf->other_cp[mid] == cp) return wf->other_cls[mid];
		if (wf->other_cp[mid] < cp) lo = mid + 1;
		else hi = mid;
	}
	return 0;
}

/* The child of state s on class c, 0 for none (binary search). */
static inline uint32_t wf_child(const struct wordfilter *wf, uint32_t s, uint16_t c)
{
	uint32_t lo = wf->child_lo[s], hi = wf->child_lo[s + 1];
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (wf->in_cls[mid] == c) return mid;
		if (wf->in_cls[mid] < c) lo = mid + 1;
		else hi = mid;
	}
	return 0;
}

/* The state a dense cell v leads to. */
static inline uint32_t dense_state(const struct wordfilter *wf, uint32_t v)
{
	return v & DENSE_SPARSE ? v & STATE_MASK : (v & STATE_MASK) / wf->ncls;
}

/* The automaton's transition: children, then the failure chain, until a
 * state with a dense row answers. */
static inline uint32_t wf_step(const struct wordfilter *wf, uint32_t s, uint16_t c)
{
	if (c == 0) return 0;
	for (;;) {
		if (s < wf->ndense) return dense_state(wf, wf->dense[(size_t)s * wf->ncls + c]);
		uint32_t v = wf_child(wf, s, c);
		if (v) return v;
		s = wf->fail[s];
	}
}

/* A banned entry ends in s or on its failure chain. */
static inline bool has_ban(const struct wordfilter *wf, uint32_t s)
{
	return (wf->ban[s / 64] >> (s % 64)) & 1u;
}

#endif
