/* store.c — the store's functions, each handed to the engine the store
 * was opened with (store.h). No SQL here. */
#include "store.h"

#include "util.h"

const char *store_kind(const struct store *s)
{
	return s->ops->kind;
}

void store_close(struct store *s)
{
	if (s)
		s->ops->close(s);
}

int store_schema_version(struct store *s)
{
	return s->ops->schema_version(s);
}

void store_set_wal_limit(struct store *s, int frames)
{
	s->ops->set_wal_limit(s, frames);
}

int store_probe(struct store *s, int64_t now, char **cause)
{
	return s->ops->probe(s, now, cause);
}

int store_begin(struct store *s, char **cause)
{
	return s->ops->begin(s, cause);
}

int store_try_begin(struct store *s, char **cause)
{
	return s->ops->try_begin(s, cause);
}

int store_commit(struct store *s, char **cause)
{
	return s->ops->commit(s, cause);
}

void store_rollback(struct store *s)
{
	s->ops->rollback(s);
}

int store_load(struct store *s, struct registry *r, int64_t now, char **cause)
{
	return s->ops->load(s, r, now, cause);
}

int store_put_team(struct store *s, const struct team *t, char **cause)
{
	return s->ops->put_team(s, t, cause);
}

int store_put_key(struct store *s, const struct ukey *k, char **cause)
{
	return s->ops->put_key(s, k, cause);
}

int store_put_file(struct store *s, const struct bfile *f, char **cause)
{
	return s->ops->put_file(s, f, cause);
}

int store_put_batch(struct store *s, const struct batch *b, char **cause)
{
	return s->ops->put_batch(s, b, cause);
}

int store_put_alias(struct store *s, const char *alias, const char *model, int64_t at, char **cause)
{
	return s->ops->put_alias(s, alias, model, at, cause);
}

int store_put_token(struct store *s, const struct ctoken *t, char **cause)
{
	return s->ops->put_token(s, t, cause);
}

int store_ledger(struct store *s, const struct ledger_row *row, char **cause)
{
	return s->ops->ledger(s, row, cause);
}

int64_t store_ledger_last_id(struct store *s, char **cause)
{
	return s->ops->ledger_last_id(s, cause);
}

int store_scrub(struct store *s, char **cause)
{
	return s->ops->scrub(s, cause);
}

void store_sync_fd(struct store *s, int fd)
{
	s->ops->sync_fd(s, fd);
}

int store_audit(struct store *s, int64_t ts, const char *actor, const char *role, const char *op, const char *action, const char *target, const char *before, const char *after, char **cause)
{
	return s->ops->audit(s, ts, actor, role, op, action, target, before, after, cause);
}

int store_alert(struct store *s, int64_t ts, const char *kind, const char *team, const char *message, int64_t *id, char **cause)
{
	return s->ops->alert(s, ts, kind, team, message, id, cause);
}

json_t *store_alert_get(struct store *s, int64_t id, char **cause)
{
	return s->ops->alert_get(s, id, cause);
}

int store_alert_ack(struct store *s, int64_t id, const char *by, int64_t at, char **cause)
{
	return s->ops->alert_ack(s, id, by, at, cause);
}

json_t *store_audit_list(struct store *s, int limit, int64_t before_id, const char *team, const char *actor, const char *action, char **cause)
{
	return s->ops->audit_list(s, limit, before_id, team, actor, action, cause);
}

int store_recent_sent(struct store *s, int64_t from, void (*fn)(void *arg, const char *key, const char *model, int64_t ts, int64_t in, int64_t out), void *arg, char **cause)
{
	return s->ops->recent_sent(s, from, fn, arg, cause);
}

int store_spend(struct store *s, int64_t from, int64_t to, unsigned groups,
		void (*fn)(void *arg, const char *const *keys, const int64_t *sums), void *arg, char **cause)
{
	return s->ops->spend(s, from, to, groups, fn, arg, cause);
}

json_t *store_usage_breakdown(struct store *s, const char *team, int64_t from, char **cause)
{
	return s->ops->usage_breakdown(s, team, from, cause);
}

json_t *store_alerts_list(struct store *s, int limit, char **cause)
{
	return s->ops->alerts_list(s, limit, cause);
}

json_t *store_usage(struct store *s, const char *team, int64_t from, int64_t step, int n, char **cause)
{
	return s->ops->usage(s, team, from, step, n, cause);
}

bool store_clustered(const struct store *s)
{
	return s->ops->cl_version != NULL;
}

static int single(char **cause)
{
	return fail(cause, "store: not a cluster store (store.url is PostgreSQL's)");
}

int store_cl_heartbeat(struct store *s, const struct replica_info *me, char **cause)
{
	return s->ops->cl_heartbeat ? s->ops->cl_heartbeat(s, me, cause) : single(cause);
}

json_t *store_cl_replicas(struct store *s, char **cause)
{
	if (!s->ops->cl_replicas) {
		single(cause);
		return NULL;
	}
	return s->ops->cl_replicas(s, cause);
}

int64_t store_cl_version(struct store *s, char **cause)
{
	return s->ops->cl_version ? s->ops->cl_version(s, cause) : single(cause);
}

int store_cl_reload(struct store *s, struct registry *r, int64_t now, char **cause)
{
	return s->ops->cl_reload ? s->ops->cl_reload(s, r, now, cause) : single(cause);
}

int store_cl_spend(struct store *s, int64_t month,
		   void (*fn)(void *arg, const char *team, int64_t spent, int64_t lease), void *arg, char **cause)
{
	return s->ops->cl_spend ? s->ops->cl_spend(s, month, fn, arg, cause) : single(cause);
}

int store_cl_windows(struct store *s, int64_t day, int64_t week, int64_t month,
		     void (*fn)(void *arg, const char *kind, const char *owner, int64_t start, int64_t spent,
				int64_t mine, int64_t held),
		     void *arg, char **cause)
{
	return s->ops->cl_windows ? s->ops->cl_windows(s, day, week, month, fn, arg, cause) : single(cause);
}

int store_cl_lease(struct store *s, const char *team, struct cl_lease *l, int n, char **cause)
{
	return s->ops->cl_lease ? s->ops->cl_lease(s, team, l, n, cause) : single(cause);
}

int store_cl_give_back(struct store *s, int64_t now, char **cause)
{
	return s->ops->cl_give_back ? s->ops->cl_give_back(s, now, cause) : single(cause);
}

int store_cl_forget(struct store *s, int64_t now, char **cause)
{
	return s->ops->cl_forget ? s->ops->cl_forget(s, now, cause) : single(cause);
}

int store_cl_batch_claim(struct store *s, const char *id, const char *from, int64_t now, char **cause)
{
	return s->ops->cl_batch_claim ? s->ops->cl_batch_claim(s, id, from, now, cause) : single(cause);
}

int store_cl_batch_settling(struct store *s, const char *id, int64_t at, char **cause)
{
	return s->ops->cl_batch_settling ? s->ops->cl_batch_settling(s, id, at, cause) : 1;
}

int store_cl_fd(struct store *s)
{
	return s->ops->cl_fd ? s->ops->cl_fd(s) : -1;
}

int store_cl_notified(struct store *s)
{
	return s->ops->cl_notified ? s->ops->cl_notified(s) : 0;
}

static int no_copy(char **cause)
{
	return fail(cause, "store: this engine cannot be copied from or into");
}

int64_t store_count(struct store *s, const char *table, char **cause)
{
	return s->ops->count ? s->ops->count(s, table, cause) : no_copy(cause);
}

int store_copy_out(struct store *s, const char *table, int (*fn)(void *arg, const char *const *v), void *arg,
		   char **cause)
{
	return s->ops->copy_out ? s->ops->copy_out(s, table, fn, arg, cause) : no_copy(cause);
}

int store_copy_in(struct store *s, const char *table, const char *const *v, char **cause)
{
	return s->ops->copy_in ? s->ops->copy_in(s, table, v, cause) : no_copy(cause);
}

int store_copy_done(struct store *s, char **cause)
{
	return s->ops->copy_done ? s->ops->copy_done(s, cause) : 0;
}
