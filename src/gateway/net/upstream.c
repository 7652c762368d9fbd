/* upstream.c — outgoing HTTP/1.1 on the gateway's libevent loop: a small
 * client made for talking to one API host all day. Connections (plain or
 * TLS, verified against the system's CAs or upstream.ca_file) are kept
 * alive and reused per scheme, host and port; names resolve through evdns,
 * never blocking the loop. A request is written in one go; the answer is
 * parsed as it arrives (its head whole, by hparse.c's grammar, handed on
 * as parsed fields; then a body by length, in chunks, or until close,
 * handed on as it comes, so streams pass through event by event). Where
 * a request goes is an origin parsed when the configuration was loaded.
 * A reused connection that the server had already closed is retried once
 * on a fresh one, before any byte of an answer.
 *
 * When the environment names an outgoing proxy (http_proxy, https_proxy,
 * all_proxy) every request goes through libcurl instead
 * (upstream_curl.c), which knows how to use one.
 *
 * Ownership: a transfer belongs to this module from upstream_start until
 * its on_done has been called, or until utx_cancel; no callback runs from
 * inside upstream_start or utx_cancel. */
#include "net.h"
#include "upstream_engine.h"
#include "httpd.h" /* the one HTTP/1.1 grammar (hparse.c) */
#include "origin.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <event2/event.h>
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
#include <sys/uio.h>

#include "buf.h"
#include "secret.h"
#include "util.h"

#define IDLE_MAX 128          /* idle connections kept */
#define IDLE_TIMEOUT_S 45     /* closed before the server would close them */
#define HEAD_MAX (64 * 1024)  /* the largest response head accepted */
#define DELIVER_MAX (64 * 1024)
#define HEAD_FIELDS 128       /* the most fields an answer may have */

enum rstate { R_HEAD, R_BODY_LEN, R_BODY_CLOSE, R_CHUNK_SIZE, R_CHUNK_DATA, R_CHUNK_END, R_TRAILERS };

struct hconn {
	struct upstream *u;
	struct bufferevent *bev;
	char *key;          /* "https://host:port": what it can be reused for */
	struct utx *t;      /* the transfer on it; NULL while idle */
	struct hconn *next; /* the idle list */
	int uses;
	bool connected;
};

struct upstream {
	struct event_base *base;
	struct evdns_base *dns;
	SSL_CTX *ssl;
	char *ca_file;
	struct hconn *idle;
	int nidle, active;
	struct curlup *curl; /* an outgoing proxy is set: everything goes there */
};

struct utx {
	struct upstream *u;
	struct curlup_tx *c; /* the libcurl engine's transfer (proxy mode) */
	const struct utx_cbs *cbs;
	void *arg;
	struct hconn *conn;
	struct evbuffer *req; /* the request, kept for one retry */
	struct origin *o;     /* where it goes (a reference) */
	enum rstate st;
	buf head;             /* the answer's head, its fields pointing into it */
	struct hstatus hs;
	buf line;             /* a chunk's line being parsed (take_line) */
	int64_t remaining;
	bool close_after, head_done, paused, got_bytes, retried, no_body, in_cb, cancelled, eof;
	int64_t connect_timeout_ms;
	struct event *ttfb;   /* time to first byte */
	struct event *ctimer; /* connect timeout, or a failure reported later */
	char *later;          /* that failure's message */
	/* last, and not zeroed when made (4 KiB a request): the parser writes
	 * the fields it finds, and only hs's count of them is read */
	struct hfield fields[HEAD_FIELDS];
};

/* ---- connections ------------------------------------------------------ */

static void conn_free(struct hconn *c)
{
	if (!c)
		return;
	if (c->t)
		c->t->conn = NULL;
	bufferevent_free(c->bev);
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

static void read_cb(struct bufferevent *bev, void *arg);
static void event_cb(struct bufferevent *bev, short what, void *arg);

static void idle_put(struct hconn *c)
{
	struct upstream *u = c->u;
	c->t = NULL;
	if (u->nidle >= IDLE_MAX) {
		conn_free(c);
		return;
	}
	struct timeval tv = { IDLE_TIMEOUT_S, 0 };
	bufferevent_set_timeouts(c->bev, &tv, NULL);
	bufferevent_enable(c->bev, EV_READ); /* to see the server close it */
	c->next = u->idle;
	u->idle = c;
	u->nidle++;
}

static struct hconn *idle_take(struct upstream *u, const char *key)
{
	for (struct hconn *c = u->idle; c; c = c->next)
		if (strcmp(c->key, key) == 0) {
			idle_remove(u, c);
			bufferevent_set_timeouts(c->bev, NULL, NULL);
			return c;
		}
	return NULL;
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
	if (t->ttfb)
		event_free(t->ttfb);
	if (t->ctimer)
		event_free(t->ctimer);
	if (t->req) { /* it holds the Groq key: wiped before it is freed */
		struct evbuffer_iovec v[8];
		int n = evbuffer_peek(t->req, -1, NULL, v, 8);
		for (int i = 0; i < n && i < 8; i++)
			secret_wipe(v[i].iov_base, v[i].iov_len);
		evbuffer_free(t->req);
	}
	buf_free(&t->head);
	buf_free(&t->line);
	origin_unref(t->o);
	free(t->later);
	free(t);
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
		if (ok && !t->close_after && evbuffer_get_length(bufferevent_get_input(c->bev)) == 0)
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
	if (t->ctimer)
		event_free(t->ctimer);
	t->ctimer = evtimer_new(t->u->base, later_cb, t);
	struct timeval tv = { 0, 0 };
	evtimer_add(t->ctimer, &tv);
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

static bool deliver(struct utx *t, struct evbuffer *in, size_t n)
{
	while (n) {
		struct evbuffer_iovec v;
		if (evbuffer_peek(in, (ev_ssize_t)(n < DELIVER_MAX ? n : DELIVER_MAX), NULL, &v, 1) < 1)
			break;
		size_t k = v.iov_len < n ? v.iov_len : n;
		t->in_cb = true;
		t->cbs->on_data(t->arg, v.iov_base, k);
		t->in_cb = false;
		evbuffer_drain(in, k);
		n -= k;
		if (t->cancelled) {
			t->u->active--;
			conn_free(t->conn);
			tx_free(t);
			return false;
		}
	}
	return true;
}

/* Parses what has arrived. Returns false when the transfer is over (done,
 * failed or cancelled from a callback: t is freed), true while it waits
 * for more. */
/* The next line in `in` (ended by CRLF or LF), moved into t->line
 * without its end, or NULL while it is incomplete. t->line is reused from
 * line to line: no allocation per header. */
static char *take_line(struct utx *t, struct evbuffer *in)
{
	size_t eol = 0;
	struct evbuffer_ptr at = evbuffer_search_eol(in, NULL, &eol, EVBUFFER_EOL_CRLF);
	if (at.pos < 0)
		return NULL;
	size_t n = (size_t)at.pos;
	buf_reset(&t->line);
	buf_reserve(&t->line, n + 1);
	evbuffer_remove(in, t->line.data, n);
	t->line.len = n;
	t->line.data[n] = '\0';
	evbuffer_drain(in, eol);
	return t->line.data;
}

static bool process(struct utx *t)
{
	struct evbuffer *in = bufferevent_get_input(t->conn->bev);
	if (evbuffer_get_length(in))
		t->got_bytes = true;
	while (!t->paused) {
		char *line;
		switch (t->st) {
		case R_CHUNK_SIZE:
		case R_CHUNK_END:
		case R_TRAILERS:
			line = take_line(t, in);
			if (!line) {
				if (evbuffer_get_length(in) > HEAD_MAX) {
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
			size_t avail = evbuffer_get_length(in), n = avail < HEAD_MAX ? avail : HEAD_MAX;
			const char *p = n ? (const char *)evbuffer_pullup(in, (ev_ssize_t)n) : NULL;
			size_t end = p ? httpd_head_end(p, n) : 0;
			if (!end) {
				if (avail >= HEAD_MAX) {
					tx_fail(t, "upstream headers over %d bytes", HEAD_MAX);
					return false;
				}
				return true;
			}
			buf_reset(&t->head);
			buf_reserve(&t->head, end + 1);
			evbuffer_remove(in, t->head.data, end);
			t->head.len = end;
			t->head.data[end] = '\0';
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
			if (t->ttfb) {
				event_free(t->ttfb);
				t->ttfb = NULL;
			}
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
			size_t avail = evbuffer_get_length(in);
			size_t k = (int64_t)avail < t->remaining ? avail : (size_t)t->remaining;
			if (k && !deliver(t, in, k))
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
		case R_BODY_CLOSE: {
			size_t avail = evbuffer_get_length(in);
			if (avail && !deliver(t, in, avail))
				return false;
			if (t->eof && !t->paused) { /* the body ended with the connection */
				finish(t, 1, NULL);
				return false;
			}
			return true;
		}
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
static void read_cb(struct bufferevent *bev, void *arg)
{
	struct hconn *c = arg;
	if (!c->t) { /* an idle connection has nothing to say */
		evbuffer_drain(bufferevent_get_input(bev), evbuffer_get_length(bufferevent_get_input(bev)));
		idle_remove(c->u, c);
		conn_free(c);
		return;
	}
	process(c->t);
}

static void start_on(struct utx *t, struct hconn *c);
static void connect_new(struct utx *t);

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct hconn *c = arg;
	struct utx *t = c->t;
	if (what & BEV_EVENT_CONNECTED) {
		c->connected = true;
		evutil_socket_t fd = bufferevent_getfd(bev);
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		if (t && t->ctimer) {
			event_free(t->ctimer);
			t->ctimer = NULL;
		}
		return;
	}
	if (!t) { /* idle: closed by the server, or timed out */
		idle_remove(c->u, c);
		conn_free(c);
		return;
	}
	if (t->st == R_BODY_CLOSE && (what & BEV_EVENT_EOF)) {
		t->eof = true;
		process(t);
		return;
	}
	/* a kept-alive connection the server had closed: once more, fresh */
	if (!t->got_bytes && c->uses > 1 && !t->retried) {
		t->retried = true;
		t->conn = NULL;
		c->t = NULL;
		conn_free(c);
		connect_new(t);
		return;
	}
	char why[200];
	int dns = bufferevent_socket_get_dns_error(bev);
	unsigned long ssl = bufferevent_get_openssl_error(bev);
	if (dns)
		snprintf(why, sizeof why, "cannot resolve %s: %s", t->o->host, evutil_gai_strerror(dns));
	else if (ssl)
		ERR_error_string_n(ssl, why, sizeof why);
	else if ((what & BEV_EVENT_ERROR) && EVUTIL_SOCKET_ERROR())
		snprintf(why, sizeof why, "%s", evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
	else
		snprintf(why, sizeof why, "connection closed");
	if (!c->connected)
		tx_fail(t, "could not connect to %s:%d: %s", t->o->host, t->o->port, why);
	else if (!t->head_done)
		tx_fail(t, "upstream closed without a response (%s)", why);
	else
		tx_fail(t, "upstream closed mid-answer (%s)", why);
}

/* ---- sending the request ------------------------------------------------ */

static void start_on(struct utx *t, struct hconn *c)
{
	t->conn = c;
	c->t = t;
	c->uses++;
	bufferevent_setcb(c->bev, read_cb, NULL, event_cb, c);
	/* write interest stays enabled from the start (a bufferevent's
	 * default): enabling it again would arm a write event for nothing */
	bufferevent_enable(c->bev, c->connected ? EV_READ : EV_READ | EV_WRITE);
	struct evbuffer *out = bufferevent_get_output(c->bev);
	size_t skip = 0;
	if (c->connected && !t->o->tls && evbuffer_get_length(out) == 0) {
		/* a kept-alive plain connection: write straight to the socket, which
		 * spares two epoll_ctl calls per request (the bufferevent turning
		 * write interest on and off); what does not fit goes the usual way */
		struct evbuffer_iovec v[8];
		int n = evbuffer_peek(t->req, -1, NULL, v, 8);
		if (n > 0 && n <= 8) {
			struct iovec io[8];
			for (int i = 0; i < n; i++)
				io[i] = (struct iovec){ v[i].iov_base, v[i].iov_len };
			ssize_t w = writev(bufferevent_getfd(c->bev), io, n);
			skip = w > 0 ? (size_t)w : 0;
		}
	}
	if (skip == 0) {
		/* a reference, so that a retry can send it again */
		evbuffer_add_buffer_reference(out, t->req);
	} else if (skip < evbuffer_get_length(t->req)) { /* the rest of a partial write */
		size_t rest = evbuffer_get_length(t->req) - skip;
		struct evbuffer_ptr at;
		evbuffer_ptr_set(t->req, &at, skip, EVBUFFER_PTR_SET);
		char *tmp = xmalloc(rest);
		evbuffer_copyout_from(t->req, &at, tmp, rest);
		evbuffer_add(out, tmp, rest);
		secret_wipe(tmp, rest);
		free(tmp);
	}
}

static void connect_new(struct utx *t)
{
	struct upstream *u = t->u;
	struct bufferevent *bev;
	if (t->o->tls) {
		char *err = NULL;
		SSL_CTX *ctx = client_ctx(u, &err);
		if (!ctx) {
			fail_later(t, err);
			free(err);
			return;
		}
		SSL *ssl = SSL_new(ctx);
		SSL_set_tlsext_host_name(ssl, t->o->host);
		X509_VERIFY_PARAM *vp = SSL_get0_param(ssl);
		if (X509_VERIFY_PARAM_set1_ip_asc(vp, t->o->host) != 1) /* a name, not an address */
			SSL_set1_host(ssl, t->o->host);
		bev = bufferevent_openssl_socket_new(u->base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
						     BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
		bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	} else {
		/* deferred callbacks: nothing runs from inside upstream_start */
		bev = bufferevent_socket_new(u->base, -1, BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	}
	struct hconn *c = xcalloc(1, sizeof *c);
	c->u = u;
	c->bev = bev;
	c->key = xstrdup(t->o->key);
	start_on(t, c);
	if (t->connect_timeout_ms > 0) {
		t->ctimer = evtimer_new(u->base, later_cb, t);
		struct timeval tv = { (time_t)(t->connect_timeout_ms / 1000),
				      (suseconds_t)(t->connect_timeout_ms % 1000) * 1000 };
		evtimer_add(t->ctimer, &tv);
	}
	if (bufferevent_socket_connect_hostname(bev, u->dns, AF_UNSPEC, t->o->host, t->o->port) != 0) {
		char *m = xasprintf("could not connect to %s:%d", t->o->host, t->o->port);
		fail_later(t, m);
		free(m);
	}
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

struct utx *upstream_start(struct upstream *u, struct origin *o, const struct ureq *r, const struct utx_cbs *cbs,
			   void *arg)
{
	struct utx *t = xmalloc(sizeof *t);
	memset(t, 0, offsetof(struct utx, fields));
	t->u = u;
	t->cbs = cbs;
	t->arg = arg;
	const char *method = r->method;
	if (u->curl) { /* libcurl takes a URL: written out again (proxy mode only) */
		buf b;
		buf_init(&b);
		buf_adds(&b, o->key);
		add_target(&b, o, r);
		buf_add(&b, "", 1);
		t->c = curlup_start(u->curl, method, b.data, r->headers, r->body, r->len, r->timeout_ms,
				    r->connect_timeout_ms, &fwd_cbs, t);
		buf_free(&b);
		return t;
	}
	u->active++;
	t->o = origin_ref(o);
	buf_init(&t->head);
	buf_init(&t->line);
	t->connect_timeout_ms = r->connect_timeout_ms;
	t->no_body = strcmp(method, "HEAD") == 0;
	/* the head made in one buffer, then handed over with the body: two
	 * evbuffer_adds, not one per piece */
	buf h;
	buf_init(&h);
	buf_reserve(&h, 512);
	buf_adds(&h, method);
	buf_add(&h, " ", 1);
	add_target(&h, o, r);
	buf_add(&h, " HTTP/1.1\r\nHost: ", 17);
	buf_adds(&h, o->hostport);
	buf_add(&h, "\r\n", 2);
	for (const char *const *hd = r->headers; hd && *hd; hd++) {
		buf_adds(&h, *hd);
		buf_add(&h, "\r\n", 2);
	}
	if (r->body || (!t->no_body && strcmp(method, "GET"))) {
		buf_add(&h, "Content-Length: ", 16);
		buf_addi(&h, r->body ? (int64_t)r->len : 0);
		buf_add(&h, "\r\n", 2);
	}
	buf_add(&h, "\r\n", 2);
	t->req = evbuffer_new();
	evbuffer_add(t->req, h.data, h.len);
	buf_free(&h);
	if (r->body && r->len)
		evbuffer_add(t->req, r->body, r->len);
	if (r->timeout_ms > 0) {
		t->ttfb = evtimer_new(u->base, on_ttfb, t);
		struct timeval tv = { (time_t)(r->timeout_ms / 1000), (suseconds_t)(r->timeout_ms % 1000) * 1000 };
		evtimer_add(t->ttfb, &tv);
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
	if (!t->conn)
		return;
	if (pause) {
		bufferevent_disable(t->conn->bev, EV_READ);
	} else {
		bufferevent_enable(t->conn->bev, EV_READ);
		/* what arrived meanwhile is processed from the loop, not from here */
		bufferevent_trigger(t->conn->bev, EV_READ, BEV_TRIG_IGNORE_WATERMARKS | BEV_TRIG_DEFER_CALLBACKS);
	}
}
