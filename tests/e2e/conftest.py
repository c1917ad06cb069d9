"""End-to-end fixtures: a sandbox marketplace on loopback and our sync pointed at it, on both
stores."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app.config import Settings
from tests.e2e.harness import Harness, sandbox_server, with_channels
from tests.support import LiveServer


@pytest.fixture
def sandbox() -> Iterator[LiveServer]:
    with sandbox_server() as server:
        yield server


@pytest.fixture
def synced_settings(settings: Settings, sandbox: LiveServer) -> Settings:
    return with_channels(settings, sandbox.url)


@pytest.fixture
def market(synced_settings: Settings, sandbox: LiveServer) -> Iterator[Harness]:
    harness = Harness(synced_settings, sandbox.url)
    yield harness
    harness.close()
