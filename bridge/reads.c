/* SPDX-License-Identifier: MIT */
/*
 * Every member's read marker of a room, for read receipts: a history
 * request {"reads":true} (history.c) is answered with
 * {"type":"reads","room":...,"reads":[{"user","upto","ts"}]} from the
 * `reads` collection, sorted by user. A document that holds only a mute
 * (upto "", chatlist.c) is no marker and left out. Whether a room may ask
 * is the plugin's (plugin/receipts.c).
 */
#include <string.h>

#include "bridge.h"

/* The string field key of doc, or NULL. */
static const char *doc_str(const bson_t *doc, const char *key, uint32_t *len)
{
	bson_iter_t it;
	if (!bson_iter_init_find(&it, doc, key) || !BSON_ITER_HOLDS_UTF8(&it)) return NULL;
	return bson_iter_utf8(&it, len);
}

int reads_write(struct bridge *b, const char *room, struct strbuf *sb)
{
	bson_t *filter = BCON_NEW("room", BCON_UTF8(room), "upto", "{", "$gt", BCON_UTF8(""), "}");
	bson_t *opts = BCON_NEW("sort", "{", "user", BCON_INT32(1), "}", "limit", BCON_INT64(10000));
	mongoc_cursor_t *cur = mongoc_collection_find_with_opts(b->reads, filter, opts, NULL);
	const bson_t *doc;
	bson_error_t err;
	bool first = true;
	strbuf_puts(sb, ",\"reads\":[");
	while (mongoc_cursor_next(cur, &doc)) {
		const char *user = doc_str(doc, "user", NULL), *upto = doc_str(doc, "upto", NULL);
		bson_iter_t it;
		if (!user || !upto) continue;
		strbuf_puts(sb, first ? "{\"user\":" : ",{\"user\":");
		first = false;
		strbuf_append_json_string(sb, user, strlen(user));
		strbuf_puts(sb, ",\"upto\":");
		strbuf_append_json_string(sb, upto, strlen(upto));
		if (bson_iter_init_find(&it, doc, "ts") && BSON_ITER_HOLDS_DATE_TIME(&it)) {
			strbuf_puts(sb, ",\"ts\":");
			strbuf_append_i64(sb, bson_iter_date_time(&it));
		}
		strbuf_putc(sb, '}');
	}
	strbuf_putc(sb, ']');
	int rc = 0;
	if (mongoc_cursor_error(cur, &err)) {
		blog(BLOG_WARN, "MongoDB: read markers of %s: %s (will retry)", room, err.message);
		METRIC_ADD(b, mongo_errors, 1);
		rc = -1;
	}
	mongoc_cursor_destroy(cur);
	bson_destroy(filter);
	bson_destroy(opts);
	return rc;
}

