"""The rate limit shared by several API processes through Redis, and `oms serve --workers`."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr, ValidationError
from structlog.testing import capture_logs

from app.api.app import create_app
from app.cli import main
from app.config import Settings
from tests.shared_services import namespace, redis_url
from tests.support import assert_problem, bearer, make_api_key


def _limited(settings: Settings, storage: str, per_minute: int = 5) -> Settings:
    return settings.model_copy(update={
        "rate_limit_per_minute": per_minute,
        "rate_limit_storage": SecretStr(storage),
        "rate_limit_namespace": namespace(),
    })


def test_two_apps_on_one_redis_share_each_keys_budget(settings: Settings) -> None:
    limited = _limited(settings, redis_url())
    busy = bearer(make_api_key(settings, "operator", "op-busy"))
    calm = bearer(make_api_key(settings, "operator", "op-calm"))
    with TestClient(create_app(limited), raise_server_exceptions=False) as first, \
            TestClient(create_app(limited), raise_server_exceptions=False) as second:
        for i in range(5):
            client = first if i % 2 == 0 else second
            assert client.get("/v1/orders", headers=busy).status_code == 200
        # The budget is spent across both: each refuses now, as one process would.
        for client in (first, second):
            refused = client.get("/v1/orders", headers=busy)
            problem = assert_problem(refused, 429, "/problems/rate-limited")
            assert "op-busy" in problem["detail"]
            retry_after = refused.headers["Retry-After"]
            assert retry_after.isdigit() and 1 <= int(retry_after) <= 60
        # Another key has a budget of its own; the health checks are never counted.
        assert second.get("/v1/orders", headers=calm).status_code == 200
        assert first.get("/healthz").status_code == 200


def test_namespaces_keep_deployments_on_one_redis_apart(settings: Settings) -> None:
    url = redis_url()
    key = bearer(make_api_key(settings, "operator", "op-one"))
    one, other = _limited(settings, url, 2), _limited(settings, url, 2)
    with TestClient(create_app(one), raise_server_exceptions=False) as first, \
            TestClient(create_app(other), raise_server_exceptions=False) as second:
        assert [first.get("/v1/orders", headers=key).status_code for _ in range(3)] == [
            200, 200, 429]
        # Same key id, another namespace: its own count.
        assert second.get("/v1/orders", headers=key).status_code == 200


def test_in_memory_counts_are_per_process(settings: Settings) -> None:
    limited = _limited(settings, "memory://", 2)
    key = bearer(make_api_key(settings, "operator", "op-mem"))
    with TestClient(create_app(limited), raise_server_exceptions=False) as first, \
            TestClient(create_app(limited), raise_server_exceptions=False) as second:
        assert [first.get("/v1/orders", headers=key).status_code for _ in range(3)] == [
            200, 200, 429]
        assert second.get("/v1/orders", headers=key).status_code == 200


def test_an_unreachable_redis_lets_requests_through_and_logs_it(settings: Settings) -> None:
    # Nothing listens on port 1: each hit fails at once.
    limited = _limited(settings, "redis://127.0.0.1:1/0", 1)
    key = bearer(make_api_key(settings, "operator", "op-down"))
    with TestClient(create_app(limited), raise_server_exceptions=False) as client, \
            capture_logs() as logs:
        assert [client.get("/v1/orders", headers=key).status_code for _ in range(3)] == [
            200, 200, 200]
    failures = [e for e in logs if e["event"] == "rate_limit_unavailable"]
    assert len(failures) == 3 and failures[0]["error"] == "ConnectionError"


def test_the_storage_must_be_memory_or_redis() -> None:
    with pytest.raises(ValidationError, match="rate_limit_storage"):
        Settings(rate_limit_storage="memcached://127.0.0.1:11211")
    assert Settings(rate_limit_storage="redis://127.0.0.1:6379/0").rate_limit_storage


def test_serve_refuses_several_workers_on_sqlite(
    tmp_path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'oms.sqlite3'}")
    assert main(["serve", "--workers", "2"]) == 2
    assert "needs PostgreSQL" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["serve", "--workers", "0"])
