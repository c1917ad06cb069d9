"""Both sides stopped and started again, as `./scripts/run` does: the service on its database,
the sandbox on its state file. An order imported before the restart is accepted after it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from app.config import Settings
from app.domain.order import OrderStatus
from sandbox.app import create_sandbox_app
from sandbox.config import SandboxConfig
from tests.e2e.harness import Harness, manual_timings, with_channels
from tests.support import LiveServer


@contextmanager
def _both(settings: Settings, state_file: Path) -> Iterator[Harness]:
    """The sandbox from its state file and our service over the same database, then both
    stopped (the sandbox writes its state as it stops)."""
    app = create_sandbox_app(SandboxConfig(seed=11, timings=manual_timings(),
                                           state_file=state_file))
    with LiveServer(app) as sandbox:
        harness = Harness(with_channels(settings, sandbox.url), sandbox.url)
        try:
            yield harness
        finally:
            harness.close()


def test_an_order_imported_before_a_restart_of_both_is_accepted_after_it(
        settings: Settings, tmp_path: Path) -> None:
    state_file = tmp_path / "sandbox-state.json"
    with _both(settings, state_file) as market:
        (mid,) = market.generate(1)
        assert market.import_round().imported == 1
        assert market.order(mid).status == OrderStatus.CREATED

    with _both(settings, state_file) as market:
        market.service.accept(market.order(mid).id)
        market.deliver_until_settled()
        (action,) = market.actions(mid)
        assert (action.kind, action.state, action.error_code) == ("accept", "confirmed", None)
        assert market.raw(mid)["order_state"] == "WAITING_DEBIT_PAYMENT"
        assert [c["status"] for c in market.calls(mid, "OR21")] == [204]

        market.post(f"/orders/{mid}/payment", {"outcome": "validate"})
        market.import_round()
        assert market.order(mid).status == OrderStatus.TOSHIP
