#!/usr/bin/env bash
# Runs every check CI runs: formatting, lints, unit tests and the root integration
# tests (real containers, bridges and nftables in network namespaces it creates).
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ $(id -u) != 0 ]]; then
  echo "run as root: the integration tests create namespaces, cgroups and nft rules" >&2
  exit 1
fi

# Incremental artifacts only help rebuilds; a CI run builds once and is short of disk.
export CARGO_INCREMENTAL=${CARGO_INCREMENTAL:-0}

scripts/deps.sh
scripts/contract-deps.sh  # schemathesis in target/venv, for tests/api_contract.rs
# Test-only packages: Chromium for the browser test, ipmi_sim for the power tests.
scripts/test-deps.sh
# The binary embeds the web UI, so it is built before anything compiles.
echo "== web UI"
scripts/web.sh

echo "== cargo fmt --check"
cargo fmt --all --check
echo "== cargo clippy"
cargo clippy --quiet --all-targets -- -D warnings
echo "== cargo test"
df -h . | tail -1
cargo test --workspace --no-fail-fast 2>&1 | tee target/test.log | grep -E "^(test |running|test result|failures|----|thread)" || true
# The summary line that CI reads, and the exit status that decides.
# `|| true`: no result lines at all (a build that failed) must still reach the report.
passed=$( (grep -Eo "test result: [a-zA-Z]+\. [0-9]+ passed" target/test.log || true) | awk '{s+=$4} END {print s+0}')
failed=$( (grep -Eo "; [0-9]+ failed" target/test.log || true) | awk '{s+=$2} END {print s+0}')
echo "$passed passed, $failed failed"
if [[ $passed == 0 ]]; then
  echo "== no test ran; the end of the build log:"
  tail -40 target/test.log
  df -h . | tail -1
  exit 1
fi
if grep -q "test result: FAILED\|error: test failed\|could not compile" target/test.log; then
  echo "== failures"
  sed -n '/^failures:$/,/^test result/p' target/test.log | grep -v "^ *[0-9]*: \|^ *at " | head -300
  grep -B2 -A12 "^error" target/test.log | head -100
  exit 1
fi
