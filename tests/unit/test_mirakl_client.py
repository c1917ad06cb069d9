"""The Mirakl client over httpx.MockTransport: requests sent, retries, error mapping, secrecy."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from email.utils import format_datetime
from typing import Any

import httpx
import pytest
import structlog
from pydantic import SecretStr
from structlog.testing import capture_logs

from app.adapters.laredoute import MiraklClient
from app.ports.marketplace import (
    CancelLine,
    OrdersPage,
    RefundLine,
    UpstreamRefused,
    UpstreamUnavailable,
)

API_KEY = "lr-shop-key-7f3a9c1e"
BASE_URL = "https://laredoute.mirakl.example"
SHOP_ID = 2001
ORDER_ID = "LR-20261126-A"

Reply = httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]


class Marketplace:
    """A scripted marketplace: answers each request with the next reply and keeps the request."""

    def __init__(self, *replies: Reply) -> None:
        self.replies = list(replies)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        assert self.replies, f"unexpected request {request.method} {request.url}"
        reply = self.replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        if callable(reply):
            return reply(request)
        return reply

    @property
    def request(self) -> httpx.Request:
        assert len(self.requests) == 1, self.requests
        return self.requests[0]


def make_client(
    marketplace: Marketplace, *, shop_id: int | None = SHOP_ID, **options: Any
) -> tuple[MiraklClient, list[float]]:
    sleeps: list[float] = []
    options.setdefault("random", lambda: 0.5)
    client = MiraklClient(
        BASE_URL,
        API_KEY,
        shop_id,
        transport=httpx.MockTransport(marketplace),
        sleep=sleeps.append,
        **options,
    )
    return client, sleeps


def orders_body(*order_ids: str, total_count: int | None = None) -> dict[str, Any]:
    return {
        "orders": [{"order_id": order_id, "order_state": "SHIPPING"} for order_id in order_ids],
        "total_count": len(order_ids) if total_count is None else total_count,
    }


def ok(body: dict[str, Any] | None = None, **kwargs: Any) -> httpx.Response:
    return httpx.Response(200, json=body, **kwargs) if body is not None else httpx.Response(204)


def mirakl_error(
    status: int, message: str, code: str | None = None, **kwargs: Any
) -> httpx.Response:
    body: dict[str, Any] = {"status": status, "message": message}
    if code:
        body["code"] = code
    return httpx.Response(status, json=body, **kwargs)


def query(request: httpx.Request) -> dict[str, str]:
    return dict(request.url.params)


def sent_json(request: httpx.Request) -> Any:
    return json.loads(request.content)


@pytest.fixture
def logs() -> Iterator[list[dict[str, Any]]]:
    """Every log event, info included, whatever level the suite configured."""
    wrapper = structlog.get_config()["wrapper_class"]
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG))
    try:
        with capture_logs() as entries:
            yield entries
    finally:
        structlog.configure(wrapper_class=wrapper)


# ---------------------------------------------------------------- requests


def test_list_orders_sends_filters_paging_shop_and_key() -> None:
    """OR11 gets the update date in UTC with Z, the states comma-separated, offset, max, shop_id."""
    market = Marketplace(ok(orders_body(ORDER_ID, total_count=41)))
    client, _ = make_client(market)
    paris = timezone(timedelta(hours=1))

    page = client.list_orders(
        start_update_date=datetime(2026, 11, 26, 9, 30, tzinfo=paris),
        states=["SHIPPING", "SHIPPED"],
        offset=40,
        max=20,
    )

    request = market.request
    assert request.method == "GET"
    assert request.url.path == "/api/orders"
    assert query(request) == {
        "start_update_date": "2026-11-26T08:30:00Z",
        "order_state_codes": "SHIPPING,SHIPPED",
        "offset": "40",
        "max": "20",
        "shop_id": "2001",
    }
    assert request.headers["Authorization"] == API_KEY
    assert request.headers["Accept"] == "application/json"
    assert page == OrdersPage(
        orders=[{"order_id": ORDER_ID, "order_state": "SHIPPING"}], total_count=41, offset=40
    )


def test_list_orders_sends_milliseconds_when_the_date_has_them() -> None:
    market = Marketplace(ok(orders_body()))
    client, _ = make_client(market)

    client.list_orders(start_update_date=datetime(2026, 11, 26, 8, 30, 0, 123987, tzinfo=UTC))

    assert query(market.request)["start_update_date"] == "2026-11-26T08:30:00.123Z"


def test_list_orders_by_ids_joins_them_with_commas() -> None:
    market = Marketplace(ok(orders_body("LR-1-A", "LR-2-A")))
    client, _ = make_client(market)

    client.list_orders(order_ids=["LR-1-A", "LR-2-A"])

    assert query(market.request)["order_ids"] == "LR-1-A,LR-2-A"


def test_list_orders_leaves_out_shop_id_when_the_key_has_one_shop() -> None:
    market = Marketplace(ok(orders_body()))
    client, _ = make_client(market, shop_id=None)

    client.list_orders()

    assert query(market.request) == {"offset": "0", "max": "100"}


def test_list_orders_reads_money_as_decimal() -> None:
    """Amounts never pass through float: 29.99 stays exactly 29.99."""
    body = {"orders": [{"order_id": ORDER_ID, "shipping_price": 4.90}], "total_count": 1}
    market = Marketplace(httpx.Response(200, content=json.dumps(body).encode()))
    client, _ = make_client(market)

    page = client.list_orders()

    assert page.orders[0]["shipping_price"] == Decimal("4.9")
    assert isinstance(page.orders[0]["shipping_price"], Decimal)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"start_update_date": datetime(2026, 11, 26, 8, 30)},
        {"max": 0},
        {"max": 101},
        {"offset": -1},
        {"order_ids": []},
        {"order_ids": "LR-1-A"},
        {"order_ids": ["LR-1-A,LR-2-A"]},
    ],
)
def test_list_orders_refuses_arguments_the_marketplace_would_misread(kwargs: dict) -> None:
    market = Marketplace()
    client, _ = make_client(market)

    with pytest.raises((ValueError, TypeError)):
        client.list_orders(**kwargs)
    assert market.requests == []


def test_iter_order_pages_walks_offsets_until_the_total_is_reached() -> None:
    market = Marketplace(
        ok(orders_body("LR-1-A", "LR-2-A", total_count=5)),
        ok(orders_body("LR-3-A", "LR-4-A", total_count=5)),
        ok(orders_body("LR-5-A", total_count=5)),
    )
    client, _ = make_client(market)
    since = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)

    pages = list(client.iter_order_pages(start_update_date=since, page_size=2))

    assert [page.offset for page in pages] == [0, 2, 4]
    assert [order["order_id"] for page in pages for order in page.orders] == [
        "LR-1-A", "LR-2-A", "LR-3-A", "LR-4-A", "LR-5-A",
    ]  # fmt: skip
    assert [query(r)["offset"] for r in market.requests] == ["0", "2", "4"]
    assert {query(r)["max"] for r in market.requests} == {"2"}
    assert {query(r)["start_update_date"] for r in market.requests} == {"2026-11-26T08:00:00Z"}


def test_iter_order_pages_stops_at_an_empty_page_even_if_the_total_said_more() -> None:
    market = Marketplace(
        ok(orders_body("LR-1-A", "LR-2-A", total_count=9)),
        ok(orders_body(total_count=9)),
    )
    client, _ = make_client(market)

    pages = list(client.iter_order_pages(page_size=2))

    assert len(pages) == 2 and pages[1].orders == []
    assert len(market.requests) == 2


def test_iter_order_pages_moves_by_what_came_back_when_pages_are_capped() -> None:
    """A marketplace that returns fewer orders than asked for does not make us skip any."""
    market = Marketplace(
        ok(orders_body("LR-1-A", total_count=2)),
        ok(orders_body("LR-2-A", total_count=2)),
    )
    client, _ = make_client(market)

    list(client.iter_order_pages(page_size=100))

    assert [query(r)["offset"] for r in market.requests] == ["0", "1"]


def test_get_order_finds_one_order_by_id() -> None:
    market = Marketplace(ok(orders_body(ORDER_ID)))
    client, _ = make_client(market)

    order = client.get_order(ORDER_ID)

    assert order == {"order_id": ORDER_ID, "order_state": "SHIPPING"}
    assert query(market.request)["order_ids"] == ORDER_ID


def test_get_order_answers_none_for_an_order_the_shop_does_not_have() -> None:
    market = Marketplace(ok(orders_body()))
    client, _ = make_client(market)

    assert client.get_order("LR-99999999-A") is None


def test_accept_sends_one_decision_per_line() -> None:
    market = Marketplace(ok())
    client, _ = make_client(market)

    client.accept(ORDER_ID, {f"{ORDER_ID}-1": True, f"{ORDER_ID}-2": False})

    request = market.request
    assert (request.method, request.url.path) == ("PUT", f"/api/orders/{ORDER_ID}/accept")
    assert query(request) == {"shop_id": "2001"}
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Authorization"] == API_KEY
    assert sent_json(request) == {
        "order_lines": [
            {"accepted": True, "id": f"{ORDER_ID}-1"},
            {"accepted": False, "id": f"{ORDER_ID}-2"},
        ]
    }


def test_accept_without_decisions_is_refused_before_sending() -> None:
    market = Marketplace()
    client, _ = make_client(market)

    with pytest.raises(ValueError, match="decision"):
        client.accept(ORDER_ID, {})


def test_order_ids_are_escaped_in_paths() -> None:
    market = Marketplace(ok())
    client, _ = make_client(market)

    client.ship("LR/1 A")

    assert market.request.url.raw_path.startswith(b"/api/orders/LR%2F1%20A/ship")


def test_update_tracking_sends_only_the_fields_given() -> None:
    market = Marketplace(ok(), ok())
    client, _ = make_client(market)

    client.update_tracking(ORDER_ID, tracking_number="6A12345678901", carrier_code="COLISSIMO")
    client.update_tracking(
        ORDER_ID,
        tracking_number="XY123",
        carrier_name="Transports Martin",
        carrier_url="https://martin.example/suivi/XY123",
    )

    first, second = market.requests
    assert (first.method, first.url.path) == ("PUT", f"/api/orders/{ORDER_ID}/tracking")
    assert sent_json(first) == {"carrier_code": "COLISSIMO", "tracking_number": "6A12345678901"}
    assert sent_json(second) == {
        "carrier_name": "Transports Martin",
        "carrier_url": "https://martin.example/suivi/XY123",
        "tracking_number": "XY123",
    }


@pytest.mark.parametrize(("method", "action"), [("ship", "ship"), ("cancel_order", "cancel")])
def test_ship_and_cancel_order_send_an_empty_put(method: str, action: str) -> None:
    market = Marketplace(ok())
    client, _ = make_client(market)

    assert getattr(client, method)(ORDER_ID) is None

    request = market.request
    assert (request.method, request.url.path) == ("PUT", f"/api/orders/{ORDER_ID}/{action}")
    assert request.content == b""
    assert query(request) == {"shop_id": "2001"}


def test_refund_sends_amounts_with_two_decimals_and_returns_the_refunds_created() -> None:
    created = [
        {"order_line_id": f"{ORDER_ID}-1", "order_refund_id": "R-77", "refund_id": "1001",
         "amount": 29.9, "shipping_amount": 4.9, "quantity": 1, "reason_code": "15"},
    ]  # fmt: skip
    market = Marketplace(ok({"order_tax_mode": "TAX_INCLUDED", "refunds": created}))
    client, _ = make_client(market)

    refunds = client.refund(
        [RefundLine(f"{ORDER_ID}-1", Decimal("29.9"), Decimal("4.90"), 1, "15")]
    )

    request = market.request
    assert (request.method, request.url.path) == ("PUT", "/api/orders/refund")
    assert request.content == (
        b'{"refunds":[{"amount":29.90,"order_line_id":"LR-20261126-A-1","quantity":1,'
        b'"reason_code":"15","shipping_amount":4.90}]}'
    )
    assert refunds[0]["order_refund_id"] == "R-77"
    assert refunds[0]["amount"] == Decimal("29.9")


def test_cancel_lines_sends_each_cancelation_and_returns_those_created() -> None:
    market = Marketplace(
        ok({"order_tax_mode": "TAX_INCLUDED", "cancelations": [{"cancelation_id": "C-1"}]})
    )
    client, _ = make_client(market)

    cancelations = client.cancel_lines(
        [CancelLine(f"{ORDER_ID}-2", quantity=1, amount=Decimal("15"),
                    shipping_amount=Decimal("0"), reason_code="34")]
    )  # fmt: skip

    request = market.request
    assert (request.method, request.url.path) == ("PUT", "/api/orders/cancel")
    assert request.content == (
        b'{"cancelations":[{"amount":15.00,"order_line_id":"LR-20261126-A-2","quantity":1,'
        b'"reason_code":"34","shipping_amount":0.00}]}'
    )
    assert cancelations == [{"cancelation_id": "C-1"}]


@pytest.mark.parametrize(
    ("amount", "error"),
    [(29.9, TypeError), (Decimal("29.999"), ValueError), (Decimal("-1.00"), ValueError),
     (Decimal("NaN"), ValueError)],
)  # fmt: skip
def test_refund_refuses_amounts_that_are_not_whole_cents(amount: Any, error: type) -> None:
    market = Marketplace()
    client, _ = make_client(market)

    with pytest.raises(error):
        client.refund([RefundLine(f"{ORDER_ID}-1", amount, Decimal("0.00"), 1, "15")])
    assert market.requests == []


def test_reasons_and_carriers_read_their_lists() -> None:
    reasons = [{"code": "15", "is_shop_right": True, "label": "Rupture", "type": "REFUND"}]
    carriers = [{"code": "COLISSIMO", "label": "Colissimo"}]
    market = Marketplace(
        ok({"reasons": reasons, "total_count": 1}), ok({"carriers": carriers})
    )
    client, _ = make_client(market)

    assert client.reasons() == reasons
    assert client.carriers() == carriers
    assert [(r.method, r.url.path) for r in market.requests] == [
        ("GET", "/api/reasons"),
        ("GET", "/api/shipping/carriers"),
    ]


def test_a_base_url_with_a_path_keeps_it() -> None:
    market = Marketplace(ok(orders_body()))
    client = MiraklClient(
        "http://127.0.0.1:8900/mirakl", API_KEY, transport=httpx.MockTransport(market)
    )

    client.list_orders()

    assert market.request.url.path == "/mirakl/api/orders"


def test_the_client_closes_as_a_context_manager() -> None:
    with make_client(Marketplace())[0] as client:
        pass
    assert client._http.is_closed


# ---------------------------------------------------------------- retries of reads


def test_a_read_retries_after_429_waiting_what_retry_after_says() -> None:
    market = Marketplace(
        mirakl_error(429, "Too many requests", headers={"Retry-After": "7"}),
        ok(orders_body(ORDER_ID)),
    )
    client, sleeps = make_client(market)

    page = client.list_orders()

    assert page.total_count == 1
    assert sleeps == [7.0]
    assert len(market.requests) == 2


def test_retry_after_as_an_http_date_is_honoured_and_capped() -> None:
    later = format_datetime(datetime.now(UTC) + timedelta(hours=1), usegmt=True)
    earlier = format_datetime(datetime.now(UTC) - timedelta(hours=1), usegmt=True)
    market = Marketplace(
        mirakl_error(429, "slow down", headers={"Retry-After": later}),
        mirakl_error(429, "slow down", headers={"Retry-After": earlier}),
        ok(orders_body()),
    )
    client, sleeps = make_client(market, backoff_max=12.0)

    client.list_orders()

    assert sleeps == [12.0, 0.0]


def test_a_retry_after_longer_than_backoff_max_is_capped() -> None:
    market = Marketplace(
        mirakl_error(429, "slow down", headers={"Retry-After": "3600"}), ok(orders_body())
    )
    client, sleeps = make_client(market, backoff_max=30.0)

    client.list_orders()

    assert sleeps == [30.0]


def test_reads_back_off_exponentially_with_full_jitter() -> None:
    """Waits are random() times base * 2^n, never more than backoff_max."""
    market = Marketplace(
        mirakl_error(503, "maintenance"),
        mirakl_error(500, "fault"),
        httpx.Response(502, text="<html>Bad gateway</html>"),
        mirakl_error(504, "gateway timeout"),
        ok(orders_body()),
    )
    client, sleeps = make_client(market, backoff_base=0.5, backoff_max=3.0, random=lambda: 0.5)

    client.list_orders()

    assert sleeps == [0.25, 0.5, 1.0, 1.5]
    assert len(market.requests) == 5


@pytest.mark.parametrize(
    "failure",
    [
        httpx.ConnectError("Connection refused"),
        httpx.ConnectTimeout("timed out"),
        httpx.ReadTimeout("timed out"),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
        httpx.ReadError("Connection reset by peer"),
    ],
    ids=type,
)
def test_a_read_retries_after_network_failures(failure: Exception) -> None:
    market = Marketplace(failure, ok(orders_body(ORDER_ID)))
    client, sleeps = make_client(market)

    assert client.get_order(ORDER_ID) == {"order_id": ORDER_ID, "order_state": "SHIPPING"}
    assert len(sleeps) == 1 and len(market.requests) == 2


def test_a_read_gives_up_after_read_retries_and_says_why() -> None:
    market = Marketplace(
        *[mirakl_error(503, "maintenance", headers={"Retry-After": "2"}) for _ in range(3)]
    )
    client, sleeps = make_client(market, read_retries=2)

    with pytest.raises(UpstreamUnavailable) as raised:
        client.reasons()

    error = raised.value
    assert (error.operation, error.status, error.retry_after) == ("RE01", 503, 2.0)
    assert error.maybe_applied is False
    assert sleeps == [2.0, 2.0]
    assert len(market.requests) == 3


def test_a_read_that_times_out_every_time_raises_unavailable() -> None:
    market = Marketplace(*[httpx.ReadTimeout("timed out") for _ in range(5)])
    client, sleeps = make_client(market)

    with pytest.raises(UpstreamUnavailable) as raised:
        client.list_orders()

    assert raised.value.status is None
    assert "ReadTimeout" in str(raised.value)
    assert isinstance(raised.value.__cause__, httpx.ReadTimeout)
    assert len(sleeps) == 4 and len(market.requests) == 5


@pytest.mark.parametrize("status", [400, 401, 404])
def test_a_refused_read_is_not_retried(status: int) -> None:
    market = Marketplace(mirakl_error(status, "no"))
    client, sleeps = make_client(market)

    with pytest.raises(UpstreamRefused):
        client.carriers()
    assert sleeps == [] and len(market.requests) == 1


# ---------------------------------------------------------------- writes are never retried


@pytest.mark.parametrize(
    ("failure", "maybe_applied"),
    [
        (httpx.ConnectError("Connection refused"), False),
        (httpx.ConnectTimeout("timed out"), False),
        (httpx.PoolTimeout("no connection free"), False),
        (httpx.ReadTimeout("timed out"), True),
        (httpx.WriteTimeout("timed out"), True),
        (httpx.RemoteProtocolError("Server disconnected without sending a response."), True),
        (httpx.ReadError("Connection reset by peer"), True),
        (mirakl_error(500, "fault"), True),
        (httpx.Response(502, text="Bad gateway"), True),
        (httpx.Response(504, text="Gateway timeout"), True),
        (mirakl_error(503, "maintenance", headers={"Retry-After": "5"}), False),
        (mirakl_error(429, "slow down", headers={"Retry-After": "5"}), False),
    ],
    ids=lambda v: v if isinstance(v, bool) else getattr(v, "status_code", type(v).__name__),
)
def test_a_write_is_sent_once_and_says_whether_it_may_have_been_applied(
    failure: Reply, maybe_applied: bool
) -> None:
    market = Marketplace(failure)
    client, sleeps = make_client(market)

    with pytest.raises(UpstreamUnavailable) as raised:
        client.accept(ORDER_ID, {f"{ORDER_ID}-1": True})

    assert raised.value.operation == "OR21"
    assert raised.value.maybe_applied is maybe_applied
    assert sleeps == [] and len(market.requests) == 1


def test_a_failed_write_keeps_status_and_retry_after_for_the_caller() -> None:
    market = Marketplace(mirakl_error(429, "slow down", headers={"Retry-After": "5"}))
    client, _ = make_client(market)

    with pytest.raises(UpstreamUnavailable) as raised:
        client.ship(ORDER_ID)

    assert (raised.value.status, raised.value.retry_after) == (429, 5.0)


def test_a_write_answered_with_garbage_may_have_been_applied() -> None:
    market = Marketplace(httpx.Response(200, text="<html>ok</html>"))
    client, _ = make_client(market)

    with pytest.raises(UpstreamUnavailable) as raised:
        client.refund([RefundLine(f"{ORDER_ID}-1", Decimal("10.00"), Decimal("0.00"), 1, "15")])

    assert raised.value.maybe_applied is True and raised.value.status == 200


def test_a_read_answered_with_an_unexpected_body_is_unavailable() -> None:
    market = Marketplace(ok({"unexpected": True}))
    client, _ = make_client(market)

    with pytest.raises(UpstreamUnavailable, match="OR11"):
        client.list_orders()


# ---------------------------------------------------------------- refusals


def test_a_400_carries_the_marketplace_code_and_message() -> None:
    market = Marketplace(
        mirakl_error(400, "Order LR-20261126-A is not in state SHIPPING", "ORDER_INVALID_STATE")
    )
    client, _ = make_client(market)

    with pytest.raises(UpstreamRefused) as raised:
        client.ship(ORDER_ID)

    error = raised.value
    assert (error.operation, error.status, error.code) == ("OR24", 400, "ORDER_INVALID_STATE")
    assert error.message == "Order LR-20261126-A is not in state SHIPPING"
    assert str(error) == (
        "OR24 refused (HTTP 400 ORDER_INVALID_STATE): "
        "Order LR-20261126-A is not in state SHIPPING"
    )


def test_a_404_without_code_is_refused_with_code_none() -> None:
    market = Marketplace(mirakl_error(404, "Order not found"))
    client, _ = make_client(market)

    with pytest.raises(UpstreamRefused) as raised:
        client.cancel_order(ORDER_ID)

    assert (raised.value.status, raised.value.code, raised.value.message) == (
        404, None, "Order not found",
    )  # fmt: skip


def test_a_401_is_refused_as_unauthorized() -> None:
    market = Marketplace(mirakl_error(401, "Unauthorized"))
    client, _ = make_client(market)

    with pytest.raises(UpstreamRefused) as raised:
        client.list_orders()

    assert (raised.value.status, raised.value.code) == (401, "UNAUTHORIZED")


def test_a_refusal_with_a_non_json_body_keeps_its_text() -> None:
    market = Marketplace(
        httpx.Response(400, text="<html>\n<body>Bad   request</body>\n</html>"),
        httpx.Response(403, content=b""),
    )
    client, _ = make_client(market)

    with pytest.raises(UpstreamRefused) as first:
        client.ship(ORDER_ID)
    with pytest.raises(UpstreamRefused) as second:
        client.ship(ORDER_ID)

    assert first.value.code is None
    assert first.value.message == "<html> <body>Bad request</body> </html>"
    assert (second.value.status, second.value.message) == (403, "Forbidden")


# ---------------------------------------------------------------- the key stays secret


def test_the_api_key_never_shows_in_errors_repr_or_logs(logs: list[dict[str, Any]]) -> None:
    """Not even when the marketplace echoes it back in an error message."""
    echoed = f"API key {API_KEY} is not allowed for shop 2001"
    market = Marketplace(
        mirakl_error(401, echoed),
        mirakl_error(503, echoed),
        httpx.ConnectError(f"cannot connect with {API_KEY}"),
        mirakl_error(500, echoed),
        *[mirakl_error(503, echoed) for _ in range(3)],
    )
    client, _ = make_client(market, read_retries=2)
    errors: list[Exception] = []

    with pytest.raises(UpstreamRefused) as refused:
        client.list_orders()
    errors.append(refused.value)
    for _ in range(2):
        with pytest.raises(UpstreamUnavailable) as unavailable:
            client.ship(ORDER_ID)
        errors.append(unavailable.value)
    with pytest.raises(UpstreamUnavailable) as unavailable:
        client.ship(ORDER_ID)
    errors.append(unavailable.value)
    with pytest.raises(UpstreamUnavailable) as unavailable:
        client.carriers()
    errors.append(unavailable.value)

    shown = [str(e) for e in errors] + [repr(e) for e in errors]
    shown += [getattr(e, "message", "") for e in errors] + [repr(client), repr(logs)]
    assert all(API_KEY not in text for text in shown), shown
    assert "**********" in str(errors[0])
    assert "mirakl_retry" in repr(logs)


def test_a_secret_str_key_is_sent_as_is_and_never_printed() -> None:
    market = Marketplace(ok(orders_body()))
    client = MiraklClient(
        BASE_URL, SecretStr(API_KEY), SHOP_ID, transport=httpx.MockTransport(market)
    )

    client.list_orders()

    assert market.request.headers["Authorization"] == API_KEY
    assert repr(client) == f"MiraklClient(base_url='{BASE_URL}', shop_id=2001)"
    assert API_KEY not in repr(vars(client))


def test_an_empty_api_key_is_refused() -> None:
    with pytest.raises(ValueError, match="API key"):
        MiraklClient(BASE_URL, "  ")


# ---------------------------------------------------------------- logs


def test_each_call_and_retry_is_logged(logs: list[dict[str, Any]]) -> None:
    market = Marketplace(
        mirakl_error(429, "slow down", headers={"Retry-After": "1"}), ok(orders_body())
    )
    client, _ = make_client(market)

    client.list_orders()

    calls = [entry for entry in logs if entry["event"] == "mirakl_call"]
    retries = [entry for entry in logs if entry["event"] == "mirakl_retry"]
    assert [(c["operation"], c["method"], c["status"], c["attempt"]) for c in calls] == [
        ("OR11", "GET", 429, 1),
        ("OR11", "GET", 200, 2),
    ]
    assert all(c["log_level"] == "info" and c["duration_ms"] >= 0 for c in calls)
    assert [(r["operation"], r["attempt"], r["status"], r["delay_s"]) for r in retries] == [
        ("OR11", 1, 429, 1.0)
    ]


def test_a_network_failure_is_logged_without_status(logs: list[dict[str, Any]]) -> None:
    market = Marketplace(httpx.ConnectError("Connection refused"))
    client, _ = make_client(market)

    with pytest.raises(UpstreamUnavailable):
        client.ship(ORDER_ID)

    (call,) = [entry for entry in logs if entry["event"] == "mirakl_call"]
    assert call["status"] is None and call["error"] == "ConnectError"
    assert call["operation"] == "OR24" and call["method"] == "PUT"
