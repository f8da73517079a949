#!/usr/bin/env bash
# HTTP ingestion with wrk (a C load generator, lighter than the Rust example client):
# starts `kaledger serve` on a temporary data directory on 127.0.0.1, opens one account,
# then posts single-line sales from 8 and 64 connections for 8 s each and prints requests/s,
# latency percentiles and the events actually recorded. Stops the server at the end.
# Usage: bench/http_ingest_wrk.sh [PATH_TO_KALEDGER]   (installs wrk from Debian if missing)
set -euo pipefail
bin=${1:-target/release/kaledger}
command -v wrk >/dev/null 2>&1 || { apt-get update && apt-get install -y wrk; }
dir=$(mktemp -d)
trap 'kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT
export KALEDGER_TOKEN=$("$bin" token create --data "$dir/ledger" --name load --role admin)
"$bin" serve --data "$dir/ledger" --listen 127.0.0.1:0 > "$dir/out" 2>/dev/null &
pid=$!
for _ in $(seq 1 100); do grep -q listening "$dir/out" && break; sleep 0.1; done
base=$(sed -n 's/^kaledger listening on //p' "$dir/out")
curl -s -X POST "$base/v1/accounts" -H "Authorization: Bearer $KALEDGER_TOKEN" -H 'Content-Type: application/json' \
  -d '{"account_id":"load","name":"Load","scope":"global","currency":"CNY"}' > /dev/null
head() { curl -s "$base/healthz" | sed -E 's/.*"head_position":([0-9]+).*/\1/'; }
here=$(dirname "$0")
for connections in 8 64; do
  before=$(head)
  echo "== $connections connections, single-line sales, 8 s"
  wrk -t2 -c"$connections" -d8s --latency -s "$here/wrk_sales.lua" "$base" | grep -E "Requests/sec|50%|99%|Non-2xx|requests in"
  echo "events recorded: $(( $(head) - before ))"
done
