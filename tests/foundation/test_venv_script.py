"""scripts/venv.sh: one virtualenv for ./run.sh and ./test.sh; alternating them never reinstalls.

Runs the real script on a real (pip-less) virtualenv in a scratch copy of the project's dependency files: an
install attempt would call pip, which is not there, and fail the command.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / "scripts").mkdir(parents=True)
    for name in ("pyproject.toml", "constraints.txt"):
        shutil.copy2(REPO / name, root / name)
    shutil.copy2(REPO / "scripts" / "venv.sh", root / "scripts" / "venv.sh")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root / ".venv")], check=True, timeout=120)
    return root


def deps_hash(root: Path) -> str:
    data = (root / "pyproject.toml").read_bytes() + (root / "constraints.txt").read_bytes()
    return hashlib.sha256(data).hexdigest()[:16]


def ensure(root: Path, *extras: str) -> subprocess.CompletedProcess[str]:
    calls = "; ".join(f'ensure_venv "{e}"' for e in extras)
    return subprocess.run(["bash", "-c", f"source scripts/venv.sh; {calls}"], cwd=root, capture_output=True,
                          text=True, timeout=60, check=False)


def test_run_after_test_does_not_reinstall(tmp_path: Path) -> None:
    root = project(tmp_path)
    (root / ".venv" / ".installed").write_text(f"{deps_hash(root)}-test\n")
    proc = ensure(root, "", "test", "", "test")  # ./run.sh, ./test.sh, ./run.sh, ./test.sh
    assert proc.returncode == 0 and "installing" not in proc.stderr, proc.stderr
    assert (root / ".venv" / ".installed").read_text() == f"{deps_hash(root)}-test\n"


def test_a_runtime_install_serves_run_and_a_changed_dependency_set_reinstalls(tmp_path: Path) -> None:
    root = project(tmp_path)
    (root / ".venv" / ".installed").write_text(f"{deps_hash(root)}-\n")
    assert ensure(root, "", "").returncode == 0
    # the test tools are missing: ./test.sh installs (here pip is absent, so the attempt shows and fails)
    proc = ensure(root, "test")
    assert proc.returncode != 0 and "installing the gateway into .venv (test dependencies)" in proc.stderr
    # pip's output is kept in a log and shown only because the install failed, with where the log is
    assert "No module named pip" in proc.stderr and ".venv/install.log" in proc.stderr, proc.stderr
    # a changed constraints file reinstalls, keeping the test tools that were there
    (root / ".venv" / ".installed").write_text(f"{deps_hash(root)}-test\n")
    with (root / "constraints.txt").open("a") as f:
        f.write("\n")
    proc = ensure(root, "")
    assert proc.returncode != 0 and "(test dependencies)" in proc.stderr
