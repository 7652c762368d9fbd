/* test_groq.c — Groq's Enterprise metrics read (groqprom.c) and reconciled
 * with what the gateway sent (reconcile.c): answers parsed, quantiles as
 * Prometheus computes them, the gateway's window never below the truth,
 * drift decided with its tolerance and minimum. */
#include <math.h>
#include <stdlib.h>

#include "gateway.h"
#include "groq.h"
#include "t.h"
#include "util.h"

static int add(struct gm_figures *f, enum gm_series s, const char *body)
{
	char *cause = NULL;
	int rc = gm_add(f, s, body, strlen(body), &cause);
	free(cause);
	return rc;
}

static void test_gm_parse(void)
{
	int rc;
	struct gm_figures f = { 0 };
	rc = add(&f, GM_REQUESTS,
		      "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":["
		      "{\"metric\":{\"model\":\"m1\",\"project_id\":\"p1\",\"status_code\":\"200\"},\"value\":[1.5,\"0.5\"]},"
		      "{\"metric\":{\"model\":\"m1\",\"project_id\":\"p1\",\"status_code\":\"429\"},\"value\":[1.5,\"0.25\"]},"
		      "{\"metric\":{\"model\":\"m2\",\"project_id\":\"p0\",\"status_code\":\"200\"},\"value\":[1.5,\"NaN\"]},"
		      "{\"metric\":{\"model\":\"m3\"},\"value\":[1.5,\"9\"]}]}}");
	CHECK_INT(rc, 0);
	rc = add(&f, GM_TOKENS_IN,
		      "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":["
		      "{\"metric\":{\"model\":\"m1\",\"project_id\":\"p1\"},\"value\":[1.5,\"100\"]}]}}");
	CHECK_INT(rc, 0);
	gm_finish(&f);
	CHECK_INT(f.n, 2); /* a series without project_id is not a row */
	CHECK_STR(f.rows[0].project, "p0"); /* sorted */
	const struct gm_row *r = gm_find(&f, "p1", "m1");
	CHECK(r != NULL);
	CHECK(fabs(r->req_s - 0.75) < 1e-9);
	CHECK(fabs(r->err_s - 0.25) < 1e-9);
	CHECK(fabs(r->tin_s - 100) < 1e-9);
	CHECK(r->ttft_p99 < 0); /* no histogram: unknown */
	/* not an answer: refused, figures untouched */
	rc = add(&f, GM_TOKENS_OUT, "{\"status\":\"error\",\"error\":\"bad\"}");
	CHECK_INT(rc, -1);
	rc = add(&f, GM_TOKENS_OUT, "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":[]}}");
	CHECK_INT(rc, -1);
	rc = add(&f, GM_TOKENS_OUT, "<html>");
	CHECK_INT(rc, -1);
	rc = add(&f, GM_TOKENS_OUT,
		      "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":["
		      "{\"metric\":{\"model\":\"m1\",\"project_id\":\"p1\"},\"value\":[1.5,\"-3\"]}]}}");
	CHECK_INT(rc, -1); /* a negative rate is no rate: the query fails */
	CHECK(r->tout_s == 0);
	static const char *const absurd[] = { "1e308", "+Inf", "-Inf", "1e10", "x" };
	for (size_t i = 0; i < sizeof absurd / sizeof *absurd; i++) {
		char body[300];
		snprintf(body, sizeof body,
			 "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":["
			 "{\"metric\":{\"model\":\"m1\",\"project_id\":\"p1\"},\"value\":[1.5,\"%s\"]}]}}",
			 absurd[i]);
		CHECK_INT(add(&f, GM_TOKENS_OUT, body), -1);
	}
	/* rates each below the bound whose sum is not */
	rc = add(&f, GM_TOKENS_OUT,
		 "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":["
		 "{\"metric\":{\"model\":\"m9\",\"project_id\":\"p9\"},\"value\":[1.5,\"9e8\"]},"
		 "{\"metric\":{\"model\":\"m9\",\"project_id\":\"p9\"},\"value\":[1.5,\"9e8\"]}]}}");
	CHECK_INT(rc, -1);
	gm_free(&f);
}

static void test_gm_quantile(void)
{
	/* Prometheus' histogram_quantile: linear within the bucket */
	double le[] = { 0.1, 0.5, 1, INFINITY };
	double cum[] = { 10, 60, 100, 100 };
	CHECK(fabs(gm_quantile(0.5, le, cum, 4) - 0.42) < 1e-9); /* 0.1 + 0.4 * (40/50) */
	CHECK(fabs(gm_quantile(0.05, le, cum, 4) - 0.05) < 1e-9);
	CHECK(fabs(gm_quantile(0.99, le, cum, 4) - 0.9875) < 1e-9);
	double cum2[] = { 0, 0, 0, 4 }; /* all above the last bound: that bound */
	CHECK(fabs(gm_quantile(0.99, le, cum2, 4) - 1) < 1e-9);
	double none[] = { 0, 0, 0, 0 };
	CHECK(gm_quantile(0.99, le, none, 4) < 0);
	double le2[] = { 0.1, 0.5 }; /* no +Inf bucket: not a histogram */
	CHECK(gm_quantile(0.5, le2, cum, 2) < 0);
	/* buckets in any order in the answer */
	int rc;
	struct gm_figures f = { 0 };
	rc = add(&f, GM_TTFT,
		      "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":["
		      "{\"metric\":{\"le\":\"+Inf\",\"model\":\"m\",\"project_id\":\"p\"},\"value\":[1,\"100\"]},"
		      "{\"metric\":{\"le\":\"0.1\",\"model\":\"m\",\"project_id\":\"p\"},\"value\":[1,\"10\"]},"
		      "{\"metric\":{\"le\":\"1\",\"model\":\"m\",\"project_id\":\"p\"},\"value\":[1,\"100\"]},"
		      "{\"metric\":{\"le\":\"0.5\",\"model\":\"m\",\"project_id\":\"p\"},\"value\":[1,\"60\"]}]}}");
	CHECK_INT(rc, 0);
	gm_finish(&f);
	CHECK(fabs(f.rows[0].ttft_p50 - 0.42) < 1e-9);
	CHECK(fabs(f.rows[0].ttft_p99 - 0.9875) < 1e-9);
	gm_free(&f);
}

static void test_sent_window(void)
{
	struct ukey k = { 0 };
	int64_t w = 300000, t0 = 1700000000000LL;
	/* one request a second for 10 minutes */
	for (int i = 0; i < 600; i++)
		sent_count(&k, "m", t0 + i * 1000, w, 10, 2);
	int64_t req, tin, tout;
	int64_t now = t0 + 599 * 1000;
	sent_sum(&k, "m", now, w, &req, &tin, &tout);
	/* the last 300 s hold 300 requests; the sum may hold one bucket (10 s) more, never less */
	CHECK(req >= 300 && req <= 310);
	CHECK_INT(tin, req * 10);
	CHECK_INT(tout, req * 2);
	sent_sum(&k, "other", now, w, &req, &tin, &tout);
	CHECK_INT(req, 0);
	sent_sum(&k, NULL, now + w + 20000, w, &req, &tin, &tout);
	CHECK_INT(req, 0); /* all of it left the window */
	sent_free(&k);
}

static void test_drift_decide(void)
{
	struct drift_rule r = { 0.2, 2.0 };
	CHECK(!drift_decide(&r, 36, 36));
	CHECK(!drift_decide(&r, 37.5, 36));  /* within the minimum */
	CHECK(!drift_decide(&r, 115, 100));  /* within the tolerance (20 %) */
	CHECK(drift_decide(&r, 125, 100));
	CHECK(drift_decide(&r, 3, 0));       /* traffic on a key the gateway did not use */
	CHECK(!drift_decide(&r, 1.9, 0));
	CHECK(!drift_decide(&r, 10, 50));    /* Groq counting less is not drift */
}

void suite_groq(void)
{
	RUN(test_gm_parse);
	RUN(test_gm_quantile);
	RUN(test_sent_window);
	RUN(test_drift_decide);
}
