#!/usr/bin/env bash
# migrate.sh — groqgated --migrate-from sqlite:PATH --config FILE copies a
# single node's store (teams, keys, tokens, a rotation in progress, the
# ledger, audit, alerts) into a private PostgreSQL; a replica then serves
# the same teams, tokens and spend.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../cluster-lib.sh"

setup_basic
ALPHA=$TOKEN
create_team beta '"monthly_budget_usd":0.0003'
create_key beta-prod-api beta "$KEY2"
new_token beta
BETA=$TOKEN
for i in 1 2 3; do chat "$ALPHA" llama-3.3-70b-versatile; done
for i in 1 2 3 4 5 6 7; do chat "$BETA" llama-3.3-70b-versatile; done # past 50 % of beta's budget: an alert
api POST /admin/v1/keys/alpha-prod-api/rotation "{\"new_secret\":\"$KEY3\"}"
check_eq "a rotation started on the single node" 201 "$STATUS"
api POST /admin/v1/teams/beta/pause '{"reason":"before the move"}'
api GET /admin/v1/teams/alpha; spend_alpha=$(jq_body .spend_mtd_usd)
stop_gateway
n_ledger=$(sqlite3 "$T/gw.db" "SELECT count(*) FROM ledger")
n_audit=$(sqlite3 "$T/gw.db" "SELECT count(*) FROM audit")
n_alerts=$(sqlite3 "$T/gw.db" "SELECT count(*) FROM alerts")
check "the single node wrote ledger, audit and alerts ($n_ledger, $n_audit, $n_alerts)" \
	test "$n_ledger" -ge 4 -a "$n_audit" -ge 6 -a "$n_alerts" -ge 1

start_postgres
cluster_config 1
out=$("$BIN/groqgated" --migrate-from "sqlite:$T/gw.db" --config "$T/gw1.conf" 2>&1); rc=$?
check_eq "the migration succeeds" 0 "$rc"
check_contains "... and says the ledger's count on both sides" "ledger  $n_ledger copied, $n_ledger in PostgreSQL" "$out"
check_contains "... the audit's" "audit   $n_audit copied, $n_audit in PostgreSQL" "$out"
check_contains "... the alerts'" "alerts  $n_alerts copied, $n_alerts in PostgreSQL" "$out"
check_contains "... teams" "teams   2 copied, 2 in PostgreSQL" "$out"
check_eq "the ledger's rows in PostgreSQL" "$n_ledger" "$(psql_q "SELECT count(*) FROM ledger WHERE replica = 'migrated'")"
check_eq "this month's spend follows it" "$(sqlite3 "$T/gw.db" "SELECT sum(cost_nusd) FROM ledger WHERE team = 'alpha'")" \
	"$(psql_q "SELECT spent_nusd FROM cl_spend WHERE team = 'alpha'")"
out=$("$BIN/groqgated" --migrate-from "sqlite:$T/gw.db" --config "$T/gw1.conf" 2>&1); rc=$?
check_eq "a second migration into the same store is refused" 1 "$rc"
check_contains "... saying why" "already holds 2 teams" "$out"
out=$("$BIN/groqgated" --migrate-from "sqlite:$T/nope.db" --config "$T/gw1.conf" 2>&1); rc=$?
check "a missing source is refused" test "$rc" != 0
check_contains "... naming it" "nope.db" "$out"
check_eq "... and not created" no "$( [ -e "$T/nope.db" ] && echo yes || echo no)"
out=$("$BIN/groqgated" --migrate-from "$T/gw.db" --config "$T/gw1.conf" 2>&1)
check_contains "a source without sqlite: is refused" "sqlite:PATH" "$out"

REDIS_URL=""
start_replica 1
on 1
api GET /admin/v1/teams/alpha
check_eq "the replica serves the migrated team" 200 "$STATUS"
check_eq "... with its spend" "$spend_alpha" "$(jq_body .spend_mtd_usd)"
api GET /admin/v1/teams/beta
check_eq "... the pause kept" paused "$(jq_body .state)"
api GET /admin/v1/keys/alpha-prod-api
check_eq "... the rotation in progress kept" verified "$(jq_body .rotation.step)"
chat "$ALPHA" llama-3.3-70b-versatile
check_eq "... a migrated client token works" 200 "$STATUS"
api GET '/admin/v1/audit?limit=200'
check_eq "... the audit log readable" "$n_audit" "$(jq_body '[.entries[] | select(.id <= '"$n_audit"')] | length')"
api POST /admin/v1/teams/alpha/pause '{"reason":"after"}'
api GET '/admin/v1/audit?limit=1'
check "... new audit entries numbered after the copied ones" test "$(jq_body '.entries[0].id')" -gt "$n_audit"
done_testing
