/* SPDX-License-Identifier: MIT */
/* Unit tests of common/envelope: client payload checks, writing, reading. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "chat_err.h"
#include "envelope.h"

static const struct envelope_limits lim = {256, 64};

static int parse(const char *payload, struct chat_msg *m, char *scratch)
{
	return envelope_parse_client(payload, strlen(payload), &lim, scratch, 512, m);
}

static void test_plain_text(void **state)
{
	(void)state;
	char scratch[512];
	struct chat_msg m;
	assert_int_equal(parse("안녕 world", &m, scratch), CHAT_OK);
	assert_int_equal(m.text_len, strlen("안녕 world"));
	assert_memory_equal(m.text, "안녕 world", m.text_len);
	assert_string_equal(m.type, "text");
	assert_string_equal(m.cid, "");
	assert_null(m.data);
}

static void test_json_message(void **state)
{
	(void)state;
	char scratch[512];
	struct chat_msg m;
	const char *p = "{\"text\":\"hi \\\"you\\\" \\u00e9\",\"type\":\"image\",\"cid\":\"c-1\","
			"\"data\":{\"url\":\"x\"},\"from\":\"mallory\",\"id\":\"forged\",\"ts\":1}";
	assert_int_equal(parse(p, &m, scratch), CHAT_OK);
	assert_int_equal(m.text_len, strlen("hi \"you\" é"));
	assert_memory_equal(m.text, "hi \"you\" é", m.text_len);
	assert_string_equal(m.type, "image");
	assert_string_equal(m.cid, "c-1");
	assert_int_equal(m.data_len, strlen("{\"url\":\"x\"}"));
	assert_int_equal(parse("{\"data\":{\"k\":1}}", &m, scratch), CHAT_OK);
	assert_null(m.text);
}

static void test_rejections(void **state)
{
	(void)state;
	char scratch[512], big[300];
	struct chat_msg m;
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(parse(big, &m, scratch), CHAT_ERR_TOO_LARGE);
	assert_int_equal(parse("bad \xC0\xAF utf8", &m, scratch), CHAT_ERR_UTF8);
	assert_int_equal(parse("{\"text\":", &m, scratch), CHAT_ERR_JSON);
	assert_int_equal(parse("{\"text\":5}", &m, scratch), CHAT_ERR_JSON);
	assert_int_equal(parse("{\"text\":\"a\\u0000b\"}", &m, scratch), CHAT_ERR_JSON);
	assert_int_equal(parse("{\"type\":\"x\"}", &m, scratch), CHAT_ERR_EMPTY);
	assert_int_equal(parse("{\"text\":\"\"}", &m, scratch), CHAT_ERR_EMPTY);
	assert_int_equal(parse("   ", &m, scratch), CHAT_ERR_EMPTY);
	assert_int_equal(parse("{\"text\":\"a\",\"data\":[1]}", &m, scratch), CHAT_ERR_JSON);
	assert_int_equal(parse("{\"text\":\"a\",\"cid\":\"has space\"}", &m, scratch), CHAT_ERR_JSON);
	assert_int_equal(parse("{\"data\":{\"k\":\"0123456789012345678901234567890123456789012345678901234567890\"}}",
			       &m, scratch),
			 CHAT_ERR_TOO_LARGE);
	assert_int_equal(envelope_parse_client("a\0b", 3, &lim, scratch, 512, &m), CHAT_ERR_UTF8);
	/* Malformed after a member that fails on its own: still bad JSON. */
	assert_int_equal(parse("{\"text\":5,\"x\":}", &m, scratch), CHAT_ERR_JSON);
	assert_int_equal(parse("{\"text\":\"a\",\"cid\":\"has space\"} trailing", &m, scratch), CHAT_ERR_JSON);
	assert_int_equal(parse("{\"data\":{\"k\":\"0123456789012345678901234567890123456789012345678901234567890\"},",
			       &m, scratch),
			 CHAT_ERR_JSON);
	assert_int_equal(parse("{\"text\":\"a\"}{}", &m, scratch), CHAT_ERR_JSON);
	assert_int_equal(parse("  {\"text\":\"a\" \"b\":1}", &m, scratch), CHAT_ERR_JSON);
}

/* Invalid UTF-8 is CHAT_ERR_UTF8 wherever it is, in or out of a JSON
 * string, and whatever other error the payload has; text without escapes
 * is taken as it stands in the payload. */
static void test_utf8_and_spans(void **state)
{
	(void)state;
	char scratch[512];
	struct chat_msg m;
	assert_int_equal(parse("{\"text\":\"bad \xC0\xAF\"}", &m, scratch), CHAT_ERR_UTF8);
	assert_int_equal(parse("{\"text\":\"a\"}\xC0", &m, scratch), CHAT_ERR_UTF8);
	assert_int_equal(parse("{\"text\":5,\"x\":\"\xFF\"}", &m, scratch), CHAT_ERR_UTF8);
	assert_int_equal(parse("{\"cid\":\"\xC3\xA9\",\"text\":\"a\"}", &m, scratch), CHAT_ERR_JSON);
	const char *p = "{\"text\":\"a plain text of more than sixteen bytes, \xED\x95\x9C\xEA\xB5\xAD\"}";
	assert_int_equal(parse(p, &m, scratch), CHAT_OK);
	assert_ptr_equal(m.text, p + 9);
	assert_int_equal(m.text_len, strlen(p) - 11);
	assert_int_equal(parse("{\"text\":\"tab\\there, then more text\"}", &m, scratch), CHAT_OK);
	assert_ptr_equal(m.text, scratch);
	assert_int_equal(m.text_len, strlen("tab\there, then more text"));
	assert_memory_equal(m.text, "tab\there, then more text", m.text_len);
}

/* The writer's number and optional members, and a buffer that already
 * holds text (the envelope is appended). */
static void test_write_pieces(void **state)
{
	(void)state;
	const struct {
		int64_t ts;
		const char *want;
	} rows[] = {
		{0, "x{\"id\":\"I\",\"room\":\"r\",\"from\":\"u\",\"ts\":0,\"type\":\"t\"}"},
		{INT64_MIN, "x{\"id\":\"I\",\"room\":\"r\",\"from\":\"u\",\"ts\":-9223372036854775808,\"type\":\"t\"}"},
		{INT64_MAX, "x{\"id\":\"I\",\"room\":\"r\",\"from\":\"u\",\"ts\":9223372036854775807,\"type\":\"t\"}"},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct strbuf sb;
		strbuf_init(&sb);
		strbuf_putc(&sb, 'x');
		struct envelope e = {.id = "I", .room = "r", .from = "u", .ts = rows[i].ts, .type = "t", .cid = ""};
		assert_int_equal(envelope_write(&sb, &e), CHAT_OK);
		assert_string_equal(sb.buf, rows[i].want);
		assert_int_equal(sb.len, strlen(rows[i].want));
		strbuf_free(&sb);
	}
}

/* A cid is refused for one bad byte wherever it falls, and accepted with
 * the printable extremes '!' and '~'. */
static void test_token_bytes(void **state)
{
	(void)state;
	char scratch[512];
	struct chat_msg m;
	const char *bad[] = {" ", "\"", "\\\\", "\x7F", "\xC3\xA9", "\\u0001", "\\t"};
	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		for (size_t pos = 0; pos < 20; pos++) {
			char p[128];
			snprintf(p, sizeof(p), "{\"text\":\"a\",\"cid\":\"%.*s%s%s\"}", (int)pos, "!bcdefghijklmnopqrst~",
				 bad[k], "0123456789~!");
			if (parse(p, &m, scratch) != CHAT_ERR_JSON) fail_msg("accepted: %s", p);
		}
	}
	assert_int_equal(parse("{\"text\":\"a\",\"cid\":\"!~0123456789abcdef~!\"}", &m, scratch), CHAT_OK);
	assert_string_equal(m.cid, "!~0123456789abcdef~!");
}

/* Escaping does not depend on where a special byte falls in the text. */
static void test_write_escapes(void **state)
{
	(void)state;
	const char *seqs[] = {"\"", "\\", "\n", "\x01", "\x1F", "\xC3\xA9", "\x7F"};
	for (size_t k = 0; k < sizeof(seqs) / sizeof(seqs[0]); k++) {
		for (size_t pos = 0; pos < 20; pos++) {
			char text[64];
			int n = snprintf(text, sizeof(text), "%.*s%s%s", (int)pos, "abcdefghijklmnopqrstuvwxyz", seqs[k],
					 "0123456789ABCDEF");
			assert_true(n > 0);
			struct strbuf sb;
			strbuf_init(&sb);
			struct envelope e = {.id = "I", .room = "r", .from = "u", .type = "text", .text = text,
					     .text_len = (size_t)n};
			assert_int_equal(envelope_write(&sb, &e), CHAT_OK);
			struct envelope_view v;
			assert_int_equal(envelope_read(sb.buf, sb.len, &v), CHAT_OK);
			char back[64];
			assert_int_equal(json_string_decode(&v.text, back, sizeof(back)), n);
			assert_memory_equal(back, text, (size_t)n);
			strbuf_free(&sb);
		}
	}
}

/* The escaping writer against a byte-by-byte model, for every byte value
 * at every place of strings of 0 to 40 bytes: its block steps, overlapping
 * last blocks and short-string loads must not change a byte. */
static size_t model_escape(char *o, const char *s, size_t n)
{
	size_t k = 0;
	o[k++] = '"';
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		const char *e = c == '"' ? "\\\"" : c == '\\' ? "\\\\" : c == '\n' ? "\\n" : c == '\r' ? "\\r" :
				 c == '\t' ? "\\t" : c == '\b' ? "\\b" : c == '\f' ? "\\f" : NULL;
		if (e) {
			memcpy(o + k, e, 2);
			k += 2;
		} else if (c < 0x20) {
			k += (size_t)snprintf(o + k, 7, "\\u%04x", c);
		} else {
			o[k++] = (char)c;
		}
	}
	o[k++] = '"';
	return k;
}

static void test_write_escape_bytes(void **state)
{
	(void)state;
	char s[40], want[STRBUF_JSON_MAX(40) + 1], got[STRBUF_JSON_MAX(40) + 1];
	for (size_t n = 0; n <= sizeof(s); n++) {
		for (size_t pos = 0; pos < (n ? n : 1); pos++) {
			for (int b = 0; b < 256; b++) {
				for (size_t i = 0; i < n; i++) s[i] = (char)('a' + i % 26);
				if (n) s[pos] = (char)b;
				size_t k = model_escape(want, s, n);
				char *end = strbuf_json_escape(got, s, n);
				if ((size_t)(end - got) != k || memcmp(got, want, k) != 0)
					fail_msg("length %zu, byte 0x%02x at %zu", n, b, pos);
			}
		}
	}
}

/* Timestamps and shards in decimal, from the short path's edges to the
 * long one's; text_plain copies the text without looking at it. */
static void test_write_numbers(void **state)
{
	(void)state;
	static const int64_t ts[] = {0, 7, 10, 99999999, 100000000, 1700000000123, 9999999999999999,
				     10000000000000000, INT64_MAX, -1, INT64_MIN};
	for (size_t i = 0; i < sizeof(ts) / sizeof(ts[0]); i++) {
		struct strbuf sb;
		strbuf_init(&sb);
		struct envelope e = {.id = "I", .room = "r", .from = "u", .ts = ts[i], .type = "t",
				     .text = "hi", .text_len = 2, .text_plain = true, .shard = 4294967295u};
		assert_int_equal(envelope_write(&sb, &e), CHAT_OK);
		char want[160];
		snprintf(want, sizeof(want),
			 "{\"id\":\"I\",\"room\":\"r\",\"from\":\"u\",\"ts\":%lld,\"type\":\"t\",\"text\":\"hi\","
			 "\"shard\":4294967295}",
			 (long long)ts[i]);
		assert_string_equal(sb.buf, want);
		assert_int_equal(sb.len, strlen(want));
		strbuf_free(&sb);
	}
}

static void test_write_read_roundtrip(void **state)
{
	(void)state;
	struct strbuf sb;
	strbuf_init(&sb);
	struct envelope e = {
		.id = "01HZX", .room = "general", .from = "alice", .ts = 1700000000123, .type = "text",
		.text = "line\n\"quoted\" 한국어", .text_len = strlen("line\n\"quoted\" 한국어"), .cid = "c9",
		.data = "{\"a\":[1,2]}", .data_len = 11, .flagged = true,
	};
	assert_int_equal(envelope_write(&sb, &e), CHAT_OK);
	assert_string_equal(sb.buf, "{\"id\":\"01HZX\",\"room\":\"general\",\"from\":\"alice\",\"ts\":1700000000123,"
				    "\"type\":\"text\",\"text\":\"line\\n\\\"quoted\\\" 한국어\",\"cid\":\"c9\","
				    "\"data\":{\"a\":[1,2]},\"flagged\":true}");
	struct envelope_view v;
	assert_int_equal(envelope_read(sb.buf, sb.len, &v), CHAT_OK);
	assert_int_equal(v.ts, 1700000000123);
	assert_true(v.flagged && v.has_text && v.has_cid && v.has_data);
	char text[64];
	assert_int_equal(json_string_decode(&v.text, text, sizeof(text)), (long)e.text_len);
	assert_string_equal(text, e.text);
	assert_int_equal(envelope_read("{\"id\":\"x\"}", 10, &v), CHAT_ERR_JSON);
	assert_int_equal(envelope_read("not json", 8, &v), CHAT_ERR_JSON);
	strbuf_free(&sb);
}

#define ID1 "01M87XJ1MMKHH8NFKT00000000"

static void test_changes_parsed(void **state)
{
	(void)state;
	char scratch[512];
	struct chat_msg m;
	assert_int_equal(parse("{\"edit\":\"" ID1 "\",\"text\":\"fixed\"}", &m, scratch), CHAT_OK);
	assert_int_equal(m.op, ENVELOPE_EDIT);
	assert_string_equal(m.ref, ID1);
	assert_int_equal(parse("{\"delete\":\"" ID1 "\"}", &m, scratch), CHAT_OK);
	assert_int_equal(m.op, ENVELOPE_DELETE);
	assert_null(m.text);
	assert_int_equal(parse("{\"react\":\"" ID1 "\",\"reaction\":\"\\ud83d\\udc4d\"}", &m, scratch), CHAT_OK);
	assert_int_equal(m.op, ENVELOPE_REACT);
	assert_string_equal(m.reaction, "👍");
	assert_int_equal(parse("{\"react\":\"" ID1 "\",\"reaction\":\"\"}", &m, scratch), CHAT_OK);
	assert_string_equal(m.reaction, "");
	assert_int_equal(parse("{\"text\":\"yes\",\"reply\":\"" ID1 "\"}", &m, scratch), CHAT_OK);
	assert_int_equal(m.op, ENVELOPE_POST);
	assert_string_equal(m.reply, ID1);
	assert_string_equal(m.ref, "");
}

static void test_changes_refused(void **state)
{
	(void)state;
	char scratch[512];
	struct chat_msg m;
	const char *bad[] = {
		"{\"edit\":\"nonsense\",\"text\":\"x\"}",                /* not an id */
		"{\"edit\":1,\"text\":\"x\"}",                            /* not a string */
		"{\"delete\":\"" ID1 "\",\"text\":\"x\"}",              /* a delete carries nothing */
		"{\"edit\":\"" ID1 "\",\"delete\":\"" ID1 "\",\"text\":\"x\"}", /* two changes */
		"{\"edit\":\"" ID1 "\",\"edit\":\"" ID1 "\",\"text\":\"x\"}",   /* twice */
		"{\"react\":\"" ID1 "\"}",                                 /* no reaction */
		"{\"reaction\":\"ok\",\"text\":\"x\"}",                  /* a reaction without react */
		"{\"react\":\"" ID1 "\",\"reaction\":\"a b\"}",          /* a blank */
		"{\"react\":\"" ID1 "\",\"reaction\":\"\\u0007\"}",    /* a control */
		"{\"react\":\"" ID1 "\",\"reaction\":\"123456789012345678901234567890123\"}", /* 33 bytes */
		"{\"edit\":\"" ID1 "\",\"text\":\"x\",\"reply\":\"" ID1 "\"}", /* reply on a change */
		"{\"text\":\"x\",\"reply\":\"" ID1 "x\"}",               /* too long */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parse(bad[i], &m, scratch) != CHAT_ERR_JSON) fail_msg("accepted: %s", bad[i]);
	}
	assert_int_equal(parse("{\"edit\":\"" ID1 "\"}", &m, scratch), CHAT_ERR_EMPTY);
}

static void test_changes_written_and_read(void **state)
{
	(void)state;
	struct strbuf sb;
	struct envelope_view v;
	char buf[64];
	strbuf_init(&sb);
	struct envelope e = {.id = "01M87XJ1MMKHH8NFKT00000001", .room = "r", .from = "bob", .ts = 5,
			     .type = "reaction", .react = ID1, .reaction = "👍", .reply = ID1};
	assert_int_equal(envelope_write(&sb, &e), CHAT_OK);
	assert_string_equal(sb.buf, "{\"id\":\"01M87XJ1MMKHH8NFKT00000001\",\"room\":\"r\",\"from\":\"bob\","
				    "\"ts\":5,\"type\":\"reaction\",\"react\":\"" ID1 "\",\"reaction\":\"👍\","
				    "\"reply\":\"" ID1 "\"}");
	assert_int_equal(envelope_read(sb.buf, sb.len, &v), CHAT_OK);
	assert_true(v.has_react && v.has_reaction && v.has_reply && !v.has_edit && !v.has_del);
	assert_true(json_string_decode(&v.reaction, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "👍");
	strbuf_reset(&sb);
	struct envelope h = {.id = ID1, .room = "r", .from = "bob", .ts = 5, .type = "text", .edited = 7,
			     .reactions = "{\"ok\":2}", .reactions_len = 8};
	assert_int_equal(envelope_write(&sb, &h), CHAT_OK);
	assert_non_null(strstr(sb.buf, ",\"edited\":7,\"reactions\":{\"ok\":2}}"));
	strbuf_reset(&sb);
	struct envelope d = {.id = ID1, .room = "r", .from = "bob", .ts = 5, .type = "text", .deleted = true};
	assert_int_equal(envelope_write(&sb, &d), CHAT_OK);
	assert_non_null(strstr(sb.buf, ",\"deleted\":true}"));
	strbuf_free(&sb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_text),
		cmocka_unit_test(test_json_message),
		cmocka_unit_test(test_rejections),
		cmocka_unit_test(test_write_read_roundtrip),
		cmocka_unit_test(test_utf8_and_spans),
		cmocka_unit_test(test_write_escapes),
		cmocka_unit_test(test_write_escape_bytes),
		cmocka_unit_test(test_write_numbers),
		cmocka_unit_test(test_token_bytes),
		cmocka_unit_test(test_write_pieces),
		cmocka_unit_test(test_changes_parsed),
		cmocka_unit_test(test_changes_refused),
		cmocka_unit_test(test_changes_written_and_read),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
