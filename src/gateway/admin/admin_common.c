/* admin_common.c — what the admin API's route files share: a change
 * written with its audit record, the body read, fields checked, a team
 * copied and shown. Beneath admin.c, admin_models.c and admin_apply.c. */
#include "admin.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

/* An operator's change: written with its audit record, or answered 503. */
int admin_commit(struct actx *c, const char *action, const char *target, json_t *before, json_t *after,
			 store_put_fn put, const void *obj)
{
	char *cause = NULL;
	int rc = audited_write(c->g, put, obj, c->who->name, role_name(c->who->role), c->op, action, target, before,
			       after, &cause);
	if (rc == STORE_CONFLICT) { /* another replica wrote it first: this one reads it again */
		cluster_sync(c->g);
		admin_error(c->req, 409, "conflict",
			    "Nothing was saved: %s at the same moment. Reload and try again.", cause);
		free(cause);
		return -1;
	}
	if (rc != 0) {
		ledger_store_failed(c->g->ledger, cause);
		admin_error(c->req, 503, "store_unavailable", "The change was not saved: %s", cause ? cause : "store error");
		gw_log(c->g, json_pack("{s:s,s:s,s:s,s:s}", "level", "error", "msg", "admin change not saved", "action",
				       action, "error", cause ? cause : "?"));
		free(cause);
		return -1;
	}
	return 0;
}

int admin_keys_of_team(struct gateway *g, const char *team)
{
	struct team *t = registry_team(&g->reg, team);
	return t ? t->nkeys : 0;
}

json_t *admin_body(struct actx *c)
{
	size_t len;
	char *b = httpd_body(c->req, &len);
	json_error_t e;
	json_t *j = len ? json_loadb(b, len, 0, &e) : json_object();
	free(b);
	if (!json_is_object(j)) {
		json_decref(j);
		admin_error(c->req, 400, "invalid_json", "The body must be a JSON object.");
		return NULL;
	}
	return j;
}

/* Rejects fields not in allowed (so a typo is not silently ignored). */
int admin_only_fields(struct actx *c, json_t *j, const char *const *allowed)
{
	struct verdict e = { 0 };
	if (spec_only_fields(j, allowed, &e) == 0)
		return 0;
	admin_error(c->req, e.status, e.code, "%s", e.message ? e.message : "invalid input");
	verdict_clear(&e);
	return -1;
}

bool admin_model_known(void *arg, const char *m)
{
	struct gateway *g = arg;
	if (config_price(&g->cfg, m))
		return true;
	size_t i;
	json_t *v;
	json_array_foreach(json_object_get(g->models_cache, "data"), i, v) if (str_eq(json_string_value(json_object_get(v, "id")), m)) return true;
	return false;
}

/* A private copy of t's persistent fields (strings duplicated). */
struct team admin_team_copy(const struct team *t)
{
	struct team c = *t;
	c.id = xstrdup(t->id);
	c.name = xstrdup(t->name);
	c.models = xcalloc((size_t)t->nmodels + 1, sizeof *c.models);
	for (int i = 0; i < t->nmodels; i++)
		c.models[i] = xstrdup(t->models[i]);
	c.paused_by = t->paused_by ? xstrdup(t->paused_by) : NULL;
	c.paused_reason = t->paused_reason ? xstrdup(t->paused_reason) : NULL;
	c.fallbacks = t->fallbacks ? xstrdup(t->fallbacks) : NULL;
	return c;
}

static void free_models(char **m, int n)
{
	for (int i = 0; i < n; i++)
		free(m[i]);
	free(m);
}

void admin_team_copy_free(struct team *c)
{
	free(c->id);
	free(c->name);
	free_models(c->models, c->nmodels);
	free(c->paused_by);
	free(c->paused_reason);
	free(c->fallbacks);
}

json_t *admin_team_out(struct actx *c, const struct team *t)
{
	return team_json(t, gw_now(c->g), admin_keys_of_team(c->g, t->id));
}

/* 0 when If-Match is absent or names version; else answers 412/400
 * (what: "Team 'x'" or "Key 'y'", whose version it is) */
int admin_if_match(struct actx *c, const char *kind, const char *name, int64_t version)
{
	const char *h = httpd_header(c->req, "If-Match");
	if (!h)
		return 0;
	int64_t ver = 0;
	int r = spec_if_match(h, &ver);
	if (r == 0)
		return 0;
	if (r < 0) {
		admin_error(c->req, 400, "invalid_if_match", "If-Match must be the %s's version, e.g. If-Match: \"%lld\".",
			    kind, (long long)version);
		return -1;
	}
	if (ver != version) {
		admin_error(c->req, 412, "version_mismatch",
			    "%c%s '%s' was changed meanwhile (your version %lld, current %lld). Reload and try again.",
			    kind[0] - 'a' + 'A', kind + 1, name, (long long)ver, (long long)version);
		return -1;
	}
	return 0;
}
