#!/bin/sh
# Scheduler throughput: the real placement code over 1,000 and 10,000 simulated hosts
# (indexed vs a naive scan per node), then one whole scheduler pass against SQLite.
# No root needed. Options (environment): HOSTS="1000 10000" REPS=3 PASS_HOSTS=1000
# PASS_NODES=10000 (0 skips the pass) CORRAL_BENCH_DIR=/var/tmp CARGO_TARGET_DIR=...
set -eu
cd "$(dirname "$0")/.."
exec cargo bench -q -p corral-server --bench scheduler
