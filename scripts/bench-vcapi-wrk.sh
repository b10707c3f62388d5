#!/usr/bin/env bash
# VC-API issuance benchmark with wrk (Debian package "wrk"), for
# docs/benchmarks.md §4.3: the same request as scripts/bench-vcapi.sh, driven
# by wrk, which costs the shared CPUs less than the Go load generator. The
# same-run baseline is the server's own trivial handler, GET /healthz, under
# the same wrk settings.
#
# Usage: scripts/bench-vcapi-wrk.sh   (C_LIST="16 32" DUR=8s REPEAT=3 FORMAT=vc+jwt)
set -euo pipefail
C_LIST=${C_LIST:-"16 32"}
DUR=${DUR:-8s}
REPEAT=${REPEAT:-3}
FORMAT=${FORMAT:-vc+jwt}
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 1; }

root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/medid-bench.XXXXXX")
pid=""
cleanup() {
	if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid"; wait "$pid" 2>/dev/null || true; fi
	rm -rf "$tmp"
}
trap cleanup EXIT
if [[ -n ${MEDID_BIN:-} ]]; then
	cp "$MEDID_BIN" "$tmp/medid"
else
	(cd "$root" && go build -o "$tmp/medid" ./cmd/medid)
fi
port=$((20000 + RANDOM % 20000))
base=http://127.0.0.1:$port
"$tmp/medid" serve --addr "127.0.0.1:$port" --data "$tmp/data" --log-level warn >"$tmp/serve.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do curl -fsS "$base/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
token=$(cat "$tmp/data/admin-token")
body='{"credential": {"@context": ["https://www.w3.org/ns/credentials/v2"], "type": ["VerifiableCredential", "PatientIdentityCredential"], "credentialSubject": {"id": "did:example:patient", "given_name": "Ada", "family_name": "Lovelace", "birthdate": "1990-12-10", "gender": "female", "assurance_level": "substantial", "identifiers": [{"system": "https://hospital.example/mrn", "value": "MRN-0042", "type": "MRN"}]}}, "options": {"format": "'$FORMAT'"}}'
cat >"$tmp/post.lua" <<LUA
wrk.method = "POST"
wrk.body   = '$body'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $token"
done = function(summary, latency, requests)
  local errs = summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  io.write(string.format("non-2xx-or-errors %d\n", errs))
end
LUA
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "Content-Type: application/json" -H "Authorization: Bearer $token" --data "$body" "$base/credentials/issue")
[[ $code == 201 ]] || { echo "issue: $code" >&2; exit 1; }
echo "# machine: $(nproc) CPUs, $(date -u +%Y-%m-%dT%H:%M:%SZ), load $(cut -d' ' -f1-3 /proc/loadavg)"
# cputicks is the server's user + system CPU time, in clock ticks.
cputicks() { awk '{ print $14 + $15 }' "/proc/$pid/stat"; }
hz=$(getconf CLK_TCK)
summary=()
for round in $(seq 1 "$REPEAT"); do
	for c in $C_LIST; do
		e=$(wrk -t2 -c"$c" -d"$DUR" --latency "$base/healthz")
		t0=$(cputicks)
		i=$(wrk -t2 -c"$c" -d"$DUR" --latency -s "$tmp/post.lua" "$base/credentials/issue")
		t1=$(cputicks)
		load=$(cut -d' ' -f1 /proc/loadavg)
		echo "## round $round -c $c"; echo "$e" | grep -E "Requests/sec|99%"; echo "$i" | grep -E "requests in|Requests/sec|50%|99%|non-2xx"
		summary+=("$(awk -v c="$c" -v ticks=$((t1 - t0)) -v hz="$hz" -v la="$load" '
			FNR==NR && /Requests\/sec/ { erate = $2 } FNR==NR { next }
			/requests in/ { n = $1 } /Requests\/sec/ { rate = $2 } / 50%/ { p50 = $2 } / 99%/ { p99 = $2 } /non-2xx-or-errors/ { errs = $2 }
			END { printf "%4s %10.0f %9s %9s %10.0f %7.3f %6s %11.0f %5s", c, rate, p50, p99, erate, rate / erate, errs, ticks / hz * 1e6 / n, la }
		' <(echo "$e") <(echo "$i"))")
	done
done
echo
printf "%4s %10s %9s %9s %10s %7s %6s %11s %5s\n" "c" "issue/s" "p50" "p99" "healthz/s" "ratio" "errors" "cpu µs/req" "load"
printf "%s\n" "${summary[@]}"
