"""The offer book: every shop's OF01 imports and offers, and what OF02, OF03 and OF21 show of
them.

An import is kept with the file exactly as sent. It is read only when it is processed (as on
Mirakl, OF01 answers before the file is looked at): a file that cannot be read as a `;` separated
UTF-8 CSV with a known header fails as a whole; otherwise each line is checked on its own, the
valid ones are applied to the shop's offers and the others make up the error report, in the
format sent plus "error-line" and "error-message". A column that is neither a standard offer
column nor an offer additional field the shops declare (AF01, `SandboxConfig.
offer_additional_fields`) fails the import as a whole: reported, never stored quietly.

The file itself and the rules of a line are in sandbox.offer_file, how an offer is shown in
sandbox.offer_view. OfferBook holds no lock: the Marketplace calls it under its own.
"""

from __future__ import annotations

import base64
import csv
import io
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import structlog

from sandbox.clock import format_date
from sandbox.errors import MiraklError
from sandbox.offer_file import (
    DEFAULT_OFFER_ADDITIONAL_FIELDS,
    ERROR_COLUMNS,
    AdditionalField,
    OfferValues,
    UnreadableFile,
    check_line,
    read_file,
)
from sandbox.offer_view import Offer, product_ids, raw_offer, render_offer

log = structlog.get_logger("sandbox")

WAITING = "WAITING"
RUNNING = "RUNNING"
COMPLETE = "COMPLETE"
FAILED = "FAILED"
PENDING_STATUSES = frozenset({WAITING, RUNNING})
IMPORT_MODES = ("NORMAL", "REPLACE")


@dataclass
class LineError:
    line_number: int  # 1-based, the header not counted
    cells: list[str]
    message: str


@dataclass
class OfferImport:
    import_id: int
    shop_id: int
    mode: str
    created: datetime
    content: bytes
    filename: str | None
    status: str = WAITING
    reason_status: str | None = None
    lines_read: int = 0
    lines_in_success: int = 0
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    header: list[str] = field(default_factory=list)
    errors: list[LineError] = field(default_factory=list)
    done: datetime | None = None

    @property
    def has_error_report(self) -> bool:
        return self.status == COMPLETE and bool(self.errors)

    def as_of02(self) -> dict[str, Any]:
        """OF02's body. The spec requires reason_status and type: "" unless the import failed."""
        return {
            "import_id": self.import_id,
            "date_created": format_date(self.created),
            "mode": self.mode,
            "type": "MIRAKL",
            "status": self.status,
            "reason_status": self.reason_status or "",
            "lines_read": self.lines_read,
            "lines_in_success": self.lines_in_success,
            "lines_in_error": len(self.errors),
            "lines_in_pending": 0,
            "offer_inserted": self.inserted,
            "offer_updated": self.updated,
            "offer_deleted": self.deleted,
            "has_error_report": self.has_error_report,
        }

    def summary(self) -> dict[str, Any]:
        """The control API's view: OF02's body plus the shop and the processing date."""
        body = {**self.as_of02(), "shop_id": self.shop_id}
        if self.done is not None:
            body["date_done"] = format_date(self.done)
        return body

    def error_report(self) -> bytes:
        """The lines in error as sent, with two more columns, `;` separated, header first."""
        out = io.StringIO()
        writer = csv.writer(out, delimiter=";", lineterminator="\n")
        writer.writerow([*self.header, *ERROR_COLUMNS])
        for error in self.errors:
            cells = (error.cells + [""] * len(self.header))[:len(self.header)]
            writer.writerow([*cells, str(error.line_number), error.message])
        return out.getvalue().encode("utf-8")


# ---------------------------------------------------------------------- the book


@dataclass(frozen=True)
class OfferQuery:
    """OF21's filters and page."""

    sku: str | None = None
    product_id: str | None = None
    states: frozenset[str] | None = None
    max: int = 10
    offset: int = 0
    sort: str = "totalPrice"
    descending: bool = False


class OfferBook:
    """Every shop's offers and offer imports."""

    def __init__(self, default_leadtime_days: int,
                 additional_fields: tuple[AdditionalField, ...] = DEFAULT_OFFER_ADDITIONAL_FIELDS
                 ) -> None:
        self.default_leadtime_days = default_leadtime_days
        # The offer additional fields every shop declares (AF01).
        self.additional_fields = additional_fields
        self.unknown_eans: frozenset[str] = frozenset()
        self._offers: dict[int, dict[str, Offer]] = {}  # shop id -> sku -> offer
        self._imports: dict[int, OfferImport] = {}
        self._last_import_id = 0
        self._last_offer_id = 0

    # -- saved state

    def export_state(self) -> dict[str, Any]:
        """Every import (its file base64) and offer, and both id sequences, as JSON values."""
        return {
            "last_import_id": self._last_import_id,
            "last_offer_id": self._last_offer_id,
            "unknown_eans": sorted(self.unknown_eans),
            "imports": [_import_state(i) for i in self._imports.values()],
            "offers": [_offer_state(o) for o in self.offers()],
        }

    def restore_state(self, state: dict[str, Any]) -> None:
        imports = [_import_from_state(item) for item in state["imports"]]
        offers = [_offer_from_state(item) for item in state["offers"]]
        self._last_import_id = int(state["last_import_id"])
        self._last_offer_id = int(state["last_offer_id"])
        self.unknown_eans = frozenset(state["unknown_eans"])
        self._imports = {i.import_id: i for i in imports}
        self._offers = {}
        for offer in offers:
            self._offers.setdefault(offer.shop_id, {})[offer.values.sku] = offer

    # -- imports

    def new_import(self, shop_id: int, mode: str, content: bytes, filename: str | None,
                   now: datetime) -> OfferImport:
        """A new WAITING import; the same file sent again while it waits is the same import."""
        for existing in self._imports.values():
            if (existing.shop_id == shop_id and existing.mode == mode
                    and existing.status in PENDING_STATUSES and existing.content == content):
                log.info("sandbox_offer_import_duplicate", import_id=existing.import_id)
                return existing
        self._last_import_id += 1
        imported = OfferImport(self._last_import_id, shop_id, mode, now, content, filename)
        self._imports[imported.import_id] = imported
        log.info("sandbox_offer_import_received", import_id=imported.import_id, shop_id=shop_id,
                 mode=mode, size=len(content))
        return imported

    def get_import(self, import_id: int, shop_id: int | None = None) -> OfferImport | None:
        found = self._imports.get(import_id)
        if found is None or (shop_id is not None and found.shop_id != shop_id):
            return None
        return found

    def shop_import(self, shop_id: int, import_id: int) -> OfferImport:
        """An import as OF02 and OF03 find it: another shop's is as unknown as a missing one."""
        imported = self.get_import(import_id, shop_id)
        if imported is None:
            raise MiraklError(404, f"Offer import {import_id} not found", "IMPORT_NOT_FOUND")
        return imported

    def error_report(self, shop_id: int, import_id: int) -> bytes:
        """OF03: only a complete import with lines in error has a report."""
        imported = self.shop_import(shop_id, import_id)
        if not imported.has_error_report:
            raise MiraklError(404, f"Offer import {import_id} has no error report",
                              "ERROR_REPORT_NOT_FOUND")
        return imported.error_report()

    def complete(self, import_id: int, now: datetime) -> OfferImport:
        """Process a waiting import now; one already processed is left as it is."""
        imported = self.get_import(import_id)
        if imported is None:
            raise MiraklError(404, f"Offer import {import_id} not found", "IMPORT_NOT_FOUND")
        self.process(imported, now)
        return imported

    def imports(self, shop_id: int | None = None) -> list[OfferImport]:
        return [i for i in self._imports.values() if shop_id is None or i.shop_id == shop_id]

    def progress(self, now: datetime, delay: float | None) -> None:
        """WAITING, RUNNING from half the delay, then processed once the delay is over."""
        if delay is None:
            return
        for imported in list(self._imports.values()):
            if imported.status not in PENDING_STATUSES:
                continue
            if now >= imported.created + timedelta(seconds=delay / 2):
                imported.status = RUNNING
            due = imported.created + timedelta(seconds=delay)
            if now >= due:
                self.process(imported, due)

    def process(self, imported: OfferImport, when: datetime) -> None:
        """Read the file, check each line, apply the valid ones; FAILED if it cannot be read."""
        if imported.status not in PENDING_STATUSES:
            return
        imported.done = when
        try:
            header, lines = read_file(imported.content,
                                      [f.code for f in self.additional_fields])
        except UnreadableFile as exc:
            imported.status, imported.reason_status = FAILED, str(exc)
            log.info("sandbox_offer_import_failed", import_id=imported.import_id,
                     reason=imported.reason_status)
            return
        imported.header = header
        imported.lines_read = len(lines)
        shop_offers = self._offers.setdefault(imported.shop_id, {})
        seen: set[str] = set()
        for number, row in lines:
            cells = dict(zip(header, row, strict=False))
            errors: list[str] = []
            if len(row) != len(header):
                errors.append(f"the line has {len(row)} cells, the header has {len(header)}")
            action, line_errors, values = check_line(cells, self.unknown_eans,
                                                     self.additional_fields)
            errors += line_errors
            sku = cells.get("sku", "").strip()
            if sku and sku in seen:
                errors.append("sku appears more than once in the file")
            seen.add(sku)
            if not errors and action == "delete" and sku not in shop_offers:
                errors.append("no offer with this sku to delete")
            if errors:
                imported.errors.append(LineError(number, row, " | ".join(errors)))
                continue
            imported.lines_in_success += 1
            if action == "delete":
                del shop_offers[sku]
                imported.deleted += 1
                continue
            assert values is not None
            line = {name: cells.get(name, "") for name in header}
            offer = shop_offers.get(sku)
            if offer is None:
                self._last_offer_id += 1
                shop_offers[sku] = Offer(self._last_offer_id, imported.shop_id, values, line,
                                         when, when, imported.import_id)
                imported.inserted += 1
            else:
                offer.values, offer.line = values, line
                offer.updated, offer.import_id = when, imported.import_id
                imported.updated += 1
        if imported.mode == "REPLACE":
            for sku in [s for s in shop_offers if s not in seen]:
                del shop_offers[sku]
                imported.deleted += 1
        imported.status = COMPLETE
        log.info("sandbox_offer_import_complete", import_id=imported.import_id,
                 lines_read=imported.lines_read, lines_in_error=len(imported.errors),
                 inserted=imported.inserted, updated=imported.updated,
                 deleted=imported.deleted)

    # -- offers

    def declared_fields(self) -> list[dict[str, Any]]:
        """AF01's additional fields of the offers."""
        return [f.as_af01() for f in self.additional_fields]

    def offers(self, shop_id: int | None = None) -> list[Offer]:
        return [offer for shop, by_sku in sorted(self._offers.items())
                if shop_id is None or shop == shop_id for offer in by_sku.values()]

    def raw_offers(self, shop_id: int | None = None) -> list[dict[str, Any]]:
        """The control API's view of the offers, all shops unless told."""
        return [raw_offer(offer) for offer in self.offers(shop_id)]

    def set_unknown_eans(self, eans: Iterable[str]) -> list[str]:
        """The EANs the catalogue does not know from now on (the list replaces the last one)."""
        self.unknown_eans = frozenset(eans)
        log.info("sandbox_unknown_products_set", count=len(self.unknown_eans))
        return sorted(self.unknown_eans)

    def list_offers(self, shop_id: int, query: OfferQuery, now: datetime,
                    duplicate_pages: bool = False) -> tuple[list[dict[str, Any]], int]:
        """OF21: the page of the shop's matching offers, sorted as asked, then by offer id."""
        found = [render_offer(offer, now, self.default_leadtime_days)
                 for offer in self._offers.get(shop_id, {}).values()
                 if (query.sku is None or offer.values.sku == query.sku)
                 and (query.product_id is None or query.product_id in product_ids(offer))
                 and (query.states is None or offer.values.state in query.states)]
        key = {"price": "price", "productTitle": "product_title"}.get(query.sort, "total_price")
        found.sort(key=lambda o: (o[key], o["offer_id"]), reverse=query.descending)
        start = query.offset - 1 if duplicate_pages and query.offset > 0 else query.offset
        return found[start:start + query.max], len(found)


# ---------------------------------------------------------------------- saved state


def _date(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _parse_date(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _import_state(imported: OfferImport) -> dict[str, Any]:
    body = asdict(imported)
    body.update(created=_date(imported.created), done=_date(imported.done),
                content=base64.b64encode(imported.content).decode("ascii"))
    return body


def _import_from_state(item: dict[str, Any]) -> OfferImport:
    values = dict(item)
    values.update(created=_parse_date(item["created"]), done=_parse_date(item["done"]),
                  content=base64.b64decode(item["content"], validate=True),
                  errors=[LineError(**error) for error in item["errors"]])
    return OfferImport(**values)


def _offer_state(offer: Offer) -> dict[str, Any]:
    """OfferValues hold Decimals and datetimes: kept as their text."""
    values = {}
    for f in fields(OfferValues):
        value = getattr(offer.values, f.name)
        values[f.name] = (value.isoformat() if isinstance(value, datetime)
                          else str(value) if isinstance(value, Decimal) else value)
    return {"offer_id": offer.offer_id, "shop_id": offer.shop_id, "values": values,
            "line": dict(offer.line), "created": _date(offer.created),
            "updated": _date(offer.updated), "import_id": offer.import_id}


def _offer_from_state(item: dict[str, Any]) -> Offer:
    values: dict[str, Any] = {}
    for f in fields(OfferValues):
        if f.name == "additional":  # lists in JSON; absent from states saved before it
            values[f.name] = tuple(tuple(cell) for cell in item["values"].get(f.name, ()))
            continue
        value = item["values"][f.name]
        kind = str(f.type)
        if value is not None and "Decimal" in kind:
            value = Decimal(value)
        elif value is not None and "datetime" in kind:
            value = datetime.fromisoformat(value)
        values[f.name] = value
    return Offer(int(item["offer_id"]), int(item["shop_id"]), OfferValues(**values),
                 dict(item["line"]), datetime.fromisoformat(item["created"]),
                 datetime.fromisoformat(item["updated"]), int(item["import_id"]))
