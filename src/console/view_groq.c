/* view_groq.c — :groq, Groq's own view: per project (a team's keys) and
 * model, Groq's request and token rates beside the gateway's, drift in the
 * alert colour, TTFT p99, models Groq no longer lists, and the age of the
 * figures. With --groq-key-file the console also reads Groq's metrics
 * itself, so that Groq's side is still on screen while the gateway is down
 * (labelled so: without the gateway there is nothing to reconcile). */
#include "console.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "groq.h"
#include "util.h"

/* the view's own state (view_state) */
struct groq_state {
	struct pager pg;         /* where the view is scrolled to */
	json_t *gw;              /* the gateway's GET /admin/v1/groq */
	int64_t ms;              /* when it was read */
	json_t *direct;          /* Groq's metrics read directly, in that shape (gateway fields null) */
	int64_t direct_ms;
	char direct_err[160];
	struct gm_figures *fig;  /* a direct poll in progress */
	int pending;
	char sel[128];           /* the selected project (Enter opens its team) by name ... */
	int sel_i;               /* ... and where it was (-1: none yet: the first drifting one) */
	bool follow;             /* the pager scrolls to show it (it was moved) */
};

static struct groq_state *gs(struct app *a)
{
	return view_state(a, &view_groq);
}

static void groq_state_free(void *state)
{
	struct groq_state *g = state;
	json_decref(g->gw);
	json_decref(g->direct);
	if (g->fig) {
		gm_free(g->fig);
		free(g->fig);
	}
}

/* ---- the gateway's GET /admin/v1/groq ------------------------------- */

static void on_groq(void *arg, long status, const char *body, size_t len, const char *err)
{
	struct app *a = arg;
	struct groq_state *g = gs(a);
	(void)err;
	json_t *j = status == 200 ? json_loadb(body, len, 0, NULL) : NULL;
	if (json_is_object(j)) {
		json_decref(g->gw);
		g->gw = j;
		g->ms = wall_ms();
	} else {
		json_decref(j);
	}
	a->dirty = true;
}

/* ---- Groq's metrics read directly ----------------------------------- */

struct gq {
	struct app *a;
	enum gm_series s;
};

/* Groq's figures in /admin/v1/groq's shape (team, keys and the gateway's
 * rates unknown) */
static json_t *direct_json(const struct gm_figures *f)
{
	json_t *projects = json_array();
	json_t *p = NULL;
	for (int i = 0; i < f->n; i++) {
		const struct gm_row *r = &f->rows[i];
		if (!p || strcmp(json_string_value(json_object_get(p, "project")), r->project) != 0) {
			p = json_pack("{s:s,s:n,s:[],s:f,s:n,s:f,s:b,s:[]}", "project", r->project, "team", "keys", "groq_rpm",
				      0.0, "gateway_rpm", "groq_tokens_per_min", 0.0, "drift", 0, "models");
			json_array_append_new(projects, p);
		}
		json_object_set_new(p, "groq_rpm", json_real(json_real_value(json_object_get(p, "groq_rpm")) + r->req_s * 60));
		json_object_set_new(p, "groq_tokens_per_min", json_real(json_real_value(json_object_get(p, "groq_tokens_per_min")) +
									(r->tin_s + r->tout_s) * 60));
		json_t *m = json_pack("{s:s,s:f,s:n,s:f,s:f}", "model", r->model, "groq_rpm", r->req_s * 60, "gateway_rpm",
				      "groq_tokens_in_per_min", r->tin_s * 60, "groq_tokens_out_per_min", r->tout_s * 60);
		json_object_set_new(m, "ttft_p99_s", r->ttft_p99 >= 0 ? json_real(r->ttft_p99) : json_null());
		json_array_append_new(json_object_get(p, "models"), m);
	}
	return json_pack("{s:b,s:s,s:o,s:[]}", "available", 1, "state", "ok", "projects", projects, "unlisted_models");
}

static void on_direct(void *arg, long status, const char *body, size_t len, const char *err)
{
	struct gq *q = arg;
	struct app *a = q->a;
	struct groq_state *g = gs(a);
	if (g->fig) {
		char *cause = NULL;
		if (status == 404)
			snprintf(g->direct_err, sizeof g->direct_err, "not available (Enterprise only): Groq answered 404");
		else if (status != 200)
			snprintf(g->direct_err, sizeof g->direct_err, "%s", err ? err : "Groq answered an error");
		else if (gm_add(g->fig, q->s, body, len, &cause) != 0)
			snprintf(g->direct_err, sizeof g->direct_err, "%s", cause);
		free(cause);
	}
	free(q);
	if (--g->pending > 0 || !g->fig)
		return;
	if (!g->direct_err[0]) {
		gm_finish(g->fig);
		json_decref(g->direct);
		g->direct = direct_json(g->fig);
		g->direct_ms = wall_ms();
	}
	gm_free(g->fig);
	free(g->fig);
	g->fig = NULL;
	a->dirty = true;
}

static void direct_poll(struct app *a)
{
	struct groq_state *g = gs(a);
	if (!a->gcl || g->pending)
		return;
	g->fig = xcalloc(1, sizeof *g->fig);
	g->direct_err[0] = '\0';
	for (int s = 0; s < GM_NSERIES; s++) {
		struct gq *q = xcalloc(1, sizeof *q);
		*q = (struct gq){ a, (enum gm_series)s };
		char *path = xconcat(GM_QUERY_PATH "?query=", gm_series_name[s], NULL);
		if (client_request(a->gcl, "GET", path, NULL, NULL, 10000, on_direct, q) == 0)
			g->pending++;
		else
			free(q);
		free(path);
	}
}

void groq_poll(struct app *a)
{
	client_request(a->cl, "GET", "/admin/v1/groq", NULL, NULL, 5000, on_groq, a);
	direct_poll(a);
}

/* ---- drawing ---------------------------------------------------------- */

static double rnum(json_t *o, const char *k, bool *known)
{
	json_t *v = json_object_get(o, k);
	if (known)
		*known = json_is_number(v);
	return json_is_number(v) ? json_number_value(v) : 0;
}

static const char *str(json_t *o, const char *k, const char *dflt)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : dflt;
}

/* "12.5", or "-" when unknown */
static void rate(char *out, size_t n, json_t *o, const char *k)
{
	bool known;
	double v = rnum(o, k, &known);
	if (!known)
		snprintf(out, n, "-");
	else if (v >= 10000)
		snprintf(out, n, "%.0fk", v / 1000);
	else
		snprintf(out, n, "%.1f", v);
}

/* the view's text from row 0 (the pager shows the part that fits) */
/* the selected project's index in projects: the one named sel, else the
 * one at the same place (a project without a usable name), else the first
 * that drifts or mismatches, else the first (-1: none); sel updated */
static int selected(struct groq_state *g, json_t *projects)
{
	size_t i;
	json_t *p;
	int n = (int)json_array_size(projects), first_flag = -1, at = -1;
	json_array_foreach(projects, i, p) {
		const char *name = json_string_value(json_object_get(p, "project"));
		if (g->sel[0] && str_eq(name, g->sel)) {
			at = (int)i;
			break;
		}
		if (first_flag < 0 && (json_is_true(json_object_get(p, "drift")) || json_is_true(json_object_get(p, "mismatch"))))
			first_flag = (int)i;
	}
	if (at < 0)
		at = n == 0 ? -1 : g->sel_i >= 0 ? (g->sel_i < n ? g->sel_i : n - 1) : first_flag >= 0 ? first_flag : 0;
	g->sel_i = at;
	if (at >= 0)
		snprintf(g->sel, sizeof g->sel, "%s", str(json_array_get(projects, (size_t)at), "project", ""));
	return at;
}

/* what the view shows: the gateway's figures while it answers, Groq's own
 * otherwise (borrowed; NULL: none yet) */
static json_t *shown(struct app *a)
{
	struct groq_state *st = gs(a);
	bool gw_fresh = st->gw && a->have_data && a->fails == 0;
	return gw_fresh ? st->gw : st->direct ? st->direct : st->gw;
}

static int groq_body(struct app *a, struct canvas *cv)
{
	struct groq_state *st = gs(a);
	json_t *j = shown(a);
	bool direct = j && j == st->direct;
	int y = 0, w = cv->w - 4;
	if (!j) {
		cv_put(cv, y, 2, R_DIM, a->gcl && st->direct_err[0] ? st->direct_err : "loading…", w);
		return 1;
	}
	bool available = json_is_true(json_object_get(j, "available"));
	const char *state = str(j, "state", "");
	char age[16] = "-";
	if (direct)
		fmt_age(wall_ms() - st->direct_ms, age, sizeof age);
	else if (json_is_integer(json_object_get(j, "age_s")))
		fmt_age(json_integer_value(json_object_get(j, "age_s")) * 1000, age, sizeof age);
	if (direct) {
		cv_printf(cv, y++, 2, R_STALE, w, "Direct from Groq (%s), figures %s old.", a->groq_url, age);
		cv_put(cv, y++, 2, R_STALE, "The gateway is not answering: Groq's side alone, no teams, no reconciliation.", w);
	} else if (!available) {
		cv_printf(cv, y++, 2, R_DIM, w, "Groq metrics: %s", strcmp(state, "off") == 0 ? "not configured (groq_metrics in the gateway's configuration)"
			: str(j, "reason", "not available"));
		cv_put(cv, y++, 2, R_DIM, "The x-ratelimit headroom in the header is what Groq says on every answer.", w);
	} else {
		bool stale = json_is_true(json_object_get(j, "stale"));
		cv_printf(cv, y++, 2, stale ? R_STALE : R_NORMAL, w, "Groq's metrics, %s old%s; per minute over %llds, every %llds.",
			  age, stale ? " (STALE: polling fails)" : "",
			  (long long)json_integer_value(json_object_get(j, "window_s")),
			  (long long)json_integer_value(json_object_get(j, "interval_s")));
	}
	y++;
	json_t *projects = json_object_get(j, "projects");
	int ndrift = 0;
	size_t i;
	json_t *p;
	int nmis = 0;
	json_array_foreach(projects, i, p) {
		ndrift += json_is_true(json_object_get(p, "drift"));
		nmis += json_is_true(json_object_get(p, "mismatch"));
	}
	if (ndrift)
		cv_printf(cv, y++, 2, R_ALERT, w, "DRIFT on %d project%s: Groq counts more than the gateway sent (leaked key?)", ndrift, ndrift > 1 ? "s" : "");
	if (nmis)
		cv_printf(cv, y++, 2, R_ALERT, w, "MISMATCH on %d project%s: the gateway sent more than Groq counts there (a key in another Groq project?)",
			  nmis, nmis > 1 ? "s" : "");
	struct groq_state *gst = gs(a);
	int sel = selected(gst, projects);
	if (available && json_array_size(projects) > 0) {
		int rows = cv->h - 1;
		/* narrow screens keep the columns that decide: rates and drift */
		bool wide = cv->w >= 110;
		if (wide)
			cv_printf(cv, y++, 2, R_TABLE_HEAD, w, "%-26s %-12s %8s %7s %10s %11s %8s %-5s %s", "PROJECT / MODEL", "TEAM",
				  "GROQ RPM", "GW RPM", "TOK IN/MIN", "TOK OUT/MIN", "TTFT p99", "", "KEYS");
		else
			cv_printf(cv, y++, 2, R_TABLE_HEAD, w, "%-22s %-10s %8s %7s %-5s %s", "PROJECT / MODEL", "TEAM", "GROQ RPM",
				  "GW RPM", "", "KEYS");
		json_array_foreach(projects, i, p) {
			if (y >= rows)
				break;
			bool d = json_is_true(json_object_get(p, "drift")), mis = json_is_true(json_object_get(p, "mismatch"));
			const char *flag = d ? "DRIFT" : mis ? "MISM" : "";
			char g[16], gw[16], tin[16], tout[16];
			rate(g, sizeof g, p, "groq_rpm");
			rate(gw, sizeof gw, p, "gateway_rpm");
			/* the project's tokens: its models' */
			double sin = 0, sout = 0;
			size_t mi;
			json_t *m;
			json_array_foreach(json_object_get(p, "models"), mi, m) {
				sin += rnum(m, "groq_tokens_in_per_min", NULL);
				sout += rnum(m, "groq_tokens_out_per_min", NULL);
			}
			json_t *tv = json_real(sin);
			json_t *tmp = json_pack("{s:o,s:f}", "i", tv, "o", sout);
			rate(tin, sizeof tin, tmp, "i");
			rate(tout, sizeof tout, tmp, "o");
			json_decref(tmp);
			char keys[256] = "";
			size_t k;
			json_t *kv;
			json_array_foreach(json_object_get(p, "keys"), k, kv) {
				size_t l = strlen(keys);
				snprintf(keys + l, sizeof keys - l, "%s%s", l ? "," : "", json_string_value(kv));
			}
			const char *team = str(p, "team", direct ? "?" : "(no key)");
			int role = (int)i == sel ? R_SELECTED : *flag ? R_ALERT : R_TITLE;
			if ((int)i == sel) {
				cv_fill(cv, y, 1, w + 1, R_SELECTED, " ");
				struct pager *pg = &gst->pg;
				if (gst->follow && pg->shown > 0) { /* moved: the pager keeps it in sight */
					if (y < pg->top)
						pg->top = y;
					else if (y >= pg->top + pg->shown)
						pg->top = y - pg->shown + 1;
				}
				gst->follow = false;
			}
			if (wide)
				cv_printf(cv, y++, 2, role, w, "%-26.26s %-12.12s %8s %7s %10s %11s %8s %-5s %s",
					  str(p, "project", "?"), team, g, gw, tin, tout, "", flag, keys[0] ? keys : "-");
			else
				cv_printf(cv, y++, 2, role, w, "%-22.22s %-10.10s %8s %7s %-5s %s",
					  str(p, "project", "?"), team, g, gw, flag, keys[0] ? keys : "-");
			json_array_foreach(json_object_get(p, "models"), mi, m) {
				if (y >= rows)
					break;
				char mg[16], mgw[16], mtin[16], mtout[16], tt[16] = "-";
				rate(mg, sizeof mg, m, "groq_rpm");
				rate(mgw, sizeof mgw, m, "gateway_rpm");
				rate(mtin, sizeof mtin, m, "groq_tokens_in_per_min");
				rate(mtout, sizeof mtout, m, "groq_tokens_out_per_min");
				bool known;
				double t = rnum(m, "ttft_p99_s", &known);
				if (known)
					snprintf(tt, sizeof tt, "%.2fs", t);
				if (wide)
					cv_printf(cv, y++, 2, R_NORMAL, w, "  %-37.37s %8s %7s %10s %11s %8s", str(m, "model", "?"), mg,
						  mgw, mtin, mtout, tt);
				else /* a model's name takes the team's column too */
					cv_printf(cv, y++, 2, R_NORMAL, w, "  %-31.31s %8s %7s", str(m, "model", "?"), mg, mgw);
			}
		}
	} else if (available) {
		cv_put(cv, y++, 2, R_DIM, "No traffic in Groq's window, and no key names a Groq project (groq_project).", w);
	}
	/* models Groq no longer lists, and its decommissioned answers */
	json_t *un = json_object_get(j, "unlisted_models");
	if (json_array_size(un) && y < cv->h - 3) {
		y++;
		cv_put(cv, y++, 2, R_TITLE, "Models Groq no longer lists (allowlists and prices to update):", w);
		buf b;
		buf_init(&b);
		json_array_foreach(un, i, p) {
			const char *team = json_string_value(json_object_get(p, "team"));
			buf_addf(&b, "%s%s: %s", i ? "; " : "", team ? team : "price table", str(p, "model", "?"));
		}
		cv_put(cv, y++, 4, R_ALERT, b.data, w - 2);
		buf_free(&b);
	}
	json_t *dec = json_object_get(j, "decommissioned");
	if (json_array_size(dec) && y < cv->h - 3) {
		buf b;
		buf_init(&b);
		json_array_foreach(dec, i, p) buf_addf(&b, "%s%s %s x%lld", i ? "; " : "", str(p, "team", "?"), str(p, "model", "?"),
						   (long long)json_integer_value(json_object_get(p, "count")));
		cv_printf(cv, y++, 2, R_ALERT, w, "400 model_decommissioned answers: %s", b.data);
		buf_free(&b);
	}
	return y;
}

static void groq_draw(struct app *a, struct canvas *cv)
{
	pager_draw(a, cv, &gs(a)->pg, "Groq's own view", groq_body, "Esc Back  j/k Select  Enter Team  PgDn Scroll  R Refresh  q Quit");
}

/* Enter: the selected project's team in the teams pane */
static int groq_enter(struct app *a)
{
	struct groq_state *g = gs(a);
	json_t *projects = json_object_get(shown(a), "projects");
	int at = selected(g, projects);
	const char *t = at < 0 ? NULL : json_string_value(json_object_get(json_array_get(projects, (size_t)at), "team"));
	if (!t) {
		app_set_status(a, R_DIM, at < 0 ? "no project to open: Groq's window has no traffic"
				       : shown(a) == g->direct ? "direct from Groq: no teams to open while the gateway is down"
							       : "this project's keys belong to no team of the gateway");
		return VIEW_REDRAW;
	}
	app_show_team(a, t);
	return VIEW_HANDLED | VIEW_REDRAW;
}

/* j/k and the arrows select a project (the pager follows); the other
 * keys scroll as a pager does */
static int groq_key(struct app *a, int key)
{
	struct groq_state *g = gs(a);
	if (key == K_ENTER)
		return groq_enter(a);
	json_t *projects = json_object_get(shown(a), "projects");
	int n = (int)json_array_size(projects);
	int dir = key == 'j' || key == K_DOWN ? 1 : key == 'k' || key == K_UP ? -1 : 0;
	if (dir && n > 0) {
		int at = selected(g, projects) + dir;
		if (at < 0 || at >= n) /* past the first or the last project: the page scrolls */
			return pager_key(&g->pg, key);
		snprintf(g->sel, sizeof g->sel, "%s", str(json_array_get(projects, (size_t)at), "project", ""));
		g->sel_i = at;
		g->follow = true;
		return VIEW_HANDLED | VIEW_REDRAW;
	}
	return pager_key(&g->pg, key);
}

const char *groq_direct_missing(struct app *a)
{
	struct groq_state *g = gs(a);
	return g->direct ? NULL : g->direct_err[0] ? g->direct_err : "no answer";
}

static void groq_open(struct app *a)
{
	struct groq_state *g = gs(a);
	g->sel[0] = '\0'; /* opened afresh: the first drifting project selected */
	g->sel_i = -1;
	view_enter(a, &view_groq);
	groq_poll(a);
}

const struct view view_groq = { .open = groq_open, .update = groq_poll, .name = "groq", .draw = groq_draw, .key = groq_key, .id = V_GROQ, .state_size = sizeof(struct groq_state),
				.state_free = groq_state_free };
