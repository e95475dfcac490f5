"""The support page at ``/ui``: sign in, search, message detail, actions with confirmation, partners.

Server-rendered (Jinja2 templates beside this module, one stylesheet and a few lines of script in ``static/``,
nothing loaded from elsewhere). Every page reads the same store the API does; every action goes through the
same flow functions as ``POST /api/messages/{id}/resend`` and records the actor ``ui:<key name>``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError

from gateway.api.schemas import MessageSummary, message_detail
from gateway.api.ui import actions as ui_actions
from gateway.api.ui.filters import UiFilters
from gateway.api.ui.nav import pages
from gateway.api.ui.session import COOKIE, Sessions, UiSession
from gateway.api.ui.views import canonical_view, payload_view
from gateway.errors import GatewayError, InvalidActionError, NotFoundError, PayloadPurgedError
from gateway.partners.health import partner_health
from gateway.runtime import Gateway
from gateway.store.apikeys import ApiKeys
from gateway.store.models import ApiRole, Direction, MessageStatus, OutputKind

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
router = APIRouter(prefix="/ui", include_in_schema=False)

FLASH_KEY = "flash"


def _gw(request: Request) -> Gateway:
    gw: Gateway = request.app.state.gateway
    return gw


def _sessions(request: Request) -> Sessions:
    s: Sessions = request.app.state.ui_sessions
    return s


def _current(request: Request) -> UiSession | None:
    s = _sessions(request).get(request.cookies.get(COOKIE))
    if s is None:
        return None
    key = ApiKeys(_gw(request).engine).authenticate(s.token)
    if key is None:  # revoked since sign-in
        _sessions(request).close(s.sid)
        return None
    s.role = ApiRole(key.role)
    return s


def _safe_next(value: str | None) -> str:
    if value and value.startswith("/ui/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/ui/messages"


def _to_login(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse("/ui/login?" + urlencode({"next": target}), status_code=303)


def _render(request: Request, name: str, ctx: dict[str, Any], status: int = 200) -> HTMLResponse:
    session: UiSession | None = ctx.get("session")
    flash = session.flash if session else None
    base = {
        "nav": [p for p in pages() if session is None or session.can(p.role)],
        "now": datetime.now(UTC),
        "statuses": [s.value for s in MessageStatus],
        "directions": [d.value for d in Direction],
    }
    if session is not None:
        session.flash = None
    response = templates.TemplateResponse(request, name, {**base, "flash": flash, **ctx}, status_code=status)
    response.headers["Cache-Control"] = "no-store"
    return response


async def _form(request: Request) -> dict[str, str]:
    body = (await request.body())[:65536].decode("utf-8", errors="replace")
    return {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}


# -- sign in / out ------------------------------------------------------------------------------------------------
@router.get("", response_class=HTMLResponse)
@router.get("/", response_class=HTMLResponse)
def home(request: Request) -> Response:
    return RedirectResponse("/ui/messages" if _current(request) else "/ui/login", status_code=303)


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str | None = None) -> Response:
    return _render(request, "login.html", {"next": _safe_next(next), "error": None})


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request) -> Response:
    form = await _form(request)
    token = form.get("api_key", "").strip()
    if token.lower().startswith("bearer "):
        token = token[7:].strip()
    nxt = _safe_next(form.get("next"))
    key = ApiKeys(_gw(request).engine).authenticate(token) if token else None
    if key is None:
        error = "Enter an API key." if not token else "That API key is unknown or has been revoked."
        return _render(request, "login.html", {"next": nxt, "error": error}, status=401)
    s = _sessions(request).open(token, key.name, ApiRole(key.role))
    response = RedirectResponse(nxt, status_code=303)
    response.set_cookie(
        COOKIE, s.sid, httponly=True, samesite="strict", path="/ui",
        secure=request.url.scheme == "https", max_age=int(_sessions(request).lifetime),
    )  # fmt: skip
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    s = _current(request)
    form = await _form(request)
    if s is not None and form.get("csrf") == s.csrf:
        _sessions(request).close(s.sid)
    response = RedirectResponse("/ui/login", status_code=303)
    response.delete_cookie(COOKIE, path="/ui")
    return response


# -- messages -----------------------------------------------------------------------------------------------------
@router.get("/messages", response_class=HTMLResponse)
def messages(request: Request) -> Response:
    s = _current(request)
    if s is None:
        return _to_login(request)
    gw = _gw(request)
    raw = {k: v for k, v in request.query_params.items() if v.strip()}
    errors: list[str] = []
    page = None
    try:
        filters = UiFilters.model_validate(raw)
    except ValidationError as exc:
        filters = None
        errors = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors(include_url=False)]
    if filters is not None:
        res = gw.store.search(filters.query())
        page = {
            "items": [MessageSummary.of(m) for m in res.items],
            "total": res.total,
            "page": res.page,
            "limit": res.limit,
            "pages": max(1, -(-res.total // res.limit)),
        }
    partners = sorted(p.id for p in gw.registry)

    def page_link(n: int) -> str:
        return "/ui/messages?" + urlencode({**raw, "page": n})

    return _render(
        request, "messages.html",
        {"session": s, "active": "messages", "form": raw, "errors": errors, "result": page,
         "partners": partners, "page_link": page_link},
        status=422 if errors else 200,
    )  # fmt: skip


def _not_found(request: Request, s: UiSession, what: str) -> HTMLResponse:
    return _render(request, "error.html", {"session": s, "title": "Not found", "message": what}, status=404)


@router.get("/messages/{message_id}", response_class=HTMLResponse)
def message_page(request: Request, message_id: int) -> Response:
    s = _current(request)
    if s is None:
        return _to_login(request)
    gw = _gw(request)
    try:
        d = message_detail(gw.store, message_id)
    except NotFoundError as exc:
        return _not_found(request, s, exc.message)
    m = gw.store.get(message_id)
    payload = None
    if m.archive_key and m.purged_at is None and gw.archive.exists(m.archive_key):
        with gw.archive.open(m.archive_key) as fp:
            payload = payload_view(fp)
    canonical = None
    outs = [o for o in gw.store.outputs(message_id, OutputKind.canonical) if o.purged_at is None]
    if outs and gw.archive.exists(outs[0].archive_key):
        with gw.archive.open(outs[0].archive_key) as fp:
            canonical = canonical_view(fp)
    acts = ui_actions.available(m)
    return _render(
        request, "message.html",
        {"session": s, "active": "messages", "m": d, "payload": payload, "canonical": canonical,
         "actions": [a for a in acts if s.can(a.role)], "hidden_actions": [a for a in acts if not s.can(a.role)]},
    )  # fmt: skip


@router.get("/messages/{message_id}/{action}", response_class=HTMLResponse)
def confirm_page(request: Request, message_id: int, action: str) -> Response:
    s = _current(request)
    if s is None:
        return _to_login(request)
    gw = _gw(request)
    act = ui_actions.get_action(action)
    try:
        m = gw.store.get(message_id)
    except NotFoundError as exc:
        return _not_found(request, s, exc.message)
    if act is None:
        return _not_found(request, s, f"there is no action {action!r}")
    if not s.can(act.role):
        return _render(
            request, "error.html",
            {"session": s, "title": "Not allowed",
             "message": f"Your API key {s.name!r} has role {s.role.value}; {act.label.lower()} needs "
                        f"{act.role.value} or above."},
            status=403,
        )  # fmt: skip
    if not act.applies(m):
        return _render(
            request, "error.html",
            {"session": s, "title": f"{act.label} does not apply",
             "message": f"{act.label} does not apply to message {m.id} ({m.direction}, {m.status}"
                        f"{', payload purged' if m.purged_at else ''})."},
            status=409,
        )  # fmt: skip
    return _render(
        request, "confirm.html", {"session": s, "active": "messages", "m": MessageSummary.of(m), "action": act}
    )


@router.post("/messages/{message_id}/{action}")
async def run_action(request: Request, message_id: int, action: str) -> Response:
    s = _current(request)
    if s is None:
        return _to_login(request)
    form = await _form(request)
    act = ui_actions.get_action(action)
    if act is None:
        return _not_found(request, s, f"there is no action {action!r}")
    if form.get("csrf") != s.csrf:
        return _render(
            request, "error.html",
            {"session": s, "title": "Form expired", "message": "The form was stale; open the message and try again."},
            status=403,
        )  # fmt: skip
    if not s.can(act.role):
        return _render(
            request, "error.html",
            {"session": s, "title": "Not allowed", "message": f"{act.label} needs the {act.role.value} role."},
            status=403,
        )  # fmt: skip
    gw = _gw(request)
    try:
        m = act.run(gw, message_id, s.actor)
        s.flash = ("ok", f"{act.label} done by {s.actor}: message {m.id} is now {m.status}.")
    except NotFoundError as exc:
        return _not_found(request, s, exc.message)
    except (PayloadPurgedError, InvalidActionError) as exc:
        s.flash = ("error", f"{act.label} not possible: {exc.describe()}")
    except GatewayError as exc:
        s.flash = ("error", f"{act.label} failed: {exc.describe()}")
    return RedirectResponse(f"/ui/messages/{message_id}", status_code=303)


# -- partners -----------------------------------------------------------------------------------------------------
@router.get("/partners", response_class=HTMLResponse)
def partners_page(request: Request) -> Response:
    s = _current(request)
    if s is None:
        return _to_login(request)
    gw = _gw(request)
    folder = gw.partner_folder
    health = partner_health(folder.loaded(), folder.problems, gw.settings, now=datetime.now(UTC))
    rows = [
        {"id": p.id, "name": p.name, "role": p.role,
         "channels": ", ".join(f"{c.name} ({c.type})" for c in p.channels),
         "sets": ", ".join(f"{d.set_id} {d.direction}" for d in p.documents)}
        for p in sorted(gw.registry, key=lambda p: p.id)
    ]  # fmt: skip
    return _render(request, "partners.html", {"session": s, "active": "partners", "rows": rows, "health": health})
