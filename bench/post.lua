-- wrk: a chat completion POST with the bearer token from the environment
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
wrk.body = '{"model":"llama-3.1-8b-instant","max_tokens":16,"messages":[{"role":"user","content":"hello gateway, how are you today?"}]}'
