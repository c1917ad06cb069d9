"""The order tabs with what the marketplace tells of an order: the customer's name once it is
shown, the marketplace's flags and the ship-by time, computed alike event by event and by a
rebuild from zero (set-based on PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from app.application.orders import OrderService
from app.domain.order import Customer, CustomerDetails, MarketplaceFlags
from app.projections.order_tabs import (
    OrderFilters,
    OrderRow,
    OrderTabsProjection,
    OrderTabsQueries,
)
from app.projections.rebuild import rebuild
from app.projections.runner import ProjectionRunner
from tests.integration.projections_support import ORDER_TABS_COLUMNS, Database
from tests.support import FakeClock, at, order_fields

COLUMNS = ORDER_TABS_COLUMNS + ", ship_by, has_customer_message, has_incident, can_cancel, can_refund"


def rows(db: Database) -> list[tuple[Any, ...]]:
    return db.execute(
        f"SELECT {COLUMNS} FROM order_tabs WHERE generation ="
        " (SELECT generation FROM projection_positions WHERE name = 'order_tabs')"
        " ORDER BY order_id"
    )


def fields(marketplace_order_id: str, **overrides: Any) -> dict[str, Any]:
    return {**order_fields(marketplace_order_id), **overrides}


def write_orders(service: OrderService, tick: Any) -> dict[str, Any]:
    """A hidden customer shown later, deadlines given or derived from the lead time."""
    ids: dict[str, Any] = {}

    def run(command: Any, *args: Any, **kwargs: Any) -> Any:
        result = command(*args, **kwargs)
        tick()
        return result

    hidden = run(service.import_order, **fields(
        "LR-HIDDEN-001", customer=None, shipping_address=None,
        flags=MarketplaceFlags(leadtime_to_ship=2),
    )).order  # fmt: skip
    ids["hidden"] = hidden.id
    run(service.accept, hidden.id, at=at(hours=-20))
    run(service.receive_customer_details, hidden.id, CustomerDetails(
        customer=Customer(firstname="Léa", lastname="Fontaine", email="lea@notification.example"),
    ), at=at(hours=-19))  # fmt: skip

    late = run(service.import_order, **fields(
        "LR-LATE-002", flags=MarketplaceFlags(shipping_deadline=at(hours=-1), can_cancel=True),
    )).order  # fmt: skip
    ids["late"] = late.id
    run(service.accept, late.id)
    run(service.validate_payment, late.id)
    run(service.update_marketplace_flags, late.id, MarketplaceFlags(
        shipping_deadline=at(hours=-1), can_cancel=True, has_incident=True,
        has_customer_message=True,
    ))  # fmt: skip

    ids["plain"] = run(service.import_order, **fields("LR-PLAIN-003")).order.id
    nameless = run(service.import_order, **fields(
        "LR-NAMELESS-004", customer=None, shipping_address=None,
    )).order  # fmt: skip
    ids["nameless"] = nameless.id
    return ids


def listed(db: Database, **filters: Any) -> list[OrderRow]:
    return OrderTabsQueries(db).list(OrderFilters(**filters), "newest", 100, None).rows


def test_names_flags_and_ship_by_are_the_same_event_by_event_and_rebuilt(
    db: Database, service: OrderService, clock: FakeClock
) -> None:
    live = ProjectionRunner(db, OrderTabsProjection(db.dialect), batch_size=2)
    ids = write_orders(service, live.catch_up)
    incremental = rows(db)

    by_id = {row.order_id: row for row in listed(db)}
    hidden, late = by_id[ids["hidden"]], by_id[ids["late"]]
    assert hidden.customer_name == "Léa Fontaine"
    assert hidden.ship_by == at(hours=-20) + timedelta(days=2)
    assert (late.ship_by, late.status) == (at(hours=-1), "TOSHIP")
    assert (late.has_incident, late.has_customer_message, late.can_cancel, late.can_refund) == (
        True, True, True, False,
    )  # fmt: skip
    assert late.is_late(clock()) and not hidden.is_late(clock())
    assert by_id[ids["nameless"]].customer_name == ""
    assert by_id[ids["plain"]].ship_by is None
    assert [r.order_id for r in listed(db, q="fontaine")] == [ids["hidden"]]

    for batch_size in (1, 1000):
        rebuild(db, OrderTabsProjection(db.dialect), in_place=True, batch_size=batch_size)
        assert rows(db) == incremental, f"in place, batches of {batch_size}"
    rebuild(db, OrderTabsProjection(db.dialect), batch_size=5)  # set-based on PostgreSQL
    assert rows(db) == incremental


def test_the_list_sorts_by_ship_by_time_those_without_last(
    db: Database, service: OrderService
) -> None:
    live = ProjectionRunner(db, OrderTabsProjection(db.dialect), batch_size=100)
    ids = write_orders(service, lambda: None)
    live.catch_up()
    queries = OrderTabsQueries(db)

    seen, cursor = [], None
    while True:
        page = queries.list(OrderFilters(), "ship_by", 1, cursor)
        seen += [row.order_id for row in page.rows]
        cursor = page.next_cursor
        if cursor is None:
            break

    assert seen[:2] == [ids["late"], ids["hidden"]]
    assert sorted(map(str, seen[2:])) == sorted(str(ids[k]) for k in ("plain", "nameless"))
    assert seen == [row.order_id for row in queries.list(OrderFilters(), "ship_by", 10, None).rows]
