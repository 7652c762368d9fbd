# Groq's capacity, shared fairly (one node): fakegroq enforces a 6,000
# TPM organisation limit on one model as Groq does; the gateway declares
# it in groq_limits. A batch team floods, a critical team is served in
# full, a standard team stops at its own tpm_limit, Groq answers no 429.
# Then: the answer's x-ratelimit-* are the team's, Groq's own 429 holds
# the model for every team, queue mode waits for room, bad input.
source "$(dirname "$0")/../lib.sh"
M=llama-3.1-8b-instant
start_fakegroq --model-limit "$M=100000:6000" --completion-tokens 250 --latency-ms 20
write_gateway_config "groq_limits = ( { model = \"$M\"; rpm = 0; rpd = 100000; tpm = 6000; tpd = 0; ash = 0; asd = 0; } );
capacity = { critical_reserve_pct = 20; batch_max_pct = 50; };"
start_gateway
mk() { # mk ID PRIORITY [extra]
	api POST /admin/v1/teams "{\"id\":\"$1\",\"name\":\"$1\",\"allowed_models\":[\"$M\",\"llama-3.3-70b-versatile\"],\"max_tokens_per_request\":300,\"rpm_limit\":1000,\"monthly_budget_usd\":100,\"priority\":\"$2\"${3:+,$3}}"
	check_eq "team $1 ($2) created" 201 "$STATUS"
}
mk prod critical
mk etl batch
mk web standard '"tpm_limit":1000'
create_key prod-prod-api prod "$KEY1"; new_token prod; PROD=$TOKEN
create_key etl-prod-api etl "$KEY2"; new_token etl; ETL=$TOKEN
create_key web-prod-api web "$KEY3"; new_token web; WEB=$TOKEN
api GET /admin/v1/teams/web
check_eq "the team's capacity fields" "standard 1000 0 0 0" \
	"$(printf %s "$BODY" | jq -r '"\(.priority) \(.tpm_limit) \(.tpd_limit) \(.rpd_limit) \(.tpm)"')"

req() { # req TOKEN -> status on stdout
	curl -s --max-time 20 -o /dev/null -w '%{http_code}\n' -H "Authorization: Bearer $1" -H 'Content-Type: application/json' \
		--data-binary "{\"model\":\"$M\",\"max_tokens\":300,\"messages\":[{\"role\":\"user\",\"content\":\"summarise the batch\"}]}" \
		"http://$GW/openai/v1/chat/completions"
}
# ---- the batch team's flood: 120 requests, 8 at a time
: > "$T/etl.codes"
for i in $(seq 1 15); do
	pids=""
	for j in $(seq 1 8); do req "$ETL" >> "$T/etl.codes" & pids="$pids $!"; done
	wait $pids
done
etl_ok=$(grep -c '^200$' "$T/etl.codes")
etl_429=$(grep -c '^429$' "$T/etl.codes")
echo "# batch flood: $etl_ok served, $etl_429 refused by the gateway (429) of $(wc -l < "$T/etl.codes")"
check_eq "all 120 of the flood answered 200 or 429" 120 "$((etl_ok + etl_429))"
check "the batch team was served some" test "$etl_ok" -ge 5
check "and held at its share (refused some)" test "$etl_429" -ge 1
# ---- production, after the flood: every request served
: > "$T/prod.codes"
for i in $(seq 1 5); do req "$PROD" >> "$T/prod.codes"; done
check_eq "the critical team is served in full after the flood" "5" "$(grep -c '^200$' "$T/prod.codes")"
# ---- the standard team stops at its own tpm_limit (1000 tokens)
: > "$T/web.codes"
for i in $(seq 1 6); do req "$WEB" >> "$T/web.codes"; done
check_eq "the standard team: 3 of 6 served within its 1000 TPM (each takes its worst case, then ~270)" \
	"3" "$(grep -c '^200$' "$T/web.codes")"
chat "$WEB" "$M" '"max_tokens":300'
check_eq "over its limit: 429" 429 "$STATUS"
check_eq "in Groq's shape: type tokens, code rate_limit_exceeded" "tokens rate_limit_exceeded" \
	"$(printf %s "$BODY" | jq -r '"\(.error.type) \(.error.code)"')"
check_contains "the message names the team and the limit" "team 'web' on tokens per minute (TPM): Limit 1000" "$BODY"
ra=$(printf %s "$HEADERS" | tr -d '\r' | awk -F': ' 'tolower($1) == "retry-after" { print $2 }')
check "a true retry-after (1..61 s): $ra" awk -v r="$ra" 'BEGIN { exit !(r >= 1 && r <= 61) }'
# ---- zero Groq 429s: every 429 was the gateway's
groq429=$(sql "select count(*) from ledger where status = 429 and reason = 'upstream_error'")
check_eq "Groq answered no 429 (the gateway never sent more than its limit)" 0 "$groq429"
check_eq "fakegroq counted no rate-limit error" 0 "$(curl -s "http://$FAKE/_fake/stats" | jq '[.keys[].errors] | add')"
gw429=$(sql "select count(*) from ledger where status = 429 and reason = 'capacity_limited'")
check "the gateway's refusals are in the ledger as capacity_limited ($gw429)" test "$gw429" -ge 2
# ---- a restart forgets nothing: the ledger's last day is recounted
stop_gateway
start_gateway
chat "$ETL" "$M" '"max_tokens":300'
check_eq "after a restart the batch team is still held at its share" "429 tokens" "$STATUS $(jq_body .error.type)"
api GET /admin/v1/capacity
check "and the organisation's minute holds what was sent before it" \
	test "$(printf %s "$BODY" | jq --arg m "$M" '.models[] | select(.model==$m) | .used.tpm')" -ge 2000
# ---- a request that could never fit: 413
api PATCH /admin/v1/teams/web '{"tpm_limit":100}' -H "If-Match: $(api GET /admin/v1/teams/web; jq_body .version)"
chat "$WEB" "$M" '"max_tokens":300'
check_eq "worst case above the team's limit: 413" 413 "$STATUS"
check_contains "Request too large" "Request too large for team 'web'" "$BODY"
# ---- the answer's x-ratelimit-* describe the team's own limit
api PATCH /admin/v1/teams/web '{"tpm_limit":100000}' -H "If-Match: $(api GET /admin/v1/teams/web; jq_body .version)"
chat "$WEB" "$M" '"max_tokens":10'
check_eq "a small request" 200 "$STATUS"
lt=$(printf %s "$HEADERS" | tr -d '\r' | awk -F': ' 'tolower($1) == "x-ratelimit-limit-tokens" { print $2 }')
check_eq "x-ratelimit-limit-tokens is the team's tpm_limit, once" "100000" "$lt"
rt=$(printf %s "$HEADERS" | tr -d '\r' | awk -F': ' 'tolower($1) == "x-ratelimit-remaining-tokens" { print $2 }')
check "x-ratelimit-remaining-tokens below it ($rt)" test "$rt" -lt 100000
chat "$PROD" "$M" '"max_tokens":10'
lt=$(printf %s "$HEADERS" | tr -d '\r' | awk -F': ' 'tolower($1) == "x-ratelimit-limit-tokens" { print $2 }')
check_eq "without its own: the organisation's limit for a critical team" "6000" "$lt"
# ---- seen: the capacity route, the metrics
api GET /admin/v1/capacity
check_eq "capacity: the model, declared, its limits" "$M config 6000 100000" \
	"$(printf %s "$BODY" | jq -r --arg m "$M" '.models[] | select(.model==$m) | "\(.model) \(.source) \(.limits.tpm) \(.limits.rpd)"')"
check "capacity: the organisation's use within the limit" \
	test "$(printf %s "$BODY" | jq --arg m "$M" '.models[] | select(.model==$m) | .used.tpm')" -le 6000
check_eq "capacity: teams with their priority" "etl:batch prod:critical web:standard" \
	"$(printf %s "$BODY" | jq -r --arg m "$M" '[.models[] | select(.model==$m) | .teams[] | "\(.team):\(.priority)"] | sort | join(" ")')"
mt=$(curl -s "http://$GW/metrics")
check_contains "groqgate_team_tpm" 'groqgate_team_tpm{team="web"}' "$mt"
check_contains "groqgate_org_limit_used_ratio" "groqgate_org_limit_used_ratio{model=\"$M\",limit=\"tpm\"}" "$mt"
# ---- Groq's own 429 holds the model for every team
M2=llama-3.3-70b-versatile
curl -s -X POST "http://$FAKE/_fake/faults" -d '{"rate_limit":1}' > /dev/null
chat "$WEB" "$M2" '"max_tokens":10'
check_eq "Groq's 429 reaches the caller" 429 "$STATUS"
before=$(curl -s "http://$FAKE/_fake/stats" | jq '.total.requests')
chat "$PROD" "$M2" '"max_tokens":10'
check_eq "another team's request for that model: held by the gateway (429)" 429 "$STATUS"
check_contains "saying Groq is rate limiting the model" "Groq is rate limiting model '$M2'" "$BODY"
check_eq "and it did not reach Groq" "$before" "$(curl -s "http://$FAKE/_fake/stats" | jq '.total.requests')"
ra=$(printf %s "$HEADERS" | tr -d '\r' | awk -F': ' 'tolower($1) == "retry-after" { print $2 }')
check "with the time left (<= 12 s): $ra" awk -v r="$ra" 'BEGIN { exit !(r >= 1 && r <= 12) }'
chat "$PROD" "$M" '"max_tokens":10'
check_eq "other models are not held" 200 "$STATUS"
api GET /admin/v1/alerts
check_contains "upstream_429_storm names the model and the limit" "model '$M2' (tokens per minute (TPM): Limit 12000" "$BODY"
api GET /admin/v1/capacity
check "capacity: retry_after_until for the held model" \
	test "$(printf %s "$BODY" | jq --arg m "$M2" '.models[] | select(.model==$m) | .retry_after_until')" -gt 0
# ---- queue mode: a batch team waits for room instead of failing (on a
# model the flood did not use: its share of $M is taken for a minute)
M3=openai/gpt-oss-20b
api POST /admin/v1/teams "{\"id\":\"nightly\",\"name\":\"nightly\",\"allowed_models\":[\"$M3\"],\"max_tokens_per_request\":300,\"rpm_limit\":1000,\"monthly_budget_usd\":100,\"priority\":\"batch\",\"tpm_limit\":2000,\"rpm_mode\":\"queue\",\"queue_max_wait_ms\":20000}"
check_eq "a batch team in queue mode" 201 "$STATUS"
create_key nightly-prod-api nightly "$KEY4"; new_token nightly; NIGHT=$TOKEN
: > "$T/night.codes"
pids=""
for j in $(seq 1 6); do M=$M3 req "$NIGHT" >> "$T/night.codes" & pids="$pids $!"; done
wait $pids
echo "# queue mode: $(sort "$T/night.codes" | uniq -c | tr "\n" " ")"
check_eq "6 requests whose worst cases (~430) pass its 2000 TPM together: all served, the later ones after waiting" \
	6 "$(grep -c '^200$' "$T/night.codes")"
# ---- bad input
api PATCH /admin/v1/teams/web '{"tpm_limit":-5}'
check_eq "a negative limit: 400" "400 invalid_value" "$STATUS $(jq_body .error.code)"
check_contains "naming the field" "'tpm_limit'" "$BODY"
api PATCH /admin/v1/teams/web '{"rpd_limit":1.5}'
check_eq "a non-integer limit: 400" 400 "$STATUS"
api PATCH /admin/v1/teams/web '{"priority":"urgent"}'
check_eq "an unknown priority: 400" 400 "$STATUS"
check_contains "naming the choices" "must be \\\"critical\\\"" "$BODY"
cp "$T/gw.conf" "$T/bad.conf"
printf 'groq_limits = ( { model = "not-priced"; tpm = 100; } );\n' > "$T/bad2.part"
sed -i '/^groq_limits/d' "$T/bad.conf"
cat "$T/bad2.part" >> "$T/bad.conf"
out=$("$BIN/groqgated" --check-config "$T/bad.conf" 2>&1)
line=$(grep -n '^groq_limits' "$T/bad.conf" | cut -d: -f1)
check_contains "groq_limits for an unpriced model: a configuration error with its line" \
	"$T/bad.conf:$line: groq_limits" "$out"
check_contains "saying why" "has no price" "$out"
sed -i 's/tpm = 100;/tpm = -1;/; s/not-priced/llama-3.1-8b-instant/' "$T/bad.conf"
out=$("$BIN/groqgated" --check-config "$T/bad.conf" 2>&1)
check_contains "a negative organisation limit: refused" "tpm: must be a whole number" "$out"
done_testing
