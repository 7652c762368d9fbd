# Soak: SOAK_SECONDS (600) of mixed load — plain and streamed completions,
# refusals, clients that hang up mid-stream, admin reads and changes —
# with groqtop (the ASan+UBSan build, ASAN_BIN) watching the gateway in
# tmux. After warm-up the gateway's RSS and open file descriptors must stay
# flat, and groqtop's RSS too; groqtop must exit with no leak reported.
source "$(dirname "$0")/../tui/lib.sh"
SECS=${SOAK_SECONDS:-600}
ASAN_BIN=${ASAN_BIN:-build/asan/bin}
case "$ASAN_BIN" in /*) ;; *) ASAN_BIN="$ROOT/$ASAN_BIN" ;; esac
[ -x "$ASAN_BIN/groqtop" ] || { fail "no ASan groqtop in $ASAN_BIN (make reliability builds it)"; exit 1; }
start_fakegroq --rpd 100000000 --tpm 2000000000 # Groq's daily quota would end the soak's traffic early
write_gateway_config
start_gateway
create_team alpha
create_key alpha-prod-api alpha "$KEY1"
new_token alpha; ATOK=$TOKEN
create_team beta
create_key beta-prod-api beta "$KEY2"
new_token beta; BTOK=$TOKEN
# a limit above the load (~5,000 a minute) but not absurd: the RPM window
# keeps one timestamp per admission of the last minute (rpm_limit x 8 bytes,
# touched as it fills), so a limit of a million would read as growth
api PATCH /admin/v1/teams/alpha '{"rpm_limit":20000}' -H 'If-Match: *'
make_tokfiles

# no quarantine: ASan's default (256 MiB of freed memory held back) would
# look like growth
tui_start 120x40 "ASAN_OPTIONS=detect_leaks=1:quarantine_size_mb=0:thread_local_quarantine_size_kb=0:log_path=$T/asan"
tui_type "clear; $ASAN_BIN/groqtop --gateway http://$GW --token-file $TOKFILE --no-mouse --refresh 1"
tui_keys Enter
tui_wait "alpha-prod-api" 20
GT_PID=$(tui_pid)

body='{"model":"llama-3.1-8b-instant","max_tokens":5,"messages":[{"role":"user","content":"x"}]}'
sbody='{"model":"llama-3.1-8b-instant","max_tokens":5,"stream":true,"messages":[{"role":"user","content":"x"}]}'
post() { curl -s -m 5 -o /dev/null -w '%{http_code}\n' -H "Authorization: Bearer $1" -d "$2" "http://$GW/openai/v1/chat/completions"; }
worker_plain() { while [ ! -e "$T/stop" ]; do post "$ATOK" "$body"; done >> "$T/codes"; }
worker_mixed() {
	while [ ! -e "$T/stop" ]; do
		curl -sN -m 5 -o /dev/null -H "Authorization: Bearer $BTOK" -d "$sbody" "http://$GW/openai/v1/chat/completions"
		curl -sN -m 0.02 -o /dev/null -H "Authorization: Bearer $BTOK" -d "$sbody" "http://$GW/openai/v1/chat/completions"
		post ggt_wrong "$body"
		post "$ATOK" '{"model":"qwen/qwen3-32b","messages":[]}'
		post "$ATOK" '{not json'
	done >> "$T/codes" 2>/dev/null
}
worker_admin() {
	while [ ! -e "$T/stop" ]; do
		api GET /admin/v1/overview; api GET /admin/v1/usage; api GET /admin/v1/audit
		api POST /admin/v1/teams/beta/pause '{"reason":"soak"}'; api POST /admin/v1/teams/beta/resume '{}'
		api PATCH /admin/v1/teams/alpha '{"name":"Team alpha"}' -H 'If-Match: *'
	done
}
sample() { # seconds rss_kb fds groqtop_rss_kb sqlite_kb
	echo "$1 $(awk '/^VmRSS/ { print $2 }' "/proc/$GW_PID/status") $(ls "/proc/$GW_PID/fd" | wc -l) $(awk '/^VmRSS/ { print $2 }' "/proc/$GT_PID/status")" \
		"$(curl -s "http://$GW/metrics" | awk '$1 == "groqgate_store_memory_bytes" { printf "%d", $2 / 1024 }')"
}
idle_fds=$(ls "/proc/$GW_PID/fd" | wc -l)
worker_plain & P1=$!
worker_plain & P2=$!
worker_mixed & P3=$!
worker_admin & P4=$!
t0=$(date +%s)
: > "$T/samples"
while [ $(( $(date +%s) - t0 )) -lt "$SECS" ]; do
	sample $(( $(date +%s) - t0 )) >> "$T/samples"
	sleep 5 # the sampling period
done
touch "$T/stop"
wait "$P1" "$P2" "$P3" "$P4"
wait_eval "the gateway to be idle" 10 '[ "$(curl -s "http://$GW/metrics" | awk "/^groqgate_inflight_requests/ { print \$2 }")" = 0 ]'

n=$(wc -l < "$T/codes")
echo "# soak: $SECS s, $n requests ($(( n / SECS ))/s): $(sort "$T/codes" | uniq -c | awk '{ printf "%s×%s ", $1, $2 }')"
check "the load was real ($n requests)" test "$n" -ge $((SECS * 20))
check_eq "no 5xx answered during the soak" 0 "$(grep -c '^5' "$T/codes")"
check_eq "and no 429 (no limit is near)" 0 "$(grep -c '^429' "$T/codes")"
# after warm-up (the first fifth): first and last quarter of the samples
awk -v warm=$((SECS / 5)) '$1 >= warm' "$T/samples" > "$T/steady"
q=$(( $(wc -l < "$T/steady") / 4 )); [ "$q" -ge 1 ] || q=1
avg() { awk -v c="$1" '{ s += $c; n++ } END { printf "%d", s / n }'; }
first_rss=$(head -n "$q" "$T/steady" | avg 2); last_rss=$(tail -n "$q" "$T/steady" | avg 2)
first_fd=$(head -n "$q" "$T/steady" | avg 3); last_fd=$(tail -n "$q" "$T/steady" | avg 3)
max_fd=$(awk 'NR == 1 || $3 > m { m = $3 } END { print m }' "$T/steady")
first_gt=$(head -n "$q" "$T/steady" | avg 4); last_gt=$(tail -n "$q" "$T/steady" | avg 4)
first_sq=$(head -n "$q" "$T/steady" | avg 5); last_sq=$(tail -n "$q" "$T/steady" | avg 5)
echo "# gateway RSS ${first_rss} → ${last_rss} KiB (SQLite's share ${first_sq} → ${last_sq} KiB), fds ${first_fd} → ${last_fd} (max $max_fd); groqtop (ASan) RSS ${first_gt} → ${last_gt} KiB"
check "gateway RSS flat after warm-up (${first_rss} → ${last_rss} KiB, < 2 MiB growth)" test $((last_rss - first_rss)) -lt 2048
# SQLite's page cache fills as the ledger grows (bounded: 2 MiB by
# default); the rest may settle (the allocator's heap reaches its working
# size) but must not keep growing: a leak grows at a steady rate to the end.
# Without SQLite: the last third of the run may grow by a few pages (under
# 64 KiB: the allocator's noise, 16 pages) or, if more, at under a third of
# the rate before it and under 256 KiB in all. A leak of even 20 bytes a
# request grows by more than 200 KiB in that third at this load.
awk '{ print $1, $2 - $5 }' "$T/steady" > "$T/rest"
read -r t0 r0 <<< "$(head -n 1 "$T/rest")"
n=$(wc -l < "$T/rest")
read -r t1 r1 <<< "$(sed -n "$(( n * 2 / 3 ))p" "$T/rest")"
read -r t2 r2 <<< "$(tail -n 1 "$T/rest")"
echo "# without SQLite: ${r0} KiB at ${t0} s, ${r1} KiB at ${t1} s, ${r2} KiB at ${t2} s"
check "without SQLite's cache, growth settles: last third $(( r2 - r1 )) KiB in $(( t2 - t1 )) s after $(( r1 - r0 )) KiB in $(( t1 - t0 )) s" \
	awk -v a=$((r1 - r0)) -v ta=$((t1 - t0)) -v b=$((r2 - r1)) -v tb=$((t2 - t1)) \
	'BEGIN { exit !(b < 64 || (b < 256 && b / tb < (a > 0 ? a : 0) / ta / 3)) }'
check "gateway fds flat after warm-up (${first_fd} → ${last_fd}, max $max_fd)" test $((last_fd - first_fd)) -le 2
check "groqtop RSS flat (${first_gt} → ${last_gt} KiB, < 2 MiB growth)" test $((last_gt - first_gt)) -lt 2048
check "groqtop still live and drawing" tui_has "● live"
tui_keys q
tui_wait_exit 20
check_eq "groqtop exits; LeakSanitizer and UBSan report nothing" "" "$(cat "$T"/asan.* 2>/dev/null | head -20)"
conns() { ss -tn state established "( sport = :${GW##*:} )" | tail -n +2 | wc -l; }
wait_eval "client connections to close" 10 '[ "$(conns)" = 0 ]'
check_eq "with the load and groqtop gone, no client connection is left open (fds: $idle_fds idle before, $(ls "/proc/$GW_PID/fd" | wc -l) now, the upstream pool included)" 0 "$(conns)"
echo "# samples (s rss_kb fds groqtop_rss_kb sqlite_kb): $(awk 'NR % 6 == 1 { printf "%s/%s/%s/%s/%s ", $1, $2, $3, $4, $5 }' "$T/samples")"
check_eq "the store is intact" ok "$(sql 'pragma integrity_check')"
done_testing
