"""Delivery of the merchant's actions to the marketplace, from the outbox.

States: pending (recorded, not sent yet), sent (a call went out; its outcome is not known
yet), confirmed, failed (the marketplace refused it: its message is kept), expired (not
confirmed within the expiry delay, 72 hours by default), canceled (no longer to send, e.g. a
refund request superseded before it left).

Each action carries its payload: what its event said (lines, amounts, tracking, reason, the
order's marketplace id), written by the outbox projection, so delivery sends exactly that and
never reloads the order. An action is marked `sent` before the call. If the call times out or
the connection drops, it stays `sent`, and the next attempt first reads the order back from
the marketplace: if the change is there, the action is confirmed without sending it again.
So an action whose response was lost is never applied twice. One action per order is in flight at a time, in
the order the merchant asked for them.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import structlog

from app.application.orders import OrderService
from app.application.reference_data import ChannelReference, UnknownReason
from app.domain.errors import DomainError
from app.ports.marketplace import (
    CancelLine,
    Marketplace,
    RefundLine,
    UpstreamRefused,
    UpstreamUnavailable,
)
from app.ports.stores import Action, SyncStore

log = structlog.get_logger(__name__)

_ACCEPTED_STATES = {"WAITING_DEBIT", "WAITING_DEBIT_PAYMENT", "SHIPPING", "SHIPPED", "TO_COLLECT",
                    "RECEIVED", "CLOSED"}
_SHIPPED_STATES = {"SHIPPED", "TO_COLLECT", "RECEIVED", "CLOSED"}


@dataclass
class DeliveryRound:
    sent: int = 0
    confirmed: int = 0
    failed: int = 0
    retried: int = 0
    expired: int = 0


class ActionDelivery:
    """Sends due actions for the channels it has a client for."""

    def __init__(
        self,
        service: OrderService,
        store: SyncStore,
        clients: Mapping[str, Marketplace],
        *,
        clock: Callable[[], float] = time.time,
        expiry_seconds: float = 72 * 3600,
        backoff_base: float = 5.0,
        backoff_max: float = 600.0,
        random_: Callable[[], float] = random.random,
        reference: ChannelReference | None = None,
    ) -> None:
        self.service = service
        self.store = store
        self.clients = dict(clients)
        self.clock = clock
        self.expiry_seconds = expiry_seconds
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.random = random_
        self.reference = reference or ChannelReference(self.clients, clock=clock)

    # ---------------------------------------------------------------- a round

    def run(self, heartbeat: Callable[[], None] = lambda: None) -> DeliveryRound:
        now = self.clock()
        result = DeliveryRound(expired=self.store.expire_actions(now - self.expiry_seconds, at=now))
        for action in self.store.due_actions(now):
            self.deliver(action, result)
            heartbeat()
        return result

    def deliver(self, action: Action, result: DeliveryRound | None = None) -> str:
        """One attempt at one action; returns the action's state afterwards."""
        result = result or DeliveryRound()
        now = self.clock()
        payload = action.payload
        if payload is None:
            # Written before the outbox carried its payloads and not filled since: the
            # outbox projection fills it on its first pass after the upgrade.
            self.store.move_action(action.id, from_states=[action.state], to_state=action.state,
                                   at=now, next_attempt_at=now + 60)
            return action.state
        client = self.clients.get(payload["channel"])
        if client is None:
            # No marketplace configured for this channel: look again later.
            self.store.move_action(action.id, from_states=[action.state], to_state=action.state,
                                   at=now, next_attempt_at=now + 3600)
            return action.state
        mid = payload["marketplace_order_id"]
        bound = log.bind(action_id=action.id, kind=action.kind, channel=payload["channel"],
                         marketplace_order_id=mid)
        if action.kind == "refund" and self.store.refund_superseded(action):
            self.store.move_action(action.id, from_states=["pending", "sent"], to_state="canceled",
                                   at=now, error="superseded by a later refund request")
            return "canceled"
        if action.state == "sent":
            # An earlier attempt's outcome is unknown: read the order back before resending.
            try:
                raw = client.get_order(mid)
            except UpstreamUnavailable as exc:
                return self._later(action, "sent", f"re-read failed: {exc}", result)
            applied = self._applied(client, action, raw)
            if applied is not None:
                bound.info("marketplace_action_found_applied")
                return self._confirm(action, applied, result)
        if not self.store.move_action(action.id, from_states=[action.state], to_state="sent",
                                      at=now, attempt=True):
            return action.state  # someone else moved it
        result.sent += 1
        try:
            outcome = self._send(client, action)
        except UpstreamRefused as exc:
            bound.warning("marketplace_action_refused", status=exc.status, code=exc.code)
            result.failed += 1
            self.store.move_action(action.id, from_states=["sent"], to_state="failed",
                                   at=self.clock(), error=exc.message or str(exc),
                                   error_code=exc.code or str(exc.status))
            return "failed"
        except UpstreamUnavailable as exc:
            bound.warning("marketplace_action_unavailable", status=exc.status,
                          maybe_applied=exc.maybe_applied)
            state = "sent" if exc.maybe_applied else "pending"
            return self._later(action, state, str(exc), result, retry_after=exc.retry_after)
        except ValueError as exc:
            # The request could not even be built (refused before sending): nothing went out.
            bound.error("marketplace_action_invalid", error=str(exc))
            result.failed += 1
            self.store.move_action(action.id, from_states=["sent"], to_state="failed",
                                   at=self.clock(), error=str(exc), error_code="INVALID_REQUEST")
            return "failed"
        bound.info("marketplace_action_confirmed")
        return self._confirm(action, outcome, result)

    # ---------------------------------------------------------------- outcomes

    def _later(
        self, action: Action, state: str, error: str, result: DeliveryRound,
        retry_after: float | None = None,
    ) -> str:
        result.retried += 1
        delay = min(self.backoff_max, self.backoff_base * 2 ** max(0, action.attempts))
        delay = max(retry_after or 0.0, delay * (0.5 + self.random() / 2))
        now = self.clock()
        self.store.move_action(action.id, from_states=["pending", "sent"], to_state=state, at=now,
                               next_attempt_at=now + delay, error=error)
        return state

    def _confirm(self, action: Action, outcome: dict[str, Any] | None,
                 result: DeliveryRound) -> str:
        if not self.store.move_action(action.id, from_states=["pending", "sent"],
                                      to_state="confirmed", at=self.clock(), result=outcome):
            return "confirmed"
        result.confirmed += 1
        if action.kind == "refund" and outcome is not None:
            # The marketplace has the request: it now waits for La Redoute's approval. (The
            # import would see it too, once the refund shows on the order.)
            try:
                self.service.submit_refund(action.order_id, outcome["refund_id"])
            except DomainError as exc:
                log.info("refund_submit_not_recorded", order_id=str(action.order_id),
                         error=str(exc))
        return "confirmed"

    # ---------------------------------------------------------------- sending

    def _send(self, client: Marketplace, action: Action) -> dict[str, Any] | None:
        """Send what the action's event said; the outcome to keep with the action."""
        payload = action.payload or {}
        mid = payload["marketplace_order_id"]
        if action.kind in ("accept", "refuse"):
            client.accept(mid, {line_id: bool(accepted)
                                for line_id, accepted in payload["decisions"].items()})
            return None
        if action.kind == "ship":
            known = self.reference.carrier(payload["channel"], payload["carrier"])
            code = known.code if known else None
            client.update_tracking(
                mid,
                tracking_number=payload["tracking_number"],
                carrier_code=code,
                carrier_name=None if code else payload["carrier"],
                carrier_url=None if code else payload["tracking_url"],
            )
            client.ship(mid)
            return None
        if action.kind == "cancel":
            if payload["whole_order"]:
                client.cancel_order(mid)
                return None
            reason = self._reason_code(payload["channel"], "CANCELATION", payload["reason"])
            charges = payload.get("charges")
            if charges is None:
                # Recorded before cancellations kept their parts: the pieces' price alone.
                client.cancel_lines([
                    CancelLine(
                        order_line_id=line_id,
                        quantity=int(quantity),
                        amount=Decimal(payload["amounts"][line_id]),
                        shipping_amount=Decimal("0.00"),
                        reason_code=reason,
                    )
                    for line_id, quantity in payload["lines"].items()
                ])
                return None
            client.cancel_lines([
                CancelLine(
                    order_line_id=line_id,
                    quantity=int(quantity),
                    reason_code=reason,
                    currency=payload.get("currency"),
                    **_parts(charges[line_id]),
                )
                for line_id, quantity in payload["lines"].items()
            ], tax_mode=payload.get("tax_mode"))
            return None
        if action.kind == "refund":
            reason = self._reason_code(payload["channel"], "REFUND", payload["reason"])
            charges = payload.get("charges")
            if charges is not None:
                created = client.refund([
                    RefundLine(
                        order_line_id=line_id,
                        quantity=int(payload["lines"].get(line_id, 0)),
                        reason_code=reason,
                        currency=payload.get("currency"),
                        **_parts(part),
                    )
                    for line_id, part in charges.items()
                ], tax_mode=payload.get("tax_mode"))
                return {"refund_id": payload["refund_id"],
                        "marketplace_refund_ids": [str(r["refund_id"]) for r in created
                                                   if "refund_id" in r]}
            # Recorded before refunds kept their parts: the order's shipping is spread over
            # the lines as the marketplace holds it.
            lines = [
                RefundLine(
                    order_line_id=line_id,
                    amount=Decimal(payload["line_amounts"][line_id]),
                    shipping_amount=Decimal("0.00"),
                    quantity=int(quantity),
                    reason_code=reason,
                )
                for line_id, quantity in payload["lines"].items()
            ]
            shipping = Decimal(payload["shipping_amount"])
            if shipping:
                lines = self._with_shipping(client, mid, lines, shipping, reason)
            created = client.refund(lines)
            return {"refund_id": payload["refund_id"],
                    "marketplace_refund_ids": [str(r["refund_id"]) for r in created
                                               if "refund_id" in r]}
        raise ValueError(f"unknown action kind {action.kind!r}")

    @staticmethod
    def _with_shipping(
        client: Marketplace, mid: str, lines: list[RefundLine], shipping: Decimal, reason: str
    ) -> list[RefundLine]:
        """Spread the shipping refund over the lines, each within its own shipping price left.

        The marketplace keeps shipping per line; ours is per order, so read its split first.
        """
        raw = client.get_order(mid)
        if raw is None:
            raise UpstreamRefused("OR11", 404, "ORDER_NOT_FOUND", f"order {mid} not found")
        room: dict[str, Decimal] = {}
        for mline in raw.get("order_lines", []):
            refunded = sum((Decimal(str(r.get("shipping_amount", 0))) for r in mline.get("refunds", [])
                            if r.get("refund_state") != "REFUSED"), Decimal(0))
            canceled = sum((Decimal(str(c.get("shipping_amount", 0)))
                            for c in mline.get("cancelations", [])), Decimal(0))
            room[str(mline["order_line_id"])] = Decimal(str(mline.get("shipping_price", 0))) - refunded - canceled
        by_line = {line.order_line_id: line for line in lines}
        left = shipping
        for line_id, available in room.items():
            if left <= 0:
                break
            part = min(left, max(available, Decimal(0)))
            if part <= 0:
                continue
            left -= part
            known = by_line.get(line_id)
            by_line[line_id] = RefundLine(line_id, known.amount if known else Decimal("0.00"),
                                          part, known.quantity if known else 0, reason)
        if left > 0:
            raise UpstreamRefused("OR28", 400, "REFUND_AMOUNT_TOO_HIGH",
                                  f"only {shipping - left} EUR of shipping is left to refund")
        return list(by_line.values())

    # ---------------------------------------------------------------- read-back

    def _applied(
        self, client: Marketplace, action: Action, raw: Mapping[str, Any] | None
    ) -> dict[str, Any] | None:
        """The action's outcome if the marketplace shows it applied already, else None."""
        if raw is None:
            return None
        payload = action.payload or {}
        state = str(raw.get("order_state"))
        if action.kind == "accept":
            return {} if state in _ACCEPTED_STATES else None
        if action.kind == "refuse":
            return {} if state == "REFUSED" else None
        if action.kind == "ship":
            return {} if state in _SHIPPED_STATES else None
        view = client.read_order(raw)
        if action.kind == "cancel":
            wanted = payload["canceled_after"]
            shown = {line.line_id: line.canceled_quantity for line in view.lines}
            done = all(shown.get(lid, 0) >= int(qty) for lid, qty in wanted.items())
            return {} if done or state == "CANCELED" else None
        if action.kind == "refund":
            linked = {mid for ids in self.store.refund_links(action.order_id).values()
                      for mid in ids}
            unclaimed = [r for line in view.lines for r in line.refunds
                         if r.id not in linked
                         and line.line_id in (payload.get("charges") or payload["line_amounts"])]
            if not payload["lines"]:
                unclaimed = [r for line in view.lines for r in line.refunds if r.id not in linked]
            if not unclaimed:
                return None
            return {"refund_id": payload["refund_id"],
                    "marketplace_refund_ids": [r.id for r in unclaimed]}
        return None

    # ---------------------------------------------------------------- reference data

    def _reason_code(self, channel: str, kind: str, text: str | None) -> str:
        """The marketplace's code of the action's reason; a reason it does not list is not
        sent (ValueError: the action fails, naming the valid codes)."""
        try:
            return self.reference.reason_code(channel, kind, text or "")
        except UnknownReason as exc:
            raise ValueError(exc.message) from None


def _parts(part: Mapping[str, Any]) -> dict[str, Any]:
    """A line's part of a cancellation or a refund, as OR28 / OR30 lines take it."""
    return {
        "amount": Decimal(part["price"]),
        "shipping_amount": Decimal(part["shipping"]),
        **{key: {code: Decimal(amount) for code, amount in part[key].items()}
           for key in ("taxes", "shipping_taxes", "fees")},
    }


__all__ = ["ActionDelivery", "DeliveryRound"]
