/* fuzz_policy.c — a client's request body through the policy stage and the
 * prompt estimate, as proxy.c runs them. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "gateway.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *body = json_loadb((const char *)data, size, 0, NULL);
	if (!json_is_object(body)) {
		json_decref(body);
		return 0;
	}
	struct team *t = team_new();
	t->id = xstrdup("fuzz");
	t->name = xstrdup("fuzz");
	t->models = xcalloc(2, sizeof *t->models);
	t->models[t->nmodels++] = xstrdup("llama-3.3-70b-versatile");
	t->max_tokens = 256;
	const char *model = json_string_value(json_object_get(body, "model"));
	struct verdict v = { 0 };
	int64_t cap = 0;
	if (stage_policy(t, model, body, &cap, &v) == 0 && (cap < 1 || cap > 256))
		__builtin_trap(); /* an admitted request always carries a cap within the team's */
	verdict_clear(&v);
	if (prompt_estimate(size, body) < (int64_t)size)
		__builtin_trap();
	json_decref(body);
	team_free(t);
	return 0;
}
