/* SPDX-License-Identifier: MIT */
/* Last-writer-wins order; see lww.h. */
#include "lww.h"

#include <string.h>

int lww_cmp(const struct lww_version *a, const struct lww_version *b)
{
	if (a->ts != b->ts) return a->ts < b->ts ? -1 : 1;
	int n = strcmp(a->node, b->node);
	if (n != 0) return n;
	if (!a->value || !b->value) return (a->value != NULL) - (b->value != NULL);
	return strcmp(a->value, b->value);
}
