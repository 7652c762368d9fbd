/* proxy_bill.c — what an answer costs and what it gives back: the
 * reservation settled (the team's budget, its key's, Groq's capacity),
 * the cost read from Groq's usage within what the request can produce,
 * and Groq's 429 holding its model. */
#include "proxy.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util.h"

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
int64_t req_cost_of(struct preq *p, struct usage *u, int64_t *qty)
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
		int64_t most_out = OPS(p)->flags & RF_INPUT_ONLY ? 0 : p->cap * p->n;
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

/* The money reserved settled at cost, and the capacity taken at what Groq
 * counted: u's tokens (cached prompt tokens are not counted, as Groq does
 * not), or all that was taken when Groq's usage is unknown and it billed
 * (billed), or none when the request was not billed (u NULL or !billed:
 * Groq refused it or never saw it). */
void req_settle(struct preq *p, int64_t cost, const struct usage *u, bool billed)
{
	struct budget_env e = gw_budget(p->g);
	budget_settle(&e, p->t, p->reserved, cost);
	p->reserved = 0;
	if (p->k && p->key_reserved) { /* the key's share of it, in the month of the settling moment */
		budget_roll_key(p->k, p->g->month.from);
		p->k->reserved_nusd -= p->key_reserved;
		if (p->k->reserved_nusd < 0)
			p->k->reserved_nusd = 0;
		p->k->spend_nusd += cost;
		p->key_reserved = 0;
	}
	if (p->user_held) { /* its end user's */
		enduser_settle(p->g->reg.users, p->t, p->user, p->user_reserved, cost, gw_now(p->g));
		p->user_held = false;
		p->user_reserved = 0;
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
	if (billed && u && u->seen && p->route->unit == BU_TOKENS && !(OPS(p)->flags & RF_INPUT_ONLY))
		capacity_calibrate(p->g->capacity, p->model, (int64_t)p->raw_len, u->prompt);
}

/* a field of Groq's answer head (kept for the client), or NULL */
const char *req_up_field(const struct preq *p, const char *name)
{
	const char *f = p->up_fields.data, *end = f + p->up_fields.len;
	while (f && f < end) {
		f++; /* (its UF_* byte) */
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
void req_groq_held(struct preq *p)
{
	const char *ra = req_up_field(p, "retry-after");
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
