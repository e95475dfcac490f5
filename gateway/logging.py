"""Structured logs: one JSON object per line, with the correlation, message and partner ids of the work at hand.

Event names are dotted verbs (``message.received``, ``ack.sent``) passed as the log message; extra fields go in
``fields=``. Payload bytes are never logged: there is no field for them, and values under secret-looking keys are
masked by the formatter.

    from gateway.logging import get_logger, log_context
    log = get_logger(__name__)
    with log_context(message_id=42, partner_id="acme-retail"):
        log.info("message.archived", extra={"fields": {"sha256": digest, "size": n}})
"""

from __future__ import annotations

import functools
import json
import json.encoder
import logging
import re
import sys
import time
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

_CONTEXT_KEYS = ("request_id", "correlation_id", "message_id", "partner_id")
_context: ContextVar[dict[str, Any]] = ContextVar("gateway_log_context", default=MappingProxyType({}))  # type: ignore[arg-type]

SECRET_MARKERS = (
    "password",
    "passphrase",
    "secret",
    "token",
    "api_key",
    "apikey",
    "private_key",
    "authorization",
)
MASK = "***"


def new_correlation_id() -> str:
    return uuid.uuid4().hex[:16]


def current_context() -> dict[str, Any]:
    return dict(_context.get())


class log_context:
    """Add ids to every record logged inside the block (nested blocks add to the outer ones); ``as`` gives the
    merged ids. A class, not a ``@contextmanager`` generator: the inbound flow enters one per file and step, and
    the generator's machinery cost several times the work."""

    __slots__ = ("_token", "_values")

    def __init__(self, **values: Any) -> None:
        self._values = values

    def __enter__(self) -> dict[str, Any]:
        merged = {**_context.get()}
        for k, v in self._values.items():
            if v is not None:
                merged[k] = v
        self._token = _context.set(merged)
        return merged

    def __exit__(self, *_exc: object) -> None:
        _context.reset(self._token)


_URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@?#]*@")
_PARAM_MARKERS = "|".join((*SECRET_MARKERS, "key", "sig", "signature", "pass"))
_URL_SECRET_PARAM = re.compile(r"(?i)([?&;](?:[a-z0-9_.-]*(?:" + _PARAM_MARKERS + r")[a-z0-9_.-]*)=)[^&#\s'\"]*")


def mask_url(text: str) -> str:
    """``text`` with the credentials of every URL in it masked: ``user:password@`` and secret-looking query
    parameters (``?token=...``, ``&password=...``). Applied to every logged message and string field."""
    if "://" not in text and "=" not in text:
        return text
    return _URL_SECRET_PARAM.sub(rf"\1{MASK}", _URL_USERINFO.sub(rf"\1{MASK}@", text))


@functools.lru_cache(maxsize=4096)
def _secret_key(key: str) -> bool:
    """A field name that holds a secret (asked once per name: every log line has a few fields)."""
    lowered = key.lower()
    return any(m in lowered for m in SECRET_MARKERS)


def mask_secrets(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: (MASK if _secret_key(str(k)) else mask_secrets(v)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask_secrets(v) for v in value]
    if isinstance(value, str):
        return mask_url(value)
    return value


_PLAIN = (int, float, bool, type(None))  # values that pass through mask_secrets unchanged (its common case)


def _masked_fields(fields: dict[Any, Any], out: dict[str, Any]) -> None:
    """``out.update(mask_secrets(fields))`` without the call per value: a log line's fields are mostly numbers and
    short strings."""
    for k, v in fields.items():
        if _secret_key(str(k)):
            out[k] = MASK
        elif type(v) is str:
            out[k] = mask_url(v)
        elif type(v) in _PLAIN:
            out[k] = v
        else:
            out[k] = mask_secrets(v)


class _Clock:
    """A record's time as ``isoformat(timespec="milliseconds")`` of its UTC datetime gives it, with the text of the
    second kept from the line before (a burst logs many lines a second): ``datetime.fromtimestamp`` and
    ``isoformat`` cost a third of a line's formatting. Rounds as ``datetime.fromtimestamp`` does (to the
    microsecond, half to even), then cuts to the millisecond as ``isoformat`` does."""

    __slots__ = ("_second",)

    def __init__(self) -> None:
        self._second: tuple[int, str] = (-1, "")  # (second, its text): one tuple, read and replaced whole

    def stamp(self, created: float) -> str:
        second = int(created)
        micros = round((created - second) * 1_000_000)
        if micros >= 1_000_000:
            second, micros = second + 1, micros - 1_000_000
        if second < 0:  # before 1970: not worth a cache
            return datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")
        cached = self._second
        if cached[0] != second:
            cached = self._second = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
        return f"{cached[1]}.{micros // 1000:03d}+00:00"


# json.dumps with options builds a new encoder for every call: one line per event, so one encoder for all; and its
# encode() builds a new C encoder (and a circular-reference table) for every call: made once here, with the same
# options (a line's values went through mask_secrets first, which a value holding itself never gets past)
_ENCODER = json.JSONEncoder(default=str, ensure_ascii=False)
_c_make_encoder = getattr(json.encoder, "c_make_encoder", None)
_C_ENCODE = (_c_make_encoder(None, str, json.encoder.encode_basestring, None, ": ", ", ", False, False, True)
             if _c_make_encoder is not None else None)


def _line(out: dict[str, Any]) -> str:
    """``_ENCODER.encode(out)``."""
    if _C_ENCODE is None:  # pragma: no cover - CPython always has the C encoder
        return _ENCODER.encode(out)
    return "".join(_C_ENCODE(out, 0))


class JsonFormatter(logging.Formatter):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clock = _Clock()

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": self._clock.stamp(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": mask_url(record.getMessage()),
        }
        ctx = _context.get()
        if ctx:
            for key in _CONTEXT_KEYS:
                if key in ctx:
                    out[key] = ctx[key]
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            _masked_fields(fields, out)
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            out["error"] = {"kind": type(exc).__name__, "message": mask_url(str(exc))}
            out["traceback"] = mask_url(self.formatException(record.exc_info))
        return _line(out)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        ctx = _context.get()
        ids = " ".join(f"{k}={ctx[k]}" for k in _CONTEXT_KEYS if k in ctx)
        fields = getattr(record, "fields", None)
        extra = " ".join(f"{k}={v}" for k, v in mask_secrets(fields).items()) if isinstance(fields, dict) else ""
        ts = datetime.fromtimestamp(record.created, UTC).strftime("%H:%M:%S")
        line = " ".join(p for p in (ts, record.levelname, mask_url(record.getMessage()), ids, extra) if p)
        if record.exc_info:
            line += "\n" + mask_url(self.formatException(record.exc_info))
        return line


class LineHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A :class:`logging.StreamHandler` that does not flush a stream which flushes itself at every line end
    (``sys.stderr`` since Python 3.9, also when it is a file): its ``flush()`` takes the handler's lock a second
    time for nothing, once per line."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            stream = self.stream
            stream.write(self.format(record) + self.terminator)
            if not getattr(stream, "line_buffering", False):
                self.flush()
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)


def configure_logging(level: str = "INFO", fmt: str = "json", stream: Any = None) -> None:
    """Route every logger (ours, uvicorn's, apscheduler's) through one handler on stderr."""
    handler = LineHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(handler)
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "apscheduler"):
        lg = logging.getLogger(name)
        lg.handlers = []
        lg.propagate = True
    logging.getLogger("apscheduler").setLevel("ERROR")  # "skipped: max instances" is by design (see scheduler.py)
    logging.getLogger("alembic").setLevel("WARNING")
    logging.getLogger("watchdog").setLevel("WARNING")
    # the formatters above use none of the caller's file, line and function, thread or process names: the records
    # skip looking them up (the logging HOWTO's "Optimization"; a stack walk and three look-ups per line)
    logging._srcfile = None  # type: ignore[attr-defined]
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False


def get_logger(name: str) -> logging.Logger:
    return logging.getLogger(name)
