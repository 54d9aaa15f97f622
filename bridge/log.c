/* SPDX-License-Identifier: MIT */
/*
 * Logging to stderr with a level and a UTC timestamp, and the out-of-memory
 * policy: the bridge is a daemon with a journal behind it, so aborting on a
 * failed allocation and restarting is safer than limping on.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bridge.h"

static enum blog_level current_level = BLOG_INFO;

void blog_set_level(enum blog_level level)
{
	current_level = level;
}

void blog(enum blog_level level, const char *fmt, ...)
{
	static const char *names[] = {"error", "warning", "info", "debug"};
	if (level > current_level) return;
	char when[32];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "%s chat-bridge %s: ", when, names[level]);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p) {
		fputs("chat-bridge: out of memory\n", stderr);
		abort();
	}
	return p;
}

char *xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;
	return memcpy(xmalloc(n), s, n);
}
