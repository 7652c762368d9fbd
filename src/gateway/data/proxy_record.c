/* proxy_record.c — each answer's record: its ledger row (the request's
 * team, key, end user, the model asked for and the one that served, the
 * tier, what it cost) submitted to the ledger, and once committed its
 * metrics and its line in the request log; then the answer's last bytes. */
#include "proxy.h"

#include <stdlib.h>
#include <string.h>

#include "gotime.h"
#include "util.h"

static void committed(void *arg, bool kept, struct ledger_row *row);

/* The ledger row of one answer, submitted for this loop iteration's
 * commit; committed() then counts it, logs it and runs `then`, which sends
 * the answer's last bytes (kept: the row is committed; not kept: the store
 * is down, and an answer the client would have received complete is
 * withheld). */
void req_record(struct preq *p, int status, const char *reason, struct usage *u, int64_t cost, int64_t qty,
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
		.cached = u ? u->cached : 0,
		.user = p->user,
		.requested_model = p->asked ? p->asked : p->model,
		.service_tier = tier_name(p->tier),
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
		team_answered(p->t, status >= 400 ? (reason ? reason : "other") : NULL, now);
		char why[400];
		if (status >= 400 && team_refusing(p->t, now, why, sizeof why))
			alert_raise(g, "team_refusing", p->t->id, why);
	}
	/* a model label is one the gateway knows (priced, or allowed for the
	 * team): any other name a client sends counts as "other", so clients
	 * cannot grow /metrics with made-up names */
	const char *mlabel = !p->model					   ? "-"
			     : config_price(&g->cfg, p->model) || (p->t && team_allows(p->t, p->model)) ? p->model
											    : "other";
	metrics_request(g->metrics, p->t ? p->t->id : "-", mlabel, status, row->prompt,
			row->completion, cost, lat_us);
	if (row->key) /* (sent to Groq) */
		metrics_tier(g->metrics, row->service_tier);
	if (reason && status >= 400) /* (a served row's reason says how it was served) */
		metrics_reject(g->metrics, reason);
	gw_log_request(g, &(struct reqline){
				  .now = now,
				  .path = p->path ? p->path : "",
				  .route = row->route,
				  .status = status,
				  .latency_us = lat_us,
				  .stream = p->stream,
				  .team = p->t ? p->t->id : NULL,
				  .token_id = p->tok ? p->tok->id : NULL,
				  .key = row->key,
				  .key_fp = row->key ? row->key_fp : NULL,
				  .model = p->model,
				  .reason = reason,
				  .groq_request_id = row->request_id,
				  .client_request_id = p->client_rid,
				  .metered = p->useen || cost,
				  .prompt_tokens = row->prompt,
				  .completion_tokens = row->completion,
				  .unit = row->unit,
				  .quantity = row->quantity,
				  .cost_nusd = cost,
				  .ledger_pending = !kept,
			  });
	void (*then)(struct preq *, bool) = p->then;
	p->then = NULL;
	then(p, kept);
}
