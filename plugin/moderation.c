/* SPDX-License-Identifier: MIT */
/*
 * Banned words inside the broker: the word lists (from files and from the
 * admin API, global and per room), their compiled filters, and the verdict
 * on each message (pass, mask, flag or reject), after flood control.
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
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "chat.h"
#include "chat_err.h"
#include "flood.h"
#include "json.h"
#include "live.h"
#include "normalize.h"
#include "utf8.h"
#include "wordfilter.h"

/* Longest entry accepted from the admin API or the state file, in bytes. */
#define WORD_MAX_BYTES 256

/* A sorted set of owned strings (bsearch to find, memmove to insert). */
struct word_set {
	char **w;
	size_t n, cap;
};

/* A room's own lists, in room->ext. */
struct room_words {
	struct word_set banned, allowed;
	struct wordfilter *wf; /* banned + every allowlist; NULL when banned is empty */
	unsigned built_gen;    /* moderation.allow_gen when wf was built */
	bool stale;
};

/* The global lists edited live (the state file's part). */
struct moderation_global {
	struct word_set banned, allowed;
};

struct moderation {
	struct word_set file_banned, file_allowed; /* from plugin_opt_*_words_file */
	struct moderation_global live;
	struct wordfilter *global; /* NULL when no banned word at all */
	bool stale;                /* global needs a rebuild */
	unsigned allow_gen;        /* bumped when a global allowlist changes: room filters follow */
	char *mask_a, *mask_b;     /* masking buffers */
	char *data_dec;            /* one string value of data, decoded */
	size_t mask_cap;           /* of each of the three: max_payload + 1 */
	struct strbuf data_out;    /* data with its masked values */
};

/* ---- options ---------------------------------------------------------- */

struct mod_option {
	const char *key;
	int (*parse)(const struct mod_option *o, struct moderation_config *cfg, const char *v);
	size_t offset;
	double min, max;
};

static void *field(struct moderation_config *cfg, const struct mod_option *o)
{
	return (char *)cfg + o->offset;
}

static int bad_value(const struct mod_option *o, const char *v, const char *what)
{
	mosquitto_log_printf(MOSQ_LOG_ERR, CHAT_LOG_PREFIX "plugin_opt_%s: '%s' is not %s", o->key, v, what);
	return MOSQ_ERR_INVAL;
}

static int parse_path(const struct mod_option *o, struct moderation_config *cfg, const char *v)
{
	char **p = field(cfg, o);
	free(*p);
	*p = *v ? strdup(v) : NULL;
	return *v && !*p ? MOSQ_ERR_NOMEM : MOSQ_ERR_SUCCESS;
}

static int parse_action(const struct mod_option *o, struct moderation_config *cfg, const char *v)
{
	int a = rooms_words_action_parse(v);
	if (a <= WORDS_INHERIT) return bad_value(o, v, "mask, reject or flag");
	cfg->action = (enum words_action)a;
	return MOSQ_ERR_SUCCESS;
}

static bool read_number(const char *v, double min, double max, double *out)
{
	char *end = NULL;
	errno = 0;
	double d = strtod(v, &end);
	if (errno || end == v || *end || !isfinite(d) || d < min || d > max) return false;
	*out = d;
	return true;
}

static int parse_double(const struct mod_option *o, struct moderation_config *cfg, const char *v)
{
	char what[64];
	if (read_number(v, o->min, o->max, field(cfg, o))) return MOSQ_ERR_SUCCESS;
	snprintf(what, sizeof(what), "a number in %g..%g", o->min, o->max);
	return bad_value(o, v, what);
}

static int parse_uint(const struct mod_option *o, struct moderation_config *cfg, const char *v)
{
	char what[64];
	double d;
	if (read_number(v, o->min, o->max, &d) && d == floor(d)) {
		*(unsigned *)field(cfg, o) = (unsigned)d;
		return MOSQ_ERR_SUCCESS;
	}
	snprintf(what, sizeof(what), "an integer in %g..%g", o->min, o->max);
	return bad_value(o, v, what);
}

/* "10,60,300,3600": mute seconds for the first, second... offence. */
static int parse_ladder(const struct mod_option *o, struct moderation_config *cfg, const char *v)
{
	uint32_t steps[16];
	size_t n = 0;
	for (const char *p = v; *p;) {
		char num[16];
		size_t len = strcspn(p, ",");
		double d;
		snprintf(num, sizeof(num), "%.*s", (int)(len < 15 ? len : 15), p);
		if (n == 16 || len == 0 || len > 10 || !read_number(num, 1, 86400 * 30.0, &d) || d != floor(d))
			return bad_value(o, v, "a list of up to 16 mute durations in seconds (e.g. 10,60,300,3600)");
		steps[n++] = (uint32_t)d;
		p += len;
		if (*p == ',') p++;
	}
	if (n == 0) return bad_value(o, v, "a list of mute durations in seconds");
	uint32_t *copy = malloc(n * sizeof(*copy));
	if (!copy) return MOSQ_ERR_NOMEM;
	memcpy(copy, steps, n * sizeof(*copy));
	free(cfg->mute_ladder);
	cfg->mute_ladder = copy;
	cfg->mute_steps = n;
	return MOSQ_ERR_SUCCESS;
}

#define OPT(key, fn, member, min, max) {key, fn, offsetof(struct moderation_config, member), min, max}

static const struct mod_option options[] = {
	OPT("banned_words_file", parse_path, banned_file, 0, 0),
	OPT("allowed_words_file", parse_path, allowed_file, 0, 0),
	OPT("banned_words_action", parse_action, action, 0, 0),
	OPT("flood_rate", parse_double, flood_rate, 0, 1e6),
	OPT("flood_burst", parse_double, flood_burst, 1, 1e6),
	OPT("flood_repeat", parse_uint, flood_repeat, 0, 1000),
	OPT("flood_window", parse_uint, flood_window_s, 1, 86400),
	OPT("flood_mute_after", parse_uint, flood_mute_after, 0, 1000),
	OPT("flood_mute_ladder", parse_ladder, mute_ladder, 0, 0),
	OPT("flood_mute_decay", parse_uint, mute_decay_s, 0, 86400 * 30.0),
};

#define OPTION_COUNT (sizeof(options) / sizeof(options[0]))

void moderation_config_defaults(struct moderation_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->action = WORDS_MASK;
	cfg->flood_rate = 5;
	cfg->flood_burst = 10;
	cfg->flood_repeat = 3;
	cfg->flood_window_s = 30;
	cfg->flood_mute_after = 3;
	cfg->mute_decay_s = 3600;
}

static const struct mod_option *find_option(const char *key)
{
	for (size_t i = 0; i < OPTION_COUNT; i++) {
		if (strcmp(options[i].key, key) == 0) return &options[i];
	}
	return NULL;
}

bool moderation_option_known(const char *key)
{
	return find_option(key) != NULL;
}

int moderation_config_option(struct moderation_config *cfg, const char *key, const char *value)
{
	const struct mod_option *o = find_option(key);
	return o ? o->parse(o, cfg, value) : MOSQ_ERR_INVAL;
}

void moderation_config_free(struct moderation_config *cfg)
{
	free(cfg->banned_file);
	free(cfg->allowed_file);
	free(cfg->mute_ladder);
	cfg->banned_file = cfg->allowed_file = NULL;
	cfg->mute_ladder = NULL;
	cfg->mute_steps = 0;
}

/* ---- word sets -------------------------------------------------------- */

/* True when w is in s; *pos gets its index or where it would go. */
static bool set_find(const struct word_set *s, const char *w, size_t *pos)
{
	size_t lo = 0, hi = s->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int cmp = strcmp(s->w[mid], w);
		if (cmp == 0) {
			*pos = mid;
			return true;
		}
		if (cmp < 0) lo = mid + 1;
		else hi = mid;
	}
	*pos = lo;
	return false;
}

/* 1 when added, 0 when already there, CHAT_ERR_NOMEM. */
static int set_add(struct word_set *s, const char *w)
{
	size_t pos;
	if (set_find(s, w, &pos)) return 0;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		char **grown = realloc(s->w, cap * sizeof(*grown));
		if (!grown) return CHAT_ERR_NOMEM;
		s->w = grown;
		s->cap = cap;
	}
	char *copy = strdup(w);
	if (!copy) return CHAT_ERR_NOMEM;
	memmove(s->w + pos + 1, s->w + pos, (s->n - pos) * sizeof(*s->w));
	s->w[pos] = copy;
	s->n++;
	return 1;
}

static bool set_remove(struct word_set *s, const char *w)
{
	size_t pos;
	if (!set_find(s, w, &pos)) return false;
	free(s->w[pos]);
	memmove(s->w + pos, s->w + pos + 1, (s->n - pos - 1) * sizeof(*s->w));
	s->n--;
	return true;
}

static void set_free(struct word_set *s)
{
	for (size_t i = 0; i < s->n; i++) free(s->w[i]);
	free(s->w);
	memset(s, 0, sizeof(*s));
}

/* Reads a words file (NULL path: none) into s. On error why gets
 * "path:line: reason" and s is left empty. */
static int set_load_file(struct word_set *s, const char *path, char *why, size_t why_len)
{
	char **words = NULL;
	size_t n = 0;
	int rc = CHAT_OK;
	if (!path) return CHAT_OK;
	rc = wordfilter_load_file(path, &words, &n, why, why_len);
	for (size_t i = 0; rc == CHAT_OK && i < n; i++) {
		if (set_add(s, words[i]) < 0) {
			rc = CHAT_ERR_NOMEM;
			snprintf(why, why_len, "%s: out of memory", path);
		}
	}
	wordfilter_words_free(words, n);
	if (rc != CHAT_OK) set_free(s);
	return rc;
}

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

static void refresh_global(struct moderation *m)
{
	const struct word_set *banned[] = {&m->file_banned, &m->live.banned};
	const struct word_set *allow[] = {&m->file_allowed, &m->live.allowed};
	if (!m->stale) return;
	if (build(banned, 2, allow, 2, &m->global, "global") == CHAT_OK) m->stale = false;
}

/* The room's filter, rebuilt first when its lists or the global
 * allowlists changed; NULL when the room has no banned word of its own. */
static const struct wordfilter *room_filter(struct moderation *m, const struct room *r)
{
	struct room_words *rw = r ? r->ext : NULL;
	if (!rw) return NULL;
	if (rw->stale || rw->built_gen != m->allow_gen) {
		const struct word_set *banned[] = {&rw->banned};
		const struct word_set *allow[] = {&m->file_allowed, &m->live.allowed, &rw->allowed};
		char what[TOPIC_ROOM_MAX + 8];
		snprintf(what, sizeof(what), "room %s", r->id);
		if (build(banned, 1, allow, 3, &rw->wf, what) == CHAT_OK) {
			rw->stale = false;
			rw->built_gen = m->allow_gen;
		}
	}
	return rw->wf;
}

static void room_words_free(void *ext)
{
	struct room_words *rw = ext;
	if (!rw) return;
	set_free(&rw->banned);
	set_free(&rw->allowed);
	wordfilter_free(rw->wf);
	free(rw);
}

/* The room's lists, created empty when create is set; NULL otherwise or on
 * out of memory. */
static struct room_words *room_words_of(struct room *r, bool create)
{
	if (!r->ext && create) {
		struct room_words *rw = calloc(1, sizeof(*rw));
		if (rw) rw->stale = true;
		r->ext = rw;
	}
	return r->ext;
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

/* The global filter's pass over text: its hits (with mask set and a hit,
 * the masked text is in m->mask_a) and, when print is not NULL, the
 * fingerprint of repeats (normalize_print) from the same pass. */
static int scan_global(struct moderation *m, const char *text, size_t len, bool mask, uint64_t *print)
{
	refresh_global(m);
	if (!m->global) {
		if (print) *print = normalize_print(text, len);
		return 0;
	}
	int hits = wordfilter_apply_print(m->global, text, len, mask ? m->mask_a : NULL, mask ? m->mask_cap : 0,
					  print);
	if (hits < 0 && print) *print = normalize_print(text, len);
	return hits > 0 ? hits : 0;
}

/* Adds the room filter's hits to the global ones (hits, from scan_global).
 * With mask set and a hit, *text and *len become the masked text (both
 * filters applied in turn, in m->mask_a or m->mask_b). */
static int words_scan(struct moderation *m, const struct room *r, const char **text, size_t *len, bool mask,
		      int hits)
{
	const struct wordfilter *rf = room_filter(m, r);
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
	refresh_global(m);
	if (!data || (!m->global && !room_filter(m, r))) return 0;
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

bool moderation_judge(struct chat *c, const struct mosquitto *client, const char *user, const char *room,
		      const struct room *r, const struct chat_msg *msg, uint64_t now_ms, struct moderation_verdict *v)
{
	struct moderation *m = c->mod;
	bool service = chat_is_service(c, client), text = msg->text && msg->text_len > 0;
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
		vm.fingerprint = verdict_fingerprint(room, msg->text, msg->text_len, print);
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

/* The effects both outcomes share: the flood record, the automatic mute
 * and its event. */
static void apply_flood(struct chat *c, const struct moderation_verdict *v, const char *user, const char *room,
			uint64_t now_ms)
{
	const struct verdict *d = &v->v;
	char extra[160];
	if (d->store_record) flood_store(c, v->flood_entry, user, room, &v->policy, &d->record, now_ms);
	if (!d->mute) return;
	const char *why = chat_reject_name(d->mute_reason == VERDICT_RATE_LIMITED ? REJECT_RATE_LIMITED
										  : REJECT_REPEATED);
	flood_mute(c, user, room, d, why);
	int n = snprintf(extra, sizeof(extra), ",\"reason\":\"%s\",\"scope\":\"%s\",\"seconds\":%u,\"until\":%llu",
			 why, d->mute_everywhere ? "all" : "room", d->mute_secs, (unsigned long long)d->mute_end_ms);
	if (n > 0 && (size_t)n < sizeof(extra)) moderation_event(c, room, "mute", user, extra, (size_t)n);
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
		if (v->data) {
			e->data = v->data;
			e->data_len = v->data_len;
		}
	}
	if (v->v.flagged) e->flagged = true;
}

void moderation_accepted(struct chat *c, const struct moderation_verdict *v, const struct envelope *e,
			 uint64_t now_ms)
{
	char extra[64];
	apply_flood(c, v, e->from, e->room, now_ms);
	if (v->v.event == VEVENT_NONE) return;
	if (v->v.masked) c->stats.words_masked++;
	if (v->v.flagged) c->stats.words_flagged++;
	int n = snprintf(extra, sizeof(extra), ",\"id\":\"%s\"", e->id);
	moderation_event(c, e->room, v->v.masked ? "mask" : "flag", e->from, extra, (size_t)n);
}

/* ---- lifecycle -------------------------------------------------------- */

/* Reads both word files into fresh sets; why says what failed. */
static int load_files(const struct moderation_config *cfg, struct word_set *banned, struct word_set *allowed,
		      char *why, size_t why_len)
{
	int rc = set_load_file(banned, cfg->banned_file, why, why_len);
	if (rc == CHAT_OK) rc = set_load_file(allowed, cfg->allowed_file, why, why_len);
	if (rc != CHAT_OK) {
		set_free(banned);
		set_free(allowed);
	}
	return rc;
}

int moderation_init(struct chat *c)
{
	char why[512];
	struct moderation *m = calloc(1, sizeof(*m));
	if (!m) return MOSQ_ERR_NOMEM;
	c->mod = m;
	c->rooms.ext_free = room_words_free;
	m->mask_cap = c->cfg.limits.max_payload + 1;
	m->mask_a = malloc(m->mask_cap);
	m->mask_b = malloc(m->mask_cap);
	m->data_dec = malloc(m->mask_cap);
	strbuf_init(&m->data_out);
	if (!m->mask_a || !m->mask_b || !m->data_dec) return MOSQ_ERR_NOMEM;
	if (load_files(&c->cfg.mod, &m->file_banned, &m->file_allowed, why, sizeof(why)) != CHAT_OK) {
		mosquitto_log_printf(MOSQ_LOG_ERR, CHAT_LOG_PREFIX "banned words: %s; refusing to start", why);
		return MOSQ_ERR_INVAL;
	}
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
	set_free(&m->file_banned);
	set_free(&m->file_allowed);
	set_free(&m->live.banned);
	set_free(&m->live.allowed);
	wordfilter_free(m->global);
	free(m->mask_a);
	free(m->mask_b);
	free(m->data_dec);
	strbuf_free(&m->data_out);
	free(m);
	c->mod = NULL;
}

static int on_tick(int event, void *event_data, void *userdata)
{
	struct chat *c = userdata;
	(void)event;
	(void)event_data;
	refresh_global(c->mod);
	flood_sweep(c, chat_now_ms());
	return MOSQ_ERR_SUCCESS;
}

/* SIGHUP: the word files again; a bad file keeps the lists in force.
 * Returns MOSQ_ERR_PLUGIN_DEFER: mosquitto 2.0.11 calls the next RELOAD
 * callback (other files of this plugin) only after that value. */
static int on_reload(int event, void *event_data, void *userdata)
{
	struct chat *c = userdata;
	struct moderation *m = c->mod;
	struct word_set banned = {0}, allowed = {0};
	char why[512];
	(void)event;
	(void)event_data;
	if (!c->cfg.mod.banned_file && !c->cfg.mod.allowed_file) return MOSQ_ERR_PLUGIN_DEFER;
	if (load_files(&c->cfg.mod, &banned, &allowed, why, sizeof(why)) != CHAT_OK) {
		mosquitto_log_printf(MOSQ_LOG_ERR, CHAT_LOG_PREFIX "reload: banned words: %s; keeping the previous "
				     "word lists", why);
		return MOSQ_ERR_PLUGIN_DEFER;
	}
	set_free(&m->file_banned);
	set_free(&m->file_allowed);
	m->file_banned = banned;
	m->file_allowed = allowed;
	m->stale = true;
	m->allow_gen++;
	refresh_global(m);
	mosquitto_log_printf(MOSQ_LOG_NOTICE, CHAT_LOG_PREFIX "reload: word files re-read: %zu banned, %zu allowed",
			     m->file_banned.n, m->file_allowed.n);
	return MOSQ_ERR_PLUGIN_DEFER;
}

int moderation_register(struct chat *c)
{
	int rc = mosquitto_callback_register(c->pid, MOSQ_EVT_TICK, on_tick, NULL, c);
	if (rc == MOSQ_ERR_SUCCESS) rc = mosquitto_callback_register(c->pid, MOSQ_EVT_RELOAD, on_reload, NULL, c);
	return rc;
}

void moderation_unregister(struct chat *c)
{
	mosquitto_callback_unregister(c->pid, MOSQ_EVT_TICK, on_tick, NULL);
	mosquitto_callback_unregister(c->pid, MOSQ_EVT_RELOAD, on_reload, NULL);
}

/* ---- word lists for the admin API ------------------------------------- */

int moderation_word_check(const char *word)
{
	size_t len = strlen(word);
	if (len > WORD_MAX_BYTES) return CHAT_ERR_TOO_LARGE;
	if (!utf8_valid(word, len)) return CHAT_ERR_UTF8;
	return wordfilter_word_check(word);
}

/* The set an edit targets; NULL on out of memory (a room's lists are
 * created on first use). */
static struct word_set *target_set(struct chat *c, struct room *room, bool allow, bool create)
{
	struct moderation *m = c->mod;
	if (!room) return allow ? &m->live.allowed : &m->live.banned;
	struct room_words *rw = room_words_of(room, create);
	if (!rw) return NULL;
	return allow ? &rw->allowed : &rw->banned;
}

/* After an edit: which filters must be rebuilt, and the state file. */
static void lists_changed(struct chat *c, struct room *room, bool allow)
{
	struct moderation *m = c->mod;
	if (room) ((struct room_words *)room->ext)->stale = true;
	else m->stale = true;
	if (!room && allow) m->allow_gen++;
	chat_state_dirty(c);
}

int moderation_words_add(struct chat *c, struct room *room, bool allow, const char *const *words, size_t n,
			 size_t *changed)
{
	struct word_set *s = target_set(c, room, allow, true);
	int rc = CHAT_OK;
	*changed = 0;
	if (!s) return CHAT_ERR_NOMEM;
	for (size_t i = 0; i < n && rc == CHAT_OK; i++) {
		int added = set_add(s, words[i]);
		if (added < 0) rc = added;
		else *changed += (size_t)added;
	}
	if (*changed) lists_changed(c, room, allow);
	return rc;
}

int moderation_words_remove(struct chat *c, struct room *room, bool allow, const char *const *words, size_t n,
			    size_t *changed, const char **from_file)
{
	struct moderation *m = c->mod;
	const struct word_set *file = allow ? &m->file_allowed : &m->file_banned;
	struct word_set *s = target_set(c, room, allow, false);
	size_t pos;
	*changed = 0;
	for (size_t i = 0; !room && i < n; i++) {
		if (set_find(file, words[i], &pos)) {
			*from_file = words[i];
			return CHAT_ERR_EXISTS;
		}
	}
	for (size_t i = 0; s && i < n; i++) *changed += set_remove(s, words[i]) ? 1 : 0;
	if (*changed) lists_changed(c, room, allow);
	return CHAT_OK;
}

void moderation_words_each(const struct chat *c, const struct room *room, bool allow,
			   void (*fn)(const char *word, void *ud), void *ud)
{
	const struct moderation *m = c->mod;
	const struct room_words *rw = room ? room->ext : NULL;
	static const struct word_set none;
	const struct word_set *a = room ? &none : allow ? &m->file_allowed : &m->file_banned;
	const struct word_set *b = room ? (rw ? (allow ? &rw->allowed : &rw->banned) : &none)
					: allow ? &m->live.allowed : &m->live.banned;
	size_t i = 0, j = 0;
	/* Merge of two sorted sets, each word once. */
	while (i < a->n || j < b->n) {
		int cmp = i == a->n ? 1 : j == b->n ? -1 : strcmp(a->w[i], b->w[j]);
		fn(cmp <= 0 ? a->w[i] : b->w[j], ud);
		if (cmp <= 0) i++;
		if (cmp >= 0) j++;
	}
}

/* ---- the state file's "bannedWords" ----------------------------------- */

static cJSON *set_json(const struct word_set *s)
{
	cJSON *list = cJSON_CreateArray();
	for (size_t i = 0; list && i < s->n; i++) {
		cJSON *w = cJSON_CreateString(s->w[i]);
		if (!w) {
			cJSON_Delete(list);
			return NULL;
		}
		cJSON_AddItemToArray(list, w);
	}
	return list;
}

/* {"banned":[...],"allowed":[...]} plus "room" when given. */
static cJSON *lists_json(const char *room, const struct word_set *banned, const struct word_set *allowed)
{
	cJSON *o = cJSON_CreateObject(), *b = set_json(banned), *a = set_json(allowed);
	if (!o || !b || !a || (room && !cJSON_AddStringToObject(o, "room", room))) {
		cJSON_Delete(o);
		cJSON_Delete(b);
		cJSON_Delete(a);
		return NULL;
	}
	cJSON_AddItemToObject(o, "banned", b);
	cJSON_AddItemToObject(o, "allowed", a);
	return o;
}

cJSON *moderation_state_save(const struct chat *c)
{
	const struct moderation *m = c->mod;
	cJSON *root = lists_json(NULL, &m->live.banned, &m->live.allowed), *rooms = cJSON_CreateArray();
	if (!root || !rooms) goto nomem;
	for (const struct room *r = c->rooms.by_id; r; r = r->hh.next) {
		const struct room_words *rw = r->ext;
		if (!rw || (rw->banned.n == 0 && rw->allowed.n == 0)) continue;
		cJSON *o = lists_json(r->id, &rw->banned, &rw->allowed);
		if (!o) goto nomem;
		cJSON_AddItemToArray(rooms, o);
	}
	cJSON_AddItemToObject(root, "rooms", rooms);
	return root;
nomem:
	cJSON_Delete(root);
	cJSON_Delete(rooms);
	return NULL;
}

/* Reads an array of words (absent = empty) into s. */
static int load_set(struct word_set *s, const cJSON *list, const char *at, const char *key, char *why, size_t len)
{
	const cJSON *w;
	int i = 0;
	if (!list) return CHAT_OK;
	if (!cJSON_IsArray(list)) {
		snprintf(why, len, "bannedWords%s.%s: not an array", at, key);
		return CHAT_ERR_INVAL;
	}
	cJSON_ArrayForEach(w, list) {
		int rc = cJSON_IsString(w) ? moderation_word_check(w->valuestring) : CHAT_ERR_INVAL;
		if (rc == CHAT_OK) rc = set_add(s, w->valuestring) < 0 ? CHAT_ERR_NOMEM : CHAT_OK;
		if (rc != CHAT_OK) {
			snprintf(why, len, "bannedWords%s.%s[%d]: %s", at, key, i, chat_strerror(rc));
			return rc;
		}
		i++;
	}
	return CHAT_OK;
}

static int load_room_lists(struct rooms *rs, const cJSON *o, int i, char *why, size_t len)
{
	char at[32];
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "room");
	snprintf(at, sizeof(at), ".rooms[%d]", i);
	struct room *r = cJSON_IsString(id) ? rooms_find(rs, id->valuestring, strlen(id->valuestring)) : NULL;
	if (!r || r->ext) {
		snprintf(why, len, "bannedWords%s.room: %s", at, !r ? "not a room of the file" : "listed twice");
		return CHAT_ERR_INVAL;
	}
	struct room_words *rw = room_words_of(r, true);
	if (!rw) {
		snprintf(why, len, "bannedWords%s: out of memory", at);
		return CHAT_ERR_NOMEM;
	}
	int rc = load_set(&rw->banned, cJSON_GetObjectItemCaseSensitive(o, "banned"), at, "banned", why, len);
	if (rc == CHAT_OK) rc = load_set(&rw->allowed, cJSON_GetObjectItemCaseSensitive(o, "allowed"), at, "allowed", why, len);
	return rc;
}

int moderation_state_load(struct rooms *rs, const cJSON *item, struct moderation_global **out, char *why,
			  size_t why_len)
{
	const cJSON *rooms = cJSON_GetObjectItemCaseSensitive(item, "rooms"), *o;
	int rc = CHAT_OK, i = 0;
	*out = NULL;
	if (!item) return CHAT_OK;
	if (!cJSON_IsObject(item)) {
		snprintf(why, why_len, "bannedWords: not an object");
		return CHAT_ERR_INVAL;
	}
	struct moderation_global *g = calloc(1, sizeof(*g));
	if (!g) return CHAT_ERR_NOMEM;
	*out = g; /* freed with the other parts on error */
	rc = load_set(&g->banned, cJSON_GetObjectItemCaseSensitive(item, "banned"), "", "banned", why, why_len);
	if (rc == CHAT_OK)
		rc = load_set(&g->allowed, cJSON_GetObjectItemCaseSensitive(item, "allowed"), "", "allowed", why, why_len);
	if (rc == CHAT_OK && rooms && !cJSON_IsArray(rooms)) {
		snprintf(why, why_len, "bannedWords.rooms: not an array");
		rc = CHAT_ERR_INVAL;
	}
	cJSON_ArrayForEach(o, rooms) {
		if (rc != CHAT_OK) break;
		rc = load_room_lists(rs, o, i++, why, why_len);
	}
	return rc;
}

void moderation_global_free(struct moderation_global *g)
{
	if (!g) return;
	set_free(&g->banned);
	set_free(&g->allowed);
	free(g);
}

void moderation_state_adopt(struct chat *c, struct moderation_global *g)
{
	struct moderation *m = c->mod;
	set_free(&m->live.banned);
	set_free(&m->live.allowed);
	if (g) {
		m->live = *g;
		free(g);
	}
	m->stale = true;
	m->allow_gen++;
}
