/* SPDX-License-Identifier: MIT */
/*
 * What the load generator publishes and how it finds its timestamp again.
 * A message is {"text":"<text>","cid":"<pub>-<seq>-<intended send ns>"},
 * the shape the chat plugin accepts. The plugin hands subscribers its own
 * envelope with the cid copied in, a bare broker hands them the raw
 * payload: either way the subscriber looks for "cid":" and reads the three
 * numbers back. The send time is the intended one, so latency includes any
 * time the generator itself fell behind (no coordinated omission).
 *
 * Texts are chat-like sentences of whole words, exactly the requested
 * number of bytes of valid UTF-8 (Hangul syllables are 3 bytes each).
 * LG_TEXT_VARIANTS of them rotate, so no sender repeats itself back to
 * back, which a flood filter would rightly punish.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem() */
#endif
#include "loadgen.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static const char *const words_en[] = {
	"hello", "meeting", "lunch", "tomorrow", "coffee", "weather", "today",
	"thanks", "project", "update", "deploy", "review", "see", "you", "at",
	"the", "office", "later", "sounds", "good", "running", "late", "sorry",
	"photo", "weekend", "plans", "train", "station", "dinner", "shared",
	"slides", "call", "me", "when", "ready", "great", "idea", "let's", "go",
};

static const char *const words_ko[] = {
	"안녕하세요", "오늘", "날씨가", "정말", "좋네요", "회의는", "몇", "시에",
	"시작해요", "점심", "같이", "먹을래요", "내일", "만나요", "감사합니다",
	"사진", "보내줄게요", "지금", "가는", "중이에요", "주말에", "뭐", "해요",
	"커피", "한잔", "어때요", "알겠습니다", "확인했어요", "수고하셨습니다",
	"잠깐만요", "금방", "갈게요", "좋아요", "그래요", "서울", "부산", "기차",
	"늦을", "것", "같아요", "미안해요", "회의실", "예약했어요", "자료",
	"공유할게요", "저녁", "맛있게", "드세요",
};

/* Fillers for the last few bytes, longest first; each is whole characters. */
static const char *const pad_en[] = { " ok", "." };
static const char *const pad_ko[] = { " 네", "요", "." };

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static uint32_t next_random(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/* Appends src if it fits in the room left before `want` bytes. */
static bool append(char *dst, size_t *len, size_t want, const char *src)
{
	size_t n = strlen(src);

	if (*len + n > want)
		return false;
	memcpy(dst + *len, src, n);
	*len += n;
	return true;
}

static void fill_words(char *dst, size_t *len, size_t want, uint32_t *seed,
		       const char *const *words, size_t nwords)
{
	int misses = 0;

	while (misses < 8) {
		const char *w = words[next_random(seed) % nwords];

		if (*len + (*len > 0) + strlen(w) > want) {
			misses++;
			continue;
		}
		if (*len > 0)
			dst[(*len)++] = ' ';
		append(dst, len, want, w);
	}
}

static void fill_pad(char *dst, size_t *len, size_t want,
		     const char *const *pads, size_t npads)
{
	size_t i;

	for (i = 0; i < npads && *len < want; i++) {
		while (append(dst, len, want, pads[i])) {
		}
	}
}

void lg_texts_init(struct lg_texts *t, enum lg_lang lang, int bytes)
{
	const char *const *words = lang == LG_LANG_KO ? words_ko : words_en;
	size_t nwords = lang == LG_LANG_KO ? COUNT(words_ko) : COUNT(words_en);
	const char *const *pads = lang == LG_LANG_KO ? pad_ko : pad_en;
	size_t npads = lang == LG_LANG_KO ? COUNT(pad_ko) : COUNT(pad_en);
	size_t want = bytes > LG_TEXT_MAX ? LG_TEXT_MAX : (size_t)bytes;
	int i;

	for (i = 0; i < LG_TEXT_VARIANTS; i++) {
		uint32_t seed = 2463534242u + (uint32_t)i * 7919u;
		size_t len = 0;

		fill_words(t->text[i], &len, want, &seed, words, nwords);
		fill_pad(t->text[i], &len, want, pads, npads);
		t->text[i][len] = '\0';
	}
	t->len = want;
}

size_t lg_payload_build(char *out, size_t cap, const struct lg_texts *t,
			int pub_index, uint64_t seq, int64_t intended_ns)
{
	const char *text = t->text[(seq + (uint64_t)pub_index * 7u) % LG_TEXT_VARIANTS];
	int n;

	n = snprintf(out, cap, "{\"text\":\"%s\",\"cid\":\"%d-%" PRIu64 "-%" PRId64 "\"}",
		     text, pub_index, seq, intended_ns);
	if (n < 0)
		return 0;
	return (size_t)n >= cap ? cap - 1 : (size_t)n;
}

/* Reads decimal digits up to `stop`; -1 without digits or on overflow. */
static int read_u64(const char **p, const char *end, char stop, uint64_t *out)
{
	uint64_t v = 0;
	const char *s = *p;

	if (s >= end || *s < '0' || *s > '9')
		return -1;
	for (; s < end && *s >= '0' && *s <= '9'; s++) {
		uint64_t d = (uint64_t)(*s - '0');

		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	if (s >= end || *s != stop)
		return -1;
	*p = s + 1;
	*out = v;
	return 0;
}

/* The cid is the last "cid":" in the payload: inside a JSON string a
 * quote would be escaped, so user text cannot forge an earlier one that
 * matters, and the envelope writes cid near its end. */
static const char *find_cid(const char *s, size_t len)
{
	static const char key[] = "\"cid\":\"";
	size_t k = sizeof(key) - 1, i;

	if (len < k)
		return NULL;
	for (i = len - k + 1; i-- > 0;) {
		if (s[i] == '"' && !memcmp(s + i, key, k))
			return s + i + k;
	}
	return NULL;
}

int lg_payload_parse_next(const void *payload, size_t len, size_t *offset, int *pub_index,
			  uint64_t *seq, int64_t *intended_ns)
{
	static const char key[] = "\"cid\":\"";
	const char *s = payload, *p;
	size_t k = sizeof(key) - 1;

	if (!payload || *offset >= len)
		return -1;
	p = memmem(s + *offset, len - *offset, key, k);
	if (!p) {
		*offset = len;
		return -1;
	}
	*offset = (size_t)(p - s) + k;
	/* The cid runs to the next quote; parse it as a payload of its own. */
	const char *q = memchr(s + *offset, '"', len - *offset);
	if (!q)
		return -1;
	return lg_payload_parse(p, (size_t)(q - p) + 1, pub_index, seq, intended_ns);
}

int lg_payload_parse(const void *payload, size_t len, int *pub_index,
		     uint64_t *seq, int64_t *intended_ns)
{
	const char *s = payload, *end = s + len, *p;
	uint64_t pub, sq, ns;

	if (!payload)
		return -1;
	p = find_cid(s, len);
	if (!p || read_u64(&p, end, '-', &pub) || read_u64(&p, end, '-', &sq) ||
	    read_u64(&p, end, '"', &ns))
		return -1;
	if (pub > INT32_MAX || ns > INT64_MAX)
		return -1;
	*pub_index = (int)pub;
	*seq = sq;
	*intended_ns = (int64_t)ns;
	return 0;
}
