/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the JSON scanner (common/json.c). The input is the
 * document. Oracles, checked on every input:
 *
 * - json_check accepts exactly what the reference parser (refjson.c, RFC
 *   8259 with strict UTF-8 and the same depth limit) accepts, and reports
 *   the same span and type;
 * - json_object_parse and json_object_foreach report the reference's
 *   members in order, with the same key and value spans, stop after the
 *   callback's first non-zero value and return it, and json_object_parse
 *   says CHAT_ERR_JSON for anything that is not one valid object, even
 *   after its callback stopped;
 * - every string (names and values, however deep) decodes with
 *   json_string_decode to the reference's bytes and length, escaped U+0000
 *   included, NUL-terminated, and one byte less room is CHAT_ERR_TOO_LARGE;
 *   json_key_is agrees on the decoded name (names under 64 bytes, the size
 *   json_key_is decodes into);
 * - json_number_i64 takes exactly the integers without fraction or
 *   exponent of at most 18 digits, with their exact value;
 * - json_plain_prefix agrees with a byte loop at many offsets and lengths,
 *   so its 16- and 8-byte steps are checked against the plain definition;
 * - cJSON accepts every valid document (but those with a number over 63
 *   characters, which cJSON 1.7.15 cannot read) and decodes it to the same
 *   tree: types, numbers, array sizes, names and strings as far as cJSON's
 *   C strings go (up to the first U+0000).
 *
 * Buffers are exact-size so ASan sees any read or write past them.
 */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chat_err.h"
#include "json.h"
#include "refjson.h"

/* The product's type of a reference value. */
static enum json_type type_of(const struct refjson *r)
{
	static const enum json_type map[] = {
		[REFJSON_NULL] = JSON_NULL,     [REFJSON_FALSE] = JSON_FALSE, [REFJSON_TRUE] = JSON_TRUE,
		[REFJSON_NUMBER] = JSON_NUMBER, [REFJSON_STRING] = JSON_STRING, [REFJSON_ARRAY] = JSON_ARRAY,
		[REFJSON_OBJECT] = JSON_OBJECT,
	};
	return map[r->type];
}

static struct json_span span_of(const struct refjson *r)
{
	struct json_span s = {r->span, r->span_len, type_of(r), false};
	return s;
}

/* ---- strings ---- */

static void check_decode(const char *span, size_t span_len, const char *want, size_t want_len)
{
	struct json_span s = {span, span_len, JSON_STRING, false};
	char *out = malloc(want_len + 1);
	if (!out) abort();
	if (json_string_decode(&s, out, want_len + 1) != (long)want_len) abort();
	if (memcmp(out, want, want_len) != 0 || out[want_len] != '\0') abort();
	if (want_len > 0 && json_string_decode(&s, out, want_len) != CHAT_ERR_TOO_LARGE) abort();
	free(out);
}

/* json_key_is on a name: its own decoding is a match, one byte more or
 * less is not. */
static void check_key_is(const char *span, size_t span_len, const char *dec, size_t len)
{
	struct json_span s = {span, span_len, JSON_STRING, false};
	char name[66];
	if (len >= 64 || memchr(dec, '\0', len)) return;
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)dec[i] >= 0x80) return; /* ASCII names only */
	}
	memcpy(name, dec, len);
	name[len] = '\0';
	if (!json_key_is(&s, name)) abort();
	name[len] = 'x';
	name[len + 1] = '\0';
	if (json_key_is(&s, name)) abort();
	if (len > 0) {
		name[len - 1] = '\0';
		if (json_key_is(&s, name)) abort();
	}
}

/* ---- numbers ---- */

/* The value of an integer span of at most 18 digits, or false. */
static bool ref_i64(const char *p, size_t n, long long *v)
{
	size_t i = p[0] == '-' ? 1 : 0, digits = n - i;
	if (digits == 0 || digits > 18) return false;
	long long r = 0;
	for (; i < n; i++) {
		if (p[i] < '0' || p[i] > '9') return false;
		r = r * 10 + (p[i] - '0');
	}
	*v = p[0] == '-' ? -r : r;
	return true;
}

static void check_number(const struct refjson *r)
{
	struct json_span s = span_of(r);
	long long want = 0, got = 0;
	bool ok = ref_i64(r->span, r->span_len, &want);
	int rc = json_number_i64(&s, &got);
	if (ok != (rc == CHAT_OK) || (ok && got != want)) abort();
	if (!ok && rc != CHAT_ERR_INVAL) abort();
}

/* ---- members ---- */

struct walk {
	const struct refjson *obj;
	size_t seen, stop_at; /* stop_at 0 = never stop */
};

static int member_cb(const struct json_span *key, const struct json_span *value, void *ud)
{
	struct walk *w = ud;
	if (w->seen >= w->obj->count) abort();
	const struct refjson *m = &w->obj->items[w->seen++];
	if (key->p != m->key_span || key->len != m->key_span_len || key->type != JSON_STRING) abort();
	if (value->p != m->span || value->len != m->span_len || value->type != type_of(m)) abort();
	return w->seen == w->stop_at ? 7 : 0;
}

/* The calls and result a walk over obj must give with stop_at. */
static void check_walk_result(const struct walk *w, int rc)
{
	bool stops = w->stop_at > 0 && w->stop_at <= w->obj->count;
	if (rc != (stops ? 7 : 0)) abort();
	if (w->seen != (stops ? w->stop_at : w->obj->count)) abort();
}

static void check_foreach(const struct refjson *obj, size_t stop_at)
{
	struct json_span s = span_of(obj);
	struct walk w = {obj, 0, stop_at};
	check_walk_result(&w, json_object_foreach(&s, member_cb, &w));
}

/* For text the reference refuses: the members the scanner reports before
 * it finds the fault lie inside the input, and none comes after a stop. */
struct loose {
	const char *buf;
	size_t len, calls, stop_at;
};

static void inside(const struct loose *l, const struct json_span *s)
{
	if (s->p < l->buf || s->len > l->len || (size_t)(s->p - l->buf) > l->len - s->len) abort();
}

static int loose_cb(const struct json_span *key, const struct json_span *value, void *ud)
{
	struct loose *l = ud;
	inside(l, key);
	inside(l, value);
	if (key->type != JSON_STRING || key->len < 2 || key->p[0] != '"') abort();
	if (l->stop_at > 0 && l->calls >= l->stop_at) abort();
	return ++l->calls == l->stop_at ? 7 : 0;
}

/* json_object_parse over the whole input, against the reference's answer. */
static void check_object_parse(const char *buf, size_t len, const struct refjson *ref, size_t stop_at)
{
	if (ref && ref->type == REFJSON_OBJECT) {
		struct walk w = {ref, 0, stop_at};
		check_walk_result(&w, json_object_parse(buf, len, member_cb, &w));
		return;
	}
	struct loose l = {buf, len, 0, stop_at};
	if (json_object_parse(buf, len, loose_cb, &l) != CHAT_ERR_JSON) abort();
	if (ref && l.calls != 0) abort(); /* a valid non-object has no members to report */
}

/* ---- the tree ---- */

static void check_tree(const struct refjson *r, size_t stop_at)
{
	if (r->key) {
		check_decode(r->key_span, r->key_span_len, r->key, r->key_len);
		check_key_is(r->key_span, r->key_span_len, r->key, r->key_len);
	}
	if (r->type == REFJSON_STRING) {
		check_decode(r->span, r->span_len, r->str, r->str_len);
		check_key_is(r->span, r->span_len, r->str, r->str_len);
	}
	if (r->type == REFJSON_NUMBER) check_number(r);
	if (r->type == REFJSON_OBJECT) check_foreach(r, stop_at);
	for (size_t i = 0; i < r->count; i++) check_tree(&r->items[i], stop_at);
}

/* ---- cJSON ---- */

/* s[0..n) as a C string sees it: up to the first NUL. */
static bool same_c_string(const char *c, const char *s, size_t n)
{
	size_t k = strnlen(s, n);
	return c && strlen(c) == k && memcmp(c, s, k) == 0;
}

static void same_as_cjson(const struct refjson *r, const cJSON *j)
{
	char num[80];
	switch (r->type) {
	case REFJSON_NULL: if (!cJSON_IsNull(j)) abort(); break;
	case REFJSON_FALSE: if (!cJSON_IsFalse(j)) abort(); break;
	case REFJSON_TRUE: if (!cJSON_IsTrue(j)) abort(); break;
	case REFJSON_NUMBER:
		memcpy(num, r->span, r->span_len);
		num[r->span_len] = '\0';
		if (!cJSON_IsNumber(j) || j->valuedouble != strtod(num, NULL)) abort();
		break;
	case REFJSON_STRING:
		if (!cJSON_IsString(j) || !same_c_string(j->valuestring, r->str, r->str_len)) abort();
		break;
	case REFJSON_ARRAY:
	case REFJSON_OBJECT: {
		if (r->type == REFJSON_ARRAY ? !cJSON_IsArray(j) : !cJSON_IsObject(j)) abort();
		const cJSON *k = j->child;
		for (size_t i = 0; i < r->count; i++, k = k->next) {
			if (!k) abort();
			if (r->type == REFJSON_OBJECT && !same_c_string(k->string, r->items[i].key, r->items[i].key_len))
				abort();
			same_as_cjson(&r->items[i], k);
		}
		if (k) abort();
		break;
	}
	}
}

static void check_cjson(const char *buf, size_t len, const struct refjson *ref)
{
	if (refjson_number_longer(ref, 63)) return;
	const char *end = NULL;
	cJSON *j = cJSON_ParseWithLengthOpts(buf, len, &end, 0);
	if (!j) abort();
	same_as_cjson(ref, j);
	cJSON_Delete(j);
}

/* ---- json_plain_prefix ---- */

static size_t ref_plain(const char *s, size_t n, bool ascii)
{
	size_t i = 0;
	for (; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == '"' || c == '\\' || (ascii && c >= 0x80)) break;
	}
	return i;
}

static void check_plain(const char *buf, size_t len)
{
	for (size_t off = 0; off < len && off < 17; off++) {
		size_t rest = len - off;
		size_t lens[] = {rest, rest / 2, rest < 15 ? rest : 15, rest < 7 ? rest : 7, rest < 33 ? rest : 33};
		for (size_t k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
			for (int ascii = 0; ascii < 2; ascii++) {
				if (json_plain_prefix(buf + off, lens[k], ascii) != ref_plain(buf + off, lens[k], ascii))
					abort();
			}
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size ? size : 1);
	if (!buf) abort();
	memcpy(buf, data, size);
	/* Where the member walks stop: derived from the input, 0 = never. */
	size_t stop_at = size % 5;

	struct refjson *ref = refjson_parse(buf, size, JSON_MAX_DEPTH);
	struct json_span span;
	int rc = json_check(buf, size, &span);
	if ((rc == CHAT_OK) != (ref != NULL) || json_check(buf, size, NULL) != rc) abort();
	if (rc != CHAT_OK && rc != CHAT_ERR_JSON) abort();
	if (ref) {
		if (span.p != ref->span || span.len != ref->span_len || span.type != type_of(ref)) abort();
		check_tree(ref, stop_at);
		check_cjson(buf, size, ref);
	}
	check_object_parse(buf, size, ref, stop_at);
	check_plain(buf, size);
	refjson_free(ref);
	free(buf);
	return 0;
}
