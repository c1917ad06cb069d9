"""What the marketplace shows of the customer after acceptance, and its flags and ship-by time."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from app.application.event_store import EventStore
from app.application.orders import OrderService
from app.domain.order import (
    Address,
    Customer,
    CustomerDetails,
    Delivery,
    FullAddress,
    MarketplaceFlags,
    Order,
    OrderStatus,
)
from tests.unit.order_builders import (
    CREATED_AT,
    created,
    hours_after_creation,
    import_fields,
)

SHOWN_AT = hours_after_creation(3)
ADDRESS = Address(street="110 rue de Blanchemaille", zip_code="59100", city="Roubaix", country="FR")
RECIPIENT = FullAddress(
    civility="Mme", firstname="Camille", lastname="Lefebvre", street_1="110 rue de Blanchemaille",
    additional_info="Code 1234", zip_code="59100", city="Roubaix", country="FR",
    phone="0320000000", phone_secondary="0600000000",
)  # fmt: skip
DETAILS = CustomerDetails(
    customer=Customer(firstname="Camille", lastname="Lefebvre", email="c.l@notification.example"),
    shipping_address=ADDRESS,
    recipient=RECIPIENT,
    billing_address=RECIPIENT,
    locale="fr_FR",
    delivery=Delivery.home(),
)


def hidden(**overrides: Any) -> Order:
    """A new order whose customer details the marketplace holds back."""
    return created(
        customer=Customer(firstname="Camille", lastname="Lefebvre"), shipping_address=None,
        **overrides,
    )  # fmt: skip


def event_names(order: Order) -> list[str]:
    return [type(e).__name__ for e in order.collect_events()]


def test_an_order_without_address_nor_email_is_a_normal_new_order() -> None:
    order = hidden()

    assert order.status == OrderStatus.CREATED
    assert order.shipping_address is None
    assert order.customer == {"firstname": "Camille", "lastname": "Lefebvre", "email": None}
    assert (order.recipient, order.billing_address, order.locale) == (None, None, None)


def test_an_order_without_any_customer_is_imported() -> None:
    order = created(customer=None, shipping_address=None)

    assert order.customer is None
    assert order.status == OrderStatus.CREATED


def test_the_details_arrive_once_as_an_event() -> None:
    order = hidden()
    order.accept(at=hours_after_creation(2))

    assert order.receive_customer_details(DETAILS, at=SHOWN_AT)
    assert not order.receive_customer_details(DETAILS, at=SHOWN_AT + timedelta(hours=1))
    assert not order.receive_customer_details(CustomerDetails(), at=SHOWN_AT)

    assert order.shipping_address == ADDRESS.stored()
    assert order.customer == DETAILS.customer.stored()  # type: ignore[union-attr]
    assert order.recipient == RECIPIENT.stored()
    assert order.billing_address == RECIPIENT.stored()
    assert order.locale == "fr_FR"
    assert order.details_received_at == SHOWN_AT
    assert event_names(order) == ["Imported", "Accepted", "CustomerDetailsReceived"]


def test_details_held_back_again_keep_what_the_order_has() -> None:
    order = hidden()
    order.receive_customer_details(DETAILS, at=SHOWN_AT)

    changed = order.receive_customer_details(
        CustomerDetails(customer=Customer(firstname="Camille", lastname="Lefebvre")), at=SHOWN_AT
    )

    assert changed
    assert order.shipping_address == ADDRESS.stored()
    assert order.recipient == RECIPIENT.stored()


def test_a_relay_order_learns_its_relay_with_the_details() -> None:
    order = hidden(delivery=Delivery.relay_awaiting_details(relay_id="PUDO-1"))
    relay = Delivery.relay(relay_id="PUDO-1", relay_name="Tabac de la Gare",
                           relay_address="3 place de la Liberté, 59100 Roubaix")  # fmt: skip

    order.receive_customer_details(
        CustomerDetails(shipping_address=ADDRESS, recipient=RECIPIENT, delivery=relay), at=SHOWN_AT
    )

    assert order.delivery == relay.stored()


def test_an_imported_event_stored_before_details_existed_still_replays() -> None:
    fields = import_fields()
    old = Order(
        channel="laredoute",
        marketplace_order_id=fields["marketplace_order_id"],
        created_at=CREATED_AT,
        customer=fields["customer"].stored(),
        shipping_address=fields["shipping_address"].stored(),
        delivery=fields["delivery"].stored(),
        shipping_price=Decimal("4.90"),
        lines=[line.stored() for line in fields["lines"]],
    )
    imported = old.collect_events()[0]
    # As the store's mapper rebuilds an event from a state recorded without `details`.
    state = {key: value for key, value in imported.__dict__.items() if key != "details"}
    stored = object.__new__(type(imported))
    stored.__dict__.update(state)

    replayed = stored.mutate(None)

    assert replayed is not None and replayed.recipient is None
    assert replayed.customer == fields["customer"].stored()
    assert replayed.flags == MarketplaceFlags().stored()


# ---------------------------------------------------------------- flags and ship-by


def test_the_shipping_deadline_is_the_ship_by_time() -> None:
    order = hidden()
    deadline = hours_after_creation(50)

    assert order.update_marketplace_flags(
        MarketplaceFlags(has_incident=True, shipping_deadline=deadline, leadtime_to_ship=2),
        at=SHOWN_AT,
    )

    assert order.ship_by == deadline
    assert order.flags["has_incident"]


def test_without_deadline_the_lead_time_counts_from_acceptance() -> None:
    order = hidden()
    order.update_marketplace_flags(MarketplaceFlags(leadtime_to_ship=2), at=CREATED_AT)
    assert order.ship_by is None

    accepted_at = hours_after_creation(5)
    order.accept(at=accepted_at)

    assert order.ship_by == accepted_at + timedelta(days=2)


def test_flags_are_an_event_only_when_they_change() -> None:
    order = hidden()
    flags = MarketplaceFlags(has_customer_message=True, can_cancel=True)

    assert order.update_marketplace_flags(flags, at=SHOWN_AT)
    assert not order.update_marketplace_flags(flags, at=SHOWN_AT)
    assert order.update_marketplace_flags(MarketplaceFlags(can_refund=True), at=SHOWN_AT)

    assert order.flags["can_refund"] and not order.flags["has_customer_message"]
    assert event_names(order) == ["Imported", "MarketplaceFlagsChanged", "MarketplaceFlagsChanged"]


def test_an_order_waiting_for_shipment_past_its_ship_by_time_is_late() -> None:
    order = hidden()
    deadline = hours_after_creation(48)
    order.update_marketplace_flags(MarketplaceFlags(shipping_deadline=deadline), at=CREATED_AT)
    order.accept(at=hours_after_creation(1))
    assert not order.is_late(deadline + timedelta(minutes=1))  # accepted, not yet to ship

    order.validate_payment(at=hours_after_creation(2))

    assert not order.is_late(deadline)
    assert order.is_late(deadline + timedelta(minutes=1))


def test_details_and_flags_read_back_from_the_store() -> None:
    service = OrderService(
        EventStore(env={"PERSISTENCE_MODULE": "eventsourcing.popo"}), clock=lambda: SHOWN_AT
    )
    order = service.import_order(**import_fields(shipping_address=None)).order

    service.receive_customer_details(order.id, DETAILS)
    service.update_marketplace_flags(
        order.id, MarketplaceFlags(shipping_deadline=hours_after_creation(50))
    )
    stored = service.get_order(order.id)

    assert stored.recipient == RECIPIENT.stored()
    assert stored.ship_by == hours_after_creation(50)
    assert stored.flags["shipping_deadline"] == hours_after_creation(50)


def test_flags_imported_with_the_order_need_no_event_of_their_own() -> None:
    deadline = hours_after_creation(50)
    flags = MarketplaceFlags(can_cancel=True, shipping_deadline=deadline, leadtime_to_ship=2)
    order = hidden(flags=flags)

    assert order.ship_by == deadline
    assert order.flags == flags.stored()
    assert not order.update_marketplace_flags(flags, at=SHOWN_AT)
    assert event_names(order) == ["Imported"]
