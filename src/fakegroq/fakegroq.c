/* fakegroq.c — a faithful stand-in for Groq's OpenAI-compatible API, for
 * tests, the demo and benchmarks. One libevent loop; streams are paced by
 * timers, never by threads. See docs/fakegroq.md for what is faithful and
 * what is simplified. */
#include <errno.h>
#include <event2/event.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "conf.h"
#include "fgmetrics.h"
#include "gotime.h"
#include "groq.h"
#include "httpd.h"
#include "mime.h"
#include "secret.h"
#include "util.h"

#define MAX_KEYS 4096
#define MAX_MODELS 64

struct model {
	char *id, *owned_by;
	int64_t created, context_window;
};

struct keystat {
	char fp[48];
	int64_t requests, completions, streams, streams_cut, errors;
	int64_t prompt_tokens, completion_tokens;
	int64_t audio_seconds, characters; /* billed: speech to text, text to speech */
};

struct faults {
	int64_t latency_ms;    /* added before any answer */
	double error_rate;     /* share of chat requests answered error_status */
	int64_t error_status;  /* 500 or 503 */
	int64_t cut_after;     /* cut streams after this many content chunks; -1 off */
	bool hang;             /* accept and never answer */
	int64_t rate_limit;    /* answer the next N requests 429; -1 until cleared */
	int64_t retry_after_s; /* the retry-after of those 429s (Groq's, 12 by default) */
	int64_t chunk_delay_ms;
	int64_t stall_after;   /* streams stop sending (connection kept) after this many chunks; -1 off */
	int64_t report_prompt_tokens; /* usage reports this many prompt tokens (a hostile upstream); 0 off */
	int64_t cached_tokens; /* of the prompt, reported as read from the cache */
	int64_t metrics_hang;  /* the metrics API accepts and never answers */
	int64_t metrics_status; /* the metrics API answers this status (an outage); 0 off */
	int64_t metrics_stall;  /* the metrics API sends its head and a few bytes, then nothing */
	int64_t metrics_absurd; /* every sample's value is 1e308 (a hostile metrics API) */
	int64_t list_broken;    /* file and batch lists come without their data array */
	int64_t batch_hostile;  /* batch output lines: 1 no usage, 2 usage of 1e30 (a float), 3 a model
				 * id nobody prices, 4 one more line for a custom_id not in the input */
	int64_t batch_ms;      /* a batch ends this long after it is created */
	int64_t batch_fail;    /* batches end "failed" */
};

static struct {
	struct event_base *base;
	struct httpd *http;
	const char *keys_path;
	char *keys[MAX_KEYS];
	char key_hash[MAX_KEYS][SHA256_HEX_LEN + 1];
	char key_project[MAX_KEYS][64]; /* the key's Groq project ("" none) */
	bool metrics_on;               /* Enterprise metrics served (else 404) */
	char *decommissioned[MAX_MODELS]; /* answered 400 model_decommissioned */
	struct mfault {                   /* POST /_fake/model-fault: the next count chat */
		char *model, tier[16];    /* requests for model (in tier, "" any) answered */
		int64_t status, count;    /* status: 429, 498 (flex's capacity_exceeded) or 5xx */
	} mfaults[MAX_MODELS];
	int nmfaults;
	int ndecom;
	struct keystat stats[MAX_KEYS];
	int nkeys;
	struct model models[MAX_MODELS];
	int nmodels;
	int64_t completion_tokens;
	int64_t rpd_limit, tpm_limit; /* each model's, unless --model-limit says */
	struct orglim *lims;           /* the organisation's use of each model */
	int nlims;
	struct faults f, f_default;
	uint64_t rng;
	uint64_t seq;
	bool quiet;
	int64_t inflight;
} G;

static const char *const default_models[][3] = {
	{ "llama-3.1-8b-instant", "Meta", "131072" },
	{ "llama-3.3-70b-versatile", "Meta", "131072" },
	{ "openai/gpt-oss-20b", "OpenAI", "131072" },
	{ "openai/gpt-oss-120b", "OpenAI", "131072" },
	{ "qwen/qwen3-32b", "Alibaba Cloud", "131072" },
	{ "meta-llama/llama-4-scout-17b-16e-instruct", "Meta", "131072" },
	{ "whisper-large-v3-turbo", "OpenAI", "448" },
	{ "whisper-large-v3", "OpenAI", "448" },
	{ "canopylabs/orpheus-v1-english", "Canopy Labs", "4000" },
	{ "nomic-embed-text-v1_5", "Nomic", "8192" },
};

static const char *const words[] = {
	"Fast", "language", "models", "matter", "because", "latency", "shapes",
	"what", "people", "build", "and", "how", "they", "feel", "using", "it.",
};

/* ---- keys ---------------------------------------------------------- */

static int keys_load(const char *path, char **cause)
{
	size_t len;
	char *text = file_read(path, 1 << 22, &len, cause);
	if (!text)
		return -1;
	for (int i = 0; i < G.nkeys; i++)
		secret_free(G.keys[i]);
	int n = 0;
	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
		char *k = str_trim(line);
		if (!*k || *k == '#')
			continue;
		if (!str_starts(k, "gsk_")) {
			fprintf(stderr, "fakegroq: %s: ignoring a line that is not a gsk_ key\n", path);
			continue;
		}
		if (n >= MAX_KEYS)
			break;
		/* "gsk_... [PROJECT_ID]": the key's Groq project */
		char *sp = k + strcspn(k, " \t");
		const char *project = "";
		if (*sp) {
			*sp++ = '\0';
			project = str_trim(sp);
		}
		snprintf(G.key_project[n], sizeof G.key_project[n], "%s", project);
		G.keys[n] = xstrdup(k);
		sha256_hex(k, strlen(k), G.key_hash[n]);
		char fp[48];
		secret_fingerprint(k, fp, sizeof fp);
		if (strcmp(G.stats[n].fp, fp) != 0) {
			memset(&G.stats[n], 0, sizeof G.stats[n]);
			snprintf(G.stats[n].fp, sizeof G.stats[n].fp, "%s", fp);
		}
		n++;
	}
	G.nkeys = n;
	secret_wipe(text, len);
	free(text);
	return 0;
}

/* Index of the caller's key, or -1. */
static int key_lookup(struct hreq *req)
{
	const char *k = httpd_bearer(req);
	if (!k)
		return -1;
	char h[SHA256_HEX_LEN + 1];
	sha256_hex(k, strlen(k), h);
	for (int i = 0; i < G.nkeys; i++)
		if (ct_equal(h, G.key_hash[i], SHA256_HEX_LEN))
			return i;
	return -1;
}

static const struct model *model_find(const char *id)
{
	for (int i = 0; i < G.ndecom; i++)
		if (strcmp(G.decommissioned[i], id) == 0)
			return NULL;
	for (int i = 0; i < G.nmodels; i++)
		if (strcmp(G.models[i].id, id) == 0)
			return &G.models[i];
	return NULL;
}

static bool model_decommissioned(const char *id)
{
	for (int i = 0; i < G.ndecom; i++)
		if (strcmp(G.decommissioned[i], id) == 0)
			return true;
	return false;
}

/* ---- organisation rate limits, per model as Groq keeps them (fixed
 * windows that really count) ---- */

struct orglim {
	char *model; /* "" for answers that name no model */
	int64_t rpd_limit, tpm_limit;
	int64_t rpd_used, rpd_window_end;
	int64_t tpm_used, tpm_window_end;
};

static struct orglim *lim_of(const char *model)
{
	if (!model)
		model = "";
	for (int i = 0; i < G.nlims; i++)
		if (strcmp(G.lims[i].model, model) == 0)
			return &G.lims[i];
	G.lims = xrealloc(G.lims, (size_t)(G.nlims + 1) * sizeof *G.lims);
	G.lims[G.nlims] = (struct orglim){ .model = xstrdup(model), .rpd_limit = G.rpd_limit, .tpm_limit = G.tpm_limit };
	return &G.lims[G.nlims++];
}

static void limits_roll(struct orglim *l, int64_t now)
{
	if (now >= l->rpd_window_end) {
		l->rpd_used = 0;
		l->rpd_window_end = now + 86400000;
	}
	if (now >= l->tpm_window_end) {
		l->tpm_used = 0;
		l->tpm_window_end = now + 60000;
	}
}

/* the organisation's use of every model in their current windows */
static int64_t org_sum(bool tokens)
{
	int64_t n = 0, now = wall_ms();
	for (int i = 0; i < G.nlims; i++) {
		limits_roll(&G.lims[i], now);
		n += tokens ? G.lims[i].tpm_used : G.lims[i].rpd_used;
	}
	return n;
}

static void add_limit_headers(struct hreq *req, const char *model)
{
	struct orglim *l = lim_of(model);
	int64_t now = wall_ms();
	limits_roll(l, now);
	char v[64];
	snprintf(v, sizeof v, "%lld", (long long)l->rpd_limit);
	httpd_set_header(req, "x-ratelimit-limit-requests", v);
	snprintf(v, sizeof v, "%lld", (long long)l->tpm_limit);
	httpd_set_header(req, "x-ratelimit-limit-tokens", v);
	int64_t rr = l->rpd_limit - l->rpd_used, rt = l->tpm_limit - l->tpm_used;
	snprintf(v, sizeof v, "%lld", (long long)(rr < 0 ? 0 : rr));
	httpd_set_header(req, "x-ratelimit-remaining-requests", v);
	snprintf(v, sizeof v, "%lld", (long long)(rt < 0 ? 0 : rt));
	httpd_set_header(req, "x-ratelimit-remaining-tokens", v);
	gotime_format(l->rpd_window_end - now, v, sizeof v);
	httpd_set_header(req, "x-ratelimit-reset-requests", v);
	gotime_format(l->tpm_window_end - now, v, sizeof v);
	httpd_set_header(req, "x-ratelimit-reset-tokens", v);
}

static void new_request_id(char *out, size_t n)
{
	static const char a[] = "0123456789abcdefghjkmnpqrstvwxyz";
	uint64_t x = ++G.seq * 0x9E3779B97F4A7C15ull ^ (uint64_t)wall_ms();
	char s[27];
	for (int i = 0; i < 26; i++) {
		s[i] = a[x % 32];
		x = x / 32 ^ (x << 7) ^ (uint64_t)i * 0xBF58476D1CE4E5B9ull;
	}
	s[26] = '\0';
	snprintf(out, n, "req_%s", s);
}

static double rnd01(void)
{
	/* xorshift64*: deterministic for a given --seed */
	G.rng ^= G.rng >> 12;
	G.rng ^= G.rng << 25;
	G.rng ^= G.rng >> 27;
	return (double)((G.rng * 2685821657736338717ull) >> 11) / 9007199254740992.0;
}

/* ---- per-request state ------------------------------------------- */

enum { ST_DELAY, ST_STREAM };
enum { K_MODELS, K_CHAT, K_RESPONSES, K_EMBED, K_AUDIO, K_SPEECH };

struct freq {
	struct hreq *req;    /* NULL once answered or once its client left */
	struct event *timer;
	int key;
	int kind;            /* K_* */
	json_t *body;
	char id[64], xid[40];
	char *model;
	char tier[16];       /* the service tier answered (Groq's default: on_demand) */
	int64_t prompt_tokens, n_tokens, sent;
	bool stream, include_usage, length_cut, stream_started;
	int64_t cut_after, stall_after;
	struct mform form;   /* audio: the form (points into raw) */
	char *raw;
	size_t raw_len;
	char *fmt;           /* audio: response_format */
	bool translate;
	int status;          /* the answer's, once sent */
	bool accounted;      /* tokens counted (account_done) */
	int64_t t0_us, first_us; /* received; first byte of the answer sent */
};

static int64_t cached_of(int64_t p);

/* the answer's status and first byte: for the metrics */
static void answered(struct freq *fr, int status)
{
	if (!fr->status) {
		fr->status = status;
		fr->first_us = mono_us();
	}
}

static void freq_free(struct freq *fr)
{
	if (fr->key >= 0 && fr->model && fr->status) {
		int64_t now = mono_us();
		bool tok = fr->accounted;
		fgm_record(wall_ms(), G.key_project[fr->key], fr->model, fr->status, tok ? fr->prompt_tokens : 0,
			   tok ? fr->n_tokens : 0, tok ? cached_of(fr->prompt_tokens) : 0,
			   (double)(fr->first_us - fr->t0_us) / 1e6, (double)(now - fr->t0_us) / 1e6);
	}
	if (fr->req)
		httpd_on_close(fr->req, NULL, NULL);
	if (fr->timer)
		event_free(fr->timer);
	json_decref(fr->body);
	free(fr->model);
	mform_free(&fr->form);
	free(fr->raw);
	free(fr->fmt);
	free(fr);
	G.inflight--;
}

static void on_close(struct hreq *req, void *arg)
{
	(void)req;
	struct freq *fr = arg;
	if (fr->stream_started)
		G.stats[fr->key].streams_cut++;
	fr->req = NULL;
	freq_free(fr);
}

/* the request, for its last reply: fr lets go of it */
static struct hreq *final(struct freq *fr)
{
	struct hreq *req = fr->req;
	httpd_on_close(req, NULL, NULL);
	fr->req = NULL;
	return req;
}

static struct freq *freq_new(struct hreq *req, int key)
{
	struct freq *fr = xcalloc(1, sizeof *fr);
	fr->req = req;
	fr->key = key;
	httpd_on_close(req, on_close, fr);
	new_request_id(fr->xid, sizeof fr->xid);
	fr->t0_us = mono_us();
	G.inflight++;
	return fr;
}

static void send_error(struct freq *fr, int status, const char *msg, const char *type, const char *code);

/* A model fakegroq does not serve, answered as Groq does (400 for one it
 * decommissioned, 404 for one it never had); frees fr. */
static void model_refused(struct freq *fr, const char *mid)
{
	char *m = model_decommissioned(mid)
			  ? xasprintf("The model `%s` has been decommissioned and is no longer supported. Please refer "
				      "to https://console.groq.com/docs/deprecations for a recommendation on which "
				      "model to use instead.", mid)
			  : xasprintf("The model `%s` does not exist or you do not have access to it.", mid);
	if (!fr->model)
		fr->model = xstrdup(mid);
	if (model_decommissioned(mid))
		send_error(fr, 400, m, "invalid_request_error", "model_decommissioned");
	else
		send_error(fr, 404, m, "invalid_request_error", "model_not_found");
	free(m);
	freq_free(fr);
}

static void send_error(struct freq *fr, int status, const char *msg, const char *type, const char *code)
{
	if (fr->key >= 0)
		G.stats[fr->key].errors++;
	answered(fr, status);
	add_limit_headers(fr->req, fr->model);
	httpd_set_header(fr->req, "x-request-id", fr->xid);
	httpd_send_groq_error(final(fr), status, msg, type, code);
}

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
static int64_t prompt_tokens_of(json_t *messages)
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

static int64_t cached_of(int64_t p)
{
	return G.f.cached_tokens < p ? G.f.cached_tokens : p;
}

static json_t *usage_json(int64_t p, int64_t c)
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

static char *words_text(int64_t n)
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
static json_t *org_list(json_t *a)
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

static void answer_json(struct freq *fr, int status, json_t *j)
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
static bool apply_faults(struct freq *fr)
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

static void schedule(struct freq *fr)
{
	if (G.f.latency_ms > 0) {
		fr->timer = evtimer_new(G.base, delay_done, fr);
		struct timeval tv = { (time_t)(G.f.latency_ms / 1000), (suseconds_t)(G.f.latency_ms % 1000) * 1000 };
		evtimer_add(fr->timer, &tv);
	} else {
		answer(fr);
	}
}

static void handle_chat(struct freq *fr)
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
		if (f->status == 429) {
			httpd_set_header(fr->req, "retry-after", "12");
			char *m = xasprintf("Rate limit reached for model `%s` in organization `org_fake` service tier "
					    "`%s` on requests per minute (RPM): Limit 30, Used 30, Requested 1. "
					    "Please try again in 12s.", mid, fr->tier);
			send_error(fr, 429, m, "requests", "rate_limit_exceeded");
			free(m);
		} else if (f->status == 498) {
			send_error(fr, 498, "Flex tier capacity exceeded. This is a known issue and we are working on it. "
					    "Please try again later.", "capacity_exceeded", "capacity_exceeded");
		} else {
			send_error(fr, (int)f->status, f->status == 503 ? "Service Unavailable" : "Internal Server Error",
				   "internal_server_error", NULL);
		}
		freq_free(fr);
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

static void handle_responses(struct freq *fr)
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

static void handle_embed(struct freq *fr)
{
	if (!json_with_model(fr))
		return;
	fr->prompt_tokens = input_tokens_of(json_object_get(fr->body, "input"));
	lim_of(fr->model)->rpd_used++;
	schedule(fr);
}

static void handle_speech(struct freq *fr)
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

static void handle_audio(struct freq *fr, bool translate)
{
	struct mediatype mt;
	char why[160] = "";
	fr->translate = translate;
	fr->raw = httpd_take_body(fr->req, &fr->raw_len); /* (binary: httpd_body stops at a NUL) */
	int nm, nfile, nf;
	if (mediatype_parse(httpd_header(fr->req, "Content-Type"), &mt, why, sizeof why) != 0 ||
	    strcmp(mt.type, "multipart/form-data") != 0 ||
	    mform_parse(fr->raw, fr->raw_len, mt.boundary, &fr->form, why, sizeof why) != 0) {
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

/* ---- files and batches (the organisation's: any key sees them all, as
 * on Groq, where a project's files are shared by its keys) ---------------- */

#define MAX_FILES 1024
#define MAX_BATCHES 256

struct ffile {
	char id[48], filename[128], purpose[16];
	char *data;
	size_t len;
	int64_t created;
	bool deleted;
};
struct fbatch {
	char id[48], input[48], output[48], endpoint[64], status[16];
	int64_t created, total, completed, failed;
	struct event *timer;
};
static struct ffile files[MAX_FILES];
static int nfiles;
static struct fbatch batches[MAX_BATCHES];
static int nbatches;

static struct ffile *file_find(const char *id)
{
	for (int i = 0; i < nfiles; i++)
		if (!files[i].deleted && strcmp(files[i].id, id) == 0)
			return &files[i];
	return NULL;
}

static struct ffile *file_add(const char *filename, const char *purpose, char *data, size_t len)
{
	if (nfiles == MAX_FILES) {
		free(data);
		return NULL;
	}
	struct ffile *f = &files[nfiles++];
	memset(f, 0, sizeof *f);
	char rid[40];
	new_request_id(rid, sizeof rid);
	snprintf(f->id, sizeof f->id, "file_%s", rid + 4); /* (after "req_") */
	snprintf(f->filename, sizeof f->filename, "%s", filename);
	snprintf(f->purpose, sizeof f->purpose, "%s", purpose);
	f->data = data;
	f->len = len;
	f->created = wall_ms() / 1000;
	return f;
}

static json_t *file_json(const struct ffile *f)
{
	return json_pack("{s:s,s:s,s:I,s:I,s:s,s:s}", "id", f->id, "object", "file", "bytes", (json_int_t)f->len,
			 "created_at", (json_int_t)f->created, "filename", f->filename, "purpose", f->purpose);
}

static json_t *batch_json(const struct fbatch *b)
{
	return json_pack("{s:s,s:s,s:s,s:n,s:s,s:s,s:s,s:s?,s:n,s:I,s:{s:I,s:I,s:I},s:{}}", "id", b->id, "object", "batch",
			 "endpoint", b->endpoint, "errors", "input_file_id", b->input, "completion_window", "24h", "status",
			 b->status, "output_file_id", b->output[0] ? b->output : NULL, "error_file_id", "created_at",
			 (json_int_t)b->created, "request_counts", "total", (json_int_t)b->total, "completed",
			 (json_int_t)b->completed, "failed", (json_int_t)b->failed, "metadata");
}

/* a batch's end: each line answered as chat completions are (the same
 * deterministic token counts), the answers as its output file */
static void batch_run(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct fbatch *b = arg;
	if (strcmp(b->status, "cancelling") == 0) {
		snprintf(b->status, sizeof b->status, "cancelled");
		return;
	}
	if (G.f.batch_fail) {
		snprintf(b->status, sizeof b->status, "failed");
		return;
	}
	struct ffile *in = file_find(b->input);
	buf out;
	buf_init(&out);
	b->total = b->completed = b->failed = 0;
	char *text = in ? xstrndup(in->data, in->len) : xstrdup("");
	char *save = NULL;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		json_t *l = json_loads(line, 0, NULL);
		json_t *body = json_object_get(l, "body");
		const char *model = json_string_value(json_object_get(body, "model"));
		b->total++;
		char rid[40];
		new_request_id(rid, sizeof rid);
		json_t *resp;
		if (!model || !model_find(model)) {
			b->failed++;
			resp = json_pack("{s:i,s:s,s:o}", "status_code", 404, "request_id", rid, "body",
					 groq_error_json("The model does not exist or you do not have access to it.", NULL,
							 "model_not_found"));
		} else {
			int64_t p = prompt_tokens_of(json_object_get(body, "messages")), c = G.completion_tokens;
			json_t *cap = json_object_get(body, "max_completion_tokens");
			if (!json_is_integer(cap))
				cap = json_object_get(body, "max_tokens");
			if (json_is_integer(cap) && json_integer_value(cap) < c)
				c = json_integer_value(cap);
			char *content = words_text(c);
			resp = json_pack("{s:i,s:s,s:{s:s,s:s,s:I,s:s,s:[{s:i,s:{s:s,s:s},s:s}],s:o}}", "status_code", 200,
					 "request_id", rid, "body", "id", rid, "object", "chat.completion", "created",
					 (json_int_t)(wall_ms() / 1000), "model", model, "choices", "index", 0, "message", "role",
					 "assistant", "content", content, "finish_reason", "stop", "usage", usage_json(p, c));
			free(content);
			b->completed++;
			lim_of(model)->tpm_used += p + c;
			json_t *rb = json_object_get(resp, "body");
			if (G.f.batch_hostile == 1)
				json_object_del(rb, "usage");
			else if (G.f.batch_hostile == 2)
				json_object_set_new(json_object_get(rb, "usage"), "completion_tokens", json_real(1e30));
			else if (G.f.batch_hostile == 3)
				json_object_set_new(rb, "model", json_string("free-model-nobody-prices"));
		}
		json_t *o = json_pack("{s:s,s:O,s:o,s:n}", "id", rid, "custom_id", json_object_get(l, "custom_id"), "response",
				      resp, "error");
		char *s = json_dumps(o, JSON_COMPACT);
		buf_adds(&out, s);
		buf_adds(&out, "\n");
		free(s);
		json_decref(o);
		if (G.f.batch_hostile == 4 && b->total == 1) { /* a line no input asked for */
			buf_adds(&out, "{\"id\":\"x\",\"custom_id\":\"not-in-the-input\",\"response\":{\"status_code\":200,"
				       "\"body\":{\"model\":\"llama-3.3-70b-versatile\",\"usage\":{\"prompt_tokens\":100000,"
				       "\"completion_tokens\":100000}}},\"error\":null}\n");
		}
		json_decref(l);
	}
	free(text);
	size_t len = out.len;
	struct ffile *f = file_add("batch_output.jsonl", "batch_output", len ? buf_detach(&out) : xstrdup(""), len);
	buf_free(&out);
	if (f)
		snprintf(b->output, sizeof b->output, "%s", f->id);
	snprintf(b->status, sizeof b->status, "completed");
}

static void files_free(void)
{
	for (int i = 0; i < nfiles; i++)
		free(files[i].data);
	for (int i = 0; i < nbatches; i++)
		if (batches[i].timer)
			event_free(batches[i].timer);
}

static void handle_files(struct freq *fr, enum hmethod cmd, const char *rest)
{
	if (!*rest && cmd == HM_POST) {
		struct mediatype mt;
		char why[160] = "";
		fr->raw = httpd_take_body(fr->req, &fr->raw_len);
		int np, nf;
		if (mediatype_parse(httpd_header(fr->req, "Content-Type"), &mt, why, sizeof why) != 0 ||
		    strcmp(mt.type, "multipart/form-data") != 0 ||
		    mform_parse(fr->raw, fr->raw_len, mt.boundary, &fr->form, why, sizeof why) != 0) {
			send_error(fr, 400, "request Content-Type isn't multipart/form-data", "invalid_request_error", NULL);
			freq_free(fr);
			return;
		}
		const struct mpart *p = mform_get(&fr->form, "purpose", &np), *f = mform_get(&fr->form, "file", &nf);
		if (!p || !f || p->len != 5 || memcmp(p->data, "batch", 5) != 0) {
			send_error(fr, 400, !f ? "'file' : property 'file' is missing" : "'purpose' must be 'batch'",
				   "invalid_request_error", NULL);
			freq_free(fr);
			return;
		}
		char fname[128];
		snprintf(fname, sizeof fname, "%s", f->filename ? f->filename : "batch.jsonl");
		struct ffile *ff = file_add(fname, "batch", xstrndup(f->data, f->len), f->len);
		if (!ff) {
			send_error(fr, 400, "too many files", "invalid_request_error", NULL);
			freq_free(fr);
			return;
		}
		answer_json(fr, 200, file_json(ff));
		return;
	}
	if (!*rest && cmd == HM_GET) {
		json_t *a = json_array();
		for (int i = 0; i < nfiles; i++)
			if (!files[i].deleted)
				json_array_append_new(a, file_json(&files[i]));
		answer_json(fr, 200, org_list(a));
		return;
	}
	char id[64];
	snprintf(id, sizeof id, "%.*s", (int)strcspn(rest + 1, "/"), rest + 1);
	const char *sub = rest + 1 + strlen(id);
	struct ffile *f = *rest == '/' ? file_find(id) : NULL;
	if (!f) {
		send_error(fr, 404, "file not found", "invalid_request_error", "not_found");
		freq_free(fr);
		return;
	}
	if (!*sub && cmd == HM_GET) {
		answer_json(fr, 200, file_json(f));
	} else if (!*sub && cmd == HM_DELETE) {
		f->deleted = true;
		answer_json(fr, 200, json_pack("{s:s,s:s,s:b}", "id", f->id, "object", "file", "deleted", 1));
	} else if (strcmp(sub, "/content") == 0 && cmd == HM_GET) {
		answered(fr, 200);
		add_limit_headers(fr->req, fr->model);
		httpd_send(final(fr), 200, "application/octet-stream", f->data, f->len);
		freq_free(fr);
	} else {
		send_error(fr, 404, "Unknown request URL", "invalid_request_error", "unknown_url");
		freq_free(fr);
	}
}

static void handle_batches(struct freq *fr, enum hmethod cmd, const char *rest)
{
	if (!*rest && cmd == HM_POST) {
		size_t len;
		char *body = httpd_body(fr->req, &len);
		json_t *j = json_loadb(body, len, 0, NULL);
		free(body);
		const char *in = json_string_value(json_object_get(j, "input_file_id"));
		const char *ep = json_string_value(json_object_get(j, "endpoint"));
		struct ffile *f = in ? file_find(in) : NULL;
		if (!f || !ep || nbatches == MAX_BATCHES) {
			json_decref(j);
			send_error(fr, 400, !f ? "input file not found" : "'endpoint' is required", "invalid_request_error", NULL);
			freq_free(fr);
			return;
		}
		struct fbatch *b = &batches[nbatches++];
		memset(b, 0, sizeof *b);
		char rid[40];
		new_request_id(rid, sizeof rid);
		snprintf(b->id, sizeof b->id, "batch_%s", rid + 4);
		snprintf(b->input, sizeof b->input, "%s", f->id);
		snprintf(b->endpoint, sizeof b->endpoint, "%s", ep);
		snprintf(b->status, sizeof b->status, "validating");
		b->created = wall_ms() / 1000;
		for (size_t i = 0; i < f->len; i++)
			b->total += f->data[i] == '\n';
		json_decref(j);
		b->timer = evtimer_new(G.base, batch_run, b);
		struct timeval tv = { (time_t)(G.f.batch_ms / 1000), (suseconds_t)(G.f.batch_ms % 1000) * 1000 };
		evtimer_add(b->timer, &tv);
		answer_json(fr, 200, batch_json(b));
		return;
	}
	if (!*rest && cmd == HM_GET) {
		json_t *a = json_array();
		for (int i = 0; i < nbatches; i++)
			json_array_append_new(a, batch_json(&batches[i]));
		answer_json(fr, 200, org_list(a));
		return;
	}
	char id[64];
	snprintf(id, sizeof id, "%.*s", (int)strcspn(rest + 1, "/"), rest + 1);
	const char *sub = rest + 1 + strlen(id);
	struct fbatch *b = NULL;
	for (int i = 0; *rest == '/' && i < nbatches; i++)
		if (strcmp(batches[i].id, id) == 0)
			b = &batches[i];
	if (!b) {
		send_error(fr, 404, "batch not found", "invalid_request_error", "not_found");
		freq_free(fr);
		return;
	}
	if (!*sub && cmd == HM_GET) {
		answer_json(fr, 200, batch_json(b));
	} else if (strcmp(sub, "/cancel") == 0 && cmd == HM_POST) {
		if (strcmp(b->status, "validating") == 0 || strcmp(b->status, "in_progress") == 0)
			snprintf(b->status, sizeof b->status, "cancelling");
		answer_json(fr, 200, batch_json(b));
	} else {
		send_error(fr, 404, "Unknown request URL", "invalid_request_error", "unknown_url");
		freq_free(fr);
	}
}

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

static void handle_control(struct hreq *req, const char *path)
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
		/* {"model":ID,"status":429|498|5xx,"count":N[,"service_tier":T]}:
		 * the next N chat requests for the model (in that tier) fail so */
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
static void handle_metrics(struct freq *fr, const char *what)
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

static void handle(struct hreq *req, void *arg)
{
	(void)arg;
	const char *path = httpd_path(req);
	if (str_starts(path, "/_fake/")) {
		handle_control(req, path);
		return;
	}
	int key = key_lookup(req);
	struct freq *fr = freq_new(req, key);
	if (key < 0) {
		send_error(fr, 401, "Invalid API Key", "invalid_request_error", "invalid_api_key");
		freq_free(fr);
		return;
	}
	enum hmethod cmd = httpd_method(req);
	if (str_starts(path, "/v1/metrics/prometheus/api/v1/") && (cmd == HM_GET || cmd == HM_POST)) {
		handle_metrics(fr, path + strlen("/v1/metrics/prometheus/api/v1/")); /* not counted as traffic */
		return;
	}
	G.stats[key].requests++;
	if (strcmp(path, "/openai/v1/models") == 0 && cmd == HM_GET) {
		fr->kind = K_MODELS;
		if (G.f.hang)
			return;
		schedule(fr);
	} else if (strcmp(path, "/openai/v1/chat/completions") == 0 && cmd == HM_POST) {
		fr->kind = K_CHAT;
		if (!apply_faults(fr))
			handle_chat(fr);
	} else if (strcmp(path, "/openai/v1/responses") == 0 && cmd == HM_POST) {
		fr->kind = K_RESPONSES;
		if (!apply_faults(fr))
			handle_responses(fr);
	} else if (strcmp(path, "/openai/v1/embeddings") == 0 && cmd == HM_POST) {
		fr->kind = K_EMBED;
		if (!apply_faults(fr))
			handle_embed(fr);
	} else if ((strcmp(path, "/openai/v1/audio/transcriptions") == 0 ||
		    strcmp(path, "/openai/v1/audio/translations") == 0) && cmd == HM_POST) {
		fr->kind = K_AUDIO;
		if (!apply_faults(fr))
			handle_audio(fr, strstr(path, "translations") != NULL);
	} else if (str_starts(path, "/openai/v1/files") && (path[16] == '\0' || path[16] == '/')) {
		handle_files(fr, cmd, path + 16);
	} else if (str_starts(path, "/openai/v1/batches") && (path[18] == '\0' || path[18] == '/')) {
		handle_batches(fr, cmd, path + 18);
	} else if (strcmp(path, "/openai/v1/audio/speech") == 0 && cmd == HM_POST) {
		fr->kind = K_SPEECH;
		if (!apply_faults(fr))
			handle_speech(fr);
	} else {
		char *m = xasprintf("Unknown request URL: %s %s. Please check the URL for typos, or see the docs at https://console.groq.com/docs/",
				    httpd_method_name(req), path);
		send_error(fr, 404, m, "invalid_request_error", "unknown_url");
		free(m);
		freq_free(fr);
	}
}

/* ---- set-up ------------------------------------------------------ */

static void on_hup(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	char *cause = NULL;
	if (keys_load(G.keys_path, &cause) != 0) {
		fprintf(stderr, "fakegroq: reload failed, keeping old keys: %s\n", cause);
		free(cause);
	} else if (!G.quiet) {
		fprintf(stderr, "fakegroq: reloaded %d keys\n", G.nkeys);
	}
}

static void on_term(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	event_base_loopexit(G.base, NULL);
}

static int load_config(const char *path, char **cause)
{
	conf *c = conf_load(path, cause);
	if (!c)
		return -1;
	conf_node *root = conf_root(c);
	int rc = 0;
	if (conf_int(c, root, "completion_tokens", &G.completion_tokens, cause) < 0 ||
	    conf_int(c, root, "chunk_delay_ms", &G.f_default.chunk_delay_ms, cause) < 0 ||
	    conf_int(c, root, "latency_ms", &G.f_default.latency_ms, cause) < 0 ||
	    conf_int(c, root, "requests_per_day", &G.rpd_limit, cause) < 0 ||
	    conf_int(c, root, "tokens_per_minute", &G.tpm_limit, cause) < 0) {
		rc = -1;
		goto out;
	}
	conf_node *models = conf_child(root, "models");
	if (models) {
		G.nmodels = 0;
		for (int i = 0; i < conf_len(models) && G.nmodels < MAX_MODELS; i++) {
			conf_node *m = conf_elem(models, i);
			const char *id = conf_elem_str(m), *owner = "Groq";
			int64_t ctx = 131072;
			if (!id) {
				if (conf_str(c, m, "id", &id, cause) != 1 ||
				    conf_str(c, m, "owned_by", &owner, cause) < 0 ||
				    conf_int(c, m, "context_window", &ctx, cause) < 0) {
					if (!*cause)
						conf_fail(c, m, "id", cause, "each model needs an id");
					rc = -1;
					goto out;
				}
			}
			G.models[G.nmodels++] = (struct model){ xstrdup(id), xstrdup(owner), 1733447754, ctx };
		}
	}
out:
	conf_free(c);
	return rc;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: fakegroq --listen HOST:PORT --keys FILE [--config FILE]\n"
		"                [--chunk-delay-ms N] [--latency-ms N] [--completion-tokens N]\n"
		"                [--rpd N] [--tpm N] [--model-limit MODEL=RPD:TPM]... [--seed N] [--quiet]\n"
		"                [--metrics] [--metrics-window-s N]\n"
		"A stand-in for Groq's API on loopback. Port 0 picks a free port; the\n"
		"bound address is printed as stdout's first line. SIGHUP re-reads --keys\n"
		"(one key per line, optionally followed by its Groq project id).\n"
		"--metrics serves Enterprise metrics (/v1/metrics/prometheus/api/v1/...)\n"
		"over a window of N seconds (300, as Groq's rate5m rules); without it\n"
		"they answer 404 as for an organisation that is not Enterprise.\n"
		"Control: GET|POST|DELETE /_fake/faults, GET|DELETE /_fake/stats,\n"
		"POST /_fake/decommission {\"model\":ID}.\n");
}

int main(int argc, char **argv)
{
	const char *listen = NULL, *config = NULL;
	G.completion_tokens = 20;
	G.rpd_limit = 14400;
	G.tpm_limit = 18000;
	G.f_default = (struct faults){ .error_status = 500, .cut_after = -1, .stall_after = -1, .chunk_delay_ms = 20,
				       .batch_ms = 300, .retry_after_s = 12 };
	G.rng = 0x2545F4914F6CDD1Dull;
	for (size_t i = 0; i < ARRAY_LEN(default_models); i++)
		G.models[G.nmodels++] = (struct model){ xstrdup(default_models[i][0]), xstrdup(default_models[i][1]),
							1733447754, atoll(default_models[i][2]) };
	static const struct option opts[] = {
		{ "listen", required_argument, 0, 'l' }, { "keys", required_argument, 0, 'k' },
		{ "config", required_argument, 0, 'c' }, { "chunk-delay-ms", required_argument, 0, 'd' },
		{ "latency-ms", required_argument, 0, 'L' }, { "completion-tokens", required_argument, 0, 'n' },
		{ "rpd", required_argument, 0, 'r' }, { "tpm", required_argument, 0, 't' },
		{ "seed", required_argument, 0, 's' }, { "quiet", no_argument, 0, 'q' },
		{ "metrics", no_argument, 0, 'M' }, { "metrics-window-s", required_argument, 0, 'W' },
		{ "model-limit", required_argument, 0, 'm' }, { "help", no_argument, 0, 'h' }, { "version", no_argument, 0, 'V' }, { 0, 0, 0, 0 }
	};
	int64_t cli[8];
	bool set[8] = { 0 };
	int o;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		int slot = -1;
		switch (o) {
		case 'l': listen = optarg; break;
		case 'k': G.keys_path = optarg; break;
		case 'c': config = optarg; break;
		case 'd': slot = 0; break;
		case 'L': slot = 1; break;
		case 'n': slot = 2; break;
		case 'r': slot = 3; break;
		case 't': slot = 4; break;
		case 's': slot = 5; break;
		case 'q': G.quiet = true; break;
		case 'M': G.metrics_on = true; break;
		case 'm': {
			/* a model's own limits (RPD, TPM), as Groq's limits page lists them */
			char *eq = strrchr(optarg, '=');
			long long rpd, tpm;
			char tail;
			if (!eq || eq == optarg || sscanf(eq + 1, "%lld:%lld%c", &rpd, &tpm, &tail) != 2 || rpd < 0 ||
			    tpm < 0) {
				fprintf(stderr, "fakegroq: --model-limit needs MODEL=RPD:TPM, got '%s'\n", optarg);
				return 2;
			}
			*eq = '\0';
			struct orglim *l = lim_of(optarg);
			*eq = '=';
			l->rpd_limit = rpd;
			l->tpm_limit = tpm;
			l->rpd_used = -1; /* set: not the defaults' */
			break;
		}
		case 'W': slot = 6; break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("fakegroq %s\n", GG_VERSION); return 0;
		default: usage(stderr); return 2;
		}
		if (slot >= 0) {
			if (!parse_i64(optarg, &cli[slot]) || cli[slot] < 0) {
				fprintf(stderr, "fakegroq: %s needs a non-negative integer, got '%s'\n", argv[optind - 1], optarg);
				return 2;
			}
			set[slot] = true;
		}
	}
	if (!listen || !G.keys_path) {
		usage(stderr);
		return 2;
	}
	char *cause = NULL;
	if (config && load_config(config, &cause) != 0) {
		return report("fakegroq", NULL, cause, 1);
	}
	if (set[0]) G.f_default.chunk_delay_ms = cli[0];
	if (set[1]) G.f_default.latency_ms = cli[1];
	if (set[2]) G.completion_tokens = cli[2];
	if (set[3]) G.rpd_limit = cli[3];
	if (set[4]) G.tpm_limit = cli[4];
	for (int i = 0; i < G.nlims; i++) /* models without --model-limit take the defaults */
		if (G.lims[i].rpd_used == -1)
			G.lims[i].rpd_used = 0;
		else
			G.lims[i].rpd_limit = G.rpd_limit, G.lims[i].tpm_limit = G.tpm_limit;
	if (set[5]) G.rng = (uint64_t)cli[5] | 1;
	fgm_init(set[6] && cli[6] > 0 ? cli[6] * 1000 : 300000);
	G.f = G.f_default;
	if (keys_load(G.keys_path, &cause) != 0) {
		return report("fakegroq", NULL, cause, 1);
	}
	signal(SIGPIPE, SIG_IGN);
	G.base = event_base_new();
	G.http = httpd_new(G.base, handle, NULL);
	httpd_set_error_body(G.http, groq_error_body);
	httpd_set_limits(G.http, 64u << 20, 64u << 10, 60, NULL, NULL);
	char addr[128];
	if (httpd_bind(G.http, listen, addr, sizeof addr, &cause) != 0) {
		return report("fakegroq", NULL, cause, 1);
	}
	printf("%s\n", addr);
	fflush(stdout);
	if (!G.quiet)
		fprintf(stderr, "fakegroq: listening on %s with %d keys, %d models\n", addr, G.nkeys, G.nmodels);
	struct event *hup = evsignal_new(G.base, SIGHUP, on_hup, NULL);
	struct event *term = evsignal_new(G.base, SIGTERM, on_term, NULL);
	struct event *intr = evsignal_new(G.base, SIGINT, on_term, NULL);
	evsignal_add(hup, NULL);
	evsignal_add(term, NULL);
	evsignal_add(intr, NULL);
	event_base_dispatch(G.base);
	event_free(hup);
	event_free(term);
	event_free(intr);
	files_free(); /* (its timers: before their base) */
	httpd_free(G.http);
	event_base_free(G.base);
	fgm_free();
	for (int i = 0; i < G.ndecom; i++)
		free(G.decommissioned[i]);
	for (int i = 0; i < G.nkeys; i++)
		secret_free(G.keys[i]);
	for (int i = 0; i < G.nmodels; i++) {
		free(G.models[i].id);
		free(G.models[i].owned_by);
	}
	return 0;
}
