# The gateway's own HTTP/1.1 client (upstream.c) against a server that
# answers every way HTTP allows and some ways it does not: chunked with
# extensions and trailers, a body ended by close, HTTP/1.0, 100 Continue, a
# head split across writes, a kept-alive connection the server closed
# (retried once, fresh, unless Groq had the whole POST: never sent twice), garbage, huge headers, broken chunks, a refused
# port, a name that does not resolve; then TLS to a second gateway,
# verified against upstream.ca_file, and refused without it.
source "$(dirname "$0")/../lib.sh"

# the odd server: the mode is the user message of each request
cat > "$T/odd.js" <<'JS'
const net = require("net");
const usage = (id) => JSON.stringify({ id, object: "chat.completion", model: "llama-3.1-8b-instant",
  choices: [{ index: 0, message: { role: "assistant", content: "odd" }, finish_reason: "stop" }],
  usage: { prompt_tokens: 5, completion_tokens: 7, total_tokens: 12 } });
const srv = net.createServer((sock) => {
  let buf = Buffer.alloc(0);
  sock.on("data", (d) => {
    buf = Buffer.concat([buf, d]);
    for (;;) {
      const he = buf.indexOf("\r\n\r\n");
      if (he < 0) return;
      const head = buf.slice(0, he).toString();
      const m = /content-length: *(\d+)/i.exec(head);
      const len = m ? +m[1] : 0;
      if (buf.length < he + 4 + len) return;
      const body = buf.slice(he + 4, he + 4 + len).toString();
      buf = buf.slice(he + 4 + len);
      let mode = "plain";
      try { mode = JSON.parse(body).messages[0].content; } catch (e) {}
      const ae = /accept-encoding: *([^\r]*)/i.exec(head);
      answer(sock, mode, ae ? ae[1] : "");
    }
  });
  sock.on("error", () => {});
});
function answer(sock, mode, acceptEncoding) {
  const b = usage("odd-" + mode);
  const cl = (extra = "") => `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(b)}\r\n${extra}\r\n${b}`;
  switch (mode) {
  case "chunked": {
    const a = b.slice(0, 10), c = b.slice(10, 50), d = b.slice(50);
    sock.write("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" +
      a.length.toString(16) + ";ext=1\r\n" + a + "\r\n" + c.length.toString(16) + "\r\n" + c + "\r\n" +
      d.length.toString(16) + "\r\n" + d + "\r\n0\r\nX-Trailer: yes\r\n\r\n");
    break;
  }
  case "close":
    sock.end("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n" + b);
    break;
  case "http10":
    sock.end("HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n" + b);
    break;
  case "continue":
    sock.write("HTTP/1.1 100 Continue\r\n\r\n" + cl());
    break;
  case "split": {
    const all = cl(), parts = [all.slice(0, 4), all.slice(4, 13), all.slice(13, 40), all.slice(40)];
    parts.forEach((p, i) => setTimeout(() => sock.write(p), i * 30));
    break;
  }
  case "oneshot":
    sock.write(cl(), () => sock.destroy()); /* keep-alive promised, then closed */
    break;
  case "garbage":
    sock.end("SSH-2.0-OpenSSH_9.2\r\n\r\n");
    break;
  case "bigheaders":
    sock.end("HTTP/1.1 200 OK\r\nX-Big: " + "b".repeat(70000) + "\r\n\r\n");
    break;
  case "badchunk":
    sock.end("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n");
    break;
  case "gzip": { /* compressed whatever the request asked for */
    const z = require("zlib").gzipSync(b);
    sock.write(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n` +
      `X-Seen-Accept-Encoding: ${acceptEncoding}\r\nContent-Length: ${z.length}\r\n\r\n`);
    sock.write(z);
    break;
  }
  case "swallow": /* the request read whole, then the connection dropped: no answer */
    require("fs").appendFileSync(process.env.SWALLOWED, "swallow\n");
    setTimeout(() => sock.destroy(), 100);
    break;
  case "cut":
    sock.end(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${b.length + 100}\r\n\r\n` + b);
    break;
  default:
    sock.write(cl());
  }
}
srv.listen(0, "127.0.0.1", () => console.log(srv.address().port));
JS
SWALLOWED="$T/swallowed" node "$T/odd.js" > "$T/odd.port" 2> "$T/odd.log" &
PIDS="$PIDS $!"
ODD=127.0.0.1:$(first_line "$T/odd.port")

FAKE=$ODD # the gateway's upstream is the odd server
write_gateway_config
start_gateway
create_team alpha
create_key alpha-prod-api alpha "$KEY1"
new_token alpha
say() { # say MODE -> STATUS, BODY
	STATUS=$(curl -s -m 10 -o "$T/resp" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" \
		-d "{\"model\":\"llama-3.1-8b-instant\",\"max_tokens\":10,\"messages\":[{\"role\":\"user\",\"content\":\"$1\"}]}" \
		"http://$GW/openai/v1/chat/completions")
	BODY=$(cat "$T/resp")
}
for mode in plain chunked close http10 continue split; do
	say "$mode"
	check_eq "$mode: 200" 200 "$STATUS"
	check_eq "$mode: the body arrives whole" "odd-$mode" "$(jq_body .id)"
done
check_eq "every answer metered (7 tokens each)" 42 "$(sql "select sum(completion_tokens) from ledger where status = 200")"
: > "$T/codes"
for i in $(seq 1 10); do say oneshot; echo "$STATUS" >> "$T/codes"; done
check_eq "a kept-alive connection the server closed: retried fresh, 10 of 10 served" 10 "$(grep -c '^200$' "$T/codes")"
say plain
say swallow
check_eq "a POST read whole on a kept-alive connection, then no answer: 502, not sent again" "502|1" \
	"$STATUS|$(grep -c swallow "$T/swallowed")"
# a compressed answer reaches the client as it came, with its
# Content-Encoding (it once lost the header while the gzip bytes went on)
STATUS=$(curl -s -m 10 --compressed -o "$T/resp" -D "$T/resp.h" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" \
	-d '{"model":"llama-3.1-8b-instant","max_tokens":10,"messages":[{"role":"user","content":"gzip"}]}' \
	"http://$GW/openai/v1/chat/completions")
check_eq "a gzip answer decodes at the client" "200 odd-gzip" "$STATUS $(jq -r .id "$T/resp")"
check_contains "with its Content-Encoding" "content-encoding: gzip" "$(tr 'A-Z' 'a-z' < "$T/resp.h" | tr -d '\r')"
check_contains "the gateway asked Groq for identity" "x-seen-accept-encoding: identity" "$(tr 'A-Z' 'a-z' < "$T/resp.h" | tr -d '\r')"
check_eq "unreadable usage: charged the reservation (the cap of 10), not zero" 10 \
	"$(sql "select completion_tokens from ledger order by id desc limit 1")"
for mode in garbage bigheaders badchunk cut; do
	say "$mode"
	check_eq "$mode: 502" 502 "$STATUS"
	check_contains "$mode: says what went wrong" "Groq" "$(jq_body .error.message)"
done
check_eq "still serving after all that" 200 "$(say plain; echo "$STATUS")"
api GET /admin/v1/teams/alpha
check_eq "no reservation left behind" 0 "$(jq_body '.reserved_usd * 1000000 | floor')"

# an outgoing proxy in the environment: libcurl takes over (it knows
# proxies); no_proxy lets this one reach the odd server directly
stop_gateway
http_proxy=http://127.0.0.1:1 no_proxy=127.0.0.1 start_gateway
check_contains "with http_proxy set, requests go through libcurl" '"upstream_client":"libcurl' "$(grep 'groqgated started' "$T/groqgated.log" | tail -1)"
for mode in plain chunked close; do
	say "$mode"
	check_eq "libcurl engine, $mode: 200" "200 odd-$mode" "$STATUS $(jq_body .id)"
done

# nothing listening, and a name that does not resolve
stop_gateway
sed -i "s|base_url = \"http://$ODD\"|base_url = \"http://127.0.0.1:1\"|" "$T/gw.conf"
start_gateway
say plain
check_eq "a refused connection: 502" 502 "$STATUS"
check_contains "naming the address" "127.0.0.1:1" "$(jq_body .error.message)"
stop_gateway
sed -i 's|base_url = "http://127.0.0.1:1"|base_url = "http://no-such-host.invalid"|' "$T/gw.conf"
start_gateway
say plain
check_eq "a name that does not resolve: 502" 502 "$STATUS"
check_contains "saying so" "resolve" "$(jq_body .error.message)"
stop_gateway

# TLS: this gateway (B) in front of a second one (A) serving TLS
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
	-addext "subjectAltName=IP:127.0.0.1" -keyout "$T/key.pem" -out "$T/cert.pem" > "$T/openssl.out" 2>&1 ||
	{ fail "openssl could not make a certificate"; done_testing; }
start_fakegroq
mkdir -p "$T/a"
cat > "$T/a/gw.conf" <<CONF
listen = "127.0.0.1:0";
upstream = { base_url = "http://$FAKE"; };
store = { path = "$T/a/gw.db"; };
admin = { tokens_file = "$T/admin-tokens"; };
tls = { cert = "$T/cert.pem"; key = "$T/key.pem"; };
log = { path = "$T/a/groqgated.log"; };
prices = ( { model = "llama-3.1-8b-instant"; input_per_mtok = 0.05; output_per_mtok = 0.08; } );
CONF
"$BIN/groqgated" --config "$T/a/gw.conf" > "$T/a/addr" 2> "$T/a-stderr.log" &
PIDS="$PIDS $!"
A=$(first_line "$T/a/addr")
atls() { curl -s --cacert "$T/cert.pem" -H "Authorization: Bearer $OP_TOKEN" -X POST -d "$2" "https://$A$1"; }
atls /admin/v1/teams '{"id":"b","allowed_models":["llama-3.1-8b-instant"],"max_tokens_per_request":100,"rpm_limit":1000,"monthly_budget_usd":10}' > /dev/null
atls /admin/v1/keys "{\"name\":\"b-prod-api\",\"team\":\"b\",\"secret\":\"$KEY2\"}" > /dev/null
A_TOKEN=$(atls /admin/v1/teams/b/tokens '{}' | jq -r .token)
check "gateway A serves TLS and issued a client token for B" test -n "$A_TOKEN" -a "$A_TOKEN" != null
# B's upstream key is A's client token
sed -i "s|^upstream = .*|upstream = { base_url = \"https://$A\"; ca_file = \"$T/cert.pem\"; };|" "$T/gw.conf"
start_gateway
sqlite3 "$T/gw.db" "update keys set secret = '$A_TOKEN' where name = 'alpha-prod-api'"
stop_gateway
start_gateway
say "over TLS"
check_eq "B → A over TLS, verified with upstream.ca_file: 200" 200 "$STATUS"
check_eq "A's answer came from fakegroq" chat.completion "$(jq_body .object)"
check_eq "and B metered it" 1 "$(sql "select count(*) from ledger where status = 200 and completion_tokens = 10 and request_id is not null")"
stop_gateway
# through an outgoing proxy (CONNECT: libcurl's engine), upstream.ca_file
# still decides what is trusted (it was once ignored there: 502)
cat > "$T/proxy.py" <<'PY'
import socket, sys, threading
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(16)
print(s.getsockname()[1], flush=True)
def pipe(a, b):
    try:
        while (d := a.recv(65536)):
            b.sendall(d)
    except OSError:
        pass
    finally:
        for x in (a, b):
            try: x.shutdown(socket.SHUT_RDWR)
            except OSError: pass
def serve(c):
    head = b""
    while b"\r\n\r\n" not in head:
        d = c.recv(4096)
        if not d: return
        head += d
    line = head.split(b"\r\n")[0].decode()
    print(line, file=sys.stderr, flush=True)
    method, target, _ = line.split(" ")
    host, port = target.rsplit(":", 1)
    if method != "CONNECT" or host != "127.0.0.1":
        c.sendall(b"HTTP/1.1 403 Forbidden\r\n\r\n"); c.close(); return
    u = socket.create_connection((host, int(port)))
    c.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
    threading.Thread(target=pipe, args=(u, c), daemon=True).start()
    pipe(c, u)
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
PY
python3 "$T/proxy.py" > "$T/proxy.port" 2> "$T/proxy.log" &
PIDS="$PIDS $!"
PPORT=$(first_line "$T/proxy.port")
no_proxy= NO_PROXY= https_proxy=http://127.0.0.1:$PPORT start_gateway
say "over TLS"
check_eq "through an outgoing proxy, verified with upstream.ca_file: 200" 200 "$STATUS"
check_contains "the proxy carried it (CONNECT)" "CONNECT $A" "$(cat "$T/proxy.log")"
stop_gateway
sed -i "s|^upstream = .*|upstream = { base_url = \"https://$A\"; };|" "$T/gw.conf"
start_gateway
say "over TLS"
check_eq "without the CA: 502, never sent in clear" 502 "$STATUS"
check_contains "the message says the certificate failed" "certificate" "$(jq_body .error.message)"
stop_gateway
sed -i "s|^upstream = .*|upstream = { base_url = \"https://localhost:${A##*:}\"; ca_file = \"$T/cert.pem\"; };|" "$T/gw.conf"
start_gateway
say "over TLS"
check_eq "a certificate for another name (localhost vs 127.0.0.1): 502" 502 "$STATUS"
stop_gateway
check_eq "B stopped cleanly" 0 "$GW_RC"
done_testing
