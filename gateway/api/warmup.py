"""Work that the first requests would otherwise do on the event loop, done once before the server listens.

Two things are built lazily, on the event loop, by the first request that needs them, and block every other
request (``/api/health`` too) while they are built:

* FastAPI (0.16x) builds the routes of an included router (dependants, parameter and response models: pydantic
  schema generation) the first time a request is routed past that router: the first request for anything but
  ``/api/health`` (the first router) builds every route of the API at once;
* anyio imports its asyncio backend at the first ``run_in_threadpool`` (the first request served by a sync
  endpoint or an AS2 message handed to a worker thread).

On ``gateway serve`` the first ``POST /as2`` of a flood built them, with py-spy sampling the process at load 11 on
two cores: 0.7 s of event loop, one ``/api/health`` answer of 1.3 s. :func:`warm_up` does both before the listening
socket is served (about 55 ms of CPU: 40 for the routes, 12-15 for the import), and ``gateway serve`` then puts
what they build out of the collector's sight (gateway/gcpolicy.py). ``app.openapi()`` would build the routes too, but
costs three times as much, for a schema only ``/docs`` reads. Figures: bench/results/flood.txt.
"""

from __future__ import annotations

import time
from typing import Any

import anyio
from fastapi import FastAPI

from gateway.logging import get_logger

log = get_logger(__name__)


# a path no route matches: routing it walks (and so builds) every route of every included router, as the first
# request for anything but /api/health would; nothing is called, nothing is logged
NO_ROUTE: dict[str, Any] = {"type": "http", "method": "GET", "path": "/-warm-up-", "root_path": "", "headers": []}


def warm_up(app: FastAPI) -> float:
    """Build every route and import anyio's asyncio backend; the seconds it took."""
    started = time.perf_counter()
    for route in app.router.routes:
        route.matches(dict(NO_ROUTE))
    anyio.run(anyio.sleep, 0, backend="asyncio")  # imports the backend the serving loop's worker threads use
    took = time.perf_counter() - started
    log.info("api.warmed", extra={"fields": {"ms": round(took * 1000, 1)}})
    return took
