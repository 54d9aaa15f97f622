/* SPDX-License-Identifier: MIT */
/*
 * The password file, in the format mosquitto_passwd writes, so operators
 * keep their tool: one "user:hash" per line, where hash is
 *   $7$<iterations>$<salt b64>$<hash b64>   PBKDF2-HMAC-SHA512 (mosquitto 2.0)
 *   $6$<salt b64>$<hash b64>                SHA-512(password || salt) (1.x)
 * Plain-text entries are refused at load (logged, line skipped): the plugin
 * never compares a password as text. Comparison is constant-time, and an
 * unknown user is hashed against a dummy entry so that timing does not say
 * which user names exist.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "base64.h"
#include "chat.h"
#include "fnv.h"
#include "oatable.h"
#include "topic.h"

#define PW_SALT_MAX 64
#define PW_HASH_LEN 64 /* SHA-512 */
#define PW_MAX_ITERATIONS 10000000L
#define PW_LINE_MAX 1024

enum pw_kind { PW_SHA512 = 6, PW_PBKDF2 = 7 };

/*
 * One user's entry as stored: the decoded binary salt and hash, not their
 * base64 text, packed with the user id into the table's one blob. Records
 * start at multiples of 4 (for iterations); rec_size() gives the stride.
 */
struct pw_rec {
	uint32_t iterations; /* 0 for $6$ */
	uint8_t kind;        /* enum pw_kind */
	uint8_t salt_len;
	uint8_t user_len;
	unsigned char hash[PW_HASH_LEN];
	unsigned char bytes[]; /* salt, then the user id (not NUL-terminated) */
};

/* An entry as the check uses it: a record's fields, or the dummy's. */
struct pw_view {
	enum pw_kind kind;
	int iterations;
	const unsigned char *salt;
	size_t salt_len;
	const unsigned char *hash;
};

/*
 * The table: every record in one growing blob, and an open-addressing
 * index (oatable.h) of blob offsets + 1, found by the user id's hash. At
 * 10,000 users this is about 100 bytes a user instead of a 272-byte
 * struct with a uthash handle each.
 */
struct auth_passwd {
	unsigned char *blob;
	size_t used, cap;
	struct oatable index;
	unsigned char dummy_salt[12], dummy_hash[PW_HASH_LEN]; /* hashed for unknown users */
};

/* The broker's allocator, so that its memory_limit and $SYS heap count
 * the table (the blob and the struct come from it too). */
static const struct oatable_alloc broker_alloc = {mosquitto_calloc, mosquitto_free};

/* A user id as the index looks it up. */
struct pw_key {
	const char *user;
	size_t len;
};

static size_t rec_size(size_t salt_len, size_t user_len)
{
	return (sizeof(struct pw_rec) + salt_len + user_len + 3) & ~(size_t)3;
}

static const struct pw_rec *rec_at(const struct auth_passwd *p, uint32_t slot)
{
	return (const struct pw_rec *)(const void *)(p->blob + slot - 1);
}

static uint32_t user_hash(const char *user, size_t len)
{
	return fnv32(FNV32_OFFSET, user, len);
}

/* The index's hash of a record: its user id's (growth moves records). */
static uint32_t rec_hash(uint32_t ref, const void *ctx)
{
	const struct pw_rec *r = rec_at(ctx, ref);
	return user_hash((const char *)r->bytes + r->salt_len, r->user_len);
}

static bool rec_is(uint32_t ref, const void *key, const void *ctx)
{
	const struct pw_rec *r = rec_at(ctx, ref);
	const struct pw_key *k = key;
	return r->user_len == k->len && memcmp(r->bytes + r->salt_len, k->user, k->len) == 0;
}

/* The record reference of user (len bytes), or 0. */
static uint32_t find_user(const struct auth_passwd *p, const char *user, size_t len)
{
	const struct pw_key k = {user, len};
	return oatable_find(&p->index, user_hash(user, len), rec_is, &k);
}

/* Room for one more record of size n in the blob; false on out of memory. */
static bool reserve_blob(struct auth_passwd *p, size_t n)
{
	if (p->cap - p->used >= n) return true;
	size_t cap = p->cap ? p->cap * 2 : 64 * 1024;
	while (cap - p->used < n) cap *= 2;
	if (cap > UINT32_MAX) return false;
	unsigned char *b = mosquitto_realloc(p->blob, cap);
	if (!b) return false;
	p->blob = b;
	p->cap = cap;
	return true;
}

void auth_passwd_free(struct auth_passwd *p)
{
	if (!p) return;
	if (p->blob) OPENSSL_cleanse(p->blob, p->used);
	mosquitto_free(p->blob);
	oatable_free(&p->index);
	mosquitto_free(p);
}

/* Splits the '$'-separated fields after the leading '$' into f[]; returns
 * the count (at most max). s is modified. */
static int split_dollar(char *s, char **f, int max)
{
	int n = 0;
	if (*s != '$') return 0;
	for (char *p = s + 1; n < max;) {
		f[n++] = p;
		char *d = strchr(p, '$');
		if (!d) break;
		*d = '\0';
		p = d + 1;
	}
	return n;
}

/* An entry while it is parsed, before it is packed into the blob. */
struct pw_parsed {
	enum pw_kind kind;
	int iterations;
	unsigned char salt[PW_SALT_MAX];
	size_t salt_len;
	unsigned char hash[PW_HASH_LEN];
};

/* Fills e from the hash text of one line; returns false when unsupported. */
static bool parse_hash(char *text, struct pw_parsed *e)
{
	char *f[5];
	int n = split_dollar(text, f, 5);
	const char *salt, *hash;
	if (n == 3 && strcmp(f[0], "6") == 0) {
		e->kind = PW_SHA512;
		e->iterations = 0;
		salt = f[1];
		hash = f[2];
	} else if (n == 4 && strcmp(f[0], "7") == 0) {
		char *end = NULL;
		errno = 0;
		long it = strtol(f[1], &end, 10);
		if (errno || end == f[1] || *end || it < 1 || it > PW_MAX_ITERATIONS) return false;
		e->kind = PW_PBKDF2;
		e->iterations = (int)it;
		salt = f[2];
		hash = f[3];
	} else {
		return false;
	}
	long sl = base64_decode(salt, strlen(salt), e->salt, sizeof(e->salt), BASE64_STD);
	long hl = base64_decode(hash, strlen(hash), e->hash, sizeof(e->hash), BASE64_STD);
	if (sl <= 0 || hl != PW_HASH_LEN) return false;
	e->salt_len = (size_t)sl;
	return true;
}

/* Appends e for user (ulen bytes) to the blob and points the index at it,
 * replacing an earlier entry of the same user (*replaced). */
static int add_entry(struct auth_passwd *p, const char *user, size_t ulen, const struct pw_parsed *e,
		     bool *replaced)
{
	size_t n = rec_size(e->salt_len, ulen);
	if (oatable_reserve(&p->index, 1) != CHAT_OK || !reserve_blob(p, n)) return MOSQ_ERR_NOMEM;
	struct pw_rec *r = (struct pw_rec *)(void *)(p->blob + p->used);
	memset(r, 0, n);
	r->iterations = (uint32_t)e->iterations;
	r->kind = (uint8_t)e->kind;
	r->salt_len = (uint8_t)e->salt_len;
	r->user_len = (uint8_t)ulen;
	memcpy(r->hash, e->hash, PW_HASH_LEN);
	memcpy(r->bytes, e->salt, e->salt_len);
	memcpy(r->bytes + e->salt_len, user, ulen);
	uint32_t h = user_hash(user, ulen), earlier = find_user(p, user, ulen), ref = (uint32_t)(p->used + 1);
	p->used += n;
	/* An earlier record of the user stays in the blob, unreachable. */
	*replaced = earlier != 0;
	if (*replaced) oatable_replace(&p->index, h, earlier, ref);
	else oatable_insert(&p->index, h, ref); /* room reserved above */
	return MOSQ_ERR_SUCCESS;
}

/* Parses one line into the table; logs and skips a bad line. */
static int load_line(struct auth_passwd *p, const char *path, int lineno, char *line)
{
	line[strcspn(line, "\r\n")] = '\0';
	if (line[0] == '\0' || line[0] == '#') return MOSQ_ERR_SUCCESS;
	char *colon = strchr(line, ':');
	size_t ulen = colon ? (size_t)(colon - line) : 0;
	if (!colon || !topic_user_valid(line, ulen)) {
		mosquitto_log_printf(MOSQ_LOG_WARNING, CHAT_LOG_PREFIX "%s:%d: not a valid user id, line skipped", path,
				     lineno);
		return MOSQ_ERR_SUCCESS;
	}
	*colon = '\0';
	struct pw_parsed e;
	bool replaced = false;
	int rc = MOSQ_ERR_SUCCESS;
	if (!parse_hash(colon + 1, &e)) {
		mosquitto_log_printf(MOSQ_LOG_WARNING,
				     CHAT_LOG_PREFIX "%s:%d: user %s has no $6$ or $7$ hash (plain text is not "
						     "accepted; use mosquitto_passwd), line skipped",
				     path, lineno, line);
	} else {
		rc = add_entry(p, line, ulen, &e, &replaced);
		if (rc == MOSQ_ERR_SUCCESS && replaced) {
			mosquitto_log_printf(MOSQ_LOG_WARNING,
					     CHAT_LOG_PREFIX "%s:%d: user %s listed again, the later line wins", path,
					     lineno, line);
		}
	}
	OPENSSL_cleanse(&e, sizeof(e));
	return rc;
}

int auth_passwd_load(const char *path, struct auth_passwd **out)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		mosquitto_log_printf(MOSQ_LOG_ERR, CHAT_LOG_PREFIX "cannot open password file %s: %s", path,
				     strerror(errno));
		return MOSQ_ERR_INVAL;
	}
	struct auth_passwd *p = mosquitto_calloc(1, sizeof(*p));
	if (p) oatable_init(&p->index, rec_hash, p, &broker_alloc);
	int rc = p ? MOSQ_ERR_SUCCESS : MOSQ_ERR_NOMEM;
	char line[PW_LINE_MAX];
	int lineno = 0;
	while (rc == MOSQ_ERR_SUCCESS && fgets(line, sizeof(line), f)) {
		lineno++;
		rc = load_line(p, path, lineno, line);
	}
	fclose(f);
	OPENSSL_cleanse(line, sizeof(line));
	if (rc == MOSQ_ERR_SUCCESS) {
		/* The blob grew by doubling: give back what the last step left over. */
		unsigned char *b = p->used ? mosquitto_realloc(p->blob, p->used) : NULL;
		if (b) {
			p->blob = b;
			p->cap = p->used;
		}
		*out = p;
		mosquitto_log_printf(MOSQ_LOG_INFO, CHAT_LOG_PREFIX "password file %s: %zu users", path,
				     p->index.count);
		return MOSQ_ERR_SUCCESS;
	}
	auth_passwd_free(p);
	return rc;
}

static bool digest(const struct pw_view *e, const char *password, unsigned char out[PW_HASH_LEN])
{
	size_t plen = strlen(password);
	if (e->kind == PW_PBKDF2) {
		return PKCS5_PBKDF2_HMAC(password, (int)plen, e->salt, (int)e->salt_len, e->iterations, EVP_sha512(),
					 PW_HASH_LEN, out) == 1;
	}
	unsigned int len = 0;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	bool ok = md && EVP_DigestInit_ex(md, EVP_sha512(), NULL) == 1 &&
		  EVP_DigestUpdate(md, password, plen) == 1 && EVP_DigestUpdate(md, e->salt, e->salt_len) == 1 &&
		  EVP_DigestFinal_ex(md, out, &len) == 1 && len == PW_HASH_LEN;
	EVP_MD_CTX_free(md);
	return ok;
}

/* The entry of user, or the dummy (the cost of mosquitto_passwd's default
 * entry: PBKDF2, 101 iterations, 12-byte salt) when there is none. */
static bool lookup(const struct auth_passwd *p, const char *user, struct pw_view *v)
{
	size_t len = strlen(user);
	uint32_t slot = len <= TOPIC_ID_MAX ? find_user(p, user, len) : 0;
	if (!slot) {
		*v = (struct pw_view){PW_PBKDF2, 101, p->dummy_salt, sizeof(p->dummy_salt), p->dummy_hash};
		return false;
	}
	const struct pw_rec *r = rec_at(p, slot);
	*v = (struct pw_view){(enum pw_kind)r->kind, (int)r->iterations, r->bytes, r->salt_len, r->hash};
	return true;
}

bool auth_passwd_check(const struct auth_passwd *p, const char *user, const char *password)
{
	struct pw_view e;
	unsigned char h[PW_HASH_LEN];
	if (!p || !user || !password) return false;
	bool known = lookup(p, user, &e);
	bool ok = digest(&e, password, h) && CRYPTO_memcmp(h, e.hash, PW_HASH_LEN) == 0;
	OPENSSL_cleanse(h, sizeof(h));
	return known && ok;
}
