"""The support page in a real browser: sign in, find a message by PO number, read it, resend its 997 as an
operator; a viewer sees no actions; wrong, revoked and expired keys are refused; Swagger UI works offline.
A screenshot of each page is kept under test-artifacts/ui/."""

from __future__ import annotations

import re
from urllib.parse import urlparse

import pytest

from gateway.store.apikeys import ApiKeys
from tests.ui.conftest import receive, shot

pytestmark = pytest.mark.browser


def sign_in(page, url, token):
    page.goto(f"{url}/ui")
    page.wait_for_url(re.compile(r"/ui/login"))
    page.fill("#api_key", token)
    page.keyboard.press("Enter")


def test_operator_finds_by_po_reads_timeline_and_payload_and_resends_the_997(site, page):
    gw, url, token = site["gw"], site["url"], site["tokens"]["operator"]
    asn = receive(gw, "harbor-3pl", "856/harbor-3pl-crossdock.edi")
    assert asn.status == "acked", asn.reason
    ack_id = gw.store.acks_of(asn.id)[0].ack_message_id
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))

    page.goto(f"{url}/ui")
    page.wait_for_url(re.compile(r"/ui/login"))
    shot(page, "01-login")
    sign_in(page, url, token)
    page.wait_for_url(re.compile(r"/ui/messages$"))
    # keyboard: "/" focuses the search box
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.id") == "q"
    page.keyboard.type("POREF00")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"q=POREF00"))
    rows = page.locator("table.results tbody tr")
    assert rows.count() == 1 and "acked" in rows.first.inner_text()
    assert "harbor-3pl" in rows.first.inner_text()
    shot(page, "02-search")

    page.click(f"a.msg-link:text-is('{asn.id}')")
    page.wait_for_url(re.compile(rf"/ui/messages/{asn.id}$"))
    timeline = page.locator("#timeline").inner_text()
    assert "message.received" in timeline or "message.archived" in timeline
    assert page.locator("#lineage table").count() == 1 and "856" in page.locator("#lineage").inner_text()
    segs = page.locator("table.segments tbody th").all_inner_texts()
    assert segs[:3] == ["ISA", "GS", "ST"] and "BSN" in segs
    assert "POREF00" in page.locator("#canonical pre").inner_text()
    assert "acknowledged by" in page.locator("#acks").inner_text()
    assert page.locator("#action-reprocess").count() == 1 and page.locator("#action-resend").count() == 0
    shot(page, "03-message-856")

    # the partner collected our 997 ... and lost it: resend it from the page
    outbox = gw.settings.data_path / "channels" / "harbor-3pl" / "outbound"
    sent = sorted(outbox.glob("*.x12"))
    assert sent
    for p in sent:
        p.unlink()
    page.click(f"#acks a[href='/ui/messages/{ack_id}']")
    page.wait_for_url(re.compile(rf"/ui/messages/{ack_id}$"))
    assert "997" in page.locator(".sub").inner_text()
    shot(page, "04-message-997")
    page.click("#action-resend")
    page.wait_for_url(re.compile(rf"/ui/messages/{ack_id}/resend$"))
    assert "ui:operator-desk" in page.inner_text("main")
    assert page.evaluate("document.activeElement.id") == "confirm"  # Enter confirms, Tab reaches Cancel
    shot(page, "05-confirm-resend")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(rf"/ui/messages/{ack_id}$"))
    flash = page.locator(".flash-ok").inner_text()
    assert "Resend done by ui:operator-desk" in flash and "sent" in flash
    assert sorted(outbox.glob("*.x12")) == sent
    events = [(e.name, e.actor) for e in gw.store.events(ack_id)]
    assert ("message.resend_requested", "ui:operator-desk") in events
    assert "ui:operator-desk" in page.locator("#timeline").inner_text()
    assert len(page.locator("#attempts tbody tr").all()) == 2
    shot(page, "06-resent")

    # an action that does not apply is refused before any confirmation (resend of an inbound message)
    response = page.goto(f"{url}/ui/messages/{asn.id}/resend")
    assert response.status == 409 and "does not apply" in page.inner_text("main")

    # the key never travels in a URL, and the cookie holds only a session id
    assert not [u for u in requested if token in u]
    cookies = page.context.cookies()
    assert [c["name"] for c in cookies] == ["gw_session"]
    assert token not in cookies[0]["value"] and cookies[0]["httpOnly"]
    # every asset came from the gateway itself
    assert {urlparse(u).netloc for u in requested} == {urlparse(url).netloc}


def test_viewer_sees_no_actions_and_cannot_post_one(site, page):
    gw, url = site["gw"], site["url"]
    asn = receive(gw, "harbor-3pl", "856/harbor-3pl-crossdock.edi")
    ack_id = gw.store.acks_of(asn.id)[0].ack_message_id
    sign_in(page, url, site["tokens"]["viewer"])
    page.wait_for_url(re.compile(r"/ui/messages$"))
    page.goto(f"{url}/ui/messages/{ack_id}")
    assert page.locator(".actions a.button").count() == 0
    assert "can only read" in page.inner_text("main")
    shot(page, "07-viewer-message")
    response = page.goto(f"{url}/ui/messages/{ack_id}/resend")
    assert response.status == 403 and "viewer" in page.inner_text("main")
    # a forged POST (no CSRF token, viewer role) changes nothing
    r = page.request.post(f"{url}/ui/messages/{ack_id}/resend", form={"csrf": "x"})
    assert r.status == 403
    assert page.goto(f"{url}/ui/messages/{asn.id}/frobnicate").status == 404
    assert not [e for e in gw.store.events(ack_id) if e.name == "message.resend_requested"]


def test_wrong_revoked_and_expired_keys_are_refused(site, page):
    gw, url = site["gw"], site["url"]
    sign_in(page, url, "gw_not-a-real-key")
    page.wait_for_selector("#login-error")
    assert "unknown or has been revoked" in page.inner_text("#login-error")
    shot(page, "08-login-refused")
    page.fill("#api_key", site["tokens"]["revoked"])
    page.keyboard.press("Enter")
    page.wait_for_selector("#login-error")
    assert page.url.endswith("/ui/login")
    # signed in, then the key is revoked: the next page asks to sign in again
    page.fill("#api_key", site["tokens"]["operator"])
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/ui/messages$"))
    ApiKeys(gw.engine).revoke("operator-desk")
    page.goto(f"{url}/ui/partners")
    page.wait_for_url(re.compile(r"/ui/login\?next="))
    # an expired session (idle too long) is refused the same way
    sign_in(page, url, site["tokens"]["viewer"])
    page.wait_for_url(re.compile(r"/ui/messages$"))
    sessions = gw_sessions(page, url, site)
    sessions.idle = 0.0
    page.goto(f"{url}/ui/messages")
    page.wait_for_url(re.compile(r"/ui/login"))


def gw_sessions(page, url, site):
    return site["server"].app.state.ui_sessions


def test_partners_page_and_offline_swagger_with_authorize(site, page):
    url = site["url"]
    sign_in(page, url, site["tokens"]["viewer"])
    page.wait_for_url(re.compile(r"/ui/messages$"))
    page.keyboard.press("g")
    page.keyboard.press("p")
    page.wait_for_url(re.compile(r"/ui/partners$"))
    assert "harbor-3pl" in page.inner_text("table")
    shot(page, "09-partners")
    hosts: set[str] = set()
    page.on("request", lambda r: hosts.add(urlparse(r.url).netloc))
    page.goto(f"{url}/docs")
    page.wait_for_selector(".swagger-ui .info")
    assert page.locator("button.authorize").count() == 1
    page.click("button.authorize")
    page.wait_for_selector("text=BearerKey")
    assert page.locator("text=ApiKeyHeader").count() >= 1
    shot(page, "10-swagger-authorize")
    assert hosts == {urlparse(url).netloc}
