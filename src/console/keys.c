/* keys.c — every key binding as data: key, label, help, the views it
 * works in, and whether it changes the gateway. The footer, the help
 * screen (?) and the read-only refusal all come from this one table, so a
 * new key is one line here (and its function). */
#include "console.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* ---- what the keys do (the actions themselves are in actions.c,
 * limits.c and oncall.c; these pick their subject from the view) --------- */

static void k_tokens(struct app *a) { view_tokens.open(a); }
static void k_describe(struct app *a) { app_command(a, "describe"); }
static void k_usage(struct app *a) { view_usage.open(a); }
static void k_alerts(struct app *a) { app_command(a, "alerts"); }
static void k_audit(struct app *a) { app_command(a, "audit"); }
static void k_groq(struct app *a) { app_command(a, "groq"); }
static void k_fleet(struct app *a) { app_command(a, "fleet"); }
static void k_ack(struct app *a) { act_ack_alert(a, alerts_selected(a)); }
static void k_window(struct app *a)
{
	usage_next_window(a);
}

static void filter_entered(struct app *a)
{
	snprintf(a->audit_filter, sizeof a->audit_filter, "%s", a->dlg.input.data ? str_trim(a->dlg.input.data) : "");
	dlg_close(a);
	app_command(a, "audit");
}

static void k_audit_filter(struct app *a)
{
	dlg_input(a, "Filter the audit log",
		  "Any of team=ID actor=NAME action=PREFIX (e.g. \"team=chatbot action=team.\"); empty shows all:", false,
		  filter_entered);
	buf_adds(&a->dlg.input, a->audit_filter);
}

/* the selected team's id, key's name or token's id to the clipboard */
static void k_copy(struct app *a)
{
	const char *what = NULL;
	if (a->view == &view_tokens)
		what = json_string_value(json_object_get(tokens_selected(a), "id"));
	else if (a->view->id == V_MAIN && a->pane == PANE_KEYS)
		what = app_key_sel(a) ? app_key_sel(a)->name : NULL;
	else
		what = app_team(a) ? app_team(a)->id : NULL;
	if (!what) {
		app_set_status(a, R_DIM, "nothing selected to copy");
		return;
	}
	if (screen_copy(what) == 0)
		app_set_status(a, R_DIM, "copied '%s' (to the terminal's clipboard: OSC 52)", what);
	else
		app_set_status(a, R_ERROR, "could not copy '%s'", what);
}

#define V_TEAM (V_MAIN | V_DETAIL)
/* every full-screen view (not the wallboard, not help): where the keys
 * that open a view work, wherever one is (k9s's habit) */
#define V_ANY (V_MAIN | V_DETAIL | V_ALERTS | V_AUDIT | V_TOKENS | V_USAGE | V_GROQ | V_FLEET | V_CAPACITY | V_SPEND | V_MODELS | V_DESCRIBE)


const struct binding bindings[] = {
	/* changes (each asks first; refused in --readonly and the wallboard) */
	{ 'p', "p", "Pause/Resume", "pause the selected team (a reason is required) or resume it", V_TEAM, true, true, act_pause_toggle },
	{ 'l', "l", "Limits", "edit the team's budget and limits; in the keys pane, the key's own budget, RPM and TPM", V_TEAM, true, true, act_edit_limits },
	{ 'e', "e", "Models", "edit the team's model allowlist (shows the diff before saving)", V_TEAM, true, true, act_edit_models },
	{ 'r', "r", "Rotate", "the selected key's rotation: the guided, resumable wizard (read-only: it only shows)", V_MAIN, false, true, act_rotate },
	{ 'X', "X", "STOP ALL", "emergency stop: pause every active team with one reason (asks twice)", V_MAIN, true, false, act_emergency_stop },
	{ 'U', "U", "Resume all", "lift the emergency stop: resume exactly the teams it paused", V_MAIN, true, false, act_resume_all },
	{ 'n', "n", "New token", "issue a client token for the team (shown once)", V_TOKENS, true, true, act_token_new },
	{ 'd', "d", "Revoke", "revoke the selected token (its next request gets 401)", V_TOKENS, true, true, act_token_revoke },
	{ 'a', "a", "Acknowledge", "acknowledge the selected alert, for everyone (audited)", V_ALERTS, true, true, k_ack },
	{ 'a', "a", "Set alias", "models: set an alias (ALIAS=MODEL; audited, on every replica)", V_MODELS, true, true, act_alias_set },
	{ 'd', "d", "Remove alias", "models: remove an alias (audited)", V_MODELS, true, true, act_alias_remove },
	{ 't', "t", "By team", "spend: the month by team", V_SPEND, false, true, spend_by_team },
	{ 'm', "m", "By model", "spend: the month by model", V_SPEND, false, true, spend_by_model },
	{ 'u', "u", "By user", "spend: the month by end user", V_SPEND, false, true, spend_by_user },
	{ 'e', "e", "Export CSV", "spend: write the view as CSV to a file (asks for the path)", V_SPEND, false, true, spend_export },
	/* views */
	{ 't', "t", "Tokens", "the selected team's client tokens", V_TEAM, false, true, k_tokens },
	{ 'u', "u", "Usage", "the selected team's usage by model and route (24h, 7d, month)", V_TEAM, false, true, k_usage },
	{ 'D', "D", "Describe", "the selected team on one page: policy, limits beside use, keys, tokens, changes (also :describe)", V_TEAM, false, false, k_describe },
	{ 'A', "A", "Alerts", "every recent alert, whole (also :alerts), from any view", V_ANY, false, false, k_alerts },
	{ 'L', "L", "Audit", "the audit log (also :audit), from any view", V_ANY, false, false, k_audit },
	{ 'o', "o", "Groq", "Groq's own figures beside the gateway's (also :groq), from any view", V_ANY, false, false, k_groq },
	{ 'F', "F", "Fleet", "the gateway's replicas and their state (also :fleet), from any view", V_ANY, false, false, k_fleet },
	{ 'f', "f", "Filter", "filter the audit log by team, actor and action", V_AUDIT, false, true, k_audit_filter },
	{ 'w', "w", "Window", "switch the usage window: 24h, 7d, month", V_USAGE, false, true, k_window },
	{ 'y', "y", "Copy", "copy the selected team's id, key's name or token's id to the clipboard (OSC 52)", V_MAIN | V_DETAIL | V_TOKENS, false, false, k_copy },
};
const int nbindings = (int)ARRAY_LEN(bindings);

const struct binding *binding_find(const struct view *v, int key)
{
	for (int i = 0; i < nbindings; i++)
		if (bindings[i].key == key && (bindings[i].views & v->id))
			return &bindings[i];
	return NULL;
}

/* a key that changes the gateway somewhere (refused as such in read-only) */
static const struct binding *mutating_key(int key)
{
	for (int i = 0; i < nbindings; i++)
		if (bindings[i].key == key && bindings[i].mutating)
			return &bindings[i];
	return NULL;
}

int binding_run(struct app *a, int key)
{
	const struct binding *b = binding_find(a->view, key);
	const struct binding *m = b ? (b->mutating ? b : NULL) : mutating_key(key);
	if (m && a->readonly) {
		app_set_status(a, R_ERROR, "read-only: '%s' (%s) changes the gateway and is disabled (%s)", m->name, m->label,
			       a->wallboard ? "wallboard" : "--readonly");
		return VIEW_REDRAW;
	}
	if (!b)
		return 0;
	b->fn(a);
	return VIEW_REDRAW;
}

/* ---- a key pressed ---------------------------------------------------- */

static int edit_line(char *s, size_t n, int key)
{
	size_t l = strlen(s);
	if (key == K_BACKSPACE || key == K_DEL) {
		if (l)
			s[l - 1] = '\0';
		return 1;
	}
	if (key >= 32 && key < 127 && l + 1 < n) {
		s[l] = (char)key;
		s[l + 1] = '\0';
		return 1;
	}
	return 0;
}

int keys_handle(struct app *a, int key)
{
	if (a->dlg.kind == DLG_WIZARD)
		return wizard_key(a, key);
	if (a->dlg.kind != DLG_NONE)
		return dlg_key(a, key);
	if (a->cmdline) {
		if (key == K_ENTER) {
			a->cmdline = false;
			app_command(a, a->cmd);
		} else if (key == K_ESC) {
			a->cmdline = false;
		} else if (key == K_TAB) { /* as a shell does: as far as the candidates agree */
			char common[sizeof a->cmd];
			int n = app_complete(a, a->cmd, NULL, common, sizeof common);
			size_t cl = strlen(common);
			if (n >= 1 && cl >= strlen(a->cmd)) {
				memcpy(a->cmd, common, cl + 1);
				if (n == 1 && strcmp(common, "ctx") == 0 && cl + 1 < sizeof a->cmd) /* its argument next */
					memcpy(a->cmd + cl, " ", 2);
			}
		} else {
			edit_line(a->cmd, sizeof a->cmd, key);
		}
		return VIEW_REDRAW;
	}
	if (a->filtering) {
		if (key == K_ENTER) {
			a->filtering = false;
		} else if (key == K_ESC) {
			a->filtering = false;
			a->filter[0] = '\0';
		} else {
			edit_line(a->filter, sizeof a->filter, key);
		}
		a->lteam.sel = a->lkey.sel = 0;
		app_rebuild(a);
		return VIEW_REDRAW;
	}
	switch (key) {
	case 'q':
		a->quit = true;
		return VIEW_QUIT;
	case '?':
		if (a->view != &view_help) {
			a->prev_view = a->view;
			a->view = &view_help;
		}
		return VIEW_REDRAW;
	case ':':
		a->cmdline = true;
		a->cmd[0] = '\0';
		return VIEW_REDRAW;
	case '/': /* the teams and keys filter: from another view, it brings them back */
		if (a->view != &view_main && a->view != &view_wallboard)
			a->view = &view_main;
		a->filtering = true;
		return VIEW_REDRAW;
	case K_ESC:
		if (a->view != &view_main && a->view != &view_wallboard) {
			a->view = a->prev_view && a->prev_view != a->view ? a->prev_view : a->wallboard ? &view_wallboard : &view_main;
			return VIEW_REDRAW;
		}
		if (a->filter[0]) {
			a->filter[0] = '\0';
			app_rebuild(a);
		}
		return VIEW_REDRAW;
	case 'R':
		a->next_poll_ms = 0;
		return VIEW_REDRAW;
	}
	int r = binding_run(a, key);
	if (r)
		return r;
	return a->view->key ? a->view->key(a, key) : 0;
}
