# Running groqgated as operators do: the systemd unit (systemd-analyze
# verify and security), readiness and the watchdog over a real
# NOTIFY_SOCKET, --check-config, the Prometheus rules (promtool), the
# metrics' names (promtool check metrics), Debian's real prometheus server
# scraping the gateway and answering a query, and the Grafana dashboard's
# expressions against what the gateway exports.
source "$(dirname "$0")/../lib.sh"
UNIT="$ROOT/packaging/groqgated.service"

# ---- the systemd unit
sed -e "s|/usr/bin/groqgated|$BIN/groqgated|g" "$UNIT" > "$T/groqgated.service"
out=$(systemd-analyze verify --man=no "$T/groqgated.service" 2>&1)
check_eq "systemd-analyze verify: clean" "" "$out"
sec=$(systemd-analyze security --offline=true "$T/groqgated.service" 2>&1 | sed -n 's/.*Overall exposure level for groqgated.service: \([0-9.]*\).*/\1/p')
check "systemd-analyze security: exposure $sec (at most 2.0, OK or better)" awk -v e="$sec" 'BEGIN { exit !(e != "" && e <= 2.0) }'
for k in Type=notify ExecReload= "ExecStartPre=$BIN/groqgated --check-config" NoNewPrivileges=yes ProtectSystem=strict \
	ProtectHome=yes PrivateTmp=yes RestrictAddressFamilies= SystemCallFilter=@system-service StateDirectory=groqgate \
	ConfigurationDirectory=groqgate User=groqgate WatchdogSec=; do
	check_contains "the unit sets $k" "$k" "$(cat "$T/groqgated.service")"
done

# ---- --check-config: every problem as FILE:LINE: setting: what
start_fakegroq
write_gateway_config
"$BIN/groqgated" --check-config "$T/gw.conf" > "$T/cc.out" 2>&1
check_eq "a good configuration: exit 0" "0" "$?"
check_contains "saying so" "OK" "$(cat "$T/cc.out")"
cp "$T/gw.conf" "$T/bad.conf"
chmod 644 "$T/admin-tokens"
printf 'tls = { cert = "%s/none.pem"; key = "%s/none.key"; };\nlog = { path = "/nonexistent/dir/gw.log"; };\n' "$T" "$T" >> "$T/bad.conf"
sed -i '/^log = { path = "[^"]*groqgated.log"; };$/d' "$T/bad.conf"
"$BIN/groqgated" --check-config "$T/bad.conf" > "$T/cc.out" 2>&1
rc=$?
check_eq "problems: exit 1" 1 "$rc"
line=$(grep -n '^admin = ' "$T/bad.conf" | cut -d: -f1)
check_contains "the loose tokens file, with its line" "$T/bad.conf:$line: admin.tokens_file:" "$(cat "$T/cc.out")"
check_contains "the TLS files" "tls.cert:" "$(cat "$T/cc.out")"
check_contains "the log's folder" "log.path: /nonexistent/dir/gw.log cannot be created" "$(cat "$T/cc.out")"
check_eq "one line per problem" 3 "$(wc -l < "$T/cc.out")"
chmod 600 "$T/admin-tokens"
printf 'limits = { max_body_bytes = "big"; };\n' > "$T/bad2.conf"
"$BIN/groqgated" --check-config "$T/bad2.conf" > "$T/cc.out" 2>&1
check_contains "a wrong type: FILE:LINE: setting: what" "$T/bad2.conf:1: limits.max_body_bytes:" "$(cat "$T/cc.out")"

# ---- readiness, the watchdog and stopping, over a real notify socket
cat > "$T/notify.py" <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(20)
with open(sys.argv[2], "a", buffering=1) as out:
    while True:
        try:
            out.write(s.recv(4096).decode() + "\n")
        except socket.timeout:
            break
PY
python3 "$T/notify.py" "$T/notify.sock" "$T/notify.log" &
PIDS="$PIDS $!"
wait_for "the notify socket" 5 test -S "$T/notify.sock"
NOTIFY_SOCKET="$T/notify.sock" WATCHDOG_USEC=200000 start_gateway
check "READY=1 once the listeners are open and the store is loaded" wait_for "READY=1" 5 grep -qx 'READY=1' "$T/notify.log"
check "the watchdog is fed (WATCHDOG=1 at half of WatchdogSec)" wait_eval "two WATCHDOG=1" 5 '[ "$(grep -cx WATCHDOG=1 "$T/notify.log")" -ge 2 ]'
stop_gateway
check_eq "STOPPING=1 while draining, and a clean exit" "0 STOPPING=1" "$GW_RC $(grep -x STOPPING=1 "$T/notify.log")"
check_contains "the log goes to stderr as JSON lines without log.path" '"msg":"groqgated started"' \
	"$(sed '/^log = /d' "$T/gw.conf" > "$T/stderr.conf"; "$BIN/groqgated" --config "$T/stderr.conf" 2> "$T/stderr.log" > "$T/a2" &
	   p=$!; wait_for started 5 grep -q started "$T/stderr.log"; kill $p; wait $p; head -1 "$T/stderr.log")"
check "every stderr line is JSON" bash -c "jq -e . '$T/stderr.log' > /dev/null"

# ---- Prometheus: rules unit-tested, metric names, a real scrape
cd "$ROOT/examples/prometheus" || exit 1
out=$(promtool check rules groqgate.rules.yml 2>&1)
check_contains "promtool check rules" "SUCCESS" "$out"
out=$(promtool test rules groqgate.rules.test.yml 2>&1)
check_contains "promtool test rules: every alert fires when it should" "SUCCESS" "$out"
cd "$ROOT" || exit 1
start_gateway
create_team alpha
create_key alpha-prod-api alpha "$KEY1"
new_token alpha
chat "$TOKEN" llama-3.3-70b-versatile
check_eq "traffic" 200 "$STATUS"
api POST /admin/v1/teams '{"id":"broke","name":"Broke","allowed_models":["llama-3.3-70b-versatile"],"max_tokens_per_request":100,"rpm_limit":100,"monthly_budget_usd":0.0000001}'
curl -s "http://$GW/metrics" > "$T/metrics.txt"
out=$(promtool check metrics < "$T/metrics.txt" 2>&1)
check_eq "promtool check metrics: names and help follow Prometheus' conventions" "" "$out"
PPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$T/prometheus.yml" <<YML
global: { scrape_interval: 1s, evaluation_interval: 1s }
rule_files: [ "$ROOT/examples/prometheus/groqgate.rules.yml" ]
scrape_configs:
  - job_name: groqgated
    static_configs: [ { targets: [ "$GW" ] } ]
YML
prometheus --config.file="$T/prometheus.yml" --storage.tsdb.path="$T/prom" --web.listen-address="127.0.0.1:$PPORT" \
	> "$T/prometheus.log" 2>&1 &
PIDS="$PIDS $!"
q() { curl -s --get "http://127.0.0.1:$PPORT/api/v1/query" --data-urlencode "query=$1"; }
check "Prometheus scrapes groqgated (up == 1)" wait_eval "a scrape" 20 \
	'[ "$(q "up{job=\"groqgated\"}" | jq -r ".data.result[0].value[1]")" = 1 ]'
check_eq "and reads a metric back through its query API" 1 \
	"$(q 'groqgate_requests_total{team="alpha",status="200"}' | jq -r '.data.result[0].value[1]')"
check_eq "the rules load in the real server" ok \
	"$(curl -s "http://127.0.0.1:$PPORT/api/v1/rules" | jq -r 'if (.data.groups[0].rules | length) == 9 then "ok" else . end')"

# ---- Grafana: every expression names metrics the gateway exports
api POST /admin/v1/keys/alpha-prod-api/rotation "{\"new_secret\":\"$KEY2\"}"
# (a metric is exported when its TYPE is: a counter by kind has no series
# before its first alert)
curl -s "http://$GW/metrics" | awk '/^# TYPE / { print $3 } !/^#/ { sub(/[{ ].*/, ""); print }' | sed -E 's/_(bucket|sum|count)$//' | sort -u > "$T/exported"
jq -r '.. | .expr? // empty' "$ROOT/examples/grafana/groqgate.json" | grep -o 'groqgate_[a-z_]*' | sed -E 's/_(bucket|sum|count)$//' | sort -u > "$T/used"
check "the dashboard has panels" test "$(wc -l < "$T/used")" -ge 10
check_eq "every metric the dashboard uses is exported" "" "$(comm -23 "$T/used" "$T/exported" | tr '\n' ' ')"
grep -o 'groqgate_[a-z_]*' "$ROOT/examples/prometheus/groqgate.rules.yml" | sort -u > "$T/rules-used"
check_eq "every metric the alert rules use is exported" "" "$(comm -23 "$T/rules-used" "$T/exported" | tr '\n' ' ')"
done_testing
