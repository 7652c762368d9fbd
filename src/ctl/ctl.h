/* ctl.h — groqctl's three files: groqctl.c (contexts, tables, the
 * commands, main) calls org.c (the organisation as code: export, diff,
 * apply); both call api.c (the admin API over HTTP, errors, arguments). */
#ifndef GG_CTL_H
#define GG_CTL_H

#include <jansson.h>
#include <stdbool.h>

enum { EXIT_OK = 0, EXIT_ERR = 1, EXIT_USAGE = 2, EXIT_DIFF = 3, EXIT_CONFLICT = 4 };

struct ctl {
	char *gateway, *token, *cacert;
	const char *out; /* "table", "json", "csv" */
	int width;
};

/* ---- api.c ---- */
/* prints "groqctl: MESSAGE" on stderr; returns code */
int die(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* GET path: 0 with *out (the caller's), or an exit code (the error said) */
int get_json(struct ctl *c, const char *path, json_t **out);
/* a write: method path with body (If-Match when given), answered `ok`
 * (200 also takes 201): as get_json */
int send_json(struct ctl *c, const char *method, const char *path, json_t *body, const char *if_match,
		     json_t **out, long ok);
/* j on stdout, indented */
void print_json(json_t *j);
/* the value after --name in argv, or NULL */
const char *opt(int argc, char **argv, const char *name);
/* --name is in argv */
bool flag(int argc, char **argv, const char *name);
/* the usage text on stderr; returns EXIT_USAGE */
int usage(void);
/* a team field in USD (the gateway keeps it in nano-dollars) */
bool money_field(const char *field);

/* org.c: export; diff (diff_only) and apply */
int cmd_apply(struct ctl *c, int argc, char **argv, bool diff_only);
int cmd_export(struct ctl *c);

#endif
