/* fuzz_meter.c — Groq's answers as the gateway reads them: the SSE splitter
 * and usage reader (fed in two pieces at a point chosen by the input; chat
 * chunks and Responses events alike), and the non-streamed usage scanner. */
#include <string.h>

#include "fuzz.h"
#include "gateway.h"

static void sink(void *arg, const char *ev, size_t len)
{
	size_t *n = arg;
	*n += len;
	(void)ev;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sse s;
	sse_init(&s);
	size_t cut = size ? data[0] % (size + 1) : 0, out = 0;
	sse_feed(&s, (const char *)data, cut, sink, &out);
	sse_feed(&s, (const char *)data + cut, size - cut, sink, &out);
	if (out > size) /* never emits more than it was given */
		__builtin_trap();
	if (s.usage.seen && (s.usage.prompt < 0 || s.usage.completion < 0 || s.usage.cached < 0))
		__builtin_trap(); /* chat's, x_groq's or a Responses event's usage: never negative */
	sse_free(&s);
	struct usage u;
	usage_from_json((const char *)data, size, &u);
	if (u.seen && (u.prompt < 0 || u.completion < 0 || u.cached < 0))
		__builtin_trap();
	return 0;
}
