# The admin API behind the console's on-call actions: the emergency stop
# (every active team paused in one transaction, resume restoring exactly
# those), alerts acknowledged (audited, seen by everyone), the audit log
# filtered by team, actor and action, and a team's usage by model and route.
source "$(dirname "$0")/../lib.sh"
setup_basic
ATOK=$TOKEN
jqc() { printf %s "$BODY" | jq -c "$1"; }
create_team beta
create_key beta-prod-api beta "$KEY2"
new_token beta
BTOK=$TOKEN
create_team gamma
create_key gamma-prod-api gamma "$KEY3"
new_token gamma
GTOK=$TOKEN
api POST /admin/v1/teams/gamma/pause '{"reason":"cost review INC-7"}'
check_eq "gamma paused before the stop" 200 "$STATUS"

# ---- emergency stop
api POST /admin/v1/emergency-stop '{}'
check_eq "a stop needs a reason" "400|reason_required" "$STATUS|$(jq_body .error.code)"
api_as "$VIEW_TOKEN" POST /admin/v1/emergency-stop '{"reason":"x"}'
check_eq "a viewer cannot stop the organisation" 403 "$STATUS"
for _ in 1 2 3; do chat "$ATOK" llama-3.1-8b-instant; done
api POST /admin/v1/emergency-stop '{"reason":"leaked key INC-9"}' -H 'X-Operator: Jo'
check_eq "the stop answers the teams it paused" '200|["alpha","beta"]|2' "$STATUS|$(jqc .paused)|$(jq_body .count)"
check_eq "and the requests per minute it stops" 3 "$(jq_body .rpm_stopped)"
for t in "$ATOK" "$BTOK"; do
	chat "$t" llama-3.1-8b-instant
	check_eq "every team's next request: 403 team_paused" "403|team_paused" "$STATUS|$(jq_body .error.code)"
done
check_contains "callers see the reason" "EMERGENCY STOP: leaked key INC-9" "$(jq_body .error.message)"
api GET /admin/v1/teams/alpha
check_eq "paused by the operator" "alice (Jo)" "$(jq_body .paused_by)"
# beta is resumed by hand during the stop, then paused again for another reason
api POST /admin/v1/teams/beta/resume '{}'
api POST /admin/v1/teams/beta/pause '{"reason":"quota talk"}'
api POST /admin/v1/emergency-stop/resume '{}'
check_eq "resume restores only the teams still stopped" '200|["alpha"]' "$STATUS|$(jqc .resumed)"
chat "$ATOK" llama-3.1-8b-instant
check_eq "alpha serves again" 200 "$STATUS"
api GET /admin/v1/teams/gamma
check_eq "gamma, paused before the stop, stays paused with its reason" "paused|cost review INC-7" "$(jq_body '.state + "|" + .paused_reason')"
api GET /admin/v1/teams/beta
check_eq "beta, paused since for another reason, stays paused" "paused|quota talk" "$(jq_body '.state + "|" + .paused_reason')"
api GET '/admin/v1/audit?action=org.'
check_eq "both audited as organisation actions" "org.emergency_resume,org.emergency_stop" "$(jq_body '[.entries[].action] | join(",")')"
check_eq "the stop's record names its teams" '["alpha","beta"]' "$(jqc '.entries[1].after.teams')"

# ---- audit filters
api GET '/admin/v1/audit?team=gamma'
check_eq "team filter: gamma's own entries, its key and token" "team.pause,token.create,key.create,team.create" \
	"$(jq_body '[.entries[].action] | join(",")')"
api GET '/admin/v1/audit?actor=nobody'
check_eq "actor filter" 0 "$(jq_body '.entries | length')"
api GET '/admin/v1/audit?action=team.pause&team=alpha'
check_eq "action and team together" 1 "$(jq_body '.entries | length')"
check_eq "entries carry before and after" 'active>paused' "$(jq_body '.entries[0].before.state + ">" + .entries[0].after.state')"

# ---- alerts: acknowledged by one operator, for everyone
api PATCH /admin/v1/teams/alpha '{"monthly_budget_usd":0.00001}'
api GET /admin/v1/alerts
id=$(jq_body '[.alerts[] | select(.team == "alpha")][0].id')
check "alerts have ids" test "$id" -ge 1
check_eq "not acknowledged yet" null "$(jq_body "[.alerts[] | select(.id == $id)][0].acked_by")"
api_as "$VIEW_TOKEN" POST "/admin/v1/alerts/$id/ack" '{}'
check_eq "a viewer cannot acknowledge" 403 "$STATUS"
api POST "/admin/v1/alerts/$id/ack" '{}' -H 'X-Operator: Sam'
check_eq "acknowledged" "200|alice (Sam)" "$STATUS|$(jq_body .acked_by)"
api POST "/admin/v1/alerts/$id/ack" '{}'
check_eq "a second ack keeps the first" "200|alice (Sam)" "$STATUS|$(jq_body .acked_by)"
api_as "$VIEW_TOKEN" GET /admin/v1/alerts
check_eq "everyone sees who acknowledged it" "alice (Sam)" "$(jq_body "[.alerts[] | select(.id == $id)][0].acked_by")"
api_as "$VIEW_TOKEN" GET /admin/v1/overview
check_eq "the overview's alerts too" "alice (Sam)" "$(jq_body "[.alerts[] | select(.id == $id)][0].acked_by")"
api GET "/admin/v1/audit?action=alert.ack"
check_eq "audited once" "1|alert/$id" "$(jq_body '"\(.entries | length)|\(.entries[0].target)"')"
api POST /admin/v1/alerts/999999/ack '{}'
check_eq "an unknown alert: 404" 404 "$STATUS"

# ---- usage by model and route
api PATCH /admin/v1/teams/alpha '{"monthly_budget_usd":100}'
api POST /admin/v1/teams/alpha/resume '{}'
chat "$ATOK" llama-3.3-70b-versatile
curl -s -o /dev/null -H "Authorization: Bearer $ATOK" -H 'Content-Type: application/json' \
	--data-binary '{"model":"llama-3.1-8b-instant","input":"hi"}' "http://$GW/openai/v1/responses"
api GET '/admin/v1/usage?team=alpha&window=24h'
check_eq "by model: each model's requests (the refusal during the stop came before its body was read)" "-:1,llama-3.1-8b-instant:5,llama-3.3-70b-versatile:1" \
	"$(jq_body '[.by_model[] | "\(.model):\(.requests)"] | sort | join(",")')"
check_eq "by route" "chat.completions:6,responses:1" "$(jq_body '[.by_route[] | "\(.route):\(.requests)"] | sort | join(",")')"
spend=$(jq_body '[.by_model[].spend_usd] | add')
mtd=$(jq_body '.spend_mtd_usd')
check "the breakdown adds up to the team's spend" awk -v a="$spend" -v b="$mtd" 'BEGIN { exit !(a - b < 1e-9 && b - a < 1e-9) }'
# ---- the fleet: a single gateway lists itself
api_as "$VIEW_TOKEN" GET /admin/v1/cluster
check_eq "single mode, one replica serving" "single|1|serving|sqlite|true|memory" \
	"$(jq_body '"\(.mode)|\(.replicas | length)|\(.replicas[0].state)|\(.store.kind)|\(.store.up)|\(.counters.kind)"')"
check_eq "the replica's listen address and version" "$GW|$(jq_body .replicas[0].version)" "$(jq_body .replicas[0].listen)|$("$BIN/groqgated" --version | cut -d' ' -f2)"
done_testing
