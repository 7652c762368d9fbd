/* gotime.c — see gotime.h. */
#include "gotime.h"

#include "buf.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* v's digits (v >= 0) at p; past them */
static char *digits(char *p, int64_t v)
{
	char t[24];
	size_t n = i64_text(t, v);
	memcpy(p, t, n);
	return p + n;
}

/* without printf: every answer carries two or four of these */
void gotime_format(int64_t ms, char *out, size_t outlen)
{
	char b[64], *p = b;
	if (ms <= 0) {
		*p++ = '0';
	} else {
		int64_t h = ms / 3600000, m = (ms / 60000) % 60, s = (ms / 1000) % 60, frac = ms % 1000;
		if (h) {
			p = digits(p, h);
			*p++ = 'h';
		}
		if (h || m) {
			p = digits(p, m);
			*p++ = 'm';
		}
		p = digits(p, s);
		if (frac) { /* centiseconds as Groq does ("59.56s"); a trailing zero dropped */
			int cs = (int)((frac + 5) / 10);
			if (cs >= 100)
				cs = 99;
			*p++ = '.';
			*p++ = (char)('0' + cs / 10);
			if (cs % 10)
				*p++ = (char)('0' + cs % 10);
		}
	}
	*p++ = 's';
	if (!outlen)
		return;
	size_t n = (size_t)(p - b) < outlen ? (size_t)(p - b) : outlen - 1;
	memcpy(out, b, n);
	out[n] = '\0';
}

int64_t gotime_parse_ms(const char *s)
{
	if (!s || !*s)
		return -1;
	double total = 0;
	const char *p = s;
	while (*p) {
		char *end;
		double v = strtod(p, &end);
		if (end == p || !isfinite(v) || v < 0) /* strtod takes "inf" and "nan" too */
			return -1;
		p = end;
		double unit;
		if (strncmp(p, "ms", 2) == 0) {
			unit = 1;
			p += 2;
		} else if (strncmp(p, "us", 2) == 0 || strncmp(p, "µs", 3) == 0) {
			unit = 0.001;
			p += (*p == 'u') ? 2 : 3;
		} else if (*p == 'h') {
			unit = 3600000;
			p++;
		} else if (*p == 'm') {
			unit = 60000;
			p++;
		} else if (*p == 's') {
			unit = 1000;
			p++;
		} else {
			return -1;
		}
		total += v * unit;
		if (total > 9e15) /* ~285,000 years: no reset is that far */
			return -1;
	}
	return (int64_t)(total + 0.5);
}
