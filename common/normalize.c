/* SPDX-License-Identifier: MIT */
/*
 * The normalizer behind the word filter. One 64K-entry table, filled once
 * from utf8proc, says for every BMP code point whether it is a separator,
 * invisible, or which letters it stands for. Hangul syllables are split
 * into jamo by arithmetic (Unicode ch. 3.12) instead of taking table room,
 * and final consonants are written as the matching initial consonants, so
 * that a syllable and the same jamo typed apart ("십" and "ㅅㅣㅂ") read
 * the same. The table is immutable after pthread_once, so it is shared by
 * every thread without locks.
 */
#include "normalize.h"

#include "utf8.h"

#include <pthread.h>
#include <string.h>
#include <unicode/uchar.h>
#include <unicode/uclean.h>
#include <unicode/uscript.h>
#include <unicode/uspoof.h>
#include <utf8proc.h>

#define KIND_SHIFT 30
#define KIND_GAP 0u
#define KIND_IGNORE 1u
#define KIND_ONE 2u
#define KIND_MANY 3u
#define CP_MASK 0x1FFFFFu
#define MANY_SHIFT 21
#define POOL_SIZE 8192

#define SBASE 0xAC00u
#define SCOUNT 11172u
#define LBASE 0x1100u
#define VBASE 0x1161u
#define TBASE 0x11A7u
#define IEUNG 0x110Bu

/* Built once, read-only afterwards: not per-process state but a constant. */
static uint32_t norm_table[0x10000];
static uint32_t norm_pool[POOL_SIZE];
/* Hangul syllables as jamo, then by the first two bytes of their UTF-8
 * (normalize_syllable_jamo). */
static uint32_t norm_syllables[SCOUNT + NORM_SYL_LEADS];
/* ASCII for norm_reader_next: letter | NORM_L_FRESH, NORM_L_GAP, or 0. */
static uint32_t norm_ascii[0x80];
static pthread_once_t norm_once = PTHREAD_ONCE_INIT;

/*
 * Final consonant (jongseong index 1..27) as one or two initial consonants;
 * clusters such as ㄳ split into their parts.
 */
static const uint16_t jong_cho[28][2] = {
	{0, 0},           {0x1100, 0},      {0x1101, 0},      {0x1100, 0x1109}, {0x1102, 0},
	{0x1102, 0x110C}, {0x1102, 0x1112}, {0x1103, 0},      {0x1105, 0},      {0x1105, 0x1100},
	{0x1105, 0x1106}, {0x1105, 0x1107}, {0x1105, 0x1109}, {0x1105, 0x1110}, {0x1105, 0x1111},
	{0x1105, 0x1112}, {0x1106, 0},      {0x1107, 0},      {0x1107, 0x1109}, {0x1109, 0},
	{0x110A, 0},      {0x110B, 0},      {0x110C, 0},      {0x110E, 0},      {0x110F, 0},
	{0x1110, 0},      {0x1111, 0},      {0x1112, 0},
};

static unsigned push_letter(uint32_t *out, unsigned k, uint32_t cp)
{
	if (cp > TBASE && cp <= TBASE + 27) {
		const uint16_t *m = jong_cho[cp - TBASE];
		if (k < NORM_MAX_OUT) out[k++] = m[0];
		if (m[1] && k < NORM_MAX_OUT) out[k++] = m[1];
		return k;
	}
	if (k < NORM_MAX_OUT) out[k++] = cp;
	return k;
}

static bool letter_category(utf8proc_category_t c)
{
	return (c >= UTF8PROC_CATEGORY_LU && c <= UTF8PROC_CATEGORY_LO) ||
	       (c >= UTF8PROC_CATEGORY_ND && c <= UTF8PROC_CATEGORY_NO);
}

/* The slow path: ask utf8proc. Used to fill the table and above U+FFFF. */
static unsigned slow_map(uint32_t cp, uint32_t *out, bool *gap)
{
	const utf8proc_option_t opts = UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT | UTF8PROC_CASEFOLD |
				       UTF8PROC_STRIPMARK | UTF8PROC_IGNORE;
	utf8proc_int32_t d[32];
	int bound = 0;
	utf8proc_ssize_t n = utf8proc_decompose_char((utf8proc_int32_t)cp, d, 32, opts, &bound);
	unsigned k = 0;
	for (utf8proc_ssize_t i = 0; i < n && i < 32; i++) {
		if (letter_category(utf8proc_category(d[i]))) k = push_letter(out, k, (uint32_t)d[i]);
	}
	if (k > 0) return k;
	/* Nothing left: a mark or zero-width/format character is invisible. */
	*gap = n != 0 && utf8proc_category((utf8proc_int32_t)cp) != UTF8PROC_CATEGORY_CF;
	return 0;
}

/* Scripts whose letters stay themselves: Hangul must keep its jamo (ICU
 * would make ㅣ a CJK ideograph), and ideographs and kana have no Latin
 * look-alike worth a word. */
static bool keeps_own_letters(uint32_t cp)
{
	UScriptCode sc;
	UErrorCode err = U_ZERO_ERROR;
	sc = uscript_getScript((UChar32)cp, &err);
	return U_FAILURE(err) || sc == USCRIPT_HANGUL || sc == USCRIPT_HAN || sc == USCRIPT_HIRAGANA ||
	       sc == USCRIPT_KATAKANA;
}

/*
 * The Latin letters a non-ASCII letter is confusable with, from ICU's spoof
 * checker (Unicode's confusables.txt, UTS #39 skeletons): Cyrillic і, о, ѕ
 * read i, o, s. Skeletons make capital I an l; a capital that looks like
 * one (Cyrillic І, Greek Ι) reads i here, as the text's own I is lowered to
 * i. Returns how many letters went to out; 0 when the skeleton is not made
 * of ASCII letters alone, or ICU is not at hand.
 */
static unsigned confusable_map(USpoofChecker *spoof, uint32_t cp, uint32_t *out)
{
	UChar in[1] = {(UChar)cp}, sk[NORM_MAX_OUT];
	UErrorCode err = U_ZERO_ERROR;
	if (!spoof || cp < 0x80 || !u_isalpha((UChar32)cp) || keeps_own_letters(cp)) return 0;
	int32_t n = uspoof_getSkeleton(spoof, 0, in, 1, sk, NORM_MAX_OUT, &err);
	if (U_FAILURE(err) || n <= 0 || n > NORM_MAX_OUT) return 0;
	for (int32_t i = 0; i < n; i++) {
		uint32_t c = sk[i] | 0x20u;
		if (sk[i] >= 0x80 || c < 'a' || c > 'z') return 0;
		out[i] = c;
	}
	if (n == 1 && out[0] == 'l' && u_isupper((UChar32)cp)) out[0] = 'i';
	return (unsigned)n;
}

/* One table entry: what slow_map says, unless the code point looks like Latin letters. */
static unsigned table_map(USpoofChecker *spoof, uint32_t cp, uint32_t *out, bool *gap)
{
	if (cp == NORM_WILD) {
		out[0] = NORM_WILD;
		return 1;
	}
	unsigned k = confusable_map(spoof, cp, out);
	return k > 0 ? k : slow_map(cp, out, gap);
}

static void build_table(void)
{
	size_t used = 0;
	UErrorCode err = U_ZERO_ERROR;
	USpoofChecker *spoof = uspoof_open(&err);
	if (U_FAILURE(err)) spoof = NULL; /* no confusables: the rest still works */
	for (uint32_t cp = 0; cp < 0x10000; cp++) {
		uint32_t out[NORM_MAX_OUT];
		bool gap = true;
		if ((cp >= 0xD800 && cp <= 0xDFFF) || (cp >= SBASE && cp < SBASE + SCOUNT)) {
			norm_table[cp] = KIND_GAP << KIND_SHIFT; /* never looked up */
			continue;
		}
		unsigned k = table_map(spoof, cp, out, &gap);
		if (k == 0) {
			norm_table[cp] = (gap ? KIND_GAP : KIND_IGNORE) << KIND_SHIFT;
		} else if (k == 1 || used + k > POOL_SIZE) {
			norm_table[cp] = (KIND_ONE << KIND_SHIFT) | out[0];
		} else {
			memcpy(norm_pool + used, out, k * sizeof(uint32_t));
			norm_table[cp] = (KIND_MANY << KIND_SHIFT) | ((uint32_t)k << MANY_SHIFT) | (uint32_t)used;
			used += k;
		}
	}
	for (uint32_t cp = 0; cp < 0x80; cp++) {
		uint32_t e = norm_table[cp], kind = e >> KIND_SHIFT;
		/* No ASCII character decomposes, so KIND_MANY does not occur. */
		norm_ascii[cp] = kind == KIND_ONE ? (e & CP_MASK) | NORM_L_FRESH : kind == KIND_GAP ? NORM_L_GAP : 0;
	}
	for (uint32_t syl = 0; syl < SCOUNT; syl++) {
		uint32_t t = syl % 28;
		norm_syllables[syl] = (syl / 588) | (VBASE - LBASE + (syl % 588) / 28) << 8 |
				      (t ? jong_cho[t][0] - LBASE : NORM_SYL_NONE) << 16 |
				      (jong_cho[t][1] ? jong_cho[t][1] - LBASE : NORM_SYL_NONE) << 24;
	}
	for (uint32_t k = 0; k < NORM_SYL_LEADS; k++) {
		/* b0 = 1110nnnn, b1 = 10bbbbbb: the key has nnnn and bbbbbb. The
		 * entry takes back the 0x80 of b2, which is added whole. */
		uint32_t cp = (k & 0x0Fu) << 12 | (k >> 8 & 0x3Fu) << 6;
		norm_syllables[SCOUNT + k] =
			cp >= SBASE && cp < SBASE + SCOUNT && !(k & 0xC0F0u) ? cp - SBASE - 0x80u : 0xFFFFu;
	}
	for (uint32_t d = '0'; d <= '9'; d++) norm_ascii[d] |= NORM_L_DIGIT;
	for (const char *sym = "$@!|(+*"; *sym; sym++) norm_ascii[(unsigned char)*sym] |= NORM_L_SYM;
	if (spoof) uspoof_close(spoof);
	/* ICU is needed only for this table: let it drop its data caches, which
	 * would otherwise outlive a plugin unloaded from the broker (ICU
	 * loads them again if anything in the process asks later). */
	u_cleanup();
}

void normalize_init(void)
{
	pthread_once(&norm_once, build_table);
}

const uint32_t *normalize_syllable_jamo(void)
{
	normalize_init();
	return norm_syllables;
}

static unsigned map_syllable(uint32_t s, uint32_t *out)
{
	uint32_t t = s % 28;
	out[0] = LBASE + s / 588;
	out[1] = VBASE + (s % 588) / 28;
	if (t == 0) return 2;
	out[2] = jong_cho[t][0];
	if (jong_cho[t][1] == 0) return 3;
	out[3] = jong_cho[t][1];
	return 4;
}

/* normalize_cp without the once-check, for the hot path. */
static unsigned map_cp(uint32_t cp, uint32_t *out, bool *gap)
{
	if (cp - SBASE < SCOUNT) return map_syllable(cp - SBASE, out);
	if (cp >= 0x10000) return slow_map(cp, out, gap);
	uint32_t e = norm_table[cp];
	switch (e >> KIND_SHIFT) {
	case KIND_ONE:
		out[0] = e & CP_MASK;
		return 1;
	case KIND_MANY: {
		unsigned k = (e >> MANY_SHIFT) & 0xFu;
		memcpy(out, norm_pool + (e & ((1u << MANY_SHIFT) - 1)), k * sizeof(uint32_t));
		return k;
	}
	case KIND_IGNORE:
		*gap = false;
		return 0;
	default:
		*gap = true;
		return 0;
	}
}

unsigned normalize_cp(uint32_t cp, uint32_t out[NORM_MAX_OUT], bool *gap)
{
	normalize_init();
	return map_cp(cp, out, gap);
}

void norm_iter_init(struct norm_iter *it, const char *text, size_t len)
{
	normalize_init();
	memset(it, 0, sizeof(*it));
	it->text = (const unsigned char *)text;
	it->len = text ? len : 0;
}

/*
 * "시이이발": a syllable that opens with the silent ㅇ and repeats the vowel
 * just read only stretches that vowel, so its ㅇ is dropped and the vowel
 * joins the run, as a doubled Latin letter would.
 */
static void drop_silent_ieung(struct norm_iter *it)
{
	if (it->npend >= 2 && it->pend[0] == IEUNG && !it->gap && it->pend[1] == it->last &&
	    it->last >= VBASE && it->last <= VBASE + 20)
		it->ipend = 1;
}

/* Loads the letters of the next code point that has any. */
static bool load_letters(struct norm_iter *it)
{
	while (it->pos < it->len) {
		const unsigned char *p = it->text + it->pos;
		uint32_t cp = *p;
		size_t n = 1;
		if (cp >= 0x80) {
			n = utf8_decode((const char *)p, it->len - it->pos, &cp);
			if (n == 0) {
				n = 1;
				cp = 0xFFFD; /* invalid byte: a separator */
			}
		}
		it->cp_start = it->pos;
		it->pos += n;
		it->cp_end = it->pos;
		bool gap = true;
		unsigned k;
		uint32_t e = cp < 0x10000 ? norm_table[cp] : 0;
		if ((e >> KIND_SHIFT) == KIND_ONE && cp - SBASE >= SCOUNT) {
			it->pend[0] = e & CP_MASK; /* the common case, inline */
			k = 1;
		} else {
			k = map_cp(cp, it->pend, &gap);
		}
		if (k == 0) {
			it->gap = it->gap || gap;
			continue;
		}
		it->npend = k;
		it->ipend = 0;
		it->fresh = true;
		drop_silent_ieung(it);
		return true;
	}
	return false;
}

/* load_letters for an ASCII letter or digit at it->pos, the common case,
 * without the call and the decoding; false when the next byte is not one. */
static inline bool load_ascii_letter(struct norm_iter *it)
{
	if (it->pos >= it->len || it->text[it->pos] >= 0x80) return false;
	uint32_t e = norm_table[it->text[it->pos]];
	if ((e >> KIND_SHIFT) != KIND_ONE) return false;
	it->cp_start = it->pos++;
	it->cp_end = it->pos;
	it->pend[0] = e & CP_MASK;
	it->npend = 1;
	it->ipend = 0;
	it->fresh = true;
	return true;
}

/* Reads one letter into the lookahead slot. */
static inline bool read_letter(struct norm_iter *it)
{
	if (it->ipend >= it->npend && !load_ascii_letter(it) && !load_letters(it)) return false;
	it->next_cp = it->last = it->pend[it->ipend++];
	it->next_gap = it->gap;
	it->next_fresh = it->fresh;
	it->next_start = it->cp_start;
	it->next_end = it->cp_end;
	it->gap = it->fresh = false;
	return true;
}

bool norm_iter_next(struct norm_iter *it, struct norm_run *run)
{
	if (!it->have_next && !read_letter(it)) return false;
	run->cp = it->next_cp;
	run->count = 1;
	run->letters = it->next_fresh ? 1u : 0u;
	run->first_start = run->last_start = it->next_start;
	run->first_end = run->last_end = it->next_end;
	run->gap_before = it->next_gap;
	for (;;) {
		it->have_next = read_letter(it);
		if (!it->have_next || it->next_cp != run->cp || it->next_gap) return true;
		if (run->count < UINT32_MAX) run->count++;
		run->letters += it->next_fresh ? 1u : 0u;
		run->last_start = it->next_start;
		run->last_end = it->next_end;
	}
}

size_t normalize_text(const char *text, size_t len, char *out, size_t outcap)
{
	struct norm_iter it;
	struct norm_run run;
	size_t need = 0, room = outcap;
	uint32_t prev = 0;
	norm_iter_init(&it, text, len);
	while (norm_iter_next(&it, &run)) {
		char buf[4];
		if (run.cp == prev) continue; /* "l.l" repeats as much as "ll" */
		prev = run.cp;
		size_t n = utf8_encode(run.cp, buf);
		if (out && need + n < room) memcpy(out + need, buf, n);
		else if (out && need < room) room = need + 1; /* cut at a whole letter */
		need += n;
	}
	if (out && room > 0) out[need < room ? need : room - 1] = '\0';
	return need;
}

void norm_reader_init(struct norm_reader *rd, const char *text, size_t len)
{
	normalize_init();
	rd->text = (const unsigned char *)text;
	rd->len = text ? len : 0;
	rd->pos = 0;
	rd->last = 0;
	rd->gap = NORM_L_GAP;
}

/*
 * Appends the k letters of one code point to out[n..], flagged, with the
 * silent ieung dropped where drop_silent_ieung drops it. Returns the new n.
 */
static inline uint32_t kind_of(uint32_t l)
{
	return normalize_is_hangul(l) ? NORM_L_HANGUL : 0;
}

static inline size_t put_letters(const uint32_t *l, unsigned k, uint32_t last, uint32_t gap, uint32_t *out, size_t n)
{
	unsigned j = k >= 2 && l[0] == IEUNG && !gap && l[1] == last && last >= VBASE && last <= VBASE + 20;
	out[n++] = l[j] | NORM_L_FRESH | gap | kind_of(l[j]);
	for (j++; j < k; j++) out[n++] = l[j] | kind_of(l[j]);
	return n;
}

/* put_letters for a Hangul syllable (index syl from SBASE), unrolled: its
 * vowel is a vowel, so the silent ieung test needs only last. */
static inline size_t put_syllable(uint32_t syl, uint32_t last, uint32_t gap, uint32_t *out, size_t n)
{
	uint32_t lead = LBASE + syl / 588, vowel = VBASE + (syl % 588) / 28, t = syl % 28;
	if (lead == IEUNG && !gap && vowel == last) {
		out[n++] = vowel | NORM_L_FRESH | NORM_L_HANGUL;
	} else {
		out[n++] = lead | NORM_L_FRESH | NORM_L_HANGUL | gap;
		out[n++] = vowel | NORM_L_HANGUL;
	}
	if (t == 0) return n;
	out[n++] = jong_cho[t][0] | NORM_L_HANGUL;
	if (jong_cho[t][1]) out[n++] = jong_cho[t][1] | NORM_L_HANGUL;
	return n;
}

/* A precomposed Hangul syllable (3 bytes) at s[0..avail), as an index from
 * SBASE; SCOUNT when the bytes are anything else. */
static inline uint32_t syllable_at(const unsigned char *s, size_t avail)
{
	if ((s[0] & 0xF0) != 0xE0 || avail < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80) return SCOUNT;
	uint32_t v = ((s[0] & 0x0Fu) << 12) | ((s[1] & 0x3Fu) << 6) | (s[2] & 0x3Fu);
	return v - SBASE < SCOUNT ? v - SBASE : SCOUNT;
}

/* The letters of the code point at s[*pos] (advanced past it) that is
 * neither ASCII nor a Hangul syllable; 0 for none, then *gap as in
 * normalize_cp. */
static unsigned other_letters(const unsigned char *s, size_t len, size_t *pos, uint32_t *out, bool *gap)
{
	uint32_t cp = s[*pos];
	size_t n = 1;
	if (cp >= 0x80) {
		n = utf8_decode((const char *)s + *pos, len - *pos, &cp);
		if (n == 0) {
			n = 1;
			cp = 0xFFFD; /* invalid byte: a separator */
		}
	}
	*pos += n;
	*gap = true;
	return map_cp(cp, out, gap);
}

static inline uint64_t load64(const unsigned char *s)
{
	uint64_t w;
	memcpy(&w, s, sizeof(w));
	return w;
}

/* One ASCII byte: its letter goes to out[n] (flagged with the pending
 * separator), a separator only sets *gap. Without branches. */
static inline size_t put_ascii(unsigned char b, uint32_t *out, size_t n, uint32_t *gap)
{
	uint32_t e = norm_ascii[b], letter = (e >> 30) & 1u;
	out[n] = e | *gap;
	*gap = letter ? 0 : *gap | e;
	return n + letter;
}

size_t norm_reader_next(struct norm_reader *rd, uint32_t *out, size_t cap)
{
	const unsigned char *s = rd->text;
	size_t pos = rd->pos, len = rd->len, n = 0, room = cap - NORM_MAX_OUT;
	uint32_t l[NORM_MAX_OUT], gap = rd->gap;
	while (pos < len && n <= room) {
		if (s[pos] < 0x80 && (pos + 1 == len || s[pos + 1] >= 0x80)) { /* a lone one: a space in Hangul */
			n = put_ascii(s[pos++], out, n, &gap);
			continue;
		}
		if (s[pos] < 0x80) { /* ASCII, the common case: at most one letter a byte */
			size_t stop = len - pos < room + 1 - n ? len : pos + room + 1 - n;
			while (pos + 8 <= stop && !(load64(s + pos) & 0x8080808080808080ull)) {
#pragma GCC unroll 8
				for (unsigned k = 0; k < 8; k++) n = put_ascii(s[pos + k], out, n, &gap);
				pos += 8;
			}
			for (; pos < stop && s[pos] < 0x80; pos++) n = put_ascii(s[pos], out, n, &gap);
			continue;
		}
		uint32_t syl = syllable_at(s + pos, len - pos);
		if (syl < SCOUNT) {
			pos += 3;
			n = put_syllable(syl, n > 0 ? out[n - 1] & NORM_L_CP : rd->last, gap, out, n);
			gap = 0;
			continue;
		}
		bool g = true;
		unsigned k = other_letters(s, len, &pos, l, &g);
		if (k == 0) {
			gap |= g ? NORM_L_GAP : 0;
			continue;
		}
		n = put_letters(l, k, n > 0 ? out[n - 1] & NORM_L_CP : rd->last, gap, out, n);
		gap = 0;
	}
	if (n > 0) rd->last = out[n - 1] & NORM_L_CP;
	rd->pos = pos;
	rd->gap = gap;
	return n;
}

/*
 * normalize_text writes every letter not equal to the one before (so "l.l"
 * gives one l): the same rule on the reader's letters.
 */
size_t normalize_fingerprint(const char *text, size_t len, uint64_t *hash)
{
	struct norm_reader rd;
	uint32_t buf[256], prev = 0;
	uint64_t h = NORM_FNV_OFFSET;
	size_t letters = 0;
	norm_reader_init(&rd, text, len);
	for (size_t n = norm_reader_next(&rd, buf, 256); n > 0; n = norm_reader_next(&rd, buf, 256)) {
		for (size_t i = 0; i < n; i++) {
			uint32_t l = buf[i] & NORM_L_CP;
			if (l == prev) continue;
			prev = l;
			h = normalize_hash_letter(h, l);
			letters++;
		}
	}
	*hash = h;
	return letters;
}

uint64_t normalize_print(const char *text, size_t len)
{
	uint64_t h;
	return normalize_fingerprint(text, len, &h) > 0 ? h : 0;
}
