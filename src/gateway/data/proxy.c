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
#include "proxy.h"

#include <ctype.h>
#include <event2/event.h>
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
	if (p->upev)
		event_free(p->upev);
	req_upload_free(p);
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
	free(p->form_bnd);
	free(p->audio_fmt);
	free(p->batch_input);
	json_decref(p->batch_index);
	free(p->conv);
	free(p->client_rid);
	free(p->user);
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


/* ---- answering -------------------------------------------------- */

#define STORE_DOWN_MSG                                                                                 \
	"The gateway cannot write its usage ledger (disk full or store locked), so it refuses "      \
	"requests rather than serve them unmetered. Retry shortly; operators: see /healthz."

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
		req_budget_header(p);
	p->err = *v;
	memset(v, 0, sizeof *v);
	req_record(p, p->err.status, p->err.reason, NULL, 0, 0, send_error);
}

static void refuse(struct preq *p, int status, const char *type, const char *code, const char *reason, char *msg)
{
	struct verdict v = { 0 };
	deny(&v, status, type, code, reason, msg);
	reject(p, &v);
}

/* a request that cannot be read: v filled, -1 */
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






/* ---- the upstream side --------------------------------------------- */




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
	bool sse = req_up_head_read(p, h);
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
		req_storm_count(p);
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
		req_pass_headers(p, false);
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
	req_pass_headers(p, p->conv != NULL);
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
	if (!on_demand && !req_next_model(p))
		return false;
	if (p->status == 429 && p->model) /* (held before the model changes) */
		req_groq_held(p);
	if (on_demand) {
		if (req_body_set_string(p, "service_tier", "on_demand", &v) != 0) {
			verdict_clear(&v);
			return false;
		}
		p->tier = TIER_ON_DEMAND;
		p->tier_retried = true;
	} else if (!req_switch_model(p)) {
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
			req_batch_answer(p);
		/* a batch Groq may have made (no answer in time) keeps its charge */
		billed = p->route->kind == RK_BATCH_CREATE && p->reserved && !p->status && err && strcmp(err, "timeout") == 0;
	}
	int64_t qty = 0, cost = 0;
	struct usage seen = u; /* Groq's own figures, before cost_of fills in bounds */
	if (billed)
		cost = req_cost_of(p, &u, &qty);
	req_settle(p, cost, &seen, billed);
	int64_t now = gw_now(g);
	if (p->on_old) {
		p->k->old_last_used = now;
		if (p->k->rot >= ROT_SWITCHED)
			p->k->old_since_switch++;
	}
	if (p->client_left) { /* its client left while Groq worked: metered all the same */
		req_record(p, 499, "client_closed", &u, cost, qty, just_free);
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
		req_record(p, ends[e].status, ends[e].reason, &u, cost, qty, send_error);
		return;
	}
	if (p->replying) {
		p->complete = ok && (p->relay != R_SSE || p->route->kind != RK_CHAT || p->sse.done);
		req_record(p, p->complete ? 200 : 502, p->complete ? NULL : p->cut ? ends[p->cut].reason : "upstream_stream_cut",
		       &u, cost, qty, end_stream);
		return;
	}
	/* a buffered answer: passed through unchanged (models filtered) */
	if (p->route->kind == RK_MODELS && p->status == 200)
		req_filter_models(p);
	int st = (int)p->status;
	if (st == 429 && p->model)
		req_groq_held(p);
	if (st == 400 && p->t && p->model && groq_error_code(p->resp.data, p->resp.len, "model_decommissioned")) {
		groqwatch_decommissioned(g, p->t->id, p->model);
		models_groq_retired(g, p->model, "Groq answered model_decommissioned");
	}
	req_record(p, st, st >= 400 ? "upstream_error" : NULL, &u, cost, qty, send_answer);
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
static void upload_slice(evutil_socket_t fd, short what, void *arg);
static void after_body(struct preq *p);

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

/* an end user's first refusal for its day's budget: one alert per user
 * and day, at most USER_ALERTS_MAX a team a day (users are many) */
#define USER_ALERTS_MAX 20
static void user_alert(struct preq *p)
{
	struct team *t = p->t;
	int64_t day = day_start_ms(gw_now(p->g));
	if (t->user_alerts_day != day) {
		t->user_alerts_day = day;
		t->user_alerts = 0;
	}
	if (t->user_alerts >= USER_ALERTS_MAX)
		return;
	char b[32], who[65];
	usd2(b, sizeof b, t->user_day_budget_nusd);
	/* the client's words go to chat webhooks: letters, digits and a few marks only */
	size_t i = 0;
	for (; p->user[i] && i < sizeof who - 1; i++)
		who[i] = isalnum((unsigned char)p->user[i]) || strchr("._-@:+", p->user[i]) ? p->user[i] : '?';
	who[i] = '\0';
	char *m = xasprintf("End user %s of team %s reached its daily budget of %s%s", who, t->id, b,
			    ++t->user_alerts == USER_ALERTS_MAX ? " (the last such alert for this team today)" : "");
	alert_raise(p->g, "user_budget_reached", t->id, m);
	free(m);
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
	while (r < 0 && v.status == 429 && req_switch_model(p)) {
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
		req_settle(p, 0, NULL, false); /* the capacity it took, given back */
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
		req_settle(p, 0, NULL, false); /* the team's reservation and the capacity, given back */
		if (k->alerted_month != g->month.from) { /* one alert a month */
			k->alerted_month = g->month.from;
			char *m = xasprintf("Upstream key %s of team %s reached its monthly budget of %s: its requests are "
					    "refused until the month turns or the budget is raised.",
					    k->name, p->t->id, b);
			alert_raise(g, "key_budget_reached", p->t->id, m);
			free(m);
		}
		refuse(p, 402, "insufficient_quota", "budget_exceeded", "budget_exceeded",
		       xasprintf("Upstream key '%s' of team '%s' has spent or reserved %s of its %s monthly budget and "
				 "this request could cost up to %s. Use another key of the team, or ask an operator.",
				 k->name, p->t->id, a, b, c));
		return;
	}
	k->reserved_nusd += amount;
	p->key_reserved = amount;
	/* its end user's minute and day, inside the team's */
	if (p->user && g->reg.users) {
		int ur = enduser_admit(g->reg.users, p->t, p->user, replicas, gw_now(g), amount, &v);
		if (ur != 0) {
			req_settle(p, 0, NULL, false);
			if (ur == -2)
				user_alert(p);
			reject(p, &v);
			return;
		}
		p->user_held = true;
		p->user_reserved = amount;
	}
	/* last, so that only what would be sent counts in the key's windows */
	if (key_limits(p, gw_now(g), &v) != 0) {
		req_settle(p, 0, NULL, false);
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
	int64_t qty = 0, cost = req_cost_of(p, &u, &qty);
	req_settle(p, cost, &u, true);
	req_record(p, 499, "client_closed", &u, cost, qty, just_free);
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
	if (p->upev) /* its upload's lines no longer checked */
		event_del(p->upev);
	req_upload_free(p);
	if (p->t)
		req_settle(p, 0, NULL, false);
	req_record(p, 499, "client_closed", NULL, 0, 0, just_free);
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

static int stage_body(struct preq *p, struct verdict *v)
{
	p->raw = httpd_take_body(p->req, &p->raw_len);
	if (req_client_rid(p, v) != 0 || stage_policy(p->t, NULL, v) != 0 || req_read_body(p, v) != 0 ||
	    req_read_user(p, v) != 0 || req_resolve_model(p, v) != 0 || req_stage_tier(p, v) != 0 ||
	    (p->model && stage_policy(p->t, p->model, v) != 0) || req_read_caps(p, v) != 0 ||
	    ((p->route->kind == RK_FILE || p->route->kind == RK_BATCH) && req_own_check(p, v) != 0))
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
	if (p->up) { /* a batch upload: its lines checked a slice a turn first */
		p->upev = evtimer_new(g->base, upload_slice, p);
		upload_slice(-1, 0, p);
		return;
	}
	after_body(p);
}

/* the pipeline from the rate limit on */
static void after_body(struct preq *p)
{
	struct verdict v = { 0 };
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

/* a slice of an upload's lines; the next one after the loop's other
 * work; then what may have changed meanwhile (a revoked token, a pause),
 * and the rest of the pipeline */
static void upload_slice(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct preq *p = arg;
	struct verdict v = { 0 };
	int r = req_upload_step(p, &v);
	if (r == 1) {
		static const struct timeval now = { 0, 0 };
		evtimer_add(p->upev, &now);
		return;
	}
	if (r < 0 || recheck(p, &v) != 0) {
		reject(p, &v);
		return;
	}
	after_body(p);
}
