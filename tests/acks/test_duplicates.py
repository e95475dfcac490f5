"""Duplicate interchanges inbound, in-process with real folders and store: the TA1 025 answer when the partner asks
for TA1s, the per-partner window, and the same bytes under another name."""

from __future__ import annotations

import os
import subprocess
from datetime import timedelta

import pytest
from sqlalchemy import update

from gateway.runtime import Gateway
from gateway.settings import load_settings
from gateway.store.models import Message, MessageStatus
from tests.support.gateway_home import drop, make_home, settled_message
from tests.support.serve import GATEWAY


def start(home):
    settings = load_settings(home / "config" / "gateway.yaml", folder={"min_age_seconds": 0.2, "sweep_seconds": 1})
    gw = Gateway(settings)
    gw.start()
    return gw


@pytest.fixture
def home(tmp_path):
    home = make_home(tmp_path)
    acme = home / "partners" / "acme-retail.yaml"
    text = acme.read_text().replace("  ta1: on_request", "  ta1: always").replace(
        "reading: tolerant", "reading: tolerant\nduplicates: {window: 30d}")
    acme.write_text(text)
    return home


def test_duplicate_answered_by_ta1_025_and_only_within_the_window(home, repo_root):
    src = repo_root / "samples" / "x12" / "940" / "acme-retail-new-order.edi"
    inbox = home / "var" / "channels" / "acme-retail" / "inbound"
    outbox = home / "var" / "channels" / "acme-retail" / "outbound"
    gw = start(home)
    try:
        drop(src, inbox, "a.edi")
        first = settled_message(gw, "a.edi")
        assert first.status == MessageStatus.acked
        drop(src, inbox, "b.edi")
        second = settled_message(gw, "b.edi")
        assert second.status == MessageStatus.duplicate
        [link] = gw.store.acks_of(second.id)
        assert (link.kind, link.result) == ("TA1", "R")
        ack = gw.store.get(link.ack_message_id)
        # recorded as every acknowledgement is: its statuses, and the duplicate's timeline names it
        assert (ack.direction, ack.set_ids, ack.partner_id) == ("outbound", "TA1", "acme-retail")
        assert (ack.validation_status, ack.ack_status) == ("valid", "not_expected")
        assert (ack.status, ack.delivery_status) == (MessageStatus.sent, "delivered")  # written to the folder
        [generated] = [e for e in gw.store.events(second.id) if e.name == "ack.generated"]
        assert generated.detail["ack_message_id"] == ack.id and generated.detail["note"] == "025"
        assert [e.detail for e in gw.store.events(ack.id) if e.name == "message.created"] == [
            {"acknowledges": second.id, "kind": "TA1", "note": "025"}]
        ta1 = gw.archive.read_bytes(ack.archive_key)
        isa13 = src.read_bytes().split(b"*")[13]
        assert b"TA1*" + isa13 + b"*" in ta1 and b"*R*025~" in ta1 and b"ST*997" not in ta1
        assert len(gw.store.outputs(first.id)) == 1 and gw.store.outputs(second.id) == []
        assert any(p.name.endswith(".x12") and b"TA1*" in p.read_bytes() for p in outbox.iterdir())
        # the support person sees it with `gateway attention` and resolves it with a note
        env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}

        def cli(*args: str) -> str:
            return subprocess.run([str(GATEWAY), *args], cwd=home, env=env, capture_output=True, text=True,
                                  timeout=60, check=True).stdout

        listing = cli("attention", "--kind", "duplicate")
        assert "1 open: duplicate 1" in listing and f"#{second.id}" in listing and "acme-retail" in listing
        assert "resolved duplicate" in cli("attention", "resolve", str(second.id), "--note", "known resend")
        event = gw.store.events(second.id)[-1]
        assert (event.name, event.detail["note"]) == ("attention.resolved", "known resend")
        assert event.actor.startswith("cli")
        assert cli("attention", "--kind", "duplicate").strip() == "nothing needs attention"
        # outside the partner's 30-day window the same interchange is new business again
        with gw.store.session() as s:
            old = first.created_at - timedelta(days=31)
            s.execute(update(Message).where(Message.id == first.id).values(created_at=old))  # type: ignore[arg-type]
            s.commit()
        drop(src, inbox, "c.edi")
        assert settled_message(gw, "c.edi").status == MessageStatus.acked
    finally:
        gw.stop()


def test_a_failed_or_quarantined_earlier_message_is_no_original(home, repo_root):
    """Only earlier inbound messages that were seen count: the same interchange after a failed or quarantined
    one is processed, after an acked one it is a duplicate."""
    src = repo_root / "samples" / "x12" / "940" / "acme-retail-new-order.edi"
    inbox = home / "var" / "channels" / "acme-retail" / "inbound"
    gw = start(home)
    try:
        drop(src, inbox, "a.edi")
        first = settled_message(gw, "a.edi")
        assert first.status == MessageStatus.acked
        for i, status in enumerate((MessageStatus.failed, MessageStatus.quarantined)):
            with gw.store.session() as s:
                s.execute(update(Message).where(Message.id == first.id)  # type: ignore[arg-type]
                          .values(status=status.value))
                s.commit()
            drop(src, inbox, f"again-{i}.edi")
            again = settled_message(gw, f"again-{i}.edi")
            assert again.status == MessageStatus.acked
            first = again  # the next round's earlier message
        drop(src, inbox, "last.edi")
        assert settled_message(gw, "last.edi").status == MessageStatus.duplicate
    finally:
        gw.stop()
