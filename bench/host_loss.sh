#!/usr/bin/env bash
# Time from the loss of a host holding 10 nodes to all of them running on another
# host: a server and two agents in network namespaces on a test LAN (root).
#   HOST_TIMEOUT=2 bench/host_loss.sh
set -euo pipefail
cd "$(dirname "$0")/.."
echo "reproduce: HOST_TIMEOUT=${HOST_TIMEOUT:-2} bench/host_loss.sh"
for i in 1 2 3; do
  HOST_TIMEOUT=${HOST_TIMEOUT:-2} cargo test --release --quiet -p corral --test multi_host -- --ignored --nocapture bench_host_loss 2>/dev/null | grep "host loss"
done
