/* store_sqlite.c — store.h on SQLite (WAL). The only file that talks SQL.
 *
 * Durability: journal_mode=WAL with synchronous=NORMAL: a commit is in the
 * WAL before the call returns, so it survives kill -9 of the process; the
 * WAL is fsynced at each checkpoint (and every sync_interval by
 * store_sync), which bounds what a power loss can take (docs/architecture.md). */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <time.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "secret.h"
#include "util.h"

#include "store_sqlite.h"

/* the engine's functions, in store.h's order */
static void sq_close(struct store *s);
static int sq_schema_version(struct store *s);
static void sq_set_wal_limit(struct store *s, int frames);
static int sq_probe(struct store *s, int64_t now, char **cause);
static int sq_begin(struct store *s, char **cause);
static int sq_try_begin(struct store *s, char **cause);
static int sq_commit(struct store *s, char **cause);
static void sq_rollback(struct store *s);
static int sq_put_team(struct store *s, const struct team *t, char **cause);
static int sq_put_key(struct store *s, const struct ukey *k, char **cause);
static int sq_put_file(struct store *s, const struct bfile *f, char **cause);
static int sq_put_batch(struct store *s, const struct batch *b, char **cause);
static int sq_put_token(struct store *s, const struct ctoken *t, char **cause);
static int sq_put_alias(struct store *s, const char *alias, const char *model, int64_t at, char **cause);
static int sq_ledger(struct store *s, const struct ledger_row *row, char **cause);
static int64_t sq_ledger_last_id(struct store *s, char **cause);
static int sq_scrub(struct store *s, char **cause);
static void sq_sync_fd(struct store *s, int fd);
static int sq_audit(struct store *s, int64_t ts, const char *actor, const char *role, const char *op, const char *action, const char *target, const char *before, const char *after, char **cause);
static int sq_alert(struct store *s, int64_t ts, const char *kind, const char *team, const char *message, int64_t *id, char **cause);
static int sq_alert_ack(struct store *s, int64_t id, const char *by, int64_t at, char **cause);

static void days_clear(struct sqstore *s);
static int days_flush(struct sqstore *s, char **cause);

#define SYNC_MS 100
/* The WAL starts over from its beginning only when a write finds it fully
 * copied into the database; under steady load a write lands during every
 * PASSIVE checkpoint, so that moment never comes and the file grows without
 * end (370 MB in 11 s of the benchmark). Past this many frames (32 MiB of
 * 4 KiB pages) the checkpointer runs a RESTART checkpoint, which holds
 * writers back for the little the PASSIVE one left (a few ms, every few
 * seconds at full load), and the next write starts the WAL over. The file
 * then keeps its size and is overwritten in place. */
#define WAL_LIMIT_FRAMES 8192
/* how long a write waits for another process's lock: short, because it
 * waits on the event loop; a store that stays locked is handled as down */
#define BUSY_MS 200
/* SQLite's own busy handler sleeps 1, 2, 5, 10 ms... between tries: a lock
 * held 2 ms (the checkpointer's RESTART) would cost a request 8 ms. This
 * one tries again every BUSY_STEP_US. */
#define BUSY_STEP_US 100

static int busy_wait(void *arg, int tries)
{
	struct busy *b = arg;
	int64_t now = mono_us();
	if (tries == 0)
		b->since_us = now;
	if (now - b->since_us >= b->limit_us)
		return 0;
	usleep(BUSY_STEP_US);
	return 1;
}

static void *checkpointer(void *arg)
{
	struct sqstore *s = arg;
	sqlite3 *db = NULL;
	if (sqlite3_open_v2(s->path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		sqlite3_close(db);
		return NULL;
	}
	sqlite3_busy_timeout(db, 50);
	sqlite3_exec(db, "PRAGMA synchronous=NORMAL", NULL, NULL, NULL);
	pthread_mutex_lock(&s->mu);
	while (!s->stop) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += SYNC_MS * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&s->cv, &s->mu, &ts);
		int limit = s->wal_limit;
		bool scrub = s->scrub;
		if (s->sync_fd >= 0) /* under the lock: sq_sync_fd(-1) comes before a close */
			fdatasync(s->sync_fd);
		pthread_mutex_unlock(&s->mu);
		/* PASSIVE never blocks writers; it syncs the WAL, copies what it can
		 * and syncs the database */
		int frames = 0;
		sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, &frames, NULL);
		if (frames > limit)
			sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_RESTART, NULL, NULL);
		/* tried again every SYNC_MS until no reader or writer holds it off */
		bool scrubbed = scrub && sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL) == SQLITE_OK;
		pthread_mutex_lock(&s->mu);
		if (scrubbed)
			s->scrub = false;
	}
	pthread_mutex_unlock(&s->mu);
	sqlite3_close(db);
	return NULL;
}

static const char *const migrations[] = {
	/* 1 */
	"CREATE TABLE teams("
	" id TEXT PRIMARY KEY, name TEXT NOT NULL, state TEXT NOT NULL,"
	" models TEXT NOT NULL, max_tokens INTEGER NOT NULL, rpm_limit INTEGER NOT NULL,"
	" rpm_mode TEXT NOT NULL, queue_wait_ms INTEGER NOT NULL, budget_nusd INTEGER NOT NULL,"
	" thresholds TEXT NOT NULL, auto_pause INTEGER NOT NULL, paused_by TEXT,"
	 " paused_reason TEXT, paused_at INTEGER, version INTEGER NOT NULL, created_at INTEGER NOT NULL,"
	" override_until INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE keys("
	" name TEXT PRIMARY KEY, team TEXT NOT NULL, secret TEXT NOT NULL, fp TEXT NOT NULL,"
	" created_at INTEGER NOT NULL, last_used_at INTEGER, rejected INTEGER NOT NULL DEFAULT 0,"
	" rot_step INTEGER NOT NULL DEFAULT 0, new_secret TEXT, new_fp TEXT, rot_by TEXT,"
	" rot_started_at INTEGER, rot_switched_at INTEGER, rot_updated_at INTEGER,"
	" old_since_switch INTEGER NOT NULL DEFAULT 0, old_last_used INTEGER);"
	"CREATE TABLE tokens("
	" id TEXT PRIMARY KEY, team TEXT NOT NULL, key TEXT NOT NULL, label TEXT NOT NULL,"
	" hash TEXT NOT NULL UNIQUE, created_at INTEGER NOT NULL, revoked_at INTEGER,"
	" created_by TEXT);"
	"CREATE TABLE ledger("
	" id INTEGER PRIMARY KEY, ts_ms INTEGER NOT NULL, team TEXT, key TEXT, key_fp TEXT,"
	" model TEXT, status INTEGER NOT NULL, reason TEXT, stream INTEGER NOT NULL,"
	" prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL,"
	" cost_nusd INTEGER NOT NULL, latency_ms INTEGER NOT NULL);"
	"CREATE INDEX ledger_team_ts ON ledger(team, ts_ms);"
	"CREATE INDEX ledger_ts ON ledger(ts_ms);"
	"CREATE TABLE audit("
	" id INTEGER PRIMARY KEY, ts_ms INTEGER NOT NULL, actor TEXT NOT NULL, role TEXT NOT NULL,"
	" operator TEXT, action TEXT NOT NULL, target TEXT NOT NULL, before TEXT, after TEXT);"
	"CREATE TABLE alerts("
	" id INTEGER PRIMARY KEY, ts_ms INTEGER NOT NULL, kind TEXT NOT NULL, team TEXT,"
	" message TEXT NOT NULL);",
	/* 2: written by store_probe to learn whether the store takes writes */
	"CREATE TABLE health(id INTEGER PRIMARY KEY CHECK (id = 1), ts_ms INTEGER NOT NULL);",
	/* 3: every ledger row wrote a page of this index too (a WAL frame per
	 * request); queries over all teams go through ledger_team_ts, team by
	 * team (WHERE team IN (SELECT id FROM teams)) */
	"DROP INDEX IF EXISTS ledger_ts;",
	/* 4: every route metered in its own unit, traceable to Groq's records */
	"ALTER TABLE ledger ADD COLUMN route TEXT;"
	"ALTER TABLE ledger ADD COLUMN unit TEXT;"
	"ALTER TABLE ledger ADD COLUMN quantity INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE ledger ADD COLUMN request_id TEXT;",
	/* 5: Groq's project of a key, to read Groq's own figures per team */
	"ALTER TABLE keys ADD COLUMN groq_project TEXT;",
	/* 6: alerts acknowledged by an operator (shown to everyone) */
	"ALTER TABLE alerts ADD COLUMN acked_by TEXT;"
	"ALTER TABLE alerts ADD COLUMN acked_at INTEGER;",
	/* 7: batches: whose files and batches they are, what a batch holds */
	"CREATE TABLE batch_files(id TEXT PRIMARY KEY, team TEXT NOT NULL, key TEXT, worst_nusd INTEGER NOT NULL,"
	" lines INTEGER NOT NULL, created_at INTEGER NOT NULL, deleted INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE batches(id TEXT PRIMARY KEY, team TEXT NOT NULL, key TEXT NOT NULL, input TEXT NOT NULL,"
	" status TEXT NOT NULL, reserved_nusd INTEGER NOT NULL, cost_nusd INTEGER NOT NULL DEFAULT 0,"
	" created_at INTEGER NOT NULL, settled_at INTEGER);",
	/* 8: a team's later fields (capacity, ...) as one JSON object; a key's
	 * version (two rotations started at once: one wins, one is told) */
	"ALTER TABLE teams ADD COLUMN policy TEXT;"
	"ALTER TABLE keys ADD COLUMN version INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE keys ADD COLUMN policy TEXT;"
	"ALTER TABLE batch_files ADD COLUMN line_index TEXT;",
	/* 9: the end user, the model the client named, the tier asked for and
	 * Groq's cached prompt tokens of each row; the aliases set by operators */
	"ALTER TABLE ledger ADD COLUMN end_user TEXT;"
	"ALTER TABLE ledger ADD COLUMN requested_model TEXT;"
	"ALTER TABLE ledger ADD COLUMN service_tier TEXT;"
	"ALTER TABLE ledger ADD COLUMN cached_tokens INTEGER NOT NULL DEFAULT 0;"
	"CREATE TABLE aliases(alias TEXT PRIMARY KEY, model TEXT NOT NULL, version INTEGER NOT NULL,"
	" updated_at INTEGER NOT NULL);",
	/* 10: showback by day (spend_daily), kept with each ledger row: a
	 * month of a busy organisation is read from days, not 10 M rows */
	SPEND_DAILY_TABLE SPEND_DAILY_ADD("ledger") ";",
};

static int exec(struct sqstore *s, const char *sql, char **cause)
{
	char *err = NULL;
	if (sqlite3_exec(s->db, sql, NULL, NULL, &err) != SQLITE_OK) {
		fail(cause, "store: %s", err ? err : sqlite3_errmsg(s->db));
		sqlite3_free(err);
		return -1;
	}
	return 0;
}

static int sq_schema_version(struct store *base_)
{
	struct sqstore *s = (struct sqstore *)base_;
	sqlite3_stmt *st;
	int v = 0;
	if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			v = sqlite3_column_int(st, 0);
		sqlite3_finalize(st);
	}
	return v;
}


static const struct store_ops sqlite_ops = {
	.kind = "sqlite",
	.close = sq_close,
	.schema_version = sq_schema_version,
	.set_wal_limit = sq_set_wal_limit,
	.probe = sq_probe,
	.begin = sq_begin,
	.try_begin = sq_try_begin,
	.commit = sq_commit,
	.rollback = sq_rollback,
	.load = sq_load,
	.put_team = sq_put_team,
	.put_key = sq_put_key,
	.put_file = sq_put_file,
	.put_batch = sq_put_batch,
	.put_token = sq_put_token,
	.put_alias = sq_put_alias,
	.ledger = sq_ledger,
	.ledger_last_id = sq_ledger_last_id,
	.scrub = sq_scrub,
	.sync_fd = sq_sync_fd,
	.audit = sq_audit,
	.alert = sq_alert,
	.alert_get = sq_alert_get,
	.alert_ack = sq_alert_ack,
	.audit_list = sq_audit_list,
	.recent_sent = sq_recent_sent,
	.usage_breakdown = sq_usage_breakdown,
	.spend = sq_spend,
	.alerts_list = sq_alerts_list,
	.usage = sq_usage,
	.count = sq_count,
	.copy_out = sq_copy_out,
};

struct store *store_open(const char *path, char **cause)
{
	/* the folder too, private, when it is missing (one level) */
	char *dir = xstrdup(path);
	char *slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		struct stat st;
		if (stat(dir, &st) != 0 && mkdir(dir, 0700) != 0 && errno != EEXIST) {
			fail(cause, "store: cannot create the folder %s: %s", dir, strerror(errno));
			free(dir);
			return NULL;
		}
	}
	free(dir);
	/* create with 0600 before SQLite does: the file holds Groq keys */
	int fd = open(path, O_RDWR | O_CREAT, 0600);
	if (fd < 0) {
		fail(cause, "store: cannot open %s: %s", path, strerror(errno));
		return NULL;
	}
	close(fd);
	struct sqstore *s = xcalloc(1, sizeof *s);
	s->base.ops = &sqlite_ops;
	/* each connection is used by one thread only (the loop's; the
	 * checkpointer's): no mutex around its every call */
	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		sq_fail(s, cause, path);
		sq_close(&s->base);
		return NULL;
	}
	s->busy.limit_us = BUSY_MS * 1000;
	sqlite3_busy_handler(s->db, busy_wait, &s->busy);
	s->path = xstrdup(path);
	if (sqlite3_db_readonly(s->db, "main") == 1) {
		fail(cause, "store: %s is read-only; the gateway needs to write its ledger", path);
		sq_close(&s->base);
		return NULL;
	}
	/* commits append to the WAL (no fsync on the request path); the
	 * checkpointer thread syncs every SYNC_MS, which bounds what a power
	 * loss can take; a crash of the process loses nothing
	 * (the WAL is started over past WAL_LIMIT_FRAMES; a WAL that grew
	 * larger while checkpoints were held off is cut back when it starts
	 * over: journal_size_limit) */
	/* secure_delete: a secret erased (a retired key) is overwritten in
	 * the database file, not left in a free page */
	if (exec(s, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
		    "PRAGMA wal_autocheckpoint=0; PRAGMA journal_size_limit=67108864; PRAGMA secure_delete=ON;",
		    cause) != 0) {
		sq_close(&s->base);
		return NULL;
	}
	int v = sq_schema_version(&s->base);
	for (int i = v; i < (int)ARRAY_LEN(migrations); i++) {
		char *sql = xasprintf("BEGIN; %s PRAGMA user_version=%d; COMMIT;", migrations[i], i + 1);
		int rc = exec(s, sql, cause);
		free(sql);
		if (rc != 0) {
			exec(s, "ROLLBACK", NULL);
			sq_close(&s->base);
			return NULL;
		}
	}
	/* a crash right after a secret was erased left it in the WAL */
	sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
	if (sqlite3_prepare_v2(s->db,
			       "INSERT INTO ledger(" LEDGER_COLUMNS ") "
			       "VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
			       -1, &s->ins_ledger, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(s->db, "INSERT INTO spend_daily VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?)" SPEND_DAILY_UPSERT, -1,
			       &s->ins_daily, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(s->db, "BEGIN IMMEDIATE", -1, &s->begin, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(s->db, "COMMIT", -1, &s->commit, NULL) != SQLITE_OK) {
		sq_fail(s, cause, "prepare");
		sq_close(&s->base);
		return NULL;
	}
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	s->wal_limit = WAL_LIMIT_FRAMES;
	s->sync_fd = -1;
	s->ckpt_running = pthread_create(&s->ckpt, NULL, checkpointer, s) == 0;
	return &s->base;
}

static void sq_close(struct store *base_)
{
	struct sqstore *s = (struct sqstore *)base_;
	if (!s)
		return;
	if (s->ckpt_running) {
		pthread_mutex_lock(&s->mu);
		s->stop = true;
		pthread_cond_signal(&s->cv);
		pthread_mutex_unlock(&s->mu);
		pthread_join(s->ckpt, NULL);
		pthread_mutex_destroy(&s->mu);
		pthread_cond_destroy(&s->cv);
	}
	sqlite3_finalize(s->ins_ledger);
	sqlite3_finalize(s->begin);
	sqlite3_finalize(s->commit);
	sqlite3_finalize(s->ins_daily);
	days_clear(s);
	free(s->days);
	if (s->db)
		sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
	sqlite3_close(s->db);
	free(s->path);
	free(s);
}

static int sq_scrub(struct store *base_, char **cause)
{
	struct sqstore *s = (struct sqstore *)base_;
	/* every page into the database (overwriting older images of it, which
	 * may hold an erased secret), then the WAL cut to nothing: done by the
	 * checkpointer thread within SYNC_MS (a TRUNCATE waits for readers and
	 * writers; the event loop must not) */
	if (!s->ckpt_running) {
		if (sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL) == SQLITE_OK)
			return 0;
		return sq_fail(s, cause, "checkpoint (scrub)");
	}
	pthread_mutex_lock(&s->mu);
	s->scrub = true;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
	return 0;
}

static void sq_sync_fd(struct store *base_, int fd)
{
	struct sqstore *s = (struct sqstore *)base_;
	if (!s->ckpt_running)
		return;
	pthread_mutex_lock(&s->mu);
	s->sync_fd = fd;
	pthread_mutex_unlock(&s->mu);
}

static int64_t sq_ledger_last_id(struct store *base_, char **cause)
{
	struct sqstore *s = (struct sqstore *)base_;
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(s->db, "SELECT COALESCE(MAX(id), 0) FROM ledger", -1, &st, NULL) != SQLITE_OK) {
		sq_fail(s, cause, "ledger last id");
		return -1;
	}
	int64_t id = -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		id = sqlite3_column_int64(st, 0);
	else
		sq_fail(s, cause, "ledger last id");
	sqlite3_finalize(st);
	return id;
}

static void sq_set_wal_limit(struct store *base_, int frames)
{
	struct sqstore *s = (struct sqstore *)base_;
	pthread_mutex_lock(&s->mu);
	s->wal_limit = frames;
	pthread_mutex_unlock(&s->mu);
}

/* how long the loop's connection waits for a lock another holds: BUSY_MS,
 * or not at all (a try: SQLITE_BUSY at once) */
static void lock_wait(struct sqstore *s, bool wait)
{
	s->busy.limit_us = wait ? BUSY_MS * 1000 : 0;
}

/* exec that fails at once, rather than wait, when another connection
 * holds the lock (sqlite3_errcode then says SQLITE_BUSY) */
static int exec_nowait(struct sqstore *s, const char *sql, char **cause)
{
	lock_wait(s, false);
	int rc = exec(s, sql, cause);
	lock_wait(s, true);
	return rc;
}

static int sq_probe(struct store *base_, int64_t now, char **cause)
{
	struct sqstore *s = (struct sqstore *)base_;
	char *sql = xasprintf("INSERT OR REPLACE INTO health(id, ts_ms) VALUES(1, %lld)", (long long)now);
	int rc = exec_nowait(s, sql, cause);
	free(sql);
	return rc;
}

/* a statement prepared at open, run once: 0, or -1 with *cause (and its
 * SQLite result code in *code) */
static int run_once(struct sqstore *s, sqlite3_stmt *st, int *code, char **cause)
{
	int rc = sqlite3_step(st);
	if (code)
		*code = rc;
	if (rc != SQLITE_DONE)
		fail(cause, "store: %s", sqlite3_errmsg(s->db));
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

static int sq_begin(struct store *base_, char **cause)
{
	struct sqstore *s = (struct sqstore *)base_;
	if (run_once(s, s->begin, NULL, cause) != 0)
		return -1;
	s->in_tx = 1;
	return 0;
}


static int sq_try_begin(struct store *base_, char **cause)
{
	struct sqstore *s = (struct sqstore *)base_;
	char *why = NULL;
	int code;
	lock_wait(s, false);
	int rc = run_once(s, s->begin, &code, &why);
	lock_wait(s, true);
	if (rc == 0) {
		s->in_tx = 1;
		return 0;
	}
	if ((code & 0xff) == SQLITE_BUSY) {
		free(why);
		return 1;
	}
	*cause = why;
	return -1;
}

static int sq_commit(struct store *base_, char **cause)
{
	struct sqstore *s = (struct sqstore *)base_;
	if (days_flush(s, cause) != 0 || run_once(s, s->commit, NULL, cause) != 0) {
		sq_rollback(&s->base);
		return -1;
	}
	s->in_tx = 0;
	return 0;
}

static void sq_rollback(struct store *base_)
{
	struct sqstore *s = (struct sqstore *)base_;
	exec(s, "ROLLBACK", NULL);
	s->in_tx = 0;
	days_clear(s);
}

static int step_done(struct sqstore *s, sqlite3_stmt *st, char **cause, const char *what);

static void bind_row(sqlite3_stmt *st, const struct rowv *r)
{
	for (int i = 0; i < r->n; i++)
		sq_bind_text(st, i + 1, r->v[i]);
}

/* the row's columns as text (SQLite gives integers as their text) */
/* INSERT OR REPLACE of one whole row */
static int put_row(struct sqstore *s, const char *table, struct rowv *r, char **cause)
{
	sqlite3_stmt *st;
	char sql[256];
	int n = snprintf(sql, sizeof sql, "INSERT OR REPLACE INTO %s VALUES(?", table);
	for (int i = 1; i < r->n; i++)
		n += snprintf(sql + n, sizeof sql - (size_t)n, ",?");
	snprintf(sql + n, sizeof sql - (size_t)n, ")");
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
		rowv_free(r);
		return sq_fail(s, cause, table);
	}
	bind_row(st, r);
	rowv_free(r);
	return step_done(s, st, cause, table);
}

static int step_done(struct sqstore *s, sqlite3_stmt *st, char **cause, const char *what)
{
	int rc = sqlite3_step(st);
	if (rc != SQLITE_DONE) {
		sq_fail(s, cause, what);
		sqlite3_finalize(st);
		return -1;
	}
	sqlite3_finalize(st);
	return 0;
}

static int sq_put_team(struct store *base_, const struct team *t, char **cause)
{
	struct sqstore *s = (struct sqstore *)base_;
	struct rowv r = { 0 };
	team_row(t, &r);
	return put_row(s, "teams", &r, cause);
}

static int sq_put_key(struct store *base_, const struct ukey *k, char **cause)
{
	struct sqstore *s = (struct sqstore *)base_;
	struct rowv r = { 0 };
	ukey_row(k, &r);
	return put_row(s, "keys", &r, cause);
}

static int sq_put_file(struct store *base_, const struct bfile *f, char **cause)
{
	struct sqstore *s = (struct sqstore *)base_;
	struct rowv r = { 0 };
	bfile_row(f, &r);
	return put_row(s, "batch_files", &r, cause);
}

static int sq_put_batch(struct store *base_, const struct batch *b, char **cause)
{
	struct sqstore *s = (struct sqstore *)base_;
	struct rowv r = { 0 };
	batch_row(b, &r);
	return put_row(s, "batches", &r, cause);
}

static int sq_put_token(struct store *base_, const struct ctoken *t, char **cause)
{
	struct sqstore *s = (struct sqstore *)base_;
	struct rowv r = { 0 };
	ctoken_row(t, &r);
	return put_row(s, "tokens", &r, cause);
}

static int sq_put_alias(struct store *base_, const char *alias, const char *model, int64_t at, char **cause)
{
	struct sqstore *s = (struct sqstore *)base_;
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(s->db,
			       model ? "INSERT INTO aliases(alias, model, version, updated_at) VALUES(?1, ?2, 1, ?3)"
				       " ON CONFLICT(alias) DO UPDATE SET model = ?2, version = version + 1, updated_at = ?3"
				     : "DELETE FROM aliases WHERE alias = ?1",
			       -1, &st, NULL) != SQLITE_OK)
		return sq_fail(s, cause, "aliases");
	sq_bind_text(st, 1, alias);
	if (model) {
		sq_bind_text(st, 2, model);
		sqlite3_bind_int64(st, 3, at);
	}
	return step_done(s, st, cause, "aliases");
}

/* ---- spend_daily: a commit's rows summed by day and keys, written
 * with them (one write per distinct day and keys, not per row) */

struct daysum {
	int64_t day;
	char *keys[5]; /* team, key, model, route, end user ('' for NULL) */
	int64_t sums[SPEND_SUMS];
};

static bool daysum_is(const struct daysum *d, int64_t day, const char *const *k)
{
	if (d->day != day)
		return false;
	for (int i = 0; i < 5; i++)
		if (strcmp(d->keys[i], k[i]) != 0)
			return false;
	return true;
}

static void days_clear(struct sqstore *s)
{
	for (int i = 0; i < s->ndays; i++)
		for (int k = 0; k < 5; k++)
			free(s->days[i].keys[k]);
	s->ndays = 0;
}

static void days_add(struct sqstore *s, const struct ledger_row *r)
{
	const char *k[5] = { r->team ? r->team : "", r->key ? r->key : "", r->model ? r->model : "",
			     r->route ? r->route : "", r->user ? r->user : "" };
	int64_t day = r->ts_ms / 86400000;
	struct daysum *d = NULL;
	for (int i = s->ndays - 1; i >= 0 && !d; i--) /* (a commit's rows are few, and alike) */
		if (daysum_is(&s->days[i], day, k))
			d = &s->days[i];
	if (!d) {
		if (s->ndays == s->capdays) {
			s->capdays = s->capdays ? s->capdays * 2 : 16;
			s->days = xrealloc(s->days, (size_t)s->capdays * sizeof *s->days);
		}
		d = &s->days[s->ndays++];
		memset(d, 0, sizeof *d);
		d->day = day;
		for (int i = 0; i < 5; i++)
			d->keys[i] = xstrdup(k[i]);
	}
	bool audio = r->unit && strcmp(r->unit, "audio_seconds") == 0, chars = r->unit && strcmp(r->unit, "characters") == 0;
	int64_t add[SPEND_SUMS] = { r->status < 400, r->prompt, r->cached, r->completion, audio ? r->quantity : 0,
				    chars ? r->quantity : 0, r->cost_nusd };
	for (int i = 0; i < SPEND_SUMS; i++)
		d->sums[i] += add[i];
}

static int days_flush(struct sqstore *s, char **cause)
{
	int rc = 0;
	for (int i = 0; i < s->ndays && rc == 0; i++) {
		sqlite3_stmt *st = s->ins_daily;
		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, s->days[i].day);
		for (int k = 0; k < 5; k++)
			sqlite3_bind_text(st, 2 + k, s->days[i].keys[k], -1, SQLITE_STATIC);
		for (int k = 0; k < SPEND_SUMS; k++)
			sqlite3_bind_int64(st, 7 + k, s->days[i].sums[k]);
		if (sqlite3_step(st) != SQLITE_DONE)
			rc = sq_fail(s, cause, "spend_daily");
		sqlite3_reset(st);
	}
	days_clear(s);
	return rc;
}

/* a ledger row bound by type, in LEDGER_COLUMNS' order (ledger_row_cols
 * gives the same as text, for PostgreSQL and migrations): integers as
 * integers, which SQLite would otherwise parse back from text, and strings
 * in place (SQLITE_STATIC: the row outlives the step, and every column is
 * bound again for the next one). The request path's rows all come here. */
static void bind_str(sqlite3_stmt *st, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

_Static_assert(LEDGER_COLS == 21, "bind_ledger binds every column of LEDGER_COLUMNS");

static void bind_ledger(sqlite3_stmt *st, const struct ledger_row *x)
{
	sqlite3_bind_int64(st, 1, x->ts_ms);
	bind_str(st, 2, x->team);
	bind_str(st, 3, x->key);
	bind_str(st, 4, x->key_fp);
	bind_str(st, 5, x->model);
	sqlite3_bind_int64(st, 6, x->status);
	bind_str(st, 7, x->reason);
	sqlite3_bind_int64(st, 8, x->stream);
	sqlite3_bind_int64(st, 9, x->prompt);
	sqlite3_bind_int64(st, 10, x->completion);
	sqlite3_bind_int64(st, 11, x->cost_nusd);
	sqlite3_bind_int64(st, 12, x->latency_ms);
	if (x->id) /* (0: SQLite numbers the row) */
		sqlite3_bind_int64(st, 13, x->id);
	else
		sqlite3_bind_null(st, 13);
	bind_str(st, 14, x->route);
	bind_str(st, 15, x->unit);
	sqlite3_bind_int64(st, 16, x->quantity);
	bind_str(st, 17, x->request_id);
	bind_str(st, 18, x->user);
	bind_str(st, 19, x->requested_model);
	bind_str(st, 20, x->service_tier);
	sqlite3_bind_int64(st, 21, x->cached);
}

static int sq_ledger(struct store *base_, const struct ledger_row *r, char **cause)
{
	struct sqstore *s = (struct sqstore *)base_;
	sqlite3_stmt *st = s->ins_ledger;
	sqlite3_reset(st);
	bind_ledger(st, r);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return sq_fail(s, cause, "ledger insert");
	days_add(s, r);
	return s->in_tx ? 0 : days_flush(s, cause); /* (its own transaction: at once) */
}

static int sq_audit(struct store *base_, int64_t ts, const char *actor, const char *role, const char *op,
		const char *action, const char *target, const char *before, const char *after, char **cause)
{
	struct sqstore *s = (struct sqstore *)base_;
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(s->db,
			       "INSERT INTO audit(ts_ms,actor,role,operator,action,target,before,after) "
			       "VALUES(?,?,?,?,?,?,?,?)",
			       -1, &st, NULL) != SQLITE_OK)
		return sq_fail(s, cause, "prepare audit");
	sqlite3_bind_int64(st, 1, ts);
	sq_bind_text(st, 2, actor);
	sq_bind_text(st, 3, role);
	sq_bind_text(st, 4, op);
	sq_bind_text(st, 5, action);
	sq_bind_text(st, 6, target);
	sq_bind_text(st, 7, before);
	sq_bind_text(st, 8, after);
	return step_done(s, st, cause, "audit insert");
}

static int sq_alert(struct store *base_, int64_t ts, const char *kind, const char *team, const char *message, int64_t *id,
		char **cause)
{
	struct sqstore *s = (struct sqstore *)base_;
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(s->db, "INSERT INTO alerts(ts_ms,kind,team,message) VALUES(?,?,?,?)", -1,
			       &st, NULL) != SQLITE_OK)
		return sq_fail(s, cause, "prepare alert");
	sqlite3_bind_int64(st, 1, ts);
	sq_bind_text(st, 2, kind);
	sq_bind_text(st, 3, team);
	sq_bind_text(st, 4, message);
	int rc = step_done(s, st, cause, "alert insert");
	if (rc == 0 && id)
		*id = sqlite3_last_insert_rowid(s->db);
	return rc;
}

static int sq_alert_ack(struct store *base_, int64_t id, const char *by, int64_t at, char **cause)
{
	struct sqstore *s = (struct sqstore *)base_;
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(s->db, "UPDATE alerts SET acked_by = ?, acked_at = ? WHERE id = ? AND acked_by IS NULL", -1,
			       &st, NULL) != SQLITE_OK)
		return sq_fail(s, cause, "prepare alert ack");
	sq_bind_text(st, 1, by);
	sqlite3_bind_int64(st, 2, at);
	sqlite3_bind_int64(st, 3, id);
	return step_done(s, st, cause, "alert ack");
}

int64_t store_memory_used(void)
{
	return (int64_t)sqlite3_memory_used();
}
