/* groqctl — the headless admin client: kubectl's habits for the gateway's
 * admin API (contexts from groqtop's configuration, get / set / pause /
 * token / rotate, -o table|json|csv), and the organisation as code (export,
 * diff, apply against POST /admin/v1/apply). The admin token comes from a
 * file (never argv, never printed); a rotation's secret from a file or
 * stdin. Exit codes: 0 done (diff: no difference), 1 error, 2 usage,
 * 3 diff found differences, 4 conflict (changed meanwhile). */
#include <curl/curl.h>
#include <jansson.h>
#include <libconfig.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "buf.h"
#include "secret.h"
#include "util.h"
#include "ctl.h"

/* ---- contexts ------------------------------------------------------------ */

static int load_context(struct ctl *c, const char *config, const char *name)
{
	char *path = config ? xstrdup(config) : path_home("~/.config/groqgate/groqtop.conf");
	config_t cf;
	config_init(&cf);
	int rc = 0;
	if (access(path, R_OK) != 0) {
		rc = config ? die(EXIT_ERR, "%s: cannot read it", path) : 0;
		goto out;
	}
	if (config_read_file(&cf, path) != CONFIG_TRUE) {
		rc = die(EXIT_ERR, "%s:%d: %s", path, config_error_line(&cf), config_error_text(&cf));
		goto out;
	}
	const char *want = name;
	if (!want && config_lookup_string(&cf, "context", &want) != CONFIG_TRUE)
		want = NULL;
	if (!want)
		goto out;
	config_setting_t *cs = config_lookup(&cf, "contexts");
	for (int i = 0; cs && i < config_setting_length(cs); i++) {
		config_setting_t *e = config_setting_get_elem(cs, (unsigned)i);
		const char *n = NULL, *gw = NULL, *tf = NULL, *ca = NULL;
		config_setting_lookup_string(e, "name", &n);
		if (!n || strcmp(n, want) != 0)
			continue;
		config_setting_lookup_string(e, "gateway", &gw);
		config_setting_lookup_string(e, "token_file", &tf);
		config_setting_lookup_string(e, "cacert", &ca);
		/* a list of addresses (groqtop's too): tried in turn */
		config_setting_t *gl = config_setting_get_member(e, "gateway");
		if (!c->gateway && gl && (config_setting_is_list(gl) || config_setting_is_array(gl))) {
			buf all;
			buf_init(&all);
			for (int k = 0; k < config_setting_length(gl); k++) {
				const char *u = config_setting_get_string_elem(gl, k);
				if (u)
					buf_addf(&all, "%s%s", all.len ? "," : "", u);
			}
			c->gateway = buf_detach(&all);
		}
		if (!c->gateway && gw)
			c->gateway = xstrdup(gw);
		char *cause = NULL;
		if (!c->token && tf && !(c->token = token_file_read(tf, &cause))) {
			rc = die(EXIT_ERR, "context %s: %s", want, cause);
			free(cause);
			goto out;
		}
		if (!c->cacert && ca)
			c->cacert = path_home(ca);
		goto out;
	}
	rc = die(EXIT_ERR, "%s: no context '%s'", path, want);
out:
	config_destroy(&cf);
	free(path);
	return rc;
}

/* ---- output ------------------------------------------------------------------ */

/* a cell's text: strings as they are, numbers as JSON writes them */
static char *cell(json_t *v)
{
	if (!v || json_is_null(v))
		return xstrdup("-");
	if (json_is_string(v))
		return xstrdup(json_string_value(v));
	if (json_is_real(v))
		return xasprintf("%.6g", json_real_value(v));
	return json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
}

/* rows (objects) as a table sized to the terminal, or CSV; cols are
 * "field" or "field.sub" */
static void print_rows(struct ctl *c, json_t *rows, const char *const *cols, int ncols)
{
	size_t nr = json_array_size(rows);
	char ***cells = xcalloc(nr + 1, sizeof *cells);
	int *w = xcalloc((size_t)ncols, sizeof *w);
	for (int k = 0; k < ncols; k++)
		w[k] = (int)strlen(cols[k]);
	for (size_t i = 0; i < nr; i++) {
		cells[i] = xcalloc((size_t)ncols, sizeof **cells);
		json_t *r = json_array_get(rows, i);
		for (int k = 0; k < ncols; k++) {
			char f[64];
			snprintf(f, sizeof f, "%s", cols[k]);
			char *dot = strchr(f, '.');
			json_t *v = r;
			if (dot) {
				*dot = '\0';
				v = json_object_get(v, f);
				v = json_object_get(v, dot + 1);
			} else {
				v = json_object_get(v, f);
			}
			cells[i][k] = cell(v);
			int l = (int)strlen(cells[i][k]);
			if (l > w[k])
				w[k] = l;
		}
	}
	if (strcmp(c->out, "csv") == 0) {
		for (int k = 0; k < ncols; k++)
			printf("%s%s", k ? "," : "", cols[k]);
		putchar('\n');
		for (size_t i = 0; i < nr; i++) {
			for (int k = 0; k < ncols; k++) {
				const char *s = cells[i][k];
				if (k)
					putchar(',');
				if (!strpbrk(s, ",\"\n")) {
					fputs(s, stdout);
					continue;
				}
				putchar('"'); /* RFC 4180: quoted, quotes doubled */
				for (const char *p = s; *p; p++) {
					if (*p == '"')
						putchar('"');
					putchar(*p);
				}
				putchar('"');
			}
			putchar('\n');
		}
	} else {
		/* the last column takes what the width leaves; while that is
		 * under 8, the widest other column gives one up (down to 4) */
		int used = 0;
		for (int k = 0; k + 1 < ncols; k++)
			used += w[k] + 2;
		while (c->width - used < 8) {
			int widest = -1;
			for (int k = 0; k + 1 < ncols; k++)
				if (w[k] > 4 && (widest < 0 || w[k] > w[widest]))
					widest = k;
			if (widest < 0)
				break;
			w[widest]--;
			used--;
		}
		int last = c->width - used > 8 ? c->width - used : 8;
		for (int k = 0; k < ncols; k++) {
			char up[64];
			snprintf(up, sizeof up, "%s", cols[k]);
			for (char *p = up; *p; p++)
				*p = (*p >= 'a' && *p <= 'z') ? (char)(*p - 32) : *p == '.' ? '_' : *p;
			int cw = k + 1 < ncols ? w[k] : last;
			if (k + 1 < ncols)
				printf("%-*.*s  ", cw, cw, up);
			else
				printf("%.*s\n", cw, up);
		}
		for (size_t i = 0; i < nr; i++)
			for (int k = 0; k < ncols; k++) {
				int cw = k + 1 < ncols ? w[k] : last;
				if (k + 1 < ncols)
					printf("%-*.*s  ", cw, cw, cells[i][k]);
				else
					printf("%.*s\n", cw, cells[i][k]);
			}
	}
	for (size_t i = 0; i < nr; i++) {
		for (int k = 0; k < ncols; k++)
			free(cells[i][k]);
		free(cells[i]);
	}
	free(cells);
	free(w);
}

/* ---- get ------------------------------------------------------------------------ */

static const struct listing {
	const char *what, *path, *member;
	const char *cols[8];
} listings[] = {
	{ "teams", "/admin/v1/teams", "teams",
	  { "id", "state", "priority", "rpm_limit", "tpm_limit", "spend_mtd_usd", "monthly_budget_usd", "allowed_models" } },
	{ "keys", "/admin/v1/keys", "keys", { "name", "team", "fingerprint", "state", "requests_24h", "rotation.step" } },
	{ "alerts", "/admin/v1/alerts", "alerts", { "time", "kind", "team", "message" } },
	{ "audit", "/admin/v1/audit", "entries", { "time", "actor", "action", "target" } },
	{ "capacity", "/admin/v1/capacity", "models", { "model", "source", "limits.tpm", "used.tpm", "limits.rpd", "used.rpd" } },
	{ "spend", "/admin/v1/spend", "rows", { "team", "model", "requests", "input_tokens", "output_tokens", "cost_usd" } },
};

static int cmd_get(struct ctl *c, int argc, char **argv)
{
	if (argc < 1)
		return usage();
	if (strcmp(argv[0], "team") == 0) {
		if (argc != 2)
			return usage();
		char *path = xconcat("/admin/v1/teams/", argv[1], NULL);
		json_t *j;
		int rc = get_json(c, path, &j);
		free(path);
		if (rc)
			return rc;
		if (strcmp(c->out, "table") == 0) {
			const char *k;
			json_t *v;
			json_object_foreach(j, k, v) {
				char *s = cell(v);
				printf("%-24s %s\n", k, s);
				free(s);
			}
		} else if (strcmp(c->out, "csv") == 0) {
			json_t *rows = json_pack("[O]", j);
			static const char *const cols[] = { "id", "state", "priority", "rpm_limit", "tpm_limit", "spend_mtd_usd",
							    "monthly_budget_usd", "version" };
			print_rows(c, rows, cols, 8);
			json_decref(rows);
		} else {
			print_json(j);
		}
		json_decref(j);
		return EXIT_OK;
	}
	for (size_t i = 0; i < sizeof listings / sizeof *listings; i++) {
		const struct listing *l = &listings[i];
		if (strcmp(argv[0], l->what) != 0)
			continue;
		buf q;
		buf_init(&q);
		buf_adds(&q, l->path);
		if (strcmp(l->what, "spend") == 0) { /* --from --to --group-by */
			buf_adds(&q, "?format=json");
			const char *gb = "team,model";
			for (int a = 1; a + 1 < argc; a += 2) {
				if (strcmp(argv[a], "--group-by") == 0)
					gb = argv[a + 1];
				else if (strcmp(argv[a], "--from") == 0 || strcmp(argv[a], "--to") == 0)
					buf_addf(&q, "&%s=%s", argv[a] + 2, argv[a + 1]);
				else
					return usage();
			}
			buf_addf(&q, "&group_by=%s", gb);
		} else if (argc > 1) {
			return usage();
		}
		json_t *j;
		int rc = get_json(c, q.data, &j);
		buf_free(&q);
		if (rc)
			return rc;
		if (strcmp(c->out, "json") == 0) {
			print_json(j);
		} else {
			int n = 0;
			while (n < 8 && l->cols[n])
				n++;
			print_rows(c, json_object_get(j, l->member), l->cols, n);
		}
		json_decref(j);
		return EXIT_OK;
	}
	return usage();
}

/* ---- set, pause, resume, tokens, the emergency stop ------------------------------- */

static bool is_integer(const char *s)
{
	char *end;
	strtoll(s, &end, 10);
	return *s && !*end;
}

/* a comma-separated list: strings, or integers (NULL when one is not) */
static json_t *word_list(const char *v, bool ints)
{
	json_t *a = json_array();
	char *copy = xstrdup(v), *save = NULL;
	for (char *w = strtok_r(copy, ",", &save); a && w; w = strtok_r(NULL, ",", &save)) {
		if (ints && !is_integer(w)) {
			json_decref(a);
			a = NULL;
		} else {
			json_array_append_new(a, ints ? json_integer(strtoll(w, NULL, 10)) : json_string(w));
		}
	}
	free(copy);
	return a;
}

/* fallbacks: "MODEL=NEXT[,NEXT...][;MODEL=...]", the API's JSON object
 * ("{...}"), or empty for none; NULL when it is none of these */
static json_t *fallbacks_value(const char *v)
{
	if (*v == '{') {
		json_t *o = json_loads(v, JSON_REJECT_DUPLICATES, NULL);
		if (json_is_object(o))
			return o;
		json_decref(o);
		return NULL;
	}
	json_t *o = json_object();
	char *copy = xstrdup(v), *save = NULL;
	for (char *e = strtok_r(copy, ";", &save); o && e; e = strtok_r(NULL, ";", &save)) {
		char *eq = strchr(e, '=');
		json_t *next = eq && eq != e && eq[1] ? word_list(eq + 1, false) : NULL;
		if (!next) {
			json_decref(o);
			o = NULL;
			break;
		}
		*eq = '\0';
		json_object_set_new(o, e, next);
	}
	free(copy);
	return o;
}

/* FIELD=VALUE typed as the admin API takes it (NULL: not a value of it) */
static json_t *typed(const char *field, const char *v)
{
	static const char *const ints[] = { "max_tokens_per_request", "rpm_limit", "queue_max_wait_ms", "tpm_limit",
					    "tpd_limit", "rpd_limit", "user_rpm_limit", NULL };
	char *end;
	for (int i = 0; ints[i]; i++)
		if (strcmp(field, ints[i]) == 0)
			return is_integer(v) ? json_integer(strtoll(v, NULL, 10)) : NULL;
	if (money_field(field)) {
		double d = strtod(v, &end);
		return *v && !*end ? json_real(d) : NULL; /* (NULL for nan and inf too) */
	}
	if (strcmp(field, "auto_pause") == 0 || strcmp(field, "replace_retired") == 0)
		return strcmp(v, "true") == 0 ? json_true() : strcmp(v, "false") == 0 ? json_false() : NULL;
	if (strcmp(field, "allowed_models") == 0 || strcmp(field, "service_tiers") == 0)
		return word_list(v, false);
	if (strcmp(field, "alert_thresholds") == 0)
		return word_list(v, true);
	if (strcmp(field, "fallbacks") == 0)
		return fallbacks_value(v);
	if (strcmp(field, "default_service_tier") == 0 && !*v)
		return json_null(); /* Groq's own default */
	return json_string(v); /* name, rpm_mode, priority, default_service_tier: the gateway checks them */
}

/* set's arguments: FIELD=VALUE... into patch, --if-version N into *ver */
static int set_args(int argc, char **argv, json_t *patch, const char **ver)
{
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--if-version") == 0) {
			if (i + 1 == argc || !is_integer(argv[i + 1]))
				return die(EXIT_USAGE, "set: --if-version takes the team's version (a number, as get team shows it)");
			*ver = argv[++i];
			continue;
		}
		const char *eq = strchr(argv[i], '=');
		if (!eq || eq == argv[i])
			return die(EXIT_USAGE, "set: '%s' is not FIELD=VALUE", argv[i]);
		char *field = xstrndup(argv[i], (size_t)(eq - argv[i]));
		json_t *v = typed(field, eq + 1);
		if (v)
			json_object_set_new(patch, field, v);
		int rc = v ? EXIT_OK : die(EXIT_USAGE, "set: %s: not a value of that field", argv[i]);
		free(field);
		if (rc)
			return rc;
	}
	return json_object_size(patch) ? EXIT_OK : die(EXIT_USAGE, "set: nothing to change (FIELD=VALUE...)");
}

/* set team ID [--if-version N] FIELD=VALUE...: a PATCH guarded by the
 * version read first, or by the one given (a script's read-modify-write),
 * so a change made meanwhile is a conflict (exit 4), never overwritten */
static int cmd_set(struct ctl *c, int argc, char **argv)
{
	if (argc < 3 || strcmp(argv[0], "team") != 0)
		return usage();
	json_t *t = NULL, *patch = json_object(), *out = NULL;
	const char *given = NULL;
	char *path = xconcat("/admin/v1/teams/", argv[1], NULL);
	int rc = set_args(argc - 2, argv + 2, patch, &given);
	if (rc == EXIT_OK && !given)
		rc = get_json(c, path, &t);
	if (rc == EXIT_OK) {
		char ver[32];
		snprintf(ver, sizeof ver, "%lld",
			 given ? strtoll(given, NULL, 10) : (long long)json_integer_value(json_object_get(t, "version")));
		rc = send_json(c, "PATCH", path, patch, ver, &out, 200);
	}
	if (rc == EXIT_OK)
		printf("team %s: version %lld\n", argv[1], (long long)json_integer_value(json_object_get(out, "version")));
	json_decref(t);
	json_decref(patch);
	json_decref(out);
	free(path);
	return rc;
}

static int post_simple(struct ctl *c, const char *path, json_t *body, const char *done)
{
	json_t *out = NULL;
	int rc = send_json(c, "POST", path, body, NULL, &out, 200);
	if (rc == EXIT_OK && done)
		printf("%s\n", done);
	json_decref(out);
	json_decref(body);
	return rc;
}

static int cmd_pause(struct ctl *c, int argc, char **argv, bool pause)
{
	if (argc < 1)
		return usage();
	const char *reason = opt(argc, argv, "--reason");
	if (pause && !reason)
		return die(EXIT_USAGE, "pause: --reason TEXT is required (every caller sees it)");
	char *path = xasprintf("/admin/v1/teams/%s/%s", argv[0], pause ? "pause" : "resume");
	char done[160];
	snprintf(done, sizeof done, "team %s %s", argv[0], pause ? "paused" : "resumed");
	int rc = post_simple(c, path, pause ? json_pack("{s:s}", "reason", reason) : json_object(), done);
	free(path);
	return rc;
}

static int cmd_token(struct ctl *c, int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[0], "issue") == 0) {
		const char *key = opt(argc, argv, "--key"), *label = opt(argc, argv, "--label");
		if (!key)
			return die(EXIT_USAGE, "token issue: --key NAME (the upstream key its calls use) is required");
		char *path = xasprintf("/admin/v1/teams/%s/tokens", argv[1]);
		json_t *out = NULL, *body = json_pack("{s:s,s:s}", "key", key, "label", label ? label : "groqctl");
		int rc = send_json(c, "POST", path, body, NULL, &out, 201);
		json_decref(body);
		free(path);
		if (rc == EXIT_OK) /* the token, once, and nothing else */
			printf("%s\n", json_string_value(json_object_get(out, "token")));
		json_decref(out);
		return rc;
	}
	if (argc == 3 && strcmp(argv[0], "revoke") == 0) {
		char *path = xasprintf("/admin/v1/teams/%s/tokens/%s", argv[1], argv[2]);
		json_t *out = NULL;
		int rc = send_json(c, "DELETE", path, NULL, NULL, &out, 200);
		if (rc == EXIT_OK)
			printf("token %s revoked\n", argv[2]);
		json_decref(out);
		free(path);
		return rc;
	}
	return usage();
}

/* ---- rotation ------------------------------------------------------------------------ */

static char *read_secret(const char *file)
{
	char *cause = NULL;
	if (file) {
		char *s = token_file_read(file, &cause);
		if (!s) {
			die(EXIT_ERR, "%s", cause);
			free(cause);
		}
		return s;
	}
	char line[512];
	if (isatty(0))
		fprintf(stderr, "the new Groq key (not shown): ");
	if (!fgets(line, sizeof line, stdin))
		return NULL;
	char *s = xstrdup(str_trim(line));
	secret_wipe(line, sizeof line);
	return s;
}

static int cmd_rotate(struct ctl *c, int argc, char **argv)
{
	if (argc < 2)
		return usage();
	const char *key = argv[0], *step = argv[1];
	char *path;
	json_t *out = NULL, *body;
	int rc;
	if (strcmp(step, "status") == 0) {
		path = xasprintf("/admin/v1/keys/%s/rotation", key);
		rc = get_json(c, path, &out);
		if (rc == EXIT_OK)
			print_json(out);
		json_decref(out);
		free(path);
		return rc;
	}
	if (strcmp(step, "start") == 0) {
		const char *file = opt(argc, argv, "--secret-file");
		char *s = read_secret(file);
		if (!s) /* (a file's problem is said already) */
			return file ? EXIT_ERR : die(EXIT_USAGE, "rotate start: the new key comes from --secret-file FILE or stdin");
		body = json_pack("{s:s}", "new_secret", s);
		secret_free(s);
		path = xasprintf("/admin/v1/keys/%s/rotation", key);
	} else if (strcmp(step, "deploy") == 0 || strcmp(step, "switch") == 0 || strcmp(step, "abort") == 0 ||
		   strcmp(step, "secret-updated") == 0 || strcmp(step, "complete") == 0) {
		if (strcmp(step, "complete") == 0 && !flag(argc, argv, "--confirm"))
			return die(EXIT_USAGE, "rotate complete erases the old key: delete it in the Groq Console, then add --confirm");
		body = flag(argc, argv, "--confirm") ? json_pack("{s:b}", "confirm", 1) : json_object();
		path = xasprintf("/admin/v1/keys/%s/rotation/%s", key, step);
	} else {
		return usage();
	}
	rc = send_json(c, "POST", path, body, NULL, &out, 200);
	json_t *s = json_object_get(body, "new_secret");
	if (json_is_string(s))
		secret_wipe((char *)json_string_value(s), json_string_length(s));
	json_decref(body);
	if (rc == EXIT_OK)
		printf("key %s: %s\n", key,
		       json_string_value(json_object_get(json_object_get(out, "rotation"), "step"))
			       ? json_string_value(json_object_get(json_object_get(out, "rotation"), "step"))
			       : "no rotation (done)");
	json_decref(out);
	free(path);
	return rc;
}

/* ---- main ---------------------------------------------------------------------------------- */

/* everything main does but free c (whatever way this returns) */
static int run(struct ctl *c, int argc, char **argv)
{
	const char *context = NULL, *config = NULL, *token_file = NULL;
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage();
			return EXIT_OK;
		} else if (strcmp(a, "--version") == 0) {
			printf("groqctl %s\n", GG_VERSION);
			return EXIT_OK;
		} else if (!v) {
			return usage();
		} else if (strcmp(a, "--context") == 0) {
			context = v;
		} else if (strcmp(a, "--gateway") == 0) {
			c->gateway = xstrdup(v);
		} else if (strcmp(a, "--token-file") == 0) {
			token_file = v;
		} else if (strcmp(a, "--config") == 0) {
			config = v;
		} else if (strcmp(a, "--cacert") == 0) {
			c->cacert = xstrdup(v);
		} else if (strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) {
			c->out = v;
		} else if (strcmp(a, "--token") == 0) {
			return die(EXIT_USAGE, "the admin token is never taken on the command line: use --token-file FILE");
		} else {
			return usage();
		}
		i++;
	}
	if (i >= argc)
		return usage();
	/* -o may also come after the command, as kubectl takes it */
	for (int k = i; k + 1 < argc; k++)
		if (strcmp(argv[k], "-o") == 0) {
			c->out = argv[k + 1];
			memmove(&argv[k], &argv[k + 2], (size_t)(argc - k - 2) * sizeof *argv);
			argc -= 2;
			break;
		}
	if (strcmp(c->out, "table") && strcmp(c->out, "json") && strcmp(c->out, "csv"))
		return die(EXIT_USAGE, "-o must be table, json or csv");
	char *cause = NULL;
	if (token_file && !(c->token = token_file_read(token_file, &cause))) {
		int rc = die(EXIT_ERR, "%s", cause);
		free(cause);
		return rc;
	}
	int rc = load_context(c, config, context);
	if (rc)
		return rc;
	if (!c->gateway || !c->token)
		return die(EXIT_USAGE, "no gateway: give --context NAME (groqtop's configuration) or --gateway URL --token-file FILE");
	struct winsize ws;
	if (isatty(1) && ioctl(1, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 40)
		c->width = ws.ws_col;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	const char *cmd = argv[i];
	int n = argc - i - 1;
	char **rest = argv + i + 1;
	if (strcmp(cmd, "get") == 0)
		rc = cmd_get(c, n, rest);
	else if (strcmp(cmd, "set") == 0)
		rc = cmd_set(c, n, rest);
	else if (strcmp(cmd, "pause") == 0)
		rc = cmd_pause(c, n, rest, true);
	else if (strcmp(cmd, "resume") == 0)
		rc = cmd_pause(c, n, rest, false);
	else if (strcmp(cmd, "token") == 0)
		rc = cmd_token(c, n, rest);
	else if (strcmp(cmd, "rotate") == 0)
		rc = cmd_rotate(c, n, rest);
	else if (strcmp(cmd, "emergency-stop") == 0) {
		const char *reason = opt(n, rest, "--reason");
		rc = reason ? post_simple(c, "/admin/v1/emergency-stop", json_pack("{s:s}", "reason", reason),
					  "emergency stop: every active team paused")
			    : die(EXIT_USAGE, "emergency-stop: --reason TEXT is required");
	} else if (strcmp(cmd, "resume-all") == 0)
		rc = post_simple(c, "/admin/v1/emergency-stop/resume", json_object(), "emergency stop lifted");
	else if (strcmp(cmd, "export") == 0)
		rc = cmd_export(c);
	else if (strcmp(cmd, "diff") == 0)
		rc = cmd_apply(c, n, rest, true);
	else if (strcmp(cmd, "apply") == 0)
		rc = cmd_apply(c, n, rest, false);
	else
		rc = usage();
	curl_global_cleanup();
	return rc;
}

int main(int argc, char **argv)
{
	struct ctl c = { .out = "table", .width = 80 };
	int rc = run(&c, argc, argv);
	secret_free(c.token);
	free(c.gateway);
	free(c.cacert);
	return rc;
}
