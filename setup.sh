#!/usr/bin/env bash
# Prepare a fresh checkout: virtualenv, install, .env with a new SECRET_KEY, migrations.
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-python3}
if [[ ! -x .venv/bin/python ]]; then
  "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || { echo "setup.sh: Python 3.11 or newer is required" >&2; exit 1; }
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.botskis-installed
if [[ ! -f $stamp || pyproject.toml -nt $stamp || ${BOTSKIS_EXTRAS:-} != "$(cat "$stamp")" ]]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e ".${BOTSKIS_EXTRAS:+[$BOTSKIS_EXTRAS]}"
  printf '%s' "${BOTSKIS_EXTRAS:-}" > "$stamp"
fi

if [[ ! -f .env ]]; then
  secret=$(.venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(48))')
  sed "s|^SECRET_KEY=.*|SECRET_KEY=${secret}|" .env.example > .env
  chmod 600 .env
  echo "setup.sh: wrote .env with a new SECRET_KEY"
fi

.venv/bin/botskis migrate
