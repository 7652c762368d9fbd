# End users: the OpenAI `user` field (or X-Groqgate-User) names the end
# user; a team's user_daily_budget_usd and user_rpm_limit hold each one
# separately (one abusive customer cannot spend the team's month), kept
# across a restart, in bounded memory (limits.max_end_users: the least
# recently seen let go, its day's spend not forgotten); the ledger keeps
# the user, and GET /admin/v1/spend groups by it.
source "$(dirname "$0")/../lib.sh"
GW_EXTRA='limits = { max_end_users = 40; };'
setup_basic --completion-tokens 20
ATOK=$TOKEN
M=llama-3.3-70b-versatile
# a request: about 11 prompt + 20 output tokens, reserved at its worst case
api PATCH /admin/v1/teams/alpha '{"user_daily_budget_usd":0.0001,"user_rpm_limit":0}'
check_eq "a per-user daily budget set" "200|0.0001|0" "$STATUS|$(jq_body .user_daily_budget_usd)|$(jq_body .user_rpm_limit)"
codes=""
for i in $(seq 1 8); do chat "$ATOK" "$M" '"max_tokens":20,"user":"alice"'; codes="$codes $STATUS"; done
check_contains "alice within her day's budget: served" 200 "$codes"
check_contains "past it: refused" 402 "$codes"
chat "$ATOK" "$M" '"max_tokens":20,"user":"alice"'
check_eq "402 budget_exceeded" "402|budget_exceeded" "$STATUS|$(jq_body .error.code)"
check_contains "naming the end user, the team and the reset" "End user 'alice' of team 'alpha' has spent or reserved" "$(jq_body .error.message)"
check_contains "and when it resets" "resets at $(date -u -d tomorrow +%Y-%m-%dT00:00:00Z)" "$(jq_body .error.message)"
STATUS=$(curl -s -o "$T/b" -w '%{http_code}' -H "Authorization: Bearer $ATOK" -H 'Content-Type: application/json' \
	-H 'X-Groqgate-User: bob' --data-binary "{\"model\":\"$M\",\"max_tokens\":20,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}" \
	"http://$GW/openai/v1/chat/completions")
check_eq "bob (named by X-Groqgate-User) is served" 200 "$STATUS"
STATUS=$(curl -s -o "$T/b" -w '%{http_code}' -H "Authorization: Bearer $ATOK" -H 'Content-Type: application/json' \
	-H 'X-Groqgate-User: bob' --data-binary "{\"model\":\"$M\",\"max_tokens\":20,\"user\":\"alice\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}" \
	"http://$GW/openai/v1/chat/completions")
check_eq "the body's user wins over the header: alice, refused" 402 "$STATUS"
chat "$ATOK" "$M" '"max_tokens":20'
check_eq "a request naming no user is the team's: served" 200 "$STATUS"
alerts() { api GET "/admin/v1/alerts?limit=200"; jq_body "[.alerts[] | select(.kind == \"$1\")]"; }
check_eq "one user_budget_reached alert for alice (refused twice)" 1 "$(alerts user_budget_reached | jq length)"
check_contains "... naming her, the team and the budget" "End user alice of team alpha reached its daily budget of \$0.0001" \
	"$(alerts user_budget_reached | jq -r '.[0].message')"
api GET /admin/v1/teams/alpha
check_eq "the team stays active" active "$(jq_body .state)"
alice=$(sql "select coalesce(sum(cost_nusd), 0) from ledger where end_user = 'alice'")
check "alice's spend in the ledger ($alice nusd) within her budget (100000)" test "$alice" -gt 0 -a "$alice" -le 100000
check_eq "the ledger names the user of each row" "alice bob" "$(sql "select distinct end_user from ledger where end_user is not null order by 1" | xargs)"
# a caller's own quota, for the user it names
STATUS=$(curl -s -o "$T/q" -D "$T/q.h" -w '%{http_code}' -H "Authorization: Bearer $ATOK" -H 'X-Groqgate-User: alice' \
	"http://$GW/groqgate/v1/quota")
ub=$(jq -c '.budgets[] | select(.period == "user_daily")' "$T/q")
check_eq "quota for alice: her daily budget and its spend" "200|0.0001|$alice" \
	"$STATUS|$(printf %s "$ub" | jq -r '"\(.limit_usd)|\(.spent_usd * 1000000000 | round)"')"
check_eq "what she has left" "$((100000 - alice))" "$(printf %s "$ub" | jq -r '.remaining_usd * 1000000000 | round')"
check_eq "the header says the least remaining: hers" "$((100000 - alice))" \
	"$(tr -d '\r' < "$T/q.h" | awk -F': ' 'tolower($1) == "x-groqgate-budget-remaining-usd" { printf "%.0f", $2 * 1000000000 }')"
# showback by user: sums to the ledger
from=$(date -u +%Y-%m-01)
to=$(date -u +%Y-%m-%d)
api GET "/admin/v1/spend?from=$from&to=$to&group_by=team,user&format=json"
check_eq "spend grouped by user" 200 "$STATUS"
check_eq "alice's row is the ledger's" "$alice" "$(jq_body '[.rows[] | select(.user == "alice") | .cost_usd] | add * 1000000000 | round')"
check_eq "the rows sum to the ledger" "$(sql "select sum(cost_nusd) from ledger")" "$(jq_body '[.rows[].cost_usd] | add * 1000000000 | round')"
STATUS=$(curl -s -o "$T/s.csv" -w '%{http_code}' -H "Authorization: Bearer $OP_TOKEN" \
	"http://$GW/admin/v1/spend?from=$from&to=$to&group_by=user&format=csv")
check_eq "as CSV, its header row" "200|user,requests,input_tokens,cached_input_tokens,output_tokens,audio_seconds,characters,cost_usd" \
	"$STATUS|$(head -1 "$T/s.csv")"
# across a restart: alice's day rebuilt from the ledger
stop_gateway
start_gateway
chat "$ATOK" "$M" '"max_tokens":20,"user":"alice"'
check_eq "after a restart alice is still refused" 402 "$STATUS"
check_eq "... still one user_budget_reached alert for her today (not one more a restart)" 1 "$(alerts user_budget_reached | jq length)"
bob=$(sql "select sum(cost_nusd) from ledger where end_user = 'bob'")
check_eq "bob's day's spend rebuilt from the ledger ($bob nusd)" "$bob" \
	"$(curl -s -H "Authorization: Bearer $ATOK" -H 'X-Groqgate-User: bob' "http://$GW/groqgate/v1/quota" |
		jq -r '.budgets[] | select(.period == "user_daily") | .spent_usd * 1000000000 | round')"
# per-user requests per minute
api PATCH /admin/v1/teams/alpha '{"user_daily_budget_usd":0,"user_rpm_limit":3}'
codes=""
for i in 1 2 3 4; do chat "$ATOK" "$M" '"max_tokens":20,"user":"carol"'; codes="$codes $STATUS"; done
check_eq "carol at 3 a minute: the fourth is 429" " 200 200 200 429" "$codes"
check_eq "in Groq's shape" "requests|rate_limit_exceeded" "$(jq_body .error.type)|$(jq_body .error.code)"
check_contains "naming the end user" "end user 'carol' of team 'alpha' on requests per minute" "$(jq_body .error.message)"
check "with a retry-after" test -n "$(hdr retry-after)"
chat "$ATOK" "$M" '"max_tokens":20,"user":"dave"'
check_eq "while dave is served" 200 "$STATUS"
# bounded memory: 40 held; the least recently seen let go, its day kept
api PATCH /admin/v1/teams/alpha '{"user_daily_budget_usd":0.0001,"user_rpm_limit":0}'
codes=""
for i in $(seq 1 8); do chat "$ATOK" "$M" '"max_tokens":20,"user":"hog"'; codes="$codes $STATUS"; done
check_contains "hog spends its day" 402 "$codes"
: > "$T/many"
for i in $(seq 1 60); do
	curl -s -o /dev/null -w '%{http_code}\n' --max-time 10 -H "Authorization: Bearer $ATOK" -H 'Content-Type: application/json' \
		-H "X-Groqgate-User: visitor-$i" --data-binary "{\"model\":\"$M\",\"max_tokens\":20,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}" \
		"http://$GW/openai/v1/chat/completions" >> "$T/many"
done
check_eq "60 more users served" 60 "$(grep -c '^200$' "$T/many")"
held=$(metric groqgate_end_users)
evicted=$(metric groqgate_end_users_evicted_total)
echo "# end users held $held, let go $evicted"
check "at most limits.max_end_users held ($held <= 40)" test "$held" -le 40
check "the least recently seen were let go ($evicted >= 20)" test "$evicted" -ge 20
chat "$ATOK" "$M" '"max_tokens":20,"user":"hog"'
check_eq "hog, let go meanwhile, is still refused: its day's spend was kept" 402 "$STATUS"
# bad names
chat "$ATOK" "$M" '"max_tokens":20,"user":5'
check_eq "a user that is not a string: 400" "400|invalid_value" "$STATUS|$(jq_body .error.code)"
chat "$ATOK" "$M" '"max_tokens":20,"user":""'
check_eq "an empty user: 400" 400 "$STATUS"
chat "$ATOK" "$M" "\"max_tokens\":20,\"user\":\"$(head -c 300 /dev/zero | tr '\0' u)\""
check_eq "a user over 256 bytes: 400" 400 "$STATUS"
chat "$ATOK" "$M" '"max_tokens":20,"user":"a\u0007b"'
check_eq "a user with a control character: 400" 400 "$STATUS"
chat "$ATOK" "$M" '"max_tokens":20,"user":"alice","User":"mallory"'
check_eq "a case variant of user: 400 (Groq would read another user)" "400|invalid_key" "$STATUS|$(jq_body .error.code)"
chat "$ATOK" "$M" '"max_tokens":20,"user":"mallory","user":"alice"'
check_eq "user twice: 400" "400|duplicate_key" "$STATUS|$(jq_body .error.code)"
api PATCH /admin/v1/teams/alpha '{"user_rpm_limit":-1}'
check_eq "a negative user_rpm_limit: 400" "400|invalid_value" "$STATUS|$(jq_body .error.code)"
api PATCH /admin/v1/teams/alpha '{"user_daily_budget_usd":"lots"}'
check_eq "a bad user budget: 400" "400|invalid_value" "$STATUS|$(jq_body .error.code)"
done_testing
