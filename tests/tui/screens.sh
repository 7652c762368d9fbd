# groqtop screens against a real gateway: main at 120x40 and 80x24, help,
# filter, sort, command mode, too small, resize, colour, ASCII, wallboard.
source "$(dirname "$0")/lib.sh"
seed_org

tui_start 120x40
tui_groqtop
tui_wait "chatbot-prod-api"
tui_wait "live"
tui_golden main-120x40
tui_keys '?'
tui_wait "Commands (type : then Enter)"
tui_golden help
tui_keys Escape
tui_wait "Upstream keys"
tui_keys '/'
tui_type "ba"
tui_wait "filter: ba"
tui_golden filter
tui_keys Escape
tui_wait_gone "filter: ba"
tui_keys s
tui_wait "sort: state"
tui_golden sort-state
tui_keys s
tui_wait "sort: rpm"
tui_keys S
tui_wait "sort: rpm ↑"
tui_keys s s s s s
check "s steps through every column (tpm, refused, spend, spend%) back to id" tui_wait "sort: id ↑"
tui_keys ':'
tui_type "alerts"
tui_keys Enter
tui_wait "crossed 80%"
tui_golden alerts
tui_keys Escape
tui_wait "Upstream keys"
tui_keys ':'
tui_type "bogus"
tui_keys Enter
tui_check "command mode reports an unknown command" "unknown command ':bogus'"
# ':' completes with Tab, and shows what the word typed could be
tui_keys ':'
tui_type "a"
tui_check "':a' lists the commands it could be" ":a_   alerts audit   (Tab completes)"
tui_keys Tab
tui_check "Tab with two candidates goes as far as they agree (':a')" ":a_ "
tui_type "l"
tui_keys Tab
tui_check "Tab completes ':al' to ':alerts'" ":alerts_"
tui_keys Enter
tui_check "and Enter opens it" "crossed 80%"
tui_keys Escape
tui_wait "Upstream keys"
tui_keys ':'
tui_type "zz"
tui_check "a word no command starts with says so as it is typed" ":zz_   no such command"
tui_keys Escape
tui_keys q
check "q quits back to the shell" tui_wait_exit

# 80x24 and a resize below the minimum, then back
tm resize-window -t t -x 80 -y 24
tui_groqtop
tui_wait "chatbot-prod-api"
tui_golden main-80x24
# help at 80x24: whole lines (wrapped, never cut mid-word), and it scrolls
tui_keys '?'
tui_check "help at 80x24 says it scrolls" "Help  rows 1-20 of"
tui_keys PgDn
tui_check "PgDn: the next page" "Help  rows 20-"
check "a long binding line is wrapped under its key (a row that goes on under the text's column)" \
	bash -c "tmux -L '$TMUX_SOCK' capture-pane -t t -p | grep -qE '^│ {21}[a-z(]'"
tui_keys G
tui_check "G goes to its end" ":help  this help"
check "the title follows" bash -c "tmux -L '$TMUX_SOCK' capture-pane -t t -p | grep -qE 'Help  rows [0-9]+-([0-9]+) of \\1'"
tui_keys g
tui_check "g back to its top" "Help  rows 1-20 of"
tui_keys j
tui_check "j moves one row" "Help  rows 2-21 of"
tui_keys Escape
tui_wait "chatbot-prod-api"
tm resize-window -t t -x 60 -y 20
tui_wait "Terminal too small: 60x20"
tui_golden too-small
tm resize-window -t t -x 100 -y 30
tui_wait "Upstream keys"
tui_golden resized-100x30
tui_keys q
tui_wait_exit

# colour: the default theme puts colours on screen; NO_COLOR takes them away
tm resize-window -t t -x 120 -y 40
tui_groqtop
tui_wait "chatbot-prod-api"
tui_screen -e > "$T/colour"
check "default theme: the header is drawn in colour (blue background)" grep -q $'\e\\[[0-9;]*44m' "$T/colour"
check "a team past 80 % of its budget drawn yellow" grep -q $'\e\\[[0-9;]*33m' "$T/colour"
tui_keys q
tui_wait_exit
GT_ENV="NO_COLOR=1" tui_groqtop
tui_wait "chatbot-prod-api"
tui_screen -e > "$T/nocolour"
check "NO_COLOR: no colour escapes" bash -c "! grep -qE $'\e\\\\[[0-9;]*(3|4)[0-7]m' '$T/nocolour'"
tui_keys q
tui_wait_exit
tui_groqtop --theme high-contrast
tui_wait "chatbot-prod-api"
tui_screen -e > "$T/hc"
check "another theme draws differently" bash -c "! cmp -s '$T/colour' '$T/hc'"
tui_keys q
tui_wait_exit

# ASCII fallback when the locale is not UTF-8
GT_ENV="LANG=C LC_ALL=C" tui_groqtop
tui_wait "chatbot-prod-api"
tui_golden ascii
check "no Unicode glyphs in the ASCII fallback" bash -c "! tmux -L $TMUX_SOCK capture-pane -t t -p | grep -q '[─│█▏·]'"
tui_keys q
tui_wait_exit

# wallboard: big gauges, pages, read-only
create_team analytics '"rpm_limit":100,"monthly_budget_usd":80'
create_team support '"rpm_limit":30,"monthly_budget_usd":20'
tm resize-window -t t -x 100 -y 24
tui_groqtop --wallboard --cycle 1
tui_wait "page 1/2"
tui_golden wallboard-page1
tui_check "the wallboard cycles to the next page by itself" "page 2/2" 5
tui_keys q
tui_wait_exit
# for a room: problem teams first (the paused one, the one past 80 %), an
# alert ticker, and at 200x60 each team's share of its budget in digits five
# rows tall
wb=$("$BIN/groqtop" --gateway "http://$GW" --token-file "$VTOKFILE" --wallboard --snapshot --size 200x60)
check_contains "the wallboard counts the teams in trouble and puts them first" "2 in trouble first" "$wb"
first=$(printf '%s\n' "$wb" | grep -E '^  [A-Z][A-Z0-9-]+  ' | head -2 | awk '{ print $1 }' | tr '\n' ' ')
check_eq "... the paused team, then the one past 80 % of its budget" "SEARCH CHATBOT " "$first"
check_contains "an alert ticker under the teams" "ALERT │" "$wb"
big=$(printf '%s\n' "$wb" | grep -c '███')
check "at 200x60 the budget shares are written in big digits ($big rows with them)" test "$big" -ge 10
small=$("$BIN/groqtop" --gateway "http://$GW" --token-file "$VTOKFILE" --wallboard --snapshot --size 100x24 | grep -c '███')
check "... not at 100x24 (only the gauges there: $small rows)" test "$small" -le 8

# a list longer than its pane says where its rows are (the one list
# widget: teams, keys, alerts, audit, tokens), and follows the selection
for i in 01 02 03 04 05 06 07 08 09 10 11 12; do create_team "zz$i" '"rpm_limit":10,"monthly_budget_usd":1'; done
tm resize-window -t t -x 80 -y 24
tui_groqtop
tui_wait "Upstream keys"
shows() { tmux -L "$TMUX_SOCK" capture-pane -t t -p | grep -qE -- "$1"; }
check "the teams pane says which of its 17 rows it shows" wait_for "the marker" 10 shows '─ 1-[0-9]+ of 17 ─'
tui_keys G
check "End: the last team selected, the rows and their marker follow" wait_for "the marker" 10 shows '─ [0-9]+-17 of 17 ─'
tui_check "the last team is on screen" "zz12 "
tui_keys g
check "Home: back to the first rows" wait_for "the marker" 10 shows '─ 1-[0-9]+ of 17 ─'
tui_check "the first team is on screen again" "analytics "
tui_keys q
tui_wait_exit

# y copies what is selected to the clipboard (OSC 52; tmux keeps it as a
# paste buffer when set-clipboard is on)
tm set -g set-clipboard on
tui_groqtop
tui_wait "Upstream keys"
tui_keys y
tui_check "y copies the selected team's id and says so" "copied 'analytics'"
check_eq "... onto the clipboard (tmux's buffer, from OSC 52)" analytics "$(tm show-buffer 2>&1)"
tui_keys Tab
tui_keys y
tui_check "in the keys pane, the selected key's name" "copied 'chatbot-prod-api'"
check_eq "... onto the clipboard" chatbot-prod-api "$(tm show-buffer 2>&1)"
tui_keys q
tui_wait_exit

# times: UTC by default, the local zone on request (--local-time, :local),
# one format everywhere (a zone 5 h 30 ahead of UTC, no tzdata needed)
GT_ENV="TZ=XYZ-5:30" tui_groqtop
tui_check "UTC by default, whatever the zone" "21:04:21 UTC"
tui_keys ':'
tui_type "local"
tui_keys Enter
tui_check ":local shows the local zone's time in the header" "02:34:21 XYZ"
tui_keys ':'
tui_type "utc"
tui_keys Enter
tui_check ":utc goes back" "21:04:21 UTC"
tui_keys q
tui_wait_exit
out=$(TZ=XYZ-5:30 GROQTOP_NOW=$FROZEN_NOW "$BIN/groqtop" --gateway "http://$GW" --token-file "$TOKFILE" --snapshot --size 120x40 --local-time)
check_contains "--local-time: the header's clock in the local zone" "02:34:21 XYZ" "$out"
first=$(curl -s -H "Authorization: Bearer $OP_TOKEN" "http://$GW/admin/v1/alerts" | jq -r '.alerts[-1].time')
check_contains "... and the alerts pane's ($first is $(TZ=XYZ-5:30 date -d "$first" +%H:%M) there)" \
	"│ $(TZ=XYZ-5:30 date -d "$first" +%H:%M) " "$out"

# --snapshot for scripts
out=$("$BIN/groqtop" --gateway "http://$GW" --token-file "$TOKFILE" --snapshot --size 120x40)
check_eq "--snapshot exits 0" 0 $?
check_contains "--snapshot renders the teams" "batch-processor" "$out"
out=$("$BIN/groqtop" --gateway "http://127.0.0.1:9" --token-file "$TOKFILE" --snapshot 2>&1); rc=$?
check_eq "--snapshot without a gateway exits 1" 1 "$rc"
check_contains "and says why" "cannot reach the gateway" "$out"
chmod 644 "$TOKFILE"
out=$("$BIN/groqtop" --gateway "http://$GW" --token-file "$TOKFILE" --snapshot 2>&1); rc=$?
check_eq "a token file others can read is refused" 2 "$rc"
chmod 600 "$TOKFILE"
out=$("$BIN/groqtop" --gateway "http://$GW" "$OP_TOKEN" 2>&1); rc=$?
check_contains "a token in argv is refused" "never taken on the command line" "$out"
done_testing
