/* httpd_reply.c — a request's reply: whole (httpd_send*), or streamed in
 * chunks (httpd_start, httpd_chunk, httpd_end), or abandoned
 * (httpd_abort). Written through the connection (httpd.c); the head is
 * built by httpd_req.c. Nothing below calls in here. */
#include "httpd_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* the reply is handed over: a request whose client is gone is freed now */
static bool detached(struct hreq *r)
{
	if (r->c)
		return false;
	if (r->done_cb)
		r->done_cb(r, r->done_arg);
	hd_req_free(r);
	return true;
}

static void send_reply(struct hreq *r, int status, const char *ctype, const char *body, size_t len, char *owned)
{
	if (r->finished || r->started) {
		free(owned);
		return;
	}
	if (ctype)
		httpd_set_header(r, "Content-Type", ctype);
	r->finished = true;
	if (detached(r)) {
		free(owned);
		return;
	}
	struct hconn *c = r->c;
	hd_put_head(r, status, (int64_t)len);
	if (r->head_only) {
		free(owned);
	} else if (owned && len) {
		c->owned = owned;
		c->owned_len = len;
		c->owned_off = 0;
	} else {
		free(owned);
		buf_add(&c->out, body, len);
	}
	hd_conn_flush(c);
}

void httpd_send(struct hreq *r, int status, const char *ctype, const char *body, size_t len)
{
	send_reply(r, status, ctype, body, len, NULL);
}

void httpd_send_owned(struct hreq *r, int status, const char *ctype, char *body, size_t len)
{
	send_reply(r, status, ctype, body, len, body);
}

void httpd_send_json(struct hreq *r, int status, json_t *j)
{
	/* 15 significant digits: every amount of money to the nano-dollar
	 * (up to $999,999.999999999) reads back as the same number, and a
	 * double's rounding (0.1 + 0.2) does not show */
	char *s = j ? json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(15)) : NULL;
	if (j)
		json_decref(j);
	if (!s)
		s = xstrdup("{}");
	size_t n = strlen(s);
	s = xrealloc(s, n + 2);
	s[n++] = '\n';
	s[n] = '\0';
	httpd_send_owned(r, status, "application/json", s, n);
}

void httpd_start(struct hreq *r, int status)
{
	if (r->finished || r->started || !r->c)
		return;
	r->started = true;
	hd_put_head(r, status, -1);
	hd_conn_flush(r->c);
}

void httpd_chunk(struct hreq *r, const char *data, size_t len)
{
	struct hconn *c = r->c;
	if (!c || !r->started || r->finished || !len || r->head_only)
		return;
	if (!r->http10) { /* the chunk's size in hex, then CRLF (not snprintf: a stream's every event) */
		char hex[20];
		int n = sizeof hex;
		hex[--n] = '\n';
		hex[--n] = '\r';
		size_t v = len;
		do
			hex[--n] = "0123456789abcdef"[v & 15];
		while (v >>= 4);
		buf_add(&c->out, hex + n, sizeof hex - (size_t)n);
	}
	buf_add(&c->out, data, len);
	if (!r->http10)
		buf_add(&c->out, "\r\n", 2);
	hd_conn_flush(c);
}

void httpd_end(struct hreq *r)
{
	if (r->finished)
		return;
	r->finished = true;
	if (detached(r))
		return;
	struct hconn *c = r->c;
	if (!r->started)
		hd_put_head(r, 200, -1);
	if (!r->http10 && !r->head_only)
		buf_add(&c->out, "0\r\n\r\n", 5);
	hd_conn_flush(c);
}

void httpd_abort(struct hreq *r)
{
	struct hconn *c = r->c;
	if (c) {
		c->req = NULL;
		hd_conn_fail(c);
	}
	hd_req_free(r);
}

