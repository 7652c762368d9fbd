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

# a cancel at a confirmation changes nothing
tui_keys Enter
tui_wait "Deploy alongside"
tui_keys n
tui_wait "cancelled: nothing was changed"
check_eq "cancel at the confirmation: still verified" verified "$(key_step)"

# close groqtop and come back: the wizard resumes at the current step
tui_keys q
tui_wait_exit
tui_groqtop
tui_wait "chatbot-prod-api"
tui_keys Tab r
tui_check "reopened, the wizard resumes at step 2" "> 2. Deploy"
check "it shows who started it" tui_has "started by alice"
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
tui_wait "Retire the old key"
tui_keys y
tui_wait "refused:"
check "completing inside the drain window is refused, with the gateway's reason" tui_has "drain window"
check_eq "still switched after the refusal" switched "$(key_step)"
wait_eval "the drain window (3 s) to pass" 10 '[ "$(api GET /admin/v1/keys/chatbot-prod-api; jq_body .rotation.drain_remaining_seconds)" = 0 ]'
tui_keys Enter
tui_wait "Retire the old key"
tui_keys y
wait_eval "the rotation to complete" 10 '[ "$(key_step)" = none ]'
check_eq "completed: one active key again" "gsk_…0004" "$(api GET /admin/v1/keys/chatbot-prod-api; jq_body .fingerprint)"
tui_check "the wizard is back at step 1 for the next rotation" "> 1. Create the new key"
check_not_contains "the new secret never appeared on screen" "$KEY4" "$(tui_screen)"
tui_keys Escape
tui_keys q
tui_wait_exit
done_testing
