/* admin_keys.c — the admin API's client tokens (/teams/{id}/tokens) and
 * upstream keys (/keys): issued, revoked, created, changed, listed. Routed
 * by admin.c; rotation is rotation.c's. */
#include "admin.h"
#include "groq.h"

#include <stdlib.h>
#include <string.h>

#include "gotime.h"
#include "httpd.h"
#include "secret.h"
#include "util.h"

static int put_token(struct store *s, const void *o, char **cause)
{
	return store_put_token(s, o, cause);
}


/* ---- client tokens -------------------------------------------------- */

void tokens_list(struct actx *c, struct team *t)
{
	json_t *a = json_array();
	for (int i = 0; i < c->g->reg.ntokens; i++)
		if (strcmp(c->g->reg.tokens[i]->team, t->id) == 0)
			json_array_append_new(a, ctoken_json(c->g->reg.tokens[i]));
	httpd_send_json(c->req, 200, json_pack("{s:o}", "tokens", a));
}

void tokens_create(struct actx *c, struct team *t)
{
	json_t *j = admin_body(c);
	static const char *const f[] = { "label", "key", NULL };
	if (!j || admin_only_fields(c, j, f) < 0)
		goto out;
	const char *label = json_string_value(json_object_get(j, "label"));
	const char *key = json_string_value(json_object_get(j, "key"));
	if (json_object_get(j, "label") && (!label || strlen(label) > 200)) {
		admin_error(c->req, 400, "invalid_value", "'label' must be a string (200 chars at most).");
		goto out;
	}
	struct ukey *k = NULL;
	if (key) {
		k = registry_key(&c->g->reg, key);
		if (!k || strcmp(k->team, t->id) != 0) {
			admin_error(c->req, 422, "unknown_key", "Upstream key '%s' does not belong to team '%s'.", key, t->id);
			goto out;
		}
	} else {
		int n = 0;
		for (int i = 0; i < c->g->reg.nkeys; i++)
			if (strcmp(c->g->reg.keys[i]->team, t->id) == 0) {
				k = c->g->reg.keys[i];
				n++;
			}
		if (n != 1) {
			admin_error(c->req, 422, n ? "key_required" : "no_upstream_key",
				    n ? "Team '%s' has %d upstream keys: name one with \"key\"."
				      : "Team '%s' has no upstream key yet: add one with POST /admin/v1/keys first.",
				    t->id, n);
			goto out;
		}
	}
	struct ctoken *tok = xcalloc(1, sizeof *tok);
	char *rid = random_token("tok_", 12);
	tok->id = rid;
	tok->team = xstrdup(t->id);
	tok->key = xstrdup(k->name);
	tok->label = xstrdup(label ? label : "");
	tok->created_at = gw_now(c->g);
	tok->created_by = xstrdup(c->who->name);
	char *secret = random_token("ggt_", 40);
	sha256_hex(secret, strlen(secret), tok->hash);
	json_t *after = ctoken_json(tok);
	if (admin_commit(c, "token.create", tok->id, NULL, after, put_token, tok) != 0) {
		ctoken_free(tok);
	} else {
		registry_add_token(&c->g->reg, tok);
		json_t *r = ctoken_json(tok);
		json_object_set_new(r, "token", json_string(secret));
		json_object_set_new(r, "note", json_string("Shown once: the gateway keeps only its hash."));
		httpd_send_json(c->req, 201, r);
	}
	json_decref(after);
	secret_free(secret);
out:
	json_decref(j);
}

void token_revoke(struct actx *c, struct team *t, const char *tid)
{
	struct ctoken *tok = strmap_get(c->g->reg.token_by_id, tid);
	if (!tok || strcmp(tok->team, t->id) != 0) {
		admin_error(c->req, 404, "not_found", "Team '%s' has no client token '%s'.", t->id, tid);
		return;
	}
	if (tok->revoked_at) {
		httpd_send_json(c->req, 200, ctoken_json(tok));
		return;
	}
	json_t *before = ctoken_json(tok);
	tok->revoked_at = gw_now(c->g);
	json_t *after = ctoken_json(tok);
	if (admin_commit(c, "token.revoke", tok->id, before, after, put_token, tok) != 0) {
		tok->revoked_at = 0;
	} else {
		strmap_del(c->g->reg.token_by_hash, tok->hash);
		httpd_send_json(c->req, 200, ctoken_json(tok));
	}
	json_decref(before);
	json_decref(after);
}

/* ---- upstream keys ---------------------------------------------------- */

json_t *admin_key_out(struct actx *c, const struct ukey *k)
{
	return ukey_json(k, gw_now(c->g), c->g->cfg.drain_seconds * 1000);
}

/* "groq_project" of a key: Groq's project id (letters, digits, - _ .), or
 * null; 0 with *out (NULL for null), or -1 when answered (422) */
static int groq_project_field(struct actx *c, json_t *j, const char **out)
{
	json_t *v = json_object_get(j, "groq_project");
	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	const char *s = json_string_value(v);
	bool ok = s && *s && strlen(s) < 64;
	for (const char *p = s; ok && *p; p++)
		ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-' ||
		     *p == '_' || *p == '.';
	if (!ok) {
		admin_error(c->req, 422, "invalid_groq_project",
			    "'groq_project' must be Groq's project id (1-63 letters, digits, '-', '_' or '.'), or null.");
		return -1;
	}
	*out = s;
	return 0;
}

void keys_create(struct actx *c)
{
	json_t *j = admin_body(c);
	static const char *const f[] = { "name", "team", "secret", "groq_project", "monthly_budget_usd", "rpm_limit",
					 "tpm_limit", NULL };
	if (!j || admin_only_fields(c, j, f) < 0)
		goto out;
	const char *name = json_string_value(json_object_get(j, "name"));
	const char *team = json_string_value(json_object_get(j, "team"));
	const char *secret = json_string_value(json_object_get(j, "secret"));
	if (!name || !team || !secret) {
		admin_error(c->req, 400, "missing_field", "'name', 'team' and 'secret' are required.");
		goto out;
	}
	if (!registry_team(&c->g->reg, team)) {
		admin_error(c->req, 422, "unknown_team", "Team '%s' does not exist.", team);
		goto out;
	}
	char *why = NULL;
	if (!key_name_valid(name, team, &why)) {
		admin_error(c->req, 422, "invalid_key_name", "%s", why);
		free(why);
		goto out;
	}
	if (registry_key(&c->g->reg, name)) {
		admin_error(c->req, 409, "key_exists", "Upstream key '%s' already exists.", name);
		goto out;
	}
	if (!groq_key_valid(secret)) {
		admin_error(c->req, 422, "invalid_secret", "'secret' must be a Groq API key: 'gsk_' followed by letters and digits.");
		goto out;
	}
	const char *project;
	if (groq_project_field(c, j, &project) < 0)
		goto out;
	for (int i = 0; i < c->g->reg.nkeys; i++) {
		struct ukey *o = c->g->reg.keys[i];
		if (str_eq(o->secret, secret) || str_eq(o->new_secret, secret)) {
			admin_error(c->req, 409, "secret_in_use", "This Groq key is already held as '%s'.", o->name);
			goto out;
		}
	}
	struct ukey *k = xcalloc(1, sizeof *k);
	k->name = xstrdup(name);
	k->team = xstrdup(team);
	k->secret = xstrdup(secret);
	k->groq_project = project ? xstrdup(project) : NULL;
	secret_fingerprint(secret, k->fp, sizeof k->fp);
	k->created_at = gw_now(c->g);
	k->hour_base = k->created_at / 3600000;
	k->version = 1;
	k->month_start = month_start_ms(k->created_at);
	struct verdict e = { 0 };
	if (spec_key_fields(k, j, &e) != 0) {
		admin_error(c->req, e.status, e.code, "%s", e.message);
		verdict_clear(&e);
		ukey_free(k);
		goto out;
	}
	json_t *after = admin_key_out(c, k);
	if (admin_commit(c, "key.create", k->name, NULL, after, put_key, k) != 0) {
		ukey_free(k);
	} else {
		registry_add_key(&c->g->reg, k);
		httpd_send_json(c->req, 201, admin_key_out(c, k));
	}
	json_decref(after);
out:
	if (j) {
		json_t *s = json_object_get(j, "secret");
		if (json_is_string(s))
			secret_wipe((char *)json_string_value(s), json_string_length(s));
	}
	json_decref(j);
}

/* PATCH /keys/{name}: {"groq_project": ID|null}, what may change of a key
 * besides its secret (which changes by rotation only) */
void key_patch(struct actx *c)
{
	json_t *j = admin_body(c);
	static const char *const f[] = { "groq_project", "monthly_budget_usd", "rpm_limit", "tpm_limit", NULL };
	const char *project;
	if (!j || admin_only_fields(c, j, f) < 0 || groq_project_field(c, j, &project) < 0)
		goto out;
	if (!json_object_size(j)) {
		admin_error(c->req, 400, "missing_field",
			    "Nothing to change: send groq_project, monthly_budget_usd, rpm_limit or tpm_limit.");
		goto out;
	}
	struct ukey *k = c->k;
	if (admin_if_match(c, "key", k->name, k->version) != 0) /* (a lost update caught by name, as a team's) */
		goto out;
	json_t *before = admin_key_out(c, k);
	char *old = k->groq_project;
	int64_t ob = k->budget_nusd, orpm = k->rpm_limit, otpm = k->tpm_limit;
	struct verdict e = { 0 };
	if (spec_key_fields(k, j, &e) != 0) { /* (nothing of it kept) */
		k->budget_nusd = ob;
		k->rpm_limit = orpm;
		k->tpm_limit = otpm;
		admin_error(c->req, e.status, e.code, "%s", e.message);
		verdict_clear(&e);
		json_decref(before);
		goto out;
	}
	if (json_object_get(j, "groq_project"))
		k->groq_project = project ? xstrdup(project) : NULL;
	k->version++;
	json_t *after = admin_key_out(c, k);
	if (admin_commit(c, "key.update", k->name, before, after, put_key, k) != 0) {
		if (k->groq_project != old)
			free(k->groq_project);
		k->groq_project = old;
		k->budget_nusd = ob;
		k->rpm_limit = orpm;
		k->tpm_limit = otpm;
		k->version--;
	} else {
		if (k->groq_project == old)
			old = NULL; /* (unchanged: not freed) */
		free(old);
		httpd_send_json(c->req, 200, admin_key_out(c, k));
	}
	json_decref(before);
	json_decref(after);
out:
	json_decref(j);
}

void keys_list(struct actx *c)
{
	char *team = httpd_query(c->req, "team");
	json_t *a = json_array();
	for (int i = 0; i < c->g->reg.nkeys; i++)
		if (!team || strcmp(c->g->reg.keys[i]->team, team) == 0)
			json_array_append_new(a, admin_key_out(c, c->g->reg.keys[i]));
	free(team);
	httpd_send_json(c->req, 200, json_pack("{s:o}", "keys", a));
}

