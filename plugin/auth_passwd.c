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
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <uthash.h>

#include "chat.h"
#include "topic.h"

#define PW_SALT_MAX 64
#define PW_HASH_LEN 64 /* SHA-512 */
#define PW_MAX_ITERATIONS 10000000L
#define PW_LINE_MAX 1024

enum pw_kind { PW_SHA512 = 6, PW_PBKDF2 = 7 };

struct pw_entry {
	char user[TOPIC_ID_MAX + 1];
	enum pw_kind kind;
	int iterations;
	unsigned char salt[PW_SALT_MAX];
	size_t salt_len;
	unsigned char hash[PW_HASH_LEN];
	UT_hash_handle hh;
};

struct auth_passwd {
	struct pw_entry *users;
	struct pw_entry dummy; /* hashed for unknown users */
};

void auth_passwd_free(struct auth_passwd *p)
{
	if (!p) return;
	struct pw_entry *e, *tmp;
	HASH_ITER(hh, p->users, e, tmp) {
		HASH_DEL(p->users, e);
		OPENSSL_cleanse(e, sizeof(*e));
		free(e);
	}
	free(p);
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

/* Fills e from the hash text of one line; returns false when unsupported. */
static bool parse_hash(char *text, struct pw_entry *e)
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
	long sl = auth_b64_decode(salt, strlen(salt), e->salt, sizeof(e->salt));
	long hl = auth_b64_decode(hash, strlen(hash), e->hash, sizeof(e->hash));
	if (sl <= 0 || hl != PW_HASH_LEN) return false;
	e->salt_len = (size_t)sl;
	return true;
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
	struct pw_entry *e = calloc(1, sizeof(*e));
	if (!e) return MOSQ_ERR_NOMEM;
	memcpy(e->user, line, ulen);
	if (!parse_hash(colon + 1, e)) {
		mosquitto_log_printf(MOSQ_LOG_WARNING,
				     CHAT_LOG_PREFIX "%s:%d: user %s has no $6$ or $7$ hash (plain text is not "
						     "accepted; use mosquitto_passwd), line skipped",
				     path, lineno, e->user);
		free(e);
		return MOSQ_ERR_SUCCESS;
	}
	struct pw_entry *old = NULL;
	HASH_FIND_STR(p->users, e->user, old);
	if (old) {
		mosquitto_log_printf(MOSQ_LOG_WARNING, CHAT_LOG_PREFIX "%s:%d: user %s listed again, the later line wins",
				     path, lineno, e->user);
		HASH_DEL(p->users, old);
		free(old);
	}
	HASH_ADD_STR(p->users, user, e);
	return MOSQ_ERR_SUCCESS;
}

int auth_passwd_load(const char *path, struct auth_passwd **out)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		mosquitto_log_printf(MOSQ_LOG_ERR, CHAT_LOG_PREFIX "cannot open password file %s: %s", path,
				     strerror(errno));
		return MOSQ_ERR_INVAL;
	}
	struct auth_passwd *p = calloc(1, sizeof(*p));
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
		/* The dummy costs what mosquitto_passwd's default entry costs. */
		p->dummy.kind = PW_PBKDF2;
		p->dummy.iterations = 101;
		p->dummy.salt_len = 12;
		*out = p;
		mosquitto_log_printf(MOSQ_LOG_INFO, CHAT_LOG_PREFIX "password file %s: %u users", path,
				     HASH_COUNT(p->users));
		return MOSQ_ERR_SUCCESS;
	}
	auth_passwd_free(p);
	return rc;
}

static bool digest(const struct pw_entry *e, const char *password, unsigned char out[PW_HASH_LEN])
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

bool auth_passwd_check(const struct auth_passwd *p, const char *user, const char *password)
{
	const struct pw_entry *e = NULL;
	unsigned char h[PW_HASH_LEN];
	if (!p || !user || !password) return false;
	HASH_FIND_STR(p->users, user, e);
	bool known = e != NULL;
	if (!known) e = &p->dummy;
	bool ok = digest(e, password, h) && CRYPTO_memcmp(h, e->hash, PW_HASH_LEN) == 0;
	OPENSSL_cleanse(h, sizeof(h));
	return known && ok;
}
