"""``gateway partners test``: can we reach each of a partner's channels? One :class:`ProbeResult` per check.

SFTP: connect with the pinned host key only (an unknown key is refused, never added), log in, list the inbound
and outbound folders. AS2 and webhooks: the URL answers over HTTP(S) (any HTTP status counts as answering; AS2
endpoints commonly answer GET with 405). Certificates: readable and within their dates. Folders: exist and are
writable. Secrets are resolved but never printed. Every network call has a timeout.
"""

from __future__ import annotations

import base64
import io
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import httpx
import paramiko

from gateway.errors import SecretError
from gateway.partners.certificates import assess
from gateway.partners.channels import As2Channel, FolderChannel, SftpChannel, WebhookChannel
from gateway.partners.schema import Partner
from gateway.partners.secrets import resolve_secret
from gateway.partners.types import host_key_fingerprint
from gateway.settings import Settings


@dataclass(frozen=True, slots=True)
class ProbeResult:
    channel: str
    check: str
    ok: bool
    detail: str
    severity: str = "error"  # for a failed check: error or warning

    def render(self) -> str:
        mark = "ok  " if self.ok else ("WARN" if self.severity == "warning" else "FAIL")
        return f"{mark} {self.channel}: {self.check}: {self.detail}"


class _PinnedKeys(paramiko.MissingHostKeyPolicy):
    """Refuse every key not pinned in the partner file (the pinned ones are loaded as known hosts)."""

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        fp = host_key_fingerprint(f"{key.get_name()} {key.get_base64()}")
        raise paramiko.SSHException(
            f"the server's host key {key.get_name()} {fp} is not the pinned host_key of this channel"
        )


def _load_pkey(text: str, passphrase: str | None) -> paramiko.PKey:
    for cls in (paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey):
        try:
            return cls.from_private_key(io.StringIO(text), password=passphrase)
        except (paramiko.SSHException, ValueError):
            continue
    raise paramiko.SSHException("the private key is not an OpenSSH/PEM ed25519, ECDSA or RSA key")


def _host_entry(host: str, port: int) -> str:
    return host if port == 22 else f"[{host}]:{port}"


def probe_sftp(
    ch: SftpChannel, name: str, *, secrets_dir: Path | None, environ: Mapping[str, str] | None
) -> list[ProbeResult]:
    out: list[ProbeResult] = []
    try:
        password = resolve_secret(ch.password, secrets_dir=secrets_dir, environ=environ) if ch.password else None
        key_text = resolve_secret(ch.private_key, secrets_dir=secrets_dir, environ=environ) if ch.private_key else None
        phrase = (
            resolve_secret(ch.private_key_passphrase, secrets_dir=secrets_dir, environ=environ)
            if ch.private_key_passphrase
            else None
        )
    except SecretError as exc:
        return [ProbeResult(name, "credentials", False, exc.message)]
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(_PinnedKeys())
    entry = _host_entry(ch.host, ch.port)
    for key in ch.accepted_host_keys:
        kind, data = key.split()[:2]
        client.get_host_keys().add(entry, kind, paramiko.PKey.from_type_string(kind, base64.b64decode(data)))
    disabled = {} if ch.legacy_algorithms else {"pubkeys": ["ssh-rsa"], "keys": ["ssh-rsa"]}
    try:
        pkey = (
            _load_pkey(key_text.get_secret_value(), phrase.get_secret_value() if phrase else None) if key_text else None
        )
        client.connect(
            ch.host,
            port=ch.port,
            username=ch.username,
            password=password.get_secret_value() if password else None,
            pkey=pkey,
            timeout=ch.timeout_seconds,
            banner_timeout=ch.timeout_seconds,
            auth_timeout=ch.timeout_seconds,
            allow_agent=False,
            look_for_keys=False,
            disabled_algorithms=disabled,
        )
    except (TimeoutError, paramiko.SSHException, OSError) as exc:
        reason = str(exc) or type(exc).__name__
        if "No existing session" in reason or "Incompatible" in reason:
            reason += " (an old server may need legacy_algorithms: true)"
        pinned = ", ".join(host_key_fingerprint(k) for k in ch.accepted_host_keys)
        return [ProbeResult(name, "login", False, f"{ch.username}@{entry}: {reason} (pinned: {pinned})")]
    try:
        transport = client.get_transport()
        assert transport is not None
        out.append(
            ProbeResult(
                name, "login", True, f"{ch.username}@{entry}, host key {transport.get_remote_server_key().get_name()}"
            )
        )
        sftp = client.open_sftp()
        sftp.get_channel().settimeout(ch.timeout_seconds)  # type: ignore[union-attr]
        for label, folder in (
            ("inbound_dir", ch.inbound_dir if ch.inbound else None),
            ("outbound_dir", ch.outbound_dir if ch.outbound else None),
        ):
            if folder is None:
                continue
            try:
                names = sftp.listdir(folder)
                out.append(ProbeResult(name, f"list {label}", True, f"{folder}: {len(names)} entries"))
            except OSError as exc:
                out.append(ProbeResult(name, f"list {label}", False, f"{folder}: {exc.strerror or exc}"))
        sftp.close()
    finally:
        client.close()
    return out


def probe_url(url: str, name: str, *, verify: bool, timeout: float, label: str) -> ProbeResult:
    try:
        r = httpx.get(url, timeout=timeout, verify=verify, follow_redirects=False)
    except httpx.HTTPError as exc:
        return ProbeResult(name, label, False, f"{url}: {type(exc).__name__}: {exc}")
    return ProbeResult(name, label, True, f"{url} answers (HTTP {r.status_code})")


def probe_certificates(paths, name: str, field: str, *, now: datetime, warn_days: float) -> list[ProbeResult]:  # type: ignore[no-untyped-def]
    findings = assess(paths, now=now, warn_days=warn_days)
    bad = {f.path for f in findings if f.severity == "error"}
    out = [ProbeResult(name, field, False, f.message, f.severity) for f in findings]
    out += [
        ProbeResult(name, field, True, f"{p.name} readable and valid now")
        for p in paths
        if p not in bad and not any(f.path == p for f in findings)
    ]
    return out


def probe_folder(path: Path, name: str) -> ProbeResult:
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".probe-", delete=True):
            pass
    except OSError as exc:
        return ProbeResult(name, "folder", False, f"{path}: {exc.strerror or exc}")
    return ProbeResult(name, "folder", True, f"{path} exists and is writable")


def probe_partner(
    partner: Partner, settings: Settings, *, now: datetime, environ: Mapping[str, str] | None = None
) -> list[ProbeResult]:
    env = os.environ if environ is None else environ
    results: list[ProbeResult] = []
    for ch in partner.channels:
        if isinstance(ch, FolderChannel):
            p = ch.path.expanduser()
            results.append(probe_folder(p if p.is_absolute() else settings.data_path / p, ch.name))
        elif isinstance(ch, SftpChannel):
            results += probe_sftp(ch, ch.name, secrets_dir=settings.secrets_path, environ=env)
        elif isinstance(ch, As2Channel):
            if ch.url:
                results.append(
                    probe_url(
                        ch.url, ch.name, verify=ch.verify_tls, timeout=ch.mdn_timeout.total_seconds() or 30, label="url"
                    )
                )
            for field in ("signing_certificates", "encryption_certificate"):
                paths = getattr(ch, field)
                if paths:
                    results += probe_certificates(
                        paths, ch.name, field, now=now, warn_days=settings.certificate_warning_days
                    )
        elif isinstance(ch, WebhookChannel):
            try:
                resolve_secret(ch.secret, secrets_dir=settings.secrets_path, environ=env)
                results.append(ProbeResult(ch.name, "secret", True, f"{ch.secret} is set"))
            except SecretError as exc:
                results.append(ProbeResult(ch.name, "secret", False, exc.message))
            if ch.url:
                results.append(probe_url(ch.url, ch.name, verify=True, timeout=ch.timeout_seconds, label="url"))
    return results
