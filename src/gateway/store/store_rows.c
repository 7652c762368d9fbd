/* store_rows.c — the store's rows as text columns, both ways, for every
 * engine (store.h, "for the engines"). No SQL: an engine binds the columns
 * and hands back what it read, in the tables' column order. */
#include "store.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

static void put_str(struct rowv *r, int i, const char *s)
{
	r->v[i] = s;
}

static void put_int(struct rowv *r, int i, int64_t n)
{
	i64_text(r->num[i], n);
	r->v[i] = r->num[i];
}

/* a time, NULL for 0 (never) */
static void put_time(struct rowv *r, int i, int64_t n)
{
	if (n)
		put_int(r, i, n);
	else
		r->v[i] = NULL;
}

static void put_own(struct rowv *r, int i, char *s)
{
	r->own[r->nown++] = s;
	r->v[i] = s;
}

void rowv_free(struct rowv *r)
{
	for (int i = 0; i < r->nown; i++)
		free(r->own[i]);
	r->nown = 0;
}

static int64_t num(const char *s)
{
	return s ? strtoll(s, NULL, 10) : 0;
}

static char *dup(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

static char *json_list(json_t *a)
{
	char *s = json_dumps(a, JSON_COMPACT);
	json_decref(a);
	return s;
}

void team_row(const struct team *t, struct rowv *r)
{
	json_t *m = json_array(), *th = json_array();
	for (int i = 0; i < t->nmodels; i++)
		json_array_append_new(m, json_string(t->models[i]));
	for (int i = 0; i < t->nthresholds; i++)
		json_array_append_new(th, json_integer(t->thresholds[i]));
	r->n = TEAM_COLS;
	put_str(r, 0, t->id);
	put_str(r, 1, t->name);
	put_str(r, 2, team_state_name(t->state));
	put_own(r, 3, json_list(m));
	put_int(r, 4, t->max_tokens);
	put_int(r, 5, t->rpm_limit);
	put_str(r, 6, t->rpm_mode == RPM_QUEUE ? "queue" : "reject");
	put_int(r, 7, t->queue_wait_ms);
	put_int(r, 8, t->budget_nusd);
	put_own(r, 9, json_list(th));
	put_int(r, 10, t->auto_pause);
	put_str(r, 11, t->paused_by);
	put_str(r, 12, t->paused_reason);
	put_time(r, 13, t->paused_at);
	put_int(r, 14, t->version);
	put_int(r, 15, t->created_at);
	put_int(r, 16, t->override_until);
	/* what later rounds added, one JSON object (no column per field) */
	put_own(r, 17, json_list(json_pack("{s:s,s:I,s:I,s:I,s:I,s:I,s:b,s:s?,s:I,s:I,s:I,s:I}", "priority", priority_name(t->priority),
					   "tpm_limit", (json_int_t)t->tpm_limit, "tpd_limit",
					   (json_int_t)t->tpd_limit, "rpd_limit", (json_int_t)t->rpd_limit,
					   "day_budget_nusd", (json_int_t)t->day_budget_nusd, "week_budget_nusd",
					   (json_int_t)t->week_budget_nusd, "replace_retired", t->replace_retired,
					   "fallbacks", t->fallbacks, "tiers", (json_int_t)t->tiers, "default_tier",
					   (json_int_t)t->default_tier, "user_day_budget_nusd",
					   (json_int_t)t->user_day_budget_nusd, "user_rpm_limit", (json_int_t)t->user_rpm_limit)));
}

struct team *team_from_row(const char *const *v)
{
	struct team *t = team_new();
	t->id = dup(v[0]);
	t->name = dup(v[1]);
	t->state = team_state_parse(v[2]);
	json_t *m = v[3] ? json_loads(v[3], 0, NULL) : NULL;
	t->models = xcalloc(json_array_size(m) + 1, sizeof *t->models);
	size_t i;
	json_t *e;
	json_array_foreach(m, i, e) if (json_is_string(e)) t->models[t->nmodels++] = xstrdup(json_string_value(e));
	json_decref(m);
	t->max_tokens = num(v[4]);
	t->rpm_limit = num(v[5]);
	t->rpm_mode = str_eq(v[6], "queue") ? RPM_QUEUE : RPM_REJECT;
	t->queue_wait_ms = num(v[7]);
	t->budget_nusd = num(v[8]);
	json_t *th = v[9] ? json_loads(v[9], 0, NULL) : NULL;
	/* the stored thresholds replace team_new's defaults */
	if (json_is_array(th))
		t->nthresholds = 0;
	json_array_foreach(th, i, e) if (t->nthresholds < MAX_THRESHOLDS) t->thresholds[t->nthresholds++] =
		(int)json_integer_value(e);
	json_decref(th);
	t->auto_pause = num(v[10]) != 0 || str_eq(v[10], "t");
	t->paused_by = dup(v[11]);
	t->paused_reason = dup(v[12]);
	t->paused_at = num(v[13]);
	t->version = num(v[14]);
	t->created_at = num(v[15]);
	t->override_until = num(v[16]);
	json_t *pol = v[17] ? json_loads(v[17], 0, NULL) : NULL;
	if (json_is_object(pol)) {
		int p = priority_parse(json_string_value(json_object_get(pol, "priority")));
		t->priority = p < 0 ? PRIO_STANDARD : (enum priority)p;
		t->tpm_limit = json_integer_value(json_object_get(pol, "tpm_limit"));
		t->tpd_limit = json_integer_value(json_object_get(pol, "tpd_limit"));
		t->rpd_limit = json_integer_value(json_object_get(pol, "rpd_limit"));
		t->day_budget_nusd = json_integer_value(json_object_get(pol, "day_budget_nusd"));
		t->week_budget_nusd = json_integer_value(json_object_get(pol, "week_budget_nusd"));
		t->user_day_budget_nusd = json_integer_value(json_object_get(pol, "user_day_budget_nusd"));
		t->user_rpm_limit = json_integer_value(json_object_get(pol, "user_rpm_limit"));
		t->replace_retired = json_is_true(json_object_get(pol, "replace_retired"));
		const char *fb = json_string_value(json_object_get(pol, "fallbacks"));
		t->fallbacks = fb ? xstrdup(fb) : NULL;
		t->tiers = (unsigned)json_integer_value(json_object_get(pol, "tiers"));
		t->default_tier = (unsigned)json_integer_value(json_object_get(pol, "default_tier"));
	}
	json_decref(pol);
	rl_resize(&t->rl, (int)t->rpm_limit);
	return t;
}

void ukey_row(const struct ukey *k, struct rowv *r)
{
	r->n = KEY_COLS;
	put_str(r, 0, k->name);
	put_str(r, 1, k->team);
	put_str(r, 2, k->secret);
	put_str(r, 3, k->fp);
	put_int(r, 4, k->created_at);
	put_time(r, 5, k->last_used_at);
	put_int(r, 6, k->rejected);
	put_int(r, 7, (int)k->rot);
	put_str(r, 8, k->new_secret);
	put_str(r, 9, k->new_secret ? k->new_fp : NULL);
	put_str(r, 10, k->rot_by);
	put_time(r, 11, k->rot_started_at);
	put_time(r, 12, k->rot_switched_at);
	put_time(r, 13, k->rot_updated_at);
	put_int(r, 14, k->old_since_switch);
	put_time(r, 15, k->old_last_used);
	put_str(r, 16, k->groq_project);
	put_int(r, 17, k->version);
	put_own(r, 18, json_list(json_pack("{s:I,s:I,s:I}", "budget_nusd", (json_int_t)k->budget_nusd, "rpm_limit",
					   (json_int_t)k->rpm_limit, "tpm_limit", (json_int_t)k->tpm_limit)));
}

struct ukey *ukey_from_row(const char *const *v)
{
	struct ukey *k = xcalloc(1, sizeof *k);
	k->name = dup(v[0]);
	k->team = dup(v[1]);
	k->secret = dup(v[2]);
	snprintf(k->fp, sizeof k->fp, "%s", v[3] ? v[3] : "");
	k->created_at = num(v[4]);
	k->last_used_at = num(v[5]);
	k->rejected = num(v[6]) != 0;
	k->rot = (enum rot_step)num(v[7]);
	k->new_secret = dup(v[8]);
	if (v[9])
		snprintf(k->new_fp, sizeof k->new_fp, "%s", v[9]);
	k->rot_by = dup(v[10]);
	k->rot_started_at = num(v[11]);
	k->rot_switched_at = num(v[12]);
	k->rot_updated_at = num(v[13]);
	k->old_since_switch = num(v[14]);
	k->old_last_used = num(v[15]);
	k->groq_project = dup(v[16]);
	k->version = num(v[17]);
	json_t *pol = v[18] ? json_loads(v[18], 0, NULL) : NULL;
	k->budget_nusd = json_integer_value(json_object_get(pol, "budget_nusd"));
	k->rpm_limit = json_integer_value(json_object_get(pol, "rpm_limit"));
	k->tpm_limit = json_integer_value(json_object_get(pol, "tpm_limit"));
	json_decref(pol);
	return k;
}

void ctoken_row(const struct ctoken *t, struct rowv *r)
{
	r->n = TOKEN_COLS;
	put_str(r, 0, t->id);
	put_str(r, 1, t->team);
	put_str(r, 2, t->key);
	put_str(r, 3, t->label);
	put_str(r, 4, t->hash);
	put_int(r, 5, t->created_at);
	put_time(r, 6, t->revoked_at);
	put_str(r, 7, t->created_by);
}

struct ctoken *ctoken_from_row(const char *const *v)
{
	struct ctoken *t = xcalloc(1, sizeof *t);
	t->id = dup(v[0]);
	t->team = dup(v[1]);
	t->key = dup(v[2]);
	t->label = dup(v[3]);
	snprintf(t->hash, sizeof t->hash, "%s", v[4] ? v[4] : "");
	t->created_at = num(v[5]);
	t->revoked_at = num(v[6]);
	t->created_by = dup(v[7]);
	return t;
}

void bfile_row(const struct bfile *f, struct rowv *r)
{
	r->n = FILE_COLS;
	put_str(r, 0, f->id);
	put_str(r, 1, f->team);
	put_str(r, 2, f->key);
	put_int(r, 3, f->worst_nusd);
	put_int(r, 4, f->lines);
	put_int(r, 5, f->created_at);
	put_int(r, 6, f->deleted);
	put_own(r, 7, f->index ? json_dumps(f->index, JSON_COMPACT) : NULL);
}

struct bfile *bfile_from_row(const char *const *v)
{
	struct bfile *f = xcalloc(1, sizeof *f);
	f->id = dup(v[0]);
	f->team = dup(v[1]);
	f->key = dup(v[2]);
	f->worst_nusd = num(v[3]);
	f->lines = num(v[4]);
	f->created_at = num(v[5]);
	f->deleted = num(v[6]) != 0;
	f->index = v[7] ? json_loads(v[7], 0, NULL) : NULL;
	return f;
}

void batch_row(const struct batch *b, struct rowv *r)
{
	r->n = BATCH_COLS;
	put_str(r, 0, b->id);
	put_str(r, 1, b->team);
	put_str(r, 2, b->key);
	put_str(r, 3, b->input);
	put_str(r, 4, b->status);
	put_int(r, 5, b->reserved_nusd);
	put_int(r, 6, b->cost_nusd);
	put_int(r, 7, b->created_at);
	put_time(r, 8, b->settled_at);
}

struct batch *batch_from_row(const char *const *v)
{
	struct batch *b = xcalloc(1, sizeof *b);
	b->id = dup(v[0]);
	b->team = dup(v[1]);
	b->key = dup(v[2]);
	b->input = dup(v[3]);
	snprintf(b->status, sizeof b->status, "%s", v[4] ? v[4] : "");
	b->reserved_nusd = num(v[5]);
	b->cost_nusd = num(v[6]);
	b->created_at = num(v[7]);
	b->settled_at = num(v[8]);
	return b;
}

void ledger_row_cols(const struct ledger_row *x, struct rowv *r)
{
	r->n = LEDGER_COLS;
	put_int(r, 0, x->ts_ms);
	put_str(r, 1, x->team);
	put_str(r, 2, x->key);
	put_str(r, 3, x->key_fp);
	put_str(r, 4, x->model);
	put_int(r, 5, x->status);
	put_str(r, 6, x->reason);
	put_int(r, 7, x->stream);
	put_int(r, 8, x->prompt);
	put_int(r, 9, x->completion);
	put_int(r, 10, x->cost_nusd);
	put_int(r, 11, x->latency_ms);
	put_time(r, 12, x->id);
	put_str(r, 13, x->route);
	put_str(r, 14, x->unit);
	put_int(r, 15, x->quantity);
	put_str(r, 16, x->request_id);
	put_str(r, 17, x->user);
	put_str(r, 18, x->requested_model);
	put_str(r, 19, x->service_tier);
	put_int(r, 20, x->cached);
}

void ledger_row_from(const char *const *v, struct ledger_row *x)
{
	*x = (struct ledger_row){ .ts_ms = num(v[0]), .team = v[1], .key = v[2], .key_fp = v[3], .model = v[4],
				  .status = (int)num(v[5]), .reason = v[6], .stream = num(v[7]) != 0,
				  .prompt = num(v[8]), .completion = num(v[9]), .cost_nusd = num(v[10]),
				  .latency_ms = num(v[11]), .id = num(v[12]), .route = v[13], .unit = v[14],
				  .quantity = num(v[15]), .request_id = v[16], .user = v[17],
				  .requested_model = v[18], .service_tier = v[19], .cached = num(v[20]) };
}

/* what a store's load hands the registry: the batch's reservation is held
 * again while it is open */
void registry_load_batch(struct registry *r, struct batch *b)
{
	batch_free(strmap_del(r->batches, b->id));
	strmap_put(r->batches, b->id, b);
	struct team *t = registry_team(r, b->team);
	if (!b->settled_at && t) {
		t->reserved_nusd += b->reserved_nusd;
		r->org_reserved_nusd += b->reserved_nusd;
	}
}

void registry_load_file(struct registry *r, struct bfile *f)
{
	bfile_free(strmap_del(r->files, f->id));
	strmap_put(r->files, f->id, f);
}

static json_t *text_json(const char *t)
{
	if (!t)
		return json_null();
	json_t *j = json_loads(t, 0, NULL);
	return j ? j : json_string(t);
}

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

json_t *audit_entry_json(const char *const *v)
{
	char ts[32];
	time_iso(num(v[1]), ts, sizeof ts);
	return json_pack("{s:I,s:s,s:I,s:s,s:s,s:o,s:s,s:s,s:o,s:o}", "id", (json_int_t)num(v[0]), "time", ts, "ts_ms",
			 (json_int_t)num(v[1]), "actor", v[2] ? v[2] : "", "role", v[3] ? v[3] : "", "operator",
			 str_or_null(v[4]), "action", v[5] ? v[5] : "", "target", v[6] ? v[6] : "", "before",
			 text_json(v[7]), "after", text_json(v[8]));
}

json_t *alert_entry_json(const char *const *v)
{
	char ts[32];
	time_iso(num(v[1]), ts, sizeof ts);
	json_t *e = json_pack("{s:I,s:s,s:I,s:s,s:o,s:s}", "id", (json_int_t)num(v[0]), "time", ts, "ts_ms",
			      (json_int_t)num(v[1]), "kind", v[2] ? v[2] : "", "team", str_or_null(v[3]), "message",
			      v[4] ? v[4] : "");
	json_object_set_new(e, "acked_by", str_or_null(v[5]));
	if (v[5]) {
		time_iso(num(v[6]), ts, sizeof ts);
		json_object_set_new(e, "acked_at", json_string(ts));
	} else {
		json_object_set_new(e, "acked_at", json_null());
	}
	return e;
}

json_t *usage_by_json(const char *by, const char *const *v)
{
	return json_pack("{s:s,s:I,s:I,s:I,s:f}", by, v[0] ? v[0] : "-", "requests", (json_int_t)num(v[1]), "ok",
			 (json_int_t)num(v[2]), "tokens", (json_int_t)num(v[3]), "spend_usd",
			 (double)num(v[4]) / NUSD_PER_USD);
}

struct ubucket {
	int64_t requests, ok, rejected, tokens, cost_nusd;
	json_t *rejections; /* reason -> count */
};
struct ubuckets {
	int64_t from, step;
	int n;
	struct ubucket b[];
};

struct ubuckets *ubuckets_new(int64_t from, int64_t step, int n)
{
	struct ubuckets *u = xcalloc(1, sizeof *u + (size_t)n * sizeof u->b[0]);
	u->from = from;
	u->step = step;
	u->n = n;
	return u;
}

void ubuckets_add(struct ubuckets *bk, int64_t ts, bool ok, const char *reason, int64_t count, int64_t tokens,
		  int64_t cost)
{
	int64_t i = (ts - bk->from) / bk->step;
	if (ts < bk->from || i >= bk->n)
		return;
	struct ubucket *u = &bk->b[i];
	u->requests += count;
	u->tokens += tokens;
	u->cost_nusd += cost;
	if (ok) {
		u->ok += count;
		return;
	}
	u->rejected += count;
	const char *k = reason ? reason : "error";
	if (!u->rejections)
		u->rejections = json_object();
	json_t *c = json_object_get(u->rejections, k);
	if (c)
		json_integer_set(c, json_integer_value(c) + count);
	else
		json_object_set_new(u->rejections, k, json_integer(count));
}

json_t *ubuckets_json(struct ubuckets *bk, bool ok)
{
	json_t *pts = ok ? json_array() : NULL;
	for (int i = 0; i < bk->n; i++) {
		struct ubucket *u = &bk->b[i];
		if (pts)
			json_array_append_new(pts, json_pack("{s:I,s:I,s:I,s:I,s:I,s:f,s:o}", "t",
							     (json_int_t)(bk->from + bk->step * i), "requests",
							     (json_int_t)u->requests, "ok", (json_int_t)u->ok,
							     "rejected", (json_int_t)u->rejected, "tokens",
							     (json_int_t)u->tokens, "spend_usd",
							     (double)u->cost_nusd / NUSD_PER_USD, "rejections",
							     u->rejections ? json_incref(u->rejections) : json_object()));
		json_decref(u->rejections);
	}
	free(bk);
	return pts;
}

char *spend_sql(unsigned groups, const char *day, char *(*ph)(int i))
{
	static const char *const col[SPEND_GROUPS] = { NULL, "team", "key", "model", "route", "end_user" };
	buf b, g;
	buf_init(&b);
	buf_init(&g);
	for (int i = 0; i < SPEND_GROUPS; i++)
		if (groups & (1u << i)) {
			if (i == 0)
				buf_addf(&g, "%s%s", g.len ? "," : "", day);
			else
				buf_addf(&g, "%sNULLIF(%s, '')", g.len ? "," : "", col[i]);
		}
	char *p1 = ph(1), *p2 = ph(2);
	buf_addf(&b, "SELECT %s%s SUM(requests), SUM(input_tokens), SUM(cached_tokens), SUM(output_tokens),"
		     " SUM(audio_seconds), SUM(characters), SUM(cost_nusd) FROM spend_daily"
		     " WHERE team IN (SELECT id FROM teams) AND day >= %s AND day < %s",
		 g.len ? g.data : "", g.len ? "," : "", p1, p2);
	if (g.len)
		buf_addf(&b, " GROUP BY %s ORDER BY %s", g.data, g.data);
	free(p1);
	free(p2);
	buf_free(&g);
	return buf_detach(&b);
}
