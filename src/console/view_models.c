/* view_models.c — :models: the models that come and go. Groq's retirement
 * calendar first (soonest first, each with its countdown, its replacement
 * and the teams that still called it in the last 7 days), then every
 * model the gateway knows, then the aliases in force (GET /admin/v1/models
 * and /admin/v1/aliases). */
#include "console.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util.h"

struct models_state {
	json_t *models, *aliases;
	struct pager pg;
};

static struct models_state *st(struct app *a)
{
	return view_state(a, &view_models);
}

static void models_state_free(void *state)
{
	struct models_state *s = state;
	json_decref(s->models);
	json_decref(s->aliases);
}

static void on_models(void *arg, long status, const char *body, size_t len, const char *err)
{
	struct app *a = arg;
	app_take_answer(a, &st(a)->models, status, body, len, err, "the models");
}

static void on_aliases(void *arg, long status, const char *body, size_t len, const char *err)
{
	struct app *a = arg;
	app_take_answer(a, &st(a)->aliases, status, body, len, err, NULL);
}

static void models_fetch(struct app *a)
{
	client_request(a->cl, "GET", "/admin/v1/models", NULL, NULL, 10000, on_models, a);
	client_request(a->cl, "GET", "/admin/v1/aliases", NULL, NULL, 5000, on_aliases, a);
}

static void models_open(struct app *a)
{
	view_enter(a, &view_models);
	models_fetch(a);
}

/* whole days from today (UTC) to date ("YYYY-MM-DD"); INT32_MIN if unreadable */
static int days_to(const char *date, int64_t now_ms)
{
	struct tm tm = { 0 };
	if (!date || !strptime(date, "%Y-%m-%d", &tm))
		return -0x7fffffff;
	time_t then = timegm(&tm), now = (time_t)(now_ms / 1000);
	return (int)((then - (now - now % 86400)) / 86400);
}

static int by_date(const void *x, const void *y)
{
	const char *a = json_string_value(json_object_get(*(json_t *const *)x, "shutdown"));
	const char *b = json_string_value(json_object_get(*(json_t *const *)y, "shutdown"));
	return strcmp(a ? a : "", b ? b : "");
}

static void join(json_t *arr, char *out, size_t n)
{
	size_t at = 0;
	out[0] = '\0';
	size_t i;
	json_t *e;
	json_array_foreach(arr, i, e) {
		int k = snprintf(out + at, n - at, "%s%s", i ? ", " : "", json_string_value(e) ? json_string_value(e) : "?");
		if (k < 0 || (size_t)k >= n - at)
			break;
		at += (size_t)k;
	}
}

static int models_body(struct app *a, struct canvas *cv)
{
	struct models_state *s = st(a);
	json_t *list = json_object_get(s->models, "models");
	int w = cv->w - 4, y = 0;
	if (!s->models) {
		cv_put(cv, y, 2, R_DIM, "loading…", -1);
		return 1;
	}
	/* the calendar */
	size_t n = json_array_size(list), nd = 0;
	json_t **d = xcalloc(n + 1, sizeof *d);
	size_t i;
	json_t *m;
	json_array_foreach(list, i, m) if (json_is_string(json_object_get(m, "shutdown"))) d[nd++] = m;
	qsort(d, nd, sizeof *d, by_date);
	cv_put(cv, y++, 2, R_TITLE, "Retirements (Groq's calendar: deprecations)", w);
	if (!nd)
		cv_put(cv, y++, 4, R_DIM, "No model has a shutdown date in the gateway's configuration.", w - 2);
	for (size_t k = 0; k < nd; k++) {
		const char *id = json_string_value(json_object_get(d[k], "id"));
		const char *date = json_string_value(json_object_get(d[k], "shutdown"));
		const char *repl = json_string_value(json_object_get(d[k], "replacement"));
		int days = days_to(date, app_now(a));
		bool retired = json_is_true(json_object_get(d[k], "retired"));
		char when[48], who[256];
		if (retired)
			snprintf(when, sizeof when, "RETIRED %d day%s ago", -days, -days == 1 ? "" : "s");
		else if (days == 0)
			snprintf(when, sizeof when, "retires TODAY");
		else
			snprintf(when, sizeof when, "in %d day%s", days, days == 1 ? "" : "s");
		int role = retired ? R_ERROR : days <= 7 ? R_GAUGE_95 : days <= 30 ? R_GAUGE_80 : R_NORMAL;
		cv_printf(cv, y++, 4, role, w - 2, "%-34s %s  %-18s -> %s", id ? id : "?", date, when, repl ? repl : "(none)");
		json_t *callers = json_object_get(d[k], "callers_7d");
		join(callers, who, sizeof who);
		cv_printf(cv, y++, 8, json_array_size(callers) ? (retired ? R_ERROR : R_ALERT) : R_DIM, w - 6, "%s",
			  json_array_size(callers) ? who : "no team called it in the last 7 days");
		if (json_array_size(callers))
			cv_printf(cv, y - 1, 8 + (int)strlen(who) + 1, R_DIM, w - 8 - (int)strlen(who),
				  "called it in the last 7 days");
	}
	free(d);
	y++;
	/* every model */
	cv_printf(cv, y++, 2, R_TITLE, w, "%-40s %-8s %10s %10s  %s", "MODEL", "GROQ", "IN $/M", "OUT $/M", "CALLED BY (7 DAYS)");
	json_array_foreach(list, i, m) {
		char who[256];
		join(json_object_get(m, "callers_7d"), who, sizeof who);
		json_t *in = json_object_get(m, "input_per_mtok"), *out = json_object_get(m, "output_per_mtok");
		char ins[16] = "-", outs[16] = "-";
		if (json_is_number(in) && json_number_value(in) >= 0) /* (-1: not priced by tokens) */
			snprintf(ins, sizeof ins, "%.3f", json_number_value(in));
		if (json_is_number(out) && json_number_value(out) >= 0)
			snprintf(outs, sizeof outs, "%.3f", json_number_value(out));
		cv_printf(cv, y++, 2, R_NORMAL, w, "%-40s %-8s %10s %10s  %s", json_string_value(json_object_get(m, "id")),
			  json_is_true(json_object_get(m, "listed_by_groq")) ? "listed" : "unlisted", ins, outs, who);
	}
	y++;
	/* aliases */
	json_t *al = json_object_get(s->aliases, "aliases");
	cv_put(cv, y++, 2, R_TITLE, "Aliases (requests for one go to its model)", w);
	if (!json_array_size(al))
		cv_put(cv, y++, 4, R_DIM, "none", w - 2);
	json_array_foreach(al, i, m)
		cv_printf(cv, y++, 4, R_NORMAL, w - 2, "%-20s -> %-40s (%s)", json_string_value(json_object_get(m, "alias")),
			  json_string_value(json_object_get(m, "model")),
			  json_string_value(json_object_get(m, "source")) ? json_string_value(json_object_get(m, "source")) : "config");
	return y;
}

static void models_draw(struct app *a, struct canvas *cv)
{
	pager_draw(a, cv, &st(a)->pg, "Models: retirements, prices, who calls what, aliases", models_body, NULL);
}

static int models_key(struct app *a, int key)
{
	return pager_key(&st(a)->pg, key);
}

const struct view view_models = { .name = "models", .draw = models_draw, .key = models_key, .id = V_MODELS,
				  .state_size = sizeof(struct models_state), .state_free = models_state_free,
				  .open = models_open, .update = models_fetch };
