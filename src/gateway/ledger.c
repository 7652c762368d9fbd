/* ledger.c — the request path's way into the store, and what happens when
 * the store stops taking writes (a full disk, a read-only file system,
 * another process holding the database lock).
 *
 * The rule: no request is served unmetered. A row that cannot be written
 * is kept in memory (bounded) and its caller told, so the client gets a
 * 503 instead of the answer; from then on the gateway is "down" and the
 * pipeline refuses requests before forwarding them. A probe write every
 * PROBE_MS finds out when the store is back, writes the kept rows first,
 * then lets requests through again. /healthz reports the state. */
#include "gateway.h"

#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define PROBE_MS 250
#define PENDING_MAX 10000

struct ledger {
	struct gateway *g;
	bool down;
	char *cause;             /* why the last write failed, while down */
	struct ledger_row *rows; /* kept rows; their strings are owned here */
	size_t n, cap;
	int64_t dropped;         /* rows lost because the queue was full */
	struct event *probe;
};

static void row_free(struct ledger_row *r)
{
	free((char *)r->team);
	free((char *)r->key);
	free((char *)r->key_fp);
	free((char *)r->model);
	free((char *)r->reason);
}

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

static void keep(struct ledger *l, const struct ledger_row *r)
{
	if (l->n == PENDING_MAX) {
		l->dropped++;
		return;
	}
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		l->rows = xrealloc(l->rows, l->cap * sizeof *l->rows);
	}
	struct ledger_row *c = &l->rows[l->n++];
	*c = *r;
	c->team = dup_or_null(r->team);
	c->key = dup_or_null(r->key);
	c->key_fp = dup_or_null(r->key_fp);
	c->model = dup_or_null(r->model);
	c->reason = dup_or_null(r->reason);
}

/* the kept rows, in one transaction; 0 when all are written */
static int write_kept(struct ledger *l, char **cause)
{
	struct store *s = l->g->store;
	if (l->n == 0)
		return 0;
	if (store_begin(s, cause) != 0)
		return -1;
	for (size_t i = 0; i < l->n; i++)
		if (store_ledger(s, &l->rows[i], cause) != 0) {
			store_rollback(s);
			return -1;
		}
	if (store_commit(s, cause) != 0)
		return -1;
	for (size_t i = 0; i < l->n; i++)
		row_free(&l->rows[i]);
	l->n = 0;
	return 0;
}

static void arm_probe(struct ledger *l)
{
	struct timeval tv = { PROBE_MS / 1000, (PROBE_MS % 1000) * 1000 };
	evtimer_add(l->probe, &tv);
}

static void probe_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct ledger *l = arg;
	struct gateway *g = l->g;
	char *cause = NULL;
	size_t kept = l->n;
	if (store_probe(g->store, gw_now(g), &cause) != 0 || write_kept(l, &cause) != 0) {
		free(l->cause);
		l->cause = cause;
		arm_probe(l);
		return;
	}
	l->down = false;
	free(l->cause);
	l->cause = NULL;
	gw_log(g, json_pack("{s:s,s:s,s:I,s:I}", "level", "warn", "msg", "store writable again; requests admitted",
			    "rows_written", (json_int_t)kept, "rows_lost", (json_int_t)l->dropped));
}

struct ledger *ledger_new(struct gateway *g)
{
	struct ledger *l = xcalloc(1, sizeof *l);
	l->g = g;
	l->probe = evtimer_new(g->base, probe_cb, l);
	return l;
}

void ledger_free(struct ledger *l)
{
	if (!l)
		return;
	char *cause = NULL;
	if (l->n && write_kept(l, &cause) != 0) {
		gw_log(l->g, json_pack("{s:s,s:s,s:I,s:s}", "level", "error", "msg", "ledger rows lost at exit", "rows",
				       (json_int_t)l->n, "error", cause ? cause : "?"));
		free(cause);
	}
	for (size_t i = 0; i < l->n; i++)
		row_free(&l->rows[i]);
	free(l->rows);
	free(l->cause);
	event_free(l->probe);
	free(l);
}

void ledger_failed(struct ledger *l, const char *cause)
{
	if (!l->down)
		gw_log(l->g, json_pack("{s:s,s:s,s:s}", "level", "error", "msg",
				       "store not writable; requests refused until it is", "error", cause ? cause : "?"));
	l->down = true;
	free(l->cause);
	l->cause = xstrdup(cause ? cause : "store error");
	if (!evtimer_pending(l->probe, NULL))
		arm_probe(l);
}

int ledger_record(struct ledger *l, const struct ledger_row *r)
{
	char *cause = NULL;
	if (!l->down && store_ledger(l->g->store, r, &cause) == 0)
		return 0;
	if (cause) {
		ledger_failed(l, cause);
		free(cause);
	}
	return -1;
}

void ledger_keep(struct ledger *l, const struct ledger_row *r)
{
	keep(l, r);
}

bool ledger_down(const struct ledger *l)
{
	return l->down;
}

const char *ledger_cause(const struct ledger *l)
{
	return l->cause;
}

size_t ledger_pending(const struct ledger *l)
{
	return l->n;
}

int64_t ledger_lost(const struct ledger *l)
{
	return l->dropped;
}
