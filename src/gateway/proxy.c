/* proxy.c — the data plane. Each request runs the pipeline
 *   authenticate -> policy -> rate limit (or queue) -> reserve -> forward
 *   -> meter -> settle
 * on the one event loop: the stages are policy.c and budget.c; this file
 * glues them to httpd.c (the client side) and upstream.c (Groq's side).
 * A streamed answer is relayed event by event as it arrives; its usage is
 * read from x_groq.usage or the usage chunk, and the ledger row is
 * committed before the final "data: [DONE]" reaches the client. */
#include "gateway.h"

#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gotime.h"
#include "httpd.h"
#include "secret.h"
#include "util.h"

#define OUTBUF_HIGH (256 * 1024) /* pause the upstream above this much unsent */

enum kind { K_CHAT, K_MODELS, K_OTHER };

struct preq {
	struct gateway *g;
	struct hreq *req;    /* NULL once answered, or once its client left */
	bool watched;        /* on_client_close is set on req */
	struct team *t;
	struct ukey *k;
	struct ctoken *tok;
	enum kind kind;
	char *path, *model, *ctype;
	struct reqbody body; /* where the JSON body's members are (in raw) */
	char *raw;           /* the body as received */
	size_t raw_len;
	bool stream, body_changed, on_old, replying;
	char key_fp[48];     /* fingerprint of the secret used */
	struct event *drain; /* resumes a paused upstream when the client reads */
	int64_t cap, reserved, prompt_est;
	int64_t t0_us, t0_ms, deadline_ms;
	char *secret;        /* copy of the key used (wiped on free) */
	struct utx *tx;
	long status;
	char *up_headers;
	struct sse sse;
	buf resp;
	struct preq *qnext;  /* RPM queue */
	bool queued;
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
	if (p->k && p->secret) {
		p->k->inflight--;
		if (p->on_old)
			p->k->old_inflight--;
	}
	free(p->path);
	free(p->model);
	free(p->ctype);
	free(p->raw);
	secret_free(p->secret);
	free(p->up_headers);
	sse_free(&p->sse);
	buf_free(&p->resp);
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

/* The ledger row of one answer, submitted for this loop iteration's
 * commit; committed() then counts it, logs it and runs `then`, which sends
 * the answer's last bytes (kept: the row is committed; not kept: the store
 * is down, and an answer the client would have received complete is
 * withheld). */
static void committed(void *arg, bool kept, struct ledger_row *row);

static void record(struct preq *p, int status, const char *reason, struct usage *u, int64_t cost,
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
		.status = status,
		.stream = p->stream,
		.prompt = u ? u->prompt : 0,
		.completion = u ? u->completion : 0,
		.cost_nusd = cost,
		.latency_ms = p->lat_us / 1000,
	};
	p->then = then;
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
	if (p->useen) { /* integers only: no printf per request */
		buf_adds(l, ",\"prompt_tokens\":");
		buf_addi(l, row->prompt);
		buf_adds(l, ",\"completion_tokens\":");
		buf_addi(l, row->completion);
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

static void reject(struct preq *p, struct verdict *v, const char *reason)
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
		int64_t rem = t->rpm_limit - rl_count(&t->rl, now);
		snprintf(s, sizeof s, "%lld", (long long)(rem < 0 ? 0 : rem));
		httpd_set_header(p->req, "x-ratelimit-remaining-requests", s);
		gotime_format(v->retry_ms, s, sizeof s);
		httpd_set_header(p->req, "x-ratelimit-reset-requests", s);
	}
	p->err = *v; /* the message moves to p */
	memset(v, 0, sizeof *v);
	record(p, p->err.status, reason, NULL, 0, send_error);
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

static void reject_simple(struct preq *p, int status, const char *type, const char *code, const char *reason,
			  char *msg)
{
	struct verdict v = { .status = status, .type = type, .code = code, .message = msg };
	reject(p, &v, reason);
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
		  HOP("trailer"),    HOP("proxy-authenticate"), HOP("proxy-connection"), HOP("content-encoding") };
#undef HOP
	for (size_t i = 0; i < ARRAY_LEN(h); i++)
		if (h[i].n == n && strncasecmp(name, h[i].s, n) == 0)
			return true;
	return false;
}

/* Copies Groq's headers to the client and notes the rate-limit ones. */
static void pass_headers(struct preq *p)
{
	struct headroom *hr = &p->k->hr;
	bool any = false;
	char *save = NULL, *copy = xstrdup(p->up_headers ? p->up_headers : "");
	for (char *line = strtok_r(copy, "\r\n", &save); line; line = strtok_r(NULL, "\r\n", &save)) {
		char *colon = strchr(line, ':');
		if (!colon)
			continue;
		size_t nl = (size_t)(colon - line);
		char *val = colon + 1;
		while (*val == ' ' || *val == '\t')
			val++;
		*colon = '\0';
		any |= headroom_header(hr, line, val);
		if (!hop_by_hop(line, nl))
			httpd_add_header(p->req, line, val);
	}
	free(copy);
	if (any) {
		hr->seen_at = gw_now(p->g);
		p->g->org_hr = *hr;
	}
}

static void emit_event(void *arg, const char *ev, size_t len)
{
	struct preq *p = arg;
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

/* whether Groq's answer headers say it is one piece (a Content-Type
 * other than an event stream) */
static bool not_a_stream(const char *headers)
{
	for (const char *h = headers; h && *h; h = strchr(h, '\n'), h = h ? h + 1 : NULL)
		if (strncasecmp(h, "content-type:", 13) == 0) {
			h += 13;
			h += strspn(h, " \t");
			return strncasecmp(h, "text/event-stream", 17) != 0;
		}
	return false;
}

static void on_head(void *arg, long status, const char *headers)
{
	struct preq *p = arg;
	p->status = status;
	p->up_headers = xstrdup(headers);
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
	if (p->stream && status == 200 && not_a_stream(headers))
		p->stream = false; /* asked for a stream, answered in one piece (GET /models
				    * ignores "stream"): relayed and metered as such */
	if (p->stream && status == 200) {
		pass_headers(p);
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
}

static void on_data(void *arg, const char *data, size_t len)
{
	struct preq *p = arg;
	if (p->replying) {
		sse_feed(&p->sse, data, len, emit_event, p);
		if (client_backlog(p) > OUTBUF_HIGH && p->tx) {
			set_paused(p, true);
			if (!p->drain)
				p->drain = evtimer_new(p->g->base, drain_check, p);
			struct timeval tv = { 0, 20000 };
			evtimer_add(p->drain, &tv);
		}
	} else {
		buf_add(&p->resp, data, len);
	}
}

/* keeps only the team's allowed models in a /models answer */
static void filter_models(struct preq *p)
{
	json_t *j = json_loadb(p->resp.data, p->resp.len, 0, NULL);
	json_t *data = json_object_get(j, "data");
	if (!json_is_array(data)) {
		json_decref(j);
		return;
	}
	json_t *keep = json_array();
	size_t i;
	json_t *m;
	json_array_foreach(data, i, m) {
		const char *id = json_string_value(json_object_get(m, "id"));
		if (id && team_allows(p->t, id))
			json_array_append(keep, m);
	}
	json_object_set_new(j, "data", keep);
	char *s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	buf_reset(&p->resp);
	buf_adds(&p->resp, s);
	free(s);
}

/* a streamed answer's end, once its row is committed (or not) */
static void end_stream(struct preq *p, bool kept)
{
	struct hreq *req = take_req(p);
	if (req) {
		if (p->complete) {
			/* [DONE] only once the row is committed; otherwise an
			 * error event, and the stream ends without [DONE] */
			static const char done[] = "data: [DONE]\n\n",
					  down[] = "data: {\"error\":{\"message\":\"" STORE_DOWN_MSG "\",\"type\":"
						   "\"api_error\",\"code\":\"store_unavailable\"}}\n\n";
			if (kept)
				httpd_chunk(req, done, sizeof done - 1);
			else
				httpd_chunk(req, down, sizeof down - 1);
			httpd_end(req);
		} else {
			/* Groq's stream broke: end the client's the same way
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
	pass_headers(p);
	struct hreq *req = take_req(p);
	size_t len = p->resp.len;
	if (len)
		httpd_send_owned(req, (int)p->status, NULL, buf_detach(&p->resp), len);
	else
		httpd_send(req, (int)p->status, NULL, "", 0);
	preq_free(p);
}

static void on_done(void *arg, int ok, const char *err)
{
	struct preq *p = arg;
	struct gateway *g = p->g;
	p->tx = NULL;
	struct usage u = { 0 };
	if (p->replying)
		u = p->sse.usage;
	else if (ok && p->status == 200 && p->kind != K_MODELS)
		usage_from_json(p->resp.data ? p->resp.data : "", p->resp.len, &u);
	const struct price *pr = p->model ? config_price(&g->cfg, p->model) : NULL;
	int64_t cost = u.seen ? cost_nusd(pr, u.prompt, u.completion) : 0;
	budget_settle(g, p->t, p->reserved, cost);
	p->reserved = 0;
	if (!p->req) { /* its client left while Groq worked: metered all the same */
		record(p, 499, "client_closed", &u, cost, just_free);
		return;
	}
	int64_t now = gw_now(g);
	if (p->on_old) {
		p->k->old_last_used = now;
		if (p->k->rot >= ROT_SWITCHED)
			p->k->old_since_switch++;
	}
	if (!p->replying && !ok) {
		bool timeout = err && strcmp(err, "timeout") == 0;
		char *m = timeout ? xasprintf("Groq did not answer within %lld ms; the request was abandoned. "
					      "Try again, or ask an operator to check upstream health.",
					      (long long)g->cfg.upstream_timeout_ms)
				  : xasprintf("The gateway could not reach Groq: %s. Try again shortly.", err ? err : "?");
		metrics_upstream_error(g->metrics, timeout ? 504 : 502);
		reject_simple(p, timeout ? 504 : 502, "api_error", timeout ? "upstream_timeout" : "upstream_unreachable",
			      timeout ? "upstream_timeout" : "upstream_error", m);
		return;
	}
	if (p->replying) {
		p->complete = ok && p->sse.done;
		record(p, p->complete ? 200 : 502, p->complete ? NULL : "upstream_stream_cut", &u, cost, end_stream);
		return;
	}
	/* a buffered answer: passed through unchanged (models filtered) */
	if (p->kind == K_MODELS && p->status == 200)
		filter_models(p);
	int st = (int)p->status;
	record(p, st, st >= 400 ? "upstream_error" : NULL, &u, cost, send_answer);
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
	const char *q = httpd_query_string(p->req);
	char *url = xconcat(g->cfg.upstream_base, p->path, q ? "?" : "", q ? q : "", NULL);
	char *auth = xconcat("Authorization: Bearer ", p->secret, NULL);
	char *ct = xconcat("Content-Type: ", p->ctype ? p->ctype : "application/json", NULL);
	const char *hdrs[] = { auth, ct, "User-Agent: groqgated/" GG_VERSION, NULL };
	const char *body = p->raw;
	size_t len = p->raw_len;
	char *re = NULL;
	if (p->body_changed) {
		re = reqbody_with_int(p->raw, p->raw_len, &p->body, "max_completion_tokens", p->cap, &len);
		body = re;
	}
	sse_init(&p->sse);
	buf_init(&p->resp);
	p->tx = upstream_start(g->up, httpd_method_name(p->req), url, hdrs, body, len, g->cfg.upstream_timeout_ms,
			       g->cfg.upstream_connect_timeout_ms, &up_cbs, p);
	secret_free(auth);
	free(ct);
	free(url);
	free(re);
}

/* ---- after the rate limit: reserve, then forward ------------------- */

static void admitted(struct preq *p)
{
	struct gateway *g = p->g;
	const struct price *pr = p->model ? config_price(&g->cfg, p->model) : NULL;
	int64_t amount = cost_nusd(pr, p->prompt_est, p->cap);
	char *why = NULL;
	if (budget_reserve(g, p->t, amount, &why) != 0) {
		reject_simple(p, 402, "insufficient_quota", "budget_exceeded", "budget_exceeded", why);
		return;
	}
	p->reserved = amount;
	forward(p);
}

/* ---- queue mode ---------------------------------------------------- */

static void queue_run(struct gateway *g, struct team *t);

static void queue_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	queue_run(gw_current, arg);
}

static void queue_remove(struct team *t, struct preq *p)
{
	struct preq **pp = &t->qhead;
	while (*pp && *pp != p)
		pp = &(*pp)->qnext;
	if (*pp) {
		*pp = p->qnext;
		t->qlen--;
		if (t->qtail == p) {
			struct preq *last = t->qhead;
			while (last && last->qnext)
				last = last->qnext;
			t->qtail = last;
		}
	}
	p->queued = false;
	p->qnext = NULL;
}

static void queue_run(struct gateway *g, struct team *t)
{
	int64_t now = gw_now(g);
	while (t->qhead) {
		struct preq *p = t->qhead;
		if (p->t->state != TEAM_ACTIVE || now >= p->deadline_ms) {
			queue_remove(t, p);
			struct verdict v = { 0 };
			if (p->t->state != TEAM_ACTIVE) {
				int64_t cap;
				stage_policy(t, NULL, NULL, &cap, &v);
				reject(p, &v, v.status == 402 ? "budget_exceeded" : "team_paused");
			} else {
				stage_ratelimit(t, now, &v); /* refused: fills the verdict */
				free(v.message);
				v.message = xasprintf("Rate limit reached for team '%s' (RPM %lld): the request waited "
						      "the maximum of %lld ms in the team's queue.",
						      t->id, (long long)t->rpm_limit, (long long)t->queue_wait_ms);
				reject(p, &v, "rate_limited");
			}
			continue;
		}
		int64_t retry = 0;
		if (!rl_admit(&t->rl, now, &retry)) {
			int64_t wait = retry < p->deadline_ms - now ? retry : p->deadline_ms - now;
			if (wait < 1)
				wait = 1;
			struct timeval tv = { (time_t)(wait / 1000), (suseconds_t)(wait % 1000) * 1000 };
			evtimer_add(t->qtimer, &tv);
			return;
		}
		queue_remove(t, p);
		admitted(p);
	}
}

/* ---- the client side ----------------------------------------------- */

/* the reply's last byte was written: a draining gateway may now exit */
static void flushed(struct hreq *req, void *arg)
{
	(void)req;
	((struct gateway *)arg)->unflushed--;
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
	if (p->tx && !p->stream) {
		/* Groq finishes (and bills) a request it has started; let it,
		 * so the ledger gets its real usage (on_done records it) */
		return;
	}
	if (p->queued)
		queue_remove(p->t, p);
	if (p->tx) {
		utx_cancel(p->tx);
		p->tx = NULL;
	}
	struct usage u = p->sse.usage;
	const struct price *pr = p->model ? config_price(&p->g->cfg, p->model) : NULL;
	int64_t cost = u.seen ? cost_nusd(pr, u.prompt, u.completion) : 0;
	if (p->t)
		budget_settle(p->g, p->t, p->reserved, cost);
	p->reserved = 0;
	record(p, 499, "client_closed", &u, cost, just_free);
}

/* model named in a multipart/form-data body (audio routes) */
static char *multipart_model(const char *body, size_t len)
{
	const char *needle = "name=\"model\"";
	const char *m = memmem(body, len, needle, strlen(needle));
	if (!m)
		return NULL;
	const char *v = memmem(m, len - (size_t)(m - body), "\r\n\r\n", 4);
	if (!v)
		return NULL;
	v += 4;
	const char *end = memmem(v, len - (size_t)(v - body), "\r\n", 2);
	if (!end || end - v > 200)
		return NULL;
	return xstrndup(v, (size_t)(end - v));
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
	if (g->draining) {
		reject_simple(p, 503, "api_error", "shutting_down", "shutting_down",
			      xstrdup("The gateway is shutting down; retry on another instance or in a moment."));
		return;
	}
	if (stage_authenticate(&g->reg, httpd_bearer(req), &p->tok, &v) != 0) {
		reject(p, &v, "unauthenticated");
		return;
	}
	p->t = registry_team(&g->reg, p->tok->team);
	p->k = registry_key(&g->reg, p->tok->key);
	if (!p->t || !p->k) {
		reject_simple(p, 500, "api_error", "misconfigured", "misconfigured",
			      xasprintf("This client token points at a team or upstream key that no longer "
					"exists; ask your groqgate operator."));
		return;
	}
	if (ledger_down(g->ledger)) {
		reject_simple(p, 503, "api_error", "store_unavailable", "store_unavailable", xstrdup(STORE_DOWN_MSG));
		return;
	}
	budget_roll(g, p->t, p->t0_ms);
	enum hmethod cmd = httpd_method(req);
	const char *ct = httpd_header(req, "Content-Type");
	p->ctype = ct ? xstrdup(ct) : NULL;
	p->raw = httpd_take_body(req, &p->raw_len);
	if (strcmp(path, "/openai/v1/models") == 0 && cmd == HM_GET) {
		p->kind = K_MODELS;
	} else if (strcmp(path, "/openai/v1/chat/completions") == 0 && cmd == HM_POST) {
		p->kind = K_CHAT;
	} else {
		p->kind = K_OTHER;
	}
	if (str_starts(path, "/openai/v1/models/") && cmd == HM_GET)
		p->model = xstrdup(path + strlen("/openai/v1/models/"));
	bool multipart = ct && strstr(ct, "multipart/form-data");
	if (p->kind == K_CHAT && (multipart || !p->raw_len)) { /* Groq takes chat as JSON only */
		reject_simple(p, 400, "invalid_request_error", "invalid_json", "invalid_request",
			      xstrdup("Send a JSON body with Content-Type: application/json."));
		return;
	}
	if (p->raw_len && !multipart) {
		char why[160];
		if (reqbody_scan(p->raw, p->raw_len, &p->body, why, sizeof why) != 0) {
			reject_simple(p, 400, "invalid_request_error", "invalid_json", "invalid_request",
				      xasprintf("The request body is not a JSON object (%s).", why));
			return;
		}
		enum jkind mk = jspan_kind(p->body.model);
		if (mk == J_STRING) { /* the body's model over the path's (GET /models/ID with a body) */
			free(p->model);
			p->model = jspan_string(p->body.model);
		} else if (mk != J_ABSENT || p->kind == K_CHAT) {
			reject_simple(p, 400, "invalid_request_error", "invalid_value", "invalid_request",
				      xstrdup("'model' must be given as a string, e.g. \"llama-3.3-70b-versatile\"."));
			return;
		}
		p->stream = jspan_kind(p->body.stream) == J_TRUE;
	} else if (p->raw_len && multipart) {
		char *m = multipart_model(p->raw, p->raw_len);
		if (m) {
			free(p->model);
			p->model = m;
		}
	}

	bool had_cap = jspan_given(p->body.max_completion_tokens) || jspan_given(p->body.max_tokens);
	if (stage_policy(p->t, p->model, p->kind == K_CHAT ? &p->body : NULL, &p->cap, &v) != 0) {
		const char *reason = v.code && strcmp(v.code, "team_paused") == 0	       ? "team_paused"
				     : v.code && strcmp(v.code, "budget_exceeded") == 0    ? "budget_exceeded"
				     : v.code && strcmp(v.code, "model_not_allowed") == 0  ? "model_not_allowed"
				     : v.code && strcmp(v.code, "max_tokens_exceeded") == 0 ? "max_tokens_exceeded"
											    : "invalid_request";
		reject(p, &v, reason);
		return;
	}
	p->body_changed = p->kind == K_CHAT && !had_cap; /* the team's cap was set */
	p->prompt_est = p->kind == K_MODELS ? 0 : prompt_estimate(p->raw_len, p->body.nmessages);
	httpd_on_close(req, on_client_close, p);
	p->watched = true;
	if (p->kind == K_MODELS) { /* listing models is not rate-limited or charged */
		forward(p);
		return;
	}
	if (stage_ratelimit(p->t, p->t0_ms, &v) != 0) {
		if (p->t->rpm_mode == RPM_QUEUE && p->t->queue_wait_ms > 0) {
			verdict_clear(&v);
			p->deadline_ms = p->t0_ms + p->t->queue_wait_ms;
			p->queued = true;
			if (p->t->qtail)
				p->t->qtail->qnext = p;
			else
				p->t->qhead = p;
			p->t->qtail = p;
			p->t->qlen++;
			if (!p->t->qtimer)
				p->t->qtimer = evtimer_new(g->base, queue_timer, p->t);
			if (!evtimer_pending(p->t->qtimer, NULL))
				queue_run(g, p->t);
			return;
		}
		reject(p, &v, "rate_limited");
		return;
	}
	admitted(p);
}
