"""Partner SFTP and webhook channels, wired to their transports: the partner file's channel models (with secret
references) become the transports' own frozen settings (with resolved secrets), polling jobs and webhook receivers.

:class:`RemoteChannels` is applied at start and again after every partner reload: SFTP polling jobs are added,
replaced or removed through :class:`~gateway.flows.channel_jobs.ChannelJobs` (one process per channel on a shared
PostgreSQL store), and the inbound webhook receivers are rebuilt. A channel whose secret cannot be resolved is
skipped with an error in the log (``channels.unusable``); the other channels keep running.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from gateway.errors import GatewayError
from gateway.flows.channel_jobs import ChannelJob, ChannelJobs
from gateway.logging import get_logger
from gateway.partners.channels import SftpChannel, WebhookChannel
from gateway.partners.schema import Partner
from gateway.partners.secrets import SecretRef, resolve_secret
from gateway.transports.base import Outbound
from gateway.transports.channels import channel_id
from gateway.transports.webhook import WebhookReceiver, WebhookSender, WebhookSettings

if TYPE_CHECKING:  # paramiko (about 9 MB resident) is imported when a partner has an SFTP channel, not before
    from gateway.transports.sftp import SftpSettings

log = get_logger(__name__)


def _secret(ref: SecretRef | None, secrets_dir: Path | None, environ: Mapping[str, str] | None) -> str | None:
    if ref is None:
        return None
    return resolve_secret(ref, secrets_dir=secrets_dir, environ=environ).get_secret_value()


def sftp_settings(
    ch: SftpChannel, *, secrets_dir: Path | None = None, environ: Mapping[str, str] | None = None
) -> SftpSettings:
    """The transport settings of a partner's SFTP channel (secrets resolved; raises SecretError when missing)."""
    from gateway.transports.sftp import SftpSettings

    return SftpSettings(
        host=ch.host,
        username=ch.username,
        port=ch.port,
        password=_secret(ch.password, secrets_dir, environ),
        private_key=_secret(ch.private_key, secrets_dir, environ),
        passphrase=_secret(ch.private_key_passphrase, secrets_dir, environ),
        host_key=str(ch.host_key),
        host_keys=tuple(str(k) for k in ch.host_keys),
        inbound_dir=ch.inbound_dir or ".",
        outbound_dir=ch.outbound_dir or ".",
        pattern=ch.pattern,
        min_age_seconds=ch.min_age_seconds,
        stable_size=ch.stable_size,
        done_suffix=ch.done_suffix,
        after_pickup=ch.after_pickup,
        processed_dir=ch.processed_dir,
        poll=ch.poll if isinstance(ch.poll, float | int) else 300.0,
        timeout_seconds=ch.timeout_seconds,
        legacy_algorithms=ch.legacy_algorithms,
    )


def webhook_settings(
    ch: WebhookChannel, *, secrets_dir: Path | None = None, environ: Mapping[str, str] | None = None
) -> WebhookSettings:
    secret = _secret(ch.secret, secrets_dir, environ)
    assert secret is not None
    return WebhookSettings(
        secret=secret,
        url=ch.url,
        format="json" if ch.format == "canonical" else ch.format,
        timeout_seconds=ch.timeout_seconds,
        tolerance_seconds=ch.tolerance_seconds,
        max_bytes=ch.max_bytes,
        attempts=1,  # retries are scheduled work (flows/retry.py), never sleeps in the caller's thread
    )


def _unusable(partner: Partner, name: str, exc: GatewayError) -> None:
    log.error(
        "channels.unusable",
        extra={"fields": {"partner_id": partner.id, "channel": name, "reason": str(exc)}},
    )


def outbound_remote(
    partner: Partner, *, secrets_dir: Path | None = None, environ: Mapping[str, str] | None = None
) -> list[Outbound]:
    """The partner's outbound SFTP and webhook channels as transports (folders are handled elsewhere)."""
    out: list[Outbound] = []
    for ch in partner.channels_for("outbound"):
        try:
            if isinstance(ch, SftpChannel) and ch.outbound_dir:
                from gateway.transports.sftp import SftpOutbound

                out.append(SftpOutbound(sftp_settings(ch, secrets_dir=secrets_dir, environ=environ),
                                        channel=channel_id(partner, ch.name)))
            elif isinstance(ch, WebhookChannel) and ch.url:
                out.append(WebhookSender(webhook_settings(ch, secrets_dir=secrets_dir, environ=environ),
                                         channel=channel_id(partner, ch.name)))
        except GatewayError as exc:
            _unusable(partner, ch.name, exc)
    return out


class RemoteChannels:
    """Inbound SFTP polling jobs and inbound webhook receivers for the partners of the current registry."""

    def __init__(self, jobs: ChannelJobs, *, secrets_dir: Path | None = None,
                 environ: Mapping[str, str] | None = None) -> None:
        self.jobs = jobs
        self.secrets_dir = secrets_dir
        self.environ = environ
        self.webhooks: dict[str, WebhookReceiver] = {}
        self._mine: set[str] = set()  # receivers added here (others may be registered directly, e.g. in tests)

    def apply(self, partners: Iterable[Partner]) -> dict[str, list[str]]:
        """Make jobs and receivers match ``partners``; returns what changed in the polling jobs."""
        wanted: dict[str, ChannelJob] = {}
        webhooks: dict[str, WebhookReceiver] = {}
        for partner in partners:
            for ch in partner.channels_for("inbound"):
                cid = channel_id(partner, ch.name)
                try:
                    if isinstance(ch, SftpChannel) and ch.inbound_dir:
                        from gateway.transports.sftp import SftpInbound

                        settings = sftp_settings(ch, secrets_dir=self.secrets_dir, environ=self.environ)
                        inbound = SftpInbound(settings, channel=cid, partner_id=partner.id)
                        cron = ch.poll if isinstance(ch.poll, str) else None
                        wanted[cid] = ChannelJob(inbound, settings.poll, signature=settings, crontab=cron)
                    elif isinstance(ch, WebhookChannel) and partner.id not in webhooks:
                        settings_w = webhook_settings(ch, secrets_dir=self.secrets_dir, environ=self.environ)
                        webhooks[partner.id] = WebhookReceiver(settings_w, channel=cid, partner_id=partner.id)
                except GatewayError as exc:
                    _unusable(partner, ch.name, exc)
        for pid in self._mine - set(webhooks):
            self.webhooks.pop(pid, None)
        self.webhooks.update(webhooks)  # the same dict object: the API route reads it
        self._mine = set(webhooks)
        return self.jobs.sync(wanted)
