"""The service as `oms serve` builds it, plus one baseline route for the benchmarks.

`POST /bench/insert` does one plain INSERT per request into the same database, through the
same middleware, threadpool and connection pool as the real routes: the floor that our
commands are compared against.
"""

from __future__ import annotations

from fastapi import FastAPI, Request

from app.api.app import create_app
from app.config import Settings
from app.logs import configure_logging

BASELINE_TABLE_SQL = (
    "CREATE TABLE IF NOT EXISTS bench_baseline ("
    " id bigserial PRIMARY KEY, order_ref text NOT NULL, payload text NOT NULL)"
)


def build() -> FastAPI:
    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    app = create_app(settings)
    app.state.db.execute(BASELINE_TABLE_SQL)

    @app.post("/bench/insert", include_in_schema=False)
    def baseline_insert(body: dict, request: Request) -> dict:
        request.app.state.db.execute(
            "INSERT INTO bench_baseline (order_ref, payload) VALUES (%s, %s)",
            (str(body.get("order_ref", "")), str(body)),
        )
        return {"ok": True}

    return app
