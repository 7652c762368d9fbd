/* core.h — the gateway's core: its configuration, the organisation in memory
 * (teams, keys, tokens), the request path's pure stages and money
 * (policy, prices, budgets, capacity, rate limits, end users, usage),
 * the process's context (struct gateway) and its log. Calls no other room. */
#ifndef GG_CORE_H
#define GG_CORE_H

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
/* config_check.c: --check-config; every problem on stderr as
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

/* ---- admin_tokens.c: the admin tokens file ----------------------------- */
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
	int64_t *ts;     /* the ring: admission times, oldest first from head - count */
	int limit;       /* admissions a minute */
	int size;        /* the ring's room (grows to limit with the traffic) */
	int head, count;
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
/* Cluster mode: a budget window leased from the fleet like the month's (a
 * team's day or week, an upstream key's month). Its spend figure counts
 * this replica's settlements as they happen and the other replicas' as
 * they reach PostgreSQL; what the others had shipped at the last reading
 * is kept here, so that the rest is this replica's own. */
struct fleetwin {
	int64_t others_nusd;  /* the other replicas' spend in the window, as last read */
	int64_t granted_nusd; /* this replica's lease: what it may settle in the window, in all */
	/* its lease of the next window, taken ahead for what it has reserved:
	 * a reservation may settle after the window turns (a stream at
	 * 23:59:59, a batch's bill hours later), and its room in the next
	 * window is then already its own (the lease becomes granted_nusd) */
	int64_t next_nusd;
};


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
	 * what was settled in the current day and week (rebuilt at start; in
	 * cluster mode the fleet's, each window leased as the month is) */
	int64_t day_budget_nusd, week_budget_nusd;
	int64_t day_spend_nusd, week_spend_nusd, day_start, week_start;
	struct fleetwin day_fw, week_fw;
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
	int64_t spend_nusd, reserved_nusd, month_start; /* spend: the fleet's in cluster mode */
	struct fleetwin fw;             /* cluster mode: its month leased from the fleet */
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
/* Key names follow {team}-{environment}-{purpose}. */
bool key_name_valid(const char *name, const char *team, char **cause);
bool slug_valid(const char *s);

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
/* nano-dollars as dollars with all nine decimals ("-1.250000000"), exact
 * and without printf (answers, log lines, showback); out holds at least
 * USD_TEXT_MAX bytes; returns the length */
#define USD_TEXT_MAX 32
size_t usd_text(char out[USD_TEXT_MAX], int64_t nusd);

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
struct capask {
	const char *scope;        /* the window's name in the fleet */
	int64_t span, bucket;     /* its length and its buckets' (ms) */
	int64_t limit, need, want; /* lease: need..want under limit */
	int64_t give_stamp, give; /* first given back: an old lease's rest in its bucket (0: none) */
	int64_t add;              /* and told: what was admitted without the fleet (dated now) */
	int64_t got, stamp;       /* out: granted, and the bucket it is dated in */
	int64_t used, retry;      /* out: the fleet's use; when it does not fit, ms until it may */
};
struct capfleet {
	void *arg;
	/* Leases every window asked at once, all or none: 0 (each got >= its
	 * need), 1 one does not fit now (*which; its retry and used), -1 the
	 * fleet cannot be asked (this replica's share decides). Whatever the
	 * answer but -1, the gives and adds were applied. Blocking, with a
	 * short timeout. */
	int (*lease)(void *arg, struct capask *asks, int n, int *which);
	/* amount added to (negative: given back to) scope's bucket stamp, if
	 * it is still in the window; no answer awaited */
	void (*give)(void *arg, const char *scope, int64_t stamp, int64_t amount);
	/* each window's use (used), after its add is told: 0, or -1 */
	int (*sync)(void *arg, struct capask *asks, int n);
};
/* the fleet asked for room (NULL: none, this replica's windows alone) */
void capacity_fleet(struct capacity *c, const struct capfleet *f);
/* Every second: leases that ended with room unused back to the fleet, and
 * every window with a limit read from it (what was admitted here while it
 * could not be asked told first), for the share this replica falls back
 * to if it goes quiet. */
void capacity_fleet_tick(struct capacity *c, struct registry *reg, int64_t now);
void capacity_fleet_end(struct capacity *c, struct registry *reg); /* a clean stop: every lease given back */
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
	RK_COUNT
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
/* a team's budgets a replica leases from the fleet in cluster mode */
enum budget_window { BW_MONTH, BW_DAY, BW_WEEK, BW_N };
/* with the next day and week, leased ahead for what is reserved (struct
 * fleetwin's next_nusd): the arrays of needs and leases */
enum { BW_NEXT_DAY = BW_N, BW_NEXT_WEEK, BW_ALL };
/* what the budget makes happen, applied by whoever runs it */
struct budget_fx {
	void (*alert)(void *arg, const char *kind, const char *team, const char *message);
	/* a team paused at its budget (TEAM_BUDGET_PAUSED) or resumed by a new month */
	void (*set_state)(void *arg, struct team *t, enum team_state st, const char *reason);
	/* cluster mode (else NULL): this replica's leases of t's budgets
	 * grown to at least need (budget_needs; 0: that one not asked); 0, or
	 * -1 with *why */
	int (*lease)(void *arg, struct team *t, const int64_t need[BW_ALL], char **why);
	void *arg;
};
struct month_cache {
	int64_t from, to; /* the current UTC month */
};
struct budget_env {
	struct registry *reg;     /* the organisation's spend and reservations */
	int replicas;             /* cluster mode: the replicas serving (an end user's day: each one's share) */
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
/* Its day and week only, rolled to now's (no consequences). */
void budget_roll_windows(struct team *t, int64_t now);
/* k's month made the one starting at ms (a new month: its spend from
 * nothing, what it leased ahead its lease in cluster mode) */
void budget_roll_key(struct ukey *k, int64_t ms);
/* 0 and the amount reserved, or -1 with *why (allocated) when it does not fit. */
int budget_reserve(struct budget_env *e, struct team *t, int64_t amount, char **why);
/* Releases reserved and adds actual; raises alerts, may auto-pause. */
void budget_settle(struct budget_env *e, struct team *t, int64_t reserved, int64_t actual);
/* Re-evaluates thresholds and auto-pause after spend or budget changes. */
void budget_check(struct budget_env *e, struct team *t);
/* Cluster mode: what t must be able to settle in each window it leases
 * for amount more to be reserved: the month's lease covers what is not
 * shipped yet and what is reserved (cl_leases holds what is not shipped),
 * a day's or week's what this replica settled in it and what is reserved
 * (cl_windows holds each replica's spend beside its lease); 0 for a window
 * without a budget, and for the month under an override; the next day's
 * and week's (leased ahead) what is reserved, which may settle there. */
void budget_needs(const struct team *t, int64_t amount, bool override, int64_t need[BW_ALL]);
/* a leased window turned: its lease ahead becomes the lease of the new
 * window when that is the next one (adjacent), else nothing is held */
void fleetwin_turn(struct fleetwin *w, bool adjacent);
/* what this replica settled in a leased window whose spend is spend */
int64_t fleetwin_here(const struct fleetwin *w, int64_t spend);
/* A window's figures as PostgreSQL holds them: spent by the fleet, mine by
 * this replica (both shipped), held its lease. *spend then counts the
 * other replicas' as read and this replica's own as it settles them (never
 * less than it shipped). */
void fleetwin_read(struct fleetwin *w, int64_t *spend, int64_t spent, int64_t mine, int64_t held);
/* the same for the team's day or week, or the key's month, that kind and
 * owner name (store_cl_windows's), if start is the window it is in now
 * (registry.c: it looks the team or key up) */
void fleet_window_read(struct registry *reg, const char *kind, const char *owner, int64_t start, int64_t spent,
		       int64_t mine, int64_t held);

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
	int line, col;    /* where the scan failed (1-based) */
};
/* Checks that s is one JSON object, as strictly as jansson does, and notes
 * its top-level members of interest (a repeated key counts by its last
 * value). 0, or -1 with what is wrong in *why (a static string) and where
 * in b->line and b->col. */
int reqbody_scan(const char *s, size_t len, struct reqbody *b, const char **why);
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
/* authenticate: bearer (hash: its SHA-256 in hex, httpd_bearer_hashed) ->
 * token; 0 or -1 with a 401 verdict. */
int stage_authenticate(struct registry *r, const char *bearer, const char *hash, struct ctoken **tok,
		       struct verdict *v);
/* policy: paused, budget-paused, the allowlist (model NULL: none to check) */
int stage_policy(const struct team *t, const char *model, struct verdict *v);
/* Groq's service tiers, as bits (capacity.c) */
enum { TIER_ON_DEMAND = 1, TIER_FLEX = 2, TIER_PERFORMANCE = 4, TIER_AUTO = 8 };
#define TIER_N 4
unsigned tier_parse(const char *name); /* a TIER_* bit, or 0 */
const char *tier_name(unsigned bit);   /* NULL for 0 */
json_t *tiers_json(unsigned bits);     /* the names, in order */

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

void gw_log(struct gateway *g, json_t *line); /* steals line; written at once */
/* A request's log line: what it was, what became of it (the strings are
 * the caller's, read during the call; NULL ones are left out). */
struct reqline {
	int64_t now;                 /* when it ended (the line's time) */
	const char *path, *route;
	int status;
	int64_t latency_us;
	bool stream;
	const char *team, *token_id, *key, *key_fp, *model, *reason;
	const char *groq_request_id, *client_request_id;
	bool metered;                /* the figures below are written */
	int64_t prompt_tokens, completion_tokens;
	const char *unit;            /* a unit besides tokens, with its quantity */
	int64_t quantity, cost_nusd;
	bool ledger_pending;         /* its ledger row is not kept yet */
};
/* Request log lines gather in g->logbuf and are written every 100 ms (or at
 * 64 KiB): one write() for many requests, each formatted without printf. */
void gw_log_request(struct gateway *g, const struct reqline *r);
void gw_log_flush_soon(struct gateway *g);
void gw_log_flush(struct gateway *g);
void webhook_free(struct gateway *g);
int64_t gw_now(struct gateway *g);

#endif
