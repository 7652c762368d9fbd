/* gotime.c — see gotime.h. */
#include "gotime.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void gotime_format(int64_t ms, char *out, size_t outlen)
{
	if (ms <= 0) {
		snprintf(out, outlen, "0s");
		return;
	}
	int64_t h = ms / 3600000, m = (ms / 60000) % 60, s = (ms / 1000) % 60, frac = ms % 1000;
	char sec[24];
	if (frac) {
		/* centiseconds as Groq does ("59.56s"); trailing zero dropped */
		int cs = (int)((frac + 5) / 10);
		if (cs >= 100) {
			cs = 99;
		}
		if (cs % 10 == 0)
			snprintf(sec, sizeof sec, "%lld.%ds", (long long)s, cs / 10);
		else
			snprintf(sec, sizeof sec, "%lld.%02ds", (long long)s, cs);
	} else {
		snprintf(sec, sizeof sec, "%llds", (long long)s);
	}
	if (h)
		snprintf(out, outlen, "%lldh%lldm%s", (long long)h, (long long)m, sec);
	else if (m)
		snprintf(out, outlen, "%lldm%s", (long long)m, sec);
	else
		snprintf(out, outlen, "%s", sec);
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
