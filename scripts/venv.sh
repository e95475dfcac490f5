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

ensure_venv() {  # $1: extras wanted, e.g. "test" or "" (the runtime only)
  # One virtualenv serves ./run.sh and ./test.sh: an install with the test extras also satisfies ./run.sh, so
  # alternating the two never reinstalls. The stamp holds the hash of the dependency files and the extras installed.
  local extras=${1:-}
  if [ ! -x "$VENV/bin/python" ]; then
    "$(pick_python)" -m venv "$VENV"
  fi
  local hash stamp="$VENV/.installed" have="" have_hash="" have_extras=""
  hash=$(cat "$ROOT/pyproject.toml" "$ROOT/constraints.txt" | sha256sum | cut -c1-16)
  [ -f "$stamp" ] && have=$(head -n1 "$stamp")
  have_hash=${have%%-*}
  [[ "$have" == *-* ]] && have_extras=${have#*-}
  local install="$extras"
  if [ "$have_hash" = "$hash" ]; then
    local e missing=""
    for e in ${extras//,/ }; do
      [[ ",$have_extras," == *",$e,"* ]] || missing=1
    done
    [ -z "$missing" ] && return 0
    install=$(printf '%s\n' ${have_extras//,/ } ${extras//,/ } | sort -u | paste -sd, -)  # keep what was there
  elif [ -n "$have_extras" ]; then
    install=$(printf '%s\n' ${have_extras//,/ } ${extras//,/ } | sort -u | paste -sd, -)  # keep the test tools
  fi
  echo "== installing the gateway into .venv (${install:-runtime} dependencies): a minute or two the first time" >&2
  # pip's and the build backend's chatter goes to a log, shown only when the install fails
  local log="$VENV/install.log"
  local spec="$ROOT"
  [ -n "$install" ] && spec="$ROOT[$install]"
  if ! { "$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip &&
         "$VENV/bin/python" -m pip install -q --disable-pip-version-check -c "$ROOT/constraints.txt" -e "$spec"
       } >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    echo "error: installing the gateway into .venv failed (full output: $log)" >&2
    return 1
  fi
  echo "$hash-$install" > "$stamp"
}
