#!/usr/bin/env bash
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../cluster-lib.sh"
start_postgres
start_redis
start_fakegroq
write_gateway_config
for i in 1 2 3; do cluster_config $i; start_replica $i; done
on 1
create_team alpha '"rpm_limit":10'
create_key alpha-prod-api alpha "$KEY1"
new_token alpha
sleep 1.5
for i in 1 2 3; do on $i; api GET /admin/v1/cluster; echo "$BODY"; done
on 2; api GET /admin/v1/teams/alpha; echo "$BODY" | head -c 300; echo
n=0; for j in $(seq 1 30); do on $(( j % 3 + 1 )); chat "$TOKEN" llama-3.3-70b-versatile; echo -n "$STATUS "; done; echo
psql_q "select replica, count(*), sum(cost_nusd) from ledger group by 1"
psql_q "select * from cl_spend"; psql_q "select * from cl_leases"
for i in 1 2 3; do on $i; api GET /admin/v1/teams/alpha; jq_body '.spend_usd, .rpm' | tr '\n' ' '; done; echo
cat $T/replica1.log | tail -5
