# make demo's background part: a live organisation with traffic, a
# snapshot that finds it, a README capture that still matches the layout,
# and demo-down that leaves no process behind.
source "$(dirname "$0")/../lib.sh"
export GROQGATE_DEMO_DIR="$T/demo"
out=$("$ROOT/scripts/demo" up 2>&1); rc=$?
check_eq "demo up exits 0" 0 "$rc"
GWURL=$(printf '%s\n' "$out" | sed -n 's/^GATEWAY=//p')
TOKF=$(printf '%s\n' "$out" | sed -n 's/^TOKEN_FILE=//p')
check "demo up prints GATEWAY=http://127.0.0.1:PORT" grep -qE '^http://127\.0\.0\.1:[0-9]+$' <<< "$GWURL"
check "demo up prints TOKEN_FILE= with a private file" test "$(stat -c %a "$TOKF" 2>/dev/null)" = 600
demo_rpm() { curl -s -H "Authorization: Bearer $(cat "$TOKF")" "$GWURL/admin/v1/overview" | jq '.totals.rpm'; }
wait_eval "traffic" 20 '[ "$(demo_rpm)" -gt 0 ]'
# the demo's "rogue" service calls Groq with marketing's key around the
# gateway: Groq's metrics (fakegroq --metrics) count it, the gateway does not
demo_groq() { curl -s -H "Authorization: Bearer $(cat "$TOKF")" "$GWURL/admin/v1/groq"; }
# (the rates are live: the view in which marketing drifts is the one read)
wait_eval "the drift on marketing's project" 60 "demo_groq > \"$T/groq.json\"; jq -e '.projects[] | select(.project == \"proj_marketing\") | .drift' \"$T/groq.json\""
check_eq "Groq's metrics are read in the demo" "true|ok" "$(jq -r '"\(.available)|\(.state)"' "$T/groq.json")"
check_eq "only marketing drifts" "proj_marketing" "$(jq -r '[.projects[] | select(.drift) | .project] | join(",")' "$T/groq.json")"
check_eq "a groq_drift alert names marketing" "marketing" \
	"$(curl -s -H "Authorization: Bearer $(cat "$TOKF")" "$GWURL/admin/v1/alerts" | jq -r '[.alerts[] | select(.kind == "groq_drift") | .team] | unique | join(",")')"
check_eq "the demo's models are all listed by Groq" 0 "$(demo_groq | jq '.unlisted_models | length')"
models=$(curl -s -H "Authorization: Bearer $(cat "$TOKF")" "$GWURL/admin/v1/models")
check_eq "the demo shows a model retiring in three weeks, and its replacement" \
	"qwen/qwen3-32b $(date -u -d '+21 days' +%Y-%m-%d) openai/gpt-oss-120b false" \
	"$(jq -r '.models[] | select(.id == "qwen/qwen3-32b") | "\(.id) \(.shutdown) \(.replacement) \(.retired)"' <<< "$models")"
check_eq "and the Llama models Groq retired on 2026-08-16" "llama-3.1-8b-instant:true llama-3.3-70b-versatile:true" \
	"$(jq -r '[.models[] | select(.shutdown == "2026-08-16") | "\(.id):\(.retired)"] | sort | join(" ")' <<< "$models")"
check_eq "no team of the demo calls a retired model" "" \
	"$(jq -r '[.models[] | select(.retired and (.callers_7d | length > 0)) | .id] | join(" ")' <<< "$models")"
check_eq "and aliases" "fast=openai/gpt-oss-20b smart=openai/gpt-oss-120b" \
	"$(curl -s -H "Authorization: Bearer $(cat "$TOKF")" "$GWURL/admin/v1/aliases" | jq -r '[.aliases[] | "\(.alias)=\(.model)"] | join(" ")')"
snap=$("$BIN/groqtop" --gateway "$GWURL" --token-file "$TOKF" --snapshot --size 120x40)
check_eq "groqtop --snapshot of the demo exits 0" 0 $?
ov=$(curl -s -H "Authorization: Bearer $(cat "$TOKF")" "$GWURL/admin/v1/overview")
check "8-12 teams" test "$(jq '.teams | length' <<< "$ov")" -ge 8
check "non-zero RPM" test "$(jq '.totals.rpm' <<< "$ov")" -gt 0
check "non-zero spend" awk -v s="$(jq '.org.spend_mtd_usd' <<< "$ov")" 'BEGIN { exit !(s > 0) }'
check "a team over 80 % of its budget" test "$(jq '[.teams[] | select(.spend_pct >= 80)] | length' <<< "$ov")" -ge 1
check "the paused team with its reason" test "$(jq -r '.teams[] | select(.state=="paused") | .paused_reason' <<< "$ov" | grep -c INC-2291)" = 1
check "a key mid-rotation" test "$(jq '[.keys[] | select(.rotation_step != "none")] | length' <<< "$ov")" -ge 1
check "keys named {team}-{environment}-{purpose}" test "$(jq -r '.keys[].name' <<< "$ov" | grep -cvE '^[a-z-]+-(prod|staging)-[a-z]+$')" = 0
check_contains "the snapshot shows the teams" "fraud-detection" "$snap"
check_contains "the snapshot shows the paused team" "paused" "$snap"
check_contains "the snapshot shows the rotation" "deployed" "$snap"
wait_eval "rejections from the traffic" 30 '[ "$(curl -s -H "Authorization: Bearer $(cat "$TOKF")" "$GWURL/admin/v1/usage?window=5m&step=1m" | jq "[.points[].rejected] | add")" -gt 0 ]'
check "the traffic includes refused requests (disallowed models, paused team)" test "$(curl -s -H "Authorization: Bearer $(cat "$TOKF")" "$GWURL/admin/v1/usage?window=5m&step=1m" | jq '[.points[].rejected] | add')" -gt 0

# the README's capture matches today's layout (figures and times masked)
shape() { sed -E -e 's/gsk_…[A-Za-z0-9]{4}/gsk_…K/g' -e 's/[0-9]+(\.[0-9]+)?[kM]?/0/g' -e 's/[▏▎▍▌▋▊▉█·▁▂▃▄▅▆▇]+/G/g' -e 's/<?\$[0-9.]+/$/g' \
	-e 's/ +/ /g' -e 's/ (active|paused|budget_paused|budget!|rotating|deployed|verified|secret_updated|switched|-) / S /g' \
	-e 's/(refused 0 in the last minute)(: [a-z0-9, ]+…?)? */\1 /'; }
readme=$(sed -n '/<!-- demo-snapshot:begin -->/,/<!-- demo-snapshot:end -->/p' "$ROOT/README.md" | sed '1,2d;$d' | sed '$d')
check "the README holds a demo capture" test "$(printf '%s\n' "$readme" | wc -l)" -ge 30
# (60 screen columns, cut before the masking: what lies right of them, the
# alerts pane's text, changes with the demo's timing)
cols60() { perl -CSD -ne 'chomp; print substr($_, 0, 60), "\n"'; }
fresh=$(printf "%s\n" "$snap" | cols60 | shape)
old=$(printf "%s\n" "$readme" | cols60 | shape)
if [ "$fresh" = "$old" ]; then ok "the README capture has today's layout"; else
	fail "the README capture is out of date: update it from 'groqtop --snapshot --size 120x40' on 'make demo-up'"
	diff <(echo "$old") <(echo "$fresh") | sed 's/^/#   /'
fi

"$ROOT/scripts/demo" down > /dev/null 2>&1
check_eq "demo down leaves no process of the demo running" 0 "$(pgrep -f "$GROQGATE_DEMO_DIR" | wc -l)"
check_eq "nor a traffic generator" 0 "$(pgrep -f "scripts/demo _traffic $GWURL" | wc -l)"
done_testing
