/* test_budget.c — reservations, settlement, thresholds and auto-pause as
 * pure functions (no store: the consequences are recorded), and the
 * store's WAL and locking. */
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "gateway.h"
#include "t.h"
#include "util.h"

/* the budget is pure (a team, the organisation, an amount, a time): its
 * consequences are recorded here instead of raised and written */
static struct registry R;
static struct month_cache M;
static char fx_log[256];
static void rec_alert(void *arg, const char *kind, const char *team, const char *message)
{
	(void)arg;
	(void)message;
	size_t n = strlen(fx_log);
	snprintf(fx_log + n, sizeof fx_log - n, "%s:%s ", kind, team ? team : "-");
}
static void rec_state(void *arg, struct team *t, enum team_state st, const char *reason)
{
	(void)arg;
	t->state = st;
	size_t n = strlen(fx_log);
	snprintf(fx_log + n, sizeof fx_log - n, "state:%s(%s) ", team_state_name(st), reason ? reason : "");
}
static const struct budget_fx FX = { rec_alert, rec_state, NULL, NULL };
/* the fleet's leases, as PostgreSQL would grant them: the day's up to
 * fleet_room, the others whole */
static int64_t fleet_room;
static int rec_lease(void *arg, struct team *t, const int64_t need[BW_ALL], char **why)
{
	(void)arg;
	if (need[BW_NEXT_DAY] > 0)
		t->day_fw.next_nusd = need[BW_NEXT_DAY];
	if (need[BW_NEXT_WEEK] > 0)
		t->week_fw.next_nusd = need[BW_NEXT_WEEK];
	if (need[BW_MONTH] > 0)
		t->lease_nusd = need[BW_MONTH];
	if (need[BW_WEEK] > 0)
		t->week_fw.granted_nusd = need[BW_WEEK];
	if (need[BW_DAY] > 0)
		t->day_fw.granted_nusd = need[BW_DAY] < fleet_room ? need[BW_DAY] : fleet_room;
	if (need[BW_DAY] > t->day_fw.granted_nusd) {
		*why = xstrdup("the fleet's day is used");
		return -1;
	}
	return 0;
}
static const int ORG_T[] = { 50, 80, 95 };

static struct budget_env env(int64_t now, int64_t org_budget)
{
	return (struct budget_env){ .reg = &R, .org_budget_nusd = org_budget, .org_thresholds = ORG_T,
				    .n_org_thresholds = 3, .now = now, .month = &M, .fx = &FX };
}

static const int64_t T0 = 1795727061000LL;

static struct team *setup(void)
{
	registry_init(&R);
	memset(&M, 0, sizeof M);
	fx_log[0] = '\0';
	R.org_month_start = month_start_ms(T0);
	struct team *t = team_new();
	t->id = xstrdup("batch");
	t->name = xstrdup("Batch");
	t->budget_nusd = 1000;
	t->max_tokens = 10;
	t->thresholds[0] = 50;
	t->thresholds[1] = 80;
	t->thresholds[2] = 95;
	t->nthresholds = 3;
	t->auto_pause = true;
	t->month_start = month_start_ms(T0);
	registry_add_team(&R, t);
	return t;
}

/* a UTC time from its parts (ms) */
static int64_t utc(int y, int mo, int d, int h, int mi, int sec, int ms)
{
	struct tm tm = { .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi, .tm_sec = sec };
	return (int64_t)timegm(&tm) * 1000 + ms;
}

static void test_day_and_week_windows(void)
{
	/* the boundaries: days at 00:00 UTC, weeks from Monday, a leap day */
	CHECK_INT(day_start_ms(utc(2026, 12, 7, 23, 59, 59, 999)), utc(2026, 12, 7, 0, 0, 0, 0));
	CHECK_INT(day_start_ms(utc(2026, 12, 8, 0, 0, 0, 0)), utc(2026, 12, 8, 0, 0, 0, 0));
	CHECK_INT(week_start_ms(utc(2026, 12, 7, 12, 0, 0, 0)), utc(2026, 12, 7, 0, 0, 0, 0)); /* a Monday */
	CHECK_INT(week_start_ms(utc(2026, 12, 13, 23, 59, 59, 999)), utc(2026, 12, 7, 0, 0, 0, 0)); /* Sunday night */
	CHECK_INT(week_start_ms(utc(2026, 12, 14, 0, 0, 0, 0)), utc(2026, 12, 14, 0, 0, 0, 0));
	CHECK_INT(day_start_ms(utc(2028, 2, 29, 13, 0, 0, 0)), utc(2028, 2, 29, 0, 0, 0, 0));
	CHECK_INT(week_start_ms(utc(2028, 3, 1, 1, 0, 0, 0)), utc(2028, 2, 28, 0, 0, 0, 0)); /* across the leap day */
	/* a day's budget: reserve-then-settle, refused naming the window and
	 * its reset, spend from nothing exactly at midnight */
	struct team *t = setup();
	t->budget_nusd = 1000000;
	t->day_budget_nusd = 1000;
	t->week_budget_nusd = 2500;
	int64_t late = utc(2026, 12, 9, 23, 59, 59, 999);
	struct budget_env e = env(late, 0);
	budget_roll(&e, t);
	char *why = NULL;
	CHECK_INT(budget_reserve(&e, t, 600, &why), 0);
	CHECK_INT(budget_reserve(&e, t, 600, &why), -1); /* 600 reserved + 600 > 1000 */
	CHECK(why && strstr(why, "daily budget resets at 2026-12-10T00:00:00Z"));
	free(why);
	why = NULL;
	budget_settle(&e, t, 600, 400); /* settled lower: the rest back */
	CHECK_INT(t->day_spend_nusd, 400);
	CHECK_INT(budget_reserve(&e, t, 600, &why), 0);
	budget_settle(&e, t, 600, 600);
	CHECK_INT(t->day_spend_nusd, 1000);
	CHECK_INT(budget_reserve(&e, t, 1, &why), -1);
	free(why);
	why = NULL;
	/* midnight: a new day, the week goes on */
	e = env(late + 1, 0);
	budget_roll(&e, t);
	CHECK_INT(t->day_spend_nusd, 0);
	CHECK_INT(t->week_spend_nusd, 1000);
	CHECK_INT(budget_reserve(&e, t, 1000, &why), 0);
	budget_settle(&e, t, 1000, 1000);
	t->day_budget_nusd = 0; /* (no day's budget now: the week's decides) */
	CHECK_INT(budget_reserve(&e, t, 600, &why), -1); /* the week: 2000 + 600 > 2500 */
	CHECK(why && strstr(why, "weekly budget resets at 2026-12-14T00:00:00Z"));
	free(why);
	why = NULL;
	/* a budget changed mid-window keeps the spend */
	t->week_budget_nusd = 5000;
	CHECK_INT(t->week_spend_nusd, 2000);
	CHECK_INT(budget_reserve(&e, t, 600, &why), 0);
	budget_settle(&e, t, 600, 0);
	/* Monday: a new week */
	e = env(utc(2026, 12, 14, 0, 0, 0, 0), 0);
	budget_roll(&e, t);
	CHECK_INT(t->week_spend_nusd, 0);
	/* cluster mode: the day is the fleet's, not a share of it. One
	 * replica of three, the others holding 400 of the day's 900: it may
	 * lease and use the other 500 */
	struct budget_fx lfx = { rec_alert, rec_state, rec_lease, NULL };
	e.replicas = 3;
	e.fx = &lfx;
	t->day_budget_nusd = 900;
	fleet_room = 500;
	CHECK_INT(budget_reserve(&e, t, 301, &why), 0); /* more than a third */
	CHECK_INT(t->day_fw.granted_nusd, 301);
	budget_settle(&e, t, 301, 301);
	CHECK_INT(budget_reserve(&e, t, 200, &why), -1); /* 301 + 200: more than the 500 it can lease */
	CHECK(why && strstr(why, "fleet's day"));
	free(why);
	why = NULL;
	/* the others' spend read: the day's spend is the fleet's, this
	 * replica's own kept apart (what its lease covers) */
	fleetwin_read(&t->day_fw, &t->day_spend_nusd, 701, 301, 500);
	CHECK_INT(t->day_spend_nusd, 701);
	CHECK_INT(fleetwin_here(&t->day_fw, t->day_spend_nusd), 301);
	CHECK_INT(budget_reserve(&e, t, 200, &why), -1); /* 701 + 200 > 900: the fleet's day, named */
	CHECK(why && strstr(why, "daily budget resets at 2026-12-15T00:00:00Z"));
	free(why);
	why = NULL;
	/* a restart: the store's figures taken whole, its own part as shipped */
	struct fleetwin fresh = { 0 };
	int64_t spend = 0;
	fleetwin_read(&fresh, &spend, 701, 301, 301);
	CHECK_INT(spend, 701);
	CHECK_INT(fleetwin_here(&fresh, spend), 301);
	/* a reservation held over midnight: its room in the next day leased
	 * with it, and that lease the new day's when the day turns */
	t->day_fw = (struct fleetwin){ 0 };
	t->day_spend_nusd = 0;
	fleet_room = 900;
	CHECK_INT(budget_reserve(&e, t, 250, &why), 0);
	CHECK_INT(t->day_fw.next_nusd, 250);
	budget_roll_windows(t, utc(2026, 12, 15, 0, 0, 0, 1));
	CHECK_INT(t->day_start, utc(2026, 12, 15, 0, 0, 0, 0));
	CHECK_INT(t->day_fw.granted_nusd, 250);
	CHECK_INT(t->day_fw.next_nusd, 0);
	budget_roll_windows(t, utc(2026, 12, 17, 0, 0, 0, 0)); /* a day skipped: nothing held */
	CHECK_INT(t->day_fw.granted_nusd, 0);
	registry_free(&R);
}

static void test_reserve_never_overspends(void)
{
	struct team *t = setup();
	struct budget_env e = env(T0, 0);
	char *why = NULL;
	/* 50 concurrent requests each reserving 200 against a 1000 budget */
	int ok = 0;
	for (int i = 0; i < 50; i++) {
		if (budget_reserve(&e, t, 200, &why) == 0)
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
		budget_settle(&e, t, 200, 150);
	CHECK_INT(t->reserved_nusd, 0);
	CHECK_INT(t->spend_nusd, 750);
	CHECK(t->spend_nusd <= t->budget_nusd);
	CHECK_STR(fx_log, "budget_threshold:batch "); /* 50 %, not 80 % */
	registry_free(&R);
}

static void test_thresholds_and_auto_pause(void)
{
	struct team *t = setup();
	struct budget_env e = env(T0, 0);
	char *why = NULL;
	CHECK(budget_reserve(&e, t, 600, &why) == 0);
	budget_settle(&e, t, 600, 510); /* 51 %: one alert */
	CHECK_INT(t->alerted, 1);
	CHECK_STR(fx_log, "budget_threshold:batch ");
	CHECK(budget_reserve(&e, t, 490, &why) == 0);
	budget_settle(&e, t, 490, 490); /* 100 %: 80 and 95 alerted, then paused */
	CHECK_INT(t->alerted, 3);
	CHECK_INT(t->state, TEAM_BUDGET_PAUSED);
	CHECK(strstr(fx_log, "state:budget_paused(monthly budget of $0.000001 reached) auto_pause:batch"));
	/* a new month resumes the team and re-arms the thresholds */
	fx_log[0] = '\0';
	e.now = month_next_ms(T0) + 1000;
	budget_roll(&e, t);
	CHECK_INT(t->state, TEAM_ACTIVE);
	CHECK_INT(t->spend_nusd, 0);
	CHECK_INT(t->alerted, 0);
	CHECK_STR(fx_log, "state:active() ");
	registry_free(&R);
}

static void test_org_budget(void)
{
	struct team *t = setup();
	struct budget_env e = env(T0, 300);
	char *why = NULL;
	CHECK(budget_reserve(&e, t, 200, &why) == 0);
	CHECK(budget_reserve(&e, t, 200, &why) == -1);
	CHECK(why && strstr(why, "organisation"));
	free(why);
	budget_settle(&e, t, 200, 290); /* 96 % of the organisation's */
	CHECK(strstr(fx_log, "org_budget_threshold:- org_budget_threshold:- org_budget_threshold:-"));
	registry_free(&R);
}

/* at the largest budget the API accepts, the thresholds are exact (the
 * release build once alerted "crossed 50% ($0.00 of $1000000000.00)") */
static void test_huge_budget(void)
{
	struct team *t = setup();
	struct budget_env e = env(T0, 0);
	t->budget_nusd = 1000000000LL * NUSD_PER_USD;
	budget_settle(&e, t, 0, 1);
	CHECK_INT(t->alerted, 0);
	CHECK_STR(fx_log, "");
	budget_settle(&e, t, 0, t->budget_nusd / 2 - 2);
	CHECK_INT(t->alerted, 0);
	budget_settle(&e, t, 0, 1);
	CHECK_INT(t->alerted, 1);
	registry_free(&R);
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

/* end users: a day's budget and a minute's requests each, in bounded
 * memory; one let go keeps its day (the count-min table); a new UTC day
 * starts from nothing */
static void test_end_users(void)
{
	char id[] = "shop";
	struct team t = { .id = id, .user_day_budget_nusd = 1000 };
	struct verdict v = { 0 };
	int64_t now = utc(2026, 12, 7, 23, 0, 0, 0);
	struct endusers *u = endusers_new(3);
	CHECK_INT(enduser_admit(u, &t, "alice", 1, now, 600, &v), 0);
	CHECK_INT(enduser_admit(u, &t, "alice", 1, now, 500, &v), -2); /* 600 held + 500 > 1000: the first refusal */
	CHECK_INT(v.status, 402);
	CHECK(strstr(v.message, "End user 'alice' of team 'shop'") != NULL);
	verdict_clear(&v);
	CHECK_INT(enduser_admit(u, &t, "alice", 1, now, 500, &v), -1); /* (no second alert) */
	verdict_clear(&v);
	enduser_settle(u, &t, "alice", 600, 700, now); /* settled higher than held */
	CHECK_INT(enduser_remaining(u, &t, "alice", 1, now), 300);
	CHECK_INT(enduser_admit(u, &t, "bob", 1, now, 900, &v), 0); /* each user apart */
	enduser_settle(u, &t, "bob", 900, 0, now);
	/* three held at most: carol and dan let alice go (the least recently seen) */
	for (int i = 0; i < 2; i++) {
		const char *who = i ? "dan" : "carol";
		CHECK_INT(enduser_admit(u, &t, who, 1, now + 1 + i, 1, &v), 0);
		enduser_settle(u, &t, who, 1, 1, now + 1 + i);
	}
	CHECK_INT(endusers_count(u), 3);
	CHECK(endusers_evicted(u) >= 1);
	/* alice comes back: her day's 700 is not forgotten */
	CHECK_INT(enduser_admit(u, &t, "alice", 1, now + 5, 500, &v), -2);
	verdict_clear(&v);
	CHECK(enduser_remaining(u, &t, "alice", 1, now + 5) <= 300);
	/* a replica of three holds a third of the budget */
	CHECK_INT(enduser_admit(u, &t, "erin", 3, now + 6, 334, &v), -2);
	verdict_clear(&v);
	/* midnight UTC: a new day from nothing */
	int64_t tomorrow = utc(2026, 12, 8, 0, 0, 0, 0);
	CHECK_INT(enduser_admit(u, &t, "alice", 1, tomorrow, 900, &v), 0);
	enduser_settle(u, &t, "alice", 900, 900, tomorrow);
	/* requests per minute, per user */
	t.user_day_budget_nusd = 0;
	t.user_rpm_limit = 2;
	CHECK_INT(enduser_admit(u, &t, "fay", 1, tomorrow, 0, &v), 0);
	CHECK_INT(enduser_admit(u, &t, "fay", 1, tomorrow + 10, 0, &v), 0);
	CHECK_INT(enduser_admit(u, &t, "fay", 1, tomorrow + 20, 0, &v), -1);
	CHECK_INT(v.status, 429);
	CHECK(v.retry_ms > 0);
	verdict_clear(&v);
	CHECK_INT(enduser_admit(u, &t, "gus", 1, tomorrow + 20, 0, &v), 0); /* another user: room */
	CHECK_INT(enduser_admit(u, &t, "fay", 1, tomorrow + 70000, 0, &v), 0); /* a minute on */
	endusers_free(u);
}

void suite_budget(void)
{
	RUN(test_end_users);
	RUN(test_reserve_never_overspends);
	RUN(test_day_and_week_windows);
	RUN(test_thresholds_and_auto_pause);
	RUN(test_org_budget);
	RUN(test_huge_budget);
	RUN(test_wal_starts_over);
	RUN(test_try_begin);
}
