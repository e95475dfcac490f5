"""The streaming receive path (gateway/as2/receive_stream.py) against independent senders.

pyas2lib builds real AS2 messages (signed+encrypted with AES or 3DES, signed only, encrypted only, compressed);
``openssl cms -stream`` builds BER indefinite-length enveloped data with constructed OCTET STRINGs. Each is POSTed
to a real HTTP server whose receiver takes the streaming parse; the signed MDN is checked by pyas2lib's own MDN
parser (signature and Received-content-MIC against the sender's MIC).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import replace

import pytest

from gateway.as2 import compat as _compat
from gateway.as2.send import build
from gateway.as2.settings import organization
from gateway.store.models import Direction, MessageStatus
from tests.as2.support import keypair, make_node, own_settings, partner_settings, post, serve

_compat.install()
from pyas2lib import as2 as pyas2  # noqa: E402

X12 = (
    b"ISA*00*          *00*          *ZZ*PARTNER        *ZZ*GATEWAY        *240101*1200*U*00401*000000001*0*P*>~\r\n"
    + b"GS*SH*PARTNER*GATEWAY*20240101*1200*1*X*004010~\r\n"
    + b"".join(b"ST*856*%04d~BSN*00*SHIP%06d*20240101*1200~SE*3*%04d~\r\n" % (i, i, i) for i in range(1, 400))
    + b"GE*399*1~IEA*1*000000001~\r\n"
)
MIC_RE = re.compile(rb"Received-content-MIC:\s*([^,\r\n]+),\s*([\w-]+)", re.I)
DISPOSITION_RE = re.compile(rb"Disposition:\s*automatic-action/MDN-sent-automatically;\s*([^\r\n]+)", re.I)


def sender_message(*, sign=True, encrypt=True, enc_alg="aes_256_cbc", compress=False, digest="sha256", data=X12):
    """A message built by pyas2lib as PARTNER for GATEWAY; returns the pyas2lib Message (it knows its MIC)."""
    partner_kp, gw_kp = keypair("PARTNER"), keypair("GATEWAY")
    org = pyas2.Organization(
        as2_name="PARTNER",
        sign_key=partner_kp.private_key + b"\n" + partner_kp.certificate,
        decrypt_key=partner_kp.private_key + b"\n" + partner_kp.certificate,
    )
    receiver = pyas2.Partner(
        as2_name="GATEWAY",
        verify_cert=gw_kp.certificate,
        encrypt_cert=gw_kp.certificate,
        validate_certs=False,
        sign=sign,
        encrypt=encrypt,
        enc_alg=enc_alg,
        compress=compress,
        digest_alg=digest,
        mdn_mode="SYNC",
        mdn_digest_alg="sha256",
    )
    msg = pyas2.Message(sender=org, receiver=receiver)
    msg.build(data, filename="po.edi", content_type="application/edi-x12")
    return msg


def mdn_status(response, original) -> tuple[str, str | None]:
    """pyas2lib parses our MDN: verifies its signature with our certificate and compares the MIC it reports
    with the one the sender computed (a mismatch is a failed status)."""
    head = "".join(f"{k}: {v}\r\n" for k, v in response.headers.items()).encode()
    mdn = pyas2.Mdn()
    status, detail = mdn.parse(head + b"\r\n" + response.content, lambda _mid, _rcpt: original)
    return status, detail


def streaming_node(tmp_path, **partner_kw):
    node = make_node(tmp_path / "gw", own_settings("GATEWAY"), [partner_settings("PARTNER", **partner_kw)])
    node.receiver.stream_above = 0  # every body takes the streaming parse
    return node


def extracted(node):
    [msg] = node.store.list_messages(direction=Direction.inbound).items
    events = [e for e in node.store.events(msg.id) if e.name == "as2.payload_extracted"]
    return msg, (events[-1].detail if events else None)


@pytest.mark.parametrize(
    ("kw", "partner_kw"),
    [
        ({}, {}),
        ({"enc_alg": "aes_128_cbc", "digest": "sha1"}, {}),
        ({"enc_alg": "tripledes_192_cbc", "digest": "sha512"}, {}),
        ({"compress": True}, {}),
        ({"encrypt": False}, {"require_encrypted": False}),
        ({"sign": False}, {"require_signed": False}),
        ({"sign": False, "compress": True, "enc_alg": "tripledes_192_cbc"}, {"require_signed": False}),
    ],
    ids=["signed-encrypted-aes256", "aes128-sha1", "3des-sha512", "compressed", "signed-only", "encrypted-only",
         "encrypted-compressed-3des"],
)
def test_pyas2lib_sender_through_the_streaming_parse(tmp_path, kw, partner_kw):
    original = sender_message(**kw)
    node = streaming_node(tmp_path, **partner_kw)
    with serve(node) as url:
        r = post(url, dict(original.headers), original.content)
    assert r.status_code == 200, r.text
    msg, detail = extracted(node)
    assert msg.status == MessageStatus.processed, msg.reason
    assert detail["streamed"] is True
    assert (detail["signed"], detail["encrypted"], detail["compressed"]) == (
        kw.get("sign", True), kw.get("encrypt", True), kw.get("compress", False)
    )
    assert node.delivered[0].data == X12 and node.delivered[0].name == "po.edi"
    assert mdn_status(r, original) == ("processed", None)
    if original.mic:  # the MIC we reported is the sender's own
        assert MIC_RE.search(r.content).group(1).decode() == original.mic.decode() == detail["mic"]


def test_compressed_after_signing_streams(tmp_path):
    own = own_settings("PARTNER")
    partner = replace(partner_settings("GATEWAY"), compress="after_signing")
    built = build(X12, own=own, org=organization(own), partner=partner, filename="late.edi")
    node = streaming_node(tmp_path)
    with serve(node) as url:
        r = post(url, built.headers, built.body)
    msg, detail = extracted(node)
    assert msg.status == MessageStatus.processed, msg.reason
    assert detail["compressed"] and detail["signed"] and detail["streamed"]
    assert node.delivered[0].data == X12
    assert DISPOSITION_RE.search(r.content).group(1).strip() == b"processed"


def test_tampered_signed_content_gets_an_authentication_failed_mdn(tmp_path):
    original = sender_message(encrypt=False)
    body = original.content
    at = body.index(b"BSN*00*SHIP000007")
    tampered = body[:at] + b"BSN*00*SHIP000008" + body[at + 17 :]
    node = streaming_node(tmp_path, require_encrypted=False)
    with serve(node) as url:
        r = post(url, dict(original.headers), tampered)
    assert r.status_code == 200
    assert DISPOSITION_RE.search(r.content).group(1).strip() == b"processed/Error: authentication-failed"
    [msg] = node.store.list_messages(direction=Direction.inbound).items
    assert msg.status == MessageStatus.failed and "authentication-failed" in msg.reason
    assert node.delivered == []


def test_message_for_another_key_gets_a_decryption_failed_mdn(tmp_path):
    original = sender_message()
    node = make_node(tmp_path / "gw", own_settings("OTHERKEY"), [partner_settings("PARTNER")])
    node.receiver.own = replace(node.receiver.own, as2_id="GATEWAY")
    node.receiver.stream_above = 0
    with serve(node) as url:
        r = post(url, dict(original.headers), original.content)
    assert DISPOSITION_RE.search(r.content).group(1).strip() == b"processed/Error: decryption-failed"
    [msg] = node.store.list_messages(direction=Direction.inbound).items
    assert msg.status == MessageStatus.failed and node.delivered == []


def test_corrupt_ciphertext_gets_a_decryption_failed_mdn(tmp_path):
    original = sender_message()
    body = bytearray(original.content)
    body[-5] ^= 0xFF  # the last cipher block: the padding no longer checks
    node = streaming_node(tmp_path)
    with serve(node) as url:
        r = post(url, dict(original.headers), bytes(body))
    assert DISPOSITION_RE.search(r.content).group(1).strip() == b"processed/Error: decryption-failed"


def test_unsigned_message_from_a_partner_requiring_signatures_is_refused(tmp_path):
    original = sender_message(sign=False)
    node = streaming_node(tmp_path)
    with serve(node) as url:
        r = post(url, dict(original.headers), original.content)
    assert DISPOSITION_RE.search(r.content).group(1).strip() == b"processed/Error: insufficient-message-security"


def test_duplicate_of_a_streamed_message_gets_the_original_mdn(tmp_path):
    original = sender_message()
    node = streaming_node(tmp_path)
    with serve(node) as url:
        first = post(url, dict(original.headers), original.content)
        again = post(url, dict(original.headers), original.content)
    assert first.status_code == again.status_code == 200
    assert again.content == first.content
    assert len(node.delivered) == 1


def openssl(*args: str, cwd) -> None:
    out = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, timeout=120)
    assert out.returncode == 0, out.stderr.decode(errors="replace")


def openssl_message(tmp, entity: bytes, *cipher: str) -> bytes:
    """multipart/signed by openssl, then enveloped with ``-stream``: BER, indefinite lengths, segmented content."""
    for name in ("PARTNER", "GATEWAY"):
        (tmp / f"{name}.key").write_bytes(keypair(name).private_key)
        (tmp / f"{name}.crt").write_bytes(keypair(name).certificate)
    (tmp / "entity.txt").write_bytes(entity)
    openssl("cms", "-sign", "-binary", "-stream", "-in", "entity.txt", "-signer", "PARTNER.crt", "-inkey",
            "PARTNER.key", "-md", "sha256", "-out", "signed.eml", cwd=tmp)
    openssl("cms", "-encrypt", "-binary", "-stream", *cipher, "-in", "signed.eml", "-outform", "DER", "-out",
            "enc.der", "GATEWAY.crt", cwd=tmp)
    return (tmp / "enc.der").read_bytes()


OPENSSL_HEADERS = {
    "AS2-Version": "1.2",
    "AS2-From": "PARTNER",
    "AS2-To": "GATEWAY",
    "Content-Type": 'application/pkcs7-mime; smime-type=enveloped-data; name="smime.p7m"',
    "Content-Transfer-Encoding": "binary",
    "Disposition-Notification-To": "as2@partner.example",
    "Disposition-Notification-Options": "signed-receipt-protocol=optional, pkcs7-signature; "
    "signed-receipt-micalg=optional, sha256",
}


@pytest.mark.parametrize("cipher", ["-aes256", "-des3"])
def test_openssl_streamed_ber_above_the_threshold(tmp_path, cipher):
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command line is not installed")
    import base64
    import hashlib

    payload = X12 * 200  # ~3.5 MB: over the default threshold, streamed without forcing it
    entity = b"Content-Type: application/edi-x12\r\nContent-Disposition: attachment; filename=big.edi\r\n\r\n" + payload
    body = openssl_message(tmp_path, entity, cipher)
    assert body[1] == 0x80  # indefinite length: BER as streaming encoders write it
    node = make_node(tmp_path / "gw", own_settings("GATEWAY"), [partner_settings("PARTNER")])
    assert len(body) > node.receiver.stream_above
    with serve(node) as url:
        r = post(url, {**OPENSSL_HEADERS, "Message-ID": f"<ossl{cipher}@partner.example>"}, body)
    msg, detail = extracted(node)
    assert msg.status == MessageStatus.processed, msg.reason
    assert detail["streamed"] and node.delivered[0].data == payload and node.delivered[0].name == "big.edi"
    mic = base64.b64encode(hashlib.sha256(entity).digest())  # what openssl signed: the entity's exact bytes
    assert MIC_RE.search(r.content).group(1) == mic and detail["mic"] == mic.decode()
