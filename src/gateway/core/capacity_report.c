/* capacity_report.c — what capacity tells: the x-ratelimit figures of an
 * answer (capacity_headroom), GET /admin/v1/capacity (capacity_json) and a
 * team's use per model. Reads capacity.c's windows; changes nothing. */
#include "capacity_int.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

/* ---- what callers are told ------------------------------------------------ */

/* limit, remaining and reset of one window (reset: until what it holds
 * now has left it) */
/* a window's use as this replica knows it: its own, and in a fleet what
 * the other replicas held at the last reading (until that has left it) */
static int64_t known_use(const struct capacity *c, struct window *w, int lim, int64_t now)
{
	int64_t used = win_sum(w, now);
	if (c->fleet && w->others_at && now - w->others_at < cap_lim_span[lim])
		used += w->others;
	return used;
}

/* the limit a caller is told: the fleet's in a fleet, else this replica's share */
static int64_t told_limit(const struct capacity *c, int64_t limit)
{
	return c->fleet ? limit : cap_mine(c, limit);
}

static void figures(const struct capacity *c, struct window *w, int lim, int64_t limit, int64_t now, int64_t *rem,
		    int64_t *reset)
{
	int64_t used = known_use(c, w, lim, now);
	*rem = limit > used ? limit - used : 0;
	*reset = win_drain_ms(w, now);
}

/* one limit a caller is told of: the team's own when it has one, else its
 * class's share of the organisation's on the model */
static void headroom_of(const struct capacity *c, int64_t team_limit, struct window *tw, struct orgmodel *m,
			int lim, int top, int64_t now, int64_t *limit, int64_t *rem, int64_t *reset)
{
	struct window *w = NULL;
	if (team_limit > 0) {
		*limit = told_limit(c, team_limit);
		w = tw;
	} else if (m && m->limit[lim] > 0) {
		*limit = told_limit(c, cap_class_limit(c, m->limit[lim], top));
		w = &m->use[lim][top];
	}
	if (w)
		figures(c, w, lim, *limit, now, rem, reset);
}

int capacity_headroom(struct capacity *c, struct team *t, const char *model, int64_t now, struct capview *out)
{
	memset(out, 0, sizeof *out);
	struct teamcap *tc = cap_team(t);
	struct orgmodel *m = model ? cap_model_get(c, model, false) : NULL;
	int top = cap_top_class(t->priority);
	headroom_of(c, t->rpd_limit, &tc->rpd, m, CL_RPD, top, now, &out->limit_req, &out->rem_req, &out->reset_req);
	headroom_of(c, t->tpm_limit, &tc->tpm, m, CL_TPM, top, now, &out->limit_tok, &out->rem_tok, &out->reset_tok);
	return out->limit_req > 0 || out->limit_tok > 0;
}

static json_t *lims(const int64_t *v)
{
	return json_pack("{s:I,s:I,s:I,s:I,s:I,s:I}", "rpm", (json_int_t)v[CL_RPM], "rpd", (json_int_t)v[CL_RPD],
			 "tpm", (json_int_t)v[CL_TPM], "tpd", (json_int_t)v[CL_TPD], "ash", (json_int_t)v[CL_ASH],
			 "asd", (json_int_t)v[CL_ASD]);
}

/* the requests and tokens a team took of a model in the last minute */
static void team_model_use(const struct registry *reg, const char *model, int64_t now, json_t *teams,
			   const struct capacity *c)
{
	(void)c;
	for (int i = 0; i < reg->nteams; i++) {
		struct team *t = reg->teams[i];
		int64_t rq = 0, tk = 0;
		for (int j = 0; t->mu && j < t->nmu; j++)
			if (str_eq(t->mu[j].model, model)) {
				rq = win_sum(&t->mu[j].req, now);
				tk = win_sum(&t->mu[j].tok, now);
			}
		if (!rq && !tk)
			continue;
		json_array_append_new(teams, json_pack("{s:s,s:s,s:I,s:I}", "team", t->id, "priority",
						       priority_name(t->priority), "rpm", (json_int_t)rq, "tpm",
						       (json_int_t)tk));
	}
}

json_t *capacity_json(struct capacity *c, const struct registry *reg, int64_t now)
{
	json_t *models = json_array();
	/* the declared models first (in their order), then those learned */
	for (int pass = 0; pass < 2; pass++)
	for (int i = 0; i < c->nm; i++) {
		struct orgmodel *m = c->m[i];
		if (m->declared != (pass == 0))
			continue;
		bool any = false;
		int64_t used[CL_N] = { 0 };
		for (int l = 0; l < CL_N; l++)
			if (m->limit[l] > 0) {
				any = true;
				used[l] = known_use(c, &m->use[l][0], l, now);
			}
		if (!any && m->hold_until <= now)
			continue;
		json_t *teams = json_array();
		team_model_use(reg, m->model, now, teams, c);
		json_t *ratio = json_object();
		for (int l = 0; l < CL_N; l++)
			if (m->limit[l] > 0)
				json_object_set_new(ratio, cap_lim_name[l],
						    json_real((double)used[l] / (double)m->limit[l]));
		json_array_append_new(
			models, json_pack("{s:s,s:s,s:o,s:o,s:o,s:o,s:o}", "model", m->model, "source",
					  m->declared ? "config" : "groq", "limits", lims(m->limit), "used", lims(used),
					  "used_ratio", ratio, "retry_after_until",
					  m->hold_until > now ? json_integer(m->hold_until) : json_null(), "teams", teams));
	}
	return json_pack("{s:o,s:{s:i,s:i,s:i,s:s}}", "models", models, "capacity", "critical_reserve_pct", c->reserve_pct,
			 "batch_max_pct", c->batch_pct, "replicas_sharing", c->replicas, "sharing",
			 c->replicas <= 1 ? "single" : c->fleet ? "fleet_windows" : "equal_shares");
}

const char *capacity_model_use(struct capacity *c, int i, int64_t now, double ratio[CL_N])
{
	if (i < 0 || i >= c->nm)
		return NULL;
	struct orgmodel *m = c->m[i];
	for (int l = 0; l < CL_N; l++)
		ratio[l] = m->limit[l] > 0 ? (double)known_use(c, &m->use[l][0], l, now) / (double)m->limit[l] : -1;
	return m->model;
}
