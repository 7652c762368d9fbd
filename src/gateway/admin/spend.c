/* spend.c — GET /admin/v1/spend: showback from the ledger, grouped by any
 * of day, team, key, model and route, over whole UTC days (to inclusive),
 * as CSV (a header row) or JSON; the sums are the ledger's, to the
 * nano-dollar. */
#include "admin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "httpd.h"
#include "util.h"

static const char *const group_names[SPEND_GROUPS] = { "day", "team", "key", "model", "route", "user" };
static const char *const sum_names[SPEND_SUMS] = { "requests", "input_tokens", "cached_input_tokens", "output_tokens",
						   "audio_seconds", "characters", "cost_usd" };

struct spend_out {
	buf out;
	bool csv, first;
	int ng;
	int order[SPEND_GROUPS]; /* the group names of the keys, in order */
	int64_t total;
};

static void usd9(buf *b, int64_t nusd)
{
	char u[USD_TEXT_MAX];
	buf_add(b, u, usd_text(u, nusd));
}

static void csv_cell(buf *b, const char *s)
{
	if (!s)
		return;
	if (!strpbrk(s, ",\"\r\n")) {
		buf_adds(b, s);
		return;
	}
	buf_add(b, "\"", 1);
	for (const char *p = s; *p; p++) {
		if (*p == '"')
			buf_add(b, "\"", 1);
		buf_add(b, p, 1);
	}
	buf_add(b, "\"", 1);
}

static void one_row(void *arg, const char *const *keys, const int64_t *sums)
{
	struct spend_out *o = arg;
	o->total += sums[SPEND_SUMS - 1];
	if (o->csv) {
		for (int i = 0; i < o->ng; i++) {
			csv_cell(&o->out, keys[i]);
			buf_add(&o->out, ",", 1);
		}
		for (int i = 0; i < SPEND_SUMS - 1; i++) {
			buf_addi(&o->out, sums[i]);
			buf_add(&o->out, ",", 1);
		}
		usd9(&o->out, sums[SPEND_SUMS - 1]);
		buf_add(&o->out, "\n", 1);
		return;
	}
	buf_adds(&o->out, o->first ? "{" : ",{");
	o->first = false;
	for (int i = 0; i < o->ng; i++) {
		buf_addf(&o->out, "\"%s\":", group_names[o->order[i]]);
		if (keys[i])
			json_str(&o->out, keys[i]);
		else
			buf_adds(&o->out, "null");
		buf_add(&o->out, ",", 1);
	}
	for (int i = 0; i < SPEND_SUMS - 1; i++)
		buf_addf(&o->out, "\"%s\":%lld,", sum_names[i], (long long)sums[i]);
	buf_adds(&o->out, "\"cost_usd\":");
	usd9(&o->out, sums[SPEND_SUMS - 1]);
	buf_add(&o->out, "}", 1);
}

void spend_route(struct gateway *g, struct hreq *req)
{
	char *from_s = httpd_query(req, "from"), *to_s = httpd_query(req, "to"), *gb = httpd_query(req, "group_by"),
	     *fmt = httpd_query(req, "format");
	struct spend_out o = { .first = true };
	buf_init(&o.out);
	int64_t now = gw_now(g);
	int64_t from = from_s ? utc_date_ms(from_s) : month_start_ms(now);
	int64_t to = to_s ? utc_date_ms(to_s) : day_start_ms(now);
	unsigned groups = 0;
	if (from < 0 || to < 0) {
		admin_error(req, 400, "invalid_value", "'%s' must be a date YYYY-MM-DD (UTC).", from < 0 ? "from" : "to");
		goto out;
	}
	if (from > to) {
		admin_error(req, 400, "invalid_value", "'from' (%s) is after 'to' (%s).", from_s, to_s ? to_s : "today");
		goto out;
	}
	if (to - from > 365 * 86400000LL) {
		admin_error(req, 400, "invalid_value", "'from' and 'to' are over 366 days apart: ask for a year or less at a time.");
		goto out;
	}
	if (fmt && strcmp(fmt, "csv") && strcmp(fmt, "json")) {
		admin_error(req, 400, "invalid_value", "'format' must be csv or json.");
		goto out;
	}
	o.csv = fmt && strcmp(fmt, "csv") == 0;
	for (char *save = NULL, *w = gb ? strtok_r(gb, ",", &save) : NULL; w; w = strtok_r(NULL, ",", &save)) {
		int k = -1;
		for (int i = 0; i < SPEND_GROUPS; i++)
			if (strcmp(w, group_names[i]) == 0)
				k = i;
		if (k < 0) {
			admin_error(req, 400, "invalid_value", "'group_by' takes day, team, key, model, route and user; not '%.40s'.",
				    w);
			goto out;
		}
		groups |= 1u << k;
	}
	for (int i = 0; i < SPEND_GROUPS; i++) /* the keys come in this order, whatever order was asked */
		if (groups & (1u << i))
			o.order[o.ng++] = i;
	if (o.csv) {
		for (int i = 0; i < o.ng; i++)
			buf_addf(&o.out, "%s,", group_names[o.order[i]]);
		for (int i = 0; i < SPEND_SUMS; i++)
			buf_addf(&o.out, "%s%s", sum_names[i], i + 1 < SPEND_SUMS ? "," : "\n");
	} else {
		buf_adds(&o.out, "{\"rows\":[");
	}
	/* what the journal holds is in the ledger first */
	char *cause = NULL;
	if (ledger_sync(g->ledger, &cause) != 0 ||
	    store_spend(g->store, from, to + 86400000, groups, one_row, &o, &cause) != 0) {
		admin_error(req, 503, "store_unavailable", "The ledger could not be read: %s", cause ? cause : "?");
		free(cause);
		goto out;
	}
	if (o.csv) {
		httpd_set_header(req, "Content-Disposition", "attachment; filename=\"groqgate-spend.csv\"");
		httpd_send(req, 200, "text/csv; charset=utf-8", o.out.data, o.out.len);
	} else {
		buf_adds(&o.out, "],\"total_cost_usd\":");
		usd9(&o.out, o.total);
		buf_adds(&o.out, "}");
		httpd_send(req, 200, "application/json", o.out.data, o.out.len);
	}
out:
	buf_free(&o.out);
	free(from_s);
	free(to_s);
	free(gb);
	free(fmt);
}
