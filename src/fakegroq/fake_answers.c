/* fake_answers.c — fakegroq's generating routes: chat completions (streamed
 * or not), Responses, embeddings, transcription and translation, speech;
 * the faults that shape their answers. */
#include "fake.h"

static const char *const words[] = {
	"Fast", "language", "models", "matter", "because", "latency", "shapes",
	"what", "people", "build", "and", "how", "they", "feel", "using", "it.",
};

/* ---- chat completions ------------------------------------------- */

static int64_t text_bytes(json_t *content)
{
	if (json_is_string(content))
		return (int64_t)json_string_length(content);
	int64_t n = 0;
	size_t i;
	json_t *part;
	if (json_is_array(content))
		json_array_foreach(content, i, part) {
			json_t *t = json_object_get(part, "text");
			if (json_is_string(t))
				n += (int64_t)json_string_length(t);
		}
	return n;
}

/* Deterministic token count of the prompt (documented in docs/fakegroq.md):
 * 3 + sum over messages of (4 + ceil(bytes(content) / 4)). */
int64_t prompt_tokens_of(json_t *messages)
{
	int64_t n = 3;
	size_t i;
	json_t *m;
	json_array_foreach(messages, i, m)
		n += 4 + (text_bytes(json_object_get(m, "content")) + 3) / 4;
	return n;
}

/* the prompt tokens a usage reports (a hostile upstream reports more) */
static int64_t reported_prompt(int64_t p)
{
	return G.f.report_prompt_tokens > 0 ? G.f.report_prompt_tokens : p;
}

int64_t cached_of(int64_t p)
{
	return G.f.cached_tokens < p ? G.f.cached_tokens : p;
}

json_t *usage_json(int64_t p, int64_t c)
{
	double qt = 0.011, pt = (double)p * 0.00002, ct = (double)c * 0.0008;
	p = reported_prompt(p);
	json_t *u = json_pack("{s:f,s:I,s:f,s:I,s:f,s:I,s:f}", "queue_time", qt, "prompt_tokens",
			      (json_int_t)p, "prompt_time", pt, "completion_tokens", (json_int_t)c,
			      "completion_time", ct, "total_tokens", (json_int_t)(p + c), "total_time",
			      pt + ct);
	if (G.f.cached_tokens > 0)
		json_object_set_new(u, "prompt_tokens_details", json_pack("{s:I}", "cached_tokens", (json_int_t)cached_of(p)));
	return u;
}

/* the Responses API's usage object */
static json_t *rusage_json(int64_t p, int64_t c)
{
	p = reported_prompt(p);
	return json_pack("{s:I,s:{s:I},s:I,s:{s:i},s:I}", "input_tokens", (json_int_t)p, "input_tokens_details",
			 "cached_tokens", (json_int_t)cached_of(p), "output_tokens", (json_int_t)c,
			 "output_tokens_details", "reasoning_tokens", 0, "total_tokens", (json_int_t)(p + c));
}

char *words_text(int64_t n)
{
	buf t;
	buf_init(&t);
	for (int64_t i = 0; i < n; i++)
		buf_addf(&t, "%s%s", i ? " " : "", words[i % ARRAY_LEN(words)]);
	return t.data ? buf_detach(&t) : xstrdup("");
}

/* a Responses API response object */
static json_t *response_obj(struct freq *fr, const char *status, bool with_output)
{
	char *text = words_text(with_output ? fr->n_tokens : 0);
	json_t *out = json_array();
	if (with_output)
		json_array_append_new(out, json_pack("{s:s,s:s,s:s,s:s,s:[{s:s,s:s,s:[]}]}", "type", "message", "id",
						     "msg_fake", "status", "completed", "role", "assistant", "content",
						     "type", "output_text", "text", text, "annotations"));
	json_t *r = json_pack("{s:s,s:s,s:I,s:s,s:s,s:o}", "id", fr->id, "object", "response", "created_at",
			      (json_int_t)(wall_ms() / 1000), "status", status, "model", fr->model, "output", out);
	json_object_set_new(r, "usage", with_output ? rusage_json(fr->prompt_tokens, fr->n_tokens) : json_null());
	free(text);
	return r;
}

static json_t *chunk_base(struct freq *fr)
{
	return json_pack("{s:s,s:s,s:I,s:s,s:s,s:s}", "id", fr->id, "object", "chat.completion.chunk",
			 "created", (json_int_t)(wall_ms() / 1000), "model", fr->model,
			 "system_fingerprint", "fp_179b0f92c9", "service_tier", fr->tier);
}

static void send_event(struct freq *fr, json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(9));
	json_decref(j);
	char *ev = xasprintf("data: %s\n\n", s);
	free(s);
	httpd_chunk(fr->req, ev, strlen(ev));
	free(ev);
}

/* a Responses stream's event: "event: TYPE" and its data */
static void send_revent(struct freq *fr, const char *type, json_t *j)
{
	json_object_set_new(j, "type", json_string(type));
	char *d = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(9));
	json_decref(j);
	char *ev = xasprintf("event: %s\ndata: %s\n\n", type, d);
	free(d);
	httpd_chunk(fr->req, ev, strlen(ev));
	free(ev);
}

static void account_done(struct freq *fr)
{
	struct keystat *st = &G.stats[fr->key];
	st->completions++;
	fr->accounted = true;
	st->prompt_tokens += fr->prompt_tokens;
	st->completion_tokens += fr->n_tokens;
	lim_of(fr->model)->tpm_used += fr->prompt_tokens + fr->n_tokens;
}

static void stream_step(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct freq *fr = arg;
	if (!fr->stream_started) {
		fr->stream_started = true;
		G.stats[fr->key].streams++;
		add_limit_headers(fr->req, fr->model);
		httpd_set_header(fr->req, "x-request-id", fr->xid);
		httpd_set_header(fr->req, "Content-Type", "text/event-stream");
		httpd_set_header(fr->req, "Cache-Control", "no-cache");
		answered(fr, 200);
		httpd_start(fr->req, 200);
		if (fr->kind == K_RESPONSES) {
			send_revent(fr, "response.created", json_pack("{s:o}", "response", response_obj(fr, "in_progress", false)));
		} else {
			json_t *c = chunk_base(fr);
			json_object_set_new(c, "choices",
					    json_pack("[{s:i,s:{s:s,s:s},s:n,s:n}]", "index", 0, "delta", "role",
						      "assistant", "content", "", "logprobs", "finish_reason"));
			json_object_set_new(c, "x_groq", json_pack("{s:s}", "id", fr->xid));
			send_event(fr, c);
		}
	} else if (fr->stall_after >= 0 && fr->sent >= fr->stall_after) {
		return; /* silent, the connection kept open: freed when the client gives up */
	} else if (fr->sent < fr->n_tokens) {
		if (fr->cut_after >= 0 && fr->sent >= fr->cut_after) {
			/* cut the stream mid-way: drop the connection without an end */
			G.stats[fr->key].streams_cut++;
			fr->stream_started = false;
			struct hreq *req = final(fr);
			freq_free(fr);
			httpd_abort(req);
			return;
		}
		char w[32];
		snprintf(w, sizeof w, "%s%s", fr->sent ? " " : "", words[fr->sent % ARRAY_LEN(words)]);
		if (fr->kind == K_RESPONSES) {
			send_revent(fr, "response.output_text.delta",
				    json_pack("{s:s,s:i,s:i,s:s}", "item_id", "msg_fake", "output_index", 0, "content_index", 0,
					      "delta", w));
		} else {
			json_t *c = chunk_base(fr);
			json_object_set_new(c, "choices",
					    json_pack("[{s:i,s:{s:s},s:n,s:n}]", "index", 0, "delta", "content", w,
						      "logprobs", "finish_reason"));
			send_event(fr, c);
		}
		fr->sent++;
	} else if (fr->kind == K_RESPONSES) {
		/* a Responses stream ends with response.completed: no [DONE] */
		send_revent(fr, "response.completed", json_pack("{s:o}", "response", response_obj(fr, "completed", true)));
		account_done(fr);
		fr->stream_started = false;
		httpd_end(final(fr));
		freq_free(fr);
		return;
	} else {
		json_t *c = chunk_base(fr);
		json_object_set_new(c, "choices",
				    json_pack("[{s:i,s:{},s:n,s:s}]", "index", 0, "delta", "logprobs",
					      "finish_reason", fr->length_cut ? "length" : "stop"));
		json_object_set_new(c, "x_groq", json_pack("{s:s,s:o}", "id", fr->xid, "usage",
							   usage_json(fr->prompt_tokens, fr->n_tokens)));
		send_event(fr, c);
		if (fr->include_usage) {
			c = chunk_base(fr);
			json_object_set_new(c, "choices", json_array());
			json_object_set_new(c, "usage", usage_json(fr->prompt_tokens, fr->n_tokens));
			send_event(fr, c);
		}
		httpd_chunk(fr->req, "data: [DONE]\n\n", 14);
		account_done(fr);
		fr->stream_started = false;
		httpd_end(final(fr));
		freq_free(fr);
		return;
	}
	struct timeval tv = { (time_t)(G.f.chunk_delay_ms / 1000), (suseconds_t)(G.f.chunk_delay_ms % 1000) * 1000 };
	evtimer_add(fr->timer, &tv);
}

/* a JSON answer with Groq's headers (rate limits, request id); frees fr */
/* the organisation's list of files or batches, as Groq pages it (its
 * first and last ids, whether more follow); list_broken: no data array */
json_t *org_list(json_t *a)
{
	if (G.f.list_broken) {
		json_decref(a);
		return json_pack("{s:s,s:s}", "object", "list", "note", "no data here");
	}
	size_t n = json_array_size(a);
	json_t *first = json_object_get(json_array_get(a, 0), "id"), *last = json_object_get(json_array_get(a, n ? n - 1 : 0), "id");
	return json_pack("{s:s,s:o,s:O,s:O,s:b}", "object", "list", "data", a, "first_id", first ? first : json_null(),
			 "last_id", last ? last : json_null(), "has_more", 0);
}

void answer_json(struct freq *fr, int status, json_t *j)
{
	answered(fr, status);
	add_limit_headers(fr->req, fr->model);
	httpd_set_header(fr->req, "x-request-id", fr->xid);
	httpd_send_json(final(fr), status, j);
	freq_free(fr);
}

/* a stream is paced by its timer, a stalled answer never ends: true when
 * either took fr over */
static bool stream_or_stall(struct freq *fr);

/* stall_stream_after on an answer in one piece: its head and a few bytes,
 * then silence (freed when the client gives up) */
static bool stalled_answer(struct freq *fr)
{
	if (fr->stream || fr->stall_after < 0)
		return false;
	add_limit_headers(fr->req, fr->model);
	httpd_set_header(fr->req, "x-request-id", fr->xid);
	httpd_set_header(fr->req, "Content-Type", "application/json");
	answered(fr, 200);
	httpd_start(fr->req, 200);
	httpd_chunk(fr->req, "{\"id\":\"x\",", 11);
	return true;
}

static bool stream_or_stall(struct freq *fr)
{
	if (fr->stream) {
		fr->timer = evtimer_new(G.base, stream_step, fr);
		stream_step(-1, 0, fr);
		return true;
	}
	return stalled_answer(fr);
}

static void chat_answer(struct freq *fr)
{
	if (stream_or_stall(fr))
		return;
	char *content = words_text(fr->n_tokens);
	json_t *r = json_pack("{s:s,s:s,s:I,s:s,s:[{s:i,s:{s:s,s:s},s:n,s:s}],s:o,s:s,s:s,s:{s:s}}",
			      "id", fr->id, "object", "chat.completion", "created",
			      (json_int_t)(wall_ms() / 1000), "model", fr->model, "choices", "index", 0,
			      "message", "role", "assistant", "content", content,
			      "logprobs", "finish_reason", fr->length_cut ? "length" : "stop", "usage",
			      usage_json(fr->prompt_tokens, fr->n_tokens), "system_fingerprint",
			      "fp_179b0f92c9", "service_tier", fr->tier, "x_groq", "id", fr->xid);
	free(content);
	account_done(fr);
	answer_json(fr, 200, r);
}

static void models_answer(struct freq *fr)
{
	json_t *data = json_array();
	for (int i = 0; i < G.nmodels; i++)
		if (!model_decommissioned(G.models[i].id))
		json_array_append_new(data, json_pack("{s:s,s:s,s:I,s:s,s:b,s:I}", "id", G.models[i].id,
						      "object", "model", "created",
						      (json_int_t)G.models[i].created, "owned_by",
						      G.models[i].owned_by, "active", 1,
						      "context_window",
						      (json_int_t)G.models[i].context_window));
	answer_json(fr, 200, json_pack("{s:s,s:o}", "object", "list", "data", data));
}

static void responses_answer(struct freq *fr)
{
	if (stream_or_stall(fr))
		return;
	account_done(fr);
	answer_json(fr, 200, response_obj(fr, "completed", true));
}

static void embed_answer(struct freq *fr)
{
	json_t *input = json_object_get(fr->body, "input");
	size_t n = json_is_array(input) ? json_array_size(input) : 1;
	json_t *data = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(data, json_pack("{s:s,s:I,s:[f,f,f,f]}", "object", "embedding", "index",
						      (json_int_t)i, "embedding", 0.125, -0.5, 0.25, (double)i));
	fr->n_tokens = 0;
	account_done(fr);
	int64_t p = reported_prompt(fr->prompt_tokens);
	answer_json(fr, 200,
		    json_pack("{s:s,s:o,s:s,s:{s:I,s:I}}", "object", "list", "data", data, "model", fr->model, "usage",
			      "prompt_tokens", (json_int_t)p, "total_tokens", (json_int_t)p));
}

/* seconds of audio in a file: a WAV's header says; anything else counts
 * as 128 kbit/s */
static double audio_duration(const char *d, size_t n)
{
	if (n >= 44 && memcmp(d, "RIFF", 4) == 0 && memcmp(d + 8, "WAVE", 4) == 0) {
		uint32_t rate;
		memcpy(&rate, d + 28, 4); /* byte rate, little-endian on every machine here */
		if (rate > 0)
			return (double)(n - 44) / rate;
	}
	return (double)n / 16000.0;
}

static void audio_answer(struct freq *fr)
{
	int nfile;
	const struct mpart *file = mform_get(&fr->form, "file", &nfile);
	double d = audio_duration(file->data, file->len);
	static const char text[] = "Fast language models matter because latency shapes what people build.";
	int64_t billed = (int64_t)ceil(d);
	G.stats[fr->key].audio_seconds += billed < 10 ? 10 : billed; /* Groq bills at least 10 s */
	G.stats[fr->key].completions++;
	answered(fr, 200);
	add_limit_headers(fr->req, fr->model);
	httpd_set_header(fr->req, "x-request-id", fr->xid);
	struct hreq *req = final(fr);
	if (strcmp(fr->fmt, "text") == 0) {
		httpd_send(req, 200, "text/plain; charset=utf-8", text, sizeof text - 1);
	} else if (strcmp(fr->fmt, "verbose_json") == 0) {
		httpd_send_json(req, 200,
				json_pack("{s:s,s:s,s:f,s:s,s:[{s:i,s:f,s:f,s:s}],s:{s:s}}", "task",
					  fr->translate ? "translate" : "transcribe", "language", "English", "duration", d,
					  "text", text, "segments", "id", 0, "start", 0.0, "end", d, "text", text, "x_groq",
					  "id", fr->xid));
	} else {
		httpd_send_json(req, 200, json_pack("{s:s,s:{s:s}}", "text", text, "x_groq", "id", fr->xid));
	}
	freq_free(fr);
}

static void speech_answer(struct freq *fr)
{
	const char *in = json_string_value(json_object_get(fr->body, "input"));
	int64_t chars = 0;
	for (const char *q = in; *q; q++)
		chars += ((unsigned char)*q & 0xc0) != 0x80;
	G.stats[fr->key].characters += chars;
	G.stats[fr->key].completions++;
	/* a WAV of silence, 60 ms a character at 24 kHz, 16-bit mono */
	uint32_t rate = 24000, data = (uint32_t)(chars * 24000 * 2 * 60 / 1000);
	size_t n = 44 + data;
	char *w = xcalloc(1, n);
	uint32_t v;
	uint16_t h;
	memcpy(w, "RIFF", 4);
	v = (uint32_t)(n - 8);
	memcpy(w + 4, &v, 4);
	memcpy(w + 8, "WAVEfmt ", 8);
	v = 16;
	memcpy(w + 16, &v, 4);
	h = 1;
	memcpy(w + 20, &h, 2);
	memcpy(w + 22, &h, 2);
	memcpy(w + 24, &rate, 4);
	v = rate * 2;
	memcpy(w + 28, &v, 4);
	h = 2;
	memcpy(w + 32, &h, 2);
	h = 16;
	memcpy(w + 34, &h, 2);
	memcpy(w + 36, "data", 4);
	memcpy(w + 40, &data, 4);
	add_limit_headers(fr->req, fr->model);
	httpd_set_header(fr->req, "x-request-id", fr->xid);
	answered(fr, 200);
	httpd_send_owned(final(fr), 200, "audio/wav", w, n);
	freq_free(fr);
}

static void answer(struct freq *fr)
{
	switch (fr->kind) {
	case K_MODELS: models_answer(fr); break;
	case K_CHAT: chat_answer(fr); break;
	case K_RESPONSES: responses_answer(fr); break;
	case K_EMBED: embed_answer(fr); break;
	case K_AUDIO: audio_answer(fr); break;
	case K_FILES:
		if (fr->req)
			handle_files(fr, (enum hmethod)fr->cmd, fr->sub);
		else
			freq_free(fr);
		break;
	case K_SPEECH: speech_answer(fr); break;
	}
}

static void delay_done(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct freq *fr = arg;
	event_free(fr->timer);
	fr->timer = NULL;
	answer(fr);
}

/* Runs the request-wide faults; returns true when the request was taken
 * care of (answered or left hanging). */
bool apply_faults(struct freq *fr)
{
	if (G.f.hang)
		return true; /* freed by on_close when the client gives up */
	if (G.f.rate_limit != 0) {
		if (G.f.rate_limit > 0)
			G.f.rate_limit--;
		char ra[24], w[32];
		snprintf(ra, sizeof ra, "%lld", (long long)G.f.retry_after_s);
		gotime_format(G.f.retry_after_s * 1000 - 545, w, sizeof w);
		httpd_set_header(fr->req, "retry-after", ra);
		char *m = xasprintf("Rate limit reached for model in organization `org_fake` service tier "
				    "`on_demand` on tokens per minute (TPM): Limit 12000, Used 11999, "
				    "Requested 1200. Please try again in %s.", w);
		send_error(fr, 429, m, "tokens", "rate_limit_exceeded");
		free(m);
		freq_free(fr);
		return true;
	}
	if (G.f.error_rate > 0 && rnd01() < G.f.error_rate) {
		int st = G.f.error_status == 503 ? 503 : 500;
		send_error(fr, st, st == 503 ? "Service Unavailable" : "Internal Server Error",
			   "internal_server_error", NULL);
		freq_free(fr);
		return true;
	}
	return false;
}

void schedule(struct freq *fr)
{
	if (G.f.latency_ms > 0) {
		fr->timer = evtimer_new(G.base, delay_done, fr);
		struct timeval tv = { (time_t)(G.f.latency_ms / 1000), (suseconds_t)(G.f.latency_ms % 1000) * 1000 };
		evtimer_add(fr->timer, &tv);
	} else {
		answer(fr);
	}
}

/* a model fault's answer (POST /_fake/model-fault), fr->fault and
 * fr->fault_model set; the request is done after it */
static void send_fault(struct freq *fr)
{
	if (fr->fault == 429) {
		httpd_set_header(fr->req, "retry-after", "12");
		char *m = xasprintf("Rate limit reached for model `%s` in organization `org_fake` service tier "
				    "`%s` on requests per minute (RPM): Limit 30, Used 30, Requested 1. "
				    "Please try again in 12s.", fr->fault_model, fr->tier);
		send_error(fr, 429, m, "requests", "rate_limit_exceeded");
		free(m);
	} else if (fr->fault == 498) {
		send_error(fr, 498, "Flex tier capacity exceeded. This is a known issue and we are working on it. "
				    "Please try again later.", "capacity_exceeded", "capacity_exceeded");
	} else {
		send_error(fr, (int)fr->fault, fr->fault == 503 ? "Service Unavailable" : "Internal Server Error",
			   "internal_server_error", NULL);
	}
	freq_free(fr);
}

static void fault_later(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct freq *fr = arg;
	event_free(fr->timer);
	fr->timer = NULL;
	send_fault(fr);
}

void handle_chat(struct freq *fr)
{
	size_t len;
	char *body = httpd_body(fr->req, &len);
	json_error_t jerr;
	json_t *j = json_loadb(body, len, 0, &jerr);
	free(body);
	if (!json_is_object(j)) {
		json_decref(j);
		send_error(fr, 400, "We could not parse the JSON body of your request. The body must be a JSON object.",
			   "invalid_request_error", NULL);
		freq_free(fr);
		return;
	}
	fr->body = j;
	json_t *model = json_object_get(j, "model");
	json_t *messages = json_object_get(j, "messages");
	if (!json_is_string(model)) {
		send_error(fr, 400, "'model' : property 'model' is missing", "invalid_request_error", NULL);
		freq_free(fr);
		return;
	}
	if (!json_is_array(messages) || json_array_size(messages) == 0) {
		send_error(fr, 400, "'messages' : minimum number of items is 1", "invalid_request_error", NULL);
		freq_free(fr);
		return;
	}
	const char *mid = json_string_value(model);
	if (!model_find(mid)) {
		model_refused(fr, mid);
		return;
	}
	int64_t cap = -1;
	const char *capnames[] = { "max_completion_tokens", "max_tokens" };
	for (int i = 0; i < 2 && cap < 0; i++) {
		json_t *c = json_object_get(j, capnames[i]);
		if (!c || json_is_null(c))
			continue;
		if (!json_is_integer(c) || json_integer_value(c) < 1) {
			char *m = xasprintf("'%s' : must be an integer >= 1", capnames[i]);
			send_error(fr, 400, m, "invalid_request_error", NULL);
			free(m);
			freq_free(fr);
			return;
		}
		cap = json_integer_value(c);
	}
	const char *tier = json_string_value(json_object_get(j, "service_tier"));
	if (tier && strcmp(tier, "on_demand") && strcmp(tier, "flex") && strcmp(tier, "performance") &&
	    strcmp(tier, "auto")) {
		send_error(fr, 400, "'service_tier' : value must be one of on_demand, flex, performance, auto",
			   "invalid_request_error", NULL);
		freq_free(fr);
		return;
	}
	snprintf(fr->tier, sizeof fr->tier, "%s", !tier || strcmp(tier, "auto") == 0 ? "on_demand" : tier);
	for (int i = 0; i < G.nmfaults; i++) {
		struct mfault *f = &G.mfaults[i];
		if (!f->count || strcmp(f->model, mid) || (f->tier[0] && strcmp(f->tier, fr->tier)))
			continue;
		f->count--;
		fr->fault_model = xstrdup(mid);
		fr->fault = (int)f->status;
		if (f->delay_ms <= 0) {
			send_fault(fr);
			return;
		}
		fr->timer = evtimer_new(G.base, fault_later, fr);
		struct timeval tv = { (time_t)(f->delay_ms / 1000), (suseconds_t)(f->delay_ms % 1000) * 1000 };
		evtimer_add(fr->timer, &tv);
		return;
	}
	fr->model = xstrdup(mid);
	fr->prompt_tokens = prompt_tokens_of(messages);
	fr->n_tokens = G.completion_tokens;
	if (cap >= 0 && cap < fr->n_tokens) {
		fr->n_tokens = cap;
		fr->length_cut = true;
	}
	fr->stream = json_is_true(json_object_get(j, "stream"));
	json_t *so = json_object_get(j, "stream_options");
	fr->include_usage = json_is_true(json_object_get(so, "include_usage"));
	fr->cut_after = G.f.cut_after;
	fr->stall_after = G.f.stall_after;
	snprintf(fr->id, sizeof fr->id, "chatcmpl-%s", fr->xid + 4);

	/* the organisation's limits of the model, as Groq counts them */
	int64_t now = wall_ms();
	struct orglim *L = lim_of(fr->model);
	limits_roll(L, now);
	int64_t requested = fr->prompt_tokens + (cap >= 0 ? cap : fr->n_tokens);
	if (requested > L->tpm_limit) {
		char *m = xasprintf("Request too large for model `%s` in organization `org_fake` service tier "
				    "`on_demand` on tokens per minute (TPM): Limit %lld, Requested %lld, "
				    "please reduce your message size and try again.",
				    mid, (long long)L->tpm_limit, (long long)requested);
		send_error(fr, 413, m, "tokens", "rate_limit_exceeded");
		free(m);
		freq_free(fr);
		return;
	}
	if (L->rpd_used >= L->rpd_limit || L->tpm_used + requested > L->tpm_limit) {
		bool req_lim = L->rpd_used >= L->rpd_limit;
		int64_t wait = (req_lim ? L->rpd_window_end : L->tpm_window_end) - now;
		char ra[32], w[32];
		snprintf(ra, sizeof ra, "%lld", (long long)((wait + 999) / 1000));
		gotime_format(wait, w, sizeof w);
		httpd_set_header(fr->req, "retry-after", ra);
		char *m = req_lim
				  ? xasprintf("Rate limit reached for model `%s` in organization `org_fake` service tier "
					      "`on_demand` on requests per day (RPD): Limit %lld, Used %lld, Requested 1. "
					      "Please try again in %s.",
					      mid, (long long)L->rpd_limit, (long long)L->rpd_used, w)
				  : xasprintf("Rate limit reached for model `%s` in organization `org_fake` service tier "
					      "`on_demand` on tokens per minute (TPM): Limit %lld, Used %lld, Requested %lld. "
					      "Please try again in %s.",
					      mid, (long long)L->tpm_limit, (long long)L->tpm_used, (long long)requested, w);
		send_error(fr, 429, m, req_lim ? "requests" : "tokens", "rate_limit_exceeded");
		free(m);
		freq_free(fr);
		return;
	}
	L->rpd_used++;
	schedule(fr);
}

/* ---- the other generating routes ----------------------------------- */

/* fr's JSON body with a known model, or answered 400/404 (false) */
static bool json_with_model(struct freq *fr)
{
	size_t len;
	char *body = httpd_body(fr->req, &len);
	json_t *j = json_loadb(body, len, 0, NULL);
	free(body);
	const char *mid = json_string_value(json_object_get(j, "model"));
	if (!json_is_object(j) || !mid) {
		json_decref(j);
		send_error(fr, 400, json_is_object(j) ? "'model' : property 'model' is missing"
						      : "We could not parse the JSON body of your request.",
			   "invalid_request_error", NULL);
		freq_free(fr);
		return false;
	}
	fr->body = j;
	if (!model_find(mid)) {
		model_refused(fr, mid);
		return false;
	}
	fr->model = xstrdup(mid);
	return true;
}

/* tokens of a Responses input or an embeddings input: a string, or items
 * (strings, or objects with content) */
static int64_t input_tokens_of(json_t *input)
{
	if (json_is_string(input))
		return 3 + ((int64_t)json_string_length(input) + 3) / 4;
	int64_t n = 3;
	size_t i;
	json_t *it;
	json_array_foreach(input, i, it)
		n += 4 + ((json_is_string(it) ? (int64_t)json_string_length(it) : text_bytes(json_object_get(it, "content"))) + 3) / 4;
	return n;
}

void handle_responses(struct freq *fr)
{
	if (!json_with_model(fr))
		return;
	json_t *cap = json_object_get(fr->body, "max_output_tokens");
	fr->prompt_tokens = input_tokens_of(json_object_get(fr->body, "input"));
	fr->n_tokens = G.completion_tokens;
	if (json_is_integer(cap) && json_integer_value(cap) < fr->n_tokens)
		fr->n_tokens = json_integer_value(cap);
	fr->stream = json_is_true(json_object_get(fr->body, "stream"));
	fr->cut_after = G.f.cut_after;
	fr->stall_after = G.f.stall_after;
	snprintf(fr->id, sizeof fr->id, "resp_%s", fr->xid + 4);
	lim_of(fr->model)->rpd_used++;
	schedule(fr);
}

void handle_embed(struct freq *fr)
{
	if (!json_with_model(fr))
		return;
	fr->prompt_tokens = input_tokens_of(json_object_get(fr->body, "input"));
	lim_of(fr->model)->rpd_used++;
	schedule(fr);
}

void handle_speech(struct freq *fr)
{
	if (!json_with_model(fr))
		return;
	if (!json_is_string(json_object_get(fr->body, "input"))) {
		send_error(fr, 400, "'input' : property 'input' is missing", "invalid_request_error", NULL);
		freq_free(fr);
		return;
	}
	lim_of(fr->model)->rpd_used++;
	schedule(fr);
}

void handle_audio(struct freq *fr, bool translate)
{
	struct mediatype mt;
	const char *why = "";
	fr->translate = translate;
	fr->raw = httpd_take_body(fr->req, &fr->raw_len); /* (binary: httpd_body stops at a NUL) */
	int nm, nfile, nf;
	if (mediatype_parse(httpd_header(fr->req, "Content-Type"), &mt, &why) != 0 ||
	    strcmp(mt.type, "multipart/form-data") != 0 ||
	    mform_parse(fr->raw, fr->raw_len, mt.boundary, &fr->form, &why) != 0) {
		char *m = xasprintf("request Content-Type isn't multipart/form-data (%s)", why);
		send_error(fr, 400, m, "invalid_request_error", NULL);
		free(m);
		freq_free(fr);
		return;
	}
	const struct mpart *m = mform_get(&fr->form, "model", &nm), *f = mform_get(&fr->form, "file", &nfile),
			   *fmt = mform_get(&fr->form, "response_format", &nf);
	if (!m || !f) {
		send_error(fr, 400, !m ? "'model' : property 'model' is missing" : "'file' : property 'file' is missing",
			   "invalid_request_error", NULL);
		freq_free(fr);
		return;
	}
	fr->model = xstrndup(m->data, m->len);
	fr->fmt = fmt ? xstrndup(fmt->data, fmt->len) : xstrdup("json");
	if (!model_find(fr->model) || !str_starts(fr->model, "whisper")) {
		model_refused(fr, fr->model);
		return;
	}
	lim_of(fr->model)->rpd_used++;
	schedule(fr);
}
