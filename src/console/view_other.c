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
		for (int i = 0; i < a->nbindings; i++)
			if (a->bindings[i].mutating == !pass) {
				char line[300];
				snprintf(line, sizeof line, "  %-17s %s", a->bindings[i].name, a->bindings[i].help);
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


/* ---- wallboard -------------------------------------------------------- */

/* The wallboard (--wallboard), for a room. A team's block: its name and
 * state, then spend, RPM and refusals with
 * their gauges (5 rows); on a room's screen (BIG_W x BIG_H or more) its
 * spend share is also written in digits five rows tall, legible across
 * the room (7 rows). Problem teams first: paused, refusing, drifting, past
 * 80 % of the budget or 90 % of the RPM limit. */
#define WB_BLOCK 5
#define WB_BIG_BLOCK 7
#define BIG_W 160
#define BIG_H 48

/* the wallboard's own state (view_state): the page shown, when it turns */
struct wb_state {
	int page;
	int64_t flip_ms;
};

static struct wb_state *wbs(struct app *a)
{
	return view_state(a, &view_wallboard);
}

/* digits, '.', '%' five rows tall, three columns wide */
static const char *const big_font[13][5] = {
	{ "###", "# #", "# #", "# #", "###" }, { " # ", "## ", " # ", " # ", "###" }, { "###", "  #", "###", "#  ", "###" },
	{ "###", "  #", "###", "  #", "###" }, { "# #", "# #", "###", "  #", "  #" }, { "###", "#  ", "###", "  #", "###" },
	{ "###", "#  ", "###", "# #", "###" }, { "###", "  #", "  #", "  #", "  #" }, { "###", "# #", "###", "# #", "###" },
	{ "###", "# #", "###", "  #", "###" }, { "   ", "   ", "   ", "   ", " # " }, { "# #", "  #", " # ", "#  ", "# #" },
	{ "   ", "   ", "   ", "   ", "   " },
};

/* text in the big font at (y, x), in role: the columns it took */
static int big_text(struct canvas *cv, int y, int x, int role, const char *text)
{
	const char *full = cv->utf8 ? "█" : "#";
	int cx = x;
	for (const char *p = text; *p; p++) {
		int g = *p >= '0' && *p <= '9' ? *p - '0' : *p == '.' ? 10 : *p == '%' ? 11 : 12;
		for (int r = 0; r < 5; r++)
			for (int c = 0; c < 3; c++)
				if (big_font[g][r][c] == '#')
					cv_put(cv, y + r, cx + c, role, full, 1);
		cx += 4;
	}
	return cx - x;
}

/* a team in trouble is drawn first: its rank (0: none) */
static bool drifting(const struct app *a, const char *team)
{
	for (int i = 0; i < a->ov.nalerts; i++)
		if (strcmp(a->ov.alerts[i].kind, "groq_drift") == 0 && strcmp(a->ov.alerts[i].team, team) == 0 &&
		    !a->ov.alerts[i].acked_by[0])
			return true;
	return false;
}

static int trouble(const struct app *a, const struct m_team *t)
{
	double sf = t->budget > 0 ? t->spend / t->budget : 0, rf = t->rpm_limit ? (double)t->rpm / (double)t->rpm_limit : 0;
	return strcmp(t->state, "active") != 0 ? 4 : t->refused_pm > 0 || drifting(a, t->id) ? 3 : sf >= 0.8 ? 2 : rf >= 0.9 ? 1 : 0;
}

static int by_trouble(const void *x, const void *y, void *arg)
{
	const struct app *a = arg;
	const struct m_team *p = &a->ov.teams[*(const int *)x], *q = &a->ov.teams[*(const int *)y];
	int d = trouble(a, q) - trouble(a, p);
	if (d)
		return d;
	if (p->pct != q->pct)
		return p->pct < q->pct ? 1 : -1;
	return strcmp(p->id, q->id);
}

static void wb_team(struct app *a, struct canvas *cv, int y, bool big, const struct m_team *t)
{
	double sf = t->budget > 0 ? t->spend / t->budget : 0;
	double rf = t->rpm_limit ? (double)t->rpm / (double)t->rpm_limit : 0;
	int rank = trouble(a, t);
	char up[80];
	snprintf(up, sizeof up, " %s ", t->id);
	for (char *p = up; *p; p++)
		if (*p >= 'a' && *p <= 'z')
			*p = (char)(*p - 32);
	int x = cv_put(cv, y, 1, rank ? R_HILITE : R_TITLE, up, 30);
	const char *why = strcmp(t->state, "active") != 0 ? t->paused_reason
			  : t->refused_pm			? t->refused_by
			  : drifting(a, t->id)			? "Groq counts more than the gateway sent (drift)"
							: "";
	cv_printf(cv, y, x + 2, strcmp(t->state, "active") == 0 ? (t->refused_pm ? R_ERROR : R_ACTIVE) : R_PAUSED, -1, "%s%s%s",
		  t->refused_pm && strcmp(t->state, "active") == 0 ? "refusing" : t->state, *why ? ": " : "", why);
	char s1[16], s2[16];
	money(s1, sizeof s1, t->spend);
	money(s2, sizeof s2, t->budget);
	int bigw = big ? 26 : 0, gw = cv->w - 30 - bigw;
	cv_printf(cv, y + 1, 2, R_NORMAL, 26, "SPEND %s/%s", s1, s2);
	cv_gauge(cv, y + 1, 28, gw, sf);
	cv_gauge(cv, y + 2, 28, gw, sf);
	cv_printf(cv, y + 2, 2, gauge_role(sf), 26, "%.1f%% of budget", t->pct);
	cv_printf(cv, y + 3, 2, R_NORMAL, 26, "RPM %d/%lld", t->rpm, (long long)t->rpm_limit);
	cv_gauge(cv, y + 3, 28, gw, rf);
	cv_printf(cv, y + 4, 2, t->refused_pm ? R_ERROR : R_DIM, 26, "refused %lld/min", (long long)t->refused_pm);
	if (big) { /* the share of the budget, across the room */
		char pct[16];
		snprintf(pct, sizeof pct, "%.0f%%", t->pct > 999 ? 999 : t->pct);
		big_text(cv, y + 1, cv->w - bigw, gauge_role(sf), pct);
	}
}

static void wb_draw(struct app *a, struct canvas *cv)
{
	struct wb_state *w = wbs(a);
	cv_clear(cv);
	draw_header(a, cv);
	bool big = cv->w >= BIG_W && cv->h >= BIG_H;
	int block = big ? WB_BIG_BLOCK : WB_BLOCK;
	int per = (cv->h - 4) / block;
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
	/* the teams the filter keeps, problem teams first */
	int *order = xcalloc((size_t)a->nteam_idx + 1, sizeof *order);
	if (a->nteam_idx > 0) {
		memcpy(order, a->team_idx, (size_t)a->nteam_idx * sizeof *order);
		qsort_r(order, (size_t)a->nteam_idx, sizeof *order, by_trouble, a);
	}
	int problems = 0;
	for (int i = 0; i < a->nteam_idx; i++)
		problems += trouble(a, &a->ov.teams[order[i]]) > 0;
	char os[16], ob[16];
	money(os, sizeof os, a->ov.org_spend);
	money(ob, sizeof ob, a->ov.org_budget);
	int x = cv_printf(cv, 1, 1, R_TITLE, -1, "Teams %d-%d of %d   page %d/%d   %d in trouble first   org %s%s%s ",
			  w->page * per + (a->nteam_idx > 0),
			  w->page * per + per < a->nteam_idx ? w->page * per + per : a->nteam_idx, a->nteam_idx, w->page + 1,
			  pages, problems, os, a->ov.org_budget > 0 ? " of " : "", a->ov.org_budget > 0 ? ob : "");
	if (a->ov.org_budget > 0 && cv->w - x - 3 > 4)
		cv_gauge(cv, 1, 1 + x + 1, cv->w - x - 3, a->ov.org_spend / a->ov.org_budget);
	for (int i = 0; i < per; i++) {
		int k = w->page * per + i;
		if (k >= a->nteam_idx)
			break;
		wb_team(a, cv, 2 + i * block, big, &a->ov.teams[order[k]]);
	}
	free(order);
	/* the ticker: the newest alert not yet acknowledged */
	const struct m_alert *al = NULL;
	for (int i = a->ov.nalerts - 1; i >= 0 && !al; i--)
		if (!a->ov.alerts[i].acked_by[0])
			al = &a->ov.alerts[i];
	if (al) {
		char tm[16];
		fmt_when_iso(al->time, a->local_time, WHEN_HM, tm, sizeof tm);
		cv_printf(cv, cv->h - 2, 1, R_ALERT, cv->w - 2, "ALERT %s %s %s%s%s: %s", cv->utf8 ? "│" : "|", tm, al->kind,
			  al->team[0] ? " " : "", al->team, al->message);
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
