/* limits.c — a team's limits (budget, RPM, mode, queue wait, cap,
 * thresholds, auto-pause, priority, token and day limits) and a key's own
 * (l in the keys pane), each edited in a form, reviewed as a diff (with
 * what a lower limit does at once) and saved with the lost-update guard
 * (If-Match: a 412 says who changed it and offers the form again). The
 * action's team or key, version and spend are in a->dlg.act. */
#include "console.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static const char *jstr_or(json_t *v, const char *dflt)
{
	const char *s = json_string_value(v);
	return s ? s : dflt;
}

/* ---- a team's limits ---------------------------------------------------- */

enum { F_BUDGET, F_RPM, F_MODE, F_WAIT, F_CAP, F_THRESH, F_AUTOPAUSE, F_PRIO, F_TPM, F_TPD, F_RPD, F_DAY, F_WEEK,
       F_UDAY, F_URPM, F_N };
static const char *const f_labels[F_N] = { "Monthly budget (USD)", "RPM limit",	    "RPM mode",
					   "Queue wait (ms)",	   "Max tokens/request", "Alert thresholds (%)",
					   "Auto-pause at budget", "Priority",		    "TPM limit",
					   "TPD limit",		   "RPD limit",		    "Daily budget (USD)",
					   "Weekly budget (USD)",  "End user daily (USD)", "End user RPM" };
static const char *const f_help[F_N] = { "e.g. 250 or 12.5",	      "requests per 60 s",
					 "reject or queue",	      "queue mode: longest wait",
					 "the output cap",	      "e.g. 50,80,95",
					 "yes or no",		      "critical, standard or batch",
					 "tokens per 60 s (0: none)", "tokens per day (0: none)",
					 "requests per day (0: none)", "UTC day (0: none)",
					 "from Monday (0: none)",      "each end user's day (0: none)",
					 "each end user, per 60 s (0: none)" };
static const char *const f_keys[F_N] = { "monthly_budget_usd",	   "rpm_limit", "rpm_mode",  "queue_max_wait_ms",
					 "max_tokens_per_request", "alert_thresholds", "auto_pause", "priority",
					 "tpm_limit",		   "tpd_limit",	 "rpd_limit", "daily_budget_usd",
					 "weekly_budget_usd",	   "user_daily_budget_usd", "user_rpm_limit" };

static void fmt_usd(char *out, size_t n, double v)
{
	snprintf(out, n, "%.6f", v);
	char *e = out + strlen(out) - 1; /* 12.500000 -> 12.5, 250.000000 -> 250 */
	while (e > out && *e == '0')
		*e-- = '\0';
	if (*e == '.')
		*e = '\0';
}

static void team_values(json_t *t, char (*v)[64])
{
	fmt_usd(v[F_BUDGET], 64, json_number_value(json_object_get(t, "monthly_budget_usd")));
	snprintf(v[F_RPM], 64, "%lld", (long long)json_integer_value(json_object_get(t, "rpm_limit")));
	snprintf(v[F_MODE], 64, "%s", jstr_or(json_object_get(t, "rpm_mode"), "reject"));
	snprintf(v[F_WAIT], 64, "%lld", (long long)json_integer_value(json_object_get(t, "queue_max_wait_ms")));
	snprintf(v[F_CAP], 64, "%lld", (long long)json_integer_value(json_object_get(t, "max_tokens_per_request")));
	v[F_THRESH][0] = '\0';
	size_t i;
	json_t *x;
	json_array_foreach(json_object_get(t, "alert_thresholds"), i, x) {
		size_t l = strlen(v[F_THRESH]);
		snprintf(v[F_THRESH] + l, 64 - l, "%s%lld", i ? "," : "", (long long)json_number_value(x));
	}
	snprintf(v[F_AUTOPAUSE], 64, "%s", json_is_true(json_object_get(t, "auto_pause")) ? "yes" : "no");
	snprintf(v[F_PRIO], 64, "%s", jstr_or(json_object_get(t, "priority"), "standard"));
	snprintf(v[F_TPM], 64, "%lld", (long long)json_integer_value(json_object_get(t, "tpm_limit")));
	snprintf(v[F_TPD], 64, "%lld", (long long)json_integer_value(json_object_get(t, "tpd_limit")));
	snprintf(v[F_RPD], 64, "%lld", (long long)json_integer_value(json_object_get(t, "rpd_limit")));
	fmt_usd(v[F_DAY], 64, json_number_value(json_object_get(t, "daily_budget_usd")));
	fmt_usd(v[F_WEEK], 64, json_number_value(json_object_get(t, "weekly_budget_usd")));
	fmt_usd(v[F_UDAY], 64, json_number_value(json_object_get(t, "user_daily_budget_usd")));
	snprintf(v[F_URPM], 64, "%lld", (long long)json_integer_value(json_object_get(t, "user_rpm_limit")));
}

/* The form's changes as a PATCH body; NULL with why when a value is not
 * one. *diff gets the lines "field: old -> new". */
static json_t *limits_patch(const struct dialog *d, buf *diff, char *why, size_t n)
{
	json_t *p = json_object();
	for (int i = 0; i < F_N; i++) {
		const char *v = d->fval[i];
		if (strcmp(v, d->forig[i]) == 0)
			continue;
		json_t *val = NULL;
		int64_t iv;
		char *end;
		switch (i) {
		case F_DAY:
		case F_WEEK:
		case F_UDAY:
		case F_BUDGET: {
			double b = strtod(v, &end);
			if (end != v && !*end && isfinite(b) && b >= 0 && b <= 1e9)
				val = json_real(b);
			break;
		}
		case F_RPM:
		case F_WAIT:
		case F_CAP:
		case F_TPM:
		case F_TPD:
		case F_RPD:
		case F_URPM:
			if (parse_i64(v, &iv) && iv >= (i == F_RPM || i == F_CAP ? 1 : 0))
				val = json_integer(iv);
			break;
		case F_PRIO:
			if (strcmp(v, "critical") == 0 || strcmp(v, "standard") == 0 || strcmp(v, "batch") == 0)
				val = json_string(v);
			break;
		case F_MODE:
			if (strcmp(v, "reject") == 0 || strcmp(v, "queue") == 0)
				val = json_string(v);
			break;
		case F_AUTOPAUSE:
			if (strcmp(v, "yes") == 0 || strcmp(v, "no") == 0)
				val = json_boolean(strcmp(v, "yes") == 0);
			break;
		case F_THRESH: {
			val = json_array();
			char tmp[64];
			snprintf(tmp, sizeof tmp, "%s", v);
			for (char *s = strtok(tmp, ", "); s; s = strtok(NULL, ", ")) {
				if (!parse_i64(s, &iv) || iv < 1 || iv > 100) {
					json_decref(val);
					val = NULL;
					break;
				}
				json_array_append_new(val, json_integer(iv));
			}
			break;
		}
		}
		if (!val) {
			snprintf(why, n, "%s: '%s' is not a valid value (%s).", f_labels[i], v, f_help[i]);
			json_decref(p);
			return NULL;
		}
		json_object_set_new(p, f_keys[i], val);
		buf_addf(diff, "  %-22s %s  ->  %s\n", f_labels[i], d->forig[i], v);
	}
	return p;
}

static void on_edit_team(void *arg, long status, const char *body, size_t len, const char *err);

static void reload_edit(struct app *a)
{
	char *path = xasprintf("/admin/v1/teams/%s", a->dlg.act.team);
	client_request(a->cl, "GET", path, NULL, NULL, 5000, on_edit_team, a);
	free(path);
}

static void on_resumed(void *arg, long status, const char *body, size_t len, const char *err)
{
	struct app *a = arg;
	if (status == 200)
		app_set_status(a, R_OK, "team %s resumed", a->dlg.act.team);
	else
		act_refused(a, status, body, len, err);
	a->next_poll_ms = 0;
}

static void do_resume_after_raise(struct app *a)
{
	char *path = xasprintf("/admin/v1/teams/%s/resume", a->dlg.act.team);
	act_send(a, "POST", path, "{}", NULL, on_resumed);
	free(path);
}

/* a 412: who changed the team meanwhile (the audit's latest entry on it) */
static void on_who_changed(void *arg, long status, const char *body, size_t len, const char *err)
{
	struct app *a = arg;
	(void)err;
	json_t *j = status == 200 ? json_loadb(body, len, 0, NULL) : NULL;
	json_t *e = json_array_get(json_object_get(j, "entries"), 0);
	const char *who = json_string_value(json_object_get(e, "actor"));
	const char *op = json_string_value(json_object_get(e, "operator"));
	const char *when = json_string_value(json_object_get(e, "time"));
	const char *what = json_string_value(json_object_get(e, "action"));
	char text[700];
	snprintf(text, sizeof text,
		 "Team '%s' was changed by %s%s%s%s (%s at %s) while you were editing, so nothing was saved.\n\n"
		 "Reload? Your form opens again on the new values; make your edit once more.",
		 a->dlg.act.team, who ? who : "someone", op ? " (" : "", op ? op : "", op ? ")" : "", what ? what : "a change",
		 when ? when : "?");
	json_decref(j);
	dlg_confirm(a, "Changed meanwhile", text, reload_edit);
	a->dlg.yes = true; /* reloading changes nothing: Enter does it */
	a->next_poll_ms = 0;
}

static void on_limits_saved(void *arg, long status, const char *body, size_t len, const char *err)
{
	struct app *a = arg;
	if (status == 412) {
		char *path = xasprintf("/admin/v1/audit?team=%s&limit=1", a->dlg.act.team);
		client_request(a->cl, "GET", path, NULL, NULL, 5000, on_who_changed, a);
		free(path);
		return;
	}
	if (status != 200) {
		act_refused(a, status, body, len, err);
		return;
	}
	json_t *t = json_loadb(body, len, 0, NULL);
	const char *state = json_string_value(json_object_get(t, "state"));
	double spend = json_number_value(json_object_get(t, "spend_mtd_usd"));
	double budget = json_number_value(json_object_get(t, "monthly_budget_usd"));
	app_set_status(a, R_OK, "saved: team %s (version %lld)", a->dlg.act.team,
		       (long long)json_integer_value(json_object_get(t, "version")));
	if (state && strcmp(state, "budget_paused") == 0 && budget > spend) {
		char text[600];
		snprintf(text, sizeof text,
			 "Team '%s' was paused at its budget. Its new budget ($%.2f) is above its spend this month "
			 "($%.2f).\n\nResume it now? Its callers are served again from their next request.",
			 a->dlg.act.team, budget, spend);
		dlg_confirm(a, "Resume the team?", text, do_resume_after_raise);
	}
	json_decref(t);
	a->next_poll_ms = 0;
}

static void do_save_limits(struct app *a)
{
	char why[200];
	buf diff;
	buf_init(&diff);
	json_t *p = limits_patch(&a->dlg, &diff, why, sizeof why);
	buf_free(&diff);
	if (!p)
		return;
	char *s = json_dumps(p, JSON_COMPACT);
	json_decref(p);
	char *path = xasprintf("/admin/v1/teams/%s", a->dlg.act.team);
	char ver[32];
	snprintf(ver, sizeof ver, "%lld", (long long)a->dlg.act.version);
	if (act_send(a, "PATCH", path, s, ver, on_limits_saved))
		app_set_status(a, R_DIM, "saving %s…", a->dlg.act.team);
	free(path);
	free(s);
}

/* the review of a form's changes: a confirmation that keeps the form's
 * values (its Yes saves them; No goes back to the form) */
static void review(struct app *a, const char *title, const char *text, void (*save)(struct app *))
{
	struct dialog keep = a->dlg;
	dlg_confirm(a, title, text, save);
	memcpy(a->dlg.fval, keep.fval, sizeof keep.fval);
	memcpy(a->dlg.forig, keep.forig, sizeof keep.forig);
	a->dlg.nf = keep.nf;
}

/* the team or key a form opens on, as the gateway answered it (the
 * caller's; its version and spend noted for the save and its warnings), or
 * NULL when it was refused or unreadable (said so) */
static json_t *form_answer(struct app *a, long status, const char *body, size_t len, const char *err, const char *what)
{
	if (status != 200) {
		act_refused(a, status, body, len, err);
		return NULL;
	}
	json_t *j = json_loadb(body, len, 0, NULL);
	if (!json_is_object(j)) {
		json_decref(j);
		char m[80];
		snprintf(m, sizeof m, "The gateway's %s is not the expected JSON.", what);
		dlg_message(a, R_ERROR, "Unexpected answer", m);
		return NULL;
	}
	a->dlg.act.version = json_integer_value(json_object_get(j, "version"));
	a->dlg.act.spend = json_number_value(json_object_get(j, "spend_mtd_usd"));
	return j;
}

static void limits_entered(struct app *a)
{
	struct dialog *d = &a->dlg;
	char why[200];
	buf diff;
	buf_init(&diff);
	json_t *p = limits_patch(d, &diff, why, sizeof why);
	if (!p) {
		snprintf(d->text, sizeof d->text, "%s", why);
		buf_free(&diff);
		return;
	}
	if (json_object_size(p) == 0) {
		json_decref(p);
		buf_free(&diff);
		dlg_close(a);
		app_set_status(a, R_DIM, "nothing changed");
		return;
	}
	json_decref(p);
	/* the form's values go with the confirmation (its on_ok reads them) */
	/* a budget at or below what the team spent pauses it at once, a rate
	 * limit below what it uses now refuses its callers at once: said so */
	char warn[600] = "";
	size_t wl = 0;
	double nb = strtod(d->fval[F_BUDGET], NULL);
	if (strcmp(d->fval[F_BUDGET], d->forig[F_BUDGET]) != 0 && nb > 0 && a->dlg.act.spend >= nb)
		wl += (size_t)snprintf(warn + wl, sizeof warn - wl, "\nWARNING: the team has spent $%.2f this month: at $%s it is at %.0f %% and "
				       "%s at once.\n", a->dlg.act.spend, d->fval[F_BUDGET], a->dlg.act.spend / nb * 100,
				       strcmp(d->fval[F_AUTOPAUSE], "yes") == 0 ? "is PAUSED" : "is refused");
	const struct m_team *now = NULL;
	for (int i = 0; i < a->ov.nteams; i++)
		if (strcmp(a->ov.teams[i].id, a->dlg.act.team) == 0)
			now = &a->ov.teams[i];
	long long nr = strtoll(d->fval[F_RPM], NULL, 10), nt = strtoll(d->fval[F_TPM], NULL, 10);
	if (now && strcmp(d->fval[F_RPM], d->forig[F_RPM]) != 0 && nr > 0 && now->rpm > nr && wl < sizeof warn)
		wl += (size_t)snprintf(warn + wl, sizeof warn - wl, "\nWARNING: the team sent %d requests in the last minute: "
				       "at %lld a minute some of its callers get 429 at once.\n", now->rpm, nr);
	if (now && strcmp(d->fval[F_TPM], d->forig[F_TPM]) != 0 && nt > 0 && now->tpm > nt && wl < sizeof warn)
		snprintf(warn + wl, sizeof warn - wl, "\nWARNING: the team used %lld tokens in the last minute: at %lld a minute "
			 "some of its callers get 429 at once.\n", (long long)now->tpm, nt);
	char text[1400];
	snprintf(text, sizeof text, "Save these changes to team '%s' (version %lld)?\n\n%s%s\nThey apply from the team's next request.",
		 a->dlg.act.team, (long long)a->dlg.act.version, diff.data, warn);
	buf_free(&diff);
	review(a, "Review: team limits", text, do_save_limits);
}

static void on_edit_team(void *arg, long status, const char *body, size_t len, const char *err)
{
	struct app *a = arg;
	json_t *t = form_answer(a, status, body, len, err, "team");
	if (!t)
		return;
	char vals[F_N][64];
	team_values(t, vals);
	char text[300];
	snprintf(text, sizeof text, "Team '%s' (%s, version %lld): spent $%.2f this month.", a->dlg.act.team,
		 jstr_or(json_object_get(t, "state"), "?"), (long long)a->dlg.act.version,
		 json_number_value(json_object_get(t, "spend_mtd_usd")));
	json_decref(t);
	dlg_form(a, "Edit limits", text, F_N, f_labels, f_help, vals, limits_entered);
}

/* ---- a key's own limits, inside its team's (l in the keys pane) -------- */

enum { KF_BUDGET, KF_RPM, KF_TPM, KF_N };
static const char *const kf_labels[KF_N] = { "Monthly budget (USD)", "RPM limit", "TPM limit" };
static const char *const kf_help[KF_N] = { "this key's own, inside its team's (0: none)", "requests per 60 s (0: none)",
					   "tokens per 60 s (0: none)" };
static const char *const kf_keys[KF_N] = { "monthly_budget_usd", "rpm_limit", "tpm_limit" };

static void on_key_saved(void *arg, long status, const char *body, size_t len, const char *err)
{
	struct app *a = arg;
	if (status == 412) {
		char text[400];
		snprintf(text, sizeof text,
			 "Key '%s' was changed by someone else while you were editing, so nothing was saved.\n\nPress l "
			 "on it again to edit its new values (the audit log, L, says who).",
			 a->dlg.act.key);
		dlg_message(a, R_ERROR, "Changed meanwhile", text);
	} else if (status != 200) {
		act_refused(a, status, body, len, err);
	} else {
		json_t *k = json_loadb(body, len, 0, NULL);
		app_set_status(a, R_OK, "saved: key %s (version %lld)", a->dlg.act.key,
			       (long long)json_integer_value(json_object_get(k, "version")));
		json_decref(k);
	}
	a->next_poll_ms = 0;
}

/* the form's changes as a PATCH body (NULL with why when a value is not
 * one); *diff gets the lines */
static json_t *key_patch(const struct dialog *d, buf *diff, char *why, size_t n)
{
	json_t *p = json_object();
	for (int i = 0; i < KF_N; i++) {
		const char *v = d->fval[i];
		if (strcmp(v, d->forig[i]) == 0)
			continue;
		json_t *val = NULL;
		int64_t iv;
		char *end;
		if (i == KF_BUDGET) {
			double b = strtod(v, &end);
			if (end != v && !*end && isfinite(b) && b >= 0 && b <= 1e9)
				val = json_real(b);
		} else if (parse_i64(v, &iv) && iv >= 0) {
			val = json_integer(iv);
		}
		if (!val) {
			snprintf(why, n, "%s: '%s' is not a valid value (%s).", kf_labels[i], v, kf_help[i]);
			json_decref(p);
			return NULL;
		}
		json_object_set_new(p, kf_keys[i], val);
		buf_addf(diff, "  %-22s %s  ->  %s\n", kf_labels[i], d->forig[i], v);
	}
	return p;
}

static void do_save_key(struct app *a)
{
	char why[200];
	buf diff;
	buf_init(&diff);
	json_t *p = key_patch(&a->dlg, &diff, why, sizeof why);
	buf_free(&diff);
	dlg_close(a); /* the key and its version (a->dlg.act) stay, for the request and its answer */
	if (!p)
		return;
	char *s = json_dumps(p, JSON_COMPACT);
	json_decref(p);
	char *path = xasprintf("/admin/v1/keys/%s", a->dlg.act.key);
	char ver[32];
	snprintf(ver, sizeof ver, "%lld", (long long)a->dlg.act.version);
	if (act_send(a, "PATCH", path, s, ver, on_key_saved))
		app_set_status(a, R_DIM, "saving %s…", a->dlg.act.key);
	free(path);
	free(s);
}

static void key_entered(struct app *a)
{
	struct dialog *d = &a->dlg;
	char why[200];
	buf diff;
	buf_init(&diff);
	json_t *p = key_patch(d, &diff, why, sizeof why);
	if (!p) {
		snprintf(d->text, sizeof d->text, "%s", why);
		buf_free(&diff);
		return;
	}
	bool none = json_object_size(p) == 0;
	json_decref(p);
	if (none) {
		buf_free(&diff);
		dlg_close(a);
		app_set_status(a, R_DIM, "nothing changed");
		return;
	}
	char warn[200] = "";
	double nb = strtod(d->fval[KF_BUDGET], NULL);
	if (strcmp(d->fval[KF_BUDGET], d->forig[KF_BUDGET]) != 0 && nb > 0 && a->dlg.act.spend >= nb)
		snprintf(warn, sizeof warn, "\nWARNING: the key has spent $%.2f this month: at $%s its callers get 402 at once.\n",
			 a->dlg.act.spend, d->fval[KF_BUDGET]);
	char text[900];
	snprintf(text, sizeof text, "Save these changes to key '%s' (version %lld)?\n\n%s%s\nThey apply from its next request.",
		 a->dlg.act.key, (long long)a->dlg.act.version, diff.data, warn);
	buf_free(&diff);
	review(a, "Review: key limits", text, do_save_key);
}

static void on_edit_key(void *arg, long status, const char *body, size_t len, const char *err)
{
	struct app *a = arg;
	json_t *k = form_answer(a, status, body, len, err, "key");
	if (!k)
		return;
	char vals[KF_N][64];
	fmt_usd(vals[KF_BUDGET], 64, json_number_value(json_object_get(k, "monthly_budget_usd")));
	snprintf(vals[KF_RPM], 64, "%lld", (long long)json_integer_value(json_object_get(k, "rpm_limit")));
	snprintf(vals[KF_TPM], 64, "%lld", (long long)json_integer_value(json_object_get(k, "tpm_limit")));
	char text[300];
	snprintf(text, sizeof text, "Key '%s' of team '%s' (version %lld): spent $%.2f this month.", a->dlg.act.key,
		 jstr_or(json_object_get(k, "team"), "?"), (long long)a->dlg.act.version, a->dlg.act.spend);
	json_decref(k);
	dlg_form(a, "Edit key limits", text, KF_N, kf_labels, kf_help, vals, key_entered);
}

void act_edit_limits(struct app *a)
{
	if (a->view->id == V_MAIN && a->pane == PANE_KEYS) { /* the selected key's own */
		struct m_key *k = app_key_sel(a);
		if (!k)
			return;
		snprintf(a->dlg.act.key, sizeof a->dlg.act.key, "%s", k->name);
		char *path = xasprintf("/admin/v1/keys/%s", k->name);
		client_request(a->cl, "GET", path, NULL, NULL, 5000, on_edit_key, a);
		free(path);
		return;
	}
	struct m_team *t = app_team(a);
	if (!t)
		return;
	snprintf(a->dlg.act.team, sizeof a->dlg.act.team, "%s", t->id);
	reload_edit(a);
}
