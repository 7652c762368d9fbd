# groqtop's Groq view against a real gateway polling fakegroq's Enterprise
# metrics: :groq with a drifting team at 120x40 and 80x24, the header's
# Groq state, --snapshot --view groq, and the direct mode
# (--groq-key-file) that still shows Groq's side with the gateway down.
source "$(dirname "$0")/lib.sh"
MKEY=gsk_testMMMMMMMMMMMMMMMMMMMMMMMMMMMM0009
printf '%s proj_chat\n%s proj_search\n%s\n%s\n%s\n%s proj_ops\n' "$KEY1" "$KEY2" "$KEY3" "$KEY4" "$KEY5" "$MKEY" > "$T/fake-keys"
start_fakegroq --metrics
(umask 077; printf '%s\n' "$MKEY" > "$T/groq-key")
write_gateway_config "groq_metrics = { key_file = \"$T/groq-key\"; interval_s = 1; drift_min_rpm = 0.5; };"
start_gateway
create_team chatbot '"rpm_limit":60,"monthly_budget_usd":10'
api POST /admin/v1/keys "{\"name\":\"chatbot-prod-api\",\"team\":\"chatbot\",\"secret\":\"$KEY1\",\"groq_project\":\"proj_chat\"}"
new_token chatbot; CHAT=$TOKEN
create_team search '"rpm_limit":600,"monthly_budget_usd":250'
api POST /admin/v1/keys "{\"name\":\"search-prod-api\",\"team\":\"search\",\"secret\":\"$KEY2\",\"groq_project\":\"proj_search\"}"
new_token search; SEARCH=$TOKEN
for i in 1 2 3 4 5 6; do chat "$CHAT" llama-3.3-70b-versatile '"max_tokens":100'; done
for i in 1 2 3; do chat "$SEARCH" llama-3.1-8b-instant '"max_tokens":5'; done
# a "rogue" service calls Groq with chatbot's key, around the gateway
for i in 1 2 3 4; do
	curl -s -o /dev/null -H "Authorization: Bearer $KEY1" -H 'Content-Type: application/json' \
		--data-binary '{"model":"llama-3.3-70b-versatile","messages":[{"role":"user","content":"around"}]}' \
		"http://$FAKE/openai/v1/chat/completions"
done
groqj() { curl -s -H "Authorization: Bearer $VIEW_TOKEN" "http://$GW/admin/v1/groq"; }
wait_eval "the drift on proj_chat" 10 "groqj | jq -e '.projects[] | select(.project == \"proj_chat\") | .drift'"
make_tokfiles

tui_start 120x40
tui_groqtop
tui_wait "chatbot-prod-api"
tui_check "the header shows Groq's drift" "groq DRIFT 1"
tui_keys ':'
tui_type groq
tui_keys Enter
tui_wait "proj_chat"
tui_wait "llama-3.1-8b-instant"
tui_golden groq-120x40
tui_screen -e > "$T/colour"
check "the drifting project is drawn in the alert colour" grep -q 'DRIFT' "$T/colour"
tui_keys Enter
tui_check "Enter opens the drifting project's team in the teams pane" "─ chatbot ─"
tui_check "... back on the main screen" "Upstream keys"
tui_keys ':'
tui_type groq
tui_keys Enter
tui_wait "proj_search"
tui_keys j Enter
tui_check "j selects the next project; Enter opens its team" "─ search ─"
tui_keys ':'
tui_type groq
tui_keys Enter
tui_wait "proj_search"
tui_keys j k Enter
tui_check "opened afresh on the drifting project: j, then k back to it" "─ chatbot ─"
tui_keys q
tui_wait_exit
tui_resize 80 24
tui_groqtop
tui_wait "chatbot-prod-api"
tui_keys ':'
tui_type groq
tui_keys Enter
tui_wait "proj_search"
tui_golden groq-80x24
tui_keys q
tui_wait_exit

# --snapshot --view groq, for scripts
out=$("$BIN/groqtop" --gateway "http://$GW" --token-file "$TOKFILE" --snapshot --view groq --size 120x40)
check_eq "--snapshot --view groq exits 0" 0 $?
check_contains "it shows Groq's figures" "proj_search" "$out"
check_contains "and the drift" "DRIFT on 1 project" "$out"
out=$("$BIN/groqtop" --gateway "http://$GW" --token-file "$TOKFILE" --snapshot --view bogus 2>&1); rc=$?
check_eq "an unknown view is refused" "2|groqtop: --view must be teams, alerts, audit, usage, tokens, groq, fleet, capacity, spend or models" "$rc|$out"
check_not_contains "the Groq key is never on screen" "$MKEY" "$out$(cat "$T"/*.actual 2>/dev/null)"

# direct mode: the gateway down, Groq's side still on screen
chmod 644 "$T/groq-key"
out=$("$BIN/groqtop" --gateway "http://$GW" --token-file "$TOKFILE" --groq-key-file "$T/groq-key" --groq-url "http://$FAKE" --snapshot --view groq 2>&1); rc=$?
check_eq "a Groq key file others can read is refused" 2 "$rc"
chmod 600 "$T/groq-key"
stop_gateway
out=$("$BIN/groqtop" --gateway "http://$GW" --token-file "$TOKFILE" --snapshot --view groq 2>&1); rc=$?
check_eq "without direct mode, the gateway down is an error" 1 "$rc"
tui_resize 120 40
tui_groqtop --groq-key-file "$T/groq-key" --groq-url "http://$FAKE"
tui_wait "down"
tui_keys ':'
tui_type groq
tui_keys Enter
tui_wait "Direct from Groq"
tui_wait "proj_search"
tui_golden groq-direct
check_not_contains "the key is not on screen" "$MKEY" "$(tui_screen)"
tui_keys q
tui_wait_exit
out=$("$BIN/groqtop" --gateway "http://$GW" --token-file "$TOKFILE" --groq-key-file "$T/groq-key" --groq-url "http://$FAKE" --snapshot --view groq --size 120x40 2>&1)
check_eq "--snapshot in direct mode works with the gateway down" 0 $?
check_contains "labelled as direct" "Direct from Groq" "$out"
check_contains "with the projects Groq counts" "proj_chat" "$out"
done_testing
