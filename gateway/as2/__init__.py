"""AS2 (RFC 4130): receive with MDNs, send and track MDNs, on pyas2lib.

Importing this package installs the oscrypto fix (:mod:`gateway.as2.compat`) before anything imports pyas2lib;
modules in this package import pyas2lib only after it.
"""

from gateway.as2 import compat as _compat

_compat.install()
