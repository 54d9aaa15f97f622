/* SPDX-License-Identifier: MIT */
/*
 * FNV-1a, the one small non-cryptographic hash of the project: for hash
 * tables keyed by short ids (client ids, user ids), the node part of
 * message ids, and the repeated-message fingerprint. 32 and 64 bits, over
 * bytes; the 64-bit step also takes a whole value (a code point) at once.
 * Not for anything an attacker must not be able to collide: tables that
 * use it probe linearly and stay at most half full.
 */
#ifndef CHAT_FNV_H
#define CHAT_FNV_H

#include <stddef.h>
#include <stdint.h>

#define FNV32_OFFSET 2166136261u
#define FNV32_PRIME 16777619u
#define FNV64_OFFSET 14695981039346656037ull
#define FNV64_PRIME 1099511628211ull

/* Continues h over p[0..n). */
static inline uint32_t fnv32(uint32_t h, const void *p, size_t n)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * FNV32_PRIME;
	return h;
}

static inline uint64_t fnv64(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * FNV64_PRIME;
	return h;
}

/* One step of the 64-bit hash over a whole value v. */
static inline uint64_t fnv64_step(uint64_t h, uint64_t v)
{
	return (h ^ v) * FNV64_PRIME;
}

#endif
