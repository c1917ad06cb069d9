"""The Redis server the tests share: OMS_TEST_REDIS_URL (./scripts/test finds or starts one),
else 127.0.0.1:6379. Never skipped: without a server the tests that need it fail."""

from __future__ import annotations

import os
import uuid

import pytest

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def redis_url() -> str:
    """The test Redis URL, after checking that the server answers (else the test fails)."""
    import redis

    url = os.environ.get("OMS_TEST_REDIS_URL", DEFAULT_REDIS_URL)
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=3)
        try:
            client.ping()
        finally:
            client.close()
    except redis.RedisError as exc:
        pytest.fail(
            f"Redis is required and not reachable at OMS_TEST_REDIS_URL ({exc}); "
            "run the tests with ./scripts/test, which starts one",
            pytrace=False,
        )
    return url


def namespace() -> str:
    """A rate limit namespace of one test's own: tests sharing the server never share counts."""
    return f"oms-test-{uuid.uuid4().hex[:12]}"
