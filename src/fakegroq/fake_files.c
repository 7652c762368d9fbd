/* fake_files.c — fakegroq's files and batches: uploads kept in memory,
 * batches run on a timer into an output file with usage per line. */
#include "fake.h"

/* ---- files and batches (the organisation's: any key sees them all, as
 * on Groq, where a project's files are shared by its keys) ---------------- */

#define MAX_FILES 1024
#define MAX_BATCHES 256

struct ffile {
	char id[48], filename[128], purpose[16];
	char *data;
	size_t len;
	int64_t created;
	bool deleted;
};
struct fbatch {
	char id[48], input[48], output[48], endpoint[64], status[16];
	int64_t created, total, completed, failed;
	struct event *timer;
};
static struct ffile files[MAX_FILES];
static int nfiles;
static struct fbatch batches[MAX_BATCHES];
static int nbatches;

static struct ffile *file_find(const char *id)
{
	for (int i = 0; i < nfiles; i++)
		if (!files[i].deleted && strcmp(files[i].id, id) == 0)
			return &files[i];
	return NULL;
}

static struct ffile *file_add(const char *filename, const char *purpose, char *data, size_t len)
{
	if (nfiles == MAX_FILES) {
		free(data);
		return NULL;
	}
	struct ffile *f = &files[nfiles++];
	memset(f, 0, sizeof *f);
	char rid[40];
	new_request_id(rid, sizeof rid);
	snprintf(f->id, sizeof f->id, "file_%s", rid + 4); /* (after "req_") */
	snprintf(f->filename, sizeof f->filename, "%s", filename);
	snprintf(f->purpose, sizeof f->purpose, "%s", purpose);
	f->data = data;
	f->len = len;
	f->created = wall_ms() / 1000;
	return f;
}

static json_t *file_json(const struct ffile *f)
{
	return json_pack("{s:s,s:s,s:I,s:I,s:s,s:s}", "id", f->id, "object", "file", "bytes", (json_int_t)f->len,
			 "created_at", (json_int_t)f->created, "filename", f->filename, "purpose", f->purpose);
}

static json_t *batch_json(const struct fbatch *b)
{
	return json_pack("{s:s,s:s,s:s,s:n,s:s,s:s,s:s,s:s?,s:n,s:I,s:{s:I,s:I,s:I},s:{}}", "id", b->id, "object", "batch",
			 "endpoint", b->endpoint, "errors", "input_file_id", b->input, "completion_window", "24h", "status",
			 b->status, "output_file_id", b->output[0] ? b->output : NULL, "error_file_id", "created_at",
			 (json_int_t)b->created, "request_counts", "total", (json_int_t)b->total, "completed",
			 (json_int_t)b->completed, "failed", (json_int_t)b->failed, "metadata");
}

/* a batch's end: each line answered as chat completions are (the same
 * deterministic token counts), the answers as its output file */
static void batch_run(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct fbatch *b = arg;
	if (strcmp(b->status, "cancelling") == 0) {
		snprintf(b->status, sizeof b->status, "cancelled");
		return;
	}
	if (G.f.batch_fail) {
		snprintf(b->status, sizeof b->status, "failed");
		return;
	}
	struct ffile *in = file_find(b->input);
	buf out;
	buf_init(&out);
	b->total = b->completed = b->failed = 0;
	char *text = in ? xstrndup(in->data, in->len) : xstrdup("");
	char *save = NULL;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		json_t *l = json_loads(line, 0, NULL);
		json_t *body = json_object_get(l, "body");
		const char *model = json_string_value(json_object_get(body, "model"));
		b->total++;
		char rid[40];
		new_request_id(rid, sizeof rid);
		json_t *resp;
		if (!model || !model_find(model)) {
			b->failed++;
			resp = json_pack("{s:i,s:s,s:o}", "status_code", 404, "request_id", rid, "body",
					 groq_error_json("The model does not exist or you do not have access to it.", NULL,
							 "model_not_found"));
		} else {
			int64_t p = prompt_tokens_of(json_object_get(body, "messages")), c = G.completion_tokens;
			json_t *cap = json_object_get(body, "max_completion_tokens");
			if (!json_is_integer(cap))
				cap = json_object_get(body, "max_tokens");
			if (json_is_integer(cap) && json_integer_value(cap) < c)
				c = json_integer_value(cap);
			char *content = words_text(c);
			resp = json_pack("{s:i,s:s,s:{s:s,s:s,s:I,s:s,s:[{s:i,s:{s:s,s:s},s:s}],s:o}}", "status_code", 200,
					 "request_id", rid, "body", "id", rid, "object", "chat.completion", "created",
					 (json_int_t)(wall_ms() / 1000), "model", model, "choices", "index", 0, "message", "role",
					 "assistant", "content", content, "finish_reason", "stop", "usage", usage_json(p, c));
			free(content);
			b->completed++;
			lim_of(model)->tpm_used += p + c;
			json_t *rb = json_object_get(resp, "body");
			if (G.f.batch_hostile == 1)
				json_object_del(rb, "usage");
			else if (G.f.batch_hostile == 2)
				json_object_set_new(json_object_get(rb, "usage"), "completion_tokens", json_real(1e30));
			else if (G.f.batch_hostile == 3)
				json_object_set_new(rb, "model", json_string("free-model-nobody-prices"));
		}
		json_t *o = json_pack("{s:s,s:O,s:o,s:n}", "id", rid, "custom_id", json_object_get(l, "custom_id"), "response",
				      resp, "error");
		char *s = json_dumps(o, JSON_COMPACT);
		buf_adds(&out, s);
		buf_adds(&out, "\n");
		free(s);
		json_decref(o);
		if (G.f.batch_hostile == 4 && b->total == 1) { /* a line no input asked for */
			buf_adds(&out, "{\"id\":\"x\",\"custom_id\":\"not-in-the-input\",\"response\":{\"status_code\":200,"
				       "\"body\":{\"model\":\"llama-3.3-70b-versatile\",\"usage\":{\"prompt_tokens\":100000,"
				       "\"completion_tokens\":100000}}},\"error\":null}\n");
		}
		json_decref(l);
	}
	free(text);
	size_t len = out.len;
	struct ffile *f = file_add("batch_output.jsonl", "batch_output", len ? buf_detach(&out) : xstrdup(""), len);
	buf_free(&out);
	if (f)
		snprintf(b->output, sizeof b->output, "%s", f->id);
	snprintf(b->status, sizeof b->status, "completed");
}

void files_free(void)
{
	for (int i = 0; i < nfiles; i++)
		free(files[i].data);
	for (int i = 0; i < nbatches; i++)
		if (batches[i].timer)
			event_free(batches[i].timer);
}

void handle_files(struct freq *fr, enum hmethod cmd, const char *rest)
{
	if (!*rest && cmd == HM_POST) {
		struct mediatype mt;
		const char *why = "";
		fr->raw = httpd_take_body(fr->req, &fr->raw_len);
		int np, nf;
		if (mediatype_parse(httpd_header(fr->req, "Content-Type"), &mt, &why) != 0 ||
		    strcmp(mt.type, "multipart/form-data") != 0 ||
		    mform_parse(fr->raw, fr->raw_len, mt.boundary, &fr->form, &why) != 0) {
			send_error(fr, 400, "request Content-Type isn't multipart/form-data", "invalid_request_error", NULL);
			freq_free(fr);
			return;
		}
		const struct mpart *p = mform_get(&fr->form, "purpose", &np), *f = mform_get(&fr->form, "file", &nf);
		if (!p || !f || p->len != 5 || memcmp(p->data, "batch", 5) != 0) {
			send_error(fr, 400, !f ? "'file' : property 'file' is missing" : "'purpose' must be 'batch'",
				   "invalid_request_error", NULL);
			freq_free(fr);
			return;
		}
		char fname[128];
		snprintf(fname, sizeof fname, "%s", f->filename ? f->filename : "batch.jsonl");
		struct ffile *ff = file_add(fname, "batch", xstrndup(f->data, f->len), f->len);
		if (!ff) {
			send_error(fr, 400, "too many files", "invalid_request_error", NULL);
			freq_free(fr);
			return;
		}
		answer_json(fr, 200, file_json(ff));
		return;
	}
	if (!*rest && cmd == HM_GET) {
		json_t *a = json_array();
		for (int i = 0; i < nfiles; i++)
			if (!files[i].deleted)
				json_array_append_new(a, file_json(&files[i]));
		answer_json(fr, 200, org_list(a));
		return;
	}
	char id[64];
	snprintf(id, sizeof id, "%.*s", (int)strcspn(rest + 1, "/"), rest + 1);
	const char *sub = rest + 1 + strlen(id);
	struct ffile *f = *rest == '/' ? file_find(id) : NULL;
	if (!f) {
		send_error(fr, 404, "file not found", "invalid_request_error", "not_found");
		freq_free(fr);
		return;
	}
	if (!*sub && cmd == HM_GET) {
		answer_json(fr, 200, file_json(f));
	} else if (!*sub && cmd == HM_DELETE) {
		f->deleted = true;
		answer_json(fr, 200, json_pack("{s:s,s:s,s:b}", "id", f->id, "object", "file", "deleted", 1));
	} else if (strcmp(sub, "/content") == 0 && cmd == HM_GET) {
		answered(fr, 200);
		add_limit_headers(fr->req, fr->model);
		httpd_send(final(fr), 200, "application/octet-stream", f->data, f->len);
		freq_free(fr);
	} else {
		send_error(fr, 404, "Unknown request URL", "invalid_request_error", "unknown_url");
		freq_free(fr);
	}
}

void handle_batches(struct freq *fr, enum hmethod cmd, const char *rest)
{
	if (!*rest && cmd == HM_POST) {
		size_t len;
		char *body = httpd_body(fr->req, &len);
		json_t *j = json_loadb(body, len, 0, NULL);
		free(body);
		const char *in = json_string_value(json_object_get(j, "input_file_id"));
		const char *ep = json_string_value(json_object_get(j, "endpoint"));
		struct ffile *f = in ? file_find(in) : NULL;
		if (!f || !ep || nbatches == MAX_BATCHES) {
			json_decref(j);
			send_error(fr, 400, !f ? "input file not found" : "'endpoint' is required", "invalid_request_error", NULL);
			freq_free(fr);
			return;
		}
		struct fbatch *b = &batches[nbatches++];
		memset(b, 0, sizeof *b);
		char rid[40];
		new_request_id(rid, sizeof rid);
		snprintf(b->id, sizeof b->id, "batch_%s", rid + 4);
		snprintf(b->input, sizeof b->input, "%s", f->id);
		snprintf(b->endpoint, sizeof b->endpoint, "%s", ep);
		snprintf(b->status, sizeof b->status, "validating");
		b->created = wall_ms() / 1000;
		for (size_t i = 0; i < f->len; i++)
			b->total += f->data[i] == '\n';
		json_decref(j);
		b->timer = evtimer_new(G.base, batch_run, b);
		struct timeval tv = { (time_t)(G.f.batch_ms / 1000), (suseconds_t)(G.f.batch_ms % 1000) * 1000 };
		evtimer_add(b->timer, &tv);
		answer_json(fr, 200, batch_json(b));
		return;
	}
	if (!*rest && cmd == HM_GET) {
		json_t *a = json_array();
		for (int i = 0; i < nbatches; i++)
			json_array_append_new(a, batch_json(&batches[i]));
		answer_json(fr, 200, org_list(a));
		return;
	}
	char id[64];
	snprintf(id, sizeof id, "%.*s", (int)strcspn(rest + 1, "/"), rest + 1);
	const char *sub = rest + 1 + strlen(id);
	struct fbatch *b = NULL;
	for (int i = 0; *rest == '/' && i < nbatches; i++)
		if (strcmp(batches[i].id, id) == 0)
			b = &batches[i];
	if (!b) {
		send_error(fr, 404, "batch not found", "invalid_request_error", "not_found");
		freq_free(fr);
		return;
	}
	if (!*sub && cmd == HM_GET) {
		answer_json(fr, 200, batch_json(b));
	} else if (strcmp(sub, "/cancel") == 0 && cmd == HM_POST) {
		if (strcmp(b->status, "validating") == 0 || strcmp(b->status, "in_progress") == 0)
			snprintf(b->status, sizeof b->status, "cancelling");
		answer_json(fr, 200, batch_json(b));
	} else {
		send_error(fr, 404, "Unknown request URL", "invalid_request_error", "unknown_url");
		freq_free(fr);
	}
}
