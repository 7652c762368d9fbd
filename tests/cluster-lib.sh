# tests/cluster-lib.sh — cluster mode's parts for the integration tests
# (sourced after lib.sh): a private PostgreSQL (initdb into a temporary
# folder, as an unprivileged user when run as root) and a private Redis,
# both on free loopback ports and stopped with everything else; replicas
# of groqgated on them.

PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)

# start_postgres : sets PGURL, PG_PID, PGPORT
start_postgres() {
	[ -x "$PGBIN/initdb" ] || { fail "PostgreSQL is not installed (scripts/deps installs it)"; exit 1; }
	PGDIR=$(mktemp -d /tmp/gg-pg.XXXXXX)
	EXTRA_DIRS="${EXTRA_DIRS:-} $PGDIR"
	AS=()
	if [ "$(id -u)" = 0 ]; then
		chown postgres "$PGDIR"
		AS=(setpriv --reuid=postgres --regid=postgres --clear-groups --)
	fi
	"${AS[@]}" "$PGBIN/initdb" -D "$PGDIR/data" -U gg -A trust -E UTF8 --no-sync > "$T/initdb.log" 2>&1 ||
		{ fail "initdb failed: $(tail -n 3 "$T/initdb.log")"; exit 1; }
	PGPORT=$(free_port)
	pg_run
	"$PGBIN/psql" -q -h 127.0.0.1 -p "$PGPORT" -U gg -d postgres -c "CREATE DATABASE groqgate" > /dev/null ||
		{ fail "createdb failed"; exit 1; }
	PGURL="postgresql://gg@127.0.0.1:$PGPORT/groqgate"
}

# (re)starts the server on its folder and port
pg_run() {
	"${AS[@]}" "$PGBIN/postgres" -D "$PGDIR/data" -p "$PGPORT" -k "$PGDIR" -c listen_addresses=127.0.0.1 \
		-c fsync=off -c shared_buffers=32MB -c max_connections=50 >> "$T/postgres.log" 2>&1 &
	PG_PID=$!
	PIDS="$PIDS $PG_PID"
	wait_for "PostgreSQL to accept connections" 30 "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$PGPORT" ||
		{ fail "PostgreSQL did not start: $(tail -n 5 "$T/postgres.log")"; exit 1; }
}

pg_stop() { # fast shutdown, waited for
	kill -INT "$PG_PID" 2>/dev/null
	wait "$PG_PID" 2>/dev/null
}

psql_q() { "$PGBIN/psql" -qtAX -h 127.0.0.1 -p "$PGPORT" -U gg -d groqgate -c "$1"; }

# start_redis : sets REDIS_URL, REDIS_PID
start_redis() {
	command -v redis-server > /dev/null || { fail "redis-server is not installed (scripts/deps installs it)"; exit 1; }
	RPORT=${RPORT:-$(free_port)}
	redis-server --port "$RPORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$T" \
		> "$T/redis.log" 2>&1 &
	REDIS_PID=$!
	PIDS="$PIDS $REDIS_PID"
	wait_for "Redis to answer" 10 sh -c "redis-cli -h 127.0.0.1 -p $RPORT ping | grep -q PONG" ||
		{ fail "Redis did not start"; exit 1; }
	REDIS_URL="redis://127.0.0.1:$RPORT/0"
}

redis_stop() {
	kill "$REDIS_PID" 2>/dev/null
	wait "$REDIS_PID" 2>/dev/null
}

# cluster_config I [extra] : $T/gw$I.conf for replica gw-I
cluster_config() {
	local i=$1 extra=${2:-}
	mkdir -p "$T/r$i"
	# a fixed port per replica: a restarted replica is where the load balancer expects it
	[ -s "$T/r$i/port" ] || free_port > "$T/r$i/port"
	sed -e "s|^listen = .*|listen = \"127.0.0.1:$(cat "$T/r$i/port")\";|" \
	    -e "s|^store = .*|store = { url = \"$PGURL\"; journal = \"$T/r$i/journal\"; };|" \
	    -e "s|^log = .*|log = { path = \"$T/replica$i.log\"; };|" "$T/gw.conf" > "$T/gw$i.conf"
	cat >> "$T/gw$i.conf" <<CONF
counters = { redis = "${REDIS_URL:-redis://127.0.0.1:1/0}"; };
cluster = { replica_id = "gw-$i"; stale_after_s = ${STALE_S:-3}; };
$extra
CONF
}

# start_replica I : runs gw-I; sets GWS[I] and GW_PIDS[I]
declare -a GWS GW_PIDS
start_replica() {
	local i=$1
	: > "$T/gw$i.addr"
	"$BIN/groqgated" --config "$T/gw$i.conf" > "$T/gw$i.addr" 2>> "$T/replica$i-stderr.log" &
	GW_PIDS[$i]=$!
	PIDS="$PIDS ${GW_PIDS[$i]}"
	GWS[$i]=$(first_line "$T/gw$i.addr") || { fail "replica gw-$i did not start"; cat "$T/replica$i-stderr.log"; exit 1; }
}

# on I : the next api/chat calls go to replica I
on() { GW=${GWS[$1]}; }

# start_nginx I... : nginx round-robin in front of the replicas, retrying a
# request on the next one when a replica refuses the connection or answers
# 503 (draining, stale: never forwarded); sets LB
start_nginx() {
	command -v nginx > /dev/null || { fail "nginx is not installed (scripts/deps installs it)"; exit 1; }
	local port servers="" i
	port=$(free_port)
	for i in "$@"; do servers="$servers server 127.0.0.1:$(cat "$T/r$i/port") max_fails=0;"; done
	mkdir -p "$T/nginx"
	cat > "$T/nginx/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $T/nginx/nginx.pid;
error_log $T/nginx/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  upstream groqgate { $servers keepalive 16; }
  server {
    listen 127.0.0.1:$port;
    location / {
      proxy_pass http://groqgate;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
      proxy_next_upstream error http_503 non_idempotent;
      proxy_next_upstream_tries 3;
    }
  }
}
CONF
	nginx -c "$T/nginx/nginx.conf" -p "$T/nginx" > "$T/nginx.log" 2>&1 &
	NGINX_PID=$!
	PIDS="$PIDS $NGINX_PID"
	LB=127.0.0.1:$port
	wait_for "nginx" 10 curl -s -o /dev/null "http://$LB/healthz" || { fail "nginx did not start"; exit 1; }
}
