"""The shipped example partners: valid as shipped, and valid with each commented variant switched on."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from gateway.partners.schema import Partner

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((REPO / "partners").glob("*.yaml"))


def variants(text: str) -> list[tuple[str, str]]:
    """Each '# >>> NAME variant' block uncommented (the '# ' after the indentation removed)."""
    lines = text.splitlines()
    out = []
    for i, line in enumerate(lines):
        m = re.match(r"^(\s*)# >>> (\S+) variant", line)
        if not m:
            continue
        indent = m.group(1)
        end = next(j for j in range(i, len(lines)) if lines[j].strip() == "# <<<")
        block = [ln for ln in lines[i + 1 : end] if ln.startswith(indent + "# ")]
        body = [indent + ln[len(indent) + 2 :] for ln in block if ln[len(indent) + 2 :].startswith(("-", " "))]
        out.append((m.group(2), "\n".join(lines[:i] + body + lines[end + 1 :]) + "\n"))
    return out


def test_every_example_has_a_commented_sftp_or_as2_variant():
    kinds = {kind for f in EXAMPLES for kind, _ in variants(f.read_text())}
    assert {"SFTP", "AS2"} <= kinds


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_commented_variants_are_valid_when_uncommented(path):
    for kind, text in variants(path.read_text()):
        partner = Partner.model_validate(yaml.safe_load(text), context={"base_dir": path.parent})
        assert any(c.type == kind.lower() for c in partner.channels), (kind, text)
