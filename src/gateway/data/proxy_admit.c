/* proxy_admit.c — a request from the rate limit to Groq: its team's RPM
 * window (or its queue, or the fleet's window's answer later), then Groq's
 * capacity (a fallback model when it is used up), the reservations of its
 * team's budget, its key's and its end user's, its key's own limits, and
 * then it is forwarded (proxy.c). What may have changed while it waited
 * is checked again before it goes on. */
#include "proxy.h"

#include <ctype.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#include "gotime.h"
#include "util.h"

/* ---- after the rate limit: reserve, then forward ------------------- */

/* the worst case Groq could bill for this request, in its unit */
static int64_t worst_case(struct preq *p)
{
	const struct price *pr = p->model ? config_price(&p->g->cfg, p->model) : NULL;
	if (OPS(p)->worst)
		return OPS(p)->worst(p);
	switch (p->route->unit) {
	case BU_TOKENS:
		return cost_tokens(pr, p->prompt_est, 0, p->cap * p->n, 1.0);
	case BU_AUDIO_SECONDS: return cost_audio(pr, p->audio_bound_s);
	case BU_CHARS: return cost_chars(pr, p->chars);
	default: return 0;
	}
}

static void capacity_retry(evutil_socket_t fd, short what, void *arg);

/* Groq's capacity: the request's worst case taken from its team's windows
 * and its model's (the prompt at the calibrated estimate, the cap for
 * every choice; a transcription's audio bound). 0 taken, 1 waiting for
 * room (queue mode), -1 refused (v). */
static int take_capacity(struct preq *p, struct verdict *v)
{
	struct gateway *g = p->g;
	int64_t need[CL_N] = { 0 };
	if (OPS(p)->flags & RF_OWN_LIMITS) /* Groq's batch limits are its own */
		return 0;
	need[CL_RPM] = need[CL_RPD] = 1;
	if (p->route->unit == BU_TOKENS)
		need[CL_TPM] = need[CL_TPD] =
			capacity_prompt(g->capacity, p->model, (int64_t)p->raw_len, p->prompt_est) + p->cap * p->n;
	else if (p->route->unit == BU_AUDIO_SECONDS)
		need[CL_ASH] = need[CL_ASD] = p->audio_bound_s;
	int64_t now = gw_now(g);
	if (capacity_admit(g->capacity, p->t, p->model, need, now, &p->capr, v) == 0) {
		team_model_count(p->t, p->model, now, now, 1, need[CL_TPM]);
		return 0;
	}
	int64_t deadline = p->t0_ms + p->t->queue_wait_ms;
	if (v->status != 429 || p->t->rpm_mode != RPM_QUEUE || now >= deadline)
		return -1;
	/* queue mode: it waits for room until its deadline, looked at again
	 * within 250 ms (requests settling give back what they did not use,
	 * sooner than the window moves) */
	int64_t wait = v->retry_ms < 1 ? 1 : v->retry_ms > 250 ? 250 : v->retry_ms;
	if (wait > deadline - now)
		wait = deadline - now;
	verdict_clear(v);
	if (!p->capwait)
		p->capwait = evtimer_new(g->base, capacity_retry, p);
	struct timeval tv = { (time_t)(wait / 1000), (suseconds_t)(wait % 1000) * 1000 };
	evtimer_add(p->capwait, &tv);
	return 1;
}

/* the upstream key's own limits, inside its team's (an equal share per
 * replica in cluster mode): its requests and tokens per minute */
static int key_limits(struct preq *p, int64_t now, struct verdict *v)
{
	struct ukey *k = p->k;
	int replicas = cluster_replicas(p->g);
	if (k->rpm_limit > 0) {
		int lim = (int)(k->rpm_limit / replicas > 0 ? k->rpm_limit / replicas : 1);
		int64_t retry = 0;
		rl_resize(&k->rl, lim);
		if (!rl_admit(&k->rl, now, &retry))
			return rpm_refusal("upstream key", k->name, k->rpm_limit, retry, v);
	}
	if (k->tpm_limit > 0 && p->route->unit == BU_TOKENS && !(OPS(p)->flags & RF_OWN_LIMITS)) {
		int64_t lim = k->tpm_limit / replicas > 0 ? k->tpm_limit / replicas : 1;
		int64_t need = capacity_prompt(p->g->capacity, p->model, (int64_t)p->raw_len, p->prompt_est) + p->cap * p->n;
		if (!k->tpm.n)
			win_init(&k->tpm, 60000, 1000);
		int64_t wait = win_wait(&k->tpm, now, need, lim);
		if (wait != 0) {
			char w[32];
			gotime_format(wait > 0 ? wait : 0, w, sizeof w);
			deny(v, wait < 0 ? 413 : 429, "tokens", "rate_limit_exceeded", "capacity_limited",
			     xasprintf(wait < 0 ? "Request too large for upstream key '%s' on tokens per minute (TPM): Limit %lld, "
						  "Requested %lld."
						: "Rate limit reached for upstream key '%s' on tokens per minute (TPM): Limit %lld, "
						  "Requested %lld. Please try again in %s.",
				       k->name, (long long)k->tpm_limit, (long long)need, w));
			v->retry_ms = wait > 0 ? wait : 0;
			return -1;
		}
		win_add(&k->tpm, now, now, need);
		p->key_tokens = need;
	}
	return 0;
}

/* an end user's first refusal for its day's budget: one alert per user
 * and day, at most USER_ALERTS_MAX a team a day (users are many) */
#define USER_ALERTS_MAX 20
static void user_alert(struct preq *p)
{
	struct team *t = p->t;
	int64_t day = day_start_ms(gw_now(p->g));
	if (t->user_alerts_day != day) {
		t->user_alerts_day = day;
		t->user_alerts = 0;
	}
	if (t->user_alerts >= USER_ALERTS_MAX)
		return;
	char b[32], who[65];
	usd2(b, sizeof b, t->user_day_budget_nusd);
	/* the client's words go to chat webhooks: letters, digits and a few marks only */
	size_t i = 0;
	for (; p->user[i] && i < sizeof who - 1; i++)
		who[i] = isalnum((unsigned char)p->user[i]) || strchr("._-@:+", p->user[i]) ? p->user[i] : '?';
	who[i] = '\0';
	char *m = xasprintf("End user %s of team %s reached its daily budget of %s%s", who, t->id, b,
			    t->user_alerts + 1 == USER_ALERTS_MAX ? " (the last such alert for this team today)" : "");
	char *needle = xasprintf("End user %s of team %s reached", who, t->id);
	if (alert_raise_once(p->g, "user_budget_reached", t->id, needle, day, m)) /* (once a day, also across restarts) */
		t->user_alerts++;
	free(needle);
	free(m);
}

/* the upstream key's monthly budget, inside its team's (the fleet's in
 * cluster mode, where this replica reserves within its lease of it): 0,
 * -1 with *why when amount does not fit, -2 with *why when the fleet
 * cannot be asked */
static int key_room(struct gateway *g, struct ukey *k, const char *team, int64_t amount, char **why)
{
	if (k->budget_nusd <= 0)
		return 0;
	if (k->spend_nusd + k->reserved_nusd + amount > k->budget_nusd) {
		char a[32], b[32], c[32];
		usd2(a, sizeof a, k->spend_nusd + k->reserved_nusd);
		usd2(b, sizeof b, k->budget_nusd);
		usd2(c, sizeof c, amount);
		*why = xasprintf("Upstream key '%s' of team '%s' has spent or reserved %s of its %s monthly budget and "
				 "this request could cost up to %s. Use another key of the team, or ask an operator.",
				 k->name, team, a, b, c);
		return -1;
	}
	int64_t need = fleetwin_here(&k->fw, k->spend_nusd) + k->reserved_nusd + amount;
	/* (and the next month's, leased ahead for what is reserved: it may
	 * settle after the month turns) */
	if (g->cluster && (need > k->fw.granted_nusd || k->reserved_nusd + amount > k->fw.next_nusd))
		return cluster_key_lease(g, k, need, k->reserved_nusd + amount, why);
	return 0;
}

/* the request's key's budget reserved: 0, or -1 (the request refused,
 * what it had taken given back) */
static int reserve_key(struct preq *p, int64_t amount)
{
	struct gateway *g = p->g;
	struct ukey *k = p->k;
	budget_roll_key(k, g->month.from); /* (budget_roll has the month) */
	char *why = NULL;
	int r = key_room(g, k, p->t->id, amount, &why);
	if (r == 0) {
		k->reserved_nusd += amount;
		p->key_reserved = amount;
		return 0;
	}
	req_settle(p, 0, NULL, false); /* the team's reservation and the capacity, given back */
	if (r == -1 && k->alerted_month != g->month.from) { /* one alert a month */
		char b[32];
		usd2(b, sizeof b, k->budget_nusd);
		k->alerted_month = g->month.from;
		char *m = xasprintf("Upstream key %s of team %s reached its monthly budget of %s: its requests are "
				    "refused until the month turns or the budget is raised.",
				    k->name, p->t->id, b);
		char *needle = xasprintf("Upstream key %s of team %s reached", k->name, p->t->id);
		alert_raise_once(g, "key_budget_reached", p->t->id, needle, g->month.from, m); /* (also across restarts, replicas) */
		free(needle);
		free(m);
	}
	req_refuse(p, 402, "insufficient_quota", "budget_exceeded", "budget_exceeded", why);
	return -1;
}

void req_admitted(struct preq *p)
{
	struct gateway *g = p->g;
	struct verdict v = { 0 };
	if (!p->ntried && p->model)
		p->tried[p->ntried++] = xstrdup(p->model);
	int r = take_capacity(p, &v);
	/* Groq's capacity for the model is used up or held (its 429): the
	 * next fallback, before a byte is sent */
	while (r < 0 && v.status == 429 && req_switch_model(p)) {
		verdict_clear(&v);
		r = take_capacity(p, &v);
	}
	if (r < 0)
		req_reject(p, &v);
	if (r != 0)
		return;
	int64_t amount = worst_case(p);
	char *why = NULL;
	struct budget_env e = gw_budget(g);
	if (budget_reserve(&e, p->t, amount, &why) != 0) {
		req_settle(p, 0, NULL, false); /* the capacity it took, given back */
		req_refuse(p, 402, "insufficient_quota", "budget_exceeded", "budget_exceeded", why);
		return;
	}
	p->reserved = amount;
	if (reserve_key(p, amount) != 0)
		return;
	/* its end user's minute and day, inside the team's (each replica
	 * holds an equal share of a user's day) */
	int replicas = cluster_replicas(g);
	if (p->user && g->reg.users) {
		int ur = enduser_admit(g->reg.users, p->t, p->user, replicas, gw_now(g), amount, &v);
		if (ur != 0) {
			req_settle(p, 0, NULL, false);
			if (ur == -2)
				user_alert(p);
			req_reject(p, &v);
			return;
		}
		p->user_held = true;
		p->user_reserved = amount;
	}
	/* last, so that only what would be sent counts in the key's windows */
	if (key_limits(p, gw_now(g), &v) != 0) {
		req_settle(p, 0, NULL, false);
		req_reject(p, &v);
		return;
	}
	p->forward(p);
}

/* a request that waited for Groq's capacity: what it was checked for
 * still holds, then it tries again */
static void capacity_retry(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct preq *p = arg;
	struct verdict v = { 0 };
	if (req_recheck(p, &v) != 0) {
		req_reject(p, &v);
		return;
	}
	req_admitted(p);
}

/* ---- queue mode: the team's RPM queue (ratelimit.c) holds the request's
 * rlwait; these are its callbacks ------------------------------------------ */

#define WAITER(w) ((struct preq *)(void *)((char *)(w) - offsetof(struct preq, wait)))

/* what may have changed while a request waited: its token revoked, its
 * team paused, its model taken off the allowlist, the team's cap lowered */
int req_recheck(struct preq *p, struct verdict *v)
{
	if (p->tok->revoked_at)
		return deny(v, 401, "invalid_request_error", "invalid_api_key", "unauthenticated",
			    xstrdup("Invalid API Key: this client token was revoked while the request waited in the "
				    "team's queue. Ask your groqgate operator for a new one."));
	if (stage_policy(p->t, p->model, v) != 0)
		return -1;
	if (p->route->unit == BU_TOKENS && !(OPS(p)->flags & RF_INPUT_ONLY) && p->cap > p->t->max_tokens)
		return deny(v, 400, "invalid_request_error", "max_tokens_exceeded", "max_tokens_exceeded",
			    xasprintf("Team '%s' may now ask for at most %lld tokens per request (changed while the "
				      "request waited); lower the cap and retry.",
				      p->t->id, (long long)p->t->max_tokens));
	return 0;
}

static int q_recheck(struct rlwait *w, struct verdict *v)
{
	return req_recheck(WAITER(w), v);
}

static void q_admit(struct rlwait *w)
{
	req_admitted(WAITER(w));
}

static void q_refuse(struct rlwait *w, struct verdict *v)
{
	req_reject(WAITER(w), v);
}

static void q_expired(struct rlwait *w)
{
	struct preq *p = WAITER(w);
	struct team *t = p->t;
	struct verdict v = { 0 };
	ratelimit_refusal(t, 0, &v); /* the verdict only: no slot taken */
	free(v.message);
	v.message = xasprintf("Rate limit reached for team '%s' (RPM %lld): the request waited "
			      "the maximum of %lld ms in the team's queue.",
			      t->id, (long long)t->rpm_limit, (long long)t->queue_wait_ms);
	req_reject(p, &v);
}

static int64_t q_now(struct rlwait *w)
{
	return gw_now(WAITER(w)->g);
}

static const struct rlqueue_ops queue_ops = { q_recheck, q_admit, q_refuse, q_expired, q_now };

static void enqueue(struct preq *p)
{
	rlq_push(p->t, &p->wait, p->t0_ms + p->t->queue_wait_ms, p->g->base, &queue_ops, gw_now(p->g));
}

/* the window's answer: 0 admitted, 1 queued (queue mode), -1 refused */
static int rpm_decided(struct preq *p, int ok, int64_t retry_ms, struct verdict *v)
{
	struct team *t = p->t;
	if (ok)
		return 0;
	ratelimit_refusal(t, retry_ms, v);
	if (t->rpm_mode != RPM_QUEUE || t->queue_wait_ms <= 0)
		return -1;
	if (t->qlen >= p->g->cfg.queue_max_len) {
		free(v->message);
		v->message = xasprintf("Rate limit reached for team '%s' (RPM %lld) and its queue is full "
				       "(%lld requests waiting, limits.queue_max_len). Slow down.",
				       t->id, (long long)t->rpm_limit, (long long)t->qlen);
		return -1;
	}
	verdict_clear(v);
	enqueue(p);
	return 1;
}

/* the shared window answered (cluster mode), later on the loop */
static void rpm_answer(void *arg, int ok, int64_t retry_ms)
{
	struct preq *p = arg;
	p->cw = NULL;
	struct verdict v = { 0 };
	int r = rpm_decided(p, ok, retry_ms, &v);
	if (r < 0)
		req_reject(p, &v);
	else if (r == 0)
		req_admitted(p);
}

/* rate limit: 0 admitted now, 1 queued (queue mode), 2 the answer comes
 * later (rpm_answer), -1 refused */
static int stage_rpm(struct preq *p, struct verdict *v)
{
	int ok;
	int64_t retry = 0;
	p->cw = counters_admit_async(p->t, p->t0_ms, rpm_answer, p, &ok, &retry);
	if (p->cw)
		return 2;
	return rpm_decided(p, ok, retry, v);
}

/* the pipeline from the rate limit on */
void req_admit(struct preq *p)
{
	struct verdict v = { 0 };
	if (p->route->unit == BU_NONE && !(OPS(p)->flags & RF_RATED)) { /* not metered: not rate-limited, nothing reserved */
		p->forward(p);
		return;
	}
	int r = stage_rpm(p, &v);
	if (r < 0)
		req_reject(p, &v);
	else if (r == 0)
		req_admitted(p); /* reserve, then forward */
}

