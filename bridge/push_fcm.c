/* SPDX-License-Identifier: MIT */
/*
 * Firebase Cloud Messaging, HTTP v1 API. Authentication is OAuth2 with a
 * service account: the bridge signs a JWT assertion (RS256, with the
 * account's private key from its JSON file) and trades it at the token
 * endpoint for a bearer token, which it caches until shortly before it
 * expires. Jobs that find no valid token wait in a list while one request
 * fetches it, then all go out. A send is POST
 * {fcm_base_url}/v1/projects/{project}/messages:send; 404 or an
 * UNREGISTERED error means the registration token is dead.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "bridge.h"
#include "json.h"
#include "push_int.h"

#define FCM_SCOPE             "https://www.googleapis.com/auth/firebase.messaging"
#define FCM_DEFAULT_TOKEN_URL "https://oauth2.googleapis.com/token"
#define TOKEN_MARGIN_MS       60000
#define FILE_MAX              (1 << 20)

struct push_fcm_state {
	EVP_PKEY *key;
	char *access_token;
	long long token_expiry_ms;
	bool fetching;
	struct push_job *waiting; /* parked until a token arrives */
};

static char *read_small_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f) return NULL;
	char *buf = xmalloc(FILE_MAX + 1);
	size_t n = fread(buf, 1, FILE_MAX, f);
	fclose(f);
	buf[n] = '\0';
	return buf;
}

static char *json_dup(const cJSON *doc, const char *key)
{
	const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(doc, key));
	return v && *v ? xstrdup(v) : NULL;
}

/* The service-account fields the bridge reads, as C strings (NULL when
 * absent or empty). */
struct account {
	char *pem, *email, *key_id, *project, *token_uri;
	const char *bad; /* a field that is not a string or holds U+0000 */
};

static const struct account_field {
	const char *name;
	size_t off;
} account_fields[] = {
    {"private_key", offsetof(struct account, pem)},   {"client_email", offsetof(struct account, email)},
    {"private_key_id", offsetof(struct account, key_id)}, {"project_id", offsetof(struct account, project)},
    {"token_uri", offsetof(struct account, token_uri)},
};

static int on_account_field(const struct json_span *key, const struct json_span *v, void *ud)
{
	struct account *a = ud;
	for (size_t i = 0; i < sizeof(account_fields) / sizeof(account_fields[0]); i++) {
		if (!json_key_is(key, account_fields[i].name)) continue;
		char **slot = (char **)(void *)((char *)a + account_fields[i].off);
		free(*slot);
		*slot = xmalloc(v->len + 1);
		long n = request_string(v, *slot, v->len + 1);
		if (n <= 0) {
			free(*slot);
			*slot = NULL;
		}
		if (n < 0 && !a->bad) a->bad = account_fields[i].name;
	}
	return 0;
}

static void account_free(struct account *a)
{
	free(a->pem);
	free(a->email);
	free(a->key_id);
	free(a->project);
	free(a->token_uri);
}

/* Reads the file into a; 0, or -1 with why. */
static int account_read(const char *path, struct account *a, char *why, size_t whylen)
{
	char *text = read_small_file(path);
	int rc = text ? json_object_parse(text, strlen(text), on_account_field, a) : -1;
	free(text);
	if (rc != 0) {
		snprintf(why, whylen, "%s: cannot read the service-account JSON", path);
		return -1;
	}
	if (a->bad) {
		snprintf(why, whylen, "%s: %s must be a string without U+0000", path, a->bad);
		return -1;
	}
	return 0;
}

/* Moves *from into *to unless *to is set already. */
static void take(char **to, char **from)
{
	if (*to) return;
	*to = *from;
	*from = NULL;
}

/* The token endpoint comes from the operator's file: at least an http(s)
 * URL that curl can use. */
static int check_token_url(const char *url, char *why, size_t whylen)
{
	struct push_url u;
	const char *bad = ssrf_url_parse(url, &u);
	if (!bad) return 0;
	snprintf(why, whylen, "token_uri %s: '%s'", bad, url);
	return -1;
}

static int fcm_load(struct push *p, char *why, size_t whylen)
{
	const char *path = p->cfg.fcm_file;
	if (!path) return 0;
	struct account a = {0};
	p->fcm = xcalloc(1, sizeof(*p->fcm));
	int rc = account_read(path, &a, why, whylen);
	if (rc == 0 && (!a.pem || !a.email || (!a.project && !p->cfg.fcm_project))) {
		snprintf(why, whylen, "%s: needs private_key, client_email and project_id (or fcm_project)",
		         path);
		rc = -1;
	}
	if (rc == 0) {
		take(&p->cfg.fcm_email, &a.email);
		take(&p->cfg.fcm_key_id, &a.key_id);
		take(&p->cfg.fcm_project, &a.project);
		take(&p->cfg.fcm_token_url, &a.token_uri);
		if (!p->cfg.fcm_token_url) p->cfg.fcm_token_url = xstrdup(FCM_DEFAULT_TOKEN_URL);
		p->fcm->key = push_key_load_pem(a.pem, why, whylen);
		if (!p->fcm->key) {
			rc = -1;
		} else if (EVP_PKEY_base_id(p->fcm->key) != EVP_PKEY_RSA) {
			snprintf(why, whylen, "%s: the private key is not RSA", path);
			rc = -1;
		}
	}
	account_free(&a);
	return rc == 0 ? check_token_url(p->cfg.fcm_token_url, why, whylen) : rc;
}

static bool fcm_ready(const struct push *p)
{
	return p->fcm && p->fcm->key;
}

static void fcm_free(struct push *p)
{
	if (!p->fcm) return;
	EVP_PKEY_free(p->fcm->key);
	free(p->fcm->access_token);
	free(p->fcm);
	p->fcm = NULL;
}

/* At shutdown: the jobs waiting for a token go back to the outbox. */
static void fcm_release(struct push *p)
{
	if (!p->fcm) return;
	for (struct push_job *j = p->fcm->waiting, *n; j; j = n) {
		n = j->next;
		push_outbox_release(p, j);
		push_job_free(j);
	}
	p->fcm->waiting = NULL;
}

static int make_assertion(struct push *p, struct strbuf *jwt)
{
	struct strbuf h, c;
	strbuf_init(&h);
	strbuf_init(&c);
	strbuf_puts(&h, "{\"alg\":\"RS256\",\"typ\":\"JWT\"");
	if (p->cfg.fcm_key_id) {
		strbuf_puts(&h, ",\"kid\":");
		strbuf_append_json_string(&h, p->cfg.fcm_key_id, strlen(p->cfg.fcm_key_id));
	}
	strbuf_putc(&h, '}');
	long long now = bridge_wall_ms() / 1000;
	strbuf_puts(&c, "{\"iss\":");
	strbuf_append_json_string(&c, p->cfg.fcm_email, strlen(p->cfg.fcm_email));
	strbuf_puts(&c, ",\"scope\":\"" FCM_SCOPE "\",\"aud\":");
	strbuf_append_json_string(&c, p->cfg.fcm_token_url, strlen(p->cfg.fcm_token_url));
	strbuf_puts(&c, ",\"iat\":");
	strbuf_append_i64(&c, now);
	strbuf_puts(&c, ",\"exp\":");
	strbuf_append_i64(&c, now + 3600);
	strbuf_putc(&c, '}');
	int rc = strbuf_status(&h) == 0 && strbuf_status(&c) == 0
	             ? push_jwt_sign(p->fcm->key, h.buf, c.buf, jwt)
	             : -1;
	strbuf_free(&h);
	strbuf_free(&c);
	return rc;
}

static void fail_waiting(struct push *p, const char *why, long status)
{
	struct push_job *w = p->fcm->waiting;
	p->fcm->waiting = NULL;
	while (w) {
		struct push_job *next = w->next;
		w->next = NULL;
		snprintf(w->error, sizeof(w->error), "%.200s", why);
		push_job_finish(p, w, PUSH_RETRY, status);
		w = next;
	}
}

static void token_done(struct push *p, struct push_job *j, CURLcode rc, long status);

static void fetch_token(struct push *p)
{
	struct strbuf jwt;
	strbuf_init(&jwt);
	struct push_job *t = xcalloc(1, sizeof(*t));
	t->p = p;
	t->done = token_done;
	t->platform = PUSH_FCM;
	strbuf_init(&t->body);
	strbuf_init(&t->resp);
	t->url = xstrdup(p->cfg.fcm_token_url);
	int rc = make_assertion(p, &jwt);
	strbuf_puts(&t->body, "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=");
	strbuf_append(&t->body, jwt.buf ? jwt.buf : "", jwt.len);
	strbuf_free(&jwt);
	push_header(t, "Content-Type", "application/x-www-form-urlencoded");
	if (rc != 0 || strbuf_status(&t->body) != 0 || push_http_add_raw(p, t) != 0) {
		push_job_free(t);
		fail_waiting(p, "could not request an FCM OAuth token", 0);
		return;
	}
	p->fcm->fetching = true;
}

/* The token endpoint answered: keep the token and send what waited for
 * it, or fail what waited. */
static void token_done(struct push *p, struct push_job *j, CURLcode rc, long status)
{
	p->fcm->fetching = false;
	cJSON *doc = rc == CURLE_OK && status == 200 ? cJSON_ParseWithLength(j->resp.buf, j->resp.len) : NULL;
	char *token = json_dup(doc, "access_token");
	const cJSON *exp = cJSON_GetObjectItemCaseSensitive(doc, "expires_in");
	double expires = cJSON_IsNumber(exp) ? exp->valuedouble : 3600;
	cJSON_Delete(doc);
	if (!token) {
		char why[CURL_ERROR_SIZE + 64];
		snprintf(why, sizeof(why), "FCM OAuth token: %s",
		         rc != CURLE_OK ? curl_easy_strerror(rc) : "refused");
		blog(BLOG_WARN, "push: %s (HTTP %ld)", why, status);
		push_job_free(j);
		fail_waiting(p, why, status);
		return;
	}
	free(p->fcm->access_token);
	p->fcm->access_token = token;
	p->fcm->token_expiry_ms = bridge_now_ms() + (long long)(expires * 1000) - TOKEN_MARGIN_MS;
	blog(BLOG_INFO, "push: FCM OAuth token obtained, valid %.0f s", expires);
	push_job_free(j);
	struct push_job *w = p->fcm->waiting;
	p->fcm->waiting = NULL;
	while (w) {
		struct push_job *next = w->next;
		w->next = NULL;
		push_send(p, w);
		w = next;
	}
}

static void put_kv(struct strbuf *sb, const char *key, const char *v, bool comma)
{
	if (comma) strbuf_putc(sb, ',');
	strbuf_append_json_string(sb, key, strlen(key));
	strbuf_putc(sb, ':');
	strbuf_append_json_string(sb, v ? v : "", v ? strlen(v) : 0);
}

static void fcm_body(const struct push_job *j, struct strbuf *sb)
{
	const struct push_note *n = &j->note;
	char count[24], unread[24];
	snprintf(count, sizeof(count), "%ld", n->count);
	snprintf(unread, sizeof(unread), "%ld", n->unread);
	strbuf_puts(sb, "{\"message\":{");
	put_kv(sb, "token", j->token, false);
	strbuf_puts(sb, ",\"notification\":{");
	put_kv(sb, "title", n->title, false);
	put_kv(sb, "body", n->text, true);
	strbuf_puts(sb, "},\"data\":{");
	put_kv(sb, "type", "chat.message", false);
	put_kv(sb, "room", n->room, true);
	put_kv(sb, "from", n->from, true);
	put_kv(sb, "id", n->msg_id, true);
	put_kv(sb, "count", count, true);
	put_kv(sb, "unread", unread, true);
	strbuf_puts(sb, "},\"android\":{");
	put_kv(sb, "collapse_key", n->room, false);
	strbuf_puts(sb, "}}}");
}

static int fcm_prepare(struct push *p, struct push_job *j)
{
	if (!fcm_ready(p) || !j->token) {
		snprintf(j->error, sizeof(j->error),
		         !j->token ? "FCM device without token" : "FCM is not configured");
		return PREP_FAIL;
	}
	if (!p->fcm->access_token || bridge_now_ms() >= p->fcm->token_expiry_ms) {
		j->next = p->fcm->waiting;
		p->fcm->waiting = j;
		if (!p->fcm->fetching) fetch_token(p);
		return PREP_WAIT;
	}
	size_t cap = strlen(p->cfg.fcm_base_url) + strlen(p->cfg.fcm_project) + 40;
	j->url = xmalloc(cap);
	const char *base = p->cfg.fcm_base_url;
	size_t blen = strlen(base);
	while (blen && base[blen - 1] == '/')
		blen--;
	snprintf(j->url, cap, "%.*s/v1/projects/%s/messages:send", (int)blen, base, p->cfg.fcm_project);
	size_t alen = strlen(p->fcm->access_token) + 8;
	char *auth = xmalloc(alen);
	snprintf(auth, alen, "Bearer %s", p->fcm->access_token);
	push_header(j, "Authorization", auth);
	free(auth);
	push_header(j, "Content-Type", "application/json; charset=UTF-8");
	fcm_body(j, &j->body);
	return PREP_READY;
}

static bool resp_has(const struct push_job *j, const char *needle)
{
	return j->resp.buf && strstr(j->resp.buf, needle);
}

static enum push_outcome fcm_result(struct push *p, struct push_job *j, long status)
{
	if (status == 200) return PUSH_OK;
	if (status == 404 || resp_has(j, "UNREGISTERED")) return PUSH_DEAD;
	if (status == 401 || status == 403) {
		/* The bearer token was refused: fetch a new one for the retry. */
		free(p->fcm->access_token);
		p->fcm->access_token = NULL;
		snprintf(j->error, sizeof(j->error), "FCM refused the OAuth token (HTTP %ld)", status);
		return PUSH_RETRY;
	}
	if (status != 200 && j->resp.len)
		snprintf(j->error, sizeof(j->error), "HTTP %ld: %.200s", status, j->resp.buf);
	return push_status_outcome(status) == PUSH_DEAD ? PUSH_FAILED : push_status_outcome(status);
}

const struct push_provider push_fcm_provider = {
    .name = "fcm",
    .needs_token = true,
    .prepare = fcm_prepare,
    .result = fcm_result,
    .setting = "fcm_service_account",
    .load = fcm_load,
    .ready = fcm_ready,
    .not_ready = "FCM is not configured on this server",
    .release = fcm_release,
    .free = fcm_free,
};
