/* SPDX-License-Identifier: MIT */
/*
 * The SSRF guard, with push_allow_private off (and http allowed, so that
 * the address is what is refused, not the scheme). Registering endpoints
 * on loopback, private, link-local, unique-local or IPv4-mapped addresses
 * is refused with the reason, also when the address is written the way
 * curl reads but inet_pton does not (127.0.0.%31, 2130706433, 0x7f.1,
 * 127.1 are 127.0.0.1 to curl; 012.0.0.5 and 10.1 are 10.0.0.5 and
 * 10.0.0.1). A name that resolves to loopback (localhost) passes
 * registration but is refused when the bridge is about to connect, as is a
 * loopback endpoint that got into `devices` some other way (registered
 * before the operator turned the guard on): the receiver sees nothing from
 * them and the jobs are dead-lettered, while the operator's own
 * webhook_url on the same receiver is reached. That holds while the
 * operator's keep-alive connection to that very address sits idle in
 * curl's pool: a user endpoint never rides on it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "3x-util.h"

static struct harness H;
static struct hr *R;

static int setup(void **state)
{
	(void)state;
	char conf[512], url[256];
	h_init(&H, "32-push-ssrf");
	R = hr_start();
	h_start_mongo(&H);
	h_start_broker(&H, P_BROKER_CONF);
	snprintf(conf, sizeof(conf), "push_coalesce_ms 200\npush_allow_http true\nwebhook_url %s\n",
	         hr_url(R, "/global", url, sizeof(url)));
	h_start_bridge(&H, conf);
	const char *members[] = {"alice", "bob", NULL}, *warm[] = {"alice", "carol", NULL},
		   *lab[] = {"alice", "dave", NULL};
	assert_true(h_setup_room(&H, "general", members));
	assert_true(h_setup_room(&H, "warm", warm));
	assert_true(h_setup_room(&H, "lab", lab));
	return 0;
}

static void refused(const char *platform, const char *endpoint, const char *why)
{
	char json[512];
	snprintf(json, sizeof(json),
	         "{\"op\":\"register\",\"device\":\"evil\",\"platform\":\"%s\",\"endpoint\":\"%s\"}",
	         platform, endpoint);
	char *reply = p_device(&H, "bob", json);
	if (!strstr(reply, "\"ok\":false") || !strstr(reply, why)) fail_msg("%s -> %s", endpoint, reply);
	free(reply);
}

static void test_private_endpoints_refused_at_registration(void **state)
{
	(void)state;
	char url[256];
	refused("webhook", hr_url(R, "/x", url, sizeof(url)), "loopback");
	snprintf(url, sizeof(url), "http://[::1]:%d/x", hr_port(R));
	refused("webhook", url, "loopback");
	snprintf(url, sizeof(url), "http://[::ffff:127.0.0.1]:%d/x", hr_port(R));
	refused("unifiedpush", url, "loopback");
	refused("webhook", "http://10.0.0.1/hook", "private");
	refused("unifiedpush", "https://192.168.1.20/up", "private");
	refused("webhook", "https://100.64.1.1/hook", "CGNAT");
	refused("webhook", "http://169.254.169.254/latest/meta-data/", "link-local");
	refused("unifiedpush", "https://[fd00::1]/up", "unique-local");
	refused("webhook", "https://0.0.0.0/", "unspecified");
	refused("webhook", "ftp://example.org/", "URL");
	refused("webhook", "https://user:pw@example.org/", "user name or password");
	refused("webhook", "https://@example.org/", "user name or password");
	refused("webhook", "https://example.org:0/", "URL");
	refused("webhook", "https://[nothost]/", "URL");
	refused("webhook", "https://%C3%A9xample.org/", "not ASCII");
	refused("webhook", "https://example.org/a b", "blanks");
	assert_int_equal(h_mongo_count(&H, "devices", "{}"), 0);
}

/* Loopback and private addresses written as curl reads them. */
static const char *const disguised_loopback[] = {"127.0.0.%31", "2130706433", "0x7f.1", "127.1"};

static void test_disguised_addresses_refused_at_registration(void **state)
{
	(void)state;
	char url[256];
	for (size_t i = 0; i < sizeof(disguised_loopback) / sizeof(disguised_loopback[0]); i++) {
		snprintf(url, sizeof(url), "http://%s:%d/evil", disguised_loopback[i], hr_port(R));
		refused("webhook", url, "loopback");
		refused("unifiedpush", url, "loopback");
	}
	/* Not an address to curl (it does not resolve here), but to resolvers
	 * that ignore the root dot it is. */
	snprintf(url, sizeof(url), "http://127.0.0.1.:%d/evil", hr_port(R));
	refused("webhook", url, "loopback");
	snprintf(url, sizeof(url), "http://[::ffff:7f00:1]:%d/evil", hr_port(R));
	refused("webhook", url, "loopback");
	refused("webhook", "http://012.0.0.5/evil", "private");
	refused("unifiedpush", "http://10.1/evil", "private");
	refused("webhook", "http://0/evil", "unspecified");
	assert_int_equal(h_mongo_count(&H, "devices", "{}"), 0);
	assert_int_equal(hr_count(R, "/evil"), 0);
}

static void insert_device(const char *user, const char *device, const char *platform, const char *endpoint)
{
	mongoc_client_t *c = h_mongo(&H);
	mongoc_collection_t *col = mongoc_client_get_collection(c, H.mongo_db, "devices");
	bson_t *doc = BCON_NEW("user", BCON_UTF8(user), "device", BCON_UTF8(device), "platform",
	                       BCON_UTF8(platform), "token", BCON_UTF8(""), "endpoint", BCON_UTF8(endpoint));
	bson_error_t err;
	assert_true(mongoc_collection_insert_one(col, doc, NULL, NULL, &err));
	bson_destroy(doc);
	mongoc_collection_destroy(col);
	mongoc_client_destroy(c);
}

static void test_resolved_address_checked_at_send_time(void **state)
{
	(void)state;
	char url[256];
	snprintf(url, sizeof(url), "http://localhost:%d/by-name", hr_port(R));
	char json[512];
	snprintf(json, sizeof(json),
	         "{\"op\":\"register\",\"device\":\"by-name\",\"platform\":\"webhook\",\"endpoint\":\"%s\"}",
	         url);
	p_register(&H, "bob", json); /* a name: only its address can tell */
	p_register(&H, "bob", "{\"op\":\"register\",\"device\":\"operator\",\"platform\":\"webhook\"}");
	insert_device("bob", "by-literal", "webhook", hr_url(R, "/by-literal", url, sizeof(url)));

	struct tc *obs = p_observer(&H);
	struct tc *alice = tc_open(&H, "alice-app", "alice", TC_V5);
	p_wait_presence(obs, "bob", false);
	p_barrier(&H);
	assert_int_equal(tc_pub(alice, "chat/rooms/general/messages", "hi bob", 1), 0);

	assert_true(hr_wait(R, "/global", 1, P_WAIT_MS)); /* the receiver is reachable */
	assert_true(p_wait_count(&H, "push_dead", "{\"user\":\"bob\"}", 2));
	assert_int_equal(
	    h_mongo_count(&H, "push_dead", "{\"device\":\"by-name\",\"error\":{\"$regex\":\"blocked\"}}"), 1);
	assert_int_equal(
	    h_mongo_count(&H, "push_dead", "{\"device\":\"by-literal\",\"error\":{\"$regex\":\"loopback\"}}"),
	    1);
	assert_int_equal(hr_count(R, "/by-name"), 0);
	assert_int_equal(hr_count(R, "/by-literal"), 0);
	assert_true(p_wait_count(&H, "push_outbox", "{}", 0));
	/* Blocked is final: no retries hammer the address. */
	assert_int_equal(h_log_count(H.bridge.log, "retry"), 0);
	tc_close(alice);
	tc_close(obs);
}

/* One notification to carol's operator device (webhook_url): afterwards
 * curl keeps that keep-alive connection to the receiver in its pool. */
static void warm_operator_connection(struct tc *alice, int n)
{
	char text[32];
	snprintf(text, sizeof(text), "warm %d", n);
	int before = hr_count(R, "/global");
	assert_int_equal(tc_pub(alice, "chat/rooms/warm/messages", text, 1), 0);
	assert_true(hr_wait(R, "/global", before + 1, P_WAIT_MS));
}

/* Waits until the job for device is dead-lettered or the receiver got an
 * /evil request. */
static void wait_outcome(const char *device)
{
	char filter[128];
	snprintf(filter, sizeof(filter), "{\"device\":\"%s\"}", device);
	long long deadline = h_now_ms() + P_WAIT_MS;
	while (h_mongo_count(&H, "push_dead", filter) == 0 && hr_count(R, "/evil") == 0) {
		if (h_now_ms() > deadline) fail_msg("no outcome for %s", device);
		h_sleep_ms(20);
	}
}

static void test_user_endpoint_never_reuses_operator_connection(void **state)
{
	(void)state;
	p_register(&H, "carol", "{\"op\":\"register\",\"device\":\"operator\",\"platform\":\"webhook\"}");
	p_register(&H, "dave", "{\"op\":\"unregister\",\"device\":\"none\"}"); /* dave has been online */
	struct tc *obs = p_observer(&H);
	struct tc *alice = tc_open(&H, "alice-reuse", "alice", TC_V5);
	p_wait_presence(obs, "carol", false);
	p_wait_presence(obs, "dave", false);
	char prev[32] = "none";
	p_barrier(&H);
	for (size_t i = 0; i < sizeof(disguised_loopback) / sizeof(disguised_loopback[0]); i++) {
		char device[32], url[256], json[128], filter[160];
		snprintf(device, sizeof(device), "disguised-%zu", i);
		snprintf(url, sizeof(url), "http://%s:%d/evil/%zu", disguised_loopback[i], hr_port(R), i);
		warm_operator_connection(alice, (int)i);
		insert_device("dave", device, i % 2 ? "unifiedpush" : "webhook", url);
		/* Unregistering the previous one also makes the bridge read
		 * dave's devices again, and is a barrier. */
		snprintf(json, sizeof(json), "{\"op\":\"unregister\",\"device\":\"%s\"}", prev);
		p_register(&H, "dave", json);
		char text[32];
		snprintf(text, sizeof(text), "hi dave %zu", i);
		assert_int_equal(tc_pub(alice, "chat/rooms/lab/messages", text, 1), 0);
		wait_outcome(device);
		if (hr_count(R, "/evil") != 0) fail_msg("%s reached the receiver", url);
		snprintf(filter, sizeof(filter), "{\"device\":\"%s\",\"error\":{\"$regex\":\"blocked.*loopback\"}}",
			 device);
		assert_int_equal(h_mongo_count(&H, "push_dead", filter), 1);
		snprintf(prev, sizeof(prev), "%s", device);
	}
	tc_close(alice);
	tc_close(obs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_private_endpoints_refused_at_registration),
	    cmocka_unit_test(test_disguised_addresses_refused_at_registration),
	    cmocka_unit_test(test_user_endpoint_never_reuses_operator_connection),
	    cmocka_unit_test(test_resolved_address_checked_at_send_time),
	};
	int failed = cmocka_run_group_tests(tests, setup, NULL);
	bool clean = h_finish(&H, failed != 0);
	hr_stop(R);
	return clean ? failed : 1;
}
