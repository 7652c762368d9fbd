/* registry.c — the gateway's in-memory model of teams, upstream keys and
 * client tokens, and their JSON for the admin API. The registry owns every
 * team, key and token it holds; the store persists them. */
#include "core.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "secret.h"
#include "util.h"

void registry_init(struct registry *r)
{
	memset(r, 0, sizeof *r);
	r->team_by_id = strmap_new();
	r->key_by_name = strmap_new();
	r->token_by_hash = strmap_new();
	r->token_by_id = strmap_new();
	r->files = strmap_new();
	r->batches = strmap_new();
	r->groq_retired = strmap_new();
}

void bfile_free(struct bfile *f)
{
	if (!f)
		return;
	free(f->id);
	free(f->team);
	free(f->key);
	json_decref(f->index);
	free(f);
}

void batch_free(struct batch *b)
{
	if (!b)
		return;
	free(b->id);
	free(b->owner);
	free(b->team);
	free(b->key);
	free(b->input);
	free(b);
}

void registry_free(struct registry *r)
{
	endusers_free(r->users);
	r->users = NULL;
	for (int i = 0; i < r->naliases; i++) {
		free(r->aliases[i].alias);
		free(r->aliases[i].model);
	}
	free(r->aliases);
	r->aliases = NULL;
	r->naliases = 0;
	size_t at = 0;
	const char *k;
	void *v;
	while (r->groq_retired && strmap_next(r->groq_retired, &at, &k, &v))
		free(v);
	strmap_free(r->groq_retired);
	r->groq_retired = NULL;
	at = 0;
	while (r->files && strmap_next(r->files, &at, &k, &v))
		bfile_free(v);
	at = 0;
	while (r->batches && strmap_next(r->batches, &at, &k, &v))
		batch_free(v);
	if (r->files)
		strmap_free(r->files);
	if (r->batches)
		strmap_free(r->batches);
	for (int i = 0; i < r->nteams; i++)
		team_free(r->teams[i]);
	for (int i = 0; i < r->nkeys; i++)
		ukey_free(r->keys[i]);
	for (int i = 0; i < r->ntokens; i++)
		ctoken_free(r->tokens[i]);
	free(r->teams);
	free(r->keys);
	free(r->tokens);
	strmap_free(r->team_by_id);
	strmap_free(r->key_by_name);
	strmap_free(r->token_by_hash);
	strmap_free(r->token_by_id);
	memset(r, 0, sizeof *r);
}

struct team *team_new(void)
{
	struct team *t = xcalloc(1, sizeof *t);
	t->auto_pause = true;
	t->thresholds[0] = 50;
	t->thresholds[1] = 80;
	t->thresholds[2] = 95;
	t->nthresholds = 3;
	t->version = 1;
	rl_init(&t->rl, 1);
	t->ctr = &counters_memory;
	return t;
}

void team_free(struct team *t)
{
	if (!t)
		return;
	free(t->id);
	free(t->name);
	for (int i = 0; i < t->nmodels; i++)
		free(t->models[i]);
	free(t->models);
	free(t->paused_by);
	free(t->paused_reason);
	free(t->fallbacks);
	rl_free(&t->rl);
	teamcap_free(t->cap);
	team_model_free(t);
	for (int i = 0; t->refused && i <= REF_N; i++)
		win_free(&t->refused[i]);
	free(t->refused);
	free(t);
}

void ukey_free(struct ukey *k)
{
	if (k) {
		rl_free(&k->rl);
		win_free(&k->tpm);
	}
	if (!k)
		return;
	free(k->name);
	free(k->team);
	free(k->groq_project);
	sent_free(k);
	secret_free(k->secret);
	secret_free(k->new_secret);
	free(k->rot_by);
	free(k);
}

void ctoken_free(struct ctoken *t)
{
	if (!t)
		return;
	free(t->id);
	free(t->team);
	free(t->key);
	free(t->label);
	free(t->created_by);
	free(t);
}

#define PUSH(arr, n, cap, v)                                                    \
	do {                                                                    \
		if ((n) == (cap)) {                                             \
			(cap) = (cap) ? (cap) * 2 : 16;                         \
			(arr) = xrealloc((arr), (size_t)(cap) * sizeof *(arr)); \
		}                                                               \
		(arr)[(n)++] = (v);                                             \
	} while (0)

void registry_add_team(struct registry *r, struct team *t)
{
	PUSH(r->teams, r->nteams, r->capteams, t);
	strmap_put(r->team_by_id, t->id, t);
	if (r->ctr)
		t->ctr = r->ctr;
}

void team_shipped(struct team *t, int64_t cost)
{
	t->unshipped_nusd -= cost;
	t->lease_nusd = t->lease_nusd > cost ? t->lease_nusd - cost : 0;
}

void registry_add_key(struct registry *r, struct ukey *k)
{
	PUSH(r->keys, r->nkeys, r->capkeys, k);
	strmap_put(r->key_by_name, k->name, k);
	struct team *t = registry_team(r, k->team);
	if (t)
		t->nkeys++;
}

void registry_del_key(struct registry *r, struct ukey *k)
{
	for (int i = 0; i < r->nkeys; i++)
		if (r->keys[i] == k) {
			memmove(&r->keys[i], &r->keys[i + 1], (size_t)(r->nkeys - i - 1) * sizeof *r->keys);
			r->nkeys--;
			break;
		}
	strmap_del(r->key_by_name, k->name);
	struct team *t = registry_team(r, k->team);
	if (t)
		t->nkeys--;
	ukey_free(k);
}

void registry_add_token(struct registry *r, struct ctoken *t)
{
	PUSH(r->tokens, r->ntokens, r->captokens, t);
	strmap_put(r->token_by_id, t->id, t);
	if (!t->revoked_at)
		strmap_put(r->token_by_hash, t->hash, t);
}

struct team *registry_team(struct registry *r, const char *id)
{
	return id ? strmap_get(r->team_by_id, id) : NULL;
}

struct ukey *registry_key(struct registry *r, const char *name)
{
	return name ? strmap_get(r->key_by_name, name) : NULL;
}

bool team_allows(const struct team *t, const char *model)
{
	for (int i = 0; i < t->nmodels; i++)
		if (strcmp(t->models[i], model) == 0)
			return true;
	return false;
}

static const char *const state_names[] = { "active", "paused", "budget_paused" };

const char *team_state_name(enum team_state s)
{
	return (unsigned)s < ARRAY_LEN(state_names) ? state_names[s] : "active";
}

int team_state_parse(const char *s)
{
	for (size_t i = 0; i < ARRAY_LEN(state_names); i++)
		if (str_eq(s, state_names[i]))
			return (int)i;
	return TEAM_ACTIVE;
}

const char *rot_step_name(enum rot_step s)
{
	static const char *const n[] = { "none", "verified", "deployed", "secret_updated", "switched" };
	return (unsigned)s < ARRAY_LEN(n) ? n[s] : "none";
}

static void ukey_advance(struct ukey *k, int64_t now)
{
	int64_t h = now / 3600000;
	if (h <= k->hour_base)
		return;
	if (h - k->hour_base >= 24)
		memset(k->hourly, 0, sizeof k->hourly);
	else
		for (int64_t x = k->hour_base + 1; x <= h; x++)
			k->hourly[x % 24] = 0;
	k->hour_base = h;
}

void ukey_count(struct ukey *k, int64_t now)
{
	ukey_advance(k, now);
	k->hourly[(now / 3600000) % 24]++;
	k->last_used_at = now;
}

int64_t ukey_requests_24h(struct ukey *k, int64_t now)
{
	ukey_advance(k, now);
	int64_t n = 0;
	for (int i = 0; i < 24; i++)
		n += k->hourly[i];
	return n;
}

const char *ukey_active_secret(const struct ukey *k)
{
	return k->rot >= ROT_SWITCHED && k->new_secret ? k->new_secret : k->secret;
}

json_t *time_or_null(int64_t ms)
{
	if (!ms)
		return json_null();
	char s[32];
	time_iso(ms, s, sizeof s);
	return json_string(s);
}

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

json_t *team_json(const struct team *t, int64_t now, int nkeys)
{
	json_t *models = json_array(), *th = json_array();
	for (int i = 0; i < t->nmodels; i++)
		json_array_append_new(models, json_string(t->models[i]));
	for (int i = 0; i < t->nthresholds; i++)
		json_array_append_new(th, json_integer(t->thresholds[i]));
	double pct = t->budget_nusd > 0 ? 100.0 * (double)t->spend_nusd / (double)t->budget_nusd : 0;
	json_t *j = json_object();
	json_object_set_new(j, "id", json_string(t->id));
	json_object_set_new(j, "name", json_string(t->name));
	json_object_set_new(j, "state", json_string(team_state_name(t->state)));
	json_object_set_new(j, "allowed_models", models);
	json_object_set_new(j, "max_tokens_per_request", json_integer(t->max_tokens));
	json_object_set_new(j, "rpm_limit", json_integer(t->rpm_limit));
	json_object_set_new(j, "rpm_mode", json_string(t->rpm_mode == RPM_QUEUE ? "queue" : "reject"));
	json_object_set_new(j, "queue_max_wait_ms", json_integer(t->queue_wait_ms));
	json_object_set_new(j, "rpm", json_integer(counters_count(t, now)));
	json_object_set_new(j, "queued", json_integer(t->qlen));
	json_object_set_new(j, "priority", json_string(priority_name(t->priority)));
	json_object_set_new(j, "tpm_limit", json_integer(t->tpm_limit));
	json_object_set_new(j, "tpd_limit", json_integer(t->tpd_limit));
	json_object_set_new(j, "rpd_limit", json_integer(t->rpd_limit));
	json_object_set_new(j, "tpm", json_integer(team_tpm((struct team *)t, now)));
	json_object_set_new(j, "monthly_budget_usd", json_real((double)t->budget_nusd / NUSD_PER_USD));
	json_object_set_new(j, "spend_mtd_usd", json_real((double)t->spend_nusd / NUSD_PER_USD));
	json_object_set_new(j, "reserved_usd", json_real((double)t->reserved_nusd / NUSD_PER_USD));
	json_object_set_new(j, "daily_budget_usd", json_real((double)t->day_budget_nusd / NUSD_PER_USD));
	json_object_set_new(j, "weekly_budget_usd", json_real((double)t->week_budget_nusd / NUSD_PER_USD));
	json_object_set_new(j, "user_daily_budget_usd", json_real((double)t->user_day_budget_nusd / NUSD_PER_USD));
	json_object_set_new(j, "user_rpm_limit", json_integer(t->user_rpm_limit));
	json_object_set_new(j, "replace_retired", json_boolean(t->replace_retired));
	json_object_set_new(j, "fallbacks", t->fallbacks ? json_loads(t->fallbacks, 0, NULL) : json_object());
	json_object_set_new(j, "service_tiers", tiers_json(t->tiers ? t->tiers : (1u << TIER_N) - 1));
	json_object_set_new(j, "default_service_tier",
			    t->default_tier ? json_string(tier_name(t->default_tier)) : json_null());
	json_object_set_new(j, "spend_today_usd", json_real((double)t->day_spend_nusd / NUSD_PER_USD));
	json_object_set_new(j, "spend_week_usd", json_real((double)t->week_spend_nusd / NUSD_PER_USD));
	json_object_set_new(j, "spend_pct", json_real((double)(int64_t)(pct * 100 + 0.5) / 100));
	json_object_set_new(j, "alert_thresholds", th);
	json_object_set_new(j, "auto_pause", json_boolean(t->auto_pause));
	json_object_set_new(j, "paused_by", str_or_null(t->paused_by));
	json_object_set_new(j, "paused_reason", str_or_null(t->paused_reason));
	json_object_set_new(j, "paused_at", time_or_null(t->paused_at));
	json_object_set_new(j, "version", json_integer(t->version));
	json_object_set_new(j, "keys", json_integer(nkeys));
	json_object_set_new(j, "requests_total", json_integer(t->requests_total));
	json_object_set_new(j, "rejected_total", json_integer(t->rejected_total));
	json_object_set_new(j, "created_at", time_or_null(t->created_at));
	return j;
}

json_t *ukey_json(const struct ukey *k, int64_t now, int64_t drain_ms)
{
	json_t *j = json_object();
	json_object_set_new(j, "name", json_string(k->name));
	json_object_set_new(j, "team", json_string(k->team));
	json_object_set_new(j, "groq_project", str_or_null(k->groq_project));
	json_object_set_new(j, "fingerprint", json_string(k->fp));
	json_object_set_new(j, "state", json_string(k->rejected ? "rejected" : k->rot ? "rotating" : "active"));
	json_object_set_new(j, "created_at", time_or_null(k->created_at));
	json_object_set_new(j, "last_used_at", time_or_null(k->last_used_at));
	json_object_set_new(j, "requests_24h", json_integer(ukey_requests_24h((struct ukey *)k, now)));
	json_object_set_new(j, "inflight", json_integer(k->inflight));
	json_object_set_new(j, "version", json_integer(k->version));
	json_object_set_new(j, "monthly_budget_usd", json_real((double)k->budget_nusd / NUSD_PER_USD));
	json_object_set_new(j, "rpm_limit", json_integer(k->rpm_limit));
	json_object_set_new(j, "tpm_limit", json_integer(k->tpm_limit));
	json_object_set_new(j, "spend_mtd_usd", json_real((double)k->spend_nusd / NUSD_PER_USD));
	if (k->rot == ROT_NONE) {
		json_object_set_new(j, "rotation", json_null());
	} else {
		json_t *r = json_object();
		json_object_set_new(r, "step", json_string(rot_step_name(k->rot)));
		json_object_set_new(r, "step_index", json_integer((int)k->rot));
		json_object_set_new(r, "new_fingerprint", json_string(k->new_fp));
		json_object_set_new(r, "started_by", str_or_null(k->rot_by));
		json_object_set_new(r, "started_at", time_or_null(k->rot_started_at));
		json_object_set_new(r, "updated_at", time_or_null(k->rot_updated_at));
		json_object_set_new(r, "switched_at", time_or_null(k->rot_switched_at));
		json_object_set_new(r, "serving", json_string(k->rot >= ROT_SWITCHED ? "new" : "old"));
		if (k->rot >= ROT_SWITCHED) {
			int64_t since = k->old_last_used > k->rot_switched_at ? k->old_last_used : k->rot_switched_at;
			int64_t left = since + drain_ms - now;
			if (k->old_inflight)
				left = drain_ms;
			json_object_set_new(r, "old_key_requests_since_switch", json_integer(k->old_since_switch));
			json_object_set_new(r, "old_key_inflight", json_integer(k->old_inflight));
			json_object_set_new(r, "old_key_last_used_at", time_or_null(k->old_last_used));
			json_object_set_new(r, "drain_seconds", json_integer(drain_ms / 1000));
			json_object_set_new(r, "drain_remaining_seconds", json_integer(left > 0 ? (left + 999) / 1000 : 0));
		}
		json_object_set_new(j, "rotation", r);
	}
	json_t *hr = json_object();
	if (k->hr.seen_at) {
		json_object_set_new(hr, "limit_requests", json_integer(k->hr.limit_req));
		json_object_set_new(hr, "remaining_requests", json_integer(k->hr.rem_req));
		json_object_set_new(hr, "limit_tokens", json_integer(k->hr.limit_tok));
		json_object_set_new(hr, "remaining_tokens", json_integer(k->hr.rem_tok));
		json_object_set_new(hr, "seen_at", time_or_null(k->hr.seen_at));
	}
	json_object_set_new(j, "headroom", hr);
	return j;
}

json_t *ctoken_json(const struct ctoken *t)
{
	return json_pack("{s:s,s:s,s:s,s:s,s:o,s:o,s:o,s:o,s:I}", "id", t->id, "team", t->team, "key", t->key,
			 "label", t->label, "created_at", time_or_null(t->created_at), "revoked_at",
			 time_or_null(t->revoked_at), "last_used_at", time_or_null(t->last_used_at),
			 "created_by", str_or_null(t->created_by), "requests", (json_int_t)t->requests);
}

bool slug_valid(const char *s)
{
	if (!s || !*s || strlen(s) > 63 || (!islower((unsigned char)s[0]) && !isdigit((unsigned char)s[0])))
		return false;
	for (; *s; s++)
		if (!islower((unsigned char)*s) && !isdigit((unsigned char)*s) && *s != '-' && *s != '_')
			return false;
	return true;
}

bool key_name_valid(const char *name, const char *team, char **cause)
{
	size_t tl = strlen(team);
	if (!name || strncmp(name, team, tl) != 0 || name[tl] != '-') {
		fail(cause, "key name '%s' must follow {team}-{environment}-{purpose} and start with '%s-'",
		     name ? name : "", team);
		return false;
	}
	const char *rest = name + tl + 1;
	const char *dash = strchr(rest, '-');
	if (!dash || dash == rest || !dash[1] || strlen(name) > 120) {
		fail(cause, "key name '%s' must follow {team}-{environment}-{purpose}, e.g. '%s-prod-api'", name, team);
		return false;
	}
	for (const char *p = rest; *p; p++)
		if (!islower((unsigned char)*p) && !isdigit((unsigned char)*p) && *p != '-' && *p != '_') {
			fail(cause, "key name '%s' may use only a-z, 0-9, '-' and '_'", name);
			return false;
		}
	return true;
}

/* ---- another replica's changes, read again from the store ----------- */

static void swap_str(char **a, char **b)
{
	char *t = *a;
	*a = *b;
	*b = t;
}

/* Moves the persistent fields of c into t: c's strings become t's (t's
 * old ones freed), c's id is freed; the live figures stay t's. */
void team_adopt(struct team *t, struct team *c)
{
	struct team old = *t;
	t->name = c->name;
	t->models = c->models;
	t->nmodels = c->nmodels;
	t->paused_by = c->paused_by;
	t->paused_reason = c->paused_reason;
	t->state = c->state;
	t->max_tokens = c->max_tokens;
	t->rpm_limit = c->rpm_limit;
	t->rpm_mode = c->rpm_mode;
	t->queue_wait_ms = c->queue_wait_ms;
	t->budget_nusd = c->budget_nusd;
	memcpy(t->thresholds, c->thresholds, sizeof t->thresholds);
	t->nthresholds = c->nthresholds;
	t->auto_pause = c->auto_pause;
	t->paused_at = c->paused_at;
	t->override_until = c->override_until;
	t->tpm_limit = c->tpm_limit;
	t->tpd_limit = c->tpd_limit;
	t->rpd_limit = c->rpd_limit;
	t->priority = c->priority;
	t->day_budget_nusd = c->day_budget_nusd;
	t->week_budget_nusd = c->week_budget_nusd;
	t->user_day_budget_nusd = c->user_day_budget_nusd;
	t->user_rpm_limit = c->user_rpm_limit;
	t->replace_retired = c->replace_retired;
	t->fallbacks = c->fallbacks;
	t->tiers = c->tiers;
	t->default_tier = c->default_tier;
	t->version = c->version;
	free(c->id);
	free(old.name);
	for (int i = 0; i < old.nmodels; i++)
		free(old.models[i]);
	free(old.models);
	free(old.paused_by);
	free(old.paused_reason);
	free(old.fallbacks);
	rl_resize(&t->rl, (int)t->rpm_limit);
}

static void key_take(struct ukey *k, struct ukey *f)
{
	if (!str_eq(k->secret, f->secret))
		swap_str(&k->secret, &f->secret);
	swap_str(&k->groq_project, &f->groq_project);
	swap_str(&k->new_secret, &f->new_secret);
	swap_str(&k->rot_by, &f->rot_by);
	memcpy(k->fp, f->fp, sizeof k->fp);
	memcpy(k->new_fp, f->new_fp, sizeof k->new_fp);
	k->rejected = f->rejected;
	k->version = f->version;
	k->budget_nusd = f->budget_nusd;
	k->rpm_limit = f->rpm_limit;
	k->tpm_limit = f->tpm_limit;
	k->rot = f->rot;
	k->rot_started_at = f->rot_started_at;
	k->rot_switched_at = f->rot_switched_at;
	k->rot_updated_at = f->rot_updated_at;
	k->old_since_switch = f->old_since_switch;
	if (f->old_last_used > k->old_last_used)
		k->old_last_used = f->old_last_used;
	if (f->last_used_at > k->last_used_at)
		k->last_used_at = f->last_used_at;
}

void registry_set_alias(struct registry *r, const char *alias, const char *model)
{
	for (int i = 0; i < r->naliases; i++)
		if (str_eq(r->aliases[i].alias, alias)) {
			free(r->aliases[i].model);
			if (model) {
				r->aliases[i].model = xstrdup(model);
				return;
			}
			free(r->aliases[i].alias);
			r->aliases[i] = r->aliases[--r->naliases];
			return;
		}
	if (!model)
		return;
	r->aliases = xrealloc(r->aliases, (size_t)(r->naliases + 1) * sizeof *r->aliases);
	r->aliases[r->naliases++] = (struct model_alias){ .alias = xstrdup(alias), .model = xstrdup(model) };
}

const char *registry_alias(const struct registry *r, const char *alias)
{
	for (int i = 0; r && alias && i < r->naliases; i++)
		if (str_eq(r->aliases[i].alias, alias))
			return r->aliases[i].model;
	return NULL;
}

int registry_merge(struct registry *r, struct registry *f)
{
	int changed = 0;
	/* the operators' aliases: the store's whole set */
	for (int i = 0; i < r->naliases; i++)
		changed += !str_eq(registry_alias(f, r->aliases[i].alias), r->aliases[i].model);
	for (int i = 0; i < f->naliases; i++)
		changed += !registry_alias(r, f->aliases[i].alias);
	struct model_alias *a = r->aliases;
	int na = r->naliases;
	r->aliases = f->aliases;
	r->naliases = f->naliases;
	f->aliases = a;
	f->naliases = na;
	for (int i = 0; i < f->nteams; i++) {
		struct team *n = f->teams[i], *t = registry_team(r, n->id);
		if (!t) {
			f->teams[i] = NULL;
			strmap_del(f->team_by_id, n->id);
			n->spend_nusd = n->reserved_nusd = 0; /* the cluster's spend poll sets it */
			n->month_start = r->org_month_start;
			registry_add_team(r, n);
			changed++;
		} else {
			changed += t->version != n->version || t->state != n->state;
			team_adopt(t, n); /* n keeps nothing of its own but its window */
			n->id = n->name = n->paused_by = n->paused_reason = NULL;
			n->models = NULL;
			n->nmodels = 0;
		}
	}
	for (int i = 0; i < f->nkeys; i++) {
		struct ukey *n = f->keys[i], *k = registry_key(r, n->name);
		if (!k) {
			f->keys[i] = NULL;
			registry_add_key(r, n);
			changed++;
		} else {
			key_take(k, n);
		}
	}
	for (int i = 0; i < f->ntokens; i++) {
		struct ctoken *n = f->tokens[i], *t = strmap_get(r->token_by_id, n->id);
		if (!t) {
			f->tokens[i] = NULL;
			registry_add_token(r, n);
			changed++;
		} else if (n->revoked_at && !t->revoked_at) {
			t->revoked_at = n->revoked_at;
			strmap_del(r->token_by_hash, t->hash);
			changed++;
		}
	}
	size_t at = 0;
	const char *id;
	void *v;
	while (strmap_next(f->files, &at, &id, &v))
		if (!strmap_get(r->files, id)) {
			struct bfile *b = v;
			strmap_put(r->files, b->id, b);
			strmap_put(f->files, id, NULL);
		}
	at = 0;
	while (strmap_next(f->batches, &at, &id, &v)) {
		struct batch *b = v, *mine = strmap_get(r->batches, id);
		if (!mine) { /* made by another replica: it settles it */
			b->foreign = true;
			strmap_put(r->batches, b->id, b);
			strmap_put(f->batches, id, NULL);
		} else if (b->settled_at && !mine->settled_at && !b->reserved_nusd) {
			mine->settled_at = b->settled_at;
		} else if (mine->foreign && !str_eq(mine->owner, b->owner)) {
			swap_str(&mine->owner, &b->owner); /* taken over by another replica */
			mine->settled_at = b->settled_at;
		}
	}
	/* what was taken is NULL in f now */
	int nt = 0, nk = 0, nc = 0;
	for (int i = 0; i < f->nteams; i++)
		if (f->teams[i])
			f->teams[nt++] = f->teams[i];
	f->nteams = nt;
	for (int i = 0; i < f->nkeys; i++)
		if (f->keys[i])
			f->keys[nk++] = f->keys[i];
	f->nkeys = nk;
	for (int i = 0; i < f->ntokens; i++)
		if (f->tokens[i])
			f->tokens[nc++] = f->tokens[i];
	f->ntokens = nc;
	return changed;
}

/* (here, not in budget.c: the team or key found by its id, its window read
 * in by fleetwin_read) */
void fleet_window_read(struct registry *reg, const char *kind, const char *owner, int64_t start, int64_t spent,
		       int64_t mine, int64_t held)
{
	struct team *t = str_eq(kind, "key") ? NULL : registry_team(reg, owner);
	struct ukey *k = str_eq(kind, "key") ? registry_key(reg, owner) : NULL;
	if (t && str_eq(kind, "day") && t->day_start == start)
		fleetwin_read(&t->day_fw, &t->day_spend_nusd, spent, mine, held);
	else if (t && str_eq(kind, "week") && t->week_start == start)
		fleetwin_read(&t->week_fw, &t->week_spend_nusd, spent, mine, held);
	else if (k && k->month_start == start)
		fleetwin_read(&k->fw, &k->spend_nusd, spent, mine, held);
}
