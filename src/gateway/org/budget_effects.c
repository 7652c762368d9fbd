/* budget_effects.c — the budget's consequences in the running gateway: an
 * alert raised (stored, webhook, metrics), a team paused or resumed by
 * groqgated itself (written with its audit record). budget.c stays pure;
 * this is the one place that ties it to the gateway. */
#include "org.h"

#include <stdlib.h>

#include "util.h"

static void fx_alert(void *arg, const char *kind, const char *team, const char *message)
{
	alert_raise(arg, kind, team, message);
}

static void fx_set_state(void *arg, struct team *t, enum team_state st, const char *reason)
{
	struct gateway *g = arg;
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
	int rc = audited_write(g, put_team, t, "groqgated", "system", NULL,
			       st == TEAM_ACTIVE ? "team.resume" : "team.budget_pause", t->id, before, after, &cause);
	if (rc == STORE_CONFLICT) /* the team as another replica left it; the budget is checked again on it */
		cluster_sync(g);
	if (rc != 0) {
		gw_log(g, json_pack("{s:s,s:s,s:s}", "level", "error", "msg", "cannot persist budget state",
				    "error", cause ? cause : "?"));
		free(cause);
	}
	json_decref(before);
	json_decref(after);
}

static int fx_lease(void *arg, struct team *t, const int64_t need[BW_ALL], char **why)
{
	return cluster_lease(arg, t, need, why);
}

struct budget_env gw_budget(struct gateway *g)
{
	static struct budget_fx fx = { fx_alert, fx_set_state, NULL, NULL };
	fx.arg = g;
	fx.lease = g->cluster ? fx_lease : NULL;
	return (struct budget_env){ .reg = &g->reg,
				    .org_budget_nusd = g->cfg.org_budget_nusd,
				    .replicas = cluster_replicas(g),
				    .org_thresholds = g->cfg.org_thresholds,
				    .n_org_thresholds = g->cfg.n_org_thresholds,
				    .now = gw_now(g),
				    .month = &g->month,
				    .fx = &fx };
}
