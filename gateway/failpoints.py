"""Named fault-injection points for crash tests (the pattern of FoundationDB's and TiKV's fail points).

``GATEWAY_FAILPOINTS="inbound.after_archive=exit"`` makes the process die at that point exactly as a power cut
would (no clean-up, no finally blocks); ``=kill`` sends the process SIGKILL (what ``kill -9`` does); ``=raise``
raises; ``=hang`` blocks that thread for good while the rest of the process runs on (work stuck in flight on a
live node: its heartbeat keeps its leases, until the test kills it). Empty in production; checking an unset
point costs a dict lookup.

Points: ``inbound.after_archive``, ``inbound.before_commit``, ``inbound.before_mapping`` (acked, not yet mapped),
``acks.after_archive`` (a 997/999/TA1 archived, nothing recorded), ``acks.after_create`` (the
997/999/TA1 recorded and linked to the message it answers, not yet delivered),
``archive.before_rename`` (a payload written to its ``.incoming-*`` temporary file, not yet in place),
``intake.before_submit`` (a broker message taken, nothing recorded), ``as2.after_stream_parse`` (a large AS2
message archived, decrypted and verified in spool files, no verdict recorded), ``intake.before_ack`` (submitted, not yet
acknowledged to the broker), ``intake.after_dead_letter`` (the copy dead-lettered, the original not yet acked),
``folder.after_claim`` (a file of a shared inbox renamed into this node's working folder, nothing recorded yet),
``inbound.after_key_mark`` (a large file's reading noted where its keys begin, before writing the first chunk of
them), ``inbound.before_forget_keys`` (that reading refused after chunks of its keys were written, not yet deleted).
"""

from __future__ import annotations

import os
import signal
import threading


class FailPoints:
    def __init__(self, spec: str = "") -> None:
        self._actions: dict[str, str] = {}
        for part in filter(None, (p.strip() for p in spec.split(","))):
            name, _, action = part.partition("=")
            self._actions[name.strip()] = (action or "exit").strip()

    def __bool__(self) -> bool:
        return bool(self._actions)

    def hit(self, name: str) -> None:
        action = self._actions.get(name)
        if action == "exit":
            os._exit(77)
        if action == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        if action == "raise":
            raise RuntimeError(f"failpoint {name} hit")
        if action == "hang":
            threading.Event().wait()
