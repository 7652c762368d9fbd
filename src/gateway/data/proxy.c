/* proxy.c — the data plane. Each request runs the pipeline
 *   route -> authenticate -> body -> policy -> rate limit (or queue)
 *   -> reserve -> forward -> meter -> settle
 * on the one event loop: the route table is routes.c and what each kind
 * of route does proxy_routes.c, the deciding stages policy.c, the money
 * budget.c and price.c. This file holds the pipeline's first stages, Groq's
 * side of a request (upstream.c) and the answer to the client (httpd.c);
 * proxy_read.c reads the request, proxy_admit.c takes it from the rate
 * limit to Groq, proxy_bill.c and proxy_record.c settle and record it.
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

#include <event2/event.h>
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

int proxy_inflight(struct gateway *g)
{
	return g->inflight;
}

/* ---- answering -------------------------------------------------- */

#define STORE_DOWN_MSG                                                                                 \
	"The gateway cannot write its usage ledger (disk full or store locked), so it refuses "      \
	"requests rather than serve them unmetered. Retry shortly; operators: see /healthz."

/* ---- the upstream side --------------------------------------------- */

static void emit_event(void *arg, const char *ev, size_t len)
{
	struct preq *p = arg;
	/* a Responses stream's usage event goes out once its row is kept, as
	 * a chat stream's [DONE] does */
	if (p->sse.usage_event && OPS(p)->flags & RF_HOLD_USAGE) {
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
	unsigned f = OPS(p)->flags;
	if (sse && f & RF_EVENTS)
		p->relay = R_SSE;
	else if (f & RF_RAW || (f & RF_CONTENT && str_ends(p->param, "/content")))
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
	struct hreq *req = req_take(p);
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
	req_free(p);
}

/* a buffered answer, once its row is committed; withheld (503) if not */
static void send_answer(struct preq *p, bool kept)
{
	if (!p->req) {
		req_free(p);
		return;
	}
	if (!kept) {
		/* not in the ledger: the answer is withheld (kept rows are
		 * written when the store is back) */
		struct verdict v = { .status = 503, .type = "api_error", .code = "store_unavailable",
				     .message = xstrdup(STORE_DOWN_MSG) };
		req_reply_error(p, &v);
		return;
	}
	req_pass_headers(p, p->conv != NULL);
	struct hreq *req = req_take(p);
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
	req_free(p);
}

#define TRY_MIN_MS 1000 /* the least time left for another try */

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
	if (p->deadline_ms && mono_us() / 1000 + TRY_MIN_MS > p->deadline_ms)
		return false; /* (less than a second left: Groq's answer as it was, not a try bound to time out and be charged) */
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
	req_admitted(p);
	return true;
}

/* a served row's reason: how it came to be served after Groq refused the
 * first try ("fallback": another model; "tier_retry": a flex 498 sent
 * again on on_demand), NULL when the first try served */
static const char *tried_again(const struct preq *p)
{
	if (p->ntried > 1 && !str_eq(p->tried[0], p->model))
		return "fallback";
	return p->tier_retried ? "tier_retry" : NULL;
}

static void on_done(void *arg, int ok, const char *err)
{
	struct preq *p = arg;
	struct gateway *g = p->g;
	p->tx = NULL;
	idle_stop(p);
	const struct route_ops *o = OPS(p);
	struct usage u = { 0 };
	if (p->relay == R_SSE)
		u = p->sse.usage;
	else if (ok && p->status == 200 && o->usage)
		o->usage(p, &u);
	/* what a 200 answer changes (files, batches) is done even when its
	 * client has left: Groq did it all the same; a list is kept to the
	 * team's own here (502 when it cannot be), before anything is billed
	 * or recorded (a list is never billed) */
	if (ok && p->status == 200 && o->answered && p->relay == R_BUFFER)
		o->answered(p);
	/* Groq bills what it answered: an error answer costs nothing; an
	 * answer begun, or a request Groq may be working on (no answer within
	 * the time), is charged; a request that never reached Groq is not */
	bool billed = p->status == 200 || (!p->status && err && (strcmp(err, "timeout") == 0 || p->cut));
	if (o->flags & RF_OBJECTS) /* files and batches: nothing billed but a batch Groq may have made
				    * (no answer in time), which keeps its charge */
		billed = o->flags & RF_BATCH && p->reserved && !p->status && err && strcmp(err, "timeout") == 0;
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
		req_record(p, 499, "client_closed", &u, cost, qty, req_just_free);
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
		req_record(p, ends[e].status, ends[e].reason, &u, cost, qty, req_send_error);
		return;
	}
	if (p->replying) {
		p->complete = ok && (p->relay != R_SSE || !(o->flags & RF_DONE) || p->sse.done);
		req_record(p, p->complete ? 200 : 502,
			   p->complete ? tried_again(p) : p->cut ? ends[p->cut].reason : "upstream_stream_cut", &u, cost, qty,
			   end_stream);
		return;
	}
	/* a buffered answer: passed through (lists kept to the team's own, above) */
	int st = (int)p->status;
	if (st == 429 && p->model)
		req_groq_held(p);
	if (st == 400 && p->t && p->model && groq_error_code(p->resp.data, p->resp.len, "model_decommissioned")) {
		groqwatch_decommissioned(g, p->t->id, p->model);
		models_groq_retired(g, p->model, "Groq answered model_decommissioned");
	}
	req_record(p, st, st >= 400 ? "upstream_error" : tried_again(p), &u, cost, qty, send_answer);
}

static const struct utx_cbs up_cbs = { on_head, on_data, on_done };

static void forward(struct preq *p)
{
	struct gateway *g = p->g;
	struct ukey *k = p->k;
	bool use_new = k->rot >= ROT_SWITCHED && k->new_secret;
	p->secret = xstrdup(use_new ? k->new_secret : k->secret);
	const char *fp = use_new ? k->new_fp : k->fp;
	size_t fl = strnlen(fp, sizeof p->key_fp - 1); /* (cut as snprintf would, without it) */
	memcpy(p->key_fp, fp, fl);
	p->key_fp[fl] = '\0';
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
	/* every try of a request (fallbacks, a flex 498 on on_demand) within
	 * the one deadline set when it was first sent */
	int64_t now_ms = mono_us() / 1000, left = g->cfg.upstream_timeout_ms;
	if (left > 0) {
		if (!p->deadline_ms)
			p->deadline_ms = now_ms + left;
		left = p->deadline_ms - now_ms > 1 ? p->deadline_ms - now_ms : 1;
	}
	struct ureq r = { .method = httpd_method_name(p->req), .path = p->path, .query = httpd_query_string(p->req),
			  .headers = hdrs, .body = body, .len = len, .timeout_ms = left,
			  .connect_timeout_ms = g->cfg.upstream_connect_timeout_ms };
	p->tx = upstream_start(g->up, g->cfg.up_origin, &r, &up_cbs, p);
	secret_free(auth);
	free(ct);
	free(rid);
}

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
	req_record(p, 499, "client_closed", &u, cost, qty, req_just_free);
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
	req_record(p, 499, "client_closed", NULL, 0, 0, req_just_free);
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
	p->route = route_find(p->method, p->path, &p->param, &other_method);
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
	char h[SHA256_HEX_LEN + 1];
	const char *bearer = httpd_bearer_hashed(p->req, h);
	if (stage_authenticate(&g->reg, bearer, h, &p->tok, v) != 0)
		return -1;
	p->t = registry_team(&g->reg, p->tok->team);
	p->k = registry_key(&g->reg, p->tok->key);
	if (!p->t || !p->k)
		return deny(v, 500, "api_error", "misconfigured", "misconfigured",
			    xstrdup("This client token points at a team or upstream key that no longer exists; ask your "
				    "groqgate operator."));
	if (OPS(p)->flags & RF_REFUSED)
		return deny(v, 403, "permission_error", "route_not_governed", "route_refused",
			    xstrdup(p->route->refused ? p->route->refused : "The gateway cannot account for this route yet."));
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
	    (OPS(p)->own && OPS(p)->own(p, v) != 0))
		return -1;
	if (p->route->unit != BU_NONE && !(OPS(p)->flags & RF_BATCH) &&
	    !price_bills(config_price(&p->g->cfg, p->model), p->route->unit))
		return deny(v, 403, "permission_error", "model_not_priced", "model_not_priced",
			    xasprintf("Model '%s' has no %s price in the gateway's price table, so its use cannot be "
				      "metered; ask your groqgate operator to add it.",
				      p->model, bill_unit_name(p->route->unit)));
	return 0;
}

static void upload_slice(evutil_socket_t fd, short what, void *arg);

void proxy_handle(struct gateway *g, struct hreq *req, const char *path)
{
	struct preq *p = xcalloc(1, sizeof *p);
	p->g = g;
	p->req = req;
	p->t0_us = mono_us();
	p->t0_ms = gw_now(g);
	p->path = xstrdup(path);
	p->method = httpd_method(req);
	p->forward = forward;
	g->inflight++;
	g->unflushed++;
	httpd_on_complete(req, flushed, g);
	struct verdict v = { 0 };
	if (stage_route(p, &v) != 0 || stage_who(p, &v) != 0 || stage_body(p, &v) != 0) {
		req_reject(p, &v);
		return;
	}
	httpd_on_close(req, on_client_close, p);
	p->watched = true;
	if (p->up) { /* a batch upload: its lines checked a slice a turn first */
		p->upev = evtimer_new(g->base, upload_slice, p);
		upload_slice(-1, 0, p);
		return;
	}
	req_admit(p);
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
	if (r < 0 || req_recheck(p, &v) != 0) {
		req_reject(p, &v);
		return;
	}
	req_admit(p);
}
