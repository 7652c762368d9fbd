# The layering, read from the built objects themselves (nm): no two
# gateway modules call each other (in either direction through the other);
# the data plane (proxy and its stages) never calls the control plane
# (admin routes, rotation); groqtop links no HTTP server and no libevent;
# only the store talks SQL, and only the console's UI files curses.
source "$(dirname "$0")/../lib.sh"
O=${O:-build/default}
case "$O" in /*) ;; *) O="$ROOT/$O" ;; esac
G="$O/src/gateway"
[ -d "$G" ] || { fail "no objects in $G (build first)"; done_testing; }
cd "$G" || exit 1
for o in *.o; do
	nm --defined-only -g "$o" | awk '$2 ~ /[TDBR]/ { print $3 }' | sed "s/^/${o%.o} /" >> "$T/defs"
	nm -u "$o" | awk '{ print $2 }' | sed "s/^/${o%.o} /" >> "$T/uses"
done
# edges "A B": A calls (or reads) something B defines
awk 'NR == FNR { def[$2] = $1; next } ($2 in def) && def[$2] != $1 { print $1, def[$2] }' "$T/defs" "$T/uses" | sort -u > "$T/edges"
check "the module graph has edges ($(wc -l < "$T/edges"))" test "$(wc -l < "$T/edges")" -ge 20
cycles=$(awk '{ e[$1 " " $2] = 1 } END { for (k in e) { split(k, p, " "); if ((p[2] " " p[1]) in e && p[1] < p[2]) print p[1] "<->" p[2] } }' "$T/edges" | sort | tr '\n' ' ')
check_eq "no two gateway modules call each other" "" "$cycles"
# transitive: none reaches itself through others
loops=$(awk '{ e[$1] = e[$1] " " $2 } END {
	for (a in e) { delete seen; n = split(e[a], q, " "); head = 1;
		for (i = 1; i <= n; i++) stack[i] = q[i]; top = n;
		while (top > 0) { x = stack[top--]; if (x == a) { print a; break } if (x in seen) continue; seen[x] = 1;
			m = split(e[x], r, " "); for (j = 1; j <= m; j++) stack[++top] = r[j] } } }' "$T/edges" | sort | tr '\n' ' ')
check_eq "no gateway module reaches itself through others" "" "$loops"
for dp in proxy proxy_read proxy_model proxy_bill proxy_answer proxy_record policy budget meter ratelimit price routes reqbody enduser; do
	bad=$(awk -v a="$dp" '$1 == a && ($2 ~ /^admin/ || $2 == "rotation") { print $2 }' "$T/edges" | tr '\n' ' ')
	check_eq "the data plane's $dp.o calls no control-plane module" "" "$bad"
done
bad=$(nm -u budget.o price.o policy.o ratelimit.o 2>/dev/null | awk '$2 ~ /^(sqlite3_|store_)/ { print $2 }' | sort -u | tr '\n' ' ')
check_eq "the money and policy stages call no store or SQLite function directly" "" "$bad"
bad=$(nm -u budget.o | awk '$2 ~ /^(store_|sqlite3_|audit|alert_|gw_|ledger_|metrics_)/ { print $2 }' | tr '\n' ' ')
check_eq "budget.o is pure: no store, audit, alert, log or clock of the gateway" "" "$bad"
sqlusers=$(for o in *.o; do nm -u "$o" | grep -q ' sqlite3_' && echo "${o%.o}"; done | tr '\n' ' ')
check_eq "only the store talks SQL" "store_sqlite " "$sqlusers"
pgusers=$(for o in *.o; do nm -u "$o" | grep -qE ' PQ[a-z]' && echo "${o%.o}"; done | tr '\n' ' ')
check_eq "only the PostgreSQL store talks to PostgreSQL" "store_pg store_pg_conn " "$pgusers"
redisusers=$(for o in *.o; do nm -u "$o" | grep -qE ' (redis[A-Z]|freeReplyObject)' && echo "${o%.o}"; done | tr '\n' ' ')
check_eq "only the Redis counters talk to Redis" "counters_redis " "$redisusers"
bad=$(for o in proxy policy budget ratelimit; do nm -u "$o.o" | awk -v o=$o '$2 ~ /^store_cl_/ { print o ":" $2 }'; done | tr '\n' ' ')
check_eq "the data plane never reaches the cluster's store calls directly" "" "$bad"
check_eq "src/common defines nothing of Groq's (its error shape is src/groq's)" 0 \
	"$(nm --defined-only "$O"/src/common/*.o | grep -ci groq)"
cd "$ROOT" || exit 1
check_eq "groqtop does not link libevent" 0 "$(ldd "$BIN/groqtop" | grep -c libevent)"
check_eq "nor the HTTP server" 0 "$(nm "$BIN/groqtop" 2>/dev/null | grep -c ' T httpd_')"
check_eq "groqgated does not link curses" 0 "$(ldd "$BIN/groqgated" | grep -c -e ncurses -e tinfo)"
curses=$(cd "$O/src/console" && for o in *.o; do nm -u "$o" | grep -qE ' (initscr|newwin|wrefresh|mvwaddnwstr|endwin|getch|wgetch|newterm|doupdate|wnoutrefresh)$' && echo "${o%.o}"; done | tr '\n' ' ')
check "only the console's UI files call curses ($curses)" bash -c "! printf '%s' '$curses' | grep -qw -e model -e theme -e client"
done_testing
