/* oncall.c — what on-call is paged for: a team's client tokens revoked or
 * issued (the new one shown once, then wiped); the organisation's emergency
 * stop and its exact resume; alerts acknowledged; aliases set and removed
 * (a team's and a key's limits are in limits.c). Each asks first and
 * defaults to No; every request is refused by the client itself in
 * --readonly and --wallboard. */
#include "console.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "secret.h"
#include "util.h"

static const char *jstr_or(json_t *v, const char *dflt)
{
	const char *s = json_string_value(v);
	return s ? s : dflt;
}

void act_refused(struct app *a, long status, const char *body, size_t len, const char *err)
{
	char msg[512];
	dlg_message(a, R_ERROR, status ? "The gateway refused" : "The gateway cannot be reached",
		    status ? api_message(body, len, msg, sizeof msg) : err ? err : "no answer");
	a->next_poll_ms = 0;
}

bool act_send(struct app *a, const char *method, const char *path, const char *body, const char *if_match,
	      client_cb cb)
{
	if (client_request(a->cl, method, path, body, if_match, 5000, cb, a) != 0) {
		app_set_status(a, R_ERROR, "read-only: nothing is sent (groqtop runs with --readonly or --wallboard)");
		return false;
	}
	return true;
}

/* ---- client tokens ---------------------------------------------------- */


static void on_token_new(void *arg, long status, const char *body, size_t len, const char *err)
{
	struct app *a = arg;
	if (status != 201) {
		act_refused(a, status, body, len, err);
		return;
	}
	json_t *j = json_loadb(body, len, 0, NULL);
	json_t *tok = json_object_get(j, "token");
	char text[600];
	snprintf(text, sizeof text,
		 "New client token for team '%s' (%s):\n\n  %s\n\nCopy it now: it is shown this once and never "
		 "again (the gateway keeps only its hash). It is erased from this console's memory when this "
		 "dialog closes.",
		 a->view_team, jstr_or(json_object_get(j, "id"), "?"), jstr_or(tok, "?"));
	if (json_is_string(tok)) /* the answer's copy, wiped before it is freed */
		secret_wipe((char *)json_string_value(tok), json_string_length(tok));
	json_decref(j);
	dlg_message(a, R_OK, "Token issued: shown once", text);
	secret_wipe(text, sizeof text);
	tokens_fetch(a);
}

static void do_token_new(struct app *a)
{
	json_t *b = json_pack("{s:s,s:s}", "label", a->dlg.act.label, "key", a->dlg.act.key);
	char *s = json_dumps(b, JSON_COMPACT);
	json_decref(b);
	char *path = xasprintf("/admin/v1/teams/%s/tokens", a->view_team);
	act_send(a, "POST", path, s, NULL, on_token_new);
	free(path);
	free(s);
}

/* the team's upstream keys as "a, b, c" (n: how many; first: the first) */
static int team_keys(struct app *a, char *out, size_t len, const char **first)
{
	int n = 0;
	size_t at = 0;
	out[0] = '\0';
	*first = NULL;
	for (int i = 0; i < a->ov.nkeys; i++) {
		if (strcmp(a->ov.keys[i].team, a->view_team) != 0)
			continue;
		if (!*first)
			*first = a->ov.keys[i].name;
		int w = snprintf(out + at, at < len ? len - at : 0, "%s%s", n ? ", " : "", a->ov.keys[i].name);
		if (w > 0)
			at += (size_t)w;
		n++;
	}
	return n;
}

static void confirm_token(struct app *a)
{
	char text[500];
	snprintf(text, sizeof text,
		 "Issue a new client token '%s' for team '%s', calling Groq with upstream key '%s'?\n\nIt is shown "
		 "once, in the next dialog.",
		 a->dlg.act.label, a->view_team, a->dlg.act.key);
	dlg_confirm(a, "Issue token", text, do_token_new);
}

static void token_key_entered(struct app *a)
{
	char *name = str_trim(a->dlg.input.data ? a->dlg.input.data : (char[1]){ 0 });
	char keys[400];
	const char *first;
	team_keys(a, keys, sizeof keys, &first);
	bool found = false;
	for (int i = 0; i < a->ov.nkeys && !found; i++)
		found = strcmp(a->ov.keys[i].team, a->view_team) == 0 && strcmp(a->ov.keys[i].name, name) == 0;
	if (!*name && first) {
		name = (char *)first;
		found = true;
	}
	if (!found) {
		snprintf(a->dlg.text, sizeof a->dlg.text, "'%.60s' is not one of team '%s''s keys: %s.", name, a->view_team,
			 keys);
		return;
	}
	snprintf(a->dlg.act.key, sizeof a->dlg.act.key, "%s", name);
	confirm_token(a);
}

static void token_label_entered(struct app *a)
{
	char *label = str_trim(a->dlg.input.data ? a->dlg.input.data : (char[1]){ 0 });
	if (!*label) {
		snprintf(a->dlg.text, sizeof a->dlg.text, "A label is required (who uses the token: a service, a person).");
		return;
	}
	snprintf(a->dlg.act.label, sizeof a->dlg.act.label, "%s", label);
	char keys[400];
	const char *first;
	int n = team_keys(a, keys, sizeof keys, &first);
	if (n == 0) {
		dlg_message(a, R_ERROR, "No upstream key", "This team has no upstream key yet: add one (POST /admin/v1/keys) "
							  "before issuing a client token.");
		return;
	}
	if (n == 1) { /* its only key: nothing to ask */
		snprintf(a->dlg.act.key, sizeof a->dlg.act.key, "%s", first);
		confirm_token(a);
		return;
	}
	/* several (prod and staging): which one the token's calls use */
	char text[600];
	snprintf(text, sizeof text, "Team '%s' has %d upstream keys: %s.\n\nWhich one do the token's calls use? Type its "
				    "name (Enter: %s).",
		 a->view_team, n, keys, first);
	dlg_input(a, "New client token: its upstream key", text, false, token_key_entered);
}

void act_token_new(struct app *a)
{
	char text[200];
	snprintf(text, sizeof text, "Label of the new token for team '%s' (who will use it):", a->view_team);
	dlg_input(a, "New client token", text, false, token_label_entered);
}

static void on_token_revoked(void *arg, long status, const char *body, size_t len, const char *err)
{
	struct app *a = arg;
	if (status == 200)
		app_set_status(a, R_OK, "token %s revoked: its next request gets 401", a->dlg.act.key);
	else
		act_refused(a, status, body, len, err);
	tokens_fetch(a);
}

static void do_token_revoke(struct app *a)
{
	char *path = xasprintf("/admin/v1/teams/%s/tokens/%s", a->view_team, a->dlg.act.key);
	act_send(a, "DELETE", path, NULL, NULL, on_token_revoked);
	free(path);
}

void act_token_revoke(struct app *a)
{
	json_t *t = tokens_selected(a);
	if (!t)
		return;
	if (!json_is_null(json_object_get(t, "revoked_at"))) {
		app_set_status(a, R_DIM, "that token is already revoked");
		return;
	}
	snprintf(a->dlg.act.key, sizeof a->dlg.act.key, "%s", jstr_or(json_object_get(t, "id"), ""));
	const char *used = json_string_value(json_object_get(t, "last_used_at"));
	char text[600];
	snprintf(text, sizeof text,
		 "Revoke token '%s' (%s) of team '%s'?\n\nLast used: %s. Its very next request gets 401; whoever "
		 "uses it needs a new token.",
		 jstr_or(json_object_get(t, "label"), "?"), a->dlg.act.key, a->view_team, used ? used : "never");
	dlg_confirm(a, "Revoke token", text, do_token_revoke);
}

/* ---- the emergency stop --------------------------------------------------- */

static void on_stop(void *arg, long status, const char *body, size_t len, const char *err)
{
	struct app *a = arg;
	if (status != 200) {
		act_refused(a, status, body, len, err);
		return;
	}
	json_t *j = json_loadb(body, len, 0, NULL);
	bool stop = json_object_get(j, "paused") != NULL;
	app_set_status(a, stop ? R_ERROR : R_OK, stop ? "EMERGENCY STOP: %lld teams paused (U resumes exactly them)"
						      : "emergency stop lifted: %lld teams resumed",
		       (long long)json_integer_value(json_object_get(j, "count")));
	json_decref(j);
	a->next_poll_ms = 0;
}

static void do_stop(struct app *a)
{
	json_t *b = json_pack("{s:s}", "reason", a->dlg.act.key);
	char *s = json_dumps(b, JSON_COMPACT);
	json_decref(b);
	act_send(a, "POST", "/admin/v1/emergency-stop", s, NULL, on_stop);
	free(s);
}

/* the teams a stop would pause, and their requests per minute */
static void stop_reach(struct app *a, int *teams, int *rpm)
{
	*teams = *rpm = 0;
	for (int i = 0; i < a->ov.nteams; i++)
		if (strcmp(a->ov.teams[i].state, "active") == 0) {
			(*teams)++;
			*rpm += a->ov.teams[i].rpm;
		}
}

/* the second check is typed, not a key: a double tap of y cannot stop
 * the organisation */
static void stop_typed(struct app *a)
{
	char *w = str_trim(a->dlg.input.data ? a->dlg.input.data : (char[1]){ 0 });
	if (strcmp(w, "STOP") != 0) {
		snprintf(a->dlg.text, sizeof a->dlg.text,
			 "Type STOP (in capitals) and Enter to pause every active team, or Esc to cancel. Nothing was "
			 "changed.");
		buf_reset(&a->dlg.input);
		return;
	}
	dlg_close(a);
	do_stop(a); /* its reason, a->dlg.act.key, outlives the dialog */
}

static void stop_confirm2(struct app *a)
{
	int n, rpm;
	stop_reach(a, &n, &rpm);
	char text[600];
	snprintf(text, sizeof text,
		 "LAST CHECK. Pause all %d active teams now (%d requests per minute stop)?\n\nReason shown to every "
		 "caller: \"" STOP_PREFIX "%s\". Teams already paused keep their own reason and stay paused "
		 "when the stop is lifted (U).\n\nType STOP and Enter to do it.",
		 n, rpm, a->dlg.act.key);
	dlg_input(a, "EMERGENCY STOP (2 of 2)", text, false, stop_typed);
}

static void stop_reason_entered(struct app *a)
{
	char *reason = str_trim(a->dlg.input.data ? a->dlg.input.data : (char[1]){ 0 });
	if (!*reason) {
		snprintf(a->dlg.text, sizeof a->dlg.text, "A reason is required: every team's callers will see it.");
		return;
	}
	snprintf(a->dlg.act.key, sizeof a->dlg.act.key, "%s", reason);
	int n, rpm;
	stop_reach(a, &n, &rpm);
	char text[600];
	snprintf(text, sizeof text,
		 "Stop the whole organisation?\n\nThis pauses %d active teams at once, stopping %d requests per "
		 "minute: from their next request every caller gets HTTP 403 team_paused. Requests running now "
		 "finish.",
		 n, rpm);
	dlg_confirm(a, "EMERGENCY STOP (1 of 2)", text, stop_confirm2);
}

void act_emergency_stop(struct app *a)
{
	int n, rpm;
	stop_reach(a, &n, &rpm);
	if (n == 0) {
		app_set_status(a, R_DIM, "no active team to stop");
		return;
	}
	dlg_input(a, "Emergency stop: reason", "Why stop every team? (required; shown to every caller)", false,
		  stop_reason_entered);
}

static void do_resume_all(struct app *a)
{
	act_send(a, "POST", "/admin/v1/emergency-stop/resume", "{}", NULL, on_stop);
}

void act_resume_all(struct app *a)
{
	int n = 0;
	for (int i = 0; i < a->ov.nteams; i++)
		if (strcmp(a->ov.teams[i].state, "paused") == 0 && str_starts(a->ov.teams[i].paused_reason, STOP_PREFIX))
			n++;
	if (n == 0) {
		app_set_status(a, R_DIM, "no team is paused by an emergency stop");
		return;
	}
	char text[400];
	snprintf(text, sizeof text,
		 "Lift the emergency stop?\n\nResumes exactly the %d teams it paused. Teams paused before the "
		 "stop, or for another reason since, stay paused.",
		 n);
	dlg_confirm(a, "Resume after the emergency stop", text, do_resume_all);
}

/* ---- alerts ---------------------------------------------------------------- */

static void on_acked(void *arg, long status, const char *body, size_t len, const char *err)
{
	struct app *a = arg;
	if (status == 200)
		app_set_status(a, R_OK, "alert acknowledged");
	else
		act_refused(a, status, body, len, err);
	app_command(a, "alerts"); /* reload the list */
}

static void do_ack(struct app *a)
{
	char *path = xasprintf("/admin/v1/alerts/%s/ack", a->dlg.act.key);
	act_send(a, "POST", path, "{}", NULL, on_acked);
	free(path);
}

void act_ack_alert(struct app *a, json_t *alert)
{
	if (!alert)
		return;
	if (!json_is_null(json_object_get(alert, "acked_by")) && json_object_get(alert, "acked_by")) {
		app_set_status(a, R_DIM, "already acknowledged by %s", json_string_value(json_object_get(alert, "acked_by")));
		return;
	}
	snprintf(a->dlg.act.key, sizeof a->dlg.act.key, "%lld", (long long)json_integer_value(json_object_get(alert, "id")));
	char text[800];
	snprintf(text, sizeof text, "Acknowledge this alert for everyone?\n\n%s\n\nYour name is recorded with it (audited).",
		 jstr_or(json_object_get(alert, "message"), ""));
	dlg_confirm(a, "Acknowledge alert", text, do_ack);
}

/* ---- aliases (:models): a name callers use for a model ------------------ */

static void on_alias_done(void *arg, long status, const char *body, size_t len, const char *err)
{
	struct app *a = arg;
	if (status < 200 || status >= 300) {
		act_refused(a, status, body, len, err);
		return;
	}
	app_set_status(a, R_OK, "done: alias %s", a->dlg.act.key);
	app_command(a, "models"); /* the list again, with the change */
}

static void do_alias(struct app *a)
{
	char *eq = strchr(a->dlg.act.key, '=');
	char *path = xasprintf("/admin/v1/aliases/%.*s", eq ? (int)(eq - a->dlg.act.key) : (int)strlen(a->dlg.act.key), a->dlg.act.key);
	if (eq) {
		json_t *b = json_pack("{s:s}", "model", eq + 1);
		char *s = json_dumps(b, JSON_COMPACT);
		json_decref(b);
		act_send(a, "PUT", path, s, NULL, on_alias_done);
		free(s);
	} else {
		act_send(a, "DELETE", path, NULL, NULL, on_alias_done);
	}
	free(path);
	dlg_close(a);
}

static void alias_entered(struct app *a)
{
	const char *in = a->dlg.input.data ? str_trim(a->dlg.input.data) : "";
	const char *eq = strchr(in, '=');
	bool set = a->dlg.on_ok == alias_entered && strcmp(a->dlg.title, "Set an alias") == 0;
	if (!*in || (set && (!eq || eq == in || !eq[1])) || (!set && eq) || strlen(in) >= sizeof a->dlg.act.key) {
		snprintf(a->dlg.text, sizeof a->dlg.text, "%s", set ? "Type ALIAS=MODEL, e.g. fast=openai/gpt-oss-20b:"
								      : "Type the alias to remove:");
		return;
	}
	snprintf(a->dlg.act.key, sizeof a->dlg.act.key, "%s", in);
	char text[600];
	if (set)
		snprintf(text, sizeof text,
			 "Set alias '%.*s' to model '%s'?\n\nRequests naming the alias are checked against each team's "
			 "allowlist as that model and sent as it, on every replica within a second. Audited.",
			 (int)(eq - in), in, eq + 1);
	else
		snprintf(text, sizeof text,
			 "Remove alias '%s'?\n\nRequests naming it get Groq's model_not_found from their next request "
			 "(unless the configuration defines it too). Audited.",
			 in);
	dlg_confirm(a, set ? "Set alias" : "Remove alias", text, do_alias);
}

void act_alias_set(struct app *a)
{
	dlg_input(a, "Set an alias", "Type ALIAS=MODEL, e.g. fast=openai/gpt-oss-20b:", false, alias_entered);
}

void act_alias_remove(struct app *a)
{
	dlg_input(a, "Remove an alias", "Type the alias to remove:", false, alias_entered);
}

