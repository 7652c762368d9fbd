/* teamuse.c — a team's use per model in the last minute (requests and
 * tokens, a window each): the capacity view's split of a team's figures.
 * Counted by capacity.c and the request path; shown by capacity_report.c. */
#include "core.h"

#include <stdlib.h>

#include "util.h"

void team_model_count(struct team *t, const char *model, int64_t at, int64_t now, int64_t req, int64_t tok)
{
	if (!model)
		return;
	struct teamuse *u = NULL;
	for (int j = 0; j < t->nmu; j++)
		if (str_eq(t->mu[j].model, model))
			u = &t->mu[j];
	if (!u) {
		if (t->nmu >= 64) /* bounded: the models a team may call */
			return;
		t->mu = xrealloc(t->mu, (size_t)(t->nmu + 1) * sizeof *t->mu);
		u = &t->mu[t->nmu++];
		u->model = xstrdup(model);
		win_init(&u->req, 60000, 1000);
		win_init(&u->tok, 60000, 1000);
	}
	if (req)
		win_add(&u->req, at, now, req);
	if (tok)
		win_add(&u->tok, at, now, tok);
}

void team_model_free(struct team *t)
{
	for (int j = 0; j < t->nmu; j++) {
		free(t->mu[j].model);
		win_free(&t->mu[j].req);
		win_free(&t->mu[j].tok);
	}
	free(t->mu);
	t->mu = NULL;
	t->nmu = 0;
}
