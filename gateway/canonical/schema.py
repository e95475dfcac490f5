"""JSON Schema of the canonical records, exported to ``docs/canonical/<type>.schema.json``.

Run ``python -m gateway.canonical.schema [DIR]`` after changing a model; a test fails while the files differ.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from gateway.canonical.models import RECORD_TYPES

DOCS_DIR = Path(__file__).resolve().parents[2] / "docs" / "canonical"


def schemas() -> dict[str, str]:
    """File name -> JSON text, for every record type."""
    out = {}
    for kind, model in RECORD_TYPES.items():
        schema = model.model_json_schema(mode="serialization")
        schema["$id"] = f"https://edi-gateway.invalid/canonical/{kind}.schema.json"
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        out[f"{kind}.schema.json"] = json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    return out


def export(directory: Path = DOCS_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in schemas().items():
        path = directory / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":  # pragma: no cover - developer tool
    for p in export(Path(sys.argv[1]) if len(sys.argv) > 1 else DOCS_DIR):
        print(p)
