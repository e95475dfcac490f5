#!/usr/bin/env bash
# Run the gateway on its embedded default: SQLite store, archive and folder channels under var/,
# the example partners in partners/, API on http://127.0.0.1:8080 (docs at /docs).
# Creates or updates the virtualenv at .venv first. Extra arguments go to 'gateway serve'.
set -euo pipefail
cd "$(dirname "$0")"
source scripts/venv.sh
ensure_venv ""
exec .venv/bin/gateway serve "$@"
