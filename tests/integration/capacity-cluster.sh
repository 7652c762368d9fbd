# Groq's capacity on a 3-replica cluster (private PostgreSQL and Redis):
# the windows are the fleet's, in Redis (each replica leases room from
# them), so the fleet never sends Groq more than the organisation's 6,000
# TPM on the model, and a team whose traffic reaches one replica only gets
# all of its limit. A batch team floods through every replica; Groq answers
# no 429; the critical team is served in full; a standard team stops at its
# own limit fleet-wide. Redis silent: each replica keeps to its share.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../cluster-lib.sh"
M=llama-3.1-8b-instant
start_fakegroq --model-limit "$M=100000:6000" --completion-tokens 250 --latency-ms 20
start_postgres
start_redis
write_gateway_config "groq_limits = ( { model = \"$M\"; rpd = 100000; tpm = 6000; } );"
for i in 1 2 3; do cluster_config $i; start_replica $i; done
on 1
mk() {
	api POST /admin/v1/teams "{\"id\":\"$1\",\"name\":\"$1\",\"allowed_models\":[\"$M\"],\"max_tokens_per_request\":300,\"rpm_limit\":1000,\"monthly_budget_usd\":100,\"priority\":\"$2\"${3:+,$3}}"
	check_eq "team $1 ($2) created" 201 "$STATUS"
}
mk prod critical
mk etl batch
mk web standard '"tpm_limit":1500'
create_key prod-prod-api prod "$KEY1"; new_token prod; PROD=$TOKEN
create_key etl-prod-api etl "$KEY2"; new_token etl; ETL=$TOKEN
create_key web-prod-api web "$KEY3"; new_token web; WEB=$TOKEN
for i in 1 2 3; do
	wait_eval "replica $i to share the limits three ways" 15 \
		"[ \"\$(curl -s -H 'Authorization: Bearer $OP_TOKEN' http://${GWS[$i]}/admin/v1/capacity | jq .capacity.replicas_sharing)\" = 3 ]"
	check_eq "replica gw-$i counts three replicas sharing" 3 \
		"$(curl -s -H "Authorization: Bearer $OP_TOKEN" "http://${GWS[$i]}/admin/v1/capacity" | jq .capacity.replicas_sharing)"
	check_eq "... in the fleet's windows (Redis)" fleet_windows \
		"$(curl -s -H "Authorization: Bearer $OP_TOKEN" "http://${GWS[$i]}/admin/v1/capacity" | jq -r .capacity.sharing)"
done
req() { # req TOKEN REPLICA -> status
	curl -s --max-time 20 -o /dev/null -w '%{http_code}\n' -H "Authorization: Bearer $1" -H 'Content-Type: application/json' \
		--data-binary "{\"model\":\"$M\",\"max_tokens\":300,\"messages\":[{\"role\":\"user\",\"content\":\"summarise the batch\"}]}" \
		"http://${GWS[$2]}/openai/v1/chat/completions"
}
: > "$T/etl.codes"
for round in $(seq 1 10); do
	pids=""
	for j in 1 2 3 4 5 6; do req "$ETL" $(( (j % 3) + 1 )) >> "$T/etl.codes" & pids="$pids $!"; done
	wait $pids
done
etl_ok=$(grep -c '^200$' "$T/etl.codes")
echo "# cluster batch flood: $etl_ok of 60 served, the rest refused by the replicas"
check "the batch team was served some ($etl_ok)" test "$etl_ok" -ge 3
check "and held at its share fleet-wide ($etl_ok of 60)" test "$etl_ok" -le 15
: > "$T/prod.codes"
for i in 1 2 3 1 2 3; do req "$PROD" $i >> "$T/prod.codes"; done
check_eq "the critical team is served in full on every replica" 6 "$(grep -c '^200$' "$T/prod.codes")"
: > "$T/web.codes"
for i in 1 2 3 1 2 3 1 2 3; do req "$WEB" $i >> "$T/web.codes"; done
web_ok=$(grep -c '^200$' "$T/web.codes")
check "the standard team: at most its 1500 TPM fleet-wide ($web_ok served of 9, ~270 tokens each)" test "$web_ok" -le 5
check "and served up to a share of it ($web_ok)" test "$web_ok" -ge 3
groq429=$(curl -s "http://$FAKE/_fake/stats" | jq '[.keys[].errors] | add')
check_eq "Groq answered no 429 to the fleet" 0 "$groq429"
used=$(curl -s "http://$FAKE/_fake/stats" | jq .org_tokens_used)
check "Groq counted at most its limit in the minute ($used <= 6000)" test "$used" -le 6000

# a team whose every request reaches one replica: its whole limit there
# (an equal share would have served one of them: 500 TPM each), on a
# model with no organisation limit (only the team's own window counts)
M2=openai/gpt-oss-20b
mk2() { # mk2 ID TPM: a standard team on M2
	api POST /admin/v1/teams "{\"id\":\"$1\",\"name\":\"$1\",\"allowed_models\":[\"$M2\"],\"max_tokens_per_request\":300,\"rpm_limit\":1000,\"monthly_budget_usd\":100,\"tpm_limit\":$2}"
	check_eq "team $1 created" 201 "$STATUS"
}
mk2 solo 1500
create_key solo-prod-api solo "$KEY4"; new_token solo; SOLO=$TOKEN
lim=$(curl -s -D - -o /dev/null -H "Authorization: Bearer $SOLO" -H 'Content-Type: application/json' \
	--data-binary "{\"model\":\"$M2\",\"max_tokens\":1,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}" \
	"http://${GWS[2]}/openai/v1/chat/completions" | tr -d '\r' | sed -n 's/^x-ratelimit-limit-tokens: //Ip')
check_eq "its callers are told the team's whole limit, not a replica's share" 1500 "$lim"
: > "$T/solo.codes"
for i in 1 2 3 4 5 6 7 8 9; do M=$M2 req "$SOLO" 1 >> "$T/solo.codes"; done
solo_ok=$(grep -c '^200$' "$T/solo.codes")
check "a team served by one replica only gets its whole 1500 TPM there ($solo_ok served of 9, ~300 tokens each)" \
	test "$solo_ok" -ge 4 -a "$solo_ok" -le 5
api GET /admin/v1/teams/solo
check "... and no more: the fleet's window holds it (its TPM $(jq_body .tpm) <= 1500)" test "$(jq_body .tpm)" -le 1500
: > "$T/solo2.codes"
for i in 2 3 2 3; do M=$M2 req "$SOLO" $i >> "$T/solo2.codes"; done
check_eq "... nor on the other replicas within the minute (each would have served one of its share)" 0 \
	"$(grep -c '^200$' "$T/solo2.codes")"

# Redis stops answering (SIGSTOP): the fleet's windows cannot be asked;
# each replica decides alone, within its share of each limit, promptly
mk2 quiet 3000
create_key quiet-prod-api quiet "$KEY5"; new_token quiet; QUIET=$TOKEN
kill -STOP "$REDIS_PID"
: > "$T/quiet.codes"
t0=$(date +%s%N)
for i in 1 2 3 4 5 6; do M=$M2 req "$QUIET" 2 >> "$T/quiet.codes"; done
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
kill -CONT "$REDIS_PID"
quiet_ok=$(grep -c '^200$' "$T/quiet.codes")
check "Redis silent: a replica keeps to its third of 3000 TPM ($quiet_ok served of 6, ~300 tokens each)" \
	test "$quiet_ok" -ge 2 -a "$quiet_ok" -le 3
check "... every request answered, 200 or 429 ($(sort "$T/quiet.codes" | uniq -c | tr '\n' ' '))" \
	test "$(grep -cE '^(200|429)$' "$T/quiet.codes")" = 6
echo "# Redis silent: 6 requests answered in $ms ms"
done_testing
