# Fallbacks and service tiers: when Groq answers 429, 498 or 5xx before a
# byte went to the client, the request is tried on the next model of the
# team's fallbacks (one it may call, priced), admitted afresh (its budget,
# Groq's capacity), streams too; the answer's model says what served. A
# model Groq holds after its 429 goes straight to the fallback. Service
# tiers: one not allowed is 403 service_tier_not_allowed, the default
# written in, a flex 498 tried once more on on_demand. Bad fallbacks are
# refused naming the entry. (The official clients: sdk.sh.)
source "$(dirname "$0")/../lib.sh"
setup_basic
ATOK=$TOKEN
A=llama-3.3-70b-versatile B=llama-3.1-8b-instant
fault() { curl -s -o /dev/null -X POST "http://$FAKE/_fake/model-fault" -d "$1"; }

# ---- bad input
api PATCH /admin/v1/teams/alpha '{"fallbacks":{"'$A'":["openai/gpt-oss-20b"]}}'
check_eq "a fallback to a model the team may not call: 400" 400 "$STATUS"
check_contains "... naming it" "may not call 'openai/gpt-oss-20b'" "$(jq_body .error.message)"
api PATCH /admin/v1/teams/alpha '{"fallbacks":{"'$A'":["'$B'"],"'$B'":["'$A'"]}}'
check_eq "a fallback cycle: 400" 400 "$STATUS"
check_contains "... saying so" "cycle" "$(jq_body .error.message)"
api PATCH /admin/v1/teams/alpha '{"fallbacks":{"'$A'":"'$B'"}}'
check_eq "a fallback that is not a list: 400" 400 "$STATUS"
api PATCH /admin/v1/teams/alpha '{"service_tiers":["on_demand","turbo"]}'
check_eq "an unknown tier: 400 naming it" "400|'service_tiers': 'turbo'" "$STATUS|$(jq_body .error.message | cut -c1-24)"
api PATCH /admin/v1/teams/alpha '{"service_tiers":["on_demand"],"default_service_tier":"flex"}'
check_eq "a default tier outside the team's tiers: 400" 400 "$STATUS"

api PATCH /admin/v1/teams/alpha '{"fallbacks":{"'$A'":["'$B'"]}}'
check_eq "fallbacks set" "200|$B" "$STATUS|$(jq_body ".fallbacks[\"$A\"][0]")"

# ---- Groq's 5xx, 498 and 429 before any byte: the next model serves
for st in 503 500 498; do
	fault '{"model":"'$A'","status":'$st',"count":1}'
	chat "$ATOK" "$A"
	check_eq "Groq's $st on $A: served by the fallback" "200|$B" "$STATUS|$(jq_body .model)"
	check_eq "... the answer says what it fell back from" "$A" "$(hdr x-groqgate-fallback-from)"
done
fault '{"model":"'$A'","status":503,"count":1}'
chat "$ATOK" "$A" '"stream":true'
check_eq "a stream: the fallback serves it (before the first byte)" 200 "$STATUS"
check_contains "... its chunks from the fallback" "\"model\":\"$B\"" "$BODY"
check_not_contains "... none from the first" "\"model\":\"$A\"" "$BODY"
check_eq "the ledger records the model that served" 4 \
	"$(sql "select count(*) from ledger where team = 'alpha' and model = '$B' and status = 200")"
check_eq "... beside the model asked for: the row says it was a fallback" 4 \
	"$(sql "select count(*) from ledger where team = 'alpha' and requested_model = '$A' and model = '$B' and status = 200 and reason = 'fallback'")"
api GET "/admin/v1/usage?team=alpha&window=60m&step=1m"
check_eq "GET /admin/v1/usage: by_model says what served, by_requested_model what was asked" "4|4" \
	"$(jq_body "[.by_model[] | select(.model == \"$B\") | .ok] | add")|$(jq_body "[.by_requested_model[] | select(.requested_model == \"$A\") | .ok] | add")"
# both fail: the client gets Groq's last answer
fault '{"model":"'$A'","status":503,"count":1}'
fault '{"model":"'$B'","status":502,"count":1}'
chat "$ATOK" "$A"
check_eq "the fallback fails too: Groq's last answer" 502 "$STATUS"
# no fallbacks for B: its 503 reaches the client
fault '{"model":"'$B'","status":503,"count":1}'
chat "$ATOK" "$B"
check_eq "a model without fallbacks: Groq's 503 as it was" 503 "$STATUS"

# ---- Groq's 429 holds the model (its retry-after): later requests go
# straight to the fallback, no round trip to the held model
fault '{"model":"'$A'","status":429,"count":1}'
chat "$ATOK" "$A"
check_eq "Groq's 429 on $A: the fallback serves" "200|$B" "$STATUS|$(jq_body .model)"
before=$(curl -s "http://$FAKE/_fake/stats" | jq .total.errors)
chat "$ATOK" "$A"
check_eq "while $A is held: straight to the fallback" "200|$B" "$STATUS|$(jq_body .model)"
check_eq "... without asking Groq for the held model" "$before" "$(curl -s "http://$FAKE/_fake/stats" | jq .total.errors)"
api GET /admin/v1/capacity
check_contains "the hold is shown" "$A" "$BODY"

# ---- a fallback over the team's budget: refused, not sent
api POST /admin/v1/teams '{"id":"poor","name":"Poor","allowed_models":["qwen/qwen3-32b","openai/gpt-oss-20b"],"max_tokens_per_request":100,"rpm_limit":100,"monthly_budget_usd":0.00005}'
check_eq "team poor" 201 "$STATUS"
create_key poor-prod-api poor "$KEY2"
new_token poor
PTOK=$TOKEN
api PATCH /admin/v1/teams/poor '{"fallbacks":{"openai/gpt-oss-20b":["qwen/qwen3-32b"]}}'
check_eq "poor's fallbacks" 200 "$STATUS"
fault '{"model":"openai/gpt-oss-20b","status":503,"count":1}'
sent=$(curl -s "http://$FAKE/_fake/stats" | jq .total.requests)
# worst cases at the cap of 100: gpt-oss-20b $0.00003, qwen3-32b $0.00006
chat "$PTOK" openai/gpt-oss-20b
check_eq "a fallback whose worst case is over the budget: 402, not sent" "402|budget_exceeded" "$STATUS|$(jq_body .error.code)"
check_eq "... Groq saw only the first try" "$((sent + 1))" "$(curl -s "http://$FAKE/_fake/stats" | jq .total.requests)"

# ---- service tiers
api PATCH /admin/v1/teams/alpha '{"service_tiers":["on_demand","flex"],"default_service_tier":"flex","fallbacks":{}}'
check_eq "tiers set" "200|on_demand,flex|flex" "$STATUS|$(jq_body '.service_tiers | join(",")')|$(jq_body .default_service_tier)"
chat "$ATOK" "$B" '"service_tier":"performance"'
check_eq "a tier not allowed: 403 service_tier_not_allowed" "403|service_tier_not_allowed" "$STATUS|$(jq_body .error.code)"
chat "$ATOK" "$B"
check_eq "none named: the team's default written in" "200|flex" "$STATUS|$(jq_body .service_tier)"
fault '{"model":"'$B'","status":498,"count":1,"service_tier":"flex"}'
chat "$ATOK" "$B"
check_eq "flex's 498: tried once more on on_demand" "200|on_demand" "$STATUS|$(jq_body .service_tier)"
check_eq "the ledger row keeps the tier that served, and that it was tried again" "on_demand|tier_retry" \
	"$(sql "select service_tier || '|' || reason from ledger where team = 'alpha' and status = 200 order by id desc limit 1")"
check_contains "/metrics counts the requests by tier" 'groqgate_requests_by_tier_total{tier="on_demand"}' "$(curl -s "http://$GW/metrics")"
check "... and those sent as flex" test "$(metric 'groqgate_requests_by_tier_total{tier="flex"}')" -ge 1
api GET "/admin/v1/usage?team=alpha&window=60m&step=1m"
check_eq "GET /admin/v1/usage breaks the window down by tier too" "true" \
	"$(jq_body '[.by_tier[].service_tier] | (index("on_demand") != null) and (index("flex") != null)')"
api PATCH /admin/v1/teams/alpha '{"service_tiers":["flex"]}'
fault '{"model":"'$B'","status":498,"count":1,"service_tier":"flex"}'
chat "$ATOK" "$B"
check_eq "a team without on_demand: flex's 498 as Groq said it" "498|capacity_exceeded" "$STATUS|$(jq_body .error.code)"
api PATCH /admin/v1/teams/alpha '{"service_tiers":["on_demand","flex","performance","auto"],"default_service_tier":null}'
check_eq "tiers back to all, no default" "200|null" "$STATUS|$(jq_body .default_service_tier)"
stop_gateway
start_gateway
api GET /admin/v1/teams/poor
check_eq "fallbacks kept across a restart" "qwen/qwen3-32b" "$(jq_body '.fallbacks["openai/gpt-oss-20b"][0]')"

# ---- at most as many tries as the list of the model asked for is long (a
# fallback's own list is not followed), all within the request's deadline
C=openai/gpt-oss-20b
api PATCH /admin/v1/teams/alpha '{"allowed_models":["'$A'","'$B'","'$C'"],"fallbacks":{"'$A'":["'$B'"],"'$B'":["'$C'"]}}'
check_eq "fallbacks A -> B and B -> C" 200 "$STATUS"
fault '{"model":"'$A'","status":503,"count":1}'
fault '{"model":"'$B'","status":503,"count":1}'
sent=$(curl -s "http://$FAKE/_fake/stats" | jq .total.requests)
chat "$ATOK" "$A"
check_eq "A's list is one model long: one more try, B's own list not followed" "503|$((sent + 2))" \
	"$STATUS|$(curl -s "http://$FAKE/_fake/stats" | jq .total.requests)"
stop_gateway
sed -i 's/timeout_ms = 5000;/timeout_ms = 2500;/' "$T/gw.conf"
start_gateway
api PATCH /admin/v1/teams/alpha '{"fallbacks":{"'$A'":["'$B'"]}}'
fault '{"model":"'$A'","status":503,"count":1,"delay_ms":1000}'
fault '{"model":"'$B'","status":503,"count":1,"delay_ms":2000}'
chat "$ATOK" "$A"
# (B's 503 would come 3 s after the request was sent: past its 2.5 s)
check_eq "Groq's 503 after 1 s, the fallback's try ends at the request's 2.5 s deadline" "504" "$STATUS"
fault '{"model":"'$A'","status":503,"count":1,"delay_ms":2000}'
sent=$(curl -s "http://$FAKE/_fake/stats" | jq .total.requests)
chat "$ATOK" "$A"
check_eq "Groq's 503 with half a second left: no try bound to time out, Groq's answer as it was" "503|$((sent + 1))" \
	"$STATUS|$(curl -s "http://$FAKE/_fake/stats" | jq .total.requests)"

done_testing
