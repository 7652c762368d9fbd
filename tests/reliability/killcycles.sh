# Durability: 50 cycles (KILL_CYCLES) of kill -9 at a random moment under
# mixed load — plain and streamed completions, pauses and resumes, a key
# rotation walked step by step. After every restart: each request a client
# saw answered is in the ledger, nothing is in the ledger that Groq did not
# serve, PRAGMA integrity_check is ok, and the last acknowledged pause and
# rotation step are there.
source "$(dirname "$0")/../lib.sh"
CYCLES=${KILL_CYCLES:-50}
start_fakegroq
write_gateway_config 'rotation = { drain_seconds = 0; };'
start_gateway
sed -i "s/^listen = .*/listen = \"$GW\";/" "$T/gw.conf" # the same port after each restart
create_team alpha
create_key alpha-prod-api alpha "$KEY1"
new_token alpha; ATOK=$TOKEN
create_team beta
create_key beta-prod-api beta "$KEY2"
new_token beta
create_team gamma
create_key gamma-prod-api gamma "$KEY3"
new_token gamma; GTOK=$TOKEN

body='{"model":"llama-3.1-8b-instant","max_tokens":3,"messages":[{"role":"user","content":"x"}]}'
sbody='{"model":"llama-3.1-8b-instant","max_tokens":3,"stream":true,"messages":[{"role":"user","content":"x"}]}'
plain_worker() { # TOKEN FILE
	while [ ! -e "$T/stop" ]; do
		c=$(curl -s -m 5 -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $1" -d "$body" "http://$GW/openai/v1/chat/completions")
		[ "$c" = 200 ] && echo x >> "$2"
		[ "$c" = 000 ] && break
	done
}
stream_worker() {
	while [ ! -e "$T/stop" ]; do
		out=$(curl -sN -m 5 -H "Authorization: Bearer $ATOK" -d "$sbody" "http://$GW/openai/v1/chat/completions")
		case "$out" in *"data: [DONE]"*) echo x >> "$T/ans-stream" ;; "") break ;; esac
	done
}
# the admin side: one change at a time, "sent" before and "acked" after
ROT_STEPS=(start deploy secret-updated switch complete)
ROT_STATE=(verified deployed secret_updated switched none)
SECRETS=("$KEY4" "$KEY3")
admin_worker() {
	local pause=0 code
	while [ ! -e "$T/stop" ]; do
		local want=$([ $pause = 0 ] && echo paused || echo active)
		echo "$want" > "$T/pause.sent"
		code=$(curl -s -m 5 -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $OP_TOKEN" \
			-d "$([ $pause = 0 ] && echo '{"reason":"drill"}' || echo '{}')" \
			"http://$GW/admin/v1/teams/beta/$([ $pause = 0 ] && echo pause || echo resume)")
		[ "$code" = 000 ] && break
		[ "$code" = 200 ] && { echo "$want" > "$T/pause.acked"; pause=$((1 - pause)); }
		local i; i=$(cat "$T/rot.i")
		local step=${ROT_STEPS[$i]} path="/admin/v1/keys/gamma-prod-api/rotation" data='{}'
		case $step in
		start) data="{\"new_secret\":\"${SECRETS[$(cat "$T/rot.n")]}\"}" ;;
		secret-updated|complete) path="$path/$step"; data='{"confirm":true}' ;;
		*) path="$path/$step" ;;
		esac
		echo "${ROT_STATE[$i]}" > "$T/rot.sent"
		code=$(curl -s -m 5 -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $OP_TOKEN" -d "$data" "http://$GW$path")
		[ "$code" = 000 ] && break
		if [ "${code:0:1}" = 2 ]; then
			echo "${ROT_STATE[$i]}" > "$T/rot.acked"
			[ "$step" = complete ] && echo $((1 - $(cat "$T/rot.n"))) > "$T/rot.n"
			echo $(( (i + 1) % 5 )) > "$T/rot.i"
		fi
	done
}
echo 0 > "$T/rot.i"; echo 0 > "$T/rot.n"
echo active > "$T/pause.acked"; echo active > "$T/pause.sent"
echo none > "$T/rot.acked"; echo none > "$T/rot.sent"
: > "$T/ans-alpha"; : > "$T/ans-gamma"; : > "$T/ans-stream"

good_ledger=0 good_integrity=0 good_pause=0 good_rot=0 good_phantom=0
RANDOM=${KILL_SEED:-42}
for cycle in $(seq 1 "$CYCLES"); do
	rm -f "$T/stop"
	plain_worker "$ATOK" "$T/ans-alpha" & W1=$!
	plain_worker "$GTOK" "$T/ans-gamma" & W2=$!
	stream_worker & W3=$!
	admin_worker & W4=$!
	# a random moment: 50 to 1,500 ms into the load
	sleep "$(printf '0.%03d' $((50 + RANDOM % 950)))"; [ $((RANDOM % 3)) = 0 ] && sleep 0.5
	kill -9 "$GW_PID"
	touch "$T/stop"
	wait "$W1" "$W2" "$W3" "$W4" 2>/dev/null
	wait "$GW_PID" 2>/dev/null
	start_gateway
	a=$(wc -l < "$T/ans-alpha"); s=$(wc -l < "$T/ans-stream"); g=$(wc -l < "$T/ans-gamma")
	la=$(sql "select count(*) from ledger where team='alpha' and status=200 and stream=0")
	ls_=$(sql "select count(*) from ledger where team='alpha' and status=200 and stream=1")
	lg=$(sql "select count(*) from ledger where team='gamma' and status=200")
	if [ "$la" -ge "$a" ] && [ "$ls_" -ge "$s" ] && [ "$lg" -ge "$g" ]; then good_ledger=$((good_ledger + 1))
	else echo "# cycle $cycle: answered $a/$s/$g, ledger $la/$ls_/$lg"; fi
	served=$(curl -s "http://$FAKE/_fake/stats" | jq '.total.completions + .total.streams')
	all=$(sql "select count(*) from ledger where status=200")
	[ "$all" -le "$served" ] && good_phantom=$((good_phantom + 1)) || echo "# cycle $cycle: ledger $all > served $served"
	[ "$(sql 'pragma integrity_check')" = ok ] && good_integrity=$((good_integrity + 1)) || echo "# cycle $cycle: integrity"
	api GET /admin/v1/teams/beta; st=$(jq_body .state)
	if [ "$st" = "$(cat "$T/pause.acked")" ] || [ "$st" = "$(cat "$T/pause.sent")" ]; then good_pause=$((good_pause + 1))
	else echo "# cycle $cycle: beta is $st, acked $(cat "$T/pause.acked")"; fi
	api GET /admin/v1/keys/gamma-prod-api; rs=$(jq_body '.rotation.step // "none"')
	if [ "$rs" = "$(cat "$T/rot.acked")" ] || [ "$rs" = "$(cat "$T/rot.sent")" ]; then good_rot=$((good_rot + 1))
	else echo "# cycle $cycle: rotation at $rs, acked $(cat "$T/rot.acked")"; fi
	# the worker continues from what the gateway holds
	for i in 0 1 2 3 4; do [ "${ROT_STATE[$i]}" = "$rs" ] && echo $(( (i + 1) % 5 )) > "$T/rot.i"; done
	[ "$rs" = none ] && echo 0 > "$T/rot.i"
	echo "$rs" > "$T/rot.acked"; echo "$rs" > "$T/rot.sent"
	echo "$st" > "$T/pause.acked"; echo "$st" > "$T/pause.sent"
done
a=$(wc -l < "$T/ans-alpha"); s=$(wc -l < "$T/ans-stream"); g=$(wc -l < "$T/ans-gamma")
echo "# $CYCLES kill -9 cycles: clients saw $a plain, $s streamed and $g gamma answers; $(sql 'select count(*) from audit') audit records ($(sql "select count(*) from audit where action = 'team.pause'") pauses, $(sql "select count(*) from audit where action = 'team.resume'") resumes, $(sql "select count(*) from audit where action = 'key.rotation.complete'") rotations completed)"
check "the load was real ($((a + s + g)) answered requests)" test $((a + s + g)) -ge $((CYCLES * 5))
check_eq "every answered request was in the ledger after each restart" "$CYCLES/$CYCLES" "$good_ledger/$CYCLES"
check_eq "nothing in the ledger that Groq did not serve" "$CYCLES/$CYCLES" "$good_phantom/$CYCLES"
check_eq "integrity_check ok after each restart" "$CYCLES/$CYCLES" "$good_integrity/$CYCLES"
check_eq "the acknowledged pause state survived each kill" "$CYCLES/$CYCLES" "$good_pause/$CYCLES"
check_eq "the acknowledged rotation step survived each kill" "$CYCLES/$CYCLES" "$good_rot/$CYCLES"
check "rotations went round (audit has rotation.complete)" test "$(sql "select count(*) from audit where action like 'key.rotation.complete%'")" -ge 1
check "and pauses and resumes ($(sql "select count(*) from audit where action in ('team.pause','team.resume')"))" \
	test "$(sql "select count(*) from audit where action in ('team.pause','team.resume')")" -ge "$CYCLES"
done_testing
