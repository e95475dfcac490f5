"""An 856's SSCCs are recorded once: the envelope step records them as MAN*GM carries them (20 digits, with the
``00`` application identifier) and the mapping step does not add the canonical record's 18 digits. Search finds
the message by either form, by a fragment, and by the 18 digits also when another message holds them exactly."""

from __future__ import annotations

from gateway.canonical.keys import business_keys
from gateway.mapping import iter_canonical
from gateway.runtime import Gateway
from gateway.store.models import Direction, MessageStatus
from gateway.store.search import MessageQuery
from gateway.transports.folder import FolderInbound
from tests.support.gateway_home import drop

SSCCS = ["00000715670002152360", "00000715670002152377", "00000715670002152384", "00000715670002152391",
         "00000715670002152111"]  # MAN*GM of harbor-3pl-crossdock.edi


def _found(gw: Gateway, q: str) -> list[int]:
    return sorted(m.id for m in gw.store.search(MessageQuery(q=q)).items if m.id is not None)


def test_an_856s_ssccs_are_recorded_once_and_found_by_either_form(gateway, repo_root, tmp_path):
    sample = (repo_root / "samples" / "x12" / "856" / "harbor-3pl-crossdock.edi").read_bytes()
    inbox = gateway.settings.data_path / "channels" / "harbor-3pl" / "inbound"
    (tmp_path / "asn.edi").write_bytes(sample)
    drop(tmp_path / "asn.edi", inbox)
    items, _ = FolderInbound(channel="harbor-3pl/inbox", path=inbox, partner_id="harbor-3pl",
                             min_age_seconds=0).poll()

    [msg] = gateway.inbound.receive_many(items)

    assert msg is not None and msg.id is not None
    keys = gateway.store.business_keys(msg.id)
    assert sorted(k.value for k in keys if k.kind == "sscc") == sorted(SSCCS)  # once each, as read
    assert {k.norm for k in keys if k.kind == "sscc"} == {s.lstrip("0") for s in SSCCS}
    [done] = [e for e in gateway.store.events(msg.id) if e.name == "mapping.done"]
    mapped = {k for record in iter_canonical(sample) for k in business_keys(record)}
    assert ("sscc", SSCCS[0][2:]) in mapped
    assert done.detail["keys"] == len(mapped)  # counted as before

    for q in (SSCCS[0], SSCCS[0][2:], SSCCS[0][6:14]):  # as read, the canonical 18 digits, a fragment
        assert _found(gateway, q) == [msg.id], q
    other, _ = gateway.store.create_message(direction=Direction.inbound, status=MessageStatus.processed,
                                            idempotency_key="other", sha256="0" * 64, events=[])
    gateway.store.record_business_keys(other.id, [("sscc", SSCCS[0][2:])])  # the 18 digits, exactly
    assert _found(gateway, SSCCS[0][2:]) == sorted([msg.id, other.id])
    assert _found(gateway, SSCCS[0]) == [msg.id]
