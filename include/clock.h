/* clock.h — an injectable clock. Everything on the request path asks a
 * clock_src for the time, so tests can freeze and step it. */
#ifndef GG_CLOCK_H
#define GG_CLOCK_H

#include <stddef.h>
#include <stdint.h>

typedef struct clock_src {
	int64_t (*now_ms)(void *arg); /* milliseconds since the epoch */
	void *arg;
} clock_src;

extern const clock_src clock_real;

/* Tests only: clock_real shifted by GROQGATE_TEST_CLOCK_OFFSET_MS (whole
 * milliseconds, may be negative) when it is set, read once at start; 0,
 * or -1 with *cause (allocated) when it is not a whole number. */
int clock_offset_from_env(char **cause);

static inline int64_t clock_now(const clock_src *c)
{
	return c->now_ms(c->arg);
}

/* Start of the UTC calendar month containing t (ms), and of the next one. */
int64_t month_start_ms(int64_t t);
int64_t month_next_ms(int64_t t);
/* Start of the UTC day containing t (ms), and of its ISO week (Monday
 * 00:00 UTC). */
int64_t day_start_ms(int64_t t);
int64_t week_start_ms(int64_t t);
/* "YYYY-MM-DD" as the ms of its UTC midnight, or -1 when it is not a
 * date (2026-02-30 is not). */
int64_t utc_date_ms(const char *s);
/* "2026-11" for t. */
void month_label(int64_t t, char out[8]);
/* RFC 3339 UTC "2026-11-26T21:24:21Z" into out (>= 21 bytes). */
void time_iso(int64_t ms, char *out, size_t outlen);

#endif
