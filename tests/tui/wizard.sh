# The rotation wizard in groqtop, start to finish: hidden input, a cancel
# at a confirmation, resume after closing groqtop, the drain refusal, and
# the new secret never on screen.
source "$(dirname "$0")/lib.sh"
seed_org
key_step() { api GET /admin/v1/keys/chatbot-prod-api; jq_body '.rotation.step // "none"'; }

tui_start 120x40
tui_groqtop
tui_wait "chatbot-prod-api"
tui_keys Tab           # keys pane; chatbot-prod-api is the first key
tui_keys r
tui_wait "Rotate key chatbot-prod-api"
tui_wait "> 1. Create the new key"
tui_keys Enter
tui_wait "New Groq key"
tui_type "$KEY4"
tui_wait "(hidden input: 40 characters typed)"
check_not_contains "the pasted key is never echoed" "$KEY4" "$(tui_screen)"
tui_keys Enter
tui_wait "> 2. Deploy"
check_eq "step 1 reached the gateway: verified" verified "$(key_step)"
tui_golden wizard-verified

# a cancel at a confirmation changes nothing, and goes back to the wizard
tui_keys Enter
tui_wait "Deploy alongside"
tui_keys n
tui_wait "cancelled: nothing was changed"
check_eq "cancel at the confirmation: still verified" verified "$(key_step)"
tui_check "No goes back to the wizard, not out of it" "> 2. Deploy"

# close groqtop and come back: the wizard resumes at the current step
tui_keys Escape
tui_wait_gone "Rotate key chatbot-prod-api"
tui_keys q
tui_wait_exit
tui_groqtop
tui_wait "chatbot-prod-api"
tui_keys Tab r
tui_check "reopened, the wizard resumes at step 2" "> 2. Deploy"
tui_check "it shows who started it" "started by alice"
tui_keys Enter
tui_wait "Deploy alongside"
tui_keys y
tui_wait "> 3. Update the secret manager"
check_eq "deployed" deployed "$(key_step)"
tui_keys Enter
tui_wait "Secret manager updated"
tui_keys y
tui_wait "> 4. Switch"
tui_keys Enter
tui_wait "Switch to the new key"
tui_keys y
tui_wait "> 5. Monitor"
check_eq "switched" switched "$(key_step)"
tui_check "the monitor step shows the drain window" "drain window:"
tui_keys Enter
tui_check "inside the drain window the last step says not yet, before asking" "not yet: the old key must stay unused"
check "no confirmation is offered meanwhile" bash -c "! tmux -L '$TMUX_SOCK' capture-pane -t t -p | grep -q 'Retire the old key'"
check_eq "still switched" switched "$(key_step)"
wait_eval "the drain window (3 s) to pass" 10 '[ "$(api GET /admin/v1/keys/chatbot-prod-api; jq_body .rotation.drain_remaining_seconds)" = 0 ]'
tui_check "the wizard sees the drain window over" "drain window: 0 s remaining"
tui_keys Enter
tui_wait "Retire the old key"
tui_keys y
wait_eval "the rotation to complete" 10 '[ "$(key_step)" = none ]'
check_eq "completed: one active key again" "gsk_…0004" "$(api GET /admin/v1/keys/chatbot-prod-api; jq_body .fingerprint)"
tui_check "the wizard says the rotation is complete (not a silent step 1)" "Rotation complete"
tui_check "naming the retired key and the active one" "gsk_…0004 is its only key now"
check_not_contains "the new secret never appeared on screen" "$KEY4" "$(tui_screen)"
tui_keys Escape
tui_wait_gone "Rotation complete"

# a step's answer that comes after Esc, with another action begun
# meanwhile, is told on the status line and takes nothing over (it had
# opened a wizard for a key named after the pause's reason, over the
# pause's confirmation)
curl -s -o /dev/null -X POST -d '{"latency_ms":3000}' "http://$FAKE/_fake/faults"
tui_keys r
tui_wait "> 1. Create the new key"
tui_keys Enter
tui_wait "New Groq key"
tui_type "$KEY5"
tui_keys Enter          # Groq's stand-in takes 3 s to answer the key's check
tui_keys Escape         # ... and the operator leaves the wizard meanwhile
tui_wait_gone "Rotate key chatbot-prod-api"
tui_keys Tab p          # the teams pane: pause the selected team (batch-processor)
tui_wait "reason"
tui_type "maintenance"
tui_keys Enter
tui_wait "Pause team"
wait_eval "the rotation's first step to be recorded" 15 '[ "$(key_step)" = verified ]'
tui_check "the late answer is told on the status line" "rotation of chatbot-prod-api: step recorded"
tui_check "... and the pause's confirmation is still open" "Pause team 'batch-processor'?"
check "no wizard opened for another key" tui_lacks "Rotate key maintenance"
curl -s -o /dev/null -X POST -d '{"latency_ms":0}' "http://$FAKE/_fake/faults"
tui_keys y
wait_eval "the team to be paused" 10 '[ "$(team_field batch-processor .state)" = paused ]'
check_eq "the pause went through" paused "$(team_field batch-processor .state)"
tui_keys q
tui_wait_exit
done_testing
