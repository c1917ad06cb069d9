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
from eventsourcing.persistence import IntegrityError

from app.application.event_store import EventStore
from app.domain.errors import OfferNotFound, RuleViolation, VersionConflict
from app.domain.offer import OUT_OF_RANGE, FieldError, Offer, offer_id_for, read_fields
from app.ports.idempotency import IdempotencyClaim
from app.ports.stores import OfferSources

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


class OfferService:
    """Offers one at a time (with their versions) or a whole source at once."""

    def __init__(self, store: EventStore, sources: OfferSources) -> None:
        self.store = store
        self.sources = sources

    # ---------------------------------------------------------------- reading

    def find(self, channel: str, sku: str) -> Offer | None:
        try:
            offer = self.store.repository.get(offer_id_for(channel, sku))
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
        mapper = self.store.mapper
        for stored in self.sources.stored_events(ids):
            domain_event = mapper.to_domain_event(stored)
            found[stored.originator_id] = domain_event.mutate(found.get(stored.originator_id))
        return found

    def history(self, channel: str, sku: str) -> list[Any]:
        self.get(channel, sku)
        return self.store.history(offer_id_for(channel, sku))

    # ---------------------------------------------------------------- one offer

    def put(
        self,
        channel: str,
        sku: str,
        raw: Mapping[str, Any],
        *,
        expected_version: int | None = None,
        idempotency: IdempotencyClaim | None = None,
    ) -> tuple[Offer, bool]:
        """Create or replace the offer's values; (offer, created). A value of an absurd size is
        refused (RuleViolation) rather than kept as an error on the offer."""
        values, errors = read_fields(raw)
        for error in errors:
            if error.rule in OUT_OF_RANGE:
                raise RuleViolation(error.field, error.rule, error.message)
        offer = self.find(channel, sku)
        if offer is None:
            if expected_version is not None:
                raise VersionConflict(expected_version, None)
            offer = Offer.register(channel=channel, sku=sku, values=values, errors=errors)
            self._save([offer], idempotency, created=True)
            return offer, True
        self._check_version(offer, expected_version)
        offer.update(values, errors)
        self._save([offer], idempotency)
        return offer, False

    def unpublish(self, channel: str, sku: str, *, expected_version: int | None = None,
                  idempotency: IdempotencyClaim | None = None) -> Offer:
        return self._change(channel, sku, expected_version, lambda o: o.unpublish(), idempotency)

    def set_promotion(self, channel: str, sku: str, *, price: Decimal, crossed_price: Decimal,
                      start: str | None, end: str | None, expected_version: int | None = None,
                      idempotency: IdempotencyClaim | None = None) -> Offer:
        return self._change(
            channel, sku, expected_version,
            lambda o: o.set_promotion(price=price, crossed_price=crossed_price, start=start,
                                      end=end),
            idempotency,
        )

    def end_promotion(self, channel: str, sku: str, *, expected_version: int | None = None,
                      idempotency: IdempotencyClaim | None = None) -> Offer:
        return self._change(channel, sku, expected_version, lambda o: o.end_promotion(), idempotency)

    def join_operation(self, offers: Sequence[Offer], *, operation: str, batch_id: str) -> None:
        for offer in offers:
            offer.join_operation(operation=operation, batch_id=batch_id)
        self._save(list(offers), None)

    def _change(self, channel: str, sku: str, expected_version: int | None,
                command: Callable[[Offer], Any], idempotency: IdempotencyClaim | None) -> Offer:
        offer = self.get(channel, sku)
        self._check_version(offer, expected_version)
        command(offer)
        self._save([offer], idempotency)
        return offer

    @staticmethod
    def _check_version(offer: Offer, expected_version: int | None) -> None:
        if expected_version is not None and expected_version != offer.version:
            raise VersionConflict(expected_version, offer.version)

    def _save(self, offers: list[Offer], idempotency: IdempotencyClaim | None, *,
              created: bool = False) -> None:
        try:
            if idempotency is None:
                self.store.save(*offers)
            else:
                self.store.save_command(offers[0], idempotency, *offers[1:], created=created)
        except IntegrityError:
            raise VersionConflict(None, None) from None
        self._record_digests(offers)

    def _record_digests(self, offers: Sequence[Offer]) -> None:
        rows = [
            (o.channel, o.sku, values_digest(o.values, _format_fields(o.errors)), o.version)
            for o in offers
        ]
        if rows:
            self.sources.record_digests(rows)

    # ---------------------------------------------------------------- a whole source

    def upsert_many(
        self, channel: str, rows: Iterable[Mapping[str, Any]], *, full: bool = False,
        batch_size: int = 1000,
    ) -> BulkResult:
        result = BulkResult()
        known = self.sources.digests(channel)
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
            absurd = next((e for e in errors if e.rule in OUT_OF_RANGE), None)
            if absurd is not None:
                result.rejected.append(RejectedRow(line, sku, absurd.field, absurd.rule,
                                                   absurd.message))
                continue
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
            self.store.save(*offers)
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
            self.store.save(*touched)
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
            self.store.save(*changed)
            self._record_digests(changed)
        result.unpublished += len(changed)


__all__ = ["BulkResult", "OfferService", "RejectedRow", "values_digest"]
