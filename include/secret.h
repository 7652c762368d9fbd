/* secret.h — hashing, fingerprints and handling of secrets.
 * Secrets (Groq keys, client and admin tokens) are never logged or shown:
 * only their fingerprints ("gsk_…abcd") are. */
#ifndef GG_SECRET_H
#define GG_SECRET_H

#include <stdbool.h>
#include <stddef.h>

#define SHA256_HEX_LEN 64

/* out receives 64 lowercase hex chars and a NUL. */
void sha256_hex(const void *data, size_t len, char out[SHA256_HEX_LEN + 1]);
/* Constant-time comparison of two equal-length byte strings. */
bool ct_equal(const void *a, const void *b, size_t len);
/* Fills out with prefix followed by nbytes of randomness as base62-ish hex;
 * returns an allocated string (caller frees and should secret_wipe). */
char *random_token(const char *prefix, size_t nbytes);
/* "gsk_…abcd" (the prefix up to the first '_' inclusive, an ellipsis, the
 * last 4 chars); never more. Writes at most outlen bytes. */
void secret_fingerprint(const char *secret, char *out, size_t outlen);
/* Overwrites and frees a secret string; NULL-safe. */
void secret_free(char *s);
void secret_wipe(void *p, size_t n);

#endif
