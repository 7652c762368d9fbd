/* model.c — the admin API's JSON turned into plain structs for the views.
 * Pure: no I/O, no curses. Every field is optional and bounded, so a
 * gateway answering garbage never crashes the console. */
#include "console.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util.h"

static void cp(char *dst, size_t n, json_t *v)
{
	const char *s = json_string_value(v);
	snprintf(dst, n, "%s", s ? s : "");
}

static double num(json_t *v)
{
	return json_is_number(v) ? json_number_value(v) : 0;
}

static int64_t inum(json_t *v)
{
	return json_is_integer(v) ? json_integer_value(v) : json_is_real(v) ? (int64_t)json_real_value(v) : 0;
}

int model_parse_overview(const char *body, size_t len, struct m_overview *o, char **cause)
{
	memset(o, 0, sizeof *o);
	json_error_t e;
	json_t *j = json_loadb(body, len, 0, &e);
	if (!json_is_object(j) || !json_is_array(json_object_get(j, "teams"))) {
		json_decref(j);
		return fail(cause, "the gateway's overview is not the expected JSON (%s)", e.text[0] ? e.text : "no teams");
	}
	json_t *gw = json_object_get(j, "gateway");
	cp(o->version, sizeof o->version, json_object_get(gw, "version"));
	cp(o->upstream, sizeof o->upstream, json_object_get(gw, "upstream"));
	o->uptime_s = inum(json_object_get(gw, "uptime_s"));
	o->now_ms = inum(json_object_get(gw, "now_ms"));
	json_t *org = json_object_get(j, "org");
	o->org_spend = num(json_object_get(org, "spend_mtd_usd"));
	o->org_budget = num(json_object_get(org, "monthly_budget_usd"));
	json_t *hr = json_object_get(org, "headroom");
	if (json_is_object(hr)) {
		o->has_headroom = true;
		o->lim_req = inum(json_object_get(hr, "limit_requests"));
		o->rem_req = inum(json_object_get(hr, "remaining_requests"));
		o->lim_tok = inum(json_object_get(hr, "limit_tokens"));
		o->rem_tok = inum(json_object_get(hr, "remaining_tokens"));
	}
	json_t *gq = json_object_get(j, "groq");
	o->groq_age_s = -1;
	if (json_is_object(gq)) {
		cp(o->groq_state, sizeof o->groq_state, json_object_get(gq, "state"));
		o->groq_drifting = (int)inum(json_object_get(gq, "drifting"));
		if (json_is_integer(json_object_get(gq, "age_s")))
			o->groq_age_s = inum(json_object_get(gq, "age_s"));
	}
	json_t *cl = json_object_get(j, "cluster");
	o->clustered = str_eq(json_string_value(json_object_get(cl, "mode")), "cluster");
	o->cl_serving = (int)inum(json_object_get(cl, "serving"));
	o->cl_replicas = (int)inum(json_object_get(cl, "replicas"));
	json_t *tot = json_object_get(j, "totals");
	o->teams_total = json_is_integer(json_object_get(tot, "teams")) ? (int)inum(json_object_get(tot, "teams"))
									 : (int)json_array_size(json_object_get(j, "teams"));
	o->active = (int)inum(json_object_get(tot, "active"));
	o->paused = (int)inum(json_object_get(tot, "paused"));
	o->budget_paused = (int)inum(json_object_get(tot, "budget_paused"));
	o->rpm_total = (int)inum(json_object_get(tot, "rpm"));
	o->inflight = (int)inum(json_object_get(tot, "inflight"));

	json_t *teams = json_object_get(j, "teams");
	size_t nt = json_array_size(teams);
	o->teams = xcalloc(nt + 1, sizeof *o->teams);
	size_t i;
	json_t *t;
	json_array_foreach(teams, i, t) {
		if (!json_is_object(t))
			continue;
		struct m_team *m = &o->teams[o->nteams++];
		cp(m->id, sizeof m->id, json_object_get(t, "id"));
		cp(m->name, sizeof m->name, json_object_get(t, "name"));
		cp(m->state, sizeof m->state, json_object_get(t, "state"));
		m->rpm = (int)inum(json_object_get(t, "rpm"));
		m->rpm_limit = inum(json_object_get(t, "rpm_limit"));
		m->tpm = inum(json_object_get(t, "tpm"));
		m->tpm_limit = inum(json_object_get(t, "tpm_limit"));
		m->refused_pm = inum(json_object_get(t, "refused_pm"));
		m->refused_by[0] = '\0';
		const char *rk;
		json_t *rv;
		json_object_foreach(json_object_get(t, "refused_by"), rk, rv) {
			size_t l = strlen(m->refused_by);
			snprintf(m->refused_by + l, sizeof m->refused_by - l, "%s%s %lld", l ? ", " : "", rk,
				 (long long)inum(rv));
		}
		cp(m->priority, sizeof m->priority, json_object_get(t, "priority"));
		m->max_tokens = inum(json_object_get(t, "max_tokens_per_request"));
		m->version = inum(json_object_get(t, "version"));
		m->spend = num(json_object_get(t, "spend_mtd_usd"));
		m->budget = num(json_object_get(t, "monthly_budget_usd"));
		m->pct = num(json_object_get(t, "spend_pct"));
		m->keys = (int)inum(json_object_get(t, "keys"));
		json_t *ms = json_object_get(t, "allowed_models");
		m->models = xcalloc(json_array_size(ms) + 1, sizeof *m->models);
		size_t k;
		json_t *mv;
		json_array_foreach(ms, k, mv) if (json_is_string(mv)) m->models[m->nmodels++] = xstrdup(json_string_value(mv));
		cp(m->paused_by, sizeof m->paused_by, json_object_get(t, "paused_by"));
		cp(m->paused_reason, sizeof m->paused_reason, json_object_get(t, "paused_reason"));
		cp(m->paused_at, sizeof m->paused_at, json_object_get(t, "paused_at"));
	}
	json_t *keys = json_object_get(j, "keys");
	o->keys_total = json_is_integer(json_object_get(j, "keys_total")) ? (int)inum(json_object_get(j, "keys_total"))
									     : (int)json_array_size(keys);
	o->keys = xcalloc(json_array_size(keys) + 1, sizeof *o->keys);
	json_array_foreach(keys, i, t) {
		if (!json_is_object(t))
			continue;
		struct m_key *k = &o->keys[o->nkeys++];
		cp(k->name, sizeof k->name, json_object_get(t, "name"));
		cp(k->team, sizeof k->team, json_object_get(t, "team"));
		cp(k->fp, sizeof k->fp, json_object_get(t, "fingerprint"));
		cp(k->state, sizeof k->state, json_object_get(t, "state"));
		cp(k->last_used, sizeof k->last_used, json_object_get(t, "last_used_at"));
		cp(k->step, sizeof k->step, json_object_get(t, "rotation_step"));
		k->req24h = inum(json_object_get(t, "requests_24h"));
		k->created_ms = inum(json_object_get(t, "created_ms"));
	}
	json_t *alerts = json_object_get(j, "alerts");
	o->alerts = xcalloc(json_array_size(alerts) + 1, sizeof *o->alerts);
	json_array_foreach(alerts, i, t) {
		if (!json_is_object(t))
			continue;
		struct m_alert *a = &o->alerts[o->nalerts++];
		a->id = inum(json_object_get(t, "id"));
		cp(a->acked_by, sizeof a->acked_by, json_object_get(t, "acked_by"));
		cp(a->time, sizeof a->time, json_object_get(t, "time"));
		cp(a->kind, sizeof a->kind, json_object_get(t, "kind"));
		cp(a->team, sizeof a->team, json_object_get(t, "team"));
		cp(a->message, sizeof a->message, json_object_get(t, "message"));
	}
	json_decref(j);
	return 0;
}

void model_free(struct m_overview *o)
{
	for (int i = 0; i < o->nteams; i++) {
		for (int k = 0; k < o->teams[i].nmodels; k++)
			free(o->teams[i].models[k]);
		free(o->teams[i].models);
	}
	free(o->teams);
	free(o->keys);
	free(o->alerts);
	memset(o, 0, sizeof *o);
}

int model_parse_usage(const char *body, size_t len, double *out, int max, double *spend, double *proj)
{
	json_t *j = json_loadb(body, len, 0, NULL);
	json_t *pts = json_object_get(j, "points");
	int n = 0;
	size_t total = json_array_size(pts), i;
	json_t *p;
	json_array_foreach(pts, i, p) {
		if (total - i > (size_t)max)
			continue;
		out[n++] = num(json_object_get(p, "requests"));
	}
	if (spend)
		*spend = num(json_object_get(j, "spend_mtd_usd"));
	if (proj)
		*proj = num(json_object_get(j, "projected_month_usd"));
	json_decref(j);
	return n;
}

int64_t iso_ms(const char *s)
{
	struct tm tm;
	memset(&tm, 0, sizeof tm);
	if (!s || !*s || !strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm))
		return 0;
	return (int64_t)timegm(&tm) * 1000;
}

void fmt_when(int64_t ms, bool local, int style, char *out, size_t n)
{
	if (ms <= 0) {
		snprintf(out, n, "-");
		return;
	}
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	if (local)
		localtime_r(&t, &tm);
	else
		gmtime_r(&t, &tm);
	strftime(out, n, style == WHEN_HM ? "%H:%M" : style == WHEN_HMS ? "%H:%M:%S" : "%Y-%m-%d %H:%M:%S", &tm);
}

void fmt_when_iso(const char *iso, bool local, int style, char *out, size_t n)
{
	fmt_when(iso_ms(iso), local, style, out, n);
}

const char *when_zone(bool local, char *out, size_t n)
{
	if (!local)
		return "UTC";
	time_t t = time(NULL);
	struct tm tm;
	localtime_r(&t, &tm);
	if (!strftime(out, n, "%Z", &tm) || !out[0])
		snprintf(out, n, "local");
	return out;
}

void money(char *out, size_t n, double v)
{
	if (v > 0 && v < 0.005)
		snprintf(out, n, "<$0.01");
	else if (v >= 100000)
		snprintf(out, n, "$%.0fk", v / 1000);
	else if (v >= 1000)
		snprintf(out, n, "$%.0f", v);
	else
		snprintf(out, n, "$%.2f", v);
}

void fmt_age(int64_t ms, char *out, size_t n)
{
	if (ms < 0)
		ms = 0;
	int64_t s = ms / 1000;
	if (s < 60)
		snprintf(out, n, "%llds", (long long)s);
	else if (s < 3600)
		snprintf(out, n, "%lldm", (long long)(s / 60));
	else if (s < 86400 * 2)
		snprintf(out, n, "%lldh", (long long)(s / 3600));
	else
		snprintf(out, n, "%lldd", (long long)(s / 86400));
}
