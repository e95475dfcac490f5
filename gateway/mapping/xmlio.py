"""Canonical records <-> XML (lxml), validated against the XSDs shipped in ``gateway/mapping/xsd/``.

One file holds records of one type: ``<orders><order>...</order></orders>`` (``shipments``/``shipment``,
``statuses``/``status``). Elements follow the canonical field names and order; a list field wraps its items
(``<lines><order_line>...</order_line></lines>``, ``<address_lines><value>..</value></address_lines>``); the
``other`` product ids are ``<other><id qualifier="ZZ">value</id></other>``. The XSDs are generated from the
models (``python -m gateway.mapping.xmlio``) and a test keeps them current.

Parsing never resolves entities, loads a DTD or touches the network (``resolve_entities=False``,
``no_network=True``, ``load_dtd=False``), so XXE and billion-laughs inputs fail validation instead of expanding.
"""

from __future__ import annotations

import re
import sys
import typing
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

from lxml import etree
from pydantic import BaseModel, ValidationError

from gateway.canonical import RECORD_TYPES, Record
from gateway.canonical.jsonio import record_to_dict
from gateway.errors import Location, MappingError

XSD_DIR = Path(__file__).resolve().parent / "xsd"
ROOTS = {"order": "orders", "shipment": "shipments", "status": "statuses"}
_XS = "http://www.w3.org/2001/XMLSchema"


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _unwrap(annotation: Any) -> tuple[str, Any]:
    """('scalar', str|Decimal|'date'), ('model', cls), ('list', inner), ('dict', None), ('literal', value)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Union or str(origin) == "<class 'types.UnionType'>":
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _unwrap(args[0])
    if origin is typing.Annotated:
        return ("scalar", "date")
    if origin is list:
        return ("list", typing.get_args(annotation)[0])
    if origin is dict:
        return ("dict", None)
    if origin is typing.Literal:
        return ("literal", typing.get_args(annotation)[0])
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return ("model", annotation)
    return ("scalar", annotation)


# -- XSD generation -----------------------------------------------------------------------------------------------
def build_xsd(kind: str) -> str:
    model = RECORD_TYPES[kind]
    types: dict[str, str] = {}

    def scalar_type(value: Any) -> str:
        return "decimal" if value is Decimal else ("isoDate" if value == "date" else "xs:string")

    def complex_type(cls: type[BaseModel]) -> str:
        name = _snake(cls.__name__)
        if name in types:
            return name
        types[name] = ""
        parts = []
        for field_name, info in cls.model_fields.items():
            kind_, inner = _unwrap(info.annotation)
            if kind_ == "literal":
                continue
            if kind_ == "scalar":
                parts.append(f'<xs:element name="{field_name}" type="{scalar_type(inner)}" minOccurs="0"/>')
            elif kind_ == "model":
                parts.append(f'<xs:element name="{field_name}" type="{complex_type(inner)}" minOccurs="0"/>')
            elif kind_ == "dict":
                parts.append(f'<xs:element name="{field_name}" type="qualified_ids" minOccurs="0"/>')
            else:
                item_kind, item = _unwrap(inner)
                if item_kind == "model":
                    item_name = complex_type(item)
                    body = f'<xs:element name="{item_name}" type="{item_name}" maxOccurs="unbounded"/>'
                else:
                    body = f'<xs:element name="value" type="{scalar_type(item)}" maxOccurs="unbounded"/>'
                parts.append(f'<xs:element name="{field_name}" minOccurs="0"><xs:complexType><xs:sequence>'
                             f'{body}</xs:sequence></xs:complexType></xs:element>')
        types[name] = (f'  <xs:complexType name="{name}">\n    <xs:sequence>\n      '
                       + "\n      ".join(parts) + "\n    </xs:sequence>\n  </xs:complexType>\n")
        return name

    root_type = complex_type(model)
    head = (f'<?xml version="1.0" encoding="UTF-8"?>\n<!-- Generated from gateway.canonical.models by '
            f'python -m gateway.mapping.xmlio: do not edit. -->\n<xs:schema xmlns:xs="{_XS}" '
            'elementFormDefault="qualified">\n'
            f'  <xs:element name="{ROOTS[kind]}">\n    <xs:complexType>\n      <xs:sequence>\n'
            f'        <xs:element name="{kind}" type="{root_type}" minOccurs="0" maxOccurs="unbounded"/>\n'
            '      </xs:sequence>\n    </xs:complexType>\n  </xs:element>\n'
            '  <xs:simpleType name="isoDate">\n    <xs:restriction base="xs:string">\n      <xs:pattern value='
            r'"\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+\-]\d{2}:\d{2})?)?"/>' "\n"
            '    </xs:restriction>\n  </xs:simpleType>\n'
            '  <xs:simpleType name="decimal">\n    <xs:restriction base="xs:decimal"/>\n  </xs:simpleType>\n'
            '  <xs:complexType name="qualified_ids">\n    <xs:sequence>\n      <xs:element name="id" '
            'minOccurs="0" maxOccurs="unbounded">\n        <xs:complexType>\n          <xs:simpleContent>\n'
            '            <xs:extension base="xs:string">\n              <xs:attribute name="qualifier" '
            'type="xs:string" use="required"/>\n            </xs:extension>\n          </xs:simpleContent>\n'
            '        </xs:complexType>\n      </xs:element>\n    </xs:sequence>\n  </xs:complexType>\n')
    return head + "".join(types[name] for name in sorted(types)) + "</xs:schema>\n"


@lru_cache(maxsize=4)
def schema(kind: str) -> etree.XMLSchema:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    return etree.XMLSchema(etree.parse(str(XSD_DIR / f"{kind}.xsd"), parser))


# -- writing ------------------------------------------------------------------------------------------------------
def _append(parent: etree._Element, cls: type[BaseModel], data: dict[str, Any]) -> None:
    for field_name, info in cls.model_fields.items():
        if field_name not in data:
            continue
        kind_, inner = _unwrap(info.annotation)
        value = data[field_name]
        if kind_ == "literal":
            continue
        el = etree.SubElement(parent, field_name)
        if kind_ == "scalar":
            el.text = str(value)
        elif kind_ == "model":
            _append(el, inner, value)
        elif kind_ == "dict":
            for qualifier, text in value.items():
                etree.SubElement(el, "id", qualifier=qualifier).text = str(text)
        else:
            item_kind, item = _unwrap(inner)
            for entry in value:
                if item_kind == "model":
                    _append(etree.SubElement(el, _snake(item.__name__)), item, entry)
                else:
                    etree.SubElement(el, "value").text = str(entry)


def write_xml(records: list[Record], kind: str) -> bytes:
    root = etree.Element(ROOTS[kind])
    for record in records:
        if record.type != kind:
            raise MappingError(f"a {record.type} record cannot go into a {kind} XML file",
                               hint="write one XML file per record type (--type)")
        _append(etree.SubElement(root, kind), RECORD_TYPES[kind], record_to_dict(record))
    schema(kind).assertValid(root)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


# -- reading ------------------------------------------------------------------------------------------------------
def _read(el: etree._Element, cls: type[BaseModel]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for child in el:
        if not isinstance(child.tag, str):
            continue
        info = cls.model_fields[child.tag]
        kind_, inner = _unwrap(info.annotation)
        if kind_ == "scalar":
            out[child.tag] = child.text or ""
        elif kind_ == "model":
            out[child.tag] = _read(child, inner)
        elif kind_ == "dict":
            out[child.tag] = {i.get("qualifier"): i.text or "" for i in child if isinstance(i.tag, str)}
        else:
            item_kind, item = _unwrap(inner)
            out[child.tag] = [_read(i, item) if item_kind == "model" else (i.text or "")
                              for i in child if isinstance(i.tag, str)]
    return out


def read_xml(data: bytes, *, file: str | None = None) -> list[Record | MappingError]:
    """Records from an XML document of one type; invalid XML or an XSD violation raises MappingError."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise MappingError(f"not well-formed XML: {exc}", location=Location(file=file, line=exc.lineno)) from exc
    if root.getroottree().docinfo.internalDTD is not None:
        raise MappingError("XML with a DOCTYPE is not accepted (entities are never expanded)",
                           location=Location(file=file), hint="send the document without a DOCTYPE")
    kind = next((k for k, r in ROOTS.items() if r == root.tag), None)
    if kind is None:
        raise MappingError(f"unknown root element <{root.tag}>", location=Location(file=file),
                           hint="use <orders>, <shipments> or <statuses>")
    xsd = schema(kind)
    try:
        valid = xsd.validate(root)
    except etree.XMLSchemaValidateError as exc:
        raise MappingError(f"XML cannot be validated against {kind}.xsd: {exc}", location=Location(file=file)) from exc
    if not valid:
        err = xsd.error_log.last_error
        raise MappingError(f"XML does not match {kind}.xsd: {err.message}",
                           location=Location(file=file, line=err.line), hint="fix the element named in the message")
    model = RECORD_TYPES[kind]
    out: list[Record | MappingError] = []
    for el in root:
        if not isinstance(el.tag, str):
            continue
        try:
            out.append(model.model_validate({"type": kind, **_read(el, model)}))
        except ValidationError as exc:
            first = exc.errors()[0]
            out.append(MappingError(f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}",
                                    location=Location(file=file, line=el.sourceline)))
    return out


def export_xsds(directory: Path = XSD_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for kind in ROOTS:
        path = directory / f"{kind}.xsd"
        path.write_text(build_xsd(kind), encoding="utf-8")
        paths.append(path)
    return paths


if __name__ == "__main__":  # pragma: no cover - developer tool
    for p in export_xsds(Path(sys.argv[1]) if len(sys.argv) > 1 else XSD_DIR):
        print(p)
