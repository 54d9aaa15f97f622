/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of common/jrec, the journal's record framing: the CRC matches
 * the published CRC-32C check value, records round-trip, and a journal cut
 * at any byte, with a flipped bit or with a zero-filled tail keeps exactly
 * the records before the damage.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "chat_err.h"
#include "jrec.h"

/* Appends one record to buf at *off. */
static void put(uint8_t *buf, size_t cap, size_t *off, uint8_t kind, const char *payload)
{
	uint8_t h[JREC_HEADER], t[JREC_TRAILER];
	size_t n = strlen(payload);
	assert_true(*off + jrec_size(n) <= cap);
	assert_int_equal(jrec_frame(kind, payload, n, h, t), CHAT_OK);
	memcpy(buf + *off, h, sizeof(h));
	memcpy(buf + *off + JREC_HEADER, payload, n);
	memcpy(buf + *off + JREC_HEADER + n, t, sizeof(t));
	*off += jrec_size(n);
}

static void test_crc_check_value(void **state)
{
	(void)state;
	assert_int_equal(jrec_crc32c(0, "123456789", 9), 0xE3069283u);
	/* Continuing a CRC over two pieces equals one pass over both. */
	uint32_t c = jrec_crc32c(jrec_crc32c(0, "1234", 4), "56789", 5);
	assert_int_equal(c, 0xE3069283u);
	assert_int_equal(jrec_crc32c(0, "", 0), 0);
}

/* Bit by bit, as the polynomial defines it. */
static uint32_t crc_reference(const uint8_t *b, size_t n)
{
	uint32_t crc = 0xFFFFFFFFu;
	for (size_t i = 0; i < n; i++) {
		crc ^= b[i];
		for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
	}
	return ~crc;
}

/* Every length and start up to 40 bytes, so the 8-byte steps, their tail
 * and unaligned starts all meet the reference. */
static void test_crc_lengths(void **state)
{
	(void)state;
	uint8_t buf[48];
	for (size_t i = 0; i < sizeof(buf); i++) buf[i] = (uint8_t)(i * 151u + 7u);
	for (size_t start = 0; start < 8; start++)
		for (size_t n = 0; n <= 40; n++)
			assert_int_equal(jrec_crc32c(0, buf + start, n), crc_reference(buf + start, n));
}

static void test_round_trip(void **state)
{
	(void)state;
	uint8_t buf[512];
	size_t off = 0, count = 0;
	put(buf, sizeof(buf), &off, 1, "{\"id\":\"a\"}");
	put(buf, sizeof(buf), &off, 2, "");
	put(buf, sizeof(buf), &off, 255, "안녕");
	assert_int_equal(jrec_valid_prefix(buf, off, &count), off);
	assert_int_equal(count, 3);
	struct jrec r;
	assert_int_equal(jrec_decode(buf, off, &r), CHAT_OK);
	assert_int_equal(r.kind, 1);
	assert_int_equal(r.len, 10);
	assert_memory_equal(r.payload, "{\"id\":\"a\"}", 10);
	assert_int_equal(jrec_decode(buf + r.size, off - r.size, &r), CHAT_OK);
	assert_int_equal(r.kind, 2);
	assert_int_equal(r.len, 0);
	assert_int_equal(jrec_decode(buf, 0, &r), CHAT_ERR_EMPTY);
}

static void test_torn_tail_at_every_byte(void **state)
{
	(void)state;
	uint8_t buf[512];
	size_t off = 0, ends[3];
	const char *payloads[] = {"first", "second record", "third"};
	for (int i = 0; i < 3; i++) {
		put(buf, sizeof(buf), &off, 1, payloads[i]);
		ends[i] = off;
	}
	for (size_t cut = 0; cut <= off; cut++) {
		size_t want = 0, want_count = 0, count = 99;
		for (int i = 0; i < 3; i++) {
			if (ends[i] <= cut) {
				want = ends[i];
				want_count = (size_t)i + 1;
			}
		}
		assert_int_equal(jrec_valid_prefix(buf, cut, &count), want);
		assert_int_equal(count, want_count);
	}
}

static void test_bit_flip_stops_there(void **state)
{
	(void)state;
	uint8_t buf[512];
	size_t off = 0, first_end, count;
	put(buf, sizeof(buf), &off, 1, "first");
	first_end = off;
	put(buf, sizeof(buf), &off, 1, "second");
	put(buf, sizeof(buf), &off, 1, "third");
	for (size_t byte = first_end; byte < first_end + jrec_size(6); byte++) {
		for (int bit = 0; bit < 8; bit++) {
			buf[byte] ^= (uint8_t)(1u << bit);
			assert_int_equal(jrec_valid_prefix(buf, off, &count), first_end);
			assert_int_equal(count, 1);
			buf[byte] ^= (uint8_t)(1u << bit);
		}
	}
	assert_int_equal(jrec_valid_prefix(buf, off, &count), off);
}

static void test_zero_filled_tail(void **state)
{
	(void)state;
	uint8_t buf[256];
	size_t off = 0, count;
	memset(buf, 0, sizeof(buf));
	put(buf, sizeof(buf), &off, 3, "kept");
	/* A file system may leave a zero-filled extent after a crash. */
	assert_int_equal(jrec_valid_prefix(buf, sizeof(buf), &count), off);
	assert_int_equal(count, 1);
}

static void test_frame_refuses_bad_input(void **state)
{
	(void)state;
	uint8_t h[JREC_HEADER], t[JREC_TRAILER];
	assert_int_equal(jrec_frame(0, "x", 1, h, t), CHAT_ERR_INVAL);
	assert_int_equal(jrec_frame(1, "x", (size_t)JREC_MAX_PAYLOAD + 1, h, t), CHAT_ERR_TOO_LARGE);
	/* A header claiming more than the maximum is corrupt, not a huge read. */
	uint8_t bad[16] = {0xff, 0xff, 0xff, 0x7f, 1, 0, 0, 0};
	struct jrec r;
	assert_int_equal(jrec_decode(bad, sizeof(bad), &r), CHAT_ERR_INVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc_check_value),
		cmocka_unit_test(test_crc_lengths),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_torn_tail_at_every_byte),
		cmocka_unit_test(test_bit_flip_stops_there),
		cmocka_unit_test(test_zero_filled_tail),
		cmocka_unit_test(test_frame_refuses_bad_input),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
