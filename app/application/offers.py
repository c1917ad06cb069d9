"""The offer catalogue: use cases over the Offer aggregate, in the service's event store.

Offers live in the same store as orders (one event log, one notification sequence for the
projections and integrators). `upsert_many` applies a whole source file: rows whose values
are those of the stored offer are skipped using a digest table, new offers are created and
changed ones loaded in batches, and with a full source the offers it no longer lists are set
to quantity 0 (kept as virtual products, never deleted). The same file twice changes nothing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from uuid import UUID

import structlog
from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError, StoredEvent

from app.adapters.db import PostgresDatabase, SQLiteDatabase
from app.adapters.recorders import EVENTS_TABLE
from app.application import OrderService, Receipt
from app.domain.errors import OfferNotFound, VersionConflict
from app.domain.offer import FieldError, Offer, offer_id_for, read_fields

log = structlog.get_logger(__name__)


@dataclass
class RejectedRow:
    line: int
    sku: str | None
    field: str
    rule: str
    message: str


@dataclass
class BulkResult:
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    unpublished: int = 0
    invalid: int = 0
    rejected: list[RejectedRow] = field(default_factory=list)


def values_digest(values: Mapping[str, Any], read_errors: Sequence[str]) -> str:
    """Fingerprint of an offer's values (and of the fields that could not be read)."""
    payload = json.dumps([values, sorted(read_errors)], sort_keys=True, default=_plain,
                         separators=(",", ":"))
    return hashlib.blake2b(payload.encode(), digest_size=16).hexdigest()


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(type(value))


def _format_fields(errors: Iterable[Mapping[str, str] | FieldError]) -> list[str]:
    fields = []
    for error in errors:
        rule = error.rule if isinstance(error, FieldError) else error["rule"]
        name = error.field if isinstance(error, FieldError) else error["field"]
        if rule == "format":
            fields.append(name)
    return fields


class OfferCatalog:
    def __init__(self, service: OrderService, db: SQLiteDatabase | PostgresDatabase) -> None:
        self.service = service
        self.db = db
        self.native_ids = db.dialect == "postgres"

    # ---------------------------------------------------------------- reading

    def find(self, channel: str, sku: str) -> Offer | None:
        try:
            offer = self.service.repository.get(offer_id_for(channel, sku))
        except AggregateNotFoundError:
            return None
        return offer if isinstance(offer, Offer) else None

    def get(self, channel: str, sku: str) -> Offer:
        offer = self.find(channel, sku)
        if offer is None:
            raise OfferNotFound(channel, sku)
        return offer

    def load_many(self, ids: Sequence[UUID]) -> dict[UUID, Offer]:
        """Many offers at once: their events in a few statements, replayed here."""
        found: dict[UUID, Offer] = {}
        mapper = self.service.mapper
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            marks = ", ".join(["%s"] * len(chunk))
            rows = self.db.execute(
                f"SELECT originator_id, originator_version, topic, state FROM {EVENTS_TABLE}"
                f" WHERE originator_id IN ({marks}) ORDER BY originator_id, originator_version",
                # The event store keeps ids as UUIDs on PostgreSQL, as hex strings on SQLite.
                tuple(i if self.native_ids else i.hex for i in chunk),
            )
            for oid, version, topic, state in rows:
                oid = oid if isinstance(oid, UUID) else UUID(oid)
                stored = StoredEvent(originator_id=oid, originator_version=version, topic=topic,
                                     state=bytes(state))
                domain_event = mapper.to_domain_event(stored)
                found[oid] = domain_event.mutate(found.get(oid))
        return found

    def history(self, channel: str, sku: str) -> list[Any]:
        self.get(channel, sku)
        return self.service.history(offer_id_for(channel, sku))

    # ---------------------------------------------------------------- one offer

    def put(
        self,
        channel: str,
        sku: str,
        raw: Mapping[str, Any],
        *,
        expected_version: int | None = None,
        receipt: Receipt = None,
    ) -> tuple[Offer, bool]:
        """Create or replace the offer's values; (offer, created)."""
        values, errors = read_fields(raw)
        offer = self.find(channel, sku)
        if offer is None:
            if expected_version is not None:
                raise VersionConflict(expected_version, None)
            offer = Offer.register(channel=channel, sku=sku, values=values, errors=errors)
            self._save([offer], receipt)
            return offer, True
        self._check_version(offer, expected_version)
        offer.update(values, errors)
        self._save([offer], receipt)
        return offer, False

    def unpublish(self, channel: str, sku: str, *, expected_version: int | None = None,
                  receipt: Receipt = None) -> Offer:
        return self._change(channel, sku, expected_version, lambda o: o.unpublish(), receipt)

    def set_promotion(self, channel: str, sku: str, *, price: Decimal, crossed_price: Decimal,
                      start: str | None, end: str | None, expected_version: int | None = None,
                      receipt: Receipt = None) -> Offer:
        return self._change(
            channel, sku, expected_version,
            lambda o: o.set_promotion(price=price, crossed_price=crossed_price, start=start,
                                      end=end),
            receipt,
        )

    def end_promotion(self, channel: str, sku: str, *, expected_version: int | None = None,
                      receipt: Receipt = None) -> Offer:
        return self._change(channel, sku, expected_version, lambda o: o.end_promotion(), receipt)

    def join_operation(self, offers: Sequence[Offer], *, operation: str, batch_id: str) -> None:
        for offer in offers:
            offer.join_operation(operation=operation, batch_id=batch_id)
        self._save(list(offers), None)

    def _change(self, channel: str, sku: str, expected_version: int | None,
                command: Callable[[Offer], Any], receipt: Receipt) -> Offer:
        offer = self.get(channel, sku)
        self._check_version(offer, expected_version)
        command(offer)
        self._save([offer], receipt)
        return offer

    @staticmethod
    def _check_version(offer: Offer, expected_version: int | None) -> None:
        if expected_version is not None and expected_version != offer.version:
            raise VersionConflict(expected_version, offer.version)

    def _save(self, offers: list[Offer], receipt: Receipt) -> None:
        extra = {"idempotency": receipt(offers[0])} if receipt is not None else {}
        try:
            self.service.save(*offers, **extra)
        except IntegrityError:
            raise VersionConflict(None, None) from None
        self._record_digests(offers)

    def _record_digests(self, offers: Sequence[Offer]) -> None:
        rows = [
            (o.channel, o.sku, values_digest(o.values, _format_fields(o.errors)), o.version)
            for o in offers
        ]
        if not rows:
            return
        with self.db.transaction() as tx:
            tx.executemany(
                "INSERT INTO offer_sources (channel, sku, digest, version) VALUES (%s, %s, %s, %s)"
                " ON CONFLICT (channel, sku) DO UPDATE SET digest = excluded.digest,"
                " version = excluded.version WHERE excluded.version > offer_sources.version",
                rows,
            )

    # ---------------------------------------------------------------- a whole source

    def upsert_many(
        self, channel: str, rows: Iterable[Mapping[str, Any]], *, full: bool = False,
        batch_size: int = 1000,
    ) -> BulkResult:
        result = BulkResult()
        known = {sku: digest for sku, digest in self.db.execute(
            "SELECT sku, digest FROM offer_sources WHERE channel = %s", (channel,))}
        seen: set[str] = set()
        creates: list[tuple[str, dict[str, Any], list[FieldError]]] = []
        updates: list[tuple[str, dict[str, Any], list[FieldError]]] = []
        for line, raw in enumerate(rows, start=1):
            result.rows += 1
            sku = str(raw.get("sku") or "").strip()
            if not sku:
                result.rejected.append(RejectedRow(line, None, "sku", "required",
                                                   "PartnerProductReference (SKU) is required"))
                continue
            if sku in seen:
                result.rejected.append(RejectedRow(line, sku, "sku", "unique",
                                                   f"SKU {sku!r} is given twice in the source"))
                continue
            seen.add(sku)
            values, errors = read_fields(raw)
            digest = values_digest(values, [e.field for e in errors])
            if known.get(sku) == digest:
                result.unchanged += 1
            elif sku in known:
                updates.append((sku, values, errors))
            else:
                creates.append((sku, values, errors))
        for start in range(0, len(creates), batch_size):
            self._create_batch(channel, creates[start:start + batch_size], result)
        for start in range(0, len(updates), batch_size):
            self._update_batch(channel, updates[start:start + batch_size], result)
        if full:
            missing = [sku for sku in known if sku not in seen]
            for start in range(0, len(missing), batch_size):
                self._unpublish_batch(channel, missing[start:start + batch_size], result)
        log.info("offers_upserted", channel=channel, rows=result.rows, created=result.created,
                 updated=result.updated, unchanged=result.unchanged,
                 unpublished=result.unpublished, rejected=len(result.rejected),
                 invalid=result.invalid)
        return result

    def _create_batch(self, channel: str, batch: list[tuple[str, dict[str, Any], list[FieldError]]],
                      result: BulkResult) -> None:
        offers = [Offer.register(channel=channel, sku=sku, values=values, errors=errors)
                  for sku, values, errors in batch]
        try:
            self.service.save(*offers)
        except IntegrityError:
            # Some exist already (created meanwhile): apply the rows as updates instead.
            self._update_batch(channel, batch, result)
            return
        self._record_digests(offers)
        result.created += len(offers)
        result.invalid += sum(1 for o in offers if o.errors)

    def _update_batch(self, channel: str, batch: list[tuple[str, dict[str, Any], list[FieldError]]],
                      result: BulkResult) -> None:
        loaded = self.load_many([offer_id_for(channel, sku) for sku, _, _ in batch])
        touched: list[Offer] = []
        same: list[Offer] = []
        for sku, values, errors in batch:
            offer = loaded.get(offer_id_for(channel, sku))
            if offer is None:
                touched.append(Offer.register(channel=channel, sku=sku, values=values,
                                              errors=errors))
                result.created += 1
            elif offer.update(values, errors):
                touched.append(offer)
                result.updated += 1
            else:
                same.append(offer)  # only its digest was out of date
                result.unchanged += 1
        if touched:
            self.service.save(*touched)
        self._record_digests(touched + same)
        result.invalid += sum(1 for o in touched if o.errors)

    def _unpublish_batch(self, channel: str, skus: list[str], result: BulkResult) -> None:
        loaded = self.load_many([offer_id_for(channel, sku) for sku in skus])
        changed = []
        for offer in loaded.values():
            if offer.published:
                offer.unpublish()
                changed.append(offer)
        if changed:
            self.service.save(*changed)
            self._record_digests(changed)
        result.unpublished += len(changed)


__all__ = ["BulkResult", "OfferCatalog", "OfferNotFound", "RejectedRow", "values_digest"]
