/* SPDX-License-Identifier: MIT */
/*
 * mongo_raw: the ceiling that chat-bridge's stored rate is measured
 * against. It inserts the documents the bridge writes ({room, id, from, ts,
 * type, text, cid}, 100 bytes of chat text, real server ids) with nothing
 * but a libmongoc insert_many(ordered:false) loop in batches of the
 * bridge's default size, into a fresh collection that carries the bridge's
 * unique (room, id) index, on one connection, and prints one JSON line:
 * {"docs":N,"batch":B,"seconds":S,"rate":R}. No journal, no MQTT, no
 * envelope parsing: whatever the bridge achieves below this is its own
 * cost. A JSON "stored" field reads the count back afterwards.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mongoc/mongoc.h>

#include "id.h"
#include "loadgen.h"

struct raw_opts {
	const char *uri;
	const char *db;
	long count;
	long batch;
	long rooms;
	enum lg_lang lang;
	bool keep; /* insert into the collection as it is, not a fresh one */
};

static double mono_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: mongo_raw --uri URI [--db NAME] [--count N] [--batch N] [--rooms N] [--lang en|ko] [--keep]\n"
		   "Inserts N chat message documents with insert_many (ordered:false) in batches\n"
		   "(500) into NAME.messages (bench_raw), dropped first unless --keep, and prints\n"
		   "the rate as JSON.\n");
}

static int parse_long(const char *name, const char *v, long min, long max, long *out)
{
	char *end = NULL;
	errno = 0;
	long n = strtol(v, &end, 10);
	if (errno || end == v || *end || n < min || n > max) {
		fprintf(stderr, "mongo_raw: %s: '%s' is not a number in %ld..%ld\n", name, v, min, max);
		return -1;
	}
	*out = n;
	return 0;
}

static int parse_opts(struct raw_opts *o, int argc, char **argv)
{
	*o = (struct raw_opts){NULL, "bench_raw", 20000, 500, 8, LG_LANG_EN, false};
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		int rc = 0;
		if (strcmp(a, "--help") == 0) {
			usage(stdout);
			exit(0);
		}
		if (strcmp(a, "--keep") == 0) {
			o->keep = true;
			continue;
		}
		if (!v) {
			usage(stderr);
			return -1;
		}
		if (strcmp(a, "--uri") == 0) o->uri = v;
		else if (strcmp(a, "--db") == 0) o->db = v;
		else if (strcmp(a, "--count") == 0) rc = parse_long(a, v, 1, 100000000, &o->count);
		else if (strcmp(a, "--batch") == 0) rc = parse_long(a, v, 1, 100000, &o->batch);
		else if (strcmp(a, "--rooms") == 0) rc = parse_long(a, v, 1, 100000, &o->rooms);
		else if (strcmp(a, "--lang") == 0) o->lang = strcmp(v, "ko") == 0 ? LG_LANG_KO : LG_LANG_EN;
		else rc = -1;
		if (rc) {
			usage(stderr);
			return -1;
		}
		i++;
	}
	if (!o->uri) {
		usage(stderr);
		return -1;
	}
	return 0;
}

/* Drops the collection (unless --keep) and creates the bridge's unique
 * (room, id) index, which is a no-op when it is there already. */
static int fresh_collection(mongoc_client_t *cli, const struct raw_opts *o, mongoc_collection_t **out)
{
	bson_error_t err;
	mongoc_collection_t *coll = mongoc_client_get_collection(cli, o->db, "messages");
	if (!o->keep) mongoc_collection_drop(coll, NULL); /* absent the first time: fine */
	bson_t *cmd = BCON_NEW("createIndexes", BCON_UTF8("messages"), "indexes", "[", "{", "key", "{", "room",
			       BCON_INT32(1), "id", BCON_INT32(-1), "}", "name", BCON_UTF8("room_id"), "unique",
			       BCON_BOOL(true), "}", "]");
	bool ok = mongoc_collection_write_command_with_opts(coll, cmd, NULL, NULL, &err);
	bson_destroy(cmd);
	if (!ok) {
		fprintf(stderr, "mongo_raw: createIndexes: %s\n", err.message);
		mongoc_collection_destroy(coll);
		return -1;
	}
	*out = coll;
	return 0;
}

/* Fills docs[0..n) with messages number first.. of the run. */
static void build_batch(bson_t **docs, long n, long first, const struct raw_opts *o, const struct lg_texts *t,
			struct id_gen *ids)
{
	for (long i = 0; i < n; i++) {
		long k = first + i;
		char room[32], from[32], cid[64], id[ID_LEN + 1];
		int64_t now = wall_ms();
		snprintf(room, sizeof(room), "r%ld", k % o->rooms + 1);
		snprintf(from, sizeof(from), "u%ld", k % o->rooms + 1);
		snprintf(cid, sizeof(cid), "%ld-%ld-%" PRId64, k % o->rooms, k, now);
		id_next(ids, (uint64_t)now, id);
		docs[i] = BCON_NEW("room", BCON_UTF8(room), "id", BCON_UTF8(id), "from", BCON_UTF8(from), "ts",
				   BCON_DATE_TIME(now), "type", BCON_UTF8("text"), "text",
				   BCON_UTF8(t->text[k % LG_TEXT_VARIANTS]), "cid", BCON_UTF8(cid));
	}
}

static int insert_all(mongoc_collection_t *coll, const struct raw_opts *o, const struct lg_texts *t)
{
	struct id_gen ids;
	bson_t **docs = calloc((size_t)o->batch, sizeof(*docs));
	bson_t *opts = BCON_NEW("ordered", BCON_BOOL(false));
	int rc = docs ? 0 : -1;
	char node[32];
	snprintf(node, sizeof(node), "raw%ld", (long)getpid()); /* runs side by side make distinct ids */
	id_gen_init(&ids, node, (uint32_t)time(NULL));
	for (long done = 0; rc == 0 && done < o->count; done += o->batch) {
		long n = o->count - done < o->batch ? o->count - done : o->batch;
		bson_error_t err;
		build_batch(docs, n, done, o, t, &ids);
		if (!mongoc_collection_insert_many(coll, (const bson_t **)docs, (size_t)n, opts, NULL, &err)) {
			fprintf(stderr, "mongo_raw: insert_many: %s\n", err.message);
			rc = -1;
		}
		for (long i = 0; i < n; i++) bson_destroy(docs[i]);
	}
	bson_destroy(opts);
	free(docs);
	return rc;
}

int main(int argc, char **argv)
{
	struct raw_opts o;
	static struct lg_texts texts;
	if (parse_opts(&o, argc, argv)) return 2;
	lg_texts_init(&texts, o.lang, 100);
	mongoc_init();
	bson_error_t err;
	mongoc_uri_t *uri = mongoc_uri_new_with_error(o.uri, &err);
	mongoc_client_t *cli = uri ? mongoc_client_new_from_uri_with_error(uri, &err) : NULL;
	mongoc_collection_t *coll = NULL;
	int rc = 1;
	if (!cli) {
		fprintf(stderr, "mongo_raw: %s: %s\n", o.uri, err.message);
		goto cleanup;
	}
	if (fresh_collection(cli, &o, &coll)) goto cleanup;
	double t0 = mono_s();
	if (insert_all(coll, &o, &texts)) goto cleanup;
	double secs = mono_s() - t0;
	/* Read back, so a silently short insert cannot pass for a fast one. */
	int64_t stored = mongoc_collection_count_documents(coll, &(bson_t)BSON_INITIALIZER, NULL, NULL, NULL, &err);
	printf("{\"docs\":%ld,\"stored\":%" PRId64 ",\"batch\":%ld,\"seconds\":%.3f,\"rate\":%.1f}\n", o.count,
	       stored, o.batch, secs, secs > 0 ? (double)o.count / secs : 0.0);
	rc = 0;
cleanup:
	if (coll) mongoc_collection_destroy(coll);
	if (cli) mongoc_client_destroy(cli);
	if (uri) mongoc_uri_destroy(uri);
	mongoc_cleanup();
	return rc;
}
