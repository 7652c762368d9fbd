/* audit.c — audited writes: a change and its audit record in one
 * transaction (actor, role, operator label, action, target, before and
 * after); and the admin API's error answer. Beneath the admin routes,
 * the rotation steps and the budget's automatic pauses, which all write
 * through here, so none of them calls another. */
#include "record.h"

#include <stdarg.h>
#include <stdlib.h>

#include "httpd.h"
#include "util.h"

void admin_error(struct hreq *req, int status, const char *code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *m = xvasprintf(fmt, ap);
	va_end(ap);
	httpd_send_json(req, status, json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", m));
	free(m);
}

int audit(struct gateway *g, const char *actor, const char *role, const char *op, const char *action,
	  const char *target, json_t *before, json_t *after, char **cause)
{
	char *b = before ? json_dumps(before, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	char *a = after ? json_dumps(after, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	int rc = store_audit(g->store, gw_now(g), actor, role, op && *op ? op : NULL, action, target, b, a, cause);
	free(b);
	free(a);
	return rc;
}

int audited_write(struct gateway *g, store_put_fn put, const void *obj, const char *actor, const char *role,
		  const char *op, const char *action, const char *target, json_t *before, json_t *after,
		  char **cause)
{
	struct store *s = g->store;
	if (store_begin(s, cause) != 0)
		return -1;
	int rc = put ? put(s, obj, cause) : 0;
	if (rc == 0 && (audit(g, actor, role, op, action, target, before, after, cause) != 0 || store_commit(s, cause) != 0))
		rc = -1;
	if (rc != 0)
		store_rollback(s);
	return rc;
}

int put_team(struct store *s, const void *o, char **cause)
{
	return store_put_team(s, o, cause);
}
int put_key(struct store *s, const void *o, char **cause)
{
	return store_put_key(s, o, cause);
}
