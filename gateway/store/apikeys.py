"""API keys: created with a role, stored only as the SHA-256 of a random token, revocable.

The token (``gw_`` + 43 URL-safe characters, 256 random bits) is returned once by :func:`create_api_key` and never
stored; a request presents it as ``Authorization: Bearer <token>`` or ``X-API-Key: <token>`` and is matched by
hash. ``last_used_at`` is refreshed at most once a minute per key so that reads do not turn into writes.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import timedelta

from sqlalchemy import Engine, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from gateway.errors import ConfigError, NotFoundError
from gateway.store.db import reader
from gateway.store.models import ApiKey, ApiRole
from gateway.store.types import utcnow

TOKEN_PREFIX = "gw_"  # noqa: S105 - a public prefix, not a secret
PREFIX_LENGTH = 10  # "gw_" and 7 random characters (42 bits) are kept to tell keys apart; the rest is secret
KEY_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
TOUCH_EVERY = timedelta(minutes=1)
KEY_COLUMNS = [col(c) for c in (ApiKey.id, ApiKey.name, ApiKey.role, ApiKey.key_hash, ApiKey.prefix,
                                ApiKey.created_at, ApiKey.last_used_at, ApiKey.revoked_at)]


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


class ApiKeys:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def _session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    def create(self, name: str, role: ApiRole | str, *, rotate: bool = False) -> tuple[ApiKey, str]:
        """Create a key; returns the row and the token (shown once, never stored).

        A name already taken is refused, unless ``rotate``: then that key gets a new token (the old one stops
        working at once), the role given, and is active again if it was revoked.
        """
        if not KEY_NAME.match(name or ""):
            raise ConfigError(
                f"invalid API key name {name!r}",
                hint="use 1-64 letters, digits, '.', '_', '-' or '@', starting with a letter or digit",
            )
        try:
            role = ApiRole(role)
        except ValueError as exc:
            raise ConfigError(f"unknown role {role!r}", hint="use viewer, operator or admin") from exc
        token = new_token()
        with self._session() as s:
            key = s.exec(select(ApiKey).where(ApiKey.name == name)).first() if rotate else None
            if key is None:
                key = ApiKey(name=name, role=role.value, key_hash=hash_token(token), prefix=token[:PREFIX_LENGTH])
            else:
                key.role, key.key_hash, key.prefix = role.value, hash_token(token), token[:PREFIX_LENGTH]
                key.created_at, key.last_used_at, key.revoked_at = utcnow(), None, None
            s.add(key)
            try:
                s.commit()
            except IntegrityError as exc:
                raise ConfigError(
                    f"an API key named {name!r} already exists and its key cannot be shown again",
                    hint="--rotate gives it a new key (the old one stops working), or pick another name",
                ) from exc
        return key, token

    def authenticate(self, token: str) -> ApiKey | None:
        """The active key for ``token``, or None (unknown or revoked).

        Asked on every API request, so it is one indexed SELECT on a read connection (SQLAlchemy Core, no ORM
        session, no transaction on PostgreSQL) and never cached: a key revoked from another process (``gateway
        apikey revoke``) is refused on its next request. The token is matched by its SHA-256 (a random 256-bit
        token needs no slow key derivation)."""
        if not token:
            return None
        with reader(self.engine) as conn:
            row = conn.execute(select(*KEY_COLUMNS).where(col(ApiKey.key_hash) == hash_token(token))).first()
        if row is None or row.revoked_at is not None:
            return None
        key = ApiKey(**row._mapping)
        now = utcnow()
        if key.last_used_at is None or now - key.last_used_at > TOUCH_EVERY:
            with self.engine.begin() as conn:
                conn.execute(update(ApiKey).where(col(ApiKey.id) == key.id).values(last_used_at=now))
            key.last_used_at = now
        return key

    def list(self) -> list[ApiKey]:
        with self._session() as s:
            return list(s.exec(select(ApiKey).order_by(col(ApiKey.id))).all())

    def revoke(self, name: str) -> ApiKey:
        with self._session() as s:
            key = s.exec(select(ApiKey).where(ApiKey.name == name)).first()
            if key is None:
                raise NotFoundError(f"no API key named {name!r}")
            if key.revoked_at is None:
                key.revoked_at = utcnow()
                s.add(key)
                s.commit()
            return key
