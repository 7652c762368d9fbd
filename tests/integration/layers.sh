# The layering, read from the built objects themselves (nm): the gateway's
# rooms (src/gateway/ROOM/, lowest first as the Makefile lists them): an
# object calls only its own room and the rooms below it; within a room no
# two modules call each other (in either direction through the others);
# groqtop's modules by the same rule (no two calling each other); groqtop
# links no HTTP server and no libevent; only the store talks SQL, and only
# the console's UI files curses.
source "$(dirname "$0")/../lib.sh"
O=${O:-build/default}
case "$O" in /*) ;; *) O="$ROOT/$O" ;; esac
G="$O/src/gateway"
[ -d "$G" ] || { fail "no objects in $G (build first)"; done_testing; }
ROOMS=$(sed -n 's/^ROOMS *= *//p' "$ROOT/Makefile")
check "the Makefile names the rooms ($ROOMS)" test "$(echo $ROOMS | wc -w)" -ge 5
# every source is in a room (or main.c, above them all)
stray=$(cd "$ROOT/src/gateway" && ls *.c | grep -vx main.c | tr '\n' ' ')
check_eq "every gateway source is in a room but main.c" "" "$stray"
unknown=$(cd "$ROOT/src/gateway" && for d in */; do echo " $ROOMS " | grep -q " ${d%/} " || echo "${d%/}"; done | tr '\n' ' ')
check_eq "every folder is a room the Makefile builds" "" "$unknown"
cd "$G" || exit 1
rank=0
for r in $ROOMS; do
	rank=$((rank + 1))
	for o in "$r"/*.o; do echo "$(basename "${o%.o}") $r $rank"; done
done > "$T/rooms"
echo "main top 99" >> "$T/rooms"
for o in */*.o main.o; do
	m=$(basename "${o%.o}")
	nm --defined-only -g "$o" | awk '$2 ~ /[TDBR]/ { print $3 }' | sed "s/^/$m /" >> "$T/defs"
	nm -u "$o" | awk '{ print $2 }' | sed "s/^/$m /" >> "$T/uses"
done
# edges "A B": A calls (or reads) something B defines
awk 'NR == FNR { def[$2] = $1; next } ($2 in def) && def[$2] != $1 { print $1, def[$2] }' "$T/defs" "$T/uses" | sort -u > "$T/edges"
check "the module graph has edges ($(wc -l < "$T/edges"))" test "$(wc -l < "$T/edges")" -ge 20
# the rule, for every edge: the callee's room is the caller's or below it
upward=$(awk 'NR == FNR { room[$1] = $2; rank[$1] = $3; next }
	rank[$2] > rank[$1] { print $1 "(" room[$1] ")->" $2 "(" room[$2] ")" }' "$T/rooms" "$T/edges" | tr '\n' ' ')
check_eq "every call goes to its own room or a room below it" "" "$upward"
rooms_used=$(awk 'NR == FNR { room[$1] = $2; next } room[$1] != room[$2] { print room[$1] "->" room[$2] }' "$T/rooms" "$T/edges" | sort -u | wc -l)
check "the rooms call each other downward ($rooms_used room-to-room edges)" test "$rooms_used" -ge 10
cycles=$(awk '{ e[$1 " " $2] = 1 } END { for (k in e) { split(k, p, " "); if ((p[2] " " p[1]) in e && p[1] < p[2]) print p[1] "<->" p[2] } }' "$T/edges" | sort | tr '\n' ' ')
check_eq "no two gateway modules call each other" "" "$cycles"
# transitive: none reaches itself through others
loops=$(awk '{ e[$1] = e[$1] " " $2 } END {
	for (a in e) { delete seen; n = split(e[a], q, " "); head = 1;
		for (i = 1; i <= n; i++) stack[i] = q[i]; top = n;
		while (top > 0) { x = stack[top--]; if (x == a) { print a; break } if (x in seen) continue; seen[x] = 1;
			m = split(e[x], r, " "); for (j = 1; j <= m; j++) stack[++top] = r[j] } } }' "$T/edges" | sort | tr '\n' ' ')
check_eq "no gateway module reaches itself through others" "" "$loops"
# (the rooms' own names: each module's object file by its name)
obj() { ls */"$1".o 2>/dev/null || echo "missing-$1.o"; }
bad=$(awk 'NR == FNR { room[$1] = $2; next } room[$1] == "data" && room[$2] == "admin" { print $1 "->" $2 }' "$T/rooms" "$T/edges" | tr '\n' ' ')
check_eq "the data plane calls nothing of the control plane (admin)" "" "$bad"
bad=$(nm -u $(obj budget) $(obj price) $(obj policy) $(obj ratelimit) 2>/dev/null | awk '$2 ~ /^(sqlite3_|store_)/ { print $2 }' | sort -u | tr '\n' ' ')
check_eq "the money and policy stages call no store or SQLite function directly" "" "$bad"
bad=$(nm -u $(obj budget) | awk '$2 ~ /^(store_|sqlite3_|audit|alert_|gw_|ledger_|metrics_)/ { print $2 }' | tr '\n' ' ')
check_eq "budget.o is pure: no store, audit, alert, log or clock of the gateway" "" "$bad"
sqlusers=$(for o in */*.o main.o; do nm -u "$o" | grep -q ' sqlite3_' && basename "${o%.o}"; done | tr '\n' ' ')
check_eq "only the store talks SQL" "store_sqlite store_sqlite_read " "$sqlusers"
pgusers=$(for o in */*.o main.o; do nm -u "$o" | grep -qE ' PQ[a-z]' && basename "${o%.o}"; done | tr '\n' ' ')
check_eq "only the PostgreSQL store talks to PostgreSQL" "store_pg store_pg_cluster store_pg_conn " "$pgusers"
redisusers=$(for o in */*.o main.o; do nm -u "$o" | grep -qE ' (redis[A-Z]|freeReplyObject)' && basename "${o%.o}"; done | tr '\n' ' ')
check_eq "only the Redis counters talk to Redis" "counters_redis counters_redis_cap " "$redisusers"
bad=$(for o in proxy policy budget ratelimit; do nm -u "$(obj $o)" | awk -v o=$o '$2 ~ /^store_cl_/ { print o ":" $2 }'; done | tr '\n' ' ')
check_eq "the data plane never reaches the cluster's store calls directly" "" "$bad"
# groqtop's modules: the same rule as the gateway's (no two call each
# other, none reaches itself through others); the app's state, polling and
# frame name no view (main.c gives them theirs)
C="$O/src/console"
cd "$C" || exit 1
: > "$T/cdefs"
: > "$T/cuses"
for o in *.o; do
	m=${o%.o}
	nm --defined-only -g "$o" | awk '$2 ~ /[TDBR]/ { print $3 }' | sed "s/^/$m /" >> "$T/cdefs"
	nm -u "$o" | awk '{ print $2 }' | sed "s/^/$m /" >> "$T/cuses"
done
awk 'NR == FNR { def[$2] = $1; next } ($2 in def) && def[$2] != $1 { print $1, def[$2] }' "$T/cdefs" "$T/cuses" | sort -u > "$T/cedges"
check "the console's module graph has edges ($(wc -l < "$T/cedges"))" test "$(wc -l < "$T/cedges")" -ge 40
cycles=$(awk '{ e[$1 " " $2] = 1 } END { for (k in e) { split(k, p, " "); if ((p[2] " " p[1]) in e && p[1] < p[2]) print p[1] "<->" p[2] } }' "$T/cedges" | sort | tr '\n' ' ')
check_eq "no two console modules call each other" "" "$cycles"
loops=$(awk '{ e[$1] = e[$1] " " $2 } END {
	for (a in e) { delete seen; n = split(e[a], q, " ");
		for (i = 1; i <= n; i++) stack[i] = q[i]; top = n;
		while (top > 0) { x = stack[top--]; if (x == a) { print a; break } if (x in seen) continue; seen[x] = 1;
			m = split(e[x], r, " "); for (j = 1; j <= m; j++) stack[++top] = r[j] } } }' "$T/cedges" | sort | tr '\n' ' ')
check_eq "no console module reaches itself through others" "" "$loops"
named=$(for m in app state; do nm -u "$m.o" | awk -v m=$m '$2 ~ /^(view_|bindings|console_views)/ { print m ":" $2 }'; done | tr '\n' ' ')
check_eq "the app's state, polling and frame name no view and no binding" "" "$named"
cd "$G" || exit 1
check_eq "src/common defines nothing of Groq's (its error shape is src/groq's)" 0 \
	"$(nm --defined-only "$O"/src/common/*.o | grep -ci groq)"
cd "$ROOT" || exit 1
check_eq "groqtop does not link libevent" 0 "$(ldd "$BIN/groqtop" | grep -c libevent)"
check_eq "nor the HTTP server" 0 "$(nm "$BIN/groqtop" 2>/dev/null | grep -c ' T httpd_')"
check_eq "groqgated does not link curses" 0 "$(ldd "$BIN/groqgated" | grep -c -e ncurses -e tinfo)"
curses=$(cd "$O/src/console" && for o in *.o; do nm -u "$o" | grep -qE ' (initscr|newwin|wrefresh|mvwaddnwstr|endwin|getch|wgetch|newterm|doupdate|wnoutrefresh)$' && echo "${o%.o}"; done | tr '\n' ' ')
check "only the console's UI files call curses ($curses)" bash -c "! printf '%s' '$curses' | grep -qw -e model -e theme -e client"
done_testing
