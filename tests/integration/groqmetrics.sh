# Groq's own view: the gateway polls fakegroq's Enterprise metrics (the
# documented series, computed by fakegroq from what it served), maps
# projects to teams through their keys, reconciles Groq's rates with its
# own and raises groq_drift when requests reach Groq with a team's key
# without passing through the gateway; models Groq no longer lists and its
# 400 model_decommissioned answers are counted; a 404 (not Enterprise) is
# said once; a metrics API that hangs never delays a request; the key is
# never shown.
source "$(dirname "$0")/../lib.sh"
MKEY=gsk_testMMMMMMMMMMMMMMMMMMMMMMMMMMMM0009
WINDOW=10
# each key with its Groq project (fakegroq's keys file)
printf '%s proj_alpha\n%s proj_beta\n%s\n%s\n%s\n%s proj_ops\n' "$KEY1" "$KEY2" "$KEY3" "$KEY4" "$KEY5" "$MKEY" > "$T/fake-keys"
start_fakegroq --metrics --metrics-window-s $WINDOW
printf '%s\n' "$MKEY" > "$T/groq-key"
chmod 600 "$T/groq-key"
write_gateway_config "groq_metrics = { key_file = \"$T/groq-key\"; interval_s = 1; window_s = $WINDOW;
  timeout_ms = 1500; drift_tolerance = 0.2; drift_min_rpm = 2.0; };"
start_gateway
create_team alpha
create_team beta
api POST /admin/v1/keys "{\"name\":\"alpha-prod-api\",\"team\":\"alpha\",\"secret\":\"$KEY1\",\"groq_project\":\"proj_alpha\"}"
check_eq "a key is created with its Groq project" "201|proj_alpha" "$STATUS|$(jq_body .groq_project)"
create_key beta-prod-api beta "$KEY2"
api PATCH /admin/v1/keys/beta-prod-api '{"groq_project":"bad project!"}'
check_eq "a malformed project id: 422" "422|invalid_groq_project" "$STATUS|$(jq_body .error.code)"
api PATCH /admin/v1/keys/beta-prod-api '{"groq_project":"proj_beta","secret":"x"}'
check_eq "PATCH takes only groq_project" 400 "$STATUS"
api_as "$VIEW_TOKEN" PATCH /admin/v1/keys/beta-prod-api '{"groq_project":"proj_beta"}'
check_eq "a viewer may not change a key" 403 "$STATUS"
api PATCH /admin/v1/keys/beta-prod-api '{"groq_project":"proj_beta"}'
check_eq "PATCH sets the key's project" "200|proj_beta" "$STATUS|$(jq_body .groq_project)"
api GET "/admin/v1/audit?limit=1"
check_eq "the change is audited" "key.update|beta-prod-api" "$(jq_body '.entries[0].action + "|" + .entries[0].target')"
new_token alpha
ATOK=$TOKEN
new_token beta
BTOK=$TOKEN
groq() { curl -s -H "Authorization: Bearer $VIEW_TOKEN" "http://$GW/admin/v1/groq"; }
proj() { groq | jq -r ".projects[] | select(.project == \"$1\") | $2"; }

# ---- the figures: Groq's beside the gateway's, matching what fakegroq served
for _ in 1 2 3 4 5 6; do chat "$ATOK" llama-3.1-8b-instant; done
for _ in 1 2 3; do chat "$BTOK" llama-3.1-8b-instant; done
check_eq "requests answered" 200 "$STATUS"
served=$(fstat 'gsk_…0001' completions)
prompt=$(fstat 'gsk_…0001' prompt_tokens)
out=$(fstat 'gsk_…0001' completion_tokens)
wait_eval "Groq's figures to show alpha's 6 requests and beta's 3" 10 "[ \"\$(proj proj_alpha .groq_rpm)\" = 36 ] && [ \"\$(proj proj_beta .groq_rpm)\" = 18 ]"
check_eq "available once read" "true|ok" "$(groq | jq -r '"\(.available)|\(.state)"')"
# per minute over the window: served x 60 / window
check_eq "groq_rpm = what fakegroq served (6 in ${WINDOW}s = 36/min)" "$((served * 60 / WINDOW))" "$(proj proj_alpha .groq_rpm)"
check_eq "the gateway's own rate is the same" 36 "$(proj proj_alpha .gateway_rpm)"
check_eq "tokens in per minute = fakegroq's prompt tokens x 60 / window" "$((prompt * 60 / WINDOW))" \
	"$(proj proj_alpha '.models[0].groq_tokens_in_per_min')"
check_eq "tokens out per minute" "$((out * 60 / WINDOW))" "$(proj proj_alpha '.models[0].groq_tokens_out_per_min')"
check_eq "tokens per minute, both" "$(((prompt + out) * 60 / WINDOW))" "$(proj proj_alpha .groq_tokens_per_min)"
check_eq "the project maps to its team and keys" 'alpha|["alpha-prod-api"]' "$(proj proj_alpha '"\(.team)|\(.keys|tojson)"')"
check_eq "beta's project, its own figures" "beta|18|18" "$(proj proj_beta '"\(.team)|\(.groq_rpm)|\(.gateway_rpm)"')"
check_eq "the model's row" "llama-3.1-8b-instant" "$(proj proj_alpha '.models[0].model')"
check "TTFT p99 estimated from Groq's histogram" test "$(proj proj_alpha '.models[0].ttft_p99_s | type')" = number
check_eq "no drift while all traffic passes the gateway" "false|false" "$(proj proj_alpha .drift)|$(proj proj_beta .drift)"
api GET /admin/v1/alerts
check_eq "no groq_drift alert" 0 "$(jq_body '[.alerts[] | select(.kind == "groq_drift")] | length')"

# ---- drift: a "rogue" client calls Groq directly with alpha's key
for _ in 1 2 3 4 5 6; do
	curl -s -o /dev/null -H "Authorization: Bearer $KEY1" -H 'Content-Type: application/json' \
		--data-binary '{"model":"llama-3.1-8b-instant","messages":[{"role":"user","content":"around the gateway"}]}' \
		"http://$FAKE/openai/v1/chat/completions"
done
t0=$(date +%s%N)
wait_eval "groq_drift on proj_alpha" 5 "[ \"\$(proj proj_alpha .drift)\" = true ]"
t1=$(date +%s%N)
echo "# drift seen after $(( (t1 - t0) / 1000000 )) ms (polls every 1 s)"
check_eq "drift raised within two polls" true "$(proj proj_alpha .drift)"
check_eq "beta does not drift" false "$(proj proj_beta .drift)"
api GET /admin/v1/alerts
alert=$(jq_body '[.alerts[] | select(.kind == "groq_drift")]')
check_eq "one groq_drift alert, for team alpha" "1|alpha" "$(printf %s "$alert" | jq -r '"\(length)|\(.[0].team)"')"
check_contains "it names the project" proj_alpha "$(printf %s "$alert" | jq -r '.[0].message')"
check_contains "it names the key" alpha-prod-api "$(printf %s "$alert" | jq -r '.[0].message')"
check_contains "/metrics shows the drift" 'groqgate_groq_drift{project="proj_alpha"} 1' "$(curl -s "http://$GW/metrics")"
check_eq "the overview counts it" 1 "$(curl -s -H "Authorization: Bearer $VIEW_TOKEN" "http://$GW/admin/v1/overview" | jq .groq.drifting)"
sleep_polls=$(groq | jq .polls)
wait_eval "two more polls" 5 "[ \"\$(groq | jq .polls)\" -ge $((sleep_polls + 2)) ]"
api GET /admin/v1/alerts
check_eq "raised once, not at every poll" 1 "$(jq_body '[.alerts[] | select(.kind == "groq_drift")] | length')"
# it clears when the direct traffic has left Groq's window
wait_eval "the drift to clear" $((WINDOW + 8)) "[ \"\$(proj proj_alpha .drift)\" = false ]"
check_eq "drift clears when the rates agree again" false "$(proj proj_alpha .drift)"
check_not_contains "/metrics no longer shows it" 'groqgate_groq_drift{project="proj_alpha"}' "$(curl -s "http://$GW/metrics")"

# ---- a key of another Groq project: the gateway sends with a key it has
# as proj_gamma's, Groq counts those requests elsewhere (fakegroq: no
# project for KEY3): flagged as a mismatch, alerted once, in /metrics
api POST /admin/v1/teams '{"id":"gamma","name":"gamma","allowed_models":["llama-3.1-8b-instant"],"max_tokens_per_request":100,"rpm_limit":600,"monthly_budget_usd":10}'
api POST /admin/v1/keys "{\"name\":\"gamma-prod-api\",\"team\":\"gamma\",\"secret\":\"$KEY3\",\"groq_project\":\"proj_gamma\"}"
new_token gamma
GTOK=$TOKEN
for _ in 1 2 3 4 5 6; do chat "$GTOK" llama-3.1-8b-instant; done
wait_eval "the mismatch on proj_gamma" 10 "[ \"\$(proj proj_gamma .mismatch)\" = true ]"
check_eq "a project the gateway sends to but Groq counts nothing on: mismatch, not drift" "true|false|36|0" \
	"$(proj proj_gamma '"\(.mismatch)|\(.drift)|\(.gateway_rpm)|\(.groq_rpm)"')"
check_eq "... while the projects whose figures agree are not flagged" "false|false" \
	"$(proj proj_beta '"\(.mismatch)|\(.drift)"')"
api GET /admin/v1/alerts
check_eq "one groq_project_mismatch alert, for gamma" "gamma" \
	"$(jq_body '[.alerts[] | select(.kind == "groq_project_mismatch") | .team] | join(",")')"
check_contains "... saying what to check" "a key is in another Groq project" \
	"$(jq_body '[.alerts[] | select(.kind == "groq_project_mismatch")][0].message')"
check_contains "in /metrics" 'groqgate_groq_project_mismatch{project="proj_gamma"} 1' "$(curl -s "http://$GW/metrics")"
(umask 077; printf '%s\n' "$VIEW_TOKEN" > "$T/view.token")
snap=$("$BIN/groqtop" --gateway "http://$GW" --token-file "$T/view.token" --snapshot --view groq --size 120x40 2>&1)
check_contains "groqtop's Groq view says it" "MISMATCH on 1 project: the gateway sent more than Groq counts there" "$snap"
check "... and marks the project's row" grep -qE 'proj_gamma +gamma .* MISM ' <<< "$snap"

# ---- models Groq stops listing, and its model_decommissioned answers
curl -s -o /dev/null -X POST --data-binary '{"model":"llama-3.3-70b-versatile"}' "http://$FAKE/_fake/decommission"
wait_eval "the unlisted model to show" 5 "groq | jq -e '.unlisted_models | any(.model == \"llama-3.3-70b-versatile\")'"
check_eq "flagged for each team that may call it" "alpha,beta" \
	"$(groq | jq -r '[.unlisted_models[] | select(.model == "llama-3.3-70b-versatile" and .team != null) | .team] | sort | join(",")')"
check_eq "and for the price table" 1 "$(groq | jq '[.unlisted_models[] | select(.model == "llama-3.3-70b-versatile" and .team == null)] | length')"
before=$(curl -s "http://$FAKE/_fake/stats" | jq .total.requests)
chat "$ATOK" llama-3.3-70b-versatile
check_eq "a model Groq stopped listing is retired now: 400 model_decommissioned" "400|model_decommissioned" "$STATUS|$(jq_body .error.code)"
check_contains "... saying Groq no longer serves it" "Groq no longer serves it" "$(jq_body .error.message)"
check_eq "... answered by the gateway, without a round trip to Groq" "$before" "$(curl -s "http://$FAKE/_fake/stats" | jq .total.requests)"
api GET /admin/v1/models
check_eq "GET /admin/v1/models: retired, by Groq" "true|true" \
	"$(jq_body '.models[] | select(.id == "llama-3.3-70b-versatile") | "\(.retired)|\(.retired_by_groq)"')"
check_contains "unlisted in /metrics" 'groqgate_unlisted_model{team="alpha",model="llama-3.3-70b-versatile"} 1' "$(curl -s "http://$GW/metrics")"

# ---- a metrics API that hangs: requests are not delayed; figures go stale
curl -s -o /dev/null -X POST --data-binary '{"metrics_hang":1}' "http://$FAKE/_fake/faults"
p0=$(groq | jq .polls)
wait_eval "a poll to start against the hanging API" 5 "[ \"\$(groq | jq .polls)\" -gt $p0 ]"
slow=0
for _ in $(seq 1 10); do
	code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 -H "Authorization: Bearer $ATOK" -H 'Content-Type: application/json' \
		--data-binary '{"model":"llama-3.1-8b-instant","messages":[{"role":"user","content":"x"}]}' "http://$GW/openai/v1/chat/completions")
	[ "$code" = 200 ] || slow=$((slow + 1))
done
check_eq "every request answered within 1 s while a poll hangs (timeout 1.5 s)" 0 "$slow"
wait_eval "the poll to time out" 6 "[ \"\$(groq | jq -r .state)\" = failing ]"
check_eq "the last figures stay, marked stale" "true|true" "$(groq | jq -r '"\(.available)|\(.stale)"')"
check "with their age" test "$(groq | jq .age_s)" -ge 1
check_contains "the reason says it timed out" "model_project_id" "$(groq | jq -r .reason)"
curl -s -o /dev/null -X DELETE "http://$FAKE/_fake/faults"
wait_eval "polling to recover (after its backoff)" 12 "[ \"\$(groq | jq -r .state)\" = ok ]"
check_eq "fresh again" "ok|false" "$(groq | jq -r '"\(.state)|\(.stale)"')"

# ---- a metrics API that sends a few bytes and then nothing: the whole
# answer is due within timeout_ms, not only its first byte
curl -s -o /dev/null -X POST --data-binary '{"metrics_stall":1}' "http://$FAKE/_fake/faults"
wait_eval "the stalled poll to fail" 8 "[ \"\$(groq | jq -r .state)\" = failing ]"
check_eq "a stalled answer fails the poll (not ok for ever)" failing "$(groq | jq -r .state)"
check_contains "saying no whole answer came in time" "no whole answer within 1500 ms" "$(groq | jq -r .reason)"
check_eq "the figures are stale" true "$(groq | jq -r .stale)"
curl -s -o /dev/null -X DELETE "http://$FAKE/_fake/faults"
wait_eval "polling to recover" 12 "[ \"\$(groq | jq -r .state)\" = ok ]"
# ---- absurd figures fail the query instead of reading as 0
curl -s -o /dev/null -X POST --data-binary '{"metrics_absurd":1}' "http://$FAKE/_fake/faults"
wait_eval "the absurd figures to be refused" 8 "[ \"\$(groq | jq -r .state)\" = failing ]"
check_eq "a value of 1e308: the poll fails" failing "$(groq | jq -r .state)"
check_contains "naming the value" "the value 1e308 is not a rate" "$(groq | jq -r .reason)"
curl -s -o /dev/null -X DELETE "http://$FAKE/_fake/faults"
wait_eval "polling to recover" 12 "[ \"\$(groq | jq -r .state)\" = ok ]"
check_eq "fresh again after both" "ok|false" "$(groq | jq -r '"\(.state)|\(.stale)"')"

# ---- a key file others may read is refused, without its content shown
chmod 644 "$T/groq-key"
wait_eval "the loose key file to be refused" 5 "[ \"\$(groq | jq -r .state)\" = failing ]"
check_contains "the reason names the file's mode" "$T/groq-key" "$(groq | jq -r .reason)"
chmod 600 "$T/groq-key"
wait_eval "polling to recover" 12 "[ \"\$(groq | jq -r .state)\" = ok ]"

# ---- a restart: Groq's window still holds what the gateway sent before
# it; the gateway counts it again from its ledger, so no drift is seen
for _ in 1 2 3 4 5 6; do chat "$ATOK" llama-3.1-8b-instant; done
api GET /admin/v1/alerts
drifts=$(jq_body '[.alerts[] | select(.kind == "groq_drift")] | length')
stop_gateway
start_gateway
wait_eval "figures after the restart" 10 "[ \"\$(groq | jq -r .state)\" = ok ] && [ \"\$(proj proj_alpha .groq_rpm)\" != '' ]"
check_eq "after a restart both sides hold the traffic from before it" "true|true|false" \
	"$(proj proj_alpha '"\(.groq_rpm >= 36)|\(.groq_rpm == .gateway_rpm)|\(.drift)"')"
api GET /admin/v1/alerts
check_eq "and no drift alert" "$drifts" "$(jq_body '[.alerts[] | select(.kind == "groq_drift")] | length')"

# ---- secrets: the metrics key and team keys never in the log or an answer
all="$(cat "$T/groqgated.log") $(groq) $(curl -s "http://$GW/metrics") $(curl -s -H "Authorization: Bearer $VIEW_TOKEN" "http://$GW/admin/v1/overview")"
for k in "$MKEY" "$KEY1" "$KEY2"; do
	check_not_contains "no key in the log, /admin/v1/groq, /metrics or the overview" "$k" "$all"
done
# ok, failing (hang), ok, failing (stall), ok, failing (absurd), ok, failing
# (key file), ok, and ok after the restart: six lines for "available"
check_eq "the log says when the state changed, not at each poll" 6 "$(grep -c 'Groq metrics: available' "$T/groqgated.log")"
stop_gateway

# ---- not Enterprise: 404 says "not available" once, no alert, no log storm
kill "$FAKE_PID"
wait "$FAKE_PID" 2>/dev/null
start_fakegroq
sed -i "s#^upstream = .*#upstream = { base_url = \"http://$FAKE\"; timeout_ms = 5000; };#" "$T/gw.conf"
sed -i 's/timeout_ms = 1500;/timeout_ms = 1500; retry_unavailable_s = 1;/' "$T/gw.conf"
start_gateway
api GET /admin/v1/alerts
drift_alerts=$(jq_body '[.alerts[] | select(.kind == "groq_drift")] | length')
wait_eval "the 404 to be seen" 5 "[ \"\$(groq | jq -r .state)\" = unavailable ]"
check_eq "not available, said plainly" "false|not available (Enterprise only): Groq answered 404" "$(groq | jq -r '"\(.available)|\(.reason)"')"
p0=$(groq | jq .polls)
wait_eval "three more polls (retry_unavailable_s = 1)" 8 "[ \"\$(groq | jq .polls)\" -ge $((p0 + 3)) ]"
check_eq "said once in the log" 1 "$(grep -c 'not available (Enterprise only)' "$T/groqgated.log")"
check_eq "no failures counted for a 404" 0 "$(groq | jq .failures)"
api GET /admin/v1/alerts
check_eq "no new drift alert without figures" "$drift_alerts" "$(jq_body '[.alerts[] | select(.kind == "groq_drift")] | length')"
chat "$ATOK" llama-3.1-8b-instant
check_eq "requests go on" 200 "$STATUS"
check_contains "/metrics: down, unavailable" 'groqgate_groq_metrics_up{state="unavailable"} 0' "$(curl -s "http://$GW/metrics")"
done_testing
