/* groqprom.c — Groq's Enterprise metrics read into figures per project and
 * model (see groq.h). Pure: the callers fetch the answers; this reads them.
 *
 * An instant query answers the standard Prometheus JSON:
 *   {"status":"success","data":{"resultType":"vector","result":[
 *     {"metric":{"model":"...","project_id":"...",...},"value":[ts,"1.5"]}]}}
 * Values are strings ("NaN" and "+Inf" included); a row is made for every
 * (project_id, model) seen in any series. */
#include "groq.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

const char *const gm_series_name[GM_NSERIES] = {
	[GM_REQUESTS] = "model_project_id_status_code:requests:rate5m",
	[GM_TOKENS_IN] = "model_project_id:tokens_in:rate5m",
	[GM_TOKENS_OUT] = "model_project_id:tokens_out:rate5m",
	[GM_CACHE_HITS] = "model_project_id:prompt_cache_hits:rate5m",
	[GM_TTFT] = "le_model_project_id:ttft_latency_seconds_bucket:rate5m",
};

static struct gm_row *row_of(struct gm_figures *f, const char *project, const char *model)
{
	for (int i = f->n - 1; i >= 0; i--)
		if (strcmp(f->rows[i].project, project) == 0 && strcmp(f->rows[i].model, model) == 0)
			return &f->rows[i];
	if (f->n >= GM_MAX_ROWS)
		return NULL;
	if (f->n == f->cap) {
		f->cap = f->cap ? f->cap * 2 : 16;
		f->rows = xrealloc(f->rows, (size_t)f->cap * sizeof *f->rows);
	}
	struct gm_row *r = &f->rows[f->n++];
	memset(r, 0, sizeof *r);
	snprintf(r->project, sizeof r->project, "%s", project);
	snprintf(r->model, sizeof r->model, "%s", model);
	r->ttft_p50 = r->ttft_p99 = -1;
	return r;
}

/* no real rate of Groq's comes near this per second: above it, or not a
 * finite number, a figure is refused rather than read as anything */
#define RATE_ABSURD 1e9

/* a sample's value, a string as Prometheus writes floats: 1 read, 0 none
 * (no value), -1 not a rate (non-finite, negative, absurd) */
static int sample_value(json_t *value, double *out)
{
	const char *s = json_string_value(json_array_get(value, 1));
	if (!s)
		return 0;
	if (strcmp(s, "NaN") == 0) {
		*out = 0; /* a rate over no samples */
		return 1;
	}
	char *end;
	double v = strtod(s, &end);
	if (end == s || *end || !isfinite(v) || v < 0 || v > RATE_ABSURD)
		return -1;
	*out = v;
	return 1;
}

static double le_value(const char *s)
{
	if (strcmp(s, "+Inf") == 0 || strcmp(s, "Inf") == 0)
		return INFINITY;
	char *end;
	double v = strtod(s, &end);
	return end == s || *end ? NAN : v;
}

int gm_add(struct gm_figures *f, enum gm_series s, const char *body, size_t len, char **cause)
{
	json_error_t jerr;
	json_t *j = json_loadb(body, len, 0, &jerr);
	if (!j)
		return fail(cause, "not JSON: %s", jerr.text);
	int rc = -1;
	const char *status = json_string_value(json_object_get(j, "status"));
	json_t *data = json_object_get(j, "data");
	const char *type = json_string_value(json_object_get(data, "resultType"));
	json_t *result = json_object_get(data, "result");
	if (!status || strcmp(status, "success") != 0) {
		const char *e = json_string_value(json_object_get(j, "error"));
		fail(cause, "query failed: %s", e ? e : "status is not success");
		goto out;
	}
	if (!type || strcmp(type, "vector") != 0 || !json_is_array(result)) {
		fail(cause, "the answer is not an instant vector");
		goto out;
	}
	size_t i;
	json_t *sample;
	json_array_foreach(result, i, sample) {
		json_t *m = json_object_get(sample, "metric");
		const char *project = json_string_value(json_object_get(m, "project_id"));
		const char *model = json_string_value(json_object_get(m, "model"));
		double v = 0;
		int got = sample_value(json_object_get(sample, "value"), &v);
		if (got < 0) {
			fail(cause, "project %.64s, model %.64s: the value %.40s is not a rate", project ? project : "?",
			     model ? model : "?", json_string_value(json_array_get(json_object_get(sample, "value"), 1)));
			goto out;
		}
		if (!project || !model || !got)
			continue; /* a series without the labels the figures are by */
		struct gm_row *r = row_of(f, project, model);
		if (!r)
			break;
		switch (s) {
		case GM_REQUESTS: {
			const char *code = json_string_value(json_object_get(m, "status_code"));
			r->req_s += v;
			if (code && atoi(code) >= 400)
				r->err_s += v;
			break;
		}
		case GM_TOKENS_IN: r->tin_s += v; break;
		case GM_TOKENS_OUT: r->tout_s += v; break;
		case GM_CACHE_HITS: r->cache_s += v; break;
		case GM_TTFT: {
			const char *les = json_string_value(json_object_get(m, "le"));
			double le = les ? le_value(les) : NAN;
			if (isnan(le))
				break;
			int k = 0;
			while (k < r->nb && r->le[k] != le)
				k++;
			if (k == r->nb) {
				if (r->nb == GM_MAX_BUCKETS)
					break;
				r->le[r->nb] = le;
				r->cum[r->nb++] = 0;
			}
			r->cum[k] += v;
			break;
		}
		default: break;
		}
		if (!(r->req_s + r->tin_s + r->tout_s + r->cache_s <= RATE_ABSURD)) {
			fail(cause, "project %.64s, model %.64s: the rates add up past any real one", project, model);
			goto out;
		}
	}
	rc = 0;
out:
	json_decref(j);
	return rc;
}

double gm_quantile(double q, const double *le, const double *cum, int n)
{
	if (n < 1 || !isinf(le[n - 1]) || cum[n - 1] <= 0)
		return -1;
	double rank = q * cum[n - 1];
	int b = 0;
	while (b < n - 1 && cum[b] < rank)
		b++;
	if (b == n - 1) /* in the +Inf bucket: the highest finite bound */
		return n >= 2 ? le[n - 2] : -1;
	double start = b > 0 ? le[b - 1] : 0, end = le[b];
	double below = b > 0 ? cum[b - 1] : 0, count = cum[b] - below;
	if (b == 0 && end <= 0)
		return end;
	return count > 0 ? start + (end - start) * ((rank - below) / count) : end;
}

static int cmp_row(const void *a, const void *b)
{
	const struct gm_row *x = a, *y = b;
	int c = strcmp(x->project, y->project);
	return c ? c : strcmp(x->model, y->model);
}

void gm_finish(struct gm_figures *f)
{
	if (f->n > 1)
		qsort(f->rows, (size_t)f->n, sizeof *f->rows, cmp_row);
	for (int i = 0; i < f->n; i++) {
		struct gm_row *r = &f->rows[i];
		/* buckets in order of their bounds (an answer need not be) */
		for (int a = 1; a < r->nb; a++)
			for (int b = a; b > 0 && r->le[b - 1] > r->le[b]; b--) {
				double t = r->le[b], c = r->cum[b];
				r->le[b] = r->le[b - 1];
				r->cum[b] = r->cum[b - 1];
				r->le[b - 1] = t;
				r->cum[b - 1] = c;
			}
		r->ttft_p50 = gm_quantile(0.5, r->le, r->cum, r->nb);
		r->ttft_p99 = gm_quantile(0.99, r->le, r->cum, r->nb);
	}
}

const struct gm_row *gm_find(const struct gm_figures *f, const char *project, const char *model)
{
	for (int i = 0; i < f->n; i++)
		if (strcmp(f->rows[i].project, project) == 0 && strcmp(f->rows[i].model, model) == 0)
			return &f->rows[i];
	return NULL;
}

void gm_free(struct gm_figures *f)
{
	free(f->rows);
	memset(f, 0, sizeof *f);
}
