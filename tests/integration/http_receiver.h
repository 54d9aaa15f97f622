/* SPDX-License-Identifier: MIT */
/*
 * A real HTTP server for push tests (libmicrohttpd, its own thread) on a
 * free loopback port. It records every request (method, path, headers,
 * body) and answers by rules: status and body per path prefix, optionally
 * only when the request body contains a string. It can be taken down
 * (connections refused) and brought back on the same port. Waits have
 * deadlines so a test fails instead of hanging.
 */
#ifndef CHAT_TEST_HTTP_RECEIVER_H
#define CHAT_TEST_HTTP_RECEIVER_H

#include <stdbool.h>
#include <stddef.h>

struct hr_request {
	char method[16];
	char path[512];
	char *headers; /* "name: value\n" lines, names lower-cased */
	char *body;    /* NUL-terminated */
	size_t body_len;
	int status;      /* what the receiver answered */
	long long at_ms; /* monotonic, when it arrived */
};

struct hr;

/* Starts on 127.0.0.1 with a free port; answers 200 "{}" by default. */
struct hr *hr_start(void);
void hr_stop(struct hr *r);
int hr_port(const struct hr *r);
/* "http://127.0.0.1:<port><path>" into buf. */
const char *hr_url(const struct hr *r, const char *path, char *buf, size_t cap);

/* Requests to paths starting with prefix (and, when body_has is not NULL,
 * whose body contains it) get status and body (NULL = "{}"). A later rule
 * for the same prefix and body_has replaces the earlier one; the longest
 * matching prefix wins. */
void hr_rule(struct hr *r, const char *prefix, const char *body_has, int status, const char *body);
/* Stops listening (connections are refused) / listens again, same port. */
void hr_down(struct hr *r);
void hr_up(struct hr *r);

/* Requests so far whose path starts with prefix (NULL = all). */
int hr_count(struct hr *r, const char *prefix);
/* Waits until hr_count(prefix) >= n; false after timeout_ms. */
bool hr_wait(struct hr *r, const char *prefix, int n, int timeout_ms);
/* Copy of the index-th (0-based) request with that prefix, or NULL
 * (free with hr_request_free). */
struct hr_request *hr_get(struct hr *r, const char *prefix, int index);
void hr_request_free(struct hr_request *q);
/* A header's value (case-insensitive name) into buf, or NULL. */
const char *hr_header(const struct hr_request *q, const char *name, char *buf, size_t cap);

#endif
