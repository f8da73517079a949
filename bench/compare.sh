#!/usr/bin/env bash
# kaledger against PostgreSQL, one command (issue 6, DESIGN §8):
#   bash bench/compare.sh
# 1. builds the release binary and examples/compare_load.rs;
# 2. starts `kaledger serve` on a temporary data directory (127.0.0.1, a free port), issues an
#    admin token with `kaledger token create`, and drives it over HTTP: single-line appends,
#    1,000-line batches, and entitlement / accrual queries while other clients ingest, each
#    from 1, 8 and 64 concurrent clients; stops it and measures its data directory;
# 3. creates a PostgreSQL cluster with initdb in a temporary directory (installs the Debian
#    package when no PostgreSQL is found), starts it with pg_ctl on a free loopback port with
#    fsync=on and synchronous_commit=on, creates bench/postgres_events.sql, runs the same
#    workloads against it, stops it and measures its data directory;
# 4. prints one table (events/s, p50, p99, ratio), disk bytes per event and peak memory.
# Everything listens on 127.0.0.1 only, stops by itself, and the temporary directories are
# removed at exit. Sizes (per client): BENCH_SINGLE_REQUESTS (400), BENCH_BATCH_REQUESTS (5),
# BENCH_BATCH_LINES (1000), BENCH_QUERY_REQUESTS (200), BENCH_QUERY_INGESTERS (4),
# BENCH_ACCOUNTS (64), BENCH_CLIENTS (1,8,64). BENCH_RESULTS=FILE keeps a copy of the report.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-target}

echo "== machine"
echo "date:    $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "cpus:    $(nproc) ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1))"
echo "memory:  $(free -m | awk '/^Mem:/{print $2 " MiB"}')"
echo "kernel:  $(uname -sr)"
dev=$(df --output=source /tmp | tail -1)
echo "disk:    $dev $(df --output=fstype,size -h /tmp | tail -1 | xargs) (holds /tmp, where both data directories go)"
echo "load:    $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min, before the run)"
echo "busy:    $(ps -eo pcpu=,comm= --sort=-pcpu | awk '$1 >= 10 {printf "%s (%s%% cpu) ", $2, $1}')(ps %cpu over each process's life, >= 10%, before the run)"
echo "sizes:   BENCH_CLIENTS=${BENCH_CLIENTS:-1,8,64} BENCH_SINGLE_REQUESTS=${BENCH_SINGLE_REQUESTS:-400} BENCH_BATCH_REQUESTS=${BENCH_BATCH_REQUESTS:-5} BENCH_BATCH_LINES=${BENCH_BATCH_LINES:-1000} BENCH_QUERY_REQUESTS=${BENCH_QUERY_REQUESTS:-200} BENCH_QUERY_INGESTERS=${BENCH_QUERY_INGESTERS:-4} BENCH_ACCOUNTS=${BENCH_ACCOUNTS:-64}"

echo "== build"
cargo build --release --locked --bin kaledger --example compare_load
kaledger=$target/release/kaledger
driver=$target/release/examples/compare_load

# PostgreSQL binaries: the newest Debian-packaged major version, installed when missing.
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
if [ -z "$pgbin" ] || [ ! -x "$pgbin/initdb" ]; then
  echo "== installing PostgreSQL (Debian package)"
  [ "$(id -u)" = 0 ] || { echo "PostgreSQL is not installed and this is not root: apt-get install postgresql" >&2; exit 1; }
  # No cluster of its own: the benchmark makes a temporary one.
  if [ ! -e /etc/postgresql-common/createcluster.conf ]; then
    mkdir -p /etc/postgresql-common
    echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.conf
  fi
  apt-get update -qq && apt-get install -y -qq postgresql > /dev/null
  pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
fi
command -v psql > /dev/null || { echo "psql not found" >&2; exit 1; }
# initdb refuses root: run PostgreSQL as the postgres user then.
as_pg=()
if [ "$(id -u)" = 0 ]; then
  id postgres > /dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql postgres
  as_pg=(runuser -u postgres --)
fi

work=$(mktemp -d /tmp/kaledger-bench.XXXXXX)
chmod 755 "$work"
kpid= ppid= sampler=
cleanup() {
  [ -n "$sampler" ] && kill "$sampler" 2>/dev/null || true
  if [ -n "$kpid" ] && kill -0 "$kpid" 2>/dev/null; then kill -TERM "$kpid"; wait "$kpid" 2>/dev/null || true; fi
  if [ -n "$ppid" ] && [ -f "$work/pg/postmaster.pid" ]; then
    "${as_pg[@]}" "$pgbin/pg_ctl" -D "$work/pg" -m immediate -w stop > /dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# Peak memory of a server: the sum of PSS over the process and its children (PostgreSQL
# forks a backend per connection and shares its buffers among them, so RSS would count the
# shared pages once per process), sampled every 0.5 s; also the largest child VmHWM.
sample_memory() {
  local root=$1 out=$2 peak=0 backend=0 total child p v
  while kill -0 "$root" 2>/dev/null; do
    total=0
    for p in "$root" $(ps -o pid= --ppid "$root" 2>/dev/null); do
      v=$(awk '/^Pss:/{print $2}' "/proc/$p/smaps_rollup" 2>/dev/null || true)
      total=$((total + ${v:-0}))
      if [ "$p" != "$root" ]; then
        child=$(awk '/^VmHWM:/{print $2}' "/proc/$p/status" 2>/dev/null || true)
        [ "${child:-0}" -gt "$backend" ] && backend=${child:-0}
      fi
    done
    [ "$total" -gt "$peak" ] && peak=$total
    printf '%s %s\n' "$peak" "$backend" > "$out.tmp" && mv "$out.tmp" "$out"
    sleep 0.5
  done
}
stop_sampler() {
  kill "$sampler" 2>/dev/null || true
  wait "$sampler" 2>/dev/null || true
  sampler=
}

free_port() {
  local p
  for p in $(seq 55432 55632); do
    if ! ss -Hltn "sport = :$p" | grep -q .; then echo "$p"; return 0; fi
  done
  echo "no free port in 55432-55632" >&2
  return 1
}

echo "== kaledger (load average now: $(cut -d' ' -f1 /proc/loadavg))"
token=$("$kaledger" token create --data "$work/ledger" --name bench --role admin)
RUST_LOG=warn "$kaledger" serve --data "$work/ledger" --listen 127.0.0.1:0 > "$work/serve.out" 2> "$work/serve.err" &
kpid=$!
for _ in $(seq 1 300); do grep -q listening "$work/serve.out" 2>/dev/null && break; sleep 0.1; done
base=$(sed -n 's/^kaledger listening on //p' "$work/serve.out")
[ -n "$base" ] || { echo "kaledger did not start:" >&2; cat "$work/serve.err" >&2; exit 1; }
sample_memory "$kpid" "$work/k.mem" &
sampler=$!
"$driver" kaledger "$base" "$token" "$work/kaledger.tsv"
khwm=$(awk '/^VmHWM:/{print $2}' "/proc/$kpid/status")
stop_sampler
kill -TERM "$kpid"
wait "$kpid" || true
kpid=
{
  echo -e "meta\tdisk_bytes\t$(du -s --block-size=1 "$work/ledger" | cut -f1)"
  echo -e "meta\tvmhwm_kib\t$khwm"
  echo -e "meta\tpeak_pss_kib\t$(cut -d' ' -f1 "$work/k.mem" 2>/dev/null || echo n/a)"
} >> "$work/kaledger.tsv"
rm -rf "$work/ledger"

echo "== PostgreSQL ($("$pgbin/postgres" --version); load average now: $(cut -d' ' -f1 /proc/loadavg))"
port=$(free_port)
mkdir "$work/pg"
[ "$(id -u)" = 0 ] && chown postgres: "$work/pg"
"${as_pg[@]}" "$pgbin/initdb" -D "$work/pg" -U postgres --auth=trust --encoding=UTF8 --locale=C > "$work/initdb.log"
cat >> "$work/pg/postgresql.conf" <<EOF
# bench/compare.sh: loopback only, durable commits (the defaults, spelled out).
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$work/pg'
fsync = on
synchronous_commit = on
full_page_writes = on
max_connections = 200
track_wal_io_timing = on
EOF
"${as_pg[@]}" "$pgbin/pg_ctl" -D "$work/pg" -l "$work/pg/server.log" -w start > /dev/null
ppid=$(head -1 "$work/pg/postmaster.pid")
psql -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 -f bench/postgres_events.sql
psql -At -h 127.0.0.1 -p "$port" -U postgres -d postgres \
  -c "SELECT 'settings: ' || string_agg(name || '=' || setting, ' ' ORDER BY name) FROM pg_settings WHERE name IN ('fsync','synchronous_commit','wal_sync_method','full_page_writes','shared_buffers','max_wal_size')"
sample_memory "$ppid" "$work/p.mem" &
sampler=$!
"$driver" postgres "host=127.0.0.1 port=$port user=postgres dbname=postgres" "$work/postgres.tsv"
phwm=$(awk '/^VmHWM:/{print $2}' "/proc/$ppid/status")
stop_sampler
"${as_pg[@]}" "$pgbin/pg_ctl" -D "$work/pg" -m fast -w stop > /dev/null
ppid=
{
  echo -e "meta\tdisk_bytes\t$(du -s --block-size=1 "$work/pg" | cut -f1)"
  echo -e "meta\twal_bytes\t$(du -s --block-size=1 "$work/pg/pg_wal" | cut -f1)"
  echo -e "meta\tvmhwm_kib\t$phwm"
  read -r peak backend < "$work/p.mem" || true
  echo -e "meta\tpeak_pss_kib\t${peak:-n/a}"
  echo -e "meta\tbackend_vmhwm_kib\t${backend:-n/a}"
} >> "$work/postgres.tsv"

echo "== results"
"$driver" report "$work/kaledger.tsv" "$work/postgres.tsv" | tee "$work/report.md"
[ -n "${BENCH_RESULTS:-}" ] && cp "$work/report.md" "$BENCH_RESULTS"
exit 0
