/* proxy_reply.c — the ends of a request that every part of the pipeline
 * may reach: refused (its row recorded, then its error answer sent), its
 * error answer alone, and the request freed (what it holds given back: its
 * Groq transfer, its timers, its key's in-flight count). */
#include "proxy.h"

#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#include "gotime.h"
#include "groq.h"
#include "httpd.h"
#include "secret.h"
#include "util.h"

void req_free(struct preq *p)
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


/* refuses the request with v (its message moves to p) */
void req_reject(struct preq *p, struct verdict *v)
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
	req_record(p, p->err.status, p->err.reason, NULL, 0, 0, req_send_error);
}

void req_refuse(struct preq *p, int status, const char *type, const char *code, const char *reason, char *msg)
{
	struct verdict v = { 0 };
	deny(&v, status, type, code, reason, msg);
	req_reject(p, &v);
}

/* the request, to be answered now: p lets go of it */
struct hreq *req_take(struct preq *p)
{
	struct hreq *req = p->req;
	if (req && p->watched)
		httpd_on_close(req, NULL, NULL);
	p->req = NULL;
	p->watched = false;
	return req;
}

/* the error answer alone (its row is already recorded); frees p */
void req_reply_error(struct preq *p, struct verdict *v)
{
	struct hreq *req = req_take(p);
	if (req)
		httpd_send_groq_error(req, v->status, v->message, v->type, v->code);
	verdict_clear(v);
	req_free(p);
}

void req_send_error(struct preq *p, bool kept)
{
	(void)kept; /* an error answer is sent either way */
	req_reply_error(p, &p->err);
}

/* for a client that has left: nothing to send */
void req_just_free(struct preq *p, bool kept)
{
	(void)kept;
	req_free(p);
}

