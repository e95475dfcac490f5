"""Run inside django-pyas2's ``manage.py shell``: PEERSERVER (the peer) and GATEWAY (us) as its partner.

Adapted from the shared interop recipe (interop/as2-peer/scripts/setup_partners.py); ``PEER_MDN_MODE`` chooses
SYNC or ASYNC receipts for what the peer sends us.
"""

import os

from pyas2.models import Organization, Partner, PrivateKey, PublicCertificate

BASE = os.environ["AS2PEER_BASE"]
KEYPASS = os.environ["KEYPASS"]


def read(p):
    with open(os.path.join(BASE, "certs", p), "rb") as f:
        return f.read()


pk, _ = PrivateKey.objects.get_or_create(name="peer-key", defaults=dict(key=read("peer.pem"), key_pass=KEYPASS))
pk.key, pk.key_pass = read("peer.pem"), KEYPASS
pk.save()
pc, _ = PublicCertificate.objects.get_or_create(name="gateway-cert", defaults=dict(certificate=read("gateway.crt")))
pc.certificate, pc.certificate_ca, pc.verify_cert = read("gateway.crt"), None, False
pc.save()
org, _ = Organization.objects.update_or_create(
    as2_name="PEERSERVER",
    defaults=dict(name="Peer AS2 Server", email_address="as2@peer.example", encryption_key=pk, signature_key=pk),
)
Partner.objects.update_or_create(
    as2_name="GATEWAY",
    defaults=dict(
        name="Gateway under test",
        target_url=os.environ["GATEWAY_URL"],
        subject="EDI from django-pyas2",
        content_type=os.environ.get("PEER_CONTENT_TYPE", "application/EDI-X12"),
        compress=os.environ.get("PEER_COMPRESS") == "1",
        encryption="aes_256_cbc",
        encryption_cert=pc,
        signature="sha256",
        signature_cert=pc,
        mdn=True,
        mdn_mode=os.environ.get("PEER_MDN_MODE", "SYNC"),
        mdn_sign="sha256",
    ),
)
print("partners ready")
