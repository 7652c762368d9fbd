/* test_gateway.c — the request pipeline's stages, each alone, with an
 * injected clock (plain int64 times): rate limit, policy, authentication,
 * the SSE/usage meter, the prompt estimate, prices, config and tokens. */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gateway.h"
#include "secret.h"
#include "t.h"
#include "util.h"

static void test_rl_exact_window(void)
{
	struct ratelimit rl;
	rl_init(&rl, 10);
	int64_t t0 = 1000000, retry = 0;
	/* 5x the limit spread over the first minute: exactly 10 admitted */
	int admitted = 0;
	for (int i = 0; i < 50; i++)
		admitted += rl_admit(&rl, t0 + i * 1000, &retry);
	CHECK_INT(admitted, 10);
	CHECK_INT(rl_count(&rl, t0 + 49000), 10);
	rl_free(&rl);
}

static void test_rl_no_edge_burst(void)
{
	/* a fixed-window limiter lets 2x through around a window edge; a
	 * sliding one never admits more than the limit in any 60 s */
	struct ratelimit rl;
	rl_init(&rl, 10);
	int64_t retry, t0 = 5000000;
	int a = 0;
	for (int i = 0; i < 10; i++)
		a += rl_admit(&rl, t0 + 59000 + i, &retry);
	for (int i = 0; i < 10; i++)
		a += rl_admit(&rl, t0 + 60500 + i, &retry);
	CHECK_INT(a, 10);
	CHECK(retry > 57000 && retry <= 59000);
	/* once the first admissions age out, room comes back one by one */
	CHECK(rl_admit(&rl, t0 + 59000 + 60000, &retry) == 1);
	CHECK(rl_admit(&rl, t0 + 59000 + 60000, &retry) == 0);
	rl_free(&rl);
}

static void test_rl_sliding_any_window(void)
{
	struct ratelimit rl;
	rl_init(&rl, 7);
	int64_t times[2000];
	int n = 0;
	int64_t retry;
	for (int64_t t = 0; t < 300000; t += 150) /* 400 rpm offered */
		if (rl_admit(&rl, t, &retry))
			times[n++] = t;
	/* check every 60 s window starting at each admission */
	for (int i = 0; i < n; i++) {
		int in = 0;
		for (int j = i; j < n && times[j] < times[i] + 60000; j++)
			in++;
		CHECK(in <= 7);
	}
	CHECK(n >= 7 * 5 - 1);
	rl_resize(&rl, 3);
	CHECK(rl_admit(&rl, 300000, &retry) == 0 || rl_count(&rl, 300000) <= 3);
	rl_free(&rl);
}

static void test_rl_count_and_reset(void)
{
	struct ratelimit rl;
	rl_init(&rl, 10);
	int64_t r;
	for (int i = 0; i < 5; i++)
		CHECK(rl_admit(&rl, i * 10000, &r));
	CHECK_INT(rl_count(&rl, 40000), 5);
	CHECK_INT(rl_count(&rl, 65000), 4);   /* the one at 0 s left the window */
	CHECK_INT(rl_reset_ms(&rl, 65000), 5000); /* 10 s + 60 s - 65 s */
	CHECK_INT(rl_count(&rl, 100000), 0);
	CHECK_INT(rl_reset_ms(&rl, 100000), 0);
	rl_free(&rl);
}

static void feed_emit(void *arg, const char *ev, size_t len)
{
	buf_add(arg, ev, len);
}

static const char stream_sample[] =
	"data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}],\"x_groq\":{\"id\":\"req_1\"}}\n\n"
	"data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hello\"}}]}\n\n"
	"data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}],\"x_groq\":{\"id\":\"req_1\",\"usage\":{\"prompt_tokens\":18,\"completion_tokens\":2,\"total_tokens\":20}}}\n\n"
	"data: {\"id\":\"c\",\"choices\":[],\"usage\":{\"prompt_tokens\":18,\"completion_tokens\":2,\"total_tokens\":20}}\n\n"
	"data: [DONE]\n\n";

static void test_sse_split_everywhere(void)
{
	/* the usage must come out the same however the bytes are cut */
	size_t len = strlen(stream_sample);
	for (size_t cut = 1; cut < len; cut += 7) {
		struct sse s;
		sse_init(&s);
		buf out;
		buf_init(&out);
		sse_feed(&s, stream_sample, cut, feed_emit, &out);
		sse_feed(&s, stream_sample + cut, len - cut, feed_emit, &out);
		CHECK(s.usage.seen);
		CHECK_INT(s.usage.prompt, 18);
		CHECK_INT(s.usage.completion, 2); /* counted once, not 4 */
		CHECK(s.done);
		CHECK_INT(s.events, 5);
		/* every event but [DONE] passed on, byte for byte */
		CHECK_INT(out.len, len - strlen("data: [DONE]\n\n"));
		buf_free(&out);
		sse_free(&s);
	}
}

static void test_sse_usage_chunk_only(void)
{
	/* a stream whose usage comes only as the include_usage chunk */
	const char *s1 = "data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\r\n\r\n"
			 "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":7}}\r\n\r\n"
			 "data: [DONE]\r\n\r\n";
	struct sse s;
	sse_init(&s);
	sse_feed(&s, s1, strlen(s1), NULL, NULL);
	CHECK(s.usage.seen && s.usage.prompt == 5 && s.usage.completion == 7 && s.done);
	sse_free(&s);
	/* no usage at all (a cut stream): nothing seen */
	sse_init(&s);
	sse_feed(&s, s1, 40, NULL, NULL);
	CHECK(!s.usage.seen && !s.done);
	sse_free(&s);
}

static void test_usage_json(void)
{
	const char *b = "{\"usage\":{\"prompt_tokens\":18,\"completion_tokens\":556,\"total_tokens\":574}}";
	struct usage u;
	CHECK(usage_from_json(b, strlen(b), &u));
	CHECK_INT(u.prompt, 18);
	CHECK_INT(u.completion, 556);
	CHECK(!usage_from_json("{}", 2, &u));
	CHECK(!usage_from_json("garbage", 7, &u));
}

/* fakegroq's documented formula: 3 + sum(4 + ceil(bytes/4)) */
static int64_t fake_prompt(json_t *messages)
{
	int64_t n = 3;
	size_t i;
	json_t *m;
	json_array_foreach(messages, i, m)
		n += 4 + ((int64_t)json_string_length(json_object_get(m, "content")) + 3) / 4;
	return n;
}

static void test_prompt_estimate_is_upper_bound(void)
{
	srand(7);
	for (int r = 0; r < 200; r++) {
		json_t *msgs = json_array();
		int nm = 1 + rand() % 6;
		for (int i = 0; i < nm; i++) {
			char txt[300];
			int l = rand() % 299;
			for (int k = 0; k < l; k++)
				txt[k] = (char)('a' + rand() % 26);
			txt[l] = '\0';
			json_array_append_new(msgs, json_pack("{s:s,s:s}", "role", "user", "content", txt));
		}
		json_t *body = json_pack("{s:s,s:o}", "model", "m", "messages", msgs);
		char *s = json_dumps(body, JSON_COMPACT);
		CHECK(prompt_estimate(strlen(s), body) >= fake_prompt(msgs));
		free(s);
		json_decref(body);
	}
}

static void test_cost(void)
{
	struct price p = { NULL, 0.59, 0.79 };
	CHECK_INT(cost_nusd(&p, 1000000, 0), 590000000);
	CHECK_INT(cost_nusd(&p, 11, 20), 11 * 590 + 20 * 790);
	CHECK_INT(cost_nusd(NULL, 100, 100), 0);
	struct price q = { NULL, 0.075, 0.30 };
	CHECK_INT(cost_nusd(&q, 1, 1), 75 + 300);
}

static struct team *mk_team(void)
{
	struct team *t = team_new();
	t->id = xstrdup("chatbot");
	t->name = xstrdup("Chatbot");
	t->models = xcalloc(3, sizeof *t->models);
	t->models[t->nmodels++] = xstrdup("llama-3.3-70b-versatile");
	t->max_tokens = 512;
	t->rpm_limit = 3;
	rl_resize(&t->rl, 3);
	t->budget_nusd = 10 * NUSD_PER_USD;
	return t;
}

static void test_policy(void)
{
	struct team *t = mk_team();
	struct verdict v = { 0 };
	int64_t cap;
	json_t *b = json_pack("{s:s,s:i}", "model", "llama-3.3-70b-versatile", "max_tokens", 100);
	CHECK(stage_policy(t, "llama-3.3-70b-versatile", b, &cap, &v) == 0);
	CHECK_INT(cap, 100);
	CHECK(stage_policy(t, "qwen/qwen3-32b", b, &cap, &v) == -1);
	CHECK_INT(v.status, 403);
	CHECK_STR(v.code, "model_not_allowed");
	CHECK(strstr(v.message, "llama-3.3-70b-versatile"));
	verdict_clear(&v);
	json_object_set_new(b, "max_completion_tokens", json_integer(513));
	CHECK(stage_policy(t, "llama-3.3-70b-versatile", b, &cap, &v) == -1);
	CHECK_INT(v.status, 400);
	CHECK_STR(v.code, "max_tokens_exceeded");
	verdict_clear(&v);
	json_object_del(b, "max_completion_tokens");
	json_object_set_new(b, "max_tokens", json_integer(9999)); /* the deprecated alias too */
	CHECK(stage_policy(t, "llama-3.3-70b-versatile", b, &cap, &v) == -1);
	CHECK_STR(v.code, "max_tokens_exceeded");
	verdict_clear(&v);
	json_object_del(b, "max_tokens");
	CHECK(stage_policy(t, "llama-3.3-70b-versatile", b, &cap, &v) == 0);
	CHECK_INT(cap, 512); /* neither sent: the team's cap is set */
	CHECK_INT(json_integer_value(json_object_get(b, "max_completion_tokens")), 512);
	t->state = TEAM_PAUSED;
	t->paused_by = xstrdup("alice");
	t->paused_reason = xstrdup("incident 42");
	CHECK(stage_policy(t, "llama-3.3-70b-versatile", b, &cap, &v) == -1);
	CHECK_INT(v.status, 403);
	CHECK_STR(v.code, "team_paused");
	CHECK(strstr(v.message, "alice") && strstr(v.message, "incident 42"));
	verdict_clear(&v);
	t->state = TEAM_BUDGET_PAUSED;
	CHECK(stage_policy(t, "llama-3.3-70b-versatile", b, &cap, &v) == -1);
	CHECK_INT(v.status, 402);
	CHECK_STR(v.code, "budget_exceeded");
	verdict_clear(&v);
	json_decref(b);
	team_free(t);
}

static void test_ratelimit_stage(void)
{
	struct team *t = mk_team();
	struct verdict v = { 0 };
	int64_t now = 1000;
	for (int i = 0; i < 3; i++)
		CHECK(stage_ratelimit(t, now + i, &v) == 0);
	CHECK(stage_ratelimit(t, now + 10, &v) == -1);
	CHECK_INT(v.status, 429);
	CHECK_STR(v.code, "rate_limit_exceeded");
	CHECK_INT(v.retry_ms, 60000 - 10);
	verdict_clear(&v);
	CHECK(stage_ratelimit(t, now + 60000, &v) == 0);
	team_free(t);
}

static void test_authenticate(void)
{
	struct registry r;
	registry_init(&r);
	struct ctoken *tok = xcalloc(1, sizeof *tok);
	tok->id = xstrdup("tok_1");
	tok->team = xstrdup("chatbot");
	tok->key = xstrdup("chatbot-prod-api");
	tok->label = xstrdup("");
	sha256_hex("ggt_secret", 10, tok->hash);
	registry_add_token(&r, tok);
	struct ctoken *got;
	struct verdict v = { 0 };
	CHECK(stage_authenticate(&r, "ggt_secret", &got, &v) == 0 && got == tok);
	CHECK(stage_authenticate(&r, "ggt_other", &got, &v) == -1);
	CHECK_INT(v.status, 401);
	CHECK_STR(v.code, "invalid_api_key");
	verdict_clear(&v);
	CHECK(stage_authenticate(&r, NULL, &got, &v) == -1);
	verdict_clear(&v);
	tok->revoked_at = 5;
	CHECK(stage_authenticate(&r, "ggt_secret", &got, &v) == -1);
	verdict_clear(&v);
	registry_free(&r);
}

static void test_names(void)
{
	char *cause = NULL;
	CHECK(key_name_valid("chatbot-prod-api", "chatbot", &cause));
	CHECK(!key_name_valid("chatbot-prod", "chatbot", &cause));
	free(cause);
	cause = NULL;
	CHECK(!key_name_valid("search-prod-api", "chatbot", &cause));
	free(cause);
	cause = NULL;
	CHECK(!key_name_valid("chatbot-Prod-api", "chatbot", &cause));
	free(cause);
	CHECK(slug_valid("batch-processor"));
	CHECK(!slug_valid("Batch"));
	CHECK(!slug_valid(""));
	CHECK(!slug_valid("-x"));
}

static char *write_tmp(const char *text, int mode)
{
	char *path = xstrdup("/tmp/gg-unit-XXXXXX");
	int fd = mkstemp(path);
	if (write(fd, text, strlen(text)) < 0)
		abort();
	close(fd);
	chmod(path, (mode_t)mode);
	return path;
}

static void test_admin_tokens(void)
{
	char h[65];
	sha256_hex("tok-op", 6, h);
	char *text = xasprintf("# comment\nalice operator %s\nwally viewer %s\n", h,
			       "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	char *p = write_tmp(text, 0600);
	struct admin_token *t = NULL;
	int n = 0;
	char *cause = NULL;
	CHECK(admintok_load(p, &t, &n, &cause) == 0);
	CHECK_INT(n, 2);
	CHECK(admintok_find(t, n, "tok-op") == &t[0]);
	CHECK(admintok_find(t, n, "abc")->role == ROLE_VIEWER);
	CHECK(admintok_find(t, n, "nope") == NULL);
	free(t);
	chmod(p, 0644);
	CHECK(admintok_load(p, &t, &n, &cause) == -1);
	CHECK(cause && strstr(cause, "too open"));
	free(cause);
	cause = NULL;
	unlink(p);
	free(p);
	p = write_tmp("bob admin 1234\n", 0600);
	CHECK(admintok_load(p, &t, &n, &cause) == -1);
	CHECK(cause && strstr(cause, ":1:"));
	free(cause);
	unlink(p);
	free(p);
	free(text);
}

static void test_config(void)
{
	char *p = write_tmp("listen = \"127.0.0.1:9999\";\n"
			    "upstream = { base_url = \"http://127.0.0.1:1/\"; };\n"
			    "store = { path = \"/tmp/x.db\"; };\n"
			    "admin = { tokens_file = \"/tmp/t\"; };\n"
			    "prices = ( { model = \"m1\"; input_per_mtok = 0.5; output_per_mtok = 1; } );\n"
			    "rotation = { drain_seconds = 5; };\n",
			    0600);
	struct gw_config c;
	char *cause = NULL;
	CHECK(config_load(p, &c, &cause) == 0);
	CHECK_STR(c.upstream_base, "http://127.0.0.1:1"); /* trailing slash dropped */
	CHECK_INT(c.drain_seconds, 5);
	CHECK(config_price(&c, "m1") && config_price(&c, "m1")->out_per_mtok == 1.0);
	CHECK(config_price(&c, "m2") == NULL);
	config_free(&c);
	unlink(p);
	free(p);
	p = write_tmp("listen = \"127.0.0.1:9999\";\nprices = ( { model = \"m1\"; input_per_mtok = \"x\"; } );\n", 0600);
	CHECK(config_load(p, &c, &cause) == -1);
	CHECK(cause && strstr(cause, ":2:") && strstr(cause, "input_per_mtok"));
	free(cause);
	cause = NULL;
	unlink(p);
	free(p);
	p = write_tmp("lisen = \"127.0.0.1:1\";\n", 0600);
	CHECK(config_load(p, &c, &cause) == -1);
	CHECK(cause && strstr(cause, "lisen") && strstr(cause, "unknown setting"));
	free(cause);
	unlink(p);
	free(p);
}

void suite_gateway(void)
{
	RUN(test_rl_exact_window);
	RUN(test_rl_no_edge_burst);
	RUN(test_rl_sliding_any_window);
	RUN(test_rl_count_and_reset);
	RUN(test_sse_split_everywhere);
	RUN(test_sse_usage_chunk_only);
	RUN(test_usage_json);
	RUN(test_prompt_estimate_is_upper_bound);
	RUN(test_cost);
	RUN(test_policy);
	RUN(test_ratelimit_stage);
	RUN(test_authenticate);
	RUN(test_names);
	RUN(test_admin_tokens);
	RUN(test_config);
}
