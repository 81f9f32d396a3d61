#!/usr/bin/env bash
# Prepare a fresh checkout: virtualenv, install, .env with a new SECRET_KEY, migrations.
# BOTSKIS_EXTRAS=test (comma-separated) adds optional dependencies; extras once
# installed are kept, so ./run.sh after ./test.sh installs nothing.

STAMP=.venv/.botskis-installed

# extras_to_install STAMP HASH WANTED
# The stamp file holds "<sha256 of pyproject.toml> <extras installed, comma-separated>".
# Prints the extras an install must include (those installed already plus WANTED,
# sorted) and succeeds when an install is needed: the hash differs from the
# stamp's (or there is no stamp), or WANTED names an extra not installed yet.
# Fails, after printing, when the installed environment already covers WANTED.
extras_to_install() {
  local stamp=$1 hash=$2 wanted=$3 have_hash="" have="" extra missing=0
  if [[ -f $stamp ]]; then
    read -r have_hash have <"$stamp" || true
  fi
  if [[ ! $have_hash =~ ^[0-9a-f]{64}$ ]]; then
    # An older stamp held only the extras.
    have=$have_hash have_hash=""
  fi
  printf '%s' "$(printf '%s' "$have,$wanted" | tr ',' '\n' | sed '/^$/d' | sort -u | paste -sd, -)"
  for extra in ${wanted//,/ }; do
    [[ ,$have, == *,"$extra",* ]] || missing=1
  done
  [[ $have_hash != "$hash" || $missing == 1 ]]
}

main() {
  set -euo pipefail
  cd "$(dirname "$0")"

  local python=${PYTHON:-python3} hash extras
  if [[ ! -x .venv/bin/python ]]; then
    "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
      || { echo "setup.sh: Python 3.11 or newer is required" >&2; exit 1; }
    "$python" -m venv .venv
    rm -f "$STAMP"
  fi
  hash=$(.venv/bin/python -c 'import hashlib; print(hashlib.sha256(open("pyproject.toml", "rb").read()).hexdigest())')
  if extras=$(extras_to_install "$STAMP" "$hash" "${BOTSKIS_EXTRAS:-}"); then
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --quiet -e ".${extras:+[$extras]}"
    printf '%s %s\n' "$hash" "$extras" >"$STAMP"
  fi

  if [[ ! -f .env ]]; then
    local secret
    secret=$(.venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(48))')
    sed "s|^SECRET_KEY=.*|SECRET_KEY=${secret}|" .env.example >.env
    chmod 600 .env
    echo "setup.sh: wrote .env with a new SECRET_KEY"
  fi

  .venv/bin/botskis migrate
}

# Sourcing the file (tests/test_setup_script.py does) defines the functions only.
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
  main "$@"
fi
