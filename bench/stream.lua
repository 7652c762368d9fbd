-- wrk: a streamed chat completion (fakegroq paces the chunks)
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
wrk.body = '{"model":"llama-3.1-8b-instant","stream":true,"max_tokens":20,"messages":[{"role":"user","content":"stream please"}]}'
