"""The X12 engine: read anything real partners send, validate it, acknowledge it, write it back. Pure: bytes and
objects in, objects and bytes out; no I/O, no clock, no randomness (timestamps and control numbers are passed in).

Facade (what the rest of the gateway calls)::

    from gateway.edi.x12 import analyze, build_acknowledgement, ControlNumbers, AckOptions

    analysis = analyze(source, tolerant=False, file=None, rules=None)
    analysis.valid, analysis.errors, analysis.warnings     # Issue objects: .code .message .severity .location
    for ic in analysis.interchanges:                        # .describe() -> one human line
        for group in ic.groups:
            for tx in group.transactions: tx.set_id, tx.control_number, tx.valid, tx.segment_count, tx.errors
    analysis.to_dict()                                      # the JSON of `gateway x12 validate --json`

    ack = build_acknowledgement(ic, control_numbers=counter, options=AckOptions(timestamp=when))  # bytes | None

:func:`analyze` never raises for bad input: everything is reported in the result. Input that holds no X12 at all
gives an analysis with no interchanges, ``valid`` false and one error with code ``not_edi`` (use
``issue.to_exception()`` to get a :class:`gateway.errors.NotEDIError` if you want to raise).

Lower layers, public for the mapping layer: :mod:`.reader` (streaming segments), :mod:`.writer` (segments and
envelopes to bytes), :mod:`.segment`, :mod:`.delimiters`, :mod:`.specs` (specifications as data),
:mod:`.rules` (partner rule overlays), :mod:`.issues` (issue codes and their acknowledgement codes).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from gateway.edi.x12.ack import AckOptions, ControlNumbers, SequentialControlNumbers, build_acknowledgement
from gateway.edi.x12.delimiters import Delimiters
from gateway.edi.x12.envelope import EnvelopeAnalyzer
from gateway.edi.x12.issues import CATALOGUE, Issue, Level, Severity
from gateway.edi.x12.model import Analysis, Group, Interchange, InterchangeAck, Transaction
from gateway.edi.x12.reader import ReaderEvent, Source, X12Reader, read_segments
from gateway.edi.x12.rules import NO_RULES, Rules
from gateway.edi.x12.segment import Segment
from gateway.edi.x12.writer import Envelope, GroupSpec, WriterOptions, X12Writer, write_interchange, write_segments

__all__ = [
    "CATALOGUE",
    "NO_RULES",
    "AckOptions",
    "Analysis",
    "ControlNumbers",
    "Delimiters",
    "Envelope",
    "Group",
    "GroupSpec",
    "Interchange",
    "InterchangeAck",
    "Issue",
    "Level",
    "Rules",
    "Segment",
    "SequentialControlNumbers",
    "Severity",
    "Transaction",
    "WriterOptions",
    "X12Reader",
    "X12Writer",
    "analyze",
    "build_acknowledgement",
    "read_segments",
    "write_interchange",
    "write_segments",
]


def analyze(
    source: Source,
    *,
    tolerant: bool = False,
    file: str | None = None,
    rules: Rules | Mapping[str, Any] | None = None,
    default_version: str = "004010",
    max_issues: int = 1000,
    tap: Callable[[list[str | ReaderEvent]], object] | None = None,
) -> Analysis:
    """Read and validate every interchange in ``source`` (bytes, str or a binary file object, streamed).

    ``tolerant`` turns the deviations real partners send (unpadded ISA fields, a line break inside the ISA or a
    segment, a missing ISA16, IEA02 equal to ISA13 only numerically, data without envelope) into warnings;
    otherwise they are errors. ``file`` names the input in issue locations. ``rules`` is a partner overlay
    (:class:`~gateway.edi.x12.rules.Rules` or its mapping form). ``default_version`` is used for transaction
    sets sent without a GS. At most ``max_issues`` issues are kept (all errors are counted in
    ``error_count``). ``tap``, when given, is called with each batch of :func:`~gateway.edi.x12.reader.iter_batches`
    before it is analysed (not to be changed): a caller keeping them can get the segments again with
    ``X12Reader.from_batches().segments(kept)`` without reading the source twice. Never raises for bad input.
    """
    if rules is not None and not isinstance(rules, Rules):
        rules = Rules.from_dict(rules)
    analyzer = EnvelopeAnalyzer(tolerant=tolerant, file=file, rules=rules, default_version=default_version,
                                max_issues=max_issues)
    return analyzer.run(source, tap)
