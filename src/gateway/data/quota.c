/* quota.c — GET /groqgate/v1/quota: what a caller (its client token) may
 * still do, so a service can degrade before it is refused: its team, key
 * and models, each of its budgets with what is left and when it resets,
 * its limits and its use of them. And the least of what is left, which
 * every data-plane answer carries (x-groqgate-budget-remaining-usd). */
#include "data.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "httpd.h"
#include "groq.h"
#include "secret.h"
#include "util.h"

static int64_t left(int64_t budget, int64_t spent, int64_t reserved)
{
	int64_t l = budget - spent - reserved;
	return l > 0 ? l : 0;
}

/* the team's budgets are the fleet's in cluster mode, as their spend
 * figures are (replicas: an end user's budget is each replica's share) */
int64_t budget_remaining(const struct team *t, int replicas)
{
	(void)replicas;
	int64_t least = left(t->budget_nusd, t->spend_nusd, t->reserved_nusd);
	if (t->week_budget_nusd > 0) {
		int64_t l = left(t->week_budget_nusd, t->week_spend_nusd, t->reserved_nusd);
		least = l < least ? l : least;
	}
	if (t->day_budget_nusd > 0) {
		int64_t l = left(t->day_budget_nusd, t->day_spend_nusd, t->reserved_nusd);
		least = l < least ? l : least;
	}
	return least;
}

int64_t caller_remaining(struct gateway *g, const struct team *t, const struct ukey *k, const char *user)
{
	int replicas = cluster_replicas(g);
	int64_t least = budget_remaining(t, replicas);
	if (k && k->budget_nusd > 0) {
		int64_t l = left(k->budget_nusd, k->spend_nusd, k->reserved_nusd);
		least = l < least ? l : least;
	}
	if (user && g->reg.users) { /* (this replica's share of the user's day) */
		int64_t l = enduser_remaining(g->reg.users, t, user, replicas, gw_now(g));
		least = l < least ? l : least;
	}
	return least;
}

static json_t *usd(int64_t nusd)
{
	return json_real((double)nusd / NUSD_PER_USD);
}

static json_t *one(const char *period, int64_t limit, int64_t spent, int64_t reserved, int64_t resets)
{
	char r[32];
	time_iso(resets, r, sizeof r);
	return json_pack("{s:s,s:o,s:o,s:o,s:s}", "period", period, "limit_usd", usd(limit), "spent_usd", usd(spent),
			 "remaining_usd", usd(left(limit, spent, reserved)), "resets_at", r);
}

void quota_handle(struct gateway *g, struct hreq *req)
{
	if (httpd_method(req) != HM_GET && httpd_method(req) != HM_HEAD) {
		httpd_set_header(req, "Allow", "GET");
		httpd_send_groq_error(req, 405, "Use GET on /groqgate/v1/quota.", "invalid_request_error", "method_not_allowed");
		return;
	}
	struct verdict v = { 0 };
	struct ctoken *tok;
	char h[SHA256_HEX_LEN + 1];
	const char *bearer = httpd_bearer_hashed(req, h);
	if (stage_authenticate(&g->reg, bearer, h, &tok, &v) != 0) {
		httpd_send_groq_error(req, v.status, v.message, v.type, v.code);
		verdict_clear(&v);
		return;
	}
	struct team *t = registry_team(&g->reg, tok->team);
	if (!t) {
		httpd_send_groq_error(req, 500, "This client token points at a team that no longer exists.", "api_error",
				      "misconfigured");
		return;
	}
	struct budget_env e = gw_budget(g);
	budget_roll(&e, t);
	int64_t now = e.now;
	json_t *models = json_array();
	for (int i = 0; i < t->nmodels; i++)
		json_array_append_new(models, json_string(t->models[i]));
	json_t *budgets = json_array();
	json_array_append_new(budgets, one("monthly", t->budget_nusd, t->spend_nusd, t->reserved_nusd, month_next_ms(now)));
	if (t->week_budget_nusd > 0)
		json_array_append_new(budgets, one("weekly", t->week_budget_nusd, t->week_spend_nusd,
						   t->reserved_nusd, t->week_start + 7 * 86400000LL));
	if (t->day_budget_nusd > 0)
		json_array_append_new(budgets, one("daily", t->day_budget_nusd, t->day_spend_nusd,
						   t->reserved_nusd, t->day_start + 86400000));
	struct ukey *k = registry_key(&g->reg, tok->key);
	if (k && k->budget_nusd > 0)
		json_array_append_new(budgets, one("key_monthly", k->budget_nusd, k->spend_nusd,
						   k->reserved_nusd, month_next_ms(now)));
	/* an end user's, for the one named by X-Groqgate-User */
	const char *user = httpd_header(req, "X-Groqgate-User");
	if (user && (!*user || strlen(user) > 256 || !utf8_valid(user, strlen(user))))
		user = NULL;
	json_t *ub = user && g->reg.users ? enduser_json(g->reg.users, t, user, e.replicas, now) : NULL;
	if (ub)
		json_array_append_new(budgets, ub);
	json_t *limits = json_pack("{s:I,s:i,s:I,s:I}", "rpm_limit", (json_int_t)t->rpm_limit, "rpm",
				   counters_count(t, now), "tpm_limit", (json_int_t)t->tpm_limit, "tpm",
				   (json_int_t)team_tpm(t, now));
	char rem[48];
	snprintf(rem, sizeof rem, "%.9f", (double)caller_remaining(g, t, k, user) / NUSD_PER_USD);
	httpd_set_header(req, "x-groqgate-budget-remaining-usd", rem);
	httpd_send_json(req, 200,
			json_pack("{s:s,s:s,s:o,s:o,s:o}", "team", t->id, "key", tok->key, "models", models, "budgets",
				  budgets, "limits", limits));
}
