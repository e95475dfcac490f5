"""Request dependencies: the running gateway is kept on ``app.state``."""

from __future__ import annotations

from fastapi import Request

from gateway.runtime import Gateway


def get_gateway(request: Request) -> Gateway:
    gw: Gateway = request.app.state.gateway
    return gw
