/* gotime.h — Go-style durations as Groq writes them in x-ratelimit-reset-*:
 * "7.66s", "2m59.56s", "1h2m3s", "0s". */
#ifndef GG_GOTIME_H
#define GG_GOTIME_H

#include <stddef.h>
#include <stdint.h>

/* Formats ms milliseconds into out (at least 32 bytes). */
void gotime_format(int64_t ms, char *out, size_t outlen);
/* Parses a Go duration ("2m59.56s", "120ms", "1h"); returns -1 on junk. */
int64_t gotime_parse_ms(const char *s);

#endif
