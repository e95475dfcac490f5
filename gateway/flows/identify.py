"""Who sent an X12 file, and what to say when it is refused: the inbound flow's pure checks on an analysis.

- :func:`identify_partner`: the one partner all interchanges of a file come from (quarantine errors otherwise);
- :func:`require_senders`: bytes that merely hold "ISA" are not X12 (no readable sender);
- :func:`rejection`: the reason a file whose acknowledgement rejected it ends ``failed`` with.
"""

from __future__ import annotations

from typing import Any

from gateway.errors import DocumentError, NotEDIError, RoutingConflictError
from gateway.flows.redact import withhold_data
from gateway.partners.registry import PartnerRegistry
from gateway.partners.schema import Partner


def identify_partner(
    analysis: Any, registry: PartnerRegistry, channel_partner: str | None, *, file: str | None, quote_data: bool
) -> Partner:
    """The partner of every interchange in the file; raises NotEDIError (no interchange), the registry's
    quarantine errors (unknown or misaddressed), or RoutingConflictError (several partners in one file)."""
    if not analysis.interchanges:
        first = analysis.errors[0] if analysis.errors else None
        raise NotEDIError(
            withhold_data(first.message, quote_data=quote_data)
            if first
            else "no X12 interchange (ISA segment) was found in the file",
            location=first.location if first else None,
        )
    partners = {}
    for ic in analysis.interchanges:
        p = registry.identify(
            sender_qualifier=ic.sender_qualifier,
            sender_id=ic.sender_id,
            receiver_qualifier=ic.receiver_qualifier,
            receiver_id=ic.receiver_id,
            channel_partner=channel_partner,
            group_senders=[g.sender_id for g in ic.groups],
            file=file,
        )
        partners[p.id] = p
    if len(partners) > 1:
        raise RoutingConflictError(
            f"one file holds interchanges from several partners ({', '.join(sorted(partners))})",
            hint="ask the senders to send separate files",
        )
    return next(iter(partners.values()))


def plausible_id(qualifier: str | None, value: str | None) -> bool:
    """ISA05/ISA06 readable as text: printable ASCII, an id present. Generous on lengths (tolerant partners pad
    or overrun them); what it refuses is noise: empty ids, control characters, undecodable bytes."""
    q, v = (qualifier or "").strip(), (value or "").strip()
    ok = all(32 <= ord(c) < 127 for c in q + v)
    return ok and len(q) <= 3 and 1 <= len(v) <= 35


def require_senders(analysis: Any, quote_data: bool) -> None:
    """An "interchange" without a readable sender is bytes that happen to hold "ISA" (random or damaged data): say
    the file is not X12, rather than quarantine it for an unknown sender with an empty or garbled id."""
    for ic in analysis.interchanges:
        if not plausible_id(ic.sender_qualifier, ic.sender_id):
            junk = next((e for e in analysis.errors if getattr(e, "code", "") == "junk_data"), None)
            why = f"; {withhold_data(junk.message, quote_data=quote_data)}" if junk else ""
            raise NotEDIError(
                f"the file is not usable X12: its ISA header has no readable sender (ISA05/ISA06){why}",
                hint="check that the partner sent an X12 file and that it arrived intact; ask for it again",
            )


def rejection(analysis: Any, quote_data: bool = False) -> DocumentError:
    """The failure a rejected file ends with: its first error (data withheld unless allowed) and how many more."""
    errors = list(analysis.errors)
    for ic in analysis.interchanges:
        errors.extend(ic.errors)
        for g in ic.groups:
            errors.extend(g.errors)
            for t in g.transactions:
                errors.extend(t.errors)
    first = errors[0] if errors else None
    more = f" (and {len(errors) - 1} more errors)" if len(errors) > 1 else ""
    text = withhold_data(first.message if first else "the document was rejected", quote_data=quote_data) + more
    return DocumentError(
        text,
        location=getattr(first, "location", None),
        hint="the partner was sent an acknowledgement listing the errors; a corrected file can be resent",
    )
