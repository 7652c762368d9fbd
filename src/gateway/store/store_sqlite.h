/* store_sqlite.h — what store_sqlite.c (the connection, the schema,
 * transactions and writes) and store_sqlite_read.c (the queries: loading
 * the registry, lists, usage, showback, migration's rows out) share: the
 * first calls the second, never the other way. Private to the store room. */
#ifndef GG_STORE_SQLITE_H
#define GG_STORE_SQLITE_H

#include <pthread.h>
#include <sqlite3.h>

#include "store.h"
#include "util.h"

struct busy {
	int limit_us; /* 0: never wait */
	int64_t since_us;
};

struct sqstore {
	struct store base; /* first: the engine's ops */
	sqlite3 *db;
	sqlite3_stmt *ins_ledger;
	sqlite3_stmt *ins_daily; /* one day's sums into spend_daily */
	sqlite3_stmt *begin, *commit; /* (parsed once: 6,000 instructions each) */
	struct daysum *days;     /* the open transaction's rows, by day and keys */
	int ndays, capdays;
	int in_tx;
	/* the checkpointer: a thread with its own connection that moves the WAL
	 * into the database and fsyncs it every SYNC_MS, off the event loop */
	pthread_t ckpt;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool ckpt_running, stop;
	bool scrub;    /* an erased secret's pages wait in the WAL: TRUNCATE next */
	int wal_limit; /* frames; beyond them the checkpointer restarts the WAL */
	int sync_fd;   /* synced with the WAL (the ledger journal), or -1 */
	struct busy busy; /* how long the loop's connection waits for a lock */
	char *path;
};

/* a failure of the connection's last call, as "store: WHAT: sqlite's
 * message" in *cause; returns -1 */
static inline int sq_fail(struct sqstore *s, char **cause, const char *what)
{
	return fail(cause, "store: %s: %s", what, sqlite3_errmsg(s->db));
}

static inline void sq_bind_text(sqlite3_stmt *st, int i, const char *v) /* NULL binds NULL */
{
	if (v)
		sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, i);
}

static inline void sq_col_row(sqlite3_stmt *st, const char **v, int n) /* a row's columns as text (NULL stays NULL) */
{
	for (int i = 0; i < n; i++)
		v[i] = (const char *)sqlite3_column_text(st, i);
}

/* the engine's queries (store.h's ops), in store_sqlite_read.c */
int sq_load(struct store *s, struct registry *r, int64_t now, char **cause);
json_t *sq_alert_get(struct store *s, int64_t id, char **cause);
json_t *sq_audit_list(struct store *s, int limit, int64_t before_id, const char *team, const char *actor, const char *action, char **cause);
int sq_recent_sent(struct store *s, int64_t from, void (*fn)(void *arg, const char *key, const char *model, int64_t ts, int64_t in, int64_t out), void *arg, char **cause);
json_t *sq_usage_breakdown(struct store *s, const char *team, int64_t from, char **cause);
int sq_spend(struct store *s, int64_t from, int64_t to, unsigned groups,
		    void (*fn)(void *arg, const char *const *keys, const int64_t *sums), void *arg, char **cause);
json_t *sq_alerts_list(struct store *s, int limit, char **cause);
json_t *sq_usage(struct store *s, const char *team, int64_t from, int64_t step, int n, char **cause);
int64_t sq_count(struct store *s, const char *table, char **cause);
int sq_copy_out(struct store *s, const char *table, int (*fn)(void *arg, const char *const *v), void *arg,
		       char **cause);

#endif
