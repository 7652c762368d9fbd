# Models that come and go: aliases (a role naming a model: checked against
# the allowlist as that model, sent as it, listed beside the team's models)
# and Groq's retirement calendar (a retired model refused in Groq's own
# model_decommissioned shape naming the replacement, with no round trip to
# Groq, or sent to the replacement for a team with replace_retired; GET
# /admin/v1/models with shutdown, replacement and who called it in the last
# 7 days); bad aliases and calendars refused at load naming the entry.
source "$(dirname "$0")/../lib.sh"
SOON=$(date -u -d '+20 days' +%Y-%m-%d)
GW_EXTRA='model_aliases = (
  { alias = "fast"; model = "llama-3.1-8b-instant"; },
  { alias = "smart"; model = "openai/gpt-oss-20b"; }
);
deprecations = (
  { model = "qwen/qwen3-32b"; shutdown = "2026-08-16"; replacement = "llama-3.1-8b-instant"; },
  { model = "llama-3.3-70b-versatile"; shutdown = "'$SOON'"; replacement = "llama-3.1-8b-instant"; }
);'
setup_basic
ATOK=$TOKEN
api PATCH /admin/v1/teams/alpha '{"allowed_models":["llama-3.3-70b-versatile","llama-3.1-8b-instant","qwen/qwen3-32b"]}'
check_eq "alpha may call the three" 200 "$STATUS"

# ---- aliases
chat "$ATOK" fast
check_eq "an alias is served" 200 "$STATUS"
check_eq "... by the model it names (the answer's model)" llama-3.1-8b-instant "$(jq_body .model)"
chat "$ATOK" smart
check_eq "an alias naming a model the team may not call: 403" "403|model_not_allowed" "$STATUS|$(jq_body .error.code)"
check_contains "... naming that model" "'openai/gpt-oss-20b' is not allowed" "$(jq_body .error.message)"
chat "$ATOK" fast '"stream":true'
check_eq "an alias, streamed" 200 "$STATUS"
check_contains "... chunks from the model it names" '"model":"llama-3.1-8b-instant"' "$BODY"
check_eq "the ledger records the model Groq served" "2" \
	"$(sql "select count(*) from ledger where team = 'alpha' and model = 'llama-3.1-8b-instant' and status = 200")"
check_eq "... and the alias the client asked for, beside it" "2" \
	"$(sql "select count(*) from ledger where team = 'alpha' and requested_model = 'fast' and model = 'llama-3.1-8b-instant' and status = 200")"
api GET /admin/v1/aliases
check_eq "GET /admin/v1/aliases" "200|fast=llama-3.1-8b-instant smart=openai/gpt-oss-20b" \
	"$STATUS|$(jq_body '[.aliases[] | "\(.alias)=\(.model)"] | join(" ")')"
STATUS=$(curl -s -o "$T/models" -w '%{http_code}' -H "Authorization: Bearer $ATOK" "http://$GW/openai/v1/models")
check_eq "/openai/v1/models" 200 "$STATUS"
check_eq "... lists the team's alias beside its model" "llama-3.1-8b-instant" \
	"$(jq -r '.data[] | select(.id == "fast") | .alias_of' "$T/models")"
check_eq "... and not an alias whose model the team may not call" "" \
	"$(jq -r '.data[] | select(.id == "smart") | .id' "$T/models")"

# ---- aliases set by operators (PUT|DELETE /admin/v1/aliases/{alias})
api PUT /admin/v1/aliases/quick '{"model":"llama-3.3-70b-versatile"}'
check_eq "PUT an alias: 201" "201|quick|llama-3.3-70b-versatile|admin" \
	"$STATUS|$(jq_body .alias)|$(jq_body .model)|$(jq_body .source)"
chat "$ATOK" quick
check_eq "... in force at once" "200|llama-3.3-70b-versatile" "$STATUS|$(jq_body .model)"
check_eq "... the ledger keeps the alias asked for" "quick" \
	"$(sql "select requested_model from ledger where team = 'alpha' order by id desc limit 1")"
api PUT /admin/v1/aliases/quick '{"model":"llama-3.1-8b-instant"}'
check_eq "PUT again: 200, changed" "200|llama-3.1-8b-instant" "$STATUS|$(jq_body .model)"
chat "$ATOK" quick
check_eq "... requests follow it" "200|llama-3.1-8b-instant" "$STATUS|$(jq_body .model)"
api PUT /admin/v1/aliases/smart '{"model":"llama-3.1-8b-instant"}'
check_eq "an operator's alias over the configuration's of the same name" 201 "$STATUS"
chat "$ATOK" smart
check_eq "... is the one in force" "200|llama-3.1-8b-instant" "$STATUS|$(jq_body .model)"
api GET /admin/v1/aliases
check_eq "GET lists each once, with its source" "fast=llama-3.1-8b-instant/config quick=llama-3.1-8b-instant/admin smart=llama-3.1-8b-instant/admin" \
	"$(jq_body '[.aliases[] | "\(.alias)=\(.model)/\(.source)"] | join(" ")')"
check_eq "audited" "alias.set alias.set alias.set" \
	"$(api GET "/admin/v1/audit?limit=50"; jq_body '[.entries[] | select(.action | startswith("alias.")) | .action] | join(" ")')"
api_as "$VIEW_TOKEN" PUT /admin/v1/aliases/nosy '{"model":"llama-3.1-8b-instant"}'
check_eq "a viewer may not set one" 403 "$STATUS"
api PUT /admin/v1/aliases/llama-3.1-8b-instant '{"model":"llama-3.3-70b-versatile"}'
check_eq "an alias hiding a model's own name: 400" 400 "$STATUS"
api PUT /admin/v1/aliases/twice '{"model":"fast"}'
check_eq "an alias naming an alias: 400" 400 "$STATUS"
api PUT /admin/v1/aliases/ghost '{"model":"nope-1"}'
check_eq "an alias to an unpriced model: 400 model_not_priced" "400|model_not_priced" "$STATUS|$(jq_body .error.code)"
api PUT /admin/v1/aliases/extra '{"model":"llama-3.1-8b-instant","colour":"red"}'
check_eq "an unknown field: 400" "400|unknown_field" "$STATUS|$(jq_body .error.code)"
api PUT '/admin/v1/aliases/bad%20name' '{"model":"llama-3.1-8b-instant"}'
check_eq "a name with a space: 400" 400 "$STATUS"
api GET /admin/v1/aliases
check_eq "none of the refused ones was kept" 3 "$(jq_body '.aliases | length')"
stop_gateway
start_gateway
chat "$ATOK" quick
check_eq "kept across a restart (the store's)" "200|llama-3.1-8b-instant" "$STATUS|$(jq_body .model)"
api DELETE /admin/v1/aliases/smart
check_eq "DELETE the operator's: the configuration's is in force again" "200|true|openai/gpt-oss-20b" \
	"$STATUS|$(jq_body .deleted)|$(jq_body .in_force.model)"
api DELETE /admin/v1/aliases/fast
check_eq "DELETE one the configuration sets: 409 naming the file" "409|alias_in_configuration" "$STATUS|$(jq_body .error.code)"
api DELETE /admin/v1/aliases/never
check_eq "DELETE one that does not exist: 404" 404 "$STATUS"
api DELETE /admin/v1/aliases/quick
chat "$ATOK" quick
check_eq "a deleted alias is no model at all" 403 "$STATUS"

# ---- Groq's own word: a 400 model_decommissioned retires the model now
curl -s -o /dev/null -X POST --data-binary '{"model":"openai/gpt-oss-20b"}' "http://$FAKE/_fake/decommission"
api PATCH /admin/v1/teams/alpha '{"allowed_models":["llama-3.3-70b-versatile","llama-3.1-8b-instant","qwen/qwen3-32b","openai/gpt-oss-20b"]}'
chat "$ATOK" openai/gpt-oss-20b
check_eq "Groq answers 400 model_decommissioned: passed on" "400|model_decommissioned" "$STATUS|$(jq_body .error.code)"
before=$(curl -s "http://$FAKE/_fake/stats" | jq .total.requests)
chat "$ATOK" openai/gpt-oss-20b
check_eq "the next call is refused by the gateway, in Groq's shape" "400|model_decommissioned" "$STATUS|$(jq_body .error.code)"
check_eq "... without a round trip to Groq" "$before" "$(curl -s "http://$FAKE/_fake/stats" | jq .total.requests)"
check_eq "GET /admin/v1/models says Groq retired it" "true|true" \
	"$(api GET /admin/v1/models; jq_body '.models[] | select(.id == "openai/gpt-oss-20b") | "\(.retired)|\(.retired_by_groq)"')"
api PATCH /admin/v1/teams/alpha '{"allowed_models":["llama-3.3-70b-versatile","llama-3.1-8b-instant","qwen/qwen3-32b"]}'

# ---- retirements
before=$(curl -s "http://$FAKE/_fake/stats" | jq .total.requests)
chat "$ATOK" qwen/qwen3-32b
check_eq "a retired model: 400 model_decommissioned (Groq's shape)" "400|invalid_request_error|model_decommissioned" \
	"$STATUS|$(jq_body .error.type)|$(jq_body .error.code)"
check_contains "... naming the replacement" "Please use \`llama-3.1-8b-instant\` instead" "$(jq_body .error.message)"
check_eq "... without a round trip to Groq" "$before" "$(curl -s "http://$FAKE/_fake/stats" | jq .total.requests)"
api PATCH /admin/v1/teams/alpha '{"replace_retired":true}'
check_eq "replace_retired set" "200|true" "$STATUS|$(jq_body .replace_retired)"
chat "$ATOK" qwen/qwen3-32b
check_eq "with replace_retired: served by the replacement" "200|llama-3.1-8b-instant" "$STATUS|$(jq_body .model)"
check_eq "... the ledger row keeps the retired model asked for" "qwen/qwen3-32b|llama-3.1-8b-instant" \
	"$(sql "select requested_model || '|' || model from ledger where team = 'alpha' order by id desc limit 1")"
api PATCH /admin/v1/teams/alpha '{"allowed_models":["llama-3.3-70b-versatile","qwen/qwen3-32b"]}'
chat "$ATOK" qwen/qwen3-32b
check_eq "a replacement the team may not call: 403 naming it" "403|model_not_allowed" "$STATUS|$(jq_body .error.code)"
check_contains "..." "'llama-3.1-8b-instant' is not allowed" "$(jq_body .error.message)"
chat "$ATOK" llama-3.3-70b-versatile
check_eq "a model retiring in 20 days is still served as itself" "200|llama-3.3-70b-versatile" "$STATUS|$(jq_body .model)"
api GET /admin/v1/models
check_eq "GET /admin/v1/models: 200" 200 "$STATUS"
check_eq "a retired model: its date, replacement, retired" "2026-08-16|llama-3.1-8b-instant|true" \
	"$(jq_body '.models[] | select(.id == "qwen/qwen3-32b") | "\(.shutdown)|\(.replacement)|\(.retired)"')"
check_eq "a retiring one: not yet retired, and who called it in 7 days" "$SOON|false|alpha" \
	"$(jq_body '.models[] | select(.id == "llama-3.3-70b-versatile") | "\(.shutdown)|\(.retired)|\(.callers_7d | join(","))"')"
check_eq "a model with no date: null" "null|null" \
	"$(jq_body '.models[] | select(.id == "openai/gpt-oss-20b") | "\(.shutdown)|\(.replacement)"')"
check_eq "callers_7d of the alias's model: alpha" "alpha" \
	"$(jq_body '.models[] | select(.id == "llama-3.1-8b-instant") | .callers_7d | join(",")')"
# the file's team field, through groqctl export
out=$("$BIN/groqctl" --gateway "http://$GW" --token-file <(printf '%s\n' "$OP_TOKEN") export -o json)
check_eq "replace_retired is a field the organisation's file keeps" true \
	"$(printf %s "$out" | jq '.teams[] | select(.id == "alpha") | .replace_retired')"
stop_gateway
start_gateway
api GET /admin/v1/teams/alpha
check_eq "replace_retired kept across a restart" true "$(jq_body .replace_retired)"
# the notices: alpha called a model retiring in 20 days -> the 30-day one,
# made at start (and every 10 minutes), once, also across a restart
retiring() { api GET "/admin/v1/alerts?limit=200"; jq_body '[.alerts[] | select(.kind == "model_retiring")]'; }
wait_eval "the 30-day notice" 10 '[ "$(retiring | jq length)" -ge 1 ]'
check_eq "alert model_retiring for the team that called it" "alpha" "$(retiring | jq -r 'map(.team) | join(",")')"
check_contains "... naming the model, the date, the replacement" \
	"Model llama-3.3-70b-versatile retires on $SOON (the 30-day notice): team alpha" "$(retiring | jq -r '.[0].message')"
check_contains "..." "Move to llama-3.1-8b-instant" "$(retiring | jq -r '.[0].message')"
stop_gateway
start_gateway
api GET /admin/v1/overview
check_eq "restarted" 200 "$STATUS"
check_eq "not made again after a restart" 1 "$(retiring | jq length)"
# five days before the date: the 7-day notice, once
NEAR=$(date -u -d '+5 days' +%Y-%m-%d)
stop_gateway
sed -i "s/shutdown = \"$SOON\"/shutdown = \"$NEAR\"/" "$T/gw.conf"
start_gateway
wait_eval "the 7-day notice" 10 '[ "$(retiring | jq length)" -ge 2 ]'
check_contains "alert model_retiring: the 7-day notice" \
	"Model llama-3.3-70b-versatile retires on $NEAR (the 7-day notice): team alpha" "$(retiring | jq -r 'map(.message) | join("/")')"
stop_gateway
start_gateway
api GET /admin/v1/overview
check_eq "each notice made once: 2 after another restart" "200|2" "$STATUS|$(retiring | jq length)"

# ---- bad input, refused at load naming the entry
bad() { # NAME SNIPPET EXPECTED
	write_gateway_config "$2"
	out=$("$BIN/groqgated" --check-config "$T/gw.conf" 2>&1)
	check_eq "$1: refused" 1 "$?"
	check_contains "... saying why ($3)" "$3" "$out"
}
bad "an alias naming another alias" 'model_aliases = ( { alias = "a"; model = "llama-3.1-8b-instant"; }, { alias = "b"; model = "a"; } );' \
	"names another alias"
bad "an alias naming itself" 'model_aliases = ( { alias = "a"; model = "a"; } );' "names the alias itself"
bad "an alias that is a model's own name" 'model_aliases = ( { alias = "llama-3.1-8b-instant"; model = "openai/gpt-oss-20b"; } );' \
	"is a model's own name"
bad "an alias to an unpriced model" 'model_aliases = ( { alias = "a"; model = "nope"; } );' "has no price"
bad "a deprecation date that is not a date" 'deprecations = ( { model = "qwen/qwen3-32b"; shutdown = "2026-02-30"; replacement = "llama-3.1-8b-instant"; } );' \
	'shutdown: must be a date'
bad "replacements in a cycle" 'deprecations = ( { model = "qwen/qwen3-32b"; shutdown = "2026-08-16"; replacement = "llama-3.1-8b-instant"; },
  { model = "llama-3.1-8b-instant"; shutdown = "2026-08-16"; replacement = "qwen/qwen3-32b"; } );' "cycle"
bad "a replacement that is the model" 'deprecations = ( { model = "qwen/qwen3-32b"; shutdown = "2026-08-16"; replacement = "qwen/qwen3-32b"; } );' \
	"the retiring model itself"
done_testing
