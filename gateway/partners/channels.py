"""Channels in a partner file: how bytes move between us and the partner, one entry per channel.

``type`` selects the kind (a discriminated union: ``folder``, ``sftp``, ``webhook``, ``as2``); every channel has
a ``name`` (unique within the partner, part of the channel id ``partner/name``) and a ``direction``
(``inbound``, ``outbound`` or ``both``). Secrets are :class:`~gateway.partners.secrets.SecretRef` references,
never values. This module only declares and validates; transports (``gateway/transports/``) use the models.

::

    channels:
      - {name: inbox, type: folder, direction: inbound, path: channels/acme/inbound}
      - name: sftp
        type: sftp
        direction: both
        host: sftp.acme.example
        username: hub
        private_key: {secret: ACME_SFTP_KEY}
        host_key: ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA...
        inbound_dir: /outbox
        outbound_dir: /inbox
        poll: 5m
      - name: as2
        type: as2
        direction: both
        as2_id: ACMEAS2
        url: https://as2.acme.example/as2
        signing_certificates: acme-retail/as2.pem
        encryption_certificate: acme-retail/as2.pem
      - name: hook
        type: webhook
        direction: outbound
        url: https://api.acme.example/edi
        secret: {secret: ACME_WEBHOOK_SECRET}
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path, PurePosixPath
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from gateway.partners.secrets import SecretRef
from gateway.partners.types import CertPaths, Duration, HostKey, HttpUrlStr, Schedule

Direction = Literal["inbound", "outbound", "both"]
CHANNEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class _ChannelBase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="unique within the partner; the channel id is '<partner id>/<name>'")
    direction: Direction = Field(description="inbound (they send us), outbound (we send them) or both")

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not CHANNEL_NAME.match(v):
            raise ValueError("use letters, digits, '.', '_' or '-' (at most 64), e.g. inbox or sftp-out")
        return v

    @property
    def inbound(self) -> bool:
        return self.direction in ("inbound", "both")

    @property
    def outbound(self) -> bool:
        return self.direction in ("outbound", "both")


class FolderChannel(_ChannelBase):
    """A local folder: inbound files are picked from ``path``; outbound files are written into it."""

    type: Literal["folder"]
    path: Path = Field(description="relative paths are under the gateway's data_dir (var/ by default)")

    @model_validator(mode="after")
    def _one_way(self) -> FolderChannel:
        if self.direction == "both":
            raise ValueError(
                "a folder channel goes one way (files we write would be picked up again): "
                "declare one inbound and one outbound folder channel"
            )
        return self


def _remote_dir(v: str | None) -> str | None:
    if v is None:
        return v
    v = v.strip()
    if not v:
        raise ValueError("a remote folder cannot be empty: use '.' for the login folder")
    if ".." in PurePosixPath(v).parts:
        raise ValueError("'..' is not allowed in a remote folder: give the folder itself")
    return v


class SftpChannel(_ChannelBase):
    """An SFTP server (theirs): we poll ``inbound_dir`` and upload into ``outbound_dir``.

    The server's host key is pinned (``host_key``, plus ``host_keys`` during a key rollover): an unknown key is
    a refused connection, never a prompt or an automatic acceptance.
    """

    type: Literal["sftp"]
    host: str = Field(min_length=1, description="host name or address")
    port: int = Field(22, ge=1, le=65535)
    username: str = Field(min_length=1)
    password: SecretRef | None = Field(None, description="{secret: NAME}")
    private_key: SecretRef | None = Field(None, description="{secret: NAME} holding the OpenSSH/PEM private key")
    private_key_passphrase: SecretRef | None = Field(None, description="{secret: NAME}, if the key is encrypted")
    host_key: HostKey = Field(description="the server's public host key, 'ssh-ed25519 AAAA...' (pinned)")
    host_keys: list[HostKey] = Field(default_factory=list, description="further accepted keys, for a rollover")
    inbound_dir: str | None = Field(None, description="remote folder we pick files up from")
    outbound_dir: str | None = Field(None, description="remote folder we upload to")
    pattern: str = Field("*", min_length=1, description="glob of the files to pick up, e.g. *.edi")
    min_age_seconds: float = Field(0, ge=0, description="pick up only files whose mtime is at least this old")
    stable_size: bool = Field(True, description="pick up only files whose size did not change since the last poll")
    done_suffix: str | None = Field(None, description="pick up X only once X<done_suffix> exists, e.g. .done")
    after_pickup: Literal["move", "delete"] = Field("move", description="move to processed_dir (default) or delete")
    processed_dir: str | None = Field(None, description="default: <inbound_dir>/processed")
    poll: Schedule = Field(300.0, description="seconds between polls, a duration (5m) or a cron string")
    timeout_seconds: float = Field(30, gt=0, le=3600, description="for connecting and for every operation")
    legacy_algorithms: bool = Field(False, description="also allow ssh-rsa (SHA-1) for old servers")

    _dirs = field_validator("inbound_dir", "outbound_dir", "processed_dir")(_remote_dir)

    @field_validator("host")
    @classmethod
    def _host(cls, v: str) -> str:
        v = v.strip()
        if "://" in v or "/" in v or " " in v:
            raise ValueError(f"{v!r} is not a host name: give only the host, e.g. sftp.partner.example")
        return v

    @model_validator(mode="after")
    def _complete(self) -> SftpChannel:
        if self.password is None and self.private_key is None:
            raise ValueError("give a password or a private_key (as {secret: NAME}), or both")
        if self.private_key_passphrase is not None and self.private_key is None:
            raise ValueError("private_key_passphrase is set but there is no private_key")
        if self.inbound and not self.inbound_dir:
            raise ValueError("an inbound SFTP channel needs inbound_dir (the remote folder to pick files up from)")
        if self.outbound and not self.outbound_dir:
            raise ValueError("an outbound SFTP channel needs outbound_dir (the remote folder to upload to)")
        if self.done_suffix is not None and not self.done_suffix.strip():
            raise ValueError("done_suffix cannot be empty: leave it out, or give e.g. .done")
        return self

    @property
    def accepted_host_keys(self) -> list[str]:
        return [self.host_key, *[k for k in self.host_keys if k != self.host_key]]

    @property
    def processed_folder(self) -> str | None:
        if self.processed_dir:
            return self.processed_dir
        return str(PurePosixPath(self.inbound_dir) / "processed") if self.inbound_dir else None


class WebhookChannel(_ChannelBase):
    """HTTPS with an HMAC-SHA256 signature: we POST to ``url``; inbound, they POST to our webhook endpoint."""

    type: Literal["webhook"]
    url: HttpUrlStr | None = Field(None, description="where we POST outbound documents")
    secret: SecretRef = Field(description="{secret: NAME}: the shared HMAC-SHA256 signing key")
    format: Literal["x12", "csv", "canonical"] = Field("x12", description="what the body carries")
    timeout_seconds: float = Field(30, gt=0, le=600)
    tolerance_seconds: float = Field(300, gt=0, le=86400, description="inbound: oldest accepted signature time")
    max_bytes: int = Field(10_000_000, gt=0, description="inbound: larger bodies are refused")

    @model_validator(mode="after")
    def _url(self) -> WebhookChannel:
        if self.outbound and not self.url:
            raise ValueError("an outbound webhook channel needs url (where we POST documents)")
        return self


class As2Channel(_ChannelBase):
    """AS2 (RFC 4130): the partner's AS2 id and URL, their certificates, and what we sign, encrypt and expect."""

    type: Literal["as2"]
    as2_id: str = Field(min_length=1, max_length=128, description="the partner's AS2 id (their AS2-From)")
    url: HttpUrlStr | None = Field(None, description="the partner's AS2 endpoint (for outbound)")
    signing_certificates: CertPaths | None = Field(
        None, description="their certificate(s) verifying what they sign; two overlap a rollover"
    )
    encryption_certificate: CertPaths | None = Field(
        None, description="their certificate we encrypt to; a second one overlaps a rollover"
    )
    sign: bool = True
    signature_algorithm: Literal["sha1", "sha224", "sha256", "sha384", "sha512"] = "sha256"
    encrypt: bool = True
    encryption_algorithm: Literal["tripledes_192_cbc", "rc2_128_cbc", "aes_128_cbc", "aes_192_cbc", "aes_256_cbc"] = (
        "aes_256_cbc"
    )
    compress: Literal["none", "before_signing", "after_signing"] = "none"
    mdn: Literal["sync", "async", "none"] = Field("sync", description="the receipt we ask for")
    mdn_signed: bool = Field(True, description="ask for a signed MDN")
    mdn_timeout: Duration = Field(timedelta(seconds=60), description="sync: HTTP wait; async: when it is overdue")
    require_signed: bool = Field(True, description="inbound: refuse unsigned messages")
    require_encrypted: bool = Field(True, description="inbound: refuse unencrypted messages")
    content_type: Literal["application/edi-x12", "application/octet-stream"] = "application/edi-x12"
    binary_canonicalization: bool = Field(False, description="sign the payload as binary (no CRLF conversion)")
    fold_headers: bool = Field(
        False, description="outbound: fold long MIME headers under encryption/compression at 76 columns (RFC 5322)"
    )
    basic_auth_user: str | None = Field(None, description="HTTP basic auth user at the partner's URL")
    basic_auth_password: SecretRef | None = Field(None, description="{secret: NAME}")
    verify_tls: bool = Field(True, description="check the partner's HTTPS certificate")
    async_mdn_urls: list[HttpUrlStr] = Field(
        default_factory=list,
        max_length=20,
        description="inbound: URLs the partner may name for asynchronous MDNs (exact, or a prefix ending in *); "
        "empty: the scheme, host and port of url",
    )

    @field_validator("as2_id")
    @classmethod
    def _as2_id(cls, v: str) -> str:
        if not all(32 < ord(c) < 127 or c == " " for c in v) or v != v.strip():
            raise ValueError("an AS2 id is 1-128 printable ASCII characters without leading/trailing spaces")
        return v

    @model_validator(mode="after")
    def _complete(self) -> As2Channel:
        if self.outbound and not self.url:
            raise ValueError("an outbound AS2 channel needs url (the partner's AS2 endpoint)")
        if self.outbound and self.encrypt and not self.encryption_certificate:
            raise ValueError("encrypt is on but encryption_certificate is missing (their public certificate)")
        needs_verify = (self.inbound and self.require_signed) or (
            self.outbound and self.mdn_signed and self.mdn != "none"
        )
        if needs_verify and not self.signing_certificates:
            raise ValueError(
                "signing_certificates is missing: their certificate is needed to verify signed messages/MDNs "
                "(or set require_signed: false / mdn_signed: false)"
            )
        if (self.basic_auth_user is None) != (self.basic_auth_password is None):
            raise ValueError("basic_auth_user and basic_auth_password go together")
        return self


Channel = Annotated[FolderChannel | SftpChannel | WebhookChannel | As2Channel, Field(discriminator="type")]
CHANNEL_TYPES = {"folder": FolderChannel, "sftp": SftpChannel, "webhook": WebhookChannel, "as2": As2Channel}
