#!/usr/bin/env bash
# schemathesis against /v1/openapi.json (DESIGN §9: fuzzed requests get no 5xx, and every
# answer matches the documented schema). Loads the demo data set into a temporary
# directory, issues one token per role, serves it on 127.0.0.1, and runs schemathesis once
# per role (auditor, manager, finance, planner, ingest, admin) and once without a token,
# with the checks not_a_server_error and response_schema_conformance. Token revocation is
# left out of those runs (schemathesis finds the token names in GET /v1/tokens and would
# revoke the very tokens the later runs use) and gets a run of its own at the end with a
# throwaway admin token. Afterwards the server is stopped and `kaledger verify` must pass
# on the fuzzed ledger.
#
# Usage: bench/schemathesis.sh [MAX_EXAMPLES_PER_OPERATION] [SEED]   (defaults: 100, 1)
# Environment: KALEDGER_BIN (default: target/release/kaledger, built if missing),
# SCHEMATHESIS_VENV (default: target/schemathesis-venv), SCHEMATHESIS_VERSION (4.32.5),
# CHECKS (default: not_a_server_error,response_schema_conformance), REPORT_DIR (logs and
# JUnit reports per run; default: target/schemathesis-reports).
# Needs python3 with venv (Debian: apt-get install python3-venv) and PyPI access.
set -euo pipefail
cd "$(dirname "$0")/.."
examples=${1:-100}
seed=${2:-1}
checks=${CHECKS:-not_a_server_error,response_schema_conformance}
bin=${KALEDGER_BIN:-target/release/kaledger}
venv=${SCHEMATHESIS_VENV:-${CARGO_TARGET_DIR:-target}/schemathesis-venv}
version=${SCHEMATHESIS_VERSION:-4.32.5}

if [ ! -x "$bin" ]; then
  echo "building $bin…"
  cargo build --release --locked
fi
if [ ! -x "$venv/bin/schemathesis" ] || ! "$venv/bin/schemathesis" --version | grep -q "$version"; then
  echo "installing schemathesis $version into $venv…"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet "schemathesis==$version"
fi

work=$(mktemp -d)
reports=${REPORT_DIR:-${CARGO_TARGET_DIR:-target}/schemathesis-reports}
mkdir -p "$reports"
# Absolute paths: schemathesis runs inside $work, where it keeps its .schemathesis cache.
reports=$(realpath "$reports")
venv=$(realpath "$venv")
bin=$(realpath "$bin")
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

echo "loading the demo data set…"
"$bin" demo --no-serve --data "$work/demo" > "$work/demo.out" 2>&1
ledger="$work/demo/ledger"
roles="auditor manager finance planner ingest admin"
for role in $roles; do
  "$bin" token create --data "$ledger" --name "st-$role" --role "$role" > "$work/token-$role"
done
"$bin" token create --data "$ledger" --name "st-admin-revoker" --role admin > "$work/token-revoker"
RUST_LOG=warn "$bin" serve --data "$ledger" --listen 127.0.0.1:0 > "$work/serve.out" 2> "$work/serve.err" &
pid=$!
for _ in $(seq 1 300); do grep -qs listening "$work/serve.out" && break; sleep 0.1; done
base=$(sed -n 's/^kaledger listening on //p' "$work/serve.out")
[ -n "$base" ] || { echo "the server did not start:"; cat "$work/serve.err"; exit 1; }
echo "server at $base; $examples examples per operation, seed $seed, checks $checks"

total_generated=0
total_failed=0
total_errors=0
summary=""
# run NAME TOKEN_FILE EXTRA_ARGS...
run() {
  local name=$1 token_file=$2
  shift 2
  local auth=()
  [ -n "$token_file" ] && auth=(-H "Authorization: Bearer $(cat "$token_file")")
  local log="$reports/$name.log"
  set +e
  (cd "$work" && "$venv/bin/schemathesis" run "$base/v1/openapi.json" "${auth[@]}" --checks "$checks" \
    --max-examples "$examples" --seed "$seed" --workers 2 --request-timeout 30 \
    --report junit --report-junit-path "$reports/$name.junit.xml" \
    --output-truncate false "$@" > "$log" 2>&1)
  local status=$?
  set -e
  local cases
  cases=$(grep -A1 -E "^Test cases:" "$log" | tail -1 | sed 's/^ *//')
  local generated failed errors
  generated=$(echo "$cases" | grep -oE "^[0-9]+ generated" | grep -oE "[0-9]+" || echo 0)
  # The summary lists "Failures:" (checks that failed: the API's fault) and "Errors:"
  # (schemathesis could not run a case, e.g. its own exceptions), each with counts.
  failed=$(summary_count Failures "$log")
  errors=$(summary_count Errors "$log")
  if [ "$status" -ne 0 ] && [ "$failed" = 0 ] && [ "$errors" = 0 ]; then failed=1; fi
  total_generated=$(( total_generated + generated ))
  total_failed=$(( total_failed + failed ))
  total_errors=$(( total_errors + errors ))
  summary+=$(printf '%-16s %s; check failures %d, schemathesis errors %d' "$name" "$cases" "$failed" "$errors")$'\n'
  echo "$name: $cases; check failures $failed, schemathesis errors $errors (exit $status; log $log)"
  if [ "$failed" -ne 0 ]; then
    sed -n '/^=* FAILURES =*$/,/^=* \(ERRORS\|WARNINGS\|SUMMARY\) =*$/p' "$log" | head -200 || true
  fi
  if [ "$errors" -ne 0 ]; then
    sed -n '/^=* ERRORS =*$/,/^=* \(WARNINGS\|SUMMARY\) =*$/p' "$log" | grep -E "^[A-Z][A-Za-z ]+$|Error:" | grep -v "^    " | head -10 || true
  fi
}

# summary_count SECTION LOG: the sum of the counts listed under "SECTION:" in the summary.
summary_count() {
  awk -v section="$1:" '
    /^=+ SUMMARY =+$/ { in_summary = 1; next }
    in_summary && $0 == section { in_section = 1; next }
    in_section && /^[^ ]/ { in_section = 0 }
    in_section && /: [0-9]+$/ { n += $NF }
    END { print n + 0 }' "$2"
}

for role in $roles; do
  run "$role" "$work/token-$role" --exclude-path '/v1/tokens/{name}/revoke'
done
run "no-token" "" --exclude-path '/v1/tokens/{name}/revoke'
run "admin-revoke" "$work/token-revoker" --include-path '/v1/tokens/{name}/revoke'

kill -TERM "$pid"; wait "$pid" 2>/dev/null || true; pid=""
if grep -q panicked "$work/serve.err"; then
  echo "the server panicked:"; grep -A5 panicked "$work/serve.err" | head -40
  total_failed=$(( total_failed + 1 ))
fi
verify=$("$bin" verify --data "$ledger" || true)
echo "kaledger verify after the run: $verify"
echo "$verify" | grep -q '"ok":true' || total_failed=$(( total_failed + 1 ))

echo
printf '%s' "$summary"
echo "schemathesis: $total_generated test cases generated, $total_failed check failures, $total_errors schemathesis errors (reports in $reports)"
# schemathesis errors are the tool failing to run a case (they are listed above), not the API.
[ "$total_failed" -eq 0 ]
