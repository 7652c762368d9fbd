/* secret.c — see secret.h. Uses OpenSSL's libcrypto for SHA-256 and
 * randomness. */
#include "secret.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

void sha256_hex(const void *data, size_t len, char out[SHA256_HEX_LEN + 1])
{
	/* fetched once: EVP_sha256() makes OpenSSL 3 look the digest up on
	 * every call (4x the cost of hashing a token); one context per thread */
	static EVP_MD *sha;
	static _Thread_local EVP_MD_CTX *ctx;
	if (!sha)
		sha = EVP_MD_fetch(NULL, "SHA256", NULL);
	if (!ctx)
		ctx = EVP_MD_CTX_new();
	unsigned char md[32];
	unsigned int mdlen = 0;
	if (!sha || !ctx || !EVP_DigestInit_ex(ctx, sha, NULL) || !EVP_DigestUpdate(ctx, data, len) ||
	    !EVP_DigestFinal_ex(ctx, md, &mdlen))
		EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
	static const char hex[] = "0123456789abcdef";
	for (int i = 0; i < 32; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[64] = '\0';
}

bool ct_equal(const void *a, const void *b, size_t len)
{
	const volatile unsigned char *x = a, *y = b;
	unsigned char d = 0;
	for (size_t i = 0; i < len; i++)
		d |= x[i] ^ y[i];
	return d == 0;
}

char *random_token(const char *prefix, size_t nbytes)
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	size_t pl = strlen(prefix);
	char *s = xmalloc(pl + nbytes + 1);
	memcpy(s, prefix, pl);
	unsigned char *rnd = xmalloc(nbytes);
	if (RAND_bytes(rnd, (int)nbytes) != 1) {
		fprintf(stderr, "fatal: no randomness available\n");
		abort();
	}
	for (size_t i = 0; i < nbytes; i++)
		s[pl + i] = alphabet[rnd[i] % 62]; /* 62*4 = 248: slight bias, fine for 190+ bits */
	s[pl + nbytes] = '\0';
	secret_wipe(rnd, nbytes);
	free(rnd);
	return s;
}

void secret_fingerprint(const char *secret, char *out, size_t outlen)
{
	if (!secret || !*secret) {
		snprintf(out, outlen, "-");
		return;
	}
	size_t n = strlen(secret);
	const char *us = strchr(secret, '_');
	int pl = us && us - secret < 8 ? (int)(us - secret) + 1 : 0;
	if (n < (size_t)pl + 8) { /* too short to show anything safely */
		snprintf(out, outlen, "%.*s…", pl, secret);
		return;
	}
	snprintf(out, outlen, "%.*s…%s", pl, secret, secret + n - 4);
}

void secret_wipe(void *p, size_t n)
{
	if (p)
		OPENSSL_cleanse(p, n);
}

void secret_free(char *s)
{
	if (!s)
		return;
	secret_wipe(s, strlen(s));
	free(s);
}
