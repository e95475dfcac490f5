"""``notifications:`` in config/gateway.yaml: where notices go, which kinds, how often at most."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from gateway.partners.secrets import SecretRef


class WebhookTarget(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(pattern=r"^https?://", description="where notices are POSTed as JSON")
    format: Literal["json", "slack"] = Field(
        "json", description="json: the gateway's own body; slack: Slack incoming-webhook body (text + blocks)"
    )
    headers: dict[str, SecretRef] = Field(
        default_factory=dict, description="extra headers whose values are secrets, e.g. Authorization"
    )
    timeout_seconds: float = Field(10.0, gt=0)


class EmailTarget(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: str = Field(min_length=1, description="SMTP server")
    port: int = Field(25, ge=1, le=65535)
    security: Literal["none", "starttls", "ssl"] = "none"
    username: str | None = None
    password: SecretRef | None = None
    sender: str = Field(min_length=3, description="From: address")
    to: list[str] = Field(min_length=1, description="recipients")
    timeout_seconds: float = Field(10.0, gt=0)


class NotificationSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    webhook: WebhookTarget | None = None
    email: EmailTarget | None = None
    kinds: list[str] | None = Field(None, description="send only these kinds (default: all)")
    repeat_hours: float = Field(24.0, gt=0, description="the same notice (kind + key) goes out once per this")
    max_per_hour: int = Field(30, ge=1, description="rate limit per gateway process; the excess becomes one digest")
    certificate_check_minutes: float = Field(60.0, gt=0, description="how often certificate expiry is checked")

    @property
    def enabled(self) -> bool:
        return self.webhook is not None or self.email is not None
