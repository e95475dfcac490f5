"""``new_message`` (gateway/store/models.py): the store's fast ``Message(**fields)`` for rows it inserts with Core."""

from __future__ import annotations

import subprocess
import sys

from sqlalchemy import inspect
from sqlmodel import Session, SQLModel, create_engine, select

from gateway.store.models import AckStatus, Direction, Message, MessageStatus, new_message

FIELDS = dict(
    direction=Direction.outbound, status=MessageStatus.queued, partner_id="harbor-3pl", idempotency_key="ack:1:1",
    file_name="harbor-3pl-997-000000001.x12", content_type="application/edi-x12", document_format="x12",
    set_ids="997", size=412, sha256="a" * 64, archive_key="ab/cd", correlation_id="c-1",
    validation_status="valid", delivery_status="pending", ack_status=AckStatus.not_expected.value,
)


def _same_object(made: Message, expected: Message) -> None:
    got, want = made.model_dump(), expected.model_dump()
    assert got.keys() == want.keys()
    assert {k for k in want if got[k] != want[k]} <= {"created_at", "updated_at"}  # the clock moved
    assert made.created_at is not None and made.updated_at is not None
    assert list(made.__dict__) == list(expected.__dict__)
    assert made.__pydantic_fields_set__ == expected.__pydantic_fields_set__
    mine, theirs = inspect(made), inspect(expected)
    assert mine.transient and theirs.transient
    assert mine.modified == theirs.modified
    assert list(mine.committed_state.items()) == list(theirs.committed_state.items())


def test_new_message_is_what_the_constructor_makes():
    _same_object(new_message(dict(FIELDS)), Message(**FIELDS))
    few = {"direction": Direction.inbound, "status": MessageStatus.received, "sha256": "0" * 64}
    _same_object(new_message(few), Message(**few))


def test_new_message_leaves_unusual_fields_to_the_constructor():
    missing = {k: v for k, v in FIELDS.items() if k != "sha256"}  # required field missing
    _same_object(new_message(missing), Message(**missing))


def test_new_message_behaves_as_an_orm_object(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'm.db'}")
    SQLModel.metadata.create_all(engine, tables=[Message.__table__])  # type: ignore[attr-defined]
    msg = new_message(dict(FIELDS))
    msg.status = MessageStatus.sent  # an attribute set afterwards is a change like any other
    assert inspect(msg).attrs.status.history.added == [MessageStatus.sent]
    with Session(engine) as s:
        s.add(msg)
        s.commit()
        assert msg.id is not None
    with Session(engine) as s:
        back = s.exec(select(Message).where(Message.id == msg.id)).one()
        assert back.status == MessageStatus.sent and back.idempotency_key == "ack:1:1" and back.size == 412
        assert back.ack_status == AckStatus.not_expected.value and back.created_at is not None


def test_new_message_first_in_a_fresh_process():
    """The first message a process makes may be a ``new_message`` (``gateway send``): its attributes work."""
    code = (
        "from gateway.store.models import Direction, MessageStatus, new_message\n"
        "m = new_message({'direction': Direction.outbound, 'status': MessageStatus.queued, 'sha256': '0' * 64})\n"
        "m.id = 5\n"
        "m.status = MessageStatus.sent\n"
        "assert (m.id, m.status) == (5, MessageStatus.sent)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
