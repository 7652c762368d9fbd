# fakegroq: Groq's shapes, usage, headers, limits, faults and key reload.
source "$(dirname "$0")/../lib.sh"
start_fakegroq --completion-tokens 12 --tpm 2000 --rpd 1000

req() { # req KEY BODY -> STATUS BODY HEADERS
	STATUS=$(curl -s -o "$T/r" -D "$T/h" -w '%{http_code}' -H "Authorization: Bearer $1" \
		-H 'Content-Type: application/json' --data-binary "$2" "http://$FAKE/openai/v1/chat/completions")
	BODY=$(cat "$T/r")
	HEADERS=$(tr -d '\r' < "$T/h")
}

STATUS=$(curl -s -o "$T/r" -w '%{http_code}' -H "Authorization: Bearer $KEY1" "http://$FAKE/openai/v1/models")
check_eq "models list answers 200" 200 "$STATUS"
check_eq "models list is Groq's list shape" list "$(jq -r .object "$T/r")"
check_contains "default models include llama-3.3-70b-versatile" llama-3.3-70b-versatile "$(jq -r '.data[].id' "$T/r")"

req gsk_notakey '{"model":"llama-3.3-70b-versatile","messages":[{"role":"user","content":"x"}]}'
check_eq "unknown key: 401" 401 "$STATUS"
check_eq "401 body is Groq's, word for word" '{"error":{"message":"Invalid API Key","type":"invalid_request_error","code":"invalid_api_key"}}' "$BODY"

req "$KEY1" '{"messages":[{"role":"user","content":"x"}]}'
check_eq "missing model: 400" 400 "$STATUS"
check_eq "400 has Groq's error shape" invalid_request_error "$(printf %s "$BODY" | jq -r .error.type)"
req "$KEY1" '{"model":"llama-3.3-70b-versatile"}'
check_eq "missing messages: 400" 400 "$STATUS"
req "$KEY1" '{"model":"llama-9-unknown","messages":[{"role":"user","content":"x"}]}'
check_eq "unknown model: 404" 404 "$STATUS"
check_eq "404 code model_not_found" model_not_found "$(printf %s "$BODY" | jq -r .error.code)"

# 3 + (4 + ceil(13/4)) = 11 prompt tokens for "hello gateway"
req "$KEY1" '{"model":"llama-3.3-70b-versatile","messages":[{"role":"user","content":"hello gateway"}]}'
check_eq "completion: 200" 200 "$STATUS"
check_eq "prompt tokens follow the documented formula" 11 "$(printf %s "$BODY" | jq .usage.prompt_tokens)"
check_eq "completion tokens default to --completion-tokens" 12 "$(printf %s "$BODY" | jq .usage.completion_tokens)"
check_eq "total = prompt + completion" 23 "$(printf %s "$BODY" | jq .usage.total_tokens)"
check "usage carries Groq's timing fields" test "$(printf %s "$BODY" | jq '.usage | has("queue_time") and has("prompt_time") and has("completion_time") and has("total_time")')" = true
check "x_groq.id is a req_ id" test "$(printf %s "$BODY" | jq -r .x_groq.id | cut -c1-4)" = req_
check_eq "x-request-id header matches x_groq.id" "$(printf %s "$BODY" | jq -r .x_groq.id)" "$(hdr x-request-id)"
for h in limit-requests remaining-requests limit-tokens remaining-tokens reset-requests reset-tokens; do
	check "header x-ratelimit-$h present" test -n "$(hdr x-ratelimit-$h)"
done
check "reset-tokens is a Go duration" grep -Eq '^[0-9.]+(m[0-9.]+)?s$|^[0-9]+m[0-9.]+s$' <<< "$(hdr x-ratelimit-reset-tokens)"
r1=$(hdr x-ratelimit-remaining-requests)
req "$KEY1" '{"model":"llama-3.3-70b-versatile","max_completion_tokens":3,"messages":[{"role":"user","content":"hello gateway"}]}'
check_eq "max_completion_tokens honoured" 3 "$(printf %s "$BODY" | jq .usage.completion_tokens)"
check_eq "finish_reason length when capped" length "$(printf %s "$BODY" | jq -r '.choices[0].finish_reason')"
check_eq "remaining requests counts down" $((r1 - 1)) "$(hdr x-ratelimit-remaining-requests)"
req "$KEY1" '{"model":"llama-3.3-70b-versatile","max_tokens":2,"messages":[{"role":"user","content":"hi"}]}'
check_eq "max_tokens (deprecated alias) honoured" 2 "$(printf %s "$BODY" | jq .usage.completion_tokens)"

# streaming
curl -sN -H "Authorization: Bearer $KEY1" -d '{"model":"llama-3.1-8b-instant","stream":true,"max_tokens":4,"messages":[{"role":"user","content":"hi"}]}' \
	"http://$FAKE/openai/v1/chat/completions" > "$T/s1"
events=$(grep -c '^data: ' "$T/s1")
check_eq "stream: role chunk + 4 content + final + [DONE]" 7 "$events"
check_eq "stream ends with [DONE]" "data: [DONE]" "$(grep '^data: ' "$T/s1" | tail -1)"
check_eq "x_groq.usage only in the final chunk" 1 "$(grep -c '"usage"' "$T/s1")"
check_eq "final chunk's x_groq.usage" 4 "$(grep '^data: {' "$T/s1" | tail -1 | cut -c7- | jq .x_groq.usage.completion_tokens)"
curl -sN -H "Authorization: Bearer $KEY1" -d '{"model":"llama-3.1-8b-instant","stream":true,"stream_options":{"include_usage":true},"max_tokens":2,"messages":[{"role":"user","content":"hi"}]}' \
	"http://$FAKE/openai/v1/chat/completions" > "$T/s2"
check_eq "include_usage adds a usage chunk with empty choices" 0 "$(grep '^data: {' "$T/s2" | tail -1 | cut -c7- | jq '.choices | length')"
check_eq "include_usage: top-level usage present" 2 "$(grep '^data: {' "$T/s2" | tail -1 | cut -c7- | jq .usage.completion_tokens)"

# chunks come over time: --chunk-delay-ms 5 x 21 chunks
start=$(date +%s%N)
curl -sN -H "Authorization: Bearer $KEY1" -d '{"model":"llama-3.1-8b-instant","stream":true,"messages":[{"role":"user","content":"hi"}]}' \
	"http://$FAKE/openai/v1/chat/completions" > /dev/null
el=$(( ($(date +%s%N) - start) / 1000000 ))
check "a stream is paced by the chunk delay (took ${el} ms >= 60)" test "$el" -ge 60

# faults
curl -s -X POST "http://$FAKE/_fake/faults" -d '{"rate_limit":2}' > /dev/null
req "$KEY2" '{"model":"llama-3.1-8b-instant","messages":[{"role":"user","content":"x"}]}'
check_eq "fault rate_limit: 429 now" 429 "$STATUS"
req "$KEY2" '{"model":"llama-3.1-8b-instant","messages":[{"role":"user","content":"x"}]}'
req "$KEY2" '{"model":"llama-3.1-8b-instant","messages":[{"role":"user","content":"x"}]}'
check_eq "rate_limit:N lasts N requests" 429200 "$(echo 429)$STATUS"
curl -s -X POST "http://$FAKE/_fake/faults" -d '{"error_rate":1.0,"error_status":503}' > /dev/null
req "$KEY2" '{"model":"llama-3.1-8b-instant","messages":[{"role":"user","content":"x"}]}'
check_eq "fault error_rate 1.0 with 503" 503 "$STATUS"
curl -s -X POST "http://$FAKE/_fake/faults" -d '{"error_rate":0.5,"error_status":500}' > /dev/null
n500=0
for i in $(seq 1 40); do req "$KEY2" '{"model":"llama-3.1-8b-instant","messages":[{"role":"user","content":"x"}]}'; [ "$STATUS" = 500 ] && n500=$((n500 + 1)); done
check "error_rate 0.5 fails a share of requests ($n500/40)" test "$n500" -gt 8 -a "$n500" -lt 32
curl -s -X DELETE "http://$FAKE/_fake/faults" > /dev/null
curl -s -X POST "http://$FAKE/_fake/faults" -d '{"latency_ms":300}' > /dev/null
start=$(date +%s%N)
req "$KEY2" '{"model":"llama-3.1-8b-instant","messages":[{"role":"user","content":"x"}]}'
el=$(( ($(date +%s%N) - start) / 1000000 ))
check "fault latency_ms delays the answer (${el} ms)" test "$el" -ge 290
curl -s -X POST "http://$FAKE/_fake/faults" -d '{"latency_ms":0,"hang":true}' > /dev/null
STATUS=$(curl -s -o /dev/null -m 0.5 -w '%{http_code}' -H "Authorization: Bearer $KEY2" -d '{"model":"llama-3.1-8b-instant","messages":[{"role":"user","content":"x"}]}' "http://$FAKE/openai/v1/chat/completions")
check_eq "fault hang: no answer" 000 "$STATUS"
curl -s -X POST "http://$FAKE/_fake/faults" -d '{"hang":false,"cut_stream_after":2}' > /dev/null
curl -sN -H "Authorization: Bearer $KEY2" -d '{"model":"llama-3.1-8b-instant","stream":true,"messages":[{"role":"user","content":"hi"}]}' "http://$FAKE/openai/v1/chat/completions" > "$T/s3"
rc=$?
check "fault cut_stream_after: the stream breaks (curl rc $rc)" test "$rc" -ne 0
check_not_contains "a cut stream has no [DONE]" "[DONE]" "$(cat "$T/s3")"
curl -s -X DELETE "http://$FAKE/_fake/faults" > /dev/null
req "$KEY2" '{"model":"llama-3.1-8b-instant","messages":[{"role":"user","content":"x"}]}'
check_eq "DELETE /_fake/faults clears faults" 200 "$STATUS"
check_eq "bad fault name refused" 400 "$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://$FAKE/_fake/faults" -d '{"nope":1}')"

# stats per key, reconciling tokens
stats=$(curl -s "http://$FAKE/_fake/stats")
check "stats count completions per key" test "$(printf %s "$stats" | jq '.keys["gsk_…0001"].completions')" -ge 3
check_eq "stats do not reveal keys" "" "$(printf %s "$stats" | grep -o "$KEY1")"

# SIGHUP re-reads the keys file ("deleted in the Groq Console")
printf '%s\n' "$KEY2" > "$T/fake-keys"
kill -HUP "$FAKE_PID"
wait_for "key reload" 5 bash -c "[ \$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer $KEY1' http://$FAKE/openai/v1/models) = 401 ]"
check_eq "after SIGHUP a removed key gets 401" 401 "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $KEY1" "http://$FAKE/openai/v1/models")"
check_eq "and a kept key still works" 200 "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $KEY2" "http://$FAKE/openai/v1/models")"
# TPM: a request larger than the limit -> 413; over the minute's budget -> 429
big=$(head -c 9000 /dev/zero | tr '\0' a)
req "$KEY2" "{\"model\":\"llama-3.3-70b-versatile\",\"messages\":[{\"role\":\"user\",\"content\":\"$big\"}]}"
check_eq "request larger than TPM: 413" 413 "$STATUS"
check_eq "413 type tokens" tokens "$(printf %s "$BODY" | jq -r .error.type)"
mid=$(head -c 3000 /dev/zero | tr '\0' a)
for i in 1 2 3; do req "$KEY2" "{\"model\":\"llama-3.3-70b-versatile\",\"messages\":[{\"role\":\"user\",\"content\":\"$mid\"}]}"; done
check_eq "over the minute's tokens: 429" 429 "$STATUS"
check_eq "429 code rate_limit_exceeded" rate_limit_exceeded "$(printf %s "$BODY" | jq -r .error.code)"
check "429 carries retry-after" test -n "$(hdr retry-after)"
check_eq "remaining tokens shown as 0 or more" 0 "$([ "$(hdr x-ratelimit-remaining-tokens)" -ge 0 ] && echo 0)"

done_testing
