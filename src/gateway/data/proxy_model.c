/* proxy_model.c — the model and the service tier Groq is sent: an alias
 * or a retired model resolved (models.c decides), the tier checked and
 * its default written in, and the next fallback switched to; the body
 * rewritten in place each time. */
#include "proxy.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

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
	const char *why;
	if (reqbody_scan(*b, *len, &rb, &why) != 0)
		return deny(v, 500, "api_error", "internal_error", "internal",
			    xasprintf("The body could not be rewritten (%s at line %d, column %d).", why, rb.line, rb.col));
	struct jspan at = str_eq(key, "model") ? rb.model : rb.service_tier;
	size_t nl;
	char *nb = reqbody_with_json(*b, *len, &rb, at, key, value, &nl);
	free(*b);
	*b = nb;
	*len = nl;
	if (!fwd && reqbody_scan(p->raw, p->raw_len, &p->body, &why) != 0)
		return deny(v, 500, "api_error", "internal_error", "internal",
			    xasprintf("The body could not be rewritten (%s at line %d, column %d).", why, p->body.line,
				      p->body.col));
	return 0;
}

int req_body_set_string(struct preq *p, const char *key, const char *s, struct verdict *v)
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
int req_resolve_model(struct preq *p, struct verdict *v)
{
	const char *send;
	if (!p->model || OPS(p)->flags & RF_AS_NAMED)
		return 0;
	if (stage_model(&p->g->cfg, &p->g->reg, p->t, gw_now(p->g), p->model, &send, v) != 0)
		return -1;
	if (str_eq(send, p->model))
		return 0;
	if (p->form_at) { /* an audio form: its model part rewritten */
		req_form_model(p, send);
	} else if (p->route->body != BK_JSON || !p->body.model.n) {
		return deny(v, 400, "invalid_request_error", "invalid_value", "invalid_request",
			    xasprintf("'%s' stands for '%s', which this route cannot be sent in its place; "
				      "name '%s' itself.", p->model, send, send));
	} else if (req_body_set_string(p, "model", send, v) != 0) {
		return -1;
	}
	model_now(p, send);
	return 0;
}

/* the service tier: one the team may not ask for is refused; none named
 * and the team has a default: written in. 0, or -1 with v. */
int req_stage_tier(struct preq *p, struct verdict *v)
{
	const struct team *t = p->t;
	if (!(OPS(p)->flags & RF_TIERS))
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
	return req_body_set_string(p, "service_tier", tier_name(t->default_tier), v);
}

/* the model to try next after the ones tried (the fallbacks of the
 * team), switched to; false when none is left */
const char *req_next_model(const struct preq *p)
{
	if (!p->ntried || p->ntried >= TRIES_MAX || p->route->body != BK_JSON || OPS(p)->flags & RF_AS_NAMED)
		return NULL;
	return fallback_next(&p->g->cfg, p->t, (const char *const *)p->tried, p->ntried);
}

bool req_switch_model(struct preq *p)
{
	const char *next = req_next_model(p);
	struct verdict v = { 0 };
	if (!next || req_body_set_string(p, "model", next, &v) != 0) {
		verdict_clear(&v);
		return false;
	}
	model_now(p, next);
	p->tried[p->ntried++] = xstrdup(next);
	return true;
}
