/* SPDX-License-Identifier: MIT */
/*
 * Last-writer-wins order of versioned values (scale-out room state,
 * plugin/peer_state.c). A version is (time in ms, node id); two writes of
 * the same key compare by time, then node id, then value, with a deleted
 * value (NULL) lowest. Every broker applies a write only when it orders
 * after the one it holds, so brokers that saw the same writes, in any
 * order, hold the same value.
 */
#ifndef CHAT_LWW_H
#define CHAT_LWW_H

#include <stdint.h>

struct lww_version {
	uint64_t ts;
	const char *node;  /* "" = unversioned (loaded from a file) */
	const char *value; /* NULL = deleted */
};

/* Negative, 0 or positive as a orders before, the same as, or after b. */
int lww_cmp(const struct lww_version *a, const struct lww_version *b);

#endif
