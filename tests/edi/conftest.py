"""Fixtures for the X12 engine tests: the shared third-party corpus, and pyx12 as independent 997/999 checker."""

from __future__ import annotations

import io
import json
import logging
import shutil
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from x12_corpus import corpus_dir


@pytest.fixture(scope="session")
def corpus() -> Path:
    return corpus_dir()


# ---------------------------------------------------------------------------------------------------- pyx12
# pyx12's bundled 997 (004010) and 999 (005010) maps are HIPAA implementation guides: their code lists for
# AK101/AK201 (functional group / transaction set being acknowledged) and ISA05/ISA07 (interchange id qualifiers)
# only allow health-care values (HC, 837, ...). A 997 acknowledging a 940 (AK1*OW, AK2*940) is correct X12 but
# "not found" for those maps. We therefore widen exactly these four code lists to the X12 standard lists taken
# from an independent source (staedi's schemas in the corpus' reference folder); every other rule of the maps
# (segment order, loops, requirement, element types and lengths, counts, control numbers) is used as shipped.
_WIDEN = {"AK101": "E0479", "AK201": "E0143", "ISA05": "I05", "ISA07": "I05"}


def _staedi_codes(ref: Path) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name in ("staedi/EDISchema997.xml", "staedi/control-common.xml"):
        root = ET.parse(ref / name).getroot()
        for el in root:
            if el.tag.endswith("elementType"):
                values = [v.text or "" for v in el.iter() if v.tag.endswith("value")]
                if values:
                    out[el.get("name", "")] = values
    return out


@pytest.fixture(scope="session")
def pyx12_map_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import pyx12

    source = Path(pyx12.__file__).parent / "map"
    target = tmp_path_factory.mktemp("pyx12-map")
    for item in source.iterdir():
        if item.is_file():
            shutil.copy2(item, target / item.name)
    codes = _staedi_codes(corpus_dir() / "reference")
    for name in ("997.4010.xml", "999.5010.xml", "x12.control.00401.xml", "x12.control.00501.xml"):
        path = target / name
        tree = ET.parse(path)
        for element in tree.iter("element"):
            standard = _WIDEN.get(element.get("xid", ""))
            valid = element.find("valid_codes")
            if standard is None or valid is None:
                continue
            for child in list(valid):
                valid.remove(child)
            for code in codes[standard]:
                ET.SubElement(valid, "code").text = code
        tree.write(path, encoding="utf-8", xml_declaration=True)
    return target


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _errors(doc: Any) -> Iterator[dict[str, Any]]:
    if isinstance(doc, dict):
        for key, value in doc.items():
            if key == "errors" and isinstance(value, list):
                yield from value
            else:
                yield from _errors(value)
    elif isinstance(doc, list):
        for item in doc:
            yield from _errors(item)


@pytest.fixture(scope="session")
def pyx12_check(pyx12_map_path: Path) -> Callable[[bytes, Path], list[str]]:
    """``check(data, tmp_dir) -> problems``: run pyx12 on an interchange; [] when it validates cleanly.

    TA1 segments are removed first: X12.5 places TA1 after the ISA and before the groups (as the engine writes
    it), while pyx12's control map only accepts it after the last GE. Callers check the TA1 separately.
    """
    import pyx12.params
    import pyx12.x12n_document

    def check(data: bytes, tmp: Path) -> list[str]:
        text = data.decode("ascii")
        term = text[105]
        suffix = "\r\n" if text[106:108] == "\r\n" else ("\n" if text[106:107] == "\n" else "")
        segments = [s for s in text.split(term + suffix) if s]
        kept = [s for s in segments if not s.startswith("TA1" + text[3])]
        path = tmp / "ack.x12"
        path.write_text("".join(s + term + suffix for s in kept), encoding="ascii")
        params = pyx12.params.params()
        collector = _Collect()
        logger = logging.getLogger("pyx12")
        logger.addHandler(collector)
        try:
            out = io.StringIO()
            ok = pyx12.x12n_document.x12n_document(params, str(path), None, None, None, out,
                                                     map_path=str(pyx12_map_path))
        finally:
            logger.removeHandler(collector)
        problems = list(collector.messages)
        problems += [f"{e.get('err_cde')}: {e.get('err_str')}" for e in _errors(json.loads(out.getvalue() or "{}"))]
        if not ok and not problems:
            problems.append("pyx12 returned False")
        return problems

    return check
