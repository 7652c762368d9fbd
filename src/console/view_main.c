/* view_main.c — the main screen: header, teams, keys, the selected
 * team's detail, recent alerts and the footer; plus the full-screen team
 * detail and the "terminal too small" screen. */
#include "console.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util.h"

static int state_role(const char *s)
{
	return strcmp(s, "paused") == 0 ? R_PAUSED : strcmp(s, "budget_paused") == 0 ? R_BUDGET_PAUSED : R_ACTIVE;
}

static const char *state_short(const char *s)
{
	return strcmp(s, "budget_paused") == 0 ? "budget!" : s;
}

/* a count in at most 6 columns: 9999, 123.4k, 372.5M, 1.2G */
static void count6(char *out, size_t n, int64_t v)
{
	if (v < 10000)
		snprintf(out, n, "%lld", (long long)v);
	else if (v < 1000000)
		snprintf(out, n, "%.1fk", (double)v / 1e3);
	else if (v < 1000000000)
		snprintf(out, n, "%.1fM", (double)v / 1e6);
	else
		snprintf(out, n, "%.1fG", (double)v / 1e9);
}

/* 1234, 12.3k, 372.5M: header figures stay short */
static void compact(char *out, size_t n, int64_t v)
{
	if (v >= 10000000)
		snprintf(out, n, "%.1fM", (double)v / 1e6);
	else if (v >= 100000)
		snprintf(out, n, "%.1fk", (double)v / 1e3);
	else
		snprintf(out, n, "%lld", (long long)v);
}

/* the connection state for the header */
static int conn_state(struct app *a, char *out, size_t n)
{
	int64_t now = wall_ms();
	if (a->token_refused) { /* not an outage: the token is wrong */
		snprintf(out, n, "token refused");
		return R_DOWN;
	}
	if (!a->have_data) {
		snprintf(out, n, a->fails ? "down" : "connecting");
		return a->fails ? R_DOWN : R_STALE;
	}
	if (a->fails == 0) {
		snprintf(out, n, "live");
		return R_LIVE;
	}
	if (a->fails < 3) {
		snprintf(out, n, "stale %llds", (long long)((now - a->last_ok_ms) / 1000));
		return R_STALE;
	}
	int64_t next = (a->next_poll_ms - now + 999) / 1000;
	snprintf(out, n, "down %llds, retry %llds", (long long)((now - a->last_ok_ms) / 1000), (long long)(next > 0 ? next : 0));
	return R_DOWN;
}

void draw_header(struct app *a, struct canvas *cv)
{
	cv_fill(cv, 0, 0, cv->w, R_HEADER, " ");
	const char *bar = cv->utf8 ? "│" : "|";
	int x = cv_printf(cv, 0, 0, R_HEADER, -1, " groqtop%s %s %s%s%s ", a->wallboard ? " wallboard" : "", bar, a->gateway,
			  a->ctx_name ? " @" : "", a->ctx_name ? a->ctx_name : "");
	char st[64];
	int role = conn_state(a, st, sizeof st);
	x += cv_printf(cv, 0, x, role, -1, "%s %s ", cv->utf8 ? "●" : "*", st);
	if (a->have_data && a->ov.clustered) /* the fleet: replicas serving of those known */
		x += cv_printf(cv, 0, x, a->ov.cl_serving < a->ov.cl_replicas ? R_ALERT : R_HEADER, -1, "%s cluster %d/%d ", bar,
			       a->ov.cl_serving, a->ov.cl_replicas);
	/* Groq's own view, when the gateway polls it ("" when it does not) */
	char gp[48] = "";
	int grole = R_HEADER;
	const char *gs = a->ov.groq_state;
	if (a->have_data && gs[0] && strcmp(gs, "off") != 0) {
		char age[16] = "";
		if (a->ov.groq_age_s >= 0)
			fmt_age(a->ov.groq_age_s * 1000, age, sizeof age);
		if (a->ov.groq_drifting) {
			snprintf(gp, sizeof gp, "%s groq DRIFT %d ", bar, a->ov.groq_drifting);
			grole = R_ALERT;
		} else if (strcmp(gs, "ok") == 0) {
			snprintf(gp, sizeof gp, "%s groq ok %s ", bar, age);
		} else if (strcmp(gs, "unavailable") == 0) {
			snprintf(gp, sizeof gp, "%s groq n/a ", bar);
		} else {
			snprintf(gp, sizeof gp, "%s groq %s %s ", bar, strcmp(gs, "failing") == 0 ? "stale" : gs, age);
			grole = R_STALE;
		}
	}
	/* an emergency stop in force: said on every screen until it is lifted */
	int stopped = 0;
	const struct m_team *st_team = NULL;
	for (int i = 0; a->have_data && i < a->ov.nteams; i++)
		if (strcmp(a->ov.teams[i].state, "paused") == 0 && str_starts(a->ov.teams[i].paused_reason, STOP_PREFIX)) {
			stopped++;
			st_team = &a->ov.teams[i];
		}
	if (stopped) {
		char since[16];
		fmt_when_iso(st_team->paused_at, a->local_time, WHEN_HM, since, sizeof since);
		int who = (int)strcspn(st_team->paused_by, " "); /* the admin token's name, without the operator label */
		x += cv_printf(cv, 0, x, R_ALERT, cv->w - x - 14, "%s EMERGENCY STOP %d teams, %.*s %s: %s (U lifts) ", bar,
			       stopped, who, st_team->paused_by, since, st_team->paused_reason + strlen(STOP_PREFIX));
		gp[0] = '\0';
	}
	char clock[48], hms[16], zone[16];
	fmt_when(app_now(a), a->local_time, WHEN_HMS, hms, sizeof hms);
	snprintf(clock, sizeof clock, "%s %s", hms, when_zone(a->local_time, zone, sizeof zone));
	int right = cv->w - (int)strlen(clock) - 1;
	char rq[24], tk[24];
	compact(rq, sizeof rq, a->ov.rem_req);
	compact(tk, sizeof tk, a->ov.rem_tok);
	/* the headroom is shown whole, with a space before the clock, or not at all */
	int need = 11 + 6 + 8 + (int)strlen(rq) + 6 + 6 + 10 + (int)strlen(tk) + 1;
	/* both when they fit; else a drift before the headroom, the headroom
	 * before Groq's other states */
	int gneed = utf8_cols(gp);
	bool hr = a->have_data && a->ov.has_headroom && right - x >= need;
	if (gp[0] && (right - x >= need + gneed || !hr || a->ov.groq_drifting)) {
		x += cv_put(cv, 0, x, grole, gp, right - x);
		hr = hr && right - x >= need;
	}
	if (hr) {
		x += cv_printf(cv, 0, x, R_HEADER, -1, "%s Groq req ", bar);
		double fr = a->ov.lim_req ? 1.0 - (double)a->ov.rem_req / (double)a->ov.lim_req : 0;
		cv_gauge(cv, 0, x, 6, fr);
		x += 6;
		x += cv_printf(cv, 0, x, R_HEADER, -1, " %s left  tok ", rq);
		double ft = a->ov.lim_tok ? 1.0 - (double)a->ov.rem_tok / (double)a->ov.lim_tok : 0;
		cv_gauge(cv, 0, x, 6, ft);
		x += 6;
		cv_printf(cv, 0, x, R_HEADER, right - x, " %s/min left", tk);
	}
	cv_put(cv, 0, right, R_HEADER, clock, -1);
}

void binding_hints(const struct app *a, const struct view *v, buf *out)
{
	buf_adds(out, "q Quit  ? Help");
	if (v->id != V_MAIN && v->id != V_WALL)
		buf_adds(out, "  Esc Back");
	if (v->id == V_MAIN)
		buf_adds(out, "  / Filter  s Sort  Tab Pane  Enter Detail");
	for (int i = 0; i < a->nbindings; i++) {
		const struct binding *b = &a->bindings[i];
		if (!(b->views & v->id) || !b->footer || (b->mutating && a->readonly))
			continue;
		buf_addf(out, "  %s %s", b->name, b->label);
	}
	if (v->id == V_MAIN)
		buf_adds(out, "  : Command");
	if (a->readonly)
		buf_adds(out, a->wallboard ? "  (read-only wallboard)" : "  (read-only)");
}

void draw_footer(struct app *a, struct canvas *cv, const char *hints)
{
	int y = cv->h - 1;
	cv_fill(cv, y, 0, cv->w, R_FOOTER, " ");
	if (a->cmdline) { /* and the commands the word typed could be (Tab completes) */
		int x = cv_printf(cv, y, 0, R_FOOTER, -1, ":%s_", a->cmd);
		buf names;
		buf_init(&names);
		int n = a->cmd[0] ? app_complete(a, a->cmd, &names, NULL, 0) : 0;
		if (n > 1 || (n == 1 && strcmp(names.data, a->cmd) != 0))
			cv_printf(cv, y, x + 3, R_DIM, cv->w - x - 3, "%s   (Tab completes)", names.data);
		else if (n == 0 && a->cmd[0] && !strchr(a->cmd, ' '))
			cv_put(cv, y, x + 3, R_DIM, "no such command", cv->w - x - 3);
		buf_free(&names);
		return;
	}
	if (a->filtering) {
		cv_printf(cv, y, 0, R_FOOTER, -1, "/%s_   (Enter keeps the filter, Esc clears it)", a->filter);
		return;
	}
	if (a->status[0] && wall_ms() < a->status_until) {
		cv_printf(cv, y, 0, a->status_role, -1, " %s", a->status);
		return;
	}
	buf hb; /* NULL: the view's bindings (a->bindings) */
	buf_init(&hb);
	if (!hints) {
		binding_hints(a, a->view, &hb);
		hints = hb.data;
	}
	/* hints: "k Label" pairs separated by two spaces */
	int x = 0;
	const char *p = hints;
	while (*p && x < cv->w) {
		const char *sp = strchr(p, ' ');
		if (!sp)
			break;
		const char *end = strstr(sp + 1, "  ");
		int klen = (int)(sp - p), llen = end ? (int)(end - sp - 1) : (int)strlen(sp + 1);
		char lab[96];
		snprintf(lab, sizeof lab, "%.*s", llen, sp + 1);
		if (x + klen + 1 + utf8_cols(lab) > cv->w) /* whole pairs only: ? lists them all */
			break;
		x += cv_printf(cv, y, x, R_FOOTER_KEY, -1, "%.*s", klen, p);
		x += cv_printf(cv, y, x, R_FOOTER, -1, " %.*s  ", llen, sp + 1);
		if (!end)
			break;
		p = end + 2;
	}
	buf_free(&hb);
}

/* the teams table: id 16, state 8, RPM gauge + 10, TPM 7, refusals 6,
 * spend gauge + 19, % 6, and on a wide enough pane models 4 and keys 4;
 * the two gauges share the rest */
#define TEAMS_FIXED (16 + 8 + 10 + 7 + 6 + 19 + 6)
#define TEAMS_WIDE (TEAMS_FIXED + 8 + 2 * 8)
static int team_gauge_w(int w)
{
	int gw = (w - TEAMS_FIXED - (w >= TEAMS_WIDE ? 8 : 0)) / 2;
	return gw < 2 ? 2 : gw;
}

/* the teams table's columns: their header, place and the sort they are */
#define TCOLS 8
struct tcol {
	const char *head;
	int x, w;
	int sort;   /* enum sort_col, -1 none */
	bool right; /* a number's column: its head to the right */
};

static int team_cols(int w, struct tcol *c)
{
	int gw = team_gauge_w(w), n = 0, x = 1;
	const struct tcol all[] = {
		{ "TEAM", 0, 16, SORT_ID, false },
		{ "STATE", 0, 8, SORT_STATE, false },
		{ "RPM now/limit", 0, gw + 10, SORT_RPM, false },
		{ "TPM", 0, 7, SORT_TPM, true },
		{ "REF/m", 0, 6, SORT_REFUSED, false },
		{ "SPEND month/budget", 0, gw + 19, SORT_SPEND, false },
		{ "%", 0, 6, SORT_SPEND_PCT, true },
		{ "MOD KEY", 0, 8, -1, false },
	};
	for (int i = 0; i < TCOLS; i++) {
		if (all[i].sort < 0 && w < TEAMS_WIDE) /* (a narrow terminal: the counts go first) */
			break;
		c[n] = all[i];
		c[n++].x = x;
		x += all[i].w;
	}
	return n;
}

static void team_row(struct canvas *cv, int y, int x, int w, struct m_team *t, bool sel, bool focus)
{
	int base = sel ? (focus ? R_SELECTED : R_SELECTED_DIM) : R_NORMAL;
	cv_fill(cv, y, x, w, base, " ");
	int gw = team_gauge_w(w);
	int cx = x;
	cv_printf(cv, y, cx, base, 15, "%s", t->id);
	cx += 16;
	cv_put(cv, y, cx, sel ? base : state_role(t->state), state_short(t->state), 7);
	cx += 8;
	double rf = t->rpm_limit ? (double)t->rpm / (double)t->rpm_limit : 0;
	cv_gauge(cv, y, cx, gw, rf);
	cx += gw;
	cv_printf(cv, y, cx, base, 10, " %d/%lld", t->rpm, (long long)t->rpm_limit);
	cx += 10;
	/* tokens in the last minute, red at its own limit */
	char tk[24];
	count6(tk, sizeof tk, t->tpm);
	cv_printf(cv, y, cx, sel || !t->tpm_limit ? base : gauge_role((double)t->tpm / (double)t->tpm_limit), 7, "%6s", tk);
	cx += 7;
	/* what it refused in the last minute: red when it refuses */
	cv_printf(cv, y, cx, sel ? base : t->refused_pm ? R_ERROR : R_DIM, 6, "%5lld", (long long)t->refused_pm);
	cx += 6;
	double sf = t->budget > 0 ? t->spend / t->budget : 0;
	cv_gauge(cv, y, cx, gw, sf);
	cx += gw;
	char s1[16], s2[16];
	money(s1, sizeof s1, t->spend);
	money(s2, sizeof s2, t->budget);
	cv_printf(cv, y, cx, base, 19, " %s/%s", s1, s2);
	cx += 19;
	cv_printf(cv, y, cx, sel ? base : gauge_role(sf), 6, "%5.1f%%", t->pct);
	cx += 6;
	if (w < TEAMS_WIDE) /* (a narrow terminal: the models and keys counts go first) */
		return;
	cv_printf(cv, y, cx, base, 4, "%3d", t->nmodels);
	cx += 4;
	cv_printf(cv, y, cx, base, 4, "%3d", t->keys);
}

static void draw_teams(struct app *a, struct canvas *cv, int y, int h)
{
	char title[200];
	char part[32] = "";
	if (a->ov.nteams < a->ov.teams_total)
		snprintf(part, sizeof part, " of %d (loading)", a->ov.teams_total);
	int refusing = 0;
	for (int i = 0; i < a->ov.nteams; i++)
		refusing += a->ov.teams[i].refused_pm > 0;
	char ref[32] = "";
	if (refusing)
		snprintf(ref, sizeof ref, "  refusing: %d", refusing);
	snprintf(title, sizeof title, "Teams %d%s%s%s  sort: %s %s%s", a->nteam_idx, part, a->filter[0] ? "  filter: " : "",
		 a->filter, sort_cols[a->sort_col].name, a->sort_desc ? (cv->utf8 ? "↓" : "v") : (cv->utf8 ? "↑" : "^"), ref);
	cv_box(cv, y, 0, h, cv->w, a->pane == PANE_TEAMS ? R_TITLE : R_BORDER, title);
	int w = cv->w - 2;
	cv_fill(cv, y + 1, 1, w, R_TABLE_HEAD, " ");
	/* the header, the sorted column marked (a click on one sorts by it) */
	struct tcol cols[TCOLS];
	int nc = team_cols(w, cols);
	for (int i = 0; i < nc; i++) {
		bool sorted = cols[i].sort == (int)a->sort_col;
		const char *mark = !sorted ? "" : a->sort_desc ? (cv->utf8 ? "↓" : "v") : (cv->utf8 ? "↑" : "^");
		int mw = sorted ? 1 : 0;
		if (cols[i].right)
			cv_printf(cv, y + 1, cols[i].x, R_TABLE_HEAD, cols[i].w - 1, "%*s%s", cols[i].w - 1 - mw, cols[i].head, mark);
		else /* (its whole width: a narrow gauge's head may take the gap) */
			cv_printf(cv, y + 1, cols[i].x, R_TABLE_HEAD, cols[i].w, "%s%s", cols[i].head, mark);
	}
	int rows = h - 3;
	lw_show(&a->lteam, a->nteam_idx, rows);
	lw_mark(cv, y + h - 1, cv->w - 1, &a->lteam, a->nteam_idx, rows, a->pane == PANE_TEAMS ? R_TITLE : R_BORDER);
	for (int i = 0; i < rows && a->lteam.top + i < a->nteam_idx; i++) {
		int k = a->lteam.top + i;
		team_row(cv, y + 2 + i, 1, w, &a->ov.teams[a->team_idx[k]], k == a->lteam.sel, a->pane == PANE_TEAMS);
	}
	if (!a->have_data && a->fails)
		cv_printf(cv, y + 3, 3, R_DIM, w - 4, "no data from the gateway: %s",
			  a->last_err[0] ? a->last_err : "no answer");
	else if (!a->have_data)
		cv_put(cv, y + 3, 3, R_DIM, "loading…", -1);
	else if (a->nteam_idx == 0)
		cv_put(cv, y + 3, 3, R_DIM, a->filter[0] ? "no team matches the filter" : "no teams yet", -1);
}

/* keys table columns: name, team, key, state, age, used, req 24h, rotation */
static const int key_cols[] = { 31, 17, 11, 10, 6, 7, 9, 16 };

static void draw_keys(struct app *a, struct canvas *cv, int y, int h)
{
	char title[64];
	if (a->ov.nkeys < a->ov.keys_total)
		snprintf(title, sizeof title, "Upstream keys %d of %d (loading)", a->nkey_idx, a->ov.keys_total);
	else
		snprintf(title, sizeof title, "Upstream keys %d", a->nkey_idx);
	cv_box(cv, y, 0, h, cv->w, a->pane == PANE_KEYS ? R_TITLE : R_BORDER, title);
	int w = cv->w - 2;
	static const char *const heads[] = { "NAME", "TEAM", "KEY", "STATE", "AGE", "USED", "REQ 24H", "ROTATION" };
	cv_fill(cv, y + 1, 1, w, R_TABLE_HEAD, " ");
	for (int c = 0, x = 1; c < 8 && x < cv->w - 1; x += key_cols[c++])
		cv_put(cv, y + 1, x, R_TABLE_HEAD, heads[c], key_cols[c] - 1 < cv->w - 1 - x ? key_cols[c] - 1 : cv->w - 1 - x);
	int rows = h - 3;
	lw_show(&a->lkey, a->nkey_idx, rows);
	lw_mark(cv, y + h - 1, cv->w - 1, &a->lkey, a->nkey_idx, rows, a->pane == PANE_KEYS ? R_TITLE : R_BORDER);
	int64_t now = app_now(a);
	for (int i = 0; i < rows && a->lkey.top + i < a->nkey_idx; i++) {
		int idx = a->lkey.top + i;
		struct m_key *k = &a->ov.keys[a->key_idx[idx]];
		bool sel = idx == a->lkey.sel;
		int base = sel ? (a->pane == PANE_KEYS ? R_SELECTED : R_SELECTED_DIM) : R_NORMAL;
		char age[16] = "-", used[16] = "-", req[24];
		if (k->created_ms)
			fmt_age(now - k->created_ms, age, sizeof age);
		if (iso_ms(k->last_used))
			fmt_age(now - iso_ms(k->last_used), used, sizeof used);
		snprintf(req, sizeof req, "%lld", (long long)k->req24h);
		int st = sel ? base : strcmp(k->state, "rejected") == 0 ? R_ERROR : strcmp(k->state, "rotating") == 0 ? R_PAUSED : R_ACTIVE;
		bool rot = strcmp(k->step, "none") != 0 && k->step[0];
		const char *vals[] = { k->name, k->team, k->fp, k->state, age, used, req, rot ? k->step : "-" };
		int roles[] = { base, base, base, st, base, base, base, sel ? base : rot ? R_PAUSED : R_DIM };
		cv_fill(cv, y + 2 + i, 1, w, base, " ");
		for (int c = 0, x = 1; c < 8 && x < cv->w - 1; x += key_cols[c++])
			cv_put(cv, y + 2 + i, x, roles[c], vals[c], key_cols[c] - 1 < cv->w - 1 - x ? key_cols[c] - 1 : cv->w - 1 - x);
	}
}

void draw_detail(struct app *a, struct canvas *cv, int y, int x, int h, int w)
{
	struct m_team *t = app_team(a);
	cv_box(cv, y, x, h, w, R_BORDER, t ? t->id : "Team");
	if (!t)
		return;
	int iw = w - 4, r = y + 1;
	cv_printf(cv, r, x + 2, R_NORMAL, iw, "%s", t->name);
	cv_printf(cv, r, x + 2 + utf8_cols(t->name) + 2, state_role(t->state), iw - utf8_cols(t->name) - 2, "%s", t->state);
	r++;
	if (strcmp(t->state, "active") != 0 && r < y + h - 1)
		cv_printf(cv, r++, x + 2, state_role(t->state), iw, "paused by %s: %s", t->paused_by[0] ? t->paused_by : "?",
			  t->paused_reason[0] ? t->paused_reason : "-");
	if (r < y + h - 1) {
		int n = cv_printf(cv, r, x + 2, R_DIM, iw, "RPM last hour ");
		cv_spark(cv, r, x + 2 + n, iw - n - 8 > 0 ? iw - n - 8 : 1, a->spark, a->nspark);
		cv_printf(cv, r, x + w - 9, R_NORMAL, 7, "%6d", t->rpm);
		r++;
	}
	if (r < y + h - 1) {
		char s1[16], s2[16], s3[16];
		money(s1, sizeof s1, t->spend);
		money(s2, sizeof s2, t->budget);
		money(s3, sizeof s3, strcmp(a->spark_team, t->id) == 0 ? a->proj : t->spend);
		cv_printf(cv, r++, x + 2, gauge_role(t->budget > 0 ? t->spend / t->budget : 0), iw,
			  "spend %s of %s (%.1f%%), projected month-end %s", s1, s2, t->pct, s3);
	}
	if (r < y + h - 1)
		cv_printf(cv, r++, x + 2, R_DIM, iw, "max %lld tokens/request, RPM limit %lld, version %lld",
			  (long long)t->max_tokens, (long long)t->rpm_limit, (long long)t->version);
	if (r < y + h - 1) {
		char tl[24] = "none";
		if (t->tpm_limit)
			snprintf(tl, sizeof tl, "%lld", (long long)t->tpm_limit);
		cv_printf(cv, r++, x + 2, R_DIM, iw, "priority %s, TPM %lld (limit %s)", t->priority[0] ? t->priority : "standard",
			  (long long)t->tpm, tl);
	}
	if (r < y + h - 1) { /* (always a line: the pane keeps its layout) */
		if (t->refused_pm)
			cv_printf(cv, r++, x + 2, R_ERROR, iw, "refused %lld in the last minute: %s", (long long)t->refused_pm,
				  t->refused_by);
		else
			cv_put(cv, r++, x + 2, R_DIM, "refused 0 in the last minute", iw);
	}
	if (r < y + h - 1) {
		buf b;
		buf_init(&b);
		for (int i = 0; i < t->nmodels; i++)
			buf_addf(&b, "%s%s", i ? ", " : "", t->models[i]);
		cv_printf(cv, r++, x + 2, R_NORMAL, iw, "models: %s", b.len ? b.data : "(none)");
		buf_free(&b);
	}
}

struct aput {
	struct canvas *cv;
	int y, x, w, rows, role;
	bool more; /* lines left over */
};

static void alert_line(void *arg, int i, const char *line)
{
	struct aput *p = arg;
	if (i >= p->rows) {
		p->more = true;
		return;
	}
	cv_put(p->cv, p->y + i, p->x, p->role, line, p->w);
}

/* the newest alerts, each wrapped at spaces (never cut mid-word); an alert
 * that does not fit whole ends with an ellipsis; :alerts shows them all */
void draw_alerts(struct app *a, struct canvas *cv, int y, int x, int h, int w)
{
	cv_box(cv, y, x, h, w, R_BORDER, "Alerts");
	int row = y + 1, last = y + h - 1;
	int n = a->ov.nalerts;
	const char *ell = cv->utf8 ? "…" : "...";
	for (int i = 0; i < n && row < last; i++) {
		struct m_alert *al = &a->ov.alerts[n - 1 - i];
		char tm[16];
		fmt_when_iso(al->time, a->local_time, WHEN_HM, tm, sizeof tm);
		bool acked = al->acked_by[0] != 0;
		cv_printf(cv, row, x + 2, acked ? R_DIM : R_ALERT, 6, "%.5s", tm);
		struct aput p = { cv, row, x + 8, w - 10, last - row, acked ? R_DIM : R_ALERT, false };
		int lines = wrap_words(al->message, w - 10, alert_line, &p);
		if (p.more) { /* more than fits: an ellipsis at the pane's edge */
			cv_put(cv, last - 1, x + w - 2 - utf8_cols(ell), acked ? R_DIM : R_ALERT, ell, -1);
			break;
		}
		row += lines;
	}
	if (n == 0)
		cv_put(cv, y + 1, x + 2, R_DIM, "none", -1);
}

/* Pane heights by content: the teams and keys panes take the rows they
 * need (their rows + title + header + border) and give the rest to the
 * detail and alerts; when both need more than there is, the larger gets
 * the larger share. The detail keeps at least 7 rows. */
void main_layout(const struct app *a, int h, int *th, int *kh, int *bh)
{
	int body = h - 2;
	int bmin = body >= 30 ? 9 : 7;
	int avail = body - bmin;
	int tneed = (a->nteam_idx > 0 ? a->nteam_idx : 1) + 3, kneed = (a->nkey_idx > 0 ? a->nkey_idx : 1) + 3;
	int tmin = tneed < 6 ? tneed : 6, kmin = kneed < 5 ? kneed : 5;
	if (tneed + kneed <= avail) {
		*th = tneed;
		*kh = kneed;
	} else if (tneed <= avail * 55 / 100) {
		*th = tneed;
		*kh = avail - tneed;
	} else if (kneed <= avail * 45 / 100) {
		*kh = kneed;
		*th = avail - kneed;
	} else {
		*th = avail * 55 / 100;
		*kh = avail - *th;
	}
	if (*th < tmin)
		*th = tmin;
	if (*kh < kmin)
		*kh = kmin;
	*bh = body - *th - *kh;
}

static void main_draw(struct app *a, struct canvas *cv)
{
	cv_clear(cv);
	draw_header(a, cv);
	int th, kh, bh;
	main_layout(a, cv->h, &th, &kh, &bh);
	draw_teams(a, cv, 1, th);
	draw_keys(a, cv, 1 + th, kh);
	int dw = cv->w * 3 / 5;
	draw_detail(a, cv, 1 + th + kh, 0, bh, dw);
	draw_alerts(a, cv, 1 + th + kh, dw, bh, cv->w - dw);
	draw_footer(a, cv, NULL);
}

static int main_key(struct app *a, int key)
{
	struct listw *l = a->pane == PANE_TEAMS ? &a->lteam : &a->lkey;
	int n = a->pane == PANE_TEAMS ? a->nteam_idx : a->nkey_idx;
	if (lw_key(l, key, n, a->h / 3))
		return VIEW_REDRAW;
	switch (key) {
	case K_TAB:
	case K_BTAB:
		a->pane = a->pane == PANE_TEAMS ? PANE_KEYS : PANE_TEAMS;
		return VIEW_REDRAW;
	case 's':
		a->sort_col = (a->sort_col + 1) % SORT_NCOLS;
		a->sort_desc = sort_cols[a->sort_col].desc;
		app_rebuild(a);
		return VIEW_REDRAW;
	case 'S':
		a->sort_desc = !a->sort_desc;
		app_rebuild(a);
		return VIEW_REDRAW;
	case K_ENTER:
		if (a->pane == PANE_TEAMS && app_team(a)) {
			a->prev_view = a->view;
			a->view = &view_detail;
		} else if (a->pane == PANE_KEYS && app_key_sel(a)) {
			act_rotate(a);
		}
		return VIEW_REDRAW;
	}
	return 0;
}

/* a click selects the row under it in either pane; the wheel scrolls the
 * pane under the pointer, 3 rows a notch */
static void main_mouse(struct app *a, int kind, int y, int x)
{
	int th, kh, bh;
	main_layout(a, a->h, &th, &kh, &bh);
	bool in_teams = y >= 1 && y < 1 + th, in_keys = y >= 1 + th && y < 1 + th + kh;
	if (kind != K_MOUSE) {
		if (!in_teams && !in_keys)
			return;
		lw_wheel(in_teams ? &a->lteam : &a->lkey, kind, in_teams ? a->nteam_idx : a->nkey_idx);
		a->pane = in_teams ? PANE_TEAMS : PANE_KEYS;
		return;
	}
	if (in_teams && y == 2) { /* the header: sorted by the column clicked, again: the other way */
		struct tcol cols[TCOLS];
		int nc = team_cols(a->w - 2, cols);
		for (int i = 0; i < nc; i++)
			if (x >= cols[i].x && x < cols[i].x + cols[i].w && cols[i].sort >= 0) {
				if (cols[i].sort == (int)a->sort_col) {
					a->sort_desc = !a->sort_desc;
				} else {
					a->sort_col = (enum sort_col)cols[i].sort;
					a->sort_desc = sort_cols[a->sort_col].desc;
				}
				app_rebuild(a);
				a->pane = PANE_TEAMS;
			}
		return;
	}
	if (in_teams && y >= 3 && y < th && lw_click(&a->lteam, y - 3, a->nteam_idx))
		a->pane = PANE_TEAMS;
	else if (in_keys && y >= 3 + th && y < th + kh && lw_click(&a->lkey, y - (1 + th) - 2, a->nkey_idx))
		a->pane = PANE_KEYS;
}

const struct view view_main = { .name = "main", .draw = main_draw, .key = main_key, .id = V_MAIN, .mouse = main_mouse };

static void detail_draw(struct app *a, struct canvas *cv)
{
	cv_clear(cv);
	draw_header(a, cv);
	draw_detail(a, cv, 1, 0, cv->h - 2 - 8, cv->w);
	draw_alerts(a, cv, cv->h - 1 - 8, 0, 8, cv->w);
	draw_footer(a, cv, NULL);
}

const struct view view_detail = { .name = "detail", .draw = detail_draw, .id = V_DETAIL };

static void small_draw(struct app *a, struct canvas *cv)
{
	(void)a;
	cv_clear(cv);
	char m[96];
	snprintf(m, sizeof m, "Terminal too small: %dx%d", cv->w, cv->h);
	int y = cv->h / 2 - 1;
	cv_put(cv, y < 0 ? 0 : y, (cv->w - (int)strlen(m)) / 2 > 0 ? (cv->w - (int)strlen(m)) / 2 : 0, R_ERROR, m, -1);
	const char *n = "groqtop needs at least 80x24";
	cv_put(cv, y + 1, (cv->w - (int)strlen(n)) / 2 > 0 ? (cv->w - (int)strlen(n)) / 2 : 0, R_NORMAL, n, -1);
}

const struct view view_toosmall = { .name = "toosmall", .draw = small_draw, .id = V_OTHER };
