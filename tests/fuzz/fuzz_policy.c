/* fuzz_policy.c — a client's request body through the scanner, the policy
 * stage and the prompt estimate, as proxy.c runs them; jansson is the
 * oracle: the scanner accepts exactly the objects jansson accepts and reads
 * the same model, stream flag and number of messages (a NUL byte, which
 * jansson lets pass in one place, is refused). */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "gateway.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	json_t *j = json_loadb(s, size, 0, NULL);
	struct reqbody b;
	const char *why = NULL;
	int rc = reqbody_scan(s, size, &b, &why);
	/* a NUL byte is never valid JSON; jansson lets one pass right after a
	 * number (its lexer drops it), the scanner does not */
	bool nul = memchr(s, 0, size) != NULL;
	if (nul ? rc == 0 : (rc == 0) != json_is_object(j))
		__builtin_trap(); /* the scanner and jansson disagree */
	if (rc != 0) {
		json_decref(j);
		return 0;
	}
	char *model = jspan_string(b.model);
	json_t *m = json_object_get(j, "model");
	if ((model != NULL) != json_is_string(m) || (model && strcmp(model, json_string_value(m)) != 0))
		__builtin_trap();
	if ((jspan_kind(b.stream) == J_TRUE) != json_is_true(json_object_get(j, "stream")))
		__builtin_trap();
	json_t *msgs = json_object_get(j, "messages");
	if (b.nmessages != (json_is_array(msgs) ? json_array_size(msgs) : 0))
		__builtin_trap();
	struct team *t = team_new();
	t->id = xstrdup("fuzz");
	t->name = xstrdup("fuzz");
	t->models = xcalloc(2, sizeof *t->models);
	t->models[t->nmodels++] = xstrdup("llama-3.3-70b-versatile");
	t->max_tokens = 256;
	struct verdict v = { 0 };
	int64_t cap = 0, n;
	const char *write;
	/* a repeated governed member or a letter-case variant is refused by the
	 * request path before the policy stage */
	if (!b.dup && !b.variant[0] && stage_policy(t, model, &v) == 0 && stage_caps(t, RK_CHAT, &b, &cap, &n, &write, &v) == 0) {
		if (cap < 1 || cap > 256)
			__builtin_trap(); /* an admitted request always carries a cap within the team's */
		size_t len;
		char *out = reqbody_with_int(s, size, &b, b.max_completion_tokens, "max_completion_tokens", cap, &len);
		json_t *o = json_loadb(out, len, 0, NULL);
		if (json_integer_value(json_object_get(o, "max_completion_tokens")) != cap)
			__builtin_trap(); /* the cap added is the one Groq reads */
		json_decref(o);
		free(out);
	}
	verdict_clear(&v);
	if (prompt_estimate(size, b.nmessages) < (int64_t)size)
		__builtin_trap();
	free(model);
	json_decref(j);
	team_free(t);
	return 0;
}
