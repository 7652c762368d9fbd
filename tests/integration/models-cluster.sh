# Retirement notices on a 3-replica cluster (private PostgreSQL and Redis):
# one replica tells the fleet's teams (the leader, the first by name
# serving, once the fleet has been read), so a team that called a retiring
# model gets its notice once, however many replicas start together and
# however often they restart. An alias set through one replica serves
# through another within a second.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../cluster-lib.sh"
SOON=$(date -u -d '+20 days' +%Y-%m-%d)
M=llama-3.3-70b-versatile
start_fakegroq
start_postgres
start_redis
write_gateway_config "deprecations = ( { model = \"$M\"; shutdown = \"$SOON\"; replacement = \"llama-3.1-8b-instant\"; } );"
for i in 1 2 3; do cluster_config "$i"; start_replica "$i"; done
on 2
create_team alpha
create_key alpha-prod-api alpha "$KEY1"
new_token alpha
chat "$TOKEN" "$M"
check_eq "alpha calls the model retiring in 20 days (through gw-2)" 200 "$STATUS"
retiring() { api GET "/admin/v1/alerts?limit=200"; jq_body '[.alerts[] | select(.kind == "model_retiring")]'; }
looked() { local n; n=$(grep -c '"retirement notices looked at"' "$T/replica$1.log" 2>/dev/null); echo "${n:-0}"; }
# the three stopped and started together, twice, the leader last: each
# looks once the replicas have heartbeated, only the leader tells
for round in 1 2; do
	for i in 1 2 3; do kill -TERM "${GW_PIDS[$i]}"; done
	for i in 1 2 3; do wait "${GW_PIDS[$i]}" 2>/dev/null; done
	for i in 1 2 3; do before[$i]=$(looked "$i"); done
	for i in 3 2 1; do start_replica "$i"; done # (the leader last)
	for i in 1 2 3; do
		wait_eval "gw-$i to look at the notices" 20 "[ \"\$(looked $i)\" -gt ${before[$i]} ]"
		check "round $round: gw-$i looked at the notices" [ "$(looked "$i")" -gt "${before[$i]}" ]
	done
	on 3
	check_eq "round $round: one model_retiring notice for alpha in the fleet" "1|alpha" \
		"$(retiring | jq -r 'length')|$(retiring | jq -r 'map(.team) | join(",")')"
done
# an alias set through gw-1 serves through gw-3 within a second
on 1
api PUT /admin/v1/aliases/quick '{"model":"llama-3.1-8b-instant"}'
check_eq "alias quick set through gw-1" 201 "$STATUS"
on 3
wait_eval "the alias served by gw-3" 1 'chat "$TOKEN" quick; [ "$STATUS" = 200 ]'
check_eq "... a request for it through gw-3 within 1 s: sent as the model it names" "200|llama-3.1-8b-instant" \
	"$STATUS|$(jq_body .model)"
check_eq "told by the leader (gw-1) only" "1|0|0" \
	"$(grep -c '"told":1' "$T/replica1.log")|$(grep -c '"told":1' "$T/replica2.log")|$(grep -c '"told":1' "$T/replica3.log")"
done_testing
