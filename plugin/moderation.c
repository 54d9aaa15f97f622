/* SPDX-License-Identifier: MIT */
/*
 * Banned words inside the broker: the compiled filters of the word lists
 * (the lists themselves are moderation_words.c's, their part of the state
 * file moderation_state.c's), the verdict on each message (pass, mask,
 * flag or reject, after flood control), and moderation's start, tick and
 * reload.
 *
 * Filters are rebuilt synchronously on the broker's thread, lazily: an
 * edit only marks a filter stale, and the next message or tick rebuilds it
 * before anything is scanned. The engine builds 10,000 words in about
 * 10 ms (bench/bench_wordfilter; each rebuild is logged at debug level with
 * its duration), a pause an admin edit may cost; in exchange the change
 * applies to the very next message with no thread, lock or second copy of
 * the automaton. Room filters hold only the room's own words (plus the
 * allowlists), so they stay small whatever the size of the global list.
 *
 * The per-message path allocates nothing in the common case: masking
 * writes into buffers of max_payload + 1 bytes made at start (a masked data
 * object into a strbuf that keeps its size), and only a text with a
 * disguise that needs context (common/disguise.h) has the word filter
 * allocate its rewritten forms. The text is normalized once: the global
 * filter's pass also yields the fingerprint flood control compares for
 * repeats. The decision itself is the pure verdict of moderation_verdict.c;
 * this file gathers its inputs and applies its effects.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chat_err.h"
#include "flood.h"
#include "json.h"
#include "live.h"
#include "moderation_int.h"
#include "normalize.h"
#include "utf8.h"

/* ---- filters ---------------------------------------------------------- */

static double mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* The words of several sets as one pointer array (the strings stay theirs). */
static const char **gather(const struct word_set *const *sets, size_t nsets, size_t *count)
{
	size_t total = 0, k = 0;
	for (size_t i = 0; i < nsets; i++) total += sets[i]->n;
	const char **v = malloc((total ? total : 1) * sizeof(*v));
	if (!v) return NULL;
	for (size_t i = 0; i < nsets; i++) {
		for (size_t j = 0; j < sets[i]->n; j++) v[k++] = sets[i]->w[j];
	}
	*count = total;
	return v;
}

/*
 * Compiles banned (nb sets) with allow (na sets) into *out, replacing what
 * it held; no banned word at all gives NULL. Logs the duration at debug
 * level (what names the filter). Returns 0 or a negative chat_err, keeping
 * the old filter then.
 */
static int build(const struct word_set *const *banned, size_t nb, const struct word_set *const *allow, size_t na,
		 struct wordfilter **out, const char *what)
{
	size_t n_b = 0, n_a = 0;
	const char **b = gather(banned, nb, &n_b), **a = gather(allow, na, &n_a);
	struct wordfilter *wf = NULL;
	int err = CHAT_ERR_NOMEM;
	double t0 = mono_ms();
	if (b && a && n_b > 0) wf = wordfilter_build(b, n_b, a, n_a, &err);
	free(b);
	free(a);
	if (n_b > 0 && !wf) {
		mosquitto_log_printf(MOSQ_LOG_ERR, CHAT_LOG_PREFIX "cannot build the %s word filter: %s; keeping "
				     "the previous one", what, chat_strerror(err));
		return err;
	}
	mosquitto_log_printf(MOSQ_LOG_DEBUG, CHAT_LOG_PREFIX "word filter %s rebuilt: %zu banned, %zu allowed, "
			     "%.2f ms, %zu KiB", what, n_b, n_a, mono_ms() - t0, wf ? wordfilter_memory(wf) / 1024 : 0);
	wordfilter_free(*out);
	*out = wf;
	return CHAT_OK;
}

CHAT_OUT_OF_LINE static void rebuild_global(struct moderation *m)
{
	const struct word_set *banned[] = {&m->file_banned, &m->live.banned};
	const struct word_set *allow[] = {&m->file_allowed, &m->live.allowed};
	if (build(banned, 2, allow, 2, &m->global, "global") == CHAT_OK) m->stale = false;
}

/* The global filter, rebuilt first when its lists changed (asked on every
 * message and tick). */
static void refresh_global(struct moderation *m)
{
	if (m->stale) rebuild_global(m);
}

/* room_filter's rebuild, out of line: the message path only checks. */
CHAT_OUT_OF_LINE static void rebuild_room(struct moderation *m, const struct room *r,
					 struct room_words *rw)
{
	const struct word_set *banned[] = {&rw->banned};
	const struct word_set *allow[] = {&m->file_allowed, &m->live.allowed, &rw->allowed};
	char what[TOPIC_ROOM_MAX + 8];
	snprintf(what, sizeof(what), "room %s", r->id);
	if (build(banned, 1, allow, 3, &rw->wf, what) == CHAT_OK) {
		rw->stale = false;
		rw->built_gen = m->allow_gen;
	}
}

/* The room's filter, rebuilt first when its lists or the global
 * allowlists changed; NULL when the room has no banned word of its own. */
static const struct wordfilter *room_filter(struct moderation *m, const struct room *r)
{
	struct room_words *rw = r ? r->ext : NULL;
	if (!rw) return NULL;
	if (rw->stale || rw->built_gen != m->allow_gen) rebuild_room(m, r, rw);
	return rw->wf;
}

/* ---- the message path ------------------------------------------------- */

/* Length of a masked copy: each code point of in[0..len) is in out either
 * as it was or as one '*' (wordfilter.h), so walk both. */
static size_t masked_len(const char *in, size_t len, const char *out)
{
	size_t i = 0, o = 0;
	while (i < len) {
		uint32_t cp;
		size_t n = utf8_decode(in + i, len - i, &cp);
		if (n == 0) n = 1;
		o += out[o] == '*' ? 1 : n;
		i += n;
	}
	return o;
}

/* Hits of wf in text (0 for no filter); masks into out when given. */
static int scan(const struct wordfilter *wf, const char *text, size_t len, char *out, size_t cap)
{
	if (!wf) return 0;
	int hits = wordfilter_apply(wf, text, len, out, cap);
	return hits > 0 ? hits : 0;
}

/* The text's fingerprint (normalize_print) when no banned word is set,
 * from the pass of a filter without words, which reads a text for a fifth
 * (English) to two fifths (Korean) less than normalize_print's reader. */
static uint64_t print_only(const struct moderation *m, const char *text, size_t len)
{
	uint64_t print;
	return wordfilter_apply_print(m->printer, text, len, NULL, 0, &print) >= 0 ? print : normalize_print(text, len);
}

/* The global filter's pass over text: its hits (with mask set and a hit,
 * the masked text is in m->mask_a) and, when print is not NULL, the
 * fingerprint of repeats (normalize_print) from the same pass. */
static int scan_global(struct moderation *m, const char *text, size_t len, bool mask, uint64_t *print)
{
	refresh_global(m);
	if (!m->global) {
		if (print) *print = print_only(m, text, len);
		return 0;
	}
	int hits = wordfilter_apply_print(m->global, text, len, mask ? m->mask_a : NULL, mask ? m->mask_cap : 0,
					  print);
	if (hits < 0 && print) *print = normalize_print(text, len);
	return hits > 0 ? hits : 0;
}

/* words_scan's work when there is some: a room filter, or a masked copy
 * to measure. Out of line, so that the message path saves no registers
 * for it. */
CHAT_OUT_OF_LINE static int words_scan_room(struct moderation *m, const struct wordfilter *rf, const char **text,
					    size_t *len, bool mask, int hits)
{
	if (!mask) return hits + scan(rf, *text, *len, NULL, 0);
	if (hits > 0) {
		*len = masked_len(*text, *len, m->mask_a);
		*text = m->mask_a;
	}
	int more = scan(rf, *text, *len, m->mask_b, m->mask_cap);
	if (more > 0) {
		*len = masked_len(*text, *len, m->mask_b);
		*text = m->mask_b;
	}
	return hits + more;
}

/* Adds the room filter's hits to the global ones (hits, from scan_global).
 * With mask set and a hit, *text and *len become the masked text (both
 * filters applied in turn, in m->mask_a or m->mask_b). No room filter and
 * no global hit, the common case, leave the text as it is. */
static int words_scan(struct moderation *m, const struct room *r, const char **text, size_t *len, bool mask,
		      int hits)
{
	const struct wordfilter *rf = room_filter(m, r);
	if (!rf && hits == 0) return 0;
	return words_scan_room(m, rf, text, len, mask, hits);
}

/* ---- strings inside "data" ---- */

/* The end of the JSON string that opens at s[i] (a '"'), past its quote. */
static size_t string_end(const char *s, size_t len, size_t i)
{
	for (i++; i < len; i++) {
		if (s[i] == '\\') i++;
		else if (s[i] == '"') return i + 1;
	}
	return len;
}

/* True when the string ending at s[end] is a member name (':' follows). */
static bool is_key(const char *s, size_t len, size_t end)
{
	while (end < len && (s[end] == ' ' || s[end] == '\t' || s[end] == '\n' || s[end] == '\r')) end++;
	return end < len && s[end] == ':';
}

/*
 * Scans one string value of data (the span with its quotes) with both
 * filters. Returns the hits; with mask set and a hit, *out and *out_len
 * are the masked value (in one of m's buffers, until the next scan).
 */
static int data_value(struct moderation *m, const struct room *r, const char *span, size_t n, bool mask,
		      const char **out, size_t *out_len)
{
	struct json_span js = {.p = span, .len = n, .type = JSON_STRING};
	long dl = json_string_decode(&js, m->data_dec, m->mask_cap);
	if (dl <= 0) return 0;
	*out = m->data_dec;
	*out_len = (size_t)dl;
	int hits = scan_global(m, *out, *out_len, mask, NULL);
	return words_scan(m, r, out, out_len, mask, hits);
}

/*
 * The string values of the data object (at any depth; member names are
 * not text) through the filters. Returns the hits; with mask set and a
 * hit, m->data_out holds data with those values masked.
 */
static int data_scan(struct moderation *m, const struct room *r, const char *data, size_t len, bool mask)
{
	int hits = 0;
	size_t copied = 0;
	if (!data) return 0; /* nothing to scan: a pending rebuild waits for the text or the tick */
	refresh_global(m);
	if (!m->global && !room_filter(m, r)) return 0;
	strbuf_reset(&m->data_out);
	for (size_t i = 0; i < len; i++) {
		if (data[i] != '"') continue;
		size_t end = string_end(data, len, i);
		const char *masked;
		size_t masked_len;
		int h = is_key(data, len, end) ? 0 : data_value(m, r, data + i, end - i, mask, &masked, &masked_len);
		if (h > 0 && mask) {
			strbuf_append(&m->data_out, data + copied, i - copied);
			strbuf_append_json_string(&m->data_out, masked, masked_len);
			copied = end;
		}
		hits += h;
		i = end - 1;
	}
	if (mask && hits > 0) strbuf_append(&m->data_out, data + copied, len - copied);
	return hits;
}

static enum words_action room_action(const struct chat *c, const struct room *r)
{
	if (r && r->policy.words_action != WORDS_INHERIT) return r->policy.words_action;
	return c->cfg.mod.action;
}

/* A {"type":"moderation","action":action,"user":...} event on the room's
 * events topic; extra is more members (",\"id\":\"...\"") or NULL. */
static void moderation_event(struct chat *c, const char *room, const char *action, const char *user,
			     const char *extra, size_t extra_len)
{
	struct strbuf sb;
	/* In a live room one event per moderated message would be the
	 * per-message fan-out its batches avoid (live.h); the envelope and the
	 * sender's notice say it. Mutes still go out. */
	if (strcmp(action, "mute") != 0 && chat_live_is(c, room, strlen(room))) return;
	strbuf_init(&sb);
	strbuf_puts(&sb, "{\"type\":\"moderation\",\"action\":\"");
	strbuf_puts(&sb, action);
	strbuf_puts(&sb, "\",\"user\":");
	/* Escaped: with auth left to the broker a username may be anything. */
	strbuf_append_json_string(&sb, user, strlen(user));
	if (extra) strbuf_append(&sb, extra, extra_len);
	strbuf_putc(&sb, '}');
	if (strbuf_status(&sb) == CHAT_OK) chat_publish_event(c, room, sb.buf, sb.len);
	strbuf_free(&sb);
}

bool moderation_judge(struct chat *c, const char *user, const char *room, size_t room_len,
		      const struct room *r, const struct chat_msg *msg, uint64_t now_ms,
		      struct moderation_verdict *v)
{
	struct moderation *m = c->mod;
	bool service = chat_is_service_user(c, user), text = msg->text && msg->text_len > 0;
	uint64_t print = 0;
	struct verdict_message vm = {0};
	struct flood_record rec;
	flood_policy(c, r, service, &v->policy);
	v->policy.action = room_action(c, r);
	bool mask = v->policy.action == WORDS_MASK;
	/* data first: its scans reuse the masking buffers the text's result stays in */
	v->data = NULL;
	v->data_len = 0;
	vm.word_hits = data_scan(m, r, msg->data, msg->data ? msg->data_len : 0, mask);
	if (mask && vm.word_hits > 0 && strbuf_status(&m->data_out) == CHAT_OK) {
		v->data = m->data_out.buf;
		v->data_len = m->data_out.len;
	}
	v->text = msg->text;
	v->text_len = msg->text_len;
	if (text) {
		bool want_print = !service && v->policy.flood_repeat >= 2;
		int hits = scan_global(m, msg->text, msg->text_len, mask, want_print ? &print : NULL);
		vm.word_hits += words_scan(m, r, &v->text, &v->text_len, mask, hits);
		vm.fingerprint = verdict_fingerprint(room, room_len, msg->text, msg->text_len, print);
	}
	const struct flood_record *cur = flood_gather(c, user, room, r, &v->policy, (int64_t)now_ms, &rec,
						     &v->flood_entry);
	verdict_decide(&v->policy, cur, &vm, (int64_t)now_ms, &v->v);
	return v->v.reason != VERDICT_PASS;
}

int moderation_reason(const struct moderation_verdict *v)
{
	switch (v->v.reason) {
	case VERDICT_RATE_LIMITED: return REJECT_RATE_LIMITED;
	case VERDICT_REPEATED: return REJECT_REPEATED;
	case VERDICT_BANNED_WORDS: return REJECT_BANNED_WORDS;
	default: return REJECT_MUTED;
	}
}

/* The verdict's automatic mute and its event (out of line: rare). */
CHAT_OUT_OF_LINE static void apply_mute(struct chat *c, const struct verdict *d, const char *user,
				       const char *room)
{
	char extra[160];
	const char *why = chat_reject_name(d->mute_reason == VERDICT_RATE_LIMITED ? REJECT_RATE_LIMITED
										  : REJECT_REPEATED);
	flood_mute(c, user, room, d, why);
	int n = snprintf(extra, sizeof(extra), ",\"reason\":\"%s\",\"scope\":\"%s\",\"seconds\":%u,\"until\":%llu",
			 why, d->mute_everywhere ? "all" : "room", d->mute_secs, (unsigned long long)d->mute_end_ms);
	if (n > 0 && (size_t)n < sizeof(extra)) moderation_event(c, room, "mute", user, extra, (size_t)n);
}

/* The effects both outcomes share: the flood record, the automatic mute
 * and its event. */
static void apply_flood(struct chat *c, const struct moderation_verdict *v, const char *user, const char *room,
			uint64_t now_ms)
{
	const struct verdict *d = &v->v;
	if (d->store_record) flood_store(c, v->flood_entry, user, room, &v->policy, &d->record, now_ms);
	if (d->mute) apply_mute(c, d, user, room);
}

void moderation_refused(struct chat *c, const struct moderation_verdict *v, const char *user, const char *room,
			uint64_t now_ms)
{
	apply_flood(c, v, user, room, now_ms);
	if (v->v.event == VEVENT_REJECT) moderation_event(c, room, "reject", user, NULL, 0);
}

void moderation_stamp(const struct moderation_verdict *v, struct envelope *e)
{
	if (v->v.masked) {
		e->text = v->text;
		e->text_len = v->text_len;
		e->text_plain = false; /* the masked copy is escaped like any text */
		if (v->data) {
			e->data = v->data;
			e->data_len = v->data_len;
		}
	}
	if (v->v.flagged) e->flagged = true;
}

/* The mask or flag event of a delivered message (out of line: rare). */
CHAT_OUT_OF_LINE static void accepted_event(struct chat *c, const struct moderation_verdict *v,
					    const struct envelope *e)
{
	char extra[64];
	if (v->v.masked) c->stats.words_masked++;
	if (v->v.flagged) c->stats.words_flagged++;
	int n = snprintf(extra, sizeof(extra), ",\"id\":\"%s\"", e->id);
	moderation_event(c, e->room, v->v.masked ? "mask" : "flag", e->from, extra, (size_t)n);
}

void moderation_accepted(struct chat *c, const struct moderation_verdict *v, const struct envelope *e,
			 uint64_t now_ms)
{
	apply_flood(c, v, e->from, e->room, now_ms);
	if (v->v.event != VEVENT_NONE) accepted_event(c, v, e);
}

/* ---- lifecycle -------------------------------------------------------- */

int moderation_init(struct chat *c)
{
	char why[512];
	struct moderation *m = calloc(1, sizeof(*m));
	if (!m) return MOSQ_ERR_NOMEM;
	c->mod = m;
	c->rooms.ext_free = moderation_room_words_free;
	m->mask_cap = c->cfg.limits.max_payload + 1;
	m->mask_a = malloc(m->mask_cap);
	m->mask_b = malloc(m->mask_cap);
	m->data_dec = malloc(m->mask_cap);
	strbuf_init(&m->data_out);
	if (!m->mask_a || !m->mask_b || !m->data_dec) return MOSQ_ERR_NOMEM;
	if (moderation_load_files(&c->cfg.mod, &m->file_banned, &m->file_allowed, why, sizeof(why)) != CHAT_OK) {
		mosquitto_log_printf(MOSQ_LOG_ERR, CHAT_LOG_PREFIX "banned words: %s; refusing to start", why);
		return MOSQ_ERR_INVAL;
	}
	/* Built now, it also builds the normalization tables, which would
	 * otherwise cost the first message tens of millions of instructions
	 * when no word list is set. */
	m->printer = wordfilter_build(NULL, 0, NULL, 0, NULL);
	if (!m->printer) return MOSQ_ERR_NOMEM;
	m->stale = true;
	refresh_global(m);
	if (m->stale) return MOSQ_ERR_NOMEM;
	mosquitto_log_printf(MOSQ_LOG_INFO, CHAT_LOG_PREFIX "banned words: %zu from file, %zu allowed from file, "
			     "default action %s", m->file_banned.n, m->file_allowed.n,
			     rooms_words_action_name(c->cfg.mod.action));
	return flood_init(c);
}

void moderation_free(struct chat *c)
{
	struct moderation *m = c->mod;
	flood_free(c);
	if (!m) return;
	word_set_free(&m->file_banned);
	word_set_free(&m->file_allowed);
	word_set_free(&m->live.banned);
	word_set_free(&m->live.allowed);
	wordfilter_free(m->global);
	wordfilter_free(m->printer);
	free(m->mask_a);
	free(m->mask_b);
	free(m->data_dec);
	strbuf_free(&m->data_out);
	free(m);
	c->mod = NULL;
}

void moderation_tick(struct chat *c, uint64_t now)
{
	refresh_global(c->mod);
	flood_sweep(c, now);
}

/* SIGHUP: the word files again; a bad file keeps the lists in force. */
void moderation_reload(struct chat *c)
{
	struct moderation *m = c->mod;
	struct word_set banned = {0}, allowed = {0};
	char why[512];
	if (!c->cfg.mod.banned_file && !c->cfg.mod.allowed_file) return;
	if (moderation_load_files(&c->cfg.mod, &banned, &allowed, why, sizeof(why)) != CHAT_OK) {
		mosquitto_log_printf(MOSQ_LOG_ERR, CHAT_LOG_PREFIX "reload: banned words: %s; keeping the previous "
				     "word lists", why);
		return;
	}
	word_set_free(&m->file_banned);
	word_set_free(&m->file_allowed);
	m->file_banned = banned;
	m->file_allowed = allowed;
	m->stale = true;
	m->allow_gen++;
	refresh_global(m);
	mosquitto_log_printf(MOSQ_LOG_NOTICE, CHAT_LOG_PREFIX "reload: word files re-read: %zu banned, %zu allowed",
			     m->file_banned.n, m->file_allowed.n);
}
