"""Builds the sandbox: the marketplace state, its FastAPI app and the layers around it.

Nothing is created at import time: create_sandbox_app(config) makes a fresh, independent
marketplace every call, so each test gets its own (or one restored from its state file).
"""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from sandbox import control, mirakl_api
from sandbox.config import SandboxConfig
from sandbox.errors import MiraklError
from sandbox.faults import FaultBook, SandboxASGI
from sandbox.marketplace import Marketplace
from sandbox.state_file import StateKeeper

log = structlog.get_logger("sandbox")


class Ticker:
    """Background thread: due transitions happen even when nobody calls, and demo orders arrive;
    with a state file, the state is written every save_interval seconds when it changed."""

    def __init__(self, marketplace: Marketplace, interval: float,
                 keeper: StateKeeper | None = None, save_interval: float = 1.0) -> None:
        self.marketplace = marketplace
        self.interval = interval
        self.keeper = keeper
        self.save_interval = save_interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sandbox-ticker", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        last = last_save = time.monotonic()
        while not self._stop.wait(self.interval):
            now = time.monotonic()
            try:
                self.marketplace.progress()
                self.marketplace.demo_tick(now - last)
            except Exception:  # a bad tick must not stop the marketplace
                log.exception("sandbox_tick_failed")
            last = now
            if self.keeper is not None and now - last_save >= self.save_interval:
                save_state(self.keeper)
                last_save = now


def save_state(keeper: StateKeeper) -> None:
    """Write the state file; a failed write is logged and tried again at the next save."""
    try:
        keeper.save()
    except Exception:
        log.exception("sandbox_state_save_failed", path=str(keeper.path))


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error.get("loc", ()) if p != "body")
        parts.append(f"{where}: {error.get('msg')}" if where else str(error.get("msg")))
    return "; ".join(parts) or "Invalid request"


def create_sandbox_app(config: SandboxConfig | None = None) -> Any:
    """The whole sandbox as one ASGI app; `.state.marketplace` and `.state.faults` reach inside.

    With config.state_file, the marketplace starts from that file (StateFileError when it
    exists but cannot be used) and writes its state back there while it runs and at shutdown.
    """
    config = config or SandboxConfig()
    marketplace = Marketplace(config)
    faults = FaultBook()
    keeper = None
    if config.state_file is not None:
        keeper = StateKeeper(marketplace, config.state_file)
        keeper.load()  # StateFileError when the file is there but cannot be used

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        ticker = Ticker(marketplace, config.tick_interval, keeper, config.save_interval)
        ticker.start()
        log.info("sandbox_started", shops=[s.shop_id for s in config.shops], seed=config.seed,
                 state_file=str(config.state_file) if config.state_file else None)
        try:
            yield
        finally:
            ticker.stop()
            if keeper is not None:
                save_state(keeper)
            log.info("sandbox_stopped")

    api = FastAPI(
        title="La Redoute sandbox marketplace",
        description="The Mirakl seller API subset our service uses (/api), and a control API "
        "(/control) to drive the marketplace's side: payments, delivery, payout, refunds, "
        "offer imports, the catalogue, clock, delays, faults and the call log.",
        version="1.0",
        lifespan=lifespan,
    )
    api.state.marketplace = marketplace
    api.state.faults = faults
    api.include_router(mirakl_api.router)
    api.include_router(control.router)

    @api.exception_handler(MiraklError)
    async def mirakl_error(_: Request, exc: MiraklError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status)

    @api.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        # Mirakl answers malformed input with 400, never FastAPI's 422.
        body = {"status": 400, "message": _validation_message(exc), "code": "VALIDATION_ERROR"}
        return JSONResponse(body, status_code=400)

    @api.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"status": exc.status_code, "message": str(exc.detail)},
                            status_code=exc.status_code, headers=exc.headers)

    return SandboxASGI(api, marketplace, faults)
