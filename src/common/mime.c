/* mime.c — media types and multipart/form-data (see mime.h).
 *
 * What is refused, and why: a form is only safe to govern when the gateway
 * and Groq read the same fields from it. So anything two parsers may read
 * differently is refused instead of guessed at: a preamble before the
 * first delimiter, anything but CRLF after a delimiter, folded part
 * headers, a Content-Disposition other than form-data, a parameter named
 * twice, extended (name*=) parameters, backslashes in quoted values, and
 * (through mform_get) a field named twice or in another letter case. */
#include "mime.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util.h"

#define MAX_PARTS 256

static int mfail(const char **why, const char *what)
{
	*why = what;
	return -1;
}

/* RFC 9110 tchar */
static bool tchar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

static const char *ows(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	return p;
}

/* One parameter list: calls fn for each name=value (value decoded into
 * val, at most vn-1 bytes). Returns 0 or -1 with *why. */
typedef int (*param_fn)(void *arg, const char *name, size_t nlen, const char *val, const char **why);
static int params(const char *p, const char *end, param_fn fn, void *arg, const char **why)
{
	char seen[8][32];
	int nseen = 0;
	for (;;) {
		p = ows(p, end);
		if (p == end)
			return 0;
		if (*p != ';')
			return mfail(why, "';' expected between parameters");
		p = ows(p + 1, end);
		if (p == end)
			return 0; /* a trailing ';' is tolerated */
		const char *n0 = p;
		while (p < end && tchar(*p))
			p++;
		size_t nl = (size_t)(p - n0);
		if (!nl || p == end || *p != '=')
			return mfail(why, "a parameter must be name=value");
		if (n0[nl - 1] == '*')
			return mfail(why, "extended (name*=) parameters are not accepted");
		for (int i = 0; i < nseen; i++)
			if (strlen(seen[i]) == nl && strncasecmp(seen[i], n0, nl) == 0)
				return mfail(why, "a parameter is given twice");
		if (nseen < 8 && nl < sizeof seen[0]) {
			memcpy(seen[nseen], n0, nl);
			seen[nseen++][nl] = '\0';
		}
		p++;
		char val[256];
		size_t vl = 0;
		if (p < end && *p == '"') {
			for (p++; p < end && *p != '"'; p++) {
				if (*p == '\\')
					return mfail(why, "a backslash in a quoted parameter is not accepted");
				if ((unsigned char)*p < 0x20 && *p != '\t')
					return mfail(why, "a control character in a parameter");
				if (vl + 1 >= sizeof val)
					return mfail(why, "a parameter value is too long");
				val[vl++] = *p;
			}
			if (p == end)
				return mfail(why, "an unterminated quoted parameter");
			p++;
		} else {
			const char *v0 = p;
			while (p < end && tchar(*p))
				p++;
			vl = (size_t)(p - v0);
			if (!vl)
				return mfail(why, "a parameter has no value");
			if (vl >= sizeof val)
				return mfail(why, "a parameter value is too long");
			memcpy(val, v0, vl);
		}
		val[vl] = '\0';
		if (fn && fn(arg, n0, nl, val, why) != 0)
			return -1;
	}
}

static int mt_param(void *arg, const char *name, size_t nlen, const char *val, const char **why)
{
	struct mediatype *mt = arg;
	if (nlen == 8 && strncasecmp(name, "boundary", 8) == 0) {
		size_t n = strlen(val);
		if (n < 1 || n > MIME_BOUNDARY_MAX)
			return mfail(why, "the boundary must be 1 to 70 characters");
		memcpy(mt->boundary, val, n + 1);
	}
	return 0;
}

int mediatype_parse(const char *value, struct mediatype *mt, const char **why)
{
	memset(mt, 0, sizeof *mt);
	if (!value)
		return mfail(why, "no Content-Type");
	const char *end = value + strlen(value), *p = ows(value, end);
	const char *t0 = p;
	while (p < end && tchar(*p))
		p++;
	if (p == t0 || p == end || *p != '/')
		return mfail(why, "a media type must be type/subtype");
	p++;
	const char *s0 = p;
	while (p < end && tchar(*p))
		p++;
	if (p == s0)
		return mfail(why, "a media type must be type/subtype");
	size_t tl = (size_t)(p - t0);
	if (tl >= sizeof mt->type)
		return mfail(why, "the media type is too long");
	for (size_t i = 0; i < tl; i++)
		mt->type[i] = (char)(t0[i] >= 'A' && t0[i] <= 'Z' ? t0[i] + 32 : t0[i]);
	mt->type[tl] = '\0';
	/* trailing whitespace is left to params (which skips it) */
	return params(p, end, mt_param, mt, why);
}

/* ---- multipart/form-data ------------------------------------------ */

struct disp {
	char *name, *filename;
	bool has_name;
};

static int disp_param(void *arg, const char *name, size_t nlen, const char *val, const char **why)
{
	(void)why;
	struct disp *d = arg;
	if (nlen == 4 && strncasecmp(name, "name", 4) == 0) {
		d->name = xstrdup(val);
		d->has_name = true;
	} else if (nlen == 8 && strncasecmp(name, "filename", 8) == 0) {
		d->filename = xstrdup(val);
	}
	return 0;
}

/* the part headers in [p, end) (lines without the blank one) */
static int part_headers(const char *p, const char *end, struct disp *d, const char **why)
{
	bool got = false;
	while (p < end) {
		const char *eol = memmem(p, (size_t)(end - p), "\r\n", 2);
		if (!eol)
			eol = end;
		if (*p == ' ' || *p == '\t')
			return mfail(why, "folded part headers are not accepted");
		const char *colon = memchr(p, ':', (size_t)(eol - p));
		if (!colon || colon == p)
			return mfail(why, "a part header without a name");
		for (const char *q = p; q < colon; q++)
			if (!tchar(*q))
				return mfail(why, "a part header name with a character not allowed");
		if (colon - p == 19 && strncasecmp(p, "Content-Disposition", 19) == 0) {
			if (got)
				return mfail(why, "a part has two Content-Disposition headers");
			got = true;
			const char *v = ows(colon + 1, eol), *v0 = v;
			while (v < eol && tchar(*v))
				v++;
			if (v - v0 != 9 || strncasecmp(v0, "form-data", 9) != 0)
				return mfail(why, "a part's Content-Disposition must be form-data");
			if (params(v, eol, disp_param, d, why) != 0)
				return -1;
		}
		p = eol + 2;
	}
	if (!got || !d->has_name)
		return mfail(why, "a part has no Content-Disposition name");
	return 0;
}

void mform_free(struct mform *f)
{
	for (int i = 0; i < f->n; i++) {
		free(f->parts[i].name);
		free(f->parts[i].filename);
	}
	free(f->parts);
	f->parts = NULL;
	f->n = 0;
}

int mform_parse(const char *body, size_t len, const char *boundary, struct mform *f, const char **why)
{
	memset(f, 0, sizeof *f);
	size_t bl = boundary ? strlen(boundary) : 0;
	if (!bl || bl > MIME_BOUNDARY_MAX)
		return mfail(why, "no multipart boundary");
	char delim[MIME_BOUNDARY_MAX + 5]; /* CRLF "--" boundary */
	int dl = snprintf(delim, sizeof delim, "\r\n--%s", boundary);
	const char *end = body + len;
	/* the first delimiter starts the body (no preamble) */
	if (len < (size_t)dl - 2 || memcmp(body, delim + 2, (size_t)dl - 2) != 0)
		return mfail(why, "the body does not begin with the boundary");
	const char *p = body + dl - 2;
	int cap = 0;
	for (;;) {
		/* after a delimiter: "--" closes, CRLF starts a part */
		if (end - p >= 2 && p[0] == '-' && p[1] == '-') {
			p += 2;
			if (p != end && !(end - p == 2 && p[0] == '\r' && p[1] == '\n')) {
				mform_free(f);
				return mfail(why, "data after the closing boundary");
			}
			return 0;
		}
		if (end - p < 2 || p[0] != '\r' || p[1] != '\n') {
			mform_free(f);
			return mfail(why, "CRLF expected after a boundary");
		}
		const char *start = p - (dl - 2); /* the part's delimiter line */
		p += 2;
		const char *hend = memmem(p, (size_t)(end - p), "\r\n\r\n", 4);
		/* a part with no headers at all starts with the blank line */
		if (end - p >= 2 && p[0] == '\r' && p[1] == '\n')
			hend = p - 2;
		if (!hend) {
			mform_free(f);
			return mfail(why, "a part's headers do not end");
		}
		struct disp d = { 0 };
		if (hend < p || part_headers(p, hend, &d, why) != 0) {
			if (hend < p)
				mfail(why, "a part has no Content-Disposition name");
			free(d.name);
			free(d.filename);
			mform_free(f);
			return -1;
		}
		const char *data = hend + 4;
		const char *next = data <= end ? memmem(data, (size_t)(end - data), delim, (size_t)dl) : NULL;
		if (!next) {
			free(d.name);
			free(d.filename);
			mform_free(f);
			return mfail(why, "a part does not end with the boundary");
		}
		if (f->n == MAX_PARTS) {
			free(d.name);
			free(d.filename);
			mform_free(f);
			return mfail(why, "more than 256 parts");
		}
		if (f->n == cap) {
			cap = cap ? cap * 2 : 8;
			f->parts = xrealloc(f->parts, (size_t)cap * sizeof *f->parts);
		}
		f->parts[f->n++] = (struct mpart){ .name = d.name,
						   .filename = d.filename,
						   .data = data,
						   .len = (size_t)(next - data),
						   .start = (size_t)(start - body),
						   .end = (size_t)(next - body) };
		p = next + dl;
	}
}

const struct mpart *mform_get(const struct mform *f, const char *name, int *count)
{
	const struct mpart *hit = NULL;
	int n = 0;
	for (int i = 0; i < f->n; i++)
		if (strcasecmp(f->parts[i].name, name) == 0) {
			n++;
			if (strcmp(f->parts[i].name, name) == 0)
				hit = &f->parts[i];
		}
	*count = n;
	return n == 1 ? hit : NULL;
}
