/* upstream.c — outgoing HTTP/1.1 on the gateway's libevent loop: a small
 * client made for talking to one API host all day. Connections (plain or
 * TLS, verified against the system's CAs or upstream.ca_file) are kept
 * alive and reused per scheme, host and port; names resolve through evdns,
 * never blocking the loop. A connection is a socket, two raw events and
 * one input buffer reused from answer to answer (no bufferevent: a read is
 * one read(2) or SSL_read, a request one send(2) or SSL_write when the
 * socket takes it, and write interest is asked for only when it does not).
 * A request is written in one go; the answer is parsed as it arrives (its
 * head whole, by hparse.c's grammar, handed on as parsed fields; then a
 * body by length, in chunks, or until close, handed on as it comes, so
 * streams pass through event by event). Where a request goes is an origin
 * parsed when the configuration was loaded. A reused connection that the
 * server had already closed is retried once on a fresh one, before any
 * byte of an answer, when the server cannot have acted on the request (not
 * all of it written, or a GET or HEAD): a POST is never sent twice.
 *
 * When the environment names an outgoing proxy (http_proxy, https_proxy,
 * all_proxy) every request goes through libcurl instead
 * (upstream_curl.c), which knows how to use one.
 *
 * Ownership: a transfer belongs to this module from upstream_start until
 * its on_done has been called, or until utx_cancel; no callback runs from
 * inside upstream_start or utx_cancel. A connection belongs to its
 * transfer while one runs on it, else to the idle list. */
#include "net.h"
#include "upstream_engine.h"
#include "httpd.h" /* the one HTTP/1.1 grammar (hparse.c) */
#include "origin.h"

#include <errno.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <event2/util.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"
#include "secret.h"
#include "util.h"

#define IDLE_MAX 128          /* idle connections kept */
#define IDLE_TIMEOUT_S 45     /* closed before the server would close them */
#define SWEEP_S 5             /* how often idle connections are looked at */
#define HEAD_MAX (64 * 1024)  /* the largest response head accepted */
#define DELIVER_MAX (64 * 1024)
#define READ_MIN 1024         /* room made before a read */
#define READ_BUF 4095         /* a connection's input buffer to begin with (4 KiB) */
#define HEAD_FIELDS 128       /* the most fields an answer may have */

enum rstate { R_HEAD, R_BODY_LEN, R_BODY_CLOSE, R_CHUNK_SIZE, R_CHUNK_DATA, R_CHUNK_END, R_TRAILERS };
enum cstate { K_RESOLVING, K_CONNECTING, K_HANDSHAKE, K_OPEN };

struct hconn {
	struct upstream *u;
	int fd;                 /* -1 while resolving */
	SSL *ssl;               /* NULL: plain */
	struct event rev, wev;  /* assigned once the socket exists */
	bool reading, writing;  /* rev / wev added */
	bool read_wants_write;  /* an SSL_read waits for the socket to take a write */
	bool dead, dead_eof;    /* its end was read (cleanly): never reused */
	enum cstate state;
	struct evdns_getaddrinfo_request *dns;
	buf in;                 /* what arrived, parsed from in_off */
	size_t in_off;
	char *key;              /* "https://host:port": what it can be reused for */
	struct utx *t;          /* the transfer on it; NULL while idle */
	struct hconn *next;     /* the idle list */
	int64_t idle_since_us;
	int uses;
};

struct upstream {
	struct event_base *base;
	struct evdns_base *dns;
	SSL_CTX *ssl;
	char *ca_file;
	struct hconn *idle;
	int nidle, active;
	struct event *sweep;  /* closes connections idle too long */
	bool starting;        /* inside upstream_start: failures are told later */
	struct curlup *curl;  /* an outgoing proxy is set: everything goes there */
};

struct utx {
	struct upstream *u;
	struct curlup_tx *c; /* the libcurl engine's transfer (proxy mode) */
	const struct utx_cbs *cbs;
	void *arg;
	struct hconn *conn;
	buf req;              /* the request, kept whole for one retry */
	size_t req_off;       /* written up to */
	struct origin *o;     /* where it goes (a reference) */
	enum rstate st;
	buf head;             /* the answer's head, its fields pointing into it */
	struct hstatus hs;
	int64_t remaining;
	bool close_after, head_done, paused, got_bytes, retried, no_body, in_cb, cancelled, eof;
	bool idempotent;      /* GET or HEAD: may be sent again whatever Groq saw */
	int64_t connect_timeout_ms;
	struct event ttfb;    /* time to first byte (added when timeout_ms > 0) */
	struct event ctimer;  /* connect timeout, or a failure reported later */
	char *later;          /* that failure's message */
	/* last, and not zeroed when made (4 KiB a request): the parser writes
	 * the fields it finds, and only hs's count of them is read */
	struct hfield fields[HEAD_FIELDS];
};

/* ---- connections ------------------------------------------------------ */

static void want_read(struct hconn *c, bool on)
{
	if (c->fd >= 0)
		ev_want(&c->rev, &c->reading, on);
}

static void want_write(struct hconn *c, bool on)
{
	if (c->fd >= 0)
		ev_want(&c->wev, &c->writing, on);
}

static void conn_free(struct hconn *c)
{
	if (!c)
		return;
	if (c->t)
		c->t->conn = NULL;
	if (c->dns) /* its callback is told EVUTIL_EAI_CANCEL, and does nothing */
		evdns_getaddrinfo_cancel(c->dns);
	if (c->fd >= 0) {
		event_del(&c->rev);
		event_del(&c->wev);
		if (c->ssl)
			SSL_free(c->ssl);
		close(c->fd);
	} else if (c->ssl) {
		SSL_free(c->ssl);
	}
	buf_free(&c->in);
	free(c->key);
	free(c);
}

static void idle_remove(struct upstream *u, struct hconn *c)
{
	for (struct hconn **pp = &u->idle; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			u->nidle--;
			break;
		}
	c->next = NULL;
}

static void idle_put(struct hconn *c)
{
	struct upstream *u = c->u;
	c->t = NULL;
	if (u->nidle >= IDLE_MAX) {
		conn_free(c);
		return;
	}
	want_read(c, true); /* to see the server close it */
	want_write(c, false);
	c->idle_since_us = mono_us();
	c->next = u->idle;
	u->idle = c;
	u->nidle++;
}

static struct hconn *idle_take(struct upstream *u, const char *key)
{
	for (struct hconn *c = u->idle; c; c = c->next)
		if (strcmp(c->key, key) == 0) {
			idle_remove(u, c);
			return c;
		}
	return NULL;
}

static void sweep_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct upstream *u = arg;
	int64_t old = mono_us() - (int64_t)IDLE_TIMEOUT_S * 1000000;
	for (struct hconn **pp = &u->idle; *pp;) {
		struct hconn *c = *pp;
		if (c->idle_since_us > old) {
			pp = &c->next;
			continue;
		}
		*pp = c->next;
		u->nidle--;
		conn_free(c);
	}
}

static SSL_CTX *client_ctx(struct upstream *u, char **err)
{
	if (u->ssl)
		return u->ssl;
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx) {
		*err = xstrdup("cannot create a TLS context");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	/* a write may be taken in part, and retried from where it stopped */
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	/* no TLS 1.2 renegotiation: a write waiting on a read could spin */
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
#ifdef SSL_OP_IGNORE_UNEXPECTED_EOF
	/* a server that closes without close_notify ends a body read until
	 * close, as it always has over TLS */
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
#endif
	int ok = u->ca_file ? SSL_CTX_load_verify_locations(ctx, u->ca_file, NULL)
			    : SSL_CTX_set_default_verify_paths(ctx);
	if (ok != 1) {
		*err = xasprintf("cannot load CA certificates%s%s", u->ca_file ? " from " : "",
				 u->ca_file ? u->ca_file : "");
		SSL_CTX_free(ctx);
		return NULL;
	}
	return u->ssl = ctx;
}

/* ---- finishing -------------------------------------------------------- */

static void tx_free(struct utx *t)
{
	event_del(&t->ttfb);
	event_del(&t->ctimer);
	secret_wipe(t->req.data, t->req.len); /* it holds the Groq key */
	buf_free(&t->req);
	buf_free(&t->head);
	origin_unref(t->o);
	free(t->later);
	free(t);
}

static bool reusable(const struct utx *t, const struct hconn *c)
{
	return !t->close_after && !c->dead && c->state == K_OPEN && t->req_off == t->req.len && c->in.len == c->in_off &&
	       !(c->ssl && SSL_pending(c->ssl));
}

static void finish(struct utx *t, int ok, const char *err)
{
	const struct utx_cbs *cbs = t->cbs;
	void *arg = t->arg;
	char msg[300]; /* err may live in t, freed below */
	if (!ok)
		snprintf(msg, sizeof msg, "%s", err ? err : "");
	t->u->active--;
	if (t->conn) {
		struct hconn *c = t->conn;
		t->conn = NULL;
		c->t = NULL;
		if (ok && reusable(t, c))
			idle_put(c);
		else
			conn_free(c);
	}
	tx_free(t);
	cbs->on_done(arg, ok, ok ? NULL : msg);
}

static void tx_fail(struct utx *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void tx_fail(struct utx *t, const char *fmt, ...)
{
	char msg[300];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	t->close_after = true;
	finish(t, 0, msg);
}

static void later_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct utx *t = arg;
	if (t->later)
		tx_fail(t, "%s", t->later);
	else
		tx_fail(t, "connection to %s:%d timed out after %lld ms", t->o->host, t->o->port,
		     (long long)t->connect_timeout_ms);
}

/* a failure found inside upstream_start is reported from the loop */
static void fail_later(struct utx *t, const char *msg)
{
	free(t->later);
	t->later = xstrdup(msg);
	event_del(&t->ctimer);
	event_active(&t->ctimer, EV_TIMEOUT, 1);
}

static void on_ttfb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	tx_fail(arg, "timeout");
}

/* ---- reading the answer ------------------------------------------------ */

/* Calls back into the caller; false when the transfer was cancelled from
 * inside (it is freed here then). */
static bool cb_head(struct utx *t)
{
	t->in_cb = true;
	t->cbs->on_head(t->arg, &t->hs);
	t->in_cb = false;
	if (!t->cancelled)
		return true;
	t->u->active--;
	conn_free(t->conn);
	tx_free(t);
	return false;
}

static void consume(struct hconn *c, size_t n)
{
	c->in_off += n;
	if (c->in_off == c->in.len)
		c->in_off = c->in.len = 0;
}

static bool deliver(struct utx *t, struct hconn *c, size_t n)
{
	while (n) {
		size_t k = n < DELIVER_MAX ? n : DELIVER_MAX;
		t->in_cb = true;
		t->cbs->on_data(t->arg, c->in.data + c->in_off, k);
		t->in_cb = false;
		if (t->cancelled) {
			t->u->active--;
			conn_free(t->conn);
			tx_free(t);
			return false;
		}
		consume(c, k);
		n -= k;
	}
	return true;
}

/* The next line of what arrived (ended by CRLF or LF), ended with a NUL in
 * place of its end and consumed, or NULL while it is incomplete. It stays
 * valid until the next read. */
static char *take_line(struct hconn *c)
{
	char *p = c->in.data + c->in_off;
	char *nl = memchr(p, '\n', c->in.len - c->in_off);
	if (!nl)
		return NULL;
	consume(c, (size_t)(nl - p) + 1);
	if (nl > p && nl[-1] == '\r')
		nl--;
	*nl = '\0';
	return p;
}

/* Parses what has arrived. Returns false when the transfer is over (done,
 * failed or cancelled from a callback: t is freed), true while it waits
 * for more. */
static bool process(struct utx *t)
{
	struct hconn *c = t->conn;
	if (c->in.len > c->in_off)
		t->got_bytes = true;
	while (!t->paused) {
		char *line;
		size_t avail = c->in.len - c->in_off;
		switch (t->st) {
		case R_CHUNK_SIZE:
		case R_CHUNK_END:
		case R_TRAILERS:
			line = take_line(c);
			if (!line) {
				if (avail > HEAD_MAX) {
					tx_fail(t, "upstream sent a line longer than %d bytes", HEAD_MAX);
					return false;
				}
				return true;
			}
			break;
		default:
			line = NULL;
		}
		switch (t->st) {
		case R_HEAD: {
			/* the whole head, parsed by the one grammar (hparse.c) */
			size_t n = avail < HEAD_MAX ? avail : HEAD_MAX;
			size_t end = n ? httpd_head_end(c->in.data + c->in_off, n) : 0;
			if (!end) {
				if (avail >= HEAD_MAX) {
					tx_fail(t, "upstream headers over %d bytes", HEAD_MAX);
					return false;
				}
				return true;
			}
			buf_reset(&t->head);
			buf_add(&t->head, c->in.data + c->in_off, end);
			consume(c, end);
			const char *why = NULL;
			t->hs.h = t->fields;
			if (http_parse_status_head(t->head.data, end, &t->hs, HEAD_FIELDS, &why) < 0) {
				tx_fail(t, "upstream sent a malformed answer (%s)", why);
				return false;
			}
			if (t->hs.status < 200) /* 100 Continue and friends: the answer follows */
				break;
			t->close_after |= t->hs.close;
			t->head_done = true;
			event_del(&t->ttfb);
			if (!cb_head(t))
				return false;
			int status = t->hs.status;
			if (t->no_body || status == 204 || status == 304 || t->hs.content_length == 0) {
				finish(t, 1, NULL);
				return false;
			}
			if (t->hs.chunked) {
				t->st = R_CHUNK_SIZE;
			} else if (t->hs.content_length > 0) {
				t->remaining = t->hs.content_length;
				t->st = R_BODY_LEN;
			} else {
				t->close_after = true;
				t->st = R_BODY_CLOSE;
			}
			break;
		}
		case R_BODY_LEN:
		case R_CHUNK_DATA: {
			size_t k = (int64_t)avail < t->remaining ? avail : (size_t)t->remaining;
			if (k && !deliver(t, c, k))
				return false;
			t->remaining -= (int64_t)k;
			if (t->remaining > 0)
				return true;
			if (t->st == R_BODY_LEN) {
				finish(t, 1, NULL);
				return false;
			}
			t->st = R_CHUNK_END;
			break;
		}
		case R_BODY_CLOSE:
			if (avail && !deliver(t, c, avail))
				return false;
			if (t->eof && !t->paused) { /* the body ended with the connection */
				finish(t, 1, NULL);
				return false;
			}
			return true;
		case R_CHUNK_SIZE: {
			int64_t sz = 0; /* the server's grammar (hparse.c) */
			if (http_chunk_size(line, strlen(line), INT64_MAX / 2, &sz) != 0) {
				tx_fail(t, "upstream sent a malformed chunk");
				return false;
			}
			t->remaining = sz;
			t->st = sz ? R_CHUNK_DATA : R_TRAILERS;
			break;
		}
		case R_CHUNK_END:
			t->st = R_CHUNK_SIZE;
			break;
		case R_TRAILERS:
			if (!*line) {
				finish(t, 1, NULL);
				return false;
			}
			break;
		}
	}
	return true;
}

static void connect_new(struct utx *t);

/* The connection failed or closed (why says how). A transfer on it that
 * is waiting for its answer is retried once on a fresh connection when the
 * connection was a reused one that had not answered, and Groq cannot have
 * acted on the request: it was not all written, or it is a GET or HEAD (a
 * POST Groq had whole is never sent twice: it may have run, and be billed);
 * else it fails. */
static void conn_lost(struct hconn *c, const char *why)
{
	struct utx *t = c->t;
	if (!t) { /* idle: closed by the server */
		idle_remove(c->u, c);
		conn_free(c);
		return;
	}
	if (c->state == K_OPEN && !t->got_bytes && c->uses > 1 && !t->retried &&
	    (t->req_off < t->req.len || t->idempotent)) {
		t->retried = true;
		t->conn = NULL;
		c->t = NULL;
		conn_free(c);
		t->req_off = 0;
		connect_new(t);
		return;
	}
	if (c->state != K_OPEN)
		tx_fail(t, "could not connect to %s:%d: %s", t->o->host, t->o->port, why);
	else if (!t->head_done)
		tx_fail(t, "upstream closed without a response (%s)", why);
	else
		tx_fail(t, "upstream closed mid-answer (%s)", why);
}

/* what an SSL call's failure was, as text */
static void ssl_why(char *why, size_t n, int err)
{
	unsigned long e = ERR_get_error();
	if (e)
		ERR_error_string_n(e, why, n);
	else if (err == SSL_ERROR_SYSCALL && errno)
		snprintf(why, n, "%s", strerror(errno));
	else
		snprintf(why, n, "connection closed");
}

/* Reads what the socket has. Returns 1 with bytes added, 0 when there is
 * nothing now, -1 when the connection ended (*eof: cleanly) with why. */
static int read_some(struct hconn *c, bool *eof, char *why, size_t whyn)
{
	if (c->in_off && c->in_off == c->in.len)
		c->in_off = c->in.len = 0;
	if (c->in.cap - c->in.len < READ_MIN + 1) {
		if (c->in_off) { /* what was parsed makes room */
			memmove(c->in.data, c->in.data + c->in_off, c->in.len - c->in_off);
			c->in.len -= c->in_off;
			c->in_off = 0;
		}
		if (c->in.cap - c->in.len < READ_MIN + 1)
			buf_reserve(&c->in, c->in.cap ? c->in.cap : READ_BUF);
	}
	size_t room = c->in.cap - c->in.len - 1;
	*eof = false;
	if (c->dead) { /* (read again after its end: the end again) */
		*eof = c->dead_eof;
		snprintf(why, whyn, "%s", c->dead_eof ? "connection closed" : "connection failed");
		return -1;
	}
	if (!c->ssl) {
		ssize_t n = read(c->fd, c->in.data + c->in.len, room);
		if (n > 0) {
			c->in.len += (size_t)n;
			return 1;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return 0;
		c->dead = true;
		*eof = c->dead_eof = n == 0;
		snprintf(why, whyn, "%s", n == 0 ? "connection closed" : strerror(errno));
		return -1;
	}
	ERR_clear_error();
	errno = 0;
	int n = SSL_read(c->ssl, c->in.data + c->in.len, (int)(room < INT32_MAX ? room : INT32_MAX));
	if (n > 0) {
		c->in.len += (size_t)n;
		return 1;
	}
	int e = SSL_get_error(c->ssl, n);
	if (e == SSL_ERROR_WANT_READ)
		return 0;
	if (e == SSL_ERROR_WANT_WRITE) {
		c->read_wants_write = true;
		want_write(c, true);
		return 0;
	}
	c->dead = true;
	*eof = c->dead_eof = e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && !errno && !ERR_peek_error());
	if (*eof)
		snprintf(why, whyn, "connection closed");
	else
		ssl_why(why, whyn, e);
	return -1;
}

/* Writes what is left of the request. 0 when it is all out or the socket
 * is full (write interest asked for), -1 with why on a failed socket. */
static int flush_req(struct hconn *c, char *why, size_t whyn)
{
	struct utx *t = c->t;
	while (t && t->req_off < t->req.len) {
		size_t n = t->req.len - t->req_off;
		ssize_t w;
		if (!c->ssl) {
			w = send(c->fd, t->req.data + t->req_off, n, MSG_NOSIGNAL);
			if (w < 0 && (errno == EAGAIN || errno == EINTR))
				break;
			if (w < 0) {
				snprintf(why, whyn, "%s", strerror(errno));
				return -1;
			}
		} else {
			ERR_clear_error();
			errno = 0;
			int r = SSL_write(c->ssl, t->req.data + t->req_off, (int)(n < INT32_MAX ? n : INT32_MAX));
			if (r <= 0) {
				int e = SSL_get_error(c->ssl, r);
				if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ)
					break; /* (read interest is on while a transfer runs) */
				ssl_why(why, whyn, e);
				return -1;
			}
			w = r;
		}
		t->req_off += (size_t)w;
	}
	want_write(c, (t && t->req_off < t->req.len) || c->read_wants_write);
	return 0;
}

/* The connection is ready for requests: what waits is written. */
static void opened(struct hconn *c)
{
	c->state = K_OPEN;
	struct utx *t = c->t;
	if (t)
		event_del(&t->ctimer);
	want_read(c, !(t && t->paused)); /* (paused before it opened: read when resumed) */
	char why[200];
	if (flush_req(c, why, sizeof why) < 0)
		conn_lost(c, why);
}

static void handshake(struct hconn *c)
{
	ERR_clear_error();
	errno = 0;
	int r = SSL_connect(c->ssl);
	if (r == 1) {
		opened(c);
		return;
	}
	int e = SSL_get_error(c->ssl, r);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		want_read(c, true);
		want_write(c, e == SSL_ERROR_WANT_WRITE);
		return;
	}
	char why[200];
	ssl_why(why, sizeof why, e);
	conn_lost(c, why);
}

static void io_cb(evutil_socket_t fd, short what, void *arg)
{
	struct hconn *c = arg;
	char why[200];
	switch (c->state) {
	case K_RESOLVING:
		return;
	case K_CONNECTING: {
		int err = 0;
		socklen_t len = sizeof err;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			err = errno;
		if (err == EINPROGRESS)
			return;
		if (err) {
			conn_lost(c, strerror(err));
			return;
		}
		if (c->ssl) {
			c->state = K_HANDSHAKE;
			handshake(c);
		} else {
			opened(c);
		}
		return;
	}
	case K_HANDSHAKE:
		handshake(c);
		return;
	case K_OPEN:
		break;
	}
	/* a failed write is told after what arrived is read: Groq may have
	 * answered (413, 401) before it stopped reading the request */
	bool wfail = false;
	char wwhy[200];
	if (what & EV_WRITE) {
		bool also_read = c->read_wants_write;
		c->read_wants_write = false;
		wfail = flush_req(c, wwhy, sizeof wwhy) < 0;
		if (!wfail && !also_read && !(what & EV_READ))
			return;
	}
	struct utx *t = c->t;
	if (t && t->paused) {
		if (wfail)
			conn_lost(c, wwhy);
		return;
	}
	bool eof;
	why[0] = '\0';
	int r = read_some(c, &eof, why, sizeof why);
	if (!t) { /* an idle connection has nothing to say: closed */
		if (r != 0 || wfail)
			conn_lost(c, why);
		return;
	}
	/* what arrived before (held while the transfer was paused) first */
	if (!process(t))
		return;
	if (r < 0 && t->paused)
		return; /* the end is read again when the transfer resumes */
	if (r < 0) {
		if (eof && t->st == R_BODY_CLOSE) {
			t->eof = true;
			process(t);
		} else {
			conn_lost(c, why);
		}
		return;
	}
	if (wfail) {
		conn_lost(c, wwhy);
		return;
	}
	/* TLS may hold more than the socket says: read it on the next pass */
	if (c->ssl && SSL_pending(c->ssl) && !t->paused)
		event_active(&c->rev, EV_READ, 1);
}

/* ---- connecting --------------------------------------------------------- */

static void dns_cb(int result, struct evutil_addrinfo *res, void *arg)
{
	if (result == EVUTIL_EAI_CANCEL) /* the connection is being freed */
		return;
	struct hconn *c = arg;
	struct upstream *u = c->u;
	struct utx *t = c->t;
	c->dns = NULL;
	char why[300];
	int fd = -1;
	if (result != 0 || !res) {
		snprintf(why, sizeof why, "cannot resolve %s: %s", t->o->host, evutil_gai_strerror(result));
	} else {
		fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
		if (fd < 0) {
			snprintf(why, sizeof why, "%s", strerror(errno));
		} else {
			int one = 1;
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
			if (connect(fd, res->ai_addr, res->ai_addrlen) < 0 && errno != EINPROGRESS) {
				snprintf(why, sizeof why, "%s", strerror(errno));
				close(fd);
				fd = -1;
			}
		}
	}
	if (res)
		evutil_freeaddrinfo(res);
	if (fd < 0) {
		char *m = xasprintf("could not connect to %s:%d: %s", t->o->host, t->o->port, why);
		if (u->starting)
			fail_later(t, m);
		else
			tx_fail(t, "%s", m);
		free(m);
		return;
	}
	c->fd = fd;
	event_assign(&c->rev, u->base, fd, EV_READ | EV_PERSIST, io_cb, c);
	event_assign(&c->wev, u->base, fd, EV_WRITE | EV_PERSIST, io_cb, c);
	if (c->ssl)
		SSL_set_fd(c->ssl, fd);
	c->state = K_CONNECTING;
	want_write(c, true); /* the connection made, or refused */
}

static void connect_new(struct utx *t)
{
	struct upstream *u = t->u;
	struct hconn *c = xcalloc(1, sizeof *c);
	c->u = u;
	c->fd = -1;
	c->key = xstrdup(t->o->key);
	buf_init(&c->in);
	t->conn = c;
	c->t = t;
	c->uses = 1;
	if (t->o->tls) {
		char *err = NULL;
		SSL_CTX *ctx = client_ctx(u, &err);
		if (!ctx) {
			fail_later(t, err);
			free(err);
			return;
		}
		c->ssl = SSL_new(ctx);
		SSL_set_connect_state(c->ssl);
		SSL_set_tlsext_host_name(c->ssl, t->o->host);
		X509_VERIFY_PARAM *vp = SSL_get0_param(c->ssl);
		if (X509_VERIFY_PARAM_set1_ip_asc(vp, t->o->host) != 1) /* a name, not an address */
			SSL_set1_host(c->ssl, t->o->host);
	}
	if (t->connect_timeout_ms > 0) {
		struct timeval tv = { (time_t)(t->connect_timeout_ms / 1000),
				      (suseconds_t)(t->connect_timeout_ms % 1000) * 1000 };
		evtimer_add(&t->ctimer, &tv);
	}
	char port[8];
	snprintf(port, sizeof port, "%d", t->o->port);
	struct evutil_addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
					 .ai_protocol = IPPROTO_TCP };
	bool was = u->starting;
	u->starting = true; /* (the answer may come at once: from /etc/hosts, or an address) */
	c->state = K_RESOLVING;
	struct evdns_getaddrinfo_request *q = evdns_getaddrinfo(u->dns, t->o->host, port, &hints, dns_cb, c);
	u->starting = was;
	if (c->state == K_RESOLVING && c->fd < 0 && !t->later)
		c->dns = q;
}

/* a transfer on a connection: a kept-alive one is written to at once */
static void start_on(struct utx *t, struct hconn *c)
{
	t->conn = c;
	c->t = t;
	c->uses++;
	char why[200];
	if (flush_req(c, why, sizeof why) < 0) /* closed meanwhile: the read says so (and retries) */
		event_active(&c->rev, EV_READ, 1);
}

/* ---- the forwarding wrapper of proxy mode ------------------------------- */

static void fwd_head(void *arg, const struct hstatus *h)
{
	struct utx *t = arg;
	t->cbs->on_head(t->arg, h);
}
static void fwd_data(void *arg, const char *d, size_t n)
{
	struct utx *t = arg;
	t->cbs->on_data(t->arg, d, n);
}
static void fwd_done(void *arg, int ok, const char *err)
{
	struct utx *t = arg;
	const struct utx_cbs *cbs = t->cbs;
	void *a = t->arg;
	free(t);
	cbs->on_done(a, ok, err);
}
static const struct utx_cbs fwd_cbs = { fwd_head, fwd_data, fwd_done };

/* ---- the interface ------------------------------------------------------- */

static const char *proxy_env(void)
{
	static const char *const names[] = { "https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY",
					     "all_proxy", "ALL_PROXY" };
	for (size_t i = 0; i < ARRAY_LEN(names); i++) {
		const char *v = getenv(names[i]);
		if (v && *v)
			return names[i];
	}
	return NULL;
}

struct upstream *upstream_new(struct event_base *base, const char *ca_file)
{
	struct upstream *u = xcalloc(1, sizeof *u);
	u->base = base;
	u->ca_file = ca_file ? xstrdup(ca_file) : NULL;
	if (proxy_env()) {
		u->curl = curlup_new(base, ca_file);
		return u;
	}
	u->dns = evdns_base_new(base, EVDNS_BASE_INITIALIZE_NAMESERVERS);
	if (!u->dns) /* no resolv.conf: addresses and /etc/hosts only */
		u->dns = evdns_base_new(base, 0);
	u->sweep = event_new(base, -1, EV_PERSIST, sweep_cb, u);
	struct timeval tv = { SWEEP_S, 0 };
	event_add(u->sweep, &tv);
	return u;
}

const char *upstream_engine(const struct upstream *u)
{
	return u->curl ? "libcurl (outgoing proxy set)" : "built-in HTTP/1.1";
}

void upstream_free(struct upstream *u)
{
	if (!u)
		return;
	while (u->idle) {
		struct hconn *c = u->idle;
		idle_remove(u, c);
		conn_free(c);
	}
	if (u->sweep)
		event_free(u->sweep);
	if (u->curl)
		curlup_free(u->curl);
	if (u->dns)
		evdns_base_free(u->dns, 0);
	if (u->ssl)
		SSL_CTX_free(u->ssl);
	free(u->ca_file);
	free(u);
}

int upstream_active(const struct upstream *u)
{
	return u->curl ? curlup_active(u->curl) : u->active;
}

/* the request line's target: the origin's path, then the request's */
static void add_target(buf *b, const struct origin *o, const struct ureq *r)
{
	const char *op = o->path, *oq = strchr(op, '?');
	size_t opl = oq ? (size_t)(oq - op) : strlen(op);
	if (opl)
		buf_add(b, op, opl);
	if (r->path && *r->path)
		buf_adds(b, r->path);
	else if (!opl)
		buf_add(b, "/", 1);
	if (oq) /* the URL's own query (a webhook's), then the request's */
		buf_adds(b, oq);
	if (r->query && *r->query) {
		buf_add(b, oq ? "&" : "?", 1);
		buf_adds(b, r->query);
	}
}

/* The request's head and body in t->req, made in room reserved once: it
 * holds the Groq key, and a buffer that moved would leave a copy behind. */
static void build_request(struct utx *t, const struct origin *o, const struct ureq *r)
{
	size_t need = 64 + strlen(r->method) + strlen(o->path) + strlen(o->hostport) +
		      (r->path ? strlen(r->path) : 0) + (r->query ? strlen(r->query) : 0) + (r->body ? r->len : 0);
	for (const char *const *hd = r->headers; hd && *hd; hd++)
		need += strlen(*hd) + 2;
	buf *b = &t->req;
	buf_reserve(b, need);
	buf_adds(b, r->method);
	buf_add(b, " ", 1);
	add_target(b, o, r);
	buf_add(b, " HTTP/1.1\r\nHost: ", 17);
	buf_adds(b, o->hostport);
	buf_add(b, "\r\n", 2);
	for (const char *const *hd = r->headers; hd && *hd; hd++) {
		buf_adds(b, *hd);
		buf_add(b, "\r\n", 2);
	}
	if (r->body || (!t->no_body && strcmp(r->method, "GET"))) {
		buf_add(b, "Content-Length: ", 16);
		buf_addi(b, r->body ? (int64_t)r->len : 0);
		buf_add(b, "\r\n", 2);
	}
	buf_add(b, "\r\n", 2);
	if (r->body && r->len)
		buf_add(b, r->body, r->len);
}

struct utx *upstream_start(struct upstream *u, struct origin *o, const struct ureq *r, const struct utx_cbs *cbs,
			   void *arg)
{
	struct utx *t = xmalloc(sizeof *t);
	memset(t, 0, offsetof(struct utx, fields));
	t->u = u;
	t->cbs = cbs;
	t->arg = arg;
	if (u->curl) { /* libcurl takes a URL: written out again (proxy mode only) */
		buf b;
		buf_init(&b);
		buf_adds(&b, o->key);
		add_target(&b, o, r);
		buf_add(&b, "", 1);
		t->c = curlup_start(u->curl, r->method, b.data, r->headers, r->body, r->len, r->timeout_ms,
				    r->connect_timeout_ms, &fwd_cbs, t);
		buf_free(&b);
		return t;
	}
	u->active++;
	t->o = origin_ref(o);
	buf_init(&t->head);
	buf_init(&t->req);
	t->connect_timeout_ms = r->connect_timeout_ms;
	t->no_body = strcmp(r->method, "HEAD") == 0;
	t->idempotent = t->no_body || strcmp(r->method, "GET") == 0;
	build_request(t, o, r);
	evtimer_assign(&t->ttfb, u->base, on_ttfb, t);
	evtimer_assign(&t->ctimer, u->base, later_cb, t);
	if (r->timeout_ms > 0) {
		struct timeval tv = { (time_t)(r->timeout_ms / 1000), (suseconds_t)(r->timeout_ms % 1000) * 1000 };
		evtimer_add(&t->ttfb, &tv);
	}
	struct hconn *c = idle_take(u, o->key);
	if (c)
		start_on(t, c);
	else
		connect_new(t);
	return t;
}

void utx_cancel(struct utx *t)
{
	if (!t)
		return;
	if (t->c) {
		curlup_cancel(t->c);
		free(t);
		return;
	}
	if (t->in_cb) { /* inside one of our callbacks: freed when it returns */
		t->cancelled = true;
		return;
	}
	t->u->active--;
	conn_free(t->conn); /* mid-answer: not reusable */
	tx_free(t);
}

void utx_pause(struct utx *t, bool pause)
{
	if (t->c) {
		curlup_pause(t->c, pause);
		return;
	}
	t->paused = pause;
	struct hconn *c = t->conn;
	if (!c || c->state != K_OPEN)
		return;
	want_read(c, !pause);
	if (!pause) /* what arrived meanwhile is processed from the loop, not from here */
		event_active(&c->rev, EV_READ, 1);
}
