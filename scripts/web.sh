#!/usr/bin/env bash
# Builds the web UI (web/ -> web/dist), which the corral binary embeds at compile
# time: run it before `cargo build`. Idempotent: installs node modules only when the
# lock file changed, and skips the build when dist is newer than every source.
set -euo pipefail
cd "$(dirname "$0")/../web"

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "the web UI needs Node.js (20.19 or newer) and npm to build; install them and run $0 again" >&2
  exit 1
fi
if ! node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)'; then
  echo "the web UI needs Node.js 20.19 or newer to build (found $(node --version))" >&2
  exit 1
fi

export npm_config_fund=false npm_config_audit=false npm_config_update_notifier=false
if [[ ! -d node_modules ]] || [[ package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo "installing the web UI's node modules..."
  if [[ -f package-lock.json ]]; then npm ci --no-progress --loglevel=error; else npm install --no-progress --loglevel=error; fi
fi

sources=(index.html src package.json package-lock.json tsconfig.json vite.config.ts)
if [[ -f dist/index.html ]] && [[ -z $(find "${sources[@]}" -newer dist/index.html -print -quit) ]]; then
  exit 0
fi
echo "building the web UI..."
npm run --silent build -- --logLevel warn
