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

import orjson
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
_UPDATE_SET = _UPSERT[_UPSERT.index(" ON CONFLICT"):]
# PostgreSQL: a batch's rows in one statement, as one JSON array of rows (the JSON columns as
# strings in it), which the server reads faster than the client can quote 17 arrays.
_PG_UPSERT_MANY = (
    f"INSERT INTO offer_list ({_COLUMNS}) SELECT %s, {_COLUMNS.partition(', ')[2]}"
    " FROM json_to_recordset(%s::json) AS r(offer_id uuid, channel text, sku text, ean text,"
    " price_cents bigint, quantity integer, published boolean, has_errors boolean, errors text,"
    " offer_values text, promotion text, operation text, search text, version integer,"
    " position bigint, updated_at timestamptz)" + _UPDATE_SET
)
_ROW_KEYS = tuple(c.strip() for c in _COLUMNS.split(","))[1:]


def _json(value: Any) -> str:
    return orjson.dumps(value, default=_plain, option=orjson.OPT_SORT_KEYS).decode()


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
        """Fold the batch's events per offer in memory (the last state wins), then write each
        offer touched once: one statement per batch on PostgreSQL."""
        offers = [e for e in events if e.aggregate == "Offer"]
        if not offers:
            return
        # An offer whose first event here is its registration starts from that event: its
        # stored row (there is none but on a replay) is not needed.
        first: dict[UUID, bool] = {}
        for event in offers:
            if event.originator_id not in first:
                first[event.originator_id] = event.type == "Registered"
        state = self._load(tx, generation, [i for i, registered in first.items() if not registered])
        last: dict[UUID, ProjectedEvent] = {}
        stock_outs = self._stock_outs
        for event in offers:
            offer_id = event.originator_id
            if event.type == "Registered":
                raw = event.raw
                state[offer_id] = offer = {
                    "channel": raw["channel"], "sku": raw["sku"],
                    "values": _unwrap(raw["values"]), "errors": _unwrap(raw["errors"]),
                    "promotion": None, "operation": None,
                }
            else:
                offer = state.get(offer_id)
                if offer is None:
                    continue
                before = offer["values"].get("quantity")
                _apply(offer, event.type, _plain_state(event))
                if before and offer["values"].get("quantity") == 0:
                    stock_outs.add(offer["channel"])
            last[offer_id] = event
        rows = [self._row(offer_id, state[offer_id], event)
                for offer_id, event in last.items()]
        if self.codec.native:
            batch = orjson.dumps([dict(zip(_ROW_KEYS, row, strict=True)) for row in rows])
            tx.execute(_PG_UPSERT_MANY, (generation, batch.decode()))
        else:
            tx.executemany(_UPSERT, [(generation, *row) for row in rows])

    def _load(self, tx: Transaction, generation: int, ids: list[UUID]) -> dict[UUID, dict[str, Any]]:
        """The stored state of these offers, in one query on PostgreSQL."""
        state: dict[UUID, dict[str, Any]] = {}
        if not ids:
            return state
        select = ("SELECT offer_id, channel, sku, offer_values, errors, promotion, operation"
                  " FROM offer_list WHERE generation = %s AND offer_id ")
        if self.codec.native:
            found = tx.execute(select + "= ANY(%s::uuid[])", (generation, ids))
        else:
            found = []
            for start in range(0, len(ids), 500):
                chunk = ids[start:start + 500]
                found += tx.execute(select + f"IN ({', '.join(['%s'] * len(chunk))})",
                                    (generation, *(self.codec.id(i) for i in chunk)))
        for row in found:
            state[self.codec.read_id(row[0])] = {
                "channel": row[1], "sku": row[2], "values": orjson.loads(row[3]),
                "errors": orjson.loads(row[4]),
                "promotion": orjson.loads(row[5]) if row[5] else None,
                "operation": orjson.loads(row[6]) if row[6] else None,
            }
        return state

    def _row(self, offer_id: UUID, offer: dict[str, Any], event: ProjectedEvent) -> tuple[Any, ...]:
        """The offer's offer_list columns after the generation, from its state after `event`."""
        values = offer["values"]
        quantity = values.get("quantity")
        return (
            self.codec.id(offer_id), offer["channel"], offer["sku"], values.get("ean"),
            _cents(values.get("price")), quantity,
            _flag(bool(quantity), self.codec.native),
            _flag(bool(offer["errors"]), self.codec.native), _json(offer["errors"]),
            _json(values), _json(offer["promotion"]) if offer["promotion"] else None,
            _json(offer["operation"]) if offer["operation"] else None,
            f"{offer['sku']} {values.get('ean') or ''}".lower(),
            event.version, event.position, self.codec.time(event.timestamp),
        )

    def clear(self, tx: Transaction, generation: int) -> None:
        tx.execute("DELETE FROM offer_list WHERE generation = %s", (generation,))




def _plain_state(event: ProjectedEvent) -> dict[str, Any]:
    """The event's stored JSON with the store's typed values as plain JSON (amounts and
    times as strings), without decoding it into objects first."""
    return {k: _unwrap(v) for k, v in event.raw.items() if k not in EVENT_ENVELOPE}


def _unwrap(value: Any) -> Any:
    if isinstance(value, dict):
        if "_type_" in value and "_data_" in value:
            data = value["_data_"]
            return _unwrap(data) if isinstance(data, dict | list) else data
        return {k: _unwrap(v) if isinstance(v, dict | list) else v for k, v in value.items()}
    if isinstance(value, list):
        return [_unwrap(v) if isinstance(v, dict | list) else v for v in value]
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
            raise TypeError
        return channel, sku
    except (ValueError, TypeError, json.JSONDecodeError):
        raise ValueError("cursor is not one this API gave") from None


__all__ = ["NAME", "OfferQueries", "OfferRow", "OffersProjection", "decode_cursor",
           "encode_cursor", "sync_state"]
