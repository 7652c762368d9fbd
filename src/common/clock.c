/* clock.c — see clock.h. */
#define _DEFAULT_SOURCE /* timegm */
#include "clock.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util.h"

static int64_t offset_ms; /* GROQGATE_TEST_CLOCK_OFFSET_MS: tests only */

static int64_t real_now(void *arg)
{
	(void)arg;
	return wall_ms() + offset_ms;
}

int clock_offset_from_env(char **cause)
{
	const char *v = getenv("GROQGATE_TEST_CLOCK_OFFSET_MS");
	if (!v || !*v)
		return 0;
	char *end;
	errno = 0;
	long long n = strtoll(v, &end, 10);
	if (errno || *end || end == v) {
		*cause = xasprintf("GROQGATE_TEST_CLOCK_OFFSET_MS must be a whole number of milliseconds (tests only), "
				   "not '%s'",
				   v);
		return -1;
	}
	offset_ms = n;
	return 0;
}

const clock_src clock_real = { real_now, NULL };

int64_t month_start_ms(int64_t t)
{
	time_t s = (time_t)(t / 1000);
	struct tm tm;
	gmtime_r(&s, &tm);
	tm.tm_mday = 1;
	tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
	return (int64_t)timegm(&tm) * 1000;
}

int64_t month_next_ms(int64_t t)
{
	time_t s = (time_t)(t / 1000);
	struct tm tm;
	gmtime_r(&s, &tm);
	tm.tm_mday = 1;
	tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
	tm.tm_mon += 1;
	return (int64_t)timegm(&tm) * 1000;
}

void month_label(int64_t t, char out[8])
{
	time_t s = (time_t)(t / 1000);
	struct tm tm;
	gmtime_r(&s, &tm);
	snprintf(out, 8, "%04u-%02u", (unsigned)(tm.tm_year + 1900) % 10000u, (unsigned)(tm.tm_mon + 1) % 100u);
}

void time_iso(int64_t ms, char *out, size_t outlen)
{
	if (ms <= 0) {
		snprintf(out, outlen, "-");
		return;
	}
	time_t s = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&s, &tm);
	strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int64_t day_start_ms(int64_t t)
{
	int64_t d = t / 86400000;
	if (t < 0 && t % 86400000)
		d--;
	return d * 86400000;
}

int64_t week_start_ms(int64_t t)
{
	int64_t d = day_start_ms(t) / 86400000;
	int64_t dow = ((d + 3) % 7 + 7) % 7; /* 1970-01-01 was a Thursday: Monday 0 */
	return (d - dow) * 86400000;
}

/* YYYY-MM-DD as the ms of its UTC midnight, or -1 */
int64_t utc_date_ms(const char *s)
{
	int y, m, d;
	char tail;
	if (!s || strlen(s) != 10 || sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3 || m < 1 || m > 12 || d < 1 ||
	    d > 31 || y < 2000 || y > 2200)
		return -1;
	struct tm tm = { .tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d };
	int64_t t = (int64_t)timegm(&tm) * 1000;
	char back[16];
	time_t secs = (time_t)(t / 1000);
	struct tm chk;
	gmtime_r(&secs, &chk);
	strftime(back, sizeof back, "%Y-%m-%d", &chk);
	return strcmp(back, s) == 0 ? t : -1; /* no 2026-02-30 */
}
