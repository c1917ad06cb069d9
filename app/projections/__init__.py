"""Read models fed from the event log, and the machinery that runs them."""

from __future__ import annotations

from app.adapters.db import Database
from app.projections.marketplace_actions import MarketplaceActionsProjection
from app.projections.offers import OffersProjection
from app.projections.order_tabs import OrderTabsProjection
from app.projections.runner import Projection, ProjectionRunner


def all_projections(db: Database) -> dict[str, Projection]:
    projections: list[Projection] = [
        OrderTabsProjection(db.dialect),
        MarketplaceActionsProjection(db.dialect),
        OffersProjection(db.dialect),
    ]
    return {p.name: p for p in projections}


def runners(
    db: Database,
    *,
    batch_size: int = 1000,
    poll_interval: float = 1.0,
) -> dict[str, ProjectionRunner]:
    return {
        name: ProjectionRunner(db, p, batch_size=batch_size, poll_interval=poll_interval)
        for name, p in all_projections(db).items()
    }
