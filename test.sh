#!/usr/bin/env bash
# Install what the tests need and run the whole suite with coverage.
# TEST_DATABASE_URL / TEST_REDIS_URL run the same suite on PostgreSQL / Redis.
set -euo pipefail
cd "$(dirname "$0")"
BOTSKIS_EXTRAS=test ./setup.sh >/dev/null
exec .venv/bin/python -m pytest --cov=botskis --cov-report=term "$@"
