"""Where a command's time goes: N accepts and N ships through the whole HTTP app, profiled.

    .venv/bin/python bench/profile_command.py [--orders 300] [--flat] [--html out.html]

Imports N orders on a fresh PostgreSQL database, then sends each order's accept, its payment
validation (through the application layer, not profiled), and its ship, with If-Match and an
Idempotency-Key, to the app built by `create_app` (auth, rate limit, logs, projections running
in their threads) through httpx's ASGI transport, one request at a time, under pyinstrument.

The work FastAPI, Starlette and the auth middleware hand to the thread pool is run inline on
the event loop's thread here, so that the profile holds the whole request; the projection
runners stay on their own threads and are not in the profile (what a save does to wake them is).
Prints the call tree (or, with --flat, the functions by their own time), and the commands/s
of the profiled run (slower than unprofiled).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio.to_thread
import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.api.app import create_app
from app.bootstrap import open_service
from app.logs import configure_logging
from bench.commands import api_key_headers, fresh_database, migrated
from tests.support import order_fields


async def _inline(func: Any, *args: Any, **_: Any) -> Any:
    """`anyio.to_thread.run_sync`, on the calling thread: the profile sees the route's work."""
    return func(*args)


async def send_commands(app: Any, ids: list[str], auth: dict[str, str], service: Any,
                        profiler: Any) -> tuple[int, float]:
    """Each order's accept, payment validation and ship; the HTTP commands under the profiler.
    Returns (commands sent, their seconds)."""
    transport = httpx.ASGITransport(app=app)
    client = httpx.AsyncClient(transport=transport, base_url="http://bench", headers=auth)
    elapsed = 0.0

    async def command(path: str, version: int, body: dict | None) -> None:
        nonlocal elapsed
        started = time.perf_counter()
        profiler.start()
        response = await client.post(path, json=body, headers={
            "If-Match": f'"{version}"', "Idempotency-Key": uuid.uuid4().hex})
        profiler.stop()
        elapsed += time.perf_counter() - started
        if response.status_code >= 300:
            sys.exit(f"{path}: {response.status_code} {response.text}")

    async with client, app.router.lifespan_context(app):
        for order_id in ids:
            await command(f"/v1/orders/{order_id}/accept", 1, None)
            service.validate_payment(uuid.UUID(order_id))
            await command(f"/v1/orders/{order_id}/ship", 3,
                          {"tracking_number": "6A1234567890", "carrier": "Colissimo"})
    return 2 * len(ids), elapsed


def main() -> None:
    from pyinstrument import Profiler
    from pyinstrument.renderers import ConsoleRenderer

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=300)
    parser.add_argument("--flat", action="store_true", help="functions by their own time")
    parser.add_argument("--html", help="also write pyinstrument's HTML profile here")
    parser.add_argument("--all", action="store_true", help="show library frames too")
    parser.add_argument(
        "--admin-url",
        default=os.environ.get("OMS_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
    )
    args = parser.parse_args()

    anyio.to_thread.run_sync = _inline  # type: ignore[assignment]
    with fresh_database(args.admin_url) as database_url:
        settings = migrated(database_url).model_copy(
            update={"rate_limit_per_minute": 1_000_000, "log_level": "WARNING"})
        configure_logging(settings.log_level, settings.log_format)
        service = open_service(settings)
        now = datetime.now(UTC)
        service.import_orders(
            [order_fields(f"LR-PROF-{i:06d}", now=now) for i in range(args.orders)])
        ids = [str(service.find_order("laredoute", f"LR-PROF-{i:06d}").id)  # type: ignore[union-attr]
               for i in range(args.orders)]
        auth = api_key_headers(database_url)
        app = create_app(settings)
        profiler = Profiler(interval=0.0005, async_mode="disabled")
        sent, elapsed = asyncio.run(send_commands(app, ids, auth, service, profiler))
        service.close()
    print(ConsoleRenderer(unicode=True, color=False, flat=args.flat, show_all=args.all,
                          short_mode=False).render(profiler.last_session))
    if args.html:
        Path(args.html).write_text(profiler.output_html())
    print(f"{sent} commands in {elapsed:.2f} s profiled: {sent / elapsed:.0f} commands/s, "
          f"{elapsed / sent * 1000:.2f} ms each")


if __name__ == "__main__":
    main()
