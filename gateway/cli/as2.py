"""``gateway as2``: make our AS2 key pair and self-signed certificate, export our public certificate.

Exit codes: 0 success, 2 usage or I/O error (an existing key is never overwritten without ``--force``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import typer

from gateway.errors import GatewayError

app = typer.Typer(
    name="as2",
    help="AS2 identity: key pair and certificate.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"gateway as2: {message}", err=True)
    return typer.Exit(code)


@app.command("keygen", short_help="Generate an RSA key pair and a self-signed certificate.")
def keygen(
    as2_id: str = typer.Argument(..., help="our AS2 id, used as the certificate's common name"),
    out_dir: Path = typer.Option(Path("var/as2"), "--out", help="folder for as2.key and as2.crt"),
    organization: str | None = typer.Option(None, "--org", help="organization name in the certificate"),
    days: int = typer.Option(730, min=1, help="validity in days"),
    key_size: int = typer.Option(2048, "--bits", min=2048, help="RSA key size"),
    password_env: str | None = typer.Option(
        None, "--password-env", help="encrypt the key with the password in this environment variable"
    ),
    force: bool = typer.Option(False, "--force", help="overwrite an existing key"),
) -> None:
    """Generate an RSA key pair and a self-signed certificate (signing and encryption)."""
    from gateway.as2 import certs  # cryptography: loaded to run, not for --help

    key_path, cert_path = out_dir / "as2.key", out_dir / "as2.crt"
    if key_path.exists() and not force:
        raise _fail(f"{key_path} exists; use --force to replace it (partners then need the new certificate)")
    password = None
    if password_env:
        password = os.environ.get(password_env)
        if not password:
            raise _fail(f"environment variable {password_env} is empty or not set")
    pair = certs.generate(as2_id, organization=organization, days=days, key_size=key_size, password=password)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(pair.private_key)
        cert_path.write_bytes(pair.certificate)
    except OSError as exc:
        raise _fail(f"cannot write to {out_dir}: {exc.strerror}") from exc
    typer.echo(json.dumps({"key": str(key_path), "certificate": str(cert_path), **certs.describe(pair.certificate)}))


@app.command("cert")
def cert(
    path: Path = typer.Option(Path("var/as2/as2.crt"), "--cert", help="our certificate (or a PEM bundle)"),
    der: bool = typer.Option(False, "--der", help="write DER instead of PEM"),
    out: Path | None = typer.Option(None, "--out", help="write here instead of standard output"),
    info: bool = typer.Option(False, "--info", help="print subject, validity and fingerprint as JSON instead"),
) -> None:
    """Export our public certificate for partners (never the private key)."""
    from gateway.as2 import certs

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise _fail(f"cannot read {path}: {exc.strerror}") from exc
    try:
        if info:
            typer.echo(json.dumps(certs.describe(data)))
            return
        public = certs.public_certificate(data, der=der)
    except (GatewayError, ValueError) as exc:
        raise _fail(str(exc)) from exc
    if out is not None:
        out.write_bytes(public)
    elif der:
        typer.get_binary_stream("stdout").write(public)
    else:
        typer.echo(public.decode(), nl=False)
