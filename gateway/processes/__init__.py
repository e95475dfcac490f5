"""Inbound worker processes: ``gateway serve`` on several cores.

One Python process uses one core. With ``inbound_processes`` = N above one, ``gateway serve`` (the *parent*) starts
N-1 inbound worker processes beside itself (:mod:`gateway.processes.supervisor`). Each worker
(:mod:`gateway.processes.worker`) is a fresh interpreter (``python -m gateway.processes.worker``, never a fork of the
threaded parent) with its own store engine, its own node id (the parent's id + ``-w<slot>``) and heartbeat in the
node registry, and takes files from the partners' folder inboxes the way several nodes share one inbox: each file is
claimed by one process (:mod:`gateway.transports.claims`) and taken through the whole inbound flow by it (archive,
validate, 997, mapping, hand-off rows). Everything else (the API, whole-store sweeps, retries, hand-off delivery,
AS2, webhooks, SFTP, broker intake) stays in the parent.

Supervision: the parent restarts a worker that exits, with a fresh node id, after recording the dead one as stopped
in the node registry so that its claimed files and leased messages are taken over at once. A worker exits when its
parent does (it watches the pipe the parent holds open: end of file means the parent is gone), and stops cleanly on
SIGTERM (its unfinished claims go back to the inboxes).
"""
