/* store_pg_cluster.c — the cluster's own tables on PostgreSQL: heartbeats
 * and the replicas' list, the configuration's version, the fleet's spend,
 * budget leases and batches taken over (store.h's cl_* ops). The engine's
 * other ops are in store_pg.c; its connection in store_pg_conn.c. */
#include "store_pg.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

int pg_cl_heartbeat(struct store *base, const struct replica_info *me, char **cause)
{
	char st[24], seen[24], in[24];
	snprintf(st, sizeof st, "%lld", (long long)me->started_at);
	snprintf(seen, sizeof seen, "%lld", (long long)me->now);
	snprintf(in, sizeof in, "%d", me->inflight);
	const char *v[] = { me->id, me->listen, me->version, st, seen, in, me->state };
	return pgq0(P(base), "heartbeat",
		  "INSERT INTO cl_replicas VALUES($1,$2,$3,$4,$5,$6,$7) ON CONFLICT (id) DO UPDATE SET"
		  " listen = excluded.listen, version = excluded.version, started_at = excluded.started_at,"
		  " last_seen_at = excluded.last_seen_at, inflight = excluded.inflight, state = excluded.state",
		  7, v, cause);
}

json_t *pg_cl_replicas(struct store *base, char **cause)
{
	PGresult *r = pgq(P(base), "replicas",
			"SELECT id, listen, version, started_at, last_seen_at, inflight, state FROM cl_replicas ORDER BY id",
			0, NULL, cause);
	if (!r)
		return NULL;
	json_t *a = json_array();
	for (int i = 0; i < PQntuples(r); i++)
		json_array_append_new(a, json_pack("{s:s,s:s,s:s,s:I,s:I,s:I,s:s}", "id", PQgetvalue(r, i, 0), "listen",
						   PQgetvalue(r, i, 1), "version", PQgetvalue(r, i, 2), "started_at",
						   (json_int_t)pgcell(r, i, 3), "last_seen_at", (json_int_t)pgcell(r, i, 4),
						   "inflight", (json_int_t)pgcell(r, i, 5), "state", PQgetvalue(r, i, 6)));
	PQclear(r);
	return a;
}

int64_t pg_cl_version(struct store *base, char **cause)
{
	PGresult *r = pgq(P(base), "version", "SELECT v FROM cl_version", 0, NULL, cause);
	int64_t v = r ? pgcell(r, 0, 0) : -1;
	PQclear(r);
	return v;
}

int pg_cl_spend(struct store *base, int64_t month,
		       void (*fn)(void *arg, const char *team, int64_t spent, int64_t lease), void *arg, char **cause)
{
	struct pgstore *s = P(base);
	char m[24];
	snprintf(m, sizeof m, "%lld", (long long)month);
	const char *v[] = { m, s->replica };
	PGresult *r = pgq(s, "spend",
			"SELECT t.id, coalesce(sp.spent_nusd, 0), coalesce(l.leased_nusd, 0) FROM teams t"
			" LEFT JOIN cl_spend sp ON sp.team = t.id AND sp.month = $1"
			" LEFT JOIN cl_leases l ON l.team = t.id AND l.month = $1 AND l.replica = $2",
			2, v, cause);
	if (!r)
		return -1;
	for (int i = 0; i < PQntuples(r); i++)
		fn(arg, PQgetvalue(r, i, 0), pgcell(r, i, 1), pgcell(r, i, 2));
	PQclear(r);
	return 0;
}

int pg_cl_batch_claim(struct store *base, const char *id, const char *from, int64_t month, char **cause)
{
	struct pgstore *s = P(base);
	char m[24];
	snprintf(m, sizeof m, "%lld", (long long)month);
	const char *v[] = { id, from, s->replica, m };
	if (pg_begin(base, cause) != 0)
		return -1;
	PGresult *r = pgq(s, "batch claim",
			"UPDATE batches SET replica = $3 WHERE id = $1 AND replica = $2 AND settled_at IS NULL"
			" RETURNING team, reserved_nusd", 3, v, cause);
	if (!r) {
		pg_rollback(base);
		return -1;
	}
	int taken = PQntuples(r) == 1;
	if (taken) {
		const char *lv[] = { PQgetvalue(r, 0, 0), from, m, PQgetvalue(r, 0, 1) };
		if (pgq0(s, "batch claim lease",
		       "UPDATE cl_leases SET leased_nusd = greatest(0, leased_nusd - $4::bigint)"
		       " WHERE team = $1 AND replica = $2 AND month = $3::bigint", 4, lv, cause) != 0) {
			PQclear(r);
			pg_rollback(base);
			return -1;
		}
	}
	PQclear(r);
	if (pg_commit(base, cause) != 0)
		return -1;
	return taken;
}

int pg_cl_batch_settling(struct store *base, const char *id, int64_t at, char **cause)
{
	struct pgstore *s = P(base);
	char a[24];
	snprintf(a, sizeof a, "%lld", (long long)at);
	const char *v[] = { id, s->replica, a };
	PGresult *r = pgq(s, "batch settling",
			"UPDATE batches SET settled_at = $3::bigint WHERE id = $1 AND replica = $2 AND settled_at IS NULL"
			" RETURNING id",
			3, v, cause);
	if (!r)
		return -1;
	int mine = PQntuples(r) == 1;
	PQclear(r);
	return mine;
}

int pg_cl_lease(struct store *base, const char *team, int64_t month, int64_t want, int64_t *held,
		       char **cause)
{
	struct pgstore *s = P(base);
	char m[24], w[24];
	snprintf(m, sizeof m, "%lld", (long long)month);
	snprintf(w, sizeof w, "%lld", (long long)(want < 0 ? 0 : want));
	if (!team) { /* every lease of this replica given back but its open batches' */
		const char *av[] = { s->replica, m };
		*held = 0;
		if (pg_begin(base, cause) != 0)
			return -1;
		/* the batches' locks first, as a takeover takes them: one taken
		 * over meanwhile is then seen as the other replica's, and one
		 * being taken over waits, then takes its reservation off the
		 * lease set here */
		if (pgq0(s, "leases: batches", "SELECT 1 FROM batches WHERE replica = $1 AND settled_at IS NULL FOR UPDATE", 1,
			 av, cause) != 0 ||
		    pgq0(s, "leases",
			 "UPDATE cl_leases l SET leased_nusd = CASE WHEN l.month = $2::bigint THEN"
			 " coalesce((SELECT sum(b.reserved_nusd) FROM batches b WHERE b.team = l.team AND b.replica = $1"
			 " AND b.settled_at IS NULL), 0) ELSE 0 END WHERE l.replica = $1",
			 2, av, cause) != 0) {
			pg_rollback(base);
			return -1;
		}
		return pg_commit(base, cause);
	}
	const char *v[] = { team, s->replica, m, w };
	/* under the team row's lock, so two replicas never both take the same
	 * room: spent + every lease <= budget (a lease never grows past it;
	 * shrinking always succeeds) */
	if (pg_begin(base, cause) != 0)
		return -1;
	/* the lock first, in a statement of its own: the next one's snapshot
	 * (READ COMMITTED: taken when it starts) then sees every lease a
	 * replica that held the lock before committed */
	const char *tv[] = { team };
	if (pgq0(s, "lease lock", "SELECT 1 FROM teams WHERE id = $1 FOR UPDATE", 1, tv, cause) != 0) {
		pg_rollback(base);
		return -1;
	}
	PGresult *r = pgq(s, "lease",
			"WITH b AS (SELECT budget_nusd FROM teams WHERE id = $1),"
			" sp AS (SELECT coalesce((SELECT spent_nusd FROM cl_spend WHERE team = $1 AND month = $3), 0) AS v),"
			" o AS (SELECT coalesce(sum(leased_nusd), 0) AS v FROM cl_leases WHERE team = $1 AND month = $3"
			"  AND replica <> $2),"
			" mine AS (SELECT coalesce((SELECT leased_nusd FROM cl_leases WHERE team = $1 AND month = $3"
			"  AND replica = $2), 0) AS v),"
			" g AS (SELECT CASE WHEN $4::bigint <= mine.v THEN $4::bigint"
			"  ELSE greatest(mine.v, least($4::bigint, b.budget_nusd - sp.v - o.v)) END AS v FROM b, sp, o, mine)"
			" INSERT INTO cl_leases SELECT $1, $2, $3, g.v FROM g ON CONFLICT (team, replica, month)"
			" DO UPDATE SET leased_nusd = excluded.leased_nusd RETURNING leased_nusd",
			4, v, cause);
	if (!r) {
		pg_rollback(base);
		return -1;
	}
	*held = PQntuples(r) ? pgcell(r, 0, 0) : 0;
	PQclear(r);
	return pg_commit(base, cause);
}

int pg_cl_fd(struct store *base)
{
	struct pgstore *s = P(base);
	return !s->broken && PQstatus(s->c) == CONNECTION_OK ? PQsocket(s->c) : -1;
}

int pg_cl_notified(struct store *base)
{
	struct pgstore *s = P(base);
	if (!s->broken && PQstatus(s->c) == CONNECTION_OK && !s->in_tx) {
		PQconsumeInput(s->c);
		pg_take_notifies(s);
	}
	int n = s->notified;
	s->notified = 0;
	return n;
}

