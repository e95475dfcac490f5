"""Interop with an independent CMS implementation: the OpenSSL command line (openssl cms)."""

from __future__ import annotations

import shutil
import subprocess
from email import message_from_bytes

import pytest

from gateway.as2.send import build
from gateway.as2.settings import organization
from tests.as2.support import keypair, make_node, own_settings, partner_settings, post, serve
from tests.support.services import unavailable


@pytest.fixture(autouse=True)
def _needs_openssl() -> None:
    if shutil.which("openssl") is None:
        unavailable("the openssl command line is not installed (apt-get install openssl)")


X12 = b"ISA*00*          *00*          *ZZ*PARTNER        *ZZ*GATEWAY        *240101*1200*U*00401*000000001*0*P*>~\r\n"


def openssl(*args: str, cwd) -> bytes:
    out = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, timeout=60)
    assert out.returncode == 0, out.stderr.decode(errors="replace")
    return out.stdout


def uncompress(tmp, der: bytes) -> bytes:
    """OpenSSL checks the CMS structure; it is often built without zlib, so zlib itself inflates the content."""
    import zlib

    from asn1crypto import cms

    (tmp / "z.der").write_bytes(der)
    printed = openssl("cms", "-cmsout", "-print", "-inform", "DER", "-in", "z.der", cwd=tmp)
    assert b"id-smime-ct-compressedData" in printed and b"zlib" in printed.lower()
    return zlib.decompress(cms.ContentInfo.load(der)["content"]["encap_content_info"]["content"].native)


def write_keys(tmp):
    for name in ("PARTNER", "GATEWAY"):
        kp = keypair(name)
        (tmp / f"{name}.key").write_bytes(kp.private_key)
        (tmp / f"{name}.crt").write_bytes(kp.certificate)


def test_openssl_signed_and_encrypted_message_is_accepted_and_our_mdn_verifies_with_openssl(tmp_path):
    write_keys(tmp_path)
    (tmp_path / "entity.txt").write_bytes(b"Content-Type: application/edi-x12\r\n\r\n" + X12)
    openssl(
        "cms",
        "-sign",
        "-binary",
        "-in",
        "entity.txt",
        "-signer",
        "PARTNER.crt",
        "-inkey",
        "PARTNER.key",
        "-md",
        "sha256",
        "-out",
        "signed.eml",
        cwd=tmp_path,
    )
    openssl(
        "cms",
        "-encrypt",
        "-binary",
        "-aes256",
        "-in",
        "signed.eml",
        "-outform",
        "DER",
        "-out",
        "enc.der",
        "GATEWAY.crt",
        cwd=tmp_path,
    )
    headers = {
        "AS2-Version": "1.2",
        "AS2-From": "PARTNER",
        "AS2-To": "GATEWAY",
        "Message-ID": "<openssl-1@partner.example>",
        "Content-Type": 'application/pkcs7-mime; smime-type=enveloped-data; name="smime.p7m"',
        "Content-Transfer-Encoding": "binary",
        "Disposition-Notification-To": "as2@partner.example",
        "Disposition-Notification-Options": "signed-receipt-protocol=optional, pkcs7-signature; "
        "signed-receipt-micalg=optional, sha256",
    }
    node = make_node(tmp_path / "gw", own_settings(), [partner_settings()])
    with serve(node) as url:
        r = post(url, headers, (tmp_path / "enc.der").read_bytes())
    assert r.status_code == 200
    assert node.delivered and node.delivered[0].data == X12
    # the MDN: let openssl check its signature against our certificate
    mdn = "".join(f"{k}: {v}\r\n" for k, v in r.headers.items() if k.lower() == "content-type").encode()
    (tmp_path / "mdn.eml").write_bytes(b"MIME-Version: 1.0\r\n" + mdn + b"\r\n" + r.content)
    openssl(
        "cms",
        "-verify",
        "-in",
        "mdn.eml",
        "-inform",
        "SMIME",
        "-certfile",
        "GATEWAY.crt",
        "-CAfile",
        "GATEWAY.crt",
        "-purpose",
        "any",
        "-out",
        "report.txt",
        cwd=tmp_path,
    )
    report = (tmp_path / "report.txt").read_bytes()
    assert b"Disposition: automatic-action/MDN-sent-automatically; processed" in report
    assert b"Original-Message-ID: <openssl-1@partner.example>" in report


def test_openssl_tampered_signature_gets_authentication_failed(tmp_path):
    write_keys(tmp_path)
    (tmp_path / "entity.txt").write_bytes(b"Content-Type: application/edi-x12\r\n\r\n" + X12)
    openssl(
        "cms",
        "-sign",
        "-binary",
        "-in",
        "entity.txt",
        "-signer",
        "PARTNER.crt",
        "-inkey",
        "PARTNER.key",
        "-md",
        "sha256",
        "-out",
        "signed.eml",
        cwd=tmp_path,
    )
    signed = (tmp_path / "signed.eml").read_bytes().replace(b"*240101*", b"*240102*")  # changed after signing
    (tmp_path / "signed.eml").write_bytes(signed)
    openssl(
        "cms",
        "-encrypt",
        "-binary",
        "-aes256",
        "-in",
        "signed.eml",
        "-outform",
        "DER",
        "-out",
        "enc.der",
        "GATEWAY.crt",
        cwd=tmp_path,
    )
    headers = {
        "AS2-From": "PARTNER",
        "AS2-To": "GATEWAY",
        "Message-ID": "<openssl-2@partner.example>",
        "Content-Type": "application/pkcs7-mime; smime-type=enveloped-data",
        "Disposition-Notification-To": "x@y",
    }
    node = make_node(tmp_path / "gw", own_settings(), [partner_settings()])
    with serve(node) as url:
        r = post(url, headers, (tmp_path / "enc.der").read_bytes())
    assert r.status_code == 200 and b"authentication-failed" in r.content
    [_m] = node.store.list_messages().items[-1:]
    assert node.delivered == []


@pytest.mark.parametrize("compress", ["none", "before_signing", "after_signing"])
def test_our_outbound_decrypts_and_verifies_with_openssl(tmp_path, compress):
    write_keys(tmp_path)
    own = own_settings()
    partner = partner_settings(compress=compress)
    built = build(X12, own=own, org=organization(own), partner=partner, filename="o.edi")
    (tmp_path / "out.der").write_bytes(built.body)
    openssl(
        "cms",
        "-decrypt",
        "-binary",
        "-inform",
        "DER",
        "-in",
        "out.der",
        "-recip",
        "PARTNER.crt",
        "-inkey",
        "PARTNER.key",
        "-out",
        "dec.eml",
        cwd=tmp_path,
    )
    entity = (tmp_path / "dec.eml").read_bytes()
    if compress == "after_signing":
        part = message_from_bytes(entity).get_payload(decode=True)
        entity = uncompress(tmp_path, part)
    (tmp_path / "dec.eml").write_bytes(b"MIME-Version: 1.0\r\n" + entity)
    openssl(
        "cms",
        "-verify",
        "-inform",
        "SMIME",
        "-in",
        "dec.eml",
        "-CAfile",
        "GATEWAY.crt",
        "-purpose",
        "any",
        "-out",
        "content.bin",
        cwd=tmp_path,
    )
    content = (tmp_path / "content.bin").read_bytes()
    if compress == "before_signing":
        part = message_from_bytes(content).get_payload(decode=True)
        content = uncompress(tmp_path, part)
    assert content.endswith(b"\r\n\r\n" + X12)
    assert b"application/edi-x12" in content.split(b"\r\n\r\n")[0]


def test_folded_headers_in_the_signed_entity_and_on_the_http_request_are_accepted(tmp_path):
    """Header folding: a folded MIME header under the signature (OpenSSL-signed) and a folded (obs-fold) HTTP
    header line, sent byte for byte over a raw socket."""
    import socket

    write_keys(tmp_path)
    entity = b'Content-Type: application/octet-stream;\r\n\tname="order.edi"\r\nContent-Transfer-Encoding: binary\r\n'
    (tmp_path / "entity.txt").write_bytes(entity + b"\r\n" + X12)
    openssl(
        "cms",
        "-sign",
        "-binary",
        "-in",
        "entity.txt",
        "-signer",
        "PARTNER.crt",
        "-inkey",
        "PARTNER.key",
        "-md",
        "sha256",
        "-out",
        "signed.eml",
        cwd=tmp_path,
    )
    openssl(
        "cms",
        "-encrypt",
        "-binary",
        "-aes256",
        "-in",
        "signed.eml",
        "-outform",
        "DER",
        "-out",
        "enc.der",
        "GATEWAY.crt",
        cwd=tmp_path,
    )
    body = (tmp_path / "enc.der").read_bytes()
    node = make_node(tmp_path / "gw", own_settings(), [partner_settings()])
    with serve(node) as url:
        port = int(url.split(":")[2].split("/")[0])
        head = (
            "POST /as2 HTTP/1.1\r\nHost: 127.0.0.1\r\nAS2-From: PARTNER\r\nAS2-To: GATEWAY\r\n"
            "Message-ID: <folded-1@partner.example>\r\n"
            'Content-Type: application/pkcs7-mime; smime-type=enveloped-data;\r\n name="smime.p7m"\r\n'
            "Disposition-Notification-To: as2@partner.example\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        ).encode()
        with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
            s.sendall(head + body)
            answer = b""
            while chunk := s.recv(65536):
                answer += chunk
    status_line = answer.split(b"\r\n", 1)[0]
    if b" 400 " in status_line:
        pytest.fail("the HTTP server refused an obs-folded header line: " + answer[:300].decode(errors="replace"))
    assert b" 200 " in status_line and b"processed" in answer and b"processed/" not in answer
    assert node.delivered[0].data == X12


def _decrypt(tmp_path, built) -> bytes:
    (tmp_path / "out.der").write_bytes(built.body)
    openssl(
        "cms", "-decrypt", "-binary", "-inform", "DER", "-in", "out.der",
        "-recip", "PARTNER.crt", "-inkey", "PARTNER.key", "-out", "dec.eml", cwd=tmp_path,
    )  # fmt: skip
    return (tmp_path / "dec.eml").read_bytes()


def _header_lines(entity: bytes) -> list[bytes]:
    """Header lines of the entity and of every MIME part inside it."""
    lines = entity.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    for part in message_from_bytes(entity).walk():
        boundary = part.get_boundary()
        if boundary:
            for chunk in entity.split(b"--" + boundary.encode())[1:-1]:
                lines += chunk.lstrip(b"\r\n").split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    return lines


@pytest.mark.parametrize("fold", [True, False])
def test_fold_headers_switch_folds_outbound_mime_headers_and_openssl_verifies(tmp_path, fold):
    write_keys(tmp_path)
    own = own_settings()
    partner = partner_settings(fold_headers=fold)
    built = build(X12, own=own, org=organization(own), partner=partner, filename="o.edi")
    assert not any("\r" in v or "\n" in v for v in built.headers.values())  # HTTP headers are never folded
    entity = _decrypt(tmp_path, built)
    lines = _header_lines(entity)
    continuation = [line for line in lines if line[:1] in (b" ", b"\t")]
    head = entity.split(b"\r\n\r\n", 1)[0]
    assert head.startswith(b"Content-Type: multipart/signed;")
    if fold:
        assert continuation and all(len(line) <= 76 for line in head.split(b"\r\n"))
        assert len(head.replace(b"\r\n ", b" ").split(b"\r\n")[0]) > 76  # unfolded it would be one long line
    else:
        assert continuation == []
    (tmp_path / "dec.eml").write_bytes(b"MIME-Version: 1.0\r\n" + entity)
    openssl(
        "cms", "-verify", "-inform", "SMIME", "-in", "dec.eml", "-CAfile", "GATEWAY.crt",
        "-purpose", "any", "-out", "content.bin", cwd=tmp_path,
    )  # fmt: skip
    assert (tmp_path / "content.bin").read_bytes().endswith(b"\r\n\r\n" + X12)
    openssl("smime", "-verify", "-in", "dec.eml", "-CAfile", "GATEWAY.crt", "-purpose", "any", cwd=tmp_path)
