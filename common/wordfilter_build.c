/* SPDX-License-Identifier: MIT */
/*
 * Compiling banned words into a filter (wordfilter.h), and reading word
 * files. Words are normalized into runs of letters (see normalize.h), the
 * letters are renumbered into a small alphabet of the classes that occur
 * in some word, and the words go into an Aho-Corasick trie numbered
 * breadth-first (wordfilter_int.h). The shallow states get full DFA rows
 * (dense table, budget 3 MiB); deeper states keep their sorted children
 * and a failure link. That keeps 10,000 words in a few MiB. Besides each
 * word as written, derived forms enter: the spaced-out spelling of a word
 * with repeats, the two-set keyboard keys of a Hangul word, and the
 * wildcard forms of a Latin word (a second, smaller automaton).
 */
#ifndef _GNU_SOURCE
#define _POSIX_C_SOURCE 200809L /* getline */
#endif
#include "wordfilter.h"

#include "normalize.h"
#include "utf8.h"
#include "wordfilter_int.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DENSE_BUDGET (3u << 20)
#define DENSE_BUDGET_WILD (1u << 16) /* the wildcard filter: scanned on rewritten forms only */
#define WF_MAX_WORDS (1u << 22)

/* Scratch used only while building. */
struct wf_build {
	uint32_t *syms; /* letters, then classes, of all words back to back */
	uint8_t *info;
	size_t nsyms;
	size_t cap;
	struct wf_entry *entries; /* state holds the trie node until renumbering */
	size_t nentries;
	size_t entries_cap;
	uint32_t *first_child; /* trie nodes, linked siblings */
	uint32_t *next_sibling;
	uint16_t *node_cls;
	uint32_t *root_child; /* the root's children by class */
	uint32_t nnodes;
	uint32_t *order; /* BFS order: new id -> node */
	uint32_t *renum; /* node -> new id */
	struct wf_build *wild; /* where WF_WILD forms go; NULL: none made */
};

/* ---- words ---- */

static int grow_syms(struct wf_build *b, size_t need)
{
	if (need <= b->cap) return 0;
	size_t cap = b->cap ? b->cap * 2 : 256;
	while (cap < need) cap *= 2;
	uint32_t *syms = realloc(b->syms, cap * sizeof(*syms));
	if (!syms) return CHAT_ERR_NOMEM;
	b->syms = syms;
	uint8_t *info = realloc(b->info, cap);
	if (!info) return CHAT_ERR_NOMEM;
	b->info = info;
	b->cap = cap;
	return 0;
}

static int push_sym(struct wf_build *b, size_t at, uint32_t cp, uint8_t info)
{
	if (grow_syms(b, at + 1) != 0) return CHAT_ERR_NOMEM;
	b->syms[at] = cp;
	b->info[at] = info;
	return 0;
}

static int push_entry(struct wf_build *b, size_t base, size_t n, uint8_t flags)
{
	if (b->nentries == b->entries_cap) {
		size_t cap = b->entries_cap ? b->entries_cap * 2 : 64;
		struct wf_entry *e = realloc(b->entries, cap * sizeof(*e));
		if (!e) return CHAT_ERR_NOMEM;
		b->entries = e;
		b->entries_cap = cap;
	}
	b->entries[b->nentries++] = (struct wf_entry){.info = (uint32_t)base, .len = (uint16_t)n, .flags = flags};
	b->nsyms = base + n;
	return 0;
}

/*
 * Separators end a run, so "a s s" reads a, s, s and cannot meet the
 * two-s run of "ass". A word with repeats therefore also gets its spelled
 * form, one letter per repeat, where each repeat must follow a separator
 * that passes the spaced-out rule.
 */
static int add_spelled(struct wf_build *b, size_t base, size_t n, uint8_t flags)
{
	size_t at = b->nsyms, total = 0;
	for (size_t p = 0; p < n; p++) total += b->info[base + p] & INFO_COUNT;
	if (total == n || total > WORDFILTER_MAX_WORD) return 0;
	for (size_t p = 0; p < n; p++) {
		uint8_t info = b->info[base + p];
		for (unsigned r = 0; r < (info & INFO_COUNT); r++) {
			uint8_t sp = (uint8_t)(1u | (r == 0 ? (info & INFO_GAP) : INFO_SPLIT));
			if (push_sym(b, at++, b->syms[base + p], sp) != 0) return CHAT_ERR_NOMEM;
		}
	}
	return push_entry(b, at - total, total, flags | WF_SPELLED);
}

/*
 * The keys of the two-set Korean keyboard (KS X 5002), by jamo as the
 * normalizer gives them: initial consonants U+1100.. (finals arrive as
 * initials) and vowels U+1161... Doubled consonants are the shifted key,
 * which case folding makes the plain one.
 */
static const char *const keys_initial[19] = {"r", "r", "s", "e", "e", "f", "a", "q", "q", "t",
					     "t", "d", "w", "w", "c", "z", "x", "v", "g"};
static const char *const keys_vowel[21] = {"k", "o", "i", "o", "j", "p", "u", "p", "h", "hk", "ho",
					   "hl", "y", "n", "nj", "np", "nl", "b", "m", "ml", "l"};

static const char *jamo_keys(uint32_t cp)
{
	if (cp >= 0x1100 && cp <= 0x1112) return keys_initial[cp - 0x1100];
	if (cp >= 0x1161 && cp <= 0x1175) return keys_vowel[cp - 0x1161];
	return NULL;
}

static int add_word_len(struct wf_build *b, const char *word, size_t len, uint8_t flags);

/*
 * A word of Hangul alone also enters as the keys that type it on the
 * two-set layout with the input method off ("시발" as "tlqkf"), so text
 * typed that way costs the scan nothing extra. Such a spelling must start a
 * token: a run of Latin letters that happens to contain it is English.
 */
static int add_keys(struct wf_build *b, size_t base, size_t n, uint8_t flags)
{
	char keys[4 * WORDFILTER_MAX_WORD + 1];
	size_t k = 0;
	for (size_t p = 0; p < n; p++) {
		const char *key = jamo_keys(b->syms[base + p]);
		if (!key) return 0; /* not Hangul alone */
		unsigned reps = b->info[base + p] & INFO_COUNT;
		for (unsigned r = 0; r < (strlen(key) == 1 ? reps : 1u); r++) {
			size_t kl = strlen(key);
			if (k + kl >= sizeof(keys)) return 0;
			memcpy(keys + k, key, kl);
			k += kl;
		}
	}
	keys[k] = '\0';
	int rc = add_word_len(b, keys, k, (uint8_t)(flags | WF_KEYS));
	return rc == CHAT_ERR_TOO_LARGE ? 0 : rc;
}

/*
 * A Latin word of three runs or more also enters with inner runs as one
 * run of NORM_WILD, which the disguise rewriting writes for each "*"
 * between letters: one run that is a vowel or a double ("f*ck", "sh*t",
 * "a**hole"), or two or three runs of any letters in a row ("f**k",
 * "s**t", "b***h"). The wildcard run's count is the letters it stands for
 * (a double counts two), so "a*hole" does not pass for "asshole" nor
 * "f*k" for "fuck". A single star for another consonant ("fu*k") is rare
 * enough not to pay for.
 */
#define WILD_SPAN 3

static bool wild_run(uint32_t c, uint8_t info)
{
	return (info & INFO_COUNT) >= 2 || c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u' || c == 'y';
}

/* The word's runs base[0..n) with runs [w, w + k) as one wildcard run. */
static int add_wild_span(struct wf_build *b, size_t base, size_t n, size_t w, size_t k, uint8_t flags)
{
	struct wf_build *to = b->wild;
	unsigned count = 0;
	for (size_t p = w; p < w + k; p++) {
		if (p > w && (b->info[base + p] & INFO_GAP)) return 0; /* a phrase's space inside the span */
		count += b->info[base + p] & INFO_COUNT;
	}
	size_t at = to->nsyms, m = 0;
	for (size_t p = 0; p < n; p++) {
		uint32_t c = b->syms[base + p];
		uint8_t info = b->info[base + p];
		if (p == w) {
			c = NORM_WILD;
			info = (uint8_t)((info & INFO_GAP) | (count < INFO_COUNT ? count : INFO_COUNT));
		} else if (p > w && p < w + k) {
			continue;
		}
		if (push_sym(to, at + m++, c, info) != 0) return CHAT_ERR_NOMEM;
	}
	return push_entry(to, at, m, flags | WF_WILD);
}

static int add_wild(struct wf_build *b, size_t base, size_t n, uint8_t flags)
{
	if (n < 3 || !b->wild) return 0;
	for (size_t p = 0; p < n; p++) {
		uint32_t c = b->syms[base + p];
		if (c >= 0x80 || ((c | 0x20u) < 'a' || (c | 0x20u) > 'z')) return 0;
	}
	for (size_t w = 1; w + 1 < n; w++) {
		for (size_t k = 1; k <= WILD_SPAN && w + k < n; k++) {
			if (k == 1 && !wild_run(b->syms[base + w], b->info[base + w])) continue;
			int rc = add_wild_span(b, base, n, w, k, flags);
			if (rc != 0) return rc;
		}
	}
	return 0;
}

/*
 * Normalizes one word. With b, appends its letters and entries; without,
 * only checks it.
 */
static int add_word(struct wf_build *b, const char *word, uint8_t flags)
{
	if (!word) return CHAT_ERR_INVAL;
	return add_word_len(b, word, strlen(word), flags);
}

static int add_word_len(struct wf_build *b, const char *word, size_t len, uint8_t flags)
{
	if (!utf8_valid(word, len)) return CHAT_ERR_UTF8;
	if (len > 0 && word[0] == '=') {
		flags |= WF_WHOLE;
		word++, len--;
	}
	struct norm_iter it;
	struct norm_run run;
	size_t base = b ? b->nsyms : 0, n = 0;
	norm_iter_init(&it, word, len);
	while (norm_iter_next(&it, &run)) {
		if (n == WORDFILTER_MAX_WORD) return CHAT_ERR_TOO_LARGE;
		uint8_t info = (uint8_t)((run.count < INFO_COUNT ? run.count : INFO_COUNT) |
					 (n > 0 && run.gap_before ? INFO_GAP : 0));
		if (b && push_sym(b, base + n, run.cp, info) != 0) return CHAT_ERR_NOMEM;
		n++;
	}
	if (n == 0) return CHAT_ERR_INVAL;
	if (!b) return 0;
	if (push_entry(b, base, n, flags) != 0) return CHAT_ERR_NOMEM;
	int rc = add_spelled(b, base, n, flags);
	if (rc == 0 && !(flags & WF_KEYS)) rc = add_keys(b, base, n, flags);
	if (rc == 0 && !(flags & WF_KEYS)) rc = add_wild(b, base, n, flags);
	return rc;
}

int wordfilter_word_check(const char *word)
{
	return add_word(NULL, word, 0);
}

/* ---- alphabet ---- */


/* What fast_pass needs of an ASCII byte, in one word: the letter the
 * normalizer makes of it, its class here, and its flags. */
static void fill_fast_ascii(struct wordfilter *wf)
{
	for (uint32_t b = 0; b < 128; b++) {
		uint32_t out[NORM_MAX_OUT];
		bool gap = true;
		unsigned k = normalize_cp(b, out, &gap);
		uint32_t e;
		if (k == 0) e = gap ? FA_SEP : FA_IGNORE;
		else e = (out[0] & FA_LETTER) | ((uint32_t)wf_class(wf, out[0]) << 16) | FA_NOT_HANGUL |
			 (b >= '0' && b <= '9' ? FA_DIGIT : FA_NOT_DIGIT);
		if (k == 0 && gap && b && strchr("$@!|(+*", (int)b)) e |= FA_SYM;
		wf->fast_ascii[b] = e;
	}
	/* fast_pass reads 16 bytes at a time when the table is the plain one:
	 * A-Z, a-z and 0-9 the only letters (A-Z read as a-z), every other
	 * byte a separator. */
	wf->ascii_plain = true;
	for (uint32_t b = 0; b < 128; b++) {
		bool alpha = (b | 0x20u) >= 'a' && (b | 0x20u) <= 'z', digit = b >= '0' && b <= '9';
		uint32_t e = wf->fast_ascii[b];
		if (alpha || digit) {
			if ((e & (FA_SEP | FA_IGNORE)) || (e & FA_LETTER) != (alpha ? b | 0x20u : b)) wf->ascii_plain = false;
		} else if (!(e & FA_SEP)) {
			wf->ascii_plain = false;
		}
	}
}

/* Words of the bitmap of letters: every code point up to U+10FFFF. */
#define ALPHABET_WORDS (0x110000u / 64)

/* Numbers the distinct letters 1..n and rewrites every word in classes. */
static int build_alphabet(struct wordfilter *wf, struct wf_build *b)
{
	/* The distinct letters in order, from a bitmap of every code point:
	 * 136 KiB, where sorting a copy of all the letters took a third of a
	 * 10,000-word build. */
	uint64_t *seen = calloc(ALPHABET_WORDS, sizeof(*seen));
	if (!seen) return CHAT_ERR_NOMEM;
	size_t n = 0;
	for (size_t i = 0; i < b->nsyms; i++) {
		uint32_t cp = b->syms[i];
		if (cp >= ALPHABET_WORDS * 64u) { /* never from the normalizer */
			free(seen);
			return CHAT_ERR_INVAL;
		}
		uint64_t bit = 1ull << (cp % 64);
		if (!(seen[cp / 64] & bit)) seen[cp / 64] |= bit, n++;
	}
	uint32_t *u = malloc((n + 1) * sizeof(*u));
	if (!u) {
		free(seen);
		return CHAT_ERR_NOMEM;
	}
	n = 0;
	for (uint32_t w = 0; w < ALPHABET_WORDS; w++) {
		for (uint64_t bits = seen[w]; bits; bits &= bits - 1) u[n++] = w * 64 + (uint32_t)__builtin_ctzll(bits);
	}
	free(seen);
	if (n + 1 > UINT16_MAX) {
		free(u);
		return CHAT_ERR_TOO_LARGE;
	}
	wf->ncls = (uint32_t)n + 1;
	wf->other_cp = malloc((n + 1) * sizeof(*wf->other_cp));
	wf->other_cls = malloc((n + 1) * sizeof(*wf->other_cls));
	if (!wf->other_cp || !wf->other_cls) {
		free(u);
		return CHAT_ERR_NOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		uint16_t c = (uint16_t)(i + 1);
		if (u[i] < 128) wf->cls_ascii[u[i]] = c;
		else if (u[i] - 0x1100u < 256) wf->cls_jamo[u[i] - 0x1100u] = c;
		else wf->other_cp[wf->nother] = u[i], wf->other_cls[wf->nother++] = c;
	}
	free(u);
	for (size_t i = 0; i < b->nsyms; i++) b->syms[i] = wf_class(wf, b->syms[i]);
	fill_fast_ascii(wf);
	wf->syllables = normalize_syllable_jamo();
	wf->bytes += (n + 1) * (sizeof(uint32_t) + sizeof(uint16_t));
	return 0;
}

/* ---- trie ---- */

static uint32_t trie_child(const struct wf_build *b, uint32_t node, uint16_t c)
{
	if (node == 0) return b->root_child[c];
	for (uint32_t k = b->first_child[node]; k; k = b->next_sibling[k]) {
		if (b->node_cls[k] == c) return k;
	}
	return 0;
}

static int build_trie(struct wordfilter *wf, struct wf_build *b)
{
	size_t max = b->nsyms + 1;
	if (max > STATE_MASK) return CHAT_ERR_TOO_LARGE; /* state ids and dense flags share 32 bits */
	b->first_child = calloc(max, sizeof(uint32_t));
	b->next_sibling = calloc(max, sizeof(uint32_t));
	b->node_cls = calloc(max, sizeof(uint16_t));
	b->root_child = calloc(wf->ncls, sizeof(uint32_t));
	if (!b->first_child || !b->next_sibling || !b->node_cls || !b->root_child) return CHAT_ERR_NOMEM;
	b->nnodes = 1;
	for (size_t e = 0; e < b->nentries; e++) {
		struct wf_entry *en = &b->entries[e];
		uint32_t node = 0;
		for (uint32_t p = 0; p < en->len; p++) {
			uint16_t c = (uint16_t)b->syms[en->info + p];
			uint32_t next = trie_child(b, node, c);
			if (!next) {
				next = b->nnodes++;
				b->node_cls[next] = c;
				if (node == 0) {
					b->root_child[c] = next;
				} else {
					b->next_sibling[next] = b->first_child[node];
					b->first_child[node] = next;
				}
			}
			node = next;
		}
		en->state = node;
		if (en->len > wf->maxlen) wf->maxlen = en->len;
	}
	return 0;
}

static void sort_children(const struct wf_build *b, uint32_t *kids, uint32_t n)
{
	for (uint32_t i = 1; i < n; i++) {
		uint32_t k = kids[i], j = i;
		for (; j > 0 && b->node_cls[kids[j - 1]] > b->node_cls[k]; j--) kids[j] = kids[j - 1];
		kids[j] = k;
	}
}

/* Renumbers the trie breadth-first: a state's children get consecutive ids. */
static int number_states(struct wordfilter *wf, struct wf_build *b)
{
	uint32_t n = b->nnodes;
	b->order = malloc(n * sizeof(uint32_t));
	b->renum = malloc(n * sizeof(uint32_t));
	wf->child_lo = malloc(((size_t)n + 1) * sizeof(uint32_t));
	wf->in_cls = malloc(n * sizeof(uint16_t));
	if (!b->order || !b->renum || !wf->child_lo || !wf->in_cls) return CHAT_ERR_NOMEM;
	uint32_t tail = 1;
	b->order[0] = 0;
	wf->in_cls[0] = 0;
	for (uint32_t s = 0; s < n; s++) {
		uint32_t node = b->order[s], first = tail;
		b->renum[node] = s;
		wf->child_lo[s] = first;
		if (node == 0) {
			for (uint32_t c = 1; c < wf->ncls; c++) {
				if (b->root_child[c]) b->order[tail++] = b->root_child[c];
			}
		} else {
			for (uint32_t k = b->first_child[node]; k; k = b->next_sibling[k]) b->order[tail++] = k;
			sort_children(b, b->order + first, tail - first);
		}
		for (uint32_t v = first; v < tail; v++) wf->in_cls[v] = b->node_cls[b->order[v]];
	}
	wf->child_lo[n] = tail;
	wf->nstates = n;
	wf->bytes += (size_t)n * (2 * sizeof(uint32_t) + sizeof(uint16_t));
	return 0;
}

/* ---- automaton ---- */

/* A dense cell leading to state t (dense_state reads it back). */
static uint32_t dense_cell(const struct wordfilter *wf, uint32_t t)
{
	return t < wf->ndense ? t * wf->ncls : t | DENSE_SPARSE;
}

/* The row of s: its children, else what its failure state does, whose row
 * is already there (breadth-first, it is shallower). */
static void fill_row(struct wordfilter *wf, uint32_t s)
{
	uint32_t *row = wf->dense + (size_t)s * wf->ncls;
	const uint32_t *back = wf->dense + (size_t)wf->fail[s] * wf->ncls;
	uint32_t v = wf->child_lo[s], end = wf->child_lo[s + 1];
	for (uint32_t c = 0; c < wf->ncls; c++) {
		if (v < end && wf->in_cls[v] == c) row[c] = dense_cell(wf, v++);
		else row[c] = s == 0 ? 0 : back[c];
	}
}

/* Failure links and dense rows, breadth-first so every link points back. */
static int build_links(struct wordfilter *wf)
{
	size_t budget = (wf->is_wild ? DENSE_BUDGET_WILD : DENSE_BUDGET) / (wf->ncls * sizeof(uint32_t));
	wf->ndense = (uint32_t)(budget < 1 ? 1 : budget < wf->nstates ? budget : wf->nstates);
	wf->dense = malloc(((size_t)wf->ndense + 1) * wf->ncls * sizeof(uint32_t));
	wf->fail = malloc(wf->nstates * sizeof(uint32_t));
	if (!wf->dense || !wf->fail) return CHAT_ERR_NOMEM;
	wf->fail[0] = 0;
	for (uint32_t s = 0; s < wf->nstates; s++) {
		for (uint32_t v = wf->child_lo[s]; v < wf->child_lo[s + 1]; v++)
			wf->fail[v] = s == 0 ? 0 : wf_step(wf, wf->fail[s], wf->in_cls[v]);
		if (s < wf->ndense) fill_row(wf, s);
	}
	wf->bytes += ((size_t)wf->ndense + 1) * wf->ncls * sizeof(uint32_t) + wf->nstates * sizeof(uint32_t);
	return 0;
}

/* ---- outputs ---- */

static int cmp_entry(const void *a, const void *b)
{
	const struct wf_entry *x = a, *y = b;
	if (x->state != y->state) return x->state < y->state ? -1 : 1;
	return (x->flags > y->flags) - (x->flags < y->flags);
}

/*
 * Drops repeated words. Sorted by (state, flags), a duplicate sits in the
 * same small group (same letters) and has the same repeat counts and gaps.
 */
static size_t dedup_entries(struct wf_entry *en, size_t n, const uint8_t *info)
{
	size_t out = 0, group = 0;
	for (size_t e = 0; e < n; e++) {
		if (out > 0 && cmp_entry(&en[out - 1], &en[e]) != 0) group = out;
		bool dup = false;
		for (size_t g = group; g < out && !dup; g++)
			dup = memcmp(info + en[g].info, info + en[e].info, en[e].len) == 0;
		if (!dup) en[out++] = en[e];
	}
	return out;
}

static bool own_ban(const struct wordfilter *wf, uint32_t s)
{
	for (uint32_t x = wf->out_lo[s]; x < wf->out_lo[s + 1]; x++) {
		if (!(wf->entries[x].flags & WF_ALLOW)) return true;
	}
	return false;
}

static int build_outputs(struct wordfilter *wf, struct wf_build *b)
{
	for (size_t e = 0; e < b->nentries; e++) b->entries[e].state = b->renum[b->entries[e].state];
	if (b->nentries > 1) qsort(b->entries, b->nentries, sizeof(*b->entries), cmp_entry);
	size_t n = dedup_entries(b->entries, b->nentries, b->info);
	/* The wildcard forms count in the filter of their own (wordfilter.wild). */
	for (size_t e = 0; e < n; e++) wf->nbanned += (b->entries[e].flags & (WF_ALLOW | WF_SPELLED | WF_KEYS)) ? 0 : 1;
	wf->nentries = n;
	wf->entries = b->entries;
	b->entries = NULL;
	wf->out_lo = calloc((size_t)wf->nstates + 1, sizeof(uint32_t));
	wf->term = malloc(wf->nstates * sizeof(uint32_t));
	wf->ban = calloc(((size_t)wf->nstates + 63) / 64, sizeof(uint64_t));
	if (!wf->out_lo || !wf->term || !wf->ban) return CHAT_ERR_NOMEM;
	for (size_t e = 0; e < n; e++) wf->out_lo[wf->entries[e].state + 1]++;
	for (uint32_t s = 0; s < wf->nstates; s++) wf->out_lo[s + 1] += wf->out_lo[s];
	for (uint32_t s = 0; s < wf->nstates; s++) {
		bool own = wf->out_lo[s + 1] > wf->out_lo[s];
		wf->term[s] = own ? s : s == 0 ? 0 : wf->term[wf->fail[s]];
		if (own_ban(wf, s) || (s != 0 && has_ban(wf, wf->fail[s]))) wf->ban[s / 64] |= 1ull << (s % 64);
	}
	/* Flag row targets with hits so the scan skips term[] on most steps, and
	 * what the first pass must stop for. The deep row stands for every
	 * state without a row of its own: the first pass keeps such a state
	 * aside and steps it through wf_step. */
	size_t cells = (size_t)wf->ndense * wf->ncls;
	for (size_t x = 0; x < cells; x++) {
		uint32_t t = dense_state(wf, wf->dense[x]);
		wf->dense[x] |= (wf->term[t] ? DENSE_OUT : 0) | (has_ban(wf, t) ? DENSE_BAN : 0);
	}
	for (size_t x = cells; x < cells + wf->ncls; x++) wf->dense[x] = DENSE_SPARSE;
	wf->info = b->info;
	b->info = NULL;
	wf->bytes += n * sizeof(struct wf_entry) + b->nsyms + (size_t)wf->nstates * 2 * sizeof(uint32_t) +
		     ((size_t)wf->nstates + 63) / 64 * sizeof(uint64_t);
	return 0;
}

/* ---- build ---- */

static void build_free(struct wf_build *b)
{
	free(b->syms);
	free(b->info);
	free(b->entries);
	free(b->first_child);
	free(b->next_sibling);
	free(b->node_cls);
	free(b->root_child);
	free(b->order);
	free(b->renum);
}

static int build_words(struct wf_build *b, const char *const *w, size_t n, uint8_t flags)
{
	if (n > 0 && !w) return CHAT_ERR_INVAL;
	for (size_t i = 0; i < n; i++) {
		int rc = add_word(b, w[i], flags);
		if (rc != 0) return rc;
	}
	return 0;
}

static int build_all(struct wordfilter *wf, struct wf_build *b)
{
	wf->bytes = sizeof(*wf);
	int rc = build_alphabet(wf, b);
	if (rc == 0) rc = build_trie(wf, b);
	if (rc == 0) rc = number_states(wf, b);
	if (rc == 0) rc = build_links(wf);
	if (rc == 0) rc = build_outputs(wf, b);
	return rc;
}

/*
 * The wildcard forms go into a filter of their own, so that the automaton
 * every message runs through keeps the size of the list: only a rewriting
 * that holds NORM_WILD is scanned with both. That filter also has the
 * allowlist, which must be able to cover its hits.
 */
static int build_wild(struct wordfilter *wf, struct wf_build *bw, const char *const *allow, size_t nallow)
{
	if (bw->nentries == 0) return 0;
	int rc = build_words(bw, allow, nallow, WF_ALLOW);
	if (rc != 0) return rc;
	wf->wild = calloc(1, sizeof(*wf->wild));
	if (!wf->wild) return CHAT_ERR_NOMEM;
	wf->wild->is_wild = true;
	rc = build_all(wf->wild, bw);
	if (rc == 0) wf->bytes += wf->wild->bytes;
	return rc;
}

struct wordfilter *wordfilter_build(const char *const *words, size_t nwords, const char *const *allow,
				    size_t nallow, int *err)
{
	struct wf_build b = {0}, bw = {0};
	struct wordfilter *wf = calloc(1, sizeof(*wf));
	int rc = CHAT_ERR_NOMEM;
	if (!wf) goto cleanup;
	rc = CHAT_ERR_TOO_LARGE; /* keeps the build's counts in range (build_trie checks the states) */
	if (nwords > WF_MAX_WORDS || nallow > WF_MAX_WORDS) goto cleanup;
	normalize_init();
	b.wild = &bw;
	rc = build_words(&b, words, nwords, 0);
	if (rc == 0) rc = build_words(&b, allow, nallow, WF_ALLOW);
	if (rc == 0) rc = build_all(wf, &b);
	if (rc == 0) rc = build_wild(wf, &bw, allow, nallow);
cleanup:
	build_free(&b);
	build_free(&bw);
	if (rc != 0) {
		wordfilter_free(wf);
		wf = NULL;
	}
	if (err) *err = rc;
	return wf;
}

void wordfilter_free(struct wordfilter *wf)
{
	if (!wf) return;
	wordfilter_free(wf->wild);
	free(wf->other_cp);
	free(wf->other_cls);
	free(wf->dense);
	free(wf->child_lo);
	free(wf->in_cls);
	free(wf->fail);
	free(wf->term);
	free(wf->out_lo);
	free(wf->ban);
	free(wf->entries);
	free(wf->info);
	free(wf);
}

size_t wordfilter_count(const struct wordfilter *wf)
{
	return wf ? wf->nbanned : 0;
}

size_t wordfilter_memory(const struct wordfilter *wf)
{
	return wf ? wf->bytes : 0;
}

/* ---- word files ---- */

static const char *reason(int rc)
{
	switch (rc) {
	case CHAT_ERR_UTF8:
		return "invalid UTF-8";
	case CHAT_ERR_TOO_LARGE:
		return "entry longer than 64 letters";
	case CHAT_ERR_NOMEM:
		return "out of memory";
	default:
		return "entry has no letters";
	}
}

static char *trim(char *s, size_t *len)
{
	while (*len > 0 && (s[*len - 1] == '\n' || s[*len - 1] == '\r' || s[*len - 1] == ' ' ||
			    s[*len - 1] == '\t'))
		(*len)--;
	while (*len > 0 && (*s == ' ' || *s == '\t')) s++, (*len)--;
	s[*len] = '\0';
	return s;
}

static int append_word(char ***words, size_t *nwords, const char *s, size_t len)
{
	char *copy = malloc(len + 1);
	if (!copy) return CHAT_ERR_NOMEM;
	memcpy(copy, s, len + 1);
	char **grown = realloc(*words, (*nwords + 1) * sizeof(char *));
	if (!grown) {
		free(copy);
		return CHAT_ERR_NOMEM;
	}
	grown[(*nwords)++] = copy;
	*words = grown;
	return 0;
}

static int load_lines(FILE *f, const char *path, char ***words, size_t *nwords, char *errbuf, size_t errlen)
{
	char *line = NULL;
	size_t cap = 0;
	unsigned long lineno = 0;
	int rc = 0;
	for (;;) {
		ssize_t got = getline(&line, &cap, f);
		if (got < 0) break;
		lineno++;
		size_t len = (size_t)got;
		char *s = trim(line, &len);
		if (len == 0 || s[0] == '#') continue;
		/* A NUL byte would cut the entry short where C strings read it. */
		bool nul = memchr(s, '\0', len) != NULL;
		rc = nul ? CHAT_ERR_INVAL : wordfilter_word_check(s);
		if (rc == 0) rc = append_word(words, nwords, s, len);
		if (rc != 0) {
			const char *why = nul ? "holds a NUL byte" : reason(rc);
			if (errbuf && errlen) snprintf(errbuf, errlen, "%s:%lu: %s", path, lineno, why);
			break;
		}
	}
	if (rc == 0 && ferror(f)) {
		rc = CHAT_ERR_IO;
		if (errbuf && errlen) snprintf(errbuf, errlen, "%s:%lu: read error", path, lineno);
	}
	free(line);
	return rc;
}

int wordfilter_load_file(const char *path, char ***words, size_t *nwords, char *errbuf, size_t errlen)
{
	if (!path || !words || !nwords) return CHAT_ERR_INVAL;
	FILE *f = fopen(path, "r");
	if (!f) {
		if (errbuf && errlen) snprintf(errbuf, errlen, "%s:0: cannot open", path);
		return CHAT_ERR_IO;
	}
	size_t before = *nwords;
	int rc = load_lines(f, path, words, nwords, errbuf, errlen);
	fclose(f);
	if (rc != 0) {
		for (size_t i = before; i < *nwords; i++) free((*words)[i]);
		*nwords = before;
	}
	return rc;
}

void wordfilter_words_free(char **words, size_t nwords)
{
	if (!words) return;
	for (size_t i = 0; i < nwords; i++) free(words[i]);
	free(words);
}
