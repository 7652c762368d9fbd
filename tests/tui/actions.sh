# groqtop actions, checked on screen and in the gateway's state: pause
# with a reason and resume, cancel, allowlist edit with its diff, the 412
# path, and a read-only wallboard that sends no mutating request.
source "$(dirname "$0")/lib.sh"
seed_org

tui_start 120x40
tui_groqtop
tui_wait "chatbot-prod-api"
# the selection starts on batch-processor (first by id)
tui_keys p
tui_wait "Pause team: reason"
tui_keys Enter
tui_check "an empty reason is refused in the dialog" "A reason is required"
tui_type "deploy freeze"
tui_keys Enter
tui_wait "Pause team 'batch-processor'?"
tui_wait "gets HTTP 403"
tui_check "the confirmation defaults to No" "[ No ]"
tui_keys n
tui_wait "cancelled: nothing was changed"
check_eq "cancel leaves the team active" active "$(team_field batch-processor .state)"

tui_keys p
tui_wait "Pause team: reason"
tui_type "deploy freeze"
tui_keys Enter
tui_wait "Pause team 'batch-processor'?"
tui_keys y
tui_wait "done: batch-processor"
check_eq "pause reached the gateway" "paused deploy freeze" "$(team_field batch-processor '"\(.state) \(.paused_reason)"')"
check_contains "paused by the token's name and the console's user@host" "alice (tester@" "$(team_field batch-processor .paused_by)"
tui_check "the detail pane shows who paused it and why" "paused by alice"
chat "$BATCH" llama-3.1-8b-instant '"max_tokens":1'
check_eq "the team's callers now get 403" 403 "$STATUS"

tui_keys p
tui_wait "Resume team 'batch-processor'?"
tui_keys Enter
tui_check "Enter on the default (No) cancels" "cancelled: nothing was changed"
tui_keys p
tui_wait "Resume team 'batch-processor'?"
tui_keys y
tui_wait "done: batch-processor"
check_eq "resume reached the gateway" active "$(team_field batch-processor .state)"

# ---- allowlist editor: checklist, diff, save
tui_keys e
tui_wait "Edit allowlist"
tui_wait "[x] llama-3.3-70b-versatile"
tui_keys Down Down
tui_keys Space
tui_wait "+added"
tui_keys Enter
tui_wait "Save the allowlist of team 'batch-processor'"
tui_check "the diff lists what is added" "+ add:    openai/gpt-oss-20b"
tui_check "and what is removed" "- remove: (nothing)"
tui_golden allowlist-diff
tui_keys y
tui_wait "done: batch-processor"
check_contains "the allowlist was saved" "openai/gpt-oss-20b" "$(team_field batch-processor '.allowed_models | join(",")')"

# ---- the 412 path: someone else edits while the dialog is open
tui_keys e
tui_wait "Edit allowlist"
v=$(team_field batch-processor .version)
api PATCH /admin/v1/teams/batch-processor '{"rpm_limit":21}'
tui_keys Space
tui_keys Enter
tui_wait "Save the allowlist"
tui_keys y
tui_wait "Changed meanwhile"
tui_check "the 412 is explained" "Someone else changed this team"
check_contains "and nothing was saved" "openai/gpt-oss-20b" "$(team_field batch-processor '.allowed_models | join(",")')"
tui_keys Enter
tui_wait_gone "Changed meanwhile"

# a model taken away that the team called in the last hour: the review says so
tui_keys e
tui_wait "Edit allowlist"
tui_wait "[x] llama-3.1-8b-instant"
tui_keys Down
tui_keys Space
tui_keys Enter
tui_wait "Save the allowlist"
tui_check "removing a model called in the last hour warns" "WARNING: the team called llama-3.1-8b-instant 2 times"
tui_keys n
tui_wait_gone "Save the allowlist"
check_contains "No: nothing changed" "llama-3.1-8b-instant" "$(team_field batch-processor '.allowed_models | join(",")')"

# an API error is shown verbatim
tui_keys q
tui_wait_exit

# ---- wallboard: every action key, no mutating request
n=$(audits)
logstart=$(wc -l < "$T/groqgated.log")
tui_groqtop --wallboard
tui_wait "wallboard"
for k in p e r Enter d; do tui_keys "$k"; done
tui_wait "read-only"
tui_keys ':'; tui_type "keys"; tui_keys Enter
tui_wait "Upstream keys"
tui_keys Tab r
tui_wait "Rotate key"
tui_check "the wizard opens read-only on a wallboard" "read-only: Esc close"
tui_keys Enter n a
tui_wait "rotation steps are disabled"
tui_keys q
tui_wait_gone "Rotate key"
tui_keys p
tui_wait "is disabled (wallboard)"
tui_keys e
check_eq "wallboard: no mutation reached the gateway (audit unchanged)" "$n" "$(audits)"
check "the wallboard did poll the gateway (GET requests logged)" test "$(tail -n +"$logstart" "$T/groqgated.log" | grep -c '"msg":"admin","method":"GET"')" -ge 1
check_eq "and sent no mutating request at all (no POST/PUT/PATCH/DELETE logged)" 0 "$(tail -n +"$logstart" "$T/groqgated.log" | grep -c '"method":"\(POST\|PUT\|PATCH\|DELETE\)"')"
tui_keys q
tui_wait_exit
done_testing
