/* gateway.h — groqgated's modules, one heading per file. Reading this
 * header is reading the gateway's architecture (see docs/architecture.md).
 *
 * Money is held as integer nano-dollars (1e-9 USD, "nusd") so that sums
 * never drift; prices are USD per million tokens, so one token of a model
 * priced P costs P*1000 nusd. */
#ifndef GG_GATEWAY_H
#define GG_GATEWAY_H

#include <jansson.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "clock.h"
#include "strmap.h"

struct event;
struct event_base;
struct httpd;
struct hreq;
struct webhook;

#define NUSD_PER_USD 1000000000LL
#define MAX_THRESHOLDS 8

/* ---- config.c: the gateway's libconfig file ------------------------ */
/* A model's price: tokens (USD per million; cached input at
 * cached_in_per_mtok, or the input price when that is < 0), or audio time
 * (USD per hour), or characters of input (USD per million); the unused
 * ones are < 0. */
struct price {
	char *model;
	double in_per_mtok, out_per_mtok, cached_in_per_mtok, per_audio_hour, per_mchar;
};

struct gw_config {
	char *path;
	char *listen, *admin_listen;       /* admin_listen NULL: same listener */
	char *upstream_base;
	/* the URLs' origins, parsed at load: upstream.base_url, alerts.webhook_url
	 * (NULL: none), groq_metrics.url (the upstream's unless set) */
	struct origin *up_origin, *hook_origin, *gm_origin;
	char *upstream_ca_file;  /* CAs for https upstreams and webhooks; NULL: the system's */
	int64_t upstream_timeout_ms, upstream_connect_timeout_ms;
	char *store_path;
	/* cluster mode (store_url set): PostgreSQL, the replica's journal,
	 * Redis for the RPM windows, this replica's name */
	char *store_url, *store_journal, *counters_redis, *replica_id;
	int64_t stale_after_s, cluster_poll_ms;
	int64_t journal_max_bytes; /* past it, rows the store has not taken refuse new ones */
	char *admin_tokens_file;
	struct price *prices;
	int nprices;
	int64_t drain_seconds;
	char *secret_hook;                 /* rotation.secret_hook command, or NULL */
	int64_t hook_timeout_s;            /* the hook is killed past it */
	int64_t org_budget_nusd;           /* 0: no organisation budget */
	int org_thresholds[MAX_THRESHOLDS], n_org_thresholds;
	char *webhook_url;
	int64_t storm_429;    /* upstream 429s per key per minute that raise an alert; 0 off */
	char *tls_cert, *tls_key;
	char *log_path;                    /* NULL: stderr */
	int64_t max_body_bytes, max_header_bytes, client_timeout_s;
	int64_t default_queue_wait_ms;
	int64_t shutdown_grace_ms;
	int64_t upstream_idle_timeout_ms; /* silence from Groq mid-answer that ends it */
	int64_t audio_max_body_bytes;     /* body limit of /openai/v1/audio/ (Groq takes 25 MB) */
	int64_t max_answer_bytes;         /* a buffered (non-streamed) answer larger is refused */
	int64_t queue_max_len;            /* requests waiting in one team's RPM queue */
	int64_t max_connections;          /* client connections held (the longest idle shed past it) */
	int64_t header_timeout_s;         /* a request head whole within it */
	int64_t max_files_per_team;       /* batch input files a team may hold */
	int64_t max_end_users;            /* end users held in memory (enduser.c) */
	double batch_discount;            /* billing */
	int64_t audio_min_seconds, batch_poll_s;
	char **cors_origins;              /* browsers' origins allowed (cors.origins) */
	int ncors;
	bool core_dumps;                  /* process.core_dumps: off unless asked for */
	/* groq_metrics: Groq's Enterprise metrics, polled (key_file NULL: not) */
	char *gm_key_file, *gm_url;       /* url: the upstream's base unless set */
	int64_t gm_interval_s, gm_timeout_ms;
	int64_t gm_window_s;              /* the rates' window: Groq's rules use 5 minutes */
	double gm_drift_tolerance;        /* Groq may count this share more than the gateway */
	double gm_drift_min_rpm;          /* ... and this many requests per minute */
	int64_t gm_retry_unavailable_s;   /* after a 404 (not Enterprise), asked again */
	/* Groq's limits of the organisation per model (groq_limits; 0: none),
	 * indexed by enum cap_lim, and how they are shared (capacity) */
	struct groq_limit {
		char *model;
		int64_t limit[6];
	} *groq_limits;
	int ngroq_limits;
	int64_t cap_reserve_pct, cap_batch_pct;
	/* models by role (model_aliases) and Groq's retirement calendar
	 * (deprecations): models.c reads them */
	struct model_alias {
		char *alias, *model;
	} *aliases;
	int naliases;
	struct deprecation {
		char *model, *replacement;
		char date[11];       /* "2026-08-16" */
		int64_t shutdown_ms; /* its UTC midnight: retired from then on */
	} *deprecations;
	int ndeprecations;
};

/* Fills *c from path; on error returns -1 with *cause "FILE:LINE: ...". */
int config_load(const char *path, struct gw_config *c, char **cause);
void config_free(struct gw_config *c);
/* The line of a setting ("admin.tokens_file") in the file, or 0. */
int config_line(const char *path, const char *setting);
/* checkconf.c: --check-config; every problem on stderr as
 * "FILE:LINE: setting: what"; returns the exit status. */
int check_config(const char *path);
/* The TLS server context of tls.cert and tls.key, or NULL with the failing
 * *setting and *cause (shared by the start-up and --check-config). */
struct ssl_ctx_st *tls_server_ctx(const struct gw_config *cfg, const char **setting, char **cause);
const struct price *config_price(const struct gw_config *c, const char *model);
/* The model an alias names, or NULL when name is not an alias. */
const char *config_alias(const struct gw_config *c, const char *name);
/* The retirement calendar's entry of a model, or NULL. */
const struct deprecation *config_deprecation(const struct gw_config *c, const char *model);
/* The ledger journal's file (allocated): store.journal, or STORE-ledger. */
char *config_journal_path(const struct gw_config *c);

/* ---- admintok.c: the admin tokens file ----------------------------- */
enum role { ROLE_VIEWER = 1, ROLE_OPERATOR = 2 };
struct admin_token {
	char name[64];
	enum role role;
	char hash[65];
};
/* Refuses a file group/other may read. Caller frees *out. */
int admintok_load(const char *path, struct admin_token **out, int *n, char **cause);
const struct admin_token *admintok_find(const struct admin_token *t, int n, const char *bearer);
const char *role_name(enum role r);

/* ---- ratelimit.c: exact sliding-window RPM ------------------------- */
/* ratelimit.c: a request waiting in its team's RPM queue (queue mode) is
 * an rlwait embedded in it; the queue calls the owner back through ops */
struct rlwait {
	struct rlwait *next;
	int64_t deadline_ms;
	bool queued;
};
struct verdict;
struct rlqueue_ops {
	/* 0 when what was checked on arrival still holds (token, pause,
	 * allowlist, cap), else -1 with v filled */
	int (*recheck)(struct rlwait *w, struct verdict *v);
	void (*admit)(struct rlwait *w);                     /* its turn: admitted */
	void (*refuse)(struct rlwait *w, struct verdict *v); /* a recheck failed */
	void (*expired)(struct rlwait *w);                   /* it waited its longest */
	int64_t (*now)(struct rlwait *w);                    /* the owner's clock */
};

/* Keeps the times of the last `limit` admitted requests; a request is
 * admitted when fewer than `limit` were admitted in the last 60 s. So no
 * 60-second window, aligned or not, ever holds more than `limit`. */
struct ratelimit {
	int64_t *ts;
	int cap, head, count;
};
void rl_init(struct ratelimit *rl, int limit);
void rl_free(struct ratelimit *rl);
void rl_resize(struct ratelimit *rl, int limit);
/* 1 and records now when admitted; 0 with *retry_ms until a slot frees. */
int rl_admit(struct ratelimit *rl, int64_t now, int64_t *retry_ms);
int rl_count(const struct ratelimit *rl, int64_t now);
/* ms until the oldest admitted request leaves the window (0 if room). */
int64_t rl_reset_ms(const struct ratelimit *rl, int64_t now);
/* The live RPM windows behind one interface: the first implementation
 * keeps them in this process (each team's ratelimit, above); cluster mode's
 * shares them through Redis (counters_redis.c). A team's counters are set
 * when it joins the registry. */
struct team;
struct registry;
struct counters;
struct counters_ops {
	const char *kind; /* "memory", "redis" */
	/* 1 admitted (and recorded), 0 with *retry_ms until a slot frees */
	int (*admit)(struct counters *c, struct team *t, int64_t now, int64_t *retry_ms);
	/* requests admitted in the last 60 s */
	int (*count)(struct counters *c, const struct team *t, int64_t now);
	/* the request path's admission (NULL: admit, at once): a wait that
	 * cb(arg, admitted, retry_ms) answers later on the loop, or NULL when
	 * it was decided at once (*ok, *retry_ms). The admissions of one loop
	 * pass share one round trip. */
	struct cwait *(*admit_async)(struct counters *c, struct team *t, int64_t now,
				     void (*cb)(void *arg, int ok, int64_t retry_ms), void *arg, int *ok,
				     int64_t *retry_ms);
	void (*cancel)(struct cwait *w); /* its answer dropped (the client left) */
};
struct counters {
	const struct counters_ops *ops;
};
extern struct counters counters_memory;
int counters_admit(struct team *t, int64_t now, int64_t *retry_ms);
int counters_count(const struct team *t, int64_t now);
struct cwait;
struct cwait *counters_admit_async(struct team *t, int64_t now, void (*cb)(void *arg, int ok, int64_t retry_ms),
				   void *arg, int *ok, int64_t *retry_ms);
void counters_cancel(struct team *t, struct cwait *w);
/* counters_redis.c: the windows in Redis at url (redis://HOST:PORT/DB);
 * a Redis that is down is not an error: limit ÷ alive replicas is then
 * enforced locally until it answers again */
struct counters *counters_redis_new(const char *url, const char *replica, struct event_base *base, char **cause);
void counters_redis_free(struct counters *c);
/* Every cluster poll, whatever PostgreSQL does: an answer overdue drops
 * the connection (its waiting requests decided locally); a reconnection
 * tried when down. */
void counters_redis_watch(struct counters *c);
/* Every second: the replicas alive, every team's fleet count read (one
 * pipelined round trip). */
void counters_redis_tick(struct counters *c, struct registry *reg, int alive);
const char *counters_redis_down(struct counters *c); /* why, or NULL when up */
/* the capacity windows shared by the fleet, in the same Redis */
const struct capfleet *counters_redis_capfleet(struct counters *c);
/* The RPM queue: w waits (until deadline_ms) for a slot in t's window;
 * ops says what to do when its turn comes. Runs the queue at once. */
struct team;
void rlq_push(struct team *t, struct rlwait *w, int64_t deadline_ms, struct event_base *base,
	      const struct rlqueue_ops *ops, int64_t now);
void rlq_remove(struct team *t, struct rlwait *w);

/* ---- registry.c: teams, upstream keys, client tokens in memory ----- */
enum team_state { TEAM_ACTIVE, TEAM_PAUSED, TEAM_BUDGET_PAUSED };
enum priority { PRIO_STANDARD, PRIO_CRITICAL, PRIO_BATCH };
#include "window.h"
enum rpm_mode { RPM_REJECT, RPM_QUEUE };
enum rot_step { ROT_NONE, ROT_VERIFIED, ROT_DEPLOYED, ROT_SECRET_UPDATED, ROT_SWITCHED };


struct team {
	char *id, *name;
	enum team_state state;
	char **models;
	int nmodels;
	int64_t max_tokens, rpm_limit, queue_wait_ms;
	enum rpm_mode rpm_mode;
	int64_t budget_nusd;
	int thresholds[MAX_THRESHOLDS], nthresholds;
	bool auto_pause;
	char *paused_by, *paused_reason;
	int64_t paused_at, version, created_at;
	int64_t override_until;  /* budget override (resume with override) ends */
	/* runtime, rebuilt from the ledger at start */
	int64_t spend_nusd, reserved_nusd, month_start;
	int alerted; /* thresholds already alerted this month */
	struct ratelimit rl;
	struct rlwait *qhead, *qtail; /* the RPM queue (ratelimit.c) */
	int qlen;
	struct event *qtimer;
	const struct rlqueue_ops *qops;
	int64_t rejected_total, requests_total;
	int nkeys;              /* upstream keys of this team (kept by the registry) */
	struct counters *ctr;   /* its RPM window (the registry's counters) */
	/* cluster mode: this replica's lease of the budget, and what it settled
	 * that has not reached PostgreSQL yet (both mirror the store's) */
	int64_t lease_nusd, unshipped_nusd;
	/* capacity (capacity.c): tokens and daily limits (0: none), priority,
	 * its windows, and its use per model in the last minute */
	int64_t tpm_limit, tpd_limit, rpd_limit;
	enum priority priority;
	/* a day's and a week's budget (UTC; weeks from Monday; 0: none), and
	 * what was settled in the current day and week (rebuilt at start) */
	int64_t day_budget_nusd, week_budget_nusd;
	int64_t day_spend_nusd, week_spend_nusd, day_start, week_start;
	/* each end user's day and minute (enduser.c; 0: none) */
	int64_t user_day_budget_nusd, user_rpm_limit;
	int64_t user_alerts_day; int user_alerts; /* alerts raised for its users this day (at most USER_ALERTS_MAX) */
	struct window *refused; /* its refusals in the last minute, by REF_* class, then all its answers (NULL: none yet) */
	int64_t refusing_at;    /* the last team_refusing alert */
	struct teamcap *cap;
	struct teamuse *mu;
	int nmu;
	bool replace_retired; /* calls to a retired model go to its replacement */
	/* models.c: the models to try next when Groq answers 429, 498 or 5xx
	 * before any byte went out (JSON {"MODEL":["MODEL",...]}, NULL none);
	 * the service tiers it may ask for (TIER_* bits, 0: all) and the one
	 * written in when it asks for none (a TIER_* bit, 0: Groq's) */
	char *fallbacks;
	unsigned tiers, default_tier;
};

struct headroom {
	int64_t limit_req, rem_req, limit_tok, rem_tok, reset_req_ms, reset_tok_ms, seen_at;
};

/* what the gateway sent with one key for one model, recently: requests
 * and tokens in buckets of window/SW_BUCKETS (reconcile.c) */
#define SW_BUCKETS 30
struct sentwin {
	int64_t idx[SW_BUCKETS + 1]; /* the bucket (time / bucket_ms) each slot holds */
	int64_t req[SW_BUCKETS + 1], tin[SW_BUCKETS + 1], tout[SW_BUCKETS + 1];
};
struct keysent {
	char *model;
	struct sentwin w;
};

struct ukey {
	char *name, *team;
	char *groq_project;            /* Groq's project id of the key, or NULL */
	char *secret;                  /* wiped on free */
	char fp[48];
	int64_t created_at, last_used_at;
	int64_t hourly[24], hour_base; /* requests per hour, last 24 h */
	int inflight;
	bool rejected;                 /* Groq answered 401 for it */
	bool busy;                     /* a rotation step is running (verify, hook) */
	/* rotation */
	enum rot_step rot;
	char *new_secret;
	char new_fp[48];
	char *rot_by;
	int64_t rot_started_at, rot_switched_at, rot_updated_at;
	int64_t old_since_switch, old_last_used;
	int old_inflight;
	struct headroom hr;
	int64_t storm_from, storm_alerted; /* upstream 429s: window start, last alert */
	int storm_n;
	struct keysent *sent;          /* per model, for reconciliation with Groq */
	int nsent;
	int64_t version;               /* every write bumps it: a write over a newer one is a conflict */
	/* its own limits inside its team's (0: none): staging cannot spend
	 * production's money; and what it spent this month, held now */
	int64_t budget_nusd, rpm_limit, tpm_limit;
	int64_t spend_nusd, reserved_nusd, month_start;
	int64_t alerted_month;          /* the month a key_budget_reached alert was raised for */
	struct ratelimit rl;            /* its RPM window (rpm_limit) */
	struct window tpm;              /* its tokens in the last minute (tpm_limit) */
};

struct ctoken {
	char *id, *team, *key, *label;
	char hash[65];
	int64_t created_at, revoked_at, last_used_at;
	char *created_by;
	int64_t requests;   /* authenticated since the gateway started */
};

/* a batch input file the gateway checked, or a batch's output: whose it is */
struct bfile {
	char *id, *team, *key;
	int64_t worst_nusd;  /* the most its lines can cost, at the batch price */
	int64_t lines, created_at;
	bool deleted;
	json_t *index;       /* an input file's lines: custom_id -> [model, most prompt, most output tokens] */
};
/* a batch: its reservation held until Groq says it ended and its output
 * is settled */
struct batch {
	char *id, *team, *key, *input;
	char status[16];
	int64_t reserved_nusd, cost_nusd, created_at, settled_at; /* settled_at 0: open */
	bool foreign; /* cluster mode: another replica made it, follows and settles it */
	char *owner;  /* cluster mode: the replica that follows it (NULL: this one) */
};

struct registry {
	strmap *files, *batches; /* id -> struct bfile* / struct batch* */
	struct team **teams;
	int nteams, capteams;
	struct ukey **keys;
	int nkeys, capkeys;
	struct ctoken **tokens;
	int ntokens, captokens;
	strmap *team_by_id, *key_by_name, *token_by_hash, *token_by_id;
	int64_t org_spend_nusd, org_reserved_nusd, org_month_start;
	int org_alerted;
	struct counters *ctr;    /* given to every team added (NULL: in memory) */
	struct endusers *users;  /* end users' days and minutes (enduser.c), or NULL */
	struct model_alias *aliases; /* set by operators (PUT /admin/v1/aliases/{alias}) */
	strmap *groq_retired;        /* model -> int64_t* since: Groq stopped listing it, or answered
				      * model_decommissioned (models.c) */
	int naliases;
};

void registry_init(struct registry *r);
void bfile_free(struct bfile *f);
void batch_free(struct batch *b);
void registry_free(struct registry *r);
struct team *team_new(void);
void team_free(struct team *t);
void registry_add_team(struct registry *r, struct team *t);
/* Moves the persistent fields of c into t (c's strings become t's, t's
 * old ones freed, c's id freed); t's live figures kept. */
void team_adopt(struct team *t, struct team *c);
/* What the store holds now (f, freshly loaded) brought into r: new teams,
 * keys, tokens, files and batches moved over, what an operator sets copied
 * into the ones r has (their live figures kept), revocations applied.
 * Returns how many changed; f keeps the rest, for registry_free. */
int registry_merge(struct registry *r, struct registry *f);
/* A row of t's left PostgreSQL's way (cluster mode): no longer unshipped,
 * and off the lease, as the store did. */
void team_shipped(struct team *t, int64_t cost);
void registry_add_key(struct registry *r, struct ukey *k);
void registry_del_key(struct registry *r, struct ukey *k);
void registry_add_token(struct registry *r, struct ctoken *t);
/* an operator's alias set (model NULL: taken away); the model it names, or NULL */
void registry_set_alias(struct registry *r, const char *alias, const char *model);
const char *registry_alias(const struct registry *r, const char *alias);
struct team *registry_team(struct registry *r, const char *id);
struct ukey *registry_key(struct registry *r, const char *name);
void ukey_free(struct ukey *k);
void ctoken_free(struct ctoken *t);
bool team_allows(const struct team *t, const char *model);
const char *team_state_name(enum team_state s);
int team_state_parse(const char *s);
const char *rot_step_name(enum rot_step s);
/* Requests in the last 24 h from the hourly ring. */
int64_t ukey_requests_24h(struct ukey *k, int64_t now);
void ukey_count(struct ukey *k, int64_t now);
/* The secret new requests use right now (new after a switch). */
const char *ukey_active_secret(const struct ukey *k);
/* team JSON for the admin API; live figures need now and the RPM window. */
json_t *team_json(const struct team *t, int64_t now, int nkeys);
json_t *ukey_json(const struct ukey *k, int64_t now, int64_t drain_ms);
json_t *ctoken_json(const struct ctoken *t);
json_t *time_or_null(int64_t ms); /* ISO-8601, or null for 0 */
/* the settable limits of a key in j (monthly_budget_usd, rpm_limit,
 * tpm_limit) into k: 0, or -1 with e filled (teamspec.c) */
int spec_key_fields(struct ukey *k, json_t *j, struct verdict *e);
/* Key names follow {team}-{environment}-{purpose}. */
bool key_name_valid(const char *name, const char *team, char **cause);
bool slug_valid(const char *s);

/* ---- store.h / store_sqlite.c ------------------------------------- */
#include "store.h"

/* ---- price.c: costs in each billing unit (pure) --------------------- */
enum bill_unit { BU_NONE, BU_TOKENS, BU_AUDIO_SECONDS, BU_CHARS };
#define COST_MAX (1000000LL * NUSD_PER_USD) /* one request never costs more ($1M) */
#define PROMPT_TOKENS_MAX (16LL << 20)        /* no model reads more tokens than this */
const char *bill_unit_name(enum bill_unit u); /* "tokens", "audio_seconds", "characters" */
bool price_bills(const struct price *p, enum bill_unit u); /* p can price this unit */
/* in tokens of which cached were cached, out tokens; times factor (a batch
 * discount). Rounded up, within [0, COST_MAX]; 0 without a token price. */
int64_t cost_tokens(const struct price *p, int64_t in, int64_t cached, int64_t out, double factor);
int64_t cost_nusd(const struct price *p, int64_t in_tokens, int64_t out_tokens);
int64_t cost_audio(const struct price *p, int64_t seconds);
int64_t cost_chars(const struct price *p, int64_t chars);
/* spend >= pct % of budget, exact for every int64_t amount */
bool money_reached(int64_t spend, int64_t budget, int pct);
/* how many of the thresholds pct[0..n) (ascending) spend has reached of
 * budget: the one rule for "already crossed" (start-up, a changed budget,
 * another replica's figures); 0 when there is no budget */
int money_crossed(const int *pct, int n, int64_t spend, int64_t budget);

/* ---- capacity.c: Groq's capacity, shared fairly ----------------------- */
enum cap_lim { CL_RPM, CL_RPD, CL_TPM, CL_TPD, CL_ASH, CL_ASD, CL_N };
extern const char *const cap_lim_name[CL_N]; /* "rpm", "rpd", ... */
const char *priority_name(enum priority p);
int priority_parse(const char *s); /* enum priority, or -1 */
struct capacity;
struct capacity *capacity_new(const struct gw_config *cfg);
void capacity_configure(struct capacity *c, const struct gw_config *cfg); /* after a reload */
void capacity_free(struct capacity *c);
/* cluster mode: the replicas serving; each enforces an equal share of
 * every limit (team and organisation), so the fleet never passes one */
void capacity_share(struct capacity *c, int replicas);
/* what one request took, to be corrected when it settles */
struct orgmodel;
struct capres {
	struct orgmodel *m;
	int top;
	int64_t at, take[CL_N];
	bool held;
	/* cluster mode: the fleet's buckets the take was leased in (0: this
	 * replica's share), for the settlement's correction */
	const struct capfleet *fleet;
	int64_t tstamp[3], mstamp[CL_N][3];
};
/* The fleet's windows (cluster mode with Redis: counters_redis.c): room
 * leased from a window every replica shares, so that the fleet never
 * passes a limit and one replica may use all of it. A lease is used for
 * CAP_LEASE_MS and dated that far ahead in the fleet's window. */
#define CAP_LEASE_MS 1000
struct capfleet {
	void *arg;
	/* Leases need..want of scope's window (span, bucket) under limit:
	 * 0 with *got and its bucket *stamp; 1 it does not fit now (*retry_ms,
	 * *used: the fleet's use); -1 the fleet cannot be asked (this
	 * replica's share decides). Blocking, with a short timeout. */
	int (*lease)(void *arg, const char *scope, int64_t span_ms, int64_t bucket_ms, int64_t limit, int64_t need,
		     int64_t want, int64_t *got, int64_t *stamp, int64_t *retry_ms, int64_t *used);
	/* amount added to (negative: given back to) scope's bucket stamp, if
	 * it is still in the window; no answer awaited */
	void (*give)(void *arg, const char *scope, int64_t stamp, int64_t amount);
};
/* the fleet asked for room (NULL: none, this replica's windows alone) */
void capacity_fleet(struct capacity *c, const struct capfleet *f);
/* leases that ended with room unused: back to the fleet */
void capacity_fleet_tick(struct capacity *c, struct registry *reg, int64_t now);
/* Takes need (requests, tokens, audio seconds per limit) from t's windows
 * and model's, by t's priority: 0, or -1 with a 429 (retry_ms: when it
 * fits) or 413 (it never can) verdict in Groq's shape. */
int capacity_admit(struct capacity *c, struct team *t, const char *model, const int64_t need[CL_N], int64_t now,
		   struct capres *r, struct verdict *v);
/* a request of the ledger (at ts, tokens counted by Groq) brought back into
 * the windows at start: a restart forgets nothing of the last day */
void capacity_recount(struct capacity *c, struct team *t, const char *model, int64_t ts, int64_t tokens, int64_t now);
/* gives back what was taken and not used (or takes more) */
void capacity_settle(struct team *t, struct capres *r, const int64_t used[CL_N], int64_t now);
/* Groq's headers for a model with no declared limits: its RPD and TPM */
void capacity_learn(struct capacity *c, const char *model, int64_t rpd, int64_t tpm);
/* Groq answered 429 for model: every team waits until `until`. True when
 * this is a new hold worth an alert. */
bool capacity_hold(struct capacity *c, const char *model, int64_t until, const char *why, int64_t now);
/* the prompt's tokens as capacity counts them (a learned bytes-per-token
 * with a margin, never above upper), and the learning from settled usage */
int64_t capacity_prompt(struct capacity *c, const char *model, int64_t bytes, int64_t upper);
void capacity_calibrate(struct capacity *c, const char *model, int64_t bytes, int64_t prompt_tokens);
/* the x-ratelimit-* figures for t on model: the team's own limits where it
 * has them, the organisation's share of its class otherwise; 0: none */
struct capview {
	int64_t limit_req, rem_req, reset_req, limit_tok, rem_tok, reset_tok;
};
int capacity_headroom(struct capacity *c, struct team *t, const char *model, int64_t now, struct capview *out);
json_t *capacity_json(struct capacity *c, const struct registry *reg, int64_t now); /* GET /admin/v1/capacity */
/* the i-th model known (NULL past the last) and its use of each limit
 * (ratio < 0: no such limit), for /metrics */
const char *capacity_model_use(struct capacity *c, int i, int64_t now, double ratio[CL_N]);
int64_t team_tpm(struct team *t, int64_t now); /* tokens in the last 60 s */
void teamcap_free(struct teamcap *tc);
/* a team's requests and tokens per model, for the capacity view */
void team_model_count(struct team *t, const char *model, int64_t at, int64_t now, int64_t req, int64_t tok);
void team_model_free(struct team *t);

/* ---- routes.c: every Groq route, its policy and billing, one table ----- */
enum route_kind {
	RK_CHAT,       /* tokens; cap: max_completion_tokens / max_tokens; n choices */
	RK_RESPONSES,  /* tokens; cap: max_output_tokens; streams end without [DONE] */
	RK_EMBEDDINGS, /* input tokens only */
	RK_TRANSCRIBE, /* a form; audio seconds from the answer's duration */
	RK_SPEECH,     /* characters of input, known before forwarding; audio relayed */
	RK_MODELS,     /* filtered to the team's allowlist; not charged */
	RK_MODEL,      /* the model id in the path is checked against the allowlist */
	RK_REFUSED,    /* a Groq route the gateway cannot yet account for: refused */
	RK_FILE_UPLOAD, /* a batch input file: every line checked, caps written in, its worst case noted */
	RK_FILES,      /* the list, filtered to the team's files */
	RK_FILE,       /* one file (its content, its deletion): the team's own only */
	RK_BATCH_CREATE, /* reserved at the batch price from its input file's worst case */
	RK_BATCHES,    /* the list, filtered to the team's batches */
	RK_BATCH,      /* one batch (its cancel): the team's own only */
};
enum body_kind { BK_NONE, BK_JSON, BK_FORM };
struct route {
	int methods;          /* enum hmethod bits */
	const char *path;     /* exact, or the prefix of a parameter */
	bool param;           /* the rest of the path is a parameter (an id) */
	const char *name;     /* "chat.completions": in the ledger and the log */
	enum route_kind kind;
	enum body_kind body;
	enum bill_unit unit;
	const char *refused;  /* why the route is refused (RK_REFUSED) */
};
/* The route for method and path, or NULL (*method_mismatch when the path
 * is served with another method). *param: the decoded parameter (caller
 * frees). Paths that are not canonical match nothing. */
const struct route *route_find(int method, const char *path, char **param, bool *method_mismatch);

/* ---- budget.c: reservations, settlement, thresholds (pure) ---------- */
struct gateway;
/* what the budget makes happen, applied by whoever runs it */
struct budget_fx {
	void (*alert)(void *arg, const char *kind, const char *team, const char *message);
	/* a team paused at its budget (TEAM_BUDGET_PAUSED) or resumed by a new month */
	void (*set_state)(void *arg, struct team *t, enum team_state st, const char *reason);
	/* cluster mode (else NULL): this replica's lease of t's budget grown
	 * to at least need; 0, or -1 with *why */
	int (*lease)(void *arg, struct team *t, int64_t need, char **why);
	void *arg;
};
struct month_cache {
	int64_t from, to; /* the current UTC month */
};
struct budget_env {
	struct registry *reg;     /* the organisation's spend and reservations */
	int replicas;             /* cluster mode: the replicas serving (a day's and a week's budget each's share) */
	int64_t org_budget_nusd;  /* 0: none */
	const int *org_thresholds;
	int n_org_thresholds;
	int64_t now;
	struct month_cache *month;
	const struct budget_fx *fx; /* NULL: no consequences */
};
void usd2(char *out, size_t n, int64_t nusd); /* "$1.25" ($0.000125 below a cent) */
/* Month roll-over: resets spend, alerts and a budget pause. */
void budget_roll(struct budget_env *e, struct team *t);
/* 0 and the amount reserved, or -1 with *why (allocated) when it does not fit. */
int budget_reserve(struct budget_env *e, struct team *t, int64_t amount, char **why);
/* Releases reserved and adds actual; raises alerts, may auto-pause. */
void budget_settle(struct budget_env *e, struct team *t, int64_t reserved, int64_t actual);
/* Re-evaluates thresholds and auto-pause after spend or budget changes. */
void budget_check(struct budget_env *e, struct team *t);
/* budgetfx.c: the environment of the running gateway (its alerts, its
 * audited pauses, now) */
struct budget_env gw_budget(struct gateway *g);

/* ---- meter.c: usage from Groq responses ---------------------------- */
struct usage {
	int64_t prompt, completion; /* tokens (Responses: input, output) */
	int64_t cached;             /* of prompt, read from the cache */
	double audio_s;             /* seconds of audio (a transcription's duration) */
	bool seen;
};
/* Incremental SSE splitter: feeds bytes, yields complete events. */
struct sse {
	buf pending;
	struct usage usage;  /* x_groq.usage, else top-level usage (Responses:
			      * response.usage): counted once */
	bool got_xgroq, done;
	int64_t events;
	bool usage_event;    /* the event just emitted carried the usage */
};
void sse_init(struct sse *s);
void sse_free(struct sse *s);
/* Appends data; calls emit(arg, event, len) for each whole event (the
 * bytes including the blank line). [DONE] is not emitted: s->done is set. */
void sse_feed(struct sse *s, const char *data, size_t len,
	      void (*emit)(void *arg, const char *ev, size_t len), void *arg);
/* Reads usage from a non-streamed JSON body (chat, embeddings: prompt_ and
 * completion_tokens; Responses: input_ and output_tokens; cached tokens
 * from either's details). */
bool usage_from_json(const char *body, size_t len, struct usage *u);
/* A transcription's verbose_json answer: *duration (seconds, -1 when
 * absent) and the answer in fmt ("json", "text" or "verbose_json") with its
 * *ctype (static); allocated, NULL when body is no transcription. */
char *audio_answer(const char *body, size_t len, const char *fmt, double *duration, size_t *outlen,
		   const char **ctype);
/* A list answer ({"data":[{"id":...},...]}) made anew with only the
 * entries whose id keep() accepts ("object", "data", first_id and last_id
 * of what is kept, has_more); -1 (answer untouched) when it has no data
 * array to filter. */
int answer_keep(buf *answer, bool (*keep)(void *arg, const char *id), void *arg);
/* Characters (code points) of UTF-8 text: what text to speech bills. */
int64_t utf8_chars(const char *s, size_t n);
bool utf8_valid(const char *s, size_t n); /* well-formed UTF-8 (no overlong forms, no surrogates) */
/* One of Groq's answer headers: true when it is an x-ratelimit-* one
 * (its value noted in hr when it parses). */
bool headroom_header(struct headroom *hr, const char *name, const char *value);
/* Upper bound of the prompt's tokens, from the request's length and its
 * number of messages (never below what Groq counts: one token is at least
 * one byte of text). */
int64_t prompt_estimate(size_t body_len, size_t nmessages);

/* ---- reqbody.c: a client's JSON body, checked and read without a tree */
struct jspan {
	const char *p; /* a value as it appears in the body */
	size_t n;      /* 0: absent */
};
struct reqbody {
	struct jspan model, stream, max_tokens, max_completion_tokens, messages, max_output_tokens, n, input, service_tier,
		user;
	size_t nmessages; /* elements, when messages is an array */
	size_t close;     /* offset of the object's closing '}' */
	bool empty;       /* the object has no members */
	const char *dup;  /* a member above named twice (static), or NULL */
	char variant[32]; /* a key that is one of them but for letter case, or "" */
};
/* Checks that s is one JSON object, as strictly as jansson does, and notes
 * its top-level members of interest (a repeated key counts by its last
 * value). 0, or -1 with what and where in err. */
int reqbody_scan(const char *s, size_t len, struct reqbody *b, char *err, size_t errlen);
enum jkind { J_ABSENT, J_NULL, J_TRUE, J_FALSE, J_NUMBER, J_STRING, J_ARRAY, J_OBJECT };
enum jkind jspan_kind(struct jspan v);
bool jspan_int(struct jspan v, int64_t *out); /* an integer (no fraction or exponent) that fits */
bool jspan_given(struct jspan v);             /* present and not null: the client sent a value */
char *jspan_string(struct jspan v);           /* decoded (caller frees), or NULL: not a string */
/* s with key set to value (caller frees): the value at `at` (a member of
 * s that b found) replaced, or "key":value added as the last member when
 * at is absent. */
char *reqbody_with_int(const char *s, size_t len, const struct reqbody *b, struct jspan at, const char *key,
		       int64_t value, size_t *outlen);
/* the same with value a JSON text (a string already quoted and escaped) */
char *reqbody_with_json(const char *s, size_t len, const struct reqbody *b, struct jspan at, const char *key,
			const char *value, size_t *outlen);

/* ---- verdict.c + policy.c: what becomes an HTTP answer, and the
 * pipeline's decision stages ------------------------------------------ */
struct verdict {
	int status;
	const char *type, *code;
	const char *reason; /* the ledger's and metrics' name for the refusal */
	char *message;      /* allocated */
	int64_t retry_ms;
};
/* verdict.c: */
void verdict_clear(struct verdict *v);
/* Fills v (msg is taken) and returns -1. */
int deny(struct verdict *v, int status, const char *type, const char *code, const char *reason, char *msg);
/* An input error (invalid_request_error, reason = code): -1. */
int refusef(struct verdict *v, int status, const char *code, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* authenticate: bearer -> token; 0 or -1 with a 401 verdict. */
int stage_authenticate(struct registry *r, const char *bearer, struct ctoken **tok, struct verdict *v);
/* policy: paused, budget-paused, the allowlist (model NULL: none to check) */
int stage_policy(const struct team *t, const char *model, struct verdict *v);
/* ---- models.c: aliases and retirements ------------------------------ */
/* stage_model: the model a request names (asked) -> the model Groq is
 * sent (*send, asked itself or a string of the configuration): an alias
 * becomes its model; a model retired at now becomes its replacement for
 * a team with replace_retired, else a 400 in Groq's model_decommissioned
 * shape naming the replacement (no round trip to Groq). 0 or -1. */
int stage_model(const struct gw_config *c, const struct registry *r, const struct team *t, int64_t now,
		const char *asked, const char **send, struct verdict *v);
/* The aliases in force: an operator's (r, may be NULL) before the
 * configuration's of the same name. The model alias names, or NULL. */
const char *alias_model(const struct gw_config *c, const struct registry *r, const char *alias);
/* all of them, [{"alias","model","source":"admin"|"config"}], by alias */
json_t *aliases_json(const struct gw_config *c, const struct registry *r);
/* Groq's service tiers, as bits (capacity.c) */
enum { TIER_ON_DEMAND = 1, TIER_FLEX = 2, TIER_PERFORMANCE = 4, TIER_AUTO = 8 };
#define TIER_N 4
unsigned tier_parse(const char *name); /* a TIER_* bit, or 0 */
const char *tier_name(unsigned bit);   /* NULL for 0 */
json_t *tiers_json(unsigned bits);     /* the names, in order */
/* The next model to try after `tried` (the models sent so far, in order,
 * the asked one first) failed: the first of the fallbacks of the model
 * asked, then of each tried, the team may call, priced, not yet tried;
 * NULL when none is left. */
const char *fallback_next(const struct gw_config *c, const struct team *t, const char *const *tried, int ntried);
/* Checks a team's fallbacks (JSON): an object of model -> models the team
 * may call (allowed), priced, with no cycle; 0, or -1 with v. */
int fallbacks_check(const struct team *t, json_t *fb, const struct gw_config *c, struct verdict *v);
/* {model: [team, ...]}: the teams the ledger shows served by each model
 * in the last 7 days (caller frees), or NULL with *cause. */
json_t *models_callers_7d(struct gateway *g, char **cause);
/* Groq's model list (list: {"data":[...]}, taken) in place of the cached
 * one: a model it listed before and lists no more is retired now; one
 * listed again no longer is */
void models_list_update(struct gateway *g, json_t *list);
/* model retired now by Groq's own word (a 400 model_decommissioned) */
void models_groq_retired(struct gateway *g, const char *model, const char *why);
/* An alert model_retiring for each team that called a model in the last
 * 7 days, 30 and 7 days before its shutdown, each made once (the store's
 * alerts are the memory, across restarts and replicas): how many were
 * made, or -1 with *cause. */
int models_tell_retiring(struct gateway *g, char **cause);

/* the output cap: each field given must be an integer in 1..the team's
 * cap; *cap is the largest given, or the team's when none is */
struct capfield {
	const char *name;
	struct jspan v;
};
int stage_cap(const struct team *t, const struct capfield *f, int n, int64_t *cap, struct verdict *v);
/* the route's caps read from its body (chat: max_completion_tokens and
 * max_tokens, and n; Responses: max_output_tokens): *cap, *n (1 unless
 * sent), *write the member to write the team's cap into when none was
 * sent (NULL: one was) */
int stage_caps(const struct team *t, enum route_kind kind, const struct reqbody *b, int64_t *cap, int64_t *n,
	       const char **write, struct verdict *v);
/* the 429 verdict of a request an RPM window (of a team, of an upstream
 * key: what) had no room for (retry_ms until it has) */
int rpm_refusal(const char *what, const char *name, int64_t limit, int64_t retry, struct verdict *v);
/* refusals by what a team would do about them (the console's REF/m) */
enum { REF_BUDGET, REF_RATE, REF_MODEL, REF_CAP, REF_PAUSED, REF_OTHER, REF_N };
extern const char *const refusal_class_name[REF_N]; /* "budget", "rate", ... */
int refusal_class(const char *reason);              /* a verdict's reason -> REF_* */
/* t answered a request at now (reason: its refusal's, NULL when served);
 * what it refused in the minute before now, by class, into n (REF_N),
 * returning the total */
void team_answered(struct team *t, const char *reason, int64_t now);
int64_t team_refusals(struct team *t, int64_t now, int64_t *n);
/* true (why filled) when t refused at least REFUSING_MIN requests and half
 * of all in the last minute, at most once every REFUSING_QUIET_MS: a
 * team's callers failing, worth an alert */
#define REFUSING_MIN 20
#define REFUSING_QUIET_MS (15 * 60000)
bool team_refusing(struct team *t, int64_t now, char *why, size_t n);
/* the 429 verdict of a request the window had no room for (retry_ms until it has) */
int ratelimit_refusal(const struct team *t, int64_t retry_ms, struct verdict *v);

/* ---- upstream.c: outgoing HTTP/1.1 on the libevent loop ------------- */
struct upstream;
struct utx;
struct origin;
struct hstatus;
struct utx_cbs {
	/* the answer's head: status and fields, valid during the call */
	void (*on_head)(void *arg, const struct hstatus *h);
	void (*on_data)(void *arg, const char *data, size_t len);
	void (*on_done)(void *arg, int ok, const char *err);          /* err NULL when ok */
};
/* ca_file: the CAs to trust for https (NULL: the system's) */
struct upstream *upstream_new(struct event_base *base, const char *ca_file);
const char *upstream_engine(const struct upstream *u); /* for the start-up log */
void upstream_free(struct upstream *u);
/* A request: its target is the origin's path, then path, then ?query. */
struct ureq {
	const char *method;
	const char *path, *query;   /* NULL: none */
	const char *const *headers; /* NULL-terminated "Name: value" list */
	const char *body;           /* NULL: none */
	size_t len;
	int64_t timeout_ms, connect_timeout_ms;
};
/* Starts a transfer to o (which it holds a reference to). Returns the
 * transfer, owned by upstream until on_done or utx_cancel (after which no
 * callback runs). */
struct utx *upstream_start(struct upstream *u, struct origin *o, const struct ureq *r, const struct utx_cbs *cbs,
			   void *arg);
void utx_cancel(struct utx *t);
void utx_pause(struct utx *t, bool pause);
int upstream_active(const struct upstream *u);

/* ---- reconcile.c: Groq's figures beside the gateway's (pure) --------- */
struct gm_figures;
/* A request sent to Groq with k for model (answered or not), its tokens. */
void sent_count(struct ukey *k, const char *model, int64_t now, int64_t window_ms, int64_t tin, int64_t tout);
/* What k sent for model (NULL: all models) in the window ending now (it
 * may include up to one bucket more: never less than Groq counts). */
void sent_sum(const struct ukey *k, const char *model, int64_t now, int64_t window_ms, int64_t *req, int64_t *tin,
	      int64_t *tout);
void sent_free(struct ukey *k);
struct drift_rule {
	double tolerance; /* Groq may count this share more than the gateway ... */
	double min_rpm;   /* ... plus this many requests per minute */
};
/* Groq counts clearly more requests than the gateway sent */
bool drift_decide(const struct drift_rule *r, double groq_rpm, double gateway_rpm);
/* ... or clearly fewer than the gateway sent with keys it names as the
 * project's: one of them is another project's (the key's groq_project is
 * wrong, or a new key was made in another project) */
bool mismatch_decide(const struct drift_rule *r, double groq_rpm, double gateway_rpm);
/* The projects of /admin/v1/groq: every project that a key names or that
 * Groq reports (f NULL: no figures), Groq's rates beside the gateway's, per
 * minute, and whether it drifts. */
json_t *reconcile(const struct gm_figures *f, const struct registry *reg, int64_t now, int64_t window_ms,
		  const struct drift_rule *r);
/* Models a team may call (or that are priced) that Groq does not list:
 * [{"team","model"}] (team null for a price); models is Groq's list. */
json_t *unlisted_models(const struct registry *reg, const struct gw_config *cfg, json_t *models);

/* ---- batch.c: files and batches, checked, reserved, settled -------- */
/* The lines of a batch input file (JSONL), each checked against the team's
 * policy as a chat completion would be: its model allowed and priced, its
 * cap within the team's (the team's written in when absent), n bounded, no
 * stream. *out gets the file Groq receives; *worst the most its lines can
 * cost at the batch price (billing.batch_discount). 0, or -1 with v naming
 * the line. */
int batch_lines(const char *data, size_t len, const struct team *t, const struct gw_config *cfg, buf *out,
		int64_t *worst, int64_t *lines, json_t *index, struct verdict *v);
/* the same a slice at a time (slice bytes of data at most, then the line
 * it is in; 0: all): 1 when more is left, 0 done, -1 refused (v filled).
 * Start from a zeroed scan; its worst and lines are the file's at 0. */
struct batch_scan {
	size_t at;
	int line;
	int64_t worst, lines;
	const struct registry *reg; /* the operators' aliases (NULL: the configuration's only) */
	int64_t now;                /* for the retirement calendar (0: none retired) */
};
int batch_lines_step(struct batch_scan *sc, const char *data, size_t len, const struct team *t,
		     const struct gw_config *cfg, buf *out, json_t *index, size_t slice, struct verdict *v);
/* a key of an object in j (at any depth) that appears twice but for letter
 * case, written lower-case into out (NULL: none) */
const char *json_case_twin(json_t *j, char *out, size_t n);
/* the input files a team holds (uploaded, not deleted) */
int team_files(struct registry *r, const struct team *t);
/* the team's own file or batch (NULL: none, or another team's) */
struct bfile *team_file(struct registry *r, const struct team *t, const char *id);
struct batch *team_batch(struct registry *r, const struct team *t, const char *id);
/* Groq's answers to the team's requests: noted (an uploaded file, a batch
 * created with reserved held), or filtered to the team's own (a list) */
void batch_uploaded(struct gateway *g, struct team *t, struct ukey *k, buf *answer, int64_t worst, int64_t lines,
		    json_t *index);
int batch_created(struct gateway *g, struct team *t, struct ukey *k, const char *input, buf *answer, int64_t reserved);
int batch_filter(struct gateway *g, struct team *t, buf *answer, bool batches); /* -1: not a list */
void batch_file_deleted(struct gateway *g, struct bfile *f);
/* Follows open batches every billing.batch_poll_s until they end, then
 * settles each from its output file's usage. */
struct batchwatch *batchwatch_start(struct gateway *g);
void batchwatch_free(struct batchwatch *w);

/* ---- groqwatch.c: Groq's metrics polled, drift alerted ------------- */
struct groqwatch;
/* Starts polling when groq_metrics is configured (else a watch that says
 * so); never blocks the loop. */
struct groqwatch *groqwatch_start(struct gateway *g);
void groqwatch_free(struct groqwatch *w);
json_t *groqwatch_json(struct gateway *g);          /* GET /admin/v1/groq */
json_t *groqwatch_summary(struct gateway *g);       /* the overview's "groq" */
void groqwatch_metrics(struct gateway *g, buf *out); /* its /metrics lines */
void groqwatch_reload(struct gateway *g);           /* after SIGHUP */
/* Groq answered 400 model_decommissioned to a request of team for model */
void groqwatch_decommissioned(struct gateway *g, const char *team, const char *model);

/* ---- alerts.c: alert records and the webhook ---------------------- */
void alert_raise(struct gateway *g, const char *kind, const char *team, const char *message);
json_t *alerts_recent(struct gateway *g, int limit);
/* an alert acknowledged: the recent list (the overview's) says so too */
void alert_acked(struct gateway *g, int64_t id, const char *by, int64_t at);

/* ---- metrics.c: Prometheus text ----------------------------------- */
struct metrics;
struct metrics *metrics_new(void);
void metrics_free(struct metrics *m);
void metrics_request(struct metrics *m, const char *team, const char *model, int status,
		     int64_t prompt, int64_t completion, int64_t cost, int64_t latency_us);
void metrics_reject(struct metrics *m, const char *reason);
void metrics_alert(struct metrics *m, const char *kind);
void metrics_tier(struct metrics *m, const char *tier); /* a request Groq answered (tier NULL: Groq's default) */
void metrics_upstream_error(struct metrics *m, int status);
void metrics_render(struct metrics *m, struct gateway *g, buf *out);
void metrics_label(buf *out, const char *value); /* a label value, escaped */

/* ---- proxy.c: the data plane -------------------------------------- */
void proxy_handle(struct gateway *g, struct hreq *req, const char *path);
int proxy_inflight(struct gateway *g);

/* ---- spend.c: GET /admin/v1/spend, showback from the ledger ----------- */
void spend_route(struct gateway *g, struct hreq *req);

/* ---- enduser.c: each end user's day of spend and minute of requests,
 * per team, in bounded memory (the least recently seen let go past max) */
struct endusers;
struct endusers *endusers_new(size_t max);
void endusers_free(struct endusers *u);
size_t endusers_count(const struct endusers *u);   /* held now */
int64_t endusers_evicted(const struct endusers *u); /* let go since start */
/* today's spend of team's user, from the ledger at start */
void enduser_seed(struct endusers *u, const char *team, const char *user, int64_t spent, int64_t now);
/* t's per-user RPM and daily budget for one request that may cost amount:
 * 0 (amount reserved, the request counted), or -1 with v (429 or 402);
 * -2 for the user's first refusal for its budget this day (an alert) */
int enduser_admit(struct endusers *u, const struct team *t, const char *user, int replicas, int64_t now,
		  int64_t amount, struct verdict *v);
void enduser_settle(struct endusers *u, const struct team *t, const char *user, int64_t reserved, int64_t actual,
		    int64_t now);
/* the user's daily budget as GET /groqgate/v1/quota shows it (NULL: none),
 * and what it has left (INT64_MAX: no budget) */
json_t *enduser_json(struct endusers *u, const struct team *t, const char *user, int replicas, int64_t now);
int64_t enduser_remaining(struct endusers *u, const struct team *t, const char *user, int replicas, int64_t now);

/* ---- quota.c: GET /groqgate/v1/quota, a caller's own budgets and limits */
void quota_handle(struct gateway *g, struct hreq *req);
/* the least a team has left of its budgets (monthly, weekly, daily) */
int64_t budget_remaining(const struct team *t, int replicas);
/* the least a caller has left: its team's budgets, its key's, its end user's */
int64_t caller_remaining(struct gateway *g, const struct team *t, const struct ukey *k, const char *user);

/* ---- audit.c: audited writes (beneath admin, rotation, budget) ------- */
void admin_error(struct hreq *req, int status, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Records an audit entry inside the current transaction. */
int audit(struct gateway *g, const char *actor, const char *role, const char *op, const char *action,
	  const char *target, json_t *before, json_t *after, char **cause);
/* Writes obj with put (NULL: nothing but the audit) and its audit record in
 * one transaction; rolls back and returns -1 with *cause on any failure. */
typedef int (*store_put_fn)(struct store *s, const void *obj, char **cause);
int audited_write(struct gateway *g, store_put_fn put, const void *obj, const char *actor, const char *role,
		  const char *op, const char *action, const char *target, json_t *before, json_t *after,
		  char **cause);
int put_team(struct store *s, const void *o, char **cause);
int put_key(struct store *s, const void *o, char **cause);

/* ---- admin.c: /admin/v1 ------------------------------------------- */
void admin_handle(struct gateway *g, struct hreq *req, const char *path);
/* ---- rotation.c: the guided key rotation -------------------------- */
void rotation_route(struct gateway *g, struct hreq *req, struct ukey *k, const char *step,
		    const struct admin_token *who, const char *op);

/* ---- server.c / main.c: the process ------------------------------- */
struct gateway {
	struct gw_config cfg;
	struct event_base *base;
	struct httpd *http, *admin_http;
	struct upstream *up;
	struct store *store;
	struct registry reg;
	struct metrics *metrics;
	struct admin_token *admins;
	int nadmins;
	clock_src clock;
	int64_t started_ms;
	FILE *log;
	char addr[128], admin_addr[128];
	bool draining;
	int inflight;
	int paused_streams;     /* upstream transfers paused for slow readers */
	int unflushed;          /* answers not yet fully written to their client */
	json_t *models_cache;   /* upstream model list */
	int64_t models_cached_at;
	json_t *recent_alerts;  /* newest last, bounded */
	struct webhook *webhook;
	struct headroom org_hr;
	struct month_cache month;     /* the current UTC month, cached */
	struct ledger *ledger;  /* ledger rows, and the store's health */
	struct groqwatch *groq; /* Groq's own figures (groq_metrics) */
	struct batchwatch *batches; /* open batches followed to their end */
	struct cluster *cluster;    /* cluster mode, or NULL */
	struct capacity *capacity;  /* Groq's limits and their use (capacity.c) */
	buf logbuf;             /* request log lines not yet written */
	int64_t log_sec;        /* the second log_ts shows */
	char log_ts[32];
	struct event *logflush;
	struct event *drain;    /* SIGTERM: waits for in-flight requests until drain_deadline */
	int64_t drain_deadline;
	struct ssl_ctx_st *ssl; /* tls.cert and tls.key, or NULL */
};

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
	int64_t commits, rows;   /* transactions that moved rows into the store, and the rows */
	int64_t lost;            /* rows dropped: the memory queue was full */
};
struct ledger_state ledger_state(const struct ledger *l);

/* ---- teamspec.c: operator input checked without a connection ---------- */
/* (input errors are verdicts: status, code, message; see verdict.c) */
typedef bool (*spec_model_known)(void *arg, const char *model);
/* -1 (e filled) when j has a field not in allowed (NULL-ended). */
int spec_only_fields(json_t *j, const char *const *allowed, struct verdict *e);
/* the team fields an operator sets: "id" first, then the rest */
extern const char *const spec_team_fields_all[];
#define SPEC_TEAM_SETTABLE (spec_team_fields_all + 1)
/* Applies the settable team fields in j to t; on -1 t may be partly
 * changed (apply to a copy). t's strings stay t's to free. */
int spec_team_fields(struct team *t, json_t *j, spec_model_known known, void *arg, struct verdict *e);
/* If-Match: 1 with *ver set, 0 for "*", -1 when malformed. */
int spec_if_match(const char *header, int64_t *ver);
/* X-Operator: printable ASCII only, cut to n-1 bytes. */
void spec_label(const char *in, char *out, size_t n);

/* ---- cluster.c: one replica of a fleet (store.url, counters.redis) --- */
struct cluster;
/* NULL (no error) when the store is not PostgreSQL: one node. */
struct cluster *cluster_start(struct gateway *g, char **cause);
void cluster_first_tick(struct cluster *c); /* the first poll, before serving */
void cluster_free(struct cluster *c);
/* the configuration could not be confirmed current for stale_after_s */
bool cluster_stale(struct gateway *g);
/* The configuration's version read now, and teams, keys and tokens read
 * again when it moved (an admin request's first step; a round trip to
 * PostgreSQL). Nothing in single mode; a PostgreSQL that does not answer
 * leaves the registry as it is. */
void cluster_sync(struct gateway *g);
/* This replica's lease of t's budget grown to cover need (unshipped +
 * reserved + the new request): 0, or -1 with *why (the fleet's budget is
 * used, or PostgreSQL does not answer). */
int cluster_lease(struct gateway *g, struct team *t, int64_t need, char **why);
json_t *cluster_json(struct gateway *g);     /* GET /admin/v1/cluster */
/* a replica that is down, stale past 3 x stale_after_s, or unknown to the
 * fleet: its open batches are taken over */
bool cluster_replica_gone(struct gateway *g, const char *id);
/* the replicas serving, counted generously (1: one node) */
int cluster_replicas(struct gateway *g);
/* the replica that speaks for the fleet (the serving one with the
 * smallest id; one node: itself): fleet-wide alerts are raised by it */
bool cluster_leader(struct gateway *g);
/* the overview's "cluster": {"mode","serving","replicas"} (single: 1/1) */
json_t *cluster_summary(struct gateway *g);
const char *cluster_degraded(struct gateway *g); /* why /healthz says degraded, or NULL */

/* ---- migrate.c: --migrate-from sqlite:PATH -------------------------- */
/* Copies a single node's store into cfg's PostgreSQL store and compares the
 * counts (written to out); 0, or -1 with *cause. */
int migrate_from(const struct gw_config *cfg, const char *from, FILE *out, char **cause);

/* ---- sdnotify.c: systemd's readiness and watchdog ------------------ */
/* Sends state ("READY=1") to $NOTIFY_SOCKET: 1 sent, 0 none set, -1 failed. */
int sd_notify_send(const char *state);
/* The watchdog interval systemd asks for (WatchdogSec), in ms, or 0. */
int64_t sd_watchdog_ms(void);

void gw_log(struct gateway *g, json_t *line); /* steals line; written at once */
/* Request log lines gather in g->logbuf and are written every 100 ms (or at
 * 64 KiB): one write() for many requests. */
void gw_log_flush_soon(struct gateway *g);
void gw_log_flush(struct gateway *g);
void webhook_free(struct gateway *g);
int64_t gw_now(struct gateway *g);

#endif
