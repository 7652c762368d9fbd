# groqctl against a real gateway: contexts and the token file, every get
# as a table, JSON and CSV (parsed back), set (every settable field typed;
# guarded by the version read first or given with --if-version: a change
# meanwhile is exit 4), pause and resume, tokens issued (printed once,
# alone) and revoked, a rotation from a secret on stdin and a whole guided
# rotation from a secret file, the emergency stop; the organisation as
# code: export -> diff 0 -> apply changing nothing (integers beyond 32 bits,
# budgets to the nano-dollar) -> edit -> diff 3 -> apply -> diff 0, a dry
# run changing nothing, a file with one bad team changing nothing, --prune
# needing --confirm; a viewer token refused; exit codes; bash completion;
# no secret in any output.
source "$(dirname "$0")/../lib.sh"
GW_EXTRA="rotation = { drain_seconds = 1; };" # (the guided rotation below waits the drain window out)
setup_basic
C="$BIN/groqctl"
(umask 077; printf '%s\n' "$OP_TOKEN" > "$T/op.token"; printf '%s\n' "$VIEW_TOKEN" > "$T/viewer.token")
mkdir -p "$T/home/.config/groqgate"
cat > "$T/home/.config/groqgate/groqtop.conf" <<CONF
context = "local";
contexts = ( { name = "local"; gateway = "http://$GW"; token_file = "$T/op.token"; },
             { name = "ro"; gateway = "http://$GW"; token_file = "$T/viewer.token"; },
             { name = "fleet"; gateway = [ "http://127.0.0.1:1", "http://$GW" ]; token_file = "$T/op.token"; } );
CONF
ctl() { HOME="$T/home" "$C" "$@"; }
all_out=""
run() { OUT=$(ctl "$@" 2> "$T/err"); RC=$?; ERR=$(cat "$T/err"); all_out="$all_out$OUT$ERR"; }

# ---- get, three ways
run get teams
check_eq "get teams: exit 0 (the file's context)" 0 "$RC"
check_contains "a table with a header row" "ID" "$(printf %s "$OUT" | head -1)"
check_contains "and the team" "alpha" "$OUT"
check "sized to 80 columns when not a terminal" test "$(printf %s "$OUT" | awk '{ if (length > m) m = length } END { print m }')" -le 80
run get teams -o json
check_eq "-o json is the API's own object" alpha "$(printf %s "$OUT" | jq -r '.teams[0].id')"
run -o csv get keys
check_eq "-o csv: a header row" "name,team,fingerprint,state,requests_24h,rotation.step" "$(printf %s "$OUT" | head -1)"
check_eq "and a row per key" "alpha-prod-api,alpha" "$(printf %s "$OUT" | sed -n 2p | cut -d, -f1-2)"
run get team alpha -o json
check_eq "get team ID" "alpha|1000" "$(printf %s "$OUT" | jq -r '"\(.id)|\(.rpm_limit)"')"
for w in alerts audit capacity spend; do
	run get "$w" -o json
	check_eq "get $w: exit 0, JSON" "0|true" "$RC|$(printf %s "$OUT" | jq -e . > /dev/null && echo true)"
done
run --gateway "http://$GW" --token-file "$T/op.token" get teams
check_eq "--gateway URL --token-file FILE instead of a context" 0 "$RC"
run --gateway "http://127.0.0.1:1,http://$GW" --token-file "$T/op.token" get teams
check_eq "several addresses: the next tried when one cannot be reached" "0|" "$RC|$ERR"
run --context fleet set team alpha rpm_limit=600
check_eq "a context's list of addresses (groqtop's), a write too" 0 "$RC"
run --gateway "http://127.0.0.1:1,http://127.0.0.1:2" --token-file "$T/op.token" get teams
check_eq "none reachable: exit 1, the last one named" "1|http://127.0.0.1:2" "$RC|$(grep -o 'http://127.0.0.1:2' <<< "$ERR" | head -1)"
run --gateway "http://$GW" --token "$OP_TOKEN" get teams
check_eq "a token in argv is refused (usage)" 2 "$RC"
chmod 644 "$T/op.token"
run --gateway "http://$GW" --token-file "$T/op.token" get teams
check_eq "a token file others may read: refused" 1 "$RC"
chmod 600 "$T/op.token"
run get nothing
check_eq "an unknown command: usage, exit 2" 2 "$RC"

# ---- set, pause, resume
run set team alpha rpm_limit=600 allowed_models=llama-3.1-8b-instant,llama-3.3-70b-versatile priority=batch daily_budget_usd=5
check_eq "set team: typed fields" "0|600|batch|5" "$RC|$(api GET /admin/v1/teams/alpha; jq_body '"\(.rpm_limit)|\(.priority)|\(.daily_budget_usd)"')"
run set team alpha daily_budget_usd=0
check_eq "set team daily_budget_usd=0: no daily budget" "0|0" "$RC|$(api GET /admin/v1/teams/alpha; jq_body .daily_budget_usd)"
# every field the admin API sets, typed as it takes it: lists, the
# fallbacks object, the tier, booleans, the end users' limits, USD
create_team wide
run set team wide service_tiers=on_demand,flex default_service_tier=flex replace_retired=true \
	'fallbacks=llama-3.3-70b-versatile=llama-3.1-8b-instant' user_daily_budget_usd=2.5 user_rpm_limit=30 weekly_budget_usd=50
check_eq "set team: service_tiers (a list), fallbacks (model -> models), the tier, replace_retired, user_*, weekly" \
	"0|on_demand,flex|flex|llama-3.1-8b-instant|true|2.5|30|50" \
	"$RC|$(api GET /admin/v1/teams/wide; jq_body '"\(.service_tiers | join(","))|\(.default_service_tier)|\(.fallbacks["llama-3.3-70b-versatile"] | join(","))|\(.replace_retired)|\(.user_daily_budget_usd)|\(.user_rpm_limit)|\(.weekly_budget_usd)"')"
run set team wide 'fallbacks={"llama-3.1-8b-instant":["llama-3.3-70b-versatile"]}' default_service_tier=
check_eq "fallbacks as the API's JSON object; default_service_tier= is Groq's own" \
	'0|{"llama-3.1-8b-instant":["llama-3.3-70b-versatile"]}|null' \
	"$RC|$(api GET /admin/v1/teams/wide; jq_body '"\(.fallbacks | tojson)|\(.default_service_tier)"')"
run set team wide fallbacks=llama-3.1-8b-instant
check_eq "fallbacks that are not MODEL=NEXT: usage" 2 "$RC"
run set team wide tpd_limit=5000000000 tpm_limit=3000000000 monthly_budget_usd=123.456789012 daily_budget_usd=0.000000001
check_eq "set team: integers beyond 32 bits, budgets to the nano-dollar" "0|5000000000|3000000000|1e-09" \
	"$RC|$(api GET /admin/v1/teams/wide; jq_body '"\(.tpd_limit)|\(.tpm_limit)|\(.daily_budget_usd)"')"
run set team wide 'name=Wide "team" \ one'$'\t\x01'
check_eq "... and a name with quotes, a backslash and control characters" 0 "$RC"
exact_budget() { api GET /admin/v1/overview; jq_body ".teams[] | select(.id == \"$1\") | .monthly_budget_usd"; }
check_eq "... kept to the nano-dollar (the overview writes USD exactly)" 123.456789012 "$(exact_budget wide)"
run set team alpha rpm_limit=many
check_eq "a value not of the field's type: usage" 2 "$RC"
run set team alpha priority=urgent
check_eq "a value the gateway refuses: exit 1" 1 "$RC"
check_contains "one line naming what failed and why (the API's message)" "'priority' must be" "$ERR"
run --context ro set team alpha rpm_limit=1
check_eq "a viewer token: refused, exit 1" 1 "$RC"
check_contains "saying so" "HTTP 403" "$ERR"
run pause alpha --reason "INC-9 drill"
check_eq "pause" "0|paused|INC-9 drill" "$RC|$(api GET /admin/v1/teams/alpha; jq_body '"\(.state)|\(.paused_reason)"')"
run pause alpha
check_eq "pause without a reason: usage" 2 "$RC"
run resume alpha
check_eq "resume" "0|active" "$RC|$(api GET /admin/v1/teams/alpha; jq_body .state)"

# ---- tokens: printed once, alone
run token issue alpha --key alpha-prod-api --label ci
check_eq "token issue prints the token and nothing else" "0|1|1" "$RC|$(printf '%s\n' "$OUT" | wc -l)|$(printf %s "$OUT" | grep -c '^ggt_')"
check_contains "a client token" "ggt_" "$OUT"
NEWTOK=$OUT
chat "$NEWTOK" llama-3.1-8b-instant '"max_tokens":5'
check_eq "which works" 200 "$STATUS"
TID=$(api GET /admin/v1/teams/alpha/tokens; jq_body '.tokens[] | select(.label == "ci") | .id')
run token revoke alpha "$TID"
check_eq "token revoke" 0 "$RC"
chat "$NEWTOK" llama-3.1-8b-instant '"max_tokens":5'
check_eq "the revoked token gets 401" 401 "$STATUS"
run token issue alpha --label x
check_eq "token issue without --key: usage" 2 "$RC"

# ---- a rotation, the secret on stdin (never argv)
OUT=$(printf '%s\n' "$KEY2" | HOME="$T/home" "$C" rotate alpha-prod-api start 2>&1); RC=$?
all_out="$all_out$OUT"
check_eq "rotate start from stdin" "0|verified" "$RC|$(api GET /admin/v1/keys/alpha-prod-api; jq_body .rotation.step)"
run rotate alpha-prod-api status
check_eq "rotate status" "verified" "$(printf %s "$OUT" | jq -r .rotation.step)"
run rotate alpha-prod-api abort
check_eq "rotate abort" "0|none" "$RC|$(api GET /admin/v1/keys/alpha-prod-api; jq_body '.rotation.step // "none"')"

# ---- a whole guided rotation, the secret from a file: each step's exit
# code and the key's step as the admin API reads it
key_is() { # [jq filter] (default: its step)
	local q='.rotation.step // "none"'
	api GET /admin/v1/keys/alpha-prod-api
	jq_body "${1:-$q}"
}
(umask 077; printf '%s\n' "$KEY3" > "$T/new-groq.key")
run rotate alpha-prod-api start --secret-file "$T/new-groq.key"
check_eq "rotate start --secret-file FILE: verified" "0|verified" "$RC|$(key_is)"
run rotate alpha-prod-api switch
check_eq "a step out of order: refused (409, exit 4), the step unchanged" "4|verified" "$RC|$(key_is)"
run rotate alpha-prod-api deploy
check_eq "rotate deploy" "0|deployed" "$RC|$(key_is)"
run rotate alpha-prod-api secret-updated
check_eq "secret-updated with no hook and no --confirm: refused, still deployed" "1|deployed" "$RC|$(key_is)"
check_contains "... saying what to do" "confirm" "$ERR"
run rotate alpha-prod-api secret-updated --confirm
check_eq "rotate secret-updated --confirm" "0|secret_updated" "$RC|$(key_is)"
run rotate alpha-prod-api switch
check_eq "rotate switch: the new key serves" "0|switched|new" "$RC|$(key_is '"\(.rotation.step)|\(.rotation.serving)"')"
run rotate alpha-prod-api complete
check_eq "complete without --confirm: usage, still switched" "2|switched" "$RC|$(key_is)"
wait_eval "the drain window" 10 '[ "$(key_is .rotation.drain_remaining_seconds)" = 0 ]'
run rotate alpha-prod-api complete --confirm
check_eq "rotate complete --confirm: the new key alone" "0|none|gsk_…0003" "$RC|$(key_is '"\(.rotation.step // "none")|\(.fingerprint)"')"
served=$(fstat "gsk_…0003" requests)
chat "$TOKEN" llama-3.1-8b-instant '"max_tokens":5'
check_eq "and it serves" "200|$((served + 1))" "$STATUS|$(fstat "gsk_…0003" requests)"
printf '' > "$T/empty.key"; chmod 600 "$T/empty.key"
run rotate alpha-prod-api start --secret-file "$T/empty.key"
check_eq "an empty secret file: refused before the gateway, one line, no rotation" "1|1|none" "$RC|$(printf '%s\n' "$ERR" | wc -l)|$(key_is)"

# ---- the organisation as code
run export
check_eq "export" 0 "$RC"
printf '%s\n' "$OUT" > "$T/org.conf"
check_contains "a libconfig file of the teams" 'id = "alpha";' "$OUT"
check_not_contains "no live figures" "spend_mtd_usd" "$OUT"
run diff -f "$T/org.conf"
check_eq "export then diff: exit 0" 0 "$RC"
check_contains "integers beyond 32 bits with libconfig's L" "tpd_limit = 5000000000L;" "$(cat "$T/org.conf")"
check_contains "budgets to the nano-dollar" "daily_budget_usd = 0.000000001;" "$(cat "$T/org.conf")"
check_contains "strings as libconfig reads them back (\xNN: it knows no \uNNNN)" 'name = "Wide \"team\" \\ one\t\x01";' "$(cat "$T/org.conf")"
check_contains "fallbacks as model and next" 'fallbacks = ( { model = "llama-3.1-8b-instant"; next = [ "llama-3.3-70b-versatile" ]; } );' "$(cat "$T/org.conf")"
wide_now() { api GET /admin/v1/teams/wide; jq_body '"\(.version)|\(.tpd_limit)|\(.tpm_limit)|\(.daily_budget_usd)|\(.fallbacks | tojson)"'; }
wide_before=$(wide_now)
run apply -f "$T/org.conf"
check_eq "apply of what export wrote: nothing to change" "0|0 changes applied" "$RC|$OUT"
check_eq "... the values read back the same (and the version)" "$wide_before" "$(wide_now)"
check_eq "... the budget still to the nano-dollar" 123.456789012 "$(exact_budget wide)"
check_contains "... written as the gateway keeps it" "monthly_budget_usd = 123.456789012;" "$(cat "$T/org.conf")"
sed -i 's/monthly_budget_usd = 123.456789012;/monthly_budget_usd = 123.456789013;/' "$T/org.conf"
run diff -f "$T/org.conf"
check_eq "a budget edited by a nano-dollar: diff exit 3" "3|~ team wide" "$RC|$(printf %s "$OUT" | head -1)"
run apply -f "$T/org.conf"
check_eq "apply sets it exactly" "0|123.456789013" "$RC|$(exact_budget wide)"
run diff -f "$T/org.conf"
check_eq "... and diff is exit 0 again" 0 "$RC"
sed -i 's/rpm_limit = 600;/rpm_limit = 700;/' "$T/org.conf"
cat >> "$T/org.conf.add" <<'CONF'
CONF
run diff -f "$T/org.conf"
check_eq "an edit: diff exit 3" 3 "$RC"
check_contains "a readable per-field diff" "rpm_limit                600 -> 700" "$OUT"
run apply -f "$T/org.conf" --dry-run
check_eq "a dry run: exit 0, nothing applied" "0|600" "$RC|$(api GET /admin/v1/teams/alpha; jq_body .rpm_limit)"
run apply -f "$T/org.conf"
check_eq "apply" "0|700" "$RC|$(api GET /admin/v1/teams/alpha; jq_body .rpm_limit)"
check_contains "audited via apply" '"via":"apply"' "$(sql "select after from audit where action = 'team.update' order by id desc limit 1")"
run diff -f "$T/org.conf"
check_eq "after apply: diff exit 0" 0 "$RC"
# the aliases an operator set are the file's too
api PUT /admin/v1/aliases/quick '{"model":"llama-3.3-70b-versatile"}'
run export
printf '%s\n' "$OUT" > "$T/org.conf"
check_contains "export writes the operators' aliases" 'alias = "quick"; model = "llama-3.3-70b-versatile";' "$OUT"
run diff -f "$T/org.conf"
check_eq "export then diff, with aliases: exit 0" 0 "$RC"
sed -i '/alias = "quick"/s/llama-3.3-70b-versatile/llama-3.1-8b-instant/' "$T/org.conf"
run diff -f "$T/org.conf"
check_eq "an alias edited: diff exit 3" 3 "$RC"
check_contains "... naming it and its model" '~ alias quick' "$OUT"
check_contains "..." '"llama-3.3-70b-versatile" -> "llama-3.1-8b-instant"' "$OUT"
run apply -f "$T/org.conf"
check_eq "apply sets it" "0|llama-3.1-8b-instant" "$RC|$(api GET /admin/v1/aliases; jq_body '.aliases[] | select(.alias == "quick") | .model')"
check_eq "audited as alias.set via apply" "alias.set" "$(sql "select action from audit where target = 'alias/quick' order by id desc limit 1")"
printf '{"teams":[{"id":"alpha","rpm_limit":701}],"aliases":[{"alias":"quick","model":"nope-9"}]}\n' > "$T/badalias.json"
run apply -f "$T/badalias.json"
check_eq "a bad alias: exit 1, nothing applied" "1|700|llama-3.1-8b-instant" \
	"$RC|$(api GET /admin/v1/teams/alpha; jq_body .rpm_limit)|$(api GET /admin/v1/aliases; jq_body '.aliases[] | select(.alias == "quick") | .model')"
check_contains "... naming it" "quick" "$ERR"
printf '{"teams":[],"aliases":[]}\n' > "$T/noalias.json"
run apply -f "$T/noalias.json" --prune --dry-run
check_contains "--prune takes away the aliases the file does not list (dry run)" "- alias quick" "$OUT"
# a JSON file with a new team and a bad one: nothing applied
cat > "$T/org.json" <<'JSON'
{"teams":[{"id":"alpha","rpm_limit":800},
          {"id":"beta","allowed_models":["llama-3.1-8b-instant"],"max_tokens_per_request":50,"rpm_limit":10,"monthly_budget_usd":5},
          {"id":"gamma","allowed_models":["llama-3.1-8b-instant"],"max_tokens_per_request":50,"rpm_limit":-1,"monthly_budget_usd":5}]}
JSON
run apply -f "$T/org.json"
check_eq "a file with one bad team: exit 1" 1 "$RC"
check_contains "naming the team and its field" "team 'gamma': 'rpm_limit'" "$ERR"
check_eq "and nothing applied (alpha unchanged, beta not created)" "700|404" \
	"$(api GET /admin/v1/teams/alpha; jq_body .rpm_limit)|$(api GET /admin/v1/teams/beta; echo "$STATUS")"
sed -i 's/"rpm_limit":-1/"rpm_limit":10/' "$T/org.json"
run apply -f "$T/org.json" -o json
check_eq "fixed: applied (a JSON file)" "0|800|201" "$RC|$(api GET /admin/v1/teams/alpha; jq_body .rpm_limit)|$(api GET /admin/v1/teams/beta; [ "$STATUS" = 200 ] && echo 201)"
check_eq "-o json: the API's changes" "update create create" "$(printf %s "$OUT" | jq -r '[.changes[].action] | join(" ")')"
printf '{"teams":[{"id":"beta"}]}\n' > "$T/only-beta.json"
run apply -f "$T/only-beta.json" --prune
check_eq "--prune without --confirm: usage" 2 "$RC"
run apply -f "$T/only-beta.json" --prune --dry-run
check_contains "--prune --dry-run lists what it would pause" "- team alpha" "$OUT"
check_eq "... and pauses nothing" active "$(api GET /admin/v1/teams/alpha; jq_body .state)"
run apply -f "$T/only-beta.json" --prune --confirm
api GET /admin/v1/teams/alpha
check_eq "--prune --confirm pauses (never deletes) the teams absent" "0|200|paused" \
	"$RC|$STATUS|$(jq_body .state)"
run --context ro apply -f "$T/org.json"
check_eq "a viewer cannot apply" 1 "$RC"

# ---- the emergency stop
run emergency-stop
check_eq "emergency-stop without a reason: usage" 2 "$RC"
run emergency-stop --reason "groqctl drill"
check_eq "emergency-stop" "0|paused" "$RC|$(api GET /admin/v1/teams/beta; jq_body .state)"
run resume-all
check_eq "resume-all" "0|active" "$RC|$(api GET /admin/v1/teams/beta; jq_body .state)"

# ---- lost updates: 12 operators set the same team at once; each reads the
# version and writes with If-Match, so a write that lost the race is exit
# 4 (conflict) and changes nothing: the team's version moves once per exit 0
api GET /admin/v1/teams/beta; v0=$(jq_body .version)
racers=""
for i in $(seq 1 12); do
	(ctl set team beta rpm_limit=$((100 + i)) > /dev/null 2> "$T/race.$i.err"; echo "$? $((100 + i))" > "$T/race.$i.rc") &
	racers="$racers $!"
done
wait $racers
codes=$(cat "$T"/race.*.rc | cut -d' ' -f1 | sort | uniq -c | tr -s ' ' | tr '\n' ';')
echo "# 12 racing set team: $codes (count exit)"
api GET /admin/v1/teams/beta; v1=$(jq_body .version); final=$(jq_body .rpm_limit)
won=$(cat "$T"/race.*.rc | awk '$1 == 0' | wc -l)
check_eq "racing writers: each exit 0 (done) or 4 (conflict)" "" "$(cat "$T"/race.*.rc | awk '$1 != 0 && $1 != 4')"
check_eq "the version moved once per write that was done ($won)" "$won" "$((v1 - v0))"
check "the final value is one a successful writer set ($final)" grep -qx "0 $final" "$T"/race.*.rc
check "at least one writer was done ($won)" test "$won" -ge 1
silent=""
for i in $(seq 1 12); do
	read -r rc _ < "$T/race.$i.rc"
	[ "$rc" = 4 ] && [ "$(wc -l < "$T/race.$i.err")" != 1 ] && silent="$silent $i"
done
check_eq "each conflict is one line on stderr" "" "$silent"
# a lost update made deterministic: a script read the version, the team
# changed meanwhile, the script's write names the version it read
api GET /admin/v1/teams/beta; stale=$(jq_body .version)
api PATCH /admin/v1/teams/beta '{"rpm_limit":321}'
run set team beta --if-version "$stale" rpm_limit=999
check_eq "set --if-version with a version changed meanwhile: exit 4, the change made meanwhile kept" \
	"4|321" "$RC|$(api GET /admin/v1/teams/beta; jq_body .rpm_limit)"
check_contains "... one line saying so" "HTTP 412" "$ERR"
run set team beta --if-version "$(api GET /admin/v1/teams/beta; jq_body .version)" rpm_limit=999
check_eq "set --if-version with the version now: done" "0|999" "$RC|$(api GET /admin/v1/teams/beta; jq_body .rpm_limit)"
run set team beta --if-version soon rpm_limit=1
check_eq "--if-version that is not a version: usage" 2 "$RC"

# ---- the GitOps example in examples/: the gateway takes it (dry run), and it differs
run apply -f "$ROOT/examples/gitops/organisation.conf" --dry-run
check_eq "examples/gitops/organisation.conf: a valid file (dry run)" "0|" "$RC|$ERR"
check_contains "... that would create its teams" "chatbot" "$OUT"
run diff -f "$ROOT/examples/gitops/organisation.conf"
check_eq "... and diff says it differs (exit 3)" 3 "$RC"
check "examples/gitops/ci.yml names diff and apply" grep -q 'diff -f groqgate/organisation.conf' "$ROOT/examples/gitops/ci.yml"

# ---- bash completion: the commands, a command's words, the contexts from the file
complete_at() { HOME="$HOME" bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _groqctl; echo "${COMPREPLY[*]}"' _ \
	"$ROOT/packaging/groqctl.bash-completion" "$@"; }
check_eq "completion: the commands" "get" "$(complete_at groqctl ge)"
check_eq "completion: a rotation's steps" "start deploy secret-updated switch status complete abort" \
	"$(complete_at groqctl -o json rotate k1 '')"
check_eq "completion: -o" "table json csv" "$(complete_at groqctl -o '')"
check_eq "completion: --group-by" "day team key model route user" "$(complete_at groqctl get spend --group-by '')"
check_eq "completion: set's end-user fields" "user_daily_budget_usd= user_rpm_limit=" "$(complete_at groqctl set team a user_)"
for f in replace_retired= service_tiers= default_service_tier= fallbacks=; do
	check_eq "completion: set's $f" "$f" "$(complete_at groqctl set team a "${f:0:4}")"
done
check_eq "completion: set --if-version" "--if-version" "$(complete_at groqctl set team a --)"
check_eq "completion: rotate complete --confirm" "--confirm" "$(complete_at groqctl rotate k1 complete --)"

for s in "$OP_TOKEN" "$VIEW_TOKEN" "$KEY1" "$KEY2" "$KEY3"; do
	check_not_contains "no secret in any output" "$s" "$all_out"
done
done_testing
