/* enduser.c — each end user's day of spend and minute of requests, per
 * team, in bounded memory.
 *
 * An end user is what the request names in OpenAI's `user` field (or the
 * X-Groqgate-User header). A team may give each of its end users a daily
 * budget (user_daily_budget_usd) and a requests-per-minute limit
 * (user_rpm_limit): one abusive customer of the chatbot cannot spend the
 * team's month.
 *
 * Memory: at most `max` users are held (limits.max_end_users), each about
 * 200 bytes with its key; past it the least recently seen one that holds
 * no reservation is let go. What it spent today is not forgotten: it is
 * added to a small count-min table of the day (2 x CM_W counters, 1 MiB),
 * from which a returning user starts. The table only ever over-counts (a
 * user may share a counter with another evicted one): an evicted user can
 * be refused early, never let past its budget. Its minute of requests is
 * forgotten with it, which is why only users idle for a minute are let go
 * first. The day's spend is rebuilt from the ledger at start
 * (enduser_seed, called by the store's load).
 *
 * Cluster mode: each replica holds an equal share of each user's budget
 * and limit, as for a team's day and week (never above, across the fleet).
 */
#include "core.h"

#include <stdlib.h>
#include <string.h>

#include "gotime.h"
#include "strmap.h"
#include "util.h"

#define CM_W 65536 /* counters per row of the day's table */
#define IDLE_MS 60000

struct enduser {
	char *key;                   /* team id, '\x1f', user: the map's key */
	struct enduser *prev, *next; /* most recently seen first */
	int64_t seen;                /* last admitted */
	int64_t day;                 /* the UTC day its spend is of (its start, ms) */
	int64_t spent, reserved;     /* today, nano-dollars */
	int64_t from_table;          /* of spent, what the day's table gave it back */
	bool refused;                /* refused for its budget this day (one alert a day) */
	struct window rpm;           /* its requests in the last minute (win_init on first use) */
};

struct endusers {
	strmap *map;
	struct enduser *head, *tail;
	size_t n, max;
	int64_t evicted;             /* since start */
	int64_t cm_day;              /* the day the table counts */
	int64_t *cm;                 /* 2 x CM_W, allocated on the first eviction */
	uint64_t seed;
};

struct endusers *endusers_new(size_t max)
{
	struct endusers *u = xcalloc(1, sizeof *u);
	u->map = strmap_new();
	u->max = max ? max : 1;
	u->seed = (uint64_t)mono_us() * 0x9e3779b97f4a7c15ULL ^ (uint64_t)(uintptr_t)u;
	return u;
}

static void one_free(struct enduser *e)
{
	win_free(&e->rpm);
	free(e->key);
	free(e);
}

void endusers_free(struct endusers *u)
{
	if (!u)
		return;
	for (struct enduser *e = u->head, *n; e; e = n) {
		n = e->next;
		one_free(e);
	}
	strmap_free(u->map);
	free(u->cm);
	free(u);
}

size_t endusers_count(const struct endusers *u)
{
	return u ? u->n : 0;
}

int64_t endusers_evicted(const struct endusers *u)
{
	return u ? u->evicted : 0;
}

/* the two counters of key in the day's table (FNV-1a 64, seeded) */
static void cm_slots(const struct endusers *u, const char *key, size_t *a, size_t *b)
{
	uint64_t h = 1469598103934665603ULL ^ u->seed;
	for (const unsigned char *p = (const unsigned char *)key; *p; p++)
		h = (h ^ *p) * 1099511628211ULL;
	h ^= h >> 29;
	*a = (size_t)(h % CM_W);
	*b = CM_W + (size_t)((h >> 32) % CM_W);
}

static void cm_day(struct endusers *u, int64_t day)
{
	if (u->cm && u->cm_day != day)
		memset(u->cm, 0, 2 * CM_W * sizeof *u->cm);
	u->cm_day = day;
}

static void unlink_one(struct endusers *u, struct enduser *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		u->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		u->tail = e->prev;
	e->prev = e->next = NULL;
}

static void push_front(struct endusers *u, struct enduser *e)
{
	e->next = u->head;
	if (u->head)
		u->head->prev = e;
	u->head = e;
	if (!u->tail)
		u->tail = e;
}

/* lets the least recently seen user go that holds no reservation (one idle
 * for a minute first); false when every one is in flight */
static bool evict_one(struct endusers *u, int64_t now, int64_t day)
{
	struct enduser *pick = NULL;
	int looked = 0;
	for (struct enduser *e = u->tail; e && looked < 64; e = e->prev, looked++)
		if (!e->reserved && (!pick || now - e->seen >= IDLE_MS)) {
			pick = e;
			if (now - e->seen >= IDLE_MS)
				break;
		}
	if (!pick)
		return false;
	if (pick->day == day && pick->spent > pick->from_table) {
		if (!u->cm)
			u->cm = xcalloc(2 * CM_W, sizeof *u->cm);
		cm_day(u, day);
		size_t a, b;
		cm_slots(u, pick->key, &a, &b);
		u->cm[a] += pick->spent - pick->from_table;
		u->cm[b] += pick->spent - pick->from_table;
	}
	unlink_one(u, pick);
	strmap_del(u->map, pick->key);
	one_free(pick);
	u->n--;
	u->evicted++;
	return true;
}

/* the entry of (team, user), made when new; its day turned over */
static struct enduser *get(struct endusers *u, const char *team, const char *user, int64_t now)
{
	int64_t day = day_start_ms(now);
	char *key = xasprintf("%s\x1f%s", team, user);
	struct enduser *e = strmap_get(u->map, key);
	if (e) {
		free(key);
		unlink_one(u, e);
	} else {
		while (u->n >= u->max && evict_one(u, now, day))
			;
		e = xcalloc(1, sizeof *e);
		e->key = key;
		e->day = day;
		e->seen = now;
		if (u->cm) {
			cm_day(u, day);
			size_t a, b;
			cm_slots(u, key, &a, &b);
			e->spent = e->from_table = u->cm[a] < u->cm[b] ? u->cm[a] : u->cm[b];
		}
		strmap_put(u->map, key, e);
		u->n++;
	}
	push_front(u, e);
	if (e->day != day) { /* a new UTC day: from nothing (what it holds stays held) */
		e->day = day;
		e->spent = e->from_table = 0;
		e->refused = false;
	}
	return e;
}

void enduser_seed(struct endusers *u, const char *team, const char *user, int64_t spent, int64_t now)
{
	struct enduser *e = get(u, team, user, now);
	e->spent += spent;
	e->seen = now - IDLE_MS; /* not seen since the start */
}

static int64_t share(int64_t v, int replicas)
{
	int64_t s = replicas > 1 ? v / replicas : v;
	return s > 0 ? s : 1;
}

int enduser_admit(struct endusers *u, const struct team *t, const char *user, int replicas, int64_t now,
		  int64_t amount, struct verdict *v)
{
	struct enduser *e = get(u, t->id, user, now);
	if (t->user_rpm_limit > 0) {
		if (!e->rpm.n)
			win_init(&e->rpm, 60000, 5000);
		int64_t wait = win_wait(&e->rpm, now, 1, share(t->user_rpm_limit, replicas));
		if (wait != 0) {
			char w[32];
			gotime_format(wait > 0 ? wait : 0, w, sizeof w);
			deny(v, 429, "requests", "rate_limit_exceeded", "user_rate_limited",
			     xasprintf("Rate limit reached for end user '%s' of team '%s' on requests per minute (RPM): "
				       "Limit %lld. Please try again in %s.",
				       user, t->id, (long long)t->user_rpm_limit, w));
			v->retry_ms = wait > 0 ? wait : 1000;
			return -1;
		}
	}
	if (t->user_day_budget_nusd > 0 && e->spent + e->reserved + amount > share(t->user_day_budget_nusd, replicas)) {
		char a[32], b[32], c[32], r[32];
		usd2(a, sizeof a, e->spent + e->reserved);
		usd2(b, sizeof b, t->user_day_budget_nusd);
		usd2(c, sizeof c, amount);
		time_iso(e->day + 86400000, r, sizeof r);
		deny(v, 402, "insufficient_quota", "budget_exceeded", "budget_exceeded",
		     xasprintf("End user '%s' of team '%s' has spent or reserved %s of its %s daily budget (per "
			       "user) and this request could cost up to %s; the user's daily budget resets at %s.",
			       user, t->id, a, b, c, r));
		bool first = !e->refused;
		e->refused = true;
		return first ? -2 : -1;
	}
	if (t->user_rpm_limit > 0)
		win_add(&e->rpm, now, now, 1);
	e->reserved += amount;
	e->seen = now;
	return 0;
}

void enduser_settle(struct endusers *u, const struct team *t, const char *user, int64_t reserved, int64_t actual,
		    int64_t now)
{
	struct enduser *e = get(u, t->id, user, now); /* (held entries are never let go) */
	e->reserved -= reserved;
	if (e->reserved < 0)
		e->reserved = 0;
	e->spent += actual; /* the ledger dates it now: today's */
}

json_t *enduser_json(struct endusers *u, const struct team *t, const char *user, int replicas, int64_t now)
{
	if (t->user_day_budget_nusd <= 0)
		return NULL;
	struct enduser *e = get(u, t->id, user, now);
	int64_t limit = share(t->user_day_budget_nusd, replicas), left = limit - e->spent - e->reserved;
	char r[32];
	time_iso(e->day + 86400000, r, sizeof r);
	return json_pack("{s:s,s:f,s:f,s:f,s:s}", "period", "user_daily", "limit_usd",
			 (double)limit / NUSD_PER_USD, "spent_usd", (double)e->spent / NUSD_PER_USD, "remaining_usd",
			 (double)(left > 0 ? left : 0) / NUSD_PER_USD, "resets_at", r);
}

int64_t enduser_remaining(struct endusers *u, const struct team *t, const char *user, int replicas, int64_t now)
{
	if (t->user_day_budget_nusd <= 0)
		return INT64_MAX;
	struct enduser *e = get(u, t->id, user, now);
	int64_t left = share(t->user_day_budget_nusd, replicas) - e->spent - e->reserved;
	return left > 0 ? left : 0;
}
