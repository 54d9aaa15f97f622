/* SPDX-License-Identifier: MIT */
/*
 * push_sink: the local receiver of the push scenario. It answers every
 * POST with 200 at once, counts it, and when the body carries a send-time
 * marker "@@<CLOCK_MONOTONIC ns>@@" (store_probe puts one at the start of
 * each text, and the notification's preview repeats it) records the time
 * from that send to this receipt. GET /stats returns the counts and
 * percentiles since the last GET /stats?reset=1 as one JSON object, so a
 * script can take several measurements from one running sink; "rate" is
 * requests over the time from the reset to the last request.
 *
 *   push_sink [--port P]    0 (default): any free port; prints
 *                           "push_sink: ready on 127.0.0.1:PORT" on stdout
 *
 * Runs until SIGINT or SIGTERM. One libmicrohttpd thread does all the work,
 * so the counters need no lock.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "hist.h"

#define SINK_BODY_MAX 65536

struct sink {
	uint64_t requests;   /* POSTs since the last reset */
	uint64_t marked;     /* of which carried a send-time marker */
	uint64_t bytes;
	int64_t reset_ns, last_ns; /* the last reset (or start), the last POST */
	struct hist lat;     /* ns from the marker's send time to receipt */
};

/* One request's body as it arrives. */
struct upload {
	size_t len;
	char body[SINK_BODY_MAX + 1];
};

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * INT64_C(1000000000) + (int64_t)ts.tv_nsec;
}

static void sink_reset(struct sink *s)
{
	s->requests = s->marked = s->bytes = 0;
	s->reset_ns = s->last_ns = now_ns();
	hist_reset(&s->lat);
}

/* Counts one finished POST body. */
static void sink_count(struct sink *s, const struct upload *u)
{
	int64_t now = now_ns();
	s->last_ns = now;
	s->requests++;
	s->bytes += u->len;
	const char *m = strstr(u->body, "@@");
	if (!m) return;
	char *end = NULL;
	long long sent = strtoll(m + 2, &end, 10);
	if (end == m + 2 || strncmp(end, "@@", 2) != 0 || sent <= 0 || sent > now) return;
	s->marked++;
	hist_record(&s->lat, (uint64_t)(now - sent));
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const char *text)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_MUST_COPY);
	if (!r) return MHD_NO;
	MHD_add_response_header(r, "Content-Type", "application/json");
	enum MHD_Result rc = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return rc;
}

static enum MHD_Result stats(struct sink *s, struct MHD_Connection *conn)
{
	char out[1024];
	const struct hist *h = &s->lat;
	/* From the reset, which the script does just before it starts sending:
	 * arrivals come in bursts, so their own first-to-last span would
	 * overstate the rate. */
	double span = (double)(s->last_ns - s->reset_ns) / 1e9;
	snprintf(out, sizeof(out),
		 "{\"requests\":%" PRIu64 ",\"marked\":%" PRIu64 ",\"bytes\":%" PRIu64 ",\"span_s\":%.3f,\"rate\":%.1f,"
		 "\"latency_ms\":{\"p50\":%.2f,\"p90\":%.2f,\"p99\":%.2f,\"p999\":%.2f,\"max\":%.2f}}\n",
		 s->requests, s->marked, s->bytes, span, s->requests && span > 0 ? (double)s->requests / span : 0.0,
		 (double)hist_percentile(h, 50) / 1e6, (double)hist_percentile(h, 90) / 1e6,
		 (double)hist_percentile(h, 99) / 1e6, (double)hist_percentile(h, 99.9) / 1e6, (double)h->max / 1e6);
	const char *reset = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "reset");
	if (reset && strcmp(reset, "1") == 0) sink_reset(s);
	return reply(conn, MHD_HTTP_OK, out);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
				  const char *version, const char *data, size_t *data_size, void **con_cls)
{
	struct sink *s = cls;
	(void)version;
	if (strcmp(method, "GET") == 0) return strcmp(url, "/stats") == 0 ? stats(s, conn) : reply(conn, 404, "{}");
	if (strcmp(method, "POST") != 0) return reply(conn, 405, "{}");
	struct upload *u = *con_cls;
	if (!u) {
		u = calloc(1, sizeof(*u));
		*con_cls = u;
		return u ? MHD_YES : MHD_NO;
	}
	if (*data_size) {
		size_t n = *data_size;
		if (n > SINK_BODY_MAX - u->len) n = SINK_BODY_MAX - u->len;
		memcpy(u->body + u->len, data, n);
		u->len += n;
		u->body[u->len] = '\0';
		*data_size = 0;
		return MHD_YES;
	}
	sink_count(s, u);
	return reply(conn, MHD_HTTP_OK, "{\"ok\":true}");
}

static void on_done(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
	(void)cls, (void)conn, (void)toe;
	free(*con_cls);
	*con_cls = NULL;
}

static int parse_port(int argc, char **argv, uint16_t *port)
{
	*port = 0;
	for (int i = 1; i < argc; i++) {
		char *end = NULL;
		if (strcmp(argv[i], "--port") != 0 || i + 1 >= argc) return -1;
		errno = 0;
		long v = strtol(argv[++i], &end, 10);
		if (errno || *end || v < 0 || v > 65535) return -1;
		*port = (uint16_t)v;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static struct sink s;
	uint16_t port;
	if (parse_port(argc, argv, &port)) {
		fprintf(stderr, "usage: push_sink [--port P]\n");
		return 2;
	}
	sink_reset(&s);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL); /* MHD's thread inherits the mask */
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	struct MHD_Daemon *d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL, port, NULL, NULL,
					       on_request, &s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
					       MHD_OPTION_NOTIFY_COMPLETED, on_done, NULL,
					       MHD_OPTION_CONNECTION_LIMIT, 4000u, MHD_OPTION_CONNECTION_TIMEOUT, 60u,
					       MHD_OPTION_END);
	if (!d) {
		fprintf(stderr, "push_sink: cannot listen on port %u\n", port);
		return 1;
	}
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	printf("push_sink: ready on 127.0.0.1:%u\n", info ? info->port : port);
	fflush(stdout);
	int sig = 0;
	sigwait(&set, &sig);
	MHD_stop_daemon(d);
	return 0;
}
