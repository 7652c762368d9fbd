# groqtop and Groq's capacity: the teams pane's TPM column, :capacity and
# --snapshot --view capacity (per model, the organisation's use of each
# limit split by team, priority classes visible), a team's priority and
# TPM limit edited in the limits form (diff, confirmation, saved), and the
# form's warning when a new budget is under what the team already spent.
source "$(dirname "$0")/lib.sh"
M=llama-3.1-8b-instant
start_fakegroq --model-limit "$M=100000:6000" --completion-tokens 250
write_gateway_config "groq_limits = ( { model = \"$M\"; rpd = 100000; tpm = 6000; } );"
start_gateway
api POST /admin/v1/teams "{\"id\":\"etl\",\"name\":\"ETL\",\"allowed_models\":[\"$M\"],\"max_tokens_per_request\":300,\"rpm_limit\":600,\"monthly_budget_usd\":50,\"priority\":\"batch\"}"
api POST /admin/v1/teams "{\"id\":\"prod\",\"name\":\"Production\",\"allowed_models\":[\"$M\"],\"max_tokens_per_request\":300,\"rpm_limit\":600,\"monthly_budget_usd\":50,\"priority\":\"critical\",\"tpm_limit\":50000}"
create_key etl-prod-api etl "$KEY1"; new_token etl; ETL=$TOKEN
create_key prod-prod-api prod "$KEY2"; new_token prod; PROD=$TOKEN
codes=""
for i in $(seq 1 14); do chat "$ETL" "$M" '"max_tokens":300'; codes="$codes $STATUS"; done
for i in 1 2 3; do chat "$PROD" "$M" '"max_tokens":300'; done
check_contains "the batch team was held at its share (some 429s)" 429 "$codes"
make_tokfiles

# ---- --snapshot --view capacity
snap=$("$BIN/groqtop" --gateway "http://$GW" --token-file "$TOKFILE" --snapshot --view capacity --size 120x40 2>&1)
check_contains "snapshot: the capacity view's title" "Capacity: Groq's limits per model" "$snap"
check_contains "snapshot: the model, declared" "$M  (declared)" "$snap"
check_contains "snapshot: its TPM of 6000" "/ 6000" "$snap"
check_contains "snapshot: the batch team, by class" "etl (batch)" "$snap"
check_contains "snapshot: the critical team" "prod (critical)" "$snap"

# ---- the console: the TPM column, :capacity
tui_start 120x40
tui_groqtop
tui_wait "prod-prod-api"
tui_check "the teams pane has a TPM column, and the refusals" "   TPM REF/m SPEND"
refused=$(( $(grep -o 429 <<< "$codes" | wc -l) ))
check "etl's row counts its $refused refusals of the last minute" tui_has "$(printf ' %5d ' "$refused")"
tui_check "the pane's title counts the teams refusing" "refusing: 1"
tui_check "and the detail says why (its rate: Groq's capacity share)" "refused $refused in the last minute: rate $refused"
tui_type ":capacity"
tui_keys Enter
tui_check ":capacity opens the view" "Capacity: Groq's limits per model"
tui_check "with the model's limits" "$M  (declared)"
tui_check "the split gauge marks the batch class" "░"
tui_check "and the critical class" "█"
tui_golden capacity-120x40
tui_keys Escape
tui_wait_gone "Capacity: Groq's"

# ---- priority and TPM limit in the limits form (etl is the first team)
tui_keys l
tui_wait "Edit limits"
tui_check "the form has the priority" "Priority"
for i in 1 2 3 4 5 6 7; do tui_keys Down; done
tui_keys BSpace BSpace BSpace BSpace BSpace BSpace BSpace BSpace
tui_type "standard"
tui_keys Down
tui_keys BSpace
tui_type "2500"
tui_keys Enter
tui_wait "Review: team limits"
tui_check "the diff shows the priority" "Priority               batch  ->  standard"
tui_check "and the TPM limit" "TPM limit              0  ->  2500"
tui_keys y
tui_wait "saved: team etl"
check_eq "saved in the gateway" "standard|2500" "$(team_field etl '"\(.priority)|\(.tpm_limit)"')"
# a bad priority stays in the form with the reason
tui_keys l
tui_wait "Edit limits"
for i in 1 2 3 4 5 6 7; do tui_keys Down; done
tui_keys BSpace BSpace BSpace BSpace BSpace BSpace BSpace BSpace
tui_type "urgent"
tui_keys Enter
tui_check "a bad priority is refused in the form" "is not a valid value (critical, standard or batch)"
tui_keys Escape
tui_wait_gone "Edit limits"
# the day's and week's budgets and each end user's, in the same form
tui_keys l
tui_wait "Edit limits"
tui_check "the form has the day's budget" "Daily budget (USD)"
tui_check "and each end user's" "End user RPM"
for i in $(seq 1 11); do tui_keys Down; done
tui_keys BSpace
tui_type "7.5"
for i in 1 2 3; do tui_keys Down; done
tui_keys BSpace
tui_type "20"
tui_keys Enter
tui_wait "Review: team limits"
tui_check "the review shows the day's budget" "Daily budget (USD)     0  ->  7.5"
tui_check "and the end user's RPM" "End user RPM           0  ->  20"
tui_keys y
tui_wait "saved: team etl"
check_eq "saved in the gateway" "7.5|20" "$(team_field etl '"\(.daily_budget_usd)|\(.user_rpm_limit)"')"

# ---- a budget under the spend: the confirmation says the team stops
spent=$(team_field etl .spend_mtd_usd)
tui_keys l
tui_wait "Edit limits"
tui_keys BSpace BSpace BSpace BSpace BSpace BSpace BSpace BSpace BSpace BSpace
tui_type "0.000001"
tui_keys Enter
tui_wait "Review: team limits"
tui_check "the confirmation warns the team stops at once (spent \$$spent)" "WARNING: the team has spent"
tui_check "naming the pause" "is PAUSED at once"
tui_keys n
tui_wait_gone "Review: team limits"
check_eq "No: nothing changed" 50 "$(team_field etl .monthly_budget_usd)"
done_testing
