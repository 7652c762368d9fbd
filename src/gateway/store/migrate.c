/* migrate.c — groqgated --migrate-from sqlite:PATH --config FILE: a
 * single node's store copied into the cluster's PostgreSQL (store.url),
 * in one transaction, then the counts of both compared. No SQL here: the
 * engines read and write their own rows (store.h, "migration").
 *
 * What is copied: teams, upstream keys (with their secrets), client
 * tokens, rotations in progress (they are the keys' state), batch files
 * and batches, the whole ledger (filed under the replica "migrated"; this
 * month's spend follows it), the audit log and the alerts. The source is
 * only read; a failure leaves PostgreSQL as it was, and the migration can
 * be run again. A PostgreSQL store that already holds teams is refused. */
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util.h"

struct copying {
	struct store *dst;
	const char *table;
	char *cause;
};

static int copy_row(void *arg, const char *const *v)
{
	struct copying *c = arg;
	return store_copy_in(c->dst, c->table, v, &c->cause);
}

static int copy_registry(struct store *dst, struct registry *r, char **cause)
{
	for (int i = 0; i < r->nteams; i++)
		if (store_put_team(dst, r->teams[i], cause) != 0)
			return -1;
	for (int i = 0; i < r->nkeys; i++)
		if (store_put_key(dst, r->keys[i], cause) != 0)
			return -1;
	for (int i = 0; i < r->ntokens; i++)
		if (store_put_token(dst, r->tokens[i], cause) != 0)
			return -1;
	size_t at = 0;
	const char *id;
	void *v;
	while (strmap_next(r->files, &at, &id, &v))
		if (store_put_file(dst, v, cause) != 0)
			return -1;
	at = 0;
	while (strmap_next(r->batches, &at, &id, &v))
		if (store_put_batch(dst, v, cause) != 0)
			return -1;
	for (int i = 0; i < r->naliases; i++)
		if (store_put_alias(dst, r->aliases[i].alias, r->aliases[i].model, 0, cause) != 0)
			return -1;
	return 0;
}

static const char *const tables[] = { "teams", "keys", "tokens", "ledger", "audit", "alerts" };

static int run(struct store *src, struct store *dst, int64_t now, FILE *out, char **cause)
{
	int64_t there = store_count(dst, "teams", cause);
	if (there < 0)
		return -1;
	if (there > 0)
		return fail(cause, "the PostgreSQL store already holds %lld teams; a migration copies into an empty one",
			    (long long)there);
	struct registry r;
	registry_init(&r);
	int rc = store_load(src, &r, now, cause);
	if (rc == 0 && store_begin(dst, cause) == 0) {
		rc = copy_registry(dst, &r, cause);
		for (size_t i = 3; rc == 0 && i < ARRAY_LEN(tables); i++) {
			struct copying c = { dst, tables[i], NULL };
			rc = store_copy_out(src, tables[i], copy_row, &c, cause);
			if (rc != 0 && c.cause) {
				free(*cause);
				*cause = c.cause;
			}
		}
		if (rc == 0)
			rc = store_copy_done(dst, cause);
		if (rc == 0)
			rc = store_commit(dst, cause);
		else
			store_rollback(dst);
	} else {
		rc = -1;
	}
	registry_free(&r);
	if (rc != 0)
		return -1;
	/* the counts, both sides */
	for (size_t i = 0; i < ARRAY_LEN(tables); i++) {
		int64_t a = store_count(src, tables[i], cause), b = store_count(dst, tables[i], cause);
		if (a < 0 || b < 0)
			return -1;
		fprintf(out, "%-7s %lld copied, %lld in PostgreSQL\n", tables[i], (long long)a, (long long)b);
		if (a != b)
			return fail(cause, "%s: %lld rows in the SQLite store but %lld in PostgreSQL", tables[i],
				    (long long)a, (long long)b);
	}
	return 0;
}

int migrate_from(const struct gw_config *cfg, const char *from, FILE *out, char **cause)
{
	if (!str_starts(from, "sqlite:"))
		return fail(cause, "--migrate-from takes sqlite:PATH (a single node's store.path)");
	const char *path = from + strlen("sqlite:");
	struct stat st;
	if (stat(path, &st) != 0)
		return fail(cause, "--migrate-from: %s: no such store", path);
	if (!cfg->store_url)
		return fail(cause, "--migrate-from copies into PostgreSQL: the configuration needs store.url");
	struct store *src = store_open(path, cause);
	if (!src)
		return -1;
	struct store *dst = store_open_pg(cfg->store_url, cfg->replica_id, cause);
	if (!dst) {
		store_close(src);
		return -1;
	}
	int rc = run(src, dst, clock_now(&clock_real), out, cause);
	store_close(dst);
	store_close(src);
	return rc;
}
