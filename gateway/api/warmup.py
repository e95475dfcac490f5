"""Work that the first requests would otherwise do on the event loop, done once before the server listens.

Two things are built lazily, on the event loop, by the first request that needs them, and block every other
request (``/api/health`` too) while they are built:

* FastAPI (0.16x) builds the routes of an included router (dependants, parameter and response models: pydantic
  schema generation) the first time a request is routed past that router: the first request for anything but
  ``/api/health`` (the first router) builds every route of the API at once;
* anyio imports its asyncio backend at the first ``run_in_threadpool`` (the first request served by a sync
  endpoint or an AS2 message handed to a worker thread).

Measured on ``gateway serve`` at load 11 on two cores: about 0.7 s of event loop taken by the first ``POST /as2``
of a flood, and one ``/api/health`` answer delayed by 1.3 s (bench/results/flood.txt). :func:`warm_up` does both
before the listening socket is served, so ``gc.freeze()`` in ``gateway serve`` also puts what they build out of
the collector's sight.
"""

from __future__ import annotations

import time

import anyio
from fastapi import FastAPI

from gateway.logging import get_logger

log = get_logger(__name__)


def warm_up(app: FastAPI) -> float:
    """Build every route and import anyio's asyncio backend; the seconds it took."""
    started = time.perf_counter()
    app.openapi()  # walks every route of every included router: FastAPI builds (and keeps) each on the way
    anyio.run(anyio.sleep, 0, backend="asyncio")  # imports the backend the serving loop's worker threads use
    took = time.perf_counter() - started
    log.info("api.warmed", extra={"fields": {"ms": round(took * 1000, 1)}})
    return took
