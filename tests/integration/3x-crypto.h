/* SPDX-License-Identifier: MIT */
/*
 * Key making and JWT checking for the FCM and APNs push tests (OpenSSL):
 * the tests make the providers' keys, give the bridge the private half and
 * verify what it signed with the public half.
 */
#ifndef CHAT_TEST_3X_CRYPTO_H
#define CHAT_TEST_3X_CRYPTO_H

#include <stdbool.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "base64.h"

/* A new RSA-2048 ("RSA") or P-256 ("EC") key. */
static inline EVP_PKEY *p_keygen(const char *type)
{
	EVP_PKEY *k = strcmp(type, "RSA") == 0 ? EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048)
	                                       : EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	assert_non_null(k);
	return k;
}

/* The private key as PKCS#8 PEM (malloc'd). */
static inline char *p_key_pem(EVP_PKEY *k)
{
	BIO *bio = BIO_new(BIO_s_mem());
	assert_true(PEM_write_bio_PrivateKey(bio, k, NULL, NULL, 0, NULL, NULL) == 1);
	char *data = NULL;
	long n = BIO_get_mem_data(bio, &data);
	char *out = malloc((size_t)n + 1);
	memcpy(out, data, (size_t)n);
	out[n] = '\0';
	BIO_free(bio);
	return out;
}

/* Decodes the index-th part of a compact JWT into out (NUL-terminated). */
static inline long p_jwt_part(const char *jwt, int index, unsigned char *out, size_t cap)
{
	const char *p = jwt;
	for (int i = 0; i < index; i++) {
		p = strchr(p, '.');
		assert_non_null(p);
		p++;
	}
	size_t len = strcspn(p, ".");
	long n = base64_decode(p, len, out, cap - 1, BASE64_URL);
	assert_true(n >= 0);
	out[n] = '\0';
	return n;
}

/* True when the JWT's signature (RS256 or ES256 by key type) verifies. */
static inline bool p_jwt_verify(const char *jwt, EVP_PKEY *key)
{
	const char *last = strrchr(jwt, '.');
	unsigned char sig[512], der[128];
	long n = p_jwt_part(jwt, 2, sig, sizeof(sig));
	size_t siglen = (size_t)n;
	const unsigned char *check = sig;
	if (EVP_PKEY_base_id(key) == EVP_PKEY_EC) {
		if (n != 64) return false;
		ECDSA_SIG *es = ECDSA_SIG_new();
		ECDSA_SIG_set0(es, BN_bin2bn(sig, 32, NULL), BN_bin2bn(sig + 32, 32, NULL));
		unsigned char *w = der;
		int dlen = i2d_ECDSA_SIG(es, &w);
		ECDSA_SIG_free(es);
		if (dlen <= 0) return false;
		check = der;
		siglen = (size_t)dlen;
	}
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	bool ok = EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, key) == 1 &&
	          EVP_DigestVerify(ctx, check, siglen, (const unsigned char *)jwt, (size_t)(last - jwt)) == 1;
	EVP_MD_CTX_free(ctx);
	return ok;
}

#endif
