#!/usr/bin/env bash
# Installs Corral on this machine and starts `corral up` (controller + agent with the
# embedded store). Safe to run again: it rebuilds, reinstalls and restarts.
#
#   CORRAL_DATA_DIR  data directory      (default /var/lib/corral)
#   CORRAL_LISTEN    API address         (default 127.0.0.1:7700)
#   CORRAL_DEBIAN=1  also build the debian image (a few minutes)
set -euo pipefail
cd "$(dirname "$0")/.."

DATA_DIR=${CORRAL_DATA_DIR:-/var/lib/corral}
LISTEN=${CORRAL_LISTEN:-127.0.0.1:7700}
LOG=/var/log/corral.log
PIDFILE=/run/corral-up.pid

if [[ $(id -u) != 0 ]]; then
  echo "run as root: Corral programs namespaces, cgroups and nftables" >&2
  exit 1
fi

scripts/deps.sh
# The web UI is embedded in the binary: build it first.
scripts/web.sh
echo "building corral (release)..."
cargo build --release --quiet -p corral
install -m 0755 target/release/corral /usr/local/bin/corral

if [[ -f $PIDFILE ]] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
  echo "stopping the running corral up (its nodes keep running and are adopted)"
  kill "$(cat "$PIDFILE")"
  for _ in $(seq 50); do kill -0 "$(cat "$PIDFILE")" 2>/dev/null || break; sleep 0.1; done
fi

mkdir -p "$DATA_DIR"
nohup /usr/local/bin/corral up --data-dir "$DATA_DIR" --listen "$LISTEN" >>"$LOG" 2>&1 &
echo $! >"$PIDFILE"

for _ in $(seq 300); do
  if [[ -f $DATA_DIR/server/admin.password ]] && corral --server "http://$LISTEN" image list >/dev/null 2>&1 ||
    corral --server "http://$LISTEN" image list 2>&1 | grep -q "unauthorized\|token"; then
    break
  fi
  kill -0 "$(cat "$PIDFILE")" 2>/dev/null || { echo "corral up failed; see $LOG" >&2; tail -20 "$LOG" >&2; exit 1; }
  sleep 0.2
done

corral login --server "http://$LISTEN" --user admin --password-file "$DATA_DIR/server/admin.password" >/dev/null

if [[ ${CORRAL_DEBIAN:-0} == 1 ]]; then
  corral image list -o json | grep -q '"name": "debian"' || corral image build debian
fi

cat <<MSG

Corral is up (log: $LOG, data: $DATA_DIR).
  API:    http://$LISTEN
  Web UI: http://$LISTEN/ (log in as admin with the password below)
  Admin:  logged in as admin; the bootstrap password is in $DATA_DIR/server/admin.password (mode 0600)
  Try:    corral cluster create demo --image minimal --nodes 3
          corral exec demo/node-0 -- ping -c1 node-2
MSG
