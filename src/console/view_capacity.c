/* view_capacity.c — :capacity: Groq's limits per model and the
 * organisation's use of each (GET /admin/v1/capacity), the minute's
 * gauges split by team with each team's priority class visible. */
#include "console.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* the view's own state: its last answer, where it is scrolled to */
struct cap_state {
	json_t *j;
	struct pager pg;
};

static json_t **cap(struct app *a)
{
	return &((struct cap_state *)view_state(a, &view_capacity))->j;
}

static void cap_state_free(void *state)
{
	json_decref(((struct cap_state *)state)->j);
}

static void on_capacity(void *arg, long status, const char *body, size_t len, const char *err)
{
	struct app *a = arg;
	app_take_answer(a, cap(a), status, body, len, err, "the capacity");
}

static void cap_fetch(struct app *a)
{
	client_request(a->cl, "GET", "/admin/v1/capacity", NULL, NULL, 5000, on_capacity, a);
}

static void cap_open(struct app *a)
{
	view_enter(a, &view_capacity);
	cap_fetch(a);
}

static int64_t jint(json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

/* a priority class's mark in the split gauge */
static const char *class_mark(const char *prio, bool utf8)
{
	if (strcmp(prio, "critical") == 0)
		return utf8 ? "█" : "#";
	if (strcmp(prio, "batch") == 0)
		return utf8 ? "░" : "~";
	return utf8 ? "▓" : "=";
}

static int class_role(const char *prio)
{
	return strcmp(prio, "critical") == 0 ? R_GAUGE_OK : strcmp(prio, "batch") == 0 ? R_GAUGE_80 : R_GAUGE_50;
}

/* the minute's use of one limit as a bar of w cells split by team, batch
 * teams first, then standard, then critical, so that each class's share
 * ('|': batch's, then standard's and batch's together) reads against the
 * bar's extent */
static void split_gauge(struct canvas *cv, int y, int x, int w, json_t *teams, const char *field, int64_t limit,
			int reserve_pct, int batch_pct)
{
	static const char *const order[] = { "batch", "standard", "critical" };
	int at = 0;
	for (size_t c = 0; c < 3; c++) {
		size_t i;
		json_t *t;
		json_array_foreach(teams, i, t) {
			const char *p = json_string_value(json_object_get(t, "priority"));
			if (!p || strcmp(p, order[c]) != 0)
				continue;
			int cells = (int)((double)jint(t, field) / (double)limit * w + 0.5);
			for (int k = 0; k < cells && at < w; k++)
				cv_put(cv, y, x + at++, class_role(p), class_mark(p, cv->utf8), 1);
		}
	}
	for (; at < w; at++)
		cv_put(cv, y, x + at, R_GAUGE_EMPTY, cv->utf8 ? "·" : ".", 1);
	int marks[2] = { batch_pct, 100 - reserve_pct };
	for (int m = 0; m < 2; m++) {
		int cx = marks[m] * w / 100;
		if (cx > 0 && cx < w)
			cv_put(cv, y, x + cx, R_BORDER, "|", 1);
	}
}

/* the view's text from row 0 (the pager shows the part that fits) */
static int cap_body(struct app *a, struct canvas *cv)
{
	json_t *c = *cap(a), *models = json_object_get(c, "models"), *share = json_object_get(c, "capacity");
	int reserve = (int)jint(share, "critical_reserve_pct"), batch = (int)jint(share, "batch_max_pct");
	int w = cv->w - 4, y = 0, bottom = cv->h - 1;
	if (!c) {
		cv_put(cv, y, 2, R_DIM, "loading…", -1);
		return 1;
	}
	if (!json_array_size(models)) {
		cv_put(cv, y++, 2, R_DIM, "No limits known yet: declare groq_limits in the gateway's configuration,", w);
		cv_put(cv, y++, 2, R_DIM, "or they are learned from Groq's x-ratelimit-* headers on the first answer.", w);
		return y;
	}
	cv_printf(cv, y, 2, R_DIM, w, "minute's use by class:  %s batch  %s standard  %s critical   | the batch share, then the non-critical",
		  class_mark("batch", cv->utf8), class_mark("standard", cv->utf8), class_mark("critical", cv->utf8));
	y += 2;
	int gw = w - 46;
	if (gw < 10)
		gw = 10;
	size_t i;
	json_t *m;
	json_array_foreach(models, i, m) {
		if (y > bottom)
			break;
		json_t *lim = json_object_get(m, "limits"), *used = json_object_get(m, "used"),
		       *teams = json_object_get(m, "teams");
		json_t *held = json_object_get(m, "retry_after_until");
		cv_printf(cv, y++, 2, R_TITLE, w, "%s  (%s)%s", json_string_value(json_object_get(m, "model")),
			  strcmp(json_string_value(json_object_get(m, "source")) ? json_string_value(json_object_get(m, "source")) : "", "config") == 0
				  ? "declared"
				  : "learned from Groq",
			  json_is_integer(held) ? "  HELD by Groq's 429" : "");
		static const char *const names[] = { "tpm", "rpm", "tpd", "rpd", "ash", "asd" };
		for (size_t k = 0; k < 6 && y <= bottom; k++) {
			int64_t l = jint(lim, names[k]), u = jint(used, names[k]);
			if (l <= 0)
				continue;
			double frac = (double)u / (double)l;
			cv_printf(cv, y, 4, R_NORMAL, 4, "%s", names[k]);
			/* the minute's limits split by team; the others one gauge */
			if ((strcmp(names[k], "tpm") == 0 || strcmp(names[k], "rpm") == 0) && json_array_size(teams))
				split_gauge(cv, y, 9, gw, teams, names[k], l, reserve, batch);
			else
				cv_gauge(cv, y, 9, gw, frac);
			cv_printf(cv, y, 10 + gw, gauge_role(frac), w - gw - 8, "%12lld / %-12lld %3.0f %%", (long long)u,
				  (long long)l, frac * 100);
			y++;
		}
		/* who takes it, by class */
		buf b;
		buf_init(&b);
		size_t t;
		json_t *tm;
		json_array_foreach(teams, t, tm) {
			buf_addf(&b, "%s%s (%s) %lld tpm %lld rpm", t ? ", " : "", json_string_value(json_object_get(tm, "team")),
				 json_string_value(json_object_get(tm, "priority")), (long long)jint(tm, "tpm"),
				 (long long)jint(tm, "rpm"));
		}
		if (y <= bottom)
			cv_put(cv, y++, 4, R_DIM, b.len ? b.data : "no team used it in the last minute", w - 2);
		buf_free(&b);
		y++;
	}
	return y;
}

static void cap_draw(struct app *a, struct canvas *cv)
{
	json_t *c = *cap(a), *share = json_object_get(c, "capacity");
	char title[160];
	snprintf(title, sizeof title, "Capacity: Groq's limits per model (batch teams at most %d %%, critical keeps %d %%)",
		 (int)jint(share, "batch_max_pct"), (int)jint(share, "critical_reserve_pct"));
	struct cap_state *st = view_state(a, &view_capacity);
	pager_draw(a, cv, &st->pg, c ? title : "Capacity", cap_body, NULL);
}

static int cap_key(struct app *a, int key)
{
	return pager_key(&((struct cap_state *)view_state(a, &view_capacity))->pg, key);
}

const struct view view_capacity = { .name = "capacity", .draw = cap_draw, .key = cap_key, .id = V_CAPACITY,
				    .state_size = sizeof(struct cap_state), .state_free = cap_state_free,
				    .open = cap_open, .update = cap_fetch };
