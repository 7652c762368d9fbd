/* log.c — the gateway's log and clock, beneath every module that needs
 * them (the request path, the admin API, rotation, alerts): JSON lines on
 * log.path or stderr, request lines batched into one write every 100 ms. */
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

