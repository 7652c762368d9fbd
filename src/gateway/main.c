/* main.c — groqgated: options, start-up, the HTTP front door, signals.
 * One libevent loop carries clients, Groq (libcurl multi), timers and
 * signals: no thread per request. */
#include "gateway.h"
#include "httpd.h"

#include <errno.h>
#include <event2/event.h>
#include <curl/curl.h>
#include <getopt.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "groq.h"
#include "httpd.h"
#include "secret.h"
#include "util.h"


/* ---- the model list, refreshed from Groq --------------------------- */

struct mref {
	struct gateway *g;
	long status;
	buf body;
};

static void mr_head(void *a, const struct hstatus *h)
{
	((struct mref *)a)->status = h->status;
}

static void mr_data(void *a, const char *d, size_t n)
{
	struct mref *m = a;
	if (m->body.len < (1 << 20))
		buf_add(&m->body, d, n);
}

static void mr_done(void *a, int ok, const char *err)
{
	struct mref *m = a;
	if (ok && m->status == 200) {
		json_t *j = json_loadb(m->body.data, m->body.len, 0, NULL);
		if (json_is_array(json_object_get(j, "data"))) {
			models_list_update(m->g, j);
		} else {
			json_decref(j);
		}
	} else {
		gw_log(m->g, json_pack("{s:s,s:s,s:i,s:s}", "level", "warn", "msg", "model list refresh failed",
				       "status", (int)m->status, "error", err ? err : "http status"));
	}
	buf_free(&m->body);
	free(m);
}

static void retiring_soon(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct gateway *g = arg;
	char *cause = NULL;
	int n = models_tell_retiring(g, &cause);
	if (n < 0) /* (told on the next look, in 10 minutes) */
		gw_log(g, json_pack("{s:s,s:s,s:s}", "level", "error", "msg", "retirement notices not checked", "error",
				    cause ? cause : "?"));
	else if (g->cluster) /* (which replica spoke: one, the leader) */
		gw_log(g, json_pack("{s:s,s:s,s:i,s:b}", "level", "info", "msg", "retirement notices looked at", "told", n,
				    "leader", cluster_leader(g)));
	free(cause);
}

static void models_refresh(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct gateway *g = arg;
	if (!g->cluster || what) /* (every 10 minutes; a cluster's first look waits for the fleet, below) */
		retiring_soon(-1, 0, g);
	const char *secret = NULL;
	for (int i = 0; i < g->reg.nkeys && !secret; i++)
		if (!g->reg.keys[i]->rejected)
			secret = ukey_active_secret(g->reg.keys[i]);
	if (!secret)
		return;
	static const struct utx_cbs cbs = { mr_head, mr_data, mr_done };
	struct mref *m = xcalloc(1, sizeof *m);
	m->g = g;
	buf_init(&m->body);
	char *auth = xasprintf("Authorization: Bearer %s", secret);
	const char *hdrs[] = { auth, NULL };
	struct ureq r = { .method = "GET", .path = "/openai/v1/models", .headers = hdrs, .timeout_ms = 15000,
			  .connect_timeout_ms = g->cfg.upstream_connect_timeout_ms };
	upstream_start(g->up, g->cfg.up_origin, &r, &cbs, m);
	secret_free(auth);
}

/* ---- routing ------------------------------------------------------- */

/* the request's Origin when cors.origins allows it, else NULL */
static const char *cors_origin(struct gateway *g, struct hreq *req)
{
	const char *o = httpd_header(req, "Origin");
	if (!o)
		return NULL;
	for (int i = 0; i < g->cfg.ncors; i++)
		if (strcmp(g->cfg.cors_origins[i], "*") == 0 || strcmp(g->cfg.cors_origins[i], o) == 0)
			return o;
	return NULL;
}

/* A browser's preflight (OPTIONS with Access-Control-Request-Method) is
 * answered from cors.origins alone: it carries no token, and its answer
 * says nothing about any. Other requests from an allowed origin get
 * Access-Control-Allow-Origin on their answer. true: answered here. */
static bool cors(struct gateway *g, struct hreq *req)
{
	const char *origin = cors_origin(g, req);
	bool preflight = httpd_method(req) == HM_OPTIONS && httpd_header(req, "Access-Control-Request-Method");
	if (origin) {
		httpd_set_header(req, "Access-Control-Allow-Origin", origin);
		httpd_set_header(req, "Vary", "Origin");
	}
	if (!preflight)
		return false;
	if (!origin) {
		httpd_send_groq_error(req, 403,
				      "This origin may not call the gateway from a browser (cors.origins).",
				      "permission_error", "cors_origin_not_allowed");
		return true;
	}
	httpd_set_header(req, "Access-Control-Allow-Methods", "GET, POST, DELETE, OPTIONS");
	httpd_set_header(req, "Access-Control-Allow-Headers", "Authorization, Content-Type, X-Request-Id");
	httpd_set_header(req, "Access-Control-Max-Age", "600");
	httpd_send(req, 204, NULL, "", 0);
	return true;
}

static void handle(struct hreq *req, void *arg, bool admin_allowed, bool data_allowed)
{
	struct gateway *g = arg;
	const char *path = httpd_path(req);
	if (strcmp(path, "/healthz") == 0) {
		int64_t now = gw_now(g);
		struct ledger_state ls = ledger_state(g->ledger);
		bool down = ls.down, lagging = ls.lagging;
		/* lagging: the store takes no writes, but the journal keeps every
		 * row and requests are served (200) */
		bool stale = cluster_stale(g);
		const char *degraded = cluster_degraded(g);
		json_t *h = json_pack("{s:s,s:s,s:I,s:i,s:i,s:I}", "status",
				      g->draining ? "draining" : down ? "store_unavailable" : stale ? "config_stale"
				      : lagging || degraded ? "degraded" : "ok",
				      "version", GG_VERSION, "uptime_s", (json_int_t)((now - g->started_ms) / 1000),
				      "inflight", g->inflight, "schema", store_schema_version(g->store), "ledger_backlog",
				      (json_int_t)ls.backlog);
		if (down || lagging)
			json_object_set_new(h, "store_error", json_string(ls.cause));
		if (degraded)
			json_object_set_new(h, "cluster_error", json_string(degraded));
		httpd_send_json(req, g->draining || down || stale ? 503 : 200, h);
		return;
	}
	if (strcmp(path, "/metrics") == 0) {
		buf b;
		buf_init(&b);
		metrics_render(g->metrics, g, &b);
		groqwatch_metrics(g, &b);
		httpd_send(req, 200, "text/plain; version=0.0.4", b.data, b.len);
		buf_free(&b);
		return;
	}
	if (admin_allowed && (strcmp(path, "/admin/v1") == 0 || str_starts(path, "/admin/v1/"))) {
		admin_handle(g, req, path);
		return;
	}
	if (data_allowed && strcmp(path, "/groqgate/v1/quota") == 0) {
		if (!cors(g, req))
			quota_handle(g, req);
		return;
	}
	if (data_allowed && str_starts(path, "/openai/v1/")) {
		if (!cors(g, req))
			proxy_handle(g, req, path);
		return;
	}
	char *m = xasprintf("Unknown request URL: %s %s. The gateway serves /openai/v1/* (as Groq does), "
			    "/admin/v1/*, /healthz and /metrics.",
			    httpd_method_name(req), path);
	httpd_send_groq_error(req, 404, m, "invalid_request_error", "unknown_url");
	free(m);
}

static void handle_main(struct hreq *req, void *arg)
{
	struct gateway *g = arg;
	handle(req, arg, g->admin_http == NULL, true);
}

static void handle_admin(struct hreq *req, void *arg)
{
	handle(req, arg, true, false);
}

/* ---- TLS ------------------------------------------------------------ */

static int tls_setup(struct gateway *g, char **cause)
{
	const char *setting = NULL;
	char *why = NULL;
	if (!(g->ssl = tls_server_ctx(&g->cfg, &setting, &why))) {
		fail(cause, "%s %s", setting, why);
		free(why);
		return -1;
	}
	httpd_set_tls(g->http, g->ssl);
	return 0;
}

/* descriptors kept for Groq's connections, the store, the journal, the log
 * and Redis/PostgreSQL, whatever the clients do */
#define FD_RESERVE 512

/* limits.max_connections within the descriptors the process may open (the
 * soft limit raised to the hard one at start); a listener each when the
 * admin API has its own */
static int64_t conn_budget(struct gateway *g)
{
	struct rlimit rl;
	int64_t n = g->cfg.max_connections;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
		int64_t room = (int64_t)rl.rlim_cur - FD_RESERVE;
		if (g->cfg.admin_listen)
			room /= 2;
		if (room < 16)
			room = 16;
		if (n > room)
			n = room;
	}
	return n;
}

static void set_limits(struct gateway *g, struct httpd *h)
{
	httpd_set_limits(h, (size_t)g->cfg.max_body_bytes, (size_t)g->cfg.max_header_bytes, (int)g->cfg.client_timeout_s,
			 "limits.max_body_bytes", "limits.max_header_bytes");
	/* audio uploads: Groq takes files up to 25 MB */
	httpd_set_prefix_body_limit(h, "/openai/v1/audio/", (size_t)g->cfg.audio_max_body_bytes,
				    "limits.audio_max_body_bytes");
	httpd_set_conn_limits(h, (int)conn_budget(g), (int)g->cfg.header_timeout_s);
}

/* ---- signals ---------------------------------------------------------- */

static void drain_check(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct gateway *g = arg;
	if ((g->inflight == 0 && g->unflushed <= 0) || wall_ms() >= g->drain_deadline) {
		if (g->inflight)
			gw_log(g, json_pack("{s:s,s:s,s:i}", "level", "warn", "msg", "grace period over; dropping requests",
					    "inflight", g->inflight));
		event_base_loopexit(g->base, NULL);
		return;
	}
	struct timeval tv = { 0, 20000 };
	evtimer_add(g->drain, &tv);
}

static void on_term(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	struct gateway *g = arg;
	if (g->draining)
		return;
	g->draining = true;
	gw_log(g, json_pack("{s:s,s:s,s:i,s:i}", "level", "info", "msg", "shutting down: no new connections, "
			    "finishing in-flight requests", "signal", (int)sig, "inflight", g->inflight));
	httpd_unbind(g->http);
	if (g->admin_http)
		httpd_unbind(g->admin_http);
	sd_notify_send("STOPPING=1");
	g->drain_deadline = wall_ms() + g->cfg.shutdown_grace_ms;
	g->drain = evtimer_new(g->base, drain_check, g);
	drain_check(-1, 0, g);
}

static void on_hup(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	struct gateway *g = arg;
	struct gw_config nc;
	char *cause = NULL;
	if (config_load(g->cfg.path, &nc, &cause) != 0) {
		gw_log(g, json_pack("{s:s,s:s,s:s}", "level", "error", "msg", "reload refused; keeping the running configuration",
				    "error", cause));
		free(cause);
		return;
	}
	struct admin_token *toks = NULL;
	int nt = 0;
	if (admintok_load(nc.admin_tokens_file, &toks, &nt, &cause) != 0) {
		gw_log(g, json_pack("{s:s,s:s,s:s}", "level", "error", "msg", "reload refused; keeping the running configuration",
				    "error", cause));
		free(cause);
		config_free(&nc);
		return;
	}
	if (!str_eq(nc.listen, g->cfg.listen) || !str_eq(nc.store_path, g->cfg.store_path) ||
	    !str_eq(nc.admin_listen, g->cfg.admin_listen))
		gw_log(g, json_pack("{s:s,s:s}", "level", "warn", "msg",
				    "listen, admin_listen and store.path change only on restart"));
	/* swap, keeping what cannot change while running */
	char *keep[] = { g->cfg.listen, g->cfg.admin_listen, g->cfg.store_path };
	nc.listen = (free(nc.listen), keep[0]);
	nc.admin_listen = (free(nc.admin_listen), keep[1]);
	nc.store_path = (free(nc.store_path), keep[2]);
	g->cfg.listen = g->cfg.admin_listen = g->cfg.store_path = NULL;
	config_free(&g->cfg);
	g->cfg = nc;
	free(g->admins);
	g->admins = toks;
	g->nadmins = nt;
	set_limits(g, g->http);
	if (g->admin_http)
		set_limits(g, g->admin_http);
	groqwatch_reload(g);
	capacity_configure(g->capacity, &g->cfg);
	gw_log(g, json_pack("{s:s,s:s,s:i,s:i}", "level", "info", "msg", "configuration reloaded", "prices",
			    g->cfg.nprices, "admin_tokens", nt));
}

/* ---- start-up ---------------------------------------------------------- */

static void watchdog_feed(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	sd_notify_send("WATCHDOG=1");
}

static void usage(FILE *f)
{
	fprintf(f, "usage: groqgated --config FILE [--check]\n"
		   "       groqgated --check-config FILE\n"
		   "       groqgated --migrate-from sqlite:PATH --config FILE\n"
		   "  --config FILE  the gateway's configuration (libconfig; see groqgated(8))\n"
		   "  --check        load and validate the configuration and tokens, then exit\n"
		   "  --check-config FILE  check the configuration and the files it names (tokens file\n"
		   "                 modes, TLS files, the store's folder); one line per problem\n"
		   "  --migrate-from sqlite:PATH  copy a single node's store into the PostgreSQL store of\n"
		   "                 the configuration (store.url), then compare the counts\n"
		   "  --version      print the version\n"
		   "Signals: TERM/INT drain and stop; HUP reloads configuration and admin tokens.\n");
}

static struct httpd *new_http(struct gateway *g, void (*cb)(struct hreq *, void *))
{
	struct httpd *h = httpd_new(g->base, cb, g);
	httpd_set_error_body(h, groq_error_body); /* its refusals in Groq's shape */
	set_limits(g, h);
	return h;
}

/* the windows of the last day brought back from the ledger (what Groq
 * still counts against the organisation's limits after a restart) */
static void cap_recount(void *arg, const char *key, const char *model, int64_t ts, int64_t in, int64_t out)
{
	struct gateway *g = arg;
	struct ukey *k = registry_key(&g->reg, key);
	struct team *t = k ? registry_team(&g->reg, k->team) : NULL;
	if (t)
		capacity_recount(g->capacity, t, model, ts, in + out, gw_now(g));
}

static void capacity_restore(struct gateway *g)
{
	char *cause = NULL;
	if (g->cluster) /* the fleet's ledger: more than this replica's share took */
		return;
	if (store_recent_sent(g->store, gw_now(g) - 86400000 - 60000, cap_recount, g, &cause) != 0) {
		gw_log(g, json_pack("{s:s,s:s,s:s}", "level", "warn", "msg", "the last day's capacity not recounted",
				    "error", cause ? cause : "?"));
		free(cause);
	}
}

int main(int argc, char **argv)
{
	const char *config = NULL, *migrate = NULL;
	bool check_only = false;
	static const struct option opts[] = { { "config", required_argument, 0, 'c' }, { "check", no_argument, 0, 'k' },
					      { "check-config", required_argument, 0, 'C' },
					      { "migrate-from", required_argument, 0, 'M' },
					      { "help", no_argument, 0, 'h' }, { "version", no_argument, 0, 'V' },
					      { 0, 0, 0, 0 } };
	int o;
	while ((o = getopt_long(argc, argv, "c:", opts, NULL)) != -1) {
		switch (o) {
		case 'c': config = optarg; break;
		case 'k': check_only = true; break;
		case 'C': return check_config(optarg);
		case 'M': migrate = optarg; break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("groqgated %s\n", GG_VERSION); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!config || optind != argc) {
		usage(stderr);
		return 2;
	}
	static struct gateway G;
	struct gateway *g = &G;
	g->clock = clock_real;
	char *cause = NULL;
	if (clock_offset_from_env(&cause) != 0) /* (tests only: docs/hacking.md) */
		return report("groqgated", NULL, cause, 2);
	umask(077); /* every file the gateway makes is its own: store, journal, log */
	if (config_load(config, &g->cfg, &cause) != 0) {
		return report("groqgated", NULL, cause, 1);
	}
	if (migrate) {
		int rc = migrate_from(&g->cfg, migrate, stdout, &cause);
		if (rc == 0)
			printf("groqgated: %s copied into PostgreSQL\n", migrate + strlen("sqlite:"));
		config_free(&g->cfg);
		return rc == 0 ? 0 : report("groqgated", NULL, cause, 1);
	}
	if (!g->cfg.core_dumps) {
		/* a core file would hold the Groq keys: none unless asked for
		 * (process.core_dumps), and no ptrace by other users */
		struct rlimit none = { 0, 0 };
		setrlimit(RLIMIT_CORE, &none);
		prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	}
	/* every descriptor the system lets it have: limits.max_connections
	 * for clients, FD_RESERVE kept for the rest */
	struct rlimit nf;
	if (getrlimit(RLIMIT_NOFILE, &nf) == 0 && nf.rlim_cur < nf.rlim_max) {
		nf.rlim_cur = nf.rlim_max;
		setrlimit(RLIMIT_NOFILE, &nf);
	}
	if (admintok_load(g->cfg.admin_tokens_file, &g->admins, &g->nadmins, &cause) != 0) {
		return report("groqgated", "admin.tokens_file", cause, 1);
	}
	/* the metrics key is a secret like the tokens: refused as they are */
	if (g->cfg.gm_key_file && file_check_private(g->cfg.gm_key_file, &cause) != 0)
		return report("groqgated", "groq_metrics.key_file", cause, 1);
	if (g->cfg.log_path) {
		g->log = fopen(g->cfg.log_path, "a");
		if (!g->log) {
			fprintf(stderr, "groqgated: log.path %s: %s\n", g->cfg.log_path, strerror(errno));
			return 1;
		}
		setvbuf(g->log, NULL, _IOLBF, 0);
	}
	if (check_only) {
		printf("groqgated: %s is valid (%d prices, %d admin tokens)\n", config, g->cfg.nprices, g->nadmins);
		return 0;
	}
	signal(SIGPIPE, SIG_IGN);
	signal(SIGXFSZ, SIG_IGN); /* a file-size limit is a failed write, not a kill */
	curl_global_init(CURL_GLOBAL_DEFAULT);
	g->store = g->cfg.store_url ? store_open_pg(g->cfg.store_url, g->cfg.replica_id, &cause)
				    : store_open(g->cfg.store_path, &cause);
	if (!g->store) {
		return report("groqgated", NULL, cause, 1);
	}
	struct event_config *ec = event_config_new();
	/* coalesce the add/del pairs bufferevents make on a socket within one loop
	 * pass into one epoll_ctl (or none) */
	event_config_set_flag(ec, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
	g->base = event_base_new_with_config(ec);
	event_config_free(ec);
	/* before the registry is loaded: its spend includes the journal's rows */
	g->ledger = ledger_open(g, &cause);
	if (!g->ledger) {
		return report("groqgated", NULL, cause, 1);
	}
	g->started_ms = gw_now(g);
	registry_init(&g->reg);
	g->reg.users = endusers_new((size_t)g->cfg.max_end_users);
	if (g->cfg.counters_redis &&
	    !(g->reg.ctr = counters_redis_new(g->cfg.counters_redis, g->cfg.replica_id, g->base, &cause))) {
		return report("groqgated", "counters.redis", cause, 1);
	}
	if (store_load(g->store, &g->reg, g->started_ms, &cause) != 0) {
		return report("groqgated", NULL, cause, 1);
	}
	cause = NULL;
	g->cluster = cluster_start(g, &cause);
	if (!g->cluster && cause) {
		return report("groqgated", NULL, cause, 1);
	}
	/* thresholds already crossed this month are not alerted again */
	for (int i = 0; i < g->reg.nteams; i++) {
		struct team *t = g->reg.teams[i];
		int crossed = money_crossed(t->thresholds, t->nthresholds, t->spend_nusd, t->budget_nusd);
		if (t->alerted < crossed)
			t->alerted = crossed;
	}
	int org = money_crossed(g->cfg.org_thresholds, g->cfg.n_org_thresholds, g->reg.org_spend_nusd,
				g->cfg.org_budget_nusd);
	if (g->reg.org_alerted < org)
		g->reg.org_alerted = org;
	json_t *recent = store_alerts_list(g->store, 100, &cause);
	g->recent_alerts = recent ? recent : json_array();
	g->metrics = metrics_new();
	g->capacity = capacity_new(&g->cfg);
	if (g->cfg.counters_redis) /* cluster mode: the fleet's capacity windows, in Redis */
		capacity_fleet(g->capacity, counters_redis_capfleet(g->reg.ctr));
	capacity_restore(g);
	g->up = upstream_new(g->base, g->cfg.upstream_ca_file);
	g->groq = groqwatch_start(g);
	g->batches = batchwatch_start(g);
	g->http = new_http(g, handle_main);
	if (g->cfg.tls_cert && tls_setup(g, &cause) != 0) {
		return report("groqgated", NULL, cause, 1);
	}
	if (httpd_bind(g->http, g->cfg.listen, g->addr, sizeof g->addr, &cause) != 0) {
		return report("groqgated", "listen", cause, 1);
	}
	if (g->cfg.admin_listen) {
		g->admin_http = new_http(g, handle_admin);
		if (httpd_bind(g->admin_http, g->cfg.admin_listen, g->admin_addr, sizeof g->admin_addr, &cause) != 0) {
			return report("groqgated", "admin_listen", cause, 1);
		}
	}
	cluster_first_tick(g->cluster); /* heard by the fleet, with its address */
	printf("%s\n", g->addr);
	if (g->admin_http)
		printf("%s\n", g->admin_addr);
	fflush(stdout);
	gw_log(g, json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:i,s:i,s:i}", "level", "info", "msg", "groqgated started",
			    "listen", g->addr, "upstream", g->cfg.upstream_base, "upstream_client", upstream_engine(g->up),
			    "tls", g->cfg.tls_cert ? "on" : "off", "teams", g->reg.nteams, "keys", g->reg.nkeys, "tokens",
			    g->reg.ntokens));
	struct event *sigs[3] = { evsignal_new(g->base, SIGTERM, on_term, g), evsignal_new(g->base, SIGINT, on_term, g),
				  evsignal_new(g->base, SIGHUP, on_hup, g) };
	for (int i = 0; i < 3; i++)
		evsignal_add(sigs[i], NULL);
	struct event *mref = event_new(g->base, -1, EV_PERSIST, models_refresh, g);
	struct timeval ten = { 600, 0 };
	event_add(mref, &ten);
	models_refresh(-1, 0, g);
	/* in a cluster the retirement notices are the leader's, known once the
	 * replicas starting together have heartbeated: the first look waits */
	struct event *notices = g->cluster ? evtimer_new(g->base, retiring_soon, g) : NULL;
	struct timeval three = { 3, 0 };
	if (notices)
		evtimer_add(notices, &three);
	/* systemd (Type=notify): ready once the listeners are open and the
	 * store is loaded; the watchdog is fed from the loop itself, so a
	 * stuck loop stops feeding it */
	sd_notify_send("READY=1");
	struct event *wd = NULL;
	int64_t wd_ms = sd_watchdog_ms();
	if (wd_ms > 0) {
		wd = event_new(g->base, -1, EV_PERSIST, watchdog_feed, g);
		struct timeval half = { (time_t)(wd_ms / 2000), (suseconds_t)(wd_ms / 2 % 1000) * 1000 };
		event_add(wd, &half);
	}
	event_base_dispatch(g->base);
	if (wd)
		event_free(wd);

	/* connections first: a request still open is told its client is gone
	 * (and records its row) while the ledger is still there; what they give
	 * back to the fleet's capacity windows goes out at once, as the rest of
	 * every lease after them */
	if (g->cfg.counters_redis)
		counters_redis_stopping(g->reg.ctr);
	httpd_free(g->http);
	httpd_free(g->admin_http);
	capacity_fleet_end(g->capacity, &g->reg);
	ledger_free(g->ledger);
	gw_log(g, json_pack("{s:s,s:s}", "level", "info", "msg", "groqgated stopped"));
	if (g->logflush)
		event_free(g->logflush);
	buf_free(&g->logbuf);
	for (int i = 0; i < 3; i++)
		event_free(sigs[i]);
	event_free(mref);
	if (notices)
		event_free(notices);
	if (g->drain)
		event_free(g->drain);
	webhook_free(g);
	for (int i = 0; i < g->reg.nteams; i++)
		if (g->reg.teams[i]->qtimer)
			event_free(g->reg.teams[i]->qtimer);
	groqwatch_free(g->groq);
	batchwatch_free(g->batches);
	cluster_free(g->cluster);
	upstream_free(g->up);
	event_base_free(g->base);
	store_close(g->store);
	struct counters *ctr = g->reg.ctr;
	registry_free(&g->reg);
	counters_redis_free(ctr);
	metrics_free(g->metrics);
	capacity_free(g->capacity);
	json_decref(g->models_cache);
	json_decref(g->recent_alerts);
	free(g->admins);
	if (g->ssl)
		SSL_CTX_free(g->ssl);
	config_free(&g->cfg);
	if (g->log)
		fclose(g->log);
	curl_global_cleanup();
	return 0;
}
