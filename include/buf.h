/* buf.h — a growable byte buffer (always NUL-terminated for convenience).
 * A buf owns its data; buf_free() releases it, buf_detach() hands it over. */
#ifndef GG_BUF_H
#define GG_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "util.h"

typedef struct buf {
	char *data;
	size_t len;
	size_t cap;
} buf;

void buf_init(buf *b);
void buf_free(buf *b);
void buf_reset(buf *b);
void buf_add_slow(buf *b, const void *p, size_t n);
/* Appends n bytes (inline: the hot paths write many small pieces). */
static inline void buf_add(buf *b, const void *p, size_t n)
{
	if (b->len + n + 1 <= b->cap) {
		if (!n)
			return; /* (p may be NULL) */
		memcpy(b->data + b->len, p, n);
		b->len += n;
		b->data[b->len] = '\0';
	} else {
		buf_add_slow(b, p, n);
	}
}
/* Makes room for n more bytes at once (fewer reallocations). */
void buf_reserve(buf *b, size_t n);
/* Appends a string (inline: a literal's length is known when compiled). */
static inline void buf_adds(buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}
void buf_addf(buf *b, const char *fmt, ...) GG_PRINTF(2, 3);
/* Appends a decimal integer (no printf: for hot paths). */
void buf_addi(buf *b, int64_t v);
/* v in decimal into out, NUL-ended (at most 20 characters); its length */
size_t i64_text(char out[24], int64_t v);
/* Appends s as a JSON string literal (quoted, escaped). */
void json_str(buf *b, const char *s);
/* Removes the first n bytes. */
void buf_consume(buf *b, size_t n);
/* Returns the data (caller frees) and leaves b empty. */
char *buf_detach(buf *b);

#endif
