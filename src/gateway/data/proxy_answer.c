/* proxy_answer.c — Groq's answer read and made the client's: its head
 * (what the client gets of its fields, Groq's headroom, the team's own
 * x-ratelimit-* and budget left), a 429 storm counted, list answers
 * filtered to the team's own (models, files, batches) and what a batch
 * route's answer changes. */
#include "proxy.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gotime.h"
#include "groq.h"
#include "httpd.h"
#include "util.h"

/* what the caller has left of its budgets, on every answer (services
 * degrade before they are refused) */
void req_budget_header(struct preq *p)
{
	if (!p->t || !p->req)
		return;
	int64_t r = caller_remaining(p->g, p->t, p->k, p->user);
	char s[USD_TEXT_MAX];
	usd_text(s, r);
	httpd_add_header(p->req, "x-groqgate-budget-remaining-usd", s);
	if (p->ntried > 1) /* served by a fallback: the model first sent */
		httpd_add_header(p->req, "x-groqgate-fallback-from", p->tried[0]);
}

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
 * fields the client gets kept ("Kname\0value\0"..., K a byte of UF_*
 * telling what the field is, so that passing them on compares no names;
 * hop-by-hop ones dropped) until the answer goes out. */
bool req_up_head_read(struct preq *p, const struct hstatus *h)
{
	struct headroom *hr = &p->k->hr;
	bool any = false, sse = false;
	buf_reset(&p->up_fields);
	for (int i = 0; i < h->nh; i++) {
		const char *name = h->h[i].name, *val = h->h[i].value;
		size_t nl = strlen(name);
		char f = (char)(*name | 0x20), kind = 0;
		if (f == 'x') {
			if (headroom_header(hr, name, val)) { /* an x-ratelimit-* field */
				any = true;
				if (nl > 12 && strcasecmp(name + nl - 9, "-requests") == 0)
					kind = UF_RL_REQ;
				else if (nl > 12 && strcasecmp(name + nl - 7, "-tokens") == 0)
					kind = UF_RL_TOK;
			} else if (nl == 12 && strcasecmp(name, "x-request-id") == 0) {
				free(p->groq_rid);
				p->groq_rid = xstrdup(val);
			}
		} else if (f == 'c' && nl == 12 && strcasecmp(name, "content-type") == 0) {
			sse = strncasecmp(val, "text/event-stream", 17) == 0;
			kind = UF_CTYPE;
		} else if (f == 'c' && nl == 16 && strcasecmp(name, "content-encoding") == 0) {
			kind = UF_CTYPE;
		}
		if (hop_by_hop(name, nl))
			continue;
		buf_add(&p->up_fields, &kind, 1);
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
void req_pass_headers(struct preq *p, bool skip_ctype)
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
		char kind = *f++; /* (what req_up_head_read found the field to be) */
		const char *v = f + strlen(f) + 1, *next = v + strlen(v) + 1;
		bool ours = own && ((kind == UF_RL_REQ && cv.limit_req) || (kind == UF_RL_TOK && cv.limit_tok));
		if (!ours && !(skip_ctype && kind == UF_CTYPE))
			httpd_add_header(p->req, f, v);
		f = next;
	}
	req_budget_header(p);
	if (!own)
		return;
	static const char *const names[2][3] = {
		{ "x-ratelimit-limit-requests", "x-ratelimit-remaining-requests", "x-ratelimit-reset-requests" },
		{ "x-ratelimit-limit-tokens", "x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens" },
	};
	char s[32];
	for (int i = 0; i < 2; i++) {
		int64_t lim = i ? cv.limit_tok : cv.limit_req, rem = i ? cv.rem_tok : cv.rem_req,
			reset = i ? cv.reset_tok : cv.reset_req;
		if (!lim)
			continue;
		i64_text(s, lim);
		httpd_add_header(p->req, names[i][0], s);
		i64_text(s, rem);
		httpd_add_header(p->req, names[i][1], s);
		gotime_format(reset, s, sizeof s);
		httpd_add_header(p->req, names[i][2], s);
	}
}

/* Groq answering 429 again and again for one key (a storm): one alert per
 * key per STORM_QUIET_MS, at alerts.upstream_429_storm within a minute. */
#define STORM_QUIET_MS (10 * 60 * 1000)
void req_storm_count(struct preq *p)
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

void req_uploaded(struct preq *p)
{
	batch_uploaded(p->g, p->t, p->k, &p->resp, p->batch_worst, p->batch_lines, p->batch_index);
}

void req_files_listed(struct preq *p)
{
	if (batch_filter(p->g, p->t, &p->resp, false) != 0)
		unfilterable(p);
}

void req_batches_listed(struct preq *p)
{
	if (batch_filter(p->g, p->t, &p->resp, true) != 0)
		unfilterable(p);
}

void req_batch_created(struct preq *p)
{
	if (batch_created(p->g, p->t, p->k, p->batch_input, &p->resp, p->reserved) == 0)
		p->reserved = 0; /* the batch holds it now */
}

/* a file deleted: no longer the team's (also when its client has left:
 * Groq deleted it all the same) */
void req_file_answered(struct preq *p)
{
	if (p->method != HM_DELETE)
		return;
	struct bfile *f = team_file(&p->g->reg, p->t, p->param);
	if (f)
		batch_file_deleted(p->g, f);
}

static bool model_allowed(void *arg, const char *id)
{
	return team_allows(arg, id);
}

/* keeps only the team's allowed models in a /models answer, and lists
 * beside them the aliases that name one of those */
void req_filter_models(struct preq *p)
{
	const struct gw_config *c = &p->g->cfg;
	if (answer_keep(&p->resp, model_allowed, p->t) != 0) {
		unfilterable(p);
		return;
	}
	json_t *aliases = aliases_json(c, &p->g->reg);
	if (!json_array_size(aliases)) {
		json_decref(aliases);
		return;
	}
	json_t *j = json_loadb(p->resp.data, p->resp.len, 0, NULL);
	json_t *data = json_object_get(j, "data");
	if (json_is_array(data)) {
		size_t i;
		json_t *a;
		json_array_foreach(aliases, i, a) {
			const char *model = json_string_value(json_object_get(a, "model"));
			json_t *of = NULL, *m;
			size_t k;
			json_array_foreach(data, k, m)
				if (str_eq(json_string_value(json_object_get(m, "id")), model))
					of = m;
			if (!of)
				continue;
			json_t *e = json_deep_copy(of);
			json_object_set(e, "id", json_object_get(a, "alias"));
			json_object_set_new(e, "alias_of", json_string(model));
			json_array_append_new(data, e);
		}
		char *out = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
		buf_reset(&p->resp);
		buf_adds(&p->resp, out);
		free(out);
	}
	json_decref(j);
	json_decref(aliases);
}
