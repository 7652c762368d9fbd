/* fuzz_admin.c — an operator's JSON body for creating or changing a team,
 * as admin.c checks it (teamspec.c): unknown fields, types, ranges, the
 * model list. Whatever is accepted must leave a team within its limits. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "gateway.h"
#include "util.h"

static bool known(void *arg, const char *m)
{
	(void)arg;
	return strcmp(m, "llama-3.3-70b-versatile") == 0 || strcmp(m, "llama-3.1-8b-instant") == 0 ||
	       strcmp(m, "openai/gpt-oss-20b") == 0;
}

static const char *const fields[] = { "id", "name", "allowed_models", "max_tokens_per_request", "rpm_limit",
				      "rpm_mode", "queue_max_wait_ms", "monthly_budget_usd", "alert_thresholds",
				      "auto_pause", NULL };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *j = json_loadb((const char *)data, size, 0, NULL);
	if (!json_is_object(j)) {
		json_decref(j);
		return 0;
	}
	struct team *t = team_new();
	t->id = xstrdup("fuzz");
	t->name = xstrdup("fuzz");
	t->max_tokens = 100;
	t->rpm_limit = 10;
	struct verdict e = { 0 };
	int r = spec_only_fields(j, fields, &e);
	if (r == 0)
		r = spec_team_fields(t, j, known, NULL, &e);
	if (r != 0 && (e.status < 400 || e.status > 422 || !e.code || !e.message))
		__builtin_trap(); /* a refusal always says why */
	if (r == 0) {
		if (t->max_tokens < 1 || t->max_tokens > 10000000 || t->rpm_limit < 1 || t->rpm_limit > 1000000 ||
		    t->budget_nusd < 0 || t->queue_wait_ms < 0 || t->nthresholds > MAX_THRESHOLDS || !t->name[0])
			__builtin_trap();
		for (int i = 1; i < t->nthresholds; i++)
			if (t->thresholds[i] <= t->thresholds[i - 1] || t->thresholds[i] > 100)
				__builtin_trap();
		for (int i = 0; i < t->nmodels; i++)
			if (!known(NULL, t->models[i]))
				__builtin_trap();
	}
	verdict_clear(&e);
	team_free(t);
	json_decref(j);
	return 0;
}
