/* SPDX-License-Identifier: MIT */
/*
 * The moderation verdict on one chat message as a pure function: from the
 * sender's flood record, the policy, what the word scans found and the
 * time, it returns whether the message passes (as it is, masked or
 * flagged) or is refused and why, together with the effects the message
 * path applies afterwards: the sender's new flood record, an automatic
 * mute, and the moderation event to publish. It reads no clock, touches no
 * table and publishes nothing, so cmocka drives it through time
 * (tests/unit/test_verdict.c); moderation.c gathers its inputs and applies
 * its effects. No broker header here.
 */
#ifndef CHAT_PLUGIN_MODERATION_VERDICT_H
#define CHAT_PLUGIN_MODERATION_VERDICT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ratelimit.h"
#include "rooms.h"

/* Distinct recent messages remembered per sender for repeats: enough to
 * catch a spammer alternating a few texts, small enough to stay cheap. */
#define FLOOD_RECENT 4

/* One recent message: its fingerprint, how often it came since start_ms. */
struct flood_recent {
	uint64_t hash;
	int64_t start_ms;
	unsigned count; /* 0 = free */
};

/* What flood control knows about one sender (and the room's bucket). */
struct flood_record {
	struct ratelimit bucket; /* all rooms; unused when the policy's rate is 0 */
	struct ratelimit room;   /* this room; unused unless room_limited */
	struct ratelimit_strikes strikes;
	struct flood_recent recent[FLOOD_RECENT];
	unsigned offences; /* refusals since offence_start_ms */
	int64_t offence_start_ms;
};

/* The rules in force for this message. */
struct verdict_policy {
	double flood_rate;         /* messages/s per sender, 0 = no bucket */
	bool room_limited;         /* record.room applies (the room sets floodRate/floodBurst) */
	unsigned flood_repeat;     /* the Nth identical message in the window is refused; < 2 = off */
	unsigned flood_window_s;   /* window of repeats and of offences */
	unsigned flood_mute_after; /* offences in the window that mute; 0 = never */
	const struct ratelimit_ladder *ladder;
	enum words_action action;  /* never WORDS_INHERIT */
	bool service;              /* a service client: no flood control */
};

/* What the message brought. */
struct verdict_message {
	uint64_t fingerprint; /* verdict_fingerprint of room and text; 0 = no text */
	int word_hits;        /* banned hits in text and data, both filters */
};

enum verdict_reason {
	VERDICT_PASS = 0,
	VERDICT_RATE_LIMITED,
	VERDICT_REPEATED,
	VERDICT_BANNED_WORDS,
	VERDICT_MUTED, /* this offence muted the sender */
};

enum verdict_event { VEVENT_NONE = 0, VEVENT_REJECT, VEVENT_MASK, VEVENT_FLAG };

struct verdict {
	enum verdict_reason reason; /* VERDICT_PASS: delivered */
	uint64_t until_ms;          /* for the sender's notice; 0 = none */
	bool masked, flagged;       /* when delivered */
	enum verdict_event event;   /* publish after the envelope (or the refusal) */
	/* effects */
	struct flood_record record; /* the sender's record to store */
	bool store_record;          /* false for service clients: nothing changed */
	bool mute;                  /* an automatic mute, until mute_end_ms */
	bool mute_everywhere;       /* all rooms (the per-sender bucket ran dry), else this room */
	uint64_t mute_end_ms;
	uint32_t mute_secs;
	enum verdict_reason mute_reason; /* the offence that led to it */
};

/* A fresh record for a sender seen for the first time at now_ms. */
void verdict_record_init(struct flood_record *rec, const struct verdict_policy *p, double burst,
			 double room_rate, double room_burst, int64_t now_ms);

/* What makes two messages "identical": the room (room_len bytes) and the
 * text's normalized print (normalize_print); the raw text when the print
 * is 0 (no letters). Returns 0 for no text. */
uint64_t verdict_fingerprint(const char *room, size_t room_len, const char *text, size_t len, uint64_t print);

/*
 * The verdict on one message at now_ms, from the sender's record rec (not
 * changed: the new one is in out->record). Flood control decides first
 * (rate, then repeats; each refusal is an offence, and flood_mute_after of
 * them in the window mute for the ladder's next step), then the words.
 */
void verdict_decide(const struct verdict_policy *p, const struct flood_record *rec, const struct verdict_message *m,
		    int64_t now_ms, struct verdict *out);

/* True when forgetting rec at now_ms changes nothing: a fresh record would
 * decide the same (bucket full, no repeat or offence in the window, strikes
 * decayed). */
bool verdict_record_idle(const struct verdict_policy *p, const struct flood_record *rec, int64_t now_ms);

#endif
