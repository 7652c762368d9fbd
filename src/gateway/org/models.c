/* models.c — models that come and go: the organisation's aliases (a role
 * such as "fast" naming a model) and Groq's retirement calendar. The
 * request path's part is pure (the configuration and the clock in, a
 * model or a verdict out); below it, who called what in the last 7 days
 * and the notices to those teams before a model goes. */
#include "org.h"
#include "store.h"

#include <stdlib.h>
#include <string.h>

#include "strmap.h"
#include "util.h"

const char *alias_model(const struct gw_config *c, const struct registry *r, const char *alias)
{
	const char *m = registry_alias(r, alias);
	return m ? m : config_alias(c, alias);
}

static int by_alias(const void *a, const void *b)
{
	return strcmp(json_string_value(json_object_get(*(json_t *const *)a, "alias")),
		      json_string_value(json_object_get(*(json_t *const *)b, "alias")));
}

json_t *aliases_json(const struct gw_config *c, const struct registry *r)
{
	int n = (r ? r->naliases : 0) + c->naliases, k = 0;
	json_t **e = xcalloc((size_t)n + 1, sizeof *e);
	for (int i = 0; r && i < r->naliases; i++)
		e[k++] = json_pack("{s:s,s:s,s:s}", "alias", r->aliases[i].alias, "model", r->aliases[i].model, "source",
				   "admin");
	for (int i = 0; i < c->naliases; i++)
		if (!registry_alias(r, c->aliases[i].alias))
			e[k++] = json_pack("{s:s,s:s,s:s}", "alias", c->aliases[i].alias, "model", c->aliases[i].model,
					   "source", "config");
	qsort(e, (size_t)k, sizeof *e, by_alias);
	json_t *out = json_array();
	for (int i = 0; i < k; i++)
		json_array_append_new(out, e[i]);
	free(e);
	return out;
}

int stage_model(const struct gw_config *c, const struct registry *r, const struct team *t, int64_t now,
		const char *asked, const char **send, struct verdict *v)
{
	const char *m = alias_model(c, r, asked);
	if (!m)
		m = asked;
	/* a replacement may itself retire later: followed, a bounded number
	 * of times (the configuration refuses a cycle) */
	for (int hop = 0; hop <= c->ndeprecations; hop++) {
		const struct deprecation *d = config_deprecation(c, m);
		const int64_t *by_groq = r && r->groq_retired ? strmap_get(r->groq_retired, m) : NULL;
		if (!by_groq && (!d || now < d->shutdown_ms))
			break;
		if (!d) { /* Groq retired it, and the calendar names no replacement */
			char since[32];
			time_iso(*by_groq, since, sizeof since);
			return deny(v, 400, "invalid_request_error", "model_decommissioned", "model_decommissioned",
				    xasprintf("The model `%s` has been decommissioned and is no longer supported (Groq "
					      "no longer serves it, seen %s). Ask your groqgate operator which model "
					      "to use instead.",
					      m, since));
		}
		if (!t->replace_retired)
			return deny(v, 400, "invalid_request_error", "model_decommissioned", "model_decommissioned",
				    xasprintf("The model `%s` has been decommissioned and is no longer supported "
					      "(since %s). Please use `%s` instead.",
					      m, by_groq && now < d->shutdown_ms ? "now" : d->date, d->replacement));
		m = d->replacement;
	}
	*send = m;
	return 0;
}

/* ---- Groq's own list ------------------------------------------------------- */

void models_groq_retired(struct gateway *g, const char *model, const char *why)
{
	strmap *m = g->reg.groq_retired;
	if (!model || strmap_get(m, model))
		return;
	int64_t *since = xmalloc(sizeof *since);
	*since = gw_now(g);
	strmap_put(m, model, since);
	gw_log(g, json_pack("{s:s,s:s,s:s,s:s}", "level", "warn", "msg", "model retired by Groq", "model", model, "why",
			    why));
}

void models_list_update(struct gateway *g, json_t *list)
{
	json_t *old = g->models_cache, *now = json_object_get(list, "data");
	strmap *listed = strmap_new();
	size_t i;
	json_t *e;
	json_array_foreach(now, i, e) {
		const char *id = json_string_value(json_object_get(e, "id"));
		if (id)
			strmap_put(listed, id, (void *)1);
	}
	/* listed again: not retired after all */
	size_t at = 0;
	const char *k;
	void *v;
	while (strmap_next(g->reg.groq_retired, &at, &k, &v))
		if (strmap_get(listed, k)) {
			char *id = xstrdup(k);
			free(strmap_del(g->reg.groq_retired, id));
			gw_log(g, json_pack("{s:s,s:s,s:s}", "level", "info", "msg", "model listed by Groq again", "model", id));
			free(id);
			at = 0;
		}
	/* listed before, not now: Groq retired it (a list that failed or came
	 * back empty is no list, and changes nothing) */
	if (json_array_size(now))
		json_array_foreach(json_object_get(old, "data"), i, e) {
			const char *id = json_string_value(json_object_get(e, "id"));
			if (id && !strmap_get(listed, id))
				models_groq_retired(g, id, "Groq stopped listing it");
		}
	strmap_free(listed);
	json_decref(old);
	g->models_cache = list;
	g->models_cached_at = gw_now(g);
}

/* ---- fallbacks -------------------------------------------------------- */

const char *fallback_next(const struct gw_config *c, const struct team *t, const char *const *tried, int ntried)
{
	/* the list of the model asked for, in order: at most as many tries
	 * as it is long (a fallback's own list is not followed) */
	json_t *fb = t->fallbacks && ntried ? json_loads(t->fallbacks, 0, NULL) : NULL;
	const char *next = NULL;
	size_t k;
	json_t *m;
	json_array_foreach(json_object_get(fb, tried[0]), k, m) {
		const char *id = json_string_value(m);
		bool seen = false;
		for (int j = 0; j < ntried; j++)
			seen = seen || str_eq(tried[j], id);
		if (!id || seen || !team_allows(t, id) || !config_price(c, id))
			continue;
		/* a string of the team's, freed with it: found again in its models */
		for (int j = 0; j < t->nmodels && !next; j++)
			if (str_eq(t->models[j], id))
				next = t->models[j];
		if (next)
			break;
	}
	json_decref(fb);
	return next;
}

static bool reaches(json_t *fb, const char *from, const char *to, int depth)
{
	size_t k;
	json_t *m;
	if (depth > 64)
		return true;
	json_array_foreach(json_object_get(fb, from), k, m) {
		const char *id = json_string_value(m);
		if (str_eq(id, to) || reaches(fb, id, to, depth + 1))
			return true;
	}
	return false;
}

int fallbacks_check(const struct team *t, json_t *fb, const struct gw_config *c, struct verdict *v)
{
	if (!json_is_object(fb))
		return refusef(v, 400, "invalid_value",
			       "'fallbacks' must be an object: {\"MODEL\": [\"MODEL TO TRY NEXT\", ...]}.");
	const char *from;
	json_t *list;
	json_object_foreach(fb, from, list) {
		if (!json_is_array(list) || !json_array_size(list) || json_array_size(list) > 8)
			return refusef(v, 400, "invalid_value",
				       "'fallbacks.%s' must be a list of 1 to 8 models to try next.", from);
		size_t k;
		json_t *m;
		json_array_foreach(list, k, m) {
			const char *id = json_string_value(m);
			if (!id)
				return refusef(v, 400, "invalid_value", "'fallbacks.%s' must hold model ids.", from);
			if (str_eq(id, from))
				return refusef(v, 400, "invalid_value", "'fallbacks.%s' falls back to itself.", from);
			if (!team_allows(t, id))
				return refusef(v, 400, "invalid_value",
					       "'fallbacks.%s': team '%s' may not call '%s' (not in allowed_models).", from,
					       t->id, id);
			if (c && !config_price(c, id))
				return refusef(v, 400, "invalid_value",
					       "'fallbacks.%s': '%s' has no price in the gateway's price table.", from, id);
		}
		if (reaches(fb, from, from, 0))
			return refusef(v, 400, "invalid_value",
				       "'fallbacks.%s': the fallbacks go round in a cycle back to '%s'.", from, from);
	}
	return 0;
}

/* ---- who calls what, and the notices ------------------------------- */

static void caller_row(void *arg, const char *const *keys, const int64_t *sums)
{
	json_t *by_model = arg;
	if (!keys[0] || !keys[1] || sums[0] <= 0)
		return;
	json_t *a = json_object_get(by_model, keys[1]);
	if (!a)
		json_object_set_new(by_model, keys[1], a = json_array());
	json_array_append_new(a, json_string(keys[0]));
}

json_t *models_callers_7d(struct gateway *g, char **cause)
{
	json_t *by_model = json_object();
	int64_t now = gw_now(g);
	if (ledger_sync(g->ledger, cause) != 0 ||
	    store_spend(g->store, day_start_ms(now) - 7 * 86400000LL, day_start_ms(now) + 86400000, SPEND_TEAM | SPEND_MODEL,
			caller_row, by_model, cause) != 0) { /* (whole UTC days: the last seven and today) */
		json_decref(by_model);
		return NULL;
	}
	return by_model;
}

/* the notice's text: the same whenever it is made, so that it is made once */
static char *notice(const struct deprecation *d, const char *team, int mark)
{
	return xasprintf("Model %s retires on %s (the %d-day notice): team %s called it in the last 7 days. "
			 "Move to %s, or set replace_retired to have its calls sent there.",
			 d->model, d->date, mark, team, d->replacement);
}

int models_tell_retiring(struct gateway *g, char **cause)
{
	const struct gw_config *c = &g->cfg;
	if (!cluster_leader(g))
		return 0; /* one replica tells the fleet's teams (the leader: the first by name serving) */
	int64_t now = gw_now(g);
	int due = 0;
	for (int i = 0; i < c->ndeprecations; i++)
		due += now < c->deprecations[i].shutdown_ms && c->deprecations[i].shutdown_ms - now <= 30 * 86400000LL;
	if (!due)
		return 0;
	json_t *callers = models_callers_7d(g, cause);
	json_t *told = callers ? store_alerts_list(g->store, 5000, cause) : NULL;
	if (!told) {
		json_decref(callers);
		return -1;
	}
	int n = 0;
	for (int i = 0; i < c->ndeprecations; i++) {
		const struct deprecation *d = &c->deprecations[i];
		int64_t left = d->shutdown_ms - now;
		if (left <= 0 || left > 30 * 86400000LL)
			continue;
		int mark = left <= 7 * 86400000LL ? 7 : 30;
		size_t k, a;
		json_t *team, *al;
		json_array_foreach(json_object_get(callers, d->model), k, team) {
			char *msg = notice(d, json_string_value(team), mark);
			bool done = false;
			json_array_foreach(told, a, al)
				done = done || (str_eq(json_string_value(json_object_get(al, "kind")), "model_retiring") &&
						str_eq(json_string_value(json_object_get(al, "message")), msg));
			if (!done) {
				alert_raise(g, "model_retiring", json_string_value(team), msg);
				json_array_append_new(told, json_pack("{s:s,s:s}", "kind", "model_retiring", "message", msg));
				n++;
			}
			free(msg);
		}
	}
	json_decref(callers);
	json_decref(told);
	return n;
}
