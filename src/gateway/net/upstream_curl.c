/* upstream_curl.c — the second engine behind upstream.h: libcurl's multi
 * interface on the gateway's libevent loop (the "hiperfifo" pattern): curl
 * tells us which sockets to watch and when to wake it; we never block. The
 * multi handle's connection cache keeps connections (and TLS sessions)
 * alive. upstream.c hands requests here when an outgoing proxy is set in
 * the environment (http_proxy, https_proxy, all_proxy), which libcurl
 * honours and the built-in client does not. */
#include "net.h"
#include "upstream_engine.h"

#include <curl/curl.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "httpd.h"
#include "util.h"

#define POOL_MAX 256

struct curlup {
	CURLM *multi;
	struct event_base *base;
	struct event *timer;
	int running, active;
	CURL *pool[POOL_MAX]; /* easy handles kept for reuse: creating one costs */
	int npool;
	char *ca_file;        /* upstream.ca_file, or NULL: the system's CAs */
};

struct sockinfo {
	struct event *ev;
	struct curlup *u;
};

struct curlup_tx {
	struct curlup *u;
	CURL *e;
	struct curl_slist *hdrs;
	char *body;
	const struct utx_cbs *cbs;
	void *arg;
	buf head;
	bool head_done, paused;
	struct event *ttfb; /* time to first byte */
	bool timed_out;
	char err[CURL_ERROR_SIZE];
};

static void finish(struct curlup *u, struct curlup_tx *t, int ok, const char *err);

static void check_done(struct curlup *u)
{
	CURLMsg *m;
	int left;
	while ((m = curl_multi_info_read(u->multi, &left))) {
		if (m->msg != CURLMSG_DONE)
			continue;
		struct curlup_tx *t = NULL;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&t);
		CURLcode rc = m->data.result;
		if (rc == CURLE_OK)
			finish(u, t, 1, NULL);
		else
			finish(u, t, 0, t->err[0] ? t->err : curl_easy_strerror(rc));
	}
}

static void on_event(evutil_socket_t fd, short kind, void *arg)
{
	struct curlup *u = arg;
	int action = (kind & EV_READ ? CURL_CSELECT_IN : 0) | (kind & EV_WRITE ? CURL_CSELECT_OUT : 0);
	curl_multi_socket_action(u->multi, fd, action, &u->running);
	check_done(u);
	if (u->running <= 0 && evtimer_pending(u->timer, NULL))
		evtimer_del(u->timer);
}

static void on_timer(evutil_socket_t fd, short kind, void *arg)
{
	(void)fd;
	(void)kind;
	struct curlup *u = arg;
	curl_multi_socket_action(u->multi, CURL_SOCKET_TIMEOUT, 0, &u->running);
	check_done(u);
}

static int sock_cb(CURL *e, curl_socket_t s, int what, void *userp, void *socketp)
{
	(void)e;
	struct curlup *u = userp;
	struct sockinfo *si = socketp;
	if (what == CURL_POLL_REMOVE) {
		if (si) {
			event_free(si->ev);
			free(si);
			curl_multi_assign(u->multi, s, NULL);
		}
		return 0;
	}
	short kind = (short)((what & CURL_POLL_IN ? EV_READ : 0) | (what & CURL_POLL_OUT ? EV_WRITE : 0) | EV_PERSIST);
	if (!si) {
		si = xcalloc(1, sizeof *si);
		si->u = u;
		curl_multi_assign(u->multi, s, si);
	} else {
		event_free(si->ev);
	}
	si->ev = event_new(u->base, s, kind, on_event, u);
	event_add(si->ev, NULL);
	return 0;
}

static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	(void)multi;
	struct curlup *u = userp;
	if (timeout_ms < 0) {
		evtimer_del(u->timer);
		return 0;
	}
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
	evtimer_add(u->timer, &tv);
	return 0;
}

struct curlup *curlup_new(struct event_base *base, const char *ca_file)
{
	struct curlup *u = xcalloc(1, sizeof *u);
	u->base = base;
	u->ca_file = ca_file ? xstrdup(ca_file) : NULL;
	u->multi = curl_multi_init();
	u->timer = evtimer_new(base, on_timer, u);
	curl_multi_setopt(u->multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
	curl_multi_setopt(u->multi, CURLMOPT_SOCKETDATA, u);
	curl_multi_setopt(u->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	curl_multi_setopt(u->multi, CURLMOPT_TIMERDATA, u);
	curl_multi_setopt(u->multi, CURLMOPT_MAXCONNECTS, 512L);
	return u;
}

void curlup_free(struct curlup *u)
{
	if (!u)
		return;
	for (int i = 0; i < u->npool; i++)
		curl_easy_cleanup(u->pool[i]);
	curl_multi_cleanup(u->multi);
	event_free(u->timer);
	free(u->ca_file);
	free(u);
}

int curlup_active(const struct curlup *u)
{
	return u->active;
}

static void curlup_release(struct curlup_tx *t)
{
	curl_multi_remove_handle(t->u->multi, t->e);
	if (t->u->npool < POOL_MAX) {
		curl_easy_reset(t->e);
		t->u->pool[t->u->npool++] = t->e;
	} else {
		curl_easy_cleanup(t->e);
	}
	curl_slist_free_all(t->hdrs);
	if (t->ttfb)
		event_free(t->ttfb);
	if (t->body) {
		memset(t->body, 0, strlen(t->body));
		free(t->body);
	}
	buf_free(&t->head);
	t->u->active--;
	free(t);
}

static void finish(struct curlup *u, struct curlup_tx *t, int ok, const char *err)
{
	(void)u;
	const struct utx_cbs *cbs = t->cbs;
	void *arg = t->arg;
	char msg[CURL_ERROR_SIZE + 32];
	snprintf(msg, sizeof msg, "%s", t->timed_out ? "timeout" : err ? err : "");
	if (ok && !t->head_done) {
		ok = 0;
		snprintf(msg, sizeof msg, "upstream closed without a response");
	}
	curlup_release(t);
	cbs->on_done(arg, ok, ok ? NULL : msg);
}

/* curl hands the head line by line: gathered whole (status line first),
 * then parsed by the same grammar as the built-in client's (hparse.c) */
static size_t hdr_cb(char *p, size_t size, size_t n, void *arg)
{
	struct curlup_tx *t = arg;
	size_t len = size * n;
	if (len >= 5 && memcmp(p, "HTTP/", 5) == 0)
		buf_reset(&t->head); /* a new response block (e.g. after 100) */
	buf_add(&t->head, p, len);
	if (len > 2 || (p[0] != '\r' && p[0] != '\n'))
		return len;
	struct hfield fields[128];
	struct hstatus h = { .h = fields };
	const char *why = NULL;
	if (http_parse_status_head(t->head.data, t->head.len, &h, 128, &why) < 0) {
		snprintf(t->err, sizeof t->err, "upstream sent a malformed answer (%s)", why);
		return 0; /* curl ends the transfer with a write error */
	}
	if (h.status < 200)
		return len;
	t->head_done = true;
	if (t->ttfb) {
		event_free(t->ttfb);
		t->ttfb = NULL;
	}
	t->cbs->on_head(t->arg, &h);
	return len;
}

static size_t write_cb(char *p, size_t size, size_t n, void *arg)
{
	struct curlup_tx *t = arg;
	if (t->paused)
		return CURL_WRITEFUNC_PAUSE; /* curl hands the same bytes again on resume */
	t->cbs->on_data(t->arg, p, size * n);
	return size * n;
}

static void on_ttfb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct curlup_tx *t = arg;
	t->timed_out = true;
	finish(t->u, t, 0, "timeout");
}

struct curlup_tx *curlup_start(struct curlup *u, const char *method, const char *url,
			   const char *const *headers, const char *body, size_t len,
			   int64_t timeout_ms, int64_t connect_timeout_ms,
			   const struct utx_cbs *cbs, void *arg)
{
	struct curlup_tx *t = xcalloc(1, sizeof *t);
	t->u = u;
	t->cbs = cbs;
	t->arg = arg;
	buf_init(&t->head);
	t->e = u->npool ? u->pool[--u->npool] : curl_easy_init();
	CURL *e = t->e;
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_PRIVATE, t);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->err);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, hdr_cb);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, t);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, t);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)connect_timeout_ms);
	curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, NULL);
	if (u->ca_file) /* the CAs upstream.ca_file names, through the proxy as well */
		curl_easy_setopt(e, CURLOPT_CAINFO, u->ca_file);
	for (const char *const *h = headers; h && *h; h++)
		t->hdrs = curl_slist_append(t->hdrs, *h);
	t->hdrs = curl_slist_append(t->hdrs, "Expect:");
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->hdrs);
	if (strcmp(method, "GET") == 0) {
		curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
	} else {
		if (strcmp(method, "POST") != 0)
			curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
		t->body = xmalloc(len + 1);
		if (len)
			memcpy(t->body, body, len);
		t->body[len] = '\0';
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, t->body);
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	}
	if (timeout_ms > 0) {
		t->ttfb = evtimer_new(u->base, on_ttfb, t);
		struct timeval tv = { (time_t)(timeout_ms / 1000), (suseconds_t)(timeout_ms % 1000) * 1000 };
		evtimer_add(t->ttfb, &tv);
	}
	u->active++;
	curl_multi_add_handle(u->multi, e);
	return t;
}

void curlup_cancel(struct curlup_tx *t)
{
	if (t)
		curlup_release(t);
}

void curlup_pause(struct curlup_tx *t, bool pause)
{
	t->paused = pause;
	if (!pause)
		curl_easy_pause(t->e, CURLPAUSE_CONT);
}
