# scripts/lib.sh — the shell helpers the tests (tests/lib.sh), the
# benchmarks (through it) and the demo (scripts/demo) share; defines
# functions only, changes nothing when sourced.

# wait_for "what" seconds command... : polls until the command succeeds
wait_for() {
	local what=$1 secs=$2; shift 2
	local end=$(( $(date +%s%N) / 1000000 + secs * 1000 ))
	while [ $(( $(date +%s%N) / 1000000 )) -lt $end ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	echo "# timed out after ${secs}s waiting for $what"
	return 1
}

# wait_eval "what" seconds 'shell condition' : re-evaluated each time
wait_eval() {
	local what=$1 secs=$2 cond=$3
	local end=$(( $(date +%s%N) / 1000000 + secs * 1000 ))
	while [ $(( $(date +%s%N) / 1000000 )) -lt $end ]; do
		eval "$cond" >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	echo "# timed out after ${secs}s waiting for $what"
	return 1
}

# first line of a file once it exists (a server's bound address)
first_line() { wait_for "$1" 10 test -s "$1" && head -n 1 "$1"; }

# a free TCP port on loopback (the kernel's choice)
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# the SHA-256 of a string, as the admin tokens file holds it
sha() { printf %s "$1" | sha256sum | cut -d' ' -f1; }
