/* policy.c — the deciding stages of the request pipeline:
 * authenticate -> policy -> rate limit. Each takes what it needs and
 * returns 0 to go on or -1 with a verdict (status, Groq error type/code
 * and a message a developer can act on). Budget reservation is budget.c. */
#include "core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gotime.h"
#include "secret.h"
#include "util.h"

int stage_authenticate(struct registry *r, const char *bearer, const char *h, struct ctoken **tok,
		       struct verdict *v)
{
	*tok = NULL;
	if (!bearer)
		return deny(v, 401, "invalid_request_error", "invalid_api_key", "unauthenticated",
			    xstrdup("Invalid API Key: send 'Authorization: Bearer <client token>' with a token "
				    "issued by your groqgate operator."));
	struct ctoken *t = strmap_get(r->token_by_hash, h);
	if (!t || t->revoked_at || !ct_equal(h, t->hash, SHA256_HEX_LEN))
		return deny(v, 401, "invalid_request_error", "invalid_api_key", "unauthenticated",
			    xstrdup("Invalid API Key: this client token is unknown or was revoked. "
				    "Ask your groqgate operator for a new one."));
	*tok = t;
	return 0;
}

int stage_policy(const struct team *t, const char *model, struct verdict *v)
{
	if (t->state == TEAM_PAUSED)
		return deny(v, 403, "permission_error", "team_paused", "team_paused",
			    xasprintf("Team '%s' is paused by %s: %s. Ask an operator to resume it.", t->id,
				      t->paused_by ? t->paused_by : "an operator",
				      t->paused_reason ? t->paused_reason : "no reason given"));
	if (t->state == TEAM_BUDGET_PAUSED)
		return deny(v, 402, "insufficient_quota", "budget_exceeded", "budget_exceeded",
			    xasprintf("Team '%s' reached its monthly budget of $%.2f and was paused. "
				      "An operator can raise the budget or resume it with an override.",
				      t->id, (double)t->budget_nusd / NUSD_PER_USD));
	if (model && !team_allows(t, model)) {
		buf b;
		buf_init(&b);
		for (int i = 0; i < t->nmodels; i++)
			buf_addf(&b, "%s%s", i ? ", " : "", t->models[i]);
		char *m = xasprintf("Model '%s' is not allowed for team '%s'. Allowed models: %s.", model, t->id,
				    b.len ? b.data : "(none)");
		buf_free(&b);
		return deny(v, 403, "permission_error", "model_not_allowed", "model_not_allowed", m);
	}
	return 0;
}

#define CHOICES_MAX 128 /* choices one chat request may ask for */

int stage_caps(const struct team *t, enum route_kind kind, const struct reqbody *b, int64_t *cap, int64_t *n,
	       const char **write, struct verdict *v)
{
	*write = NULL;
	*n = 1;
	if (kind == RK_CHAT) {
		const struct capfield f[] = { { "max_completion_tokens", b->max_completion_tokens },
					      { "max_tokens", b->max_tokens } };
		if (stage_cap(t, f, 2, cap, v) != 0)
			return -1;
		if (jspan_given(b->n) && (!jspan_int(b->n, n) || *n < 1 || *n > CHOICES_MAX))
			return deny(v, 400, "invalid_request_error", "invalid_value", "invalid_request",
				    xasprintf("'n' must be an integer from 1 to %d.", CHOICES_MAX));
		if (!jspan_given(f[0].v) && !jspan_given(f[1].v))
			*write = "max_completion_tokens";
	} else if (kind == RK_RESPONSES) {
		const struct capfield f[] = { { "max_output_tokens", b->max_output_tokens } };
		if (stage_cap(t, f, 1, cap, v) != 0)
			return -1;
		if (!jspan_given(f[0].v))
			*write = "max_output_tokens";
	}
	return 0;
}

int stage_cap(const struct team *t, const struct capfield *f, int n, int64_t *cap, struct verdict *v)
{
	bool any = false;
	*cap = 0;
	for (int i = 0; i < n; i++) {
		if (!jspan_given(f[i].v))
			continue;
		int64_t k;
		if (!jspan_int(f[i].v, &k) || k < 1)
			return deny(v, 400, "invalid_request_error", "invalid_value", "invalid_request",
				    xasprintf("'%s' must be a positive integer.", f[i].name));
		if (k > t->max_tokens)
			return deny(v, 400, "invalid_request_error", "max_tokens_exceeded", "max_tokens_exceeded",
				    xasprintf("'%s' is %lld but team '%s' may ask for at most %lld tokens per "
					      "request. Lower it to %lld or less.",
				      f[i].name, (long long)k, t->id, (long long)t->max_tokens,
				      (long long)t->max_tokens));
		if (k > *cap)
			*cap = k;
		any = true;
	}
	if (!any) /* none sent: the team's cap bounds the cost */
		*cap = t->max_tokens;
	return 0;
}

int rpm_refusal(const char *what, const char *name, int64_t limit, int64_t retry, struct verdict *v)
{
	char w[32];
	gotime_format(retry, w, sizeof w);
	deny(v, 429, "requests", "rate_limit_exceeded", "rate_limited",
	     xasprintf("Rate limit reached for %s '%s' on requests per minute (RPM): Limit %lld. "
		       "Please try again in %s.",
		       what, name, (long long)limit, w));
	v->retry_ms = retry;
	return -1;
}

int ratelimit_refusal(const struct team *t, int64_t retry, struct verdict *v)
{
	return rpm_refusal("team", t->id, t->rpm_limit, retry, v);
}

/* ---- refusals, by what the team would do about them ------------------ */

const char *const refusal_class_name[REF_N] = { "budget", "rate", "model", "cap", "paused", "other" };

int refusal_class(const char *reason)
{
	static const struct {
		const char *reason;
		int class;
	} map[] = {
		{ "budget_exceeded", REF_BUDGET },	    { "rate_limited", REF_RATE },
		{ "capacity_limited", REF_RATE },	    { "user_rate_limited", REF_RATE },
		{ "upstream_rate_limited", REF_RATE },	    { "queue_full", REF_RATE },
		{ "model_not_allowed", REF_MODEL },	    { "model_not_priced", REF_MODEL },
		{ "model_decommissioned", REF_MODEL },	    { "service_tier_not_allowed", REF_MODEL },
		{ "max_tokens_exceeded", REF_CAP },	    { "team_paused", REF_PAUSED },
	};
	for (size_t i = 0; reason && i < sizeof map / sizeof map[0]; i++)
		if (strcmp(map[i].reason, reason) == 0)
			return map[i].class;
	return REF_OTHER;
}

/* t->refused: REF_N windows of refusals by class, then one of every answer */
void team_answered(struct team *t, const char *reason, int64_t now)
{
	if (!t->refused) {
		t->refused = xcalloc(REF_N + 1, sizeof *t->refused);
		for (int i = 0; i <= REF_N; i++)
			win_init(&t->refused[i], 60000, 5000);
	}
	win_add(&t->refused[REF_N], now, now, 1);
	if (reason)
		win_add(&t->refused[refusal_class(reason)], now, now, 1);
}

int64_t team_refusals(struct team *t, int64_t now, int64_t *n)
{
	int64_t total = 0;
	for (int i = 0; i < REF_N; i++)
		total += n[i] = t->refused ? win_sum(&t->refused[i], now) : 0;
	return total;
}

bool team_refusing(struct team *t, int64_t now, char *why, size_t n)
{
	int64_t by[REF_N], refused = team_refusals(t, now, by);
	int64_t answered = t->refused ? win_sum(&t->refused[REF_N], now) : 0;
	if (refused < REFUSING_MIN || refused * 2 < answered || (t->refusing_at && now - t->refusing_at < REFUSING_QUIET_MS))
		return false;
	t->refusing_at = now;
	size_t at = (size_t)snprintf(why, n, "Team %s refused %lld of its %lld requests in the last minute (", t->id,
				     (long long)refused, (long long)answered);
	for (int i = 0, k = 0; i < REF_N && at < n; i++)
		if (by[i])
			at += (size_t)snprintf(why + at, n - at, "%s%s %lld", k++ ? ", " : "", refusal_class_name[i],
					       (long long)by[i]);
	if (at < n)
		snprintf(why + at, n - at, "): its callers are failing; see groqtop's detail or GET /admin/v1/usage.");
	return true;
}
