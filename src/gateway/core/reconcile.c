/* reconcile.c — Groq's own figures beside the gateway's (see core.h and
 * docs/architecture.md, "How reconciliation decides"). Pure: no I/O, no
 * clock but the one passed in.
 *
 * The gateway counts what it sends with each key, per model, in
 * SW_BUCKETS + 1 buckets of window/SW_BUCKETS: a sum covers the window and
 * at most one bucket more, so over the window Groq's rules use the gateway
 * never counts less than it sent. Groq counts more than the gateway sent
 * only when requests reached Groq with the key by another way: that is
 * drift. */
#include "core.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "groq.h"
#include "util.h"

#define SENT_MODELS_MAX 64 /* per key; more models share the last slot */

static struct sentwin *win_of(struct ukey *k, const char *model)
{
	for (int i = 0; i < k->nsent; i++)
		if (strcmp(k->sent[i].model, model) == 0)
			return &k->sent[i].w;
	if (k->nsent == SENT_MODELS_MAX)
		return &k->sent[k->nsent - 1].w;
	k->sent = xrealloc(k->sent, (size_t)(k->nsent + 1) * sizeof *k->sent);
	struct keysent *s = &k->sent[k->nsent++];
	memset(s, 0, sizeof *s);
	s->model = xstrdup(model);
	for (int i = 0; i <= SW_BUCKETS; i++)
		s->w.idx[i] = -1;
	return &s->w;
}

static int64_t bucket_ms(int64_t window_ms)
{
	int64_t b = window_ms / SW_BUCKETS;
	return b > 0 ? b : 1;
}

void sent_count(struct ukey *k, const char *model, int64_t now, int64_t window_ms, int64_t tin, int64_t tout)
{
	struct sentwin *w = win_of(k, model ? model : "-");
	int64_t idx = now / bucket_ms(window_ms);
	int slot = (int)(idx % (SW_BUCKETS + 1));
	if (w->idx[slot] != idx) {
		w->idx[slot] = idx;
		w->req[slot] = w->tin[slot] = w->tout[slot] = 0;
	}
	w->req[slot]++;
	w->tin[slot] += tin;
	w->tout[slot] += tout;
}

static void sw_sum(const struct sentwin *w, int64_t idx, int64_t *req, int64_t *tin, int64_t *tout)
{
	for (int i = 0; i <= SW_BUCKETS; i++)
		if (w->idx[i] >= idx - SW_BUCKETS && w->idx[i] <= idx) {
			*req += w->req[i];
			*tin += w->tin[i];
			*tout += w->tout[i];
		}
}

void sent_sum(const struct ukey *k, const char *model, int64_t now, int64_t window_ms, int64_t *req, int64_t *tin,
	      int64_t *tout)
{
	*req = *tin = *tout = 0;
	int64_t idx = now / bucket_ms(window_ms);
	for (int i = 0; i < k->nsent; i++)
		if (!model || strcmp(k->sent[i].model, model) == 0)
			sw_sum(&k->sent[i].w, idx, req, tin, tout);
}

void sent_free(struct ukey *k)
{
	for (int i = 0; i < k->nsent; i++)
		free(k->sent[i].model);
	free(k->sent);
	k->sent = NULL;
	k->nsent = 0;
}

bool drift_decide(const struct drift_rule *r, double groq_rpm, double gateway_rpm)
{
	double excess = groq_rpm - gateway_rpm;
	return excess > r->min_rpm && excess > r->tolerance * gateway_rpm;
}

bool mismatch_decide(const struct drift_rule *r, double groq_rpm, double gateway_rpm)
{
	double shortfall = gateway_rpm - groq_rpm;
	return shortfall > r->min_rpm && shortfall > r->tolerance * gateway_rpm;
}

/* a rate per minute, rounded to what Groq's figures can say (3 decimals) */
static json_t *per_min(double v)
{
	return json_real(round(v * 1000.0) / 1000.0);
}

static bool has_string(json_t *a, const char *s)
{
	size_t i;
	json_t *v;
	json_array_foreach(a, i, v) if (strcmp(json_string_value(v), s) == 0) return true;
	return false;
}

/* team is one of list's comma-separated names */
static bool has_team(const char *list, const char *team)
{
	size_t n = strlen(team);
	for (const char *p = list;; p++) {
		size_t l = strcspn(p, ",");
		if (l == n && strncmp(p, team, n) == 0)
			return true;
		p += l;
		if (!*p)
			return false;
	}
}

/* the project's entry in *projects (made when new) */
static json_t *project_of(json_t *projects, const char *id)
{
	size_t i;
	json_t *p;
	json_array_foreach(projects, i, p) if (strcmp(json_string_value(json_object_get(p, "project")), id) == 0) return p;
	p = json_pack("{s:s,s:n,s:[],s:f,s:f,s:f,s:b,s:[]}", "project", id, "team", "keys", "groq_rpm", 0.0,
		      "gateway_rpm", 0.0, "groq_tokens_per_min", 0.0, "drift", 0, "models");
	json_array_append_new(projects, p);
	return p;
}

static json_t *model_of(json_t *project, const char *model)
{
	json_t *models = json_object_get(project, "models");
	size_t i;
	json_t *m;
	json_array_foreach(models, i, m) if (strcmp(json_string_value(json_object_get(m, "model")), model) == 0) return m;
	m = json_pack("{s:s,s:f,s:f,s:f,s:f,s:n}", "model", model, "groq_rpm", 0.0, "gateway_rpm", 0.0,
		      "groq_tokens_in_per_min", 0.0, "groq_tokens_out_per_min", 0.0, "ttft_p99_s");
	json_array_append_new(models, m);
	return m;
}

static void add_real(json_t *o, const char *k, double v)
{
	json_object_set_new(o, k, json_real(json_real_value(json_object_get(o, k)) + v));
}

static void round_rates(json_t *o, const char *const *keys)
{
	for (; *keys; keys++)
		json_object_set_new(o, *keys, per_min(json_real_value(json_object_get(o, *keys))));
}

json_t *reconcile(const struct gm_figures *f, const struct registry *reg, int64_t now, int64_t window_ms,
		  const struct drift_rule *r)
{
	json_t *projects = json_array();
	double minutes = (double)window_ms / 60000.0;
	/* the gateway's side: the keys that name a project */
	for (int i = 0; i < reg->nkeys; i++) {
		const struct ukey *k = reg->keys[i];
		if (!k->groq_project)
			continue;
		json_t *p = project_of(projects, k->groq_project);
		json_array_append_new(json_object_get(p, "keys"), json_string(k->name));
		json_t *team = json_object_get(p, "team");
		if (json_is_null(team)) {
			json_object_set_new(p, "team", json_string(k->team));
		} else if (!has_team(json_string_value(team), k->team)) { /* a project shared by teams */
			char *both = xconcat(json_string_value(team), ",", k->team, NULL);
			json_object_set_new(p, "team", json_string(both));
			free(both);
		}
		for (int m = 0; m < k->nsent; m++) {
			int64_t req = 0, tin = 0, tout = 0;
			sent_sum(k, k->sent[m].model, now, window_ms, &req, &tin, &tout);
			if (!req)
				continue;
			add_real(model_of(p, k->sent[m].model), "gateway_rpm", (double)req / minutes);
			add_real(p, "gateway_rpm", (double)req / minutes);
		}
	}
	/* Groq's side: rates per second over its window, as rates per minute */
	for (int i = 0; f && i < f->n; i++) {
		const struct gm_row *g = &f->rows[i];
		json_t *p = project_of(projects, g->project);
		json_t *m = model_of(p, g->model);
		add_real(m, "groq_rpm", g->req_s * 60);
		add_real(m, "groq_tokens_in_per_min", g->tin_s * 60);
		add_real(m, "groq_tokens_out_per_min", g->tout_s * 60);
		if (g->ttft_p99 >= 0)
			json_object_set_new(m, "ttft_p99_s", json_real(round(g->ttft_p99 * 1000.0) / 1000.0));
		add_real(p, "groq_rpm", g->req_s * 60);
		add_real(p, "groq_tokens_per_min", (g->tin_s + g->tout_s) * 60);
	}
	size_t i;
	json_t *p;
	json_array_foreach(projects, i, p) {
		double groq = json_real_value(json_object_get(p, "groq_rpm"));
		double gw = json_real_value(json_object_get(p, "gateway_rpm"));
		/* drift needs Groq's figures and a key of the gateway's in the project */
		bool d = f && json_array_size(json_object_get(p, "keys")) > 0 && drift_decide(r, groq, gw);
		json_object_set_new(p, "drift", json_boolean(d));
		/* the other way: the gateway sent more with keys it says are of
		 * this project than Groq counts on it (a key of another project) */
		bool mm = f && json_array_size(json_object_get(p, "keys")) > 0 && mismatch_decide(r, groq, gw);
		json_object_set_new(p, "mismatch", json_boolean(mm));
		static const char *const prates[] = { "groq_rpm", "gateway_rpm", "groq_tokens_per_min", NULL };
		static const char *const mrates[] = { "groq_rpm", "gateway_rpm", "groq_tokens_in_per_min",
						      "groq_tokens_out_per_min", NULL };
		round_rates(p, prates);
		size_t j;
		json_t *m;
		json_array_foreach(json_object_get(p, "models"), j, m) round_rates(m, mrates);
	}
	return projects;
}

json_t *unlisted_models(const struct registry *reg, const struct gw_config *cfg, json_t *models)
{
	json_t *out = json_array();
	json_t *data = json_object_get(models, "data");
	if (!json_is_array(data))
		return out; /* Groq's list not known yet: nothing to flag */
	json_t *listed = json_array();
	size_t i;
	json_t *m;
	json_array_foreach(data, i, m) {
		const char *id = json_string_value(json_object_get(m, "id"));
		if (id)
			json_array_append_new(listed, json_string(id));
	}
	for (int t = 0; t < reg->nteams; t++) {
		const struct team *tm = reg->teams[t];
		for (int k = 0; k < tm->nmodels; k++)
			if (!has_string(listed, tm->models[k]))
				json_array_append_new(out, json_pack("{s:s,s:s}", "team", tm->id, "model", tm->models[k]));
	}
	for (int p = 0; p < cfg->nprices; p++)
		if (!has_string(listed, cfg->prices[p].model))
			json_array_append_new(out, json_pack("{s:n,s:s}", "team", "model", cfg->prices[p].model));
	json_decref(listed);
	return out;
}
