/* capacity.c — Groq's capacity shared fairly: the windows of tokens,
 * requests and audio seconds that a team and the organisation use, each
 * request's worst case taken when it is admitted and corrected when it
 * settles; the organisation's limits per model (declared in groq_limits,
 * or learned from Groq's headers) apportioned by priority; Groq's own 429
 * holding its model for every team. No I/O: the clock is the caller's.
 *
 * A window is a ring of buckets (a second for the minute's limits, a
 * minute for the hour's and the day's). A bucket counts until it has
 * wholly left the window, so every window of the limit's length, aligned
 * or not, holds at most what the ring holds: the limit is never passed,
 * and a request waits at most one bucket longer than a perfect window
 * would have it wait. */
#include "capacity_int.h"

#include <stdlib.h>
#include <string.h>

#include "gotime.h"
#include "util.h"

const char *const cap_lim_name[CL_N] = { "rpm", "rpd", "tpm", "tpd", "ash", "asd" };
const int64_t cap_lim_span[CL_N] = { 60000, 86400000, 60000, 86400000, 3600000, 86400000 };
static const int64_t lim_bucket[CL_N] = { 1000, 60000, 1000, 60000, 60000, 60000 };
static const char *const lim_long[CL_N] = { "requests per minute (RPM)", "requests per day (RPD)",
					    "tokens per minute (TPM)",	 "tokens per day (TPD)",
					    "audio seconds per hour (ASH)", "audio seconds per day (ASD)" };

const char *priority_name(enum priority p)
{
	return p == PRIO_CRITICAL ? "critical" : p == PRIO_BATCH ? "batch" : "standard";
}

int priority_parse(const char *s)
{
	if (str_eq(s, "critical"))
		return PRIO_CRITICAL;
	if (str_eq(s, "standard"))
		return PRIO_STANDARD;
	if (str_eq(s, "batch"))
		return PRIO_BATCH;
	return -1;
}

/* Groq's service tiers (a team's, and the one a request is sent in) */

static const char *const tier_names[TIER_N] = { "on_demand", "flex", "performance", "auto" };

unsigned tier_parse(const char *name)
{
	for (int i = 0; name && i < TIER_N; i++)
		if (str_eq(name, tier_names[i]))
			return 1u << i;
	return 0;
}

const char *tier_name(unsigned bit)
{
	for (int i = 0; i < TIER_N; i++)
		if (bit == 1u << i)
			return tier_names[i];
	return NULL;
}

json_t *tiers_json(unsigned bits)
{
	json_t *a = json_array();
	for (int i = 0; i < TIER_N; i++)
		if (bits & (1u << i))
			json_array_append_new(a, json_string(tier_names[i]));
	return a;
}

/* ---- the organisation's models ---------------------------------------- */

struct capacity *capacity_new(const struct gw_config *cfg)
{
	struct capacity *c = xcalloc(1, sizeof *c);
	c->ratio = strmap_new();
	c->replicas = 1;
	capacity_configure(c, cfg);
	return c;
}

struct orgmodel *cap_model_get(struct capacity *c, const char *model, bool make)
{
	for (int i = 0; i < c->nm; i++)
		if (str_eq(c->m[i]->model, model))
			return c->m[i];
	if (!make || c->nm >= 4096) /* bounded: learned only for models a team called */
		return NULL;
	struct orgmodel *m = xcalloc(1, sizeof *m);
	m->model = xstrdup(model);
	c->m = xrealloc(c->m, (size_t)(c->nm + 1) * sizeof *c->m);
	c->m[c->nm++] = m;
	return m;
}

static void model_limits(struct orgmodel *m, const int64_t *limit)
{
	for (int l = 0; l < CL_N; l++) {
		m->limit[l] = limit[l];
		if (limit[l] > 0 && !m->use[l][0].n)
			for (int k = 0; k < 3; k++)
				win_init(&m->use[l][k], cap_lim_span[l], lim_bucket[l]);
	}
}

void capacity_configure(struct capacity *c, const struct gw_config *cfg)
{
	c->reserve_pct = (int)cfg->cap_reserve_pct;
	c->batch_pct = (int)cfg->cap_batch_pct;
	/* what was declared and no longer is: learned again from Groq */
	for (int i = 0; i < c->nm; i++) {
		struct orgmodel *m = c->m[i];
		if (m->declared) {
			m->declared = false;
			static const int64_t none[CL_N];
			model_limits(m, none);
		}
	}
	for (int i = 0; i < cfg->ngroq_limits; i++) {
		struct orgmodel *m = cap_model_get(c, cfg->groq_limits[i].model, true);
		m->declared = true;
		model_limits(m, cfg->groq_limits[i].limit);
	}
}

static void model_free(void *v)
{
	struct orgmodel *m = v;
	for (int l = 0; l < CL_N; l++)
		for (int k = 0; k < 3; k++)
			win_free(&m->use[l][k]);
	free(m->model);
	free(m->hold_why);
	free(m);
}

void capacity_free(struct capacity *c)
{
	if (!c)
		return;
	for (int i = 0; i < c->nm; i++)
		model_free(c->m[i]);
	free(c->m);
	size_t it = 0;
	const char *k;
	void *v;
	while (strmap_next(c->ratio, &it, &k, &v))
		free(v);
	strmap_free(c->ratio);
	free(c);
}

void capacity_learn(struct capacity *c, const char *model, int64_t rpd, int64_t tpm)
{
	struct orgmodel *m = cap_model_get(c, model, false);
	if (m && m->declared)
		return;
	if (rpd <= 0 && tpm <= 0)
		return;
	if (!m)
		m = cap_model_get(c, model, true);
	int64_t limit[CL_N];
	memcpy(limit, m->limit, sizeof limit);
	if (rpd > 0)
		limit[CL_RPD] = rpd;
	if (tpm > 0)
		limit[CL_TPM] = tpm;
	model_limits(m, limit);
}

/* ---- a team's own windows --------------------------------------------- */


struct teamcap *cap_team(struct team *t)
{
	if (!t->cap) {
		t->cap = xcalloc(1, sizeof *t->cap);
		win_init(&t->cap->tpm, 60000, 1000);
	}
	if (t->tpd_limit > 0 && !t->cap->tpd.n)
		win_init(&t->cap->tpd, 86400000, 60000);
	if (t->rpd_limit > 0 && !t->cap->rpd.n)
		win_init(&t->cap->rpd, 86400000, 60000);
	return t->cap;
}

void teamcap_free(struct teamcap *tc)
{
	if (!tc)
		return;
	win_free(&tc->tpm);
	win_free(&tc->tpd);
	win_free(&tc->rpd);
	free(tc);
}

int64_t team_tpm(struct team *t, int64_t now)
{
	return t->cap ? win_sum(&t->cap->tpm, now) : 0;
}

/* ---- the prompt's tokens, as capacity counts them ---------------------- */

#define RATIO_MIN 1000   /* a token is at least a byte: the money bound */
#define RATIO_MAX 6000
#define MARGIN_PCT 125   /* the learned ratio's margin */

int64_t capacity_prompt(struct capacity *c, const char *model, int64_t bytes, int64_t upper)
{
	int64_t *r = model ? strmap_get(c->ratio, model) : NULL;
	if (!r)
		return upper;
	int64_t est = bytes * 1000 * MARGIN_PCT / 100 / *r + 1;
	return est < upper ? est : upper;
}

void capacity_calibrate(struct capacity *c, const char *model, int64_t bytes, int64_t prompt_tokens)
{
	if (!model || prompt_tokens <= 0 || bytes <= 0)
		return;
	int64_t ratio = bytes * 1000 / prompt_tokens;
	if (ratio < RATIO_MIN)
		ratio = RATIO_MIN;
	if (ratio > RATIO_MAX)
		ratio = RATIO_MAX;
	int64_t *r = strmap_get(c->ratio, model);
	if (!r) {
		if (strmap_len(c->ratio) >= 1024) /* bounded: models the gateway prices */
			return;
		r = xmalloc(sizeof *r);
		*r = ratio;
		strmap_put(c->ratio, model, r);
		return;
	}
	/* the smaller of the two quickly (a denser prompt is the risk), the larger slowly */
	*r = ratio < *r ? (*r + ratio * 3) / 4 : (*r * 15 + ratio) / 16;
}

/* ---- admission and settlement ------------------------------------------ */

static int64_t share(int64_t limit, int pct)
{
	return (int64_t)((__int128)limit * pct / 100);
}

void capacity_share(struct capacity *c, int replicas)
{
	if (!c) /* (a tick before the gateway's capacity is made) */
		return;
	c->replicas = replicas > 0 ? replicas : 1;
}

/* a limit as this replica holds it: its equal share of the fleet's (the
 * shares add up to no more than the limit) */
int64_t cap_mine(const struct capacity *c, int64_t limit)
{
	if (limit <= 0 || c->replicas <= 1)
		return limit;
	int64_t s = limit / c->replicas;
	return s > 0 ? s : 1;
}

/* the fleet's limit of class k (0 all, 1 standard+batch, 2 batch) */
int64_t cap_class_limit(const struct capacity *c, int64_t limit, int k)
{
	return k == 0 ? limit : k == 1 ? share(limit, 100 - c->reserve_pct) : share(limit, c->batch_pct);
}

int cap_top_class(enum priority p)
{
	return p == PRIO_CRITICAL ? 0 : p == PRIO_STANDARD ? 1 : 2;
}

static void over(struct verdict *v, int status, int lim, const char *who, int64_t limit, int64_t used,
		 int64_t need, int64_t retry)
{
	char w[32];
	gotime_format(retry, w, sizeof w);
	bool tokens = lim == CL_TPM || lim == CL_TPD;
	const char *type = lim == CL_RPM || lim == CL_RPD ? "requests" : tokens ? "tokens" : "audio_seconds";
	if (status == 413)
		deny(v, 413, type, "rate_limit_exceeded", "capacity_too_large",
		     xasprintf("Request too large for %s on %s: Limit %lld, Requested %lld. The request can never fit; "
			       "lower max_tokens or the prompt.",
			       who, lim_long[lim], (long long)limit, (long long)need));
	else
		deny(v, 429, type, "rate_limit_exceeded", "capacity_limited",
		     xasprintf("Rate limit reached for %s on %s: Limit %lld, Used %lld, Requested %lld. "
			       "Please try again in %s.",
			       who, lim_long[lim], (long long)limit, (long long)used, (long long)need, w));
	v->retry_ms = retry;
}

/* ---- the fleet's windows: room leased ---------------------------------- */

/* A lease is usable for CAP_LEASE_MS of the caller's clock; the fleet
 * dates it that far ahead, so it leaves the fleet's window no sooner than a
 * request admitted under it at any moment of the lease would. Its size:
 * room for the request asking (an idle replica holds nothing back), doubled at each renewal
 * while they keep coming, up to LEASE_MAX (the fleet grants no more than a
 * quarter of what is free beyond the request). */
#define LEASE_MIN 1
#define LEASE_MAX 256
#define SLOTS (3 + CL_N * 3) /* the windows one request can take from */

void capacity_fleet(struct capacity *c, const struct capfleet *f)
{
	c->fleet = f;
}

static void scope_team(char *s, size_t n, const struct team *t, int lim)
{
	snprintf(s, n, "t:%s:%s", t->id, cap_lim_name[lim]);
}

static void scope_model(char *s, size_t n, const char *model, int lim, int k)
{
	snprintf(s, n, "m:%s:%s:%d", model, cap_lim_name[lim], k);
}

/* who a window's limit is, for a refusal: the team's own (k < 0) or the
 * organisation's model, a class's share of it */
static char *who_of(const struct capacity *c, const struct team *t, const char *model, int k, bool never)
{
	if (k < 0)
		return xasprintf("team '%s'", t->id);
	if (k == 0)
		return never ? xasprintf("the organisation's model '%s'", model)
			     : xasprintf("the organisation on model '%s'", model);
	const char *cls = k == 2 ? "batch" : "standard and batch";
	int pct = k == 2 ? c->batch_pct : 100 - c->reserve_pct;
	return never ? xasprintf("the %s share of model '%s' (%d %%)", cls, model, pct)
		     : xasprintf("%s teams on model '%s' (their share: %d %% of Groq's limit; critical teams keep the rest)",
				 cls, model, pct);
}

/* the unused rest of w's lease back to the fleet */
static void lease_end(const struct capfleet *f, struct window *w, const char *scope)
{
	if (w->lease > 0 && w->lease_stamp)
		f->give(f->arg, scope, w->lease_stamp, -w->lease);
	w->lease = 0;
	w->lease_stamp = 0;
	w->lease_until = 0;
}

/* Whether need fits in window w under limit as this replica holds it
 * alone (one node, or the fleet cannot be asked): 0 now, > 0 ms until it
 * may, -1 never. In a fleet, its share is of what the other replicas did
 * not hold when the fleet last said (every second, capacity_fleet_tick),
 * until that has left the window, so that together they still admit no
 * more than the limit's rest. *used and *shown: the use seen and the
 * limit it was held to. */
static int64_t fits_here(const struct capacity *c, struct window *w, int lim, int64_t limit, int64_t need,
			 int64_t now, int64_t *used, int64_t *shown)
{
	*used = win_sum(w, now);
	if (c->fleet && w->others_at && now - w->others_at < cap_lim_span[lim] && w->others > 0) {
		limit -= w->others;
		if (limit < 1 || cap_mine(c, limit) < need) {
			*shown = limit > 0 ? cap_mine(c, limit) : 0;
			return w->others_at + cap_lim_span[lim] - now;
		}
	}
	*shown = cap_mine(c, limit);
	return win_wait(w, now, need, *shown);
}

/* need taken from w: the local window, and the lease it fitted in (stamp
 * 0: none; in a fleet, kept to be told to it when it answers again) */
static void take(const struct capacity *c, struct window *w, int64_t stamp, int64_t need, int64_t now)
{
	win_add(w, now, now, need);
	if (stamp && stamp == w->lease_stamp)
		w->lease -= need;
	else if (!stamp && c->fleet)
		w->unrecorded += need;
}

/* a settled request's correction d (negative: given back) of what it took
 * at `at`, leased in the fleet's bucket stamp (0: none) */
static void correct(const struct capfleet *f, struct window *w, const char *scope, int64_t stamp, int64_t at,
		    int64_t d, int64_t now)
{
	win_add(w, at, now, d);
	if (!f || !d)
		return;
	if (!stamp) { /* admitted while the fleet could not be asked */
		w->unrecorded += d;
		if (w->unrecorded < 0)
			w->unrecorded = 0;
		return;
	}
	if (stamp == w->lease_stamp && w->lease_until > now && w->lease - d >= 0) {
		w->lease -= d; /* within the lease still running */
		return;
	}
	f->give(f->arg, scope, stamp, d);
}

/* one window a request takes from, as the fleet is asked about it */
struct slot {
	struct window *w;
	int lim, k; /* its limit (CL_*); its class (-1: the team's own) */
	int64_t limit, need;
	int64_t *stamp; /* where its lease's bucket goes (the capres) */
	char scope[300];
};

/* the fleet's figure for w: what the other replicas hold */
static void others_seen(struct window *w, int64_t fleet_used, int64_t now)
{
	int64_t here = win_sum(w, now);
	w->others = fleet_used > here ? fleet_used - here : 0;
	w->others_at = now;
}

/* Every window of a request from the fleet at once: those whose lease
 * lacks room are asked together, all or none (one round trip; a class's
 * share is not held while another refuses). 0 taken, -1 refused (*bad, and
 * its retry and use), 1 the fleet cannot be asked. */
static int fleet_take(struct capacity *c, struct slot *s, int n, int64_t now, int *bad, int64_t *retry,
		      int64_t *used)
{
	struct capask ask[SLOTS];
	int idx[SLOTS], na = 0;
	for (int i = 0; i < n; i++) /* refused a moment ago: not asked again before its lease's length */
		if (s[i].w->refused_until > now) {
			*bad = i;
			*retry = s[i].w->refused_retry;
			*used = s[i].w->refused_used;
			return -1;
		}
	for (int i = 0; i < n; i++) {
		struct window *w = s[i].w;
		if (w->lease_until > now && w->lease >= s[i].need)
			continue;
		/* asked again within a lease's length of the last: a larger one */
		w->lease_size = w->lease_until > now - CAP_LEASE_MS && w->lease_size ? w->lease_size * 2 : LEASE_MIN;
		if (w->lease_size > LEASE_MAX)
			w->lease_size = LEASE_MAX;
		ask[na] = (struct capask){ .scope = s[i].scope,
					   .span = cap_lim_span[s[i].lim],
					   .bucket = lim_bucket[s[i].lim],
					   .limit = s[i].limit,
					   .need = s[i].need,
					   .want = s[i].need * w->lease_size,
					   .give_stamp = w->lease > 0 ? w->lease_stamp : 0,
					   .give = w->lease > 0 ? w->lease : 0,
					   .add = w->unrecorded };
		idx[na++] = i;
	}
	if (na) {
		int which = -1;
		int rc = c->fleet->lease(c->fleet->arg, ask, na, &which);
		if (rc < 0)
			return 1;
		for (int j = 0; j < na; j++) { /* the old leases' rests were given back, what was admitted alone told */
			struct window *w = s[idx[j]].w;
			w->lease = w->lease_stamp = w->lease_until = 0;
			w->unrecorded = 0;
		}
		if (rc == 1) {
			int i = idx[which];
			struct window *w = s[i].w;
			others_seen(w, ask[which].used, now);
			*bad = i;
			*retry = ask[which].retry > 0 ? ask[which].retry : 1;
			*used = ask[which].used;
			w->refused_until = now + (*retry < CAP_LEASE_MS ? *retry : CAP_LEASE_MS);
			w->refused_retry = *retry;
			w->refused_used = *used;
			return -1;
		}
		for (int j = 0; j < na; j++) {
			struct window *w = s[idx[j]].w;
			others_seen(w, ask[j].used, now);
			w->lease = ask[j].got;
			w->lease_stamp = ask[j].stamp;
			w->lease_until = now + CAP_LEASE_MS;
		}
	}
	for (int i = 0; i < n; i++) {
		*s[i].stamp = s[i].w->lease_stamp;
		take(c, s[i].w, s[i].w->lease_stamp, s[i].need, now);
	}
	return 0;
}

/* (field by field: its scope, 300 bytes, is written only in a fleet) */
static void slot_set(struct slot *s, struct window *w, int lim, int k, int64_t limit, int64_t need, int64_t *stamp)
{
	s->w = w;
	s->lim = lim;
	s->k = k;
	s->limit = limit;
	s->need = need;
	s->stamp = stamp;
	s->scope[0] = '\0';
}

/* the windows a request takes from: its team's own, then its model's
 * classes, the most restrictive first */
static int slots_of(struct capacity *c, struct team *t, struct teamcap *tc, struct orgmodel *m, const char *model,
		    const int64_t need[CL_N], struct capres *r, struct slot *s)
{
	int n = 0;
	struct window *tw[3] = { &tc->tpm, &tc->tpd, &tc->rpd };
	static const int tl[3] = { CL_TPM, CL_TPD, CL_RPD };
	const int64_t tlim[3] = { t->tpm_limit, t->tpd_limit, t->rpd_limit };
	for (int j = 0; j < 3; j++)
		if (tlim[j] > 0 && need[tl[j]] > 0) {
			slot_set(&s[n], tw[j], tl[j], -1, tlim[j], need[tl[j]], &r->tstamp[j]);
			if (c->fleet) /* (a scope names the window in the fleet only) */
				scope_team(s[n].scope, sizeof s[n].scope, t, tl[j]);
			n++;
		}
	if (!m)
		return n;
	int top = cap_top_class(t->priority);
	for (int l = 0; l < CL_N; l++)
		if (m->limit[l] > 0 && need[l] > 0)
			for (int k = top; k >= 0; k--) {
				slot_set(&s[n], &m->use[l][k], l, k, cap_class_limit(c, m->limit[l], k), need[l],
					 &r->mstamp[l][k]);
				if (c->fleet)
					scope_model(s[n].scope, sizeof s[n].scope, model, l, k);
				n++;
			}
	return n;
}

/* every window with a limit, the team's and the models', to fn */
static void each_window(struct capacity *c, struct registry *reg, void (*fn)(void *arg, struct window *w, const char *scope, int lim, int64_t limit), void *arg)
{
	char scope[600];
	for (int i = 0; i < reg->nteams; i++) {
		struct team *t = reg->teams[i];
		struct teamcap *tc = t->cap;
		if (!tc)
			continue;
		struct window *w[3] = { &tc->tpm, &tc->tpd, &tc->rpd };
		static const int wl[3] = { CL_TPM, CL_TPD, CL_RPD };
		const int64_t lim[3] = { t->tpm_limit, t->tpd_limit, t->rpd_limit };
		for (int j = 0; j < 3; j++)
			if (w[j]->n && (lim[j] > 0 || w[j]->lease_stamp)) {
				scope_team(scope, sizeof scope, t, wl[j]);
				fn(arg, w[j], scope, wl[j], lim[j]);
			}
	}
	for (int i = 0; i < c->nm; i++)
		for (int l = 0; l < CL_N; l++)
			for (int k = 0; k < 3; k++) {
				struct window *w = &c->m[i]->use[l][k];
				if (w->n && (c->m[i]->limit[l] > 0 || w->lease_stamp)) {
					scope_model(scope, sizeof scope, c->m[i]->model, l, k);
					fn(arg, w, scope, l, cap_class_limit(c, c->m[i]->limit[l], k));
				}
			}
}

struct tick {
	struct capacity *c;
	int64_t now;
	bool all; /* every lease ends (a clean stop) */
	struct capask *asks;
	struct window **ws;
	char (*scopes)[300];
	int n, cap;
};

static void tick_one(void *arg, struct window *w, const char *scope, int lim, int64_t limit)
{
	struct tick *k = arg;
	if (w->lease_stamp && (k->all || w->lease_until <= k->now))
		lease_end(k->c->fleet, w, scope);
	if (k->all || limit <= 0)
		return;
	if (k->n == k->cap) {
		k->cap = k->cap ? 2 * k->cap : 64;
		k->asks = xrealloc(k->asks, (size_t)k->cap * sizeof *k->asks);
		k->ws = xrealloc(k->ws, (size_t)k->cap * sizeof *k->ws);
		k->scopes = xrealloc(k->scopes, (size_t)k->cap * sizeof *k->scopes);
	}
	snprintf(k->scopes[k->n], sizeof k->scopes[0], "%s", scope);
	k->asks[k->n] = (struct capask){ .span = cap_lim_span[lim], .bucket = lim_bucket[lim], .limit = limit,
					 .add = w->unrecorded };
	k->ws[k->n++] = w;
}

void capacity_fleet_tick(struct capacity *c, struct registry *reg, int64_t now)
{
	if (!c || !c->fleet)
		return;
	/* leases ended with room unused: back to the fleet; then every window
	 * with a limit read (one round trip), what was admitted here alone
	 * told first, for the share it falls back to if the fleet goes quiet */
	struct tick k = { .c = c, .now = now };
	each_window(c, reg, tick_one, &k);
	for (int i = 0; i < k.n; i++)
		k.asks[i].scope = k.scopes[i];
	if (k.n && c->fleet->sync(c->fleet->arg, k.asks, k.n) == 0)
		for (int i = 0; i < k.n; i++) {
			k.ws[i]->unrecorded = 0;
			others_seen(k.ws[i], k.asks[i].used, now);
		}
	free(k.asks);
	free(k.ws);
	free(k.scopes);
}

void capacity_fleet_end(struct capacity *c, struct registry *reg)
{
	if (!c || !c->fleet)
		return;
	struct tick k = { .c = c, .all = true };
	each_window(c, reg, tick_one, &k);
}

int capacity_admit(struct capacity *c, struct team *t, const char *model, const int64_t need[CL_N], int64_t now,
		   struct capres *r, struct verdict *v)
{
	memset(r, 0, sizeof *r);
	struct teamcap *tc = cap_team(t);
	struct orgmodel *m = model ? cap_model_get(c, model, false) : NULL;
	if (m && m->hold_until > now) {
		char w[32];
		gotime_format(m->hold_until - now, w, sizeof w);
		deny(v, 429, "tokens", "rate_limit_exceeded", "upstream_rate_limited",
		     xasprintf("Groq is rate limiting model '%s' for the organisation (%s); every team waits. "
			       "Please try again in %s.",
			       model, m->hold_why ? m->hold_why : "429", w));
		v->retry_ms = m->hold_until - now;
		return -1;
	}
	struct slot s[SLOTS];
	int n = slots_of(c, t, tc, m, model, need, r, s);
	bool alone = true; /* decided by this replica's windows alone */
	if (c->fleet) {
		for (int i = 0; i < n; i++)
			if (s[i].need > s[i].limit) { /* it can never fit */
				char *who = who_of(c, t, model, s[i].k, true);
				over(v, 413, s[i].lim, who, s[i].limit, 0, s[i].need, 0);
				free(who);
				return -1;
			}
		int bad = -1;
		int64_t retry = 0, used = 0;
		int rc = fleet_take(c, s, n, now, &bad, &retry, &used);
		if (rc < 0) {
			char *who = who_of(c, t, model, s[bad].k, false);
			over(v, 429, s[bad].lim, who, s[bad].limit, used, s[bad].need, retry);
			free(who);
			return -1;
		}
		alone = rc == 1;
	}
	if (alone) {
		/* the longest wait is told (every window must have room) */
		int64_t worst = 0, worst_used = 0, worst_shown = 0;
		int wi = -1;
		for (int i = 0; i < n; i++) {
			int64_t used = 0, shown = 0;
			int64_t wait = fits_here(c, s[i].w, s[i].lim, s[i].limit, s[i].need, now, &used, &shown);
			if (wait < 0) {
				char *who = who_of(c, t, model, s[i].k, true);
				over(v, 413, s[i].lim, who, shown, s[i].k < 0 ? used : 0, s[i].need, 0);
				free(who);
				return -1;
			}
			if (wait > 0 && (s[i].k < 0 || wait > worst)) {
				if (s[i].k < 0) { /* the team's own limit is told first */
					char *who = who_of(c, t, model, -1, false);
					over(v, 429, s[i].lim, who, shown, used, s[i].need, wait);
					free(who);
					return -1;
				}
				worst = wait;
				worst_used = used;
				worst_shown = shown;
				wi = i;
			}
		}
		if (wi >= 0) {
			char *who = who_of(c, t, model, s[wi].k, false);
			over(v, 429, s[wi].lim, who, worst_shown, worst_used, s[wi].need, worst);
			free(who);
			return -1;
		}
		for (int i = 0; i < n; i++)
			take(c, s[i].w, 0, s[i].need, now);
	}
	/* the team's windows with no limit count too (its TPM is shown) */
	if (t->tpm_limit <= 0)
		win_add(&tc->tpm, now, now, need[CL_TPM]);
	if (tc->tpd.n && (t->tpd_limit <= 0 || need[CL_TPD] <= 0))
		win_add(&tc->tpd, now, now, need[CL_TPD]);
	if (tc->rpd.n && (t->rpd_limit <= 0 || need[CL_RPD] <= 0))
		win_add(&tc->rpd, now, now, need[CL_RPD]);
	r->m = m;
	r->top = m ? cap_top_class(t->priority) : 0;
	r->at = now;
	r->fleet = c->fleet;
	memcpy(r->take, need, sizeof r->take);
	r->held = true;
	return 0;
}

void capacity_settle(struct team *t, struct capres *r, const int64_t used[CL_N], int64_t now)
{
	if (!r->held)
		return;
	r->held = false;
	int64_t d[CL_N];
	for (int l = 0; l < CL_N; l++)
		d[l] = used[l] - r->take[l];
	char scope[600] = "";
	if (r->m)
		for (int l = 0; l < CL_N; l++)
			if (r->m->limit[l] > 0 && d[l])
				for (int k = 0; k <= r->top; k++) {
					if (r->fleet && r->mstamp[l][k])
						scope_model(scope, sizeof scope, r->m->model, l, k);
					correct(r->fleet, &r->m->use[l][k], scope, r->mstamp[l][k], r->at, d[l], now);
				}
	if (t->cap) {
		struct window *w[3] = { &t->cap->tpm, &t->cap->tpd, &t->cap->rpd };
		static const int wl[3] = { CL_TPM, CL_TPD, CL_RPD };
		for (int j = 0; j < 3; j++)
			if (w[j]->n && d[wl[j]]) {
				if (r->fleet && r->tstamp[j])
					scope_team(scope, sizeof scope, t, wl[j]);
				correct(r->fleet, w[j], scope, r->tstamp[j], r->at, d[wl[j]], now);
			}
	}
}

void capacity_recount(struct capacity *c, struct team *t, const char *model, int64_t ts, int64_t tokens, int64_t now)
{
	struct teamcap *tc = cap_team(t);
	win_add(&tc->tpm, ts, now, tokens);
	if (tc->tpd.n)
		win_add(&tc->tpd, ts, now, tokens);
	if (tc->rpd.n)
		win_add(&tc->rpd, ts, now, 1);
	team_model_count(t, model, ts, now, 1, tokens);
	struct orgmodel *m = model ? cap_model_get(c, model, false) : NULL;
	if (!m)
		return;
	int top = cap_top_class(t->priority);
	for (int l = 0; l < CL_N; l++) {
		int64_t amount = l == CL_RPM || l == CL_RPD ? 1 : l == CL_TPM || l == CL_TPD ? tokens : 0;
		if (m->limit[l] > 0 && amount)
			for (int k = 0; k <= top; k++)
				win_add(&m->use[l][k], ts, now, amount);
	}
}

/* ---- Groq's own 429 ------------------------------------------------------ */

bool capacity_hold(struct capacity *c, const char *model, int64_t until, const char *why, int64_t now)
{
	if (!model)
		return false;
	struct orgmodel *m = cap_model_get(c, model, true);
	bool fresh = m->hold_until <= now;
	if (until > m->hold_until) {
		m->hold_until = until;
		free(m->hold_why);
		m->hold_why = why ? xstrdup(why) : NULL;
	}
	if (fresh && (!m->alerted_at || now - m->alerted_at >= 60000)) {
		m->alerted_at = now;
		return true;
	}
	return false;
}

