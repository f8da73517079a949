#!/usr/bin/env bash
# Crash loop (DESIGN §9): N cycles of the crash test in tests/it/crash.rs against the real
# release binary. Each cycle: 4 concurrent clients post sale batches (single lines and
# 50–200 line batches, a third with Idempotency-Key) to `kaledger serve`; SIGKILL at a
# random moment; restart; every acknowledged batch is re-posted (it must come back as all
# duplicates, and keyed batches must replay their original answer); GET /v1/audit/verify;
# a short stretch of sales and returns on the restarted server; graceful stop;
# `kaledger verify` must pass and `kaledger rebuild` must give the live projections digest.
#
# Usage: bench/crash_loop.sh [CYCLES] [SEED]       (defaults: 100 cycles, a random seed)
# Environment: RECHECK_ALL_EVERY (default 10: every 10th cycle re-posts every batch ever
# acknowledged, the others only their own cycle's; the last cycle always re-posts all),
# KILL_MS (default 30..730: the window of the kill moment, in ms after the clients start).
# Prints every cycle, then the totals; exits non-zero when any cycle failed.
set -euo pipefail
cd "$(dirname "$0")/.."
cycles=${1:-100}
seed=${2:-$(( (RANDOM << 15 | RANDOM) + 1 ))}
log=$(mktemp)
trap 'rm -f "$log"' EXIT

echo "building the release test binary…"
cargo test --release --locked --test it --no-run 2>&1 | tail -1
started=$(date +%s)
set +e
KALEDGER_CRASH_CYCLES=$cycles KALEDGER_CRASH_SEED=$seed \
KALEDGER_CRASH_RECHECK_ALL_EVERY=${RECHECK_ALL_EVERY:-10} KALEDGER_CRASH_KILL_MS=${KILL_MS:-30..730} \
  cargo test --release --locked --test it crash::kill_9_during_ingestion_loses_nothing_acknowledged \
  -- --exact --nocapture 2>&1 | tee "$log" | grep --line-buffered -E "^crash cycle |^crash loop: |^  cycle |panicked"
status=${PIPESTATUS[0]}
set -e
elapsed=$(( $(date +%s) - started ))
echo
summary=$(grep -E "^crash loop summary" "$log" || true)
if [ -n "$summary" ]; then
  echo "$summary"
else
  echo "crash loop: no summary line (the test stopped early); its output:"
  tail -40 "$log"
fi
run=$(grep -cE "^crash cycle " "$log" || true)
failed=$(grep -E "^crash cycle " "$log" | grep -c PROBLEMS || true)
echo "cycles run: $run of $cycles; cycles with failures: $failed; seed $seed; ${elapsed} s"
exit "$status"
