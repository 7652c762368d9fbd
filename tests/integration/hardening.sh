# The third round's hardening, each with the failure it fixes:
# alert thresholds across a restart (stored values replace the defaults,
# never appended to them), "already crossed" exact at a $1e9 budget on
# start-up, on a PATCH and across a restart (no 64-bit overflow).
source "$(dirname "$0")/../lib.sh"
setup_basic

# ---- thresholds across a restart
api GET /admin/v1/teams/alpha
v0=$(jq_body .version)
check_eq "a new team has the default thresholds" "[50,80,95]" "$(printf %s "$BODY" | jq -c .alert_thresholds)"
api PATCH /admin/v1/teams/alpha '{"alert_thresholds":[25,90]}' -H "If-Match: $v0"
check_eq "thresholds set" "200 [25,90]" "$STATUS $(printf %s "$BODY" | jq -c .alert_thresholds)"
api POST /admin/v1/teams '{"id":"beta","name":"Team beta","allowed_models":["llama-3.3-70b-versatile"],"max_tokens_per_request":100,"rpm_limit":100,"monthly_budget_usd":1000000000}'
check_eq "a team with a budget of \$1e9" 201 "$STATUS"
create_key beta-prod-api beta "$KEY2"
new_token beta
BTOK=$TOKEN
chat "$BTOK" llama-3.3-70b-versatile '"max_tokens":5'
check_eq "beta spends" 200 "$STATUS"
stop_gateway
check_eq "the gateway stopped cleanly" 0 "$GW_RC"
start_gateway
api GET /admin/v1/teams/alpha
check_eq "after a restart the thresholds are the stored ones, not appended to the defaults" "[25,90]" \
	"$(printf %s "$BODY" | jq -c .alert_thresholds)"
check_eq "and the version did not move" "$((v0 + 1))" "$(jq_body .version)"
stop_gateway
start_gateway
api GET /admin/v1/teams/alpha
check_eq "a second restart: still the stored ones" "[25,90]" "$(printf %s "$BODY" | jq -c .alert_thresholds)"
api GET /admin/v1/teams/beta
check_eq "the \$1e9 team survived the restart (no overflow on start-up)" "active" "$(jq_body .state)"
# the start-up decided no threshold was crossed: a budget lowered to put the
# spend at 62.5 % alerts 50 % now (with the 64-bit product, 50 x 1e18
# wrapped negative, every threshold counted as crossed at start-up, and the
# 50 % alert was lost for the month)
spend=$(jq_body .spend_mtd_usd)
check "beta has spent something" awk -v s="$spend" 'BEGIN { exit !(s > 0) }'
bv=$(jq_body .version)
api PATCH /admin/v1/teams/beta "{\"monthly_budget_usd\":$(awk -v s="$spend" 'BEGIN { printf "%.9f", s * 1.6 }')}" -H "If-Match: $bv"
check_eq "the budget lowered" 200 "$STATUS"
api GET /admin/v1/alerts
check_eq "the 50 % alert came, and only it" "crossed 50%" \
	"$(printf %s "$BODY" | jq -r '[(.alerts? // .)[] | select(.team=="beta" and .kind=="budget_threshold") | .message] | map(capture("(?<c>crossed [0-9]+%)").c) | join(",")')"
stop_gateway
check_eq "stopped cleanly" 0 "$GW_RC"

# ---- the Groq metrics key file is refused as the tokens file is
printf '%s\n' "$KEY5" > "$T/metrics-key"
chmod 640 "$T/metrics-key"
cp "$T/gw.conf" "$T/gw-base.conf"
printf 'groq_metrics = { key_file = "%s"; interval_s = 30; };\n' "$T/metrics-key" >> "$T/gw.conf"
out=$("$BIN/groqgated" --check-config "$T/gw.conf" 2>&1)
check_eq "--check-config: a group-readable metrics key file fails" 1 "$?"
check_contains "naming the setting and the mode" "groq_metrics.key_file: $T/metrics-key: permissions 0640 are too open" "$out"
check_not_contains "without the key" "$KEY5" "$out"
"$BIN/groqgated" --config "$T/gw.conf" > /dev/null 2> "$T/start.err" &
spid=$!
wait_eval "the gateway to refuse to start" 10 '! kill -0 $spid'
wait $spid
check_eq "groqgated refuses to start with it" 1 "$?"
check_contains "saying why" "groq_metrics.key_file" "$(cat "$T/start.err")"
chmod 600 "$T/metrics-key"
"$BIN/groqgated" --check-config "$T/gw.conf" > /dev/null 2>&1
check_eq "mode 600: accepted" 0 "$?"
cp "$T/gw-base.conf" "$T/gw.conf"

# ---- connections: idle ones are shed at limits.max_connections, a head
# must be whole within limits.header_timeout_s
sed -i 's/^log = /limits = { max_connections = 40; header_timeout_s = 2; };\nlog = /' "$T/gw.conf"
start_gateway
out=$(python3 - "${GW%:*}" "${GW##*:}" "$TOKEN" <<'PY'
import socket, sys, time
host, port, tok = sys.argv[1], int(sys.argv[2]), sys.argv[3]
idle = []
for i in range(60):          # 60 unauthenticated connections that say nothing
    s = socket.create_connection((host, port)); idle.append(s); time.sleep(0.005)
time.sleep(0.3)
c = socket.create_connection((host, port), timeout=5)   # a real caller still gets in
c.sendall(("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").encode())
status = c.recv(64).split(b" ")[1].decode()
closed = 0
for s in idle:
    s.setblocking(False)
    try:
        closed += s.recv(1) == b""
    except BlockingIOError:
        pass
print(status, closed)
PY
)
check_eq "past max_connections a caller is still served" 200 "${out% *}"
check "the longest-idle connections were shed to make room (${out#* } of 60 closed)" test "${out#* }" -ge 20
check "the shedding is counted" test "$(curl -s "http://$GW/metrics" | awk '$1 == "groqgate_connections_shed_total" { print $2 }')" -ge 20
out=$(python3 - "${GW%:*}" "${GW##*:}" <<'PY'
import socket, sys, time
host, port = sys.argv[1], int(sys.argv[2])
slow = socket.create_connection((host, port)); silent = socket.create_connection((host, port))
slow.sendall(b"GET /healthz HTTP/1.1\r\nHo")   # a head that never completes
t0 = time.time(); res = []
for s in (slow, silent):
    s.settimeout(8)
    try:
        res.append("closed" if s.recv(64) == b"" else "answered")
    except socket.timeout:
        res.append("open")
print(" ".join(res), round(time.time() - t0))
PY
)
check_eq "a head trickled past header_timeout_s, a silent connection: both closed" "closed closed" "$(echo "$out" | cut -d' ' -f1-2)"
check "within about header_timeout_s (2 s): $(echo "$out" | cut -d' ' -f3) s" test "$(echo "$out" | cut -d' ' -f3)" -le 4
stop_gateway
cp "$T/gw-base.conf" "$T/gw.conf"
done_testing
