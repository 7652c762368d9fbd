/* test_budget.c — reservations, settlement, thresholds and auto-pause on
 * a real (temporary) store, with a frozen, steppable clock. */
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gateway.h"
#include "t.h"
#include "util.h"

static int64_t fake_now;
static int64_t fake_clock(void *arg)
{
	(void)arg;
	return fake_now;
}

static struct gateway G;
static char dbpath[64];

static struct team *setup(void)
{
	memset(&G, 0, sizeof G);
	G.clock = (clock_src){ fake_clock, NULL };
	fake_now = 1795727061000LL;
	snprintf(dbpath, sizeof dbpath, "/tmp/gg-unit-budget-%d.db", (int)getpid());
	unlink(dbpath);
	char *cause = NULL;
	G.store = store_open(dbpath, &cause);
	if (!G.store) {
		printf("# %s\n", cause);
		return NULL;
	}
	registry_init(&G.reg);
	G.reg.org_month_start = month_start_ms(fake_now);
	struct team *t = team_new();
	t->id = xstrdup("batch");
	t->name = xstrdup("Batch");
	t->models = xcalloc(1, sizeof *t->models);
	t->budget_nusd = 1000;
	t->max_tokens = 10;
	t->month_start = month_start_ms(fake_now);
	registry_add_team(&G.reg, t);
	store_put_team(G.store, t, &cause);
	return t;
}

static void teardown(void)
{
	registry_free(&G.reg);
	json_decref(G.recent_alerts);
	store_close(G.store);
	unlink(dbpath);
	char p[80];
	snprintf(p, sizeof p, "%s-wal", dbpath);
	unlink(p);
	snprintf(p, sizeof p, "%s-shm", dbpath);
	unlink(p);
}

static void test_reserve_never_overspends(void)
{
	struct team *t = setup();
	CHECK(t);
	char *why = NULL;
	/* 50 concurrent requests each reserving 200 against a 1000 budget */
	int ok = 0;
	for (int i = 0; i < 50; i++) {
		if (budget_reserve(&G, t, 200, &why) == 0)
			ok++;
		else {
			CHECK(why && strstr(why, "batch"));
			free(why);
			why = NULL;
		}
	}
	CHECK_INT(ok, 5);
	CHECK_INT(t->reserved_nusd, 1000);
	for (int i = 0; i < 5; i++)
		budget_settle(&G, t, 200, 150);
	CHECK_INT(t->reserved_nusd, 0);
	CHECK_INT(t->spend_nusd, 750);
	CHECK(t->spend_nusd <= t->budget_nusd);
	teardown();
}

static void test_thresholds_and_auto_pause(void)
{
	struct team *t = setup();
	CHECK(t);
	char *why = NULL;
	CHECK(budget_reserve(&G, t, 600, &why) == 0);
	budget_settle(&G, t, 600, 510); /* 51 %: one alert */
	CHECK_INT(t->alerted, 1);
	CHECK_INT(json_array_size(G.recent_alerts), 1);
	CHECK(budget_reserve(&G, t, 490, &why) == 0);
	budget_settle(&G, t, 490, 490); /* 100 %: 80 and 95 alerted, then paused */
	CHECK_INT(t->alerted, 3);
	CHECK_INT(t->state, TEAM_BUDGET_PAUSED);
	CHECK_STR(t->paused_by, "groqgated");
	json_t *a = store_audit_list(G.store, 10, 0, NULL);
	CHECK_INT(json_array_size(a), 1);
	CHECK_STR(json_string_value(json_object_get(json_array_get(a, 0), "action")), "team.budget_pause");
	json_decref(a);
	/* a new month resumes the team and re-arms the thresholds */
	fake_now = month_next_ms(fake_now) + 1000;
	budget_roll(&G, t, fake_now);
	CHECK_INT(t->state, TEAM_ACTIVE);
	CHECK_INT(t->spend_nusd, 0);
	CHECK_INT(t->alerted, 0);
	teardown();
}

static void test_org_budget(void)
{
	struct team *t = setup();
	CHECK(t);
	G.cfg.org_budget_nusd = 300;
	char *why = NULL;
	CHECK(budget_reserve(&G, t, 200, &why) == 0);
	CHECK(budget_reserve(&G, t, 200, &why) == -1);
	CHECK(why && strstr(why, "organisation"));
	free(why);
	teardown();
}

/* Under steady writes the WAL must start over rather than grow: rows are
 * committed one at a time, as the gateway does, every 200 us for 1.5 s
 * while the checkpointer runs; a PASSIVE checkpoint always overlaps a
 * commit then, so only the RESTART past the limit lets the WAL start over.
 * Without it the file holds every frame written. */
static void test_wal_starts_over(void)
{
	char path[64], wal[80];
	snprintf(path, sizeof path, "/tmp/gg-unit-wal-%d.db", (int)getpid());
	snprintf(wal, sizeof wal, "%s-wal", path);
	unlink(path);
	char *cause = NULL;
	struct store *s = store_open(path, &cause);
	CHECK(s != NULL);
	store_set_wal_limit(s, 64); /* 256 KiB */
	struct ledger_row r = { .ts_ms = 1, .team = "t", .key = "k", .key_fp = "gsk_...0001", .model = "m",
				.status = 200, .prompt = 8, .completion = 2, .cost_nusd = 10, .latency_ms = 1 };
	long n = 0;
	off_t max = 0;
	int64_t t0 = mono_us();
	while (mono_us() - t0 < 1500000) {
		int rc = store_ledger(s, &r, &cause);
		if (rc != 0) {
			store_close(s);
			CHECK(rc == 0);
		}
		n++;
		struct stat st;
		if (stat(wal, &st) == 0 && st.st_size > max)
			max = st.st_size;
		usleep(200);
	}
	store_close(s);
	unlink(path);
	unlink(wal);
	long long written = (long long)n * 2 * (4096 + 24); /* two pages a row */
	printf("# WAL: %lld bytes written in %ld commits, file at most %lld bytes\n", written, n, (long long)max);
	CHECK(n > 1000);
	CHECK(max < written / 4);
}

/* the ledger's background transaction does not wait on the event loop
 * for a lock held elsewhere (the checkpointer's RESTART, another process):
 * store_try_begin says so at once, and takes the lock once it is free */
static void test_try_begin(void)
{
	char path[64];
	snprintf(path, sizeof path, "/tmp/gg-unit-try-%d.db", (int)getpid());
	unlink(path);
	char *cause = NULL;
	struct store *s = store_open(path, &cause);
	CHECK(s != NULL);
	sqlite3 *other = NULL;
	CHECK(sqlite3_open(path, &other) == SQLITE_OK);
	CHECK(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK);
	int64_t t0 = mono_us();
	int rc = store_try_begin(s, &cause);
	int64_t took = mono_us() - t0;
	CHECK_INT(rc, 1);
	CHECK(cause == NULL);
	printf("# store_try_begin with the lock held elsewhere: %lld us\n", (long long)took);
	CHECK(store_begin(s, &cause) == -1); /* the waiting kind gives up after its 200 ms */
	CHECK(cause && strstr(cause, "locked"));
	free(cause);
	cause = NULL;
	CHECK(sqlite3_exec(other, "COMMIT", NULL, NULL, NULL) == SQLITE_OK);
	CHECK_INT(store_try_begin(s, &cause), 0);
	struct ledger_row r = { .ts_ms = 1, .team = "t", .status = 200 };
	CHECK(store_ledger(s, &r, &cause) == 0);
	CHECK(store_commit(s, &cause) == 0);
	CHECK_INT(store_ledger_last_id(s, &cause), 1);
	sqlite3_close(other);
	store_close(s);
	unlink(path);
}

void suite_budget(void)
{
	RUN(test_reserve_never_overspends);
	RUN(test_thresholds_and_auto_pause);
	RUN(test_org_budget);
	RUN(test_wal_starts_over);
	RUN(test_try_begin);
}
