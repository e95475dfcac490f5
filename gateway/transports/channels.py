"""Build transport objects from the channels declared in partner files."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gateway.failpoints import FailPoints
from gateway.node import node_id, process_slot
from gateway.partners.schema import FolderChannel, Partner
from gateway.settings import Settings
from gateway.transports.claims import Share
from gateway.transports.folder import FolderInbound, FolderOutbound


def channel_id(partner: Partner, name: str) -> str:
    return f"{partner.id}/{name}"


def folder_path(settings: Settings, channel: FolderChannel):  # type: ignore[no-untyped-def]
    """Relative folder paths live under data_dir, so the embedded default keeps everything in var/."""
    p = channel.path.expanduser()
    return p if p.is_absolute() else settings.data_path / p


Gone = Callable[[], set[str]]  # ids of the nodes the node registry knows dead (NodeRegistry.gone_ids)


def claim_options(settings: Settings, gone: Gone | None = None) -> dict[str, Any]:
    """FolderInbound's claim arguments: this node's id when folders are shared between nodes, else none."""
    if not settings.folders_shared:
        return {}
    return {"claim_node": node_id(), "claim_stale_seconds": settings.folder.claim_stale_seconds,
            "claim_gone": gone, "failpoints": FailPoints(settings.failpoints)}


def share_options(settings: Settings) -> dict[str, Any]:
    """A partner inbox polled by every process of one ``gateway serve`` (``inbound_processes`` > 1): this
    process's share of it (:class:`gateway.transports.claims.Share`). Only the partners' inboxes: the parent
    alone polls the outboxes."""
    if settings.processes <= 1:
        return {}
    return {"claim_share": Share(process_slot() % settings.processes, settings.processes)}


def inbound_folders(settings: Settings, partner: Partner, *, gone: Gone | None = None) -> list[FolderInbound]:
    return [
        FolderInbound(
            channel=channel_id(partner, ch.name),
            path=folder_path(settings, ch),
            partner_id=partner.id,
            min_age_seconds=settings.folder.min_age_seconds,
            ignore_suffixes=tuple(settings.folder.ignore_suffixes),
            **claim_options(settings, gone),
            **share_options(settings),
        )
        for ch in partner.channels_for("inbound", "folder")
        if isinstance(ch, FolderChannel)
    ]


def outbound_folders(settings: Settings, partner: Partner) -> list[FolderOutbound]:
    return [
        FolderOutbound(channel=channel_id(partner, ch.name), path=folder_path(settings, ch))
        for ch in partner.channels_for("outbound", "folder")
        if isinstance(ch, FolderChannel)
    ]
