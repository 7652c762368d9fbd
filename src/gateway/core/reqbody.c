/* reqbody.c — a client's JSON body, checked whole and read without building
 * a tree (see core.h).
 *
 * The request path needs five top-level members of a body that is mostly
 * messages: building a tree of it (an allocation per string, number and
 * container) cost more than anything else the pipeline does with it. This
 * walks the body once with a stack of container kinds, checks it as
 * strictly as jansson does (RFC 8259 grammar, UTF-8, escapes and surrogate
 * pairs, no \u0000, integers that fit 64 bits, reals that do not overflow,
 * depth at most 2048, nothing after the value), and notes where the members
 * of interest are. A repeated key counts by its last value, as in jansson;
 * a governed member named twice, or a key that differs from one only in
 * letter case, is noted so that the request path can refuse the body (the
 * body Groq parses must be the body the gateway checked).
 * The fuzz harness (tests/fuzz/fuzz_policy.c) holds the two to agreeing. */
#include "core.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util.h"

#define MAX_DEPTH 2048

struct scan {
	const char *s, *p, *end;
	const char **why;
	struct reqbody *b; /* its line and col: where the scan failed */
};

static int bad(struct scan *c, const char *what)
{
	int line = 1, col = 1;
	for (const char *q = c->s; q < c->p && q < c->end; q++) {
		if (*q == '\n') {
			line++;
			col = 1;
		} else {
			col++;
		}
	}
	*c->why = what;
	c->b->line = line;
	c->b->col = col;
	return -1;
}

static void skip_ws(struct scan *c)
{
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
		c->p++;
}

static int hex4(const char *p, const char *end)
{
	if (end - p < 4)
		return -1;
	int v = 0;
	for (int i = 0; i < 4; i++) {
		char h = p[i];
		v <<= 4;
		if (h >= '0' && h <= '9')
			v |= h - '0';
		else if (h >= 'a' && h <= 'f')
			v |= h - 'a' + 10;
		else if (h >= 'A' && h <= 'F')
			v |= h - 'A' + 10;
		else
			return -1;
	}
	return v;
}

/* the length of the valid UTF-8 sequence at p (not ASCII), or 0 */
static int utf8_len(const unsigned char *p, const unsigned char *end)
{
	unsigned char b = p[0];
	int n;
	unsigned lo = 0x80, hi = 0xbf;
	if (b >= 0xc2 && b <= 0xdf)
		n = 2;
	else if (b >= 0xe0 && b <= 0xef) {
		n = 3;
		if (b == 0xe0)
			lo = 0xa0; /* overlong */
		else if (b == 0xed)
			hi = 0x9f; /* surrogates */
	} else if (b >= 0xf0 && b <= 0xf4) {
		n = 4;
		if (b == 0xf0)
			lo = 0x90;
		else if (b == 0xf4)
			hi = 0x8f; /* past U+10FFFF */
	} else
		return 0;
	if (end - p < n || p[1] < lo || p[1] > hi)
		return 0;
	for (int i = 2; i < n; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

/* a string at c->p (the opening quote); *esc set when it holds escapes */
static int string(struct scan *c, bool *esc)
{
	const unsigned char *p = (const unsigned char *)c->p + 1, *end = (const unsigned char *)c->end;
	*esc = false;
	while (p < end) {
		unsigned char b = *p;
		if (b == '"') {
			c->p = (const char *)p + 1;
			return 0;
		}
		if (b < 0x20) {
			c->p = (const char *)p;
			return bad(c, "control character in a string");
		}
		if (b == '\\') {
			*esc = true;
			if (end - p < 2) {
				c->p = (const char *)p;
				return bad(c, "unterminated string");
			}
			unsigned char e = p[1];
			if (e == 'u') {
				int u = hex4((const char *)p + 2, (const char *)end);
				if (u < 0 || u == 0) {
					c->p = (const char *)p;
					return bad(c, u == 0 ? "\\u0000 is not allowed" : "invalid \\u escape");
				}
				p += 6;
				if (u >= 0xdc00 && u <= 0xdfff) {
					c->p = (const char *)p - 6;
					return bad(c, "invalid Unicode (a lone low surrogate)");
				}
				if (u >= 0xd800 && u <= 0xdbff) {
					int l = end - p >= 6 && p[0] == '\\' && p[1] == 'u' ? hex4((const char *)p + 2, (const char *)end) : -1;
					if (l < 0xdc00 || l > 0xdfff) {
						c->p = (const char *)p - 6;
						return bad(c, "invalid Unicode (a high surrogate without its low one)");
					}
					p += 6;
				}
				continue;
			}
			if (!strchr("\"\\/bfnrt", e) || e == '\0') {
				c->p = (const char *)p;
				return bad(c, "invalid escape");
			}
			p += 2;
			continue;
		}
		if (b < 0x80) {
			p++;
			continue;
		}
		int n = utf8_len(p, end);
		if (!n) {
			c->p = (const char *)p;
			return bad(c, "invalid UTF-8 in a string");
		}
		p += n;
	}
	c->p = (const char *)end;
	return bad(c, "unterminated string");
}

static bool digit(const char *p, const char *end)
{
	return p < end && *p >= '0' && *p <= '9';
}

static int number(struct scan *c)
{
	const char *p = c->p, *end = c->end, *start = p;
	bool real = false;
	if (*p == '-')
		p++;
	if (!digit(p, end))
		return bad(c, "invalid number");
	if (*p == '0')
		p++;
	else
		while (digit(p, end))
			p++;
	if (p < end && *p == '.') {
		real = true;
		if (!digit(++p, end)) {
			c->p = p;
			return bad(c, "invalid number");
		}
		while (digit(p, end))
			p++;
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		real = true;
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			p++;
		if (!digit(p, end)) {
			c->p = p;
			return bad(c, "invalid number");
		}
		while (digit(p, end))
			p++;
	}
	size_t n = (size_t)(p - start);
	char small[64], *tmp = n < sizeof small ? small : xmalloc(n + 1);
	memcpy(tmp, start, n);
	tmp[n] = '\0';
	errno = 0;
	bool over;
	if (real) {
		double d = strtod(tmp, NULL);
		over = errno == ERANGE && (d == HUGE_VAL || d == -HUGE_VAL);
	} else {
		(void)strtoll(tmp, NULL, 10);
		over = errno == ERANGE;
	}
	if (tmp != small)
		free(tmp);
	if (over)
		return bad(c, real ? "real number overflow" : "too big integer");
	c->p = p;
	return 0;
}

static int literal(struct scan *c)
{
	static const char *const words[] = { "true", "false", "null" };
	for (int i = 0; i < 3; i++) {
		size_t n = strlen(words[i]);
		if ((size_t)(c->end - c->p) >= n && memcmp(c->p, words[i], n) == 0) {
			c->p += n;
			return 0;
		}
	}
	return bad(c, "invalid token");
}

static const char *const member_names[] = { "model", "stream", "max_tokens", "max_completion_tokens",
					    "messages", "max_output_tokens", "n", "input", "service_tier", "user" };
#define M_MESSAGES 4
#define NMEMBERS 10

/* which member of interest a top-level key names (-1: none); a key that is
 * one of them but for letter case is noted in b->variant */
static int member(struct reqbody *b, const char *k, size_t n, bool esc)
{
	char dec[32];
	if (esc) { /* "mod\u0065l" is "model" too */
		struct jspan v = { k - 1, n + 2 };
		char *d = jspan_string(v);
		if (!d)
			return -1;
		size_t dl = strlen(d);
		if (dl >= sizeof dec) {
			free(d);
			return -1;
		}
		memcpy(dec, d, dl + 1);
		free(d);
		k = dec;
		n = dl;
	}
	for (int i = 0; i < NMEMBERS; i++) {
		if (strlen(member_names[i]) != n)
			continue;
		if (memcmp(k, member_names[i], n) == 0)
			return i;
		if ((k[0] | 0x20) == member_names[i][0] && !b->variant[0] && strncasecmp(k, member_names[i], n) == 0)
			snprintf(b->variant, sizeof b->variant, "%.*s", (int)n, k);
	}
	return -1;
}

int reqbody_scan(const char *s, size_t len, struct reqbody *b, const char **why)
{
	memset(b, 0, sizeof *b);
	struct scan c = { s, s, s + len, why, b };
	struct jspan *spans[] = { &b->model,	&b->stream,		&b->max_tokens, &b->max_completion_tokens,
				  &b->messages, &b->max_output_tokens, &b->n,	       &b->input, &b->service_tier, &b->user };
	char *stack = xmalloc(MAX_DEPTH); /* 'o' or 'a' per open container */
	int depth = 0, key = -1, rc = -1;
	const char *vstart = NULL; /* where the current top-level value began */
	size_t count = 0;          /* elements of a top-level "messages" array */
	enum { VALUE, OBJ_FIRST, OBJ_KEY, ARR_FIRST, AFTER } st = VALUE;
	skip_ws(&c);
	if (c.p == c.end || *c.p != '{') {
		bad(&c, "'{' expected: the body must be a JSON object");
		goto out;
	}
	for (;;) {
		skip_ws(&c);
		if (c.p == c.end) {
			if (depth == 0 && st == AFTER)
				break;
			bad(&c, "unexpected end of the body");
			goto out;
		}
		char ch = *c.p;
		switch (st) {
		case VALUE:
			if (depth == 1)
				vstart = c.p;
			else if (depth == 2 && key == M_MESSAGES && stack[1] == 'a')
				count++;
			if (ch == '{' || ch == '[') {
				if (depth == MAX_DEPTH) {
					bad(&c, "maximum parsing depth reached");
					goto out;
				}
				stack[depth++] = ch == '{' ? 'o' : 'a';
				c.p++;
				st = ch == '{' ? OBJ_FIRST : ARR_FIRST;
				continue;
			}
			if (ch == '"') {
				bool esc;
				if (string(&c, &esc) != 0)
					goto out;
			} else if (ch == '-' || (ch >= '0' && ch <= '9')) {
				if (number(&c) != 0)
					goto out;
			} else if (literal(&c) != 0) {
				goto out;
			}
			st = AFTER;
			break;
		case OBJ_FIRST:
		case OBJ_KEY:
			if (ch == '}' && st == OBJ_FIRST) {
				if (depth == 1) {
					b->empty = true;
					b->close = (size_t)(c.p - s);
				}
				depth--;
				c.p++;
				st = AFTER;
				break;
			}
			if (ch != '"') {
				bad(&c, "string or '}' expected");
				goto out;
			}
			const char *k = c.p + 1;
			bool esc;
			if (string(&c, &esc) != 0)
				goto out;
			if (depth == 1) {
				key = member(b, k, (size_t)(c.p - 1 - k), esc);
				if (key == M_MESSAGES)
					count = 0;
			}
			skip_ws(&c);
			if (c.p == c.end || *c.p != ':') {
				bad(&c, "':' expected");
				goto out;
			}
			c.p++;
			st = VALUE;
			continue;
		case ARR_FIRST:
			if (ch == ']') {
				depth--;
				c.p++;
				st = AFTER;
				break;
			}
			st = VALUE;
			continue;
		case AFTER:
			if (depth == 0) {
				bad(&c, "end of the body expected");
				goto out;
			}
			if (ch == ',') {
				c.p++;
				st = stack[depth - 1] == 'o' ? OBJ_KEY : VALUE;
				continue;
			}
			if ((ch == '}' && stack[depth - 1] == 'o') || (ch == ']' && stack[depth - 1] == 'a')) {
				if (depth == 1)
					b->close = (size_t)(c.p - s);
				depth--;
				c.p++;
				break; /* a value ended (st stays AFTER) */
			}
			bad(&c, stack[depth - 1] == 'o' ? "',' or '}' expected" : "',' or ']' expected");
			goto out;
		}
		/* a value just ended: a top-level member's? */
		if (depth == 1 && key >= 0) {
			if (spans[key]->n && !b->dup)
				b->dup = member_names[key];
			spans[key]->p = vstart;
			spans[key]->n = (size_t)(c.p - vstart);
			if (key == M_MESSAGES)
				b->nmessages = vstart[0] == '[' ? count : 0;
		}
	}
	rc = 0;
out:
	free(stack);
	return rc;
}

enum jkind jspan_kind(struct jspan v)
{
	if (!v.n)
		return J_ABSENT;
	switch (v.p[0]) {
	case 'n': return J_NULL;
	case 't': return J_TRUE;
	case 'f': return J_FALSE;
	case '"': return J_STRING;
	case '[': return J_ARRAY;
	case '{': return J_OBJECT;
	default: return J_NUMBER;
	}
}

bool jspan_given(struct jspan v)
{
	enum jkind k = jspan_kind(v);
	return k != J_ABSENT && k != J_NULL;
}

bool jspan_int(struct jspan v, int64_t *out)
{
	if (jspan_kind(v) != J_NUMBER || memchr(v.p, '.', v.n) || memchr(v.p, 'e', v.n) || memchr(v.p, 'E', v.n))
		return false;
	char tmp[32];
	if (v.n >= sizeof tmp)
		return false;
	memcpy(tmp, v.p, v.n);
	tmp[v.n] = '\0';
	errno = 0;
	long long n = strtoll(tmp, NULL, 10);
	if (errno)
		return false;
	*out = n;
	return true;
}

static void put_utf8(buf *b, unsigned cp)
{
	char o[4];
	size_t n;
	if (cp < 0x80) {
		o[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		o[0] = (char)(0xc0 | cp >> 6);
		o[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		o[0] = (char)(0xe0 | cp >> 12);
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		o[0] = (char)(0xf0 | cp >> 18);
		o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	buf_add(b, o, n);
}

char *jspan_string(struct jspan v)
{
	if (jspan_kind(v) != J_STRING || v.n < 2)
		return NULL;
	buf b;
	buf_init(&b);
	buf_reserve(&b, v.n);
	const char *p = v.p + 1, *end = v.p + v.n - 1;
	while (p < end) {
		const char *bs = memchr(p, '\\', (size_t)(end - p));
		if (!bs) {
			buf_add(&b, p, (size_t)(end - p));
			break;
		}
		buf_add(&b, p, (size_t)(bs - p));
		if (end - bs < 2)
			break;
		char e = bs[1];
		p = bs + 2;
		switch (e) {
		case 'b': buf_add(&b, "\b", 1); break;
		case 'f': buf_add(&b, "\f", 1); break;
		case 'n': buf_add(&b, "\n", 1); break;
		case 'r': buf_add(&b, "\r", 1); break;
		case 't': buf_add(&b, "\t", 1); break;
		case 'u': {
			int u = hex4(p, end);
			if (u < 0)
				goto done;
			p += 4;
			unsigned cp = (unsigned)u;
			if (u >= 0xd800 && u <= 0xdbff && end - p >= 6 && p[0] == '\\' && p[1] == 'u') {
				int l = hex4(p + 2, end);
				if (l >= 0xdc00 && l <= 0xdfff) {
					cp = 0x10000 + (((unsigned)u - 0xd800) << 10) + ((unsigned)l - 0xdc00);
					p += 6;
				}
			}
			put_utf8(&b, cp);
			break;
		}
		default: buf_add(&b, &e, 1); break; /* " \ / */
		}
	}
done:
	if (!b.data)
		return xstrdup("");
	return buf_detach(&b);
}

char *reqbody_with_json(const char *s, size_t len, const struct reqbody *b, struct jspan at, const char *key,
			const char *value, size_t *outlen)
{
	buf o;
	buf_init(&o);
	buf_reserve(&o, len + strlen(key) + strlen(value) + 8);
	if (at.n) { /* the member is there: its value replaced */
		size_t off = (size_t)(at.p - s);
		buf_add(&o, s, off);
		buf_adds(&o, value);
		buf_add(&o, s + off + at.n, len - off - at.n);
	} else {
		buf_add(&o, s, b->close);
		buf_addf(&o, "%s\"%s\":%s", b->empty ? "" : ",", key, value);
		buf_add(&o, s + b->close, len - b->close);
	}
	*outlen = o.len;
	return buf_detach(&o);
}

char *reqbody_with_int(const char *s, size_t len, const struct reqbody *b, struct jspan at, const char *key,
		       int64_t value, size_t *outlen)
{
	char v[24];
	snprintf(v, sizeof v, "%lld", (long long)value);
	return reqbody_with_json(s, len, b, at, key, v, outlen);
}
