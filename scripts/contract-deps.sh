#!/usr/bin/env bash
# Installs schemathesis, which the API contract test (crates/corral/tests/api_contract.rs)
# runs, into a virtualenv under the repo (target/venv), idempotently: a second run with
# the pinned version in place does nothing. Nothing is cached outside the repo.
set -euo pipefail
cd "$(dirname "$0")/.."

SCHEMATHESIS_VERSION=4.32.5
VENV=target/venv

if [[ -x $VENV/bin/schemathesis ]] &&
  [[ $("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("schemathesis"))' 2>/dev/null) == "$SCHEMATHESIS_VERSION" ]]; then
  exit 0
fi
echo "installing schemathesis $SCHEMATHESIS_VERSION into $VENV"
mkdir -p target
python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-cache-dir \
  "schemathesis==$SCHEMATHESIS_VERSION"
