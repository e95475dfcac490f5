"""The search form's filters: the same ones, with the same limits, as ``GET /api/messages``."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field, model_validator

from gateway.store.models import Direction, MessageStatus
from gateway.store.search import MessageQuery


class UiFilters(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    q: str | None = Field(None, max_length=200)
    partner: str | None = Field(None, max_length=63, pattern=r"^[a-z0-9][a-z0-9._-]*$")
    direction: Direction | None = None
    set_id: str | None = Field(None, pattern=r"^\d{3}$")
    status: MessageStatus | None = None
    since: datetime | None = None
    until: datetime | None = None
    control_number: str | None = Field(None, min_length=1, max_length=15, pattern=r"^[A-Za-z0-9]+$")
    as2_message_id: str | None = Field(None, max_length=998)
    page: int = Field(1, ge=1, le=100_000)
    limit: int = Field(50, ge=1, le=500)

    @model_validator(mode="after")
    def _window(self) -> UiFilters:
        # the form's datetime-local fields carry no zone: they are UTC, as the page says
        if self.since is not None and self.since.tzinfo is None:
            self.since = self.since.replace(tzinfo=UTC)
        if self.until is not None and self.until.tzinfo is None:
            self.until = self.until.replace(tzinfo=UTC)
        if self.since and self.until and self.since >= self.until:
            raise ValueError("'until' must be after 'since'")
        return self

    def query(self) -> MessageQuery:
        return MessageQuery(
            q=self.q, partner=self.partner, direction=self.direction, set_id=self.set_id, status=self.status,
            since=self.since, until=self.until, control_number=self.control_number,
            transport_id=self.as2_message_id, page=self.page, limit=self.limit,
        )  # fmt: skip
