"""Order tabs projection on PostgreSQL: rebuild speed, command-to-visible lag, list latency.

    .venv/bin/python bench/projections.py [--orders 200000]

1. Writes about five events per order through the application layer (orders spread over the
   statuses, about 1,000,000 events for 200,000 orders), in phases as orders move in real
   life; then rebuilds the tabs read model from zero and, in the same run, scans the same
   events table with plain psycopg (rows/s): the rebuild should reach 0.2 of the scan.
2. Serves the API and sends accept commands at 100/s; for each, the time from its response
   to the read model position covering its X-Event-Position (p50/p99).
3. GET /v1/orders?tab=new with 8 concurrent clients over the 200,000-order read model:
   requests/s and p50/p99.
Orders are created in the 70 hours before the run, so the accepts of step 2 are in time. Exits
non-zero, saying why, when a request gets an answer other than 2xx or an accepted order never
shows in the read model.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.adapters.db import open_database  # noqa: E402
from app.bootstrap import open_service  # noqa: E402
from app.domain.order import Address, Customer, Delivery, NewLine, Order  # noqa: E402
from app.projections.order_tabs import OrderTabsProjection  # noqa: E402
from app.projections.rebuild import rebuild  # noqa: E402
from app.projections.runner import ProjectionRunner  # noqa: E402
from bench.commands import (  # noqa: E402
    api_key_headers,
    fresh_database,
    load,
    migrated,
    percentile,
    require_success,
    server,
)

# (share of orders, how far they go)
MIX = [
    (0.20, "created"),
    (0.05, "accepted"),
    (0.10, "toship"),
    (0.20, "paid"),
    (0.40, "refunded"),
    (0.05, "refused"),
]
STEPS = ["accept", "validate", "ship", "pay", "refund", "submit", "approve", "complete"]
DEPTH = {"created": 0, "accepted": 1, "toship": 2, "paid": 4, "refunded": 8}


def new_order(i: int, now: datetime, rng: random.Random) -> Order:
    lines = [
        NewLine(
            line_id=f"L{n}",
            sku=f"SKU-{rng.randrange(10_000):05d}",
            ean=f"360{rng.randrange(10**10):010d}",
            title="Tunique en lin",
            quantity=rng.randint(1, 3),
            unit_price=Decimal(rng.randrange(500, 9000)) / 100,
        )
        for n in range(rng.randint(1, 4))
    ]
    return Order.import_(
        channel=rng.choice(["laredoute", "labrandboutique"]),
        marketplace_order_id=f"LR-BENCH-{i:07d}",
        created_at=now - timedelta(minutes=rng.randrange(60 * 70)),
        customer=Customer(firstname="Amélie", lastname=f"Durand{i}", email=f"c{i}@example.fr"),
        shipping_address=Address(street="1 rue", zip_code="59100", city="Roubaix", country="FR"),
        delivery=Delivery.home(),
        shipping_price=Decimal("4.90"),
        lines=lines,
    )


def advance(order: Order, step: str, at: datetime) -> None:
    if step == "accept":
        order.accept(at=at)
    elif step == "validate":
        order.validate_payment(at=at)
    elif step == "ship":
        order.ship(tracking_number=f"6A{order.marketplace_order_id[-7:]}", carrier="Colissimo", tracking_url=None, at=at)
    elif step == "pay":
        order.mark_paid(at=at)
    elif step == "refund":
        order.request_refund(lines=None, refund_shipping=True, reason="retour client", at=at)
    elif step == "submit":
        order.submit_refund("R1", at=at)
    elif step == "approve":
        order.approve_refund("R1", at=at)
    elif step == "complete":
        order.complete_refund("R1", at=at)


def fill(service, count: int, batch: int = 1000) -> int:
    """Write the orders' events phase by phase; returns the number of events."""
    rng = random.Random(7)
    now = datetime.now(UTC)
    orders, fates = [], []
    for i in range(count):
        r, acc = rng.random(), 0.0
        fate = MIX[-1][1]
        for share, name in MIX:
            acc += share
            if r < acc:
                fate = name
                break
        orders.append(new_order(i, now, rng))
        fates.append(fate)
    for start in range(0, count, batch):
        service.store.save(*orders[start : start + batch])
    for depth, step in enumerate(STEPS, start=1):
        moving = [o for o, f in zip(orders, fates, strict=True) if DEPTH.get(f, 0) >= depth]
        for start in range(0, len(moving), batch):
            chunk = moving[start : start + batch]
            for order in chunk:
                advance(order, step, now)
            service.store.save(*chunk)
    refused = [o for o, f in zip(orders, fates, strict=True) if f == "refused"]
    for start in range(0, len(refused), batch):
        chunk = refused[start : start + batch]
        for order in chunk:
            order.refuse(reason="stock épuisé")
        service.store.save(*chunk)
    return service.store.recorder.max_notification_id()


def plain_scan(url: str, batch: int = 5000) -> tuple[int, float]:
    """Read every row of the events table with psycopg, in keyset batches."""
    rows, last = 0, 0
    started = time.perf_counter()
    with psycopg.connect(url) as conn:
        while True:
            fetched = conn.execute(
                "SELECT notification_id, originator_id, originator_version, topic, state"
                " FROM orders_events WHERE notification_id > %s ORDER BY notification_id LIMIT %s",
                (last, batch),
            ).fetchall()
            if not fetched:
                break
            rows += len(fetched)
            last = fetched[-1][0]
    return rows, time.perf_counter() - started


def lag_run(
    url: str, database_url: str, ids: list[str], rate: float, auth: dict[str, str]
) -> tuple[list[float], dict[int, int]]:
    """Accept orders at `rate` per second; time from each response until the model has it.

    Returns the lags and the count of each status the accepts were answered with."""
    visible_at: dict[int, float] = {}
    pending: list[tuple[int, float]] = []
    lock = threading.Lock()
    done = threading.Event()
    given_up = threading.Event()

    def watch() -> None:
        with psycopg.connect(database_url, autocommit=True) as conn:
            while not given_up.is_set() and (not done.is_set() or pending):
                position = conn.execute(
                    "SELECT position FROM projection_positions WHERE name = 'order_tabs'"
                ).fetchone()[0]
                now = time.perf_counter()
                with lock:
                    for item in [p for p in pending if p[0] <= position]:
                        visible_at[item[0]] = now
                        pending.remove(item)
                time.sleep(0.001)

    watcher = threading.Thread(target=watch)
    watcher.start()
    lags: list[float] = []
    answered: list[tuple[int, float]] = []
    statuses: dict[int, int] = {}
    try:
        with httpx.Client(base_url=url, timeout=10, headers=auth) as client:
            started = time.perf_counter()
            for n, order_id in enumerate(ids):
                target = started + n / rate
                delay = target - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                response = client.post(f"/v1/orders/{order_id}/accept",
                                       headers={"If-Match": '"1"'})
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                if response.status_code != 200:
                    continue
                position = int(response.headers["X-Event-Position"])
                at = time.perf_counter()
                with lock:
                    pending.append((position, at))
                answered.append((position, at))
    finally:
        done.set()
        watcher.join(30)  # how long the read model has to show the last accepts
        given_up.set()
        watcher.join()
    for position, at in answered:
        if position in visible_at:
            lags.append(max(0.0, visible_at[position] - at))
    return lags, statuses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=200_000)
    parser.add_argument("--lag-commands", type=int, default=1000)
    parser.add_argument("--list-requests", type=int, default=4000)
    parser.add_argument(
        "--admin-url",
        default=os.environ.get("OMS_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
    )
    args = parser.parse_args()

    with fresh_database(args.admin_url) as database_url:
        settings = migrated(database_url)
        db = open_database(settings)
        service = open_service(settings)
        started = time.perf_counter()
        events = fill(service, args.orders)
        print(f"PostgreSQL: {args.orders} orders, {events} events written in "
              f"{time.perf_counter() - started:.0f} s")

        projection = OrderTabsProjection(db.dialect)
        runner = ProjectionRunner(db, projection, batch_size=5000)
        started = time.perf_counter()
        runner.catch_up()
        catch_up_seconds = time.perf_counter() - started
        scanned, scan_seconds = plain_scan(database_url)
        started = time.perf_counter()
        rebuild(db, projection, batch_size=5000)
        rebuild_seconds = time.perf_counter() - started
        scan_rate = scanned / scan_seconds
        print(f"{'plain psycopg scan':<34} {scanned:>8} rows    {scan_rate:>9.0f} rows/s")
        print(f"{'catch-up from zero (runner)':<34} {events:>8} events  {events / catch_up_seconds:>9.0f} events/s"
              f"  ratio {events / catch_up_seconds / scan_rate:.2f}")
        print(f"{'rebuild beside the live model':<34} {events:>8} events  {events / rebuild_seconds:>9.0f} events/s"
              f"  ratio {events / rebuild_seconds / scan_rate:.2f}  (target >= 0.2)")
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute("ANALYZE order_tabs")
            total = conn.execute(
                "SELECT count(*) FROM order_tabs WHERE generation ="
                " (SELECT generation FROM projection_positions WHERE name = 'order_tabs')"
            ).fetchone()[0]
            new_tab = conn.execute(
                "SELECT order_id FROM order_tabs WHERE tab = 'new' AND status = 'CREATED' AND generation ="
                " (SELECT generation FROM projection_positions WHERE name = 'order_tabs')"
                " LIMIT %s",
                (args.lag_commands,),
            ).fetchall()
        service.close()
        db.close()

        auth = api_key_headers(database_url)
        with server(database_url) as url:
            lags, statuses = lag_run(url, database_url, [str(r[0]) for r in new_tab], rate=100,
                                     auth=auth)
            require_success("accept", statuses)
            if len(lags) < len(new_tab):
                sys.exit(f"benchmark failed: {len(new_tab) - len(lags)} of {len(new_tab)} accepted "
                         "orders never showed in the read model")
            print(f"{'command-to-visible lag @100/s':<34} {len(lags):>8} commands "
                  f"p50 {percentile(lags, 0.5) * 1000:.1f} ms  p99 {percentile(lags, 0.99) * 1000:.1f} ms"
                  "  (target p99 < 200 ms)")
            requests = [("/v1/orders?tab=new&limit=50", {}, None)] * args.list_requests
            seconds, latencies, statuses = asyncio.run(load(url, requests, 8, method="GET", auth=auth))
            require_success("GET /v1/orders", statuses)
            print(f"{'GET /v1/orders?tab=new':<34} {total:>8} orders  {len(latencies) / seconds:>9.0f} req/s"
                  f"  p50 {percentile(latencies, 0.5) * 1000:.2f} ms  p99 {percentile(latencies, 0.99) * 1000:.2f} ms"
                  f"  statuses {statuses}  (target p99 < 20 ms)")


if __name__ == "__main__":
    main()
