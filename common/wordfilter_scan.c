/* SPDX-License-Identifier: MIT */
/*
 * Running texts through a built filter (wordfilter_int.h). A scan reads
 * the text as runs, so repeats are collapsed, and separators are invisible
 * to the automaton: they only leave a flag on the next run. Each candidate
 * hit is then checked against what the automaton cannot see: the word's
 * minimum repeat counts, whole-word edges, and the rule for separators the
 * user inserted (see spaced_out). Allowlist hits are collected in the same
 * pass; a banned hit inside one is dropped.
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
#include "wordfilter.h"

#include "disguise.h"
#include "normalize.h"
#include "utf8.h"
#include "wordfilter_int.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define WIN 512 /* runs per scan window */

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
			s = dense_state(wf, v);
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
 * decoded right from the bytes (ASCII through fast_ascii, or sixteen bytes
 * at a time with SSE2; Hangul syllables through normalize_syllable_jamo;
 * anything else through normalize_cp) into the same letters, runs,
 * fingerprint and kind flags that first_pass below reads through
 * norm_reader, but without a buffer, a history or a check of candidates.
 * It gives up, returning false, at the first state where a banned entry
 * ends, and first_pass then reads the text again and looks closer; for a
 * text where none ends anywhere it decides alone.
 *
 * Its state is a struct fast. The loops over long stretches of one script
 * (fast_ascii_run, fast_text_run) are functions of their own that copy it
 * into a local, which only always-inlined helpers see, so the compiler
 * keeps it in registers. A step is one cell of a dense row unless the cell
 * is flagged (DENSE_BAN, DENSE_SPARSE): states without a row of their own,
 * rare in chat, step through fast_deep.
 */
#define FAST_BANNED UINT32_MAX /* fast_deep: a banned entry ends */

struct fast {
	const uint32_t *dense;
	uint32_t row;  /* the state's row offset in dense; the deep row's: see deep */
	uint32_t deep; /* the state when row is the deep row's */
	uint32_t last; /* last letter, 0 before the first */
	uint32_t gap;  /* FA_SEP, FA_SYM since the last letter */
	uint32_t any;  /* the kinds of the letters (FA_DIGIT, FA_NOT_DIGIT, ...) and FA_SYM before them */
	uint64_t h;    /* normalize_print's hash */
};

/* The step on class c for a flagged cell v: the new state, or FAST_BANNED.
 * deep: the state the deep row stands for. */
__attribute__((noinline)) static uint32_t fast_deep(const struct wordfilter *wf, uint32_t v, uint32_t c,
						     uint32_t deep)
{
	if (v & DENSE_BAN) return FAST_BANNED;
	if (v != DENSE_SPARSE) return dense_state(wf, v); /* hits, but allowed ones only; or no row */
	uint32_t t = wf_step(wf, deep, (uint16_t)c);
	return wf->term[t] && has_ban(wf, t) ? FAST_BANNED : t;
}

/* The automaton's step on class c; false when a banned entry ends. */
__attribute__((always_inline)) static inline bool fast_step(const struct wordfilter *wf, struct fast *f, uint32_t c)
{
	uint32_t v = f->dense[f->row + c];
	if (__builtin_expect(v & (DENSE_OUT | DENSE_BAN | DENSE_SPARSE), 0)) {
		uint32_t t = fast_deep(wf, v, c, f->deep);
		if (t == FAST_BANNED) return false;
		f->deep = t;
		v = (t < wf->ndense ? t : wf->ndense) * wf->ncls;
	}
	f->row = v;
	return true;
}

/* normalize_hash_letter(h, l). On x86-64 written out, so that h stays in
 * its register and the multiplier is read from memory: left to itself the
 * compiler multiplies into the letter's register and copies the result
 * back, and loads the 64-bit constant into a register for every letter. */
#if defined(__x86_64__)
static const uint64_t fast_prime = FNV64_PRIME;
#endif

__attribute__((always_inline)) static inline uint64_t fast_hash(uint64_t h, uint64_t l)
{
#if defined(__x86_64__)
	__asm__("xorq %1, %0\n\timulq %2, %0" : "+r"(h) : "r"(l), "m"(fast_prime) : "cc");
	return h;
#else
	return normalize_hash_letter(h, (uint32_t)l);
#endif
}

/* One letter l of class c and kind (FA_DIGIT or FA_NOT_DIGIT, with
 * FA_HANGUL or FA_NOT_HANGUL; other bits are ignored); false when a banned
 * entry may end on it. */
__attribute__((always_inline)) static inline bool fast_letter(const struct wordfilter *wf, struct fast *f, uint32_t l,
							      uint32_t c, uint32_t kind)
{
	uint32_t gap = f->gap;
	f->gap = 0;
	f->any |= kind | gap;
	if (l == f->last && !gap) return true; /* the same run */
	if (l != f->last) f->h = fast_hash(f->h, l);
	f->last = l;
	return fast_step(wf, f, c);
}

/* A Hangul syllable, its jamo as normalize_syllable_jamo gives them (d),
 * as norm_reader reads it. */
#define FA_JAMO (FA_HANGUL | FA_NOT_DIGIT)

/* fast_letter for a letter known to start a run, with no separator before
 * it and of a kind already counted: the vowel and finals of a syllable. */
__attribute__((always_inline)) static inline bool fast_next(const struct wordfilter *wf, struct fast *f, uint32_t l,
							    uint32_t c)
{
	f->h = fast_hash(f->h, l);
	f->last = l;
	return fast_step(wf, f, c);
}

/* A Hangul syllable, its jamo as normalize_syllable_jamo gives them (d),
 * as norm_reader reads it: the initial may continue a run, the rest are
 * new runs (a vowel follows a consonant, and a final's two parts differ). */
__attribute__((always_inline)) static inline bool fast_syllable(const struct wordfilter *wf, struct fast *f, uint32_t d)
{
	uint32_t lead = d & 0xFFu, vowel = (d >> 8) & 0xFFu, t1 = (d >> 16) & 0xFFu, t2 = d >> 24;
	/* "시이이발": a silent ㅇ before the vowel just read only stretches it. */
	if (!(lead == 0x0Bu && !f->gap && 0x1100u + vowel == f->last)) {
		if (!fast_letter(wf, f, 0x1100u + lead, wf->cls_jamo[lead], FA_JAMO)) return false;
		if (!fast_next(wf, f, 0x1100u + vowel, wf->cls_jamo[vowel])) return false;
	}
	if (t1 == NORM_SYL_NONE) return true;
	if (!fast_next(wf, f, 0x1100u + t1, wf->cls_jamo[t1])) return false;
	return t2 == NORM_SYL_NONE || fast_next(wf, f, 0x1100u + t2, wf->cls_jamo[t2]);
}

/* fast_syllable for one with no separator before it (after a syllable,
 * mostly), but for its kind, which the caller adds (FA_JAMO). The steps
 * are written out for the compiler to keep the letter in a register: the
 * initial (unless it continues the run or is a silent ㅇ), the vowel, then
 * zero to two parts of the final. */
__attribute__((always_inline)) static inline bool fast_syllable_next(const struct wordfilter *wf, struct fast *f,
								     uint32_t d)
{
	uint32_t lead = d & 0xFFu, vowel = (d >> 8) & 0xFFu;
	if (!(lead == 0x0Bu && 0x1100u + vowel == f->last)) {
		if (0x1100u + lead != f->last) {
			f->h = fast_hash(f->h, 0x1100u + lead);
			if (!fast_step(wf, f, wf->cls_jamo[lead])) return false;
		}
		f->h = fast_hash(f->h, 0x1100u + vowel);
		if (!fast_step(wf, f, wf->cls_jamo[vowel])) return false;
		f->last = 0x1100u + vowel;
	}
	uint32_t t1 = (d >> 16) & 0xFFu;
	if (t1 == NORM_SYL_NONE) return true;
	f->h = fast_hash(f->h, 0x1100u + t1);
	if (!fast_step(wf, f, wf->cls_jamo[t1])) return false;
	uint32_t t2 = d >> 24;
	if (t2 == NORM_SYL_NONE) {
		f->last = 0x1100u + t1;
		return true;
	}
	f->h = fast_hash(f->h, 0x1100u + t2);
	f->last = 0x1100u + t2;
	return fast_step(wf, f, wf->cls_jamo[t2]);
}

/* The syllable index of the three bytes at s, w their first four
 * (little-endian), NORM_SYLLABLES or more for anything else. The third byte
 * is read again, whole: one instruction instead of a shift and a mask. */
static inline uint32_t fast_syllable_w(const uint32_t *syllables, const unsigned char *s, uint32_t w)
{
	uint32_t i = syllables[NORM_SYLLABLES + (w & 0x3F0Fu)] + s[2];
	return (w & 0xC0C0F0u) == 0x8080E0u ? i : NORM_SYLLABLES;
}

/* CHAT_WORDFILTER_PORTABLE: the byte-at-a-time path only (a unit test
 * builds it so, as other CPUs would run it). */
#if defined(__SSE2__) && !defined(CHAT_WORDFILTER_PORTABLE)
#define FAST_SIMD 1
#include <emmintrin.h>

/* The bytes of v in [lo, lo + n), as 0xFF: SSE2 compares signed, so the
 * range is moved to the bottom first. */
static inline __m128i fast_range(__m128i v, int lo, int n)
{
	__m128i t = _mm_add_epi8(v, _mm_set1_epi8((char)(0x80 - lo)));
	return _mm_cmplt_epi8(t, _mm_set1_epi8((char)(n - 0x80)));
}

#endif

/* Any other code point at s[0..avail): its letters through normalize_cp,
 * as norm_reader reads them; *used gets its bytes, *gap (when it has no
 * letter) whether it separates. */
static unsigned fast_decode(const unsigned char *s, size_t avail, uint32_t l[NORM_MAX_OUT], size_t *used, bool *gap)
{
	uint32_t cp;
	size_t n = utf8_decode((const char *)s, avail, &cp);
	if (n == 0) n = 1, cp = 0xFFFD;
	*used = n;
	*gap = true;
	return normalize_cp(cp, l, gap);
}

/* The letters of one such code point; false when a banned entry may end. */
__attribute__((always_inline)) static inline bool fast_other(const struct wordfilter *wf, struct fast *f,
							     const uint32_t *l, unsigned k)
{
	/* The silent ㅇ, as norm_reader drops it (normalize.c). */
	unsigned j = k >= 2 && l[0] == 0x110Bu && !f->gap && l[1] == f->last && f->last >= 0x1161u &&
		     f->last <= 0x1175u;
	for (; j < k; j++) {
		uint32_t x = l[j];
		uint16_t c = x - 0x1100u < 256 ? wf->cls_jamo[x - 0x1100u] : wf_class(wf, x);
		if (!fast_letter(wf, f, x, c, normalize_is_hangul(x) ? FA_JAMO : FA_NOT_HANGUL | FA_NOT_DIGIT)) return false;
	}
	return true;
}

/* A precomposed Hangul syllable at s[0..avail) as an index from U+AC00;
 * NORM_SYLLABLES when the bytes are anything else. With four bytes at
 * hand, one load and a mask check all three bytes at once. */
static inline uint32_t fast_syllable_at(const unsigned char *s, size_t avail)
{
	uint32_t w;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	if (avail >= 4) memcpy(&w, s, 4);
	else
#endif
	if (avail >= 3) w = s[0] | (uint32_t)s[1] << 8 | (uint32_t)s[2] << 16;
	else return NORM_SYLLABLES;
	if ((w & 0xC0C0F0u) != 0x8080E0u) return NORM_SYLLABLES; /* 1110xxxx 10xxxxxx 10xxxxxx */
	uint32_t v = (((w & 0x0Fu) << 12) | ((w >> 2) & 0xFC0u) | ((w >> 16) & 0x3Fu)) - 0xAC00u;
	return v < NORM_SYLLABLES ? v : NORM_SYLLABLES;
}

#ifdef FAST_SIMD
/* The runs of one block (bit i: a run starts at lo[i]) through the
 * automaton and the fingerprint. last: the letter before the block's
 * first, or FAST_NO_LAST when no run repeats the letter before it (so
 * every run changes the fingerprint). */
#define FAST_NO_LAST UINT32_MAX
__attribute__((always_inline)) static inline bool fast_runs(const struct wordfilter *wf, struct fast *f,
							    const unsigned char *lo, uint32_t runs, uint32_t last)
{
	uint64_t h = f->h;
	if (last == FAST_NO_LAST) {
		/* Unrolled: a test per byte is cheaper than finding the next run. */
#pragma GCC unroll 16
		for (unsigned i = 0; i < 16; i++) {
			if (!(runs >> i & 1u)) continue;
			/* The class first: then the compiler needs no copy of l. */
			uint64_t l = lo[i];
			uint32_t c = wf->cls_ascii[l];
			h = fast_hash(h, l);
			if (!fast_step(wf, f, c)) return false;
		}
	} else {
#pragma GCC unroll 16
		for (unsigned i = 0; i < 16; i++) {
			if (!(runs >> i & 1u)) continue;
			uint32_t l = lo[i];
			if (l != last) h = fast_hash(h, l);
			last = l;
			if (!fast_step(wf, f, wf->cls_ascii[l])) return false;
		}
	}
	f->h = h;
	return true;
}

/*
 * ASCII sixteen bytes at a time from *pp, while there are sixteen, through
 * the plain table (ascii_plain): the letters, lowered, and where runs
 * start found with a few vector ops, then one automaton step and one
 * fingerprint step per run, so separators and repeats cost nothing per
 * byte. Only a separator a disguise uses ($ @ ! | ( + *) asks the table,
 * and only until the first. False when a banned entry may end. A function
 * of its own, its state in locals, so that they stay in registers.
 */
__attribute__((noinline)) static bool fast_ascii_run(const struct wordfilter *wf, struct fast *fp,
						      const unsigned char **pp, const unsigned char *text,
						      const unsigned char *end)
{
	struct fast f = *fp;
	const unsigned char *p = *pp;
	bool ok = true;
	/* The block before, as far as the rules look back: its lowered bytes
	 * (pv) and letters (pL). Before the first block, the last letter as
	 * byte 15 when no separator came after it (a letter there that is
	 * not ASCII, 0, equals none), else as byte 14 behind a separator. */
	__m128i pv = _mm_cvtsi32_si128(f.last < 0x80 ? (int)f.last : 0);
	pv = f.gap ? _mm_slli_si128(pv, 14) : _mm_slli_si128(pv, 15);
	uint32_t pL = f.gap ? 0x4000u : 0x8000u;
	__m128i seen = _mm_setzero_si128(), digits = _mm_setzero_si128();
	const __m128i lower = _mm_set1_epi8(0x20);
	unsigned char lo[16], tail[32];
	for (;;) {
		/* q: the block's bytes. The last few bytes of a text that has
		 * sixteen make a block of their own, spaces after them. */
		const unsigned char *q = p;
		if (end - p < 16) {
			if (p == end || end - text < 16) break;
			_mm_storeu_si128((__m128i *)tail, _mm_loadu_si128((const __m128i *)(end - 16)));
			_mm_storeu_si128((__m128i *)(tail + 16), lower);
			q = tail + 16 - (end - p);
		}
		__m128i v = _mm_loadu_si128((const __m128i *)q);
		if (_mm_movemask_epi8(v) != 0) break;
		__m128i x = _mm_or_si128(v, lower);
		__m128i alpha = fast_range(x, 'a', 26), digit = fast_range(v, '0', 10);
		__m128i lv = _mm_or_si128(v, _mm_and_si128(alpha, lower));
		__m128i letter = _mm_or_si128(alpha, digit);
		uint32_t L = (uint32_t)_mm_movemask_epi8(letter);
		seen = _mm_or_si128(seen, alpha);
		digits = _mm_or_si128(digits, digit);
		if (!(f.any & FA_SYM)) {
			/* A symbol counts once a letter follows it; f.gap carries one
			 * that none has followed yet. */
			uint32_t odd = ~(L | (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(v, lower))) & 0xFFFFu, sym = 0;
			for (; odd; odd &= odd - 1) {
				unsigned i = (unsigned)__builtin_ctz(odd);
				if (wf->fast_ascii[q[i]] & FA_SYM) sym |= 1u << i;
			}
			if (L && ((f.gap & FA_SYM) || (sym && (sym & (0u - sym)) < L))) f.any |= FA_SYM;
			if (sym > L) f.gap |= FA_SYM; /* after the last letter */
			else if (L) f.gap &= ~FA_SYM;
		}
		/* A letter equal to the byte before it continues that byte's run. */
		__m128i before = _mm_or_si128(_mm_slli_si128(lv, 1), _mm_srli_si128(pv, 15));
		uint32_t runs = L & ~(uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(lv, before));
		/* The fingerprint skips a letter equal to the last one across a
		 * gap ("a a"). Where the byte before a run is a separator, the one
		 * before that must be a letter, and another one, for all runs to
		 * count: else the exact loop of fast_runs looks. */
		__m128i two = _mm_or_si128(_mm_slli_si128(lv, 2), _mm_srli_si128(pv, 14));
		uint32_t gaps = runs & ~(L << 1 | pL >> 15);
		uint32_t again = gaps & ((uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(lv, two)) | ~(L << 2 | pL >> 14));
		pv = lv;
		pL = L;
		if (L != 0) {
			uint32_t last = again ? f.last : FAST_NO_LAST;
			_mm_storeu_si128((__m128i *)lo, lv);
			/* lo from memory: left to itself the compiler keeps lv in a
			 * register and stores it again for every byte it reads. */
			__asm__("" : "+m"(lo));
			f.last = lo[31 - __builtin_clz(L)];
			if (!fast_runs(wf, &f, lo, runs, last)) {
				ok = false;
				break;
			}
		}
		if (q != p) { /* the last block */
			p = end;
			break;
		}
		p += 16;
	}
	/* What the blocks leave for the rest: the gap after the last letter,
	 * and the kinds of the letters. */
	if (p != *pp) {
		if (!(pL & 0x8000u)) f.gap |= FA_SEP;
		else f.gap = 0;
		uint32_t a = (uint32_t)_mm_movemask_epi8(seen), d = (uint32_t)_mm_movemask_epi8(digits);
		if (a | d) f.any |= FA_NOT_HANGUL | (a ? FA_NOT_DIGIT : 0) | (d ? FA_DIGIT : 0);
	}
	*fp = f;
	*pp = p;
	return ok;
}
#endif

/*
 * Hangul syllables and the ASCII separators between them (the spaces
 * between Korean words) from *pp, until the text ends or an ASCII letter
 * or another code point comes (fast_pass's). False when a banned entry may
 * end. Leaving ASCII letters to fast_pass keeps this loop small enough for
 * its state to stay in registers.
 */
__attribute__((noinline)) static bool fast_text_run(const struct wordfilter *wf, struct fast *fp,
						     const unsigned char **pp, const unsigned char *end)
{
	struct fast f = *fp;
	const unsigned char *p = *pp;
	const uint32_t *syllables = wf->syllables;
	/* p < end4: four bytes at hand. The loop keeps only end4 and finds end
	 * from it when fewer are left: one register more for the syllables. */
	uintptr_t end4 = (uintptr_t)end - 3u;
	bool ok = false;
	for (;;) {
		uint32_t w, syl;
		if ((uintptr_t)p < end4) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
			memcpy(&w, p, 4);
#else
			w = p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
#endif
			syl = fast_syllable_w(syllables, p, w);
		} else if ((uintptr_t)p < end4 + 3u) {
			uintptr_t e = end4 + 3u;
			__asm__("" : "+r"(e)); /* not end: that would keep it alive */
			w = p[0];
			syl = fast_syllable_at(p, (size_t)(e - (uintptr_t)p));
		} else {
			ok = true;
			break;
		}
		if (syl < NORM_SYLLABLES) {
			p += 3;
			uint32_t d = syllables[syl];
			if (__builtin_expect(f.gap != 0, 0)) {
				/* After a separator the initial starts a run even when it
				 * repeats the last letter, which the fingerprint then skips:
				 * fast_syllable's case. Else fast_syllable_next's, once the
				 * gap is counted and no letter is the last one (0), so the
				 * initial is a new run and no silent ㅇ continues a vowel. */
				if (0x1100u + (d & 0xFFu) == f.last) {
					if (!fast_syllable(wf, &f, d)) break;
					continue;
				}
				f.any |= f.gap;
				f.gap = 0;
				f.last = 0;
			}
			if (!fast_syllable_next(wf, &f, d)) break;
			continue;
		}
		if ((w & 0xFFu) == ' ') { /* the usual separator, never a letter */
			f.gap |= FA_SEP;
			p++;
			continue;
		}
		if (w & 0x80u) { /* another code point: fast_pass's */
			ok = true;
			break;
		}
		uint32_t e = wf->fast_ascii[*p];
		if (!(e & (FA_SEP | FA_IGNORE))) { /* an ASCII letter: fast_pass's */
			ok = true;
			break;
		}
		p++;
		f.gap |= e & (FA_SEP | FA_SYM);
	}
	/* The kind of the syllables, once: fast_pass calls with a byte of 0x80
	 * or more, so the loop has read one when it moved at all. */
	if (p != *pp) f.any |= FA_JAMO;
	*fp = f;
	*pp = p;
	return ok;
}

/*
 * The pass itself: fast_ascii_run, short ASCII a byte at a time, and
 * fast_text_run in turn; any other code point here.
 */
__attribute__((noinline)) static bool fast_pass(const struct wordfilter *wf, const char *text, size_t len,
						 uint64_t *print, bool *mixed)
{
	const unsigned char *start = (const unsigned char *)text, *p = start, *end = p + len;
	struct fast f = {.dense = wf->dense, .gap = FA_SEP, .h = NORM_FNV_OFFSET};
	while (p < end) {
		if (*p < 0x80) {
#ifdef FAST_SIMD
			/* Sixteen ASCII bytes ahead, or the text's last few. */
			if (len >= 16 && wf->ascii_plain &&
			    (end - p < 16 || !_mm_movemask_epi8(_mm_loadu_si128((const __m128i *)p)))) {
				const unsigned char *was = p;
				if (!fast_ascii_run(wf, &f, &p, start, end)) return false;
				if (p != was) continue;
			}
#endif
			/* Else a byte at a time, up to the next other byte (fewer
			 * than sixteen, unless the text is short or the table not
			 * the plain one). */
			while (p < end && *p < 0x80) {
				uint32_t e = wf->fast_ascii[*p++];
				if (e & (FA_SEP | FA_IGNORE)) f.gap |= e & (FA_SEP | FA_SYM);
				else if (!fast_letter(wf, &f, e & FA_LETTER, e >> 16, e)) return false;
			}
			continue;
		}
		if (!fast_text_run(wf, &f, &p, end)) return false;
		if (p == end || *p < 0x80) continue;
		uint32_t l[NORM_MAX_OUT];
		size_t used;
		bool gap;
		unsigned k = fast_decode(p, (size_t)(end - p), l, &used, &gap);
		p += used;
		if (k == 0) f.gap |= gap ? FA_SEP : 0;
		else if (!fast_other(wf, &f, l, k)) return false;
	}
	if (print) *print = f.last ? f.h : 0;
	/* A symbol a disguise uses, or letters of two kinds (disguise.h). */
	*mixed = (f.any & FA_SYM) || (f.any & (f.any >> 3) & (FA_DIGIT | FA_HANGUL));
	return true;
}

static bool first_pass_read(const struct wordfilter *wf, const char *text, size_t len, uint64_t *print,
			    bool *mixed);

/*
 * The first pass: the automaton over the letters alone, no offsets, no
 * window, plus the fingerprint (normalize_print) on the way when print is
 * not NULL. Returns true when some banned word may hit: false is exact (the
 * windowed scan keeps only matches of banned entries that pass hit_ok; the
 * continuous automaton here sees every such match and checks part of
 * hit_ok's rules on the letters kept), true only a hint.
 */
static inline bool first_pass(const struct wordfilter *wf, const char *text, size_t len, uint64_t *print,
			      bool *mixed)
{
	return !fast_pass(wf, text, len, print, mixed) && first_pass_read(wf, text, len, print, mixed);
}

/* first_pass when fast_pass gave up: the letters through norm_reader, each
 * candidate checked (fast_verify). A function of its own, so that its
 * buffers are set up only then. */
__attribute__((noinline)) static bool first_pass_read(const struct wordfilter *wf, const char *text, size_t len,
						       uint64_t *print, bool *mixed)
{
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
				s = dense_state(wf, v);
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

/* The full scan of text, which the first pass says a banned word may hit:
 * a function of its own, so that its window (some 17 KiB of stack) is set
 * up only for such texts. */
__attribute__((noinline)) static int scan_full(const struct wordfilter *wf, const char *text, size_t len, char *out,
					       size_t *out_len)
{
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

/* The scan of text as it is: the first pass, then the full one when the
 * first pass says a banned word may hit. */
static inline int scan_plain(const struct wordfilter *wf, const char *text, size_t len, char *out, uint64_t *print,
			     size_t *out_len, bool *mixed)
{
	*out_len = len;
	if (!first_pass(wf, text, len, print, mixed) || wf->nbanned == 0) {
		if (out && len > 0) memcpy(out, text, len);
		if (out) out[len] = '\0';
		return 0;
	}
	return scan_full(wf, text, len, out, out_len);
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
 * for such texts alone). Out of line: the scan of a text without a
 * disguise then saves no registers for it.
 */
__attribute__((noinline)) static int scan_disguised(const struct wordfilter *wf, const char *text, size_t len,
						    char *out, size_t *out_len)
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
