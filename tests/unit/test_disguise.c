/* SPDX-License-Identifier: MIT */
/*
 * Recall of the word filter on the disguises of common/disguise.h and the
 * normalizer's look-alike letters, class by class, and its false hits on a
 * clean corpus of real English and Korean sentences.
 *
 * The disguised cases are this file's own: at least 30 per class, each a
 * banned word of the list below written the way people dodge filters,
 * alone or in a sentence. The two-set spellings were worked out by hand
 * from the keyboard layout, not by the code under test.
 *
 * The clean corpus is read at test time from the translation catalogues
 * Debian installs (the .mo files in /usr/share/locale/ko/LC_MESSAGES: the English
 * message ids and their Korean translations, one sentence per line), plus
 * the numbers, prices, times, code and chat slang generated below; nothing
 * of it is copied into the repository. Fewer than 5,000 sentences fails
 * the test rather than skipping it.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "disguise.h"
#include "wordfilter.h"

static const char *const banned[] = {
	"idiot", "moron", "scam", "fuck", "shit", "bitch", "stupid", "loser", "bastard", "asshole", "=ass",
	"cunt", "slut", "whore", "retard", "dumbass", "jackass", "motherfucker", "wanker", "twat",
	"시발", "씨발", "바보", "멍청이", "병신", "개새끼", "새끼", "미친놈", "존나", "닥쳐", "지랄",
	"등신", "또라이", "염병", "빡대가리", "븅신", "미친년", "개년", "찐따", "좆같네", "엿먹어",
	"개소리", "느금마", "꼴통", "호구", "한남", "김치녀", "된장녀",
};
static const char *const allowed[] = {"cushitic", "class", "assistant", "pass", "glass", "grass", "mass", "bass", "assign",
				       "assume", "assert", "associate", "assess", "asset"};

struct klass {
	const char *name;
	const char *const *cases;
	size_t n;
};

/* Digits and symbols for letters inside English words. */
static const char *const leet[] = {
	"1d10t", "m0r0n", "sc4m", "$cam", "f*ck", "fu(k", "id!ot", "you are an 1d1ot", "what a m0ron",
	"this is a sc@m", "sh1t happens", "sh!t", "b1tch", "b!tch please", "5tup1d", "stup1d move", "l0s3r",
	"such a l0ser", "b4st4rd", "a55hole", "a$$hole", "a**hole", "c*nt", "5lut", "wh0re", "r3tard",
	"dumb4ss", "j4ckass", "m0therfucker", "w4nker", "tw4t", "f*cking hell", "sh*t", "st*pid", "id*ot",
	"$tupid", "sc4mmer alert", "1d!0t", "m0r0ns everywhere", "fu(king", "b|tch",
	/* A star for each of two or three letters. */
	"f**k", "what the f**k", "s**t", "b**ch", "b***h", "c**t", "f**king", "st**id", "m**on", "id**t",
	"!d!ot", "|d|ot", "!diot",
};

/* Latin words with letters from other scripts (Cyrillic, Greek). */
static const char *const lookalike[] = {
	"\xd1\x96" "diot",          /* і */
	"m\xd0\xber\xd0\xben",       /* о о */
	"\xd1\x95" "cam",           /* ѕ */
	"sc\xd0\xb0m",               /* а */
	"\xd1\x95hit",              /* ѕ */
	"b\xd1\x96tch",             /* і */
	"\xd1\x95tupid",            /* ѕ */
	"l\xd0\xbes\xd0\xb5r",       /* о е */
	"b\xd0\xb0st\xd0\xb0rd",     /* а а */
	"\xd0\xb0sshole",           /* а */
	"cunt\xd1\x95",             /* ѕ */
	"\xd1\x95lut",              /* ѕ */
	"wh\xd0\xber\xd0\xb5",       /* о е */
	"r\xd0\xb5tard",            /* е */
	"dumb\xd0\xb0ss",           /* а */
	"j\xd0\xb0" "ckass",        /* а */
	"m\xd0\xbethe\xd1\x80" "fucker", /* о р */
	"w\xd0\xb0nker",            /* а */
	"tw\xd0\xb0t",              /* а */
	"you \xd1\x96" "diot",      /* і */
	"what a m\xce\xbfron",       /* Greek ο */
	"sc\xce\xb1m",               /* Greek α */
	"\xd1\x96" "d\xd1\x96" "ot",  /* і і */
	"r\xd0\xb5t\xd0\xb0rd",     /* е а */
	"fu\xd1\x81k",              /* с */
	"\xd1\x81unt",              /* с */
	"bit\xd1\x81h",             /* с */
	"\xd1\x95\xd1\x81" "am",     /* ѕ с */
	"wh\xd0\xbere",             /* о */
	"\xd0\xb0\xd1\x95\xd1\x95hole", /* а ѕ ѕ */
	"l\xd0\xbeser",             /* о */
	"id\xd1\x96\xd0\xbet",       /* і о */
	"sh\xd1\x96t",              /* і */
	"\xd1\x95h\xd1\x96t",        /* ѕ і */
	"\xd0\x86" "D\xd0\x86\xd0\x9e\xd0\xa2", /* capitals І І О Т */
	"\xd0\x92\xd0\x86\xd0\xa2\xd0\xa1\xd0\x9d", /* capitals В І Т С Н: BITCH */
};

/* Korean typed with the input method off, on the two-set layout. */
static const char *const keyboard[] = {
	"tlqkf", "Tlqkf", "qkqh", "ajdcjddl", "qudtls", "rotoRl", "toRl", "ghrn", "alclssha", "whssk",
	"ekrcu", "wlfkf", "emdtls", "Ehfkdl", "gksska", "duaqud", "Qkreorkfl", "qbdtls", "alclssus", "rosus",
	"WlsEk", "whwrkxsp", "dutajrdj", "rothfl", "smrmaak", "Rhfxhd", "rlaclsu", "ehlswkdsu",
	"dk tlqkf wlsWk", "dlrj qkqh dkslsi", "tlqkfsha", "qudtlsdk", "qkqh rkxdms",
};

/* A Latin letter or digit for a jamo, or between two syllables. */
static const char *const jamo_mix[] = {
	"ㅅl발", "시1발", "바1보", "씨1발", "ㅆl발", "병1신", "멍1청이", "멍청1이", "개1새끼", "개새1끼",
	"새1끼", "호1구", "미1친놈", "미친1놈", "존1나", "닥1쳐", "지1랄", "등1신", "또1라이", "또라1이",
	"한1남", "염1병", "빡1대가리", "븅1신", "찐1따", "엿1먹어", "개1소리", "꼴1통", "넌 진짜 바1보야",
	"시x발", "시a발", "바b보", "병s신", "ㅁl친놈", "ㅈl랄", "멍청0l", "이 시1발 놈아",
};

static void *build(void)
{
	int err = 0;
	struct wordfilter *wf = wordfilter_build(banned, sizeof(banned) / sizeof(banned[0]), allowed,
						 sizeof(allowed) / sizeof(allowed[0]), &err);
	assert_int_equal(err, 0);
	return wf;
}

static int setup(void **state)
{
	*state = build();
	return 0;
}

static int teardown(void **state)
{
	wordfilter_free(*state);
	return 0;
}

static size_t caught(const struct wordfilter *wf, const struct klass *k)
{
	size_t hits = 0;
	for (size_t i = 0; i < k->n; i++) {
		const char *t = k->cases[i];
		if (wordfilter_apply(wf, t, strlen(t), NULL, 0) > 0) hits++;
		else print_message("  missed (%s): %s\n", k->name, t);
	}
	return hits;
}

#define KLASS(name, arr) {name, arr, sizeof(arr) / sizeof(arr[0])}

static void test_recall(void **state)
{
	const struct klass classes[] = {
		KLASS("digits and symbols", leet),
		KLASS("look-alike letters", lookalike),
		KLASS("two-set keyboard", keyboard),
		KLASS("Latin or digit in Hangul", jamo_mix),
	};
	for (size_t c = 0; c < sizeof(classes) / sizeof(classes[0]); c++) {
		size_t got = caught(*state, &classes[c]);
		print_message("recall %-26s %zu/%zu = %.1f%%\n", classes[c].name, got, classes[c].n,
			      100.0 * (double)got / (double)classes[c].n);
		assert_true(classes[c].n >= 30);
		assert_true(got * 100 >= classes[c].n * 95);
	}
}

/* The masked text of a disguise covers the disguise and nothing else. */
static void test_masks(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{"you are an 1d10t!", "you are an *****!"},
		{"a**hole", "*******"},
		{"oh f**k off", "oh **** off"},
		{"$cam alert", "**** alert"},
		{"\xd1\x96" "diot here", "***** here"},
		{"넌 시1발 진짜", "넌 *** 진짜"},
		/* A Latin letter right before the syllables: still a mixed text. */
		{"ok시l발", "ok***"},
		{"tlqkf 뭐야", "***** 뭐야"},
		{"price $5 at 10:30", "price $5 at 10:30"},
	};
	char out[128];
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int hits = wordfilter_apply(*state, cases[i].in, strlen(cases[i].in), out, sizeof(out));
		assert_true(hits >= 0);
		assert_string_equal(out, cases[i].out);
	}
}

/* ---- the clean corpus ---- */

struct corpus {
	char **s;
	size_t n, cap;
};

static void corpus_add(struct corpus *c, const char *s, size_t len)
{
	while (len > 0 && (s[0] == ' ' || s[0] == '\t')) s++, len--;
	if (len < 2) return;
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 4096;
		c->s = realloc(c->s, c->cap * sizeof(char *));
		assert_non_null(c->s);
	}
	char *copy = malloc(len + 1);
	assert_non_null(copy);
	memcpy(copy, s, len);
	copy[len] = '\0';
	c->s[c->n++] = copy;
}

/* Adds a catalogue string: context ("ctx\4msgid") dropped, plural forms
 * (NUL-separated) and lines taken one by one. */
static void corpus_add_string(struct corpus *c, const char *s, size_t len)
{
	const char *eot = memchr(s, '\4', len);
	if (eot) {
		len -= (size_t)(eot + 1 - s);
		s = eot + 1;
	}
	size_t a = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && s[i] != '\0' && s[i] != '\n') continue;
		corpus_add(c, s + a, i - a);
		a = i + 1;
	}
}

static uint32_t mo_u32(const unsigned char *p, bool swap)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return swap ? __builtin_bswap32(v) : v;
}

/* A GNU .mo file: both tables (originals, translations) of (length, offset). */
static void corpus_add_mo(struct corpus *c, const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f) return;
	fseek(f, 0, SEEK_END);
	long size = ftell(f);
	fseek(f, 0, SEEK_SET);
	unsigned char *m = size > 28 ? malloc((size_t)size) : NULL;
	if (m && fread(m, 1, (size_t)size, f) == (size_t)size) {
		uint32_t magic = mo_u32(m, false);
		bool swap = magic == 0xde120495u;
		uint32_t n = mo_u32(m + 8, swap), tabs[2] = {mo_u32(m + 12, swap), mo_u32(m + 16, swap)};
		for (int t = 0; t < 2 && (magic == 0x950412deu || swap); t++) {
			for (uint32_t i = 1; i < n; i++) { /* entry 0 is the header */
				size_t at = (size_t)tabs[t] + 8u * i;
				if (at + 8 > (size_t)size) break;
				uint32_t len = mo_u32(m + at, swap), off = mo_u32(m + at + 4, swap);
				if ((size_t)off + len <= (size_t)size) corpus_add_string(c, (const char *)m + off, len);
			}
		}
	}
	free(m);
	fclose(f);
}

/* Numbers, prices, times, code and chat slang, which must all pass. */
static void corpus_add_generated(struct corpus *c)
{
	static const char *const fixed[] = {
		"ㅋㅋ", "ㅋㅋㅋㅋㅋ", "ㅎㅎ", "ㅠㅠ", "ㅇㅇ", "ㄱㄱ", "ㅇㅋ", "ㄴㄴ", "ㅋㅋㅋ 진짜 웃기다", "lol", "lmao",
		"brb", "gg wp", "x = a*b + c;", "if (a && !b) return;", "printf(\"%d\\n\", x);", "a|b|c",
		"$HOME/bin", "user@example.com", "arr[i+1] = f(x)*2;", "3시에 만나", "5월 5일", "KTX타고 가요",
		"mp3 4K 2nd 3rd 4th 10am 5pm", "h264 x86_64 utf8 ipv6", "1st place", "cla55", "i18n l10n",
		"C++ and C#", "!important", "(see above)", "**bold** text", "a**b**c", "x**2 + y**2", "for*each*item", "wow!!!", "Q4 2024 results",
		"카톡ID는 abc123", "100% 맞아", "2배 빨라요", "3.14159", "v1.2.3", "RFC 2616", "A4 용지",
	};
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) corpus_add(c, fixed[i], strlen(fixed[i]));
	char buf[96];
	for (unsigned i = 0; i < 400; i++) {
		int n;
		switch (i % 8) {
		case 0: n = snprintf(buf, sizeof(buf), "%u", i * 7919u); break;
		case 1: n = snprintf(buf, sizeof(buf), "$%u.%02u", i, i % 100); break;
		case 2: n = snprintf(buf, sizeof(buf), "%02u:%02u", i % 24, i % 60); break;
		case 3: n = snprintf(buf, sizeof(buf), "%u원", i * 1000); break;
		case 4: n = snprintf(buf, sizeof(buf), "오후 %u시 %u분", i % 12 + 1, i % 60); break;
		case 5: n = snprintf(buf, sizeof(buf), "x%u = y%u * %u;", i, i + 1, i % 9); break;
		case 6: n = snprintf(buf, sizeof(buf), "%s", i % 2 ? "ㅋㅋㅋ" : "ㅎㅎㅎ"); break;
		default: n = snprintf(buf, sizeof(buf), "%u-%02u-%02u %u%%", 2000 + i % 30, i % 12 + 1, i % 28 + 1, i % 100);
		}
		corpus_add(c, buf, (size_t)n);
	}
}

static void test_clean_corpus(void **state)
{
	static const char dir[] = "/usr/share/locale/ko/LC_MESSAGES";
	struct corpus c = {0};
	DIR *d = opendir(dir);
	assert_non_null(d);
	for (struct dirent *e; (e = readdir(d));) {
		size_t l = strlen(e->d_name);
		if (l < 4 || strcmp(e->d_name + l - 3, ".mo") != 0) continue;
		char path[512];
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		corpus_add_mo(&c, path);
	}
	closedir(d);
	corpus_add_generated(&c);
	size_t hits = 0, disguised = 0, korean = 0;
	for (size_t i = 0; i < c.n; i++) {
		disguised += disguise_present(c.s[i], strlen(c.s[i]));
		korean += strstr(c.s[i], "\xea") || strstr(c.s[i], "\xeb") || strstr(c.s[i], "\xec") || strstr(c.s[i], "\xed");
		if (wordfilter_apply(*state, c.s[i], strlen(c.s[i]), NULL, 0) != 0) {
			hits++;
			print_message("  false hit: %s\n", c.s[i]);
		}
	}
	print_message("clean corpus: %zu sentences (%zu with Hangul) from %s and generated, %zu with a "
		      "rewritten token, %zu false hits\n", c.n, korean, dir, disguised, hits);
	assert_true(c.n >= 5000);
	assert_int_equal(hits, 0);
	for (size_t i = 0; i < c.n; i++) free(c.s[i]);
	free(c.s);
}

/* Rewritings keep the number of code points, and leave clean tokens alone. */
static void test_rewrite(void **state)
{
	char out[256];
	size_t n = disguise_rewrite("1d10t at 10:30", 14, 0, out);
	assert_int_equal(n, 14);
	assert_memory_equal(out, "idiot at 10:30", 14);
	n = disguise_rewrite("ki11", 4, 1, out);
	assert_memory_equal(out, "kill", n);
	n = disguise_rewrite("바1보", strlen("바1보"), 1, out);
	assert_int_equal(n, strlen("바\xe2\x80\x8b보"));
	assert_memory_equal(out, "바\xe2\x80\x8b보", n);
	n = disguise_rewrite("ㅅl발", strlen("ㅅl발"), 0, out);
	assert_memory_equal(out, "ㅅㅣ발", n);
	assert_false(disguise_present("plain words, 10:30 and $5", 25));
	assert_false(disguise_present("3시에 ㅋㅋ", strlen("3시에 ㅋㅋ")));
	assert_true(disguise_present("f*ck", 4));
	(void)state;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_recall),
		cmocka_unit_test(test_masks),
		cmocka_unit_test(test_clean_corpus),
		cmocka_unit_test(test_rewrite),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
