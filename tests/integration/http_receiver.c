/* SPDX-License-Identifier: MIT */
/* The push tests' HTTP receiver on libmicrohttpd; see http_receiver.h. */
#include "http_receiver.h"

#include <ctype.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>
#include <microhttpd.h>

#include "harness.h"

#define MAX_RULES 32
#define MAX_BODY  (1 << 20)

struct hr_rule {
	char prefix[256];
	char body_has[256];
	int status;
	char *body;
};

struct hr_conn {
	char *body;
	size_t len;
};

struct hr {
	struct MHD_Daemon *d;
	int port;
	pthread_mutex_t lock;
	struct hr_rule rules[MAX_RULES];
	int nrules;
	struct hr_request *reqs;
	int nreqs, cap;
};

static const struct hr_rule *match_rule(struct hr *r, const char *path, const char *body)
{
	const struct hr_rule *best = NULL;
	size_t best_len = 0;
	for (int i = 0; i < r->nrules; i++) {
		const struct hr_rule *x = &r->rules[i];
		size_t n = strlen(x->prefix);
		if (strncmp(path, x->prefix, n) != 0) continue;
		if (x->body_has[0] && !strstr(body, x->body_has)) continue;
		if (!best || n > best_len || (n == best_len && x->body_has[0])) {
			best = x;
			best_len = n;
		}
	}
	return best;
}

static enum MHD_Result add_header(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	char **h = cls;
	(void)kind;
	size_t old = *h ? strlen(*h) : 0, n = strlen(key) + strlen(value ? value : "") + 4;
	char *p = realloc(*h, old + n);
	if (!p) return MHD_NO;
	size_t w = (size_t)snprintf(p + old, n, "%s: %s\n", key, value ? value : "");
	for (size_t i = 0; i < strlen(key); i++)
		p[old + i] = (char)tolower((unsigned char)p[old + i]);
	(void)w;
	*h = p;
	return MHD_YES;
}

static int record(struct hr *r, struct MHD_Connection *conn, const char *url, const char *method,
                  struct hr_conn *c, const char **resp_body)
{
	struct hr_request q;
	memset(&q, 0, sizeof(q));
	snprintf(q.method, sizeof(q.method), "%s", method);
	snprintf(q.path, sizeof(q.path), "%s", url);
	MHD_get_connection_values(conn, MHD_HEADER_KIND, add_header, &q.headers);
	q.body = c->body ? c->body : strdup("");
	q.body_len = c->len;
	c->body = NULL;
	q.at_ms = h_now_ms();
	pthread_mutex_lock(&r->lock);
	const struct hr_rule *rule = match_rule(r, url, q.body);
	q.status = rule ? rule->status : 200;
	*resp_body = rule && rule->body ? strdup(rule->body) : strdup("{}");
	if (r->nreqs == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 64;
		r->reqs = realloc(r->reqs, (size_t)r->cap * sizeof(*r->reqs));
	}
	r->reqs[r->nreqs++] = q;
	pthread_mutex_unlock(&r->lock);
	return q.status;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_len, void **con_cls)
{
	struct hr *r = cls;
	struct hr_conn *c = *con_cls;
	(void)version;
	if (!c) {
		*con_cls = calloc(1, sizeof(*c));
		return *con_cls ? MHD_YES : MHD_NO;
	}
	if (*upload_len) {
		if (c->len + *upload_len > MAX_BODY) return MHD_NO;
		char *p = realloc(c->body, c->len + *upload_len + 1);
		if (!p) return MHD_NO;
		memcpy(p + c->len, upload, *upload_len);
		c->len += *upload_len;
		p[c->len] = '\0';
		c->body = p;
		*upload_len = 0;
		return MHD_YES;
	}
	const char *body = NULL;
	int status = record(r, conn, url, method, c, &body);
	struct MHD_Response *resp =
	    MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_FREE);
	MHD_add_response_header(resp, "Content-Type", "application/json");
	enum MHD_Result ret = MHD_queue_response(conn, (unsigned)status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static void on_done(void *cls, struct MHD_Connection *conn, void **con_cls,
                    enum MHD_RequestTerminationCode code)
{
	struct hr_conn *c = *con_cls;
	(void)cls, (void)conn, (void)code;
	if (c) free(c->body);
	free(c);
	*con_cls = NULL;
}

static struct MHD_Daemon *listen_on(struct hr *r, int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
	                        .sin_port = htons((uint16_t)port),
	                        .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	return MHD_start_daemon(
	    MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, (uint16_t)port, NULL, NULL,
	    on_request, r, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&a, MHD_OPTION_LISTENING_ADDRESS_REUSE, 1,
	    MHD_OPTION_NOTIFY_COMPLETED, on_done, r, MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_END);
}

struct hr *hr_start(void)
{
	struct hr *r = calloc(1, sizeof(*r));
	assert_non_null(r);
	pthread_mutex_init(&r->lock, NULL);
	r->d = listen_on(r, 0);
	if (!r->d) fail_msg("http receiver: cannot listen");
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(r->d, MHD_DAEMON_INFO_BIND_PORT);
	r->port = info ? info->port : 0;
	assert_true(r->port > 0);
	return r;
}

void hr_request_free(struct hr_request *q)
{
	if (!q) return;
	free(q->headers);
	free(q->body);
	free(q);
}

void hr_stop(struct hr *r)
{
	if (!r) return;
	if (r->d) MHD_stop_daemon(r->d);
	for (int i = 0; i < r->nreqs; i++) {
		free(r->reqs[i].headers);
		free(r->reqs[i].body);
	}
	for (int i = 0; i < r->nrules; i++)
		free(r->rules[i].body);
	free(r->reqs);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

int hr_port(const struct hr *r)
{
	return r->port;
}

const char *hr_url(const struct hr *r, const char *path, char *buf, size_t cap)
{
	snprintf(buf, cap, "http://127.0.0.1:%d%s", r->port, path);
	return buf;
}

void hr_rule(struct hr *r, const char *prefix, const char *body_has, int status, const char *body)
{
	pthread_mutex_lock(&r->lock);
	struct hr_rule *x = NULL;
	for (int i = 0; i < r->nrules && !x; i++) {
		if (strcmp(r->rules[i].prefix, prefix) == 0 &&
		    strcmp(r->rules[i].body_has, body_has ? body_has : "") == 0)
			x = &r->rules[i];
	}
	if (!x) {
		assert_true(r->nrules < MAX_RULES);
		x = &r->rules[r->nrules++];
		memset(x, 0, sizeof(*x));
	}
	snprintf(x->prefix, sizeof(x->prefix), "%s", prefix);
	snprintf(x->body_has, sizeof(x->body_has), "%s", body_has ? body_has : "");
	x->status = status;
	free(x->body);
	x->body = body ? strdup(body) : NULL;
	pthread_mutex_unlock(&r->lock);
}

void hr_down(struct hr *r)
{
	if (r->d) MHD_stop_daemon(r->d);
	r->d = NULL;
}

void hr_up(struct hr *r)
{
	if (r->d) return;
	long long deadline = h_now_ms() + 10000;
	while (!(r->d = listen_on(r, r->port)) && h_now_ms() < deadline)
		h_sleep_ms(50);
	if (!r->d) fail_msg("http receiver: cannot listen on port %d again", r->port);
}

static bool has_prefix(const struct hr_request *q, const char *prefix)
{
	return !prefix || strncmp(q->path, prefix, strlen(prefix)) == 0;
}

int hr_count(struct hr *r, const char *prefix)
{
	int n = 0;
	pthread_mutex_lock(&r->lock);
	for (int i = 0; i < r->nreqs; i++)
		n += has_prefix(&r->reqs[i], prefix);
	pthread_mutex_unlock(&r->lock);
	return n;
}

bool hr_wait(struct hr *r, const char *prefix, int n, int timeout_ms)
{
	long long deadline = h_now_ms() + timeout_ms;
	while (hr_count(r, prefix) < n) {
		if (h_now_ms() > deadline) return false;
		h_sleep_ms(10);
	}
	return true;
}

struct hr_request *hr_get(struct hr *r, const char *prefix, int index)
{
	struct hr_request *out = NULL;
	pthread_mutex_lock(&r->lock);
	for (int i = 0, seen = 0; i < r->nreqs; i++) {
		if (!has_prefix(&r->reqs[i], prefix)) continue;
		if (seen++ != index) continue;
		out = malloc(sizeof(*out));
		*out = r->reqs[i];
		out->headers = strdup(r->reqs[i].headers ? r->reqs[i].headers : "");
		out->body = malloc(r->reqs[i].body_len + 1);
		memcpy(out->body, r->reqs[i].body, r->reqs[i].body_len + 1);
		break;
	}
	pthread_mutex_unlock(&r->lock);
	return out;
}

const char *hr_header(const struct hr_request *q, const char *name, char *buf, size_t cap)
{
	size_t n = strlen(name);
	for (const char *line = q->headers; line && *line;) {
		const char *end = strchr(line, '\n');
		if (!end) end = line + strlen(line);
		if ((size_t)(end - line) > n + 1 && strncasecmp(line, name, n) == 0 && line[n] == ':') {
			const char *v = line + n + 1;
			while (*v == ' ')
				v++;
			snprintf(buf, cap, "%.*s", (int)(end - v), v);
			return buf;
		}
		line = *end ? end + 1 : end;
	}
	return NULL;
}
