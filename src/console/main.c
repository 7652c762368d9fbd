/* main.c — groqtop: options, configuration and contexts, the admin token,
 * --snapshot, and the event loop: one wait over stdin, the signal pipe and
 * libcurl's sockets; draw only when something changed. */
#include "console.h"

#include <curl/curl.h>
#include <getopt.h>
#include <langinfo.h>
#include <locale.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "conf.h"
#include "groq.h"
#include "secret.h"
#include "util.h"

struct ctx {
	char *name, *gateway, *token_file, *cacert;
	char *gateways; /* every address, comma-separated (gateway: the first) */
};

static struct ctx *ctxs;
static int nctx;
static const char *cli_cacert;
static struct theme theme;

static void usage(FILE *f)
{
	fprintf(f,
		"usage: groqtop --gateway URL --token-file FILE [options]\n"
		"  --gateway URL       the groqgated admin endpoint (http:// or https://)\n"
		"  --token-file FILE   admin token (mode 0600); or GROQTOP_TOKEN in the environment\n"
		"  --wallboard         read-only wall display (a viewer token is enough)\n"
		"  --snapshot          print one frame as text and exit (--size COLSxROWS)\n"
		"  --view NAME         with --snapshot: teams, alerts, audit, usage, tokens, groq, fleet, capacity,\n"
		"                      spend or models\n"
		"  --team ID           with --view usage or tokens: the team (default: the first)\n"
		"  --readonly          the normal console with every change refused (a viewer token is enough)\n"
		"  --groq-key-file FILE  also read Groq's metrics directly with this key (mode 0600),\n"
		"                      so :groq shows Groq's side while the gateway is down\n"
		"  --groq-url URL      Groq's API for --groq-key-file (https://api.groq.com)\n"
		"  --theme NAME        default, light, high-contrast, monochrome, or a file\n"
		"  --config FILE       default ~/.config/groqgate/groqtop.conf (contexts, theme, refresh)\n"
		"  --context NAME      a gateway named in the config file\n"
		"  --refresh SECONDS   poll interval (default 2)     --cycle SECONDS  wallboard page time\n"
		"  --cacert FILE       CA bundle for an https gateway\n"
		"  --no-mouse          ignore mouse clicks            --ascii  no Unicode glyphs\n"
		"  --local-time        times in the local zone (default UTC; also :local and :utc)\n"
		"  --help, --version\n"
		"The admin token is never taken on the command line.\n");
}


struct opts {
	const char *gateway, *token_file, *theme, *config, *context, *size, *view, *groq_key_file, *groq_url, *team;
	bool wallboard, snapshot, no_mouse, ascii, readonly, local_time;
	int refresh, cycle;
};

static int load_config(struct opts *o, char **cause)
{
	char *path = o->config ? xstrdup(o->config) : path_home("~/.config/groqgate/groqtop.conf");
	if (!o->config && access(path, R_OK) != 0) {
		free(path);
		return 0;
	}
	conf *c = conf_load(path, cause);
	free(path);
	if (!c)
		return -1;
	conf_node *root = conf_root(c);
	const char *s = NULL;
	int64_t v;
	if (!o->theme && conf_str(c, root, "theme", &s, cause) == 1)
		o->theme = xstrdup(s);
	if (!o->refresh && conf_int(c, root, "refresh", &v, cause) == 1)
		o->refresh = (int)v;
	if (!o->context && conf_str(c, root, "context", &s, cause) == 1)
		o->context = xstrdup(s);
	conf_node *cs = conf_child(root, "contexts");
	for (int i = 0; i < conf_len(cs); i++) {
		conf_node *e = conf_elem(cs, i);
		const char *name = NULL, *gw = NULL, *tf = NULL, *ca = NULL;
		/* gateway: one address, or a list of them (replicas, a load
		 * balancer and its replicas) tried in turn */
		conf_node *gn = conf_child(e, "gateway");
		buf all;
		buf_init(&all);
		if (gn && conf_is_aggregate(gn)) {
			for (int k = 0; k < conf_len(gn); k++) {
				const char *u = conf_elem_str(conf_elem(gn, k));
				if (!u || !*u || strchr(u, ',')) {
					buf_free(&all);
					conf_fail(c, e, "gateway", cause, "must be a URL or a list of URLs");
					conf_free(c);
					return -1;
				}
				buf_addf(&all, "%s%s", all.len ? "," : "", u);
			}
		} else if (conf_str(c, e, "gateway", &gw, cause) < 0) {
			conf_free(c);
			return -1;
		}
		if (conf_str(c, e, "name", &name, cause) < 0 || conf_str(c, e, "token_file", &tf, cause) < 0 ||
		    conf_str(c, e, "cacert", &ca, cause) < 0) {
			buf_free(&all);
			conf_free(c);
			return -1;
		}
		if (all.len)
			gw = all.data;
		else if (gw)
			buf_adds(&all, gw);
		if (!name || !gw) {
			buf_free(&all);
			conf_fail(c, e, "name", cause, "each context needs a name and a gateway");
			conf_free(c);
			return -1;
		}
		ctxs = xrealloc(ctxs, (size_t)(nctx + 1) * sizeof *ctxs);
		ctxs[nctx++] = (struct ctx){ xstrdup(name), xstrndup(gw, strcspn(gw, ",")), tf ? path_home(tf) : NULL,
					     ca ? path_home(ca) : NULL, buf_detach(&all) };
	}
	conf_free(c);
	return 0;
}

/* the views a `:` command names */
const struct view *const console_views[] = { &view_alerts, &view_audit, &view_groq, &view_usage, &view_tokens,
					     &view_fleet, &view_capacity, &view_spend, &view_models, &view_describe, &view_help, NULL };

/* a->gws from "A,B,C": the addresses to try in turn, the first watched */
static void set_gateways(struct app *a, const char *list)
{
	for (int i = 0; i < a->ngws; i++)
		free(a->gws[i]);
	free(a->gws);
	a->gws = NULL;
	a->ngws = a->gw_at = 0;
	for (const char *p = list; p && *p;) {
		size_t n = strcspn(p, ",");
		if (n) {
			a->gws = xrealloc(a->gws, (size_t)(a->ngws + 1) * sizeof *a->gws);
			a->gws[a->ngws++] = xstrndup(p, n);
		}
		p += n + (p[n] == ',');
	}
	if (a->ngws)
		a->gateway = a->gws[0];
}

static struct ctx *ctx_find(const char *name)
{
	for (int i = 0; i < nctx; i++)
		if (strcmp(ctxs[i].name, name) == 0)
			return &ctxs[i];
	return NULL;
}

static char *operator_label(void)
{
	char host[128] = "?";
	gethostname(host, sizeof host - 1);
	const char *u = getenv("USER");
	struct passwd *pw = u ? NULL : getpwuid(getuid());
	return xasprintf("%s@%s", u ? u : pw ? pw->pw_name : "?", host);
}

static int app_switch_ctx(struct app *a, const char *name)
{
	struct ctx *c = ctx_find(name);
	if (!c) {
		buf b;
		buf_init(&b);
		for (int i = 0; i < nctx; i++)
			buf_addf(&b, "%s%s", i ? ", " : "", ctxs[i].name);
		app_set_status(a, R_ERROR, "no context '%s' (known: %s)", name, b.len ? b.data : "none; see groqtop(1)");
		buf_free(&b);
		return -1;
	}
	char *cause = NULL;
	char *tok = c->token_file ? token_file_read(c->token_file, &cause) : getenv("GROQTOP_TOKEN") ? xstrdup(getenv("GROQTOP_TOKEN")) : NULL;
	if (!tok) {
		app_set_status(a, R_ERROR, "context %s: %s", name, cause ? cause : "no token_file");
		free(cause);
		return -1;
	}
	set_gateways(a, c->gateways);
	client_reset(a->cl, a->gateway, tok, c->cacert ? c->cacert : cli_cacert, a->readonly);
	char *op = operator_label();
	client_set_operator(a->cl, op);
	free(op);
	secret_free(tok);
	a->ctx_name = c->name;
	model_free(&a->ov);
	a->have_data = false;
	a->fails = 0;
	a->polling = false;
	a->next_poll_ms = 0;
	a->nspark = 0;
	app_rebuild(a);
	app_set_status(a, R_OK, "switched to context %s (%s)", c->name, c->gateway);
	return 0;
}

/* ---- --snapshot ------------------------------------------------------- */

/* every request of the console and its guest (Groq direct) answered */
static bool busy(struct app *a)
{
	return client_pending(a->cl) || (a->gcl && client_pending(a->gcl));
}

static int snapshot(struct app *a, int w, int h, const char *view, const char *team)
{
	app_poll(a);
	int64_t end = wall_ms() + 10000;
	while (a->polling && wall_ms() < end) {
		int r[1];
		client_wait(a->cl, NULL, r, 0, 100);
	}
	/* a first part (a large organisation): the whole of it */
	for (int i = 0; i < 2 && a->have_data && (a->ov.nkeys < a->ov.keys_total || a->ov.nteams < a->ov.teams_total); i++) {
		app_poll(a);
		while (a->polling && wall_ms() < end) {
			int r[1];
			client_wait(a->cl, NULL, r, 0, 100);
		}
	}
	/* the view after the overview: usage and tokens are the selected team's */
	for (int i = 0; team && i < a->nteam_idx; i++)
		if (strcmp(a->ov.teams[a->team_idx[i]].id, team) == 0)
			a->lteam.sel = i;
	if (team && (!app_team(a) || strcmp(app_team(a)->id, team) != 0) && a->have_data) {
		fprintf(stderr, "groqtop: no team '%s'\n", team);
		return 1;
	}
	if (view && strcmp(view, "teams") != 0)
		app_command(a, view);
	/* Groq's view read directly stands without the gateway */
	bool direct = a->view == &view_groq && a->gcl;
	if (!a->have_data && !direct) {
		fprintf(stderr, "groqtop: cannot reach the gateway at %s: %s\n", a->gateway, a->last_err[0] ? a->last_err : "no answer");
		return 1;
	}
	while (busy(a) && wall_ms() < end) { /* the selected team's usage, the view's list */
		int r[1];
		client_wait(a->cl, NULL, r, 0, 100);
	}
	const char *missing = direct ? groq_direct_missing(a) : NULL;
	if (!a->have_data && missing) {
		fprintf(stderr, "groqtop: neither the gateway (%s) nor Groq (%s) answered: %s\n", a->last_err[0] ? a->last_err : "no answer",
			a->groq_url, missing);
		return 1;
	}
	struct canvas cv;
	cv_init(&cv, w, h, a->utf8);
	app_draw(a, &cv);
	char *text = cv_text(&cv);
	fputs(text, stdout);
	free(text);
	cv_free(&cv);
	return 0;
}

/* ---- the live loop ---------------------------------------------------- */

static int run(struct app *a, bool mouse)
{
	screen_install_signals();
	if (screen_init(a, &theme, a->color, mouse) != 0) {
		fprintf(stderr, "groqtop: cannot initialise the terminal (TERM=%s)\n", getenv("TERM") ? getenv("TERM") : "");
		return 1;
	}
	screen_size(&a->w, &a->h);
	struct canvas cv;
	cv_init(&cv, a->w, a->h, a->utf8);
	int fds[2] = { STDIN_FILENO, screen_signal_fd() };
	int64_t last_sec = -1;
	int idle_reads = 0;
	a->dirty = true;
	while (!a->quit && !screen_signal) {
		int64_t now = wall_ms();
		if (now >= a->next_poll_ms)
			app_poll(a);
		if (now / 1000 != last_sec) { /* the clock and "stale Ns" move each second */
			last_sec = now / 1000;
			a->dirty = true;
		}
		if (a->dirty) {
			a->dirty = false;
			app_draw(a, &cv);
			screen_present(&cv);
		}
		int64_t wait = 1000 - wall_ms() % 1000;
		if (!a->polling && a->next_poll_ms - wall_ms() < wait)
			wait = a->next_poll_ms - wall_ms();
		if (a->status[0] && a->status_until > wall_ms() && a->status_until - wall_ms() < wait)
			wait = a->status_until - wall_ms() + 1;
		if (wait < 0)
			wait = 0;
		int ready[2] = { 0, 0 };
		client_wait(a->cl, fds, ready, 2, (int)wait);
		if (ready[1] > 0) {
			screen_drain_signals();
			if (screen_winch) {
				screen_winch = 0;
				screen_resize(&a->w, &a->h);
				cv_free(&cv);
				cv_init(&cv, a->w, a->h, a->utf8);
				a->dirty = true;
			}
		}
		if (ready[0] < 0)
			break; /* the terminal went away (SSH dropped) */
		if (ready[0] > 0) {
			int got = 0, my = 0, mx = 0, k;
			while ((k = screen_key(&my, &mx)) != K_NONE) {
				got++;
				if (k == K_RESIZE) { /* ncurses already resized; just follow */
					screen_size(&a->w, &a->h);
					screen_invalidate();
					cv_free(&cv);
					cv_init(&cv, a->w, a->h, a->utf8);
				} else if (k == K_MOUSE || k == K_WHEEL_UP || k == K_WHEEL_DOWN) {
					app_mouse(a, k, my, mx);
				} else {
					keys_handle(a, k);
				}
				a->dirty = true;
			}
			/* readable but nothing to read, again and again: the tty is gone */
			idle_reads = got ? 0 : idle_reads + 1;
			if (idle_reads > 50)
				break;
		}
	}
	screen_end();
	cv_free(&cv);
	return 0;
}

int main(int argc, char **argv)
{
	setlocale(LC_ALL, "");
	struct opts o = { 0 };
	static const struct option lo[] = {
		{ "gateway", required_argument, 0, 'g' }, { "token-file", required_argument, 0, 't' },
		{ "wallboard", no_argument, 0, 'w' },     { "snapshot", no_argument, 0, 's' },
		{ "size", required_argument, 0, 'S' },    { "theme", required_argument, 0, 'T' },
		{ "config", required_argument, 0, 'c' },  { "context", required_argument, 0, 'x' },
		{ "refresh", required_argument, 0, 'r' }, { "cycle", required_argument, 0, 'C' },
		{ "cacert", required_argument, 0, 'a' },  { "no-mouse", no_argument, 0, 'm' },
		{ "ascii", no_argument, 0, 'A' },         { "help", no_argument, 0, 'h' },
		{ "version", no_argument, 0, 'V' },       { "view", required_argument, 0, 'v' },
		{ "groq-key-file", required_argument, 0, 'K' }, { "groq-url", required_argument, 0, 'U' },
		{ "team", required_argument, 0, 'e' },        { "readonly", no_argument, 0, 'o' },
		{ "local-time", no_argument, 0, 'L' },
		{ 0, 0, 0, 0 }
	};
	int ch;
	int64_t v;
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 'g': o.gateway = optarg; break;
		case 't': o.token_file = optarg; break;
		case 'w': o.wallboard = true; break;
		case 's': o.snapshot = true; break;
		case 'S': o.size = optarg; break;
		case 'T': o.theme = optarg; break;
		case 'c': o.config = optarg; break;
		case 'x': o.context = optarg; break;
		case 'a': cli_cacert = optarg; break;
		case 'm': o.no_mouse = true; break;
		case 'A': o.ascii = true; break;
		case 'v': o.view = optarg; break;
		case 'e': o.team = optarg; break;
		case 'o': o.readonly = true; break;
		case 'L': o.local_time = true; break;
		case 'K': o.groq_key_file = optarg; break;
		case 'U': o.groq_url = optarg; break;
		case 'r':
		case 'C':
			if (!parse_i64(optarg, &v) || v < 1 || v > 3600) {
				fprintf(stderr, "groqtop: --%s needs a number of seconds (1..3600)\n", ch == 'r' ? "refresh" : "cycle");
				return 2;
			}
			*(ch == 'r' ? &o.refresh : &o.cycle) = (int)v;
			break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("groqtop %s\n", GG_VERSION); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "groqtop: unexpected argument '%s' (the admin token is never taken on the command line; use --token-file or GROQTOP_TOKEN)\n", argv[optind]);
		return 2;
	}
	static const char *const views[] = { "teams", "alerts", "audit", "groq", "usage", "tokens", "fleet", "capacity", "spend", "models" };
	bool view_ok = !o.view;
	for (size_t i = 0; i < ARRAY_LEN(views) && !view_ok; i++)
		view_ok = strcmp(o.view, views[i]) == 0;
	if (!view_ok || (o.view && !o.snapshot)) {
		fprintf(stderr, "groqtop: %s\n", !view_ok ? "--view must be teams, alerts, audit, usage, tokens, groq, fleet, capacity, spend or models"
							 : "--view goes with --snapshot (in the console, type :NAME)");
		return 2;
	}
	if (o.groq_url && !o.groq_key_file) {
		fprintf(stderr, "groqtop: --groq-url goes with --groq-key-file\n");
		return 2;
	}
	if (o.groq_url && !str_starts(o.groq_url, "http://") && !str_starts(o.groq_url, "https://")) {
		fprintf(stderr, "groqtop: --groq-url must start with http:// or https://\n");
		return 2;
	}
	char *cause = NULL;
	if (load_config(&o, &cause) != 0) {
		return report("groqtop", NULL, cause, 2);
	}
	static struct app A;
	struct app *a = &A;
	a->wallboard = o.wallboard;
	a->readonly = o.wallboard || o.readonly; /* the client refuses every method but GET */
	a->local_time = o.local_time;
	a->refresh_s = o.refresh ? o.refresh : 2;
	a->cycle_s = o.cycle ? o.cycle : 10;
	a->views = console_views;
	a->v_main = &view_main;
	a->v_wall = &view_wallboard;
	a->v_small = &view_toosmall;
	a->bindings = bindings;
	a->nbindings = nbindings;
	a->switch_ctx = app_switch_ctx;
	a->view = o.wallboard ? &view_wallboard : &view_main;
	const char *cs = nl_langinfo(CODESET);
	a->utf8 = !o.ascii && cs && (strcmp(cs, "UTF-8") == 0 || strcmp(cs, "utf8") == 0);
	const char *nc = getenv("NO_COLOR");
	a->color = !(nc && *nc);
	const char *fn = getenv("GROQTOP_NOW");
	if (fn && parse_i64(fn, &v))
		a->fixed_now = v * 1000;
	if (theme_load(&theme, o.theme ? o.theme : "default", &cause) != 0) {
		return report("groqtop", NULL, cause, 2);
	}
	if (strcmp(theme.name, "monochrome") == 0)
		a->color = false;
	char *token = NULL;
	const char *gateway = o.gateway, *cacert = cli_cacert;
	struct ctx *c = o.context ? ctx_find(o.context) : (!o.gateway && nctx ? &ctxs[0] : NULL);
	if (o.context && !c) {
		fprintf(stderr, "groqtop: no context '%s' in the config file\n", o.context);
		return 2;
	}
	if (c && !o.gateway) {
		gateway = c->gateways;
		a->ctx_name = c->name;
		if (!cacert)
			cacert = c->cacert;
	}
	const char *tf = o.token_file ? o.token_file : (c && !o.gateway ? c->token_file : NULL);
	if (tf) {
		token = token_file_read(tf, &cause);
		if (!token) {
			return report("groqtop", NULL, cause, 2);
		}
	} else if (getenv("GROQTOP_TOKEN") && *getenv("GROQTOP_TOKEN")) {
		token = xstrdup(getenv("GROQTOP_TOKEN"));
	}
	if (!gateway || !token) {
		fprintf(stderr, "groqtop: %s\n", !gateway ? "no gateway: use --gateway URL or a context in the config file"
							  : "no admin token: use --token-file FILE (mode 0600) or GROQTOP_TOKEN");
		usage(stderr);
		secret_free(token);
		return 2;
	}
	set_gateways(a, gateway); /* (--gateway A,B: several addresses, tried in turn) */
	const char *bad = a->ngws ? NULL : "";
	for (int i = 0; i < a->ngws && !bad; i++)
		if (!str_starts(a->gws[i], "http://") && !str_starts(a->gws[i], "https://"))
			bad = a->gws[i];
	if (bad) {
		if (*bad)
			fprintf(stderr, "groqtop: --gateway must start with http:// or https:// (got '%s')\n", bad);
		else
			fprintf(stderr, "groqtop: --gateway needs a URL\n");
		secret_free(token);
		set_gateways(a, NULL);
		return 2;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	a->cl = client_new(a->gateway, token, cacert, a->readonly);
	secret_free(token);
	char *op = operator_label();
	client_set_operator(a->cl, op);
	free(op);
	if (o.groq_key_file) { /* Groq's metrics read directly: GET only */
		char *gkey = token_file_read(o.groq_key_file, &cause);
		if (!gkey) {
			client_free(a->cl);
			return report("groqtop", "--groq-key-file", cause, 2);
		}
		a->groq_url = o.groq_url ? o.groq_url : "https://api.groq.com";
		a->gcl = client_new_on(a->cl, a->groq_url, gkey, cacert, true);
		secret_free(gkey);
	}
	int rc;
	if (o.snapshot) {
		int w = 0, h = 0;
		struct winsize ws;
		if (o.size) {
			if (sscanf(o.size, "%dx%d", &w, &h) != 2 || w < 20 || h < 5 || w > 1000 || h > 500) {
				fprintf(stderr, "groqtop: --size must be COLSxROWS, e.g. 120x40\n");
				return 2;
			}
		} else if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col) {
			w = ws.ws_col;
			h = ws.ws_row;
		} else {
			w = 120;
			h = 40;
		}
		rc = snapshot(a, w, h, o.view, o.team);
	} else {
		if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
			fprintf(stderr, "groqtop: needs a terminal (use --snapshot for a text frame)\n");
			return 2;
		}
		rc = run(a, !o.no_mouse); /* a terminating signal is a clean exit too */
	}
	dlg_free(a); /* the dialog, and the pending action's memory */
	client_free(a->gcl); /* a guest: before its host */
	client_free(a->cl);
	app_free_views(a);
	model_free(&a->ov);
	free(a->team_idx);
	free(a->key_idx);
	set_gateways(a, NULL);
	curl_global_cleanup();
	return rc;
}
