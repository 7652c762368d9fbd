/* app.c — the console's polling of the gateway (the overview, the
 * selected team's usage, the open view's own data), the mouse, and the
 * frame: the open view, then the dialog over it. Views draw; only the
 * main loop (main.c) presents; keys are keys.c's, the state state.c's. */
#include "console.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util.h"

/* ---- polling ---------------------------------------------------------- */

static void on_usage(void *arg, long status, const char *body, size_t len, const char *err)
{
	struct app *a = arg;
	(void)err;
	if (status == 200) {
		a->nspark = model_parse_usage(body, len, a->spark, 60, &a->spend_detail, &a->proj);
		a->dirty = true;
	}
}

static void fetch_usage(struct app *a)
{
	struct m_team *t = app_team(a);
	if (!t)
		return;
	if (strcmp(a->spark_team, t->id) != 0) {
		a->nspark = 0;
		snprintf(a->spark_team, sizeof a->spark_team, "%s", t->id);
	}
	char *path = xasprintf("/admin/v1/usage?team=%s&window=60m&step=1m", t->id);
	client_request(a->cl, "GET", path, NULL, NULL, (int64_t)a->refresh_s * 1000 + 1000, on_usage, a);
	free(path);
}

static void on_overview(void *arg, long status, const char *body, size_t len, const char *err)
{
	struct app *a = arg;
	a->polling = false;
	int64_t now = wall_ms();
	char *cause = NULL;
	struct m_overview ov;
	if (status == 200 && model_parse_overview(body, len, &ov, &cause) == 0) {
		model_free(&a->ov);
		a->ov = ov;
		a->have_data = true;
		a->last_ok_ms = now;
		a->fails = 0;
		a->token_refused = false;
		a->last_err[0] = '\0';
		app_rebuild(a);
		if (!a->wallboard)
			fetch_usage(a);
		/* a first part: the rest at once */
		a->next_poll_ms = a->ov.nkeys < a->ov.keys_total || a->ov.nteams < a->ov.teams_total ? 0
								 : now + a->refresh_s * 1000LL;
	} else {
		a->fails++;
		a->token_refused = status == 401 || status == 403;
		if (err)
			snprintf(a->last_err, sizeof a->last_err, "%s", err);
		else if (a->token_refused)
			snprintf(a->last_err, sizeof a->last_err, "HTTP %ld: the admin token was refused (check --token-file)", status);
		else
			snprintf(a->last_err, sizeof a->last_err, "HTTP %ld%s%s", status, cause ? ": " : "", cause ? cause : "");
		free(cause);
		/* back off while the gateway is down: 1x, 2x, 4x ... up to 10 s
		 * (the header says when the next try is) */
		int64_t wait = (int64_t)a->refresh_s * 1000 << (a->fails > 4 ? 4 : a->fails - 1);
		a->next_poll_ms = now + (wait > 10000 ? 10000 : wait);
		/* another address of the gateway (a replica, a load balancer):
		 * after two failures in a row, the next one, at once (a refused
		 * token is the same everywhere: not a reason to move) */
		if (a->ngws > 1 && a->fails >= 2 && !a->token_refused) {
			const char *from = a->gateway;
			a->gw_at = (a->gw_at + 1) % a->ngws;
			a->gateway = a->gws[a->gw_at];
			client_set_base(a->cl, a->gateway);
			a->fails = 1;
			a->next_poll_ms = now;
			app_set_status(a, R_ERROR, "moved to %s: %s did not answer (%s)", a->gateway, from, a->last_err);
			a->dirty = true;
			return;
		}
		if (a->have_data) /* the figures on screen are old: say why */
			app_set_status(a, R_ERROR, "gateway: %s (figures from %llds ago)", a->last_err,
				       (long long)((now - a->last_ok_ms) / 1000));
	}
	a->dirty = true;
}

void app_poll(struct app *a)
{
	if (a->polling)
		return;
	a->polling = true;
	a->last_try_ms = wall_ms();
	int64_t timeout = (int64_t)a->refresh_s * 1000;
	if (timeout < 1500)
		timeout = 1500;
	/* the first frame needs the teams and a screenful of keys: the
	 * whole list follows at once (a large organisation's overview is
	 * megabytes) */
	client_request(a->cl, "GET", a->have_data ? "/admin/v1/overview" : "/admin/v1/overview?keys_limit=200&teams_limit=200", NULL, NULL,
		       timeout, on_overview, a);
	/* the open view's data follows the refresh too */
	if (a->view->update)
		a->view->update(a);
	if (a->dlg.act.rot && a->dlg.kind == DLG_WIZARD)
		act_rotate(a); /* refresh the wizard's figures */
}

void app_mouse(struct app *a, int kind, int y, int x)
{
	if (a->dlg.kind != DLG_NONE)
		return;
	a->dirty = true;
	if (a->view->mouse)
		a->view->mouse(a, kind, y, x);
	else if (kind != K_MOUSE && a->view->key)
		a->view->key(a, kind == K_WHEEL_UP ? K_UP : K_DOWN);
}

void app_draw(struct app *a, struct canvas *cv)
{
	if (cv->w < 80 || cv->h < 24) {
		a->v_small->draw(a, cv);
		return;
	}
	a->view->draw(a, cv);
	if (a->dlg.kind == DLG_WIZARD)
		wizard_draw(a, cv);
	else if (a->dlg.kind != DLG_NONE)
		dlg_draw(a, cv);
}

