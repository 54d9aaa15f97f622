/* SPDX-License-Identifier: MIT */
/*
 * When to send and what a receipt means.
 *
 * Open loop: the worker's n-th message is due at t0 + phase + n * period,
 * round-robin over its publishers, whatever happened before. A generator
 * that falls behind sends the backlog as fast as it can, each message still
 * stamped with the time it should have left, so a stall shows up in the
 * latencies instead of hiding in a lower rate (no coordinated omission).
 *
 * Closed loop: each publisher keeps `window` messages in flight, a message
 * counting as landed once every subscriber of its room received it; the
 * receipt rate is then the broker's saturated throughput. A publisher whose
 * window has not moved for LG_STALL_NS gives up on it (lost messages must
 * not freeze the run), which stall_resets reports.
 *
 * Only messages whose intended send time lies in [t_meas, t_end) are
 * counted; warm-up traffic flows but leaves no trace in the results.
 */
#include "loadgen.h"

#include <stdint.h>

#define LG_STALL_NS INT64_C(1000000000)
#define LG_SEND_BATCH 512

static bool in_window(const struct lg_worker *w, int64_t t)
{
	return t >= w->t_meas && t < w->t_end;
}

static int64_t intended_at(const struct lg_worker *w, uint64_t n)
{
	return w->t0 + (int64_t)(w->phase_ns + (double)n * w->period_ns);
}

/* Window bookkeeping goes first: a QoS 0 message may be written, and its
 * completion counted, inside mosquitto_publish() itself. */
static void mark_window(struct lg_client *c)
{
	if (c->win_first == UINT64_MAX)
		c->win_first = c->seq;
	c->win_last = c->seq;
}

/* Publishes one message; false when it could not be sent. */
static bool publish_one(struct lg_worker *w, struct lg_client *c,
			int64_t intended, int64_t now)
{
	struct lg_room *room = &w->rooms[c->room];
	bool counted = in_window(w, intended);
	size_t len;
	int rc = MOSQ_ERR_NO_CONN;

	if (c->state == LG_ST_READY && c->published - c->completed < w->max_backlog) {
		if (counted)
			mark_window(c);
		len = lg_payload_build(w->payload, sizeof(w->payload), &w->run->texts,
				       c->pub_index + w->opt->pub_offset, c->seq, intended);
		rc = mosquitto_publish(c->mosq, NULL, room->topic, (int)len,
				       w->payload, w->opt->qos, false);
		if (rc != MOSQ_ERR_SUCCESS)
			w->st.publish_errors++;
	}
	if (rc != MOSQ_ERR_SUCCESS) {
		if (counted)
			w->st.skipped++;
		return false;
	}
	if (c->owed == c->got)
		c->progress_ns = now; /* an empty window cannot be stalled */
	if (counted) {
		w->st.sent++;
		w->st.expected += (uint64_t)room->ready_subs;
	}
	c->seq++;
	c->published++;
	c->owed += (uint64_t)room->ready_subs;
	return true;
}

static int64_t open_step(struct lg_worker *w, int64_t now)
{
	int budget = LG_SEND_BATCH;
	int64_t t;

	while (budget-- > 0) {
		t = intended_at(w, w->next_msg);
		if (t >= w->t_end)
			return INT64_MAX;
		if (t > now)
			return t;
		publish_one(w, w->pubs[w->next_msg % (uint64_t)w->npubs], t, now);
		w->next_msg++;
	}
	return now; /* behind: serve the sockets, then carry on at once */
}

static void refill(struct lg_worker *w, struct lg_client *c, int64_t now)
{
	uint64_t subs = (uint64_t)w->rooms[c->room].ready_subs;
	uint64_t limit = (uint64_t)w->opt->window * subs;

	if (c->state != LG_ST_READY || subs == 0)
		return;
	if (c->got > c->owed)
		c->got = c->owed; /* duplicates, or a subscriber came and went */
	while (c->owed - c->got < limit) {
		if (!publish_one(w, c, now, now))
			return;
	}
	if (now - c->progress_ns > LG_STALL_NS) {
		w->st.stall_resets++;
		c->got = c->owed;
		c->progress_ns = now;
	}
}

static int64_t closed_step(struct lg_worker *w, int64_t now)
{
	int i;

	if (now >= w->t_end)
		return INT64_MAX;
	for (i = 0; i < w->npubs; i++)
		refill(w, w->pubs[i], now);
	return INT64_MAX; /* the next send follows a receipt */
}

int64_t lg_traffic_step(struct lg_worker *w, int64_t now)
{
	if (w->npubs == 0)
		return INT64_MAX;
	if (w->opt->mode == LG_MODE_OPEN)
		return open_step(w, now);
	if (w->opt->mode == LG_MODE_CLOSED)
		return closed_step(w, now);
	return INT64_MAX;
}

bool lg_traffic_backlog(const struct lg_worker *w)
{
	if (w->opt->mode != LG_MODE_OPEN || w->npubs == 0)
		return false;
	return intended_at(w, w->next_msg) < w->t_end;
}

/* First schedule slot due at or after t. */
static uint64_t slot_at(const struct lg_worker *w, int64_t t)
{
	double n = ((double)(t - w->t0) - w->phase_ns) / w->period_ns;
	uint64_t k;

	if (n <= 0)
		return 0;
	k = (uint64_t)n;
	while (intended_at(w, k) < t)
		k++;
	while (k > 0 && intended_at(w, k - 1) >= t)
		k--;
	return k;
}

void lg_traffic_finish(struct lg_worker *w)
{
	uint64_t first, end;

	if (!lg_traffic_backlog(w))
		return;
	first = slot_at(w, w->t_meas);
	end = slot_at(w, w->t_end);
	if (w->next_msg > first)
		first = w->next_msg;
	if (end > first)
		w->st.skipped += end - first;
}

/* One message of a receipt: the cid's publisher, sequence and time. */
static void count_one(struct lg_client *sub, int pidx, int64_t t, int64_t now)
{
	struct lg_worker *w = sub->w;
	struct lg_client *pub;

	pidx -= w->opt->pub_offset;
	if (pidx < 0 || pidx >= w->run->npubs ||
	    w->run->pub_by_index[pidx]->w != w ||
	    w->run->pub_by_index[pidx]->room != sub->room) {
		w->st.foreign++;
		return;
	}
	pub = w->run->pub_by_index[pidx];
	pub->got++;
	pub->progress_ns = now;
	if (!in_window(w, t))
		return;
	w->st.received++;
	hist_record(&w->st.lat, now > t ? (uint64_t)(now - t) : 0);
	w->st.last_recv_ns = now;
}

/* A receipt holds one message, or with --sub-topics a live room's batch
 * of any number (none: a batch carrying only the viewer count). */
void lg_traffic_receipt(struct lg_client *sub,
			const struct mosquitto_message *msg)
{
	struct lg_worker *w = sub->w;
	int64_t now = lg_now_ns(), t;
	uint64_t seq;
	size_t off = 0;
	int pidx;

	if (msg->payloadlen < 0) {
		w->st.parse_errors++;
		return;
	}
	if (!w->opt->sub_topics) {
		if (lg_payload_parse(msg->payload, (size_t)msg->payloadlen, &pidx, &seq, &t)) {
			w->st.parse_errors++;
			return;
		}
		count_one(sub, pidx, t, now);
		return;
	}
	while (lg_payload_parse_next(msg->payload, (size_t)msg->payloadlen, &off, &pidx, &seq, &t) == 0) {
		count_one(sub, pidx, t, now);
	}
}
