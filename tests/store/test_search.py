"""Search on both backends: filters, free text (exact and partial), control numbers, pagination, injection."""

from datetime import UTC, datetime, timedelta

import pytest

from gateway.store.models import Direction, MessageStatus
from gateway.store.repository import GroupRecord, InterchangeRecord, MessageQuery, SetRecord

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def add(
    store,
    n,
    *,
    partner="acme",
    direction=Direction.inbound,
    status=MessageStatus.acked,
    keys=(),
    set_id="856",
    isa="000000091",
    gs="91",
    st="0001",
    file_name=None,
    transport_id=None,
):
    m, _ = store.create_message(
        direction=direction,
        status=status,
        partner_id=partner,
        sha256="a" * 64,
        size=10,
        file_name=file_name or f"file-{n}.edi",
        idempotency_key=f"k{n}",
        transport_id=transport_id,
        created_at=T0 + timedelta(hours=n),
        events=[("message.received", MessageStatus.received, None)],
    )
    store.replace_lineage(
        m.id,
        [
            InterchangeRecord(
                "ZZ",
                "S",
                "ZZ",
                "R",
                isa,
                "00401",
                "P",
                None,
                None,
                [GroupRecord("SH", "S", "R", gs, "004010", [SetRecord(set_id, st)])],
            )
        ],
    )
    store.record_business_keys(m.id, keys)
    return m.id


@pytest.fixture
def seeded(store):
    ids = {
        "asn": add(store, 1, keys=[("po", "4500012345"), ("tracking", "1Z999AA10123456784")], file_name="asn-77.edi"),
        "ship": add(
            store,
            2,
            partner="harbor",
            keys=[("po", "4500099999"), ("bol", "BOL-555")],
            set_id="945",
            isa="000000092",
            gs="92",
            st="0002",
            transport_id="<as2-msg-1@acme>",
        ),
        "out": add(
            store,
            3,
            direction=Direction.outbound,
            status=MessageStatus.sent,
            set_id="940",
            keys=[("order", "SO-1")],
            isa="000000200",
            gs="200",
            st="0200",
        ),
        "fail": add(store, 4, status=MessageStatus.failed, keys=[("po", "4500012345")], isa="000000300", gs="300"),
    }
    return store, ids


def ids_of(store, **kw):
    page = store.search(MessageQuery(**kw))
    return [m.id for m in page.items], page.total


def test_exact_po_finds_every_message_with_it_newest_first(seeded):
    store, ids = seeded
    assert ids_of(store, q="4500012345") == ([ids["fail"], ids["asn"]], 2)


def test_partial_tracking_number_and_case_insensitive(seeded):
    store, ids = seeded
    assert ids_of(store, q="AA1012345")[0] == [ids["asn"]]
    assert ids_of(store, q="1z999aa")[0] == [ids["asn"]]
    assert ids_of(store, q="bol-555")[0] == [ids["ship"]]


def test_terms_are_anded_and_file_names_are_searchable(seeded):
    store, ids = seeded
    assert ids_of(store, q="asn-77")[0] == [ids["asn"]]
    assert ids_of(store, q="4500012345 asn-77")[0] == [ids["asn"]]
    assert ids_of(store, q="4500012345 nothing-like-this")[0] == []


def test_control_numbers_isa_gs_st_with_or_without_zeros(seeded):
    store, ids = seeded
    assert ids_of(store, control_number="000000092")[0] == [ids["ship"]]
    assert ids_of(store, control_number="92")[0] == [ids["ship"]]
    assert ids_of(store, control_number="0200")[0] == [ids["out"]]
    assert ids_of(store, control_number="200")[0] == [ids["out"]]


def test_filters_combine(seeded):
    store, ids = seeded
    assert ids_of(store, partner="harbor")[0] == [ids["ship"]]
    assert ids_of(store, direction=Direction.outbound)[0] == [ids["out"]]
    assert ids_of(store, status=MessageStatus.failed)[0] == [ids["fail"]]
    assert ids_of(store, set_id="945")[0] == [ids["ship"]]
    assert ids_of(store, transport_id="<as2-msg-1@acme>")[0] == [ids["ship"]]
    assert ids_of(store, transport_id=" as2-msg-1@acme ")[0] == [ids["ship"]]  # pasted without brackets
    assert ids_of(store, since=T0 + timedelta(hours=2), until=T0 + timedelta(hours=4))[0] == [ids["out"], ids["ship"]]
    assert ids_of(store, partner="acme", q="4500012345", status=MessageStatus.acked)[0] == [ids["asn"]]


def test_pagination_keeps_total(seeded):
    store, ids = seeded
    p1 = store.search(MessageQuery(limit=3, page=1))
    p2 = store.search(MessageQuery(limit=3, page=2))
    assert p1.total == p2.total == 4
    assert [m.id for m in p1.items + p2.items] == [ids["fail"], ids["out"], ids["ship"], ids["asn"]]


@pytest.mark.parametrize(
    "evil",
    [
        "' OR 1=1 --",
        '"',
        'x" OR "1',
        "%",
        "_",
        "\\",
        "*",
        "NEAR(a b)",
        "4500%",
        "value:4500012345",
        "'; DROP TABLE message; --",
    ],
)
def test_search_text_is_never_sql_or_fts_syntax(seeded, evil):
    store, _ids = seeded
    assert ids_of(store, q=evil) == ([], 0)
    assert store.search(MessageQuery()).total == 4  # still there


def test_business_keys_are_idempotent_and_validated(seeded):
    store, ids = seeded
    store.record_business_keys(ids["asn"], [("po", "4500012345"), ("PO", " 4500012345 ")])
    kinds = sorted((k.kind, k.value) for k in store.business_keys(ids["asn"]))
    assert kinds == [("file", "asn-77.edi"), ("po", "4500012345"), ("tracking", "1Z999AA10123456784")]
    with pytest.raises(ValueError, match="unknown business key kind"):
        store.record_business_keys(ids["asn"], [("colour", "red")])


def test_stats_by_partner_status_day(seeded):
    store, _ids = seeded
    st = store.stats(since=T0)
    assert st["total"] == 4
    assert st["by_partner"] == {"acme": 3, "harbor": 1}
    assert st["by_status"] == {"acked": 2, "failed": 1, "sent": 1}
    assert st["by_direction"] == {"inbound": 3, "outbound": 1}
    assert [d["day"] for d in st["by_day"]] == ["2026-11-01"] and st["by_day"][0]["total"] == 4


def test_a_complete_key_matches_exactly_a_fragment_matches_inside(store):
    a = add(store, 1, keys=[("po", "12345")])
    b = add(store, 2, keys=[("po", "4512345")])
    assert ids_of(store, q="12345")[0] == [a]  # pasted a whole PO: that PO
    assert ids_of(store, q="2345")[0] == [b, a]  # a fragment: every key containing it


def test_postgresql_keys_carry_the_trigram_index_only(store):
    """PostgreSQL: substring search is served by the pg_trgm index; the full-text index (migration 0020) is gone,
    so a key written costs one GIN entry set, not two."""
    if store.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's indexes")
    import sqlalchemy as sa

    with store.engine.connect() as c:
        names = set(c.execute(sa.text("SELECT indexname FROM pg_indexes WHERE tablename = 'business_key'")).scalars())
    assert "ix_business_key_value_trgm" in names
    assert "ix_business_key_value_fts" not in names
