# groqgated data plane: every stage and error of the pipeline, streaming,
# metering, budgets, limits, upstream errors, signals and durability.
source "$(dirname "$0")/../lib.sh"
GW_EXTRA='limits = { shutdown_grace_ms = 5000; max_body_bytes = 65536; max_header_bytes = 8192; client_timeout_s = 2; };'
TEAM_EXTRA='"rpm_limit":5'
setup_basic

check_eq "healthz 200" 200 "$(curl -s -o /dev/null -w '%{http_code}' "http://$GW/healthz")"

# ---- authenticate
chat "" llama-3.3-70b-versatile
check_eq "no client token: 401" 401 "$STATUS"
chat ggt_not_a_token llama-3.3-70b-versatile
check_eq "unknown client token: 401" 401 "$STATUS"
check_eq "401 in Groq's error shape" invalid_api_key "$(jq_body .error.code)"
chat "$KEY1" llama-3.3-70b-versatile
check_eq "a Groq key is not a client token: 401" 401 "$STATUS"
# a connection hashes its token once and keeps it: a different token on
# the same connection is its own, and the kept one still works after it
one_conn() { # one_conn TOKEN... : a chat per token, all on one connection
	local args=() first=1 tok
	for tok in "$@"; do
		[ $first = 1 ] || args+=(--next)
		first=0
		args+=(-s -o /dev/null -w '%{http_code}/%{num_connects} ' -H "Authorization: Bearer $tok"
			--data-binary '{"model":"llama-3.3-70b-versatile","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}'
			"http://$GW/openai/v1/chat/completions")
	done
	curl "${args[@]}"
}
check_eq "one connection: the token, another, unknown, the first again (status/new connections)" \
	"200/1 401/0 401/0 200/0 " "$(one_conn "$TOKEN" ggt_not_a_token "$KEY1" "$TOKEN")"

# ---- policy
chat "$TOKEN" qwen/qwen3-32b
check_eq "model not in the allowlist: 403" 403 "$STATUS"
check_eq "403 code model_not_allowed" model_not_allowed "$(jq_body .error.code)"
check_contains "the message names what is allowed" llama-3.1-8b-instant "$(jq_body .error.message)"
chat "$TOKEN" llama-3.3-70b-versatile '"max_completion_tokens":101'
check_eq "max_completion_tokens over the cap: 400" 400 "$STATUS"
check_eq "400 code max_tokens_exceeded" max_tokens_exceeded "$(jq_body .error.code)"
chat "$TOKEN" llama-3.3-70b-versatile '"max_tokens":500'
check_eq "max_tokens (alias) over the cap: 400" max_tokens_exceeded "$(jq_body .error.code)"
chat "$TOKEN" llama-3.3-70b-versatile '"max_tokens":"ten"'
check_eq "a non-integer cap: 400" 400 "$STATUS"
api PATCH /admin/v1/teams/alpha '{"max_tokens_per_request":7}'
chat "$TOKEN" llama-3.3-70b-versatile
check_eq "no cap sent: the team's cap is applied upstream" 7 "$(jq_body .usage.completion_tokens)"
chat "$TOKEN" llama-3.3-70b-versatile '"max_tokens":null'
check_eq "a null cap is no cap: the team's is applied upstream" 7 "$(jq_body .usage.completion_tokens)"
chat "$TOKEN" llama-3.3-70b-versatile '"max_completion_tokens":null,"max_completion_tokens":null'
check_eq "a governed key given twice: 400 (Groq must read the body the gateway checked)" duplicate_key "$(jq_body .error.code)"
chat "$TOKEN" llama-3.3-70b-versatile '"max_tokens":5000,"max_tokens":null'
check_eq "also when the last one is null (was: 5000 then null, then the cap)" 400 "$STATUS"
chat "$TOKEN" llama-3.3-70b-versatile '"Max_Tokens":5000'
check_eq "a governed key in another letter case: 400" invalid_key "$(jq_body .error.code)"
STATUS=$(curl -s -o "$T/resp" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
	--data-binary '{"MODEL":"qwen/qwen3-32b","model":"llama-3.3-70b-versatile","messages":[]}' "http://$GW/openai/v1/chat/completions")
check_eq "MODEL beside model: 400" 400 "$STATUS"
chat "$TOKEN" llama-3.3-70b-versatile '"max_completion_tokens":null'
check_eq "a null cap replaced in place: the team's is the one Groq reads" 7 "$(jq_body .usage.completion_tokens)"
chat "$TOKEN" llama-3.3-70b-versatile '"n":0'
check_eq "n below 1: 400" 400 "$STATUS"
api PATCH /admin/v1/teams/alpha '{"max_tokens_per_request":100,"rpm_limit":1000}'
STATUS=$(curl -s -o "$T/resp" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
	--data-binary '{not json' "http://$GW/openai/v1/chat/completions")
check_eq "malformed JSON: 400" 400 "$STATUS"
check_contains "saying what and where" "line 1, column 2" "$(jq -r .error.message "$T/resp")"
# chat is JSON only: a form body is refused before it reaches Groq (it once
# crashed the gateway: the cap was written into a body that was not JSON)
n0=$(curl -s "http://$FAKE/_fake/stats" | jq .total.completions)
STATUS=$(curl -s -o "$T/resp" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" \
	-F model=llama-3.3-70b-versatile -F messages=hi "http://$GW/openai/v1/chat/completions")
check_eq "a multipart body to chat completions: 400" 400 "$STATUS"
check_eq "code invalid_json" invalid_json "$(jq -r .error.code "$T/resp")"
check_eq "not forwarded" "$n0" "$(curl -s "http://$FAKE/_fake/stats" | jq .total.completions)"
check "the gateway is alive" kill -0 "$GW_PID"

api POST /admin/v1/teams/alpha/pause '{"reason":"incident 4711: runaway loop"}'
chat "$TOKEN" llama-3.3-70b-versatile
check_eq "paused team: 403" 403 "$STATUS"
check_eq "403 code team_paused" team_paused "$(jq_body .error.code)"
check_contains "says who paused it" alice "$(jq_body .error.message)"
check_contains "and why" "incident 4711" "$(jq_body .error.message)"
api POST /admin/v1/teams/alpha/resume '{}'
chat "$TOKEN" llama-3.3-70b-versatile
check_eq "resumed: served again on the very next request" 200 "$STATUS"

# ---- oversized bodies and headers are refused before they are read whole
head -c 70000 /dev/zero | tr '\0' a > "$T/big"
STATUS=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
	--data-binary @"$T/big" "http://$GW/openai/v1/chat/completions")
check_eq "a body over limits.max_body_bytes: 413" 413 "$STATUS"
STATUS=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" -H "X-Big: $(head -c 9000 /dev/zero | tr '\0' b)" "http://$GW/healthz")
check_eq "headers over limits.max_header_bytes: 431" 431 "$STATUS"
STATUS=$(curl -s -o "$T/resp" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" -H "X-A: $(head -c 5000 /dev/zero | tr '\0' a)" \
	-H "X-B: $(head -c 5000 /dev/zero | tr '\0' b)" -d '{}' "http://$GW/openai/v1/chat/completions")
check_eq "many headers adding up past the limit: 431" 431 "$STATUS"
check_eq "in Groq's error shape" request_header_fields_too_large "$(jq -r .error.code "$T/resp")"
rss0=$(rss_kb "$GW_PID")
# (headers from a file: a 1 MB argument is more than exec allows)
printf 'X-Huge: %s\n' "$(head -c 1000000 /dev/zero | tr '\0' h)" > "$T/huge-header"
for i in $(seq 1 20); do
	curl -s -o /dev/null -w '%{http_code}\n' -H @"$T/huge-header" "http://$GW/healthz"
done > "$T/huge-header-codes"
# (the gateway stops reading at the limit, answers, and reads what is still
# coming for a moment, so the client gets the answer rather than a reset)
check_eq "20 requests with a 1 MB header: all refused with 431" 20 \
	"$(grep -c '^431$' "$T/huge-header-codes")"
printf 'X-Big: %s\n' "$(head -c 30000 /dev/zero | tr '\0' b)" > "$T/big-header"
check_eq "a 30 KB header: 431" 431 \
	"$(curl -s -o /dev/null -w '%{http_code}' -H @"$T/big-header" "http://$GW/healthz")"
head -c 10000000 /dev/zero | tr '\0' a > "$T/huge"
for i in $(seq 1 10); do
	c=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" -H 'Transfer-Encoding: chunked' \
		--data-binary @"$T/huge" "http://$GW/openai/v1/chat/completions")
	echo "$c" >> "$T/huge-codes"
done
# the gateway answers 413 and closes while curl may still be sending: then
# curl sees the reset first (000, or 100 when the last answer it read was
# the "100 Continue" to its Expect). Refused either way; never accepted.
check_eq "10 chunked 10 MB bodies (no length given): all refused (413, or cut while still sending)" 10 \
	"$(grep -c -e '^413$' -e '^000$' -e '^100$' "$T/huge-codes")"
check "and the 413 is what a client reads when it gets an answer ($(grep -c '^413$' "$T/huge-codes") of 10)" \
	test "$(grep -c '^413$' "$T/huge-codes")" -ge 1
check "20 requests with a 1 MB header, 10 with a 10 MB body: refused without memory growth ($(( $(rss_kb "$GW_PID") - rss0 )) KiB)" \
	test $(( $(rss_kb "$GW_PID") - rss0 )) -lt 4096
check_eq "and the gateway carries on" 200 "$(curl -s -o /dev/null -w '%{http_code}' "http://$GW/healthz")"

# ---- slowloris: clients that trickle a request are timed out and do not
# starve others
SLOW=""
for i in $(seq 1 20); do
	( exec 3<>/dev/tcp/127.0.0.1/${GW##*:}; printf 'POST /openai/v1/chat/completions HTTP/1.1\r\nHost: x\r\n' >&3
	  sleep 4; cat <&3 > /dev/null 2>&1 ) 2>/dev/null &
	SLOW="$SLOW $!"
done
estab() { ss -tn state established "( sport = :${GW##*:} )" | tail -n +2 | wc -l; }
wait_eval "the stalled clients to connect" 5 '[ "$(estab)" -ge 20 ]'
check "20 stalled connections are open (measured with ss)" test "$(estab)" -ge 20
chat "$TOKEN" llama-3.3-70b-versatile
check_eq "20 stalled clients do not starve a real one" 200 "$STATUS"
wait_eval "the stalled clients to be dropped (client_timeout_s = 2)" 10 '[ "$(estab)" -eq 0 ]'
check_eq "stalled connections are closed by the timeout" 0 "$(estab)"
wait $SLOW

# ---- models listing filtered to the allowlist
STATUS=$(curl -s -o "$T/resp" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "http://$GW/openai/v1/models")
check_eq "models through the gateway: 200" 200 "$STATUS"
check_eq "models filtered to the allowlist" "llama-3.1-8b-instant llama-3.3-70b-versatile" "$(jq -r '.data[].id' "$T/resp" | sort | xargs)"

# ---- rate limit: 5x the limit admits exactly the limit
create_team rl '"rpm_limit":5'
create_key rl-prod-api rl "$KEY2"
new_token rl
RLTOK=$TOKEN
ok200=0 n429=0
for i in $(seq 1 25); do
	chat "$RLTOK" llama-3.1-8b-instant '"max_tokens":1'
	[ "$STATUS" = 200 ] && ok200=$((ok200 + 1))
	[ "$STATUS" = 429 ] && { n429=$((n429 + 1)); H429=$HEADERS; B429=$BODY; }
done
check_eq "RPM 5, 25 requests: exactly 5 admitted" 5 "$ok200"
check_eq "and 20 refused with 429" 20 "$n429"
HEADERS=$H429 BODY=$B429
check_eq "429 code rate_limit_exceeded" rate_limit_exceeded "$(jq_body .error.code)"
check "429 carries Retry-After" test -n "$(hdr Retry-After)"
check_eq "429 carries the team's x-ratelimit-limit-requests" 5 "$(hdr x-ratelimit-limit-requests)"
check_eq "and its remaining requests" 0 "$(hdr x-ratelimit-remaining-requests)"
check "and its reset time" test -n "$(hdr x-ratelimit-reset-requests)"

# ---- queue mode holds an over-limit request (up to the maximum wait)
create_team qq '"rpm_limit":1,"rpm_mode":"queue","queue_max_wait_ms":1200'
create_key qq-prod-batch qq "$KEY3"
new_token qq
QTOK=$TOKEN
chat "$QTOK" llama-3.1-8b-instant '"max_tokens":1'
start=$(date +%s%N)
chat "$QTOK" llama-3.1-8b-instant '"max_tokens":1'
el=$(( ($(date +%s%N) - start) / 1000000 ))
check_eq "queue mode: answered 429 after the maximum wait" 429 "$STATUS"
check "queue mode: the request was held (${el} ms >= 1100), not refused at once" test "$el" -ge 1100
check_contains "the message says it waited in the queue" queue "$(jq_body .error.message)"

# ---- streaming: relayed, metered from x_groq.usage, committed before [DONE]
api GET /admin/v1/teams/alpha
before=$(jq_body .spend_mtd_usd)
new_token alpha
ATOK=$TOKEN
curl -sN -H "Authorization: Bearer $ATOK" -H 'Content-Type: application/json' \
	-d '{"model":"llama-3.1-8b-instant","stream":true,"max_tokens":6,"messages":[{"role":"user","content":"hello gateway"}]}' \
	"http://$GW/openai/v1/chat/completions" > "$T/stream"
check_eq "stream relayed: role + 6 content + final + [DONE]" 9 "$(grep -c '^data: ' "$T/stream")"
check_eq "stream ends with [DONE]" "data: [DONE]" "$(grep '^data: ' "$T/stream" | tail -1)"
row=$(sql "select prompt_tokens, completion_tokens, cost_nusd, stream, status from ledger where stream=1 and status=200 order by id desc limit 1")
check_eq "streamed tokens and spend are in the ledger" "11|6|1030|1|200" "$row"
curl -sN -H "Authorization: Bearer $ATOK" -d '{"model":"llama-3.1-8b-instant","stream":true,"stream_options":{"include_usage":true},"max_tokens":6,"messages":[{"role":"user","content":"hello gateway"}]}' \
	"http://$GW/openai/v1/chat/completions" > /dev/null
row=$(sql "select prompt_tokens, completion_tokens from ledger where stream=1 and status=200 order by id desc limit 1")
check_eq "x_groq.usage and the usage chunk counted once" "11|6" "$row"

# time to first chunk: chunks arrive as they are produced, not buffered
curl -s -X POST "http://$FAKE/_fake/faults" -d '{"chunk_delay_ms":100}' > /dev/null
first=$(curl -sN -o /dev/null -w '%{time_starttransfer} %{time_total}' -H "Authorization: Bearer $ATOK" \
	-d '{"model":"llama-3.1-8b-instant","stream":true,"max_tokens":8,"messages":[{"role":"user","content":"x"}]}' "http://$GW/openai/v1/chat/completions")
check "first bytes arrive long before the end ($first)" awk -v a="${first% *}" -v b="${first#* }" 'BEGIN { exit !(a < b / 2) }'

# ---- a client that disconnects mid-stream releases its reservation
curl -sN -m 0.35 -H "Authorization: Bearer $ATOK" -d '{"model":"llama-3.1-8b-instant","stream":true,"messages":[{"role":"user","content":"x"}]}' \
	"http://$GW/openai/v1/chat/completions" > /dev/null
closed_rows() { sql "select count(*) from ledger where reason='client_closed'"; }
wait_eval "the client_closed ledger row" 5 '[ "$(closed_rows)" -ge 1 ]'
api GET /admin/v1/teams/alpha
check_eq "reservation released after a disconnect" 0 "$(jq_body '.reserved_usd * 1000000 | floor')"
# the client left mid-stream: Groq's transfer is cancelled (so Groq stops
# generating) and the request is charged what Groq sent it, never zero (it
# once was: ~3x the budget for a client hanging up before the usage chunk)
cuts() { curl -s "http://$FAKE/_fake/stats" | jq '.keys["gsk_…0001"].streams_cut'; }
wait_eval "fakegroq to see the cut" 5 '[ "$(cuts)" -ge 1 ]'
check "the upstream transfer was cancelled too" test "$(cuts)" -ge 1
row=$(sql "select completion_tokens||' '||cost_nusd from ledger where reason='client_closed' and stream=1 order by id desc limit 1")
check "a client gone mid-stream is charged the tokens it was sent ($row), not zero" \
	awk -v c="${row% *}" -v n="${row#* }" 'BEGIN { exit !(c >= 1 && c <= 20 && n > 0) }'
curl -s -X POST "http://$FAKE/_fake/faults" -d '{"chunk_delay_ms":5}' > /dev/null

# ---- upstream errors pass through unchanged; timeouts answer 504
curl -s -X POST "http://$FAKE/_fake/faults" -d '{"rate_limit":1,"retry_after_s":2}' > /dev/null
chat "$ATOK" llama-3.3-70b-versatile
check_eq "Groq's 429 passes through" 429 "$STATUS"
check_eq "with Groq's body" tokens "$(jq_body .error.type)"
check_eq "and Groq's retry-after" 2 "$(hdr retry-after)"
# which holds the model for every team until it passes (capacity.sh)
held() { api GET /admin/v1/capacity; jq_body '[.models[] | select(.retry_after_until != null)] | length'; }
check_eq "the model is held" 1 "$(held)"
wait_eval "Groq's retry-after to pass" 5 '[ "$(held)" = 0 ]'
check_eq "and free again when it passed" 0 "$(held)"
curl -s -X POST "http://$FAKE/_fake/faults" -d '{"error_rate":1.0,"error_status":503}' > /dev/null
chat "$ATOK" llama-3.3-70b-versatile
check_eq "Groq's 503 passes through" 503 "$STATUS"
curl -s -X POST "http://$FAKE/_fake/faults" -d '{"error_rate":0,"hang":true}' > /dev/null
start=$(date +%s%N)
chat "$ATOK" llama-3.3-70b-versatile
check_eq "Groq silent past upstream.timeout_ms: 504" 504 "$STATUS"
check_eq "504 code upstream_timeout" upstream_timeout "$(jq_body .error.code)"
curl -s -X DELETE "http://$FAKE/_fake/faults" > /dev/null
curl -s -X POST "http://$FAKE/_fake/faults" -d '{"cut_stream_after":2}' > /dev/null
curl -sN -H "Authorization: Bearer $ATOK" -d '{"model":"llama-3.1-8b-instant","stream":true,"messages":[{"role":"user","content":"x"}]}' \
	"http://$GW/openai/v1/chat/completions" > "$T/cut"
check_not_contains "a stream Groq cut is cut for the client too (no [DONE])" "[DONE]" "$(cat "$T/cut")"
check "and recorded as upstream_stream_cut" test "$(sql "select count(*) from ledger where reason='upstream_stream_cut'")" -ge 1
# Groq's usage never came: the whole reservation is charged (prompt
# estimate + the team's cap of 100), never zero
check_eq "a stream cut before its usage is charged the whole reservation" 100 \
	"$(sql "select completion_tokens from ledger where reason='upstream_stream_cut' order by id desc limit 1")"
check "at its price" test "$(sql "select cost_nusd from ledger where reason='upstream_stream_cut' order by id desc limit 1")" -gt 0
curl -s -X DELETE "http://$FAKE/_fake/faults" > /dev/null
api GET /admin/v1/teams/alpha
check_eq "no reservation left behind by errors" 0 "$(jq_body '.reserved_usd * 1000000 | floor')"

# ---- budget: 50 concurrent requests with room for 5 (each held 3 s by
# Groq, so that all 50 are in flight before the first settles, even on a
# slow machine under the sanitizers)
curl -s -X POST "http://$FAKE/_fake/faults" -d '{"latency_ms":3000}' > /dev/null
create_team bud '"monthly_budget_usd":0.00076,"max_tokens_per_request":100'
create_key bud-prod-api bud "$KEY4"
new_token bud
BTOK=$TOKEN
seq 1 50 | xargs -P 50 -I{} curl -s -o /dev/null -w '%{http_code}\n' -H "Authorization: Bearer $BTOK" \
	-d '{"model":"llama-3.3-70b-versatile","max_tokens":100,"messages":[{"role":"user","content":"hello gateway"}]}' \
	"http://$GW/openai/v1/chat/completions" > "$T/codes"
curl -s -X DELETE "http://$FAKE/_fake/faults" > /dev/null
check_eq "50 at once against room for 5: 5 served" 5 "$(grep -c '^200$' "$T/codes")"
check_eq "the rest refused with 402 (not 429)" 45 "$(grep -c '^402$' "$T/codes")"
spent=$(sql "select sum(cost_nusd) from ledger where team='bud'")
check "settled spend ($spent nusd) never exceeds the budget (760000)" test "$spent" -le 760000
big=$(head -c 3000 /dev/zero | tr '\0' a)
chat "$BTOK" llama-3.3-70b-versatile "\"max_tokens\":100,\"stop\":\"$big\""
check_eq "a request whose worst case does not fit: 402" 402 "$STATUS"
check_eq "402 code budget_exceeded" budget_exceeded "$(jq_body .error.code)"
check_contains "402 message says what to do" "raise" "$(jq_body .error.message)"

# ---- thresholds, auto-pause at 100 %, resume rules
api PATCH /admin/v1/teams/bud '{"monthly_budget_usd":0.0001}'
check_eq "lowering the budget under the spend auto-pauses" budget_paused "$(jq_body .state)"
api GET /admin/v1/alerts
check_contains "threshold alerts raised" "crossed 95%" "$BODY"
check_contains "auto-pause alert raised" auto_pause "$BODY"
chat "$BTOK" llama-3.3-70b-versatile '"max_tokens":1'
check_eq "budget_paused team: 402" 402 "$STATUS"
check_eq "402 code budget_exceeded" budget_exceeded "$(jq_body .error.code)"

# ---- metrics and logs
# made-up model names are refused, and do not become metric series
for i in $(seq 1 30); do chat "$ATOK" "made-up-model-$i-$RANDOM"; echo "$STATUS"; done > "$T/madeup-codes"
check_eq "30 made-up model names: 403 each" 30 "$(grep -c '^403$' "$T/madeup-codes")"
M=$(curl -s "http://$GW/metrics")
printf '%s\n' "$M" > "$T/metrics"
check_eq "made-up model names are not metric labels" 0 "$(grep -c made-up-model "$T/metrics")"
check_contains "they count under model=\"other\"" 'groqgate_requests_total{team="alpha",model="other",status="403"} 30' "$M"
check_contains "metrics: requests by team/model/status" 'groqgate_requests_total{team="alpha",model="llama-3.3-70b-versatile",status="200"}' "$M"
check_contains "metrics: latency histogram" 'groqgate_request_duration_seconds_bucket{le="+Inf"}' "$M"
check_contains "metrics: rejections by reason" 'groqgate_rejections_total{reason="rate_limited"}' "$M"
check_contains "metrics: upstream errors" 'groqgate_upstream_errors_total{status="503"}' "$M"
check "one JSON log line per request" test "$(grep -c '"msg":"request"' "$T/groqgated.log")" -ge 40
check "every log line is JSON" bash -c "jq -e . '$T/groqgated.log' > /dev/null"
for s in "$KEY1" "$KEY2" "$KEY3" "$ATOK" "$BTOK" "$OP_TOKEN"; do
	if grep -qF "$s" "$T/groqgated.log" "$T/groqgated-stderr.log"; then fail "a secret appears in the logs"; else ok "secret ${s:0:6}… absent from the logs"; fi
done

# ---- the ledger agrees with what fakegroq served, key by key
led=$(sql "select coalesce(sum(prompt_tokens+completion_tokens),0) from ledger where key_fp='gsk_…0001' and status=200 and model is not null")
fk=$(curl -s "http://$FAKE/_fake/stats" | jq '.keys["gsk_…0001"].total_tokens')
check_eq "ledger tokens = fakegroq's served tokens for key 0001" "$fk" "$led"

# ---- SIGHUP reloads; bad config refused; loose tokens file refused
sed -i 's/input_per_mtok = 0.59;/input_per_mtok = 0.60;/' "$T/gw.conf"
kill -HUP "$GW_PID"
wait_for "reload" 5 grep -q 'configuration reloaded' "$T/groqgated.log"
check "SIGHUP reloads the configuration" grep -q 'configuration reloaded' "$T/groqgated.log"
check_eq "and the gateway keeps serving" 200 "$(curl -s -o /dev/null -w '%{http_code}' "http://$GW/healthz")"
printf 'listen = "127.0.0.1:0";\nprices = ( { model = "m"; input_per_mtok = "cheap"; } );\n' > "$T/bad.conf"
out=$("$BIN/groqgated" --config "$T/bad.conf" 2>&1); rc=$?
check_eq "bad config exits 1" 1 "$rc"
check_contains "and names the file and line" "bad.conf:2:" "$out"
check_contains "and the setting" "input_per_mtok" "$out"
cp "$T/gw.conf" "$T/loose.conf"
cp "$T/admin-tokens" "$T/loose-tokens"; chmod 644 "$T/loose-tokens"
sed -i "s|$T/admin-tokens|$T/loose-tokens|" "$T/loose.conf"
out=$("$BIN/groqgated" --config "$T/loose.conf" --check 2>&1); rc=$?
check_eq "a tokens file readable by others is refused" 1 "$rc"
check_contains "with the reason, as ssh does" "too open" "$out"

# ---- SIGTERM: stop accepting, finish in-flight, exit 0
curl -s -X POST "http://$FAKE/_fake/faults" -d '{"chunk_delay_ms":40}' > /dev/null
curl -sN -H "Authorization: Bearer $ATOK" -d '{"model":"llama-3.1-8b-instant","stream":true,"max_tokens":15,"messages":[{"role":"user","content":"x"}]}' \
	"http://$GW/openai/v1/chat/completions" > "$T/inflight" &
CURL_PID=$!
wait_for "the stream to start" 5 grep -q '^data:' "$T/inflight"
kill -TERM "$GW_PID"
wait "$CURL_PID"
check_eq "an in-flight stream finishes after SIGTERM" "data: [DONE]" "$(grep '^data: ' "$T/inflight" | tail -1)"
wait "$GW_PID"; rc=$?
check_eq "groqgated exits 0 after SIGTERM" 0 "$rc"
check_eq "and accepts nothing more" 000 "$(curl -s -o /dev/null -m 2 -w '%{http_code}' "http://$GW/healthz")"
curl -s -X DELETE "http://$FAKE/_fake/faults" > /dev/null

# ---- kill -9 under load: every answered request is in the ledger
start_gateway
for i in $(seq 1 40); do
	c=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $ATOK" -d '{"model":"llama-3.1-8b-instant","max_tokens":2,"messages":[{"role":"user","content":"x"}]}' "http://$GW/openai/v1/chat/completions")
	[ "$c" = 200 ] && echo ok >> "$T/answered"
	echo "$c" >> "$T/codes9"
done &
LOAD=$!
wait_eval "some load" 10 '[ "$(cat "$T/answered" 2>/dev/null | wc -l)" -ge 10 ]'
kill -9 "$GW_PID"
wait "$LOAD" 2>/dev/null
answered=$(wc -l < "$T/answered" 2>/dev/null || echo 0)
start_gateway
check_eq "the store is intact after kill -9" ok "$(sql 'pragma integrity_check')"
inledger=$(sql "select count(*) from ledger where team='alpha' and status=200 and model='llama-3.1-8b-instant' and completion_tokens=2")
check "every answered request ($answered) is in the ledger ($inledger)" test "$inledger" -ge "$answered"
api GET /admin/v1/teams/alpha
check_eq "state survives a restart (version and state)" active "$(jq_body .state)"

# ---- group commit: answers ready in one loop iteration share one journal
# write, and journaled rows reach the store in shared transactions.
# 24 requests wait at fakegroq; the gateway is stopped while fakegroq
# answers them all, so on SIGCONT every answer is ready at once.
fake_stat() { curl -s "http://$FAKE/_fake/stats" | jq "$1"; }
curl -s -X POST -d '{"latency_ms":300}' "http://$FAKE/_fake/faults" > /dev/null
l0=$(sql "select count(*) from ledger")
c0=$(metric groqgate_ledger_commits_total); r0=$(metric groqgate_ledger_rows_total)
w0=$(metric groqgate_ledger_journal_writes_total)
inflight0=$(fake_stat .inflight); done0=$(fake_stat .total.completions)
GPIDS=()
for i in $(seq 1 24); do
	curl -s -o /dev/null -w '%{http_code}\n' -H "Authorization: Bearer $ATOK" \
		-d '{"model":"llama-3.1-8b-instant","max_tokens":2,"messages":[{"role":"user","content":"x"}]}' \
		"http://$GW/openai/v1/chat/completions" >> "$T/gcodes" &
	GPIDS+=($!)
done
wait_eval "24 requests waiting at fakegroq" 10 '[ "$(fake_stat .inflight)" -ge $((inflight0 + 24)) ]'
kill -STOP "$GW_PID"
wait_eval "fakegroq to answer them all" 10 '[ "$(fake_stat .total.completions)" -ge $((done0 + 24)) ]'
kill -CONT "$GW_PID"
wait "${GPIDS[@]}"
curl -s -X DELETE "http://$FAKE/_fake/faults" > /dev/null
check_eq "24 answers at once: all 200" 24 "$(grep -c '^200$' "$T/gcodes")"
check_eq "and in the ledger" 24 "$(( $(sql "select count(*) from ledger") - l0 ))"
c1=$(metric groqgate_ledger_commits_total); r1=$(metric groqgate_ledger_rows_total)
w1=$(metric groqgate_ledger_journal_writes_total)
echo "# group commit: 24 rows in $((w1 - w0)) journal write(s), $((c1 - c0)) transaction(s)"
check_eq "all 24 rows moved into the store" 24 "$((r1 - r0))"
check "in shared journal writes, not one each ($((w1 - w0)) for 24)" test "$((w1 - w0))" -lt 24
check "and shared transactions ($((c1 - c0)) for 24)" test "$((c1 - c0))" -lt 24

# ---- the journal's file stays at its first allocation under steady load:
# 600 answers, 8 at a time (more rows than 64 KiB holds), and when it is
# full the rows still waiting go into the store so that it starts over
# instead of growing (where it is written with pwrite, it starts over
# after every move into the store)
J="$T/gw.db-ledger"
create_team bulk '"rpm_limit":100000'
create_key bulk-prod-api bulk "$KEY5"
new_token bulk
BULKTOK=$TOKEN
g0=$(metric groqgate_ledger_journal_grows_total)
for i in $(seq 1 600); do printf 'url = "http://%s/openai/v1/chat/completions"\n' "$GW"; done > "$T/urls"
codes=$(curl -s --parallel --parallel-max 8 -o /dev/null -w '%{http_code}\n' -H "Authorization: Bearer $BULKTOK" \
	-d '{"model":"llama-3.1-8b-instant","max_tokens":2,"user":"journal-filler-with-a-long-end-user-name","messages":[{"role":"user","content":"x"}]}' \
	--config "$T/urls")
check_eq "600 answers, 8 at a time" 600 "$(grep -c '^200$' <<< "$codes")"
check_eq "the journal's file never grew past its allocation" 0 "$(( $(metric groqgate_ledger_journal_grows_total) - g0 ))"
check_eq "all of them in the ledger" 600 "$(sql "select count(*) from ledger where end_user = 'journal-filler-with-a-long-end-user-name'")"
if [ "$(metric groqgate_ledger_journal_mapped)" = 1 ]; then
	check_eq "and the file is one allocation (bytes)" 65536 "$(stat -c %s "$J")"
else
	check_eq "and the file is empty, its rows in the store (written with pwrite here)" 0 "$(stat -c %s "$J")"
fi
done_testing
