"""Offer sources of 100,000 offers on PostgreSQL: first load, a 10% delta and its feed file.

    .venv/bin/python bench/offers.py [--offers 100000] [--changed 0.10]

Each phase runs in a process of its own, so that its peak memory (maximum resident set
size) is its own:
1. baseline: parse the source CSV with the csv module, nothing else;
2. first load: read the source (the same parser as the API and `oms offers import`),
   validate every offer and store it as events (full mode), then bring the offers read
   model up to date (timed apart), and record every offer as sent and live, as after a feed;
3. delta: a second source where 10% of the offers changed (price, stock or delivery fee):
   apply it, bring the read model up to date, and build the OF01 file of the offers to send.
Target: phase 3 under 10 s and 300 MB. Exits non-zero, saying why, when a phase fails or an
offer of the sources is refused, missed or left out of the file.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

COLUMNS = ["PartnerProductReference", "ProductIdentifier", "PartnerProductParent",
           "SellingPriceAmount", "PrixBarre", "quantity", "DeliveryFee", "ShipmentDelay",
           "DeliveryDaysRangeMin", "DeliveryDaysRangeMax", "SellingPriceWEEEFee"]


def ean13(n: int) -> str:
    body = f"360{n:09d}"
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body))
    return body + str((10 - total % 10) % 10)


def write_sources(folder: Path, offers: int, changed: float, seed: int = 3) -> tuple[Path, Path, int]:
    rng = random.Random(seed)
    rows = []
    for n in range(offers):
        price = rng.randint(500, 20000) / 100
        rows.append({
            "PartnerProductReference": f"SKU-{n:07d}", "ProductIdentifier": ean13(n),
            "PartnerProductParent": "", "SellingPriceAmount": f"{price:.2f}",
            "PrixBarre": f"{price * rng.choice([1, 1, 1.2, 1.5]):.2f}",
            "quantity": str(rng.randint(0, 50)), "DeliveryFee": rng.choice(["0.00", "4.90", "6.90"]),
            "ShipmentDelay": str(rng.randint(1, 5)), "DeliveryDaysRangeMin": "2",
            "DeliveryDaysRangeMax": "5", "SellingPriceWEEEFee": rng.choice(["", "", "0.50"]),
        })
    first = folder / "offers-1.csv"
    _write(first, rows)
    touched = rng.sample(range(offers), int(offers * changed))
    for n in touched:
        row = rows[n]
        kind = rng.choice(["price", "stock", "delivery"])
        if kind == "price":
            price = float(row["SellingPriceAmount"]) + 1
            row["SellingPriceAmount"] = f"{price:.2f}"
            row["PrixBarre"] = f"{max(price, float(row['PrixBarre'])):.2f}"
        elif kind == "stock":
            row["quantity"] = str(int(row["quantity"]) + 1)
        else:
            row["DeliveryFee"] = "3.90" if row["DeliveryFee"] != "3.90" else "5.90"
    second = folder / "offers-2.csv"
    _write(second, rows)
    return first, second, len(touched)


def _write(path: Path, rows: list[dict[str, str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=COLUMNS, delimiter=";")
        writer.writeheader()
        writer.writerows(rows)


# ---------------------------------------------------------------- phases (child processes)


def phase_write(folder: Path, offers: str, changed: str) -> dict[str, float]:
    _, _, touched = write_sources(folder, int(offers), float(changed))
    return {"touched": touched}


def phase_baseline(path: Path) -> dict[str, float]:
    started = time.perf_counter()
    with path.open(encoding="utf-8") as source:
        count = sum(1 for _ in csv.DictReader(source, delimiter=";"))
    return {"seconds": time.perf_counter() - started, "rows": count}


def _open(database_url: str):
    from app.adapters.db import open_database
    from app.bootstrap import open_service
    from app.config import Settings

    settings = Settings(DATABASE_URL=database_url, log_level="WARNING")
    return open_database(settings), open_service(settings)


def _catch_up(db, service) -> float:
    from app.projections.offers import OffersProjection
    from app.projections.runner import ProjectionRunner

    started = time.perf_counter()
    ProjectionRunner(db, OffersProjection(db.dialect), batch_size=2000).catch_up()
    return time.perf_counter() - started


def phase_first_load(path: Path, database_url: str) -> dict[str, float]:
    from app.adapters.offer_source import read_source
    from app.bootstrap import offer_service

    db, service = _open(database_url)
    started = time.perf_counter()
    rows = read_source(path.read_bytes(), "text/csv")
    result = offer_service(service.store, db).upsert_many("laredoute", rows, full=True)
    seconds = time.perf_counter() - started
    projection = _catch_up(db, service)
    # As after a feed: every offer sent at its version and live on the marketplace.
    with db.transaction() as tx:
        tx.execute(
            "INSERT INTO offer_sync (channel, sku, sent_version, import_id, state, updated_at)"
            " SELECT channel, sku, version, 'bench-1', 'live', 0 FROM offer_list"
        )
    service.close()
    db.close()
    return {"seconds": seconds, "projection_seconds": projection, "created": result.created,
            "invalid": result.invalid}


def phase_delta(path: Path, database_url: str) -> dict[str, float]:
    from app.adapters.laredoute.offer_files import (
        DEFAULT_FIELD_MAP,
        build_offer_file,
        offer_columns,
    )
    from app.adapters.offer_source import read_source
    from app.bootstrap import offer_service
    from app.projections.offers import OfferQueries

    db, service = _open(database_url)
    started = time.perf_counter()
    rows = read_source(path.read_bytes(), "text/csv")
    result = offer_service(service.store, db).upsert_many("laredoute", rows, full=True)
    applied = time.perf_counter() - started
    _catch_up(db, service)
    caught_up = time.perf_counter() - started
    queries, pending, after = OfferQueries(db), [], None
    while True:
        page = queries.list(channel="laredoute", sync="pending", has_errors=False, after=after,
                            limit=5000)
        pending.extend(page)
        if len(page) < 5000:
            break
        after = (page[-1].channel, page[-1].sku)
    # La Redoute's shop declares every delivery term as an offer additional field.
    feed = build_offer_file(pending, datetime.now(UTC), offer_columns(DEFAULT_FIELD_MAP.values()))
    seconds = time.perf_counter() - started
    service.close()
    db.close()
    return {"seconds": seconds, "applied_seconds": applied, "projection_seconds": caught_up - applied,
            "updated": result.updated, "unchanged": result.unchanged, "invalid": result.invalid,
            "feed_lines": len(pending), "feed_bytes": len(feed)}


def _child(phase: str, *args: str) -> dict[str, float]:
    """Run one phase in a fresh interpreter: its figures, and its own peak memory in MB."""
    done = subprocess.run([sys.executable, __file__, "--phase", phase, *args], cwd=ROOT, check=False,
                          capture_output=True, text=True)
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        sys.exit(f"benchmark failed: the {phase} phase exited with {done.returncode}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def require(ok: bool, what: str) -> None:
    if not ok:
        sys.exit(f"benchmark failed: {what}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--offers", type=int, default=100_000)
    parser.add_argument("--changed", type=float, default=0.10)
    parser.add_argument("--admin-url", default=os.environ.get(
        "OMS_BENCH_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"))
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("args", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        runner = {"baseline": phase_baseline, "first": phase_first_load, "delta": phase_delta,
                  "write": phase_write}
        path, *rest = args.args
        figures = runner[args.phase](Path(path), *rest)
        # The largest resident set this process had, in KB on Linux.
        figures["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(figures))
        return

    from bench.commands import fresh_database, migrated

    with tempfile.TemporaryDirectory() as folder:
        # In a child too: Linux keeps a process's peak memory across exec, so the parent
        # stays small for the phases' peaks to be their own.
        touched = int(_child("write", folder, str(args.offers), str(args.changed))["touched"])
        first, second = Path(folder) / "offers-1.csv", Path(folder) / "offers-2.csv"
        size = first.stat().st_size / 1e6
        print(f"source: {args.offers:,} offers, {size:.1f} MB; delta: {touched:,} changed")
        base = _child("baseline", str(first))
        print(f"baseline  plain csv parse of the source: {base['seconds']:.2f} s, "
              f"peak {base['peak_mb']:.0f} MB")
        with fresh_database(args.admin_url) as database_url:
            migrated(database_url)
            load = _child("first", str(first), database_url)
            require(load["created"] == args.offers and load["invalid"] == 0,
                    f"first load created {load['created']:,.0f} of {args.offers:,} offers, "
                    f"{load['invalid']:,.0f} invalid")
            print(f"first load  validate and store {load['created']:,.0f} offers: "
                  f"{load['seconds']:.2f} s ({args.offers / load['seconds']:,.0f} offers/s), "
                  f"peak {load['peak_mb']:.0f} MB; read model catch-up "
                  f"{load['projection_seconds']:.2f} s "
                  f"({args.offers / load['projection_seconds']:,.0f} offers/s)")
            delta = _child("delta", str(second), database_url)
            require(delta["updated"] == touched and delta["invalid"] == 0
                    and delta["feed_lines"] == touched,
                    f"delta updated {delta['updated']:,.0f} of {touched:,} changed offers "
                    f"({delta['invalid']:,.0f} invalid), {delta['feed_lines']:,.0f} in the file")
            print(f"delta  apply {delta['updated']:,.0f} changed offers "
                  f"({delta['unchanged']:,.0f} unchanged): {delta['applied_seconds']:.2f} s; "
                  f"read model {delta['projection_seconds']:.2f} s; OF01 file of "
                  f"{delta['feed_lines']:,.0f} offers ({delta['feed_bytes'] / 1e6:.1f} MB): "
                  f"total {delta['seconds']:.2f} s, peak {delta['peak_mb']:.0f} MB "
                  "(target < 10 s and < 300 MB)")
            print(f"ratios to the plain parse: first load {load['seconds'] / base['seconds']:.1f}x, "
                  f"delta {delta['seconds'] / base['seconds']:.1f}x")


if __name__ == "__main__":
    main()
