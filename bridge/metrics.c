/* SPDX-License-Identifier: MIT */
/*
 * Prometheus text exposition of struct bridge_metrics, and the HTTP
 * endpoint (libmicrohttpd, its own polling thread) that serves it on GET
 * /metrics. Counters are read with relaxed atomics: a scrape may see one
 * counter a message ahead of another, which Prometheus tolerates.
 */
#include "metrics.h"

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "bridge.h"
#include "strbuf.h"

enum metric_type { METRIC_COUNTER, METRIC_GAUGE };

struct metric_def {
	const char *name;
	const char *help;
	enum metric_type type;
	size_t offset;
};

#define COUNTER(n, f, h) {"chat_bridge_" n, h, METRIC_COUNTER, offsetof(struct bridge_metrics, f)}
#define GAUGE(n, f, h) {"chat_bridge_" n, h, METRIC_GAUGE, offsetof(struct bridge_metrics, f)}

static const struct metric_def metric_defs[] = {
	COUNTER("messages_received_total", received, "Messages taken from MQTT into the journal."),
	COUNTER("journal_replayed_total", replayed, "Records replayed from the journal at start."),
	COUNTER("messages_stored_total", stored, "Messages acknowledged by MongoDB, duplicates included."),
	COUNTER("messages_duplicate_total", duplicates, "Messages MongoDB already had (redelivery, replay)."),
	COUNTER("messages_invalid_total", invalid, "Messages dropped as not a server envelope."),
	COUNTER("journal_errors_total", journal_errors, "Records that could not be appended to the journal."),
	COUNTER("mongo_errors_total", mongo_errors, "Failed MongoDB operations (each is retried)."),
	COUNTER("history_requests_total", history_requests, "History requests answered."),
	COUNTER("history_refused_total", history_refused, "History requests dropped (no sender, malformed)."),
	COUNTER("read_markers_total", read_markers, "Read markers stored."),
	COUNTER("changes_total", changes, "Edits, deletes and reactions applied to stored messages."),
	COUNTER("replies_total", replies, "Messages the bridge published: answers to requests and notices."),
	GAUGE("mqtt_connected", mqtt_connected, "1 while connected to the broker."),
	GAUGE("consuming_paused", consuming_paused, "1 while the journal is full and consumption paused."),
};

struct hist_def {
	const char *name;
	const char *help;
	size_t offset;
};

static const struct hist_def hist_defs[] = {
	{"chat_bridge_store_batch_seconds", "One insert_many round trip to MongoDB.",
	 offsetof(struct bridge_metrics, store_batch)},
	{"chat_bridge_store_lag_seconds", "From a message's arrival (or replay) to MongoDB's ack.",
	 offsetof(struct bridge_metrics, store_lag)},
};

/* Upper bounds of the buckets in microseconds; the last is +Inf. */
static const long long bucket_us[METRICS_BUCKETS - 1] = {
	1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000,
};

void metrics_observe(struct metrics_hist *h, long long us)
{
	int i = 0;
	if (us < 0) us = 0;
	while (i < METRICS_BUCKETS - 1 && us > bucket_us[i]) i++;
	atomic_fetch_add(&h->buckets[i], 1ULL);
	atomic_fetch_add(&h->count, 1ULL);
	atomic_fetch_add(&h->sum_us, (unsigned long long)us);
}

static void put_line(struct strbuf *sb, const char *name, const char *labels, unsigned long long v)
{
	char num[32];
	strbuf_puts(sb, name);
	strbuf_puts(sb, labels);
	snprintf(num, sizeof(num), " %llu\n", v);
	strbuf_puts(sb, num);
}

static void put_header(struct strbuf *sb, const char *name, const char *help, const char *type)
{
	strbuf_puts(sb, "# HELP ");
	strbuf_puts(sb, name);
	strbuf_putc(sb, ' ');
	strbuf_puts(sb, help);
	strbuf_puts(sb, "\n# TYPE ");
	strbuf_puts(sb, name);
	strbuf_putc(sb, ' ');
	strbuf_puts(sb, type);
	strbuf_putc(sb, '\n');
}

static void render_hist(struct strbuf *sb, const struct hist_def *d, struct metrics_hist *h)
{
	char name[96], labels[48], num[48];
	unsigned long long cum = 0;
	put_header(sb, d->name, d->help, "histogram");
	snprintf(name, sizeof(name), "%s_bucket", d->name);
	for (int i = 0; i < METRICS_BUCKETS; i++) {
		cum += atomic_load(&h->buckets[i]);
		if (i < METRICS_BUCKETS - 1) {
			snprintf(labels, sizeof(labels), "{le=\"%g\"}", (double)bucket_us[i] / 1e6);
		} else {
			snprintf(labels, sizeof(labels), "{le=\"+Inf\"}");
		}
		put_line(sb, name, labels, cum);
	}
	snprintf(num, sizeof(num), "_sum %.6f\n", (double)atomic_load(&h->sum_us) / 1e6);
	strbuf_puts(sb, d->name);
	strbuf_puts(sb, num);
	snprintf(name, sizeof(name), "%s_count", d->name);
	put_line(sb, name, "", atomic_load(&h->count));
}

static void render_journal(struct strbuf *sb, struct bridge *b)
{
	size_t records, bytes, disk;
	journal_depth(&b->journal, &records, &bytes, &disk);
	put_header(sb, "chat_bridge_journal_records", "Records in the journal not yet in MongoDB.", "gauge");
	put_line(sb, "chat_bridge_journal_records", "", records);
	put_header(sb, "chat_bridge_journal_bytes", "Bytes of those records.", "gauge");
	put_line(sb, "chat_bridge_journal_bytes", "", bytes);
	put_header(sb, "chat_bridge_journal_disk_bytes", "Bytes of all journal segment files.", "gauge");
	put_line(sb, "chat_bridge_journal_disk_bytes", "", disk);
	put_header(sb, "chat_bridge_journal_max_bytes", "The journal_max_bytes bound.", "gauge");
	put_line(sb, "chat_bridge_journal_max_bytes", "", (unsigned long long)b->cfg.journal_max_bytes);
}

char *metrics_render(struct bridge *b, size_t *len)
{
	struct strbuf sb;
	strbuf_init(&sb);
	for (size_t i = 0; i < sizeof(metric_defs) / sizeof(metric_defs[0]); i++) {
		const struct metric_def *d = &metric_defs[i];
		metric_t *v = (metric_t *)(void *)((char *)&b->metrics + d->offset);
		put_header(&sb, d->name, d->help, d->type == METRIC_COUNTER ? "counter" : "gauge");
		put_line(&sb, d->name, "", atomic_load(v));
	}
	for (size_t i = 0; i < sizeof(hist_defs) / sizeof(hist_defs[0]); i++) {
		struct metrics_hist *h = (struct metrics_hist *)(void *)((char *)&b->metrics + hist_defs[i].offset);
		render_hist(&sb, &hist_defs[i], h);
	}
	render_journal(&sb, b);
	push_metrics_write(b, &sb);
	if (strbuf_status(&sb) != 0) abort();
	return strbuf_detach(&sb, len);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
				  const char *version, const char *upload, size_t *upload_len, void **con_cls)
{
	struct bridge *b = cls;
	(void)version, (void)upload, (void)upload_len, (void)con_cls;
	struct MHD_Response *resp;
	unsigned int status = MHD_HTTP_OK;
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		status = MHD_HTTP_METHOD_NOT_ALLOWED;
		resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	} else if (strcmp(url, "/metrics") != 0) {
		status = MHD_HTTP_NOT_FOUND;
		resp = MHD_create_response_from_buffer(10, (void *)"not found\n", MHD_RESPMEM_PERSISTENT);
	} else {
		size_t len;
		char *text = metrics_render(b, &len);
		resp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
		MHD_add_response_header(resp, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
	}
	if (!resp) return MHD_NO;
	enum MHD_Result rc = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return rc;
}

/* Splits "host:port" or "[v6]:port" into host and port strings. */
static int split_listen(const char *s, char *host, size_t hcap, char *port, size_t pcap)
{
	const char *colon = strrchr(s, ':');
	if (!colon || !colon[1]) return -1;
	const char *h = s;
	size_t hlen = (size_t)(colon - s);
	if (hlen >= 2 && h[0] == '[' && h[hlen - 1] == ']') {
		h++;
		hlen -= 2;
	}
	if (hlen == 0 || hlen >= hcap) return -1;
	snprintf(host, hcap, "%.*s", (int)hlen, h);
	snprintf(port, pcap, "%s", colon + 1);
	return 0;
}

int metrics_start(struct bridge *b)
{
	const char *listen = b->cfg.metrics_listen;
	char host[256], port[16];
	if (!listen || !*listen) return 0;
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV}, *ai = NULL;
	if (split_listen(listen, host, sizeof(host), port, sizeof(port)) != 0 ||
	    getaddrinfo(host, port, &hints, &ai) != 0) {
		blog(BLOG_ERR, "metrics_listen '%s': not a host:port", listen);
		return -1;
	}
	unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | (ai->ai_family == AF_INET6 ? MHD_USE_IPv6 : 0);
	struct MHD_Daemon *d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, b, MHD_OPTION_SOCK_ADDR,
						ai->ai_addr, MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_END);
	freeaddrinfo(ai);
	if (!d) {
		blog(BLOG_ERR, "metrics: cannot listen on %s", listen);
		return -1;
	}
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	blog(BLOG_INFO, "metrics on http://%s:%u/metrics", host, info ? (unsigned)info->port : 0u);
	b->metrics.httpd = d;
	return 0;
}

void metrics_stop(struct bridge *b)
{
	if (b->metrics.httpd) MHD_stop_daemon(b->metrics.httpd);
	b->metrics.httpd = NULL;
}
