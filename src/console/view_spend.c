/* view_spend.c — :spend: the month so far by team, by model or by end
 * user (GET /admin/v1/spend), biggest first, each row's share of the
 * total; `e` writes the view as CSV to a file (the gateway's own CSV). */
#include "console.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util.h"

static const char *const groups[] = { "team", "model", "user" };

struct spend_state {
	json_t *j;    /* the last answer */
	int group;    /* index into groups */
	char from[11], to[11];
	struct pager pg;
	char path[512]; /* an export on its way */
	int64_t fetched_ms; /* asked for again every SPEND_EVERY_MS while open */
};

#define SPEND_EVERY_MS 30000 /* a month of the ledger is summed: not at every refresh */

static struct spend_state *st(struct app *a)
{
	return view_state(a, &view_spend);
}

static void spend_state_free(void *state)
{
	json_decref(((struct spend_state *)state)->j);
}

/* this month, UTC, as the console's clock has it: its first day and today
 * (the file name of an export; the gateway sums its own month) */
static void month_range(struct app *a, struct spend_state *s)
{
	time_t now = (time_t)(app_now(a) / 1000);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(s->to, sizeof s->to, "%Y-%m-%d", &tm);
	tm.tm_mday = 1;
	strftime(s->from, sizeof s->from, "%Y-%m-%d", &tm);
}

static void on_spend(void *arg, long status, const char *body, size_t len, const char *err)
{
	struct app *a = arg;
	app_take_answer(a, &st(a)->j, status, body, len, err, "the spend");
}

/* the gateway's month so far (its clock: the console's may be another's) */
static char *spend_path(struct spend_state *s, const char *format)
{
	return xasprintf("/admin/v1/spend?group_by=%s&format=%s", groups[s->group], format);
}

static void spend_fetch(struct app *a)
{
	struct spend_state *s = st(a);
	if (s->fetched_ms && wall_ms() - s->fetched_ms < SPEND_EVERY_MS)
		return;
	s->fetched_ms = wall_ms();
	month_range(a, s);
	char *p = spend_path(s, "json");
	client_request(a->cl, "GET", p, NULL, NULL, 10000, on_spend, a);
	free(p);
}

static void spend_open(struct app *a)
{
	view_enter(a, &view_spend);
	st(a)->fetched_ms = 0;
	spend_fetch(a);
}

static int by_cost(const void *x, const void *y)
{
	double a = json_real_value(json_object_get(*(json_t *const *)x, "cost_usd"));
	double b = json_real_value(json_object_get(*(json_t *const *)y, "cost_usd"));
	return a < b ? 1 : a > b ? -1 : 0;
}

static int spend_body(struct app *a, struct canvas *cv)
{
	struct spend_state *s = st(a);
	json_t *rows = json_object_get(s->j, "rows");
	int w = cv->w - 4, y = 0;
	if (!s->j) {
		cv_put(cv, y, 2, R_DIM, "loading…", -1);
		return 1;
	}
	double total = json_real_value(json_object_get(s->j, "total_cost_usd"));
	size_t n = json_array_size(rows);
	json_t **r = xcalloc(n + 1, sizeof *r);
	for (size_t i = 0; i < n; i++)
		r[i] = json_array_get(rows, i);
	qsort(r, n, sizeof *r, by_cost);
	/* the columns that fit: the cached and then the input tokens go first
	 * on a narrow terminal */
	bool cached = w >= 100, input = w >= 80;
	int name_w = w - 10 - 13 - 15 - 7 - (cached ? 13 : 0) - (input ? 13 : 0);
	if (name_w < 12)
		name_w = 12;
	buf h;
	buf_init(&h);
	buf_addf(&h, "%-*s %9s", name_w, s->group == 2 ? "END USER" : s->group == 1 ? "MODEL" : "TEAM", "REQUESTS");
	if (input)
		buf_addf(&h, " %12s", "INPUT TOK");
	if (cached)
		buf_addf(&h, " %12s", "CACHED TOK");
	buf_addf(&h, " %12s %14s %6s", "OUTPUT TOK", "COST USD", "SHARE");
	cv_put(cv, y++, 2, R_TITLE, h.data, w);
	for (size_t i = 0; i < n; i++) {
		json_t *row = r[i];
		const char *name = json_string_value(json_object_get(row, groups[s->group]));
		double cost = json_real_value(json_object_get(row, "cost_usd"));
		buf_reset(&h);
		buf_addf(&h, "%-*.*s %9lld", name_w, name_w, name ? name : "(none)",
			 (long long)json_integer_value(json_object_get(row, "requests")));
		if (input)
			buf_addf(&h, " %12lld", (long long)json_integer_value(json_object_get(row, "input_tokens")));
		if (cached)
			buf_addf(&h, " %12lld", (long long)json_integer_value(json_object_get(row, "cached_input_tokens")));
		buf_addf(&h, " %12lld %14.6f %5.1f%%", (long long)json_integer_value(json_object_get(row, "output_tokens")), cost,
			 total > 0 ? cost / total * 100 : 0.0);
		cv_put(cv, y++, 2, R_NORMAL, h.data, w);
	}
	buf_free(&h);
	int total_at = name_w + 10 + (input ? 13 : 0) + (cached ? 13 : 0) + 13 + 1;
	free(r);
	if (!n)
		cv_put(cv, y++, 2, R_DIM, "Nothing spent this month yet.", w);
	y++;
	cv_put(cv, y, 2, R_TITLE, "TOTAL", w);
	cv_printf(cv, y++, 2 + total_at, R_TITLE, w - total_at, "%14.6f", total);
	return y;
}

static void spend_draw(struct app *a, struct canvas *cv)
{
	struct spend_state *s = st(a);
	char title[160];
	snprintf(title, sizeof title, "Spend this month (UTC) by %s", groups[s->group]);
	pager_draw(a, cv, &s->pg, title, spend_body, NULL);
}

/* the CSV, as the gateway writes it, into the file asked for */
static void on_csv(void *arg, long status, const char *body, size_t len, const char *err)
{
	struct app *a = arg;
	struct spend_state *s = st(a);
	if (status != 200) {
		app_set_status(a, R_ERROR, "export: the gateway answered %ld: %s", status, err ? err : "HTTP error");
		return;
	}
	FILE *f = fopen(s->path, "w");
	if (!f || fwrite(body, 1, len, f) != len || fclose(f) != 0) {
		app_set_status(a, R_ERROR, "export: cannot write %s: %s", s->path, strerror(errno));
		return;
	}
	int lines = 0;
	for (size_t i = 0; i < len; i++)
		lines += body[i] == '\n';
	app_set_status(a, R_OK, "exported %d row%s to %s", lines - 1, lines == 2 ? "" : "s", s->path);
}

static void export_path_entered(struct app *a)
{
	struct spend_state *s = st(a);
	char *p = str_trim(a->dlg.input.data ? a->dlg.input.data : (char[1]){ 0 });
	if (!*p) {
		snprintf(s->path, sizeof s->path, "groqgate-spend-%s-%s-by-%s.csv", s->from, s->to, groups[s->group]);
	} else {
		snprintf(s->path, sizeof s->path, "%s", p);
	}
	dlg_close(a);
	char *q = spend_path(s, "csv");
	client_request(a->cl, "GET", q, NULL, NULL, 30000, on_csv, a);
	free(q);
}

static void regroup(struct app *a, int g)
{
	struct spend_state *s = st(a);
	if (g == s->group)
		return;
	s->group = g;
	s->pg.top = 0;
	json_decref(s->j);
	s->j = NULL;
	s->fetched_ms = 0;
	spend_fetch(a);
}

void spend_by_team(struct app *a) { regroup(a, 0); }
void spend_by_model(struct app *a) { regroup(a, 1); }
void spend_by_user(struct app *a) { regroup(a, 2); }

void spend_export(struct app *a)
{
	struct spend_state *s = st(a);
	char text[640];
	snprintf(text, sizeof text,
		 "Write this view (the month by %s) as CSV to a file. Path (Enter alone: "
		 "groqgate-spend-%s-%s-by-%s.csv in the current folder):",
		 groups[s->group], s->from, s->to, groups[s->group]);
	dlg_input(a, "Export spend as CSV", text, false, export_path_entered);
}

static int spend_key(struct app *a, int key)
{
	return pager_key(&st(a)->pg, key);
}

const struct view view_spend = { .name = "spend", .draw = spend_draw, .key = spend_key, .id = V_SPEND,
				 .state_size = sizeof(struct spend_state), .state_free = spend_state_free,
				 .open = spend_open, .update = spend_fetch };
