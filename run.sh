#!/usr/bin/env bash
# One command on a fresh machine: set up if needed, build the web dashboard when it is
# missing or older than its sources (Node.js 20+), migrate, serve on HOST:PORT.
set -euo pipefail
cd "$(dirname "$0")"
./setup.sh
./build-web.sh
exec .venv/bin/botskis serve
