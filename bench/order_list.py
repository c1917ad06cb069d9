"""The order list (GET /v1/orders) on PostgreSQL over a large order tabs read model.

    .venv/bin/python bench/order_list.py [--orders 200000] [--clients 8] [--workers 1]

1. Fills the order tabs read model with N orders in one set-based INSERT (no events: this
   measures the reads, and `bench/projections.py` measures how the model is built), spread
   over the statuses as a seller's history is: most orders sent or refunded, a few thousand
   to accept or to ship. Then ANALYZE.
2. Starts the service in its own process(es), `uvicorn --workers W`, pinned to CPU 0 with
   `taskset`; this load generator pins itself to CPU 1 (PostgreSQL is not pinned). On a
   machine with one CPU nothing is pinned.
3. For each common list query (each tab newest first, the New tab by acceptance deadline,
   Waiting for shipment by ship-by time, a second page through the cursor, a search), sends
   R requests with C concurrent clients after a warm-up; prints requests/s, p50/p99 and the
   server's CPU time per request (user + system, its workers included): on a busy machine the
   latencies include waiting for a CPU, the CPU time does not.
Exits non-zero, saying why, when a request gets an answer other than 2xx or a query returns
no order although the data holds some.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import httpx
import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.commands import (
    api_key_headers,
    fresh_database,
    load,
    migrated,
    percentile,
    require_success,
)
from tests.support import free_port

# Status of order n by its share of the history (n % 1000), tab as the projection maps it.
_FILL = """
INSERT INTO order_tabs (generation, order_id, channel, marketplace_order_id, status, tab,
    customer_name, search, goods_total_cents, shipping_price_cents, order_total_cents,
    refunded_cents, line_count, created_at, acceptance_deadline, shipped_at, carrier,
    tracking_number, tracking_url, last_event_at, version, position, ship_by,
    has_customer_message, has_incident, can_cancel, can_refund)
SELECT 1, md5('order' || n)::uuid, CASE WHEN n %% 3 = 0 THEN 'labrandboutique' ELSE 'laredoute' END,
    'LR-BENCH-' || lpad(n::text, 7, '0'), s.status, s.tab, 'Amélie Durand' || n,
    lower('LR-BENCH-' || lpad(n::text, 7, '0') || ' amélie durand' || n || ' sku-'
          || lpad((n * 7919 %% 10000)::text, 5, '0') || ' 360' || lpad((n * 104729 %% 10000000000)::text, 10, '0')),
    2590 + n %% 5000, 490, 3080 + n %% 5000, CASE WHEN s.status = 'REFUNDED' THEN 3080 ELSE 0 END,
    1 + n %% 4, c.created_at, c.created_at + interval '72 hours',
    CASE WHEN s.tab = 'sent' THEN c.created_at + interval '30 hours' END,
    CASE WHEN s.tab = 'sent' THEN 'Colissimo' END,
    CASE WHEN s.tab = 'sent' THEN '6A' || lpad(n::text, 10, '0') END, NULL,
    c.created_at + interval '1 hour', 3, n,
    CASE WHEN s.tab = 'waiting_shipment' AND n %% 10 <> 0 THEN c.created_at + interval '96 hours' END,
    n %% 50 = 0, n %% 200 = 0, s.tab = 'new', s.tab = 'sent'
FROM generate_series(1::bigint, %(orders)s) AS n,
LATERAL (SELECT now() - (interval '1 minute' * ((%(orders)s - n) * 3)) AS created_at) AS c,
LATERAL (SELECT * FROM (VALUES
    (CASE WHEN n %% 1000 < 10 THEN 'CREATED' WHEN n %% 1000 < 15 THEN 'ACCEPTED'
          WHEN n %% 1000 < 40 THEN 'TOSHIP' WHEN n %% 1000 < 500 THEN 'PAID'
          WHEN n %% 1000 < 950 THEN 'REFUNDED' ELSE 'REFUSED' END)) AS v(status),
    LATERAL (SELECT CASE WHEN v.status IN ('CREATED', 'ACCEPTED') THEN 'new'
                         WHEN v.status = 'TOSHIP' THEN 'waiting_shipment'
                         WHEN v.status = 'REFUSED' THEN 'canceled' ELSE 'sent' END AS tab) AS t
) AS s
"""

QUERIES = [
    ("new, newest", "/v1/orders?tab=new&limit=50"),
    ("new, by deadline", "/v1/orders?tab=new&sort=deadline&limit=50"),
    ("waiting_shipment, newest", "/v1/orders?tab=waiting_shipment&limit=50"),
    ("waiting_shipment, by ship_by", "/v1/orders?tab=waiting_shipment&sort=ship_by&limit=50"),
    ("sent, newest", "/v1/orders?tab=sent&limit=50"),
    ("sent, newest, page 2", None),  # the cursor of the first page, found at run time
    ("canceled, newest", "/v1/orders?tab=canceled&limit=50"),
    ("all, newest", "/v1/orders?limit=50"),
    ("search by customer name", "/v1/orders?q=durand{middle}&limit=50"),
    ("sent, search q=sku-0042", "/v1/orders?tab=sent&q=sku-0042&limit=50"),
]


def fill(database_url: str, orders: int) -> dict[str, int]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO projection_positions (name, generation, position) VALUES ('order_tabs', 1, 0)"
            " ON CONFLICT (name) DO UPDATE SET generation = 1, position = 0"
        )
        conn.execute(_FILL, {"orders": orders})
        conn.execute("VACUUM ANALYZE order_tabs")
        return dict(conn.execute("SELECT tab, count(*) FROM order_tabs GROUP BY tab").fetchall())


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of a process and its children still running (uvicorn's workers)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # After the name: state, ppid, ..., utime and stime are the 12th and 13th.
        if entry.name == str(pid) or fields[1] == str(pid):
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


@contextmanager
def pinned_server(database_url: str, workers: int, cpu: str | None):
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "OMS_LOG_LEVEL": "WARNING",
           "OMS_RATE_LIMIT_PER_MINUTE": "1000000"}
    command = [sys.executable, "-m", "uvicorn", "--factory", "bench.server:build",
               "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
               "--no-access-log", "--log-level", "warning"]
    if cpu is not None:
        command = ["taskset", "-c", cpu, *command]
    with tempfile.TemporaryFile() as errors:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                stderr=errors)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline or proc.poll() is not None:
                    errors.seek(0)
                    tail = errors.read().decode(errors="replace")[-2000:]
                    raise RuntimeError(f"the benchmark server did not start:\n{tail}")
                time.sleep(0.1)
            yield url, proc.pid
        finally:
            proc.terminate()
            proc.wait(timeout=20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=200_000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=2000, help="per query")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument(
        "--admin-url",
        default=os.environ.get("OMS_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
    )
    args = parser.parse_args()
    cpus = sorted(os.sched_getaffinity(0))
    server_cpu = str(cpus[0]) if len(cpus) > 1 else None
    if server_cpu is not None:
        os.sched_setaffinity(0, set(cpus[1:]))

    with fresh_database(args.admin_url) as database_url:
        migrated(database_url)
        started = time.perf_counter()
        tabs = fill(database_url, args.orders)
        print(f"PostgreSQL: {args.orders} orders in the read model ({tabs}) in "
              f"{time.perf_counter() - started:.0f} s")
        print(f"server: uvicorn --workers {args.workers} on CPU {server_cpu or 'any'}; "
              f"load generator on CPU {','.join(map(str, cpus[1:])) or 'any'}; "
              f"{args.clients} clients, {args.requests} requests per query")
        auth = api_key_headers(database_url)
        with pinned_server(database_url, args.workers, server_cpu) as (url, pid):
            with httpx.Client(base_url=url, headers=auth) as client:
                first = client.get("/v1/orders?tab=sent&limit=50").json()
                cursor = first["next_cursor"]
            failed = False
            for name, path in QUERIES:
                path = (path or "/v1/orders?tab=sent&limit=50&cursor={cursor}").format(
                    cursor=cursor, middle=args.orders // 2 + 1)
                warm = [(path, {}, None)] * (args.clients * 20)
                asyncio.run(load(url, warm, args.clients, method="GET", auth=auth))
                requests = [(path, {}, None)] * args.requests
                cpu_before = cpu_seconds(pid)
                seconds, latencies, statuses = asyncio.run(
                    load(url, requests, args.clients, method="GET", auth=auth)
                )
                cpu_ms = (cpu_seconds(pid) - cpu_before) / len(latencies) * 1000
                require_success(name, statuses)
                with httpx.Client(base_url=url, headers=auth) as client:
                    if not client.get(path).json()["items"]:
                        print(f"  {name}: no order returned")
                        failed = True
                p99 = percentile(latencies, 0.99) * 1000
                print(f"{name:<32} {len(latencies) / seconds:>7.0f} req/s  "
                      f"p50 {percentile(latencies, 0.5) * 1000:6.2f} ms  p99 {p99:6.2f} ms  "
                      f"server CPU {cpu_ms:5.2f} ms/request")
            print("(target p99 < 20 ms at 8 clients)")
            if failed:
                sys.exit("benchmark failed: a query returned no order")


if __name__ == "__main__":
    main()
