-- wrk: post.lua at a paced rate: each connection waits BENCH_DELAY_MS
-- between requests (Debian's wrk has no -R; this is its pacing hook)
dofile(os.getenv("BENCH_DIR") .. "/post.lua")
local d = tonumber(os.getenv("BENCH_DELAY_MS") or "8")
function delay()
	return d
end
