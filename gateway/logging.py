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
import logging
import re
import sys
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


# json.dumps with options builds a new encoder for every call: one line per event, so one encoder for all
_ENCODER = json.JSONEncoder(default=str, ensure_ascii=False)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": mask_url(record.getMessage()),
        }
        ctx = _context.get()
        for key in _CONTEXT_KEYS:
            if key in ctx:
                out[key] = ctx[key]
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            out.update(mask_secrets(fields))
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            out["error"] = {"kind": type(exc).__name__, "message": mask_url(str(exc))}
            out["traceback"] = mask_url(self.formatException(record.exc_info))
        return _ENCODER.encode(out)


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


def configure_logging(level: str = "INFO", fmt: str = "json", stream: Any = None) -> None:
    """Route every logger (ours, uvicorn's, apscheduler's) through one handler on stderr."""
    handler = logging.StreamHandler(stream or sys.stderr)
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
