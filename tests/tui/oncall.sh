# groqtop's on-call actions, each driven through the console and checked in
# the gateway: limits (diff, confirmation, the 412 "changed by X" path, the
# offer to resume a budget-paused team), client tokens (issue shown once and
# never again on screen, revoke), the emergency stop and its exact resume,
# alerts acknowledged, the audit log filtered, a team's usage; --readonly
# and --wallboard send no mutating request; the mouse selects and scrolls.
source "$(dirname "$0")/lib.sh"
seed_org

tui_start 120x40
tui_groqtop
tui_wait "chatbot-prod-api"
tui_keys Down # chatbot (the teams are sorted by id: batch-processor, chatbot, search)

# ---- limits: the form, a diff, saved
tui_keys l
tui_wait "Edit limits"
tui_wait "Monthly budget (USD)"
tui_golden limits-form
tui_keys BSpace BSpace BSpace BSpace BSpace BSpace BSpace BSpace
tui_type "25"
tui_keys Down
tui_keys BSpace BSpace
tui_type "90"
tui_keys Enter
tui_wait "Review: team limits"
tui_check "the diff shows the budget" "Monthly budget (USD)   0.000157  ->  25"
tui_check "and the RPM limit" "RPM limit              60  ->  90"
tui_check "the confirmation defaults to No" "[ No ]"
tui_golden limits-diff
tui_keys y
tui_wait "saved: team chatbot"
check_eq "saved in the gateway" "25|90" "$(team_field chatbot '"\(.monthly_budget_usd)|\(.rpm_limit)"')"
api GET '/admin/v1/audit?team=chatbot&limit=1'
check_contains "audited as the console's operator" "alice (tester@" "$(jq_body '.entries[0].actor + " (" + .entries[0].operator + ")"')"

# an RPM limit below what the team sent in the last minute: the review
# says its callers get 429 at once
tui_keys l
tui_wait "Edit limits"
tui_keys Down
tui_keys BSpace BSpace
tui_type "2"
tui_keys Enter
tui_wait "Review: team limits"
tui_check "an RPM limit below the last minute's requests warns" "WARNING: the team sent"
tui_check "... that its callers get 429 at once" "get 429 at once"
tui_keys n
tui_wait_gone "Review: team limits"
check_eq "No: nothing changed" 90 "$(team_field chatbot .rpm_limit)"

# ---- the team on one page (D): policy, limits beside use, keys, tokens,
# recent changes with what each changed
tui_keys D
tui_check "D describes the selected team" "Team chatbot"
tui_check "its policy" "max tokens per request"
tui_check "its RPM limit beside the last minute's use" "requests per minute        90 ("
tui_check "its keys" "chatbot-prod-api"
tui_check "its client tokens" "Client tokens"
tui_keys G
tui_check "its recent changes, with what the limits edit changed" "rpm_limit 60 -> 90"
tui_keys Escape
tui_wait "Upstream keys"

# ---- a key's own limits: l in the keys pane, reviewed, If-Match guarded
tui_keys Tab
tui_keys l
tui_wait "Edit key limits"
tui_check "the key's form names it and its team" "Key 'chatbot-prod-api' of team 'chatbot'"
tui_keys Down
tui_keys BSpace
tui_type "30"
tui_keys Enter
tui_wait "Review: key limits"
tui_check "the diff shows the key's RPM limit" "RPM limit              0  ->  30"
tui_keys y
tui_wait "saved: key chatbot-prod-api"
api GET /admin/v1/keys/chatbot-prod-api
check_eq "saved in the gateway" 30 "$(jq_body .rpm_limit)"
# someone else changes it while the form is open: nothing saved, said so
tui_keys l
tui_wait "Edit key limits"
api PATCH /admin/v1/keys/chatbot-prod-api '{"tpm_limit":5000}'
tui_keys Down
tui_keys BSpace BSpace
tui_type "40"
tui_keys Enter
tui_wait "Review: key limits"
tui_keys y
tui_check "a change meanwhile: nothing saved, said so" "Changed meanwhile"
api GET /admin/v1/keys/chatbot-prod-api
check_eq "... the other change kept, ours not written" "30|5000" "$(jq_body '"\(.rpm_limit)|\(.tpm_limit)"')"
tui_keys Enter
tui_wait_gone "Changed meanwhile"
api PATCH /admin/v1/keys/chatbot-prod-api '{"rpm_limit":0,"tpm_limit":0}'
tui_keys Tab

# a value that is not one stays in the form with the reason
tui_keys l
tui_wait "Edit limits"
tui_keys Down Down
tui_keys BSpace BSpace BSpace BSpace BSpace BSpace
tui_type "sometimes"
tui_keys Enter
tui_check "a bad value is refused in the form" "is not a valid value (reject or queue)"
tui_keys Escape
tui_wait_gone "Edit limits"

# ---- the 412 path: someone else saves while the form is open
tui_keys l
tui_wait "Edit limits"
api PATCH /admin/v1/teams/chatbot '{"max_tokens_per_request":50}' -H 'X-Operator: Bob'
tui_keys Down
tui_keys BSpace BSpace
tui_type "70"
tui_keys Enter
tui_wait "Review: team limits"
tui_keys y
tui_wait "Changed meanwhile"
tui_check "it names who changed it" "changed by alice (Bob)"
tui_golden limits-412
check_eq "nothing was saved" 90 "$(team_field chatbot .rpm_limit)"
tui_keys Enter
tui_wait "Edit limits"
tui_check "the form reopens on the new values" "Max tokens/request      50"
tui_keys Escape
tui_wait_gone "Edit limits"

# ---- a budget-paused team: raising its budget offers to resume it
api PATCH /admin/v1/teams/batch-processor '{"monthly_budget_usd":0.0000001}'
check_eq "batch-processor paused at its budget" budget_paused "$(team_field batch-processor .state)"
chat "$BATCH" llama-3.1-8b-instant '"max_tokens":1'
check_eq "its callers are refused" 402 "$STATUS"
tui_keys Up
tui_wait "budget!"
tui_keys l
tui_wait "Edit limits"
tui_keys BSpace BSpace BSpace BSpace BSpace BSpace BSpace BSpace BSpace BSpace
tui_type "40"
tui_keys Enter
tui_wait "Review: team limits"
tui_keys y
tui_wait "Resume the team?"
tui_keys y
tui_wait "team batch-processor resumed"
chat "$BATCH" llama-3.1-8b-instant '"max_tokens":1'
check_eq "its next request is admitted" 200 "$STATUS"

# ---- client tokens: list, issue (shown once), revoke
tui_keys Down
tui_keys t
tui_wait "Client tokens of chatbot"
tui_wait "tok_"
tui_golden tokens
tui_keys n
tui_wait "New client token"
tui_type "ci-bot"
tui_keys Enter
tui_wait "Issue a new client token 'ci-bot'"
tui_keys y
tui_wait "shown this once"
NEWTOK=$(tui_screen | grep -oE 'ggt_[A-Za-z0-9_]+' | head -1)
check "the new token is on screen" test -n "$NEWTOK"
chat "$NEWTOK" llama-3.3-70b-versatile '"max_tokens":5'
check_eq "and it works" 200 "$STATUS"
tui_keys Escape
tui_wait_gone "shown this once"
check_not_contains "gone from the screen once the dialog closes" "$NEWTOK" "$(tui_screen)"
tui_wait "ci-bot"
# the list follows the refresh: its row shows the use just made
wait_eval "ci-bot's use on screen" 10 "tui_screen | grep 'ci-bot' | grep -qv never"
tui_keys G
tui_keys d
tui_wait "Revoke token 'ci-bot'"
tui_check "the confirmation names its last use" "Last used:"
check "which is not never" bash -c "! tmux -L $TMUX_SOCK capture-pane -t t -p | grep -q 'Last used: never'"
tui_keys y
tui_wait "revoked: its next request gets 401"
chat "$NEWTOK" llama-3.3-70b-versatile '"max_tokens":5'
check_eq "the revoked token gets 401" 401 "$STATUS"
tui_keys Escape
tui_wait "Upstream keys"
# a team with two keys (prod and staging): the dialog asks which one
create_key chatbot-staging-api chatbot "$KEY4"
tui_keys R
tui_wait "chatbot-staging-api"
tui_keys t
tui_wait "Client tokens of chatbot"
tui_keys n
tui_wait "New client token"
tui_type "staging-job"
tui_keys Enter
tui_check "two keys: the dialog asks which one" "Team 'chatbot' has 2 upstream keys"
tui_type "nope"
tui_keys Enter
tui_check "a name that is not one of them is refused in the dialog" "'nope' is not one of team 'chatbot''s keys"
tui_keys BSpace BSpace BSpace BSpace
tui_type "chatbot-staging-api"
tui_keys Enter
tui_check "the confirmation names the key" "with upstream key 'chatbot-staging-api'"
tui_keys y
tui_wait "shown this once"
NEWTOK=$(tui_screen | grep -oE 'ggt_[A-Za-z0-9_]+' | head -1)
chat "$NEWTOK" llama-3.3-70b-versatile '"max_tokens":5'
check_eq "the token issued on the chosen key works" 200 "$STATUS"
api GET /admin/v1/teams/chatbot/tokens
check_eq "and is the staging key's" chatbot-staging-api "$(jq_body '.tokens[] | select(.label == "staging-job") | .key')"
tui_keys Escape
tui_wait_gone "shown this once"
tui_keys Escape
tui_wait "Upstream keys"

# ---- usage of a team
tui_keys u
tui_wait "Usage of chatbot: 24h"
tui_wait "BY MODEL"
tui_golden usage
tui_keys w
tui_check "w switches the window" "Usage of chatbot: 7d"
tui_keys Escape
tui_wait "Upstream keys"

# ---- emergency stop: two confirmations naming the reach; resume restores exactly those
tui_keys X
tui_wait "Emergency stop: reason"
tui_type "INC-42 key leak"
tui_keys Enter
tui_wait "EMERGENCY STOP (1 of 2)"
tui_check "it names how many teams it stops" "pauses 2 active teams"
tui_golden stop-1
tui_keys y
tui_wait "EMERGENCY STOP (2 of 2)"
tui_golden stop-2
tui_keys y
tui_keys Enter
tui_check "the second check is typed: a y does not stop anything" "Type STOP (in capitals)"
check_eq "nothing paused by a y" active "$(team_field chatbot .state)"
tui_type "STOP"
tui_keys Enter
tui_wait "EMERGENCY STOP: 2 teams paused"
tui_check "a banner in the header says the stop is in force, by whom and why" "EMERGENCY STOP 2 teams, alice"
tui_check "with its reason and how to lift it" "INC-42 key leak (U lifts)"
for t in "$CHAT" "$BATCH"; do
	chat "$t" llama-3.1-8b-instant '"max_tokens":1'
	check_eq "every team's next request: 403" 403 "$STATUS"
done
tui_keys U
tui_wait "Resume after the emergency stop"
tui_check "resume names exactly the teams it paused" "exactly the 2 teams it paused"
tui_keys y
tui_wait "emergency stop lifted: 2 teams resumed"
tui_wait_gone "(U lifts)"
chat "$CHAT" llama-3.3-70b-versatile '"max_tokens":1'
check_eq "chatbot serves again" 200 "$STATUS"
check_eq "search, paused before the stop, stays paused with its reason" "paused|cost review INC-7" \
	"$(team_field search '"\(.state)|\(.paused_reason)"')"

# ---- alerts: whole text, acknowledged for everyone
tui_keys A
tui_wait "Alerts"
tui_wait "NEW"
tui_golden alerts-view
tui_keys a
tui_wait "Acknowledge alert"
tui_keys y
tui_wait "alert acknowledged"
tui_wait "ack: alice"
api_as "$VIEW_TOKEN" GET /admin/v1/alerts
check_contains "acknowledged in the gateway, seen by a viewer" "alice (tester@" "$(jq_body '[.alerts[] | select(.acked_by != null)][0].acked_by')"
tui_keys Escape
tui_wait "Upstream keys"

# ---- the audit log, filtered
tui_keys L
tui_wait "Audit log"
tui_keys f
tui_wait "Filter the audit log"
tui_type "team=search"
tui_keys Enter
tui_wait "filter: team=search"
tui_wait "team.pause"
check "only search's entries" bash -c "! tmux -L $TMUX_SOCK capture-pane -t t -p | grep -q 'chatbot-prod-api'"
tui_check "the selected entry's before and after" "state"
tui_golden audit-filtered
tui_keys Escape
tui_wait "Upstream keys"

# ---- the mouse: a click selects a row in either pane, the wheel scrolls
# SGR mouse reports (xterm-256color's kmous is \E[<): button;column;row, 1-based
click() { tui_type $'\e[<0;'"$(( $2 + 1 ));$(( $1 + 1 ))M"; tui_type $'\e[<0;'"$(( $2 + 1 ));$(( $1 + 1 ))m"; }
wheel_down() { tui_type $'\e[<65;'"$(( $2 + 1 ));$(( $1 + 1 ))M"; }
tui_keys q
tui_wait_exit
tui_type "clear; $BIN/groqtop --gateway http://$GW --token-file $TOKFILE"
tui_keys Enter
tui_wait "chatbot-prod-api"
click 5 5 # the third team row (search)
tui_check "a click selects a team" "cost review INC-7"
wheel_down 5 20
tui_check "the wheel scrolls the pane under the pointer" "search-prod-api"
# a click on a column's head sorts by it, a second click the other way
click 2 72 # the SPEND column's head (row 2: the teams pane's header)
tui_check "a click on SPEND's head sorts by spend, biggest first" "sort: spend ↓"
tui_check "... the sorted column marked in the header" "SPEND month/budget↓"
click 2 72
tui_check "a second click: the other way" "sort: spend ↑"
click 2 3
tui_check "a click on TEAM: by id again" "sort: id ↑"
tui_check "... marked" "TEAM↑"
tui_keys q
tui_wait_exit
check_not_contains "the issued token never reached the terminal's scrollback" "$NEWTOK" "$(tm capture-pane -t t -p -S -3000)"

# ---- 80x24
tui_resize 80 24
tui_groqtop
tui_wait "chatbot-prod-api"
tui_keys Down
tui_wait "─ chatbot ─"
tui_keys l
tui_wait "Edit limits"
tui_golden limits-form-80x24
tui_keys Escape
tui_wait_gone "Edit limits"
tui_keys t
tui_wait "Client tokens of chatbot"
tui_golden tokens-80x24
tui_keys Escape
tui_wait "Upstream keys"
tui_keys A
tui_wait "(newest first)"
tui_golden alerts-80x24
tui_keys Escape
tui_wait "Upstream keys"
tui_keys u
tui_wait "BY ROUTE"
tui_golden usage-80x24
tui_keys q
tui_wait_exit

# ---- the fleet view (single mode: this gateway)
out=$("$BIN/groqtop" --gateway "http://$GW" --token-file "$TOKFILE" --snapshot --view fleet --size 120x40)
check_contains "--snapshot --view fleet" "Fleet: single, 1/1 serving" "$out"
check_contains "the replica listed with its address" "$GW" "$out"

# ---- the layout from 80x24 to 300x100: every pane there, sized by content
for size in 80x24 300x100; do
	out=$("$BIN/groqtop" --gateway "http://$GW" --token-file "$TOKFILE" --snapshot --size "$size")
	check_eq "$size: $(( ${size#*x} )) rows drawn" "${size#*x}" "$(printf '%s\n' "$out" | wc -l)"
	for want in "Teams 3" "Upstream keys 4" "Alerts" "batch-processor" "search-prod-api"; do
		check_contains "$size: $want on screen" "$want" "$out"
	done
done

# ---- --readonly and --wallboard: every mutating key refused, nothing sent
tui_resize 120 40
n0=$(audits)
tui_groqtop --readonly
tui_wait "chatbot-prod-api"
check "the footer offers no change" bash -c "! tmux -L $TMUX_SOCK capture-pane -t t -p | grep -q 'Pause/Resume'"
for k in p l e X U; do
	tui_keys "$k"
	tui_wait "read-only: '$k'"
done
tui_keys t
tui_wait "Client tokens of batch-processor"
for k in n d; do
	tui_keys "$k"
	tui_wait "read-only: '$k'"
done
tui_keys Escape
tui_wait "Upstream keys"
tui_keys A
tui_wait "(newest first)"
tui_keys a
tui_wait "read-only: 'a'"
tui_keys q
tui_wait_exit
tui_groqtop --wallboard
tui_wait "page 1/"
for k in p l e X U; do
	tui_keys "$k"
	tui_wait "read-only: '$k'"
done
tui_keys q
tui_wait_exit
check_eq "--readonly and --wallboard sent no change (the audit log is unchanged)" "$n0" "$(audits)"

# ---- the alerts list taller than the screen: moving down keeps the
# selected alert (its head and its whole message) on screen
# four alerts more: a team's budget set below what it spent (50, 80, 95 %
# and the auto-pause)
create_team etl '"rpm_limit":60,"monthly_budget_usd":1'
create_key etl-prod-api etl "$KEY5"
new_token etl
chat "$TOKEN" llama-3.1-8b-instant '"max_tokens":5'
api PATCH /admin/v1/teams/etl '{"monthly_budget_usd":0.0000001}'
wait_eval "10 alerts" 10 '[ "$(api GET /admin/v1/alerts; jq_body ".alerts | length")" -ge 10 ]'
tui_resize 80 24
tui_groqtop --readonly
tui_wait "chatbot-prod-api"
tui_keys A
tui_wait "(newest first)"
check "the oldest alert is below the fold" tui_lacks "Team 'chatbot' crossed 50%"
tui_keys Down
tui_check "one down: the newest stays on screen above the selection" "Team 'etl' was paused"
for _ in $(seq 1 16); do tui_keys Down; done
tui_check "moving down to the oldest shows it" "Team 'chatbot' crossed 50% of its monthly budget"
tui_check "... with the end of its message" '$0.000157).'
tui_keys g
tui_check "g brings the newest back" "Team 'etl' was paused"
tui_keys L
tui_check "L opens the audit log from the alerts view (k9s: from anywhere)" "Audit log"
tui_keys Escape
tui_check "Esc comes back to the alerts" "(newest first)"
tui_keys o
tui_check "o opens Groq's view from there too" "Groq"
tui_keys /
tui_type "etl"
tui_check "/ from another view filters the teams, back in their pane" "filter: etl"
tui_keys Escape
tui_keys A
tui_wait "(newest first)"
tui_keys g
tui_keys Enter
tui_check "Enter on an alert opens its team (the newest: etl's auto-pause)" "─ etl ─"
tui_check "... in the teams pane" "Teams 4"
tui_keys q
tui_wait_exit
done_testing
