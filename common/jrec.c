/* SPDX-License-Identifier: MIT */
/*
 * Journal record framing; see jrec.h. The CRC is CRC-32C, the polynomial
 * of the SSE4.2 crc32 instruction, which takes 8 bytes a step where the
 * CPU has it (checked at run time); elsewhere a 16-entry table (one lookup
 * per nibble) does it, small enough to write out, fast enough to replay a
 * journal of hundreds of megabytes in seconds.
 */
#include "jrec.h"

#include <stdbool.h>
#include <string.h>

#include "chat_err.h"

/* CRC-32C of each 4-bit value, reflected polynomial 0x82F63B78. */
static const uint32_t nibble_table[16] = {
	0x00000000, 0x105ec76f, 0x20bd8ede, 0x30e349b1, 0x417b1dbc, 0x5125dad3, 0x61c69362, 0x7198540d,
	0x82f63b78, 0x92a8fc17, 0xa24bb5a6, 0xb21572c9, 0xc38d26c4, 0xd3d3e1ab, 0xe330a81a, 0xf36e6f75,
};

#if defined(__x86_64__) && defined(__GNUC__)
#define JREC_HW_CRC 1
/* The register form: no inversion before or after. */
__attribute__((target("sse4.2"))) static uint32_t crc_hw(uint32_t crc, const uint8_t *b, size_t n)
{
	uint64_t c = crc;
	for (; n >= 8; b += 8, n -= 8) {
		uint64_t v;
		memcpy(&v, b, sizeof(v));
		c = __builtin_ia32_crc32di(c, v);
	}
	crc = (uint32_t)c;
	for (; n > 0; b++, n--) crc = __builtin_ia32_crc32qi(crc, *b);
	return crc;
}
#endif

uint32_t jrec_crc32c(uint32_t crc, const void *p, size_t n)
{
	const uint8_t *b = p;
	crc = ~crc;
#ifdef JREC_HW_CRC
	if (__builtin_cpu_supports("sse4.2")) return ~crc_hw(crc, b, n);
#endif
	for (size_t i = 0; i < n; i++) {
		crc ^= b[i];
		crc = (crc >> 4) ^ nibble_table[crc & 15u];
		crc = (crc >> 4) ^ nibble_table[crc & 15u];
	}
	return ~crc;
}

size_t jrec_size(size_t len)
{
	return JREC_HEADER + len + JREC_TRAILER;
}

static void put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static uint32_t get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int jrec_frame(uint8_t kind, const void *payload, size_t len, uint8_t header[JREC_HEADER],
	       uint8_t trailer[JREC_TRAILER])
{
	if (kind == 0) return CHAT_ERR_INVAL;
	if (len > JREC_MAX_PAYLOAD) return CHAT_ERR_TOO_LARGE;
	put_u32(header, (uint32_t)len);
	header[4] = kind;
	header[5] = header[6] = header[7] = 0;
	uint32_t crc = jrec_crc32c(0, header, JREC_HEADER);
	put_u32(trailer, jrec_crc32c(crc, payload, len));
	return CHAT_OK;
}

int jrec_decode(const uint8_t *buf, size_t len, struct jrec *out)
{
	if (len == 0) return CHAT_ERR_EMPTY;
	if (len < JREC_HEADER + JREC_TRAILER) return CHAT_ERR_INVAL;
	uint32_t n = get_u32(buf);
	bool shape_ok = buf[4] != 0 && buf[5] == 0 && buf[6] == 0 && buf[7] == 0 && n <= JREC_MAX_PAYLOAD;
	if (!shape_ok || len - JREC_HEADER - JREC_TRAILER < n) return CHAT_ERR_INVAL;
	uint32_t crc = jrec_crc32c(0, buf, JREC_HEADER + (size_t)n);
	if (crc != get_u32(buf + JREC_HEADER + n)) return CHAT_ERR_INVAL;
	out->kind = buf[4];
	out->payload = buf + JREC_HEADER;
	out->len = n;
	out->size = jrec_size(n);
	return CHAT_OK;
}

size_t jrec_valid_prefix(const uint8_t *buf, size_t len, size_t *count)
{
	size_t off = 0, n = 0;
	struct jrec r;
	while (jrec_decode(buf + off, len - off, &r) == CHAT_OK) {
		off += r.size;
		n++;
	}
	if (count) *count = n;
	return off;
}
