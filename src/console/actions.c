/* actions.c — what an operator can change: pause/resume a team, edit its
 * model allowlist, and the key-rotation wizard. Each asks first, in words
 * that say exactly what will happen, and shows the result (or the API's
 * error message verbatim). */
#include "console.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "groq.h"
#include "secret.h"
#include "util.h"

const char *api_message(const char *body, size_t len, char *out, size_t n)
{
	json_t *j = json_loadb(body, len, 0, NULL);
	const char *m = json_string_value(json_object_get(json_object_get(j, "error"), "message"));
	snprintf(out, n, "%s", m ? m : "");
	json_decref(j);
	return out;
}

static bool refuse_readonly(struct app *a)
{
	if (a->readonly) {
		app_set_status(a, R_ERROR, "read-only wallboard: actions are disabled");
		return true;
	}
	return false;
}

/* the common ending of a mutation: status line, error dialog, refresh */
static void on_done(void *arg, long status, const char *body, size_t len, const char *err)
{
	struct app *a = arg;
	char msg[512];
	if (status >= 200 && status < 300) {
		app_set_status(a, R_OK, "done: %s", a->dlg.act.team[0] ? a->dlg.act.team : "ok");
	} else if (status == 412) {
		dlg_message(a, R_ERROR, "Changed meanwhile",
			    "Someone else changed this team while you were editing, so nothing was saved. The view "
			    "was reloaded: review the team and make your edit again.");
	} else {
		char t[600];
		snprintf(t, sizeof t, "%s", status ? api_message(body, len, msg, sizeof msg) : err ? err : "no answer");
		dlg_message(a, R_ERROR, status ? "The gateway refused" : "The gateway cannot be reached", t);
	}
	a->next_poll_ms = 0; /* show the new state at once */
}

/* ---- pause / resume -------------------------------------------------- */

static void do_pause(struct app *a)
{
	json_t *b = json_pack("{s:s}", "reason", a->dlg.act.key);
	char *s = json_dumps(b, JSON_COMPACT);
	json_decref(b);
	char *path = xasprintf("/admin/v1/teams/%s/pause", a->dlg.act.team);
	if (client_request(a->cl, "POST", path, s, NULL, 5000, on_done, a) == 0)
		app_set_status(a, R_DIM, "pausing %s…", a->dlg.act.team);
	free(path);
	free(s);
}

static void pause_reason_entered(struct app *a)
{
	char *reason = str_trim(a->dlg.input.data ? a->dlg.input.data : (char[1]){ 0 });
	if (!*reason) {
		snprintf(a->dlg.text, sizeof a->dlg.text, "A reason is required: the team's callers will see it. Type one, or Esc to cancel.");
		return;
	}
	snprintf(a->dlg.act.key, sizeof a->dlg.act.key, "%s", reason);
	char text[700];
	snprintf(text, sizeof text,
		 "Pause team '%s'?\n\nFrom its very next request, every caller of this team gets HTTP 403 team_paused "
		 "with your reason: \"%s\". Requests already running finish. Resume with p.",
		 a->dlg.act.team, a->dlg.act.key);
	dlg_confirm(a, "Pause team", text, do_pause);
}

static void do_resume(struct app *a)
{
	char *path = xasprintf("/admin/v1/teams/%s/resume", a->dlg.act.team);
	client_request(a->cl, "POST", path, a->dlg.act.version ? "{\"override\":true}" : "{}", NULL, 5000, on_done, a);
	free(path);
}

void act_pause_toggle(struct app *a)
{
	struct m_team *t = app_team(a);
	if (refuse_readonly(a) || !t)
		return;
	snprintf(a->dlg.act.team, sizeof a->dlg.act.team, "%s", t->id);
	a->dlg.act.version = 0;
	char text[700];
	if (strcmp(t->state, "active") == 0) {
		snprintf(text, sizeof text, "Why pause team '%s'? (required; shown to its callers)", t->id);
		dlg_input(a, "Pause team: reason", text, false, pause_reason_entered);
	} else if (strcmp(t->state, "budget_paused") == 0 && t->spend >= t->budget) {
		a->dlg.act.version = 1; /* means: with override */
		snprintf(text, sizeof text,
			 "Team '%s' spent its monthly budget ($%.2f of $%.2f) and was paused.\n\nResume it anyway "
			 "with a budget OVERRIDE? It may then spend past its budget until the month ends. (Raising "
			 "its budget instead is the safer fix.)",
			 t->id, t->spend, t->budget);
		dlg_confirm(a, "Resume with budget override", text, do_resume);
	} else {
		snprintf(text, sizeof text, "Resume team '%s'?\n\nIts callers are served again from their next request. (Paused by %s: %s)",
			 t->id, t->paused_by[0] ? t->paused_by : "?", t->paused_reason[0] ? t->paused_reason : "-");
		dlg_confirm(a, "Resume team", text, do_resume);
	}
}

/* ---- allowlist ------------------------------------------------------- */

static void do_save_models(struct app *a)
{
	json_t *arr = json_array();
	for (int i = 0; i < a->dlg.act.nmodels; i++)
		json_array_append_new(arr, json_string(a->dlg.act.models[i]));
	json_t *b = json_pack("{s:o}", "allowed_models", arr);
	char *s = json_dumps(b, JSON_COMPACT);
	json_decref(b);
	char *path = xasprintf("/admin/v1/teams/%s/models", a->dlg.act.team);
	char ver[32];
	snprintf(ver, sizeof ver, "%lld", (long long)a->dlg.act.version);
	client_request(a->cl, "PUT", path, s, ver, 5000, on_done, a);
	free(path);
	free(s);
}

static void models_reviewed(struct app *a)
{
	struct dialog *d = &a->dlg;
	buf add, del;
	buf_init(&add);
	buf_init(&del);
	/* the list to save, in a->dlg.act (the last review's freed; dlg_free
	 * frees the last one at exit) */
	for (int i = 0; i < a->dlg.act.nmodels; i++)
		free(a->dlg.act.models[i]);
	free(a->dlg.act.models);
	a->dlg.act.models = xcalloc((size_t)d->n + 1, sizeof *a->dlg.act.models);
	a->dlg.act.nmodels = 0;
	for (int i = 0; i < d->n; i++) {
		if (d->checked[i])
			a->dlg.act.models[a->dlg.act.nmodels++] = xstrdup(d->items[i]);
		if (d->checked[i] && !d->orig[i])
			buf_addf(&add, "%s%s", add.len ? ", " : "", d->items[i]);
		if (!d->checked[i] && d->orig[i])
			buf_addf(&del, "%s%s", del.len ? ", " : "", d->items[i]);
	}
	/* a model taken away that the team called in the last hour: said so */
	buf warn;
	buf_init(&warn);
	size_t k;
	json_t *u;
	json_array_foreach(d->ctx, k, u) {
		const char *m = json_string_value(json_object_get(u, "model"));
		json_int_t n = json_integer_value(json_object_get(u, "requests"));
		for (int i = 0; m && n > 0 && i < d->n; i++)
			if (!d->checked[i] && d->orig[i] && strcmp(d->items[i], m) == 0)
				buf_addf(&warn, "\nWARNING: the team called %s %lld time%s in the last hour.", m, (long long)n,
					 n == 1 ? "" : "s");
	}
	if (!add.len && !del.len) {
		dlg_close(a);
		app_set_status(a, R_DIM, "no change to save");
	} else {
		char text[1000];
		snprintf(text, sizeof text,
			 "Save the allowlist of team '%s' (version %lld)?\n\n+ add:    %s\n- remove: %s\n%s\nCallers asking for a "
			 "removed model get HTTP 403 model_not_allowed from their next request.",
			 a->dlg.act.team, (long long)a->dlg.act.version, add.len ? add.data : "(nothing)", del.len ? del.data : "(nothing)",
			 warn.len ? warn.data : "");
		dlg_confirm(a, "Save allowlist", text, do_save_models);
	}
	buf_free(&add);
	buf_free(&del);
	buf_free(&warn);
}

/* the team's requests by model in the last hour, for the review */
static void on_model_use(void *arg, long status, const char *body, size_t len, const char *err)
{
	(void)err;
	struct app *a = arg;
	if (status != 200 || a->dlg.kind != DLG_CHECKLIST || a->dlg.on_ok != models_reviewed)
		return; /* (the review then says nothing of it) */
	json_t *j = json_loadb(body, len, 0, NULL);
	json_decref(a->dlg.ctx);
	a->dlg.ctx = json_incref(json_object_get(j, "by_model"));
	json_decref(j);
}

static void on_models(void *arg, long status, const char *body, size_t len, const char *err)
{
	struct app *a = arg;
	struct m_team *t = NULL;
	for (int i = 0; i < a->ov.nteams; i++)
		if (strcmp(a->ov.teams[i].id, a->dlg.act.team) == 0)
			t = &a->ov.teams[i];
	if (status != 200 || !t) {
		app_set_status(a, R_ERROR, "cannot list models: %s", err ? err : "HTTP error");
		return;
	}
	json_t *j = json_loadb(body, len, 0, NULL);
	json_t *ms = json_object_get(j, "models");
	dlg_close(a);
	struct dialog *d = &a->dlg;
	size_t n = json_array_size(ms);
	d->items = xcalloc(n + (size_t)t->nmodels + 1, sizeof *d->items);
	d->checked = xcalloc(n + (size_t)t->nmodels + 1, sizeof *d->checked);
	d->orig = xcalloc(n + (size_t)t->nmodels + 1, sizeof *d->orig);
	size_t i;
	json_t *m;
	json_array_foreach(ms, i, m) {
		const char *id = json_string_value(json_object_get(m, "id"));
		if (id)
			d->items[d->n++] = xstrdup(id);
	}
	/* a model the team has but the gateway no longer lists stays visible */
	for (int k = 0; k < t->nmodels; k++) {
		bool found = false;
		for (int x = 0; x < d->n; x++)
			found = found || strcmp(d->items[x], t->models[k]) == 0;
		if (!found)
			d->items[d->n++] = xstrdup(t->models[k]);
	}
	for (int x = 0; x < d->n; x++)
		for (int k = 0; k < t->nmodels; k++)
			if (strcmp(d->items[x], t->models[k]) == 0)
				d->checked[x] = d->orig[x] = true;
	json_decref(j);
	a->dlg.act.version = t->version;
	char text[200];
	snprintf(text, sizeof text, "Models team '%s' may call (version %lld):", t->id, (long long)t->version);
	d->kind = DLG_CHECKLIST;
	snprintf(d->title, sizeof d->title, "Edit allowlist");
	snprintf(d->text, sizeof d->text, "%s", text);
	d->on_ok = models_reviewed;
	a->dirty = true;
	char *path = xasprintf("/admin/v1/usage?team=%s&window=60m&step=60m", a->dlg.act.team);
	client_request(a->cl, "GET", path, NULL, NULL, 5000, on_model_use, a);
	free(path);
}

void act_edit_models(struct app *a)
{
	struct m_team *t = app_team(a);
	if (refuse_readonly(a) || !t)
		return;
	snprintf(a->dlg.act.team, sizeof a->dlg.act.team, "%s", t->id);
	app_set_status(a, R_DIM, "loading the models the gateway knows…");
	client_request(a->cl, "GET", "/admin/v1/models", NULL, NULL, 5000, on_models, a);
}

/* ---- the rotation wizard ------------------------------------------- */

static const char *const steps[] = { "verified", "deployed", "secret_updated", "switched" };
static const char *const step_titles[] = {
	"1. Create the new key in the Groq Console, paste it here (verified against Groq)",
	"2. Deploy it alongside the old key (both valid; the old one still serves)",
	"3. Update the secret manager (the gateway's hook, or confirm you did it by hand)",
	"4. Switch: new requests use the new key at once; in-flight ones finish on the old",
	"5. Monitor: the old key must stay unused for the whole drain window",
	"6. Retire: confirm the old key was deleted in the Groq Console; the gateway erases it",
};

static int step_index(struct app *a)
{
	json_t *r = json_object_get(a->dlg.act.rot, "rotation");
	const char *s = json_string_value(json_object_get(r, "step"));
	for (int i = 0; s && i < 4; i++)
		if (strcmp(s, steps[i]) == 0)
			return i + 1;
	return 0;
}

static void back_to_wizard(struct app *a);

/* The rotation wizard is what the operator is doing: open, or one of its
 * steps' confirmations. An answer about a key changes the wizard only when
 * it is about the wizard's key and the wizard is still open: one that
 * comes after Esc, with another action begun meanwhile (whose state may
 * hold any text), is only told on the status line. */
static bool wizard_open(const struct app *a)
{
	return a->dlg.kind == DLG_WIZARD || (a->dlg.kind == DLG_CONFIRM && a->dlg.on_no == back_to_wizard);
}

static bool wizard_of(const struct app *a, const char *name)
{
	return wizard_open(a) && name && a->dlg.act.key[0] && strcmp(name, a->dlg.act.key) == 0;
}

static void on_rot(void *arg, long status, const char *body, size_t len, const char *err)
{
	struct app *a = arg;
	if (status == 200) {
		json_t *j = json_loadb(body, len, 0, NULL);
		if (json_is_object(j) && wizard_of(a, json_string_value(json_object_get(j, "name")))) {
			json_decref(a->dlg.act.rot);
			a->dlg.act.rot = j;
		} else {
			json_decref(j);
		}
	} else if (a->dlg.kind == DLG_WIZARD) {
		app_set_status(a, R_ERROR, "cannot read the key: %s", err ? err : "HTTP error");
	}
	a->dirty = true;
}

void act_rotate(struct app *a)
{
	struct m_key *k = app_key_sel(a);
	if (a->dlg.kind == DLG_WIZARD && a->dlg.act.key[0]) {
		char *path = xasprintf("/admin/v1/keys/%s", a->dlg.act.key);
		client_request(a->cl, "GET", path, NULL, NULL, 5000, on_rot, a);
		free(path);
		return;
	}
	if (!k) {
		app_set_status(a, R_ERROR, "select a key first (Tab to the keys pane)");
		return;
	}
	snprintf(a->dlg.act.key, sizeof a->dlg.act.key, "%s", k->name);
	dlg_close(a);
	a->dlg.kind = DLG_WIZARD;
	json_decref(a->dlg.act.rot); /* an earlier wizard's key (read after its Esc) */
	a->dlg.act.rot = NULL;
	char *path = xasprintf("/admin/v1/keys/%s", k->name);
	client_request(a->cl, "GET", path, NULL, NULL, 5000, on_rot, a);
	free(path);
}

static void wiz_done(void *arg, long status, const char *body, size_t len, const char *err)
{
	struct app *a = arg;
	char msg[512];
	json_t *j = status >= 200 && status < 300 ? json_loadb(body, len, 0, NULL) : NULL;
	const char *name = json_string_value(json_object_get(j, "name"));
	if (!wizard_open(a) || (name && !wizard_of(a, name))) { /* (Esc'd, another action since) */
		if (status >= 200 && status < 300)
			app_set_status(a, R_OK, "rotation of %s: step recorded", name ? name : "the key");
		else
			app_set_status(a, R_ERROR, "rotation refused: %s",
				       status ? api_message(body, len, msg, sizeof msg) : err ? err : "no answer");
		json_decref(j);
		a->next_poll_ms = 0;
		return;
	}
	bool completing = a->dlg.act.rot_completing;
	a->dlg.act.rot_completing = false;
	if (completing && status == 200) { /* the last step: said so, not a silent step 1 again */
		char text[600];
		snprintf(text, sizeof text,
			 "The rotation of '%s' is complete: the old key %s was erased; %s is its only key now.\n\nNothing "
			 "more to do here (the audit log has every step).",
			 a->dlg.act.key, json_string_value(json_object_get(j, "retired_fingerprint")) ? json_string_value(json_object_get(j, "retired_fingerprint")) : "",
			 json_string_value(json_object_get(j, "fingerprint")) ? json_string_value(json_object_get(j, "fingerprint")) : "the new key");
		json_decref(j);
		json_decref(a->dlg.act.rot);
		a->dlg.act.rot = NULL;
		a->dlg.act.key[0] = '\0';
		dlg_message(a, R_OK, "Rotation complete", text);
		a->next_poll_ms = 0;
		return;
	}
	if (status >= 200 && status < 300) {
		if (json_is_object(j) && name) {
			json_decref(a->dlg.act.rot);
			a->dlg.act.rot = j;
		} else {
			json_decref(j);
		}
		app_set_status(a, R_OK, "rotation of %s: step recorded", a->dlg.act.key);
	} else {
		app_set_status(a, R_ERROR, "refused: %s", status ? api_message(body, len, msg, sizeof msg) : err ? err : "no answer");
	}
	a->dlg.kind = DLG_WIZARD;
	a->next_poll_ms = 0;
}

static void rot_post(struct app *a, const char *step, const char *body)
{
	char *path = xasprintf("/admin/v1/keys/%s/rotation%s%s", a->dlg.act.key, step ? "/" : "", step ? step : "");
	client_request(a->cl, "POST", path, body, NULL, 20000, wiz_done, a);
	free(path);
	a->dlg.kind = DLG_WIZARD;
	app_set_status(a, R_DIM, "sending…");
}

static void secret_entered(struct app *a)
{
	char *s = a->dlg.input.data ? str_trim(a->dlg.input.data) : NULL;
	if (!s || !groq_key_valid(s)) {
		snprintf(a->dlg.text, sizeof a->dlg.text,
			 "That does not look like a Groq key ('gsk_' then letters and digits). Paste it again, or Esc.");
		if (a->dlg.input.data)
			secret_wipe(a->dlg.input.data, a->dlg.input.cap);
		buf_reset(&a->dlg.input);
		return;
	}
	json_t *b = json_pack("{s:s}", "new_secret", s);
	char *body = json_dumps(b, JSON_COMPACT);
	json_t *v = json_object_get(b, "new_secret");
	secret_wipe((char *)json_string_value(v), json_string_length(v));
	json_decref(b);
	dlg_close(a); /* wipes the typed secret; the wizard's state (a->dlg.act) stays */
	rot_post(a, NULL, body);
	secret_free(body);
}

static void go_deploy(struct app *a) { rot_post(a, "deploy", "{}"); }
static void go_confirm_secret(struct app *a) { rot_post(a, "secret-updated", "{\"confirm\":true}"); }
static void go_hook(struct app *a) { rot_post(a, "secret-updated", "{}"); }
static void go_switch(struct app *a) { rot_post(a, "switch", "{}"); }
static void go_complete(struct app *a)
{
	a->dlg.act.rot_completing = true;
	rot_post(a, "complete", "{\"confirm\":true}");
}
static void go_abort(struct app *a) { rot_post(a, "abort", "{}"); }

/* No in a step's confirmation goes back to the wizard, not out of it */
static void back_to_wizard(struct app *a)
{
	a->dlg.kind = DLG_WIZARD;
}

static void confirm_then(struct app *a, const char *title, const char *text, void (*fn)(struct app *))
{
	dlg_confirm(a, title, text, fn);
	a->dlg.on_no = back_to_wizard;
}

int wizard_key(struct app *a, int key)
{
	int step = step_index(a);
	json_t *r = json_object_get(a->dlg.act.rot, "rotation");
	const char *old_fp = json_string_value(json_object_get(a->dlg.act.rot, "fingerprint"));
	const char *new_fp = json_string_value(json_object_get(r, "new_fingerprint"));
	char text[700];
	if (key == K_ESC || key == 'q') {
		dlg_close(a); /* keeps a->dlg.act: the wizard's key is freed here */
		json_decref(a->dlg.act.rot);
		a->dlg.act.rot = NULL;
		a->dlg.act.key[0] = '\0';
		return VIEW_REDRAW;
	}
	if (a->readonly) {
		app_set_status(a, R_ERROR, a->wallboard ? "read-only wallboard: rotation steps are disabled" : "read-only (--readonly): rotation steps are disabled");
		return VIEW_REDRAW;
	}
	if (!a->dlg.act.rot)
		return VIEW_REDRAW;
	if (key == 'a' && step > 0) {
		snprintf(text, sizeof text,
			 "Abort the rotation of '%s'?\n\nThe gateway goes back to the old key %s alone and erases the new "
			 "key %s. Delete the new key in the Groq Console afterwards.",
			 a->dlg.act.key, old_fp ? old_fp : "", new_fp ? new_fp : "");
		confirm_then(a, "Abort rotation", text, go_abort);
		return VIEW_REDRAW;
	}
	if (step == 2 && key == 'h') { /* the secret manager's step (deployed) */
		snprintf(text, sizeof text, "Run the gateway's secret-manager hook for '%s' now? The new key goes to it on stdin.", a->dlg.act.key);
		confirm_then(a, "Run the secret-manager hook", text, go_hook);
		return VIEW_REDRAW;
	}
	if (key != K_ENTER && key != 'n')
		return VIEW_REDRAW;
	switch (step) {
	case 0:
		snprintf(text, sizeof text,
			 "Paste the NEW Groq key for '%s' (created in the same Groq project). It is not shown, "
			 "not kept here after sending, and verified against Groq before it is accepted.",
			 a->dlg.act.key);
		dlg_input(a, "New Groq key", text, true, secret_entered);
		break;
	case 1:
		snprintf(text, sizeof text, "Deploy the new key %s alongside the old %s?\n\nBoth are held; the old one still serves every request.",
			 new_fp ? new_fp : "", old_fp ? old_fp : "");
		confirm_then(a, "Deploy alongside", text, go_deploy);
		break;
	case 2:
		snprintf(text, sizeof text,
			 "Have you stored the new key %s in your secret manager?\n\nYes records your confirmation in the "
			 "audit log. (Or close this and press h to run the gateway's configured hook instead.)",
			 new_fp ? new_fp : "");
		confirm_then(a, "Secret manager updated", text, go_confirm_secret);
		break;
	case 3:
		snprintf(text, sizeof text,
			 "Switch '%s' to the new key %s?\n\nEvery new request uses it at once, with no restart; requests "
			 "already running finish on the old key.",
			 a->dlg.act.key, new_fp ? new_fp : "");
		confirm_then(a, "Switch to the new key", text, go_switch);
		break;
	case 4: {
		/* not while the old key drains: said now, not after a Yes */
		json_int_t left = json_integer_value(json_object_get(r, "drain_remaining_seconds"));
		json_int_t infl = json_integer_value(json_object_get(r, "old_key_inflight"));
		if (left > 0 || infl > 0) {
			app_set_status(a, R_PAUSED,
				       "not yet: the old key must stay unused for the drain window (%lld s left, %lld request%s "
				       "still on it); retire it after that",
				       (long long)left, (long long)infl, infl == 1 ? "" : "s");
			break;
		}
		snprintf(text, sizeof text,
			 "Did you DELETE the old key %s in the Groq Console?\n\nYes: the gateway erases the old secret and "
			 "'%s' is back to a single active key.",
			 old_fp ? old_fp : "", a->dlg.act.key);
		confirm_then(a, "Retire the old key", text, go_complete);
		break;
	}
	}
	return VIEW_REDRAW;
}

void wizard_draw(struct app *a, struct canvas *cv)
{
	int w = cv->w > 110 ? 96 : cv->w - 4, h = 20;
	int x = (cv->w - w) / 2, y = (cv->h - h) / 2;
	for (int r = 0; r < h; r++)
		cv_fill(cv, y + r, x, w, R_DIALOG, " ");
	cv_box(cv, y, x, h, w, R_DIALOG, NULL);
	cv_printf(cv, y, x + 2, R_DIALOG_TITLE, w - 4, " Rotate key %s ", a->dlg.act.key);
	if (!a->dlg.act.rot) {
		cv_put(cv, y + 2, x + 2, R_DIALOG, "loading…", -1);
		return;
	}
	json_t *r = json_object_get(a->dlg.act.rot, "rotation");
	int step = step_index(a);
	/* the monitor step is the state after the switch */
	int cur = step == 4 ? 4 : step;
	const char *fp = json_string_value(json_object_get(a->dlg.act.rot, "fingerprint"));
	const char *nfp = json_string_value(json_object_get(r, "new_fingerprint"));
	cv_printf(cv, y + 1, x + 2, R_DIALOG, w - 4, "team %s   current key %s%s%s",
		  json_string_value(json_object_get(a->dlg.act.rot, "team")) ? json_string_value(json_object_get(a->dlg.act.rot, "team")) : "?",
		  fp ? fp : "?", nfp ? "   new key " : "", nfp ? nfp : "");
	if (step > 0)
		cv_printf(cv, y + 2, x + 2, R_DIM, w - 4, "started by %s at %s",
			  json_string_value(json_object_get(r, "started_by")) ? json_string_value(json_object_get(r, "started_by")) : "?",
			  json_string_value(json_object_get(r, "started_at")) ? json_string_value(json_object_get(r, "started_at")) : "?");
	for (int i = 0; i < 6; i++) {
		bool done = i < cur;
		bool now = i == cur;
		int role = now ? R_SELECTED : done ? R_OK : R_DIALOG;
		cv_printf(cv, y + 4 + i, x + 2, role, w - 4, "%s %s", done ? (cv->utf8 ? "✓" : "x") : now ? ">" : " ", step_titles[i]);
	}
	int yy = y + 11;
	if (step == 4) {
		json_int_t n = json_integer_value(json_object_get(r, "old_key_requests_since_switch"));
		json_int_t left = json_integer_value(json_object_get(r, "drain_remaining_seconds"));
		json_int_t infl = json_integer_value(json_object_get(r, "old_key_inflight"));
		const char *lu = json_string_value(json_object_get(r, "old_key_last_used_at"));
		cv_printf(cv, yy++, x + 2, left > 0 ? R_PAUSED : R_OK, w - 4,
			  "old key: %lld requests since the switch, %lld still running, last used %s", (long long)n,
			  (long long)infl, lu ? lu : "never since the switch");
		cv_printf(cv, yy++, x + 2, left > 0 ? R_PAUSED : R_OK, w - 4, "drain window: %lld s remaining of %lld s",
			  (long long)left, (long long)json_integer_value(json_object_get(r, "drain_seconds")));
	}
	static const char *const next[] = {
		"Next: create a key in the Groq Console, then press Enter to paste it.",
		"Next: Enter deploys the new key alongside the old one.",
		"Next: Enter confirms you updated the secret manager by hand; h runs the gateway's hook.",
		"Next: Enter switches new requests to the new key.",
		"Next: when the drain window is over and you deleted the old key in the Groq Console, press Enter.",
	};
	cv_put(cv, yy + 1, x + 2, R_DIALOG, next[cur < 5 ? cur : 4], w - 4);
	if (a->status[0] && wall_ms() < a->status_until) /* whole, over as many lines as it takes */
		cv_wrap(cv, y + h - 5, x + 2, w - 4, 0, a->status_role, a->status);
	cv_put(cv, y + h - 1, x + 2, R_DIM, a->readonly ? " read-only: Esc close " : " Enter next step  a abort  Esc close (resumable) ", -1);
}
