/* SPDX-License-Identifier: MIT */
/*
 * Requests to the push providers: one curl multi handle owned by the push
 * thread, so connections (and HTTP/2 streams to APNs and FCM) are reused
 * across notifications. A job is prepared by its provider, sent, and on
 * completion its outcome goes to the outbox and the counters. HTTP/2 is
 * asked for on https:// (CURL_HTTP_VERSION_2TLS); a plain http:// URL, as
 * the tests use, talks HTTP/1.1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge.h"
#include "push_int.h"

#define RESPONSE_MAX 65536
/* Transfers at once. More jobs wait in a queue rather than in curl, so
 * that push_timeout_ms measures a transfer, not a wait for a connection. */
#define MAX_TRANSFERS 64

int push_http_init(struct push *p)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) return -1;
	p->multi = curl_multi_init();
	if (!p->multi) return -1;
	curl_multi_setopt(p->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
	curl_multi_setopt(p->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 16L);
	curl_multi_setopt(p->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, 256L);
	return 0;
}

static void flying_remove(struct push *p, struct push_job *j)
{
	if (j->fl_prev)
		j->fl_prev->fl_next = j->fl_next;
	else
		p->flying = j->fl_next;
	if (j->fl_next) j->fl_next->fl_prev = j->fl_prev;
	j->fl_prev = j->fl_next = NULL;
	curl_multi_remove_handle(p->multi, j->easy);
	p->inflight--;
}

void push_http_cleanup(struct push *p)
{
	if (!p->multi) return;
	while (p->flying) {
		struct push_job *j = p->flying;
		flying_remove(p, j);
		if (!j->done) push_outbox_release(p, j);
		push_job_free(j);
	}
	for (struct push_job *j = p->pending, *n; j; j = n) {
		n = j->next;
		push_outbox_release(p, j);
		push_job_free(j);
	}
	p->pending = p->pending_tail = NULL;
	for (int pf = 0; pf < PUSH_PLATFORMS; pf++) {
		const struct push_provider *pv = push_provider_of((enum push_platform)pf);
		if (pv->release) pv->release(p);
	}
	p->npending = 0;
	push_outbox_flush_deletes(p);
	free(p->done);
	p->done = NULL;
	p->ndone = p->done_cap = 0;
	curl_multi_cleanup(p->multi);
	p->multi = NULL;
	curl_global_cleanup();
}

void push_job_free(struct push_job *j)
{
	if (!j) return;
	if (j->easy) curl_easy_cleanup(j->easy);
	curl_slist_free_all(j->headers);
	strbuf_free(&j->body);
	strbuf_free(&j->resp);
	push_note_free(&j->note);
	free(j->url);
	free(j->device);
	free(j->token);
	free(j->endpoint);
	free(j);
}

static size_t on_body(char *data, size_t size, size_t n, void *ud)
{
	struct push_job *j = ud;
	size_t len = size * n;
	if (j->resp.len + len <= RESPONSE_MAX) strbuf_append(&j->resp, data, len);
	return len;
}

int push_http_add_raw(struct push *p, struct push_job *j)
{
	j->easy = curl_easy_init();
	if (!j->easy) return -1;
	CURL *e = j->easy;
	curl_easy_setopt(e, CURLOPT_URL, j->url);
	curl_easy_setopt(e, CURLOPT_POST, 1L);
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, j->body.buf ? j->body.buf : "");
	curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)j->body.len);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, j->headers);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, j);
	curl_easy_setopt(e, CURLOPT_PRIVATE, j);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, j->error);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, p->cfg.timeout_ms);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, p->cfg.timeout_ms);
	curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "chat-bridge/" BRIDGE_VERSION);
	if (j->guarded) ssrf_guard(p, j);
	j->error[0] = '\0';
	if (curl_multi_add_handle(p->multi, e) != CURLM_OK) return -1;
	j->fl_next = p->flying;
	if (p->flying) p->flying->fl_prev = j;
	p->flying = j;
	p->inflight++;
	return 0;
}

static void start(struct push *p, struct push_job *j)
{
	const struct push_provider *pv = push_provider_of(j->platform);
	curl_slist_free_all(j->headers);
	j->headers = NULL;
	strbuf_reset(&j->body);
	strbuf_reset(&j->resp);
	free(j->url);
	j->url = NULL;
	j->error[0] = '\0';
	int rc = pv->prepare(p, j);
	if (rc == PREP_WAIT) return;
	if (rc == PREP_FAIL) {
		push_job_finish(p, j, PUSH_FAILED, 0);
		return;
	}
	if (strbuf_status(&j->body) != 0 || push_http_add_raw(p, j) != 0) {
		snprintf(j->error, sizeof(j->error), "could not start the request");
		push_job_finish(p, j, PUSH_RETRY, 0);
	}
}

void push_send(struct push *p, struct push_job *j)
{
	if (p->inflight < MAX_TRANSFERS && !p->pending) {
		start(p, j);
		return;
	}
	j->next = NULL;
	if (p->pending_tail)
		p->pending_tail->next = j;
	else
		p->pending = j;
	p->pending_tail = j;
	p->npending++;
}

/* Moves queued jobs into free transfer slots. */
static void start_pending(struct push *p)
{
	while (p->pending && p->inflight < MAX_TRANSFERS) {
		struct push_job *j = p->pending;
		p->pending = j->next;
		if (!p->pending) p->pending_tail = NULL;
		p->npending--;
		j->next = NULL;
		start(p, j);
	}
}

void push_job_finish(struct push *p, struct push_job *j, enum push_outcome o, long status)
{
	METRIC_ADD(p->b, push[j->platform][o], 1);
	blog(BLOG_DEBUG, "push: %s to %s/%s: %ld %s", push_platform_name(j->platform), j->note.user,
	     j->device, status, j->error);
	push_outbox_done(p, j, o, status);
	push_job_free(j);
}

static enum push_outcome judge(struct push *p, struct push_job *j, CURLcode rc, long status)
{
	if (j->blocked) {
		snprintf(j->error, sizeof(j->error), "blocked: the endpoint resolved to a %s address",
		         netaddr_class_name(j->blocked_class));
		return PUSH_BLOCKED;
	}
	if (rc != CURLE_OK) {
		if (!j->error[0]) snprintf(j->error, sizeof(j->error), "%s", curl_easy_strerror(rc));
		return PUSH_RETRY;
	}
	j->error[0] = '\0';
	return push_provider_of(j->platform)->result(p, j, status);
}

void push_http_run(struct push *p)
{
	int running = 0, left = 0;
	start_pending(p);
	curl_multi_perform(p->multi, &running);
	CURLMsg *m;
	while ((m = curl_multi_info_read(p->multi, &left))) {
		if (m->msg != CURLMSG_DONE) continue;
		struct push_job *j = NULL;
		long status = 0;
		CURLcode rc = m->data.result;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&j);
		curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &status);
		flying_remove(p, j);
		curl_easy_cleanup(j->easy);
		j->easy = NULL;
		if (j->done) {
			j->done(p, j, rc, status);
			continue;
		}
		enum push_outcome o = judge(p, j, rc, status);
		push_job_finish(p, j, o, status);
	}
	if (p->pending && p->inflight < MAX_TRANSFERS) {
		start_pending(p);
		curl_multi_perform(p->multi, &running);
	}
	push_outbox_flush_deletes(p);
}
