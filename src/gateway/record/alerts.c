/* alerts.c — alerts are stored, kept in a short in-memory list for the
 * overview, logged, and posted to an optional webhook (Slack-compatible
 * JSON) from a queue retried with exponential backoff: delivery never
 * blocks or slows a request. */
#include "record.h"
#include "httpd.h"

#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define RECENT_MAX 100
#define WEBHOOK_TRIES 6
#define WEBHOOK_QUEUE_MAX 1000

struct hook_item {
	char *body;
	int tries;
	struct hook_item *next;
};

struct webhook {
	struct gateway *g;
	struct hook_item *head, *tail;
	int len;
	struct utx *tx;
	struct event *timer;
	long status;
	int64_t delivered, failed;
};

static void hook_kick(struct webhook *w, int64_t delay_ms);

static void hook_head(void *arg, const struct hstatus *h)
{
	((struct webhook *)arg)->status = h->status;
}

static void hook_data(void *arg, const char *d, size_t n)
{
	(void)arg;
	(void)d;
	(void)n;
}

static void hook_done(void *arg, int ok, const char *err)
{
	struct webhook *w = arg;
	w->tx = NULL;
	struct hook_item *it = w->head;
	if (!it)
		return;
	if (ok && w->status >= 200 && w->status < 300) {
		w->delivered++;
	} else if (++it->tries < WEBHOOK_TRIES) {
		gw_log(w->g, json_pack("{s:s,s:s,s:i,s:s}", "level", "warn", "msg", "webhook delivery failed, will retry",
				       "status", (int)w->status, "error", err ? err : "http status"));
		hook_kick(w, 1000LL << it->tries); /* 2 s, 4 s, ... 32 s */
		return;
	} else {
		w->failed++;
		gw_log(w->g, json_pack("{s:s,s:s}", "level", "error", "msg", "webhook delivery gave up after retries"));
	}
	w->head = it->next;
	if (!w->head)
		w->tail = NULL;
	w->len--;
	free(it->body);
	free(it);
	if (w->head)
		hook_kick(w, 0);
}

static void hook_send(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct webhook *w = arg;
	if (w->tx || !w->head)
		return;
	static const struct utx_cbs cbs = { hook_head, hook_data, hook_done };
	const char *hdrs[] = { "Content-Type: application/json", NULL };
	w->status = 0;
	struct ureq r = { .method = "POST", .headers = hdrs, .body = w->head->body, .len = strlen(w->head->body),
			  .timeout_ms = 10000, .connect_timeout_ms = 5000 };
	w->tx = upstream_start(w->g->up, w->g->cfg.hook_origin, &r, &cbs, w);
}

static void hook_kick(struct webhook *w, int64_t delay_ms)
{
	if (!w->timer)
		w->timer = evtimer_new(w->g->base, hook_send, w);
	struct timeval tv = { (time_t)(delay_ms / 1000), (suseconds_t)(delay_ms % 1000) * 1000 };
	evtimer_add(w->timer, &tv);
}

static void webhook_post(struct gateway *g, json_t *alert)
{
	if (!g->cfg.webhook_url)
		return;
	if (!g->webhook) {
		g->webhook = xcalloc(1, sizeof *g->webhook);
		g->webhook->g = g;
	}
	struct webhook *w = g->webhook;
	if (w->len >= WEBHOOK_QUEUE_MAX)
		return; /* the store still has it */
	json_t *body = json_deep_copy(alert);
	char *text = xasprintf(":rotating_light: groqgate %s: %s", json_string_value(json_object_get(alert, "kind")),
			       json_string_value(json_object_get(alert, "message")));
	json_object_set_new(body, "text", json_string(text));
	free(text);
	struct hook_item *it = xcalloc(1, sizeof *it);
	it->body = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	if (w->tail)
		w->tail->next = it;
	else
		w->head = it;
	w->tail = it;
	w->len++;
	if (!w->tx)
		hook_kick(w, 0);
}

void webhook_free(struct gateway *g)
{
	struct webhook *w = g->webhook;
	if (!w)
		return;
	if (w->tx)
		utx_cancel(w->tx);
	if (w->timer)
		event_free(w->timer);
	while (w->head) {
		struct hook_item *n = w->head->next;
		free(w->head->body);
		free(w->head);
		w->head = n;
	}
	free(w);
	g->webhook = NULL;
}

void alert_raise(struct gateway *g, const char *kind, const char *team, const char *message)
{
	int64_t now = gw_now(g);
	if (g->metrics)
		metrics_alert(g->metrics, kind);
	char *cause = NULL;
	int64_t id = 0;
	if (store_alert(g->store, now, kind, team, message, &id, &cause) != 0) {
		gw_log(g, json_pack("{s:s,s:s,s:s}", "level", "error", "msg", "cannot store alert", "error", cause));
		free(cause);
	}
	char ts[32];
	time_iso(now, ts, sizeof ts);
	json_t *a = json_pack("{s:I,s:s,s:I,s:s,s:o,s:s,s:n,s:n}", "id", (json_int_t)id, "time", ts, "ts_ms", (json_int_t)now,
			      "kind", kind, "team", team ? json_string(team) : json_null(), "message", message, "acked_by",
			      "acked_at");
	if (!g->recent_alerts)
		g->recent_alerts = json_array();
	json_array_append(g->recent_alerts, a);
	while (json_array_size(g->recent_alerts) > RECENT_MAX)
		json_array_remove(g->recent_alerts, 0);
	gw_log(g, json_pack("{s:s,s:s,s:s,s:o,s:s}", "level", "warn", "msg", "alert", "kind", kind, "team",
			    team ? json_string(team) : json_null(), "message", message));
	webhook_post(g, a);
	json_decref(a);
}

bool alert_raise_once(struct gateway *g, const char *kind, const char *team, const char *needle, int64_t since,
		      const char *message)
{
	/* the store's alerts are the memory (across restarts and replicas);
	 * one that cannot be read says nothing was made: the alert is raised */
	char *cause = NULL;
	json_t *a = store_alerts_list(g->store, 1000, &cause);
	free(cause);
	size_t i;
	json_t *e;
	bool made = false;
	json_array_foreach(a, i, e) {
		const char *m = json_string_value(json_object_get(e, "message"));
		made = made || (json_integer_value(json_object_get(e, "ts_ms")) >= since &&
				str_eq(json_string_value(json_object_get(e, "kind")), kind) &&
				str_eq(json_string_value(json_object_get(e, "team")), team) && m && strstr(m, needle));
	}
	json_decref(a);
	if (!made)
		alert_raise(g, kind, team, message);
	return !made;
}

void alert_acked(struct gateway *g, int64_t id, const char *by, int64_t at)
{
	size_t i;
	json_t *a;
	char ts[32];
	time_iso(at, ts, sizeof ts);
	json_array_foreach(g->recent_alerts, i, a) if (json_integer_value(json_object_get(a, "id")) == id) {
		json_object_set_new(a, "acked_by", json_string(by));
		json_object_set_new(a, "acked_at", json_string(ts));
	}
}

json_t *alerts_recent(struct gateway *g, int limit)
{
	json_t *out = json_array();
	size_t n = g->recent_alerts ? json_array_size(g->recent_alerts) : 0;
	for (size_t i = n > (size_t)limit ? n - (size_t)limit : 0; i < n; i++)
		json_array_append(out, json_array_get(g->recent_alerts, i));
	return out;
}
