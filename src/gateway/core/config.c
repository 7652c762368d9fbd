/* config.c — reads groqgated's libconfig file into struct gw_config, from
 * one table of settings (group, name, type, default, least value): the
 * defaults, the names each group may hold (any other is refused, so that a
 * typo never silently does nothing) and the generic reading come from it;
 * the few settings with rules of their own (prices, thresholds, origins,
 * URLs, pairs) are read after it. */
#include "core.h"
#include "origin.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "util.h"

#define OFF(f) offsetof(struct gw_config, f)

/* Every setting, once: where it is (group.name), its type, where it goes,
 * its default (as written in the file) and its least value. Loading, the
 * defaults and the list of names a group may hold all come from here, and
 * tests/integration/docs.sh checks that docs/configuration.md lists each
 * with this default. T_CODE settings are read by the code below the
 * generic pass (a list, or a value with its own rules). */
enum stype { T_STR, T_POS, T_NUM, T_BOOL, T_CODE };
static const struct setting {
	const char *group, *name; /* group NULL: top level */
	enum stype type;
	size_t off;
	const char *dflt;         /* NULL: none */
	int64_t min;              /* T_POS, T_NUM: the least value */
} settings[] = {
	{ NULL, "listen", T_STR, OFF(listen), "127.0.0.1:8080", 0 },
	{ NULL, "admin_listen", T_STR, OFF(admin_listen), NULL, 0 },
	{ "upstream", "base_url", T_STR, OFF(upstream_base), "https://api.groq.com", 0 },
	{ "upstream", "timeout_ms", T_POS, OFF(upstream_timeout_ms), "120000", 0 },
	{ "upstream", "connect_timeout_ms", T_POS, OFF(upstream_connect_timeout_ms), "5000", 0 },
	{ "upstream", "ca_file", T_STR, OFF(upstream_ca_file), NULL, 0 },
	{ "upstream", "idle_timeout_ms", T_POS, OFF(upstream_idle_timeout_ms), "60000", 0 },
	{ "store", "path", T_STR, OFF(store_path), "/var/lib/groqgate/groqgate.db", 0 },
	{ "store", "journal_max_bytes", T_POS, OFF(journal_max_bytes), "67108864", 0 },
	{ "store", "url", T_STR, OFF(store_url), NULL, 0 },
	{ "store", "journal", T_STR, OFF(store_journal), NULL, 0 },
	{ "counters", "redis", T_STR, OFF(counters_redis), NULL, 0 },
	{ "cluster", "replica_id", T_STR, OFF(replica_id), NULL, 0 },
	{ "cluster", "stale_after_s", T_POS, OFF(stale_after_s), "10", 1 },
	{ "cluster", "poll_ms", T_POS, OFF(cluster_poll_ms), "250", 20 },
	{ "admin", "tokens_file", T_STR, OFF(admin_tokens_file), "/etc/groqgate/admin-tokens", 0 },
	{ "prices", NULL, T_CODE, 0, NULL, 0 },
	{ "billing", "batch_discount", T_NUM, OFF(batch_discount), "0.5", 0 },
	{ "billing", "audio_min_seconds", T_POS, OFF(audio_min_seconds), "10", 0 },
	{ "billing", "batch_poll_s", T_POS, OFF(batch_poll_s), "60", 1 },
	{ "cors", "origins", T_CODE, 0, NULL, 0 },
	{ "process", "core_dumps", T_BOOL, OFF(core_dumps), "false", 0 },
	{ "rotation", "drain_seconds", T_POS, OFF(drain_seconds), "86400", 0 },
	{ "rotation", "secret_hook", T_STR, OFF(secret_hook), NULL, 0 },
	{ "rotation", "hook_timeout_s", T_POS, OFF(hook_timeout_s), "60", 0 },
	{ "org", "monthly_budget_usd", T_CODE, 0, NULL, 0 },
	{ "org", "alert_thresholds", T_CODE, 0, "[50, 80, 95]", 0 },
	{ "alerts", "webhook_url", T_STR, OFF(webhook_url), NULL, 0 },
	{ "alerts", "upstream_429_storm", T_POS, OFF(storm_429), "10", 0 },
	{ "tls", "cert", T_STR, OFF(tls_cert), NULL, 0 },
	{ "tls", "key", T_STR, OFF(tls_key), NULL, 0 },
	{ "log", "path", T_STR, OFF(log_path), NULL, 0 },
	{ "limits", "max_body_bytes", T_POS, OFF(max_body_bytes), "4194304", 0 },
	{ "limits", "max_header_bytes", T_POS, OFF(max_header_bytes), "16384", 0 },
	{ "limits", "client_timeout_s", T_POS, OFF(client_timeout_s), "300", 0 },
	{ "limits", "queue_max_wait_ms", T_POS, OFF(default_queue_wait_ms), "30000", 0 },
	{ "limits", "shutdown_grace_ms", T_POS, OFF(shutdown_grace_ms), "10000", 0 },
	{ "limits", "audio_max_body_bytes", T_POS, OFF(audio_max_body_bytes), "27262976", 0 },
	{ "limits", "max_answer_bytes", T_POS, OFF(max_answer_bytes), "33554432", 0 },
	{ "limits", "queue_max_len", T_POS, OFF(queue_max_len), "1000", 0 },
	{ "limits", "max_connections", T_POS, OFF(max_connections), "10000", 1 },
	{ "limits", "header_timeout_s", T_POS, OFF(header_timeout_s), "10", 1 },
	{ "limits", "max_files_per_team", T_POS, OFF(max_files_per_team), "1000", 1 },
	{ "limits", "max_end_users", T_POS, OFF(max_end_users), "100000", 1 },
	{ "groq_metrics", "key_file", T_STR, OFF(gm_key_file), NULL, 0 },
	{ "groq_metrics", "interval_s", T_POS, OFF(gm_interval_s), "30", 1 },
	{ "groq_metrics", "url", T_STR, OFF(gm_url), NULL, 0 },
	{ "groq_metrics", "timeout_ms", T_POS, OFF(gm_timeout_ms), "10000", 100 },
	{ "groq_metrics", "window_s", T_POS, OFF(gm_window_s), "300", 10 },
	{ "groq_metrics", "drift_tolerance", T_NUM, OFF(gm_drift_tolerance), "0.2", 0 },
	{ "groq_metrics", "drift_min_rpm", T_NUM, OFF(gm_drift_min_rpm), "1.0", 0 },
	{ "groq_metrics", "retry_unavailable_s", T_POS, OFF(gm_retry_unavailable_s), "3600", 0 },
	{ "groq_limits", NULL, T_CODE, 0, NULL, 0 },
	{ "model_aliases", NULL, T_CODE, 0, NULL, 0 },
	{ "deprecations", NULL, T_CODE, 0, NULL, 0 },
	{ "capacity", "critical_reserve_pct", T_POS, OFF(cap_reserve_pct), "20", 0 },
	{ "capacity", "batch_max_pct", T_POS, OFF(cap_batch_pct), "50", 0 },
};

/* the names n may hold: the table's for its group (top level: the groups
 * and the top-level names) */
static int check_known(conf *c, conf_node *n, const char *group, char **cause)
{
	for (int i = 0; i < conf_len(n); i++) {
		const char *name = conf_name(conf_elem(n, i));
		bool ok = false;
		for (size_t k = 0; k < ARRAY_LEN(settings) && !ok; k++)
			ok = group ? settings[k].group && strcmp(settings[k].group, group) == 0 && settings[k].name &&
					     strcmp(settings[k].name, name) == 0
				   : strcmp(settings[k].group ? settings[k].group : settings[k].name, name) == 0;
		if (!ok)
			return conf_fail(c, n, name, cause, "unknown setting (check the spelling; see docs/configuration.md)");
	}
	return 0;
}

/* the names of a price entry */
static int known_names(conf *c, conf_node *n, const char *const *names, size_t nn, char **cause)
{
	for (int i = 0; i < conf_len(n); i++) {
		bool ok = false;
		for (size_t k = 0; k < nn && !ok; k++)
			ok = strcmp(conf_name(conf_elem(n, i)), names[k]) == 0;
		if (!ok)
			return conf_fail(c, n, conf_name(conf_elem(n, i)), cause,
					 "unknown setting (check the spelling; see docs/configuration.md)");
	}
	return 0;
}

/* groq_limits: Groq's limits of the organisation per model; each model
 * priced (the gateway only sends what it can meter), each limit a whole
 * number >= 0 (0: none) */
static int groq_limits(conf *c, struct gw_config *g, conf_node *n, char **cause)
{
	static const char shape[] = "must be a list of { model; rpm; rpd; tpm; tpd; ash; asd; } (0: no limit)";
	if (!n)
		return 0;
	if (!conf_is_aggregate(n))
		return conf_fail(c, n, NULL, cause, shape);
	g->groq_limits = xcalloc((size_t)conf_len(n) + 1, sizeof *g->groq_limits);
	for (int i = 0; i < conf_len(n); i++) {
		conf_node *p = conf_elem(n, i);
		static const char *const k[] = { "model", "rpm", "rpd", "tpm", "tpd", "ash", "asd" };
		const char *model = NULL;
		if (!conf_is_group(p))
			return conf_fail(c, p, NULL, cause, shape);
		if (known_names(c, p, k, ARRAY_LEN(k), cause) < 0 || conf_str(c, p, "model", &model, cause) < 0)
			return -1;
		if (!model || !*model)
			return conf_fail(c, p, "model", cause, "is required");
		if (!config_price(g, model))
			return conf_fail(c, p, "model", cause,
					 "has no price in prices: the gateway sends Groq only models it can meter");
		for (int j = 0; j < g->ngroq_limits; j++)
			if (str_eq(g->groq_limits[j].model, model))
				return conf_fail(c, p, "model", cause, "has limits twice");
		struct groq_limit *gl = &g->groq_limits[g->ngroq_limits];
		for (int l = 0; l < 6; l++) {
			int64_t v = 0;
			if (conf_int(c, p, k[l + 1], &v, cause) < 0)
				return -1;
			if (v < 0 || v > 1000000000000LL)
				return conf_fail(c, p, k[l + 1], cause, "must be a whole number from 0 (no limit) to 1e12");
			gl->limit[l] = v;
		}
		gl->model = xstrdup(model);
		g->ngroq_limits++;
	}
	return 0;
}

/* model_aliases: { alias; model; } — a role naming a priced model, never
 * another alias (nor itself), nor a model's own name */
static int model_aliases(conf *c, struct gw_config *g, conf_node *n, char **cause)
{
	static const char shape[] = "must be a list of { alias; model; }";
	if (!n)
		return 0;
	if (!conf_is_aggregate(n))
		return conf_fail(c, n, NULL, cause, shape);
	g->aliases = xcalloc((size_t)conf_len(n) + 1, sizeof *g->aliases);
	for (int i = 0; i < conf_len(n); i++) {
		conf_node *p = conf_elem(n, i);
		static const char *const k[] = { "alias", "model" };
		const char *alias = NULL, *model = NULL;
		if (!conf_is_group(p))
			return conf_fail(c, p, NULL, cause, shape);
		if (known_names(c, p, k, ARRAY_LEN(k), cause) < 0 || conf_str(c, p, "alias", &alias, cause) < 0 ||
		    conf_str(c, p, "model", &model, cause) < 0)
			return -1;
		if (!alias || !*alias)
			return conf_fail(c, p, "alias", cause, "is required");
		if (!model || !*model)
			return conf_fail(c, p, "model", cause, "is required");
		if (str_eq(alias, model))
			return conf_fail(c, p, "model", cause, "names the alias itself");
		if (config_alias(g, alias))
			return conf_fail(c, p, "alias", cause, "is given twice");
		if (config_price(g, alias))
			return conf_fail(c, p, "alias", cause, "is a model's own name (it has a price)");
		for (int j = 0; j < conf_len(n); j++) { /* an alias naming another alias, wherever it is */
			const char *other = NULL;
			if (conf_is_group(conf_elem(n, j)) && conf_str(c, conf_elem(n, j), "alias", &other, cause) > 0 &&
			    other && str_eq(other, model))
				return conf_fail(c, p, "model", cause, "names another alias: name the model itself");
		}
		if (!config_price(g, model))
			return conf_fail(c, p, "model", cause,
					 "has no price in prices: an alias names a model the gateway can meter");
		g->aliases[g->naliases++] = (struct model_alias){ .alias = xstrdup(alias), .model = xstrdup(model) };
	}
	return 0;
}

/* deprecations: { model; shutdown = "YYYY-MM-DD"; replacement; } — Groq's
 * calendar; a replacement is priced and the chain of replacements ends */
static int deprecations(conf *c, struct gw_config *g, conf_node *n, char **cause)
{
	static const char shape[] = "must be a list of { model; shutdown = \"YYYY-MM-DD\"; replacement; }";
	if (!n)
		return 0;
	if (!conf_is_aggregate(n))
		return conf_fail(c, n, NULL, cause, shape);
	g->deprecations = xcalloc((size_t)conf_len(n) + 1, sizeof *g->deprecations);
	for (int i = 0; i < conf_len(n); i++) {
		conf_node *p = conf_elem(n, i);
		static const char *const k[] = { "model", "shutdown", "replacement" };
		const char *model = NULL, *date = NULL, *repl = NULL;
		if (!conf_is_group(p))
			return conf_fail(c, p, NULL, cause, shape);
		if (known_names(c, p, k, ARRAY_LEN(k), cause) < 0 || conf_str(c, p, "model", &model, cause) < 0 ||
		    conf_str(c, p, "shutdown", &date, cause) < 0 || conf_str(c, p, "replacement", &repl, cause) < 0)
			return -1;
		if (!model || !*model)
			return conf_fail(c, p, "model", cause, "is required");
		int64_t at = utc_date_ms(date);
		if (at < 0)
			return conf_fail(c, p, "shutdown", cause, "must be a date \"YYYY-MM-DD\" (UTC)");
		if (!repl || !*repl)
			return conf_fail(c, p, "replacement", cause, "is required (the model to use instead)");
		if (str_eq(repl, model))
			return conf_fail(c, p, "replacement", cause, "is the retiring model itself");
		if (!config_price(g, repl))
			return conf_fail(c, p, "replacement", cause, "has no price in prices");
		if (config_deprecation(g, model))
			return conf_fail(c, p, "model", cause, "is in the calendar twice");
		struct deprecation *d = &g->deprecations[g->ndeprecations++];
		*d = (struct deprecation){ .model = xstrdup(model), .replacement = xstrdup(repl), .shutdown_ms = at };
		snprintf(d->date, sizeof d->date, "%s", date);
	}
	for (int i = 0; i < g->ndeprecations; i++) { /* replacements end somewhere */
		const char *m = g->deprecations[i].model;
		for (int hop = 0; m && hop <= g->ndeprecations; hop++) {
			const struct deprecation *d = config_deprecation(g, m);
			m = d ? d->replacement : NULL;
		}
		if (m)
			return conf_fail(c, conf_elem(n, i), "replacement", cause,
					 "the replacements go round in a cycle");
	}
	return 0;
}

static void set_default(struct gw_config *g, const struct setting *s)
{
	void *at = (char *)g + s->off;
	if (!s->dflt || s->type == T_CODE)
		return;
	switch (s->type) {
	case T_STR: *(char **)at = xstrdup(s->dflt); break;
	case T_POS: *(int64_t *)at = strtoll(s->dflt, NULL, 10); break;
	case T_NUM: *(double *)at = strtod(s->dflt, NULL); break;
	case T_BOOL: *(bool *)at = strcmp(s->dflt, "true") == 0; break;
	default: break;
	}
}

/* one setting read into g: 0, or -1 with *cause */
static int read_setting(conf *c, conf_node *n, const struct setting *s, struct gw_config *g, char **cause)
{
	void *at = (char *)g + s->off;
	const char *str = NULL;
	int r = 0;
	switch (s->type) {
	case T_STR:
		if ((r = conf_str(c, n, s->name, &str, cause)) == 1) {
			free(*(char **)at);
			*(char **)at = xstrdup(str);
		}
		break;
	case T_POS: {
		int64_t v = *(int64_t *)at;
		if ((r = conf_int(c, n, s->name, &v, cause)) == 1) {
			if (v < s->min) {
				char *m = s->min ? xasprintf("must be at least %lld", (long long)s->min) : xstrdup("must not be negative");
				conf_fail(c, n, s->name, cause, m);
				free(m);
				return -1;
			}
			*(int64_t *)at = v;
		}
		break;
	}
	case T_NUM: {
		double v = *(double *)at;
		if ((r = conf_num(c, n, s->name, &v, cause)) == 1) {
			if (v < (double)s->min)
				return conf_fail(c, n, s->name, cause, "must not be negative");
			*(double *)at = v;
		}
		break;
	}
	case T_BOOL: r = conf_bool(c, n, s->name, (bool *)at, cause); break;
	default: break;
	}
	return r < 0 ? -1 : 0;
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

/* an http(s) URL's origin, parsed once here rather than per request */
static int url_origin(conf *c, conf_node *n, const char *name, const char *url, struct origin **o, char **cause)
{
	const char *why = NULL;
	origin_unref(*o);
	if (!(*o = origin_parse(url, &why)))
		return conf_fail(c, n, name, cause, why);
	return 0;
}

/* a base URL: its trailing slashes dropped (paths are added to it) */
static int base_url(conf *c, conf_node *n, const char *name, char *url, struct origin **o, char **cause)
{
	size_t l = strlen(url);
	while (l && url[l - 1] == '/')
		url[--l] = '\0';
	return url_origin(c, n, name, url, o, cause);
}

int config_load(const char *path, struct gw_config *g, char **cause)
{
	memset(g, 0, sizeof *g);
	g->path = xstrdup(path);
	for (size_t i = 0; i < ARRAY_LEN(settings); i++)
		set_default(g, &settings[i]);
	g->org_thresholds[0] = 50;
	g->org_thresholds[1] = 80;
	g->org_thresholds[2] = 95;
	g->n_org_thresholds = 3;

	conf *c = conf_load(path, cause);
	if (!c) {
		config_free(g); /* the defaults set above (a fuzzing find) */
		return -1;
	}
	conf_node *root = conf_root(c), *n;
	int rc = -1;
	if (check_known(c, root, NULL, cause) < 0)
		goto out;
	/* the generic pass: every group's names known, every typed setting read */
	for (size_t i = 0; i < ARRAY_LEN(settings); i++) {
		const struct setting *st = &settings[i];
		n = st->group ? conf_child(root, st->group) : root;
		if (!n)
			continue;
		bool first = i == 0 || !settings[i - 1].group || !st->group || strcmp(settings[i - 1].group, st->group) != 0;
		if (st->group && st->name && first && check_known(c, n, st->group, cause) < 0)
			goto out;
		if (st->type != T_CODE && read_setting(c, n, st, g, cause) < 0)
			goto out;
	}
	/* what the table cannot say */
	char host[256];
	int port;
	char *why = NULL;
	if (parse_hostport(g->listen, host, sizeof host, &port, &why) != 0) {
		conf_fail(c, root, "listen", cause, why);
		free(why);
		goto out;
	}
	n = conf_child(root, "upstream"); /* (none: the default's origin) */
	if (base_url(c, n ? n : root, "base_url", g->upstream_base, &g->up_origin, cause) < 0)
		goto out;
	if (g->webhook_url && url_origin(c, conf_child(root, "alerts"), "webhook_url", g->webhook_url,
					 &g->hook_origin, cause) < 0)
		goto out;
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
			if (known_names(c, p, k, ARRAY_LEN(k), cause) < 0 || conf_str(c, p, "model", &model, cause) < 0 ||
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
	if (groq_limits(c, g, conf_child(root, "groq_limits"), cause) < 0 ||
	    model_aliases(c, g, conf_child(root, "model_aliases"), cause) < 0 ||
	    deprecations(c, g, conf_child(root, "deprecations"), cause) < 0)
		goto out;
	if (g->cap_reserve_pct > 100 || g->cap_batch_pct > 100) {
		conf_fail(c, conf_child(root, "capacity"), g->cap_reserve_pct > 100 ? "critical_reserve_pct" : "batch_max_pct",
			  cause, "is a percentage: 0 to 100");
		goto out;
	}
	if (g->store_url && !str_starts(g->store_url, "postgresql://") && !str_starts(g->store_url, "postgres://")) {
		conf_fail(c, conf_child(root, "store"), "url", cause, "must be a PostgreSQL URL (postgresql://USER@HOST:PORT/DB)");
		goto out;
	}
	if (g->counters_redis && !str_starts(g->counters_redis, "redis://")) {
		conf_fail(c, conf_child(root, "counters"), "redis", cause, "must be a Redis URL (redis://HOST:PORT/DB)");
		goto out;
	}
	if (g->counters_redis && !g->store_url) {
		conf_fail(c, conf_child(root, "counters"), "redis", cause,
			  "is for cluster mode: set store.url (PostgreSQL) too");
		goto out;
	}
	if (g->store_url) {
		if (!g->store_journal)
			g->store_journal = xstrdup("/var/lib/groqgate/ledger-journal");
		if (!g->replica_id) {
			char h[128] = "groqgated";
			gethostname(h, sizeof h - 1);
			g->replica_id = xstrdup(h);
		}
	}
	if ((n = conf_child(root, "billing")) && g->batch_discount > 1) {
		conf_fail(c, n, "batch_discount", cause, "must be between 0 and 1 (0.5: half price)");
		goto out;
	}
	if ((n = conf_child(root, "cors"))) {
		conf_node *o;
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
		if (!g->gm_key_file) {
			conf_fail(c, n, "key_file", cause, "is required: a file holding the gsk_ key to read Groq's metrics with");
			goto out;
		}
		if (g->gm_url && base_url(c, n, "url", g->gm_url, &g->gm_origin, cause) < 0)
			goto out;
	}
	if (!g->gm_origin)
		g->gm_origin = origin_ref(g->up_origin);
	if ((n = conf_child(root, "org"))) {
		double b = 0;
		if (conf_num(c, n, "monthly_budget_usd", &b, cause) < 0 ||
		    thresholds(c, n, g->org_thresholds, &g->n_org_thresholds, cause) < 0)
			goto out;
		if (b < 0) {
			conf_fail(c, n, "monthly_budget_usd", cause, "must not be negative");
			goto out;
		}
		g->org_budget_nusd = (int64_t)(b * NUSD_PER_USD + 0.5);
	}
	if ((n = conf_child(root, "tls")) && !g->tls_cert != !g->tls_key) {
		conf_fail(c, n, g->tls_cert ? "key" : "cert", cause, "tls needs both cert and key");
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
	origin_unref(g->up_origin);
	origin_unref(g->hook_origin);
	origin_unref(g->gm_origin);
	free(g->store_path);
	free(g->store_url);
	free(g->store_journal);
	free(g->counters_redis);
	free(g->replica_id);
	free(g->admin_tokens_file);
	for (int i = 0; i < g->nprices; i++)
		free(g->prices[i].model);
	free(g->prices);
	for (int i = 0; i < g->naliases; i++) {
		free(g->aliases[i].alias);
		free(g->aliases[i].model);
	}
	free(g->aliases);
	for (int i = 0; i < g->ndeprecations; i++) {
		free(g->deprecations[i].model);
		free(g->deprecations[i].replacement);
	}
	free(g->deprecations);
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
	for (int i = 0; i < g->ngroq_limits; i++)
		free(g->groq_limits[i].model);
	free(g->groq_limits);
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

char *config_journal_path(const struct gw_config *c)
{
	return c->store_journal ? xstrdup(c->store_journal) : xasprintf("%s-ledger", c->store_path);
}

const struct price *config_price(const struct gw_config *c, const char *model)
{
	for (int i = 0; i < c->nprices; i++)
		if (strcmp(c->prices[i].model, model) == 0)
			return &c->prices[i];
	return NULL;
}

const char *config_alias(const struct gw_config *c, const char *name)
{
	for (int i = 0; name && i < c->naliases; i++)
		if (str_eq(c->aliases[i].alias, name))
			return c->aliases[i].model;
	return NULL;
}

const struct deprecation *config_deprecation(const struct gw_config *c, const char *model)
{
	for (int i = 0; model && i < c->ndeprecations; i++)
		if (str_eq(c->deprecations[i].model, model))
			return &c->deprecations[i];
	return NULL;
}
