/* models.c — models that come and go: the organisation's aliases (a role
 * such as "fast" naming a model) and Groq's retirement calendar. Pure:
 * the configuration and the clock in, a model or a verdict out. */
#include "gateway.h"

#include <string.h>

#include "util.h"

const char *model_alias(const struct gw_config *c, const char *name)
{
	for (int i = 0; name && i < c->naliases; i++)
		if (str_eq(c->aliases[i].alias, name))
			return c->aliases[i].model;
	return NULL;
}

const struct deprecation *model_deprecation(const struct gw_config *c, const char *model)
{
	for (int i = 0; model && i < c->ndeprecations; i++)
		if (str_eq(c->deprecations[i].model, model))
			return &c->deprecations[i];
	return NULL;
}

int stage_model(const struct gw_config *c, const struct team *t, int64_t now, const char *asked, const char **send,
		struct verdict *v)
{
	const char *m = model_alias(c, asked);
	if (!m)
		m = asked;
	/* a replacement may itself retire later: followed, a bounded number
	 * of times (the configuration refuses a cycle) */
	for (int hop = 0; hop <= c->ndeprecations; hop++) {
		const struct deprecation *d = model_deprecation(c, m);
		if (!d || now < d->shutdown_ms)
			break;
		if (!t->replace_retired)
			return deny(v, 400, "invalid_request_error", "model_decommissioned", "model_decommissioned",
				    xasprintf("The model `%s` has been decommissioned and is no longer supported "
					      "(since %s). Please use `%s` instead.",
					      m, d->date, d->replacement));
		m = d->replacement;
	}
	*send = m;
	return 0;
}
