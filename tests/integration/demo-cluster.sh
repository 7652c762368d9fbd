#!/usr/bin/env bash
# make demo CLUSTER=1's background part: PostgreSQL, Redis, 3 replicas and
# nginx in front; the traffic through nginx; groqtop on one replica shows
# the fleet; demo-down stops every part of it.
source "$(dirname "$0")/../lib.sh"
export GROQGATE_DEMO_DIR="$T/demo"
out=$(CLUSTER=1 "$ROOT/scripts/demo" up 2>&1); rc=$?
check_eq "CLUSTER=1 demo up exits 0" 0 "$rc"
[ "$rc" = 0 ] || { printf '%s\n' "$out" | sed 's/^/# /'; tail -n 20 "$GROQGATE_DEMO_DIR"/*.log 2>/dev/null | sed 's/^/# /'; }
GWURL=$(printf '%s\n' "$out" | sed -n 's/^GATEWAY=//p')
LBURL=$(printf '%s\n' "$out" | sed -n 's/^LOAD_BALANCER=//p')
TOKF=$(printf '%s\n' "$out" | sed -n 's/^TOKEN_FILE=//p')
check "it prints the load balancer's address" grep -qE '^http://127\.0\.0\.1:[0-9]+$' <<< "$LBURL"
adm() { curl -s -H "Authorization: Bearer $(cat "$TOKF")" "$1$2"; }
check_eq "replica 1 lists 3 replicas serving" "gw-1 serving,gw-2 serving,gw-3 serving" \
	"$(adm "$GWURL" /admin/v1/cluster | jq -r '[.replicas[] | .id + " " + .state] | join(",")')"
check_eq "... on PostgreSQL and Redis" "postgresql true redis true" \
	"$(adm "$GWURL" /admin/v1/cluster | jq -r '"\(.store.kind) \(.store.up) \(.counters.kind) \(.counters.up)"')"
wait_eval "traffic through nginx" 20 '[ "$(adm "$LBURL" /admin/v1/overview | jq .totals.rpm)" -gt 0 ]'
check "the traffic reaches every replica" wait_eval "three replicas' logs" 20 \
	'[ "$(grep -l chat/completions "$GROQGATE_DEMO_DIR"/groqgated?-requests.log | wc -l)" = 3 ]'
check "replica 1 sees the fleet's RPM (the Redis windows)" wait_eval "fleet rpm" 10 \
	'[ "$(adm "$GWURL" /admin/v1/overview | jq .totals.rpm)" -gt 0 ]'
snap=$("$BIN/groqtop" --gateway "$GWURL" --token-file "$TOKF" --snapshot --size 120x40)
check_contains "groqtop's header shows the fleet" "cluster 3/3" "$snap"
fleet=$("$BIN/groqtop" --gateway "$GWURL" --token-file "$TOKF" --snapshot --view fleet --size 120x40)
check_contains "... and its fleet view the replicas" "gw-3" "$fleet"
wait_eval "the drift on marketing's project" 60 \
	"adm '$GWURL' /admin/v1/groq | jq -e '.projects[] | select(.project == \"proj_marketing\") | .drift'"
check_eq "Groq's figures against the fleet's: only the rogue's project drifts" "proj_marketing" \
	"$(adm "$GWURL" /admin/v1/groq | jq -r '[.projects[] | select(.drift) | .project] | join(",")')"
check_eq "... alerted once, by one replica" "marketing" \
	"$(adm "$LBURL" /admin/v1/alerts | jq -r '[.alerts[] | select(.kind == "groq_drift") | .team] | join(",")')"
"$ROOT/scripts/demo" down > /dev/null 2>&1
check_eq "demo down leaves no process of the cluster demo running" 0 "$(pgrep -f "$GROQGATE_DEMO_DIR" | wc -l)"
done_testing
