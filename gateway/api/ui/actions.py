"""Actions the support page offers on a message, by role, each behind a confirmation page.

An action is declared once here: which role it needs, when it applies (shown only then), and what it runs. The
actor recorded on the timeline is ``ui:<key name>``. Work landing later adds its own (hand-off replay,
resolving a worklist item) with :func:`add_action`; the message page and its confirmation pick them up.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from gateway.flows import actions as flow_actions
from gateway.runtime import Gateway
from gateway.store.models import ApiRole, Direction, Message


@dataclass(frozen=True, slots=True)
class UiAction:
    name: str
    label: str
    role: ApiRole
    explain: str  # shown on the confirmation page
    applies: Callable[[Message], bool]
    run: Callable[[Gateway, int, str], Message]  # (gateway, message id, actor) -> message after


def _resend(gw: Gateway, message_id: int, actor: str) -> Message:
    return flow_actions.resend(
        store=gw.store, archive=gw.archive, registry=lambda: gw.registry, outbound=gw.outbound,
        message_id=message_id, actor=actor,
    )  # fmt: skip


def _reprocess(gw: Gateway, message_id: int, actor: str) -> Message:
    return flow_actions.reprocess(
        store=gw.store, archive=gw.archive, inbound=gw.inbound, message_id=message_id, actor=actor
    )


_ACTIONS: dict[str, UiAction] = {}


def add_action(action: UiAction) -> None:
    _ACTIONS[action.name] = action


def get_action(name: str) -> UiAction | None:
    return _ACTIONS.get(name)


def available(m: Message) -> list[UiAction]:
    return [a for a in _ACTIONS.values() if a.applies(m)]


add_action(
    UiAction(
        name="resend",
        label="Resend",
        role=ApiRole.operator,
        explain="The archived bytes are delivered to the partner again over its channel, as they were first sent.",
        applies=lambda m: m.direction == Direction.outbound and m.purged_at is None,
        run=_resend,
    )
)
add_action(
    UiAction(
        name="reprocess",
        label="Reprocess",
        role=ApiRole.operator,
        explain="The archived bytes run through the inbound flow again (parse, validate, map, acknowledge), "
        "for example after the partner file was fixed.",
        applies=lambda m: m.direction == Direction.inbound and m.purged_at is None,
        run=_reprocess,
    )
)
