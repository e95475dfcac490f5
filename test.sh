#!/usr/bin/env bash
# Run the whole test suite: unit, integration with real services (PostgreSQL, OpenSSH), golden files.
# Creates or updates the virtualenv at .venv first. Extra arguments go to pytest (e.g. ./test.sh -k store).
# With CI=true, tests that need PostgreSQL or an SFTP server fail instead of skipping when those are missing.
set -euo pipefail
cd "$(dirname "$0")"
source scripts/venv.sh
ensure_venv "test"
scripts/services.sh
exec .venv/bin/python -m pytest "$@"
