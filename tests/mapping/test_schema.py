"""The JSON Schemas in docs/canonical/ are the ones the models produce (regenerate with
`python -m gateway.canonical.schema`)."""

from __future__ import annotations

from gateway.canonical.schema import DOCS_DIR, schemas


def test_exported_schemas_are_current():
    for name, text in schemas().items():
        path = DOCS_DIR / name
        assert path.exists(), f"{path} missing: run python -m gateway.canonical.schema"
        assert path.read_text(encoding="utf-8") == text, f"{path} is stale: run python -m gateway.canonical.schema"
