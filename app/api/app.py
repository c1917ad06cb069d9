"""`create_app(settings)` builds the whole service; nothing is built at import time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app.adapters.api_keys import ApiKeyStore
from app.adapters.db import open_database
from app.adapters.idempotency import IdempotencyStore
from app.adapters.recorders import EVENTS_TABLE
from app.adapters.sync_store import SyncStore
from app.api import admin, events, health, offers, order_list, orders, reference, sync
from app.api.auth import AuthMiddleware, RateLimiter
from app.api.metrics import PublicMetrics
from app.api.metrics import router as metrics_router
from app.api.middleware import RequestContextMiddleware
from app.api.openapi import install_openapi
from app.api.problems import install_problem_handlers
from app.application.event_store import Clock, utc_now
from app.application.orders import OrderService
from app.application.reference_data import ChannelReference
from app.bootstrap import (
    build_sync,
    metrics_registry,
    offer_service,
    open_service,
    wake_feeds_on_stock_out,
)
from app.config import Settings
from app.projections import runners as projection_runners
from app.projections.listener import LogListener
from app.projections.offers import OfferQueries, OffersProjection
from app.projections.order_tabs import OrderTabsQueries


def create_app(
    settings: Settings,
    *,
    service: OrderService | None = None,
    clock: Clock = utc_now,
) -> FastAPI:
    """The HTTP service over the order store that `settings` names."""
    db = open_database(settings)
    service = service or open_service(settings, clock=clock, db=db)
    runners = (
        projection_runners(
            db,
            batch_size=settings.projection_batch_size,
            poll_interval=settings.projection_poll_interval,
        )
        if settings.run_projections
        else {}
    )

    def wake_all() -> None:
        for runner in runners.values():
            runner.wake()

    service.store.on_saved(wake_all)
    listener = LogListener(db, EVENTS_TABLE, wake_all)
    # Built whenever a channel is configured (the API sends offers and operations on demand);
    # its periodic jobs run here only in embedded mode.
    marketplace_sync = build_sync(settings, db, service, clock=lambda: clock().timestamp())
    run_jobs = marketplace_sync is not None and settings.sync_mode == "embedded"
    offers_runner = runners.get("offers")
    if run_jobs and offers_runner is not None and isinstance(offers_runner.projection,
                                                              OffersProjection):
        wake_feeds_on_stock_out(offers_runner.projection, marketplace_sync)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        for runner in runners.values():
            runner.start()
        if runners:
            listener.start()
        if run_jobs:
            marketplace_sync.start()
        yield
        if marketplace_sync is not None:
            marketplace_sync.stop()
        listener.stop()
        for runner in runners.values():
            runner.stop()
        service.close()
        db.close()

    app = FastAPI(
        title="La Redoute order service",
        version="0.1.0",
        summary="Event-sourced orders for La Redoute and La Brand Boutique sellers",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.db = db
    app.state.service = service
    app.state.idempotency = IdempotencyStore(db)
    app.state.runners = runners
    app.state.order_tabs = OrderTabsQueries(db)
    app.state.sync = marketplace_sync
    app.state.reference = (marketplace_sync.reference if marketplace_sync is not None
                           and marketplace_sync.reference is not None
                           else ChannelReference({}))
    app.state.sync_store = SyncStore(db)
    app.state.offers = offer_service(service.store, db)
    app.state.offer_queries = OfferQueries(db)
    app.state.api_keys = ApiKeyStore(db, clock=lambda: clock().timestamp())
    app.state.metrics = metrics_registry(settings, db, clock=lambda: clock().timestamp())
    install_problem_handlers(app)
    install_openapi(app)
    # Starlette runs the last middleware added first: request ids and logs, then a public
    # /metrics (OMS_METRICS_PUBLIC), then keys.
    app.add_middleware(
        AuthMiddleware,
        keys=app.state.api_keys,
        limiter=RateLimiter(settings.rate_limit_per_minute,
                            settings.rate_limit_storage.get_secret_value(),
                            settings.rate_limit_namespace),
        open_docs=settings.environment == "development",
    )
    if settings.metrics_public:
        app.add_middleware(PublicMetrics, registry=app.state.metrics)
    app.add_middleware(RequestContextMiddleware, max_body_bytes=settings.max_body_bytes)
    app.include_router(health.router)
    app.include_router(order_list.router)
    app.include_router(orders.router)
    app.include_router(sync.router)
    app.include_router(offers.reports)
    app.include_router(offers.imports)
    app.include_router(offers.router)
    app.include_router(events.router)
    app.include_router(admin.router)
    app.include_router(reference.router)
    app.include_router(metrics_router)
    return app
