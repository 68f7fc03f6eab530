#!/usr/bin/env bash
# Installs what only the tests need, idempotently: Debian's Chromium for the web UI's
# browser test (driven by playwright-core from web/'s node modules, which
# scripts/web.sh installs; no browser is ever downloaded) and OpenIPMI's ipmi_sim, the
# real IPMI endpoint the power tests switch hosts through.
set -euo pipefail

PACKAGES=(
  chromium  # crates/corral/tests/web_ui.rs
  openipmi  # ipmi_sim: crates/corral-power/tests/ipmi_sim.rs, crates/corral/tests/power.rs
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing test packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi
