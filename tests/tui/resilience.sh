# groqtop when things go wrong: the gateway dies and comes back, the
# terminal is restored after SIGTERM, SIGHUP, SIGINT, SIGQUIT and a crash,
# and closing the pane (SSH dropping) ends groqtop.
source "$(dirname "$0")/lib.sh"
seed_org
PORT=${GW##*:}

tui_start 120x40
tui_groqtop --refresh 1
tui_wait "● live"
kill -9 "$GW_PID"; wait "$GW_PID" 2>/dev/null
t0=$(date +%s%N)
tui_wait "● stale" 5
el=$(( ($(date +%s%N) - t0) / 1000000 ))
check "the header turns stale within two refresh intervals (${el} ms)" test "$el" -le 2500
tui_check "and then down" "● down" 10
check "saying when it tries again" bash -c "tmux -L '$TMUX_SOCK' capture-pane -t t -p | grep -qE '● down [0-9]+s, retry [0-9]+s'"
check "and why, though the figures had loaded" bash -c "tmux -L '$TMUX_SOCK' capture-pane -t t -p | grep -q 'gateway: '"
tui_keys j
tui_keys '?'
tui_check "keys still respond while the gateway is down" "Commands (type : then Enter)"
tui_keys Escape
tui_wait "Upstream keys"
# the gateway comes back on the same address
sed -i "s/^listen = .*/listen = \"127.0.0.1:$PORT\";/" "$T/gw.conf"
start_gateway
tui_check "it recovers by itself when the gateway returns" "● live" 40
tui_keys q
tui_wait_exit
# a wrong admin token is not an outage: said as such
(umask 077; echo ggadm_not_a_token > "$T/wrong.token")
tui_type "clear; $BIN/groqtop --gateway http://$GW --token-file $T/wrong.token --no-mouse"
tui_keys Enter
tui_check "a refused token shows 'token refused', not 'down'" "● token refused"
tui_keys q
tui_wait_exit

# the terminal is restored after each signal. groqtop runs under a
# non-interactive shell, which (unlike an interactive bash) does not repair
# the terminal itself, and that shell then reports the tty's state.
tty_probe() {
	tui_type "clear; bash -c '$(groqtop_cmd); if stty -a | grep -qwE -- \"-echo|-icanon\"; then r=BROKEN; else r=RESTORED; fi; echo tty:\$r:ok'"
	tui_keys Enter
}
tty_result() { wait_eval "the tty probe" 10 'tui_has tty:RESTORED:ok || tui_has tty:BROKEN:ok'; tui_has tty:RESTORED:ok; }
# 20 runs per signal (TTY_RUNS); SIGSEGV is delivered as a crash would be
RUNS=${TTY_RUNS:-20}
for sig in ${TTY_SIGNALS:-TERM HUP INT QUIT SEGV}; do
	good=0
	for run in $(seq 1 "$RUNS"); do
		tty_probe
		tui_wait "chatbot-prod-api" || break
		tui_kill "$sig"
		tty_result && good=$((good + 1))
		tui_wait_exit
		tui_keys C-l
	done
	check_eq "SIG$sig restores the terminal (echo, icanon) in every run" "$RUNS/$RUNS" "$good/$RUNS"
done

# 100 random resizes in a row, some below the minimum: no crash, and a
# right frame at the end
tui_groqtop
tui_wait "chatbot-prod-api"
pid=$(tui_pid)
RANDOM=7
for i in $(seq 1 100); do tm resize-window -t t -x $((40 + RANDOM % 160)) -y $((10 + RANDOM % 50)); done
tm resize-window -t t -x 120 -y 40
tui_wait "Upstream keys"
check "100 random resizes: groqtop still runs and draws" kill -0 "$pid"
tui_keys q
tui_wait_exit

# the pane closes (SSH drops): groqtop exits promptly, no spin
# ... also when the hang-up signal is ignored (nohup, some SSH set-ups):
# the terminal's end is then seen on stdin alone
for how in "" "trap '' HUP; exec "; do
	tm new-window -t t -d -n gone "$how$(groqtop_cmd)"
	pid=$(tm display -p -t t:gone '#{pane_pid}') # the window runs groqtop itself
	wait_eval "groqtop in the second window" 5 '[ "$(cat /proc/$pid/comm 2>/dev/null)" = groqtop ]'
	tm kill-window -t t:gone
	t0=$(date +%s%N)
	wait_eval "groqtop to exit" 5 '! kill -0 '"$pid"
	el=$(( ($(date +%s%N) - t0) / 1000000 ))
	check "closing the terminal ends groqtop within 2 s (${how:+SIGHUP ignored, }${el} ms)" bash -c "! kill -0 $pid 2>/dev/null && [ $el -le 2000 ]"
	kill -9 "$pid" 2>/dev/null
done
done_testing
