"""Maintainer tool: derive the shipped specification data from openly licensed reference definitions.

Not imported by the engine. Run from the repository root::

    python -m gateway.edi.x12.specs._derive ../shared/x12-corpus/reference

It reads FACTS (loop nesting, segment order, requirement designators, maximum use, element order, syntax notes,
element types, lengths and code lists) from the reference files described in the corpus' ``reference/README.md``
and writes this package's own JSON format next to this file. No code is copied: the references are parsed as
data. Where the sources disagree, the choice and its reason are listed in :data:`CORRECTIONS` and recorded in the
generated files under ``"notes"``.

Sources used:

* olmelabs/EdiEngine (MIT) ``004010/M_*.cs``: transaction set structure of 856, 940, 945, 214, 997;
  ``Segments.cs``, ``DataElements.cs``, ``CompositeDataElements.cs``: segment and element dictionary.
* kputnam/stupidedi (BSD-3-Clause) ``004010/segment_defs``: MEA, MS1 and LH1 (see CORRECTIONS).
* xlate/staedi (Apache-2.0) ``EDISchema997.xml``, ``EDISchema999.xml``: 005010 997 and 999 structure.
* azoner/pyx12 (BSD-3-Clause-style) ``dataele.xml`` and ``999.5010.xml``: 005010 element types, 999 code lists.
"""

from __future__ import annotations

import json
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent
SETS_4010 = ("856", "940", "945", "214", "997")
FUNCTIONAL_GROUPS = {"856": "SH", "940": "OW", "945": "SW", "214": "QM", "997": "FA", "999": "FA"}
NAMES = {
    "856": "Ship Notice/Manifest",
    "940": "Warehouse Shipping Order",
    "945": "Warehouse Shipping Advice",
    "214": "Transportation Carrier Shipment Status Message",
    "997": "Functional Acknowledgment",
    "999": "Implementation Acknowledgment",
}
CORRECTIONS = [
    "997/004010 AK5 is mandatory in the AK2 loop (EdiEngine marks it optional; staedi, pyx12 and the X12 997 "
    "standard make it mandatory).",
    "MEA, MS1 and LH1 are taken from stupidedi: EdiEngine's MEA lacks MEA11-MEA12 and its syntax notes name "
    "element positions the segment does not have (R03192022); its MS1 lacks MS108 and its LH1 lacks LH112.",
    "ST and SE element definitions follow staedi's control schema (ST03 exists from 004020 on).",
    "Syntax notes that name positions beyond a segment's last element (EdiEngine carries some from later "
    "versions, e.g. QTY R0218, N9 P0910) are dropped, or taken from stupidedi when it defines the same segment.",
]
_ST_SE = {
    "ST": {"elements": [["143", "M"], ["329", "M"], ["1705", "O"]], "syntax": []},
    "SE": {"elements": [["96", "M"], ["329", "M"]], "syntax": []},
}
_ST_SE_ELEMENTS = {
    "143": ["ID", 3, 3, None],
    "329": ["AN", 4, 9, None],
    "1705": ["AN", 1, 35, None],
    "96": ["N0", 1, 10, None],
}


def _ref(name: str) -> str:
    return name[2:].lstrip("0") or "0" if name.startswith("E_") else name


def ediengine_elements(ref: Path) -> dict[str, list[Any]]:
    text = (ref / "ediengine/004010/DataElements.cs").read_text()
    out: dict[str, list[Any]] = {}
    pattern = r"public class (E_\w+) : MapSimpleDataElement\s*\{\s*public E_\w+\(\)\s*\{(.*?)\n\t\t\}"
    for m in re.finditer(pattern, text, re.S):
        body = m.group(2)
        kind = re.search(r"DataType = DataType\.(\w+)", body)
        lo = re.search(r"MinLength = (\d+)", body)
        hi = re.search(r"MaxLength = (\d+)", body)
        if not (kind and lo and hi):
            continue
        codes_m = re.search(r"AllowedValues\.AddRange\(new\[\] \{(.*?)\}\)", body, re.S)
        codes = sorted(re.findall(r'"([^"]*)"', codes_m.group(1))) if codes_m else None
        out[_ref(m.group(1))] = [kind.group(1), int(lo.group(1)), int(hi.group(1)), codes]
    return out


def ediengine_composites(ref: Path) -> dict[str, list[list[str]]]:
    text = (ref / "ediengine/004010/CompositeDataElements.cs").read_text()
    out: dict[str, list[list[str]]] = {}
    for m in re.finditer(r"public class (C\w+) : MapCompositeDataElement\s*\{(.*?)\n\t\}", text, re.S):
        comps = re.findall(r"new\s+(E_\w+) \{ ReqDes = RequirementDesignator\.(\w)", m.group(2))
        out[m.group(1)] = [[_ref(e), r] for e, r in comps]
    return out


def ediengine_segments(ref: Path) -> dict[str, dict[str, Any]]:
    text = (ref / "ediengine/004010/Segments.cs").read_text()
    out: dict[str, dict[str, Any]] = {}
    for m in re.finditer(r"public class (\w+) : MapSegment\s*\{(.*?)\n\t\}", text, re.S):
        body = m.group(2)
        notes_m = re.search(r"SyntaxNotes\.AddRange\(new\[\] \{(.*?)\}\)", body)
        notes = re.findall(r'"([^"]*)"', notes_m.group(1)) if notes_m else []
        els = [[_ref(e), r] for e, r in re.findall(r"new (E_\w+|C\w+) \{ ReqDes = RequirementDesignator\.(\w)", body)]
        out[m.group(1)] = {"elements": els, "syntax": notes}
    return out


def stupidedi_segment(ref: Path, name: str) -> dict[str, Any]:
    text = (ref / f"stupidedi/004010/segment_defs/{name}.rb").read_text()
    reqs = {"Mandatory": "M", "Optional": "O", "Relational": "O"}
    els = [[e[1:] if e.startswith("E") else e, reqs[r]]
           for e, r in re.findall(r"e::(E\d+|C\d+)\s*\.simple_use\(r::(\w+)", text)]
    notes = []
    for kind, args in re.findall(r"SyntaxNotes::(\w)\.build\(([^)]*)\)", text):
        notes.append(kind + "".join(f"{int(n):02d}" for n in re.findall(r"\d+", args)))
    return {"elements": els, "syntax": notes}


def ediengine_structure(ref: Path, set_id: str) -> list[dict[str, Any]]:
    text = (ref / f"ediengine/004010/M_{set_id}.cs").read_text()
    classes: dict[str, list[tuple[str, str, int]]] = {}
    pattern = (r"public (?:class )?(\w+)\((?:MapLoop parentLoop)?\) : base\((?:null|parentLoop)\)\s*\{\s*"
               r"Content\.AddRange\(new MapBaseEntity\[\] \{(.*?)\}\);")
    for m in re.finditer(pattern, text, re.S):
        entries = re.findall(
            r"new (\w+)\((?:this)?\) \{ ReqDes = RequirementDesignator\.(\w)\w*, MaxOccurs = (\d+) \}", m.group(2))
        classes[m.group(1)] = [(k, r, int(x)) for k, r, x in entries]

    def build(name: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for kind, req, most in classes[name]:
            if kind.startswith("L_"):
                content = build(kind)
                out.append({"loop": content[0]["segment"], "req": req, "max": most, "content": content})
            else:
                out.append({"segment": kind, "req": req, "max": most})
        return out

    body = build(f"M_{set_id}")
    return [{"segment": "ST", "req": "M", "max": 1}, *body, {"segment": "SE", "req": "M", "max": 1}]


def _segments_of(structure: list[dict[str, Any]]) -> set[str]:
    out: set[str] = set()
    for entry in structure:
        if "loop" in entry:
            out |= _segments_of(entry["content"])
        else:
            out.add(entry["segment"])
    return out


def _check_syntax(seg: str, definition: dict[str, Any], log: list[str]) -> None:
    count = len(definition["elements"])
    kept = []
    for note in definition["syntax"]:
        positions = [int(note[i:i + 2]) for i in range(1, len(note), 2)]
        if not positions or max(positions) > count:
            log.append(f"{seg}: syntax note {note} names a position beyond {count} elements: dropped")
            continue
        kept.append(note)
    definition["syntax"] = kept


def derive_004010(ref: Path, log: list[str]) -> None:
    elements = ediengine_elements(ref)
    composites = ediengine_composites(ref)
    segments = ediengine_segments(ref)
    for name in ("MEA", "MS1", "LH1"):
        segments[name] = stupidedi_segment(ref, name)
    used: set[str] = set()
    for set_id in SETS_4010:
        structure = ediengine_structure(ref, set_id)
        if set_id == "997":
            for entry in structure:
                if entry.get("loop") == "AK2":
                    for sub in entry["content"]:
                        if sub.get("segment") == "AK5":
                            sub["req"] = "M"
        used |= _segments_of(structure)
        spec = {
            "id": set_id,
            "version": "004010",
            "name": NAMES[set_id],
            "functional_group": FUNCTIONAL_GROUPS[set_id],
            "dictionary": "004010",
            "hierarchical": set_id == "856",
            "source": f"olmelabs/EdiEngine EdiStandards/X12_004010/Maps/M_{set_id}.cs (structure facts)",
            "structure": structure,
        }
        if set_id == "997":
            spec["notes"] = [CORRECTIONS[0]]
        _write(f"{set_id}.004010.json", spec)
    seg_out: dict[str, Any] = {}
    el_refs: set[str] = set()
    comp_out: dict[str, Any] = {}
    for seg in sorted(used):
        if seg in _ST_SE:
            seg_out[seg] = _ST_SE[seg]
            continue
        definition = json.loads(json.dumps(segments[seg]))
        before = list(definition["syntax"])
        _check_syntax(seg, definition, log)
        alternative = ref / f"stupidedi/004010/segment_defs/{seg}.rb"
        if before != definition["syntax"] and alternative.exists():
            other = stupidedi_segment(ref, seg)
            if len(other["elements"]) == len(definition["elements"]):
                definition["syntax"] = other["syntax"]
                log.append(f"{seg}: syntax notes taken from stupidedi: {other['syntax']}")
        seg_out[seg] = definition
        for ref_id, _ in definition["elements"]:
            if ref_id.startswith("C"):
                comp_out[ref_id] = composites[ref_id]
                el_refs.update(c for c, _ in composites[ref_id])
            else:
                el_refs.add(ref_id)
    el_out: dict[str, Any] = {}
    for ref_id in sorted(el_refs, key=int):
        el_out[ref_id] = elements[ref_id]
    el_out.update(_ST_SE_ELEMENTS)
    el_out["479"] = elements["479"]  # GS01 / AK101 functional identifier codes
    el_out["143"] = ["ID", 3, 3, elements["143"][3]]
    dictionary = {
        "version": "004010",
        "known_segments": sorted(segments),
        "source": "olmelabs/EdiEngine 004010 Segments.cs, DataElements.cs, CompositeDataElements.cs; "
                  "kputnam/stupidedi 004010 segment_defs (MEA, MS1, LH1)",
        "notes": [CORRECTIONS[1], CORRECTIONS[3]],
        "segments": seg_out,
        "composites": comp_out,
        "elements": el_out,
    }
    _write("dictionary.004010.json", dictionary)


def _pyx12_types(ref: Path) -> dict[str, list[Any]]:
    root = ET.parse(ref / "pyx12/dataele.xml").getroot()  # noqa: S314 - the corpus reference files, not input
    return {
        e.get("ele_num", ""): [e.get("data_type"), int(e.get("min_len", "1")), int(e.get("max_len", "1")), None]
        for e in root.iter("data_ele")
    }


def _pyx12_codes(ref: Path, xid: str) -> list[str]:
    root = ET.parse(ref / "pyx12/999.5010.xml").getroot()  # noqa: S314 - the corpus reference files, not input
    for el in root.iter("element"):
        if el.get("xid") == xid:
            return sorted(c.text or "" for c in el.iter("code"))
    raise KeyError(xid)


def _staedi_codes(ref: Path, name: str) -> list[str]:
    root = ET.parse(ref / "staedi/EDISchema997.xml").getroot()  # noqa: S314 - the corpus reference files, not input
    for el in root:
        if el.tag.endswith("elementType") and el.get("name") == name:
            return sorted(v.text or "" for v in el.iter() if v.tag.endswith("value"))
    raise KeyError(name)


def _staedi_segments(ref: Path, filename: str) -> dict[str, dict[str, Any]]:
    root = ET.parse(ref / f"staedi/{filename}").getroot()  # noqa: S314 - the corpus reference files, not input
    out: dict[str, dict[str, Any]] = {}
    for seg in root:
        if not seg.tag.endswith("segmentType"):
            continue
        els: list[list[Any]] = []
        for child in seg.iter():
            if child.tag.endswith("sequence"):
                for el in child:
                    name = el.get("type", "")
                    ref_id = name if name.startswith("C") else name.lstrip("DE").lstrip("E").lstrip("0")
                    req = "M" if el.get("minOccurs") == "1" else "O"
                    entry: list[Any] = [ref_id, req]
                    if el.get("maxOccurs") not in (None, "1"):
                        entry.append(int(el.get("maxOccurs", "1")))
                    els.append(entry)
                break
        out[seg.get("name", "")] = {"elements": els, "syntax": []}
    return out


def derive_005010(ref: Path, log: list[str]) -> None:
    types = _pyx12_types(ref)
    segments = _staedi_segments(ref, "EDISchema997.xml")
    segments.update(_staedi_segments(ref, "EDISchema999.xml"))
    segments["ST"] = _ST_SE["ST"]
    segments["SE"] = _ST_SE["SE"]
    composites = {
        "C030": [["722", "M"], ["1528", "O"], ["1686", "O"]],
        "C998": [["9999", "M"], ["9998", "O"]],
        "C999": [["725", "M"], ["725", "O"]],
    }
    codes = {
        "479": _staedi_codes(ref, "E0479"),
        "143": _staedi_codes(ref, "E0143"),
        "715": _staedi_codes(ref, "E0715"),
        "716": _staedi_codes(ref, "E0716"),
        "717": _staedi_codes(ref, "E0717"),
        "718": _staedi_codes(ref, "E0718"),
        "720": _staedi_codes(ref, "E0720"),
        "723": _staedi_codes(ref, "E0723"),
        "618": _pyx12_codes(ref, "IK502"),
        "620": _pyx12_codes(ref, "IK304"),
        "621": _pyx12_codes(ref, "IK403"),
    }
    wanted = {"ST", "SE", "AK1", "AK2", "AK3", "AK4", "AK5", "AK9", "IK3", "IK4", "IK5", "CTX"}
    refs: set[str] = set()
    for seg in wanted:
        for entry in segments[seg]["elements"]:
            if entry[0].startswith("C"):
                refs.update(c for c, _ in composites[entry[0]])
            else:
                refs.add(entry[0])
    elements: dict[str, Any] = {}
    for ref_id in sorted(refs, key=int):
        if ref_id in _ST_SE_ELEMENTS:
            elements[ref_id] = _ST_SE_ELEMENTS[ref_id]
            continue
        definition = list(types[ref_id])
        if definition[0] == "ID" and ref_id in codes:
            definition[3] = codes[ref_id]
        elements[ref_id] = definition
    elements["143"] = ["ID", 3, 3, codes["143"]]
    elements["479"] = ["ID", 2, 2, codes["479"]]
    dictionary = {
        "version": "005010",
        "source": "xlate/staedi EDISchema997.xml and EDISchema999.xml (segments, composites, code lists 479 143 "
                  "715-723); azoner/pyx12 dataele.xml (types, lengths) and 999.5010.xml (code lists 618 620 621)",
        "notes": [CORRECTIONS[2]],
        "segments": {s: segments[s] for s in sorted(wanted)},
        "composites": composites,
        "elements": elements,
    }
    _write("dictionary.005010.json", dictionary)
    ak2_997 = {"loop": "AK2", "req": "O", "max": 999999, "content": [
        {"segment": "AK2", "req": "M", "max": 1},
        {"loop": "AK3", "req": "O", "max": 999999, "content": [
            {"segment": "AK3", "req": "M", "max": 1},
            {"segment": "AK4", "req": "O", "max": 99}]},
        {"segment": "AK5", "req": "M", "max": 1}]}
    _write("997.005010.json", {
        "id": "997", "version": "005010", "name": NAMES["997"], "functional_group": "FA", "dictionary": "005010",
        "hierarchical": False, "source": "xlate/staedi src/test/resources/x12/EDISchema997.xml (structure facts)",
        "structure": [{"segment": "ST", "req": "M", "max": 1}, {"segment": "AK1", "req": "M", "max": 1}, ak2_997,
                      {"segment": "AK9", "req": "M", "max": 1}, {"segment": "SE", "req": "M", "max": 1}]})
    ak2_999 = {"loop": "AK2", "req": "O", "max": 999999, "content": [
        {"segment": "AK2", "req": "M", "max": 1},
        {"loop": "IK3", "req": "O", "max": 999999, "content": [
            {"segment": "IK3", "req": "M", "max": 1},
            {"segment": "CTX", "req": "O", "max": 10},
            {"loop": "IK4", "req": "O", "max": 999999, "content": [
                {"segment": "IK4", "req": "M", "max": 1},
                {"segment": "CTX", "req": "O", "max": 10}]}]},
        {"segment": "IK5", "req": "M", "max": 1}]}
    _write("999.005010.json", {
        "id": "999", "version": "005010", "name": NAMES["999"], "functional_group": "FA", "dictionary": "005010",
        "hierarchical": False,
        "source": "xlate/staedi EDISchema999.xml and azoner/pyx12 999.5010.xml (structure facts)",
        "structure": [{"segment": "ST", "req": "M", "max": 1}, {"segment": "AK1", "req": "M", "max": 1}, ak2_999,
                      {"segment": "AK9", "req": "M", "max": 1}, {"segment": "SE", "req": "M", "max": 1}]})
    base_945 = json.loads((OUT / "945.004010.json").read_text())
    base_945.update({
        "version": "005010",
        "source": "structure and segments of 945/004010 (the reference set has no 005010 945 definition)",
        "notes": ["005010 changes to the 945 and its segments are not captured: validated with 004010 facts."],
    })
    _write("945.005010.json", base_945)


def derive_control(ref: Path) -> None:
    """ISA/GS/TA1/ISB/ISE code lists from staedi's control schema (element names I01..I37, E455, E479)."""
    root = ET.parse(ref / "staedi/control-common.xml").getroot()  # noqa: S314 - the corpus reference files, not input
    codes: dict[str, list[str]] = {}
    for el in root:
        if el.tag.endswith("elementType"):
            values = [v.text or "" for v in el.iter() if v.tag.endswith("value")]
            if values:
                codes[el.get("name", "")] = values
    _write("control.json", {
        "source": "xlate/staedi src/main/resources/X12/common.xml (interchange control code lists)",
        "isa": {
            "ISA01": {"name": "Authorization Information Qualifier", "kind": "ID", "width": 2, "codes": "I01",
                      "ta1": "010"},
            "ISA02": {"name": "Authorization Information", "kind": "AN", "width": 10, "ta1": "011"},
            "ISA03": {"name": "Security Information Qualifier", "kind": "ID", "width": 2, "codes": "I03", "ta1": "012"},
            "ISA04": {"name": "Security Information", "kind": "AN", "width": 10, "ta1": "013"},
            "ISA05": {"name": "Interchange ID Qualifier", "kind": "ID", "width": 2, "codes": "I05", "ta1": "005"},
            "ISA06": {"name": "Interchange Sender ID", "kind": "AN", "width": 15, "ta1": "006"},
            "ISA07": {"name": "Interchange ID Qualifier", "kind": "ID", "width": 2, "codes": "I05", "ta1": "007"},
            "ISA08": {"name": "Interchange Receiver ID", "kind": "AN", "width": 15, "ta1": "008"},
            "ISA09": {"name": "Interchange Date", "kind": "DT", "width": 6, "ta1": "014"},
            "ISA10": {"name": "Interchange Time", "kind": "TM", "width": 4, "ta1": "015"},
            "ISA11": {"name": "Standards Identifier / Repetition Separator", "kind": "ID", "width": 1,
                      "codes": "I10", "ta1": "016"},
            "ISA12": {"name": "Interchange Control Version Number", "kind": "ID", "width": 5, "codes": "I11",
                      "ta1": "017"},
            "ISA13": {"name": "Interchange Control Number", "kind": "N0", "width": 9, "ta1": "018"},
            "ISA14": {"name": "Acknowledgment Requested", "kind": "ID", "width": 1, "codes": "I13", "ta1": "019"},
            "ISA15": {"name": "Interchange Usage Indicator", "kind": "ID", "width": 1, "codes": "I14", "ta1": "020"},
            "ISA16": {"name": "Component Element Separator", "kind": "AN", "width": 1, "ta1": "027"},
        },
        "codes": {k: codes[k] for k in sorted(codes) if k in (
            "I01", "I03", "I05", "I10", "I11", "I13", "I14", "I17", "I18", "I34", "I37")},
        "responsible_agency": ["T", "X"],
    })


def _write(name: str, data: dict[str, Any]) -> None:
    text = json.dumps(data, indent=1, sort_keys=False, ensure_ascii=True)
    (OUT / name).write_text(text + "\n")


def main(argv: list[str]) -> int:
    ref = Path(argv[1] if len(argv) > 1 else "../shared/x12-corpus/reference").resolve()
    log: list[str] = []
    derive_004010(ref, log)
    derive_005010(ref, log)
    derive_control(ref)
    for line in log:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
