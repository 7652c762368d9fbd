/* test_gateway.c — the request pipeline's stages, each alone, with an
 * injected clock (plain int64 times): rate limit, policy, authentication,
 * the SSE/usage meter, the prompt estimate, prices, config and tokens. */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gateway.h"
#include "origin.h"
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

/* the ring follows the traffic, not the limit: a limit of ten million
 * costs nothing until used, and exactly as much as the window holds */
static void test_rl_memory_follows_traffic(void)
{
	struct ratelimit rl;
	rl_init(&rl, 10000000);
	CHECK_INT(rl.size, 0);
	CHECK(rl.ts == NULL);
	int64_t r;
	CHECK_INT(rl_count(&rl, 0), 0);
	CHECK_INT(rl_reset_ms(&rl, 0), 0);
	for (int i = 0; i < 100; i++)
		CHECK(rl_admit(&rl, 1000 + i, &r));
	CHECK(rl.size >= 100 && rl.size <= 128);
	CHECK_INT(rl_count(&rl, 2000), 100);
	/* the order survives each growth: the oldest leaves first */
	CHECK_INT(rl_count(&rl, 61000 + 50), 49);
	/* a limit lowered below what the window holds keeps the newest */
	rl_resize(&rl, 10);
	CHECK_INT(rl.size, 10);
	CHECK_INT(rl_count(&rl, 2000), 10);
	CHECK_INT(rl_reset_ms(&rl, 2000), 1090 + 60000 - 2000);
	CHECK(rl_admit(&rl, 2000, &r) == 0);
	/* raised again: room comes as it is used */
	rl_resize(&rl, 1000);
	for (int i = 0; i < 990; i++)
		CHECK(rl_admit(&rl, 3000, &r));
	CHECK(rl_admit(&rl, 3000, &r) == 0);
	CHECK_INT(rl.size, 1000);
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

/* one event fed alone: the usage it leaves in a fresh stream */
static struct usage one_event(const char *ev, bool *xgroq)
{
	struct sse s;
	sse_init(&s);
	sse_feed(&s, ev, strlen(ev), NULL, NULL);
	struct usage u = s.usage;
	*xgroq = s.got_xgroq;
	sse_free(&s);
	return u;
}

static void test_sse_usage_shapes(void)
{
	bool xg;
	/* Groq's last chunk: x_groq.usage, floats around the integers */
	struct usage u = one_event("data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}],\"x_groq\":{\"id\":\"r\","
				   "\"usage\":{\"queue_time\":0.018,\"prompt_tokens\":18,\"prompt_time\":0.0007,"
				   "\"completion_tokens\":2,\"prompt_tokens_details\":{\"cached_tokens\":6}}}}\n\n",
				   &xg);
	CHECK(u.seen && xg);
	CHECK_INT(u.prompt, 18);
	CHECK_INT(u.completion, 2);
	CHECK_INT(u.cached, 6);
	/* the Responses API: response.usage with input_/output_tokens */
	u = one_event("event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"id\":\"resp_1\","
		      "\"output\":[{\"content\":[{\"text\":\"the usage is {\\\"usage\\\":1}\"}]}],\"usage\":{\"input_tokens\":9,"
		      "\"input_tokens_details\":{\"cached_tokens\":4},\"output_tokens\":3}}}\n\n",
		      &xg);
	CHECK(u.seen && !xg);
	CHECK_INT(u.prompt, 9);
	CHECK_INT(u.completion, 3);
	CHECK_INT(u.cached, 4);
	/* "usage" only inside the model's text, or nested where it is not
	 * read (a choice's own object): nothing counted */
	u = one_event("data: {\"choices\":[{\"delta\":{\"content\":\"\\\"usage\\\":{\\\"prompt_tokens\\\":99}\"}}]}\n\n", &xg);
	CHECK(!u.seen);
	u = one_event("data: {\"choices\":[{\"usage\":{\"prompt_tokens\":99,\"completion_tokens\":1}}]}\n\n", &xg);
	CHECK(!u.seen);
	/* an object broken off before the usage ends: nothing */
	u = one_event("data: {\"x_groq\":{\"usage\":{\"prompt_tokens\":18,\"completion_t\n\n", &xg);
	CHECK(!u.seen);
	/* token counts of a nested breakdown are not the usage's; cached
	 * tokens count only inside the prompt's (or input's) details */
	u = one_event("data: {\"x_groq\":{\"usage\":{\"breakdown\":[{\"prompt_tokens\":5,\"completion_tokens\":1}],"
		      "\"completion_tokens_details\":{\"cached_tokens\":9},\"cached_tokens\":7,\"prompt_tokens\":18,"
		      "\"completion_tokens\":2}}}\n\n",
		      &xg);
	CHECK(u.seen && u.prompt == 18 && u.completion == 2 && u.cached == 0);
	/* a string value named like a member is not one */
	u = one_event("data: {\"usage\":{\"note\":\"prompt_tokens\",\"prompt_tokens\":4,\"completion_tokens\":3,"
		      "\"prompt_tokens_details\":{\"x\":{\"cached_tokens\":8},\"cached_tokens\":2}}}\n\n",
		      &xg);
	CHECK(u.seen && u.prompt == 4 && u.completion == 3 && u.cached == 2);
	/* a top-level usage chunk, then x_groq's: x_groq's figures win */
	struct sse s;
	sse_init(&s);
	const char *two = "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":1}}\n\n"
			  "data: {\"choices\":[],\"x_groq\":{\"usage\":{\"prompt_tokens\":18,\"completion_tokens\":2}}}\n\n"
			  "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":5}}\n\n";
	sse_feed(&s, two, strlen(two), NULL, NULL);
	CHECK(s.usage.seen && s.usage.prompt == 18 && s.usage.completion == 2 && s.events == 3);
	sse_free(&s);
	/* events end at "\n\n" or "\r\n\r\n", mixed in one stream; a lone
	 * "\n\r\n" is not a blank line */
	sse_init(&s);
	const char *mixed = "data: a\r\n\r\ndata: b\n\ndata: c\n\r\ndata: d\r\n\r\n";
	buf out;
	buf_init(&out);
	sse_feed(&s, mixed, strlen(mixed), feed_emit, &out);
	CHECK_INT(s.events, 3);
	CHECK(out.len == strlen(mixed) && memcmp(out.data, mixed, out.len) == 0);
	buf_free(&out);
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
		json_t *body = json_pack("{s:s,s:O}", "model", "m", "messages", msgs);
		char *s = json_dumps(body, JSON_COMPACT);
		struct reqbody b;
		const char *why = NULL;
		CHECK(reqbody_scan(s, strlen(s), &b, &why) == 0);
		CHECK_INT(b.nmessages, nm);
		CHECK(prompt_estimate(strlen(s), b.nmessages) >= fake_prompt(msgs));
		free(s);
		json_decref(msgs);
		json_decref(body);
	}
}

static void test_cost(void)
{
	struct price p = { NULL, 0.59, 0.79, -1, -1, -1 };
	CHECK_INT(cost_nusd(&p, 1000000, 0), 590000000);
	CHECK_INT(cost_nusd(&p, 11, 20), 11 * 590 + 20 * 790);
	CHECK_INT(cost_nusd(NULL, 100, 100), 0);
	struct price q = { NULL, 0.075, 0.30, -1, -1, -1 };
	CHECK_INT(cost_nusd(&q, 1, 1), 75 + 300);
	/* cached input at its own price, or at the input price when it has none */
	struct price c = { NULL, 0.15, 0.60, 0.075, -1, -1 };
	CHECK_INT(cost_tokens(&c, 1000, 400, 10, 1.0), 600 * 150 + 400 * 75 + 10 * 600);
	CHECK_INT(cost_tokens(&p, 1000, 400, 0, 1.0), 1000 * 590);
	CHECK_INT(cost_tokens(&c, 1000, 0, 1000, 0.5), (1000 * 150 + 1000 * 600) / 2);
	/* audio by the hour ($0.111: 10 s = 308,334 nusd rounded up), speech by characters */
	struct price w = { NULL, -1, -1, -1, 0.111, -1 }, s = { NULL, -1, -1, -1, -1, 22 };
	CHECK_INT(cost_audio(&w, 10), 308334);
	CHECK_INT(cost_audio(&w, 3600), 111000000);
	CHECK_INT(cost_chars(&s, 1000), 22000000); /* $0.022 */
	CHECK(price_bills(&w, BU_AUDIO_SECONDS) && !price_bills(&w, BU_TOKENS) && !price_bills(&p, BU_CHARS));
	CHECK_INT(cost_tokens(&w, 1000, 0, 1000, 1.0), 0);
	/* hostile counts never wrap: bounded at COST_MAX */
	CHECK_INT(cost_nusd(&p, 1000000000000000000LL, 0), COST_MAX);
	CHECK_INT(cost_nusd(&p, INT64_MAX, INT64_MAX), COST_MAX);
	CHECK(cost_nusd(&p, 100000000000000000LL, 0) > 0);
	/* thresholds exact at every budget the API accepts (up to $1e9) */
	int64_t big = 1000000000LL * NUSD_PER_USD;
	CHECK(!money_reached(0, big, 50));
	CHECK(!money_reached(big / 2 - 1, big, 50));
	CHECK(money_reached(big / 2, big, 50));
	CHECK(money_reached(INT64_MAX, big, 100));
	CHECK(!money_reached(INT64_MIN, big, 1));
	/* the one "already crossed" rule: a restart or a PATCH at $1e9 */
	int th[] = {50, 80, 95};
	CHECK_INT(money_crossed(th, 3, 0, big), 0);
	CHECK_INT(money_crossed(th, 3, big / 100, big), 0);
	CHECK_INT(money_crossed(th, 3, big / 2, big), 1);
	CHECK_INT(money_crossed(th, 3, big / 100 * 95, big), 3);
	CHECK_INT(money_crossed(th, 3, INT64_MAX, big), 3);
	CHECK_INT(money_crossed(th, 3, INT64_MAX, 0), 0);
	CHECK_INT(money_crossed(th, 0, big, big), 0);
	/* amounts as text: nine decimals, exact at both ends of int64_t */
	char u[USD_TEXT_MAX];
	CHECK_INT(usd_text(u, 0), 11);
	CHECK_STR(u, "0.000000000");
	usd_text(u, 22290);
	CHECK_STR(u, "0.000022290");
	usd_text(u, -1250000000);
	CHECK_STR(u, "-1.250000000");
	usd_text(u, INT64_MAX);
	CHECK_STR(u, "9223372036.854775807");
	usd_text(u, INT64_MIN);
	CHECK_STR(u, "-9223372036.854775808");
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

/* a chat body given as text through the request path's doors: the
 * policy, then the caps (stage_caps, as read_caps calls it) */
static int policy_on(const struct team *t, const char *model, const char *body, int64_t *cap, struct verdict *v)
{
	struct reqbody b;
	const char *why = NULL;
	int64_t n;
	const char *write;
	if (reqbody_scan(body, strlen(body), &b, &why) != 0)
		return -2;
	if (stage_policy(t, model, v) != 0 || stage_caps(t, RK_CHAT, &b, cap, &n, &write, v) != 0)
		return -1;
	return 0;
}

static void test_policy(void)
{
	struct team *t = mk_team();
	struct verdict v = { 0 };
	int64_t cap;
	const char *m = "llama-3.3-70b-versatile";
	CHECK(policy_on(t, m, "{\"model\":\"llama-3.3-70b-versatile\",\"max_tokens\":100}", &cap, &v) == 0);
	CHECK_INT(cap, 100);
	CHECK(policy_on(t, "qwen/qwen3-32b", "{\"max_tokens\":100}", &cap, &v) == -1);
	CHECK_INT(v.status, 403);
	CHECK_STR(v.code, "model_not_allowed");
	CHECK(strstr(v.message, "llama-3.3-70b-versatile"));
	verdict_clear(&v);
	CHECK(policy_on(t, m, "{\"max_tokens\":100,\"max_completion_tokens\":513}", &cap, &v) == -1);
	CHECK_INT(v.status, 400);
	CHECK_STR(v.code, "max_tokens_exceeded");
	verdict_clear(&v);
	CHECK(policy_on(t, m, "{\"max_tokens\":9999}", &cap, &v) == -1); /* the deprecated alias too */
	CHECK_STR(v.code, "max_tokens_exceeded");
	verdict_clear(&v);
	const char *bad[] = { "{\"max_tokens\":0}", "{\"max_tokens\":-5}", "{\"max_tokens\":1.5}",
			      "{\"max_tokens\":\"100\"}", "{\"max_tokens\":1e2}", "{\"max_tokens\":true}" };
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		CHECK(policy_on(t, m, bad[i], &cap, &v) == -1);
		CHECK_STR(v.code, "invalid_value");
		verdict_clear(&v);
	}
	/* the last of a repeated key counts, as in jansson */
	CHECK(policy_on(t, m, "{\"max_tokens\":9999,\"max_tokens\":10}", &cap, &v) == 0);
	CHECK_INT(cap, 10);
	CHECK(policy_on(t, m, "{\"model\":\"x\"}", &cap, &v) == 0);
	CHECK_INT(cap, 512); /* neither sent: the team's cap */
	CHECK(policy_on(t, m, "{\"max_tokens\":null}", &cap, &v) == 0);
	CHECK_INT(cap, 512); /* null is not sent */
	const char *body = "{\"model\":\"x\"}";
	t->state = TEAM_PAUSED;
	t->paused_by = xstrdup("alice");
	t->paused_reason = xstrdup("incident 42");
	CHECK(policy_on(t, m, body, &cap, &v) == -1);
	CHECK_INT(v.status, 403);
	CHECK_STR(v.code, "team_paused");
	CHECK(strstr(v.message, "alice") && strstr(v.message, "incident 42"));
	verdict_clear(&v);
	t->state = TEAM_BUDGET_PAUSED;
	CHECK(policy_on(t, m, body, &cap, &v) == -1);
	CHECK_INT(v.status, 402);
	CHECK_STR(v.code, "budget_exceeded");
	verdict_clear(&v);
	team_free(t);
}

/* the scanner accepts exactly what jansson accepts as an object, and reads
 * the members the pipeline needs as jansson would */
static void test_reqbody_agrees_with_jansson(void)
{
	const char *cases[] = {
		"{}", " {\"a\":1} ", "{\"model\":\"llama-3.1-8b-instant\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"},{}]}",
		"{\"mod\\u0065l\":\"m\\u00e9\\ud83d\\ude00\\n\"}", "{\"model\":\"a\",\"model\":\"b\"}",
		"{\"messages\":[1,2,3],\"messages\":{\"a\":[1,2]}}", "{\"x\":[[[[]]]],\"y\":{\"z\":null},\"w\":-0.5e-3}",
		"{\"s\":\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"}", "{\"n\":9223372036854775807}", "{\"n\":-9223372036854775808}",
		/* invalid */
		"", " ", "[]", "\"x\"", "{", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "{\"a\":1}x", "{\"a\":01}", "{\"a\":1.}",
		"{\"a\":.5}", "{\"a\":+1}", "{\"a\":tru}", "{\"a\":\"\\x\"}", "{\"a\":\"\\u00g0\"}", "{\"a\":\"\\u0000\"}",
		"{\"a\":\"\\ud83d\"}", "{\"a\":\"\\ude00\"}", "{\"a\":\"\x01\"}", "{\"a\":\"\xc3\"}", "{\"a\":\"\xed\xa0\x80\"}",
		"{\"a\":\"\xc0\xaf\"}", "{\"a\":\"\xf4\x90\x80\x80\"}", "{\"n\":9223372036854775808}", "{\"n\":1e999}",
		"{\"a\":[1 2]}", "{\"a\":{\"b\":1]}", "{1:2}", "{\"a\" 1}", "{\"a\":\"unterminated}",
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		const char *s = cases[i];
		json_t *j = json_loadb(s, strlen(s), 0, NULL);
		struct reqbody b;
		const char *why = NULL;
		int rc = reqbody_scan(s, strlen(s), &b, &why);
		if ((rc == 0) != json_is_object(j))
			printf("#   disagree on %s: scan %d (%s), jansson %s\n", s, rc, rc && why ? why : "", j ? "object" : "error");
		CHECK((rc == 0) == json_is_object(j));
		if (rc == 0) {
			json_t *m = json_object_get(j, "model");
			char *ms = jspan_string(b.model);
			CHECK((ms == NULL) == !json_is_string(m));
			if (ms)
				CHECK_STR(ms, json_string_value(m));
			free(ms);
			CHECK((jspan_kind(b.stream) == J_TRUE) == json_is_true(json_object_get(j, "stream")));
			json_t *msgs = json_object_get(j, "messages");
			CHECK_INT(b.nmessages, json_is_array(msgs) ? json_array_size(msgs) : 0);
		}
		json_decref(j);
	}
	/* a NUL byte is refused everywhere (jansson drops one after a number) */
	const char *why = NULL;
	CHECK(reqbody_scan("{\"a\":9\0}", 8, &(struct reqbody){ 0 }, &why) == -1);
	/* the error says where */
	struct reqbody b;
	CHECK(reqbody_scan("{\n  \"a\": tru\n}", 15, &b, &why) == -1);
	CHECK_INT(b.line, 2);
	CHECK_INT(b.col, 8);
	/* nesting beyond 2048 is refused, without recursion */
	size_t n = 5000;
	char *deep = malloc(2 * n + 8);
	strcpy(deep, "{\"a\":");
	for (size_t i = 0; i < n; i++)
		deep[5 + i] = '[';
	for (size_t i = 0; i < n; i++)
		deep[5 + n + i] = ']';
	strcpy(deep + 5 + 2 * n, "}");
	CHECK(reqbody_scan(deep, strlen(deep), &b, &why) == -1);
	CHECK(why && strstr(why, "depth"));
	free(deep);
}

/* the team's cap is added as the last member, or replaces a null one in
 * place: either way the body names it exactly once */
static void test_reqbody_with_cap(void)
{
	const char *in[] = { "{\"model\":\"m\",\"max_tokens\":null}", "{}", " { \"a\" : [1,{\"b\":2}] } \n",
			     "{\"max_completion_tokens\":null,\"model\":\"m\"}" };
	for (size_t i = 0; i < 4; i++) {
		struct reqbody b;
		const char *why = NULL;
		CHECK(reqbody_scan(in[i], strlen(in[i]), &b, &why) == 0);
		size_t len;
		char *out = reqbody_with_int(in[i], strlen(in[i]), &b, b.max_completion_tokens, "max_completion_tokens",
					     512, &len);
		CHECK_INT(len, strlen(out));
		json_t *j = json_loadb(out, len, 0, NULL);
		CHECK(json_is_object(j));
		CHECK_INT(json_integer_value(json_object_get(j, "max_completion_tokens")), 512);
		CHECK_INT(json_object_size(j), (i == 0 ? 3 : i == 1 ? 1 : 2));
		struct reqbody b2;
		CHECK(reqbody_scan(out, len, &b2, &why) == 0);
		CHECK(b2.dup == NULL); /* named once */
		json_decref(j);
		free(out);
	}
}

/* governed members named twice, or in another letter case, are noted (the
 * request path refuses them); other repeated keys are not */
static void test_reqbody_dups_and_case(void)
{
	struct reqbody b;
	const char *why = NULL;
	const char *d = "{\"max_tokens\":5000,\"model\":\"m\",\"max_tokens\":null}";
	CHECK(reqbody_scan(d, strlen(d), &b, &why) == 0);
	CHECK_STR(b.dup, "max_tokens");
	d = "{\"model\":\"a\",\"mod\\u0065l\":\"b\"}";
	CHECK(reqbody_scan(d, strlen(d), &b, &why) == 0);
	CHECK_STR(b.dup, "model");
	d = "{\"x\":1,\"x\":2,\"model\":\"m\"}";
	CHECK(reqbody_scan(d, strlen(d), &b, &why) == 0);
	CHECK(b.dup == NULL);
	CHECK_STR(b.variant, "");
	d = "{\"model\":\"m\",\"Max_Tokens\":9999}";
	CHECK(reqbody_scan(d, strlen(d), &b, &why) == 0);
	CHECK_STR(b.variant, "Max_Tokens");
	d = "{\"MODEL\":\"m\"}";
	CHECK(reqbody_scan(d, strlen(d), &b, &why) == 0);
	CHECK_STR(b.variant, "MODEL");
	d = "{\"model\":\"m\",\"max_output_tokens\":7,\"n\":2,\"input\":\"hi\"}";
	CHECK(reqbody_scan(d, strlen(d), &b, &why) == 0);
	int64_t v;
	CHECK(jspan_int(b.max_output_tokens, &v) && v == 7);
	CHECK(jspan_int(b.n, &v) && v == 2);
	CHECK(jspan_kind(b.input) == J_STRING);
}

static void test_ratelimit_stage(void)
{
	/* as the request path decides: the window (counters), then the refusal */
	struct team *t = mk_team();
	struct verdict v = { 0 };
	int64_t now = 1000, retry = 0;
	for (int i = 0; i < 3; i++)
		CHECK(counters_admit(t, now + i, &retry) == 1);
	CHECK(counters_admit(t, now + 10, &retry) == 0);
	CHECK(ratelimit_refusal(t, retry, &v) == -1);
	CHECK_INT(v.status, 429);
	CHECK_STR(v.code, "rate_limit_exceeded");
	CHECK_INT(v.retry_ms, 60000 - 10);
	verdict_clear(&v);
	CHECK(counters_admit(t, now + 60000, &retry) == 1);
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
	char hs[SHA256_HEX_LEN + 1], ho[SHA256_HEX_LEN + 1];
	sha256_hex("ggt_secret", 10, hs);
	sha256_hex("ggt_other", 9, ho);
	CHECK(stage_authenticate(&r, "ggt_secret", hs, &got, &v) == 0 && got == tok);
	CHECK(stage_authenticate(&r, "ggt_other", ho, &got, &v) == -1);
	CHECK_INT(v.status, 401);
	CHECK_STR(v.code, "invalid_api_key");
	verdict_clear(&v);
	CHECK(stage_authenticate(&r, NULL, NULL, &got, &v) == -1);
	verdict_clear(&v);
	tok->revoked_at = 5;
	CHECK(stage_authenticate(&r, "ggt_secret", hs, &got, &v) == -1);
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
	/* the origins parsed here, once: none per request */
	CHECK(c.up_origin && !c.up_origin->tls && c.up_origin->port == 1);
	CHECK_STR(c.up_origin->hostport, "127.0.0.1:1");
	CHECK_STR(c.up_origin->path, "");
	CHECK(c.gm_origin == c.up_origin && c.up_origin->refs == 2); /* groq_metrics.url unset: the upstream's */
	CHECK(c.hook_origin == NULL);
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
	/* a URL that is not one is refused at load, naming its line */
	const char *bad_urls[] = { "upstream = { base_url = \"http://127.0.0.1:99999\"; };",
				   "upstream = { base_url = \"https://[::1\"; };",
				   "alerts = { webhook_url = \"http://:80/hook\"; };",
				   "alerts = { webhook_url = \"ftp://x/hook\"; };" };
	for (size_t i = 0; i < sizeof bad_urls / sizeof *bad_urls; i++) {
		char *text = xasprintf("listen = \"127.0.0.1:9999\";\n%s\n", bad_urls[i]);
		p = write_tmp(text, 0600);
		CHECK(config_load(p, &c, &cause) == -1);
		CHECK(cause && strstr(cause, ":2:") && (strstr(cause, "base_url") || strstr(cause, "webhook_url")));
		free(cause);
		cause = NULL;
		unlink(p);
		free(p);
		free(text);
	}
	p = write_tmp("listen = \"127.0.0.1:1\";\nalerts = { webhook_url = \"http://127.0.0.1:7/h?x=1\"; };\n", 0600);
	CHECK(config_load(p, &c, &cause) == 0);
	CHECK(c.hook_origin && c.hook_origin->port == 7);
	CHECK_STR(c.hook_origin->path, "/h?x=1");
	config_free(&c);
	unlink(p);
	free(p);
	p = write_tmp("lisen = \"127.0.0.1:1\";\n", 0600);
	CHECK(config_load(p, &c, &cause) == -1);
	CHECK(cause && strstr(cause, "lisen") && strstr(cause, "unknown setting"));
	free(cause);
	unlink(p);
	free(p);
}

static void test_batch_lines(void)
{
	/* each line checked as a chat completion would be; the team's cap
	 * written in; the worst case at the batch price */
	struct team *t = team_new();
	t->id = xstrdup("alpha");
	t->max_tokens = 100;
	t->nmodels = 1;
	t->models = xcalloc(2, sizeof *t->models);
	t->models[0] = xstrdup("m");
	char mname[] = "m";
	struct price pr = { .model = mname, .in_per_mtok = 1.0, .out_per_mtok = 2.0, .cached_in_per_mtok = -1,
			    .per_audio_hour = -1, .per_mchar = -1 };
	struct gw_config cfg = { .prices = &pr, .nprices = 1, .batch_discount = 0.5 };
	struct verdict v = { 0 };
	buf out;
	buf_init(&out);
	int64_t worst, lines;
	json_t *idx = json_object();
	const char ok2[] = "{\"custom_id\":\"a\",\"method\":\"POST\",\"url\":\"/v1/chat/completions\",\"body\":{\"model\":\"m\",\"messages\":[]}}\r\n"
			   "\n{\"custom_id\":\"b\",\"method\":\"POST\",\"url\":\"/v1/chat/completions\",\"body\":{\"model\":\"m\",\"messages\":[],\"max_tokens\":10,\"n\":2}}";
	int rc = batch_lines(ok2, sizeof ok2 - 1, t, &cfg, &out, &worst, &lines, idx, &v);
	CHECK_INT(rc, 0);
	CHECK_INT(lines, 2);
	CHECK(strstr(out.data, "\"max_completion_tokens\":100") != NULL); /* written into line 1 */
	/* out: 100 + 2 x 10 tokens at 2000 nusd; prompts at 1000 nusd each; half price */
	int64_t p1 = prompt_estimate(strlen("{\"model\":\"m\",\"messages\":[],\"max_completion_tokens\":100}"), 0);
	int64_t p2 = prompt_estimate(strlen("{\"model\":\"m\",\"messages\":[],\"max_tokens\":10,\"n\":2}"), 0);
	CHECK_INT(worst, (p1 * 1000 + 100 * 2000) / 2 + (p2 * 1000 + 20 * 2000) / 2);
	/* each line's bill is matched by its custom_id: its model, its bounds */
	char *ix = json_dumps(idx, JSON_COMPACT | JSON_SORT_KEYS);
	char want[128];
	snprintf(want, sizeof want, "{\"a\":[\"m\",%lld,100],\"b\":[\"m\",%lld,20]}", (long long)p1, (long long)p2);
	CHECK_STR(ix, want);
	free(ix);
	/* a custom_id twice: refused (the bill could not be matched) */
	json_object_clear(idx);
	const char twice[] = "{\"custom_id\":\"a\",\"method\":\"POST\",\"url\":\"/v1/chat/completions\",\"body\":{\"model\":\"m\",\"messages\":[]}}\n"
			     "{\"custom_id\":\"a\",\"method\":\"POST\",\"url\":\"/v1/chat/completions\",\"body\":{\"model\":\"m\",\"messages\":[]}}\n";
	CHECK_INT(batch_lines(twice, sizeof twice - 1, t, &cfg, &out, &worst, &lines, idx, &v), -1);
	CHECK(strstr(v.message, "custom_id appears on an earlier line") != NULL);
	verdict_clear(&v);
	buf_reset(&out);
	const char bad[] = "{\"custom_id\":\"a\",\"method\":\"POST\",\"url\":\"/v1/chat/completions\",\"body\":{\"model\":\"m\",\"messages\":[]}}\n"
			   "{\"custom_id\":\"z\",\"method\":\"POST\",\"url\":\"/v1/chat/completions\",\"body\":{\"model\":\"x\",\"messages\":[]}}\n";
	json_object_clear(idx);
	rc = batch_lines(bad, sizeof bad - 1, t, &cfg, &out, &worst, &lines, idx, &v);
	CHECK_INT(rc, -1);
	CHECK_INT(v.status, 403);
	CHECK(strstr(v.message, "line 2 (custom_id \"z\")") != NULL);
	verdict_clear(&v);
	const char cap[] = "{\"custom_id\":\"a\",\"method\":\"POST\",\"url\":\"/v1/chat/completions\",\"body\":{\"model\":\"m\",\"max_completion_tokens\":101}}";
	json_object_clear(idx);
	rc = batch_lines(cap, sizeof cap - 1, t, &cfg, &out, &worst, &lines, idx, &v);
	CHECK_INT(rc, -1);
	CHECK_INT(v.status, 400);
	verdict_clear(&v);
	rc = batch_lines("", 0, t, &cfg, &out, &worst, &lines, idx, &v);
	CHECK_INT(rc, -1);
	verdict_clear(&v);
	buf_free(&out);
	json_decref(idx);
	team_free(t);
}

void suite_gateway(void)
{
	RUN(test_batch_lines);
	RUN(test_rl_exact_window);
	RUN(test_rl_no_edge_burst);
	RUN(test_rl_sliding_any_window);
	RUN(test_rl_count_and_reset);
	RUN(test_rl_memory_follows_traffic);
	RUN(test_sse_split_everywhere);
	RUN(test_sse_usage_chunk_only);
	RUN(test_sse_usage_shapes);
	RUN(test_usage_json);
	RUN(test_prompt_estimate_is_upper_bound);
	RUN(test_reqbody_agrees_with_jansson);
	RUN(test_reqbody_with_cap);
	RUN(test_reqbody_dups_and_case);
	RUN(test_cost);
	RUN(test_policy);
	RUN(test_ratelimit_stage);
	RUN(test_authenticate);
	RUN(test_names);
	RUN(test_admin_tokens);
	RUN(test_config);
}
