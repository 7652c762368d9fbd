# Chaos: Groq failing in every way fakegroq can, clients that stall or
# vanish at every stage, a store that fills up or is locked by another
# process. For each: the right status, no crash, no reservation left
# behind, and the ledger agreeing with what fakegroq says it served.
source "$(dirname "$0")/../lib.sh"
# under ASan (make asan) freed memory sits in a quarantine, 256 MiB by
# default, which would read as growth in the RSS checks below
export ASAN_OPTIONS=${ASAN_OPTIONS:-quarantine_size_mb=4}
start_fakegroq --chunk-delay-ms 0 --completion-tokens 60000 --tpm 100000000 --rpd 100000000
write_gateway_config 'limits = { client_timeout_s = 2; shutdown_grace_ms = 60000; };
alerts = { upstream_429_storm = 5; };'
sed -i 's/timeout_ms = 5000;/timeout_ms = 1500;/' "$T/gw.conf"
# stderr through a pipe: a file-size limit on the gateway must not hide it
"$BIN/groqgated" --config "$T/gw.conf" > "$T/gw.addr" 2> >(cat > "$T/groqgated-stderr.log") &
GW_PID=$!
PIDS="$PIDS $GW_PID"
GW=$(first_line "$T/gw.addr") || { fail "groqgated did not start"; exit 1; }
create_team alpha '"max_tokens_per_request":20'
create_key alpha-prod-api alpha "$KEY1"
new_token alpha
ATOK=$TOKEN
create_team big '"max_tokens_per_request":60000'
create_key big-prod-api big "$KEY2"
new_token big
BTOK=$TOKEN
create_team qq '"rpm_limit":1,"rpm_mode":"queue","queue_max_wait_ms":5000,"max_tokens_per_request":20'
create_key qq-prod-api qq "$KEY3"
new_token qq
QTOK=$TOKEN

fault() { curl -s -X POST "http://$FAKE/_fake/faults" -d "$1" > /dev/null; }
clear_faults() { curl -s -X DELETE "http://$FAKE/_fake/faults" > /dev/null; }
health() { curl -s -o /dev/null -w '%{http_code}' "http://$GW/healthz"; }
settled() { # no request in flight, no budget reserved
	wait_eval "in-flight requests to settle" 10 \
		'[ "$(metric groqgate_inflight_requests)" = 0 ] && [ "$(metric groqgate_reserved_usd)" = 0.000000000 ]'
}
check_settled() {
	settled
	check_eq "$1: nothing in flight" 0 "$(metric groqgate_inflight_requests)"
	check_eq "$1: no budget left reserved" 0.000000000 "$(metric groqgate_reserved_usd)"
	check "$1: the gateway is alive" kill -0 "$GW_PID"
}
# the ledger's tokens for a key agree with fakegroq's count
reconcile() { # reconcile "what" key-fingerprint
	local led fake
	# (rows whose usage never came are charged their reservation, or for a
	# client gone mid-stream what it was sent: not what fakegroq counts
	# (nothing, for a cut stream), so counted apart)
	led=$(sql "select coalesce(sum(completion_tokens),0) from ledger where key_fp='$2' and coalesce(reason,'') not in
		('upstream_stream_cut','upstream_timeout','upstream_idle_timeout','upstream_answer_too_large')
		and not (coalesce(reason,'') = 'client_closed' and stream = 1)")
	fake=$(fstat "$2" completion_tokens)
	check_eq "$1: ledger tokens = fakegroq's ($fake)" "$fake" "$led"
}
FP1='gsk_…0001'
FP2='gsk_…0002'
FP3='gsk_…0003'
chatq() { # chatq TOKEN [extra json] -> HTTP status only
	curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $1" -H 'Content-Type: application/json' \
		-d "{\"model\":\"llama-3.1-8b-instant\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]${2:+,$2}}" \
		"http://$GW/openai/v1/chat/completions"
}
check_eq "served before any fault" 200 "$(chatq "$ATOK")"

# ---- upstream 500 and 503: passed through, each one in the ledger
fault '{"error_rate":1.0,"error_status":500}'
check_eq "Groq's 500 reaches the client" 500 "$(chatq "$ATOK")"
fault '{"error_rate":1.0,"error_status":503}'
check_eq "Groq's 503 reaches the client" 503 "$(chatq "$ATOK")"
fault '{"error_rate":0.5,"error_status":503}'
for i in $(seq 1 30); do chatq "$ATOK"; echo; done > "$T/mixed"
clear_faults
check "a 50 % error rate: both outcomes seen" bash -c "grep -q 200 '$T/mixed' && grep -q 503 '$T/mixed'"
check_eq "and nothing else" "" "$(grep -v -e 200 -e 503 "$T/mixed")"
check_eq "every answer of the run is in the ledger" 30 \
	"$(sql "select count(*) from (select * from ledger where team='alpha' order by id desc limit 30) where status in (200,503)")"
check_settled "after upstream errors"
reconcile "after upstream errors" "$FP1"

# ---- streams cut mid-way, and a Groq that hangs
fault '{"cut_stream_after":3}'
curl -sN -H "Authorization: Bearer $ATOK" -d '{"model":"llama-3.1-8b-instant","stream":true,"messages":[{"role":"user","content":"x"}]}' \
	"http://$GW/openai/v1/chat/completions" > "$T/cut"
check_not_contains "a cut stream is cut for the client (no [DONE])" "[DONE]" "$(cat "$T/cut")"
check_eq "recorded as upstream_stream_cut" 1 "$(sql "select count(*) from ledger where reason='upstream_stream_cut'")"
fault '{"cut_stream_after":-1,"hang":true}'
check_eq "a hanging Groq: 504 after upstream.timeout_ms" 504 "$(chatq "$ATOK")"
check_eq "a hanging Groq, streamed: 504 too" 504 "$(chatq "$ATOK" '"stream":true')"
clear_faults
check_settled "after cuts and hangs"

# ---- a 429 storm: passed through with Groq's Retry-After; one alert
fault '{"rate_limit":true}'
for i in $(seq 1 8); do chatq "$ATOK"; echo; done > "$T/storm"
check_eq "every request in the storm gets Groq's 429" 8 "$(grep -c 429 "$T/storm")"
clear_faults
api GET /admin/v1/alerts
check_eq "one upstream_429_storm alert (threshold 5 per minute)" 1 \
	"$(jq_body '[.alerts[] | select(.kind == "upstream_429_storm")] | length')"
check_contains "it names the key" alpha-prod-api "$(jq_body '.alerts[] | select(.kind == "upstream_429_storm") | .message')"
check_not_contains "and never its secret" "$KEY1" "$BODY"
# Groq's retry-after (12 s) holds the model for every team: refused
# without a round trip to Groq until it passes, then served again
n_held=$(fstat "$FP1" requests)
check_eq "held while Groq's retry-after runs, even after Groq recovered" 429 "$(chatq "$ATOK")"
check_eq "the held request did not reach Groq" "$n_held" "$(fstat "$FP1" requests)"
wait_eval "Groq's retry-after to pass" 15 '[ "$(chatq "$ATOK")" = 200 ]'
check_eq "served again once Groq's retry-after passed" 200 "$(chatq "$ATOK")"
check_settled "after a 429 storm"

# ---- clients that read nothing: the upstream is paused, memory stays flat
rss0=$(rss_kb "$GW_PID")
SLOW=""
for i in $(seq 1 8); do
	( exec 3<>"/dev/tcp/127.0.0.1/${GW##*:}"
	  body='{"model":"llama-3.1-8b-instant","stream":true,"messages":[{"role":"user","content":"x"}]}'
	  printf 'POST /openai/v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s' \
		"$BTOK" "${#body}" "$body" >&3
	  exec sleep 60 ) 2>/dev/null &
	SLOW="$SLOW $!"
done
# each stream is 60,000 tokens (~12 MB): wait until the gateway has paused
# all 8 transfers from Groq, then see what they cost
wait_eval "the 8 streams to be paused" 20 '[ "$(metric groqgate_streams_paused)" = 8 ]'
check_eq "all 8 upstream transfers are paused (backpressure)" 8 "$(metric groqgate_streams_paused)"
rss1=$(rss_kb "$GW_PID")
check "8 clients reading nothing of 12 MB streams: RSS grew $(( (rss1 - rss0) / 1024 )) MiB (< 24)" test $((rss1 - rss0)) -lt 24576
check_eq "their streams are held open (not finished behind their backs)" 8 "$(metric groqgate_inflight_requests)"
check_eq "others are served meanwhile" 200 "$(chatq "$ATOK")"
kill $SLOW 2>/dev/null
wait $SLOW 2>/dev/null
check_settled "after the non-reading clients left"
check_eq "each is recorded as client_closed" 8 "$(sql "select count(*) from ledger where team='big' and reason='client_closed'")"

# ---- clients that disconnect at every stage
port=${GW##*:}
raw() { # raw "bytes" : send and hang up
	( exec 3<>"/dev/tcp/127.0.0.1/$port"; printf "$1" >&3; exec 3>&- ) 2>/dev/null
}
raw 'POST /openai/v1/chat/com'
raw 'POST /openai/v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthori'
raw "POST /openai/v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer $ATOK\r\nContent-Length: 200\r\n\r\n{\"model\":"
check_eq "hang-ups during the request line, headers and body: still healthy" 200 "$(health)"
n_before=$(fstat "$FP1" requests)
# while waiting for Groq's answer
fault '{"latency_ms":1000}'
curl -s -m 0.4 -o /dev/null -H "Authorization: Bearer $ATOK" -d '{"model":"llama-3.1-8b-instant","messages":[{"role":"user","content":"x"}]}' \
	"http://$GW/openai/v1/chat/completions"
check_settled "a client gone while Groq thinks"
check_eq "Groq's answer, which nobody reads, is metered all the same (client_closed, 20 tokens)" 1 \
	"$(sql "select count(*) from ledger where team='alpha' and reason='client_closed' and stream=0 and completion_tokens=20")"
clear_faults
# mid-stream
fault '{"chunk_delay_ms":50}'
curl -sN -m 0.5 -o /dev/null -H "Authorization: Bearer $ATOK" -d '{"model":"llama-3.1-8b-instant","stream":true,"messages":[{"role":"user","content":"x"}]}' \
	"http://$GW/openai/v1/chat/completions"
check_settled "a client gone mid-stream"
clear_faults
check_eq "both reached Groq" 2 "$(( $(fstat "$FP1" requests) - n_before ))"
# in the RPM queue: the first request takes the minute's only slot
check_eq "queue team: the first request is served" 200 "$(chatq "$QTOK")"
curl -s -m 0.5 -o /dev/null -H "Authorization: Bearer $QTOK" -d '{"model":"llama-3.1-8b-instant","messages":[{"role":"user","content":"x"}]}' \
	"http://$GW/openai/v1/chat/completions"
check_settled "a client gone while queued"
check_eq "the queued request never reached Groq" 1 "$(fstat "$FP3" requests)"
check_eq "and is recorded as client_closed, when it left" 1 \
	"$(sql "select count(*) from ledger where team='qq' and reason='client_closed' and latency_ms < 4000")"
reconcile "after every kind of hang-up" "$FP1"

# ---- a full disk: requests refused, not served unmetered; nothing lost.
# The journal takes rows into the space it has allocated (64 KiB at a
# time, some of it used already); a full disk shows when it must allocate
# more: requests with long end-user names fill it while a stream is under
# way, and the stream ends after the disk is full
fault '{"chunk_delay_ms":700,"latency_ms":0}'
curl -sN -H "Authorization: Bearer $ATOK" -d '{"model":"llama-3.1-8b-instant","stream":true,"max_tokens":8,"messages":[{"role":"user","content":"x"}]}' \
	"http://$GW/openai/v1/chat/completions" > "$T/s-full" &
S1=$!
wait_for "the stream to start" 5 grep -q '^data:' "$T/s-full"
prlimit --pid "$GW_PID" --fsize=1:   # the soft limit: the files cannot grow
FILLER=$(printf 'filler-%0250d' 0)
fill_ok=0 fill_refused=0
for i in $(seq 1 20); do # 50 requests on one connection a round, at most 1,000
	codes=$(curl -s -o /dev/null -w '%{http_code}\n' -H "Authorization: Bearer $ATOK" \
		-d "{\"model\":\"llama-3.1-8b-instant\",\"max_tokens\":8,\"user\":\"$FILLER\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}" \
		$(for k in $(seq 1 50); do printf 'http://%s/openai/v1/chat/completions ' "$GW"; done))
	fill_ok=$((fill_ok + $(grep -c '^200$' <<< "$codes")))
	fill_refused=$((fill_refused + $(grep -c '^503$' <<< "$codes")))
	[ "$(health)" = 503 ] && break
done
check_eq "the journal took rows while it had room ($fill_ok), then refused ($fill_refused): /healthz" 503 "$(health)"
check "the stream was still under way then" kill -0 "$S1"
wait "$S1"
clear_faults
served0=$(fstat "$FP1" requests)
check_not_contains "a stream ending while the disk is full gets no [DONE]" "[DONE]" "$(cat "$T/s-full")"
check_contains "but an error event saying why" store_unavailable "$(cat "$T/s-full")"
check_eq "/healthz says the store is unavailable (503)" 503 "$(health)"
check_contains "and why" "store_error" "$(curl -s "http://$GW/healthz")"
chat "$ATOK" llama-3.1-8b-instant
check_eq "a request while the disk is full: 503" 503 "$STATUS"
check_eq "code store_unavailable" store_unavailable "$(jq_body .error.code)"
check_eq "streamed too" 503 "$(chatq "$ATOK" '"stream":true')"
check_eq "refused before reaching Groq" 0 "$(( $(fstat "$FP1" requests) - served0 ))"
check_eq "metrics: store down" 0 "$(metric groqgate_store_up)"
api POST /admin/v1/teams/alpha/pause '{"reason":"disk full test"}'
check_eq "an admin change while the disk is full: 503" 503 "$STATUS"
api GET /admin/v1/teams/alpha
check_eq "and nothing changed in memory either" active "$(jq_body .state)"
prlimit --pid "$GW_PID" --fsize=unlimited:
wait_eval "the store to be writable again" 5 '[ "$(health)" = 200 ]'
check_eq "the disk has room again: /healthz 200" 200 "$(health)"
check_eq "and requests are served" 200 "$(chatq "$ATOK")"
check_eq "the rows kept while down were written" 0 "$(metric groqgate_ledger_pending_rows)"
check_eq "the withheld stream is in the ledger, with its tokens" 8 \
	"$(sql "select completion_tokens from ledger where team='alpha' and reason='store_unavailable' and stream = 1 and completion_tokens > 0")"
check_eq "the refusals too: one row for each 503 (2, the filling's $fill_refused and the stream)" "$((fill_refused + 3))" \
	"$(sql "select count(*) from ledger where team='alpha' and reason='store_unavailable'")"
check_eq "and the filling's answers served" "$fill_ok" "$(sql "select count(*) from ledger where team='alpha' and end_user = '$FILLER' and status = 200")"
check_settled "after a full disk"
reconcile "after a full disk" "$FP1"

# ---- SQLite busy: another process holds the write lock. Answers are
# journaled, so requests are still served; their rows wait in the journal
# and reach the store once the lock is released. Admin changes, which are
# in the store before they are answered, get 503.
served0=$(fstat "$FP1" requests)
rows0=$(sql "select count(*) from ledger")
mkfifo "$T/lock"
sqlite3 "$T/gw.db" < "$T/lock" > /dev/null 2>&1 &
LOCKER=$!
exec 5> "$T/lock"
echo 'BEGIN IMMEDIATE;' >&5
locked() { ! sqlite3 "$T/gw.db" 'pragma busy_timeout=0; begin immediate; rollback;' > /dev/null 2>&1; }
wait_for "the other process to hold the lock" 5 locked
check_eq "a request while the store is locked: served (its row waits in the journal)" 200 "$(chatq "$ATOK")"
wait_eval "the gateway to find the store locked" 5 '[ "$(metric groqgate_store_up)" = 0 ]'
check_eq "metrics: store not taking writes" 0 "$(metric groqgate_store_up)"
check_eq "/healthz stays 200: requests are served" 200 "$(health)"
curl -s "http://$GW/healthz" > "$T/h-locked"
check_eq "and says degraded" degraded "$(jq -r .status "$T/h-locked")"
check_contains "and why" "locked" "$(jq -r .store_error "$T/h-locked")"
check_eq "later requests: served too" 200 "$(chatq "$ATOK" '"stream":true')"
check_eq "both rows wait in the journal" 2 "$(metric groqgate_ledger_journal_rows)"
check_eq "not in the store yet" "$rows0" "$(sqlite3 "$T/gw.db" "select count(*) from ledger")"
api POST /admin/v1/teams/alpha/pause '{"reason":"lock test"}'
check_eq "an admin change while locked: 503" 503 "$STATUS"
check_eq "code store_unavailable" store_unavailable "$(jq_body .error.code)"
echo 'COMMIT;' >&5
exec 5>&-
wait "$LOCKER"
wait_eval "the journal to reach the store" 5 '[ "$(metric groqgate_ledger_journal_rows)" = 0 ] && [ "$(health)" = 200 ]'
check_eq "lock released: both rows are in the ledger" $((rows0 + 2)) "$(sql "select count(*) from ledger")"
check_eq "with their tokens" 2 "$(sql "select count(*) from (select * from ledger order by id desc limit 2) where status = 200 and completion_tokens > 0")"
check_eq "/healthz ok again" ok "$(curl -s "http://$GW/healthz" | jq -r .status)"
check_eq "served again" 200 "$(chatq "$ATOK")"
check_eq "Groq saw all three" 3 "$(( $(fstat "$FP1" requests) - served0 ))"
check_settled "after a locked store"
reconcile "after a locked store" "$FP1"
reconcile "big's slow streams" "$FP2"

check_eq "the store is intact" ok "$(sql 'pragma integrity_check')"
# every reply above is finished or abandoned (cut streams, clients gone):
# SIGTERM finds nothing owed and exits, not waiting out its 60 s grace
t0=$(date +%s)
stop_gateway
check_eq "stopped after all that: exit 0" 0 "$GW_RC"
check "without waiting out the grace period ($(( $(date +%s) - t0 )) s of 60)" test $(( $(date +%s) - t0 )) -lt 30
start_gateway

# ---- the journal across crashes
J="$T/gw.db-ledger"
hold_lock() { # another process takes the store's write lock
	rm -f "$T/lock2"
	mkfifo "$T/lock2"
	sqlite3 "$T/gw.db" < "$T/lock2" > /dev/null 2>&1 &
	LOCKER=$!
	exec 5> "$T/lock2"
	echo 'BEGIN IMMEDIATE;' >&5
	wait_for "the other process to hold the lock" 5 locked
}
release_lock() {
	echo 'COMMIT;' >&5
	exec 5>&-
	wait "$LOCKER"
}
# rows journaled, not in the store, when the gateway dies: in at restart
rows0=$(sql "select count(*) from ledger")
hold_lock
for i in 1 2 3; do chatq "$ATOK" > /dev/null; done
check_eq "3 answers journaled while the store is locked" 3 "$(metric groqgate_ledger_journal_rows)"
kill -9 "$GW_PID"
wait "$GW_PID" 2>/dev/null
release_lock
check "the journal holds them after kill -9" test -s "$J"
start_gateway
check_eq "restarted: the 3 rows are in the ledger" $((rows0 + 3)) "$(sql "select count(*) from ledger")"
check_contains "and the log says so" '"rows":3' "$(grep 'rows of the last run' "$T/groqgated.log" | tail -n 1)"
check_eq "the journal starts over" 0 "$(stat -c %s "$J")"
# a crash after rows reached the store but before the journal started
# over: the journal still holds them, and they are not counted twice
n0=$(sql "select count(*) from ledger")
hold_lock
for i in 1 2; do chatq "$ATOK" > /dev/null; done
cp "$J" "$T/journal-copy"   # the journal with 2 rows not in the store
release_lock
wait_eval "the 2 rows to reach the store" 5 '[ "$(metric groqgate_ledger_journal_rows)" = 0 ] && [ "$(health)" = 200 ]'
check_eq "they are in the store" $((n0 + 2)) "$(sql "select count(*) from ledger")"
kill -9 "$GW_PID"
wait "$GW_PID" 2>/dev/null
cp "$T/journal-copy" "$J"   # as if the crash came before the journal started over
start_gateway
check_eq "rows in the store and in the journal: counted once" $((n0 + 2)) "$(sql "select count(*) from ledger")"
month0=$(date -u -d "$(date -u +%Y-%m-01)" +%s)000
api GET /admin/v1/teams/alpha
check_eq "spend loaded at start agrees with the ledger" \
	"$(sql "select printf('%.9f', sum(cost_nusd) / 1e9) from ledger where team='alpha' and ts_ms >= $month0")" \
	"$(printf '%.9f' "$(jq_body .spend_mtd_usd)")"
# a journal the store does not empty fills up (store.journal_max_bytes):
# then requests are refused, and once the store takes writes again the
# journal goes in first, then the rows kept meanwhile
stop_gateway
sed -i 's#^store = { path = "\([^"]*\)"; };#store = { path = "\1"; journal_max_bytes = 1000; };#' "$T/gw.conf"
check_contains "a small journal configured" "journal_max_bytes = 1000" "$(cat "$T/gw.conf")"
start_gateway
n0=$(sql "select count(*) from ledger")
hold_lock
: > "$T/full-codes"
for i in $(seq 1 12); do chatq "$ATOK" >> "$T/full-codes"; echo >> "$T/full-codes"; done
ok=$(grep -c '^200$' "$T/full-codes"); refused=$(grep -c '^503$' "$T/full-codes")
check "the journal took some rows ($ok), then requests were refused ($refused)" test "$ok" -ge 1 -a "$refused" -ge 1
check_eq "every request answered 200 or 503" 12 "$((ok + refused))"
check_eq "/healthz 503 once the journal is full" 503 "$(health)"
release_lock
wait_eval "the store to take the journal and the kept rows" 10 '[ "$(health)" = 200 ] && [ "$(metric groqgate_ledger_journal_rows)" = 0 ]'
check_eq "served again" 200 "$(chatq "$ATOK")"
check_eq "all 13 rows are in the ledger" $((n0 + 13)) "$(sql "select count(*) from ledger")"
check_eq "the 200s among them" $((ok + 1)) "$(sql "select count(*) from (select * from ledger order by id desc limit 13) where status = 200")"
check_eq "no row lost" 0 "$(metric groqgate_ledger_lost_rows_total)"
# a second gateway on the same database is refused
"$BIN/groqgated" --config "$T/gw.conf" > /dev/null 2> "$T/second.err"
check_eq "a second gateway on the same database: exit 1" 1 "$?"
check_contains "saying why" "another groqgated uses this database" "$(cat "$T/second.err")"
check_eq "the first still serves" 200 "$(chatq "$ATOK")"
stop_gateway
check_eq "and the gateway stops cleanly (exit 0)" 0 "$GW_RC"
check_eq "its journal is empty at exit" 0 "$(stat -c %s "$J")"
# a damaged journal: the gateway does not start, and says where
printf 'this is not a journal record, nor are the bytes after it.......' > "$J"
"$BIN/groqgated" --config "$T/gw.conf" > /dev/null 2> "$T/damaged.err"
check_eq "a damaged journal: exit 1" 1 "$?"
check_contains "naming the file" "$J" "$(cat "$T/damaged.err")"
check_contains "and what to do" "Move the file aside" "$(cat "$T/damaged.err")"
mv "$J" "$T/journal-aside"

# a crash: whatever it prints holds no secret
start_gateway
chatq "$ATOK" > /dev/null
kill -SEGV "$GW_PID"
wait "$GW_PID" 2>/dev/null
check "a crashed gateway is gone" bash -c "! kill -0 $GW_PID 2>/dev/null"
leaks=0
for s in "$KEY1" "$KEY2" "$KEY3" "$ATOK" "$BTOK" "$QTOK" "$OP_TOKEN" "$VIEW_TOKEN"; do
	grep -rqF -- "$s" "$T"/*.log && leaks=$((leaks + 1))
done
check_eq "no Groq key, client token or admin token in any log or crash output" 0 "$leaks"
done_testing
