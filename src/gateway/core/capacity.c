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
#include "core.h"

#include <stdlib.h>
#include <string.h>

#include "gotime.h"
#include "util.h"

const char *const cap_lim_name[CL_N] = { "rpm", "rpd", "tpm", "tpd", "ash", "asd" };
static const int64_t lim_span[CL_N] = { 60000, 86400000, 60000, 86400000, 3600000, 86400000 };
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

/* ---- one window --------------------------------------------------------- */

void win_init(struct window *w, int64_t span_ms, int64_t bucket_ms)
{
	w->bucket_ms = bucket_ms;
	w->n = (int)(span_ms / bucket_ms) + 1; /* the partial bucket at each end */
	w->amt = xcalloc((size_t)w->n, sizeof *w->amt);
	w->sum = 0;
	w->head = -1;
	w->first = 0;
}

void win_free(struct window *w)
{
	free(w->amt);
	memset(w, 0, sizeof *w);
}

static int64_t *slot(struct window *w, int64_t b)
{
	return &w->amt[((b % w->n) + w->n) % w->n];
}

/* the window moved on to now: the buckets that left it emptied, each once
 * (O(1) a request, however long the window) */
static void win_advance(struct window *w, int64_t now)
{
	int64_t cur = now / w->bucket_ms;
	if (w->head < 0) {
		w->head = w->first = cur;
		return;
	}
	if (cur <= w->head)
		return;
	if (cur - w->head >= w->n) {
		memset(w->amt, 0, (size_t)w->n * sizeof *w->amt);
		w->sum = 0;
	} else {
		for (int64_t b = w->head + 1; b <= cur; b++) {
			int64_t *a = slot(w, b);
			w->sum -= *a;
			*a = 0;
		}
	}
	w->head = cur;
}

int64_t win_sum(struct window *w, int64_t now)
{
	if (!w->n)
		return 0;
	win_advance(w, now);
	return w->sum;
}

void win_add(struct window *w, int64_t at, int64_t now, int64_t amount)
{
	if (!w->n || !amount)
		return;
	win_advance(w, now);
	int64_t b = at / w->bucket_ms;
	if (b <= w->head - w->n || b > w->head) /* left the window (or not in it yet) */
		return;
	int64_t *a = slot(w, b);
	if (*a + amount < 0)
		amount = -*a;
	*a += amount;
	w->sum += amount;
	if (amount > 0 && b < w->first)
		w->first = b;
}

int64_t win_wait(struct window *w, int64_t now, int64_t need, int64_t room)
{
	int64_t over = win_sum(w, now) + need - room;
	if (over <= 0)
		return 0;
	if (need > room)
		return -1;
	/* oldest bucket first: when enough have left, it fits */
	int64_t from = w->head - w->n + 1;
	for (int64_t b = from > w->first ? from : w->first; b <= w->head; b++) {
		over -= *slot(w, b);
		if (over <= 0) {
			int64_t leaves = (b + w->n) * w->bucket_ms;
			return leaves - now > 0 ? leaves - now : 1;
		}
	}
	return w->n * w->bucket_ms;
}

int64_t win_drain_ms(struct window *w, int64_t now)
{
	if (!w->n || !win_sum(w, now))
		return 0;
	int64_t b = w->first > w->head - w->n + 1 ? w->first : w->head - w->n + 1;
	while (b < w->head && !*slot(w, b))
		b++;
	w->first = b; /* (what is older is empty: the next look starts here) */
	int64_t leaves = (b + w->n) * w->bucket_ms;
	return leaves - now > 0 ? leaves - now : 1;
}

/* ---- the organisation's models ---------------------------------------- */

struct orgmodel {
	char *model;
	bool declared;                /* groq_limits; else learned from Groq */
	int64_t limit[CL_N];          /* 0: none */
	struct window use[CL_N][3];   /* [lim][all, standard+batch, batch] */
	int64_t hold_until;           /* Groq's retry-after for the model */
	char *hold_why;
	int64_t alerted_at;
};

struct capacity {
	struct orgmodel **m; /* in the order they became known */
	int nm;
	int reserve_pct, batch_pct;
	int replicas; /* cluster mode: the replicas serving, each holding an equal share */
	const struct capfleet *fleet; /* cluster mode with Redis: the fleet's windows, leased */
	/* bytes of request per prompt token, learned per model (x1000) */
	strmap *ratio;
};

struct capacity *capacity_new(const struct gw_config *cfg)
{
	struct capacity *c = xcalloc(1, sizeof *c);
	c->ratio = strmap_new();
	c->replicas = 1;
	capacity_configure(c, cfg);
	return c;
}

static struct orgmodel *model_get(struct capacity *c, const char *model, bool make)
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
				win_init(&m->use[l][k], lim_span[l], lim_bucket[l]);
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
		struct orgmodel *m = model_get(c, cfg->groq_limits[i].model, true);
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
	struct orgmodel *m = model_get(c, model, false);
	if (m && m->declared)
		return;
	if (rpd <= 0 && tpm <= 0)
		return;
	if (!m)
		m = model_get(c, model, true);
	int64_t limit[CL_N];
	memcpy(limit, m->limit, sizeof limit);
	if (rpd > 0)
		limit[CL_RPD] = rpd;
	if (tpm > 0)
		limit[CL_TPM] = tpm;
	model_limits(m, limit);
}

/* ---- a team's own windows --------------------------------------------- */

struct teamcap {
	struct window tpm, tpd, rpd;
};

static struct teamcap *team_cap(struct team *t)
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
static int64_t mine(const struct capacity *c, int64_t limit)
{
	if (limit <= 0 || c->replicas <= 1)
		return limit;
	int64_t s = limit / c->replicas;
	return s > 0 ? s : 1;
}

/* the fleet's limit of class k (0 all, 1 standard+batch, 2 batch) */
static int64_t class_limit(const struct capacity *c, int64_t limit, int k)
{
	return k == 0 ? limit : k == 1 ? share(limit, 100 - c->reserve_pct) : share(limit, c->batch_pct);
}

/* the room of class k of limit as this replica holds it */
static int64_t class_room(const struct capacity *c, int64_t limit, int k)
{
	return class_limit(c, mine(c, limit), k);
}

static int top_class(enum priority p)
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
 * request admitted under it at any moment of the lease would. */
#define LEASE_AHEAD 8 /* a lease asks for room for as many requests like this one */

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

/* the unused rest of w's lease back to the fleet */
static void lease_end(const struct capfleet *f, struct window *w, const char *scope)
{
	if (w->lease > 0 && w->lease_stamp)
		f->give(f->arg, scope, w->lease_stamp, -w->lease);
	w->lease = 0;
	w->lease_stamp = 0;
	w->lease_until = 0;
}

/* Whether need fits in window w under limit (the fleet's, in cluster
 * mode): 0 now (*stamp: the fleet's bucket it is leased in, 0 this
 * replica's share), > 0 ms until it may, -1 never. *used and *shown: the
 * use seen and the limit it was held to. */
static int64_t fits(const struct capacity *c, struct window *w, const char *scope, int lim, int64_t limit,
		    int64_t need, int64_t now, int64_t *stamp, int64_t *used, int64_t *shown)
{
	*stamp = 0;
	*shown = limit;
	if (c->fleet) {
		if (need > limit)
			return -1;
		if (w->lease_until > now && w->lease >= need) {
			*stamp = w->lease_stamp;
			return 0;
		}
		lease_end(c->fleet, w, scope);
		int64_t got = 0, st = 0, retry = 0;
		int rc = c->fleet->lease(c->fleet->arg, scope, lim_span[lim], lim_bucket[lim], limit, need,
					 need * LEASE_AHEAD, &got, &st, &retry, used);
		if (rc >= 0) { /* what the others hold, for when the fleet cannot be asked */
			int64_t here = win_sum(w, now) + w->lease;
			w->others = *used > here ? *used - here : 0;
			w->others_at = now;
		}
		if (rc == 0) {
			w->lease = got;
			w->lease_stamp = st;
			w->lease_until = now + CAP_LEASE_MS;
			*stamp = st;
			return 0;
		}
		if (rc == 1)
			return retry > 0 ? retry : 1;
		/* the fleet cannot be asked: this replica's share of what the
		 * others did not hold when it last answered (until that has left
		 * the window), so that the fleet still admits no more than the
		 * limit's rest */
		if (w->others_at && now - w->others_at < lim_span[lim] && w->others > 0) {
			limit -= w->others;
			if (limit < 1 || mine(c, limit) < need) {
				*shown = limit > 0 ? mine(c, limit) : 0;
				*used = win_sum(w, now);
				return w->others_at + lim_span[lim] - now;
			}
		}
	}
	*shown = mine(c, limit);
	*used = win_sum(w, now);
	return win_wait(w, now, need, *shown);
}

/* need taken from w: the local window, and the lease it fitted in */
static void take(struct window *w, int64_t stamp, int64_t need, int64_t now)
{
	win_add(w, now, now, need);
	if (stamp && stamp == w->lease_stamp)
		w->lease -= need;
}

/* a settled request's correction d (negative: given back) of what it took
 * at `at`, leased in the fleet's bucket stamp (0: none) */
static void correct(const struct capfleet *f, struct window *w, const char *scope, int64_t stamp, int64_t at,
		    int64_t d, int64_t now)
{
	win_add(w, at, now, d);
	if (!f || !stamp || !d)
		return;
	if (stamp == w->lease_stamp && w->lease_until > now && w->lease - d >= 0) {
		w->lease -= d; /* within the lease still running */
		return;
	}
	f->give(f->arg, scope, stamp, d);
}

void capacity_fleet_tick(struct capacity *c, struct registry *reg, int64_t now)
{
	if (!c || !c->fleet)
		return;
	char scope[600];
	for (int i = 0; i < reg->nteams; i++) {
		struct teamcap *tc = reg->teams[i]->cap;
		if (!tc)
			continue;
		struct window *w[3] = { &tc->tpm, &tc->tpd, &tc->rpd };
		static const int wl[3] = { CL_TPM, CL_TPD, CL_RPD };
		for (int j = 0; j < 3; j++)
			if (w[j]->lease_stamp && w[j]->lease_until <= now) {
				scope_team(scope, sizeof scope, reg->teams[i], wl[j]);
				lease_end(c->fleet, w[j], scope);
			}
	}
	for (int i = 0; i < c->nm; i++)
		for (int l = 0; l < CL_N; l++)
			for (int k = 0; k < 3; k++) {
				struct window *w = &c->m[i]->use[l][k];
				if (w->lease_stamp && w->lease_until <= now) {
					scope_model(scope, sizeof scope, c->m[i]->model, l, k);
					lease_end(c->fleet, w, scope);
				}
			}
}

static int check_team(const struct capacity *c, struct team *t, struct window *w, int lim, int64_t limit,
		      int64_t need, int64_t now, int64_t *stamp, struct verdict *v)
{
	*stamp = 0;
	if (limit <= 0 || need <= 0)
		return 0;
	char scope[300];
	scope_team(scope, sizeof scope, t, lim);
	int64_t used = 0, shown = 0;
	int64_t wait = fits(c, w, scope, lim, limit, need, now, stamp, &used, &shown);
	if (wait == 0)
		return 0;
	char *who = xasprintf("team '%s'", t->id);
	over(v, wait < 0 ? 413 : 429, lim, who, shown, used, need, wait);
	free(who);
	return -1;
}

int capacity_admit(struct capacity *c, struct team *t, const char *model, const int64_t need[CL_N], int64_t now,
		   struct capres *r, struct verdict *v)
{
	memset(r, 0, sizeof *r);
	struct teamcap *tc = team_cap(t);
	struct orgmodel *m = model ? model_get(c, model, false) : NULL;
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
	if (check_team(c, t, &tc->tpm, CL_TPM, t->tpm_limit, need[CL_TPM], now, &r->tstamp[0], v) != 0 ||
	    check_team(c, t, &tc->tpd, CL_TPD, t->tpd_limit, need[CL_TPD], now, &r->tstamp[1], v) != 0 ||
	    check_team(c, t, &tc->rpd, CL_RPD, t->rpd_limit, need[CL_RPD], now, &r->tstamp[2], v) != 0)
		return -1;
	if (m) {
		int top = top_class(t->priority);
		int64_t worst = 0, worst_used = 0, worst_shown = 0;
		int wl = -1, wk = 0;
		char scope[600];
		for (int l = 0; l < CL_N; l++) {
			if (m->limit[l] <= 0 || need[l] <= 0)
				continue;
			for (int k = 0; k <= top; k++) {
				int64_t limit = class_limit(c, m->limit[l], k), used = 0, shown = 0;
				scope_model(scope, sizeof scope, model, l, k);
				int64_t wait = fits(c, &m->use[l][k], scope, l, limit, need[l], now, &r->mstamp[l][k], &used,
						    &shown);
				if (wait < 0) {
					char *who = k == 0 ? xasprintf("the organisation's model '%s'", model)
							   : xasprintf("the %s share of model '%s' (%d %%)",
								       k == 2 ? "batch" : "standard and batch", model,
								       k == 2 ? c->batch_pct : 100 - c->reserve_pct);
					over(v, 413, l, who, shown, 0, need[l], 0);
					free(who);
					return -1;
				}
				if (wait > worst) {
					worst = wait;
					worst_used = used;
					worst_shown = shown;
					wl = l;
					wk = k;
				}
			}
		}
		if (wl >= 0) {
			char *who = wk == 0 ? xasprintf("the organisation on model '%s'", model)
					    : xasprintf("%s teams on model '%s' (their share: %d %% of Groq's limit; "
							"critical teams keep the rest)",
							wk == 2 ? "batch" : "standard and batch", model,
							wk == 2 ? c->batch_pct : 100 - c->reserve_pct);
			over(v, 429, wl, who, worst_shown, worst_used, need[wl], worst);
			free(who);
			return -1;
		}
		for (int l = 0; l < CL_N; l++)
			if (m->limit[l] > 0)
				for (int k = 0; k <= top; k++)
					take(&m->use[l][k], r->mstamp[l][k], need[l], now);
		r->m = m;
		r->top = top;
	}
	take(&tc->tpm, r->tstamp[0], need[CL_TPM], now);
	if (tc->tpd.n)
		take(&tc->tpd, r->tstamp[1], need[CL_TPD], now);
	if (tc->rpd.n)
		take(&tc->rpd, r->tstamp[2], need[CL_RPD], now);
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
	struct teamcap *tc = team_cap(t);
	win_add(&tc->tpm, ts, now, tokens);
	if (tc->tpd.n)
		win_add(&tc->tpd, ts, now, tokens);
	if (tc->rpd.n)
		win_add(&tc->rpd, ts, now, 1);
	team_model_count(t, model, ts, now, 1, tokens);
	struct orgmodel *m = model ? model_get(c, model, false) : NULL;
	if (!m)
		return;
	int top = top_class(t->priority);
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
	struct orgmodel *m = model_get(c, model, true);
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

/* ---- what callers are told ------------------------------------------------ */

/* limit, remaining and reset of one window (reset: until what it holds
 * now has left it) */
static void figures(struct window *w, int64_t limit, int64_t now, int64_t *rem, int64_t *reset)
{
	int64_t used = win_sum(w, now);
	*rem = limit > used ? limit - used : 0;
	*reset = win_drain_ms(w, now);
}

int capacity_headroom(struct capacity *c, struct team *t, const char *model, int64_t now, struct capview *out)
{
	memset(out, 0, sizeof *out);
	struct teamcap *tc = team_cap(t);
	struct orgmodel *m = model ? model_get(c, model, false) : NULL;
	int top = top_class(t->priority);
	if (t->rpd_limit > 0) {
		out->limit_req = mine(c, t->rpd_limit);
		figures(&tc->rpd, out->limit_req, now, &out->rem_req, &out->reset_req);
	} else if (m && m->limit[CL_RPD] > 0) {
		out->limit_req = class_room(c, m->limit[CL_RPD], top);
		figures(&m->use[CL_RPD][top], out->limit_req, now, &out->rem_req, &out->reset_req);
	}
	if (t->tpm_limit > 0) {
		out->limit_tok = mine(c, t->tpm_limit);
		figures(&tc->tpm, out->limit_tok, now, &out->rem_tok, &out->reset_tok);
	} else if (m && m->limit[CL_TPM] > 0) {
		out->limit_tok = class_room(c, m->limit[CL_TPM], top);
		figures(&m->use[CL_TPM][top], out->limit_tok, now, &out->rem_tok, &out->reset_tok);
	}
	return out->limit_req > 0 || out->limit_tok > 0;
}

static json_t *lims(const int64_t *v)
{
	return json_pack("{s:I,s:I,s:I,s:I,s:I,s:I}", "rpm", (json_int_t)v[CL_RPM], "rpd", (json_int_t)v[CL_RPD],
			 "tpm", (json_int_t)v[CL_TPM], "tpd", (json_int_t)v[CL_TPD], "ash", (json_int_t)v[CL_ASH],
			 "asd", (json_int_t)v[CL_ASD]);
}

/* the requests and tokens a team took of a model in the last minute */
static void team_model_use(const struct registry *reg, const char *model, int64_t now, json_t *teams,
			   const struct capacity *c)
{
	(void)c;
	for (int i = 0; i < reg->nteams; i++) {
		struct team *t = reg->teams[i];
		int64_t rq = 0, tk = 0;
		for (int j = 0; t->mu && j < t->nmu; j++)
			if (str_eq(t->mu[j].model, model)) {
				rq = win_sum(&t->mu[j].req, now);
				tk = win_sum(&t->mu[j].tok, now);
			}
		if (!rq && !tk)
			continue;
		json_array_append_new(teams, json_pack("{s:s,s:s,s:I,s:I}", "team", t->id, "priority",
						       priority_name(t->priority), "rpm", (json_int_t)rq, "tpm",
						       (json_int_t)tk));
	}
}

json_t *capacity_json(struct capacity *c, const struct registry *reg, int64_t now)
{
	json_t *models = json_array();
	/* the declared models first (in their order), then those learned */
	for (int pass = 0; pass < 2; pass++)
	for (int i = 0; i < c->nm; i++) {
		struct orgmodel *m = c->m[i];
		if (m->declared != (pass == 0))
			continue;
		bool any = false;
		int64_t used[CL_N] = { 0 };
		for (int l = 0; l < CL_N; l++)
			if (m->limit[l] > 0) {
				any = true;
				used[l] = win_sum(&m->use[l][0], now);
			}
		if (!any && m->hold_until <= now)
			continue;
		json_t *teams = json_array();
		team_model_use(reg, m->model, now, teams, c);
		json_t *ratio = json_object();
		for (int l = 0; l < CL_N; l++)
			if (m->limit[l] > 0)
				json_object_set_new(ratio, cap_lim_name[l],
						    json_real((double)used[l] / (double)m->limit[l]));
		json_array_append_new(
			models, json_pack("{s:s,s:s,s:o,s:o,s:o,s:o,s:o}", "model", m->model, "source",
					  m->declared ? "config" : "groq", "limits", lims(m->limit), "used", lims(used),
					  "used_ratio", ratio, "retry_after_until",
					  m->hold_until > now ? json_integer(m->hold_until) : json_null(), "teams", teams));
	}
	return json_pack("{s:o,s:{s:i,s:i,s:i,s:s}}", "models", models, "capacity", "critical_reserve_pct", c->reserve_pct,
			 "batch_max_pct", c->batch_pct, "replicas_sharing", c->replicas, "sharing",
			 c->replicas <= 1 ? "single" : c->fleet ? "fleet_windows" : "equal_shares");
}

const char *capacity_model_use(struct capacity *c, int i, int64_t now, double ratio[CL_N])
{
	if (i < 0 || i >= c->nm)
		return NULL;
	struct orgmodel *m = c->m[i];
	for (int l = 0; l < CL_N; l++)
		ratio[l] = m->limit[l] > 0 ? (double)win_sum(&m->use[l][0], now) / (double)m->limit[l] : -1;
	return m->model;
}

/* ---- a team's use per model (the capacity view's split) -------------------- */

void team_model_count(struct team *t, const char *model, int64_t at, int64_t now, int64_t req, int64_t tok)
{
	if (!model)
		return;
	struct teamuse *u = NULL;
	for (int j = 0; j < t->nmu; j++)
		if (str_eq(t->mu[j].model, model))
			u = &t->mu[j];
	if (!u) {
		if (t->nmu >= 64) /* bounded: the models a team may call */
			return;
		t->mu = xrealloc(t->mu, (size_t)(t->nmu + 1) * sizeof *t->mu);
		u = &t->mu[t->nmu++];
		u->model = xstrdup(model);
		win_init(&u->req, 60000, 1000);
		win_init(&u->tok, 60000, 1000);
	}
	if (req)
		win_add(&u->req, at, now, req);
	if (tok)
		win_add(&u->tok, at, now, tok);
}

void team_model_free(struct team *t)
{
	for (int j = 0; j < t->nmu; j++) {
		free(t->mu[j].model);
		win_free(&t->mu[j].req);
		win_free(&t->mu[j].tok);
	}
	free(t->mu);
	t->mu = NULL;
	t->nmu = 0;
}
