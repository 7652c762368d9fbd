# Guided key rotation: the whole procedure under steady load with zero
# failed requests, every illegal transition, abort and restart at each step,
# a new key Groq rejects, the secret-manager hook, and canary secrets.
source "$(dirname "$0")/../lib.sh"
cat > "$T/hook.sh" <<'HOOK'
#!/bin/sh
# an example secret-manager hook: the secret arrives on stdin only
read -r secret
printf '%s' "$secret" > "$HOOK_OUT/stdin"
printf '%s\n' "$@" > "$HOOK_OUT/argv"
env > "$HOOK_OUT/env"
echo "stored $GROQGATE_KEY_NAME ($GROQGATE_KEY_FINGERPRINT); value was $secret"
printf '%s' "$secret" | base64
HOOK
chmod +x "$T/hook.sh"
export HOOK_OUT=$T
GW_EXTRA="rotation = { drain_seconds = 2; secret_hook = \"$T/hook.sh\"; };"
setup_basic
ATOK=$TOKEN
rot() { api POST "/admin/v1/keys/$1/rotation${2:+/$2}" "${3:-{\}}"; }
step_of() { api GET "/admin/v1/keys/$1"; jq_body '.rotation.step // "none"'; }
fake_reqs() { curl -s "http://$FAKE/_fake/stats" | jq ".keys[\"$1\"].requests"; }

# ---- a steady load for the whole rotation (streaming and not)
load() {
	while [ ! -f "$T/stop" ]; do
		c=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $ATOK" \
			-d '{"model":"llama-3.1-8b-instant","max_tokens":3,"messages":[{"role":"user","content":"x"}]}' "http://$GW/openai/v1/chat/completions")
		echo "plain $c" >> "$T/load"
		s=$(curl -sN -H "Authorization: Bearer $ATOK" \
			-d '{"model":"llama-3.1-8b-instant","stream":true,"max_tokens":3,"messages":[{"role":"user","content":"x"}]}' "http://$GW/openai/v1/chat/completions" | grep -c '^data: \[DONE\]')
		echo "stream $s" >> "$T/load"
	done
}
load &
LOAD_PID=$!
loaded() { [ "$(wc -l < "$T/load" 2>/dev/null || echo 0)" -ge "$1" ]; }
wait_eval "load to flow" 10 'loaded 6'

rot alpha-prod-api switch
check_eq "switch before start: 409" 409 "$STATUS"
check_contains "409 names the current step" "'none'" "$(jq_body .error.message)"
rot alpha-prod-api "" '{"new_secret":"sk-not-groq"}'
check_eq "a new secret not in Groq's format: 422" 422 "$STATUS"
rot alpha-prod-api "" "{\"new_secret\":\"$KEY1\"}"
check_eq "the same secret again: 422" 422 "$STATUS"
REJECTED=gsk_thisKeyIsNotKnownToGroqAtAll0000
rot alpha-prod-api "" "{\"new_secret\":\"$REJECTED\"}"
check_eq "a new key Groq rejects: refused (422)" 422 "$STATUS"
check_contains "with Groq's reason" "Invalid API Key" "$(jq_body .error.message)"
check_eq "and nothing changed" none "$(step_of alpha-prod-api)"

rot alpha-prod-api "" "{\"new_secret\":\"$KEY2\"}"
check_eq "1 start: verified against Groq" "201 verified" "$STATUS $(jq_body .rotation.step)"
check_eq "the new key shown only as a fingerprint" "gsk_…0002" "$(jq_body .rotation.new_fingerprint)"
rot alpha-prod-api "" "{\"new_secret\":\"$KEY3\"}"
check_eq "a second start: 409" 409 "$STATUS"
rot alpha-prod-api switch
check_eq "switch before deploy: 409" 409 "$STATUS"
rot alpha-prod-api complete '{"confirm":true}'
check_eq "complete before switch: 409" 409 "$STATUS"
rot alpha-prod-api deploy
check_eq "2 deploy: deployed" deployed "$(jq_body .rotation.step)"
check_eq "the old key still serves" old "$(jq_body .rotation.serving)"
rot alpha-prod-api deploy
check_eq "deploy twice: 409" 409 "$STATUS"

rot alpha-prod-api secret-updated
check_eq "3 secret manager via the hook: secret_updated" secret_updated "$(jq_body .rotation.step)"
check_eq "the hook got the secret on stdin" "$KEY2" "$(cat "$T/stdin")"
check_not_contains "not in its argv" "$KEY2" "$(cat "$T/argv")"
check_not_contains "not in its environment" "$KEY2" "$(cat "$T/env")"
hook_audit=$(sql "select after from audit where action='key.rotation.secret_updated'")
check_contains "the audit records the hook's exit status" '"hook_exit":0' "$hook_audit"
check_contains "and the size of its output" '"hook_output_lines":2' "$hook_audit"
check_not_contains "not its words (they may carry the secret in any encoding)" "stored alpha-prod-api" "$hook_audit"
check_not_contains "so neither the secret" "$KEY2" "$hook_audit"
check_not_contains "nor the secret in base64 (a hook printed it so once)" "$(printf %s "$KEY2" | base64)" "$hook_audit"

before_old=$(fake_reqs "gsk_…0001")
rot alpha-prod-api switch
check_eq "4 switch: switched" switched "$(jq_body .rotation.step)"
check_eq "new requests use the new key" new "$(jq_body .rotation.serving)"
n=$(wc -l < "$T/load")
wait_eval "load after the switch" 10 "loaded $((n + 8))"
settled_old=$(fake_reqs "gsk_…0001")
n=$(wc -l < "$T/load")
wait_eval "more load" 10 "loaded $((n + 8))"
check_eq "after the switch Groq sees the old key no more" "$settled_old" "$(fake_reqs "gsk_…0001")"
check "and the new key serves (fakegroq counts it)" test "$(fake_reqs "gsk_…0002")" -gt 2

rot alpha-prod-api complete '{"confirm":true}'
check_eq "5 complete inside the drain window: 409" 409 "$STATUS"
check_contains "the refusal says how long is left" "drain window" "$(jq_body .error.message)"
api GET /admin/v1/keys/alpha-prod-api
check "monitor figures: old-key requests since the switch" test "$(jq_body '.rotation | has("old_key_requests_since_switch")')" = true
check "monitor figures: drain remaining" test "$(jq_body '.rotation.drain_remaining_seconds')" -ge 0
wait_eval "the drain window" 10 '[ "$(step_of alpha-prod-api >/dev/null; jq_body .rotation.drain_remaining_seconds)" = 0 ]'
rot alpha-prod-api complete '{}'
check_eq "complete without confirm: 400" 400 "$STATUS"
rot alpha-prod-api complete '{"confirm":true}'
check_eq "6 complete: back to one active key" "200 null active" "$STATUS $(jq_body .rotation) $(jq_body .state)"
check_eq "the key now is the new one" "gsk_…0002" "$(jq_body .fingerprint)"
check_eq "the old secret is erased from the store" 0 "$(sql "select count(*) from keys where secret='$KEY1' or new_secret='$KEY1'")"
# and from the files themselves: the WAL that held its pages is moved in
# (secure_delete overwrites the old images) and truncated
copies() { cat "$T/gw.db" "$T/gw.db-wal" 2>/dev/null | grep -c -a -F "${1:-$KEY1}"; }
wait_eval "the old secret gone from the files" 5 '[ "$(copies)" = 0 ]'
check_eq "no copy of the old secret in the database or its WAL" 0 "$(copies)"

# Groq deletes the old key: requests still succeed
grep -v "$KEY1" "$T/fake-keys" > "$T/fk" && cp "$T/fk" "$T/fake-keys"
kill -HUP "$FAKE_PID"
n=$(wc -l < "$T/load")
wait_eval "load after the old key is gone" 10 "loaded $((n + 6))"
touch "$T/stop"; wait "$LOAD_PID"
total=$(wc -l < "$T/load")
bad=$(grep -vc -e '^plain 200$' -e '^stream 1$' "$T/load")
check "load ran through the whole rotation ($total requests)" test "$total" -ge 30
check_eq "zero failed client requests during the rotation" 0 "$bad"

# ---- abort at each step returns to the old key alone
create_team beta
create_key beta-prod-api beta "$KEY3"
new_token beta
BTOK=$TOKEN
for upto in verified deployed secret_updated switched; do
	rot beta-prod-api "" "{\"new_secret\":\"$KEY4\"}"
	[ "$upto" != verified ] && rot beta-prod-api deploy
	[ "$upto" = secret_updated ] || [ "$upto" = switched ] && rot beta-prod-api secret-updated '{"confirm":true}'
	[ "$upto" = switched ] && rot beta-prod-api switch
	check_eq "at $upto before abort" "$upto" "$(step_of beta-prod-api)"
	rot beta-prod-api abort
	check_eq "abort at $upto: back to the old key alone" "200 null gsk_…0003" "$STATUS $(jq_body .rotation) $(jq_body .fingerprint)"
	chat "$BTOK" llama-3.1-8b-instant '"max_tokens":1'
	check_eq "and it serves after the abort at $upto" 200 "$STATUS"
done
check_eq "aborts erase the new secret" 0 "$(sql "select count(*) from keys where new_secret is not null")"
rot beta-prod-api abort
check_eq "abort with no rotation: 409" 409 "$STATUS"

# ---- restart at each step
rot beta-prod-api "" "{\"new_secret\":\"$KEY5\"}"
for s in deploy secret-updated switch; do
	[ "$s" = secret-updated ] && rot beta-prod-api "$s" '{"confirm":true}' || rot beta-prod-api "$s"
	want=$(jq_body .rotation.step)
	kill -TERM "$GW_PID"; wait "$GW_PID"
	start_gateway
	check_eq "restart after $s resumes at $want" "$want" "$(step_of beta-prod-api)"
	chat "$BTOK" llama-3.1-8b-instant '"max_tokens":1'
	check_eq "serving after a restart at $want" 200 "$STATUS"
done
check_eq "after a restart post-switch, the new key serves" new "$(api GET /admin/v1/keys/beta-prod-api; jq_body .rotation.serving)"

# a crash right after an erasure: the next start scrubs the WAL first
rot beta-prod-api abort '{}'
kill -9 "$GW_PID"
wait "$GW_PID" 2>/dev/null
start_gateway
check_eq "after kill -9 and a start: no copy of the discarded secret on disk" 0 "$(copies "$KEY5")"

# a hook that closes its output and runs on: the loop never waits for it,
# and rotation.hook_timeout_s kills it
cat > "$T/hook2.sh" <<'HOOK'
#!/bin/sh
exec >&- 2>&-
sleep 30
HOOK
chmod +x "$T/hook2.sh"
stop_gateway
sed -i "s|^rotation = .*|rotation = { drain_seconds = 2; secret_hook = \"$T/hook2.sh\"; hook_timeout_s = 2; };|" "$T/gw.conf"
start_gateway
rot beta-prod-api "" "{\"new_secret\":\"$KEY4\"}"
rot beta-prod-api deploy
check_eq "deployed again, for the slow hook" deployed "$(jq_body .rotation.step)"
curl -s -o "$T/hook2.resp" -w '%{http_code}' -X POST -H "Authorization: Bearer $OP_TOKEN" -d '{}' \
	"http://$GW/admin/v1/keys/beta-prod-api/rotation/secret-updated" > "$T/hook2.code" &
HPID=$!
wait_for "the hook to run" 5 pgrep -f "$T/hook2.sh"
worst=0
for i in 1 2 3 4 5 6 7 8 9 10; do
	t=$(curl -s -o /dev/null -w '%{time_total}' "http://$GW/healthz")
	worst=$(awk -v a="$worst" -v b="$t" 'BEGIN { print (b > a ? b : a) }')
	sleep 0.1
done
check "while the hook runs with its output closed, /healthz answers at once (worst ${worst} s)" awk -v w="$worst" 'BEGIN { exit !(w < 0.5) }'
wait "$HPID"
check_eq "the hook is killed at rotation.hook_timeout_s: 502" 502 "$(cat "$T/hook2.code")"
check_contains "saying so" "timed out" "$(jq -r .error.message "$T/hook2.resp")"
check_eq "the step was not taken" deployed "$(step_of beta-prod-api)"
check_eq "and the hook is gone" 1 "$(pgrep -f "$T/hook2.sh" > /dev/null; echo $?)"
check_contains "audited as hook_failed, timed out" '"hook_timed_out":true' \
	"$(sql "select after from audit where action='key.rotation.hook_failed' order by id desc limit 1")"
rot beta-prod-api abort

# ---- audit and canaries
acts=$(sql "select group_concat(distinct action) from audit where action like 'key.rotation.%'")
for a in start deployed secret_updated switched complete abort; do check_contains "audited: key.rotation.$a" "key.rotation.$a" "$acts"; done
api GET /admin/v1/audit?limit=1000; all="$BODY"
api GET /admin/v1/keys; all="$all$BODY"
for s in "$KEY2" "$KEY4" "$KEY5" "$REJECTED"; do
	check_not_contains "new secret ${s: -4} in no API response" "$s" "$all"
	if grep -qF "$s" "$T/groqgated.log" "$T/groqgated-stderr.log"; then fail "new secret in a log"; else ok "new secret ${s: -4} in no log"; fi
	check_eq "new secret ${s: -4} in no audit record" 0 "$(sql "select count(*) from audit where coalesce(before,'')||coalesce(after,'') like '%$s%'")"
done
done_testing
