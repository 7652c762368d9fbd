/* view_other.c — the help screen, the :alerts and :audit lists, and the
 * read-only wallboard with big gauges that cycles through pages of teams. */
#include "console.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"


static const char *const help_lines[] = {
	"Navigation",
	"  Up/Down, j/k      move the selection        PgUp/PgDn  a page",
	"  Home/End, g/G     first / last row          Tab        teams <-> keys pane",
	"  Enter             team detail, or the rotation wizard on a key",
	"  /                 filter teams and keys (live); Enter keeps it, Esc clears it",
	"  s / S             sort by the next column / reverse the order",
	"  R                 refresh now               Esc        back",
	"  ?                 this help                 q          quit",
	"",
	"Actions (each asks for confirmation; the default answer is No)",
	"  p                 pause the selected team (a reason is required) or resume it",
	"  e                 edit the team's model allowlist (shows the diff before saving)",
	"  r                 rotate the selected key: the guided, resumable wizard",
	"",
	"Commands (type : then Enter)",
	"  :teams  :keys     focus a pane              :alerts   recent alerts",
	"  :audit            the audit log             :ctx NAME switch gateway context",
	"  :groq             Groq's own figures beside the gateway's (drift, models Groq dropped)",
	"  :help             this help                 :q        quit",
	"",
	"The header shows the gateway, the connection (live / stale Ns / down), Groq's",
	"organisation headroom from its x-ratelimit headers, and the clock (UTC).",
	"Gauges turn colour at 50, 80 and 95 % of a team's budget.",
};

static void help_draw(struct app *a, struct canvas *cv)
{
	cv_clear(cv);
	draw_header(a, cv);
	cv_box(cv, 1, 0, cv->h - 2, cv->w, R_BORDER, "Help");
	for (size_t i = 0; i < ARRAY_LEN(help_lines) && (int)i < cv->h - 4; i++)
		cv_put(cv, 2 + (int)i, 2, help_lines[i][0] != ' ' && help_lines[i][0] ? R_TITLE : R_NORMAL, help_lines[i], cv->w - 4);
	draw_footer(a, cv, "Esc Back  q Quit");
}

const struct view view_help = { "help", help_draw, NULL };

static const char *js(json_t *o, const char *k, const char *dflt)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : dflt;
}

static void list_draw(struct app *a, struct canvas *cv, const char *title, const char *field)
{
	cv_clear(cv);
	draw_header(a, cv);
	cv_box(cv, 1, 0, cv->h - 2, cv->w, R_BORDER, title);
	json_t *arr = json_object_get(a->audit, field);
	if (!arr) {
		cv_put(cv, 3, 2, R_DIM, "loading…", -1);
	} else {
		size_t n = json_array_size(arr);
		int rows = cv->h - 4;
		for (int i = 0; i < rows && (size_t)i < n; i++) {
			/* alerts come oldest first, audit entries newest first */
			json_t *e = json_array_get(arr, strcmp(field, "alerts") == 0 ? n - 1 - (size_t)i : (size_t)i);
			const char *tm = json_string_value(json_object_get(e, "time"));
			if (strcmp(field, "alerts") == 0)
				cv_printf(cv, 2 + i, 2, R_ALERT, cv->w - 4, "%s  %-22s %-14s %s", tm ? tm : "",
					  js(e, "kind", ""),
					  js(e, "team", "-"),
					  js(e, "message", ""));
			else
				cv_printf(cv, 2 + i, 2, R_NORMAL, cv->w - 4, "%s  %-24s %-26s %-24s %s", tm ? tm : "",
					  js(e, "actor", ""),
					  js(e, "action", ""),
					  js(e, "target", ""),
					  js(e, "operator", ""));
		}
		if (n == 0)
			cv_put(cv, 3, 2, R_DIM, "nothing yet", -1);
	}
	draw_footer(a, cv, "Esc Back  q Quit");
}

static void alerts_draw(struct app *a, struct canvas *cv)
{
	list_draw(a, cv, "Alerts", "alerts");
}

static void audit_draw(struct app *a, struct canvas *cv)
{
	list_draw(a, cv, "Audit log (newest first)", "entries");
}

const struct view view_alerts = { "alerts", alerts_draw, NULL };
const struct view view_audit = { "audit", audit_draw, NULL };

/* ---- wallboard -------------------------------------------------------- */

#define WB_BLOCK 5

static void wb_draw(struct app *a, struct canvas *cv)
{
	cv_clear(cv);
	draw_header(a, cv);
	int per = (cv->h - 3) / WB_BLOCK;
	if (per < 1)
		per = 1;
	int pages = (a->nteam_idx + per - 1) / per;
	if (pages < 1)
		pages = 1;
	int64_t now = wall_ms();
	if (a->wb_flip_ms == 0)
		a->wb_flip_ms = now + a->cycle_s * 1000LL;
	if (now >= a->wb_flip_ms) {
		a->wb_page = (a->wb_page + 1) % pages;
		a->wb_flip_ms = now + a->cycle_s * 1000LL;
	}
	if (a->wb_page >= pages)
		a->wb_page = 0;
	cv_printf(cv, 1, 1, R_TITLE, -1, "Teams %d-%d of %d   page %d/%d   org spend $%.2f%s", a->wb_page * per + (a->nteam_idx > 0),
		  a->wb_page * per + per < a->nteam_idx ? a->wb_page * per + per : a->nteam_idx, a->nteam_idx, a->wb_page + 1, pages,
		  a->ov.org_spend, a->ov.org_budget > 0 ? "" : "");
	for (int i = 0; i < per; i++) {
		int k = a->wb_page * per + i;
		if (k >= a->nteam_idx)
			break;
		struct m_team *t = &a->ov.teams[a->team_idx[k]];
		int y = 2 + i * WB_BLOCK;
		double sf = t->budget > 0 ? t->spend / t->budget : 0;
		double rf = t->rpm_limit ? (double)t->rpm / (double)t->rpm_limit : 0;
		bool hot = sf >= 0.8 || rf >= 0.9 || strcmp(t->state, "active") != 0;
		int nr = hot ? R_HILITE : R_TITLE;
		char up[80];
		snprintf(up, sizeof up, " %s ", t->id);
		for (char *p = up; *p; p++)
			if (*p >= 'a' && *p <= 'z')
				*p = (char)(*p - 32);
		int x = cv_put(cv, y, 1, nr, up, 30);
		cv_printf(cv, y, x + 2, strcmp(t->state, "active") == 0 ? R_ACTIVE : R_PAUSED, -1, "%s%s%s", t->state,
			  strcmp(t->state, "active") ? ": " : "", strcmp(t->state, "active") ? t->paused_reason : "");
		int gw = cv->w - 30;
		cv_printf(cv, y + 1, 2, R_NORMAL, 26, "SPEND $%.2f/$%.0f", t->spend, t->budget);
		cv_gauge(cv, y + 1, 28, gw, sf);
		cv_gauge(cv, y + 2, 28, gw, sf);
		cv_printf(cv, y + 2, 2, gauge_role(sf), 26, "%.1f%% of budget", t->pct);
		cv_printf(cv, y + 3, 2, R_NORMAL, 26, "RPM %d/%lld", t->rpm, (long long)t->rpm_limit);
		cv_gauge(cv, y + 3, 28, gw, rf);
	}
	draw_footer(a, cv, "q Quit  / Filter  ? Help  (read-only wallboard: no actions)");
}

static int wb_key(struct app *a, int key)
{
	if (key == 'p' || key == 'e' || key == 'r' || key == K_ENTER || key == 'd') {
		app_set_status(a, R_ERROR, "read-only wallboard: actions are disabled (run groqtop without --wallboard)");
		return VIEW_REDRAW;
	}
	if (key == K_RIGHT || key == K_PGDN || key == ' ') {
		a->wb_page++;
		a->wb_flip_ms = wall_ms() + a->cycle_s * 1000LL;
		return VIEW_REDRAW;
	}
	if (key == K_LEFT || key == K_PGUP) {
		a->wb_page = a->wb_page > 0 ? a->wb_page - 1 : 0;
		a->wb_flip_ms = wall_ms() + a->cycle_s * 1000LL;
		return VIEW_REDRAW;
	}
	return 0;
}

const struct view view_wallboard = { "wallboard", wb_draw, wb_key };
