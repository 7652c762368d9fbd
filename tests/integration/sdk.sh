# The official groq-sdk and openai npm clients against fakegroq and
# through groqgated: completions, streams and their error types.
source "$(dirname "$0")/../lib.sh"
NODE_DIR="$ROOT/build/sdk-node"
if ! command -v node > /dev/null || ! command -v npm > /dev/null; then
	fail "node and npm are needed for the SDK tests (scripts/deps installs them)"; done_testing
fi
if [ ! -d "$NODE_DIR/node_modules/groq-sdk" ] || ! cmp -s "$ROOT/tests/sdk/package-lock.json" "$NODE_DIR/package-lock.json"; then
	mkdir -p "$NODE_DIR"
	cp "$ROOT/tests/sdk/package.json" "$ROOT/tests/sdk/package-lock.json" "$NODE_DIR/"
	(cd "$NODE_DIR" && npm ci --no-audit --no-fund --loglevel=error > "$T/npm.log" 2>&1) ||
		{ fail "npm ci of groq-sdk and openai failed: $(tail -3 "$T/npm.log")"; done_testing; }
fi
cp "$ROOT/tests/sdk/clients.mjs" "$NODE_DIR/"
KEY6=gsk_testFFFFFFFFFFFFFFFFFFFFFFFFFFFF0006
printf '%s\n' "$KEY1" "$KEY2" "$KEY3" "$KEY4" "$KEY5" "$KEY6" > "$T/fake-keys"
GW_EXTRA='model_aliases = ( { alias = "fast"; model = "llama-3.1-8b-instant"; }, { alias = "smart"; model = "llama-3.3-70b-versatile"; } );'
setup_basic
node "$NODE_DIR/clients.mjs" fake "http://$FAKE" "$KEY2" gsk_not_a_key_at_all "http://$FAKE"
curl -s -X DELETE "http://$FAKE/_fake/faults" > /dev/null
ATOK=$TOKEN
create_team paused
create_key paused-prod-api paused "$KEY3"
new_token paused; PTOK=$TOKEN
api POST /admin/v1/teams/paused/pause '{"reason":"sdk test"}'
create_team slow '"rpm_limit":1'
create_key slow-prod-api slow "$KEY4"
new_token slow; STOK=$TOKEN
create_team broke '"monthly_budget_usd":0.0000001'
create_key broke-prod-api broke "$KEY5"
new_token broke; BTOK=$TOKEN
# slow's one request a minute is used by each client: give each its own window
node "$NODE_DIR/clients.mjs" gate "http://$GW" "$ATOK" "$PTOK" "$STOK" "$BTOK"
# every other route, through the official clients
create_team ears '"allowed_models":["llama-3.3-70b-versatile","whisper-large-v3-turbo","canopylabs/orpheus-v1-english"]'
create_key ears-prod-api ears "$KEY6"
new_token ears
curl -s -X POST "http://$FAKE/_fake/faults" -d '{"chunk_delay_ms":60}' > /dev/null
node "$NODE_DIR/clients.mjs" routes "http://$GW" "$TOKEN"
curl -s -X DELETE "http://$FAKE/_fake/faults" > /dev/null
# models that come and go: an alias, a fallback after Groq's 503
api PATCH /admin/v1/teams/alpha '{"fallbacks":{"llama-3.3-70b-versatile":["llama-3.1-8b-instant"]}}'
node "$NODE_DIR/clients.mjs" models "http://$GW" "$ATOK" "http://$FAKE"
row() { sql "select $1 from ledger where team='ears' and route='$2' and status=${3:-200} order by id desc limit 1"; }
first=$(sql "select prompt_tokens||' '||completion_tokens||' '||cost_nusd from ledger where team='ears' and route='responses' and status=200 order by id limit 1")
read -r pt ct cost <<< "$first"
check_eq "the SDKs' Responses call metered at the price table" "6|$((pt * 590 + 6 * 790))" "$ct|$cost"
check_eq "their transcriptions billed by duration (12 s)" 12 "$(row quantity audio.transcriptions)"
check_eq "their speech billed by characters (12)" "12|264000" "$(row "quantity||'|'||cost_nusd" audio.speech)"
wait_eval "the aborted stream's row" 10 '[ -n "$(row completion_tokens chat.completions 499)" ]'
got=$(row completion_tokens chat.completions 499)
check "the SDK's abort is charged the tokens it was sent ($got of 20), not zero" test "$got" -ge 3 -a "$got" -le 20
done_testing
