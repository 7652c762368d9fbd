# Request shapes: every data-plane route with GET and POST, a dozen bodies
# (empty, not an object, wrong types, a huge number, a stream flag that is
# not a boolean) and three content types. The gateway answers each with an
# HTTP status (never a dropped connection), its own refusals in Groq's
# error shape, stays up, and exits cleanly (under ASan: no leak, no error;
# a leak of a model name read from both the path and the body was found so).
source "$(dirname "$0")/../lib.sh"
setup_basic
paths="/openai/v1/chat/completions /openai/v1/embeddings /openai/v1/audio/transcriptions /openai/v1/models /openai/v1/models/llama-3.1-8b-instant /openai/v1/responses"
bodies=('' '{}' 'null' '[]' '"x"' '{"model":null}' '{"model":1}' '{"model":"llama-3.1-8b-instant"}'
	'{"model":"llama-3.1-8b-instant","stream":true,"messages":[{"role":"user","content":"x"}]}'
	'{"model":"llama-3.1-8b-instant","max_tokens":1e400}' '{"model":"llama-3.1-8b-instant","messages":{}}'
	'{"model":"llama-3.1-8b-instant","stream":"yes"}')
n=0 dropped=0 unshaped=0
for p in $paths; do for m in GET POST; do for b in "${bodies[@]}"; do for ct in application/json multipart/form-data text/plain; do
	code=$(curl -s -o "$T/shape" -w '%{http_code}' -m 5 -X "$m" -H "Authorization: Bearer $TOKEN" \
		-H "Content-Type: $ct" --data-binary "$b" "http://$GW$p")
	n=$((n + 1))
	[ "$code" = 000 ] && { dropped=$((dropped + 1)); echo "# dropped: $m $p ($ct) $b"; }
	if [ "$code" -ge 400 ] 2>/dev/null && ! jq -e '.error.message | strings' "$T/shape" > /dev/null 2>&1; then
		unshaped=$((unshaped + 1))
		echo "# $m $p ($ct) $b: $code $(head -c 200 "$T/shape")"
	fi
done; done; done; done
check "the load was real ($n requests)" test "$n" -ge 400
check_eq "every one answered with a status" 0 "$dropped"
check_eq "every error in Groq's shape" 0 "$unshaped"
check "the gateway is up" kill -0 "$GW_PID"
stop_gateway
check_eq "and exits cleanly (under ASan: no leak, no error)" 0 "$GW_RC"
check_not_contains "nothing from the sanitizers" "Sanitizer" "$(cat "$T/groqgated-stderr.log")"
done_testing
