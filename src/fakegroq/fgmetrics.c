/* fgmetrics.c — fakegroq's Enterprise metrics (see fgmetrics.h).
 *
 * Every request served with a model, by a key that names a project, is an
 * event; a series' value at time t is computed from the events in
 * (t - window, t], as a recording rule of rate(x[5m]) would give it: the
 * count (or the tokens) divided by the window in seconds. Served through
 * the query API Groq documents: query (instant), query_range, series and
 * labels, with selectors NAME{label="v",label!="v"}. Nothing else of
 * MetricsQL: a query fakegroq cannot answer gets Prometheus' 400
 * bad_data, never a made-up figure. */
#include "fgmetrics.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define MAX_EVENTS (1 << 20)
#define MAX_NAMES 1024
#define MAX_MATCHERS 8

struct fev {
	int64_t ts;
	int16_t project, model;
	int16_t status;
	int64_t tin, tout, cached;
	float ttft, e2e;
};

static struct {
	int64_t window_ms;
	struct fev *ev; /* a ring, oldest first */
	size_t head, n;
	char *names[MAX_NAMES];
	int nnames;
} M;

enum skind { S_REQ, S_TIN, S_TOUT, S_CACHE, S_TTFT, S_E2E, S_QUEUE };
static const struct {
	const char *name;
	enum skind kind;
} series[] = {
	{ "model_project_id_status_code:requests:rate5m", S_REQ },
	{ "model_project_id:tokens_in:rate5m", S_TIN },
	{ "model_project_id:tokens_out:rate5m", S_TOUT },
	{ "model_project_id:prompt_cache_hits:rate5m", S_CACHE },
	{ "le_model_project_id:ttft_latency_seconds_bucket:rate5m", S_TTFT },
	{ "le_model_project_id:e2e_latency_seconds_bucket:rate5m", S_E2E },
	{ "le_model_project_id:queue_latency_seconds_bucket:rate5m", S_QUEUE },
};
static const double bounds[] = { 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30 };

void fgm_init(int64_t window_ms)
{
	M.window_ms = window_ms > 0 ? window_ms : 300000;
	M.ev = xcalloc(MAX_EVENTS, sizeof *M.ev);
}

void fgm_free(void)
{
	free(M.ev);
	for (int i = 0; i < M.nnames; i++)
		free(M.names[i]);
	memset(&M, 0, sizeof M);
}

static int intern(const char *s)
{
	for (int i = 0; i < M.nnames; i++)
		if (strcmp(M.names[i], s) == 0)
			return i;
	if (M.nnames == MAX_NAMES)
		return -1;
	M.names[M.nnames] = xstrdup(s);
	return M.nnames++;
}

static void prune(int64_t now)
{
	/* kept a window past the last one a query_range may ask for */
	while (M.n && M.ev[M.head].ts <= now - 2 * M.window_ms) {
		M.head = (M.head + 1) % MAX_EVENTS;
		M.n--;
	}
}

void fgm_record(int64_t now, const char *project, const char *model, int status, int64_t tin, int64_t tout,
		int64_t cached, double ttft_s, double e2e_s)
{
	if (!M.ev || !project || !*project || !model)
		return;
	int p = intern(project), m = intern(model);
	if (p < 0 || m < 0)
		return;
	prune(now);
	if (M.n == MAX_EVENTS) { /* the oldest goes */
		M.head = (M.head + 1) % MAX_EVENTS;
		M.n--;
	}
	M.ev[(M.head + M.n++) % MAX_EVENTS] = (struct fev){ now, (int16_t)p, (int16_t)m, (int16_t)status, tin, tout,
							     cached, (float)ttft_s, (float)e2e_s };
}

/* ---- selectors ------------------------------------------------------ */

struct matcher {
	char label[32], value[128];
	bool neg;
};
struct selector {
	int series;
	struct matcher m[MAX_MATCHERS];
	int nm;
};

/* NAME, NAME{}, NAME{a="x",b!="y"}: 0, or -1 with *err */
static int parse_selector(const char *q, struct selector *s, const char **err)
{
	while (*q == ' ')
		q++;
	size_t nl = strcspn(q, "{ ");
	s->series = -1;
	s->nm = 0;
	for (size_t i = 0; i < ARRAY_LEN(series); i++)
		if (strlen(series[i].name) == nl && strncmp(series[i].name, q, nl) == 0)
			s->series = (int)i;
	const char *p = q + nl;
	while (*p == ' ')
		p++;
	if (*p == '{') {
		p++;
		while (*p == ' ')
			p++;
		while (*p && *p != '}') {
			if (s->nm == MAX_MATCHERS) {
				*err = "too many label matchers";
				return -1;
			}
			struct matcher *m = &s->m[s->nm++];
			size_t ll = strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_");
			if (!ll || ll >= sizeof m->label) {
				*err = "a label name is expected in the selector";
				return -1;
			}
			memcpy(m->label, p, ll);
			m->label[ll] = '\0';
			p += ll;
			m->neg = p[0] == '!' && p[1] == '=';
			if (m->neg)
				p++;
			if (*p != '=' || p[1] != '"') {
				*err = "only = and != with a quoted value are supported";
				return -1;
			}
			p += 2;
			size_t vl = strcspn(p, "\"");
			if (!p[vl] || vl >= sizeof m->value) {
				*err = "an unterminated label value";
				return -1;
			}
			memcpy(m->value, p, vl);
			m->value[vl] = '\0';
			p += vl + 1;
			while (*p == ' ' || *p == ',')
				p++;
		}
		if (*p != '}') {
			*err = "the selector's '{' is not closed";
			return -1;
		}
		p++;
	}
	while (*p == ' ')
		p++;
	bool name_ok = nl > 0 && !(q[0] >= '0' && q[0] <= '9');
	for (size_t i = 0; i < nl; i++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_:", q[i]))
			name_ok = false;
	if (*p || !name_ok) {
		*err = "fakegroq answers plain selectors only: NAME{label=\"value\",...}";
		return -1;
	}
	return 0;
}

static bool matches(const struct selector *s, json_t *labels)
{
	for (int i = 0; i < s->nm; i++) {
		const char *v = json_string_value(json_object_get(labels, s->m[i].label));
		bool eq = strcmp(v ? v : "", s->m[i].value) == 0;
		if (eq == s->m[i].neg)
			return false;
	}
	return true;
}

/* ---- evaluation ------------------------------------------------------ */

static void fmt_le(double b, char *out, size_t n)
{
	if (isinf(b))
		snprintf(out, n, "+Inf");
	else
		snprintf(out, n, "%g", b);
}

/* acc[labels] += v, labels built from the event */
static void add(json_t *acc, json_t *labels, double v)
{
	char *k = json_dumps(labels, JSON_SORT_KEYS | JSON_COMPACT);
	json_t *e = json_object_get(acc, k);
	if (!e) {
		e = json_pack("{s:O,s:f}", "metric", labels, "v", 0.0);
		json_object_set_new(acc, k, e);
	}
	json_object_set_new(e, "v", json_real(json_real_value(json_object_get(e, "v")) + v));
	free(k);
	json_decref(labels);
}

/* every series of s at time t: {"<labels>":{"metric":{...},"v":rate}} */
static json_t *evaluate(int si, int64_t t)
{
	json_t *acc = json_object();
	double w = (double)M.window_ms / 1000.0;
	const char *name = series[si].name;
	for (size_t i = 0; i < M.n; i++) {
		const struct fev *e = &M.ev[(M.head + i) % MAX_EVENTS];
		if (e->ts <= t - M.window_ms || e->ts > t)
			continue;
		const char *model = M.names[e->model], *project = M.names[e->project];
		switch (series[si].kind) {
		case S_REQ: {
			char code[8];
			snprintf(code, sizeof code, "%d", e->status);
			add(acc, json_pack("{s:s,s:s,s:s,s:s}", "__name__", name, "model", model, "project_id", project,
					   "status_code", code), 1.0 / w);
			break;
		}
		case S_TIN:
			add(acc, json_pack("{s:s,s:s,s:s}", "__name__", name, "model", model, "project_id", project),
			    (double)e->tin / w);
			break;
		case S_TOUT:
			add(acc, json_pack("{s:s,s:s,s:s}", "__name__", name, "model", model, "project_id", project),
			    (double)e->tout / w);
			break;
		case S_CACHE:
			add(acc, json_pack("{s:s,s:s,s:s}", "__name__", name, "model", model, "project_id", project),
			    (double)e->cached / w);
			break;
		case S_TTFT:
		case S_E2E:
		case S_QUEUE: {
			if (e->status >= 400)
				break; /* latencies of answered requests */
			double x = series[si].kind == S_TTFT ? e->ttft : series[si].kind == S_E2E ? e->e2e : 0;
			for (size_t b = 0; b <= ARRAY_LEN(bounds); b++) {
				double le = b < ARRAY_LEN(bounds) ? bounds[b] : INFINITY;
				char les[16];
				fmt_le(le, les, sizeof les);
				add(acc, json_pack("{s:s,s:s,s:s,s:s}", "__name__", name, "le", les, "model", model,
						   "project_id", project),
				    x <= le ? 1.0 / w : 0);
			}
			break;
		}
		}
	}
	return acc;
}

/* the series the selector names at time t, those its matchers keep
 * (empty for a name fakegroq does not serve) */
static json_t *select_at(const struct selector *sel, int64_t t)
{
	if (sel->series < 0)
		return json_object();
	json_t *acc = evaluate(sel->series, t);
	const char *k;
	json_t *e, *tmp;
	json_object_foreach_safe(acc, tmp, k, e) if (!matches(sel, json_object_get(e, "metric"))) json_object_del(acc, k);
	return acc;
}

static json_t *value_pair(int64_t t, double v)
{
	char s[40];
	snprintf(s, sizeof s, "%.10g", v);
	return json_pack("[f,s]", (double)t / 1000.0, s);
}

static json_t *bad(int *status, const char *err)
{
	*status = 400;
	return json_pack("{s:s,s:s,s:s}", "status", "error", "errorType", "bad_data", "error", err);
}

static bool param_time(json_t *params, const char *name, int64_t dflt, int64_t *out)
{
	const char *s = json_string_value(json_object_get(params, name));
	if (!s) {
		*out = dflt;
		return true;
	}
	char *end;
	double v = strtod(s, &end);
	if (end == s || *end || !isfinite(v))
		return false;
	*out = (int64_t)(v * 1000.0);
	return true;
}

static json_t *success(json_t *data)
{
	return json_pack("{s:s,s:o}", "status", "success", "data", data);
}

json_t *fgm_api(const char *what, json_t *params, int64_t now, int *status)
{
	*status = 200;
	prune(now);
	if (strcmp(what, "labels") == 0)
		return success(json_pack("[s,s,s,s,s]", "__name__", "le", "model", "project_id", "status_code"));
	const char *err = NULL;
	struct selector sel;
	if (strcmp(what, "series") == 0) {
		const char *m = json_string_value(json_object_get(params, "match[]"));
		if (!m)
			return bad(status, "no match[] parameter provided");
		if (parse_selector(m, &sel, &err) != 0)
			return bad(status, err);
		json_t *out = json_array(), *acc = select_at(&sel, now), *e;
		const char *k;
		json_object_foreach(acc, k, e) json_array_append(out, json_object_get(e, "metric"));
		json_decref(acc);
		return success(out);
	}
	const char *q = json_string_value(json_object_get(params, "query"));
	if (!q)
		return bad(status, "parameter \"query\" is missing");
	if (parse_selector(q, &sel, &err) != 0)
		return bad(status, err);
	if (strcmp(what, "query") == 0) {
		int64_t t;
		if (!param_time(params, "time", now, &t))
			return bad(status, "invalid parameter \"time\"");
		json_t *result = json_array(), *acc = select_at(&sel, t), *e;
		const char *k;
		json_object_foreach(acc, k, e) json_array_append_new(result, json_pack("{s:O,s:o}", "metric", json_object_get(e, "metric"),
										       "value", value_pair(t, json_real_value(json_object_get(e, "v")))));
		json_decref(acc);
		return success(json_pack("{s:s,s:o}", "resultType", "vector", "result", result));
	}
	if (strcmp(what, "query_range") == 0) {
		int64_t start, end, step;
		if (!param_time(params, "start", -1, &start) || !param_time(params, "end", -1, &end) ||
		    !param_time(params, "step", -1, &step) || start < 0 || end < start || step <= 0)
			return bad(status, "query_range needs start <= end and a positive step (seconds)");
		if ((end - start) / step > 11000)
			return bad(status, "exceeded maximum resolution of 11,000 points per timeseries");
		json_t *series_out = json_object();
		for (int64_t t = start; t <= end && sel.series >= 0; t += step) {
			json_t *acc = select_at(&sel, t);
			const char *k;
			json_t *e;
			json_object_foreach(acc, k, e) {
				json_t *l = json_object_get(e, "metric");
				json_t *s = json_object_get(series_out, k);
				if (!s) {
					s = json_pack("{s:O,s:[]}", "metric", l, "values");
					json_object_set_new(series_out, k, s);
				}
				json_array_append_new(json_object_get(s, "values"),
						      value_pair(t, json_real_value(json_object_get(e, "v"))));
			}
			json_decref(acc);
		}
		json_t *result = json_array();
		const char *k;
		json_t *s;
		json_object_foreach(series_out, k, s) json_array_append(result, s);
		json_decref(series_out);
		return success(json_pack("{s:s,s:o}", "resultType", "matrix", "result", result));
	}
	*status = 404;
	return json_pack("{s:s,s:s,s:s}", "status", "error", "errorType", "not_found", "error",
			 "unknown endpoint");
}
