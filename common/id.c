/* SPDX-License-Identifier: MIT */
/*
 * Message id generator; the layout is described in id.h. Crockford's base32
 * alphabet keeps ids case-insensitive-safe and free of look-alike letters,
 * and its digits sort in ASCII order, so string order is numeric order.
 */
#include "id.h"

#include <string.h>
#include <unistd.h>

#include "fnv.h"

static const char alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/* The node id folded into 20 bits. */
static uint32_t fnv1a20(const char *s)
{
	uint32_t h = fnv32(FNV32_OFFSET, s, strlen(s));
	return (h ^ (h >> 20)) & 0xFFFFFu;
}

/* Writes the low 5*n bits of v as n base32 chars, most significant first. */
static void put32(char *out, uint64_t v, int n)
{
	for (int i = n - 1; i >= 0; i--) {
		out[i] = alphabet[v & 31u];
		v >>= 5;
	}
}

void id_gen_init(struct id_gen *g, const char *node_id, uint32_t boot)
{
	char host[256] = "";
	memset(g, 0, sizeof(*g));
	if (!node_id || !*node_id) {
		if (gethostname(host, sizeof(host) - 1) != 0) host[0] = '\0';
		node_id = host;
	}
	g->node = fnv1a20(node_id);
	g->boot = boot & 0xFFFFFu;
	put32(g->head, 0, 10);
	put32(g->head + 10, g->node, 4);
	put32(g->head + 14, g->boot, 4);
	put32(g->tail, 0, 8);
}

/* The chars of a 5-bit-per-char number that change from a to b: the
 * number of low chars in which they differ. */
static int changed_chars(uint64_t a, uint64_t b)
{
	return a == b ? 0 : (64 - __builtin_clzll(a ^ b) + 4) / 5;
}

void id_next(struct id_gen *g, uint64_t now_ms, char out[ID_LEN + 1])
{
	uint64_t ms = g->last_ms, seq = g->seq;
	if (now_ms > g->last_ms) {
		g->last_ms = now_ms;
		g->seq = 0;
	} else {
		g->seq++;
		if (g->seq >> 40) { /* 2^40 ids in one ms: borrow the next ms */
			g->last_ms++;
			g->seq = 0;
		}
	}
	/* Only the chars that changed since the last id are written again: the
	 * time's low ones (at most once a millisecond) and the sequence's low
	 * ones; node and boot never change. */
	const uint64_t ms_mask = 0xFFFFFFFFFFFFull;
	int k = changed_chars(ms & ms_mask, g->last_ms & ms_mask);
	if (k) put32(g->head + 10 - k, g->last_ms & ms_mask, k);
	k = changed_chars(seq, g->seq);
	if (k) put32(g->tail + 8 - k, g->seq, k);
	memcpy(out, g->head, sizeof(g->head));
	memcpy(out + sizeof(g->head), g->tail, sizeof(g->tail));
	out[ID_LEN] = '\0';
}

static int digit(char c)
{
	const char *p = c ? strchr(alphabet, c) : NULL;
	return p ? (int)(p - alphabet) : -1;
}

bool id_valid(const char *id, size_t len)
{
	if (len != ID_LEN) return false;
	for (size_t i = 0; i < len; i++) {
		if (digit(id[i]) < 0) return false;
	}
	return true;
}

uint64_t id_time_ms(const char *id)
{
	uint64_t v = 0;
	if (!id_valid(id, strnlen(id, ID_LEN + 1))) return 0;
	for (int i = 0; i < 10; i++) v = (v << 5) | (uint64_t)digit(id[i]);
	return v;
}
