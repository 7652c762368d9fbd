// The official groq-sdk and openai clients, unchanged but for their base
// URL and key, against fakegroq or groqgated. Prints TAP-style lines.
//   node clients.mjs fake  FAKE_URL KEY BAD_KEY CONTROL_URL
//   node clients.mjs gate  GATEWAY_URL TOKEN PAUSED_TOKEN RPM1_TOKEN BROKE_TOKEN
import { createRequire } from "node:module";
const require = createRequire(import.meta.url);
const Groq = require("groq-sdk").default;
const OpenAI = require("openai").default;

let failed = 0;
const ok = (c, what) => { if (!c) failed++; console.log(`${c ? "ok" : "not ok"} - sdk: ${what}`); };
const msgs = [{ role: "user", content: "hello gateway" }];

async function expectError(what, fn, cls, status) {
  try { await fn(); ok(false, `${what}: no error raised`); }
  catch (e) {
    ok(e instanceof cls && e.status === status, `${what}: ${cls.name} with status ${status} (got ${e?.constructor?.name} ${e?.status})`);
    return e;
  }
  return null;
}

async function normalAndStream(name, client, model) {
  const r = await client.chat.completions.create({ model, messages: msgs, max_tokens: 5 });
  ok(r.choices[0].message.content.length > 0 && r.usage.completion_tokens === 5, `${name}: completion with usage`);
  const s = await client.chat.completions.create({ model, messages: msgs, max_tokens: 4, stream: true });
  let text = "", usage = null, chunks = 0;
  for await (const c of s) {
    chunks++;
    text += c.choices[0]?.delta?.content ?? "";
    if (c.x_groq?.usage) usage = c.x_groq.usage;
  }
  ok(chunks >= 5 && text.split(" ").length === 4, `${name}: streamed completion (${chunks} chunks)`);
  ok(usage && usage.completion_tokens === 4, `${name}: x_groq.usage in the final chunk`);
}

const [mode, url, a, b, c, d] = process.argv.slice(2);
try {
  if (mode === "fake") {
    const groq = new Groq({ apiKey: a, baseURL: url, maxRetries: 0 });
    await normalAndStream("groq-sdk -> fakegroq", groq, "llama-3.3-70b-versatile");
    const models = await groq.models.list();
    ok(models.data.some((m) => m.id === "llama-3.3-70b-versatile"), "groq-sdk -> fakegroq: models.list");
    const bad = new Groq({ apiKey: b, baseURL: url, maxRetries: 0 });
    await expectError("groq-sdk -> fakegroq: bad key", () => bad.chat.completions.create({ model: "llama-3.3-70b-versatile", messages: msgs }), Groq.AuthenticationError, 401);
    await fetch(`${c}/_fake/faults`, { method: "POST", body: JSON.stringify({ rate_limit: 1 }) });
    await expectError("groq-sdk -> fakegroq: 429", () => groq.chat.completions.create({ model: "llama-3.3-70b-versatile", messages: msgs }), Groq.RateLimitError, 429);
  } else {
    const clients = [
      ["groq-sdk", Groq, (k) => new Groq({ apiKey: k, baseURL: url, maxRetries: 0 })],
      ["openai", OpenAI, (k) => new OpenAI({ apiKey: k, baseURL: `${url}/openai/v1`, maxRetries: 0 })],
    ];
    let first = true;
    for (const [name, E, make] of clients) {
      await normalAndStream(`${name} -> groqgated`, make(a), "llama-3.3-70b-versatile");
      await expectError(`${name} -> groqgated: unknown token`, () => make("ggt_nope").chat.completions.create({ model: "llama-3.3-70b-versatile", messages: msgs }), E.AuthenticationError, 401);
      await expectError(`${name} -> groqgated: model not allowed`, () => make(a).chat.completions.create({ model: "qwen/qwen3-32b", messages: msgs }), E.PermissionDeniedError, 403);
      await expectError(`${name} -> groqgated: paused team`, () => make(b).chat.completions.create({ model: "llama-3.3-70b-versatile", messages: msgs }), E.PermissionDeniedError, 403);
      // the team allows one request a minute: the first client uses it up
      if (first) await make(c).chat.completions.create({ model: "llama-3.3-70b-versatile", messages: msgs, max_tokens: 1 });
      first = false;
      const rl = await expectError(`${name} -> groqgated: over RPM`, () => make(c).chat.completions.create({ model: "llama-3.3-70b-versatile", messages: msgs, max_tokens: 1 }), E.RateLimitError, 429);
      const ra = rl?.headers?.get ? rl.headers.get("retry-after") : rl?.headers?.["retry-after"];
      ok(Number(ra) > 0, `${name} -> groqgated: 429 carries Retry-After (${ra})`);
      const be = await expectError(`${name} -> groqgated: budget exhausted`, () => make(d).chat.completions.create({ model: "llama-3.3-70b-versatile", messages: msgs }), E.APIError, 402);
      ok(JSON.stringify(be?.error ?? {}).includes("budget_exceeded"), `${name} -> groqgated: 402 code budget_exceeded (${JSON.stringify(be?.error)})`);
    }
  }
} catch (e) {
  ok(false, `unexpected error: ${e?.stack ?? e}`);
}
process.exit(failed ? 1 : 0);
