/* gotime.c — see gotime.h. */
#include "gotime.h"

#include "buf.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* without printf: every answer carries two or four of these */
void gotime_format(int64_t ms, char *out, size_t outlen)
{
	char b[64], *p = b; /* (each i64_text's NUL is written over next) */
	if (ms <= 0) {
		*p++ = '0';
	} else {
		int64_t h = ms / 3600000, m = (ms / 60000) % 60, s = (ms / 1000) % 60, frac = ms % 1000;
		if (h) {
			p += i64_text(p, h);
			*p++ = 'h';
		}
		if (h || m) {
			p += i64_text(p, m);
			*p++ = 'm';
		}
		p += i64_text(p, s);
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

/* A plain decimal ("7", "7.66", ".5") of at most 15 digits: its value,
 * which is then exactly what strtod gives (a mantissa below 2^53 divided
 * by an exact power of ten is correctly rounded), without strtod's cost
 * (Groq sends two of these with every answer). Anything else (more digits,
 * an exponent, a sign, "inf") is left to strtod: false. */
static bool plain_decimal(const char *p, double *v, const char **end)
{
	static const double pow10[] = { 1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15 };
	int64_t m = 0;
	int digits = 0, frac = 0;
	bool dot = false;
	for (;; p++) {
		if (*p >= '0' && *p <= '9') {
			if (++digits > 15)
				return false;
			m = m * 10 + (*p - '0');
			frac += dot;
		} else if (*p == '.' && !dot) {
			dot = true;
		} else {
			break;
		}
	}
	if (!digits || *p == 'e' || *p == 'E')
		return false;
	*v = (double)m / pow10[frac];
	*end = p;
	return true;
}

int64_t gotime_parse_ms(const char *s)
{
	if (!s || !*s)
		return -1;
	double total = 0;
	const char *p = s;
	while (*p) {
		double v;
		const char *end;
		if (!plain_decimal(p, &v, &end)) {
			char *e;
			v = strtod(p, &e);
			end = e;
			if (end == p || !isfinite(v) || v < 0) /* strtod takes "inf" and "nan" too */
				return -1;
		}
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
