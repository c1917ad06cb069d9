"""The order list's keyset pages and search on both stores: orders that share a sort key are
each listed once, in (key, order id) order, whatever the page size; the search is a
case-folded substring match with LIKE's wildcards taken literally; on PostgreSQL each list
query reads an index in order (no sort of the whole tab, no scan of every row) and the search
text has a trigram index."""

from __future__ import annotations

from typing import Any

import pytest

from app.application.orders import OrderService
from app.domain.order import MarketplaceFlags
from app.projections.order_tabs import (
    NO_SHIP_BY,
    OrderFilters,
    OrderTabsProjection,
    OrderTabsQueries,
    Sort,
)
from app.projections.runner import ProjectionRunner
from tests.integration.projections_support import Database
from tests.support import at, order_fields

# Query plans and indexes are PostgreSQL's: these tests take only its store.
ON_POSTGRESQL = pytest.mark.parametrize(
    "settings", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)


def import_ties(service: OrderService) -> list[Any]:
    """Six orders created at the same time; two pairs share a ship-by time, two have none."""
    ids = []
    deadlines = [at(hours=5), at(hours=5), None, at(hours=2), at(hours=2), None]
    for n, deadline in enumerate(deadlines):
        order = service.import_order(**{
            **order_fields(f"LR-TIE-{n:03d}"),
            "created_at": at(hours=-3),
            "flags": MarketplaceFlags(shipping_deadline=deadline),
        }).order  # fmt: skip
        ids.append(order.id)
    return ids


def every_page(queries: OrderTabsQueries, sort: Sort, limit: int, **filters: Any) -> list[Any]:
    seen, cursor = [], None
    while True:
        page = queries.list(OrderFilters(**filters), sort, limit, cursor)
        assert len(page.rows) <= limit
        seen += page.rows
        cursor = page.next_cursor
        if cursor is None:
            return seen


@pytest.mark.parametrize("sort", ["newest", "deadline", "ship_by"])
@pytest.mark.parametrize("limit", [1, 2, 4])
def test_orders_sharing_a_sort_key_are_each_listed_once_in_order(
    db: Database, service: OrderService, sort: Sort, limit: int
) -> None:
    ids = import_ties(service)
    ProjectionRunner(db, OrderTabsProjection(db.dialect), batch_size=100).catch_up()
    queries = OrderTabsQueries(db)

    rows = every_page(queries, sort, limit)

    assert sorted(str(r.order_id) for r in rows) == sorted(str(i) for i in ids)
    if sort == "newest":
        expected = sorted(rows, key=lambda r: (r.created_at, str(r.order_id)), reverse=True)
    elif sort == "deadline":
        expected = sorted(rows, key=lambda r: (r.acceptance_deadline, str(r.order_id)))
    else:
        expected = sorted(rows, key=lambda r: (r.ship_by or NO_SHIP_BY, str(r.order_id)))
        assert [r.ship_by for r in rows] == [at(hours=2)] * 2 + [at(hours=5)] * 2 + [None] * 2
    assert [r.order_id for r in rows] == [r.order_id for r in expected]


def test_the_search_matches_a_substring_case_folded_with_wildcards_taken_literally(
    db: Database, service: OrderService
) -> None:
    for number in ("LR-ABC_100", "LR-ABCX100", "LR-50%-OFF", "LR-50X-OFF"):
        service.import_order(**order_fields(number))
    ProjectionRunner(db, OrderTabsProjection(db.dialect), batch_size=100).catch_up()
    queries = OrderTabsQueries(db)

    def found(q: str) -> list[str]:
        return sorted(r.marketplace_order_id for r in every_page(queries, "newest", 2, q=q))

    assert found("c_1") == ["LR-ABC_100"]
    assert found("0%-") == ["LR-50%-OFF"]
    assert found("abc") == sorted(["LR-ABC_100", "LR-ABCX100"])
    assert found("BCX10") == ["LR-ABCX100"]
    assert found("x-of") == ["LR-50X-OFF"]
    assert found("zzz") == []


@pytest.mark.parametrize(
    ("filters", "sort"),
    [
        ({"tab": "new"}, "newest"),
        ({"tab": "new"}, "deadline"),
        ({"tab": "new"}, "ship_by"),
        ({}, "newest"),
    ],
)
@ON_POSTGRESQL
def test_on_postgresql_each_list_query_reads_its_index_in_order(
    db: Database, service: OrderService, filters: dict[str, Any], sort: Sort
) -> None:
    import_ties(service)
    ProjectionRunner(db, OrderTabsProjection(db.dialect), batch_size=100).catch_up()
    queries = OrderTabsQueries(db)
    cursor = queries.list(OrderFilters(**filters), sort, 1, None).next_cursor
    assert cursor is not None
    plans = []
    for page_cursor in (None, cursor):
        plans.append(explain(db, queries, OrderFilters(**filters), sort, page_cursor))

    for plan in plans:
        # Seq Scan stays possible (disabled, not forbidden): it shows when no index fits.
        assert "Seq Scan on order_tabs" not in plan and "Sort" not in plan, plan
        assert "Index Scan using order_tabs_" in plan, plan
    # The cursor is a condition of the index, not a filter over the rows before it.
    assert "Index Cond" in plans[1] and "ROW(" in plans[1], plans[1]


@ON_POSTGRESQL
def test_on_postgresql_the_search_has_a_trigram_index(db: Database) -> None:
    """Where pg_trgm is available the migration installs it and indexes the search text for
    LIKE '%text%' (the plan that uses it shows at scale: bench/order_list.py)."""
    if not db.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'"):
        pytest.skip("pg_trgm is not available with this PostgreSQL")

    [(definition,)] = db.execute(
        "SELECT indexdef FROM pg_indexes WHERE indexname = 'order_tabs_search_trgm_idx'"
    )

    assert "gin (search gin_trgm_ops)" in definition


def explain(
    db: Database, queries: OrderTabsQueries, filters: OrderFilters, sort: Sort, cursor: str | None
) -> str:
    """The plan of the list query, as if the table were too big to read whole."""
    captured: list[tuple[str, list[Any]]] = []

    class Capturing:
        dialect = db.dialect

        def execute(self, sql: str, params: Any = ()) -> list[tuple[Any, ...]]:
            captured.append((sql, list(params)))
            return db.execute(sql, params)

    spy = OrderTabsQueries(db)
    spy.db = Capturing()  # type: ignore[assignment]
    spy.list(filters, sort, 50, cursor)
    sql, params = captured[0]
    with db.transaction() as tx:
        tx.execute("SET LOCAL enable_seqscan = off")
        rows = tx.execute("EXPLAIN (COSTS OFF) " + sql, params)
    return "\n".join(row[0] for row in rows)
