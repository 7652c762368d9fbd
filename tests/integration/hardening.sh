# The third round's hardening, each with the failure it fixes:
# alert thresholds across a restart (stored values replace the defaults,
# never appended to them), "already crossed" exact at a $1e9 budget on
# start-up, on a PATCH and across a restart (no 64-bit overflow).
source "$(dirname "$0")/../lib.sh"
setup_basic

# ---- thresholds across a restart
api GET /admin/v1/teams/alpha
v0=$(jq_body .version)
check_eq "a new team has the default thresholds" "[50,80,95]" "$(printf %s "$BODY" | jq -c .alert_thresholds)"
api PATCH /admin/v1/teams/alpha '{"alert_thresholds":[25,90]}' -H "If-Match: $v0"
check_eq "thresholds set" "200 [25,90]" "$STATUS $(printf %s "$BODY" | jq -c .alert_thresholds)"
api POST /admin/v1/teams '{"id":"beta","name":"Team beta","allowed_models":["llama-3.3-70b-versatile"],"max_tokens_per_request":100,"rpm_limit":100,"monthly_budget_usd":1000000000}'
check_eq "a team with a budget of \$1e9" 201 "$STATUS"
create_key beta-prod-api beta "$KEY2"
new_token beta
BTOK=$TOKEN
chat "$BTOK" llama-3.3-70b-versatile '"max_tokens":5'
check_eq "beta spends" 200 "$STATUS"
stop_gateway
check_eq "the gateway stopped cleanly" 0 "$GW_RC"
start_gateway
api GET /admin/v1/teams/alpha
check_eq "after a restart the thresholds are the stored ones, not appended to the defaults" "[25,90]" \
	"$(printf %s "$BODY" | jq -c .alert_thresholds)"
check_eq "and the version did not move" "$((v0 + 1))" "$(jq_body .version)"
stop_gateway
start_gateway
api GET /admin/v1/teams/alpha
check_eq "a second restart: still the stored ones" "[25,90]" "$(printf %s "$BODY" | jq -c .alert_thresholds)"
api GET /admin/v1/teams/beta
check_eq "the \$1e9 team survived the restart (no overflow on start-up)" "active" "$(jq_body .state)"
# the start-up decided no threshold was crossed: a budget lowered to put the
# spend at 62.5 % alerts 50 % now (with the 64-bit product, 50 x 1e18
# wrapped negative, every threshold counted as crossed at start-up, and the
# 50 % alert was lost for the month)
spend=$(jq_body .spend_mtd_usd)
check "beta has spent something" awk -v s="$spend" 'BEGIN { exit !(s > 0) }'
bv=$(jq_body .version)
api PATCH /admin/v1/teams/beta "{\"monthly_budget_usd\":$(awk -v s="$spend" 'BEGIN { printf "%.9f", s * 1.6 }')}" -H "If-Match: $bv"
check_eq "the budget lowered" 200 "$STATUS"
api GET /admin/v1/alerts
check_eq "the 50 % alert came, and only it" "crossed 50%" \
	"$(printf %s "$BODY" | jq -r '[(.alerts? // .)[] | select(.team=="beta" and .kind=="budget_threshold") | .message] | map(capture("(?<c>crossed [0-9]+%)").c) | join(",")')"
stop_gateway
check_eq "stopped cleanly" 0 "$GW_RC"

# ---- the Groq metrics key file is refused as the tokens file is
printf '%s\n' "$KEY5" > "$T/metrics-key"
chmod 640 "$T/metrics-key"
cp "$T/gw.conf" "$T/gw-base.conf"
printf 'groq_metrics = { key_file = "%s"; interval_s = 30; };\n' "$T/metrics-key" >> "$T/gw.conf"
out=$("$BIN/groqgated" --check-config "$T/gw.conf" 2>&1)
check_eq "--check-config: a group-readable metrics key file fails" 1 "$?"
check_contains "naming the setting and the mode" "groq_metrics.key_file: $T/metrics-key: permissions 0640 are too open" "$out"
check_not_contains "without the key" "$KEY5" "$out"
"$BIN/groqgated" --config "$T/gw.conf" > /dev/null 2> "$T/start.err" &
spid=$!
wait_eval "the gateway to refuse to start" 10 '! kill -0 $spid'
wait $spid
check_eq "groqgated refuses to start with it" 1 "$?"
check_contains "saying why" "groq_metrics.key_file" "$(cat "$T/start.err")"
chmod 600 "$T/metrics-key"
"$BIN/groqgated" --check-config "$T/gw.conf" > /dev/null 2>&1
check_eq "mode 600: accepted" 0 "$?"
cp "$T/gw-base.conf" "$T/gw.conf"
done_testing
