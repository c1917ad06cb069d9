"""Access control over HTTP: API keys, roles, revocation, rate limits, the actor and correlation
id of each event, key and channel administration, and the request log.

The per-route role matrix is elsewhere; here each rule is checked through one or two routes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime

import pytest
import structlog
from fastapi.testclient import TestClient
from pydantic import SecretStr

from app.adapters.api_keys import ApiKeyStore, digest
from app.adapters.db import open_database
from app.api.app import create_app
from app.config import Settings
from app.logs import configure_logging
from tests.support import (
    FakeClock,
    assert_problem,
    bearer,
    imported_order,
    make_api_key,
    order_payload,
)


@pytest.fixture
def anonymous(app) -> Iterator[TestClient]:
    """A client of the app that sends no key unless told to."""
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def admin_key(settings: Settings) -> str:
    return make_api_key(settings, "admin", "admin-claire")


def _unauthenticated(response) -> dict:
    problem = assert_problem(response, 401, "/problems/unauthenticated", field="Authorization")
    assert response.headers["WWW-Authenticate"] == "Bearer"
    return problem


# ---------------------------------------------------------------- authentication


@pytest.mark.parametrize(
    "authorization",
    [None, "Basic x", "Bearer", "Bearer ", "oms_not-even-a-scheme",
     "Bearer oms_unknownunknownunknownunknownunknownunknown0", "Bearer not-our-format"],
)
def test_a_request_without_a_valid_key_is_answered_401(
    anonymous: TestClient, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization is not None else {}
    for method, path in (("GET", "/v1/orders"), ("POST", "/v1/orders"), ("GET", "/v1/keys"),
                         ("GET", "/v1/events"), ("GET", "/v1/no-such-route")):
        response = anonymous.request(method, path, headers=headers,
                                     json=order_payload() if method == "POST" else None)
        problem = _unauthenticated(response)
        assert problem["instance"] == path


def test_a_revoked_key_is_answered_401(settings: Settings, anonymous: TestClient) -> None:
    key = make_api_key(settings, "operator", "op-leaving")
    assert anonymous.get("/v1/orders", headers=bearer(key)).status_code == 200
    db = open_database(settings)
    try:
        ApiKeyStore(db).revoke("op-leaving")
    finally:
        db.close()
    problem = _unauthenticated(anonymous.get("/v1/orders", headers=bearer(key)))
    assert "revoked" in problem["detail"]


def test_health_checks_answer_without_a_key(anonymous: TestClient) -> None:
    assert anonymous.get("/healthz").status_code == 200
    assert anonymous.get("/readyz").status_code == 200
    # A bad key does not stand in their way either.
    assert anonymous.get("/healthz", headers={"Authorization": "Bearer nope"}).status_code == 200


def test_a_key_revoked_by_an_admin_stops_working_on_the_next_request(
    anonymous: TestClient, admin_key: str, settings: Settings
) -> None:
    key = make_api_key(settings, "operator", "op-bruno")
    assert anonymous.get("/v1/orders", headers=bearer(key)).status_code == 200

    revoked = anonymous.post("/v1/keys/op-bruno/revoke", headers=bearer(admin_key))
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["revoked_at"] is not None

    _unauthenticated(anonymous.get("/v1/orders", headers=bearer(key)))
    # Revoking again is harmless; an unknown name is a 404.
    assert anonymous.post("/v1/keys/op-bruno/revoke", headers=bearer(admin_key)).status_code == 200
    assert_problem(anonymous.post("/v1/keys/nobody/revoke", headers=bearer(admin_key)),
                   404, "/problems/not-found")


def test_a_key_revoked_by_another_process_stops_working_on_the_next_request(
    anonymous: TestClient, settings: Settings
) -> None:
    key = make_api_key(settings, "integrator", "int-erp")
    assert anonymous.get("/v1/events", headers=bearer(key)).status_code == 200
    # Another process: its own connection to the store, its own ApiKeyStore.
    other = open_database(settings)
    try:
        assert ApiKeyStore(other).revoke("int-erp").revoked_at is not None
    finally:
        other.close()
    _unauthenticated(anonymous.get("/v1/events", headers=bearer(key)))


# ---------------------------------------------------------------- authorisation


def test_an_auditor_may_read_but_not_command(
    client: TestClient, anonymous: TestClient, settings: Settings
) -> None:
    order = imported_order(client)
    auditor = bearer(make_api_key(settings, "auditor", "audit-1"))
    assert anonymous.get(f"/v1/orders/{order['id']}", headers=auditor).status_code == 200
    assert anonymous.get(f"/v1/orders/{order['id']}/events", headers=auditor).status_code == 200

    refused = anonymous.post(f"/v1/orders/{order['id']}/accept",
                             headers={**auditor, "If-Match": '"1"'})
    problem = assert_problem(refused, 403, "/problems/forbidden", field="Authorization",
                             rule="orders:write")
    assert "orders:write" in problem["detail"] and "auditor" in problem["detail"]
    # Nothing changed.
    assert client.get(f"/v1/orders/{order['id']}").json()["status"] == "CREATED"
    imported = anonymous.post("/v1/orders", headers=auditor, json=order_payload("LR-OTHER"))
    assert_problem(imported, 403, "/problems/forbidden", rule="orders:write")


def test_an_integrator_may_not_read_an_order_history(
    client: TestClient, anonymous: TestClient, settings: Settings
) -> None:
    order = imported_order(client)
    integrator = bearer(make_api_key(settings, "integrator", "int-1"))
    assert anonymous.get(f"/v1/orders/{order['id']}", headers=integrator).status_code == 200
    problem = assert_problem(anonymous.get(f"/v1/orders/{order['id']}/events", headers=integrator),
                             403, "/problems/forbidden", rule="orders:history")
    assert "orders:history" in problem["detail"]


# ---------------------------------------------------------------- documentation


@pytest.mark.parametrize("environment", ["production", "test"])
def test_outside_development_the_documentation_needs_a_key(
    settings: Settings, environment: str, operator_key: str
) -> None:
    app = create_app(settings.model_copy(update={"environment": environment}))
    with TestClient(app, raise_server_exceptions=False) as anonymous:
        for path in ("/docs", "/openapi.json", "/redoc"):
            _unauthenticated(anonymous.get(path))
        document = anonymous.get("/openapi.json", headers=bearer(operator_key))
        assert document.status_code == 200
        assert "/v1/keys" in document.json()["paths"]
        assert anonymous.get("/docs", headers=bearer(operator_key)).status_code == 200


def test_in_development_the_documentation_is_open(settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"environment": "development"}))
    with TestClient(app, raise_server_exceptions=False) as anonymous:
        assert anonymous.get("/docs").status_code == 200
        document = anonymous.get("/openapi.json")
        assert document.status_code == 200
        assert document.json()["info"]["title"] == "La Redoute order service"
        # Only the documentation: the API itself still needs a key.
        _unauthenticated(anonymous.get("/v1/orders"))


# ---------------------------------------------------------------- key administration


def test_an_admin_creates_a_key_shown_once_that_works_for_its_role(
    anonymous: TestClient, admin_key: str, settings: Settings
) -> None:
    admin = bearer(admin_key)
    created = anonymous.post("/v1/keys", headers=admin,
                             json={"name": "int-warehouse", "role": "integrator"})
    assert created.status_code == 201, created.text
    assert created.headers["Cache-Control"] == "no-store"
    body = created.json()
    key = body["key"]
    assert key.startswith("oms_") and len(key) >= 40
    assert (body["name"], body["role"], body["prefix"]) == ("int-warehouse", "integrator", key[:8])
    assert body["last_used_at"] is None and body["revoked_at"] is None

    # It works, for what its role allows and nothing more.
    assert anonymous.get("/v1/events", headers=bearer(key)).status_code == 200
    assert_problem(anonymous.get("/v1/keys", headers=bearer(key)), 403, "/problems/forbidden",
                   rule="keys:manage")

    # Shown once: the list and the store keep no trace of the key itself.
    listed = anonymous.get("/v1/keys", headers=admin)
    assert listed.status_code == 200
    assert key not in listed.text and key[8:] not in listed.text
    assert digest(key) not in listed.text and digest(admin_key) not in listed.text
    assert admin_key not in listed.text
    items = {k["name"]: k for k in listed.json()["items"]}
    assert set(items) == {"admin-claire", "int-warehouse"}
    assert all(set(k) == {"name", "role", "prefix", "created_at", "last_used_at", "revoked_at"}
               for k in items.values())
    db = open_database(settings)
    try:
        stored = db.execute("SELECT * FROM api_keys")
    finally:
        db.close()
    assert key not in repr(stored) and digest(key) in repr(stored)


def test_last_used_at_is_set_once_a_key_is_used(
    anonymous: TestClient, admin_key: str, settings: Settings
) -> None:
    key = make_api_key(settings, "auditor", "audit-lea")

    def listed() -> dict:
        items = anonymous.get("/v1/keys", headers=bearer(admin_key)).json()["items"]
        return next(k for k in items if k["name"] == "audit-lea")

    assert listed()["last_used_at"] is None
    assert anonymous.get("/v1/orders", headers=bearer(key)).status_code == 200
    used = listed()["last_used_at"]
    assert used is not None
    # The app's clock (the fixture's FakeClock) is the time of use.
    assert datetime.fromisoformat(used) == FakeClock().now


def test_a_duplicate_key_name_is_a_conflict(anonymous: TestClient, admin_key: str) -> None:
    admin = bearer(admin_key)
    first = anonymous.post("/v1/keys", headers=admin, json={"name": "op-x", "role": "operator"})
    assert first.status_code == 201
    again = anonymous.post("/v1/keys", headers=admin, json={"name": "op-x", "role": "auditor"})
    problem = assert_problem(again, 409, "/problems/conflict", field="name", rule="unique")
    assert "key" not in problem
    # The first key keeps its role.
    items = anonymous.get("/v1/keys", headers=admin).json()["items"]
    assert [k["role"] for k in items if k["name"] == "op-x"] == ["operator"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "op-y", "role": "superuser"}, "role"),
        ({"name": "op-y"}, "role"),
        ({"name": "op y", "role": "operator"}, "name"),
        ({"name": "", "role": "operator"}, "name"),
        ({"name": "-leading-dash", "role": "operator"}, "name"),
        ({"name": "x" * 65, "role": "operator"}, "name"),
        ({"role": "operator"}, "name"),
        ({"name": "op-y", "role": "operator", "key": "oms_chosen"}, "key"),
    ],
)
def test_an_invalid_key_request_is_a_422_naming_the_field(
    anonymous: TestClient, admin_key: str, body: dict, field: str
) -> None:
    response = anonymous.post("/v1/keys", headers=bearer(admin_key), json=body)
    assert_problem(response, 422, "/problems/invalid-request", field=field)
    items = anonymous.get("/v1/keys", headers=bearer(admin_key)).json()["items"]
    assert [k["name"] for k in items] == ["admin-claire"]


def test_only_an_admin_manages_keys(anonymous: TestClient, operator_key: str) -> None:
    op = bearer(operator_key)
    assert_problem(anonymous.get("/v1/keys", headers=op), 403, "/problems/forbidden",
                   rule="keys:manage")
    assert_problem(anonymous.post("/v1/keys", headers=op, json={"name": "mine", "role": "admin"}),
                   403, "/problems/forbidden", rule="keys:manage")
    assert_problem(anonymous.post("/v1/keys/test-operator/revoke", headers=op), 403,
                   "/problems/forbidden", rule="keys:manage")
    assert anonymous.get("/v1/orders", headers=op).status_code == 200


# ---------------------------------------------------------------- actor and correlation id


def test_events_name_the_key_and_the_request_that_caused_them(
    anonymous: TestClient, settings: Settings
) -> None:
    amelie = bearer(make_api_key(settings, "operator", "op-amelie"))
    created = anonymous.post("/v1/orders", headers={**amelie, "X-Request-ID": "abc-123"},
                             json=order_payload())
    assert created.status_code == 201, created.text
    assert created.headers["X-Request-ID"] == "abc-123"
    order_id = created.json()["id"]

    # Without X-Request-ID the service makes one, and it is the correlation id.
    refused = anonymous.post(f"/v1/orders/{order_id}/refuse",
                             headers={**amelie, "If-Match": '"1"'},
                             json={"reason": "out of stock"})
    assert refused.status_code == 200, refused.text
    generated = refused.headers["X-Request-ID"]
    assert generated and generated != "abc-123"

    history = anonymous.get(f"/v1/orders/{order_id}/events", headers=amelie)
    assert history.status_code == 200, history.text
    events = history.json()["events"]
    assert [(e["version"], e["actor"], e["correlation_id"]) for e in events] == [
        (1, {"name": "op-amelie", "role": "operator"}, "abc-123"),
        (2, {"name": "op-amelie", "role": "operator"}, generated),
    ]
    # The envelope is not repeated in the event's data.
    assert all("actor" not in e["data"] and "correlation_id" not in e["data"] for e in events)


def test_the_event_stream_lists_events_in_log_order_with_actor_and_paging(
    client: TestClient, anonymous: TestClient, settings: Settings
) -> None:
    first = imported_order(client, "LR-A")
    second = client.post("/v1/orders", headers={"X-Request-ID": "import-b"},
                         json=order_payload("LR-B")).json()
    accepted = client.post(f"/v1/orders/{first['id']}/accept",
                           headers={"If-Match": '"1"', "X-Request-ID": "accept-a"})
    assert accepted.status_code == 200, accepted.text

    integrator = bearer(make_api_key(settings, "integrator", "int-stream"))
    page = anonymous.get("/v1/events", headers=integrator)
    assert page.status_code == 200, page.text
    body = page.json()
    items = body["items"]
    assert [(i["order_id"], i["version"], i["type"]) for i in items] == [
        (first["id"], 1, items[0]["type"]),
        (second["id"], 1, items[1]["type"]),
        (first["id"], 2, items[2]["type"]),
    ]
    positions = [i["position"] for i in items]
    assert positions == sorted(positions) and len(set(positions)) == 3
    assert body["next_after"] == positions[-1]
    operator = {"name": "test-operator", "role": "operator"}
    assert all(i["actor"] == operator for i in items)
    assert [i["correlation_id"] for i in items][1:] == ["import-b", "accept-a"]
    assert items[0]["correlation_id"]  # a generated request id
    assert all("actor" not in i["data"] and "correlation_id" not in i["data"] for i in items)
    # The same events, with the same actor and correlation id, as the order's history.
    history = client.get(f"/v1/orders/{first['id']}/events").json()["events"]
    assert [(e["type"], e["actor"], e["correlation_id"]) for e in history] == [
        (i["type"], i["actor"], i["correlation_id"]) for i in items if i["order_id"] == first["id"]
    ]

    # Paging: two, then the rest, then nothing (next_after stays put).
    head = anonymous.get("/v1/events", headers=integrator, params={"limit": 2}).json()
    assert [i["position"] for i in head["items"]] == positions[:2]
    assert head["next_after"] == positions[1]
    rest = anonymous.get("/v1/events", headers=integrator,
                         params={"after": head["next_after"]}).json()
    assert [i["position"] for i in rest["items"]] == positions[2:]
    end = anonymous.get("/v1/events", headers=integrator,
                        params={"after": rest["next_after"]}).json()
    assert end == {"items": [], "next_after": rest["next_after"]}

    assert_problem(anonymous.get("/v1/events", headers=integrator, params={"after": -1}),
                   422, "/problems/invalid-request", field="after")
    # Operators work orders; they do not follow the stream.
    assert_problem(client.get("/v1/events"), 403, "/problems/forbidden", rule="events:read")


# ---------------------------------------------------------------- rate limit


def test_past_its_rate_a_key_gets_429_and_other_keys_do_not(settings: Settings) -> None:
    limited = settings.model_copy(update={"rate_limit_per_minute": 5})
    busy = bearer(make_api_key(settings, "operator", "op-busy"))
    calm = bearer(make_api_key(settings, "operator", "op-calm"))
    with TestClient(create_app(limited), raise_server_exceptions=False) as client:
        for _ in range(5):
            assert client.get("/v1/orders", headers=busy).status_code == 200
        sixth = client.get("/v1/orders", headers=busy)
        problem = assert_problem(sixth, 429, "/problems/rate-limited")
        retry_after = sixth.headers["Retry-After"]
        assert retry_after.isdigit() and 1 <= int(retry_after) <= 60
        assert "op-busy" in problem["detail"]
        # Still limited; the health checks are not counted nor limited.
        assert client.get("/v1/orders", headers=busy).status_code == 429
        assert client.get("/healthz").status_code == 200

        assert client.get("/v1/orders", headers=calm).status_code == 200
        # An unknown key is a 401, not a 429, whatever the traffic.
        _unauthenticated(client.get("/v1/orders", headers=bearer("oms_unknown")))


# ---------------------------------------------------------------- channel settings


def test_an_admin_sets_auto_accept_and_sync_status_reports_it(
    settings: Settings, admin_key: str, operator_key: str
) -> None:
    # La Redoute configured (auto-accept off in configuration); the jobs do not run here.
    configured = settings.model_copy(update={
        "laredoute_base_url": "http://127.0.0.1:9", "laredoute_api_key": SecretStr("x-key"),
        "laredoute_shop_id": 2001, "sync_mode": "off",
    })
    admin = bearer(admin_key)
    with TestClient(create_app(configured), raise_server_exceptions=False) as client:
        before = {c["channel"]: c for c in client.get("/v1/channels", headers=admin).json()}
        assert before == {
            "laredoute": {"channel": "laredoute", "configured": True, "auto_accept": False},
            "labrandboutique": {"channel": "labrandboutique", "configured": False,
                                "auto_accept": False},
        }

        put = client.put("/v1/channels/laredoute", headers=admin, json={"auto_accept": True})
        assert put.status_code == 200, put.text
        assert put.json() == {"channel": "laredoute", "configured": True, "auto_accept": True}

        channels = {c["channel"]: c for c in client.get("/v1/channels", headers=admin).json()}
        assert (channels["laredoute"]["auto_accept"],
                channels["labrandboutique"]["auto_accept"]) == (True, False)
        status = client.get("/v1/sync/status", headers=admin)
        assert status.status_code == 200, status.text
        reported = {c["channel"]: c["auto_accept"] for c in status.json()["channels"]}
        assert reported == {"laredoute": True, "labrandboutique": False}

        # An operator sees the status but may not change the settings.
        op = bearer(operator_key)
        assert client.get("/v1/sync/status", headers=op).status_code == 200
        assert_problem(client.put("/v1/channels/laredoute", headers=op,
                                  json={"auto_accept": False}),
                       403, "/problems/forbidden", rule="channels:manage")
        assert_problem(client.get("/v1/channels", headers=op), 403, "/problems/forbidden",
                       rule="channels:manage")

        assert client.put("/v1/channels/laredoute", headers=admin,
                          json={"auto_accept": False}).status_code == 200

    # The admin's "off" wins over a configuration that says "on", in both reports.
    switched_on = configured.model_copy(update={"laredoute_auto_accept": True})
    with TestClient(create_app(switched_on), raise_server_exceptions=False) as client:
        channels = {c["channel"]: c for c in client.get("/v1/channels", headers=admin).json()}
        assert channels["laredoute"]["auto_accept"] is False
        reported = {c["channel"]: c["auto_accept"]
                    for c in client.get("/v1/sync/status", headers=admin).json()["channels"]}
        assert reported == {"laredoute": False, "labrandboutique": False}

        assert_problem(client.put("/v1/channels/amazon", headers=admin,
                                  json={"auto_accept": True}),
                       422, "/problems/invalid-request", field="channel")
        assert_problem(client.put("/v1/channels/laredoute", headers=admin,
                                  json={"auto_accept": "yes"}),
                       422, "/problems/invalid-request", field="auto_accept")


# ---------------------------------------------------------------- request log


def test_each_request_is_logged_with_its_id_and_key_name(
    client: TestClient, anonymous: TestClient, operator_key: str
) -> None:
    configure_logging("DEBUG", "json")
    try:
        with structlog.testing.capture_logs(
                processors=[structlog.contextvars.merge_contextvars]) as logs:
            ok = client.get("/v1/orders", headers={"X-Request-ID": "req-log-1"})
            denied = anonymous.get("/v1/orders", headers={"X-Request-ID": "req-log-2"})
    finally:
        configure_logging("WARNING", "console")
    assert ok.status_code == 200 and denied.status_code == 401
    handled = {e["request_id"]: e for e in logs if e["event"] == "request_handled"}
    entry = handled["req-log-1"]
    assert entry["key_name"] == "test-operator" and entry["role"] == "operator"
    assert (entry["method"], entry["path"], entry["status"]) == ("GET", "/v1/orders", 200)
    assert isinstance(entry["duration_ms"], float | int) and entry["duration_ms"] >= 0
    assert entry["log_level"] == "info"
    refused = handled["req-log-2"]
    assert (refused["path"], refused["status"]) == ("/v1/orders", 401)
    assert "key_name" not in refused
    # No log entry carries the key itself.
    assert operator_key not in json.dumps(logs, default=str)
