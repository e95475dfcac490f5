"""API key authentication and roles.

Every route except ``/api/health`` and ``/api/ready`` depends on :func:`require` with the least role it needs::

    viewer   < operator < admin
    reads      resend,    API keys
               reprocess

A key is sent as ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``. A missing or unknown (or revoked) key
gets 401, a key whose role is too low 403. The caller is known to the route as :class:`Caller`; its
:attr:`Caller.actor` is what timeline events record as who asked.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Depends, HTTPException, Request

from gateway.api.deps import get_gateway
from gateway.runtime import Gateway
from gateway.store.apikeys import ApiKeys
from gateway.store.models import ROLE_RANK, ApiRole

CHALLENGE = {"WWW-Authenticate": 'Bearer realm="gateway"'}


@dataclass(frozen=True, slots=True)
class Caller:
    name: str
    role: ApiRole

    @property
    def actor(self) -> str:
        return f"api-key:{self.name}"


def _token(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    key = request.headers.get("x-api-key")
    return key.strip() if key and key.strip() else None


def require(role: ApiRole) -> Callable[..., Caller]:
    """A dependency that admits keys with at least ``role``."""

    def dependency(request: Request, gw: Gateway = Depends(get_gateway)) -> Caller:
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
