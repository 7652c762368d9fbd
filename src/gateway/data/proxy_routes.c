/* proxy_routes.c — what each kind of route does differently, in one row
 * per kind: how its body is read, whose object it names, what it costs at
 * worst when its unit does not say, how its answer is metered and what the
 * answer changes, and its relay and limits as flags. The route table
 * (routes.c) says which path is which kind; the pipeline (proxy*.c) calls
 * these rows and never compares kinds. Adding a route: a row there, and
 * here a row of operations the pipeline already knows how to call. */
#include "proxy.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "httpd.h"
#include "mime.h"
#include "util.h"

/* ---- reading: a JSON route's own estimate after the common read ---- */

static int read_chat(struct preq *p, const struct mediatype *mt, struct verdict *v)
{
	if (req_read_json(p, mt, v) != 0)
		return -1;
	p->prompt_est = prompt_estimate(p->raw_len, p->body.nmessages);
	return 0;
}

static int read_responses(struct preq *p, const struct mediatype *mt, struct verdict *v)
{
	if (req_read_json(p, mt, v) != 0)
		return -1;
	/* every token of the input is at least one byte of the body; a few
	 * more per input item for the template */
	size_t items = 0;
	for (size_t i = 0; i < p->body.input.n; i++)
		items += p->body.input.p[i] == '{';
	p->prompt_est = prompt_estimate(p->raw_len, items);
	return 0;
}

static int read_embeddings(struct preq *p, const struct mediatype *mt, struct verdict *v)
{
	if (req_read_json(p, mt, v) != 0)
		return -1;
	p->prompt_est = prompt_estimate(p->raw_len, 0);
	return 0;
}

static int read_speech(struct preq *p, const struct mediatype *mt, struct verdict *v)
{
	if (req_read_json(p, mt, v) != 0)
		return -1;
	char *in = jspan_string(p->body.input);
	if (!in || !*in) {
		free(in);
		return deny(v, 400, "invalid_request_error", "invalid_value", "invalid_request",
			    xstrdup("'input' must be the text to speak, as a string."));
	}
	p->chars = utf8_chars(in, strlen(in));
	free(in);
	return 0;
}

/* GET /models/{id}: the model is the path's */
static int read_model_id(struct preq *p, const struct mediatype *mt, struct verdict *v)
{
	(void)mt;
	(void)v;
	p->model = xstrdup(p->param);
	return 0;
}

/* ---- cost at worst, where the unit alone does not say ------------- */

static int64_t worst_batch(const struct preq *p)
{
	return p->batch_worst; /* its lines' worst case at the batch price */
}

/* ---- an answer in one piece: its usage ----------------------------- */

static void usage_tokens(struct preq *p, struct usage *u)
{
	usage_from_json(p->resp.data ? p->resp.data : "", p->resp.len, u);
}

/* a transcription, read once: its duration is the bill, the rest the
 * client's format */
static void usage_audio(struct preq *p, struct usage *u)
{
	double d = -1;
	p->conv = audio_answer(p->resp.data ? p->resp.data : "", p->resp.len, p->audio_fmt, &d, &p->conv_len,
			       &p->conv_ctype);
	if (d >= 0) {
		u->audio_s = d;
		u->seen = true;
	}
}

/* a body that is an empty JSON object (what an SDK sends with a batch's
 * cancel), as strictly as any other body is read */
static bool empty_object(const char *b, size_t n)
{
	struct reqbody rb;
	const char *why;
	return reqbody_scan(b, n, &rb, &why) == 0 && rb.empty;
}

/* ---- the rows ------------------------------------------------------ */

#define TOKENS_IN_EVENTS (RF_EVENTS | RF_TIERS)
static const struct route_ops ops[] = {
	[RK_CHAT] = { .read = read_chat, .usage = usage_tokens, .flags = TOKENS_IN_EVENTS | RF_DONE },
	[RK_RESPONSES] = { .read = read_responses, .usage = usage_tokens, .flags = TOKENS_IN_EVENTS | RF_HOLD_USAGE },
	[RK_EMBEDDINGS] = { .read = read_embeddings, .usage = usage_tokens, .flags = RF_INPUT_ONLY },
	[RK_TRANSCRIBE] = { .read = req_read_form, .usage = usage_audio },
	[RK_SPEECH] = { .read = read_speech, .flags = RF_RAW },
	[RK_MODELS] = { .answered = req_filter_models },
	[RK_MODEL] = { .read = read_model_id, .flags = RF_AS_NAMED },
	[RK_REFUSED] = { .flags = RF_REFUSED },
	[RK_FILE_UPLOAD] = { .read = req_read_upload, .answered = req_uploaded,
			     .flags = RF_OBJECTS | RF_OWN_LIMITS | RF_RATED },
	[RK_FILES] = { .answered = req_files_listed, .flags = RF_OBJECTS },
	[RK_FILE] = { .own = req_own_file, .answered = req_file_answered, .flags = RF_OBJECTS | RF_CONTENT },
	[RK_BATCH_CREATE] = { .read = req_read_batch, .worst = worst_batch, .usage = usage_tokens, .answered = req_batch_created,
			      .flags = RF_OBJECTS | RF_OWN_LIMITS | RF_BATCH | RF_AS_NAMED },
	[RK_BATCHES] = { .answered = req_batches_listed, .flags = RF_OBJECTS },
	[RK_BATCH] = { .own = req_own_batch, .flags = RF_OBJECTS | RF_EMPTY_OK },
};

_Static_assert(sizeof ops / sizeof *ops == RK_COUNT, "a row of operations for every kind of route");

const struct route_ops *route_ops(const struct route *r)
{
	return &ops[r->kind];
}

/* the route's body: the Content-Type read, then the route's reader
 * (route_ops); 0 or -1 (answered) */
int req_read_body(struct preq *p, struct verdict *v)
{
	const struct route *r = p->route;
	const struct route_ops *o = route_ops(r);
	const char *ct = httpd_header(p->req, "Content-Type");
	struct mediatype mt = { 0 };
	const char *why;
	if (ct && strcasecmp(ct, "application/json") == 0) /* the common case, read at once */
		memcpy(mt.type, "application/json", 17);
	else if (ct && mediatype_parse(ct, &mt, &why) != 0) {
		req_bad(v, "invalid_content_type", xasprintf("The Content-Type cannot be read: %s.", why));
		return -1;
	}
	p->n = 1;
	if (r->body == BK_NONE && p->raw_len && !(o->flags & RF_EMPTY_OK && p->method == HM_POST && empty_object(p->raw, p->raw_len))) {
		req_bad(v, "invalid_request", xasprintf("%s takes no body.", r->name));
		return -1;
	}
	return o->read ? o->read(p, &mt, v) : 0;
}
