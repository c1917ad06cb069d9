"""Random command sequences on an order agree with a small reference model of the seller guide.

The model below is written from the seller guide's order rules alone: statuses, what each
command needs, what it changes, and the refund arithmetic. It shares no code with app.domain
beyond the command signatures, so a rule broken in the aggregate shows as a disagreement.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from app.domain.errors import DeadlinePassed, InvalidStatus, RuleViolation
from app.domain.order import Address, Customer, Delivery, LineQuantity, NewLine, Order

CREATED_AT = datetime(2024, 11, 29, 8, 0, tzinfo=UTC)
DEADLINE = CREATED_AT + timedelta(hours=72)
LATER = CREATED_AT + timedelta(days=10)

LINES = [
    ("LR-TUNIC-001-1", "Tunique en lin", Decimal("39.90")),
    ("LR-TUNIC-001-2", "Ceinture en cuir", Decimal("15.00")),
    ("LR-TUNIC-001-3", "Foulard en soie", Decimal("7.45")),
]
UNKNOWN_LINE = "LR-SCARF-404"

TERMINAL = {"REFUSED", "CANCELED", "OUT_OF_STOCK"}
REFUND_REFUSAL_REASONS = [
    "EXPIRED_CARD",
    "STOLEN_CARD",
    "CARD_OPPOSITION",
    "AMOUNT_ABOVE_ORDER_AMOUNT",
    "FRAUD",
]
# Carriers as a merchant types them, and whether we can build their tracking page.
CARRIERS = {
    "Colissimo": True,
    "Colis Privé": True,
    "mondial relay": True,
    "DHL": True,
    "Kuehne+Nagel": False,
    " ": False,
}
TRACKING_NUMBERS = ["6A12345678901", "X" * 32, "X" * 33, "6A 123", "  "]
TRACKING_URLS = [None, "https://suivi.example.fr/6A1", "ftp://suivi.example.fr/6A1"]

# Times around the 72-hour acceptance deadline.
OFFSETS = st.sampled_from(
    [
        timedelta(hours=1),
        timedelta(hours=71, minutes=59),
        timedelta(hours=72),
        timedelta(hours=72, seconds=1),
        timedelta(days=5),
    ]
)


def items(model: OrderModel) -> st.SearchStrategy[list[tuple[str, int]] | None]:
    """No lines (the whole order), or lines of this order with mostly possible quantities.

    Sometimes not: an unknown line, a line given twice, 0, or one more than ordered.
    """
    return _items(tuple(model.lines), max(line.ordered for line in model.lines.values()))


@functools.cache
def _items(line_ids: tuple[str, ...], top: int) -> st.SearchStrategy[Any]:
    return st.none() | st.lists(
        st.tuples(
            st.sampled_from([*line_ids, UNKNOWN_LINE]),
            st.integers(1, top) | st.sampled_from([0, top + 1]),
        ),
        min_size=1,
        max_size=2,
    )


# Where a sequence starts, reached along the happy path.
STARTS = ["CREATED", "ACCEPTED", "TOSHIP", "SHIPPED", "PAID", "TO_REFUND", "REFUNDING", "REFUNDED"]
# Which refund a marketplace step is about: mostly the latest, sometimes an older one or one
# the order never had.
REFUND_INDEX = st.sampled_from([-1, -1, -1, -2, 0, 9])


# ---------------------------------------------------------------- the reference model


@dataclass
class ModelLine:
    ordered: int
    price: Decimal
    canceled: int = 0
    refunded: int = 0

    @property
    def kept(self) -> int:
        return self.ordered - self.canceled

    @property
    def refundable(self) -> int:
        return self.kept - self.refunded


@dataclass
class ModelRefund:
    refund_id: str
    lines: dict[str, int]
    shipping: Decimal
    amount: Decimal
    status: str = "TO_REFUND"


@dataclass
class OrderModel:
    lines: dict[str, ModelLine]
    shipping_price: Decimal
    # CREATED, ACCEPTED, TOSHIP, SHIPPED, PAID, REFUSED, CANCELED or OUT_OF_STOCK.
    stage: str = "CREATED"
    shipping_refunded: bool = False
    refunds: list[ModelRefund] = field(default_factory=list)

    @property
    def latest_refund(self) -> ModelRefund | None:
        live = [r for r in self.refunds if r.status != "SUPERSEDED"]
        return live[-1] if live else None

    @property
    def status(self) -> str:
        """Once shipped, the order shows the status of its latest refund, if any."""
        refund = self.latest_refund
        return refund.status if refund is not None else self.stage

    @property
    def paid(self) -> Decimal:
        """Kept goods plus shipping; nothing at all when every line was cancelled."""
        if all(line.kept == 0 for line in self.lines.values()):
            return Decimal("0.00")
        goods = sum((line.price * line.kept for line in self.lines.values()), Decimal("0.00"))
        return goods + self.shipping_price

    @property
    def refunded(self) -> Decimal:
        return sum((r.amount for r in self.refunds if r.status == "REFUNDED"), Decimal("0.00"))

    def quantities_error(
        self, items: list[tuple[str, int]], available: dict[str, int]
    ) -> type[Exception] | None:
        seen: set[str] = set()
        for line_id, quantity in items:
            if line_id not in self.lines or line_id in seen:
                return RuleViolation
            if quantity < 1 or quantity > available[line_id]:
                return RuleViolation
            seen.add(line_id)
        return None


# ---------------------------------------------------------------- the machine

# Every command and the strategies of its arguments. One rule draws among them at each step:
# Hypothesis would otherwise switch whole rules off per example ("swarm testing"), and the long
# paths that refunds need would rarely be tried.
# An argument's strategy may depend on the order: then it is a function of the model.
COMMANDS: dict[str, dict[str, Any]] = {}
REFUND_STEPS = {"submit_refund", "approve_refund", "complete_refund", "refuse_refund"}


def command(**strategies: Any) -> Any:
    def register(method: Any) -> Any:
        COMMANDS[method.__name__] = strategies
        return method

    return register


class OrderLifecycle(RuleBasedStateMachine):
    """Drives one order and its model with the same commands and compares them after each."""

    def __init__(self) -> None:
        super().__init__()
        self.order: Order | None = None
        self.model: OrderModel | None = None
        self.events: list[Any] = []

    # -------------------------------------------------------- checking one command

    def check(self, expected: type[Exception] | None, command: Any) -> Any:
        """Run the command; it must succeed or fail as the model expects, one event per success."""
        assert self.order is not None and self.model is not None
        version, before = self.order.version, repr(vars(self.order))
        was_terminal = self.model.status in TERMINAL
        try:
            result = command()
        except (InvalidStatus, RuleViolation) as error:
            assert expected is not None, f"refused, the model accepts: {error!r}"
            assert type(error) is expected, f"expected {expected.__name__}, got {error!r}"
            assert self.order.version == version
            assert repr(vars(self.order)) == before, "a refused command changed the order"
            return None
        assert expected is None, f"accepted, the model expects {expected.__name__}"
        assert not was_terminal, "a command changed an order in a terminal status"
        assert self.order.version == version + 1
        new_events = self.order.collect_events()
        assert len(new_events) == 1
        self.events.extend(new_events)
        return result

    # -------------------------------------------------------- start

    @initialize(
        quantities=st.lists(st.integers(1, 3), min_size=1, max_size=3),
        shipping=st.sampled_from([Decimal("0.00"), Decimal("4.90")]),
        start=st.sampled_from(STARTS),
        paid_before_refund=st.booleans(),
        refund_shipping=st.booleans(),
    )
    def import_order(
        self,
        quantities: list[int],
        shipping: Decimal,
        start: str,
        paid_before_refund: bool,
        refund_shipping: bool,
    ) -> None:
        lines = LINES[: len(quantities)]
        self.order = Order.import_(
            channel="laredoute",
            marketplace_order_id="LR-TUNIC-001",
            created_at=CREATED_AT,
            customer=Customer(
                firstname="Camille", lastname="Lefebvre", email="camille.lefebvre@example.fr"
            ),
            shipping_address=Address(
                street="110 rue de Blanchemaille", zip_code="59100", city="Roubaix", country="FR"
            ),
            delivery=Delivery.home(),
            shipping_price=shipping,
            lines=[
                NewLine(line_id=line_id, sku=line_id, ean="3601234567890", title=title,
                        quantity=quantity, unit_price=price)
                for (line_id, title, price), quantity in zip(lines, quantities, strict=True)
            ],
        )
        self.events = self.order.collect_events()
        self.model = OrderModel(
            lines={
                line_id: ModelLine(quantity, price)
                for (line_id, _, price), quantity in zip(lines, quantities, strict=True)
            },
            shipping_price=shipping,
        )
        # Walk the happy path to a random starting point, checking each step on the way.
        steps = {
            "ACCEPTED": lambda: self.accept(timedelta(hours=1)),
            "TOSHIP": self.validate_payment,
            "SHIPPED": lambda: self.ship("6A12345678901", "Colissimo", None),
            "PAID": self.mark_paid,
            # One piece of the first line, so that more is left to refund later.
            "TO_REFUND": lambda: self.request_refund([(LINES[0][0], 1)], refund_shipping),
            "REFUNDING": lambda: self.approve_refund(-1),
            "REFUNDED": lambda: self.complete_refund(-1),
        }
        path = STARTS[: STARTS.index(start) + 1]
        if start in {"TO_REFUND", "REFUNDING", "REFUNDED"} and not paid_before_refund:
            path.remove("PAID")
        for stage in path[1:]:
            steps[stage]()
        assert self.order.status == start

    @rule(data=st.data())
    def run_a_command(self, data: st.DataObject) -> None:
        model = self._model()
        names = sorted(COMMANDS)
        if not model.refunds:
            # Steps on refunds of an order that has none are all "unknown refund": fewer of them.
            names = [n for n in names if n not in REFUND_STEPS] + ["submit_refund"]
        elif model.stage in {"SHIPPED", "PAID"}:
            # Refunds hold most of the rules: once shipped, try them twice as often.
            names += sorted(REFUND_STEPS | {"request_refund"})
        name = data.draw(st.sampled_from(names), label="command")
        kwargs = {
            arg: data.draw(
                strategy if isinstance(strategy, st.SearchStrategy) else strategy(self._model()),
                label=arg,
            )
            for arg, strategy in COMMANDS[name].items()
        }
        getattr(self, name)(**kwargs)

    # -------------------------------------------------------- merchant commands

    @command(offset=OFFSETS)
    def accept(self, offset: timedelta) -> None:
        at = CREATED_AT + offset
        model = self._model()
        expected: type[Exception] | None = None
        if model.status != "CREATED":
            expected = InvalidStatus
        elif at > DEADLINE:
            expected = DeadlinePassed
        self.check(expected, lambda: self._order().accept(at=at))
        if expected is None:
            model.stage = "ACCEPTED"

    @command(reason=st.sampled_from(["Tunic discontinued", "  "]))
    def refuse(self, reason: str) -> None:
        model = self._model()
        expected = self._status_error({"CREATED"}) or (None if reason.strip() else RuleViolation)
        self.check(expected, lambda: self._order().refuse(reason=reason))
        if expected is None:
            model.stage = "REFUSED"

    @command(
        tracking_number=st.sampled_from(TRACKING_NUMBERS),
        carrier=st.sampled_from(sorted(CARRIERS)),
        tracking_url=st.sampled_from(TRACKING_URLS),
    )
    def ship(self, tracking_number: str, carrier: str, tracking_url: str | None) -> None:
        number = tracking_number.strip()
        valid = (
            0 < len(number) <= 32
            and " " not in number
            and carrier.strip() != ""
            and (
                tracking_url.startswith(("http://", "https://"))
                if tracking_url
                else CARRIERS[carrier]
            )
        )
        expected = self._status_error({"TOSHIP"}) or (None if valid else RuleViolation)
        self.check(
            expected,
            lambda: self._order().ship(
                tracking_number=tracking_number, carrier=carrier, tracking_url=tracking_url,
                at=LATER,
            ),
        )
        if expected is None:
            self._model().stage = "SHIPPED"

    @command(items=items)
    def cancel(self, items: list[tuple[str, int]] | None) -> None:
        model = self._model()
        expected = self._status_error({"TOSHIP"})
        if expected is None and items is not None:
            expected = model.quantities_error(
                items, {line_id: line.kept for line_id, line in model.lines.items()}
            )
        self.check(
            expected,
            lambda: self._order().cancel(
                lines=_line_quantities(items), reason="Out of stock", at=LATER
            ),
        )
        if expected is None:
            if items is None:
                items = [(line_id, line.kept) for line_id, line in model.lines.items()]
            for line_id, quantity in items:
                model.lines[line_id].canceled += quantity
            if all(line.kept == 0 for line in model.lines.values()):
                model.stage = "OUT_OF_STOCK"

    @command(items=items, refund_shipping=st.booleans())
    def request_refund(self, items: list[tuple[str, int]] | None, refund_shipping: bool) -> None:
        model = self._model()
        latest = model.latest_refund
        expected: type[Exception] | None = None
        if model.stage not in {"SHIPPED", "PAID"}:
            expected = InvalidStatus
        elif latest is not None and latest.status in {"TO_APPROVE", "REFUNDING"}:
            # The marketplace has that request: it cannot be withdrawn, only followed.
            expected = InvalidStatus
        else:
            refundable = {line_id: line.refundable for line_id, line in model.lines.items()}
            if items is not None:
                expected = model.quantities_error(items, refundable)
                quantities = dict(items)
            else:
                quantities = {k: v for k, v in refundable.items() if v > 0}
            shipping = model.shipping_price if refund_shipping else Decimal("0.00")
            if refund_shipping and model.shipping_refunded:
                expected = expected or RuleViolation
            if not quantities and shipping == 0:
                expected = expected or RuleViolation
            amount = shipping + sum(
                (model.lines[k].price * v for k, v in quantities.items() if k in model.lines),
                Decimal("0.00"),
            )
            if expected is None and amount > model.paid - model.refunded:
                expected = RuleViolation
        refund = self.check(
            expected,
            lambda: self._order().request_refund(
                lines=_line_quantities(items),
                refund_shipping=refund_shipping,
                reason="Customer returned the parcel",
                at=LATER,
            ),
        )
        if expected is None:
            if latest is not None and latest.status == "TO_REFUND":
                latest.status = "SUPERSEDED"
            model.refunds.append(ModelRefund(refund.refund_id, quantities, shipping, amount))
            assert refund.amount == amount
            assert refund.lines == quantities

    # -------------------------------------------------------- marketplace transitions

    @command(offset=OFFSETS)
    def expire(self, offset: timedelta) -> None:
        at = CREATED_AT + offset
        expected = self._status_error({"CREATED"}) or (RuleViolation if at < DEADLINE else None)
        self.check(expected, lambda: self._order().expire(at=at))
        if expected is None:
            self._model().stage = "CANCELED"

    @command()
    def validate_payment(self) -> None:
        expected = self._status_error({"ACCEPTED"})
        self.check(expected, lambda: self._order().validate_payment(at=LATER))
        if expected is None:
            self._model().stage = "TOSHIP"

    @command()
    def refuse_payment(self) -> None:
        expected = self._status_error({"ACCEPTED"})
        self.check(expected, lambda: self._order().refuse_payment(at=LATER))
        if expected is None:
            self._model().stage = "CANCELED"

    @command()
    def mark_paid(self) -> None:
        # Paid once, after shipping; an open refund does not hold the payout back.
        model = self._model()
        expected = None if model.stage == "SHIPPED" else InvalidStatus
        self.check(expected, lambda: self._order().mark_paid(at=LATER))
        if expected is None:
            model.stage = "PAID"

    @command(index=REFUND_INDEX)
    def submit_refund(self, index: int) -> None:
        self._move_refund(index, {"TO_REFUND"}, "TO_APPROVE", "submit_refund")

    @command(index=REFUND_INDEX)
    def approve_refund(self, index: int) -> None:
        # The marketplace may approve a request before we see it submitted.
        self._move_refund(index, {"TO_REFUND", "TO_APPROVE"}, "REFUNDING", "approve_refund")

    @command(index=REFUND_INDEX)
    def complete_refund(self, index: int) -> None:
        refund = self._move_refund(index, {"REFUNDING"}, "REFUNDED", "complete_refund")
        if refund is not None:
            model = self._model()
            for line_id, quantity in refund.lines.items():
                model.lines[line_id].refunded += quantity
            if refund.shipping:
                model.shipping_refunded = True

    @command(index=REFUND_INDEX, reason=st.sampled_from([*REFUND_REFUSAL_REASONS, "CHANGED_MIND"]))
    def refuse_refund(self, index: int, reason: str) -> None:
        self._move_refund(
            index, {"TO_REFUND", "TO_APPROVE", "REFUNDING"}, "REFUND_REFUSED", "refuse_refund",
            reason=reason, reason_ok=reason in REFUND_REFUSAL_REASONS,
        )

    # -------------------------------------------------------- invariants

    @invariant()
    def status_agrees_with_the_model(self) -> None:
        if self.order is not None:
            assert self.order.status == self._model().status

    @invariant()
    def refunds_never_exceed_what_was_paid(self) -> None:
        if self.order is None:
            return
        order, model = self.order, self._model()
        in_flight = [
            r for r in order.refunds if r.status in {"TO_REFUND", "TO_APPROVE", "REFUNDING"}
        ]
        assert len(in_flight) <= 1, "more than one refund in flight"
        in_flight_amount = sum((r.amount for r in in_flight), Decimal("0.00"))
        assert order.payable_total == model.paid
        assert order.refunded_amount == model.refunded
        assert order.refunded_amount <= order.payable_total
        assert order.refunded_amount + in_flight_amount <= order.payable_total

    @invariant()
    def refunded_and_cancelled_quantities_stay_within_the_ordered_ones(self) -> None:
        if self.order is None:
            return
        model = self._model()
        for line in self.order.lines:
            assert line.refunded_quantity + line.canceled_quantity <= line.quantity
            expected = model.lines[line.line_id]
            assert (line.canceled_quantity, line.refunded_quantity) == (
                expected.canceled,
                expected.refunded,
            )

    def teardown(self) -> None:
        """The events recorded along the way rebuild the same order."""
        if self.order is None:
            return
        self.events.extend(self.order.collect_events())  # left there by a failed check
        replayed: Order | None = None
        for domain_event in self.events:
            replayed = domain_event.mutate(replayed)
        assert replayed == self.order

    # -------------------------------------------------------- helpers

    def _order(self) -> Order:
        assert self.order is not None
        return self.order

    def _model(self) -> OrderModel:
        assert self.model is not None
        return self.model

    def _status_error(self, allowed: set[str]) -> type[Exception] | None:
        return None if self._model().status in allowed else InvalidStatus

    def _move_refund(
        self,
        index: int,
        allowed: set[str],
        target: str,
        method: str,
        *,
        reason: str | None = None,
        reason_ok: bool = True,
    ) -> ModelRefund | None:
        """A marketplace step on a refund: unknown id, wrong status or bad reason is refused."""
        model = self._model()
        refund = model.refunds[index] if -len(model.refunds) <= index < len(model.refunds) else None
        refund_id = refund.refund_id if refund is not None else "R99"
        expected: type[Exception] | None
        if refund is None:
            expected = RuleViolation
        elif refund.status not in allowed:
            expected = InvalidStatus
        else:
            expected = None if reason_ok else RuleViolation
        extra = {} if reason is None else {"reason": reason}
        self.check(
            expected, lambda: getattr(self._order(), method)(refund_id, at=LATER, **extra)
        )
        if expected is not None or refund is None:
            return None
        refund.status = target
        return refund


def _line_quantities(items: list[tuple[str, int]] | None) -> list[LineQuantity] | None:
    if items is None:
        return None
    return [LineQuantity(line_id, quantity) for line_id, quantity in items]


def test_random_command_sequences_agree_with_the_reference_model() -> None:
    """Any sequence of merchant and marketplace commands follows the seller guide's rules."""
    run_state_machine_as_test(
        OrderLifecycle,
        settings=settings(
            max_examples=200, stateful_step_count=30, deadline=None, report_multiple_bugs=False
        ),
    )
