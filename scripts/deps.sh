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

# Kernel features the network driver relies on (no module to load by hand): nftables
# with concatenated interval sets (Linux ≥ 5.6) and conntrack zones
# (CONFIG_NF_CONNTRACK_ZONES), used to keep clusters that share a subnet apart;
# `net.ipv4.conf.all.rp_filter` must not be 1 (strict), or nodes of the second cluster
# on a shared subnet are filtered (each segment bridge gets rp_filter 0 itself).
if [ "$(cat /proc/sys/net/ipv4/conf/all/rp_filter 2>/dev/null || echo 0)" = 1 ]; then
  echo "warning: net.ipv4.conf.all.rp_filter is 1 (strict); clusters sharing a subnet need 0 or 2" >&2
fi
