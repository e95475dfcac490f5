"""The partner registry: which partner an inbound item belongs to, from everything that names one.

An item can name its partner several ways: the channel it came in on (a partner's folder, SFTP server or
webhook whose signature verified), the AS2 headers (AS2-From), and the X12 envelope (ISA sender, GS
application sender). Identification is strict: each of them that is present must name the *same* partner,
the ISA sender must be claimed by a partner file, and the receiver (ISA08, AS2-To) must be one of our ids.
Anything else raises an error with the reason, which the inbound flow turns into a quarantined message;
the registry never guesses.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from gateway.errors import Location, MisaddressedError, RoutingConflictError, UnknownPartnerError
from gateway.partners.schema import InterchangeId, Partner
from gateway.settings import OwnIdentity


def _norm(qualifier: str | None, id_: str | None) -> tuple[str, str]:
    return ((qualifier or "").strip().upper(), (id_ or "").strip().upper())


def _norm_id(value: str | None) -> str:
    return (value or "").strip().upper()


class PartnerRegistry:
    def __init__(self, partners: Iterable[Partner], own: OwnIdentity) -> None:
        self.own = own
        self._by_id: dict[str, Partner] = {}
        self._by_isa: dict[tuple[str, str], Partner] = {}
        self._by_as2: dict[str, Partner] = {}
        self._by_gs: dict[str, set[str]] = {}
        for p in partners:
            self._by_id[p.id] = p
            for iid in p.identity.interchange_ids:
                self._by_isa[_norm(iid.qualifier, iid.id)] = p
            for as2_id in p.as2_ids:
                self._by_as2[as2_id] = p  # AS2 ids compare exactly (RFC 4130: case-sensitive)
            for app in p.identity.application_ids:
                self._by_gs.setdefault(_norm_id(app), set()).add(p.id)

    def __iter__(self) -> Iterator[Partner]:
        return iter(self._by_id.values())

    def __len__(self) -> int:
        return len(self._by_id)

    def get(self, partner_id: str) -> Partner | None:
        return self._by_id.get(partner_id)

    def our_ids(self, partner: Partner) -> list[InterchangeId]:
        return partner.our_ids or [InterchangeId(qualifier=self.own.isa_qualifier, id=self.own.isa_id)]

    def by_interchange_id(self, qualifier: str | None, id_: str | None) -> Partner | None:
        return self._by_isa.get(_norm(qualifier, id_))

    def by_as2_id(self, as2_id: str | None) -> Partner | None:
        return self._by_as2.get((as2_id or "").strip())

    # -- before the payload is read: the transport's own evidence ------------------------------------------------
    def identify_source(
        self,
        *,
        channel_partner: str | None = None,
        as2_from: str | None = None,
        as2_to: str | None = None,
        webhook_partner: str | None = None,
        file: str | None = None,
    ) -> Partner | None:
        """The partner named by the transport (channel, AS2 headers, webhook credentials); None if none does.

        AS2 and webhook listeners call this first, to choose certificates and secrets; it raises when the
        sources disagree, when AS2-From is nobody's, or when AS2-To is not ours.
        """
        pid = self._source_id(
            channel_partner=channel_partner,
            as2_from=as2_from,
            as2_to=as2_to,
            webhook_partner=webhook_partner,
            file=file,
        )
        if pid is None:
            return None
        partner = self.get(pid)
        if partner is None:
            raise UnknownPartnerError(f"partner {pid!r} named by the channel is not loaded (removed or invalid?)")
        return partner

    def _source_id(
        self,
        *,
        channel_partner: str | None = None,
        as2_from: str | None = None,
        as2_to: str | None = None,
        webhook_partner: str | None = None,
        file: str | None = None,
    ) -> str | None:
        claims: list[tuple[str, str]] = []
        if channel_partner is not None:
            claims.append(("the channel", channel_partner))
        if webhook_partner is not None:
            claims.append(("the webhook credentials", webhook_partner))
        if as2_from is not None:
            p = self.by_as2_id(as2_from)
            if p is None:
                raise UnknownPartnerError(
                    f"unknown AS2-From {as2_from!r}: no partner file claims this AS2 id",
                    location=Location(file=file, field="AS2-From"),
                )
            claims.append((f"AS2-From {as2_from!r}", p.id))
        if as2_to is not None:
            ours = {self.own.as2_id} if self.own.as2_id else set()
            if as2_to.strip() not in ours:
                raise MisaddressedError(
                    f"AS2-To {as2_to!r} is not our AS2 id (expected {', '.join(sorted(ours)) or 'identity.as2_id'})",
                    location=Location(file=file, field="AS2-To"),
                    hint="check identity.as2_id in config/gateway.yaml and the partner's AS2 settings",
                )
        _agree(claims, file=file)
        return claims[0][1] if claims else None

    # -- from the envelope ---------------------------------------------------------------------------------------
    def identify(
        self,
        *,
        sender_qualifier: str | None,
        sender_id: str | None,
        receiver_qualifier: str | None,
        receiver_id: str | None,
        channel_partner: str | None = None,
        group_senders: Iterable[str] = (),
        as2_from: str | None = None,
        as2_to: str | None = None,
        webhook_partner: str | None = None,
        file: str | None = None,
    ) -> Partner:
        """The partner of one interchange: its ISA sender, checked against every other source present."""
        source = self._source_id(
            channel_partner=channel_partner,
            as2_from=as2_from,
            as2_to=as2_to,
            webhook_partner=webhook_partner,
            file=file,
        )
        where = Location(file=file, segment_id="ISA", segment_position=1)
        partner = self.by_interchange_id(sender_qualifier, sender_id)
        if partner is None:
            came = f"; it came in through partner {source!r}" if source is not None else ""
            raise UnknownPartnerError(
                f"unknown sender {sender_qualifier}/{sender_id}: no partner file claims this interchange id{came}",
                location=Location(file=file, segment_id="ISA", segment_position=1, element_position=6),
                hint=(
                    f"if {sender_qualifier}/{sender_id} is {source!r}, add it to identity.interchange_ids in its "
                    "partner file, then reprocess"
                    if source is not None
                    else None
                ),
            )
        if source is not None and source != partner.id:
            raise RoutingConflictError(
                f"the envelope names partner {partner.id!r} (sender {sender_qualifier}/{sender_id}) but the file "
                f"came in through partner {source!r}",
                location=where,
            )
        for gs in group_senders:
            owners = self._by_gs.get(_norm_id(gs), set())
            if owners and partner.id not in owners:
                raise RoutingConflictError(
                    f"the ISA sender is partner {partner.id!r} but the GS sender {gs!r} belongs to "
                    f"{', '.join(sorted(owners))}",
                    location=Location(file=file, segment_id="GS", element_position=2),
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


def _agree(claims: list[tuple[str, str]], *, file: str | None) -> None:
    named = {pid for _what, pid in claims}
    if len(named) > 1:
        detail = ", ".join(f"{what} names {pid!r}" for what, pid in claims)
        raise RoutingConflictError(
            f"the sources of this item name different partners: {detail}", location=Location(file=file)
        )
