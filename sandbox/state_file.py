"""The sandbox's state kept in a JSON file, so that a restarted sandbox goes on where it was.

Only when the sandbox is started with a state file (`--state-file`); without one everything
stays in memory, as in the tests. The file is loaded once at start when it exists, and written
whenever the state changed (checked every few seconds by the ticker) and at shutdown.

A write never leaves a half-written file: the JSON goes to a temporary file in the same folder,
is flushed to disk, then renamed over the old file (an atomic replace), so a sandbox killed in
the middle of a write leaves the previous state whole. A file that cannot be read or is not a
state of this version stops the start with StateFileError and a message naming the file: the
sandbox never starts empty over a state it could not read, since the service's orders refer to
it. Deleting the file (or resetting, see `./scripts/run`) starts an empty marketplace.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import structlog

from sandbox.marketplace import Marketplace

log = structlog.get_logger("sandbox")

FORMAT = "la-redoute-sandbox-state"
VERSION = 1


class StateFileError(Exception):
    """The state file cannot be read or used; the message says which file and why."""


def read_state(path: Path) -> dict[str, Any] | None:
    """The state saved in `path`, or None when there is no such file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise StateFileError(f"cannot read the sandbox state file {path}: {exc}") from None
    try:
        body = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _unusable(path, f"it is not valid JSON ({exc.msg} at line {exc.lineno}, "
                              f"column {exc.colno})") from None
    if not isinstance(body, dict) or body.get("format") != FORMAT:
        raise _unusable(path, "it is not a sandbox state file")
    if body.get("version") != VERSION:
        raise _unusable(path, f"its version is {body.get('version')!r}, this sandbox reads "
                              f"version {VERSION}")
    state = body.get("state")
    if not isinstance(state, dict):
        raise _unusable(path, "it holds no state")
    return state


def write_state(path: Path, state: dict[str, Any]) -> None:
    """Replace the file atomically with `state` (see the module's docstring)."""
    write_text_atomically(path, _dumps(state))


def write_text_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # mkstemp creates the file readable by its owner only: the orders hold customers' details.
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    with contextlib.suppress(OSError):  # the rename itself on disk; not every system allows it
        folder = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)


class StateKeeper:
    """Loads a marketplace from its state file and writes the file back when the state moved."""

    def __init__(self, marketplace: Marketplace, path: Path) -> None:
        self.marketplace = marketplace
        self.path = path
        self._written: str | None = None

    def load(self) -> bool:
        """Restore the marketplace from the file; False when there is no file yet."""
        state = read_state(self.path)
        if state is None:
            log.info("sandbox_state_new", path=str(self.path))
            return False
        try:
            self.marketplace.restore_state(state)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise _unusable(self.path, f"its state is incomplete or malformed ({exc!r})") from None
        self._written = _dumps(self.marketplace.export_state())
        log.info("sandbox_state_loaded", path=str(self.path),
                 orders=len(state["orders"]["orders"]))
        return True

    def save(self) -> bool:
        """Write the state if it changed since the last write; True when it wrote."""
        text = _dumps(self.marketplace.export_state())
        if text == self._written:
            return False
        write_text_atomically(self.path, text)
        self._written = text
        return True


def _dumps(state: dict[str, Any]) -> str:
    return json.dumps({"format": FORMAT, "version": VERSION, "state": state},
                      ensure_ascii=False, separators=(",", ":"))


def _unusable(path: Path, why: str) -> StateFileError:
    return StateFileError(
        f"the sandbox state file {path} cannot be used: {why}. Delete it to start an empty "
        f"marketplace (./scripts/run --reset deletes it with the service's database).")
