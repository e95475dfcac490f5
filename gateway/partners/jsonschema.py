"""The partner file's JSON Schema, for editors (``# yaml-language-server: $schema=...``) and CI.

Published as ``docs/partner.schema.json`` by ``gateway partners schema --output docs/partner.schema.json``;
a test keeps the published file equal to what the models produce.
"""

from __future__ import annotations

import json
from typing import Any

from gateway.partners.schema import Partner


def partner_schema() -> dict[str, Any]:
    schema = Partner.model_json_schema(mode="validation")
    out: dict[str, Any] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Trading partner file",
        "description": "One YAML file per trading partner in partners/ (see docs/partners.md).",
    }
    out.update({k: v for k, v in schema.items() if k not in ("title", "description")})
    return out


def partner_schema_text() -> str:
    return json.dumps(partner_schema(), indent=2, sort_keys=False) + "\n"
