/* httpd_req.c — a request as the handler sees it (method, path, headers,
 * query, body) and its reply's head (status, headers); the reply's
 * sending is httpd_reply.c's, the connections httpd.c's. Calls neither. */
#include "httpd_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "secret.h"
#include "util.h"

/* ---- requests ---------------------------------------------------------- */

void hd_req_free(struct hreq *r)
{
	free(r->head);
	buf_free(&r->body);
	if (r->c) /* (a request whose connection is gone frees its own) */
		hd_buf_park(r->c->s, &r->ohdr);
	else
		buf_free(&r->ohdr);
	free(r);
}

enum hmethod httpd_method(const struct hreq *r)
{
	return r->h.method;
}

const char *httpd_method_name(const struct hreq *r)
{
	return r->h.mname;
}

const char *httpd_path(const struct hreq *r)
{
	return r->h.path;
}

const char *httpd_query_string(const struct hreq *r)
{
	return r->h.query;
}

const char *httpd_header(const struct hreq *r, const char *name)
{
	/* the first byte, folded, before the whole name: most fields differ there */
	int c0 = *name | 0x20;
	for (int i = 0; i < r->h.nh; i++) {
		const char *n = r->h.h[i].name;
		if ((*n | 0x20) == c0 && strcasecmp(n, name) == 0)
			return r->h.h[i].value;
	}
	return NULL;
}

const char *httpd_bearer(const struct hreq *r)
{
	return bearer_token(httpd_header(r, "Authorization"));
}

const char *httpd_bearer_hashed(const struct hreq *r, char hash[SHA256_HEX_LEN + 1])
{
	const char *t = httpd_bearer(r);
	if (!t)
		return NULL;
	size_t n = strlen(t);
	struct hconn *c = r->c;
	if (c && c->bearer && c->bearer_len == n && ct_equal(c->bearer, t, n)) {
		memcpy(hash, c->bearer_hash, SHA256_HEX_LEN + 1);
		return t;
	}
	sha256_hex(t, n, hash);
	if (c && n <= 4096) {
		secret_free(c->bearer);
		c->bearer = xstrndup(t, n);
		c->bearer_len = n;
		memcpy(c->bearer_hash, hash, SHA256_HEX_LEN + 1);
	}
	return t;
}

const char *bearer_token(const char *a)
{
	if (!a || strncasecmp(a, "Bearer ", 7) != 0)
		return NULL;
	a += 7;
	while (*a == ' ')
		a++;
	return *a ? a : NULL;
}

char *httpd_body(const struct hreq *r, size_t *len)
{
	if (len)
		*len = r->body.len;
	return xstrndup(r->body.data ? r->body.data : "", r->body.len);
}

char *httpd_take_body(struct hreq *r, size_t *len)
{
	if (len)
		*len = r->body.len;
	if (!r->body.data)
		return xstrdup("");
	return buf_detach(&r->body);
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static char *url_decode(const char *s, size_t n)
{
	char *o = xmalloc(n + 1), *w = o;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '+') {
			*w++ = ' ';
		} else if (s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
			*w++ = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
			i += 2;
		} else {
			*w++ = s[i];
		}
	}
	*w = '\0';
	return o;
}

char *httpd_query(const struct hreq *r, const char *name)
{
	const char *q = r->h.query;
	size_t nl = strlen(name);
	while (q && *q) {
		size_t len = strcspn(q, "&;");
		const char *eq = memchr(q, '=', len);
		size_t kl = eq ? (size_t)(eq - q) : len;
		char *k = url_decode(q, kl);
		bool match = strlen(k) == nl && memcmp(k, name, nl) == 0;
		free(k);
		if (match)
			return eq ? url_decode(eq + 1, len - kl - 1) : xstrdup("");
		q += len;
		if (*q)
			q++;
	}
	return NULL;
}

/* ---- replies ------------------------------------------------------------ */

const char *httpd_reason(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 201: return "Created";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 402: return "Payment Required";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 412: return "Precondition Failed";
	case 413: return "Payload Too Large";
	case 417: return "Expectation Failed";
	case 422: return "Unprocessable Entity";
	case 428: return "Precondition Required";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	}
	return "Status";
}

void httpd_add_header(struct hreq *r, const char *name, const char *value)
{
	size_t nl = strlen(name), vl = strlen(value);
	if (nl == 12 && strcasecmp(name, "Content-Type") == 0)
		r->has_ctype = true;
	buf *o = &r->ohdr;
	if (!o->cap && r->c)
		hd_buf_take(r->c->s, o);
	if (!o->cap)
		buf_reserve(o, 1024); /* (an answer's head: one allocation) */
	buf_reserve(o, nl + vl + 4);
	buf_add(o, name, nl);
	buf_add(o, ": ", 2);
	buf_add(o, value, vl);
	buf_add(o, "\r\n", 2);
}

void httpd_set_header(struct hreq *r, const char *name, const char *value)
{
	size_t nl = strlen(name);
	buf *o = &r->ohdr;
	for (size_t i = 0; i < o->len;) {
		char *eol = strstr(o->data + i, "\r\n");
		size_t ll = (size_t)(eol - (o->data + i)) + 2;
		if (ll > nl + 1 && o->data[i + nl] == ':' && strncasecmp(o->data + i, name, nl) == 0) {
			memmove(o->data + i, o->data + i + ll, o->len - i - ll + 1);
			o->len -= ll;
		} else {
			i += ll;
		}
	}
	httpd_add_header(r, name, value);
}

void httpd_on_close(struct hreq *r, void (*cb)(struct hreq *, void *), void *arg)
{
	r->close_cb = cb;
	r->close_arg = arg;
}

void httpd_on_complete(struct hreq *r, void (*cb)(struct hreq *, void *), void *arg)
{
	r->done_cb = cb;
	r->done_arg = arg;
}

size_t httpd_backlog(const struct hreq *r)
{
	const struct hconn *c = r->c;
	return c ? (c->out.len - c->out_off) + (c->owned_len - c->owned_off) : 0;
}

static const char *http_date(void)
{
	static char s[40];
	static time_t last;
	time_t t = time(NULL);
	if (t != last) {
		struct tm tm;
		gmtime_r(&t, &tm);
		strftime(s, sizeof s, "%a, %d %b %Y %H:%M:%S GMT", &tm);
		last = t;
	}
	return s;
}

/* the status line and headers; len < 0: no length (a stream) */
void hd_put_head(struct hreq *r, int status, int64_t len)
{
	struct hconn *c = r->c;
	buf *o = &c->out;
	if (r->close)
		c->close_after = true;
	hd_buf_take(c->s, o);
	buf_reserve(o, r->ohdr.len + 160);
	buf_add(o, "HTTP/1.1 ", 9);
	buf_addi(o, status);
	buf_add(o, " ", 1);
	buf_adds(o, httpd_reason(status));
	buf_add(o, "\r\nDate: ", 8);
	buf_adds(o, http_date());
	buf_add(o, "\r\n", 2);
	if (!r->has_ctype && c->s->default_type && status != 204) {
		buf_add(o, "Content-Type: ", 14);
		buf_adds(o, c->s->default_type);
		buf_add(o, "\r\n", 2);
	}
	buf_add(o, r->ohdr.data, r->ohdr.len);
	if (len >= 0 && status != 204) {
		buf_add(o, "Content-Length: ", 16);
		buf_addi(o, len);
		buf_add(o, "\r\n", 2);
	} else if (len < 0 && !r->http10) {
		buf_add(o, "Transfer-Encoding: chunked\r\n", 28);
	} else if (len < 0) {
		c->close_after = true; /* HTTP/1.0: the end of the stream is the close */
	}
	if (c->close_after)
		buf_add(o, "Connection: close\r\n", 19);
	else if (r->http10)
		buf_add(o, "Connection: keep-alive\r\n", 24);
	buf_add(o, "\r\n", 2);
}
