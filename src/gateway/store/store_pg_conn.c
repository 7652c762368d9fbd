/* store_pg_conn.c — the PostgreSQL engine's connection (reset when it
 * breaks, every answer within QUERY_MS), its transactions (BEGIN sent with
 * the first statement) and the ledger's shipping: a transaction's rows
 * in one statement per LEDGER_CHUNK, each row once (see store_pg.c). */
#include "store_pg.h"

#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static void drop_rows(struct pgstore *s);
static int flush_rows(struct pgstore *s, char **cause);

int pg_fail(struct pgstore *s, char **cause, const char *what, const PGresult *r)
{
	const char *m = r ? PQresultErrorMessage(r) : "";
	if (!m || !*m)
		m = s->broken ? "no answer within 2 s (store_pg QUERY_MS); connecting again" : PQerrorMessage(s->c);
	char *msg = xstrdup(m && *m ? m : "no answer");
	size_t n = strlen(msg);
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
		msg[--n] = '\0';
	fail(cause, "store: PostgreSQL: %s: %s", what, msg);
	free(msg);
	return -1;
}

/* the connection, reset when it broke (not more often than RESET_MS) */
bool pg_live(struct pgstore *s)
{
	if (!s->broken && PQstatus(s->c) == CONNECTION_OK)
		return true;
	if (s->broken) { /* the server ends it with the connection */
		s->in_tx = 0;
		s->tx_sent = false;
	}
	int64_t now = mono_us() / 1000;
	if (s->reset_wait < RESET_MS)
		s->reset_wait = RESET_MS;
	if (s->in_tx || now - s->reset_at < s->reset_wait)
		return false;
	s->reset_at = now;
	PQreset(s->c);
	if (PQstatus(s->c) != CONNECTION_OK) {
		/* refused at once (a server restarting): try again soon; held
		 * for the connect timeout (a server that does not answer): less
		 * and less often */
		bool held = mono_us() / 1000 - now > 200;
		s->reset_wait = !held ? RESET_MS : s->reset_wait * 2 > RESET_MAX_MS ? RESET_MAX_MS : s->reset_wait * 2;
		return false;
	}
	s->reset_wait = RESET_MS;
	s->broken = false;
	PQclear(PQexec(s->c, "LISTEN groqgate"));
	s->notified++; /* what was missed while apart: read again */
	return true;
}

/* collects notifications that arrived with an answer */
void pg_take_notifies(struct pgstore *s)
{
	PGnotify *n;
	while ((n = PQnotifies(s->c))) {
		s->notified++;
		PQfreemem(n);
	}
}

/* A statement sent and its answer awaited for at most QUERY_MS: a server
 * that stopped answering (a partition, a stopped process) must not hold
 * the event loop. Past it the connection is dropped (and reset by the
 * next call); NULL then, the reason in the connection's message. */
static PGresult *exec_bounded(struct pgstore *s, const char *sql, int n, const char *const *v)
{
	if (!PQsendQueryParams(s->c, sql, n, NULL, v, NULL, NULL, 0))
		return NULL;
	int64_t deadline = mono_us() / 1000 + QUERY_MS;
	PGresult *keep = NULL, *r;
	for (;;) {
		while (PQisBusy(s->c)) {
			int64_t left = deadline - mono_us() / 1000;
			struct pollfd pfd = { PQsocket(s->c), POLLIN, 0 };
			if (left <= 0 || poll(&pfd, 1, (int)left) == 0) {
				PQclear(keep);
				s->broken = true; /* the next call connects again */
				return NULL;
			}
			if (!PQconsumeInput(s->c)) {
				PQclear(keep);
				return NULL;
			}
		}
		if (!(r = PQgetResult(s->c)))
			break;
		/* the first error, else the last result */
		if (keep && PQresultStatus(keep) == PGRES_FATAL_ERROR) {
			PQclear(r);
			continue;
		}
		PQclear(keep);
		keep = r;
	}
	return keep;
}

/* one statement with text parameters; the result (caller PQclears) or
 * NULL with *cause */
PGresult *pgq(struct pgstore *s, const char *what, const char *sql, int n, const char *const *v, char **cause)
{
	if (!pg_live(s)) {
		pg_fail(s, cause, what, NULL);
		return NULL;
	}
	if (s->in_tx && !s->tx_sent) { /* the transaction begins with its first statement */
		PGresult *b = exec_bounded(s, "BEGIN", 0, NULL);
		bool ok = b && PQresultStatus(b) == PGRES_COMMAND_OK;
		PQclear(b);
		if (!ok) {
			pg_fail(s, cause, "begin", NULL);
			return NULL;
		}
		s->tx_sent = true;
	}
	PGresult *r = exec_bounded(s, sql, n, v);
	if (!r) {
		pg_fail(s, cause, what, NULL);
		return NULL;
	}
	pg_take_notifies(s);
	ExecStatusType st = PQresultStatus(r);
	s->conflicted = false;
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		/* two writers crossing (a deadlock, a serialization failure):
		 * a conflict to read again and retry, not an outage */
		const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
		s->conflicted = state && (strcmp(state, "40P01") == 0 || strcmp(state, "40001") == 0);
		pg_fail(s, cause, what, r);
		PQclear(r);
		return NULL;
	}
	return r;
}

int pgq0(struct pgstore *s, const char *what, const char *sql, int n, const char *const *v, char **cause)
{
	PGresult *r = pgq(s, what, sql, n, v, cause);
	PQclear(r);
	return r ? 0 : -1;
}

/* row i's columns (NULL for NULL) into v */
void pgrow(const PGresult *r, int i, const char **v, int n)
{
	for (int c = 0; c < n; c++)
		v[c] = PQgetisnull(r, i, c) ? NULL : PQgetvalue(r, i, c);
}

int64_t pgcell(const PGresult *r, int i, int c)
{
	return PQgetisnull(r, i, c) ? 0 : strtoll(PQgetvalue(r, i, c), NULL, 10);
}

void pg_close(struct store *base)
{
	struct pgstore *s = P(base);
	drop_rows(s);
	free(s->lv);
	free(s->blocks);
	free(s->vals);
	free(s->vals_end);
	PQfinish(s->c);
	free(s->url);
	free(s->replica);
	free(s);
}

/* BEGIN is sent with the transaction's first statement (q), so a
 * transaction of ledger rows only is one statement, committed by itself */
int pg_begin(struct store *base, char **cause)
{
	struct pgstore *s = P(base);
	if (!pg_live(s))
		return pg_fail(s, cause, "begin", NULL);
	s->in_tx = 1;
	s->tx_sent = false;
	return 0;
}

static void drop_rows(struct pgstore *s)
{
	for (size_t i = 0; i < s->nblocks; i++)
		free(s->blocks[i]);
	s->nblocks = 0;
	s->nlv = 0;
}

void pg_rollback(struct store *base)
{
	struct pgstore *s = P(base);
	drop_rows(s);
	if (s->tx_sent && !s->broken && PQstatus(s->c) == CONNECTION_OK)
		PQclear(exec_bounded(s, "ROLLBACK", 0, NULL));
	s->in_tx = 0;
	s->tx_sent = false;
}

int pg_commit(struct store *base, char **cause)
{
	struct pgstore *s = P(base);
	/* ledger rows only, in one statement: it commits by itself */
	if (!s->tx_sent && s->nlv <= LEDGER_CHUNK * LEDGER_PARAMS) {
		s->in_tx = 0;
		int rc = flush_rows(s, cause);
		drop_rows(s);
		return rc;
	}
	if (flush_rows(s, cause) != 0 || (s->tx_sent && pgq0(s, "commit", "COMMIT", 0, NULL, cause) != 0)) {
		pg_rollback(base);
		return -1;
	}
	drop_rows(s);
	s->in_tx = 0;
	s->tx_sent = false;
	return 0;
}

/* A ledger row: kept for the statement at commit (in a transaction), or
 * sent at once */
int pg_ledger_insert(struct pgstore *s, const char *replica, const struct ledger_row *x, char **cause)
{
	struct rowv r = { 0 };
	ledger_row_cols(x, &r);
	char month[24];
	if (x->ts_ms < s->month_from || x->ts_ms >= s->month_to) { /* the month, once a month */
		s->month_from = month_start_ms(x->ts_ms);
		s->month_to = month_start_ms(s->month_from + 32LL * 86400000);
	}
	i64_text(month, s->month_from);
	r.v[LEDGER_COLS] = replica;
	r.v[LEDGER_COLS + 1] = month;
	if (s->nlv + LEDGER_PARAMS > s->caplv) {
		s->caplv = s->caplv ? s->caplv * 2 : 64 * LEDGER_PARAMS;
		s->lv = xrealloc(s->lv, s->caplv * sizeof *s->lv);
	}
	/* the row's values in one allocation (blocks) */
	size_t len[LEDGER_PARAMS], total = 0;
	for (int i = 0; i < LEDGER_PARAMS; i++)
		total += (len[i] = r.v[i] ? strlen(r.v[i]) + 1 : 0);
	char *block = xmalloc(total + 1), *at = block;
	for (int i = 0; i < LEDGER_PARAMS; i++) {
		s->lv[s->nlv++] = r.v[i] ? memcpy(at, r.v[i], len[i]) : NULL;
		at += len[i];
	}
	if (s->nblocks == s->capblocks) {
		s->capblocks = s->capblocks ? s->capblocks * 2 : 64;
		s->blocks = xrealloc(s->blocks, s->capblocks * sizeof *s->blocks);
	}
	s->blocks[s->nblocks++] = block;
	rowv_free(&r);
	if (s->in_tx)
		return 0;
	int rc = flush_rows(s, cause);
	drop_rows(s);
	return rc;
}

/* "($1,...,$19),($20,...,$38),..." for LEDGER_CHUNK rows, written once:
 * a statement of n rows takes its first vals_end[n - 1] bytes */
static const char *placeholders(struct pgstore *s)
{
	if (s->vals)
		return s->vals;
	buf b;
	buf_init(&b);
	s->vals_end = xcalloc(LEDGER_CHUNK, sizeof *s->vals_end);
	for (size_t i = 0; i < LEDGER_CHUNK; i++) {
		buf_adds(&b, i ? ",(" : "(");
		for (size_t k = 0; k < LEDGER_PARAMS; k++) {
			buf_adds(&b, k ? ",$" : "$");
			buf_addi(&b, (int64_t)(i * LEDGER_PARAMS + k + 1));
		}
		buf_adds(&b, ")");
		s->vals_end[i] = b.len;
	}
	s->vals = buf_detach(&b);
	return s->vals;
}

/* The kept rows, LEDGER_CHUNK per statement: each row once (a row shipped
 * before is skipped), the cost of those inserted added to their team's
 * month and taken off the replica's lease, in the same statement. */
static int flush_rows(struct pgstore *s, char **cause)
{
	size_t rows = s->nlv / LEDGER_PARAMS;
	for (size_t at = 0; at < rows; at += LEDGER_CHUNK) {
		size_t n = rows - at < LEDGER_CHUNK ? rows - at : LEDGER_CHUNK;
		buf sql;
		buf_init(&sql);
		buf_adds(&sql, "WITH ins AS (INSERT INTO ledger(" LEDGER_COLUMNS ",replica,month) VALUES ");
		const char *vals = placeholders(s); /* (makes vals_end the first time) */
		buf_add(&sql, vals, s->vals_end[n - 1]);
		buf_adds(&sql, " ON CONFLICT (replica, id) DO NOTHING RETURNING team, cost_nusd, replica, month),"
			       " agg AS (SELECT team, replica, month, sum(cost_nusd) AS c FROM ins"
			       "  WHERE team IS NOT NULL AND cost_nusd > 0 GROUP BY 1, 2, 3),"
			       " sp AS (INSERT INTO cl_spend SELECT team, month, c FROM agg ON CONFLICT (team, month)"
			       "  DO UPDATE SET spent_nusd = cl_spend.spent_nusd + excluded.spent_nusd)"
			       " UPDATE cl_leases l SET leased_nusd = greatest(0, l.leased_nusd - agg.c) FROM agg"
			       " WHERE l.team = agg.team AND l.replica = agg.replica AND l.month = agg.month");
		char *text = buf_detach(&sql);
		int rc = pgq0(s, "ledger insert", text, (int)(n * LEDGER_PARAMS),
			    (const char *const *)(s->lv + at * LEDGER_PARAMS), cause);
		free(text);
		if (rc != 0)
			return -1;
	}
	return 0;
}
