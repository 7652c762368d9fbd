# Every Groq route governed and metered: the route table, the Responses
# API, embeddings, audio (forms read as Groq reads them), speech, refused
# routes, early ends, a hostile upstream, the queue's re-check, CORS and the
# process's hardening. Each cost in the ledger is checked against the price
# table applied to what fakegroq served.
source "$(dirname "$0")/../lib.sh"
GW_EXTRA='
prices = (
  { model = "llama-3.3-70b-versatile"; input_per_mtok = 0.59; output_per_mtok = 0.79; },
  { model = "llama-3.1-8b-instant"; input_per_mtok = 0.05; output_per_mtok = 0.08; },
  { model = "openai/gpt-oss-120b"; input_per_mtok = 0.15; output_per_mtok = 0.60; cached_input_per_mtok = 0.075; },
  { model = "nomic-embed-text-v1_5"; input_per_mtok = 0.008; output_per_mtok = 0.0; },
  { model = "whisper-large-v3-turbo"; per_audio_hour = 0.04; },
  { model = "whisper-large-v3"; per_audio_hour = 0.111; },
  { model = "canopylabs/orpheus-v1-english"; per_mchar = 22.0; }
);
upstream = { base_url = "http://FAKE"; timeout_ms = 5000; idle_timeout_ms = 700; };
limits = { max_answer_bytes = 65536; queue_max_len = 2; };
cors = { origins = [ "https://app.example.com" ]; };
model_aliases = ( { alias = "ears"; model = "whisper-large-v3-turbo"; } );'
KEY6=gsk_testFFFFFFFFFFFFFFFFFFFFFFFFFFFF0006
printf '%s\n' "$KEY1" "$KEY2" "$KEY3" "$KEY4" "$KEY5" "$KEY6" > "$T/fake-keys"
start_fakegroq --completion-tokens 20000
write_gateway_config
# (the extra block replaces the default prices and upstream)
sed -i '/^prices = (/,/^);/d; /^upstream = /d' "$T/gw.conf"
printf '%s\n' "${GW_EXTRA//FAKE/$FAKE}" >> "$T/gw.conf"
start_gateway
ALL='"llama-3.3-70b-versatile","llama-3.1-8b-instant","openai/gpt-oss-120b","nomic-embed-text-v1_5","whisper-large-v3-turbo","canopylabs/orpheus-v1-english"'
api POST /admin/v1/teams "{\"id\":\"alpha\",\"name\":\"Alpha\",\"allowed_models\":[$ALL],\"max_tokens_per_request\":100,\"rpm_limit\":1000,\"monthly_budget_usd\":100}"
check_eq "team created" 201 "$STATUS"
create_key alpha-prod-api alpha "$KEY1"
new_token alpha
ATOK=$TOKEN
FP1='gsk_…0001'
post() { # post PATH JSON [TOKEN] -> STATUS, BODY
	STATUS=$(curl -s -o "$T/resp" -D "$T/resp.h" -w '%{http_code}' -H "Authorization: Bearer ${3:-$ATOK}" \
		-H 'Content-Type: application/json' --data-binary "$2" "http://$GW$1")
	BODY=$(cat "$T/resp")
}
last_row() { sql "select $1 from ledger where team='${2:-alpha}' order by id desc limit 1"; }

# ---- the route table: anything not in it is 404 in Groq's shape, never forwarded
n0=$(fstat "$FP1" requests)
for p in "DELETE /openai/v1/models/llama-3.3-70b-versatile" "POST /openai/v1/chat/completions/" \
	"POST /openai/v1//chat/completions" "POST /openai/v1/chat/%63ompletions" "GET /openai/v1/../../v1/anything" \
	"POST /openai/v1/chat/./completions" "POST /openai/v1/completions" "GET /openai/v1/models/a%2F..%2F..%2Fx"; do
	STATUS=$(curl -s --path-as-is -o "$T/resp" -w '%{http_code}' -X "${p%% *}" -H "Authorization: Bearer $ATOK" \
		-H 'Content-Type: application/json' --data-binary '{"model":"llama-3.3-70b-versatile","messages":[{"role":"user","content":"x"}],"max_tokens":99999}' \
		"http://$GW${p#* }")
	check_eq "$p: 404" 404 "$STATUS"
	check_eq "$p: in Groq's error shape" unknown_url "$(jq -r .error.code "$T/resp")"
done
check_eq "none of them reached Groq" "$n0" "$(fstat "$FP1" requests)"

# ---- files and batches the team does not own: 404, never forwarded
# (tests/integration/batches.sh follows a batch through)
for p in "GET /openai/v1/files/file_123/content" "DELETE /openai/v1/files/file_123" "GET /openai/v1/files/file_123" \
	"GET /openai/v1/batches/batch_1" "POST /openai/v1/batches/batch_1/cancel"; do
	STATUS=$(curl -s -o "$T/resp" -w '%{http_code}' -X "${p%% *}" -H "Authorization: Bearer $ATOK" "http://$GW${p#* }")
	check_eq "$p: 404 not_found" "404|not_found" "$STATUS|$(jq -r .error.code "$T/resp")"
done
check_eq "not forwarded" "$n0" "$(fstat "$FP1" requests)"

# ---- Responses API: the cap, usage and cost; streams to their real end
post /openai/v1/responses '{"model":"llama-3.3-70b-versatile","input":"hello","max_output_tokens":30000}'
check_eq "responses: max_output_tokens over the team's cap: 400" "400|max_tokens_exceeded" "$STATUS|$(jq_body .error.code)"
post /openai/v1/responses '{"model":"qwen/qwen3-32b","input":"hello"}'
check_eq "responses: a model not allowed: 403" 403 "$STATUS"
post /openai/v1/responses '{"model":"llama-3.3-70b-versatile","input":"hello gateway"}'
check_eq "responses: 200" 200 "$STATUS"
check_eq "no cap sent: the team's (100) is the one Groq applied" 100 "$(jq_body .usage.output_tokens)"
in=$(jq_body .usage.input_tokens)
check_eq "responses: the ledger has Groq's usage" "$in|100|responses|tokens|$((in + 100))" \
	"$(last_row "prompt_tokens||'|'||completion_tokens||'|'||route||'|'||unit||'|'||quantity")"
check_eq "responses: cost = price table x usage" "$((in * 590 + 100 * 790))" "$(last_row cost_nusd)"
check_eq "responses: Groq's request id in the ledger" "$(grep -i '^x-request-id:' "$T/resp.h" | tr -d '\r' | cut -d' ' -f2)" "$(last_row request_id)"
curl -sN -o "$T/rstream" -w '%{http_code}' -H "Authorization: Bearer $ATOK" -H 'Content-Type: application/json' \
	--data-binary '{"model":"llama-3.3-70b-versatile","input":"hello gateway","stream":true,"max_output_tokens":12}' \
	"http://$GW/openai/v1/responses" > "$T/rcode"
rc=$?
check_eq "responses stream: read to its end (curl exit 0, 200)" "0|200" "$rc|$(cat "$T/rcode")"
check_contains "it ends with response.completed (no [DONE] needed)" "event: response.completed" "$(tail -c 2000 "$T/rstream")"
check_eq "12 deltas relayed" 12 "$(grep -c '^event: response.output_text.delta' "$T/rstream")"
check_eq "responses stream: metered from response.completed" "200|1|12" "$(last_row "status||'|'||stream||'|'||completion_tokens")"
check "and priced" test "$(last_row cost_nusd)" -gt 0
# cached input priced as cached
curl -s -X POST "http://$FAKE/_fake/faults" -d '{"cached_tokens":4}' > /dev/null
post /openai/v1/responses '{"model":"openai/gpt-oss-120b","input":"a prompt that is read from the cache","max_output_tokens":10}'
in=$(jq_body .usage.input_tokens)
check_eq "cached input tokens at the cached price" "$(( (in - 4) * 150 + 4 * 75 + 10 * 600 ))" "$(last_row cost_nusd)"
post /openai/v1/chat/completions '{"model":"openai/gpt-oss-120b","messages":[{"role":"user","content":"cached too"}],"max_tokens":10}'
in=$(jq_body .usage.prompt_tokens)
check_eq "chat: cached prompt tokens at the cached price" "$(( (in - 4) * 150 + 4 * 75 + 10 * 600 ))" "$(last_row cost_nusd)"
curl -s -X DELETE "http://$FAKE/_fake/faults" > /dev/null

# ---- embeddings: metered by usage.prompt_tokens
post /openai/v1/embeddings '{"model":"nomic-embed-text-v1_5","input":["one text","and another one"]}'
check_eq "embeddings: 200" 200 "$STATUS"
pt=$(jq_body .usage.prompt_tokens)
check_eq "embeddings: prompt tokens x the input price" "embeddings|$pt|$((pt * 8))" "$(last_row "route||'|'||prompt_tokens||'|'||cost_nusd")"

# ---- the content type is parsed, not sniffed (it once let a JSON body skip the model check)
STATUS=$(curl -s -o "$T/resp" -w '%{http_code}' -H "Authorization: Bearer $ATOK" -H 'Content-Type: application/json; x="multipart/form-data"' \
	--data-binary '{"model":"qwen/qwen3-32b","input":"x","max_output_tokens":30000}' "http://$GW/openai/v1/responses")
check_eq "a JSON body labelled with multipart/form-data in a parameter: read as JSON, model refused (403)" 403 "$STATUS"
STATUS=$(curl -s -o "$T/resp" -w '%{http_code}' -H "Authorization: Bearer $ATOK" -H 'Content-Type: application/json; x="multipart/form-data"' \
	--data-binary '{"model":"canopylabs/orpheus-v1-english","voice":"x"}' "http://$GW/openai/v1/audio/speech")
check_eq "the same to speech with no input: 400 (nothing reaches Groq unpriced)" 400 "$STATUS"
STATUS=$(curl -s -o "$T/resp" -w '%{http_code}' -H "Authorization: Bearer $ATOK" -H 'Content-Type: multipart/form-data; boundary=x' \
	--data-binary '{"model":"qwen/qwen3-32b","input":"x"}' "http://$GW/openai/v1/responses")
check_eq "a form to a JSON route: 400" 400 "$STATUS"

# ---- audio: billed by the real duration, at least 10 s; the format asked for
wav() { # wav FILE SECONDS : 16 kHz 16-bit mono silence
	python3 - "$1" "$2" <<'PY'
import struct, sys
n = int(float(sys.argv[2]) * 32000)
with open(sys.argv[1], "wb") as f:
    f.write(b"RIFF" + struct.pack("<I", 36 + n) + b"WAVEfmt " + struct.pack("<IHHIIHH", 16, 1, 1, 16000, 32000, 2, 16))
    f.write(b"data" + struct.pack("<I", n) + bytes(n))
PY
}
wav "$T/a30.wav" 30
wav "$T/a3.wav" 3
audio() { # audio FILE [curl -F args...] -> STATUS, BODY, CTYPE
	local f=$1; shift
	STATUS=$(curl -s -o "$T/resp" -D "$T/resp.h" -w '%{http_code}' -H "Authorization: Bearer ${AUDIO_TOK:-$ATOK}" \
		-F "file=@$f" "$@" "http://$GW/openai/v1/audio/transcriptions")
	BODY=$(cat "$T/resp")
	CTYPE=$(grep -i '^content-type:' "$T/resp.h" | tr -d '\r' | cut -d' ' -f2-)
}
audio "$T/a30.wav" -F model=whisper-large-v3-turbo
check_eq "transcription: 200" 200 "$STATUS"
check_eq "the default format (json): text, no duration" "true|null" "$(jq_body '.text | length > 0')|$(jq_body .duration)"
check_eq "billed 30 s at \$0.04/h" "audio.transcriptions|audio_seconds|30|333334" "$(last_row "route||'|'||unit||'|'||quantity||'|'||cost_nusd")"
audio "$T/a30.wav" -F model=ears
check_eq "an alias in an audio form: served by the model it names" "200|whisper-large-v3-turbo|ears" \
	"$STATUS|$(last_row "model||'|'||requested_model")"
audio "$T/a3.wav" -F model=whisper-large-v3-turbo -F response_format=text
check_eq "text format: plain text" "200|text/plain; charset=utf-8" "$STATUS|$CTYPE"
check_contains "the transcript" "Fast language models" "$BODY"
check_eq "a 3 s file is billed 10 s (audio_min_seconds)" "10|111112" "$(last_row "quantity||'|'||cost_nusd")"
audio "$T/a30.wav" -F model=whisper-large-v3-turbo -F response_format=verbose_json
check_eq "verbose_json: as Groq sent it, with its duration" 30 "$(jq_body '.duration | floor')"
check_eq "fakegroq billed what the ledger says" "$(fstat "$FP1" audio_seconds)" \
	"$(sql "select sum(quantity) from ledger where route like 'audio.trans%' and status=200")"
STATUS=$(curl -s -o "$T/resp" -w '%{http_code}' -H "Authorization: Bearer $ATOK" -F "file=@$T/a3.wav" -F model=whisper-large-v3-turbo \
	"http://$GW/openai/v1/audio/translations")
check_eq "translations: 200 and metered" "200|audio.translations" "$STATUS|$(last_row route)"
wav "$T/a300.wav" 300
audio "$T/a300.wav" -F model=whisper-large-v3-turbo
check_eq "a 300 s WAV (9.6 MB, within Groq's 25 MB): served" "200|300" "$STATUS|$(last_row quantity)"

# every spelling of the form's model field, read as Groq reads it
api POST /admin/v1/teams '{"id":"ears","name":"Ears","allowed_models":["whisper-large-v3-turbo"],"max_tokens_per_request":100,"rpm_limit":1000,"monthly_budget_usd":100}'
create_key ears-prod-api ears "$KEY2"
new_token ears
AUDIO_TOK=$TOKEN
form() { # form BODY-FILE BOUNDARY -> STATUS
	STATUS=$(curl -s -o "$T/resp" -w '%{http_code}' -H "Authorization: Bearer $AUDIO_TOK" \
		-H "Content-Type: multipart/form-data; boundary=$2" --data-binary @"$1" "http://$GW/openai/v1/audio/transcriptions")
}
mkform() { # mkform FILE PART... : each PART is "HEADER-LINE|VALUE"; the audio is a3.wav
	local out=$1; shift
	: > "$out"
	for p in "$@"; do
		printf -- '--XyZ\r\n%s\r\n\r\n%s\r\n' "${p%%|*}" "${p#*|}" >> "$out"
	done
	printf -- '--XyZ\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\nContent-Type: audio/wav\r\n\r\n' >> "$out"
	cat "$T/a3.wav" >> "$out"
	printf -- '\r\n--XyZ--\r\n' >> "$out"
}
n0=$(fstat "gsk_…0002" requests)
mkform "$T/f1" 'Content-Disposition: form-data; name=model|whisper-large-v3'
form "$T/f1" XyZ
check_eq "unquoted name=model: the model is read (and refused: 403)" 403 "$STATUS"
mkform "$T/f2" 'content-disposition: FORM-DATA; NAME="model"|whisper-large-v3'
form "$T/f2" XyZ
check_eq "header and parameter names in any case: read (403)" 403 "$STATUS"
mkform "$T/f3" 'Content-Disposition: form-data; name="MODEL"|whisper-large-v3' 'Content-Disposition: form-data; name="model"|whisper-large-v3-turbo'
form "$T/f3" XyZ
check_eq "a MODEL beside model: ambiguous, refused (400)" "400|ambiguous_model" "$STATUS|$(jq -r .error.code "$T/resp")"
mkform "$T/f4" 'Content-Disposition: form-data; name="model"|whisper-large-v3-turbo' 'Content-Disposition: form-data; name="model"|whisper-large-v3'
form "$T/f4" XyZ
check_eq "two model fields: refused (400)" 400 "$STATUS"
# the string name="model" inside the audio bytes, before the real field
{ printf -- '--XyZ\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\n'
  printf 'RIFF....name="model"\r\n\r\nwhisper-large-v3-turbo\r\n'; cat "$T/a3.wav"
  printf -- '\r\n--XyZ\r\nContent-Disposition: form-data; name="model"\r\n\r\nwhisper-large-v3\r\n--XyZ--\r\n'; } > "$T/f5"
form "$T/f5" XyZ
check_eq "name=\"model\" inside the file's bytes is data: the real field is checked (403)" 403 "$STATUS"
{ printf 'preamble\r\n'; cat "$T/f1"; } > "$T/f6"
form "$T/f6" XyZ
check_eq "a preamble before the first boundary: refused (400)" 400 "$STATUS"
mkform "$T/f7" 'Content-Disposition: form-data; name="model"|whisper-large-v3-turbo'
form "$T/f7" '"XyZ"'
check_eq "a quoted boundary, an allowed model: served" 200 "$STATUS"
check_eq "only the allowed one reached Groq" $((n0 + 1)) "$(fstat "gsk_…0002" requests)"
STATUS=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $AUDIO_TOK" -F "file=@$T/a3.wav" -F model=whisper-large-v3-turbo \
	-F response_format=srt "http://$GW/openai/v1/audio/transcriptions")
check_eq "a response_format Groq does not offer: 400" 400 "$STATUS"

# ---- speech: priced by characters, reserved exactly, the audio relayed
text='Hello from the gateway — déjà vu.'
chars=$(printf %s "$text" | python3 -c 'import sys; print(len(sys.stdin.read()))')
STATUS=$(curl -s -o "$T/speech.wav" -D "$T/resp.h" -w '%{http_code}' -H "Authorization: Bearer $ATOK" -H 'Content-Type: application/json' \
	--data-binary "{\"model\":\"canopylabs/orpheus-v1-english\",\"input\":\"$text\",\"voice\":\"tara\",\"response_format\":\"wav\"}" \
	"http://$GW/openai/v1/audio/speech")
check_eq "speech: 200, audio" "200|RIFF" "$STATUS|$(head -c 4 "$T/speech.wav")"
check_eq "the whole WAV relayed" $((44 + chars * 2880)) "$(stat -c %s "$T/speech.wav")"
check_eq "billed by characters (\$22 per million)" "audio.speech|characters|$chars|$((chars * 22000))" \
	"$(last_row "route||'|'||unit||'|'||quantity||'|'||cost_nusd")"
check_eq "fakegroq counted the same characters" "$chars" "$(fstat "$FP1" characters)"

# ---- a model the gateway has no price for is refused, not served free
# (a restart: the gateway learns Groq's model list with a key to ask with)
stop_gateway
start_gateway
api PATCH /admin/v1/teams/alpha "{\"allowed_models\":[$ALL,\"qwen/qwen3-32b\"]}"
post /openai/v1/chat/completions '{"model":"qwen/qwen3-32b","messages":[{"role":"user","content":"x"}]}'
check_eq "an unpriced model: 403 model_not_priced" "403|model_not_priced" "$STATUS|$(jq_body .error.code)"
api PATCH /admin/v1/teams/alpha "{\"allowed_models\":[$ALL]}"

# ---- n choices reserved n times; a hostile upstream's usage bounded
post /openai/v1/chat/completions '{"model":"llama-3.1-8b-instant","messages":[{"role":"user","content":"x"}],"n":129}'
check_eq "n above 128: 400" 400 "$STATUS"
# n choices reserved n times: a budget with room for one cap's worth, not two
api POST /admin/v1/teams '{"id":"twice","name":"Twice","allowed_models":["llama-3.3-70b-versatile"],"max_tokens_per_request":100,"rpm_limit":1000,"monthly_budget_usd":0.00015}'
create_key twice-prod-api twice "$KEY6"
new_token twice
post /openai/v1/chat/completions '{"model":"llama-3.3-70b-versatile","messages":[{"role":"user","content":"x"}],"max_tokens":100,"n":2}' "$TOKEN"
check_eq "n=2 whose worst case (2 x the cap) does not fit: 402" 402 "$STATUS"
post /openai/v1/chat/completions '{"model":"llama-3.3-70b-versatile","messages":[{"role":"user","content":"x"}],"max_tokens":100,"n":1}' "$TOKEN"
check_eq "n=1 fits: 200" 200 "$STATUS"
# names that are not text: refused with a message a developer can read
STATUS=$(curl -s -o "$T/resp" -w '%{http_code}' -H "Authorization: Bearer $ATOK" "http://$GW/openai/v1/models/%FF%FE")
check_eq "a model id in the path that is not UTF-8: 404 with a message" "404|true" "$STATUS|$(jq -r '.error.message | length > 0' "$T/resp")"
printf -- '--XyZ\r\nContent-Disposition: form-data; name="model"\r\n\r\nwhisper\377\376\r\n--XyZ--\r\n' > "$T/badmodel"
STATUS=$(curl -s -o "$T/resp" -w '%{http_code}' -H "Authorization: Bearer $ATOK" -H 'Content-Type: multipart/form-data; boundary=XyZ' \
	--data-binary @"$T/badmodel" "http://$GW/openai/v1/audio/transcriptions")
check_eq "a form's model that is not text: 400 with a message" "400|true" "$STATUS|$(jq -r '.error.message | length > 0' "$T/resp")"
post /openai/v1/chat/completions '{"model":"llama-\udc80","messages":[{"role":"user","content":"x"}]}'
check_eq "a JSON model with a lone surrogate: 400 with a message" "400|true" "$STATUS|$(jq_body '.error.message | length > 0')"
curl -s -X POST "http://$FAKE/_fake/faults" -d '{"report_prompt_tokens":1000000000000000000}' > /dev/null
post /openai/v1/chat/completions '{"model":"llama-3.1-8b-instant","messages":[{"role":"user","content":"x"}],"max_tokens":5}'
curl -s -X DELETE "http://$FAKE/_fake/faults" > /dev/null
check_eq "usage of 10^18 prompt tokens: served" 200 "$STATUS"
check_eq "charged at the bound (16 Mi tokens), never wrapped" "16777216|838861200" "$(last_row "prompt_tokens||'|'||cost_nusd")"
api GET /admin/v1/teams/alpha
check_eq "the team's spend stays positive and sane ($(jq_body .spend_mtd_usd))" true "$(jq_body '.spend_mtd_usd > 0 and .spend_mtd_usd < 100')"
api GET /admin/v1/alerts
check_contains "an alert says Groq's usage was impossible" upstream_usage_invalid "$BODY"

# ---- early ends: Groq silent mid-answer (upstream.idle_timeout_ms), answers too large
curl -s -X POST "http://$FAKE/_fake/faults" -d '{"stall_stream_after":3}' > /dev/null
start=$(date +%s%N)
curl -sN -m 10 -o "$T/stall" -H "Authorization: Bearer $ATOK" -H 'Content-Type: application/json' \
	--data-binary '{"model":"llama-3.3-70b-versatile","stream":true,"max_tokens":50,"messages":[{"role":"user","content":"x"}]}' \
	"http://$GW/openai/v1/chat/completions"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
check "a stream Groq stopped sending ends after the idle timeout ($ms ms, not 10 s)" test "$ms" -lt 5000
check_not_contains "without [DONE]" "[DONE]" "$(cat "$T/stall")"
check_eq "charged its whole reservation (usage never came)" "502|upstream_idle_timeout|50" "$(last_row "status||'|'||reason||'|'||completion_tokens")"
post /openai/v1/responses '{"model":"llama-3.3-70b-versatile","input":"x","max_output_tokens":50}'
check_eq "a buffered answer Groq stopped sending: 504 upstream_idle_timeout" "504|upstream_idle_timeout" "$STATUS|$(jq_body .error.code)"
curl -s -X DELETE "http://$FAKE/_fake/faults" > /dev/null
api PATCH /admin/v1/teams/alpha '{"max_tokens_per_request":12000}'
post /openai/v1/chat/completions '{"model":"llama-3.1-8b-instant","messages":[{"role":"user","content":"x"}],"max_tokens":12000}'
check_eq "an answer over limits.max_answer_bytes: 502, not buffered" "502|upstream_answer_too_large" "$STATUS|$(jq_body .error.code)"
check "charged its reservation" test "$(last_row cost_nusd)" -gt 0
api PATCH /admin/v1/teams/alpha '{"max_tokens_per_request":100}'
api GET /admin/v1/teams/alpha
check_eq "nothing left reserved" 0 "$(jq_body '.reserved_usd * 1000000000 | floor')"

# every metered route, once each, as TOKEN: each answered STATUS
every_route() { # every_route TOKEN STATUS
	local long
	long=$(head -c 300 /dev/zero | tr '\0' a) # (an input whose worst case passes a tiny budget)
	post /openai/v1/chat/completions '{"model":"llama-3.3-70b-versatile","messages":[{"role":"user","content":"x"}]}' "$1"
	check_eq "chat: $2" "$2" "$STATUS"
	post /openai/v1/responses '{"model":"llama-3.3-70b-versatile","input":"x"}' "$1"
	check_eq "responses: $2" "$2" "$STATUS"
	post /openai/v1/embeddings "{\"model\":\"nomic-embed-text-v1_5\",\"input\":\"$long\"}" "$1"
	check_eq "embeddings: $2" "$2" "$STATUS"
	post /openai/v1/audio/speech '{"model":"canopylabs/orpheus-v1-english","input":"hello","voice":"tara"}' "$1"
	check_eq "speech: $2" "$2" "$STATUS"
	AUDIO_TOK=$1 audio "$T/a3.wav" -F model=whisper-large-v3-turbo
	check_eq "transcriptions: $2" "$2" "$STATUS"
}

# ---- a team at its budget gets 402 on every metered route
api POST /admin/v1/teams "{\"id\":\"broke\",\"name\":\"Broke\",\"allowed_models\":[$ALL],\"max_tokens_per_request\":100,\"rpm_limit\":1000,\"monthly_budget_usd\":0.000001}"
create_key broke-prod-api broke "$KEY3"
new_token broke
BTOK=$TOKEN
every_route "$BTOK" 402
check_eq "none reached Groq" 0 "$(fstat "gsk_…0003" requests)"

# ---- a team restricted to one model gets 403 for another on every route
api POST /admin/v1/teams '{"id":"narrow","name":"Narrow","allowed_models":["llama-3.1-8b-instant"],"max_tokens_per_request":100,"rpm_limit":1000,"monthly_budget_usd":100}'
create_key narrow-prod-api narrow "$KEY4"
new_token narrow
NTOK=$TOKEN
every_route "$NTOK" 403
STATUS=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $NTOK" "http://$GW/openai/v1/models/llama-3.3-70b-versatile")
check_eq "GET /models/{id}: 403" 403 "$STATUS"
STATUS=$(curl -s -o "$T/resp" -w '%{http_code}' -H "Authorization: Bearer $NTOK" "http://$GW/openai/v1/models")
check_eq "GET /models lists only the team's" '["llama-3.1-8b-instant"]' "$(jq -c '[.data[].id]' "$T/resp")"
check_eq "none reached Groq but the list" 1 "$(fstat "gsk_…0004" requests)"

# ---- the client's X-Request-Id goes to Groq; a bad one is refused
STATUS=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $ATOK" -H 'X-Request-Id: bad id with spaces' \
	-H 'Content-Type: application/json' --data-binary '{"model":"llama-3.1-8b-instant","messages":[{"role":"user","content":"x"}]}' \
	"http://$GW/openai/v1/chat/completions")
check_eq "an X-Request-Id with spaces: 400" 400 "$STATUS"
curl -s -o /dev/null -H "Authorization: Bearer $ATOK" -H 'X-Request-Id: trace-4711' -H 'Content-Type: application/json' \
	--data-binary '{"model":"llama-3.1-8b-instant","messages":[{"role":"user","content":"x"}]}' "http://$GW/openai/v1/chat/completions"
check "the client's request id is in the request log" wait_for "the log line" 5 grep -q '"client_request_id":"trace-4711"' "$T/groqgated.log"

# ---- the RPM queue: bounded, and re-checked when a request leaves it
api POST /admin/v1/teams '{"id":"qq","name":"Queue","allowed_models":["llama-3.1-8b-instant"],"max_tokens_per_request":100,"rpm_limit":1,"rpm_mode":"queue","queue_max_wait_ms":4000,"monthly_budget_usd":100}'
create_key qq-prod-api qq "$KEY5"
new_token qq
QTOK=$TOKEN
QID=$TOKEN_ID
post /openai/v1/chat/completions '{"model":"llama-3.1-8b-instant","messages":[{"role":"user","content":"x"}]}' "$QTOK"
check_eq "queue team: the minute's one request served" 200 "$STATUS"
QPIDS=""
for i in 1 2; do
	curl -s -m 10 -o "$T/q$i" -w '%{http_code}' -H "Authorization: Bearer $QTOK" -H 'Content-Type: application/json' \
		--data-binary '{"model":"llama-3.1-8b-instant","messages":[{"role":"user","content":"x"}]}' \
		"http://$GW/openai/v1/chat/completions" > "$T/q$i.code" &
	QPIDS="$QPIDS $!"
done
wait_eval "two requests queued" 5 '[ "$(curl -s "http://$GW/admin/v1/teams/qq" -H "Authorization: Bearer $OP_TOKEN" | jq .queued)" = 2 ]'
post /openai/v1/chat/completions '{"model":"llama-3.1-8b-instant","messages":[{"role":"user","content":"x"}]}' "$QTOK"
check_eq "a third while the queue holds limits.queue_max_len (2): 429 at once" 429 "$STATUS"
check_contains "saying the queue is full" "queue is full" "$(jq_body .error.message)"
api DELETE "/admin/v1/teams/qq/tokens/$QID"
wait $QPIDS
check_eq "the queued requests, their token revoked meanwhile: 401 when they leave the queue" "401 401" "$(cat "$T/q1.code") $(cat "$T/q2.code")"
check_eq "only the first reached Groq" 1 "$(fstat "gsk_…0005" requests)"

# ---- CORS: preflights answered from cors.origins alone
pre() { curl -s -o /dev/null -D "$T/pre.h" -w '%{http_code}' -X OPTIONS -H "Origin: $1" -H 'Access-Control-Request-Method: POST' \
	-H 'Access-Control-Request-Headers: authorization,content-type' "http://$GW/openai/v1/chat/completions"; }
check_eq "a preflight from an allowed origin: 204" 204 "$(pre https://app.example.com)"
check_contains "allowing it" "access-control-allow-origin: https://app.example.com" "$(tr -d '\r' < "$T/pre.h" | tr 'A-Z' 'a-z')"
check_eq "from another origin: 403" 403 "$(pre https://evil.example.com)"
check_not_contains "not allowed" "access-control-allow-origin" "$(tr 'A-Z' 'a-z' < "$T/pre.h")"
STATUS=$(curl -s -o /dev/null -D "$T/resp.h" -w '%{http_code}' -H 'Origin: https://app.example.com' -H "Authorization: Bearer $ATOK" \
	"http://$GW/openai/v1/models")
check_contains "an allowed origin's request is answered with Access-Control-Allow-Origin" "access-control-allow-origin" \
	"$(tr 'A-Z' 'a-z' < "$T/resp.h")"

# ---- the process: no core dumps, private files
check_eq "core dumps off (process.core_dumps)" 0 "$(awk '/^Max core file size/ { print $5 }' "/proc/$GW_PID/limits")"
check_eq "the log file is private" 600 "$(stat -c %a "$T/groqgated.log")"
check_eq "the store's journal is private" 600 "$(stat -c %a "$T/gw.db-ledger")"
check "the gateway is alive" kill -0 "$GW_PID"
done_testing
