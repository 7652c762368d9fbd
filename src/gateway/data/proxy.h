/* proxy.h — what the request pipeline's files share (proxy.c: the
 * pipeline, Groq's side and the answer; proxy_read.c: the request read
 * and checked). Private to them: the rest of the gateway calls
 * proxy_handle() in data.h. */
#ifndef GG_PROXY_H
#define GG_PROXY_H

#include "data.h"
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
};

/* ---- proxy_read.c: the request read and checked -------------------- */
/* A 400 invalid_request_error verdict with code (msg is taken): -1. */
int req_bad(struct verdict *v, const char *code, char *msg);
/* The body by the route's kind: a JSON body scanned (its governed
 * members found), a form parsed, an upload's lines checked, a batch's
 * input file checked; the model it names in p->model. 0, or -1 with v. */
int req_read_body(struct preq *p, struct verdict *v);
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
/* A file or batch route: the object is the team's own. 0, or -1. */
int req_own_check(struct preq *p, struct verdict *v);

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
/* A file or batch route's answer: what it changes of the team's files
 * and batches, lists filtered to the team's own (502 when they cannot be). */
void req_batch_answer(struct preq *p);
/* A /models answer kept to the team's models, its aliases beside them. */
void req_filter_models(struct preq *p);

#endif
