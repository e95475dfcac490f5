"""The envelope analyser: walks the reader's output once, builds the :class:`~gateway.edi.x12.model.Analysis`,
checks ISA/IEA, GS/GE and ST/SE (structure, counts, control numbers, dates, times, codes) and hands every segment
of a transaction set to its :class:`~gateway.edi.x12.validate.TransactionValidator`.

The steps of each envelope level are functions of the analysis state (:mod:`.envelope_state`): ISA/IEA, TA1 and
service segments in :mod:`.envelope_interchange`, GS/GE in :mod:`.envelope_group`, ST/SE in :mod:`.envelope_set`.

Segment positions in issues: inside a transaction set, the position counted from ST (= 1), as AK3/IK3 need it;
for envelope segments, the ordinal of the segment in the file. ``Issue.file_segment`` always holds the latter.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from gateway.edi.x12.envelope_group import end_group, start_group
from gateway.edi.x12.envelope_interchange import (
    close_interchange,
    end_interchange,
    interchange_ack,
    service_segment,
    start_interchange,
)
from gateway.edi.x12.envelope_set import end_set, start_set
from gateway.edi.x12.envelope_state import EnvelopeState
from gateway.edi.x12.issues import Severity, make_issue
from gateway.edi.x12.model import Analysis
from gateway.edi.x12.reader import ReaderEvent, Source, iter_batches
from gateway.errors import Location

_CONTROL = frozenset(("SE", "ST", "GE", "GS", "IEA", "ISA"))
_FATAL_INTERCHANGE = frozenset(("iea_missing", "isa_malformed", "delimiter_invalid"))


class EnvelopeAnalyzer(EnvelopeState):
    """One analysis run (see :func:`gateway.edi.x12.analyze`)."""

    # ------------------------------------------------------------------------------------------------ main loop
    def run(self, source: Source, tap: Callable[[list[str | ReaderEvent]], object] | None = None) -> Analysis:
        batches = iter_batches(source, max_segment_length=self.max_segment_length)
        self._loop(batches if tap is None else _tapped(batches, tap))
        self._close_all()
        a = self.analysis
        if not a.interchanges:
            a.issues.insert(0, make_issue(
                "not_edi", "no X12 interchange (ISA) or transaction set (ST) found", severity=Severity.ERROR,
                location=Location(file=self.file)))
            a.error_count += 1
        a.segment_count = self.fs
        return a

    def _loop(self, batches: Iterator[list[str | ReaderEvent]]) -> None:
        control = _CONTROL
        for batch in batches:
            i = 0
            n = len(batch)
            while i < n:
                v = self.validator
                if v is not None:  # the validator's fast path takes every segment that needs no report
                    j = v.run(batch, i, self.pos + 1)
                    if j > i:
                        self.fs += j - i
                        self.pos += j - i
                        i = j
                        if i == n:
                            break
                item = batch[i]
                i += 1
                if type(item) is str:
                    self.fs += 1
                    if self.tx is not None:
                        els = item.split(self.delims.element)
                        if els[0] not in control:
                            self.pos += 1
                            if v is not None:
                                v.segment(els, item, self.pos)
                            else:
                                self._unvalidated(els)
                            continue
                        self._control(els, item)
                    else:
                        self._control(item.split(self.delims.element), item)
                else:
                    self._event(item)  # type: ignore[arg-type]

    def _event(self, event: ReaderEvent) -> None:
        kind = event.kind
        if kind == "isa":
            assert event.header is not None
            self.fs += 1
            start_interchange(self, event.header)
        elif kind == "bare":
            assert event.delimiters is not None
            close_interchange(self, eof=True)
            self.delims = event.delimiters
            self.bare = True
        elif kind == "junk":
            close_interchange(self, eof=True)
            sample = event.sample.encode("ascii", "backslashreplace").decode()[:30]
            self.envelope_issue("junk_data", f"{event.length} characters that are not X12 ({sample!r}...)",
                                None, None)
        elif kind == "line_break":
            self.fs += 1
            els = event.text.split(self.delims.element)
            self._segment_with_issue(els, event.text)
            for element in [e or None for e in event.elements] or [None]:
                msg = f"line break inside segment {els[0][:3]}" + (f" (element {element})" if element else "")
                if self.tx is not None:
                    self.set_issue("line_break_in_segment", msg, self.pos, els[0], element=element)
                else:
                    self.envelope_issue("line_break_in_segment", msg, self.ic, els[0], element)
        elif kind == "too_long":
            self.fs += 1
            msg = f"segment of more than {event.length} characters skipped ({event.sample[:20]!r}...)"
            seg_id = event.sample.split(self.delims.element, 1)[0][:3]
            if self.tx is not None:
                self.pos += 1
                self.set_issue("segment_too_long", msg, self.pos, seg_id)
            else:
                self.envelope_issue("segment_too_long", msg, self.ic, seg_id)

    def _segment_with_issue(self, els: list[str], text: str) -> None:
        if self.tx is not None and els[0] not in _CONTROL:
            self.pos += 1
            if self.validator is not None:
                self.validator.segment(els, text, self.pos)
            else:
                self._unvalidated(els)
        else:
            self._control(els, text)

    def _unvalidated(self, els: list[str]) -> None:
        seg_id = els[0]
        if not (2 <= len(seg_id) <= 3 and seg_id.isalnum() and seg_id.isupper() and seg_id.isascii()):
            self.set_issue("segment_unrecognized", f"{seg_id[:20]!r} is not a segment id", self.pos, seg_id[:3])

    def _control(self, els: list[str], text: str) -> None:
        seg_id = els[0]
        if seg_id == "ST":
            start_set(self, els)
        elif seg_id == "SE":
            end_set(self, els, text)
        elif seg_id == "GS":
            start_group(self, els)
        elif seg_id == "GE":
            end_group(self, els)
        elif seg_id == "IEA":
            end_interchange(self, els)
        elif seg_id == "TA1" and self.ic is not None and self.group is None:
            interchange_ack(self, els)
        elif seg_id in ("ISB", "ISE", "ISX") and self.ic is not None and self.group is None:
            service_segment(self, els)
        elif seg_id == "ISA":  # an ISA the reader could not parse as a header
            self.envelope_issue("isa_malformed", "ISA segment could not be parsed", self.ic, "ISA", x12_code="022")
        else:
            where = "a transaction set" if self.group is not None or self.ic is not None else "an interchange"
            self.envelope_issue("interchange_content_invalid", f"segment {seg_id[:3]!r} outside {where}",
                                self.group or self.ic, seg_id[:3])

    def _close_all(self) -> None:
        close_interchange(self, eof=True)


def _tapped(batches: Iterator[list[str | ReaderEvent]],
            tap: Callable[[list[str | ReaderEvent]], object]) -> Iterator[list[str | ReaderEvent]]:
    for batch in batches:
        tap(batch)
        yield batch


def fatal_codes() -> frozenset[str]:
    """Interchange issue codes after which no functional acknowledgement is sent (TA1 R only)."""
    return _FATAL_INTERCHANGE
