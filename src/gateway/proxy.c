/* proxy.c — the data plane. Each request runs the pipeline
 *   route -> authenticate -> body -> policy -> rate limit (or queue)
 *   -> reserve -> forward -> meter -> settle
 * on the one event loop: the route table is routes.c, the deciding stages
 * policy.c, the money budget.c and price.c; this file glues them to
 * httpd.c (the client side) and upstream.c (Groq's side).
 *
 * A streamed answer is relayed event by event as it arrives; its usage is
 * read from x_groq.usage, the usage chunk or (Responses) the
 * response.completed event, and the ledger row is committed before the
 * stream's last event reaches the client. A client that leaves a stream
 * is charged what Groq sent it; one that leaves an answer in one piece,
 * what Groq reports (the gateway reads it to its end). An answer that ends
 * before its usage can be known is charged the whole reservation: never
 * zero (docs/architecture.md, "Early ends"). */
#include "gateway.h"

#include <event2/event.h>
#include <event2/event_struct.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gotime.h"
#include "groq.h"
#include "httpd.h"
#include "mime.h"
#include "secret.h"
#include "util.h"

#define OUTBUF_HIGH (256 * 1024) /* pause the upstream above this much unsent */

enum relay { R_BUFFER, R_SSE, R_RAW };

/* How Groq's side of a request failed: the answer's status, its code, the
 * ledger's reason (one table instead of comparing strings to recover them) */
enum end { END_NONE, END_IDLE, END_TOO_LARGE, END_TIMEOUT, END_UNREACHABLE };
static const struct {
	int status;
	const char *code, *reason;
} ends[] = {
	[END_IDLE] = { 504, "upstream_idle_timeout", "upstream_idle_timeout" },
	[END_TOO_LARGE] = { 502, "upstream_answer_too_large", "upstream_answer_too_large" },
	[END_TIMEOUT] = { 504, "upstream_timeout", "upstream_timeout" },
	[END_UNREACHABLE] = { 502, "upstream_unreachable", "upstream_error" },
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
	char *audio_fmt;     /* the response_format a transcription asked for */
	char *conv;          /* a transcription in that format (conv_len bytes, conv_ctype) */
	size_t conv_len;
	const char *conv_ctype;
	char *client_rid;    /* the client's X-Request-Id, forwarded */
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

static void set_paused(struct preq *p, bool on)
{
	if (p->paused == on)
		return;
	p->paused = on;
	p->g->paused_streams += on ? 1 : -1;
	if (p->tx)
		utx_pause(p->tx, on);
}

static void preq_free(struct preq *p)
{
	if (p->paused)
		p->g->paused_streams--;
	if (p->req && p->watched)
		httpd_on_close(p->req, NULL, NULL);
	if (p->tx)
		utx_cancel(p->tx);
	if (p->drain)
		event_free(p->drain);
	if (p->capwait)
		event_free(p->capwait);
	if (p->idle_on)
		event_del(&p->idle);
	if (p->k && p->secret) {
		p->k->inflight--;
		if (p->on_old)
			p->k->old_inflight--;
	}
	free(p->path);
	free(p->model);
	free(p->asked);
	for (int i = 0; i < p->ntried; i++)
		free(p->tried[i]);
	free(p->param);
	free(p->raw);
	free(p->fwd);
	free(p->fwd_ctype);
	free(p->audio_fmt);
	free(p->batch_input);
	json_decref(p->batch_index);
	free(p->conv);
	free(p->client_rid);
	free(p->groq_rid);
	secret_free(p->secret);
	buf_free(&p->up_fields);
	sse_free(&p->sse);
	buf_free(&p->resp);
	buf_free(&p->held);
	verdict_clear(&p->err);
	p->g->inflight--;
	free(p);
}

int proxy_inflight(struct gateway *g)
{
	return g->inflight;
}

/* what the caller has left of its budgets, on every answer (services
 * degrade before they are refused) */
static void budget_header(struct preq *p)
{
	if (!p->t || !p->req)
		return;
	int64_t r = budget_remaining(p->t, cluster_replicas(p->g));
	char s[40];
	snprintf(s, sizeof s, "%lld.%09lld", (long long)(r / NUSD_PER_USD), (long long)(r % NUSD_PER_USD));
	httpd_add_header(p->req, "x-groqgate-budget-remaining-usd", s);
	if (p->ntried > 1) /* served by a fallback: the model first sent */
		httpd_add_header(p->req, "x-groqgate-fallback-from", p->tried[0]);
}

/* ---- answering -------------------------------------------------- */

#define STORE_DOWN_MSG                                                                                 \
	"The gateway cannot write its usage ledger (disk full or store locked), so it refuses "      \
	"requests rather than serve them unmetered. Retry shortly; operators: see /healthz."

/* The ledger row of one answer, submitted for this loop iteration's
 * commit; committed() then counts it, logs it and runs `then`, which sends
 * the answer's last bytes (kept: the row is committed; not kept: the store
 * is down, and an answer the client would have received complete is
 * withheld). */
static void committed(void *arg, bool kept, struct ledger_row *row);

static void record(struct preq *p, int status, const char *reason, struct usage *u, int64_t cost, int64_t qty,
		   void (*then)(struct preq *, bool))
{
	struct gateway *g = p->g;
	p->lat_us = mono_us() - p->t0_us;
	p->useen = u && u->seen;
	struct ledger_row row = {
		.ts_ms = gw_now(g),
		.team = p->t ? p->t->id : NULL,
		.key = p->secret && p->k ? p->k->name : NULL,
		.key_fp = p->secret ? p->key_fp : NULL,
		.model = p->model,
		.reason = reason,
		.route = p->route ? p->route->name : NULL,
		.unit = p->route && p->route->unit != BU_NONE ? bill_unit_name(p->route->unit) : NULL,
		.request_id = p->groq_rid,
		.status = status,
		.stream = p->stream,
		.prompt = u ? u->prompt : 0,
		.completion = u ? u->completion : 0,
		.cost_nusd = cost,
		.latency_ms = p->lat_us / 1000,
		.quantity = qty,
	};
	p->then = then;
	if (p->secret && p->k && p->model) /* what Groq counts on the key's project */
		sent_count(p->k, p->model, row.ts_ms, g->cfg.gm_window_s * 1000, row.prompt, row.completion);
	if (p->t)
		ledger_submit(g->ledger, &row, committed, p);
	else /* no team, no row */
		committed(p, true, &row);
}

static void committed(void *arg, bool kept, struct ledger_row *row)
{
	struct preq *p = arg;
	struct gateway *g = p->g;
	if (!kept && row->status < 400) { /* the answer is withheld (503); the row
					   * says so, with the tokens Groq did spend */
		row->status = 503;
		row->reason = "store_unavailable";
	}
	int status = row->status;
	const char *reason = row->reason;
	int64_t now = gw_now(g), lat_us = p->lat_us, cost = row->cost_nusd;
	if (p->t) {
		p->t->requests_total++;
		if (status >= 400)
			p->t->rejected_total++;
	}
	/* a model label is one the gateway knows (priced, or allowed for the
	 * team): any other name a client sends counts as "other", so clients
	 * cannot grow /metrics with made-up names */
	const char *mlabel = !p->model					   ? "-"
			     : config_price(&g->cfg, p->model) || (p->t && team_allows(p->t, p->model)) ? p->model
											    : "other";
	metrics_request(g->metrics, p->t ? p->t->id : "-", mlabel, status, row->prompt,
			row->completion, cost, lat_us);
	if (reason)
		metrics_reject(g->metrics, reason);
	/* the request log line, written directly: it runs once per request */
	if (now / 1000 != g->log_sec) { /* formatted once a second */
		g->log_sec = now / 1000;
		time_iso(now, g->log_ts, sizeof g->log_ts);
	}
	buf *l = &g->logbuf;
	buf_adds(l, "{\"time\":\"");
	buf_adds(l, g->log_ts);
	buf_adds(l, "\",\"level\":\"info\",\"msg\":\"request\",\"path\":");
	json_str(l, p->path ? p->path : "");
	buf_adds(l, ",\"status\":");
	buf_addi(l, status);
	buf_adds(l, ",\"latency_us\":");
	buf_addi(l, lat_us);
	buf_adds(l, p->stream ? ",\"stream\":true" : ",\"stream\":false");
	if (row->route) { /* (the route table's names need no escaping) */
		buf_adds(l, ",\"route\":\"");
		buf_adds(l, row->route);
		buf_adds(l, "\"");
	}
	if (p->t) {
		buf_adds(l, ",\"team\":");
		json_str(l, p->t->id);
	}
	if (p->tok) {
		buf_adds(l, ",\"token_id\":");
		json_str(l, p->tok->id);
	}
	if (row->key) {
		buf_adds(l, ",\"key\":");
		json_str(l, row->key);
		buf_adds(l, ",\"key_fp\":");
		json_str(l, row->key_fp);
	}
	if (p->model) {
		buf_adds(l, ",\"model\":");
		json_str(l, p->model);
	}
	if (reason) {
		buf_adds(l, ",\"reason\":");
		json_str(l, reason);
	}
	if (row->request_id) {
		buf_adds(l, ",\"groq_request_id\":");
		json_str(l, row->request_id);
	}
	if (p->client_rid) {
		buf_adds(l, ",\"client_request_id\":");
		json_str(l, p->client_rid);
	}
	if (p->useen || cost) { /* integers only: no printf per request */
		buf_adds(l, ",\"prompt_tokens\":");
		buf_addi(l, row->prompt);
		buf_adds(l, ",\"completion_tokens\":");
		buf_addi(l, row->completion);
		if (row->unit) {
			buf_adds(l, ",\"unit\":\"");
			buf_adds(l, row->unit);
			buf_adds(l, "\"");
			buf_adds(l, ",\"quantity\":");
			buf_addi(l, row->quantity);
		}
		buf_adds(l, ",\"cost_usd\":");
		buf_addi(l, cost / NUSD_PER_USD);
		char frac[11] = ".000000000";
		for (int64_t i = 9, f = cost % NUSD_PER_USD; i > 0 && f > 0; i--, f /= 10)
			frac[i] = (char)('0' + f % 10);
		buf_adds(l, frac);
	}
	if (!kept)
		buf_adds(l, ",\"ledger\":\"pending\"");
	buf_adds(l, "}\n");
	gw_log_flush_soon(g);
	void (*then)(struct preq *, bool) = p->then;
	p->then = NULL;
	then(p, kept);
}

static void reply_error(struct preq *p, struct verdict *v);
static void send_error(struct preq *p, bool kept);

/* refuses the request with v (its message moves to p) */
static void reject(struct preq *p, struct verdict *v)
{
	if (v->status == 429 && p->t) {
		char s[64];
		struct team *t = p->t;
		int64_t now = gw_now(p->g);
		snprintf(s, sizeof s, "%lld", (long long)((v->retry_ms + 999) / 1000));
		httpd_set_header(p->req, "Retry-After", s); /* (p->req: a queued request's
								* client is still there) */
		snprintf(s, sizeof s, "%lld", (long long)t->rpm_limit);
		httpd_set_header(p->req, "x-ratelimit-limit-requests", s);
		int64_t rem = t->rpm_limit - counters_count(t, now);
		snprintf(s, sizeof s, "%lld", (long long)(rem < 0 ? 0 : rem));
		httpd_set_header(p->req, "x-ratelimit-remaining-requests", s);
		gotime_format(v->retry_ms, s, sizeof s);
		httpd_set_header(p->req, "x-ratelimit-reset-requests", s);
	}
	if (p->req)
		budget_header(p);
	p->err = *v;
	memset(v, 0, sizeof *v);
	record(p, p->err.status, p->err.reason, NULL, 0, 0, send_error);
}

static void refuse(struct preq *p, int status, const char *type, const char *code, const char *reason, char *msg)
{
	struct verdict v = { 0 };
	deny(&v, status, type, code, reason, msg);
	reject(p, &v);
}

/* a request that cannot be read: v filled, -1 */
static int bad(struct verdict *v, const char *code, char *msg)
{
	return deny(v, 400, "invalid_request_error", code, "invalid_request", msg);
}

/* the request, to be answered now: p lets go of it */
static struct hreq *take_req(struct preq *p)
{
	struct hreq *req = p->req;
	if (req && p->watched)
		httpd_on_close(req, NULL, NULL);
	p->req = NULL;
	p->watched = false;
	return req;
}

/* the error answer alone (its row is already recorded); frees p */
static void reply_error(struct preq *p, struct verdict *v)
{
	struct hreq *req = take_req(p);
	if (req)
		httpd_send_groq_error(req, v->status, v->message, v->type, v->code);
	verdict_clear(v);
	preq_free(p);
}

static void send_error(struct preq *p, bool kept)
{
	(void)kept; /* an error answer is sent either way */
	reply_error(p, &p->err);
}

/* for a client that has left: nothing to send */
static void just_free(struct preq *p, bool kept)
{
	(void)kept;
	preq_free(p);
}

/* ---- what an answer costs ------------------------------------------ */

/* The money reserved settled at cost, and the capacity taken at what Groq
 * counted: u's tokens (cached prompt tokens are not counted, as Groq does
 * not), or all that was taken when Groq's usage is unknown and it billed
 * (billed), or none when the request was not billed (u NULL or !billed:
 * Groq refused it or never saw it). */
static void settle(struct preq *p, int64_t cost, const struct usage *u, bool billed)
{
	struct budget_env e = gw_budget(p->g);
	budget_settle(&e, p->t, p->reserved, cost);
	p->reserved = 0;
	if (p->k && p->key_reserved) { /* the key's share of it */
		p->k->reserved_nusd -= p->key_reserved;
		if (p->k->reserved_nusd < 0)
			p->k->reserved_nusd = 0;
		p->k->spend_nusd += cost;
		p->key_reserved = 0;
	}
	if (!p->capr.held)
		return;
	int64_t used[CL_N];
	memcpy(used, p->capr.take, sizeof used);
	int64_t tok = !billed ? 0 : u && u->seen ? u->prompt - u->cached + u->completion : used[CL_TPM];
	int64_t sec = !billed ? 0 : u && u->seen ? (int64_t)ceil(u->audio_s) : used[CL_ASH];
	if (p->route->unit == BU_TOKENS)
		used[CL_TPM] = used[CL_TPD] = tok;
	if (p->route->unit == BU_AUDIO_SECONDS)
		used[CL_ASH] = used[CL_ASD] = sec;
	if (!p->secret) /* it never reached Groq */
		used[CL_RPM] = used[CL_RPD] = 0;
	int64_t now = gw_now(p->g);
	if (p->key_tokens && p->k->tpm.n)
		win_add(&p->k->tpm, p->capr.at, now, used[CL_TPM] - p->key_tokens);
	p->key_tokens = 0;
	team_model_count(p->t, p->model, p->capr.at, now, used[CL_RPM] - p->capr.take[CL_RPM],
			 used[CL_TPM] - p->capr.take[CL_TPM]);
	capacity_settle(p->t, &p->capr, used, now);
	if (billed && u && u->seen && p->route->unit == BU_TOKENS && p->route->kind != RK_EMBEDDINGS)
		capacity_calibrate(p->g->capacity, p->model, (int64_t)p->raw_len, u->prompt);
}

static void impossible_usage(struct preq *p, const char *what, int64_t got, int64_t most)
{
	char *m = xasprintf("Groq reported %lld %s for one request of team '%s' on %s (model %s), more than it "
			    "can produce (%lld); the gateway charged %lld. Check upstream key '%s'.",
			    (long long)got, what, p->t->id, p->route->name, p->model ? p->model : "-",
			    (long long)most, (long long)most, p->k->name);
	alert_raise(p->g, "upstream_usage_invalid", p->t->id, m);
	free(m);
}

/* The cost of an answer from Groq's usage, in the route's unit, with the
 * counts bounded by what the request could produce (a larger count is
 * Groq's error or a hostile upstream: charged at the bound, and alerted);
 * or, with no usage, the whole reservation (u filled with what it was
 * made of). *qty: the billed quantity in the route's unit. */
static int64_t cost_of(struct preq *p, struct usage *u, int64_t *qty)
{
	const struct price *pr = p->model ? config_price(&p->g->cfg, p->model) : NULL;
	*qty = 0;
	switch (p->route->unit) {
	case BU_TOKENS: {
		if (!u->seen) {
			u->prompt = p->prompt_est;
			u->completion = p->cap * p->n;
			u->cached = 0;
			*qty = u->prompt + u->completion;
			return p->reserved;
		}
		int64_t most_out = p->route->kind == RK_EMBEDDINGS ? 0 : p->cap * p->n;
		if (u->completion > most_out) {
			impossible_usage(p, "output tokens", u->completion, most_out);
			u->completion = most_out;
		}
		if (u->prompt > PROMPT_TOKENS_MAX) {
			impossible_usage(p, "prompt tokens", u->prompt, PROMPT_TOKENS_MAX);
			u->prompt = PROMPT_TOKENS_MAX;
		}
		if (u->cached > u->prompt)
			u->cached = u->prompt;
		*qty = u->prompt + u->completion;
		return cost_tokens(pr, u->prompt, u->cached, u->completion, 1.0);
	}
	case BU_AUDIO_SECONDS: {
		if (!u->seen)
			*qty = p->audio_bound_s;
		else {
			double s = ceil(u->audio_s);
			int64_t sec = s > (double)p->audio_bound_s ? p->audio_bound_s : (int64_t)s;
			if (s > (double)p->audio_bound_s)
				impossible_usage(p, "seconds of audio", (int64_t)fmin(s, 1e15), p->audio_bound_s);
			*qty = sec < p->g->cfg.audio_min_seconds ? p->g->cfg.audio_min_seconds : sec;
		}
		return cost_audio(pr, *qty);
	}
	case BU_CHARS:
		*qty = p->chars;
		return cost_chars(pr, p->chars);
	default:
		return 0;
	}
}

/* a field of Groq's answer head (kept for the client), or NULL */
static const char *up_field(const struct preq *p, const char *name)
{
	const char *f = p->up_fields.data, *end = f + p->up_fields.len;
	while (f && f < end) {
		const char *v = f + strlen(f) + 1;
		if (strcasecmp(f, name) == 0)
			return v;
		f = v + strlen(v) + 1;
	}
	return NULL;
}

/* Groq answered 429 for the model: its retry-after holds the model for
 * every team (no stampede of retries from each), and the first such
 * answer in a while raises upstream_429_storm naming the model and the
 * limit Groq named */
static void groq_held(struct preq *p)
{
	const char *ra = up_field(p, "retry-after");
	double secs = ra ? strtod(ra, NULL) : 0;
	if (!(secs > 0) || secs > 3600)
		secs = 1;
	json_t *j = p->resp.len ? json_loadb(p->resp.data, p->resp.len, 0, NULL) : NULL;
	const char *msg = json_string_value(json_object_get(json_object_get(j, "error"), "message"));
	/* "... on tokens per minute (TPM): Limit 15000, Used 11972, Requested 4351. Please ..." */
	const char *on = msg ? strstr(msg, " on ") : NULL;
	char why[160] = "Groq's 429";
	if (on) {
		size_t n = strcspn(on + 4, ".");
		snprintf(why, sizeof why, "%.*s", (int)(n < sizeof why - 1 ? n : sizeof why - 1), on + 4);
	}
	int64_t now = gw_now(p->g);
	if (capacity_hold(p->g->capacity, p->model, now + (int64_t)(secs * 1000), why, now)) {
		char *m = xasprintf("Groq answered 429 for model '%s' (%s) to upstream key '%s' (%s); every team's "
				    "requests for it are held %.0f s, as Groq's retry-after asks. Traffic not through the "
				    "gateway, or limits declared above Groq's, cause this.",
				    p->model, why, p->k->name, p->key_fp, secs);
		alert_raise(p->g, "upstream_429_storm", p->t->id, m);
		free(m);
	}
	json_decref(j);
}

/* ---- the upstream side --------------------------------------------- */

static bool hop_by_hop(const char *name, size_t n)
{
#define HOP(s) { s, sizeof s - 1 }
	static const struct {
		const char *s;
		size_t n;
	} h[] = { HOP("connection"), HOP("keep-alive"), HOP("transfer-encoding"), HOP("content-length"),
		  HOP("date"),	     HOP("server"),	HOP("upgrade"),		  HOP("te"),
		  HOP("trailer"),    HOP("proxy-authenticate"), HOP("proxy-connection") };
#undef HOP
	for (size_t i = 0; i < ARRAY_LEN(h); i++)
		if (h[i].n == n && strncasecmp(name, h[i].s, n) == 0)
			return true;
	return false;
}

/* Groq's answer head, read once, as it arrives: the rate-limit fields
 * noted, its request id and whether it is an event stream taken, and the
 * fields the client gets kept ("name\0value\0"..., hop-by-hop ones
 * dropped) until the answer goes out. */
static bool up_head_read(struct preq *p, const struct hstatus *h)
{
	struct headroom *hr = &p->k->hr;
	bool any = false, sse = false;
	buf_reset(&p->up_fields);
	for (int i = 0; i < h->nh; i++) {
		const char *name = h->h[i].name, *val = h->h[i].value;
		size_t nl = strlen(name);
		char f = (char)(*name | 0x20);
		if (f == 'x') {
			any |= headroom_header(hr, name, val);
			if (strcasecmp(name, "x-request-id") == 0) {
				free(p->groq_rid);
				p->groq_rid = xstrdup(val);
			}
		} else if (f == 'c' && strcasecmp(name, "content-type") == 0) {
			sse = strncasecmp(val, "text/event-stream", 17) == 0;
		}
		if (hop_by_hop(name, nl))
			continue;
		buf_add(&p->up_fields, name, nl + 1);
		buf_add(&p->up_fields, val, strlen(val) + 1);
	}
	if (any) {
		hr->seen_at = gw_now(p->g);
		p->g->org_hr = *hr;
		if (p->model && h->status == 200) /* Groq's limits of a model not declared */
			capacity_learn(p->g->capacity, p->model, hr->limit_req, hr->limit_tok);
	}
	return sse;
}

/* Groq's fields to the client; skip_ctype: the gateway sets the
 * Content-Type itself (a converted answer) */
static void pass_headers(struct preq *p, bool skip_ctype)
{
	if (!p->up_fields.len) /* no answer head (a refusal of the gateway's own) */
		return;
	/* x-ratelimit-*: what this team may still do where it has its own
	 * limits (or its class's share of the organisation's), not Groq's
	 * figures for the whole organisation */
	struct capview cv = { 0 };
	bool own = p->t && p->route->unit != BU_NONE &&
		   capacity_headroom(p->g->capacity, p->t, p->model, gw_now(p->g), &cv);
	const char *f = p->up_fields.data, *end = f + p->up_fields.len;
	while (f < end) {
		const char *v = f + strlen(f) + 1, *next = v + strlen(v) + 1;
		size_t fl = strlen(f);
		bool ours = own && fl > 12 && strncasecmp(f, "x-ratelimit-", 12) == 0 &&
			    ((cv.limit_req && fl > 9 && strcasecmp(f + fl - 9, "-requests") == 0) ||
			     (cv.limit_tok && fl > 7 && strcasecmp(f + fl - 7, "-tokens") == 0));
		if (!ours && (!skip_ctype || (strcasecmp(f, "content-type") != 0 && strcasecmp(f, "content-encoding") != 0)))
			httpd_add_header(p->req, f, v);
		f = next;
	}
	budget_header(p);
	if (!own)
		return;
	char s[32];
	for (int i = 0; i < 2; i++) {
		int64_t lim = i ? cv.limit_tok : cv.limit_req, rem = i ? cv.rem_tok : cv.rem_req,
			reset = i ? cv.reset_tok : cv.reset_req;
		if (!lim)
			continue;
		const char *unit = i ? "tokens" : "requests";
		char name[40];
		snprintf(name, sizeof name, "x-ratelimit-limit-%s", unit);
		i64_text(s, lim);
		httpd_add_header(p->req, name, s);
		snprintf(name, sizeof name, "x-ratelimit-remaining-%s", unit);
		i64_text(s, rem);
		httpd_add_header(p->req, name, s);
		snprintf(name, sizeof name, "x-ratelimit-reset-%s", unit);
		gotime_format(reset, s, sizeof s);
		httpd_add_header(p->req, name, s);
	}
}

static void emit_event(void *arg, const char *ev, size_t len)
{
	struct preq *p = arg;
	/* a Responses stream's usage event goes out once its row is kept, as
	 * a chat stream's [DONE] does */
	if (p->sse.usage_event && p->route->kind == RK_RESPONSES) {
		buf_add(&p->held, ev, len);
		return;
	}
	if (p->req)
		httpd_chunk(p->req, ev, len);
}

/* Groq answering 429 again and again for one key (a storm): one alert per
 * key per STORM_QUIET_MS, at alerts.upstream_429_storm within a minute. */
#define STORM_QUIET_MS (10 * 60 * 1000)
static void storm_count(struct preq *p)
{
	struct ukey *k = p->k;
	int64_t now = gw_now(p->g), limit = p->g->cfg.storm_429;
	if (limit <= 0)
		return;
	if (now - k->storm_from >= 60000) {
		k->storm_from = now;
		k->storm_n = 0;
	}
	if (++k->storm_n < limit || (k->storm_alerted && now - k->storm_alerted < STORM_QUIET_MS))
		return;
	k->storm_alerted = now;
	char *m = xasprintf("Groq answered 429 %d times within a minute for upstream key '%s' (%s): the Groq "
			    "project's limits are exhausted; lower team RPM limits or spread teams over more keys.",
			    k->storm_n, k->name, p->key_fp);
	alert_raise(p->g, "upstream_429_storm", p->t->id, m);
	free(m);
}

/* The idle timer: armed once when Groq's head arrives, not re-armed for
 * every piece of its answer (a timer operation per chunk); when it fires
 * it looks at when Groq last sent and waits out the rest, or cuts. */
static void idle_fired(evutil_socket_t fd, short what, void *arg);

static void idle_wait(struct preq *p, int64_t ms)
{
	struct timeval tv = { (time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000 };
	evtimer_add(&p->idle, &tv);
}

static void idle_start(struct preq *p)
{
	int64_t ms = p->g->cfg.upstream_idle_timeout_ms;
	p->last_rx_us = mono_us();
	if (ms <= 0 || !p->tx || p->idle_on)
		return;
	evtimer_assign(&p->idle, p->g->base, idle_fired, p);
	p->idle_on = true;
	idle_wait(p, ms);
}

static void idle_stop(struct preq *p)
{
	if (p->idle_on)
		event_del(&p->idle);
	p->idle_on = false;
}

static void on_done(void *arg, int ok, const char *err);
static void abandoned(struct preq *p);

/* ends Groq's transfer early: the answer is treated as cut for `why` */
static void cut_short(struct preq *p, enum end why)
{
	if (p->tx) {
		utx_cancel(p->tx);
		p->tx = NULL;
	}
	p->cut = why;
	on_done(p, 0, ends[why].code);
}

static void idle_fired(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct preq *p = arg;
	int64_t ms = p->g->cfg.upstream_idle_timeout_ms, quiet = (mono_us() - p->last_rx_us) / 1000;
	if (p->paused || quiet < ms) { /* Groq sent since (or the client is slow): wait out the rest */
		idle_wait(p, p->paused ? ms : ms - quiet);
		return;
	}
	p->idle_on = false;
	cut_short(p, END_IDLE);
}

static void on_head(void *arg, const struct hstatus *h)
{
	struct preq *p = arg;
	long status = p->status = h->status;
	bool sse = up_head_read(p, h);
	idle_start(p);
	if (status == 401 && !p->k->rejected) {
		p->k->rejected = true;
		char *m = xasprintf("Groq rejected upstream key '%s' (%s) with 401: it was deleted or revoked "
				    "in the Groq Console.",
				    p->k->name, p->key_fp);
		alert_raise(p->g, "upstream_key_rejected", p->t->id, m);
		free(m);
	} else if (status == 200 && p->k->rejected) {
		p->k->rejected = false;
	}
	if (status == 429)
		storm_count(p);
	if (status >= 400)
		metrics_upstream_error(p->g->metrics, (int)status);
	if (status != 200)
		return;
	/* an event stream is relayed as events whether or not "stream" was
	 * asked for (and metered from them); a stream asked for but answered
	 * in one piece (GET /models ignores "stream") is buffered */
	if (sse && (p->route->kind == RK_CHAT || p->route->kind == RK_RESPONSES))
		p->relay = R_SSE;
	else if (p->route->kind == RK_SPEECH || (p->route->kind == RK_FILE && str_ends(p->param, "/content")))
		p->relay = R_RAW; /* audio, a file's content: relayed as they come */
	else
		p->relay = R_BUFFER;
	p->stream = p->relay == R_SSE;
	if (p->relay != R_BUFFER && p->client_left) { /* its client left before it began */
		abandoned(p);
		return;
	}
	if (p->relay != R_BUFFER && p->req) {
		pass_headers(p, false);
		p->replying = true;
		httpd_start(p->req, 200);
	}
}

static size_t client_backlog(struct preq *p)
{
	return p->req ? httpd_backlog(p->req) : 0;
}

/* A client that reads slowly pauses its upstream transfer instead of
 * growing the gateway's memory; this timer resumes it once drained. */
static void drain_check(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct preq *p = arg;
	if (!p->tx)
		return;
	if (client_backlog(p) > OUTBUF_HIGH / 4) {
		struct timeval tv = { 0, 20000 };
		evtimer_add(p->drain, &tv);
		return;
	}
	set_paused(p, false);
	p->last_rx_us = mono_us();
}

static void on_data(void *arg, const char *data, size_t len)
{
	struct preq *p = arg;
	p->last_rx_us = mono_us();
	switch (p->relay) {
	case R_SSE:
		sse_feed(&p->sse, data, len, emit_event, p);
		break;
	case R_RAW:
		if (p->req)
			httpd_chunk(p->req, data, len);
		break;
	case R_BUFFER:
		if ((int64_t)(p->resp.len + len) > p->g->cfg.max_answer_bytes) {
			cut_short(p, END_TOO_LARGE);
			return;
		}
		buf_add(&p->resp, data, len);
		return;
	}
	if (client_backlog(p) > OUTBUF_HIGH && p->tx) {
		set_paused(p, true); /* (the idle timer waits while paused: the client is slow, not Groq) */
		if (!p->drain)
			p->drain = evtimer_new(p->g->base, drain_check, p);
		struct timeval tv = { 0, 20000 };
		evtimer_add(p->drain, &tv);
	}
}

/* Groq's answer to a files or batches request: what it made noted as the
 * team's, a list filtered to the team's own; a batch takes its reservation
 * along (held until the batch ends) */
/* a list answer that cannot be filtered to the team's own: none of it is
 * passed on (502) */
static void unfilterable(struct preq *p)
{
	char *b = groq_error_body(502, "upstream_answer_unfilterable",
				  "Groq's list answer has no list the gateway can filter to this team's own, so none of "
				  "it is passed on. Try again; operators: check the upstream.");
	buf_reset(&p->resp);
	buf_adds(&p->resp, b);
	free(b);
	p->status = 502;
}

static void batch_answer(struct preq *p)
{
	struct gateway *g = p->g;
	switch (p->route->kind) {
	case RK_FILE_UPLOAD:
		batch_uploaded(g, p->t, p->k, &p->resp, p->batch_worst, p->batch_lines, p->batch_index);
		break;
	case RK_FILES:
	case RK_BATCHES:
		if (batch_filter(g, p->t, &p->resp, p->route->kind == RK_BATCHES) != 0)
			unfilterable(p);
		break;
	case RK_BATCH_CREATE:
		if (batch_created(g, p->t, p->k, p->batch_input, &p->resp, p->reserved) == 0)
			p->reserved = 0; /* the batch holds it now */
		break;
	case RK_FILE:
		if (httpd_method(p->req) == HM_DELETE) {
			struct bfile *f = team_file(&g->reg, p->t, p->param);
			if (f)
				batch_file_deleted(g, f);
		}
		break;
	default: break;
	}
}

static bool model_allowed(void *arg, const char *id)
{
	return team_allows(arg, id);
}

/* keeps only the team's allowed models in a /models answer, and lists
 * beside them the aliases that name one of those */
static void filter_models(struct preq *p)
{
	const struct gw_config *c = &p->g->cfg;
	if (answer_keep(&p->resp, model_allowed, p->t) != 0) {
		unfilterable(p);
		return;
	}
	if (!c->naliases || p->route->kind != RK_MODELS)
		return;
	json_t *j = json_loadb(p->resp.data, p->resp.len, 0, NULL);
	json_t *data = json_object_get(j, "data");
	if (json_is_array(data)) {
		for (int i = 0; i < c->naliases; i++) {
			const struct model_alias *a = &c->aliases[i];
			json_t *of = NULL, *m;
			size_t k;
			json_array_foreach(data, k, m)
				if (str_eq(json_string_value(json_object_get(m, "id")), a->model))
					of = m;
			if (!of)
				continue;
			json_t *e = json_deep_copy(of);
			json_object_set_new(e, "id", json_string(a->alias));
			json_object_set_new(e, "alias_of", json_string(a->model));
			json_array_append_new(data, e);
		}
		char *out = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
		buf_reset(&p->resp);
		buf_adds(&p->resp, out);
		free(out);
	}
	json_decref(j);
}

/* a relayed answer's end, once its row is committed (or not) */
static void end_stream(struct preq *p, bool kept)
{
	struct hreq *req = take_req(p);
	if (req) {
		if (p->complete) {
			/* the last event (chat: [DONE]; Responses: the usage event)
			 * only once the row is committed; otherwise an error event,
			 * and the stream ends without it */
			static const char done[] = "data: [DONE]\n\n",
					  down[] = "data: {\"error\":{\"message\":\"" STORE_DOWN_MSG "\",\"type\":"
						   "\"api_error\",\"code\":\"store_unavailable\"}}\n\n";
			if (!kept && p->relay == R_SSE)
				httpd_chunk(req, down, sizeof down - 1);
			else if (p->held.len)
				httpd_chunk(req, p->held.data, p->held.len);
			else if (p->relay == R_SSE && p->sse.done)
				httpd_chunk(req, done, sizeof done - 1);
			httpd_end(req);
		} else {
			/* Groq's answer broke: end the client's the same way
			 * (the reply never completes: not flushed, not owed) */
			p->g->unflushed--;
			httpd_abort(req);
		}
	}
	preq_free(p);
}

/* a buffered answer, once its row is committed; withheld (503) if not */
static void send_answer(struct preq *p, bool kept)
{
	if (!p->req) {
		preq_free(p);
		return;
	}
	if (!kept) {
		/* not in the ledger: the answer is withheld (kept rows are
		 * written when the store is back) */
		struct verdict v = { .status = 503, .type = "api_error", .code = "store_unavailable",
				     .message = xstrdup(STORE_DOWN_MSG) };
		reply_error(p, &v);
		return;
	}
	pass_headers(p, p->conv != NULL);
	struct hreq *req = take_req(p);
	if (p->conv) {
		httpd_send_owned(req, (int)p->status, p->conv_ctype, p->conv, p->conv_len);
		p->conv = NULL;
	} else {
		size_t len = p->resp.len;
		if (len)
			httpd_send_owned(req, (int)p->status, NULL, buf_detach(&p->resp), len);
		else
			httpd_send(req, (int)p->status, NULL, "", 0);
	}
	preq_free(p);
}

static void admitted(struct preq *p);
static int body_set_string(struct preq *p, const char *key, const char *s, struct verdict *v);
static void model_now(struct preq *p, const char *m);

/* the model to try next after the ones tried (the fallbacks of the
 * team), switched to; false when none is left */
static const char *next_model(const struct preq *p)
{
	if (!p->ntried || p->ntried >= TRIES_MAX || p->route->body != BK_JSON || p->route->kind == RK_BATCH_CREATE)
		return NULL;
	return fallback_next(&p->g->cfg, p->t, (const char *const *)p->tried, p->ntried);
}

static bool switch_model(struct preq *p)
{
	const char *next = next_model(p);
	struct verdict v = { 0 };
	if (!next || body_set_string(p, "model", next, &v) != 0) {
		verdict_clear(&v);
		return false;
	}
	model_now(p, next);
	p->tried[p->ntried++] = xstrdup(next);
	return true;
}

static bool retryable(long status)
{
	return status == 429 || status == 498 || (status >= 500 && status <= 599);
}

/* Groq answered 429, 498 or 5xx and nothing went to the client yet: a
 * flex 498 once more on on_demand (when the team may), else the next
 * fallback model, admitted afresh (its capacity, its budget). True when
 * the request goes on that way. */
static bool try_again(struct preq *p)
{
	if (!retryable(p->status) || !p->req || p->replying)
		return false;
	struct verdict v = { 0 };
	bool on_demand = p->status == 498 && p->tier == TIER_FLEX && !p->tier_retried &&
			 (!p->t->tiers || (p->t->tiers & TIER_ON_DEMAND));
	if (!on_demand && !next_model(p))
		return false;
	if (p->status == 429 && p->model) /* (held before the model changes) */
		groq_held(p);
	if (on_demand) {
		if (body_set_string(p, "service_tier", "on_demand", &v) != 0) {
			verdict_clear(&v);
			return false;
		}
		p->tier = TIER_ON_DEMAND;
		p->tier_retried = true;
	} else if (!switch_model(p)) {
		return false;
	}
	gw_log(p->g, json_pack("{s:s,s:s,s:s,s:i,s:s,s:s}", "level", "info", "msg", "tried again", "team", p->t->id,
			       "groq_status", (int)p->status, "model", p->model, "tier",
			       p->tier ? tier_name(p->tier) : "groq's"));
	/* the first try's key use ends here; its settlement was made */
	p->k->inflight--;
	if (p->on_old)
		p->k->old_inflight--;
	secret_free(p->secret);
	p->secret = NULL;
	p->on_old = false;
	buf_free(&p->resp);
	buf_init(&p->resp);
	p->status = 0;
	p->relay = 0;
	p->cut = 0;
	admitted(p);
	return true;
}

static void on_done(void *arg, int ok, const char *err)
{
	struct preq *p = arg;
	struct gateway *g = p->g;
	p->tx = NULL;
	idle_stop(p);
	struct usage u = { 0 };
	if (p->relay == R_SSE)
		u = p->sse.usage;
	else if (ok && p->status == 200 && p->route->kind == RK_TRANSCRIBE) {
		/* read once: its duration is the bill, the rest the client's format */
		double d = -1;
		p->conv = audio_answer(p->resp.data ? p->resp.data : "", p->resp.len, p->audio_fmt, &d, &p->conv_len,
				       &p->conv_ctype);
		if (d >= 0) {
			u.audio_s = d;
			u.seen = true;
		}
	} else if (ok && p->status == 200 && p->route->unit == BU_TOKENS)
		usage_from_json(p->resp.data ? p->resp.data : "", p->resp.len, &u);
	/* Groq bills what it answered: an error answer costs nothing; an
	 * answer begun, or a request Groq may be working on (no answer within
	 * the time), is charged; a request that never reached Groq is not */
	bool billed = p->status == 200 || (!p->status && err && (strcmp(err, "timeout") == 0 || p->cut));
	if (p->route->kind >= RK_FILE_UPLOAD) { /* files and batches: nothing billed but a batch */
		if (ok && p->status == 200)
			batch_answer(p);
		/* a batch Groq may have made (no answer in time) keeps its charge */
		billed = p->route->kind == RK_BATCH_CREATE && p->reserved && !p->status && err && strcmp(err, "timeout") == 0;
	}
	int64_t qty = 0, cost = 0;
	struct usage seen = u; /* Groq's own figures, before cost_of fills in bounds */
	if (billed)
		cost = cost_of(p, &u, &qty);
	settle(p, cost, &seen, billed);
	int64_t now = gw_now(g);
	if (p->on_old) {
		p->k->old_last_used = now;
		if (p->k->rot >= ROT_SWITCHED)
			p->k->old_since_switch++;
	}
	if (p->client_left) { /* its client left while Groq worked: metered all the same */
		record(p, 499, "client_closed", &u, cost, qty, just_free);
		return;
	}
	if (ok && !billed && try_again(p))
		return;
	if (!p->replying && !ok) {
		enum end e = p->cut ? (enum end)p->cut : err && strcmp(err, "timeout") == 0 ? END_TIMEOUT : END_UNREACHABLE;
		char *m;
		switch (e) {
		case END_TOO_LARGE:
			m = xasprintf("Groq's answer was larger than the gateway relays in one piece (%lld bytes, "
				      "limits.max_answer_bytes); it was abandoned.",
				      (long long)g->cfg.max_answer_bytes);
			break;
		case END_IDLE:
			m = xasprintf("Groq stopped sending its answer for %lld ms; it was abandoned. Try again.",
				      (long long)g->cfg.upstream_idle_timeout_ms);
			break;
		case END_TIMEOUT:
			m = xasprintf("Groq did not answer within %lld ms; the request was abandoned. "
				      "Try again, or ask an operator to check upstream health.",
				      (long long)g->cfg.upstream_timeout_ms);
			break;
		default:
			m = xasprintf("The gateway could not reach Groq: %s. Try again shortly.", err ? err : "?");
		}
		metrics_upstream_error(g->metrics, ends[e].status);
		p->err = (struct verdict){ .status = ends[e].status, .type = "api_error", .code = ends[e].code, .message = m };
		record(p, ends[e].status, ends[e].reason, &u, cost, qty, send_error);
		return;
	}
	if (p->replying) {
		p->complete = ok && (p->relay != R_SSE || p->route->kind != RK_CHAT || p->sse.done);
		record(p, p->complete ? 200 : 502, p->complete ? NULL : p->cut ? ends[p->cut].reason : "upstream_stream_cut",
		       &u, cost, qty, end_stream);
		return;
	}
	/* a buffered answer: passed through unchanged (models filtered) */
	if (p->route->kind == RK_MODELS && p->status == 200)
		filter_models(p);
	int st = (int)p->status;
	if (st == 429 && p->model)
		groq_held(p);
	if (st == 400 && p->t && p->model && groq_error_code(p->resp.data, p->resp.len, "model_decommissioned"))
		groqwatch_decommissioned(g, p->t->id, p->model);
	record(p, st, st >= 400 ? "upstream_error" : NULL, &u, cost, qty, send_answer);
}

static const struct utx_cbs up_cbs = { on_head, on_data, on_done };

static void forward(struct preq *p)
{
	struct gateway *g = p->g;
	struct ukey *k = p->k;
	bool use_new = k->rot >= ROT_SWITCHED && k->new_secret;
	p->secret = xstrdup(use_new ? k->new_secret : k->secret);
	snprintf(p->key_fp, sizeof p->key_fp, "%s", use_new ? k->new_fp : k->fp);
	p->on_old = k->rot != ROT_NONE && !use_new;
	k->inflight++;
	if (p->on_old)
		k->old_inflight++;
	ukey_count(k, gw_now(g));
	p->tok->last_used_at = gw_now(g);
	p->tok->requests++;
	/* the path Groq receives is the one the route table matched */
	char *auth = xconcat("Authorization: Bearer ", p->secret, NULL);
	char *ct = p->fwd_ctype ? xconcat("Content-Type: ", p->fwd_ctype, NULL) : NULL;
	char *rid = p->client_rid ? xconcat("X-Request-Id: ", p->client_rid, NULL) : NULL;
	const char *hdrs[6];
	int nh = 0;
	hdrs[nh++] = auth;
	hdrs[nh++] = "User-Agent: groqgated/" GG_VERSION;
	hdrs[nh++] = "Accept-Encoding: identity"; /* the gateway reads what it relays */
	if (ct)
		hdrs[nh++] = ct;
	if (rid)
		hdrs[nh++] = rid;
	hdrs[nh] = NULL;
	const char *body = p->fwd ? p->fwd : p->raw;
	size_t len = p->fwd ? p->fwd_len : p->raw_len;
	sse_init(&p->sse);
	buf_init(&p->resp);
	struct ureq r = { .method = httpd_method_name(p->req), .path = p->path, .query = httpd_query_string(p->req),
			  .headers = hdrs, .body = body, .len = len, .timeout_ms = g->cfg.upstream_timeout_ms,
			  .connect_timeout_ms = g->cfg.upstream_connect_timeout_ms };
	p->tx = upstream_start(g->up, g->cfg.up_origin, &r, &up_cbs, p);
	secret_free(auth);
	free(ct);
	free(rid);
}

/* ---- after the rate limit: reserve, then forward ------------------- */

/* the worst case Groq could bill for this request, in its unit */
static int64_t worst_case(struct preq *p)
{
	const struct price *pr = p->model ? config_price(&p->g->cfg, p->model) : NULL;
	switch (p->route->unit) {
	case BU_TOKENS:
		if (p->route->kind == RK_BATCH_CREATE) /* its lines' worst case at the batch price */
			return p->batch_worst;
		return cost_tokens(pr, p->prompt_est, 0, p->cap * p->n, 1.0);
	case BU_AUDIO_SECONDS: return cost_audio(pr, p->audio_bound_s);
	case BU_CHARS: return cost_chars(pr, p->chars);
	default: return 0;
	}
}

static int recheck(struct preq *p, struct verdict *v);
static void capacity_retry(evutil_socket_t fd, short what, void *arg);

/* Groq's capacity: the request's worst case taken from its team's windows
 * and its model's (the prompt at the calibrated estimate, the cap for
 * every choice; a transcription's audio bound). 0 taken, 1 waiting for
 * room (queue mode), -1 refused (v). */
static int take_capacity(struct preq *p, struct verdict *v)
{
	struct gateway *g = p->g;
	int64_t need[CL_N] = { 0 };
	if (p->route->kind == RK_BATCH_CREATE || p->route->kind == RK_FILE_UPLOAD) /* Groq's batch limits are its own */
		return 0;
	need[CL_RPM] = need[CL_RPD] = 1;
	if (p->route->unit == BU_TOKENS)
		need[CL_TPM] = need[CL_TPD] =
			capacity_prompt(g->capacity, p->model, (int64_t)p->raw_len, p->prompt_est) + p->cap * p->n;
	else if (p->route->unit == BU_AUDIO_SECONDS)
		need[CL_ASH] = need[CL_ASD] = p->audio_bound_s;
	int64_t now = gw_now(g);
	if (capacity_admit(g->capacity, p->t, p->model, need, now, &p->capr, v) == 0) {
		team_model_count(p->t, p->model, now, now, 1, need[CL_TPM]);
		return 0;
	}
	int64_t deadline = p->t0_ms + p->t->queue_wait_ms;
	if (v->status != 429 || p->t->rpm_mode != RPM_QUEUE || now >= deadline)
		return -1;
	/* queue mode: it waits for room until its deadline, looked at again
	 * within 250 ms (requests settling give back what they did not use,
	 * sooner than the window moves) */
	int64_t wait = v->retry_ms < 1 ? 1 : v->retry_ms > 250 ? 250 : v->retry_ms;
	if (wait > deadline - now)
		wait = deadline - now;
	verdict_clear(v);
	if (!p->capwait)
		p->capwait = evtimer_new(g->base, capacity_retry, p);
	struct timeval tv = { (time_t)(wait / 1000), (suseconds_t)(wait % 1000) * 1000 };
	evtimer_add(p->capwait, &tv);
	return 1;
}

/* the upstream key's own limits, inside its team's (an equal share per
 * replica in cluster mode): its requests and tokens per minute */
static int key_limits(struct preq *p, int64_t now, struct verdict *v)
{
	struct ukey *k = p->k;
	int replicas = cluster_replicas(p->g);
	if (k->rpm_limit > 0) {
		int lim = (int)(k->rpm_limit / replicas > 0 ? k->rpm_limit / replicas : 1);
		int64_t retry = 0;
		rl_resize(&k->rl, lim);
		if (!rl_admit(&k->rl, now, &retry))
			return rpm_refusal("upstream key", k->name, k->rpm_limit, retry, v);
	}
	if (k->tpm_limit > 0 && p->route->unit == BU_TOKENS && p->route->kind != RK_BATCH_CREATE) {
		int64_t lim = k->tpm_limit / replicas > 0 ? k->tpm_limit / replicas : 1;
		int64_t need = capacity_prompt(p->g->capacity, p->model, (int64_t)p->raw_len, p->prompt_est) + p->cap * p->n;
		if (!k->tpm.n)
			win_init(&k->tpm, 60000, 1000);
		int64_t wait = win_wait(&k->tpm, now, need, lim);
		if (wait != 0) {
			char w[32];
			gotime_format(wait > 0 ? wait : 0, w, sizeof w);
			deny(v, wait < 0 ? 413 : 429, "tokens", "rate_limit_exceeded", "capacity_limited",
			     xasprintf(wait < 0 ? "Request too large for upstream key '%s' on tokens per minute (TPM): Limit %lld, "
						  "Requested %lld."
						: "Rate limit reached for upstream key '%s' on tokens per minute (TPM): Limit %lld, "
						  "Requested %lld. Please try again in %s.",
				       k->name, (long long)k->tpm_limit, (long long)need, w));
			v->retry_ms = wait > 0 ? wait : 0;
			return -1;
		}
		win_add(&k->tpm, now, now, need);
		p->key_tokens = need;
	}
	return 0;
}

static void admitted(struct preq *p)
{
	struct gateway *g = p->g;
	struct verdict v = { 0 };
	if (!p->ntried && p->model)
		p->tried[p->ntried++] = xstrdup(p->model);
	int r = take_capacity(p, &v);
	/* Groq's capacity for the model is used up or held (its 429): the
	 * next fallback, before a byte is sent */
	while (r < 0 && v.status == 429 && switch_model(p)) {
		verdict_clear(&v);
		r = take_capacity(p, &v);
	}
	if (r < 0)
		reject(p, &v);
	if (r != 0)
		return;
	int64_t amount = worst_case(p);
	char *why = NULL;
	struct budget_env e = gw_budget(g);
	if (budget_reserve(&e, p->t, amount, &why) != 0) {
		settle(p, 0, NULL, false); /* the capacity it took, given back */
		refuse(p, 402, "insufficient_quota", "budget_exceeded", "budget_exceeded", why);
		return;
	}
	p->reserved = amount;
	struct ukey *k = p->k;
	int replicas = cluster_replicas(g);
	if (k->month_start != g->month.from) { /* a new month (budget_roll has it): the key's from nothing */
		k->month_start = g->month.from;
		k->spend_nusd = 0;
	}
	if (k->budget_nusd > 0 && k->spend_nusd + k->reserved_nusd + amount > k->budget_nusd / replicas) {
		char a[32], b[32], c[32];
		usd2(a, sizeof a, k->spend_nusd + k->reserved_nusd);
		usd2(b, sizeof b, k->budget_nusd);
		usd2(c, sizeof c, amount);
		settle(p, 0, NULL, false); /* the team's reservation and the capacity, given back */
		refuse(p, 402, "insufficient_quota", "budget_exceeded", "budget_exceeded",
		       xasprintf("Upstream key '%s' of team '%s' has spent or reserved %s of its %s monthly budget and "
				 "this request could cost up to %s. Use another key of the team, or ask an operator.",
				 k->name, p->t->id, a, b, c));
		return;
	}
	k->reserved_nusd += amount;
	p->key_reserved = amount;
	/* last, so that only what would be sent counts in the key's windows */
	if (key_limits(p, gw_now(g), &v) != 0) {
		settle(p, 0, NULL, false);
		reject(p, &v);
		return;
	}
	forward(p);
}

/* a request that waited for Groq's capacity: what it was checked for
 * still holds, then it tries again */
static void capacity_retry(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct preq *p = arg;
	struct verdict v = { 0 };
	if (recheck(p, &v) != 0) {
		reject(p, &v);
		return;
	}
	admitted(p);
}

/* ---- queue mode: the team's RPM queue (ratelimit.c) holds the request's
 * rlwait; these are its callbacks ------------------------------------------ */

#define WAITER(w) ((struct preq *)(void *)((char *)(w) - offsetof(struct preq, wait)))

/* what may have changed while a request waited: its token revoked, its
 * team paused, its model taken off the allowlist, the team's cap lowered */
static int recheck(struct preq *p, struct verdict *v)
{
	if (p->tok->revoked_at)
		return deny(v, 401, "invalid_request_error", "invalid_api_key", "unauthenticated",
			    xstrdup("Invalid API Key: this client token was revoked while the request waited in the "
				    "team's queue. Ask your groqgate operator for a new one."));
	if (stage_policy(p->t, p->route->kind == RK_MODELS ? NULL : p->model, v) != 0)
		return -1;
	if (p->route->unit == BU_TOKENS && p->route->kind != RK_EMBEDDINGS && p->cap > p->t->max_tokens)
		return deny(v, 400, "invalid_request_error", "max_tokens_exceeded", "max_tokens_exceeded",
			    xasprintf("Team '%s' may now ask for at most %lld tokens per request (changed while the "
				      "request waited); lower the cap and retry.",
				      p->t->id, (long long)p->t->max_tokens));
	return 0;
}

static int q_recheck(struct rlwait *w, struct verdict *v)
{
	return recheck(WAITER(w), v);
}

static void q_admit(struct rlwait *w)
{
	admitted(WAITER(w));
}

static void q_refuse(struct rlwait *w, struct verdict *v)
{
	reject(WAITER(w), v);
}

static void q_expired(struct rlwait *w)
{
	struct preq *p = WAITER(w);
	struct team *t = p->t;
	struct verdict v = { 0 };
	ratelimit_refusal(t, 0, &v); /* the verdict only: no slot taken */
	free(v.message);
	v.message = xasprintf("Rate limit reached for team '%s' (RPM %lld): the request waited "
			      "the maximum of %lld ms in the team's queue.",
			      t->id, (long long)t->rpm_limit, (long long)t->queue_wait_ms);
	reject(p, &v);
}

static int64_t q_now(struct rlwait *w)
{
	return gw_now(WAITER(w)->g);
}

static const struct rlqueue_ops queue_ops = { q_recheck, q_admit, q_refuse, q_expired, q_now };

/* ---- the client side ----------------------------------------------- */

/* the reply's last byte was written: a draining gateway may now exit */
static void flushed(struct hreq *req, void *arg)
{
	(void)req;
	((struct gateway *)arg)->unflushed--;
}

/* A relayed answer whose client left: Groq's transfer is cancelled (Groq
 * stops generating; keeping it would have Groq bill the whole answer) and
 * the request is charged what Groq sent: its usage when that came already,
 * else the prompt at its upper estimate and one output token per event
 * relayed (Groq's streams carry a token per content chunk; the few events
 * without one count too), within the cap. Speech is billed by its input. */
static void abandoned(struct preq *p)
{
	if (p->tx) {
		utx_cancel(p->tx);
		p->tx = NULL;
	}
	idle_stop(p);
	struct usage u = p->sse.usage;
	if (!u.seen && p->route->unit == BU_TOKENS) {
		u.prompt = p->prompt_est;
		u.completion = p->sse.events;
		u.seen = true;
	}
	int64_t qty = 0, cost = cost_of(p, &u, &qty);
	settle(p, cost, &u, true);
	record(p, 499, "client_closed", &u, cost, qty, just_free);
}

/* the client went before its answer was finished (httpd.c notices while
 * the request waits, queued or on Groq): req is freed after this returns */
static void on_client_close(struct hreq *req, void *arg)
{
	(void)req;
	struct preq *p = arg;
	p->g->unflushed--; /* this reply will never complete */
	p->req = NULL;
	p->watched = false;
	if (p->then) /* its row is being written; `then` frees p */
		return;
	if (p->tx && p->relay != R_BUFFER && p->replying) {
		abandoned(p);
		return;
	}
	if (p->tx) {
		/* Groq finishes (and bills) an answer in one piece it has
		 * started: it is read to the end, unsent, so the ledger gets the
		 * real usage (on_done records it; a stream that begins meanwhile
		 * is abandoned in on_head) */
		p->client_left = true;
		if (p->paused)
			set_paused(p, false);
		return;
	}
	/* still waiting for the RPM window or queued: nothing reached Groq */
	if (p->cw) {
		counters_cancel(p->t, p->cw);
		p->cw = NULL;
	}
	if (p->wait.queued)
		rlq_remove(p->t, &p->wait);
	if (p->capwait)
		event_del(p->capwait);
	if (p->t)
		settle(p, 0, NULL, false);
	record(p, 499, "client_closed", NULL, 0, 0, just_free);
}

/* ---- reading the request ------------------------------------------- */

/* the team's cap written into the body when the client sent none (or null) */
static void set_cap(struct preq *p, struct jspan at, const char *name)
{
	p->fwd = reqbody_with_int(p->raw, p->raw_len, &p->body, at, name, p->cap, &p->fwd_len);
}

/* a JSON body: checked, its governed members read; 0 or -1 (answered) */
static int read_json(struct preq *p, const struct mediatype *mt, struct verdict *v)
{
	/* whatever else the client labels it, the body is read as JSON and
	 * Groq receives it as application/json: both read the same thing. A
	 * form is refused (Groq would read its fields, not this). */
	if (str_starts(mt->type, "multipart/")) {
		bad(v, "invalid_json",
			    xasprintf("This route takes a JSON body: send Content-Type: application/json (got %s).",
				      mt->type));
		return -1;
	}
	char why[160];
	if (!p->raw_len) {
		bad(v, "invalid_json", xstrdup("Send a JSON body with Content-Type: application/json."));
		return -1;
	}
	if (reqbody_scan(p->raw, p->raw_len, &p->body, why, sizeof why) != 0) {
		bad(v, "invalid_json", xasprintf("The request body is not a JSON object (%s).", why));
		return -1;
	}
	/* the body Groq parses must be the body the gateway checked */
	if (p->body.dup) {
		bad(v, "duplicate_key",
			    xasprintf("'%s' appears more than once in the body; send it once.", p->body.dup));
		return -1;
	}
	if (p->body.variant[0]) {
		bad(v, "invalid_key",
			    xasprintf("'%s': keys are case-sensitive; use the lower-case name.", p->body.variant));
		return -1;
	}
	p->model = jspan_string(p->body.model);
	if (!p->model || !*p->model) {
		bad(v, "invalid_value",
			    xstrdup("'model' must be given as a string, e.g. \"llama-3.3-70b-versatile\"."));
		return -1;
	}
	p->fwd_ctype = xstrdup("application/json");
	return 0;
}

/* the body as a multipart form (need: what its fields are, for the
 * refusal); 0, or -1 (answered) */
static int parse_form(struct preq *p, const struct mediatype *mt, struct mform *f, const char *need, struct verdict *v)
{
	if (strcmp(mt->type, "multipart/form-data") != 0 || !mt->boundary[0]) {
		bad(v, "invalid_content_type",
			    xasprintf("This route takes a multipart/form-data body with a boundary (%s).", need));
		return -1;
	}
	char why[160];
	if (mform_parse(p->raw, p->raw_len, mt->boundary, f, why, sizeof why) != 0) {
		bad(v, "invalid_form", xasprintf("The form cannot be read: %s.", why));
		return -1;
	}
	return 0;
}

/* a multipart form (audio): the one model field Groq will read, the
 * response_format; 0 or -1 (answered) */
static int read_form(struct preq *p, const struct mediatype *mt, struct verdict *v)
{
	struct mform f;
	if (parse_form(p, mt, &f, "the file and a 'model' field", v) != 0)
		return -1;
	int rc = -1, nm, nf, nfile;
	const struct mpart *m = mform_get(&f, "model", &nm), *fmt = mform_get(&f, "response_format", &nf);
	const struct mpart *file = mform_get(&f, "file", &nfile);
	if (nm != 1 || !m || m->filename) {
		bad(v, nm > 1 ? "ambiguous_model" : "invalid_value",
			    xstrdup(nm > 1 ? "The form names 'model' more than once (or in another letter case); "
					     "send exactly one 'model' field."
					   : "The form needs one 'model' field, e.g. whisper-large-v3-turbo."));
		goto out;
	}
	if (nf > 1 || (nf == 1 && !fmt)) {
		bad(v, "invalid_form", xstrdup("'response_format' is given more than once."));
		goto out;
	}
	for (size_t i = 0; i < m->len; i++)
		if ((unsigned char)m->data[i] < 0x21 || (unsigned char)m->data[i] > 0x7e || m->len > 128) {
			bad(v, "invalid_value", xstrdup("'model' must be a model id, e.g. whisper-large-v3."));
			goto out;
		}
	p->model = xstrndup(m->data, m->len);
	p->audio_fmt = fmt ? xstrndup(fmt->data, fmt->len) : xstrdup("json");
	if (strcmp(p->audio_fmt, "json") && strcmp(p->audio_fmt, "text") && strcmp(p->audio_fmt, "verbose_json")) {
		bad(v, "invalid_value",
			    xasprintf("'response_format' must be json, text or verbose_json (got '%.40s').", p->audio_fmt));
		goto out;
	}
	/* Groq's answer says the audio's duration only as verbose_json: that
	 * is what the gateway asks for, and the client gets the format it
	 * asked for from it */
	buf b;
	buf_init(&b);
	for (int i = 0, first = 1; i < f.n; i++)
		if (&f.parts[i] != fmt) { /* (a part's range: its delimiter line to its data's end) */
			if (!first)
				buf_add(&b, "\r\n", 2);
			buf_add(&b, p->raw + f.parts[i].start, f.parts[i].end - f.parts[i].start);
			first = 0;
		}
	buf_addf(&b, "\r\n--%s\r\nContent-Disposition: form-data; name=\"response_format\"\r\n\r\nverbose_json",
		 mt->boundary);
	buf_addf(&b, "\r\n--%s--\r\n", mt->boundary);
	p->fwd_len = b.len;
	p->fwd = buf_detach(&b);
	p->fwd_ctype = xasprintf("multipart/form-data; boundary=%s", mt->boundary);
	/* the most audio the file could hold: 4 kbit/s is below any codec
	 * Groq takes at speech quality */
	size_t bytes = file ? file->len : p->raw_len;
	p->audio_bound_s = (int64_t)(bytes / 500) + 1;
	if (p->audio_bound_s < p->g->cfg.audio_min_seconds)
		p->audio_bound_s = p->g->cfg.audio_min_seconds;
	rc = 0;
out:
	mform_free(&f);
	return rc;
}

/* a batch input file (purpose=batch): every line checked against the
 * team's policy, caps written in; the form Groq receives rebuilt around it.
 * 0, or -1 (answered, or v filled) */
static int read_upload(struct preq *p, const struct mediatype *mt, struct verdict *v)
{
	struct mform f;
	if (parse_form(p, mt, &f, "'purpose' and 'file'", v) != 0)
		return -1;
	int rc = -1, np, nf;
	const struct mpart *purpose = mform_get(&f, "purpose", &np), *file = mform_get(&f, "file", &nf);
	if (np != 1 || nf != 1 || !purpose || !file || f.n != 2) {
		bad(v, "invalid_form", xstrdup("The form takes exactly one 'purpose' and one 'file' field."));
		goto out;
	}
	if (purpose->len != 5 || memcmp(purpose->data, "batch", 5) != 0) {
		rc = deny(v, 403, "permission_error", "purpose_not_governed", "route_refused",
			  xstrdup("Only files with purpose 'batch' pass the gateway (each of their lines is checked)."));
		goto out;
	}
	/* an upload counts against the team's RPM (stage_rpm): a team at its
	 * limit is refused before its lines are read, not after */
	int64_t now = gw_now(p->g);
	if (p->t->rpm_limit > 0 && counters_count(p->t, now) >= p->t->rpm_limit) {
		rc = ratelimit_refusal(p->t, rl_reset_ms(&p->t->rl, now), v);
		goto out;
	}
	int held = team_files(&p->g->reg, p->t);
	if (held >= p->g->cfg.max_files_per_team) {
		rc = deny(v, 403, "permission_error", "too_many_files", "too_many_files",
			  xasprintf("Team '%s' holds %d batch files (limits.max_files_per_team); delete ones it no longer "
				    "needs (DELETE /openai/v1/files/{id}) before uploading more.",
				    p->t->id, held));
		goto out;
	}
	buf lines;
	buf_init(&lines);
	p->batch_index = json_object();
	if (batch_lines(file->data, file->len, p->t, &p->g->cfg, &lines, &p->batch_worst, &p->batch_lines, p->batch_index,
			v) != 0) {
		buf_free(&lines);
		goto out;
	}
	/* a boundary that the checked lines do not contain */
	char bnd[64];
	for (unsigned n = 0;; n++) {
		snprintf(bnd, sizeof bnd, "groqgate-batch-%08x%u", (unsigned)p->t0_us, n);
		if (!memmem(lines.data ? lines.data : "", lines.len, bnd, strlen(bnd)))
			break;
	}
	buf b;
	buf_init(&b);
	buf_addf(&b, "--%s\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nbatch\r\n", bnd);
	buf_addf(&b, "--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"", bnd);
	for (const char *c = file->filename ? file->filename : "batch.jsonl"; *c; c++)
		if (*c >= 0x20 && *c != '"' && *c != '\\' && *c != 0x7f) /* (a name as a quoted string) */
			buf_add(&b, c, 1);
	buf_adds(&b, "\"\r\nContent-Type: application/jsonl\r\n\r\n");
	buf_add(&b, lines.data ? lines.data : "", lines.len);
	buf_addf(&b, "\r\n--%s--\r\n", bnd);
	buf_free(&lines);
	p->fwd_len = b.len;
	p->fwd = buf_detach(&b);
	p->fwd_ctype = xasprintf("multipart/form-data; boundary=%s", bnd);
	rc = 0;
out:
	mform_free(&f);
	return rc;
}

/* a batch: its input file the team's, its endpoint one the file was
 * checked for; its reservation the file's worst case. 0 or -1 */
static int read_batch_create(struct preq *p, struct verdict *v)
{
	json_error_t e;
	char twin[64];
	json_t *j = p->raw_len ? json_loadb(p->raw, p->raw_len, JSON_REJECT_DUPLICATES, &e) : NULL;
	if (!json_is_object(j)) {
		json_decref(j);
		bad(v, "invalid_json", xasprintf("Creating a batch takes a JSON object with 'input_file_id' and 'endpoint', "
						 "each once (%s).", p->raw_len ? e.text : "no body"));
		return -1;
	}
	if (json_case_twin(j, twin, sizeof twin)) {
		json_decref(j);
		bad(v, "duplicate_key",
		    xasprintf("The key '%s' appears in two letter cases; Groq could read either, so it is refused.", twin));
		return -1;
	}
	const char *in = json_string_value(json_object_get(j, "input_file_id"));
	const char *ep = json_string_value(json_object_get(j, "endpoint"));
	int rc = 0;
	struct bfile *f = in ? team_file(&p->g->reg, p->t, in) : NULL;
	if (!ep || strcmp(ep, "/v1/chat/completions") != 0) {
		rc = deny(v, 400, "invalid_request_error", "invalid_value", "invalid_request",
			  xstrdup("'endpoint' must be \"/v1/chat/completions\" (the lines the gateway checks)."));
	} else if (!f || !f->lines) {
		rc = deny(v, 404, "invalid_request_error", "not_found", "not_found",
			  xasprintf("No such input file for this team: '%.64s' (upload it through the gateway).", in ? in : ""));
	} else {
		p->batch_input = xstrdup(in);
		p->batch_worst = f->worst_nusd;
		p->fwd_ctype = xstrdup("application/json");
		/* Groq receives the body the gateway checked, not the bytes sent */
		free(p->fwd);
		p->fwd = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
		p->fwd_len = strlen(p->fwd);
	}
	json_decref(j);
	return rc;
}

/* one file or batch: the team's own only (another team's is 404, as if it
 * did not exist); the parameter's shape is the route's. 0 or -1 */
static int own_check(struct preq *p, struct verdict *v)
{
	const char *param = p->param, *slash = strchr(param, '/');
	char *id = slash ? xstrndup(param, (size_t)(slash - param)) : xstrdup(param);
	const char *sub = slash ? slash : "";
	enum hmethod m = httpd_method(p->req);
	bool file = p->route->kind == RK_FILE;
	bool shape = file ? (!*sub || (strcmp(sub, "/content") == 0 && m == HM_GET)) && (!*sub || m == HM_GET)
			  : (!*sub && m == HM_GET) || (strcmp(sub, "/cancel") == 0 && m == HM_POST);
	if (file && !*sub && m == HM_DELETE)
		shape = true;
	int rc = 0;
	if (!shape)
		rc = deny(v, 404, "invalid_request_error", "unknown_url", "unknown_url",
			  xasprintf("Unknown request URL: %s %s.", httpd_method_name(p->req), p->path));
	else if (file ? !team_file(&p->g->reg, p->t, id) : !team_batch(&p->g->reg, p->t, id))
		rc = deny(v, 404, "invalid_request_error", "not_found", "not_found",
			  xasprintf("No such %s for this team: '%.64s'.", file ? "file" : "batch", id));
	free(id);
	return rc;
}

/* the route's body: read, its cap and size checked, the body Groq gets
 * built; 0 or -1 (answered) */
static int read_body(struct preq *p, struct verdict *v)
{
	const struct route *r = p->route;
	const char *ct = httpd_header(p->req, "Content-Type");
	struct mediatype mt = { 0 };
	char why[160];
	if (ct && strcasecmp(ct, "application/json") == 0) /* the common case, read at once */
		memcpy(mt.type, "application/json", 17);
	else if (ct && mediatype_parse(ct, &mt, why, sizeof why) != 0) {
		bad(v, "invalid_content_type", xasprintf("The Content-Type cannot be read: %s.", why));
		return -1;
	}
	p->n = 1;
	switch (r->body) {
	case BK_NONE:
		if (p->raw_len && r->kind != RK_BATCH) { /* (a batch's cancel may carry an empty object) */
			bad(v, "invalid_request", xasprintf("%s takes no body.", r->name));
			return -1;
		}
		if (r->kind == RK_MODEL)
			p->model = xstrdup(p->param);
		return 0;
	case BK_FORM:
		return r->kind == RK_FILE_UPLOAD ? read_upload(p, &mt, v) : read_form(p, &mt, v);
	case BK_JSON:
		if (r->kind == RK_BATCH_CREATE)
			return read_batch_create(p, v);
		if (read_json(p, &mt, v) != 0)
			return -1;
		break;
	}
	p->stream = jspan_kind(p->body.stream) == J_TRUE;
	if (r->kind == RK_CHAT) {
		p->prompt_est = prompt_estimate(p->raw_len, p->body.nmessages);
	} else if (r->kind == RK_RESPONSES) {
		/* every token of the input is at least one byte of the body; a
		 * few more per input item for the template */
		size_t items = 0;
		for (size_t i = 0; i < p->body.input.n; i++)
			items += p->body.input.p[i] == '{';
		p->prompt_est = prompt_estimate(p->raw_len, items);
	} else if (r->kind == RK_EMBEDDINGS) {
		p->prompt_est = prompt_estimate(p->raw_len, 0);
	} else if (r->kind == RK_SPEECH) {
		char *in = jspan_string(p->body.input);
		if (!in || !*in) {
			free(in);
			return deny(v, 400, "invalid_request_error", "invalid_value", "invalid_request",
				    xstrdup("'input' must be the text to speak, as a string."));
		}
		p->chars = utf8_chars(in, strlen(in));
		free(in);
	}
	return 0;
}

/* the output cap (after the allowlist: a model not allowed is told so
 * first): each cap member the route has, checked; the team's written in
 * when none is sent; chat's n choices. 0, or -1 with v filled. */
static int read_caps(struct preq *p, struct verdict *v)
{
	const char *write;
	if (stage_caps(p->t, p->route->kind, &p->body, &p->cap, &p->n, &write, v) != 0)
		return -1;
	if (write)
		set_cap(p, p->route->kind == RK_CHAT ? p->body.max_completion_tokens : p->body.max_output_tokens, write);
	return 0;
}

static int read_client_rid(struct preq *p, struct verdict *v)
{
	const char *rid = httpd_header(p->req, "X-Request-Id");
	if (!rid)
		return 0;
	size_t n = strlen(rid);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)rid[i] < 0x21 || (unsigned char)rid[i] > 0x7e)
			n = 0;
	if (!n || n > 128) {
		bad(v, "invalid_request_id", xstrdup("X-Request-Id must be 1 to 128 visible ASCII characters."));
		return -1;
	}
	p->client_rid = xstrdup(rid);
	return 0;
}

static void enqueue(struct preq *p)
{
	rlq_push(p->t, &p->wait, p->t0_ms + p->t->queue_wait_ms, p->g->base, &queue_ops, gw_now(p->g));
}

/* ---- the pipeline ------------------------------------------------------ */
/* Each stage fills v and returns -1 to stop the request there; the one
 * place that answers a refusal is proxy_handle. */

/* classify: the gateway takes requests, the route is in the table */
static int stage_route(struct preq *p, struct verdict *v)
{
	struct gateway *g = p->g;
	if (g->draining)
		return deny(v, 503, "api_error", "shutting_down", "shutting_down",
			    xstrdup("The gateway is shutting down; retry on another instance or in a moment."));
	bool other_method;
	p->route = route_find(httpd_method(p->req), p->path, &p->param, &other_method);
	if (!p->route)
		return deny(v, 404, "invalid_request_error", "unknown_url", "unknown_url",
			    xasprintf("Unknown request URL: %s %s. %s", httpd_method_name(p->req), p->path,
				      other_method ? "This path is served with another method."
						   : "Please check the URL for typos, or see the Groq API reference."));
	return 0;
}

/* authenticate: the token, its team and upstream key; a refused route, a
 * ledger that takes no rows */
static int stage_who(struct preq *p, struct verdict *v)
{
	struct gateway *g = p->g;
	if (stage_authenticate(&g->reg, httpd_bearer(p->req), &p->tok, v) != 0)
		return -1;
	p->t = registry_team(&g->reg, p->tok->team);
	p->k = registry_key(&g->reg, p->tok->key);
	if (!p->t || !p->k)
		return deny(v, 500, "api_error", "misconfigured", "misconfigured",
			    xstrdup("This client token points at a team or upstream key that no longer exists; ask your "
				    "groqgate operator."));
	if (p->route->kind == RK_REFUSED)
		return deny(v, 403, "permission_error", "route_not_governed", "route_refused", xstrdup(p->route->refused));
	if (ledger_down(g->ledger))
		return deny(v, 503, "api_error", "store_unavailable", "store_unavailable", xstrdup(STORE_DOWN_MSG));
	if (cluster_stale(g))
		return deny(v, 503, "api_error", "config_stale", "config_stale",
			    xasprintf("This gateway replica cannot confirm its configuration is current (PostgreSQL has not "
				      "answered for over %llds), so it refuses requests rather than miss a pause; another "
				      "replica can serve them.",
				      (long long)g->cfg.stale_after_s));
	struct budget_env be = gw_budget(g);
	be.now = p->t0_ms;
	budget_roll(&be, p->t);
	return 0;
}

/* body and policy: the team's state first (a paused team learns that
 * whatever it sends), then the body read as Groq will read it, the model,
 * the cap, what the team owns, the price */
/* one top-level member of the body Groq receives set to value (JSON
 * text): the forwarded body when one was made, else the client's (its
 * members found again). 0, or -1 with v (the body was checked before). */
static int body_set(struct preq *p, const char *key, const char *value, struct verdict *v)
{
	bool fwd = p->fwd != NULL;
	char **b = fwd ? &p->fwd : &p->raw;
	size_t *len = fwd ? &p->fwd_len : &p->raw_len;
	struct reqbody rb;
	char why[160];
	if (reqbody_scan(*b, *len, &rb, why, sizeof why) != 0)
		return deny(v, 500, "api_error", "internal_error", "internal",
			    xasprintf("The body could not be rewritten (%s).", why));
	struct jspan at = str_eq(key, "model") ? rb.model : rb.service_tier;
	size_t nl;
	char *nb = reqbody_with_json(*b, *len, &rb, at, key, value, &nl);
	free(*b);
	*b = nb;
	*len = nl;
	if (!fwd && reqbody_scan(p->raw, p->raw_len, &p->body, why, sizeof why) != 0)
		return deny(v, 500, "api_error", "internal_error", "internal",
			    xasprintf("The body could not be rewritten (%s).", why));
	return 0;
}

static int body_set_string(struct preq *p, const char *key, const char *s, struct verdict *v)
{
	json_t *js = json_string(s);
	char *q = json_dumps(js, JSON_ENCODE_ANY);
	json_decref(js);
	int r = body_set(p, key, q, v);
	free(q);
	return r;
}

/* the model Groq is sent from now on (a copy: a reload frees the
 * configuration's strings) */
static void model_now(struct preq *p, const char *m)
{
	if (!p->asked)
		p->asked = p->model;
	else
		free(p->model);
	p->model = xstrdup(m);
}

/* an alias, or a retired model: the model Groq is sent, written into the
 * JSON body before anything else reads it (the allowlist, the cap and
 * the price are the sent model's). 0, or -1 with v filled. */
static int resolve_model(struct preq *p, struct verdict *v)
{
	const char *send;
	if (!p->model || p->route->kind == RK_MODEL || p->route->kind == RK_BATCH_CREATE)
		return 0;
	if (stage_model(&p->g->cfg, p->t, gw_now(p->g), p->model, &send, v) != 0)
		return -1;
	if (str_eq(send, p->model))
		return 0;
	if (p->route->body != BK_JSON || !p->body.model.n)
		return deny(v, 400, "invalid_request_error", "invalid_value", "invalid_request",
			    xasprintf("'%s' stands for '%s', which this route cannot be sent in its place; "
				      "name '%s' itself.", p->model, send, send));
	if (body_set_string(p, "model", send, v) != 0)
		return -1;
	model_now(p, send);
	return 0;
}

/* the service tier: one the team may not ask for is refused; none named
 * and the team has a default: written in. 0, or -1 with v. */
static int stage_tier(struct preq *p, struct verdict *v)
{
	const struct team *t = p->t;
	if (p->route->kind != RK_CHAT && p->route->kind != RK_RESPONSES)
		return 0;
	if (jspan_given(p->body.service_tier)) {
		char *s = jspan_string(p->body.service_tier);
		unsigned b = tier_parse(s);
		if (t->tiers && !(t->tiers & b)) {
			json_t *allowed = tiers_json(t->tiers);
			char *names = json_dumps(allowed, JSON_COMPACT);
			json_decref(allowed);
			int r = deny(v, 403, "permission_error", "service_tier_not_allowed", "service_tier_not_allowed",
				     xasprintf("Service tier '%s' is not allowed for team '%s'. Allowed: %s.",
					       s ? s : "(not a string)", t->id, names));
			free(names);
			free(s);
			return r;
		}
		free(s);
		p->tier = b;
		return 0;
	}
	if (!t->default_tier)
		return 0;
	p->tier = t->default_tier;
	return body_set_string(p, "service_tier", tier_name(t->default_tier), v);
}

static int stage_body(struct preq *p, struct verdict *v)
{
	p->raw = httpd_take_body(p->req, &p->raw_len);
	if (read_client_rid(p, v) != 0 || stage_policy(p->t, NULL, v) != 0 || read_body(p, v) != 0 ||
	    resolve_model(p, v) != 0 || stage_tier(p, v) != 0 || (p->model && stage_policy(p->t, p->model, v) != 0) || read_caps(p, v) != 0 ||
	    ((p->route->kind == RK_FILE || p->route->kind == RK_BATCH) && own_check(p, v) != 0))
		return -1;
	if (p->route->unit != BU_NONE && p->route->kind != RK_BATCH_CREATE &&
	    !price_bills(config_price(&p->g->cfg, p->model), p->route->unit))
		return deny(v, 403, "permission_error", "model_not_priced", "model_not_priced",
			    xasprintf("Model '%s' has no %s price in the gateway's price table, so its use cannot be "
				      "metered; ask your groqgate operator to add it.",
				      p->model, bill_unit_name(p->route->unit)));
	return 0;
}

/* the window's answer: 0 admitted, 1 queued (queue mode), -1 refused */
static int rpm_decided(struct preq *p, int ok, int64_t retry_ms, struct verdict *v)
{
	struct team *t = p->t;
	if (ok)
		return 0;
	ratelimit_refusal(t, retry_ms, v);
	if (t->rpm_mode != RPM_QUEUE || t->queue_wait_ms <= 0)
		return -1;
	if (t->qlen >= p->g->cfg.queue_max_len) {
		free(v->message);
		v->message = xasprintf("Rate limit reached for team '%s' (RPM %lld) and its queue is full "
				       "(%lld requests waiting, limits.queue_max_len). Slow down.",
				       t->id, (long long)t->rpm_limit, (long long)t->qlen);
		return -1;
	}
	verdict_clear(v);
	enqueue(p);
	return 1;
}

/* the shared window answered (cluster mode), later on the loop */
static void rpm_answer(void *arg, int ok, int64_t retry_ms)
{
	struct preq *p = arg;
	p->cw = NULL;
	struct verdict v = { 0 };
	int r = rpm_decided(p, ok, retry_ms, &v);
	if (r < 0)
		reject(p, &v);
	else if (r == 0)
		admitted(p);
}

/* rate limit: 0 admitted now, 1 queued (queue mode), 2 the answer comes
 * later (rpm_answer), -1 refused */
static int stage_rpm(struct preq *p, struct verdict *v)
{
	int ok;
	int64_t retry = 0;
	p->cw = counters_admit_async(p->t, p->t0_ms, rpm_answer, p, &ok, &retry);
	if (p->cw)
		return 2;
	return rpm_decided(p, ok, retry, v);
}

void proxy_handle(struct gateway *g, struct hreq *req, const char *path)
{
	struct preq *p = xcalloc(1, sizeof *p);
	p->g = g;
	p->req = req;
	p->t0_us = mono_us();
	p->t0_ms = gw_now(g);
	p->path = xstrdup(path);
	g->inflight++;
	g->unflushed++;
	httpd_on_complete(req, flushed, g);
	struct verdict v = { 0 };
	if (stage_route(p, &v) != 0 || stage_who(p, &v) != 0 || stage_body(p, &v) != 0) {
		reject(p, &v);
		return;
	}
	httpd_on_close(req, on_client_close, p);
	p->watched = true;
	if (p->route->unit == BU_NONE && p->route->kind != RK_FILE_UPLOAD) { /* not metered: not rate-limited, nothing reserved */
		forward(p);
		return;
	}
	int r = stage_rpm(p, &v);
	if (r < 0)
		reject(p, &v);
	else if (r == 0)
		admitted(p); /* reserve, then forward */
}
