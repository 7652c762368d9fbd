/* test_capacity.c — Groq's capacity with plain times: a window over
 * every boundary (its buckets, expiry, corrections lower and higher, a
 * correction after expiry), the organisation's limits shared by priority,
 * a team's own limits, 413 for what never fits, Groq's 429 holding a
 * model, a restart recounting the ledger, a cluster's shares, the fleet's
 * windows leased by replicas (a fleet kept here, in memory, with the
 * arithmetic of counters_redis.c's script), the calibrated prompt estimate. */
#include <stdlib.h>
#include <string.h>

#include "gateway.h"
#include "t.h"
#include "util.h"

static void test_window_boundaries(void)
{
	struct window w;
	win_init(&w, 60000, 1000);
	win_add(&w, 500, 500, 100);
	CHECK_INT(win_sum(&w, 500), 100);
	CHECK_INT(win_sum(&w, 59999), 100);
	/* bucket [0, 1000) counts until it has wholly left: 61 s after its start */
	CHECK_INT(win_sum(&w, 60999), 100);
	CHECK_INT(win_sum(&w, 61000), 0);
	/* corrections: lower, higher, never below zero, none after expiry */
	win_add(&w, 62000, 62000, 100);
	win_add(&w, 62000, 63000, -70);
	CHECK_INT(win_sum(&w, 63000), 30);
	win_add(&w, 62000, 64000, 50);
	CHECK_INT(win_sum(&w, 64000), 80);
	win_add(&w, 62000, 64000, -500);
	CHECK_INT(win_sum(&w, 64000), 0);
	win_add(&w, 62000, 64000, 40);
	win_add(&w, 62000, 200000, -40); /* long gone: ignored */
	CHECK_INT(win_sum(&w, 200000), 0);
	/* a bucket reused by a later time starts from nothing */
	win_add(&w, 300000, 300000, 7);
	win_add(&w, 300000 + 61000, 300000 + 61000, 5);
	CHECK_INT(win_sum(&w, 361000), 5);
	win_free(&w);
}

static void test_window_wait(void)
{
	struct window w;
	win_init(&w, 60000, 1000);
	win_add(&w, 0, 0, 80);
	win_add(&w, 20000, 20000, 10);
	CHECK_INT(win_wait(&w, 30000, 10, 100), 0);  /* 90 + 10 fits */
	CHECK_INT(win_wait(&w, 30000, 30, 100), 31000); /* after the first bucket leaves (61 s) */
	CHECK_INT(win_wait(&w, 30000, 95, 100), 51000); /* after both */
	CHECK_INT(win_wait(&w, 30000, 101, 100), -1); /* never */
	win_free(&w);
}

/* the configuration: model "m" at 1000 TPM and 10 RPM, the default shares */
static struct gw_config cfg;
static void setup(int64_t tpm, int64_t rpm)
{
	memset(&cfg, 0, sizeof cfg);
	cfg.cap_reserve_pct = 20;
	cfg.cap_batch_pct = 50;
	cfg.groq_limits = xcalloc(2, sizeof *cfg.groq_limits);
	cfg.groq_limits[0].model = xstrdup("m");
	cfg.groq_limits[0].limit[CL_TPM] = tpm;
	cfg.groq_limits[0].limit[CL_RPM] = rpm;
	cfg.ngroq_limits = 1;
}

static void teardown(void)
{
	free(cfg.groq_limits[0].model);
	free(cfg.groq_limits);
}

static struct team *team(const char *id, enum priority p)
{
	struct team *t = team_new();
	t->id = xstrdup(id);
	t->priority = p;
	return t;
}

static int take(struct capacity *c, struct team *t, int64_t tokens, int64_t now, struct capres *r, struct verdict *v)
{
	int64_t need[CL_N] = { 0 };
	need[CL_RPM] = need[CL_RPD] = 1;
	need[CL_TPM] = need[CL_TPD] = tokens;
	verdict_clear(v);
	return capacity_admit(c, t, "m", need, now, r, v);
}

static void test_shared_by_priority(void)
{
	setup(1000, 0);
	struct capacity *c = capacity_new(&cfg);
	struct team *batch = team("etl", PRIO_BATCH), *std = team("web", PRIO_STANDARD), *crit = team("prod", PRIO_CRITICAL);
	struct capres r1, r2, r3, r4;
	struct verdict v = { 0 };
	CHECK_INT(take(c, batch, 500, 1000, &r1, &v), 0);
	CHECK_INT(take(c, batch, 1, 1000, &r2, &v), -1); /* batch: 50 % */
	CHECK_INT(v.status, 429);
	CHECK_STR(v.type, "tokens");
	CHECK_STR(v.code, "rate_limit_exceeded");
	CHECK(v.retry_ms > 0 && v.retry_ms <= 61000);
	CHECK(strstr(v.message, "batch teams on model 'm'") != NULL);
	CHECK_INT(take(c, std, 300, 1000, &r2, &v), 0);
	CHECK_INT(take(c, std, 1, 1000, &r3, &v), -1); /* standard and batch: 80 % */
	CHECK_INT(take(c, crit, 200, 1000, &r3, &v), 0); /* critical: the rest */
	CHECK_INT(take(c, crit, 1, 1000, &r4, &v), -1);
	/* settling lower gives back: the batch request used 100, not 500 */
	int64_t used[CL_N] = { 0 };
	used[CL_RPM] = used[CL_RPD] = 1;
	used[CL_TPM] = used[CL_TPD] = 100;
	capacity_settle(batch, &r1, used, 2000);
	CHECK_INT(take(c, batch, 400, 2000, &r1, &v), 0);
	CHECK_INT(take(c, batch, 1, 2000, &r4, &v), -1);
	/* settling higher takes more */
	used[CL_TPM] = used[CL_TPD] = 500;
	capacity_settle(batch, &r1, used, 3000); /* took 400, used 500 */
	CHECK_INT(take(c, crit, 1, 3000, &r4, &v), -1);
	/* a batch request larger than the batch share can never fit: 413 */
	CHECK_INT(take(c, batch, 501, 3000, &r4, &v), -1);
	CHECK_INT(v.status, 413);
	/* a minute later everything has left the windows */
	CHECK_INT(take(c, batch, 500, 63000, &r4, &v), 0);
	verdict_clear(&v);
	team_free(batch);
	team_free(std);
	team_free(crit);
	capacity_free(c);
	teardown();
}

static void test_team_limits(void)
{
	setup(0, 0);
	struct capacity *c = capacity_new(&cfg);
	struct team *t = team("web", PRIO_STANDARD);
	t->tpm_limit = 300;
	t->rpd_limit = 2;
	struct capres r;
	struct verdict v = { 0 };
	CHECK_INT(take(c, t, 200, 0, &r, &v), 0);
	CHECK_INT(team_tpm(t, 0), 200);
	CHECK_INT(take(c, t, 200, 0, &r, &v), -1);
	CHECK(strstr(v.message, "team 'web' on tokens per minute (TPM): Limit 300, Used 200, Requested 200") != NULL);
	CHECK_INT(take(c, t, 400, 0, &r, &v), -1);
	CHECK_INT(v.status, 413);
	CHECK_INT(take(c, t, 50, 0, &r, &v), 0);
	CHECK_INT(take(c, t, 10, 61000, &r, &v), -1); /* a day's 2 requests */
	CHECK_STR(v.type, "requests");
	CHECK(strstr(v.message, "requests per day (RPD)") != NULL);
	/* the team's own headers */
	struct capview cv;
	CHECK(capacity_headroom(c, t, "m", 61000, &cv));
	CHECK_INT(cv.limit_tok, 300);
	CHECK_INT(cv.limit_req, 2);
	CHECK_INT(cv.rem_req, 0);
	verdict_clear(&v);
	team_free(t);
	capacity_free(c);
	teardown();
}

static void test_hold_restart_share(void)
{
	setup(1000, 10);
	struct capacity *c = capacity_new(&cfg);
	struct team *t = team("prod", PRIO_CRITICAL);
	struct capres r;
	struct verdict v = { 0 };
	/* Groq's 429 holds the model for everyone until its retry-after */
	CHECK(capacity_hold(c, "m", 5000, "tokens per minute (TPM): Limit 1000", 0));
	CHECK(!capacity_hold(c, "m", 5000, "again", 10)); /* one alert per hold */
	CHECK_INT(take(c, t, 1, 100, &r, &v), -1);
	CHECK_INT(v.status, 429);
	CHECK_INT(v.retry_ms, 4900);
	CHECK_STR(v.reason, "upstream_rate_limited");
	CHECK_INT(take(c, t, 1, 5000, &r, &v), 0);
	/* a restart: the ledger's last minute recounted */
	struct capacity *c2 = capacity_new(&cfg);
	struct team *t2 = team("prod", PRIO_CRITICAL);
	for (int i = 0; i < 9; i++)
		capacity_recount(c2, t2, "m", 1000 + i, 100, 30000);
	CHECK_INT(team_tpm(t2, 30000), 900);
	CHECK_INT(take(c2, t2, 101, 30000, &r, &v), -1); /* 900 + 101 > 1000 */
	CHECK_INT(take(c2, t2, 100, 30000, &r, &v), 0);
	CHECK_INT(take(c2, t2, 1, 30000, &r, &v), -1); /* and 10 requests: its RPM */
	CHECK_STR(v.type, "requests");
	/* three replicas: a third each */
	struct capacity *c3 = capacity_new(&cfg);
	struct team *t3 = team("prod", PRIO_CRITICAL);
	capacity_share(c3, 3);
	CHECK_INT(take(c3, t3, 334, 0, &r, &v), -1);
	CHECK_INT(v.status, 413);
	CHECK_INT(take(c3, t3, 333, 0, &r, &v), 0);
	verdict_clear(&v);
	team_free(t);
	team_free(t2);
	team_free(t3);
	capacity_free(c);
	capacity_free(c2);
	capacity_free(c3);
	teardown();
}

/* the fleet's windows: what counters_redis.c keeps in Redis, here */
struct fleet {
	int64_t now;
	bool down;
	int n, asks, gives;
	char scope[8][64];
	struct window w[8];
};

static struct window *fleet_window(struct fleet *f, const char *scope, int64_t span, int64_t bucket)
{
	for (int i = 0; i < f->n; i++)
		if (strcmp(f->scope[i], scope) == 0)
			return &f->w[i];
	snprintf(f->scope[f->n], sizeof f->scope[0], "%s", scope);
	win_init(&f->w[f->n], span, bucket);
	return &f->w[f->n++];
}

static int fleet_lease(void *arg, struct capask *q, int n, int *which)
{
	struct fleet *f = arg;
	if (f->down)
		return -1;
	f->asks++;
	struct window *w[32];
	for (int i = 0; i < n; i++) { /* the gives and adds first, whatever the answer */
		w[i] = fleet_window(f, q[i].scope, q[i].span, q[i].bucket);
		if (q[i].give > 0)
			win_add(w[i], q[i].give_stamp - 1, f->now, -q[i].give);
		if (q[i].add > 0)
			win_add(w[i], f->now, f->now, q[i].add);
	}
	for (int i = 0; i < n; i++) { /* all or none */
		q[i].used = win_sum(w[i], f->now);
		if (q[i].need > q[i].limit - q[i].used) {
			*which = i;
			q[i].retry = win_wait(w[i], f->now, q[i].need, q[i].limit);
			return 1;
		}
	}
	for (int i = 0; i < n; i++) {
		int64_t g = q[i].need + (q[i].limit - q[i].used - q[i].need) / 4;
		q[i].got = g < q[i].want ? g : q[i].want;
		q[i].stamp = f->now + 1; /* (0 is none) */
		win_add(w[i], f->now, f->now, q[i].got);
	}
	return 0;
}

static int fleet_sync(void *arg, struct capask *q, int n)
{
	struct fleet *f = arg;
	if (f->down)
		return -1;
	for (int i = 0; i < n; i++) {
		struct window *w = fleet_window(f, q[i].scope, q[i].span, q[i].bucket);
		if (q[i].add > 0)
			win_add(w, f->now, f->now, q[i].add);
		q[i].used = win_sum(w, f->now);
	}
	return 0;
}

static void fleet_give(void *arg, const char *scope, int64_t stamp, int64_t amount)
{
	struct fleet *f = arg;
	f->gives++;
	for (int i = 0; i < f->n; i++)
		if (strcmp(f->scope[i], scope) == 0)
			win_add(&f->w[i], stamp - 1, f->now, amount);
}

static void test_fleet_windows(void)
{
	setup(0, 0);
	struct fleet fl = { 0 };
	struct capfleet cf = { .arg = &fl, .lease = fleet_lease, .give = fleet_give, .sync = fleet_sync };
	struct capacity *a = capacity_new(&cfg), *b = capacity_new(&cfg);
	capacity_share(a, 3);
	capacity_share(b, 3);
	capacity_fleet(a, &cf);
	capacity_fleet(b, &cf);
	/* the same team on two replicas */
	struct team *ta = team("web", PRIO_STANDARD), *tb = team("web", PRIO_STANDARD);
	ta->tpm_limit = tb->tpm_limit = 300;
	struct capres r1, r2, r3;
	struct verdict v = { 0 };
	/* one replica may use all of the limit (a share would be 100) */
	CHECK_INT(take(a, ta, 200, 0, &r1, &v), 0);
	CHECK_INT(fl.asks, 1);
	CHECK_INT(take(a, ta, 100, 0, &r2, &v), 0);
	CHECK_INT(fl.asks, 2); /* the first lease was the request's alone; the next one twice as big (capped by the room) */
	CHECK_INT(fl.gives, 0); /* (given back within the ask: one round trip) */
	CHECK_INT(win_sum(&fl.w[0], 0), 300);
	/* and the fleet holds it: the other replica is refused, told the fleet's figures */
	CHECK_INT(take(b, tb, 1, 10, &r3, &v), -1);
	CHECK_INT(v.status, 429);
	CHECK(strstr(v.message, "Limit 300, Used 300, Requested 1") != NULL);
	CHECK(v.retry_ms > 0 && v.retry_ms <= 61000);
	/* what a settled request did not use goes back to its lease while it
	 * runs, to the fleet after */
	int64_t used[CL_N] = { 0 };
	used[CL_RPM] = used[CL_RPD] = 1;
	used[CL_TPM] = used[CL_TPD] = 60;
	capacity_settle(ta, &r2, used, 500); /* lease still running: back into it */
	CHECK_INT(win_sum(&fl.w[0], 500), 300);
	int asked = fl.asks;
	CHECK_INT(take(b, tb, 1, 500, &r3, &v), -1);
	CHECK_INT(fl.asks, asked); /* refused a moment ago: not asked again within a lease's length */
	fl.now = 2000;
	capacity_settle(ta, &r1, used, 2000); /* its lease was the first: to the fleet */
	CHECK_INT(win_sum(&fl.w[0], 2000), 160);
	struct registry reg = { 0 };
	struct team *teams[] = { ta };
	reg.teams = teams;
	reg.nteams = 1;
	capacity_fleet_tick(a, &reg, 2000); /* the lease ended: its unused 40 back */
	CHECK_INT(win_sum(&fl.w[0], 2000), 120);
	CHECK_INT(take(b, tb, 180, 2000, &r3, &v), 0);
	CHECK_INT(take(b, tb, 1, 2000, &r3, &v), -1);
	/* more than the limit can never fit: 413 */
	CHECK_INT(take(b, tb, 301, 2000, &r3, &v), -1);
	CHECK_INT(v.status, 413);
	/* what the others held when the fleet last answered stays counted
	 * while it cannot be asked: replica a holds 250 of team x's 300 */
	struct team *xa = team("x", PRIO_STANDARD), *xb = team("x", PRIO_STANDARD);
	xa->tpm_limit = xb->tpm_limit = 300;
	struct capres rx;
	CHECK_INT(take(a, xa, 250, 3000, &rx, &v), 0);
	CHECK_INT(take(b, xb, 10, 3000, &rx, &v), 0);
	fl.down = true;
	CHECK_INT(take(b, xb, 7, 4500, &rx, &v), -1); /* a third of 300 - 250: 16, 10 of them taken */
	CHECK_INT(v.status, 429);
	CHECK_INT(take(b, xb, 6, 4500, &rx, &v), 0);
	/* the fleet back: at the next tick what was admitted without it is
	 * told (6) */
	fl.down = false;
	struct window *fx = fleet_window(&fl, "t:x:tpm", 60000, 1000);
	int64_t before = win_sum(fx, fl.now);
	struct team *xteams[] = { xb };
	struct registry xreg = { 0 };
	xreg.teams = xteams;
	xreg.nteams = 1;
	capacity_fleet_tick(b, &xreg, 4600);
	CHECK_INT(win_sum(fx, fl.now), before + 6);
	fl.down = true;
	team_free(xa);
	team_free(xb);
	/* the fleet cannot be asked: this replica's third, in its own window */
	struct team *tc = team("api", PRIO_STANDARD);
	tc->tpm_limit = 300;
	CHECK_INT(take(b, tc, 100, 2000, &r3, &v), 0);
	CHECK_INT(take(b, tc, 1, 2000, &r3, &v), -1);
	CHECK(strstr(v.message, "Limit 100") != NULL);
	verdict_clear(&v);
	for (int i = 0; i < fl.n; i++)
		win_free(&fl.w[i]);
	team_free(ta);
	team_free(tb);
	team_free(tc);
	capacity_free(a);
	capacity_free(b);
	teardown();
}

static void test_prompt_estimate(void)
{
	setup(0, 0);
	struct capacity *c = capacity_new(&cfg);
	/* until an answer is seen: the money bound (a token per byte) */
	CHECK_INT(capacity_prompt(c, "m", 4000, 4000), 4000);
	capacity_calibrate(c, "m", 4000, 1000); /* 4 bytes a token */
	CHECK_INT(capacity_prompt(c, "m", 4000, 4000), 1251); /* with its 25 % margin */
	/* a denser prompt is learned quickly, a sparser one slowly */
	capacity_calibrate(c, "m", 2000, 1000);
	CHECK(capacity_prompt(c, "m", 4000, 4000) > 2000);
	CHECK_INT(capacity_prompt(c, "other", 4000, 4000), 4000);
	capacity_free(c);
	teardown();
}

void suite_capacity(void)
{
	RUN(test_window_boundaries);
	RUN(test_window_wait);
	RUN(test_shared_by_priority);
	RUN(test_team_limits);
	RUN(test_hold_restart_share);
	RUN(test_fleet_windows);
	RUN(test_prompt_estimate);
}
