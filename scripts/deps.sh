#!/usr/bin/env bash
# Installs the Debian packages Corral needs on a host, idempotently.
set -euo pipefail

PACKAGES=(
  crun            # OCI runtime that runs the nodes
  busybox-static  # the minimal image and the nodes' fallback shell
  tini            # PID 1 of every node (tini-static)
  nftables        # isolation between clusters and NAT
  iproute2        # bridges, veths, network namespaces
  debootstrap     # the debian image
  openssh-client  # ssh-keygen for cluster keys, `corral ssh`
  procps
  util-linux      # nsenter, used by the tests
  ipmitool        # the ipmi power driver
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi
