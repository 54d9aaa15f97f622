/* SPDX-License-Identifier: MIT */
/*
 * Search within a room: a history request with "q" (history.c) adds this
 * filter, which finds q literally, case-insensitively, in the text of the
 * room's messages that are not deleted. Only what MongoDB and the
 * stand-in (FerretDB) both support: $regex with the "i" option, walked
 * along the (room, id) index newest first. Neither $text indexes nor
 * Atlas Search exist on FerretDB, so neither is used; a search reads the
 * room back from the newest message until it fills a page.
 */
#include <ctype.h>
#include <string.h>

#include "bridge.h"

bool search_query_ok(const char *s)
{
	for (; *s; s++) {
		if ((unsigned char)*s < 0x20 || *s == 0x7f) return false;
	}
	return true;
}

/* q as a regular expression that matches it literally: every ASCII
 * punctuation character escaped. Both MongoDB (PCRE) and the stand-in
 * (FerretDB, Go's RE2) take "\" before punctuation as the character
 * itself; RE2 refuses it before a letter, digit or blank, so only
 * punctuation is escaped. */
static void query_regex(const char *q, char *out, size_t cap)
{
	size_t n = 0;
	for (; *q && n + 2 < cap; q++) {
		unsigned char ch = (unsigned char)*q;
		if (ch < 0x80 && ispunct(ch)) out[n++] = '\\';
		out[n++] = *q;
	}
	out[n] = '\0';
}

void search_filter(bson_t *filter, const char *q)
{
	char re[2 * SEARCH_QUERY_MAX + 1];
	query_regex(q, re, sizeof(re));
	BCON_APPEND(filter, "text", "{", "$regex", BCON_UTF8(re), "$options", BCON_UTF8("i"), "}", "deleted", "{", "$ne",
		    BCON_BOOL(true), "}");
}
