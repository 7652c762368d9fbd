/* admin_read.c — the admin API's reading routes: GET /admin/v1/overview
 * (everything groqtop draws, in one answer), /usage (a team's or the
 * organisation's time series), /audit (filtered, paged) and /teams. */
#include "admin.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gotime.h"
#include "httpd.h"
#include "util.h"

static int cmp_team(const void *a, const void *b)
{
	return strcmp((*(struct team *const *)a)->id, (*(struct team *const *)b)->id);
}

static json_t *headroom_json(const struct headroom *h)
{
	if (!h->seen_at)
		return json_null();
	char ts[32];
	time_iso(h->seen_at, ts, sizeof ts);
	return json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:s}", "limit_requests", (json_int_t)h->limit_req,
			 "remaining_requests", (json_int_t)h->rem_req, "limit_tokens", (json_int_t)h->limit_tok,
			 "remaining_tokens", (json_int_t)h->rem_tok, "reset_requests_ms", (json_int_t)h->reset_req_ms,
			 "reset_tokens_ms", (json_int_t)h->reset_tok_ms, "seen_at", ts);
}

/* USD from nano-dollars, exactly, without printf: "12.5", "0.000022290"
 * (usd_text's, trailing zeros dropped) */
static void usd_json(buf *b, int64_t nusd)
{
	char u[USD_TEXT_MAX];
	size_t n = usd_text(u, nusd);
	while (u[n - 1] == '0')
		n--;
	if (u[n - 1] == '.')
		n--;
	buf_add(b, u, n);
}

/* The dashboard's one call. It is written straight into a buffer rather
 * than built as a jansson tree: with 1,000 teams and 5,000 keys that is the
 * difference between ~40 ms and a few. */
void overview(struct actx *c)
{
	struct gateway *g = c->g;
	int64_t now = gw_now(g);
	buf o;
	buf_init(&o);
	buf_reserve(&o, (size_t)g->reg.nteams * 320 + (size_t)g->reg.nkeys * 224 + 8192);
	struct team **sorted = xmalloc(((size_t)g->reg.nteams + 1) * sizeof *sorted);
	memcpy(sorted, g->reg.teams, (size_t)g->reg.nteams * sizeof *sorted);
	qsort(sorted, (size_t)g->reg.nteams, sizeof *sorted, cmp_team);
	int n_active = 0, n_paused = 0, n_bpaused = 0, rpm = 0;
	int *rpms = xmalloc(((size_t)g->reg.nteams + 1) * sizeof *rpms);
	for (int i = 0; i < g->reg.nteams; i++) { /* totals first: they come first */
		struct team *t = sorted[i];
		struct budget_env be = gw_budget(g);
		be.now = now;
		budget_roll(&be, t);
		rpms[i] = counters_count(t, now);
		rpm += rpms[i];
		n_active += t->state == TEAM_ACTIVE;
		n_paused += t->state == TEAM_PAUSED;
		n_bpaused += t->state == TEAM_BUDGET_PAUSED;
	}
	char started[32], nows[32];
	time_iso(g->started_ms, started, sizeof started);
	time_iso(now, nows, sizeof nows);
	int64_t ob = g->cfg.org_budget_nusd;
	buf_addf(&o, "{\"gateway\":{\"version\":\"%s\",\"uptime_s\":%lld,\"started_at\":\"%s\",\"now\":\"%s\",\"now_ms\":%lld,\"upstream\":",
		 GG_VERSION, (long long)((now - g->started_ms) / 1000), started, nows, (long long)now);
	json_str(&o, g->cfg.upstream_base);
	buf_addf(&o, "},\"org\":{\"spend_mtd_usd\":%.9g", (double)g->reg.org_spend_nusd / NUSD_PER_USD);
	if (ob)
		buf_addf(&o, ",\"monthly_budget_usd\":%.9g,\"spend_pct\":%.2f", (double)ob / NUSD_PER_USD,
			 floor(10000.0 * (double)g->reg.org_spend_nusd / (double)ob + 0.5) / 100);
	else
		buf_adds(&o, ",\"monthly_budget_usd\":null,\"spend_pct\":null");
	json_t *hr = headroom_json(&g->org_hr);
	char *hrs = json_dumps(hr, JSON_COMPACT | JSON_ENCODE_ANY);
	json_decref(hr);
	buf_addf(&o, ",\"headroom\":%s},\"totals\":{\"teams\":%d,\"keys\":%d,\"active\":%d,\"paused\":%d,"
		 "\"budget_paused\":%d,\"rpm\":%d,\"inflight\":%d},\"teams\":[",
		 hrs ? hrs : "null", g->reg.nteams, g->reg.nkeys, n_active, n_paused, n_bpaused, rpm, g->inflight);
	free(hrs);
	/* ?teams_limit=N: the first N teams by id (a console's first frame) */
	char *tl = httpd_query(c->req, "teams_limit");
	int64_t tlimit = g->reg.nteams;
	if (tl && (!parse_i64(tl, &tlimit) || tlimit < 0))
		tlimit = g->reg.nteams;
	free(tl);
	for (int i = 0; i < g->reg.nteams && i < tlimit; i++) {
		struct team *t = sorted[i];
		int r = rpms[i];
		double pct = t->budget_nusd > 0 ? 100.0 * (double)t->spend_nusd / (double)t->budget_nusd : 0;
		buf_adds(&o, i ? ",{\"id\":" : "{\"id\":");
		json_str(&o, t->id);
		buf_adds(&o, ",\"name\":");
		json_str(&o, t->name);
		buf_adds(&o, ",\"state\":\"");
		buf_adds(&o, team_state_name(t->state));
		buf_adds(&o, "\",\"rpm\":");
		buf_addi(&o, r);
		buf_adds(&o, ",\"rpm_limit\":");
		buf_addi(&o, t->rpm_limit);
		buf_adds(&o, ",\"tpm\":");
		buf_addi(&o, team_tpm(t, now));
		buf_adds(&o, ",\"tpm_limit\":");
		buf_addi(&o, t->tpm_limit);
		/* what it refused in the last minute, by class (only those that
		 * refused: the common case costs a few bytes) */
		int64_t by[REF_N], refused = team_refusals(t, now, by);
		buf_adds(&o, ",\"refused_pm\":");
		buf_addi(&o, refused);
		if (refused) {
			buf_adds(&o, ",\"refused_by\":{");
			for (int k = 0, n = 0; k < REF_N; k++)
				if (by[k])
					buf_addf(&o, "%s\"%s\":%lld", n++ ? "," : "", refusal_class_name[k], (long long)by[k]);
			buf_adds(&o, "}");
		}
		buf_adds(&o, ",\"priority\":\"");
		buf_adds(&o, priority_name(t->priority));
		buf_adds(&o, "\",\"spend_mtd_usd\":");
		usd_json(&o, t->spend_nusd);
		buf_adds(&o, ",\"monthly_budget_usd\":");
		usd_json(&o, t->budget_nusd);
		buf_adds(&o, ",\"spend_pct\":");
		int64_t bp = (int64_t)floor(pct * 100 + 0.5); /* hundredths of a percent */
		buf_addi(&o, bp / 100);
		buf_add(&o, ".", 1);
		buf_add(&o, &"0123456789"[bp % 100 / 10], 1);
		buf_add(&o, &"0123456789"[bp % 10], 1);
		buf_adds(&o, ",\"keys\":");
		buf_addi(&o, t->nkeys);
		buf_adds(&o, ",\"version\":");
		buf_addi(&o, t->version);
		buf_adds(&o, ",\"max_tokens_per_request\":");
		buf_addi(&o, t->max_tokens);
		buf_adds(&o, ",\"allowed_models\":[");
		for (int m = 0; m < t->nmodels; m++) {
			if (m)
				buf_add(&o, ",", 1);
			json_str(&o, t->models[m]);
		}
		buf_add(&o, "]", 1);
		if (t->state != TEAM_ACTIVE) {
			char pa[32];
			time_iso(t->paused_at, pa, sizeof pa);
			buf_adds(&o, ",\"paused_by\":");
			json_str(&o, t->paused_by ? t->paused_by : "");
			buf_adds(&o, ",\"paused_reason\":");
			json_str(&o, t->paused_reason ? t->paused_reason : "");
			buf_addf(&o, ",\"paused_at\":\"%s\"", pa);
		}
		buf_add(&o, "}", 1);
	}
	free(sorted);
	free(rpms);
	/* ?keys_limit=N: the first N keys only (a console's first frame);
	 * keys_total says how many there are */
	char *kl = httpd_query(c->req, "keys_limit");
	int64_t klimit = g->reg.nkeys;
	if (kl && (!parse_i64(kl, &klimit) || klimit < 0))
		klimit = g->reg.nkeys;
	free(kl);
	buf_adds(&o, "],\"keys_total\":");
	buf_addi(&o, g->reg.nkeys);
	buf_adds(&o, ",\"keys\":[");
	for (int i = 0; i < g->reg.nkeys && i < klimit; i++) {
		struct ukey *k = g->reg.keys[i];
		char lu[32];
		time_iso(k->last_used_at, lu, sizeof lu);
		buf_adds(&o, i ? ",{\"name\":" : "{\"name\":");
		json_str(&o, k->name);
		buf_adds(&o, ",\"team\":");
		json_str(&o, k->team);
		buf_adds(&o, ",\"fingerprint\":");
		json_str(&o, k->fp);
		buf_adds(&o, ",\"state\":\"");
		buf_adds(&o, k->rejected ? "rejected" : k->rot ? "rotating" : "active");
		buf_adds(&o, "\",\"last_used_at\":\"");
		buf_adds(&o, lu);
		buf_adds(&o, "\",\"requests_24h\":");
		buf_addi(&o, ukey_requests_24h(k, now));
		buf_adds(&o, ",\"rotation_step\":\"");
		buf_adds(&o, rot_step_name(k->rot));
		buf_adds(&o, "\",\"created_ms\":");
		buf_addi(&o, k->created_at);
		buf_add(&o, "}", 1);
	}
	json_t *al = alerts_recent(g, 20);
	char *als = json_dumps(al, JSON_COMPACT);
	json_decref(al);
	json_t *gs = groqwatch_summary(g);
	char *gss = json_dumps(gs, JSON_COMPACT);
	json_decref(gs);
	json_t *cs = cluster_summary(g);
	char *css = json_dumps(cs, JSON_COMPACT);
	json_decref(cs);
	buf_addf(&o, "],\"alerts\":%s,\"groq\":%s,\"cluster\":%s}\n", als ? als : "[]", gss, css);
	free(gss);
	free(css);
	free(als);
	size_t len = o.len;
	httpd_send_owned(c->req, 200, "application/json", buf_detach(&o), len);
}

static int64_t window_ms(const char *s)
{
	if (!s)
		return -1;
	size_t n = strlen(s);
	if (n >= 2 && s[n - 1] == 'd') {
		int64_t d;
		char tmp[32];
		snprintf(tmp, sizeof tmp, "%.*s", (int)(n - 1), s);
		return parse_i64(tmp, &d) && d > 0 ? d * 86400000 : -1;
	}
	return gotime_parse_ms(s);
}

void usage_route(struct actx *c)
{
	struct gateway *g = c->g;
	char *team = httpd_query(c->req, "team"), *win = httpd_query(c->req, "window"),
	     *step = httpd_query(c->req, "step");
	int64_t now = gw_now(g), from, stepms;
	if (team && !registry_team(&g->reg, team)) {
		admin_error(c->req, 404, "not_found", "Team '%s' does not exist.", team);
		goto out;
	}
	if (!win || strcmp(win, "month") == 0 || strcmp(win, "mtd") == 0) {
		from = month_start_ms(now);
		stepms = step ? window_ms(step) : 86400000;
	} else {
		int64_t w = window_ms(win);
		if (w <= 0 || w > now - month_start_ms(now) + 31 * 86400000LL) {
			admin_error(c->req, 400, "invalid_window",
				    "'window' must be a duration like 60m, 24h or 7d, or 'month'; at most about a month.");
			goto out;
		}
		stepms = step ? window_ms(step) : (w >= 86400000 ? 3600000 : 60000);
		from = now - w;
	}
	if (stepms < 1000) {
		admin_error(c->req, 400, "invalid_step", "'step' must be a duration of at least 1s, like 1m or 1h.");
		goto out;
	}
	from -= from % stepms;
	int64_t n = (now - from) / stepms + 1;
	if (n > 2000) {
		admin_error(c->req, 400, "invalid_step", "'step' is too small for this window (at most 2000 points).");
		goto out;
	}
	char *cause = NULL;
	/* journaled rows first; while the store takes no writes the points
	 * leave out ledger_backlog rows (said in the answer) */
	if (ledger_sync(g->ledger, &cause) != 0) {
		free(cause);
		cause = NULL;
	}
	json_t *pts = store_usage(g->store, team, from, stepms, (int)n, &cause);
	json_t *bd = pts ? store_usage_breakdown(g->store, team, from, &cause) : NULL;
	if (!bd) {
		json_decref(pts);
		pts = NULL;
	}
	if (!pts) {
		admin_error(c->req, 503, "store_unavailable", "%s", cause);
		free(cause);
		goto out;
	}
	json_t *t = team ? admin_team_out(c, registry_team(&g->reg, team)) : json_null();
	double spent = team ? json_real_value(json_object_get(t, "spend_mtd_usd"))
			    : (double)g->reg.org_spend_nusd / NUSD_PER_USD;
	/* projection: month-to-date spend at its average daily rate */
	int64_t ms0 = month_start_ms(now), ms1 = month_next_ms(now);
	double elapsed = (double)(now - ms0), total = (double)(ms1 - ms0);
	double proj = elapsed > 3600000 ? spent * total / elapsed : spent;
	httpd_send_json(c->req, 200, json_pack("{s:o,s:I,s:I,s:I,s:o,s:f,s:f,s:I,s:o,s:o,s:o,s:o}", "team", team ? json_string(team) : json_null(),
					       "from_ms", (json_int_t)from, "step_ms", (json_int_t)stepms,
					       "now_ms", (json_int_t)now, "points", pts, "spend_mtd_usd", spent,
					       "projected_month_usd", proj, "ledger_backlog",
					       (json_int_t)ledger_state(g->ledger).backlog, "by_model",
					       json_incref(json_object_get(bd, "models")), "by_route",
					       json_incref(json_object_get(bd, "routes")), "by_tier",
					       json_incref(json_object_get(bd, "tiers")), "by_requested_model",
					       json_incref(json_object_get(bd, "requested"))));
	json_decref(bd);
	json_decref(t);
out:
	free(team);
	free(win);
	free(step);
}

void audit_route(struct actx *c)
{
	char *l = httpd_query(c->req, "limit"), *b = httpd_query(c->req, "before");
	char *team = httpd_query(c->req, "team"), *actor = httpd_query(c->req, "actor"), *action = httpd_query(c->req, "action");
	int64_t limit = 50, before = 0;
	if ((l && (!parse_i64(l, &limit) || limit < 1 || limit > 1000)) || (b && !parse_i64(b, &before))) {
		admin_error(c->req, 400, "invalid_value", "'limit' must be 1..1000 and 'before' an audit id.");
	} else {
		char *cause = NULL;
		/* filters: team (its entries, its keys' and tokens'), actor,
		 * action (a prefix: "team." is every team change) */
		json_t *a = store_audit_list(c->g->store, (int)limit, before, team && *team ? team : NULL,
					     actor && *actor ? actor : NULL, action && *action ? action : NULL, &cause);
		if (!a) {
			admin_error(c->req, 503, "store_unavailable", "%s", cause);
			free(cause);
		} else {
			size_t n = json_array_size(a);
			json_t *next = n == (size_t)limit ? json_object_get(json_array_get(a, n - 1), "id") : NULL;
			httpd_send_json(c->req, 200, json_pack("{s:o,s:O}", "entries", a, "next_before", next ? next : json_null()));
		}
	}
	free(l);
	free(b);
	free(team);
	free(actor);
	free(action);
}

void teams_list(struct actx *c)
{
	struct gateway *g = c->g;
	json_t *a = json_array();
	struct team **s = xmalloc(((size_t)g->reg.nteams + 1) * sizeof *s);
	memcpy(s, g->reg.teams, (size_t)g->reg.nteams * sizeof *s);
	qsort(s, (size_t)g->reg.nteams, sizeof *s, cmp_team);
	struct budget_env be = gw_budget(g);
	for (int i = 0; i < g->reg.nteams; i++) {
		budget_roll(&be, s[i]);
		json_array_append_new(a, admin_team_out(c, s[i]));
	}
	free(s);
	httpd_send_json(c->req, 200, json_pack("{s:o}", "teams", a));
}
