"""``gateway serve``: the API, the scheduler and the folder watchers in one process."""

from __future__ import annotations

from pathlib import Path

import typer

from gateway.cli.common import fail, settings_from
from gateway.cli.failures import StartupError, archive_missing, bind, check_partners_folder, die
from gateway.errors import GatewayError
from gateway.gcpolicy import settle
from gateway.logging import configure_logging, get_logger
from gateway.malloc import limit_arenas

SHUTDOWN_GRACE_SECONDS = 3


def migrate_apart(database: str) -> None:
    """Pending schema migrations applied by a forked child process, so that the serving process never imports
    alembic (about 10 MB it would keep for its whole life; ``gateway.store.migrate``). Any problem
    here (store unreachable, the child failing) is left to ``Gateway()``, which migrates in-process as before and
    reports the error the usual way."""
    from sqlalchemy.exc import SQLAlchemyError

    from gateway.store.db import create_db_engine
    from gateway.store.migrate import at_head, upgrade_in_child

    try:
        engine = create_db_engine(database)
        try:
            if at_head(engine):
                return
        finally:
            engine.dispose()
    except (GatewayError, SQLAlchemyError, RuntimeError, OSError):
        return
    upgrade_in_child(database)


def serve(
    config: Path | None = typer.Option(None, "--config", "-c", help="settings file (default: config/gateway.yaml)"),
    host: str | None = typer.Option(None, help="listen address (default: api_host setting, 127.0.0.1)"),
    port: int | None = typer.Option(None, help="listen port (default: api_port setting, 8080)"),
) -> None:
    """Run the gateway: API on HOST:PORT, partner channels polled and watched, scheduled jobs."""
    import uvicorn

    from gateway.api.app import create_app
    from gateway.api.warmup import warm_up
    from gateway.runtime import Gateway

    overrides = {k: v for k, v in {"api_host": host, "api_port": port}.items() if v is not None}
    settings = settings_from(config, **overrides)
    configure_logging(settings.log_level, settings.log_format)
    log = get_logger("gateway.serve")
    try:
        check_partners_folder(settings.partners_path)
        # the port first: a gateway that cannot listen must not start picking up files
        sock = bind(settings.api_host, settings.api_port)
    except StartupError as exc:
        die(exc)
    migrate_apart(settings.database)
    try:
        gw = Gateway(settings)
    except GatewayError as exc:
        sock.close()
        fail(exc)
    except BaseException:
        sock.close()
        raise
    if settings.archive_check_messages:  # several nodes: the shared archive must be this node's archive too
        from gateway.store.archive_check import check_archive

        found = check_archive(gw.store, gw.archive, newest=settings.archive_check_messages)
        if not found.ok:
            sock.close()
            gw.engine.dispose()
            die(archive_missing(found.reason()))
    log.info(
        "gateway.serving",
        extra={
            "fields": {
                "url": f"http://{settings.api_host}:{settings.api_port}",
                "data_dir": str(settings.data_path),
            }
        },
    )
    app = create_app(gw, manage_runtime=True)
    warm_up(app)  # what the first requests would build on the event loop, built now: gateway/api/warmup.py
    config_ = uvicorn.Config(
        app,
        host=settings.api_host,
        port=settings.api_port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=SHUTDOWN_GRACE_SECONDS,  # SIGTERM: requests in flight get this long, then stop
    )
    # the ~160,000 objects of imports, start-up and warm-up never die: out of the collector's sight, so that its full
    # collections (frequent under a burst of files) stop walking them again and again (gateway/gcpolicy.py)
    log.info("gc.settled", extra={"fields": settle().fields()})
    limit_arenas()  # before the worker threads start: gateway/malloc.py
    uvicorn.Server(config_).run(sockets=[sock])
