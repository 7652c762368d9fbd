/* fakegroq.c — a faithful stand-in for Groq's OpenAI-compatible API, for
 * tests, the demo and benchmarks. One libevent loop; streams are paced by
 * timers, never by threads. See docs/fakegroq.md for what is faithful and
 * what is simplified. */

#include "fake.h"

struct fake G;

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

const struct model *model_find(const char *id)
{
	for (int i = 0; i < G.ndecom; i++)
		if (strcmp(G.decommissioned[i], id) == 0)
			return NULL;
	for (int i = 0; i < G.nmodels; i++)
		if (strcmp(G.models[i].id, id) == 0)
			return &G.models[i];
	return NULL;
}

bool model_decommissioned(const char *id)
{
	for (int i = 0; i < G.ndecom; i++)
		if (strcmp(G.decommissioned[i], id) == 0)
			return true;
	return false;
}


struct orglim *lim_of(const char *model)
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

void limits_roll(struct orglim *l, int64_t now)
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
int64_t org_sum(bool tokens)
{
	int64_t n = 0, now = wall_ms();
	for (int i = 0; i < G.nlims; i++) {
		limits_roll(&G.lims[i], now);
		n += tokens ? G.lims[i].tpm_used : G.lims[i].rpd_used;
	}
	return n;
}

void add_limit_headers(struct hreq *req, const char *model)
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

void new_request_id(char *out, size_t n)
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

double rnd01(void)
{
	/* xorshift64*: deterministic for a given --seed */
	G.rng ^= G.rng >> 12;
	G.rng ^= G.rng << 25;
	G.rng ^= G.rng >> 27;
	return (double)((G.rng * 2685821657736338717ull) >> 11) / 9007199254740992.0;
}



/* the answer's status and first byte: for the metrics */
void answered(struct freq *fr, int status)
{
	if (!fr->status) {
		fr->status = status;
		fr->first_us = mono_us();
	}
}

void freq_free(struct freq *fr)
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
	free(fr->fault_model);
	json_decref(fr->body);
	free(fr->model);
	free(fr->sub);
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
struct hreq *final(struct freq *fr)
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


/* A model fakegroq does not serve, answered as Groq does (400 for one it
 * decommissioned, 404 for one it never had); frees fr. */
void model_refused(struct freq *fr, const char *mid)
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

void send_error(struct freq *fr, int status, const char *msg, const char *type, const char *code)
{
	if (fr->key >= 0)
		G.stats[fr->key].errors++;
	answered(fr, status);
	add_limit_headers(fr->req, fr->model);
	httpd_set_header(fr->req, "x-request-id", fr->xid);
	httpd_send_groq_error(final(fr), status, msg, type, code);
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
		if (G.f.latency_ms > 0) { /* answered (and done) after the latency */
			fr->kind = K_FILES;
			fr->cmd = (int)cmd;
			fr->sub = xstrdup(path + 16);
			schedule(fr);
		} else {
			handle_files(fr, cmd, path + 16);
		}
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
