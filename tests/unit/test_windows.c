/* test_windows.c — a team's day, week and month over their boundaries,
 * the clock given: the store read back as at a restart at 23:59:59.999,
 * the leap day, the month's first millisecond, a request that settles
 * after midnight. The ledger in SQLite is what a restart believes. */
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "gateway.h"
#include "t.h"
#include "util.h"

static char path[64];

/* a UTC time from its parts (ms) */
static int64_t at(int y, int mo, int d, int h, int mi, int sec, int ms)
{
	struct tm tm = { .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi, .tm_sec = sec };
	return (int64_t)timegm(&tm) * 1000 + ms;
}

/* what a gateway started at `now` knows: the store read into reg (the
 * team NULL when it could not be read) */
static struct team *restart(struct registry *reg, int64_t now)
{
	char *cause = NULL;
	struct store *s = store_open(path, &cause);
	registry_init(reg);
	int rc = s ? store_load(s, reg, now, &cause) : -1;
	store_close(s);
	free(cause);
	return rc == 0 ? registry_team(reg, "shop") : NULL;
}

/* a request's cost settled at `when` and written to the ledger, as the
 * gateway does */
static int spend(struct registry *reg, struct team *t, struct month_cache *m, int64_t when, int64_t cost)
{
	struct budget_env e = { .reg = reg, .now = when, .month = m };
	budget_roll(&e, t);
	char *why = NULL;
	if (budget_reserve(&e, t, cost, &why) != 0) {
		free(why);
		return -1;
	}
	budget_settle(&e, t, cost, cost);
	char *cause = NULL;
	struct store *s = store_open(path, &cause);
	struct ledger_row r = { .ts_ms = when, .team = "shop", .status = 200, .cost_nusd = cost };
	int rc = s ? store_ledger(s, &r, &cause) : -1;
	store_close(s);
	free(cause);
	return rc;
}

static void setup(void)
{
	snprintf(path, sizeof path, "/tmp/gg-unit-windows-%d.db", (int)getpid());
	unlink(path);
	char *cause = NULL;
	struct store *s = store_open(path, &cause);
	CHECK(s != NULL);
	struct team *t = team_new();
	t->id = xstrdup("shop");
	t->name = xstrdup("Shop");
	t->budget_nusd = 1000000;
	t->day_budget_nusd = 1000;
	t->week_budget_nusd = 2500;
	t->max_tokens = 10;
	CHECK_INT(store_put_team(s, t, &cause), 0);
	team_free(t);
	store_close(s);
}

static void test_restart_at_the_last_millisecond(void)
{
	setup();
	struct registry reg;
	struct month_cache m = { 0 };
	/* Monday 28 February 2028 (a leap year), late */
	int64_t late = at(2028, 2, 28, 23, 59, 59, 0), last = at(2028, 2, 28, 23, 59, 59, 999);
	struct team *t = restart(&reg, late);
	CHECK(t != NULL);
	CHECK_INT(spend(&reg, t, &m, late, 700), 0);
	registry_free(&reg);
	/* started again at 23:59:59.999: the day's 700 is known, 300 left */
	t = restart(&reg, last);
	CHECK(t != NULL);
	CHECK_INT(t->day_spend_nusd, 700);
	CHECK_INT(t->week_spend_nusd, 700);
	CHECK_INT(spend(&reg, t, &m, last, 301), -1);
	CHECK_INT(spend(&reg, t, &m, last, 300), 0);
	CHECK_INT(spend(&reg, t, &m, last, 1), -1);
	/* one millisecond later: the leap day, from nothing; the week goes on */
	int64_t leap = at(2028, 2, 29, 0, 0, 0, 0);
	CHECK_INT(spend(&reg, t, &m, leap, 1001), -1); /* over a whole day's budget */
	CHECK_INT(t->day_spend_nusd, 0);
	CHECK_INT(t->week_spend_nusd, 1000);
	CHECK_INT(spend(&reg, t, &m, leap, 900), 0);
	registry_free(&reg);
	/* a restart on the leap day's first millisecond agrees */
	t = restart(&reg, leap);
	CHECK(t != NULL);
	CHECK_INT(t->day_spend_nusd, 900);
	CHECK_INT(t->week_spend_nusd, 1900);
	CHECK_INT(t->spend_nusd, 1900);
	registry_free(&reg);
	/* the month's last millisecond, then its first: February's spend
	 * stays February's; March, a Wednesday, is in the same week */
	t = restart(&reg, at(2028, 2, 29, 23, 59, 59, 999));
	CHECK(t != NULL);
	CHECK_INT(t->spend_nusd, 1900);
	CHECK_INT(t->day_spend_nusd, 900);
	registry_free(&reg);
	int64_t march = at(2028, 3, 1, 0, 0, 0, 0);
	t = restart(&reg, march);
	CHECK(t != NULL);
	CHECK_INT(t->spend_nusd, 0);
	CHECK_INT(t->day_spend_nusd, 0);
	CHECK_INT(t->week_spend_nusd, 1900);
	CHECK_INT(spend(&reg, t, &m, march, 601), -1); /* the week's 2500 */
	CHECK_INT(spend(&reg, t, &m, march, 600), 0);
	registry_free(&reg);
	/* Monday 6 March: a new week */
	t = restart(&reg, at(2028, 3, 6, 0, 0, 0, 0));
	CHECK(t != NULL);
	CHECK_INT(t->week_spend_nusd, 0);
	registry_free(&reg);
	unlink(path);
}

/* reserved before midnight, settled after: the new day's (its ledger row
 * is dated then), in memory as after a restart */
static void test_settled_after_midnight(void)
{
	setup();
	struct registry reg;
	struct month_cache m = { 0 };
	int64_t before = at(2026, 12, 31, 23, 59, 59, 900), after = at(2027, 1, 1, 0, 0, 0, 100);
	struct team *t = restart(&reg, before);
	CHECK(t != NULL);
	struct budget_env e = { .reg = &reg, .now = before, .month = &m };
	budget_roll(&e, t);
	char *why = NULL;
	CHECK_INT(budget_reserve(&e, t, 800, &why), 0);
	e.now = after;
	budget_settle(&e, t, 800, 800);
	budget_roll(&e, t); /* (as the next request does) */
	CHECK_INT(t->day_spend_nusd, 800);
	CHECK_INT(t->spend_nusd, 800); /* January's, the new month's */
	CHECK_INT(t->reserved_nusd, 0);
	CHECK_INT(budget_reserve(&e, t, 201, &why), -1);
	free(why);
	registry_free(&reg);
	unlink(path);
}

void suite_windows(void)
{
	RUN(test_restart_at_the_last_millisecond);
	RUN(test_settled_after_midnight);
}
