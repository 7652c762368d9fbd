/* view_other.c — the help screen (from the bindings of keys.c) and the
 * read-only wallboard with big gauges that cycles through pages of teams. */
#include "console.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"


/* the help screen: navigation, then every binding of keys.c, then the
 * commands; the bindings' lines come from the same table as the footer */
static const char *const nav_lines[] = {
	"Navigation",
	"  Up/Down, j/k      move the selection        PgUp/PgDn  a page",
	"  Home/End, g/G     first / last row          Tab        teams <-> keys pane",
	"  Enter             team detail, the rotation wizard on a key, an alert's or audit entry's team; mouse: click, wheel",
	"  /                 filter teams and keys (live); Enter keeps it, Esc clears it",
	"  s / S             sort by the next column (or click its head) / reverse the order",
	"  R                 refresh now               Esc        back",
	"  ?                 this help                 q          quit",
};
static const char *const cmd_lines[] = {
	"Commands (type : then Enter)",
	"  :teams :keys :alerts :audit :groq :usage :tokens :fleet :capacity :spend :models  views  :ctx NAME",
	"  :help  this help   :q  quit   Tab completes.  The header: connection, Groq's state and headroom, UTC clock.",
};

/* the help's text from row 0, wrapped to the screen's width (a line that
 * does not fit goes on under its key, never cut) */
static int help_body(struct app *a, struct canvas *cv)
{
	int y = 0, w = cv->w - 4;
	for (size_t i = 0; i < ARRAY_LEN(nav_lines); i++)
		y += cv_wrap(cv, y, 2, w, 20, i ? R_NORMAL : R_TITLE, nav_lines[i]);
	for (int pass = 0; pass < 2; pass++) {
		cv_put(cv, y++, 2, R_TITLE,
		       pass ? "Views" : a->readonly ? "Changes (disabled: read-only)"
						    : "Changes (each asks first; the default answer is No)",
		       w);
		for (int i = 0; i < nbindings; i++)
			if (bindings[i].mutating == !pass) {
				char line[300];
				snprintf(line, sizeof line, "  %-17s %s", bindings[i].name, bindings[i].help);
				y += cv_wrap(cv, y, 2, w, 20, a->readonly && !pass ? R_DIM : R_NORMAL, line);
			}
	}
	for (size_t i = 0; i < ARRAY_LEN(cmd_lines); i++)
		y += cv_wrap(cv, y, 2, w, 20, i ? R_NORMAL : R_TITLE, cmd_lines[i]);
	return y;
}

static void help_draw(struct app *a, struct canvas *cv)
{
	pager_draw(a, cv, view_state(a, &view_help), "Help", help_body, "Esc Back  j/k PgDn Scroll  q Quit");
}

static int help_key(struct app *a, int key)
{
	return pager_key(view_state(a, &view_help), key);
}

static void help_open(struct app *a)
{
	a->prev_view = a->view;
	a->view = &view_help;
}

const struct view view_help = { .name = "help", .draw = help_draw, .key = help_key, .id = V_HELP, .open = help_open,
				.state_size = sizeof(struct pager) };

const struct view *const console_views[] = { &view_alerts, &view_audit, &view_groq, &view_usage, &view_tokens,
					     &view_fleet, &view_capacity, &view_spend, &view_models, &view_describe, &view_help, NULL };

/* ---- wallboard -------------------------------------------------------- */

#define WB_BLOCK 5

/* the wallboard's own state (view_state): the page shown, when it turns */
struct wb_state {
	int page;
	int64_t flip_ms;
};

static struct wb_state *wbs(struct app *a)
{
	return view_state(a, &view_wallboard);
}

static void wb_draw(struct app *a, struct canvas *cv)
{
	struct wb_state *w = wbs(a);
	cv_clear(cv);
	draw_header(a, cv);
	int per = (cv->h - 3) / WB_BLOCK;
	if (per < 1)
		per = 1;
	int pages = (a->nteam_idx + per - 1) / per;
	if (pages < 1)
		pages = 1;
	int64_t now = wall_ms();
	if (w->flip_ms == 0)
		w->flip_ms = now + a->cycle_s * 1000LL;
	if (now >= w->flip_ms) {
		w->page = (w->page + 1) % pages;
		w->flip_ms = now + a->cycle_s * 1000LL;
	}
	if (w->page >= pages)
		w->page = 0;
	cv_printf(cv, 1, 1, R_TITLE, -1, "Teams %d-%d of %d   page %d/%d   org spend $%.2f%s", w->page * per + (a->nteam_idx > 0),
		  w->page * per + per < a->nteam_idx ? w->page * per + per : a->nteam_idx, a->nteam_idx, w->page + 1, pages,
		  a->ov.org_spend, a->ov.org_budget > 0 ? "" : "");
	for (int i = 0; i < per; i++) {
		int k = w->page * per + i;
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
		cv_printf(cv, y + 1, 2, R_NORMAL, 26, "SPEND $%.2f/$%.2f", t->spend, t->budget);
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
	struct wb_state *w = wbs(a);
	if (key == K_ENTER) {
		app_set_status(a, R_ERROR, "read-only wallboard: actions are disabled (run groqtop without --wallboard)");
		return VIEW_REDRAW;
	}
	if (key == K_RIGHT || key == K_PGDN || key == ' ') {
		w->page++;
		w->flip_ms = wall_ms() + a->cycle_s * 1000LL;
		return VIEW_REDRAW;
	}
	if (key == K_LEFT || key == K_PGUP) {
		w->page = w->page > 0 ? w->page - 1 : 0;
		w->flip_ms = wall_ms() + a->cycle_s * 1000LL;
		return VIEW_REDRAW;
	}
	return 0;
}

const struct view view_wallboard = { .name = "wallboard", .draw = wb_draw, .key = wb_key, .id = V_WALL,
				     .state_size = sizeof(struct wb_state) };
