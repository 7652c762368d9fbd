/* ledger.c — the request path's way into the store, and what happens when
 * the store stops taking writes (a full disk, a read-only file system,
 * another process holding the database lock).
 *
 * The rule: no request is served unmetered. Rows submitted while the event
 * loop works through one batch of ready sockets are appended to the ledger
 * journal (journal.h) at the end of that batch; each row's caller is then
 * called back and only then sends its answer's last bytes. A process crash
 * keeps what the journal was given, so an answer the client received in
 * full is never lost, without a transaction per request: every APPLY_MS
 * (or sooner, once APPLY_ROWS wait) the journaled rows go into the store
 * in one transaction.
 * At start, rows the store has not got are moved from the journal first.
 *
 * Two ways to fail:
 *  - the journal takes no row (a full disk when it must grow, or the store
 *    has not taken the journal's rows for so long that it holds
 *    store.journal_max_bytes): the row is kept in memory (bounded), its
 *    caller told, so the client gets a 503 instead of the answer; the
 *    gateway is "down" and the pipeline refuses requests before
 *    forwarding them;
 *  - the store takes no row (a lock held by another process, a full disk):
 *    rows wait in the journal ("lagging") and requests are still served.
 * Either way a probe write every PROBE_MS finds out when the store is
 * back; kept rows are journaled, the journal is moved into the store, and
 * requests are let through again. /healthz reports the state. */
#include "store.h"

#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#include "journal.h"
#include "util.h"

#define PROBE_MS 250
#define PENDING_MAX 10000
#define APPLY_MS 20          /* journaled rows reach the store within this */
#define APPLY_ROWS 256       /* or as soon as this many wait */
#define APPLY_MAX 4096       /* rows per transaction: a backlog goes in steps */
#define APPLY_PATIENCE_MS 250 /* a lock held this long is waited for, on the loop */

struct waiting {
	struct ledger_row row; /* its strings point into strs (or, after fn,
				* to a string that outlives the batch) */
	char *strs;            /* the row's strings, one allocation */
	ledger_fn fn;
	void *arg;
};

struct ledger {
	struct gateway *g;
	struct journal *j;
	int64_t next_seq;        /* the next row's id */
	int64_t run_first;       /* the first id of this run (rows before it were shipped at start) */
	bool open;               /* ledger_open finished: rows may be flushed at exit */
	int64_t floor;           /* rows up to this id were in the store at start */
	struct waiting *batch;   /* rows of this loop iteration, not yet journaled */
	size_t nb, capb;
	buf out;                 /* the batch's records */
	struct event *commit;    /* end of the loop pass: the batch to the journal */
	struct event *apply;     /* the journal to the store */
	int64_t writes, commits, committed_rows;
	size_t backlog;          /* rows journaled, not yet in the store */
	int64_t busy_since;      /* µs: the first try that found the lock held, or 0 */
	bool down;               /* the journal takes no rows: requests refused */
	bool lagging;            /* the store takes no rows: they wait in the journal */
	char *cause;             /* why the last write failed, while down or lagging */
	struct ledger_row *rows; /* kept rows; their strings are owned here */
	size_t n, cap;
	int64_t dropped;         /* rows lost because the queue was full */
	struct event *probe;
};

static void row_free(struct ledger_row *r)
{
	const char **s[LEDGER_NSTR] = LEDGER_STRS(r);
	for (int i = 0; i < LEDGER_NSTR; i++)
		free((char *)*s[i]);
}

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

static void row_dup(struct ledger_row *c, const struct ledger_row *r)
{
	*c = *r;
	const char **s[LEDGER_NSTR] = LEDGER_STRS(c);
	for (int i = 0; i < LEDGER_NSTR; i++)
		*s[i] = dup_or_null(*s[i]);
}

/* keeps a copy of a row until the journal takes rows again */
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

/* copies a row's strings into one allocation, r's pointing into it (the
 * request path's copy); the block is the caller's to free */
static char *pack(struct ledger_row *r)
{
	const char **f[LEDGER_NSTR] = LEDGER_STRS(r);
	size_t len = 0;
	for (size_t i = 0; i < LEDGER_NSTR; i++)
		len += *f[i] ? strlen(*f[i]) + 1 : 0;
	char *block = xmalloc(len ? len : 1), *q = block;
	for (size_t i = 0; i < LEDGER_NSTR; i++)
		if (*f[i]) {
			size_t k = strlen(*f[i]) + 1;
			memcpy(q, *f[i], k);
			*f[i] = q;
			q += k;
		}
	return block;
}

static int apply_step(struct ledger *l, bool wait, bool *more, char **cause);

/* appends l->out (n rows) to the journal; 0 when written */
static int journal_out(struct ledger *l, size_t n, char **cause)
{
	int rc = 0;
	/* a full journal with rows still waiting would grow; under steady
	 * load some always wait: they go into the store now (as the next tick
	 * would move them), so that the file starts over instead (unless the
	 * store's lock is held elsewhere at this moment). Not into a cluster's
	 * PostgreSQL: that would hold this batch's answers for a round trip;
	 * there the file grows and starts over once its rows are in. */
	if (journal_full(l->j, l->out.len) && !l->lagging && !l->down && !l->g->cluster) {
		bool more;
		char *why = NULL;
		(void)apply_step(l, false, &more, &why);
		free(why);
	}
	if ((int64_t)(journal_size(l->j) + l->out.len) > l->g->cfg.journal_max_bytes)
		rc = fail(cause, "the ledger journal holds %zu rows the store has not taken (%s)", l->backlog,
			  l->cause ? l->cause : "store error");
	else if ((rc = journal_append(l->j, l->out.data, l->out.len, cause)) == 0) {
		l->writes++;
		l->backlog += n;
	}
	buf_reset(&l->out);
	return rc;
}

static int apply_all(struct ledger *l, char **cause);

/* Writes the kept rows to the journal and moves them into the store, as
 * many at a time as store.journal_max_bytes allows (all of them at once
 * could be more than it holds, and then never go in). Rows written are
 * dropped from l->rows; on failure the rest stay kept. */
static int write_kept(struct ledger *l, char **cause)
{
	if (l->n == 0)
		return 0;
	size_t done = 0;
	int rc = 0;
	while (done < l->n) {
		size_t k = done;
		int64_t seq0 = l->next_seq;
		while (k < l->n) {
			size_t before = l->out.len;
			journal_encode(&l->out, l->next_seq, &l->rows[k]);
			if (k > done && (int64_t)(journal_size(l->j) + l->out.len) > l->g->cfg.journal_max_bytes) {
				l->out.len = before; /* the next step takes it */
				break;
			}
			l->next_seq++;
			k++;
		}
		if ((rc = journal_out(l, k - done, cause)) != 0) {
			l->next_seq = seq0;
			break;
		}
		for (size_t i = done; i < k; i++)
			row_free(&l->rows[i]);
		done = k;
		if (done < l->n && (rc = apply_all(l, cause)) != 0)
			break;
	}
	memmove(l->rows, l->rows + done, (l->n - done) * sizeof *l->rows);
	l->n -= done;
	return rc;
}

struct applying {
	struct ledger *l;
	size_t written;
	char *cause;
	/* cluster mode: the costs of this run's rows in the transaction, told
	 * to their teams once it commits */
	struct shipped {
		struct team *t;
		int64_t cost;
	} *sh;
	size_t nsh, capsh;
};

static int apply_row(void *arg, int64_t seq, const struct ledger_row *r)
{
	struct applying *a = arg;
	if (seq <= a->l->floor) /* in the store before a crash cut the journal short */
		return 0;
	struct ledger_row row = *r;
	row.id = seq;
	if (store_ledger(a->l->g->store, &row, &a->cause) != 0)
		return -1;
	a->written++;
	struct team *t;
	if (a->l->g->cluster && r->cost_nusd && seq >= a->l->run_first && (t = registry_team(&a->l->g->reg, r->team))) {
		if (a->nsh == a->capsh) {
			a->capsh = a->capsh ? a->capsh * 2 : 64;
			a->sh = xrealloc(a->sh, a->capsh * sizeof *a->sh);
		}
		a->sh[a->nsh++] = (struct shipped){ t, r->cost_nusd };
	}
	if (seq >= a->l->next_seq) /* at start: ids go on after the journal's */
		a->l->next_seq = seq + 1;
	return 0;
}

/* one transaction of up to APPLY_MAX journaled rows into the store; 0 when
 * done (*more when the journal holds more), 1 when the store's lock is held
 * elsewhere and wait is false */
static int apply_step(struct ledger *l, bool wait, bool *more, char **cause)
{
	*more = false;
	if (journal_size(l->j) == 0)
		return 0;
	struct store *s = l->g->store;
	int rc = wait ? store_begin(s, cause) : store_try_begin(s, cause);
	if (rc != 0)
		return rc;
	struct applying a = { .l = l };
	size_t rows = 0, end = 0;
	bool torn = false;
	if (journal_read(l->j, APPLY_MAX, apply_row, &a, &rows, &end, &torn, &a.cause) != 0) {
		store_rollback(s);
		*cause = a.cause;
		free(a.sh);
		return -1;
	}
	if (store_commit(s, cause) != 0) {
		free(a.sh);
		return -1;
	}
	for (size_t i = 0; i < a.nsh; i++)
		team_shipped(a.sh[i].t, a.sh[i].cost);
	free(a.sh);
	if (torn)
		gw_log(l->g, json_pack("{s:s,s:s,s:s,s:I}", "level", "warn", "msg",
				       "ledger journal: records cut short at its end (a batch copied in part when the gateway died, or a power loss) were dropped", "file",
				       journal_path(l->j), "at_byte", (json_int_t)end));
	journal_mark(l->j, end, torn);
	if (a.written) {
		l->commits++;
		l->committed_rows += (int64_t)a.written;
	}
	l->backlog = rows < l->backlog ? l->backlog - rows : 0;
	*more = journal_size(l->j) > 0;
	return 0;
}

/* moves the whole journal into the store */
static int apply_all(struct ledger *l, char **cause)
{
	bool more = true;
	while (more)
		if (apply_step(l, true, &more, cause) != 0)
			return -1;
	return 0;
}

static void arm_probe(struct ledger *l)
{
	struct timeval tv = { PROBE_MS / 1000, (PROBE_MS % 1000) * 1000 };
	if (!evtimer_pending(l->probe, NULL))
		evtimer_add(l->probe, &tv);
}

static void set_cause(struct ledger *l, const char *cause)
{
	free(l->cause);
	l->cause = xstrdup(cause ? cause : "store error");
}

/* enters a failed state (*state: down or lagging), said once in the log;
 * the probe finds out when it is over */
static void trouble(struct ledger *l, bool *state, bool said, const char *msg, const char *cause)
{
	if (!said)
		gw_log(l->g, json_pack("{s:s,s:s,s:s}", "level", "error", "msg", msg, "error", cause ? cause : "?"));
	*state = true;
	set_cause(l, cause);
	arm_probe(l);
}

static void lag(struct ledger *l, const char *cause)
{
	trouble(l, &l->lagging, l->lagging || l->down, "store not writable; ledger rows wait in the journal", cause);
}

static void apply_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct ledger *l = arg;
	if (l->lagging || l->down) /* the probe moves the journal */
		return;
	char *cause = NULL;
	bool more;
	/* the checkpointer's RESTART holds the lock for a few ms now and then:
	 * rather than wait on the loop, try again at the next tick; only a lock
	 * held past APPLY_PATIENCE_MS is waited for (and then the store lags) */
	int64_t now = mono_us();
	bool wait = l->busy_since && now - l->busy_since >= APPLY_PATIENCE_MS * 1000;
	int rc = apply_step(l, wait, &more, &cause);
	if (rc == 1) {
		if (!l->busy_since)
			l->busy_since = now;
		struct timeval tv = { 0, APPLY_MS * 1000 };
		evtimer_add(l->apply, &tv);
		return;
	}
	l->busy_since = 0;
	if (rc != 0)
		lag(l, cause);
	else if (more)
		event_active(l->apply, EV_TIMEOUT, 1);
	free(cause);
}

/* the batch: journaled, then each caller told; rows that were not
 * journaled are kept (after their caller has had its say on how they
 * should read) */
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
		for (size_t i = 0; i < n; i++)
			journal_encode(&l->out, l->next_seq++, &b[i].row);
		ok = journal_out(l, n, &cause) == 0;
		if (!ok)
			ledger_failed(l, cause);
		free(cause);
	}
	if (ok) {
		if (l->backlog >= APPLY_ROWS)
			event_active(l->apply, EV_TIMEOUT, 1);
		else if (!evtimer_pending(l->apply, NULL)) {
			struct timeval tv = { 0, APPLY_MS * 1000 };
			evtimer_add(l->apply, &tv);
		}
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

static void probe_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct ledger *l = arg;
	struct gateway *g = l->g;
	char *cause = NULL;
	size_t kept = l->n;
	bool more = false;
	/* the journal first (a full one is why kept rows could not go in),
	 * a step at a time between requests; then the kept rows */
	if (store_probe(g->store, gw_now(g), &cause) != 0 || apply_step(l, true, &more, &cause) != 0)
		goto again;
	if (more) {
		struct timeval now = { 0, 0 };
		evtimer_add(l->probe, &now);
		return;
	}
	if (write_kept(l, &cause) != 0 || apply_step(l, true, &more, &cause) != 0)
		goto again;
	l->down = l->lagging = false;
	free(l->cause);
	l->cause = NULL;
	if (more)
		event_active(l->apply, EV_TIMEOUT, 1);
	gw_log(g, json_pack("{s:s,s:s,s:I,s:I}", "level", "warn", "msg", "store writable again; requests admitted",
			    "rows_written", (json_int_t)kept, "rows_lost", (json_int_t)l->dropped));
	return;
again:
	set_cause(l, cause);
	free(cause);
	arm_probe(l);
}

struct ledger *ledger_open(struct gateway *g, char **cause)
{
	char *path = config_journal_path(&g->cfg);
	struct journal *j = journal_open(path, cause);
	free(path);
	if (!j)
		return NULL;
	struct ledger *l = xcalloc(1, sizeof *l);
	l->g = g;
	l->j = j;
	buf_init(&l->out);
	l->probe = evtimer_new(g->base, probe_cb, l);
	l->commit = event_new(g->base, -1, 0, commit_cb, l);
	l->apply = evtimer_new(g->base, apply_cb, l);
	bool leftover = journal_size(j) > 0; /* rows of the last run */
	if ((l->floor = store_ledger_last_id(g->store, cause)) < 0 || apply_all(l, cause) != 0) {
		ledger_free(l);
		return NULL;
	}
	if (leftover)
		gw_log(g, json_pack("{s:s,s:s,s:I}", "level", "info", "msg",
				    "ledger journal: rows of the last run moved into the store", "rows",
				    (json_int_t)l->committed_rows));
	if (l->next_seq <= l->floor)
		l->next_seq = l->floor + 1;
	l->run_first = l->next_seq;
	store_sync_fd(g->store, journal_fd(j));
	l->open = true;
	return l;
}

void ledger_free(struct ledger *l)
{
	if (!l)
		return;
	commit_batch(l, false); /* empty: the loop ends with no request left */
	char *cause = NULL;
	if (l->open && (write_kept(l, &cause) != 0 || apply_all(l, &cause) != 0))
		gw_log(l->g, json_pack("{s:s,s:s,s:I,s:I,s:s}", "level", "error", "msg",
				       "ledger rows not in the store at exit (the journal keeps those it has)",
				       "rows_lost", (json_int_t)l->n, "rows_journaled", (json_int_t)l->backlog,
				       "error", cause ? cause : "?"));
	free(cause);
	for (size_t i = 0; i < l->n; i++)
		row_free(&l->rows[i]);
	free(l->rows);
	free(l->cause);
	buf_free(&l->out);
	store_sync_fd(l->g->store, -1);
	journal_close(l->j);
	event_free(l->probe);
	event_free(l->commit);
	event_free(l->apply);
	free(l);
}

void ledger_failed(struct ledger *l, const char *cause)
{
	trouble(l, &l->down, l->down, "ledger journal not writable; requests refused until it is", cause);
}

void ledger_store_failed(struct ledger *l, const char *cause)
{
	lag(l, cause);
}

int ledger_sync(struct ledger *l, char **cause)
{
	if (l->lagging || l->down)
		return fail(cause, "%s", l->cause ? l->cause : "store error");
	if (apply_all(l, cause) != 0) {
		lag(l, *cause);
		return -1;
	}
	return 0;
}

void ledger_submit(struct ledger *l, const struct ledger_row *r, ledger_fn fn, void *arg)
{
	if (l->nb == l->capb) {
		l->capb = l->capb ? l->capb * 2 : 16;
		l->batch = xrealloc(l->batch, l->capb * sizeof *l->batch);
	}
	struct waiting *w = &l->batch[l->nb++];
	w->row = *r;
	w->strs = pack(&w->row);
	w->fn = fn;
	w->arg = arg;
	if (l->g->cluster && r->cost_nusd) { /* settled here, not yet in PostgreSQL */
		struct team *t = registry_team(&l->g->reg, r->team);
		if (t)
			t->unshipped_nusd += r->cost_nusd;
	}
	if (l->nb == 1)
		event_active(l->commit, EV_TIMEOUT, 1);
}

bool ledger_down(const struct ledger *l)
{
	return l->down;
}

struct ledger_state ledger_state(const struct ledger *l)
{
	return (struct ledger_state){ .down = l->down, .lagging = l->lagging, .cause = l->cause,
				      .backlog = l->backlog, .pending = l->n, .writes = l->writes,
				      .grows = journal_grows(l->j), .mapped = journal_mapped(l->j),
				      .commits = l->commits, .rows = l->committed_rows, .lost = l->dropped };
}
