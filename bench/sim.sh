#!/bin/sh
# Trace-driven simulation: `corral sim` (release) replays the KTH SP2 trace through
# Corral's real placement, elasticity and power code on simulated hosts and prints
# the tables of docs/benchmarks.md (question 1: power management vs always on and the
# ideal; question 2: dedicated clusters vs one shared pool). No root needed.
# Options: any `corral sim` flag, e.g. bench/sim.sh --question 1 --boot-seconds 300.
# The trace is read from ../shared/data/traces/ beside the repository.
set -eu
cd "$(dirname "$0")/.."
cargo build -q --release -p corral
exec "${CARGO_TARGET_DIR:-target}/release/corral" sim --trace ../shared/data/traces/KTH-SP2-1996-2.swf "$@"
