/* SPDX-License-Identifier: MIT */
/*
 * Banned-word matching. Words are normalized into runs of letters (see
 * normalize.h), the letters are renumbered into a small alphabet of the
 * classes that occur in some word (class 0 = any other letter), and the
 * words go into an Aho-Corasick trie numbered breadth-first. The shallow
 * states, where a scan spends nearly all its time, get full DFA rows
 * (dense table, budget 1 MiB); deeper states keep their sorted children
 * and a failure link. That keeps 10,000 words in a few MiB.
 *
 * A scan reads the text as runs, so repeats are collapsed, and separators
 * are invisible to the automaton: they only leave a flag on the next run.
 * Each candidate hit is then checked against what the automaton cannot
 * see: the word's minimum repeat counts, whole-word edges, and the rule
 * for separators the user inserted (see spaced_out). Allowlist hits are
 * collected in the same pass; a banned hit inside one is dropped.
 *
 * Most texts hit nothing, so a scan starts with a first pass that costs
 * little: the automaton over the bare letters of norm_reader (no offsets,
 * no window), hashing the repeat fingerprint on the way. Only when a banned
 * entry ends somewhere and passes the rules that can be checked on the
 * last letters (counts, separators after a long token, whole word) does
 * the full scan below run, so its result is the only result.
 *
 * Masking: the hit's span reaches from the first to the last code point
 * that produced its letters, and every code point in it becomes one '*'
 * (so the dots of "b.a.d" are masked too). For Hangul, a run of one jamo
 * can straddle two syllables (the final ㄹ of 발 and the initial ㄹ of 라 in
 * "발라"), so the edge of a Hangul hit stops at the syllable it needs.
 */
#ifndef _GNU_SOURCE
#define _POSIX_C_SOURCE 200809L /* getline */
#endif
#include "wordfilter.h"

#include "disguise.h"
#include "normalize.h"
#include "utf8.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WF_ALLOW 0x01u
#define WF_WHOLE 0x02u
#define WF_SPELLED 0x04u  /* the spaced-out spelling of a word with repeats */
#define WF_KEYS 0x08u     /* a Hangul word as typed on a two-set keyboard: starts a token */
#define WF_WILD 0x10u     /* a Latin word with one letter run as NORM_WILD ("f*ck") */
#define WF_DERIVED (WF_SPELLED | WF_KEYS | WF_WILD)
#define INFO_GAP 0x80u    /* the word itself has a space before this letter */
#define INFO_SPLIT 0x40u  /* a repeat that the text must space out ("a s s") */
#define INFO_COUNT 0x3Fu  /* minimum repeat count of this letter */
#define DENSE_BUDGET (1u << 20)
#define DENSE_BUDGET_WILD (1u << 16) /* the wildcard filter: scanned on rewritten forms only */
#define DENSE_OUT 0x80000000u /* in a dense row: the target state has hits */
#define STATE_MASK 0x7FFFFFFFu
#define WIN 512 /* runs per scan window */
#define WF_MAX_WORDS (1u << 22)

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
	uint32_t *other_cp;     /* sorted letters outside those two ranges */
	uint16_t *other_cls;
	size_t nother;
	uint32_t nstates;
	uint32_t ndense;   /* states [0, ndense) have a dense row */
	uint32_t *dense;   /* ndense * ncls */
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
 * A Latin word of three runs or more also enters once per inner run that
 * is a vowel or a double with that run as NORM_WILD, which the disguise
 * rewriting writes for "*" between letters: "f*ck", "sh*t", "a**hole" (the
 * wildcard run keeps the count, so "a*hole" does not pass for it). Stars
 * for other consonants ("fu*k") are rare enough not to pay for.
 */
static bool wild_run(uint32_t c, uint8_t info)
{
	return (info & INFO_COUNT) >= 2 || c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u' || c == 'y';
}

static int add_wild(struct wf_build *b, size_t base, size_t n, uint8_t flags)
{
	struct wf_build *to = b->wild;
	if (n < 3 || !to) return 0;
	for (size_t p = 0; p < n; p++) {
		uint32_t c = b->syms[base + p];
		if (c >= 0x80 || ((c | 0x20u) < 'a' || (c | 0x20u) > 'z')) return 0;
	}
	for (size_t w = 1; w + 1 < n; w++) {
		if (!wild_run(b->syms[base + w], b->info[base + w])) continue;
		size_t at = to->nsyms;
		for (size_t p = 0; p < n; p++) {
			if (push_sym(to, at + p, p == w ? NORM_WILD : b->syms[base + p], b->info[base + p]) != 0)
				return CHAT_ERR_NOMEM;
		}
		if (push_entry(to, at, n, flags | WF_WILD) != 0) return CHAT_ERR_NOMEM;
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

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

static uint16_t wf_class(const struct wordfilter *wf, uint32_t cp)
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

#define FA_LETTER 0x7Fu
#define FA_SEP 0x100u     /* a separator */
#define FA_SYM 0x200u     /* a separator that disguise.h may read as a letter */
#define FA_DIGIT 0x400u   /* a digit: a letter of its own kind */
#define FA_HANGUL 0x800u  /* (for jamo, not in the table) */
#define FA_IGNORE 0x1000u /* neither letter nor separator */

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
		else e = (out[0] & FA_LETTER) | ((uint32_t)wf_class(wf, out[0]) << 16) | (b >= '0' && b <= '9' ? FA_DIGIT : 0);
		if (k == 0 && gap && b && strchr("$@!|(+*", (int)b)) e |= FA_SYM;
		wf->fast_ascii[b] = e;
	}
}

/* Numbers the distinct letters 1..n and rewrites every word in classes. */
static int build_alphabet(struct wordfilter *wf, struct wf_build *b)
{
	uint32_t *u = malloc((b->nsyms + 1) * sizeof(*u));
	if (!u) return CHAT_ERR_NOMEM;
	if (b->nsyms > 0) memcpy(u, b->syms, b->nsyms * sizeof(*u));
	qsort(u, b->nsyms, sizeof(*u), cmp_u32);
	size_t n = 0;
	for (size_t i = 0; i < b->nsyms; i++) {
		if (n == 0 || u[n - 1] != u[i]) u[n++] = u[i];
	}
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

static uint32_t wf_child(const struct wordfilter *wf, uint32_t s, uint16_t c)
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

static inline uint32_t wf_step(const struct wordfilter *wf, uint32_t s, uint16_t c)
{
	if (c == 0) return 0;
	for (;;) {
		if (s < wf->ndense) return wf->dense[(size_t)s * wf->ncls + c] & STATE_MASK;
		uint32_t v = wf_child(wf, s, c);
		if (v) return v;
		s = wf->fail[s];
	}
}

static void fill_row(struct wordfilter *wf, uint32_t s)
{
	uint32_t *row = wf->dense + (size_t)s * wf->ncls;
	uint32_t v = wf->child_lo[s], end = wf->child_lo[s + 1];
	for (uint32_t c = 0; c < wf->ncls; c++) {
		if (v < end && wf->in_cls[v] == c) row[c] = v++;
		else row[c] = s == 0 ? 0 : wf_step(wf, wf->fail[s], (uint16_t)c);
	}
}

/* Failure links and dense rows, breadth-first so every link points back. */
static int build_links(struct wordfilter *wf)
{
	size_t budget = (wf->is_wild ? DENSE_BUDGET_WILD : DENSE_BUDGET) / (wf->ncls * sizeof(uint32_t));
	wf->ndense = (uint32_t)(budget < 1 ? 1 : budget < wf->nstates ? budget : wf->nstates);
	wf->dense = malloc((size_t)wf->ndense * wf->ncls * sizeof(uint32_t));
	wf->fail = malloc(wf->nstates * sizeof(uint32_t));
	if (!wf->dense || !wf->fail) return CHAT_ERR_NOMEM;
	wf->fail[0] = 0;
	for (uint32_t s = 0; s < wf->nstates; s++) {
		for (uint32_t v = wf->child_lo[s]; v < wf->child_lo[s + 1]; v++)
			wf->fail[v] = s == 0 ? 0 : wf_step(wf, wf->fail[s], wf->in_cls[v]);
		if (s < wf->ndense) fill_row(wf, s);
	}
	wf->bytes += (size_t)wf->ndense * wf->ncls * sizeof(uint32_t) + wf->nstates * sizeof(uint32_t);
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

static inline bool has_ban(const struct wordfilter *wf, uint32_t s)
{
	return (wf->ban[s / 64] >> (s % 64)) & 1u;
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
	/* Flag row targets with hits so the scan skips term[] on most steps. */
	for (size_t x = 0; x < (size_t)wf->ndense * wf->ncls; x++)
		wf->dense[x] |= wf->term[wf->dense[x]] ? DENSE_OUT : 0;
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
	rc = CHAT_ERR_TOO_LARGE; /* keeps state ids within 31 bits */
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

/* ---- scan ---- */

#define F_GAP 0x01u    /* a separator lies before this run */
#define F_START 0x02u  /* first run of a token */
#define F_END 0x04u    /* last run of a token */
#define F_SHORT 0x08u  /* its token may be a spaced-out letter */
#define F_HANGUL 0x10u

/* Runs of the text being scanned, one window at a time. */
struct wf_window {
	uint32_t n;
	uint16_t cls[WIN];
	uint16_t count[WIN];
	uint8_t flags[WIN];
	uint32_t first_start[WIN];
	uint32_t first_end[WIN];
	uint32_t last_start[WIN];
	uint32_t last_end[WIN];
	int16_t ban_end[WIN]; /* longest banned hit starting at this run, -1 = none */
	int16_t allow_end[WIN];
	uint32_t ban_ms[WIN]; /* its bytes to mask */
	uint32_t ban_me[WIN];
};

struct wf_scan {
	const struct wordfilter *wf;
	const char *text;
	size_t len;
	struct norm_iter it;
	int32_t tok_first; /* window index of the current token's first run; -1 if gone */
	uint32_t tok_letters;
	bool tok_hangul;
	bool any_run;
	bool any_ban;
	int hits;
	size_t hit_end; /* end of the last kept hit, in text bytes */
	char *out;
	size_t done; /* text bytes already written to out */
	size_t wr;
	struct wf_window w;
};

/*
 * A token is a maximal group of runs with no separator inside and one
 * script. One letter (two for Hangul: a syllable plus a stray jamo, as in
 * "시ㅂ ㅏㄹ") is what someone spacing out a word types between separators.
 */
static void end_token(struct wf_scan *sc, uint32_t last)
{
	struct wf_window *w = &sc->w;
	w->flags[last] |= F_END;
	if (sc->tok_first < 0 || sc->tok_letters > (sc->tok_hangul ? 2u : 1u)) return;
	for (uint32_t k = (uint32_t)sc->tok_first; k <= last; k++) w->flags[k] |= F_SHORT;
}

static void add_run(struct wf_scan *sc, const struct norm_run *r)
{
	struct wf_window *w = &sc->w;
	uint32_t i = w->n++;
	bool hangul = normalize_is_hangul(r->cp);
	bool edge = !sc->any_run || r->gap_before || hangul != sc->tok_hangul;
	if (edge) {
		if (sc->any_run) end_token(sc, i - 1);
		sc->tok_first = (int32_t)i;
		sc->tok_letters = 0;
		sc->tok_hangul = hangul;
	}
	sc->any_run = true;
	if (sc->tok_letters < 1000) sc->tok_letters += r->letters;
	w->cls[i] = wf_class(sc->wf, r->cp);
	w->count[i] = (uint16_t)(r->count < UINT16_MAX ? r->count : UINT16_MAX);
	w->flags[i] = (uint8_t)((r->gap_before ? F_GAP : 0) | (edge ? F_START : 0) | (hangul ? F_HANGUL : 0));
	w->first_start[i] = (uint32_t)r->first_start;
	w->first_end[i] = (uint32_t)r->first_end;
	w->last_start[i] = (uint32_t)r->last_start;
	w->last_end[i] = (uint32_t)r->last_end;
	w->ban_end[i] = w->allow_end[i] = -1;
}

/* Reads runs until the window is full; false once the text is used up. */
static bool fill(struct wf_scan *sc)
{
	struct norm_run r;
	while (sc->w.n < WIN) {
		if (!norm_iter_next(&sc->it, &r)) {
			if (sc->w.n > 0) end_token(sc, sc->w.n - 1);
			return false;
		}
		add_run(sc, &r);
	}
	return true;
}

/*
 * A separator the word does not have is seen through only between
 * spaced-out letters: the tokens on both sides must be short and lie inside
 * the hit. So "b a d" and "나 쁜" hit, but "I am a dog" does not hit "ad",
 * nor "pen is" a banned "penis".
 */
static bool spaced_out(const struct wf_window *w, uint32_t i, uint32_t j, uint32_t k)
{
	if (!(w->flags[k - 1] & F_SHORT) || !(w->flags[k] & F_SHORT)) return false;
	uint32_t a = k - 1, z = k;
	while (a > i && !(w->flags[a] & F_START)) a--;
	while (z < j && !(w->flags[z] & F_END)) z++;
	return (w->flags[a] & F_START) && (w->flags[z] & F_END);
}

static bool hit_ok(const struct wf_window *w, const struct wf_entry *e, const uint8_t *info, uint32_t i,
		   uint32_t j)
{
	if ((e->flags & WF_WHOLE) && !((w->flags[i] & F_START) && (w->flags[j] & F_END))) return false;
	if ((e->flags & WF_KEYS) && !(w->flags[i] & F_START)) return false;
	for (uint32_t p = 0; p < e->len; p++) {
		uint32_t k = i + p;
		if (w->count[k] < (info[p] & INFO_COUNT)) return false;
		if (info[p] & INFO_SPLIT) {
			if (!(w->flags[k] & F_GAP) || !spaced_out(w, i, j, k)) return false;
		} else if (p > 0 && (w->flags[k] & F_GAP) && !(info[p] & INFO_GAP) && !spaced_out(w, i, j, k)) {
			return false;
		}
	}
	return true;
}

static void record_ban(struct wf_scan *sc, const uint8_t *info, uint32_t len, uint32_t i, uint32_t j)
{
	struct wf_window *w = &sc->w;
	uint32_t ms = w->first_start[i], me = w->last_end[j];
	if (i != j && (w->flags[i] & F_HANGUL) && (info[0] & INFO_COUNT) <= 1) ms = w->last_start[i];
	if (i != j && (w->flags[j] & F_HANGUL) && (info[len - 1] & INFO_COUNT) <= 1) me = w->first_end[j];
	if (w->ban_end[i] < 0) {
		w->ban_ms[i] = ms;
		w->ban_me[i] = me;
	}
	if (ms < w->ban_ms[i]) w->ban_ms[i] = ms;
	if (me > w->ban_me[i]) w->ban_me[i] = me;
	if ((int32_t)j > w->ban_end[i]) w->ban_end[i] = (int16_t)j;
	sc->any_ban = true;
}

static void check_hits(struct wf_scan *sc, uint32_t state, uint32_t j)
{
	const struct wordfilter *wf = sc->wf;
	for (uint32_t t = wf->term[state]; t; t = wf->term[wf->fail[t]]) {
		for (uint32_t x = wf->out_lo[t]; x < wf->out_lo[t + 1]; x++) {
			const struct wf_entry *e = &wf->entries[x];
			const uint8_t *info = wf->info + e->info;
			uint32_t i = j + 1 - e->len;
			if (!hit_ok(&sc->w, e, info, i, j)) continue;
			if (!(e->flags & WF_ALLOW)) record_ban(sc, info, e->len, i, j);
			else if ((int32_t)j > sc->w.allow_end[i]) sc->w.allow_end[i] = (int16_t)j;
		}
	}
}

static void scan_window(struct wf_scan *sc)
{
	const struct wordfilter *wf = sc->wf;
	uint32_t s = 0;
	for (uint32_t j = 0; j < sc->w.n; j++) {
		uint16_t c = sc->w.cls[j];
		if (s < wf->ndense) {
			uint32_t v = wf->dense[(size_t)s * wf->ncls + c];
			s = v & STATE_MASK;
			if (!(v & DENSE_OUT)) continue;
		} else {
			s = wf_step(wf, s, c);
			if (!wf->term[s]) continue;
		}
		check_hits(sc, s, j);
	}
}

static size_t cp_len(const char *s, size_t len)
{
	uint32_t cp;
	if ((unsigned char)s[0] < 0x80) return 1;
	size_t n = utf8_decode(s, len, &cp);
	return n ? n : 1;
}

/* Copies text up to ms, then writes one '*' per code point up to me. */
static void emit_mask(struct wf_scan *sc, size_t ms, size_t me)
{
	if (ms > sc->done) {
		memcpy(sc->out + sc->wr, sc->text + sc->done, ms - sc->done);
		sc->wr += ms - sc->done;
		sc->done = ms;
	}
	while (sc->done < me) {
		sc->out[sc->wr++] = '*';
		sc->done += cp_len(sc->text + sc->done, sc->len - sc->done);
	}
}

/* Keeps banned hits that start in [lo, hi) and no allowlisted hit covers. */
static void resolve(struct wf_scan *sc, uint32_t lo, uint32_t hi)
{
	const struct wf_window *w = &sc->w;
	int32_t allow = -1;
	for (uint32_t i = 0; i < hi; i++) {
		if (w->allow_end[i] > allow) allow = w->allow_end[i];
		if (i < lo || w->ban_end[i] < 0 || w->ban_end[i] <= allow) continue;
		/* Overlapping hits ("bad" and "ad" in "bad") count once. */
		if (w->ban_ms[i] >= sc->hit_end && sc->hits < INT_MAX) sc->hits++;
		if (w->ban_me[i] > sc->hit_end) sc->hit_end = w->ban_me[i];
		if (sc->out) emit_mask(sc, w->ban_ms[i], w->ban_me[i]);
	}
}

/* Moves runs [from, n) to the front for the next window, to be rescanned. */
static void shift(struct wf_scan *sc, uint32_t from)
{
	struct wf_window *w = &sc->w;
	uint32_t keep = w->n - from;
	memmove(w->cls, w->cls + from, keep * sizeof(w->cls[0]));
	memmove(w->count, w->count + from, keep * sizeof(w->count[0]));
	memmove(w->flags, w->flags + from, keep);
	memmove(w->first_start, w->first_start + from, keep * sizeof(uint32_t));
	memmove(w->first_end, w->first_end + from, keep * sizeof(uint32_t));
	memmove(w->last_start, w->last_start + from, keep * sizeof(uint32_t));
	memmove(w->last_end, w->last_end + from, keep * sizeof(uint32_t));
	for (uint32_t k = 0; k < keep; k++) w->ban_end[k] = w->allow_end[k] = -1;
	w->n = keep;
	sc->tok_first = sc->tok_first >= (int32_t)from ? sc->tok_first - (int32_t)from : -1;
}

/*
 * Windows overlap by twice the longest word plus slack: a window decides
 * only the hits that start in its middle part, where every hit, every
 * allowlisted hit around it and the runs beside it are wholly inside.
 */
static void scan_text(struct wf_scan *sc)
{
	uint32_t margin = sc->wf->maxlen + 8;
	bool first = true, more = true;
	while (more) {
		more = fill(sc);
		uint32_t lo = first ? 0 : margin;
		uint32_t hi = more ? sc->w.n - margin : sc->w.n;
		sc->any_ban = false;
		scan_window(sc);
		if (sc->any_ban) resolve(sc, lo, hi);
		if (more) shift(sc, hi - margin);
		first = false;
	}
}

#define FAST_BATCH 128
#define HIST 256 /* letters kept from earlier batches for fast_verify */
#define RING 128 /* > the longest entry (WORDFILTER_MAX_WORD, spelled forms too) */
#define RC_LETTERS 0x10000u /* in wf_ring.rc: one code point started in the run */

/*
 * The last runs before a candidate hit, rebuilt from the letters the first
 * pass keeps (newest first: run 0 is the candidate's last run). Per run its
 * first letter as the reader gave it (flags included) and its count plus,
 * times RC_LETTERS, the code points that start in it. cut: the letters
 * kept do not reach back to the text's start, so the oldest run may be
 * incomplete; it is then taken as long as can be, after a separator.
 */
struct wf_ring {
	uint32_t n;
	bool cut;
	uint32_t x[RING];
	uint32_t rc[RING];
};

/* Rebuilds up to depth runs that end before letter end of buf[0..end). */
static void ring_fill(struct wf_ring *r, const uint32_t *buf, size_t end, bool cut, uint32_t depth)
{
	r->n = 0;
	r->cut = false;
	size_t m = end;
	while (m > 0 && r->n < depth) {
		uint32_t l = buf[m - 1] & NORM_L_CP, count = 0, letters = 0;
		for (;;) { /* back to the run's first letter */
			m--;
			count += count < UINT16_MAX ? 1u : 0u;
			letters += (buf[m] & NORM_L_FRESH) && letters < 1000 ? 1u : 0u;
			if (m == 0 || (buf[m] & NORM_L_GAP) || (buf[m - 1] & NORM_L_CP) != l) break;
		}
		r->x[r->n] = buf[m];
		r->rc[r->n] = count + letters * RC_LETTERS;
		r->n++;
	}
	if (m == 0 && cut && r->n > 0) {
		r->cut = true;
		r->x[r->n - 1] |= NORM_L_GAP;
		r->rc[r->n - 1] |= UINT16_MAX;
	}
}

static bool ring_hangul(const struct wf_ring *r, uint32_t k)
{
	uint32_t l = r->x[k] & NORM_L_CP;
	return l >= 0x1100 && normalize_is_hangul(l);
}

/* Run k starts a token (F_START). */
static bool ring_start(const struct wf_ring *r, uint32_t k)
{
	return k + 1 >= r->n || (r->x[k] & NORM_L_GAP) || ring_hangul(r, k) != ring_hangul(r, k + 1);
}

/* The token that ends with run k + 1 (the one before k) is short (F_SHORT);
 * true also when the runs at hand do not reach its start: the cautious
 * answer. */
static bool ring_prev_short(const struct wf_ring *r, uint32_t k)
{
	uint32_t letters = 0, limit = ring_hangul(r, k + 1) ? 2u : 1u;
	for (uint32_t j = k + 1; j < r->n; j++) {
		letters += r->rc[j] / RC_LETTERS;
		if (letters > limit) return false;
		if (ring_start(r, j)) return true;
	}
	return true;
}

/* The rules of hit_ok that the first pass can check: all but the shortness
 * of the token after a separator. A hit hit_ok takes passes this too. */
static bool fast_hit_ok(const struct wf_ring *r, const struct wf_entry *e, const uint8_t *info, bool end)
{
	if (e->len > r->n) return r->cut;
	uint32_t i = e->len - 1; /* the entry's first run */
	if ((e->flags & WF_WHOLE) && !(end && ring_start(r, i))) return false;
	if ((e->flags & WF_KEYS) && !ring_start(r, i)) return false;
	for (uint32_t p = 0; p < e->len; p++) {
		uint32_t k = i - p;
		if ((r->rc[k] & 0xFFFFu) < (info[p] & INFO_COUNT)) return false;
		bool gap = r->x[k] & NORM_L_GAP;
		if ((info[p] & INFO_SPLIT) && (!gap || !ring_prev_short(r, k))) return false;
		if (p > 0 && gap && !(info[p] & (INFO_GAP | INFO_SPLIT)) && !ring_prev_short(r, k)) return false;
	}
	return true;
}

/*
 * The run before buf[end], ending in state s, is complete: true when a
 * banned entry it ends passes fast_hit_ok. end_tok: the run ends its token.
 */
static bool fast_verify(const struct wordfilter *wf, uint32_t s, const uint32_t *buf, size_t end, bool cut,
			bool end_tok)
{
	struct wf_ring r;
	uint32_t depth = 0;
	for (uint32_t t = wf->term[s]; t; t = wf->term[wf->fail[t]]) {
		for (uint32_t x = wf->out_lo[t]; x < wf->out_lo[t + 1]; x++)
			depth = wf->entries[x].len > depth ? wf->entries[x].len : depth;
	}
	/* Deeper runs only matter to token rules, which take the cautious answer
	 * when the runs at hand end. */
	ring_fill(&r, buf, end, cut, depth + 2);
	for (uint32_t t = wf->term[s]; t; t = wf->term[wf->fail[t]]) {
		for (uint32_t x = wf->out_lo[t]; x < wf->out_lo[t + 1]; x++) {
			const struct wf_entry *e = &wf->entries[x];
			if (!(e->flags & WF_ALLOW) && fast_hit_ok(&r, e, wf->info + e->info, end_tok)) return true;
		}
	}
	return false;
}

static bool is_hangul(uint32_t l)
{
	return l >= 0x1100 && normalize_is_hangul(l);
}

/*
 * The pass that decides most texts: the automaton over the letters,
 * decoded right from the bytes (ASCII through fast_ascii, Hangul syllables
 * by arithmetic, anything else through normalize_cp) into the same
 * letters, runs, fingerprint and kind flags that first_pass below reads
 * through norm_reader, but without a buffer, a history or a check of
 * candidates. It gives up, returning false, at the first state where a
 * banned entry ends, and first_pass then reads the text again and looks
 * closer; for a text where none ends anywhere it decides alone.
 */
struct fast {
	const struct wordfilter *wf;
	uint32_t s;        /* automaton state */
	uint32_t last;     /* last letter, 0 before the first */
	uint32_t gap;      /* FA_SEP, FA_SYM since the last letter */
	uint32_t any, all; /* kinds and flags of the letters, OR and AND */
	uint64_t h;        /* normalize_print's hash */
};

/* One letter of class c and kind (FA_DIGIT, FA_HANGUL or 0); false when a
 * banned entry may end on it. Always inlined: f stays in registers. */
__attribute__((always_inline)) static inline bool fast_letter(struct fast *f, uint32_t l, uint16_t c, uint32_t kind)
{
	const struct wordfilter *wf = f->wf;
	uint32_t gap = f->gap;
	f->gap = 0;
	f->any |= kind | gap;
	f->all &= kind;
	if (l == f->last && !gap) return true; /* the same run */
	if (l != f->last) f->h = normalize_hash_letter(f->h, l);
	f->last = l;
	if (f->s < wf->ndense) {
		uint32_t v = wf->dense[(size_t)f->s * wf->ncls + c];
		f->s = v & STATE_MASK;
		return !(v & DENSE_OUT) || !has_ban(wf, f->s);
	}
	f->s = wf_step(wf, f->s, c);
	return !wf->term[f->s] || !has_ban(wf, f->s);
}

#define SCOUNT_FAST 11172u /* Hangul syllables from U+AC00 */

/* Final consonants as initials, as in normalize.c. */
static const uint16_t fast_jong[28][2] = {
	{0, 0},           {0x1100, 0},      {0x1101, 0},      {0x1100, 0x1109}, {0x1102, 0},
	{0x1102, 0x110C}, {0x1102, 0x1112}, {0x1103, 0},      {0x1105, 0},      {0x1105, 0x1100},
	{0x1105, 0x1106}, {0x1105, 0x1107}, {0x1105, 0x1109}, {0x1105, 0x1110}, {0x1105, 0x1111},
	{0x1105, 0x1112}, {0x1106, 0},      {0x1107, 0},      {0x1107, 0x1109}, {0x1109, 0},
	{0x110A, 0},      {0x110B, 0},      {0x110C, 0},      {0x110E, 0},      {0x110F, 0},
	{0x1110, 0},      {0x1111, 0},      {0x1112, 0},
};

/* A Hangul syllable (index syl from U+AC00) as norm_reader gives it. */
__attribute__((always_inline)) static inline bool fast_syllable(struct fast *f, uint32_t syl)
{
	const uint16_t *jamo = f->wf->cls_jamo;
	uint32_t lead = 0x1100u + syl / 588, vowel = 0x1161u + (syl % 588) / 28, t = syl % 28;
	/* "시이이발": a silent ㅇ before the vowel just read only stretches it. */
	if (!(lead == 0x110Bu && !f->gap && vowel == f->last) && !fast_letter(f, lead, jamo[lead - 0x1100u], FA_HANGUL))
		return false;
	if (!fast_letter(f, vowel, jamo[vowel - 0x1100u], FA_HANGUL)) return false;
	if (t == 0) return true;
	if (!fast_letter(f, fast_jong[t][0], jamo[fast_jong[t][0] - 0x1100u], FA_HANGUL)) return false;
	return !fast_jong[t][1] || fast_letter(f, fast_jong[t][1], jamo[fast_jong[t][1] - 0x1100u], FA_HANGUL);
}

/* Any other code point at s[*pos], through normalize_cp as norm_reader does. */
static bool fast_other(struct fast *f, const unsigned char *s, size_t len, size_t *pos)
{
	uint32_t cp, l[NORM_MAX_OUT];
	size_t n = utf8_decode((const char *)s + *pos, len - *pos, &cp);
	if (n == 0) n = 1, cp = 0xFFFD;
	*pos += n;
	bool gap = true;
	unsigned k = normalize_cp(cp, l, &gap);
	if (k == 0) {
		f->gap |= gap ? FA_SEP : 0;
		return true;
	}
	/* The silent ㅇ, as norm_reader drops it (normalize.c). */
	unsigned j = k >= 2 && l[0] == 0x110Bu && !f->gap && l[1] == f->last && f->last >= 0x1161u &&
		     f->last <= 0x1175u;
	for (; j < k; j++) {
		uint32_t x = l[j];
		uint16_t c = x - 0x1100u < 256 ? f->wf->cls_jamo[x - 0x1100u] : wf_class(f->wf, x);
		if (!fast_letter(f, x, c, normalize_is_hangul(x) ? FA_HANGUL : 0)) return false;
	}
	return true;
}

static bool fast_pass(const struct wordfilter *wf, const char *text, size_t len, uint64_t *print, bool *mixed)
{
	const unsigned char *s = (const unsigned char *)text;
	struct fast f = {.wf = wf, .gap = FA_SEP, .all = ~0u, .h = NORM_FNV_OFFSET};
	size_t pos = 0;
	while (pos < len) {
		uint32_t b = s[pos];
		if (b < 0x80) {
			uint32_t e = wf->fast_ascii[b];
			pos++;
			if (e & (FA_SEP | FA_IGNORE)) {
				f.gap |= e & (FA_SEP | FA_SYM);
				continue;
			}
			if (!fast_letter(&f, e & FA_LETTER, (uint16_t)(e >> 16), e & FA_DIGIT)) return false;
			continue;
		}
		if ((b & 0xF0) == 0xE0 && pos + 2 < len && (s[pos + 1] & 0xC0) == 0x80 && (s[pos + 2] & 0xC0) == 0x80) {
			uint32_t v = ((b & 0x0Fu) << 12) | ((s[pos + 1] & 0x3Fu) << 6) | (s[pos + 2] & 0x3Fu);
			if (v - 0xAC00u < SCOUNT_FAST) {
				pos += 3;
				if (!fast_syllable(&f, v - 0xAC00u)) return false;
				continue;
			}
		}
		if (!fast_other(&f, s, len, &pos)) return false;
	}
	if (print) *print = f.last ? f.h : 0;
	*mixed = (f.any & FA_SYM) || ((f.any ^ f.all) & (FA_DIGIT | FA_HANGUL));
	return true;
}

/*
 * The first pass: the automaton over the letters alone, no offsets, no
 * window, plus the fingerprint (normalize_print) on the way when print is
 * not NULL. Returns true when some banned word may hit: false is exact (the
 * windowed scan keeps only matches of banned entries that pass hit_ok; the
 * continuous automaton here sees every such match and checks part of
 * hit_ok's rules on the letters kept), true only a hint.
 */
static bool first_pass(const struct wordfilter *wf, const char *text, size_t len, uint64_t *print, bool *mixed)
{
	if (fast_pass(wf, text, len, print, mixed)) return false;
	struct norm_reader rd;
	uint32_t buf[HIST + FAST_BATCH], s = 0, last = 0, any_x = 0, all_x = ~0u;
	bool mix = false;
	uint64_t h = NORM_FNV_OFFSET;
	size_t keep = 0;
	bool pending = false, maybe = false, cut = false, any = false;
	norm_reader_init(&rd, text, len);
	for (size_t n = norm_reader_next(&rd, buf, FAST_BATCH); n > 0; n = norm_reader_next(&rd, buf + keep, FAST_BATCH)) {
		any = true;
		for (size_t i = keep; i < keep + n; i++) {
			uint32_t x = buf[i], l = x & NORM_L_CP;
			if ((x & (NORM_L_CP | NORM_L_GAP)) == last) continue; /* the same run: same letter, no separator */
			/* Kinds seen and kinds all letters share: a text whose letters
			 * are all of one kind and with no symbol a disguise uses has no
			 * disguise (disguise.h); anything else asks disguise_present. */
			any_x |= x;
			all_x &= x;
			if (pending) {
				maybe = fast_verify(wf, s, buf, i, cut, (x & NORM_L_GAP) || is_hangul(l) != is_hangul(last));
				pending = false;
			}
			if (l != last) h = normalize_hash_letter(h, l);
			last = l;
			uint16_t c = l < 128 ? wf->cls_ascii[l] : l - 0x1100u < 256 ? wf->cls_jamo[l - 0x1100u] : wf_class(wf, l);
			if (s < wf->ndense) {
				uint32_t v = wf->dense[(size_t)s * wf->ncls + c];
				s = v & STATE_MASK;
				if (v & DENSE_OUT) pending = !maybe && has_ban(wf, s);
			} else {
				s = wf_step(wf, s, c);
				pending = wf->term[s] && !maybe && has_ban(wf, s);
			}
		}
		if (maybe && !print) {
			mix = true; /* not read to the end: may be anything */
			break;
		}
		keep += n;
		if (keep > HIST) { /* keep the newest HIST letters for fast_verify */
			memmove(buf, buf + keep - HIST, HIST * sizeof(buf[0]));
			keep = HIST;
			cut = true;
		}
	}
	if (pending) maybe = fast_verify(wf, s, buf, keep, cut, true);
	if (print) *print = any ? h : 0;
	*mixed = mix || (any_x & NORM_L_SYM) || ((any_x ^ all_x) & NORM_L_KINDS);
	return maybe;
}

/* The scan of text as it is: the first pass, then the full one when the
 * first pass says a banned word may hit. */
static int scan_plain(const struct wordfilter *wf, const char *text, size_t len, char *out, uint64_t *print,
		      size_t *out_len, bool *mixed)
{
	*out_len = len;
	if (!first_pass(wf, text, len, print, mixed) || wf->nbanned == 0) {
		if (out && len > 0) memcpy(out, text, len);
		if (out) out[len] = '\0';
		return 0;
	}
	struct wf_scan sc;
	sc.wf = wf;
	sc.text = text;
	sc.len = len;
	sc.tok_first = -1;
	sc.tok_letters = 0;
	sc.tok_hangul = sc.any_run = sc.any_ban = false;
	sc.hits = 0;
	sc.hit_end = 0;
	sc.out = out;
	sc.done = sc.wr = 0;
	sc.w.n = 0;
	norm_iter_init(&sc.it, text, len);
	scan_text(&sc);
	if (out) {
		if (len > sc.done) memcpy(out + sc.wr, text + sc.done, len - sc.done);
		out[sc.wr + len - sc.done] = '\0';
	}
	*out_len = sc.wr + len - sc.done;
	return sc.hits;
}

/* Adds the '*' of mask (a masked rewriting: one code point for each of
 * out's) to out, in place: a code point that is '*' in either stays '*'. */
static void merge_mask(char *out, size_t *out_len, const char *mask, size_t mask_len)
{
	size_t r = 0, w = 0, m = 0, olen = *out_len;
	while (r < olen && m < mask_len) {
		size_t n = cp_len(out + r, olen - r), k = cp_len(mask + m, mask_len - m);
		if (mask[m] == '*') {
			out[w++] = '*';
		} else {
			memmove(out + w, out + r, n);
			w += n;
		}
		r += n;
		m += k;
	}
	memmove(out + w, out + r, olen - r);
	*out_len = w + olen - r;
	out[*out_len] = '\0';
}

/* True when text holds NORM_WILD (U+E000, EE 80 80 in UTF-8). */
static bool has_wild(const char *text, size_t len)
{
	for (size_t i = 0; i + 2 < len; i++) {
		if ((unsigned char)text[i] == 0xEE && (unsigned char)text[i + 1] == 0x80 &&
		    (unsigned char)text[i + 2] == 0x80)
			return true;
	}
	return false;
}

/*
 * The scans of the disguise rewritings (disguise.h) of a text that has
 * any; their masks join out's. Returns the most hits one of them found, or
 * CHAT_ERR_NOMEM (the two buffers are the only allocation of a scan, made
 * for such texts alone).
 */
static int scan_disguised(const struct wordfilter *wf, const char *text, size_t len, char *out, size_t *out_len)
{
	size_t cap = DISGUISE_GROWTH * len + 1;
	char *rw = malloc(cap), *mask = out ? malloc(cap) : NULL;
	int best = 0;
	if (!rw || (out && !mask)) {
		free(rw);
		free(mask);
		return CHAT_ERR_NOMEM;
	}
	for (unsigned k = 0; k < DISGUISE_REWRITINGS; k++) {
		size_t n = disguise_rewrite(text, len, k, rw);
		bool wild = wf->wild && has_wild(rw, n);
		for (const struct wordfilter *f = wf; f; f = wild && f == wf ? wf->wild : NULL) {
			size_t mask_len;
			bool mixed;
			int hits = scan_plain(f, rw, n, mask, NULL, &mask_len, &mixed);
			if (hits > best) best = hits;
			if (hits > 0 && out) merge_mask(out, out_len, mask, mask_len);
		}
	}
	free(rw);
	free(mask);
	return best;
}

int wordfilter_apply_print(const struct wordfilter *wf, const char *text, size_t len, char *out, size_t outcap,
			   uint64_t *print)
{
	if (print) *print = 0;
	if (!wf || (!text && len > 0)) return CHAT_ERR_INVAL;
	if (len >= UINT32_MAX / DISGUISE_GROWTH) return CHAT_ERR_TOO_LARGE;
	if (out && outcap < len + 1) return CHAT_ERR_INVAL;
	size_t out_len;
	bool mixed;
	int hits = scan_plain(wf, text, len, out, print, &out_len, &mixed);
	if (wf->nbanned == 0 || !mixed || !disguise_present(text, len)) return hits;
	int more = scan_disguised(wf, text, len, out, &out_len);
	if (more < 0) return more;
	return hits > more ? hits : more;
}

int wordfilter_apply(const struct wordfilter *wf, const char *text, size_t len, char *out, size_t outcap)
{
	return wordfilter_apply_print(wf, text, len, out, outcap, NULL);
}

size_t wordfilter_normalize(const char *text, size_t len, char *out, size_t outcap)
{
	return normalize_text(text, len, out, outcap);
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
