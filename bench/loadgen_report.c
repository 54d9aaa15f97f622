/* SPDX-License-Identifier: MIT */
/*
 * Results: the workers' counters summed, their histograms merged, and the
 * rates worked out honestly. The achieved send rate divides what was sent
 * by the time it really took: when the generator fell behind and sent its
 * backlog after the window closed, the span grows and the rate drops, and
 * rate_ok (within 2% of the request) says whether the asked-for load was
 * ever applied. Printed as text, or as one JSON line with --json.
 */
#include "loadgen.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#define LG_RATE_TOLERANCE 0.02

struct summary {
	struct lg_stats st;     /* sums; st.lat is the merged histogram */
	int64_t window_ns;      /* measurement window actually run */
	double send_rate;
	double recv_rate;
	bool rate_ok;
	uint64_t lost;
	double connect_s;
};

static void add_stats(struct lg_stats *sum, const struct lg_stats *s)
{
	sum->sent += s->sent;
	sum->completed += s->completed;
	sum->skipped += s->skipped;
	sum->expected += s->expected;
	sum->received += s->received;
	sum->publish_errors += s->publish_errors;
	sum->rejected += s->rejected;
	sum->parse_errors += s->parse_errors;
	sum->foreign += s->foreign;
	sum->stall_resets += s->stall_resets;
	sum->connect_failed += s->connect_failed;
	sum->refused += s->refused;
	sum->sub_refused += s->sub_refused;
	sum->disconnects += s->disconnects;
	sum->ready += s->ready;
	if (s->last_complete_ns > sum->last_complete_ns)
		sum->last_complete_ns = s->last_complete_ns;
	if (s->last_recv_ns > sum->last_recv_ns)
		sum->last_recv_ns = s->last_recv_ns;
	hist_merge(&sum->lat, &s->lat);
}

/* Count over the longer of the window and the time until the last event. */
static double rate_over(uint64_t count, int64_t start, int64_t window,
			int64_t last)
{
	int64_t span = window;

	if (last - start > span)
		span = last - start;
	return span > 0 ? (double)count * 1e9 / (double)span : 0.0;
}

static void summarise(const struct lg_run *run, int64_t ready_ns,
		      struct summary *s)
{
	const struct lg_worker *w0 = &run->workers[0];
	int i;

	hist_reset(&s->st.lat);
	for (i = 0; i < run->nworkers; i++)
		add_stats(&s->st, &run->workers[i].st);
	s->window_ns = w0->t_end - w0->t_meas;
	if (w0->t_end == INT64_MAX) /* idle, never stopped */
		s->window_ns = 0;
	s->send_rate = rate_over(s->st.completed, w0->t_meas, s->window_ns,
				 s->st.last_complete_ns);
	s->recv_rate = rate_over(s->st.received, w0->t_meas, s->window_ns, s->st.last_recv_ns);
	s->rate_ok = run->opt.rate > 0 &&
		     s->send_rate >= run->opt.rate * (1.0 - LG_RATE_TOLERANCE) &&
		     s->send_rate <= run->opt.rate * (1.0 + LG_RATE_TOLERANCE);
	s->lost = s->st.expected > s->st.received ? s->st.expected - s->st.received : 0;
	s->connect_s = (double)(ready_ns - run->start_ns) / 1e9;
}

static const char *mode_name(enum lg_mode m)
{
	return m == LG_MODE_OPEN ? "open" : m == LG_MODE_CLOSED ? "closed" : "idle";
}

static double us(uint64_t ns)
{
	return (double)ns / 1000.0;
}

static void print_latency_json(FILE *f, const struct hist *h)
{
	fprintf(f, "\"latency_us\":{\"count\":%" PRIu64 ",\"min\":%.1f,\"p50\":%.1f,"
		"\"p90\":%.1f,\"p99\":%.1f,\"p999\":%.1f,\"max\":%.1f,\"mean\":%.1f,"
		"\"clamped\":%" PRIu64 "}",
		h->count, us(h->count ? h->min : 0), us(hist_percentile(h, 50)),
		us(hist_percentile(h, 90)), us(hist_percentile(h, 99)),
		us(hist_percentile(h, 99.9)), us(h->max), hist_mean(h) / 1000.0,
		h->clamped);
}

static void print_setup_json(FILE *f, const struct lg_run *run, const struct summary *s)
{
	const struct lg_options *o = &run->opt;

	fprintf(f, "{\"mode\":\"%s\",\"protocol\":\"%s\",\"qos\":%d,\"lang\":\"%s\","
		"\"text_bytes\":%d,\"rooms\":%d,\"pubs_per_room\":%d,\"subs_per_room\":%d,"
		"\"idle_clients\":%d,\"threads\":%d,\"clients\":%d,\"ready\":%" PRIu64 ","
		"\"connect_failed\":%" PRIu64 ",\"refused\":%" PRIu64 ",\"sub_refused\":%" PRIu64
		",\"disconnects\":%" PRIu64 ",\"connect_s\":%.3f,\"warmup_s\":%.3f,\"duration_s\":%.3f,",
		mode_name(o->mode), o->protocol == MQTT_PROTOCOL_V5 ? "5" : "3.1.1", o->qos,
		o->lang == LG_LANG_KO ? "ko" : "en", o->text_bytes, o->rooms, o->pubs_per_room,
		o->subs_per_room, o->idle_clients, run->nworkers, run->nclients, s->st.ready,
		s->st.connect_failed, s->st.refused, s->st.sub_refused, s->st.disconnects,
		s->connect_s, o->mode == LG_MODE_IDLE ? 0.0 : o->warmup, (double)s->window_ns / 1e9);
}

static void print_json(const struct lg_run *run, const struct summary *s)
{
	const struct lg_options *o = &run->opt;
	bool open = o->mode == LG_MODE_OPEN;

	print_setup_json(stdout, run, s);
	if (open)
		printf("\"requested_rate\":%.3f,\"window\":null,", o->rate);
	else if (o->mode == LG_MODE_CLOSED)
		printf("\"requested_rate\":null,\"window\":%d,", o->window);
	else
		printf("\"requested_rate\":null,\"window\":null,");
	printf("\"send_rate\":%.1f,\"recv_rate\":%.1f,\"throughput\":%.1f,\"rate_ok\":%s,",
	       s->send_rate, s->recv_rate, s->recv_rate,
	       open ? (s->rate_ok ? "true" : "false") : "null");
	printf("\"sent\":%" PRIu64 ",\"completed\":%" PRIu64 ",\"expected\":%" PRIu64 ",\"received\":%" PRIu64
	       ",\"lost\":%" PRIu64 ",\"skipped\":%" PRIu64 ",\"publish_errors\":%" PRIu64
	       ",\"rejected\":%" PRIu64 ",\"parse_errors\":%" PRIu64 ",\"foreign\":%" PRIu64
	       ",\"stall_resets\":%" PRIu64 ",",
	       s->st.sent, s->st.completed, s->st.expected, s->st.received, s->lost,
	       s->st.skipped, s->st.publish_errors, s->st.rejected, s->st.parse_errors,
	       s->st.foreign,
	       s->st.stall_resets);
	print_latency_json(stdout, &s->st.lat);
	if (run->watch_busy >= 0)
		printf(",\"watched_busy\":%.3f", run->watch_busy);
	printf("}\n");
	fflush(stdout);
}

static void print_text_traffic(FILE *f, const struct lg_run *run, const struct summary *s)
{
	const struct hist *h = &s->st.lat;

	if (run->opt.mode == LG_MODE_OPEN)
		fprintf(f, "rate: requested %.1f/s, sent %.1f/s (%s), received %.1f/s\n",
			run->opt.rate, s->send_rate, s->rate_ok ? "rate ok" : "RATE NOT REACHED",
			s->recv_rate);
	else
		fprintf(f, "closed loop, window %d: throughput %.1f msgs/s received, sent %.1f/s\n",
			run->opt.window, s->recv_rate, s->send_rate);
	fprintf(f, "messages: sent %" PRIu64 " (completed %" PRIu64 "), expected %" PRIu64 ", received %" PRIu64
		", lost %" PRIu64 ", skipped %" PRIu64 ", publish errors %" PRIu64
		", rejected %" PRIu64 ", unparsable %" PRIu64 ", stall resets %" PRIu64 "\n",
		s->st.sent, s->st.completed, s->st.expected, s->st.received, s->lost,
		s->st.skipped, s->st.publish_errors, s->st.rejected, s->st.parse_errors,
		s->st.stall_resets);
	fprintf(f, "latency us: p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  max %.1f  "
		"(%" PRIu64 " samples)\n",
		us(hist_percentile(h, 50)), us(hist_percentile(h, 90)),
		us(hist_percentile(h, 99)), us(hist_percentile(h, 99.9)), us(h->max), h->count);
}

static void print_text(const struct lg_run *run, const struct summary *s)
{
	const struct lg_options *o = &run->opt;

	printf("%s%s, MQTT %s, QoS %d, %s text of %d bytes; %d rooms x %d pubs x %d subs"
	       " + %d idle\n",
	       mode_name(o->mode), o->mode == LG_MODE_IDLE ? "" : " loop",
	       o->protocol == MQTT_PROTOCOL_V5 ? "5" : "3.1.1", o->qos,
	       o->lang == LG_LANG_KO ? "Korean" : "English", o->text_bytes, o->rooms,
	       o->pubs_per_room, o->subs_per_room, o->idle_clients);
	printf("clients: %" PRIu64 "/%d ready in %.3f s; connect failed %" PRIu64
	       ", refused %" PRIu64 ", subscribe refused %" PRIu64 ", disconnected %" PRIu64 "\n",
	       s->st.ready, run->nclients, s->connect_s, s->st.connect_failed, s->st.refused,
	       s->st.sub_refused, s->st.disconnects);
	if (o->mode == LG_MODE_IDLE) {
		printf("held: %.3f s\n", (double)s->window_ns / 1e9);
	} else {
		printf("window: %.3f s after %.3f s warm-up\n", (double)s->window_ns / 1e9,
		       o->warmup);
		print_text_traffic(stdout, run, s);
	}
	fflush(stdout);
}

void lg_report(const struct lg_run *run, int64_t ready_ns)
{
	struct summary *s = calloc(1, sizeof(*s));

	if (!s) {
		fprintf(stderr, "loadgen: out of memory for the report\n");
		return;
	}
	summarise(run, ready_ns, s);
	if (run->opt.mode == LG_MODE_OPEN && !s->rate_ok)
		fprintf(stderr, "loadgen: WARNING: requested rate %.1f/s not reached: "
			"sent %.1f/s (%.1f%%)\n", run->opt.rate, s->send_rate,
			100.0 * s->send_rate / run->opt.rate);
	if (run->opt.json)
		print_json(run, s);
	else
		print_text(run, s);
	free(s);
}
