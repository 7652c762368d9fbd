/* org.c — groqctl's organisation as code: the file (libconfig, or JSON
 * when it begins with '{') read into POST /admin/v1/apply's shape, the
 * changes printed per field (diff, apply --dry-run), and export, which
 * writes the file that diff then finds equal. */
#include <libconfig.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "util.h"

/* ---- the organisation as code ------------------------------------------------------------ */

static json_t *setting_json(config_setting_t *s)
{
	switch (config_setting_type(s)) {
	case CONFIG_TYPE_INT: return json_integer(config_setting_get_int(s));
	case CONFIG_TYPE_INT64: return json_integer(config_setting_get_int64(s));
	case CONFIG_TYPE_FLOAT: return json_real(config_setting_get_float(s));
	case CONFIG_TYPE_STRING: return json_string(config_setting_get_string(s));
	case CONFIG_TYPE_BOOL: return json_boolean(config_setting_get_bool(s));
	case CONFIG_TYPE_GROUP: {
		json_t *o = json_object();
		for (int i = 0; i < config_setting_length(s); i++) {
			config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
			json_object_set_new(o, config_setting_name(e), setting_json(e));
		}
		return o;
	}
	case CONFIG_TYPE_ARRAY:
	case CONFIG_TYPE_LIST: {
		json_t *a = json_array();
		for (int i = 0; i < config_setting_length(s); i++)
			json_array_append_new(a, setting_json(config_setting_get_elem(s, (unsigned)i)));
		return a;
	}
	default: return json_null();
	}
}

/* the file's teams (and its aliases, when it lists them: *aliases, else
 * NULL): JSON when it begins with '{', libconfig otherwise */
static json_t *read_org(const char *file, json_t **aliases)
{
	*aliases = NULL;
	char *cause = NULL;
	size_t len;
	char *text = file_read(file, 16 << 20, &len, &cause);
	if (!text) {
		die(EXIT_ERR, "%s", cause);
		free(cause);
		return NULL;
	}
	const char *p = text;
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	json_t *teams = NULL;
	if (*p == '{') {
		json_error_t e;
		json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, &e);
		if (!j)
			die(EXIT_ERR, "%s:%d: %s", file, e.line, e.text);
		teams = json_incref(json_object_get(j, "teams"));
		*aliases = json_incref(json_object_get(j, "aliases"));
		json_decref(j);
	} else {
		config_t cf;
		config_init(&cf);
		if (config_read_string(&cf, text) != CONFIG_TRUE)
			die(EXIT_ERR, "%s:%d: %s", file, config_error_line(&cf), config_error_text(&cf));
		else if (config_lookup(&cf, "teams"))
			teams = setting_json(config_lookup(&cf, "teams"));
		if (config_lookup(&cf, "aliases"))
			*aliases = setting_json(config_lookup(&cf, "aliases"));
		/* fallbacks: model ids are not libconfig names, so the file
		 * lists them as ( { model = "A"; next = [ "B", ... ]; }, ... ) */
		size_t i;
		json_t *t;
		json_array_foreach(teams, i, t) {
			json_t *fb = json_object_get(t, "fallbacks");
			if (!json_is_array(fb))
				continue;
			json_t *o = json_object();
			size_t k;
			json_t *e;
			json_array_foreach(fb, k, e) {
				const char *m = json_string_value(json_object_get(e, "model"));
				if (m)
					json_object_set(o, m, json_object_get(e, "next"));
			}
			json_object_set_new(t, "fallbacks", o);
		}
		config_destroy(&cf);
	}
	free(text);
	if (teams && !json_is_array(teams)) {
		json_decref(teams);
		teams = NULL;
		die(EXIT_ERR, "%s: 'teams' must be a list of teams", file);
	} else if (!teams) {
		die(EXIT_ERR, "%s: no 'teams' list", file);
	}
	return teams;
}

/* the changes as a readable per-field diff; returns how many change */
static int print_changes(json_t *changes)
{
	int n = 0;
	size_t i;
	json_t *ch;
	json_array_foreach(changes, i, ch) {
		const char *action = json_string_value(json_object_get(ch, "action"));
		const char *team = json_string_value(json_object_get(ch, "team"));
		const char *alias = json_string_value(json_object_get(ch, "alias"));
		if (strcmp(action, "unchanged") == 0)
			continue;
		n++;
		printf("%s %s %s\n", strcmp(action, "create") == 0 ? "+" : strcmp(action, "delete") == 0 ? "-" : "~",
		       team ? "team" : "alias", team ? team : alias ? alias : "?");
		const char *f;
		json_t *d;
		json_object_foreach(json_object_get(ch, "diff"), f, d) {
			char *b = json_dumps(json_object_get(d, "before"), JSON_ENCODE_ANY | JSON_COMPACT);
			char *a = json_dumps(json_object_get(d, "after"), JSON_ENCODE_ANY | JSON_COMPACT);
			printf("    %-24s %s -> %s\n", f, b, a);
			free(a);
			free(b);
		}
	}
	return n;
}

int cmd_apply(struct ctl *c, int argc, char **argv, bool diff_only)
{
	const char *file = opt(argc, argv, "-f");
	if (!file)
		return usage();
	bool dry = diff_only || flag(argc, argv, "--dry-run"), prune = flag(argc, argv, "--prune");
	if (prune && !dry && !flag(argc, argv, "--confirm"))
		return die(EXIT_USAGE, "apply --prune pauses every team the file does not list: add --confirm (or --dry-run)");
	json_t *aliases, *teams = read_org(file, &aliases);
	if (!teams)
		return EXIT_ERR;
	int rc;
	json_t *body = json_pack("{s:o,s:b,s:b}", "teams", teams, "prune", prune, "dry_run", dry), *out = NULL;
	if (aliases)
		json_object_set_new(body, "aliases", aliases);
	rc = send_json(c, "POST", "/admin/v1/apply", body, NULL, &out, 200);
	json_decref(body);
	if (rc != EXIT_OK)
		return rc;
	if (strcmp(c->out, "json") == 0) {
		print_json(out);
		int n = 0;
		size_t i;
		json_t *ch;
		json_array_foreach(json_object_get(out, "changes"), i, ch) n +=
			strcmp(json_string_value(json_object_get(ch, "action")), "unchanged") != 0;
		json_decref(out);
		return diff_only && n ? EXIT_DIFF : EXIT_OK;
	}
	int n = print_changes(json_object_get(out, "changes"));
	json_decref(out);
	if (diff_only)
		return n ? EXIT_DIFF : EXIT_OK;
	printf(dry ? "%d change%s (dry run: nothing applied)\n" : "%d change%s applied\n", n, n == 1 ? "" : "s");
	return EXIT_OK;
}

static const char *const export_fields[] = { "name", "allowed_models", "max_tokens_per_request", "rpm_limit",
					     "rpm_mode", "queue_max_wait_ms", "monthly_budget_usd", "alert_thresholds",
					     "auto_pause", "priority", "tpm_limit", "tpd_limit", "rpd_limit",
					     "daily_budget_usd", "weekly_budget_usd", "user_daily_budget_usd",
					     "user_rpm_limit", "replace_retired", "fallbacks", "service_tiers",
					     "default_service_tier", NULL };

/* a string as libconfig reads it back: quotes and backslashes escaped,
 * control characters as \xNN (libconfig knows no \uNNNN) */
static void conf_string(const char *s)
{
	putchar('"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", stdout);
		else if (*p == '\t')
			fputs("\\t", stdout);
		else if (*p < 0x20 || *p == 0x7f)
			printf("\\x%02x", *p);
		else
			putchar(*p);
	}
	putchar('"');
}

/* USD as the gateway keeps it, to the nano-dollar: %.9f without its
 * trailing zeros (one decimal kept, so libconfig reads a float) */
static void conf_usd(double usd)
{
	char s[64];
	int n = snprintf(s, sizeof s, "%.9f", usd);
	while (n > 2 && s[n - 1] == '0' && s[n - 2] != '.')
		s[--n] = '\0';
	fputs(s, stdout);
}

/* a JSON value as libconfig writes it: integers beyond 32 bits with its
 * L suffix (without it libconfig reads 5000000000 as 705032704) */
static void conf_value(json_t *v)
{
	if (json_is_string(v)) {
		conf_string(json_string_value(v));
	} else if (json_is_array(v)) {
		fputs("[ ", stdout);
		size_t i;
		json_t *e;
		json_array_foreach(v, i, e) {
			if (i)
				fputs(", ", stdout);
			conf_value(e);
		}
		fputs(" ]", stdout);
	} else if (json_is_real(v)) {
		conf_usd(json_real_value(v));
	} else if (json_is_integer(v)) {
		json_int_t n = json_integer_value(v);
		printf(n < INT32_MIN || n > INT32_MAX ? "%lldL" : "%lld", (long long)n);
	} else {
		fputs(json_is_true(v) ? "true" : "false", stdout);
	}
}

int cmd_export(struct ctl *c)
{
	json_t *j;
	int rc = get_json(c, "/admin/v1/teams", &j);
	if (rc)
		return rc;
	json_t *teams = json_array();
	size_t i;
	json_t *t;
	json_array_foreach(json_object_get(j, "teams"), i, t) {
		json_t *o = json_pack("{s:O}", "id", json_object_get(t, "id"));
		for (int f = 0; export_fields[f]; f++)
			if (json_object_get(t, export_fields[f]) && !json_is_null(json_object_get(t, export_fields[f])))
				json_object_set(o, export_fields[f], json_object_get(t, export_fields[f]));
		json_array_append_new(teams, o);
	}
	/* the operators' aliases (the configuration file's are not the organisation's file's) */
	json_t *al, *aliases = json_array();
	if ((rc = get_json(c, "/admin/v1/aliases", &al))) {
		json_decref(teams);
		json_decref(aliases);
		json_decref(j);
		return rc;
	}
	json_array_foreach(json_object_get(al, "aliases"), i, t)
		if (str_eq(json_string_value(json_object_get(t, "source")), "admin"))
			json_array_append_new(aliases, json_pack("{s:O,s:O}", "alias", json_object_get(t, "alias"), "model",
								 json_object_get(t, "model")));
	json_decref(al);
	if (strcmp(c->out, "json") == 0) {
		json_t *doc = json_pack("{s:o,s:o}", "teams", teams, "aliases", aliases);
		print_json(doc);
		json_decref(doc);
	} else {
		printf("# the organisation's teams, as groqctl export wrote them: what an operator sets,\n"
		       "# never secrets or live figures. groqctl diff -f FILE, groqctl apply -f FILE.\n"
		       "teams = (\n");
		json_array_foreach(teams, i, t) {
			printf("  {\n");
			const char *k;
			json_t *v;
			json_object_foreach(t, k, v) {
				printf("    %s = ", k);
				if (json_is_object(v)) { /* fallbacks, as read_org reads them */
					const char *m;
					json_t *next;
					const char *sep = "";
					printf("(");
					json_object_foreach(v, m, next) {
						json_t *ms = json_string(m);
						printf("%s { model = ", sep);
						sep = ",";
						conf_value(ms);
						printf("; next = ");
						conf_value(next);
						printf("; }");
						json_decref(ms);
					}
					printf(" )");
				} else {
					conf_value(v);
				}
				printf(";\n");
			}
			printf("  }%s\n", i + 1 < json_array_size(teams) ? "," : "");
		}
		printf(");\n# models by role, set by operators: requests for an alias go to its model\naliases = (");
		json_array_foreach(aliases, i, t) {
			printf("%s\n  { alias = ", i ? "," : "");
			conf_value(json_object_get(t, "alias"));
			printf("; model = ");
			conf_value(json_object_get(t, "model"));
			printf("; }");
		}
		printf("%s);\n", json_array_size(aliases) ? "\n" : " ");
		json_decref(teams);
		json_decref(aliases);
	}
	json_decref(j);
	return EXIT_OK;
}

