import io
import json
import logging

from gateway.logging import configure_logging, get_logger, log_context


def test_json_records_carry_context_ids_and_mask_secrets():
    buf = io.StringIO()
    configure_logging("INFO", "json", stream=buf)
    log = get_logger("gateway.test")
    with log_context(correlation_id="c1", message_id=7), log_context(partner_id="acme"):
        log.info("message.archived", extra={"fields": {"size": 3, "password": "hunter2", "nested": {"api_key": "k"}}})
    rec = json.loads(buf.getvalue().strip())
    assert rec["event"] == "message.archived"
    assert (rec["correlation_id"], rec["message_id"], rec["partner_id"]) == ("c1", 7, "acme")
    assert rec["password"] == "***" and rec["nested"]["api_key"] == "***"
    assert "hunter2" not in buf.getvalue()
    logging.getLogger().handlers.clear()


def test_json_timestamps_read_as_datetime_writes_them():
    """The formatter keeps the text of the second between lines: every stamp is still what
    ``datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds")`` gives, also on the rounding edges."""
    import random
    from datetime import UTC, datetime

    from gateway.logging import _Clock

    clock = _Clock()
    edges = [1765000000.0, 1765000000.0009995, 1765000000.0004999, 1765000000.9994999, 1765000000.9995,
             1765000000.9999995, 1765000000.99999949, 1765000001.0000005, 0.0, 59.9999996, 1e9 + 0.5e-6,
             -1.25, 1765000000.123456]
    rng = random.Random(15)
    times = edges + [rng.uniform(0, 4e9) for _ in range(5000)]
    times += [1765000000 + i / 997 for i in range(3000)]  # many lines a second, in order (the cached case)
    for t in times:
        assert clock.stamp(t) == datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds"), t


def test_json_fields_masked_at_every_depth_and_kept_otherwise():
    buf = io.StringIO()
    configure_logging("INFO", "json", stream=buf)
    log = get_logger("gateway.test")
    fields = {"size": 3, "ratio": 0.5, "ok": True, "none": None, "url": "sftp://bob:pw@host/x?token=abc",
              "Secret_Value": 42, 7: "seven", "items": [{"password": "p"}, "https://u:v@h/"],
              "pair": ("a", 1), "when": object()}
    log.info("thing.done", extra={"fields": fields})
    rec = json.loads(buf.getvalue().strip())
    assert (rec["size"], rec["ratio"], rec["ok"], rec["none"]) == (3, 0.5, True, None)
    assert rec["url"] == "sftp://***@host/x?token=***"
    assert rec["Secret_Value"] == "***" and rec["7"] == "seven"
    assert rec["items"] == [{"password": "***"}, "https://***@h/"] and rec["pair"] == ["a", 1]
    assert rec["when"].startswith("<object object")
    logging.getLogger().handlers.clear()


class _Stream(io.TextIOWrapper):
    """A text stream over bytes (as ``sys.stderr`` on a file) that counts the handler's flushes."""

    def __init__(self, line_buffering: bool) -> None:
        super().__init__(io.BytesIO(), encoding="utf-8", line_buffering=line_buffering)
        self.flushes = 0

    def flush(self) -> None:
        self.flushes += 1
        super().flush()


def test_lines_reach_the_stream_flushed_by_the_handler_or_by_the_stream_itself():
    for line_buffering, flushes in ((False, 2), (True, 0)):
        stream = _Stream(line_buffering)
        configure_logging("INFO", "json", stream=stream)
        log = get_logger("gateway.test")
        log.info("one.done")
        log.warning("two.done")
        written = stream.buffer.getvalue().decode().splitlines()  # type: ignore[attr-defined]
        assert [json.loads(line)["event"] for line in written] == ["one.done", "two.done"]
        assert stream.flushes == flushes  # a line-buffered stream wrote each line out at its newline
    logging.getLogger().handlers.clear()


def test_json_lines_are_the_encoders_text():
    """A line is written by the C encoder made once (gateway.logging._line): the text json.JSONEncoder(default=str,
    ensure_ascii=False) gives, non-ASCII kept, objects by str(), floats as json writes them."""
    from datetime import datetime
    from pathlib import Path

    from gateway.logging import _ENCODER, _line

    values = [{}, {"event": "message.archived", "size": 3, "ratio": 0.1, "big": 2**70, "nan": float("nan"),
                   "é": "ü \u2028 \" \\ \x00", "path": Path("/tmp/x"), "when": datetime(2026, 1, 2, 3, 4, 5),
                   "items": [1, [2, {"k": None}], ("t", True)], 7: "seven", None: "none", 1.5: "float key"}]
    for value in values:
        assert _line(value) == _ENCODER.encode(value)
    buf = io.StringIO()
    configure_logging("INFO", "json", stream=buf)
    get_logger("gateway.test").info("thing.done", extra={"fields": {"file": "ä.edi", "size": 1}})
    line = buf.getvalue().strip()
    assert '"file": "ä.edi"' in line and json.loads(line)["size"] == 1
    logging.getLogger().handlers.clear()
