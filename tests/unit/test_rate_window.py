"""The in-process rate limit: a moving window of each key's requests."""

from __future__ import annotations

import pytest

from app.api.auth import MovingWindow, RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_key_gets_its_limit_per_window_then_waits_for_its_oldest_request() -> None:
    clock = Clock()
    window = MovingWindow(3, seconds=60, clock=clock)
    assert window.hit("a") is None
    clock.now += 10
    assert window.hit("a") is None
    assert window.hit("a") is None
    # The fourth waits until the first is a minute old: 50 s from now.
    assert window.hit("a") == pytest.approx(50)
    clock.now += 49.5
    assert window.hit("a") == pytest.approx(0.5)
    clock.now += 0.5
    assert window.hit("a") is None  # the first left the window
    # Refused requests do not count: the next slot frees when the second leaves, 10 s on.
    assert window.hit("a") == pytest.approx(10)
    clock.now += 10
    assert window.hit("a") is None


def test_keys_are_counted_apart() -> None:
    clock = Clock()
    window = MovingWindow(1, seconds=60, clock=clock)
    assert window.hit("a") is None
    assert window.hit("a") is not None
    assert window.hit("b") is None


def test_idle_keys_are_forgotten_after_a_window() -> None:
    clock = Clock()
    window = MovingWindow(2, seconds=60, clock=clock)
    for key in ("a", "b", "c"):
        assert window.hit(key) is None
    clock.now += 61
    assert window.hit("a") is None
    assert set(window._hits) == {"a"}


def test_the_limiter_asks_to_wait_at_least_a_second() -> None:
    limiter = RateLimiter(1)
    assert limiter.hit("k") is None
    wait = limiter.hit("k")
    assert wait is not None and 59 <= wait <= 60
    assert limiter.local is not None
    limiter.local.clock = lambda: 1e12  # long after: allowed again
    assert limiter.hit("k") is None
