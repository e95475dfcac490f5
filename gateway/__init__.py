"""B2B partner gateway for X12 EDI and file exchange."""

__version__ = "0.1.0"

# oscrypto (under pyas2lib) cannot read OpenSSL 3.0.10+ version strings; the fix is an import hook that must be in
# place before oscrypto loads, whatever imports it first (see gateway/as2/compat.py). It imports nothing heavy.
from gateway.as2 import compat as _as2_compat

_as2_compat.install()
