/* store_pg_cluster.c — the cluster's own tables on PostgreSQL: heartbeats
 * and the replicas' list, the configuration's version, the fleet's spend,
 * budget leases (the month's in cl_spend and cl_leases; a team's day and
 * week and a key's month in cl_windows) and batches taken over (store.h's
 * cl_* ops). The engine's other ops are in store_pg.c; its connection in
 * store_pg_conn.c. */
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

/* a team's day and week now and the next ones ($D, $D + 1 day, $W,
 * $W + 1 week): the windows a batch's reservation is leased in */
#define CL_BATCH_WINDOWS(D, W)                                                                                  \
	"((kind = 'day' AND start IN (" D "::bigint, " D "::bigint + 86400000)) OR (kind = 'week' AND start IN (" W \
	"::bigint, " W "::bigint + 7 * 86400000::bigint)))"

int pg_cl_batch_claim(struct store *base, const char *id, const char *from, int64_t now, char **cause)
{
	struct pgstore *s = P(base);
	char m[24], d[24], w[24];
	snprintf(m, sizeof m, "%lld", (long long)month_start_ms(now));
	snprintf(d, sizeof d, "%lld", (long long)day_start_ms(now));
	snprintf(w, sizeof w, "%lld", (long long)week_start_ms(now));
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
		const char *wv[] = { PQgetvalue(r, 0, 0), from, d, w, PQgetvalue(r, 0, 1), s->replica };
		if (pgq0(s, "batch claim lease",
		       "UPDATE cl_leases SET leased_nusd = greatest(0, leased_nusd - $4::bigint)"
		       " WHERE team = $1 AND replica = $2 AND month = $3::bigint", 4, lv, cause) != 0 ||
		    /* the day's and week's moved to this replica (as far as from's
		     * lease covered them), in this transaction: no other replica
		     * can take that room between the two */
		    pgq0(s, "batch claim window leases",
			 "WITH o AS (SELECT kind, owner, start, least($5::bigint, greatest(0, granted_nusd - spent_nusd)) AS v"
			 " FROM cl_windows WHERE owner = $1 AND replica = $2 AND " CL_BATCH_WINDOWS("$3", "$4") " FOR UPDATE),"
			 " u AS (UPDATE cl_windows w SET granted_nusd = w.granted_nusd - o.v FROM o WHERE w.kind = o.kind"
			 " AND w.owner = o.owner AND w.start = o.start AND w.replica = $2)"
			 " INSERT INTO cl_windows(kind, owner, start, replica, granted_nusd) SELECT kind, owner, start, $6, v"
			 " FROM o WHERE v > 0 ON CONFLICT (kind, owner, start, replica) DO UPDATE SET granted_nusd ="
			 " cl_windows.granted_nusd + excluded.granted_nusd",
			 6, wv, cause) != 0) {
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

int pg_cl_windows(struct store *base, int64_t day, int64_t week, int64_t month,
		  void (*fn)(void *arg, const char *kind, const char *owner, int64_t start, int64_t spent, int64_t mine,
			     int64_t held),
		  void *arg, char **cause)
{
	struct pgstore *s = P(base);
	char d[24], w[24], m[24];
	snprintf(d, sizeof d, "%lld", (long long)day);
	snprintf(w, sizeof w, "%lld", (long long)week);
	snprintf(m, sizeof m, "%lld", (long long)month);
	const char *v[] = { d, w, m, s->replica };
	PGresult *r = pgq(s, "budget windows",
			"SELECT kind, owner, start, sum(spent_nusd), coalesce(sum(spent_nusd) FILTER (WHERE replica = $4), 0),"
			" coalesce(sum(granted_nusd) FILTER (WHERE replica = $4), 0) FROM cl_windows"
			" WHERE (kind = 'day' AND start = $1) OR (kind = 'week' AND start = $2) OR (kind = 'key' AND start = $3)"
			" GROUP BY kind, owner, start",
			4, v, cause);
	if (!r)
		return -1;
	for (int i = 0; i < PQntuples(r); i++)
		fn(arg, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), pgcell(r, i, 2), pgcell(r, i, 3), pgcell(r, i, 4),
		   pgcell(r, i, 5));
	PQclear(r);
	return 0;
}

/* the team's month lease set (its row locked): as much of want as its
 * budget has room for beyond the fleet's spend and the other replicas'
 * leases (never less than held, unless want is less) */
static int lease_month(struct pgstore *s, const char *team, struct cl_lease *l, char **cause)
{
	char m[24], w[24];
	snprintf(m, sizeof m, "%lld", (long long)l->start);
	snprintf(w, sizeof w, "%lld", (long long)(l->want < 0 ? 0 : l->want));
	const char *v[] = { team, s->replica, m, w };
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
	if (!r)
		return -1;
	l->held = PQntuples(r) ? pgcell(r, 0, 0) : 0;
	PQclear(r);
	return 0;
}

/* The windows' leases set (the team's row locked), in one statement: as
 * much of each want as the budget (the team's day_budget_nusd or
 * week_budget_nusd, the key's budget_nusd) has room for beyond what the
 * other replicas hold in the window (their lease or their spend, the
 * larger: a replica that crashed keeps its lease counted), never less
 * than it shipped there. A grant the room no longer has (the budget was
 * lowered) shrinks to it. A lease the room cannot grow to its need is not
 * grown at all: a replica that cannot admit the request holds no part of
 * the rest, which another replica could use. */
static int lease_windows(struct pgstore *s, struct cl_lease **w, int n, char **cause)
{
	buf sql;
	buf_init(&sql);
	buf_adds(&sql, "WITH a(kind, owner, start, want, need) AS (VALUES ");
	char **num = xcalloc((size_t)n * 3, sizeof *num);
	const char **v = xcalloc((size_t)n * 5 + 1, sizeof *v);
	v[0] = s->replica;
	for (int i = 0; i < n; i++) {
		int64_t want = w[i]->want < 0 ? 0 : w[i]->want, need = w[i]->need < 0 ? 0 : w[i]->need;
		num[3 * i] = xasprintf("%lld", (long long)w[i]->start);
		num[3 * i + 1] = xasprintf("%lld", (long long)want);
		num[3 * i + 2] = xasprintf("%lld", (long long)(need < want ? need : want));
		v[1 + 5 * i] = w[i]->kind;
		v[2 + 5 * i] = w[i]->owner;
		v[3 + 5 * i] = num[3 * i];
		v[4 + 5 * i] = num[3 * i + 1];
		v[5 + 5 * i] = num[3 * i + 2];
		buf_addf(&sql, "%s($%d::text, $%d::text, $%d::bigint, $%d::bigint, $%d::bigint)", i ? ", " : "", 2 + 5 * i,
			 3 + 5 * i, 4 + 5 * i, 5 + 5 * i, 6 + 5 * i);
	}
	buf_adds(&sql,
		 "), b AS (SELECT a.*, CASE a.kind WHEN 'key' THEN (SELECT (k.policy::jsonb ->> 'budget_nusd')::bigint"
		 "  FROM keys k WHERE k.name = a.owner) ELSE (SELECT (t.policy::jsonb ->> (a.kind || '_budget_nusd'))::bigint"
		 "  FROM teams t WHERE t.id = a.owner) END AS budget FROM a),"
		 " r AS (SELECT b.*, b.budget - (SELECT coalesce(sum(greatest(o.granted_nusd, o.spent_nusd)), 0)"
		 "  FROM cl_windows o WHERE o.kind = b.kind AND o.owner = b.owner AND o.start = b.start"
		 "  AND o.replica <> $1) AS room FROM b),"
		 " g AS (SELECT r.kind, r.owner, r.start, CASE WHEN coalesce(r.budget, 0) <= 0 THEN r.want"
		 "  ELSE greatest(coalesce(m.spent_nusd, 0), CASE WHEN r.room >= r.need THEN least(r.want, r.room)"
		 "  ELSE least(coalesce(m.granted_nusd, 0), r.room) END) END AS v FROM r"
		 "  LEFT JOIN cl_windows m ON m.kind = r.kind AND m.owner = r.owner AND m.start = r.start AND m.replica = $1)"
		 " INSERT INTO cl_windows(kind, owner, start, replica, granted_nusd)"
		 " SELECT kind, owner, start, $1, greatest(v, 0) FROM g ON CONFLICT (kind, owner, start, replica)"
		 " DO UPDATE SET granted_nusd = excluded.granted_nusd RETURNING kind, owner, start, granted_nusd");
	char *text = buf_detach(&sql);
	PGresult *r = pgq(s, "window leases", text, 1 + 5 * n, v, cause);
	free(text);
	for (int i = 0; i < 3 * n; i++)
		free(num[i]);
	free(num);
	free(v);
	if (!r)
		return -1;
	for (int i = 0; i < PQntuples(r); i++)
		for (int j = 0; j < n; j++)
			if (str_eq(w[j]->kind, PQgetvalue(r, i, 0)) && str_eq(w[j]->owner, PQgetvalue(r, i, 1)) &&
			    w[j]->start == pgcell(r, i, 2))
				w[j]->held = pgcell(r, i, 3);
	PQclear(r);
	return 0;
}

/* the leases l[0..n) set, the team's row locked (rolled back on error) */
static int lease_locked(struct pgstore *s, const char *team, struct cl_lease *l, int n, char **cause)
{
	/* the lock first, in a statement of its own: the next one's snapshot
	 * (READ COMMITTED: taken when it starts) then sees every lease a
	 * replica that held the lock before committed */
	const char *tv[] = { team };
	if (pgq0(s, "lease lock", "SELECT 1 FROM teams WHERE id = $1 FOR UPDATE", 1, tv, cause) != 0)
		return -1;
	struct cl_lease **w = xcalloc((size_t)n, sizeof *w);
	int nw = 0, rc = 0;
	for (int i = 0; i < n && rc == 0; i++) {
		l[i].held = 0;
		if (str_eq(l[i].kind, "month"))
			rc = lease_month(s, team, &l[i], cause);
		else
			w[nw++] = &l[i];
	}
	if (rc == 0 && nw)
		rc = lease_windows(s, w, nw, cause);
	free(w);
	return rc;
}

int pg_cl_lease(struct store *base, const char *team, struct cl_lease *l, int n, char **cause)
{
	/* under the team row's lock, so two replicas never both take the same
	 * room: spent + every lease <= budget (a lease never grows past it;
	 * shrinking always succeeds) */
	if (n <= 0)
		return 0;
	if (pg_begin(base, cause) != 0)
		return -1;
	if (lease_locked(P(base), team, l, n, cause) != 0) {
		pg_rollback(base);
		return -1;
	}
	return pg_commit(base, cause);
}

int pg_cl_give_back(struct store *base, int64_t now, char **cause)
{
	struct pgstore *s = P(base);
	char m[24], d[24], w[24];
	snprintf(m, sizeof m, "%lld", (long long)month_start_ms(now));
	snprintf(d, sizeof d, "%lld", (long long)day_start_ms(now));
	snprintf(w, sizeof w, "%lld", (long long)week_start_ms(now));
	const char *v[] = { s->replica, m, d, w };
	if (pg_begin(base, cause) != 0)
		return -1;
	/* the batches' locks first, as a takeover takes them: one taken over
	 * meanwhile is then seen as the other replica's, and one being taken
	 * over waits, then takes its reservation off the lease set here */
	if (pgq0(s, "leases: batches", "SELECT 1 FROM batches WHERE replica = $1 AND settled_at IS NULL FOR UPDATE", 1, v,
		 cause) != 0 ||
	    pgq0(s, "leases",
		 "UPDATE cl_leases l SET leased_nusd = CASE WHEN l.month = $2::bigint THEN"
		 " coalesce((SELECT sum(b.reserved_nusd) FROM batches b WHERE b.team = l.team AND b.replica = $1"
		 " AND b.settled_at IS NULL), 0) ELSE 0 END WHERE l.replica = $1",
		 2, v, cause) != 0 ||
	    /* a team's day and week (now's and the next) keep the open
	     * batches' reservations, as the month does: their bills may land
	     * in either, and a restart must not hand their room to another */
	    pgq0(s, "window leases",
		 "UPDATE cl_windows SET granted_nusd = spent_nusd + CASE WHEN " CL_BATCH_WINDOWS("$2", "$3") " THEN"
		 " coalesce((SELECT sum(b.reserved_nusd) FROM batches b WHERE b.team = cl_windows.owner"
		 " AND b.replica = $1 AND b.settled_at IS NULL), 0) ELSE 0 END WHERE replica = $1",
		 3, (const char *[]){ s->replica, d, w }, cause) != 0 ||
	    /* every window that began a week before this month did is over
	     * (rows another replica holds now are left for another time) */
	    pgq0(s, "old windows",
		 "DELETE FROM cl_windows WHERE ctid IN (SELECT ctid FROM cl_windows"
		 " WHERE start < $1::bigint - 7 * 86400000::bigint FOR UPDATE SKIP LOCKED)",
		 1, v + 1, cause) != 0) {
		pg_rollback(base);
		return -1;
	}
	return pg_commit(base, cause);
}

int pg_cl_forget(struct store *base, int64_t now, char **cause)
{
	char w[24], m[24];
	snprintf(w, sizeof w, "%lld", (long long)week_start_ms(now));
	snprintf(m, sizeof m, "%lld", (long long)month_start_ms(now));
	const char *v[] = { w, m };
	return pgq0(P(base), "windows over",
		    "DELETE FROM cl_windows WHERE ctid IN (SELECT ctid FROM cl_windows WHERE (kind IN ('day', 'week')"
		    " AND start < $1::bigint) OR (kind = 'key' AND start < $2::bigint) FOR UPDATE SKIP LOCKED)",
		    2, v, cause);
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

