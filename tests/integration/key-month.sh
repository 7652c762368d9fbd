# A key's monthly budget over the month's turn (one node, the test clock
# GROQGATE_TEST_CLOCK_OFFSET_MS a few seconds before the first of next
# month, UTC): a request reserved in the old month and answered in the new
# one counts in the new month's spend of its key, as its ledger row does,
# and is not dropped when the next request rolls the key's month.
source "$(dirname "$0")/../lib.sh"
start_fakegroq
r=$(( $(date +%s%N) / 1000000 ))
NEXT=$(( $(date -u -d "$(date -u +%Y-%m-01) +1 month" +%s) * 1000 ))
export GROQGATE_TEST_CLOCK_OFFSET_MS=$(( NEXT - 3000 - r ))
write_gateway_config
start_gateway
M=llama-3.1-8b-instant
create_team shop
api POST /admin/v1/keys "{\"name\":\"shop-prod-api\",\"team\":\"shop\",\"secret\":\"$KEY1\",\"monthly_budget_usd\":1}"
check_eq "a key with a monthly budget" 201 "$STATUS"
new_token shop
curl -s -o /dev/null -X POST -d '{"latency_ms":4000}' "http://$FAKE/_fake/faults"
chat "$TOKEN" "$M" '"max_tokens":20' &
HELD=$!
wait_eval "the request in flight" 5 '[ "$(metric groqgate_inflight_requests)" = 1 ]'
curl -s -o /dev/null -X POST -d '{"latency_ms":0}' "http://$FAKE/_fake/faults"
wait "$HELD"
check "its answer came after the month turned" [ $(( $(date +%s%N) / 1000000 + GROQGATE_TEST_CLOCK_OFFSET_MS )) -ge "$NEXT" ]
chat "$TOKEN" "$M" '"max_tokens":20'
check_eq "the next request, in the new month" 200 "$STATUS"
wait_eval "the ledger written" 5 '[ "$(sql "select count(*) from ledger where key = '"'"'shop-prod-api'"'"' and status = 200")" = 2 ]'
ledger=$(sql "select coalesce(sum(cost_nusd), 0) from ledger where key = 'shop-prod-api' and ts_ms >= $NEXT")
api GET /admin/v1/keys/shop-prod-api
check_eq "the key's spend this month is the ledger's: both requests, the one held over the turn too" "$ledger" \
	"$(jq_body '.spend_mtd_usd * 1000000000 | round')"
check "... which is more than the second request alone" [ "$ledger" -gt "$(sql "select cost_nusd from ledger where key = 'shop-prod-api' order by id desc limit 1")" ]
done_testing
