"""From a stock-out to the marketplace: how long until the OF01 import reaches the sandbox.

    .venv/bin/python bench/stockout.py [--stockouts 20] [--store postgres|sqlite]

The service runs as `oms serve` with the sync embedded (projections and jobs in the same
process), over HTTP on loopback, against the sandbox marketplace that processes an offer
import half a second after it arrives. Offers are created through the API and sent in a
first feed; once every one is live, each stock-out in turn sets one offer to quantity 0
(PUT with its ETag) and times until the sandbox has received a new offer import (its control
API lists every OF01 received). The next stock-out waits for the previous import to be live,
so each figure is the stock-out's own path: read model, wake-up of the feed job, OF01.

Prints p50 and max; exits non-zero when a stock-out never reaches the sandbox (90 s).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from pydantic import SecretStr

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.adapters.db import open_database
from app.adapters.migrations import migrate
from app.api.app import create_app
from app.config import Settings
from app.logs import configure_logging
from bench.commands import api_key_headers, free_port, fresh_database, percentile
from sandbox.app import create_sandbox_app
from sandbox.config import SandboxConfig, Timings

SHOP = 2001
CHANNEL = "laredoute"
ARRIVAL_TIMEOUT = 90.0


def ean13(n: int) -> str:
    body = f"360{n:09d}"
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body))
    return body + str((10 - total % 10) % 10)


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """An ASGI app served by uvicorn on a loopback port, in a thread; its URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None,
                                           access_log=False, lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("a server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@contextmanager
def database(store: str, admin_url: str) -> Iterator[str]:
    if store == "postgres":
        with fresh_database(admin_url) as url:
            yield url
        return
    with tempfile.TemporaryDirectory() as folder:
        yield f"sqlite:///{Path(folder) / 'oms.sqlite3'}"


def wait_until(check: Callable[[], bool], timeout: float, interval: float = 0.01) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(interval)
    return False


def run(stockouts: int, database_url: str) -> list[float | None]:
    settings = Settings(DATABASE_URL=database_url, log_level="WARNING",
                        rate_limit_per_minute=1_000_000)
    configure_logging(settings.log_level, settings.log_format)
    db = open_database(settings)
    migrate(db, settings.migrations_dir)
    db.close()
    timings = Timings(payment_delay=None, payment_refusal_rate=0.0, receive_delay=None,
                      close_delay=None, refund_delay=None, demo_orders_per_minute=0.0,
                      offer_import_delay=0.5)
    with serving(create_sandbox_app(SandboxConfig(seed=7, timings=timings))) as sandbox_url:
        synced = settings.model_copy(update={
            "laredoute_base_url": sandbox_url,
            "laredoute_api_key": SecretStr("sandbox-laredoute-key"),
            "laredoute_shop_id": SHOP,
            "sync_mode": "embedded",
            "import_interval": 60.0,
            "action_interval": 60.0,
        })
        headers = api_key_headers(database_url)
        with serving(create_app(synced)) as url, \
                httpx.Client(base_url=url, headers=headers, timeout=30) as ours, \
                httpx.Client(base_url=sandbox_url + "/control", timeout=30) as control:
            return measure(ours, control, stockouts)


def measure(ours: httpx.Client, control: httpx.Client, stockouts: int) -> list[float | None]:
    def imports() -> int:
        response = control.get("/offer-imports", params={"shop_id": SHOP})
        response.raise_for_status()
        return len(response.json()["imports"])

    def offer(sku: str) -> dict[str, Any]:
        response = ours.get(f"/v1/offers/{CHANNEL}/{sku}")
        response.raise_for_status()
        return response.json()

    skus = [f"STOCK-{n:03d}" for n in range(stockouts)]
    for n, sku in enumerate(skus):
        body = {"ean": ean13(n), "price": "19.90", "quantity": 5, "delivery_fee": "4.90"}
        ours.put(f"/v1/offers/{CHANNEL}/{sku}", json=body).raise_for_status()
    def listed_pending() -> int:
        response = ours.get("/v1/offers", params={"sync_state": "pending", "limit": 200})
        response.raise_for_status()
        return len(response.json()["items"])

    if not wait_until(lambda: listed_pending() == len(skus), 30, 0.05):
        raise SystemExit("the offers never reached the read model")
    ours.post(f"/v1/offers/{CHANNEL}/feed").raise_for_status()
    if not wait_until(lambda: all(offer(s)["sync_state"] == "live" for s in skus), 60, 0.2):
        raise SystemExit("the first feed never went live")

    figures: list[float | None] = []
    for n, sku in enumerate(skus):
        before = imports()
        current = offer(sku)
        body = {**current["values"], "quantity": 0}
        body = {k: v for k, v in body.items() if v is not None}
        started = time.monotonic()
        response = ours.put(f"/v1/offers/{CHANNEL}/{sku}", json=body,
                            headers={"If-Match": f'"{current["version"]}"'})
        response.raise_for_status()
        arrived = wait_until(lambda before=before: imports() > before, ARRIVAL_TIMEOUT)
        elapsed = time.monotonic() - started
        figures.append(elapsed if arrived else None)
        shown = f"{elapsed:.3f} s" if arrived else f"never (>{ARRIVAL_TIMEOUT:.0f} s)"
        print(f"stock-out {n + 1:2d}/{len(skus)} {sku}: {shown}", flush=True)
        if arrived and not wait_until(lambda sku=sku: offer(sku)["sync_state"] == "live",
                                      60, 0.05):
            print(f"  {sku}: its import never went live", flush=True)
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stockouts", type=int, default=20)
    parser.add_argument("--store", choices=("postgres", "sqlite"), default="postgres")
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    if not 1 <= args.stockouts <= 200:
        parser.error("--stockouts is from 1 to 200 (one offer each, listed in one page)")
    with database(args.store, args.admin_url) as url:
        figures = run(args.stockouts, url)
    arrived = [f for f in figures if f is not None]
    missing = len(figures) - len(arrived)
    if arrived:
        print(f"stock-out -> OF01 at the sandbox ({args.store}, {len(figures)} stock-outs): "
              f"p50 {percentile(arrived, 0.5):.3f} s, max {max(arrived):.3f} s")
    if missing:
        print(f"FAILED: {missing} stock-out(s) never reached the sandbox")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
