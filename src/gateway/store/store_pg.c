/* store_pg.c — store.h on PostgreSQL: cluster mode's system of record,
 * shared by every replica (docs/cluster.md).
 *
 * One connection, used synchronously from the event loop but never on a
 * request's path: admin writes, the ledger's batches (every APPLY_MS), the
 * cluster's heartbeat and version poll, budget leases. The same
 * connection LISTENs: a change to teams, keys, tokens, files or batches
 * fires a trigger that bumps cl_version and NOTIFYs "groqgate" in the
 * writing transaction, so every replica hears of it (cluster.c reads
 * the socket) and, should a notification be lost, sees the version move.
 *
 * Ledger rows are keyed by (replica, id): the replica's journal sequence.
 * A row shipped twice (a crash between the commit and the journal's
 * mark) is recognised and not counted twice. The same statement adds the
 * row's cost to the team's month in cl_spend and takes it off the
 * replica's lease in cl_leases: spent + leases never moves on shipping.
 *
 * A connection that broke is reset at the next call (at most every
 * RESET_MS; when a try is held for the connect timeout, 1 s, by a server
 * that accepts connections but does not answer, doubling up to
 * RESET_MAX_MS); calls fail at once meanwhile, naming
 * the cause. */
#include "store_pg.h"

#include <libpq-fe.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* A statement's ledger rows (FROM, with the ledger's columns) added to the
 * budget windows they fall in, under the replica that shipped them: each
 * team's UTC day and week (from Monday: 1970-01-01 was a Thursday, as
 * week_start_ms counts) and each upstream key's month (the row's). */
#define CL_WINDOWS_ADD(FROM)                                                                                        \
	"INSERT INTO cl_windows(kind, owner, start, replica, spent_nusd) SELECT w.kind, w.owner, w.start, r.replica,"\
	" sum(r.cost_nusd) FROM " FROM " r, LATERAL (VALUES ('day', r.team, r.ts_ms / 86400000 * 86400000),"       \
	" ('week', r.team, (r.ts_ms / 86400000 - (r.ts_ms / 86400000 + 3) % 7) * 86400000), ('key', r.key, r.month))"\
	" AS w(kind, owner, start) WHERE r.cost_nusd <> 0 AND w.owner IS NOT NULL AND w.start IS NOT NULL"          \
	" GROUP BY 1, 2, 3, 4 ON CONFLICT (kind, owner, start, replica) DO UPDATE SET spent_nusd ="                 \
	" cl_windows.spent_nusd + excluded.spent_nusd"

static const char *const schema =
	"CREATE TABLE IF NOT EXISTS teams("
	" id TEXT PRIMARY KEY, name TEXT NOT NULL, state TEXT NOT NULL,"
	" models TEXT NOT NULL, max_tokens BIGINT NOT NULL, rpm_limit BIGINT NOT NULL,"
	" rpm_mode TEXT NOT NULL, queue_wait_ms BIGINT NOT NULL, budget_nusd BIGINT NOT NULL,"
	" thresholds TEXT NOT NULL, auto_pause BIGINT NOT NULL, paused_by TEXT,"
	" paused_reason TEXT, paused_at BIGINT, version BIGINT NOT NULL, created_at BIGINT NOT NULL,"
	" override_until BIGINT NOT NULL DEFAULT 0);"
	"CREATE TABLE IF NOT EXISTS keys("
	" name TEXT PRIMARY KEY, team TEXT NOT NULL, secret TEXT NOT NULL, fp TEXT NOT NULL,"
	" created_at BIGINT NOT NULL, last_used_at BIGINT, rejected BIGINT NOT NULL DEFAULT 0,"
	" rot_step BIGINT NOT NULL DEFAULT 0, new_secret TEXT, new_fp TEXT, rot_by TEXT,"
	" rot_started_at BIGINT, rot_switched_at BIGINT, rot_updated_at BIGINT,"
	" old_since_switch BIGINT NOT NULL DEFAULT 0, old_last_used BIGINT, groq_project TEXT);"
	"CREATE TABLE IF NOT EXISTS tokens("
	" id TEXT PRIMARY KEY, team TEXT NOT NULL, key TEXT NOT NULL, label TEXT NOT NULL,"
	" hash TEXT NOT NULL UNIQUE, created_at BIGINT NOT NULL, revoked_at BIGINT, created_by TEXT);"
	"CREATE TABLE IF NOT EXISTS ledger("
	" replica TEXT NOT NULL, id BIGINT NOT NULL, ts_ms BIGINT NOT NULL, team TEXT, key TEXT, key_fp TEXT,"
	" model TEXT, status INT NOT NULL, reason TEXT, stream INT NOT NULL,"
	" prompt_tokens BIGINT NOT NULL, completion_tokens BIGINT NOT NULL,"
	" cost_nusd BIGINT NOT NULL, latency_ms BIGINT NOT NULL, route TEXT, unit TEXT,"
	" quantity BIGINT NOT NULL DEFAULT 0, request_id TEXT, PRIMARY KEY (replica, id));"
	"ALTER TABLE ledger ADD COLUMN IF NOT EXISTS month BIGINT;"
	"ALTER TABLE ledger ADD COLUMN IF NOT EXISTS end_user TEXT;"
	"ALTER TABLE ledger ADD COLUMN IF NOT EXISTS requested_model TEXT;"
	"ALTER TABLE ledger ADD COLUMN IF NOT EXISTS service_tier TEXT;"
	"ALTER TABLE ledger ADD COLUMN IF NOT EXISTS cached_tokens BIGINT NOT NULL DEFAULT 0;"
	"CREATE TABLE IF NOT EXISTS aliases(alias TEXT PRIMARY KEY, model TEXT NOT NULL, version BIGINT NOT NULL,"
	" updated_at BIGINT NOT NULL);"
	/* showback by day, kept by the statement that inserts ledger rows (its
	 * new rows only: a row shipped twice is skipped, and not counted) */
	"DO $$ BEGIN IF to_regclass('spend_daily') IS NULL THEN " SPEND_DAILY_TABLE " " SPEND_DAILY_ADD("ledger") "; END IF; END $$;"
	"CREATE OR REPLACE FUNCTION gg_spend_daily() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
	SPEND_DAILY_ADD("new_rows") "; RETURN NULL; END $$;"
	"DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'ledger_spend_daily') THEN"
	" CREATE TRIGGER ledger_spend_daily AFTER INSERT ON ledger REFERENCING NEW TABLE AS new_rows"
	" FOR EACH STATEMENT EXECUTE FUNCTION gg_spend_daily(); END IF; END $$;"
	"CREATE INDEX IF NOT EXISTS ledger_team_ts ON ledger(team, ts_ms);"
	"CREATE TABLE IF NOT EXISTS audit("
	" id BIGSERIAL PRIMARY KEY, ts_ms BIGINT NOT NULL, actor TEXT NOT NULL, role TEXT NOT NULL,"
	" operator TEXT, action TEXT NOT NULL, target TEXT NOT NULL, before TEXT, after TEXT);"
	"CREATE TABLE IF NOT EXISTS alerts("
	" id BIGSERIAL PRIMARY KEY, ts_ms BIGINT NOT NULL, kind TEXT NOT NULL, team TEXT,"
	" message TEXT NOT NULL, acked_by TEXT, acked_at BIGINT);"
	"CREATE TABLE IF NOT EXISTS batch_files(id TEXT PRIMARY KEY, team TEXT NOT NULL, key TEXT,"
	" worst_nusd BIGINT NOT NULL, lines BIGINT NOT NULL, created_at BIGINT NOT NULL,"
	" deleted BIGINT NOT NULL DEFAULT 0);"
	"CREATE TABLE IF NOT EXISTS batches(id TEXT PRIMARY KEY, team TEXT NOT NULL, key TEXT NOT NULL,"
	" input TEXT NOT NULL, status TEXT NOT NULL, reserved_nusd BIGINT NOT NULL,"
	" cost_nusd BIGINT NOT NULL DEFAULT 0, created_at BIGINT NOT NULL, settled_at BIGINT, replica TEXT);"
	"ALTER TABLE batches ADD COLUMN IF NOT EXISTS replica TEXT;"
	"ALTER TABLE teams ADD COLUMN IF NOT EXISTS policy TEXT;"
	"ALTER TABLE keys ADD COLUMN IF NOT EXISTS version BIGINT NOT NULL DEFAULT 0;"
	"ALTER TABLE keys ADD COLUMN IF NOT EXISTS policy TEXT;"
	"ALTER TABLE batch_files ADD COLUMN IF NOT EXISTS line_index TEXT;"
	/* the cluster: configuration version, replicas, spend and leases */
	"CREATE TABLE IF NOT EXISTS cl_version(id INT PRIMARY KEY CHECK (id = 1), v BIGINT NOT NULL);"
	"INSERT INTO cl_version VALUES (1, 1) ON CONFLICT DO NOTHING;"
	"CREATE TABLE IF NOT EXISTS cl_replicas(id TEXT PRIMARY KEY, listen TEXT, version TEXT,"
	" started_at BIGINT NOT NULL, last_seen_at BIGINT NOT NULL, inflight BIGINT NOT NULL DEFAULT 0,"
	" state TEXT NOT NULL);"
	"CREATE TABLE IF NOT EXISTS cl_spend(team TEXT NOT NULL, month BIGINT NOT NULL,"
	" spent_nusd BIGINT NOT NULL, PRIMARY KEY (team, month));"
	"CREATE TABLE IF NOT EXISTS cl_leases(team TEXT NOT NULL, replica TEXT NOT NULL, month BIGINT NOT NULL,"
	" leased_nusd BIGINT NOT NULL, PRIMARY KEY (team, replica, month));"
	"CREATE OR REPLACE FUNCTION cl_bump() RETURNS trigger LANGUAGE plpgsql AS $$"
	" BEGIN UPDATE cl_version SET v = v + 1; PERFORM pg_notify('groqgate', TG_TABLE_NAME); RETURN NULL; END $$;"
	"CREATE OR REPLACE FUNCTION gg_json_team(t TEXT) RETURNS TEXT LANGUAGE plpgsql IMMUTABLE AS $$"
	" BEGIN RETURN t::jsonb ->> 'team'; EXCEPTION WHEN others THEN RETURN NULL; END $$;"
	"DO $$ DECLARE t TEXT; BEGIN FOREACH t IN ARRAY ARRAY['teams','keys','tokens','batch_files','batches','aliases'] LOOP"
	" IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = t || '_bump') THEN"
	" EXECUTE format('CREATE TRIGGER %I AFTER INSERT OR UPDATE OR DELETE ON %I"
	" FOR EACH STATEMENT EXECUTE FUNCTION cl_bump()', t || '_bump', t); END IF; END LOOP; END $$;"
	/* a team's day and week and a key's month, leased like the month
	 * (docs/cluster.md): per window and replica, what it shipped there
	 * (kept by the statement that ships its rows, so the lease, granted
	 * minus spent, shrinks as the spend grows) and what it was granted.
	 * Made once, filled from the ledger of the last 32 days, the trigger
	 * first: it waits for the rows being shipped, and holds back the next
	 * until this commits, so that each row is counted once. */
	"CREATE OR REPLACE FUNCTION gg_cl_windows() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
	CL_WINDOWS_ADD("new_rows") "; RETURN NULL; END $$;"
	"DO $$ BEGIN IF to_regclass('cl_windows') IS NULL THEN"
	" CREATE TABLE cl_windows(kind TEXT NOT NULL, owner TEXT NOT NULL, start BIGINT NOT NULL, replica TEXT NOT NULL,"
	" granted_nusd BIGINT NOT NULL DEFAULT 0, spent_nusd BIGINT NOT NULL DEFAULT 0,"
	" PRIMARY KEY (kind, owner, start, replica));"
	" CREATE TRIGGER ledger_cl_windows AFTER INSERT ON ledger REFERENCING NEW TABLE AS new_rows"
	" FOR EACH STATEMENT EXECUTE FUNCTION gg_cl_windows(); "
	CL_WINDOWS_ADD("(SELECT * FROM ledger WHERE ts_ms >= (extract(epoch FROM now()) * 1000)::bigint - 32 * 86400000::bigint)")
	"; END IF; END $$;"
	/* the windows read every second by their kind and start */
	"CREATE INDEX IF NOT EXISTS cl_windows_kind_start ON cl_windows(kind, start);";











static int pg_schema_version(struct store *base)
{
	PGresult *r = pgq(P(base), "schema", "SELECT count(*) FROM pg_tables WHERE tablename = 'cl_leases'", 0, NULL, NULL);
	int v = r && pgcell(r, 0, 0) ? 1 : 0;
	PQclear(r);
	return v;
}

static void pg_nothing(struct store *base, int n)
{
	(void)base, (void)n;
}

static int pg_done(struct store *base, char **cause)
{
	(void)base, (void)cause;
	return 0;
}

static int pg_probe(struct store *base, int64_t now, char **cause)
{
	(void)now;
	return pgq0(P(base), "probe", "SELECT 1", 0, NULL, cause);
}






/* an upsert of a whole row keyed by its first column; with guard (a
 * condition on the stored row and excluded), a row whose guard fails is
 * left as it is and the write is STORE_CONFLICT */
static int upsert_if(struct pgstore *s, const char *table, const char *const *cols, struct rowv *r,
		     const char *guard, char **cause)
{
	buf sql;
	buf_init(&sql);
	buf_addf(&sql, "INSERT INTO %s VALUES(", table);
	for (int i = 0; i < r->n; i++)
		buf_addf(&sql, "%s$%d", i ? "," : "", i + 1);
	buf_addf(&sql, ") ON CONFLICT (%s) DO UPDATE SET ", cols[0]);
	for (int i = 1; i < r->n; i++)
		buf_addf(&sql, "%s%s = excluded.%s", i > 1 ? "," : "", cols[i], cols[i]);
	if (guard)
		buf_addf(&sql, " WHERE %s", guard);
	char *text = buf_detach(&sql);
	PGresult *res = pgq(s, table, text, r->n, r->v, cause);
	int rc = res ? 0 : s->conflicted ? STORE_CONFLICT : -1;
	if (res && guard && strcmp(PQcmdTuples(res), "0") == 0) {
		*cause = xasprintf("'%s' in %s was changed meanwhile by another gateway replica", r->v[0], table);
		rc = STORE_CONFLICT;
	}
	PQclear(res);
	free(text);
	rowv_free(r);
	return rc;
}

static int upsert(struct pgstore *s, const char *table, const char *const *cols, struct rowv *r, char **cause)
{
	return upsert_if(s, table, cols, r, NULL, cause);
}

static const char *const team_cols[] = { "id", "name", "state", "models", "max_tokens", "rpm_limit", "rpm_mode",
					 "queue_wait_ms", "budget_nusd", "thresholds", "auto_pause", "paused_by",
					 "paused_reason", "paused_at", "version", "created_at", "override_until",
					 "policy" };
static const char *const key_cols[] = { "name", "team", "secret", "fp", "created_at", "last_used_at",
					"rejected", "rot_step", "new_secret", "new_fp", "rot_by", "rot_started_at",
					"rot_switched_at", "rot_updated_at", "old_since_switch", "old_last_used",
					"groq_project", "version", "policy" };
static const char *const token_cols[] = { "id", "team", "key", "label", "hash", "created_at", "revoked_at", "created_by" };
static const char *const file_cols[] = { "id", "team", "key", "worst_nusd", "lines", "created_at", "deleted", "line_index" };
static const char *const batch_cols[] = { "id", "team", "key", "input", "status", "reserved_nusd", "cost_nusd",
					  "created_at", "settled_at", "replica" };

static int pg_put_team(struct store *base, const struct team *t, char **cause)
{
	struct rowv r = { 0 };
	team_row(t, &r);
	/* every change makes the next version: a replica that wrote from an
	 * older copy than the stored one would undo another's change (a pause) */
	return upsert_if(P(base), "teams", team_cols, &r, "teams.version < excluded.version", cause);
}

static int pg_put_key(struct store *base, const struct ukey *k, char **cause)
{
	struct rowv r = { 0 };
	ukey_row(k, &r);
	return upsert_if(P(base), "keys", key_cols, &r, "keys.version < excluded.version", cause);
}

static int pg_put_file(struct store *base, const struct bfile *f, char **cause)
{
	struct rowv r = { 0 };
	bfile_row(f, &r);
	return upsert(P(base), "batch_files", file_cols, &r, cause);
}

/* a batch is followed by the replica that made it: its name is kept */
static int pg_put_batch(struct store *base, const struct batch *b, char **cause)
{
	struct pgstore *s = P(base);
	struct rowv r = { 0 };
	batch_row(b, &r);
	r.v[r.n++] = s->replica;
	return upsert(s, "batches", batch_cols, &r, cause);
}

static int pg_put_token(struct store *base, const struct ctoken *t, char **cause)
{
	struct rowv r = { 0 };
	ctoken_row(t, &r);
	return upsert(P(base), "tokens", token_cols, &r, cause);
}

static int pg_put_alias(struct store *base, const char *alias, const char *model, int64_t at, char **cause)
{
	char a[24];
	snprintf(a, sizeof a, "%lld", (long long)at);
	const char *v[] = { alias, model, a };
	if (!model)
		return pgq0(P(base), "aliases", "DELETE FROM aliases WHERE alias = $1", 1, v, cause);
	return pgq0(P(base), "aliases",
		  "INSERT INTO aliases(alias, model, version, updated_at) VALUES($1, $2, 1, $3)"
		  " ON CONFLICT (alias) DO UPDATE SET model = $2, version = aliases.version + 1, updated_at = $3",
		  3, v, cause);
}


static int pg_ledger(struct store *base, const struct ledger_row *x, char **cause)
{
	struct pgstore *s = P(base);
	return pg_ledger_insert(s, s->replica, x, cause);
}




static int64_t pg_ledger_last_id(struct store *base, char **cause)
{
	struct pgstore *s = P(base);
	const char *v[] = { s->replica };
	PGresult *r = pgq(s, "ledger last id", "SELECT coalesce(max(id), 0) FROM ledger WHERE replica = $1", 1, v, cause);
	int64_t id = r ? pgcell(r, 0, 0) : -1;
	PQclear(r);
	return id;
}

static int pg_audit(struct store *base, int64_t ts, const char *actor, const char *role, const char *op,
		    const char *action, const char *target, const char *before, const char *after, char **cause)
{
	char t[24];
	snprintf(t, sizeof t, "%lld", (long long)ts);
	const char *v[] = { t, actor, role, op, action, target, before, after };
	return pgq0(P(base), "audit insert",
		  "INSERT INTO audit(ts_ms,actor,role,operator,action,target,before,after) VALUES($1,$2,$3,$4,$5,$6,$7,$8)",
		  8, v, cause);
}

static int pg_alert(struct store *base, int64_t ts, const char *kind, const char *team, const char *message,
		    int64_t *id, char **cause)
{
	char t[24];
	snprintf(t, sizeof t, "%lld", (long long)ts);
	const char *v[] = { t, kind, team, message };
	PGresult *r = pgq(P(base), "alert insert",
			"INSERT INTO alerts(ts_ms,kind,team,message) VALUES($1,$2,$3,$4) RETURNING id", 4, v, cause);
	if (!r)
		return -1;
	if (id)
		*id = pgcell(r, 0, 0);
	PQclear(r);
	return 0;
}

static int pg_alert_ack(struct store *base, int64_t id, const char *by, int64_t at, char **cause)
{
	char a[24], i[24];
	snprintf(a, sizeof a, "%lld", (long long)at);
	snprintf(i, sizeof i, "%lld", (long long)id);
	const char *v[] = { by, a, i };
	return pgq0(P(base), "alert ack", "UPDATE alerts SET acked_by = $1, acked_at = $2 WHERE id = $3 AND acked_by IS NULL",
		  3, v, cause);
}

static json_t *pg_audit_list(struct store *base, int limit, int64_t before_id, const char *team, const char *actor,
			     const char *action, char **cause)
{
	char b[24], l[24];
	snprintf(b, sizeof b, "%lld", (long long)(before_id > 0 ? before_id : INT64_MAX));
	snprintf(l, sizeof l, "%d", limit);
	const char *v[] = { b, l, team, actor, action };
	PGresult *r = pgq(P(base), "audit list",
			"SELECT id,ts_ms,actor,role,operator,action,target,before,after FROM audit WHERE id < $1"
			" AND ($3::text IS NULL OR target = $3 OR left(target, length($3) + 1) = $3 || '-'"
			" OR gg_json_team(coalesce(after, before)) = $3)"
			" AND ($4::text IS NULL OR actor = $4) AND ($5::text IS NULL OR left(action, length($5)) = $5)"
			" ORDER BY id DESC LIMIT $2",
			5, v, cause);
	if (!r)
		return NULL;
	json_t *a = json_array();
	for (int i = 0; i < PQntuples(r); i++) {
		const char *c[9];
		pgrow(r, i, c, 9);
		json_array_append_new(a, audit_entry_json(c));
	}
	PQclear(r);
	return a;
}

static json_t *alerts_query(struct pgstore *s, int limit, int64_t only_id, char **cause)
{
	char l[24], o[24];
	snprintf(l, sizeof l, "%d", limit);
	snprintf(o, sizeof o, "%lld", (long long)only_id);
	const char *v[] = { l, o };
	PGresult *r = pgq(s, "alerts list",
			"SELECT id,ts_ms,kind,team,message,acked_by,acked_at FROM alerts WHERE $2::bigint = 0 OR id = $2"
			" ORDER BY id DESC LIMIT $1",
			2, v, cause);
	if (!r)
		return NULL;
	json_t *a = json_array();
	for (int i = 0; i < PQntuples(r); i++) {
		const char *c[7];
		pgrow(r, i, c, 7);
		json_array_insert_new(a, 0, alert_entry_json(c));
	}
	PQclear(r);
	return a;
}

static json_t *pg_alerts_list(struct store *base, int limit, char **cause)
{
	return alerts_query(P(base), limit, 0, cause);
}

static json_t *pg_alert_get(struct store *base, int64_t id, char **cause)
{
	*cause = NULL;
	json_t *a = alerts_query(P(base), 1, id, cause);
	json_t *e = json_incref(json_array_get(a, 0));
	json_decref(a);
	return e;
}

static int pg_recent_sent(struct store *base, int64_t from,
			  void (*fn)(void *arg, const char *key, const char *model, int64_t ts, int64_t in, int64_t out),
			  void *arg, char **cause)
{
	char f[24];
	snprintf(f, sizeof f, "%lld", (long long)from);
	const char *v[] = { f };
	PGresult *r = pgq(P(base), "recent requests",
			"SELECT key, model, ts_ms, prompt_tokens, completion_tokens FROM ledger"
			" WHERE team IN (SELECT id FROM teams) AND ts_ms >= $1 AND key IS NOT NULL AND model IS NOT NULL"
			" ORDER BY ts_ms",
			1, v, cause);
	if (!r)
		return -1;
	for (int i = 0; i < PQntuples(r); i++)
		fn(arg, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), pgcell(r, i, 2), pgcell(r, i, 3), pgcell(r, i, 4));
	PQclear(r);
	return 0;
}

static char *pg_ph(int i)
{
	return xasprintf("$%d", i);
}

static int pg_spend(struct store *base, int64_t from, int64_t to, unsigned groups,
		    void (*fn)(void *arg, const char *const *keys, const int64_t *sums), void *arg, char **cause)
{
	struct pgstore *s = P(base);
	char *sql = spend_sql(groups, "to_char(to_timestamp(day * 86400) AT TIME ZONE 'UTC', 'YYYY-MM-DD')", pg_ph);
	char f[24], t[24];
	snprintf(f, sizeof f, "%lld", (long long)(from / 86400000));
	snprintf(t, sizeof t, "%lld", (long long)(to / 86400000));
	const char *v[] = { f, t };
	PGresult *r = pgq(s, "spend", sql, 2, v, cause);
	free(sql);
	if (!r)
		return -1;
	int ng = 0;
	for (int i = 0; i < SPEND_GROUPS; i++)
		ng += (groups >> i) & 1;
	for (int i = 0; i < PQntuples(r); i++) {
		const char *keys[SPEND_GROUPS];
		int64_t sums[SPEND_SUMS];
		for (int k = 0; k < ng; k++)
			keys[k] = PQgetisnull(r, i, k) ? NULL : PQgetvalue(r, i, k);
		for (int k = 0; k < SPEND_SUMS; k++)
			sums[k] = pgcell(r, i, ng + k);
		fn(arg, keys, sums);
	}
	PQclear(r);
	return 0;
}

static json_t *pg_usage_breakdown(struct store *base, const char *team, int64_t from, char **cause)
{
	char f[24];
	snprintf(f, sizeof f, "%lld", (long long)from);
	const char *v[] = { team, f };
	json_t *out = json_object();
	static const char *const by[] = USAGE_BY_COLUMNS, *const member[] = USAGE_BY_MEMBERS;
	for (int b = 0; b < USAGE_BY_N; b++) {
		char *sql = xasprintf("SELECT coalesce(%s, '-'), count(*), sum((status < 400)::int), sum(prompt_tokens + completion_tokens),"
				      " sum(cost_nusd) FROM ledger WHERE ($1::text IS NULL AND team IN (SELECT id FROM teams) OR team = $1)"
				      " AND ts_ms >= $2 GROUP BY 1 ORDER BY 5 DESC, 1",
				      by[b]);
		PGresult *r = pgq(P(base), "usage breakdown", sql, 2, v, cause);
		free(sql);
		if (!r) {
			json_decref(out);
			return NULL;
		}
		json_t *a = json_array();
		for (int i = 0; i < PQntuples(r); i++) {
			const char *c[5];
			pgrow(r, i, c, 5);
			json_array_append_new(a, usage_by_json(by[b], c));
		}
		PQclear(r);
		json_object_set_new(out, member[b], a);
	}
	return out;
}

static json_t *pg_usage(struct store *base, const char *team, int64_t from, int64_t step, int n, char **cause)
{
	char f[24], st[24], to[24];
	snprintf(f, sizeof f, "%lld", (long long)from);
	snprintf(st, sizeof st, "%lld", (long long)step);
	snprintf(to, sizeof to, "%lld", (long long)(from + step * n));
	const char *v[] = { f, st, to, team };
	/* grouped here (PostgreSQL sorts well): one row per bucket, outcome
	 * and reason */
	PGresult *r = pgq(P(base), "usage",
			"SELECT $1::bigint + ((ts_ms - $1::bigint) / $2::bigint) * $2::bigint, status < 400, reason, count(*),"
			" sum(prompt_tokens + completion_tokens), sum(cost_nusd) FROM ledger"
			" WHERE ts_ms >= $1 AND ts_ms < $3 AND ($4::text IS NULL AND team IN (SELECT id FROM teams) OR team = $4)"
			" GROUP BY 1, 2, 3",
			4, v, cause);
	struct ubuckets *bk = ubuckets_new(from, step, n);
	for (int i = 0; r && i < PQntuples(r); i++)
		ubuckets_add(bk, pgcell(r, i, 0), str_eq(PQgetvalue(r, i, 1), "t"),
			     PQgetisnull(r, i, 2) ? NULL : PQgetvalue(r, i, 2), pgcell(r, i, 3), pgcell(r, i, 4), pgcell(r, i, 5));
	json_t *out = ubuckets_json(bk, r != NULL);
	PQclear(r);
	return out;
}

/* whole: also this month's spend and the keys' hourly counts (at start);
 * else what an operator changes (another replica's change, read again) */
static int load_figures(struct pgstore *s, struct registry *reg, int64_t now, char **cause);
static int load_batches(struct pgstore *s, struct registry *reg, char **cause);

static int load(struct pgstore *s, struct registry *reg, int64_t now, bool whole, char **cause)
{
	PGresult *r;
	if (!(r = pgq(s, "load teams", "SELECT * FROM teams ORDER BY id", 0, NULL, cause)))
		return -1;
	for (int i = 0; i < PQntuples(r); i++) {
		const char *v[TEAM_COLS];
		pgrow(r, i, v, TEAM_COLS);
		registry_add_team(reg, team_from_row(v));
	}
	PQclear(r);
	if (!(r = pgq(s, "load aliases", "SELECT alias, model FROM aliases ORDER BY alias", 0, NULL, cause)))
		return -1;
	for (int i = 0; i < PQntuples(r); i++)
		registry_set_alias(reg, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1));
	PQclear(r);
	if (!(r = pgq(s, "load keys", "SELECT * FROM keys ORDER BY name", 0, NULL, cause)))
		return -1;
	for (int i = 0; i < PQntuples(r); i++) {
		const char *v[KEY_COLS];
		pgrow(r, i, v, KEY_COLS);
		registry_add_key(reg, ukey_from_row(v));
	}
	PQclear(r);
	if (!(r = pgq(s, "load tokens", "SELECT * FROM tokens ORDER BY created_at, id", 0, NULL, cause)))
		return -1;
	for (int i = 0; i < PQntuples(r); i++) {
		const char *v[TOKEN_COLS];
		pgrow(r, i, v, TOKEN_COLS);
		registry_add_token(reg, ctoken_from_row(v));
	}
	PQclear(r);

	if (whole && load_figures(s, reg, now, cause) != 0)
		return -1;
	return load_batches(s, reg, cause);
}

static void window_loaded(void *arg, const char *kind, const char *owner, int64_t start, int64_t spent,
			  int64_t mine, int64_t held)
{
	fleet_window_read(arg, kind, owner, start, spent, mine, held);
}

/* this month's, day's and week's spend (the fleet's, from cl_spend and
 * cl_windows) and the keys' requests per hour over the last day */
static int load_figures(struct pgstore *s, struct registry *reg, int64_t now, char **cause)
{
	PGresult *r;
	int64_t ms = month_start_ms(now);
	char m[24];
	snprintf(m, sizeof m, "%lld", (long long)ms);
	const char *mv[] = { m };
	reg->org_month_start = ms;
	reg->org_spend_nusd = 0;
	if (!(r = pgq(s, "load spend", "SELECT team, spent_nusd FROM cl_spend WHERE month = $1", 1, mv, cause)))
		return -1;
	for (int i = 0; i < PQntuples(r); i++) {
		int64_t v = pgcell(r, i, 1);
		struct team *t = registry_team(reg, PQgetvalue(r, i, 0));
		if (t) {
			t->spend_nusd = v;
			reg->org_spend_nusd += v;
		}
	}
	PQclear(r);
	for (int i = 0; i < reg->nteams; i++)
		reg->teams[i]->month_start = ms;
	/* each team's day and week and each key's month, the fleet's, and
	 * what this replica shipped in them (its journal was shipped first) */
	int64_t ds = day_start_ms(now), ws = week_start_ms(now);
	for (int i = 0; i < reg->nteams; i++) {
		reg->teams[i]->day_start = ds;
		reg->teams[i]->week_start = ws;
	}
	for (int i = 0; i < reg->nkeys; i++)
		reg->keys[i]->month_start = ms;
	if (pg_cl_windows(&s->base, ds, ws, ms, window_loaded, reg, cause) != 0)
		return -1;
	/* each end user's this day: what this replica settled (it holds a
	 * share of the user's budget, against its own spend) */
	if (reg->users) {
		char d[24];
		snprintf(d, sizeof d, "%lld", (long long)ds);
		const char *dv[] = { d, s->replica };
		if (!(r = pgq(s, "load the end users' day",
			    "SELECT team, end_user, SUM(cost_nusd) FROM ledger WHERE team IN (SELECT id FROM teams)"
			    " AND ts_ms >= $1 AND replica = $2 AND end_user IS NOT NULL GROUP BY team, end_user",
			    2, dv, cause)))
			return -1;
		for (int i = 0; i < PQntuples(r); i++)
			enduser_seed(reg->users, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), pgcell(r, i, 2), now);
		PQclear(r);
	}

	char from[24];
	snprintf(from, sizeof from, "%lld", (long long)(now - 23 * 3600000LL - now % 3600000));
	const char *fv[] = { from };
	if (!(r = pgq(s, "load key counts",
		    "SELECT key, ts_ms / 3600000, count(*) FROM ledger WHERE ts_ms >= $1 AND key IS NOT NULL"
		    " GROUP BY 1, 2",
		    1, fv, cause)))
		return -1;
	for (int i = 0; i < PQntuples(r); i++) {
		struct ukey *k = registry_key(reg, PQgetvalue(r, i, 0));
		if (!k)
			continue;
		int64_t h = pgcell(r, i, 1);
		k->hourly[h % 24] = pgcell(r, i, 2);
		if (h > k->hour_base)
			k->hour_base = h;
	}
	PQclear(r);
	return 0;
}

static int load_batches(struct pgstore *s, struct registry *reg, char **cause)
{
	PGresult *r;
	if (!(r = pgq(s, "load files", "SELECT * FROM batch_files", 0, NULL, cause)))
		return -1;
	for (int i = 0; i < PQntuples(r); i++) {
		const char *v[FILE_COLS];
		pgrow(r, i, v, FILE_COLS);
		registry_load_file(reg, bfile_from_row(v));
	}
	PQclear(r);
	const char *me[] = { s->replica };
	if (!(r = pgq(s, "load batches",
		    "SELECT id, team, key, input, status, reserved_nusd, cost_nusd, created_at, settled_at,"
		    " coalesce(replica = $1, false), replica FROM batches",
		    1, me, cause)))
		return -1;
	for (int i = 0; i < PQntuples(r); i++) {
		const char *v[BATCH_COLS];
		pgrow(r, i, v, BATCH_COLS);
		struct batch *b = batch_from_row(v);
		if (str_eq(PQgetvalue(r, i, BATCH_COLS), "t")) { /* this replica's: its reservation held again */
			registry_load_batch(reg, b);
		} else {
			b->foreign = true;
			if (!PQgetisnull(r, i, BATCH_COLS + 1))
				b->owner = xstrdup(PQgetvalue(r, i, BATCH_COLS + 1));
			batch_free(strmap_del(reg->batches, b->id));
			strmap_put(reg->batches, b->id, b);
		}
	}
	PQclear(r);
	return 0;
}

static int pg_load(struct store *base, struct registry *reg, int64_t now, char **cause)
{
	return load(P(base), reg, now, true, cause);
}

static int pg_cl_reload(struct store *base, struct registry *reg, int64_t now, char **cause)
{
	return load(P(base), reg, now, false, cause);
}

static int pg_try_begin(struct store *base, char **cause)
{
	return pg_begin(base, cause);
}

/* ---- migration: rows in ------------------------------------------------ */

static int64_t pg_count(struct store *base, const char *table, char **cause)
{
	static const char *const ok[] = { "teams", "keys", "tokens", "ledger", "audit", "alerts" };
	bool known = false;
	for (size_t i = 0; i < ARRAY_LEN(ok); i++)
		known = known || str_eq(ok[i], table);
	if (!known)
		return fail(cause, "store: no table %s to count", table);
	char sql[64];
	snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", table);
	PGresult *r = pgq(P(base), table, sql, 0, NULL, cause);
	int64_t n = r ? pgcell(r, 0, 0) : -1;
	PQclear(r);
	return n;
}

#define MIGRATED "migrated" /* the replica the ledger of a single node is filed under */

static int pg_copy_in(struct store *base, const char *table, const char *const *v, char **cause)
{
	struct pgstore *s = P(base);
	if (str_eq(table, "ledger")) {
		struct ledger_row x;
		ledger_row_from(v, &x);
		return pg_ledger_insert(s, MIGRATED, &x, cause);
	}
	if (str_eq(table, "audit"))
		return pgq0(s, "audit copy",
			  "INSERT INTO audit(id,ts_ms,actor,role,operator,action,target,before,after)"
			  " VALUES($1,$2,$3,$4,$5,$6,$7,$8,$9) ON CONFLICT (id) DO NOTHING",
			  AUDIT_COLS, v, cause);
	if (str_eq(table, "alerts"))
		return pgq0(s, "alerts copy",
			  "INSERT INTO alerts(id,ts_ms,kind,team,message,acked_by,acked_at) VALUES($1,$2,$3,$4,$5,$6,$7)"
			  " ON CONFLICT (id) DO NOTHING",
			  ALERT_COLS, v, cause);
	return fail(cause, "store: no table %s to copy into", table);
}

static int pg_copy_done(struct store *base, char **cause)
{
	return pgq0(P(base), "sequences",
		  "SELECT setval('audit_id_seq', greatest(1, (SELECT coalesce(max(id), 1) FROM audit))),"
		  " setval('alerts_id_seq', greatest(1, (SELECT coalesce(max(id), 1) FROM alerts)))",
		  0, NULL, cause);
}

static const struct store_ops pg_ops = {
	.kind = "postgresql",
	.close = pg_close,
	.schema_version = pg_schema_version,
	.set_wal_limit = pg_nothing,
	.probe = pg_probe,
	.begin = pg_begin,
	.try_begin = pg_try_begin,
	.commit = pg_commit,
	.rollback = pg_rollback,
	.load = pg_load,
	.put_team = pg_put_team,
	.put_key = pg_put_key,
	.put_file = pg_put_file,
	.put_batch = pg_put_batch,
	.put_token = pg_put_token,
	.put_alias = pg_put_alias,
	.ledger = pg_ledger,
	.ledger_last_id = pg_ledger_last_id,
	.scrub = pg_done,
	.sync_fd = pg_nothing,
	.audit = pg_audit,
	.alert = pg_alert,
	.alert_get = pg_alert_get,
	.alert_ack = pg_alert_ack,
	.audit_list = pg_audit_list,
	.recent_sent = pg_recent_sent,
	.usage_breakdown = pg_usage_breakdown,
	.spend = pg_spend,
	.alerts_list = pg_alerts_list,
	.usage = pg_usage,
	.cl_heartbeat = pg_cl_heartbeat,
	.cl_replicas = pg_cl_replicas,
	.cl_version = pg_cl_version,
	.cl_reload = pg_cl_reload,
	.cl_spend = pg_cl_spend,
	.cl_windows = pg_cl_windows,
	.cl_lease = pg_cl_lease,
	.cl_give_back = pg_cl_give_back,
	.cl_forget = pg_cl_forget,
	.cl_batch_claim = pg_cl_batch_claim,
	.cl_batch_settling = pg_cl_batch_settling,
	.cl_fd = pg_cl_fd,
	.cl_notified = pg_cl_notified,
	.count = pg_count,
	.copy_in = pg_copy_in,
	.copy_done = pg_copy_done,
};

struct store *store_open_pg(const char *url, const char *replica, char **cause)
{
	struct pgstore *s = xcalloc(1, sizeof *s);
	s->base.ops = &pg_ops;
	s->url = xstrdup(url);
	s->replica = xstrdup(replica);
	const char *const kw[] = { "dbname", "connect_timeout", "application_name", NULL };
	const char *const val[] = { url, "1", "groqgated", NULL };
	s->c = PQconnectdbParams(kw, val, 1);
	if (PQstatus(s->c) != CONNECTION_OK) {
		pg_fail(s, cause, "connect", NULL);
		pg_close(&s->base);
		return NULL;
	}
	PQclear(PQexec(s->c, "SET client_min_messages = warning"));
	/* replicas starting together migrate one at a time */
	PGresult *r = PQexec(s->c, "SELECT pg_advisory_lock(727274)");
	PQclear(r);
	r = PQexec(s->c, schema);
	bool ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
	if (!ok)
		pg_fail(s, cause, "schema", r);
	PQclear(r);
	PQclear(PQexec(s->c, "SELECT pg_advisory_unlock(727274)"));
	if (!ok || pgq0(s, "listen", "LISTEN groqgate", 0, NULL, cause) != 0) {
		pg_close(&s->base);
		return NULL;
	}
	return &s->base;
}
