/* ledger.c — the request path's way into the store, and what happens when
 * the store stops taking writes (a full disk, a read-only file system,
 * another process holding the database lock).
 *
 * The rule: no request is served unmetered. A row that cannot be written
 * is kept in memory (bounded) and its caller told, so the client gets a
 * 503 instead of the answer; from then on the gateway is "down" and the
 * pipeline refuses requests before forwarding them. A probe write every
 * PROBE_MS finds out when the store is back, writes the kept rows first,
 * then lets requests through again. /healthz reports the state.
 *
 * Group commit: rows submitted while the event loop works through one
 * batch of ready sockets are written in one transaction at the end of that
 * batch (an event made active at the first row runs after the callbacks
 * already queued). Each row's caller is called back once its row is
 * committed, or not, and only then sends its answer's last bytes: the
 * durability rule holds, and under load one commit (its locks, its WAL
 * frames) serves many answers. At one request at a time nothing waits:
 * the commit runs in the same loop iteration. */
#include "gateway.h"

#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define PROBE_MS 250
#define PENDING_MAX 10000

struct waiting {
	struct ledger_row row; /* its strings point into strs (or, after fn,
				* to a string that outlives the batch) */
	char *strs;            /* the row's strings, one allocation */
	ledger_fn fn;
	void *arg;
};

struct ledger {
	struct gateway *g;
	struct waiting *batch;   /* rows of this loop iteration, not yet written */
	size_t nb, capb;
	struct event *commit;
	int64_t commits, committed_rows;
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

static void row_dup(struct ledger_row *c, const struct ledger_row *r)
{
	*c = *r;
	c->team = dup_or_null(r->team);
	c->key = dup_or_null(r->key);
	c->key_fp = dup_or_null(r->key_fp);
	c->model = dup_or_null(r->model);
	c->reason = dup_or_null(r->reason);
}

/* keeps a copy of a row until the store is back */
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
	row_dup(&l->rows[l->n++], r);
}

/* copies a row's strings into one allocation (the request path's copy) */
static char *pack(const char **f, size_t n)
{
	size_t len = 0;
	for (size_t i = 0; i < n; i++)
		len += f[i] ? strlen(f[i]) + 1 : 0;
	char *block = xmalloc(len ? len : 1), *q = block;
	for (size_t i = 0; i < n; i++)
		if (f[i]) {
			size_t k = strlen(f[i]) + 1;
			memcpy(q, f[i], k);
			f[i] = q;
			q += k;
		}
	return block;
}

/* n rows, `stride` bytes apart (kept rows, or those of a batch), in one
 * transaction (one alone needs none); 0 when all are written */
static int write_rows(struct store *s, const struct ledger_row *rows, size_t n, size_t stride, char **cause)
{
#define ROW(i) ((const struct ledger_row *)((const char *)rows + (i) * stride))
	if (n == 1)
		return store_ledger(s, ROW(0), cause);
	if (store_begin(s, cause) != 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (store_ledger(s, ROW(i), cause) != 0) {
			store_rollback(s);
			return -1;
		}
	return store_commit(s, cause);
#undef ROW
}

static int write_kept(struct ledger *l, char **cause)
{
	if (l->n == 0)
		return 0;
	if (write_rows(l->g->store, l->rows, l->n, sizeof *l->rows, cause) != 0)
		return -1;
	for (size_t i = 0; i < l->n; i++)
		row_free(&l->rows[i]);
	l->n = 0;
	return 0;
}

/* the batch: written, then each caller told; rows that were not written
 * are kept (after their caller has had its say on how they should read) */
static void commit_batch(struct ledger *l, bool call)
{
	struct waiting *b = l->batch;
	size_t n = l->nb;
	l->batch = NULL;
	l->nb = l->capb = 0;
	if (n == 0) {
		free(b);
		return;
	}
	char *cause = NULL;
	bool ok = false;
	if (!l->down) {
		ok = write_rows(l->g->store, &b[0].row, n, sizeof *b, &cause) == 0;
		if (!ok)
			ledger_failed(l, cause);
		free(cause);
	}
	if (ok) {
		l->commits++;
		l->committed_rows += (int64_t)n;
	}
	for (size_t i = 0; i < n; i++) {
		if (call && b[i].fn)
			b[i].fn(b[i].arg, ok, &b[i].row);
		if (!ok)
			keep(l, &b[i].row);
		free(b[i].strs);
	}
	free(b);
}

static void commit_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	commit_batch(arg, true);
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
	l->commit = event_new(g->base, -1, 0, commit_cb, l);
	return l;
}

void ledger_free(struct ledger *l)
{
	if (!l)
		return;
	commit_batch(l, false); /* empty: the loop ends with no request left */
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
	event_free(l->commit);
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

void ledger_submit(struct ledger *l, const struct ledger_row *r, ledger_fn fn, void *arg)
{
	if (l->nb == l->capb) {
		l->capb = l->capb ? l->capb * 2 : 16;
		l->batch = xrealloc(l->batch, l->capb * sizeof *l->batch);
	}
	struct waiting *w = &l->batch[l->nb++];
	w->row = *r;
	const char *f[] = { r->team, r->key, r->key_fp, r->model, r->reason };
	w->strs = pack(f, ARRAY_LEN(f));
	w->row.team = f[0];
	w->row.key = f[1];
	w->row.key_fp = f[2];
	w->row.model = f[3];
	w->row.reason = f[4];
	w->fn = fn;
	w->arg = arg;
	if (l->nb == 1)
		event_active(l->commit, EV_TIMEOUT, 1);
}

int64_t ledger_commits(const struct ledger *l)
{
	return l->commits;
}

int64_t ledger_committed_rows(const struct ledger *l)
{
	return l->committed_rows;
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
