"""Cost as the log grows, on PostgreSQL: the same reads and commands at 10k, 100k and 1M orders.

    .venv/bin/python bench/scale.py [--sizes 10000,100000,1000000] [--concurrency 8]

The store grows in steps, in one fresh database. Each step adds orders with about five events
each (Imported, Accepted, PaymentValidated, Shipped, Paid), written through the domain and the
application's event store, many orders per save; a few of each step's orders stop at
PaymentValidated (the waiting-for-shipment tab) and --commands of them stay new, for the step's
accept commands. The read models are then caught up (runner catch-up) and the tables analysed,
and with the store at that size:

- command p99: accept, over HTTP (the service as `oms serve` builds it, uvicorn, one process),
  C concurrent clients, on the new orders of that step, each with If-Match and an
  Idempotency-Key;
- list p99: GET /v1/orders?tab=... (new, waiting_shipment, sent in turn), C clients;
- history p50/p99: GET /v1/orders/{id}/events of orders drawn from the whole store, C clients;
- a full rebuild of the order tabs read model (app/projections/rebuild.py), in seconds and per
  1,000 orders (linear growth keeps the second figure flat);
- the database's size (pg_database_size).

The one-minute load average is printed beside each step: the latencies are only comparable
between steps taken on an otherwise idle machine.

Prints one line per step and a table at the end, then the command and list p99 at the largest
size over the smallest (target: within 1.5) and the rebuild's cost per 1,000 orders at the
largest size over the smallest (linear: about 1). Orders are dated within the 48 hours before
the run (each step's new ones within its last minutes), every event at the time it is written,
so no acceptance deadline passes. Exits non-zero, saying why, when a request gets an answer
other than 2xx.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.adapters.db import open_database
from app.bootstrap import open_service
from app.domain.order import Address, Customer, Delivery, NewLine, Order
from app.projections import runners as projection_runners
from app.projections.order_tabs import OrderTabsProjection
from app.projections.rebuild import rebuild
from bench.commands import (
    api_key_headers,
    fresh_database,
    load,
    migrated,
    percentile,
    require_success,
)
from tests.support import free_port

TABS = ("new", "waiting_shipment", "sent")
# Share of each step's orders that stops at PaymentValidated (waiting for shipment).
WAITING_SHARE = 0.05


@dataclass
class Step:
    orders: int
    events: int
    grow_seconds: float
    catch_up_seconds: float
    command_p50: float
    command_p99: float
    list_p50: float
    list_p99: float
    history_p50: float
    history_p99: float
    rebuild_seconds: float
    db_bytes: int
    load: float


def new_order(i: int, created_at: datetime, rng: random.Random) -> Order:
    lines = [
        NewLine(
            line_id=f"L{n}",
            sku=f"SKU-{rng.randrange(10_000):05d}",
            ean=f"360{rng.randrange(10**10):010d}",
            title="Chemise en lin",
            quantity=rng.randint(1, 3),
            unit_price=Decimal(rng.randrange(500, 9000)) / 100,
        )
        for n in range(rng.randint(1, 3))
    ]
    return Order.import_(
        channel=rng.choice(["laredoute", "labrandboutique"]),
        marketplace_order_id=f"LR-SCALE-{i:08d}",
        created_at=created_at,
        customer=Customer(firstname="Camille", lastname=f"Martin{i}", email=f"s{i}@example.fr"),
        shipping_address=Address(street="2 rue", zip_code="59100", city="Roubaix", country="FR"),
        delivery=Delivery.home(),
        shipping_price=Decimal("4.90"),
        lines=lines,
    )


def save(store, orders: list[Order]) -> None:
    if orders:
        store.save(*orders)


def grow(
    store, first: int, count: int, keep_new: int, rng: random.Random, batch: int
) -> tuple[int, list[str], list[str]]:
    """Write `count` orders numbered from `first`, chunk by chunk, each phase one save per chunk.

    The last `keep_new` orders stay new. Returns (events written, ids of the new ones, a sample
    of all ids)."""
    now = datetime.now(UTC)
    new_ids: list[str] = []
    sample: list[str] = []
    written = 0
    fresh_from = first + count - keep_new
    for start in range(first, first + count, batch):
        end = min(start + batch, first + count)
        orders = []
        for i in range(start, end):
            if i >= fresh_from:
                created_at = now - timedelta(seconds=rng.randrange(600))
            else:
                created_at = now - timedelta(minutes=rng.randrange(60 * 48))
            orders.append(new_order(i, created_at, rng))
        store.save(*orders)
        moving = [o for i, o in zip(range(start, end), orders, strict=True) if i < fresh_from]
        new_ids.extend(str(o.id) for i, o in zip(range(start, end), orders, strict=True)
                       if i >= fresh_from)
        sample.extend(str(o.id) for o in rng.sample(orders, min(len(orders), 20)))
        at = datetime.now(UTC)
        for order in moving:
            order.accept(at=at)
        save(store, moving)
        for order in moving:
            order.validate_payment(at=at)
        save(store, moving)
        shipping = [o for o in moving if rng.random() >= WAITING_SHARE]
        for order in shipping:
            order.ship(tracking_number=f"6A{order.marketplace_order_id[-8:]}", carrier="Colissimo",
                       tracking_url=None, at=at)
        save(store, shipping)
        for order in shipping:
            order.mark_paid(at=at)
        save(store, shipping)
        written += len(orders) + 2 * len(moving) + 2 * len(shipping)
    return written, new_ids, sample


@contextmanager
def server(database_url: str, start_timeout: float = 180):
    """The service as bench/server.py builds it; on a busy machine with a large log, a few
    minutes to be ready. Its error output is shown when it does not start."""
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "OMS_LOG_LEVEL": "WARNING",
           "OMS_RATE_LIMIT_PER_MINUTE": "1000000"}
    with tempfile.TemporaryFile() as errors:
        proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--factory", "bench.server:build",
             "--host", "127.0.0.1", "--port", str(port), "--no-access-log", "--log-level", "warning"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=errors,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + start_timeout
            answer = "no answer"
            while True:
                try:
                    response = httpx.get(url + "/readyz", timeout=5)
                    if response.status_code == 200:
                        break
                    answer = f"{response.status_code} {response.text[:300]}"
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline or proc.poll() is not None:
                    errors.seek(0)
                    sys.exit(f"benchmark failed: the service did not start (readyz: {answer})\n"
                             + errors.read().decode(errors="replace")[-2000:])
                time.sleep(0.2)
            yield url
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def timed_rebuild(db, projection, database_url: str, limit: float) -> float:
    """Seconds of a full rebuild of `projection`; infinity when it is stopped after `limit`."""
    def cancel() -> None:
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute("SELECT pg_cancel_backend(pid) FROM pg_stat_activity"
                         " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                         " AND state = 'active'")

    watchdog = threading.Timer(limit, cancel)
    watchdog.start()
    started = time.perf_counter()
    try:
        rebuild(db, projection, batch_size=5000)
    except Exception:
        if time.perf_counter() - started < limit:
            raise
        return float("inf")
    finally:
        watchdog.cancel()
    return time.perf_counter() - started


def run_requests(url: str, requests, concurrency: int, method: str, auth, name: str) -> list[float]:
    _, latencies, statuses = asyncio.run(load(url, requests, concurrency, method=method, auth=auth))
    require_success(name, statuses)
    return latencies


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000,1000000",
                        help="total orders after each step, comma-separated, increasing")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--commands", type=int, default=1000, help="accept commands per step")
    parser.add_argument("--list-requests", type=int, default=2000, help="list requests per step")
    parser.add_argument("--history-requests", type=int, default=1000,
                        help="history reads per step")
    parser.add_argument("--batch", type=int, default=1000, help="orders per save")
    parser.add_argument("--rebuild-limit", type=float, default=1800,
                        help="seconds after which a rebuild is stopped (shown as such)")
    parser.add_argument(
        "--admin-url",
        default=os.environ.get("OMS_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
    )
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    if not sizes or sizes != sorted(set(sizes)) or sizes[0] <= 0:
        parser.error("--sizes must be positive and increasing")

    rng = random.Random(11)
    steps: list[Step] = []
    with fresh_database(args.admin_url) as database_url:
        settings = migrated(database_url)
        auth = api_key_headers(database_url)
        db = open_database(settings)
        service = open_service(settings)
        runners = projection_runners(db, batch_size=5000)
        tabs = OrderTabsProjection(db.dialect)
        sample: list[str] = []
        total = 0
        events = 0  # in the log, the step's accepts included
        print(f"PostgreSQL, steps {sizes}, {args.concurrency} concurrent clients", flush=True)
        for size in sizes:
            count = size - total
            keep_new = min(args.commands, count // 2)
            started = time.perf_counter()
            written, new_ids, step_sample = grow(service.store, total, count, keep_new, rng, args.batch)
            grow_seconds = time.perf_counter() - started
            total = size
            sample.extend(step_sample)
            events += written

            started = time.perf_counter()
            for runner in runners.values():
                runner.catch_up()
            catch_up_seconds = time.perf_counter() - started
            with psycopg.connect(database_url, autocommit=True) as conn:
                conn.execute("ANALYZE")
            print(f"{size:>9} orders: {count} written in {grow_seconds:.0f} s "
                  f"({count / grow_seconds:.0f} orders/s, {events} events in all); "
                  f"read models caught up in {catch_up_seconds:.0f} s", flush=True)

            # As the service's start does (a schema change may have come since the last step).
            migrated(database_url)
            with server(database_url) as url:
                warm = [(f"/v1/orders?tab={TABS[n % 3]}&limit=50", {}, None)
                        for n in range(args.concurrency * 20)]
                run_requests(url, warm, args.concurrency, "GET", auth, "warm-up list")
                accepts = [(f"/v1/orders/{order_id}/accept",
                            {"If-Match": '"1"', "Idempotency-Key": uuid.uuid4().hex}, None)
                           for order_id in new_ids]
                command = run_requests(url, accepts, args.concurrency, "POST", auth, "accept")
                events += len(command)
                lists = [(f"/v1/orders?tab={TABS[n % 3]}&limit=50", {}, None)
                         for n in range(args.list_requests)]
                listed = run_requests(url, lists, args.concurrency, "GET", auth, "GET /v1/orders")
                histories = [(f"/v1/orders/{rng.choice(sample)}/events", {}, None)
                             for _ in range(args.history_requests)]
                history = run_requests(url, histories, args.concurrency, "GET", auth,
                                       "GET /v1/orders/{id}/events")

            load = os.getloadavg()[0]
            print(f"{'':>9}  accept p50/p99 {ms(percentile(command, 0.5))}/{ms(percentile(command, 0.99))}"
                  f" ms ({len(command)}), list p50/p99 {ms(percentile(listed, 0.5))}/"
                  f"{ms(percentile(listed, 0.99))} ms, history p50/p99 {ms(percentile(history, 0.5))}/"
                  f"{ms(percentile(history, 0.99))} ms, load average {load:.1f}", flush=True)

            rebuild_seconds = timed_rebuild(db, tabs, database_url, args.rebuild_limit)
            with psycopg.connect(database_url, autocommit=True) as conn:
                db_bytes = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
            step = Step(
                orders=size, events=events, grow_seconds=grow_seconds,
                catch_up_seconds=catch_up_seconds,
                command_p50=percentile(command, 0.5), command_p99=percentile(command, 0.99),
                list_p50=percentile(listed, 0.5), list_p99=percentile(listed, 0.99),
                history_p50=percentile(history, 0.5), history_p99=percentile(history, 0.99),
                rebuild_seconds=rebuild_seconds, db_bytes=db_bytes, load=load,
            )
            steps.append(step)
            shown = (f"{rebuild_seconds:.1f} s" if rebuild_seconds != float("inf")
                     else f"stopped after {args.rebuild_limit:.0f} s")
            print(f"{'':>9}  rebuild {shown}, {db_bytes / 2**20:.0f} MB", flush=True)
        service.close()
        db.close()

    print()
    print(f"{'orders':>9} | {'events':>9} | {'command p99':>11} | {'list p99':>8} | "
          f"{'history p50':>11} | {'rebuild s':>9} | {'rebuild/1k':>10} | {'db MB':>7} | {'load':>5}")
    for s in steps:
        print(f"{s.orders:>9} | {s.events:>9} | {ms(s.command_p99):>8} ms | {ms(s.list_p99):>5} ms | "
              f"{ms(s.history_p50):>8} ms | {s.rebuild_seconds:>9.1f} | "
              f"{s.rebuild_seconds / s.orders * 1000:>8.3f} s | {s.db_bytes / 2**20:>7.0f} | {s.load:>5.1f}")
    first, last = steps[0], steps[-1]
    if len(steps) > 1:
        print(f"command p99 at {last.orders} / at {first.orders}: "
              f"{last.command_p99 / first.command_p99:.2f}  (target <= 1.5)")
        print(f"list p99 at {last.orders} / at {first.orders}: "
              f"{last.list_p99 / first.list_p99:.2f}  (target <= 1.5)")
        per_first = first.rebuild_seconds / first.orders
        per_last = last.rebuild_seconds / last.orders
        print(f"rebuild per order at {last.orders} / at {first.orders}: "
              f"{per_last / per_first:.2f}  (linear: about 1)")
    grown = last.orders - (steps[-2].orders if len(steps) > 1 else 0)
    rate = grown / last.grow_seconds
    caught_up = last.events - (steps[-2].events if len(steps) > 1 else 0)
    catch_up_rate = caught_up / last.catch_up_seconds
    print(f"growth in the last step: {rate:.0f} orders/s, read models caught up at "
          f"{catch_up_rate:.0f} events/s; growing to {last.orders * 10} orders at these rates: "
          f"about {(last.orders * 9 / rate + last.events * 9 / catch_up_rate) / 60:.0f} min")


if __name__ == "__main__":
    main()
