/* record.h — what the gateway records beside the ledger: alerts (and the
 * webhook), metrics, audited writes. Calls store, net and core. */
#ifndef GG_RECORD_H
#define GG_RECORD_H

#include "store.h" /* the rooms below */

/* ---- alerts.c: alert records and the webhook ---------------------- */
void alert_raise(struct gateway *g, const char *kind, const char *team, const char *message);
/* alert_raise unless an alert of this kind and team whose message holds
 * needle was made since `since` (by this replica or another, before a
 * restart): true when raised. For alerts made once a window. */
bool alert_raise_once(struct gateway *g, const char *kind, const char *team, const char *needle, int64_t since,
		      const char *message);
json_t *alerts_recent(struct gateway *g, int limit);
/* an alert acknowledged: the recent list (the overview's) says so too */
void alert_acked(struct gateway *g, int64_t id, const char *by, int64_t at);

/* ---- metrics.c: Prometheus text ----------------------------------- */
struct metrics;
struct metrics *metrics_new(void);
void metrics_free(struct metrics *m);
void metrics_request(struct metrics *m, const char *team, const char *model, int status,
		     int64_t prompt, int64_t completion, int64_t cost, int64_t latency_us);
void metrics_reject(struct metrics *m, const char *reason);
void metrics_alert(struct metrics *m, const char *kind);
void metrics_tier(struct metrics *m, const char *tier); /* a request Groq answered (tier NULL: Groq's default) */
void metrics_upstream_error(struct metrics *m, int status);
void metrics_render(struct metrics *m, struct gateway *g, buf *out);
void metrics_label(buf *out, const char *value); /* a label value, escaped */

/* ---- audit.c: audited writes (beneath admin, rotation, budget) ------- */
void admin_error(struct hreq *req, int status, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Records an audit entry inside the current transaction. */
int audit(struct gateway *g, const char *actor, const char *role, const char *op, const char *action,
	  const char *target, json_t *before, json_t *after, char **cause);
/* Writes obj with put (NULL: nothing but the audit) and its audit record in
 * one transaction; rolls back and returns -1 with *cause on any failure. */
typedef int (*store_put_fn)(struct store *s, const void *obj, char **cause);
int audited_write(struct gateway *g, store_put_fn put, const void *obj, const char *actor, const char *role,
		  const char *op, const char *action, const char *target, json_t *before, json_t *after,
		  char **cause);
int put_team(struct store *s, const void *o, char **cause);
int put_key(struct store *s, const void *o, char **cause);

#endif
