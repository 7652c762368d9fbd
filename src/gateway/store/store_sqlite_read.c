/* store_sqlite_read.c — store.h's queries on SQLite: the registry loaded
 * at start, the audit and alert lists, usage and showback, and the rows a
 * migration copies out. Writes, the schema and transactions are in
 * store_sqlite.c. */
#include "store_sqlite.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

json_t *sq_audit_list(struct store *base_, int limit, int64_t before_id, const char *team, const char *actor,
			 const char *action, char **cause)
{
	struct sqstore *s = (struct sqstore *)base_;
	sqlite3_stmt *st;
	/* a team's entries: those on the team, its keys (named {team}-...) and
	 * its tokens (target "team/tok_...") */
	if (sqlite3_prepare_v2(s->db,
			       "SELECT id,ts_ms,actor,role,operator,action,target,before,after FROM audit "
			       "WHERE id < ?1 AND (?3 IS NULL OR target = ?3 OR substr(target, 1, length(?3) + 1) = ?3 || '-'"
			       " OR CASE WHEN json_valid(coalesce(after, before)) THEN json_extract(coalesce(after, before), '$.team') END = ?3)"
			       " AND (?4 IS NULL OR actor = ?4) AND (?5 IS NULL OR substr(action, 1, length(?5)) = ?5)"
			       " ORDER BY id DESC LIMIT ?2",
			       -1, &st, NULL) != SQLITE_OK) {
		sq_fail(s, cause, "audit list");
		return NULL;
	}
	sqlite3_bind_int64(st, 1, before_id > 0 ? before_id : INT64_MAX);
	sqlite3_bind_int(st, 2, limit);
	sq_bind_text(st, 3, team);
	sq_bind_text(st, 4, actor);
	sq_bind_text(st, 5, action);
	json_t *a = json_array();
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *v[9];
		sq_col_row(st, v, 9);
		json_array_append_new(a, audit_entry_json(v));
	}
	sqlite3_finalize(st);
	return a;
}

/* the alerts, oldest first: the latest `limit`, or the one of only_id */
static json_t *alerts_query(struct sqstore *s, int limit, int64_t only_id, char **cause)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(s->db,
			       "SELECT id,ts_ms,kind,team,message,acked_by,acked_at FROM alerts WHERE ?2 = 0 OR id = ?2 "
			       "ORDER BY id DESC LIMIT ?1", -1, &st, NULL) != SQLITE_OK) {
		sq_fail(s, cause, "alerts list");
		return NULL;
	}
	sqlite3_bind_int(st, 1, limit);
	sqlite3_bind_int64(st, 2, only_id);
	json_t *a = json_array();
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *v[7];
		sq_col_row(st, v, 7);
		json_array_insert_new(a, 0, alert_entry_json(v));
	}
	sqlite3_finalize(st);
	return a;
}

json_t *sq_alerts_list(struct store *base_, int limit, char **cause)
{
	struct sqstore *s = (struct sqstore *)base_;
	return alerts_query(s, limit, 0, cause);
}

json_t *sq_alert_get(struct store *base_, int64_t id, char **cause)
{
	struct sqstore *s = (struct sqstore *)base_;
	*cause = NULL;
	json_t *a = alerts_query(s, 1, id, cause);
	json_t *e = json_incref(json_array_get(a, 0));
	json_decref(a);
	return e;
}

int sq_recent_sent(struct store *base_, int64_t from,
		      void (*fn)(void *arg, const char *key, const char *model, int64_t ts, int64_t in, int64_t out),
		      void *arg, char **cause)
{
	struct sqstore *s = (struct sqstore *)base_;
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(s->db,
			       "SELECT key, model, ts_ms, prompt_tokens, completion_tokens FROM ledger"
			       " WHERE team IN (SELECT id FROM teams) AND ts_ms >= ? AND key IS NOT NULL AND model IS NOT NULL"
			       " ORDER BY ts_ms",
			       -1, &st, NULL) != SQLITE_OK)
		return sq_fail(s, cause, "recent requests");
	sqlite3_bind_int64(st, 1, from);
	while (sqlite3_step(st) == SQLITE_ROW)
		fn(arg, (const char *)sqlite3_column_text(st, 0), (const char *)sqlite3_column_text(st, 1),
		   sqlite3_column_int64(st, 2), sqlite3_column_int64(st, 3), sqlite3_column_int64(st, 4));
	sqlite3_finalize(st);
	return 0;
}

static char *sq_ph(int i)
{
	return xasprintf("?%d", i);
}

int sq_spend(struct store *base_, int64_t from, int64_t to, unsigned groups,
		    void (*fn)(void *arg, const char *const *keys, const int64_t *sums), void *arg, char **cause)
{
	struct sqstore *s = (struct sqstore *)base_;
	char *sql = spend_sql(groups, "strftime('%Y-%m-%d', day * 86400, 'unixepoch')", sq_ph);
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
	free(sql);
	if (rc != SQLITE_OK)
		return sq_fail(s, cause, "spend");
	sqlite3_bind_int64(st, 1, from / 86400000);
	sqlite3_bind_int64(st, 2, to / 86400000);
	int ng = 0;
	for (int i = 0; i < SPEND_GROUPS; i++)
		ng += (groups >> i) & 1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *keys[SPEND_GROUPS];
		int64_t sums[SPEND_SUMS];
		for (int i = 0; i < ng; i++)
			keys[i] = (const char *)sqlite3_column_text(st, i);
		for (int i = 0; i < SPEND_SUMS; i++)
			sums[i] = sqlite3_column_int64(st, ng + i);
		fn(arg, keys, sums);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : sq_fail(s, cause, "spend");
}

json_t *sq_usage_breakdown(struct store *base_, const char *team, int64_t from, char **cause)
{
	struct sqstore *s = (struct sqstore *)base_;
	json_t *out = json_object();
	static const char *const by[] = USAGE_BY_COLUMNS, *const member[] = USAGE_BY_MEMBERS;
	for (int b = 0; b < USAGE_BY_N; b++) {
		char *sql = xasprintf("SELECT coalesce(%s, '-'), count(*), sum(status < 400), sum(prompt_tokens + completion_tokens),"
				      " sum(cost_nusd) FROM ledger WHERE (?1 IS NULL AND team IN (SELECT id FROM teams) OR team = ?1)"
				      " AND ts_ms >= ?2 GROUP BY 1 ORDER BY 5 DESC, 1",
				      by[b]);
		sqlite3_stmt *st;
		int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
		free(sql);
		if (rc != SQLITE_OK) {
			sq_fail(s, cause, "usage breakdown");
			json_decref(out);
			return NULL;
		}
		sq_bind_text(st, 1, team);
		sqlite3_bind_int64(st, 2, from);
		json_t *a = json_array();
		while (sqlite3_step(st) == SQLITE_ROW) {
			const char *v[5];
			sq_col_row(st, v, 5);
			json_array_append_new(a, usage_by_json(by[b], v));
		}
		sqlite3_finalize(st);
		json_object_set_new(out, member[b], a);
	}
	return out;
}

/* Usage per bucket, aggregated here while the rows are read in the index's
 * order: a GROUP BY over an expression of ts_ms would make SQLite sort every
 * row of the window first, in memory that grows with the ledger. This reads
 * each row once and holds only the buckets (store_rows.c). */
json_t *sq_usage(struct store *base_, const char *team, int64_t from, int64_t step, int n, char **cause)
{
	struct sqstore *s = (struct sqstore *)base_;
	sqlite3_stmt *st;
	const char *sql = team ? "SELECT ts_ms, status, reason, prompt_tokens + completion_tokens, cost_nusd"
				 " FROM ledger WHERE team = ?4 AND ts_ms >= ?1 AND ts_ms < ?3"
			       : "SELECT ts_ms, status, reason, prompt_tokens + completion_tokens, cost_nusd"
				 " FROM ledger WHERE team IN (SELECT id FROM teams) AND ts_ms >= ?1 AND ts_ms < ?3";
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
		sq_fail(s, cause, "usage");
		return NULL;
	}
	sqlite3_bind_int64(st, 1, from);
	sqlite3_bind_int64(st, 3, from + step * n);
	if (team)
		sqlite3_bind_text(st, 4, team, -1, SQLITE_STATIC);
	struct ubuckets *bk = ubuckets_new(from, step, n);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		ubuckets_add(bk, sqlite3_column_int64(st, 0), sqlite3_column_int(st, 1) < 400,
			     (const char *)sqlite3_column_text(st, 2), 1, sqlite3_column_int64(st, 3),
			     sqlite3_column_int64(st, 4));
	if (rc != SQLITE_DONE)
		sq_fail(s, cause, "usage");
	sqlite3_finalize(st);
	return ubuckets_json(bk, rc == SQLITE_DONE);
}

int sq_load(struct store *base_, struct registry *r, int64_t now, char **cause)
{
	struct sqstore *s = (struct sqstore *)base_;
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(s->db, "SELECT * FROM teams ORDER BY id", -1, &st, NULL) != SQLITE_OK)
		return sq_fail(s, cause, "load teams");
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *v[TEAM_COLS];
		sq_col_row(st, v, TEAM_COLS);
		registry_add_team(r, team_from_row(v));
	}
	sqlite3_finalize(st);

	if (sqlite3_prepare_v2(s->db, "SELECT alias, model FROM aliases ORDER BY alias", -1, &st, NULL) != SQLITE_OK)
		return sq_fail(s, cause, "load aliases");
	while (sqlite3_step(st) == SQLITE_ROW)
		registry_set_alias(r, (const char *)sqlite3_column_text(st, 0), (const char *)sqlite3_column_text(st, 1));
	sqlite3_finalize(st);

	if (sqlite3_prepare_v2(s->db, "SELECT * FROM keys ORDER BY name", -1, &st, NULL) != SQLITE_OK)
		return sq_fail(s, cause, "load keys");
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *v[KEY_COLS];
		sq_col_row(st, v, KEY_COLS);
		registry_add_key(r, ukey_from_row(v));
	}
	sqlite3_finalize(st);

	if (sqlite3_prepare_v2(s->db, "SELECT * FROM tokens ORDER BY created_at, id", -1, &st, NULL) != SQLITE_OK)
		return sq_fail(s, cause, "load tokens");
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *v[TOKEN_COLS];
		sq_col_row(st, v, TOKEN_COLS);
		registry_add_token(r, ctoken_from_row(v));
	}
	sqlite3_finalize(st);

	/* this month's spend */
	int64_t ms = month_start_ms(now);
	r->org_month_start = ms;
	if (sqlite3_prepare_v2(s->db,
			       "SELECT team, SUM(cost_nusd) FROM ledger WHERE team IN (SELECT id FROM teams) AND ts_ms >= ?"
			       " GROUP BY team", -1,
			       &st, NULL) != SQLITE_OK)
		return sq_fail(s, cause, "load spend");
	sqlite3_bind_int64(st, 1, ms);
	r->org_spend_nusd = 0;
	while (sqlite3_step(st) == SQLITE_ROW) {
		int64_t v = sqlite3_column_int64(st, 1);
		r->org_spend_nusd += v;
		const unsigned char *id = sqlite3_column_text(st, 0);
		struct team *t = id ? registry_team(r, (const char *)id) : NULL;
		if (t)
			t->spend_nusd = v;
	}
	sqlite3_finalize(st);
	for (int i = 0; i < r->nteams; i++)
		r->teams[i]->month_start = ms;
	/* this day's and this week's (UTC, from Monday) */
	int64_t ds = day_start_ms(now), ws = week_start_ms(now);
	if (sqlite3_prepare_v2(s->db,
			       "SELECT team, SUM(CASE WHEN ts_ms >= ?1 THEN cost_nusd ELSE 0 END), SUM(cost_nusd) FROM ledger"
			       " WHERE team IN (SELECT id FROM teams) AND ts_ms >= ?2 GROUP BY team",
			       -1, &st, NULL) != SQLITE_OK)
		return sq_fail(s, cause, "load the day's spend");
	sqlite3_bind_int64(st, 1, ds);
	sqlite3_bind_int64(st, 2, ws);
	while (sqlite3_step(st) == SQLITE_ROW) {
		const unsigned char *id = sqlite3_column_text(st, 0);
		struct team *t = id ? registry_team(r, (const char *)id) : NULL;
		if (t) {
			t->day_spend_nusd = sqlite3_column_int64(st, 1);
			t->week_spend_nusd = sqlite3_column_int64(st, 2);
		}
	}
	sqlite3_finalize(st);
	for (int i = 0; i < r->nteams; i++) {
		r->teams[i]->day_start = ds;
		r->teams[i]->week_start = ws;
	}
	/* each end user's this day */
	if (r->users) {
		if (sqlite3_prepare_v2(s->db,
				       "SELECT team, end_user, SUM(cost_nusd) FROM ledger WHERE team IN (SELECT id FROM teams)"
				       " AND ts_ms >= ?1 AND end_user IS NOT NULL GROUP BY team, end_user",
				       -1, &st, NULL) != SQLITE_OK)
			return sq_fail(s, cause, "load the end users' day");
		sqlite3_bind_int64(st, 1, ds);
		while (sqlite3_step(st) == SQLITE_ROW)
			enduser_seed(r->users, (const char *)sqlite3_column_text(st, 0),
				     (const char *)sqlite3_column_text(st, 1), sqlite3_column_int64(st, 2), now);
		sqlite3_finalize(st);
	}
	/* each upstream key's this month */
	if (sqlite3_prepare_v2(s->db,
			       "SELECT key, SUM(cost_nusd) FROM ledger WHERE team IN (SELECT id FROM teams) AND ts_ms >= ?"
			       " AND key IS NOT NULL GROUP BY key",
			       -1, &st, NULL) != SQLITE_OK)
		return sq_fail(s, cause, "load the keys' spend");
	sqlite3_bind_int64(st, 1, ms);
	while (sqlite3_step(st) == SQLITE_ROW) {
		const unsigned char *name = sqlite3_column_text(st, 0);
		struct ukey *k = name ? registry_key(r, (const char *)name) : NULL;
		if (k)
			k->spend_nusd = sqlite3_column_int64(st, 1);
	}
	sqlite3_finalize(st);
	for (int i = 0; i < r->nkeys; i++)
		r->keys[i]->month_start = ms;

	/* keys' requests per hour over the last day */
	if (sqlite3_prepare_v2(s->db,
			       "SELECT key, ts_ms / 3600000, COUNT(*) FROM ledger WHERE team IN (SELECT id FROM teams)"
			       " AND ts_ms >= ? AND key IS NOT NULL GROUP BY key, ts_ms / 3600000",
			       -1, &st, NULL) != SQLITE_OK)
		return sq_fail(s, cause, "load key counts");
	sqlite3_bind_int64(st, 1, now - 23 * 3600000LL - now % 3600000);
	while (sqlite3_step(st) == SQLITE_ROW) {
		struct ukey *k = registry_key(r, (const char *)sqlite3_column_text(st, 0));
		if (!k)
			continue;
		int64_t h = sqlite3_column_int64(st, 1);
		k->hourly[h % 24] = sqlite3_column_int64(st, 2);
		if (h > k->hour_base)
			k->hour_base = h;
	}
	sqlite3_finalize(st);

	/* batch files, and batches: an open one holds its reservation again */
	if (sqlite3_prepare_v2(s->db, "SELECT * FROM batch_files", -1, &st, NULL) != SQLITE_OK)
		return sq_fail(s, cause, "load files");
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *v[FILE_COLS];
		sq_col_row(st, v, FILE_COLS);
		registry_load_file(r, bfile_from_row(v));
	}
	sqlite3_finalize(st);
	if (sqlite3_prepare_v2(s->db, "SELECT * FROM batches", -1, &st, NULL) != SQLITE_OK)
		return sq_fail(s, cause, "load batches");
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *v[BATCH_COLS];
		sq_col_row(st, v, BATCH_COLS);
		registry_load_batch(r, batch_from_row(v));
	}
	sqlite3_finalize(st);
	return 0;
}

/* ---- migration: rows out ---------------------------------------------- */

/* the tables a migration reads, and their columns as store_rows.c names them */
static const char *select_of(const char *table)
{
	static const struct {
		const char *table, *sql;
	} t[] = {
		{ "ledger", "SELECT " LEDGER_COLUMNS " FROM ledger ORDER BY id" },
		{ "audit", "SELECT id,ts_ms,actor,role,operator,action,target,before,after FROM audit ORDER BY id" },
		{ "alerts", "SELECT id,ts_ms,kind,team,message,acked_by,acked_at FROM alerts ORDER BY id" },
	};
	for (size_t i = 0; i < ARRAY_LEN(t); i++)
		if (str_eq(t[i].table, table))
			return t[i].sql;
	return NULL;
}

static bool counted(const char *table)
{
	static const char *const ok[] = { "teams", "keys", "tokens", "ledger", "audit", "alerts" };
	for (size_t i = 0; i < ARRAY_LEN(ok); i++)
		if (str_eq(ok[i], table))
			return true;
	return false;
}

int64_t sq_count(struct store *base_, const char *table, char **cause)
{
	struct sqstore *s = (struct sqstore *)base_;
	if (!counted(table))
		return fail(cause, "store: no table %s to count", table);
	char sql[64];
	snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", table);
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
		return sq_fail(s, cause, table);
	int64_t n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
	sqlite3_finalize(st);
	return n;
}

int sq_copy_out(struct store *base_, const char *table, int (*fn)(void *arg, const char *const *v), void *arg,
		       char **cause)
{
	struct sqstore *s = (struct sqstore *)base_;
	const char *sql = select_of(table);
	if (!sql)
		return fail(cause, "store: no table %s to copy", table);
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
		return sq_fail(s, cause, table);
	int n = sqlite3_column_count(st), rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *v[LEDGER_COLS];
		sq_col_row(st, v, n);
		if (fn(arg, v) != 0) {
			sqlite3_finalize(st);
			return -1;
		}
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : sq_fail(s, cause, table);
}

