/* budget.c — spend control. A request reserves its worst case (prompt
 * estimate x input price + cap x output price) before it is forwarded and
 * settles to the real usage afterwards, so settled spend never passes the
 * budget however many requests run at once. Thresholds raise alerts once a
 * month; at 100 % a team with auto_pause becomes budget_paused. */
#include "gateway.h"

#include <stdlib.h>

#include "util.h"

static void set_state(struct gateway *g, struct team *t, enum team_state st, const char *reason)
{
	json_t *before = team_json(t, gw_now(g), 0);
	t->state = st;
	free(t->paused_by);
	free(t->paused_reason);
	t->paused_by = st == TEAM_ACTIVE ? NULL : xstrdup("groqgated");
	t->paused_reason = st == TEAM_ACTIVE ? NULL : xstrdup(reason);
	t->paused_at = st == TEAM_ACTIVE ? 0 : gw_now(g);
	t->version++;
	json_t *after = team_json(t, gw_now(g), 0);
	char *cause = NULL;
	if (audited_write(g, put_team, t, "groqgated", "system", NULL,
			  st == TEAM_ACTIVE ? "team.resume" : "team.budget_pause", t->id, before, after, &cause) != 0) {
		gw_log(g, json_pack("{s:s,s:s,s:s}", "level", "error", "msg", "cannot persist budget state",
				    "error", cause ? cause : "?"));
		free(cause);
	}
	json_decref(before);
	json_decref(after);
}

void budget_roll(struct gateway *g, struct team *t, int64_t now)
{
	struct registry *r = &g->reg;
	/* the month's bounds are cached: this runs for every team on every
	 * request and overview, and calendar arithmetic is not free */
	if (now < g->month_from || now >= g->month_to) {
		g->month_from = month_start_ms(now);
		g->month_to = month_next_ms(now);
	}
	int64_t ms = g->month_from;
	if (r->org_month_start != ms) {
		r->org_month_start = ms;
		r->org_spend_nusd = 0;
		r->org_alerted = 0;
	}
	if (t && t->month_start != ms) {
		t->month_start = ms;
		t->spend_nusd = 0;
		t->alerted = 0;
		if (t->state == TEAM_BUDGET_PAUSED)
			set_state(g, t, TEAM_ACTIVE, NULL);
	}
}

static void usd2(char *out, size_t n, int64_t nusd)
{
	double v = (double)nusd / NUSD_PER_USD;
	snprintf(out, n, v > 0 && v < 0.01 ? "$%.6f" : "$%.2f", v);
}

int budget_reserve(struct gateway *g, struct team *t, int64_t amount, char **why)
{
	struct registry *r = &g->reg;
	char a[32], b[32], c[32];
	bool override = t->override_until > gw_now(g);
	if (!override && t->spend_nusd + t->reserved_nusd + amount > t->budget_nusd) {
		usd2(a, sizeof a, t->spend_nusd + t->reserved_nusd);
		usd2(b, sizeof b, t->budget_nusd);
		usd2(c, sizeof c, amount);
		*why = xasprintf("Team '%s' has spent or reserved %s of its %s monthly budget and this request "
				 "could cost up to %s. Lower max_completion_tokens, or ask an operator to raise "
				 "the budget.",
				 t->id, a, b, c);
		return -1;
	}
	if (g->cfg.org_budget_nusd > 0 &&
	    r->org_spend_nusd + r->org_reserved_nusd + amount > g->cfg.org_budget_nusd) {
		usd2(a, sizeof a, r->org_spend_nusd + r->org_reserved_nusd);
		usd2(b, sizeof b, g->cfg.org_budget_nusd);
		*why = xasprintf("The organisation has spent or reserved %s of its %s monthly budget; requests "
				 "are refused before Groq blocks the whole organisation. Ask an operator.",
				 a, b);
		return -1;
	}
	t->reserved_nusd += amount;
	r->org_reserved_nusd += amount;
	return 0;
}

void budget_check(struct gateway *g, struct team *t)
{
	struct registry *r = &g->reg;
	char a[32], b[32];
	while (t->alerted < t->nthresholds && t->budget_nusd > 0 &&
	       money_reached(t->spend_nusd, t->budget_nusd, t->thresholds[t->alerted])) {
		usd2(a, sizeof a, t->spend_nusd);
		usd2(b, sizeof b, t->budget_nusd);
		char *m = xasprintf("Team '%s' crossed %d%% of its monthly budget (%s of %s).", t->id,
				    t->thresholds[t->alerted], a, b);
		alert_raise(g, "budget_threshold", t->id, m);
		free(m);
		t->alerted++;
	}
	if (t->auto_pause && t->state == TEAM_ACTIVE && t->spend_nusd >= t->budget_nusd &&
	    t->override_until <= gw_now(g)) {
		usd2(b, sizeof b, t->budget_nusd);
		char *reason = xasprintf("monthly budget of %s reached", b);
		set_state(g, t, TEAM_BUDGET_PAUSED, reason);
		char *m = xasprintf("Team '%s' was paused: %s.", t->id, reason);
		alert_raise(g, "auto_pause", t->id, m);
		free(m);
		free(reason);
	}
	int64_t ob = g->cfg.org_budget_nusd;
	while (ob > 0 && r->org_alerted < g->cfg.n_org_thresholds &&
	       money_reached(r->org_spend_nusd, ob, g->cfg.org_thresholds[r->org_alerted])) {
		usd2(a, sizeof a, r->org_spend_nusd);
		usd2(b, sizeof b, ob);
		char *m = xasprintf("The organisation crossed %d%% of its monthly budget (%s of %s).",
				    g->cfg.org_thresholds[r->org_alerted], a, b);
		alert_raise(g, "org_budget_threshold", NULL, m);
		free(m);
		r->org_alerted++;
	}
}

void budget_settle(struct gateway *g, struct team *t, int64_t reserved, int64_t actual)
{
	struct registry *r = &g->reg;
	t->reserved_nusd -= reserved;
	r->org_reserved_nusd -= reserved;
	if (t->reserved_nusd < 0)
		t->reserved_nusd = 0;
	if (r->org_reserved_nusd < 0)
		r->org_reserved_nusd = 0;
	t->spend_nusd += actual;
	r->org_spend_nusd += actual;
	if (actual > 0)
		budget_check(g, t);
}
