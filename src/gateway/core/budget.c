/* budget.c — spend control, pure: a function of the team, the
 * organisation's figures, the amount and the time (struct budget_env). A
 * request reserves its worst case before it is forwarded and settles to
 * the real cost afterwards, so settled spend never passes the budget
 * however many requests run at once. Thresholds raise alerts once a
 * month; at 100 % a team with auto_pause becomes budget_paused. Those
 * consequences go through env->fx, which the gateway points at its alerts
 * and its audited writes (budget_effects.c) and a unit test at a recorder.
 *
 * In cluster mode the team's month, day and week are the fleet's: each is
 * checked against the fleet's spend as last read, and a request is
 * reserved only within this replica's lease of each (env->fx->lease, which
 * PostgreSQL grants so that the fleet's spend plus every lease stays
 * within the budget). */
#include "core.h"

#include <stdlib.h>

#include "util.h"

void budget_roll(struct budget_env *e, struct team *t)
{
	struct registry *r = e->reg;
	int64_t now = e->now;
	/* the month's bounds are cached: this runs for every team on every
	 * request and overview, and calendar arithmetic is not free */
	if (now < e->month->from || now >= e->month->to) {
		e->month->from = month_start_ms(now);
		e->month->to = month_next_ms(now);
	}
	int64_t ms = e->month->from;
	if (r->org_month_start != ms) {
		r->org_month_start = ms;
		r->org_spend_nusd = 0;
		r->org_alerted = 0;
	}
	if (t && t->month_start != ms) {
		t->month_start = ms;
		t->spend_nusd = 0;
		t->alerted = 0;
		if (t->state == TEAM_BUDGET_PAUSED && e->fx)
			e->fx->set_state(e->fx->arg, t, TEAM_ACTIVE, NULL);
	}
	if (t)
		budget_roll_windows(t, now);
}

void budget_roll_windows(struct team *t, int64_t now)
{
	/* a new day, a new week: their spend starts from nothing, exactly at
	 * the boundary (a team's budgets may change; its spend stays) */
	if (now < t->day_start || now >= t->day_start + 86400000) {
		int64_t ds = day_start_ms(now);
		/* a new window: what was leased ahead in it for the reservations
		 * still held is its lease (cluster mode) */
		fleetwin_turn(&t->day_fw, ds == t->day_start + 86400000);
		t->day_start = ds;
		t->day_spend_nusd = 0;
	}
	if (now < t->week_start || now >= t->week_start + 7 * 86400000LL) {
		int64_t ws = week_start_ms(now);
		fleetwin_turn(&t->week_fw, ws == t->week_start + 7 * 86400000LL);
		t->week_start = ws;
		t->week_spend_nusd = 0;
	}
}

void budget_roll_key(struct ukey *k, int64_t ms)
{
	if (k->month_start == ms)
		return;
	fleetwin_turn(&k->fw, ms == month_next_ms(k->month_start));
	k->month_start = ms;
	k->spend_nusd = 0;
}

void fleetwin_turn(struct fleetwin *w, bool adjacent)
{
	*w = (struct fleetwin){ .granted_nusd = adjacent ? w->next_nusd : 0 };
}

int64_t fleetwin_here(const struct fleetwin *w, int64_t spend)
{
	return spend - w->others_nusd;
}

void fleetwin_read(struct fleetwin *w, int64_t *spend, int64_t spent, int64_t mine, int64_t held)
{
	int64_t here = fleetwin_here(w, *spend);
	if (here < mine) /* (what it shipped it settled: at start, and a batch's bill) */
		here = mine;
	w->others_nusd = spent - mine;
	w->granted_nusd = held;
	*spend = w->others_nusd + here;
}

void budget_needs(const struct team *t, int64_t amount, bool override, int64_t need[BW_ALL])
{
	int64_t held = t->reserved_nusd + amount;
	need[BW_MONTH] = override ? 0 : t->unshipped_nusd + held;
	need[BW_DAY] = t->day_budget_nusd > 0 ? fleetwin_here(&t->day_fw, t->day_spend_nusd) + held : 0;
	need[BW_WEEK] = t->week_budget_nusd > 0 ? fleetwin_here(&t->week_fw, t->week_spend_nusd) + held : 0;
	/* what is reserved may settle after the window turns: its room in
	 * the next one is leased ahead, before another replica can take it */
	need[BW_NEXT_DAY] = t->day_budget_nusd > 0 ? held : 0;
	need[BW_NEXT_WEEK] = t->week_budget_nusd > 0 ? held : 0;
}

/* cluster mode: each of t's leases that falls short of what amount more
 * needs grown (one round trip for all), or -1 with *why */
static int lease_short(struct budget_env *e, struct team *t, int64_t amount, bool override, char **why)
{
	if (!e->fx || !e->fx->lease)
		return 0;
	int64_t need[BW_ALL];
	const int64_t held[BW_ALL] = { t->lease_nusd, t->day_fw.granted_nusd, t->week_fw.granted_nusd,
				       t->day_fw.next_nusd, t->week_fw.next_nusd };
	bool asked = false;
	budget_needs(t, amount, override, need);
	for (int i = 0; i < BW_ALL; i++) {
		if (need[i] <= held[i])
			need[i] = 0; /* enough held: not asked */
		asked = asked || need[i] > 0;
	}
	return asked ? e->fx->lease(e->fx->arg, t, need, why) : 0;
}

/* -1 with *why when amount does not fit a day's or week's budget (the
 * fleet's spend in cluster mode; the leases then decide) */
static int window_refuse(struct team *t, const char *period, int64_t budget, int64_t spent, int64_t resets,
			 int64_t amount, char **why)
{
	if (budget <= 0 || spent + t->reserved_nusd + amount <= budget)
		return 0;
	char a[32], b[32], c[32], r[32];
	usd2(a, sizeof a, spent + t->reserved_nusd);
	usd2(b, sizeof b, budget);
	usd2(c, sizeof c, amount);
	time_iso(resets, r, sizeof r);
	*why = xasprintf("Team '%s' has spent or reserved %s of its %s %s budget and this request could cost up to "
			 "%s; the %s budget resets at %s. Lower max_completion_tokens, or ask an operator.",
			 t->id, a, b, period, c, period, r);
	return -1;
}

void usd2(char *out, size_t n, int64_t nusd)
{
	double v = (double)nusd / NUSD_PER_USD;
	snprintf(out, n, v > 0 && v < 0.01 ? "$%.6f" : "$%.2f", v);
}

int budget_reserve(struct budget_env *e, struct team *t, int64_t amount, char **why)
{
	struct registry *r = e->reg;
	char a[32], b[32], c[32];
	bool override = t->override_until > e->now;
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
	if (window_refuse(t, "daily", t->day_budget_nusd, t->day_spend_nusd, t->day_start + 86400000, amount, why) ||
	    window_refuse(t, "weekly", t->week_budget_nusd, t->week_spend_nusd, t->week_start + 7 * 86400000LL, amount,
			  why))
		return -1;
	/* cluster mode: within this replica's lease of each budget (grown when
	 * it falls short; the fleet's spend plus every lease never exceeds the
	 * budget) */
	if (lease_short(e, t, amount, override, why) != 0)
		return -1;
	if (e->org_budget_nusd > 0 && r->org_spend_nusd + r->org_reserved_nusd + amount > e->org_budget_nusd) {
		usd2(a, sizeof a, r->org_spend_nusd + r->org_reserved_nusd);
		usd2(b, sizeof b, e->org_budget_nusd);
		*why = xasprintf("The organisation has spent or reserved %s of its %s monthly budget; requests "
				 "are refused before Groq blocks the whole organisation. Ask an operator.",
				 a, b);
		return -1;
	}
	t->reserved_nusd += amount;
	r->org_reserved_nusd += amount;
	return 0;
}

static void alert(struct budget_env *e, const char *kind, const char *team, const char *m)
{
	if (e->fx)
		e->fx->alert(e->fx->arg, kind, team, m);
}

void budget_check(struct budget_env *e, struct team *t)
{
	struct registry *r = e->reg;
	char a[32], b[32];
	while (t->alerted < t->nthresholds && t->budget_nusd > 0 &&
	       money_reached(t->spend_nusd, t->budget_nusd, t->thresholds[t->alerted])) {
		usd2(a, sizeof a, t->spend_nusd);
		usd2(b, sizeof b, t->budget_nusd);
		char *m = xasprintf("Team '%s' crossed %d%% of its monthly budget (%s of %s).", t->id,
				    t->thresholds[t->alerted], a, b);
		alert(e, "budget_threshold", t->id, m);
		free(m);
		t->alerted++;
	}
	if (t->auto_pause && t->state == TEAM_ACTIVE && t->spend_nusd >= t->budget_nusd && t->override_until <= e->now &&
	    e->fx) {
		usd2(b, sizeof b, t->budget_nusd);
		char *reason = xasprintf("monthly budget of %s reached", b);
		e->fx->set_state(e->fx->arg, t, TEAM_BUDGET_PAUSED, reason);
		char *m = xasprintf("Team '%s' was paused: %s.", t->id, reason);
		alert(e, "auto_pause", t->id, m);
		free(m);
		free(reason);
	}
	int64_t ob = e->org_budget_nusd;
	while (ob > 0 && r->org_alerted < e->n_org_thresholds &&
	       money_reached(r->org_spend_nusd, ob, e->org_thresholds[r->org_alerted])) {
		usd2(a, sizeof a, r->org_spend_nusd);
		usd2(b, sizeof b, ob);
		char *m = xasprintf("The organisation crossed %d%% of its monthly budget (%s of %s).",
				    e->org_thresholds[r->org_alerted], a, b);
		alert(e, "org_budget_threshold", NULL, m);
		free(m);
		r->org_alerted++;
	}
}

void budget_settle(struct budget_env *e, struct team *t, int64_t reserved, int64_t actual)
{
	struct registry *r = e->reg;
	/* the windows of the settling moment (the ledger row is dated then):
	 * a request sent at 23:59:59 and answered after midnight is the new
	 * day's, in memory as after a restart */
	budget_roll(e, t);
	t->reserved_nusd -= reserved;
	r->org_reserved_nusd -= reserved;
	if (t->reserved_nusd < 0)
		t->reserved_nusd = 0;
	if (r->org_reserved_nusd < 0)
		r->org_reserved_nusd = 0;
	t->spend_nusd += actual;
	t->day_spend_nusd += actual;
	t->week_spend_nusd += actual;
	r->org_spend_nusd += actual;
	if (actual > 0)
		budget_check(e, t);
}
