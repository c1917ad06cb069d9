"""The offers read model (`offer_list`): each offer's current values, errors and version,
for the offer list, the integration reports and the offer feed."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from uuid import UUID

import structlog

from app.adapters.db import Database, Transaction
from app.domain.actor import EVENT_ENVELOPE
from app.projections.log import ProjectedEvent
from app.projections.order_tabs import Codec

log = structlog.get_logger(__name__)

NAME = "offers"

_COLUMNS = ("generation, offer_id, channel, sku, ean, price_cents, quantity, published,"
            " has_errors, errors, offer_values, promotion, operation, search, version, position,"
            " updated_at")
_UPSERT = (
    f"INSERT INTO offer_list ({_COLUMNS}) VALUES ({', '.join(['%s'] * 17)})"
    " ON CONFLICT (generation, offer_id) DO UPDATE SET ean = excluded.ean,"
    " price_cents = excluded.price_cents, quantity = excluded.quantity,"
    " published = excluded.published, has_errors = excluded.has_errors,"
    " errors = excluded.errors, offer_values = excluded.offer_values,"
    " promotion = excluded.promotion, operation = excluded.operation, search = excluded.search,"
    " version = excluded.version, position = excluded.position, updated_at = excluded.updated_at"
)


def _json(value: Any) -> str:
    return json.dumps(value, default=_plain, sort_keys=True, separators=(",", ":"))


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(type(value))


def _cents(value: Any) -> int | None:
    return None if value is None else int(Decimal(str(value)) * 100)


class OffersProjection:
    name = NAME

    def __init__(self, dialect: str) -> None:
        self.codec = Codec(dialect)
        self._stock_out_listeners: list[Callable[[str], None]] = []
        self._stock_outs: set[str] = set()  # channels with a stock-out in the current batch

    def on_stock_out(self, listener: Callable[[str], None]) -> None:
        """Call `listener(channel)` once a batch that took an offer of that channel from a
        quantity above 0 to 0 is committed: the read model shows the stock-out by then."""
        self._stock_out_listeners.append(listener)

    def batch_started(self, position: int) -> None:
        self._stock_outs.clear()

    def batch_committed(self, position: int) -> None:
        channels, self._stock_outs = self._stock_outs, set()
        for channel in sorted(channels):
            for listener in self._stock_out_listeners:
                try:
                    listener(channel)
                except Exception as exc:  # noqa: BLE001 - a listener never stops the read model
                    log.warning("offer_stock_out_listener_failed", channel=channel,
                                error=type(exc).__name__)

    def apply(self, tx: Transaction, generation: int, events: Sequence[ProjectedEvent]) -> None:
        offers = [e for e in events if e.aggregate == "Offer"]
        if not offers:
            return
        ids = list({e.originator_id for e in offers})
        state: dict[UUID, dict[str, Any]] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            marks = ", ".join(["%s"] * len(chunk))
            for row in tx.execute(
                "SELECT offer_id, channel, sku, offer_values, errors, promotion, operation"
                f" FROM offer_list WHERE generation = %s AND offer_id IN ({marks})",
                (generation, *(self.codec.id(i) for i in chunk)),
            ):
                state[self.codec.read_id(row[0])] = {
                    "channel": row[1], "sku": row[2], "values": json.loads(row[3]),
                    "errors": json.loads(row[4]),
                    "promotion": json.loads(row[5]) if row[5] else None,
                    "operation": json.loads(row[6]) if row[6] else None,
                }
        for event in offers:
            data = _plain_state(event)
            if event.type == "Registered":
                state[event.originator_id] = {
                    "channel": data["channel"], "sku": data["sku"], "values": data["values"],
                    "errors": data["errors"], "promotion": None, "operation": None,
                }
            offer = state.get(event.originator_id)
            if offer is None:
                continue
            before = offer["values"].get("quantity")
            _apply(offer, event.type, data)
            if before and offer["values"].get("quantity") == 0:
                self._stock_outs.add(offer["channel"])
            offer["version"] = event.version
            offer["position"] = event.position
            offer["updated_at"] = event.timestamp
        rows = []
        for offer_id, offer in state.items():
            if "version" not in offer:
                continue
            values = offer["values"]
            rows.append((
                generation, self.codec.id(offer_id), offer["channel"], offer["sku"],
                values.get("ean"), _cents(values.get("price")), values.get("quantity"),
                _flag(bool(values.get("quantity")), self.codec.native),
                _flag(bool(offer["errors"]), self.codec.native), _json(offer["errors"]),
                _json(values), _json(offer["promotion"]) if offer["promotion"] else None,
                _json(offer["operation"]) if offer["operation"] else None,
                f"{offer['sku']} {values.get('ean') or ''}".lower(),
                offer["version"], offer["position"], self.codec.time(offer["updated_at"]),
            ))
        tx.executemany(_UPSERT, rows)

    def clear(self, tx: Transaction, generation: int) -> None:
        tx.execute("DELETE FROM offer_list WHERE generation = %s", (generation,))




def _plain_state(event: ProjectedEvent) -> dict[str, Any]:
    """The event's stored JSON with the store's typed values as plain JSON (amounts and
    times as strings), without decoding it into objects first."""
    return {k: _unwrap(v) for k, v in event.raw.items() if k not in EVENT_ENVELOPE}


def _unwrap(value: Any) -> Any:
    if isinstance(value, dict):
        if "_type_" in value and "_data_" in value:
            return _unwrap(value["_data_"])
        return {k: _unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unwrap(v) for v in value]
    return value


def _flag(value: bool, native: bool) -> Any:
    return value if native else int(value)


def _apply(offer: dict[str, Any], kind: str, data: dict[str, Any]) -> None:
    values = offer["values"]
    if kind in ("ProductChanged", "PriceChanged", "PeriodChanged"):
        values.update(data)
    elif kind == "DeliveryTermsChanged":
        values.update(data["terms"])
    elif kind in ("StockChanged", "Republished"):
        values["quantity"] = data["quantity"]
    elif kind == "Unpublished":
        values["quantity"] = 0
    elif kind == "PromotionSet":
        offer["promotion"] = data["promotion"]
    elif kind == "PromotionEnded":
        offer["promotion"] = None
    elif kind == "OperationJoined":
        offer["operation"] = {"name": data["operation"], "batch_id": data["batch_id"]}
    elif kind == "ValidationChanged":
        offer["errors"] = data["errors"]


@dataclass(frozen=True)
class OfferRow:
    offer_id: UUID
    channel: str
    sku: str
    values: dict[str, Any]
    errors: list[dict[str, str]]
    promotion: dict[str, Any] | None
    operation: dict[str, Any] | None
    version: int
    sync_state: str
    sent_version: int | None
    import_id: str | None
    marketplace_message: str | None


_SELECT = (
    "SELECT o.offer_id, o.channel, o.sku, o.offer_values, o.errors, o.promotion, o.operation,"
    " o.version, s.sent_version, s.state, s.import_id, s.message, o.has_errors"
    " FROM offer_list o JOIN projection_positions p ON p.name = 'offers'"
    " AND o.generation = p.generation"
    " LEFT JOIN offer_sync s ON s.channel = o.channel AND s.sku = o.sku"
)


def sync_state(version: int, sent_version: int | None, state: str | None,
               has_errors: bool = False) -> str:
    """pending: changed since last sent; blocked: changed since last sent but not sendable
    until its validation errors are fixed; else the last import's outcome."""
    if sent_version is None or version > sent_version:
        return "blocked" if has_errors else "pending"
    return state or "pending"


_CHANGED = "(s.sent_version IS NULL OR o.version > s.sent_version)"


class OfferQueries:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.codec = Codec(db.dialect)

    def _row(self, row: tuple[Any, ...]) -> OfferRow:
        return OfferRow(
            offer_id=self.codec.read_id(row[0]), channel=row[1], sku=row[2],
            values=json.loads(row[3]), errors=json.loads(row[4]),
            promotion=json.loads(row[5]) if row[5] else None,
            operation=json.loads(row[6]) if row[6] else None,
            version=int(row[7]), sent_version=row[8],
            sync_state=sync_state(int(row[7]), row[8], row[9], bool(row[12])),
            import_id=row[10], marketplace_message=row[11],
        )

    def list(
        self,
        *,
        channel: str | None = None,
        published: bool | None = None,
        has_errors: bool | None = None,
        sync: str | None = None,
        q: str | None = None,
        after: tuple[str, str] | None = None,
        limit: int = 50,
    ) -> list[OfferRow]:
        where, params = [], []
        if channel:
            where.append("o.channel = %s")
            params.append(channel)
        if published is not None:
            where.append("o.published = %s")
            params.append(_flag(published, self.codec.native))
        if has_errors is not None:
            where.append("o.has_errors = %s")
            params.append(_flag(has_errors, self.codec.native))
        if sync in ("pending", "blocked"):
            where.append(f"{_CHANGED} AND o.has_errors = %s")
            params.append(_flag(sync == "blocked", self.codec.native))
        elif sync is not None:
            where.append("(s.sent_version IS NOT NULL AND o.version <= s.sent_version AND s.state = %s)")
            params.append(sync)
        if q:
            where.append("o.search LIKE %s")
            params.append(f"%{q.lower().replace('%', '').replace('_', '')}%")
        if after is not None:
            where.append("(o.channel > %s OR (o.channel = %s AND o.sku > %s))")
            params.extend([after[0], after[0], after[1]])
        sql = _SELECT + (" WHERE " + " AND ".join(where) if where else "")
        sql += " ORDER BY o.channel, o.sku LIMIT %s"
        return [self._row(r) for r in self.db.execute(sql, (*params, limit))]

    def get(self, channel: str, sku: str) -> OfferRow | None:
        rows = self.db.execute(_SELECT + " WHERE o.channel = %s AND o.sku = %s", (channel, sku))
        return self._row(rows[0]) if rows else None

    def sync_of(self, channel: str, sku: str) -> tuple[int, str, str | None] | None:
        """The offer's row of offer_sync (version last sent, state, marketplace message);
        None if it was never sent."""
        rows = self.db.execute(
            "SELECT sent_version, state, message FROM offer_sync WHERE channel = %s AND sku = %s",
            (channel, sku),
        )
        return (int(rows[0][0]), rows[0][1], rows[0][2]) if rows else None

    def position(self) -> int:
        rows = self.db.execute("SELECT position FROM projection_positions WHERE name = 'offers'")
        return int(rows[0][0]) if rows else 0


def encode_cursor(channel: str, sku: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([channel, sku]).encode()).decode()


def decode_cursor(cursor: str) -> tuple[str, str]:
    try:
        channel, sku = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        if not isinstance(channel, str) or not isinstance(sku, str):
            raise ValueError
        return channel, sku
    except (ValueError, TypeError, json.JSONDecodeError):
        raise ValueError("cursor is not one this API gave") from None


__all__ = ["NAME", "OfferQueries", "OfferRow", "OffersProjection", "decode_cursor",
           "encode_cursor", "sync_state"]
