/* view_describe.c — one team on one page (D, :describe), as k9s describes
 * a resource: its state and who paused it, policy (models, cap, tiers,
 * fallbacks), every limit and budget beside what it uses now, its keys,
 * its client tokens, what it refused in the last minute and why, and its
 * recent changes from the audit log with what each changed. Read from
 * GET /admin/v1/teams/{id}, .../tokens and /admin/v1/audit?team=; keys and
 * refusals from the overview. */
#include "console.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

struct describe_state {
	char team[64];
	json_t *t, *tokens, *audit;
	struct pager pg;
};

static struct describe_state *st(struct app *a)
{
	return view_state(a, &view_describe);
}

static void describe_state_free(void *state)
{
	struct describe_state *s = state;
	json_decref(s->t);
	json_decref(s->tokens);
	json_decref(s->audit);
}

static void on_team(void *arg, long status, const char *body, size_t len, const char *err)
{
	struct app *a = arg;
	app_take_answer(a, &st(a)->t, status, body, len, err, "the team");
}

static void on_tokens(void *arg, long status, const char *body, size_t len, const char *err)
{
	struct app *a = arg;
	app_take_answer(a, &st(a)->tokens, status, body, len, err, NULL);
}

static void on_audit(void *arg, long status, const char *body, size_t len, const char *err)
{
	struct app *a = arg;
	app_take_answer(a, &st(a)->audit, status, body, len, err, NULL);
}

static void describe_fetch(struct app *a)
{
	struct describe_state *s = st(a);
	if (!s->team[0])
		return;
	char *p = xasprintf("/admin/v1/teams/%s", s->team);
	client_request(a->cl, "GET", p, NULL, NULL, 5000, on_team, a);
	free(p);
	p = xasprintf("/admin/v1/teams/%s/tokens", s->team);
	client_request(a->cl, "GET", p, NULL, NULL, 5000, on_tokens, a);
	free(p);
	p = xasprintf("/admin/v1/audit?team=%s&limit=8", s->team);
	client_request(a->cl, "GET", p, NULL, NULL, 5000, on_audit, a);
	free(p);
}

static void describe_open(struct app *a)
{
	struct m_team *t = app_team(a);
	if (!t) {
		app_set_status(a, R_DIM, "select a team first");
		return;
	}
	struct describe_state *s = st(a);
	if (strcmp(s->team, t->id) != 0) { /* another team: its page from the top */
		json_decref(s->t);
		json_decref(s->tokens);
		json_decref(s->audit);
		s->t = s->tokens = s->audit = NULL;
		s->pg.top = 0;
		snprintf(s->team, sizeof s->team, "%s", t->id);
	}
	view_enter(a, &view_describe);
	describe_fetch(a);
}

static const char *str(json_t *j, const char *k, const char *dflt)
{
	const char *v = json_string_value(json_object_get(j, k));
	return v ? v : dflt;
}

static double num(json_t *j, const char *k)
{
	return json_number_value(json_object_get(j, k));
}

static long long inum(json_t *j, const char *k)
{
	return (long long)json_integer_value(json_object_get(j, k));
}

/* "a, b, c" of an array of strings */
static void joined(json_t *arr, buf *out)
{
	size_t i;
	json_t *e;
	json_array_foreach(arr, i, e) buf_addf(out, "%s%s", i ? ", " : "", json_string_value(e) ? json_string_value(e) : "?");
	if (!json_array_size(arr))
		buf_adds(out, "(none)");
}

/* a limit beside its use: "120 (27 now)", or "none" */
static void limit_line(struct canvas *cv, int *y, int w, const char *what, long long limit, long long used, const char *unit)
{
	if (limit > 0)
		cv_printf(cv, (*y)++, 4, used > limit * 8 / 10 ? R_GAUGE_80 : R_NORMAL, w, "%-26s %lld%s%s (%lld in use now)", what,
			  limit, *unit ? " " : "", unit, used);
	else
		cv_printf(cv, (*y)++, 4, R_DIM, w, "%-26s none", what);
}

static void budget_line(struct canvas *cv, int *y, int w, const char *what, double budget, double spent)
{
	char b[16], s[16];
	money(b, sizeof b, budget);
	money(s, sizeof s, spent);
	if (budget > 0)
		cv_printf(cv, (*y)++, 4, gauge_role(spent / budget), w, "%-26s %s, spent %s (%.1f%%)", what, b, s,
			  100 * spent / budget);
	else
		cv_printf(cv, (*y)++, 4, R_DIM, w, "%-26s none (spent %s)", what, s);
}

/* a value as a change shows it (numbers short, strings bare) */
static void value(buf *out, json_t *v)
{
	if (!v)
		buf_adds(out, "-");
	else if (json_is_real(v))
		buf_addf(out, "%.6g", json_real_value(v));
	else if (json_is_string(v))
		buf_adds(out, json_string_value(v));
	else {
		char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
		buf_adds(out, s ? s : "?");
		free(s);
	}
}

/* an audit entry's changed settings: "rpm_limit 60 -> 90, ..." (live
 * figures and the version left out) */
static void changes(json_t *e, buf *out)
{
	static const char *const live[] = { "version", "spend_pct", "spend_mtd_usd", "spend_today_usd", "spend_week_usd",
					    "reserved_usd", "rpm", "tpm", "queued", "requests_total", "rejected_total", "keys" };
	json_t *before = json_object_get(e, "before"), *after = json_object_get(e, "after");
	const char *k;
	json_t *v;
	int n = 0;
	json_object_foreach(after, k, v) {
		json_t *old = json_object_get(before, k);
		bool skip = old && json_equal(old, v);
		for (size_t i = 0; i < ARRAY_LEN(live) && !skip; i++)
			skip = strcmp(k, live[i]) == 0;
		if (skip)
			continue;
		buf_addf(out, "%s%s ", n++ ? ", " : "", k);
		value(out, old);
		buf_adds(out, " -> ");
		value(out, v);
	}
	if (!n)
		buf_adds(out, json_is_object(after) ? "(no field changed)" : "");
}

static int describe_body(struct app *a, struct canvas *cv)
{
	struct describe_state *s = st(a);
	json_t *t = s->t;
	int w = cv->w - 4, y = 0;
	if (!t) {
		cv_put(cv, y, 2, R_DIM, "loading…", -1);
		return 1;
	}
	const char *state = str(t, "state", "?");
	cv_printf(cv, y++, 2, R_TITLE, w, "%s (%s)  %s  priority %s  version %lld", str(t, "id", "?"), str(t, "name", ""), state,
		  str(t, "priority", "standard"), inum(t, "version"));
	if (strcmp(state, "active") != 0) {
		char when[32];
		fmt_when_iso(str(t, "paused_at", ""), a->local_time, WHEN_FULL, when, sizeof when);
		cv_printf(cv, y++, 4, R_PAUSED, w - 2, "paused by %s at %s: %s", str(t, "paused_by", "?"), when,
			  str(t, "paused_reason", "-"));
	}
	y++;
	/* policy */
	buf b;
	buf_init(&b);
	cv_put(cv, y++, 2, R_TITLE, "Policy", w);
	joined(json_object_get(t, "allowed_models"), &b);
	cv_printf(cv, y++, 4, R_NORMAL, w - 2, "%-26s %s", "models", b.data);
	cv_printf(cv, y++, 4, R_NORMAL, w - 2, "%-26s %lld", "max tokens per request", inum(t, "max_tokens_per_request"));
	buf_reset(&b);
	joined(json_object_get(t, "service_tiers"), &b);
	cv_printf(cv, y++, 4, R_NORMAL, w - 2, "%-26s %s (default %s)", "service tiers", b.data,
		  str(t, "default_service_tier", "Groq's"));
	json_t *fb = json_object_get(t, "fallbacks");
	buf_reset(&b);
	const char *k;
	json_t *v;
	json_object_foreach(fb, k, v) {
		buf_addf(&b, "%s%s -> ", b.len ? "; " : "", k);
		joined(v, &b);
	}
	cv_printf(cv, y++, 4, R_NORMAL, w - 2, "%-26s %s", "fallbacks", b.len ? b.data : "(none)");
	cv_printf(cv, y++, 4, R_NORMAL, w - 2, "%-26s %s", "retired models", json_is_true(json_object_get(t, "replace_retired")) ? "sent to their replacement" : "refused");
	y++;
	/* limits and budgets */
	cv_put(cv, y++, 2, R_TITLE, "Limits (the last minute's use beside each)", w);
	limit_line(cv, &y, w - 2, "requests per minute", inum(t, "rpm_limit"), inum(t, "rpm"), "");
	if (strcmp(str(t, "rpm_mode", "reject"), "queue") == 0)
		cv_printf(cv, y++, 6, R_DIM, w - 4, "over a limit: queued up to %lld ms", inum(t, "queue_max_wait_ms"));
	else
		cv_put(cv, y++, 6, R_DIM, "over a limit: 429 in Groq's shape", w - 4);
	limit_line(cv, &y, w - 2, "tokens per minute", inum(t, "tpm_limit"), inum(t, "tpm"), "");
	limit_line(cv, &y, w - 2, "tokens per day", inum(t, "tpd_limit"), 0, "");
	limit_line(cv, &y, w - 2, "requests per day", inum(t, "rpd_limit"), 0, "");
	limit_line(cv, &y, w - 2, "each end user's RPM", inum(t, "user_rpm_limit"), 0, "");
	budget_line(cv, &y, w - 2, "monthly budget", num(t, "monthly_budget_usd"), num(t, "spend_mtd_usd"));
	budget_line(cv, &y, w - 2, "weekly budget", num(t, "weekly_budget_usd"), num(t, "spend_week_usd"));
	budget_line(cv, &y, w - 2, "daily budget", num(t, "daily_budget_usd"), num(t, "spend_today_usd"));
	budget_line(cv, &y, w - 2, "each end user's day", num(t, "user_daily_budget_usd"), 0);
	buf_reset(&b);
	size_t i;
	json_array_foreach(json_object_get(t, "alert_thresholds"), i, v) buf_addf(&b, "%s%lld %%", i ? ", " : "", (long long)json_integer_value(v));
	cv_printf(cv, y++, 4, R_NORMAL, w - 2, "%-26s %s; at the budget: %s", "alerts at", b.len ? b.data : "none",
		  json_is_true(json_object_get(t, "auto_pause")) ? "paused" : "refused, not paused");
	y++;
	/* what it refused in the last minute, from the overview */
	for (int j = 0; j < a->ov.nteams; j++) {
		struct m_team *m = &a->ov.teams[j];
		if (strcmp(m->id, s->team) != 0)
			continue;
		cv_put(cv, y++, 2, R_TITLE, "Refused in the last minute", w);
		if (m->refused_pm)
			cv_printf(cv, y++, 4, R_ERROR, w - 2, "%lld: %s", (long long)m->refused_pm, m->refused_by);
		else
			cv_put(cv, y++, 4, R_DIM, "none", w - 2);
		y++;
	}
	/* its keys, from the overview */
	cv_put(cv, y++, 2, R_TITLE, "Upstream keys", w);
	int nk = 0;
	for (int j = 0; j < a->ov.nkeys; j++) {
		struct m_key *key = &a->ov.keys[j];
		if (strcmp(key->team, s->team) != 0)
			continue;
		nk++;
		cv_printf(cv, y++, 4, strcmp(key->state, "active") == 0 ? R_NORMAL : R_PAUSED, w - 2, "%-30s %-11s %-9s %s",
			  key->name, key->fp, key->state, strcmp(key->step, "none") != 0 ? key->step : "");
	}
	if (!nk)
		cv_put(cv, y++, 4, R_DIM, "none", w - 2);
	y++;
	/* its client tokens */
	json_t *toks = json_object_get(s->tokens, "tokens");
	cv_put(cv, y++, 2, R_TITLE, "Client tokens", w);
	if (!s->tokens)
		cv_put(cv, y++, 4, R_DIM, "loading…", w - 2);
	else if (!json_array_size(toks))
		cv_put(cv, y++, 4, R_DIM, "none", w - 2);
	json_array_foreach(toks, i, v) {
		bool revoked = !json_is_null(json_object_get(v, "revoked_at"));
		char made[32], used[32] = "never";
		fmt_when_iso(str(v, "created_at", ""), a->local_time, WHEN_FULL, made, sizeof made);
		if (json_is_string(json_object_get(v, "last_used_at")))
			fmt_when_iso(str(v, "last_used_at", ""), a->local_time, WHEN_FULL, used, sizeof used);
		cv_printf(cv, y++, 4, revoked ? R_DIM : R_NORMAL, w - 2, "%-18s %-20s made %s, last used %s%s", str(v, "id", "?"),
			  str(v, "label", ""), made, used, revoked ? " (revoked)" : "");
	}
	y++;
	/* its recent changes, with what each changed */
	json_t *ent = json_object_get(s->audit, "entries");
	cv_put(cv, y++, 2, R_TITLE, "Recent changes (audit log)", w);
	if (!s->audit)
		cv_put(cv, y++, 4, R_DIM, "loading…", w - 2);
	else if (!json_array_size(ent))
		cv_put(cv, y++, 4, R_DIM, "none", w - 2);
	json_array_foreach(ent, i, v) {
		char when[32];
		fmt_when_iso(str(v, "time", ""), a->local_time, WHEN_FULL, when, sizeof when);
		cv_printf(cv, y++, 4, R_NORMAL, w - 2, "%s  %-22s by %s", when, str(v, "action", "?"), str(v, "actor", "?"));
		buf_reset(&b);
		changes(v, &b);
		if (b.len)
			cv_printf(cv, y++, 8, R_DIM, w - 6, "%s", b.data);
	}
	buf_free(&b);
	return y;
}

static void describe_draw(struct app *a, struct canvas *cv)
{
	char title[96];
	snprintf(title, sizeof title, "Team %s", st(a)->team);
	pager_draw(a, cv, &st(a)->pg, title, describe_body, NULL);
}

static int describe_key(struct app *a, int key)
{
	return pager_key(&st(a)->pg, key);
}

const struct view view_describe = { .name = "describe", .draw = describe_draw, .key = describe_key, .id = V_DESCRIBE,
				    .state_size = sizeof(struct describe_state), .state_free = describe_state_free,
				    .open = describe_open, .update = describe_fetch };
