"""API key authentication and roles.

Every route except ``/api/health`` and ``/api/ready`` depends on :func:`require` with the least role it needs::

    viewer   < operator < admin
    reads      resend,    API keys
               reprocess

A key is sent as ``Authorization: Bearer <key>`` or ``X-API-Key: <key>`` (both declared as security
schemes, so Swagger UI's Authorize button works). A missing or unknown (or revoked) key gets 401, a key whose
role is too low 403; ``Authorization: <key>`` without ``Bearer`` gets a 401 that says what is missing. The
caller is known to the route as :class:`Caller`; its :attr:`Caller.actor` is what timeline events record as
who asked.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Depends, HTTPException, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from gateway.api.deps import get_gateway
from gateway.runtime import Gateway
from gateway.store.apikeys import ApiKeys
from gateway.store.models import ROLE_RANK, ApiRole

CHALLENGE = {"WWW-Authenticate": 'Bearer realm="gateway"'}

# Declared for OpenAPI (Swagger's Authorize); the key itself is read by _token() below.
bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="BearerKey",
    bearerFormat="gw_...",
    description="An API key from `gateway apikey create`, sent as `Authorization: Bearer gw_...`.",
)
header_scheme = APIKeyHeader(
    name="X-API-Key",
    auto_error=False,
    scheme_name="ApiKeyHeader",
    description="The same API key in the `X-API-Key` header (for clients that cannot set Authorization).",
)


@dataclass(frozen=True, slots=True)
class Caller:
    name: str
    role: ApiRole

    @property
    def actor(self) -> str:
        return f"api-key:{self.name}"


def _token(request: Request) -> str | None:
    header = request.headers.get("authorization")
    key = request.headers.get("x-api-key")
    if header and header.strip():
        scheme, _, value = header.strip().partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
        if key and key.strip():
            return key.strip()
        if not value.strip():  # one word: a key pasted without "Bearer " (never echoed back)
            raise HTTPException(
                401,
                "the Authorization header holds a bare API key: send 'Authorization: Bearer <key>' "
                "(with the word Bearer and a space) or 'X-API-Key: <key>'",
                CHALLENGE,
            )
        if scheme.lower() != "bearer":
            shown = repr(scheme) if scheme.isalpha() and len(scheme) <= 16 else "given"
            raise HTTPException(
                401,
                f"the Authorization scheme {shown} is not supported: send 'Authorization: Bearer <key>' "
                "or 'X-API-Key: <key>'",
                CHALLENGE,
            )
    return key.strip() if key and key.strip() else None


def require(role: ApiRole) -> Callable[..., Caller]:
    """A dependency that admits keys with at least ``role``."""

    def dependency(
        request: Request,
        gw: Gateway = Depends(get_gateway),
        _bearer: HTTPAuthorizationCredentials | None = Security(bearer_scheme),
        _header: str | None = Security(header_scheme),
    ) -> Caller:
        token = _token(request)
        if token is None:
            raise HTTPException(
                401, "an API key is required: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'", CHALLENGE
            )
        key = ApiKeys(gw.engine).authenticate(token)
        if key is None:
            raise HTTPException(401, "unknown or revoked API key", CHALLENGE)
        caller = Caller(name=key.name, role=ApiRole(key.role))
        if ROLE_RANK[caller.role] < ROLE_RANK[role]:
            raise HTTPException(403, f"the API key {key.name!r} has role {key.role}; this needs {role.value} or above")
        request.state.caller = caller
        return caller

    dependency.__name__ = f"require_{role.value}"
    return dependency


viewer = require(ApiRole.viewer)
operator = require(ApiRole.operator)
admin = require(ApiRole.admin)
