/* SPDX-License-Identifier: MIT */
/*
 * "key value" parsing. Lines are copied into a bounded buffer one at a time
 * so the callback sees NUL-terminated key and value strings.
 */
#include "kvconf.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat_err.h"

#define KVCONF_LINE_MAX 4096

static bool blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

static void show_line(char *dst, size_t cap, const char *line, size_t n)
{
	if (n > 80) n = 80;
	snprintf(dst, cap, "%.*s", (int)n, line);
}

static int one_line(const char *name, unsigned lineno, const char *line, size_t n, kvconf_cb cb, void *ud,
		    char *err, size_t errlen)
{
	char buf[KVCONF_LINE_MAX], why[256] = "", shown[96];
	size_t i = 0;
	while (i < n && blank(line[i])) i++;
	while (n > i && blank(line[n - 1])) n--;
	if (i == n || line[i] == '#') return CHAT_OK;
	show_line(shown, sizeof(shown), line + i, n - i);
	if (n - i >= sizeof(buf)) {
		snprintf(err, errlen, "%s:%u: line too long: %s", name, lineno, shown);
		return CHAT_ERR_INVAL;
	}
	memcpy(buf, line + i, n - i);
	buf[n - i] = '\0';
	if (memchr(buf, '\0', n - i)) {
		snprintf(err, errlen, "%s:%u: NUL byte in line: %s", name, lineno, shown);
		return CHAT_ERR_INVAL;
	}
	char *val = buf;
	while (*val && !blank(*val)) val++;
	if (*val) *val++ = '\0';
	while (blank(*val)) val++;
	int rc = cb(buf, val, lineno, ud, why, sizeof(why));
	if (rc != CHAT_OK) {
		snprintf(err, errlen, "%s:%u: %s: %s", name, lineno, why[0] ? why : chat_strerror(rc), shown);
		return rc < 0 ? rc : CHAT_ERR_INVAL;
	}
	return CHAT_OK;
}

int kvconf_parse_buf(const char *name, const char *buf, size_t len, kvconf_cb cb, void *ud, char *err,
		     size_t errlen)
{
	unsigned lineno = 0;
	size_t pos = 0;
	while (pos < len) {
		const char *nl = memchr(buf + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (buf + pos)) : len - pos;
		lineno++;
		int rc = one_line(name, lineno, buf + pos, n, cb, ud, err, errlen);
		if (rc != CHAT_OK) return rc;
		pos += n + (nl ? 1 : 0);
	}
	return CHAT_OK;
}

int kvconf_parse_file(const char *path, kvconf_cb cb, void *ud, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return CHAT_ERR_IO;
	}
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int rc = CHAT_OK;
	for (;;) {
		if (cap - len < 4096) {
			char *p = realloc(buf, cap + 65536);
			if (!p) {
				rc = CHAT_ERR_NOMEM;
				snprintf(err, errlen, "%s: out of memory", path);
				goto cleanup;
			}
			buf = p;
			cap += 65536;
		}
		size_t got = fread(buf + len, 1, cap - len, f);
		len += got;
		if (got == 0) break;
	}
	if (ferror(f)) {
		rc = CHAT_ERR_IO;
		snprintf(err, errlen, "%s: read error", path);
		goto cleanup;
	}
	rc = kvconf_parse_buf(path, buf, len, cb, ud, err, errlen);
cleanup:
	free(buf);
	fclose(f);
	return rc;
}
