"""Where an asynchronous MDN may go (RFC 4130 sec. 7.3): a guard against request forgery through AS2.

A sender names the URL of its asynchronous MDN in ``Receipt-Delivery-Option``; obeying any URL would let anyone
who can reach ``POST /as2`` make the gateway POST to an internal address. An async MDN therefore goes only:

* to a partner we know (the AS2-From of a partner file's AS2 channel): an unknown sender gets its MDN in the HTTP
  answer (synchronously) or none;
* over ``http`` or ``https`` (no other scheme, no user:password in the URL);
* to a URL the partner file allows: ``async_mdn_urls`` lists exact URLs, or prefixes when an entry ends with
  ``*``; when the list is empty, the scheme, host and port of the partner's own AS2 ``url``.

Pure: strings in, a reason (or None when allowed) out.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

SCHEMES = ("http", "https")


def _origin(url: str) -> tuple[str, str, int] | None:
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES or not parts.hostname:
        return None
    return scheme, parts.hostname.lower(), port or (443 if scheme == "https" else 80)


def refusal(url: str | None, *, known: bool, partner_url: str | None, allowed: Sequence[str] = ()) -> str | None:
    """Why an async MDN to ``url`` is refused, or None when it may be sent."""
    if not url:
        return "no Receipt-Delivery-Option URL"
    if not known:
        return "the sender is not a known partner: asynchronous MDNs go only to partners in a partner file"
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return "the Receipt-Delivery-Option is not a URL"
    if parts.scheme.lower() not in SCHEMES:
        return f"the Receipt-Delivery-Option scheme {parts.scheme or '(none)'!r} is not http or https"
    if parts.username is not None or parts.password is not None:
        return "the Receipt-Delivery-Option URL carries credentials"
    if _origin(url) is None:
        return "the Receipt-Delivery-Option URL has no usable host or port"
    if allowed:
        for entry in allowed:
            if entry.endswith("*") and url.startswith(entry[:-1]):
                return None
            if url == entry:
                return None
        return "the Receipt-Delivery-Option URL is not in the partner's async_mdn_urls"
    if partner_url is None:
        return "the partner file has no AS2 url nor async_mdn_urls: no async MDN destination is allowed"
    if _origin(url) != _origin(partner_url):
        return "the Receipt-Delivery-Option URL is not on the host of the partner's AS2 url (see async_mdn_urls)"
    return None
