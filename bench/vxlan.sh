#!/usr/bin/env bash
# iperf3, single stream: node↔node across two simulated hosts over a segment's VXLAN,
# against host↔host over the underlay and bare VXLAN between the host namespaces, in
# interleaved rounds, for each setting of the path (root; iperf3 and ethtool from
# Debian). Prints a Markdown table of median ratios.
#   VXLAN_BENCH_ROUNDS=7 bench/vxlan.sh          # every setting
#   VXLAN_BENCH_VARIANTS=shipped bench/vxlan.sh  # as shipped only
#   VXLAN_BENCH_CORES=separate bench/vxlan.sh    # only with host 1 on core 0, host 2 on core 1
#   VXLAN_BENCH_CORES=shared bench/vxlan.sh      # only with the hosts sharing both cores
set -euo pipefail
cd "$(dirname "$0")/.."
export VXLAN_BENCH_VARIANTS=${VXLAN_BENCH_VARIANTS:-all}
echo "reproduce: VXLAN_BENCH_CORES=${VXLAN_BENCH_CORES:-both} VXLAN_BENCH_ROUNDS=${VXLAN_BENCH_ROUNDS:-5} VXLAN_BENCH_SECONDS=${VXLAN_BENCH_SECONDS:-2} VXLAN_BENCH_WARMUP=${VXLAN_BENCH_WARMUP:-0} VXLAN_BENCH_VARIANTS=$VXLAN_BENCH_VARIANTS bench/vxlan.sh"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
cargo test --release --quiet -p corral-network --test vxlan -- --ignored --nocapture vxlan_throughput 2>&1 |
  grep -E "^\||^median|round"
