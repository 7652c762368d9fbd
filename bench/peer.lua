-- wrk: the same chat completion through an npm AI gateway (Portkey's),
-- pointed at fakegroq as a custom Groq host
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
wrk.headers["x-portkey-provider"] = "groq"
wrk.headers["x-portkey-custom-host"] = os.getenv("BENCH_UPSTREAM")
wrk.body = '{"model":"llama-3.1-8b-instant","max_tokens":16,"messages":[{"role":"user","content":"hello gateway, how are you today?"}]}'
