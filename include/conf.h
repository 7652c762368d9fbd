/* conf.h — the only door to libconfig. Loads a file and reads typed
 * settings; every error names the file, the line and the setting.
 * Getters return 1 when the setting was found and read, 0 when absent
 * (the out value is left untouched, so callers preset defaults), -1 on a
 * wrong type with *cause set. */
#ifndef GG_CONF_H
#define GG_CONF_H

#include <stdbool.h>
#include <stdint.h>

struct config_setting_t;
typedef struct config_setting_t conf_node;
typedef struct conf conf;

/* Returns NULL with *cause ("FILE:LINE: message") on a syntax error. */
conf *conf_load(const char *path, char **cause);
void conf_free(conf *c);
const char *conf_path(const conf *c);
conf_node *conf_root(conf *c);

/* Child by name (or dotted path); NULL when absent. */
conf_node *conf_child(conf_node *n, const char *name);
int conf_len(conf_node *n);           /* elements of a list/array/group */
conf_node *conf_elem(conf_node *n, int i);
int conf_line(conf_node *n);
const char *conf_name(conf_node *n);
bool conf_is_group(conf_node *n);
bool conf_is_aggregate(conf_node *n); /* list, array or group */

int conf_str(conf *c, conf_node *n, const char *name, const char **out, char **cause);
int conf_int(conf *c, conf_node *n, const char *name, int64_t *out, char **cause);
int conf_num(conf *c, conf_node *n, const char *name, double *out, char **cause);
int conf_bool(conf *c, conf_node *n, const char *name, bool *out, char **cause);
/* The value of a scalar element (of an array) as string/number. */
const char *conf_elem_str(conf_node *n);
int conf_elem_num(conf_node *n, double *out);
/* A message "FILE:LINE: setting.path: what" for n. */
int conf_fail(conf *c, conf_node *n, const char *name, char **cause, const char *what);

#endif
