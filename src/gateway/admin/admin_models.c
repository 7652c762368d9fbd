/* admin_models.c — the admin API's models: GET /admin/v1/models (Groq's
 * list, prices, retirements and who called what) and the organisation's
 * aliases (GET /admin/v1/aliases, PUT|DELETE /admin/v1/aliases/{alias}). */
#include "admin.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "httpd.h"
#include "strmap.h"
#include "util.h"

void models_route(struct actx *c)
{
	struct gateway *g = c->g;
	json_t *out = json_array();
	strmap *seen = strmap_new();
	size_t i;
	json_t *m;
	json_array_foreach(json_object_get(g->models_cache, "data"), i, m) {
		const char *id = json_string_value(json_object_get(m, "id"));
		if (!id || strmap_get(seen, id))
			continue;
		strmap_put(seen, id, (void *)1);
		const struct price *p = config_price(&g->cfg, id);
		json_t *row = json_pack("{s:s,s:b,s:O}", "id", id, "listed_by_groq", 1, "owned_by",
					json_object_get(m, "owned_by") ? json_object_get(m, "owned_by") : json_null());
		json_object_set_new(row, "input_per_mtok", p ? json_real(p->in_per_mtok) : json_null());
		json_object_set_new(row, "output_per_mtok", p ? json_real(p->out_per_mtok) : json_null());
		json_object_set(row, "context_window", json_object_get(m, "context_window") ? json_object_get(m, "context_window") : json_null());
		json_array_append_new(out, row);
	}
	for (int k = 0; k < g->cfg.nprices; k++) {
		const struct price *p = &g->cfg.prices[k];
		if (strmap_get(seen, p->model))
			continue;
		strmap_put(seen, p->model, (void *)1);
		json_array_append_new(out, json_pack("{s:s,s:b,s:n,s:f,s:f,s:n}", "id", p->model, "listed_by_groq", 0,
						     "owned_by", "input_per_mtok", p->in_per_mtok, "output_per_mtok",
						     p->out_per_mtok, "context_window"));
	}
	for (int k = 0; k < g->cfg.ndeprecations; k++) { /* the calendar's models, listed or not */
		const struct deprecation *d = &g->cfg.deprecations[k];
		if (!strmap_get(seen, d->model))
			json_array_append_new(out, json_pack("{s:s,s:b,s:n,s:n,s:n,s:n}", "id", d->model, "listed_by_groq", 0,
							     "owned_by", "input_per_mtok", "output_per_mtok",
							     "context_window"));
	}
	strmap_free(seen);
	/* who called what in the last 7 days (the ledger's served rows) */
	char *cause = NULL;
	int64_t now = gw_now(g);
	json_t *callers = models_callers_7d(g, &cause);
	if (!callers) {
		admin_error(c->req, 503, "store_unavailable", "The ledger could not be read: %s", cause ? cause : "?");
		free(cause);
		json_decref(out);
		return;
	}
	json_t *row;
	json_array_foreach(out, i, row) {
		const char *id = json_string_value(json_object_get(row, "id"));
		const struct deprecation *d = config_deprecation(&g->cfg, id);
		json_object_set_new(row, "shutdown", d ? json_string(d->date) : json_null());
		json_object_set_new(row, "replacement", d ? json_string(d->replacement) : json_null());
		const int64_t *by_groq = strmap_get(g->reg.groq_retired, id);
		json_object_set_new(row, "retired", json_boolean((d && now >= d->shutdown_ms) || by_groq));
		json_object_set_new(row, "retired_by_groq", json_boolean(by_groq != NULL));
		json_t *who = json_object_get(callers, id);
		json_object_set_new(row, "callers_7d", who ? json_incref(who) : json_array());
	}
	json_decref(callers);
	char ts[32];
	time_iso(g->models_cached_at, ts, sizeof ts);
	httpd_send_json(c->req, 200, json_pack("{s:o,s:s}", "models", out, "refreshed_at", ts));
}

void aliases_route(struct actx *c)
{
	httpd_send_json(c->req, 200, json_pack("{s:o}", "aliases", aliases_json(&c->g->cfg, &c->g->reg)));
}

/* an alias's name: 1 to 64 of letters, digits and . _ : - (a path segment) */
static bool alias_name_ok(const char *a)
{
	size_t n = a ? strlen(a) : 0;
	if (!n || n > 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)a[i]) && !strchr("._:-", a[i]))
			return false;
	return true;
}

const char *alias_problem(struct gateway *g, const char *alias, const char *model, char **why)
{
	if (!alias_name_ok(alias)) {
		*why = xasprintf("An alias is 1 to 64 letters, digits and . _ : - (got '%.64s').", alias ? alias : "");
		return "invalid_value";
	}
	if (!model || !*model) {
		*why = xasprintf("Alias '%s': 'model' must name the model the alias stands for.", alias);
		return "invalid_value";
	}
	if (config_price(&g->cfg, alias)) {
		*why = xasprintf("'%s' is a model's own name (it has a price): an alias cannot hide a model.", alias);
		return "invalid_value";
	}
	if (alias_model(&g->cfg, &g->reg, model)) {
		*why = xasprintf("Alias '%s': '%s' is itself an alias: name the model itself.", alias, model);
		return "invalid_value";
	}
	if (!config_price(&g->cfg, model)) {
		*why = xasprintf("Alias '%s': model '%s' has no price in the gateway's price table: an alias names a "
				 "model the gateway can meter.",
				 alias, model);
		return "model_not_priced";
	}
	return NULL;
}

struct alias_write {
	const char *alias, *model; /* model NULL: deleted */
	int64_t at;
};

static int put_alias(struct store *s, const void *o, char **cause)
{
	const struct alias_write *w = o;
	return store_put_alias(s, w->alias, w->model, w->at, cause);
}

static json_t *alias_json(const char *alias, const char *model, const char *source)
{
	return json_pack("{s:s,s:s,s:s}", "alias", alias, "model", model, "source", source);
}

/* PUT /aliases/{alias} {"model"}: set by an operator (over the
 * configuration's of the same name); DELETE: the operator's taken away */
void alias_change(struct actx *c)
{
	struct gateway *g = c->g;
	const char *alias = c->param, *had = registry_alias(&g->reg, alias);
	if (!alias_name_ok(alias)) {
		admin_error(c->req, 400, "invalid_value",
			    "An alias is 1 to 64 letters, digits and . _ : - (got '%.64s').", alias);
		return;
	}
	struct alias_write w = { alias, NULL, gw_now(g) };
	json_t *before = had ? alias_json(alias, had, "admin") : json_null(), *after = NULL, *j = NULL;
	int status = 200;
	if (c->cmd == HM_DELETE) {
		if (!had) {
			if (config_alias(&g->cfg, alias))
				admin_error(c->req, 409, "alias_in_configuration",
					    "Alias '%s' is set in the configuration file (model_aliases): remove it there "
					    "and reload.", alias);
			else
				admin_error(c->req, 404, "not_found", "Alias '%s' does not exist.", alias);
			goto out;
		}
		after = json_null();
	} else {
		if (!(j = admin_body(c)))
			goto out;
		static const char *const fields[] = { "model", NULL };
		if (admin_only_fields(c, j, fields) < 0)
			goto out;
		const char *model = json_string_value(json_object_get(j, "model"));
		char *why = NULL;
		const char *code = alias_problem(g, alias, model, &why);
		if (code) {
			admin_error(c->req, 400, code, "%s", why);
			free(why);
			goto out;
		}
		w.model = model;
		after = alias_json(alias, model, "admin");
		status = had ? 200 : 201;
	}
	char target[80];
	snprintf(target, sizeof target, "alias/%s", alias);
	if (admin_commit(c, w.model ? "alias.set" : "alias.delete", target, before, after, put_alias, &w) != 0)
		goto out;
	registry_set_alias(&g->reg, alias, w.model);
	if (w.model) {
		httpd_send_json(c->req, status, json_incref(after));
	} else { /* the configuration's of that name, if any, is in force again */
		const char *cfgm = config_alias(&g->cfg, alias);
		httpd_send_json(c->req, 200, json_pack("{s:s,s:b,s:o}", "alias", alias, "deleted", 1, "in_force",
						       cfgm ? alias_json(alias, cfgm, "config") : json_null()));
	}
out:
	json_decref(before);
	json_decref(after);
	json_decref(j);
}

