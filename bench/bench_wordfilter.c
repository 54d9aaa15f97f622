/* SPDX-License-Identifier: MIT */
/*
 * Microbenchmark of the banned-word engine: 10,000 generated words (half
 * Korean, half English, from a fixed-seed PRNG), then
 *   - rebuild time of the whole filter (goal < 50 ms),
 *   - ns per 100-byte message, Korean and English, normalization and
 *     masking included (goal < 1 us),
 *   - MB/s on a large text: the whole scan, the normalizer alone, and the
 *     matcher core as the difference of the two.
 * Usage: bench_wordfilter [--smoke]. --smoke shrinks every loop so the
 * test suite can run it in well under a second; it checks that the engine
 * works, not the goals. Exit status 1 means the engine misbehaved.
 */
#ifndef _GNU_SOURCE
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#endif
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "normalize.h"
#include "wordfilter.h"

#define NWORDS 10000
#define NMSG 64

struct bench {
	uint32_t seed;
	char *words[NWORDS];
	char *msg_ko[NMSG];
	char *msg_en[NMSG];
	bool smoke;
};

static uint32_t rnd(struct bench *b)
{
	b->seed ^= b->seed << 13;
	b->seed ^= b->seed >> 17;
	b->seed ^= b->seed << 5;
	return b->seed;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t put_syllable(char *out, uint32_t cp)
{
	out[0] = (char)(0xE0 | (cp >> 12));
	out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
	out[2] = (char)(0x80 | (cp & 0x3F));
	return 3;
}

static char *make_word(struct bench *b, bool korean)
{
	char buf[64];
	size_t n = 0, len = korean ? 2 + rnd(b) % 3 : 4 + rnd(b) % 5;
	for (size_t k = 0; k < len; k++) {
		if (korean) n += put_syllable(buf + n, 0xAC00 + rnd(b) % 11172);
		else buf[n++] = (char)('a' + rnd(b) % 26);
	}
	buf[n] = '\0';
	return strdup(buf);
}

static const char *const ko_words[] = {
	"안녕하세요", "오늘", "날씨가", "좋네요", "우리", "같이", "밥", "먹으러", "갈까요", "회의는",
	"내일", "오후", "세시에", "시작합니다", "감사합니다", "정말", "재미있어요", "사진", "보내줘", "ㅋㅋㅋ",
};
static const char *const en_words[] = {
	"hello", "there", "the", "meeting", "starts", "at", "three", "tomorrow", "thanks", "really",
	"great", "idea", "send", "me", "the", "photo", "see", "you", "soon", "lol",
};

/* About 100 bytes of chat; every 8th message carries a banned word. */
static char *make_message(struct bench *b, bool korean, int i)
{
	const char *const *pool = korean ? ko_words : en_words;
	char buf[160];
	size_t n = 0;
	while (n < 90) {
		const char *w = pool[rnd(b) % 20];
		if (i % 8 == 0 && n > 40) {
			w = b->words[(korean ? 0 : 1) + 2 * (rnd(b) % (NWORDS / 2))];
			i = 1;
		}
		size_t l = strlen(w);
		if (n + l + 1 > 100) break;
		memcpy(buf + n, w, l);
		n += l;
		buf[n++] = ' ';
	}
	buf[n] = '\0';
	return strdup(buf);
}

static struct wordfilter *build(struct bench *b)
{
	int err = 0;
	struct wordfilter *wf = wordfilter_build((const char *const *)b->words, NWORDS, NULL, 0, &err);
	if (!wf) fprintf(stderr, "build failed: %d\n", err);
	return wf;
}

static double time_build(struct bench *b, int reps)
{
	double best = 1e9;
	for (int r = 0; r < reps; r++) {
		double t = now_s();
		struct wordfilter *wf = build(b);
		t = now_s() - t;
		if (!wf) return -1;
		wordfilter_free(wf);
		if (t < best) best = t;
	}
	return best * 1e3;
}

/* ns per message, masking into a buffer as the plugin would. */
static double time_messages(const struct wordfilter *wf, char *const *msgs, long iters, int *hits)
{
	char out[256];
	*hits = 0;
	double t = now_s();
	for (long it = 0; it < iters; it++) {
		const char *m = msgs[it % NMSG];
		int h = wordfilter_apply(wf, m, strlen(m), out, sizeof(out));
		if (h < 0) return -1;
		if (it < NMSG) *hits += h;
	}
	return (now_s() - t) * 1e9 / (double)iters;
}

static char *large_text(struct bench *b, size_t size)
{
	char *t = malloc(size + 1);
	size_t n = 0;
	while (t && n < size) {
		const char *m = rnd(b) % 2 ? b->msg_ko[rnd(b) % NMSG] : b->msg_en[rnd(b) % NMSG];
		size_t l = strlen(m);
		if (l > size - n) l = size - n;
		memcpy(t + n, m, l);
		n += l;
	}
	if (t) t[n] = '\0';
	return t;
}

static int run(struct bench *b)
{
	int hits_ko = 0, hits_en = 0;
	double build_ms = time_build(b, b->smoke ? 1 : 10);
	struct wordfilter *wf = build(b);
	if (build_ms < 0 || !wf) return 1;
	long iters = b->smoke ? 2000 : 2000000;
	double ko = time_messages(wf, b->msg_ko, iters, &hits_ko);
	double en = time_messages(wf, b->msg_en, iters, &hits_en);
	size_t size = b->smoke ? (256u << 10) : (32u << 20);
	char *big = large_text(b, size), *out = malloc(size + 1);
	if (!big || !out || ko < 0 || en < 0) return 1;
	double t = now_s();
	int big_hits = wordfilter_apply(wf, big, size, out, size + 1);
	double scan = now_s() - t;
	t = now_s();
	size_t nlen = normalize_text(big, size, NULL, 0);
	double norm = now_s() - t;
	double mb = (double)size / 1e6;

	printf("wordfilter: %d words (half Korean, half English), filter %zu KiB%s\n", NWORDS,
	       wordfilter_memory(wf) >> 10, b->smoke ? ", smoke mode: numbers are rough" : "");
	printf("  %-34s %12s  %s\n", "measure", "value", "goal");
	printf("  %-34s %9.2f ms  < 50 ms\n", "rebuild, 10,000 words", build_ms);
	printf("  %-34s %9.0f ns  < 1000 ns\n", "message, Korean ~100 B", ko);
	printf("  %-34s %9.0f ns  < 1000 ns\n", "message, English ~100 B", en);
	printf("  %-34s %9.1f MB/s\n", "large text, whole scan + mask", mb / scan);
	printf("  %-34s %9.1f MB/s\n", "large text, normalizer alone", mb / norm);
	printf("  %-34s %9.1f MB/s\n", "large text, matcher core (diff)", scan > norm ? mb / (scan - norm) : 0.0);
	printf("  hits: %d of %d Korean, %d of %d English messages; %d in %.0f MB (normalized %zu B)\n",
	       hits_ko, NMSG, hits_en, NMSG, big_hits, mb, nlen);
	int rc = hits_ko >= NMSG / 8 && hits_en >= NMSG / 8 && big_hits > 0 ? 0 : 1;
	free(big);
	free(out);
	wordfilter_free(wf);
	return rc;
}

int main(int argc, char **argv)
{
	struct bench b = {.seed = 0x9E3779B9u};
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--smoke") == 0) {
			b.smoke = true;
		} else {
			fprintf(stderr, "usage: %s [--smoke]\n", argv[0]);
			return 2;
		}
	}
	normalize_init();
	for (int i = 0; i < NWORDS; i++) b.words[i] = make_word(&b, i % 2 == 0);
	for (int i = 0; i < NMSG; i++) {
		b.msg_ko[i] = make_message(&b, true, i);
		b.msg_en[i] = make_message(&b, false, i);
	}
	int rc = run(&b);
	for (int i = 0; i < NWORDS; i++) free(b.words[i]);
	for (int i = 0; i < NMSG; i++) {
		free(b.msg_ko[i]);
		free(b.msg_en[i]);
	}
	if (rc) fprintf(stderr, "bench_wordfilter: engine check failed\n");
	return rc;
}
