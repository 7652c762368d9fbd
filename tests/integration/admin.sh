# Admin API v1: every route and error status, roles, If-Match, audit, and
# canary secrets that must never come back out.
source "$(dirname "$0")/../lib.sh"
start_fakegroq
write_gateway_config
start_gateway
CANARY_KEY=gsk_CANARYcanaryCANARYcanary0000ZZ99
printf '%s\n' "$CANARY_KEY" >> "$T/fake-keys"; kill -HUP "$FAKE_PID"

api_as "" GET /admin/v1/teams
check_eq "no admin token: 401" 401 "$STATUS"
check_eq "errors are {error:{code,message}}" unauthorized "$(jq_body .error.code)"
api_as "not-a-token" GET /admin/v1/teams
check_eq "bad admin token: 401" 401 "$STATUS"

# ---- teams
api POST /admin/v1/teams '{"id":"chatbot","name":"Chatbot","allowed_models":["llama-3.3-70b-versatile"],"max_tokens_per_request":256,"rpm_limit":60,"monthly_budget_usd":50}'
check_eq "create team: 201" 201 "$STATUS"
check_eq "new team is active" active "$(jq_body .state)"
check_eq "default thresholds 50/80/95" "50,80,95" "$(jq_body '.alert_thresholds | join(",")')"
check_eq "auto_pause on by default" true "$(jq_body .auto_pause)"
api POST /admin/v1/teams '{"id":"chatbot","allowed_models":[],"max_tokens_per_request":1,"rpm_limit":1,"monthly_budget_usd":1}'
check_eq "duplicate team: 409" 409 "$STATUS"
api POST /admin/v1/teams '{"id":"Bad Id!","allowed_models":[],"max_tokens_per_request":1,"rpm_limit":1,"monthly_budget_usd":1}'
check_eq "invalid id: 400" 400 "$STATUS"
api POST /admin/v1/teams '{"id":"x1","allowed_models":["gpt-9-imaginary"],"max_tokens_per_request":1,"rpm_limit":1,"monthly_budget_usd":1}'
check_eq "unknown model: 422" 422 "$STATUS"
check_contains "422 names the model" gpt-9-imaginary "$(jq_body .error.message)"
api POST /admin/v1/teams '{"id":"x2","allowed_models":[],"max_tokens_per_request":1,"rpm_limit":1}'
check_eq "missing budget: 400" 400 "$STATUS"
api POST /admin/v1/teams '{"id":"x3","allowed_models":[],"max_tokens_per_request":1,"rpm_limit":1,"monthly_budget_usd":1,"colour":"red"}'
check_eq "unknown field: 400" 400 "$STATUS"
api POST /admin/v1/teams '{"id":"x4",'
check_eq "malformed JSON: 400" 400 "$STATUS"
api POST /admin/v1/teams '{"id":"search","name":"Search","allowed_models":["llama-3.1-8b-instant","openai/gpt-oss-20b"],"max_tokens_per_request":512,"rpm_limit":120,"monthly_budget_usd":200,"alert_thresholds":[25,50,75,90],"auto_pause":false}'
check_eq "custom thresholds kept" "25,50,75,90" "$(jq_body '.alert_thresholds | join(",")')"
api GET /admin/v1/teams
check_eq "list teams" "chatbot search" "$(jq_body '[.teams[].id] | join(" ")')"
for f in rpm spend_mtd_usd spend_pct state paused_by paused_reason paused_at version; do
	check "team list rows carry '$f'" test "$(jq_body ".teams[0] | has(\"$f\")")" = true
done
STATUS=$(curl -s -D "$T/h" -o "$T/resp" -w '%{http_code}' -H "Authorization: Bearer $OP_TOKEN" "http://$GW/admin/v1/teams/chatbot")
check_eq "get team: 200" 200 "$STATUS"
check_eq "ETag is the quoted version" '"1"' "$(tr -d '\r' < "$T/h" | grep -i '^etag:' | cut -d' ' -f2)"
api GET /admin/v1/teams/nope
check_eq "unknown team: 404" 404 "$STATUS"
api PATCH /admin/v1/teams/chatbot '{"rpm_limit":90,"name":"Chat Bot"}'
check_eq "patch: 200" 200 "$STATUS"
check_eq "patch applied" "90 Chat Bot 2" "$(jq_body '"\(.rpm_limit) \(.name) \(.version)"')"
api PATCH /admin/v1/teams/chatbot '{"rpm_limit":-4}'
check_eq "patch with a bad value: 400" 400 "$STATUS"
api PATCH /admin/v1/teams/chatbot '{"rpm_limit":91}' -H 'If-Match: "1"'
check_eq "patch with a stale If-Match: 412" 412 "$STATUS"
api GET /admin/v1/teams/chatbot
check_eq "and nothing changed" 90 "$(jq_body .rpm_limit)"

# ---- allowlist with If-Match
api PUT /admin/v1/teams/chatbot/models '{"allowed_models":["llama-3.3-70b-versatile","qwen/qwen3-32b"]}' -H 'If-Match: "2"'
check_eq "PUT models with the current version (quoted): 200" 200 "$STATUS"
check_eq "version moves on every edit" 3 "$(jq_body .version)"
api PUT /admin/v1/teams/chatbot/models '{"allowed_models":["llama-3.1-8b-instant"]}' -H 'If-Match: 3'
check_eq "PUT models with a bare version: 200" 200 "$STATUS"
api PUT /admin/v1/teams/chatbot/models '{"allowed_models":["llama-3.3-70b-versatile"]}' -H 'If-Match: "2"'
check_eq "PUT models with a stale version: 412" 412 "$STATUS"
api GET /admin/v1/teams/chatbot
check_eq "a stale PUT changes nothing" '["llama-3.1-8b-instant"]' "$(printf %s "$BODY" | jq -c .allowed_models)"
api PUT /admin/v1/teams/chatbot/models '{"allowed_models":["nope-model"]}'
check_eq "PUT an unknown model: 422" 422 "$STATUS"
api PUT /admin/v1/teams/chatbot/models '{"allowed_models":["llama-3.3-70b-versatile"]}'
check_eq "PUT models back" 200 "$STATUS"

# ---- keys
api POST /admin/v1/keys "{\"name\":\"chatbot-prod-api\",\"team\":\"chatbot\",\"secret\":\"$CANARY_KEY\"}"
check_eq "create key: 201" 201 "$STATUS"
check_eq "only the fingerprint is shown" "gsk_…ZZ99" "$(jq_body .fingerprint)"
api POST /admin/v1/keys "{\"name\":\"chatbot-api\",\"team\":\"chatbot\",\"secret\":\"$KEY2\"}"
check_eq "a name not {team}-{env}-{purpose}: 422" 422 "$STATUS"
api POST /admin/v1/keys "{\"name\":\"search-prod-api\",\"team\":\"chatbot\",\"secret\":\"$KEY2\"}"
check_eq "a name for another team: 422" 422 "$STATUS"
api POST /admin/v1/keys '{"name":"chatbot-prod-x","team":"chatbot","secret":"sk-notgroq"}'
check_eq "a secret that is not a Groq key: 422" 422 "$STATUS"
api POST /admin/v1/keys "{\"name\":\"chatbot-prod-api\",\"team\":\"chatbot\",\"secret\":\"$KEY2\"}"
check_eq "duplicate key name: 409" 409 "$STATUS"
api POST /admin/v1/keys "{\"name\":\"nosuch-prod-api\",\"team\":\"nosuch\",\"secret\":\"$KEY2\"}"
check_eq "unknown team: 422" 422 "$STATUS"
api POST /admin/v1/keys "{\"name\":\"search-prod-api\",\"team\":\"search\",\"secret\":\"$KEY2\"}"
api GET /admin/v1/keys
check_eq "list keys" 2 "$(jq_body '.keys | length')"
api GET /admin/v1/keys/chatbot-prod-api
check_eq "get key: 200" 200 "$STATUS"
for f in state fingerprint created_at last_used_at requests_24h rotation; do
	check "key carries '$f'" test "$(jq_body "has(\"$f\")")" = true
done
api GET /admin/v1/keys/nope-prod-api
check_eq "unknown key: 404" 404 "$STATUS"
# a key's PATCH is guarded as a team's: If-Match names the version read
api GET /admin/v1/keys/search-prod-api
kv=$(jq_body .version)
api PATCH /admin/v1/keys/search-prod-api '{"rpm_limit":50}' -H "If-Match: \"$kv\""
check_eq "key patch with its version in If-Match: 200" 200 "$STATUS"
api PATCH /admin/v1/keys/search-prod-api '{"rpm_limit":60}' -H "If-Match: \"$kv\""
check_eq "again with the version it had (a lost update): 412" 412 "$STATUS"
check_contains "... naming the key" "Key 'search-prod-api' was changed meanwhile" "$BODY"
api GET /admin/v1/keys/search-prod-api
check_eq "... and nothing changed by it" 50 "$(jq_body .rpm_limit)"
api PATCH /admin/v1/keys/search-prod-api '{"rpm_limit":0}'

# ---- client tokens
api POST /admin/v1/teams/chatbot/tokens '{"label":"web frontend"}'
check_eq "create token: 201" 201 "$STATUS"
CTOK=$(jq_body .token); CTOK_ID=$(jq_body .id)
check "the token is returned once" test -n "$CTOK"
api GET /admin/v1/teams/chatbot/tokens
check_eq "token list has no secrets" "" "$(printf %s "$BODY" | grep -o "$CTOK")"
check_eq "token list shows the label" "web frontend" "$(jq_body '.tokens[0].label')"
chat "$CTOK" llama-3.3-70b-versatile
check_eq "the new token works on the data plane" 200 "$STATUS"
api DELETE "/admin/v1/teams/chatbot/tokens/$CTOK_ID"
check_eq "revoke: 200" 200 "$STATUS"
chat "$CTOK" llama-3.3-70b-versatile
check_eq "revocation takes effect on the next request" 401 "$STATUS"
api DELETE "/admin/v1/teams/chatbot/tokens/tok_nope"
check_eq "revoke an unknown token: 404" 404 "$STATUS"
api POST /admin/v1/teams/chatbot/tokens '{"label":"svc","key":"search-prod-api"}'
check_eq "a token on another team's key: 422" 422 "$STATUS"
api POST /admin/v1/teams/chatbot/tokens '{"label":"svc2"}'
CTOK=$(jq_body .token)

# ---- pause / resume
api POST /admin/v1/teams/chatbot/pause '{}'
check_eq "pause without a reason: 400" 400 "$STATUS"
api POST /admin/v1/teams/chatbot/pause '{"reason":"   "}'
check_eq "pause with a blank reason: 400" 400 "$STATUS"
api POST /admin/v1/teams/chatbot/pause '{"reason":"cost spike"}' -H 'X-Operator: alice@laptop'
check_eq "pause: 200" 200 "$STATUS"
check_eq "paused with actor and operator label" "alice (alice@laptop)" "$(jq_body .paused_by)"
v=$(jq_body .version)
api POST /admin/v1/teams/chatbot/pause '{"reason":"again"}'
check_eq "pausing a paused team: 200" 200 "$STATUS"
check_eq "and changes nothing" "$v cost spike" "$(jq_body '"\(.version) \(.paused_reason)"')"
api POST /admin/v1/teams/chatbot/resume '{}'
check_eq "resume: 200" active "$(jq_body .state)"
api POST /admin/v1/teams/chatbot/resume '{}'
check_eq "resuming an active team: 200, idempotent" 200 "$STATUS"

# budget_paused: resume needs a raised budget or an override
chat "$CTOK" llama-3.3-70b-versatile
api PATCH /admin/v1/teams/chatbot '{"monthly_budget_usd":0.000001}'
check_eq "budget under spend: budget_paused" budget_paused "$(jq_body .state)"
api POST /admin/v1/teams/chatbot/resume '{}'
check_eq "resume budget_paused without override: 409" 409 "$STATUS"
check_contains "409 explains the two ways out" override "$(jq_body .error.message)"
api POST /admin/v1/teams/chatbot/resume '{"override":true}'
check_eq "resume with override: 200" active "$(jq_body .state)"
chat "$CTOK" llama-3.3-70b-versatile
check_eq "override lets requests through this month" 200 "$STATUS"
api PATCH /admin/v1/teams/search '{"monthly_budget_usd":0.000001}'
api PATCH /admin/v1/teams/search '{"monthly_budget_usd":500}'
check_eq "auto_pause off: never budget_paused" active "$(jq_body .state)"

# ---- overview, usage, audit, models, alerts
api GET /admin/v1/overview
check_eq "overview: 200" 200 "$STATUS"
for f in gateway org totals teams keys alerts; do check "overview has '$f'" test "$(jq_body "has(\"$f\")")" = true; done
check_eq "overview totals" 2 "$(jq_body .totals.teams)"
check "overview shows Groq headroom" test "$(jq_body .org.headroom.limit_requests)" -gt 0
api GET '/admin/v1/usage?team=chatbot&window=60m&step=1m'
check_eq "usage: 200" 200 "$STATUS"
check "usage: 61 one-minute points" test "$(jq_body '.points | length')" -ge 60
check "usage counts the requests" test "$(jq_body '[.points[].requests] | add')" -ge 3
check "usage counts rejections by reason" test "$(jq_body '[.points[].rejections.unauthenticated // 0] | add')" -ge 0
api GET '/admin/v1/usage?team=chatbot&window=forever'
check_eq "usage with a bad window: 400" 400 "$STATUS"
api GET '/admin/v1/usage?team=nope'
check_eq "usage for an unknown team: 404" 404 "$STATUS"
api GET '/admin/v1/usage?window=month'
check_eq "usage for the month: 200" 200 "$STATUS"
api GET '/admin/v1/usage?window=60m&step=1m'
from=$(jq_body .from_ms)
check_eq "usage over all teams counts every ledger row of the window" \
	"$(sql "select count(*) from ledger where ts_ms >= $from")" "$(jq_body '[.points[].requests] | add')"
check_eq "and their tokens" "$(sql "select coalesce(sum(prompt_tokens + completion_tokens), 0) from ledger where ts_ms >= $from")" \
	"$(jq_body '[.points[].tokens] | add')"
api GET /admin/v1/models
check_eq "models: 200" 200 "$STATUS"
check_eq "models carry configured prices" 0.59 "$(jq_body '.models[] | select(.id=="llama-3.3-70b-versatile") | .input_per_mtok')"
api GET '/admin/v1/audit?limit=100'
check_eq "audit: 200" 200 "$STATUS"
for a in team.create team.update team.models key.create token.create token.revoke team.pause team.resume team.budget_pause; do
	check "audit has $a" test "$(jq_body "[.entries[] | select(.action==\"$a\")] | length")" -ge 1
done
check_eq "audit names the actor" alice "$(jq_body '[.entries[] | select(.action=="team.pause")][0].actor')"
check_eq "audit carries the operator label" alice@laptop "$(jq_body '[.entries[] | select(.action=="team.pause")][0].operator')"
check_eq "audit has before and after" "60 90" "$(jq_body '[.entries[] | select(.action=="team.update")] | last | "\(.before.rpm_limit) \(.after.rpm_limit)"')"
api GET '/admin/v1/audit?limit=2'
next=$(jq_body .next_before)
api GET "/admin/v1/audit?limit=2&before=$next"
check "audit pages with before=" test "$(jq_body '.entries[0].id')" -lt "$next"
mutations=$(sql "select count(*) from audit")
check "every mutation left an audit record ($mutations)" test "$mutations" -ge 15

# ---- viewers read, and every mutating route refuses them
api_as "$VIEW_TOKEN" GET /admin/v1/overview
check_eq "viewer may read" 200 "$STATUS"
before=$(sql "select count(*) from audit")
while read -r m p b; do
	api_as "$VIEW_TOKEN" "$m" "$p" "$b"
	check_eq "viewer refused: $m $p" 403 "$STATUS"
done <<EOF2
POST /admin/v1/teams {"id":"v1","allowed_models":[],"max_tokens_per_request":1,"rpm_limit":1,"monthly_budget_usd":1}
PATCH /admin/v1/teams/chatbot {"rpm_limit":1}
PUT /admin/v1/teams/chatbot/models {"allowed_models":[]}
POST /admin/v1/teams/chatbot/pause {"reason":"x"}
POST /admin/v1/teams/chatbot/resume {}
POST /admin/v1/teams/chatbot/tokens {"label":"x"}
DELETE /admin/v1/teams/chatbot/tokens/tok_x {}
POST /admin/v1/keys {"name":"chatbot-prod-b","team":"chatbot","secret":"gsk_aaaaaaaaaaaaaaaaaaaaaaaaaa"}
POST /admin/v1/keys/chatbot-prod-api/rotation {"new_secret":"gsk_aaaaaaaaaaaaaaaaaaaaaaaaaa"}
POST /admin/v1/keys/chatbot-prod-api/rotation/deploy {}
POST /admin/v1/keys/chatbot-prod-api/rotation/secret-updated {"confirm":true}
POST /admin/v1/keys/chatbot-prod-api/rotation/switch {}
POST /admin/v1/keys/chatbot-prod-api/rotation/complete {"confirm":true}
POST /admin/v1/keys/chatbot-prod-api/rotation/abort {}
EOF2
check_eq "refused requests changed nothing (no audit records)" "$before" "$(sql "select count(*) from audit")"
api_as "" POST /admin/v1/teams/chatbot/pause '{"reason":"x"}'
check_eq "a mutation with no token: 401" 401 "$STATUS"
api_as "forged" POST /admin/v1/teams/chatbot/pause '{"reason":"x"}'
check_eq "a mutation with a bad token: 401" 401 "$STATUS"
api DELETE /admin/v1/teams/chatbot
check_eq "an unsupported method: 405" 405 "$STATUS"
api GET /admin/v1/nothing
check_eq "an unknown route: 404" 404 "$STATUS"

# ---- canaries: no secret in any response, log or audit record
api GET /admin/v1/overview; all="$BODY"
api GET /admin/v1/keys; all="$all$BODY"
api GET /admin/v1/audit?limit=1000; all="$all$BODY"
api GET /admin/v1/teams/chatbot/tokens; all="$all$BODY"
all="$all$(curl -s "http://$GW/metrics")"
for s in "$CANARY_KEY" "$CTOK" "$OP_TOKEN" "$VIEW_TOKEN"; do
	check_not_contains "canary ${s:0:8}… in no API response" "$s" "$all"
	if grep -qF "$s" "$T/groqgated.log" "$T/groqgated-stderr.log"; then fail "canary ${s:0:8}… in a log"; else ok "canary ${s:0:8}… in no log"; fi
	check_eq "canary ${s:0:8}… in no audit record" 0 "$(sql "select count(*) from audit where coalesce(before,'')||coalesce(after,'') like '%$s%'")"
done
check_eq "the token hash, not the token, is stored" 0 "$(sql "select count(*) from tokens where hash like '%$CTOK%'")"
check_eq "the store file is private (0600)" 600 "$(stat -c %a "$T/gw.db")"

# ---- schema migrations: a version-2 store (with its ledger_ts index) is
# brought to version 3 at start, its rows kept
check_eq "healthz names schema 10" 10 "$(curl -s "http://$GW/healthz" | jq .schema)"
check_eq "no ledger_ts index (a WAL frame per request saved)" 0 "$(sql "select count(*) from sqlite_master where name = 'ledger_ts'")"
stop_gateway
rows=$(sql "select count(*) from ledger")
sql "DROP TRIGGER ledger_spend_daily; DROP TABLE spend_daily; CREATE INDEX ledger_ts ON ledger(ts_ms); ALTER TABLE ledger DROP COLUMN route; ALTER TABLE ledger DROP COLUMN unit;
     ALTER TABLE ledger DROP COLUMN quantity; ALTER TABLE ledger DROP COLUMN request_id;
     ALTER TABLE keys DROP COLUMN groq_project; ALTER TABLE alerts DROP COLUMN acked_by;
     ALTER TABLE alerts DROP COLUMN acked_at; DROP TABLE batch_files; DROP TABLE batches;
     ALTER TABLE teams DROP COLUMN policy; ALTER TABLE keys DROP COLUMN version; ALTER TABLE keys DROP COLUMN policy;
     ALTER TABLE ledger DROP COLUMN end_user; ALTER TABLE ledger DROP COLUMN requested_model;
     ALTER TABLE ledger DROP COLUMN service_tier; ALTER TABLE ledger DROP COLUMN cached_tokens; DROP TABLE aliases;
     PRAGMA user_version = 2;"
start_gateway
check_eq "a version-2 store migrates at start" 10 "$(curl -s "http://$GW/healthz" | jq .schema)"
check_eq "migration 4 adds the route, unit, quantity and Groq's request id" 4 \
	"$(sql "select count(*) from pragma_table_info('ledger') where name in ('route','unit','quantity','request_id')")"
check_eq "migration 5 adds a key's Groq project" 1 \
	"$(sql "select count(*) from pragma_table_info('keys') where name = 'groq_project'")"
check_eq "migration 6 adds alerts' acknowledgement" 2 \
	"$(sql "select count(*) from pragma_table_info('alerts') where name in ('acked_by','acked_at')")"
check_eq "migration 7 adds the batches' tables" 2 \
	"$(sql "select count(*) from sqlite_master where type = 'table' and name in ('batch_files','batches')")"
check_eq "migration 8 adds the teams' policy (capacity and later fields) and the keys' version" 2 \
	"$(( $(sql "select count(*) from pragma_table_info('teams') where name = 'policy'") + $(sql "select count(*) from pragma_table_info('keys') where name = 'version'") ))"
check_eq "migration 9 adds the ledger's end user, requested model, tier and cached tokens, and the aliases" 5 \
	"$(( $(sql "select count(*) from pragma_table_info('ledger') where name in ('end_user','requested_model','service_tier','cached_tokens')") + $(sql "select count(*) from sqlite_master where name = 'aliases'") ))"
check_eq "migration 10 sums the ledger by day into spend_daily" \
	"$(sql "select sum(cost_nusd) || '/' || sum(case when status < 400 then 1 else 0 end) from ledger")" \
	"$(sql "select sum(cost_nusd) || '/' || sum(requests) from spend_daily")"
check_eq "migration 3 drops ledger_ts" 0 "$(sql "select count(*) from sqlite_master where name = 'ledger_ts'")"
check_eq "and keeps every ledger row" "$rows" "$(sql "select count(*) from ledger")"
done_testing
