/* store_pg.h — what store_pg.c and store_pg_conn.c share (private to
 * them): the engine's state, its one way to ask PostgreSQL, its
 * transactions and the ledger's shipping. */
#ifndef GG_STORE_PG_H
#define GG_STORE_PG_H

#include "store.h"

#include <libpq-fe.h>

#define RESET_MS 500
#define RESET_MAX_MS 8000
#define LEDGER_PARAMS (LEDGER_COLS + 2) /* LEDGER_COLS, the replica, the month */
#define LEDGER_CHUNK 1000 /* rows per statement (PostgreSQL takes 65,535 parameters) */
#define QUERY_MS 2000 /* an answer takes at most this */

struct pgstore {
	struct store base; /* first: the engine's ops */
	PGconn *c;
	char *url, *replica;
	int in_tx;        /* store_begin called: a transaction is open ... */
	bool tx_sent;     /* ... and BEGIN sent (lazily, with its first statement) */
	/* ledger rows of the open transaction, LEDGER_PARAMS values each
	 * (allocated): sent in one statement at commit */
	char **lv;
	size_t nlv, caplv;
	char **blocks; /* each row's values, one allocation a row */
	size_t nblocks, capblocks;
	char *vals;    /* "($1,...,$19),($20,..." for LEDGER_CHUNK rows, made once */
	int64_t month_from, month_to; /* the month of the last row shipped */
	size_t *vals_end; /* where row i's group ends in vals */
	int64_t reset_at; /* mono ms of the last reset */
	int64_t reset_wait; /* until the next one may be tried */
	int notified;     /* notifications read and not yet taken */
	bool broken;      /* an answer did not come in time: connect again */
	bool conflicted;  /* the last statement failed as a deadlock or a serialization failure */
};
#define P(s) (struct pgstore *)(s)

/* ---- store_pg_conn.c ---- */
/* the connection, reset when it broke (not more often than RESET_MS) */
bool pg_live(struct pgstore *s);
/* -1 with *cause "store: PostgreSQL: what: the server's message" */
int pg_fail(struct pgstore *s, char **cause, const char *what, const PGresult *r);
/* sql with its n parameters v, answered within QUERY_MS: the result (the
 * caller's to PQclear), or NULL with *cause; pgq0 for a statement
 * without rows (0 or -1) */
PGresult *pgq(struct pgstore *s, const char *what, const char *sql, int n, const char *const *v, char **cause);
int pgq0(struct pgstore *s, const char *what, const char *sql, int n, const char *const *v, char **cause);
void pgrow(const PGresult *r, int i, const char **v, int n); /* row i's n columns (NULL for NULL) */
int64_t pgcell(const PGresult *r, int i, int c);               /* a number (0 for NULL) */
void pg_take_notifies(struct pgstore *s); /* notifications read: counted in notified */
/* a ledger row kept for the commit's one statement (or sent now, outside a
 * transaction) */
int pg_ledger_insert(struct pgstore *s, const char *replica, const struct ledger_row *x, char **cause);
/* the engine's transactions and close (store.h's) */
int pg_begin(struct store *base, char **cause);
int pg_commit(struct store *base, char **cause);
void pg_rollback(struct store *base);
void pg_close(struct store *base);

/* ---- store_pg_cluster.c: the cluster's tables (store.h's cl_* ops) ---- */
int pg_cl_heartbeat(struct store *base, const struct replica_info *me, char **cause);
json_t *pg_cl_replicas(struct store *base, char **cause);
int64_t pg_cl_version(struct store *base, char **cause);
int pg_cl_spend(struct store *base, int64_t month,
		void (*fn)(void *arg, const char *team, int64_t spent, int64_t lease), void *arg, char **cause);
int pg_cl_batch_claim(struct store *base, const char *id, const char *from, int64_t now, char **cause);
int pg_cl_batch_settling(struct store *base, const char *id, int64_t at, char **cause);
int pg_cl_windows(struct store *base, int64_t day, int64_t week, int64_t month,
		  void (*fn)(void *arg, const char *kind, const char *owner, int64_t start, int64_t spent, int64_t mine,
			     int64_t held),
		  void *arg, char **cause);
int pg_cl_lease(struct store *base, const char *team, struct cl_lease *l, int n, char **cause);
int pg_cl_give_back(struct store *base, int64_t now, char **cause);
int pg_cl_forget(struct store *base, int64_t now, char **cause);
int pg_cl_fd(struct store *base);
int pg_cl_notified(struct store *base);

#endif
