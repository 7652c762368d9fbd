# TLS on the listener with a certificate made here; alerts delivered to a
# webhook (Slack-compatible JSON), retried when the receiver fails.
source "$(dirname "$0")/../lib.sh"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
	-addext "subjectAltName=IP:127.0.0.1" -keyout "$T/key.pem" -out "$T/cert.pem" > "$T/openssl.out" 2>&1 ||
	{ fail "openssl could not make a certificate"; done_testing; }

# a webhook receiver that fails its first two deliveries
cat > "$T/hook.js" <<'JS'
const http = require("http"), fs = require("fs");
let n = 0;
http.createServer((q, s) => {
  let b = ""; q.on("data", (d) => (b += d)); q.on("end", () => {
    n++;
    if (n <= 2) { s.statusCode = 503; s.end("busy"); return; }
    fs.appendFileSync(process.argv[2], b + "\n"); s.end("ok");
  });
}).listen(0, "127.0.0.1", function () { console.log(this.address().port); });
JS
node "$T/hook.js" "$T/received" > "$T/hook.port" 2> "$T/hook.log" &
PIDS="$PIDS $!"
HOOK_PORT=$(first_line "$T/hook.port")

start_fakegroq
write_gateway_config "tls = { cert = \"$T/cert.pem\"; key = \"$T/key.pem\"; };
alerts = { webhook_url = \"http://127.0.0.1:$HOOK_PORT/hook\"; };"
start_gateway
STATUS=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$T/cert.pem" "https://$GW/healthz")
check_eq "the listener speaks TLS with the configured certificate" 200 "$STATUS"
STATUS=$(curl -s -o /dev/null -w '%{http_code}' "http://$GW/healthz")
check "plain HTTP is not served on a TLS listener" test "$STATUS" != 200
STATUS=$(curl -s -o /dev/null -w '%{http_code}' "https://$GW/healthz")
check "an unknown certificate is refused by the client" test "$STATUS" = 000
# admin and data plane over TLS
STATUS=$(curl -s -o "$T/resp" -w '%{http_code}' --cacert "$T/cert.pem" -H "Authorization: Bearer $OP_TOKEN" -X POST \
	-d '{"id":"t1","allowed_models":["llama-3.3-70b-versatile"],"max_tokens_per_request":100,"rpm_limit":100,"monthly_budget_usd":0.0002}' \
	"https://$GW/admin/v1/teams")
check_eq "admin API over TLS" 201 "$STATUS"
STATUS=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$T/cert.pem" -H "Authorization: Bearer $OP_TOKEN" -X POST \
	-d "{\"name\":\"t1-prod-api\",\"team\":\"t1\",\"secret\":\"$KEY1\"}" "https://$GW/admin/v1/keys")
TOKEN=$(curl -s --cacert "$T/cert.pem" -H "Authorization: Bearer $OP_TOKEN" -X POST -d '{}' "https://$GW/admin/v1/teams/t1/tokens" | jq -r .token)
curl -sN --cacert "$T/cert.pem" -H "Authorization: Bearer $TOKEN" -d '{"model":"llama-3.3-70b-versatile","stream":true,"max_tokens":20,"messages":[{"role":"user","content":"hello gateway"}]}' \
	"https://$GW/openai/v1/chat/completions" > "$T/stream"
check_eq "a stream over TLS ends with [DONE]" "data: [DONE]" "$(grep '^data: ' "$T/stream" | tail -1)"

# the budget lowered under what the stream spent: 50/80/95 % and the
# auto-pause are alerted, and the alerts go to the webhook
curl -s -o /dev/null --cacert "$T/cert.pem" -H "Authorization: Bearer $OP_TOKEN" -X PATCH -d '{"monthly_budget_usd":0.00002}' "https://$GW/admin/v1/teams/t1"
wait_eval "webhook deliveries (after two refusals and backoff)" 20 '[ "$(cat "$T/received" 2>/dev/null | wc -l)" -ge 3 ]'
check "alerts reached the webhook despite two failed deliveries" test "$(cat "$T/received" 2>/dev/null | wc -l)" -ge 3
first=$(head -1 "$T/received")
check_contains "Slack-compatible: a text field" '"text":' "$first"
check_contains "with the alert's kind and team" '"kind":"budget_threshold"' "$first"
check_contains "and its team" '"team":"t1"' "$first"
check "delivery retries were logged" grep -q 'webhook delivery failed, will retry' "$T/groqgated.log"
done_testing
