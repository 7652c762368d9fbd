# tests/tui/lib.sh — screen tests under a private tmux server: fixed size,
# TERM, LANG, TZ and a frozen clock; wait for text instead of sleeping;
# compare with goldens in tests/tui/golden/ (UPDATE_GOLDEN=1 rewrites
# them); on a mismatch the actual screen and a diff are printed.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
GOLDEN_DIR="$ROOT/tests/tui/golden"
TMUX_SOCK="gg-tui-$$-$RANDOM"
FROZEN_NOW=1795727061 # 2026-11-26T21:04:21Z
tm() { tmux -L "$TMUX_SOCK" -f /dev/null "$@"; }
# at the end (or an interrupted run): whatever still runs in the panes is
# killed outright before the server goes (a groqtop under ASan whose
# terminal hangs up while LeakSanitizer stops its threads at exit can
# spin forever: seen after interrupted runs), then the server
tui_cleanup() {
	local p
	for p in $(tm list-panes -a -F '#{pane_pid}' 2>/dev/null); do pkill -KILL -s "$p" 2>/dev/null; done
	tm kill-server 2>/dev/null
	cleanup
}
trap tui_cleanup EXIT

# tui_start [WxH] [env...] : a pane running a plain shell, ready for keys
tui_start() {
	local size=${1:-120x40}; shift
	tm new-session -d -s t -x "${size%x*}" -y "${size#*x}" \
		"env -i PATH=$PATH HOME=$T TERM=xterm-256color LANG=C.UTF-8 LC_ALL=C.UTF-8 TZ=UTC GROQTOP_NOW=$FROZEN_NOW USER=tester $* PS1='$ ' bash --norc --noprofile"
	tm set -g status off
	tm set -g remain-on-exit on
	wait_for "the shell" 5 tui_has '$'
}
tui_keys() { tm send-keys -t t "$@"; }
# tui_resize W H : the window resized, and its pane at that size before
# anything starts in it
tui_resize() {
	RESIZE_TO="${1}x$2"
	tm resize-window -t t -x "$1" -y "$2"
	wait_eval "the pane at $RESIZE_TO" 5 '[ "$(tm display -p -t t "#{pane_width}x#{pane_height}")" = "$RESIZE_TO" ]' ||
		fail "the pane did not become $RESIZE_TO"
	# ... and its terminal: tmux sets the pty's size some time after its
	# own (a program started before then reads the old one); asked again
	# until it says so
	local i
	for i in $(seq 1 50); do
		tm send-keys -t t -l "clear; stty size | sed 's/ /x/; s/^/size:/'"
		tm send-keys -t t Enter
		wait_for "stty" 2 sh -c "tmux -L '$TMUX_SOCK' capture-pane -t t -p | grep -q '^size:'" || true
		tui_has "size:$2x$1" && break
		sleep 0.1
	done
	tui_has "size:$2x$1" || { fail "the terminal did not become $RESIZE_TO"; tui_screen | sed "s/^/#   /"; }
	tm send-keys -t t -l "clear"
	tm send-keys -t t Enter
	wait_for "the screen cleared" 5 sh -c "! tmux -L '$TMUX_SOCK' capture-pane -t t -p | grep -q 'size:'"
}
tui_type() { tm send-keys -t t -l "$1"; }
tui_screen() { tm capture-pane -t t -p "$@"; }
tui_has() { tui_screen | grep -qF -- "$1"; }
# tui_wait TEXT [seconds]: a failure (counted) when TEXT never comes
tui_wait() {
	if wait_for "'$1' on screen" "${2:-10}" tui_has "$1"; then return 0; fi
	fail "the screen never showed '$1' (${2:-10} s)"
	echo "# screen was:"; tui_screen | sed 's/^/#   /'
	return 1
}
# tui_check "what it shows" TEXT [seconds]: one assertion, ok or not ok
tui_check() {
	local d=$1; shift
	if wait_for "'$1' on screen" "${2:-10}" tui_has "$1"; then ok "$d"; return 0; fi
	fail "$d (the screen never showed '$1')"
	echo "# screen was:"; tui_screen | sed 's/^/#   /'
	return 1
}
tui_lacks() { ! tui_has "$1"; }
# tui_wait_gone TEXT [seconds]: a failure (counted) when TEXT stays
tui_wait_gone() {
	wait_for "'$1' to go" "${2:-10}" tui_lacks "$1" && return 0
	fail "the screen kept showing '$1' (${2:-10} s)"
	return 1
}
# the program in the pane ended: the shell is in the foreground again
tui_cmd() { tm display -p -t t '#{pane_current_command}'; }
tui_wait_exit() { wait_eval "the program to exit" "${1:-10}" '[ "$(tui_cmd)" = bash ]'; }
# groqtop running in this test's pane (its session), never another test's
tui_pid() { pgrep -s "$(tm display -p -t t '#{pane_pid}')" -x groqtop | tail -1; }
tui_kill() { pkill -"$1" -s "$(tm display -p -t t '#{pane_pid}')" -x groqtop; }
# groqtop started in the pane with the test's gateway and operator token
make_tokfiles() {
	TOKFILE="$T/op.token" VTOKFILE="$T/viewer.token"
	(umask 077; printf '%s\n' "$OP_TOKEN" > "$TOKFILE"; printf '%s\n' "$VIEW_TOKEN" > "$VTOKFILE")
}
groqtop_cmd() { echo "$BIN/groqtop --gateway http://$GW --token-file $TOKFILE --no-mouse $*"; }
# clears the screen first so that waiting for text never matches a
# previous frame; GT_ENV may hold VAR=value words to set for this run
tui_groqtop() { tui_type "clear; ${GT_ENV:-} $(groqtop_cmd "$@")"; tui_keys Enter; }

# masks what legitimately changes between runs (ports, times, sparklines,
# who ran the test), each by a label of the same width, so a golden still
# shows a width or alignment bug in a masked field
mask() {
	perl -CSD -Mutf8 -pe '
		sub k { my ($m, $l) = @_; my $n = length $m;
			return length($l) >= $n ? substr($l, 0, $n) : $l . ("~" x ($n - length $l)); }
		s/(127\.0\.0\.1:)([0-9]+)/$1 . k($2, "PORT")/ge;
		s/(RPM last hour )(\S+)/$1 . k($2, "SPARK")/e;
		s/(projected month-end )(\$[0-9.k]+)/$1 . k($2, "\$X")/e;
		s/([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z)/k($1, "TIME")/ge;
		s/([0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8})/k($1, "TIME")/ge;
		s/((?:│|\|) )([0-9]{2}:[0-9]{2})( )/$1 . k($2, "HH:MM") . $3/ge;
		s/(stale )([0-9]+s)/$1 . k($2, "Ns")/e; s/(down )([0-9]+s)/$1 . k($2, "Ns")/e;
		s/(tok_)([A-Za-z0-9]{12})/$1 . k($2, "ID")/ge;
		s/(groq (?:ok|stale) )([0-9]+[smhd])/$1 . k($2, "Ns")/e;
		s/\b([0-9]+[smhd])( old)/k($1, "N") . $2/ge;
		s/(  )([0-9]+\.[0-9]{2}s)(?= |$)/$1 . k($2, "N.NNs")/ge;
		s/((?:requests|spend)\/(?:1h|6h|1d) +)([^ │|]+)/$1 . k($2, "SPARK")/e;
		s/((?:ing|ed) by )([a-z]+ \(tester@[^)]*\))/$1 . k($2, "USER")/ge;
		s/(tester@)([A-Za-z0-9._-]+)/$1 . k($2, "HOST")/ge;
		if (eof) { s/^( [^ ].*)$/k($1, " (status line)")/e }
	'
}

# tui_golden NAME [capture flags] : compare the masked screen with the golden
tui_golden() {
	local name=$1; shift
	local want="$GOLDEN_DIR/$name.txt" got="$T/$name.actual"
	tui_screen "$@" | mask > "$got"
	if [ "${UPDATE_GOLDEN:-0}" = 1 ]; then
		cp "$got" "$want"; ok "golden $name (rewritten)"; return
	fi
	if [ ! -f "$want" ]; then fail "golden $name: missing $want (run with UPDATE_GOLDEN=1 and review it)"; return; fi
	if diff -u "$want" "$got" > "$T/$name.diff"; then
		ok "golden $name"
	else
		fail "golden $name differs"
		mkdir -p "$ROOT/tests/out"; cp "$got" "$ROOT/tests/out/$name.actual"
		sed 's/^/#   /' "$T/$name.diff"
		echo "#   actual screen kept in tests/out/$name.actual"
	fi
}

# a team's field as the gateway says it; the audit log's length
team_field() { api GET "/admin/v1/teams/$1"; jq_body "$2"; }
audits() { sql "select count(*) from audit"; }

# a believable small organisation on a real gateway
seed_org() {
	start_fakegroq
	write_gateway_config 'rotation = { drain_seconds = 3; };'
	start_gateway
	create_team chatbot '"rpm_limit":60,"monthly_budget_usd":1'
	create_key chatbot-prod-api chatbot "$KEY1"
	new_token chatbot; CHAT=$TOKEN
	create_team search '"rpm_limit":600,"monthly_budget_usd":250'
	create_key search-prod-api search "$KEY2"
	create_team batch-processor '"rpm_limit":20,"monthly_budget_usd":40'
	create_key batch-processor-staging-jobs batch-processor "$KEY3"
	new_token batch-processor; BATCH=$TOKEN
	api POST /admin/v1/teams/search/pause '{"reason":"cost review INC-7"}'
	for i in 1 2 3 4 5 6; do chat "$CHAT" llama-3.3-70b-versatile '"max_tokens":100'; done
	for i in 1 2; do chat "$BATCH" llama-3.1-8b-instant '"max_tokens":5'; done
	api PATCH /admin/v1/teams/chatbot '{"monthly_budget_usd":0.000157}' # now at 85 %
	make_tokfiles
}
