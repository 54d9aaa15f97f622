/* SPDX-License-Identifier: MIT */
/*
 * Framing of the bridge's journal records. A record is
 *
 *   u32 length (little endian) | u8 kind | 3 bytes zero | payload | u32 crc
 *
 * where crc is CRC-32C over the 8 header bytes and the payload. A reader
 * walks records from the start of a file; the first one that is cut short,
 * has an unknown shape or a bad CRC ends the valid part (a torn tail after
 * kill -9 or a power cut), and everything after it is dropped by the caller.
 * Pure code: no I/O, no allocation.
 */
#ifndef CHAT_JREC_H
#define CHAT_JREC_H

#include <stddef.h>
#include <stdint.h>

#define JREC_HEADER 8
#define JREC_TRAILER 4
#define JREC_MAX_PAYLOAD (16u << 20)

/* A decoded record: payload points into the caller's buffer. */
struct jrec {
	uint8_t kind; /* never 0: a zero kind marks zero-filled space */
	const uint8_t *payload;
	size_t len;
	size_t size; /* bytes the whole record takes */
};

/* CRC-32C (Castagnoli) of p[0..n), continuing from crc (start with 0). */
uint32_t jrec_crc32c(uint32_t crc, const void *p, size_t n);

/* Bytes a record with a payload of len bytes takes on disk. */
size_t jrec_size(size_t len);

/*
 * Fills the header and trailer of a record of kind (1..255) around
 * payload[0..len), for writing as three pieces (writev) without copying.
 * Returns 0, or CHAT_ERR_INVAL for kind 0, CHAT_ERR_TOO_LARGE over
 * JREC_MAX_PAYLOAD.
 */
int jrec_frame(uint8_t kind, const void *payload, size_t len, uint8_t header[JREC_HEADER],
	       uint8_t trailer[JREC_TRAILER]);

/*
 * Decodes the record at the start of buf[0..len). Returns 0 and *out;
 * CHAT_ERR_EMPTY when len is 0 (a clean end); CHAT_ERR_INVAL when what is
 * there is not a whole valid record (torn or corrupt).
 */
int jrec_decode(const uint8_t *buf, size_t len, struct jrec *out);

/*
 * Length of the valid prefix of buf[0..len): the sum of the sizes of the
 * records that decode one after another from the start. *count (may be
 * NULL) gets their number.
 */
size_t jrec_valid_prefix(const uint8_t *buf, size_t len, size_t *count);

#endif
