#!/usr/bin/env bash
# One command on a fresh machine: set up if needed, migrate, serve on HOST:PORT.
set -euo pipefail
cd "$(dirname "$0")"
./setup.sh
exec .venv/bin/botskis serve
