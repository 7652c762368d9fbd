/* config.c — reads groqgated's libconfig file into struct gw_config.
 * Everything but the five settings of PRODUCT.md has a default; unknown
 * settings are refused so that a typo never silently does nothing. */
#include "gateway.h"

#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "util.h"

static const char *const known_top[] = { "listen", "admin_listen", "upstream", "store", "admin",
					 "prices", "rotation", "org", "alerts", "tls", "log", "limits",
					 "billing", "cors", "process", "groq_metrics" };

static int check_known(conf *c, conf_node *n, const char *const *names, size_t nn, char **cause)
{
	for (int i = 0; i < conf_len(n); i++) {
		conf_node *e = conf_elem(n, i);
		bool ok = false;
		for (size_t k = 0; k < nn && !ok; k++)
			ok = strcmp(conf_name(e), names[k]) == 0;
		if (!ok)
			return conf_fail(c, n, conf_name(e), cause, "unknown setting (check the spelling; see docs/configuration.md)");
	}
	return 0;
}

static int get_str(conf *c, conf_node *n, const char *name, char **out, char **cause)
{
	const char *s = NULL;
	int r = conf_str(c, n, name, &s, cause);
	if (r == 1) {
		free(*out);
		*out = xstrdup(s);
	}
	return r;
}

static int get_pos(conf *c, conf_node *n, const char *name, int64_t *out, char **cause)
{
	int64_t v = *out;
	int r = conf_int(c, n, name, &v, cause);
	if (r == 1 && v < 0)
		return conf_fail(c, n, name, cause, "must not be negative");
	*out = v;
	return r;
}

static int thresholds(conf *c, conf_node *n, int *out, int *nout, char **cause)
{
	conf_node *a = conf_child(n, "alert_thresholds");
	if (!a)
		return 0;
	if (!conf_is_aggregate(a) || conf_len(a) > MAX_THRESHOLDS)
		return conf_fail(c, n, "alert_thresholds", cause, "must be a list of up to 8 percentages, e.g. [50, 80, 95]");
	*nout = 0;
	for (int i = 0; i < conf_len(a); i++) {
		double v;
		if (conf_elem_num(conf_elem(a, i), &v) != 0 || v <= 0 || v > 100)
			return conf_fail(c, n, "alert_thresholds", cause, "each threshold must be a number in 1..100");
		out[(*nout)++] = (int)v;
	}
	return 1;
}

int config_load(const char *path, struct gw_config *g, char **cause)
{
	memset(g, 0, sizeof *g);
	g->path = xstrdup(path);
	g->listen = xstrdup("127.0.0.1:8080");
	g->upstream_base = xstrdup("https://api.groq.com");
	g->upstream_timeout_ms = 120000;
	g->upstream_connect_timeout_ms = 5000;
	g->store_path = xstrdup("/var/lib/groqgate/groqgate.db");
	g->admin_tokens_file = xstrdup("/etc/groqgate/admin-tokens");
	g->drain_seconds = 86400;
	g->org_thresholds[0] = 50;
	g->org_thresholds[1] = 80;
	g->org_thresholds[2] = 95;
	g->n_org_thresholds = 3;
	g->max_body_bytes = 4 << 20;
	g->storm_429 = 10;
	g->max_header_bytes = 16384;
	g->client_timeout_s = 300;
	g->default_queue_wait_ms = 30000;
	g->shutdown_grace_ms = 10000;
	g->journal_max_bytes = 64 << 20;
	g->upstream_idle_timeout_ms = 60000;
	g->hook_timeout_s = 60;
	g->audio_max_body_bytes = 26 << 20;
	g->max_answer_bytes = 32 << 20;
	g->queue_max_len = 1000;
	g->batch_discount = 0.5;
	g->audio_min_seconds = 10;
	g->batch_poll_s = 60;
	g->gm_interval_s = 30;
	g->gm_timeout_ms = 10000;
	g->gm_window_s = 300;
	g->gm_drift_tolerance = 0.2;
	g->gm_drift_min_rpm = 1.0;
	g->gm_retry_unavailable_s = 3600;

	conf *c = conf_load(path, cause);
	if (!c) {
		config_free(g); /* the defaults set above (a fuzzing find) */
		return -1;
	}
	conf_node *root = conf_root(c), *n;
	int rc = -1;
	if (check_known(c, root, known_top, ARRAY_LEN(known_top), cause) < 0)
		goto out;
	if (get_str(c, root, "listen", &g->listen, cause) < 0 ||
	    get_str(c, root, "admin_listen", &g->admin_listen, cause) < 0)
		goto out;
	char host[256];
	int port;
	char *why = NULL;
	if (parse_hostport(g->listen, host, sizeof host, &port, &why) != 0) {
		conf_fail(c, root, "listen", cause, why);
		free(why);
		goto out;
	}
	if ((n = conf_child(root, "upstream"))) {
		static const char *const k[] = { "base_url", "timeout_ms", "connect_timeout_ms", "ca_file",
						 "idle_timeout_ms" };
		if (check_known(c, n, k, ARRAY_LEN(k), cause) < 0 ||
		    get_pos(c, n, "idle_timeout_ms", &g->upstream_idle_timeout_ms, cause) < 0 ||
		    get_str(c, n, "base_url", &g->upstream_base, cause) < 0 ||
		    get_str(c, n, "ca_file", &g->upstream_ca_file, cause) < 0 ||
		    get_pos(c, n, "timeout_ms", &g->upstream_timeout_ms, cause) < 0 ||
		    get_pos(c, n, "connect_timeout_ms", &g->upstream_connect_timeout_ms, cause) < 0)
			goto out;
		if (!str_starts(g->upstream_base, "http://") && !str_starts(g->upstream_base, "https://")) {
			conf_fail(c, n, "base_url", cause, "must start with http:// or https://");
			goto out;
		}
		size_t l = strlen(g->upstream_base);
		while (l && g->upstream_base[l - 1] == '/')
			g->upstream_base[--l] = '\0';
	}
	if ((n = conf_child(root, "store"))) {
		static const char *const k[] = { "path", "journal_max_bytes" };
		if (check_known(c, n, k, ARRAY_LEN(k), cause) < 0 || get_str(c, n, "path", &g->store_path, cause) < 0 ||
		    get_pos(c, n, "journal_max_bytes", &g->journal_max_bytes, cause) < 0)
			goto out;
	}
	if ((n = conf_child(root, "admin"))) {
		static const char *const k[] = { "tokens_file" };
		if (check_known(c, n, k, 1, cause) < 0 ||
		    get_str(c, n, "tokens_file", &g->admin_tokens_file, cause) < 0)
			goto out;
	}
	if ((n = conf_child(root, "prices"))) {
		static const char shape[] = "must be a list of { model; input_per_mtok; output_per_mtok; } "
					    "(or per_audio_hour, or per_mchar)";
		if (!conf_is_aggregate(n)) {
			conf_fail(c, root, "prices", cause, shape);
			goto out;
		}
		g->prices = xcalloc((size_t)conf_len(n) + 1, sizeof *g->prices);
		for (int i = 0; i < conf_len(n); i++) {
			conf_node *p = conf_elem(n, i);
			static const char *const k[] = { "model", "input_per_mtok", "output_per_mtok",
							 "cached_input_per_mtok", "per_audio_hour", "per_mchar" };
			const char *model = NULL;
			double in = -1, outp = -1, cached = -1, hour = -1, mchar = -1;
			if (!conf_is_group(p)) {
				conf_fail(c, p, NULL, cause, shape);
				goto out;
			}
			if (check_known(c, p, k, ARRAY_LEN(k), cause) < 0 || conf_str(c, p, "model", &model, cause) < 0 ||
			    conf_num(c, p, "input_per_mtok", &in, cause) < 0 ||
			    conf_num(c, p, "output_per_mtok", &outp, cause) < 0 ||
			    conf_num(c, p, "cached_input_per_mtok", &cached, cause) < 0 ||
			    conf_num(c, p, "per_audio_hour", &hour, cause) < 0 || conf_num(c, p, "per_mchar", &mchar, cause) < 0)
				goto out;
			if (!model || !*model) {
				conf_fail(c, p, "model", cause, "is required");
				goto out;
			}
			/* a price is tokens (input and output), or audio time, or characters */
			int kinds = (in >= 0 || outp >= 0) + (hour >= 0) + (mchar >= 0);
			if (kinds != 1) {
				conf_fail(c, p, "model", cause,
					  kinds ? "give token prices, per_audio_hour or per_mchar, not several"
						: "needs input_per_mtok and output_per_mtok (USD per million tokens), "
						  "per_audio_hour (speech to text) or per_mchar (text to speech)");
				goto out;
			}
			if ((in >= 0) != (outp >= 0)) {
				conf_fail(c, p, in < 0 ? "input_per_mtok" : "output_per_mtok", cause,
					  "is required and must be >= 0 (USD per million tokens)");
				goto out;
			}
			if (cached >= 0 && in < 0) {
				conf_fail(c, p, "cached_input_per_mtok", cause, "goes with token prices");
				goto out;
			}
			const double top = 1e6; /* USD per unit of price: far above any real one */
			if (in > top || outp > top || cached > top || hour > top || mchar > top) {
				conf_fail(c, p, "model", cause, "a price above 1,000,000 USD per unit is refused as a typo");
				goto out;
			}
			if (config_price(g, model)) {
				conf_fail(c, p, "model", cause, "this model is priced twice");
				goto out;
			}
			g->prices[g->nprices++] = (struct price){ .model = xstrdup(model),
								  .in_per_mtok = in,
								  .out_per_mtok = outp,
								  .cached_in_per_mtok = cached,
								  .per_audio_hour = hour,
								  .per_mchar = mchar };
		}
	}
	if ((n = conf_child(root, "billing"))) {
		static const char *const k[] = { "batch_discount", "audio_min_seconds", "batch_poll_s" };
		double d = g->batch_discount;
		if (check_known(c, n, k, ARRAY_LEN(k), cause) < 0 || conf_num(c, n, "batch_discount", &d, cause) < 0 ||
		    get_pos(c, n, "audio_min_seconds", &g->audio_min_seconds, cause) < 0 ||
		    get_pos(c, n, "batch_poll_s", &g->batch_poll_s, cause) < 0)
			goto out;
		if (d < 0 || d > 1) {
			conf_fail(c, n, "batch_discount", cause, "must be between 0 and 1 (0.5: half price)");
			goto out;
		}
		g->batch_discount = d;
	}
	if ((n = conf_child(root, "cors"))) {
		static const char *const k[] = { "origins" };
		conf_node *o;
		if (check_known(c, n, k, 1, cause) < 0)
			goto out;
		if ((o = conf_child(n, "origins"))) {
			if (!conf_is_aggregate(o)) {
				conf_fail(c, n, "origins", cause, "must be a list of origins, e.g. [ \"https://app.example.com\" ]");
				goto out;
			}
			g->cors_origins = xcalloc((size_t)conf_len(o) + 1, sizeof *g->cors_origins);
			for (int i = 0; i < conf_len(o); i++) {
				const char *v = conf_elem_str(conf_elem(o, i));
				if (!v || (!str_starts(v, "http://") && !str_starts(v, "https://") && strcmp(v, "*") != 0)) {
					conf_fail(c, o, NULL, cause, "each origin is \"http(s)://host[:port]\" or \"*\"");
					goto out;
				}
				g->cors_origins[g->ncors++] = xstrdup(v);
			}
		}
	}
	if ((n = conf_child(root, "groq_metrics"))) {
		static const char *const k[] = { "key_file", "interval_s", "url", "timeout_ms", "window_s",
						 "drift_tolerance", "drift_min_rpm", "retry_unavailable_s" };
		if (check_known(c, n, k, ARRAY_LEN(k), cause) < 0 ||
		    get_str(c, n, "key_file", &g->gm_key_file, cause) < 0 || get_str(c, n, "url", &g->gm_url, cause) < 0 ||
		    get_pos(c, n, "interval_s", &g->gm_interval_s, cause) < 0 ||
		    get_pos(c, n, "timeout_ms", &g->gm_timeout_ms, cause) < 0 ||
		    get_pos(c, n, "window_s", &g->gm_window_s, cause) < 0 ||
		    conf_num(c, n, "drift_tolerance", &g->gm_drift_tolerance, cause) < 0 ||
		    conf_num(c, n, "drift_min_rpm", &g->gm_drift_min_rpm, cause) < 0 ||
		    get_pos(c, n, "retry_unavailable_s", &g->gm_retry_unavailable_s, cause) < 0)
			goto out;
		if (!g->gm_key_file) {
			conf_fail(c, n, "key_file", cause, "is required: a file holding the gsk_ key to read Groq's metrics with");
			goto out;
		}
		if (g->gm_interval_s < 1 || g->gm_timeout_ms < 100 || g->gm_window_s < 10) {
			conf_fail(c, n, g->gm_interval_s < 1 ? "interval_s" : g->gm_timeout_ms < 100 ? "timeout_ms" : "window_s",
				  cause, "is too small (interval_s >= 1, timeout_ms >= 100, window_s >= 10)");
			goto out;
		}
		if (g->gm_drift_tolerance < 0 || g->gm_drift_min_rpm < 0) {
			conf_fail(c, n, g->gm_drift_tolerance < 0 ? "drift_tolerance" : "drift_min_rpm", cause,
				  "must not be negative");
			goto out;
		}
		if (g->gm_url) {
			if (!str_starts(g->gm_url, "http://") && !str_starts(g->gm_url, "https://")) {
				conf_fail(c, n, "url", cause, "must start with http:// or https://");
				goto out;
			}
			size_t l = strlen(g->gm_url);
			while (l && g->gm_url[l - 1] == '/')
				g->gm_url[--l] = '\0';
		}
	}
	if ((n = conf_child(root, "process"))) {
		static const char *const k[] = { "core_dumps" };
		if (check_known(c, n, k, 1, cause) < 0 || conf_bool(c, n, "core_dumps", &g->core_dumps, cause) < 0)
			goto out;
	}
	if ((n = conf_child(root, "rotation"))) {
		static const char *const k[] = { "drain_seconds", "secret_hook", "hook_timeout_s" };
		if (check_known(c, n, k, ARRAY_LEN(k), cause) < 0 ||
		    get_pos(c, n, "hook_timeout_s", &g->hook_timeout_s, cause) < 0 ||
		    get_pos(c, n, "drain_seconds", &g->drain_seconds, cause) < 0 ||
		    get_str(c, n, "secret_hook", &g->secret_hook, cause) < 0)
			goto out;
	}
	if ((n = conf_child(root, "org"))) {
		static const char *const k[] = { "monthly_budget_usd", "alert_thresholds" };
		double b = 0;
		if (check_known(c, n, k, ARRAY_LEN(k), cause) < 0 || conf_num(c, n, "monthly_budget_usd", &b, cause) < 0 ||
		    thresholds(c, n, g->org_thresholds, &g->n_org_thresholds, cause) < 0)
			goto out;
		if (b < 0) {
			conf_fail(c, n, "monthly_budget_usd", cause, "must not be negative");
			goto out;
		}
		g->org_budget_nusd = (int64_t)(b * NUSD_PER_USD + 0.5);
	}
	if ((n = conf_child(root, "alerts"))) {
		static const char *const k[] = { "webhook_url", "upstream_429_storm" };
		if (check_known(c, n, k, 2, cause) < 0 || get_str(c, n, "webhook_url", &g->webhook_url, cause) < 0 ||
		    get_pos(c, n, "upstream_429_storm", &g->storm_429, cause) < 0)
			goto out;
	}
	if ((n = conf_child(root, "tls"))) {
		static const char *const k[] = { "cert", "key" };
		if (check_known(c, n, k, 2, cause) < 0 || get_str(c, n, "cert", &g->tls_cert, cause) < 0 ||
		    get_str(c, n, "key", &g->tls_key, cause) < 0)
			goto out;
		if (!g->tls_cert != !g->tls_key) {
			conf_fail(c, n, g->tls_cert ? "key" : "cert", cause, "tls needs both cert and key");
			goto out;
		}
	}
	if ((n = conf_child(root, "log"))) {
		static const char *const k[] = { "path" };
		if (check_known(c, n, k, 1, cause) < 0 || get_str(c, n, "path", &g->log_path, cause) < 0)
			goto out;
	}
	if ((n = conf_child(root, "limits"))) {
		static const char *const k[] = { "max_body_bytes", "max_header_bytes", "client_timeout_s",
						 "queue_max_wait_ms", "shutdown_grace_ms", "audio_max_body_bytes",
						 "max_answer_bytes", "queue_max_len" };
		if (check_known(c, n, k, ARRAY_LEN(k), cause) < 0 ||
		    get_pos(c, n, "audio_max_body_bytes", &g->audio_max_body_bytes, cause) < 0 ||
		    get_pos(c, n, "max_answer_bytes", &g->max_answer_bytes, cause) < 0 ||
		    get_pos(c, n, "queue_max_len", &g->queue_max_len, cause) < 0 ||
		    get_pos(c, n, "max_body_bytes", &g->max_body_bytes, cause) < 0 ||
		    get_pos(c, n, "max_header_bytes", &g->max_header_bytes, cause) < 0 ||
		    get_pos(c, n, "client_timeout_s", &g->client_timeout_s, cause) < 0 ||
		    get_pos(c, n, "queue_max_wait_ms", &g->default_queue_wait_ms, cause) < 0 ||
		    get_pos(c, n, "shutdown_grace_ms", &g->shutdown_grace_ms, cause) < 0)
			goto out;
	}
	rc = 0;
out:
	conf_free(c);
	if (rc != 0)
		config_free(g);
	return rc;
}

void config_free(struct gw_config *g)
{
	free(g->path);
	free(g->listen);
	free(g->admin_listen);
	free(g->upstream_base);
	free(g->store_path);
	free(g->admin_tokens_file);
	for (int i = 0; i < g->nprices; i++)
		free(g->prices[i].model);
	free(g->prices);
	free(g->secret_hook);
	free(g->webhook_url);
	free(g->upstream_ca_file);
	free(g->tls_cert);
	free(g->tls_key);
	free(g->log_path);
	for (int i = 0; i < g->ncors; i++)
		free(g->cors_origins[i]);
	free(g->cors_origins);
	free(g->gm_key_file);
	free(g->gm_url);
	memset(g, 0, sizeof *g);
}

int config_line(const char *path, const char *setting)
{
	char *cause = NULL;
	conf *c = conf_load(path, &cause);
	free(cause);
	if (!c)
		return 0;
	conf_node *n = conf_child(conf_root(c), setting);
	int line = n ? conf_line(n) : 0;
	conf_free(c);
	return line;
}

const struct price *config_price(const struct gw_config *c, const char *model)
{
	for (int i = 0; i < c->nprices; i++)
		if (strcmp(c->prices[i].model, model) == 0)
			return &c->prices[i];
	return NULL;
}
