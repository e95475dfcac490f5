"""Field types shared by partner and config files: durations, URLs, pinned SSH host keys, cron schedules,
certificate path lists. Each validates with a message saying what is expected."""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import struct
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, PlainSerializer, ValidationInfo, WithJsonSchema

# -- durations ---------------------------------------------------------------------------------------------------
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)([smhd])")


def parse_duration(value: Any) -> timedelta:
    """``90`` (seconds), ``"90s"``, ``"15m"``, ``"4h"``, ``"2d"`` or ``"1h30m"`` -> timedelta."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 30s, 15m, 4h or 2d")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip().lower().replace(" ", "")
        if re.fullmatch(r"\d+(\.\d+)?", text):
            seconds = float(text)
        elif text and re.fullmatch(r"(\d+(\.\d+)?[smhd])+", text):
            seconds = sum(float(n) * _UNITS[u] for n, u in _DURATION_PART.findall(text))
        else:
            raise ValueError(f"{value!r} is not a duration: expected e.g. 30s, 15m, 4h, 2d or 1h30m")
    else:
        raise ValueError("expected a duration such as 30s, 15m, 4h or 2d")
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    seconds = value.total_seconds()
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "minimum": 0},
                {"type": "string", "pattern": r"^\s*(\d+(\.\d+)?\s*[smhdSMHD]?\s*)+$"},
            ],
            "description": "seconds, or a duration such as 30s, 15m, 4h, 2d, 1h30m",
        }
    ),
]


# -- URLs --------------------------------------------------------------------------------------------------------
def _check_url(value: str) -> str:
    value = value.strip()
    if not re.match(r"^https?://[^/\s:]+(:\d{1,5})?(/\S*)?$", value):
        raise ValueError(f"{value!r} is not an http(s) URL: expected e.g. https://as2.partner.example/as2")
    return value


HttpUrlStr = Annotated[str, AfterValidator(_check_url), WithJsonSchema({"type": "string", "pattern": "^https?://"})]


# -- SSH host keys -----------------------------------------------------------------------------------------------
SSH_KEY_TYPES = (
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
)
HOST_KEY_EXPECTED = (
    "expected one line of OpenSSH known_hosts/public key format, 'ssh-ed25519 AAAAC3Nza...' "
    "(from ssh-keyscan -t ed25519 HOST, without the host name, or the server's /etc/ssh/ssh_host_*_key.pub)"
)


def _blob_type(blob: bytes) -> str:
    if len(blob) < 4:
        raise ValueError("too short")
    (n,) = struct.unpack(">I", blob[:4])
    if n > 64 or len(blob) < 4 + n:
        raise ValueError("bad length")
    return blob[4 : 4 + n].decode("ascii")


def parse_host_key(value: Any) -> str:
    """Normalise a pinned host key to ``TYPE BASE64``; refuse anything else with what is expected."""
    if not isinstance(value, str):
        raise ValueError(f"a host key is a text line: {HOST_KEY_EXPECTED}")
    parts = value.strip().split()
    if parts and parts[0] not in SSH_KEY_TYPES and len(parts) >= 3 and parts[1] in SSH_KEY_TYPES:
        parts = parts[1:]  # a known_hosts line with its host pattern in front
    if len(parts) < 2:
        raise ValueError(f"host key {value!r} is incomplete: {HOST_KEY_EXPECTED}")
    kind, data = parts[0], parts[1]
    if kind not in SSH_KEY_TYPES:
        raise ValueError(f"unknown host key type {kind!r} (known: {', '.join(SSH_KEY_TYPES)}): {HOST_KEY_EXPECTED}")
    try:
        blob = base64.b64decode(data, validate=True)
        inner = _blob_type(blob)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise ValueError(
            f"the key data of this {kind} host key is not valid base64 key data: {HOST_KEY_EXPECTED}"
        ) from None
    if inner != kind:
        raise ValueError(f"the key data says {inner!r} but the line says {kind!r}: {HOST_KEY_EXPECTED}")
    if kind in ("ssh-ed25519",) and len(blob) != 51:
        raise ValueError(f"this ssh-ed25519 key data has the wrong length (truncated?): {HOST_KEY_EXPECTED}")
    return f"{kind} {data}"


def host_key_fingerprint(key: str) -> str:
    """``SHA256:...`` as ``ssh-keygen -lf`` prints it."""
    blob = base64.b64decode(key.split()[1])
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


HostKey = Annotated[
    str,
    BeforeValidator(parse_host_key),
    WithJsonSchema({"type": "string", "pattern": r"^(ssh-|ecdsa-|sk-)\S+ [A-Za-z0-9+/=]+"}),
]


# -- polling schedule --------------------------------------------------------------------------------------------
def parse_schedule(value: Any) -> float | str:
    """Seconds between polls (number or duration string) or a five-field cron string."""
    if isinstance(value, str) and len(value.split()) == 5:
        from apscheduler.triggers.cron import CronTrigger

        try:
            CronTrigger.from_crontab(value)
        except ValueError as exc:
            raise ValueError(f"{value!r} is not a valid cron schedule ({exc}): expected e.g. '*/5 * * * *'") from None
        return value
    try:
        seconds = parse_duration(value).total_seconds()
    except ValueError:
        raise ValueError(
            f"{value!r} is neither an interval nor a cron schedule: expected seconds (300), a duration (5m) or "
            "five cron fields ('*/5 8-18 * * mon-fri')"
        ) from None
    if seconds < 1:
        raise ValueError("poll at most once a second: expected an interval of 1 or more seconds")
    return seconds


Schedule = Annotated[
    float | str,
    BeforeValidator(parse_schedule),
    WithJsonSchema(
        {
            "anyOf": [{"type": "number", "minimum": 1}, {"type": "string"}],
            "description": "seconds between polls, a duration (5m), or a cron string ('*/5 * * * *')",
        }
    ),
]


# -- certificate paths -------------------------------------------------------------------------------------------
def _cert_list(value: Any, info: ValidationInfo) -> tuple[Path, ...]:
    """One path or a list (a second certificate overlaps a rollover); relative paths sit beside the file."""
    items = [value] if isinstance(value, str | Path) else value
    if not isinstance(items, list | tuple) or not items:
        raise ValueError("expected a certificate path or a list of up to two paths (current, next)")
    if len(items) > 2:
        raise ValueError("at most two certificates (the current one and the next one, for a rollover)")
    base = (info.context or {}).get("base_dir") if info.context else None
    out = []
    for item in items:
        if not isinstance(item, str | Path) or not str(item).strip():
            raise ValueError("a certificate is given by its file path, e.g. acme-retail/as2-signing.pem")
        p = Path(str(item)).expanduser()
        if base is not None and not p.is_absolute():
            p = Path(base) / p
        out.append(p)
    return tuple(out)


CertPaths = Annotated[
    tuple[Path, ...],
    BeforeValidator(_cert_list),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string"},
                {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 2},
            ],
            "description": "PEM/DER certificate path beside the partner file; a list of two overlaps a rollover",
        }
    ),
]


def resolve_beside(value: Any, info: ValidationInfo) -> Any:
    """A single path relative to the file being validated (context ``base_dir``)."""
    base = (info.context or {}).get("base_dir") if info.context else None
    if isinstance(value, str | Path) and base is not None:
        p = Path(str(value)).expanduser()
        return p if p.is_absolute() else Path(base) / p
    return value
