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
done_testing
