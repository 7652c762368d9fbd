/* batch.c — files and batches under the team's policy and budget.
 *
 * A batch input file is checked line by line when it is uploaded, as each
 * line would be checked as a chat completion: the model allowed and
 * priced, the output cap within the team's (the team's written into a line
 * that has none, so its cost is bounded), n bounded, no stream; a line
 * that fails refuses the whole file, naming the line. The file's worst case
 * at the batch price is kept with it. Creating a batch reserves that worst
 * case from the team's budget (402 when it does not fit) and holds it while
 * the batch runs; the watch asks Groq about open batches every
 * billing.batch_poll_s, and when one ends (completed, failed, expired or
 * cancelled) settles it from its output file's usage — each line at the
 * batch price — releasing the rest. Files and batches belong to the team
 * that made them: another team's are 404, and lists show a team its own.
 * Reservations of open batches are restored at start (store_load). */
#include "data.h"
#include "httpd.h"

#include <event2/event.h>
#include <stdarg.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "secret.h"
#include "util.h"

#define LINES_MAX 50000  /* Groq's limit per batch */
#define LINE_N_MAX 128   /* choices one line may ask for */
#define ANSWER_MAX (1 << 20)   /* a batch's status answer */
#define OUT_LINE_MAX (16 << 20) /* one line of a batch's output, read as it comes */

struct bfile *team_file(struct registry *r, const struct team *t, const char *id)
{
	struct bfile *f = strmap_get(r->files, id);
	return f && !f->deleted && strcmp(f->team, t->id) == 0 ? f : NULL;
}

struct batch *team_batch(struct registry *r, const struct team *t, const char *id)
{
	struct batch *b = strmap_get(r->batches, id);
	return b && strcmp(b->team, t->id) == 0 ? b : NULL;
}

/* ---- the lines of an input file (pure) ---------------------------------- */

static int line_refused(struct verdict *v, int status, const char *code, int line, json_t *l, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

static int line_refused(struct verdict *v, int status, const char *code, int line, json_t *l, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *what = xvasprintf(fmt, ap);
	va_end(ap);
	const char *cid = json_string_value(json_object_get(l, "custom_id"));
	char *m = cid ? xasprintf("Batch line %d (custom_id \"%.64s\"): %s", line, cid, what)
		      : xasprintf("Batch line %d: %s", line, what);
	free(what);
	return deny(v, status, status == 403 ? "permission_error" : "invalid_request_error", code, "batch_line_refused", m);
}

/* one line checked and completed; its worst cost added */
static int cmp_lower(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

const char *json_case_twin(json_t *j, char *out, size_t n)
{
	if (json_is_array(j)) {
		size_t i;
		json_t *e;
		json_array_foreach(j, i, e) if (json_case_twin(e, out, n)) return out;
		return NULL;
	}
	if (!json_is_object(j))
		return NULL;
	size_t k = json_object_size(j), i = 0;
	char **low = xcalloc(k + 1, sizeof *low);
	const char *key;
	json_t *v;
	json_object_foreach(j, key, v) {
		low[i] = xstrdup(key);
		for (char *c = low[i]; *c; c++)
			*c = (char)tolower((unsigned char)*c);
		i++;
	}
	qsort(low, k, sizeof *low, cmp_lower);
	const char *found = NULL;
	for (i = 1; i < k && !found; i++)
		if (strcmp(low[i - 1], low[i]) == 0) {
			snprintf(out, n, "%s", low[i]);
			found = out;
		}
	for (i = 0; i < k; i++)
		free(low[i]);
	free(low);
	if (found)
		return found;
	json_object_foreach(j, key, v) if (json_case_twin(v, out, n)) return out;
	return NULL;
}

static int check_line(json_t *l, int line, const struct team *t, const struct gw_config *cfg,
		      const struct batch_scan *sc, int64_t *worst, json_t *index, struct verdict *v)
{
	if (!json_is_object(l))
		return line_refused(v, 400, "invalid_batch_line", line, NULL, "each line must be one JSON object.");
	json_t *body = json_object_get(l, "body");
	const char *method = json_string_value(json_object_get(l, "method"));
	const char *url = json_string_value(json_object_get(l, "url"));
	if (!json_is_string(json_object_get(l, "custom_id")) || !json_is_object(body) || !method ||
	    strcmp(method, "POST") != 0 || !url)
		return line_refused(v, 400, "invalid_batch_line", line, l,
				    "a line needs \"custom_id\", \"method\":\"POST\", \"url\" and a \"body\" object.");
	if (strcmp(url, "/v1/chat/completions") != 0)
		return line_refused(v, 400, "invalid_batch_line", line, l,
				    "only /v1/chat/completions lines are accepted through the gateway (got '%.60s').", url);
	const char *cid = json_string_value(json_object_get(l, "custom_id"));
	if (json_object_get(index, cid))
		return line_refused(v, 400, "invalid_batch_line", line, l,
				    "its custom_id appears on an earlier line too: each line's must be unique (its bill is "
				    "matched by it).");
	const char *model = json_string_value(json_object_get(body, "model"));
	if (!model)
		return line_refused(v, 400, "invalid_batch_line", line, l, "'model' must be a string.");
	/* an alias, or a retired model: the model it names is checked and
	 * written into the line (Groq is sent that one), as on the chat route */
	const char *send;
	struct verdict mv = { 0 };
	if (stage_model(cfg, sc->reg, t, sc->now, model, &send, &mv) != 0) {
		int rc = line_refused(v, mv.status, mv.code, line, l, "%s", mv.message ? mv.message : "model refused");
		verdict_clear(&mv);
		return rc;
	}
	if (strcmp(send, model) != 0) {
		json_object_set_new(body, "model", json_string(send));
		model = json_string_value(json_object_get(body, "model"));
	}
	if (!team_allows(t, model))
		return line_refused(v, 403, "model_not_allowed", line, l, "model '%.80s' is not allowed for team '%s'.",
				    model, t->id);
	const struct price *pr = config_price(cfg, model);
	if (!price_bills(pr, BU_TOKENS))
		return line_refused(v, 403, "model_not_priced", line, l,
				    "model '%.80s' has no token price in the gateway's price table.", model);
	if (json_is_true(json_object_get(body, "stream")))
		return line_refused(v, 400, "invalid_batch_line", line, l, "a batch line cannot stream.");
	json_t *n = json_object_get(body, "n");
	int64_t nv = 1;
	if (n && !json_is_null(n)) {
		if (!json_is_integer(n) || json_integer_value(n) < 1 || json_integer_value(n) > LINE_N_MAX)
			return line_refused(v, 400, "invalid_value", line, l, "'n' must be an integer from 1 to %d.", LINE_N_MAX);
		nv = json_integer_value(n);
	}
	static const char *const caps[] = { "max_completion_tokens", "max_tokens" };
	int64_t cap = 0;
	for (int i = 0; i < 2; i++) {
		json_t *c = json_object_get(body, caps[i]);
		if (!c || json_is_null(c))
			continue;
		if (!json_is_integer(c) || json_integer_value(c) < 1 || json_integer_value(c) > t->max_tokens)
			return line_refused(v, 400, "max_tokens_exceeded", line, l,
					    "'%s' must be an integer from 1 to team '%s''s cap of %lld.", caps[i], t->id,
					    (long long)t->max_tokens);
		if (json_integer_value(c) > cap)
			cap = json_integer_value(c);
	}
	if (!cap) { /* none sent: the team's, written in, so the line's cost is bounded */
		cap = t->max_tokens;
		json_object_set_new(body, "max_completion_tokens", json_integer(cap));
	}
	char *bs = json_dumps(body, JSON_COMPACT);
	int64_t est = prompt_estimate(strlen(bs), json_array_size(json_object_get(body, "messages")));
	free(bs);
	*worst += cost_tokens(pr, est, 0, cap * nv, cfg->batch_discount);
	/* what its output line may bill: the model checked here, the most
	 * prompt and output tokens it can have */
	json_object_set_new(index, cid, json_pack("[s,I,I]", model, (json_int_t)est, (json_int_t)(cap * nv)));
	return 0;
}

int batch_lines_step(struct batch_scan *sc, const char *data, size_t len, const struct team *t,
		     const struct gw_config *cfg, buf *out, json_t *index, size_t slice, struct verdict *v)
{
	size_t stop = slice && len - sc->at > slice ? sc->at + slice : len;
	while (sc->at < len && sc->at < stop) {
		size_t at = sc->at;
		const char *nl = memchr(data + at, '\n', len - at);
		size_t end = nl ? (size_t)(nl - data) : len, n = end - at;
		sc->line++;
		if (n && data[at + n - 1] == '\r')
			n--;
		if (n) {
			if (++sc->lines > LINES_MAX)
				return deny(v, 400, "invalid_request_error", "too_many_lines", "batch_line_refused",
					    xasprintf("A batch file may hold at most %d lines.", LINES_MAX));
			json_error_t e;
			char twin[64];
			/* a key twice, or in two letter cases, at any level: Groq may
			 * read another than the gateway checked (Go's decoder matches
			 * keys without case) */
			json_t *l = json_loadb(data + at, n, JSON_REJECT_DUPLICATES, &e);
			int rc = !l ? line_refused(v, 400, "invalid_batch_line", sc->line, NULL,
						   "not JSON, or a key given twice (%s).", e.text)
				 : json_case_twin(l, twin, sizeof twin)
				   ? line_refused(v, 400, "invalid_batch_line", sc->line, NULL,
						  "the key '%s' appears in two letter cases; Groq could read either.", twin)
				   : check_line(l, sc->line, t, cfg, sc, &sc->worst, index, v);
			if (rc == 0) {
				char *s = json_dumps(l, JSON_COMPACT | JSON_PRESERVE_ORDER);
				buf_adds(out, s);
				buf_add(out, "\n", 1);
				free(s);
			}
			json_decref(l);
			if (rc)
				return -1;
			if (sc->worst > COST_MAX * 1000)
				sc->worst = COST_MAX * 1000;
		}
		sc->at = end + 1;
	}
	if (sc->at < len)
		return 1;
	if (!sc->lines)
		return deny(v, 400, "invalid_request_error", "invalid_batch_line", "batch_line_refused",
			    xstrdup("The batch file has no lines."));
	return 0;
}

int batch_lines(const char *data, size_t len, const struct team *t, const struct gw_config *cfg, buf *out,
		int64_t *worst, int64_t *lines, json_t *index, struct verdict *v)
{
	struct batch_scan sc = { 0 };
	int rc = batch_lines_step(&sc, data, len, t, cfg, out, index, 0, v);
	*worst = sc.worst;
	*lines = sc.lines;
	return rc;
}

int team_files(struct registry *r, const struct team *t)
{
	int n = 0;
	size_t i = 0;
	const char *id;
	void *v;
	while (strmap_next(r->files, &i, &id, &v)) {
		const struct bfile *f = v;
		n += f && !f->deleted && f->index && str_eq(f->team, t->id);
	}
	return n;
}

/* ---- Groq's answers to the team ----------------------------------------- */

static void save_file(struct gateway *g, struct bfile *f)
{
	char *cause = NULL;
	if (store_put_file(g->store, f, &cause) != 0) {
		gw_log(g, json_pack("{s:s,s:s,s:s,s:s}", "level", "error", "msg", "batch file not saved", "file", f->id,
				    "error", cause ? cause : "?"));
		free(cause);
	}
}

static void save_batch(struct gateway *g, struct batch *b)
{
	char *cause = NULL;
	if (store_put_batch(g->store, b, &cause) != 0) {
		gw_log(g, json_pack("{s:s,s:s,s:s,s:s}", "level", "error", "msg", "batch not saved", "batch", b->id, "error",
				    cause ? cause : "?"));
		free(cause);
	}
}

static struct bfile *add_file(struct gateway *g, const char *id, const char *team, const char *key, int64_t worst,
			      int64_t lines, json_t *index)
{
	struct bfile *f = xcalloc(1, sizeof *f);
	f->index = index ? json_incref(index) : NULL;
	f->id = xstrdup(id);
	f->team = xstrdup(team);
	f->key = key ? xstrdup(key) : NULL;
	f->worst_nusd = worst;
	f->lines = lines;
	f->created_at = gw_now(g);
	bfile_free(strmap_del(g->reg.files, id));
	strmap_put(g->reg.files, f->id, f);
	save_file(g, f);
	return f;
}

void batch_uploaded(struct gateway *g, struct team *t, struct ukey *k, buf *answer, int64_t worst, int64_t lines,
		    json_t *index)
{
	json_t *j = json_loadb(answer->data ? answer->data : "", answer->len, 0, NULL);
	const char *id = json_string_value(json_object_get(j, "id"));
	if (id)
		add_file(g, id, t->id, k->name, worst, lines, index);
	json_decref(j);
}

int batch_created(struct gateway *g, struct team *t, struct ukey *k, const char *input, buf *answer, int64_t reserved)
{
	json_t *j = json_loadb(answer->data ? answer->data : "", answer->len, 0, NULL);
	const char *id = json_string_value(json_object_get(j, "id"));
	if (!id) {
		json_decref(j);
		return -1;
	}
	struct batch *b = xcalloc(1, sizeof *b);
	b->id = xstrdup(id);
	b->team = xstrdup(t->id);
	b->key = xstrdup(k->name);
	b->input = xstrdup(input);
	snprintf(b->status, sizeof b->status, "%s", json_string_value(json_object_get(j, "status")) ? json_string_value(json_object_get(j, "status")) : "validating");
	b->reserved_nusd = reserved;
	b->created_at = gw_now(g);
	batch_free(strmap_del(g->reg.batches, id));
	strmap_put(g->reg.batches, b->id, b);
	save_batch(g, b);
	json_decref(j);
	return 0;
}

struct owner {
	struct registry *reg;
	struct team *t;
	bool batches;
};

static bool owned(void *arg, const char *id)
{
	struct owner *o = arg;
	return o->batches ? team_batch(o->reg, o->t, id) != NULL : team_file(o->reg, o->t, id) != NULL;
}

int batch_filter(struct gateway *g, struct team *t, buf *answer, bool batches)
{
	struct owner o = { &g->reg, t, batches };
	return answer_keep(answer, owned, &o);
}

void batch_file_deleted(struct gateway *g, struct bfile *f)
{
	f->deleted = true;
	save_file(g, f);
}

/* ---- the watch: open batches followed to their end ------------------------ */

/* a batch's bill, read line by line as its output file comes (never the
 * whole file in memory) */
struct bill {
	json_t *index;   /* the input file's lines (borrowed), or NULL (an older file) */
	int64_t cost, in, out, lines;
	int64_t invalid; /* lines without valid usage (charged their worst) or over their bounds */
	int64_t unknown; /* lines the gateway did not check (not its input's) */
	bool overlong;   /* a line past OUT_LINE_MAX: the output is not read on */
};

struct bpoll {
	struct batchwatch *w;
	char *id;       /* the batch */
	char *out;      /* its output file, once asked for */
	long status;
	buf body;
	struct utx *tx;
	struct bill bill;
};

struct batchwatch {
	struct gateway *g;
	struct event *timer;
	strmap *inflight; /* batch id -> its struct bpoll */
};

static void bpoll_free(struct bpoll *p)
{
	strmap_del(p->w->inflight, p->id);
	free(p->id);
	free(p->out);
	buf_free(&p->body);
	free(p);
}

static void bp_head(void *arg, const struct hstatus *h)
{
	((struct bpoll *)arg)->status = h->status;
}

/* a non-negative integer count of a usage object, or -1 */
static int64_t count_of(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	return json_is_integer(v) && json_integer_value(v) >= 0 ? json_integer_value(v) : -1;
}

/* one line of the output: billed by the model the gateway checked in the
 * input line of the same custom_id, its counts bounded by that line's;
 * a line without valid usage at its worst case */
static void bill_line(struct gateway *g, struct bill *b, const char *s, size_t n)
{
	json_t *l = json_loadb(s, n, 0, NULL);
	if (!l) {
		if (n)
			b->invalid++;
		return;
	}
	json_t *body = json_object_get(json_object_get(l, "response"), "body");
	json_t *err = json_object_get(l, "error");
	if (err && !json_is_null(err)) {
		json_decref(l); /* a line Groq failed: not billed */
		return;
	}
	const char *cid = json_string_value(json_object_get(l, "custom_id"));
	json_t *usage = json_object_get(body, "usage");
	int64_t pt = count_of(usage, "prompt_tokens"), ct = count_of(usage, "completion_tokens");
	int64_t cached = count_of(json_object_get(usage, "prompt_tokens_details"), "cached_tokens");
	const char *model;
	int64_t most_in = PROMPT_TOKENS_MAX, most_out = PROMPT_TOKENS_MAX;
	if (b->index) {
		json_t *e = cid ? json_object_get(b->index, cid) : NULL;
		if (!json_is_array(e)) {
			b->unknown++;
			json_decref(l);
			return;
		}
		model = json_string_value(json_array_get(e, 0));
		most_in = json_integer_value(json_array_get(e, 1));
		most_out = json_integer_value(json_array_get(e, 2));
	} else {
		model = json_string_value(json_object_get(body, "model"));
	}
	const struct price *pr = model ? config_price(&g->cfg, model) : NULL;
	if (pt < 0 || ct < 0 || !pr) { /* no usage to trust: the line's worst */
		b->invalid++;
		if (!b->index || !pr) {
			json_decref(l);
			return; /* (an older file's line: nothing to bound it by) */
		}
		pt = most_in;
		ct = most_out;
		cached = 0;
	}
	if (pt > most_in || ct > most_out) {
		b->invalid++;
		pt = pt > most_in ? most_in : pt;
		ct = ct > most_out ? most_out : ct;
	}
	if (cached < 0 || cached > pt)
		cached = cached < 0 ? 0 : pt;
	b->cost += cost_tokens(pr, pt, cached, ct, g->cfg.batch_discount);
	b->in += pt;
	b->out += ct;
	b->lines++;
	json_decref(l);
}

/* the output's whole lines billed as they come; what is left waits for
 * the rest of its line */
static void bill_feed(struct bpoll *p, const char *d, size_t n)
{
	struct bill *b = &p->bill;
	if (b->overlong)
		return;
	buf_add(&p->body, d, n);
	size_t at = 0;
	for (;;) {
		const char *nl = memchr(p->body.data + at, '\n', p->body.len - at);
		if (!nl)
			break;
		size_t end = (size_t)(nl - p->body.data);
		bill_line(p->w->g, b, p->body.data + at, end - at);
		at = end + 1;
	}
	buf_consume(&p->body, at);
	if (p->body.len > OUT_LINE_MAX) {
		b->overlong = true;
		buf_free(&p->body);
		buf_init(&p->body);
	}
}

static void bp_data(void *arg, const char *d, size_t n)
{
	struct bpoll *p = arg;
	if (p->out)
		bill_feed(p, d, n);
	else if (p->body.len + n <= ANSWER_MAX)
		buf_add(&p->body, d, n);
}

static void committed_row(void *arg, bool kept, struct ledger_row *row)
{
	(void)arg;
	(void)kept;
	(void)row;
}

/* the batch ended: charged what its output says (bill), at the batch
 * price; no output (bill NULL): nothing was done */
static void settle_batch(struct batchwatch *w, struct batch *b, const struct bill *bill)
{
	struct gateway *g = w->g;
	static const struct bill none;
	if (!bill)
		bill = &none;
	int64_t cost = bill->cost, in = bill->in, outt = bill->out, lines = bill->lines;
	struct team *t = registry_team(&g->reg, b->team);
	if (bill->overlong) {
		char *m = xasprintf("Batch %s (team '%s'): a line of Groq's output is longer than %d MiB; the rest was not "
				    "read and the batch is charged its whole reservation. Check upstream key '%s'.",
				    b->id, b->team, OUT_LINE_MAX >> 20, b->key);
		alert_raise(g, "upstream_usage_invalid", b->team, m);
		free(m);
		cost = b->reserved_nusd;
	} else if (bill->invalid || bill->unknown) {
		char *m = xasprintf("Batch %s (team '%s'): %lld line(s) of Groq's output had no valid usage or more than "
				    "their request can produce (charged their worst case, or the bound), %lld line(s) "
				    "answered no line of the input (not charged). Check upstream key '%s'.",
				    b->id, b->team, (long long)bill->invalid, (long long)bill->unknown, b->key);
		alert_raise(g, "upstream_usage_invalid", b->team, m);
		free(m);
	}
	if (cost > b->reserved_nusd) { /* more than its lines can cost: Groq's error, charged at the bound */
		char *m = xasprintf("Groq's output of batch %s (team '%s') costs more than its lines can ($%.6f > $%.6f); "
				    "the gateway charged the bound. Check upstream key '%s'.",
				    b->id, b->team, (double)cost / NUSD_PER_USD, (double)b->reserved_nusd / NUSD_PER_USD, b->key);
		alert_raise(g, "upstream_usage_invalid", b->team, m);
		free(m);
		cost = b->reserved_nusd;
	}
	/* cluster mode: billed once, by the replica whose it still is (a
	 * replica that looked gone during a store outage may have been taken
	 * over while it followed the batch) */
	char *cause = NULL;
	int mine = store_cl_batch_settling(g->store, b->id, gw_now(g), &cause);
	if (mine != 1) {
		gw_log(g, json_pack("{s:s,s:s,s:s,s:s}", "level", "warn", "msg",
				    mine ? "batch not settled: the store is unavailable (tried again)" :
					   "batch not settled here: another replica took it over",
				    "batch", b->id, "error", cause ? cause : "-"));
		free(cause);
		if (mine == 0) { /* another's now: its reservation is no longer held here */
			if (t) {
				struct budget_env e = gw_budget(g);
				budget_settle(&e, t, b->reserved_nusd, 0);
			}
			b->foreign = true;
		}
		return;
	}
	if (t) {
		struct budget_env e = gw_budget(g);
		budget_settle(&e, t, b->reserved_nusd, cost);
	}
	b->cost_nusd = cost;
	b->settled_at = gw_now(g);
	save_batch(g, b);
	struct ukey *k = registry_key(&g->reg, b->key);
	struct ledger_row row = {
		.ts_ms = b->settled_at,
		.team = b->team,
		.key = b->key,
		.key_fp = k ? k->fp : NULL,
		.route = "batches",
		.unit = "tokens",
		.request_id = b->id,
		.status = strcmp(b->status, "completed") == 0 ? 200 : 499,
		.reason = strcmp(b->status, "completed") == 0 ? NULL : "batch_ended",
		.prompt = in,
		.completion = outt,
		.cost_nusd = cost,
		.quantity = in + outt,
	};
	if (t)
		ledger_submit(g->ledger, &row, committed_row, NULL);
	gw_log(g, json_pack("{s:s,s:s,s:s,s:s,s:s,s:I,s:I,s:I}", "level", "info", "msg", "batch settled", "batch", b->id,
			    "team", b->team, "status", b->status, "lines", (json_int_t)lines, "cost_nusd", (json_int_t)cost,
			    "released_nusd", (json_int_t)(b->reserved_nusd - cost)));
}

static void bp_done(void *arg, int ok, const char *err);
static const struct utx_cbs bp_cbs = { bp_head, bp_data, bp_done };

static void ask(struct bpoll *p, const char *path)
{
	struct gateway *g = p->w->g;
	struct batch *b = strmap_get(g->reg.batches, p->id);
	struct ukey *k = b ? registry_key(&g->reg, b->key) : NULL;
	if (!k) { /* its key is gone: asked again when it is back */
		bpoll_free(p);
		return;
	}
	buf_reset(&p->body);
	p->status = 0;
	char *auth = xconcat("Authorization: Bearer ", ukey_active_secret(k), NULL);
	const char *hdrs[] = { auth, "User-Agent: groqgated/" GG_VERSION, "Accept-Encoding: identity", NULL };
	struct ureq r = { .method = "GET", .path = path, .headers = hdrs, .timeout_ms = g->cfg.upstream_timeout_ms,
			  .connect_timeout_ms = g->cfg.upstream_connect_timeout_ms };
	p->tx = upstream_start(g->up, g->cfg.up_origin, &r, &bp_cbs, p);
	secret_wipe(auth, strlen(auth));
	free(auth);
}

static bool terminal(const char *s)
{
	return strcmp(s, "completed") == 0 || strcmp(s, "failed") == 0 || strcmp(s, "expired") == 0 ||
	       strcmp(s, "cancelled") == 0;
}

static void bp_done(void *arg, int ok, const char *err)
{
	struct bpoll *p = arg;
	p->tx = NULL;
	struct gateway *g = p->w->g;
	struct batch *b = strmap_get(g->reg.batches, p->id);
	if (!b || b->settled_at || !ok || p->status != 200) {
		if (b && !b->settled_at && (!ok || p->status != 200))
			gw_log(g, json_pack("{s:s,s:s,s:s,s:i,s:s}", "level", "warn", "msg", "batch poll failed; asked again later",
					    "batch", p->id, "status", (int)p->status, "error", err ? err : "http status"));
		bpoll_free(p);
		return;
	}
	if (p->out) { /* the output file's content: the bill */
		if (p->body.len) /* a last line without its newline */
			bill_line(g, &p->bill, p->body.data, p->body.len);
		settle_batch(p->w, b, &p->bill);
		bpoll_free(p);
		return;
	}
	json_t *j = json_loadb(p->body.data ? p->body.data : "", p->body.len, 0, NULL);
	const char *st = json_string_value(json_object_get(j, "status"));
	const char *out = json_string_value(json_object_get(j, "output_file_id"));
	const char *errf = json_string_value(json_object_get(j, "error_file_id"));
	if (st)
		snprintf(b->status, sizeof b->status, "%s", st);
	if (!st || !terminal(st)) {
		json_decref(j);
		bpoll_free(p);
		return;
	}
	/* its output and error files are the team's */
	if (out)
		add_file(g, out, b->team, b->key, 0, 0, NULL);
	if (errf)
		add_file(g, errf, b->team, b->key, 0, 0, NULL);
	if (out) {
		p->out = xstrdup(out);
		struct bfile *in = strmap_get(g->reg.files, b->input);
		p->bill = (struct bill){ .index = in ? in->index : NULL };
		char *path = xconcat("/openai/v1/files/", out, "/content", NULL);
		json_decref(j);
		ask(p, path);
		free(path);
		return;
	}
	json_decref(j);
	settle_batch(p->w, b, NULL); /* no output: nothing was done, all released */
	bpoll_free(p);
}

/* cluster mode: an open batch whose replica is gone (scaled down, dead)
 * becomes this one's, its reservation moved from the gone replica's lease
 * to this one's, so that it is followed and billed */
static void take_over(struct gateway *g, struct batch *b)
{
	char *cause = NULL;
	int rc = store_cl_batch_claim(g->store, b->id, b->owner, gw_now(g), &cause);
	if (rc != 1) {
		if (rc < 0) {
			gw_log(g, json_pack("{s:s,s:s,s:s,s:s}", "level", "warn", "msg", "batch not taken over", "batch", b->id,
					    "error", cause ? cause : "?"));
			free(cause);
		}
		return;
	}
	gw_log(g, json_pack("{s:s,s:s,s:s,s:s}", "level", "warn", "msg", "batch taken over from a replica gone", "batch",
			    b->id, "from", b->owner, "team", b->team));
	b->foreign = false;
	free(b->owner);
	b->owner = NULL;
	struct team *t = registry_team(&g->reg, b->team);
	if (t) { /* its reservation held here now, within this replica's lease */
		t->reserved_nusd += b->reserved_nusd;
		g->reg.org_reserved_nusd += b->reserved_nusd;
		char *why = NULL;
		int64_t need[BW_ALL];
		budget_roll_windows(t, gw_now(g)); /* (the day and week leased are now's) */
		budget_needs(t, 0, false, need);
		if (cluster_lease(g, t, need, &why) != 0)
			free(why); /* its bill settles it whatever the lease (the spend is the fleet's) */
	}
}

static void watch_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct batchwatch *w = arg;
	size_t i = 0;
	const char *id;
	void *v;
	while (strmap_next(w->g->reg.batches, &i, &id, &v)) {
		struct batch *b = v;
		if (!b->settled_at && b->foreign && cluster_replica_gone(w->g, b->owner))
			take_over(w->g, b);
		if (b->settled_at || b->foreign || strmap_get(w->inflight, b->id))
			continue;
		struct bpoll *p = xcalloc(1, sizeof *p);
		p->w = w;
		p->id = xstrdup(b->id);
		buf_init(&p->body);
		strmap_put(w->inflight, p->id, p);
		char *path = xconcat("/openai/v1/batches/", b->id, NULL);
		ask(p, path);
		free(path);
	}
	int64_t s = w->g->cfg.batch_poll_s > 0 ? w->g->cfg.batch_poll_s : 60;
	struct timeval tv = { (time_t)s, 0 };
	evtimer_add(w->timer, &tv);
}

struct batchwatch *batchwatch_start(struct gateway *g)
{
	struct batchwatch *w = xcalloc(1, sizeof *w);
	w->g = g;
	w->inflight = strmap_new();
	w->timer = evtimer_new(g->base, watch_tick, w);
	struct timeval tv = { 1, 0 }; /* the first look soon after start */
	evtimer_add(w->timer, &tv);
	return w;
}

void batchwatch_free(struct batchwatch *w)
{
	if (!w)
		return;
	event_free(w->timer);
	/* polls in flight: their transfers cancelled (no callback runs) */
	size_t i = 0;
	const char *id;
	void *v;
	while (strmap_next(w->inflight, &i, &id, &v)) {
		struct bpoll *p = v;
		if (p->tx)
			utx_cancel(p->tx);
		free(p->id);
		free(p->out);
		buf_free(&p->body);
		free(p);
	}
	strmap_free(w->inflight);
	free(w);
}
