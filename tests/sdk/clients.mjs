// The official groq-sdk and openai clients, unchanged but for their base
// URL and key, against fakegroq or groqgated. Prints TAP-style lines.
//   node clients.mjs fake  FAKE_URL KEY BAD_KEY CONTROL_URL
//   node clients.mjs gate  GATEWAY_URL TOKEN PAUSED_TOKEN RPM1_TOKEN BROKE_TOKEN
//   node clients.mjs routes GATEWAY_URL TOKEN   (Responses, audio, files, batches, an abort)
//   node clients.mjs models GATEWAY_URL TOKEN FAKE_URL   (an alias; a fallback after Groq's 503)
import { createRequire } from "node:module";
import { File as BufferFile } from "node:buffer";
const require = createRequire(import.meta.url);
// Node 18 (Debian 12's) has File only in node:buffer; the SDKs' uploads
// (toFile) expect the global that Node 20 has
if (typeof globalThis.File === "undefined") globalThis.File = BufferFile;
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

// a WAV of silence, 16 kHz 16-bit mono
function wav(seconds) {
  const n = seconds * 32000, b = Buffer.alloc(44 + n);
  b.write("RIFF", 0); b.writeUInt32LE(36 + n, 4); b.write("WAVEfmt ", 8);
  b.writeUInt32LE(16, 16); b.writeUInt16LE(1, 20); b.writeUInt16LE(1, 22); b.writeUInt32LE(16000, 24);
  b.writeUInt32LE(32000, 28); b.writeUInt16LE(2, 32); b.writeUInt16LE(16, 34); b.write("data", 36); b.writeUInt32LE(n, 40);
  return b;
}

async function routes(url, token) {
  const { toFile } = require("openai");
  const oa = new OpenAI({ apiKey: token, baseURL: `${url}/openai/v1`, maxRetries: 0 });
  const gq = new Groq({ apiKey: token, baseURL: url, maxRetries: 0 });
  const r = await oa.responses.create({ model: "llama-3.3-70b-versatile", input: "hello gateway", max_output_tokens: 6 });
  ok(r.output_text.split(" ").length === 6 && r.usage.output_tokens === 6, "openai -> groqgated: responses.create with usage");
  const rs = await oa.responses.create({ model: "llama-3.3-70b-versatile", input: "hello gateway", max_output_tokens: 5, stream: true });
  let deltas = 0, done = null;
  for await (const e of rs) {
    if (e.type === "response.output_text.delta") deltas++;
    if (e.type === "response.completed") done = e.response;
  }
  ok(deltas === 5 && done?.usage?.output_tokens === 5, `openai -> groqgated: a Responses stream to its end (${deltas} deltas)`);
  await expectError("openai -> groqgated: responses over the cap", () => oa.responses.create({ model: "llama-3.3-70b-versatile", input: "x", max_output_tokens: 30000 }), OpenAI.BadRequestError, 400);
  for (const [name, client, E] of [["openai", oa, OpenAI], ["groq-sdk", gq, Groq]]) {
    const t = await client.audio.transcriptions.create({ file: await toFile(wav(12), "a.wav"), model: "whisper-large-v3-turbo" });
    ok(typeof t.text === "string" && t.text.length > 0 && t.duration === undefined, `${name} -> groqgated: audio.transcriptions (json, as asked)`);
    const v = await client.audio.transcriptions.create({ file: await toFile(wav(12), "a.wav"), model: "whisper-large-v3-turbo", response_format: "verbose_json" });
    ok(Math.round(v.duration) === 12, `${name} -> groqgated: verbose_json with its duration (${v.duration})`);
    const tr = await client.audio.translations.create({ file: await toFile(wav(3), "a.wav"), model: "whisper-large-v3-turbo" });
    ok(typeof tr.text === "string" && tr.text.length > 0, `${name} -> groqgated: audio.translations`);
    const sp = await client.audio.speech.create({ model: "canopylabs/orpheus-v1-english", input: "Hello there.", voice: "tara", response_format: "wav" });
    const audio = Buffer.from(await sp.arrayBuffer());
    ok(audio.subarray(0, 4).toString() === "RIFF" && audio.length === 44 + 12 * 2880, `${name} -> groqgated: audio.speech (${audio.length} bytes)`);
    // files and batches: lines checked at upload, the batch reserved and followed
    const line = (id, model) => JSON.stringify({ custom_id: id, method: "POST", url: "/v1/chat/completions", body: { model, messages: msgs, max_tokens: 5 } });
    await expectError(`${name} -> groqgated: files.create with a disallowed model refused`, async () => client.files.create({ file: await toFile(Buffer.from(line("a", "qwen/qwen3-32b") + "\n"), "b.jsonl"), purpose: "batch" }), E.PermissionDeniedError, 403);
    const f = await client.files.create({ file: await toFile(Buffer.from(line("a", "llama-3.3-70b-versatile") + "\n" + line("b", "llama-3.3-70b-versatile") + "\n"), "b.jsonl"), purpose: "batch" });
    ok(typeof f.id === "string" && f.purpose === "batch", `${name} -> groqgated: files.create (${f.id})`);
    const list = await client.files.list();
    ok((list.data ?? []).some((x) => x.id === f.id), `${name} -> groqgated: files.list shows the team's file`);
    const bt = await client.batches.create({ input_file_id: f.id, endpoint: "/v1/chat/completions", completion_window: "24h" });
    ok(typeof bt.id === "string" && bt.input_file_id === f.id, `${name} -> groqgated: batches.create (${bt.status})`);
    const got = await client.batches.retrieve(bt.id);
    ok(got.id === bt.id, `${name} -> groqgated: batches.retrieve`);
    await expectError(`${name} -> groqgated: another's batch is not found`, () => client.batches.retrieve("batch_not_ours"), E.NotFoundError, 404);
  }
  // an abort mid-stream: the SDK's AbortController (groqgated charges what Groq reports)
  const ac = new AbortController();
  let got = 0;
  try {
    const s = await oa.chat.completions.create({ model: "llama-3.3-70b-versatile", messages: msgs, max_tokens: 40, stream: true }, { signal: ac.signal });
    for await (const c of s) { if (++got === 3) ac.abort(); }
    ok(got === 3, `openai -> groqgated: aborted after ${got} chunks (the iteration ended)`);
  } catch (e) {
    ok(got === 3 && (e.name === "AbortError" || e.constructor?.name === "APIUserAbortError"), `openai -> groqgated: aborted after ${got} chunks (${e.constructor?.name})`);
  }
}

const [mode, url, a, b, c, d] = process.argv.slice(2);
try {
  if (mode === "routes") {
    await routes(url, a);
  } else if (mode === "models") {
    // the team: aliases "fast" -> llama-3.1-8b-instant, "smart" ->
    // llama-3.3-70b-versatile; fallbacks
    // llama-3.3-70b-versatile -> llama-3.1-8b-instant
    const clients = [
      ["groq-sdk", new Groq({ apiKey: a, baseURL: url, maxRetries: 0 })],
      ["openai", new OpenAI({ apiKey: a, baseURL: `${url}/openai/v1`, maxRetries: 0 })],
    ];
    for (const [name, client] of clients) {
      const r = await client.chat.completions.create({ model: "fast", messages: msgs, max_tokens: 3 });
      ok(r.model === "llama-3.1-8b-instant" && r.choices[0].message.content.length > 0, `${name} -> groqgated: an alias answered by its model (${r.model})`);
      await fetch(`${b}/_fake/model-fault`, { method: "POST", body: JSON.stringify({ model: "llama-3.3-70b-versatile", status: 503, count: 1 }) });
      const f = await client.chat.completions.create({ model: "llama-3.3-70b-versatile", messages: msgs, max_tokens: 3 });
      ok(f.model === "llama-3.1-8b-instant" && f.usage.completion_tokens === 3, `${name} -> groqgated: Groq's 503, the fallback's answer unchanged (${f.model})`);
      await fetch(`${b}/_fake/model-fault`, { method: "POST", body: JSON.stringify({ model: "llama-3.3-70b-versatile", status: 503, count: 1 }) });
      const s = await client.chat.completions.create({ model: "llama-3.3-70b-versatile", messages: msgs, max_tokens: 3, stream: true });
      let text = "", models = new Set();
      for await (const c of s) { text += c.choices[0]?.delta?.content ?? ""; models.add(c.model); }
      ok(text.split(" ").length === 3 && models.size === 1 && models.has("llama-3.1-8b-instant"), `${name} -> groqgated: a stream from the fallback (${[...models]})`);
      // an alias whose model falls back: "smart" names llama-3.3-70b-versatile
      await fetch(`${b}/_fake/model-fault`, { method: "POST", body: JSON.stringify({ model: "llama-3.3-70b-versatile", status: 503, count: 1 }) });
      const af = await client.chat.completions.create({ model: "smart", messages: msgs, max_tokens: 3 });
      ok(af.model === "llama-3.1-8b-instant" && af.usage.completion_tokens === 3 && af.choices[0].message.content.length > 0,
        `${name} -> groqgated: an alias whose model Groq answers 503: the fallback's answer unchanged (${af.model})`);
    }
  } else if (mode === "fake") {
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
