/* cluster.h — one replica of a fleet: PostgreSQL's configuration version,
 * heartbeats, fleet spend and budget leases (cluster.c); the RPM and
 * capacity windows in Redis (counters_redis.c). */
#ifndef GG_CLUSTER_H
#define GG_CLUSTER_H

#include "record.h" /* the rooms below */

/* counters_redis.c: the windows in Redis at url (redis://HOST:PORT/DB);
 * a Redis that is down is not an error: limit ÷ alive replicas is then
 * enforced locally until it answers again */
struct counters *counters_redis_new(const char *url, const char *replica, struct event_base *base, char **cause);
void counters_redis_free(struct counters *c);
/* Every cluster poll, whatever PostgreSQL does: an answer overdue drops
 * the connection (its waiting requests decided locally); a reconnection
 * tried when down. */
void counters_redis_watch(struct counters *c);
/* Every second: the replicas alive, every team's fleet count read (one
 * pipelined round trip). */
void counters_redis_tick(struct counters *c, struct registry *reg, int alive);
const char *counters_redis_down(struct counters *c); /* why, or NULL when up */
/* the capacity windows shared by the fleet, in the same Redis */
const struct capfleet *counters_redis_capfleet(struct counters *c);
/* a clean stop begins: what is still told to Redis goes on the blocking
 * connection (the loop no longer runs to send it) */
void counters_redis_stopping(struct counters *c);
/* ---- cluster.c: one replica of a fleet (store.url, counters.redis) --- */
struct cluster;
/* NULL (no error) when the store is not PostgreSQL: one node. */
struct cluster *cluster_start(struct gateway *g, char **cause);
void cluster_first_tick(struct cluster *c); /* the first poll, before serving */
void cluster_free(struct cluster *c);
/* the configuration could not be confirmed current for stale_after_s */
bool cluster_stale(struct gateway *g);
/* The configuration's version read now, and teams, keys and tokens read
 * again when it moved (an admin request's first step; a round trip to
 * PostgreSQL). Nothing in single mode; a PostgreSQL that does not answer
 * leaves the registry as it is. */
void cluster_sync(struct gateway *g);
/* This replica's leases of t's budgets grown to cover need (budget_needs;
 * 0: that one not asked), in one round trip: 0, or -1 with *why (the
 * fleet's budget is used, or PostgreSQL does not answer). */
int cluster_lease(struct gateway *g, struct team *t, const int64_t need[BW_ALL], char **why);
/* The same for k's monthly budget (need: what this replica settled this
 * month with k and what k has reserved, and the new request; need_next:
 * what is reserved with the request, leased ahead in the next month): 0, -1 with
 * *why (the fleet's budget is used) or -2 with *why (PostgreSQL does not
 * answer). */
int cluster_key_lease(struct gateway *g, struct ukey *k, int64_t need, int64_t need_next, char **why);
json_t *cluster_json(struct gateway *g);     /* GET /admin/v1/cluster */
/* a replica that is down, stale past 3 x stale_after_s, or unknown to the
 * fleet: its open batches are taken over */
bool cluster_replica_gone(struct gateway *g, const char *id);
/* the replicas serving, counted generously (1: one node) */
int cluster_replicas(struct gateway *g);
/* the replica that speaks for the fleet (the serving one with the
 * smallest id; one node: itself): fleet-wide alerts are raised by it */
bool cluster_leader(struct gateway *g);
/* the overview's "cluster": {"mode","serving","replicas"} (single: 1/1) */
json_t *cluster_summary(struct gateway *g);
const char *cluster_degraded(struct gateway *g); /* why /healthz says degraded, or NULL */

#endif
