"""Secret references: partner and config files name secrets (``{secret: NAME}``), they never hold them.

A reference resolves at run time, first from the environment variable ``GATEWAY_SECRET_<NAME>`` (upper-cased,
``-`` and ``.`` become ``_``), then from the file ``<secrets_dir>/<NAME>`` (the layout of Docker and Kubernetes
secrets; one trailing newline is dropped). The value comes back as a :class:`pydantic.SecretStr`, so it prints
as ``**********`` in logs, reprs and API answers.

A literal string where a reference belongs is refused when the file is validated, so a password pasted into a
partner file never gets past ``gateway partners check``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from gateway.errors import SecretError

SECRET_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,127}$")
ENV_PREFIX = "GATEWAY_SECRET_"

LITERAL_REFUSED = (
    "a literal secret is not allowed here; write a reference such as {secret: ACME_SFTP_PASSWORD} and set "
    "GATEWAY_SECRET_ACME_SFTP_PASSWORD or put the value in the secrets directory"
)


class SecretRef(BaseModel):
    """A reference to a secret by name: ``{secret: ACME_SFTP_PASSWORD}``."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={"description": "a secret by name: {secret: NAME}; never the secret itself"},
    )

    secret: str = Field(description="GATEWAY_SECRET_<NAME> in the environment, or <secrets_dir>/<NAME>")

    @model_validator(mode="before")
    @classmethod
    def _refuse_literal(cls, data: Any) -> Any:
        if isinstance(data, str | bytes | int | float):
            raise ValueError(LITERAL_REFUSED)
        return data

    @model_validator(mode="after")
    def _name(self) -> SecretRef:
        if not SECRET_NAME.match(self.secret):
            raise ValueError(
                f"secret name {self.secret!r} is not usable: start with a letter, then letters, digits, '_', '-' "
                "or '.' (e.g. ACME_SFTP_PASSWORD)"
            )
        return self

    @property
    def env_var(self) -> str:
        return ENV_PREFIX + re.sub(r"[^A-Za-z0-9_]", "_", self.secret).upper()

    def __str__(self) -> str:
        return f"{{secret: {self.secret}}}"


def resolve_secret(
    ref: SecretRef,
    *,
    secrets_dir: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> SecretStr:
    """The value of ``ref``; :class:`SecretError` says where it was looked for when it is nowhere."""
    env = os.environ if environ is None else environ
    value = env.get(ref.env_var)
    if value is not None and value != "":
        return SecretStr(value)
    looked = [f"environment variable {ref.env_var}"]
    if secrets_dir is not None:
        path = secrets_dir / ref.secret
        looked.append(f"file {path}")
        if path.is_file():
            try:
                text = path.read_text(encoding="utf-8")
            except OSError as exc:
                raise SecretError(f"secret {ref.secret!r}: cannot read {path}: {exc.strerror}") from exc
            text = text[:-1] if text.endswith("\n") else text
            if text:
                return SecretStr(text)
    raise SecretError(
        f"secret {ref.secret!r} is not set (looked for {' and '.join(looked)})",
        hint=f"export {ref.env_var}=... before starting the gateway, or add the file to the secrets directory",
    )


def secret_refs(obj: Any, path: tuple[str | int, ...] = ()) -> Iterator[tuple[tuple[str | int, ...], SecretRef]]:
    """Every secret reference inside a model (with its field path), for checks and masking."""
    if isinstance(obj, SecretRef):
        yield path, obj
    elif isinstance(obj, BaseModel):
        for name in type(obj).model_fields:
            yield from secret_refs(getattr(obj, name), (*path, name))
    elif isinstance(obj, list | tuple):
        for i, item in enumerate(obj):
            yield from secret_refs(item, (*path, i))
    elif isinstance(obj, dict):
        for k, item in obj.items():
            yield from secret_refs(item, (*path, str(k)))
