"""The partner registry: which partner an inbound document belongs to, from its envelope and its channel.

Identification is strict: the ISA sender must be claimed by exactly one partner, the receiver must be one of
our ids (as that partner addresses us), and when the document came in on a partner's own channel the two must
agree. Anything else is an error with a reason, never a guess.
"""

from __future__ import annotations

from collections.abc import Iterable

from gateway.errors import Location, MisaddressedError, RoutingConflictError, UnknownPartnerError
from gateway.partners.schema import InterchangeId, Partner
from gateway.settings import OwnIdentity


def _norm(qualifier: str | None, id_: str | None) -> tuple[str, str]:
    return ((qualifier or "").strip().upper(), (id_ or "").strip().upper())


class PartnerRegistry:
    def __init__(self, partners: Iterable[Partner], own: OwnIdentity) -> None:
        self.own = own
        self._by_id: dict[str, Partner] = {}
        self._by_isa: dict[tuple[str, str], Partner] = {}
        for p in partners:
            self._by_id[p.id] = p
            for iid in p.identity.interchange_ids:
                self._by_isa[_norm(iid.qualifier, iid.id)] = p

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._by_id.values())

    def __len__(self) -> int:
        return len(self._by_id)

    def get(self, partner_id: str) -> Partner | None:
        return self._by_id.get(partner_id)

    def our_ids(self, partner: Partner) -> list[InterchangeId]:
        return partner.our_ids or [InterchangeId(qualifier=self.own.isa_qualifier, id=self.own.isa_id)]

    def by_interchange_id(self, qualifier: str | None, id_: str | None) -> Partner | None:
        return self._by_isa.get(_norm(qualifier, id_))

    def identify(
        self,
        *,
        sender_qualifier: str | None,
        sender_id: str | None,
        receiver_qualifier: str | None,
        receiver_id: str | None,
        channel_partner: str | None = None,
        file: str | None = None,
    ) -> Partner:
        where = Location(file=file, segment_id="ISA", segment_position=1)
        partner = self.by_interchange_id(sender_qualifier, sender_id)
        if partner is None:
            raise UnknownPartnerError(
                f"unknown sender {sender_qualifier}/{sender_id}: no partner file claims this interchange id",
                location=Location(file=file, segment_id="ISA", segment_position=1, element_position=6),
            )
        if channel_partner is not None and channel_partner != partner.id:
            raise RoutingConflictError(
                f"the envelope names partner {partner.id!r} (sender {sender_qualifier}/{sender_id}) but the file "
                f"came in on a channel of partner {channel_partner!r}",
                location=where,
            )
        ours = {_norm(i.qualifier, i.id) for i in self.our_ids(partner)}
        if _norm(receiver_qualifier, receiver_id) not in ours:
            expected = ", ".join(str(i) for i in self.our_ids(partner))
            raise MisaddressedError(
                f"addressed to {receiver_qualifier}/{receiver_id}, which is not us for partner {partner.id!r} "
                f"(expected {expected})",
                location=Location(file=file, segment_id="ISA", segment_position=1, element_position=8),
            )
        return partner
