# Files and batches under the team's policy and budget: every line of an
# input file checked at upload (refused naming the line), caps written in,
# the batch reserved at the batch price when created (402 past the budget),
# followed to its end and settled from the output file's usage at the batch
# price, the reservation released on cancel, and kept across a restart;
# files and batches visible only to their team.
source "$(dirname "$0")/../lib.sh"
GW_EXTRA='billing = { batch_discount = 0.5; batch_poll_s = 1; };
model_aliases = ( { alias = "cheap"; model = "llama-3.1-8b-instant"; } );
limits = { max_files_per_team = 4; };'
setup_basic --completion-tokens 20
ATOK=$TOKEN
create_team beta
create_key beta-prod-api beta "$KEY2"
new_token beta
BTOK=$TOKEN
line() { # line CUSTOM_ID MODEL CONTENT [extra body json]
	printf '{"custom_id":"%s","method":"POST","url":"/v1/chat/completions","body":{"model":"%s","messages":[{"role":"user","content":"%s"}]%s}}\n' \
		"$1" "$2" "$3" "${4:+,$4}"
}
upload() { # upload FILE [TOKEN] [PURPOSE] -> STATUS, BODY
	STATUS=$(curl -s -o "$T/resp" -w '%{http_code}' -H "Authorization: Bearer ${2:-$ATOK}" \
		-F "purpose=${3:-batch}" -F "file=@$1;filename=batch.jsonl" "http://$GW/openai/v1/files")
	BODY=$(cat "$T/resp")
}
call() { # call METHOD PATH [JSON] [TOKEN]
	STATUS=$(curl -s -o "$T/resp" -w '%{http_code}' -X "$1" -H "Authorization: Bearer ${4:-$ATOK}" \
		${3:+-H 'Content-Type: application/json' --data-binary "$3"} "http://$GW$2")
	BODY=$(cat "$T/resp")
}
fake_files() { curl -s -H "Authorization: Bearer $KEY1" "http://$FAKE/openai/v1/files" | jq '.data | length'; }
reserved() { api GET "/admin/v1/teams/$1"; jq_body .reserved_usd; }

# ---- lines checked at upload, the whole file refused naming the line
{ line r1 llama-3.1-8b-instant "hello batch" '"max_tokens":50'; line r2 llama-3.3-70b-versatile "second line here"
  line r3 qwen/qwen3-32b "not allowed"; } > "$T/bad-model.jsonl"
upload "$T/bad-model.jsonl"
check_eq "a disallowed model on line 3: 403" "403|model_not_allowed" "$STATUS|$(jq_body .error.code)"
check_contains "naming the line and its custom_id" 'Batch line 3 (custom_id "r3")' "$(jq_body .error.message)"
{ line r1 llama-3.1-8b-instant "hi" '"max_tokens":5000'; } > "$T/bad-cap.jsonl"
upload "$T/bad-cap.jsonl"
check_eq "a cap over the team's: 400 naming the line" "400|max_tokens_exceeded|Batch line 1" \
	"$STATUS|$(jq_body .error.code)|$(jq_body .error.message | cut -c1-12)"
{ line r1 llama-3.1-8b-instant "hi" '"stream":true'; } > "$T/bad-stream.jsonl"
upload "$T/bad-stream.jsonl"
check_eq "a streaming line: 400" 400 "$STATUS"
printf '{"custom_id":"r1","method":"POST","url":"/v1/embeddings","body":{"model":"llama-3.1-8b-instant","input":"x"}}\n' > "$T/bad-url.jsonl"
upload "$T/bad-url.jsonl"
check_eq "a line for another endpoint: 400" 400 "$STATUS"
printf 'not json\n' > "$T/bad-json.jsonl"
upload "$T/bad-json.jsonl"
check_eq "a line that is not JSON: 400" "400|invalid_batch_line" "$STATUS|$(jq_body .error.code)"
{ line r1 llama-3.1-8b-instant "hi"; } > "$T/good1.jsonl"
# keys twice or in two letter cases, at any level: Groq may read another
# than the gateway checked (Go's decoder matches keys without case)
printf '{"custom_id":"r1","method":"POST","url":"/v1/chat/completions","body":{"model":"llama-3.1-8b-instant","MODEL":"qwen/qwen3-32b","messages":[]}}\n' > "$T/twin1.jsonl"
upload "$T/twin1.jsonl"
check_eq "\"model\" and \"MODEL\" in one line: 400" "400|invalid_batch_line" "$STATUS|$(jq_body .error.code)"
check_contains "naming the key" "the key 'model' appears in two letter cases" "$(jq_body .error.message)"
printf '{"custom_id":"r1","method":"POST","url":"/v1/chat/completions","body":{"model":"llama-3.1-8b-instant","max_tokens":10,"Max_Tokens":100000,"messages":[]}}\n' > "$T/twin2.jsonl"
upload "$T/twin2.jsonl"
check_eq "\"max_tokens\" and \"Max_Tokens\": 400" 400 "$STATUS"
printf '{"custom_id":"r1","method":"POST","url":"/v1/chat/completions","body":{"model":"llama-3.1-8b-instant","messages":[]},"Body":{"model":"qwen/qwen3-32b"}}\n' > "$T/twin3.jsonl"
upload "$T/twin3.jsonl"
check_eq "a second \"Body\": 400" 400 "$STATUS"
printf '{"custom_id":"r1","method":"POST","url":"/v1/chat/completions","url":"/v1/embeddings","body":{"model":"llama-3.1-8b-instant","messages":[]}}\n' > "$T/twin4.jsonl"
upload "$T/twin4.jsonl"
check_eq "\"url\" twice: 400" "400|invalid_batch_line" "$STATUS|$(jq_body .error.code)"
printf '{"custom_id":"r1","method":"POST","url":"/v1/chat/completions","body":{"model":"llama-3.1-8b-instant","messages":[{"role":"user","content":"x","Content":"y"}]}}\n' > "$T/twin5.jsonl"
upload "$T/twin5.jsonl"
check_eq "a case twin deep in a message: 400" 400 "$STATUS"
upload "$T/good1.jsonl" "$ATOK" fine-tune
check_eq "a purpose other than batch: 403" "403|purpose_not_governed" "$STATUS|$(jq_body .error.code)"
check_eq "no refused file reached Groq" 0 "$(fake_files)"

# ---- a good file: uploaded, the team's cap written into the line without one
{ line r1 llama-3.1-8b-instant "hello batch" '"max_tokens":50'; line r2 llama-3.3-70b-versatile "second line here"; } > "$T/good.jsonl"
upload "$T/good.jsonl"
check_eq "uploaded" "200|batch" "$STATUS|$(jq_body .purpose)"
FILE=$(jq_body .id)
call GET "/openai/v1/files/$FILE/content"
check_eq "the content Groq holds: line 2 got the team's cap" 100 "$(sed -n 2p "$T/resp" | jq .body.max_completion_tokens)"
check_eq "line 1 kept its own" 50 "$(sed -n 1p "$T/resp" | jq .body.max_tokens)"

# ---- another team sees nothing of it
call GET /openai/v1/files "" "$BTOK"
check_eq "beta's list: empty (Groq's list has alpha's file)" "200|0|1" "$STATUS|$(jq_body '.data | length')|$(fake_files)"
for r in "GET /openai/v1/files/$FILE" "GET /openai/v1/files/$FILE/content" "DELETE /openai/v1/files/$FILE"; do
	call ${r%% *} "${r#* }" "" "$BTOK"
	check_eq "beta: $r is 404" "404|not_found" "$STATUS|$(jq_body .error.code)"
done
call POST /openai/v1/batches "{\"input_file_id\":\"$FILE\",\"endpoint\":\"/v1/chat/completions\",\"completion_window\":\"24h\"}" "$BTOK"
check_eq "beta cannot batch alpha's file" "404|not_found" "$STATUS|$(jq_body .error.code)"
# beta's own file last, alpha's first: checked on one, Groq reading the other
{ line b1 llama-3.1-8b-instant "beta's line"; } > "$T/beta.jsonl"
upload "$T/beta.jsonl" "$BTOK"
BFILE=$(jq_body .id)
nb0=$(curl -s -H "Authorization: Bearer $KEY1" "http://$FAKE/openai/v1/batches" | jq '.data | length')
call POST /openai/v1/batches "{\"input_file_id\":\"$FILE\",\"input_file_id\":\"$BFILE\",\"endpoint\":\"/v1/chat/completions\",\"completion_window\":\"24h\"}" "$BTOK"
check_eq "input_file_id twice (another team's first): 400" "400|invalid_json" "$STATUS|$(jq_body .error.code)"
call POST /openai/v1/batches "{\"Input_File_Id\":\"$FILE\",\"input_file_id\":\"$BFILE\",\"endpoint\":\"/v1/chat/completions\",\"completion_window\":\"24h\"}" "$BTOK"
check_eq "Input_File_Id beside input_file_id: 400" "400|duplicate_key" "$STATUS|$(jq_body .error.code)"
check_eq "neither reached Groq" "$nb0" "$(curl -s -H "Authorization: Bearer $KEY1" "http://$FAKE/openai/v1/batches" | jq '.data | length')"
call GET /openai/v1/files
check_eq "alpha's list has it" "$FILE" "$(jq_body '.data[0].id')"
# lists made anew from the kept entries: Groq's first_id / last_id (the
# organisation's: another team's file) never pass through
check_eq "Groq's own list is the organisation's (both files)" 2 \
	"$(curl -s -H "Authorization: Bearer $KEY1" "http://$FAKE/openai/v1/files" | jq '.data | length')"
call GET /openai/v1/files "" "$BTOK"
check_eq "beta's list: its file only, first_id and last_id its own" "1|$BFILE|$BFILE|false" \
	"$(jq_body '"\(.data | length)|\(.first_id)|\(.last_id)|\(.has_more)"')"
check_not_contains "alpha's file id is nowhere in beta's list" "$FILE" "$BODY"
curl -s -o /dev/null -X POST "http://$FAKE/_fake/faults" -d '{"list_broken":1}'
call GET /openai/v1/files "" "$BTOK"
check_eq "a list answer without a data array: 502, nothing passed on" "502|upstream_answer_unfilterable" \
	"$STATUS|$(jq_body .error.code)"
check_not_contains "Groq's body withheld" "no data here" "$BODY"
call GET /openai/v1/batches "" "$BTOK"
check_eq "the same for batches" 502 "$STATUS"
curl -s -o /dev/null -X DELETE "http://$FAKE/_fake/faults"

# ---- a batch: reserved at the batch price, settled from its output
call POST /openai/v1/batches "{\"input_file_id\":\"$FILE\",\"endpoint\":\"/v1/chat/completions\",\"completion_window\":\"24h\"}"
check_eq "batch created" "200|batch" "$STATUS|$(jq_body .object)"
BATCH=$(jq_body .id)
r=$(reserved alpha)
check "its worst case is reserved" awk -v r="$r" 'BEGIN { exit !(r > 0) }'
call GET /openai/v1/batches "" "$BTOK"
check_eq "beta does not see it" 0 "$(jq_body '.data | length')"
call GET "/openai/v1/batches/$BATCH" "" "$BTOK"
check_eq "nor get it" 404 "$STATUS"
wait_eval "the batch settled" 15 '[ "$(sql "select count(*) from ledger where route = '"'"'batches'"'"' and team = '"'"'alpha'"'"'")" = 1 ]'
# fakegroq: prompt 10 and 11 tokens, 20 out each; 8b 0.05/0.08, 70b 0.59/0.79 per Mtok; half price
check_eq "settled at the batch price from the output's usage" "12195|21|40|200|$BATCH" \
	"$(sql "select cost_nusd||'|'||prompt_tokens||'|'||completion_tokens||'|'||status||'|'||request_id from ledger where route = 'batches'")"
check_eq "the reservation is released" 0 "$(reserved alpha)"
api GET /admin/v1/teams/alpha
check_eq "the spend is the team's (nano-dollars)" 12195 "$(jq_body '.spend_mtd_usd * 1000000000 | round')"
call GET /openai/v1/files
check_eq "the output file is alpha's" 2 "$(jq_body '.data | length')"
OUT=$(jq_body '[.data[] | select(.purpose == "batch_output")][0].id')
call GET "/openai/v1/files/$OUT/content" "" "$BTOK"
check_eq "and beta cannot read it" 404 "$STATUS"

# ---- a batch past the budget: 402, never created at Groq
api PATCH /admin/v1/teams/alpha '{"monthly_budget_usd":0.00002}'
nb=$(curl -s -H "Authorization: Bearer $KEY1" "http://$FAKE/openai/v1/batches" | jq '.data | length')
call POST /openai/v1/batches "{\"input_file_id\":\"$FILE\",\"endpoint\":\"/v1/chat/completions\",\"completion_window\":\"24h\"}"
check_eq "a batch whose worst case passes the budget: 402" "402|budget_exceeded" "$STATUS|$(jq_body .error.code)"
check_eq "not sent to Groq" "$nb" "$(curl -s -H "Authorization: Bearer $KEY1" "http://$FAKE/openai/v1/batches" | jq '.data | length')"
api PATCH /admin/v1/teams/alpha '{"monthly_budget_usd":100}'

# a body on a route that takes none is refused, not passed on: only a
# cancel's empty object (as SDKs send it) is taken (asked of the settled
# batch while none is open: no poll of the gateway's reaches Groq meanwhile)
n0=$(curl -s "http://$FAKE/_fake/stats" | jq .total.requests)
call GET "/openai/v1/batches/$BATCH" '{"model":"openai/gpt-oss-120b","max_tokens":99999}'
check_eq "a batch read with a body: 400, takes no body" "400|invalid_request" "$STATUS|$(jq_body .error.code)"
call POST "/openai/v1/batches/$BATCH/cancel" '{"model":"openai/gpt-oss-120b"}'
check_eq "a cancel with a body other than {}: 400" "400|invalid_request" "$STATUS|$(jq_body .error.code)"
check_eq "neither reached Groq" "$n0" "$(curl -s "http://$FAKE/_fake/stats" | jq .total.requests)"

# ---- cancelled: everything released
curl -s -o /dev/null -X POST --data-binary '{"batch_ms":1500}' "http://$FAKE/_fake/faults"
call POST /openai/v1/batches "{\"input_file_id\":\"$FILE\",\"endpoint\":\"/v1/chat/completions\",\"completion_window\":\"24h\"}"
B2=$(jq_body .id)
call POST "/openai/v1/batches/$B2/cancel" ' { } '
check_eq "cancel passes for the team's batch (an empty object for a body)" "200|cancelling" "$STATUS|$(jq_body .status)"
wait_eval "the cancelled batch settled" 15 '[ "$(sql "select count(*) from ledger where request_id = '"'"'$B2'"'"'")" = 1 ]'
check_eq "nothing charged, all released" "0|499|0" "$(sql "select cost_nusd||'|'||status from ledger where request_id = '$B2'")|$(reserved alpha)"

# ---- an open batch across a restart: its reservation held again, then settled
curl -s -o /dev/null -X POST --data-binary '{"batch_ms":4000}' "http://$FAKE/_fake/faults"
call POST /openai/v1/batches "{\"input_file_id\":\"$FILE\",\"endpoint\":\"/v1/chat/completions\",\"completion_window\":\"24h\"}"
B3=$(jq_body .id)
r3=$(reserved alpha)
stop_gateway
start_gateway
check_eq "the open batch's reservation is held after a restart" "$r3" "$(reserved alpha)"
wait_eval "the batch settled after the restart" 20 '[ "$(sql "select count(*) from ledger where request_id = '"'"'$B3'"'"'")" = 1 ]'
check_eq "settled once, at the batch price" "12195|0" "$(sql "select cost_nusd from ledger where request_id = '$B3'")|$(reserved alpha)"

# ---- a hostile Groq's output: each line billed by the model the gateway
# checked in the input line of its custom_id (the file's index, kept
# across the restart above), a line without valid usage at its worst case
hostile() { # hostile MODE -> settles a batch under the fault; BH = its id
	curl -s -o /dev/null -X DELETE "http://$FAKE/_fake/faults"
	curl -s -o /dev/null -X POST --data-binary "{\"batch_hostile\":$1}" "http://$FAKE/_fake/faults"
	call POST /openai/v1/batches "{\"input_file_id\":\"$FILE\",\"endpoint\":\"/v1/chat/completions\",\"completion_window\":\"24h\"}"
	BH=$(jq_body .id)
	wait_eval "batch $BH settled" 15 '[ "$(sql "select count(*) from ledger where request_id = '"'"'$BH'"'"'")" = 1 ]'
	BH_COST=$(sql "select cost_nusd from ledger where request_id = '$BH'")
	BH_RES=$(sql "select reserved_nusd from batches where id = '$BH'")
}
alerts_invalid() { api GET /admin/v1/alerts; jq_body '[.alerts[] | select(.kind == "upstream_usage_invalid")] | length'; }
a0=$(alerts_invalid)
hostile 1
check "lines without usage: charged their worst case, the whole reservation ($BH_COST of $BH_RES), not \$0" test "$BH_COST" = "$BH_RES" -a "$BH_COST" -gt 0
check_eq "... with an upstream_usage_invalid alert" $((a0 + 1)) "$(alerts_invalid)"
hostile 2
check "a usage of 1e30 (a float): charged the worst case ($BH_COST of $BH_RES), not 1 token" test "$BH_COST" = "$BH_RES"
hostile 3
check_eq "a model id nobody prices in the output: priced as the model checked in its line" 12195 "$BH_COST"
hostile 4
check_eq "a line for a custom_id not in the input: not charged, the others as usual" 12195 "$BH_COST"
check_eq "... alerted (the output without usage, with 1e30, with a line of its own)" $((a0 + 3)) "$(alerts_invalid)"
check_eq "every reservation released" 0 "$(reserved alpha)"
curl -s -o /dev/null -X DELETE "http://$FAKE/_fake/faults"
# uploads count against the team's RPM (refused before their lines are
# read), and a team holds at most limits.max_files_per_team files
api POST /admin/v1/teams '{"id":"up","name":"up","allowed_models":["llama-3.1-8b-instant"],"max_tokens_per_request":100,"rpm_limit":3,"monthly_budget_usd":10}'
create_key up-prod-api up "$KEY3"
new_token up
UTOK=$TOKEN
{ line u1 llama-3.1-8b-instant "up"; } > "$T/up.jsonl"
codes=""
for i in 1 2 3 4; do upload "$T/up.jsonl" "$UTOK"; codes="$codes $STATUS"; done
check_eq "uploads count against the team's RPM (limit 3): the 4th is 429" " 200 200 200 429" "$codes"
check_eq "in Groq's shape" "requests|rate_limit_exceeded" "$(jq_body '"\(.error.type)|\(.error.code)"')"
api PATCH /admin/v1/teams/up '{"rpm_limit":100}'
upload "$T/up.jsonl" "$UTOK"
check_eq "a 4th file" 200 "$STATUS"
upload "$T/up.jsonl" "$UTOK"
check_eq "past limits.max_files_per_team (4): 403 too_many_files" "403|too_many_files" "$STATUS|$(jq_body .error.code)"
call GET /openai/v1/files "" "$UTOK"
call DELETE "/openai/v1/files/$(jq_body '.data[0].id')" "" "$UTOK"
upload "$T/up.jsonl" "$UTOK"
check_eq "one deleted: room for one more" 200 "$STATUS"
# a client that hangs up while Groq deletes its file: the gateway stays up
# and the file no longer counts against the team (Groq deleted it)
call GET /openai/v1/files "" "$UTOK"
gone=$(jq_body '.data[0].id')
curl -s -o /dev/null -X POST -d '{"latency_ms":400}' "http://$FAKE/_fake/faults"
curl -s -o /dev/null --max-time 0.1 -X DELETE -H "Authorization: Bearer $UTOK" "http://$GW/openai/v1/files/$gone"
wait_for "Groq to delete $gone" 5 bash -c "! curl -s -H 'Authorization: Bearer $KEY3' http://$FAKE/openai/v1/files | grep -q '$gone'"
curl -s -o /dev/null -X DELETE "http://$FAKE/_fake/faults"
check "a client that left during its file's deletion does not take the gateway down" curl -sf --max-time 2 "http://$GW/healthz"
upload "$T/up.jsonl" "$UTOK"
check_eq "... and the deleted file no longer counts: room for one more" 200 "$STATUS"
# a custom_id twice in one file: refused (its bill could not be matched)
{ line same llama-3.1-8b-instant "one"; line same llama-3.1-8b-instant "two"; } > "$T/twice.jsonl"
upload "$T/twice.jsonl"
check_eq "a custom_id twice: 400 naming line 2" "400|Batch line 2" "$STATUS|$(jq_body .error.message | cut -c1-12)"

# ---- a large file is checked a slice at a time (16 KiB a turn of the
# loop): every line of a 3.5 MB file, one bad line at its end found by number
api PATCH /admin/v1/teams/up '{"rpm_limit":1000}'
for f in $(call GET /openai/v1/files "" "$UTOK"; jq_body '.data[].id'); do call DELETE "/openai/v1/files/$f" "" "$UTOK"; done
# ---- an alias in a line: checked as the model it names, sent as it
{ line al1 cheap "by role"; } > "$T/alias.jsonl"
upload "$T/alias.jsonl" "$UTOK"
check_eq "a line naming an alias is accepted" 200 "$STATUS"
check_contains "... and Groq gets the model it names" '"model":"llama-3.1-8b-instant"' \
	"$(curl -s -H "Authorization: Bearer $KEY3" "http://$FAKE/openai/v1/files/$(jq_body .id)/content")"
call DELETE "/openai/v1/files/$(jq_body .id)" "" "$UTOK"
pad=$(head -c 120 /dev/zero | tr '\0' x)
awk -v pad="$pad" 'BEGIN { for (i = 1; i <= 12000; i++) printf "{\"custom_id\":\"big-%d\",\"method\":\"POST\",\"url\":\"/v1/chat/completions\",\"body\":{\"model\":\"llama-3.1-8b-instant\",\"max_tokens\":10,\"messages\":[{\"role\":\"user\",\"content\":\"%s %d\"}]}}\n", i, pad, i }' > "$T/big.jsonl"
echo "# a batch file of $(wc -c < "$T/big.jsonl") bytes, $(wc -l < "$T/big.jsonl") lines"
upload "$T/big.jsonl" "$UTOK"
check_eq "a 3.5 MB file ($(( $(wc -c < "$T/big.jsonl") / 16384 + 1 )) slices) uploaded whole" 200 "$STATUS"
check_eq "... every line checked and passed on" 12000 \
	"$(curl -s -H "Authorization: Bearer $KEY3" "http://$FAKE/openai/v1/files/$(jq_body .id)/content" | grep -c '"custom_id":"big-')"
cp "$T/big.jsonl" "$T/big-bad.jsonl"
line last qwen/qwen3-32b "not allowed" >> "$T/big-bad.jsonl"
upload "$T/big-bad.jsonl" "$UTOK"
check_eq "a bad line at the end of a large file: refused naming line 12001" "403|Batch line 12001" "$STATUS|$(jq_body .error.message | cut -c1-16)"
# clients that hang up while their lines are checked: nothing reaches Groq
before=$(curl -s "http://$FAKE/_fake/stats" | jq .total.requests)
for ms in 20 40 60 80; do
	curl -s -o /dev/null --max-time "0.0$((ms / 10))" -H "Authorization: Bearer $UTOK" -F "purpose=batch" \
		-F "file=@$T/big.jsonl;filename=b.jsonl" "http://$GW/openai/v1/files"
done
echo "# hang-ups recorded while checked (499): $(sql "select count(*) from ledger where team = 'up' and status = 499")"
check_eq "clients that hung up: nothing of theirs sent to Groq" "$before" "$(curl -s "http://$FAKE/_fake/stats" | jq .total.requests)"
upload "$T/up.jsonl" "$UTOK"
check_eq "the gateway serves on" 200 "$STATUS"
done_testing
