/* theme.c — themes map UI roles to colours and attributes. A built-in
 * default means groqtop works with no files; themes/NAME.conf (libconfig)
 * override it role by role. */
#include "console.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "util.h"

static const char *const colour_names[] = { "black", "red", "green", "yellow", "blue", "magenta", "cyan", "white" };

static void set(struct theme *t, int r, short fg, short bg, bool bold, bool rev)
{
	t->s[r] = (struct role_style){ fg, bg, bold, rev, false, false };
}

void theme_default(struct theme *t)
{
	memset(t, 0, sizeof *t);
	snprintf(t->name, sizeof t->name, "default");
	for (int i = 0; i < R_COUNT; i++)
		set(t, i, -1, -1, false, false);
	set(t, R_HEADER, 7, 4, true, false);
	set(t, R_LIVE, 2, 4, true, false);
	set(t, R_STALE, 3, 4, true, false);
	set(t, R_DOWN, 7, 1, true, false);
	set(t, R_TITLE, 6, -1, true, false);
	set(t, R_TABLE_HEAD, 0, 6, false, false);
	set(t, R_SELECTED, 0, 6, false, false);
	set(t, R_SELECTED_DIM, -1, -1, false, true);
	set(t, R_GAUGE_OK, 2, -1, false, false);
	set(t, R_GAUGE_50, 6, -1, false, false);
	set(t, R_GAUGE_80, 3, -1, true, false);
	set(t, R_GAUGE_95, 1, -1, true, false);
	set(t, R_GAUGE_EMPTY, 8, -1, false, false);
	set(t, R_ACTIVE, 2, -1, false, false);
	set(t, R_PAUSED, 3, -1, true, false);
	set(t, R_BUDGET_PAUSED, 1, -1, true, false);
	set(t, R_DIM, 8, -1, false, false);
	set(t, R_FOOTER, 7, 0, false, false);
	set(t, R_FOOTER_KEY, 0, 6, false, false);
	set(t, R_DIALOG, 7, 0, false, false);
	set(t, R_DIALOG_TITLE, 0, 3, true, false);
	set(t, R_ERROR, 1, -1, true, false);
	set(t, R_OK, 2, -1, true, false);
	set(t, R_SPARK, 6, -1, false, false);
	set(t, R_ALERT, 3, -1, false, false);
	set(t, R_BORDER, 4, -1, false, false);
	set(t, R_HILITE, 0, 3, true, false);
}

static int colour(conf *c, conf_node *n, const char *name, short *out, char **cause)
{
	conf_node *v = conf_child(n, name);
	if (!v)
		return 0;
	const char *s = conf_elem_str(v);
	double d;
	if (s) {
		if (strcmp(s, "default") == 0) {
			*out = -1;
			return 1;
		}
		for (size_t i = 0; i < ARRAY_LEN(colour_names); i++)
			if (strcmp(s, colour_names[i]) == 0) {
				*out = (short)i;
				return 1;
			}
		if (strncmp(s, "bright", 6) == 0)
			for (size_t i = 0; i < ARRAY_LEN(colour_names); i++)
				if (strcmp(s + 6 + (s[6] == '-'), colour_names[i]) == 0) {
					*out = (short)(i + 8);
					return 1;
				}
	} else if (conf_elem_num(v, &d) == 0 && d >= -1 && d <= 255) {
		*out = (short)d;
		return 1;
	}
	return conf_fail(c, n, name, cause, "must be a colour name (black, red, ..., brightblue, default) or 0..255");
}

static int find(const char *name, char *out, size_t n)
{
	if (strchr(name, '/')) {
		snprintf(out, n, "%s", name);
		return access(out, R_OK) == 0 ? 0 : -1;
	}
	char exe[PATH_MAX] = "";
	ssize_t l = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (l > 0) {
		exe[l] = '\0';
		char *sl = strrchr(exe, '/');
		if (sl)
			*sl = '\0';
	}
	const char *env = getenv("GROQTOP_THEMES");
	const char *dirs[] = { env, "themes", exe[0] ? exe : NULL, exe[0] ? exe : NULL, "/usr/local/share/groqgate/themes",
			       "/usr/share/groqgate/themes" };
	const char *suffix[] = { "", "", "/../themes", "/../share/groqgate/themes", "", "" };
	for (size_t i = 0; i < ARRAY_LEN(dirs); i++) {
		if (!dirs[i])
			continue;
		snprintf(out, n, "%s%s/%s.conf", dirs[i], suffix[i], name);
		if (access(out, R_OK) == 0)
			return 0;
	}
	return -1;
}

int theme_load(struct theme *t, const char *name, char **cause)
{
	theme_default(t);
	char path[PATH_MAX + 64];
	if (find(name, path, sizeof path) != 0) {
		if (strcmp(name, "default") == 0)
			return 0; /* the built-in one */
		return fail(cause, "theme '%s' not found (looked in $GROQTOP_THEMES, ./themes and the install's themes folder)", name);
	}
	conf *c = conf_load(path, cause);
	if (!c)
		return -1;
	int rc = -1;
	conf_node *roles = conf_child(conf_root(c), "roles");
	const char *nm = NULL;
	conf_str(c, conf_root(c), "name", &nm, NULL);
	snprintf(t->name, sizeof t->name, "%s", nm ? nm : name);
	for (int i = 0; i < conf_len(roles); i++) {
		conf_node *r = conf_elem(roles, i);
		int role = role_by_label(conf_name(r));
		if (role < 0) {
			conf_fail(c, roles, conf_name(r), cause, "unknown UI role (see themes/default.conf for the list)");
			goto out;
		}
		struct role_style *s = &t->s[role];
		if (colour(c, r, "fg", &s->fg, cause) < 0 || colour(c, r, "bg", &s->bg, cause) < 0 ||
		    conf_bool(c, r, "bold", &s->bold, cause) < 0 || conf_bool(c, r, "reverse", &s->reverse, cause) < 0 ||
		    conf_bool(c, r, "underline", &s->underline, cause) < 0 || conf_bool(c, r, "dim", &s->dim, cause) < 0)
			goto out;
	}
	rc = 0;
out:
	conf_free(c);
	return rc;
}
