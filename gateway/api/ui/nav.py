"""The support page's navigation: one list, so pages built later slot in without touching the layout.

A page is a router (mounted by :func:`gateway.api.ui.routes.build_router` or by the app factory) plus a
:class:`NavItem` here. Pages that other work adds (the worklist over ``GET /api/attention``, the order and
shipment timelines) register themselves with :func:`add_page`; until then they are simply absent from the menu::

    from gateway.api.ui.nav import NavItem, add_page
    add_page(NavItem(key="worklist", label="Worklist", href="/ui/worklist", order=10))

``key`` names the page for the "current page" marker; ``order`` places it (messages is 20, partners 40, API 90).
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.store.models import ApiRole


@dataclass(frozen=True, slots=True)
class NavItem:
    key: str
    label: str
    href: str
    order: int = 50
    role: ApiRole = ApiRole.viewer
    accesskey: str | None = None


_PAGES: dict[str, NavItem] = {}


def add_page(item: NavItem) -> None:
    _PAGES[item.key] = item


def pages() -> list[NavItem]:
    return sorted(_PAGES.values(), key=lambda i: (i.order, i.label))


add_page(NavItem(key="messages", label="Messages", href="/ui/messages", order=20, accesskey="m"))
add_page(NavItem(key="partners", label="Partners", href="/ui/partners", order=40, accesskey="p"))
add_page(NavItem(key="api", label="API", href="/docs", order=90))
