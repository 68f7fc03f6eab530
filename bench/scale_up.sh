#!/usr/bin/env bash
# Time from a request to grow a cluster to the new node running and answering its
# peers: asked from inside the cluster (node API) vs by a user (REST API), one
# `corral up` in its own network namespace (root).
#   bench/scale_up.sh
set -euo pipefail
cd "$(dirname "$0")/.."
echo "reproduce: bench/scale_up.sh"
cargo test --release --quiet -p corral --test scale_latency -- --ignored --nocapture bench_scale_up 2>/dev/null | grep "scale-up"
