# Budgets by day and week beside the month: refused (402) naming the window
# and when it resets, kept across a restart and a budget change, exact
# under 60 concurrent requests for the last cent; a caller's own quota
# (GET /groqgate/v1/quota, x-groqgate-budget-remaining-usd on every
# answer); showback (GET /admin/v1/spend) summing to the ledger to the
# nano-dollar, as JSON and CSV; bad input answered 400 naming the field.
source "$(dirname "$0")/../lib.sh"
setup_basic --completion-tokens 20
ATOK=$TOKEN
M=llama-3.3-70b-versatile
# one request: about 11 prompt + 20 output tokens at 0.59/0.79 per Mtok;
# reserved at its worst case (prompt estimate + the cap of 100)
api PATCH /admin/v1/teams/alpha '{"daily_budget_usd":0.0002}'
check_eq "a daily budget set" "200|0.0002" "$STATUS|$(jq_body .daily_budget_usd)"
codes=""
for i in $(seq 1 12); do chat "$ATOK" "$M" '"max_tokens":20'; codes="$codes $STATUS"; done
check_contains "within the day's budget: served" "200" "$codes"
check_contains "past it: refused" "402" "$codes"
chat "$ATOK" "$M" '"max_tokens":20'
check_eq "402 budget_exceeded" "402|budget_exceeded" "$STATUS|$(jq_body .error.code)"
tomorrow=$(date -u -d 'tomorrow' +%Y-%m-%dT00:00:00Z)
check_contains "the message names the window and when it resets" "daily budget resets at $tomorrow" "$(jq_body .error.message)"
api GET /admin/v1/teams/alpha
today=$(jq_body .spend_today_usd)
check "spend_today_usd within the daily budget ($today <= 0.0002)" awk -v s="$today" 'BEGIN { exit !(s > 0 && s <= 0.0002) }'
check_eq "the team stays active (a day's budget refuses, it does not pause)" active "$(jq_body .state)"
check_eq "the week holds the day's spend" "$today" "$(jq_body .spend_week_usd)"
# the budget changed mid-day: the spend so far is kept, not re-based
api PATCH /admin/v1/teams/alpha '{"daily_budget_usd":0.0003}'
check_eq "a budget raised mid-day keeps the day's spend" "$today" "$(jq_body .spend_today_usd)"
# across a restart: rebuilt from the ledger
stop_gateway
start_gateway
api GET /admin/v1/teams/alpha
check_eq "after a restart the day's spend is the same" "$today" "$(jq_body .spend_today_usd)"
check_eq "and the week's" "$today" "$(jq_body .spend_week_usd)"
# a weekly budget below what the week spent: refused naming the week
api PATCH /admin/v1/teams/alpha '{"daily_budget_usd":0,"weekly_budget_usd":0.0001}'
chat "$ATOK" "$M" '"max_tokens":20'
check_eq "past the week's budget: 402" 402 "$STATUS"
check_contains "naming the weekly budget" "weekly budget resets at" "$(jq_body .error.message)"
hdr_rem=$(hdr x-groqgate-budget-remaining-usd)
check_eq "a refusal carries what is left (nothing)" "0.000000000" "$hdr_rem"
# ---- 60 requests racing for the last cent of a day
create_team race '"daily_budget_usd":0.001,"max_tokens_per_request":20'
create_key race-prod-api race "$KEY2"
new_token race
RTOK=$TOKEN
race 60 "$RTOK" "{\"model\":\"$M\",\"max_tokens\":20,\"messages\":[{\"role\":\"user\",\"content\":\"race\"}]}" "$T/race.codes" "$GW"
served=$(grep -c '^200$' "$T/race.codes")
settled=$(sql "select coalesce(sum(cost_nusd), 0) from ledger where team = 'race'")
echo "# 60 racing for \$0.001 a day: $served served, settled $settled nusd"
check "60 at once: settled spend ($settled nusd) never passes the day's budget (1000000)" test "$settled" -le 1000000
check "and some were served ($served)" test "$served" -ge 1
# ---- a caller's own quota
api PATCH /admin/v1/teams/alpha '{"weekly_budget_usd":50,"daily_budget_usd":10}'
STATUS=$(curl -s -o "$T/q" -D "$T/q.h" -w '%{http_code}' -H "Authorization: Bearer $ATOK" "http://$GW/groqgate/v1/quota")
Q=$(cat "$T/q")
check_eq "GET /groqgate/v1/quota with a client token" 200 "$STATUS"
check_eq "its team and key" "alpha|alpha-prod-api" "$(printf %s "$Q" | jq -r '"\(.team)|\(.key)"')"
check_eq "every budget, in order" "monthly weekly daily" "$(printf %s "$Q" | jq -r '[.budgets[].period] | join(" ")')"
check_eq "the daily budget's limit and reset" "10|$tomorrow" \
	"$(printf %s "$Q" | jq -r '.budgets[] | select(.period == "daily") | "\(.limit_usd)|\(.resets_at)"')"
check "remaining = limit - spent for each" test "$(printf %s "$Q" | jq '[.budgets[] | select((.limit_usd - .spent_usd - .remaining_usd) | fabs > 0.000001)] | length')" = 0
check_eq "its limits" "1000|0" "$(printf %s "$Q" | jq -r '"\(.limits.rpm_limit)|\(.limits.tpm_limit)"')"
check_eq "its models" "llama-3.3-70b-versatile,llama-3.1-8b-instant" "$(printf %s "$Q" | jq -r '.models | join(",")')"
check "the header says the least remaining" grep -qi '^x-groqgate-budget-remaining-usd: 9\.' "$T/q.h"
check_eq "an admin token gets 401 there" 401 "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $OP_TOKEN" "http://$GW/groqgate/v1/quota")"
new_token alpha
api DELETE "/admin/v1/teams/alpha/tokens/$TOKEN_ID"
check_eq "a revoked client token gets 401" 401 "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "http://$GW/groqgate/v1/quota")"
chat "$ATOK" "$M" '"max_tokens":20'
check "every answer carries x-groqgate-budget-remaining-usd ($(hdr x-groqgate-budget-remaining-usd))" \
	awk -v r="$(hdr x-groqgate-budget-remaining-usd)" 'BEGIN { exit !(r > 9 && r <= 10) }'
# ---- showback
from=$(date -u +%Y-%m-01)
to=$(date -u +%Y-%m-%d)
api GET "/admin/v1/spend?from=$from&to=$to&group_by=team,model&format=json"
check_eq "spend as JSON" 200 "$STATUS"
ledger=$(sql "select sum(cost_nusd) from ledger")
check_eq "its total is the ledger's to the nano-dollar" "$ledger" "$(jq_body '.total_cost_usd * 1000000000 | round')"
check_eq "its rows sum to it" "$ledger" "$(jq_body '[.rows[].cost_usd] | add * 1000000000 | round')"
check_eq "a team's rows sum to its spend this month" \
	"$(api GET /admin/v1/teams/race; jq_body '.spend_mtd_usd * 1000000000 | round')" \
	"$(api GET "/admin/v1/spend?from=$from&to=$to&group_by=team,model&format=json"; jq_body '[.rows[] | select(.team == "race") | .cost_usd] | add * 1000000000 | round')"
check_eq "rows keyed by team and model" "team,model" "$(jq_body '.rows[0] | keys_unsorted[:2] | join(",")')"
STATUS=$(curl -s -o "$T/s.csv" -w '%{http_code}' -H "Authorization: Bearer $OP_TOKEN" \
	"http://$GW/admin/v1/spend?from=$from&to=$to&group_by=day,team&format=csv")
check_eq "spend as CSV" 200 "$STATUS"
check_eq "its header row" "day,team,requests,input_tokens,cached_input_tokens,output_tokens,audio_seconds,characters,cost_usd" \
	"$(head -1 "$T/s.csv")"
check_eq "its cost column sums to the ledger" "$ledger" \
	"$(tail -n +2 "$T/s.csv" | awk -F, '{ split($NF, p, "."); s += p[1] * 1000000000 + p[2] } END { printf "%d", s }')"
check_eq "a day's rows are today's" "$to" "$(tail -n +2 "$T/s.csv" | cut -d, -f1 | sort -u | tr '\n' ' ' | xargs)"
for bad in "group_by=colour|'group_by'" "from=2026-13-01|'from'" "from=2026-02-30|'from'" \
	"from=2026-03-02&to=2026-03-01|'from' (2026-03-02) is after 'to'" "to=2026-02-30|'to'" \
	"from=2024-01-01&to=2026-01-01|'from' and 'to' are over 366 days apart" "format=xml|'format'"; do
	api GET "/admin/v1/spend?${bad%%|*}"
	check_eq "spend?${bad%%|*}: 400 naming the field" "400|invalid_value|true" \
		"$STATUS|$(jq_body .error.code)|$(jq_body ".error.message | contains(\"${bad#*|}\")")"
done
api GET "/admin/v1/spend?group_by=colour"
check_contains "an unknown grouping names the ones there are" "day, team, key, model, route and user" "$BODY"
for f in daily_budget_usd weekly_budget_usd monthly_budget_usd user_daily_budget_usd; do
	api PATCH /admin/v1/teams/alpha "{\"$f\":-1}"
	check_eq "a negative $f: 400 naming it" "400|invalid_value|true" \
		"$STATUS|$(jq_body .error.code)|$(jq_body ".error.message | contains(\"$f\")")"
done

# ---- an upstream key's own budget and limits, inside its team's:
# staging cannot spend production's money
api POST /admin/v1/teams '{"id":"shop","name":"shop","allowed_models":["llama-3.3-70b-versatile"],"max_tokens_per_request":100,"rpm_limit":1000,"monthly_budget_usd":100}'
create_key shop-prod-api shop "$KEY3"
api POST /admin/v1/keys "{\"name\":\"shop-staging-api\",\"team\":\"shop\",\"secret\":\"$KEY4\",\"monthly_budget_usd\":0.0002,\"rpm_limit\":100}"
check_eq "a key with its own budget and RPM" "201|0.0002|100" "$STATUS|$(jq_body .monthly_budget_usd)|$(jq_body .rpm_limit)"
api POST "/admin/v1/teams/shop/tokens" '{"label":"staging","key":"shop-staging-api"}'
STOK=$(jq_body .token)
api POST "/admin/v1/teams/shop/tokens" '{"label":"prod","key":"shop-prod-api"}'
PTOK=$(jq_body .token)
codes=""
for i in $(seq 1 10); do chat "$STOK" "$M" '"max_tokens":20'; codes="$codes $STATUS"; done
check_contains "the staging key is refused past its own budget" 402 "$codes"
chat "$STOK" "$M" '"max_tokens":20'
check_contains "402 naming the key and its monthly budget" "Upstream key 'shop-staging-api' of team 'shop' has spent or reserved" "$(jq_body .error.message)"
api GET "/admin/v1/alerts?limit=200"
check_eq "one key_budget_reached alert, not one per refusal" 1 "$(jq_body '[.alerts[] | select(.kind == "key_budget_reached")] | length')"
check_contains "... naming the key" "Upstream key shop-staging-api of team shop reached its monthly budget" \
	"$(jq_body '[.alerts[] | select(.kind == "key_budget_reached")][0].message')"
api GET /admin/v1/keys/shop-staging-api
kspend=$(jq_body .spend_mtd_usd)
check "its spend_mtd_usd within its budget ($kspend)" awk -v s="$kspend" 'BEGIN { exit !(s > 0 && s <= 0.0002) }'
chat "$PTOK" "$M" '"max_tokens":20'
check_eq "while production's key of the same team is served" 200 "$STATUS"
stop_gateway
start_gateway
api GET /admin/v1/keys/shop-staging-api
check_eq "the key's spend after a restart" "$kspend" "$(jq_body .spend_mtd_usd)"
chat "$STOK" "$M" '"max_tokens":20'
check_eq "and still refused" 402 "$STATUS"
api GET "/admin/v1/alerts?limit=200"
check_eq "... still one key_budget_reached alert this month (not one more a restart)" 1 \
	"$(jq_body '[.alerts[] | select(.kind == "key_budget_reached")] | length')"
api PATCH /admin/v1/keys/shop-staging-api '{"monthly_budget_usd":0,"rpm_limit":2,"tpm_limit":100000}'
check_eq "a key's limits changed (budget off, RPM 2)" "200|0|2|100000" "$STATUS|$(jq_body .monthly_budget_usd)|$(jq_body .rpm_limit)|$(jq_body .tpm_limit)"
codes=""
for i in 1 2 3; do chat "$STOK" "$M" '"max_tokens":20'; codes="$codes $STATUS"; done
check_eq "its RPM of 2: the third is 429" " 200 200 429" "$codes"
check_contains "naming the key" "upstream key 'shop-staging-api' on requests per minute" "$(jq_body .error.message)"
api PATCH /admin/v1/keys/shop-staging-api '{"tpm_limit":-3}'
check_eq "a negative key limit: 400" "400|invalid_value" "$STATUS|$(jq_body .error.code)"
check_contains "... naming it" "tpm_limit" "$(jq_body .error.message)"
api PATCH /admin/v1/keys/shop-staging-api '{"monthly_budget_usd":"x","rpm_limit":5}'
check_eq "a bad key budget: 400 naming it, nothing changed" "400|true|2" \
	"$STATUS|$(jq_body '.error.message | contains("monthly_budget_usd")')|$(api GET /admin/v1/keys/shop-staging-api; jq_body .rpm_limit)"
api PATCH /admin/v1/keys/shop-nosuch-api '{"monthly_budget_usd":5}'
check_eq "a key budget on an unknown key: 404 naming the key" "404|true" \
	"$STATUS|$(jq_body '.error.message | contains("shop-nosuch-api")')"
# ---- a team whose callers are failing: one team_refusing alert, not one
# per refusal (20 or more refused, half or more of its minute)
api POST /admin/v1/teams '{"id":"noisy","name":"noisy","allowed_models":["llama-3.3-70b-versatile"],"max_tokens_per_request":100,"rpm_limit":1000,"monthly_budget_usd":100,"daily_budget_usd":0.00001}'
create_key noisy-prod-api noisy "$KEY5"
new_token noisy
codes=""
for i in $(seq 1 30); do chat "$TOKEN" "$M" '"max_tokens":20'; codes="$codes $STATUS"; done
check_eq "30 requests over a tiny day's budget: all refused" 30 "$(grep -o 402 <<< "$codes" | wc -l)"
api GET "/admin/v1/alerts?limit=200"
check_eq "one team_refusing alert" 1 "$(jq_body '[.alerts[] | select(.kind == "team_refusing" and .team == "noisy")] | length')"
check_contains "... saying how many of how many, and why" "Team noisy refused 20 of its 20 requests in the last minute (budget 20)" \
	"$(jq_body '[.alerts[] | select(.kind == "team_refusing" and .team == "noisy")][0].message')"
done_testing
