#!/usr/bin/env bash
# VC-API issuance benchmark for docs/benchmarks.md (issue 3).
#
# Builds medid, starts `medid serve` on a free loopback port with a
# throw-away data directory, then runs `medid load --baseline` against
# POST /credentials/issue with a PatientIdentityCredential for each format
# in FORMATS and each concurrency in C_LIST. Each load run first measures a
# trivial echo handler in the load generator's process under the same load,
# so every figure comes with its same-run ratio. Every issued credential
# gets status entries and an issuance record, as in production.
#
# Usage: scripts/bench-vcapi.sh   (FORMATS="vc+jwt" C_LIST="16 32" DUR=10s REPEAT=1)
# MEDID_BIN=path serves with that binary instead of building one (to compare
# two builds in turns).
set -euo pipefail

FORMATS=${FORMATS:-"vc+jwt"}
C_LIST=${C_LIST:-"16 32"}
DUR=${DUR:-10s}
REPEAT=${REPEAT:-1}

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

if [[ -n ${MEDID_BIN:-} ]]; then
	cp "$MEDID_BIN" "$tmp/medid"
else
	echo "# building medid" >&2
	(cd "$root" && go build -o "$tmp/medid" ./cmd/medid)
fi
bin=$tmp/medid
port=${PORT:-$(free_port)}
base=http://127.0.0.1:$port
"$bin" serve --addr "127.0.0.1:$port" --data "$tmp/data" --log-level warn >"$tmp/serve.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
	if curl -fsS "$base/readyz" >/dev/null 2>&1; then break; fi
	kill -0 "$pid" 2>/dev/null || { cat "$tmp/serve.log" >&2; exit 1; }
	sleep 0.1
done
token=$(cat "$tmp/data/admin-token")

echo "# machine: $(nproc) CPUs, $(go version | cut -d' ' -f3-), $(date -u +%Y-%m-%dT%H:%M:%SZ)"
summary=()
for round in $(seq 1 "$REPEAT"); do
	for f in $FORMATS; do
		cat >"$tmp/body.json" <<JSON
{"credential": {"@context": ["https://www.w3.org/ns/credentials/v2", "$base/contexts/health-v1.jsonld"],
  "type": ["VerifiableCredential", "PatientIdentityCredential"],
  "credentialSubject": {"id": "did:example:patient", "given_name": "Ada", "family_name": "Lovelace",
    "birthdate": "1990-12-10", "gender": "female", "assurance_level": "substantial",
    "identifiers": [{"system": "https://hospital.example/mrn", "value": "MRN-0042", "type": "MRN"}]}},
 "options": {"format": "$f"}}
JSON
		code=$(curl -s -o "$tmp/one.json" -w '%{http_code}' -X POST -H "Content-Type: application/json" -H "Authorization: Bearer $token" --data @"$tmp/body.json" "$base/credentials/issue")
		[[ $code == 201 ]] || { echo "issue $f: $code $(cat "$tmp/one.json")" >&2; exit 1; }
		for c in $C_LIST; do
			echo "## round $round format $f -c $c -d $DUR"
			out=$("$bin" load --baseline -c "$c" -d "$DUR" --method POST --url "$base/credentials/issue" --body "$tmp/body.json" \
				-H "Content-Type: application/json" -H "Authorization: Bearer $token")
			echo "$out"
			summary+=("$(awk -v f="$f" -v c="$c" '
				$1 == "baseline" { brate = $4 }
				$1 == "target"   { trate = $4; tp50 = $7; tp99 = $11; terr = $13 }
				END { printf "%-12s %4s %10s %9s %9s %10s %7.3f %6s", f, c, trate, tp50, tp99, brate, trate / brate, terr }
			' <<<"$out")")
		done
	done
done
echo
printf "%-12s %4s %10s %9s %9s %10s %7s %6s\n" "format" "c" "req/s" "p50" "p99" "echo req/s" "ratio" "errors"
printf "%s\n" "${summary[@]}"
