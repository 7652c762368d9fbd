/* admin_apply.c — the organisation as code: POST /admin/v1/apply (groqctl
 * diff and apply). The whole file is checked first; every change is then
 * written with its audit record in one transaction, or none. */
#include "admin.h"

#include <stdlib.h>
#include <string.h>

#include "httpd.h"
#include "util.h"

/* ---- the organisation as code: POST /apply ------------------------------ */

/* a file sets (and the diff compares) SPEC_TEAM_SETTABLE: never live
 * figures, never secrets */
#define APPLY_REMOVED "removed: not in the organisation's file (groqctl apply --prune)"

struct change {
	struct team *orig;  /* the team now (NULL: one to create) */
	struct team copy;   /* an update's or a pause's: what orig becomes (owned until adopted) */
	struct team *fresh; /* a create's new team (owned until added) */
	bool adopted;
	const char *action; /* "create", "update", "delete", "unchanged" */
	json_t *diff;       /* field -> {before, after} */
};

static struct team *change_team(struct change *x)
{
	return x->fresh ? x->fresh : &x->copy;
}

/* the settable fields that differ between before and after (team_json) */
static json_t *team_diff(json_t *before, json_t *after)
{
	json_t *d = json_object();
	for (int i = 0; SPEC_TEAM_SETTABLE[i]; i++) {
		json_t *b = before ? json_object_get(before, SPEC_TEAM_SETTABLE[i]) : NULL;
		json_t *a = json_object_get(after, SPEC_TEAM_SETTABLE[i]);
		if (!b || !a || !json_equal(a, b))
			json_object_set_new(d, SPEC_TEAM_SETTABLE[i],
					    json_pack("{s:O,s:O}", "before", b ? b : json_null(), "after", a ? a : json_null()));
	}
	return d;
}

/* an alias the file sets (or, with prune, one it no longer lists) */
struct alias_change {
	const char *alias, *model; /* model NULL: deleted (strings: the body's or the registry's) */
	const char *before;
	const char *action;
};

/* the file's aliases against the operators' now: -1 answered when one is
 * wrong; else how many entries *out holds (the caller frees *out) */
static int alias_changes(struct actx *c, json_t *list, bool prune, struct alias_change **out)
{
	struct gateway *g = c->g;
	*out = NULL;
	if (!list)
		return 0;
	if (!json_is_array(list)) {
		admin_error(c->req, 400, "invalid_value", "'aliases' must be a list of { alias, model }. Nothing was applied.");
		return -1;
	}
	struct alias_change *a = xcalloc(json_array_size(list) + (size_t)g->reg.naliases + 1, sizeof *a);
	int n = 0;
	size_t i;
	json_t *e;
	json_array_foreach(list, i, e) {
		const char *alias = json_string_value(json_object_get(e, "alias"));
		const char *model = json_string_value(json_object_get(e, "model"));
		char *why = NULL;
		const char *code = json_is_object(e) && json_object_size(e) == 2 ? alias_problem(g, alias, model, &why)
										  : "invalid_value";
		for (int k = 0; !code && k < n; k++)
			if (str_eq(a[k].alias, alias)) {
				code = "invalid_value";
				why = xasprintf("alias '%s' is in the file twice.", alias);
			}
		if (code) {
			admin_error(c->req, 400, code, "aliases[%zu]: %s Nothing was applied.", i,
				    why ? why : "each is { alias, model } and nothing else.");
			free(why);
			free(a);
			return -1;
		}
		const char *had = registry_alias(&g->reg, alias);
		a[n++] = (struct alias_change){ alias, model, had, !had ? "create" : str_eq(had, model) ? "unchanged" : "update" };
	}
	for (int k = 0; prune && k < g->reg.naliases; k++) {
		bool listed = false;
		for (int m = 0; m < n && !listed; m++)
			listed = str_eq(a[m].alias, g->reg.aliases[k].alias);
		if (!listed)
			a[n++] = (struct alias_change){ g->reg.aliases[k].alias, NULL, g->reg.aliases[k].model, "delete" };
	}
	*out = a;
	return n;
}

static json_t *alias_side(const char *alias, const char *model)
{
	return model ? json_pack("{s:s,s:s,s:s}", "alias", alias, "model", model, "source", "admin") : json_null();
}

static void changes_free(struct change *ch, int n)
{
	for (int i = 0; i < n; i++) {
		if (ch[i].orig && !ch[i].adopted)
			admin_team_copy_free(&ch[i].copy);
		team_free(ch[i].fresh); /* (NULL once added) */
		json_decref(ch[i].diff);
	}
	free(ch);
}

void apply_r(struct actx *c)
{
	struct gateway *g = c->g;
	json_t *j = admin_body(c);
	static const char *const top[] = { "teams", "aliases", "prune", "dry_run", NULL };
	if (!j || admin_only_fields(c, j, top) < 0) {
		json_decref(j);
		return;
	}
	json_t *teams = json_object_get(j, "teams");
	bool prune = json_is_true(json_object_get(j, "prune")), dry = json_is_true(json_object_get(j, "dry_run"));
	if (!json_is_array(teams)) {
		admin_error(c->req, 400, "missing_field", "'teams' must be an array of teams (each with its 'id').");
		json_decref(j);
		return;
	}
	size_t nt = json_array_size(teams);
	struct change *ch = xcalloc(nt + (size_t)g->reg.nteams + 1, sizeof *ch);
	int n = 0, na = 0;
	struct alias_change *al = NULL;
	int64_t now = gw_now(g);
	size_t i;
	json_t *e;
	/* every entry checked before anything is written: refused whole,
	 * naming the first bad entry and its field */
	json_array_foreach(teams, i, e) {
		const char *id = json_string_value(json_object_get(e, "id"));
		if (!json_is_object(e) || !slug_valid(id)) {
			admin_error(c->req, 400, "invalid_value", "teams[%zu]: each team needs an 'id' (a slug). Nothing was applied.", i);
			goto out;
		}
		for (int k = 0; k < n; k++)
			if (str_eq(change_team(&ch[k])->id, id)) {
				admin_error(c->req, 400, "invalid_value", "team '%s' is in the file twice. Nothing was applied.", id);
				goto out;
			}
		const char *key;
		json_t *v;
		json_object_foreach(e, key, v) {
			bool ok = str_eq(key, "id");
			for (int f = 0; SPEC_TEAM_SETTABLE[f] && !ok; f++)
				ok = str_eq(key, SPEC_TEAM_SETTABLE[f]);
			if (!ok) {
				admin_error(c->req, 400, "unknown_field",
					    "team '%s': '%s' is not a field the file sets (%s are live or secret). Nothing was applied.",
					    id, key, "spend, state and tokens");
				goto out;
			}
		}
		struct team *t = registry_team(&g->reg, id);
		struct change *x = &ch[n];
		if (t) {
			x->orig = t;
			x->copy = admin_team_copy(t);
		} else {
			static const char *const required[] = { "allowed_models", "max_tokens_per_request", "rpm_limit",
								"monthly_budget_usd" };
			for (size_t r = 0; r < ARRAY_LEN(required); r++)
				if (!json_object_get(e, required[r])) {
					admin_error(c->req, 400, "missing_field",
						    "team '%s' (new): '%s' is required to create it. Nothing was applied.", id,
						    required[r]);
					goto out;
				}
			struct team *nw = team_new();
			nw->id = xstrdup(id);
			nw->name = xstrdup(id);
			nw->queue_wait_ms = g->cfg.default_queue_wait_ms;
			nw->created_at = now;
			nw->month_start = month_start_ms(now);
			x->fresh = nw;
		}
		n++;
		struct verdict ve = { 0 };
		if (spec_team_fields(change_team(x), e, admin_model_known, g, &ve) != 0) {
			admin_error(c->req, ve.status, ve.code, "team '%s': %s Nothing was applied.", id,
				    ve.message ? ve.message : "invalid input");
			verdict_clear(&ve);
			goto out;
		}
		json_t *before = t ? admin_team_out(c, t) : NULL, *after = admin_team_out(c, change_team(x));
		x->diff = team_diff(before, after);
		x->action = !t ? "create" : json_object_size(x->diff) ? "update" : "unchanged";
		json_decref(before);
		json_decref(after);
	}
	/* --prune: a team absent from the file is paused and marked removed
	 * (never deleted: its ledger stays) */
	for (int k = 0; prune && k < g->reg.nteams; k++) {
		struct team *t = g->reg.teams[k];
		bool listed = false;
		for (int m = 0; m < n && !listed; m++)
			listed = str_eq(change_team(&ch[m])->id, t->id);
		if (listed || (t->state == TEAM_PAUSED && str_eq(t->paused_reason, APPLY_REMOVED)))
			continue;
		struct change *x = &ch[n++];
		x->orig = t;
		x->copy = admin_team_copy(t);
		free(x->copy.paused_by);
		free(x->copy.paused_reason);
		x->copy.state = TEAM_PAUSED;
		x->copy.paused_by = xstrdup(c->who->name);
		x->copy.paused_reason = xstrdup(APPLY_REMOVED);
		x->copy.paused_at = now;
		x->action = "delete";
		x->diff = json_pack("{s:{s:s,s:s}}", "state", "before", team_state_name(t->state), "after", "paused");
	}
	if ((na = alias_changes(c, json_object_get(j, "aliases"), prune, &al)) < 0)
		goto out;
	json_t *out = json_array();
	for (int k = 0; k < n; k++)
		json_array_append_new(out, json_pack("{s:s,s:s,s:O}", "team", change_team(&ch[k])->id, "action", ch[k].action,
						     "diff", ch[k].diff));
	for (int k = 0; k < na; k++)
		json_array_append_new(out, json_pack("{s:s,s:s,s:o}", "alias", al[k].alias, "action", al[k].action, "diff",
						     str_eq(al[k].action, "unchanged") ? json_object()
						     : json_pack("{s:{s:s?,s:s?}}", "model", "before", al[k].before,
								 "after", al[k].model)));
	if (dry) {
		httpd_send_json(c->req, 200, json_pack("{s:o,s:b}", "changes", out, "dry_run", 1));
		goto out;
	}
	/* all in one transaction, each change audited as its own route would
	 * be, or none */
	char *cause = NULL;
	int rc = store_begin(g->store, &cause);
	for (int k = 0; rc == 0 && k < n; k++) {
		struct change *x = &ch[k];
		if (str_eq(x->action, "unchanged"))
			continue;
		struct team *to = change_team(x);
		to->version = x->orig ? x->orig->version + 1 : 1;
		json_t *before = x->orig ? admin_team_out(c, x->orig) : NULL, *after = admin_team_out(c, to);
		json_object_set_new(after, "via", json_string("apply"));
		rc = store_put_team(g->store, to, &cause);
		if (rc == 0)
			rc = audit(g, c->who->name, role_name(c->who->role), c->op,
				   str_eq(x->action, "create") ? "team.create" : str_eq(x->action, "delete") ? "team.pause" : "team.update",
				   to->id, before, after, &cause);
		json_decref(before);
		json_decref(after);
	}
	for (int k = 0; rc == 0 && k < na; k++) {
		if (str_eq(al[k].action, "unchanged"))
			continue;
		json_t *before = alias_side(al[k].alias, al[k].before), *after = alias_side(al[k].alias, al[k].model);
		if (al[k].model)
			json_object_set_new(after, "via", json_string("apply"));
		char target[80];
		snprintf(target, sizeof target, "alias/%s", al[k].alias);
		rc = store_put_alias(g->store, al[k].alias, al[k].model, now, &cause);
		if (rc == 0)
			rc = audit(g, c->who->name, role_name(c->who->role), c->op,
				   al[k].model ? "alias.set" : "alias.delete", target, before, after, &cause);
		json_decref(before);
		json_decref(after);
	}
	if (rc == 0)
		rc = store_commit(g->store, &cause);
	if (rc != 0) {
		store_rollback(g->store);
		json_decref(out);
		if (rc == STORE_CONFLICT) {
			cluster_sync(g);
			admin_error(c->req, 409, "conflict",
				    "Nothing was applied: %s. Run it again: the diff is computed anew.", cause ? cause : "a team changed meanwhile");
		} else {
			ledger_store_failed(g->ledger, cause);
			admin_error(c->req, 503, "store_unavailable", "Nothing was applied: %s", cause ? cause : "store error");
		}
		free(cause);
		goto out;
	}
	for (int k = 0; k < n; k++) {
		struct change *x = &ch[k];
		if (str_eq(x->action, "unchanged"))
			continue;
		if (x->orig) {
			team_adopt(x->orig, &x->copy); /* (its strings are the team's now) */
			x->adopted = true;
		} else {
			rl_resize(&x->fresh->rl, (int)x->fresh->rpm_limit);
			registry_add_team(&g->reg, x->fresh);
			x->fresh = NULL;
		}
	}
	for (int k = 0; k < na; k++) { /* (a deletion's name is the registry's: copied first) */
		char *name = xstrdup(al[k].alias);
		if (!str_eq(al[k].action, "unchanged"))
			registry_set_alias(&g->reg, name, al[k].model);
		free(name);
	}
	httpd_send_json(c->req, 200, json_pack("{s:o,s:b}", "changes", out, "dry_run", 0));
out:
	free(al);
	changes_free(ch, n);
	json_decref(j);
}
