/* client.c — the admin API over libcurl's multi interface: requests run
 * while the console keeps drawing and reading keys. A read-only client
 * (the wallboard) refuses every method but GET here, in code. */
#include "console.h"

#include <curl/curl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "secret.h"
#include "util.h"

/* the largest answer taken: a large organisation's overview (10,000
 * teams and 50,000 keys) is 11 MB */
#define ANSWER_MAX (48u << 20)

struct creq {
	CURL *e;
	struct curl_slist *hdrs;
	char *body;
	buf resp;
	client_cb cb;
	void *arg;
	char err[CURL_ERROR_SIZE];
	struct client *owner;
	struct creq *next, *prev;
};

struct client {
	CURLM *m;
	struct creq *reqs; /* in flight */
	char *base, *auth, *cacert, *op;
	bool readonly;
	bool guest;        /* runs on another client's multi handle */
	int pending;
};

struct client *client_new(const char *base, const char *token, const char *cacert, bool readonly)
{
	struct client *c = xcalloc(1, sizeof *c);
	c->m = curl_multi_init();
	c->base = xstrdup(base);
	size_t l = strlen(c->base);
	while (l && c->base[l - 1] == '/')
		c->base[--l] = '\0';
	c->auth = xasprintf("Authorization: Bearer %s", token);
	c->cacert = cacert ? xstrdup(cacert) : NULL;
	c->readonly = readonly;
	return c;
}

struct client *client_new_on(struct client *host, const char *base, const char *token, const char *cacert,
			     bool readonly)
{
	struct client *c = client_new(base, token, cacert, readonly);
	curl_multi_cleanup(c->m);
	c->m = host->m;
	c->guest = true;
	return c;
}

void client_set_operator(struct client *c, const char *label)
{
	free(c->op);
	c->op = label ? xasprintf("X-Operator: %s", label) : NULL;
}

static void creq_free(struct creq *r)
{
	curl_easy_cleanup(r->e);
	curl_slist_free_all(r->hdrs);
	free(r->body);
	if (r->resp.data) /* an answer may hold a new client token: wiped, not just freed */
		secret_wipe(r->resp.data, r->resp.len);
	buf_free(&r->resp);
	free(r);
}

/* drops c's requests in flight (no callback runs) */
static void cancel_all(struct client *c)
{
	while (c->reqs) {
		struct creq *r = c->reqs;
		c->reqs = r->next;
		curl_multi_remove_handle(c->m, r->e);
		creq_free(r);
	}
	c->pending = 0;
}

void client_reset(struct client *c, const char *base, const char *token, const char *cacert, bool readonly)
{
	cancel_all(c);
	struct client *n = client_new(base, token, cacert, readonly);
	curl_multi_cleanup(n->m);
	free(c->base);
	secret_free(c->auth);
	free(c->cacert);
	c->base = n->base;
	c->auth = n->auth;
	c->cacert = n->cacert;
	c->readonly = readonly;
	free(n->op);
	free(n);
}

void client_set_base(struct client *c, const char *base)
{
	cancel_all(c);
	free(c->base);
	c->base = xstrdup(base);
	size_t l = strlen(c->base);
	while (l && c->base[l - 1] == '/')
		c->base[--l] = '\0';
}

void client_free(struct client *c)
{
	if (!c)
		return;
	cancel_all(c);
	if (!c->guest)
		curl_multi_cleanup(c->m);
	free(c->base);
	secret_free(c->auth);
	free(c->cacert);
	free(c->op);
	free(c);
}

static size_t on_write(char *p, size_t s, size_t n, void *arg)
{
	struct creq *r = arg;
	if (r->resp.len + s * n > ANSWER_MAX) /* a huge answer is cut, not swallowed whole */
		return 0;
	buf_add(&r->resp, p, s * n);
	return s * n;
}

int client_request(struct client *c, const char *method, const char *path, const char *body, const char *if_match,
		   int64_t timeout_ms, client_cb cb, void *arg)
{
	if (c->readonly && strcmp(method, "GET") != 0)
		return -1;
	struct creq *r = xcalloc(1, sizeof *r);
	buf_init(&r->resp);
	r->cb = cb;
	r->arg = arg;
	r->owner = c;
	r->e = curl_easy_init();
	char *url = xasprintf("%s%s", c->base, path);
	curl_easy_setopt(r->e, CURLOPT_URL, url);
	free(url);
	curl_easy_setopt(r->e, CURLOPT_PRIVATE, r);
	curl_easy_setopt(r->e, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(r->e, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(r->e, CURLOPT_ERRORBUFFER, r->err);
	curl_easy_setopt(r->e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(r->e, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	/* an answer that says it is larger is refused before a byte of it */
	curl_easy_setopt(r->e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)ANSWER_MAX);
	curl_easy_setopt(r->e, CURLOPT_CONNECTTIMEOUT_MS, (long)(timeout_ms < 3000 ? timeout_ms : 3000));
	if (c->cacert)
		curl_easy_setopt(r->e, CURLOPT_CAINFO, c->cacert);
	r->hdrs = curl_slist_append(r->hdrs, c->auth);
	r->hdrs = curl_slist_append(r->hdrs, "Accept: application/json");
	r->hdrs = curl_slist_append(r->hdrs, "Expect:");
	if (c->op)
		r->hdrs = curl_slist_append(r->hdrs, c->op);
	if (if_match) {
		char *h = xasprintf("If-Match: \"%s\"", if_match);
		r->hdrs = curl_slist_append(r->hdrs, h);
		free(h);
	}
	if (strcmp(method, "GET") != 0) {
		r->body = xstrdup(body ? body : "{}");
		r->hdrs = curl_slist_append(r->hdrs, "Content-Type: application/json");
		curl_easy_setopt(r->e, CURLOPT_CUSTOMREQUEST, method);
		curl_easy_setopt(r->e, CURLOPT_POSTFIELDS, r->body);
	}
	curl_easy_setopt(r->e, CURLOPT_HTTPHEADER, r->hdrs);
	curl_multi_add_handle(c->m, r->e);
	r->next = c->reqs;
	if (c->reqs)
		c->reqs->prev = r;
	c->reqs = r;
	c->pending++;
	return 0;
}

int client_pending(struct client *c)
{
	return c->pending;
}

void client_wait(struct client *c, const int *fds, int *ready, int nfd, int timeout_ms)
{
	struct curl_waitfd w[4];
	for (int i = 0; i < nfd && i < 4; i++)
		w[i] = (struct curl_waitfd){ fds[i], CURL_WAIT_POLLIN, 0 };
	int numfds = 0, running = 0;
	curl_multi_poll(c->m, w, (unsigned)nfd, timeout_ms, &numfds);
	for (int i = 0; i < nfd && i < 4; i++)
		ready[i] = (w[i].revents & (POLLHUP | POLLERR | POLLNVAL)) && !(w[i].revents & POLLIN) ? -1
			   : (w[i].revents & POLLIN)					  ? 1
											  : 0;
	curl_multi_perform(c->m, &running);
	CURLMsg *msg;
	int left;
	while ((msg = curl_multi_info_read(c->m, &left))) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		struct creq *r = NULL;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&r);
		long status = 0;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &status);
		CURLcode rc = msg->data.result;
		curl_multi_remove_handle(c->m, msg->easy_handle);
		struct client *o = r->owner; /* c, or a guest on c's handle */
		if (r->prev)
			r->prev->next = r->next;
		else
			o->reqs = r->next;
		if (r->next)
			r->next->prev = r->prev;
		o->pending--;
		const char *err = rc == CURLE_OK ? NULL : r->err[0] ? r->err : curl_easy_strerror(rc);
		r->cb(r->arg, rc == CURLE_OK ? status : 0, r->resp.data ? r->resp.data : "", r->resp.len, err);
		creq_free(r);
	}
}
