"""AS2 (RFC 4130): receive with MDNs, send and track MDNs, on pyas2lib.

Importing this package installs the oscrypto fix (:mod:`gateway.as2.compat`) before anything imports pyas2lib
(``import gateway`` does it too). pyas2lib logs whole payloads at DEBUG level; its logger is held at ERROR so that
payloads never reach the gateway's logs whatever the gateway's own log level (outcomes are logged by the gateway).
"""

import logging

from gateway.as2 import compat as _compat

_compat.install()
logging.getLogger("pyas2lib").setLevel(logging.ERROR)
