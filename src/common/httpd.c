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
#include "secret.h"
#include "util.h"

#include "httpd_int.h"

static void conn_close(struct hconn *c);
static void advance(struct hconn *c);

static int64_t now_ms(void)
{
	return mono_us() / 1000;
}

/* ---- connections -------------------------------------------------------- */

void ev_want(struct event *ev, bool *added, bool on)
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
	ev_want(c->wev, &c->writing, on);
}

static void want_read(struct hconn *c, bool on)
{
	ev_want(c->rev, &c->reading, on);
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
		hd_conn_fail(c);
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
	hd_req_free(r);
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
		hd_buf_park(c->s, &c->in);
		c->in_off = c->scan = 0;
		if (c->out.len == c->out_off) {
			hd_buf_park(c->s, &c->out);
			c->out_off = 0;
		}
	}
}

void hd_conn_flush(struct hconn *c)
{
	if (c->failed)
		return;
	if (write_some(c) != 0) {
		hd_conn_fail(c);
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
		hd_req_free(c->req);
		c->req = NULL;
	}
	struct hreq tmp = { .c = c, .close = true };
	buf_init(&tmp.ohdr);
	c->close_after = true;
	c->state = C_HANDLER;
	char *s = c->s->error_body(status, code, msg);
	hd_put_head(&tmp, status, (int64_t)strlen(s) + 1);
	buf_adds(&c->out, s);
	buf_add(&c->out, "\n", 1);
	free(s);
	buf_free(&tmp.ohdr);
	want_read(c, false);
	hd_conn_flush(c);
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
		hd_conn_flush(c);
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
		hd_conn_flush(c); /* a TLS write that waited for input */
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
		else {
			hd_buf_take(c->s, &c->in);
			buf_reserve(&c->in, 4096);
		}
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
	hd_conn_flush(c);
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
			hd_req_free(r);
		} else if (c->state != C_HANDLER) {
			hd_req_free(r); /* never handed on */
		} else if (r->close_cb) {
			r->close_cb(r, r->close_arg);
			hd_req_free(r);
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
	secret_free(c->bearer);
	hd_buf_park(s, &c->in);
	hd_buf_park(s, &c->out);
	free(c->owned);
	free(c);
}

#define SPARE_CAP (16 * 1024)

void hd_buf_take(struct httpd *s, buf *b)
{
	if (b->data || !s->nspare)
		return;
	*b = s->spare[--s->nspare];
	buf_reset(b);
}

void hd_buf_park(struct httpd *s, buf *b)
{
	if (b->data && b->cap <= SPARE_CAP && s->nspare < (int)ARRAY_LEN(s->spare)) {
		s->spare[s->nspare++] = *b;
		buf_init(b);
		return;
	}
	buf_free(b);
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
	while (s->nspare)
		buf_free(&s->spare[--s->nspare]);
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
