/* counters_redis.h — what counters_redis.c (the connections, the RPM
 * windows) and counters_redis_cap.c (capacity's windows in the fleet)
 * share (the second calls the first, never the other way). Private to
 * cluster/. */
#ifndef GG_COUNTERS_REDIS_H
#define GG_COUNTERS_REDIS_H

#include <event2/event.h>
#include <hiredis/hiredis.h>
#include <hiredis/async.h>

#include "cluster.h"

/* A lease of slots: when a team is admitted often and its window is far
 * from full, one admission asks for several slots at once, used here
 * without a round trip until LEASE_MS after they were asked for; what is
 * left then goes back (ZREM). */
#define LEASE_MS 500
#define LEASE_MAX 64

/* a team's local window while Redis is away, and its last fleet count */
struct local {
	struct ratelimit rl;
	int limit;
	int fleet; /* the window's count across the fleet, as Redis last said */
	int64_t team_limit;       /* the limit the slots were leased under */
	int64_t slot, slot_end;   /* leased slots not used yet: sequences [slot, slot_end) */
	int64_t slot_until;       /* mono ms: usable until then */
	int64_t want;             /* the next lease's size: doubles while admissions come often */
	int64_t last_ask;         /* mono ms of the last ask */
	bool asking;              /* a lease is on its way */
	char key[300];            /* gg:rpm:{team} */
};

/* a request waiting for Redis's answer (in the order asked) */
struct cwait {
	struct cwait *next;
	struct rcounters *r;
	struct team *t;      /* NULL once cancelled */
	struct local *l;     /* its team's (kept when cancelled: a lease is not lost) */
	int64_t seq, want;   /* the slots asked for: sequences [seq, seq + want) */
	int64_t want_limit;  /* the team's limit when asked */
	void (*cb)(void *arg, int ok, int64_t retry_ms);
	void *arg;
	int64_t asked_at;    /* mono ms */
	int64_t now;         /* the caller's clock when asked (a local decision's time) */
};

struct rcounters {
	struct counters base; /* first */
	redisContext *c;
	redisAsyncContext *ac;  /* the request path's connection (NULL: none) */
	bool ac_up;             /* connected */
	struct event_base *evb;
	struct event *flush;    /* end of the loop pass: what was asked, written */
	buf cmd;                /* an admission's command, made here */
	struct cwait *head, *tail; /* waiting, oldest first */
	char host[256];
	int port, db;
	char sha[48], cap_sha[48], sync_sha[48];
	bool stopping;          /* a clean stop: corrections on the blocking connection */
	struct capfleet fleet;  /* the capacity windows' lease and correction */
	char *replica;        /* members' prefix: replica id and start time */
	int64_t seq;          /* makes each admission's member unique */
	int64_t retry_at;     /* mono ms: the next connection attempt */
	int alive;            /* replicas serving: the fallback's divisor */
	strmap *local;        /* team id -> struct local */
	char *cause;          /* why Redis is down, or NULL */
	int64_t last_now;     /* the callers' clock at the last admission */
	bool fallback;        /* the local windows decide (seeded when Redis went away) */
};

#define R(c) ((struct rcounters *)(c))

/* the blocking connection, (re)made when it is down and may be tried */
bool redis_connect_now(struct rcounters *r);
/* a reply of the blocking connection, or NULL when there was none or an
 * error (the connection then dropped, made again later) */
redisReply *redis_answer_of(struct rcounters *r, redisReply *y);


#endif
