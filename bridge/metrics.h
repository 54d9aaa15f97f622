/* SPDX-License-Identifier: MIT */
/*
 * The bridge's counters, served in Prometheus text format over HTTP by
 * libmicrohttpd (metrics_listen). Any thread bumps them with METRIC_ADD;
 * they are plain atomics, no lock. To add one: a field here and a row in
 * the table at the top of metrics.c.
 */
#ifndef CHAT_BRIDGE_METRICS_H
#define CHAT_BRIDGE_METRICS_H

#include <stdatomic.h>
#include <stddef.h>

#define METRICS_BUCKETS 14

typedef _Atomic unsigned long long metric_t;

/* A latency histogram in seconds with fixed buckets (see metrics.c). */
struct metrics_hist {
	metric_t count, sum_us;
	metric_t buckets[METRICS_BUCKETS]; /* not cumulative; summed when served */
};

struct bridge_metrics {
	metric_t received;          /* messages taken from MQTT into the journal */
	metric_t replayed;          /* records replayed from the journal at start */
	metric_t stored;            /* messages MongoDB acknowledged (new + duplicates) */
	metric_t duplicates;        /* of which already present (redelivery, replay) */
	metric_t invalid;           /* messages dropped as not an envelope */
	metric_t journal_errors;    /* records that could not be appended */
	metric_t mongo_errors;      /* failed MongoDB operations (each retried) */
	metric_t history_requests;  /* history requests answered */
	metric_t history_refused;   /* dropped: no `from`, or malformed */
	metric_t read_markers;      /* read markers stored */
	metric_t changes;           /* edits, deletes and reactions applied (change.c) */
	metric_t replies;           /* messages the bridge published (answers, notices) */
	metric_t mqtt_connected;    /* gauge: 1 while connected */
	metric_t consuming_paused;  /* gauge: 1 while the journal is full */
	struct metrics_hist store_batch;  /* one insert_many round trip */
	struct metrics_hist store_lag;    /* arrival (or replay) to MongoDB ack, per message */
	void *httpd;                      /* struct MHD_Daemon */
	/* push notifications add their counters below */
	metric_t push[4][5];              /* requests by provider and outcome (push.c) */
	metric_t push_notifications;      /* coalesced notifications with devices */
	metric_t push_dropped;            /* stored messages not queued for push */
	metric_t push_registrations;      /* device registrations handled */
};

#define METRIC_ADD(b, field, n) atomic_fetch_add(&(b)->metrics.field, (unsigned long long)(n))
#define METRIC_SET(b, field, v) atomic_store(&(b)->metrics.field, (unsigned long long)(v))

struct bridge;

/* Records one observation of us microseconds. */
void metrics_observe(struct metrics_hist *h, long long us);
/* Starts the HTTP endpoint when cfg.metrics_listen is not empty; logs the
 * bound address ("metrics on http://host:port/metrics"). 0 or -1. */
int metrics_start(struct bridge *b);
void metrics_stop(struct bridge *b);
/* Writes the exposition text into a malloc'd buffer (caller frees). */
char *metrics_render(struct bridge *b, size_t *len);

#endif
