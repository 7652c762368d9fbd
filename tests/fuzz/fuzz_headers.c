/* fuzz_headers.c — header values from outside, as the gateway reads them:
 * a client's Authorization, an operator's If-Match and X-Operator, Groq's
 * x-ratelimit-* answer headers (Go durations included). The input is a
 * header block, "Name: value" per line. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "gateway.h"
#include "gotime.h"
#include "httpd.h"
#include "util.h"

static void one(char *line)
{
	char *colon = strchr(line, ':');
	if (!colon)
		return;
	*colon = '\0';
	const char *name = line, *val = colon + 1;
	while (*val == ' ' || *val == '\t')
		val++;
	const char *b = bearer_token(val);
	if (b && (b < val || b >= val + strlen(val)))
		__builtin_trap(); /* the token lies inside the value */
	int64_t ver = 0;
	int r = spec_if_match(val, &ver);
	if (r < -1 || r > 1)
		__builtin_trap();
	char label[128];
	spec_label(val, label, sizeof label);
	for (const char *s = label; *s; s++)
		if (!isprint((unsigned char)*s))
			__builtin_trap(); /* nothing unprintable reaches the audit log */
	struct headroom hr = { 0 };
	headroom_header(&hr, name, val);
	gotime_parse_ms(val);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = xstrndup((const char *)data, size); /* a header value ends at NUL */
	char *save = NULL;
	for (char *l = strtok_r(s, "\r\n", &save); l; l = strtok_r(NULL, "\r\n", &save))
		one(l);
	free(s);
	return 0;
}
