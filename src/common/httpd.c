/* httpd.c — see httpd.h.
 *
 * One connection reads into `in`, parses one request's head, then its body
 * (by length or in chunks), and hands the request on. While the handler
 * works, the socket stays watched for reading: a client that hangs up is
 * noticed at once, and bytes it pipelines wait in `in` (up to a bound; the
 * socket is then left unread until the answer is out). A reply is built in
 * `out` (plus one handed-over body) and written at once; what the socket
 * will not take is written when it becomes writable. Once the reply is
 * out, the next request is read. A refusal that ends the connection (413,
 * 431, a malformed request) half-closes it and reads what the client still
 * sends for a moment, so the client reads the refusal instead of a reset.
 *
 * Timeouts are checked by one timer per server, once a second. */
#include "httpd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "util.h"

#define MAX_LISTEN 4
#define MAX_FIELDS 128        /* header fields in one request */
#define READ_MAX (64 * 1024)  /* read per call */
#define PIPELINE_MAX (64 * 1024) /* input held while a request is handled */
#define LINGER_MS 2000        /* reading after a refusal, before closing */
#define CHUNK_LINE_MAX 1024   /* a chunk-size line */
#define SSL_WRITE_MAX (16 * 1024)

enum cstate { C_HEAD, C_BODY, C_HANDLER, C_LINGER };
enum chstate { CH_SIZE, CH_DATA, CH_DATA_END, CH_TRAILER };

struct hconn;

struct httpd {
	struct event_base *base;
	httpd_cb cb;
	void *arg;
	size_t max_body, max_head;
	int timeout_s;
	const char *knob_body, *knob_head;
	const char *prefix, *knob_prefix; /* paths under prefix take up to max_prefix */
	httpd_error_fn error_body;        /* the body of the server's own refusals */
	size_t max_prefix;
	const char *default_type;
	SSL_CTX *ssl;
	int lfd[MAX_LISTEN];
	struct event *lev[MAX_LISTEN];
	int nl;
	struct event *sweep, *resume_accept;
	struct hconn *conns;
	int nconns;
	int max_conns;          /* 0: no limit */
	int64_t head_timeout_ms; /* a request head whole within it (0: timeout_s) */
	int64_t shed;           /* connections closed to make room */
};

struct hconn {
	struct httpd *s;
	int fd;
	SSL *ssl;
	struct event *rev, *wev;
	bool reading, writing;  /* rev / wev added */
	bool failed;            /* close on the next pass (wev made active) */
	bool close_after;       /* no keep-alive: close once the reply is out */
	bool ssl_read_wants_write;
	size_t ssl_retry;       /* an SSL_write to repeat with this length */
	enum cstate state;
	buf in;
	size_t in_off, scan;    /* parsed up to; head searched up to */
	buf out;
	size_t out_off;
	char *owned;            /* a handed-over body written after out */
	size_t owned_len, owned_off;
	struct hreq *req;       /* the request being read or handled */
	int64_t last_ms;        /* last progress (timeouts) */
	int64_t head_ms;        /* when the head being read began to arrive */
	bool served;            /* a request was read on it */
	/* chunked request body */
	enum chstate ch;
	int64_t ch_left;
	size_t trailer_bytes;
	struct hconn *prev, *next;
};

struct hreq {
	struct hconn *c;        /* NULL once its client is gone */
	struct hhead h;
	char *head;             /* the head's bytes (fields point in here) */
	buf body;
	buf ohdr;               /* reply headers, "Name: value\r\n" each */
	bool has_ctype, http10, started, finished, head_only, close;
	void (*close_cb)(struct hreq *, void *);
	void *close_arg;
	void (*done_cb)(struct hreq *, void *);
	void *done_arg;
};

static void conn_close(struct hconn *c);
static void conn_flush(struct hconn *c);
static void advance(struct hconn *c);

static int64_t now_ms(void)
{
	return mono_us() / 1000;
}

/* ---- requests ---------------------------------------------------------- */

static void req_free(struct hreq *r)
{
	free(r->head);
	buf_free(&r->body);
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
	for (int i = 0; i < r->h.nh; i++)
		if (strcasecmp(r->h.h[i].name, name) == 0)
			return r->h.h[i].value;
	return NULL;
}

const char *httpd_bearer(const struct hreq *r)
{
	return bearer_token(httpd_header(r, "Authorization"));
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
	if (strcasecmp(name, "Content-Type") == 0)
		r->has_ctype = true;
	buf_adds(&r->ohdr, name);
	buf_add(&r->ohdr, ": ", 2);
	buf_adds(&r->ohdr, value);
	buf_add(&r->ohdr, "\r\n", 2);
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
static void put_head(struct hreq *r, int status, int64_t len)
{
	struct hconn *c = r->c;
	buf *o = &c->out;
	if (r->close)
		c->close_after = true;
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

/* the reply is handed over: a request whose client is gone is freed now */
static bool detached(struct hreq *r)
{
	if (r->c)
		return false;
	if (r->done_cb)
		r->done_cb(r, r->done_arg);
	req_free(r);
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
	put_head(r, status, (int64_t)len);
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
	conn_flush(c);
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
	char *s = j ? json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(9)) : NULL;
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
	put_head(r, status, -1);
	conn_flush(r->c);
}

void httpd_chunk(struct hreq *r, const char *data, size_t len)
{
	struct hconn *c = r->c;
	if (!c || !r->started || r->finished || !len || r->head_only)
		return;
	if (!r->http10) {
		char hex[20];
		int n = snprintf(hex, sizeof hex, "%zx\r\n", len);
		buf_add(&c->out, hex, (size_t)n);
	}
	buf_add(&c->out, data, len);
	if (!r->http10)
		buf_add(&c->out, "\r\n", 2);
	conn_flush(c);
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
		put_head(r, 200, -1);
	if (!r->http10 && !r->head_only)
		buf_add(&c->out, "0\r\n\r\n", 5);
	conn_flush(c);
}

/* closes c on the next pass of the loop */
static void conn_fail(struct hconn *c)
{
	if (c->failed)
		return;
	c->failed = true;
	event_active(c->wev, EV_WRITE, 1);
}

void httpd_abort(struct hreq *r)
{
	struct hconn *c = r->c;
	if (c) {
		c->req = NULL;
		conn_fail(c);
	}
	req_free(r);
}

/* ---- connections -------------------------------------------------------- */

/* turns interest in ev on or off; *added remembers which it is */
static void want(struct event *ev, bool *added, bool on)
{
	if (*added == on)
		return;
	*added = on;
	if (on)
		event_add(ev, NULL);
	else
		event_del(ev);
}

static void want_write(struct hconn *c, bool on)
{
	want(c->wev, &c->writing, on);
}

static void want_read(struct hconn *c, bool on)
{
	want(c->rev, &c->reading, on);
}

/* SSL_read/SSL_write results as read/write's: -1 with EAGAIN to wait */
static ssize_t ssl_result(struct hconn *c, int r, bool writing)
{
	if (r > 0)
		return r;
	int e = SSL_get_error(c->ssl, r);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		if (!writing && e == SSL_ERROR_WANT_WRITE) {
			c->ssl_read_wants_write = true;
			want_write(c, true);
		}
		errno = EAGAIN;
		return -1;
	}
	if (e == SSL_ERROR_ZERO_RETURN && !writing)
		return 0;
	errno = EPIPE;
	return -1;
}

static ssize_t conn_recv(struct hconn *c, char *p, size_t n)
{
	if (!c->ssl)
		return read(c->fd, p, n);
	ERR_clear_error();
	return ssl_result(c, SSL_read(c->ssl, p, (int)n), false);
}

/* writes what it can of out and the owned body; -1 on a failed socket */
static int write_some(struct hconn *c)
{
	for (;;) {
		size_t a = c->out.len - c->out_off, b = c->owned_len - c->owned_off;
		if (!a && !b)
			return 0;
		ssize_t w;
		if (!c->ssl) {
			struct iovec iov[2];
			int n = 0;
			if (a)
				iov[n++] = (struct iovec){ c->out.data + c->out_off, a };
			if (b)
				iov[n++] = (struct iovec){ c->owned + c->owned_off, b };
			struct msghdr mh = { .msg_iov = iov, .msg_iovlen = (size_t)n };
			w = sendmsg(c->fd, &mh, MSG_NOSIGNAL);
		} else {
			const char *p = a ? c->out.data + c->out_off : c->owned + c->owned_off;
			size_t n = c->ssl_retry ? c->ssl_retry : (a ? a : b);
			if (n > SSL_WRITE_MAX)
				n = SSL_WRITE_MAX;
			ERR_clear_error();
			w = ssl_result(c, SSL_write(c->ssl, p, (int)n), true);
			c->ssl_retry = w < 0 && errno == EAGAIN ? n : 0;
		}
		if (w < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		c->last_ms = now_ms();
		size_t done = (size_t)w, ta = done < a ? done : a;
		c->out_off += ta;
		c->owned_off += done - ta;
		if (c->out_off == c->out.len) {
			c->out.len = c->out_off = 0;
			if (c->out.data)
				c->out.data[0] = '\0';
		}
		if (c->owned && c->owned_off == c->owned_len) {
			free(c->owned);
			c->owned = NULL;
			c->owned_len = c->owned_off = 0;
		}
		if (done < a + b && !c->ssl)
			return 0; /* the socket is full */
	}
}

static void begin_linger(struct hconn *c)
{
	if (c->ssl) {
		conn_fail(c);
		return;
	}
	shutdown(c->fd, SHUT_WR);
	c->state = C_LINGER;
	c->last_ms = now_ms();
	want_read(c, true);
}

/* the reply went out: the request is done, the connection serves the next */
static void reply_done(struct hconn *c)
{
	struct hreq *r = c->req;
	c->req = NULL;
	if (r->done_cb)
		r->done_cb(r, r->done_arg);
	req_free(r);
	if (c->close_after) {
		begin_linger(c);
		return;
	}
	c->state = C_HEAD;
	c->last_ms = now_ms();
	want_read(c, true);
	if (c->in.len > c->in_off || (c->ssl && SSL_pending(c->ssl))) {
		event_active(c->rev, EV_READ, 1); /* a pipelined request: next pass */
	} else {
		/* an idle keep-alive connection holds no buffers: a few hundred
		 * bytes each, not the last request's and answer's (many clients
		 * keep connections open between requests) */
		buf_free(&c->in);
		c->in_off = c->scan = 0;
		if (c->out.len == c->out_off) {
			buf_free(&c->out);
			c->out_off = 0;
		}
	}
}

static void conn_flush(struct hconn *c)
{
	if (c->failed)
		return;
	if (write_some(c) != 0) {
		conn_fail(c);
		return;
	}
	bool pending = c->out.len > c->out_off || c->owned;
	want_write(c, pending || c->ssl_read_wants_write);
	if (!pending && c->req && c->req->finished && c->state == C_HANDLER)
		reply_done(c);
	else if (!pending && !c->req && c->close_after && c->state != C_LINGER)
		begin_linger(c); /* a refusal of the server's own */
}

/* a refusal by the server itself (no handler saw the request): the
 * connection ends after it */
static void refuse(struct hconn *c, int status, const char *code, const char *msg)
{
	if (c->req) {
		req_free(c->req);
		c->req = NULL;
	}
	struct hreq tmp = { .c = c, .close = true };
	buf_init(&tmp.ohdr);
	c->close_after = true;
	c->state = C_HANDLER;
	char *s = c->s->error_body(status, code, msg);
	put_head(&tmp, status, (int64_t)strlen(s) + 1);
	buf_adds(&c->out, s);
	buf_add(&c->out, "\n", 1);
	free(s);
	buf_free(&tmp.ohdr);
	want_read(c, false);
	conn_flush(c);
}

static void refusef(struct hconn *c, int status, const char *code, const char *fmt, ...) GG_PRINTF(4, 5);
static void refusef(struct hconn *c, int status, const char *code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *m = xvasprintf(fmt, ap);
	va_end(ap);
	refuse(c, status, code, m);
	free(m);
}

static char *plain_error_body(int status, const char *code, const char *message);

static bool under_prefix(const struct hconn *c)
{
	const struct httpd *s = c->s;
	return s->prefix && c->req && c->req->h.path && strncmp(c->req->h.path, s->prefix, strlen(s->prefix)) == 0;
}

/* the largest body this request may have */
static size_t body_max(const struct hconn *c)
{
	return under_prefix(c) ? c->s->max_prefix : c->s->max_body;
}

static void too_large(struct hconn *c)
{
	struct httpd *s = c->s;
	const char *knob = under_prefix(c) ? s->knob_prefix : s->knob_body;
	refusef(c, 413, "request_too_large", "The request body is larger than this server accepts (%zu bytes%s%s).",
		body_max(c), knob ? ", " : "", knob ? knob : "");
}

static void head_too_large(struct hconn *c)
{
	struct httpd *s = c->s;
	refusef(c, 431, "request_header_fields_too_large",
		"The request's headers are larger than this server accepts (%zu bytes%s%s).", s->max_head,
		s->knob_head ? ", " : "", s->knob_head ? s->knob_head : "");
}

/* the head is complete in in[in_off, in_off+n): a request, or a refusal */
static bool start_request(struct hconn *c, size_t n)
{
	c->served = true;
	struct hreq *r = xcalloc(1, sizeof *r);
	/* one block: the head's bytes, then (aligned) its fields */
	size_t at = (n + 1 + 15) & ~(size_t)15;
	r->head = xmalloc(at + MAX_FIELDS * sizeof(struct hfield));
	memcpy(r->head, c->in.data + c->in_off, n);
	r->head[n] = '\0';
	r->h.h = (struct hfield *)(void *)(r->head + at);
	c->in_off += n;
	c->scan = c->in_off;
	c->req = r;
	r->c = c;
	const char *why = NULL;
	int st = httpd_parse_head(r->head, n, &r->h, MAX_FIELDS, &why);
	if (st == 431) {
		head_too_large(c);
		return false;
	}
	if (st) {
		refusef(c, st, st == 405 ? "method_not_allowed" : "invalid_request", "Malformed request: %s.", why);
		return false;
	}
	r->http10 = r->h.minor == 0;
	r->head_only = r->h.method == HM_HEAD;
	r->close = r->h.close || (r->http10 && !r->h.keep_alive);
	if (r->h.content_length > (int64_t)body_max(c)) {
		too_large(c);
		return false;
	}
	buf_init(&r->body);
	c->ch = CH_SIZE;
	c->ch_left = r->h.chunked ? 0 : (r->h.content_length > 0 ? r->h.content_length : 0);
	c->trailer_bytes = 0;
	if (c->ch_left > 0)
		buf_reserve(&r->body, (size_t)c->ch_left);
	c->state = C_BODY;
	if (r->h.expect_continue && !r->http10 && (r->h.chunked || c->ch_left > 0) && c->in.len == c->in_off) {
		buf_adds(&c->out, "HTTP/1.1 100 Continue\r\n\r\n");
		conn_flush(c);
	}
	return true;
}

/* moves body bytes from in; 1: the body is complete, 0: more needed,
 * -1: refused (the connection is ending) */
static int read_body(struct hconn *c)
{
	struct hreq *r = c->req;
	struct httpd *s = c->s;
	if (!r->h.chunked) {
		size_t avail = c->in.len - c->in_off, take = (size_t)c->ch_left < avail ? (size_t)c->ch_left : avail;
		buf_add(&r->body, c->in.data + c->in_off, take);
		c->in_off += take;
		c->ch_left -= (int64_t)take;
		return c->ch_left == 0;
	}
	while (c->in_off < c->in.len) {
		char *p = c->in.data + c->in_off;
		size_t avail = c->in.len - c->in_off;
		if (c->ch == CH_DATA) {
			size_t take = (size_t)c->ch_left < avail ? (size_t)c->ch_left : avail;
			if (r->body.len + take > body_max(c)) {
				too_large(c);
				return -1;
			}
			buf_add(&r->body, p, take);
			c->in_off += take;
			if ((c->ch_left -= (int64_t)take) == 0)
				c->ch = CH_DATA_END;
			continue;
		}
		char *nl = memchr(p, '\n', avail);
		if (!nl) {
			if (avail > CHUNK_LINE_MAX) {
				refuse(c, 400, "invalid_request", "Malformed request: a chunk-size line is too long.");
				return -1;
			}
			return 0;
		}
		size_t ll = (size_t)(nl - p) + 1;
		c->in_off += ll;
		size_t content = ll - 1 - (ll >= 2 && p[ll - 2] == '\r');
		if (c->ch == CH_DATA_END) {
			if (content != 0) {
				refuse(c, 400, "invalid_request", "Malformed request: a chunk is longer than its size says.");
				return -1;
			}
			c->ch = CH_SIZE;
		} else if (c->ch == CH_SIZE) {
			int64_t size = 0;
			int rc = http_chunk_size(p, content, (int64_t)body_max(c), &size);
			if (rc == -2) {
				too_large(c);
				return -1;
			}
			if (rc != 0) {
				refuse(c, 400, "invalid_request", "Malformed request: a bad chunk size.");
				return -1;
			}
			if (size == 0) {
				c->ch = CH_TRAILER;
			} else {
				c->ch_left = size;
				c->ch = CH_DATA;
			}
		} else { /* trailer fields are read and dropped */
			c->trailer_bytes += ll;
			if (c->trailer_bytes > s->max_head) {
				head_too_large(c);
				return -1;
			}
			if (content == 0)
				return 1;
		}
	}
	return 0;
}

/* the head in in, if complete: a request (true), or not yet / refused */
static bool read_head(struct hconn *c)
{
	struct httpd *s = c->s;
	size_t avail = c->in.len - c->in_off;
	if (!avail)
		return false;
	/* the search resumes a little before where it stopped */
	size_t from = c->scan > c->in_off + 3 ? c->scan - 3 : c->in_off;
	size_t e = httpd_head_end(c->in.data + from, c->in.len - from);
	c->scan = c->in.len;
	if (!e) {
		if (avail > s->max_head)
			head_too_large(c);
		return false;
	}
	size_t n = from - c->in_off + e;
	if (n > s->max_head) {
		head_too_large(c);
		return false;
	}
	return start_request(c, n);
}

/* parses what in holds, as far as the state allows: at most one request
 * is handed on (the next is read once its answer is out) */
static void advance(struct hconn *c)
{
	if (c->state == C_HEAD && !read_head(c))
		goto tidy;
	if (c->state == C_BODY && read_body(c) == 1) {
		c->state = C_HANDLER;
		c->s->cb(c->req, c->s->arg);
	}
tidy:
	if (c->in_off == c->in.len) {
		c->in.len = c->in_off = c->scan = 0;
	} else if (c->in_off > 0 && c->in_off >= c->in.len / 2) {
		memmove(c->in.data, c->in.data + c->in_off, c->in.len - c->in_off);
		c->in.len -= c->in_off;
		c->scan = c->scan > c->in_off ? c->scan - c->in_off : 0;
		c->in_off = 0;
	}
	if (c->state == C_HANDLER && c->in.len - c->in_off > PIPELINE_MAX)
		want_read(c, false); /* enough waiting; the rest after this answer */
}

static void read_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct hconn *c = arg;
	if (c->failed)
		return;
	if (c->ssl && c->out.len > c->out_off) {
		conn_flush(c); /* a TLS write that waited for input */
		if (c->failed)
			return;
	}
	if (c->state == C_HEAD && c->scan < c->in.len) {
		advance(c); /* a pipelined request, read with the one before */
		if (c->failed || c->state != C_HEAD)
			return;
	}
	for (int rounds = 0; rounds < 4; rounds++) {
		if (c->state == C_LINGER) {
			char junk[16384];
			ssize_t n = read(c->fd, junk, sizeof junk);
			if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
				conn_close(c);
			return;
		}
		/* a body of known length with nothing else waiting is read
		 * straight into the request (made room for when its head came):
		 * no copy, and no second buffer of its size */
		buf *into = &c->in;
		if (c->state == C_BODY && !c->req->h.chunked && c->in.len == c->in_off && c->ch_left > 0)
			into = &c->req->body;
		else
			buf_reserve(&c->in, 4096);
		size_t room = into->cap - into->len - 1;
		if (into != &c->in && room > (size_t)c->ch_left)
			room = (size_t)c->ch_left;
		if (room > READ_MAX)
			room = READ_MAX;
		ssize_t n = conn_recv(c, into->data + into->len, room);
		if (n == 0) {
			/* the client is gone (or half-closed: an answer it
			 * has whole is still written) */
			if (c->state == C_HANDLER && c->req && c->req->finished) {
				want_read(c, false);
				return;
			}
			conn_close(c);
			return;
		}
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			conn_close(c);
			return;
		}
		if (c->state == C_HEAD && c->in.len == c->in_off && c->served)
			c->head_ms = now_ms(); /* a head begins (the first: at the accept) */
		into->len += (size_t)n;
		into->data[into->len] = '\0';
		if (into != &c->in)
			c->ch_left -= n;
		c->last_ms = now_ms();
		if (c->state != C_HANDLER)
			advance(c);
		else if (c->in.len - c->in_off > PIPELINE_MAX)
			want_read(c, false);
		if (c->failed || !c->reading || (size_t)n < room || !c->ssl)
			return;
	}
}

static void write_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct hconn *c = arg;
	if (c->failed) {
		conn_close(c);
		return;
	}
	if (c->ssl_read_wants_write) {
		c->ssl_read_wants_write = false;
		read_cb(fd, EV_READ, c);
		if (c->failed)
			return;
	}
	conn_flush(c);
}

static void conn_close(struct hconn *c)
{
	struct httpd *s = c->s;
	struct hreq *r = c->req;
	c->req = NULL;
	if (r) {
		r->c = NULL;
		if (r->finished) {
			if (r->done_cb)
				r->done_cb(r, r->done_arg);
			req_free(r);
		} else if (c->state != C_HANDLER) {
			req_free(r); /* never handed on */
		} else if (r->close_cb) {
			r->close_cb(r, r->close_arg);
			req_free(r);
		} /* else: the handler's, until it replies */
	}
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->nconns--;
	event_free(c->rev);
	event_free(c->wev);
	if (c->ssl) {
		SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
	}
	close(c->fd);
	buf_free(&c->in);
	buf_free(&c->out);
	free(c->owned);
	free(c);
}

/* At max_conns, the connection idle longest with no request in progress
 * (waiting for a head, or lingering after a refusal) makes room; true
 * when there is room now. */
static bool make_room(struct httpd *s)
{
	if (!s->max_conns || s->nconns < s->max_conns)
		return true;
	struct hconn *victim = NULL;
	for (struct hconn *c = s->conns; c; c = c->next)
		if ((c->state == C_HEAD || c->state == C_LINGER) && !c->out.len && (!victim || c->last_ms < victim->last_ms))
			victim = c;
	s->shed++;
	if (!victim)
		return false;
	conn_close(victim);
	return true;
}

static void conn_new(struct httpd *s, int fd)
{
	if (!make_room(s)) { /* every connection is busy with a request: the new one goes */
		close(fd);
		return;
	}
	struct hconn *c = xcalloc(1, sizeof *c);
	c->s = s;
	c->fd = fd;
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (s->ssl) {
		c->ssl = SSL_new(s->ssl);
		SSL_set_fd(c->ssl, fd);
		SSL_set_accept_state(c->ssl);
	}
	buf_init(&c->in);
	buf_init(&c->out);
	c->rev = event_new(s->base, fd, EV_READ | EV_PERSIST, read_cb, c);
	c->wev = event_new(s->base, fd, EV_WRITE | EV_PERSIST, write_cb, c);
	c->last_ms = c->head_ms = now_ms();
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	s->nconns++;
	want_read(c, true);
}

/* ---- the server ---------------------------------------------------------- */

static void resume_accept(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct httpd *s = arg;
	for (int i = 0; i < s->nl; i++)
		event_add(s->lev[i], NULL);
}

static void accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	(void)what;
	struct httpd *s = arg;
	for (int i = 0; i < 64; i++) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0) {
			conn_new(s, fd);
			continue;
		}
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
			/* out of descriptors: stop accepting for a moment
			 * rather than spin on a listener that stays ready */
			for (int j = 0; j < s->nl; j++)
				event_del(s->lev[j]);
			struct timeval tv = { 0, 100000 };
			event_add(s->resume_accept, &tv);
		}
		return;
	}
}

static void sweep_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct httpd *s = arg;
	int64_t now = now_ms(), limit = (int64_t)s->timeout_s * 1000;
	struct hconn *next;
	for (struct hconn *c = s->conns; c; c = next) {
		next = c->next;
		int64_t idle = now - c->last_ms;
		bool stalled_write = c->out.len > c->out_off || c->owned;
		/* a head trickled in a byte at a time makes progress, but must
		 * still be whole within the head limit; so must a connection's
		 * first head (a connection opened and left silent) */
		int64_t hl = s->head_timeout_ms > 0 ? s->head_timeout_ms : limit;
		bool slow_head = c->state == C_HEAD && (c->in.len > c->in_off || !c->served) && now - c->head_ms > hl;
		if ((c->state == C_LINGER && idle > LINGER_MS) ||
		    (limit > 0 && (slow_head || (idle > limit && (c->state == C_HEAD || c->state == C_BODY ||
								   stalled_write)))))
			conn_close(c);
	}
}

struct httpd *httpd_new(struct event_base *base, httpd_cb cb, void *arg)
{
	struct httpd *s = xcalloc(1, sizeof *s);
	s->base = base;
	s->cb = cb;
	s->arg = arg;
	s->max_body = 1 << 20;
	s->error_body = plain_error_body;
	s->max_head = 8192;
	s->timeout_s = 60;
	s->default_type = "application/json";
	s->sweep = event_new(base, -1, EV_PERSIST, sweep_cb, s);
	s->resume_accept = evtimer_new(base, resume_accept, s);
	struct timeval tv = { 1, 0 };
	event_add(s->sweep, &tv);
	return s;
}

void httpd_set_limits(struct httpd *s, size_t max_body, size_t max_head, int timeout_s, const char *knob_body,
		      const char *knob_head)
{
	s->max_body = max_body;
	s->max_head = max_head;
	s->timeout_s = timeout_s;
	s->knob_body = knob_body;
	s->knob_head = knob_head;
}

/* the default refusal body: {"error":{"code","message"}} */
static char *plain_error_body(int status, const char *code, const char *message)
{
	(void)status;
	json_t *j = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", message);
	char *s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	return s;
}

void httpd_set_error_body(struct httpd *s, httpd_error_fn fn)
{
	s->error_body = fn ? fn : plain_error_body;
}

void httpd_set_prefix_body_limit(struct httpd *s, const char *prefix, size_t max_body, const char *knob)
{
	s->prefix = prefix;
	s->max_prefix = max_body;
	s->knob_prefix = knob;
}

void httpd_set_tls(struct httpd *s, struct ssl_ctx_st *ctx)
{
	s->ssl = ctx;
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
}

void httpd_set_default_type(struct httpd *s, const char *ctype)
{
	s->default_type = ctype;
}

int httpd_bind(struct httpd *s, const char *hostport, char *out, size_t outlen, char **cause)
{
	char host[256], port[16];
	int pn;
	if (parse_hostport(hostport, host, sizeof host, &pn, cause) != 0)
		return -1;
	if (s->nl == MAX_LISTEN)
		return fail(cause, "too many listeners");
	snprintf(port, sizeof port, "%d", pn);
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE },
			*ai = NULL;
	if (getaddrinfo(*host ? host : NULL, port, &hints, &ai) != 0 || !ai)
		return fail(cause, "cannot listen on %s (unknown host)", hostport);
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;
	if (fd >= 0)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 511) != 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		freeaddrinfo(ai);
		return fail(cause, "cannot listen on %s: %s", hostport, strerror(e));
	}
	freeaddrinfo(ai);
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	getsockname(fd, (struct sockaddr *)&ss, &sl);
	char ip[INET6_ADDRSTRLEN] = "?";
	if (ss.ss_family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
		snprintf(out, outlen, "%s:%d", ip, ntohs(a->sin_port));
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof ip);
		snprintf(out, outlen, "[%s]:%d", ip, ntohs(a->sin6_port));
	}
	s->lfd[s->nl] = fd;
	s->lev[s->nl] = event_new(s->base, fd, EV_READ | EV_PERSIST, accept_cb, s);
	event_add(s->lev[s->nl], NULL);
	s->nl++;
	return 0;
}

void httpd_unbind(struct httpd *s)
{
	for (int i = 0; i < s->nl; i++) {
		event_free(s->lev[i]);
		close(s->lfd[i]);
	}
	s->nl = 0;
}

void httpd_free(struct httpd *s)
{
	if (!s)
		return;
	httpd_unbind(s);
	while (s->conns)
		conn_close(s->conns);
	event_free(s->sweep);
	event_free(s->resume_accept);
	free(s);
}

int httpd_connections(const struct httpd *s)
{
	return s->nconns;
}

void httpd_set_conn_limits(struct httpd *s, int max_conns, int head_timeout_s)
{
	s->max_conns = max_conns;
	s->head_timeout_ms = (int64_t)head_timeout_s * 1000;
}

int64_t httpd_shed(const struct httpd *s)
{
	return s->shed;
}
