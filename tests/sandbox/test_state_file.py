"""The sandbox's state file: a restarted sandbox goes on where the last one stopped; a write is
atomic; a file it cannot use stops the start with a message instead of a traceback."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from sandbox.app import create_sandbox_app
from sandbox.clock import parse_date
from sandbox.config import SandboxConfig
from sandbox.server import run
from sandbox.state_file import StateFileError, read_state, write_state
from tests.sandbox.conftest import (
    Sandbox,
    assert_mirakl_error,
    manual_timings,
    offer_csv,
    offer_line,
    taxes_for,
)
from tests.support import LiveServer


def _config(path: Path, **overrides: object) -> SandboxConfig:
    values: dict = {"seed": 42, "timings": manual_timings(), "tick_interval": 0.05,
                    "state_file": path}
    return SandboxConfig(**{**values, **overrides})


@contextmanager
def _running(config: SandboxConfig) -> Iterator[Sandbox]:
    """A sandbox built from `config`, served until the block ends (its shutdown saves)."""
    app = create_sandbox_app(config)
    with LiveServer(app) as server:
        sandbox = Sandbox(server, app)
        try:
            yield sandbox
        finally:
            sandbox.close()


def _refund(line: dict) -> dict:
    return {"order_line_id": line["order_line_id"], "amount": 1.0, "shipping_amount": 0.0,
            "reason_code": "DAMAGED_PRODUCT", **taxes_for(line, 1.0)}


def _offers(sandbox: Sandbox) -> list[dict]:
    """OF21's offers without their shipping deadline, which moves on with the clock."""
    return [{k: v for k, v in offer.items() if k != "shipping_deadline"}
            for offer in sandbox.offers()["offers"]]


def _clock(sandbox: Sandbox) -> str:
    return str(sandbox.control.get("/clock").json()["now"])


def test_a_restarted_sandbox_goes_on_with_its_orders_refunds_offers_and_clock(
        tmp_path: Path) -> None:
    path = tmp_path / "sandbox-state.json"
    with _running(_config(path)) as first:
        waiting, accepted = first.orders(2)
        assert first.accept(accepted).status_code == 204
        shipped = first.shipped(first.order(lines=2))
        refund = first.refund(_refund(shipped["order_lines"][0]))
        assert refund.status_code == 200, refund.text
        import_id = first.send_offers(offer_csv(offer_line("TUNIC-LIN-38"),
                                                offer_line("TUNIC-LIN-40", quantity="0")))
        first.complete_import(import_id)
        pending_import = first.send_offers(offer_csv(offer_line("SHIRT-OXF-M")))
        first.advance(3600)
        before_stop = _clock(first)
        raw_before = {mid: first.raw(mid) for mid in (waiting, accepted, shipped["order_id"])}
        offers_before = _offers(first)
        imports_before = first.control.get("/offer-imports").json()
    assert path.exists()

    with _running(_config(path)) as second:
        assert {mid: second.raw(mid) for mid in raw_before} == raw_before
        assert _offers(second) == offers_before
        assert second.control.get("/offer-imports").json() == imports_before
        assert second.offer_import(pending_import)["status"] == "WAITING"
        # The clock goes on from where it was (its offset is kept), it never goes back.
        assert parse_date(_clock(second)) >= parse_date(before_stop)
        # The marketplace still knows the orders the seller's service has imported.
        assert second.accept(waiting).status_code == 204
        assert second.raw(waiting)["order_state"] == "WAITING_DEBIT_PAYMENT"
        assert_mirakl_error(second.accept(accepted), 400, "ORDER_INVALID_STATE")
        # The id sequences go on: a new refund, offer import and order get new ids.
        again = second.refund(_refund(raw_before[shipped["order_id"]]["order_lines"][1]))
        assert again.status_code == 200, again.text
        old_refund_ids = {r["id"] for ln in raw_before[shipped["order_id"]]["order_lines"]
                          for r in ln["refunds"]}
        new_refund_ids = {r["id"] for ln in second.raw(shipped["order_id"])["order_lines"]
                          for r in ln["refunds"]} - old_refund_ids
        assert len(new_refund_ids) == 1
        assert second.send_offers(offer_csv(offer_line("SHIRT-OXF-L"))) > pending_import
        assert second.order() not in raw_before


def test_the_same_seed_goes_on_with_new_orders_rather_than_repeating_them(
        tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    with _running(_config(path)) as first:
        created = set(first.orders(3))
    with _running(_config(path)) as second:
        assert not created & set(second.orders(3))


def test_the_state_is_written_while_the_sandbox_runs_not_only_at_shutdown(
        tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    with _running(_config(path, save_interval=0.05)) as sandbox:
        order_id = sandbox.order()

        def saved() -> bool:
            state = read_state(path) if path.exists() else None
            return bool(state) and any(o["raw"]["order_id"] == order_id
                                       for o in state["orders"]["orders"])

        deadline = time.monotonic() + 10
        while not saved():
            assert time.monotonic() < deadline, "the new order never reached the state file"
            time.sleep(0.05)


def test_without_a_state_file_nothing_is_written(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with _running(_config(None)) as sandbox:  # type: ignore[arg-type]
        sandbox.order()
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------- atomic writes


def test_a_write_that_fails_half_way_leaves_the_previous_file_whole(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "state.json"
    write_state(path, {"orders": "before"})

    def killed(*_: object) -> None:
        raise OSError("killed before the rename")

    monkeypatch.setattr(os, "replace", killed)
    with pytest.raises(OSError):
        write_state(path, {"orders": "after"})
    assert read_state(path) == {"orders": "before"}
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]  # no temporary file left

    def disk_full(*_: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.undo()
    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError):
        write_state(path, {"orders": "after"})
    monkeypatch.undo()
    assert read_state(path) == {"orders": "before"}
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]

    write_state(path, {"orders": "after"})
    assert read_state(path) == {"orders": "after"}
    assert (path.stat().st_mode & 0o077) == 0  # customers' details: readable by its owner only


# ---------------------------------------------------------------------- unusable files


@pytest.mark.parametrize("content, reason", [
    ('{"format": "la-redoute-sandbox-state", "version": 1, "state": {"ord', "not valid JSON"),
    ("", "not valid JSON"),
    ('["an", "array"]', "not a sandbox state file"),
    ('{"format": "la-redoute-sandbox-state", "version": 99, "state": {}}', "version is 99"),
    ('{"format": "la-redoute-sandbox-state", "version": 1, "state": {"orders": {}}}',
     "incomplete or malformed"),
])
def test_a_file_it_cannot_use_stops_the_start_with_a_message(
        tmp_path: Path, content: str, reason: str) -> None:
    path = tmp_path / "state.json"
    path.write_text(content)
    with pytest.raises(StateFileError) as raised:
        create_sandbox_app(_config(path))
    message = str(raised.value)
    assert str(path) in message and reason in message and "Delete it" in message
    assert path.read_text() == content  # never overwritten by an empty marketplace


def test_a_malformed_order_in_the_file_is_refused_too(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    with _running(_config(path)) as sandbox:
        sandbox.order()
    body = json.loads(path.read_text())
    del body["state"]["orders"]["orders"][0]["created"]
    path.write_text(json.dumps(body))
    with pytest.raises(StateFileError, match="incomplete or malformed"):
        create_sandbox_app(_config(path))


def test_an_unreadable_path_is_named(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.mkdir()
    with pytest.raises(StateFileError, match="cannot read the sandbox state file"):
        create_sandbox_app(_config(path))


def test_the_server_exits_with_the_message_not_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text("not json")
    with pytest.raises(SystemExit) as exited:
        run("127.0.0.1", 0, _config(path))
    assert isinstance(exited.value.code, str)
    assert exited.value.code.startswith("sandbox: the sandbox state file")
