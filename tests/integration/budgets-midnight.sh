#!/usr/bin/env bash
# budgets-midnight.sh — a team's day across a UTC midnight on a 3-replica
# cluster (private PostgreSQL and Redis), the replicas' clocks shifted a
# few seconds before a midnight (GROQGATE_TEST_CLOCK_OFFSET_MS, tests
# only): a request reserved on gw-1 before midnight and answered after it
# is billed in the new day, so its room there must be gw-1's before gw-2
# can take the new day's budget; the new day's settled spend never passes
# the day's budget. Then a clean stop and start of a replica holding an
# open batch keeps the batch's room in the day.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../cluster-lib.sh"
M=llama-3.3-70b-versatile
start_postgres
start_redis
# every answer 100 tokens (fewer when max_tokens says so): gw-1's held
# request costs about 85,000 nusd, gw-2's small ones about 7,500
start_fakegroq --completion-tokens 100 --rpd 10000000 --tpm 2000000000
write_gateway_config
sed -i 's/timeout_ms = 5000;/timeout_ms = 20000;/' "$T/gw.conf" # (gw-1's answer is held for seconds)
real_ms() { echo $(( $(date +%s%N) / 1000000 )); }
LEAD=9000 # the replicas start this long before a midnight
r=$(real_ms)
MIDNIGHT=$(( (r / 86400000 + 1) * 86400000 ))
export GROQGATE_TEST_CLOCK_OFFSET_MS=$(( MIDNIGHT - LEAD - r ))
gw_ms() { echo $(( $(real_ms) + GROQGATE_TEST_CLOCK_OFFSET_MS )); }
until_gw() { local d=$(( $1 - $(gw_ms) )); [ "$d" -gt 0 ] && sleep "$(printf '%d.%03d' $((d / 1000)) $((d % 1000)))"; return 0; }
for i in 1 2 3; do cluster_config "$i"; start_replica "$i"; done
on 1
create_team night '"daily_budget_usd":0.0004,"rpm_limit":100000'
create_key night-prod-api night "$KEY1"
new_token night
NIGHT=$TOKEN
wait_eval "night on gw-2" 5 'on 2; chat "$NIGHT" "$M" "\"max_tokens\":1"; [ "$STATUS" = 200 ]'
check "the team made and served before midnight ($(gw_ms) < $MIDNIGHT)" test "$(gw_ms)" -lt $(( MIDNIGHT - 1000 ))
# gw-1 reserves just before midnight; its answer comes 4 s after it
until_gw $(( MIDNIGHT - 1500 ))
curl -s -o /dev/null -X POST -d "{\"latency_ms\":$(( MIDNIGHT + 4000 - $(gw_ms) ))}" "http://$FAKE/_fake/faults"
curl -s -o "$T/held" -w '%{http_code}\n' --max-time 30 -H "Authorization: Bearer $NIGHT" -H 'Content-Type: application/json' \
	--data-binary "{\"model\":\"$M\",\"max_tokens\":100,\"messages\":[{\"role\":\"user\",\"content\":\"hello gateway\"}]}" \
	"http://${GWS[1]}/openai/v1/chat/completions" > "$T/held.code" &
HELD=$!
wait_eval "gw-1's request in flight" 5 '[ "$(curl -s "http://${GWS[1]}/metrics" | awk "\$1 == \"groqgate_inflight_requests\" { print \$2 }")" = 1 ]'
curl -s -o /dev/null -X POST -d '{"latency_ms":0}' "http://$FAKE/_fake/faults"
check "gw-1's request reserved before midnight" test "$(gw_ms)" -lt "$MIDNIGHT"
# until_refused TOKEN : small requests through gw-2 until one is not
# served (at most 120); sets served and STATUS
until_refused() {
	served=0
	for _ in $(seq 1 120); do
		on 2; chat "$1" "$M" '"max_tokens":2'
		[ "$STATUS" = 200 ] || return 0
		served=$((served + 1))
	done
}
# after midnight: the new day's traffic through gw-2 until it is refused
until_gw $(( MIDNIGHT + 300 ))
until_refused "$NIGHT"
refused=$STATUS
check "gw-2 was refused in the new day before gw-1's answer came ($(gw_ms) < $((MIDNIGHT + 4000)))" \
	test "$(gw_ms)" -lt $(( MIDNIGHT + 4000 ))
wait "$HELD"
check_eq "gw-1's request held over midnight answered" 200 "$(cat "$T/held.code")"
shipped() { local i; for i in 1 2 3; do [ "$(curl -s --max-time 2 "http://${GWS[$i]}/metrics" | awk '$1 == "groqgate_ledger_journal_rows" { print $2 }')" = 0 ] || return 1; done; }
wait_for "the journals shipped" 10 shipped
new_day=$(psql_q "SELECT coalesce(sum(cost_nusd), 0) FROM ledger WHERE team = 'night' AND ts_ms >= $MIDNIGHT")
held=$(psql_q "SELECT coalesce(sum(cost_nusd), 0) FROM ledger WHERE team = 'night' AND ts_ms >= $MIDNIGHT AND replica = 'gw-1'")
echo "# the new day: gw-2 served $served then answered $refused; gw-1's held request settled $held nusd there; $new_day nusd in all"
echo "# $(psql_q "SELECT kind, start - $MIDNIGHT, replica, granted_nusd, spent_nusd FROM cl_windows WHERE owner = 'night' ORDER BY 2, 3" | tr "\n" " ")"
check_eq "gw-2 refused with 402 in the new day" 402 "$refused"
check "the new day's settled spend within its budget although gw-1's request held over midnight settled there ($new_day <= 400000 nusd, the ledger)" \
	test "$new_day" -le 400000
check "... and gw-1's request is the new day's (its bill dated after midnight: $held > 0)" test "$held" -gt 0

# ---- a clean stop and start of gw-3 while its batch is open: the batch's
# reservation keeps its room in the day (the give-back keeps it, as the
# month's), so gw-2 cannot take it while gw-3 is away, and the batch's bill
# lands within the day's budget. (billing.batch_poll_s is its default, 60 s:
# no replica looks at the batch before gw-3 is back, 1 s after its start.)
on 3
create_team bat '"daily_budget_usd":0.0004,"rpm_limit":100000'
create_key bat-prod-api bat "$KEY2"
new_token bat
BAT=$TOKEN
wait_eval "bat on gw-2" 5 'on 2; api GET /admin/v1/teams/bat; [ "$STATUS" = 200 ]'
for c in r1 r2; do
	printf '{"custom_id":"%s","method":"POST","url":"/v1/chat/completions","body":{"model":"%s","messages":[{"role":"user","content":"hello gateway"}],"max_tokens":100}}\n' "$c" "$M"
done > "$T/bat.jsonl"
curl -s -o /dev/null -X POST -d '{"batch_ms":1000}' "http://$FAKE/_fake/faults"
FID=$(curl -s -H "Authorization: Bearer $BAT" -F purpose=batch -F "file=@$T/bat.jsonl;filename=b.jsonl" "http://${GWS[3]}/openai/v1/files" | jq -r .id)
BID=$(curl -s -H "Authorization: Bearer $BAT" -H 'Content-Type: application/json' \
	--data-binary "{\"input_file_id\":\"$FID\",\"endpoint\":\"/v1/chat/completions\",\"completion_window\":\"24h\"}" \
	"http://${GWS[3]}/openai/v1/batches" | jq -r .id)
check_eq "a batch made through gw-3, open" "gw-3|true" "$(psql_q "SELECT replica || '|' || (settled_at IS NULL) FROM batches WHERE id = '$BID'")"
kill -TERM "${GW_PIDS[3]}"; wait "${GW_PIDS[3]}" 2>/dev/null
kept=$(psql_q "SELECT coalesce(sum(granted_nusd - spent_nusd), 0) FROM cl_windows WHERE kind = 'day' AND owner = 'bat' AND replica = 'gw-3' AND start = $MIDNIGHT")
breserved=$(psql_q "SELECT reserved_nusd FROM batches WHERE id = '$BID'")
until_refused "$BAT"
start_replica 3
wait_eval "the batch billed by gw-3 after its start" 10 "[ \"\$(psql_q \"SELECT count(*) FROM ledger WHERE request_id = '$BID'\")\" = 1 ]"
wait_for "the journals shipped" 10 shipped
bday=$(psql_q "SELECT coalesce(sum(cost_nusd), 0) FROM ledger WHERE team = 'bat' AND ts_ms >= $MIDNIGHT")
bbill=$(psql_q "SELECT coalesce(sum(cost_nusd), 0) FROM ledger WHERE request_id = '$BID'")
echo "# bat: the batch reserved $breserved nusd, gw-3 stopped keeping $kept of its day; gw-2 then served $served; the batch billed $bbill; the day $bday"
check "a clean stop of gw-3 keeps its open batch's room in the day ($kept >= $breserved nusd)" test "$kept" -ge "$breserved"
check "the day's settled spend within its budget with the batch billed after gw-3's restart ($bday <= 400000 nusd, the ledger)" \
	test "$bday" -le 400000

# ---- a day's budget lowered while a request is in flight: the replica's
# lease of the day shrinks to what the new budget has room for
on 2
create_team low '"daily_budget_usd":0.0004,"rpm_limit":100000'
create_key low-prod-api low "$KEY3"
new_token low
LOW=$TOKEN
wait_eval "low served on gw-2" 5 'chat "$LOW" "$M" "\"max_tokens\":2"; [ "$STATUS" = 200 ]'
curl -s -o /dev/null -X POST -d '{"latency_ms":4000}' "http://$FAKE/_fake/faults"
curl -s -o /dev/null --max-time 30 -H "Authorization: Bearer $LOW" -H 'Content-Type: application/json' \
	--data-binary "{\"model\":\"$M\",\"max_tokens\":100,\"messages\":[{\"role\":\"user\",\"content\":\"hello gateway\"}]}" \
	"http://${GWS[2]}/openai/v1/chat/completions" &
LHELD=$!
wait_eval "gw-2's request in flight" 5 '[ "$(curl -s "http://${GWS[2]}/metrics" | awk "\$1 == \"groqgate_inflight_requests\" { print \$2 }")" = 1 ]'
curl -s -o /dev/null -X POST -d '{"latency_ms":0}' "http://$FAKE/_fake/faults"
api PATCH /admin/v1/teams/low '{"daily_budget_usd":0.00005}'
check_eq "low's day lowered to \$0.00005 while a request of up to \$0.00015 is in flight" 200 "$STATUS"
low_held() { psql_q "SELECT coalesce(sum(greatest(granted_nusd, spent_nusd)), 0) FROM cl_windows WHERE kind = 'day' AND owner = 'low' AND start = $MIDNIGHT"; }
wait_eval "the day's leases within the new budget" 3 '[ "$(low_held)" -le 50000 ]'
check "the fleet's day spend plus every lease within the lowered budget ($(low_held) <= 50000 nusd)" test "$(low_held)" -le 50000
wait "$LHELD"
done_testing
