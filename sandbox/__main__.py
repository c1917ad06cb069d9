"""python -m sandbox --host 127.0.0.1 --port 8001 [--demo-rate N] [--payment-delay S] [--seed N]
[--offer-import-delay S] [--state-file PATH]"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from sandbox.config import SandboxConfig, Timings
from sandbox.server import run


def _delay(text: str) -> float | None:
    """A number of seconds, or "none"/"manual" for a step that waits for the control API."""
    return None if text.lower() in ("none", "null", "manual") else float(text)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sandbox",
                                     description="La Redoute (Mirakl) sandbox marketplace")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--demo-rate", type=float, default=0.0,
                        help="orders generated per minute (0: none)")
    defaults = Timings()
    parser.add_argument("--payment-delay", type=_delay, default=defaults.payment_delay)
    parser.add_argument("--payment-refusal-rate", type=float,
                        default=defaults.payment_refusal_rate)
    parser.add_argument("--receive-delay", type=_delay, default=defaults.receive_delay)
    parser.add_argument("--close-delay", type=_delay, default=defaults.close_delay)
    parser.add_argument("--refund-delay", type=_delay, default=defaults.refund_delay)
    parser.add_argument("--offer-import-delay", type=_delay, default=defaults.offer_import_delay)
    parser.add_argument("--state-file", type=Path, default=None,
                        help="keep the marketplace's state in this JSON file across restarts "
                        "(default: in memory only)")
    args = parser.parse_args(argv)
    timings = replace(
        defaults,
        payment_delay=args.payment_delay,
        payment_refusal_rate=args.payment_refusal_rate,
        receive_delay=args.receive_delay,
        close_delay=args.close_delay,
        refund_delay=args.refund_delay,
        demo_orders_per_minute=args.demo_rate,
        offer_import_delay=args.offer_import_delay,
    )
    run(args.host, args.port,
        SandboxConfig(seed=args.seed, timings=timings, state_file=args.state_file))


if __name__ == "__main__":
    main()
