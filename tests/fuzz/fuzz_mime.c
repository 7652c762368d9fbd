/* fuzz_mime.c — a Content-Type and a form body as the gateway reads them
 * (the input's first line is the Content-Type, the rest the body): the
 * media type parser, the multipart parser, and the property the audio
 * route relies on — a form rebuilt from its parts' ranges (as proxy.c does
 * when it sets response_format) reads back as the same parts. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "buf.h"
#include "mime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	const char *nl = memchr(s, '\n', size);
	if (!nl)
		return 0;
	char ct[512];
	size_t cl = (size_t)(nl - s);
	if (cl >= sizeof ct || memchr(s, 0, cl))
		return 0;
	memcpy(ct, s, cl);
	ct[cl] = '\0';
	struct mediatype mt;
	const char *why = NULL;
	if (mediatype_parse(ct, &mt, &why) != 0 || !mt.boundary[0])
		return 0;
	const char *body = nl + 1;
	size_t len = size - cl - 1;
	struct mform f;
	if (mform_parse(body, len, mt.boundary, &f, &why) != 0) {
		if (f.n || f.parts)
			__builtin_trap(); /* a refusal leaves nothing behind */
		return 0;
	}
	buf b;
	buf_init(&b);
	for (int i = 0; i < f.n; i++) {
		const struct mpart *p = &f.parts[i];
		if (p->start > p->end || p->end > len || p->data < body + p->start || p->data + p->len != body + p->end)
			__builtin_trap(); /* every part lies inside the body, its data at its end */
		int n;
		const struct mpart *g = mform_get(&f, p->name, &n);
		if (n < 1 || (n == 1) != (g != NULL))
			__builtin_trap();
		if (i)
			buf_add(&b, "\r\n", 2);
		buf_add(&b, body + p->start, p->end - p->start);
	}
	buf_addf(&b, "\r\n--%s--\r\n", mt.boundary);
	if (f.n == 0) { /* (nothing to rebuild: the gateway refuses a form without a model) */
		mform_free(&f);
		buf_free(&b);
		return 0;
	}
	struct mform r;
	if (mform_parse(b.data, b.len, mt.boundary, &r, &why) != 0 || r.n != f.n)
		__builtin_trap(); /* the rebuilt form reads back */
	for (int i = 0; i < f.n; i++)
		if (strcmp(r.parts[i].name, f.parts[i].name) != 0 || r.parts[i].len != f.parts[i].len ||
		    memcmp(r.parts[i].data, f.parts[i].data, f.parts[i].len) != 0)
			__builtin_trap();
	mform_free(&r);
	mform_free(&f);
	buf_free(&b);
	return 0;
}
