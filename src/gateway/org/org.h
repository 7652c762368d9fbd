/* org.h — the organisation's rules over time: models (aliases, retirements,
 * fallbacks), operator input checked (team_input.c), what a budget's
 * thresholds do (budget_effects.c), Groq's own figures polled
 * (groq_metrics.c). */
#ifndef GG_ORG_H
#define GG_ORG_H

#include "cluster.h" /* the rooms below */

/* the settable limits of a key in j (monthly_budget_usd, rpm_limit,
 * tpm_limit) into k: 0, or -1 with e filled (team_input.c) */
int spec_key_fields(struct ukey *k, json_t *j, struct verdict *e);
/* budget_effects.c: the environment of the running gateway (its alerts, its
 * audited pauses, now) */
struct budget_env gw_budget(struct gateway *g);
/* ---- models.c: aliases and retirements ------------------------------ */
/* stage_model: the model a request names (asked) -> the model Groq is
 * sent (*send, asked itself or a string of the configuration): an alias
 * becomes its model; a model retired at now becomes its replacement for
 * a team with replace_retired, else a 400 in Groq's model_decommissioned
 * shape naming the replacement (no round trip to Groq). 0 or -1. */
int stage_model(const struct gw_config *c, const struct registry *r, const struct team *t, int64_t now,
		const char *asked, const char **send, struct verdict *v);
/* The aliases in force: an operator's (r, may be NULL) before the
 * configuration's of the same name. The model alias names, or NULL. */
const char *alias_model(const struct gw_config *c, const struct registry *r, const char *alias);
/* all of them, [{"alias","model","source":"admin"|"config"}], by alias */
json_t *aliases_json(const struct gw_config *c, const struct registry *r);
/* The next model to try after `tried` (the models sent so far, in order,
 * the asked one first) failed: the first of the fallbacks of the model
 * asked the team may call, priced, not yet tried (so at most as many
 * tries as that list is long); NULL when none is left. */
const char *fallback_next(const struct gw_config *c, const struct team *t, const char *const *tried, int ntried);
/* Checks a team's fallbacks (JSON): an object of model -> models the team
 * may call (allowed), priced, with no cycle; 0, or -1 with v. */
int fallbacks_check(const struct team *t, json_t *fb, const struct gw_config *c, struct verdict *v);
/* {model: [team, ...]}: the teams the ledger shows served by each model
 * in the last 7 days (caller frees), or NULL with *cause. */
json_t *models_callers_7d(struct gateway *g, char **cause);
/* Groq's model list (list: {"data":[...]}, taken) in place of the cached
 * one: a model it listed before and lists no more is retired now; one
 * listed again no longer is */
void models_list_update(struct gateway *g, json_t *list);
/* model retired now by Groq's own word (a 400 model_decommissioned) */
void models_groq_retired(struct gateway *g, const char *model, const char *why);
/* An alert model_retiring for each team that called a model in the last
 * 7 days, 30 and 7 days before its shutdown, each made once (the store's
 * alerts are the memory, across restarts and replicas): how many were
 * made, or -1 with *cause. */
int models_tell_retiring(struct gateway *g, char **cause);
/* ---- groq_metrics.c: Groq's metrics polled, drift alerted ------------- */
struct groqwatch;
/* Starts polling when groq_metrics is configured (else a watch that says
 * so); never blocks the loop. */
struct groqwatch *groqwatch_start(struct gateway *g);
void groqwatch_free(struct groqwatch *w);
json_t *groqwatch_json(struct gateway *g);          /* GET /admin/v1/groq */
json_t *groqwatch_summary(struct gateway *g);       /* the overview's "groq" */
void groqwatch_metrics(struct gateway *g, buf *out); /* its /metrics lines */
void groqwatch_reload(struct gateway *g);           /* after SIGHUP */
/* Groq answered 400 model_decommissioned to a request of team for model */
void groqwatch_decommissioned(struct gateway *g, const char *team, const char *model);

/* ---- team_input.c: operator input checked without a connection ---------- */
/* (input errors are verdicts: status, code, message; see verdict.c) */
typedef bool (*spec_model_known)(void *arg, const char *model);
/* -1 (e filled) when j has a field not in allowed (NULL-ended). */
int spec_only_fields(json_t *j, const char *const *allowed, struct verdict *e);
/* the team fields an operator sets: "id" first, then the rest */
extern const char *const spec_team_fields_all[];
#define SPEC_TEAM_SETTABLE (spec_team_fields_all + 1)
/* Applies the settable team fields in j to t; on -1 t may be partly
 * changed (apply to a copy). t's strings stay t's to free. */
int spec_team_fields(struct team *t, json_t *j, spec_model_known known, void *arg, struct verdict *e);
/* If-Match: 1 with *ver set, 0 for "*", -1 when malformed. */
int spec_if_match(const char *header, int64_t *ver);
/* X-Operator: printable ASCII only, cut to n-1 bytes. */
void spec_label(const char *in, char *out, size_t n);

#endif
