/* cluster.c — one replica of a fleet on PostgreSQL and Redis
 * (docs/cluster.md). Nothing here runs on a request's path but a lease
 * top-up when this replica's lease of a team's budget runs out.
 *
 * Every cluster.poll_ms the replica reads the configuration's version (a
 * change through any replica moves it in the changing transaction and
 * NOTIFYs; the notification wakes this at once, the poll is the backstop
 * for a lost one) and, when it moved, reads teams, keys and tokens again
 * and merges them into the registry. A read that succeeds confirms the
 * configuration is current; one that has not succeeded for
 * cluster.stale_after_s makes the data plane refuse requests (503
 * config_stale) rather than miss a pause.
 *
 * Every second: the heartbeat (cl_replicas), the fleet's replicas, every
 * team's spend across the fleet this month, day and week and every key's
 * this month, with this replica's leases (so the admin API, the quota and
 * the budget see the fleet), leases given back when idle and topped up
 * while requests are in flight, and the Redis counters' tick.
 *
 * Budget: a replica reserves only within its lease of each of a team's
 * budgets (its month, day and week) and of its key's month, granted by
 * PostgreSQL under the team row's lock so that the fleet's spend plus
 * every lease never exceeds the budget. A crashed replica's lease stays
 * counted until it comes back: stranded budget, never overspend. */
#include "cluster.h"

#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define SLOW_MS 1000
#define FORGET_MS 3600000 /* the budget windows that are over forgotten about once an hour */

struct cluster {
	struct gateway *g;
	struct event *tick, *sock;
	int sock_fd;
	int64_t version;
	int64_t confirmed_at; /* gw_now ms of the last read that worked (0: none yet) */
	int64_t back_at;      /* when PostgreSQL answered again after a silence (0: never silent) */
	int64_t slow_at;
	int64_t forgot_at; /* gw_now ms the windows over were last forgotten */
	bool store_up;
	char *store_err;
	json_t *replicas;     /* [{...}] as the store last listed them */
	int alive;
	int64_t reloads;
	bool stale_said;
};

static void say(struct gateway *g, const char *level, const char *msg, const char *err)
{
	json_t *l = json_pack("{s:s,s:s}", "level", level, "msg", msg);
	if (err)
		json_object_set_new(l, "error", json_string(err));
	gw_log(g, l);
}

static void store_trouble(struct cluster *c, char *cause)
{
	if (c->store_up)
		say(c->g, "error", "cluster: PostgreSQL does not answer", cause);
	c->store_up = false;
	free(c->store_err);
	c->store_err = cause ? cause : xstrdup("?");
}

static void store_fine(struct cluster *c)
{
	if (!c->store_up && c->confirmed_at)
		say(c->g, "info", "cluster: PostgreSQL answers again", NULL);
	c->store_up = true;
	free(c->store_err);
	c->store_err = NULL;
}

/* a budget may have been lowered: each window's lease in memory no more
 * than what is needed now, so that the next reservation beyond it asks
 * PostgreSQL, which grants no more than the new budget has room for */
static void shrink_grants(struct gateway *g)
{
	for (int i = 0; i < g->reg.nteams; i++) {
		struct team *t = g->reg.teams[i];
		int64_t need[BW_ALL];
		budget_needs(t, 0, false, need);
		if (t->day_fw.granted_nusd > need[BW_DAY])
			t->day_fw.granted_nusd = need[BW_DAY];
		if (t->week_fw.granted_nusd > need[BW_WEEK])
			t->week_fw.granted_nusd = need[BW_WEEK];
	}
	for (int i = 0; i < g->reg.nkeys; i++) {
		struct ukey *k = g->reg.keys[i];
		int64_t need = fleetwin_here(&k->fw, k->spend_nusd) + k->reserved_nusd;
		if (k->fw.granted_nusd > need)
			k->fw.granted_nusd = need;
	}
}

static void reload(struct cluster *c, int64_t now)
{
	struct gateway *g = c->g;
	struct registry f;
	registry_init(&f);
	char *cause = NULL;
	if (store_cl_reload(g->store, &f, now, &cause) != 0)
		store_trouble(c, cause);
	else {
		registry_merge(&g->reg, &f);
		shrink_grants(g);
	}
	registry_free(&f);
	c->reloads++;
}

/* a lease's margin beyond what is needed now: a twentieth of the budget,
 * less near the cap (half of what is left, divided among the replicas) */
static int64_t chunk_of(const struct cluster *c, int64_t budget, int64_t spent)
{
	int64_t chunk = budget / 20;
	int64_t room = budget - spent;
	int alive = c->alive > 0 ? c->alive : 1;
	if (room / (2 * alive) < chunk) /* near the cap: smaller shares */
		chunk = room / (2 * alive);
	return chunk > 0 ? chunk : 0;
}

/* a team's budgets by enum budget_window (and the next day and week,
 * leased ahead): its name in the store, the budget, its spend (the
 * fleet's), the window it is in now, its lease */
static const char *const window_kind[BW_ALL] = { "month", "day", "week", "day", "week" };

static int64_t window_budget(const struct team *t, int i)
{
	return i == BW_MONTH ? t->budget_nusd
	       : i == BW_DAY || i == BW_NEXT_DAY ? t->day_budget_nusd
						  : t->week_budget_nusd;
}

static int64_t window_spend(const struct team *t, int i)
{
	return i == BW_MONTH ? t->spend_nusd : i == BW_DAY ? t->day_spend_nusd : i == BW_WEEK ? t->week_spend_nusd : 0;
}

static int64_t window_start(const struct team *t, int i, int64_t now)
{
	switch (i) {
	case BW_MONTH: return month_start_ms(now);
	case BW_DAY: return t->day_start;
	case BW_WEEK: return t->week_start;
	case BW_NEXT_DAY: return t->day_start + 86400000;
	default: return t->week_start + 7 * 86400000LL;
	}
}

static int64_t *window_held(struct team *t, int i)
{
	switch (i) {
	case BW_MONTH: return &t->lease_nusd;
	case BW_DAY: return &t->day_fw.granted_nusd;
	case BW_WEEK: return &t->week_fw.granted_nusd;
	case BW_NEXT_DAY: return &t->day_fw.next_nusd;
	default: return &t->week_fw.next_nusd;
	}
}

/* a budget of t leased now: the month, a day or week with a budget and
 * which t is in (tend_team rolls every team to now first, so that what it
 * leased ahead in a window that turned is its lease there, given back when
 * idle) */
static bool window_tended(const struct team *t, int i, int64_t now)
{
	if (i == BW_MONTH)
		return true;
	bool day = i == BW_DAY || i == BW_NEXT_DAY;
	int64_t cur = day ? day_start_ms(now) : week_start_ms(now);
	return window_budget(t, i) > 0 && (day ? t->day_start : t->week_start) == cur;
}

/* t's leases set to want (< 0: that one left as it is), each grown only
 * when it can reach need (NULL: any growth), in one transaction: 0, or -1
 * with *cause */
static int lease_team(struct cluster *c, struct team *t, const int64_t want[BW_ALL], const int64_t *need, char **cause)
{
	struct cl_lease l[BW_ALL];
	int which[BW_ALL], n = 0;
	int64_t now = gw_now(c->g);
	for (int i = 0; i < BW_ALL; i++)
		if (want[i] >= 0) {
			l[n] = (struct cl_lease){ .kind = window_kind[i], .owner = t->id, .start = window_start(t, i, now),
						  .want = want[i], .need = need && need[i] > 0 ? need[i] : 0 };
			which[n++] = i;
		}
	if (n == 0)
		return 0;
	if (store_cl_lease(c->g->store, t->id, l, n, cause) != 0)
		return -1;
	for (int j = 0; j < n; j++)
		*window_held(t, which[j]) = l[j].held;
	return 0;
}

/* k's lease of its month set to want and of the next month to
 * want_next (< 0: that one left as it is), each grown only when it can
 * reach need, need_next: 0, or -1 with *cause */
static int lease_key(struct cluster *c, struct ukey *k, int64_t want, int64_t want_next, int64_t need, int64_t need_next,
		     char **cause)
{
	struct cl_lease l[2];
	int n = 0;
	if (want >= 0)
		l[n++] = (struct cl_lease){ .kind = "key", .owner = k->name, .start = k->month_start, .want = want,
					    .need = need };
	if (want_next >= 0)
		l[n++] = (struct cl_lease){ .kind = "key", .owner = k->name, .start = month_next_ms(k->month_start),
					    .want = want_next, .need = need_next };
	if (n == 0)
		return 0;
	if (store_cl_lease(c->g->store, k->team, l, n, cause) != 0)
		return -1;
	for (int j = 0; j < n; j++)
		*(l[j].start == k->month_start ? &k->fw.granted_nusd : &k->fw.next_nusd) = l[j].held;
	return 0;
}

/* a lease given back when idle (more than two margins unused), topped up
 * while requests are in flight (less than half a margin left) */
static bool lease_off(int64_t held, int64_t need, int64_t chunk, bool in_flight)
{
	int64_t surplus = held - need;
	return surplus > 2 * chunk || (in_flight && surplus < chunk / 2);
}

/* t's leases that are off, set to what it holds now and a margin */
static int tend_team(struct cluster *c, struct team *t, int64_t now, char **cause)
{
	int64_t need[BW_ALL], want[BW_ALL];
	bool any = false;
	/* its day or week turned: what was leased ahead is its lease in the new
	 * one (held for its reservations, or given back below when idle) */
	budget_roll_windows(t, now);
	budget_needs(t, 0, false, need);
	for (int i = 0; i < BW_ALL; i++) {
		int64_t chunk = chunk_of(c, window_budget(t, i), window_spend(t, i));
		want[i] = window_tended(t, i, now) && lease_off(*window_held(t, i), need[i], chunk, t->reserved_nusd > 0)
				  ? need[i] + chunk
				  : -1;
		any = any || want[i] >= 0;
	}
	return any ? lease_team(c, t, want, need, cause) : 0;
}

/* k's lease, the same */
static int tend_key(struct cluster *c, struct ukey *k, int64_t now, char **cause)
{
	if (k->budget_nusd <= 0)
		return 0;
	budget_roll_key(k, month_start_ms(now)); /* (what was leased ahead: held, or given back below) */
	int64_t need = fleetwin_here(&k->fw, k->spend_nusd) + k->reserved_nusd;
	int64_t chunk = chunk_of(c, k->budget_nusd, k->spend_nusd), chunk_next = chunk_of(c, k->budget_nusd, 0);
	bool cur = lease_off(k->fw.granted_nusd, need, chunk, k->reserved_nusd > 0);
	bool next = lease_off(k->fw.next_nusd, k->reserved_nusd, chunk_next, k->reserved_nusd > 0);
	return cur || next ? lease_key(c, k, cur ? need + chunk : -1, next ? k->reserved_nusd + chunk_next : -1, need,
				       k->reserved_nusd, cause)
			   : 0;
}

static void spend_one(void *arg, const char *id, int64_t spent, int64_t lease)
{
	struct cluster *c = arg;
	struct team *t = registry_team(&c->g->reg, id);
	if (!t)
		return;
	t->spend_nusd = spent + t->unshipped_nusd;
	t->lease_nusd = lease;
	c->g->reg.org_spend_nusd += t->spend_nusd;
	/* thresholds the fleet crossed were alerted by the replica that crossed them */
	int crossed = money_crossed(t->thresholds, t->nthresholds, t->spend_nusd, t->budget_nusd);
	if (t->alerted < crossed)
		t->alerted = crossed;
}

static void window_one(void *arg, const char *kind, const char *owner, int64_t start, int64_t spent, int64_t mine,
		       int64_t held)
{
	struct cluster *c = arg;
	fleet_window_read(&c->g->reg, kind, owner, start, spent, mine, held);
}

/* a replica's heartbeat says it stopped, or is draining to stop (the
 * API shows both as "down", a draining one with "draining": true) */
static bool leaving(const char *state)
{
	return str_eq(state, "down") || str_eq(state, "draining");
}

static void slow(struct cluster *c, int64_t now)
{
	struct gateway *g = c->g;
	char *cause = NULL;
	capacity_fleet_tick(g->capacity, &g->reg, now); /* Redis's: whatever PostgreSQL does */
	bool stale = cluster_stale(g);
	struct replica_info me = { .id = g->cfg.replica_id, .listen = g->addr, .version = GG_VERSION,
				   .state = g->draining ? "draining" : stale ? "stale" : "serving",
				   .started_at = g->started_ms, .now = now, .inflight = g->inflight };
	if (store_cl_heartbeat(g->store, &me, &cause) != 0) {
		store_trouble(c, cause);
		return;
	}
	json_t *r = store_cl_replicas(g->store, &cause);
	if (!r) {
		store_trouble(c, cause);
		return;
	}
	json_decref(c->replicas);
	c->replicas = r;
	/* replicas alive, for dividing a limit while Redis is away: counted
	 * generously (a late heartbeat still counts), since one too many only
	 * makes each share smaller, one too few could let the fleet exceed it */
	c->alive = 0;
	int64_t within = 3 * g->cfg.stale_after_s * 1000;
	if (within < 5000)
		within = 5000;
	size_t i;
	json_t *e;
	json_array_foreach(r, i, e) if (now - json_integer_value(json_object_get(e, "last_seen_at")) <= within &&
					 !leaving(json_string_value(json_object_get(e, "state")))) c->alive++;
	int64_t org = g->reg.org_spend_nusd;
	g->reg.org_spend_nusd = 0;
	if (store_cl_spend(g->store, month_start_ms(now), spend_one, c, &cause) != 0) {
		g->reg.org_spend_nusd = org;
		store_trouble(c, cause);
		return;
	}
	if (store_cl_windows(g->store, day_start_ms(now), week_start_ms(now), month_start_ms(now), window_one, c,
			     &cause) != 0) {
		store_trouble(c, cause);
		return;
	}
	/* leases: given back when idle, topped up while requests are in flight */
	for (int k = 0; k < g->reg.nteams; k++)
		if (tend_team(c, g->reg.teams[k], now, &cause) != 0) {
			store_trouble(c, cause);
			return;
		}
	for (int k = 0; k < g->reg.nkeys; k++)
		if (tend_key(c, g->reg.keys[k], now, &cause) != 0) {
			store_trouble(c, cause);
			return;
		}
	if (g->reg.ctr != &counters_memory)
		counters_redis_tick(g->reg.ctr, &g->reg, c->alive);
	capacity_share(g->capacity, c->alive);
	/* cl_windows kept small: what is read every second is now's */
	if (now - c->forgot_at >= FORGET_MS) {
		c->forgot_at = now;
		if (store_cl_forget(g->store, now, &cause) != 0)
			store_trouble(c, cause);
	}
}

/* the configuration's version read; teams, keys and tokens read again
 * when it moved (or a notification said something changed) */
static void confirm(struct cluster *c, int64_t now, int heard)
{
	char *cause = NULL;
	int64_t v = store_cl_version(c->g->store, &cause);
	if (v < 0) {
		store_trouble(c, cause);
		return;
	}
	store_fine(c);
	if (v != c->version || heard)
		reload(c, now);
	c->version = v;
	/* after a silence the others could not heartbeat either: none is
	 * judged gone until they had the time to (cluster_replica_gone) */
	if (c->confirmed_at && now - c->confirmed_at > c->g->cfg.stale_after_s * 1000)
		c->back_at = now;
	c->confirmed_at = now;
	if (c->stale_said)
		say(c->g, "info", "cluster: configuration current again; serving", NULL);
	c->stale_said = false;
}

void cluster_sync(struct gateway *g)
{
	if (g->cluster)
		confirm(g->cluster, gw_now(g), 0);
}

static void tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	struct cluster *c = arg;
	struct gateway *g = c->g;
	int64_t now = gw_now(g);
	if (g->reg.ctr != &counters_memory) /* first: it must not wait on PostgreSQL */
		counters_redis_watch(g->reg.ctr);
	confirm(c, now, store_cl_notified(g->store));
	if (cluster_stale(g) && !c->stale_said) {
		say(g, "error", "cluster: configuration not confirmed for cluster.stale_after_s; refusing requests",
		    c->store_err);
		c->stale_said = true;
	}
	if (now - c->slow_at >= SLOW_MS) {
		c->slow_at = now;
		slow(c, now);
	}
	/* the notification socket, watched again after a reconnection */
	int sfd = store_cl_fd(g->store);
	if (sfd != c->sock_fd) {
		if (c->sock)
			event_free(c->sock);
		c->sock = NULL;
		c->sock_fd = sfd;
		if (sfd >= 0) {
			c->sock = event_new(g->base, sfd, EV_READ | EV_PERSIST, tick, c);
			event_add(c->sock, NULL);
		}
	}
}

struct cluster *cluster_start(struct gateway *g, char **cause)
{
	if (!store_clustered(g->store))
		return NULL;
	struct cluster *c = xcalloc(1, sizeof *c);
	c->g = g;
	c->sock_fd = -1;
	c->store_up = true;
	c->alive = 1;
	c->version = store_cl_version(g->store, cause);
	if (c->version < 0) {
		free(c);
		return NULL;
	}
	c->confirmed_at = gw_now(g);
	/* leases left from before a crash: this replica's journal is shipped,
	 * so what it holds beyond what is in flight (nothing yet) goes back */
	if (store_cl_give_back(g->store, gw_now(g), cause) != 0) {
		free(c);
		return NULL;
	}
	/* what the figures loaded before it said this replica held is gone
	 * with it (the next reading, or the lease below, says what it holds) */
	for (int i = 0; i < g->reg.nteams; i++) {
		struct team *t = g->reg.teams[i];
		t->lease_nusd = 0;
		t->day_fw.granted_nusd = t->day_fw.next_nusd = 0;
		t->week_fw.granted_nusd = t->week_fw.next_nusd = 0;
	}
	for (int i = 0; i < g->reg.nkeys; i++)
		g->reg.keys[i]->fw.granted_nusd = g->reg.keys[i]->fw.next_nusd = 0;
	/* open batches' reservations stay covered (the give-back kept them:
	 * this confirms it, and takes what another replica gave back since) */
	for (int i = 0; i < g->reg.nteams; i++) {
		struct team *t = g->reg.teams[i];
		int64_t need[BW_ALL];
		budget_needs(t, 0, false, need);
		for (int w = 0; w < BW_ALL; w++)
			need[w] = need[w] > 0 ? need[w] : -1; /* (a window without a budget: not leased) */
		if (t->reserved_nusd && lease_team(c, t, need, need, cause) != 0) {
			free(c);
			return NULL;
		}
	}
	c->tick = event_new(g->base, -1, EV_PERSIST, tick, c);
	struct timeval tv = { (time_t)(g->cfg.cluster_poll_ms / 1000), (suseconds_t)(g->cfg.cluster_poll_ms % 1000) * 1000 };
	event_add(c->tick, &tv);
	return c;
}

void cluster_first_tick(struct cluster *c)
{
	if (c)
		tick(-1, 0, c);
}

void cluster_free(struct cluster *c)
{
	if (!c)
		return;
	/* a clean stop (the journal shipped by now): the leases go back to
	 * the fleet and the replica is listed down at once */
	struct gateway *g = c->g;
	char *cause = NULL;
	/* (the connections were closed first: what is still reserved is the
	 * open batches', and the store knows which are still this replica's —
	 * one may have been taken over while it drained) */
	if (c->store_up && store_cl_give_back(g->store, gw_now(g), &cause) != 0)
		free(cause);
	cause = NULL;
	struct replica_info me = { .id = g->cfg.replica_id, .listen = g->addr, .version = GG_VERSION, .state = "down",
				   .started_at = g->started_ms, .now = gw_now(g), .inflight = 0 };
	if (c->store_up && store_cl_heartbeat(g->store, &me, &cause) != 0)
		free(cause);
	if (c->tick)
		event_free(c->tick);
	if (c->sock)
		event_free(c->sock);
	json_decref(c->replicas);
	free(c->store_err);
	free(c);
}

bool cluster_stale(struct gateway *g)
{
	struct cluster *c = g->cluster;
	return c && gw_now(g) - c->confirmed_at > g->cfg.stale_after_s * 1000;
}

/* why t cannot have its lease of window i grown to what it needs: the
 * fleet spent or leased the rest of the budget (allocated) */
static char *fleet_refusal(const struct team *t, int i)
{
	static const char *const period[BW_ALL] = { "monthly", "daily", "weekly", "daily", "weekly" };
	char a[32], b[32], r[32];
	usd2(a, sizeof a, window_budget(t, i));
	usd2(b, sizeof b, window_spend(t, i));
	if (i == BW_MONTH)
		return xasprintf("Team '%s' has spent or reserved its %s monthly budget across the gateway fleet (%s "
				 "settled); this request could cost more than is left. Lower max_completion_tokens, or "
				 "ask an operator to raise the budget.",
				 t->id, a, b);
	if (i >= BW_N) /* the next window's room for what is reserved: leased ahead */
		return xasprintf("Team '%s' has reserved what the gateway fleet can cover of its %s %s budget in the "
				 "next %s (requests in flight may settle there). Try again shortly, or lower "
				 "max_completion_tokens.",
				 t->id, a, period[i], i == BW_NEXT_DAY ? "day" : "week");
	time_iso(i == BW_DAY ? t->day_start + 86400000 : t->week_start + 7 * 86400000LL, r, sizeof r);
	return xasprintf("Team '%s' has spent or reserved its %s %s budget across the gateway fleet (%s settled); "
			 "this request could cost more than is left; the %s budget resets at %s. Lower "
			 "max_completion_tokens, or ask an operator.",
			 t->id, a, period[i], b, period[i], r);
}

int cluster_lease(struct gateway *g, struct team *t, const int64_t need[BW_ALL], char **why)
{
	struct cluster *c = g->cluster;
	char *cause = NULL;
	int64_t want[BW_ALL];
	for (int i = 0; i < BW_ALL; i++)
		want[i] = need[i] > 0 ? need[i] + chunk_of(c, window_budget(t, i), window_spend(t, i)) : -1;
	if (lease_team(c, t, want, need, &cause) != 0) {
		store_trouble(c, xstrdup(cause));
		*why = xasprintf("Team '%s' has used the share of its budget this gateway replica holds, and no more can "
				 "be leased now: PostgreSQL does not answer (%s). Try again shortly.",
				 t->id, cause);
		free(cause);
		return -1;
	}
	for (int i = 0; i < BW_ALL; i++)
		if (need[i] > 0 && *window_held(t, i) < need[i]) {
			*why = fleet_refusal(t, i);
			return -1;
		}
	return 0;
}

int cluster_key_lease(struct gateway *g, struct ukey *k, int64_t need, int64_t need_next, char **why)
{
	struct cluster *c = g->cluster;
	char *cause = NULL;
	if (lease_key(c, k, need + chunk_of(c, k->budget_nusd, k->spend_nusd), need_next + chunk_of(c, k->budget_nusd, 0),
		      need, need_next, &cause) != 0) {
		store_trouble(c, xstrdup(cause));
		*why = xasprintf("Upstream key '%s' has used the share of its budget this gateway replica holds, and no "
				 "more can be leased now: PostgreSQL does not answer (%s). Try again shortly.",
				 k->name, cause);
		free(cause);
		return -2;
	}
	if (k->fw.granted_nusd >= need && k->fw.next_nusd >= need_next)
		return 0;
	char a[32], b[32];
	usd2(a, sizeof a, k->budget_nusd);
	usd2(b, sizeof b, k->spend_nusd);
	*why = xasprintf("Upstream key '%s' of team '%s' has spent or reserved its %s monthly budget across the gateway "
			 "fleet (%s settled); this request could cost more than is left. Use another key of the team, or "
			 "ask an operator.",
			 k->name, k->team, a, b);
	return -1;
}

static json_t *iso(int64_t ms)
{
	char s[32];
	time_iso(ms, s, sizeof s);
	return json_string(s);
}

json_t *cluster_json(struct gateway *g)
{
	struct cluster *c = g->cluster;
	int64_t now = gw_now(g);
	json_t *list = json_array();
	size_t i;
	json_t *e;
	json_array_foreach(c->replicas, i, e)
	{
		int64_t seen = json_integer_value(json_object_get(e, "last_seen_at"));
		const char *st = json_string_value(json_object_get(e, "state"));
		bool mine = str_eq(json_string_value(json_object_get(e, "id")), g->cfg.replica_id);
		if (mine) /* this one knows its state now */
			st = g->draining ? "draining" : cluster_stale(g) ? "stale" : "serving";
		else if (now - seen > g->cfg.stale_after_s * 1000)
			st = "down";
		bool draining = str_eq(st, "draining");
		json_array_append_new(list, json_pack("{s:O,s:O,s:O,s:o,s:o,s:s,s:b,s:O}", "id", json_object_get(e, "id"),
						      "listen", json_object_get(e, "listen"), "version",
						      json_object_get(e, "version"), "started_at",
						      iso(json_integer_value(json_object_get(e, "started_at"))),
						      "last_seen_at", iso(seen), "state", draining ? "down" : st, "draining",
						      draining, "inflight", json_object_get(e, "inflight")));
	}
	const char *rdown = g->reg.ctr != &counters_memory ? counters_redis_down(g->reg.ctr) : "not configured";
	json_t *j = json_pack("{s:s,s:o,s:{s:s,s:b},s:{s:s,s:b}}", "mode", "cluster", "replicas", list, "store", "kind",
			      "postgresql", "up", c->store_up, "counters", "kind",
			      g->reg.ctr != &counters_memory ? "redis" : "local", "up", rdown == NULL);
	json_object_set_new(j, "replica_id", json_string(g->cfg.replica_id));
	json_object_set_new(j, "alive", json_integer(c->alive));
	json_object_set_new(j, "config_version", json_integer(c->version));
	json_object_set_new(j, "reloads", json_integer(c->reloads));
	if (c->store_err)
		json_object_set_new(j, "store_error", json_string(c->store_err));
	if (rdown && g->reg.ctr != &counters_memory)
		json_object_set_new(j, "counters_error", json_string(rdown));
	return j;
}

const char *cluster_degraded(struct gateway *g)
{
	struct cluster *c = g->cluster;
	if (!c)
		return NULL;
	if (!c->store_up)
		return c->store_err ? c->store_err : "PostgreSQL does not answer";
	if (g->reg.ctr != &counters_memory)
		return counters_redis_down(g->reg.ctr);
	return NULL;
}

json_t *cluster_summary(struct gateway *g)
{
	if (!g->cluster)
		return json_pack("{s:s,s:i,s:i}", "mode", "single", "serving", 1, "replicas", 1);
	json_t *j = cluster_json(g), *reps = json_object_get(j, "replicas");
	int serving = 0;
	size_t i;
	json_t *e;
	json_array_foreach(reps, i, e) serving += str_eq(json_string_value(json_object_get(e, "state")), "serving");
	json_t *s = json_pack("{s:s,s:i,s:i}", "mode", "cluster", "serving", serving, "replicas", (int)json_array_size(reps));
	json_decref(j);
	return s;
}

int cluster_replicas(struct gateway *g)
{
	return g->cluster && g->cluster->alive > 1 ? g->cluster->alive : 1;
}

bool cluster_replica_gone(struct gateway *g, const char *id)
{
	struct cluster *c = g->cluster;
	if (!c || !id || str_eq(id, g->cfg.replica_id) || !c->replicas)
		return false;
	int64_t now = gw_now(g);
	/* PostgreSQL was silent for every replica a moment ago: a late
	 * heartbeat then is not a replica gone (one that said it is leaving is) */
	bool grace = c->back_at && now - c->back_at <= 3 * g->cfg.stale_after_s * 1000;
	size_t i;
	json_t *e;
	json_array_foreach(c->replicas, i, e) if (str_eq(json_string_value(json_object_get(e, "id")), id)) {
		return leaving(json_string_value(json_object_get(e, "state"))) ||
		       (!grace && now - json_integer_value(json_object_get(e, "last_seen_at")) > 3 * g->cfg.stale_after_s * 1000);
	}
	return true; /* not in the fleet's list at all */
}

bool cluster_leader(struct gateway *g)
{
	struct cluster *c = g->cluster;
	if (!c)
		return true;
	if (!c->replicas)
		return false; /* the fleet not read yet: every replica would say it leads */
	int64_t now = gw_now(g);
	size_t i;
	json_t *e;
	json_array_foreach(c->replicas, i, e)
	{
		const char *id = json_string_value(json_object_get(e, "id"));
		bool alive = now - json_integer_value(json_object_get(e, "last_seen_at")) <= g->cfg.stale_after_s * 1000 &&
			     str_eq(json_string_value(json_object_get(e, "state")), "serving");
		if (alive && id && strcmp(id, g->cfg.replica_id) < 0)
			return false; /* one with a smaller name serves */
	}
	return true;
}
