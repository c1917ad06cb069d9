"""`oms`: the service's command line."""

from __future__ import annotations

import argparse
import sys

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


def _serve(settings: Settings, host: str, port: int) -> int:
    import uvicorn

    from app.api.app import create_app

    app = create_app(settings)
    uvicorn.run(app, host=host, port=port, log_config=None, access_log=False)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="oms", description="La Redoute order service")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="apply the SQL migrations to DATABASE_URL")
    serve = commands.add_parser("serve", help="serve the HTTP API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    args = parser.parse_args(argv)

    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    if args.command == "migrate":
        return _migrate(settings)
    return _serve(settings, args.host, args.port)


if __name__ == "__main__":
    sys.exit(main())
