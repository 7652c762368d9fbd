/* proxy_read.c — the request read and checked, before any decision is
 * made on it: its body by its route's reader (JSON scanned without a tree,
 * forms, batch uploads line by line, a batch's input file), the output
 * cap written in, the client's request id, a file's or batch's owner. */
#include "proxy.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "httpd.h"
#include "mime.h"
#include "util.h"

int req_bad(struct verdict *v, const char *code, char *msg)
{
	return deny(v, 400, "invalid_request_error", code, "invalid_request", msg);
}


/* the team's cap written into the body when the client sent none (or null) */
static void set_cap(struct preq *p, struct jspan at, const char *name)
{
	p->fwd = reqbody_with_int(p->raw, p->raw_len, &p->body, at, name, p->cap, &p->fwd_len);
}

/* a JSON body: checked, its governed members read; 0 or -1 (answered) */
int req_read_json(struct preq *p, const struct mediatype *mt, struct verdict *v)
{
	/* whatever else the client labels it, the body is read as JSON and
	 * Groq receives it as application/json: both read the same thing. A
	 * form is refused (Groq would read its fields, not this). */
	if (str_starts(mt->type, "multipart/")) {
		req_bad(v, "invalid_json",
			    xasprintf("This route takes a JSON body: send Content-Type: application/json (got %s).",
				      mt->type));
		return -1;
	}
	const char *why;
	if (!p->raw_len) {
		req_bad(v, "invalid_json", xstrdup("Send a JSON body with Content-Type: application/json."));
		return -1;
	}
	if (reqbody_scan(p->raw, p->raw_len, &p->body, &why) != 0) {
		req_bad(v, "invalid_json", xasprintf("The request body is not a JSON object (%s at line %d, column %d).", why,
						     p->body.line, p->body.col));
		return -1;
	}
	/* the body Groq parses must be the body the gateway checked */
	if (p->body.dup) {
		req_bad(v, "duplicate_key",
			    xasprintf("'%s' appears more than once in the body; send it once.", p->body.dup));
		return -1;
	}
	if (p->body.variant[0]) {
		req_bad(v, "invalid_key",
			    xasprintf("'%s': keys are case-sensitive; use the lower-case name.", p->body.variant));
		return -1;
	}
	p->model = jspan_string(p->body.model);
	if (!p->model || !*p->model) {
		req_bad(v, "invalid_value",
			    xstrdup("'model' must be given as a string, e.g. \"llama-3.3-70b-versatile\"."));
		return -1;
	}
	p->fwd_ctype = xstrdup("application/json");
	p->stream = jspan_kind(p->body.stream) == J_TRUE;
	return 0;
}

/* the body as a multipart form (need: what its fields are, for the
 * refusal); 0, or -1 (answered) */
static int parse_form(struct preq *p, const struct mediatype *mt, struct mform *f, const char *need, struct verdict *v)
{
	if (strcmp(mt->type, "multipart/form-data") != 0 || !mt->boundary[0]) {
		req_bad(v, "invalid_content_type",
			    xasprintf("This route takes a multipart/form-data body with a boundary (%s).", need));
		return -1;
	}
	const char *why;
	if (mform_parse(p->raw, p->raw_len, mt->boundary, f, &why) != 0) {
		req_bad(v, "invalid_form", xasprintf("The form cannot be read: %s.", why));
		return -1;
	}
	return 0;
}

/* a multipart form (audio): the one model field Groq will read, the
 * response_format; 0 or -1 (answered) */
int req_read_form(struct preq *p, const struct mediatype *mt, struct verdict *v)
{
	struct mform f;
	if (parse_form(p, mt, &f, "the file and a 'model' field", v) != 0)
		return -1;
	int rc = -1, nm, nf, nfile;
	const struct mpart *m = mform_get(&f, "model", &nm), *fmt = mform_get(&f, "response_format", &nf);
	const struct mpart *file = mform_get(&f, "file", &nfile);
	if (nm != 1 || !m || m->filename) {
		req_bad(v, nm > 1 ? "ambiguous_model" : "invalid_value",
			    xstrdup(nm > 1 ? "The form names 'model' more than once (or in another letter case); "
					     "send exactly one 'model' field."
					   : "The form needs one 'model' field, e.g. whisper-large-v3-turbo."));
		goto out;
	}
	if (nf > 1 || (nf == 1 && !fmt)) {
		req_bad(v, "invalid_form", xstrdup("'response_format' is given more than once."));
		goto out;
	}
	for (size_t i = 0; i < m->len; i++)
		if ((unsigned char)m->data[i] < 0x21 || (unsigned char)m->data[i] > 0x7e || m->len > 128) {
			req_bad(v, "invalid_value", xstrdup("'model' must be a model id, e.g. whisper-large-v3."));
			goto out;
		}
	p->model = xstrndup(m->data, m->len);
	p->audio_fmt = fmt ? xstrndup(fmt->data, fmt->len) : xstrdup("json");
	if (strcmp(p->audio_fmt, "json") && strcmp(p->audio_fmt, "text") && strcmp(p->audio_fmt, "verbose_json")) {
		req_bad(v, "invalid_value",
			    xasprintf("'response_format' must be json, text or verbose_json (got '%.40s').", p->audio_fmt));
		goto out;
	}
	/* Groq's answer says the audio's duration only as verbose_json: that
	 * is what the gateway asks for, and the client gets the format it
	 * asked for from it */
	buf b;
	buf_init(&b);
	for (int i = 0, first = 1; i < f.n; i++)
		if (&f.parts[i] != fmt && &f.parts[i] != m) { /* (a part's range: its delimiter line to its data's end) */
			if (!first)
				buf_add(&b, "\r\n", 2);
			buf_add(&b, p->raw + f.parts[i].start, f.parts[i].end - f.parts[i].start);
			first = 0;
		}
	/* the model and the format last: an alias becomes its model there
	 * (req_form_model) */
	p->fwd_len = b.len;
	p->fwd = buf_detach(&b);
	p->form_bnd = xstrdup(mt->boundary);
	req_form_model(p, p->model);
	p->fwd_ctype = xasprintf("multipart/form-data; boundary=%s", mt->boundary);
	/* the most audio the file could hold: 4 kbit/s is below any codec
	 * Groq takes at speech quality */
	size_t bytes = file ? file->len : p->raw_len;
	p->audio_bound_s = (int64_t)(bytes / 500) + 1;
	if (p->audio_bound_s < p->g->cfg.audio_min_seconds)
		p->audio_bound_s = p->g->cfg.audio_min_seconds;
	rc = 0;
out:
	mform_free(&f);
	return rc;
}

void req_form_model(struct preq *p, const char *model)
{
	buf b = { .data = p->fwd, .len = p->fwd_len, .cap = p->fwd_len };
	if (!p->form_at) /* (the first time: where the model's part begins) */
		p->form_at = p->fwd_len + 1;
	b.len = p->form_at - 1;
	buf_addf(&b, "\r\n--%s\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\n%s", p->form_bnd, model);
	buf_addf(&b, "\r\n--%s\r\nContent-Disposition: form-data; name=\"response_format\"\r\n\r\nverbose_json",
		 p->form_bnd);
	buf_addf(&b, "\r\n--%s--\r\n", p->form_bnd);
	p->fwd_len = b.len;
	p->fwd = b.data;
}

/* a batch input file (purpose=batch): every line checked against the
 * team's policy, caps written in; the form Groq receives rebuilt around it.
 * 0, or -1 (answered, or v filled) */
int req_read_upload(struct preq *p, const struct mediatype *mt, struct verdict *v)
{
	struct mform f;
	if (parse_form(p, mt, &f, "'purpose' and 'file'", v) != 0)
		return -1;
	int rc = -1, np, nf;
	const struct mpart *purpose = mform_get(&f, "purpose", &np), *file = mform_get(&f, "file", &nf);
	if (np != 1 || nf != 1 || !purpose || !file || f.n != 2) {
		req_bad(v, "invalid_form", xstrdup("The form takes exactly one 'purpose' and one 'file' field."));
		goto out;
	}
	if (purpose->len != 5 || memcmp(purpose->data, "batch", 5) != 0) {
		rc = deny(v, 403, "permission_error", "purpose_not_governed", "route_refused",
			  xstrdup("Only files with purpose 'batch' pass the gateway (each of their lines is checked)."));
		goto out;
	}
	/* an upload counts against the team's RPM (stage_rpm): a team at its
	 * limit is refused before its lines are read, not after */
	int64_t now = gw_now(p->g);
	if (p->t->rpm_limit > 0 && counters_count(p->t, now) >= p->t->rpm_limit) {
		rc = ratelimit_refusal(p->t, rl_reset_ms(&p->t->rl, now), v);
		goto out;
	}
	int held = team_files(&p->g->reg, p->t);
	if (held >= p->g->cfg.max_files_per_team) {
		rc = deny(v, 403, "permission_error", "too_many_files", "too_many_files",
			  xasprintf("Team '%s' holds %d batch files (limits.max_files_per_team); delete ones it no longer "
				    "needs (DELETE /openai/v1/files/{id}) before uploading more.",
				    p->t->id, held));
		goto out;
	}
	/* its lines are checked a slice at a time (req_upload_step), so that
	 * a large file does not hold the event loop and every other team */
	struct upload *u = p->up = xcalloc(1, sizeof *u);
	u->f = f;
	u->file = file;
	u->sc.reg = &p->g->reg;
	u->sc.now = gw_now(p->g);
	buf_init(&u->lines);
	p->batch_index = json_object();
	return 0;
out:
	mform_free(&f);
	return rc;
}

/* the form Groq receives, around the checked lines */
static void upload_form(struct preq *p, const struct mpart *file, buf *lines)
{
	/* a boundary that the checked lines do not contain */
	char bnd[64];
	for (unsigned n = 0;; n++) {
		snprintf(bnd, sizeof bnd, "groqgate-batch-%08x%u", (unsigned)p->t0_us, n);
		if (!memmem(lines->data ? lines->data : "", lines->len, bnd, strlen(bnd)))
			break;
	}
	buf b;
	buf_init(&b);
	buf_addf(&b, "--%s\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nbatch\r\n", bnd);
	buf_addf(&b, "--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"", bnd);
	for (const char *c = file->filename ? file->filename : "batch.jsonl"; *c; c++)
		if (*c >= 0x20 && *c != '"' && *c != '\\' && *c != 0x7f) /* (a name as a quoted string) */
			buf_add(&b, c, 1);
	buf_adds(&b, "\"\r\nContent-Type: application/jsonl\r\n\r\n");
	buf_add(&b, lines->data ? lines->data : "", lines->len);
	buf_addf(&b, "\r\n--%s--\r\n", bnd);
	p->fwd_len = b.len;
	p->fwd = buf_detach(&b);
	p->fwd_ctype = xasprintf("multipart/form-data; boundary=%s", bnd);
}

#define UPLOAD_SLICE (16 << 10) /* bytes of lines checked per turn of the loop */

int req_upload_step(struct preq *p, struct verdict *v)
{
	struct upload *u = p->up;
	int r = batch_lines_step(&u->sc, u->file->data, u->file->len, p->t, &p->g->cfg, &u->lines, p->batch_index,
				 UPLOAD_SLICE, v);
	if (r == 1)
		return 1;
	if (r == 0) {
		p->batch_worst = u->sc.worst;
		p->batch_lines = u->sc.lines;
		upload_form(p, u->file, &u->lines);
	}
	req_upload_free(p);
	return r;
}

void req_upload_free(struct preq *p)
{
	struct upload *u = p->up;
	if (!u)
		return;
	buf_free(&u->lines);
	mform_free(&u->f);
	free(u);
	p->up = NULL;
}

/* a batch: its input file the team's, its endpoint one the file was
 * checked for; its reservation the file's worst case. 0 or -1 */
int req_read_batch(struct preq *p, const struct mediatype *mt, struct verdict *v)
{
	(void)mt; /* read as JSON whatever its label, as every JSON route's */
	json_error_t e;
	char twin[64];
	json_t *j = p->raw_len ? json_loadb(p->raw, p->raw_len, JSON_REJECT_DUPLICATES, &e) : NULL;
	if (!json_is_object(j)) {
		json_decref(j);
		req_bad(v, "invalid_json", xasprintf("Creating a batch takes a JSON object with 'input_file_id' and 'endpoint', "
						 "each once (%s).", p->raw_len ? e.text : "no body"));
		return -1;
	}
	if (json_case_twin(j, twin, sizeof twin)) {
		json_decref(j);
		req_bad(v, "duplicate_key",
		    xasprintf("The key '%s' appears in two letter cases; Groq could read either, so it is refused.", twin));
		return -1;
	}
	const char *in = json_string_value(json_object_get(j, "input_file_id"));
	const char *ep = json_string_value(json_object_get(j, "endpoint"));
	int rc = 0;
	struct bfile *f = in ? team_file(&p->g->reg, p->t, in) : NULL;
	if (!ep || strcmp(ep, "/v1/chat/completions") != 0) {
		rc = deny(v, 400, "invalid_request_error", "invalid_value", "invalid_request",
			  xstrdup("'endpoint' must be \"/v1/chat/completions\" (the lines the gateway checks)."));
	} else if (!f || !f->lines) {
		rc = deny(v, 404, "invalid_request_error", "not_found", "not_found",
			  xasprintf("No such input file for this team: '%.64s' (upload it through the gateway).", in ? in : ""));
	} else {
		p->batch_input = xstrdup(in);
		p->batch_worst = f->worst_nusd;
		p->fwd_ctype = xstrdup("application/json");
		/* Groq receives the body the gateway checked, not the bytes sent */
		free(p->fwd);
		p->fwd = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
		p->fwd_len = strlen(p->fwd);
	}
	json_decref(j);
	return rc;
}

/* one file or batch: the team's own only (another team's is 404, as if it
 * did not exist); the parameter's shape is the route's. 0 or -1 */
static int own_check(struct preq *p, bool file, struct verdict *v)
{
	const char *param = p->param, *slash = strchr(param, '/');
	char *id = slash ? xstrndup(param, (size_t)(slash - param)) : xstrdup(param);
	const char *sub = slash ? slash : "";
	enum hmethod m = p->method;
	bool shape = file ? (!*sub || (strcmp(sub, "/content") == 0 && m == HM_GET)) && (!*sub || m == HM_GET)
			  : (!*sub && m == HM_GET) || (strcmp(sub, "/cancel") == 0 && m == HM_POST);
	if (file && !*sub && m == HM_DELETE)
		shape = true;
	int rc = 0;
	if (!shape)
		rc = deny(v, 404, "invalid_request_error", "unknown_url", "unknown_url",
			  xasprintf("Unknown request URL: %s %s.", httpd_method_name(p->req), p->path));
	else if (file ? !team_file(&p->g->reg, p->t, id) : !team_batch(&p->g->reg, p->t, id))
		rc = deny(v, 404, "invalid_request_error", "not_found", "not_found",
			  xasprintf("No such %s for this team: '%.64s'.", file ? "file" : "batch", id));
	free(id);
	return rc;
}

int req_own_file(struct preq *p, struct verdict *v)
{
	return own_check(p, true, v);
}

int req_own_batch(struct preq *p, struct verdict *v)
{
	return own_check(p, false, v);
}

/* the output cap (after the allowlist: a model not allowed is told so
 * first): each cap member the route has, checked; the team's written in
 * when none is sent; chat's n choices. 0, or -1 with v filled. */
int req_read_caps(struct preq *p, struct verdict *v)
{
	const char *write;
	if (stage_caps(p->t, p->route->kind, &p->body, &p->cap, &p->n, &write, v) != 0)
		return -1;
	if (write) /* the member stage_caps names, where the body would have it */
		set_cap(p, strcmp(write, "max_output_tokens") == 0 ? p->body.max_output_tokens : p->body.max_completion_tokens,
			write);
	return 0;
}

/* the end user: the JSON body's "user" (OpenAI's field), else the
 * X-Groqgate-User header; 1 to USER_MAX bytes of UTF-8 without control
 * characters. 0 (p->user set, or NULL: none named), or -1 with v. */
#define USER_MAX 256
int req_read_user(struct preq *p, struct verdict *v)
{
	char *u = NULL;
	const char *from = "X-Groqgate-User";
	if (jspan_given(p->body.user)) {
		from = "'user'";
		if (!(u = jspan_string(p->body.user)))
			return req_bad(v, "invalid_value", xstrdup("'user' must be a string naming the end user."));
	} else {
		const char *h = httpd_header(p->req, "X-Groqgate-User");
		if (!h)
			return 0;
		u = xstrdup(h);
	}
	size_t n = strlen(u);
	bool ok = n > 0 && n <= USER_MAX && utf8_valid(u, n);
	for (size_t i = 0; ok && i < n; i++)
		if ((unsigned char)u[i] < 0x20 || u[i] == 0x7f)
			ok = false;
	if (!ok) {
		free(u);
		return req_bad(v, "invalid_value",
			       xasprintf("%s must name the end user in 1 to %d bytes of UTF-8 text without control "
					 "characters.", from, USER_MAX));
	}
	p->user = u;
	return 0;
}

int req_client_rid(struct preq *p, struct verdict *v)
{
	const char *rid = httpd_header(p->req, "X-Request-Id");
	if (!rid)
		return 0;
	size_t n = strlen(rid);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)rid[i] < 0x21 || (unsigned char)rid[i] > 0x7e)
			n = 0;
	if (!n || n > 128) {
		req_bad(v, "invalid_request_id", xstrdup("X-Request-Id must be 1 to 128 visible ASCII characters."));
		return -1;
	}
	p->client_rid = xstrdup(rid);
	return 0;
}
