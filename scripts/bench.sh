#!/usr/bin/env bash
# HTTP resolution benchmark for docs/benchmarks.md.
#
# Builds medid, starts `medid serve` on a free loopback port with a
# throw-away data directory, creates one did:medid DID, waits until a
# checkpoint covers it, then runs `medid load --baseline` against
# GET /1.0/identifiers/<DID> for each concurrency in C_LIST and each Accept
# header (resolution result with ledger proof, document only). Each load run
# first measures a trivial echo handler in the load generator's process
# under the same load, so every figure comes with its same-run ratio.
#
# Loopback only; bounded: about 2 x |C_LIST| x 2 x DUR plus a few seconds.
# The server is stopped (TERM, then wait) and the data removed on exit.
#
# Usage: scripts/bench.sh            (C_LIST="16 32 64" DUR=10s REPEAT=1)
#        C_LIST="32" DUR=5s REPEAT=3 scripts/bench.sh
# With REPEAT > 1 every combination runs that many times and the summary
# ends with the median of each column per combination.
set -euo pipefail

C_LIST=${C_LIST:-"16 32 64"}
DUR=${DUR:-10s}
REPEAT=${REPEAT:-1}
ACCEPTS=("application/did-resolution" "application/did+ld+json")

root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/medid-bench.XXXXXX")
pid=""
cleanup() {
	if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# free_port prints a loopback TCP port nothing is listening on.
free_port() {
	local p
	for _ in $(seq 1 50); do
		p=$((20000 + RANDOM % 20000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	echo "no free port found" >&2
	return 1
}

echo "# building medid" >&2
(cd "$root" && go build -o "$tmp/medid" ./cmd/medid)
bin=$tmp/medid

port=${PORT:-$(free_port)}
base=http://127.0.0.1:$port
echo "# starting medid serve on $base (data in $tmp/data)" >&2
"$bin" serve --addr "127.0.0.1:$port" --data "$tmp/data" --log-level warn >"$tmp/serve.log" 2>&1 &
pid=$!

# The first create that gets through also tells us the server is up.
created=""
for _ in $(seq 1 100); do
	if ! kill -0 "$pid" 2>/dev/null; then
		echo "medid serve exited:" >&2
		cat "$tmp/serve.log" >&2
		exit 1
	fi
	if created=$("$bin" did create --server "$base" --keys "$tmp/keys.json" 2>"$tmp/create.err"); then
		break
	fi
	created=""
	sleep 0.1
done
if [[ -z $created ]]; then
	echo "could not create a DID:" >&2
	cat "$tmp/create.err" "$tmp/serve.log" >&2
	exit 1
fi
did=${created%% *}
echo "# created $did" >&2

# A checkpoint covers a new entry within 2 s; check the proof is complete.
sleep 2
for _ in $(seq 1 30); do
	if "$bin" did resolve --server "$base" "$did" 2>/dev/null | grep -q '"checkpoint"'; then
		break
	fi
	sleep 0.2
done
"$bin" did resolve --server "$base" "$did" | grep -q '"checkpoint"' ||
	{ echo "resolution carries no checkpoint" >&2; exit 1; }

# cpu_ticks prints the server's user+system CPU time in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
hz=$(getconf CLK_TCK)

url=$base/1.0/identifiers/$did
echo "# machine: $(nproc) CPUs, $(go version | cut -d' ' -f3-), $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "# url: $url"
echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
summary=()
for round in $(seq 1 "$REPEAT"); do
for accept in "${ACCEPTS[@]}"; do
	for c in $C_LIST; do
		echo "## round $round  Accept: $accept  -c $c -d $DUR"
		ticks0=$(cpu_ticks)
		out=$("$bin" load --baseline -c "$c" -d "$DUR" --url "$url" -H "Accept: $accept")
		ticks1=$(cpu_ticks)
		echo "$out"
		# Server CPU per request: less sensitive to other load than req/s.
		n=$(awk '$1 == "target" { print $2 }' <<<"$out")
		srvcpu=$(awk -v t=$((ticks1 - ticks0)) -v hz="$hz" -v n="$n" 'BEGIN { printf "%.0f", t / hz * 1e6 / n }')
		echo "server CPU per request: ${srvcpu} µs; load average now: $(cut -d' ' -f1 /proc/loadavg)"
		# Fields of a result line: name N req RATE req/s p50 V p90 V p99 V errors N.
		summary+=("$(awk -v a="$accept" -v c="$c" -v cpu="$srvcpu" '
			$1 == "baseline" { brate = $4; bp99 = $11 }
			$1 == "target"   { trate = $4; tp50 = $7; tp99 = $11; terr = $13 }
			END { printf "%-28s %4s %10s %9s %9s %10s %7.3f %6s %8s", a, c, trate, tp50, tp99, brate, trate / brate, terr, cpu }
		' <<<"$out")")
	done
done
done

echo
printf "%-28s %4s %10s %9s %9s %10s %7s %6s %8s\n" "accept" "c" "req/s" "p50" "p99" "echo req/s" "ratio" "errors" "srv-cpu-µs"
printf "%s\n" "${summary[@]}"
if ((REPEAT > 1)); then
	echo
	echo "median of $REPEAT rounds (req/s, p99 in ms, ratio, server CPU µs/req):"
	printf "%s\n" "${summary[@]}" | awk '
		function ms(v) { if (v ~ /µs$/) return v / 1000; if (v ~ /ms$/) return v + 0; return v * 1000 }
		function med(s,   a, n, i, j, t) {
			n = split(s, a, " ")
			for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j-1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
			return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
		}
		{ k = $1 " -c " $2; if (!(k in seen)) { seen[k] = 1; order[++nk] = k }
		  rate[k] = rate[k] " " $3; p99[k] = p99[k] " " ms($5); ratio[k] = ratio[k] " " $7; cpu[k] = cpu[k] " " $9 }
		END { for (i = 1; i <= nk; i++) { k = order[i]
			printf "%-36s req/s %7.0f  p99 %6.2f ms  ratio %.3f  srv-cpu %4.0f µs\n", k, med(rate[k]), med(p99[k]), med(ratio[k]), med(cpu[k]) } }'
fi
