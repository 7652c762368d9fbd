# tests/lib.sh — shared by the integration tests: temporary folder, real
# processes on loopback with free ports, cleanup on any exit, TAP-style
# results. Each test script sources it and calls ok/fail (via check_*).
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${BIN:-bin}
case "$BIN" in /*) ;; *) BIN="$ROOT/$BIN" ;; esac
T=$(mktemp -d "${TMPDIR:-/tmp}/gg-test.XXXXXX")
PIDS=""
FAILED=0
PASSED=0
TEST_NAME=$(basename "$0")

cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	for p in $PIDS; do
		for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$p" 2>/dev/null
	done
	if [ "$FAILED" -gt 0 ]; then
		for f in "$T"/*.log; do
			[ -f "$f" ] || continue
			echo "# ---- $(basename "$f") (last 40 lines) ----"
			tail -n "${LOG_LINES:-40}" "$f" | sed 's/^/# /'
		done
	fi
	rm -rf "$T" ${EXTRA_DIRS:-}
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ok()   { PASSED=$((PASSED + 1)); echo "ok - $TEST_NAME: $*"; }
fail() { FAILED=$((FAILED + 1)); echo "not ok - $TEST_NAME: $*"; }
check() { # check "description" command...
	local d=$1; shift
	if "$@"; then ok "$d"; else fail "$d"; fi
}
check_eq() { # check_eq "description" expected actual
	if [ "$2" = "$3" ]; then ok "$1"; else fail "$1 (expected '$2', got '$3')"; fi
}
check_contains() { # check_contains "description" needle haystack
	case "$3" in *"$2"*) ok "$1" ;; *) fail "$1 (no '$2' in: $(printf %s "$3" | head -c 400))" ;; esac
}
check_not_contains() {
	case "$3" in *"$2"*) fail "$1 (found '$2')" ;; *) ok "$1" ;; esac
}
done_testing() { exit $((FAILED > 0)); }

# wait_for, wait_eval, first_line, free_port, sha
source "$ROOT/scripts/lib.sh"

KEY1=gsk_testAAAAAAAAAAAAAAAAAAAAAAAAAAAA0001
KEY2=gsk_testBBBBBBBBBBBBBBBBBBBBBBBBBBBB0002
KEY3=gsk_testCCCCCCCCCCCCCCCCCCCCCCCCCCCC0003
KEY4=gsk_testDDDDDDDDDDDDDDDDDDDDDDDDDDDD0004
KEY5=gsk_testEEEEEEEEEEEEEEEEEEEEEEEEEEEE0005

# start_fakegroq [flags...] : sets FAKE (host:port) and FAKE_PID
start_fakegroq() {
	[ -f "$T/fake-keys" ] || printf '%s\n' "$KEY1" "$KEY2" "$KEY3" "$KEY4" "$KEY5" > "$T/fake-keys"
	"$BIN/fakegroq" --listen 127.0.0.1:0 --keys "$T/fake-keys" --chunk-delay-ms 5 "$@" \
		> "$T/fake.addr" 2> "$T/fakegroq.log" &
	FAKE_PID=$!
	PIDS="$PIDS $FAKE_PID"
	FAKE=$(first_line "$T/fake.addr") || { fail "fakegroq did not start"; exit 1; }
}


# what the scripts read of the processes they run (one copy, here):
# a header of the last chat call's answer (HEADERS), a metric of the
# gateway's /metrics, a key's figure in fakegroq's stats (0 when absent),
# a process's resident memory in KiB and its CPU time in clock ticks
hdr() { printf '%s\n' "${HEADERS:-}" | tr -d '\r' | grep -i "^$1:" | head -1 | cut -d' ' -f2-; }
metric() { curl -s --max-time 5 "http://$GW/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }
fstat() { curl -s --max-time 5 "http://$FAKE/_fake/stats" | jq -r --arg k "$1" ".keys[\$k].$2 // 0"; }
rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status" 2>/dev/null; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# a process's CPU time in nanoseconds, all its threads (the scheduler's
# own count: a tick of cpu_ticks is 10 ms, too coarse for an idle program)
cpu_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ n += $1 } END { printf "%d\n", n }'; }

# write_gateway_config [extra libconfig text] : $T/gw.conf and tokens
write_gateway_config() {
	OP_TOKEN=ggadm_operator_$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
	VIEW_TOKEN=ggadm_viewer_$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
	umask 077
	printf 'alice operator %s\nwally viewer %s\n' "$(sha "$OP_TOKEN")" "$(sha "$VIEW_TOKEN")" > "$T/admin-tokens"
	umask 022
	cat > "$T/gw.conf" <<CONF
listen = "127.0.0.1:0";
upstream = { base_url = "http://$FAKE"; timeout_ms = 5000; };
store = { path = "$T/gw.db"; };
admin = { tokens_file = "$T/admin-tokens"; };
log = { path = "$T/groqgated.log"; };
prices = (
  { model = "llama-3.3-70b-versatile"; input_per_mtok = 0.59; output_per_mtok = 0.79; },
  { model = "llama-3.1-8b-instant"; input_per_mtok = 0.05; output_per_mtok = 0.08; },
  { model = "openai/gpt-oss-20b"; input_per_mtok = 0.075; output_per_mtok = 0.30; },
  { model = "qwen/qwen3-32b"; input_per_mtok = 0.29; output_per_mtok = 0.59; },
  { model = "whisper-large-v3-turbo"; per_audio_hour = 0.04; },
  { model = "canopylabs/orpheus-v1-english"; per_mchar = 22.0; }
);
${1:-}
CONF
}

# start_gateway : runs bin/groqgated on $T/gw.conf; sets GW and GW_PID
start_gateway() {
	: > "$T/gw.addr"
	"$BIN/groqgated" --config "$T/gw.conf" > "$T/gw.addr" 2> "$T/groqgated-stderr.log" &
	GW_PID=$!
	PIDS="$PIDS $GW_PID"
	GW=$(first_line "$T/gw.addr") || { fail "groqgated did not start"; cat "$T/groqgated-stderr.log"; exit 1; }
}

stop_gateway() { # SIGTERM and wait
	kill "$GW_PID" 2>/dev/null
	wait "$GW_PID" 2>/dev/null
	GW_RC=$?
}

# api METHOD PATH [BODY] [extra curl args] : sets STATUS and BODY
api_as() {
	local tok=$1 m=$2 p=$3 b=${4:-}; shift 4 2>/dev/null || shift $#
	local args=(-s --max-time 30 -o "$T/resp" -w '%{http_code}' -X "$m" -H "Authorization: Bearer $tok")
	[ -n "$b" ] && args+=(-H 'Content-Type: application/json' --data-binary "$b")
	STATUS=$(curl "${args[@]}" "$@" "http://$GW$p")
	BODY=$(cat "$T/resp")
}
api() { api_as "$OP_TOKEN" "$@"; }
jq_body() { printf %s "$BODY" | jq -r "$1"; }

# create_team ID [json overrides] ; create_key NAME TEAM SECRET ; new_token TEAM -> TOKEN
create_team() {
	local id=$1 extra=${2:-}
	api POST /admin/v1/teams "{\"id\":\"$id\",\"name\":\"Team $id\",\"allowed_models\":[\"llama-3.3-70b-versatile\",\"llama-3.1-8b-instant\"],\"max_tokens_per_request\":100,\"rpm_limit\":1000,\"monthly_budget_usd\":100${extra:+,$extra}}"
	[ "$STATUS" = 201 ] || echo "# create_team $id: $STATUS $BODY"
}
create_key() {
	api POST /admin/v1/keys "{\"name\":\"$1\",\"team\":\"$2\",\"secret\":\"$3\"}"
	[ "$STATUS" = 201 ] || echo "# create_key $1: $STATUS $BODY"
}
new_token() {
	api POST "/admin/v1/teams/$1/tokens" "{\"label\":\"test\"${2:+,\"key\":\"$2\"}}"
	TOKEN=$(jq_body .token)
	TOKEN_ID=$(jq_body .id)
}

# chat TOKEN MODEL [extra json] : POST a chat completion; STATUS and BODY
chat() {
	local tok=$1 model=$2 extra=${3:-}
	STATUS=$(curl -s --max-time 30 -o "$T/resp" -D "$T/resp.h" -w '%{http_code}' -H "Authorization: Bearer $tok" \
		-H 'Content-Type: application/json' \
		--data-binary "{\"model\":\"$model\",\"messages\":[{\"role\":\"user\",\"content\":\"hello gateway\"}]${extra:+,$extra}}" \
		"http://$GW/openai/v1/chat/completions")
	BODY=$(cat "$T/resp")
	HEADERS=$(cat "$T/resp.h")
}

# the ledger as the store holds it: a running gateway journals each
# answer's row and moves rows into the store within milliseconds; wait for
# its journal to be empty first (the gateway's own metric says so)
# race N TOKEN BODY OUT GATEWAY... : N chat requests at once, round-robin
# over the gateways (host:port), each answer's status a line of OUT;
# returns once all N answered (or after 30 s)
race() {
	local n=$1 tok=$2 body=$3 out=$4 j
	shift 4
	local gws=("$@")
	: > "$out"
	for j in $(seq 1 "$n"); do
		curl -s -o /dev/null -w '%{http_code}\n' --max-time 20 -H "Authorization: Bearer $tok" \
			-H 'Content-Type: application/json' --data-binary "$body" \
			"http://${gws[$(( j % ${#gws[@]} ))]}/openai/v1/chat/completions" >> "$out" &
	done
	wait_eval "$n answers" 30 "[ \"\$(wc -l < '$out')\" -ge $n ]"
}
journal_rows() { curl -s --max-time 2 "http://$GW/metrics" | awk '$1 == "groqgate_ledger_journal_rows" { print $2 }'; }
sql() {
	if [ -n "${GW:-}" ] && [ -n "${GW_PID:-}" ] && kill -0 "$GW_PID" 2>/dev/null; then
		wait_eval "the ledger journal to reach the store" 10 \
			'[ "$(journal_rows)" = 0 ] || ! kill -0 "$GW_PID"' >&2
	fi
	sqlite3 "$T/gw.db" "$1"
}

# standard set-up: fakegroq + gateway + team "alpha" with a key and token
setup_basic() {
	start_fakegroq "$@"
	write_gateway_config "${GW_EXTRA:-}"
	start_gateway
	create_team alpha "${TEAM_EXTRA:-}"
	create_key alpha-prod-api alpha "$KEY1"
	new_token alpha
}
