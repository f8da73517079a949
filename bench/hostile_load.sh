#!/usr/bin/env bash
# Hostile load on a release build, 127.0.0.1 only; every part stops by itself (about 2 min).
#   bench/hostile_load.sh                  # bodies, idle and trickle
#   bench/hostile_load.sh bodies trickle   # some of them
# bodies:  RSS and /healthz latency while three 2.79-million-element JSON bodies arrive at once
# idle:    /healthz while 1,100 idle connections are held against a server under ulimit -n 1024
# trickle: a request head trickled over 40 s is cut at the header timeout (default 10 s)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked --quiet
exec python3 bench/hostile_load.py target/release/kaledger "$@"
