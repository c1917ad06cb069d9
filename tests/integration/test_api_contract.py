"""What fuzzing the OpenAPI document found, each kept as a plain test on each store.

Integers beyond 64 bits and absurd amounts are 422 problems; a 500 is a problem too, with its
request id, logged once as JSON; 405 answers list every method of the path; the fixed routes
of a channel are never SKUs; the role is checked before the body; the last admin key stays;
and the document says what the server does.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import structlog
from fastapi.testclient import TestClient

from app.adapters.api_keys import ApiKeyStore
from app.adapters.db import open_database
from app.api.deps import get_service
from app.config import Settings
from app.logs import configure_logging
from tests.support import (
    PROBLEM_JSON,
    assert_problem,
    bearer,
    imported_order,
    make_api_key,
    order_payload,
)

INVALID = "/problems/invalid-request"
TOO_BIG = 2**63  # one more than the largest signed 64-bit integer
COMMANDS = [
    ("POST", "/v1/orders/{order_id}/accept"),
    ("POST", "/v1/orders/{order_id}/refuse"),
    ("POST", "/v1/orders/{order_id}/ship"),
    ("POST", "/v1/orders/{order_id}/cancel"),
    ("POST", "/v1/orders/{order_id}/refunds"),
    ("POST", "/v1/offers/{channel}/{sku}/unpublish"),
    ("PUT", "/v1/offers/{channel}/{sku}/promotion"),
    ("DELETE", "/v1/offers/{channel}/{sku}/promotion"),
]
OFFER = {"ean": "4006381333931", "price": "29.99", "quantity": 5, "delivery_fee": "4.90",
         "shipment_delay": 2, "delivery_days_min": 2, "delivery_days_max": 4}


@pytest.fixture
def as_role(app, settings: Settings) -> Iterator[Any]:
    """A client of the app as a new key of the role asked for."""
    with TestClient(app, raise_server_exceptions=False) as anonymous:

        def client_of(role: str) -> TestClient:
            name = f"{role}-{uuid.uuid4().hex[:6]}"
            anonymous.headers.update(bearer(make_api_key(settings, role, name)))
            return anonymous

        yield client_of


# ---------------------------------------------------------------- numbers out of range


def test_a_read_position_beyond_64_bits_is_a_422(client) -> None:
    response = client.get("/v1/orders", params={"min_position": TOO_BIG})
    assert_problem(response, 422, INVALID, field="min_position", rule="less_than_equal")


def test_the_largest_position_is_still_a_position(as_role) -> None:
    auditor = as_role("auditor")
    response = auditor.get("/v1/events", params={"after": TOO_BIG - 1})
    assert response.status_code == 200, response.text
    assert response.json() == {"items": [], "next_after": TOO_BIG - 1}
    assert_problem(auditor.get("/v1/events", params={"after": TOO_BIG}), 422, INVALID,
                   field="after", rule="less_than_equal")


def test_an_action_id_beyond_64_bits_is_a_422(client) -> None:
    order = imported_order(client)
    response = client.post(f"/v1/orders/{order['id']}/actions/{TOO_BIG}/retry")
    assert_problem(response, 422, INVALID, field="action_id", rule="less_than_equal")
    negative = client.post(f"/v1/orders/{order['id']}/actions/-1/retry")
    assert_problem(negative, 422, INVALID, field="action_id", rule="greater_than_equal")


@pytest.mark.parametrize("price", ["1e26", 1e26, "99999999999999999999999999999", "-1e30"])
def test_an_absurd_offer_amount_is_a_422_naming_the_field(client, price: Any) -> None:
    response = client.put("/v1/offers/laredoute/TUNIC-38", json={**OFFER, "price": price})
    assert_problem(response, 422, INVALID, field="price", rule="amount_range")
    assert client.get("/v1/offers/laredoute/TUNIC-38").status_code == 404
    crossed = client.put("/v1/offers/laredoute/TUNIC-38", json={**OFFER, "crossed_price": price})
    assert_problem(crossed, 422, INVALID, field="crossed_price", rule="amount_range")


def test_the_largest_amount_is_still_an_amount(client) -> None:
    response = client.put("/v1/offers/laredoute/TUNIC-38", json={**OFFER, "price": "999999999.99",
                                                                "crossed_price": "999999999.99"})
    assert response.status_code == 201, response.text
    assert response.json()["values"]["price"] == "999999999.99"


def _bulk(client, content: str | bytes, content_type: str):
    data = content.encode() if isinstance(content, str) else content
    return client.post("/v1/offers/laredoute/bulk", content=data,
                       headers={"Content-Type": content_type})


_SCARF = {**OFFER, "ean": "5901234123457", "price": "15.00"}
_COLUMNS = list(OFFER)


def _csv(*rows: dict[str, Any]) -> str:
    lines = [";".join(["sku", *_COLUMNS])]
    lines += [";".join(str(row.get(c, "")) for c in ["sku", *_COLUMNS]) for row in rows]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("content, content_type", [
    (_csv({"sku": "TUNIC-38", **OFFER, "price": "1e26"}, {"sku": "SCARF", **_SCARF}), "text/csv"),
    (json.dumps([{"sku": "TUNIC-38", **OFFER, "price": 1e26}, {"sku": "SCARF", **_SCARF}]),
     "application/json"),
])
def test_an_absurd_amount_in_a_source_rejects_that_row_not_the_file(
    client, content: str, content_type: str
) -> None:
    """The other rows are imported; the row is refused with its line, field and rule."""
    response = _bulk(client, content, content_type)
    assert response.status_code == 200, response.text
    result = response.json()
    assert (result["rows"], result["created"], result["invalid"]) == (2, 1, 0)
    (rejected,) = result["rejected"]
    assert (rejected["line"], rejected["sku"], rejected["field"], rejected["rule"]) == (
        1, "TUNIC-38", "price", "amount_range")
    assert "at most" in rejected["message"]
    assert client.get("/v1/offers/laredoute/TUNIC-38").status_code == 404
    assert client.get("/v1/offers/laredoute/SCARF").json()["values"]["price"] == "15.00"


@pytest.mark.parametrize("quantity", [10**30, "1000000000000000000000", -(10**12)])
def test_an_absurd_quantity_is_refused_too(client, quantity: Any) -> None:
    response = client.put("/v1/offers/laredoute/TUNIC-38", json={**OFFER, "quantity": quantity})
    problem = response.json()
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert problem["field"] == "quantity", problem
    assert client.get("/v1/offers/laredoute/TUNIC-38").status_code == 404
    bulk = _bulk(client, _csv({"sku": "TUNIC-38", **OFFER, "quantity": str(quantity)}),
                 "text/csv").json()
    assert [(r["field"], r["rule"]) for r in bulk["rejected"]] == [("quantity", "count_range")]


# ---------------------------------------------------------------- a 500


class _Broken:
    def get_order(self, order_id: Any) -> Any:
        raise RuntimeError("the store lost its marbles")


@pytest.fixture
def broken_reads(app) -> Iterator[None]:
    app.dependency_overrides[get_service] = _Broken
    yield
    app.dependency_overrides.pop(get_service, None)


def test_a_500_is_a_problem_with_the_request_id(client, broken_reads: None) -> None:
    response = client.get(f"/v1/orders/{uuid.uuid4()}", headers={"X-Request-ID": "req-500"})
    problem = assert_problem(response, 500, "/problems/internal-error")
    assert response.headers["x-request-id"] == "req-500"
    assert "marbles" not in response.text  # internals stay in the log
    assert problem["instance"].startswith("/v1/orders/")
    unnamed = client.get(f"/v1/orders/{uuid.uuid4()}")
    assert unnamed.status_code == 500 and len(unnamed.headers["x-request-id"]) == 32


def test_a_500_is_logged_once_as_json_with_a_structured_traceback(
    client, broken_reads: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("INFO", "json")
    try:
        capsys.readouterr()
        client.get(f"/v1/orders/{uuid.uuid4()}", headers={"X-Request-ID": "req-500-log"})
        written = capsys.readouterr().err
    finally:
        configure_logging("WARNING", "console")
    lines = [json.loads(line) for line in written.splitlines() if line.strip()]
    mine = [e for e in lines if e.get("request_id") == "req-500-log"]
    assert [e["event"] for e in mine] == ["request_handled"]
    (entry,) = mine
    assert (entry["status"], entry["level"], entry["error"]) == (500, "error", "RuntimeError")
    assert entry["key_name"] == "test-operator"
    (trace,) = entry["traceback"]
    assert trace["exc_type"] == "RuntimeError"
    assert trace["frames"] and all({"filename", "lineno", "name"} <= set(f)
                                   for f in trace["frames"])
    assert "Traceback (most recent call last)" not in written


def test_every_answer_is_logged_once(client) -> None:
    configure_logging("DEBUG", "json")
    try:
        with structlog.testing.capture_logs(
                processors=[structlog.contextvars.merge_contextvars]) as logs:
            client.get("/v1/orders", headers={"X-Request-ID": "req-once"})
            client.options("/v1/orders", headers={"X-Request-ID": "req-once-405"})
    finally:
        configure_logging("WARNING", "console")
    handled = [e for e in logs if e["event"] == "request_handled"]
    assert [(e["request_id"], e["status"]) for e in handled] == [
        ("req-once", 200), ("req-once-405", 405)]


# ---------------------------------------------------------------- 405 and the fixed routes


@pytest.mark.parametrize("method, path, allow", [
    ("OPTIONS", "/v1/orders", "GET, POST"),
    ("DELETE", "/v1/orders", "GET, POST"),
    ("PATCH", "/v1/keys", "GET, POST"),
    ("POST", "/v1/offers/laredoute/TUNIC-38", "GET, PUT"),
    ("GET", "/v1/offers/laredoute/TUNIC-38/promotion", "DELETE, PUT"),
    ("GET", "/v1/offers/laredoute/bulk", "POST"),
    ("PUT", "/v1/offers/laredoute/bulk", "POST"),
    ("GET", "/v1/offers/laredoute/feed", "POST"),
    ("GET", "/v1/offers/laredoute/operations", "POST"),
    ("GET", "/v1/offers/laredoute/bulk/events", None),
])
def test_a_405_allows_every_method_of_the_path(client, method: str, path: str,
                                               allow: str | None) -> None:
    response = client.request(method, path)
    if allow is None:  # a fixed route's name is no SKU, below it either
        assert_problem(response, 404, "/problems/not-found")
        return
    assert_problem(response, 405, "/problems/method-not-allowed")
    assert response.headers["allow"] == allow


def test_a_sku_that_only_starts_like_a_fixed_route_is_a_sku(client) -> None:
    assert client.put("/v1/offers/laredoute/bulky", json=OFFER).status_code == 201
    assert client.get("/v1/offers/laredoute/bulky").json()["sku"] == "bulky"
    assert_problem(client.get("/v1/offers/laredoute/feeds"), 404, "/problems/offer-not-found")


# ---------------------------------------------------------------- the role before the body


@pytest.mark.parametrize("body", [b"{", b'{"channel": "amazon"}', b"[]",
                                  '{"city": "Orléans"}'.encode("latin-1")])
def test_the_role_is_checked_before_the_body(as_role, body: bytes) -> None:
    integrator = as_role("integrator")
    response = integrator.post("/v1/orders", content=body,
                               headers={"Content-Type": "application/json"})
    assert_problem(response, 403, "/problems/forbidden", field="Authorization",
                   rule="orders:write")


def test_the_role_is_checked_before_headers_and_path(as_role) -> None:
    auditor = as_role("auditor")
    command = auditor.post("/v1/orders/not-a-uuid/accept", headers={"If-Match": "nonsense"})
    assert_problem(command, 403, "/problems/forbidden")
    offer = auditor.put("/v1/offers/laredoute/TUNIC-38", content=b"{",
                        headers={"Content-Type": "application/json"})
    assert_problem(offer, 403, "/problems/forbidden")
    key = auditor.post("/v1/keys", json={"name": ""})
    assert_problem(key, 403, "/problems/forbidden")


def test_a_writer_still_gets_the_body_problem(client) -> None:
    response = client.post("/v1/orders", content=b"{", headers={"Content-Type": "application/json"})
    assert_problem(response, 422, INVALID, field="body", rule="json_invalid")


# ---------------------------------------------------------------- the last admin key


def test_the_last_admin_key_is_not_revoked(as_role, settings: Settings) -> None:
    make_api_key(settings, "operator", "an-operator")
    admin = as_role("admin")
    (me,) = [k["name"] for k in admin.get("/v1/keys").json()["items"] if k["role"] == "admin"]
    response = admin.post(f"/v1/keys/{me}/revoke")
    problem = assert_problem(response, 409, "/problems/conflict", field="name", rule="last_admin")
    assert me in problem["detail"]
    assert admin.get("/v1/keys").status_code == 200  # still works

    second = admin.post("/v1/keys", json={"name": "admin-two", "role": "admin"})
    assert second.status_code == 201
    assert admin.post(f"/v1/keys/{me}/revoke").json()["revoked_at"] is not None
    other = TestClient(admin.app, raise_server_exceptions=False,
                       headers=bearer(second.json()["key"]))
    assert_problem(other.post("/v1/keys/admin-two/revoke"), 409, "/problems/conflict",
                   rule="last_admin")
    assert other.post(f"/v1/keys/{me}/revoke").status_code == 200  # again: harmless
    assert other.post("/v1/keys/an-operator/revoke").status_code == 200


def test_the_command_line_may_still_revoke_the_last_admin_key(settings: Settings) -> None:
    """`oms keys revoke` is the way back in: it is not refused."""
    make_api_key(settings, "admin", "only-admin")
    db = open_database(settings)
    try:
        revoked = ApiKeyStore(db).revoke("only-admin")
    finally:
        db.close()
    assert revoked is not None and revoked.revoked_at is not None


# ---------------------------------------------------------------- the document


@pytest.fixture
def document(app) -> dict[str, Any]:
    return app.openapi()


def _operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            yield method.upper(), path, operation


def test_every_error_is_documented_as_a_problem(document) -> None:
    wrong = []
    for method, path, operation in _operations(document):
        for status, response in operation["responses"].items():
            if status[0] not in "45" or path == "/readyz":
                continue
            content = response.get("content", {})
            if content != {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}:
                wrong.append(f"{method} {path} {status}: {content}")
    assert wrong == []
    assert not {"HTTPValidationError", "ValidationError"} & set(document["components"]["schemas"])


def test_if_match_is_documented_required_with_its_format(document) -> None:
    for method, path in COMMANDS:
        operation = document["paths"][path][method.lower()]
        (if_match,) = [p for p in operation["parameters"] if p["name"] == "If-Match"]
        assert if_match["required"] is True, (method, path)
        assert if_match["schema"]["pattern"], (method, path)
        assert {"412", "428", "400"} <= set(operation["responses"]), (method, path)
    put = document["paths"]["/v1/offers/{channel}/{sku}"]["put"]
    (optional,) = [p for p in put["parameters"] if p["name"] == "If-Match"]
    assert optional["required"] is False and optional["schema"]["type"] == "string"
    assert "pattern" in optional["schema"]


@pytest.mark.parametrize("if_match, status", [(None, 428), ("three", 400), ('"3"', 404),
                                              ("*", 404)])
def test_if_match_behaves_as_documented(client, if_match: str | None, status: int) -> None:
    headers = {"If-Match": if_match} if if_match is not None else {}
    response = client.post(f"/v1/orders/{uuid.uuid4()}/accept", headers=headers)
    assert response.status_code == status, response.text


def test_the_idempotency_key_format_and_reuse_rule_are_documented(document) -> None:
    operation = document["paths"]["/v1/orders/{order_id}/refuse"]["post"]
    (key,) = [p for p in operation["parameters"] if p["name"] == "Idempotency-Key"]
    assert key["required"] is False
    assert key["schema"] == {"type": "string", "pattern": r"^[\x21-\x7e]{1,255}$",
                             "description": key["description"], "title": "Idempotency-Key"}
    assert "422" in key["description"] and "idempotency-key-reused" in key["description"]


def test_the_bulk_upload_documents_its_two_bodies(document) -> None:
    body = document["paths"]["/v1/offers/{channel}/bulk"]["post"]["requestBody"]
    assert body["required"] is True
    assert set(body["content"]) == {"text/csv", "application/json"}
    assert body["content"]["application/json"]["schema"]["type"] == "array"


def test_no_parameter_is_documented_as_null(document) -> None:
    nullable = [f"{method} {path} {p['name']}" for method, path, operation in _operations(document)
                for p in operation.get("parameters", []) if "anyOf" in p["schema"]]
    assert nullable == []


def test_every_route_but_the_probes_needs_the_bearer_key(document) -> None:
    scheme = document["components"]["securitySchemes"]["bearer"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    for method, path, operation in _operations(document):
        if path in ("/healthz", "/readyz"):
            assert "security" not in operation, path
        else:
            assert operation.get("security") == [{"bearer": []}], (method, path)


@pytest.mark.parametrize("value", ["1700000000", "1700000000.5", "0"])
def test_a_date_filter_is_a_date_time_never_a_number(client, value: str) -> None:
    response = client.get("/v1/orders", params={"created_from": value})
    assert_problem(response, 422, INVALID, field="created_from", rule="datetime_format")


def test_an_order_date_is_a_date_time_never_a_number(client, document) -> None:
    response = client.post("/v1/orders", json=order_payload(created_at=1_764_145_800))
    assert_problem(response, 422, INVALID, field="created_at", rule="datetime_format")
    parameters = document["paths"]["/v1/orders"]["get"]["parameters"]
    (created_from,) = [p for p in parameters if p["name"] == "created_from"]
    assert created_from["schema"] == {"type": "string", "format": "date-time",
                                      "title": "Created From"}
