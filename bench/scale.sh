#!/usr/bin/env bash
# How kaledger grows with the size of its log (issue 12), one command:
#   bash bench/scale.sh
# For each size in SCALE_LINES (sale lines; default 1000000,5000000,20000000):
# 1. `kaledger fixtures generate --lines N --seed 7` (500 accounts, 24 months, ~2% returns)
#    into a temporary directory, then `kaledger import` of accounts.csv, sales.csv and
#    returns.csv into a fresh data directory, timed (import lines/s = sale lines / seconds);
#    disk bytes per line = bytes the data directory takes on disk (`du -s --block-size=1`:
#    allocated blocks, so the derived stores' preallocated, sparse journal files count for what
#    they hold) / sale lines;
# 2. `kaledger token create`, then `kaledger serve` on 127.0.0.1 and a free port: time from
#    process start to the first successful `GET /healthz` (listen, cold) and VmRSS then;
#    publishes the demo tier policy and a quarterly program every account is enrolled in;
# 3. SCALE_QUERIES (10000) sequential queries from one curl (one kept-alive connection),
#    alternating `GET /v1/accounts/{id}/entitlements?as_of=2026-10-31` and
#    `GET /v1/accounts/{id}/rebates?period=2026-Q2` for random accounts, while
#    SCALE_INGESTERS (4) curl loops post SCALE_BATCH_LINES (10) line batches to /v1/sales;
#    p50 / p99 of curl's time_total, and VmRSS after the queries;
# 4. SIGTERM, restart, time to /healthz (clean restart); then kill -9 while one client
#    ingests, restart, time to /healthz (after kill -9);
# 5. one table over all sizes. SCALE_RESULTS=FILE keeps a copy of it.
# Needs curl and jq. Everything listens on 127.0.0.1 only, stops by itself, and the temporary
# directories (under SCALE_TMP, default /tmp) are removed at exit; each size's fixtures and
# data directory are removed before the next (20M lines need about 2 GB of CSV plus ~9 GB
# of data directory). SCALE_START_TIMEOUT (600 s) bounds each wait for /healthz.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-target}
sizes=${SCALE_LINES:-1000000,5000000,20000000}
queries=${SCALE_QUERIES:-10000}
ingesters=${SCALE_INGESTERS:-4}
batch_lines=${SCALE_BATCH_LINES:-10}
start_timeout=${SCALE_START_TIMEOUT:-600}
tmp=${SCALE_TMP:-/tmp}
for tool in curl jq ss; do command -v $tool > /dev/null || { echo "$tool not found" >&2; exit 1; }; done

echo "== machine"
echo "date:    $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "cpus:    $(nproc) ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1))"
echo "memory:  $(free -m | awk '/^Mem:/{print $2 " MiB"}')"
echo "kernel:  $(uname -sr)"
echo "disk:    $(df --output=source "$tmp" | tail -1) $(df --output=fstype,size,avail -h "$tmp" | tail -1 | xargs) (fstype, size, free; holds $tmp)"
echo "load:    $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min, before the run)"
echo "sizes:   SCALE_LINES=$sizes SCALE_QUERIES=$queries SCALE_INGESTERS=$ingesters SCALE_BATCH_LINES=$batch_lines"

echo "== build"
cargo build --release --locked --bin kaledger
kaledger=$target/release/kaledger

work=$(mktemp -d "$tmp/kaledger-scale.XXXXXX")
kpid=
loops=()
cleanup() {
  stop_loops
  if [ -n "$kpid" ] && kill -0 "$kpid" 2>/dev/null; then kill -TERM "$kpid"; wait "$kpid" 2>/dev/null || true; fi
  rm -rf "$work"
}
stop_loops() {
  local p
  for p in "${loops[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${loops[@]}"; do wait "$p" 2>/dev/null || true; done
  loops=()
}
trap cleanup EXIT

free_port() {
  local p
  for p in $(seq 56432 56632); do
    if ! ss -Hltn "sport = :$p" | grep -q .; then echo "$p"; return 0; fi
  done
  echo "no free port in 56432-56632" >&2
  return 1
}
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
rss_mib() { awk '/^VmRSS:/{printf "%.0f", $2 / 1024}' "/proc/$1/status"; }

# Starts `kaledger serve` on $data and a free port; sets kpid and base, and listen_ms to the
# milliseconds from the process start to the first 200 from /healthz.
start_server() {
  local port began
  port=$(free_port)
  base=http://127.0.0.1:$port
  began=$(now_ms)
  RUST_LOG=warn "$kaledger" serve --data "$data" --listen "127.0.0.1:$port" >> "$work/serve.out" 2>> "$work/serve.err" &
  kpid=$!
  until curl -sf -o /dev/null --max-time 2 "$base/healthz"; do
    kill -0 "$kpid" 2>/dev/null || { echo "kaledger serve exited:" >&2; tail -20 "$work/serve.err" >&2; exit 1; }
    [ $(( $(now_ms) - began )) -lt $(( start_timeout * 1000 )) ] || { echo "no /healthz after ${start_timeout} s" >&2; exit 1; }
    sleep 0.02
  done
  listen_ms=$(( $(now_ms) - began ))
}

api() { # METHOD PATH [JSON]: fails on a non-2xx answer
  local out
  out=$(curl -sS --max-time 60 -X "$1" -H "authorization: Bearer $token" -H 'content-type: application/json' \
    ${3:+--data-binary "$3"} -w '\n%{http_code}' "$base$2")
  case "${out##*$'\n'}" in 2??) ;; *) echo "$1 $2: $out" >&2; exit 1;; esac
}

# One ingesting client: batches of $batch_lines sale lines with fresh invoice ids until killed.
ingest_loop() {
  local tag=$1 n=0 i lines account
  while :; do
    n=$((n + 1))
    account=${accounts[$(( (n * 7 + ${#tag}) % ${#accounts[@]} ))]}
    lines=
    for i in $(seq 1 "$batch_lines"); do
      lines+="${lines:+,}{\"account_id\":\"$account\",\"invoice_id\":\"SCALE-$tag-$n\",\"line\":$i,\"sku\":\"SKU-SCALE-$((i % 50))\",\"category\":\"beverages\",\"quantity\":\"3\",\"net_amount\":\"99.00\",\"cost_amount\":\"70.00\",\"occurred_on\":\"2026-10-15\"}"
    done
    curl -s -o /dev/null --max-time 60 -w '%{http_code}\n' -H "authorization: Bearer $token" \
      -H 'content-type: application/json' --data-binary "{\"lines\":[$lines]}" "$base/v1/sales" >> "$work/ingest.codes" || true
  done
}

pct() { # FILE Q: the Q-quantile of the sorted numbers in FILE, in ms with two decimals
  awk -v q="$2" '{v[NR] = $1} END {i = int(NR * q); if (i >= NR) i = NR - 1; printf "%.2f", v[i + 1] * 1000}' "$1"
}

printf 'lines\timport lines/s\tdisk B/line\tRSS after start MiB\tRSS after queries MiB\tlisten cold s\tlisten clean restart s\tlisten after kill -9 s\tquery p50 ms\tquery p99 ms\n' > "$work/rows.tsv"
for n in ${sizes//,/ }; do
  echo "== $n lines (load average now: $(cut -d' ' -f1 /proc/loadavg))"
  fixtures=$work/fixtures-$n data=$work/ledger-$n
  "$kaledger" fixtures generate --lines "$n" --seed 7 --out "$fixtures"
  began=$(now_ms)
  "$kaledger" import --data "$data" "$fixtures/accounts.csv" "$fixtures/sales.csv" "$fixtures/returns.csv" 2> "$work/import.err" \
    || { cat "$work/import.err" >&2; exit 1; }
  import_ms=$(( $(now_ms) - began ))
  grep '^imported' "$work/import.err"
  disk=$(du -s --block-size=1 "$data" | cut -f1)
  mapfile -t accounts < <(tail -n +2 "$fixtures/accounts.csv" | cut -d, -f1)
  rm -rf "$fixtures"
  echo "import: $import_ms ms; data directory $disk bytes"

  token=$("$kaledger" token create --data "$data" --name "scale-$n" --role admin)
  start_server
  cold_ms=$listen_ms rss_start=$(rss_mib "$kpid")
  echo "listening (cold) after $cold_ms ms, VmRSS $rss_start MiB"
  jq -c '.[]' fixtures/demo/tier-policy.json | while read -r version; do api POST /v1/tier-policy "$version"; done
  api POST /v1/rebate-programs '{"program_id":"SCALE-VOL","name":"Scale volume rebate","currency":"CNY","period":"quarterly","starts_on":"2024-01-01","ends_on":"2027-12-31","basis":"net_revenue","method":"incremental","tiers":[{"from":"0","rate":"1"},{"from":"100000","rate":"2"},{"from":"500000","rate":"3"}]}'
  for a in "${accounts[@]}"; do
    api POST /v1/rebate-programs/SCALE-VOL/enrollments "{\"account_id\":\"$a\",\"effective_from\":\"2024-01-01\"}"
  done

  # Queries: one curl, one connection, $queries URLs for accounts drawn with a fixed seed.
  : > "$work/ingest.codes"
  printf '%s\n' "${accounts[@]}" | awk -v q="$queries" -v base="$base" 'BEGIN {srand(7)} {id[NR] = $1}
    END {for (i = 0; i < q; i++) {a = id[int(rand() * NR) + 1];
      if (i % 2 == 0) printf "url = \"%s/v1/accounts/%s/entitlements?as_of=2026-10-31\"\n", base, a;
      else printf "url = \"%s/v1/accounts/%s/rebates?period=2026-Q2\"\n", base, a;
      print "output = \"/dev/null\""}}' > "$work/queries.cfg"
  for c in $(seq 1 "$ingesters"); do ingest_loop "$n-q$c" & loops+=($!); done
  sleep 1
  curl -s -K "$work/queries.cfg" -H "authorization: Bearer $token" -w '%{http_code} %{time_total}\n' > "$work/queries.out"
  stop_loops
  rss_queries=$(rss_mib "$kpid")
  ok=$(awk '$1 == 200' "$work/queries.out" | wc -l)
  [ "$ok" -eq "$queries" ] || { echo "only $ok of $queries queries answered 200:" >&2; sort "$work/queries.out" | cut -d' ' -f1 | uniq -c >&2; exit 1; }
  awk '{print $2}' "$work/queries.out" | sort -g > "$work/latency"
  p50=$(pct "$work/latency" 0.5) p99=$(pct "$work/latency" 0.99)
  echo "queries: $ok x 200, p50 $p50 ms, p99 $p99 ms; ingest answers meanwhile: $(sort "$work/ingest.codes" | uniq -c | xargs); VmRSS $rss_queries MiB"

  kill -TERM "$kpid"; wait "$kpid" || true; kpid=
  start_server
  clean_ms=$listen_ms
  echo "listening (clean restart) after $clean_ms ms"
  ingest_loop "$n-k" & loops+=($!)
  sleep 2
  kill -KILL "$kpid"; wait "$kpid" 2>/dev/null || true; kpid=
  stop_loops
  start_server
  kill9_ms=$listen_ms
  echo "listening (after kill -9) after $kill9_ms ms"
  kill -TERM "$kpid"; wait "$kpid" || true; kpid=
  rm -rf "$data"

  awk -v n="$n" -v ims="$import_ms" -v disk="$disk" -v r1="$rss_start" -v r2="$rss_queries" -v c="$cold_ms" \
    -v cl="$clean_ms" -v k="$kill9_ms" -v p50="$p50" -v p99="$p99" 'BEGIN {
      printf "%d\t%.0f\t%.0f\t%d\t%d\t%.2f\t%.2f\t%.2f\t%s\t%s\n", n, n / (ims / 1000), disk / n, r1, r2, c / 1000, cl / 1000, k / 1000, p50, p99}' \
    >> "$work/rows.tsv"
done

echo "== results"
awk -F'\t' '{line = "|"; for (i = 1; i <= NF; i++) line = line " " $i " |"; print line
  if (NR == 1) {line = "|"; for (i = 1; i <= NF; i++) line = line (i == 1 ? "---|" : "---:|"); print line}}' \
  "$work/rows.tsv" | tee "$work/report.md"
[ -n "${SCALE_RESULTS:-}" ] && cp "$work/report.md" "$SCALE_RESULTS"
exit 0
