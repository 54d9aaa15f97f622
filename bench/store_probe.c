/* SPDX-License-Identifier: MIT */
/*
 * store_probe: publishes chat messages through the broker and watches them
 * arrive in MongoDB, to measure chat-bridge from the outside.
 *
 *   --count N             publish N messages as fast as the broker takes
 *                         them (QoS 1), then poll the collection's count
 *                         until all N are stored: the stored rate. Polls
 *                         come every 50 ms while the end is far and every
 *                         --poll-ms near it (see count_poll_ns).
 *   --rate R --duration S publish at R messages/s and poll for the new
 *                         documents of each room every --poll-ms: the time
 *                         from the intended send to the document being
 *                         readable (p50/p99), resolution one poll period.
 *   --no-store            only publish (the push scenario's sender).
 *   --pause-pid PID       count mode: stop that process (the bridge) with
 *                         SIGSTOP while publishing and continue it once the
 *                         broker acknowledged all N; the clock then starts
 *                         at SIGCONT, so the rate is the bridge's own drain
 *                         rate, not bounded by how fast one publisher sends.
 *   --metrics URL         count mode: follow chat-bridge's own
 *                         chat_bridge_messages_stored_total over HTTP
 *                         instead of counting documents, which on a server
 *                         without count pushdown is a scan that would slow
 *                         the very inserts being measured; one count of
 *                         the documents at the end checks the total.
 *
 * Each text starts with "@@<CLOCK_MONOTONIC ns>@@", and the cid is
 * "sp-<seq>-<ns>", so a stored document (cid) or a push notification
 * (preview) both carry their own send time. Prints one JSON line.
 * Publishing runs on the main thread, libmosquitto's network loop on its
 * own thread, and polling on a third, so a slow query never delays a send.
 */
#include <errno.h>
#include <signal.h>
#include <sys/types.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <mongoc/mongoc.h>
#include <mosquitto.h>

#include "hist.h"
#include "loadgen.h"

#define PROBE_MARKER_BYTES 24 /* "@@" + 19 digits + "@@ " */
#define PROBE_MAX_ROOMS 1024

struct probe_opts {
	const char *host, *user, *password, *room_fmt, *mongo_uri, *db, *metrics;
	int port, rooms, qos, poll_ms;
	long pause_pid;
	long count;
	double rate, duration, timeout;
	bool no_store;
	enum lg_lang lang;
};

struct probe {
	struct probe_opts o;
	struct lg_texts texts;
	struct mosquitto *mosq;
	atomic_int connected;   /* 1 on CONNACK success, -1 on refusal */
	atomic_long acked;      /* PUBACKs (or writes, QoS 0) */
	atomic_long sent;       /* publishes handed to libmosquitto */
	atomic_int publishing;  /* 0 once the last message was handed over */
	long stored;            /* poller: documents seen */
	long base;              /* count mode: documents before the first publish */
	long metric_base;       /* --metrics: the bridge's stored count then */
	long verified;          /* --metrics: documents counted at the end, -1 = not */
	int64_t publish_ns;     /* --pause-pid: first publish to last PUBACK */
	CURL *curl;             /* --metrics */
	char mbuf[65536];       /* --metrics: the last response */
	size_t mlen;
	int64_t t_start, t_stored, t_acked;
	struct hist lat;        /* ns from intended send to seen stored */
	mongoc_client_t *mongo; /* the poller's own */
	char last_id[PROBE_MAX_ROOMS][64];
};

int64_t lg_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * INT64_C(1000000000) + (int64_t)ts.tv_nsec;
}

static void sleep_until(int64_t t_ns)
{
	struct timespec ts = {(time_t)(t_ns / 1000000000), (long)(t_ns % 1000000000)};
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
	}
}

static void usage(FILE *f)
{
	fprintf(f, "usage: store_probe --port P --user U --password S (--count N | --rate R --duration S)\n"
		   "       [--host H] [--rooms N] [--room-fmt F (b%%d)] [--qos 0|1] [--lang en|ko]\n"
		   "       [--mongo-uri URI --db NAME (chat)] [--poll-ms MS (5)] [--timeout S (60)] [--no-store]\n"
		   "       [--metrics URL (count mode: the bridge's stored counter)] [--pause-pid PID]\n");
}

static int num(const char *name, const char *v, double min, double max, double *out)
{
	char *end = NULL;
	errno = 0;
	double d = strtod(v, &end);
	if (errno || end == v || *end || d < min || d > max) {
		fprintf(stderr, "store_probe: %s: '%s' is not a number in %g..%g\n", name, v, min, max);
		return -1;
	}
	*out = d;
	return 0;
}

/* One option with its value; returns 0, or -1 when unknown or bad. */
static int parse_one(struct probe_opts *o, const char *a, const char *v)
{
	double d = 0;
	int rc = 0;
	if (strcmp(a, "--host") == 0) o->host = v;
	else if (strcmp(a, "--user") == 0) o->user = v;
	else if (strcmp(a, "--password") == 0) o->password = v;
	else if (strcmp(a, "--room-fmt") == 0) o->room_fmt = v;
	else if (strcmp(a, "--mongo-uri") == 0) o->mongo_uri = v;
	else if (strcmp(a, "--db") == 0) o->db = v;
	else if (strcmp(a, "--metrics") == 0) o->metrics = v;
	else if (strcmp(a, "--lang") == 0) o->lang = strcmp(v, "ko") == 0 ? LG_LANG_KO : LG_LANG_EN;
	else if (strcmp(a, "--port") == 0 && (rc = num(a, v, 1, 65535, &d)) == 0) o->port = (int)d;
	else if (strcmp(a, "--rooms") == 0 && (rc = num(a, v, 1, PROBE_MAX_ROOMS, &d)) == 0) o->rooms = (int)d;
	else if (strcmp(a, "--qos") == 0 && (rc = num(a, v, 0, 1, &d)) == 0) o->qos = (int)d;
	else if (strcmp(a, "--poll-ms") == 0 && (rc = num(a, v, 1, 10000, &d)) == 0) o->poll_ms = (int)d;
	else if (strcmp(a, "--pause-pid") == 0 && (rc = num(a, v, 2, 4194304, &d)) == 0) o->pause_pid = (long)d;
	else if (strcmp(a, "--count") == 0 && (rc = num(a, v, 1, 1e8, &d)) == 0) o->count = (long)d;
	else if (strcmp(a, "--rate") == 0) rc = num(a, v, 0.1, 1e7, &o->rate);
	else if (strcmp(a, "--duration") == 0) rc = num(a, v, 0.01, 86400, &o->duration);
	else if (strcmp(a, "--timeout") == 0) rc = num(a, v, 0.1, 86400, &o->timeout);
	else rc = -1;
	return rc;
}

static int parse_opts(struct probe_opts *o, int argc, char **argv)
{
	*o = (struct probe_opts){.host = "127.0.0.1", .room_fmt = "b%d", .db = "chat", .port = 1883, .rooms = 1,
				 .qos = 1, .poll_ms = 5, .timeout = 60, .lang = LG_LANG_EN};
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			exit(0);
		}
		if (strcmp(argv[i], "--no-store") == 0) {
			o->no_store = true;
			continue;
		}
		if (i + 1 >= argc || parse_one(o, argv[i], argv[i + 1])) {
			usage(stderr);
			return -1;
		}
		i++;
	}
	bool paced = o->rate > 0 && o->duration > 0;
	if ((o->count > 0) == paced || !o->user || (!o->no_store && !o->mongo_uri) || (o->count > 0 && o->no_store)) {
		usage(stderr);
		return -1;
	}
	if (!paced) return 0;
	o->count = (long)(o->rate * o->duration + 0.5);
	return o->count > 0 ? 0 : -1;
}

static void on_connect(struct mosquitto *m, void *ud, int rc, int flags, const mosquitto_property *props)
{
	struct probe *p = ud;
	(void)m, (void)flags, (void)props;
	atomic_store(&p->connected, rc == 0 ? 1 : -1);
}

static void on_publish(struct mosquitto *m, void *ud, int mid, int reason, const mosquitto_property *props)
{
	struct probe *p = ud;
	(void)m, (void)mid, (void)props;
	if (reason >= 128) fprintf(stderr, "store_probe: publish refused, reason %d\n", reason);
	if (atomic_fetch_add(&p->acked, 1) + 1 == p->o.count) p->t_acked = lg_now_ns();
}

static int mqtt_open(struct probe *p)
{
	mosquitto_lib_init();
	p->mosq = mosquitto_new(NULL, true, p);
	if (!p->mosq) return -1;
	mosquitto_int_option(p->mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
	mosquitto_int_option(p->mosq, MOSQ_OPT_TCP_NODELAY, 1);
	mosquitto_username_pw_set(p->mosq, p->o.user, p->o.password);
	mosquitto_connect_v5_callback_set(p->mosq, on_connect);
	mosquitto_publish_v5_callback_set(p->mosq, on_publish);
	if (mosquitto_loop_start(p->mosq) != MOSQ_ERR_SUCCESS ||
	    mosquitto_connect_async(p->mosq, p->o.host, p->o.port, 60) != MOSQ_ERR_SUCCESS) {
		fprintf(stderr, "store_probe: cannot connect to %s:%d\n", p->o.host, p->o.port);
		return -1;
	}
	int64_t deadline = lg_now_ns() + INT64_C(10000000000);
	while (atomic_load(&p->connected) == 0 && lg_now_ns() < deadline) sleep_until(lg_now_ns() + 2000000);
	if (atomic_load(&p->connected) != 1) {
		fprintf(stderr, "store_probe: no CONNACK (or refused) from %s:%d as %s\n", p->o.host, p->o.port,
			p->o.user);
		return -1;
	}
	return 0;
}

/* The room id of room i: room_fmt with its "%d" replaced by i + 1. */
static void room_name(const struct probe *p, int i, char *out, size_t cap)
{
	const char *f = p->o.room_fmt, *d = strstr(f, "%d");
	if (!d) {
		snprintf(out, cap, "%s%d", f, i + 1);
		return;
	}
	snprintf(out, cap, "%.*s%d%s", (int)(d - f), f, i + 1, d + 2);
}

static int publish_one(struct probe *p, long seq, int64_t intended)
{
	char room[128], topic[200], payload[LG_PAYLOAD_MAX];
	room_name(p, (int)(seq % p->o.rooms), room, sizeof(room));
	snprintf(topic, sizeof(topic), "chat/rooms/%s/messages", room);
	int n = snprintf(payload, sizeof(payload), "{\"text\":\"@@%019" PRId64 "@@ %s\",\"cid\":\"sp-%ld-%" PRId64 "\"}",
			 intended, p->texts.text[seq % LG_TEXT_VARIANTS], seq, intended);
	if (n < 0 || (size_t)n >= sizeof(payload)) return -1;
	int rc = mosquitto_publish_v5(p->mosq, NULL, topic, n, payload, p->o.qos, false, NULL);
	if (rc != MOSQ_ERR_SUCCESS) {
		fprintf(stderr, "store_probe: publish: %s\n", mosquitto_strerror(rc));
		return -1;
	}
	atomic_fetch_add(&p->sent, 1);
	if (p->o.qos == 0 && atomic_fetch_add(&p->acked, 1) + 1 == p->o.count) p->t_acked = lg_now_ns();
	return 0;
}

/* Paced (rate > 0) or as fast as libmosquitto queues them. */
static void publish_all(struct probe *p)
{
	double period = p->o.rate > 0 ? 1e9 / p->o.rate : 0;
	p->t_start = lg_now_ns();
	for (long seq = 0; seq < p->o.count; seq++) {
		int64_t due = p->t_start + (int64_t)(period * (double)seq);
		if (period > 0) sleep_until(due);
		if (publish_one(p, seq, period > 0 ? due : lg_now_ns())) break;
	}
	atomic_store(&p->publishing, 0);
}

/* Count mode: documents in the collection now; -1 on error. */
static long stored_count(mongoc_collection_t *coll)
{
	bson_error_t err;
	int64_t n = mongoc_collection_estimated_document_count(coll, NULL, NULL, NULL, &err);
	if (n < 0) fprintf(stderr, "store_probe: count: %s\n", err.message);
	return (long)n;
}

/* Rate mode: reads one room's documents newer than the last seen. */
static void poll_room(struct probe *p, mongoc_collection_t *coll, int r)
{
	char room[128];
	room_name(p, r, room, sizeof(room));
	bson_t *filter = BCON_NEW("room", BCON_UTF8(room), "id", "{", "$gt", BCON_UTF8(p->last_id[r]), "}");
	bson_t *opts = BCON_NEW("sort", "{", "id", BCON_INT32(1), "}", "limit", BCON_INT64(2000), "projection", "{",
				"id", BCON_INT32(1), "cid", BCON_INT32(1), "}");
	mongoc_cursor_t *cur = mongoc_collection_find_with_opts(coll, filter, opts, NULL);
	const bson_t *doc;
	int64_t now = lg_now_ns();
	while (mongoc_cursor_next(cur, &doc)) {
		bson_iter_t it;
		if (bson_iter_init_find(&it, doc, "id") && BSON_ITER_HOLDS_UTF8(&it))
			snprintf(p->last_id[r], sizeof(p->last_id[r]), "%s", bson_iter_utf8(&it, NULL));
		if (!bson_iter_init_find(&it, doc, "cid") || !BSON_ITER_HOLDS_UTF8(&it)) continue;
		const char *cid = bson_iter_utf8(&it, NULL), *dash = strrchr(cid, '-');
		if (strncmp(cid, "sp-", 3) != 0 || !dash) continue;
		long long sent_ns = strtoll(dash + 1, NULL, 10);
		if (now > sent_ns) hist_record(&p->lat, (uint64_t)(now - sent_ns));
		p->stored++;
	}
	bson_error_t err;
	if (mongoc_cursor_error(cur, &err)) fprintf(stderr, "store_probe: find: %s\n", err.message);
	mongoc_cursor_destroy(cur);
	bson_destroy(opts);
	bson_destroy(filter);
}

static size_t metrics_write(char *data, size_t size, size_t n, void *ud)
{
	struct probe *p = ud;
	size_t len = size * n, room = sizeof(p->mbuf) - 1 - p->mlen;
	memcpy(p->mbuf + p->mlen, data, len < room ? len : room);
	p->mlen += len < room ? len : room;
	p->mbuf[p->mlen] = '\0';
	return len;
}

/* The bridge's chat_bridge_messages_stored_total; -1 on error. */
static long metric_stored(struct probe *p)
{
	static const char key[] = "\nchat_bridge_messages_stored_total ";
	p->mlen = 0;
	p->mbuf[0] = '\0';
	if (curl_easy_perform(p->curl) != CURLE_OK) return -1;
	const char *at = strstr(p->mbuf, key);
	return at ? strtol(at + sizeof(key) - 1, NULL, 10) : -1;
}

static int metrics_open(struct probe *p)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	p->curl = curl_easy_init();
	if (!p->curl) return -1;
	curl_easy_setopt(p->curl, CURLOPT_URL, p->o.metrics);
	curl_easy_setopt(p->curl, CURLOPT_WRITEFUNCTION, metrics_write);
	curl_easy_setopt(p->curl, CURLOPT_WRITEDATA, p);
	curl_easy_setopt(p->curl, CURLOPT_TIMEOUT_MS, 5000L);
	p->metric_base = metric_stored(p);
	if (p->metric_base < 0) fprintf(stderr, "store_probe: no stored counter at %s\n", p->o.metrics);
	return p->metric_base < 0 ? -1 : 0;
}

/* Count mode: how long until the next poll. While the end is far the
 * probe polls less often (every 50 ms at most), so that its scrapes or
 * counts take little CPU from the bridge it measures; near the end it is
 * back to --poll-ms, which is the resolution of the stored time. The rate
 * comes from the poller's own first sighting of progress (first_ns,
 * first_stored), so it reads nothing the publishing thread writes. */
static int64_t count_poll_ns(const struct probe *p, int64_t now, int64_t first_ns, long first_stored)
{
	const int64_t step = (int64_t)p->o.poll_ms * 1000000, far = 50 * INT64_C(1000000);
	long done = p->stored - first_stored;
	if (step >= far) return step;
	if (first_ns == 0 || done <= 0 || now <= first_ns) return step;
	/* Half the time the rate so far says is left. */
	double left = (double)(p->o.count - p->stored) * (double)(now - first_ns) / (double)done / 2;
	return left < (double)step ? step : left > (double)far ? far : (int64_t)left;
}

static void *poller(void *arg)
{
	struct probe *p = arg;
	mongoc_collection_t *coll = mongoc_client_get_collection(p->mongo, p->o.db, "messages");
	bool counting = p->o.rate <= 0;
	int64_t deadline = 0, first_ns = 0;
	long first_stored = 0;
	for (;;) {
		int64_t now = lg_now_ns();
		if (counting && p->curl) {
			long n = metric_stored(p);
			if (n >= 0) p->stored = n - p->metric_base;
		} else if (counting) {
			long n = stored_count(coll);
			if (n >= 0) p->stored = n - p->base;
		} else {
			for (int r = 0; r < p->o.rooms; r++) poll_room(p, coll, r);
		}
		if (p->stored >= p->o.count) break;
		if (first_ns == 0 && p->stored > 0) {
			first_ns = now;
			first_stored = p->stored;
		}
		if (atomic_load(&p->publishing) == 0 && deadline == 0)
			deadline = now + (int64_t)(p->o.timeout * 1e9);
		if (deadline && now > deadline) break;
		sleep_until(now + (counting ? count_poll_ns(p, now, first_ns, first_stored)
					    : (int64_t)p->o.poll_ms * 1000000));
	}
	p->t_stored = lg_now_ns();
	if (counting && p->curl) {
		long n = stored_count(coll);
		p->verified = n >= 0 ? n - p->base : -1;
	}
	mongoc_collection_destroy(coll);
	return NULL;
}

static void print_latency(const struct hist *h)
{
	printf(",\"latency_ms\":{\"count\":%" PRIu64 ",\"p50\":%.2f,\"p90\":%.2f,\"p99\":%.2f,\"p999\":%.2f,\"max\":%.2f}",
	       h->count, (double)hist_percentile(h, 50) / 1e6, (double)hist_percentile(h, 90) / 1e6,
	       (double)hist_percentile(h, 99) / 1e6, (double)hist_percentile(h, 99.9) / 1e6, (double)h->max / 1e6);
}

static void report(struct probe *p)
{
	double store_s = (double)(p->t_stored - p->t_start) / 1e9;
	double ack_s = p->publish_ns ? (double)p->publish_ns / 1e9
		       : p->t_acked ? (double)(p->t_acked - p->t_start) / 1e9 : 0;
	printf("{\"mode\":\"%s\",\"count\":%ld,\"sent\":%ld,\"acked\":%ld,\"stored\":%ld,\"complete\":%s,"
	       "\"publish_seconds\":%.3f,\"publish_rate\":%.1f,\"store_seconds\":%.3f,\"stored_rate\":%.1f",
	       p->o.rate > 0 ? "rate" : "count", p->o.count, atomic_load(&p->sent), atomic_load(&p->acked),
	       p->stored, p->stored >= p->o.count ? "true" : "false", ack_s,
	       ack_s > 0 ? (double)atomic_load(&p->acked) / ack_s : 0.0, store_s,
	       store_s > 0 ? (double)p->stored / store_s : 0.0);
	if (p->o.rate > 0 && !p->o.no_store) print_latency(&p->lat);
	if (p->curl) printf(",\"verified\":%ld", p->verified);
	printf("}\n");
	fflush(stdout);
}

/* Waits (up to the timeout) until every publish was acknowledged. */
static void wait_acked(struct probe *p)
{
	int64_t deadline = lg_now_ns() + (int64_t)(p->o.timeout * 1e9);
	while (atomic_load(&p->acked) < atomic_load(&p->sent) && lg_now_ns() < deadline)
		sleep_until(lg_now_ns() + 2000000);
}

static int run(struct probe *p)
{
	pthread_t th;
	bool polling = !p->o.no_store;
	if (mqtt_open(p)) return 1;
	if (polling) {
		bson_error_t err;
		mongoc_init();
		mongoc_uri_t *uri = mongoc_uri_new_with_error(p->o.mongo_uri, &err);
		p->mongo = uri ? mongoc_client_new_from_uri_with_error(uri, &err) : NULL;
		mongoc_uri_destroy(uri);
		if (!p->mongo) {
			fprintf(stderr, "store_probe: %s: %s\n", p->o.mongo_uri, err.message);
			return 1;
		}
	}
	if (polling && p->o.rate <= 0) {
		/* Counted before the first publish: the poller's first count may
		 * come after the first documents were stored. */
		mongoc_collection_t *coll = mongoc_client_get_collection(p->mongo, p->o.db, "messages");
		p->base = stored_count(coll);
		mongoc_collection_destroy(coll);
		if (p->base < 0) return 1;
		if (p->o.metrics && metrics_open(p)) return 1;
	}
	atomic_store(&p->publishing, 1);
	if (polling && pthread_create(&th, NULL, poller, p) != 0) return 1;
	if (p->o.pause_pid && kill((pid_t)p->o.pause_pid, SIGSTOP) != 0) perror("store_probe: SIGSTOP");
	publish_all(p);
	wait_acked(p);
	if (p->o.pause_pid) {
		p->publish_ns = p->t_acked - p->t_start;
		p->t_start = lg_now_ns();
		if (kill((pid_t)p->o.pause_pid, SIGCONT) != 0) perror("store_probe: SIGCONT");
	}
	if (polling) pthread_join(th, NULL);
	else p->t_stored = p->t_start;
	report(p);
	mosquitto_disconnect(p->mosq);
	mosquitto_loop_stop(p->mosq, false);
	return 0;
}

int main(int argc, char **argv)
{
	struct probe *p = calloc(1, sizeof(*p));
	if (!p || parse_opts(&p->o, argc, argv)) return 2;
	hist_reset(&p->lat);
	lg_texts_init(&p->texts, p->o.lang, 100 - PROBE_MARKER_BYTES);
	int rc = run(p);
	if (p->mosq) mosquitto_destroy(p->mosq);
	mosquitto_lib_cleanup();
	if (p->mongo) {
		mongoc_client_destroy(p->mongo);
		mongoc_cleanup();
	}
	if (p->curl) {
		curl_easy_cleanup(p->curl);
		curl_global_cleanup();
	}
	free(p);
	return rc;
}
