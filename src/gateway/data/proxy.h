/* proxy.h — what the request pipeline's files share (proxy.c: the
 * pipeline, Groq's side and the answer; proxy_routes.c: what each kind
 * of route does; proxy_read.c: the request read and checked; the other
 * proxy_*.c files each one part of it, named below). Private to them:
 * the rest of the gateway calls proxy_handle() in data.h. */
#ifndef GG_PROXY_H
#define GG_PROXY_H

#include "data.h"
#include "httpd.h"
#include "mime.h"

#include <event2/event_struct.h>

enum relay { R_BUFFER, R_SSE, R_RAW };

/* One request through the gateway, from its head to its ledger row. */
/* an upload's lines being checked, a slice a turn (proxy_read.c) */
struct upload {
	struct mform f;             /* the form (its parts point into the body) */
	const struct mpart *file;   /* its file */
	struct batch_scan sc;       /* how far */
	buf lines;                  /* the lines checked so far, as Groq gets them */
};

struct preq {
	struct gateway *g;
	struct hreq *req;    /* NULL once answered, or once its client left */
	bool watched;        /* on_client_close is set on req */
	const struct route *route;
	enum hmethod method; /* the client's (kept: req goes when its client leaves) */
	struct team *t;
	struct ukey *k;
	struct ctoken *tok;
	char *path, *model, *param;
	char *asked;         /* the model the client named, when Groq is sent another (an alias, a replacement) */
#define TRIES_MAX 9
	char *tried[TRIES_MAX]; /* the models sent so far, in order (fallbacks) */
	int ntried;
	unsigned tier;       /* the service tier sent (TIER_*, 0: none named) */
	bool tier_retried;   /* a flex 498 was tried again on on_demand */
	struct reqbody body; /* where the JSON body's members are (in raw) */
	char *raw;           /* the body as received */
	size_t raw_len;
	char *fwd;           /* the body Groq receives, when not raw */
	size_t fwd_len;
	char *fwd_ctype;     /* its Content-Type */
	char *form_bnd;      /* an audio form's boundary ... */
	size_t form_at;      /* ... and where its model's part begins in fwd, plus one (0: not a form) */
	char *audio_fmt;     /* the response_format a transcription asked for */
	char *conv;          /* a transcription in that format (conv_len bytes, conv_ctype) */
	size_t conv_len;
	const char *conv_ctype;
	char *client_rid;    /* the client's X-Request-Id, forwarded */
	char *user;          /* the end user (the body's "user", else X-Groqgate-User), or NULL */
	struct upload *up;     /* a batch upload whose lines are being checked, or NULL */
	struct event *upev;    /* ... its next slice */
	int64_t user_reserved; /* what it holds of its end user's day (enduser.c) */
	bool user_held;        /* ... while this is true */
	char *groq_rid;      /* Groq's x-request-id */
	bool stream, on_old, client_left;
	enum relay relay;    /* how the answer goes to the client, once it began */
	bool replying;       /* the answer's head went to the client */
	char key_fp[48];     /* fingerprint of the secret used */
	struct event *drain; /* resumes a paused upstream when the client reads */
	struct event idle;   /* Groq silent too long mid-answer (assigned at the head) */
	bool idle_on;        /* idle is assigned and pending */
	int64_t last_rx_us;  /* Groq's last bytes */
	int64_t cap, n, reserved, prompt_est, chars, audio_bound_s;
	int64_t key_reserved, key_tokens; /* what it holds of its upstream key's budget and TPM */
	int64_t batch_worst, batch_lines; /* a batch file's (uploaded, or a batch's input) */
	json_t *batch_index; /* an uploaded file's lines, for its batch's bill */
	char *batch_input;   /* a batch's input file */
	int64_t t0_us, t0_ms, deadline_ms;
	char *secret;        /* copy of the key used (wiped on free) */
	struct utx *tx;
	long status;
	buf up_fields;       /* Groq's answer fields for the client (up_head_read) */
#define UF_RL_REQ 1          /* (up_fields: x-ratelimit-*-requests, */
#define UF_RL_TOK 2          /* x-ratelimit-*-tokens, */
#define UF_CTYPE 3           /* Content-Type or Content-Encoding) */
	struct sse sse;
	buf resp;
	buf held;            /* the usage event of a Responses stream, sent once kept */
	int cut;             /* why Groq's answer was ended early: END_* (0: it was not) */
	struct rlwait wait;  /* in the team's RPM queue (queue mode) */
	struct cwait *cw;    /* waiting for the shared RPM window's answer (cluster mode) */
	struct capres capr;  /* what it took of Groq's capacity (capacity.c) */
	struct event *capwait; /* queue mode: waiting for room in Groq's capacity */
	bool paused;         /* upstream transfer paused for a slow client */
	/* between record() and its row's commit (`then` set only then) */
	bool complete, useen;
	int64_t lat_us;
	struct verdict err;  /* the error answer to send then */
	void (*then)(struct preq *p, bool kept);
	void (*forward)(struct preq *p); /* the stage after admission: sent to Groq (proxy.c) */
};

/* ---- proxy_routes.c: what each kind of route does ------------------- */
enum {
	RF_EVENTS = 1 << 0,     /* an event stream is relayed event by event, metered from its usage */
	RF_DONE = 1 << 1,       /* ... complete only once [DONE] came (chat) */
	RF_HOLD_USAGE = 1 << 2, /* ... its usage event held until its row is kept (Responses) */
	RF_RAW = 1 << 3,        /* the answer relayed as it comes (audio) */
	RF_CONTENT = 1 << 4,    /* ... when it is an object's /content */
	RF_INPUT_ONLY = 1 << 5, /* tokens in only: no output cap, no output billed (embeddings) */
	RF_TIERS = 1 << 6,      /* Groq's service tiers apply */
	RF_AS_NAMED = 1 << 7,   /* its model is checked as named: no alias, retirement or fallback */
	RF_OWN_LIMITS = 1 << 8, /* Groq's batch limits are its own: no capacity window, no key TPM */
	RF_OBJECTS = 1 << 9,    /* files and batches: nothing billed but a batch */
	RF_BATCH = 1 << 10,     /* a batch: priced per line; its reservation is the batch's once made */
	RF_RATED = 1 << 11,     /* counted against the team's RPM though not metered (an upload) */
	RF_EMPTY_OK = 1 << 12,  /* a POST's empty JSON object is taken though the route takes no body (a batch's cancel) */
	RF_REFUSED = 1 << 13,   /* a Groq route the gateway cannot account for yet: refused with its reason */
};
struct route_ops {
	/* the body read and checked (the model it names in p->model); NULL:
	 * the route takes none. 0, or -1 with v */
	int (*read)(struct preq *p, const struct mediatype *mt, struct verdict *v);
	/* the object the path names is the team's own (NULL: it names none). 0, or -1 */
	int (*own)(struct preq *p, struct verdict *v);
	/* what Groq could bill at worst, in nano-dollars (NULL: by the route's unit) */
	int64_t (*worst)(const struct preq *p);
	/* a 200 answer in one piece: its usage into u (NULL: none) */
	void (*usage)(struct preq *p, struct usage *u);
	/* a 200 answer: what it changes of the team's objects, a list kept to
	 * the team's own (NULL: nothing) */
	void (*answered)(struct preq *p);
	unsigned flags; /* RF_* */
};
const struct route_ops *route_ops(const struct route *r);
#define OPS(p) route_ops((p)->route)
/* The body by its route's reader; the Content-Type checked first. 0, or
 * -1 with v. */
int req_read_body(struct preq *p, struct verdict *v);

/* ---- proxy_reply.c: a request's ends ------------------------------- */
/* The request refused with v (its message moves to p; a 429 carries
 * Retry-After and the team's x-ratelimit-*): recorded, answered, freed. */
void req_reject(struct preq *p, struct verdict *v);
/* The same with a verdict made here (msg is taken). */
void req_refuse(struct preq *p, int status, const char *type, const char *code, const char *reason, char *msg);
/* The request, to be answered now: p lets go of its client's request. */
struct hreq *req_take(struct preq *p);
/* v's error answer alone (the row is already recorded); frees p. */
void req_reply_error(struct preq *p, struct verdict *v);
/* req_record's `then` for an error answer (p->err) and for a client that
 * left (nothing to send); both free p. */
void req_send_error(struct preq *p, bool kept);
void req_just_free(struct preq *p, bool kept);
/* Everything p holds given back, and p freed. */
void req_free(struct preq *p);

/* ---- proxy_admit.c: from the rate limit to Groq --------------------- */
/* The pipeline from the rate limit on: an unmetered route forwarded at
 * once; else the team's RPM window (queued, or answered later in cluster
 * mode), then req_admitted. */
void req_admit(struct preq *p);
/* Past the rate limit: Groq's capacity, the reservations, the key's own
 * limits, then p->forward; or refused. */
void req_admitted(struct preq *p);
/* What may have changed while the request waited (its token revoked, its
 * team paused, its model taken off the allowlist, the cap lowered). 0, or
 * -1 with v. */
int req_recheck(struct preq *p, struct verdict *v);

/* ---- proxy_read.c: the request read and checked -------------------- */
/* the readers route_ops rows name: a JSON body (its governed members
 * found, the model it names, stream), an audio form, a batch upload, a
 * batch's creation; each 0, or -1 with v */
int req_read_json(struct preq *p, const struct mediatype *mt, struct verdict *v);
int req_read_form(struct preq *p, const struct mediatype *mt, struct verdict *v);
int req_read_upload(struct preq *p, const struct mediatype *mt, struct verdict *v);
int req_read_batch(struct preq *p, const struct mediatype *mt, struct verdict *v);
/* a file or batch the path names is the team's own (another team's is
 * 404, as if it did not exist). 0, or -1 */
int req_own_file(struct preq *p, struct verdict *v);
int req_own_batch(struct preq *p, struct verdict *v);
/* A 400 invalid_request_error verdict with code (msg is taken): -1. */
int req_bad(struct verdict *v, const char *code, char *msg);
/* The output cap (after the allowlist): each cap member checked, the
 * team's written in when none is sent; chat's n. 0, or -1 with v. */
int req_read_caps(struct preq *p, struct verdict *v);
/* A batch upload's next slice of lines checked: 1 more to do, 0 done (the
 * form Groq receives built), -1 refused (v filled); p->up freed at 0 and -1. */
int req_upload_step(struct preq *p, struct verdict *v);
void req_upload_free(struct preq *p);
/* ---- proxy_record.c: an answer's ledger row, metrics and log line ---- */
/* The ledger row of one answer, submitted for this loop iteration's
 * commit; once committed it is counted and logged, and then(p, kept)
 * sends the answer's last bytes (kept: the row is committed; not kept:
 * the store is down, and an answer the client would have received
 * complete is withheld). */
void req_record(struct preq *p, int status, const char *reason, struct usage *u, int64_t cost, int64_t qty,
		void (*then)(struct preq *, bool));

/* An audio form's model part (and the format asked of Groq) rewritten at
 * the end of fwd: the model an alias or a retired model stands for. */
void req_form_model(struct preq *p, const char *model);
/* The end user (the body's "user", else X-Groqgate-User), checked. 0, or -1. */
int req_read_user(struct preq *p, struct verdict *v);
/* The client's X-Request-Id, checked and kept to forward. 0, or -1. */
int req_client_rid(struct preq *p, struct verdict *v);

/* ---- proxy_bill.c: what an answer costs ------------------------------ */
/* The request's reservations settled at cost: its team's budget, its
 * key's, Groq's capacity (billed: Groq counted it; u its usage, or NULL). */
void req_settle(struct preq *p, int64_t cost, const struct usage *u, bool billed);
/* The cost of Groq's answer in nano-dollars from u (bounded by what the
 * request can produce, with an alert past it); *qty its billed units. */
int64_t req_cost_of(struct preq *p, struct usage *u, int64_t *qty);
/* A field of Groq's answer head (kept for the client), or NULL. */
const char *req_up_field(const struct preq *p, const char *name);
/* Groq's 429: its model held for every team until its retry-after. */
void req_groq_held(struct preq *p);

/* ---- proxy_model.c: the model and tier Groq is sent ------------------ */
/* One top-level member of the body Groq receives set to the string s. */
int req_body_set_string(struct preq *p, const char *key, const char *s, struct verdict *v);
/* An alias or a retired model resolved, written into the body. 0 or -1. */
int req_resolve_model(struct preq *p, struct verdict *v);
/* The service tier checked, the team's default written in. 0 or -1. */
int req_stage_tier(struct preq *p, struct verdict *v);
/* The next fallback model after those tried (NULL: none left), and the
 * switch to it (false: none). */
const char *req_next_model(const struct preq *p);
bool req_switch_model(struct preq *p);

/* ---- proxy_answer.c: Groq's answer made the client's ----------------- */
/* x-groqgate-budget-remaining-usd (and a fallback's origin) on the answer. */
void req_budget_header(struct preq *p);
/* Groq's head read: the fields kept for the client, Groq's headroom,
 * learned limits; true when it is an event stream. */
bool req_up_head_read(struct preq *p, const struct hstatus *h);
/* Groq's fields and the team's own x-ratelimit-* onto the client's answer
 * (skip_ctype: the gateway sets the Content-Type itself). */
void req_pass_headers(struct preq *p, bool skip_ctype);
/* One more Groq 429 for the key; an alert past alerts.upstream_429_storm. */
void req_storm_count(struct preq *p);
/* A file or batch route's 200 answer (route_ops' answered): what it
 * changes of the team's files and batches; lists kept to the team's own
 * (502 when they cannot be). */
void req_uploaded(struct preq *p);
void req_files_listed(struct preq *p);
void req_file_answered(struct preq *p);
void req_batch_created(struct preq *p);
void req_batches_listed(struct preq *p);
/* A /models answer kept to the team's models, its aliases beside them. */
void req_filter_models(struct preq *p);

#endif
