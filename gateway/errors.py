"""The gateway's exceptions: one tree, raised by the core and translated once at each I/O edge.

::

    GatewayError                      base of everything the gateway raises on purpose
    ├── ConfigError                   a settings, partner, mapping or identity file is wrong
    │   └── SecretError               a {secret: NAME} reference does not resolve, or a literal secret was given
    ├── TransportError                bytes could not be moved (SFTP, AS2, webhook, folder)
    │   ├── TransientTransportError   worth retrying: timeout, refused connection, HTTP 5xx/429, full remote disk
    │   │   ├── ConnectionLostError   the connection dropped in the middle of a transfer
    │   │   ├── ItemVanishedError     the remote file disappeared between listing and download
    │   │   └── RemoteFullError       the remote side has no space left
    │   └── PermanentTransportError   retrying will not help: bad credentials, unknown host key, HTTP 4xx
    │       ├── HostKeyError          the server's host key is unknown or changed (never auto-accepted)
    │       ├── AuthenticationError   the server refused our credentials
    │       ├── UnsafePathError       a remote name with ``../``, a slash, or a path outside the folder
    │       └── PayloadTooLargeError  a pushed body over the channel's size limit
    ├── DocumentError                 an inbound document cannot be accepted as it is (carries the ack code)
    │   ├── EnvelopeError             ISA/IEA, GS/GE or ST/SE envelope broken            (TA1 / AK5 / AK9 codes)
    │   ├── X12SyntaxError            segment or element level error                     (AK3/AK4, IK3/IK4 codes)
    │   ├── NotEDIError               the bytes are not an X12 interchange at all
    │   ├── UnknownPartnerError       no partner claims the sender                       (quarantine)
    │   ├── MisaddressedError         the receiver id is not one of ours                  (quarantine)
    │   ├── RoutingConflictError      envelope and channel name different partners        (quarantine)
    │   ├── DuplicateDocumentError    this exact item was received before
    │   └── SecurityError             signature, decryption or authentication failure   (MDN disposition)
    ├── MappingError                  a valid document cannot be mapped to or from canonical records
    ├── PartnerRejected               the partner answered with a negative acknowledgement (997/999 R, negative MDN)
    ├── InvalidActionError            a resend/reprocess that does not apply to that message (API: 409)
    └── StoreError                    the audit store or the archive failed
        ├── NotFoundError             an id that does not exist (API: 404)
        └── PayloadPurgedError        the payload was removed from the archive by retention (API: 410)

Every error that can reach a person says *what* went wrong, *where* (file, segment position, element, field)
and, when known, *what to do*; :meth:`GatewayError.describe` renders that as one line, and
:meth:`GatewayError.to_dict` as the structured form the store and the API keep.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Location:
    """Where in a document (or a config file) a problem sits; every field is optional."""

    file: str | None = None
    line: int | None = None
    segment_position: int | None = None  # 1-based position of the segment in its transaction set or file
    segment_id: str | None = None
    loop: str | None = None
    element_position: int | None = None  # 1-based element position within the segment
    component_position: int | None = None
    field: str | None = None  # a config or canonical field path, e.g. "channels.inbound.sftp.host"

    def describe(self) -> str:
        parts: list[str] = []
        if self.file:
            parts.append(self.file if self.line is None else f"{self.file}:{self.line}")
        if self.segment_id or self.segment_position is not None:
            seg = self.segment_id or "segment"
            if self.element_position is not None:
                seg += f"{self.element_position:02d}"
                if self.component_position is not None:
                    seg += f"-{self.component_position}"
            if self.segment_position is not None:
                seg += f" (segment {self.segment_position})"
            parts.append(seg)
        if self.loop:
            parts.append(f"loop {self.loop}")
        if self.field:
            parts.append(self.field)
        return ", ".join(parts)


class GatewayError(Exception):
    """Base class. ``hint`` tells a person what to do next; ``location`` says where."""

    default_hint: str | None = None

    def __init__(
        self,
        message: str,
        *,
        location: Location | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.location = location
        self.hint = hint if hint is not None else self.default_hint

    @property
    def kind(self) -> str:
        return type(self).__name__

    def describe(self) -> str:
        where = self.location.describe() if self.location else ""
        text = f"{where}: {self.message}" if where else self.message
        if self.hint:
            text += f" ({self.hint})"
        return text

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "message": self.message}
        if self.location:
            out["location"] = {k: v for k, v in asdict(self.location).items() if v is not None}
        if self.hint:
            out["hint"] = self.hint
        return out

    def __str__(self) -> str:
        return self.describe()


class ConfigError(GatewayError):
    """A settings, partner, mapping or identity file is wrong."""


class SecretError(ConfigError):
    """A secret reference does not resolve, or a literal secret sits where a reference belongs."""


class TransportError(GatewayError):
    """Bytes could not be moved. ``transient`` says whether a retry may succeed."""

    transient: bool = False


class TransientTransportError(TransportError):
    transient = True
    default_hint = "the gateway retries this automatically"


class PermanentTransportError(TransportError):
    transient = False
    default_hint = "retrying will not help: check the partner's channel settings and credentials"


class ConnectionLostError(TransientTransportError):
    """The connection dropped in the middle of a transfer; nothing was committed."""


class ItemVanishedError(TransientTransportError):
    """The remote item disappeared between listing and download (someone else took it)."""

    default_hint = "nothing was received; if it comes back, the next poll picks it up"


class RemoteFullError(TransientTransportError):
    """The remote side has no space left (or refused the write); the upload was removed."""

    default_hint = "ask the partner to free space on their server; the gateway retries the delivery"


class HostKeyError(PermanentTransportError):
    """The server presented a host key that is not pinned for the channel."""

    default_hint = (
        "verify the new key with the partner out of band, then put its known_hosts line in host_key or host_keys"
    )


class AuthenticationError(PermanentTransportError):
    """The server refused our credentials."""

    default_hint = "check the channel's username and the secret the password or private key refers to"


class UnsafePathError(PermanentTransportError):
    """A remote name that would leave the configured folder."""

    default_hint = "the item was left where it is; ask the partner to use plain file names"


class PayloadTooLargeError(PermanentTransportError):
    """A pushed body is larger than the channel accepts."""


class DocumentError(GatewayError):
    """An inbound document cannot be accepted as it is.

    ``ack_code`` is the code this error puts in the acknowledgement it causes: a TA1 note code for interchange
    errors, an AK5/IK5 or AK9 code for set or group errors, an AK3/IK3 or AK4/IK4 code for segment and element
    errors, or an MDN disposition modifier for AS2 security failures.
    """

    ack_code: str | None = None

    def __init__(
        self,
        message: str,
        *,
        location: Location | None = None,
        hint: str | None = None,
        ack_code: str | None = None,
    ) -> None:
        super().__init__(message, location=location, hint=hint)
        if ack_code is not None:
            self.ack_code = ack_code

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        if self.ack_code is not None:
            out["ack_code"] = self.ack_code
        return out


class EnvelopeError(DocumentError):
    """The ISA/IEA, GS/GE or ST/SE envelope is broken."""


class X12SyntaxError(DocumentError):
    """A segment or element breaks the X12 syntax or the transaction set's specification."""


class NotEDIError(DocumentError):
    """The bytes are not an X12 interchange at all."""

    default_hint = "check that the partner sent the right file to the right channel"


class UnknownPartnerError(DocumentError):
    """No configured partner claims the sender/receiver of the document."""

    default_hint = "add a partner file whose identity matches, or correct the existing one, then reprocess"


class MisaddressedError(DocumentError):
    """The document is addressed to an id that is not ours."""

    default_hint = "check the id this partner uses for us (our_ids in the partner file), then reprocess"


class RoutingConflictError(DocumentError):
    """The envelope names one partner but the document arrived on another partner's channel."""

    default_hint = "the sender id or the channel is misconfigured: fix the partner files, then reprocess"


class DuplicateDocumentError(DocumentError):
    """This exact item was received before."""


class SecurityError(DocumentError):
    """Signature, decryption or authentication failed."""


class MappingError(GatewayError):
    """A valid document cannot be mapped to or from canonical records."""


class PartnerRejected(GatewayError):
    """The partner answered with a negative acknowledgement (997/999 rejection, negative MDN)."""


class StoreError(GatewayError):
    """The audit store or the archive failed."""


class NotFoundError(StoreError):
    """An id that does not exist."""


class PayloadPurgedError(StoreError):
    """The message's payload was removed from the archive by the retention purge; its metadata is kept."""


class InvalidActionError(GatewayError):
    """An operator action (resend, reprocess) that does not apply to the message it names."""
