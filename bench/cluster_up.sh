#!/usr/bin/env bash
# Bring-up benchmark: wall time from `corral cluster create` to N nodes running and
# ring-pinging by address, and of `corral cluster delete`, for N = 1, 8, 32; the raw
# crun + ip baseline (bench/baseline.sh) for the same N in the same run; and the
# memory of the `corral up` process per running node.
#
#   sudo bench/cluster_up.sh                # REPS=3 NS="1 8 32" by default
#   sudo REPS=5 NS="32" bench/cluster_up.sh
#
# Environment: REPS (runs per N, default 3), NS (node counts, default "1 8 32"),
# PARALLELISM (corral up --parallelism, default: corral's own default),
# CARGO_TARGET_DIR (where the release build goes, default target/),
# CORRAL_BIN (use this binary instead of building one).
#
# `corral up` runs in a network namespace of its own with a temp data dir and its own
# cgroup parent, driven by the real CLI through `nsenter --net` (not `ip netns exec`:
# mounts must stay in the host's mount namespace). A trap removes everything it
# made, also on failure or Ctrl-C.
set -euo pipefail

REPS=${REPS:-3}
NS=${NS:-"1 8 32"}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}

echo "# reproduce: cd $ROOT && sudo${CARGO_TARGET_DIR:+ CARGO_TARGET_DIR=$CARGO_TARGET_DIR} REPS=$REPS NS=\"$NS\"${PARALLELISM:+ PARALLELISM=$PARALLELISM} bench/cluster_up.sh"
echo "# machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), kernel $(uname -r), $(crun --version | head -1)"

[ "$(id -u)" = 0 ] || { echo "needs root" >&2; exit 1; }
for t in ip nsenter crun jq awk; do
    command -v $t >/dev/null || { echo "needs $t" >&2; exit 1; }
done

if [ -n "${CORRAL_BIN:-}" ]; then
    BIN=$CORRAL_BIN
else
    echo "# building: cargo build --release -p corral (CARGO_TARGET_DIR=$TARGET)" >&2
    (cd "$ROOT" && CARGO_TARGET_DIR=$TARGET cargo build --release -p corral -q)
    BIN=$TARGET/release/corral
fi

NETNS=cbench-$$
CGROUP_PARENT=corral-bench-$$
TMP=$(mktemp -d /var/tmp/corral-bench.XXXXXX)
DATA=$TMP/data
UP_PID=
export CORRAL_CONFIG=$TMP/cli.json CORRAL_SERVER=http://127.0.0.1:7700
unset CORRAL_TOKEN

corral() { nsenter --net=/run/netns/$NETNS "$BIN" "$@" </dev/null; }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
rss_kib() { awk '/^VmRSS:/ { print $2 }' /proc/$UP_PID/status; }

# Removes what this run's `corral up` made, even when it is wedged: containers,
# mounts, cgroups, node namespaces, then its own namespace (which takes bridges,
# veths and nft rules with it) and the temp dir.
cleanup() {
    local rc=$?
    set +e
    if [ -n "$UP_PID" ]; then
        # A cluster left by a failed run: ask corral first, then force.
        corral cluster delete bench >/dev/null 2>&1 &
        local del=$!
        (sleep 20; kill $del 2>/dev/null) &
        wait $del 2>/dev/null
        kill -9 "$UP_PID" 2>/dev/null
        wait "$UP_PID" 2>/dev/null
    fi
    if [ -d "$DATA/runtime/nodes" ]; then
        for dir in "$DATA"/runtime/nodes/*/; do
            [ -d "$dir" ] || continue
            local id
            id=$(basename "$dir")
            crun --root "$DATA/runtime/crun" kill -a "$id" KILL >/dev/null 2>&1
            crun --root "$DATA/runtime/crun" delete -f "$id" >/dev/null 2>&1
            umount -l "$dir/rootfs" 2>/dev/null
            ip netns del "corral-$id" 2>/dev/null
        done
    fi
    for d in /sys/fs/cgroup/*/"$CGROUP_PARENT"; do
        [ -d "$d" ] || continue
        for c in "$d"/*/; do [ -d "$c" ] && rmdir "$c" 2>/dev/null; done
        rmdir "$d" 2>/dev/null
    done
    ip netns del "$NETNS" 2>/dev/null
    if grep -q "$TMP" /proc/self/mountinfo; then
        echo "warning: mounts left under $TMP; not removing it" >&2
    else
        rm -rf "$TMP"
    fi
    if [ $rc -ne 0 ] && [ -f "$TMP/up.log" ]; then tail -30 "$TMP/up.log" >&2; fi
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- the pool ---
ip netns add "$NETNS"
ip -n "$NETNS" link set lo up
mkdir -p "$DATA"
nsenter --net=/run/netns/$NETNS "$BIN" up --listen 127.0.0.1:7700 --host benchhost \
    --data-dir "$DATA" --cgroup-parent "$CGROUP_PARENT" ${PARALLELISM:+--parallelism $PARALLELISM} \
    </dev/null >"$TMP/up.log" 2>&1 &
UP_PID=$!
# Up once it listens and the admin password exists; then log in.
for _ in $(seq 600); do
    kill -0 "$UP_PID" 2>/dev/null || { echo "corral up died" >&2; exit 1; }
    if [ -f "$DATA/server/admin.password" ] &&
        corral login --server "$CORRAL_SERVER" --user admin --password-file "$DATA/server/admin.password" >/dev/null 2>&1; then
        break
    fi
    sleep 0.1
done
corral image list >/dev/null || { echo "corral up did not come up" >&2; exit 1; }
[ "$(cat /proc/$UP_PID/comm)" = corral ] || { echo "pid $UP_PID is not corral" >&2; exit 1; }
sleep 1 # let start-up work settle before the idle reading
RSS_IDLE=$(rss_kib)

# --- one corral run: create, ring, delete ---
ring() { # cluster json on stdin; every node pings the next by address, all at once
    local json n i next addr pids="" fail=0
    json=$(cat)
    n=$(jq '.nodes | length' <<<"$json")
    for i in $(seq 0 $((n - 1))); do
        next=$(((i + 1) % n))
        addr=$(jq -r --arg n "node-$next" '.nodes[] | select(.name == $n) | .address' <<<"$json")
        (
            for _ in 1 2 3; do
                corral exec "bench/node-$i" -- ping -c1 -W1 "$addr" >/dev/null 2>&1 && exit 0
            done
            echo "node-$i cannot ping node-$next ($addr)" >&2
            exit 1
        ) &
        pids="$pids $!"
    done
    for p in $pids; do wait "$p" || fail=1; done
    return $fail
}

corral_run() { # N -> "ready ready+ring delete"
    local n=$1 t0 t1 t2 t3 json
    t0=$(now)
    json=$(corral cluster create bench --image minimal --nodes "$n" --cpu 0.05 --memory 32MiB -o json)
    t1=$(now)
    [ "$(jq -r .state <<<"$json")" = running ] || { echo "create: $json" >&2; return 1; }
    ring <<<"$json"
    t2=$(now)
    # corral_run runs in a subshell: the reading goes through a file.
    if [ "$n" = 32 ] && [ ! -s "$TMP/rss32" ]; then rss_kib >"$TMP/rss32"; fi
    corral cluster delete bench >/dev/null
    t3=$(now)
    echo "$(secs "$t0" "$t1") $(secs "$t0" "$t2") $(secs "$t2" "$t3")"
}

baseline_run() { # N P -> "ready delete"
    "$ROOT/bench/baseline.sh" "$1" "$2" | awk '{ sub("ready_s=", "", $4); sub("delete_s=", "", $5); print $4, $5 }'
}

# median and min of the numbers on stdin, "median/min"
stats() { sort -g | awk '{ v[NR] = $1 } END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.3f %.3f", m, v[1] }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

declare -A R
for n in $NS; do
    for r in $(seq "$REPS"); do
        read -r ready ring_s del < <(corral_run "$n")
        read -r b1 bd1 < <(baseline_run "$n" 1)
        read -r b4 bd4 < <(baseline_run "$n" 4)
        echo "# n=$n run=$r corral ready=$ready ready+ring=$ring_s delete=$del | baseline(seq) ready+ring=$b1 delete=$bd1 | baseline(x4) ready+ring=$b4 delete=$bd4" >&2
        R[$n,ready]+="$ready " R[$n,ring]+="$ring_s " R[$n,del]+="$del "
        R[$n,b1]+="$b1 " R[$n,bd1]+="$bd1 " R[$n,b4]+="$b4 " R[$n,bd4]+="$bd4 "
    done
done
RSS_AFTER=$(rss_kib)
RSS_32=$(cat "$TMP/rss32" 2>/dev/null || true)

med() { local s; s=$(tr ' ' '\n' <<<"${R[$1,$2]}" | grep . | stats); echo "${s% *}"; }
mn() { local s; s=$(tr ' ' '\n' <<<"${R[$1,$2]}" | grep . | stats); echo "${s#* }"; }
cell() { echo "$(med "$1" "$2") ($(mn "$1" "$2"))"; }

echo
echo "Median (min) of $REPS runs, seconds. ratio = corral ready+ring / baseline, corral delete / baseline delete (medians)."
echo "baseline = bench/baseline.sh, one container after another; x4 = four at a time."
echo
echo "| N | corral ready | corral ready+ring | baseline | ratio | corral delete | baseline delete | ratio | baseline x4 | baseline x4 delete |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for n in $NS; do
    echo "| $n | $(cell "$n" ready) | $(cell "$n" ring) | $(cell "$n" b1) | $(ratio "$(med "$n" ring)" "$(med "$n" b1)") | $(cell "$n" del) | $(cell "$n" bd1) | $(ratio "$(med "$n" del)" "$(med "$n" bd1)") | $(cell "$n" b4) | $(cell "$n" bd4) |"
done
echo
echo "corral up RSS: idle ${RSS_IDLE} KiB, after all runs ${RSS_AFTER} KiB${RSS_32:+, with 32 nodes running ${RSS_32} KiB}"
if [ -n "$RSS_32" ]; then
    echo "agent memory per running node: $(awk -v a="$RSS_32" -v b="$RSS_IDLE" 'BEGIN { printf "%.1f KiB", (a - b) / 32 }') (RSS of the whole \`corral up\` process -- server, store and agent -- with 32 nodes minus idle, / 32)"
fi
