/* policy.c — the deciding stages of the request pipeline:
 * authenticate -> policy -> rate limit. Each takes what it needs and
 * returns 0 to go on or -1 with a verdict (status, Groq error type/code
 * and a message a developer can act on). Budget reservation is budget.c. */
#include "gateway.h"

#include <stdlib.h>
#include <string.h>

#include "gotime.h"
#include "secret.h"
#include "util.h"

void verdict_clear(struct verdict *v)
{
	free(v->message);
	memset(v, 0, sizeof *v);
}

static int deny(struct verdict *v, int status, const char *type, const char *code, char *msg)
{
	free(v->message);
	v->status = status;
	v->type = type;
	v->code = code;
	v->message = msg;
	return -1;
}

int stage_authenticate(struct registry *r, const char *bearer, struct ctoken **tok, struct verdict *v)
{
	*tok = NULL;
	if (!bearer)
		return deny(v, 401, "invalid_request_error", "invalid_api_key",
			    xstrdup("Invalid API Key: send 'Authorization: Bearer <client token>' with a token "
				    "issued by your groqgate operator."));
	char h[SHA256_HEX_LEN + 1];
	sha256_hex(bearer, strlen(bearer), h);
	struct ctoken *t = strmap_get(r->token_by_hash, h);
	if (!t || t->revoked_at || !ct_equal(h, t->hash, SHA256_HEX_LEN))
		return deny(v, 401, "invalid_request_error", "invalid_api_key",
			    xstrdup("Invalid API Key: this client token is unknown or was revoked. "
				    "Ask your groqgate operator for a new one."));
	*tok = t;
	return 0;
}

int stage_policy(const struct team *t, const char *model, const struct reqbody *body, int64_t *cap,
		 struct verdict *v)
{
	if (t->state == TEAM_PAUSED)
		return deny(v, 403, "permission_error", "team_paused",
			    xasprintf("Team '%s' is paused by %s: %s. Ask an operator to resume it.", t->id,
				      t->paused_by ? t->paused_by : "an operator",
				      t->paused_reason ? t->paused_reason : "no reason given"));
	if (t->state == TEAM_BUDGET_PAUSED)
		return deny(v, 402, "insufficient_quota", "budget_exceeded",
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
		return deny(v, 403, "permission_error", "model_not_allowed", m);
	}
	*cap = 0;
	if (!body)
		return 0;
	const char *names[] = { "max_completion_tokens", "max_tokens" };
	const struct jspan vals[] = { body->max_completion_tokens, body->max_tokens };
	bool any = false;
	for (int i = 0; i < 2; i++) {
		if (!jspan_given(vals[i]))
			continue;
		int64_t n;
		if (!jspan_int(vals[i], &n) || n < 1)
			return deny(v, 400, "invalid_request_error", "invalid_value",
				    xasprintf("'%s' must be a positive integer.", names[i]));
		if (n > t->max_tokens)
			return deny(v, 400, "invalid_request_error", "max_tokens_exceeded",
				    xasprintf("'%s' is %lld but team '%s' may ask for at most %lld tokens per "
					      "request. Lower it to %lld or less.",
				      names[i], (long long)n, t->id, (long long)t->max_tokens,
				      (long long)t->max_tokens));
		if (n > *cap)
			*cap = n;
		any = true;
	}
	if (!any) /* neither sent: the team's cap bounds the cost */
		*cap = t->max_tokens;
	return 0;
}

int stage_ratelimit(struct team *t, int64_t now, struct verdict *v)
{
	int64_t retry = 0;
	if (rl_admit(&t->rl, now, &retry))
		return 0;
	char w[32];
	gotime_format(retry, w, sizeof w);
	deny(v, 429, "requests", "rate_limit_exceeded",
	     xasprintf("Rate limit reached for team '%s' on requests per minute (RPM): Limit %lld. "
		       "Please try again in %s.",
		       t->id, (long long)t->rpm_limit, w));
	v->retry_ms = retry;
	return -1;
}
