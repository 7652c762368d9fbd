# bench/lib.sh — what the benchmark scripts share (sourced after
# tests/lib.sh, which reads a process's CPU and memory): one wrk run as JSON.
HZ=$(getconf CLK_TCK)

# wrk_run NAME URL CONNS SECONDS SCRIPT PID TOKEN -> one JSON object on stdout
wrk_run() {
	local name=$1 url=$2 c=$3 d=$4 script=$5 pid=$6 tok=$7
	local t0 t1
	t0=$(cpu_ticks "$pid")
	BENCH_TOKEN=$tok wrk -t "$([ "$c" -ge 2 ] && echo 2 || echo 1)" -c "$c" -d "${d}s" --latency -s "$script" "$url" > "$T/wrk.$name.$c" 2>&1
	t1=$(cpu_ticks "$pid")
	awk -v name="$name" -v c="$c" -v ticks=$((t1 - t0)) -v hz="$HZ" '
		function us(v) { if (v ~ /us$/) return v + 0; if (v ~ /ms$/) return v * 1000; if (v ~ /s$/) return v * 1000000; return v }
		/^ +50%/ { p50 = us($2) } /^ +99%/ { p99 = us($2) }
		/requests in/ { reqs = $1 } /^Requests\/sec/ { rps = $2 }
		/Non-2xx/ { bad = $NF }
		END { printf "{\"name\":\"%s\",\"conns\":%d,\"requests\":%d,\"rps\":%.1f,\"p50_us\":%.1f,\"p99_us\":%.1f,\"non2xx\":%d,\"cpu_us_per_req\":%.1f}\n",
			name, c, reqs, rps, p50, p99, bad + 0, reqs ? ticks * 1000000 / hz / reqs : 0 }' "$T/wrk.$name.$c"
}

