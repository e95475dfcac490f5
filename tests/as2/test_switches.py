"""Per-partner interop switches, each exercised end to end between two gateway instances over HTTP."""

from __future__ import annotations

import pytest

from gateway.as2.send import build
from gateway.as2.settings import organization
from gateway.store.models import MessageStatus
from tests.as2.support import make_pair, own_settings, partner_settings, serve

LF_X12 = b"ISA*00*          *00*          *ZZ*GATEWAY        *ZZ*PARTNER        *240101*1200*U*00401*1*0*P*>~\nGS*X~\n"


def send_through(tmp_path, **switches):
    ours, theirs, sender = make_pair(tmp_path, peer_partner=partner_settings("GATEWAY", **switches))
    with serve(theirs) as url:
        ours.receiver.partners = {"PARTNER": partner_settings("PARTNER", url=url, **switches)}.get
        msg = sender.send(LF_X12, ours.receiver.partners("PARTNER"), filename="o.edi")
    assert msg.status == MessageStatus.delivered, msg.reason
    return theirs.delivered[0].data


def test_octet_stream_keeps_bytes_exact(tmp_path):
    assert send_through(tmp_path, content_type="application/octet-stream") == LF_X12


def test_edi_x12_text_type_gets_crlf_under_signature(tmp_path):
    assert send_through(tmp_path, content_type="application/edi-x12") == LF_X12.replace(b"\n", b"\r\n")


def test_binary_canonicalisation_both_sides(tmp_path):
    assert send_through(tmp_path, binary_canonicalization=True, content_type="application/octet-stream") == LF_X12


@pytest.mark.parametrize("compress", ["before_signing", "after_signing"])
def test_compression_before_and_after_signing(tmp_path, compress):
    assert send_through(tmp_path, compress=compress, content_type="application/octet-stream") == LF_X12


def test_dashed_algorithm_names_on_the_wire_and_accepted(tmp_path):
    own = own_settings()
    built = build(
        LF_X12,
        own=own,
        org=organization(own),
        partner=partner_settings(algorithm_naming="dashed", encrypt=False),
        filename="o.edi",
    )
    assert 'micalg="sha-256"' in built.headers["Content-Type"] or "micalg=sha-256" in built.headers["Content-Type"]
    assert "sha-256" in built.headers["disposition-notification-options"]
    send_through(tmp_path, algorithm_naming="dashed")


@pytest.mark.parametrize("compress", ["none", "after_signing"])
def test_folded_outbound_headers_are_accepted_by_our_receiver(tmp_path, compress):
    assert (
        send_through(tmp_path, fold_headers=True, compress=compress, content_type="application/octet-stream") == LF_X12
    )
