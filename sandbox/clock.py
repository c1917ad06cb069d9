"""The sandbox's clock: real time plus an offset that tests move forward instead of sleeping."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta


def truncate_ms(moment: datetime) -> datetime:
    """Mirakl dates carry milliseconds; storing no finer keeps filters and output consistent."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def format_date(moment: datetime) -> str:
    """ISO-8601 UTC with a trailing Z, as the marketplace writes dates."""
    text = moment.astimezone(UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def parse_date(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class SandboxClock:
    """Never goes backwards: the offset only grows, so event order follows clock order."""

    def __init__(self, start: datetime | None = None) -> None:
        self._lock = threading.Lock()
        self._offset = timedelta(0)
        if start is not None:
            self._offset = start - datetime.now(UTC)

    def now(self) -> datetime:
        with self._lock:
            return truncate_ms(datetime.now(UTC) + self._offset)

    def advance(self, seconds: float) -> datetime:
        if seconds < 0:
            raise ValueError("the sandbox clock only moves forward")
        with self._lock:
            self._offset += timedelta(seconds=seconds)
        return self.now()

    def offset_seconds(self) -> float:
        """How far the clock runs ahead of (or behind) real time; kept in a state file."""
        with self._lock:
            return self._offset.total_seconds()

    def restore_offset(self, seconds: float) -> None:
        """The offset a saved sandbox ran with: its clock goes on from where it was, plus the
        real time it was stopped for."""
        with self._lock:
            self._offset = timedelta(seconds=seconds)
