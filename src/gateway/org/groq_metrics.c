/* groq_metrics.c — Groq's own view: its Enterprise metrics polled, reconciled
 * with what the gateway sent, and drift alerted (see docs/architecture.md,
 * "Groq's own view").
 *
 * Every groq_metrics.interval_s the watch sends Groq's query API one
 * instant query per series (concurrently, on the loop's upstream client,
 * each with groq_metrics.timeout_ms): nothing waits on them, so Groq's
 * metrics slow or down never delay a data-plane request. The answers,
 * whole, replace the last figures; a failure keeps the last figures (shown
 * as stale, with their age) and backs off; a 404 means the organisation is
 * not Enterprise: said once, asked again every retry_unavailable_s. The
 * log says only when the state changes: never one line per poll.
 *
 * Ownership: the watch owns its figures and the key it reads from
 * groq_metrics.key_file at each poll (wiped after use). */
#include "org.h"
#include "httpd.h"

#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#include "groq.h"
#include "secret.h"
#include "util.h"

#define BACKOFF_MAX_MS (10 * 60 * 1000)
#define ANSWER_MAX (8 << 20)
#define NQ (GM_NSERIES + 1) /* the series, and Groq's model list (the last) */

enum gw_state { GS_OFF, GS_STARTING, GS_OK, GS_UNAVAILABLE, GS_FAILING };
static const char *const state_names[] = { "off", "starting", "ok", "unavailable", "failing" };

struct gquery {
	struct groqwatch *w;
	enum gm_series series;
	struct utx *tx;
	long status;
	buf body;
	bool done, ok;
	char *err;
};

struct groqwatch {
	struct gateway *g;
	struct event *timer;
	struct event *deadline;  /* a poll's whole answer due (timeout_ms) */
	enum gw_state state;
	char *reason;            /* why not ok (no secret in it) */
	struct gm_figures fig;   /* the last good figures */
	bool have_fig;
	int64_t updated_at;      /* when fig was read (wall ms), 0 never */
	int64_t fig_at;          /* the same on the gateway's clock: the gateway's
				  * own counts are taken at that moment too, so
				  * that both sides cover the same window */
	int64_t last_try_at;
	int fails;
	struct gquery q[NQ];
	int pending;             /* queries of the poll in flight */
	int64_t polls, failures;
	strmap *drifting;        /* project -> (void *)1 while it drifts */
	strmap *mismatched;      /* project -> (void *)polls in a row the gateway sent more than Groq counts */
	strmap *decom;           /* "team\tmodel" -> int64_t*: 400 model_decommissioned */
};

static void schedule(struct groqwatch *w, int64_t ms)
{
	struct timeval tv = { (time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000 };
	evtimer_add(w->timer, &tv);
}

static void set_state(struct groqwatch *w, enum gw_state st, const char *reason)
{
	bool changed = w->state != st || !str_eq(w->reason, reason);
	free(w->reason);
	w->reason = reason ? xstrdup(reason) : NULL;
	if (w->state == st && st != GS_FAILING)
		changed = false; /* the same state: one line was enough */
	w->state = st;
	if (!changed)
		return;
	gw_log(w->g, json_pack("{s:s,s:s,s:s,s:s?}", "level", st == GS_FAILING ? "warn" : "info", "msg",
			       st == GS_OK		 ? "Groq metrics: available"
			       : st == GS_UNAVAILABLE ? "Groq metrics: not available (Enterprise only); asked again rarely"
						      : "Groq metrics: polling failed; showing the last figures as stale",
			       "state", state_names[st], "reason", reason));
}

/* ---- reconciliation and alerts -------------------------------------- */

#define MISMATCH_POLLS 2 /* polls in a row before a project mismatch is flagged */

static struct drift_rule rule(const struct gateway *g)
{
	return (struct drift_rule){ g->cfg.gm_drift_tolerance, g->cfg.gm_drift_min_rpm };
}


static void recount_fleet(struct gateway *g);

/* raises groq_drift for projects that begin to drift; forgets those that
 * stopped (the figures say so until they drift again) */
static void alert_drift(struct groqwatch *w)
{
	struct gateway *g = w->g;
	struct drift_rule r = rule(g);
	json_t *projects = reconcile(&w->fig, &g->reg, w->fig_at, g->cfg.gm_window_s * 1000, &r);
	size_t i;
	json_t *p;
	json_array_foreach(projects, i, p) {
		const char *id = json_string_value(json_object_get(p, "project"));
		bool d = json_is_true(json_object_get(p, "drift"));
		bool was = strmap_get(w->drifting, id) != NULL;
		if (d && !was) {
			strmap_put(w->drifting, id, (void *)1);
			buf kb;
			buf_init(&kb);
			size_t ki;
			json_t *kv;
			json_array_foreach(json_object_get(p, "keys"), ki, kv) buf_addf(&kb, "%s%s", ki ? ", " : "", json_string_value(kv));
			char *keys = kb.len ? buf_detach(&kb) : xstrdup("");
			const char *team = json_string_value(json_object_get(p, "team"));
			char *m = xasprintf("Groq counts %.1f requests/min on project %s (team '%s', keys %s) but the gateway "
					    "sent %.1f: traffic reaches Groq with the team's keys around the gateway "
					    "(a leaked key, or a service going around it).",
					    json_real_value(json_object_get(p, "groq_rpm")), id, team ? team : "?", keys,
					    json_real_value(json_object_get(p, "gateway_rpm")));
			if (cluster_leader(g)) /* one replica speaks for the fleet */
				alert_raise(g, "groq_drift", team, m);
			free(m);
			free(keys);
		} else if (!d && was) {
			strmap_del(w->drifting, id);
			gw_log(g, json_pack("{s:s,s:s,s:s}", "level", "info", "msg",
					    "Groq's and the gateway's rates agree again", "project", id));
		}
		/* a project mismatch: flagged once it holds MISMATCH_POLLS polls in
		 * a row (Groq's figures lag the gateway's when traffic begins) */
		intptr_t streak = (intptr_t)strmap_get(w->mismatched, id);
		if (json_is_true(json_object_get(p, "mismatch"))) {
			strmap_put(w->mismatched, id, (void *)(streak + 1));
			if (streak + 1 == MISMATCH_POLLS) {
				const char *team = json_string_value(json_object_get(p, "team"));
				char *m = xasprintf("The gateway sent %.1f requests/min with keys it has as project %s's (team "
						    "'%s') but Groq counts %.1f there: a key is in another Groq project "
						    "(check its groq_project, or the project the key was made in).",
						    json_real_value(json_object_get(p, "gateway_rpm")), id, team ? team : "?",
						    json_real_value(json_object_get(p, "groq_rpm")));
				if (cluster_leader(g))
					alert_raise(g, "groq_project_mismatch", team, m);
				free(m);
			}
		} else if (streak) {
			strmap_del(w->mismatched, id);
		}
	}
	json_decref(projects);
}

/* ---- the poll ------------------------------------------------------- */

static void q_head(void *arg, const struct hstatus *h)
{
	((struct gquery *)arg)->status = h->status;
}

static void q_data(void *arg, const char *d, size_t n)
{
	struct gquery *q = arg;
	if (q->body.len + n <= ANSWER_MAX)
		buf_add(&q->body, d, n);
}

static void poll_done(struct groqwatch *w)
{
	struct gateway *g = w->g;
	int64_t interval = g->cfg.gm_interval_s * 1000;
	bool unavailable = false;
	char *why = NULL;
	for (int s = 0; s < GM_NSERIES; s++) {
		struct gquery *q = &w->q[s];
		if (q->status == 404)
			unavailable = true;
		else if (!why && !q->ok)
			why = q->err ? xstrdup(q->err) : xstrdup("failed");
		else if (!why && q->status != 200)
			why = xasprintf("%s answered HTTP %ld", gm_series_name[s], q->status);
	}
	/* Groq's model list, read with the same key, more often than the
	 * gateway's own refresh: models Groq stops listing are flagged soon */
	struct gquery *mq = &w->q[GM_NSERIES];
	json_t *models = mq->ok && mq->status == 200 ? json_loadb(mq->body.data ? mq->body.data : "", mq->body.len, 0, NULL) : NULL;
	if (json_is_array(json_object_get(models, "data"))) {
		models_list_update(g, models);
	} else {
		json_decref(models);
	}
	struct gm_figures fig = { 0 };
	for (int s = 0; !why && !unavailable && s < GM_NSERIES; s++) {
		char *cause = NULL;
		if (gm_add(&fig, (enum gm_series)s, w->q[s].body.data ? w->q[s].body.data : "", w->q[s].body.len,
			   &cause) != 0) {
			why = xasprintf("%s: %s", gm_series_name[s], cause);
			free(cause);
		}
	}
	for (int s = 0; s < NQ; s++) {
		buf_free(&w->q[s].body);
		free(w->q[s].err);
		w->q[s].err = NULL;
	}
	if (unavailable) {
		gm_free(&fig);
		free(why);
		gm_free(&w->fig);
		w->have_fig = false;
		w->fails = 0;
		set_state(w, GS_UNAVAILABLE, "not available (Enterprise only): Groq answered 404");
		schedule(w, g->cfg.gm_retry_unavailable_s * 1000);
		return;
	}
	if (why) {
		gm_free(&fig);
		w->failures++;
		w->fails++;
		set_state(w, GS_FAILING, why);
		free(why);
		int64_t back = interval;
		for (int i = 0; i < w->fails && back < BACKOFF_MAX_MS; i++)
			back *= 2;
		schedule(w, back < BACKOFF_MAX_MS ? back : BACKOFF_MAX_MS);
		return;
	}
	gm_finish(&fig);
	gm_free(&w->fig);
	w->fig = fig;
	w->have_fig = true;
	w->updated_at = wall_ms();
	w->fig_at = gw_now(g);
	w->fails = 0;
	set_state(w, GS_OK, NULL);
	if (g->cluster)
		recount_fleet(g);
	alert_drift(w);
	schedule(w, interval);
}

static void q_done(void *arg, int ok, const char *err)
{
	struct gquery *q = arg;
	q->tx = NULL;
	if (q->w->pending == 1)
		evtimer_del(q->w->deadline);
	q->done = true;
	q->ok = ok;
	if (!ok)
		q->err = xasprintf("%s: %s", q->series < GM_NSERIES ? gm_series_name[q->series] : "models",
				   err ? err : "failed");
	if (--q->w->pending == 0)
		poll_done(q->w);
}

static const struct utx_cbs q_cbs = { q_head, q_data, q_done };

/* timeout_ms holds for each query's whole answer, not only its first
 * byte: a metrics API that trickles is cut, and the poll fails */
static void poll_overdue(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct groqwatch *w = arg;
	for (int s = 0; s < NQ && w->pending; s++) {
		struct gquery *q = &w->q[s];
		if (!q->tx)
			continue;
		utx_cancel(q->tx);
		q->tx = NULL;
		q->done = true;
		q->ok = false;
		q->err = xasprintf("%s: no whole answer within %lld ms", s < GM_NSERIES ? gm_series_name[s] : "models",
				   (long long)w->g->cfg.gm_timeout_ms);
		if (--w->pending == 0)
			poll_done(w);
	}
}

/* the key from groq_metrics.key_file (private, one gsk_ key), or NULL
 * with *cause */
static char *read_key(const char *path, char **cause)
{
	if (file_check_private(path, cause) != 0)
		return NULL;
	size_t len;
	char *text = file_read(path, 4096, &len, cause);
	if (!text)
		return NULL;
	char *k = str_trim(text);
	char *key = groq_key_valid(k) ? xstrdup(k) : NULL;
	secret_wipe(text, len);
	free(text);
	if (!key)
		fail(cause, "groq_metrics.key_file %s does not hold one Groq key (gsk_...)", path);
	return key;
}

static void poll(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct groqwatch *w = arg;
	struct gateway *g = w->g;
	if (w->pending)
		return;
	w->last_try_at = wall_ms();
	w->polls++;
	char *cause = NULL;
	char *key = read_key(g->cfg.gm_key_file, &cause);
	if (!key) {
		w->failures++;
		set_state(w, GS_FAILING, cause);
		free(cause);
		schedule(w, g->cfg.gm_interval_s * 1000);
		return;
	}
	char *auth = xconcat("Authorization: Bearer ", key, NULL);
	secret_free(key);
	const char *hdrs[] = { auth, "Accept: application/json", "User-Agent: groqgated/" GG_VERSION, NULL };
	w->pending = NQ;
	for (int s = 0; s < NQ; s++) {
		struct gquery *q = &w->q[s];
		*q = (struct gquery){ .w = w, .series = (enum gm_series)s };
		buf_init(&q->body);
		bool models = s == GM_NSERIES;
		char *query = models ? NULL : xconcat("query=", gm_series_name[s], NULL);
		struct ureq r = { .method = "GET", .path = models ? "/openai/v1/models" : GM_QUERY_PATH,
				  .query = query, .headers = hdrs, .timeout_ms = g->cfg.gm_timeout_ms,
				  .connect_timeout_ms = g->cfg.upstream_connect_timeout_ms };
		q->tx = upstream_start(g->up, models ? g->cfg.up_origin : g->cfg.gm_origin, &r, &q_cbs, q);
		free(query);
	}
	secret_free(auth);
	if (w->pending) {
		struct timeval tv = { (time_t)(g->cfg.gm_timeout_ms / 1000), (suseconds_t)(g->cfg.gm_timeout_ms % 1000) * 1000 };
		evtimer_add(w->deadline, &tv);
	}
}

void groqwatch_reload(struct gateway *g)
{
	struct groqwatch *w = g->groq;
	if (!g->cfg.gm_key_file) {
		evtimer_del(w->timer);
		w->state = GS_OFF;
	} else if (w->state == GS_OFF || w->state == GS_UNAVAILABLE) {
		w->state = GS_STARTING; /* a new key may be an Enterprise one */
		if (!w->pending)
			schedule(w, 0);
	}
}

/* the ledger's forwarded requests of the last window, counted again: after
 * a restart both sides of the reconciliation hold the same traffic */
static void recount(void *arg, const char *key, const char *model, int64_t ts, int64_t in, int64_t out)
{
	struct gateway *g = arg;
	struct ukey *k = registry_key(&g->reg, key);
	if (k)
		sent_count(k, model, ts, g->cfg.gm_window_s * 1000, in, out);
}

/* cluster mode: what the whole fleet sent, from the ledger every replica
 * ships into PostgreSQL (each replica only sees its own requests go by) */
static void recount_fleet(struct gateway *g)
{
	char *cause = NULL;
	int64_t span = g->cfg.gm_window_s * 1000;
	for (int i = 0; i < g->reg.nkeys; i++)
		sent_free(g->reg.keys[i]);
	if (store_recent_sent(g->store, gw_now(g) - span - span / SW_BUCKETS, recount, g, &cause) != 0) {
		gw_log(g, json_pack("{s:s,s:s,s:s}", "level", "warn", "msg", "the fleet's requests not recounted", "error",
				    cause ? cause : "?"));
		free(cause);
	}
}

struct groqwatch *groqwatch_start(struct gateway *g)
{
	char *cause = NULL;
	int64_t span = g->cfg.gm_window_s * 1000;
	if (store_recent_sent(g->store, gw_now(g) - span - span / SW_BUCKETS, recount, g, &cause) != 0) {
		gw_log(g, json_pack("{s:s,s:s,s:s}", "level", "warn", "msg", "the last window's requests not recounted",
				    "error", cause ? cause : "?"));
		free(cause);
	}
	struct groqwatch *w = xcalloc(1, sizeof *w);
	w->g = g;
	w->drifting = strmap_new();
	w->mismatched = strmap_new();
	w->decom = strmap_new();
	w->timer = evtimer_new(g->base, poll, w);
	w->deadline = evtimer_new(g->base, poll_overdue, w);
	if (g->cfg.gm_key_file) {
		w->state = GS_STARTING;
		schedule(w, 0);
	}
	return w;
}

void groqwatch_free(struct groqwatch *w)
{
	if (!w)
		return;
	for (int s = 0; s < NQ; s++)
		if (w->q[s].tx) {
			utx_cancel(w->q[s].tx);
			buf_free(&w->q[s].body);
			free(w->q[s].err);
		}
	event_free(w->timer);
	event_free(w->deadline);
	gm_free(&w->fig);
	free(w->reason);
	strmap_free(w->drifting);
	strmap_free(w->mismatched);
	size_t i = 0;
	const char *k;
	void *v;
	while (strmap_next(w->decom, &i, &k, &v))
		free(v);
	strmap_free(w->decom);
	free(w);
}

/* ---- what the gateway says of it ------------------------------------ */

void groqwatch_decommissioned(struct gateway *g, const char *team, const char *model)
{
	struct groqwatch *w = g->groq;
	if (!w)
		return;
	char *k = xconcat(team, "\t", model, NULL);
	int64_t *c = strmap_get(w->decom, k);
	if (!c) {
		c = xcalloc(1, sizeof *c);
		strmap_put(w->decom, k, c);
	}
	(*c)++;
	free(k);
}

static json_t *decom_json(struct groqwatch *w)
{
	json_t *a = json_array();
	size_t i = 0;
	const char *k;
	void *v;
	while (strmap_next(w->decom, &i, &k, &v)) {
		const char *tab = strchr(k, '\t');
		char *team = xstrndup(k, (size_t)(tab - k));
		json_array_append_new(a, json_pack("{s:s,s:s,s:I}", "team", team, "model", tab + 1, "count",
						   (json_int_t)*(int64_t *)v));
		free(team);
	}
	return a;
}

/* the figures shown are old: the last poll failed, or none succeeded for
 * twice the interval (a poll that hangs cannot keep them looking fresh) */
static bool stale(const struct groqwatch *w)
{
	return w->have_fig && (w->state == GS_FAILING ||
			       wall_ms() - w->updated_at > 2 * w->g->cfg.gm_interval_s * 1000);
}

json_t *groqwatch_json(struct gateway *g)
{
	struct groqwatch *w = g->groq;
	struct drift_rule r = rule(g);
	int64_t now = w->have_fig ? w->fig_at : gw_now(g); /* the moment Groq's figures are of */
	bool available = w->state == GS_OK || (w->state == GS_FAILING && w->have_fig);
	const char *reason = w->state == GS_OFF ? "not configured (groq_metrics.key_file)" : w->reason;
	json_t *projects = reconcile(w->have_fig ? &w->fig : NULL, &g->reg, now, g->cfg.gm_window_s * 1000, &r);
	size_t pi;
	json_t *pj;
	json_array_foreach(projects, pi, pj) { /* (flagged once it held MISMATCH_POLLS polls) */
		const char *id = json_string_value(json_object_get(pj, "project"));
		json_object_set_new(pj, "mismatch",
				    json_boolean(id && (intptr_t)strmap_get(w->mismatched, id) >= MISMATCH_POLLS));
	}
	json_t *j = json_pack("{s:b,s:s,s:s?,s:o,s:o?,s:b,s:I,s:I,s:I,s:I,s:o,s:o,s:o}", "available", available, "state",
			      state_names[w->state], "reason", reason, "updated_at", time_or_null(w->updated_at),
			      "age_s", w->updated_at ? json_integer((wall_ms() - w->updated_at) / 1000) : NULL,
			      "stale", stale(w), "window_s", (json_int_t)g->cfg.gm_window_s,
			      "interval_s", (json_int_t)g->cfg.gm_interval_s, "polls", (json_int_t)w->polls, "failures",
			      (json_int_t)w->failures, "projects", projects, "unlisted_models",
			      unlisted_models(&g->reg, &g->cfg, g->models_cache), "decommissioned", decom_json(w));
	return j;
}

json_t *groqwatch_summary(struct gateway *g)
{
	struct groqwatch *w = g->groq;
	json_t *j = json_pack("{s:s,s:b,s:I}", "state", state_names[w->state], "available",
			      w->state == GS_OK || (w->state == GS_FAILING && w->have_fig), "drifting",
			      (json_int_t)strmap_len(w->drifting));
	json_object_set_new(j, "age_s", w->updated_at ? json_integer((wall_ms() - w->updated_at) / 1000) : json_null());
	json_object_set_new(j, "stale", json_boolean(stale(w)));
	return j;
}

void groqwatch_metrics(struct gateway *g, buf *out)
{
	struct groqwatch *w = g->groq;
	buf_adds(out, "# HELP groqgate_groq_metrics_up 1 while Groq's Enterprise metrics are read (0: failing, "
		      "not available or not configured).\n# TYPE groqgate_groq_metrics_up gauge\n");
	buf_addf(out, "groqgate_groq_metrics_up{state=\"%s\"} %d\n", state_names[w->state], w->state == GS_OK);
	if (w->updated_at) {
		buf_adds(out, "# HELP groqgate_groq_metrics_age_seconds Age of the last figures read from Groq.\n"
			      "# TYPE groqgate_groq_metrics_age_seconds gauge\n");
		buf_addf(out, "groqgate_groq_metrics_age_seconds %lld\n", (long long)((wall_ms() - w->updated_at) / 1000));
	}
	buf_adds(out, "# HELP groqgate_groq_drift 1 while Groq counts more requests on the project than the gateway "
		      "sent.\n# TYPE groqgate_groq_drift gauge\n");
	size_t i = 0;
	const char *k;
	void *v;
	while (strmap_next(w->drifting, &i, &k, &v)) {
		buf_adds(out, "groqgate_groq_drift{project=\"");
		metrics_label(out, k);
		buf_adds(out, "\"} 1\n");
	}
	buf_adds(out, "# HELP groqgate_groq_project_mismatch 1 while the gateway sends more requests with keys it has "
		      "as the project's than Groq counts on it.\n# TYPE groqgate_groq_project_mismatch gauge\n");
	i = 0;
	while (strmap_next(w->mismatched, &i, &k, &v)) {
		if ((intptr_t)v < MISMATCH_POLLS)
			continue;
		buf_adds(out, "groqgate_groq_project_mismatch{project=\"");
		metrics_label(out, k);
		buf_adds(out, "\"} 1\n");
	}
	buf_adds(out, "# HELP groqgate_unlisted_model 1 for a model a team may call (or that is priced) that Groq "
		      "does not list.\n# TYPE groqgate_unlisted_model gauge\n");
	json_t *un = unlisted_models(&g->reg, &g->cfg, g->models_cache);
	json_t *e;
	json_array_foreach(un, i, e) {
		const char *team = json_string_value(json_object_get(e, "team"));
		buf_adds(out, "groqgate_unlisted_model{team=\"");
		metrics_label(out, team ? team : "");
		buf_adds(out, "\",model=\"");
		metrics_label(out, json_string_value(json_object_get(e, "model")));
		buf_adds(out, "\"} 1\n");
	}
	json_decref(un);
	buf_adds(out, "# HELP groqgate_model_decommissioned_total Groq's 400 model_decommissioned answers, by team "
		      "and model.\n# TYPE groqgate_model_decommissioned_total counter\n");
	i = 0;
	while (strmap_next(w->decom, &i, &k, &v)) {
		const char *tab = strchr(k, '\t');
		buf_adds(out, "groqgate_model_decommissioned_total{team=\"");
		char *team = xstrndup(k, (size_t)(tab - k));
		metrics_label(out, team);
		free(team);
		buf_adds(out, "\",model=\"");
		metrics_label(out, tab + 1);
		buf_addf(out, "\"} %lld\n", (long long)*(int64_t *)v);
	}
}
