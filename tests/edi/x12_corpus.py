"""Where the X12 tests find their third-party files.

The licence-compatible part of the corpus ships with the repository in ``tests/corpus/x12`` (provenance and
licences in its PROVENANCE.md), so a fresh clone tests without anything beside it. The few files that cannot ship
(CDDL-1.0 and MPL-2.0 sources) are read from the shared corpus (``../shared/x12-corpus`` from the repository root)
when it is there: :func:`corpus_files` adds them, and :func:`corpus_file` skips a test that needs one of them when
it is not.
"""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO / "tests" / "corpus" / "x12"
SHARED = REPO.parent / "shared" / "x12-corpus"


def corpus_dir() -> Path:
    """The corpus shipped in the repository; fails loudly when it is missing (a broken checkout)."""
    if not (CORPUS / "PROVENANCE.md").is_file():
        pytest.fail(f"the X12 test corpus is missing at {CORPUS}: it ships with the repository (git checkout)")
    return CORPUS


def shared_dir() -> Path | None:
    """The shared corpus beside the repository, when there is one (it only adds files)."""
    return SHARED if (SHARED / "PROVENANCE.md").is_file() else None


def corpus_file(name: str) -> Path:
    """``name`` (``"856/x.edi"``) from the repository's corpus, else from the shared one; skips when neither has it."""
    path = corpus_dir() / name
    if path.is_file():
        return path
    shared = shared_dir()
    if shared is not None and (shared / name).is_file():
        return shared / name
    pytest.skip(f"{name} is not shipped with the repository (licence) and ../shared/x12-corpus is not there")


def corpus_files(*folders: str) -> list[Path]:
    """Every ``.edi`` file of ``folders``: the repository's, plus the shared corpus' extra files when present."""
    root = corpus_dir()
    found: dict[str, Path] = {}
    for base in filter(None, (shared_dir(), root)):  # the repository's copy wins
        for folder in folders:
            for p in (base / folder).glob("*.edi"):
                found[f"{folder}/{p.name}"] = p
    if not found:
        pytest.fail(f"no .edi files under {', '.join(folders)} in {root}")
    return [found[k] for k in sorted(found)]


def shipped(path: Path) -> bool:
    """True when ``path`` is one of the repository's own corpus files (not an extra from the shared corpus)."""
    return path.is_relative_to(CORPUS)


def corpus_id(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"
