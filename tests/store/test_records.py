"""Outputs, delivery attempts, API keys and archive retention on both backends."""

from datetime import UTC, datetime, timedelta

import pytest

from gateway.errors import ConfigError, NotFoundError
from gateway.store.apikeys import ApiKeys, hash_token
from gateway.store.models import ApiKey, Direction, MessageStatus
from gateway.store.retention import purge_archive

OLD = datetime(2026, 1, 1, tzinfo=UTC)


def msg(store, archive, key, data, *, status=MessageStatus.acked, created_at=OLD):
    blob = archive.put_bytes(data)
    m, _ = store.create_message(
        direction=Direction.inbound,
        status=status,
        sha256=blob.sha256,
        size=blob.size,
        archive_key=blob.key,
        idempotency_key=key,
        file_name=f"{key}.edi",
        created_at=created_at,
        events=[],
    )
    return m


def test_outputs_are_recorded_once_newest_first(store, archive):
    m = msg(store, archive, "a", b"ISA...")
    blob1 = archive.put_bytes(b'[{"po": "1"}]')
    blob2 = archive.put_bytes(b'[{"po": "2"}]')
    store.record_output(m.id, kind="canonical", blob=blob1, content_type="application/json")
    store.record_output(m.id, kind="canonical", blob=blob1, content_type="application/json")
    store.record_output(m.id, kind="canonical", blob=blob2, content_type="application/json")
    outs = store.outputs(m.id, "canonical")
    assert [o.archive_key for o in outs] == [blob2.key, blob1.key]
    with pytest.raises(ValueError):
        store.record_output(m.id, kind="nonsense", blob=blob1)


def test_delivery_attempts(store, archive):
    m = msg(store, archive, "d", b"x")
    store.record_delivery_attempt(
        m.id,
        channel="acme/sftp",
        outcome="retrying",
        started_at=OLD,
        error={"kind": "TransientTransportError", "message": "timeout"},
    )
    store.record_delivery_attempt(m.id, channel="acme/sftp", outcome="sent", started_at=OLD, transport_id="/in/x.edi")
    atts = store.delivery_attempts(m.id)
    assert [(a.outcome, a.transport_id) for a in atts] == [("retrying", None), ("sent", "/in/x.edi")]
    assert atts[0].finished_at.tzinfo is not None


def test_api_keys_hashed_revocable_unique(store):
    keys = ApiKeys(store.engine)
    row, token = keys.create("support-desk", "operator")
    assert token.startswith("gw_") and len(token) > 40
    with store.session() as s:
        stored = s.get(ApiKey, row.id)
        assert stored.key_hash == hash_token(token) and token not in stored.model_dump_json()
    got = keys.authenticate(token)
    assert got is not None and got.name == "support-desk" and got.role == "operator" and got.last_used_at
    assert keys.authenticate(token + "x") is None and keys.authenticate("") is None
    with pytest.raises(ConfigError, match="already exists"):
        keys.create("support-desk", "viewer")
    with pytest.raises(ConfigError, match="unknown role"):
        keys.create("other", "root")
    with pytest.raises(ConfigError, match="invalid API key name"):
        keys.create("has space", "viewer")
    keys.revoke("support-desk")
    assert keys.authenticate(token) is None
    with pytest.raises(NotFoundError):
        keys.revoke("nobody")


def test_purge_removes_old_payloads_keeps_metadata_and_shared_blobs(store, archive):
    old = msg(store, archive, "old", b"payload-old")
    shared_old = msg(store, archive, "shared-old", b"same bytes")
    shared_new = msg(store, archive, "shared-new", b"same bytes", created_at=datetime.now(UTC))
    unfinished = msg(store, archive, "busy", b"in flight", status=MessageStatus.processing)
    out_blob = archive.put_bytes(b'{"canonical": true}')
    store.record_output(old.id, kind="canonical", blob=out_blob)

    res = purge_archive(store, archive, before=datetime.now(UTC) - timedelta(days=30), actor="ops")
    assert (res.messages, res.outputs, res.blobs_deleted) == (2, 1, 2)
    assert not archive.exists(old.archive_key) and not archive.exists(out_blob.key)
    assert archive.exists(shared_new.archive_key)  # still needed by the newer message
    assert archive.exists(unfinished.archive_key)
    got = store.get(old.id)
    assert got.purged_at is not None and got.sha256 == old.sha256  # metadata kept
    assert store.get(shared_old.id).purged_at is not None and store.get(unfinished.id).purged_at is None
    ev = store.events(old.id)[-1]
    assert ev.name == "archive.purged" and ev.actor == "ops"
    assert purge_archive(store, archive, before=datetime.now(UTC)).messages == 1  # now the shared-new one
    assert not archive.exists(shared_new.archive_key)
