"""The internal outbox: a folder per partner (``var/outbox/<partner>/``) where internal systems drop canonical
JSON, CSV or XML files to send. One more intake of :class:`~gateway.flows.documents.DocumentFlow`.

Created like the partner inboxes (with ``processed/`` and ``failed/``) for every partner that declares an outbound
document; complete files only (the folder transport's minimum age and ignored suffixes apply). A file whose
document was built (valid) moves to ``processed/``; a set in the name picks the set when the partner takes
several for the record type (``ship-0042.945.json`` is sent as a 945); one that could not become a valid
document moves to ``failed/`` and its message says why. A file is submitted once: its idempotency key is the
folder item's (path, size, modification time), so a crash before the move resumes the same message.
"""

from __future__ import annotations

from pathlib import Path

from gateway.errors import GatewayError, StoreError
from gateway.flows.documents import DocumentFlow
from gateway.logging import get_logger
from gateway.partners.schema import Partner
from gateway.settings import Settings
from gateway.transports.base import InboundItem
from gateway.transports.channels import Gone, claim_options
from gateway.transports.folder import FolderInbound

log = get_logger(__name__)
OUTBOX = "outbox"
CONTENT_TYPES = {".json": "application/json", ".csv": "text/csv", ".xml": "application/xml"}


class DocumentRejected(GatewayError):
    """A permanent outcome for the folder: the file goes to failed/."""


def outbox_path(settings: Settings, partner_id: str) -> Path:
    return settings.data_path / OUTBOX / partner_id


def outbox_folder(settings: Settings, partner: Partner, *, gone: Gone | None = None) -> FolderInbound | None:
    """The partner's outbox as a polling channel, when it declares an outbound document."""
    if not any(d.direction == "outbound" for d in partner.documents):
        return None
    return FolderInbound(
        channel=f"{partner.id}/({OUTBOX})",  # parentheses: never a partner channel's name, so no job id clash
        path=outbox_path(settings, partner.id),
        partner_id=partner.id,
        min_age_seconds=settings.folder.min_age_seconds,
        ignore_suffixes=tuple(settings.folder.ignore_suffixes),
        **claim_options(settings, gone),
    )


class OutboxIntake:
    """What a ChannelPoller calls for each complete outbox file (the same ``receive`` as the inbound flow)."""

    def __init__(self, documents: DocumentFlow) -> None:
        self.documents = documents

    def receive(self, item: InboundItem) -> None:
        suffix = Path(item.name).suffix.lower()
        named = [s.strip(".") for s in Path(item.name).suffixes[:-1]]
        set_id = next((s for s in reversed(named) if len(s) == 3 and s.isdigit()), None)
        try:
            with item.open() as fp:
                result = self.documents.submit(
                    fp,
                    partner_id=item.partner_id or "",
                    content_type=CONTENT_TYPES.get(suffix),
                    set_id=set_id,
                    idempotency_key=f"outbox:{item.idempotency_key}",
                    source=OUTBOX,
                    file_name=item.name,
                    actor="outbox",
                )
        except StoreError:
            raise  # the poller leaves the file for the next run
        except GatewayError as exc:
            log.error("outbox.refused", extra={"fields": {"file": item.name, "error": exc.describe()}})
            item.ack(DocumentRejected(exc.describe()))
            return
        if result.valid:
            item.ack(None)
        else:
            item.ack(DocumentRejected(result.message.reason or "invalid"))
