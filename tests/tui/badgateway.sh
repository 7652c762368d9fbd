# groqtop against a gateway that answers badly: garbage that is not HTTP,
# a body that is not JSON, JSON cut short, JSON of the wrong shape, a
# 64 MiB answer, silence, a reset, an HTML error page. Each time groqtop
# keeps running, says what is wrong, answers keys at once and quits
# cleanly; then the same with a gateway that goes bad under a live screen.
source "$(dirname "$0")/lib.sh"
BADGW=${O:-build/default}/badgw
case "$BADGW" in /*) ;; *) BADGW="$ROOT/$BADGW" ;; esac
echo garbage > "$T/mode"
"$BADGW" "$T/mode" > "$T/bad.addr" 2> "$T/badgw.log" &
PIDS="$PIDS $!"
BAD=$(first_line "$T/bad.addr") || { fail "badgw did not start"; exit 1; }
(umask 077; echo ggadm_operator_not_checked_here > "$T/tok")

tui_start 120x40
# mode  text expected on screen
while read -r mode expect; do
	echo "$mode" > "$T/mode"
	tui_type "clear; $BIN/groqtop --gateway http://$BAD --token-file $T/tok --no-mouse --refresh 1"
	tui_keys Enter
	tui_wait "no data from the gateway:" 15
	tui_wait "$expect" 15
	tui_check "$mode: groqtop says what is wrong ($expect)" "$expect"
	pid=$(tui_pid)
	check "$mode: and keeps running" kill -0 "$pid"
	tui_keys '?'
	tui_wait "Commands (type : then Enter)" 5
	tui_check "$mode: keys answer at once (help opens)" "Commands (type : then Enter)"
	tui_keys Escape
	tui_wait_gone "Commands (type : then Enter)" 5
	rss=$(rss_kb "$pid")
	check "$mode: memory stays small (${rss} KiB)" test "${rss:-999999}" -lt 65536
	tui_keys q
	tui_wait_exit 5
	check_eq "$mode: q quits" bash "$(tui_cmd)"
done <<'MODES'
garbage HTTP/0.9
notjson not the expected JSON
truncated transfer closed
wrongtypes not the expected JSON
huge Maximum file size exceeded
silent timed out
reset Empty reply
error HTTP 500
MODES

# a live screen whose gateway turns bad: the last data stays, marked stale
seed_org
tui_groqtop --refresh 1
tui_wait "● live"
kill -STOP "$GW_PID"
tui_wait "● stale" 10
tui_check "a gateway that stops answering: the data stays, marked stale" "chatbot-prod-api"
tui_keys j
tui_keys '?'
tui_wait "Commands (type : then Enter)" 5
tui_check "and keys still answer at once" "Commands (type : then Enter)"
tui_keys Escape
kill -CONT "$GW_PID"
tui_check "it comes back to live when the gateway answers again" "● live" 40
tui_keys q
tui_wait_exit
done_testing
