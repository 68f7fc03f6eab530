#!/bin/sh
# The raw baseline of the bring-up benchmark: what a careful admin does by hand with
# crun + ip for N busybox containers, with no Corral at all.
#
#   bench/baseline.sh N [PARALLEL]
#
# Inside a network namespace of its own: one bridge, per container a network
# namespace with a veth pair and an address, an overlay root over a busybox image
# (built once in a temp dir), an OCI config from `crun spec` patched with sed (cpu and
# memory limits like a Corral node's), `crun run -d`; then a ring ping (container i
# pings container i+1 by address, from inside, with `crun exec`). Then everything is
# deleted again. PARALLEL (default 1, "one after another") containers are started or
# deleted at once.
#
# Prints one line:  baseline n=N parallel=P ready_s=S delete_s=S
#   ready_s:  from the first command to all N running and the ring ping done
#   delete_s: from the first kill to containers, mounts, cgroups, namespaces, veths
#             and the bridge all gone
# Needs root. Traffic stays inside the namespaces it makes; a trap removes all of
# them, also on failure or Ctrl-C.
set -eu

N=${1:?usage: $0 N [PARALLEL]}
P=${2:-1}
case $N in '' | *[!0-9]*) echo "N must be a number" >&2; exit 2 ;; esac
case $P in '' | *[!0-9]* | 0) echo "PARALLEL must be a positive number" >&2; exit 2 ;; esac
[ "$N" -ge 1 ] && [ "$N" -le 250 ] || { echo "N must be 1..250" >&2; exit 2; }

TAG=cb$$                          # unique per run: namespaces are global names
WORK=$(mktemp -d /var/tmp/corral-baseline.XXXXXX)
CRUN="crun --root $WORK/crun"
NET=10.99.0                       # inside $TAG only
CG=corral-baseline-$$             # cgroup parent of the containers
BUSYBOX=$(command -v busybox)

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

cleanup() {
    set +e
    for i in $(seq 0 $((N - 1))); do
        $CRUN delete -f "$TAG-$i" >/dev/null 2>&1
        umount -l "$WORK/c$i/rootfs" 2>/dev/null
        ip netns del "$TAG-$i" 2>/dev/null
    done
    for d in /sys/fs/cgroup/*/"$CG"; do
        [ -d "$d" ] || continue
        for c in "$d"/*/; do [ -d "$c" ] && rmdir "$c" 2>/dev/null; done
        rmdir "$d" 2>/dev/null
    done
    ip netns del "$TAG" 2>/dev/null
    umount -l "$WORK/image" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# crun 1.8 refuses a "hybrid" cgroup host whose cgroup2 tree lists controllers that
# have no v1 hierarchy (hugetlb here): give them one, as `corral up` does.
if [ -s /sys/fs/cgroup/unified/cgroup.controllers ]; then
    for c in $(cat /sys/fs/cgroup/unified/cgroup.controllers); do
        if ! grep -q " /sys/fs/cgroup/$c cgroup " /proc/mounts; then
            mkdir -p "/sys/fs/cgroup/$c" && mount -t cgroup -o "$c" cgroup "/sys/fs/cgroup/$c"
        fi
    done
fi

# --- once, not timed: the busybox image and the config template ---
mkdir -p "$WORK/image/bin" "$WORK/image/proc" "$WORK/image/sys" "$WORK/image/dev" \
    "$WORK/image/etc" "$WORK/image/tmp" "$WORK/image/root" "$WORK/crun" "$WORK/spec"
cp "$BUSYBOX" "$WORK/image/bin/busybox"
for a in $("$BUSYBOX" --list); do [ "$a" = busybox ] || ln -s busybox "$WORK/image/bin/$a"; done
(cd "$WORK/spec" && crun spec)
# Patches that hold for every container: no terminal, a long sleep as init, a
# writable root (the overlay), CAP_NET_RAW for ping, 0.05 cpu and 32 MiB.
sed -e 's/"terminal": true/"terminal": false/' \
    -e 's/^\(\s*\)"sh"$/\1"\/bin\/sleep", "1000000"/' \
    -e 's/"readonly": true/"readonly": false/' \
    -e 's/"CAP_KILL",/"CAP_KILL", "CAP_NET_RAW",/' \
    -e 's/"resources": {/"cgroupsPath": "\/'"$CG"'\/@ID@", "resources": { "memory": { "limit": 33554432 }, "cpu": { "quota": 5000, "period": 100000 },/' \
    -e 's/"hostname": "crun"/"hostname": "@ID@"/' \
    -e 's/"type": "network"/"type": "network", "path": "\/run\/netns\/@ID@"/' \
    "$WORK/spec/config.json" >"$WORK/config.template"
grep -q '"/bin/sleep"' "$WORK/config.template" || { echo "crun spec changed: cannot patch it" >&2; exit 1; }

addr() { echo "$NET.$(($1 + 2))"; }

# One container, from nothing to running with its address.
up_one() {
    i=$1
    id=$TAG-$i
    c=$WORK/c$i
    ip netns add "$id"
    ip -n "$TAG" link add "v$i" type veth peer name eth0 netns "$id"
    ip -n "$TAG" link set "v$i" master br0 up
    ip -n "$id" addr add "$(addr "$i")/24" dev eth0
    ip -n "$id" link set eth0 up
    ip -n "$id" link set lo up
    mkdir -p "$c/rootfs" "$c/upper" "$c/work"
    mount -t overlay overlay -o "lowerdir=$WORK/image,upperdir=$c/upper,workdir=$c/work" "$c/rootfs"
    sed "s/@ID@/$id/g" "$WORK/config.template" >"$c/config.json"
    $CRUN run -d --bundle "$c" "$id" </dev/null >"$c/log" 2>&1 || { cat "$c/log" >&2; return 1; }
}

# One container, from running to nothing.
down_one() {
    i=$1
    id=$TAG-$i
    c=$WORK/c$i
    $CRUN kill "$id" KILL 2>/dev/null || true
    $CRUN delete -f "$id"
    umount "$c/rootfs"
    rm -rf "$c"
    ip netns del "$id"       # takes eth0 and with it the veth pair
}

# Runs "$1 i" for i in 0..N-1, P at a time; fails if any failed.
each() {
    fn=$1 i=0
    while [ $i -lt "$N" ]; do
        pids=
        j=0
        while [ $j -lt "$P" ] && [ $i -lt "$N" ]; do
            $fn $i &
            pids="$pids $!"
            i=$((i + 1)) j=$((j + 1))
        done
        for p in $pids; do wait "$p"; done
    done
}

ping_one() {
    next=$((($1 + 1) % N))
    for _ in 1 2 3; do
        $CRUN exec "$TAG-$1" ping -c1 -W1 "$(addr $next)" >/dev/null 2>&1 && return 0
    done
    echo "container $1 cannot ping $(addr $next)" >&2
    return 1
}

# Pings: all N at once (every ping is its own crun exec).
ring() {
    pids=
    for i in $(seq 0 $((N - 1))); do
        ping_one "$i" &
        pids="$pids $!"
    done
    for p in $pids; do wait "$p"; done
}

# --- timed: up ---
t0=$(now)
ip netns add "$TAG"
ip -n "$TAG" link set lo up
ip -n "$TAG" link add br0 type bridge
ip -n "$TAG" addr add "$NET.1/24" dev br0
ip -n "$TAG" link set br0 up
each up_one
ring
t1=$(now)

# --- timed: delete ---
each down_one
for d in /sys/fs/cgroup/*/"$CG"; do [ -d "$d" ] && rmdir "$d"; done
ip -n "$TAG" link del br0
t2=$(now)

echo "baseline n=$N parallel=$P ready_s=$(secs "$t0" "$t1") delete_s=$(secs "$t1" "$t2")"
