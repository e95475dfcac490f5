"""X12 <-> canonical records through the mapping files in ``mappings/x12/``.

Inbound: :func:`to_canonical` reads any X12 the engine reads (tolerantly: sloppy envelopes, bare ST..SE), and
returns one item per transaction set in file order: the canonical record, or a :class:`MappingError` naming the
segment position and field when that set cannot be mapped (the other sets still map). Outbound:
:func:`from_canonical` writes records as one interchange with the partner's envelope settings.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from gateway.canonical import RECORD_TYPES, Order, Record, Shipment, Status
from gateway.edi.x12.delimiters import Delimiters
from gateway.edi.x12.reader import ReaderEvent, Source, iter_batches
from gateway.edi.x12.segment import Segment
from gateway.edi.x12.writer import Envelope, GroupSpec, WriterOptions, write_interchange
from gateway.errors import Location, MappingError
from gateway.mapping import hooks as hook_registry
from gateway.mapping.crossset import adapt, finish
from gateway.mapping.engine import Inbound, Problem, problems_to_error
from gateway.mapping.outbound import Builder
from gateway.mapping.outcompiler import CompiledOutbound
from gateway.mapping.spec import MappingSpec, find_mapping, load_mapping
from gateway.mapping.structure import build_scopes, release

DEFAULT_SET = {"order": "940", "shipment": "856", "status": "214"}
RECORD_OF_SET = {"940": "order", "945": "shipment", "856": "shipment", "214": "status"}


@dataclass(slots=True)
class TransactionData:
    """The segments of one transaction set (ST and SE excluded) and where it sits."""

    set_id: str
    control_number: str
    version: str  # GS08 ("" without GS)
    st: Segment
    segments: list[Segment] = field(default_factory=list)
    sender: str = ""
    receiver: str = ""
    enveloped: bool = False  # an ISA header was read before it (so the file has an interchange)
    index: int = 0  # 0-based ordinal of the set in the file
    skipped: bool = False  # not wanted (iter_transactions' ``want``): its body segments were not kept


def iter_transactions(source: Source | None, *, default_version: str = "004010",
                      want: Callable[[int], bool] | None = None,
                      batches: Iterable[list[str | ReaderEvent]] | None = None) -> Iterator[TransactionData]:
    """Transaction sets of ``source`` in file order (streamed; envelope problems are the analyser's business).
    The segments are those :class:`~gateway.edi.x12.reader.X12Reader` yields (same positions), built here from
    the reader's batches: one generator step per batch, not per segment.

    ``batches`` (instead of ``source``): the source's reader batches already read (:func:`iter_batches` with its
    defaults, e.g. the ones :func:`gateway.edi.x12.analyze` handed to its ``tap``): the same sets, without
    reading and splitting the bytes again.

    ``want(index)`` (optional): whether the set of that 0-based ordinal is wanted; one that is not is yielded all
    the same, where it sits, ``skipped`` and without its body segments (none is built: what another process maps,
    see :mod:`gateway.flows.mapping_split`). Ordinals, positions and envelope values are those of a full read."""
    version = ""
    sender = receiver = ""
    enveloped = False
    current: TransactionData | None = None
    delims = Delimiters()
    sep = delims.element
    position = 0
    index = 0
    skipping = False  # the current set is not wanted: its segments are only looked at for the envelope's
    if batches is None:
        assert source is not None
        batches = iter_batches(source)
    for batch in batches:
        for item in batch:
            if type(item) is str:
                position += 1
                if skipping:  # the id as Segment would split it, without building one
                    end = item.find(sep)
                    sid = item if end < 0 else item[:end]
                    if sid not in _ENVELOPE and sid.strip() not in _ENVELOPE:
                        continue
                seg = Segment(item, delims, position)
                sid = seg.id
                if sid not in _ENVELOPE:
                    sid = sid.strip()
                    if sid not in _ENVELOPE:  # the usual case: a segment of the current set
                        if current is not None:
                            current.segments.append(seg)
                        continue
            else:
                assert isinstance(item, ReaderEvent)
                kind = item.kind
                if kind == "isa":
                    header = item.header
                    assert header is not None
                    enveloped = True
                    if header.delimiters is None:
                        continue
                    delims = header.delimiters
                    sep = delims.element
                    position += 1
                    seg = Segment(delims.element.join(["ISA", *header.elements]), delims, position)
                elif kind == "bare":
                    assert item.delimiters is not None
                    delims = item.delimiters
                    sep = delims.element
                    continue
                elif kind == "line_break":
                    position += 1
                    seg = Segment(item.text, delims, position)
                else:
                    continue
                sid = seg.id.strip()
            if sid == "ISA":
                version, sender, receiver = "", seg.element(6).strip(), seg.element(8).strip()
            elif sid == "GS":
                version = seg.element(8).strip()
            elif sid == "GE":
                version = ""
            elif sid == "ST":
                if current is not None:  # ST without SE: the previous set ends here
                    yield current
                skipping = want is not None and not want(index)
                current = TransactionData(seg.element(1).strip(), seg.element(2).strip(),
                                          version or default_version, seg, sender=sender, receiver=receiver,
                                          enveloped=enveloped, index=index, skipped=skipping)
                index += 1
            elif sid == "SE":
                if current is not None:
                    yield current
                    current = None
                    skipping = False
            elif current is not None and not skipping:
                current.segments.append(seg)
    if current is not None:
        yield current


_ENVELOPE = frozenset(("ISA", "GS", "GE", "ST", "SE"))
_SPECS: dict[tuple[str, str, str, str, str], tuple[MappingSpec | None, Path | None, tuple[int, int]]] = {}


def mapping_for(set_id: str, version: str, direction: str, overrides: Mapping[str, Any] | None = None,
                root: Path | None = None) -> MappingSpec | None:
    """The mapping for a set/version/direction with the overrides applied. Cached; an edited file is read again
    (a new file for another version is found after a restart)."""
    key = (set_id, version, direction, json.dumps(overrides or {}, sort_keys=True, default=str), str(root))
    cached = _SPECS.get(key)
    if cached is not None and (cached[1] is None or _file_stamp(cached[1]) == cached[2]):
        return cached[0]
    if len(_SPECS) > 256:
        _SPECS.clear()
    path = cached[1] if cached is not None else find_mapping(set_id, version, direction, root=root)
    spec = load_mapping(path, overrides) if path is not None else None
    _SPECS[key] = (spec, path, _file_stamp(path) if path is not None else (0, 0))
    return spec


def _file_stamp(path: Path) -> tuple[int, int]:
    try:
        st = path.stat()
    except OSError:
        return (0, 0)
    return (st.st_mtime_ns, st.st_size)


_UNSET: Any = object()


def map_transaction(tx: TransactionData, overrides: Mapping[str, Any] | None = None, *, file: str | None = None,
                    root: Path | None = None, spec: MappingSpec | None = _UNSET) -> Record | MappingError:
    """One transaction set to its record (``spec``: the mapping already looked up, None for "there is none")."""
    if spec is _UNSET:
        spec = mapping_for(tx.set_id, tx.version, "in", overrides, root)
    if spec is None:
        return MappingError(f"no inbound mapping for X12 {tx.set_id} version {tx.version or '?'}",
                            location=Location(file=file, segment_position=tx.st.position, segment_id="ST",
                                              element_position=1),
                            hint="add a mapping file in mappings/x12/<version>/ or route this set elsewhere")
    ctx = Inbound(spec)
    mapping = ctx.compiled
    header = build_scopes(tx.segments, mapping.loops)
    ctx.scope_header = header  # type: ignore[attr-defined]
    try:
        data = mapping.fields(ctx, header, "")
        for name in spec.hooks:
            hook = ctx.hook(name)
            if hook.inbound:
                hook.inbound(ctx, header, data)
    finally:
        release(header)
    if ctx.problems:
        return problems_to_error(ctx.problems, set_id=tx.set_id, control=tx.control_number, file=file, st=tx.st)
    model = RECORD_TYPES[spec.record]
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        return MappingError(f"transaction set {tx.set_id} {tx.control_number}: {where}: {err['msg']}",
                            location=Location(file=file, segment_position=tx.st.position, segment_id="ST",
                                              field=where),
                            hint="the mapping produced a value the canonical record refuses: fix the mapping")


def to_canonical(source: Source, partner_overrides: Mapping[str, Any] | None = None, *, file: str | None = None,
                 root: Path | None = None) -> list[Record | MappingError]:
    """Every transaction set of ``source`` mapped to a canonical record, or a MappingError, in file order."""
    return list(iter_canonical(source, partner_overrides, file=file, root=root))


def iter_canonical(source: Source, partner_overrides: Mapping[str, Any] | None = None, *, file: str | None = None,
                   root: Path | None = None) -> Iterator[Record | MappingError]:
    """:func:`to_canonical` streamed: one record (or MappingError) at a time, so memory does not grow with the
    file. The mapping of each (set, version) is looked up once per call, not once per transaction set."""
    for _tx, item in iter_mapped(source, partner_overrides, file=file, root=root):
        yield item


def iter_mapped(source: Source | None, partner_overrides: Mapping[str, Any] | None = None, *,
                file: str | None = None, root: Path | None = None,
                batches: Iterable[list[str | ReaderEvent]] | None = None,
                specs: dict[tuple[str, str], MappingSpec | None] | None = None,
                ) -> Iterator[tuple[TransactionData, Record | MappingError]]:
    """:func:`iter_canonical` with each item's transaction set (its segments, where it sits). ``batches``: see
    :func:`iter_transactions`. ``specs``: the mappings looked up for these overrides and root, by (set id,
    version), filled here (a caller mapping several files with the same overrides looks each up once, and sees
    an edited mapping file when it starts with a new dict)."""
    if specs is None:
        specs = {}
    for tx in iter_transactions(source, batches=batches):
        key = (tx.set_id, tx.version)
        if key not in specs:
            specs[key] = mapping_for(tx.set_id, tx.version, "in", partner_overrides, root)
        yield tx, map_transaction(tx, partner_overrides, file=file, root=root, spec=specs[key])


# ---------------------------------------------------------------------------------------------------------------
@dataclass(slots=True)
class EnvelopeSettings:
    """Partner envelope options for outbound X12 (what a partner file says about how it wants our X12)."""

    sender_qualifier: str = "ZZ"
    sender_id: str = "SENDER"
    receiver_qualifier: str = "ZZ"
    receiver_id: str = "RECEIVER"
    version: str = "004010"  # GS08
    isa_version: str = "00401"
    usage: str = "P"
    ack_requested: bool = False
    element: str = "*"
    component: str = ">"
    segment: str = "~"
    suffix: str = "\n"
    repetition: str | None = None
    uppercase: bool = False
    implementation_reference: str | None = None

    def writer_options(self) -> WriterOptions:
        return WriterOptions(Delimiters(self.element, self.component, self.repetition, self.segment, self.suffix),
                             uppercase=self.uppercase)


def record_segments(record: Record | Mapping[str, Any], set_id: str | None = None,
                    overrides: Mapping[str, Any] | None = None, *, version: str = "004010",
                    root: Path | None = None) -> tuple[str, list[list[Any]]]:
    """The body segments (without ST/SE) of one record; raises MappingError naming the field on failure."""
    data = record.model_dump(mode="json", exclude_none=True) if not isinstance(record, Mapping) else dict(record)
    kind = str(data.get("type"))
    set_id = set_id or DEFAULT_SET.get(kind)
    if set_id is None or RECORD_OF_SET.get(set_id) != kind:
        raise MappingError(f"a {kind} record cannot be written as X12 {set_id}",
                           hint="orders go to 940, shipments to 945 or 856, statuses to 214")
    spec = mapping_for(set_id, version, "out", overrides, root)
    if spec is None:
        raise MappingError(f"no outbound mapping for X12 {set_id} version {version}")
    data = adapt(data, set_id)
    ctx = CompiledOutbound(spec)
    builder = Builder("header")
    ctx.write_fields(builder, spec.fields, data)
    for name in spec.hooks:
        hook = ctx.hook(name)
        if hook.outbound:
            hook.outbound(ctx, builder, data)
    if ctx.problems:
        first: Problem = ctx.problems[0]
        raise MappingError(f"{kind} record cannot be written as X12 {set_id}: {first.message}",
                           location=Location(field=first.field),
                           hint="fill the field in the record or give the partner a default in its mapping overrides")
    return set_id, finish(set_id, builder.emit(spec.structure))


def from_canonical(records: Iterable[Record | Mapping[str, Any]], envelope: EnvelopeSettings | None = None, *,
                   set_id: str | Sequence[str | None] | None = None,
                   overrides: Mapping[str, Any] | None = None, date: str = "20000101",
                   time: str = "0000", interchange_control: int = 1, group_control: int = 1,
                   root: Path | None = None) -> bytes:
    """One interchange holding one group per transaction set type (in first-seen order)."""
    env = envelope or EnvelopeSettings()
    groups: dict[str, GroupSpec] = {}
    per_record = None if set_id is None or isinstance(set_id, str) else list(set_id)
    for index, record in enumerate(records):
        wanted = per_record[index] if per_record is not None and index < len(per_record) else set_id
        sid, body = record_segments(record, wanted if isinstance(wanted, str) else None, overrides,
                                    version=env.version, root=root)
        spec = mapping_for(sid, env.version, "out", overrides, root)
        assert spec is not None
        group = groups.get(sid)
        if group is None:
            group = GroupSpec(spec.writer.get("functional_id", "XX"), env.version,
                              group_control + len(groups), [], implementation_reference=env.implementation_reference)
            groups[sid] = group
        group.transactions.append((sid, list(body)))  # type: ignore[arg-type]  # lists are SegmentLike
    envelope_values = Envelope(env.sender_qualifier, env.sender_id, env.receiver_qualifier, env.receiver_id,
                               date, time, interchange_control, version=env.isa_version, usage=env.usage,
                               ack_requested=env.ack_requested)
    return write_interchange(envelope_values, groups.values(), env.writer_options())


__all__ = ["EnvelopeSettings", "Order", "Shipment", "Status", "TransactionData", "from_canonical",
           "hook_registry", "iter_canonical", "iter_mapped", "iter_transactions", "map_transaction",
           "record_segments", "to_canonical"]
