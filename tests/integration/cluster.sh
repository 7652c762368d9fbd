#!/usr/bin/env bash
# cluster.sh — cluster mode with 3 replicas of groqgated on a private
# PostgreSQL and Redis (started here, on free loopback ports): the fleet
# listed, RPM exact across replicas, changes in force everywhere within 1 s,
# zero overspend across replicas, the ledger exactly once across kill -9 of
# a replica and a PostgreSQL restart, Redis down and PostgreSQL down.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../cluster-lib.sh"

STALE_S=2
start_postgres
start_redis
start_fakegroq --rpd 10000000 --tpm 2000000000 # Groq's own limits out of the way: the gateway's are tested
write_gateway_config 'billing = { batch_poll_s = 1; };'
for i in 1 2 3; do cluster_config "$i"; start_replica "$i"; done
ms() { echo $(( $(date +%s%N) / 1000000 )); }
all_shipped() { # every replica's journal is in PostgreSQL
	local i
	for i in 1 2 3; do
		[ "$(curl -s --max-time 2 "http://${GWS[$i]}/metrics" | awk '$1 == "groqgate_ledger_journal_rows" { print $2 }')" = 0 ] || return 1
	done
}
# ... and no request still in a replica: one whose client gave up (curl's
# --max-time) gets its 499 row when the gateway is done with it
all_settled() {
	local i
	for i in 1 2 3; do
		[ "$(curl -s --max-time 2 "http://${GWS[$i]}/metrics" | awk '$1 == "groqgate_inflight_requests" { print $2 }')" = 0 ] || return 1
	done
	all_shipped
}

# ---- the fleet ---------------------------------------------------------
fleet_of() { on "$1"; api_as "$VIEW_TOKEN" GET /admin/v1/cluster; jq_body '[.replicas[] | select(.state == "serving") | .id] | join(",")'; }
check "every replica lists the 3 replicas serving" wait_eval "the fleet" 10 \
	'[ "$(fleet_of 1)" = gw-1,gw-2,gw-3 ] && [ "$(fleet_of 2)" = gw-1,gw-2,gw-3 ] && [ "$(fleet_of 3)" = gw-1,gw-2,gw-3 ]'
on 2; api_as "$VIEW_TOKEN" GET /admin/v1/cluster
check_eq "mode cluster" cluster "$(jq_body .mode)"
check_eq "store postgresql, up" "postgresql true" "$(jq_body '.store.kind + " " + (.store.up | tostring)')"
check_eq "counters redis, up" "redis true" "$(jq_body '.counters.kind + " " + (.counters.up | tostring)')"
check_eq "each replica's listen address" "${GWS[1]} ${GWS[2]} ${GWS[3]}" "$(jq_body '[.replicas[].listen] | join(" ")')"

# ---- RPM exact across replicas ------------------------------------------
on 1
create_team alpha '"rpm_limit":10'
create_key alpha-prod-api alpha "$KEY1"
new_token alpha
ALPHA=$TOKEN
check "the team is known on every replica" wait_eval "alpha everywhere" 5 \
	'on 3; api GET /admin/v1/teams/alpha; [ "$STATUS" = 200 ]'
codes=""
for j in $(seq 1 50); do on $(( j % 3 + 1 )); chat "$ALPHA" llama-3.3-70b-versatile; codes="$codes $STATUS"; done
check_eq "50 requests round-robin over 3 replicas, limit 10: exactly 10 admitted" 10 "$(echo $codes | tr ' ' '\n' | grep -c '^200$')"
check_eq "... and 40 refused with 429" 40 "$(echo $codes | tr ' ' '\n' | grep -c '^429$')"
check "every replica reports the fleet's RPM (10)" wait_eval "fleet rpm" 5 \
	'for i in 1 2 3; do on $i; api GET /admin/v1/teams/alpha; [ "$(jq_body .rpm)" = 10 ] || exit 1; done'

# ---- changes in force everywhere within 1 s -----------------------------
worst=0; lat=""
for k in $(seq 0 49); do
	w=$(( k % 3 + 1 )); r=$(( (k + 1) % 3 + 1 ))
	if [ $((k % 2)) = 0 ]; then act=pause; want=paused; else act=resume; want=active; fi
	on "$w"; t0=$(ms); if [ $act = pause ]; then api POST "/admin/v1/teams/alpha/pause" '{"reason":"cluster test"}'; else api POST /admin/v1/teams/alpha/resume '{}'; fi
	[ "$STATUS" = 200 ] || { fail "$act through gw-$w: $STATUS $BODY"; break; }
	on "$r"
	for _ in $(seq 1 100); do
		api_as "$VIEW_TOKEN" GET /admin/v1/teams/alpha
		[ "$(jq_body .state)" = "$want" ] && break
		sleep 0.01
	done
	d=$(( $(ms) - t0 )); lat="$lat $d"
	[ "$d" -gt "$worst" ] && worst=$d
done
p99=$(echo $lat | tr ' ' '\n' | sort -n | awk '{a[NR]=$1} END {print a[int(NR*0.99+0.5)]}')
echo "# pause/resume seen on another replica: p50 $(echo $lat | tr ' ' '\n' | sort -n | awk '{a[NR]=$1} END {print a[int(NR/2)]}') ms, p99 $p99 ms, worst $worst ms (50 changes)"
check "50 pauses and resumes in force on another replica within 1 s (p99 ${p99} ms)" test "$p99" -lt 1000
on 1; api POST /admin/v1/teams/alpha/pause '{"reason":"incident"}'
on 3; t0=$(ms)
wait_eval "gw-3 to refuse" 2 'chat "$ALPHA" llama-3.3-70b-versatile; [ "$STATUS" = 403 ]'
check_eq "a pause through gw-1 refuses requests at gw-3" 403 "$STATUS"
check_contains "... as paused" paused "$BODY"
on 2; api POST /admin/v1/teams/alpha/resume '{}'
on 1; api GET /admin/v1/teams/alpha; ver=$(jq_body .version)
api PUT /admin/v1/teams/alpha/models '{"allowed_models":["llama-3.1-8b-instant"]}' -H "If-Match: $ver"
check_eq "allowlist changed through gw-1" 200 "$STATUS"
on 3
check "... a model taken off it is refused at gw-3 within 1 s" wait_eval "allowlist at gw-3" 1 \
	'chat "$ALPHA" llama-3.3-70b-versatile; [ "$STATUS" = 403 ]'
on 2; api DELETE "/admin/v1/teams/alpha/tokens/$TOKEN_ID"
check_eq "token revoked through gw-2" 200 "$STATUS"
on 1
check "... and refused (401) at gw-1 within 1 s" wait_eval "revocation at gw-1" 1 \
	'chat "$ALPHA" llama-3.1-8b-instant; [ "$STATUS" = 401 ]'

on 1; api PATCH /admin/v1/teams/alpha '{"monthly_budget_usd":55,"rpm_limit":7}'
check_eq "budget and RPM limit changed through gw-1" 200 "$STATUS"
on 3
check "... both in force at gw-3 within 1 s" wait_eval "limits at gw-3" 1 \
	'api GET /admin/v1/teams/alpha; [ "$(jq_body .monthly_budget_usd) $(jq_body .rpm_limit)" = "55 7" ]'

# ---- groqctl apply through one replica: in force at another within 1 s ----
(umask 077; printf '%s\n' "$OP_TOKEN" > "$T/op.token")
printf 'teams = ( { id = "alpha"; name = "Alpha, applied"; }, { id = "applied"; allowed_models = [ "llama-3.1-8b-instant" ];\n  max_tokens_per_request = 100; rpm_limit = 5; monthly_budget_usd = 2.0; } );\n' > "$T/org.conf"
"$BIN/groqctl" --gateway "http://${GWS[2]}" --token-file "$T/op.token" apply -f "$T/org.conf" > "$T/apply.out" 2>&1
check_eq "groqctl apply through gw-2" "0" "$?"
on 3
check "... the update in force at gw-3 within 1 s" wait_eval "apply at gw-3" 1 \
	'api GET /admin/v1/teams/alpha; [ "$(jq_body .name)" = "Alpha, applied" ]'
check "... and the team it created" wait_eval "applied team at gw-3" 1 \
	'api GET /admin/v1/teams/applied; [ "$STATUS" = 200 ]'
"$BIN/groqctl" --gateway "http://${GWS[1]}" --token-file "$T/op.token" diff -f "$T/org.conf" > "$T/diff.out" 2>&1
check_eq "... diff through gw-1 then finds no difference" 0 "$?"

# ---- an alias set through one replica: in force at another within 1 s ----
on 1
api PUT /admin/v1/aliases/cheap '{"model":"llama-3.1-8b-instant"}'
check_eq "an alias set through gw-1" 201 "$STATUS"
on 3
check "... listed at gw-3 within 1 s" wait_eval "alias at gw-3" 1 \
	'api GET /admin/v1/aliases; [ "$(jq_body '"'"'.aliases[] | select(.alias == "cheap") | .model'"'"')" = llama-3.1-8b-instant ]'
on 2
api DELETE /admin/v1/aliases/cheap
check_eq "... deleted through gw-2" 200 "$STATUS"
on 3
check "... gone at gw-3 within 1 s" wait_eval "alias gone at gw-3" 1 \
	'api GET /admin/v1/aliases; [ -z "$(jq_body '"'"'.aliases[] | select(.alias == "cheap") | .model'"'"')" ]'

# ---- an operator reads its own writes, whichever replica answers --------
# (a script through a load balancer: each call may reach another replica;
# one curl makes the five calls back to back, none waits for the change
# to spread)
bad=""
for k in $(seq 1 15); do
	a=${GWS[$(( k % 3 + 1 ))]}; b=${GWS[$(( (k + 1) % 3 + 1 ))]}; c=${GWS[$(( (k + 2) % 3 + 1 ))]}
	h=(-s -o /dev/null -w '%{http_code} ' -H "Authorization: Bearer $OP_TOKEN" -H 'Content-Type: application/json')
	got=$(curl "${h[@]}" --data-binary "{\"id\":\"rw$k\",\"name\":\"RW $k\",\"allowed_models\":[\"llama-3.1-8b-instant\"],\"max_tokens_per_request\":100,\"rpm_limit\":10,\"monthly_budget_usd\":1}" "http://$a/admin/v1/teams" \
		--next "${h[@]}" --data-binary "{\"name\":\"rw$k-prod-api\",\"team\":\"rw$k\",\"secret\":\"gsk_readyourwrites$(printf %020d "$k")\"}" "http://$b/admin/v1/keys" \
		--next "${h[@]}" --data-binary "{\"label\":\"svc\",\"key\":\"rw$k-prod-api\"}" "http://$c/admin/v1/teams/rw$k/tokens" \
		--next "${h[@]}" --data-binary '{"reason":"read your writes"}' "http://$a/admin/v1/teams/rw$k/pause" \
		--next "${h[@]}" -X PATCH --data-binary '{"rpm_limit":11}' "http://$b/admin/v1/teams/rw$k")
	[ "$got" = "201 201 201 200 200 " ] || bad="$bad [rw$k: $got]"
	[ "$(psql_q "SELECT state || ' ' || rpm_limit FROM teams WHERE id = 'rw$k'")" = "paused 11" ] || bad="$bad [rw$k: stored $(psql_q "SELECT state || ' ' || rpm_limit FROM teams WHERE id = 'rw$k'")]"
done
check_eq "15 times: team, key, token, pause and limit, each through the next replica at once" "" "$bad"

# ---- two replicas changing one team at the same moment: none is lost ------
# gw-1 pauses while gw-2 changes the RPM limit; each is answered 200
# (applied) or 409 (nothing saved, reload); what was answered 200 is in
# the store afterwards
on 1; create_team lu '"rpm_limit":100'
lost=""; conflicts=0
for k in $(seq 1 25); do
	curl -s -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $OP_TOKEN" -H 'Content-Type: application/json' \
		--data-binary '{"reason":"race"}' "http://${GWS[1]}/admin/v1/teams/lu/pause" > "$T/race1" &
	p1=$!
	curl -s -o /dev/null -w '%{http_code}' -X PATCH -H "Authorization: Bearer $OP_TOKEN" -H 'Content-Type: application/json' \
		--data-binary "{\"rpm_limit\":$((200 + k))}" "http://${GWS[2]}/admin/v1/teams/lu" > "$T/race2" &
	p2=$!
	wait "$p1" "$p2"
	r1=$(cat "$T/race1"); r2=$(cat "$T/race2")
	got=$(psql_q "SELECT state || ' ' || rpm_limit FROM teams WHERE id = 'lu'")
	[ "$r1" = 409 ] || [ "$r2" = 409 ] && conflicts=$((conflicts + 1))
	case "$r1 $r2" in
	"200 200") [ "$got" = "paused $((200 + k))" ] || lost="$lost [$k: both 200, stored $got]" ;;
	"200 409") [ "${got%% *}" = paused ] || lost="$lost [$k: pause 200, stored $got]" ;;
	"409 200") [ "${got##* }" = $((200 + k)) ] || lost="$lost [$k: limit 200, stored $got]" ;;
	*) lost="$lost [$k: answered $r1 $r2]" ;;
	esac
	on 3; api POST /admin/v1/teams/lu/resume '{}'
	[ "$STATUS" = 200 ] || [ "$STATUS" = 409 ] || lost="$lost [$k: resume $STATUS]"
	wait_eval "lu active" 5 '[ "$(psql_q "SELECT state FROM teams WHERE id = '"'lu'"'")" = active ]' > /dev/null
done
echo "# 25 races of a pause (gw-1) and a limit change (gw-2): $conflicts answered 409"
check_eq "25 races: every change answered 200 is in the store" "" "$lost"
# an emergency stop racing a team edit on another replica is a conflict,
# not an outage: it reads the team again and wins
bad=""
for k in $(seq 1 10); do
	curl -s -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $OP_TOKEN" -H 'Content-Type: application/json' \
		--data-binary '{"reason":"race drill"}' "http://${GWS[1]}/admin/v1/emergency-stop" > "$T/race1" &
	p1=$!
	curl -s -o /dev/null -w '%{http_code}' -X PATCH -H "Authorization: Bearer $OP_TOKEN" -H 'Content-Type: application/json' \
		--data-binary "{\"rpm_limit\":$((300 + k))}" "http://${GWS[2]}/admin/v1/teams/lu" > "$T/race2" &
	p2=$!
	wait "$p1" "$p2"
	r1=$(cat "$T/race1")
	got=$(psql_q "SELECT state FROM teams WHERE id = 'lu'")
	[ "$r1 $got" = "200 paused" ] || bad="$bad [$k: stop $r1, lu $got]"
	on 3; api POST /admin/v1/emergency-stop/resume '{}'
	[ "$STATUS" = 200 ] || bad="$bad [$k: resume $STATUS]"
	wait_eval "lu active" 5 '[ "$(psql_q "SELECT state FROM teams WHERE id = '"'lu'"'")" = active ]' > /dev/null
done
check_eq "10 emergency stops racing an edit on another replica: each 200, the team paused" "" "$bad"
# an apply computed against a team that another replica changes at the
# same moment: 409 and nothing of it applied (raced until one is seen)
seen409=0 bad=""
for k in $(seq 1 60); do
	curl -s -o "$T/apply.body" -w '%{http_code}' -X POST -H "Authorization: Bearer $OP_TOKEN" -H 'Content-Type: application/json' \
		--data-binary "{\"teams\":[{\"id\":\"lu\",\"rpm_limit\":$((500 + k)),\"name\":\"applied $k\"}]}" \
		"http://${GWS[1]}/admin/v1/apply" > "$T/race1" &
	p1=$!
	curl -s -o /dev/null -w '%{http_code}' -X PATCH -H "Authorization: Bearer $OP_TOKEN" -H 'Content-Type: application/json' \
		--data-binary "{\"rpm_limit\":$((700 + k))}" "http://${GWS[2]}/admin/v1/teams/lu" > "$T/race2" &
	p2=$!
	wait "$p1" "$p2"
	r1=$(cat "$T/race1")
	case "$r1" in
	200) ;;
	409)
		seen409=$((seen409 + 1))
		got=$(psql_q "SELECT rpm_limit || '|' || name FROM teams WHERE id = 'lu'")
		[ "$got" != "$((500 + k))|applied $k" ] && [ "${got#*|}" != "applied $k" ] || bad="$bad [$k: 409 but applied: $got]"
		grep -q '"code":"conflict"' "$T/apply.body" || bad="$bad [$k: 409 without code conflict]"
		break ;;
	*) bad="$bad [$k: apply $r1]" ;;
	esac
done
echo "# applies racing an edit on another replica: a 409 after $k rounds"
check_eq "an apply raced by another replica's edit: 409, nothing of it applied" "1|" "$seen409|$bad"

# ---- rotations raced on two replicas: one wins, the other is told (409)
printf '%s\n' gsk_testrotAAAAAAAAAAAAAAAAAAAAAAA0001 gsk_testrotBBBBBBBBBBBBBBBBBBBBBBB0002 >> "$T/fake-keys"
kill -HUP "$FAKE_PID"
on 1; create_team rot '"rpm_limit":100'
create_key rot-prod-api rot gsk_testrotCCCCCCCCCCCCCCCCCCCCCCC0003
printf '%s\n' gsk_testrotCCCCCCCCCCCCCCCCCCCCCCC0003 >> "$T/fake-keys"
kill -HUP "$FAKE_PID"
rot_post() { # rot_post REPLICA PATH BODY OUT
	curl -s -o "$4.body" -w '%{http_code}' -X POST -H "Authorization: Bearer $OP_TOKEN" -H 'Content-Type: application/json' \
		--data-binary "$3" "http://${GWS[$1]}/admin/v1/keys/rot-prod-api/$2" > "$4"
}
rot_post 1 rotation '{"new_secret":"gsk_testrotAAAAAAAAAAAAAAAAAAAAAAA0001"}' "$T/ra" &
p1=$!
rot_post 2 rotation '{"new_secret":"gsk_testrotBBBBBBBBBBBBBBBBBBBBBBB0002"}' "$T/rb" &
p2=$!
wait "$p1" "$p2"
codes="$(cat "$T/ra") $(cat "$T/rb")"
check "two rotation starts on two replicas: one 201, the other 409 ($codes)" \
	test "$codes" = "201 409" -o "$codes" = "409 201"
winner=$([ "$(cat "$T/ra")" = 201 ] && jq -r .rotation.new_fingerprint "$T/ra.body" || jq -r .rotation.new_fingerprint "$T/rb.body")
check_eq "the store holds the winner's new key" "$winner" "$(psql_q "SELECT new_fp FROM keys WHERE name = 'rot-prod-api'")"
rot_post 1 rotation/deploy '{}' "$T/ra" &
p1=$!
rot_post 2 rotation/abort '{}' "$T/rb" &
p2=$!
wait "$p1" "$p2"
codes="$(cat "$T/ra") $(cat "$T/rb")"
step=$(psql_q "SELECT rot_step FROM keys WHERE name = 'rot-prod-api'")
# at the same moment one wins and the other is told (409); one after the
# other both may stand (deploy, then abort: aborted); never both over each other
case "$codes|$step" in
"200 409|2" | "409 200|0" | "200 200|0") ok "deploy (gw-1) racing abort (gw-2): $codes, the store at step $step, as answered" ;;
*) fail "deploy (gw-1) racing abort (gw-2): answered $codes, the store at step $step" ;;
esac

# ---- leased RPM slots: fewer round trips, never above the limit ----------
evalsha_calls() { redis-cli -p "$RPORT" INFO commandstats | tr -d '\r' | sed -n 's/^cmdstat_evalsha:calls=\([0-9]*\),.*/\1/p'; }
burst() { # burst TOKEN N PARALLEL HOST... : N chat requests spread over the hosts; prints the status codes
	local tok=$1 n=$2 par=$3; shift 3
	local urls=() i=0
	while [ "$i" -lt "$n" ]; do for h in "$@"; do [ "$i" -lt "$n" ] && urls+=(-o /dev/null "http://$h/openai/v1/chat/completions"); i=$((i + 1)); done; done
	curl -s --no-progress-meter --parallel --parallel-max "$par" -w '%{http_code}\n' -H "Authorization: Bearer $tok" \
		-H 'Content-Type: application/json' --data-binary '{"model":"llama-3.1-8b-instant","messages":[{"role":"user","content":"hi"}]}' "${urls[@]}"
}
printf '%s\n' gsk_testleaseAAAAAAAAAAAAAAAAAAAA0001 gsk_testleaseBBBBBBBBBBBBBBBBBBBB0002 >> "$T/fake-keys"
kill -HUP "$FAKE_PID"
on 1; create_team lease1 '"rpm_limit":100000'; create_key lease1-prod-api lease1 gsk_testleaseAAAAAAAAAAAAAAAAAAAA0001
new_token lease1; L1=$TOKEN
c0=$(evalsha_calls); s0=$(date +%s)
codes=$(burst "$L1" 300 4 "${GWS[1]}")
c1=$(evalsha_calls); s1=$(date +%s)
# (besides, each replica reads the fleet's capacity windows once a second)
ticks=$(( 3 * (s1 - s0 + 2) ))
echo "# 300 requests of a team far below its limit through gw-1: $((c1 - c0)) Redis scripts run in $((s1 - s0 + 1)) s, of them up to $ticks the replicas' readings"
check_eq "300 requests far below the limit: all 200" 300 "$(grep -c '^200$' <<< "$codes")"
check "... on leases (RPM slots, capacity room): fewer than one Redis round trip in 4 requests ($((c1 - c0 - ticks)) beyond the readings)" \
	test $((c1 - c0 - ticks)) -lt 75
on 2; create_team lease2 '"rpm_limit":90'; create_key lease2-prod-api lease2 gsk_testleaseBBBBBBBBBBBBBBBBBBBB0002
new_token lease2; L2=$TOKEN
codes=$(burst "$L2" 300 6 "${GWS[1]}" "${GWS[2]}" "${GWS[3]}")
n1=$(grep -c '^200$' <<< "$codes")
check "300 requests, 6 at a time over 3 replicas, limit 90 with leases: never above it ($n1)" test "$n1" -le 90
check_eq "... the rest refused with 429" $((300 - n1)) "$(grep -c '^429$' <<< "$codes")"
check "... slots left unused go back to the window, within a second" wait_eval "the window at the admitted" 3 \
	'[ "$(redis-cli -p "$RPORT" ZCARD "gg:rpm:{lease2}")" = "$n1" ]'
codes=$(burst "$L2" 60 3 "${GWS[1]}" "${GWS[2]}" "${GWS[3]}")
check_eq "... then exactly the limit admitted in the minute" 90 $((n1 + $(grep -c '^200$' <<< "$codes")))

# ---- queue mode across replicas -------------------------------------------
on 1
create_team qteam '"rpm_limit":2,"rpm_mode":"queue","queue_max_wait_ms":1500'
create_key qteam-prod-api qteam "$KEY5"
new_token qteam
QT=$TOKEN
wait_eval "qteam everywhere" 5 'on 2; api GET /admin/v1/teams/qteam; [ "$STATUS" = 200 ]'
on 1; chat "$QT" llama-3.3-70b-versatile; a=$STATUS; chat "$QT" llama-3.3-70b-versatile
check_eq "queue mode: the limit's 2 requests admitted through gw-1" "200 200" "$a $STATUS"
on 2; t0=$(ms); chat "$QT" llama-3.3-70b-versatile; waited=$(( $(ms) - t0 ))
check_eq "... a third through gw-2 (its own window empty) queues on the fleet's window: 429 in the end" 429 "$STATUS"
check "... after its queue_max_wait_ms (waited ${waited} ms)" test "$waited" -ge 1400
check_contains "... saying it waited" "waited the maximum" "$BODY"
on 1; api GET /admin/v1/teams/qteam
check_eq "... and took no slot of the window (still 2)" 2 "$(jq_body .rpm)"

# ---- zero overspend across replicas --------------------------------------
# room for about 5 requests' worst case (~150k nusd each), 60 at once over 3 replicas
on 1
create_team beta '"monthly_budget_usd":0.00075,"rpm_limit":10000'
create_key beta-prod-api beta "$KEY2"
new_token beta
BETA=$TOKEN
wait_eval "beta everywhere" 5 'on 3; api GET /admin/v1/teams/beta; [ "$STATUS" = 200 ]'
race 60 "$BETA" '{"model":"llama-3.3-70b-versatile","messages":[{"role":"user","content":"hello gateway"}]}' "$T/beta.codes" \
	"${GWS[1]}" "${GWS[2]}" "${GWS[3]}"
wait_for "journals shipped" 10 all_shipped
ok200=$(grep -c '^200$' "$T/beta.codes"); n402=$(grep -c '^402$' "$T/beta.codes")
spent=$(psql_q "SELECT coalesce(sum(cost_nusd),0) FROM ledger WHERE team = 'beta'")
held=$(psql_q "SELECT coalesce((SELECT sum(spent_nusd) FROM cl_spend WHERE team = 'beta'),0) + coalesce((SELECT sum(leased_nusd) FROM cl_leases WHERE team = 'beta'),0)")
echo "# beta: $ok200 answered, $n402 refused (402), settled $spent nusd of 750000"
check "60 concurrent over 3 replicas: some served ($ok200)" test "$ok200" -ge 1
check "... the rest refused with 402 ($n402)" test $(( ok200 + n402 )) -eq 60 -a "$n402" -ge 1
check "... settled spend never above the budget ($spent <= 750000)" test "$spent" -le 750000
check "... nor the fleet's spend plus every lease ($held)" test "$held" -le 750000
check "the team's spend is the same figure on every replica" wait_eval "equal spend" 5 \
	'a=(); for i in 1 2 3; do on $i; api GET /admin/v1/teams/beta; a+=("$(jq_body .spend_mtd_usd)"); done; [ "${a[0]}" = "${a[1]}" ] && [ "${a[1]}" = "${a[2]}" ] && [ "${a[0]}" != 0 ]'
on 2
api GET "/admin/v1/spend?group_by=team,user&format=json"
check_eq "showback from PostgreSQL's days: beta's rows are the fleet's ledger to the nano-dollar" "$spent" \
	"$(jq_body '[.rows[] | select(.team == "beta") | .cost_usd] | add * 1000000000 | round')"
check_eq "... and every served answer counted once" "$ok200" "$(jq_body '[.rows[] | select(.team == "beta") | .requests] | add')"

# ---- a day's budget and a key's month across replicas: leased like the
# month's (the fleet's spend plus every replica's lease within the budget),
# so one replica may use all that is left, a replica restarted mid-day goes
# on where the fleet is, and every replica shows the fleet's day. An end
# user's day is each replica's share, against its own spend, also after a
# restart. (A request: 11 prompt + 20 output tokens, about 22,300 nusd;
# reserved at its worst case, about 88,000 nusd, 95,000 with a user.)
printf '%s\n' gsk_testwinAAAAAAAAAAAAAAAAAAAAAAA0001 gsk_testwinBBBBBBBBBBBBBBBBBBBBBBB0002 \
	gsk_testwinCCCCCCCCCCCCCCCCCCCCCCC0003 >> "$T/fake-keys"
kill -HUP "$FAKE_PID"
on 1
create_team dayc '"daily_budget_usd":0.0005,"rpm_limit":10000'
create_key dayc-prod-api dayc gsk_testwinAAAAAAAAAAAAAAAAAAAAAAA0001
new_token dayc
DAYC=$TOKEN
wait_eval "dayc everywhere" 5 'on 3; api GET /admin/v1/teams/dayc; [ "$STATUS" = 200 ]'
today_ms=$(( $(date -u -d 'today 00:00' +%s) * 1000 ))
day_settled() { psql_q "SELECT coalesce(sum(cost_nusd), 0) FROM ledger WHERE team = 'dayc' AND ts_ms >= $today_ms"; }
served() { # served TOKEN N [extra] : N chat requests one after the other through GW; prints how many were 200
	local n=0 j
	for j in $(seq 1 "$2"); do chat "$1" llama-3.3-70b-versatile "\"max_tokens\":20${3:+,$3}"; [ "$STATUS" = 200 ] && n=$((n + 1)); done
	echo "$n"
}
create_team userc '"user_daily_budget_usd":0.00045,"rpm_limit":10000'
create_key userc-prod-api userc gsk_testwinCCCCCCCCCCCCCCCCCCCCCCC0003
new_token userc
USERC=$TOKEN
wait_eval "userc everywhere" 5 'on 3; api GET /admin/v1/teams/userc; [ "$STATUS" = 200 ]'
on 2; a=$(served "$USERC" 2 '"user":"ann"'); on 3; b=$(served "$USERC" 2 '"user":"ann"')
check_eq "an end user's day of \$0.00045 over 3 replicas: 2 served through gw-2 and 2 through gw-3 (\$0.00015 each)" "2 2" "$a $b"
on 1; n=$(served "$DAYC" 10)
wait_for "journals shipped" 10 all_shipped
s1=$(day_settled)
check_eq "a daily budget of \$0.0005 through gw-1 alone: 10 of 10 served" 10 "$n"
check "... more than a third of the day on one replica of 3 (settled $s1 > 166666 nusd)" test "$s1" -gt 166666
kill -TERM "${GW_PIDS[1]}"; wait "${GW_PIDS[1]}" 2>/dev/null
start_replica 1
on 1; n=$(served "$DAYC" 5)
check_eq "gw-1 restarted mid-day serves on up to what is left of the day: 5 of 5" 5 "$n"
n=$(served "$USERC" 2 '"user":"ann"')
check_eq "... and the end user its own share of her day (what gw-1 settled for her, not the fleet): 2 of 2" 2 "$n"
HELLO='{"model":"llama-3.3-70b-versatile","max_tokens":20,"messages":[{"role":"user","content":"hello gateway"}]}'
race 60 "$DAYC" "$HELLO" "$T/dayc.codes" "${GWS[1]}" "${GWS[2]}" "${GWS[3]}"
wait_for "journals shipped" 10 all_settled
settled=$(day_settled)
ok200=$(grep -c '^200$' "$T/dayc.codes"); n402=$(grep -c '^402$' "$T/dayc.codes")
held=$(psql_q "SELECT coalesce(sum(greatest(granted_nusd, spent_nusd)), 0) FROM cl_windows WHERE kind = 'day' AND owner = 'dayc' AND start = $today_ms")
echo "# dayc: 15 served one by one, then 60 racing: $ok200 served, $n402 refused; the day settled $settled of 500000 nusd"
check "60 racing over 3 replicas for the rest of the day: settled never above the day's budget ($settled <= 500000, the ledger)" \
	test "$settled" -le 500000
check "... some served ($ok200), the rest refused 402 ($n402)" test "$ok200" -ge 1 -a $((ok200 + n402)) -eq 60
check "... nor the fleet's day spend plus every replica's lease ($held)" test "$held" -le 500000
day_seen() { # the day's limit and spend (nusd) in the quota and the team's figures through replica $1
	curl -s -H "Authorization: Bearer $DAYC" "http://${GWS[$1]}/groqgate/v1/quota" |
		jq -r '.budgets[] | select(.period == "daily") | "\(.limit_usd) \(.spent_usd * 1000000000 | round)"'
	curl -s -H "Authorization: Bearer $VIEW_TOKEN" "http://${GWS[$1]}/admin/v1/teams/dayc" | jq -r '.spend_today_usd * 1000000000 | round'
}
same_day() { local i; for i in 1 2 3; do [ "$(day_seen "$i" | tr '\n' ' ')" = "0.0005 $settled $settled " ] || return 1; done; }
check "the quota and the team's spend_today through each replica: the fleet's day (0.0005, $settled nusd)" \
	wait_for "the fleet's day everywhere" 5 same_day
[ "$FAILED" = 0 ] || for i in 1 2 3; do echo "# gw-$i: $(day_seen "$i" | tr '\n' ' ')"; done
on 2
create_team keyc '"rpm_limit":10000'
api POST /admin/v1/keys '{"name":"keyc-staging-api","team":"keyc","secret":"gsk_testwinBBBBBBBBBBBBBBBBBBBBBBB0002","monthly_budget_usd":0.0003}'
new_token keyc keyc-staging-api
KEYC=$TOKEN
wait_eval "keyc everywhere" 5 'on 3; api GET /admin/v1/keys/keyc-staging-api; [ "$STATUS" = 200 ]'
on 2; n=$(served "$KEYC" 8)
check_eq "a key's monthly budget of \$0.0003 through gw-2 alone: 8 of 8 served (more than a third)" 8 "$n"
race 30 "$KEYC" "$HELLO" "$T/keyc.codes" "${GWS[1]}" "${GWS[2]}" "${GWS[3]}"
wait_for "journals shipped" 10 all_settled
ksettled=$(psql_q "SELECT coalesce(sum(cost_nusd), 0) FROM ledger WHERE key = 'keyc-staging-api'")
echo "# keyc: 8 served one by one, then 30 racing: $(grep -c '^200$' "$T/keyc.codes") served; the key settled $ksettled of 300000 nusd"
check "30 racing over 3 replicas for the rest of the key's month: settled never above its budget ($ksettled <= 300000)" \
	test "$ksettled" -le 300000
check "... some of them served" grep -q '^200$' "$T/keyc.codes"
[ "$FAILED" = 0 ] || echo "# keyc codes: $(sort "$T/keyc.codes" | uniq -c | tr "\n" " ")"

# ---- the ledger exactly once: kill -9 of a replica under load ------------
on 1
create_team gamma '"rpm_limit":100000'
create_key gamma-prod-api gamma "$KEY3"
new_token gamma
GAMMA=$TOKEN
wait_eval "gamma everywhere" 5 'on 3; api GET /admin/v1/teams/gamma; [ "$STATUS" = 200 ]'
for j in $(seq 1 40); do
	curl -s -o /dev/null -w '%{http_code}\n' --max-time 10 -H "Authorization: Bearer $GAMMA" -H 'Content-Type: application/json' \
		--data-binary '{"model":"llama-3.1-8b-instant","messages":[{"role":"user","content":"hi"}]}' \
		"http://${GWS[3]}/openai/v1/chat/completions" >> "$T/gamma.codes" &
	CURLS="${CURLS:-} $!"
	[ "$j" = 20 ] && { wait_eval "some answers" 5 '[ "$(grep -c "^200$" "$T/gamma.codes")" -ge 5 ]'; kill -9 "${GW_PIDS[3]}"; }
done
wait $CURLS 2>/dev/null
wait "${GW_PIDS[3]}" 2>/dev/null
answered=$(grep -vc '^000$' "$T/gamma.codes")
start_replica 3
wait_for "journals shipped" 10 all_shipped
rows=$(psql_q "SELECT count(*) FROM ledger WHERE team = 'gamma'")
echo "# gw-3 killed under load: $answered of 40 answered, $rows ledger rows after its restart"
check "every request answered before kill -9 is in the ledger after the restart ($rows >= $answered)" test "$rows" -ge "$answered"
check "... and none twice (at most one row per request sent)" test "$rows" -le 40
check_eq "... no row id repeated" 0 "$(psql_q "SELECT count(*) FROM (SELECT request_id FROM ledger WHERE team = 'gamma' AND request_id IS NOT NULL GROUP BY 1 HAVING count(*) > 1) d")"

# ---- PostgreSQL restarted mid-load ---------------------------------------
: > "$T/pg.codes"
for j in $(seq 1 30); do
	curl -s -o /dev/null -w '%{http_code}\n' --max-time 10 -H "Authorization: Bearer $GAMMA" -H 'Content-Type: application/json' \
		--data-binary '{"model":"llama-3.1-8b-instant","messages":[{"role":"user","content":"hi"}]}' \
		"http://${GWS[$(( j % 3 + 1 ))]}/openai/v1/chat/completions" >> "$T/pg.codes"
	[ "$j" = 10 ] && { pg_stop; pg_run; }
done
before=$rows
wait_for "every request done and shipped after the restart" 30 all_settled
rows=$(psql_q "SELECT count(*) FROM ledger WHERE team = 'gamma'")
served=$(grep -c '^200$' "$T/pg.codes")
# what each client was answered, beside what the ledger says of the same
# requests (a client that gave up, 000, is a 499 client_closed row): a
# refused request is in the ledger with its refusal, a served one with 200
seen=$(sed 's/^000$/499/' "$T/pg.codes" | sort | uniq -c | awk '{ printf "%s:%s ", $2, $1 }')
kept=$(psql_q "SELECT status || ':' || count(*) FROM (SELECT status FROM ledger WHERE team = 'gamma'
	ORDER BY ts_ms DESC LIMIT $((rows - before))) l GROUP BY status ORDER BY status" | tr '\n' ' ')
echo "# PostgreSQL restarted: $served of 30 served; answered $seen; ledger $kept"
check_eq "every request across a PostgreSQL restart is in the ledger once, with what its client was answered" \
	"$seen" "$kept"
check_eq "... all 30 of them" 30 "$((rows - before))"
check "... and served (within leases and stale_after_s): $served of 30" test "$served" -ge 25

# ---- Redis down: RPM at limit / replicas alive, locally ----------------------
on 1
create_team delta '"rpm_limit":9'
create_key delta-prod-api delta "$KEY4"
new_token delta
DELTA=$TOKEN
redis_stop
wait_eval "gw-1 to notice" 5 'curl -s "http://${GWS[1]}/healthz" | grep -q degraded'
h=$(curl -s -w ' %{http_code}' "http://${GWS[1]}/healthz")
check_contains "/healthz says degraded" '"status":"degraded"' "$h"
check_contains "... still 200 (serving)" ' 200' "$h"
on 1; api GET /admin/v1/cluster; echo "# alive: $(jq_body .alive) $(jq_body '[.replicas[] | .id + ":" + .state + ":" + .last_seen_at] | join(" ")') $(date -u +%T)"
codes=""
for j in $(seq 1 6); do chat "$DELTA" llama-3.3-70b-versatile; codes="$codes $STATUS"; done
check_eq "Redis down: one replica admits limit/3 (9/3 = 3) of 6" 3 "$(echo $codes | tr ' ' '\n' | grep -c '^200$')"
start_redis
check "Redis back: healthz ok again" wait_eval "redis back" 5 'curl -s "http://${GWS[1]}/healthz" | grep -q "\"status\":\"ok\""'

# ---- Redis gone mid-window: the fleet's count survives it. 24 of a limit
# of 30 admitted through Redis; then Redis stops: each replica starts its
# local window from its share of the fleet's count (8 of its 10), so the
# fleet admits at most the 6 left, not 30 more
on 1
printf '%s\n' gsk_testepsAAAAAAAAAAAAAAAAAAAAAAA0001 >> "$T/fake-keys"
kill -HUP "$FAKE_PID"
create_team eps '"rpm_limit":30'
create_key eps-prod-api eps gsk_testepsAAAAAAAAAAAAAAAAAAAAAAA0001
new_token eps
EPS=$TOKEN
# every replica knows the team and its token, and counts through Redis
# again (each reconnects on its own after the outage above), before the
# window is filled
for i in 1 2 3; do
	wait_eval "gw-$i to know eps' token" 5 \
		"[ \"\$(curl -s -H 'Authorization: Bearer $OP_TOKEN' http://${GWS[$i]}/admin/v1/teams/eps/tokens | jq '.tokens | length')\" = 1 ]"
	wait_eval "gw-$i to count through Redis" 5 "curl -s http://${GWS[$i]}/healthz | grep -q '\"status\":\"ok\"'"
done
admitted=0 codes=""
for j in $(seq 1 24); do on $(( j % 3 + 1 )); chat "$EPS" llama-3.1-8b-instant; codes="$codes $STATUS"; [ "$STATUS" = 200 ] && admitted=$((admitted + 1)); done
[ "$admitted" = 24 ] || echo "# the answers:$codes"
check_eq "24 admitted through Redis" 24 "$admitted"
for i in 1 2 3; do
	wait_eval "gw-$i to read the fleet's count" 5 \
		"[ \"\$(curl -s -H 'Authorization: Bearer $OP_TOKEN' http://${GWS[$i]}/admin/v1/teams/eps | jq .rpm)\" = 24 ]"
done
redis_stop
more=0
for j in $(seq 1 30); do on $(( j % 3 + 1 )); chat "$EPS" llama-3.1-8b-instant; [ "$STATUS" = 200 ] && more=$((more + 1)); done
echo "# Redis stopped with 24 of 30 admitted: $more more admitted by the replicas' local windows"
check "the fleet stays within its limit when Redis goes away mid-window ($((24 + more)) <= 30)" test $((24 + more)) -le 30
check "and still serves the rest it has room for ($more)" test "$more" -ge 3
start_redis
check "Redis back again" wait_eval "redis back" 5 'curl -s "http://${GWS[1]}/healthz" | grep -q "\"status\":\"ok\""'

# ---- PostgreSQL down: stale after stale_after_s --------------------------
pg_stop
on 2
check "PostgreSQL down: data plane refused 503 config_stale after stale_after_s" wait_eval "stale" $((STALE_S + 3)) \
	'chat "$GAMMA" llama-3.1-8b-instant; [ "$STATUS" = 503 ] && echo "$BODY" | grep -q config_stale'
h=$(curl -s -w ' %{http_code}' "http://${GWS[2]}/healthz")
check_contains "/healthz: config_stale, 503" '"status":"config_stale"' "$h"
api POST /admin/v1/teams/gamma/pause '{"reason":"x"}'
check_eq "an admin change is refused while PostgreSQL is down" 503 "$STATUS"
check_contains "... saying why" "not saved" "$BODY"
api GET /admin/v1/teams/gamma
check_eq "... reads still answer" 200 "$STATUS"
pg_run
check "PostgreSQL back: served again" wait_eval "serving" 10 \
	'chat "$GAMMA" llama-3.1-8b-instant; [ "$STATUS" = 200 ]'

# ---- Redis stops answering (SIGSTOP): a request waiting on it is decided here
kill -STOP "$REDIS_PID"
on 2; a=$(ms); chat "$GAMMA" llama-3.1-8b-instant; d=$(( $(ms) - a ))
check_eq "Redis silent: the request is still served" 200 "$STATUS"
check "... within a second (its answer overdue, decided by this replica: ${d} ms)" test "$d" -lt 1000
kill -CONT "$REDIS_PID"

# ---- cut off from both: PostgreSQL and Redis stop answering (SIGSTOP) -------
pg_pids="$PG_PID $(pgrep -P "$PG_PID" | tr '\n' ' ')"
kill -STOP $pg_pids "$REDIS_PID"
on 2
t0=$(ms)
check "both silent: requests refused 503 config_stale, not held" wait_eval "stale while silent" $((STALE_S + 8)) \
	'chat "$GAMMA" llama-3.1-8b-instant; [ "$STATUS" = 503 ] && echo "$BODY" | grep -q config_stale'
slowest=0
for j in 1 2 3 4 5; do
	a=$(ms); chat "$GAMMA" llama-3.1-8b-instant; d=$(( $(ms) - a ))
	[ "$d" -gt "$slowest" ] && slowest=$d
done
echo "# both silent: stale after $(( $(ms) - t0 )) ms; 5 requests then, the slowest answered in $slowest ms"
check "... each answered promptly while they stay silent (slowest ${slowest} ms < 1500)" test "$slowest" -lt 1500
kill -CONT $pg_pids "$REDIS_PID"
check "both answering again: served again" wait_eval "serving after SIGCONT" 20 \
	'chat "$GAMMA" llama-3.1-8b-instant; [ "$STATUS" = 200 ]'

# ---- a batch whose replica is scaled down: another takes it over and
# bills it; the gone replica's lease does not keep its reservation
printf '%s\n' gsk_testbatchAAAAAAAAAAAAAAAAAAAAA0001 >> "$T/fake-keys"
kill -HUP "$FAKE_PID"
curl -s -o /dev/null -X POST "http://$FAKE/_fake/faults" -d '{"batch_ms":4000}'
on 2; create_team bt '"rpm_limit":100'
create_key bt-prod-api bt gsk_testbatchAAAAAAAAAAAAAAAAAAAAA0001
new_token bt
printf '{"custom_id":"r1","method":"POST","url":"/v1/chat/completions","body":{"model":"llama-3.1-8b-instant","messages":[{"role":"user","content":"hi"}],"max_tokens":20}}\n' > "$T/bt.jsonl"
FID=$(curl -s -H "Authorization: Bearer $TOKEN" -F purpose=batch -F "file=@$T/bt.jsonl;filename=b.jsonl" "http://${GWS[2]}/openai/v1/files" | jq -r .id)
BID=$(curl -s -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
	--data-binary "{\"input_file_id\":\"$FID\",\"endpoint\":\"/v1/chat/completions\",\"completion_window\":\"24h\"}" \
	"http://${GWS[2]}/openai/v1/batches" | jq -r .id)
check_eq "a batch made through gw-2" "gw-2" "$(psql_q "SELECT replica FROM batches WHERE id = '$BID'")"
# a request held 3 s at Groq keeps gw-2 draining, listed down, while
# another replica takes the batch over (its reservation off gw-2's lease
# then): the lease gw-2 leaves at its stop must not put it back
curl -s -o /dev/null -X POST "http://$FAKE/_fake/faults" -d '{"batch_ms":4000,"latency_ms":3000}'
curl -s -o "$T/held.out" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
	--data-binary '{"model":"llama-3.1-8b-instant","messages":[{"role":"user","content":"hold"}],"max_tokens":5}' \
	"http://${GWS[2]}/openai/v1/chat/completions" > "$T/held.code" &
HELD=$!
wait_eval "the held request in flight at gw-2" 5 "curl -s 'http://${GWS[2]}/healthz' | jq -e '.inflight >= 1' > /dev/null"
curl -s -o /dev/null -X POST "http://$FAKE/_fake/faults" -d '{"batch_ms":4000,"latency_ms":0}'
kill -TERM "${GW_PIDS[2]}"
check "the fleet shows gw-2 down to new requests, draining (state down, draining true)" wait_eval "gw-2 draining" 5 \
	"curl -s -H 'Authorization: Bearer $OP_TOKEN' http://${GWS[1]}/admin/v1/cluster | jq -e '.replicas[] | select(.id == \"gw-2\") | .state == \"down\" and .draining == true' > /dev/null"
wait_eval "a replica takes the batch over while gw-2 drains" 10 \
	"[ \"\$(psql_q \"SELECT replica FROM batches WHERE id = '$BID'\")\" != gw-2 ]"
check "... gw-2 still running then (draining its held request)" kill -0 "${GW_PIDS[2]}"
wait "$HELD"
check_eq "the held request was answered through the drain" 200 "$(cat "$T/held.code")"
wait "${GW_PIDS[2]}" 2>/dev/null
wait_eval "the batch billed by another replica" 30 "[ \"\$(psql_q \"SELECT count(*) FROM ledger WHERE request_id = '$BID'\")\" = 1 ]"
row=$(psql_q "SELECT replica || '|' || status || '|' || (cost_nusd > 0) FROM ledger WHERE request_id = '$BID'")
check "gw-2 scaled down: its batch taken over and billed by another replica ($row)" \
	test "$row" = "gw-1|200|true" -o "$row" = "gw-3|200|true"
check_eq "the gone replica's lease keeps nothing of it" 0 \
	"$(psql_q "SELECT coalesce(sum(leased_nusd), 0) FROM cl_leases WHERE team = 'bt' AND replica = 'gw-2'")"
on 1; api GET /admin/v1/teams/bt
check_eq "and nothing of it stays reserved" 0 "$(jq_body .reserved_usd)"
curl -s -o /dev/null -X DELETE "http://$FAKE/_fake/faults"
start_replica 2

# ---- rolling restart under load, behind nginx -----------------------------
start_nginx 1 2 3
wait_eval "every replica serving again" 10 '[ "$(fleet_of 1)" = gw-1,gw-2,gw-3 ]'
load() { # one client, sequential requests through nginx until told to stop
	while [ ! -e "$T/stop-load" ]; do
		curl -s -o /dev/null -w '%{http_code}\n' --max-time 10 -H "Authorization: Bearer $GAMMA" \
			-H 'Content-Type: application/json' \
			--data-binary '{"model":"llama-3.1-8b-instant","messages":[{"role":"user","content":"hi"}]}' \
			"http://$LB/openai/v1/chat/completions" >> "$T/rolling.$1"
	done
}
LOADS=""
for c in 1 2 3 4; do load "$c" & LOADS="$LOADS $!"; done
for i in 1 2 3; do
	kill "${GW_PIDS[$i]}"; wait "${GW_PIDS[$i]}" 2>/dev/null
	start_replica "$i"
	wait_eval "gw-$i serving" 10 '[ "$(fleet_of 1)" = gw-1,gw-2,gw-3 ]'
done
touch "$T/stop-load"
wait $LOADS
codes=$(cat "$T"/rolling.*)
total=$(echo "$codes" | grep -c .)
echo "# rolling restart of 3 replicas under load: $total requests, $(echo "$codes" | grep -vc '^200$') not 200"
check "a rolling restart of the 3 replicas under load: some requests ($total)" test "$total" -ge 20
check_eq "... zero failed client requests" "" "$(echo "$codes" | grep -v '^200$' | sort | uniq -c | tr '\n' ' ')"

# ---- no secret anywhere it must not be -----------------------------------
logs=$(cat "$T"/replica*.log)
check_not_contains "no Groq key in any replica's log" "$KEY1" "$logs"
check_not_contains "no admin token in any replica's log" "$OP_TOKEN" "$logs"
on 1; api GET /admin/v1/cluster
check_not_contains "no PostgreSQL URL in /admin/v1/cluster" "postgresql://" "$BODY"
done_testing
