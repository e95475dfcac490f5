"""Named Python hooks: the escape hatch for what a mapping file cannot say (e.g. rebuilding an 856 HL tree).

A mapping names a hook in a field (``{hook: NAME}``) or in its ``hooks`` list (run on the finished record).
Register with :func:`register`; the registry is a plain dict, so nothing outside it can be called from data.

Field hook, inbound: ``fn(ctx, scope, node, field) -> value``; outbound: ``fn(ctx, builder, node, value, field)``.
Record hook, inbound: ``fn(ctx, header_scope, record_dict) -> None`` (mutates); outbound:
``fn(ctx, builder, record_dict) -> None``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Hook:
    name: str
    inbound: Callable[..., Any] | None = None
    outbound: Callable[..., Any] | None = None


HOOKS: dict[str, Hook] = {}


def register(name: str, *, inbound: Callable[..., Any] | None = None,
             outbound: Callable[..., Any] | None = None) -> Hook:
    hook = Hook(name, inbound, outbound)
    HOOKS[name] = hook
    return hook


def get(name: str) -> Hook | None:
    if not HOOKS:
        from gateway.mapping import hl  # noqa: F401 - registers the built-in hooks
    return HOOKS.get(name)
