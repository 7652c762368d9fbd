/* meter.c — reading usage out of Groq's answers, and the prompt estimate
 * used for budget reservations. Pure functions: unit-tested alone. */
#include "core.h"

#include <string.h>
#include <strings.h>

#include "gotime.h"
#include "util.h"

void sse_init(struct sse *s)
{
	memset(s, 0, sizeof *s);
	buf_init(&s->pending);
}

void sse_free(struct sse *s)
{
	buf_free(&s->pending);
}

/* Skips a JSON string starting at p (at the opening quote); returns the
 * byte after the closing quote, or end. */
static const char *skip_string(const char *p, const char *end)
{
	for (p++; p < end; p++) {
		if (*p == '\\')
			p++;
		else if (*p == '"')
			return p + 1;
	}
	return end;
}

static const char *skip_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

static int usage_members(const char *p, const char *end, int64_t *pt, int64_t *ct, int64_t *cached);

/* Skips the JSON value at p (a string, an object or array with all it
 * holds, a number or literal); returns the byte after it, or end. */
static const char *skip_value(const char *p, const char *end)
{
	if (p >= end)
		return end;
	if (*p == '"')
		return skip_string(p, end);
	if (*p != '{' && *p != '[') {
		while (p < end && *p != ',' && *p != '}' && *p != ']' && *p != ' ' && *p != '\n' && *p != '\r' &&
		       *p != '\t')
			p++;
		return p;
	}
	int depth = 0;
	while (p < end) {
		char c = *p;
		if (c == '"') {
			p = skip_string(p, end);
			continue;
		}
		if (c == '{' || c == '[')
			depth++;
		else if ((c == '}' || c == ']') && --depth == 0)
			return p + 1;
		p++;
	}
	return end;
}

/* The value of the member named key (klen bytes) of the object whose '{'
 * is at p, at the object's own level (never inside a nested value or a
 * string), or NULL (no object at p, no such member, or the object broken
 * off before it). */
static const char *member(const char *p, const char *end, const char *key, size_t klen)
{
	if (!p || p >= end || *p != '{')
		return NULL;
	for (p++;;) {
		p = skip_ws(p, end);
		if (p >= end || *p != '"')
			return NULL;
		const char *k = p + 1;
		p = skip_string(p, end);
		if (p >= end)
			return NULL;
		size_t kl = (size_t)(p - k) - 1;
		p = skip_ws(p, end);
		if (p >= end || *p != ':')
			return NULL;
		p = skip_ws(p + 1, end);
		if (p >= end)
			return NULL;
		if (kl == klen && memcmp(k, key, klen) == 0)
			return p;
		p = skip_ws(skip_value(p, end), end);
		if (p >= end || *p != ',')
			return NULL;
		p++;
	}
}

/* a usage object of chat (prompt_/completion_tokens) or of the Responses
 * API (input_/output_tokens) at v, with its cached tokens */
static bool usage_at(const char *v, const char *end, struct usage *out)
{
	int64_t pt = 0, ct = 0, cached = 0;
	if (!v || *v != '{')
		return false;
	int found = usage_members(v, end, &pt, &ct, &cached);
	if (found < 0 || !(found & 3))
		return false;
	*out = (struct usage){ .prompt = pt, .completion = ct, .cached = cached, .seen = true };
	return true;
}

/* The first "usage" in [h, end), or NULL: glibc's memmem sets up a table
 * on every call (~900 instructions against an event's 300 bytes); this
 * looks for its 'u' */
static const char *find_usage(const char *h, const char *end)
{
	while (end - h >= 5 && (h = memchr(h, 'u', (size_t)(end - h) - 4))) {
		if (memcmp(h, "usage", 5) == 0)
			return h;
		h++;
	}
	return NULL;
}

/* One event's data lines: usage from x_groq.usage (authoritative) or a
 * top-level usage chunk, counted once whatever order they come in. Read
 * by walking the event's JSON to those members, not by parsing it whole
 * (jansson took ~90,000 instructions for Groq's last chunk). */
static void scan_event(struct sse *s, const char *ev, size_t len)
{
	for (const char *p = ev; p < ev + len;) {
		const char *nl = memchr(p, '\n', (size_t)(ev + len - p));
		size_t ll = nl ? (size_t)(nl - p) : (size_t)(ev + len - p);
		if (ll >= 5 && memcmp(p, "data:", 5) == 0) {
			const char *d = p + 5;
			size_t dl = ll - 5;
			while (dl && (*d == ' ')) {
				d++;
				dl--;
			}
			if (dl && d[dl - 1] == '\r')
				dl--;
			if (dl == 6 && memcmp(d, "[DONE]", 6) == 0) {
				s->done = true;
			} else if (find_usage(d, d + dl)) {
				const char *e = d + dl, *o = skip_ws(d, e);
				struct usage u = { 0 };
				if (usage_at(member(member(o, e, "x_groq", 6), e, "usage", 5), e, &u)) {
					s->usage = u;
					s->got_xgroq = true;
					s->usage_event = true;
				} else if (!s->got_xgroq && (usage_at(member(o, e, "usage", 5), e, &u) ||
							     usage_at(member(member(o, e, "response", 8), e, "usage", 5), e, &u))) {
					s->usage = u;
					s->usage_event = true;
				}
			}
		}
		p += ll + 1;
	}
}

/* The length of the first whole event in p (n bytes): up to and with the
 * blank line that ends it ("\n\n" or "\r\n\r\n", whichever begins first),
 * or 0 when none has ended yet. One pass over the newlines. */
static size_t event_len(const char *p, size_t n)
{
	const char *end = p + n, *q = p;
	while ((q = memchr(q, '\n', (size_t)(end - q)))) {
		size_t i = (size_t)(q - p);
		if (i + 1 < n && q[1] == '\n')
			return i + 2;
		if (i >= 1 && i + 2 < n && q[-1] == '\r' && q[1] == '\r' && q[2] == '\n')
			return i + 3;
		q++;
	}
	return 0;
}

void sse_feed(struct sse *s, const char *data, size_t len,
	      void (*emit)(void *arg, const char *ev, size_t len), void *arg)
{
	buf_add(&s->pending, data, len);
	size_t start = 0, end;
	while ((end = event_len(s->pending.data + start, s->pending.len - start)) != 0) {
		const char *base = s->pending.data + start;
		bool was_done = s->done;
		s->usage_event = false;
		scan_event(s, base, end);
		s->events++;
		if (!(s->done && !was_done) && emit)
			emit(arg, base, end);
		start += end;
	}
	buf_consume(&s->pending, start);
}

/* The integer members of the usage object whose '{' is at p, read in one
 * pass up to its closing '}': prompt_tokens or input_tokens and
 * completion_tokens or output_tokens at the object's own level (not in a
 * nested breakdown), cached_tokens inside its prompt_tokens_details or
 * input_tokens_details (the first of each counts). Returns which were
 * found (bits 1, 2, 4), or -1 when the object does not end before end. */
static int usage_members(const char *p, const char *end, int64_t *pt, int64_t *ct, int64_t *cached)
{
	static const struct {
		const char *k;
		size_t n;
		int bit; /* 8: a details object follows */
	} keys[] = { { "prompt_tokens", 13, 1 },	 { "input_tokens", 12, 1 },	     { "completion_tokens", 17, 2 },
		     { "output_tokens", 13, 2 },	 { "cached_tokens", 13, 4 },	     { "prompt_tokens_details", 21, 8 },
		     { "input_tokens_details", 20, 8 } };
	int found = 0, depth = 0;
	bool details = false, details_next = false; /* in (or at) a *_tokens_details object */
	while (p < end) {
		char c = *p;
		if (c == '{') {
			depth++;
			if (details_next && depth == 2)
				details = true;
			details_next = false;
			p++;
			continue;
		}
		if (c == '}') {
			if (depth == 2)
				details = false;
			if (--depth == 0)
				return found;
			p++;
			continue;
		}
		if (c != '"') {
			p++;
			continue;
		}
		const char *q = skip_string(p, end);
		size_t kl = (size_t)(q - p) - 2;
		int which = -1;
		for (int i = 0; i < (int)(sizeof keys / sizeof *keys) && kl >= 12; i++)
			if (keys[i].n == kl && memcmp(p + 1, keys[i].k, kl) == 0)
				which = i;
		p = q;
		if (which < 0)
			continue;
		int bit = keys[which].bit;
		if (bit == 4 ? depth != 2 || !details : depth != 1)
			continue; /* (a name at another level, or a string value) */
		q = skip_ws(q, end);
		if (q >= end || *q != ':')
			continue;
		q = skip_ws(q + 1, end);
		if (bit == 8) {
			details_next = q < end && *q == '{';
			p = q;
			continue;
		}
		if (found & bit)
			continue;
		int64_t v = 0;
		bool any = false;
		while (q < end && *q >= '0' && *q <= '9' && v < INT64_MAX / 10) {
			v = v * 10 + (*q++ - '0');
			any = true;
		}
		if (!any)
			continue;
		*(bit == 1 ? pt : bit == 2 ? ct : cached) = v;
		found |= bit;
		p = q;
	}
	return -1;
}

bool usage_from_json(const char *body, size_t len, struct usage *u)
{
	/* A non-streamed answer can be long and its timings are floats: rather
	 * than parse it whole, find the "usage" object (a raw "usage" cannot
	 * occur inside a JSON string, where quotes are escaped) and read its
	 * integers. */
	memset(u, 0, sizeof *u);
	const char *end = body + len, *p = body;
	while ((p = find_usage(p, end))) {
		p += 5; /* a member's name: "usage" with its quotes */
		if (p - body < 6 || p[-6] != '"' || p >= end || *p != '"')
			continue;
		const char *q = skip_ws(p + 1, end);
		if (q >= end || *q != ':')
			continue;
		q = skip_ws(q + 1, end);
		if (q >= end || *q != '{')
			continue;
		int64_t pt = 0, ct = 0, cached = 0;
		int found = usage_members(q, end, &pt, &ct, &cached);
		if (found < 0)
			return false;
		if (found & 3) {
			u->prompt = pt;
			u->completion = ct;
			u->cached = cached;
			u->seen = true;
			return true;
		}
	}
	return false;
}

int64_t prompt_estimate(size_t body_len, size_t nmessages)
{
	/* Every token of the prompt is at least one byte of the request's text,
	 * and a chat template adds a few tokens per message: the body's length
	 * plus 8 per message bounds what Groq will count. */
	return (int64_t)body_len + 8 + 8 * (int64_t)nmessages;
}

bool headroom_header(struct headroom *hr, const char *name, const char *val)
{
	if ((name[0] | 0x20) != 'x' || strncasecmp(name, "x-ratelimit-", 12) != 0)
		return false;
	const char *f = name + 12;
	size_t fl = strlen(f); /* (each name compared only when its length matches) */
	int64_t v = 0;
	if (fl == 14 && strcasecmp(f, "limit-requests") == 0 && parse_i64(val, &v))
		hr->limit_req = v;
	else if (fl == 18 && strcasecmp(f, "remaining-requests") == 0 && parse_i64(val, &v))
		hr->rem_req = v;
	else if (fl == 12 && strcasecmp(f, "limit-tokens") == 0 && parse_i64(val, &v))
		hr->limit_tok = v;
	else if (fl == 16 && strcasecmp(f, "remaining-tokens") == 0 && parse_i64(val, &v))
		hr->rem_tok = v;
	else if (fl == 14 && strcasecmp(f, "reset-requests") == 0)
		hr->reset_req_ms = gotime_parse_ms(val);
	else if (fl == 12 && strcasecmp(f, "reset-tokens") == 0)
		hr->reset_tok_ms = gotime_parse_ms(val);
	return true;
}

char *audio_answer(const char *body, size_t len, const char *fmt, double *duration, size_t *outlen,
		   const char **ctype)
{
	*duration = -1;
	json_t *j = json_loadb(body, len, 0, NULL);
	json_t *d = json_object_get(j, "duration"), *text = json_object_get(j, "text");
	if (!json_is_string(text)) {
		json_decref(j);
		return NULL;
	}
	if (json_is_number(d))
		*duration = json_number_value(d);
	char *out;
	if (strcmp(fmt, "text") == 0) {
		out = xconcat(json_string_value(text), "\n", NULL);
		*ctype = "text/plain; charset=utf-8";
	} else if (strcmp(fmt, "json") == 0) {
		json_t *o = json_pack("{s:O}", "text", text);
		if (json_object_get(j, "x_groq"))
			json_object_set(o, "x_groq", json_object_get(j, "x_groq"));
		out = json_dumps(o, JSON_COMPACT);
		json_decref(o);
		*ctype = "application/json";
	} else { /* verbose_json: as Groq sent it */
		out = xstrndup(body, len);
		*ctype = "application/json";
	}
	json_decref(j);
	*outlen = strlen(out);
	return out;
}

int answer_keep(buf *answer, bool (*keep)(void *arg, const char *id), void *arg)
{
	json_t *j = json_loadb(answer->data ? answer->data : "", answer->len, 0, NULL);
	json_t *data = json_object_get(j, "data");
	if (!json_is_array(data)) {
		json_decref(j);
		return -1;
	}
	/* made anew from the kept entries: nothing else of Groq's list (its
	 * first_id and last_id may be another team's) goes on */
	json_t *kept = json_array();
	size_t i;
	json_t *e;
	json_array_foreach(data, i, e) {
		const char *id = json_string_value(json_object_get(e, "id"));
		if (id && keep(arg, id))
			json_array_append(kept, e);
	}
	size_t n = json_array_size(kept);
	json_t *out = json_pack("{s:s,s:o}", "object", "list", "data", kept);
	if (json_object_get(j, "first_id") || json_object_get(j, "last_id")) {
		json_t *first = json_object_get(json_array_get(kept, 0), "id");
		json_t *last = json_object_get(json_array_get(kept, n ? n - 1 : 0), "id");
		json_object_set(out, "first_id", first ? first : json_null());
		json_object_set(out, "last_id", last ? last : json_null());
	}
	/* whether Groq has more (a page of its list) is what paging needs */
	if (json_is_boolean(json_object_get(j, "has_more")))
		json_object_set(out, "has_more", json_object_get(j, "has_more"));
	json_decref(j);
	char *s = json_dumps(out, JSON_COMPACT);
	json_decref(out);
	buf_reset(answer);
	buf_adds(answer, s);
	free(s);
	return 0;
}

bool utf8_valid(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	for (size_t i = 0; i < n;) {
		unsigned c = u[i];
		size_t k = c < 0x80 ? 0 : c >= 0xc2 && c <= 0xdf ? 1 : c >= 0xe0 && c <= 0xef ? 2 : c >= 0xf0 && c <= 0xf4 ? 3 : 9;
		if (k == 9 || n - i <= k)
			return false;
		unsigned cp = k ? c & (0x3f >> k) : c;
		for (size_t j = 1; j <= k; j++) {
			if ((u[i + j] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (u[i + j] & 0x3f);
		}
		/* overlong forms, surrogates, beyond U+10FFFF */
		if ((k == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) || (k == 3 && (cp < 0x10000 || cp > 0x10ffff)))
			return false;
		i += k + 1;
	}
	return true;
}

int64_t utf8_chars(const char *s, size_t n)
{
	int64_t c = 0;
	for (size_t i = 0; i < n; i++)
		c += ((unsigned char)s[i] & 0xc0) != 0x80;
	return c;
}
