/* metrics.c — counters for GET /metrics in Prometheus text format. */
#include "record.h"

#include <stdlib.h>
#include <string.h>

#include "httpd.h"
#include "util.h"

static const double bounds[] = { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60 };
#define NB ARRAY_LEN(bounds)

struct series {
	int64_t requests, prompt, completion, cost;
};

struct metrics {
	strmap *req;    /* "team\tmodel\tstatus" -> series */
	strmap *reject; /* reason -> int64_t* */
	strmap *uperr;  /* status -> int64_t* */
	strmap *alerts; /* kind -> int64_t* */
	strmap *tiers;  /* service tier -> int64_t* */
	int64_t hist[NB + 1], count;
	double sum;
};

struct metrics *metrics_new(void)
{
	struct metrics *m = xcalloc(1, sizeof *m);
	m->req = strmap_new();
	m->reject = strmap_new();
	m->uperr = strmap_new();
	m->alerts = strmap_new();
	m->tiers = strmap_new();
	return m;
}

static void free_values(strmap *s)
{
	size_t i = 0;
	const char *k;
	void *v;
	while (strmap_next(s, &i, &k, &v))
		free(v);
	strmap_free(s);
}

void metrics_free(struct metrics *m)
{
	if (!m)
		return;
	free_values(m->req);
	free_values(m->reject);
	free_values(m->uperr);
	free_values(m->alerts);
	free_values(m->tiers);
	free(m);
}

static int64_t *counter(strmap *s, const char *k)
{
	int64_t *c = strmap_get(s, k);
	if (!c) {
		c = xcalloc(1, sizeof *c);
		strmap_put(s, k, c);
	}
	return c;
}

void metrics_request(struct metrics *m, const char *team, const char *model, int status, int64_t prompt,
		     int64_t completion, int64_t cost, int64_t latency_us)
{
	char key[512]; /* "team\tmodel\tstatus", made without printf (once a request) */
	size_t tl = strlen(team), ml = strlen(model);
	if (tl + ml + 2 + 24 <= sizeof key) {
		memcpy(key, team, tl);
		key[tl] = '\t';
		memcpy(key + tl + 1, model, ml);
		key[tl + 1 + ml] = '\t';
		i64_text(key + tl + 2 + ml, status); /* (with its NUL) */
	} else {
		snprintf(key, sizeof key, "%s\t%s\t%d", team, model, status);
	}
	struct series *s = strmap_get(m->req, key);
	if (!s) {
		s = xcalloc(1, sizeof *s);
		strmap_put(m->req, key, s);
	}
	s->requests++;
	s->prompt += prompt;
	s->completion += completion;
	s->cost += cost;
	double sec = (double)latency_us / 1e6;
	size_t b = 0;
	while (b < NB && sec > bounds[b])
		b++;
	m->hist[b]++;
	m->count++;
	m->sum += sec;
}

void metrics_reject(struct metrics *m, const char *reason)
{
	(*counter(m->reject, reason))++;
}

void metrics_tier(struct metrics *m, const char *tier)
{
	(*counter(m->tiers, tier ? tier : "default"))++;
}

void metrics_alert(struct metrics *m, const char *kind)
{
	(*counter(m->alerts, kind))++;
}

void metrics_upstream_error(struct metrics *m, int status)
{
	char k[16];
	snprintf(k, sizeof k, "%d", status);
	(*counter(m->uperr, k))++;
}

void metrics_label(buf *out, const char *v)
{
	for (; *v; v++) {
		if (*v == '"' || *v == '\\')
			buf_addf(out, "\\%c", *v);
		else if (*v == '\n')
			buf_adds(out, "\\n");
		else
			buf_add(out, v, 1);
	}
}

static void head(buf *out, const char *name, const char *type, const char *help)
{
	buf_addf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* a counter with one label, one series per key of map */
static void by_label(buf *out, const char *name, const char *help, const char *lname, strmap *map)
{
	head(out, name, "counter", help);
	size_t i = 0;
	const char *k;
	void *v;
	while (strmap_next(map, &i, &k, &v)) {
		buf_addf(out, "%s{%s=\"", name, lname);
		metrics_label(out, k);
		buf_addf(out, "\"} %lld\n", (long long)*(int64_t *)v);
	}
}

void metrics_render(struct metrics *m, struct gateway *g, buf *out)
{
	size_t i;
	const char *k;
	void *v;
	static const char *const names[] = { "groqgate_requests_total", "groqgate_prompt_tokens_total",
					     "groqgate_completion_tokens_total", "groqgate_spend_usd_total" };
	static const char *const helps[] = { "Requests answered, by team, model and status.",
					     "Prompt tokens metered.", "Completion tokens metered.",
					     "Spend metered in USD." };
	for (int f = 0; f < 4; f++) {
		head(out, names[f], "counter", helps[f]);
		i = 0;
		while (strmap_next(m->req, &i, &k, &v)) {
			struct series *s = v;
			char team[256], model[256];
			int status = 0;
			const char *t1 = strchr(k, '\t'), *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
			if (!t1 || !t2)
				continue;
			snprintf(team, sizeof team, "%.*s", (int)(t1 - k), k);
			snprintf(model, sizeof model, "%.*s", (int)(t2 - t1 - 1), t1 + 1);
			status = atoi(t2 + 1);
			buf_addf(out, "%s{team=\"", names[f]);
			metrics_label(out, team);
			buf_adds(out, "\",model=\"");
			metrics_label(out, model);
			if (f == 0)
				buf_addf(out, "\",status=\"%d\"} %lld\n", status, (long long)s->requests);
			else if (f == 1)
				buf_addf(out, "\",status=\"%d\"} %lld\n", status, (long long)s->prompt);
			else if (f == 2)
				buf_addf(out, "\",status=\"%d\"} %lld\n", status, (long long)s->completion);
			else
				buf_addf(out, "\",status=\"%d\"} %.9f\n", status, (double)s->cost / NUSD_PER_USD);
		}
	}
	head(out, "groqgate_request_duration_seconds", "histogram", "Time from request to last byte.");
	int64_t cum = 0;
	for (size_t b = 0; b < NB; b++) {
		cum += m->hist[b];
		buf_addf(out, "groqgate_request_duration_seconds_bucket{le=\"%g\"} %lld\n", bounds[b], (long long)cum);
	}
	cum += m->hist[NB];
	buf_addf(out, "groqgate_request_duration_seconds_bucket{le=\"+Inf\"} %lld\n", (long long)cum);
	buf_addf(out, "groqgate_request_duration_seconds_sum %.6f\ngroqgate_request_duration_seconds_count %lld\n",
		 m->sum, (long long)m->count);
	by_label(out, "groqgate_rejections_total", "Requests refused by the gateway, by reason.", "reason", m->reject);
	by_label(out, "groqgate_upstream_errors_total", "Error answers and failures from Groq, by status.", "status",
		 m->uperr);
	by_label(out, "groqgate_alerts_total", "Alerts raised, by kind.", "kind", m->alerts);
	by_label(out, "groqgate_requests_by_tier_total",
		 "Requests Groq answered, by the service tier asked for (default: none named).", "tier", m->tiers);
	head(out, "groqgate_inflight_requests", "gauge", "Data-plane requests in progress.");
	buf_addf(out, "groqgate_inflight_requests %d\n", g->inflight);
	head(out, "groqgate_connections", "gauge", "Client connections open.");
	buf_addf(out, "groqgate_connections %d\n", httpd_connections(g->http) + (g->admin_http ? httpd_connections(g->admin_http) : 0));
	head(out, "groqgate_connections_shed_total", "counter",
	     "Idle client connections closed to make room at limits.max_connections (or new ones refused when none was idle).");
	buf_addf(out, "groqgate_connections_shed_total %lld\n",
		 (long long)(httpd_shed(g->http) + (g->admin_http ? httpd_shed(g->admin_http) : 0)));
	head(out, "groqgate_streams_paused", "gauge", "Streams whose upstream is paused: the client reads slower than Groq sends.");
	buf_addf(out, "groqgate_streams_paused %d\n", g->paused_streams);
	struct ledger_state ls = ledger_state(g->ledger);
	head(out, "groqgate_store_up", "gauge", "1 while the store takes writes (0: ledger rows wait in the journal, or requests are refused).");
	buf_addf(out, "groqgate_store_up %d\n", !ls.down && !ls.lagging);
	head(out, "groqgate_ledger_pending_rows", "gauge", "Ledger rows held in memory: the journal took no writes.");
	buf_addf(out, "groqgate_ledger_pending_rows %zu\n", ls.pending);
	head(out, "groqgate_ledger_journal_rows", "gauge", "Ledger rows in the journal, not yet in the store.");
	buf_addf(out, "groqgate_ledger_journal_rows %zu\n", ls.backlog);
	head(out, "groqgate_ledger_journal_writes_total", "counter",
	     "Journal appends (rows answered in one loop iteration share one).");
	buf_addf(out, "groqgate_ledger_journal_writes_total %lld\n", (long long)ls.writes);
	head(out, "groqgate_ledger_journal_mapped", "gauge",
	     "1 when the journal is written through a mapping of its file, 0 with pwrite (a file system where a mapping could fault on a full disk).");
	buf_addf(out, "groqgate_ledger_journal_mapped %d\n", ls.mapped);
	head(out, "groqgate_ledger_journal_grows_total", "counter",
	     "Times the journal's file grew past an allocation (64 KiB) because rows in it waited for the store.");
	buf_addf(out, "groqgate_ledger_journal_grows_total %lld\n", (long long)ls.grows);
	head(out, "groqgate_ledger_commits_total", "counter",
	     "Transactions that moved journaled rows into the store.");
	buf_addf(out, "groqgate_ledger_commits_total %lld\n", (long long)ls.commits);
	head(out, "groqgate_ledger_rows_total", "counter", "Ledger rows those transactions wrote.");
	buf_addf(out, "groqgate_ledger_rows_total %lld\n", (long long)ls.rows);
	head(out, "groqgate_ledger_lost_rows_total", "counter", "Ledger rows dropped: the waiting queue was full.");
	buf_addf(out, "groqgate_ledger_lost_rows_total %lld\n", (long long)ls.lost);
	head(out, "groqgate_store_memory_bytes", "gauge", "Memory held by the store's engine (SQLite's page cache included).");
	buf_addf(out, "groqgate_store_memory_bytes %lld\n", (long long)store_memory_used());
	head(out, "groqgate_reserved_usd", "gauge", "Budget reserved by requests in flight (organisation).");
	buf_addf(out, "groqgate_reserved_usd %.9f\n", (double)g->reg.org_reserved_nusd / NUSD_PER_USD);
	head(out, "groqgate_end_users", "gauge", "End users held in memory (limits.max_end_users).");
	buf_addf(out, "groqgate_end_users %zu\n", endusers_count(g->reg.users));
	head(out, "groqgate_end_users_evicted_total", "counter",
	     "End users let go from memory (the least recently seen, past limits.max_end_users).");
	buf_addf(out, "groqgate_end_users_evicted_total %lld\n", (long long)endusers_evicted(g->reg.users));
	int64_t now = gw_now(g);
	head(out, "groqgate_team_spend_mtd_usd", "gauge", "Spend this calendar month (UTC).");
	for (int t = 0; t < g->reg.nteams; t++) {
		buf_adds(out, "groqgate_team_spend_mtd_usd{team=\"");
		metrics_label(out, g->reg.teams[t]->id);
		buf_addf(out, "\"} %.9f\n", (double)g->reg.teams[t]->spend_nusd / NUSD_PER_USD);
	}
	head(out, "groqgate_team_budget_usd", "gauge", "Monthly budget.");
	for (int t = 0; t < g->reg.nteams; t++) {
		buf_adds(out, "groqgate_team_budget_usd{team=\"");
		metrics_label(out, g->reg.teams[t]->id);
		buf_addf(out, "\"} %.9f\n", (double)g->reg.teams[t]->budget_nusd / NUSD_PER_USD);
	}
	head(out, "groqgate_team_rpm", "gauge", "Requests admitted in the last 60 s.");
	for (int t = 0; t < g->reg.nteams; t++) {
		buf_adds(out, "groqgate_team_rpm{team=\"");
		metrics_label(out, g->reg.teams[t]->id);
		buf_addf(out, "\"} %d\n", counters_count(g->reg.teams[t], now));
	}
	head(out, "groqgate_team_tpm", "gauge",
	     "Tokens taken in the last 60 s (in-flight requests at their worst case until they settle).");
	for (int t = 0; t < g->reg.nteams; t++) {
		buf_adds(out, "groqgate_team_tpm{team=\"");
		metrics_label(out, g->reg.teams[t]->id);
		buf_addf(out, "\"} %lld\n", (long long)team_tpm(g->reg.teams[t], now));
	}
	head(out, "groqgate_org_limit_used_ratio", "gauge", "The organisation's use of a Groq limit of a model.");
	double ratio[CL_N];
	const char *model;
	for (int mi = 0; (model = capacity_model_use(g->capacity, mi, now, ratio)); mi++)
		for (int l = 0; l < CL_N; l++) {
			if (ratio[l] < 0)
				continue;
			buf_adds(out, "groqgate_org_limit_used_ratio{model=\"");
			metrics_label(out, model);
			buf_addf(out, "\",limit=\"%s\"} %.4f\n", cap_lim_name[l], ratio[l]);
		}
	head(out, "groqgate_team_paused", "gauge", "1 when the team is paused (state paused by an operator, budget_paused at its budget).");
	for (int t = 0; t < g->reg.nteams; t++) {
		const struct team *tm = g->reg.teams[t];
		for (int st = TEAM_PAUSED; st <= TEAM_BUDGET_PAUSED; st++) {
			buf_adds(out, "groqgate_team_paused{team=\"");
			metrics_label(out, tm->id);
			buf_addf(out, "\",state=\"%s\"} %d\n", team_state_name((enum team_state)st), tm->state == (enum team_state)st);
		}
	}
	head(out, "groqgate_rotation_drain_seconds", "gauge", "The drain window a rotation waits out before it completes.");
	buf_addf(out, "groqgate_rotation_drain_seconds %lld\n", (long long)g->cfg.drain_seconds);
	head(out, "groqgate_key_rotation_step_seconds", "gauge", "Seconds a key's rotation has been at its current step.");
	for (int kk = 0; kk < g->reg.nkeys; kk++) {
		const struct ukey *uk = g->reg.keys[kk];
		if (uk->rot == ROT_NONE)
			continue;
		buf_adds(out, "groqgate_key_rotation_step_seconds{key=\"");
		metrics_label(out, uk->name);
		buf_addf(out, "\",step=\"%s\"} %lld\n", rot_step_name(uk->rot),
			 (long long)((now - (uk->rot_updated_at ? uk->rot_updated_at : uk->rot_started_at)) / 1000));
	}
	head(out, "groqgate_org_spend_mtd_usd", "gauge", "Organisation spend this month.");
	buf_addf(out, "groqgate_org_spend_mtd_usd %.9f\n", (double)g->reg.org_spend_nusd / NUSD_PER_USD);
	if (g->org_hr.seen_at) {
		head(out, "groqgate_upstream_remaining_requests", "gauge", "Groq x-ratelimit-remaining-requests, last seen.");
		buf_addf(out, "groqgate_upstream_remaining_requests %lld\n", (long long)g->org_hr.rem_req);
		head(out, "groqgate_upstream_remaining_tokens", "gauge", "Groq x-ratelimit-remaining-tokens, last seen.");
		buf_addf(out, "groqgate_upstream_remaining_tokens %lld\n", (long long)g->org_hr.rem_tok);
	}
}
