"""Helpers shared by the X12 tests: where the third-party corpus is (``../shared/x12-corpus`` from the repo)."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO.parent / "shared" / "x12-corpus"


def corpus_dir() -> Path:
    """The shared X12 corpus (``../shared/x12-corpus`` from the repository root); fails loudly when absent."""
    if not (CORPUS / "PROVENANCE.md").is_file():
        pytest.fail(f"the shared X12 corpus is missing: expected it at {CORPUS} (../shared/x12-corpus from the "
                    "repository root). The X12 tests need the real third-party files; they are not optional.")
    return CORPUS


def corpus_files(*folders: str) -> list[Path]:
    root = corpus_dir()
    files = sorted(p for folder in folders for p in (root / folder).glob("*.edi"))
    if not files:
        pytest.fail(f"no .edi files under {', '.join(folders)} in {root}")
    return files


def corpus_id(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"
