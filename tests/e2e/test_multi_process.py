"""The service as it scales out, on one machine: two API deployments (one of them
`oms serve --workers 2`) and two `oms worker` processes on one PostgreSQL database, with the
sandbox marketplace. Orders are imported by the workers and accepted through both APIs; each
is imported once, each acceptance reaches the marketplace once, and the API keys' rate limit
is one budget across every API process, kept in Redis.

PostgreSQL only: SQLite is served by one process.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from app.adapters.db import open_database
from app.adapters.migrations import migrate
from app.adapters.recorders import EVENTS_TABLE
from app.config import Settings
from tests.e2e.harness import (
    LABRANDBOUTIQUE_KEY,
    LAREDOUTE_KEY,
    eventually,
    sandbox_server,
)
from tests.shared_services import namespace, redis_url
from tests.support import LiveServer, bearer, free_port, make_api_key

ROOT = Path(__file__).resolve().parents[2]
RATE_LIMIT = 100

pytestmark = pytest.mark.postgres


@pytest.fixture
def fresh_database(pg_admin_url: str) -> Iterator[str]:
    """A migrated PostgreSQL database of this test's own, dropped at the end."""
    name = f"oms_multi_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"{pg_admin_url.rsplit('/', 1)[0]}/{name}"
    db = open_database(Settings(DATABASE_URL=url, environment="test"))
    try:
        migrate(db, Settings().migrations_dir)
    finally:
        db.close()
    yield url
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Processes:
    """Child processes of the test, their stderr kept in files, all stopped at the end."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.running: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(self, name: str, args: list[str], env: dict[str, str]) -> None:
        stderr = (self.logs / f"{name}.log").open("wb")
        process = subprocess.Popen([sys.executable, "-m", "app.cli", *args], cwd=ROOT, env=env,
                                   stdout=subprocess.DEVNULL, stderr=stderr)
        stderr.close()
        self.running.append((name, process))

    def check_alive(self) -> None:
        for name, process in self.running:
            assert process.poll() is None, f"{name} exited with {process.returncode}:\n" + self.tail(name)

    def tail(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        for _, process in self.running:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for _, process in self.running:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _env(database_url: str, sandbox_url: str, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "OMS_ENVIRONMENT": "test",
        "OMS_LAREDOUTE_BASE_URL": sandbox_url,
        "OMS_LAREDOUTE_API_KEY": LAREDOUTE_KEY,
        "OMS_LAREDOUTE_SHOP_ID": "2001",
        "OMS_LABRANDBOUTIQUE_BASE_URL": sandbox_url,
        "OMS_LABRANDBOUTIQUE_API_KEY": LABRANDBOUTIQUE_KEY,
        "OMS_LABRANDBOUTIQUE_SHOP_ID": "2002",
        "OMS_MARKETPLACE_TIMEOUT": "5",
        "OMS_LOG_LEVEL": "WARNING",
        **extra,
    }


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _imports_per_order(database_url: str) -> dict[str, int]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            f"SELECT originator_id, COUNT(*) FROM {EVENTS_TABLE}"
            " WHERE originator_version = 1 GROUP BY originator_id"
        ).fetchall()
    return {str(oid): int(n) for oid, n in rows}


def _action_states(database_url: str) -> dict[str, int]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute("SELECT state, COUNT(*) FROM marketplace_actions GROUP BY state")
        return {state: int(n) for state, n in rows}


def _calls(sandbox: LiveServer, operation: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{sandbox.url}/control/calls", params={"operation": operation})
    response.raise_for_status()
    return list(response.json()["calls"])


def test_two_apis_and_two_workers_on_one_database_lose_and_double_nothing(
    fresh_database: str, tmp_path: Path
) -> None:
    settings = Settings(DATABASE_URL=fresh_database, environment="test")
    operator = bearer(make_api_key(settings, "operator", "op-multi"))
    limited = bearer(make_api_key(settings, "operator", "op-limited"))
    processes = Processes(tmp_path)
    with sandbox_server() as sandbox:
        api_env = _env(
            fresh_database, sandbox.url,
            OMS_SYNC_MODE="off", OMS_RUN_PROJECTIONS="false",
            OMS_RATE_LIMIT_PER_MINUTE=str(RATE_LIMIT),
            OMS_RATE_LIMIT_STORAGE=redis_url(), OMS_RATE_LIMIT_NAMESPACE=namespace(),
        )
        worker_env = _env(fresh_database, sandbox.url, OMS_IMPORT_INTERVAL="0.2",
                          OMS_ACTION_INTERVAL="0.2", OMS_PROJECTION_POLL_INTERVAL="0.2",
                          # Two workers on one machine: no metrics port for either.
                          OMS_WORKER_METRICS_PORT="0")
        apis = [f"http://127.0.0.1:{free_port()}", f"http://127.0.0.1:{free_port()}"]
        try:
            processes.start("api-a", ["serve", "--port", apis[0].rsplit(":", 1)[1],
                                      "--workers", "2"], api_env)
            processes.start("api-b", ["serve", "--port", apis[1].rsplit(":", 1)[1]], api_env)
            processes.start("worker-1", ["worker"], worker_env)
            processes.start("worker-2", ["worker"], worker_env)
            for url in apis:
                eventually(lambda url=url: processes.check_alive() or _ready(url),
                           timeout=30, interval=0.1)

            control = httpx.Client(base_url=f"{sandbox.url}/control", timeout=10)
            ordered = control.post("/orders", json={"count": 30, "shop_id": 2001}).json()["orders"]
            other = control.post("/orders", json={"count": 10, "shop_id": 2002}).json()["orders"]
            eventually(lambda: processes.check_alive()
                       or len(_imports_per_order(fresh_database)) == 40, timeout=20, interval=0.1)

            clients = [httpx.Client(base_url=url, headers=operator, timeout=10) for url in apis]

            def new_orders() -> list[dict[str, Any]] | None:
                listed = clients[0].get("/v1/orders", params={
                    "tab": "new", "channel": "laredoute", "limit": 100})
                assert listed.status_code == 200, listed.text
                items = listed.json()["items"]
                return items if len(items) == 30 else None

            new = eventually(new_orders, timeout=15, interval=0.3)
            assert {o["marketplace_order_id"] for o in new} == set(ordered)

            # Fifteen accepts, alternately on each API; each sent again with its idempotency
            # key to the other one, as a client retrying through the balancer would.
            to_accept = sorted(new, key=lambda o: o["marketplace_order_id"])[:15]
            for i, order in enumerate(to_accept):
                first, second = clients[i % 2], clients[(i + 1) % 2]
                headers = {"If-Match": f'"{order["version"]}"',
                           "Idempotency-Key": f"accept-{order['id']}"}
                accepted = first.post(f"/v1/orders/{order['id']}/accept", headers=headers)
                assert accepted.status_code == 200, accepted.text
                assert accepted.json()["status"] == "ACCEPTED"
                again = second.post(f"/v1/orders/{order['id']}/accept", headers=headers)
                assert again.status_code == 200, again.text
                assert again.headers.get("Idempotent-Replayed") == "true"
                assert again.json()["version"] == accepted.json()["version"]

            eventually(lambda: processes.check_alive()
                       or _action_states(fresh_database) == {"confirmed": 15},
                       timeout=20, interval=0.1)
            accepted_mids = {o["marketplace_order_id"] for o in to_accept}
            accepts = _calls(sandbox, "OR21")
            assert sorted(mid for call in accepts for mid in call["order_ids"]) == sorted(
                accepted_mids)
            for mid in accepted_mids:
                assert control.get(f"/orders/{mid}").json()["order_state"] != "WAITING_ACCEPTANCE"
            for mid in set(ordered) - accepted_mids:
                assert control.get(f"/orders/{mid}").json()["order_state"] == "WAITING_ACCEPTANCE"
            # Nothing imported twice, by either worker, in any round since.
            time.sleep(0.5)
            imports = _imports_per_order(fresh_database)
            assert len(imports) == 40 and set(imports.values()) == {1}
            assert len(other) == 10

            # One budget per key across every API process: the limited key's requests,
            # spread over both APIs (three processes), are refused past RATE_LIMIT in all.
            statuses = []
            for i in range(RATE_LIMIT + 10):
                response = httpx.get(f"{apis[i % 2]}/v1/orders/tabs", headers=limited, timeout=10)
                statuses.append(response.status_code)
            assert statuses.count(200) == RATE_LIMIT, statuses
            assert statuses[RATE_LIMIT:] == [429] * 10
            for url in apis:
                refused = httpx.get(f"{url}/v1/orders/tabs", headers=limited, timeout=10)
                assert refused.status_code == 429
                assert refused.headers["content-type"].startswith("application/problem+json")
                assert refused.json()["type"] == "/problems/rate-limited"
                assert 1 <= int(refused.headers["Retry-After"]) <= 60
            # The operator's key has its own budget left.
            assert clients[1].get("/v1/orders/tabs").status_code == 200
            processes.check_alive()
            for client in clients:
                client.close()
            control.close()
        finally:
            processes.stop()
