"""The OpenAPI document describes every route the app serves, errors included."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from tests.support import bearer, make_api_key
from app.adapters.db import open_database
from app.adapters.migrations import migrate
from app.api.app import create_app
from app.config import Settings

try:  # FastAPI 0.160+: included routers are resolved lazily and show as one entry each.
    from fastapi.routing import iter_route_contexts
except ImportError:  # pragma: no cover - older FastAPI lists its APIRoutes directly
    iter_route_contexts = None

PROBLEM_JSON = "application/problem+json"
COMMAND_ERRORS = ("400", "404", "409", "412", "422", "428")


def _documented_routes(app) -> Iterator[tuple[str, str, APIRoute]]:
    """(method, path, route) for every route of the app that belongs in the document."""
    routes: Any = iter_route_contexts(app.routes) if iter_route_contexts else app.routes
    for context in routes:
        route = getattr(context, "original_route", context)
        if not isinstance(route, APIRoute) or not route.include_in_schema:
            continue
        for method in sorted(context.methods - {"HEAD"}):
            # The document's path: {sku}, not the route's {sku:offer_sku}.
            yield method, getattr(context, "path_format", context.path), route


def _is_command(method: str, path: str) -> bool:
    """A command is a POST on one order: it needs If-Match and takes an Idempotency-Key.

    Retrying a marketplace action changes the action's delivery state, not the order: it
    moves only a failed or expired action, so a second call is answered 409.
    """
    return method == "POST" and "{order_id}" in path and "/actions/" not in path


def test_the_action_retry_documents_its_problems(document) -> None:
    operation = document["paths"]["/v1/orders/{order_id}/actions/{action_id}/retry"]["post"]
    for code in ("404", "409", "422"):
        assert PROBLEM_JSON in operation["responses"][code]["content"], code


@pytest.fixture(scope="module")
def service_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """One service for the whole module: the document is the same whatever the store."""
    url = f"sqlite:///{tmp_path_factory.mktemp('openapi') / 'oms.sqlite3'}"
    settings = Settings(DATABASE_URL=url, environment="test")
    db = open_database(settings)
    migrate(db, settings.migrations_dir)
    db.close()
    headers = bearer(make_api_key(settings))
    with TestClient(create_app(settings), raise_server_exceptions=False, headers=headers) as client:
        yield client


@pytest.fixture(scope="module")
def app(service_client: TestClient) -> Any:
    return service_client.app


@pytest.fixture(scope="module")
def document(service_client: TestClient) -> dict[str, Any]:
    """GET /openapi.json, as a client reads it."""
    response = service_client.get("/openapi.json")
    assert response.status_code == 200
    return response.json()


def test_the_app_serves_the_routes_this_suite_knows(app) -> None:
    """A guard for the tests below: they see the routes, so a new one cannot slip past them."""
    seen = {(method, path) for method, path, _ in _documented_routes(app)}
    assert {
        ("POST", "/v1/orders"),
        ("GET", "/v1/orders/{order_id}"),
        ("GET", "/v1/orders/{order_id}/events"),
        ("POST", "/v1/orders/{order_id}/accept"),
        ("POST", "/v1/orders/{order_id}/refuse"),
        ("POST", "/v1/orders/{order_id}/ship"),
        ("POST", "/v1/orders/{order_id}/cancel"),
        ("POST", "/v1/orders/{order_id}/refunds"),
        ("GET", "/healthz"),
        ("GET", "/readyz"),
    } <= seen


def test_every_route_is_in_the_document_with_a_summary(app, document) -> None:
    """Each route appears under its path and method, with a summary of its own and a success."""
    missing = []
    for method, path, route in _documented_routes(app):
        operation = document["paths"].get(path, {}).get(method.lower())
        if operation is None:
            missing.append(f"{method} {path}")
            continue
        # Not the one FastAPI makes up from the function's name.
        assert route.summary, f"{method} {path} has no summary"
        assert operation["summary"] == route.summary
        assert any(code.startswith("2") for code in operation["responses"]), (method, path)
    assert not missing, missing


def test_every_command_documents_its_headers_body_and_problems(app, document) -> None:
    """If-Match, Idempotency-Key, the body, and each error as application/problem+json."""
    commands = [(m, p, r) for m, p, r in _documented_routes(app) if _is_command(m, p)]
    assert len(commands) >= 5
    for method, path, route in commands:
        where = f"{method} {path}"
        operation = document["paths"][path][method.lower()]
        headers = {p["name"] for p in operation.get("parameters", []) if p["in"] == "header"}
        assert {"If-Match", "Idempotency-Key"} <= headers, where
        if route.body_field is not None:
            assert operation["requestBody"]["content"]["application/json"]["schema"], where
        else:
            assert "requestBody" not in operation, where
        for code in COMMAND_ERRORS:
            assert code in operation["responses"], f"{where} does not document {code}"
            assert PROBLEM_JSON in operation["responses"][code].get("content", {}), (where, code)
        success = operation["responses"]["200"]
        assert "ETag" in success.get("headers", {}), where


def test_the_if_match_header_is_described(document) -> None:
    """A reader of the document learns what to put in If-Match."""
    accept = document["paths"]["/v1/orders/{order_id}/accept"]["post"]
    (if_match,) = [p for p in accept["parameters"] if p["name"] == "If-Match"]
    assert "ETag" in if_match["description"]


def test_the_import_documents_201_200_and_422(document) -> None:
    """Created, already imported, and refused with a problem document."""
    operation = document["paths"]["/v1/orders"]["post"]
    responses = operation["responses"]
    assert {"200", "201", "422"} <= set(responses)
    assert "Location" in responses["201"]["headers"]
    assert "ETag" in responses["201"]["headers"]
    assert PROBLEM_JSON in responses["422"]["content"]
    assert operation["requestBody"]["content"]["application/json"]["schema"]


def test_every_route_with_an_order_id_documents_404_and_422(app, document) -> None:
    """Reads and commands alike can name no order, or something that is not an id."""
    for method, path, _ in _documented_routes(app):
        if "{order_id}" not in path:
            continue
        responses = document["paths"][path][method.lower()]["responses"]
        for code in ("404", "422"):
            assert PROBLEM_JSON in responses.get(code, {}).get("content", {}), (method, path, code)


def test_the_problem_schema_names_field_and_rule(document) -> None:
    """Clients can rely on type, status, field and rule being described."""
    problem = document["components"]["schemas"]["Problem"]["properties"]
    assert {"type", "title", "status", "detail", "field", "rule", "errors"} <= set(problem)
