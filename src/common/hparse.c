/* hparse.c — HTTP/1.1's grammar, once for both sides: the request head
 * (httpd.c, the server), the answer's status line and head (upstream.c,
 * the client to Groq), their field lines, and chunked framing. Pure (no
 * I/O, no allocation), so it is unit-tested and fuzzed alone. See httpd.h. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "httpd.h"
#include "util.h"

size_t httpd_head_end(const char *p, size_t n)
{
	for (const char *q = p; (q = memchr(q, '\n', n - (size_t)(q - p))) != NULL; q++) {
		size_t i = (size_t)(q - p) + 1;
		if (i < n && p[i] == '\n')
			return i + 1;
		if (i + 1 < n && p[i] == '\r' && p[i + 1] == '\n')
			return i + 2;
	}
	return 0;
}

/* RFC 9110's tchar, by table: a header name's every byte is looked up */
static const bool tchars[256] = {
	['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1, ['*'] = 1, ['+'] = 1, ['-'] = 1, ['.'] = 1,
	['^'] = 1, ['_'] = 1, ['`'] = 1, ['|'] = 1, ['~'] = 1,
	['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1,
	['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1, ['H'] = 1, ['I'] = 1, ['J'] = 1,
	['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1,
	['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1, ['Y'] = 1, ['Z'] = 1,
	['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1,
	['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1,
	['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1,
};

static bool tchar(unsigned char ch)
{
	return tchars[ch];
}

bool http_has_token(const char *list, const char *tok)
{
	size_t n = strlen(tok);
	for (const char *p = list; *p;) {
		p += strspn(p, " \t,");
		size_t len = strcspn(p, ",");
		size_t l = len;
		while (l && (p[l - 1] == ' ' || p[l - 1] == '\t'))
			l--;
		if (l == n && strncasecmp(p, tok, n) == 0)
			return true;
		p += len;
	}
	return false;
}

static const struct {
	const char *name;
	enum hmethod m;
} methods[] = { { "GET", HM_GET },	   { "POST", HM_POST },	      { "HEAD", HM_HEAD },   { "PUT", HM_PUT },
		{ "DELETE", HM_DELETE }, { "OPTIONS", HM_OPTIONS }, { "PATCH", HM_PATCH } };

/* splits the next line off *p (up to end), without its CRLF or LF */
static char *next_line(char **p, char *end)
{
	char *s = *p, *nl = memchr(s, '\n', (size_t)(end - s));
	if (!nl)
		return NULL;
	*nl = '\0';
	if (nl > s && nl[-1] == '\r')
		nl[-1] = '\0';
	*p = nl + 1;
	return s;
}

static int bad(const char **why, const char *msg, int status)
{
	*why = msg;
	return status;
}

/* One field line (name ":" OWS value OWS), split in place into f; the
 * same grammar for a request's fields and an answer's. */
static int field_line(char *line, struct hfield *f, const char **why)
{
	if (*line == ' ' || *line == '\t')
		return bad(why, "a folded header line (obsolete line folding)", -1);
	/* the name's bytes up to the colon, each looked up once */
	char *colon = line;
	while (tchar((unsigned char)*colon))
		colon++;
	if (*colon != ':' || colon == line) /* (a colon further on: a byte of the name is wrong) */
		return bad(why, *colon != ':' && strchr(colon, ':') ? "a malformed header name" : "a header line without a name",
			   -1);
	*colon = '\0';
	char *v = colon + 1;
	while (*v == ' ' || *v == '\t')
		v++;
	size_t vl = strlen(v);
	while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
		v[--vl] = '\0';
	if (memchr(v, '\r', vl) || memchr(v, 0x7f, vl))
		return bad(why, "a control byte in a header value", -1);
	f->name = line;
	f->value = v;
	return 0;
}

/* A Content-Length value (1*DIGIT), into *cl; a second one must agree. */
static int content_length(const char *v, int64_t *cl, const char **why)
{
	size_t vl = strlen(v);
	if (!*v || strspn(v, "0123456789") != vl || vl > 18)
		return bad(why, "a malformed Content-Length", -1);
	int64_t n = strtoll(v, NULL, 10);
	if (*cl >= 0 && *cl != n)
		return bad(why, "two different Content-Length headers", -1);
	*cl = n;
	return 0;
}

int httpd_parse_head(char *p, size_t n, struct hhead *h, int room, const char **why)
{
	struct hfield *fields = h->h;
	memset(h, 0, sizeof *h);
	h->h = fields;
	h->content_length = -1;
	char *end = p + n;
	if (memchr(p, '\0', n))
		return bad(why, "a NUL byte in the request head", 400);
	char *line = next_line(&p, end);
	while (line && !*line) /* blank lines before a request are allowed */
		line = next_line(&p, end);
	if (!line)
		return bad(why, "no request line", 400);
	char *sp1 = strchr(line, ' '), *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
	if (!sp1 || !sp2 || strchr(sp2 + 1, ' '))
		return bad(why, "the request line is not METHOD TARGET HTTP/1.x", 400);
	*sp1 = *sp2 = '\0';
	char *target = sp1 + 1, *version = sp2 + 1;
	for (const char *m = line; *m; m++)
		if (!tchar((unsigned char)*m))
			return bad(why, "a malformed method", 400);
	if (strncmp(version, "HTTP/", 5) != 0 || version[5] < '0' || version[5] > '9' || version[6] != '.' ||
	    version[7] < '0' || version[7] > '9' || version[8])
		return bad(why, "a malformed HTTP version", 400);
	if (version[5] != '1')
		return bad(why, "only HTTP/1.0 and HTTP/1.1 are served", 505);
	h->minor = version[7] - '0';
	for (const unsigned char *t = (const unsigned char *)target; *t; t++)
		if (*t <= 0x20 || *t >= 0x7f)
			return bad(why, "a control, space or non-ASCII byte in the request target", 400);
	if (strncasecmp(target, "http://", 7) == 0 || strncasecmp(target, "https://", 8) == 0) {
		char *slash = strchr(strstr(target, "://") + 3, '/');
		target = slash ? slash : (char *)"/";
	}
	if (*target != '/' && strcmp(target, "*") != 0)
		return bad(why, "the request target must start with '/'", 400);
	char *q = strchr(target, '?');
	if (q) {
		*q = '\0';
		h->query = q + 1;
	}
	char *hash = strchr(h->query ? h->query : target, '#');
	if (hash)
		*hash = '\0';
	h->path = target;
	h->mname = line;
	for (size_t i = 0; i < ARRAY_LEN(methods); i++)
		if (strcmp(line, methods[i].name) == 0)
			h->method = methods[i].m;
	if (!h->method)
		return bad(why, "that method is not served", 405);
	bool seen_te = false;
	while ((line = next_line(&p, end)) != NULL && *line) {
		if (h->nh == room)
			return bad(why, "too many header fields", 431);
		struct hfield *f = &h->h[h->nh];
		if (field_line(line, f, why) < 0)
			return 400;
		h->nh++;
		const char *v = f->value;
		char first = (char)(*line | 0x20); /* most fields are none of these four */
		if (first != 'c' && first != 't' && first != 'e')
			continue;
		if (strcasecmp(line, "Content-Length") == 0) {
			if (content_length(v, &h->content_length, why) < 0)
				return 400;
		} else if (strcasecmp(line, "Transfer-Encoding") == 0) {
			if (seen_te || strcasecmp(v, "chunked") != 0)
				return bad(why, "a Transfer-Encoding other than chunked", 501);
			seen_te = h->chunked = true;
		} else if (strcasecmp(line, "Connection") == 0) {
			h->close |= http_has_token(v, "close");
			h->keep_alive |= http_has_token(v, "keep-alive");
		} else if (strcasecmp(line, "Expect") == 0) {
			if (strcasecmp(v, "100-continue") != 0)
				return bad(why, "an Expect other than 100-continue", 417);
			h->expect_continue = true;
		}
	}
	if (!line)
		return bad(why, "the head does not end with a blank line", 400);
	if (h->chunked && h->content_length >= 0)
		return bad(why, "both Content-Length and Transfer-Encoding", 400);
	if (h->chunked && h->minor == 0)
		return bad(why, "chunked bodies need HTTP/1.1", 400);
	return 0;
}

int http_chunk_size(const char *line, size_t n, int64_t max, int64_t *size)
{
	/* chunk-size = 1*HEXDIG, then nothing, or BWS ";" chunk-ext: no sign,
	 * no "0x", no leading space (strtoll took all three) */
	int64_t v = 0;
	size_t i = 0;
	for (; i < n; i++) {
		char c = line[i];
		int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
		if (d < 0)
			break;
		if (v > (max - d) / 16)
			return -2;
		v = v * 16 + d;
	}
	if (i == 0)
		return -1;
	while (i < n && (line[i] == ' ' || line[i] == '\t'))
		i++;
	if (i < n && line[i] != ';')
		return -1;
	*size = v;
	return 0;
}

bool http_chunked_last(const char *te)
{
	/* Transfer-Encoding: the last coding decides whether the body is
	 * chunked (a list, any case; not a substring of another coding) */
	const char *last = te, *p = te;
	for (; *p; p++)
		if (*p == ',')
			last = p + 1;
	last += strspn(last, " \t");
	size_t l = strcspn(last, " \t;");
	return l == 7 && strncasecmp(last, "chunked", 7) == 0;
}

int http_parse_status_head(char *p, size_t n, struct hstatus *h, int room, const char **why)
{
	struct hfield *fields = h->h;
	memset(h, 0, sizeof *h);
	h->h = fields;
	h->content_length = -1;
	char *end = p + n;
	if (memchr(p, '\0', n))
		return bad(why, "a NUL byte in the answer's head", -1);
	/* "HTTP/1.1 200 OK": a version, a space, three digits, then a space
	 * and a reason (possibly empty) or nothing */
	char *l = next_line(&p, end);
	if (!l || strncmp(l, "HTTP/", 5) != 0 || l[5] < '0' || l[5] > '9' || l[6] != '.' || l[7] < '0' ||
	    l[7] > '9' || l[8] != ' ')
		return bad(why, "an answer that is not HTTP", -1);
	if (l[5] != '1')
		return bad(why, "an answer in an HTTP version other than 1.x", -1);
	h->minor = l[7] - '0';
	int code = 0;
	for (int i = 9; i < 12; i++) {
		if (l[i] < '0' || l[i] > '9')
			return bad(why, "a malformed status code", -1);
		code = code * 10 + (l[i] - '0');
	}
	if (code < 100 || (l[12] && l[12] != ' '))
		return bad(why, "a malformed status code", -1);
	h->status = code;
	h->close = h->minor == 0;
	char *line;
	while ((line = next_line(&p, end)) != NULL && *line) {
		if (h->nh == room)
			return bad(why, "too many header fields", -1);
		struct hfield *f = &h->h[h->nh];
		if (field_line(line, f, why) < 0)
			return -1;
		h->nh++;
		char first = (char)(*line | 0x20);
		if (first != 'c' && first != 't')
			continue;
		if (strcasecmp(line, "Content-Length") == 0) {
			if (content_length(f->value, &h->content_length, why) < 0)
				return -1;
		} else if (strcasecmp(line, "Transfer-Encoding") == 0) {
			/* the last coding decides; a body otherwise ends with the connection */
			h->chunked = http_chunked_last(f->value);
			h->close |= !h->chunked;
		} else if (strcasecmp(line, "Connection") == 0) {
			h->close |= http_has_token(f->value, "close");
		}
	}
	if (!line)
		return bad(why, "the head does not end with a blank line", -1);
	if (h->chunked)
		h->content_length = -1; /* Transfer-Encoding overrides Content-Length (RFC 9112, 6.3) */
	return 0;
}
