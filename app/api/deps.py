"""What the routes work with, as FastAPI dependencies: the one place that reads `app.state`.

`create_app` puts each collaborator on `app.state` once; a route names what it needs with one
of the `...Dep` annotations below, so that it never reaches into the application itself and a
test can swap any of them with `app.dependency_overrides`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

from fastapi import Depends, Request

from app.adapters.api_keys import ApiKeyStore
from app.adapters.db import Database
from app.adapters.idempotency import IdempotencyStore
from app.adapters.sync_store import SyncStore
from app.application.offers import OfferService
from app.application.orders import OrderService
from app.application.reference_data import ChannelReference
from app.application.sync import Sync
from app.config import Settings
from app.projections.offers import OfferQueries
from app.projections.order_tabs import OrderTabsQueries
from app.projections.runner import ProjectionRunner


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_db(request: Request) -> Database:
    return request.app.state.db


def get_service(request: Request) -> OrderService:
    return request.app.state.service


def get_idempotency_store(request: Request) -> IdempotencyStore:
    return request.app.state.idempotency


def get_runners(request: Request) -> Mapping[str, ProjectionRunner]:
    return request.app.state.runners


def get_order_tabs(request: Request) -> OrderTabsQueries:
    return request.app.state.order_tabs


def get_sync(request: Request) -> Sync | None:
    return getattr(request.app.state, "sync", None)


def get_sync_store(request: Request) -> SyncStore:
    return request.app.state.sync_store


def get_offers(request: Request) -> OfferService:
    return request.app.state.offers


def get_offer_queries(request: Request) -> OfferQueries:
    return request.app.state.offer_queries


def get_api_keys(request: Request) -> ApiKeyStore:
    return request.app.state.api_keys


def get_reference(request: Request) -> ChannelReference:
    return request.app.state.reference


SettingsDep = Annotated[Settings, Depends(get_settings)]
DatabaseDep = Annotated[Database, Depends(get_db)]
ServiceDep = Annotated[OrderService, Depends(get_service)]
IdempotencyStoreDep = Annotated[IdempotencyStore, Depends(get_idempotency_store)]
RunnersDep = Annotated[Mapping[str, ProjectionRunner], Depends(get_runners)]
OrderTabsDep = Annotated[OrderTabsQueries, Depends(get_order_tabs)]
SyncDep = Annotated[Sync | None, Depends(get_sync)]
SyncStoreDep = Annotated[SyncStore, Depends(get_sync_store)]
OffersDep = Annotated[OfferService, Depends(get_offers)]
OfferQueriesDep = Annotated[OfferQueries, Depends(get_offer_queries)]
ApiKeysDep = Annotated[ApiKeyStore, Depends(get_api_keys)]
ReferenceDep = Annotated[ChannelReference, Depends(get_reference)]

__all__ = [
    "ApiKeysDep", "DatabaseDep", "IdempotencyStoreDep", "OfferQueriesDep", "OffersDep",
    "OrderTabsDep", "ReferenceDep", "RunnersDep", "ServiceDep", "SettingsDep", "SyncDep",
    "SyncStoreDep", "get_api_keys", "get_db", "get_idempotency_store", "get_offer_queries",
    "get_offers", "get_order_tabs", "get_reference", "get_runners", "get_service",
    "get_settings", "get_sync", "get_sync_store",
]
