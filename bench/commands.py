"""Command throughput and latency over HTTP on PostgreSQL, against a plain-INSERT baseline.

    .venv/bin/python bench/commands.py [--orders 10000] [--concurrency 8]
                                       [--workers 2] [--separate-worker]

1. Imports N orders through the application layer in batches (prints orders/s).
2. Starts the service (`bench/server.py`, uvicorn, one process) on a fresh database and sends
   each order's accept, then its ship, through HTTP with C concurrent clients, each command
   with If-Match and an Idempotency-Key (the payment validation between the two is the
   marketplace's, done through the application layer and not timed).
3. In the same run and server, sends as many requests to the baseline route that does one
   plain INSERT into the same database.
Prints commands/s and p50/p99 latency for both, and their ratio. With `--workers N` the service
runs as N uvicorn processes on one port (as `oms serve --workers N`); with `--separate-worker`
the projections run in an `oms worker` process of their own instead of in the API processes. The orders are created half
an hour before the run, so that every accept is within its 72 hours. Exits non-zero, saying
why, when an order is not imported or a request gets an answer other than 2xx.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.adapters.api_keys import ApiKeyStore
from app.adapters.db import open_database
from app.adapters.migrations import migrate
from app.bootstrap import open_service
from app.config import Settings
from tests.support import free_port, order_fields


@contextmanager
def fresh_database(admin_url: str):
    name = f"oms_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin_url.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def migrated(database_url: str) -> Settings:
    """Settings of a benchmark database, its schema applied."""
    settings = Settings(DATABASE_URL=database_url, log_level="WARNING")
    db = open_database(settings)
    migrate(db, settings.migrations_dir)
    db.close()
    return settings


@contextmanager
def server(database_url: str, workers: int = 1, separate_worker: bool = False):
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "OMS_LOG_LEVEL": "INFO",
           "OMS_RATE_LIMIT_PER_MINUTE": "1000000", "OMS_SYNC_MODE": "off"}
    worker = None
    if separate_worker:
        env["OMS_RUN_PROJECTIONS"] = "false"
        worker = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "worker"], cwd=ROOT,
            env={**env, "OMS_RUN_PROJECTIONS": "true", "OMS_LOG_LEVEL": "WARNING"},
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "bench.server:build",
         "--host", "127.0.0.1", "--port", str(port), "--no-access-log", "--log-level", "warning",
         "--workers", str(workers)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("the benchmark server did not start")
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if worker is not None:
            worker.terminate()
            worker.wait(timeout=10)


def api_key_headers(database_url: str) -> dict[str, str]:
    """An operator key in the benchmark's database, as request headers."""
    db = open_database(Settings(DATABASE_URL=database_url))
    try:
        _, key = ApiKeyStore(db).create(f"bench-{uuid.uuid4().hex[:8]}", "operator")
    finally:
        db.close()
    return {"Authorization": f"Bearer {key}"}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def load(
    url: str,
    requests: list[tuple[str, dict[str, str], dict[str, Any] | None]],
    concurrency: int,
    method: str = "POST",
    auth: dict[str, str] | None = None,
) -> tuple[float, list[float], dict[int, int]]:
    """Send the requests with `concurrency` clients; returns (seconds, latencies, statuses)."""
    queue: asyncio.Queue = asyncio.Queue()
    for item in requests:
        queue.put_nowait(item)
    latencies: list[float] = []
    statuses: dict[int, int] = {}

    async def worker() -> None:
        async with httpx.AsyncClient(base_url=url, timeout=30, headers=auth or {}) as client:
            while True:
                try:
                    path, headers, body = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                started = time.perf_counter()
                response = await client.request(method, path, headers=headers, json=body)
                latencies.append(time.perf_counter() - started)
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started, latencies, statuses


def require_success(name: str, statuses: dict[int, int]) -> None:
    """Stop the benchmark, non-zero, when any request of `name` got an answer other than 2xx."""
    failed = {status: n for status, n in sorted(statuses.items()) if not 200 <= status < 300}
    if failed:
        sys.exit(f"benchmark failed: {sum(failed.values())} {name} requests were not answered "
                 f"2xx (statuses {failed}); the figures would not mean anything")


def report(name: str, seconds: float, latencies: list[float], statuses: dict[int, int]) -> float:
    rate = len(latencies) / seconds
    print(
        f"{name:<28} {len(latencies):>7} requests  {rate:>8.0f} req/s  "
        f"p50 {percentile(latencies, 0.50) * 1000:6.2f} ms  "
        f"p99 {percentile(latencies, 0.99) * 1000:6.2f} ms  statuses {statuses}"
    )
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--batch", type=int, default=100, help="orders per import batch")
    parser.add_argument("--workers", type=int, default=1, help="API processes (uvicorn --workers)")
    parser.add_argument("--separate-worker", action="store_true",
                        help="projections in an `oms worker` process, not in the API processes")
    parser.add_argument(
        "--admin-url",
        default=os.environ.get("OMS_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
    )
    args = parser.parse_args()

    with fresh_database(args.admin_url) as database_url:
        settings = migrated(database_url)
        service = open_service(settings)

        now = datetime.now(UTC)
        batches = [
            [order_fields(f"LR-BENCH-{i:06d}", now=now)
             for i in range(start, min(start + args.batch, args.orders))]
            for start in range(0, args.orders, args.batch)
        ]
        started = time.perf_counter()
        for batch in batches:
            service.import_orders(batch)
        import_seconds = time.perf_counter() - started
        found = [service.find_order("laredoute", f"LR-BENCH-{i:06d}") for i in range(args.orders)]
        missing = sum(order is None for order in found)
        if missing:
            sys.exit(f"benchmark failed: {missing} of {args.orders} orders were not imported")
        ids = [str(order.id) for order in found if order is not None]
        print(f"PostgreSQL, {args.orders} orders, {args.concurrency} concurrent clients, "
              f"{args.workers} API process(es), projections "
              f"{'in an oms worker' if args.separate_worker else 'in the API'}")
        print(f"{'batch import (application)':<28} {args.orders:>7} orders    "
              f"{args.orders / import_seconds:>8.0f} orders/s")

        def command(path_of: Callable[[str], str], version: int, body: dict | None):
            return [
                (path_of(order_id), {"If-Match": f'"{version}"', "Idempotency-Key": uuid.uuid4().hex}, body)
                for order_id in ids
            ]

        auth = api_key_headers(database_url)
        with server(database_url, args.workers, args.separate_worker) as url:
            baseline_requests = [
                ("/bench/insert", {}, {"order_ref": order_id, "action": "accept"}) for order_id in ids
            ] + [("/bench/insert", {}, {"order_ref": order_id, "action": "ship"}) for order_id in ids]
            _, _, warm_up = asyncio.run(
                load(url, baseline_requests[: args.concurrency * 50], args.concurrency, auth=auth)
            )
            require_success("warm-up baseline", warm_up)

            accept = command(lambda o: f"/v1/orders/{o}/accept", 1, None)
            s1, l1, st1 = asyncio.run(load(url, accept, args.concurrency, auth=auth))
            require_success("accept", st1)
            for order_id in ids:
                service.validate_payment(uuid.UUID(order_id))
            ship = command(
                lambda o: f"/v1/orders/{o}/ship", 3, {"tracking_number": "6A1234567890", "carrier": "Colissimo"}
            )
            s2, l2, st2 = asyncio.run(load(url, ship, args.concurrency, auth=auth))
            require_success("ship", st2)
            statuses = {k: st1.get(k, 0) + st2.get(k, 0) for k in {*st1, *st2}}
            ours = report("commands (accept + ship)", s1 + s2, l1 + l2, statuses)
            bs, bl, bst = asyncio.run(load(url, baseline_requests, args.concurrency, auth=auth))
            require_success("baseline", bst)
            base = report("baseline (one INSERT)", bs, bl, bst)
        service.close()
        print(f"throughput ratio commands/baseline: {ours / base:.2f}  (target >= 0.6)")
        print(f"commands p99: {percentile(l1 + l2, 0.99) * 1000:.2f} ms  (target < 40 ms)")
        print(f"p50 commands/baseline: "
              f"{percentile(l1 + l2, 0.50) / percentile(bl, 0.50):.2f}  (target <= 2 at 1 client)")
        print(f"batch import: {args.orders / import_seconds:.0f} orders/s")


if __name__ == "__main__":
    main()
