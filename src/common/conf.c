/* conf.c — see conf.h. The one file that includes libconfig.h. */
#include "conf.h"

#include <libconfig.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

struct conf {
	config_t cfg;
	char *path;
};

conf *conf_load(const char *path, char **cause)
{
	conf *c = xcalloc(1, sizeof *c);
	config_init(&c->cfg);
	c->path = xstrdup(path);
	if (!config_read_file(&c->cfg, path)) {
		if (config_error_type(&c->cfg) == CONFIG_ERR_FILE_IO)
			fail(cause, "%s: cannot read file", path);
		else
			fail(cause, "%s:%d: %s", path, config_error_line(&c->cfg),
			     config_error_text(&c->cfg));
		conf_free(c);
		return NULL;
	}
	return c;
}

void conf_free(conf *c)
{
	if (!c)
		return;
	config_destroy(&c->cfg);
	free(c->path);
	free(c);
}

const char *conf_path(const conf *c)
{
	return c->path;
}

conf_node *conf_root(conf *c)
{
	return config_root_setting(&c->cfg);
}

conf_node *conf_child(conf_node *n, const char *name)
{
	return n ? config_setting_lookup(n, name) : NULL;
}

int conf_len(conf_node *n)
{
	return n ? config_setting_length(n) : 0;
}

conf_node *conf_elem(conf_node *n, int i)
{
	return config_setting_get_elem(n, (unsigned)i);
}

int conf_line(conf_node *n)
{
	return (int)config_setting_source_line(n);
}

const char *conf_name(conf_node *n)
{
	const char *s = config_setting_name(n);
	return s ? s : "";
}

bool conf_is_group(conf_node *n)
{
	return config_setting_is_group(n);
}

bool conf_is_aggregate(conf_node *n)
{
	return config_setting_is_aggregate(n);
}

static void node_path(conf_node *n, char *out, size_t outlen)
{
	/* builds "a.b.c" or "prices.[2].model" from the root down */
	const char *parts[16];
	char idx[16][16];
	int k = 0;
	for (conf_node *p = n; p && config_setting_parent(p) && k < 16; p = config_setting_parent(p)) {
		const char *nm = config_setting_name(p);
		if (nm) {
			parts[k] = nm;
		} else {
			snprintf(idx[k], sizeof idx[k], "[%d]", config_setting_index(p));
			parts[k] = idx[k];
		}
		k++;
	}
	out[0] = '\0';
	size_t len = 0;
	for (int i = k - 1; i >= 0; i--) {
		int w = snprintf(out + len, outlen - len, "%s%s", len ? "." : "", parts[i]);
		if (w < 0 || (size_t)w >= outlen - len)
			break;
		len += (size_t)w;
	}
}

int conf_fail(conf *c, conf_node *n, const char *name, char **cause, const char *what)
{
	char path[256];
	node_path(n, path, sizeof path);
	conf_node *child = name ? config_setting_get_member(n, name) : NULL;
	int line = conf_line(child ? child : n);
	if (name)
		return fail(cause, "%s:%d: %s%s%s: %s", c->path, line, path,
			    path[0] ? "." : "", name, what);
	return fail(cause, "%s:%d: %s: %s", c->path, line, path, what);
}

static conf_node *member(conf_node *n, const char *name)
{
	return n ? config_setting_get_member(n, name) : NULL;
}

int conf_str(conf *c, conf_node *n, const char *name, const char **out, char **cause)
{
	conf_node *m = member(n, name);
	if (!m)
		return 0;
	if (config_setting_type(m) != CONFIG_TYPE_STRING)
		return conf_fail(c, n, name, cause, "must be a string in double quotes");
	*out = config_setting_get_string(m);
	return 1;
}

int conf_int(conf *c, conf_node *n, const char *name, int64_t *out, char **cause)
{
	conf_node *m = member(n, name);
	if (!m)
		return 0;
	int t = config_setting_type(m);
	if (t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64) {
		*out = config_setting_get_int64(m);
		return 1;
	}
	return conf_fail(c, n, name, cause, "must be an integer");
}

int conf_num(conf *c, conf_node *n, const char *name, double *out, char **cause)
{
	conf_node *m = member(n, name);
	if (!m)
		return 0;
	int t = config_setting_type(m);
	if (t == CONFIG_TYPE_FLOAT)
		*out = config_setting_get_float(m);
	else if (t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64)
		*out = (double)config_setting_get_int64(m);
	else
		return conf_fail(c, n, name, cause, "must be a number");
	return 1;
}

int conf_bool(conf *c, conf_node *n, const char *name, bool *out, char **cause)
{
	conf_node *m = member(n, name);
	if (!m)
		return 0;
	if (config_setting_type(m) != CONFIG_TYPE_BOOL)
		return conf_fail(c, n, name, cause, "must be true or false");
	*out = config_setting_get_bool(m);
	return 1;
}

const char *conf_elem_str(conf_node *n)
{
	return config_setting_type(n) == CONFIG_TYPE_STRING ? config_setting_get_string(n) : NULL;
}

int conf_elem_num(conf_node *n, double *out)
{
	int t = config_setting_type(n);
	if (t == CONFIG_TYPE_FLOAT)
		*out = config_setting_get_float(n);
	else if (t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64)
		*out = (double)config_setting_get_int64(n);
	else
		return -1;
	return 0;
}
