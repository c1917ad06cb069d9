"""The API against its own OpenAPI document, fuzzed by schemathesis with each role's key.

The document is built in process (`app.openapi()`) and the requests go through the ASGI
transport, on SQLite. For each role, schemathesis runs its examples, coverage and fuzzing
phases with a fixed seed and a bounded number of examples per operation. Every answer must be
below 500 and conform to the documented status codes, media types, headers and schemas, and
every error must be an application/problem+json document.

Each role fuzzes a store of its own: an admin may create and revoke keys, which must not
change what another role's run sees.
"""

from __future__ import annotations

import collections
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from schemathesis.engine import events

from app.adapters.db import open_database
from app.adapters.migrations import migrate
from app.api.app import create_app
from app.config import Settings
from tests.support import FakeClock, bearer, make_api_key

ROLES = ("admin", "operator", "auditor", "integrator")
PROBLEM_JSON = "application/problem+json"
SEED = 7081
EXAMPLES_PER_OPERATION = 20

CONFIG: dict[str, Any] = {
    "seed": SEED,
    "workers": 1,
    "generation": {
        "max-examples": EXAMPLES_PER_OPERATION,
        # The same cases on every run: a failure here is reproduced by running it again.
        "deterministic": True,
        "database": "none",
    },
    "phases": {
        "examples": {"enabled": True},
        "coverage": {"enabled": True},
        "fuzzing": {"enabled": True},
        "stateful": {"enabled": False},
    },
    # The run's own key must keep working: revocations aim at a key made for them.
    "operations": [
        {"include-name": "POST /v1/keys/{name}/revoke", "parameters": {"name": "fuzz-revoked"}},
    ],
    "checks": {
        # A command without If-Match is a 428 (precondition required), as documented.
        "missing_required_header": {"expected-statuses": ["400", "401", "403", "428"]},
        # A valid request may still name an order that does not exist, a version that is not
        # the current one, or break a business rule the schema cannot express.
        "positive_data_acceptance": {
            "expected-statuses": ["2xx", "401", "403", "404", "409", "412", "422", "428"],
        },
    },
}


@schemathesis.check
def errors_are_problems(ctx: Any, response: Any, case: Any) -> bool | None:
    """Every error answer is an RFC 9457 problem document."""
    if response.status_code < 400:
        return None
    content_type = response.headers.get("content-type", [""])[0]
    if not content_type.startswith(PROBLEM_JSON):
        raise AssertionError(f"{response.status_code} answered as {content_type!r}")
    problem = response.json()
    if problem.get("status") != response.status_code or not str(
        problem.get("type", "")
    ).startswith("/problems/"):
        raise AssertionError(f"not a problem of this status: {problem}")
    return None


def _without_lifespan(app: Any) -> Any:
    """The app for the transport: the fixture runs its lifespan, not schemathesis (which would
    keep it running until the process ends)."""

    async def asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            raise RuntimeError("the lifespan is run by the test fixture")
        await app(scope, receive, send)

    return asgi


@pytest.fixture(params=ROLES)
def served(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Any, str]]:
    """A running service on a SQLite store of its own, and the key of the role to fuzz as."""
    path = tmp_path / "oms.sqlite3"
    settings = Settings(DATABASE_URL=f"sqlite:///{path}", environment="test",
                        rate_limit_per_minute=1_000_000)
    db = open_database(settings)
    migrate(db, settings.migrations_dir)
    db.close()
    key = make_api_key(settings, request.param, f"fuzz-{request.param}")
    make_api_key(settings, "operator", "fuzz-revoked")
    app = create_app(settings, clock=FakeClock())
    with TestClient(app):
        yield app, key


def _fuzz(app: Any, key: str) -> tuple[list[str], collections.Counter[int]]:
    """Run the phases; the distinct failures found, and the statuses seen."""
    config = schemathesis.Config.from_dict({**CONFIG, "headers": bearer(key)})
    schema = schemathesis.openapi.from_dict(app.openapi(), config=config)
    schema.app = _without_lifespan(app)
    failures: dict[tuple[str, str, str], str] = {}
    statuses: collections.Counter[int] = collections.Counter()
    for event in schemathesis.engine.from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            for interaction in event.recorder.interactions.values():
                if interaction.response is not None:
                    statuses[interaction.response.status_code] += 1
            for checks in event.recorder.checks.values():
                for check in checks:
                    if check.failure_info is None:
                        continue
                    failure = check.failure_info.failure
                    where = (event.recorder.label, check.name, failure.title)
                    failures.setdefault(where, f"{' / '.join(where)}: {failure.message}\n"
                                               f"    {check.failure_info.code_sample}")
        elif isinstance(event, events.NonFatalError):
            failures.setdefault((event.label, "error", ""), f"{event.label}: {event.info}")
        elif isinstance(event, events.FatalError):
            raise event.exception
    return list(failures.values()), statuses


def test_the_api_keeps_its_documented_contract(served: tuple[Any, str]) -> None:
    app, key = served
    failures, statuses = _fuzz(app, key)
    assert sum(statuses.values()) > 0
    assert not failures, "\n".join(failures)
