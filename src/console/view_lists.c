/* view_lists.c — the on-call views: alerts (whole text, acknowledged by
 * whom), the audit log (filtered by team, actor and action, with the
 * selected entry's before and after), a team's client tokens, and a team's
 * usage by model and route over 24 h, 7 d or the month. Each list view
 * keeps its rows and its place in its own state (struct list_state); their
 * keys are in keys.c. */
#include "console.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static const char *js(json_t *o, const char *k, const char *dflt)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : dflt;
}

/* a list view's own state (view_state): its rows as the admin API
 * answered them, the selection and the first row on screen */
struct list_state {
	struct app *a;
	const struct view *v;
	json_t *data; /* NULL: loading */
	struct listw lw; /* the selection and the first row on screen */
};

static struct list_state *ls(struct app *a, const struct view *v)
{
	struct list_state *l = view_state(a, v);
	l->a = a;
	l->v = v;
	return l;
}

static void list_state_free(void *state)
{
	json_decref(((struct list_state *)state)->data);
}

static void on_list(void *arg, long status, const char *body, size_t len, const char *err)
{
	struct list_state *l = arg;
	if (status == 200) { /* a refresh keeps the old list until the new one is here */
		json_decref(l->data);
		l->data = json_loadb(body, len, 0, NULL);
	} else {
		app_set_status(l->a, R_ERROR, "could not load the %s: %s", l->v == &view_tokens ? "tokens" : "list",
			       err ? err : "HTTP error");
	}
	l->a->dirty = true;
}

void list_fetch(struct app *a, const struct view *v, const char *path)
{
	client_request(a->cl, "GET", path, NULL, NULL, 5000, on_list, ls(a, v));
}

void list_open(struct app *a, const struct view *v, const char *path)
{
	struct list_state *l = ls(a, v);
	json_decref(l->data);
	l->data = NULL;
	if (a->view != v) { /* opened from elsewhere: at its first row */
		a->prev_view = a->view;
		l->lw.sel = l->lw.top = 0;
	}
	a->view = v;
	if (path)
		list_fetch(a, v, path);
}

/* Up/Down, PgUp/PgDn, Home/End over a list of n rows */
static int list_key(struct app *a, struct list_state *l, int key, int n)
{
	return lw_key(&l->lw, key, n, a->h > 8 ? a->h - 8 : 1) ? VIEW_REDRAW : 0;
}

/* a list's rows: the member of its answer that holds them */
static json_t *rows(const struct list_state *l)
{
	const char *member = l->v == &view_alerts ? "alerts" : l->v == &view_audit ? "entries" : "tokens";
	return json_object_get(l->data, member);
}

/* the keys of the open list view */
static int lists_key(struct app *a, int key)
{
	struct list_state *l = ls(a, a->view);
	json_t *arr = rows(l);
	size_t n = json_array_size(arr);
	if (key == K_ENTER && (a->view == &view_alerts || a->view == &view_audit) && l->lw.sel >= 0 && (size_t)l->lw.sel < n) {
		/* Enter on an alert or an audit entry: its team (alerts are listed newest first) */
		json_t *e = json_array_get(arr, a->view == &view_alerts ? n - 1 - (size_t)l->lw.sel : (size_t)l->lw.sel);
		const char *team = json_string_value(json_object_get(e, "team"));
		if (!team && a->view == &view_audit) { /* a team's change names it as its target */
			const char *action = json_string_value(json_object_get(e, "action"));
			if (action && strncmp(action, "team.", 5) == 0)
				team = json_string_value(json_object_get(e, "target"));
		}
		if (team)
			app_show_team(a, team);
		else
			app_set_status(a, R_DIM, "this entry names no team");
		return VIEW_HANDLED | VIEW_REDRAW;
	}
	return list_key(a, l, key, (int)n);
}


struct wput {
	struct canvas *cv;
	int y, x, w, role, max;
};

static void put_line(void *arg, int i, const char *line)
{
	struct wput *wp = arg;
	if (i < wp->max)
		cv_put(wp->cv, wp->y + i, wp->x, wp->role, line, wp->w);
}

static void no_line(void *arg, int i, const char *line)
{
	(void)arg, (void)i, (void)line;
}

/* ---- alerts ------------------------------------------------------------ */

json_t *alerts_selected(struct app *a)
{
	struct list_state *l = ls(a, &view_alerts);
	json_t *arr = rows(l);
	size_t n = json_array_size(arr);
	return l->lw.sel >= 0 && (size_t)l->lw.sel < n ? json_array_get(arr, n - 1 - (size_t)l->lw.sel) : NULL;
}

json_t *tokens_selected(struct app *a)
{
	struct list_state *l = ls(a, &view_tokens);
	return json_array_get(rows(l), (size_t)l->lw.sel);
}

static void alerts_draw(struct app *a, struct canvas *cv)
{
	struct list_state *l = ls(a, &view_alerts);
	cv_clear(cv);
	draw_header(a, cv);
	json_t *arr = rows(l);
	size_t n = json_array_size(arr);
	char title[64];
	snprintf(title, sizeof title, "Alerts %zu (newest first)", n);
	cv_box(cv, 1, 0, cv->h - 2, cv->w, R_BORDER, title);
	int w = cv->w - 4, y = 2, bottom = cv->h - 2;
	if (!l->data) {
		cv_put(cv, y, 2, R_DIM, "loading…", -1);
	} else if (n == 0) {
		cv_put(cv, y, 2, R_DIM, "no alerts", -1);
	} else {
		/* whole alerts only: from the first one that keeps the selection
		 * on screen, each alert its head and its wrapped message */
		lw_clamp(&l->lw, (int)n);
		if (l->lw.sel < l->lw.top)
			l->lw.top = l->lw.sel;
		for (;;) {
			int used = 0;
			for (int i = l->lw.top; i <= l->lw.sel; i++)
				used += 1 + wrap_words(js(json_array_get(arr, n - 1 - (size_t)i), "message", ""), w - 4, no_line, NULL);
			if (used <= bottom - y || l->lw.top >= l->lw.sel)
				break;
			l->lw.top++;
		}
		for (int i = l->lw.top; i < (int)n && y < bottom; i++) {
			json_t *e = json_array_get(arr, n - 1 - (size_t)i);
			bool sel = i == l->lw.sel;
			const char *acked = json_string_value(json_object_get(e, "acked_by"));
			char tm[32];
			fmt_when_iso(js(e, "time", ""), a->local_time, WHEN_FULL, tm, sizeof tm);
			char head[256];
			snprintf(head, sizeof head, "%s  %-22s %-16s %s%s", tm,
				 js(e, "kind", ""), js(e, "team", "-"), acked ? "ack: " : "NEW", acked ? acked : "");
			cv_fill(cv, y, 2, w, sel ? R_SELECTED : R_NORMAL, " ");
			cv_put(cv, y++, 2, sel ? R_SELECTED : acked ? R_DIM : R_ALERT, head, w);
			struct wput wp = { cv, y, 6, w - 4, acked ? R_DIM : R_NORMAL, bottom - y };
			int lines = wrap_words(js(e, "message", ""), w - 4, put_line, &wp);
			y += lines < bottom - y ? lines : bottom - y;
		}
	}
	draw_footer(a, cv, NULL);
}

static void alerts_open(struct app *a) { list_open(a, &view_alerts, "/admin/v1/alerts"); }
static void alerts_update(struct app *a) { list_fetch(a, &view_alerts, "/admin/v1/alerts"); }

const struct view view_alerts = { .open = alerts_open, .update = alerts_update, .name = "alerts", .draw = alerts_draw, .key = lists_key, .id = V_ALERTS,
				   .state_size = sizeof(struct list_state), .state_free = list_state_free };

/* ---- audit ---------------------------------------------------------------- */

/* the audit and tokens lists: a click selects the entry under it (one row
 * each, under a header; clamped when drawn), the wheel moves as Up/Down */
static void list_mouse(struct app *a, int kind, int y, int x)
{
	(void)x;
	struct list_state *l = ls(a, a->view);
	int n = (int)json_array_size(rows(l));
	if (kind != K_MOUSE)
		lw_wheel(&l->lw, kind, n);
	else
		lw_click(&l->lw, y - 3, n);
	a->dirty = true;
}

static void audit_diff(struct canvas *cv, int y, int x, int w, int rows, json_t *e, bool local)
{
	json_t *before = json_object_get(e, "before"), *after = json_object_get(e, "after");
	int r = 0;
	char when[32];
	fmt_when_iso(js(e, "time", ""), local, WHEN_FULL, when, sizeof when);
	cv_printf(cv, y + r++, x, R_TITLE, w, "%s %s on %s by %s%s%s", when, js(e, "action", ""),
		  js(e, "target", ""), js(e, "actor", ""), json_is_string(json_object_get(e, "operator")) ? " / " : "",
		  js(e, "operator", ""));
	if (!json_is_object(before) && !json_is_object(after)) {
		cv_put(cv, y + r, x, R_DIM, "(no before/after recorded)", w);
		return;
	}
	const char *k;
	json_t *v;
	json_t *keys = json_is_object(after) ? after : before;
	json_object_foreach(keys, k, v) {
		if (r >= rows)
			break;
		json_t *b = json_object_get(before, k), *af = json_object_get(after, k);
		if (json_equal(b, af) && b)
			continue;
		char *bs = b ? json_dumps(b, JSON_ENCODE_ANY | JSON_COMPACT) : xstrdup("-");
		char *as = af ? json_dumps(af, JSON_ENCODE_ANY | JSON_COMPACT) : xstrdup("-");
		cv_printf(cv, y + r++, x, R_NORMAL, w, "  %-24s %s  ->  %s", k, bs, as);
		free(bs);
		free(as);
	}
	if (r == 1)
		cv_put(cv, y + r, x, R_DIM, "(nothing changed)", w);
}

static void audit_draw(struct app *a, struct canvas *cv)
{
	struct list_state *l = ls(a, &view_audit);
	cv_clear(cv);
	draw_header(a, cv);
	json_t *arr = rows(l);
	int n = (int)json_array_size(arr);
	char title[200];
	snprintf(title, sizeof title, "Audit log (newest first)%s%s", a->audit_filter[0] ? "  filter: " : "", a->audit_filter);
	int dh = cv->h >= 30 ? 10 : 7; /* the selected entry's before and after */
	int lh = cv->h - 2 - dh;
	cv_box(cv, 1, 0, lh, cv->w, R_BORDER, title);
	int w = cv->w - 4;
	if (!l->data) {
		cv_put(cv, 2, 2, R_DIM, "loading…", -1);
	} else if (n == 0) {
		cv_put(cv, 2, 2, R_DIM, a->audit_filter[0] ? "no entry matches the filter (f changes it)" : "nothing yet", -1);
	} else {
		int rows = lh - 3;
		lw_show(&l->lw, n, rows);
		lw_mark(cv, lh, cv->w - 1, &l->lw, n, rows, R_BORDER);
		cv_printf(cv, 2, 2, R_TABLE_HEAD, w, "%-20s %-22s %-26s %s", "TIME", "ACTOR", "ACTION", "TARGET");
		for (int i = 0; i < rows && l->lw.top + i < n; i++) {
			int k = l->lw.top + i;
			json_t *e = json_array_get(arr, (size_t)k);
			char actor[64];
			snprintf(actor, sizeof actor, "%s%s%s%s", js(e, "actor", ""), json_is_string(json_object_get(e, "operator")) ? " (" : "",
				 js(e, "operator", ""), json_is_string(json_object_get(e, "operator")) ? ")" : "");
			int role = k == l->lw.sel ? R_SELECTED : R_NORMAL;
			char when[32];
			fmt_when_iso(js(e, "time", ""), a->local_time, WHEN_FULL, when, sizeof when);
			cv_fill(cv, 3 + i, 2, w, role, " ");
			cv_printf(cv, 3 + i, 2, role, w, "%-20.20s %-22.22s %-26.26s %s", when, actor, js(e, "action", ""),
				  js(e, "target", ""));
		}
	}
	cv_box(cv, 1 + lh, 0, dh, cv->w, R_BORDER, "Before / after");
	json_t *sel = json_array_get(arr, (size_t)l->lw.sel);
	if (sel)
		audit_diff(cv, 2 + lh, 2, w, dh - 2, sel, a->local_time);
	draw_footer(a, cv, NULL);
}

/* ---- :audit's filter --------------------------------------------------- */

/* "team=x actor=y action=z" as the audit route's query */
static char *audit_path(const char *filter)
{
	buf b;
	buf_init(&b);
	buf_adds(&b, "/admin/v1/audit?limit=200");
	char tmp[128];
	snprintf(tmp, sizeof tmp, "%s", filter);
	for (char *w = strtok(tmp, " "); w; w = strtok(NULL, " ")) {
		char *eq = strchr(w, '=');
		if (!eq || (strncmp(w, "team=", 5) && strncmp(w, "actor=", 6) && strncmp(w, "action=", 7)))
			continue;
		buf_adds(&b, "&");
		buf_add(&b, w, (size_t)(eq - w + 1));
		for (const char *p = eq + 1; *p; p++) /* percent-encoded */
			if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || strchr("-_.~", *p))
				buf_add(&b, p, 1);
			else
				buf_addf(&b, "%%%02X", (unsigned char)*p);
	}
	return buf_detach(&b);
}

static void audit_open(struct app *a)
{
	char *path = audit_path(a->audit_filter);
	list_open(a, &view_audit, path);
	free(path);
}

const struct view view_audit = { .open = audit_open, .name = "audit", .draw = audit_draw, .key = lists_key, .id = V_AUDIT, .mouse = list_mouse,
				   .state_size = sizeof(struct list_state), .state_free = list_state_free };

/* ---- tokens ------------------------------------------------------------- */

static void tokens_draw(struct app *a, struct canvas *cv)
{
	struct list_state *l = ls(a, &view_tokens);
	cv_clear(cv);
	draw_header(a, cv);
	json_t *arr = rows(l);
	int n = (int)json_array_size(arr);
	char title[128];
	snprintf(title, sizeof title, "Client tokens of %s (%d)", a->view_team, n);
	cv_box(cv, 1, 0, cv->h - 2, cv->w, R_BORDER, title);
	int w = cv->w - 4;
	if (!l->data) {
		cv_put(cv, 2, 2, R_DIM, "loading…", -1);
	} else if (n == 0) {
		cv_put(cv, 2, 2, R_DIM, "no tokens: n issues one", -1);
	} else {
		int rows = cv->h - 5;
		lw_show(&l->lw, n, rows);
		lw_mark(cv, cv->h - 2, cv->w - 1, &l->lw, n, rows, R_BORDER);
		bool wide = cv->w >= 110;
		if (wide)
			cv_printf(cv, 2, 2, R_TABLE_HEAD, w, "%-18s %-24s %-20s %-20s %9s  %-8s %s", "ID", "LABEL", "CREATED", "LAST USED",
				  "REQUESTS", "STATE", "CREATED BY");
		else
			cv_printf(cv, 2, 2, R_TABLE_HEAD, w, "%-18s %-18s %-17s %8s  %s", "ID", "LABEL", "LAST USED", "REQUESTS", "STATE");
		int64_t now = app_now(a);
		for (int i = 0; i < rows && l->lw.top + i < n; i++) {
			int k = l->lw.top + i;
			json_t *t = json_array_get(arr, (size_t)k);
			bool revoked = !json_is_null(json_object_get(t, "revoked_at"));
			int role = k == l->lw.sel ? R_SELECTED : revoked ? R_DIM : R_NORMAL;
			const char *used = json_string_value(json_object_get(t, "last_used_at"));
			char ago[24] = "never";
			if (used) {
				char age[16];
				fmt_age(now - iso_ms(used), age, sizeof age);
				snprintf(ago, sizeof ago, "%s ago", age);
			}
			char made[32], last[32] = "never";
			fmt_when_iso(js(t, "created_at", ""), a->local_time, WHEN_FULL, made, sizeof made);
			if (used)
				fmt_when_iso(used, a->local_time, WHEN_FULL, last, sizeof last);
			cv_fill(cv, 3 + i, 2, w, role, " ");
			if (wide)
				cv_printf(cv, 3 + i, 2, role, w, "%-18.18s %-24.24s %-20.20s %-20.20s %9lld  %-8s %s", js(t, "id", ""),
					  js(t, "label", ""), made, last,
					  (long long)json_integer_value(json_object_get(t, "requests")), revoked ? "revoked" : "active",
					  js(t, "created_by", "-"));
			else
				cv_printf(cv, 3 + i, 2, role, w, "%-18.18s %-18.18s %-17.17s %8lld  %s", js(t, "id", ""), js(t, "label", ""),
					  ago, (long long)json_integer_value(json_object_get(t, "requests")), revoked ? "revoked" : "active");
		}
	}
	draw_footer(a, cv, NULL);
}

/* the tokens of the team the view shows */
void tokens_fetch(struct app *a)
{
	char *path = xasprintf("/admin/v1/teams/%s/tokens", a->view_team);
	list_fetch(a, &view_tokens, path);
	free(path);
}

static void tokens_open(struct app *a)
{
	if (!app_pick_team(a))
		return;
	list_open(a, &view_tokens, NULL);
	tokens_fetch(a);
}

const struct view view_tokens = { .open = tokens_open, .update = tokens_fetch, .name = "tokens", .draw = tokens_draw, .key = lists_key, .id = V_TOKENS, .mouse = list_mouse,
				   .state_size = sizeof(struct list_state), .state_free = list_state_free };

/* ---- usage ----------------------------------------------------------------- */

static const char *const win_names[] = { "24h", "7d", "month" };
static const char *const win_steps[] = { "1h", "6h", "1d" };

/* the usage view's own state (view_state) */
struct usage_state {
	json_t *usage; /* GET /admin/v1/usage?team=...&window=... */
	int win;       /* win_names[] */
};

static struct usage_state *us(struct app *a)
{
	return view_state(a, &view_usage);
}

static void usage_state_free(void *state)
{
	json_decref(((struct usage_state *)state)->usage);
}

static void on_usage_view(void *arg, long status, const char *body, size_t len, const char *err)
{
	struct app *a = arg;
	struct usage_state *u = us(a);
	json_decref(u->usage);
	u->usage = status == 200 ? json_loadb(body, len, 0, NULL) : NULL;
	if (status != 200)
		app_set_status(a, R_ERROR, "could not load the usage: %s", err ? err : "HTTP error");
	a->dirty = true;
}

void usage_fetch(struct app *a)
{
	int win = us(a)->win;
	char *path = xasprintf("/admin/v1/usage?team=%s&window=%s&step=%s", a->view_team, win_names[win], win_steps[win]);
	client_request(a->cl, "GET", path, NULL, NULL, 10000, on_usage_view, a);
	free(path);
}

void usage_open(struct app *a)
{
	struct usage_state *u = us(a);
	json_decref(u->usage);
	u->usage = NULL;
	usage_fetch(a);
}

void usage_next_window(struct app *a)
{
	struct usage_state *u = us(a);
	u->win = (u->win + 1) % (int)ARRAY_LEN(win_names);
	usage_fetch(a);
}

static void breakdown(struct canvas *cv, int y, int x, int w, int rows, json_t *arr, const char *field, const char *head)
{
	cv_printf(cv, y, x, R_TABLE_HEAD, w, "%-23s %9s %10s %10s", head, "REQUESTS", "TOKENS", "SPEND $");
	size_t i;
	json_t *e;
	json_array_foreach(arr, i, e) {
		if ((int)i >= rows - 1)
			break;
		cv_printf(cv, y + 1 + (int)i, x, R_NORMAL, w, "%-23.23s %9lld %10lld %10.4f", js(e, field, "-"),
			  (long long)json_integer_value(json_object_get(e, "requests")),
			  (long long)json_integer_value(json_object_get(e, "tokens")),
			  json_number_value(json_object_get(e, "spend_usd")));
	}
	if (json_array_size(arr) == 0)
		cv_put(cv, y + 1, x, R_DIM, "no requests in the window", w);
}

static void usage_draw(struct app *a, struct canvas *cv)
{
	struct usage_state *st = us(a);
	cv_clear(cv);
	draw_header(a, cv);
	char title[128];
	snprintf(title, sizeof title, "Usage of %s: %s", a->view_team, win_names[st->win]);
	cv_box(cv, 1, 0, cv->h - 2, cv->w, R_BORDER, title);
	int w = cv->w - 4;
	json_t *u = st->usage;
	if (!u) {
		cv_put(cv, 2, 2, R_DIM, "loading…", -1);
		draw_footer(a, cv, NULL);
		return;
	}
	json_t *pts = json_object_get(u, "points");
	double req[2000], spend[2000];
	int np = 0;
	int64_t treq = 0, tok = 0, okn = 0, rej = 0;
	double tspend = 0;
	size_t i;
	json_t *p;
	json_array_foreach(pts, i, p) {
		if (np == 2000)
			break;
		req[np] = (double)json_integer_value(json_object_get(p, "requests"));
		spend[np] = json_number_value(json_object_get(p, "spend_usd"));
		treq += json_integer_value(json_object_get(p, "requests"));
		okn += json_integer_value(json_object_get(p, "ok"));
		rej += json_integer_value(json_object_get(p, "rejected"));
		tok += json_integer_value(json_object_get(p, "tokens"));
		tspend += spend[np];
		np++;
	}
	int y = 2;
	cv_printf(cv, y++, 2, R_TITLE, w, "%lld requests (%lld ok, %lld refused), %lld tokens, $%.4f in the last %s", (long long)treq,
		  (long long)okn, (long long)rej, (long long)tok, tspend, win_names[st->win]);
	cv_printf(cv, y++, 2, R_NORMAL, w, "month to date $%.2f, projected month-end $%.2f",
		  json_number_value(json_object_get(u, "spend_mtd_usd")), json_number_value(json_object_get(u, "projected_month_usd")));
	y++;
	int sw = w - 16;
	int n0 = cv_printf(cv, y, 2, R_DIM, 14, "requests/%s", win_steps[st->win]);
	cv_spark(cv, y++, 2 + 15, sw, req, np);
	(void)n0;
	cv_printf(cv, y, 2, R_DIM, 14, "spend/%s", win_steps[st->win]);
	cv_spark(cv, y++, 2 + 15, sw, spend, np);
	y++;
	int rows = cv->h - 2 - y;
	if (cv->w >= 110) {
		int half = (w - 2) / 2;
		breakdown(cv, y, 2, half, rows, json_object_get(u, "by_model"), "model", "BY MODEL");
		breakdown(cv, y, 4 + half, half, rows, json_object_get(u, "by_route"), "route", "BY ROUTE");
	} else {
		int nm = (int)json_array_size(json_object_get(u, "by_model"));
		int mr = nm + 2 < rows / 2 + 1 ? nm + 2 : rows / 2 + 1;
		breakdown(cv, y, 2, w, mr, json_object_get(u, "by_model"), "model", "BY MODEL");
		breakdown(cv, y + mr, 2, w, rows - mr, json_object_get(u, "by_route"), "route", "BY ROUTE");
	}
	draw_footer(a, cv, NULL);
}

static void usage_view_open(struct app *a)
{
	if (!app_pick_team(a))
		return;
	view_enter(a, &view_usage);
	usage_open(a);
}

const struct view view_usage = { .open = usage_view_open, .update = usage_fetch, .name = "usage", .draw = usage_draw, .id = V_USAGE,
				 .state_size = sizeof(struct usage_state), .state_free = usage_state_free };

/* ---- fleet ------------------------------------------------------------------ */

/* the fleet view's own state: its GET /admin/v1/cluster (a json_t *) */
static json_t **fleet(struct app *a)
{
	return view_state(a, &view_fleet);
}

static void fleet_state_free(void *state)
{
	json_decref(*(json_t **)state);
}

static void on_fleet(void *arg, long status, const char *body, size_t len, const char *err)
{
	struct app *a = arg;
	json_t *j = status == 200 ? json_loadb(body, len, 0, NULL) : NULL;
	if (j) {
		json_decref(*fleet(a));
		*fleet(a) = j;
	} else {
		app_set_status(a, R_ERROR, "could not load the fleet: %s", err ? err : "HTTP error");
	}
	a->dirty = true;
}

void fleet_fetch(struct app *a)
{
	client_request(a->cl, "GET", "/admin/v1/cluster", NULL, NULL, 5000, on_fleet, a);
}

static void fleet_draw(struct app *a, struct canvas *cv)
{
	cv_clear(cv);
	draw_header(a, cv);
	json_t *f = *fleet(a), *reps = json_object_get(f, "replicas");
	int n = (int)json_array_size(reps), up = 0;
	size_t i;
	json_t *r;
	json_array_foreach(reps, i, r) up += strcmp(js(r, "state", ""), "serving") == 0;
	char title[96];
	snprintf(title, sizeof title, "Fleet: %s, %d/%d serving", js(f, "mode", "?"), up, n);
	cv_box(cv, 1, 0, cv->h - 2, cv->w, R_BORDER, f ? title : "Fleet");
	int w = cv->w - 4, y = 2;
	if (!f) {
		cv_put(cv, y, 2, R_DIM, "loading…", -1);
		draw_footer(a, cv, NULL);
		return;
	}
	json_t *st = json_object_get(f, "store"), *ct = json_object_get(f, "counters");
	cv_printf(cv, y++, 2, json_is_true(json_object_get(st, "up")) ? R_NORMAL : R_ERROR, w, "store: %s, %s    counters: %s, %s",
		  js(st, "kind", "?"), json_is_true(json_object_get(st, "up")) ? "up" : "DOWN", js(ct, "kind", "?"),
		  json_is_true(json_object_get(ct, "up")) ? "up" : "DOWN");
	if (strcmp(js(f, "mode", ""), "single") == 0)
		cv_put(cv, y++, 2, R_DIM, "One gateway on its own store (single mode): the fleet is this replica.", w);
	y++;
	cv_printf(cv, y++, 2, R_TABLE_HEAD, w, "%-20s %-22s %-8s %-21s %-21s %-8s %8s", "REPLICA", "LISTEN", "VERSION",
		  "STARTED", "LAST SEEN", "STATE", "INFLIGHT");
	json_array_foreach(reps, i, r) {
		if (y >= cv->h - 2)
			break;
		const char *s = js(r, "state", "?");
		if (json_is_true(json_object_get(r, "draining"))) /* down to new requests, finishing its own */
			s = "draining";
		cv_printf(cv, y++, 2, strcmp(s, "serving") == 0 ? R_NORMAL : strcmp(s, "stale") == 0 || strcmp(s, "draining") == 0 ? R_STALE : R_ERROR, w,
			  "%-20.20s %-22.22s %-8.8s %-21.21s %-21.21s %-8.8s %8lld", js(r, "id", "?"), js(r, "listen", "?"),
			  js(r, "version", "?"), js(r, "started_at", "-"), js(r, "last_seen_at", "-"), s,
			  (long long)json_integer_value(json_object_get(r, "inflight")));
	}
	draw_footer(a, cv, NULL);
}

static void fleet_open(struct app *a)
{
	view_enter(a, &view_fleet);
	fleet_fetch(a);
}

const struct view view_fleet = { .open = fleet_open, .update = fleet_fetch, .name = "fleet", .draw = fleet_draw, .id = V_FLEET, .state_size = sizeof(json_t *),
				 .state_free = fleet_state_free };
