/* admin.c — the admin API under /admin/v1 (docs/admin-api.md). JSON in
 * and out; errors {"error":{"code","message"}}. Every mutation validates
 * first, then writes the change and its audit record in one transaction,
 * and only then touches the in-memory registry: a failed write changes
 * nothing. No route ever returns a secret. */
#include "admin.h"
#include "groq.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gotime.h"
#include "httpd.h"
#include "secret.h"
#include "util.h"



/* ---- request helpers (and admin_common.c) -------------------------- */

/* Fills the settable fields of t from j (create or PATCH). On error
 * answers and returns -1; allocations in t are t's to free. */
static int team_fields(struct actx *c, json_t *j, struct team *t)
{
	struct verdict e = { 0 };
	if (spec_team_fields(t, j, admin_model_known, c->g, &e) == 0)
		return 0;
	admin_error(c->req, e.status, e.code, "%s", e.message ? e.message : "invalid input");
	verdict_clear(&e);
	return -1;
}




static void send_team(struct actx *c, int status, const struct team *t)
{
	char etag[32];
	snprintf(etag, sizeof etag, "\"%lld\"", (long long)t->version);
	httpd_set_header(c->req, "ETag", etag);
	httpd_send_json(c->req, status, admin_team_out(c, t));
}

static int check_if_match(struct actx *c, const struct team *t)
{
	return admin_if_match(c, "team", t->id, t->version);
}

/* ---- teams -------------------------------------------------------- */

static void teams_create(struct actx *c)
{
	json_t *j = admin_body(c);
	if (!j || admin_only_fields(c, j, spec_team_fields_all) < 0)
		goto out;
	const char *id = json_string_value(json_object_get(j, "id"));
	if (!slug_valid(id)) {
		admin_error(c->req, 400, "invalid_value",
			    "'id' is required: a slug of a-z, 0-9, '-' or '_' (63 chars at most), e.g. \"chatbot\".");
		goto out;
	}
	if (registry_team(&c->g->reg, id)) {
		admin_error(c->req, 409, "team_exists", "Team '%s' already exists.", id);
		goto out;
	}
	static const char *const required[] = { "allowed_models", "max_tokens_per_request", "rpm_limit",
						"monthly_budget_usd" };
	for (size_t i = 0; i < ARRAY_LEN(required); i++)
		if (!json_object_get(j, required[i])) {
			admin_error(c->req, 400, "missing_field", "'%s' is required to create a team.", required[i]);
			goto out;
		}
	struct team *t = team_new();
	t->id = xstrdup(id);
	t->name = xstrdup(id);
	t->queue_wait_ms = c->g->cfg.default_queue_wait_ms;
	t->created_at = gw_now(c->g);
	t->month_start = month_start_ms(t->created_at);
	if (team_fields(c, j, t) < 0) {
		team_free(t);
		goto out;
	}
	rl_resize(&t->rl, (int)t->rpm_limit);
	json_t *after = admin_team_out(c, t);
	if (admin_commit(c, "team.create", t->id, NULL, after, put_team, t) != 0) {
		json_decref(after);
		team_free(t);
		goto out;
	}
	json_decref(after);
	registry_add_team(&c->g->reg, t);
	send_team(c, 201, t);
out:
	json_decref(j);
}

static void team_update(struct actx *c, struct team *t, json_t *j, const char *action)
{
	struct team copy = admin_team_copy(t);
	if (team_fields(c, j, &copy) < 0) {
		admin_team_copy_free(&copy);
		return;
	}
	copy.version = t->version + 1;
	json_t *before = admin_team_out(c, t);
	/* the audit's "after" shows the new persistent fields */
	json_t *after = team_json(&copy, gw_now(c->g), admin_keys_of_team(c->g, t->id));
	if (admin_commit(c, action, t->id, before, after, put_team, &copy) != 0) {
		admin_team_copy_free(&copy);
	} else {
		team_adopt(t, &copy);
		/* a raised budget re-arms thresholds no longer crossed; a lowered
		 * one alerts (and may pause) at once */
		int crossed = money_crossed(t->thresholds, t->nthresholds, t->spend_nusd, t->budget_nusd);
		if (t->alerted > crossed)
			t->alerted = crossed;
		struct budget_env be = gw_budget(c->g);
		budget_check(&be, t);
		send_team(c, 200, t);
	}
	json_decref(before);
	json_decref(after);
}

static void team_patch(struct actx *c, struct team *t)
{
	json_t *j = admin_body(c);
	if (j && admin_only_fields(c, j, SPEC_TEAM_SETTABLE) == 0 && check_if_match(c, t) == 0)
		team_update(c, t, j, "team.update");
	json_decref(j);
}

static void team_models(struct actx *c, struct team *t)
{
	json_t *j = admin_body(c);
	static const char *const f[] = { "allowed_models", NULL };
	if (j && admin_only_fields(c, j, f) == 0 && check_if_match(c, t) == 0) {
		if (!json_object_get(j, "allowed_models"))
			admin_error(c->req, 400, "missing_field", "'allowed_models' is required.");
		else
			team_update(c, t, j, "team.models");
	}
	json_decref(j);
}

static void team_pause(struct actx *c, struct team *t, bool pause)
{
	json_t *j = admin_body(c);
	if (!j)
		return;
	static const char *const pf[] = { "reason", NULL }, *const rf[] = { "override", NULL };
	if (admin_only_fields(c, j, pause ? pf : rf) < 0)
		goto out;
	const char *reason = json_string_value(json_object_get(j, "reason"));
	if (pause) {
		if (!reason || strspn(reason, " \t\r\n") == strlen(reason)) {
			admin_error(c->req, 400, "reason_required", "Pausing needs a non-empty 'reason' (shown to the team's callers).");
			goto out;
		}
		if (strlen(reason) > 500) {
			admin_error(c->req, 400, "invalid_value", "'reason' is limited to 500 characters.");
			goto out;
		}
		if (t->state == TEAM_PAUSED) { /* idempotent: nothing changes */
			send_team(c, 200, t);
			goto out;
		}
	} else {
		if (t->state == TEAM_ACTIVE) {
			send_team(c, 200, t);
			goto out;
		}
		json_t *ov = json_object_get(j, "override");
		if (ov && !json_is_boolean(ov)) {
			admin_error(c->req, 400, "invalid_value", "'override' must be true or false.");
			goto out;
		}
		if (t->state == TEAM_BUDGET_PAUSED && t->spend_nusd >= t->budget_nusd && !json_is_true(ov)) {
			admin_error(c->req, 409, "budget_exhausted",
				    "Team '%s' is paused because it spent its monthly budget ($%.2f of $%.2f). Raise "
				    "monthly_budget_usd first, or resume with {\"override\": true}.",
				    t->id, (double)t->spend_nusd / NUSD_PER_USD, (double)t->budget_nusd / NUSD_PER_USD);
			goto out;
		}
	}
	struct team copy = admin_team_copy(t);
	free(copy.paused_by);
	free(copy.paused_reason);
	if (pause) {
		copy.state = TEAM_PAUSED;
		copy.paused_by = c->op[0] ? xasprintf("%s (%s)", c->who->name, c->op) : xstrdup(c->who->name);
		copy.paused_reason = xstrdup(reason);
		copy.paused_at = gw_now(c->g);
	} else {
		/* an override lets the team spend past its budget until the month ends */
		if (t->state == TEAM_BUDGET_PAUSED && t->spend_nusd >= t->budget_nusd)
			copy.override_until = month_next_ms(gw_now(c->g));
		copy.state = TEAM_ACTIVE;
		copy.paused_by = copy.paused_reason = NULL;
		copy.paused_at = 0;
	}
	copy.version = t->version + 1;
	json_t *before = admin_team_out(c, t);
	json_t *after = team_json(&copy, gw_now(c->g), admin_keys_of_team(c->g, t->id));
	if (admin_commit(c, pause ? "team.pause" : "team.resume", t->id, before, after, put_team, &copy) != 0) {
		admin_team_copy_free(&copy);
	} else {
		team_adopt(t, &copy);
		send_team(c, 200, t);
	}
	json_decref(before);
	json_decref(after);
out:
	json_decref(j);
}

/* ---- emergency stop: every team at once --------------------------------- */

#define STOP_PREFIX "EMERGENCY STOP: "

/* POST /emergency-stop {"reason"} pauses every active team, in one
 * transaction (all or none), each with the reason "EMERGENCY STOP: ...";
 * POST /emergency-stop/resume resumes exactly the teams still paused by a
 * stop, not those paused before it or for another reason since. */
static void emergency(struct actx *c, bool stop)
{
	struct gateway *g = c->g;
	json_t *j = admin_body(c);
	if (!j)
		return;
	static const char *const sf[] = { "reason", NULL }, *const rf[] = { NULL };
	const char *reason = json_string_value(json_object_get(j, "reason"));
	if (admin_only_fields(c, j, stop ? sf : rf) < 0)
		goto out;
	if (stop && (!reason || strspn(reason, " \t\r\n") == strlen(reason) || strlen(reason) > 400)) {
		admin_error(c->req, 400, "reason_required",
			    "An emergency stop needs a 'reason' (1-400 characters): every team's callers will see it.");
		goto out;
	}
	char *full = stop ? xconcat(STOP_PREFIX, reason, NULL) : NULL;
	char *by = c->op[0] ? xasprintf("%s (%s)", c->who->name, c->op) : xstrdup(c->who->name);
	struct team *copies = NULL, **orig = NULL;
	json_t *ids = NULL;
	char *cause = NULL;
	int n, rpm, rc, attempts = 0;
again: /* (a team changed by another replica meanwhile: read again, done again) */
	free(copies);
	free(orig);
	json_decref(ids);
	free(cause);
	cause = NULL;
	int64_t now = gw_now(g);
	copies = xcalloc((size_t)g->reg.nteams + 1, sizeof *copies);
	orig = xcalloc((size_t)g->reg.nteams + 1, sizeof *orig);
	n = rpm = 0;
	ids = json_array();
	rc = store_begin(g->store, &cause);
	for (int i = 0; rc == 0 && i < g->reg.nteams; i++) {
		struct team *t = g->reg.teams[i];
		bool take = stop ? t->state == TEAM_ACTIVE
				 : t->state == TEAM_PAUSED && t->paused_reason && str_starts(t->paused_reason, STOP_PREFIX);
		if (!take)
			continue;
		struct team cp = admin_team_copy(t);
		free(cp.paused_by);
		free(cp.paused_reason);
		cp.state = stop ? TEAM_PAUSED : TEAM_ACTIVE;
		cp.paused_by = stop ? xstrdup(by) : NULL;
		cp.paused_reason = stop ? xstrdup(full) : NULL;
		cp.paused_at = stop ? now : 0;
		cp.version = t->version + 1;
		json_t *before = admin_team_out(c, t), *after = team_json(&cp, now, admin_keys_of_team(g, t->id));
		rc = store_put_team(g->store, &cp, &cause);
		if (rc == 0)
			rc = audit(g, c->who->name, role_name(c->who->role), c->op, stop ? "team.pause" : "team.resume", t->id,
				   before, after, &cause);
		json_decref(before);
		json_decref(after);
		copies[n] = cp;
		orig[n++] = t;
		rpm += counters_count(t, now);
		json_array_append_new(ids, json_string(t->id));
	}
	if (rc == 0) {
		json_t *what = json_pack("{s:O,s:s?}", "teams", ids, "reason", reason);
		rc = audit(g, c->who->name, role_name(c->who->role), c->op,
			   stop ? "org.emergency_stop" : "org.emergency_resume", "org", NULL, what, &cause);
		json_decref(what);
	}
	if (rc == 0)
		rc = store_commit(g->store, &cause);
	if (rc != 0) {
		store_rollback(g->store);
		for (int i = 0; i < n; i++)
			admin_team_copy_free(&copies[i]);
		if (rc == STORE_CONFLICT && ++attempts < 5) { /* an edit on another replica: not an outage */
			cluster_sync(g);
			goto again;
		}
		if (rc == STORE_CONFLICT) {
			admin_error(c->req, 409, "conflict", "Nothing was changed: %s, again and again. Try again.",
				    cause ? cause : "teams changed meanwhile");
		} else {
			ledger_store_failed(g->ledger, cause);
			admin_error(c->req, 503, "store_unavailable", "Nothing was changed: %s", cause ? cause : "store error");
		}
	} else {
		for (int i = 0; i < n; i++)
			team_adopt(orig[i], &copies[i]);
		gw_log(g, json_pack("{s:s,s:s,s:s,s:O,s:i}", "level", "warn", "msg",
				    stop ? "emergency stop: every active team paused" : "emergency stop lifted",
				    "by", by, "teams", ids, "rpm", rpm));
		httpd_send_json(c->req, 200, json_pack(stop ? "{s:O,s:i,s:i}" : "{s:O,s:i}", stop ? "paused" : "resumed", ids,
						       "count", n, "rpm_stopped", rpm));
	}
	free(cause);
	free(full);
	free(by);
	free(copies);
	free(orig);
	json_decref(ids);
out:
	json_decref(j);
}

/* ---- routing ---------------------------------------------------------- */

/* Splits "/admin/v1/a/b/c" after the prefix into up to 5 segments. */
static int split(const char *path, char seg[][128], int max)
{
	int n = 0;
	const char *p = path;
	while (*p && n < max) {
		while (*p == '/')
			p++;
		if (!*p)
			break;
		const char *e = strchr(p, '/');
		size_t l = e ? (size_t)(e - p) : strlen(p);
		if (l >= 128)
			return -1;
		memcpy(seg[n], p, l);
		seg[n][l] = '\0';
		n++;
		p += l;
	}
	return *p && n == max ? -1 : n;
}

static void method_not_allowed(struct actx *c, const char *allowed)
{
	httpd_set_header(c->req, "Allow", allowed);
	admin_error(c->req, 405, "method_not_allowed", "Use %s on this route.", allowed);
}

/* ---- the route table ------------------------------------------------ */


static void alerts_route(struct actx *c)
{
	char *cause = NULL;
	json_t *a = store_alerts_list(c->g->store, 200, &cause);
	if (a)
		httpd_send_json(c->req, 200, json_pack("{s:o}", "alerts", a));
	else
		admin_error(c->req, 503, "store_unavailable", "%s", cause);
	free(cause);
}

struct ack {
	int64_t id, at;
	const char *by;
};

static int put_ack(struct store *s, const void *o, char **cause)
{
	const struct ack *a = o;
	return store_alert_ack(s, a->id, a->by, a->at, cause);
}

/* POST /alerts/{id}/ack: acknowledged by this operator, for everyone to
 * see (audited); a second ack keeps the first */
static void alert_ack(struct actx *c)
{
	int64_t id;
	char *cause = NULL;
	if (!parse_i64(c->param, &id) || id < 1) {
		admin_error(c->req, 404, "not_found", "Alert '%s' does not exist.", c->param);
		return;
	}
	json_t *before = store_alert_get(c->g->store, id, &cause);
	if (!before) {
		if (cause)
			admin_error(c->req, 503, "store_unavailable", "%s", cause);
		else
			admin_error(c->req, 404, "not_found", "Alert %lld does not exist.", (long long)id);
		free(cause);
		return;
	}
	if (json_is_null(json_object_get(before, "acked_by"))) {
		char *by = c->op[0] ? xasprintf("%s (%s)", c->who->name, c->op) : xstrdup(c->who->name);
		struct ack a = { id, gw_now(c->g), by };
		char target[32];
		snprintf(target, sizeof target, "alert/%lld", (long long)id);
		json_t *after = json_deep_copy(before);
		json_object_set_new(after, "acked_by", json_string(by));
		int rc = admin_commit(c, "alert.ack", target, before, after, put_ack, &a);
		json_decref(after);
		if (rc == 0)
			alert_acked(c->g, id, by, a.at);
		free(by);
		if (rc != 0) {
			json_decref(before);
			return;
		}
	}
	json_decref(before);
	json_t *now = store_alert_get(c->g->store, id, &cause);
	if (now)
		httpd_send_json(c->req, 200, now);
	else
		admin_error(c->req, 503, "store_unavailable", "%s", cause ? cause : "the alert went away");
	free(cause);
}

static void team_get(struct actx *c) { send_team(c, 200, c->t); }
static void team_patch_r(struct actx *c) { team_patch(c, c->t); }
static void team_models_r(struct actx *c) { team_models(c, c->t); }
static void team_pause_r(struct actx *c) { team_pause(c, c->t, true); }
static void team_resume_r(struct actx *c) { team_pause(c, c->t, false); }
static void tokens_list_r(struct actx *c) { tokens_list(c, c->t); }
static void tokens_create_r(struct actx *c) { tokens_create(c, c->t); }
static void token_revoke_r(struct actx *c) { token_revoke(c, c->t, c->param); }
static void emergency_stop_r(struct actx *c) { emergency(c, true); }
static void emergency_resume_r(struct actx *c) { emergency(c, false); }
/* GET /cluster: the fleet. One gateway on its SQLite store is a fleet of
 * one ("single"): it lists itself, as a replica of a cluster would. */
static void cluster_route(struct actx *c)
{
	struct gateway *g = c->g;
	if (g->cluster) {
		httpd_send_json(c->req, 200, cluster_json(g));
		return;
	}
	int64_t now = gw_now(g);
	char started[32], seen[32], host[128] = "groqgated";
	time_iso(g->started_ms, started, sizeof started);
	time_iso(now, seen, sizeof seen);
	gethostname(host, sizeof host - 1);
	struct ledger_state ls = ledger_state(g->ledger);
	const char *state = g->draining || ls.down ? "down" : "serving";
	json_t *r = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:b,s:i}", "id", host, "listen", g->addr, "version", GG_VERSION,
			      "started_at", started, "last_seen_at", seen, "state", state, "draining", g->draining,
			      "inflight", g->inflight);
	httpd_send_json(c->req, 200,
			json_pack("{s:s,s:[o],s:{s:s,s:b},s:{s:s,s:b}}", "mode", "single", "replicas", r, "store", "kind",
				  "sqlite", "up", !ls.down && !ls.lagging, "counters", "kind", "memory", "up", 1));
}

static void groq_route(struct actx *c) { httpd_send_json(c->req, 200, groqwatch_json(c->g)); }
static void spend_r(struct actx *c) { spend_route(c->g, c->req); }
static void capacity_route(struct actx *c)
{
	httpd_send_json(c->req, 200, capacity_json(c->g->capacity, &c->g->reg, gw_now(c->g)));
}
static void key_get(struct actx *c) { httpd_send_json(c->req, 200, admin_key_out(c, c->k)); }
static void rotation_r(struct actx *c) { rotation_route(c->g, c->req, c->k, c->param, c->who, c->op); }

/* Every admin route: methods, the path under /admin/v1 (":team" and
 * ":key" resolve to one, or 404; ":id" and ":step" are passed on), the
 * least role, the handler. The viewer rule, 405 with Allow, and the 404
 * all follow from the table (as tmux's cmd_table does for its commands). */
#define RO (HM_GET | HM_HEAD)
static const struct admin_route {
	int methods;
	const char *pattern;
	enum role role;
	void (*fn)(struct actx *c);
} admin_routes[] = {
	{ RO, "overview", ROLE_VIEWER, overview },
	{ RO, "teams", ROLE_VIEWER, teams_list },
	{ HM_POST, "teams", ROLE_OPERATOR, teams_create },
	{ RO, "teams/:team", ROLE_VIEWER, team_get },
	{ HM_PATCH, "teams/:team", ROLE_OPERATOR, team_patch_r },
	{ HM_PUT, "teams/:team/models", ROLE_OPERATOR, team_models_r },
	{ HM_POST, "teams/:team/pause", ROLE_OPERATOR, team_pause_r },
	{ HM_POST, "teams/:team/resume", ROLE_OPERATOR, team_resume_r },
	{ RO, "teams/:team/tokens", ROLE_VIEWER, tokens_list_r },
	{ HM_POST, "teams/:team/tokens", ROLE_OPERATOR, tokens_create_r },
	{ HM_DELETE, "teams/:team/tokens/:id", ROLE_OPERATOR, token_revoke_r },
	{ RO, "keys", ROLE_VIEWER, keys_list },
	{ HM_POST, "keys", ROLE_OPERATOR, keys_create },
	{ RO, "keys/:key", ROLE_VIEWER, key_get },
	{ HM_PATCH, "keys/:key", ROLE_OPERATOR, key_patch },
	{ RO, "keys/:key/rotation", ROLE_VIEWER, rotation_r },
	{ HM_POST, "keys/:key/rotation", ROLE_OPERATOR, rotation_r },
	{ HM_POST, "keys/:key/rotation/:step", ROLE_OPERATOR, rotation_r },
	{ RO, "usage", ROLE_VIEWER, usage_route },
	{ RO, "audit", ROLE_VIEWER, audit_route },
	{ RO, "models", ROLE_VIEWER, models_route },
	{ RO, "aliases", ROLE_VIEWER, aliases_route },
	{ HM_PUT | HM_DELETE, "aliases/:id", ROLE_OPERATOR, alias_change },
	{ RO, "alerts", ROLE_VIEWER, alerts_route },
	{ HM_POST, "alerts/:id/ack", ROLE_OPERATOR, alert_ack },
	{ HM_POST, "emergency-stop", ROLE_OPERATOR, emergency_stop_r },
	{ HM_POST, "emergency-stop/resume", ROLE_OPERATOR, emergency_resume_r },
	{ RO, "groq", ROLE_VIEWER, groq_route },
	{ RO, "capacity", ROLE_VIEWER, capacity_route },
	{ RO, "spend", ROLE_VIEWER, spend_r },
	{ HM_POST, "apply", ROLE_OPERATOR, apply_r },
	{ RO, "cluster", ROLE_VIEWER, cluster_route },
};
#undef RO

/* whether the pattern's segments match seg[0..n) (parameters match any) */
static bool route_matches(const char *pattern, char seg[][128], int n)
{
	int i = 0;
	for (const char *p = pattern; *p; i++) {
		size_t l = strcspn(p, "/");
		if (i >= n || (p[0] != ':' && (strlen(seg[i]) != l || strncmp(seg[i], p, l) != 0)))
			return false;
		p += l + (p[l] == '/');
	}
	return i == n;
}

/* the route's parameters resolved into c; 0, or -1 when answered (404) */
static int bind_params(struct actx *c, const char *pattern, char seg[][128])
{
	int i = 0;
	for (const char *p = pattern; *p; i++) {
		size_t l = strcspn(p, "/");
		if (strncmp(p, ":team", l) == 0 && l == 5) {
			if (!(c->t = registry_team(&c->g->reg, seg[i]))) {
				admin_error(c->req, 404, "not_found", "Team '%s' does not exist.", seg[i]);
				return -1;
			}
			struct budget_env be = gw_budget(c->g);
			budget_roll(&be, c->t);
		} else if (strncmp(p, ":key", l) == 0 && l == 4) {
			if (!(c->k = registry_key(&c->g->reg, seg[i]))) {
				admin_error(c->req, 404, "not_found", "Upstream key '%s' does not exist.", seg[i]);
				return -1;
			}
		} else if (p[0] == ':') {
			c->param = seg[i];
		}
		p += l + (p[l] == '/');
	}
	return 0;
}

static void method_names(buf *b, int methods)
{
	static const struct {
		int m;
		const char *name;
	} names[] = { { HM_GET, "GET" }, { HM_POST, "POST" }, { HM_PUT, "PUT" }, { HM_PATCH, "PATCH" }, { HM_DELETE, "DELETE" } };
	for (size_t i = 0; i < ARRAY_LEN(names); i++)
		if (methods & names[i].m)
			buf_addf(b, "%s%s", b->len ? ", " : "", names[i].name);
}

void admin_handle(struct gateway *g, struct hreq *req, const char *path)
{
	struct actx c = { .g = g, .req = req, .cmd = httpd_method(req) };
	c.who = admintok_find(g->admins, g->nadmins, httpd_bearer(req));
	gw_log(g, json_pack("{s:s,s:s,s:s,s:s,s:o}", "level", "info", "msg", "admin", "method", httpd_method_name(req),
			    "path", path, "actor", c.who ? json_string(c.who->name) : json_null()));
	if (!c.who) {
		httpd_set_header(req, "WWW-Authenticate", "Bearer realm=\"groqgate-admin\"");
		admin_error(req, 401, "unauthorized", "Send 'Authorization: Bearer <admin token>' with a token listed in the admin tokens file.");
		return;
	}
	const char *op = httpd_header(req, "X-Operator");
	if (op)
		spec_label(op, c.op, sizeof c.op);
	char seg[6][128];
	int n = split(path + strlen("/admin/v1"), seg, 6);
	const struct admin_route *hit = NULL;
	int allowed = 0;
	for (size_t i = 0; n > 0 && i < ARRAY_LEN(admin_routes); i++) {
		const struct admin_route *r = &admin_routes[i];
		if (!route_matches(r->pattern, seg, n))
			continue;
		allowed |= r->methods;
		if ((r->methods & c.cmd) && !hit)
			hit = r;
	}
	if (!hit && allowed) {
		buf b;
		buf_init(&b);
		method_names(&b, allowed);
		method_not_allowed(&c, b.data);
		buf_free(&b);
		return;
	}
	if (!hit) {
		admin_error(req, 404, "not_found", "No such route: %s (see docs/admin-api.md)", path);
		return;
	}
	if (hit->role == ROLE_OPERATOR && c.who->role != ROLE_OPERATOR) {
		admin_error(req, 403, "forbidden", "Token '%s' has the viewer role, which may only read. This needs an operator token.",
			    c.who->name);
		return;
	}
	/* a change made through another replica a moment ago is seen here:
	 * an operator (or a script) going through a load balancer reads its
	 * own writes, and a change is never made from an older copy */
	cluster_sync(g);
	if (bind_params(&c, hit->pattern, seg) != 0)
		return;
	hit->fn(&c);
}
