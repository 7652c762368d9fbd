/* data.h — the data plane: the request pipeline (proxy*.c), batches and
 * files, a caller's quota. Calls every room below it, never admin. */
#ifndef GG_DATA_H
#define GG_DATA_H

#include "org.h" /* the rooms below */

/* ---- batch.c: files and batches, checked, reserved, settled -------- */
/* The lines of a batch input file (JSONL), each checked against the team's
 * policy as a chat completion would be: its model allowed and priced, its
 * cap within the team's (the team's written in when absent), n bounded, no
 * stream. *out gets the file Groq receives; *worst the most its lines can
 * cost at the batch price (billing.batch_discount). 0, or -1 with v naming
 * the line. */
int batch_lines(const char *data, size_t len, const struct team *t, const struct gw_config *cfg, buf *out,
		int64_t *worst, int64_t *lines, json_t *index, struct verdict *v);
/* the same a slice at a time (slice bytes of data at most, then the line
 * it is in; 0: all): 1 when more is left, 0 done, -1 refused (v filled).
 * Start from a zeroed scan; its worst and lines are the file's at 0. */
struct batch_scan {
	size_t at;
	int line;
	int64_t worst, lines;
	const struct registry *reg; /* the operators' aliases (NULL: the configuration's only) */
	int64_t now;                /* for the retirement calendar (0: none retired) */
};
int batch_lines_step(struct batch_scan *sc, const char *data, size_t len, const struct team *t,
		     const struct gw_config *cfg, buf *out, json_t *index, size_t slice, struct verdict *v);
/* a key of an object in j (at any depth) that appears twice but for letter
 * case, written lower-case into out (NULL: none) */
const char *json_case_twin(json_t *j, char *out, size_t n);
/* the input files a team holds (uploaded, not deleted) */
int team_files(struct registry *r, const struct team *t);
/* the team's own file or batch (NULL: none, or another team's) */
struct bfile *team_file(struct registry *r, const struct team *t, const char *id);
struct batch *team_batch(struct registry *r, const struct team *t, const char *id);
/* Groq's answers to the team's requests: noted (an uploaded file, a batch
 * created with reserved held), or filtered to the team's own (a list) */
void batch_uploaded(struct gateway *g, struct team *t, struct ukey *k, buf *answer, int64_t worst, int64_t lines,
		    json_t *index);
int batch_created(struct gateway *g, struct team *t, struct ukey *k, const char *input, buf *answer, int64_t reserved);
int batch_filter(struct gateway *g, struct team *t, buf *answer, bool batches); /* -1: not a list */
void batch_file_deleted(struct gateway *g, struct bfile *f);
/* Follows open batches every billing.batch_poll_s until they end, then
 * settles each from its output file's usage. */
struct batchwatch *batchwatch_start(struct gateway *g);
void batchwatch_free(struct batchwatch *w);

/* ---- proxy.c: the data plane -------------------------------------- */
void proxy_handle(struct gateway *g, struct hreq *req, const char *path);
int proxy_inflight(struct gateway *g);

/* ---- quota.c: GET /groqgate/v1/quota, a caller's own budgets and limits */
void quota_handle(struct gateway *g, struct hreq *req);
/* the least a team has left of its budgets (monthly, weekly, daily) */
int64_t budget_remaining(const struct team *t, int replicas);
/* the least a caller has left: its team's budgets, its key's, its end user's */
int64_t caller_remaining(struct gateway *g, const struct team *t, const struct ukey *k, const char *user);

#endif
