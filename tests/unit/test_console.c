/* test_console.c — the console's pure parts: parsing what the gateway
 * answers (including garbage), the canvas, gauges and sparklines. */
#include <stdlib.h>
#include <time.h>

#include "console.h"
#include "t.h"
#include "util.h"

static const char overview[] =
	"{\"gateway\":{\"version\":\"0.1.0\",\"uptime_s\":5,\"now_ms\":1795727061000},"
	"\"org\":{\"spend_mtd_usd\":12.5,\"monthly_budget_usd\":null,\"headroom\":{\"limit_requests\":14400,"
	"\"remaining_requests\":14000,\"limit_tokens\":18000,\"remaining_tokens\":9000}},"
	"\"totals\":{\"active\":1,\"paused\":1},"
	"\"teams\":[{\"id\":\"chatbot\",\"name\":\"Chatbot\",\"state\":\"active\",\"rpm\":12,\"rpm_limit\":60,"
	"\"spend_mtd_usd\":8.5,\"monthly_budget_usd\":10,\"spend_pct\":85,\"allowed_models\":[\"a\",\"b\"],\"keys\":1,\"version\":3},"
	"{\"id\":\"search\",\"state\":\"paused\",\"paused_by\":\"alice\",\"paused_reason\":\"incident\"}],"
	"\"keys\":[{\"name\":\"chatbot-prod-api\",\"team\":\"chatbot\",\"fingerprint\":\"gsk_…0001\",\"state\":\"active\","
	"\"requests_24h\":42,\"rotation_step\":\"none\"}],"
	"\"alerts\":[{\"time\":\"2026-11-26T21:00:00Z\",\"kind\":\"budget_threshold\",\"team\":\"chatbot\",\"message\":\"crossed 80%\"}]}";

static void test_parse_overview(void)
{
	struct m_overview o;
	char *cause = NULL;
	CHECK(model_parse_overview(overview, strlen(overview), &o, &cause) == 0);
	CHECK_INT(o.nteams, 2);
	CHECK_STR(o.teams[0].id, "chatbot");
	CHECK_INT(o.teams[0].nmodels, 2);
	CHECK_INT(o.teams[0].version, 3);
	CHECK_STR(o.teams[1].paused_reason, "incident");
	CHECK_INT(o.nkeys, 1);
	CHECK_INT(o.keys[0].req24h, 42);
	CHECK(o.has_headroom && o.rem_tok == 9000);
	CHECK_INT(o.nalerts, 1);
	model_free(&o);
}

static void test_parse_garbage(void)
{
	const char *bad[] = { "", "null", "[1,2]", "{\"teams\":5}", "{\"teams\":[1,\"x\",null]}",
			      "{\"teams\":[{\"id\":123,\"allowed_models\":{}}],\"keys\":\"x\"}", "{\"teams\":[{\"id\":\"",
			      "\xff\xfe\x00garbage" };
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		struct m_overview o;
		char *cause = NULL;
		int rc = model_parse_overview(bad[i], strlen(bad[i]), &o, &cause);
		if (rc == 0)
			model_free(&o);
		else
			free(cause);
	}
	struct m_overview o;
	const char *g3 = "{\"teams\":[1,\"x\",null]}";
	CHECK(model_parse_overview(g3, strlen(g3), &o, NULL) == 0);
	CHECK_INT(o.nteams, 0);
	model_free(&o);
}

static void test_canvas_clip_and_text(void)
{
	struct canvas cv;
	cv_init(&cv, 10, 2, true);
	CHECK_INT(cv_put(&cv, 0, 7, R_NORMAL, "abcdef", -1), 3);
	cv_put(&cv, 1, 0, R_NORMAL, "x\x1b[31my", -1); /* control bytes never reach the terminal */
	char *t = cv_text(&cv);
	CHECK_STR(t, "       abc\nx?[31my\n");
	free(t);
	cv_free(&cv);
}

static void test_gauge(void)
{
	struct canvas cv;
	cv_init(&cv, 10, 1, false);
	cv_gauge(&cv, 0, 0, 10, 0.5);
	char *t = cv_text(&cv);
	CHECK_STR(t, "#####.....\n");
	free(t);
	CHECK_INT(cv.c[0].role, R_GAUGE_50);
	cv_gauge(&cv, 0, 0, 10, 0.96);
	CHECK_INT(cv.c[0].role, R_GAUGE_95);
	cv_gauge(&cv, 0, 0, 10, 3.0); /* over budget: full, not past the edge */
	t = cv_text(&cv);
	CHECK_STR(t, "##########\n");
	free(t);
	cv_free(&cv);
	CHECK_INT(gauge_role(0.49), R_GAUGE_OK);
	CHECK_INT(gauge_role(0.80), R_GAUGE_80);
}

static void test_spark(void)
{
	struct canvas cv;
	cv_init(&cv, 4, 1, true);
	double v[] = { 0, 1, 2, 4 };
	cv_spark(&cv, 0, 0, 4, v, 4);
	char *t = cv_text(&cv);
	CHECK_STR(t, "▁▃▅█\n");
	free(t);
	cv_free(&cv);
}

static void test_usage_parse(void)
{
	const char *b = "{\"points\":[{\"requests\":1},{\"requests\":5},{\"requests\":2}],\"spend_mtd_usd\":3.5,\"projected_month_usd\":9}";
	double out[2], s = 0, p = 0;
	int n = model_parse_usage(b, strlen(b), out, 2, &s, &p);
	CHECK_INT(n, 2);
	CHECK(out[0] == 5 && out[1] == 2 && s == 3.5 && p == 9);
}

static void test_age(void)
{
	char b[16];
	fmt_age(59000, b, sizeof b);
	CHECK_STR(b, "59s");
	fmt_age(3 * 3600000, b, sizeof b);
	CHECK_STR(b, "3h");
	fmt_age(5 * 86400000LL, b, sizeof b);
	CHECK_STR(b, "5d");
	CHECK_INT(iso_ms("2026-11-26T21:04:21Z"), 1795727061000LL);
	CHECK_INT(iso_ms("junk"), 0);
}

/* the one list widget: keys, clamping, the rows shown, the wheel, a click,
 * where the rows are */
static void test_list_widget(void)
{
	struct listw l = { 0, 0 };
	CHECK(lw_key(&l, K_DOWN, 50, 10));
	CHECK_INT(l.sel, 1);
	CHECK(lw_key(&l, K_PGDN, 50, 10));
	CHECK_INT(l.sel, 11);
	CHECK(lw_key(&l, 'G', 50, 10));
	CHECK_INT(l.sel, 49);
	CHECK(lw_key(&l, K_DOWN, 50, 10)); /* at the end it stays */
	CHECK_INT(l.sel, 49);
	CHECK(!lw_key(&l, 'x', 50, 10));
	lw_show(&l, 50, 10); /* the selection on the 10 rows shown */
	CHECK_INT(l.top, 40);
	CHECK(lw_key(&l, K_HOME, 50, 10));
	lw_show(&l, 50, 10);
	CHECK_INT(l.top, 0);
	/* the list shrank: the selection and the rows shown follow */
	l.sel = 45, l.top = 40;
	lw_show(&l, 12, 10);
	CHECK_INT(l.sel, 11);
	CHECK_INT(l.top, 2); /* no empty rows below the last */
	lw_show(&l, 0, 10);
	CHECK_INT(l.sel, 0);
	CHECK_INT(l.top, 0);
	/* the wheel: three rows a notch, clamped */
	l.sel = 0;
	lw_wheel(&l, K_WHEEL_DOWN, 50);
	CHECK_INT(l.sel, LW_WHEEL_ROWS);
	lw_wheel(&l, K_WHEEL_UP, 50);
	lw_wheel(&l, K_WHEEL_UP, 50);
	CHECK_INT(l.sel, 0);
	/* a click on a shown row, not below the last */
	l.top = 5;
	CHECK(lw_click(&l, 2, 50));
	CHECK_INT(l.sel, 7);
	CHECK(!lw_click(&l, 2, 6));
	CHECK(!lw_click(&l, -1, 50));
	/* where the rows are: only when they do not all fit */
	char w[48];
	l.top = 40;
	CHECK(lw_where(&l, 50, 10, w, sizeof w) > 0);
	CHECK_STR(w, " 41-50 of 50 ");
	CHECK_INT(lw_where(&l, 8, 10, w, sizeof w), 0);
	CHECK_STR(w, "");
}

/* the one timestamp format, in UTC and in a local zone */
static void test_when(void)
{
	char s[32], z[16];
	int64_t ms = 1796623380000; /* 2026-12-07T06:03:00Z */
	fmt_when(ms, false, WHEN_FULL, s, sizeof s);
	CHECK_STR(s, "2026-12-07 06:03:00");
	fmt_when(ms, false, WHEN_HM, s, sizeof s);
	CHECK_STR(s, "06:03");
	fmt_when_iso("2026-12-07T06:03:00Z", false, WHEN_HMS, s, sizeof s);
	CHECK_STR(s, "06:03:00");
	fmt_when(0, false, WHEN_FULL, s, sizeof s);
	CHECK_STR(s, "-");
	fmt_when_iso("garbage", false, WHEN_HM, s, sizeof s);
	CHECK_STR(s, "-");
	CHECK_STR(when_zone(false, z, sizeof z), "UTC");
	const char *tz = getenv("TZ");
	char *saved = tz ? xstrdup(tz) : NULL;
	setenv("TZ", "XYZ-5:30", 1); /* a zone 5 h 30 ahead of UTC, no tzdata needed */
	tzset();
	fmt_when(ms, true, WHEN_FULL, s, sizeof s);
	CHECK_STR(s, "2026-12-07 11:33:00");
	CHECK_STR(when_zone(true, z, sizeof z), "XYZ");
	if (saved)
		setenv("TZ", saved, 1);
	else
		unsetenv("TZ");
	tzset();
	free(saved);
}

static void test_theme_files(void)
{
	struct theme t;
	char *cause = NULL;
	const char *names[] = { "themes/default.conf", "themes/light.conf", "themes/high-contrast.conf", "themes/monochrome.conf" };
	for (size_t i = 0; i < 4; i++) {
		CHECK(theme_load(&t, names[i], &cause) == 0);
	}
	CHECK(theme_load(&t, "no-such-theme", &cause) == -1);
	free(cause);
}

void suite_console(void)
{
	RUN(test_parse_overview);
	RUN(test_parse_garbage);
	RUN(test_canvas_clip_and_text);
	RUN(test_gauge);
	RUN(test_spark);
	RUN(test_usage_parse);
	RUN(test_age);
	RUN(test_theme_files);
	RUN(test_list_widget);
	RUN(test_when);
}
