"""Failures of the orders API: every one a problem+json document naming its type, field and rule."""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any
from uuid import UUID

import psycopg
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, event, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from app.adapters.db import open_database
from app.adapters.migrations import migrate
from app.api.app import create_app
from app.config import Settings
from tests.support import (
    bearer,
    make_api_key,
    PROBLEM_JSON,
    FakeClock,
    assert_problem,
    imported_order,
    order_fields,
    order_payload,
)

INVALID = "/problems/invalid-request"
RULE = "/problems/rule-violation"
COMMANDS = {
    "accept": None,
    "refuse": {"reason": "Tunique plus fabriquée"},
    "ship": {"tracking_number": "6A12345678901", "carrier": "Colissimo"},
    "cancel": {"lines": [{"line_id": "L1", "quantity": 1}], "reason": "Rupture de stock"},
    "refunds": {
        "lines": [{"line_id": "L1", "quantity": 1}],
        "refund_shipping": False,
        "reason": "Tunique abîmée",
    },
}


def _post_json(client, url: str, body: Any, **headers: str):
    """POST a body exactly as given (any JSON value, or raw bytes)."""
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"content-type": "application/json", **headers}
    return client.post(url, content=content, headers=headers)


def _import(
    client, mutate: Callable[[dict[str, Any]], Any], marketplace_order_id: str = "LR-TUNIC-001"
):
    payload = order_payload(marketplace_order_id)
    changed = mutate(payload)
    return _post_json(client, "/v1/orders", payload if changed is None else changed)


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """A mutation that sets `customer.firstname` or `lines[0].quantity` to `value`."""

    def mutate(payload: dict[str, Any]) -> None:
        *parents, last = _keys(path)
        target: Any = payload
        for key in parents:
            target = target[key]
        target[last] = value

    return mutate


def _keys(path: str) -> list[str | int]:
    keys: list[str | int] = []
    for part in path.replace("]", "").replace("[", ".").split("."):
        keys.append(int(part) if part.isdigit() else part)
    return keys


def _command(client, order: dict[str, Any], route: str, body: Any = None, **headers: str):
    headers.setdefault("If-Match", f'"{order["version"]}"')
    return client.post(f"/v1/orders/{order['id']}/{route}", json=body, headers=headers)


def _order_in(service, status: str, marketplace_order_id: str) -> UUID:
    """An order brought to `status` through the service: the marketplace's path, not the API's."""
    order = service.import_order(**order_fields(marketplace_order_id)).order
    if status in {"TOSHIP", "PAID"}:
        service.accept(order.id)
        service.validate_payment(order.id)
    if status == "PAID":
        service.ship(order.id, tracking_number="6A12345678901", carrier="Colissimo")
        service.mark_paid(order.id)
    return order.id


def _fresh(shared, status: str = "CREATED") -> dict[str, Any]:
    """A new order of its own in `status`, as GET answers it."""
    order_id = _order_in(shared.app.state.service, status, f"LR-TUNIC-{uuid.uuid4().hex[:8]}")
    return shared.get(f"/v1/orders/{order_id}").json()


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def shared(request: pytest.FixtureRequest, tmp_path_factory) -> Iterator[TestClient]:
    """One service per store for this module's tests that change nothing but their own orders.

    Building an app costs a tenth of a second at its first request; a hundred refusals do not
    need a hundred apps. Each test makes the orders it needs, under names of its own.
    """
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('api-errors') / 'oms.sqlite3'}"
        drop = None
    else:
        admin_url = request.getfixturevalue("pg_admin_url")
        name = f"oms_test_errors_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        url = f"{admin_url.rsplit('/', 1)[0]}/{name}"
        drop = (admin_url, name)
    settings = Settings(DATABASE_URL=url, environment="test")
    db = open_database(settings)
    migrate(db, settings.migrations_dir)
    db.close()
    app = create_app(settings, clock=FakeClock())
    key = make_api_key(settings)
    with TestClient(app, raise_server_exceptions=False, headers=bearer(key)) as client:
        yield client
    if drop is not None:
        with psycopg.connect(drop[0], autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{drop[1]}" WITH (FORCE)')


# ---------------------------------------------------------------- If-Match


@pytest.mark.parametrize("route", list(COMMANDS))
def test_a_command_without_if_match_answers_428(client, app, route: str) -> None:
    """Commands are refused until the client says which version it last read."""
    order = _fresh(client, "TOSHIP")
    response = client.post(f"/v1/orders/{order['id']}/{route}", json=COMMANDS[route])
    assert_problem(
        response, 428, "/problems/precondition-required", field="If-Match", rule="required"
    )
    assert client.get(f"/v1/orders/{order['id']}").json()["version"] == order["version"]


def test_a_stale_if_match_answers_412_and_changes_nothing(client) -> None:
    """A refusal sent with the ETag read before the order was accepted is a version conflict."""
    order = imported_order(client)
    assert _command(client, order, "accept").status_code == 200
    response = _command(client, order, "refuse", {"reason": "Trop tard"}, **{"If-Match": '"1"'})
    problem = assert_problem(
        response, 412, "/problems/version-conflict", field="If-Match", rule="current_version"
    )
    assert problem["current_version"] == 2
    after = client.get(f"/v1/orders/{order['id']}").json()
    assert (after["status"], after["version"]) == ("ACCEPTED", 2)


@pytest.mark.parametrize("if_match", ['W/"1"', '"one"', '"1", "2"', '"1', "v1", '""'])
def test_a_malformed_if_match_answers_400(shared, if_match: str) -> None:
    """Only a strong ETag of digits, or *, names a version."""
    order = _fresh(shared)
    response = _command(shared, order, "accept", **{"If-Match": if_match})
    assert_problem(response, 400, "/problems/invalid-header", field="If-Match", rule="etag_format")
    assert shared.get(f"/v1/orders/{order['id']}").json()["status"] == "CREATED"


def test_if_match_star_accepts_any_version(client) -> None:
    """`If-Match: *` runs the command on whatever the order's version is."""
    order = imported_order(client)
    response = _command(client, order, "accept", **{"If-Match": "*"})
    assert response.status_code == 200
    assert response.headers["etag"] == '"2"'


# ---------------------------------------------------------------- statuses and rules


def test_refusing_an_accepted_order_answers_409_naming_its_status(shared) -> None:
    """The problem names the current status and the statuses that allow the command."""
    order = _fresh(shared)
    accepted = _command(shared, order, "accept").json()
    response = _command(shared, accepted, "refuse", {"reason": "Changement d'avis"})
    problem = assert_problem(
        response, 409, "/problems/invalid-status", field="status", rule="allowed_statuses"
    )
    assert "ACCEPTED" in problem["detail"]
    assert problem["status_now"] == "ACCEPTED"
    assert problem["allowed_statuses"] == ["CREATED"]


def test_shipping_a_created_order_answers_409(shared) -> None:
    """An order ships only once the marketplace validated its payment (TOSHIP)."""
    order = _fresh(shared)
    response = _command(shared, order, "ship", COMMANDS["ship"])
    problem = assert_problem(response, 409, "/problems/invalid-status")
    assert problem["status_now"] == "CREATED"
    assert problem["allowed_statuses"] == ["TOSHIP"]


def test_accepting_after_the_72_hours_answers_409(client, clock) -> None:
    """Created half an hour before the clock's start, it cannot be accepted 72 hours later."""
    order = imported_order(client)
    clock.advance(hours=72)
    response = _command(client, order, "accept")
    assert_problem(
        response,
        409,
        "/problems/acceptance-deadline-passed",
        field="accepted_at",
        rule="acceptance_deadline",
    )
    assert client.get(f"/v1/orders/{order['id']}").json()["status"] == "CREATED"


def test_accepting_at_the_deadline_itself_is_in_time(client, clock) -> None:
    """The 72 hours include their last instant."""
    order = imported_order(client)
    clock.advance(hours=71, minutes=30)
    assert _command(client, order, "accept").status_code == 200


def test_shipping_with_an_unknown_carrier_and_no_url_answers_422(shared) -> None:
    """We cannot build a tracking URL for Transports Dupont: the merchant must give one."""
    order = _fresh(shared, "TOSHIP")
    body = {"tracking_number": "TD-2026-0042", "carrier": "Transports Dupont"}
    assert_problem(
        _command(shared, order, "ship", body),
        422,
        RULE,
        field="tracking_url",
        rule="required_for_unknown_carrier",
    )


def test_a_tracking_number_of_33_characters_answers_422(shared) -> None:
    """The seller guide allows at most 32 characters."""
    order = _fresh(shared, "TOSHIP")
    body = {"tracking_number": "6" * 33, "carrier": "Colissimo"}
    assert_problem(
        _command(shared, order, "ship", body),
        422,
        INVALID,
        field="tracking_number",
        rule="string_too_long",
    )


def test_a_tracking_number_of_32_characters_ships(shared) -> None:
    """32 characters is the limit, not beyond it."""
    order = _fresh(shared, "TOSHIP")
    body = {"tracking_number": "6" * 32, "carrier": "Colissimo"}
    assert _command(shared, order, "ship", body).status_code == 200


def test_a_tracking_number_with_a_space_answers_422(shared) -> None:
    """A tracking number is one word."""
    order = _fresh(shared, "TOSHIP")
    body = {"tracking_number": "6A 12345678901", "carrier": "Colissimo"}
    assert_problem(
        _command(shared, order, "ship", body),
        422,
        RULE,
        field="tracking_number",
        rule="no_whitespace",
    )


@pytest.mark.parametrize(
    "url",
    ["ftp://ftp.transports-dupont.fr/TD-2026-0042", "javascript:alert(1)", "https://a b.fr/x"],
)
def test_a_tracking_url_that_is_not_http_answers_422(shared, url: str) -> None:
    """Tracking URLs start with http:// or https:// and hold no spaces."""
    order = _fresh(shared, "TOSHIP")
    body = {"tracking_number": "TD-2026-0042", "carrier": "Transports Dupont", "tracking_url": url}
    assert_problem(
        _command(shared, order, "ship", body), 422, RULE, field="tracking_url", rule="http_url"
    )


def test_canceling_an_unknown_line_answers_422(shared) -> None:
    """The problem points at the line id that names no line of the order."""
    order = _fresh(shared, "TOSHIP")
    body = {"lines": [{"line_id": "L9", "quantity": 1}], "reason": "Rupture de stock"}
    assert_problem(
        _command(shared, order, "cancel", body),
        422,
        RULE,
        field="lines[0].line_id",
        rule="unknown_line",
    )


def test_canceling_more_than_ordered_answers_422(shared) -> None:
    """Two tunics were ordered: three cannot be out of stock."""
    order = _fresh(shared, "TOSHIP")
    body = {"lines": [{"line_id": "L1", "quantity": 3}], "reason": "Rupture de stock"}
    assert_problem(
        _command(shared, order, "cancel", body),
        422,
        RULE,
        field="lines[0].quantity",
        rule="at_most_cancelable",
    )


def test_refunding_an_unknown_line_answers_422(shared) -> None:
    """The problem points at the second line id, the unknown one."""
    order = _fresh(shared, "PAID")
    body = {
        "lines": [{"line_id": "L1", "quantity": 1}, {"line_id": "L9", "quantity": 1}],
        "refund_shipping": False,
        "reason": "Abîmé",
    }
    assert_problem(
        _command(shared, order, "refunds", body),
        422,
        RULE,
        field="lines[1].line_id",
        rule="unknown_line",
    )


def test_refunding_more_than_is_left_answers_422(shared) -> None:
    """Two tunics were paid for: a refund of three is refused."""
    order = _fresh(shared, "PAID")
    body = {
        "lines": [{"line_id": "L1", "quantity": 3}],
        "refund_shipping": False,
        "reason": "Abîmé",
    }
    assert_problem(
        _command(shared, order, "refunds", body),
        422,
        RULE,
        field="lines[0].quantity",
        rule="at_most_refundable",
    )


def test_refunding_what_was_already_refunded_answers_422(shared) -> None:
    """Once both tunics and the shipping are refunded, they cannot be refunded again."""
    order = _fresh(shared, "PAID")
    body = {"lines": [{"line_id": "L1", "quantity": 2}], "refund_shipping": True, "reason": "Abîmé"}
    assert _command(shared, order, "refunds", body).status_code == 200
    service = shared.app.state.service
    service.approve_refund(UUID(order["id"]), "R1")
    service.complete_refund(UUID(order["id"]), "R1")
    after = shared.get(f"/v1/orders/{order['id']}").json()
    again = {
        "lines": [{"line_id": "L1", "quantity": 1}],
        "refund_shipping": False,
        "reason": "Encore",
    }
    assert_problem(
        _command(shared, after, "refunds", again),
        422,
        RULE,
        field="lines[0].quantity",
        rule="at_most_refundable",
    )
    shipping = {"refund_shipping": True, "reason": "Encore"}
    assert_problem(
        _command(shared, after, "refunds", shipping),
        422,
        RULE,
        field="refund_shipping",
        rule="already_refunded",
    )


def test_a_blank_reason_answers_422(shared) -> None:
    """A reason of spaces is no reason."""
    order = _fresh(shared)
    assert_problem(
        _command(shared, order, "refuse", {"reason": "   "}),
        422,
        RULE,
        field="reason",
        rule="required",
    )


# ---------------------------------------------------------------- unknown things


def test_an_unknown_order_answers_404(shared) -> None:
    """Reading, listing the history of or commanding an order that does not exist."""
    missing = uuid.uuid4()
    for response in (
        shared.get(f"/v1/orders/{missing}"),
        shared.get(f"/v1/orders/{missing}/events"),
        shared.post(f"/v1/orders/{missing}/accept", headers={"If-Match": '"1"'}),
        shared.post(
            f"/v1/orders/{missing}/refuse", headers={"If-Match": "*"}, json={"reason": "Inconnue"}
        ),
    ):
        assert_problem(response, 404, "/problems/order-not-found")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/orders/LR-TUNIC-001"),
        ("GET", "/v1/orders/12345/events"),
        ("POST", "/v1/orders/LR-TUNIC-001/accept"),
    ],
)
def test_an_order_id_that_is_not_a_uuid_answers_422(shared, method: str, path: str) -> None:
    """Order ids are UUIDs; the problem names the path parameter."""
    response = shared.request(method, path, headers={"If-Match": '"1"'})
    assert_problem(response, 422, INVALID, field="order_id", rule="uuid_parsing")


def test_an_unknown_route_answers_a_404_problem(shared) -> None:
    """Even the framework's own 404 is a problem document."""
    assert_problem(shared.get("/v1/customers"), 404, "/problems/not-found")


@pytest.mark.parametrize(
    ("method", "path"),
    [("DELETE", "/v1/orders"), ("GET", "/v1/orders/{id}/accept"), ("PUT", "/v1/orders/{id}")],
)
def test_a_wrong_method_answers_a_405_problem(shared, method: str, path: str) -> None:
    """The problem comes with the Allow header."""
    response = shared.request(method, path.format(id=uuid.uuid4()))
    assert_problem(response, 405, "/problems/method-not-allowed")
    assert response.headers["allow"]


# ---------------------------------------------------------------- malformed bodies


@pytest.mark.parametrize(
    "raw", [b"{", b'{"channel": "laredoute",}', b"{'channel': 'laredoute'}", b"\x00"]
)
def test_a_body_that_is_not_json_answers_422(shared, raw: bytes) -> None:
    """The problem points at the body, not at a character offset."""
    response = _post_json(shared, "/v1/orders", raw)
    assert_problem(response, 422, INVALID, field="body", rule="json_invalid")


@pytest.mark.parametrize("value", [[order_payload()], "LR-TUNIC-001", 42, 4.9, True, None])
def test_a_json_value_that_is_not_an_object_answers_422(shared, value: Any) -> None:
    """An order is a JSON object, whatever else parses."""
    response = _post_json(shared, "/v1/orders", value)
    assert_problem(response, 422, INVALID, field="body")


@pytest.mark.parametrize("route", ["refuse", "ship", "cancel", "refunds"])
def test_a_command_body_that_is_an_array_answers_422(shared, route: str) -> None:
    """Command bodies are objects too."""
    order = _fresh(shared, "TOSHIP")
    response = _command(shared, order, route, [COMMANDS[route]])
    assert_problem(response, 422, INVALID, field="body")


def test_a_body_not_in_utf8_answers_422_as_any_malformed_json(shared) -> None:
    """Latin-1 bytes cannot be read as JSON text: the same problem as a body like `{`."""
    raw = '{"channel": "laredoute", "city": "Orléans"}'.encode("latin-1")
    problem = assert_problem(
        _post_json(shared, "/v1/orders", raw), 422, INVALID, field="body", rule="json_invalid"
    )
    broken = assert_problem(
        _post_json(shared, "/v1/orders", b"{"), 422, INVALID, field="body", rule="json_invalid"
    )
    assert problem["detail"] == broken["detail"]
    assert problem["errors"] == broken["errors"]


def test_a_deeply_nested_body_answers_422(shared) -> None:
    """A hundred thousand nested arrays do not exhaust the parser's stack."""
    response = _post_json(shared, "/v1/orders", b"[" * 100_000 + b"]" * 100_000)
    assert_problem(response, 422, INVALID, field="body", rule="json_invalid")


def test_a_deeply_nested_field_answers_422(shared) -> None:
    """Nesting that parses still fails the field's type."""
    nested: Any = "Amélie"
    for _ in range(500):
        nested = {"firstname": nested}
    response = _import(shared, _set("customer", nested))
    assert_problem(response, 422, INVALID)
    assert response.json()["field"].startswith("customer")


@pytest.mark.parametrize(
    ("path", "value", "field", "rule"),
    [
        ("lines[0].quantity", "2", "lines[0].quantity", "int_type"),
        ("lines[0].quantity", 2.5, "lines[0].quantity", "int_type"),
        ("lines[0].quantity", 2.0, "lines[0].quantity", "int_type"),
        ("lines[0].quantity", True, "lines[0].quantity", "int_type"),
        ("lines[0].quantity", 0, "lines[0].quantity", "greater_than_equal"),
        ("lines[0].quantity", -2, "lines[0].quantity", "greater_than_equal"),
        ("lines[0].quantity", 10_001, "lines[0].quantity", "less_than_equal"),
        ("lines[0].quantity", 10**40, "lines[0].quantity", None),
        ("lines[0].unit_price", 29.99, "lines[0].unit_price", "string_type"),
        ("lines[0].unit_price", "29.999", "lines[0].unit_price", "string_pattern_mismatch"),
        ("lines[0].unit_price", "-29.99", "lines[0].unit_price", "string_pattern_mismatch"),
        ("lines[0].unit_price", "NaN", "lines[0].unit_price", "string_pattern_mismatch"),
        ("lines[0].unit_price", "1e3", "lines[0].unit_price", "string_pattern_mismatch"),
        ("lines[0].unit_price", "9999999999.00", "lines[0].unit_price", "string_pattern_mismatch"),
        ("shipping_price", "4.900", "shipping_price", "string_pattern_mismatch"),
        ("shipping_price", "-4.90", "shipping_price", "string_pattern_mismatch"),
        ("shipping_price", "4,90", "shipping_price", "string_pattern_mismatch"),
        ("shipping_price", 4.9, "shipping_price", "string_type"),
        ("created_at", "2026-11-26T08:30:00", "created_at", "timezone_aware"),
        ("created_at", "demain matin", "created_at", None),
        ("created_at", "9999-12-31T23:59:59+00:00", "created_at", "date_range"),
        ("created_at", "0001-01-01T00:00:00+01:00", "created_at", "date_range"),
        ("channel", "amazon", "channel", "literal_error"),
        ("customer.email", "amelie.durand", "customer.email", "string_pattern_mismatch"),
        ("shipping_address.country", "France", "shipping_address.country", None),
        ("lines[0].ean", "36OOOOOOOOOO1", "lines[0].ean", "string_pattern_mismatch"),
        ("marketplace_order_id", "LR TUNIC 001", "marketplace_order_id", "string_pattern_mismatch"),
        ("marketplace_order_id", "", "marketplace_order_id", "string_too_short"),
        ("customer", "Amélie Durand", "customer", "model_attributes_type"),
        ("lines", {"line_id": "L1"}, "lines", "list_type"),
        ("lines", [], "lines", "too_short"),
        ("delivery.mode", "drone", "delivery.mode", "literal_error"),
    ],
)
def test_an_order_with_a_wrong_value_answers_422_naming_the_field(
    shared, path: str, value: Any, field: str, rule: str | None
) -> None:
    """Strict types: nothing is coerced, and the problem names the field and the rule."""
    assert_problem(_import(shared, _set(path, value)), 422, INVALID, field=field, rule=rule)


@pytest.mark.parametrize(
    ("route", "body", "field", "rule"),
    [
        ("refunds", {"refund_shipping": "yes", "reason": "Abîmé"}, "refund_shipping", "bool_type"),
        ("refunds", {"refund_shipping": 1, "reason": "Abîmé"}, "refund_shipping", "bool_type"),
        ("refunds", {"reason": "Abîmé"}, "refund_shipping", "missing"),
        (
            "refunds",
            {
                "lines": [{"line_id": "L1", "quantity": "1"}],
                "refund_shipping": False,
                "reason": "x",
            },
            "lines[0].quantity",
            "int_type",
        ),
        (
            "refunds",
            {"lines": [{"line_id": "L1", "quantity": 0}], "refund_shipping": False, "reason": "x"},
            "lines[0].quantity",
            "greater_than_equal",
        ),
        ("cancel", {"lines": [], "reason": "Rupture"}, "lines", "too_short"),
        (
            "cancel",
            {"lines": [{"line_id": "L1", "quantity": -1}], "reason": "Rupture"},
            "lines[0].quantity",
            "greater_than_equal",
        ),
        (
            "cancel",
            {"lines": [{"line_id": "L1"}], "reason": "Rupture"},
            "lines[0].quantity",
            "missing",
        ),
        ("cancel", {}, "reason", "missing"),
        ("ship", {"tracking_number": 6123, "carrier": "DHL"}, "tracking_number", "string_type"),
        ("ship", {"tracking_number": "", "carrier": "DHL"}, "tracking_number", "string_too_short"),
        ("refuse", {"reason": ""}, "reason", "string_too_short"),
        ("refuse", {"reason": None}, "reason", "string_type"),
    ],
)
def test_a_command_with_a_wrong_value_answers_422_naming_the_field(
    shared, route: str, body: dict[str, Any], field: str, rule: str
) -> None:
    """Command bodies are as strict as the import."""
    order = _fresh(shared, "TOSHIP")
    assert_problem(_command(shared, order, route, body), 422, INVALID, field=field, rule=rule)


@pytest.mark.parametrize(
    "path",
    [
        "coupon",
        "customer.phone",
        "shipping_address.floor",
        "delivery.relay_hours",
        "lines[1].color",
    ],
)
def test_an_unknown_field_answers_422_extra_forbidden(shared, path: str) -> None:
    """A misspelt or unexpected field is refused, wherever it is."""
    response = _import(shared, _set(path, "Bleu"))
    assert_problem(response, 422, INVALID, field=path, rule="extra_forbidden")


@pytest.mark.parametrize("route", ["refuse", "ship", "cancel", "refunds"])
def test_an_unknown_field_in_a_command_answers_422(shared, route: str) -> None:
    """Command bodies refuse unknown fields too."""
    order = _fresh(shared, "TOSHIP")
    body = {**COMMANDS[route], "priority": "urgent"}
    assert_problem(
        _command(shared, order, route, body), 422, INVALID, field="priority", rule="extra_forbidden"
    )


def test_a_relay_delivery_without_its_relay_answers_422(shared) -> None:
    """Relay orders carry the relay's id, name and address."""
    response = _import(shared, _set("delivery", {"mode": "relay"}))
    assert_problem(response, 422, RULE, field="delivery.relay_id", rule="required_for_relay")


def test_a_relay_delivery_without_its_address_answers_422(shared) -> None:
    """Each relay field is required, not just the first."""
    relay = {"mode": "relay", "relay_id": "MR-059-0042", "relay_name": "Tabac de la Gare"}
    response = _import(shared, _set("delivery", relay))
    assert_problem(response, 422, RULE, field="delivery.relay_address", rule="required_for_relay")


def test_an_order_with_twice_the_same_line_id_answers_422(shared) -> None:
    """Line ids name lines: two lines L1 are refused."""
    response = _import(shared, _set("lines[1].line_id", "L1"))
    assert_problem(response, 422, RULE, field="lines[1].line_id", rule="duplicate_line")


def _lines(count: int) -> Callable[[dict[str, Any]], None]:
    def mutate(payload: dict[str, Any]) -> None:
        line = payload["lines"][0]
        payload["lines"] = [{**line, "line_id": f"L{n}"} for n in range(count)]

    return mutate


def test_an_order_of_1000_lines_answers_422(shared) -> None:
    """An order holds at most 200 lines."""
    assert_problem(_import(shared, _lines(1000)), 422, INVALID, field="lines", rule="too_long")


def test_an_order_of_200_lines_is_imported(shared) -> None:
    """200 lines is the limit, not beyond it."""
    response = _import(shared, _lines(200), "LR-LINES-200")
    assert response.status_code == 201, response.text
    assert len(response.json()["lines"]) == 200


_IMPORT_TEXT_FIELDS = [
    "channel",
    "marketplace_order_id",
    "created_at",
    "customer.firstname",
    "customer.lastname",
    "customer.email",
    "shipping_address.street",
    "shipping_address.zip_code",
    "shipping_address.city",
    "shipping_address.country",
    "delivery.mode",
    "delivery.relay_id",
    "delivery.relay_name",
    "delivery.relay_address",
    "shipping_price",
    "lines[0].line_id",
    "lines[0].sku",
    "lines[0].ean",
    "lines[0].title",
    "lines[0].unit_price",
]


@pytest.mark.parametrize("path", _IMPORT_TEXT_FIELDS)
def test_a_text_of_10000_characters_answers_422_on_import(shared, path: str) -> None:
    """Every text field of an order has a size limit."""
    huge = "9" * 10_000 if path.endswith(("ean", "price")) else "É" * 10_000
    assert_problem(_import(shared, _set(path, huge)), 422, INVALID, field=path)


@pytest.mark.parametrize(
    ("route", "field"),
    [
        ("refuse", "reason"),
        ("ship", "tracking_number"),
        ("ship", "carrier"),
        ("ship", "tracking_url"),
        ("cancel", "reason"),
        ("cancel", "lines[0].line_id"),
        ("refunds", "reason"),
        ("refunds", "lines[0].line_id"),
    ],
)
def test_a_text_of_10000_characters_answers_422_on_commands(shared, route: str, field: str) -> None:
    """Every text field of a command has a size limit."""
    order = _fresh(shared, "TOSHIP")
    body = copy.deepcopy(COMMANDS[route])
    _set(field, "https://" + "x" * 10_000)(body)
    assert_problem(_command(shared, order, route, body), 422, INVALID, field=field)


def test_emoji_and_other_scripts_are_kept_as_they_came(shared) -> None:
    """Text is Unicode end to end, astral planes and right-to-left scripts included."""

    def exotic(payload: dict[str, Any]) -> None:
        payload["customer"]["firstname"] = "Amélie"
        payload["customer"]["lastname"] = "دوران"
        payload["lines"][0]["title"] = "Tunique 🌿 en lin\u200b"

    response = _import(shared, exotic, "LR-🧥-001")
    assert response.status_code == 201, response.text
    again = shared.get(response.headers["location"]).json()
    assert again["marketplace_order_id"] == "LR-🧥-001"
    assert again["customer"]["lastname"] == "دوران"
    assert again["lines"][0]["title"] == "Tunique 🌿 en lin\u200b"
    events = shared.get(f"{response.headers['location']}/events").json()["events"]
    assert events[0]["data"]["customer"]["lastname"] == "دوران"


@pytest.mark.parametrize(
    ("field", "text"),
    [
        ("customer.firstname", "Amé\x00lie"),
        ("lines[0].title", "Tunique\nen lin"),
        ("shipping_address.city", "Roubaix\x7f"),
        ("marketplace_order_id", "LR-\x00-1"),
    ],
)
def test_control_characters_in_text_answer_422(shared, field: str, text: str) -> None:
    """A NUL byte or a line break is never part of a name: refused, naming the field."""
    response = _import(shared, _set(field, text), f"LR-CTRL-{abs(hash(field)) % 10_000}")
    assert_problem(response, 422, INVALID, field=field, rule="control_characters")


def test_a_lone_surrogate_answers_422(shared) -> None:
    """Escaped JSON can name half of a UTF-16 pair, which is no character."""
    payload = order_payload()
    payload["customer"]["firstname"] = "Am\ud800lie"
    response = _post_json(shared, "/v1/orders", payload)
    assert_problem(response, 422, INVALID, field="customer.firstname", rule="string_unicode")


# ---------------------------------------------------------------- body size


def test_a_body_over_a_megabyte_answers_413(shared) -> None:
    """The limit is checked on Content-Length before the body is read."""
    response = _import(shared, _set("lines[0].title", "Tunique " * 150_000))
    assert_problem(response, 413, "/problems/body-too-large", field="body", rule="max_bytes")


@pytest.fixture
def small_body_client(settings, clock, operator_key: str) -> Iterator[TestClient]:
    """A service that takes bodies of at most 4 kB."""
    app = create_app(settings.model_copy(update={"max_body_bytes": 4096}), clock=clock)
    with TestClient(app, raise_server_exceptions=False, headers=bearer(operator_key)) as test_client:
        yield test_client


def test_the_body_limit_is_a_setting_and_counts_streamed_bodies(small_body_client) -> None:
    """With OMS_MAX_BODY_BYTES at 4 kB, an order passes and 10 kB streamed in chunks do not."""
    assert small_body_client.post("/v1/orders", json=order_payload()).status_code == 201

    def chunks() -> Iterator[bytes]:
        yield json.dumps(order_payload("LR-TUNIC-002"))[:-1].encode()
        for _ in range(10):
            yield b', "padding": "' + b"x" * 1000 + b'"'
        yield b"}"

    response = small_body_client.post(
        "/v1/orders", content=chunks(), headers={"content-type": "application/json"}
    )
    assert_problem(response, 413, "/problems/body-too-large", field="body", rule="max_bytes")


# ---------------------------------------------------------------- no input makes a 500

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)
_EDGE_VALUES = st.sampled_from(
    [
        "", " ", "\x00", "\u202e", "🧥", "9" * 1000, "É" * 300,
        -1, 0, 1, 2**63, -(2**63) - 1, 10**30,
        1.5, 1e308, "29.999", "-0.01", "0", "1e3", True, False, None, [], {}, [{}], "L1", "L9",
        "2026-11-26T08:30:00", "2026-11-26T08:30:00+14:00", "9999-12-31T23:59:59+00:00",
        "1969-12-31T23:59:59-12:00", "ftp://dupont.fr/1", "https://", "relay", "home",
        "laredoute", "labrandboutique", "Colissimo", "Colis Privé", "x" * 33,
    ]
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, (*prefix, index))


_SAME_TYPE: dict[type, st.SearchStrategy[Any]] = {
    bool: st.booleans(),
    int: st.integers(-3, 10_002) | st.integers(),
    str: st.sampled_from(["L1", "L2", "L9", "0.01", "29.99", "4.90", "Colissimo", "FR"])
    | st.text(min_size=1, max_size=40),
}


@st.composite
def _mutations(draw: st.DrawFn, valid: Any) -> Any:
    """The valid body with one to three values retyped, replaced, removed or added.

    Values of the same type get past the schema to the domain's rules; the others test the schema.
    """
    body = copy.deepcopy(valid)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(list(_paths(body))))
        # A copy: the edge values' lists and dicts are shared by every example.
        value = copy.deepcopy(draw(_EDGE_VALUES | _JSON))
        if not path:
            body = value
            continue
        parent = body
        for key in path[:-1]:
            parent = parent[key]
        action = draw(st.sampled_from(["same type", "same type", "replace", "remove", "add"]))
        current = parent[path[-1]]
        if action == "same type" and type(current) in _SAME_TYPE:
            parent[path[-1]] = draw(_SAME_TYPE[type(current)])
        elif action == "same type" and isinstance(current, list) and current:
            current.append(copy.deepcopy(draw(st.sampled_from(current))))
        elif action == "remove":
            del parent[path[-1]]
        elif action == "add" and isinstance(parent, dict):
            parent[draw(st.text(max_size=12))] = value
        elif action == "add":
            parent.append(value)
        else:
            parent[path[-1]] = value
    return body


_VALID_BODIES: dict[str, Any] = {"import": order_payload("LR-FUZZ-001"), **COMMANDS}
# The status each route's command is allowed in, so that mutated bodies reach the domain.
# Accept reads no body: one order serves all its examples, accepted by the first.
_TARGET_STATUS = {
    "accept": None,
    "refuse": "CREATED",
    "ship": "TOSHIP",
    "cancel": "TOSHIP",
    "refunds": "PAID",
}


@pytest.fixture
def fuzz_target() -> dict[str, Any]:
    """The order the examples of one test send commands to, replaced once it moves on."""
    return {"count": 0, "order_id": None}


@pytest.mark.parametrize("route", list(_VALID_BODIES))
@hypothesis_settings(
    max_examples=100,  # per route and store: 1200 requests in all
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_no_body_makes_a_500(
    client, app, fuzz_target: dict[str, Any], route: str, data: st.DataObject
) -> None:
    """Random JSON and mutations of a valid body get an answer below 500, a problem if refused."""
    url = "/v1/orders"
    if route != "import":
        service, wanted = app.state.service, _TARGET_STATUS[route]
        order_id = fuzz_target["order_id"]
        if order_id is None or wanted not in {None, service.get_order(order_id).status}:
            fuzz_target["count"] += 1
            number = fuzz_target["count"]
            order_id = _order_in(service, wanted or "CREATED", f"LR-FUZZ-{number:04d}")
            fuzz_target["order_id"] = order_id
        url = f"/v1/orders/{order_id}/{route}"
    valid = _VALID_BODIES[route]
    body = data.draw(st.one_of(_JSON, _mutations(valid), _mutations(valid)), label="body")
    response = _post_json(client, url, body, **{"If-Match": "*"})
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert response.headers["content-type"].startswith(PROBLEM_JSON)
        problem = response.json()
        assert problem["type"].startswith("/problems/")
        assert problem["status"] == response.status_code
        event(f"{response.status_code} {problem['type']}")  # see --hypothesis-show-statistics
    else:
        event(str(response.status_code))
