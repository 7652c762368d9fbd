/* team_input.c — what an operator may send about a team, checked without a
 * connection in sight: the JSON body of a create or PATCH, the If-Match
 * header, the X-Operator label. Every check returns a verdict (status,
 * code, message) that admin.c sends; the fuzzer (tests/fuzz/fuzz_admin.c)
 * drives the same functions. */
#include "org.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* the team fields an operator sets, one list for create ("id" and all),
 * change and the organisation's file (SPEC_SETTABLE: all but "id") */
const char *const spec_team_fields_all[] = { "id", "name", "allowed_models", "max_tokens_per_request", "rpm_limit",
					     "rpm_mode", "queue_max_wait_ms", "monthly_budget_usd", "alert_thresholds",
					     "auto_pause", "priority", "tpm_limit", "tpd_limit", "rpd_limit",
					     "daily_budget_usd", "weekly_budget_usd", "user_daily_budget_usd",
					     "user_rpm_limit", "replace_retired", "fallbacks", "service_tiers",
					     "default_service_tier", NULL };

int spec_only_fields(json_t *j, const char *const *allowed, struct verdict *e)
{
	const char *k;
	json_t *v;
	json_object_foreach(j, k, v) {
		bool ok = false;
		for (const char *const *a = allowed; *a && !ok; a++)
			ok = strcmp(*a, k) == 0;
		if (!ok)
			return refusef(e, 400, "unknown_field", "Unknown field '%s'.", k);
	}
	return 0;
}

/* an allowed_models array: an allocated, NULL-ended list, or NULL */
static char **models_arg(json_t *a, spec_model_known known, void *arg, int *n, struct verdict *e)
{
	if (!json_is_array(a)) {
		refusef(e, 400, "invalid_value", "'allowed_models' must be an array of model ids.");
		return NULL;
	}
	char **out = xcalloc(json_array_size(a) + 1, sizeof *out);
	*n = 0;
	size_t i;
	json_t *v;
	json_array_foreach(a, i, v) {
		const char *m = json_string_value(v);
		bool dup = false;
		for (int k = 0; m && k < *n; k++)
			dup = dup || strcmp(out[k], m) == 0;
		if (!m || dup || !known(arg, m)) {
			if (!m)
				refusef(e, 400, "invalid_value", "'allowed_models' must hold strings.");
			else if (dup)
				refusef(e, 422, "duplicate_model", "Model '%s' is listed twice.", m);
			else
				refusef(e, 422, "unknown_model",
					   "Model '%s' is not known to the gateway (not in the prices table nor in "
					   "Groq's model list). See GET /admin/v1/models.",
					   m);
			for (int k = 0; k < *n; k++)
				free(out[k]);
			free(out);
			return NULL;
		}
		out[(*n)++] = xstrdup(m);
	}
	return out;
}

static int int_arg(json_t *j, const char *name, int64_t lo, int64_t hi, int64_t *out, struct verdict *e)
{
	json_t *v = json_object_get(j, name);
	if (!v)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
		return refusef(e, 400, "invalid_value", "'%s' must be an integer from %lld to %lld.", name,
				  (long long)lo, (long long)hi);
	*out = json_integer_value(v);
	return 1;
}

static int usd_arg(json_t *j, const char *name, int64_t *out, struct verdict *e)
{
	json_t *v = json_object_get(j, name);
	if (!v)
		return 0;
	if (!json_is_number(v) || !(json_number_value(v) >= 0) || json_number_value(v) > 1e9)
		return refusef(e, 400, "invalid_value", "'%s' must be a number of USD from 0 to 1e9.", name);
	*out = (int64_t)llround(json_number_value(v) * NUSD_PER_USD);
	return 1;
}

int spec_team_fields(struct team *t, json_t *j, spec_model_known known, void *arg, struct verdict *e)
{
	json_t *v;
	if ((v = json_object_get(j, "name"))) {
		if (!json_is_string(v) || !json_string_length(v) || json_string_length(v) > 200)
			return refusef(e, 400, "invalid_value", "'name' must be a non-empty string (200 chars at most).");
		free(t->name);
		t->name = xstrdup(json_string_value(v));
	}
	if ((v = json_object_get(j, "allowed_models"))) {
		int n;
		char **m = models_arg(v, known, arg, &n, e);
		if (!m)
			return -1;
		for (int i = 0; i < t->nmodels; i++)
			free(t->models[i]);
		free(t->models);
		t->models = m;
		t->nmodels = n;
	}
	if (int_arg(j, "max_tokens_per_request", 1, 10000000, &t->max_tokens, e) < 0 ||
	    int_arg(j, "rpm_limit", 1, 1000000, &t->rpm_limit, e) < 0 ||
	    int_arg(j, "queue_max_wait_ms", 0, 600000, &t->queue_wait_ms, e) < 0 ||
	    usd_arg(j, "monthly_budget_usd", &t->budget_nusd, e) < 0 ||
	    usd_arg(j, "daily_budget_usd", &t->day_budget_nusd, e) < 0 ||
	    usd_arg(j, "weekly_budget_usd", &t->week_budget_nusd, e) < 0 ||
	    usd_arg(j, "user_daily_budget_usd", &t->user_day_budget_nusd, e) < 0 ||
	    int_arg(j, "user_rpm_limit", 0, 1000000, &t->user_rpm_limit, e) < 0 ||
	    int_arg(j, "tpm_limit", 0, 1000000000000LL, &t->tpm_limit, e) < 0 ||
	    int_arg(j, "tpd_limit", 0, 1000000000000LL, &t->tpd_limit, e) < 0 ||
	    int_arg(j, "rpd_limit", 0, 1000000000000LL, &t->rpd_limit, e) < 0)
		return -1;
	if ((v = json_object_get(j, "priority"))) {
		int p = priority_parse(json_string_value(v));
		if (p < 0)
			return refusef(e, 400, "invalid_value",
				       "'priority' must be \"critical\", \"standard\" or \"batch\".");
		t->priority = (enum priority)p;
	}
	if ((v = json_object_get(j, "rpm_mode"))) {
		const char *s = json_string_value(v);
		if (!s || (strcmp(s, "reject") && strcmp(s, "queue")))
			return refusef(e, 400, "invalid_value", "'rpm_mode' must be \"reject\" or \"queue\".");
		t->rpm_mode = strcmp(s, "queue") == 0 ? RPM_QUEUE : RPM_REJECT;
	}
	if ((v = json_object_get(j, "fallbacks"))) {
		if (json_is_null(v) || (json_is_object(v) && !json_object_size(v))) {
			free(t->fallbacks);
			t->fallbacks = NULL;
		} else {
			if (fallbacks_check(t, v, NULL, e) != 0)
				return -1;
			free(t->fallbacks);
			t->fallbacks = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
		}
	} else if (t->fallbacks) { /* the allowlist changed under them: still models the team may call */
		json_t *fb = json_loads(t->fallbacks, 0, NULL);
		int r = fb ? fallbacks_check(t, fb, NULL, e) : 0;
		json_decref(fb);
		if (r != 0)
			return -1;
	}
	if ((v = json_object_get(j, "service_tiers"))) {
		unsigned bits = 0;
		size_t i;
		json_t *s;
		if (!json_is_array(v) || !json_array_size(v))
			return refusef(e, 400, "invalid_value",
				       "'service_tiers' must be a non-empty list of \"on_demand\", \"flex\", "
				       "\"performance\", \"auto\".");
		json_array_foreach(v, i, s) {
			unsigned b = tier_parse(json_string_value(s));
			if (!b)
				return refusef(e, 400, "invalid_value",
					       "'service_tiers': '%s' is not one of \"on_demand\", \"flex\", "
					       "\"performance\", \"auto\".",
					       json_string_value(s) ? json_string_value(s) : "(not a string)");
			bits |= b;
		}
		t->tiers = bits;
	}
	if ((v = json_object_get(j, "default_service_tier"))) {
		unsigned b = json_is_null(v) ? 0 : tier_parse(json_string_value(v));
		if (!json_is_null(v) && !b)
			return refusef(e, 400, "invalid_value",
				       "'default_service_tier' must be \"on_demand\", \"flex\", \"performance\", "
				       "\"auto\" or null (Groq's).");
		t->default_tier = b;
	}
	if (t->default_tier && t->tiers && !(t->tiers & t->default_tier))
		return refusef(e, 400, "invalid_value", "'default_service_tier' '%s' is not in the team's service_tiers.",
			       tier_name(t->default_tier));
	if ((v = json_object_get(j, "replace_retired"))) {
		if (!json_is_boolean(v))
			return refusef(e, 400, "invalid_value", "'replace_retired' must be true or false.");
		t->replace_retired = json_is_true(v);
	}
	if ((v = json_object_get(j, "auto_pause"))) {
		if (!json_is_boolean(v))
			return refusef(e, 400, "invalid_value", "'auto_pause' must be true or false.");
		t->auto_pause = json_is_true(v);
	}
	if ((v = json_object_get(j, "alert_thresholds"))) {
		size_t i;
		json_t *x;
		int prev = 0, n = 0, th[MAX_THRESHOLDS];
		if (!json_is_array(v) || json_array_size(v) > MAX_THRESHOLDS)
			return refusef(e, 400, "invalid_value",
					  "'alert_thresholds' must be an array of up to 8 percentages.");
		json_array_foreach(v, i, x) {
			if (!json_is_integer(x) || json_integer_value(x) <= prev || json_integer_value(x) > 100)
				return refusef(e, 400, "invalid_value",
						  "'alert_thresholds' must be increasing integers in 1..100, e.g. [50, 80, 95].");
			prev = (int)json_integer_value(x);
			th[n++] = prev;
		}
		memcpy(t->thresholds, th, sizeof th);
		t->nthresholds = n;
	}
	return 0;
}

int spec_key_fields(struct ukey *k, json_t *j, struct verdict *e)
{
	if (usd_arg(j, "monthly_budget_usd", &k->budget_nusd, e) < 0 ||
	    int_arg(j, "rpm_limit", 0, 1000000, &k->rpm_limit, e) < 0 ||
	    int_arg(j, "tpm_limit", 0, 1000000000000LL, &k->tpm_limit, e) < 0)
		return -1;
	return 0;
}

int spec_if_match(const char *h, int64_t *ver)
{
	char v[64];
	snprintf(v, sizeof v, "%s", h);
	char *s = str_trim(v);
	if (str_starts(s, "W/"))
		s += 2;
	size_t n = strlen(s);
	if (n >= 2 && s[0] == '"' && s[n - 1] == '"') {
		s[n - 1] = '\0';
		s++;
	}
	if (strcmp(s, "*") == 0)
		return 0;
	return parse_i64(s, ver) ? 1 : -1;
}

void spec_label(const char *in, char *out, size_t n)
{
	size_t j = 0;
	for (const char *s = in; *s && j + 1 < n; s++)
		if (isprint((unsigned char)*s))
			out[j++] = *s;
	if (n)
		out[j] = '\0';
}
