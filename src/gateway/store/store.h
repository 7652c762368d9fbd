/* store.h — the gateway's system of record. Only the engines talk SQL:
 * store_sqlite.c (one node, the default) and store_pg.c (cluster mode,
 * PostgreSQL); each fills a struct store_ops and store.c dispatches to it,
 * so the request path never knows which one it writes to. Every function returns 0 (or a value) on success
 * and -1 with an allocated *cause on failure; returned json_t references
 * belong to the caller. A team write may also fail with STORE_CONFLICT
 * (and a cause): the stored team is already at that version or past it,
 * written meanwhile by another replica; nothing was written. */
#ifndef GG_STORE_H
#define GG_STORE_H

#include "net.h" /* the rooms below */

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#define STORE_CONFLICT (-2)

struct store;
struct registry;
struct team;
struct ukey;
struct bfile;
struct batch;
struct ctoken;

struct ledger_row {
	int64_t id; /* 0: the store picks the next */
	int64_t ts_ms;
	const char *team, *key, *key_fp, *model, *reason; /* key NULL when never forwarded */
	const char *route;      /* the route table's name ("chat.completions"), or NULL */
	const char *unit;       /* the billing unit ("tokens", "audio_seconds", "characters") */
	const char *request_id; /* Groq's x-request-id, to trace a charge to Groq's records */
	int status;
	bool stream;
	int64_t prompt, completion, cost_nusd, latency_ms;
	int64_t quantity;       /* billed, in unit: tokens, seconds of audio, characters */
	int64_t cached;         /* prompt tokens Groq served from its cache (in prompt) */
	const char *user;            /* the end user (the request's "user", X-Groqgate-User) */
	const char *requested_model; /* the model the client named (an alias, a retired one) */
	const char *service_tier;    /* the tier Groq was asked for, or NULL: Groq's default */
};

/* a row's strings, in one order for everyone who copies, frees or journals
 * them (journal.c's records keep this order) */
#define LEDGER_NSTR 11
#define LEDGER_STRS(r) { &(r)->team, &(r)->key, &(r)->key_fp, &(r)->model, &(r)->reason, &(r)->route, \
			 &(r)->unit, &(r)->request_id, &(r)->user, &(r)->requested_model, &(r)->service_tier }

/* a replica as its heartbeat records it (cluster mode) */
struct replica_info {
	const char *id, *listen, *version, *state;
	int64_t started_at, now;
	int inflight;
};
struct cl_lease; /* a budget leased from the fleet (below) */

/* An engine: what each function below does, for its database. */
struct store_ops {
	const char *kind; /* "sqlite", "postgresql" */
	void (*close)(struct store *s);
	int (*schema_version)(struct store *s);
	void (*set_wal_limit)(struct store *s, int frames);
	int (*probe)(struct store *s, int64_t now, char **cause);
	int (*begin)(struct store *s, char **cause);
	int (*try_begin)(struct store *s, char **cause);
	int (*commit)(struct store *s, char **cause);
	void (*rollback)(struct store *s);
	int (*load)(struct store *s, struct registry *r, int64_t now, char **cause);
	int (*put_team)(struct store *s, const struct team *t, char **cause);
	int (*put_key)(struct store *s, const struct ukey *k, char **cause);
	int (*put_file)(struct store *s, const struct bfile *f, char **cause);
	int (*put_batch)(struct store *s, const struct batch *b, char **cause);
	int (*put_token)(struct store *s, const struct ctoken *t, char **cause);
	int (*put_alias)(struct store *s, const char *alias, const char *model, int64_t at, char **cause);
	int (*ledger)(struct store *s, const struct ledger_row *row, char **cause);
	int64_t (*ledger_last_id)(struct store *s, char **cause);
	int (*scrub)(struct store *s, char **cause);
	void (*sync_fd)(struct store *s, int fd);
	int (*audit)(struct store *s, int64_t ts, const char *actor, const char *role, const char *op, const char *action, const char *target, const char *before, const char *after, char **cause);
	int (*alert)(struct store *s, int64_t ts, const char *kind, const char *team, const char *message, int64_t *id, char **cause);
	json_t *(*alert_get)(struct store *s, int64_t id, char **cause);
	int (*alert_ack)(struct store *s, int64_t id, const char *by, int64_t at, char **cause);
	json_t *(*audit_list)(struct store *s, int limit, int64_t before_id, const char *team, const char *actor, const char *action, char **cause);
	int (*recent_sent)(struct store *s, int64_t from, void (*fn)(void *arg, const char *key, const char *model, int64_t ts, int64_t in, int64_t out), void *arg, char **cause);
	json_t *(*usage_breakdown)(struct store *s, const char *team, int64_t from, char **cause);
	int (*spend)(struct store *s, int64_t from, int64_t to, unsigned groups,
		     void (*fn)(void *arg, const char *const *keys, const int64_t *sums), void *arg, char **cause);
	json_t *(*alerts_list)(struct store *s, int limit, char **cause);
	json_t *(*usage)(struct store *s, const char *team, int64_t from, int64_t step, int n, char **cause);
	/* cluster mode: NULL in an engine that serves one node */
	int (*cl_heartbeat)(struct store *s, const struct replica_info *me, char **cause);
	json_t *(*cl_replicas)(struct store *s, char **cause);
	int64_t (*cl_version)(struct store *s, char **cause);
	int (*cl_reload)(struct store *s, struct registry *r, int64_t now, char **cause);
	int (*cl_spend)(struct store *s, int64_t month,
			void (*fn)(void *arg, const char *team, int64_t spent, int64_t lease), void *arg, char **cause);
	int (*cl_windows)(struct store *s, int64_t day, int64_t week, int64_t month,
			  void (*fn)(void *arg, const char *kind, const char *owner, int64_t start, int64_t spent,
				     int64_t mine, int64_t held),
			  void *arg, char **cause);
	int (*cl_lease)(struct store *s, const char *team, struct cl_lease *l, int n, char **cause);
	int (*cl_give_back)(struct store *s, int64_t now, char **cause);
	int (*cl_forget)(struct store *s, int64_t now, char **cause);
	int (*cl_batch_claim)(struct store *s, const char *id, const char *from, int64_t now, char **cause);
	int (*cl_batch_settling)(struct store *s, const char *id, int64_t at, char **cause);
	int (*cl_fd)(struct store *s);
	int (*cl_notified)(struct store *s);
	/* migration: the rows of a table ("teams", "keys", "tokens",
	 * "ledger", "audit", "alerts"; ledger, audit and alerts in the
	 * columns store_rows.c names) out of one engine and into another */
	int64_t (*count)(struct store *s, const char *table, char **cause);
	int (*copy_out)(struct store *s, const char *table, int (*fn)(void *arg, const char *const *v), void *arg,
			char **cause);
	int (*copy_in)(struct store *s, const char *table, const char *const *v, char **cause);
	int (*copy_done)(struct store *s, char **cause); /* after copy_in: sequences past the ids copied */
};
/* Every engine's store begins with this. */
struct store {
	const struct store_ops *ops;
};

/* Opens (creating, mode 0600) and migrates the SQLite database. */
struct store *store_open(const char *path, char **cause);
/* Connects to PostgreSQL at url (postgresql://...) and migrates it; rows
 * this replica writes carry replica (its cluster.replica_id). */
struct store *store_open_pg(const char *url, const char *replica, char **cause);
const char *store_kind(const struct store *s);
void store_close(struct store *s);
int store_schema_version(struct store *s);
/* WAL frames past which the checkpointer starts the WAL over (tests). */
void store_set_wal_limit(struct store *s, int frames);

/* A small write that tells whether the store takes writes again (after a
 * full disk, a lock held by another process); never waits for a lock. */
int store_probe(struct store *s, int64_t now, char **cause);
int store_begin(struct store *s, char **cause);
/* store_begin without waiting for a lock held elsewhere: 1 when it is. */
int store_try_begin(struct store *s, char **cause);
int store_commit(struct store *s, char **cause);
void store_rollback(struct store *s);

/* Fills the registry: teams, keys (with secrets), tokens, this month's
 * spend per team and the organisation, and keys' hourly request counts. */
int store_load(struct store *s, struct registry *r, int64_t now, char **cause);
int store_put_team(struct store *s, const struct team *t, char **cause);
int store_put_key(struct store *s, const struct ukey *k, char **cause);
int store_put_file(struct store *s, const struct bfile *f, char **cause);
int store_put_batch(struct store *s, const struct batch *b, char **cause);
int store_put_token(struct store *s, const struct ctoken *t, char **cause);
/* an operator's alias written (model NULL: deleted); load hands the set to
 * the registry (registry_set_alias) */
int store_put_alias(struct store *s, const char *alias, const char *model, int64_t at, char **cause);
/* One committed row per answered request (its own transaction unless
 * one is open). */
int store_ledger(struct store *s, const struct ledger_row *row, char **cause);
/* The highest ledger id (0 for none), or -1. */
int64_t store_ledger_last_id(struct store *s, char **cause);
/* Moves the WAL into the database and truncates it, so that a secret
 * erased by the last commit is gone from both files (secure_delete
 * overwrites it in the database). Run after erasing a secret, and at start
 * (a crash between the two). The checkpointer thread does it (within
 * SYNC_MS, and again until no lock holds it off): it never waits on the
 * event loop. */
int store_scrub(struct store *s, char **cause);
/* A file the checkpointer fdatasyncs along with the WAL (-1: none). */
void store_sync_fd(struct store *s, int fd);
int store_audit(struct store *s, int64_t ts, const char *actor, const char *role,
		const char *op, const char *action, const char *target,
		const char *before, const char *after, char **cause);
/* *id (may be NULL): the alert's id */
int store_alert(struct store *s, int64_t ts, const char *kind, const char *team,
		const char *message, int64_t *id, char **cause);
/* The alert with id as the alerts list shows it; NULL with *cause NULL
 * when there is none. */
json_t *store_alert_get(struct store *s, int64_t id, char **cause);
/* Marks it acknowledged by `by` at `at` (once: a second ack changes nothing). */
int store_alert_ack(struct store *s, int64_t id, const char *by, int64_t at, char **cause);
/* Newest first; team, actor, action: NULL or a filter (action: a prefix,
 * "team." for every team change). */
json_t *store_audit_list(struct store *s, int limit, int64_t before_id, const char *team, const char *actor,
			 const char *action, char **cause);
/* The forwarded requests since from, oldest first: fn(arg, key, model,
 * ts_ms, prompt, completion) for each (what the gateway sent to Groq). */
int store_recent_sent(struct store *s, int64_t from,
		      void (*fn)(void *arg, const char *key, const char *model, int64_t ts, int64_t in, int64_t out),
		      void *arg, char **cause);
/* Spend, requests and tokens per model and per route of a team (NULL: all)
 * since from: {"models":[...],"routes":[...]} */
/* the breakdowns of store_usage_breakdown: the ledger's column, and the
 * answer's member holding [{column, requests, ok, tokens, spend_usd}] */
#define USAGE_BY_N 4
#define USAGE_BY_COLUMNS { "model", "route", "service_tier", "requested_model" }
#define USAGE_BY_MEMBERS { "models", "routes", "tiers", "requested" }
json_t *store_usage_breakdown(struct store *s, const char *team, int64_t from, char **cause);
/* Showback: the ledger's rows of the whole UTC days in [from, to) (both
 * taken to their day: from a day's start to a day's start) grouped by the SPEND_* bits of
 * groups (in that order), fn called per group with its keys (NULL for a
 * NULL column) and its SPEND_SUMS sums: requests served, input tokens,
 * cached input tokens, output tokens, audio seconds, characters, cost in
 * nano-dollars. */
enum { SPEND_DAY = 1, SPEND_TEAM = 2, SPEND_KEY = 4, SPEND_MODEL = 8, SPEND_ROUTE = 16, SPEND_USER = 32 };
#define SPEND_GROUPS 6
#define SPEND_SUMS 7
int store_spend(struct store *s, int64_t from, int64_t to, unsigned groups,
		void (*fn)(void *arg, const char *const *keys, const int64_t *sums), void *arg, char **cause);
/* The ledger summed by UTC day, team, key, model, route and end user
 * (spend_daily), kept in the transaction of the ledger rows it sums
 * (SQLite: the rows of a commit summed in memory, then one write per
 * distinct day and keys; PostgreSQL: a trigger on each insert statement's
 * new rows): showback reads days, never the ledger's rows. Keys are
 * stored '' for NULL. */
#define SPEND_DAILY_TABLE                                                                                           \
	"CREATE TABLE IF NOT EXISTS spend_daily(day BIGINT NOT NULL, team TEXT NOT NULL, key TEXT NOT NULL,"         \
	" model TEXT NOT NULL, route TEXT NOT NULL, end_user TEXT NOT NULL, requests BIGINT NOT NULL,"              \
	" input_tokens BIGINT NOT NULL, cached_tokens BIGINT NOT NULL, output_tokens BIGINT NOT NULL,"             \
	" audio_seconds BIGINT NOT NULL, characters BIGINT NOT NULL, cost_nusd BIGINT NOT NULL,"                   \
	" PRIMARY KEY (day, team, key, model, route, end_user));"
/* a day's sums added to what spend_daily holds for its keys */
#define SPEND_DAILY_UPSERT                                                                                          \
	" ON CONFLICT (day, team, key, model, route, end_user) DO UPDATE SET requests = spend_daily.requests +"      \
	" excluded.requests, input_tokens = spend_daily.input_tokens + excluded.input_tokens, cached_tokens ="      \
	" spend_daily.cached_tokens + excluded.cached_tokens, output_tokens = spend_daily.output_tokens +"          \
	" excluded.output_tokens, audio_seconds = spend_daily.audio_seconds + excluded.audio_seconds, characters =" \
	" spend_daily.characters + excluded.characters, cost_nusd = spend_daily.cost_nusd + excluded.cost_nusd"
/* rows of FROM (the ledger, or its new rows) summed into spend_daily */
#define SPEND_DAILY_ADD(FROM)                                                                                       \
	"INSERT INTO spend_daily SELECT ts_ms / 86400000, coalesce(team, ''), coalesce(key, ''), coalesce(model, ''),"\
	" coalesce(route, ''), coalesce(end_user, ''), sum(CASE WHEN status < 400 THEN 1 ELSE 0 END),"             \
	" sum(prompt_tokens), sum(cached_tokens), sum(completion_tokens), sum(CASE WHEN unit = 'audio_seconds'"     \
	" THEN quantity ELSE 0 END), sum(CASE WHEN unit = 'characters' THEN quantity ELSE 0 END), sum(cost_nusd)"  \
	" FROM " FROM " WHERE true GROUP BY 1, 2, 3, 4, 5, 6" SPEND_DAILY_UPSERT
/* store_rows.c: the query both engines run over spend_daily (its
 * parameters: the first day and the day after the last, as days since
 * 1970), with day the engine's expression of the column `day` as
 * "YYYY-MM-DD"; ph(i) its i-th placeholder (allocated) */
char *spend_sql(unsigned groups, const char *day, char *(*ph)(int i));
json_t *store_alerts_list(struct store *s, int limit, char **cause);
/* Buckets of step ms from `from` (n of them): requests, ok, tokens,
 * spend and rejections by reason; team NULL for all. */
json_t *store_usage(struct store *s, const char *team, int64_t from, int64_t step, int n, char **cause);
/* Bytes the storage engine holds in memory (its page cache included). */
int64_t store_memory_used(void);

/* ---- cluster mode (store_pg.c; -1 with *cause from any other engine) ---- */
bool store_clustered(const struct store *s);
/* This replica's row in cl_replicas, now. */
int store_cl_heartbeat(struct store *s, const struct replica_info *me, char **cause);
/* Every replica's last heartbeat: [{"id","listen","version","started_at",
 * "last_seen_at","inflight","state"}] (times in ms). */
json_t *store_cl_replicas(struct store *s, char **cause);
/* The configuration's version: moves with every change to teams, keys,
 * tokens, files or batches, in the changing transaction. */
int64_t store_cl_version(struct store *s, char **cause);
/* What an operator changes (teams, keys, tokens, files, batches) read
 * into r: store_load without the month's figures. */
int store_cl_reload(struct store *s, struct registry *r, int64_t now, char **cause);
/* For each team: the fleet's spend this month (what every replica's
 * shipped ledger rows cost) and this replica's lease. */
int store_cl_spend(struct store *s, int64_t month,
		   void (*fn)(void *arg, const char *team, int64_t spent, int64_t lease), void *arg, char **cause);
/* For each budget window of the current day, week and month that the fleet
 * spent in or leased (cl_windows: a team's "day" and "week", owner the
 * team; an upstream key's month, "key", owner the key's name): what every
 * replica's shipped rows cost in it, what this replica's did, and this
 * replica's lease of it. */
int store_cl_windows(struct store *s, int64_t day, int64_t week, int64_t month,
		     void (*fn)(void *arg, const char *kind, const char *owner, int64_t start, int64_t spent,
				int64_t mine, int64_t held),
		     void *arg, char **cause);
/* One of a team's budgets as leased from the fleet: its month (cl_leases:
 * the lease is what this replica may still ship, its shipping takes its
 * cost off), a day or week of it, or a month of one of its upstream keys
 * (cl_windows: the lease is what this replica may settle in the window in
 * all, beside what it shipped there). */
struct cl_lease {
	const char *kind;  /* "month", "day", "week" (owner: the team) or "key" */
	const char *owner; /* the team's id, or the key's name */
	int64_t start;     /* the window's start (ms, UTC) */
	int64_t want;      /* in: the lease wanted */
	int64_t need;      /* in: what it must reach to be grown at all (a day, week or key: 0 any) */
	int64_t held;      /* out: the lease now */
};
/* Sets this replica's leases l[0..n) of team's budgets, in one transaction
 * under the team row's lock: each to its want, or as much of it as the
 * budget (as PostgreSQL holds it) has room for beyond the fleet's spend
 * and the other replicas' leases. The month's is never less than held
 * before, unless want is less; a day's, week's or key month's is not
 * grown when the room cannot reach its need, and shrinks to the room when
 * the budget was lowered. A window whose budget is none is granted its
 * want. */
int store_cl_lease(struct store *s, const char *team, struct cl_lease *l, int n, char **cause);
/* Every lease of this replica given back (at start and at a clean stop):
 * of the month's, all but what its open batches reserve (other months'
 * to 0), read under the batches' locks so that a batch taken over by
 * another replica, before or during the call, is not kept; of a team's
 * day and week (now's and the next, leased ahead) all it did not ship but
 * what its open batches reserve; of the other windows, all it did not
 * ship. Windows long over are forgotten. */
int store_cl_give_back(struct store *s, int64_t now, char **cause);
/* The budget windows that are over forgotten (a team's days and weeks
 * before now's week, the keys' months before now's), those another
 * transaction holds left for the next time: 0, or -1 with *cause. */
int store_cl_forget(struct store *s, int64_t now, char **cause);
/* An open batch followed by replica `from` (gone) made this replica's, and
 * its reservation taken off from's lease of the month and of the team's
 * day and week (now's and the next), in one transaction: 1 taken, 0 not
 * (another replica took it, or it was settled), -1 error. */
int store_cl_batch_claim(struct store *s, const char *id, const char *from, int64_t now, char **cause);
/* The batch marked settled at `at` by this replica, if it is still this
 * replica's and not settled: 1 (it is this one's to bill), 0 (another
 * replica took it over or billed it: not billed here), -1 error. Single
 * node: 1. */
int store_cl_batch_settling(struct store *s, const char *id, int64_t at, char **cause);
/* The socket on which changes are notified (-1: none now), and how many
 * notifications arrived since the last call (it reads what is there). */
int store_cl_fd(struct store *s);
int store_cl_notified(struct store *s);

/* ---- migration: a single node's store into PostgreSQL ------------------ */
/* rows in table (teams, keys, tokens, ledger, audit, alerts), or -1 */
int64_t store_count(struct store *s, const char *table, char **cause);
/* fn(arg, v) for each row of ledger (LEDGER_COLS), audit (AUDIT_COLS) or
 * alerts (ALERT_COLS), oldest first; fn returning non-zero stops it */
int store_copy_out(struct store *s, const char *table, int (*fn)(void *arg, const char *const *v), void *arg,
		   char **cause);
/* one such row written (a row already there is left as it is) */
int store_copy_in(struct store *s, const char *table, const char *const *v, char **cause);
int store_copy_done(struct store *s, char **cause);

/* ---- for the engines (store_rows.c): rows as text columns, no SQL ------ */
#define TEAM_COLS 18
#define KEY_COLS 19
#define TOKEN_COLS 8
#define FILE_COLS 8
#define BATCH_COLS 9
#define AUDIT_COLS 9  /* id,ts_ms,actor,role,operator,action,target,before,after */
#define ALERT_COLS 7  /* id,ts_ms,kind,team,message,acked_by,acked_at */
#define LEDGER_COLS 21 /* LEDGER_COLUMNS */
#define LEDGER_COLUMNS "ts_ms,team,key,key_fp,model,status,reason,stream,prompt_tokens,completion_tokens," \
		       "cost_nusd,latency_ms,id,route,unit,quantity,request_id,end_user,requested_model," \
		       "service_tier,cached_tokens"
/* A row to write: v[i] the column's text (NULL for NULL); numbers are
 * written into num, JSON into strings rowv_free frees. */
struct rowv {
	const char *v[24];
	int n;
	char num[24][24];
	char *own[4];
	int nown;
};
void rowv_free(struct rowv *r);
void team_row(const struct team *t, struct rowv *r);
void ukey_row(const struct ukey *k, struct rowv *r);
void ctoken_row(const struct ctoken *t, struct rowv *r);
void bfile_row(const struct bfile *f, struct rowv *r);
void batch_row(const struct batch *b, struct rowv *r);
void ledger_row_cols(const struct ledger_row *x, struct rowv *r);
/* the reverse: x's strings point into v */
void ledger_row_from(const char *const *v, struct ledger_row *x);
/* Read rows (the tables' column order; NULL for NULL), allocated. */
struct team *team_from_row(const char *const *v);
struct ukey *ukey_from_row(const char *const *v);
struct ctoken *ctoken_from_row(const char *const *v);
struct bfile *bfile_from_row(const char *const *v);
struct batch *batch_from_row(const char *const *v);
void registry_load_file(struct registry *r, struct bfile *f);  /* takes f */
void registry_load_batch(struct registry *r, struct batch *b); /* takes b; an open one's reservation held */
/* id,ts_ms,actor,role,operator,action,target,before,after */
json_t *audit_entry_json(const char *const *v);
/* id,ts_ms,kind,team,message,acked_by,acked_at */
json_t *alert_entry_json(const char *const *v);
/* by-value,requests,ok,tokens,cost_nusd */
json_t *usage_by_json(const char *by, const char *const *v);

/* Usage buckets of step ms from `from`: rows (or groups of count rows)
 * added as read; ubuckets_json frees bk and returns the points (NULL when
 * !ok: the reading failed). */
struct ubuckets;
struct ubuckets *ubuckets_new(int64_t from, int64_t step, int n);
void ubuckets_add(struct ubuckets *bk, int64_t ts, bool ok, const char *reason, int64_t count, int64_t tokens,
		  int64_t cost);
json_t *ubuckets_json(struct ubuckets *bk, bool ok);

/* ---- ledger.c: ledger rows, and refusing requests while they cannot be kept */
/* Opens the journal (STORE-ledger) and moves rows of the last run that are
 * not in the store yet into it (needs g->store and g->base). */
struct ledger *ledger_open(struct gateway *g, char **cause);
void ledger_free(struct ledger *l); /* moves every row it can into the store */
/* Submits a row (copied) for the journal write at the end of this loop
 * iteration; then calls fn(arg, kept, row): kept when journaled (it reaches
 * the store within APPLY_MS). When not, the gateway is down until a probe
 * write succeeds, and the row, as fn leaves it (fn may rewrite its status,
 * and point its reason at a string that outlives the call), is kept and
 * written when the disk takes writes again (bounded). fn is where an
 * answer's last bytes go out. */
typedef void (*ledger_fn)(void *arg, bool kept, struct ledger_row *row);
void ledger_submit(struct ledger *l, const struct ledger_row *row, ledger_fn fn, void *arg);
/* Moves every journaled row into the store now (before reading the
 * ledger); -1 with *cause while the store takes no writes. */
int ledger_sync(struct ledger *l, char **cause);
void ledger_failed(struct ledger *l, const char *cause);       /* the journal took no row */
void ledger_store_failed(struct ledger *l, const char *cause); /* the store took no write */
bool ledger_down(const struct ledger *l); /* requests refused (the request path asks) */
/* What /healthz, /metrics and the admin API report. */
struct ledger_state {
	bool down;               /* the journal takes no rows: requests refused */
	bool lagging;            /* the store takes no rows: they wait in the journal */
	const char *cause;       /* while down or lagging (owned by the ledger) */
	size_t backlog;          /* rows journaled, not yet in the store */
	size_t pending;          /* rows held in memory while down */
	int64_t writes;          /* journal appends */
	int64_t grows;           /* times the journal's file grew: rows waited when it was full */
	bool mapped;             /* the journal is written through a mapping (else pwrite) */
	int64_t commits, rows;   /* transactions that moved rows into the store, and the rows */
	int64_t lost;            /* rows dropped: the memory queue was full */
};
struct ledger_state ledger_state(const struct ledger *l);

/* ---- migrate.c: --migrate-from sqlite:PATH -------------------------- */
/* Copies a single node's store into cfg's PostgreSQL store and compares the
 * counts (written to out); 0, or -1 with *cause. */
int migrate_from(const struct gw_config *cfg, const char *from, FILE *out, char **cause);


#endif
