/* fake_control.c — fakegroq's /_fake control endpoints (faults, stats,
 * keys, model faults) and Groq's Enterprise metrics API. */
#include "fake.h"

/* ---- control endpoints ------------------------------------------ */

/* the integer faults, by name (POST /_fake/faults reads them, GET shows them) */
static const struct {
	const char *name;
	size_t off;
} int_faults[] = {
	{ "latency_ms", offsetof(struct faults, latency_ms) },
	{ "error_status", offsetof(struct faults, error_status) },
	{ "cut_stream_after", offsetof(struct faults, cut_after) },
	{ "rate_limit", offsetof(struct faults, rate_limit) },
	{ "retry_after_s", offsetof(struct faults, retry_after_s) },
	{ "chunk_delay_ms", offsetof(struct faults, chunk_delay_ms) },
	{ "stall_stream_after", offsetof(struct faults, stall_after) },
	{ "report_prompt_tokens", offsetof(struct faults, report_prompt_tokens) },
	{ "cached_tokens", offsetof(struct faults, cached_tokens) },
	{ "metrics_hang", offsetof(struct faults, metrics_hang) },
	{ "metrics_status", offsetof(struct faults, metrics_status) },
	{ "metrics_stall", offsetof(struct faults, metrics_stall) },
	{ "metrics_absurd", offsetof(struct faults, metrics_absurd) },
	{ "list_broken", offsetof(struct faults, list_broken) },
	{ "batch_hostile", offsetof(struct faults, batch_hostile) },
	{ "batch_ms", offsetof(struct faults, batch_ms) },
	{ "batch_fail", offsetof(struct faults, batch_fail) },
};

static int64_t *int_fault(const char *name)
{
	for (size_t i = 0; i < ARRAY_LEN(int_faults); i++)
		if (strcmp(name, int_faults[i].name) == 0)
			return (int64_t *)(void *)((char *)&G.f + int_faults[i].off);
	return NULL;
}

static json_t *faults_json(void)
{
	json_t *j = json_pack("{s:f,s:b}", "error_rate", G.f.error_rate, "hang", G.f.hang);
	for (size_t i = 0; i < ARRAY_LEN(int_faults); i++)
		json_object_set_new(j, int_faults[i].name, json_integer(*int_fault(int_faults[i].name)));
	return j;
}

static json_t *stat_json(const struct keystat *s)
{
	return json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "requests", (json_int_t)s->requests,
			 "completions", (json_int_t)s->completions, "streams", (json_int_t)s->streams,
			 "streams_cut", (json_int_t)s->streams_cut, "errors", (json_int_t)s->errors,
			 "prompt_tokens", (json_int_t)s->prompt_tokens, "completion_tokens",
			 (json_int_t)s->completion_tokens, "total_tokens",
			 (json_int_t)(s->prompt_tokens + s->completion_tokens), "audio_seconds",
			 (json_int_t)s->audio_seconds, "characters", (json_int_t)s->characters);
}

void handle_control(struct hreq *req, const char *path)
{
	enum hmethod cmd = httpd_method(req);
	if (strcmp(path, "/_fake/faults") == 0) {
		if (cmd == HM_DELETE) {
			G.f = G.f_default;
		} else if (cmd == HM_POST) {
			size_t len;
			char *body = httpd_body(req, &len);
			json_t *j = json_loadb(body, len, 0, NULL);
			free(body);
			if (!json_is_object(j)) {
				json_decref(j);
				httpd_send_json(req, 400, json_pack("{s:s}", "error", "body must be a JSON object"));
				return;
			}
			const char *k;
			json_t *v;
			json_object_foreach(j, k, v) {
				int64_t *f = int_fault(k);
				if (f && json_is_integer(v))
					*f = json_integer_value(v);
				else if (strcmp(k, "error_rate") == 0 && json_is_number(v))
					G.f.error_rate = json_number_value(v);
				else if (strcmp(k, "hang") == 0 && json_is_boolean(v))
					G.f.hang = json_is_true(v);
				else if (strcmp(k, "rate_limit") == 0 && json_is_boolean(v))
					G.f.rate_limit = json_is_true(v) ? -1 : 0;
				else {
					char *m = xasprintf("unknown fault or wrong type: %s", k);
					httpd_send_json(req, 400, json_pack("{s:s}", "error", m));
					free(m);
					json_decref(j);
					return;
				}
			}
			json_decref(j);
		} else if (cmd != HM_GET) {
			httpd_send_json(req, 405, json_pack("{s:s}", "error", "use GET, POST or DELETE"));
			return;
		}
		httpd_send_json(req, 200, faults_json());
		return;
	}
	if (strcmp(path, "/_fake/stats") == 0) {
		if (cmd == HM_DELETE)
			for (int i = 0; i < G.nkeys; i++) {
				char fp[48];
				memcpy(fp, G.stats[i].fp, sizeof fp);
				memset(&G.stats[i], 0, sizeof G.stats[i]);
				memcpy(G.stats[i].fp, fp, sizeof fp);
			}
		json_t *keys = json_object();
		struct keystat tot = { 0 };
		for (int i = 0; i < G.nkeys; i++) {
			const struct keystat *s = &G.stats[i];
			json_object_set_new(keys, s->fp, stat_json(s));
			tot.requests += s->requests;
			tot.completions += s->completions;
			tot.streams += s->streams;
			tot.streams_cut += s->streams_cut;
			tot.errors += s->errors;
			tot.prompt_tokens += s->prompt_tokens;
			tot.completion_tokens += s->completion_tokens;
			tot.audio_seconds += s->audio_seconds;
			tot.characters += s->characters;
		}
		httpd_send_json(req, 200, json_pack("{s:o,s:o,s:I,s:I,s:I}", "keys", keys, "total",
						    stat_json(&tot), "inflight", (json_int_t)G.inflight,
						    "org_requests_used", (json_int_t)org_sum(false),
						    "org_tokens_used", (json_int_t)org_sum(true)));
		return;
	}
	if (strcmp(path, "/_fake/model-fault") == 0 && cmd == HM_POST) {
		/* {"model":ID,"status":429|498|5xx,"count":N[,"service_tier":T]
		 * [,"delay_ms":MS]}: the next N chat requests for the model (in
		 * that tier) fail so (each answer held MS first) */
		size_t len;
		char *body = httpd_body(req, &len);
		json_t *j = json_loadb(body, len, 0, NULL);
		free(body);
		const char *m = json_string_value(json_object_get(j, "model"));
		const char *t = json_string_value(json_object_get(j, "service_tier"));
		int64_t st = json_integer_value(json_object_get(j, "status")), n = json_integer_value(json_object_get(j, "count"));
		if (!m || !(st == 429 || st == 498 || (st >= 500 && st <= 599)) || n < 0 || G.nmfaults == MAX_MODELS) {
			json_decref(j);
			httpd_send_json(req, 400, json_pack("{s:s}", "error",
							    "body must be {\"model\":ID,\"status\":429|498|5xx,\"count\":N}"));
			return;
		}
		struct mfault *f = &G.mfaults[G.nmfaults++];
		f->model = xstrdup(m);
		snprintf(f->tier, sizeof f->tier, "%s", t ? t : "");
		f->status = st;
		f->count = n;
		f->delay_ms = json_integer_value(json_object_get(j, "delay_ms"));
		json_decref(j);
		httpd_send_json(req, 200, json_pack("{s:i}", "faults", G.nmfaults));
		return;
	}
	if (strcmp(path, "/_fake/decommission") == 0 && cmd == HM_POST) {
		/* {"model":ID}: Groq stops serving it (400 model_decommissioned) and
		 * no longer lists it */
		size_t len;
		char *body = httpd_body(req, &len);
		json_t *j = json_loadb(body, len, 0, NULL);
		free(body);
		const char *m = json_string_value(json_object_get(j, "model"));
		if (!m || G.ndecom == MAX_MODELS) {
			json_decref(j);
			httpd_send_json(req, 400, json_pack("{s:s}", "error", "body must be {\"model\":ID}"));
			return;
		}
		if (!model_decommissioned(m))
			G.decommissioned[G.ndecom++] = xstrdup(m);
		json_decref(j);
		json_t *a = json_array();
		for (int i = 0; i < G.ndecom; i++)
			json_array_append_new(a, json_string(G.decommissioned[i]));
		httpd_send_json(req, 200, json_pack("{s:o}", "decommissioned", a));
		return;
	}
	httpd_send_json(req, 404, json_pack("{s:s}", "error", "unknown control endpoint"));
}

/* GET /v1/metrics/prometheus/api/v1/{query,query_range,series,labels}:
 * Groq's Enterprise metrics; 404 not_found unless started with --metrics */
void handle_metrics(struct freq *fr, const char *what)
{
	if (!G.metrics_on) {
		send_error(fr, 404, "Metrics are available to Enterprise organizations only.", "invalid_request_error",
			   "not_found");
		freq_free(fr);
		return;
	}
	if (G.f.metrics_hang)
		return; /* freed by on_close when the client gives up */
	if (G.f.metrics_stall) { /* freed by on_close when the client gives up */
		answered(fr, 200);
		httpd_set_header(fr->req, "Content-Type", "application/json");
		httpd_start(fr->req, 200);
		httpd_chunk(fr->req, "{\"status\":", 10);
		return;
	}
	if (G.f.metrics_status) {
		int st = (int)G.f.metrics_status;
		send_error(fr, st, "Internal Server Error", "internal_server_error", NULL);
		freq_free(fr);
		return;
	}
	json_t *params = json_object();
	static const char *const names[] = { "query", "time", "start", "end", "step", "match[]" };
	for (size_t i = 0; i < ARRAY_LEN(names); i++) {
		char *v = httpd_query(fr->req, names[i]);
		if (v)
			json_object_set_new(params, names[i], json_string(v));
		free(v);
	}
	int status;
	json_t *ans = fgm_api(what, params, wall_ms(), &status);
	json_decref(params);
	if (G.f.metrics_absurd) {
		size_t i;
		json_t *r;
		json_array_foreach(json_object_get(json_object_get(ans, "data"), "result"), i, r)
			json_array_set_new(json_object_get(r, "value"), 1, json_string("1e308"));
	}
	/* sample times as Prometheus writes them: seconds with milliseconds */
	char *out = json_dumps(ans, JSON_COMPACT | JSON_REAL_PRECISION(13));
	json_decref(ans);
	answered(fr, status);
	httpd_send_owned(final(fr), status, "application/json", out, strlen(out));
	freq_free(fr);
}
