# Sourced by run.sh and test.sh: create or update the virtualenv at .venv with the gateway installed.
# Re-installs only when pyproject.toml or constraints.txt changed since the last install.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV="$ROOT/.venv"

pick_python() {
  for py in "${PYTHON:-}" python3.13 python3.12 python3.11 python3; do
    [ -n "$py" ] || continue
    if command -v "$py" >/dev/null 2>&1 && "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      echo "$py"; return 0
    fi
  done
  echo "error: Python 3.11 or newer is needed (set PYTHON=/path/to/python3.11)" >&2
  return 1
}

ensure_venv() {  # $1: extras, e.g. "test" or ""
  local extras=${1:-}
  if [ ! -x "$VENV/bin/python" ]; then
    "$(pick_python)" -m venv "$VENV"
  fi
  local want stamp="$VENV/.installed"
  want=$(cat "$ROOT/pyproject.toml" "$ROOT/constraints.txt" | sha256sum | cut -c1-16)"-$extras"
  if [ ! -f "$stamp" ] || ! grep -qx -- "$want" "$stamp" 2>/dev/null; then
    echo "== installing the gateway into .venv (${extras:-runtime} dependencies)" >&2
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip >/dev/null
    local spec="$ROOT"
    [ -n "$extras" ] && spec="$ROOT[$extras]"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check -c "$ROOT/constraints.txt" -e "$spec"
    echo "$want" > "$stamp"
  fi
}
