"""Concurrent writers over real HTTP: If-Match lets exactly one of them change the order."""

from __future__ import annotations

import threading
from collections.abc import Callable
from uuid import UUID

import httpx

from tests.support import LiveServer, assert_problem, imported_order, bearer

WRITERS = 8


def _at_once(
    server: LiveServer, send: Callable[[httpx.Client, int], httpx.Response]
) -> list[httpx.Response]:
    """Eight clients, each on its own connection, send their request at the same moment."""
    barrier = threading.Barrier(WRITERS)
    responses: list[httpx.Response | None] = [None] * WRITERS

    def run(writer: int) -> None:
        with httpx.Client(base_url=server.url, timeout=30, headers=server.headers) as http:
            http.get("/healthz")  # connected before the race starts
            barrier.wait()
            responses[writer] = send(http, writer)

    threads = [threading.Thread(target=run, args=(writer,)) for writer in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(response is not None for response in responses)
    return responses  # type: ignore[return-value]


def _history(http: httpx.Client, order_id: str) -> list[str]:
    return [event["type"] for event in http.get(f"/v1/orders/{order_id}/events").json()["events"]]


def test_eight_concurrent_accepts_of_one_version_accept_it_once(app, operator_key: str) -> None:
    """Eight operators accept LR-TUNIC-001 from version 1 at once: one wins, seven get 412."""
    with LiveServer(app, headers=bearer(operator_key)) as server, httpx.Client(base_url=server.url, timeout=30, headers=server.headers) as http:
        order = imported_order(http)
        responses = _at_once(
            server,
            lambda client, _: client.post(
                f"/v1/orders/{order['id']}/accept", headers={"If-Match": '"1"'}
            ),
        )
        history = _history(http, order["id"])
        now = http.get(f"/v1/orders/{order['id']}")

    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200] + [412] * (WRITERS - 1), [r.text for r in responses]
    for response in responses:
        if response.status_code == 412:
            assert_problem(response, 412, "/problems/version-conflict", field="If-Match")
    assert history == ["Imported", "Accepted"]
    assert now.headers["etag"] == '"2"'
    assert now.json()["status"] == "ACCEPTED"


def test_eight_concurrent_shipments_record_only_the_winners_tracking(app, operator_key: str) -> None:
    """Eight parcels are declared for one order at once: one Shipped event, with its number."""
    with LiveServer(app, headers=bearer(operator_key)) as server, httpx.Client(base_url=server.url, timeout=30, headers=server.headers) as http:
        order = imported_order(http)
        accepted = http.post(f"/v1/orders/{order['id']}/accept", headers={"If-Match": '"1"'})
        assert accepted.status_code == 200
        app.state.service.validate_payment(UUID(order["id"]))
        responses = _at_once(
            server,
            lambda client, writer: client.post(
                f"/v1/orders/{order['id']}/ship",
                headers={"If-Match": '"3"'},
                json={"tracking_number": f"6A1234567890{writer}", "carrier": "Colissimo"},
            ),
        )
        events = http.get(f"/v1/orders/{order['id']}/events").json()["events"]
        now = http.get(f"/v1/orders/{order['id']}").json()

    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200] + [412] * (WRITERS - 1), [r.text for r in responses]
    (winner,) = [response.json() for response in responses if response.status_code == 200]
    shipped = [event for event in events if event["type"] == "Shipped"]
    assert len(shipped) == 1
    assert shipped[0]["data"]["tracking_number"] == winner["shipment"]["tracking_number"]
    assert now["shipment"] == winner["shipment"]
    assert now["version"] == 4
