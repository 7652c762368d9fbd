/* log.c — the gateway's log and clock, beneath every module that needs
 * them (the request path, the admin API, rotation, alerts): JSON lines on
 * log.path or stderr, request lines (gw_log_request, formatted here without
 * printf) batched into one write every 100 ms. */
#include "core.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>

#include "util.h"


int64_t gw_now(struct gateway *g)
{
	return clock_now(&g->clock);
}

void gw_log_flush(struct gateway *g)
{
	if (!g->logbuf.len)
		return;
	FILE *f = g->log ? g->log : stderr;
	fwrite(g->logbuf.data, 1, g->logbuf.len, f);
	fflush(f);
	buf_reset(&g->logbuf);
}

static void log_flush_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	gw_log_flush(arg);
}

void gw_log_flush_soon(struct gateway *g)
{
	if (g->logbuf.len >= 65536 || !g->base) {
		gw_log_flush(g);
		return;
	}
	if (!g->logflush)
		g->logflush = evtimer_new(g->base, log_flush_cb, g);
	if (!evtimer_pending(g->logflush, NULL)) {
		struct timeval tv = { 0, 100000 };
		evtimer_add(g->logflush, &tv);
	}
}

static void field_str(buf *l, const char *name, const char *v)
{
	if (!v)
		return;
	buf_adds(l, name);
	json_str(l, v);
}

void gw_log_request(struct gateway *g, const struct reqline *r)
{
	if (r->now / 1000 != g->log_sec) { /* the time formatted once a second */
		g->log_sec = r->now / 1000;
		time_iso(r->now, g->log_ts, sizeof g->log_ts);
	}
	buf *l = &g->logbuf;
	buf_adds(l, "{\"time\":\"");
	buf_adds(l, g->log_ts);
	buf_adds(l, "\",\"level\":\"info\",\"msg\":\"request\",\"path\":");
	json_str(l, r->path);
	buf_adds(l, ",\"status\":");
	buf_addi(l, r->status);
	buf_adds(l, ",\"latency_us\":");
	buf_addi(l, r->latency_us);
	buf_adds(l, r->stream ? ",\"stream\":true" : ",\"stream\":false");
	if (r->route) { /* (the route table's names need no escaping) */
		buf_adds(l, ",\"route\":\"");
		buf_adds(l, r->route);
		buf_adds(l, "\"");
	}
	field_str(l, ",\"team\":", r->team);
	field_str(l, ",\"token_id\":", r->token_id);
	field_str(l, ",\"key\":", r->key);
	field_str(l, ",\"key_fp\":", r->key_fp);
	field_str(l, ",\"model\":", r->model);
	field_str(l, ",\"reason\":", r->reason);
	field_str(l, ",\"groq_request_id\":", r->groq_request_id);
	field_str(l, ",\"client_request_id\":", r->client_request_id);
	if (r->metered) { /* integers only: no printf per request */
		buf_adds(l, ",\"prompt_tokens\":");
		buf_addi(l, r->prompt_tokens);
		buf_adds(l, ",\"completion_tokens\":");
		buf_addi(l, r->completion_tokens);
		if (r->unit) {
			buf_adds(l, ",\"unit\":\"");
			buf_adds(l, r->unit);
			buf_adds(l, "\",\"quantity\":");
			buf_addi(l, r->quantity);
		}
		buf_adds(l, ",\"cost_usd\":");
		char usd[USD_TEXT_MAX];
		buf_add(l, usd, usd_text(usd, r->cost_nusd));
	}
	if (r->ledger_pending)
		buf_adds(l, ",\"ledger\":\"pending\"");
	buf_adds(l, "}\n");
	gw_log_flush_soon(g);
}

void gw_log(struct gateway *g, json_t *line)
{
	gw_log_flush(g); /* keep lines in order */
	if (!json_object_get(line, "time")) {
		char ts[32];
		time_iso(gw_now(g), ts, sizeof ts);
		json_object_set_new(line, "time", json_string(ts));
	}
	char *s = json_dumps(line, JSON_COMPACT | JSON_REAL_PRECISION(9));
	json_decref(line);
	if (s) {
		fprintf(g->log ? g->log : stderr, "%s\n", s);
		free(s);
	}
}

