"""`oms`: the service's command line."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import structlog

from app.config import Settings
from app.logs import configure_logging


def _migrate(settings: Settings) -> int:
    from app.adapters.db import open_database
    from app.adapters.migrations import migrate

    db = open_database(settings)
    try:
        applied = migrate(db, settings.migrations_dir)
    finally:
        db.close()
    structlog.get_logger("oms").info(
        "migrations_done", applied=applied, dialect=settings.dialect
    )
    return 0


def app_from_environment() -> object:
    """The API as each `oms serve --workers N` process builds it: its settings from the
    environment (uvicorn's app factory)."""
    from app.api.app import create_app

    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    return create_app(settings)


def _serve(settings: Settings, host: str, port: int, workers: int = 1) -> int:
    import uvicorn

    if workers == 1:
        from app.api.app import create_app

        app = create_app(settings)
        uvicorn.run(app, host=host, port=port, log_config=None, access_log=False)
        return 0
    if settings.dialect == "sqlite":
        print("--workers above 1 needs PostgreSQL: a SQLite store is served by one process "
              "(set DATABASE_URL to a postgresql:// URL, or serve with --workers 1)",
              file=sys.stderr)
        return 2
    log = structlog.get_logger("oms")
    if settings.rate_limit_storage.get_secret_value().startswith("memory://"):
        log.warning("rate_limit_per_process", workers=workers,
                    detail="each process counts its own requests; set OMS_RATE_LIMIT_STORAGE "
                    "to a Redis URL to share one budget")
    if settings.sync_mode == "embedded" or settings.run_projections:
        # Safe (the jobs run under leases, a projection under an advisory lock: one process
        # does the work, the others stand by), but a separate `oms worker` is the usual shape.
        log.info("serve_runs_background_work", workers=workers, sync_mode=settings.sync_mode,
                 run_projections=settings.run_projections)
    shared_metrics = _share_metrics_between_processes()
    try:
        uvicorn.run("app.cli:app_from_environment", factory=True, host=host, port=port,
                    workers=workers, log_config=None, access_log=False)
    finally:
        if shared_metrics is not None:
            import shutil

            shutil.rmtree(shared_metrics, ignore_errors=True)
    return 0


def _share_metrics_between_processes() -> str | None:
    """The API processes' counters summed in /metrics whatever process answers it: each
    writes them to PROMETHEUS_MULTIPROC_DIR (prometheus_client's multiprocess mode). Unless
    it is set already, a new directory, removed at exit (returned)."""
    import os
    import tempfile

    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return None
    path = tempfile.mkdtemp(prefix="oms-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = path
    return path


def _worker(settings: Settings) -> int:
    """Projections and marketplace sync jobs without the HTTP API, until SIGTERM or Ctrl-C."""
    import signal
    import threading

    from app.adapters.db import open_database
    from app.adapters.recorders import EVENTS_TABLE
    from app.bootstrap import build_sync, open_service, wake_feeds_on_stock_out
    from app.projections import runners as projection_runners
    from app.projections.listener import LogListener
    from app.projections.offers import OffersProjection

    log = structlog.get_logger("oms")
    db = open_database(settings)
    service = open_service(settings)
    runners = projection_runners(
        db, batch_size=settings.projection_batch_size,
        poll_interval=settings.projection_poll_interval,
    )

    def wake_all() -> None:
        for runner in runners.values():
            runner.wake()

    service.store.on_saved(wake_all)
    listener = LogListener(db, EVENTS_TABLE, wake_all)
    sync = build_sync(settings, db, service)
    offers_projection = runners["offers"].projection if "offers" in runners else None
    if sync is not None and isinstance(offers_projection, OffersProjection):
        wake_feeds_on_stock_out(offers_projection, sync)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    metrics_server = _serve_worker_metrics(settings, db)
    for runner in runners.values():
        runner.start()
    listener.start()
    if sync is not None:
        sync.start()
    log.info("worker_started", channels=[c.name for c in settings.channels()],
             projections=list(runners), metrics_port=settings.worker_metrics_port or None)
    try:
        stop.wait()
    finally:
        if metrics_server is not None:
            metrics_server.shutdown()
            metrics_server.server_close()
        if sync is not None:
            sync.stop()
        listener.stop()
        for runner in runners.values():
            runner.stop()
        service.close()
        db.close()
        log.info("worker_stopped")
    return 0


def _serve_worker_metrics(settings: Settings, db: Any) -> Any:
    """The worker's own metrics over HTTP (OMS_WORKER_METRICS_PORT; 0: none): its import and
    feed rounds, and the gauges read from the store. The server, to shut down; None if off or
    if the port cannot be had (logged: the worker goes on without)."""
    if not settings.worker_metrics_port:
        return None
    from prometheus_client import start_http_server

    from app.bootstrap import metrics_registry

    try:
        server, _ = start_http_server(settings.worker_metrics_port, settings.worker_metrics_host,
                                      registry=metrics_registry(settings, db))  # type: ignore[arg-type]
    except OSError as exc:
        # The port taken (another worker on this machine): the worker still does its work.
        structlog.get_logger("oms").error(
            "worker_metrics_unavailable", port=settings.worker_metrics_port,
            error=f"{type(exc).__name__}: {exc}")
        return None
    return server


def _sandbox(args: argparse.Namespace) -> int:
    from pathlib import Path

    from sandbox.config import SandboxConfig, Timings
    from sandbox.server import run

    timings = Timings(demo_orders_per_minute=args.demo_rate)
    if args.payment_delay is not None:
        timings.payment_delay = args.payment_delay
    state_file = Path(args.state_file) if args.state_file else None
    run(args.host, args.port,
        SandboxConfig(seed=args.seed, timings=timings, state_file=state_file))
    return 0


def _keys(settings: Settings, args: argparse.Namespace) -> int:
    import os
    import secrets
    from datetime import UTC, datetime
    from pathlib import Path

    from app.adapters.api_keys import ApiKeyStore, InvalidKeyRequest
    from app.adapters.db import open_database

    def when(epoch: float | None) -> str:
        return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S") if epoch else "-"

    db = open_database(settings)
    store = ApiKeyStore(db)
    try:
        if args.action == "create":
            try:
                key, secret = store.create(args.name, args.role)
            except InvalidKeyRequest as exc:
                print(f"cannot create the key: {exc}", file=sys.stderr)
                return 2
            print(secret)
            print(f"key {key.name!r} ({key.role}) created; it is shown once, keep it now",
                  file=sys.stderr)
            return 0
        if args.action == "list":
            print(f"{'name':<24} {'role':<11} {'prefix':<9} {'created':<20} {'last used':<20} revoked")
            for key in store.list():
                print(f"{key.name:<24} {key.role:<11} {key.prefix:<9} {when(key.created_at):<20} "
                      f"{when(key.last_used_at):<20} {when(key.revoked_at)}")
            return 0
        if args.action == "revoke":
            revoked = store.revoke(args.name)
            if revoked is None:
                print(f"no key named {args.name!r}", file=sys.stderr)
                return 2
            print(f"key {args.name!r} revoked", file=sys.stderr)
            return 0
        # demo: a development operator key kept in a file, made again when it no longer works
        path = Path(args.file)
        if path.exists() and store.authenticate(path.read_text().strip()) is not None:
            print(path.read_text().strip())
            return 0
        name = "demo-operator"
        if store.get(name) is not None:
            store.revoke(name)
            # Unique even when made twice in one second (the timestamp alone is not).
            name = f"demo-operator-{int(datetime.now(UTC).timestamp())}-{secrets.token_hex(3)}"
        _, secret = store.create(name, "operator")
        path.parent.mkdir(parents=True, exist_ok=True)
        # Created private: the key is never readable by others, not even for a moment.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as file:
            file.write(secret + "\n")
        print(secret)
        return 0
    finally:
        db.close()


def _offers(settings: Settings, args: argparse.Namespace) -> int:
    """`oms offers import FILE`: the same upsert as POST /v1/offers/{channel}/bulk."""
    import json
    from pathlib import Path

    from app.adapters.db import open_database
    from app.adapters.offer_source import SourceError, read_source
    from app.bootstrap import offer_service, open_service
    from app.domain.actor import Actor, acting_as

    path = Path(args.file)
    kind = "application/json" if (args.format or path.suffix.lstrip(".")) == "json" else "text/csv"
    try:
        rows = read_source(path.read_bytes(), kind)
    except (OSError, SourceError) as exc:
        print(f"cannot read {path}: {exc}", file=sys.stderr)
        return 2
    db = open_database(settings)
    service = open_service(settings)
    try:
        with acting_as(Actor("cli:offers-import", "operator"), f"import:{path.name}"):
            result = offer_service(service.store, db).upsert_many(args.channel, rows, full=args.full)
    finally:
        service.close()
        db.close()
    summary = {k: v for k, v in vars(result).items() if k != "rejected"}
    print(json.dumps({**summary, "rejected": [vars(r) for r in result.rejected]}, indent=2))
    return 0


def _projections(settings: Settings, action: str, name: str | None, in_place: bool) -> int:
    from app.adapters.db import open_database
    from app.projections import all_projections
    from app.projections.log import EventLog
    from app.projections.positions import PositionStore
    from app.projections.rebuild import rebuild
    from app.projections.runner import ProjectionRunner, read_status

    db = open_database(settings)
    try:
        projections = all_projections(db)
        if name is not None and name not in projections:
            print(f"no projection named {name!r}; known: {', '.join(projections)}", file=sys.stderr)
            return 2
        if action == "status":
            positions, events = PositionStore(db), EventLog(db)
            print(f"{'projection':<16} {'generation':>10} {'position':>10} {'head':>10} {'lag':>8}  state")
            for projection_name in projections:
                positions.ensure(projection_name)
                st = read_status(positions, events, projection_name)
                state = "ok" if st.healthy else f"FAILED at {st.failed_position}: {st.error}"
                if st.rebuild_generation is not None:
                    state += f" (rebuilding generation {st.rebuild_generation} at {st.rebuild_position})"
                print(f"{st.name:<16} {st.generation:>10} {st.position:>10} {st.head:>10} {st.lag:>8}  {state}")
            return 0
        assert name is not None
        if action == "resume":
            ProjectionRunner(db, projections[name]).resume()
            print(f"{name}: failure cleared; the runner retries the failing event")
            return 0

        def progress(position: int, head: int) -> None:
            print(f"\r{name}: {position}/{head}", end="", file=sys.stderr, flush=True)

        st = rebuild(db, projections[name], in_place=in_place, progress=progress)
        print(f"\n{name}: rebuilt, generation {st.generation} at position {st.position}")
        return 0
    finally:
        db.close()


def _positive(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 64:
        raise argparse.ArgumentTypeError("between 1 and 64")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="oms", description="La Redoute order service")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="apply the SQL migrations to DATABASE_URL")
    serve = commands.add_parser("serve", help="serve the HTTP API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=_positive, default=1,
                       help="API processes sharing the port (above 1: PostgreSQL only)")
    commands.add_parser(
        "worker", help="run the projections and the marketplace sync jobs without the HTTP API"
    )
    sandbox = commands.add_parser("sandbox", help="serve the La Redoute sandbox marketplace")
    sandbox.add_argument("--host", default="127.0.0.1")
    sandbox.add_argument("--port", type=int, default=8001)
    sandbox.add_argument("--demo-rate", type=float, default=0.0,
                         help="orders generated per minute (0: none)")
    sandbox.add_argument("--payment-delay", type=float, default=None,
                         help="seconds before an accepted order's payment is validated")
    sandbox.add_argument("--seed", type=int, default=None)
    sandbox.add_argument("--state-file", default=None,
                         help="keep the sandbox's state in this JSON file across restarts "
                         "(default: in memory only)")
    offers = commands.add_parser("offers", help="offers: import a source file")
    offer_actions = offers.add_subparsers(dest="action", required=True)
    offer_import = offer_actions.add_parser(
        "import", help="upsert the offers of a CSV or JSON source file (as POST .../bulk)"
    )
    offer_import.add_argument("file")
    offer_import.add_argument("--channel", required=True, choices=["laredoute", "labrandboutique"])
    offer_import.add_argument("--full", action="store_true",
                              help="the file is the whole catalogue: offers missing from it get "
                              "quantity 0 (kept as virtual products)")
    offer_import.add_argument("--format", choices=["csv", "json"], default=None,
                              help="default: from the file's extension")
    keys = commands.add_parser("keys", help="API keys: create, list, revoke")
    key_actions = keys.add_subparsers(dest="action", required=True)
    create = key_actions.add_parser("create", help="create a key and print it (shown once)")
    create.add_argument("--name", required=True)
    create.add_argument("--role", required=True,
                        choices=["admin", "operator", "auditor", "integrator"])
    key_actions.add_parser("list", help="every key: name, role, created, last used, revoked")
    revoke = key_actions.add_parser("revoke", help="revoke a key: it stops working at once")
    revoke.add_argument("name")
    demo = key_actions.add_parser(
        "demo", help="print the development operator key kept in FILE, creating it if needed"
    )
    demo.add_argument("--file", default="var/demo-operator.key")
    projections = commands.add_parser("projections", help="inspect and rebuild read models")
    actions = projections.add_subparsers(dest="action", required=True)
    actions.add_parser("status", help="position, lag and state of each projection")
    rebuild = actions.add_parser(
        "rebuild", help="rebuild a read model from zero beside the live one, then switch"
    )
    rebuild.add_argument("name")
    rebuild.add_argument(
        "--in-place", action="store_true", help="clear the live model and refill it instead"
    )
    resume = actions.add_parser("resume", help="retry a projection stopped by a failure")
    resume.add_argument("name")
    args = parser.parse_args(argv)

    if args.command == "sandbox":
        configure_logging("INFO", "console" if sys.stderr.isatty() else "json")
        return _sandbox(args)
    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    if args.command == "worker":
        return _worker(settings)
    if args.command == "keys":
        return _keys(settings, args)
    if args.command == "offers":
        return _offers(settings, args)
    if args.command == "migrate":
        return _migrate(settings)
    if args.command == "projections":
        return _projections(
            settings, args.action, getattr(args, "name", None), getattr(args, "in_place", False)
        )
    return _serve(settings, args.host, args.port, args.workers)


if __name__ == "__main__":
    sys.exit(main())
