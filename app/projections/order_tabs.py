"""The order tabs read model: one row per order for the New / Waiting for shipment / Sent /
Canceled tabs, and the queries the order list API runs on it.

A batch of events becomes at most one INSERT per new order and one UPDATE per changed order,
so catching up a long log costs a few statements per batch, not per event.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal
from uuid import UUID

from app.adapters.db import Database, Transaction
from app.domain.order import ACCEPTANCE_WINDOW, OrderStatus
from app.projections.log import ProjectedEvent, unwrap

NAME = "order_tabs"
TABS = ("new", "waiting_shipment", "sent", "canceled")

# The tab each status is listed under; refunds are followed in the Sent tab.
TAB_OF_STATUS: dict[OrderStatus, str] = {
    OrderStatus.CREATED: "new",
    OrderStatus.ACCEPTED: "new",
    OrderStatus.TOSHIP: "waiting_shipment",
    OrderStatus.SHIPPED: "sent",
    OrderStatus.PAID: "sent",
    OrderStatus.TO_REFUND: "sent",
    OrderStatus.TO_APPROVE: "sent",
    OrderStatus.REFUNDING: "sent",
    OrderStatus.REFUNDED: "sent",
    OrderStatus.REFUND_REFUSED: "sent",
    OrderStatus.REFUSED: "canceled",
    OrderStatus.CANCELED: "canceled",
    OrderStatus.OUT_OF_STOCK: "canceled",
}

_COLUMNS = (
    "generation, order_id, channel, marketplace_order_id, status, tab, customer_name, search,"
    " goods_total_cents, shipping_price_cents, order_total_cents, refunded_cents, line_count,"
    " created_at, acceptance_deadline, shipped_at, carrier, tracking_number, tracking_url,"
    " last_event_at, version, position, ship_by, has_customer_message, has_incident,"
    " can_cancel, can_refund"
)
_FLAGS = ("has_customer_message", "has_incident", "can_cancel", "can_refund")
_INSERT = (
    f"INSERT INTO order_tabs ({_COLUMNS}) VALUES ("
    + ", ".join(["%s"] * 27)
    + ") ON CONFLICT (generation, order_id) DO NOTHING"
)
# Guarded by position, so re-applying an old batch can never move a row backwards.
_UPDATE = (
    "UPDATE order_tabs SET status = %s, tab = %s, version = %s, position = %s,"
    " last_event_at = %s, refunded_cents = refunded_cents + %s,"
    " shipped_at = COALESCE(%s, shipped_at), carrier = COALESCE(%s, carrier),"
    " tracking_number = COALESCE(%s, tracking_number), tracking_url = COALESCE(%s, tracking_url),"
    " customer_name = COALESCE(%s, customer_name), search = search || %s,"
    " ship_by = CASE WHEN %s THEN %s ELSE ship_by END,"
    " has_customer_message = COALESCE(%s, has_customer_message),"
    " has_incident = COALESCE(%s, has_incident), can_cancel = COALESCE(%s, can_cancel),"
    " can_refund = COALESCE(%s, can_refund)"
    " WHERE generation = %s AND order_id = %s AND position < %s"
)


_CHANGE_COLUMNS = (
    "status, tab, version, position, last_event_at, refunded, shipped_at, carrier,"
    " tracking_number, tracking_url, customer_name, search_more, ship_by_set, ship_by,"
    " has_customer_message, has_incident, can_cancel, can_refund, generation, order_id, guard"
)
# Per-connection staging tables, emptied at each commit.
_PG_STAGING = (
    "CREATE TEMP TABLE IF NOT EXISTS order_tabs_staged"
    " (LIKE order_tabs INCLUDING DEFAULTS) ON COMMIT DELETE ROWS;"
    " CREATE TEMP TABLE IF NOT EXISTS order_tabs_changes (status text, tab text, version int,"
    " position bigint, last_event_at timestamptz, refunded bigint, shipped_at timestamptz,"
    " carrier text, tracking_number text, tracking_url text, customer_name text,"
    " search_more text, ship_by_set boolean, ship_by timestamptz, has_customer_message boolean,"
    " has_incident boolean, can_cancel boolean, can_refund boolean, generation int,"
    " order_id uuid, guard bigint) ON COMMIT DELETE ROWS"
)
_PG_UPDATE = (
    "UPDATE order_tabs AS t SET status = v.status, tab = v.tab, version = v.version,"
    " position = v.position, last_event_at = v.last_event_at,"
    " refunded_cents = t.refunded_cents + v.refunded,"
    " shipped_at = COALESCE(v.shipped_at, t.shipped_at), carrier = COALESCE(v.carrier, t.carrier),"
    " tracking_number = COALESCE(v.tracking_number, t.tracking_number),"
    " tracking_url = COALESCE(v.tracking_url, t.tracking_url),"
    " customer_name = COALESCE(v.customer_name, t.customer_name),"
    " search = t.search || v.search_more,"
    " ship_by = CASE WHEN v.ship_by_set THEN v.ship_by ELSE t.ship_by END,"
    " has_customer_message = COALESCE(v.has_customer_message, t.has_customer_message),"
    " has_incident = COALESCE(v.has_incident, t.has_incident),"
    " can_cancel = COALESCE(v.can_cancel, t.can_cancel),"
    " can_refund = COALESCE(v.can_refund, t.can_refund)"
    " FROM order_tabs_changes AS v"
    " WHERE t.generation = v.generation AND t.order_id = v.order_id AND t.position < v.guard"
)


def fold(text: str) -> str:
    """Search text, lower-cased as the rebuild's SQL does it (an ICU collation)."""
    return text.lower()


def cents(amount: Decimal | str) -> int:
    return int((Decimal(amount) * 100).to_integral_value())


def from_cents(value: int) -> Decimal:
    # Exact, with two decimals (4990 -> 49.90), and faster than a division and quantize.
    return Decimal(int(value)).scaleb(-2)


class Codec:
    """Values as each database stores them: native on PostgreSQL, text on SQLite."""

    def __init__(self, dialect: str) -> None:
        self.native = dialect == "postgres"

    def id(self, value: UUID) -> Any:
        return value if self.native else str(value)

    def time(self, value: datetime | None) -> Any:
        if value is None or self.native:
            return value
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    def read_time(self, value: Any) -> datetime | None:
        if value is None or isinstance(value, datetime):
            return value
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)

    def read_id(self, value: Any) -> UUID:
        return value if isinstance(value, UUID) else UUID(value)


@dataclass
class _Change:
    status: str = ""
    version: int = 0
    position: int = 0
    last_event_at: datetime | None = None
    refunded_cents: int = 0
    shipped_at: datetime | None = None
    carrier: str | None = None
    tracking_number: str | None = None
    tracking_url: str | None = None
    customer_name: str | None = None
    search_more: str = ""
    ship_by_set: bool = False
    ship_by: datetime | None = None
    flags: dict[str, bool] = field(default_factory=dict)


@dataclass
class _NewRow:
    values: dict[str, Any] = field(default_factory=dict)


class OrderTabsProjection:
    """Applies order events to the order_tabs table."""

    name = NAME

    def __init__(self, dialect: str) -> None:
        self.codec = Codec(dialect)

    def apply(self, tx: Transaction, generation: int, events: Sequence[ProjectedEvent]) -> None:
        new_rows: dict[UUID, dict[str, Any]] = {}
        changes: dict[UUID, _Change] = {}
        for event in events:
            if event.aggregate != "Order":
                continue
            if event.type == "Imported":
                new_rows[event.originator_id] = self._imported(event)
                continue
            row = new_rows.get(event.originator_id)
            if row is not None:
                self._change_new_row(row, event)
            else:
                self._change(changes.setdefault(event.originator_id, _Change()), event)
        inserts = [
            (
                generation, self.codec.id(order_id), r["channel"], r["marketplace_order_id"],
                r["status"], TAB_OF_STATUS[OrderStatus(r["status"])], r["customer_name"],
                r["search"], r["goods_total_cents"], r["shipping_price_cents"],
                r["order_total_cents"], r["refunded_cents"], r["line_count"],
                self.codec.time(r["created_at"]), self.codec.time(r["acceptance_deadline"]),
                self.codec.time(r["shipped_at"]), r["carrier"], r["tracking_number"],
                r["tracking_url"], self.codec.time(r["last_event_at"]), r["version"], r["position"],
                self.codec.time(r["ship_by"]), *(r[flag] for flag in _FLAGS),
            )
            for order_id, r in new_rows.items()
        ]
        updates = [
            (
                c.status, TAB_OF_STATUS[OrderStatus(c.status)], c.version, c.position,
                self.codec.time(c.last_event_at), c.refunded_cents, self.codec.time(c.shipped_at),
                c.carrier, c.tracking_number, c.tracking_url, c.customer_name, c.search_more,
                c.ship_by_set, self.codec.time(c.ship_by), *(c.flags.get(f) for f in _FLAGS),
                generation, self.codec.id(order_id), c.position,
            )
            for order_id, c in changes.items()
        ]
        if self.codec.native:
            # A few statements per batch: rows are copied into temporary tables, then merged.
            tx.execute(_PG_STAGING)
            if inserts:
                tx.copy_rows("order_tabs_staged", _COLUMNS, inserts)
                tx.execute(f"INSERT INTO order_tabs SELECT {_COLUMNS} FROM order_tabs_staged"
                           " ON CONFLICT (generation, order_id) DO NOTHING")
                tx.execute("TRUNCATE order_tabs_staged")
            if updates:
                tx.copy_rows("order_tabs_changes", _CHANGE_COLUMNS, updates)
                tx.execute(_PG_UPDATE)
                tx.execute("TRUNCATE order_tabs_changes")
        else:
            tx.executemany(_INSERT, inserts)
            tx.executemany(_UPDATE, updates)

    def clear(self, tx: Transaction, generation: int) -> None:
        tx.execute("DELETE FROM order_tabs WHERE generation = %s", (generation,))

    def bulk_fill(self, tx: Transaction, generation: int, upto: int) -> bool:
        """Fill an empty generation with the events up to `upto` in one set-based statement.

        PostgreSQL only (False elsewhere): the database reads the events' JSON itself, which
        is many times faster than handling a million events one by one. It computes what
        `apply` computes; the tests compare the two.
        """
        if not self.codec.native:
            return False
        # Lower-casing must not depend on the database's collation: ICU's does not.
        if not tx.execute("SELECT 1 FROM pg_collation WHERE collname = 'und-x-icu'"):
            return False
        tx.execute("SET LOCAL work_mem = '256MB'")
        tx.execute(_PG_BULK_FILL, {"generation": generation, "upto": upto})
        return True

    # ---------------------------------------------------------------- event handlers

    @staticmethod
    def _imported(event: ProjectedEvent) -> dict[str, Any]:
        lines = event.field("lines")
        customer = event.field("customer")
        marketplace_order_id = event.field("marketplace_order_id")
        created_at = event.field("created_at")
        goods = sum(
            (unwrap(line["unit_price"]) * line["quantity"] for line in lines), Decimal(0)
        )
        shipping = event.field("shipping_price")
        search = fold(
            " ".join(
                [marketplace_order_id, *_name_parts(customer)]
                + [line["sku"] for line in lines]
                + [line["ean"] for line in lines]
            )
        )
        return {
            "channel": event.field("channel"),
            "marketplace_order_id": marketplace_order_id,
            "status": OrderStatus.CREATED.value,
            "customer_name": _name(customer) or "",
            "search": search,
            "goods_total_cents": cents(goods),
            "shipping_price_cents": cents(shipping),
            "order_total_cents": cents(goods + shipping),
            "refunded_cents": 0,
            "line_count": len(lines),
            "created_at": created_at,
            "acceptance_deadline": created_at + ACCEPTANCE_WINDOW,
            "shipped_at": None,
            "carrier": None,
            "tracking_number": None,
            "tracking_url": None,
            "last_event_at": event.timestamp,
            "version": event.version,
            "position": event.position,
            "ship_by": event.field("ship_by"),
            **{flag: bool((event.field("flags") or {}).get(flag)) for flag in _FLAGS},
        }

    @staticmethod
    def _change(change: _Change, event: ProjectedEvent) -> None:
        change.status = event.field("status")
        change.version = event.version
        change.position = event.position
        change.last_event_at = event.timestamp
        if event.type == "Shipped":
            change.shipped_at = event.field("at")
            change.carrier = event.field("carrier")
            change.tracking_number = event.field("tracking_number")
            change.tracking_url = event.field("tracking_url")
        elif event.type == "RefundCompleted":
            change.refunded_cents += cents(event.field("amount"))
        elif event.type == "CustomerDetailsReceived":
            name = _name(event.field("customer"))
            if name is not None:
                change.customer_name = name
                change.search_more += " " + fold(name)
        elif event.type == "MarketplaceFlagsChanged":
            change.ship_by_set, change.ship_by = True, event.field("ship_by")
            change.flags = {flag: bool(event.field(flag)) for flag in _FLAGS}
        elif event.type == "Accepted" and event.field("ship_by") is not None:
            change.ship_by_set, change.ship_by = True, event.field("ship_by")

    @staticmethod
    def _change_new_row(row: dict[str, Any], event: ProjectedEvent) -> None:
        row["status"] = event.field("status")
        row["version"] = event.version
        row["position"] = event.position
        row["last_event_at"] = event.timestamp
        if event.type == "Shipped":
            row["shipped_at"] = event.field("at")
            row["carrier"] = event.field("carrier")
            row["tracking_number"] = event.field("tracking_number")
            row["tracking_url"] = event.field("tracking_url")
        elif event.type == "RefundCompleted":
            row["refunded_cents"] += cents(event.field("amount"))
        elif event.type == "CustomerDetailsReceived":
            name = _name(event.field("customer"))
            if name is not None:
                row["customer_name"] = name
                row["search"] += " " + fold(name)
        elif event.type == "MarketplaceFlagsChanged":
            row["ship_by"] = event.field("ship_by")
            row.update({flag: bool(event.field(flag)) for flag in _FLAGS})
        elif event.type == "Accepted" and event.field("ship_by") is not None:
            row["ship_by"] = event.field("ship_by")


def _name_parts(customer: dict[str, Any] | None) -> list[str]:
    """The customer's first and last name, as far as the marketplace shows them."""
    if not customer:
        return []
    return [part for part in (customer.get("firstname"), customer.get("lastname")) if part]


def _name(customer: dict[str, Any] | None) -> str | None:
    """The name the list shows; None when the marketplace shows none (yet)."""
    parts = _name_parts(customer)
    return " ".join(parts) if parts else None


_TAB_CASE = "CASE status " + " ".join(
    f"WHEN '{status.value}' THEN '{tab}'" for status, tab in TAB_OF_STATUS.items()
) + " END"

def _topic(event_type: str) -> str:
    from app.domain.order import Order

    return f"{Order.__module__}:{Order.__qualname__}.{event_type}"


# Each part reads the events table once, narrow where it can; only the JSON of the events
# that matter (each order's Imported, last and last Shipped event, its completed refunds) is
# parsed.
_PG_BULK_FILL = f"""
WITH latest AS (
    SELECT originator_id AS order_id, max(originator_version) AS version
    FROM orders_events WHERE notification_id <= %(upto)s
    GROUP BY originator_id
),
last_event AS (
    SELECT l.order_id, e.notification_id, e.originator_version,
        convert_from(e.state, 'UTF8')::jsonb AS d
    FROM latest AS l
    JOIN orders_events AS e ON e.originator_id = l.order_id AND e.originator_version = l.version
),
imported AS (
    SELECT originator_id AS order_id, convert_from(state, 'UTF8')::jsonb AS d
    FROM orders_events
    WHERE notification_id <= %(upto)s AND topic = '{_topic("Imported")}'
),
shipped AS (
    SELECT DISTINCT ON (originator_id) originator_id AS order_id,
        convert_from(state, 'UTF8')::jsonb AS d
    FROM orders_events
    WHERE notification_id <= %(upto)s AND topic = '{_topic("Shipped")}'
    ORDER BY originator_id, originator_version DESC
),
refunded AS (
    SELECT originator_id AS order_id,
        sum(((convert_from(state, 'UTF8')::jsonb -> 'amount' ->> '_data_')::numeric * 100)::bigint)
            AS cents
    FROM orders_events
    WHERE notification_id <= %(upto)s AND topic = '{_topic("RefundCompleted")}'
    GROUP BY originator_id
),
details AS (
    SELECT originator_id AS order_id,
        (array_agg(name ORDER BY originator_version DESC))[1] AS name,
        string_agg(' ' || name, '' ORDER BY originator_version) AS search_more
    FROM (
        SELECT originator_id, originator_version, NULLIF(concat_ws(' ',
            NULLIF(convert_from(state, 'UTF8')::jsonb -> 'customer' ->> 'firstname', ''),
            NULLIF(convert_from(state, 'UTF8')::jsonb -> 'customer' ->> 'lastname', '')), '')
            AS name
        FROM orders_events
        WHERE notification_id <= %(upto)s AND topic = '{_topic("CustomerDetailsReceived")}'
    ) AS named
    WHERE name IS NOT NULL
    GROUP BY originator_id
),
flagged AS (
    SELECT DISTINCT ON (originator_id) originator_id AS order_id,
        convert_from(state, 'UTF8')::jsonb AS d
    FROM orders_events
    WHERE notification_id <= %(upto)s AND topic = '{_topic("MarketplaceFlagsChanged")}'
    ORDER BY originator_id, originator_version DESC
),
ship_by AS (
    SELECT DISTINCT ON (originator_id) originator_id AS order_id,
        (convert_from(state, 'UTF8')::jsonb -> 'ship_by' ->> '_data_')::timestamptz AS ship_by
    FROM orders_events
    WHERE notification_id <= %(upto)s AND (
        topic IN ('{_topic("Imported")}', '{_topic("MarketplaceFlagsChanged")}')
        OR (topic = '{_topic("Accepted")}'
            AND convert_from(state, 'UTF8')::jsonb -> 'ship_by' ->> '_data_' IS NOT NULL))
    ORDER BY originator_id, originator_version DESC
),
lines AS (
    SELECT i.order_id,
        sum(((line -> 'unit_price' ->> '_data_')::numeric * (line ->> 'quantity')::int * 100)::bigint)
            AS goods_cents,
        count(*) AS line_count,
        string_agg(line ->> 'sku', ' ' ORDER BY n) AS skus,
        string_agg(line ->> 'ean', ' ' ORDER BY n) AS eans
    FROM imported AS i, jsonb_array_elements(i.d -> 'lines') WITH ORDINALITY AS l(line, n)
    GROUP BY i.order_id
),
rows AS (
    SELECT i.order_id, i.d, lt.d AS last_d, lt.notification_id, lt.originator_version,
        coalesce(lt.d ->> 'status', 'CREATED') AS status, s.d AS shipped_d,
        coalesce(r.cents, 0) AS refunded_cents, ln.goods_cents, ln.line_count, ln.skus, ln.eans,
        NULLIF(i.d -> 'customer' ->> 'firstname', '') AS firstname,
        NULLIF(i.d -> 'customer' ->> 'lastname', '') AS lastname,
        dt.name AS details_name, coalesce(dt.search_more, '') AS search_more,
        sb.ship_by, coalesce(f.d, i.d -> 'flags') AS flags_d,
        ((i.d -> 'shipping_price' ->> '_data_')::numeric * 100)::bigint AS shipping_cents,
        (i.d -> 'created_at' ->> '_data_')::timestamptz AS created_at
    FROM imported AS i
    JOIN last_event AS lt ON lt.order_id = i.order_id
    JOIN lines AS ln ON ln.order_id = i.order_id
    LEFT JOIN shipped AS s ON s.order_id = i.order_id
    LEFT JOIN refunded AS r ON r.order_id = i.order_id
    LEFT JOIN details AS dt ON dt.order_id = i.order_id
    LEFT JOIN flagged AS f ON f.order_id = i.order_id
    LEFT JOIN ship_by AS sb ON sb.order_id = i.order_id
)
INSERT INTO order_tabs ({_COLUMNS})
SELECT %(generation)s, order_id, d ->> 'channel', d ->> 'marketplace_order_id', status,
    {_TAB_CASE},
    coalesce(details_name, NULLIF(concat_ws(' ', firstname, lastname), ''), ''),
    lower(
        (concat_ws(' ', d ->> 'marketplace_order_id', firstname, lastname, skus, eans)
            || search_more) COLLATE "und-x-icu"
    ),
    goods_cents, shipping_cents, goods_cents + shipping_cents, refunded_cents, line_count,
    created_at, created_at + interval '{int(ACCEPTANCE_WINDOW.total_seconds())} seconds',
    (shipped_d -> 'at' ->> '_data_')::timestamptz, shipped_d ->> 'carrier',
    shipped_d ->> 'tracking_number', shipped_d ->> 'tracking_url',
    (last_d -> 'timestamp' ->> '_data_')::timestamptz, originator_version, notification_id,
    ship_by, {", ".join(f"coalesce((flags_d ->> '{flag}')::boolean, false)" for flag in _FLAGS)}
FROM rows
"""


# -------------------------------------------------------------------- queries

Sort = Literal["newest", "deadline", "ship_by"]
# Orders without a ship-by time come last when sorted by it.
NO_SHIP_BY = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)


class InvalidCursor(ValueError):
    pass


@dataclass(frozen=True)
class OrderFilters:
    tab: str | None = None
    status: str | None = None
    channel: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    q: str | None = None


@dataclass(frozen=True)
class OrderRow:
    order_id: UUID
    channel: str
    marketplace_order_id: str
    status: str
    tab: str
    customer_name: str
    goods_total: Decimal
    shipping_price: Decimal
    order_total: Decimal
    refunded_amount: Decimal
    line_count: int
    created_at: datetime
    acceptance_deadline: datetime
    shipped_at: datetime | None
    carrier: str | None
    tracking_number: str | None
    tracking_url: str | None
    last_event_at: datetime
    version: int
    ship_by: datetime | None = None
    has_customer_message: bool = False
    has_incident: bool = False
    can_cancel: bool = False
    can_refund: bool = False

    def is_late(self, now: datetime) -> bool:
        """Waiting for shipment past its ship-by time."""
        return self.status == OrderStatus.TOSHIP and self.ship_by is not None and now > self.ship_by


@dataclass(frozen=True)
class OrderPage:
    rows: list[OrderRow]
    next_cursor: str | None
    position: int


_SELECT = (
    "SELECT order_id, channel, marketplace_order_id, status, tab, customer_name,"
    " goods_total_cents, shipping_price_cents, order_total_cents, refunded_cents, line_count,"
    " created_at, acceptance_deadline, shipped_at, carrier, tracking_number, tracking_url,"
    " last_event_at, version, ship_by, has_customer_message, has_incident, can_cancel,"
    " can_refund,"
    " (SELECT position FROM projection_positions WHERE name = 'order_tabs') FROM order_tabs"
)
_ACTIVE = "generation = (SELECT generation FROM projection_positions WHERE name = 'order_tabs')"


class OrderTabsQueries:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.codec = Codec(db.dialect)
        no_ship_by = (
            "'9999-12-31 23:59:59+00'::timestamptz"
            if self.codec.native
            else f"'{self.codec.time(NO_SHIP_BY)}'"
        )
        self._ship_by_key = f"COALESCE(ship_by, {no_ship_by})"

    def position(self) -> int:
        rows = self.db.execute(
            "SELECT position FROM projection_positions WHERE name = %s", (NAME,)
        )
        return int(rows[0][0]) if rows else 0

    def list(self, filters: OrderFilters, sort: Sort, limit: int, cursor: str | None) -> OrderPage:
        where = [_ACTIVE]
        params: list[Any] = []
        for column in ("tab", "status", "channel"):
            value = getattr(filters, column)
            if value is not None:
                where.append(f"{column} = %s")
                params.append(value)
        if filters.created_from is not None:
            where.append("created_at >= %s")
            params.append(self.codec.time(filters.created_from))
        if filters.created_to is not None:
            where.append("created_at < %s")
            params.append(self.codec.time(filters.created_to))
        if filters.q:
            where.append("search LIKE %s")
            params.append("%" + _escape_like(fold(filters.q)) + "%")
        if sort == "newest":
            key_column, direction, comparison = "created_at", "DESC", "<"
        elif sort == "ship_by":
            # Written out, not a parameter, so that it is the expression the index holds.
            key_column, direction, comparison = self._ship_by_key, "ASC", ">"
        else:
            key_column, direction, comparison = "acceptance_deadline", "ASC", ">"
        if cursor is not None:
            key, order_id = self._decode_cursor(cursor, sort)
            # A row comparison: the index is read from the cursor on, not filtered.
            where.append(f"({key_column}, order_id) {comparison} (%s, %s)")
            params += [key, order_id]
        sql = (
            f"{_SELECT} WHERE {' AND '.join(where)}"
            f" ORDER BY {key_column} {direction}, order_id {direction} LIMIT %s"
        )
        if self.db.dialect == "sqlite":
            sql = sql.replace("search LIKE %s", "search LIKE %s ESCAPE '\\'")
        # The position comes from the same statement, so it matches the rows' snapshot.
        found = self.db.execute(sql, [*params, limit + 1])
        position = int(found[0][-1]) if found else self.position()
        rows = [self._row(r) for r in found]
        has_more = len(rows) > limit
        rows = rows[:limit]
        next_cursor = self._encode_cursor(rows[-1], sort) if has_more and rows else None
        return OrderPage(rows=rows, next_cursor=next_cursor, position=position)

    def counts(self) -> dict[str, dict[str, int]]:
        """Orders per tab and, inside each tab, per status."""
        result: dict[str, dict[str, int]] = {tab: {} for tab in TABS}
        for tab, status, count in self.db.execute(
            f"SELECT tab, status, COUNT(*) FROM order_tabs WHERE {_ACTIVE} GROUP BY tab, status"
        ):
            result.setdefault(tab, {})[status] = int(count)
        return result

    def _row(self, r: tuple[Any, ...]) -> OrderRow:
        c = self.codec
        return OrderRow(
            order_id=c.read_id(r[0]),
            channel=r[1],
            marketplace_order_id=r[2],
            status=r[3],
            tab=r[4],
            customer_name=r[5],
            goods_total=from_cents(r[6]),
            shipping_price=from_cents(r[7]),
            order_total=from_cents(r[8]),
            refunded_amount=from_cents(r[9]),
            line_count=int(r[10]),
            created_at=c.read_time(r[11]),
            acceptance_deadline=c.read_time(r[12]),
            shipped_at=c.read_time(r[13]),
            carrier=r[14],
            tracking_number=r[15],
            tracking_url=r[16],
            last_event_at=c.read_time(r[17]),
            version=int(r[18]),
            ship_by=c.read_time(r[19]),
            has_customer_message=bool(r[20]),
            has_incident=bool(r[21]),
            can_cancel=bool(r[22]),
            can_refund=bool(r[23]),
        )

    def _encode_cursor(self, row: OrderRow, sort: Sort) -> str:
        if sort == "newest":
            key = row.created_at
        elif sort == "ship_by":
            key = row.ship_by or NO_SHIP_BY
        else:
            key = row.acceptance_deadline
        raw = json.dumps([sort, key.astimezone(UTC).isoformat(), str(row.order_id)])
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    def _decode_cursor(self, cursor: str, sort: Sort) -> tuple[Any, Any]:
        try:
            padded = cursor + "=" * (-len(cursor) % 4)
            cursor_sort, key, order_id = json.loads(base64.urlsafe_b64decode(padded))
            if cursor_sort != sort:
                raise InvalidCursor("the cursor belongs to another sort order")
            if not isinstance(key, str) or not isinstance(order_id, str):
                raise TypeError("not a time and an order id")
            when = datetime.fromisoformat(key)
            if when.tzinfo is None:
                raise ValueError("naive time")
            return self.codec.time(when.astimezone(UTC)), self.codec.id(UUID(order_id))
        except InvalidCursor:
            raise
        except (ValueError, TypeError, OverflowError, binascii.Error, UnicodeDecodeError) as exc:
            # OverflowError: a time near year 1 or 9999 that UTC cannot hold.
            raise InvalidCursor("the cursor is not one this API gave") from exc


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def time_left(deadline: datetime, now: datetime) -> timedelta:
    return max(deadline - now, timedelta(0))
