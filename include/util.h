/* util.h — allocation that never returns NULL, small string helpers.
 * Every x*() aborts the process on out-of-memory (as htop and redis do):
 * callers never check for NULL. The caller frees what x*() returns. */
#ifndef GG_UTIL_H
#define GG_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GG_VERSION "0.1.0"
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define GG_PRINTF(f, a) __attribute__((format(printf, f, a)))

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
/* a, b, ... concatenated (the list ends with NULL): no format parsing,
 * for strings built once per request */
char *xconcat(const char *first, ...);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) GG_PRINTF(1, 2);
char *xvasprintf(const char *fmt, va_list ap) GG_PRINTF(1, 0);

/* Sets *cause (if non-NULL) to an allocated message; returns -1. */
int fail(char **cause, const char *fmt, ...) GG_PRINTF(2, 3);

/* Prints "prog: what: cause" (what may be NULL) to stderr, frees cause,
 * and returns code: for main()'s error exits. */
int report(const char *prog, const char *what, char *cause, int code);
bool str_starts(const char *s, const char *prefix);
bool str_ends(const char *s, const char *suffix);
bool str_eq(const char *a, const char *b); /* NULL-safe */
/* Parses "HOST:PORT" (PORT 0..65535). host is written into a buffer of
 * hostlen bytes. Returns 0, or -1 with *cause. */
int parse_hostport(const char *s, char *host, size_t hostlen, int *port, char **cause);
/* Strict decimal parse of a whole string; returns false on junk/overflow. */
bool parse_i64(const char *s, int64_t *out);
/* Wall clock, milliseconds and microseconds since the epoch. */
int64_t wall_ms(void);
int64_t mono_us(void);
/* Checks that a file holding secrets is not readable by group/other.
 * Returns 0, or -1 with *cause naming the file and its mode. */
int file_check_private(const char *path, char **cause);
/* "~/x" as $HOME/x (allocated; NULL for NULL) */
char *path_home(const char *p);
/* the one line of a private token file (mode-checked, ~ expanded),
 * allocated, or NULL with *cause; the caller wipes and frees it */
char *token_file_read(const char *file, char **cause);
/* Reads a whole file (up to max bytes) into an allocated NUL-terminated
 * string; returns NULL with *cause. */
char *file_read(const char *path, size_t max, size_t *len, char **cause);
/* Trims leading/trailing whitespace in place; returns s. */
char *str_trim(char *s);

#endif
