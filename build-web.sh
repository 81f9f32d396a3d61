#!/usr/bin/env bash
# Build the web dashboard (web/) into src/botskis/web_dist, where `botskis serve` and
# the wheel find it, when the build is missing or older than any file of web/.
# Without Node.js 20+ it says so in one line and leaves the build as it is: the
# server then serves the API and a page saying how to build the dashboard.
# --force builds even when the build looks current.
set -euo pipefail
cd "$(dirname "$0")"

dist=src/botskis/web_dist
stamp=$dist/index.html
[[ -f web/package.json ]] || exit 0

if [[ ${1:-} != --force && -f $stamp ]] \
  && [[ -z $(find web -path web/node_modules -prune -o -type f -newer "$stamp" -print -quit) ]]; then
  exit 0
fi

if ! command -v node >/dev/null 2>&1 \
  || ! node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)'; then
  if [[ -f $stamp ]]; then
    echo "build-web.sh: Node.js 20+ not found; serving the existing, older dashboard build" >&2
  else
    echo "build-web.sh: Node.js 20+ not found; serving the API only (install Node.js 20+ and re-run to get the dashboard)" >&2
  fi
  exit 0
fi

cd web
# npm ci wipes node_modules; only when the lock file changed since the last install.
if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
npm run build --silent
echo "build-web.sh: dashboard built into $dist"
