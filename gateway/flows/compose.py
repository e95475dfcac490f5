"""Composing an outbound document from submitted canonical records: the pure half of the outbound flow.

``read_records`` streams records out of a submission (canonical JSON: one record, a list, or ``{"documents":
[...]}``; CSV; XML). ``plan`` decides, from the partner file, which transaction set, version and mapping each
record becomes (a record for an undeclared outbound document is refused naming the partner-file key to add).
``write_x12`` writes one interchange for a planned submission into a file object, one transaction set at a time
(memory does not grow with the number of records), and ``explain`` turns validator findings on that output into
problems naming both the canonical field (JSON path) and the X12 element.

Nothing here touches the store, the archive or a transport: the flow (``gateway.flows.documents``) does.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from pydantic import ValidationError

from gateway.canonical import RECORD_TYPES, business_keys
from gateway.edi.x12.writer import Envelope, X12Writer
from gateway.errors import MappingError
from gateway.mapping.crossset import adapt, finish
from gateway.mapping.outbound import Builder
from gateway.mapping.outcompiler import CompiledOutbound
from gateway.mapping.paths import parse_path
from gateway.mapping.x12 import RECORD_OF_SET, EnvelopeSettings, mapping_for
from gateway.partners.schema import DocumentSpec, Partner
from gateway.settings import OwnIdentity
from gateway.store.repository import GroupRecord, InterchangeRecord, SetRecord

JSON_TYPES = ("application/json", "application/x-ndjson")
CHUNK = 64 * 1024


@dataclass(frozen=True, slots=True)
class Problem:
    """Why a submission cannot become a valid document: the canonical field and, when known, the X12 element."""

    path: str  # JSON path into the submission: $[3].orders[0].lines[1].quantity
    message: str
    x12: str | None = None  # "W06-02", "ST (segment 1)", ...
    code: str = "invalid"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.path, "message": self.message, "code": self.code}
        if self.x12:
            out["x12"] = self.x12
        return out

    def describe(self) -> str:
        return f"{self.path}{' (' + self.x12 + ')' if self.x12 else ''}: {self.message}"


class Refused(Exception):
    """The submission as a whole cannot be taken (not readable, undeclared document ...)."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(p.describe() for p in problems[:5]))
        self.problems = problems
        self.unused: dict[str, Any] | None = None  # control numbers taken and not used (a visible gap)


# -- reading submissions ---------------------------------------------------------------------------------------
def submission_format(content_type: str | None, head: bytes) -> str:
    """``json``, ``csv`` or ``xml`` from the content type, else from the first bytes."""
    ct = (content_type or "").split(";")[0].strip().lower()
    if ct in JSON_TYPES or ct.endswith("+json"):
        return "json"
    if ct in ("text/csv", "application/csv"):
        return "csv"
    if ct in ("application/xml", "text/xml") or ct.endswith("+xml"):
        return "xml"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text[:1] in (b"{", b"["):
        return "json"
    if text[:1] == b"<":
        return "xml"
    return "csv"


def iter_json(fp: BinaryIO) -> Iterator[tuple[str, Any]]:
    """(JSON path, value) of each record: a top-level list is streamed element by element."""
    reader = io.TextIOWrapper(fp, encoding="utf-8-sig")  # type: ignore[arg-type]
    try:
        yield from _iter_json(reader)
    finally:
        reader.detach()  # the caller owns ``fp``


def _iter_json(reader: io.TextIOWrapper) -> Iterator[tuple[str, Any]]:
    decoder = json.JSONDecoder()
    buf = reader.read(CHUNK)
    pos = len(buf) - len(buf.lstrip())
    while pos >= len(buf) and (more := reader.read(CHUNK)):
        buf, pos = buf + more, 0
    if buf[pos:pos + 1] != "[":
        doc = json.loads(buf[pos:] + reader.read())
        if isinstance(doc, dict) and isinstance(doc.get("documents"), list):
            for i, item in enumerate(doc["documents"]):
                yield f"$.documents[{i}]", item
        else:
            yield "$", doc
        return
    pos += 1
    index = 0
    while True:
        while True:  # skip white space and the separating comma
            while pos < len(buf) and buf[pos] in " \t\r\n,":
                pos += 1
            if pos < len(buf):
                break
            more = reader.read(CHUNK)
            if not more:
                raise ValueError("the JSON list is not closed: the body ends early")
            buf, pos = more, 0
        if buf[pos] == "]":
            return
        while True:
            try:
                value, end = decoder.raw_decode(buf, pos)
                break
            except json.JSONDecodeError:
                more = reader.read(CHUNK)
                if not more:
                    raise
                buf, pos = buf[pos:] + more, 0
        yield f"$[{index}]", value
        index += 1
        buf, pos = buf[end:], 0
        if len(buf) < CHUNK // 4:
            buf += reader.read(CHUNK)


def _pydantic_path(base: str, exc: ValidationError) -> list[Problem]:
    out = []
    for err in exc.errors(include_url=False):
        where = base
        for part in err["loc"]:
            where += f"[{part}]" if isinstance(part, int) else f".{part}"
        out.append(Problem(where, err["msg"], code="schema"))
    return out


def _csv_kind(head: bytes) -> str | None:
    first = head.split(b"\n", 1)[0].decode("utf-8", "replace").lower()
    columns = {c.strip().strip('"') for c in first.split(",")}
    for column, kind in (("status_code", "status"), ("shipment_id", "shipment"), ("order_number", "order")):
        if column in columns:
            return kind
    return None


Item = tuple[str, dict[str, Any] | list[Problem]]


def read_records(fp: BinaryIO, fmt: str, *, name: str = "submission",
                 keys: list[tuple[str, str]] | None = None) -> Iterator[Item]:
    """(JSON path, record as a JSON-mode dict) or (path, problems) for each record of a submission, streamed.
    With ``keys``, each valid record's business keys are appended to it (no second validation)."""
    if fmt == "json":
        try:
            for where, item in iter_json(fp):
                yield where, _checked(where, item, keys)
        except (ValueError, UnicodeDecodeError) as exc:
            yield "$", [Problem("$", f"not valid JSON: {exc}", code="syntax")]
        return
    if fmt == "csv":
        from gateway.mapping.csvio import read_csv  # pandas: imported only when a CSV comes

        head = fp.read(CHUNK)
        kind = _csv_kind(head)
        if kind is None:
            yield "$", [Problem("$", "cannot tell the record type of this CSV: its header names none of "
                                     "order_number, shipment_id, status_code", code="syntax")]
            return
        items = read_csv(io.BufferedReader(_Prefixed(head, fp)), kind, file=name)  # type: ignore[arg-type]
    else:
        from gateway.mapping.xmlio import read_xml

        try:
            items = iter(read_xml(fp.read(), file=name))
        except MappingError as exc:
            yield "$", [Problem("$", exc.describe(), code="syntax")]
            return
    for i, item in enumerate(items):
        where = f"$[{i}]"
        if isinstance(item, MappingError):
            yield where, [Problem(where, item.describe(), code="schema")]
        else:
            if keys is not None:
                keys.extend(business_keys(item))
            yield where, item.model_dump(mode="json", exclude_none=True)


class _Prefixed(io.RawIOBase):
    """A stream that replays ``head`` before the rest of ``fp``."""

    def __init__(self, head: bytes, fp: BinaryIO) -> None:
        self.head, self.fp = head, fp

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        if self.head:
            n = min(len(b), len(self.head))
            b[:n], self.head = self.head[:n], self.head[n:]
            return n
        data = self.fp.read(len(b))
        b[: len(data)] = data
        return len(data)


def _checked(where: str, item: Any, keys: list[tuple[str, str]] | None = None) -> dict[str, Any] | list[Problem]:
    if not isinstance(item, dict):
        return [Problem(where, "a canonical record is a JSON object with a type", code="schema")]
    model = RECORD_TYPES.get(str(item.get("type")))
    if model is None:
        return [Problem(f"{where}.type", f"unknown record type {item.get('type')!r}: use order, shipment or status",
                        code="schema")]
    try:
        record = model.model_validate(item)
    except ValidationError as exc:
        return _pydantic_path(where, exc)
    if keys is not None:
        keys.extend(business_keys(record))
    return record.model_dump(mode="json", exclude_none=True)


# -- what the partner file decides -----------------------------------------------------------------------------
def choose_document(partner: Partner, kind: str, *, set_id: str | None = None, version: str | None = None,
                    where: str = "$") -> DocumentSpec:
    """The partner's outbound document for a record of type ``kind`` (raises Refused naming what to add)."""
    wanted = [s for s, k in RECORD_OF_SET.items() if k == kind]
    if set_id and RECORD_OF_SET.get(set_id) != kind:
        raise Refused([Problem(where, f"a {kind} record cannot be written as X12 {set_id}: use "
                                      f"{' or '.join(wanted) or 'none'}", code="set")])
    declared = [d for d in partner.documents if d.direction == "outbound" and d.set_id in ([set_id] if set_id else
                                                                                          wanted)]
    if version:
        declared = [d for d in declared if d.version == version]
    if not declared:
        example = f'{{set_id: "{set_id or wanted[0]}", direction: outbound, version: {version or "004010"}}}'
        raise Refused([Problem(where, f"partner {partner.id!r} declares no outbound document for a {kind} record"
                                      f"{' as X12 ' + set_id if set_id else ''}: add {example} under `documents:` "
                                      f"in its partner file", code="undeclared")])
    if len(declared) > 1:
        sets = ", ".join(f"{d.set_id} {d.version}" for d in declared)
        raise Refused([Problem(where, f"partner {partner.id!r} takes a {kind} record as any of {sets}: say which "
                                      "with the set (API `set_id`, `gateway send --set`)", code="ambiguous")])
    return declared[0]


def envelope_for(partner: Partner, own: OwnIdentity, version: str) -> tuple[EnvelopeSettings, str, str]:
    """Envelope settings for ``partner`` (its `envelope:` and identity, our ids), and GS02/GS03."""
    prefs = partner.envelope
    ours = prefs.sender or (partner.our_ids[0] if partner.our_ids else None)
    theirs = prefs.receiver or partner.identity.interchange_ids[0]
    d = prefs.delimiters
    env = EnvelopeSettings(
        sender_qualifier=ours.qualifier if ours else own.isa_qualifier,
        sender_id=ours.id if ours else own.isa_id,
        receiver_qualifier=theirs.qualifier,
        receiver_id=theirs.id,
        version=version,
        isa_version=prefs.isa_version,
        usage=partner.identity.usage,
        ack_requested=prefs.request_ta1,
        element=d.element,
        component=d.component,
        segment=d.segment,
        suffix=prefs.terminator_suffix,
        repetition=d.repetition if prefs.isa_version >= "00402" else None,
        uppercase=prefs.uppercase,
    )
    gs_sender = ours.id if ours else own.gs_id
    gs_receiver = partner.identity.application_ids[0] if partner.identity.application_ids else theirs.id
    return env, gs_sender, gs_receiver


# -- writing -----------------------------------------------------------------------------------------------------
class _Tracing(CompiledOutbound):
    """The outbound mapping context, remembering which canonical field wrote which element: the compiled element
    closures do it when ``tracing`` is true, the two methods below for the nodes the interpreter writes."""

    tracing = True

    def __init__(self, spec: Any) -> None:
        super().__init__(spec)
        self.origins: dict[tuple[int, int], str] = {}
        self.elements: dict[int, str] = {}  # problem index -> X12 element the field writes
        self._node: tuple[dict[str, Any], str] | None = None

    def write_element(self, builder: Builder, node: dict[str, Any], value: Any, where: str) -> None:
        before = len(self.problems)
        self._node = (node, where)
        super().write_element(builder, node, value, where)
        texts = node["path"] if isinstance(node["path"], list) else [node["path"]]
        for i in range(before, len(self.problems)):
            p = parse_path(texts[0])
            self.elements[i] = f"{p.segment}-{p.element:02d}"

    def when_out(self, builder: Builder, node: dict[str, Any], seg: list[Any]) -> None:
        super().when_out(builder, node, seg)
        if self._node is not None and self._node[0] is node:
            texts = node["path"] if isinstance(node["path"], list) else [node["path"]]
            for text in texts:
                self.origins[(id(seg), parse_path(text).element)] = self._node[1]


def record_body(data: Mapping[str, Any], set_id: str, version: str, overrides: Mapping[str, Any] | None,
                root: Path | None, *, where: str = "$") -> tuple[list[list[Any]], _Tracing, str]:
    """The body segments of one record and the tracing context; raises Refused with every mapping problem."""
    spec = mapping_for(set_id, version, "out", overrides, root)
    if spec is None:
        raise Refused([Problem(where, f"no outbound mapping for X12 {set_id} version {version}: add "
                                      f"mappings/x12/{version[:6]}/{set_id}.out.yaml", code="mapping")])
    ctx = _Tracing(spec)
    builder = Builder("header")
    data = adapt(dict(data), set_id)
    ctx.write_fields(builder, spec.fields, data)
    for name in spec.hooks:
        hook = ctx.hook(name)
        if hook.outbound:
            hook.outbound(ctx, builder, data)
    if ctx.problems:
        raise Refused([Problem(_join(where, p.field), p.message, ctx.elements.get(i), code="mapping")
                       for i, p in enumerate(ctx.problems)])
    return finish(set_id, builder.emit(spec.structure)), ctx, str(spec.writer.get("functional_id", "XX"))


def _join(base: str, field_path: str) -> str:
    if not field_path:
        return base
    return f"{base}{field_path}" if field_path.startswith("[") else f"{base}.{field_path}"


@dataclass(slots=True)
class Group:
    set_id: str
    version: str
    records: list[str] = field(default_factory=list)  # JSON paths, in order: ST02 0001.. follow it


@dataclass(slots=True)
class Written:
    lineage: InterchangeRecord
    segments: int
    transactions: int


RecordSource = Callable[[], Iterator[tuple[str, dict[str, Any] | list[Problem]]]]


def write_x12(out: BinaryIO, source: RecordSource, groups: list[Group], *, env: EnvelopeSettings,
              gs_ids: tuple[str, str], interchange: int, group_numbers: list[int], date: str, time: str,
              overrides: Mapping[str, Any] | None, root: Path | None) -> Written:
    """Write one interchange: a group per (set, version), one transaction set per record, streamed into ``out``.

    ``source`` is called once per group to read the records again (so nothing is held for the whole batch).
    Raises Refused with every mapping problem (nothing is valid then).
    """
    options = env.writer_options()
    w = X12Writer(options)
    w.isa(Envelope(env.sender_qualifier, env.sender_id, env.receiver_qualifier, env.receiver_id, date, time,
                   interchange, version=env.isa_version, usage=env.usage, ack_requested=env.ack_requested
                   ).isa_values())
    out.write(w.getvalue())
    count, problems, group_records = 1, [], []
    for group, gs06 in zip(groups, group_numbers, strict=True):
        wanted = set(group.records)
        spec = mapping_for(group.set_id, group.version, "out", overrides, root)
        if spec is None:
            problems.append(Problem(group.records[0], f"no outbound mapping for X12 {group.set_id} version "
                                    f"{group.version}: add mappings/x12/{group.version[:6]}/{group.set_id}.out.yaml",
                                    code="mapping"))
            continue
        functional_id = str(spec.writer.get("functional_id", "XX"))
        head = X12Writer(options)
        head.segment(["GS", functional_id, gs_ids[0], gs_ids[1], date, time, str(gs06), "X", group.version])
        out.write(head.getvalue())
        sets: list[SetRecord] = []
        for where, data in source():
            if where not in wanted or isinstance(data, list):
                continue
            try:
                body, _ctx, _fid = record_body(data, group.set_id, group.version, overrides, root, where=where)
            except Refused as exc:
                problems.extend(exc.problems)
                continue
            control = f"{len(sets) + 1:04d}"
            tw = X12Writer(options)
            tw.segment(["ST", group.set_id, control])
            try:
                for seg in body:
                    tw.segment(seg)
            except ValueError as exc:  # a value holding one of the partner's delimiters
                problems.append(Problem(where, f"{exc}: the partner's delimiters cannot appear in data",
                                        code="delimiter"))
                continue
            tw.segment(["SE", str(tw.count + 1), control])
            out.write(tw.getvalue())
            sets.append(SetRecord(group.set_id, control, tw.count))
        tail = X12Writer(options)
        tail.segment(["GE", str(len(sets)), str(gs06)])
        out.write(tail.getvalue())
        count += 2 + sum(s.segment_count or 0 for s in sets)
        group_records.append(GroupRecord(functional_id, gs_ids[0], gs_ids[1], str(gs06), group.version, sets))
    if problems:
        raise Refused(problems)
    tail = X12Writer(options)
    tail.segment(["IEA", str(len(group_records)), f"{interchange:09d}"])
    out.write(tail.getvalue())
    lineage = InterchangeRecord(env.sender_qualifier, env.sender_id, env.receiver_qualifier, env.receiver_id,
                                f"{interchange:09d}", env.isa_version, env.usage, date[-6:], time, group_records)
    return Written(lineage, count + 1, sum(len(g.transactions) for g in group_records))



def explain(analysis: Any, source: RecordSource, groups: list[Group], group_numbers: list[int], *,
            overrides: Mapping[str, Any] | None, root: Path | None) -> list[Problem]:
    """Every validator error on our output as a problem naming the record's field and the X12 element."""
    by_gs = {str(n): g for g, n in zip(groups, group_numbers, strict=True)}
    starts = {(t.control_number, g.control_number): t.first_segment
              for ic in analysis.interchanges for g in ic.groups for t in g.transactions}
    wanted: dict[str, list[Any]] = {}
    located: list[tuple[Any, str | None, Group | None]] = []
    for issue in analysis.errors:
        group = by_gs.get(str(issue.group or "").lstrip("0") or "-") or by_gs.get(str(issue.group or ""))
        where = None
        if group is not None and issue.transaction and issue.transaction.isdigit():
            index = int(issue.transaction) - 1
            if 0 <= index < len(group.records):
                where = group.records[index]
                wanted.setdefault(where, []).append(issue)
        located.append((issue, where, group))
    records = {w: d for w, d in source() if w in wanted and isinstance(d, dict)} if wanted else {}
    out = []
    for issue, where, group in located:
        loc = issue.location
        element = loc.segment_id or "?"
        if loc.element_position is not None:
            element += f"-{loc.element_position:02d}"
        field_path = where or "$"
        if where is not None and group is not None and where in records and issue.file_segment:
            start = starts.get((issue.transaction, issue.group))
            if start:
                body, ctx, _ = record_body(records[where], group.set_id, group.version, overrides, root, where=where)
                index = issue.file_segment - start - 1
                if 0 <= index < len(body):
                    seg = body[index]
                    origin = ctx.origins.get((id(seg), loc.element_position or 0))
                    if origin is None:  # a missing element: name the fields that wrote the segment
                        fields = sorted({v for (s, _e), v in ctx.origins.items() if s == id(seg)})
                        origin = fields[0] if len(fields) == 1 else None
                        if fields and origin is None:
                            field_path = f"{where} (segment written from {', '.join(fields[:4])})"
                    if origin is not None:
                        field_path = _join(where, origin)
        out.append(Problem(field_path, issue.message, element, code=issue.code))
    return out
